// The Lua C API as Swift can see it.
//
// Swift cannot import function-like macros or call variadic C functions, so
// the few of those onced needs are re-exposed here as static inline functions.
// Everything that may raise a Lua error (longjmp) stays on the C side: a Lua
// error must never unwind through a Swift frame.
#ifndef ONCED_CLUA_SHIM_H
#define ONCED_CLUA_SHIM_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

static inline int clua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline const char *clua_tostring(lua_State *L, int index) {
    return lua_tolstring(L, index, NULL);
}
static inline void clua_pop(lua_State *L, int n) { lua_settop(L, -(n) - 1); }
static inline void clua_newtable(lua_State *L) { lua_createtable(L, 0, 0); }
static inline int clua_isnoneornil(lua_State *L, int index) { return lua_type(L, index) <= 0; }
static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline lua_Integer clua_tointegerx(lua_State *L, int index, int *isnum) {
    return lua_tointegerx(L, index, isnum);
}

#endif
