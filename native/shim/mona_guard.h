/* Protected calls into scripts, and the stop for one running too long ([lua] handlerTimeout). */
#ifndef MONA_GUARD_H
#define MONA_GUARD_H

#include <lua.h>

#include "mona_alloc.h"
#include "mona_api.h"

/* lua_pcall, counted as script code running (mona_scripts: the memory limit applies, the
 * watchdog watches). Every call from the host into Lua goes through it. */
MONA_API int mona_protectedcall(lua_State *L, int nargs, int nresults, int msgh);

/* The state's script bookkeeping, or NULL when its allocator is not MonaAot's. */
MONA_API mona_scripts *mona_scriptsofstate(lua_State *L);

/* Installs the stop hook: a count hook on the main thread, which every coroutine created
 * later inherits. It does nothing until the watchdog arms the running call; then it raises
 * "<where>: handler stopped after running N s ([lua] handlerTimeout)" in whatever thread runs,
 * and again at every instruction of that call, so a script that catches the error cannot keep
 * looping, not even inside a coroutine. The cost while nothing is armed is Lua's count-hook
 * check at each instruction. */
MONA_API void mona_guard_install(lua_State *L, int timeout_s);

/* Called by the watchdog thread every quarter of the timeout, never by the loop thread; it
 * calls no Lua function, it only reads the loop's counters and sets `armed`. `seen` and
 * `ticks` are the watchdog's own memory between calls. Arms the running call when it has been
 * running for `limit` ticks; returns 1 when it armed. */
MONA_API int mona_watchdog_tick(lua_State *L, unsigned long long *seen, int *ticks, int limit);

/* The signals mona_guard_interrupt names in its message. */
#define MONA_SIGINT 1
#define MONA_SIGTERM 2

/* Stops the script call running now because the process received `signal` (MONA_SIG*): the
 * stop hook raises "<where>: interrupted by SIGTERM" in it, and again at every instruction of
 * that call, as for the watchdog. Called from a signal-handling thread while the loop thread
 * may be running scripts: it calls no Lua function but lua_gethook. With no stop hook there
 * ([lua] handlerTimeout = 0) one is installed on the main thread, at count 1, by the thread
 * running scripts itself: on POSIX a private real-time signal (SIGRTMIN + 7) is sent to it, and
 * its handler calls lua_sethook, which Lua allows during a signal on the thread running Lua
 * (lua.c's SIGINT handler does the same; from another thread it would race with the call
 * chain). That hook removes itself once the call has ended, so a server never signalled pays
 * nothing. A coroutine
 * running without a hook (created before the signal, handlerTimeout = 0) cannot be reached
 * from here: it is stopped when control comes back to the main thread. Returns 1 when a call
 * was running (its stop is under way), 0 when none was. */
MONA_API int mona_guard_interrupt(lua_State *L, int signal);

#endif
