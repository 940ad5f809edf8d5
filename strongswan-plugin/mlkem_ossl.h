/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ML-KEM (FIPS 203) on OpenSSL 3.5's EVP_PKEY KEM API: the three operations
 * the key exchange needs, on plain buffers.  No strongSwan type, so the unit
 * tests run it under the sanitizers on its own.
 */
#ifndef MLKEM_OSSL_H_
#define MLKEM_OSSL_H_

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define MLKEM_SS_LEN	32

struct mlkem_ossl_params {
	unsigned int id;	/* IKEv2 transform ID: 35, 36, 37 */
	const char *name;	/* OpenSSL's algorithm name */
	size_t pk_len;		/* encapsulation (public) key */
	size_t ct_len;		/* ciphertext */
};

/* The parameters of IKEv2 method @id, or NULL. */
const struct mlkem_ossl_params *mlkem_ossl_params_get(unsigned int id);

/*
 * Generate a key pair: *@pkey (free with EVP_PKEY_free) and its encoded
 * public key into @pub (params->pk_len bytes).  0 or -EIO.
 */
int mlkem_ossl_keygen(const struct mlkem_ossl_params *p, EVP_PKEY **pkey, uint8_t *pub);

/*
 * Encapsulate to the peer's encoded public key @pub (@pub_len bytes):
 * @ct (params->ct_len bytes) and @ss (MLKEM_SS_LEN bytes).  -EINVAL for a
 * public key of the wrong length or an invalid encoding (FIPS 203 7.2
 * modulus check, done by OpenSSL on import), -EIO otherwise.
 */
int mlkem_ossl_encaps(const struct mlkem_ossl_params *p, const uint8_t *pub,
		 size_t pub_len, uint8_t *ct, uint8_t *ss);

/*
 * Decapsulate @ct (@ct_len bytes) with @pkey into @ss.  -EINVAL for a wrong
 * length.  A well-sized but forged ciphertext yields ML-KEM's implicit
 * rejection secret, not an error.
 */
int mlkem_ossl_decaps(const struct mlkem_ossl_params *p, EVP_PKEY *pkey,
		 const uint8_t *ct, size_t ct_len, uint8_t *ss);

#endif /* MLKEM_OSSL_H_ */
