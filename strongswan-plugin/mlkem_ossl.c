// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ML-KEM on OpenSSL 3.5 (EVP_PKEY_encapsulate / EVP_PKEY_decapsulate).
 */
#include <errno.h>
#include <string.h>
#include <openssl/core_names.h>
#include "mlkem_ossl.h"

/* IKEv2 transform IDs: draft-ietf-ipsecme-ikev2-mlkem, IANA. */
static const struct mlkem_ossl_params params[] = {
	{ 35, "ML-KEM-512", 800, 768 },
	{ 36, "ML-KEM-768", 1184, 1088 },
	{ 37, "ML-KEM-1024", 1568, 1568 },
};

const struct mlkem_ossl_params *mlkem_ossl_params_get(unsigned int id)
{
	size_t i;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (params[i].id == id)
			return &params[i];
	return NULL;
}

int mlkem_ossl_keygen(const struct mlkem_ossl_params *p, EVP_PKEY **pkey, uint8_t *pub)
{
	EVP_PKEY_CTX *ctx;
	size_t len = p->pk_len;
	int ret = -EIO;

	*pkey = NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, p->name, NULL);
	if (!ctx)
		return -EIO;
	if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, pkey) <= 0)
		goto out;
	if (EVP_PKEY_get_raw_public_key(*pkey, pub, &len) <= 0 ||
	    len != p->pk_len) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

int mlkem_ossl_encaps(const struct mlkem_ossl_params *p, const uint8_t *pub,
		 size_t pub_len, uint8_t *ct, uint8_t *ss)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *peer;
	size_t ct_len = p->ct_len, ss_len = MLKEM_SS_LEN;
	int ret = -EIO;

	if (pub_len != p->pk_len)
		return -EINVAL;
	/* the import checks the encoding (every coefficient below q) */
	peer = EVP_PKEY_new_raw_public_key_ex(NULL, p->name, NULL, pub,
					      pub_len);
	if (!peer)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
	if (!ctx || EVP_PKEY_encapsulate_init(ctx, NULL) <= 0 ||
	    EVP_PKEY_encapsulate(ctx, ct, &ct_len, ss, &ss_len) <= 0 ||
	    ct_len != p->ct_len || ss_len != MLKEM_SS_LEN) {
		OPENSSL_cleanse(ss, MLKEM_SS_LEN);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return ret;
}

int mlkem_ossl_decaps(const struct mlkem_ossl_params *p, EVP_PKEY *pkey,
		 const uint8_t *ct, size_t ct_len, uint8_t *ss)
{
	EVP_PKEY_CTX *ctx;
	size_t ss_len = MLKEM_SS_LEN;
	int ret = -EIO;

	if (ct_len != p->ct_len)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!ctx)
		return -EIO;
	if (EVP_PKEY_decapsulate_init(ctx, NULL) <= 0 ||
	    EVP_PKEY_decapsulate(ctx, ss, &ss_len, ct, ct_len) <= 0 ||
	    ss_len != MLKEM_SS_LEN) {
		OPENSSL_cleanse(ss, MLKEM_SS_LEN);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}
