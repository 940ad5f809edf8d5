// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which QKD key protected which SA: the ike_keys / child_keys hooks see the
 * key exchange objects an SA was keyed with, among them the qkd one, whose
 * outcome qkd_ke_get_outcome() reads without its material.
 */
#include "qkd_account.h"
#include "qkd_ke.h"
#include "qkd_peers.h"

#include <daemon.h>
#include <collections/array.h>
#include <collections/hashtable.h>
#include <threading/mutex.h>

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

	/**
	 * Where outcomes are counted.
	 */
	qkd_kernel_t *kernel;

	/**
	 * IKE_SAs keyed before authentication, by unique ID: pre_auth_t.
	 */
	hashtable_t *pre_auth;

	/**
	 * Serializes pre_auth.
	 */
	mutex_t *mutex;
};

/**
 * A new IKE_SA's qkd exchange before IKE_AUTH, checked once the peer is
 * authenticated; then, if it must be re-keyed onto its pool at once, the
 * pool to kick when its first CHILD_SA is up.
 */
typedef struct {
	qkd_ke_outcome_t outcome;
	/** the authenticated peer's pool, to re-key onto; "" if none */
	char kick[QKD_POOL_NAME_MAX_LEN + 1];
} pre_auth_t;

static void *uid_key(ike_sa_t *ike_sa)
{
	return (void*)(uintptr_t)ike_sa->get_unique_id(ike_sa);
}

/**
 * Remove and return the pre-auth record of @ike_sa, NULL if none.
 */
static pre_auth_t *take_pre_auth(private_qkd_account_t *this, ike_sa_t *ike_sa)
{
	pre_auth_t *pa;

	this->mutex->lock(this->mutex);
	pa = this->pre_auth->remove(this->pre_auth, uid_key(ike_sa));
	this->mutex->unlock(this->mutex);
	return pa;
}

static void put_pre_auth(private_qkd_account_t *this, ike_sa_t *ike_sa,
						 pre_auth_t *pa)
{
	pre_auth_t *old;

	this->mutex->lock(this->mutex);
	old = this->pre_auth->put(this->pre_auth, uid_key(ike_sa), pa);
	this->mutex->unlock(this->mutex);
	free(old);
}

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
				 qkd_proto_reason_name(o->reason), o->done ? "" : ", refused",
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
	DBG1(DBG_IKE, "qkd: IKE_SA %s[%u] SPIs %.16llx_i %.16llx_r: %s%s",
		 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
		 (unsigned long long)be64toh(id->get_initiator_spi(id)),
		 (unsigned long long)be64toh(id->get_responder_spi(id)),
		 describe(&o, buf, sizeof(buf)),
		 o.provisional ? " (before IKE_AUTH: checked then)" : "");
	/* (@rekey is the IKE_SA itself for the additional key exchanges of a
	 * new IKE_SA, the old one for a re-key: the new IKE_SA of a re-key
	 * inherits the old one's "authenticated" condition) */
	if (!qkd_peers_authenticated(ike_sa))
	{
		pre_auth_t *pa;

		/* IKE_AUTH tells whose pool it should have been (authorize) */
		INIT(pa,
			.outcome = o,
		);
		put_pre_auth(this, ike_sa, pa);
	}
	else if (o.acked)
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

/**
 * Whether an exchange before IKE_AUTH went without a QKD key only because
 * the peer's pool was not known yet (or was another): then a re-key right
 * after IKE_AUTH, onto the authenticated peer's pool @pool, can use one.
 * Not after an empty pool, a bad tag or a pool error, on either side:
 * those wait for the refill.
 */
static bool pre_auth_artifact(qkd_ke_outcome_t *o, const char *pool)
{
	if (!streq(o->pool, pool))
	{
		return TRUE;
	}
	switch (o->reason)
	{
		case QKD_PROTO_REASON_NO_POOL:
		case QKD_PROTO_REASON_PEER_UNKNOWN:
		case QKD_PROTO_REASON_PRE_AUTH:
			return TRUE;
		case QKD_PROTO_REASON_NO_OFFER:
			/* the initiator said why it offered nothing */
			return o->peer_reason == QKD_PROTO_REASON_NO_POOL ||
				   o->peer_reason == QKD_PROTO_REASON_PEER_UNKNOWN;
		default:
			return FALSE;
	}
}

/**
 * IKE_AUTH is done: check the pool used before it against the
 * authenticated peer's.  A key from another pool is a pre-auth mismatch:
 * refused under policy "require", else re-keyed at once, as is an
 * exchange that fell back only because the peer was not known yet.
 */
METHOD(listener_t, authorize, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, bool final, bool *success)
{
	qkd_peers_choice_t choice;
	qkd_ke_outcome_t *o;
	pre_auth_t *pa;

	if (!final || !*success)
	{
		return TRUE;
	}
	pa = take_pre_auth(this, ike_sa);
	if (!pa)
	{
		return TRUE;
	}
	o = &pa->outcome;
	qkd_peers_resolve(ike_sa, ike_sa->get_other_id(ike_sa), &choice);
	DBG2(DBG_IKE, "qkd: IKE_SA %s[%u] authenticated %Y: its pool '%s'; before "
		 "IKE_AUTH pool '%s', %s", ike_sa->get_name(ike_sa),
		 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_id(ike_sa),
		 choice.pool[0] ? choice.pool : "(none)", o->pool,
		 o->acked ? "a QKD key" : "no QKD key");
	if (o->acked && streq(o->pool, choice.pool))
	{
		DBG2(DBG_IKE, "qkd: IKE_SA %s[%u]: pool '%s' used before IKE_AUTH is "
			 "the authenticated peer's", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), o->pool);
		free(pa);
		return TRUE;
	}
	if (o->acked)
	{
		DBG1(DBG_IKE, "qkd: IKE_SA %s[%u]: the QKD key before IKE_AUTH came "
			 "from pool '%s', but the authenticated peer %Y has %s%s%s "
			 "(pre-auth pool mismatch): %s", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), o->pool,
			 ike_sa->get_other_id(ike_sa), choice.pool[0] ? "pool '" : "",
			 choice.pool[0] ? choice.pool : "no pool",
			 choice.pool[0] ? "'" : "",
			 choice.policy == QKD_PROTO_POLICY_REQUIRE ?
				"refusing the IKE_SA (policy 'require')" :
				"re-keying it at once; check the peers sections");
		if (this->kernel->ops->report)
		{
			this->kernel->ops->report(this->kernel, choice.pool[0] ?
						choice.pool : NULL,
						choice.policy == QKD_PROTO_POLICY_REQUIRE ?
						QKD_KE_OUTCOME_REFUSED : QKD_KE_OUTCOME_FALLBACK,
						QKD_PROTO_REASON_PRE_AUTH);
		}
		if (choice.policy == QKD_PROTO_POLICY_REQUIRE)
		{
			*success = FALSE;
			free(pa);
			return TRUE;
		}
	}
	else if (!choice.pool[0])
	{
		free(pa);
		return TRUE;
	}
	/* keyed without a QKD key of the peer's pool: record it there, and
	 * re-key at once unless the pool was merely empty */
	this->restore->add_ike(this->restore, ike_sa, choice.pool);
	if (o->acked || pre_auth_artifact(o, choice.pool))
	{
		DBG1(DBG_IKE, "qkd: IKE_SA %s[%u] of %Y was keyed before IKE_AUTH "
			 "without a QKD key of its pool '%s' (%s): re-keying it and its "
			 "first CHILD_SA once that is up", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_id(ike_sa),
			 choice.pool, o->acked ? "pre-auth pool mismatch"
								   : qkd_proto_reason_name(o->reason));
		snprintf(pa->kick, sizeof(pa->kick), "%s", choice.pool);
		put_pre_auth(this, ike_sa, pa);
		return TRUE;
	}
	free(pa);
	return TRUE;
}

/**
 * The message hook: note the IKE_SA whose message this thread handles
 * (qkd_peers_note_message()).
 */
METHOD(listener_t, message, bool,
	private_qkd_account_t *this, ike_sa_t *ike_sa, message_t *message,
	bool incoming, bool plain)
{
	if (incoming && plain)
	{
		qkd_peers_note_message(ike_sa);
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
	pre_auth_t *pa;

	if (up)
	{
		/* the first CHILD_SA of an IKE_SA to re-key at once is up (and
		 * recorded by child_keys): both go now.  Queued jobs only. */
		pa = take_pre_auth(this, ike_sa);
		if (pa && pa->kick[0])
		{
			this->restore->authenticated(this->restore, pa->kick);
		}
		free(pa);
	}
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
		free(take_pre_auth(this, ike_sa));
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
	enumerator_t *enumerator;
	pre_auth_t *pa;
	void *key;

	enumerator = this->pre_auth->create_enumerator(this->pre_auth);
	while (enumerator->enumerate(enumerator, &key, &pa))
	{
		free(pa);
	}
	enumerator->destroy(enumerator);
	this->pre_auth->destroy(this->pre_auth);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_account_t *qkd_account_create(qkd_restore_t *restore,
								  qkd_kernel_t *kernel)
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
				.authorize = _authorize,
				.message = _message,
			},
			.destroy = _destroy,
		},
		.restore = restore,
		.kernel = kernel,
		.pre_auth = hashtable_create(hashtable_hash_ptr, hashtable_equals_ptr,
									 8),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
	);
	return &this->public;
}
