// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which QKD key protected which SA: the ike_keys / child_keys hooks see the
 * key exchange objects an SA was keyed with, among them the qkd one, whose
 * outcome qkd_ke_get_outcome() reads without its material.
 */
#include "qkd_account.h"
#include "qkd_ke.h"

#include <daemon.h>
#include <collections/array.h>

typedef struct private_qkd_account_t private_qkd_account_t;

/**
 * Private data.
 */
struct private_qkd_account_t {

	/**
	 * Public interface.
	 */
	qkd_account_t public;

	/**
	 * The restore service.
	 */
	qkd_restore_t *restore;
};

/**
 * The outcome of the qkd key exchange among kes, if any.
 */
static bool find_qkd(array_t *kes, qkd_ke_outcome_t *outcome)
{
	key_exchange_t *ke;
	int i;

	for (i = 0; i < array_count(kes); i++)
	{
		if (array_get(kes, i, &ke) && qkd_ke_get_outcome(ke, outcome))
		{
			return TRUE;
		}
	}
	return FALSE;
}

/**
 * "key <id> of pool 'x'" or "no QKD key (reason), pool 'x'"; into buf.
 * The key ID as charon's %#B prints it (libc's snprintf has no %B).
 */
static char *describe(qkd_ke_outcome_t *o, char *buf, size_t len)
{
	char id[3 * QKD_KEY_ID_LEN];
	int i;

	for (i = 0; i < QKD_KEY_ID_LEN; i++)
	{
		snprintf(id + 3 * i, 4, "%02x%s", o->key_id[i],
				 i < QKD_KEY_ID_LEN - 1 ? ":" : "");
	}
	if (o->acked)
	{
		snprintf(buf, len, "key %s of pool '%s'", id, o->pool);
	}
	else
	{
		snprintf(buf, len, "no QKD key (%s%s), pool '%s'",
				 qke_reason_name(o->reason), o->done ? "" : ", refused",
				 o->pool);
	}
	return buf;
}

METHOD(listener_t, ike_keys, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, array_t *kes,
	chunk_t dh_other, chunk_t nonce_i, chunk_t nonce_r, ike_sa_t *rekey,
	shared_key_t *shared, auth_method_t method)
{
	ike_sa_id_t *id = ike_sa->get_id(ike_sa);
	qkd_ke_outcome_t o;
	char buf[160];

	if (!find_qkd(kes, &o))
	{
		/* a new IKE_SA is keyed once per round, the qkd one comes; a
		 * re-key gets all its key exchanges at once: qkd not negotiated */
		if (rekey)
		{
			DBG2(DBG_IKE, "qkd: IKE_SA %s[%u] SPIs %.16llx_i %.16llx_r: no QKD "
				 "key (not negotiated)", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa),
				 (unsigned long long)be64toh(id->get_initiator_spi(id)),
				 (unsigned long long)be64toh(id->get_responder_spi(id)));
		}
		return TRUE;
	}
	DBG1(DBG_IKE, "qkd: IKE_SA %s[%u] SPIs %.16llx_i %.16llx_r: %s",
		 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
		 (unsigned long long)be64toh(id->get_initiator_spi(id)),
		 (unsigned long long)be64toh(id->get_responder_spi(id)),
		 describe(&o, buf, sizeof(buf)));
	if (o.acked)
	{
		this->restore->remove(this->restore, TRUE,
							  ike_sa->get_unique_id(ike_sa));
	}
	else if (o.done && o.pool[0])
	{
		this->restore->add_ike(this->restore, ike_sa, o.pool);
	}
	return TRUE;
}

METHOD(listener_t, child_keys, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool initiator, array_t *kes, chunk_t nonce_i, chunk_t nonce_r)
{
	qkd_ke_outcome_t o;
	char buf[160], pool[QKD_POOL_NAME_MAX_LEN + 1];
	char sa[200];

	snprintf(sa, sizeof(sa), "CHILD_SA %s{%u} SPIs %.8x_i %.8x_o (%s) of %s[%u]",
			 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
			 ntohl(child_sa->get_spi(child_sa, TRUE)),
			 ntohl(child_sa->get_spi(child_sa, FALSE)),
			 enum_to_name(protocol_id_names, child_sa->get_protocol(child_sa)),
			 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa));
	if (find_qkd(kes, &o))
	{
		DBG1(DBG_IKE, "qkd: %s: %s", sa, describe(&o, buf, sizeof(buf)));
		if (!o.acked && o.done && o.pool[0])
		{
			this->restore->add_child(this->restore, ike_sa, child_sa, o.pool);
		}
		return TRUE;
	}
	/* no qkd exchange of its own (IKE_AUTH, or a proposal without qkd):
	 * its keys come from the IKE_SA's SK_d, QKD only if the IKE_SA has */
	if (this->restore->get_ike_pool(this->restore,
									ike_sa->get_unique_id(ike_sa), pool,
									sizeof(pool)))
	{
		DBG1(DBG_IKE, "qkd: %s: no QKD key (none in its IKE_SA, no qkd key "
			 "exchange of its own), pool '%s'", sa, pool);
		this->restore->add_child(this->restore, ike_sa, child_sa, pool);
	}
	else
	{
		DBG2(DBG_IKE, "qkd: %s: no qkd key exchange of its own, keyed from "
			 "its IKE_SA", sa);
	}
	return TRUE;
}

METHOD(listener_t, ike_rekey, bool,
	private_qkd_account_t *this, ike_sa_t *old, ike_sa_t *new)
{
	/* the new IKE_SA was recorded (or not) by ike_keys */
	this->restore->remove(this->restore, TRUE, old->get_unique_id(old));
	return TRUE;
}

METHOD(listener_t, child_rekey, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, child_sa_t *old,
	child_sa_t *new)
{
	this->restore->remove(this->restore, FALSE, old->get_unique_id(old));
	return TRUE;
}

METHOD(listener_t, ike_updown, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, bool up)
{
	if (!up)
	{
		this->restore->remove(this->restore, TRUE,
							  ike_sa->get_unique_id(ike_sa));
	}
	return TRUE;
}

METHOD(listener_t, child_updown, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool up)
{
	if (!up)
	{
		this->restore->remove(this->restore, FALSE,
							  child_sa->get_unique_id(child_sa));
	}
	return TRUE;
}

/* Destroyed SAs that never were up (a failed exchange, a lost collision)
 * get no down event: forget them here. */
METHOD(listener_t, ike_state_change, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, ike_sa_state_t state)
{
	if (state == IKE_DESTROYING)
	{
		this->restore->remove(this->restore, TRUE,
							  ike_sa->get_unique_id(ike_sa));
	}
	return TRUE;
}

METHOD(listener_t, child_state_change, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	child_sa_state_t state)
{
	if (state == CHILD_DESTROYING)
	{
		this->restore->remove(this->restore, FALSE,
							  child_sa->get_unique_id(child_sa));
	}
	return TRUE;
}

METHOD(qkd_account_t, destroy, void,
	private_qkd_account_t *this)
{
	free(this);
}

/*
 * Described in header
 */
qkd_account_t *qkd_account_create(qkd_restore_t *restore)
{
	private_qkd_account_t *this;

	INIT(this,
		.public = {
			.listener = {
				.ike_keys = _ike_keys,
				.child_keys = _child_keys,
				.ike_rekey = _ike_rekey,
				.child_rekey = _child_rekey,
				.ike_updown = _ike_updown,
				.child_updown = _child_updown,
				.ike_state_change = _ike_state_change,
				.child_state_change = _child_state_change,
			},
			.destroy = _destroy,
		},
		.restore = restore,
	);
	return &this->public;
}
