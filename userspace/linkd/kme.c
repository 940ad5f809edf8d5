// SPDX-License-Identifier: GPL-2.0
/*
 * The ETSI GS QKD 014 source: HTTPS with mutual TLS through libcurl (built
 * on OpenSSL).  The client certificate is this node's SAE certificate, the
 * KME's certificate must chain to the configured CA alone (CURLOPT_CAINFO,
 * no system store) and name the host of kme_url.  Every request is bounded
 * by kme_timeout.  One curl handle per pool keeps its connection alive.
 *
 *   status    GET  {url}/api/v1/keys/{peer_sae_id}/status
 *   enc_keys  POST {url}/api/v1/keys/{peer_sae_id}/enc_keys
 *   dec_keys  POST {url}/api/v1/keys/{peer_sae_id}/dec_keys
 *        or   GET  {url}/api/v1/keys/{peer_sae_id}/dec_keys?key_ID=ID
 *
 * (In dec_keys the path names the master SAE, which is the peer.)
 * Answer bodies hold key material: the buffer is wiped after each request.
 *
 * What KMEs nobody here wrote do, and what is made of it, is in
 * Documentation/qkd-linkd.rst, "Foreign KMEs": a status answer is used as
 * far as it goes (the configuration stands in for the rest, and for all of
 * it when status fails with an HTTP error); key IDs go back to dec_keys
 * exactly as enc_keys gave them; dec_keys_method = auto tries the other
 * method once when one is refused as unknown (HTTP 404, 405, 501) and keeps
 * the one that works; enc_keys answered 400 is retried soon (SRC_AGAIN).
 *
 * Requests run on the pool's worker threads (worker.h); the event loop can
 * end one early when the daemon stops or reloads (kme_interrupt()).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "config.h"
#include "kme_json.h"
#include "log.h"
#include "secmem.h"
#include "source.h"

struct body {
	char *data;
	size_t len, cap;
};

/*
 * enc_keys answered 400 this many times in a row (about a minute at the
 * 1-2 s of SRC_AGAIN) is a KME refusing the request, not an empty buffer.
 */
#define KME_AGAIN_MAX	30

struct kme {
	CURL *curl;
	struct curl_slist *hdrs;
	char base[CFG_PATH_LEN + CFG_SAE_LEN + 32];
	char pool[CFG_NAME_LEN + 1];
	unsigned int key_bits;
	unsigned int batch;		/* the configuration's batch_size */
	enum dec_method method;		/* DEC_POST or DEC_GET: the next try */
	bool dec_auto;			/* may switch methods */
	char status_note[KME_ERR_LEN];	/* the last one logged */
	unsigned int again;		/* enc_keys 400s in a row */
	struct body body;
	atomic_bool stop;		/* set by kme_interrupt(), another thread */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *nd;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > KME_MAX_BODY + 1)
			return 0;	/* too large: curl fails the transfer */
		nd = secmem_alloc(cap);	/* locked, wiped when freed */
		if (!nd)
			return 0;
		if (b->data) {
			memcpy(nd, b->data, b->len);
			secmem_free(b->data, b->cap);
		}
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* libcurl calls this about once a second at least: a request ends soon after a stop. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct kme *k = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&k->stop) ? 1 : 0;
}

static void kme_interrupt(void *priv)
{
	struct kme *k = priv;

	atomic_store(&k->stop, true);
}

static void body_reset(struct body *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

/*
 * One request to {base}/@path (@req_body: POST, else GET); @what names it
 * in messages.  Returns the HTTP status, with @err set unless it is 200
 * (and the body then dropped), or -1 with @err set when there was no
 * answer.
 */
static long request(struct kme *k, const char *path, const char *what,
		    const char *req_body, char *err, size_t errlen)
{
	char url[sizeof(k->base) + 3 * KEYID_MAX + 32];
	long code = 0;
	CURLcode rc;

	body_reset(&k->body);
	snprintf(url, sizeof(url), "%s/%s", k->base, path);
	curl_easy_setopt(k->curl, CURLOPT_URL, url);
	if (req_body) {
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, req_body);
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(req_body));
	} else {
		curl_easy_setopt(k->curl, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(k->curl);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "KME unreachable: %s: %s", what,
			 curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		char msg[KME_ERR_LEN];

		kme_parse_error(k->body.data ? k->body.data : "", k->body.len,
				msg, sizeof(msg));
		snprintf(err, errlen, "KME answered %s with HTTP %ld: %s", what,
			 code, msg);
		body_reset(&k->body);
	}
	return code;
}

/* A status problem that does not stop the pool: logged when it changes. */
static void status_note(struct kme *k, const char *note)
{
	if (strcmp(note, k->status_note)) {
		if (note[0])
			log_warn("pool %s: %s", k->pool, note);
		snprintf(k->status_note, sizeof(k->status_note), "%s", note);
	}
}

static int kme_status(void *priv, unsigned int *max_batch,
		      unsigned int *stored, char *err, size_t errlen)
{
	struct kme *k = priv;
	struct kme_status st;
	char note[KME_ERR_LEN], msg[KME_ERR_LEN + 128];
	long code;

	code = request(k, "status", "status", NULL, err, errlen);
	if (code < 0)
		return -1;
	*max_batch = k->batch < QKD_BATCH_MAX ? k->batch : QKD_BATCH_MAX;
	*stored = 0;
	if (code != 200) {
		/* The KME answers: enc_keys will say whether it serves keys. */
		snprintf(msg, sizeof(msg), "%s: using the configuration's limits",
			 err);
		status_note(k, msg);
		return 0;
	}
	if (kme_parse_status(k->body.data, k->body.len, &st, note,
			     sizeof(note))) {
		snprintf(msg, sizeof(msg), "KME status answer unusable (%s): using the configuration's limits",
			 note);
		status_note(k, msg);
		return 0;
	}
	if (note[0])
		snprintf(msg, sizeof(msg), "KME status: %s: the configuration stands in for those",
			 note);
	else
		msg[0] = '\0';
	status_note(k, msg);
	/* The standard forbids asking outside [min_key_size, max_key_size]. */
	if (((st.have & KME_ST_MIN_SIZE) && k->key_bits < st.min_key_size) ||
	    ((st.have & KME_ST_MAX_SIZE) && k->key_bits > st.max_key_size)) {
		snprintf(err, errlen, "KME does not serve %u-bit keys (min_key_size %u, max_key_size %u): change key_size",
			 k->key_bits, st.min_key_size, st.max_key_size);
		return -1;
	}
	if (st.have & KME_ST_MAX_PER_REQUEST)
		*max_batch = st.max_key_per_request < QKD_BATCH_MAX ?
			     st.max_key_per_request : QKD_BATCH_MAX;
	if (st.have & KME_ST_STORED)
		*stored = st.stored_key_count;
	return 0;
}

static int kme_get(void *priv, struct qkd_key *keys, struct keyid *names,
		   size_t n, char *err, size_t errlen)
{
	struct kme *k = priv;
	char req[64], perr[KME_ERR_LEN];
	long code;
	int ret;

	/* Always the size this pool needs: a KME's default may be tiny. */
	if (kme_enc_request(req, sizeof(req), n, k->key_bits) < 0)
		return -1;
	code = request(k, "enc_keys", "enc_keys", req, err, errlen);
	if (code < 0)
		return -1;
	if (code == 400) {
		/*
		 * The request is valid (limits from status, sizes from the
		 * standard): KMEs say 400 for an empty key buffer too.  But
		 * not for ever: a KME that refuses every request is failing,
		 * and must show as such (health, backoff), not as "up".
		 */
		size_t o = strnlen(err, errlen);

		if (++k->again > KME_AGAIN_MAX) {
			snprintf(err + o, errlen - o,
				 " (%u times in a row: the KME refuses the request)",
				 k->again);
			return -1;
		}
		snprintf(err + o, errlen - o, " (no keys yet? asking again soon)");
		return SRC_AGAIN;
	}
	k->again = 0;
	if (code != 200)
		return -1;
	ret = kme_parse_keys(k->body.data, k->body.len, n, k->key_bits / 8,
			     NULL, names, keys, perr, sizeof(perr));
	body_reset(&k->body);
	if (ret)
		snprintf(err, errlen, "KME enc_keys answer rejected: %s", perr);
	return ret;
}

/* dec_keys by POST, all @n keys at once.  The HTTP status or -1. */
static long dec_post(struct kme *k, const struct keyid *names,
		     struct qkd_key *keys, size_t n, char *err, size_t errlen)
{
	char perr[KME_ERR_LEN];
	size_t cap = KME_DEC_REQUEST_MAX(n);
	char *req = malloc(cap);
	long code = -1;

	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (kme_dec_request(req, cap, names, n) < 0) {
		snprintf(err, errlen, "cannot build the dec_keys request");
		goto out;
	}
	code = request(k, "dec_keys", "dec_keys (POST)", req, err, errlen);
	if (code != 200)
		goto out;
	if (kme_parse_keys(k->body.data, k->body.len, n, k->key_bits / 8,
			   names, NULL, keys, perr, sizeof(perr))) {
		snprintf(err, errlen, "KME dec_keys answer rejected: %s", perr);
		code = -1;
	}
	body_reset(&k->body);
out:
	free(req);
	return code;
}

/*
 * dec_keys by GET, one key per request.  The HTTP status or -1; *@done:
 * the keys delivered before it stopped.
 */
static long dec_get(struct kme *k, const struct keyid *names,
		    struct qkd_key *keys, size_t n, size_t *done, char *err,
		    size_t errlen)
{
	char perr[KME_ERR_LEN], path[3 * KEYID_MAX + 32];

	for (size_t i = 0; i < n; *done = ++i) {
		char *esc = curl_easy_escape(k->curl, names[i].s, names[i].len);
		long code;

		if (!esc) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(path, sizeof(path), "dec_keys?key_ID=%s", esc);
		curl_free(esc);
		code = request(k, path, "dec_keys (GET)", NULL, err, errlen);
		if (code != 200)
			return code;
		if (kme_parse_keys(k->body.data, k->body.len, 1,
				   k->key_bits / 8, &names[i], NULL, &keys[i],
				   perr, sizeof(perr))) {
			snprintf(err, errlen, "KME dec_keys answer rejected: key %zu: %s",
				 i, perr);
			body_reset(&k->body);
			return -1;
		}
		body_reset(&k->body);
	}
	return 200;
}

/* *@done: keys delivered before a failure (POST: none, all or nothing). */
static long dec_by(struct kme *k, enum dec_method m, const struct keyid *names,
		   struct qkd_key *keys, size_t n, size_t *done, char *err,
		   size_t errlen)
{
	*done = 0;
	return m == DEC_GET ? dec_get(k, names, keys, n, done, err, errlen) :
			      dec_post(k, names, keys, n, err, errlen);
}

/* The answers of a KME that does not serve a method on dec_keys. */
static bool method_refused(long code)
{
	return code == 404 || code == 405 || code == 501;
}

static int kme_get_by_id(void *priv, const struct keyid *names,
			 struct qkd_key *keys, size_t n, char *err,
			 size_t errlen)
{
	struct kme *k = priv;
	enum dec_method other = k->method == DEC_GET ? DEC_POST : DEC_GET;
	size_t done;
	long code = dec_by(k, k->method, names, keys, n, &done, err, errlen);

	/*
	 * Only a refusal of the very first request says the method is not
	 * served: a 404 after keys were delivered is about that key ID (an
	 * unknown one), and asking again by the other method would ask for
	 * the delivered keys twice.
	 */
	if (code != 200 && k->dec_auto && method_refused(code) && !done) {
		char first[SRC_ERR_LEN];

		snprintf(first, sizeof(first), "%s", err);
		code = dec_by(k, other, names, keys, n, &done, err, errlen);
		if (code == 200) {
			log_warn("pool %s: %s: asking dec_keys by %s from now on",
				 k->pool, first,
				 other == DEC_GET ? "GET (one request per key)" :
						    "POST");
			k->method = other;
		}
	}
	if (code == 200)
		return 0;
	qkd_key_wipe(keys, n);
	return -1;
}

static void kme_destroy(void *priv)
{
	struct kme *k = priv;

	if (!k)
		return;
	curl_easy_cleanup(k->curl);
	curl_slist_free_all(k->hdrs);
	secmem_free(k->body.data, k->body.cap);
	free(k);
}

static const struct source_ops kme_ops = {
	.get = kme_get,
	.get_by_id = kme_get_by_id,
	.status = kme_status,
	.interrupt = kme_interrupt,
	.destroy = kme_destroy,
};

int kme_source_new(const struct pool_cfg *pc, struct source *src,
		   char *err, size_t errlen)
{
	struct kme *k = calloc(1, sizeof(*k));

	if (!k)
		return -1;
	snprintf(k->base, sizeof(k->base), "%s/api/v1/keys/%s", pc->kme_url,
		 pc->peer_sae_id);
	snprintf(k->pool, sizeof(k->pool), "%s", pc->name);
	k->key_bits = pc->key_bits;
	k->batch = pc->batch;
	k->method = pc->dec_method == DEC_GET ? DEC_GET : DEC_POST;
	k->dec_auto = pc->dec_method == DEC_AUTO;
	k->curl = curl_easy_init();
	k->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (k->hdrs)
		k->hdrs = curl_slist_append(k->hdrs, "Accept: application/json");
	if (!k->curl || !k->hdrs) {
		kme_destroy(k);
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &k->body);
	curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(k->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(k->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFODATA, k);
	curl_easy_setopt(k->curl, CURLOPT_SSLCERT, pc->cert);
	curl_easy_setopt(k->curl, CURLOPT_SSLKEY, pc->key);
	curl_easy_setopt(k->curl, CURLOPT_CAINFO, pc->ca);
	curl_easy_setopt(k->curl, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(k->curl, CURLOPT_SSLVERSION,
			 (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT, (long)pc->kme_timeout);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT, (long)pc->kme_timeout);
	curl_easy_setopt(k->curl, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)KME_MAX_BODY);
	src->ops = &kme_ops;
	src->priv = k;
	return 0;
}
