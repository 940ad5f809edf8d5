// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which pool belongs to a peer, and the policy: charon.plugins.qkd.*.
 */
#include "qkd_peers.h"

#include <daemon.h>
#include <threading/thread_value.h>
#include <credentials/auth_cfg.h>

#define SETTINGS	"%s.plugins.qkd"

/*
 * Described in header
 */
bool qkd_peers_policy_from_string(const char *str, enum qkd_proto_policy *policy)
{
	if (streq(str, "prefer"))
	{
		*policy = QKD_PROTO_POLICY_PREFER;
		return TRUE;
	}
	if (streq(str, "require"))
	{
		*policy = QKD_PROTO_POLICY_REQUIRE;
		return TRUE;
	}
	return FALSE;
}

/**
 * Read a policy setting, the default for an unknown value is "require":
 * a typo must not weaken what the administrator asked for.
 */
static enum qkd_proto_policy get_policy(char *str, enum qkd_proto_policy def)
{
	enum qkd_proto_policy policy;

	if (!str)
	{
		return def;
	}
	if (!qkd_peers_policy_from_string(str, &policy))
	{
		DBG1(DBG_CFG, "qkd: unknown policy '%s', using 'require'", str);
		return QKD_PROTO_POLICY_REQUIRE;
	}
	return policy;
}

/*
 * Described in header
 */
bool qkd_peers_authenticated(ike_sa_t *ike_sa)
{
	switch (ike_sa->get_state(ike_sa))
	{
		case IKE_ESTABLISHED:
		case IKE_REKEYING:
		case IKE_REKEYED:
		case IKE_DELETING:
			return TRUE;
		default:
			return ike_sa->has_condition(ike_sa, COND_AUTHENTICATED);
	}
}

/**
 * The IKE_SA whose message this thread handles last: see
 * qkd_peers_note_message().
 */
typedef struct {
	/** its config (compared, never dereferenced) */
	peer_cfg_t *cfg;
	/** its authenticated peer identity */
	identification_t *id;
} note_t;

static thread_value_t *notes;

static void note_destroy(note_t *note)
{
	DESTROY_IF(note->id);
	free(note);
}

/*
 * Described in header
 */
void qkd_peers_init(void)
{
	notes = thread_value_create((thread_cleanup_t)note_destroy);
}

/*
 * Described in header
 */
void qkd_peers_deinit(void)
{
	if (notes)
	{
		notes->destroy(notes);
		notes = NULL;
	}
}

/*
 * Described in header
 */
void qkd_peers_note_message(ike_sa_t *ike_sa)
{
	identification_t *id;
	note_t *note;

	if (!notes || !ike_sa || !qkd_peers_authenticated(ike_sa))
	{
		return;
	}
	id = ike_sa->get_other_id(ike_sa);
	if (!id || id->get_type(id) == ID_ANY)
	{
		return;
	}
	note = notes->get(notes);
	if (!note)
	{
		INIT(note);
		notes->set(notes, note);
	}
	if (!note->id || !id->equals(id, note->id))
	{
		DESTROY_IF(note->id);
		note->id = id->clone(id);
	}
	note->cfg = ike_sa->get_peer_cfg(ike_sa);
}

/**
 * The first identity rule of @cfg's local (TRUE) or remote auth configs,
 * NULL if none or %any.  With @cert, a local certificate's subject stands
 * in for a missing identity (charon then authenticates with it).
 */
static identification_t *cfg_id(peer_cfg_t *cfg, bool local)
{
	enumerator_t *enumerator;
	identification_t *id = NULL;
	certificate_t *cert;
	auth_cfg_t *auth;

	if (!cfg)
	{
		return NULL;
	}
	enumerator = cfg->create_auth_cfg_enumerator(cfg, local);
	if (enumerator->enumerate(enumerator, &auth))
	{
		id = auth->get(auth, AUTH_RULE_IDENTITY);
		if ((!id || id->get_type(id) == ID_ANY) && local)
		{
			cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
			id = cert ? cert->get_subject(cert) : NULL;
		}
	}
	enumerator->destroy(enumerator);
	if (id && id->get_type(id) == ID_ANY)
	{
		id = NULL;
	}
	return id;
}

/*
 * Described in header
 */
identification_t *qkd_peers_own_id(ike_sa_t *ike_sa)
{
	identification_t *id;

	if (!ike_sa)
	{
		return NULL;
	}
	id = ike_sa->get_my_id(ike_sa);
	if (id && id->get_type(id) != ID_ANY)
	{
		return id;
	}
	return cfg_id(ike_sa->get_peer_cfg(ike_sa), TRUE);
}

/**
 * The authenticated peer's identity, or NULL.  The new IKE_SA of an IKE
 * re-key inherits the old one's config and "authenticated" condition at
 * once but its identities only when the re-key completes: the old IKE_SA,
 * whose message this thread handles, stands in (same config).
 */
static identification_t *authenticated_id(ike_sa_t *ike_sa)
{
	identification_t *id = ike_sa->get_other_id(ike_sa);
	note_t *note;

	if (id && id->get_type(id) != ID_ANY)
	{
		return id;
	}
	note = notes ? notes->get(notes) : NULL;
	if (note && note->id && note->cfg == ike_sa->get_peer_cfg(ike_sa))
	{
		return note->id;
	}
	return NULL;
}

/**
 * Whether @host is one of the comma/space separated addresses in @list.
 */
static bool addr_listed(host_t *host, char *list)
{
	enumerator_t *enumerator;
	host_t *addr;
	char *token;
	bool found = FALSE;

	enumerator = enumerator_create_token(list, ", ", " ");
	while (!found && enumerator->enumerate(enumerator, &token))
	{
		addr = host_create_from_string(token, 0);
		if (addr)
		{
			found = addr->ip_equals(addr, host);
			addr->destroy(addr);
		}
		else
		{
			DBG1(DBG_CFG, "qkd: invalid address '%s' in addrs", token);
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Whether identity @other matches the configured @str.
 */
static bool id_matches(identification_t *other, char *str)
{
	identification_t *id;
	bool match;

	id = identification_create_from_string(str);
	match = other->matches(other, id) > ID_MATCH_NONE;
	id->destroy(id);
	return match;
}

/**
 * Copy a pool name, refusing names the kernel would not take.
 */
static bool set_pool(qkd_peers_choice_t *choice, const char *name)
{
	if (!name || !*name || strlen(name) > QKD_POOL_NAME_MAX_LEN)
	{
		return FALSE;
	}
	strncpy(choice->pool, name, sizeof(choice->pool) - 1);
	choice->pool[sizeof(choice->pool) - 1] = '\0';
	return TRUE;
}

static char *section_str(char *section, char *key, char *def)
{
	return lib->settings->get_str(lib->settings, SETTINGS ".peers.%s.%s", def,
								  lib->ns, section, key);
}

/**
 * Take the pool and policy of a matching section.
 */
static void take_section(qkd_peers_choice_t *choice, char *section)
{
	if (!set_pool(choice, section_str(section, "pool", section)))
	{
		DBG1(DBG_CFG, "qkd: invalid pool name in peers.%s", section);
		choice->pool[0] = '\0';
	}
	choice->policy = get_policy(section_str(section, "policy", NULL),
								choice->policy);
}

/**
 * The section whose id matches @id; or, with @id NULL, the first section
 * without id whose addrs list @host.
 */
static bool find_section(identification_t *id, host_t *host,
						 qkd_peers_choice_t *choice)
{
	enumerator_t *enumerator;
	char *section, *sid, *addrs;
	bool found = FALSE;

	enumerator = lib->settings->create_section_enumerator(lib->settings,
												SETTINGS ".peers", lib->ns);
	while (!found && enumerator->enumerate(enumerator, &section))
	{
		sid = section_str(section, "id", NULL);
		addrs = section_str(section, "addrs", NULL);
		if (id)
		{
			found = sid && id_matches(id, sid);
		}
		else
		{
			/* a section bound to an identity never serves an unknown peer */
			found = !sid && addrs && host && addr_listed(host, addrs);
		}
		if (found)
		{
			take_section(choice, section);
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Whether a peers section with an id binds pool @name (to some identity).
 */
static bool pool_bound(const char *name)
{
	enumerator_t *enumerator;
	char *section;
	bool bound = FALSE;

	enumerator = lib->settings->create_section_enumerator(lib->settings,
												SETTINGS ".peers", lib->ns);
	while (!bound && enumerator->enumerate(enumerator, &section))
	{
		bound = section_str(section, "id", NULL) &&
				streq(section_str(section, "pool", section), name);
	}
	enumerator->destroy(enumerator);
	return bound;
}

/**
 * pool_by_identity: the pool named like @id, unless a section binds that
 * name to an identity (which then did not match @id).
 */
static bool pool_by_identity(identification_t *id, qkd_peers_choice_t *choice)
{
	char name[BUF_LEN];

	if (!lib->settings->get_bool(lib->settings, SETTINGS ".pool_by_identity",
								 TRUE, lib->ns))
	{
		return FALSE;
	}
	/* %Y is strongSwan's printf hook, unknown to the compiler */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	snprintf(name, sizeof(name), "%Y", id);
#pragma GCC diagnostic pop
	if (pool_bound(name))
	{
		DBG2(DBG_CFG, "qkd: pool '%s' is bound to another identity than "
			 "%Y", name, id);
		return FALSE;
	}
	return set_pool(choice, name);
}

/*
 * Described in header
 */
void qkd_peers_choose(const qkd_peers_input_t *in, qkd_peers_choice_t *choice)
{
	identification_t *id;
	bool final;

	*choice = (qkd_peers_choice_t){
		.policy = get_policy(lib->settings->get_str(lib->settings,
							SETTINGS ".policy", NULL, lib->ns),
							QKD_PROTO_POLICY_PREFER),
		.basis = QKD_PEERS_NONE,
		.reason = QKD_PROTO_REASON_NO_POOL,
	};
	/* the authenticated identity, or the one our config demands (only
	 * that peer can authenticate): final; a claimed one: provisional */
	id = in->authenticated ?: in->demanded;
	final = id || in->authenticated_sa;
	if (!id && !in->authenticated_sa)
	{
		id = in->claimed;
	}
	if (id && find_section(id, NULL, choice))
	{
		choice->basis = final ? QKD_PEERS_IDENTITY : QKD_PEERS_PROVISIONAL;
		return;
	}
	if (find_section(NULL, in->address, choice))
	{
		/* a section without id: the peer's address is all it names */
		choice->basis = final ? QKD_PEERS_IDENTITY : QKD_PEERS_PROVISIONAL;
		return;
	}
	if (id && pool_by_identity(id, choice))
	{
		choice->basis = final ? QKD_PEERS_IDENTITY : QKD_PEERS_PROVISIONAL;
		return;
	}
	if (!id && !final)
	{
		/* a section bound to an identity may still be the peer's: known
		 * after IKE_AUTH, which re-keys onto it at once */
		choice->reason = QKD_PROTO_REASON_PEER_UNKNOWN;
	}
}

/*
 * Described in header
 */
void qkd_peers_resolve(ike_sa_t *ike_sa, identification_t *claimed,
					   qkd_peers_choice_t *choice)
{
	qkd_peers_input_t in = {
		.claimed = claimed,
	};

	if (ike_sa)
	{
		in.authenticated_sa = qkd_peers_authenticated(ike_sa);
		if (in.authenticated_sa)
		{
			in.authenticated = authenticated_id(ike_sa);
		}
		in.demanded = cfg_id(ike_sa->get_peer_cfg(ike_sa), FALSE);
		in.address = ike_sa->get_other_host(ike_sa);
	}
	qkd_peers_choose(&in, choice);
}
