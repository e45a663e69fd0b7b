/* See mona_binding.h for the contract of each function. The direct send (mona_send.c) is the
 * one other C file that enters mona_trampoline, for everything it does not send itself. */
#include "mona_binding.h"

#include "mona_guard.h"

#include <lauxlib.h>
#include <string.h>

int mona_trampoline(lua_State *L) {
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
    lua_pushcclosure(L, mona_trampoline, n + 1);
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
 * below the message handler for the length of the call (at `fn`); on a memory error the
 * message on top becomes "source:line: not enough memory" with a one-frame traceback, the
 * shape of every other script error. Formatting it allocates, but after the outermost
 * protected call (or within a host function) the memory limit no longer holds (mona_alloc.h). */
static void name_memory_error(lua_State *L, int fn) {
    lua_Debug ar;
    lua_pushvalue(L, fn);
    if (lua_getinfo(L, ">S", &ar))
        lua_pushfstring(L, "%s:%d: not enough memory\nstack traceback:\n\t%s:%d: in function <%s:%d> "
                           "(Lua unwinds a memory error before a traceback can be taken)",
                        ar.short_src, ar.linedefined, ar.short_src, ar.linedefined, ar.short_src, ar.linedefined);
    else
        lua_pushliteral(L, "not enough memory");
    lua_replace(L, -2);
}

/* The stack is as mona_pcall leaves it. */
static int call_handler(lua_State *L, int nargs, int nresults, int msgh) {
    lua_pushvalue(L, -(nargs + 1));
    lua_insert(L, msgh);                             /* fn-copy msgh fn args */
    int status = mona_protectedcall(L, nargs, nresults, msgh + 1);
    if (status == LUA_ERRMEM)
        name_memory_error(L, msgh);
    lua_remove(L, msgh);
    return status;
}

/* The per-message events build their call frame in place, with no lua_insert or lua_remove:
 * each is a lua_rotate over the stack, and they were 6% of a ping-pong message's instructions
 * (docs/performance.md, "Issue 19: CPU per message"). From `top`, the frame is
 *   top+1 traceback, top+2 self (left there: moving it costs a call), top+3 the handler's copy
 *   (for name_memory_error), top+4 handler, top+5 self
 * in seven API calls, and event_frame returns 1 with it pushed, or 0 with the stack unchanged
 * when the userdata at registry[ref] has no function under the string registry[name] in its
 * fields table (user value 1). The name comes interned from the registry: lua_pushstring of a
 * C string costs its string cache look-up and a strcmp per message (docs/performance.md,
 * "Issue 19: CPU per message"). */
static int event_frame(lua_State *L, int top, int ref, int name) {
    lua_pushcfunction(L, traceback);                               /* traceback */
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, ref) != LUA_TUSERDATA    /* traceback self */
        || lua_getiuservalue(L, top + 2, 1) != LUA_TTABLE) {       /* traceback self fields */
        lua_settop(L, top);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, name);
    if (lua_rawget(L, top + 3) != LUA_TFUNCTION) {                 /* traceback self fields handler */
        lua_settop(L, top);
        return 0;
    }
    lua_copy(L, top + 4, top + 3);                                 /* traceback self handler handler */
    lua_pushvalue(L, top + 2);                                     /* traceback self handler handler self */
    return 1;
}

/* Calls the frame event_frame built, with `nargs` arguments pushed after self. On success the
 * results start at top+4; on error the message is at top+1 and the stack ends there. */
static int event_call(lua_State *L, int top, int nargs, int nresults) {
    int status = mona_protectedcall(L, 1 + nargs, nresults, top + 1);
    if (status != LUA_OK) {
        if (status == LUA_ERRMEM)
            name_memory_error(L, top + 3);
        lua_copy(L, -1, top + 1);
        lua_settop(L, top + 1);
    }
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

int mona_callerowner(lua_State *L, int owners) {
    lua_Debug ar;
    owners = lua_absindex(L, owners);
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "f", &ar))  /* pushes the function running at that level */
            continue;
        if (!lua_iscfunction(L, -1)) {
            for (int i = 1; ; i++) {
                const char *name = lua_getupvalue(L, -1, i);
                if (name == NULL)
                    break;
                if (strcmp(name, "_ENV") == 0) {
                    if (lua_rawget(L, owners) != LUA_TNIL) { /* function owner */
                        lua_remove(L, -2);
                        return 1;
                    }
                    lua_pop(L, 1);
                    break;
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    return 0;
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

int mona_reception(lua_State *L, int ref, int name, const char *data, size_t length, lua_Number *rest) {
    int top = lua_gettop(L);
    *rest = 0;
    if (!event_frame(L, top, ref, name))
        return 0;
    lua_pushlstring(L, data, length);
    if (event_call(L, top, 1, 1) != LUA_OK)
        return -1;
    if (lua_type(L, -1) == LUA_TNUMBER)
        *rest = lua_tonumber(L, -1);
    lua_settop(L, top);
    return 1;
}

int mona_datagram(lua_State *L, int ref, int name, const char *data, size_t length, int sender) {
    int top = lua_gettop(L);
    if (!event_frame(L, top, ref, name))
        return 0;
    lua_pushlstring(L, data, length);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sender);
    if (event_call(L, top, 2, 0) != LUA_OK)
        return -1;
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
