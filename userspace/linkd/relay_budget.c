// SPDX-License-Identifier: GPL-2.0
/* The relay share and reserve of a link (relay_budget.h). */
#include "relay_budget.h"

void relay_budget_init(struct relay_budget *b, unsigned int share,
		       unsigned int reserve, unsigned int burst)
{
	b->share = share > 100 ? 100 : share;
	b->reserve = reserve;
	b->cap = (uint64_t)burst * 100;
	b->tokens = 0;
	b->taken = 0;
}

void relay_budget_credit(struct relay_budget *b, unsigned int added)
{
	b->tokens += (uint64_t)added * b->share;
	if (b->tokens > b->cap)
		b->tokens = b->cap;
}

bool relay_budget_allows(const struct relay_budget *b, unsigned int n,
			 unsigned int level)
{
	return n && b->tokens >= (uint64_t)n * 100 &&
	       level >= n && level - n >= b->reserve;
}

void relay_budget_take(struct relay_budget *b, unsigned int n)
{
	uint64_t t = (uint64_t)n * 100;

	b->tokens = b->tokens > t ? b->tokens - t : 0;
	b->taken += n;
}

unsigned int relay_budget_available(const struct relay_budget *b)
{
	return (unsigned int)(b->tokens / 100);
}
