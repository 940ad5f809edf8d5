// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ML-KEM-512/768/1024 (IKEv2 methods 35/36/37) as strongSwan key exchange
 * methods, on OpenSSL 3.5.  Debian trixie's strongSwan 6.0.1 has neither
 * the ml plugin nor ML-KEM in its openssl plugin (that code is built for
 * AWS-LC only); the IDs are the standard ones, so this interoperates with
 * any strongSwan that has ML-KEM.
 *
 * Roles follow key_exchange_t's KEM contract: the initiator's
 * get_public_key() generates a key pair, the responder's set_public_key()
 * encapsulates and its get_public_key() returns the ciphertext, the
 * initiator's set_public_key() decapsulates.
 */
#include "qkd_mlkem.h"
#include "mlkem_ossl.h"

#include <errno.h>

#include <utils/debug.h>

typedef struct private_key_exchange_t private_key_exchange_t;

/**
 * Private data.
 */
struct private_key_exchange_t {

	/**
	 * Public interface.
	 */
	key_exchange_t public;

	/**
	 * Key exchange method.
	 */
	key_exchange_method_t method;

	/**
	 * Sizes and OpenSSL name of the parameter set.
	 */
	const struct mlkem_ossl_params *params;

	/**
	 * Initiator: our key pair (holds the decapsulation key).
	 */
	EVP_PKEY *pkey;

	/**
	 * Initiator: our encoded public key, kept for a repeated call.
	 */
	chunk_t public_key;

	/**
	 * Responder: the ciphertext to send.
	 */
	chunk_t ciphertext;

	/**
	 * The shared secret, once known.
	 */
	chunk_t shared_secret;
};

METHOD(key_exchange_t, get_public_key, bool,
	private_key_exchange_t *this, chunk_t *value)
{
	/* as responder, set_public_key() produced the ciphertext */
	if (this->ciphertext.ptr)
	{
		*value = chunk_clone(this->ciphertext);
		return TRUE;
	}
	/* as initiator, the public key of a fresh key pair (once) */
	if (!this->pkey)
	{
		this->public_key = chunk_alloc(this->params->pk_len);
		if (mlkem_ossl_keygen(this->params, &this->pkey,
						 this->public_key.ptr) != 0)
		{
			DBG1(DBG_LIB, "%N key generation failed",
				 key_exchange_method_names, this->method);
			chunk_free(&this->public_key);
			return FALSE;
		}
	}
	*value = chunk_clone(this->public_key);
	return TRUE;
}

METHOD(key_exchange_t, set_public_key, bool,
	private_key_exchange_t *this, chunk_t value)
{
	int err;

	if (this->shared_secret.ptr)
	{
		DBG1(DBG_LIB, "%N shared secret already set",
			 key_exchange_method_names, this->method);
		return FALSE;
	}
	/* as initiator, decapsulate the responder's ciphertext */
	if (this->pkey)
	{
		if (value.len != this->params->ct_len)
		{
			DBG1(DBG_LIB, "wrong %N ciphertext size of %zu bytes, %zu bytes "
				 "expected", key_exchange_method_names, this->method,
				 value.len, this->params->ct_len);
			return FALSE;
		}
		this->shared_secret = chunk_alloc(MLKEM_SS_LEN);
		if (mlkem_ossl_decaps(this->params, this->pkey, value.ptr, value.len,
						 this->shared_secret.ptr) != 0)
		{
			DBG1(DBG_LIB, "%N decapsulation failed",
				 key_exchange_method_names, this->method);
			chunk_clear(&this->shared_secret);
			return FALSE;
		}
		return TRUE;
	}
	/* as responder, encapsulate a fresh secret to the initiator's key */
	if (value.len != this->params->pk_len)
	{
		DBG1(DBG_LIB, "wrong %N public key size of %zu bytes, %zu bytes "
			 "expected", key_exchange_method_names, this->method,
			 value.len, this->params->pk_len);
		return FALSE;
	}
	this->ciphertext = chunk_alloc(this->params->ct_len);
	this->shared_secret = chunk_alloc(MLKEM_SS_LEN);
	err = mlkem_ossl_encaps(this->params, value.ptr, value.len,
					   this->ciphertext.ptr, this->shared_secret.ptr);
	if (err)
	{
		DBG1(DBG_LIB, "%N %s", key_exchange_method_names, this->method,
			 err == -EINVAL ? "public key encoding invalid"
							: "encapsulation failed");
		chunk_free(&this->ciphertext);
		chunk_clear(&this->shared_secret);
		return FALSE;
	}
	return TRUE;
}

METHOD(key_exchange_t, get_shared_secret, bool,
	private_key_exchange_t *this, chunk_t *secret)
{
	if (!this->shared_secret.ptr)
	{
		return FALSE;
	}
	*secret = chunk_clone(this->shared_secret);
	return TRUE;
}

METHOD(key_exchange_t, set_seed, bool,
	private_key_exchange_t *this, chunk_t value, drbg_t *drbg)
{
	/* OpenSSL draws its own randomness; no deterministic mode here */
	return FALSE;
}

METHOD(key_exchange_t, get_method, key_exchange_method_t,
	private_key_exchange_t *this)
{
	return this->method;
}

METHOD(key_exchange_t, destroy, void,
	private_key_exchange_t *this)
{
	/* EVP_PKEY_free() cleanses the decapsulation key */
	EVP_PKEY_free(this->pkey);
	chunk_clear(&this->shared_secret);
	chunk_free(&this->public_key);
	chunk_free(&this->ciphertext);
	free(this);
}

/*
 * Described in header
 */
key_exchange_t *qkd_mlkem_create(key_exchange_method_t method)
{
	private_key_exchange_t *this;
	const struct mlkem_ossl_params *params;

	params = mlkem_ossl_params_get(method);
	if (!params)
	{
		return NULL;
	}
	INIT(this,
		.public = {
			.get_method = _get_method,
			.get_public_key = _get_public_key,
			.set_public_key = _set_public_key,
			.get_shared_secret = _get_shared_secret,
			.set_seed = _set_seed,
			.destroy = _destroy,
		},
		.method = method,
		.params = params,
	);
	return &this->public;
}
