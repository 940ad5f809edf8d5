// SPDX-License-Identifier: GPL-2.0
/*
 * Health for operators: the status file (JSON, rewritten atomically every
 * second) and a rate line per pool in the log every minute.  Counts,
 * levels and states only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "linkd.h"
#include "log.h"

static const char *mstate_name(enum master_state s)
{
	switch (s) {
	case M_IDLE:
		return "idle";
	case M_WAIT_ACK:
		return "offer-sent";
	case M_WAIT_ABORTED:
		return "aborting";
	}
	return "?";
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void status_write(struct linkd *d)
{
	char tmp[CFG_PATH_LEN + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg->status_file);
	f = fopen(tmp, "we");
	if (!f) {
		static bool warned;

		if (!warned)
			log_warn("cannot write the status file %s: %s",
				 d->cfg->status_file, strerror(errno));
		warned = true;
		return;
	}
	fprintf(f, "{\"time\":%lld,\"pools\":[", (long long)time(NULL));
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];
		struct qkd_pool_info info;
		bool have = !qkd_pool_get(d->qkd, p->id, NULL, &info);

		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_str(f, p->cfg.name);
		fprintf(f, ",\"source\":\"%s\",\"source_ok\":%s,\"peer_out_connected\":%s,\"peer_in_connected\":%s,\"master_state\":\"%s\"",
			p->cfg.source == SOURCE_ETSI014 ? "etsi014" : "stream",
			p->kme_ok ? "true" : "false",
			p->out && p->out->state == CONN_OPEN ? "true" : "false",
			p->in_connected ? "true" : "false",
			mstate_name(p->mstate));
		if (have)
			fprintf(f, ",\"out_level\":%u,\"in_level\":%u,\"out_added\":%" PRIu64 ",\"in_added\":%" PRIu64,
				info.dir[0].level, info.dir[1].level,
				info.dir[0].added, info.dir[1].added);
		fprintf(f, ",\"offers\":%" PRIu64 ",\"committed\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"aborted\":%" PRIu64 ",\"received\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"kme_errors\":%" PRIu64 ",\"peer_errors\":%" PRIu64 ",\"journal_open\":%s,\"next_seq\":%" PRIu64 ",\"last_error\":",
			p->st.offers, p->st.committed, p->st.refused,
			p->st.aborted, p->st.received, p->st.removed,
			p->st.kme_errors, p->st.peer_errors,
			p->j.open ? "true" : "false", p->j.next_seq);
		json_str(f, p->last_error);
		fputc('}', f);
	}
	fputs("]}\n", f);
	if (fclose(f) == 0)
		rename(tmp, d->cfg->status_file);
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
			 p->kme_ok ? "reachable" : "UNREACHABLE",
			 p->out && p->out->state == CONN_OPEN ? "connected" : "down",
			 p->in_connected ? "connected" : "down",
			 p->st.kme_errors, p->st.peer_errors);
		p->st_last = p->st;
	}
}
