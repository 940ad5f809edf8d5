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
 *
 * (In dec_keys the path names the master SAE, which is the peer.)
 * Answer bodies hold key material: the buffer is wiped after each request.
 */
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

struct kme {
	CURL *curl;
	struct curl_slist *hdrs;
	char base[CFG_PATH_LEN + CFG_SAE_LEN + 32];
	char pool[CFG_NAME_LEN + 1];
	unsigned int key_bits;
	unsigned int max_per_request;	/* from status, 0 = unknown */
	struct body body;
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

static void body_reset(struct body *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

/* One request.  Returns the HTTP status, or -1 with @err set. */
static long request(struct kme *k, const char *what, const char *req_body,
		    char *err, size_t errlen)
{
	char url[sizeof(k->base) + 16];
	long code = 0;
	CURLcode rc;

	body_reset(&k->body);
	snprintf(url, sizeof(url), "%s/%s", k->base, what);
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
		return -1;
	}
	return code;
}

static int kme_status(void *priv, unsigned int *max_batch,
		      unsigned int *stored, char *err, size_t errlen)
{
	struct kme *k = priv;
	struct kme_status st;
	char perr[KME_ERR_LEN];

	if (request(k, "status", NULL, err, errlen) < 0)
		return -1;
	if (kme_parse_status(k->body.data, k->body.len, &st, perr,
			     sizeof(perr))) {
		snprintf(err, errlen, "KME status rejected: %s", perr);
		return -1;
	}
	if (k->key_bits < st.min_key_size || k->key_bits > st.max_key_size) {
		snprintf(err, errlen, "KME does not serve %u-bit keys (%u to %u)",
			 k->key_bits, st.min_key_size, st.max_key_size);
		return -1;
	}
	k->max_per_request = st.max_key_per_request;
	*max_batch = st.max_key_per_request < QKD_BATCH_MAX ?
		     st.max_key_per_request : QKD_BATCH_MAX;
	*stored = st.stored_key_count;
	return 0;
}

static int kme_get(void *priv, struct qkd_key *keys, size_t n, char *err,
		   size_t errlen)
{
	struct kme *k = priv;
	char req[64], perr[KME_ERR_LEN];
	int ret;

	if (kme_enc_request(req, sizeof(req), n, k->key_bits) < 0)
		return -1;
	if (request(k, "enc_keys", req, err, errlen) < 0)
		return -1;
	ret = kme_parse_keys(k->body.data, k->body.len, n, k->key_bits / 8,
			     NULL, keys, perr, sizeof(perr));
	body_reset(&k->body);
	if (ret)
		snprintf(err, errlen, "KME enc_keys answer rejected: %s", perr);
	return ret;
}

static int kme_get_by_id(void *priv, const uint8_t (*ids)[QKD_KEY_ID_LEN],
			 struct qkd_key *keys, size_t n, char *err,
			 size_t errlen)
{
	struct kme *k = priv;
	char perr[KME_ERR_LEN];
	size_t cap = 32 + n * (KME_UUID_LEN + 16);
	char *req = malloc(cap);
	int ret = -1;

	if (!req)
		return -1;
	if (kme_dec_request(req, cap, ids, n) < 0 ||
	    request(k, "dec_keys", req, err, errlen) < 0)
		goto out;
	ret = kme_parse_keys(k->body.data, k->body.len, n, k->key_bits / 8,
			     ids, keys, perr, sizeof(perr));
	body_reset(&k->body);
	if (ret)
		snprintf(err, errlen, "KME dec_keys answer rejected: %s", perr);
out:
	free(req);
	return ret;
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
