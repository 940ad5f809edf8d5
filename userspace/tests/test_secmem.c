// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's memory for key material (linkd/secmem.c): zeroed when
 * allocated, wiped when freed (seen through secmem_set_release(), while
 * the pages are still mapped: no read of freed memory), left out of core
 * dumps, usable over RLIMIT_MEMLOCK; and OpenSSL's allocator through the
 * wiping hooks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <openssl/crypto.h>
#include <curl/curl.h>
#include "tests.h"
#include "../linkd/secmem.h"

/* What the release hook saw: the region and whether it was all zero. */
static struct {
	void *p;
	size_t n;
	int calls;
	bool zero;
} seen;

static void check_release(void *p, size_t n)
{
	const unsigned char *b = p;

	seen.p = p;
	seen.n = n;
	seen.calls++;
	seen.zero = true;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			seen.zero = false;
	secmem_release(p, n);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The VmFlags line of the mapping at @p in /proc/self/smaps, or "". */
static void vm_flags(const void *p, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	out[0] = '\0';
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, len, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

START_TEST(alloc_zeroed_and_wiped_on_free)
{
	static const size_t sizes[] = { 1, 32, 4096, 4097, 3 * 4096 + 5 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		unsigned char *p = secmem_alloc(n);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
		ck_assert(all_zero(p, n));
		memset(p, 0xa5, n);	/* the whole size is writable */
		memset(&seen, 0, sizeof(seen));
		secmem_set_release(check_release);
		secmem_free(p, n);
		secmem_set_release(NULL);
		ck_assert_int_eq(seen.calls, 1);
		ck_assert_ptr_eq(seen.p, p);
		ck_assert_uint_eq(seen.n, n);
		ck_assert_msg(seen.zero, "%zu bytes not wiped by secmem_free", n);
	}
}
END_TEST

START_TEST(zero_size_and_null)
{
	unsigned char *p = secmem_alloc(0);

	/* A zero-byte request still gets a region of its own, wiped. */
	ck_assert_ptr_nonnull(p);
	p[0] = 0x5a;
	memset(&seen, 0, sizeof(seen));
	secmem_set_release(check_release);
	secmem_free(p, 0);
	secmem_free(NULL, 64);		/* nothing to do, no release */
	secmem_set_release(NULL);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert(seen.zero);
}
END_TEST

START_TEST(too_large)
{
	/* More address space than there is: NULL, not a crash. */
	ck_assert_ptr_null(secmem_alloc(SIZE_MAX / 2));
	ck_assert_ptr_null(secmem_alloc(SIZE_MAX));
}
END_TEST

START_TEST(not_dumped)
{
	char flags[512];
	void *p = secmem_alloc(100);

	ck_assert_ptr_nonnull(p);
	vm_flags(p, flags, sizeof(flags));
	ck_assert_msg(strstr(flags, " dd"), "no MADV_DONTDUMP: VmFlags%s",
		      flags);
	secmem_free(p, 100);
}
END_TEST

START_TEST(memlock_limit)
{
	struct rlimit old, none;
	unsigned char *p;

	/*
	 * Over RLIMIT_MEMLOCK an allocation only loses its locking: still
	 * memory, zeroed, wiped.  (Whether it is locked cannot be checked
	 * here: the sanitizers' mlock() does nothing and says it succeeded.)
	 */
	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	none = old;
	none.rlim_cur = 0;
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &none), 0);
	p = secmem_alloc(8192);
	ck_assert_ptr_nonnull(p);
	ck_assert(all_zero(p, 8192));
	memset(p, 1, 8192);
	memset(&seen, 0, sizeof(seen));
	secmem_set_release(check_release);
	secmem_free(p, 8192);
	secmem_set_release(NULL);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert(seen.zero);
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}
END_TEST

START_TEST(library_hooks)
{
	static const char text[] = "material that must not stay behind";
	int ret = secmem_hook_libraries(CURL_GLOBAL_DEFAULT);
	char *a, *b;

	/* 1: OpenSSL had allocated before (its frees are then not hooked). */
	ck_assert_int_ge(ret, 0);
	/* Whether hooked or not, OpenSSL's allocator keeps its contract. */
	a = OPENSSL_malloc(sizeof(text));
	ck_assert_ptr_nonnull(a);
	memcpy(a, text, sizeof(text));
	b = OPENSSL_realloc(a, 4096);	/* a new block: the old one wiped */
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b, text);
	b = OPENSSL_realloc(b, 8);	/* shrinking keeps the start */
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(memcmp(b, text, 8), 0);
	OPENSSL_free(b);
	ck_assert_ptr_null(OPENSSL_realloc(OPENSSL_malloc(16), 0));
	OPENSSL_free(NULL);
	curl_global_cleanup();
}
END_TEST

Suite *secmem_suite(void)
{
	Suite *s = suite_create("secmem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, alloc_zeroed_and_wiped_on_free);
	tcase_add_test(tc, zero_size_and_null);
	tcase_add_test(tc, too_large);
	tcase_add_test(tc, not_dumped);
	tcase_add_test(tc, memlock_limit);
	tcase_add_test(tc, library_hooks);
	suite_add_tcase(s, tc);
	return s;
}
