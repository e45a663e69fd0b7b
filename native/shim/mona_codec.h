/* Base64 (RFC 4648) and hexadecimal text for mona:toBase64, mona:fromBase64 and mona:toHex
 * (docs/api.md, "Hashes and encodings"): plain loops over caller-given buffers, no Lua, no
 * allocation. */
#ifndef MONA_CODEC_H
#define MONA_CODEC_H

#include <stddef.h>
#include "mona_api.h"

/* Encodes data[0..length) with the standard alphabet and '=' padding into `out`, which holds
 * 4 * ceil(length / 3) bytes; returns that count. */
MONA_API size_t mona_base64_encode(const unsigned char *data, size_t length, unsigned char *out);

/* Decodes `text` into `out` (at least length / 4 * 3 + 3 bytes) and returns the byte count, or
 * a negative code with *position (0-based) where the text goes wrong:
 *   -1 a character outside both alphabets (standard "+/" and URL-safe "-_"), or '=' inside it;
 *   -2 a wrong padding ('=' where a group cannot end, or not enough of them, or text after them);
 *   -3 a last group of one character, which cannot hold a byte.
 * Whitespace (space, tab, CR, LF) is skipped anywhere; padding is optional. */
MONA_API long long mona_base64_decode(const unsigned char *text, size_t length, unsigned char *out, size_t *position);

/* Writes two lowercase hexadecimal digits per byte into `out` (2 * length bytes). */
MONA_API void mona_hex_encode(const unsigned char *data, size_t length, unsigned char *out);

#endif
