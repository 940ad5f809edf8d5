// SPDX-License-Identifier: GPL-2.0
/* Whether a link pool can carry relayed keys (relay_link.h). */
#include "linkd.h"
#include "relay_link.h"

bool relay_link_open(const struct pool *p)
{
	const struct conn *o = p->master.out, *i = p->slave.conn;

	return p->id && o && !o->dead && o->state == CONN_OPEN &&
	       p->master.relay_ok && p->master.state != M_WAIT_RESET &&
	       i && !i->dead && i->state == CONN_OPEN && p->slave.relay_ok &&
	       !p->slave.reset_due;
}

bool relay_link_up(const struct pool *p)
{
	/*
	 * The master's source failed its last call (enc_keys or status): a
	 * cut QKD link or an unreachable KME.  The pool refills no more, so
	 * relaying would drain it to the reserve and then be refused as
	 * "share used up", which holds the origin instead of rerouting.  An
	 * empty KME buffer (SRC_AGAIN) is not a failure (master.c).
	 */
	if (p->master.health.known && !p->master.health.kme_ok)
		return false;
	return relay_link_open(p);
}
