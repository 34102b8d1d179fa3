// The floor for calling a rule's property hook: the raw Lua C API, no sandbox,
// no budget, no conversions beyond reading the result in place.
//
//   lua_hook_baseline RULE.lua CALLS [budget]
// loads RULE.lua (with a stub `once`), then calls its property hook CALLS times
// with (name, value, ctx) — a prebuilt ctx, as the engine reuses one per request —
// and prints nanoseconds per call. With `budget`, each call also runs under a
// count hook of 1,000,000 instructions, as the engine's calls do: the price of
// an instruction budget in Lua itself, apart from anything onced adds.
#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int reject(lua_State *L) { lua_newtable(L); return 1; }
static void budget_hook(lua_State *L, lua_Debug *ar) { (void)ar; luaL_error(L, "instruction budget exceeded"); }

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: %s RULE.lua CALLS [budget]\n", argv[0]); return 2; }
    long calls = atol(argv[2]);
    int budgeted = argc == 4;
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
        if (budgeted) lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1000000);
        int status = lua_pcall(L, 3, 1, 0);
        if (budgeted) lua_sethook(L, NULL, 0, 0);
        if (status != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); return 1; }
        if (lua_type(L, -1) == LUA_TSTRING) { size_t length; lua_tolstring(L, -1, &length); sink += length; }
        lua_pop(L, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("%.1f\n", ns / calls);
    return sink == 0 ? 3 : 0;
}
