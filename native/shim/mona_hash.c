/* See mona_hash.h for the contract. Each algorithm is a compression function over whole blocks
 * (several at once, so a long message stays in one loop); the streaming wrapper around them
 * (buffering, padding, the length field) is shared, since HMAC feeds two pieces per hash. The
 * constants are the ones the specifications define (RFC 1321 section 3.4: floor(2^32 *
 * |sin(i)|); FIPS 180-4 sections 4.2 and 5.3: fractional parts of square and cube roots of the
 * first primes). SHA-1 and SHA-256 use the x86 SHA extensions when the processor has them
 * (mona_hash_x86.c), as OpenSSL does. */
#include "mona_hash.h"
#include "mona_hash_x86.h"

#include <stdint.h>
#include <string.h>

static const uint32_t MD5_T[64] = {
    0xd76aa478U, 0xe8c7b756U, 0x242070dbU, 0xc1bdceeeU, 0xf57c0fafU, 0x4787c62aU, 0xa8304613U, 0xfd469501U,
    0x698098d8U, 0x8b44f7afU, 0xffff5bb1U, 0x895cd7beU, 0x6b901122U, 0xfd987193U, 0xa679438eU, 0x49b40821U,
    0xf61e2562U, 0xc040b340U, 0x265e5a51U, 0xe9b6c7aaU, 0xd62f105dU, 0x02441453U, 0xd8a1e681U, 0xe7d3fbc8U,
    0x21e1cde6U, 0xc33707d6U, 0xf4d50d87U, 0x455a14edU, 0xa9e3e905U, 0xfcefa3f8U, 0x676f02d9U, 0x8d2a4c8aU,
    0xfffa3942U, 0x8771f681U, 0x6d9d6122U, 0xfde5380cU, 0xa4beea44U, 0x4bdecfa9U, 0xf6bb4b60U, 0xbebfbc70U,
    0x289b7ec6U, 0xeaa127faU, 0xd4ef3085U, 0x04881d05U, 0xd9d4d039U, 0xe6db99e5U, 0x1fa27cf8U, 0xc4ac5665U,
    0xf4292244U, 0x432aff97U, 0xab9423a7U, 0xfc93a039U, 0x655b59c3U, 0x8f0ccc92U, 0xffeff47dU, 0x85845dd1U,
    0x6fa87e4fU, 0xfe2ce6e0U, 0xa3014314U, 0x4e0811a1U, 0xf7537e82U, 0xbd3af235U, 0x2ad7d2bbU, 0xeb86d391U,
};

static const uint32_t SHA256_K[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U, 0xab1c5ed5U,
    0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU, 0x9bdc06a7U, 0xc19bf174U,
    0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU, 0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU,
    0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U, 0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U,
    0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU, 0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U,
    0xa2bfe8a1U, 0xa81a664bU, 0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U,
    0x19a4c116U, 0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U, 0xc67178f2U,
};

static const uint32_t SHA256_H0[8] = {
    0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU, 0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U,
};

static const uint64_t SHA512_K[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

static const uint64_t SHA512_H0[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint32_t SHA1_H0[5] = { 0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U, 0xc3d2e1f0U };
static const uint32_t MD5_H0[4] = { 0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U };

static inline uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static inline uint32_t rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t load_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t load_be64(const unsigned char *p) {
    return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}
static inline void store_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void store_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline void store_be64(unsigned char *p, uint64_t v) {
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

/* MD5, RFC 1321 section 3.4: four rounds of 16 steps; the message word of step i of round r is
 * i, 1+5i, 5+3i and 7i (mod 16); the shifts repeat in fours per round. */
static const unsigned char MD5_S[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 } };

static void md5_blocks(uint32_t *h, const unsigned char *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t x[16];
        for (int i = 0; i < 16; i++)
            x[i] = load_le32(p + 4 * i);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], t;
#define MD5_STEP(f, k)                                                                             \
        t = b + rotl32(a + (f) + MD5_T[i] + x[k], MD5_S[i >> 4][i & 3]);                         \
        a = d; d = c; c = b; b = t;
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) { MD5_STEP((b & c) | (~b & d), i) }
#pragma GCC unroll 16
        for (int i = 16; i < 32; i++) { MD5_STEP((b & d) | (c & ~d), (1 + 5 * i) & 15) }
#pragma GCC unroll 16
        for (int i = 32; i < 48; i++) { MD5_STEP(b ^ c ^ d, (5 + 3 * i) & 15) }
#pragma GCC unroll 16
        for (int i = 48; i < 64; i++) { MD5_STEP(c ^ (b | ~d), (7 * i) & 15) }
#undef MD5_STEP
        h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    }
}

/* SHA-1, FIPS 180-4 section 6.1.2, with the 16-word circular schedule of section 6.1.3. */
static void sha1_blocks_portable(uint32_t *h, const unsigned char *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], t;
#define SHA1_W(i) ((i) < 16 ? w[i] : (w[(i) & 15] = rotl32(w[((i) - 3) & 15] ^ w[((i) - 8) & 15] ^ w[((i) - 14) & 15] ^ w[(i) & 15], 1)))
#define SHA1_STEP(f, k)                                                                            \
        t = rotl32(a, 5) + (f) + e + (k) + SHA1_W(i);                                              \
        e = d; d = c; c = rotl32(b, 30); b = a; a = t;
        for (int i = 0; i < 20; i++) { SHA1_STEP((b & c) ^ (~b & d), 0x5a827999U) }
        for (int i = 20; i < 40; i++) { SHA1_STEP(b ^ c ^ d, 0x6ed9eba1U) }
        for (int i = 40; i < 60; i++) { SHA1_STEP((b & c) ^ (b & d) ^ (c & d), 0x8f1bbcdcU) }
        for (int i = 60; i < 80; i++) { SHA1_STEP(b ^ c ^ d, 0xca62c1d6U) }
#undef SHA1_STEP
#undef SHA1_W
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
}

/* Set by mona_hash_portable (the tests only). */
static int force_portable;

void mona_hash_portable(int portable) {
    force_portable = portable;
}

static void sha1_blocks(uint32_t *h, const unsigned char *p, size_t blocks) {
    if (!force_portable && mona_hash_x86_sha())
        mona_sha1_blocks_x86(h, p, blocks);
    else
        sha1_blocks_portable(h, p, blocks);
}

/* SHA-256, FIPS 180-4 section 6.2.2, written as SHA-512 below is: eight rounds per pass with
 * the variables renamed rather than moved, the schedule as 16 words computed as needed. */
#define S256_BIG0(x) (rotr32(x, 2) ^ rotr32(x, 13) ^ rotr32(x, 22))
#define S256_BIG1(x) (rotr32(x, 6) ^ rotr32(x, 11) ^ rotr32(x, 25))
#define S256_SMALL0(x) (rotr32(x, 7) ^ rotr32(x, 18) ^ ((x) >> 3))
#define S256_SMALL1(x) (rotr32(x, 17) ^ rotr32(x, 19) ^ ((x) >> 10))
#define S256_ROUND(a, b, c, d, e, f, g, h, j)                                                      \
    do {                                                                                           \
        uint32_t wj = i + (j) < 16 ? w[j]                                                          \
            : (w[j] += S256_SMALL1(w[((j) + 14) & 15]) + w[((j) + 9) & 15] + S256_SMALL0(w[((j) + 1) & 15])); \
        uint32_t t1 = h + S256_BIG1(e) + ((e & f) ^ (~e & g)) + SHA256_K[i + (j)] + wj;          \
        d += t1;                                                                                   \
        h = t1 + S256_BIG0(a) + ((a & b) ^ (a & c) ^ (b & c));                                     \
    } while (0)

static void sha256_blocks_portable(uint32_t *hv, const unsigned char *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        uint32_t a = hv[0], b = hv[1], c = hv[2], d = hv[3], e = hv[4], f = hv[5], g = hv[6], h = hv[7];
        for (int i = 0; i < 64; i += 16) {
            S256_ROUND(a, b, c, d, e, f, g, h, 0);
            S256_ROUND(h, a, b, c, d, e, f, g, 1);
            S256_ROUND(g, h, a, b, c, d, e, f, 2);
            S256_ROUND(f, g, h, a, b, c, d, e, 3);
            S256_ROUND(e, f, g, h, a, b, c, d, 4);
            S256_ROUND(d, e, f, g, h, a, b, c, 5);
            S256_ROUND(c, d, e, f, g, h, a, b, 6);
            S256_ROUND(b, c, d, e, f, g, h, a, 7);
            S256_ROUND(a, b, c, d, e, f, g, h, 8);
            S256_ROUND(h, a, b, c, d, e, f, g, 9);
            S256_ROUND(g, h, a, b, c, d, e, f, 10);
            S256_ROUND(f, g, h, a, b, c, d, e, 11);
            S256_ROUND(e, f, g, h, a, b, c, d, 12);
            S256_ROUND(d, e, f, g, h, a, b, c, 13);
            S256_ROUND(c, d, e, f, g, h, a, b, 14);
            S256_ROUND(b, c, d, e, f, g, h, a, 15);
        }
        hv[0] += a; hv[1] += b; hv[2] += c; hv[3] += d; hv[4] += e; hv[5] += f; hv[6] += g; hv[7] += h;
    }
}
#undef S256_ROUND
#undef S256_BIG0
#undef S256_BIG1
#undef S256_SMALL0
#undef S256_SMALL1

static void sha256_blocks(uint32_t *h, const unsigned char *p, size_t blocks) {
    if (!force_portable && mona_hash_x86_sha())
        mona_sha256_blocks_x86(h, p, blocks, SHA256_K);
    else
        sha256_blocks_portable(h, p, blocks);
}

/* SHA-512, FIPS 180-4 section 6.4.2, in the same shape as SHA-256 above. */
#define S512_BIG0(x) (rotr64(x, 28) ^ rotr64(x, 34) ^ rotr64(x, 39))
#define S512_BIG1(x) (rotr64(x, 14) ^ rotr64(x, 18) ^ rotr64(x, 41))
#define S512_SMALL0(x) (rotr64(x, 1) ^ rotr64(x, 8) ^ ((x) >> 7))
#define S512_SMALL1(x) (rotr64(x, 19) ^ rotr64(x, 61) ^ ((x) >> 6))
#define S512_ROUND(a, b, c, d, e, f, g, h, j)                                                      \
    do {                                                                                           \
        uint64_t wj = i + (j) < 16 ? w[j]                                                          \
            : (w[j] += S512_SMALL1(w[((j) + 14) & 15]) + w[((j) + 9) & 15] + S512_SMALL0(w[((j) + 1) & 15])); \
        uint64_t t1 = h + S512_BIG1(e) + ((e & f) ^ (~e & g)) + SHA512_K[i + (j)] + wj;          \
        d += t1;                                                                                   \
        h = t1 + S512_BIG0(a) + ((a & b) ^ (a & c) ^ (b & c));                                     \
    } while (0)

static void sha512_blocks(uint64_t *hv, const unsigned char *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 128) {
        uint64_t w[16];
        for (int i = 0; i < 16; i++)
            w[i] = load_be64(p + 8 * i);
        uint64_t a = hv[0], b = hv[1], c = hv[2], d = hv[3], e = hv[4], f = hv[5], g = hv[6], h = hv[7];
        for (int i = 0; i < 80; i += 16) {
            S512_ROUND(a, b, c, d, e, f, g, h, 0);
            S512_ROUND(h, a, b, c, d, e, f, g, 1);
            S512_ROUND(g, h, a, b, c, d, e, f, 2);
            S512_ROUND(f, g, h, a, b, c, d, e, 3);
            S512_ROUND(e, f, g, h, a, b, c, d, 4);
            S512_ROUND(d, e, f, g, h, a, b, c, 5);
            S512_ROUND(c, d, e, f, g, h, a, b, 6);
            S512_ROUND(b, c, d, e, f, g, h, a, 7);
            S512_ROUND(a, b, c, d, e, f, g, h, 8);
            S512_ROUND(h, a, b, c, d, e, f, g, 9);
            S512_ROUND(g, h, a, b, c, d, e, f, 10);
            S512_ROUND(f, g, h, a, b, c, d, e, 11);
            S512_ROUND(e, f, g, h, a, b, c, d, 12);
            S512_ROUND(d, e, f, g, h, a, b, c, 13);
            S512_ROUND(c, d, e, f, g, h, a, b, 14);
            S512_ROUND(b, c, d, e, f, g, h, a, 15);
        }
        hv[0] += a; hv[1] += b; hv[2] += c; hv[3] += d; hv[4] += e; hv[5] += f; hv[6] += g; hv[7] += h;
    }
}
#undef S512_ROUND
#undef S512_BIG0
#undef S512_BIG1
#undef S512_SMALL0
#undef S512_SMALL1

/* The streaming state shared by the four: the chaining value, the bytes not yet a whole
 * block, and the message length so far. */
typedef struct {
    int algorithm;
    size_t block;  /* block size: 64, or 128 for SHA-512 */
    size_t used;   /* bytes waiting in buffer */
    uint64_t total;
    union { uint32_t w32[8]; uint64_t w64[8]; } h;
    unsigned char buffer[128];
} hash_state;

static void compress(hash_state *s, const unsigned char *p, size_t blocks) {
    switch (s->algorithm) {
    case MONA_MD5: md5_blocks(s->h.w32, p, blocks); break;
    case MONA_SHA1: sha1_blocks(s->h.w32, p, blocks); break;
    case MONA_SHA256: sha256_blocks(s->h.w32, p, blocks); break;
    default: sha512_blocks(s->h.w64, p, blocks); break;
    }
}

static int digest_size(int algorithm) {
    switch (algorithm) {
    case MONA_MD5: return 16;
    case MONA_SHA1: return 20;
    case MONA_SHA256: return 32;
    case MONA_SHA512: return 64;
    default: return -1;
    }
}

static void hash_init(hash_state *s, int algorithm) {
    s->algorithm = algorithm;
    s->block = algorithm == MONA_SHA512 ? 128 : 64;
    s->used = 0;
    s->total = 0;
    switch (algorithm) {
    case MONA_MD5: memcpy(s->h.w32, MD5_H0, sizeof MD5_H0); break;
    case MONA_SHA1: memcpy(s->h.w32, SHA1_H0, sizeof SHA1_H0); break;
    case MONA_SHA256: memcpy(s->h.w32, SHA256_H0, sizeof SHA256_H0); break;
    default: memcpy(s->h.w64, SHA512_H0, sizeof SHA512_H0); break;
    }
}

static void hash_update(hash_state *s, const unsigned char *p, size_t n) {
    s->total += n;
    if (s->used > 0) {
        size_t take = s->block - s->used < n ? s->block - s->used : n;
        memcpy(s->buffer + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used < s->block)
            return;
        compress(s, s->buffer, 1);
        s->used = 0;
    }
    size_t blocks = n / s->block;
    if (blocks > 0) {
        compress(s, p, blocks);
        p += blocks * s->block;
        n -= blocks * s->block;
    }
    memcpy(s->buffer, p, n);
    s->used = n;
}

/* The padding (a 1 bit, zeros, the length in bits: 64 bits little-endian for MD5, big-endian
 * for SHA-1 and SHA-256, 128 bits big-endian for SHA-512), then the chaining value in the
 * algorithm's byte order. */
static int hash_final(hash_state *s, unsigned char *digest) {
    size_t length_field = s->block == 128 ? 16 : 8;
    uint64_t bits = s->total << 3;
    s->buffer[s->used++] = 0x80;
    if (s->used > s->block - length_field) {
        memset(s->buffer + s->used, 0, s->block - s->used);
        compress(s, s->buffer, 1);
        s->used = 0;
    }
    memset(s->buffer + s->used, 0, s->block - s->used);
    unsigned char *end = s->buffer + s->block;
    if (s->algorithm == MONA_MD5) {
        store_le32(end - 8, (uint32_t)bits);
        store_le32(end - 4, (uint32_t)(bits >> 32));
    } else {
        store_be64(end - 8, bits);
        if (length_field == 16)
            store_be64(end - 16, s->total >> 61);
    }
    compress(s, s->buffer, 1);
    int size = digest_size(s->algorithm);
    for (int i = 0; i < size / (s->algorithm == MONA_SHA512 ? 8 : 4); i++) {
        if (s->algorithm == MONA_MD5)
            store_le32(digest + 4 * i, s->h.w32[i]);
        else if (s->algorithm == MONA_SHA512)
            store_be64(digest + 8 * i, s->h.w64[i]);
        else
            store_be32(digest + 4 * i, s->h.w32[i]);
    }
    return size;
}

int mona_hash(int algorithm, const unsigned char *data, size_t length, unsigned char *digest) {
    if (digest_size(algorithm) < 0)
        return -1;
    hash_state s;
    hash_init(&s, algorithm);
    hash_update(&s, data, length);
    return hash_final(&s, digest);
}

/* RFC 2104 section 2: H(K ^ opad, H(K ^ ipad, text)), K zero-padded to the block size. */
int mona_hmac(int algorithm, const unsigned char *key, size_t key_length,
              const unsigned char *data, size_t length, unsigned char *digest) {
    int size = digest_size(algorithm);
    if (size < 0)
        return -1;
    hash_state s;
    hash_init(&s, algorithm);
    unsigned char k[128] = { 0 };
    if (key_length > s.block)
        mona_hash(algorithm, key, key_length, k);
    else if (key_length > 0)
        memcpy(k, key, key_length);
    unsigned char pad[128];
    for (size_t i = 0; i < s.block; i++)
        pad[i] = k[i] ^ 0x36;
    hash_update(&s, pad, s.block);
    hash_update(&s, data, length);
    unsigned char inner[MONA_HASH_MAX];
    hash_final(&s, inner);
    for (size_t i = 0; i < s.block; i++)
        pad[i] = k[i] ^ 0x5c;
    hash_init(&s, algorithm);
    hash_update(&s, pad, s.block);
    hash_update(&s, inner, (size_t)size);
    return hash_final(&s, digest);
}
