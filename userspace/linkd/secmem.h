/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory for key material: whole pages of its own, locked in RAM where
 * RLIMIT_MEMLOCK allows (mlock; a failure only loses the locking), left
 * out of core dumps (MADV_DONTDUMP), zeroed when allocated and wiped
 * (explicit_bzero) when freed.  And the allocator hooks that make
 * OpenSSL and libcurl wipe what they free.
 */
#ifndef LINKD_SECMEM_H
#define LINKD_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* @n zeroed bytes, or NULL.  Free with secmem_free(p, n). */
void *secmem_alloc(size_t n);
/* Wipe and free; @p may be NULL. */
void secmem_free(void *p, size_t n);
/* Was the last secmem_alloc() locked in RAM? */
bool secmem_locked(void);

/*
 * For the unit tests: secmem_free() calls @release(p, n) instead of
 * unlocking and unmapping, after the wipe, so that a test can see what a
 * free leaves behind while the pages are still mapped (and then release
 * them with secmem_release()).  NULL restores the default.
 */
void secmem_set_release(void (*release)(void *p, size_t n));
/* The default release: munlock and munmap. */
void secmem_release(void *p, size_t n);

/*
 * Before any other library call: OpenSSL's and libcurl's frees wipe the
 * block first (explicit_bzero over malloc_usable_size()).  libcurl's hooks
 * are installed by curl_global_init_mem() through this call, so it
 * replaces curl_global_init().  0; 1 when OpenSSL had allocated already
 * (its frees are then not hooked); -1 when libcurl failed.
 */
int secmem_hook_libraries(long curl_flags);

#endif
