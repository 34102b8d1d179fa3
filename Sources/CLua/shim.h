// The Lua C API as Swift can see it, plus the few pieces that must be C.
//
// Swift cannot import function-like macros or call variadic C functions, so
// the ones onced needs are re-exposed here as static inline functions.
//
// A Lua error is a longjmp and must never unwind through a Swift frame. So:
// - errors are raised only from C: the budget hook (CLuaBudget) and the
//   trampolines below, which call a Swift callback that *returns* a status and
//   then raise the error themselves;
// - the allocator fails only while rule code runs (`enforcing`), so the
//   stack pushes Swift makes between calls cannot raise a memory error.
//
// Code with state of its own (the budgets' watchdog, its signal handler) lives
// in the CLuaBudget target, compiled once: a static in this header would be
// one copy per Swift file that uses it.
#ifndef ONCED_CLUA_SHIM_H
#define ONCED_CLUA_SHIM_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Macros Swift cannot see

static inline int clua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
/// Only call on a value whose type is LUA_TSTRING (numbers would be converted in place, which allocates).
static inline const char *clua_tolstring(lua_State *L, int index, size_t *len) {
    return lua_tolstring(L, index, len);
}
static inline void clua_pop(lua_State *L, int n) { lua_settop(L, -(n) - 1); }
static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline lua_Integer clua_tointegerx(lua_State *L, int index, int *isnum) { return lua_tointegerx(L, index, isnum); }
static inline lua_Number clua_tonumberx(lua_State *L, int index, int *isnum) { return lua_tonumberx(L, index, isnum); }
static inline int clua_isinteger(lua_State *L, int index) { return lua_isinteger(L, index); }
static inline int clua_gc_collect(lua_State *L) { return lua_gc(L, LUA_GCCOLLECT, 0); }


// MARK: - Trampolines: Lua -> C -> Swift callback -> C (which may raise)

/// A Swift callback: reads `input` (len bytes, or NULL for a non-string argument
/// with `number` set), writes up to `capacity` bytes to `output`, and returns the
/// output length, -1 for nil, or -2 for an error whose message is in `output`.
typedef long (*clua_callback)(void *context, const char *input, size_t length, lua_Number number,
                              int is_number, char *output, size_t capacity);

#define CLUA_OUTPUT_CAPACITY 512

/// The context pointer Swift sets for the current call, in the state's extra space.
static inline void clua_set_context(lua_State *L, void *context) { *(void **)lua_getextraspace(L) = context; }

static int clua_trampoline(lua_State *L) {
    clua_callback callback = (clua_callback)lua_touserdata(L, lua_upvalueindex(1));
    size_t length = 0;
    const char *input = NULL;
    lua_Number number = 0;
    int is_number = 0;
    int type = lua_type(L, 1);
    if (type == LUA_TSTRING) {
        input = lua_tolstring(L, 1, &length);
    } else if (type == LUA_TNUMBER) {
        number = lua_tonumber(L, 1);
        is_number = 1;
    } else if (type != LUA_TNONE && type != LUA_TNIL) {
        return luaL_error(L, "expected a string or a number, got %s", lua_typename(L, type));
    }
    char output[CLUA_OUTPUT_CAPACITY];
    long result = callback(*(void **)lua_getextraspace(L), input, length, number, is_number, output, sizeof output);
    if (result == -2) {
        output[sizeof output - 1] = 0;
        return luaL_error(L, "%s", output);
    }
    if (result < 0) {
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, output, (size_t)result);
    }
    return 1;
}

/// Pushes a Lua function that calls `callback` through the trampoline.
static inline void clua_push_callback(lua_State *L, clua_callback callback) {
    lua_pushlightuserdata(L, (void *)callback);
    lua_pushcclosure(L, clua_trampoline, 1);
}

// MARK: - Request hooks: was req.properties left as it was?

/// Pushes a new table with the entries of the table at `index` (the values themselves, not copies).
static inline void clua_push_shallow_copy(lua_State *L, int index) {
    index = lua_absindex(L, index);
    lua_createtable(L, 0, 8);
    int copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        lua_pushvalue(L, -2);
        lua_rotate(L, -2, 1);
        lua_rawset(L, copy);
    }
}

/// Whether the tables at `a` and `b` hold the same keys, each with the very same
/// scalar (an integer is not the same as an equal float; a table value counts as
/// changed, since it may have been changed in place). Outside rule code only.
static inline int clua_same_entries(lua_State *L, int a, int b) {
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);
    if (lua_type(L, a) != LUA_TTABLE || lua_type(L, b) != LUA_TTABLE) return 0;
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, a) != 0) {
        count++;
        lua_pushvalue(L, -2);
        lua_rawget(L, b);
        int type = lua_type(L, -1);
        int same = type != LUA_TTABLE && lua_rawequal(L, -1, -2)
            && (type != LUA_TNUMBER || lua_isinteger(L, -1) == lua_isinteger(L, -2));
        lua_settop(L, -3);
        if (!same) {
            lua_settop(L, -2);
            return 0;
        }
    }
    lua_pushnil(L);
    while (lua_next(L, b) != 0) {
        count--;
        lua_settop(L, -2);
    }
    return count == 0;
}

// MARK: - ctx: read-only, its fields made when first read

/// Room for any field of ctx: a distinct_id is at most 255 scalars, 1,020 bytes of UTF-8.
#define CLUA_CONTEXT_CAPACITY 1088

/// `ctx`'s __index (upvalue 1: a clua_callback): asks Swift for the field
/// `key` and keeps it in the table, so the next read of it is a plain lookup.
/// Most hooks never read ctx: building its six strings for every request cost
/// more than a trivial hook.
static int clua_context_index(lua_State *L) {
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushnil(L);
        return 1;
    }
    clua_callback callback = (clua_callback)lua_touserdata(L, lua_upvalueindex(1));
    size_t length = 0;
    const char *key = lua_tolstring(L, 2, &length);
    char output[CLUA_CONTEXT_CAPACITY];
    long result = callback(*(void **)lua_getextraspace(L), key, length, 0, 0, output, sizeof output);
    if (result < 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, output, (size_t)result);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

static int clua_context_newindex(lua_State *L) { return luaL_error(L, "ctx is read-only"); }

/// Pushes a metatable for ctx whose fields come from `callback`; writes raise.
static inline void clua_push_context_metatable(lua_State *L, clua_callback callback) {
    lua_createtable(L, 0, 3);
    lua_pushlightuserdata(L, (void *)callback);
    lua_pushcclosure(L, clua_context_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, clua_context_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "ctx");
    lua_setfield(L, -2, "__metatable");
}

#endif
