/* Protected calls into scripts, and the watchdog that stops one running too long
 * ([lua] handlerTimeout). */
#ifndef MONA_GUARD_H
#define MONA_GUARD_H

#include <lua.h>

/* lua_pcall, counted as script code running (mona_scripts: the memory limit applies, the
 * watchdog watches). Every call from the host into Lua goes through it. */
int mona_protectedcall(lua_State *L, int nargs, int nresults, int msgh);

/* Called by the watchdog thread every quarter of the timeout, never by the loop thread.
 * `seen` and `ticks` are the watchdog's own memory between calls. When the same outermost call
 * has been running for `limit` ticks, installs a count hook (lua_sethook is safe to call
 * from another thread: lua.c does it from a signal handler) that raises
 * "<where>: handler stopped after N s" in that call, then again at every instruction until
 * the call has returned, so a script that catches the error cannot keep looping. Returns 1
 * when it armed. */
int mona_watchdog_tick(lua_State *L, unsigned long long *seen, int *ticks, int limit, int timeout_s);

#endif
