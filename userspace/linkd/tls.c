// SPDX-License-Identifier: GPL-2.0
/*
 * Mutual TLS for the peer channel (OpenSSL).  TLS 1.2 at least; the peer's
 * certificate must chain to peer_ca alone (no system store) and carry the
 * peer's SAE ID as a DNS name (or, without DNS names, as its CN).  The
 * listener presents server_cert; a master connecting to its peer presents
 * the pool's SAE certificate (cert, key), so that the peer can tell which
 * SAE is speaking.
 */
#include <stdio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "tls.h"
#include "log.h"

static SSL_CTX *ctx_new(const SSL_METHOD *meth, const char *cert,
			const char *key, const char *ca, char *err,
			size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(meth);

	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "cannot load certificate %s", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "cannot load key %s (or it does not match %s)",
			 key, cert);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA %s", ca);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_server_ctx(const struct config *cfg, char *err, size_t errlen)
{
	return ctx_new(TLS_server_method(), cfg->server_cert, cfg->server_key,
		       cfg->peer_ca, err, errlen);
}

SSL_CTX *tls_client_ctx(const struct config *cfg, const struct pool_cfg *pc,
			char *err, size_t errlen)
{
	return ctx_new(TLS_client_method(), pc->cert, pc->key, cfg->peer_ca,
		       err, errlen);
}

int tls_peer_has_name(SSL *ssl, const char *name)
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	int ok;

	if (!x)
		return 0;
	ok = X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			     NULL) == 1;
	X509_free(x);
	return ok;
}

void tls_log_errors(const char *what, SSL *ssl, int ret)
{
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (v != X509_V_OK)
		log_err("%s: certificate verification failed: %s", what,
			X509_verify_cert_error_string(v));
	else if (e)
		log_err("%s: TLS error: %s", what, buf);
	else
		log_err("%s: TLS failure (%d)", what, ret);
	ERR_clear_error();
}
