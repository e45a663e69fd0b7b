/* See mona_guard.h. */
#include "mona_guard.h"

#include <lauxlib.h>

/* Instructions between two looks of the stop hook while nothing is armed. */
#define BASE_COUNT 1000

mona_scripts *mona_scriptsofstate(lua_State *L) {
    mona_heap *heap = mona_heapof(L);
    return heap != NULL ? mona_scriptsof(heap) : NULL;
}

int mona_protectedcall(lua_State *L, int nargs, int nresults, int msgh) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    int in_host = 0;
    if (scripts != NULL) {
        if (scripts->depth++ == 0)
            scripts->calls++;
        in_host = scripts->in_host; /* a host function calling back into scripts */
        scripts->in_host = 0;
    }
    int status = lua_pcall(L, nargs, nresults, msgh);
    if (scripts != NULL) {
        scripts->in_host = in_host;
        scripts->depth--;
    }
    return status;
}

static const char *signal_name(int signal) {
    switch (signal) {
    case MONA_SIGINT: return "SIGINT";
    case MONA_SIGTERM: return "SIGTERM";
    default: return "a signal";
    }
}

/* Whether the running call is to be stopped, by the watchdog or by a signal. */
static int stopping(const mona_scripts *scripts) {
    unsigned long long calls = scripts->calls;
    return scripts->depth > 0 && (scripts->armed == calls || scripts->interrupted == calls);
}

static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mona_scripts *scripts = mona_scriptsofstate(L);
    /* Pairs with mona_guard_interrupt's fence: a hook it installed sees what it marked. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (scripts == NULL || !stopping(scripts)) {
        if (scripts == NULL || scripts->timeout_s == 0) /* a signal's hook, its call is over */
            lua_sethook(L, NULL, 0, 0);
        else if (lua_gethookcount(L) != BASE_COUNT) /* back from stopping an earlier call */
            lua_sethook(L, stop_hook, LUA_MASKCOUNT, BASE_COUNT);
        return;
    }
    /* From now on at every instruction, in this thread and the main one: a script that catches
     * the error gets it again at its first instruction after the catch, so each catching
     * level unwinds in turn. */
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (main != NULL && main != L)
        lua_sethook(main, stop_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0); /* the function that was running */
    if (scripts->interrupted == scripts->calls)
        lua_pushfstring(L, "interrupted by %s", signal_name(scripts->signal));
    else
        lua_pushfstring(L, "handler stopped after running %d s ([lua] handlerTimeout)", scripts->timeout_s);
    lua_concat(L, 2);
    lua_error(L);
}

void mona_guard_install(lua_State *L, int timeout_s) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    if (scripts == NULL)
        return;
    scripts->timeout_s = timeout_s;
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, BASE_COUNT);
}

int mona_watchdog_tick(lua_State *L, unsigned long long *seen, int *ticks, int limit) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    if (scripts == NULL)
        return 0;
    unsigned long long calls = scripts->calls;
    if (scripts->depth == 0 || calls != *seen) {
        *seen = calls;
        *ticks = 0;
        return 0;
    }
    if (++*ticks < limit || scripts->armed == calls)
        return 0;
    scripts->armed = calls;
    return 1;
}

int mona_guard_interrupt(lua_State *L, int signal) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    if (scripts == NULL || scripts->depth == 0)
        return 0;
    /* depth first, then calls: a call that started in between is the one running now. */
    unsigned long long calls = scripts->calls;
    scripts->signal = signal;
    scripts->interrupted = calls;
    /* The marks are visible before the hook that reads them (the loop thread may run on
     * another core; volatile alone orders nothing there). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (lua_gethook(L) == NULL) /* handlerTimeout = 0: nothing looks until we ask */
        lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    return 1;
}
