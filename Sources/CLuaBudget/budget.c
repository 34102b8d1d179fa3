// Rule budgets and the budgeted property loop: see clua_budget.h.
//
// Who writes what: the rule's thread writes the call and request fields and
// `tripped`; the watchdog writes only the `spent_*` fields. Both sides use
// atomics, and the signal handler touches nothing but atomics and lua_sethook.
#define _GNU_SOURCE
#include "clua_budget.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/// One Lua state's budgets. Allocated by clua_budget_new; Lua's allocator ud.
struct clua_budget {
    size_t used;
    size_t limit;
    /// Non-zero while rule code runs; only then may an allocation fail.
    int enforcing;
    /// CLUA_WITHIN, or the budget spent in the current call.
    volatile int tripped;  /* the signal handler may set it */
    lua_State *state;
    long long call_budget_ns;
    long long request_budget_ns;

    /// Serial of the current (or last) call; changes at every call.
    _Atomic unsigned long call;
    _Atomic int in_call;
    /// Serial of the current request; 0 between requests.
    _Atomic unsigned long request;
    /// The thread running the current request, and its CPU clock.
    _Atomic pthread_t thread;
    _Atomic clockid_t clock;

    /// Written by the watchdog: the call / request found over budget.
    _Atomic unsigned long spent_call;
    _Atomic unsigned long spent_request;

    /// The watchdog's own notes (only it reads and writes them).
    unsigned long seen_call, seen_request;
    long long call_started_ns, request_started_ns;
    struct clua_budget *next;
};

size_t clua_budget_used(const clua_budget *budget) { return budget->used; }

static void clua_budget_hook(lua_State *L, lua_Debug *ar);

/// Marks `budget` spent and makes the hook fire before every instruction from
/// now until the call returns. Allocates nothing (lua_sethook is safe even in a
/// signal handler). Runs on the rule's thread only.
static inline void clua_trip(clua_budget *budget, int which) {
    if (budget->tripped == CLUA_WITHIN) budget->tripped = which;
    lua_sethook(budget->state, clua_budget_hook, LUA_MASKCOUNT, 1);
}

static inline clua_budget *clua_budget_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (clua_budget *)ud;
}

static void clua_budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    clua_budget *budget = clua_budget_of(L);
    switch (budget->tripped) {
    case CLUA_SPENT_MEMORY: luaL_error(L, "memory limit exceeded"); break;
    case CLUA_SPENT_REQUEST: luaL_error(L, "request rule budget exceeded"); break;
    case CLUA_SPENT_CALL: luaL_error(L, "rule budget exceeded"); break;
    default: lua_sethook(L, NULL, 0, 0);  /* a stale signal: nothing was spent */
    }
}

/// lua_Alloc with a cap. Never fails a shrink or a free (the manual's contract).
/// A refused block fails the allocation (Lua raises LUA_ERRMEM, which a pcall
/// could catch) and trips the budget, which the hook then raises again.
static void *clua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
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

// MARK: - The watchdog

/// The budget whose state this thread is running a request on, for the signal handler.
static _Thread_local clua_budget *clua_current = NULL;
/// Whether this thread has unblocked the budget signal (libdispatch's threads start with it blocked).
static _Thread_local int clua_signal_unblocked = 0;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    clua_budget *budgets;
    /// Requests running now, over every state.
    _Atomic int requests;
    /// Requests begun so far: the watchdog's sign of activity between two ticks.
    _Atomic unsigned long serial;
    /// Set by the watchdog before it waits for a request; a request that finds it set wakes it.
    _Atomic int sleeping;
    int started;
    long long tick_ns;
} clua_watchdog = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, 1000000 };

/// Idle ticks before the watchdog sleeps. Waking it per request cost a futex
/// call and a context switch on every request; ticking through short gaps costs
/// a wake-up per tick only while requests come.
enum { CLUA_IDLE_TICKS = 64 };

static inline int clua_budget_signal(void) { return SIGRTMIN + 3; }

/// Runs on the rule's thread, interrupting it: arms the hook if the call it is
/// in now is the one the watchdog found over budget. Touches only atomics and
/// lua_sethook.
static void clua_on_budget_signal(int signal) {
    (void)signal;
    clua_budget *budget = clua_current;
    if (budget == NULL || !atomic_load(&budget->in_call)) return;
    unsigned long request = atomic_load(&budget->request);
    if (request != 0 && atomic_load(&budget->spent_request) == request) {
        clua_trip(budget, CLUA_SPENT_REQUEST);
    } else if (atomic_load(&budget->spent_call) == atomic_load(&budget->call)) {
        clua_trip(budget, CLUA_SPENT_CALL);
    }
}

static inline long long clua_cpu_ns(clockid_t clock) {
    struct timespec now;
    if (clock_gettime(clock, &now) != 0) return -1;
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/// One look at a state: charges the CPU its thread spent since the call (and
/// the request) began, and signals the thread once either is over budget.
/// A call or request first seen here starts its count now, so a budget may be
/// overrun by up to one tick.
static void clua_watch(clua_budget *budget) {
    unsigned long request = atomic_load(&budget->request);
    if (request == 0) return;
    long long now = clua_cpu_ns(atomic_load(&budget->clock));
    if (now < 0) return;
    if (request != budget->seen_request) {
        budget->seen_request = request;
        budget->request_started_ns = now;
    }
    int over = 0;
    if (now - budget->request_started_ns > budget->request_budget_ns && atomic_load(&budget->spent_request) != request) {
        atomic_store(&budget->spent_request, request);
        over = 1;
    }
    if (atomic_load(&budget->in_call)) {
        unsigned long call = atomic_load(&budget->call);
        if (call != budget->seen_call) {
            budget->seen_call = call;
            budget->call_started_ns = now;
        } else if (now - budget->call_started_ns > budget->call_budget_ns && atomic_load(&budget->spent_call) != call) {
            atomic_store(&budget->spent_call, call);
            over = 1;
        }
        if (over) pthread_kill(atomic_load(&budget->thread), clua_budget_signal());
    }
}

/// Whether the watchdog has seen no request for CLUA_IDLE_TICKS ticks.
static int clua_watchdog_idle(unsigned long *last_serial, int *idle_ticks) {
    unsigned long serial = atomic_load(&clua_watchdog.serial);
    if (serial != *last_serial || atomic_load(&clua_watchdog.requests) != 0) {
        *last_serial = serial;
        *idle_ticks = 0;
        return 0;
    }
    return ++*idle_ticks >= CLUA_IDLE_TICKS;
}

static void *clua_watchdog_loop(void *unused) {
    (void)unused;
    unsigned long last_serial = 0;
    int idle_ticks = 0;
    pthread_mutex_lock(&clua_watchdog.lock);
    while (1) {
        if (clua_watchdog_idle(&last_serial, &idle_ticks)) {
            /* Announce the sleep, then look again: a request begun meanwhile either sees
               `sleeping` (and wakes us) or is seen here (seq_cst on both sides). */
            atomic_store(&clua_watchdog.sleeping, 1);
            while (atomic_load(&clua_watchdog.sleeping) && atomic_load(&clua_watchdog.requests) == 0)
                pthread_cond_wait(&clua_watchdog.wake, &clua_watchdog.lock);
            atomic_store(&clua_watchdog.sleeping, 0);
            idle_ticks = 0;
        }
        for (clua_budget *budget = clua_watchdog.budgets; budget; budget = budget->next) clua_watch(budget);
        pthread_mutex_unlock(&clua_watchdog.lock);
        struct timespec tick = { 0, clua_watchdog.tick_ns };
        nanosleep(&tick, NULL);
        pthread_mutex_lock(&clua_watchdog.lock);
    }
    return NULL;
}

/// A new budget, registered with the watchdog (started on first use). NULL if out of memory.
clua_budget *clua_budget_new(size_t memory_limit, long long call_budget_ns, long long request_budget_ns) {
    clua_budget *budget = (clua_budget *)calloc(1, sizeof(clua_budget));
    if (budget == NULL) return NULL;
    budget->limit = memory_limit;
    budget->call_budget_ns = call_budget_ns;
    budget->request_budget_ns = request_budget_ns;
    pthread_mutex_lock(&clua_watchdog.lock);
    if (!clua_watchdog.started) {
        struct sigaction action = { 0 };
        action.sa_handler = clua_on_budget_signal;
        action.sa_flags = SA_RESTART;
        sigemptyset(&action.sa_mask);
        sigaction(clua_budget_signal(), &action, NULL);
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attributes, clua_watchdog_loop, NULL) == 0) clua_watchdog.started = 1;
        pthread_attr_destroy(&attributes);
    }
    /* Sample often enough that a budget is overrun by a fifth of itself at most. */
    long long tick = call_budget_ns / 5;
    if (tick < 200000) tick = 200000;
    if (tick < clua_watchdog.tick_ns || clua_watchdog.budgets == NULL) clua_watchdog.tick_ns = tick > 10000000 ? 10000000 : tick;
    budget->next = clua_watchdog.budgets;
    clua_watchdog.budgets = budget;
    pthread_mutex_unlock(&clua_watchdog.lock);
    return budget;
}

/// Unregisters and frees a budget whose state is closed.
void clua_budget_free(clua_budget *budget) {
    pthread_mutex_lock(&clua_watchdog.lock);
    for (clua_budget **link = &clua_watchdog.budgets; *link; link = &(*link)->next) {
        if (*link == budget) {
            *link = budget->next;
            break;
        }
    }
    pthread_mutex_unlock(&clua_watchdog.lock);
    if (clua_current == budget) clua_current = NULL;
    free(budget);
}

/// Starts a request on this thread: its hook calls share the request budget.
void clua_begin_request(clua_budget *budget) {
    if (!clua_signal_unblocked) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, clua_budget_signal());
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        clua_signal_unblocked = 1;
    }
    atomic_store(&budget->thread, pthread_self());
    clockid_t clock;
    if (pthread_getcpuclockid(pthread_self(), &clock) == 0) atomic_store(&budget->clock, clock);
    clua_current = budget;
    atomic_store(&budget->request, atomic_fetch_add(&clua_watchdog.serial, 1) + 1);
    atomic_fetch_add(&clua_watchdog.requests, 1);
    if (atomic_load(&clua_watchdog.sleeping)) {
        pthread_mutex_lock(&clua_watchdog.lock);
        atomic_store(&clua_watchdog.sleeping, 0);
        pthread_cond_signal(&clua_watchdog.wake);
        pthread_mutex_unlock(&clua_watchdog.lock);
    }
}

void clua_end_request(clua_budget *budget) {
    atomic_store(&budget->request, 0);
    atomic_fetch_sub(&clua_watchdog.requests, 1);
    clua_current = NULL;
}

/// Whether the current request's budget is spent: its later calls fail without running.
static inline int clua_request_spent(clua_budget *budget) {
    unsigned long request = atomic_load_explicit(&budget->request, memory_order_relaxed);
    return request != 0 && atomic_load_explicit(&budget->spent_request, memory_order_relaxed) == request;
}

/// One budgeted protected call: counts as a new call for the watchdog, calls,
/// and clears any hook a trip set. Sets *tripped to the budget that ran out
/// (CLUA_WITHIN if none). Returns lua_pcall's status; when the request's budget
/// is already spent the function is not called (its slots become the message).
int clua_budgeted_pcall(lua_State *L, int nargs, int nresults, int *tripped) {
    clua_budget *budget = clua_budget_of(L);
    if (clua_request_spent(budget)) {
        lua_settop(L, -(nargs + 1) - 1);
        lua_pushliteral(L, "request rule budget exceeded");
        *tripped = CLUA_SPENT_REQUEST;
        return LUA_ERRRUN;
    }
    /* A call outside any request (loading a file, the fuzz target) is a request of its own. */
    int alone = atomic_load_explicit(&budget->request, memory_order_relaxed) == 0;
    if (alone) clua_begin_request(budget);
    budget->tripped = CLUA_WITHIN;
    budget->enforcing = 1;
    atomic_fetch_add_explicit(&budget->call, 1, memory_order_relaxed);
    atomic_store_explicit(&budget->in_call, 1, memory_order_release);
    int status = lua_pcall(L, nargs, nresults, 0);
    atomic_store_explicit(&budget->in_call, 0, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);  /* no signal arms the hook past here */
    budget->enforcing = 0;
    if (lua_gethook(L) != NULL) lua_sethook(L, NULL, 0, 0);
    *tripped = budget->tripped;
    if (alone) clua_end_request(budget);
    return status;
}

lua_State *clua_newstate(clua_budget *budget) {
    lua_State *L = lua_newstate(clua_alloc, budget);
    budget->state = L;
    if (L) luaL_openlibs(L);
    return L;
}


// MARK: - The property loop

/// Whether the hook's result (top) keeps `given`: nil, or the very same scalar
/// (an integer is not the same as an equal float; a table never counts: the hook
/// may have changed it in place). Strings are interned, so equal ones are one object.
static inline int clua_keeps(lua_State *L, int given) {
    if (lua_isnil(L, -1)) return 1;
    if (!lua_rawequal(L, -1, given)) return 0;
    int type = lua_type(L, -1);
    return type == LUA_TSTRING || type == LUA_TBOOLEAN || (type == LUA_TNUMBER && lua_isinteger(L, -1) == lua_isinteger(L, given));
}

/// The property loop (see clua_push_each_property).
static int clua_each_property(lua_State *L) {
    signed char *status = (signed char *)lua_touserdata(L, 1);
    lua_Integer count = lua_tointeger(L, 2);
    clua_budget *budget = clua_budget_of(L);
    lua_Integer changed = 0;
    luaL_checkstack(L, 8, "rule chain");
    for (lua_Integer i = 1; i <= count; i++) {
        if (status[i - 1] != CLUA_RUN) continue;
        lua_rawgeti(L, 5, i);  /* 8: the value as given, kept to compare with the result */
        lua_pushvalue(L, 3);
        lua_rawgeti(L, 4, i);
        lua_pushvalue(L, 8);
        lua_pushvalue(L, 6);
        int tripped = 0;
        int outcome = clua_budgeted_pcall(L, 3, 1, &tripped);
        if (budget->used > budget->limit / 2) lua_gc(L, LUA_GCCOLLECT, 0);
        if (outcome != LUA_OK) {
            status[i - 1] = tripped == CLUA_SPENT_CALL ? CLUA_TRIPPED
                          : tripped == CLUA_SPENT_REQUEST ? CLUA_TRIPPED_REQUEST
                          : tripped == CLUA_SPENT_MEMORY || outcome == LUA_ERRMEM ? CLUA_NOMEM : CLUA_FAILED;
            lua_rawseti(L, 7, i);
            changed++;
        } else if (clua_keeps(L, 8)) {
            status[i - 1] = CLUA_KEPT;
        } else {
            status[i - 1] = CLUA_RETURNED;
            lua_rawseti(L, 7, i);
            changed++;
        }
        lua_settop(L, 7);
    }
    lua_pushinteger(L, changed);
    return 1;
}

void clua_push_each_property(lua_State *L) { lua_pushcfunction(L, clua_each_property); }

