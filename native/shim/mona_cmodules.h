/* [lua] cmodules = false: Lua C modules refused (docs/api.md, "Lua C modules"). */
#ifndef MONA_CMODULES_H
#define MONA_CMODULES_H

#include <lua.h>

#include "mona_api.h"

/* Replaces Lua's two C searchers (package.searchers[3] and [4]) and package.loadlib, so that no
 * shared object is ever opened: a require that would have loaded one raises "C modules are
 * disabled ([lua] cmodules = false): NAME", package.loadlib raises the same with its path, and a
 * module found nowhere gets Lua's usual "module 'NAME' not found" with the line "no C module:
 * [lua] cmodules = false". Lua modules (searchers 1 and 2) load as before. Must run on a state
 * whose package.searchers is still Lua's own four (right after the libraries are opened).
 * Returns LUA_OK, or an error status with the message on the stack. */
MONA_API int mona_cmodules_refuse(lua_State *L);

#endif
