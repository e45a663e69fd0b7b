/* See mona_guard.h. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* sigaction, pthread_kill under -std=c11 */
#endif
#include "mona_guard.h"

#include <lauxlib.h>

#ifndef _WIN32
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#endif

/* Instructions between two looks of the stop hook while nothing is armed. */
#define BASE_COUNT 1000

/* mona_scriptsofstate is defined in mona_alloc.c, next to the heap it reads: asked on every
 * protected call, it is one lua_getallocf there, not three calls across files
 * (docs/performance.md, "Issue 19: CPU per message"). */

#ifndef _WIN32
/* The scripts whose calls this thread runs: what the hook signal's handler acts on. Per
 * thread, not one global, because every Lua state has its own thread (the tests run several
 * at once) and two interrupts at the same time must each reach their own. Set before any
 * interrupt can target this thread (the thread id is published with it), so the handler's read
 * finds the variable's storage already made. */
static _Thread_local mona_scripts *thread_scripts;
#endif

int mona_protectedcall(lua_State *L, int nargs, int nresults, int msgh) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    int in_host = 0;
    if (scripts != NULL) {
        if (scripts->depth == 0) {
            /* calls before depth, released: an interrupt that sees depth > 0 reads the
             * number of this call, never the one before it. */
            __atomic_store_n(&scripts->calls, scripts->calls + 1, __ATOMIC_RELAXED);
#ifndef _WIN32
            scripts->thread = (unsigned long)pthread_self(); /* a thread-pointer read */
            thread_scripts = scripts;
#endif
            scripts->main = L;
        }
        __atomic_store_n(&scripts->depth, scripts->depth + 1, __ATOMIC_RELEASE);
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

#ifndef _WIN32
/* POSIX: the hook is set by the thread that runs scripts, in the handler of a private
 * real-time signal sent to it. lua_sethook is safe "during a signal" on the thread running Lua
 * (lua.c's SIGINT handler); from another thread it would walk a call chain that the running
 * thread is changing. SIGRTMIN itself is the .NET runtime's (thread activation). */
#define HOOK_SIGNAL (SIGRTMIN + 7)

static void on_hook_signal(int signal) {
    (void)signal;
    int saved = errno;
    mona_scripts *scripts = thread_scripts;
    if (scripts != NULL && scripts->main != NULL && lua_gethook(scripts->main) == NULL)
        lua_sethook(scripts->main, stop_hook, LUA_MASKCOUNT, 1);
    errno = saved;
}

static pthread_once_t hook_signal_once = PTHREAD_ONCE_INIT;

static void install_hook_signal(void) {
    struct sigaction action = {0};
    action.sa_handler = on_hook_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(HOOK_SIGNAL, &action, NULL);
}

static void set_hook(mona_scripts *scripts) {
    pthread_once(&hook_signal_once, install_hook_signal);
    pthread_kill((pthread_t)scripts->thread, HOOK_SIGNAL);
}
#else
/* Windows has no way to run code on a given thread at an instruction boundary: the hook is
 * set from the signal's thread (the call chain race is there; Windows signals are console
 * events, once per process). */
static void set_hook(mona_scripts *scripts) {
    lua_sethook(scripts->main, stop_hook, LUA_MASKCOUNT, 1);
}
#endif

int mona_guard_interrupt(lua_State *L, int signal) {
    mona_scripts *scripts = mona_scriptsofstate(L);
    if (scripts == NULL || __atomic_load_n(&scripts->depth, __ATOMIC_ACQUIRE) == 0)
        return 0;
    /* depth (acquired) first, then calls: the call that made depth non-zero, or a later one. */
    unsigned long long calls = __atomic_load_n(&scripts->calls, __ATOMIC_RELAXED);
    scripts->signal = signal;
    scripts->interrupted = calls;
    /* The marks are visible before the hook that reads them (the loop thread may run on
     * another core; volatile alone orders nothing there). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (lua_gethook(L) == NULL) /* handlerTimeout = 0: nothing looks until we ask */
        set_hook(scripts);
    return 1;
}
