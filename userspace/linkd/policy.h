/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd-linkd's decisions, apart from the I/O that acts on them, so that the
 * unit tests can drive them with any clock and any random number:
 *
 * - the retry schedule of a pool after a failure: fast probes (0.5 to 1 s,
 *   jittered) during the first fast_retry seconds of a KME outage, then
 *   exponential backoff; a failure that is not the KME's (the peer refused
 *   an offer, the peer is unreachable) always backs off;
 * - whether a connection to the peer-channel listener may be accepted
 *   (limits in total and per source address) and the set-up deadline of a
 *   connection;
 * - what to do when the "qkd" generic netlink family may have changed
 *   under the daemon (a module reload).
 */
#ifndef LINKD_POLICY_H
#define LINKD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RETRY_MIN	1.0	/* s: the first backoff */
#define RETRY_MAX	60.0	/* s: the longest backoff */
#define PROBE_MIN	0.5	/* s: fast probes in [PROBE_MIN, 2 * PROBE_MIN) */

struct retry {
	double backoff;		/* s, the last backoff interval; 0 = none */
	double outage_start;	/* monotonic s of the first KME failure; 0 = none */
};

enum retry_cause {
	RETRY_KME,		/* the key source failed: probe fast, then back off */
	RETRY_OTHER,		/* peer, pool, memory: back off */
	RETRY_AGAIN,		/* the source answered "no keys now": soon */
};

#define AGAIN_MIN	1.0	/* s: RETRY_AGAIN in [AGAIN_MIN, 2 * AGAIN_MIN) */

/*
 * The delay before the next attempt after a failure at @now (> 0), with
 * @rnd in [0, 1).  Fast probes while a KME outage is younger than
 * @fast_window seconds, else exponential backoff from RETRY_MIN to
 * RETRY_MAX, the delay a random point in the second half of the interval.
 * RETRY_AGAIN (a KME with an empty key buffer, which fills at its key
 * rate) never backs off and leaves the schedule as it was.
 */
double retry_delay(struct retry *r, enum retry_cause cause, double now,
		   double fast_window, double rnd);

/* The source answered (@kme) or an offer was committed: forget failures. */
void retry_reset(struct retry *r, bool kme);

enum admit {
	ADMIT,
	ADMIT_FULL,		/* max_connections unauthenticated already */
	ADMIT_SOURCE,		/* that many from this source already */
};

/*
 * May the listener take one more connection, with @total unauthenticated
 * connections open, @from_source of them from the new one's address?
 */
enum admit conn_admit(unsigned int total, unsigned int from_source,
		      unsigned int max_total, unsigned int max_per_source);

/*
 * The source address of @sa as a key for the per-source count: the numeric
 * host, an IPv4-mapped IPv6 address as plain IPv4.  0, or -1.
 */
int conn_source_key(const struct sockaddr *sa, socklen_t len, char *key,
		    size_t keylen);

/*
 * The deadline for a connection to be set up: TLS handshake and HELLO.
 * A server connection (not yet authenticated) gets handshake_timeout; a
 * client one (ours, to the peer) also the TCP connect: twice that.
 */
double conn_setup_deadline(bool server, unsigned int handshake_timeout,
			   double now);

enum family_action {
	FAMILY_OK,		/* the handle's family is the kernel's */
	FAMILY_REOPEN,		/* re-registered: reopen the handle, redo pools */
	FAMILY_GONE,		/* not registered (module unloaded): wait */
	FAMILY_ERROR,		/* could not ask: try again later */
};

/*
 * From qkd_family_resolve()'s result @ret and family @now, and the
 * handle's family @have.
 */
enum family_action family_check(int ret, uint16_t have, uint16_t now);

#endif
