/* See mona_shim.h for the contract of each function. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* st_mtim under -std=c11 */
#endif
#include "mona_shim.h"

#include "mona_guard.h"

#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h> /* before windows.h, which would bring the old winsock.h */
#include <limits.h>
#include <stdlib.h>
#include <windows.h>
#else
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#endif

static int trampoline(lua_State *L) {
    lua_CFunction fn = (lua_CFunction)lua_touserdata(L, lua_upvalueindex(1));
    /* While C# runs, no allocation may fail (mona_scripts.in_host): a Lua error raised there
     * would unwind through C# frames. */
    mona_scripts *scripts = mona_scriptsofstate(L);
    if (scripts != NULL)
        scripts->in_host++;
    int results = fn(L);
    if (scripts != NULL)
        scripts->in_host--;
    /* C# has returned: from here a longjmp crosses only C frames. */
    if (results == MONA_RAISE)
        return lua_error(L);
    if (results < MONA_RAISE)
        return luaL_argerror(L, MONA_RAISE - results, lua_tostring(L, -1));
    return results;
}

void mona_pushhostfunction(lua_State *L, lua_CFunction fn, int n) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_insert(L, -(n + 1));
    lua_pushcclosure(L, trampoline, n + 1);
}

/* One send on the connection's socket, again when a signal interrupts it: the bytes the kernel
 * took, or -1 for anything else (would block, or an error), which the host function then
 * meets itself and handles. */
static long long send_once(int fd, const char *data, size_t length) {
#ifdef _WIN32
    /* Winsock: `fd` is the SOCKET handle, sign-extended back to its 64 bits (mona_handle). No
     * SIGPIPE to suppress on Windows (flags 0), a length that is an int (a longer string is a
     * short send, whose rest the host function queues) and the error in WSAGetLastError(), not
     * errno. WSAEWOULDBLOCK needs no case of its own: like EAGAIN, the host function queues. */
    int chunk = length > INT_MAX ? INT_MAX : (int)length;
    int sent;
    do
        sent = send((SOCKET)(INT_PTR)fd, data, chunk, 0);
    while (sent == SOCKET_ERROR && WSAGetLastError() == WSAEINTR);
    return sent == SOCKET_ERROR ? -1 : sent;
#else
    ssize_t sent;
    do
        sent = send(fd, data, length, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent;
#endif
}

/* Upvalues: 1 the host function, 2 its context, 3 the type's tag, 4 the bytes-sent counter. */
static int direct_send(lua_State *L) {
    if (lua_gettop(L) == 2 && lua_type(L, 1) == LUA_TUSERDATA && lua_type(L, 2) == LUA_TSTRING
        && lua_rawlen(L, 1) == sizeof(mona_handle)) {
        mona_handle *self = lua_touserdata(L, 1);
        if (self->direct && self->type == (int)lua_tointeger(L, lua_upvalueindex(3))) {
            size_t length;
            const char *data = lua_tolstring(L, 2, &length);
            long long sent = send_once(self->fd, data, length);
            if (sent > 0) {
                *(long long *)lua_touserdata(L, lua_upvalueindex(4)) += sent;
                self->sends++;
            }
            if (sent == (long long)length)
                return 0;
            if (sent > 0)
                self->partial = (int)sent; /* the host function queues the rest */
        }
    }
    return trampoline(L); /* everything else: the host function, with its full checks */
}

void mona_pushdirectsend(lua_State *L, lua_CFunction fn, int tag, long long *bytes_sent) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_insert(L, -2);
    lua_pushinteger(L, tag);
    lua_pushlightuserdata(L, bytes_sent);
    lua_pushcclosure(L, direct_send, 4);
}

static int traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}

/* Lua raises a memory error without calling the message handler (luaM_error throws
 * LUA_ERRMEM straight from the allocation, ldo.c), so the error is the bare preallocated
 * "not enough memory": no position, no traceback, and the stack is gone once lua_pcall
 * returns. The function that was called is what is left to name, so a copy of it is kept
 * below the message handler `msgh` for the length of the call; on a memory error the message
 * becomes "source:line: not enough memory" with a one-frame traceback, the shape of every
 * other script error. Formatting it allocates, but after the outermost protected call (or
 * within a host function) the memory limit no longer holds (mona_alloc.h). The stack is as
 * mona_protectedcall leaves it. */
static int call_handler(lua_State *L, int nargs, int nresults, int msgh) {
    lua_pushvalue(L, -(nargs + 1));
    lua_insert(L, msgh);                             /* fn-copy msgh fn args */
    int status = mona_protectedcall(L, nargs, nresults, msgh + 1);
    if (status == LUA_ERRMEM) {
        lua_Debug ar;
        lua_pushvalue(L, msgh);
        if (lua_getinfo(L, ">S", &ar))
            lua_pushfstring(L, "%s:%d: not enough memory\nstack traceback:\n\t%s:%d: in function <%s:%d> "
                               "(Lua unwinds a memory error before a traceback can be taken)",
                            ar.short_src, ar.linedefined, ar.short_src, ar.linedefined, ar.short_src, ar.linedefined);
        else
            lua_pushliteral(L, "not enough memory");
        lua_replace(L, -2);
    }
    lua_remove(L, msgh);
    return status;
}

int mona_pcall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs; /* index of the function */
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int status = call_handler(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/* Runs protected. The key comes as a light userdata, so that nothing before lua_pcall
 * allocates (and so nothing outside the protection can fail). */
static int getfield(lua_State *L) {
    const char *name = (const char *)lua_touserdata(L, 2);
    int raw = lua_toboolean(L, 3);
    lua_settop(L, 1);
    lua_pushstring(L, name);
    if (raw)
        lua_rawget(L, 1);
    else
        lua_gettable(L, 1);
    return 1;
}

int mona_pgetfield(lua_State *L, int index, const char *name, int raw) {
    index = lua_absindex(L, index);
    lua_pushcfunction(L, getfield);
    lua_pushvalue(L, index);
    lua_pushlightuserdata(L, (void *)name);
    lua_pushboolean(L, raw);
    return mona_protectedcall(L, 3, 1, 0);
}

static int logtext(lua_State *L) {
    int n = lua_gettop(L);
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    for (int i = 1; i <= n; i++) {
        switch (lua_type(L, i)) {
        case LUA_TNIL:
            luaL_addstring(&buffer, "(null)");
            break;
        case LUA_TBOOLEAN:
            luaL_addstring(&buffer, lua_toboolean(L, i) ? "(true)" : "(false)");
            break;
        default:
            luaL_tolstring(L, i, NULL);
            luaL_addvalue(&buffer);
            break;
        }
    }
    luaL_pushresult(&buffer);
    return 1;
}

int mona_logtext(lua_State *L, int n) {
    lua_pushcfunction(L, logtext);
    lua_insert(L, -(n + 1));
    return mona_protectedcall(L, n, 1, 0);
}

int mona_where(lua_State *L, int level, const char **source, int *line) {
    static const char unknown[] = "?";
    lua_Debug ar;
    if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "Sl", &ar)) {
        *source = unknown;
        *line = 0;
        return 0;
    }
    /* short_src lives in `ar`, which dies on return: keep it in a per-thread buffer. */
    static _Thread_local char where[LUA_IDSIZE];
    memcpy(where, ar.short_src, LUA_IDSIZE);
    *source = where;
    *line = ar.currentline;
    return 1;
}

int mona_definedat(lua_State *L, int index, const char **source, int *line) {
    static const char unknown[] = "?";
    static _Thread_local char where[LUA_IDSIZE];
    lua_Debug ar;
    if (lua_type(L, index) != LUA_TFUNCTION) {
        *source = unknown;
        *line = 0;
        return 0;
    }
    lua_pushvalue(L, index);
    lua_getinfo(L, ">S", &ar); /* pops the copy; "S" formats into `ar` and never allocates */
    memcpy(where, ar.short_src, LUA_IDSIZE);
    *source = where;
    *line = ar.linedefined > 0 ? ar.linedefined : 0;
    return 1;
}

int mona_pushevent(lua_State *L, int ref, const char *name) {
    int base = lua_gettop(L);
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, ref) == LUA_TUSERDATA  /* self */
        && lua_getiuservalue(L, -1, 1) == LUA_TTABLE) {         /* self fields */
        lua_pushstring(L, name);
        if (lua_rawget(L, -2) != LUA_TFUNCTION)                  /* self fields handler */
            goto none;
        lua_replace(L, -2);                                      /* self handler */
        lua_insert(L, -2);                                       /* handler self */
        return 1;
    }
none:
    lua_settop(L, base);
    return 0;
}

int mona_reception(lua_State *L, int ref, const char *data, size_t length, lua_Number *rest) {
    int top = lua_gettop(L);
    *rest = 0;
    /* The message handler goes in first, so the call needs no rotation of the stack (as
     * mona_pcall does); it is removed only on the error path. */
    lua_pushcfunction(L, traceback);
    if (!mona_pushevent(L, ref, "onReception")) {
        lua_settop(L, top);
        return 0;
    }
    lua_pushlstring(L, data, length);
    if (call_handler(L, 2, 1, top + 1) != LUA_OK) {
        lua_remove(L, top + 1);
        return -1;
    }
    if (lua_type(L, -1) == LUA_TNUMBER)
        *rest = lua_tonumber(L, -1);
    lua_settop(L, top);
    return 1;
}

int mona_calltimer(lua_State *L, int ref, lua_Integer elapsed, lua_Number *next) {
    int top = lua_gettop(L);
    *next = 0;
    lua_pushcfunction(L, traceback);                             /* msgh */
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, ref) != LUA_TUSERDATA  /* msgh timer */
        || lua_getiuservalue(L, -1, 2) != LUA_TFUNCTION) {       /* msgh timer fn */
        lua_settop(L, top);
        return 0;
    }
    lua_remove(L, -2);                                           /* msgh fn */
    lua_pushinteger(L, elapsed);
    if (call_handler(L, 1, 1, top + 1) != LUA_OK) {
        lua_remove(L, top + 1);
        return -1;
    }
    if (lua_type(L, -1) == LUA_TNUMBER)
        *next = lua_tonumber(L, -1);
    lua_settop(L, top);
    return 1;
}

static int index_closure(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1); /* the property function raises through its trampoline */
    return 1;
}

void mona_pushindex(lua_State *L) {
    lua_pushcclosure(L, index_closure, 2);
}

void *mona_touserdata(lua_State *L, int index, size_t size) {
    if (lua_type(L, index) != LUA_TUSERDATA || lua_rawlen(L, index) != size)
        return NULL;
    return lua_touserdata(L, index);
}

#ifdef _WIN32
/* Windows: the UTF-8 path becomes UTF-16 (the CRT's narrow stat would read it in the ANSI code
 * page), on the stack unless it is very long. GetFileAttributesExW rather than _wstat64: its
 * write time comes in 100 ns steps where _wstat64 has whole seconds, in which two saves of the
 * same size would look alike to the www watcher. Unlike stat, it describes a symbolic link
 * itself, not its target. */
int mona_stat(const char *path, long long *mtime_ns, long long *size) {
    wchar_t stack[1024];
    wchar_t *wide = stack;
    int length = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    if (length <= 0)
        return -1;
    if (length > (int)(sizeof stack / sizeof stack[0])) {
        wide = malloc((size_t)length * sizeof *wide);
        if (wide == NULL)
            return -1;
    }
    WIN32_FILE_ATTRIBUTE_DATA data;
    BOOL found = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide, length) > 0
                 && GetFileAttributesExW(wide, GetFileExInfoStandard, &data);
    if (wide != stack)
        free(wide);
    if (!found)
        return -1;
    /* FILETIME: 100 ns ticks since 1601-01-01; 11644473600 s separate it from 1970-01-01. */
    long long ticks = (long long)(((unsigned long long)data.ftLastWriteTime.dwHighDateTime << 32)
                                  | data.ftLastWriteTime.dwLowDateTime);
    *mtime_ns = (ticks - 116444736000000000LL) * 100;
    *size = (long long)(((unsigned long long)data.nFileSizeHigh << 32) | data.nFileSizeLow);
    return (data.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? 1 : 0;
}
#else
int mona_stat(const char *path, long long *mtime_ns, long long *size) {
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    *size = (long long)st.st_size;
    return S_ISDIR(st.st_mode) ? 1 : 0;
}
#endif

int mona_sizeof_handle(void) { return (int)sizeof(mona_handle); }
int mona_offsetof_handle_sends(void) { return (int)offsetof(mona_handle, sends); }
#ifdef _WIN32
/* No epoll on Windows: kept so that the DLL exports what Shim.cs declares, answering -1. */
int mona_sizeof_epoll_event(void) { return -1; }
int mona_offsetof_epoll_event_data(void) { return -1; }
#else
int mona_sizeof_epoll_event(void) { return (int)sizeof(struct epoll_event); }
int mona_offsetof_epoll_event_data(void) { return (int)offsetof(struct epoll_event, data); }
#endif
