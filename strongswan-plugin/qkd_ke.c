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
 *
 * The combined methods (mlkem768qkd ...) are the same object with an ML-KEM
 * key exchange from strongSwan's crypto factory beside the qkd exchange,
 * framed together by qkd_combo.c: the pool choice, policy, logs and the
 * outcome the accounting reads are those of the qkd method.
 */
#include "qkd_ke.h"
#include "qkd_peers.h"
#include "qkd_combo.h"

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

	/**
	 * The method's entry in the table.
	 */
	const qkd_ke_method_t *def;

	/**
	 * Combined methods: the ML-KEM half; NULL for qkd.
	 */
	key_exchange_t *mlkem;

	/**
	 * Combined methods: the payload around x and mlkem; holds secrets.
	 */
	struct qkd_combo_exchange combo;
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
 * The plugin's methods; IDs read once, by read_ids().
 */
static qkd_ke_method_t methods[] = {
	{ QKD_KE_TOKEN, 0, KE_NONE },
	{ "mlkem512qkd", 0, ML_KEM_512 },
	{ "mlkem768qkd", 0, ML_KEM_768 },
	{ "mlkem1024qkd", 0, ML_KEM_1024 },
};

/**
 * The default IDs, in the order of methods[].
 */
static const int default_ids[] = { QKD_KE_METHOD_DEFAULT, 65002, 65003, 65004 };

/**
 * The ML-KEM sizes of the combined methods: encapsulation key, ciphertext.
 */
static const size_t kem_sizes[][2] = {
	{ 0, 0 }, { 800, 768 }, { 1184, 1088 }, { 1568, 1568 },
};

/**
 * Whether the IDs were read.
 */
static bool ids_read;

/**
 * Whether @id is usable: private use, and none a strongSwan release or
 * another QKD plugin is known to use (see QKD_KE_METHOD_DEFAULT).
 */
static bool method_usable(int id)
{
	return id >= 1024 && id <= 65535 && id != 1024 &&
		   !(id >= 1030 && id <= 1033) && id != 1040 && id != 65516;
}

/**
 * Whether @id is taken by one of the first @n methods.
 */
static bool taken(int id, u_int n)
{
	u_int i;

	for (i = 0; i < n; i++)
	{
		if ((int)methods[i].method == id)
		{
			return TRUE;
		}
	}
	return FALSE;
}

/**
 * Read every method's ID, once: both peers must use the same.
 */
static void read_ids(void)
{
	int id;
	u_int i;

	if (ids_read)
	{
		return;
	}
	for (i = 0; i < countof(methods); i++)
	{
		if (i == 0)
		{
			id = lib->settings->get_int(lib->settings, "%s.plugins.qkd.ke_id",
										default_ids[i], lib->ns);
		}
		else
		{
			id = lib->settings->get_int(lib->settings,
										"%s.plugins.qkd.ke_id_%s",
										default_ids[i], lib->ns,
										methods[i].token);
		}
		if (!method_usable(id) || taken(id, i))
		{
			DBG1(DBG_CFG, "qkd: %s ID %d is not a private-use ID free of "
				 "other methods (1024, 1030-1033, 1040, 65516 and this "
				 "plugin's other methods are taken): using %d",
				 methods[i].token, id, default_ids[i]);
			id = default_ids[i];
			if (taken(id, i))
			{
				DBG1(DBG_CFG, "qkd: %s: its default ID %d is another "
					 "method's: the method is disabled", methods[i].token,
					 id);
				id = 0;
			}
		}
		methods[i].method = (key_exchange_method_t)id;
	}
	ids_read = TRUE;
}

/*
 * Described in header
 */
key_exchange_method_t qkd_ke_method(void)
{
	read_ids();
	return methods[0].method;
}

/*
 * Described in header
 */
int qkd_ke_methods(const qkd_ke_method_t **table)
{
	read_ids();
	*table = methods;
	return countof(methods);
}

/*
 * Described in header
 */
bool qkd_ke_is_ours(uint16_t method)
{
	read_ids();
	return method && taken(method, countof(methods));
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
 * The ML-KEM half of a combined method: strongSwan's key_exchange_t.
 */
static int kem_get_public(void *kem, uint8_t *out, size_t len)
{
	key_exchange_t *ke = kem;
	chunk_t value;
	int ret = -EIO;

	if (ke->get_public_key(ke, &value))
	{
		if (value.len == len)
		{
			memcpy(out, value.ptr, len);
			ret = 0;
		}
		chunk_free(&value);
	}
	return ret;
}

static int kem_set_public(void *kem, const uint8_t *in, size_t len)
{
	key_exchange_t *ke = kem;

	return ke->set_public_key(ke, chunk_create((u_char*)in, len)) ? 0
																   : -EINVAL;
}

static int kem_secret(void *kem, uint8_t *out)
{
	key_exchange_t *ke = kem;
	chunk_t secret;
	int ret = -EIO;

	if (ke->get_shared_secret(ke, &secret))
	{
		if (secret.len == QKD_COMBO_KEM_SS_LEN)
		{
			memcpy(out, secret.ptr, secret.len);
			ret = 0;
		}
		chunk_clear(&secret);
	}
	return ret;
}

static const struct qkd_combo_kem_ops kem_ops = {
	.get_public = kem_get_public,
	.set_public = kem_set_public,
	.secret = kem_secret,
};

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
		/* combined methods too: the offer (key ID, tag, the initiator's
		 * identity as selector) would travel in the clear, and the pool
		 * be chosen by an unauthenticated, unencrypted claim */
		DBG1(DBG_IKE, "qkd: the %s key exchange of an IKE_SA is allowed as "
			 "an additional key exchange only (ke1_%s ... ke7_%s)",
			 this->def->token, this->def->token, this->def->token);
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
	if (this->mlkem &&
		qkd_combo_init(&this->combo, &this->x, &kem_ops, this->mlkem,
					   kem_sizes[this->def - methods][0],
					   kem_sizes[this->def - methods][1]) != 0)
	{
		return FALSE;
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
	uint8_t buf[QKD_COMBO_MSG_MAX_LEN];
	size_t len;
	int err;

	if (this->x.role == QKD_PROTO_ROLE_RESPONDER)
	{
		/* the answer built by set_public_key() */
		if (this->x.state != QKD_PROTO_STATE_DONE ||
			(this->mlkem && !this->combo.out_len))
		{
			return FALSE;
		}
		*value = this->mlkem ?
			chunk_clone(chunk_create(this->combo.out, this->combo.out_len)) :
			chunk_clone(chunk_create(this->x.out, this->x.out_len));
		return TRUE;
	}
	if (!start(this, chunk_empty))
	{
		return FALSE;
	}
	err = this->mlkem ? qkd_combo_offer(&this->combo, buf, &len)
					  : qkd_proto_exchange_offer(&this->x, buf, &len);
	if (err == -ENOKEY)
	{
		DBG1(DBG_IKE, "qkd: initiator: no QKD key (%s) in pool '%s' and the "
			 "policy is 'require': refusing the key exchange",
			 qkd_proto_reason_name(this->x.reason), this->x.pool);
		return FALSE;
	}
	if (err)
	{
		DBG1(DBG_IKE, "qkd: initiator: %s: %s failed: refusing the key "
			 "exchange", this->def->token, this->mlkem && !this->x.out_len ?
			 "ML-KEM key generation" : "building the offer");
		return FALSE;
	}
	*value = chunk_clone(chunk_create(buf, len));
	return TRUE;
}

/**
 * A combined payload rejected: say why, and that nothing was taken.
 */
static void log_rejected(private_key_exchange_t *this, const char *what,
						 size_t len)
{
	DBG1(DBG_IKE, "qkd: %s: invalid %s %s (%zu bytes): %s; %s",
		 this->x.role == QKD_PROTO_ROLE_INITIATOR ? "initiator" : "responder",
		 this->def->token,
		 this->x.role == QKD_PROTO_ROLE_INITIATOR ? "answer" : "offer", len,
		 what, this->x.role == QKD_PROTO_ROLE_INITIATOR ?
		 "the exchange fails, the key offered is burnt" :
		 "nothing taken from a pool, the exchange fails");
}

/**
 * Responder of a combined method: the whole offer is checked before the
 * pool is even chosen.
 */
static bool combo_answer(private_key_exchange_t *this, chunk_t value)
{
	struct qkd_combo_msg msg;
	uint8_t buf[QKD_COMBO_MSG_MAX_LEN];
	const char *what;
	size_t len, kl = kem_sizes[this->def - methods][0];
	int err;

	if (!this->started)
	{
		err = qkd_combo_msg_decode(value.ptr, value.len, kl, TRUE, &msg,
								   &what);
		memwipe(&msg, sizeof(msg));
		if (err)
		{
			this->x.role = QKD_PROTO_ROLE_RESPONDER;
			log_rejected(this, what, value.len);
			return FALSE;
		}
	}
	/* the qkd message: the claimed identity */
	if (!start(this, chunk_skip(value, QKD_COMBO_HDR_LEN + kl)))
	{
		return FALSE;
	}
	err = qkd_combo_answer(&this->combo, value.ptr, value.len, buf, &len);
	memwipe(buf, sizeof(buf));
	if (err == -EBADMSG || err == -EPROTONOSUPPORT)
	{
		log_rejected(this, this->combo.error, value.len);
		return FALSE;
	}
	if (err == -EALREADY || err == -EPROTO)
	{
		return FALSE;
	}
	log_outcome(this);
	return err == 0;
}

METHOD(key_exchange_t, set_public_key, bool,
	private_key_exchange_t *this, chunk_t value)
{
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN];
	size_t len;
	int err;

	if (this->x.role == QKD_PROTO_ROLE_INITIATOR)
	{
		if (this->mlkem)
		{
			err = qkd_combo_finish(&this->combo, value.ptr, value.len);
			if (err == -EBADMSG || err == -EPROTONOSUPPORT)
			{
				log_rejected(this, this->combo.error, value.len);
				if (this->x.state != QKD_PROTO_STATE_DONE)
				{
					return FALSE;
				}
			}
			else if (err == -EPROTO)
			{
				return FALSE;
			}
			log_outcome(this);
			return err == 0;
		}
		err = qkd_proto_exchange_finish(&this->x, value.ptr, value.len);
		if (err == -EBADMSG)
		{
			DBG1(DBG_IKE, "qkd: initiator: invalid answer (%zu bytes)",
				 value.len);
		}
		log_outcome(this);
		return err == 0;
	}
	if (this->mlkem)
	{
		return combo_answer(this, value);
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

	if (this->mlkem)
	{
		/* ML-KEM's secret || the QKD key; ML-KEM's alone after a NAK */
		if (qkd_combo_secret(&this->combo, &ptr, &len) != 0)
		{
			return FALSE;
		}
		*secret = chunk_clone(chunk_create((u_char*)ptr, len));
		return TRUE;
	}
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
	return this->def->method;
}

METHOD(key_exchange_t, destroy, void,
	private_key_exchange_t *this)
{
	qkd_combo_wipe(&this->combo);
	qkd_proto_exchange_wipe(&this->x);
	DESTROY_IF(this->mlkem);
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
	key_exchange_t *mlkem = NULL;
	u_int i;

	read_ids();
	for (i = 0; i < countof(methods); i++)
	{
		if (methods[i].method && methods[i].method == method)
		{
			break;
		}
	}
	if (i == countof(methods))
	{
		return NULL;
	}
	if (methods[i].mlkem != KE_NONE)
	{
		mlkem = lib->crypto->create_ke(lib->crypto, methods[i].mlkem);
		if (!mlkem)
		{
			DBG1(DBG_IKE, "qkd: %s: no %N provider loaded", methods[i].token,
				 key_exchange_method_names, methods[i].mlkem);
			return NULL;
		}
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
		.def = &methods[i],
		.mlkem = mlkem,
	);
	return &this->public;
}
