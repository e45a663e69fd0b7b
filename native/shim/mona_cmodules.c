/* See mona_cmodules.h for the contract. */
#include "mona_cmodules.h"

#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "mona_guard.h"

#define REFUSED "C modules are disabled ([lua] cmodules = false): "

/* A searcher in place of Lua's C searcher (upvalue 2 false) or all-in-one searcher (true, the
 * name's root: "a" for "a.b"). It looks where Lua's would, with package.searchpath as it was at
 * installation (upvalue 3) over the current package.cpath (upvalue 1 is the package table), and
 * raises rather than opening what it finds: a script learns that its module exists and why it
 * does not load, instead of "not found". */
static int refused_searcher(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int root = lua_toboolean(L, lua_upvalueindex(2));
    const char *dot = strchr(name, '.');
    if (root && dot == NULL)
        return 0; /* Lua's all-in-one searcher has nothing to say about a name without a root either */
    lua_pushvalue(L, lua_upvalueindex(3));
    if (root)
        lua_pushlstring(L, name, (size_t)(dot - name));
    else
        lua_pushvalue(L, 1);
    if (lua_getfield(L, lua_upvalueindex(1), "cpath") != LUA_TSTRING)
        return luaL_error(L, "'package.cpath' must be a string");
    lua_call(L, 2, 1);
    if (lua_isstring(L, -1))
        return luaL_error(L, REFUSED "%s", name);
    if (root)
        return 0;
    lua_pushliteral(L, "no C module: [lua] cmodules = false");
    return 1;
}

static int refused_loadlib(lua_State *L) {
    return luaL_error(L, REFUSED "%s", luaL_checkstring(L, 1));
}

static int refuse(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, LUA_LOADLIBNAME) != LUA_TTABLE)
        return luaL_error(L, "no package library to refuse C modules in");
    int package = lua_gettop(L);
    if (lua_getfield(L, package, "searchers") != LUA_TTABLE || lua_rawlen(L, -1) != 4
        || lua_getfield(L, package, "searchpath") != LUA_TFUNCTION)
        return luaL_error(L, "package.searchers is not Lua's own: C modules cannot be refused");
    int searchers = package + 1, searchpath = package + 2;
    for (int root = 0; root <= 1; root++) {
        lua_pushvalue(L, package);
        lua_pushboolean(L, root);
        lua_pushvalue(L, searchpath);
        lua_pushcclosure(L, refused_searcher, 3);
        lua_rawseti(L, searchers, 3 + root);
    }
    lua_pushcfunction(L, refused_loadlib);
    lua_setfield(L, package, "loadlib");
    return 0;
}

int mona_cmodules_refuse(lua_State *L) {
    lua_pushcfunction(L, refuse);
    return mona_protectedcall(L, 0, 0, 0);
}
