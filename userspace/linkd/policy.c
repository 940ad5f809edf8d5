// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's decisions without I/O: see policy.h.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "policy.h"

double retry_delay(struct retry *r, enum retry_cause cause, double now,
		   double fast_window, double rnd)
{
	if (cause == RETRY_AGAIN)
		return AGAIN_MIN * (1.0 + rnd);
	if (cause == RETRY_KME) {
		if (!r->outage_start)
			r->outage_start = now;
		if (now - r->outage_start < fast_window)
			return PROBE_MIN * (1.0 + rnd);
	}
	r->backoff = r->backoff ? r->backoff * 2 : RETRY_MIN;
	if (r->backoff > RETRY_MAX)
		r->backoff = RETRY_MAX;
	return r->backoff * (0.5 + rnd / 2);
}

void retry_reset(struct retry *r, bool kme)
{
	if (kme) {
		r->outage_start = 0;
		return;
	}
	r->outage_start = 0;
	r->backoff = 0;
}

enum admit conn_admit(unsigned int total, unsigned int from_source,
		      unsigned int max_total, unsigned int max_per_source)
{
	if (total >= max_total)
		return ADMIT_FULL;
	if (from_source >= max_per_source)
		return ADMIT_SOURCE;
	return ADMIT;
}

int conn_source_key(const struct sockaddr *sa, socklen_t len, char *key,
		    size_t keylen)
{
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12],
					 key, keylen) ? 0 : -1;
		return inet_ntop(AF_INET6, &s6->sin6_addr, key, keylen) ?
		       0 : -1;
	}
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return inet_ntop(AF_INET, &s4->sin_addr, key, keylen) ? 0 : -1;
	}
	return -1;
}

double conn_setup_deadline(bool server, unsigned int handshake_timeout,
			   double now)
{
	return now + (server ? 1.0 : 2.0) * handshake_timeout;
}

enum family_action family_check(int ret, uint16_t have, uint16_t now)
{
	if (ret == -ENOENT)
		return FAMILY_GONE;
	if (ret)
		return FAMILY_ERROR;
	return now == have ? FAMILY_OK : FAMILY_REOPEN;
}
