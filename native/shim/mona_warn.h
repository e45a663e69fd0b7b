/* The state's warning function (lua_setwarnf): Lua's warnings, assembled from their pieces,
 * handed to the host. Lua warns of two things: warn() from a script, and an error raised in a
 * __gc metamethod, which Lua catches (a finalizer has no caller to raise to) and reports as
 * the pieces "error in ", "__gc", " (", message, ")". The first are shown only after
 * warn("@on") (off by default, as in the standalone lua); the second always
 * (docs/api.md, "warn and errors in __gc"). */
#ifndef MONA_WARN_H
#define MONA_WARN_H

#include <lua.h>
#include <stddef.h>

#include "mona_api.h"

/* What a complete warning is. */
#define MONA_WARN_SCRIPT 0 /* warn() from a script, while warnings are on */
#define MONA_WARN_GC     1 /* an error in a __gc metamethod: "error in __gc (message)" */

/* The most bytes of one warning handed over; a longer one is cut and ends with "...". */
#define MONA_WARN_MAX 2048

/* Receives each complete warning, NUL-terminated, with its length. It may run inside any
 * allocation of the state (a collection step runs finalizers), a host function's included, so
 * it must neither call into the state nor raise. */
typedef void (*mona_warnsink)(void *context, const char *text, size_t length, int kind);

typedef struct mona_warn mona_warn;

/* Makes `sink` (with `context`) the state's warning function from now on. Returns what to free
 * with mona_freewarn after lua_close (lua_close runs the last finalizers, which may warn), or
 * NULL when out of memory (the state keeps its warning function). */
MONA_API mona_warn *mona_setwarn(lua_State *L, mona_warnsink sink, void *context);

MONA_API void mona_freewarn(mona_warn *warn);

#endif
