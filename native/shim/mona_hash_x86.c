/* See mona_hash_x86.h. The instructions (Intel SDM, SHA256RNDS2, SHA256MSG1, SHA256MSG2) keep
 * the eight working variables as two vectors, ABEF and CDGH (A in the highest lane): RNDS2 runs
 * two rounds from (CDGH, ABEF, two W+K words) and returns the new ABEF, while the old ABEF is
 * the new CDGH. MSG1 and MSG2 compute the message schedule of FIPS 180-4 section 6.2.2 four
 * words at a time: W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]. */
#include "mona_hash_x86.h"

#ifdef MONA_HASH_X86
#include <cpuid.h>
#include <immintrin.h>

int mona_hash_x86_sha(void) {
    static int known = -1; /* a benign race: every thread computes the same answer */
    if (known < 0) {
        unsigned a, b, c, d, ok = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 9)) && (c & (1u << 19))) /* SSSE3, SSE4.1 */
            ok = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));      /* SHA */
        known = ok ? 1 : 0;
    }
    return known;
}

__attribute__((target("sha,ssse3,sse4.1")))
void mona_sha256_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks, const uint32_t *k) {
    /* Each 32-bit word of the message is big-endian. */
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abcd = _mm_loadu_si128((const __m128i *)h);       /* lanes A B C D (lane 0 first) */
    __m128i efgh = _mm_loadu_si128((const __m128i *)(h + 4)); /* lanes E F G H */
    abcd = _mm_shuffle_epi32(abcd, 0xB1);                      /* B A D C */
    efgh = _mm_shuffle_epi32(efgh, 0x1B);                      /* H G F E */
    __m128i abef = _mm_alignr_epi8(abcd, efgh, 8);             /* F E B A */
    __m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);          /* H G D C */
    for (; blocks > 0; blocks--, p += 64) {
        __m128i saved_abef = abef, saved_cdgh = cdgh;
        __m128i m[4]; /* m[g & 3]: the message words of the last group g of four rounds */
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (g >= 4) {
                /* W[4g..4g+3] from groups g-4 (m[g&3]), g-3, g-2 and g-1. */
                __m128i t = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
                m[g & 3] = _mm_sha256msg2_epu32(t, m[(g + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)(k + 4 * g)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);          /* rounds 4g, 4g+1: new ABEF */
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);          /* rounds 4g+2, 4g+3 */
        }
        abef = _mm_add_epi32(abef, saved_abef);
        cdgh = _mm_add_epi32(cdgh, saved_cdgh);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);                  /* A B E F */
    __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xB1);                  /* G H C D */
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, ghcd, 0xF0));        /* A B C D */
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(ghcd, feba, 8));    /* E F G H */
}

/* SHA-1 (SHA1RNDS4, SHA1NEXTE, SHA1MSG1, SHA1MSG2): A B C D in one vector (A in the highest
 * lane), E in the highest lane of another. RNDS4 runs four rounds of the function its
 * immediate names (rounds 0-19, 20-39, 40-59, 60-79: 0 to 3) from ABCD and (E + W[t], W[t+1],
 * W[t+2], W[t+3]); NEXTE makes the next E (A of four rounds before, rotated by 30) and adds it to
 * the next words. MSG1, an XOR and MSG2 compute W[t] = rotl1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16])
 * four words at a time (section 6.1.2). The groups are written out: the immediate must be a
 * constant. */
#define SHA1_GROUP(g, f)                                                                           \
    do {                                                                                           \
        if ((g) >= 4)                                                                              \
            m[(g) & 3] = _mm_sha1msg2_epu32(                                                       \
                _mm_xor_si128(_mm_sha1msg1_epu32(m[(g) & 3], m[((g) + 1) & 3]), m[((g) + 2) & 3]), \
                m[((g) + 3) & 3]);                                                                 \
        e = (g) == 0 ? _mm_add_epi32(e, m[0]) : _mm_sha1nexte_epu32(previous, m[(g) & 3]);        \
        previous = abcd;                                                                           \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                                    \
    } while (0)

__attribute__((target("sha,ssse3,sse4.1")))
void mona_sha1_blocks_x86(uint32_t *h, const unsigned char *p, size_t blocks) {
    /* The whole 16 bytes reversed: W[t] lands in the highest lane, big-endian words read. */
    const __m128i reverse = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B); /* D C B A */
    __m128i e = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (; blocks > 0; blocks--, p += 64) {
        __m128i saved_abcd = abcd, saved_e = e, previous = abcd;
        __m128i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), reverse);
        SHA1_GROUP(0, 0); SHA1_GROUP(1, 0); SHA1_GROUP(2, 0); SHA1_GROUP(3, 0); SHA1_GROUP(4, 0);
        SHA1_GROUP(5, 1); SHA1_GROUP(6, 1); SHA1_GROUP(7, 1); SHA1_GROUP(8, 1); SHA1_GROUP(9, 1);
        SHA1_GROUP(10, 2); SHA1_GROUP(11, 2); SHA1_GROUP(12, 2); SHA1_GROUP(13, 2); SHA1_GROUP(14, 2);
        SHA1_GROUP(15, 3); SHA1_GROUP(16, 3); SHA1_GROUP(17, 3); SHA1_GROUP(18, 3); SHA1_GROUP(19, 3);
        e = _mm_sha1nexte_epu32(previous, saved_e);
        abcd = _mm_add_epi32(abcd, saved_abcd);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e, 3);
}
#undef SHA1_GROUP
#else
/* An empty translation unit is not ISO C. */
typedef int mona_hash_x86_unused;
#endif
