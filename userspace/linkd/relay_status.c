// SPDX-License-Identifier: GPL-2.0
/* The relay's part of the status file (relay_status.h). */
#include <inttypes.h>
#include "relay_status.h"
#include "statefile.h"

void relay_status_link(FILE *f, const char *node,
		       const struct relay_link_status *s)
{
	fputs(",\"relay\":{\"node\":", f);
	statefile_json_str(f, node);
	fprintf(f, ",\"share\":%u,\"reserve\":%u,\"bucket\":%u,\"taken_out\":%" PRIu64 ",\"taken_in\":%" PRIu64 "}",
		s->share, s->reserve, s->bucket, s->taken_out, s->taken_in);
}

/* ,"key":T (engine time @t as s since the epoch), or null for never. */
static void wall_time(FILE *f, const char *key, bool set, double t,
		      double mono_now, int64_t wall_now)
{
	if (!set)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%" PRId64, key,
			wall_now - (int64_t)(mono_now - t + 0.5));
}

static void pool(FILE *f, const struct relay_node *rn,
		 const struct relay_e2e *e, double mono_now, int64_t wall_now)
{
	const struct route_topo *t = &rn->topo;
	const struct relay_origin *o = &e->o;
	unsigned int flight = 0;

	for (int i = 0; i < RELAY_XFER_WINDOW; i++)
		if (o->open[i].transfer)
			flight += o->open[i].n;
	fputs("{\"name\":", f);
	statefile_json_str(f, e->cfg->name);
	fputs(",\"peer\":", f);
	statefile_json_str(f, e->cfg->peer);
	/* This node fills the outbound side; the peer's transfers the inbound. */
	fputs(",\"role_out\":\"origin\",\"role_in\":\"far-end\",\"path\":", f);
	if (e->have_path) {
		const struct route_link *b = &t->links[e->path.bottleneck];
		char link[2 * ROUTE_NAME_MAX + 2];

		snprintf(link, sizeof(link), "%s-%s", t->nodes[b->a],
			 t->nodes[b->b]);
		statefile_json_str(f, e->path_str);
		fputs(",\"bottleneck\":", f);
		statefile_json_str(f, link);
		fprintf(f, ",\"bottleneck_rate\":%" PRIu64, b->rate);
	} else {
		fputs("null,\"bottleneck\":null,\"bottleneck_rate\":null", f);
	}
	fputs(",\"path_in\":", f);
	if (e->in_path[0])
		statefile_json_str(f, e->in_path);
	else
		fputs("null", f);
	fprintf(f, ",\"path_changes\":%" PRIu64, e->path_changes);
	wall_time(f, "path_changed", e->have_path || e->path_changes,
		  e->path_since, mono_now, wall_now);
	/* The hold after refusals (relay_node.h), whole seconds left. */
	fprintf(f, ",\"filling\":%s,\"in_flight\":%u,\"hold\":%u"
		",\"committed\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"expired\":%" PRIu64 ",\"aborted\":%" PRIu64
		",\"keys_out\":%" PRIu64 ",\"keys_in\":%" PRIu64 ",\"last_error\":",
		e->filling ? "true" : "false", flight,
		e->busy_until > mono_now ?
		(unsigned int)(e->busy_until - mono_now + 0.999) : 0u,
		o->committed, o->dropped, o->expired, o->aborted, e->keys_out,
		e->keys_in);
	statefile_json_str(f, e->last_error);
	wall_time(f, "last_error_time", e->last_error[0], e->error_time,
		  mono_now, wall_now);
	fputc('}', f);
}

void relay_status_pools(FILE *f, const struct relay_node *rn, double mono_now,
			int64_t wall_now)
{
	fputs(",\"relays\":[", f);
	for (unsigned int i = 0; i < rn->cfg->npools; i++) {
		if (i)
			fputc(',', f);
		pool(f, rn, &rn->e2e[i], mono_now, wall_now);
	}
	fputc(']', f);
}
