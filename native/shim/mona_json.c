/* See mona_json.h for the contract, docs/api.md ("JSON") for the rules scripts see. */
#include "mona_json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upvalues of both functions. */
#define UV_NULL lua_upvalueindex(1)
#define UV_ARRAY lua_upvalueindex(2)
#define UV_CACHE lua_upvalueindex(3) /* toJSON only: its output buffer, kept between calls */

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence (2 to 4 bytes) that starts at s, or 0: no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF (RFC 3629). */
static size_t utf8_sequence(const unsigned char *s, size_t available) {
    unsigned char c = s[0];
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return available >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (available < 3 || (s[2] & 0xC0) != 0x80)
            return 0;
        unsigned char low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= low && s[1] <= high ? 3 : 0;
    }
    if (c < 0xF5) {
        if (available < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        unsigned char low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= low && s[1] <= high ? 4 : 0;
    }
    return 0;
}

/* ---- Encoding --------------------------------------------------------------------------- */

/* The output buffer: a userdata, so that an error raised halfway (a function in the value,
 * memory) leaves nothing to free. The one kept in UV_CACHE is reused by the next call unless
 * busy: a finalizer that runs during a call (the GC steps on allocation) and encodes gets a
 * buffer of its own, and a call that raised leaves its buffer busy, so it is replaced. */
typedef struct {
    size_t capacity;
    int busy;
} buffer_header;

#define BUFFER_FIRST 4096
#define BUFFER_KEPT (1u << 20) /* a larger buffer is not kept for the next call */

typedef struct {
    lua_State *L;
    buffer_header *header;
    char *base, *p, *end;
    int buffer; /* its stack index */
    int depth;
    const void *tables[MONA_JSON_MAXDEPTH]; /* the tables being written, outermost first */
    struct {
        int key;           /* stack index of the key being written, or 0 for an array */
        lua_Integer index; /* the array index being written */
    } path[MONA_JSON_MAXDEPTH];
} encoder;

static buffer_header *new_buffer(lua_State *L, size_t capacity) {
    buffer_header *header = lua_newuserdatauv(L, sizeof(buffer_header) + capacity, 0);
    header->capacity = capacity;
    header->busy = 1;
    return header;
}

/* Makes room for `n` more bytes: a buffer twice as large (or more) replaces the one at e->buffer. */
static void grow(encoder *e, size_t n) {
    size_t used = (size_t)(e->p - e->base);
    size_t capacity = e->header->capacity * 2;
    if (capacity < used + n)
        capacity = used + n;
    if (capacity < used || capacity > ((size_t)-1) / 2)
        luaL_error(e->L, "JSON text too large");
    buffer_header *header = new_buffer(e->L, capacity);
    char *base = (char *)(header + 1);
    memcpy(base, e->base, used);
    lua_replace(e->L, e->buffer);
    e->header->busy = 0; /* the old one, which the cache may still hold */
    e->header = header;
    e->base = base;
    e->p = base + used;
    e->end = base + capacity;
}

#define ENSURE(e, n) do { if ((size_t)((e)->end - (e)->p) < (size_t)(n)) grow((e), (n)); } while (0)

/* Pushes where the encoder is, ".a.b[3]" (or "the top level"), for the first `levels` levels;
 * only the last PATH_SHOWN of a deeper path, after "...", so that a message stays a line. */
#define PATH_SHOWN 12
static void push_path(encoder *e, int levels) {
    lua_State *L = e->L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (levels == 0)
        luaL_addstring(&b, "the top level");
    int first = 0;
    if (levels > PATH_SHOWN) {
        luaL_addstring(&b, "...");
        first = levels - PATH_SHOWN;
    }
    for (int i = first; i < levels; i++) {
        char number[32];
        if (e->path[i].key == 0) {
            snprintf(number, sizeof number, "[%lld]", (long long)e->path[i].index);
            luaL_addstring(&b, number);
        } else if (lua_type(L, e->path[i].key) == LUA_TSTRING) {
            luaL_addchar(&b, '.');
            size_t length;
            const char *key = lua_tolstring(L, e->path[i].key, &length);
            luaL_addlstring(&b, key, length > 40 ? 40 : length);
            if (length > 40)
                luaL_addstring(&b, "...");
        } else {
            snprintf(number, sizeof number, "[%lld]", (long long)lua_tointeger(L, e->path[i].key));
            luaL_addstring(&b, number);
        }
    }
    luaL_pushresult(&b);
}

/* Raises "<what> at <path>" (path of `levels` levels), with the script's position first. */
static int fail(encoder *e, const char *what, int levels) {
    push_path(e, levels);
    return luaL_error(e->L, "%s at %s", what, lua_tostring(e->L, -1));
}

/* What each byte becomes in a JSON string: 0 itself, 'u' \u00XX, '8' the start of a UTF-8
 * sequence to check, any other its short escape (\n...). "/" is not escaped. */
static const char string_class[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'u',
    [128] = '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
};

static const char hex_digits[] = "0123456789abcdef";

#define STRING_CHUNK 16384

/* Writes the string at stack index `index` quoted and escaped; `key` says whether it is an
 * object's key (for the message when it is not UTF-8). */
static void write_string(encoder *e, int index, int key) {
    size_t length;
    const unsigned char *s = (const unsigned char *)lua_tolstring(e->L, index, &length);
    ENSURE(e, 1);
    *e->p++ = '"';
    size_t i = 0;
    /* By chunks of STRING_CHUNK bytes, each with room for its worst case (\u00XX, and a UTF-8
     * sequence that starts in it and ends after it), so that the loop checks no room. */
    while (i < length) {
        size_t stop = length - i > STRING_CHUNK ? i + STRING_CHUNK : length;
        ENSURE(e, (stop - i) * 6 + 3);
        char *p = e->p;
        while (i < stop) {
            unsigned char c = s[i];
            char kind = string_class[c];
            if (kind == 0) {
                *p++ = (char)c;
                i++;
            } else if (kind == '8') {
                size_t n = utf8_sequence(s + i, length - i);
                if (n == 0) {
                    e->p = p;
                    char what[80];
                    snprintf(what, sizeof what, key ? "cannot write a key that is not UTF-8 (byte %zu) in the table"
                                                    : "cannot write a string that is not UTF-8 (byte %zu)", i + 1);
                    fail(e, what, key ? e->depth - 1 : e->depth);
                }
                memcpy(p, s + i, n);
                p += n;
                i += n;
            } else if (kind == 'u') {
                memcpy(p, "\\u00", 4);
                p[4] = hex_digits[c >> 4];
                p[5] = hex_digits[c & 15];
                p += 6;
                i++;
            } else {
                p[0] = '\\';
                p[1] = kind;
                p += 2;
                i++;
            }
        }
        e->p = p;
    }
    ENSURE(e, 1);
    *e->p++ = '"';
}

static char *put_integer(char *p, lua_Integer value) {
    char digits[24];
    int n = 0;
    unsigned long long u = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (value < 0)
        *p++ = '-';
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

/* A float as the shortest of %.15g, %.16g, %.17g that reads back as the same double, with
 * ".0" added when that looks like an integer (so that it reads back as a float), and "." as
 * the decimal point whatever the C locale says. */
static void write_float(encoder *e, lua_Number value) {
    if (value != value)
        fail(e, "JSON cannot hold nan", e->depth);
    if (value == HUGE_VAL || value == -HUGE_VAL)
        fail(e, value > 0 ? "JSON cannot hold inf" : "JSON cannot hold -inf", e->depth);
    char text[40];
    int length = 0;
    for (int precision = 15; precision <= 17; precision++) {
        length = snprintf(text, sizeof text, "%.*g", precision, (double)value);
        if (precision == 17 || strtod(text, NULL) == (double)value)
            break;
    }
    int plain = 1;
    for (int i = 0; i < length; i++) {
        char c = text[i];
        if (c == 'e')
            plain = 0;
        else if ((c < '0' || c > '9') && c != '-' && c != '+') {
            text[i] = '.';
            plain = 0;
        }
    }
    ENSURE(e, (size_t)length + 2);
    memcpy(e->p, text, (size_t)length);
    e->p += length;
    if (plain) {
        memcpy(e->p, ".0", 2);
        e->p += 2;
    }
}

static void write_value(encoder *e, int index);

/* Writes the table at `index`: an array when its keys are exactly 1..n (n >= 1) or it has the
 * mona.array metatable (then they must be), else an object, `{}` when empty. The kind is
 * decided from the keys alone before any value is written, so every value is written once:
 * deciding after writing (and writing again as an object) made the time double per level of
 * tables that mix items and named fields. The common case, keys 1, 2, 3... in lua_next's
 * order (the array part), is one pass over the keys; anything else is counted below. */
static void write_table(encoder *e, int index) {
    lua_State *L = e->L;
    const void *table = lua_topointer(L, index);
    for (int i = 0; i < e->depth; i++)
        if (e->tables[i] == table)
            fail(e, "cannot write a table that contains itself (a cycle)", e->depth);
    if (e->depth >= MONA_JSON_MAXDEPTH)
        fail(e, "cannot write tables nested deeper than 1000 levels", e->depth);
    if (!lua_checkstack(L, 4))
        fail(e, "cannot write: out of Lua stack", e->depth);
    int level = e->depth++;
    e->tables[level] = table;
    int marked = 0;
    if (lua_getmetatable(L, index)) {
        marked = lua_rawequal(L, -1, UV_ARRAY);
        lua_pop(L, 1);
    }
    lua_Integer n = 0;
    int sequential = 1;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) == n + 1) {
            n++;
        } else {
            lua_pop(L, 1);
            sequential = 0;
            break;
        }
    }
    if (sequential) {
        if (n == 0 && !marked) {
            ENSURE(e, 2);
            memcpy(e->p, "{}", 2);
            e->p += 2;
        } else {
            ENSURE(e, 1);
            *e->p++ = '[';
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1) {
                    ENSURE(e, 1);
                    *e->p++ = ',';
                }
                e->path[level].key = 0;
                e->path[level].index = i;
                lua_rawgeti(L, index, i);
                write_value(e, lua_gettop(L));
                lua_pop(L, 1);
            }
            ENSURE(e, 1);
            *e->p++ = ']';
        }
        e->depth--;
        return;
    }
    /* Keys 1..n in another order are an array still; anything else makes an object. */
    lua_Integer count = 0, largest = 0;
    int array = 1;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        count++;
        if (array) {
            if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
                lua_Integer key = lua_tointeger(L, -1);
                if (key > largest)
                    largest = key;
            } else {
                array = 0;
            }
        }
    }
    if (array && largest == count) {
        ENSURE(e, 1);
        *e->p++ = '[';
        for (lua_Integer i = 1; i <= count; i++) {
            if (i > 1) {
                ENSURE(e, 1);
                *e->p++ = ',';
            }
            e->path[level].key = 0;
            e->path[level].index = i;
            lua_rawgeti(L, index, i);
            write_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        ENSURE(e, 1);
        *e->p++ = ']';
        e->depth--;
        return;
    }
    if (marked)
        fail(e, "cannot write a mona.array whose keys are not 1..n", level);
    ENSURE(e, 1);
    *e->p++ = '{';
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        int key = lua_gettop(L) - 1;
        if (!first) {
            ENSURE(e, 1);
            *e->p++ = ',';
        }
        first = 0;
        e->path[level].key = key;
        if (lua_type(L, key) == LUA_TSTRING) {
            write_string(e, key, 1);
        } else if (lua_isinteger(L, key)) {
            ENSURE(e, 24);
            *e->p++ = '"';
            e->p = put_integer(e->p, lua_tointeger(L, key));
            *e->p++ = '"';
        } else {
            char what[80];
            snprintf(what, sizeof what, "cannot write a %s key (JSON keys are strings) in the table",
                     lua_type(L, key) == LUA_TNUMBER ? "float" : luaL_typename(L, key));
            fail(e, what, level);
        }
        ENSURE(e, 1);
        *e->p++ = ':';
        write_value(e, key + 1);
        lua_pop(L, 1);
    }
    ENSURE(e, 1);
    *e->p++ = '}';
    e->depth--;
}

static void write_value(encoder *e, int index) {
    lua_State *L = e->L;
    switch (lua_type(L, index)) {
    case LUA_TNIL:
        ENSURE(e, 4);
        memcpy(e->p, "null", 4);
        e->p += 4;
        return;
    case LUA_TBOOLEAN:
        ENSURE(e, 5);
        if (lua_toboolean(L, index)) {
            memcpy(e->p, "true", 4);
            e->p += 4;
        } else {
            memcpy(e->p, "false", 5);
            e->p += 5;
        }
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, index)) {
            ENSURE(e, 24);
            e->p = put_integer(e->p, lua_tointeger(L, index));
        } else {
            write_float(e, lua_tonumber(L, index));
        }
        return;
    case LUA_TSTRING:
        write_string(e, index, 0);
        return;
    case LUA_TTABLE:
        write_table(e, index);
        return;
    case LUA_TUSERDATA:
        if (lua_rawequal(L, index, UV_NULL)) {
            ENSURE(e, 4);
            memcpy(e->p, "null", 4);
            e->p += 4;
            return;
        }
        /* fall through */
    default: {
        char what[64];
        snprintf(what, sizeof what, "cannot write a %s", luaL_typename(L, index));
        fail(e, what, e->depth);
    }
    }
}

/* mona:toJSON(value) */
/* Argument 1 must be mona (a table) and the value argument 2: mona.toJSON(v), a dot for a
 * colon, would otherwise write nothing but "null". */
static void check_self(lua_State *L, int arguments, const char *name, const char *call) {
    if (lua_type(L, 1) != LUA_TTABLE || lua_gettop(L) < arguments)
        luaL_error(L, "bad argument #1 to '%s' (mona expected, then the value (call it as %s))", name, call);
}

static int to_json(lua_State *L) {
    check_self(L, 2, "toJSON", "mona:toJSON(value)");
    lua_settop(L, 2);
    encoder e;
    e.L = L;
    e.depth = 0;
    e.buffer = 3;
    buffer_header *cached = lua_touserdata(L, UV_CACHE);
    if (cached != NULL && !cached->busy) {
        cached->busy = 1;
        lua_pushvalue(L, UV_CACHE);
        e.header = cached;
    } else {
        e.header = new_buffer(L, BUFFER_FIRST);
    }
    e.base = e.p = (char *)(e.header + 1);
    e.end = e.base + e.header->capacity;
    write_value(&e, 2);
    lua_pushlstring(L, e.base, (size_t)(e.p - e.base));
    e.header->busy = 0;
    if (e.header->capacity <= BUFFER_KEPT) {
        lua_pushvalue(L, e.buffer);
        lua_replace(L, UV_CACHE);
    }
    return 1;
}

/* ---- Decoding --------------------------------------------------------------------------- */

typedef struct {
    lua_State *L;
    const unsigned char *start, *p, *end;
    int depth;
    const char *error;             /* what went wrong, NULL while all is well */
    const unsigned char *error_at; /* where */
} decoder;

/* Bytes a string's fast scan passes over: printable ASCII but '"' and '\\'. */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int stop(decoder *d, const char *what, const unsigned char *at) {
    d->error = what;
    d->error_at = at;
    return 0;
}

static void skip_space(decoder *d) {
    const unsigned char *p = d->p;
    while (p < d->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

static int hex_value(const unsigned char *p) {
    int value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= c - '0';
        else if (c >= 'a' && c <= 'f')
            value |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            value |= c - 'A' + 10;
        else
            return -1;
    }
    return value;
}

static char *put_utf8(char *out, unsigned code) {
    if (code < 0x80) {
        *out++ = (char)code;
    } else if (code < 0x800) {
        *out++ = (char)(0xC0 | (code >> 6));
        *out++ = (char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        *out++ = (char)(0xE0 | (code >> 12));
        *out++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *out++ = (char)(0x80 | (code & 0x3F));
    } else {
        *out++ = (char)(0xF0 | (code >> 18));
        *out++ = (char)(0x80 | ((code >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *out++ = (char)(0x80 | (code & 0x3F));
    }
    return out;
}

/* Pushes the string whose opening quote is at d->p. One pass finds its end and checks its
 * bytes; only a string with escapes is copied again, into a buffer no longer than the text. */
static int read_string(decoder *d) {
    const unsigned char *begin = d->p + 1, *q = begin, *end = d->end;
    int escaped = 0;
    for (;;) {
        while (q < end && plain_byte[*q])
            q++;
        if (q == end)
            return stop(d, "unterminated string", d->p);
        unsigned char c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = 1;
            q += 2; /* the escape itself is checked below */
            if (q > end)
                return stop(d, "unterminated string", d->p);
        } else if (c < 0x20) {
            return stop(d, "control character in a string", q);
        } else {
            size_t n = utf8_sequence(q, (size_t)(end - q));
            if (n == 0)
                return stop(d, "invalid UTF-8", q);
            q += n;
        }
    }
    d->p = q + 1;
    if (!escaped) {
        lua_pushlstring(d->L, (const char *)begin, (size_t)(q - begin));
        return 1;
    }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(d->L, &b, (size_t)(q - begin));
    char *o = out;
    for (const unsigned char *s = begin; s < q;) {
        if (*s != '\\') {
            *o++ = (char)*s++;
            continue;
        }
        const unsigned char *at = s;
        switch (s[1]) {
        case '"': *o++ = '"'; s += 2; break;
        case '\\': *o++ = '\\'; s += 2; break;
        case '/': *o++ = '/'; s += 2; break;
        case 'b': *o++ = '\b'; s += 2; break;
        case 'f': *o++ = '\f'; s += 2; break;
        case 'n': *o++ = '\n'; s += 2; break;
        case 'r': *o++ = '\r'; s += 2; break;
        case 't': *o++ = '\t'; s += 2; break;
        case 'u': {
            int code = q - s >= 6 ? hex_value(s + 2) : -1;
            if (code < 0)
                return stop(d, "invalid \\u escape", at);
            s += 6;
            if (code >= 0xDC00 && code <= 0xDFFF)
                return stop(d, "lone surrogate in a \\u escape", at);
            if (code >= 0xD800 && code <= 0xDBFF) {
                int low = q - s >= 6 && s[0] == '\\' && s[1] == 'u' ? hex_value(s + 2) : -1;
                if (low < 0xDC00 || low > 0xDFFF)
                    return stop(d, "lone surrogate in a \\u escape", at);
                s += 6;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            o = put_utf8(o, (unsigned)code);
            break;
        }
        default:
            return stop(d, "invalid escape", at);
        }
    }
    luaL_pushresultsize(&b, (size_t)(o - out));
    return 1;
}

/* Pushes the number at d->p (RFC 8259's grammar): an integer that fits 64 bits as a Lua
 * integer, any other as a float; a float beyond the double range is an error. */
static int read_number(decoder *d) {
    const unsigned char *begin = d->p, *p = begin, *end = d->end;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    const unsigned char *digits = p;
    if (p == end || *p < '0' || *p > '9')
        return stop(d, "invalid number", begin);
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return stop(d, "invalid number (leading zero)", begin);
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t integer_digits = (size_t)(p - digits);
    int is_float = 0;
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return stop(d, "invalid number", begin);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return stop(d, "invalid number", begin);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    d->p = p;
    if (!is_float && integer_digits <= 18) {
        lua_Integer value = 0;
        for (const unsigned char *s = digits; s < p; s++)
            value = value * 10 + (*s - '0');
        if (negative && value == 0)
            lua_pushnumber(d->L, -0.0); /* "-0" keeps its sign, as a float */
        else
            lua_pushinteger(d->L, negative ? -value : value);
        return 1;
    }
    /* Lua's own reader (integers that overflow become floats), on a NUL-terminated copy. */
    size_t length = (size_t)(p - begin);
    char local[64];
    const char *text;
    int copied = 0;
    if (length < sizeof local) {
        memcpy(local, begin, length);
        local[length] = '\0';
        text = local;
    } else {
        lua_pushlstring(d->L, (const char *)begin, length);
        text = lua_tostring(d->L, -1);
        copied = 1;
    }
    size_t read = lua_stringtonumber(d->L, text);
    if (copied) {
        if (read != 0)
            lua_remove(d->L, -2);
        else
            lua_pop(d->L, 1);
    }
    if (read == 0)
        return stop(d, "number out of range", begin);
    if (!lua_isinteger(d->L, -1)) {
        lua_Number value = lua_tonumber(d->L, -1);
        if (value == HUGE_VAL || value == -HUGE_VAL) {
            lua_pop(d->L, 1);
            return stop(d, "number out of range", begin);
        }
    }
    return 1;
}

static int read_value(decoder *d);

static int enter(decoder *d) {
    if (++d->depth > MONA_JSON_MAXDEPTH)
        return stop(d, "nesting deeper than 1000 levels", d->p);
    if (!lua_checkstack(d->L, 4))
        return stop(d, "out of Lua stack", d->p);
    return 1;
}

static int read_array(decoder *d) {
    if (!enter(d))
        return 0;
    lua_State *L = d->L;
    lua_newtable(L);
    lua_pushvalue(L, UV_ARRAY);
    lua_setmetatable(L, -2);
    d->p++;
    skip_space(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        d->depth--;
        return 1;
    }
    for (lua_Integer i = 1;; i++) {
        if (!read_value(d))
            return 0;
        lua_rawseti(L, -2, i);
        skip_space(d);
        if (d->p == d->end)
            return stop(d, "unexpected end", d->p);
        if (*d->p == ',') {
            d->p++;
        } else if (*d->p == ']') {
            d->p++;
            d->depth--;
            return 1;
        } else {
            return stop(d, "unexpected character", d->p);
        }
    }
}

static int read_object(decoder *d) {
    if (!enter(d))
        return 0;
    lua_State *L = d->L;
    lua_newtable(L);
    d->p++;
    skip_space(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        d->depth--;
        return 1;
    }
    for (;;) {
        if (d->p == d->end)
            return stop(d, "unexpected end", d->p);
        if (*d->p != '"')
            return stop(d, "unexpected character", d->p);
        if (!read_string(d))
            return 0;
        skip_space(d);
        if (d->p == d->end)
            return stop(d, "unexpected end", d->p);
        if (*d->p != ':')
            return stop(d, "unexpected character", d->p);
        d->p++;
        if (!read_value(d))
            return 0;
        lua_rawset(L, -3);
        skip_space(d);
        if (d->p == d->end)
            return stop(d, "unexpected end", d->p);
        if (*d->p == ',') {
            d->p++;
            skip_space(d);
        } else if (*d->p == '}') {
            d->p++;
            d->depth--;
            return 1;
        } else {
            return stop(d, "unexpected character", d->p);
        }
    }
}

static int read_literal(decoder *d, const char *word, size_t length) {
    if ((size_t)(d->end - d->p) < length || memcmp(d->p, word, length) != 0)
        return stop(d, "unexpected character", d->p);
    d->p += length;
    return 1;
}

static int read_value(decoder *d) {
    skip_space(d);
    if (d->p == d->end)
        return stop(d, "unexpected end", d->p);
    switch (*d->p) {
    case '"':
        return read_string(d);
    case '{':
        return read_object(d);
    case '[':
        return read_array(d);
    case 't':
        if (!read_literal(d, "true", 4))
            return 0;
        lua_pushboolean(d->L, 1);
        return 1;
    case 'f':
        if (!read_literal(d, "false", 5))
            return 0;
        lua_pushboolean(d->L, 0);
        return 1;
    case 'n':
        if (!read_literal(d, "null", 4))
            return 0;
        lua_pushvalue(d->L, UV_NULL);
        return 1;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return read_number(d);
    default:
        return stop(d, "unexpected character", d->p);
    }
}

/* mona:fromJSON(text): the value, or nil and "<what> at <position>" (1-based byte position). */
static int from_json(lua_State *L) {
    check_self(L, 1, "fromJSON", "mona:fromJSON(text)");
    size_t length;
    const char *text = luaL_checklstring(L, 2, &length);
    lua_settop(L, 2);
    decoder d;
    d.L = L;
    d.start = d.p = (const unsigned char *)text;
    d.end = d.start + length;
    d.depth = 0;
    d.error = NULL;
    d.error_at = NULL;
    if (read_value(&d)) {
        skip_space(&d);
        if (d.p == d.end)
            return 1;
        stop(&d, "unexpected character", d.p);
    }
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_pushfstring(L, "%s at %I", d.error, (lua_Integer)(d.error_at - d.start) + 1);
    return 2;
}

/* ---- Installation ----------------------------------------------------------------------- */

static int null_tostring(lua_State *L) {
    lua_pushliteral(L, "null");
    return 1;
}

void mona_json_install(lua_State *L) {
    lua_newuserdatauv(L, 0, 0); /* mona null */
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "mona.null");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "mona.null"); /* getmetatable(mona.null), as for MonaAot's other objects */
    lua_setfield(L, -2, "__metatable");
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setmetatable(L, -2);
    lua_createtable(L, 0, 1); /* mona null array */
    lua_pushliteral(L, "mona.array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -2);
    lua_setfield(L, -4, "null");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "array");
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_pushnil(L);
    lua_pushcclosure(L, to_json, 3);
    lua_setfield(L, -4, "toJSON");
    lua_pushcclosure(L, from_json, 2);
    lua_setfield(L, -2, "fromJSON");
}
