// SPDX-License-Identifier: GPL-2.0
/*
 * Health for operators: the status file (JSON, rewritten atomically every
 * STATUS_INTERVAL seconds; qkdctl shows it next to the pools: see
 * Documentation/qkd-linkd.rst, "Health") and a rate line per pool in the
 * log every minute.  Counts, levels, states, times and error texts only:
 * never key material.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "linkd.h"
#include "log.h"
#include "relay_status.h"
#include "statefile.h"

static const char *mstate_name(enum master_state s)
{
	switch (s) {
	case M_IDLE:
		return "idle";
	case M_WAIT_ACK:
		return "offer-sent";
	case M_WAIT_ABORTED:
		return "aborting";
	case M_WAIT_RESET:
		return "resetting";
	}
	return "?";
}

/*
 * The network namespace's inode: pool names are per namespace, so qkdctl
 * takes a status only in the namespace of the daemon that wrote it.
 */
static unsigned long long netns_inode(void)
{
	static unsigned long long ino;
	struct stat st;

	if (!ino && !stat("/proc/self/ns/net", &st))
		ino = st.st_ino;
	return ino;
}

/*
 * When the pool last gained keys (out: keys committed, in: keys received)
 * and last failed, from its counters since the last write: to within
 * STATUS_INTERVAL, without a hook in the master or the slave.
 */
static void note_changes(struct pool *p, time_t now)
{
	const struct pool_stats *a = &p->st_status, *b = &p->st;

	if (b->committed != a->committed)
		p->last_refill[0] = now;
	if (b->received != a->received)
		p->last_refill[1] = now;
	if (b->kme_errors != a->kme_errors || b->peer_errors != a->peer_errors)
		p->last_error_time = now;
	p->st_status = p->st;
}

/* ,"key":T in seconds since the epoch, or null for never. */
static void json_time(FILE *f, const char *key, time_t t)
{
	if (t)
		fprintf(f, ",\"%s\":%lld", key, (long long)t);
	else
		fprintf(f, ",\"%s\":null", key);
}

void status_write(struct linkd *d)
{
	static bool warned;
	char err[CFG_PATH_LEN + 160], *buf = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	struct relay_link_status rs;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return;		/* no memory: the next second's write */
	fprintf(f, "{\"time\":%lld,\"interval\":%d,\"pid\":%ld,\"netns\":%llu,\"pools\":[",
		(long long)now, STATUS_INTERVAL, (long)getpid(), netns_inode());
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];
		struct qkd_pool_info info;
		bool have = !qkd_pool_get(d->qkd, p->id, NULL, &info);

		note_changes(p, now);
		fprintf(f, "%s{\"name\":", i ? "," : "");
		statefile_json_str(f, p->cfg.name);
		fprintf(f, ",\"id\":%" PRIu32, p->id);
		json_time(f, "last_refill_out", p->last_refill[0]);
		json_time(f, "last_refill_in", p->last_refill[1]);
		json_time(f, "last_error_time", p->last_error_time);
		fprintf(f, ",\"source\":\"%s\",\"source_ok\":%s,\"peer_out_connected\":%s,\"peer_in_connected\":%s,\"master_state\":\"%s\"",
			p->cfg.source == SOURCE_ETSI014 ? "etsi014" : "stream",
			p->master.health.kme_ok ? "true" : "false",
			p->master.out && p->master.out->state == CONN_OPEN ? "true" : "false",
			p->slave.connected ? "true" : "false",
			mstate_name(p->master.state));
		if (have)
			fprintf(f, ",\"out_level\":%u,\"in_level\":%u,\"out_added\":%" PRIu64 ",\"in_added\":%" PRIu64,
				info.dir[0].level, info.dir[1].level,
				info.dir[0].added, info.dir[1].added);
		fprintf(f, ",\"offers\":%" PRIu64 ",\"committed\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"aborted\":%" PRIu64 ",\"received\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"kme_errors\":%" PRIu64 ",\"peer_errors\":%" PRIu64 ",\"journal_open\":%s,\"next_seq\":%" PRIu64 ",\"last_error\":",
			p->st.offers, p->st.committed, p->st.refused,
			p->st.aborted, p->st.received, p->st.removed,
			p->st.kme_errors, p->st.peer_errors,
			p->master.j.nopen ? "true" : "false", p->master.j.next_seq);
		statefile_json_str(f, p->master.health.last_error);
		/* The slave's dec_keys, apart: null until its first call. */
		fprintf(f, ",\"source_in_ok\":%s,\"last_error_in\":",
			!p->slave.health.known ? "null" :
			p->slave.health.kme_ok ? "true" : "false");
		statefile_json_str(f, p->slave.health.last_error);
		if (d->relay_link_status &&
		    d->relay_link_status(d, p, &rs))
			relay_status_link(f, p->cfg.relay_node, &rs);
		fputc('}', f);
	}
	fputc(']', f);
	if (d->relay_status)
		d->relay_status(d, f);
	fputs("}\n", f);
	/*
	 * Readable by all, as qkdctl show is (the unit's UMask is 0077);
	 * not fsynced: it is written again every second.
	 */
	if (!fclose(f) &&
	    statefile_write(d->cfg->status_file, buf, len, 0644, false, err,
			    sizeof(err)) && !warned) {
		log_warn("the status file: %s", err);
		warned = true;
	}
	free(buf);
}

void status_log_rates(struct linkd *d, double interval)
{
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];
		uint64_t out = p->st.committed - p->st_last.committed;
		uint64_t in = p->st.received - p->st_last.received;
		struct qkd_pool_info info;

		if (qkd_pool_get(d->qkd, p->id, NULL, &info))
			continue;
		log_info("pool %s: out %u keys (+%.1f/s), in %u keys (+%.1f/s), source %s, peer out %s, peer in %s, errors kme %" PRIu64 " peer %" PRIu64,
			 p->cfg.name, info.dir[0].level, out / interval,
			 info.dir[1].level, in / interval,
			 p->master.health.kme_ok ? "reachable" : "UNREACHABLE",
			 p->master.out && p->master.out->state == CONN_OPEN ? "connected" : "down",
			 p->slave.connected ? "connected" : "down",
			 p->st.kme_errors, p->st.peer_errors);
		p->st_last = p->st;
	}
}

void health_set_error(struct pool_health *h, const char *err)
{
	size_t n = strnlen(err, sizeof(h->last_error) - 1);

	memcpy(h->last_error, err, n);
	h->last_error[n] = '\0';
}
