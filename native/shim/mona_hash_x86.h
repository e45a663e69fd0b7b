/* SHA-256's and SHA-1's compression with the x86 SHA extensions (SHA-NI), for mona_hash.c:
 * several times the portable code's speed on processors that have them. Chosen at run time (CPUID); on other
 * processors and compilers mona_hash_x86_sha() is 0 and mona_hash.c uses its portable code. */
#ifndef MONA_HASH_X86_H
#define MONA_HASH_X86_H

#include <stddef.h>
#include <stdint.h>
#include "mona_api.h"

/* MONA_HASH_PORTABLE (cc -DMONA_HASH_PORTABLE) leaves the extensions out, to check the portable code. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(MONA_HASH_PORTABLE)
#define MONA_HASH_X86 1
/* 1 when the processor has the SHA extensions and SSSE3/SSE4.1 (checked once). */
MONA_INTERNAL int mona_hash_x86_sha(void);
/* `blocks` 64-byte blocks into the chaining value h[8] (FIPS 180-4's H0..H7); k is K256. */
MONA_INTERNAL void mona_sha256_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks, const uint32_t *k);
/* The same for SHA-1: h[5] is H0..H4. */
MONA_INTERNAL void mona_sha1_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks);
#else
static inline int mona_hash_x86_sha(void) { return 0; }
static inline void mona_sha256_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks, const uint32_t *k) {
    (void)h; (void)p; (void)blocks; (void)k;
}
static inline void mona_sha1_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks) {
    (void)h; (void)p; (void)blocks;
}
#endif

#endif
