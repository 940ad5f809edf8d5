// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The `qkd` key exchange method (RFC 9370 additional key exchange): the
 * initiator offers the next outbound key of the peer's pool by ID and
 * confirmation tag; the responder takes the inbound key with that ID if
 * the tag verifies and answers ACK, otherwise NAK.  The KEM-shaped call
 * order of key_exchange_t carries it:
 *
 *   initiator get_public_key()   the offer
 *   responder set_public_key()   takes the key (or not)
 *   responder get_public_key()   ACK / NAK
 *   initiator set_public_key()   the answer
 *   both      get_shared_secret() the key on ACK, zero bytes on NAK
 *
 * The protocol lives in qkd_proto.c; this file maps the IKE_SA to a pool
 * and a policy, and logs which key ID keyed which IKE_SA.
 */
#include "qkd_ke.h"
#include "qkd_peers.h"

#include <errno.h>

#include <daemon.h>

typedef struct private_key_exchange_t private_key_exchange_t;

/**
 * Private data.
 */
struct private_key_exchange_t {

	/**
	 * Public interface.
	 */
	key_exchange_t public;

	/**
	 * The exchange; holds the key material.
	 */
	struct qkd_proto_exchange x;

	/**
	 * Whether x was initialized for the IKE_SA.
	 */
	bool started;

	/**
	 * The pool was chosen before authentication, by a claimed identity or
	 * an address: IKE_AUTH checks it.
	 */
	bool provisional;
};

/**
 * The pool backend, set by the plugin.
 */
static qkd_kernel_t *kernel;

/*
 * Described in header
 */
void qkd_ke_set_kernel(qkd_kernel_t *k)
{
	kernel = k;
}

/**
 * The configured method ID, 0 until read.
 */
static key_exchange_method_t method_id;

/**
 * Whether @id is usable: private use, and none a strongSwan release or
 * another QKD plugin is known to use (see QKD_KE_METHOD_DEFAULT).
 */
static bool method_usable(int id)
{
	return id >= 1024 && id <= 65535 && id != 1024 &&
		   !(id >= 1030 && id <= 1033) && id != 1040 && id != 65516;
}

/*
 * Described in header
 */
key_exchange_method_t qkd_ke_method(void)
{
	int id;

	if (!method_id)
	{
		id = lib->settings->get_int(lib->settings, "%s.plugins.qkd.ke_id",
									QKD_KE_METHOD_DEFAULT, lib->ns);
		if (!method_usable(id))
		{
			DBG1(DBG_CFG, "qkd: ke_id %d is not a private-use ID free of "
				 "other implementations' methods (1024, 1030-1033, 1040, "
				 "65516 are taken): using %d", id, QKD_KE_METHOD_DEFAULT);
			id = QKD_KE_METHOD_DEFAULT;
		}
		method_id = (key_exchange_method_t)id;
	}
	return method_id;
}

/**
 * Whether the IKE_SA has negotiated its proposal.  It has not while the
 * first key exchange of an IKE_SA is processed (IKE_SA_INIT, or the
 * CREATE_CHILD_SA of an IKE re-key); it has for IKE_INTERMEDIATE,
 * IKE_FOLLOWUP_KE and every CHILD_SA exchange.  The qkd method must never be
 * the first key exchange of IKE_SA_INIT: its payload travels in the clear
 * there, and after a NAK the IKE_SA's keys would rest on nothing but the
 * public nonces.
 */
static bool past_first_ke(ike_sa_t *ike_sa)
{
	return ike_sa->get_version(ike_sa) == IKEV2 &&
		   ike_sa->get_proposal(ike_sa) != NULL;
}

/**
 * The identity an offer claims, from its selector; NULL if none or not
 * parsable (the responder then has only the address).
 */
static identification_t *claimed_id(chunk_t offer)
{
	struct qkd_proto_msg msg;
	identification_t *id = NULL;

	if (qkd_proto_msg_decode(offer.ptr, offer.len, &msg) == 0 &&
		msg.sel_len)
	{
		id = identification_create_from_encoding(msg.sel_type,
								chunk_create(msg.sel, msg.sel_len));
	}
	memwipe(&msg, sizeof(msg));
	return id;
}

/**
 * Our identity as the offer's selector.
 */
static void set_selector(private_key_exchange_t *this, ike_sa_t *ike_sa)
{
	identification_t *own = qkd_peers_own_id(ike_sa);
	chunk_t enc;

	if (!own)
	{
		return;
	}
	enc = own->get_encoding(own);
	if (qkd_proto_exchange_set_selector(&this->x, own->get_type(own), enc.ptr,
								  enc.len) != 0)
	{
		DBG2(DBG_IKE, "qkd: identity %Y too long for the offer's selector",
			 own);
	}
}

/**
 * Map the IKE_SA to a pool and a policy, once.  The responder's first
 * look at the offer (@offer) gives the identity it claims.
 */
static bool start(private_key_exchange_t *this, chunk_t offer)
{
	qkd_peers_choice_t choice;
	identification_t *claimed = NULL;
	ike_sa_t *ike_sa;

	if (this->started)
	{
		return TRUE;
	}
	ike_sa = charon->bus->get_sa(charon->bus);
	if (!ike_sa || !past_first_ke(ike_sa))
	{
		DBG1(DBG_IKE, "qkd: the qkd key exchange of an IKE_SA is allowed as an "
			 "additional key exchange only (ke1_qkd ... ke7_qkd)");
		return FALSE;
	}
	if (!kernel)
	{
		return FALSE;
	}
	if (offer.len && !qkd_peers_authenticated(ike_sa))
	{
		claimed = claimed_id(offer);
	}
	qkd_peers_resolve(ike_sa, claimed, &choice);
	DESTROY_IF(claimed);
	if (qkd_proto_exchange_init(&this->x, kernel->ops, kernel, choice.policy,
						  choice.pool[0] ? choice.pool : NULL,
						  choice.reason) != 0)
	{
		return FALSE;
	}
	this->provisional = choice.basis == QKD_PEERS_PROVISIONAL;
	if (!offer.len)
	{
		set_selector(this, ike_sa);
	}
	this->started = TRUE;
	return TRUE;
}

/**
 * Log the outcome, never the key material: the key ID against the IKE_SA.
 */
static void log_outcome(private_key_exchange_t *this)
{
	chunk_t id = chunk_from_thing(this->x.key_id);
	ike_sa_t *ike_sa = charon->bus->get_sa(charon->bus);
	const char *role = this->x.role == QKD_PROTO_ROLE_INITIATOR ? "initiator"
														  : "responder";

	if (this->x.reason == QKD_PROTO_REASON_TAG_MISMATCH)
	{
		/* the same key ID with different material on the two routers: an
		 * operator must know at once (level 0), and without the material */
		DBG0(DBG_IKE, "qkd: ALARM: key %#B of pool '%s' failed its "
			 "confirmation tag: the QKD key material differs between the "
			 "routers (%s, %s[%u]); %s", &id, this->x.pool,
			 this->x.role == QKD_PROTO_ROLE_INITIATOR ? "rejected by the peer"
												: "rejected here",
			 ike_sa ? ike_sa->get_name(ike_sa) : "?",
			 ike_sa ? ike_sa->get_unique_id(ike_sa) : 0,
			 this->x.state == QKD_PROTO_STATE_DONE ?
				"the SA falls back to its other key exchanges" :
				"the exchange fails (policy 'require')");
	}
	if (this->x.state == QKD_PROTO_STATE_DONE && this->x.acked)
	{
		DBG1(DBG_IKE, "qkd: %s: key %#B of pool '%s' keys %s[%u]", role, &id,
			 this->x.pool, ike_sa ? ike_sa->get_name(ike_sa) : "?",
			 ike_sa ? ike_sa->get_unique_id(ike_sa) : 0);
	}
	else
	{
		DBG1(DBG_IKE, "qkd: %s: %s without a QKD key (%s), pool '%s', %s[%u]: "
			 "%s", role, this->x.state == QKD_PROTO_STATE_DONE ?
			 "falling back" : "failing",
			 qkd_proto_reason_name(this->x.reason), this->x.pool,
			 ike_sa ? ike_sa->get_name(ike_sa) : "?",
			 ike_sa ? ike_sa->get_unique_id(ike_sa) : 0,
			 qkd_proto_reason_hint(this->x.reason));
	}
}

METHOD(key_exchange_t, get_public_key, bool,
	private_key_exchange_t *this, chunk_t *value)
{
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN];
	size_t len;
	int err;

	if (this->x.role == QKD_PROTO_ROLE_RESPONDER)
	{
		/* the answer built by set_public_key() */
		if (this->x.state != QKD_PROTO_STATE_DONE)
		{
			return FALSE;
		}
		*value = chunk_clone(chunk_create(this->x.out, this->x.out_len));
		return TRUE;
	}
	if (!start(this, chunk_empty))
	{
		return FALSE;
	}
	err = qkd_proto_exchange_offer(&this->x, buf, &len);
	if (err)
	{
		DBG1(DBG_IKE, "qkd: initiator: no QKD key (%s) in pool '%s' and the "
			 "policy is 'require': refusing the key exchange",
			 qkd_proto_reason_name(this->x.reason), this->x.pool);
		return FALSE;
	}
	*value = chunk_clone(chunk_create(buf, len));
	return TRUE;
}

METHOD(key_exchange_t, set_public_key, bool,
	private_key_exchange_t *this, chunk_t value)
{
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN];
	size_t len;
	int err;

	if (this->x.role == QKD_PROTO_ROLE_INITIATOR)
	{
		err = qkd_proto_exchange_finish(&this->x, value.ptr, value.len);
		if (err == -EBADMSG)
		{
			DBG1(DBG_IKE, "qkd: initiator: invalid answer (%zu bytes)",
				 value.len);
		}
		log_outcome(this);
		return err == 0;
	}
	if (!start(this, value))
	{
		return FALSE;
	}
	err = qkd_proto_exchange_answer(&this->x, value.ptr, value.len, buf, &len);
	memwipe(buf, sizeof(buf));
	if (err == -EBADMSG)
	{
		DBG1(DBG_IKE, "qkd: responder: invalid offer (%zu bytes)", value.len);
		return FALSE;
	}
	log_outcome(this);
	return err == 0;
}

METHOD(key_exchange_t, get_shared_secret, bool,
	private_key_exchange_t *this, chunk_t *secret)
{
	const uint8_t *ptr;
	size_t len;

	if (qkd_proto_exchange_secret(&this->x, &ptr, &len) != 0)
	{
		return FALSE;
	}
	/* after a NAK: zero bytes, on both sides */
	*secret = len ? chunk_clone(chunk_create((u_char*)ptr, len)) : chunk_empty;
	return TRUE;
}

METHOD(key_exchange_t, set_seed, bool,
	private_key_exchange_t *this, chunk_t value, drbg_t *drbg)
{
	return FALSE;
}

METHOD(key_exchange_t, get_method, key_exchange_method_t,
	private_key_exchange_t *this)
{
	return qkd_ke_method();
}

METHOD(key_exchange_t, destroy, void,
	private_key_exchange_t *this)
{
	qkd_proto_exchange_wipe(&this->x);
	memwipe(this, sizeof(*this));
	free(this);
}

/*
 * Described in header
 */
bool qkd_ke_get_outcome(key_exchange_t *ke, qkd_ke_outcome_t *outcome)
{
	private_key_exchange_t *this = (private_key_exchange_t*)ke;

	/* our destroy() identifies our objects: another plugin could provide
	 * the same private method ID */
	if (!ke || ke->destroy != _destroy || !this->started)
	{
		return FALSE;
	}
	*outcome = (qkd_ke_outcome_t){
		.done = this->x.state == QKD_PROTO_STATE_DONE,
		.acked = this->x.state == QKD_PROTO_STATE_DONE && this->x.acked,
		.initiator = this->x.role == QKD_PROTO_ROLE_INITIATOR,
		.reason = this->x.reason,
		.peer_reason = this->x.peer_reason,
		.provisional = this->provisional,
		.policy = this->x.policy,
	};
	memcpy(outcome->key_id, this->x.key_id, sizeof(outcome->key_id));
	memcpy(outcome->pool, this->x.pool, sizeof(outcome->pool));
	return TRUE;
}

/*
 * Described in header
 */
key_exchange_t *qkd_ke_create(key_exchange_method_t method)
{
	private_key_exchange_t *this;

	if (method != qkd_ke_method())
	{
		return NULL;
	}
	INIT(this,
		.public = {
			.get_method = _get_method,
			.get_public_key = _get_public_key,
			.set_public_key = _set_public_key,
			.get_shared_secret = _get_shared_secret,
			.set_seed = _set_seed,
			.destroy = _destroy,
		},
	);
	return &this->public;
}
