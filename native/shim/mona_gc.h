/* The Lua collector driven from the host, outside any script call: a step for the objects
 * released during a loop turn, and the full collection of the idle trim (docs/architecture.md,
 * "Memory upkeep"). lua_gc is varargs, which C# cannot call portably; and it raises no error
 * (its finalizer calls are protected), so these need no protected call. */
#ifndef MONA_GC_H
#define MONA_GC_H

#include <lua.h>

#include "mona_api.h"

/* Collector work as if `kb` KiB had been allocated (LUA_GCSTEP); 1 when a cycle ended in it.
 * Inside a finalizer Lua refuses and this does nothing. */
MONA_API int mona_gcstep(lua_State *L, int kb);

/* A full collection (LUA_GCCOLLECT), finalizers run. Both do nothing while a script has
 * stopped the collector. */
MONA_API void mona_gccollect(lua_State *L);

#endif
