/* The C side of MonaAot's Lua binding: host functions behind a trampoline, protected calls
 * with a traceback, the per-message event calls, method lookup, the userdata block and the
 * text of log lines and positions. C# never raises a Lua error itself (a longjmp over a
 * managed frame aborts the process under GC load): host functions return MONA_RAISE with the
 * message on top of the stack, and mona_trampoline raises it once C# has returned.
 * The other concerns of the shim have their own files: the direct send (mona_send.h), the file
 * probe (mona_file.h), the layout probes (mona_probe.h), the allocator (mona_alloc.h) and the
 * protected calls with their stop (mona_guard.h). */
#ifndef MONA_BINDING_H
#define MONA_BINDING_H

#include <lua.h>

#include "mona_api.h"

/* Returned by a host function to ask the trampoline to raise the value on top of the stack. */
#define MONA_RAISE (-1)

/* Returned as MONA_ARGERROR(n) by a host function to raise luaL_argerror for argument n, with
 * the string on top of the stack as the detail: "bad argument #n to 'f' (detail)". Lua itself
 * then names the function and accounts for a method call's self. */
#define MONA_ARGERROR(n) (-1 - (n))

/* Pushes a C closure that calls host function `fn` (a C# [UnmanagedCallersOnly] pointer).
 * The closure's upvalue 1 is `fn`; upvalues 2..n+1 are the `n` values popped from the stack,
 * so host functions read their own upvalues from index 2. */
MONA_API void mona_pushhostfunction(lua_State *L, lua_CFunction fn, int n);

/* The closure mona_pushhostfunction pushes: calls the host function in upvalue 1 (counted as
 * host code in mona_scripts.in_host) and, once it has returned, raises what it asked for
 * (MONA_RAISE, MONA_ARGERROR) or returns its results. For the shim's own closures that fall
 * back to a host function with the same upvalues (mona_send.c); not exported. */
MONA_INTERNAL int mona_trampoline(lua_State *L);

/* The block of every MonaAot userdata (ScriptType.Handle in C#, same layout). fd, direct,
 * partial and sends are the sockets layer's direct-write gate (DirectWriteGate in
 * src/MonaAot.Core/Net/DirectWriteGate.cs), embedded here so that a TCPClient's send fast path
 * finds it in its self: the binding hands the gate to the C# connection, which keeps `direct`
 * at 1 exactly while it is connected with nothing queued; send(data) then goes straight to
 * send(2) on `fd`; `partial` tells the host function how many bytes of a short send already
 * went; `sends` counts direct sends, for the idle-connection sweeper. On Windows `fd` holds the socket's SOCKET handle, which
 * fits in an int (kernel handles are 32-bit values, sign-extended to 64 bits). The send fast
 * path itself is mona_send.c; the layout probes (mona_probe.h) let the server compare this
 * struct with the C# one at every start. */
typedef struct {
    int id, generation, type;
    int fd, direct, partial;
    unsigned sends;
} mona_handle;

/* lua_pcall with a traceback message handler. On error the message (with traceback) is on
 * top of the stack. Never raises. */
MONA_API int mona_pcall(lua_State *L, int nargs, int nresults);

/* Pushes t[name] where t is the table at `index`, with metamethods unless `raw`. Returns
 * LUA_OK, or an error status with the message pushed instead. Never raises. */
MONA_API int mona_pgetfield(lua_State *L, int index, const char *name, int raw);

/* Replaces the `n` values on top of the stack with their log text: concatenated without
 * separator, nil as "(null)", booleans as "(true)"/"(false)", others through __tostring.
 * Returns LUA_OK, or an error status with the message on top. Never raises. */
MONA_API int mona_logtext(lua_State *L, int n);

/* Source (short form) and current line of the function `level` levels up the call stack.
 * Returns 0 when there is no such level. Never raises. */
MONA_API int mona_where(lua_State *L, int level, const char **source, int *line);

/* Source (short form) and first line of the function at `index` (what "function <file:line>"
 * names in a traceback): where the handler lives that a message about an event is about,
 * once it has returned. Returns 0, with "?" and 0, when the value is not a function. The
 * source is valid until the next call on this thread. Never raises. */
MONA_API int mona_definedat(lua_State *L, int index, const char **source, int *line);

/* The value that the table at `owners` keeps for the _ENV of the innermost Lua function on the
 * call stack whose _ENV is one of its keys: pushes it and returns 1, or pushes nothing and
 * returns 0 when no function on the stack runs in such an environment. What owns an object
 * made by library code (a chunk of `require` or `load`, whose _ENV is the global table): the
 * application whose code called it. Never raises. */
MONA_API int mona_callerowner(lua_State *L, int owners);

/* The per-message path of Lua objects, each in one call instead of several from C#:
 *
 * mona_pushevent: pushes the function stored under `name` in the fields table (user value 1)
 * of the userdata at registry[ref], then that userdata (handler, self), and returns 1; pushes
 * nothing and returns 0 when there is no such function. Never raises (no allocation: a
 * registry lookup and raw gets, `name` a short literal already interned by the first call).
 *
 * mona_pushindex: pops a methods table and a property function (a host function) and pushes
 * an __index closure that answers method names from the table and everything else through the
 * property function, so that `obj:send(data)` does not cross into C# to find `send`.
 *
 * mona_touserdata: the block of the full userdata at `index` if it is exactly `size` bytes
 * (ours), else NULL: type, size and pointer in one call. */
MONA_API int mona_pushevent(lua_State *L, int ref, const char *name);

/* onReception in one call: calls the handler named by the string at registry[name]
 * (onReception) of the userdata at registry[ref] as handler(self, data) with a traceback; stores its first result in *rest when it is a
 * number (else 0). Returns 1 when called, 0 when there is no handler (stack unchanged both
 * times), -1 on error with the message on top. */
MONA_API int mona_reception(lua_State *L, int ref, int name, const char *data, size_t length, lua_Number *rest);
/* A datagram in one call: calls the handler named by the string at registry[name] of the
 * userdata at registry[ref] as
 * handler(self, data, registry[sender]) with a traceback (the sender's address string, which
 * the caller keeps referenced). Returns 1 when called, 0 when there is no handler (stack
 * unchanged both times), -1 on error with the message on top. */
MONA_API int mona_datagram(lua_State *L, int ref, int name, const char *data, size_t length, int sender);
/* A Lua timer's firing in one call: calls the function in user value 2 of the userdata at
 * registry[ref] as fn(elapsed) with a traceback; stores its first result in *next when it is
 * a number (else 0). Returns 1 when called, 0 when there is no such function (stack unchanged
 * both times), -1 on error with the message on top. */
MONA_API int mona_calltimer(lua_State *L, int ref, lua_Integer elapsed, lua_Number *next);
MONA_API void mona_pushindex(lua_State *L);
MONA_API void *mona_touserdata(lua_State *L, int index, size_t size);

#endif
