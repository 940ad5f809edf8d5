// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unsafe mixes of the qkd method in connection configs: see
 * qkd_config_check.h.
 */
#include "qkd_config_check.h"
#include "qkd_timer.h"
#include "qkd_ke.h"

#include <unistd.h>

#include <daemon.h>
#include <collections/hashtable.h>
#include <threading/mutex.h>

/**
 * How often the loaded configs are scanned, ms.
 */
#define QKD_CONFIG_CHECK_MS	5000

typedef struct private_qkd_config_check_t private_qkd_config_check_t;

/**
 * Private data.
 */
struct private_qkd_config_check_t {

	/**
	 * Public interface.
	 */
	qkd_config_check_t public;

	/**
	 * "peer/child" names warned about, still unsafe: char* -> char*.
	 */
	hashtable_t *warned;

	/**
	 * Serializes warned.
	 */
	mutex_t *mutex;

	/**
	 * The scan's timerfd on lib->watcher, -1 if none.
	 */
	int timer;
};

/*
 * The configs' proposals, not logged (strongSwan 6.1 logs them on request).
 */
#ifdef QKD_SWAN_PROPOSALS_LOG
#define child_proposals(c)	(c)->get_proposals((c), FALSE, FALSE)
#define ike_proposals(c)	(c)->get_proposals((c), FALSE)
#else
#define child_proposals(c)	(c)->get_proposals((c), FALSE)
#define ike_proposals(c)	(c)->get_proposals((c))
#endif

/**
 * Whether @proposal demands one of the plugin's methods (qkd or a combined
 * one): an additional key exchange that offers only those, no alternative
 * (not even none).
 */
static bool demands(proposal_t *proposal)
{
	enumerator_t *enumerator;
	transform_type_t type;
	uint16_t alg, size;
	bool has, other;

	for (type = ADDITIONAL_KEY_EXCHANGE_1; type <= ADDITIONAL_KEY_EXCHANGE_7;
		 type++)
	{
		has = other = FALSE;
		enumerator = proposal->create_enumerator(proposal, type);
		while (enumerator->enumerate(enumerator, &alg, &size))
		{
			if (qkd_ke_is_ours(alg))
			{
				has = TRUE;
			}
			else
			{
				other = TRUE;
			}
		}
		enumerator->destroy(enumerator);
		if (has && !other)
		{
			return TRUE;
		}
	}
	return FALSE;
}

/**
 * Whether every proposal in @list demands one of the methods; FALSE for an
 * empty list.  Destroys the list.
 */
static bool all_demand(linked_list_t *list)
{
	enumerator_t *enumerator;
	proposal_t *proposal;
	bool all = list->get_count(list) > 0;

	enumerator = list->create_enumerator(list);
	while (all && enumerator->enumerate(enumerator, &proposal))
	{
		all = demands(proposal);
	}
	enumerator->destroy(enumerator);
	list->destroy_offset(list, offsetof(proposal_t, destroy));
	return all;
}

/**
 * Check one CHILD_SA config of a peer config; TRUE if unsafe.
 */
static bool unsafe_child(private_qkd_config_check_t *this, peer_cfg_t *peer,
						 bool ike_demands, child_cfg_t *child,
						 hashtable_t *seen)
{
	char name[256], *key;

	if (ike_demands ||
		!all_demand(child_proposals(child)))
	{
		return FALSE;
	}
	snprintf(name, sizeof(name), "%s/%s", peer->get_name(peer),
			 child->get_name(child));
	key = strdup(name);
	free(seen->put(seen, key, key));
	this->mutex->lock(this->mutex);
	if (!this->warned->get(this->warned, name))
	{
		key = strdup(name);
		this->warned->put(this->warned, key, key);
		DBG1(DBG_CFG, "qkd: WARNING: every ESP proposal of CHILD_SA '%s' of "
			 "connection '%s' demands the qkd key exchange, but its IKE "
			 "proposals do not: a peer without qkd gets the IKE_SA and the "
			 "first CHILD_SA and then fails at the first CHILD_SA re-key "
			 "(NO_PROPOSAL_CHOSEN). Make it optional (e.g. ke2_qkd-ke2_none) "
			 "in esp_proposals, or demand it in the IKE proposals too",
			 child->get_name(child), peer->get_name(peer));
	}
	this->mutex->unlock(this->mutex);
	return TRUE;
}

METHOD(qkd_config_check_t, run, int,
	private_qkd_config_check_t *this)
{
	enumerator_t *peers, *children, *enumerator;
	hashtable_t *seen;
	peer_cfg_t *peer;
	child_cfg_t *child;
	bool ike_demands;
	char *key, *value;
	int unsafe = 0;

	seen = hashtable_create(hashtable_hash_str, hashtable_equals_str, 8);
	peers = charon->backends->create_peer_cfg_enumerator(charon->backends,
									NULL, NULL, NULL, NULL, IKE_ANY);
	while (peers->enumerate(peers, &peer))
	{
		ike_demands = all_demand(ike_proposals(peer->get_ike_cfg(peer)));
		children = peer->create_child_cfg_enumerator(peer);
		while (children->enumerate(children, &child))
		{
			unsafe += unsafe_child(this, peer, ike_demands, child, seen);
		}
		children->destroy(children);
	}
	peers->destroy(peers);

	/* forget configs fixed or unloaded: a later bad one warns again */
	this->mutex->lock(this->mutex);
	enumerator = this->warned->create_enumerator(this->warned);
	while (enumerator->enumerate(enumerator, &key, &value))
	{
		if (!seen->get(seen, key))
		{
			this->warned->remove_at(this->warned, enumerator);
			free(key);
		}
	}
	enumerator->destroy(enumerator);
	this->mutex->unlock(this->mutex);
	seen->destroy_function(seen, (void*)free);
	return unsafe;
}

/**
 * Watcher callback of the timerfd.
 */
static bool on_timer(private_qkd_config_check_t *this, int fd,
					 watcher_event_t event)
{
	if (!qkd_timer_ack(fd))
	{
		return TRUE;
	}
	run(this);
	return TRUE;
}

METHOD(qkd_config_check_t, destroy, void,
	private_qkd_config_check_t *this)
{
	if (this->timer >= 0)
	{
		lib->watcher->remove(lib->watcher, this->timer);
		close(this->timer);
	}
	this->warned->destroy_function(this->warned, (void*)free);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_config_check_t *qkd_config_check_create(void)
{
	private_qkd_config_check_t *this;

	INIT(this,
		.public = {
			.run = _run,
			.destroy = _destroy,
		},
		.warned = hashtable_create(hashtable_hash_str, hashtable_equals_str,
								   8),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		/* the first scan soon after start: configs load right after */
		.timer = qkd_timer_create(1000, QKD_CONFIG_CHECK_MS),
	);
	if (this->timer >= 0)
	{
		lib->watcher->add(lib->watcher, this->timer, WATCHER_READ,
						  (watcher_cb_t)on_timer, this);
	}
	else
	{
		DBG1(DBG_CFG, "qkd: no config check timer: unsafe mixes of the qkd "
			 "method in connection configs are not warned about");
	}
	return &this->public;
}
