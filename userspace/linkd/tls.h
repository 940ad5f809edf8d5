/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peer channel's TLS contexts (mutual authentication, TLS 1.2 or
 * later) and the checks on the peer's certificate.
 */
#ifndef LINKD_TLS_H
#define LINKD_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "config.h"

SSL_CTX *tls_server_ctx(const struct config *cfg, char *err, size_t errlen);
SSL_CTX *tls_client_ctx(const struct config *cfg, const struct pool_cfg *pc,
			char *err, size_t errlen);
int tls_peer_has_name(SSL *ssl, const char *name);
void tls_log_errors(const char *what, SSL *ssl, int ret);

#endif
