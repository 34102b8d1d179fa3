// The floor for calling a rule's property hook: the raw Lua C API, no sandbox,
// no budget, no conversions beyond reading the result in place.
//
//   lua_hook_baseline RULE.lua CALLS
// loads RULE.lua (with a stub `once`), then calls its property hook CALLS times
// with (name, value, ctx) — a prebuilt ctx, as the engine reuses one per request —
// and prints nanoseconds per call. No hook is set: the floor Lua itself sets.
#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int reject(lua_State *L) { lua_newtable(L); return 1; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s RULE.lua CALLS\n", argv[0]); return 2; }
    long calls = atol(argv[2]);
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    lua_pushcfunction(L, reject);
    lua_setfield(L, -2, "reject");
    lua_setglobal(L, "once");
    if (luaL_dofile(L, argv[1]) != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); return 1; }
    lua_getfield(L, -1, "property");
    int hook = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_pushstring(L, "FY12345678"); lua_setfield(L, -2, "workspace");
    lua_pushstring(L, "live"); lua_setfield(L, -2, "version");
    lua_pushstring(L, "user-1"); lua_setfield(L, -2, "distinct_id");
    lua_pushstring(L, "set_once"); lua_setfield(L, -2, "op");
    int ctx = luaL_ref(L, LUA_REGISTRYINDEX);
    const char *names[4] = { "cohort", "cohort_b", "cohort_c", "cohort_d" };
    const char *values[4] = { " Cohort 2024 Q1 ", "cohort_a", "COHORT_B", "cohort c" };
    size_t sink = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < calls; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, hook);
        lua_pushstring(L, names[i & 3]);
        lua_pushstring(L, values[i & 3]);
        lua_rawgeti(L, LUA_REGISTRYINDEX, ctx);
        int status = lua_pcall(L, 3, 1, 0);
        if (status != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); return 1; }
        if (lua_type(L, -1) == LUA_TSTRING) { size_t length; lua_tolstring(L, -1, &length); sink += length; }
        lua_pop(L, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("%.1f\n", ns / calls);
    return sink == 0 ? 3 : 0;
}
