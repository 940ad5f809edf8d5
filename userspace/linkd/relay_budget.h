/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How many keys of a link relaying may take (Documentation/relay.rst,
 * "Where link keys for relaying come from"): relay_share percent of the
 * keys the link adds to its outbound side (a token bucket, counted in
 * hundredths of a key so that the share is exact), and never the last
 * relay_reserve keys of the outbound side, which stay for IPsec.
 */
#ifndef LINKD_RELAY_BUDGET_H
#define LINKD_RELAY_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct relay_budget {
	unsigned int share;		/* percent, 0 .. 100 */
	unsigned int reserve;		/* keys */
	uint64_t cap;			/* bucket size, hundredths of a key */
	uint64_t tokens;		/* hundredths of a key */
	uint64_t taken;			/* keys taken for relaying, ever */
};

/*
 * @share and @reserve from the link pool's configuration; the bucket
 * holds at most @burst keys (the pool's high_watermark: a share saved up
 * while nobody relayed is not spent all at once).  It starts empty.
 */
void relay_budget_init(struct relay_budget *b, unsigned int share,
		       unsigned int reserve, unsigned int burst);

/* The link committed @added keys to its outbound side. */
void relay_budget_credit(struct relay_budget *b, unsigned int added);

/*
 * May relaying take @n keys now, with @level keys in the outbound side?
 * Only when the bucket holds @n and at least the reserve stays.
 */
bool relay_budget_allows(const struct relay_budget *b, unsigned int n,
			 unsigned int level);

/* @n keys were taken for relaying (after relay_budget_allows()). */
void relay_budget_take(struct relay_budget *b, unsigned int n);

/* Whole keys in the bucket (for qkdctl). */
unsigned int relay_budget_available(const struct relay_budget *b);

#endif
