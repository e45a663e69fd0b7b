/* The Lua collector driven from the host: see mona_gc.h. */
#include "mona_gc.h"

/* A script that stopped the collector (collectgarbage("stop")) keeps it stopped: LUA_GCSTEP
 * would run it regardless. */
int mona_gcstep(lua_State *L, int kb) { return lua_gc(L, LUA_GCISRUNNING) && lua_gc(L, LUA_GCSTEP, kb) == 1; }

void mona_gccollect(lua_State *L) {
    if (lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCCOLLECT);
}
