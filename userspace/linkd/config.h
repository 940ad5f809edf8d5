/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration file (qkd-linkd.conf(5)): a [linkd] section for the
 * daemon and one [pool NAME] section per pool.  The parser refuses
 * anything it does not understand, naming the file, line and problem.
 */
#ifndef LINKD_CONFIG_H
#define LINKD_CONFIG_H

#include <stddef.h>
#include "relay_config.h"

#define CFG_DEFAULT_PATH	"/etc/qkd/linkd.conf"
#define CFG_MAX_POOLS		64
#define CFG_PATH_LEN		512
#define CFG_HOST_LEN		256
#define CFG_PORT_LEN		8
#define CFG_SAE_LEN		128
#define CFG_NAME_LEN		64	/* QKD_POOL_NAME_MAX_LEN */
#define CFG_ERR_LEN		512
#define CFG_MAX_FILE		(1 << 20)
#define CFG_MAX_CONNS		1024	/* max_connections at most */
/*
 * max_age's default (s): bounds how long an inbound key without a twin (a
 * failed exchange, a lost offer) holds room; Documentation/qkd-linkd.rst.
 */
#define MAX_AGE_DEFAULT		3600

enum source_type {
	SOURCE_ETSI014,
	SOURCE_STREAM,
};

/* How dec_keys is asked (Documentation/qkd-linkd.rst, "Foreign KMEs"). */
enum dec_method {
	DEC_AUTO,	/* POST; GET per key if POST is refused with 404/405/501 */
	DEC_POST,	/* POST {"key_IDs":[...]}: all keys of an offer at once */
	DEC_GET,	/* GET ?key_ID=ID: one request per key */
};

struct pool_cfg {
	char name[CFG_NAME_LEN + 1];
	int line;				/* of the [pool] header */
	enum source_type source;
	/* ETSI GS QKD 014 */
	char kme_url[CFG_PATH_LEN];		/* https://host[:port] */
	char cert[CFG_PATH_LEN];		/* SAE client certificate */
	char key[CFG_PATH_LEN];
	char ca[CFG_PATH_LEN];			/* pins the KME's CA */
	unsigned int kme_timeout;		/* seconds */
	enum dec_method dec_method;
	/* synchronized stream */
	char stream[CFG_PATH_LEN];
	int stream_role;			/* 0: "a", 1: "b" */
	/* both */
	char sae_id[CFG_SAE_LEN];
	char peer_sae_id[CFG_SAE_LEN];
	char peer_host[CFG_HOST_LEN];		/* the peer's qkd-linkd */
	char peer_port[CFG_PORT_LEN];
	unsigned int key_bits;
	unsigned int capacity;
	unsigned int low;
	unsigned int high;
	unsigned int batch;
	unsigned int max_age;
	unsigned int fast_retry;		/* s of fast KME probes after an outage */
	unsigned int offer_window;		/* offers in flight at most */
	/* trusted-node relay over this link (relay_config.h) */
	char relay_node[CFG_NAME_LEN + 1];	/* the node at the other end */
	unsigned int relay_share;		/* percent of the added keys */
	unsigned int relay_reserve;		/* keys kept for IPsec */
};

struct config {
	char listen_host[CFG_HOST_LEN];
	char listen_port[CFG_PORT_LEN];
	char server_cert[CFG_PATH_LEN];
	char server_key[CFG_PATH_LEN];
	char peer_ca[CFG_PATH_LEN];
	char state_dir[CFG_PATH_LEN];
	char status_file[CFG_PATH_LEN];
	/* the peer-channel listener's limits (before HELLO) */
	unsigned int max_conns;
	unsigned int max_conns_per_source;
	unsigned int handshake_timeout;		/* s: TLS and HELLO */
	unsigned int npools;
	struct pool_cfg pools[CFG_MAX_POOLS];
	struct relay_cfg relay;			/* [topology], [relay NAME] */
};

/*
 * Parse @len bytes of @text (the contents of file @name, for messages)
 * into @cfg.  Returns 0, or -1 with "NAME:LINE: problem" in @err.
 */
int config_parse(const char *name, const char *text, size_t len,
		 struct config *cfg, char *err, size_t errlen);

/* Read and parse file @path.  Returns 0, or -1 with the reason in @err. */
int config_load(const char *path, struct config *cfg, char *err,
		size_t errlen);

/* Split "host:port" or "[v6]:port".  Returns 0 or -1. */
int config_split_hostport(const char *s, char *host, size_t hostlen,
			  char *port, size_t portlen);

#endif
