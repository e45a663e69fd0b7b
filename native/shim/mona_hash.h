/* Message digests and their HMAC for mona:hash and mona:hmac (docs/api.md, "Hashes and
 * encodings"): MD5 (RFC 1321), SHA-1, SHA-256 and SHA-512 (FIPS 180-4), HMAC (RFC 2104),
 * written here so that the binary loads no crypto library (OpenSSL) for them. One-shot calls
 * over a byte range, no allocation, no Lua: the caller gives a MONA_HASH_MAX-byte buffer. */
#ifndef MONA_HASH_H
#define MONA_HASH_H

#include <stddef.h>
#include "mona_api.h"

/* The algorithms, in the order the C# side names them (HashFunctions.cs). */
#define MONA_MD5 0
#define MONA_SHA1 1
#define MONA_SHA256 2
#define MONA_SHA512 3

/* The largest digest (SHA-512's). */
#define MONA_HASH_MAX 64

/* The digest of data[0..length) into `digest`; returns its size in bytes, or -1 for an
 * unknown algorithm. */
MONA_API int mona_hash(int algorithm, const unsigned char *data, size_t length, unsigned char *digest);

/* HMAC (RFC 2104) of data[0..length) under key[0..key_length) into `digest`; returns its size,
 * or -1 for an unknown algorithm. A key longer than the block is hashed first, as the RFC says. */
MONA_API int mona_hmac(int algorithm, const unsigned char *key, size_t key_length,
                       const unsigned char *data, size_t length, unsigned char *digest);

/* For the tests: 1 makes SHA-1 and SHA-256 take their portable code even on a processor with
 * the SHA instructions, so that both paths are checked on one machine; 0 (the default) lets
 * them use the instructions. */
MONA_API void mona_hash_portable(int portable);

#endif
