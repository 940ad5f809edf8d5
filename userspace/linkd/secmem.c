// SPDX-License-Identifier: GPL-2.0
/*
 * Memory for key material, and wiping frees for OpenSSL and libcurl: see
 * secmem.h.  (json-c has no allocator hooks: kme_json.c wipes its strings
 * in place.)
 */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include "log.h"
#include "secmem.h"

/* Written by the pools' worker threads too (worker.c). */
static atomic_bool last_locked;
static atomic_bool told_unlocked;

/*
 * Keys in memory that is not locked may reach swap: say so once, with
 * what to do, rather than on every allocation (or never).
 */
static void unlocked(size_t n, int err)
{
	if (atomic_exchange(&told_unlocked, true))
		return;
	log_warn("cannot lock %zu bytes of key memory in RAM (mlock: %s): keys may be swapped out; raise RLIMIT_MEMLOCK (LimitMEMLOCK= in the unit: qkd-linkd(8))",
		 n, strerror(err));
}

void *secmem_alloc(size_t n)
{
	void *p;

	if (!n)
		n = 1;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, n, MADV_DONTDUMP);
	if (mlock(p, n)) {
		atomic_store(&last_locked, false);
		unlocked(n, errno);
	} else {
		atomic_store(&last_locked, true);
	}
	return p;		/* anonymous pages are zero */
}

void secmem_release(void *p, size_t n)
{
	munlock(p, n);
	munmap(p, n);
}

static void (*release_fn)(void *p, size_t n) = secmem_release;

void secmem_set_release(void (*release)(void *p, size_t n))
{
	release_fn = release ? release : secmem_release;
}

void secmem_free(void *p, size_t n)
{
	if (!p)
		return;
	if (!n)
		n = 1;
	explicit_bzero(p, n);
	release_fn(p, n);
}

bool secmem_locked(void)
{
	return atomic_load(&last_locked);
}

/* ---- wiping frees ----------------------------------------------------- */

static void wipe_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* realloc that never leaves a copy behind: new block, copy, wipe the old. */
static void *wipe_realloc(void *p, size_t n)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q;

	if (!n) {
		wipe_free(p);
		return NULL;
	}
	q = malloc(n);
	if (!q)
		return NULL;
	if (p) {
		memcpy(q, p, old < n ? old : n);
		wipe_free(p);
	}
	return q;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	wipe_free(p);
}

static char *curl_strdup_hook(const char *s)
{
	return strdup(s);
}

int secmem_hook_libraries(long curl_flags)
{
	/* Refused once OpenSSL has allocated anything: then 1, not fatal. */
	int ossl = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc,
					    ossl_free) == 1;

	if (curl_global_init_mem(curl_flags, malloc, wipe_free, wipe_realloc,
				 curl_strdup_hook, calloc) != CURLE_OK)
		return -1;
	return ossl ? 0 : 1;
}
