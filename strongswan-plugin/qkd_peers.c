// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which pool belongs to a peer, and the policy: charon.plugins.qkd.*.
 */
#include "qkd_peers.h"

#include <daemon.h>

#define SETTINGS	"%s.plugins.qkd"

/*
 * Described in header
 */
bool qke_policy_from_string(const char *str, enum qke_policy *policy)
{
	if (streq(str, "prefer"))
	{
		*policy = QKE_POLICY_PREFER;
		return TRUE;
	}
	if (streq(str, "require"))
	{
		*policy = QKE_POLICY_REQUIRE;
		return TRUE;
	}
	return FALSE;
}

/**
 * Read a policy setting, the default for an unknown value is "require":
 * a typo must not weaken what the administrator asked for.
 */
static enum qke_policy get_policy(char *str, enum qke_policy def)
{
	enum qke_policy policy;

	if (!str)
	{
		return def;
	}
	if (!qke_policy_from_string(str, &policy))
	{
		DBG1(DBG_CFG, "qkd: unknown policy '%s', using 'require'", str);
		return QKE_POLICY_REQUIRE;
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
static bool set_pool(char *pool, size_t len, const char *name)
{
	if (!name || !*name || strlen(name) >= len ||
		strlen(name) > QKD_POOL_NAME_MAX_LEN)
	{
		return FALSE;
	}
	strncpy(pool, name, len);
	return TRUE;
}

/**
 * The peer's identity.  The new IKE_SA of an IKE re-key gets its
 * identities only once the re-key completes; until then the identity of its
 * (already authenticated) config stands in.
 */
static identification_t *peer_id(ike_sa_t *ike_sa)
{
	identification_t *id = ike_sa->get_other_id(ike_sa);
	enumerator_t *enumerator;
	peer_cfg_t *peer_cfg;
	auth_cfg_t *auth;

	if (id && id->get_type(id) != ID_ANY)
	{
		return id;
	}
	id = NULL;
	peer_cfg = ike_sa->get_peer_cfg(ike_sa);
	if (peer_cfg)
	{
		enumerator = peer_cfg->create_auth_cfg_enumerator(peer_cfg, FALSE);
		if (enumerator->enumerate(enumerator, &auth))
		{
			id = auth->get(auth, AUTH_RULE_IDENTITY);
		}
		enumerator->destroy(enumerator);
	}
	if (id && id->get_type(id) == ID_ANY)
	{
		id = NULL;
	}
	return id;
}

/*
 * Described in header
 */
enum qke_policy qkd_peers_resolve(ike_sa_t *ike_sa, char *pool, size_t len)
{
	enumerator_t *enumerator;
	enum qke_policy policy;
	identification_t *other_id;
	host_t *other_host;
	char *section, *id, *addrs, name[BUF_LEN];
	bool authenticated, found = FALSE;

	pool[0] = '\0';
	policy = get_policy(lib->settings->get_str(lib->settings,
						SETTINGS ".policy", NULL, lib->ns), QKE_POLICY_PREFER);
	if (!ike_sa)
	{
		return policy;
	}
	authenticated = qkd_peers_authenticated(ike_sa);
	other_id = authenticated ? peer_id(ike_sa) : NULL;
	other_host = ike_sa->get_other_host(ike_sa);

	enumerator = lib->settings->create_section_enumerator(lib->settings,
												SETTINGS ".peers", lib->ns);
	while (!found && enumerator->enumerate(enumerator, &section))
	{
		id = lib->settings->get_str(lib->settings, SETTINGS ".peers.%s.id",
									NULL, lib->ns, section);
		addrs = lib->settings->get_str(lib->settings,
							SETTINGS ".peers.%s.addrs", NULL, lib->ns, section);
		if (authenticated)
		{
			/* a section naming an identity binds its pool to it */
			found = id ? other_id && id_matches(other_id, id)
					   : addrs && other_host && addr_listed(other_host, addrs);
		}
		else
		{
			found = addrs && other_host && addr_listed(other_host, addrs);
		}
		if (found)
		{
			if (!set_pool(pool, len, lib->settings->get_str(lib->settings,
							SETTINGS ".peers.%s.pool", section, lib->ns,
							section)))
			{
				DBG1(DBG_CFG, "qkd: invalid pool name in peers.%s", section);
				pool[0] = '\0';
			}
			policy = get_policy(lib->settings->get_str(lib->settings,
							SETTINGS ".peers.%s.policy", NULL, lib->ns,
							section), policy);
		}
	}
	enumerator->destroy(enumerator);

	if (!found && authenticated && other_id &&
		lib->settings->get_bool(lib->settings, SETTINGS ".pool_by_identity",
								TRUE, lib->ns))
	{
		/* %Y is strongSwan's printf hook, unknown to the compiler */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
		snprintf(name, sizeof(name), "%Y", other_id);
#pragma GCC diagnostic pop
		set_pool(pool, len, name);
	}
	return policy;
}
