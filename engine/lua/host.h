/*
 * host.h — what the files of engine/lua/ share about a sandboxed state
 * (internal to this folder: nothing outside engine/lua/ includes it).
 *
 * Every state made by qloop_lua_new carries a struct qloop_host as the
 * userdata of its allocator and in the state's extra space, so any C
 * function running in the state finds it with qloop_host_of(L), one load.
 * It holds the three budgets of a call into rule code:
 *   - memory: a cap on all the state's allocations (capped_alloc);
 *   - instructions: counted by a count hook every HOOK_EVERY instructions and
 *     charged by the long C functions (the string patterns) as they step.
 *     Once spent, the budget stays spent until the call returns: every later
 *     hook raises again and the sandbox's pcall/xpcall re-raise, so rule code
 *     cannot catch the error and carry on;
 *   - CPU time: the watchdog thread (watchdog.c) samples each state's thread
 *     CPU clock while a call runs; past the budget it flags the state (the
 *     next hook or pattern step raises, as above), and when the call is still
 *     running a little later (watchdog.c) — a C call that never returns to
 *     Lua — it ends the process with exit 2.
 * And it names what runs (the site), so that "too slow" names the rule and
 * the row.
 *
 * Two modes of an outermost call (qloop_host_pcall at depth 0; nested calls
 * follow the outermost call's mode):
 *   - EXACT: the count hook is on and its counter is reset at the start of
 *     the call (lua_sethook again), so a call's budget does not depend on the
 *     calls before it. Every state runs EXACT unless qloop_lua_set_fast turned
 *     FAST on (the run's judging, cleansing and compare states).
 *   - FAST: no hook at all. With any count hook set, Lua 5.4's VM calls
 *     luaG_traceexec on every VM instruction (the count only decides when the
 *     hook function runs): about 10 % of all the instructions of a W1 run.
 *     The long C functions still charge h->left. The call is timed (the
 *     TSC or CLOCK_MONOTONIC, watchdog.c), and its answer is kept only when
 *     it could not have spent its instruction budget:
 *     elapsed < left * QLOOP_NS_PER_INSTR_FLOOR
 *     (left: the budget less what the C functions charged; the floor is a
 *     time no VM instruction can beat, sandbox.c) and elapsed < its CPU
 *     budget. Otherwise — too long, the budget or the CPU time ran out, or
 *     the watchdog interrupted it — the call is run again from the start in
 *     EXACT mode, and only that run's answer counts. So a FAST call gives the
 *     EXACT verdict for rule code whose result depends only on its arguments;
 *     a rule that changes its own upvalues may see a re-run call twice
 *     (docs/dsl.md tells staff not to keep state across calls). A runaway
 *     FAST call (a loop that never returns) is interrupted by the watchdog
 *     once it has run one to two watchdog periods (watchdog.c: a signal to
 *     its thread installs qloop_host_interrupt_hook), then re-run EXACT, where
 *     it fails on its budget as before: it spends at most about two periods
 *     (100 ms) of CPU more than an EXACT call would have. After a re-run of a long call (its
 *     EXACT run spent half its budget or more, or failed on it) the state
 *     runs EXACT for its next QLOOP_EXACT_STRETCH calls (twice as many each
 *     time the FAST calls after a long call's stretch were fewer than it
 *     lasted, at most QLOOP_EXACT_STRETCH_MAX), so a pack whose calls are all
 *     long does not pay for each twice; after a re-run of a short call, only
 *     when re-runs come within QLOOP_RERUN_GAP calls (no doubling): a call
 *     slow by chance — the machine took the CPU away — costs one re-run.
 *     print in a FAST call interrupts it (qloop_host_once), so that what a
 *     re-run call prints shows once.
 *     The clock is read once per FAST call, at its end: the call's start is
 *     taken as the end of the state's previous FAST call (earlier than the
 *     real start, so the elapsed time is only overestimated and a kept call
 *     still ran in time). When a call so timed is too long but nothing else
 *     was wrong (the gap before it may be to blame), it is run again FAST at
 *     once with its own start read, and the next QLOOP_UNCHAINED calls read
 *     theirs too.
 */
#ifndef QLOOP_LUA_HOST_H_INTERNAL
#define QLOOP_LUA_HOST_H_INTERNAL

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "lua/sandbox.h"

enum {
    QLOOP_HOOK_EVERY = 1000,     /* instructions between two count hooks */
    QLOOP_PRINT_MAX = 1 << 20,   /* bytes print may write in a state's life */
};

enum {
    QLOOP_POOL_CLASSES = 16,     /* small blocks: 16, 32, ... 256 bytes */
};

enum {
    QLOOP_EXACT_STRETCH = 1024,        /* EXACT calls after a FAST call was re-run (see above) */
    QLOOP_EXACT_STRETCH_MAX = 1 << 20, /* the most that stretch grows to */
    QLOOP_RERUN_GAP = 256,             /* re-runs closer than this many FAST calls: a stretch */
    QLOOP_UNCHAINED = 64,              /* FAST calls that read their own start after a retry */
};

/* Nanoseconds that no Lua VM instruction can take less than (sandbox.c says
 * why this number is safe). */
#define QLOOP_NS_PER_INSTR_FLOOR 0.05

struct qloop_host {
    /* memory */
    size_t used, limit;
    int over_memory;             /* set when the cap refused an allocation */
    void *pool[QLOOP_POOL_CLASSES + 1]; /* freed small blocks by size class (sandbox.c) */
    size_t pooled;               /* their bytes */
    /* instructions, per call */
    long budget;
    long left;
    int spent;                   /* the budget ran out in this call */
    /* CPU time, per call */
    int64_t cpu_budget_ns;
    int exit_on_timeout;         /* limits.exit_on_timeout */
    int never_stop;              /* the ceiling's never_exit: the watchdog never ends the
                                    process for this state, even for a call stuck in C */
    atomic_ulong seq;            /* odd while a call runs; bumped at start and end */
    unsigned long call_seq;      /* seq of the current call (its own thread only) */
    atomic_ulong timeout_seq;    /* the watchdog stores here the seq of a call past its time */
    atomic_int clock;            /* the CPU clock of the thread running the call */
    pthread_t thread;            /* that thread (valid when have_thread) */
    int have_thread;
    int depth;                   /* nesting of qloop_lua_pcall */
    /* FAST calls (see above) */
    int fast;                    /* outermost calls may run FAST */
    int rerun;                   /* this FAST call was interrupted (watchdog, print) */
    long exact_left;             /* outermost calls still to run EXACT */
    long stretch;                /* the last EXACT stretch (0: none yet) */
    int stretched_long;          /* the last re-run was of a long call */
    long fast_since;             /* FAST calls kept since the last re-run */
    unsigned long fast_kept;     /* FAST calls whose answer was kept (for tests) */
    unsigned long reruns;        /* FAST calls run again EXACT (for tests) */
    /* one clock read per FAST call (sandbox.c, fast_call): a call's start is
     * taken as the end of the state's last FAST call when that is known */
    uint64_t last_end;           /* the clock at the end of the last FAST call */
    int last_end_tsc;            /* 1: last_end is TSC ticks, 0: CLOCK_MONOTONIC ns, -1: none */
    long unchained;              /* FAST calls still to read their own start */
    unsigned long chain_retries; /* FAST calls run again FAST with their own start (for tests) */
    atomic_int fast_call;        /* the running call is FAST (the watchdog reads it) */
    atomic_int tid;              /* the kernel id of h->thread (for the watchdog's signal) */
    /* what runs: set by the caller before the call, read by the watchdog */
    struct qloop_lua_site site;
    int have_site;
    /* the innermost Lua frame of the last error */
    char where_file[512];
    long where_line;
    size_t printed;              /* bytes print has written */
    qloop_lua_text_filter print_filter; /* what print may show (NULL: mask by shape) */
    void *print_ctx;
    struct qloop_buf scratch;    /* the text of the last answer (call.c) */
    void *patterns;              /* compiled fixed-width patterns (lib_string.c), malloc'ed */
    struct qloop_host *prev, *next; /* the watchdog's list, and its notes: */
    unsigned long wd_seq;        /* the call it saw running last time */
    int64_t wd_cpu0;             /* that call's CPU clock when first seen */
};

/* qloop_lua_pcall with the message handler already on the stack, at index
 * handler, below the function: no rotation of the stack per call (call.c
 * pushes the handler first). The handler stays; results (or nothing, on an
 * error) are above it. */
int qloop_host_pcall(lua_State *L, int nargs, int nresults, int handler, struct qloop_error *err);

/* qloop_host_pcall leaving the function and its nargs arguments where they
 * are: the call runs on copies of them (a FAST call's re-run too), and the
 * results (or nothing, on an error) are pushed above them. A caller that
 * calls one function on one argument many times (call.c's record calls)
 * pushes them once instead of once per call. */
int qloop_host_pcall_kept(lua_State *L, int nargs, int nresults, int handler,
                          struct qloop_error *err);
int qloop_host_error_handler(lua_State *L);

/* The host of a state made by qloop_lua_new: its address is kept in the
 * state's extra space (LUA_EXTRASPACE, which Lua copies into every thread
 * made from the state), so it is one load, not a call into the library per
 * C function. Rule code has no way to reach that space. */
_Static_assert(LUA_EXTRASPACE >= sizeof(void *), "Lua's extra space holds a pointer");
static inline struct qloop_host *qloop_host_of(lua_State *L)
{
    struct qloop_host *h;
    memcpy(&h, lua_getextraspace(L), sizeof h);
    return h;
}

/* Charges n steps of a long C function to the instruction budget; raises the
 * budget error (or the time-out error) when it is spent. */
void qloop_host_charge(lua_State *L, long n);

/* Raises the error of a spent budget or of a call past its CPU time, when
 * one of them holds; returns otherwise. */
void qloop_host_check(lua_State *L);

/* True when the current call can no longer go on (budget spent, past its
 * CPU time, or a FAST call interrupted): the sandbox's pcall re-raises
 * instead of returning false. */
int qloop_host_fatal(const struct qloop_host *h);

/* Writes "qloop: <site>: too slow" to stderr and ends the process with
 * exit 2 (async-signal-safe: write and _exit only). where may be NULL. */
void qloop_host_stop_too_slow(const struct qloop_host *h, const char *where);

/* The length of s[0..len) cut to at most max bytes at a UTF-8 character
 * boundary (call.c). */
size_t qloop_text_cut(const char *s, size_t len, size_t max);

/* The watchdog (watchdog.c): add / remove a host from its list (the thread
 * starts with the first host), and mark the start / end of a call on the
 * calling thread. */
void qloop_watchdog_add(struct qloop_host *h);
void qloop_watchdog_remove(struct qloop_host *h);
void qloop_watchdog_enter(struct qloop_host *h, int fast);
void qloop_watchdog_leave(struct qloop_host *h);

/* FAST calls (watchdog.c). qloop_watchdog_fast_ready is true once the
 * interrupt signal's handler is installed (with the first state) and the
 * monotonic clock is fine-grained enough; without it no call runs FAST.
 * qloop_watchdog_fast_begin(L) / _end() bracket a FAST call on the calling
 * thread: between them the watchdog's signal installs
 * qloop_host_interrupt_hook on L; outside them the signal does nothing. */
int qloop_watchdog_fast_ready(void);
void qloop_watchdog_fast_begin(lua_State *L);
void qloop_watchdog_fast_end(void);
/* The resolution of CLOCK_MONOTONIC in nanoseconds (added to each elapsed
 * time, so a coarse clock errs on the safe side). */
int64_t qloop_watchdog_clock_res_ns(void);
/* The time-stamp counter's ticks per ns, on the safe side (never more than
 * the true rate), when FAST calls may time themselves with it; 0 when they
 * use CLOCK_MONOTONIC (watchdog.c says when). */
double qloop_watchdog_tsc_rate(void);

/* CLOCK_MONOTONIC in ns (through the vDSO: ~37 ns of CPU here), the clock
 * FAST calls time themselves with where the TSC is not used and the one the
 * watchdog measures the TSC's rate against. */
static inline int64_t qloop_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The time-stamp counter (0 where there is none; tsc_rate is 0 there). */
#if defined(__x86_64__)
#include <x86intrin.h>
static inline uint64_t qloop_tsc(void) { return __rdtsc(); }
#else
static inline uint64_t qloop_tsc(void) { return 0; }
#endif

/* The hook the watchdog's signal installs on a FAST call past one watchdog
 * period (count 1): notes h->rerun and raises, at every instruction, until
 * the call has unwound (sandbox.c). */
void qloop_host_interrupt_hook(lua_State *L, lua_Debug *ar);

/* Called first by a C function whose effect must happen once (print): in a
 * FAST call it interrupts the call at once, as the watchdog's signal would,
 * so that the call is re-run EXACT and the effect happens in that run only;
 * otherwise it returns. */
void qloop_host_once(lua_State *L);

/* The environments (env.c). Builds the sandbox's shared globals from a full
 * standard library (called once per state by sandbox.c, protected) and leaves
 * them in the registry. */
int qloop_env_setup(lua_State *L);
/* Pushes a fresh environment reading through to the shared globals. */
void qloop_env_push_new(lua_State *L);

/* The string patterns with steps charged (lib_string.c): replaces find,
 * match, gmatch and gsub in the string table at index idx. */
void qloop_string_patterns(lua_State *L, int idx);

#endif
