/* JSON for scripts: mona:toJSON(value), mona:fromJSON(text), mona.null and mona.array
 * (docs/api.md, "JSON"), written in C on the Lua stack so that a call allocates nothing but
 * its result, and so that its errors are raised here, never through a C# frame. */
#ifndef MONA_JSON_H
#define MONA_JSON_H

#include <lua.h>

#include "mona_api.h"

/* The deepest nesting either way: one level more is an error (and a cycle is one as well). */
#define MONA_JSON_MAXDEPTH 1000

/* Sets toJSON, fromJSON, null and array in the table on top of the stack (the mona table).
 * mona.null is a zero-sized userdata that prints as "null"; mona.array is the metatable that
 * marks a table as a JSON array (how `[]` is written, and what every decoded array gets). The
 * two functions hold both as upvalues, so several Lua states in one process each have their
 * own. Raises only on memory exhaustion (called from C# under mona_pcall-free setup code, at
 * start, like the other table building). */
MONA_API void mona_json_install(lua_State *L);

#endif
