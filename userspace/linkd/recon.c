// SPDX-License-Identifier: GPL-2.0
/*
 * Reconciliation decisions and the slave's record of the last reconciled
 * pair (recon.h).  The record, STATE_DIR/POOL.peer, text:
 *
 *	qkd-linkd reconciled 1
 *	master BOOT NETNS FAMILY POOL
 *	slave BOOT NETNS FAMILY POOL
 *
 * BOOT 32 hex digits, NETNS 16, FAMILY and POOL decimal.  Epochs only:
 * nothing secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "recon.h"
#include "statefile.h"

#define RECON_MAX	256

bool epoch_eq(const struct pool_epoch *a, const struct pool_epoch *b)
{
	return !memcmp(a->boot, b->boot, EPOCH_BOOT_LEN) &&
	       a->netns == b->netns && a->family == b->family &&
	       a->pool == b->pool;
}

enum recon_verdict recon_decide(const struct recon_pair *rec,
				const struct pool_epoch *master,
				const struct pool_epoch *slave)
{
	if (!rec)
		return RECON_FIRST;
	if (memcmp(rec->master.boot, master->boot, EPOCH_BOOT_LEN))
		return RECON_MASTER_BOOT;
	if (!epoch_eq(&rec->master, master))
		return RECON_MASTER_POOL;
	if (memcmp(rec->slave.boot, slave->boot, EPOCH_BOOT_LEN))
		return RECON_SLAVE_BOOT;
	if (!epoch_eq(&rec->slave, slave))
		return RECON_SLAVE_POOL;
	return RECON_KEEP;
}

const char *recon_reason(enum recon_verdict v)
{
	switch (v) {
	case RECON_KEEP:
		return "the same pools as last reconciled";
	case RECON_FIRST:
		return "no reconciliation on record here";
	case RECON_MASTER_BOOT:
		return "the master rebooted";
	case RECON_MASTER_POOL:
		return "the master's pool was created again (module reload or pool deleted)";
	case RECON_SLAVE_BOOT:
		return "this node rebooted";
	case RECON_SLAVE_POOL:
		return "this node's pool was created again (module reload or pool deleted)";
	}
	return "?";
}

void epoch_format(const struct pool_epoch *e, char *buf, size_t len)
{
	snprintf(buf, len, "boot %02x%02x%02x%02x netns %" PRIu64
		 " family %u pool %u", e->boot[0], e->boot[1], e->boot[2],
		 e->boot[3], e->netns, e->family, e->pool);
}

static int hex_byte(const char *s, uint8_t *out)
{
	unsigned int v = 0;

	for (int i = 0; i < 2; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

int epoch_parse_boot(const char *text, uint8_t boot[EPOCH_BOOT_LEN])
{
	static const int dash[] = { 8, 13, 18, 23 };
	const char *p = text;
	int b = 0;

	/* 8-4-4-4-12 hex digits, lower case, as the kernel writes it. */
	for (int i = 0; i < 36;) {
		if (i == dash[0] || i == dash[1] || i == dash[2] ||
		    i == dash[3]) {
			if (p[i] != '-')
				return -1;
			i++;
			continue;
		}
		if (hex_byte(p + i, &boot[b++]))
			return -1;
		i += 2;
	}
	return p[36] == '\0' || p[36] == '\n' ? 0 : -1;
}

/* "WORD BOOT32 NETNS16 FAMILY POOL\n" at *p. */
static int parse_line(const char **p, const char *word, struct pool_epoch *e)
{
	const char *s = *p;
	size_t w = strlen(word);
	unsigned long long netns;
	unsigned int family, pool;
	int off = 0;

	memset(e, 0, sizeof(*e));
	if (strncmp(s, word, w) || s[w] != ' ')
		return -1;
	s += w + 1;
	for (int i = 0; i < EPOCH_BOOT_LEN; i++)
		if (hex_byte(s + 2 * i, &e->boot[i]))
			return -1;
	s += 2 * EPOCH_BOOT_LEN;
	if (*s != ' ' || strspn(s + 1, "0123456789abcdef") != 16 ||
	    s[17] != ' ' ||
	    sscanf(s, " %16llx %5u %10u\n%n", &netns, &family, &pool,
		   &off) != 3 ||
	    !off || family > UINT16_MAX || s[off - 1] != '\n')
		return -1;
	e->netns = netns;
	e->family = family;
	e->pool = pool;
	*p = s + off;
	return 0;
}

int recon_parse(const char *text, struct recon_pair *rec)
{
	static const char head[] = "qkd-linkd reconciled 1\n";
	const char *p = text;
	char canon[RECON_MAX];

	memset(rec, 0, sizeof(*rec));
	if (strncmp(p, head, sizeof(head) - 1))
		return -1;
	p += sizeof(head) - 1;
	if (parse_line(&p, "master", &rec->master) ||
	    parse_line(&p, "slave", &rec->slave) || *p)
		return -1;
	/* Only the canonical form: no signs, spaces or upper case. */
	return recon_format(rec, canon, sizeof(canon)) < 0 ||
	       strcmp(canon, text) ? -1 : 0;
}

static int format_line(char *buf, size_t len, const char *word,
		       const struct pool_epoch *e)
{
	int n = snprintf(buf, len, "%s ", word);

	for (int i = 0; i < EPOCH_BOOT_LEN && n >= 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - n, "%02x", e->boot[i]);
	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " %016" PRIx64 " %u %u\n",
			      e->netns, e->family, e->pool);
	return n;
}

int recon_format(const struct recon_pair *rec, char *buf, size_t len)
{
	int n = snprintf(buf, len, "qkd-linkd reconciled 1\n");
	int m;

	if (n < 0 || (size_t)n >= len)
		return -1;
	m = format_line(buf + n, len - n, "master", &rec->master);
	if (m < 0 || (size_t)m >= len - n)
		return -1;
	n += m;
	m = format_line(buf + n, len - n, "slave", &rec->slave);
	if (m < 0 || (size_t)m >= len - n)
		return -1;
	return n + m;
}

int recon_load(const char *dir, const char *pool, struct recon_pair *rec,
	       char *err, size_t errlen)
{
	char path[1024], buf[RECON_MAX + 1];
	size_t len;
	int r;

	statefile_path(path, sizeof(path), dir, pool, "peer");
	r = statefile_read(path, buf, sizeof(buf), &len, err, errlen);
	if (r <= 0)
		return r;
	if (recon_parse(buf, rec)) {
		/* Harmless: the next connection resets the direction. */
		snprintf(err, errlen, "%s: not a reconciliation record", path);
		return -1;
	}
	return 1;
}

int recon_save(const char *dir, const char *pool,
	       const struct recon_pair *rec, char *err, size_t errlen)
{
	char path[1024], buf[RECON_MAX];
	int n = recon_format(rec, buf, sizeof(buf));

	statefile_path(path, sizeof(path), dir, pool, "peer");
	if (n < 0) {
		snprintf(err, errlen, "cannot write %s: record too long", path);
		return -1;
	}
	return statefile_write(path, buf, (size_t)n, 0600, true, err, errlen);
}
