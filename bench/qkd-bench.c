// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-bench: how fast libqkd and the qkdpool module add and take keys, and
 * how much kernel memory a resident key costs.  Run as root with the module
 * loaded and no pools in the namespace (bench/run.sh does this in the VM).
 *
 *   add      qkd_key_add() of batches of 1, 64 and 256 keys into one pool:
 *            keys/s and Mbit/s of key material, time spent in the calls
 *   take     per-call latency (clock_gettime(CLOCK_MONOTONIC) around each
 *            call): qkd_key_take_next() (outbound), qkd_key_take_id() by ID
 *            and by ID with the confirmation tag (inbound); p50, p99, max
 *   floor    the same for an empty generic netlink round trip to the
 *            module (qkd_pool_get() of a pool that does not exist: request,
 *            lookup, error reply), and the slowest take's p99 over it: what
 *            a take costs beyond the round trip any request pays
 *   memory   10,000 pools of capacity 50 per direction, both directions
 *            full: 1,000,000 resident keys of 32 bytes.  Kernel memory is
 *            the growth of SUnreclaim + VmallocUsed in /proc/meminfo (slab
 *            and vmalloc: where kvcalloc() puts a pool's storage), cross-
 *            checked against the sum of /proc/slabinfo; per key = growth /
 *            keys, overhead = per key - 32
 *
 * --take-gap-us G pauses G us between the timed calls of the take and floor
 * figures (outside the timing) and --takes-only leaves out add and memory:
 * a light probe of take latency beside another load (bench/scale_bench.py
 * runs it beside 18 peers' re-keys), where back-to-back calls would take a
 * whole CPU from that load.
 *
 * Prints a table with each figure's target and ratio; a missed target is
 * printed as MISSED.  Exit status: 0 when every figure was measured, 1 when
 * something could not be (a failed call, an unreadable /proc file), 2 for
 * bad usage.  A missed target is not a failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "qkd.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define KEY_SIZE		32
#define ADD_POOL_CAP		65536
#define TAKE_KEYS		10000
/* Toshiba's published record, 13.7 Mbit/s; the target is ten times it. */
#define ADD_TARGET_MBPS		137.0
#define TAKE_P99_TARGET_US	1000.0
#define OVERHEAD_TARGET_B	64.0

struct opts {
	double add_seconds;		/* per batch size */
	unsigned int takes;		/* per take kind */
	unsigned int pools;		/* memory test */
	unsigned int per_dir;		/* keys per direction per pool */
	unsigned int gap_us;		/* pause between timed calls */
	int skip_mem;
	int mem_only;
	int takes_only;
};

/* The pause between two timed calls (--take-gap-us), outside the timing. */
static void take_gap(const struct opts *o)
{
	struct timespec ts = { .tv_sec = o->gap_us / 1000000,
			       .tv_nsec = (long)(o->gap_us % 1000000) * 1000 };

	if (o->gap_us)
		nanosleep(&ts, NULL);
}

static struct qkd *h;
static uint64_t next_id_ctr;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("qkd-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void die_qkd(const char *what, int err)
{
	die("%s: %s%s%s", what, qkd_strerror(err),
	    qkd_last_error(h)[0] ? ": " : "", qkd_last_error(h));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Unique key IDs ("BNCH" and a counter) and random material. */
static void make_keys(struct qkd_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t c = next_id_ctr++;

		memset(k[i].id, 0, sizeof(k[i].id));
		memcpy(k[i].id, "BNCH", 4);
		for (int b = 0; b < 8; b++)
			k[i].id[15 - b] = (uint8_t)(c >> (8 * b));
		if (getrandom(k[i].material, KEY_SIZE, 0) != KEY_SIZE)
			die("getrandom: %s", strerror(errno));
		k[i].len = KEY_SIZE;
	}
}

static uint32_t pool_new(const char *name, uint32_t capacity)
{
	struct qkd_pool_config cfg = { .fields = QKD_POOL_CAPACITY |
						 QKD_POOL_KEY_SIZE,
				       .capacity = capacity,
				       .key_size = KEY_SIZE };
	uint32_t id;
	int ret;

	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	ret = qkd_pool_create(h, &cfg, &id);
	if (ret)
		die_qkd("pool create", ret);
	return id;
}

static void pool_del(uint32_t id)
{
	int ret = qkd_pool_del(h, id, NULL);

	if (ret)
		die_qkd("pool del", ret);
}

/* Add n keys in batches of at most QKD_BATCH_MAX. */
static void add_all(uint32_t pool, int dir, struct qkd_key *k, size_t n)
{
	for (size_t i = 0; i < n; i += QKD_BATCH_MAX) {
		size_t b = n - i < QKD_BATCH_MAX ? n - i : QKD_BATCH_MAX;
		int ret = qkd_key_add(h, pool, dir, k + i, b);

		if (ret)
			die_qkd("key add", ret);
	}
}

/* ---- the table -------------------------------------------------------- */

/* Rows are kept and printed together at the end, after the diagnostics. */
#define MAX_ROWS	10
static char rows[MAX_ROWS][160];
static unsigned int nrows;

/* @ratio is oriented so that >= 1 means the target is met; < 0: no target. */
static void row(const char *what, const char *value, const char *target,
		double ratio, int met)
{
	if (nrows == MAX_ROWS)
		die("too many rows");
	if (ratio < 0) {
		snprintf(rows[nrows++], sizeof(rows[0]), "%-32s %-28s %-14s %8s  -",
			 what, value, target, "-");
		return;
	}
	snprintf(rows[nrows++], sizeof(rows[0]), "%-32s %-28s %-14s %7.2fx  %s",
		 what, value, target, ratio, met ? "met" : "MISSED");
}

static void print_table(void)
{
	printf("%-32s %-28s %-14s %8s  %s\n", "measure", "value", "target",
	       "ratio", "verdict");
	for (unsigned int i = 0; i < nrows; i++)
		printf("%s\n", rows[i]);
}

/* ---- add throughput --------------------------------------------------- */

static void bench_add(const struct opts *o, unsigned int batch)
{
	size_t nkeys = ADD_POOL_CAP;
	struct qkd_key *k = calloc(nkeys, sizeof(*k));
	uint64_t in_calls = 0, keys = 0, calls = 0;
	uint64_t deadline;
	uint32_t pool;
	char name[32], what[64], val[64];
	double kps, mbps;
	size_t pos = 0;

	if (!k)
		die("out of memory");
	snprintf(name, sizeof(name), "bench-add-%u", batch);
	pool = pool_new(name, ADD_POOL_CAP);
	make_keys(k, nkeys);
	deadline = now_ns() + (uint64_t)(o->add_seconds * 1e9);
	while (now_ns() < deadline || !calls) {
		uint64_t t0, t1;
		int ret;

		if (pos + batch > nkeys) {
			/* Full: empty the pool (not timed), reuse the IDs. */
			ret = qkd_key_flush(h, pool, QKD_DIRECTION_OUT, NULL);
			if (ret)
				die_qkd("key flush", ret);
			pos = 0;
		}
		t0 = now_ns();
		ret = qkd_key_add(h, pool, QKD_DIRECTION_OUT, k + pos, batch);
		t1 = now_ns();
		if (ret)
			die_qkd("key add", ret);
		in_calls += t1 - t0;
		keys += batch;
		calls++;
		pos += batch;
	}
	qkd_key_wipe(k, nkeys);
	free(k);
	pool_del(pool);

	kps = (double)keys / ((double)in_calls / 1e9);
	mbps = kps * KEY_SIZE * 8 / 1e6;
	snprintf(what, sizeof(what), "add, batches of %u", batch);
	snprintf(val, sizeof(val), "%.0f keys/s %.1f Mbit/s", kps, mbps);
	row(what, val, ">= 137 Mbit/s", mbps / ADD_TARGET_MBPS,
	    mbps >= ADD_TARGET_MBPS);
	fprintf(stderr, "# add batch %u: %" PRIu64 " calls, %" PRIu64
		" keys, %.3f s in calls, %.1f us per call\n", batch, calls,
		keys, (double)in_calls / 1e9,
		(double)in_calls / 1e3 / (double)calls);
}

/* ---- take latency ----------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	if (i >= n)
		i = n - 1;
	return (double)sorted[i] / 1e3;
}

/* The slowest p99 of the take kinds, for the floor's ratio. */
static double take_p99_max;

static void report_latency(const char *what, uint64_t *lat, size_t n)
{
	char val[64];
	double p50, p99;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	p50 = pct_us(lat, n, 50);
	p99 = pct_us(lat, n, 99);
	if (p99 > take_p99_max)
		take_p99_max = p99;
	snprintf(val, sizeof(val), "p50 %.0f us p99 %.0f us", p50, p99);
	row(what, val, "p99 < 1 ms", TAKE_P99_TARGET_US / p99,
	    p99 < TAKE_P99_TARGET_US);
	fprintf(stderr, "# %s: %zu takes, p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
		what, n, p50, pct_us(lat, n, 90), p99,
		(double)lat[n - 1] / 1e3);
}

enum take_kind { TAKE_OUT, TAKE_IN_ID, TAKE_IN_TAG };

static void bench_take(const struct opts *o, enum take_kind kind)
{
	static const char *const names[] = {
		[TAKE_OUT] = "take out (next)",
		[TAKE_IN_ID] = "take in by ID",
		[TAKE_IN_TAG] = "take in by ID + tag",
	};
	size_t n = o->takes;
	struct qkd_key *k = calloc(n, sizeof(*k));
	uint8_t (*tags)[QKD_TAG_LEN] = calloc(n, QKD_TAG_LEN);
	uint64_t *lat = calloc(n, sizeof(*lat));
	size_t *order = calloc(n, sizeof(*order));
	int dir = kind == TAKE_OUT ? QKD_DIRECTION_OUT : QKD_DIRECTION_IN;
	struct qkd_key got;
	uint32_t pool;

	if (!k || !tags || !lat || !order)
		die("out of memory");
	pool = pool_new("bench-take", (uint32_t)n);
	make_keys(k, n);
	add_all(pool, dir, k, n);
	/* Inbound keys are taken in a random order, as peers' IDs come. */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		uint32_t r;
		size_t j, t;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			die("getrandom: %s", strerror(errno));
		j = r % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	if (kind == TAKE_IN_TAG)
		for (size_t i = 0; i < n; i++)
			if (qkd_tag_compute(k[i].id, k[i].material, KEY_SIZE,
					    tags[i]))
				die("tag compute failed");

	for (size_t i = 0; i < n; i++) {
		size_t x = order[i];
		uint64_t t0, t1;
		int ret;

		take_gap(o);
		t0 = now_ns();
		if (kind == TAKE_OUT)
			ret = qkd_key_take_next(h, pool, &got);
		else
			ret = qkd_key_take_id(h, pool, k[x].id,
					      kind == TAKE_IN_TAG ? tags[x] :
					      NULL, &got);
		t1 = now_ns();
		if (ret)
			die_qkd("key take", ret);
		/* Outbound is FIFO: key i comes out i-th. */
		if (kind == TAKE_OUT)
			x = i;
		if (memcmp(got.id, k[x].id, QKD_KEY_ID_LEN) ||
		    got.len != KEY_SIZE ||
		    memcmp(got.material, k[x].material, KEY_SIZE))
			die("%s: take %zu returned the wrong key", names[kind],
			    i);
		lat[i] = t1 - t0;
	}
	qkd_key_wipe(&got, 1);
	qkd_key_wipe(k, n);
	explicit_bzero(tags, n * QKD_TAG_LEN);
	pool_del(pool);
	report_latency(names[kind], lat, n);
	free(k);
	free(tags);
	free(lat);
	free(order);
}

/* ---- the floor: an empty round trip ----------------------------------- */

#define FLOOR_RATIO_TARGET	3.0	/* take p99 / empty p99, at most */

/*
 * A pool-get of a pool that does not exist: the request is built, sent,
 * parsed and answered with an error by the module, as a take is, without
 * the pool lock, the key copy or the tag.  What a take costs above it is
 * the pools'; the rest is generic netlink's.
 */
static void bench_floor(const struct opts *o)
{
	size_t n = o->takes;
	uint64_t *lat = calloc(n, sizeof(*lat));
	struct qkd_pool_info info;
	char val[64];
	double p50, p99, ratio;

	if (!lat)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t t0, t1;
		int ret;

		take_gap(o);
		t0 = now_ns();
		ret = qkd_pool_get(h, 0, "bench-no-such-pool", &info);
		t1 = now_ns();
		if (ret != -ENOENT)
			die("pool-get of a missing pool returned %d, not -ENOENT",
			    ret);
		lat[i] = t1 - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	p50 = pct_us(lat, n, 50);
	p99 = pct_us(lat, n, 99);
	fprintf(stderr, "# empty round trip (pool-get, no such pool): %zu calls, p50 %.1f us, "
		"p90 %.1f us, p99 %.1f us, max %.1f us\n", n, p50,
		pct_us(lat, n, 90), p99, (double)lat[n - 1] / 1e3);
	snprintf(val, sizeof(val), "p50 %.0f us p99 %.0f us", p50, p99);
	row("empty round trip (floor)", val, "-", -1.0, 1);
	ratio = take_p99_max / p99;
	snprintf(val, sizeof(val), "%.2fx (%.0f / %.0f us)", ratio,
		 take_p99_max, p99);
	row("slowest take p99 / floor p99", val, "<= 3x",
	    FLOOR_RATIO_TARGET / ratio, ratio <= FLOOR_RATIO_TARGET);
	free(lat);
}

/* ---- memory per resident key ------------------------------------------ */

#define MAX_CACHES	512

struct cache {
	char name[64];
	long long objs, objsize, pages;	/* num_objs, objsize, slab pages */
};

struct mem {
	long long sunreclaim, sreclaimable, vmalloc, percpu;	/* bytes */
	long long slabinfo;	/* sum of num_objs * objsize, bytes */
	long long slabinfo_pages;	/* sum of num_slabs * pagesperslab pages */
	unsigned int ncaches;
	struct cache caches[MAX_CACHES];
};

static long long meminfo_field(const char *text, const char *field)
{
	const char *p = strstr(text, field);
	long long kb;

	if (!p || sscanf(p + strlen(field), ": %lld kB", &kb) != 1)
		die("/proc/meminfo has no %s", field);
	return kb * 1024;
}

static char *slurp(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "re");

	if (!f || !buf)
		die("cannot read %s: %s", path, strerror(errno));
	for (;;) {
		size_t r;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		if (!r)
			break;
		len += r;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void mem_read(struct mem *m)
{
	char *mi = slurp("/proc/meminfo"), *si, *line, *save = NULL;

	m->sunreclaim = meminfo_field(mi, "\nSUnreclaim");
	m->sreclaimable = meminfo_field(mi, "\nSReclaimable");
	m->vmalloc = meminfo_field(mi, "\nVmallocUsed");
	m->percpu = meminfo_field(mi, "\nPercpu");
	free(mi);

	/*
	 * slabinfo 2.1: name active_objs num_objs objsize objperslab
	 * pagesperslab : tunables ... : slabdata active_slabs num_slabs ...
	 */
	m->slabinfo = 0;
	m->slabinfo_pages = 0;
	m->ncaches = 0;
	si = slurp("/proc/slabinfo");
	for (line = strtok_r(si, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		long long active, num, size, perslab, pages, aslabs, nslabs;
		char name[64];

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
			   name, &active, &num, &size, &perslab, &pages,
			   &aslabs, &nslabs) != 8)
			die("cannot parse /proc/slabinfo line '%s'", line);
		m->slabinfo += num * size;
		m->slabinfo_pages += nslabs * pages;
		if (m->ncaches < MAX_CACHES) {
			struct cache *c = &m->caches[m->ncaches++];

			snprintf(c->name, sizeof(c->name), "%s", name);
			c->objs = num;
			c->objsize = size;
			c->pages = nslabs * pages;
		}
	}
	free(si);
}

/* The slab caches that grew most between @a and @b, by pages. */
static void print_cache_growth(const struct mem *a, const struct mem *b,
			       double keys)
{
	long page = sysconf(_SC_PAGESIZE);
	int shown[MAX_CACHES] = { 0 };

	for (int n = 0; n < 8; n++) {
		long long best = 0;
		int bi = -1;

		for (unsigned int i = 0; i < b->ncaches; i++) {
			long long before = 0;

			if (shown[i])
				continue;
			for (unsigned int j = 0; j < a->ncaches; j++)
				if (!strcmp(a->caches[j].name, b->caches[i].name))
					before = a->caches[j].pages;
			if (b->caches[i].pages - before > best) {
				best = b->caches[i].pages - before;
				bi = (int)i;
			}
		}
		if (bi < 0 || best * page < 4096 * 16)
			break;
		shown[bi] = 1;
		fprintf(stderr, "# memory: slab cache %-24s %+9lld B (%.1f B/key), object size %lld\n",
			b->caches[bi].name, best * page,
			(double)(best * page) / keys, b->caches[bi].objsize);
	}
}

static void settle(void)
{
	/* Let RCU callbacks and deferred frees run before a reading. */
	sync();
	sleep(2);
}

static void bench_mem(const struct opts *o)
{
	size_t per_pool = 2 * (size_t)o->per_dir;
	struct qkd_key *k = calloc(per_pool, sizeof(*k));
	uint32_t *ids = calloc(o->pools, sizeof(*ids));
	static struct mem before, full, after;
	long long grown, slab_grown, pages_grown, freed;
	double keys = (double)o->pools * (double)per_pool, per_key;
	unsigned int step = o->pools >= 10 ? o->pools / 10 : 1;
	char val[64];
	long page = sysconf(_SC_PAGESIZE);

	if (!k || !ids)
		die("out of memory");
	settle();
	mem_read(&before);
	for (unsigned int p = 0; p < o->pools; p++) {
		char name[32];

		snprintf(name, sizeof(name), "peer-%05u", p);
		ids[p] = pool_new(name, o->per_dir);
		make_keys(k, per_pool);
		add_all(ids[p], QKD_DIRECTION_OUT, k, o->per_dir);
		add_all(ids[p], QKD_DIRECTION_IN, k + o->per_dir, o->per_dir);
	}
	qkd_key_wipe(k, per_pool);
	/* The pools hold what was added: both directions full (a sample). */
	for (unsigned int p = 0; p < o->pools; p += step) {
		struct qkd_pool_info info;
		int ret = qkd_pool_get(h, ids[p], NULL, &info);

		if (ret)
			die_qkd("pool get", ret);
		if (info.dir[QKD_DIRECTION_OUT].level != o->per_dir ||
		    info.dir[QKD_DIRECTION_IN].level != o->per_dir)
			die("pool %s holds %u + %u keys, not %u + %u", info.name,
			    info.dir[QKD_DIRECTION_OUT].level,
			    info.dir[QKD_DIRECTION_IN].level, o->per_dir,
			    o->per_dir);
	}
	settle();
	mem_read(&full);
	for (unsigned int p = 0; p < o->pools; p++)
		pool_del(ids[p]);
	settle();
	mem_read(&after);

	grown = (full.sunreclaim - before.sunreclaim) +
		(full.vmalloc - before.vmalloc);
	slab_grown = full.slabinfo - before.slabinfo;
	pages_grown = (full.slabinfo_pages - before.slabinfo_pages) * page;
	freed = (full.sunreclaim - after.sunreclaim) +
		(full.vmalloc - after.vmalloc);
	per_key = (double)grown / keys;
	snprintf(val, sizeof(val), "%.1f B/key (%.1f B over)", per_key,
		 per_key - KEY_SIZE);
	row("memory per resident 32-byte key", val, "<= 64 B over",
	    OVERHEAD_TARGET_B / (per_key - KEY_SIZE),
	    per_key - KEY_SIZE <= OVERHEAD_TARGET_B);
	fprintf(stderr,
		"# memory: %u pools x %u keys per direction x 2 = %.0f keys of %d bytes\n"
		"# memory: SUnreclaim %+lld B, VmallocUsed %+lld B, SReclaimable %+lld B, Percpu %+lld B\n"
		"# memory: slabinfo objects %+lld B (%.1f B/key), slab pages %+lld B (%.1f B/key)\n"
		"# memory: after deleting every pool, %lld B (%.1f%%) of the growth was freed\n",
		o->pools, o->per_dir, keys, KEY_SIZE,
		full.sunreclaim - before.sunreclaim, full.vmalloc - before.vmalloc,
		full.sreclaimable - before.sreclaimable,
		full.percpu - before.percpu, slab_grown,
		(double)slab_grown / keys, pages_grown,
		(double)pages_grown / keys, freed,
		grown ? 100.0 * (double)freed / (double)grown : 0.0);
	print_cache_growth(&before, &full, keys);
	free(k);
	free(ids);
}

static void usage(void)
{
	fputs("usage: qkd-bench [--add-seconds S] [--takes N] [--pools N] [--per-dir N]\n"
	      "                 [--no-mem | --mem-only | --takes-only] [--take-gap-us G]\n",
	      stderr);
	exit(2);
}

int main(int argc, char *argv[])
{
	struct opts o = { .add_seconds = 3, .takes = TAKE_KEYS, .pools = 10000,
			  .per_dir = 50 };
	static const unsigned int batches[] = { 1, 64, 256 };
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-mem")) {
			o.skip_mem = 1;
			continue;
		}
		if (!strcmp(a, "--mem-only")) {
			o.mem_only = 1;
			continue;
		}
		if (!strcmp(a, "--takes-only")) {
			o.takes_only = 1;
			o.skip_mem = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--add-seconds"))
			o.add_seconds = atof(v);
		else if (!strcmp(a, "--takes"))
			o.takes = (unsigned int)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--pools"))
			o.pools = (unsigned int)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--per-dir"))
			o.per_dir = (unsigned int)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--take-gap-us"))
			o.gap_us = (unsigned int)strtoul(v, NULL, 10);
		else
			usage();
	}
	if (o.add_seconds <= 0 || o.takes < 100 || !o.pools || !o.per_dir ||
	    o.per_dir > QKD_CAPACITY_MAX || (o.skip_mem && o.mem_only) ||
	    (o.takes_only && o.mem_only) || o.gap_us > 1000000)
		usage();

	ret = qkd_open(&h);
	if (ret)
		die("cannot open the qkd family: %s",
		    qkd_strerror(ret));
	for (size_t i = 0; !o.mem_only && !o.takes_only &&
	     i < ARRAY_SIZE(batches); i++)
		bench_add(&o, batches[i]);
	if (!o.mem_only) {
		bench_take(&o, TAKE_OUT);
		bench_take(&o, TAKE_IN_ID);
		bench_take(&o, TAKE_IN_TAG);
		bench_floor(&o);
	}
	if (!o.skip_mem)
		bench_mem(&o);
	qkd_close(h);
	print_table();
	return fflush(stdout) ? 1 : 0;
}
