// The Lua C API as Swift can see it, plus the few pieces that must be C.
//
// Swift cannot import function-like macros or call variadic C functions, so
// the ones onced needs are re-exposed here as static inline functions.
//
// A Lua error is a longjmp and must never unwind through a Swift frame. So:
// - errors are raised only from C: the budget hook and the trampolines
//   below, which call a Swift callback that *returns* a status and then raise
//   the error themselves;
// - the allocator fails only while rule code runs (`enforcing`), so the
//   stack pushes Swift makes between calls cannot raise a memory error.
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


// MARK: - Budgets: memory per state, instructions per call

/// Which budget a call spent (clua_budget.tripped).
enum {
    CLUA_WITHIN = 0,
    CLUA_SPENT_INSTRUCTIONS = 1,
    /// The allocator refused a block: the memory cap.
    CLUA_SPENT_MEMORY = 2,
};

/// Per-state accounting, owned by the Swift wrapper and handed to Lua as the allocator's ud.
typedef struct {
    size_t used;
    size_t limit;
    /// Non-zero while rule code runs; only then may an allocation fail.
    int enforcing;
    /// Instructions allowed per hook call.
    int instruction_budget;
    /// CLUA_WITHIN, or the budget spent; the hook then raises on every instruction.
    int tripped;
    /// The state itself, so the allocator can arm the hook when it refuses a block.
    lua_State *state;
} clua_budget;

static void clua_budget_hook(lua_State *L, lua_Debug *ar);

/// Marks `budget` spent and makes the hook fire before every instruction from
/// now until the call returns, so a pcall in the rule cannot swallow it.
/// Allocates nothing (lua_sethook is safe even in a signal handler).
static inline void clua_trip(clua_budget *budget, int which) {
    if (budget->tripped == CLUA_WITHIN) budget->tripped = which;
    lua_sethook(budget->state, clua_budget_hook, LUA_MASKCOUNT, 1);
}

/// lua_Alloc with a cap. Never fails a shrink or a free (the manual's contract).
/// A refused block fails the allocation (Lua raises LUA_ERRMEM, which a pcall
/// could catch) and trips the budget, which the hook then raises again.
static inline void *clua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    clua_budget *budget = (clua_budget *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        budget->used -= old;
        return NULL;
    }
    if (nsize > old && budget->enforcing && budget->used - old + nsize > budget->limit) {
        clua_trip(budget, CLUA_SPENT_MEMORY);
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL && nsize <= old) return ptr;  /* a shrink keeps the old block */
    if (block != NULL) budget->used = budget->used - old + nsize;
    return block;
}

static inline clua_budget *clua_budget_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (clua_budget *)ud;
}

static void clua_budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    clua_budget *budget = clua_budget_of(L);
    if (budget->tripped == CLUA_WITHIN) clua_trip(budget, CLUA_SPENT_INSTRUCTIONS);
    luaL_error(L, budget->tripped == CLUA_SPENT_MEMORY ? "memory limit exceeded" : "instruction budget exceeded");
}

static inline lua_State *clua_newstate(clua_budget *budget) {
    lua_State *L = lua_newstate(clua_alloc, budget);
    budget->state = L;
    if (L) luaL_openlibs(L);
    return L;
}

/// One budgeted protected call: arms the budget, calls, disarms. Sets *tripped
/// to the budget that ran out (CLUA_WITHIN if none). Returns lua_pcall's status.
static inline int clua_budgeted_pcall(lua_State *L, int nargs, int nresults, int *tripped) {
    clua_budget *budget = clua_budget_of(L);
    budget->tripped = CLUA_WITHIN;
    budget->enforcing = 1;
    lua_sethook(L, clua_budget_hook, LUA_MASKCOUNT, budget->instruction_budget);
    int status = lua_pcall(L, nargs, nresults, 0);
    budget->enforcing = 0;
    lua_sethook(L, NULL, 0, 0);
    *tripped = budget->tripped;
    return status;
}

// MARK: - One rule's property hook over many properties

/// What happened to each property in clua_each_property (Swift sets RUN or SKIP).
enum {
    CLUA_SKIP = 0,
    CLUA_RUN = 1,
    /// The hook returned nothing, or the very value it was given.
    CLUA_KEPT = 2,
    /// The hook returned something else: it is in results[i].
    CLUA_RETURNED = 3,
    /// The hook raised: the error object is in results[i].
    CLUA_FAILED = 4,
    CLUA_TRIPPED = 5,
    CLUA_NOMEM = 6,
};

/// Whether two values are the same scalar (an integer is not the same as an equal float;
/// a table never counts: the hook may have changed it in place).
static inline int clua_same_scalar(lua_State *L, int a, int b) {
    int type = lua_type(L, a);
    if (type != lua_type(L, b) || type == LUA_TTABLE) return 0;
    if (type == LUA_TNUMBER && lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
    return (type == LUA_TSTRING || type == LUA_TBOOLEAN || type == LUA_TNUMBER) && lua_rawequal(L, a, b);
}

/// Arguments: status (light userdata, one signed char per property), count, hook,
/// names, values, ctx, results. Calls hook(names[i], values[i], ctx) under the
/// budgets for each i whose status is CLUA_RUN and records what it did. The
/// chain's hot loop lives here, in C: a call per property from Swift cost
/// more than the hook itself.
static int clua_each_property_(lua_State *L) {
    signed char *status = (signed char *)lua_touserdata(L, 1);
    lua_Integer count = lua_tointeger(L, 2);
    clua_budget *budget = clua_budget_of(L);
    luaL_checkstack(L, 8, "rule chain");
    for (lua_Integer i = 1; i <= count; i++) {
        if (status[i - 1] != CLUA_RUN) continue;
        lua_pushvalue(L, 3);
        lua_rawgeti(L, 4, i);
        lua_rawgeti(L, 5, i);
        lua_pushvalue(L, 6);
        int tripped = 0;
        int outcome = clua_budgeted_pcall(L, 3, 1, &tripped);
        if (budget->used > budget->limit / 2) lua_gc(L, LUA_GCCOLLECT, 0);
        if (outcome != LUA_OK) {
            status[i - 1] = tripped == CLUA_SPENT_INSTRUCTIONS ? CLUA_TRIPPED
                          : tripped == CLUA_SPENT_MEMORY || outcome == LUA_ERRMEM ? CLUA_NOMEM : CLUA_FAILED;
            lua_rawseti(L, 7, i);
            continue;
        }
        lua_rawgeti(L, 5, i);
        int kept = lua_isnil(L, -2) || clua_same_scalar(L, -2, -1);
        lua_pop(L, 1);
        if (kept) {
            status[i - 1] = CLUA_KEPT;
            lua_pop(L, 1);
        } else {
            status[i - 1] = CLUA_RETURNED;
            lua_rawseti(L, 7, i);
        }
    }
    return 0;
}

/// Pushes clua_each_property_, to be called (protected) with its seven arguments.
static inline void clua_push_each_property(lua_State *L) { lua_pushcfunction(L, clua_each_property_); }

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

#endif
