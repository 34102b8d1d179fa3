// Rule budgets (SPEC §4): memory per Lua state, CPU time per hook call and per
// request, and the chain's property loop that runs hooks under them.
//
// A budget costs nothing while a rule stays inside it: no hook is set while a
// call runs. A watchdog thread samples the CPU clock of each thread running a
// rule; once a call (or its request) has spent its budget, the watchdog sends
// that thread a signal, and the handler — on the rule's own thread, where Lua
// allows it — sets a count hook of 1 (lua.c stops a script on SIGINT the same
// way). From then on the hook raises at every instruction until the call
// returns, so a pcall in the rule cannot swallow it. The memory cap trips the
// same hook from the allocator.
#ifndef ONCED_CLUA_BUDGET_H
#define ONCED_CLUA_BUDGET_H

#include <lua5.4/lua.h>
#include <stddef.h>

/// Which budget a call spent.
enum {
    CLUA_WITHIN = 0,
    /// The CPU time of one hook call.
    CLUA_SPENT_CALL = 1,
    /// The CPU time of all of one request's hook calls.
    CLUA_SPENT_REQUEST = 2,
    /// The allocator refused a block: the memory cap.
    CLUA_SPENT_MEMORY = 3,
};

/// What happened to each property in the property loop (Swift sets RUN or SKIP).
enum {
    CLUA_SKIP = 0,
    CLUA_RUN = 1,
    /// The hook returned nothing, or the very value it was given.
    CLUA_KEPT = 2,
    /// The hook returned something else: it is in results[i].
    CLUA_RETURNED = 3,
    /// The hook raised: the error object is in results[i].
    CLUA_FAILED = 4,
    /// The hook call's CPU budget ran out.
    CLUA_TRIPPED = 5,
    CLUA_NOMEM = 6,
    /// The request's CPU budget had run out: the hook did not run, or was stopped.
    CLUA_TRIPPED_REQUEST = 7,
};

/// One Lua state's budgets; Lua's allocator ud.
typedef struct clua_budget clua_budget;

/// A new budget, registered with the watchdog (started on first use). NULL if out of memory.
clua_budget *clua_budget_new(size_t memory_limit, long long call_budget_ns, long long request_budget_ns);
/// Unregisters and frees the budget of a closed state.
void clua_budget_free(clua_budget *budget);
/// A state whose allocator is capped by `budget`, with the standard libraries open.
lua_State *clua_newstate(clua_budget *budget);
/// Bytes the state holds now.
size_t clua_budget_used(const clua_budget *budget);

/// Starts a request on this thread: its hook calls share the request budget.
void clua_begin_request(clua_budget *budget);
void clua_end_request(clua_budget *budget);

/// One budgeted protected call. Sets *tripped to the budget that ran out
/// (CLUA_WITHIN if none). Returns lua_pcall's status; when the request's budget
/// is already spent the function is not called (its slots become the message).
int clua_budgeted_pcall(lua_State *L, int nargs, int nresults, int *tripped);

/// Pushes the property loop, to be called (protected) with: status (light
/// userdata, one signed char per property), count, hook, names, values, ctx,
/// results. It calls hook(names[i], values[i], ctx) under the budgets for each
/// i whose status is CLUA_RUN and records what it did; returns how many it did
/// not keep. The chain's hot loop lives in C: a call per property from Swift
/// cost more than the hook itself.
void clua_push_each_property(lua_State *L);

#endif
