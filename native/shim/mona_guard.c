/* See mona_guard.h. */
#include "mona_guard.h"

#include "mona_alloc.h"

#include <lauxlib.h>

int mona_protectedcall(lua_State *L, int nargs, int nresults, int msgh) {
    mona_heap *heap = mona_heapof(L);
    mona_scripts *scripts = heap != NULL ? mona_scriptsof(heap) : NULL;
    if (scripts != NULL && scripts->depth++ == 0)
        scripts->calls++;
    int status = lua_pcall(L, nargs, nresults, msgh);
    if (scripts != NULL)
        scripts->depth--;
    return status;
}

static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mona_heap *heap = mona_heapof(L);
    mona_scripts *scripts = heap != NULL ? mona_scriptsof(heap) : NULL;
    if (scripts == NULL || scripts->depth == 0 || scripts->armed != scripts->calls) {
        lua_sethook(L, NULL, 0, 0); /* that call is over: this one is innocent */
        return;
    }
    /* From now on at every instruction: a script that catches the error gets it again at the
     * first instruction after its pcall, so each catching level unwinds in turn. */
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0); /* the function that was running */
    lua_pushfstring(L, "handler stopped after running %d s ([lua] handlerTimeout)", scripts->timeout_s);
    lua_concat(L, 2);
    lua_error(L);
}

int mona_watchdog_tick(lua_State *L, unsigned long long *seen, int *ticks, int limit, int timeout_s) {
    mona_heap *heap = mona_heapof(L);
    if (heap == NULL)
        return 0;
    mona_scripts *scripts = mona_scriptsof(heap);
    unsigned long long calls = scripts->calls;
    if (scripts->depth == 0 || calls != *seen) {
        *seen = calls;
        *ticks = 0;
        return 0;
    }
    if (++*ticks < limit || scripts->armed == calls)
        return 0;
    scripts->timeout_s = timeout_s;
    scripts->armed = calls;
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1000);
    return 1;
}
