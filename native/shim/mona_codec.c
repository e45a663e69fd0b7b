/* See mona_codec.h for the contract. */
#include "mona_codec.h"

static const unsigned char BASE64[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t mona_base64_encode(const unsigned char *data, size_t length, unsigned char *out) {
    unsigned char *o = out;
    size_t i = 0;
    for (; i + 3 <= length; i += 3, o += 4) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        o[0] = BASE64[v >> 18];
        o[1] = BASE64[(v >> 12) & 63];
        o[2] = BASE64[(v >> 6) & 63];
        o[3] = BASE64[v & 63];
    }
    if (i < length) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < length ? (unsigned)data[i + 1] << 8 : 0);
        o[0] = BASE64[v >> 18];
        o[1] = BASE64[(v >> 12) & 63];
        o[2] = i + 1 < length ? BASE64[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

/* The value of each character: 0..63 for both alphabets ('+' and '-' are 62, '/' and '_' 63),
 * WHITE (254) for what is skipped, PAD (253) for '=', BAD (255) for the rest. */
enum { BAD = 255, WHITE = 254, PAD = 253 };

static const unsigned char DECODE[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 254, 254, 255, 255, 254, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255,  62, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 253, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

long long mona_base64_decode(const unsigned char *text, size_t length, unsigned char *out, size_t *position) {
    unsigned char *o = out;
    unsigned v = 0;
    int n = 0; /* characters in the current group of four */
    size_t i = 0;
    for (; i < length; i++) {
        unsigned char d = DECODE[text[i]];
        if (d < 64) {
            v = v << 6 | d;
            if (++n == 4) {
                o[0] = (unsigned char)(v >> 16);
                o[1] = (unsigned char)(v >> 8);
                o[2] = (unsigned char)v;
                o += 3;
                n = 0;
                v = 0;
            }
        } else if (d == PAD) {
            break;
        } else if (d != WHITE) {
            *position = i;
            return -1;
        }
    }
    if (n == 1) {
        *position = i;
        return -3;
    }
    if (i < length) {
        /* Padding: exactly 4 - n '=' (whitespace between allowed), then only whitespace. */
        int pads = 0;
        for (; i < length; i++) {
            unsigned char d = DECODE[text[i]];
            if (d == PAD && pads < 4 - n && n >= 2)
                pads++;
            else if (d != WHITE) {
                *position = i;
                return d == PAD ? -2 : (d == BAD ? -1 : -2);
            }
        }
        if (pads != 4 - n) {
            *position = length;
            return -2;
        }
    }
    if (n == 2) {
        *o++ = (unsigned char)(v >> 4);
    } else if (n == 3) {
        *o++ = (unsigned char)(v >> 10);
        *o++ = (unsigned char)(v >> 2);
    }
    return (long long)(o - out);
}

void mona_hex_encode(const unsigned char *data, size_t length, unsigned char *out) {
    static const char digits[16] = "0123456789abcdef";
    for (size_t i = 0; i < length; i++) {
        out[2 * i] = (unsigned char)digits[data[i] >> 4];
        out[2 * i + 1] = (unsigned char)digits[data[i] & 15];
    }
}
