/*
 * sandbox.c — the Lua sandbox: capped allocator, the instruction and CPU
 * budgets of a call, protected calls with a bounded error handler, text-only
 * chunks (see sandbox.h and host.h).
 *
 * Modelled on Suricata's util-lua-sandbox.c and Redis's script_lua.c. The
 * whole boundary between C and rule code is in engine/lua/: this file (the
 * state and its calls), env.c (what rule code sees), watchdog.c (CPU time),
 * call.c (calling a rule and reading its answer), record.c (the record view)
 * and the lib_*.c binding files.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "base/buf.h"
#include "base/sha256.h"
#include "lua/host.h"
#include "lua/nesting.h"
#include "lua/sandbox.h"

enum { DEFAULT_INSTRUCTIONS = 10000000, WHERE_LEVELS = 40, MESSAGE_MAX = 1024 };

/* ---- the allocator ----
 *
 * Rule code allocates and frees a few small objects per call (the strings of
 * a record's fields, a result table, a closure), and the collector frees them
 * in runs. Freed blocks of up to POOL_BLOCK_MAX bytes are kept on a free list
 * per 16-byte size class of their host and handed out again, instead of going
 * back to malloc each time. Each block is still its own malloc'ed block, so
 * the pool can give any of them back: it keeps at most POOL_BYTES_MAX bytes
 * (beyond that a freed block goes to free), and is emptied when the state is
 * closed. The memory cap counts the bytes Lua asked for, as before; the pool
 * adds at most POOL_BYTES_MAX to what a state holds. Under AddressSanitizer
 * a block in the pool is poisoned, so that a use of a freed block is still
 * reported (and its leak checker sees the pool emptied at close). */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
enum { POOL_BYTES_MAX = 4 << 20 };
enum { POOL_BLOCK_MAX = 16 * QLOOP_POOL_CLASSES };

/* The size class of an n-byte block (1 .. QLOOP_POOL_CLASSES), or 0 when it
 * is too big for the pool (or n is 0). */
static inline size_t pool_class(size_t n) { return n <= POOL_BLOCK_MAX ? (n + 15) >> 4 : 0; }

/* A new block of n bytes (n > 0): a pooled one of n's class, or malloc's. */
static inline void *pool_get(struct qloop_host *h, size_t n)
{
    size_t k = pool_class(n);
    if (!k)
        return malloc(n);
    void *p = h->pool[k];
    if (!p)
        return malloc(k << 4);
    POOL_UNPOISON(p, k << 4);
    memcpy(&h->pool[k], p, sizeof p); /* the next free block */
    h->pooled -= k << 4;
    return p;
}

/* Frees the n-byte block p (not NULL). */
static inline void pool_put(struct qloop_host *h, void *p, size_t n)
{
    size_t k = pool_class(n);
    /* k - 1 wraps for k == 0: one test for "not a pool size" */
    if (k - 1 >= QLOOP_POOL_CLASSES || h->pooled + (k << 4) > POOL_BYTES_MAX) {
        free(p);
        return;
    }
    memcpy(p, &h->pool[k], sizeof p);
    POOL_POISON(p, k << 4);
    h->pool[k] = p;
    h->pooled += k << 4;
}

static void pool_drain(struct qloop_host *h)
{
    for (size_t k = 1; k <= QLOOP_POOL_CLASSES; k++)
        while (h->pool[k]) {
            void *p = h->pool[k];
            POOL_UNPOISON(p, k << 4);
            memcpy(&h->pool[k], p, sizeof p);
            free(p);
        }
    h->pooled = 0;
}

/* Resizes the block p of old bytes (old > 0) to n bytes (n > 0). */
static void *pool_resize(struct qloop_host *h, void *p, size_t old, size_t n)
{
    size_t ko = pool_class(old), kn = pool_class(n);
    if (ko && ko == kn)
        return p;
    if (!ko && !kn)
        return realloc(p, n);
    void *q = pool_get(h, n);
    if (q) {
        memcpy(q, p, old < n ? old : n);
        pool_put(h, p, old);
    }
    return q;
}

/* The general case of capped_alloc (below): old is the block's size (0
 * without a block), nsize > 0 or ptr == NULL. */
static __attribute__((noinline)) void *alloc_slow(struct qloop_host *h, void *ptr, size_t old,
                                                   size_t nsize)
{
    if (nsize == 0) {
        if (ptr) {
            h->used -= old;
            pool_put(h, ptr, old);
        }
        return NULL;
    }
    if (nsize > old && h->depth > 0 && h->used + (nsize - old) > h->limit) {
        h->over_memory = 1;
        return NULL;
    }
    void *p = ptr ? pool_resize(h, ptr, old, nsize) : pool_get(h, nsize);
    if (p)
        h->used = h->used - old + nsize;
    return p;
}

/* Lua's allocator (lua_Alloc): frees when nsize is 0, else allocates or
 * resizes. While rule code runs (depth > 0) a request that would take the
 * bytes held past the cap fails (and is noted); freeing and shrinking never
 * fail on the cap. Between calls the host pushes arguments and references:
 * those never fail on the cap, so no API call outside a protected call can
 * raise (and panic). The two common cases — a small block freed into a pool
 * with room, and a new small block whose class has a pooled block within the
 * cap — are done here with no call and no saved register; everything else,
 * with the same tests, in alloc_slow. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct qloop_host *h = ud;
    if (nsize == 0) {
        size_t k = (osize + 15) >> 4; /* k - 1 wraps for 0: one range test */
        if (ptr && k - 1 < QLOOP_POOL_CLASSES && h->pooled + (k << 4) <= POOL_BYTES_MAX) {
            h->used -= osize;
            memcpy(ptr, &h->pool[k], sizeof ptr);
            POOL_POISON(ptr, k << 4);
            h->pool[k] = ptr;
            h->pooled += k << 4;
            return NULL;
        }
    } else if (!ptr && nsize <= POOL_BLOCK_MAX) { /* osize is a type tag */
        size_t k = (nsize + 15) >> 4;
        void *p = h->pool[k];
        if (p && (h->depth <= 0 || h->used + nsize <= h->limit)) {
            POOL_UNPOISON(p, k << 4);
            memcpy(&h->pool[k], p, sizeof p); /* the next free block */
            h->pooled -= k << 4;
            h->used += nsize;
            return p;
        }
    }
    return alloc_slow(h, ptr, ptr ? osize : 0, nsize);
}

int qloop_lua_error(lua_State *L, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

const char *qloop_lua_pushf(lua_State *L, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lua_pushstring(L, msg);
}

/* Raises msg positioned at the Lua code of stack level `level` (0 in a hook:
 * the function being run; 1 in a C function: its Lua caller). */
static void raise_at(lua_State *L, int level, const char *msg)
{
    luaL_where(L, level);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    lua_error(L);
}

static int timed_out(const struct qloop_host *h)
{
    return h->depth > 0 &&
           atomic_load_explicit(&((struct qloop_host *)h)->timeout_seq, memory_order_relaxed) ==
               h->call_seq;
}

int qloop_host_fatal(const struct qloop_host *h) { return h->spent || h->rerun || timed_out(h); }

static void check_at(lua_State *L, int level)
{
    struct qloop_host *h = qloop_host_of(L);
    char msg[512];
    if (timed_out(h)) {
        h->spent = 1;
        snprintf(msg, sizeof msg,
                 "规则运行超过 %g 秒 CPU，已中止：这条规则对这条记录太慢；请简化规则（例如避免"
                 "“.-”反复回溯的模式），或在规则包中用 limits { cpu_seconds = N } 放宽",
                 (double)h->cpu_budget_ns / 1e9);
        raise_at(L, level, msg);
    }
    if (h->left <= 0) {
        h->left = 0;
        h->spent = 1;
        snprintf(msg, sizeof msg,
                 "规则超出指令预算（%ld 条指令），已中止；请检查是否有死循环或过于复杂的模式匹配，"
                 "或在规则包中用 limits { instructions = N } 放宽",
                 h->budget);
        raise_at(L, level, msg);
    }
}

void qloop_host_check(lua_State *L) { check_at(L, 1); }

void qloop_host_charge(lua_State *L, long n)
{
    struct qloop_host *h = qloop_host_of(L);
    h->left -= n;
    if (h->left <= 0 || timed_out(h))
        check_at(L, 1);
}

/* Every QLOOP_HOOK_EVERY instructions. Once the budget is spent it stays
 * spent: each later hook raises again, wherever rule code caught the error. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct qloop_host *h = qloop_host_of(L);
    h->left -= QLOOP_HOOK_EVERY;
    if (h->left <= 0 || timed_out(h))
        check_at(L, 0);
}

/* Installed by the watchdog's signal on a FAST call that runs too long
 * (count 1): from then on every instruction raises, so rule code cannot catch
 * its way on (qloop_host_fatal is true too); the call is re-run EXACT and
 * this message is never shown. */
void qloop_host_interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct qloop_host *h = qloop_host_of(L);
    if (h->depth <= 0)
        return; /* between calls: nothing to interrupt (never: see qloop_host_pcall) */
    h->rerun = 1;
    raise_at(L, 0, "interrupted: the call is run again under the count hook");
}

void qloop_host_once(lua_State *L)
{
    struct qloop_host *h = qloop_host_of(L);
    if (h->depth <= 0 || !atomic_load_explicit(&h->fast_call, memory_order_relaxed))
        return;
    h->rerun = 1;
    lua_sethook(L, qloop_host_interrupt_hook, LUA_MASKCOUNT, 1);
    raise_at(L, 1, "interrupted: the call is run again under the count hook");
}

static struct qloop_lua_ceiling ceiling;

void qloop_lua_set_ceiling(const struct qloop_lua_ceiling *c) { ceiling = *c; }

static void apply_limits(struct qloop_host *h, const struct qloop_lua_limits *limits)
{
    h->limit = limits && limits->memory_bytes ? limits->memory_bytes : (size_t)256 << 20;
    h->budget = limits && limits->instructions > 0 ? limits->instructions : DEFAULT_INSTRUCTIONS;
    if (h->budget > QLOOP_LUA_MAX_INSTRUCTIONS)
        h->budget = QLOOP_LUA_MAX_INSTRUCTIONS;
    /* by default 1 s of CPU per 10 million instructions of budget, at least 1 s */
    double cpu = limits && limits->cpu_seconds > 0 ? limits->cpu_seconds
                 : h->budget > DEFAULT_INSTRUCTIONS ? (double)h->budget / DEFAULT_INSTRUCTIONS
                                                    : 1.0;
    if (cpu > QLOOP_LUA_MAX_CPU_SECONDS)
        cpu = QLOOP_LUA_MAX_CPU_SECONDS;
    if (ceiling.memory_bytes && h->limit > ceiling.memory_bytes)
        h->limit = ceiling.memory_bytes;
    if (ceiling.instructions && h->budget > ceiling.instructions)
        h->budget = ceiling.instructions;
    if (ceiling.cpu_seconds > 0 && cpu > ceiling.cpu_seconds)
        cpu = ceiling.cpu_seconds;
    h->cpu_budget_ns = (int64_t)(cpu * 1e9);
    h->exit_on_timeout = limits && limits->exit_on_timeout && !ceiling.never_exit;
    h->never_stop = ceiling.never_exit;
}

lua_State *qloop_lua_new(const struct qloop_lua_limits *limits)
{
    struct qloop_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    apply_limits(h, limits);
    h->left = h->budget;
    h->last_end_tsc = -1; /* no FAST call has ended yet */
    lua_State *L = lua_newstate(capped_alloc, h);
    if (!L) {
        pool_drain(h);
        free(h);
        return NULL;
    }
    memcpy(lua_getextraspace(L), &h, sizeof h); /* qloop_host_of */
    /* Building the sandbox must not be limited by a small cap. */
    size_t limit = h->limit;
    h->limit = (size_t)-1;
    lua_pushcfunction(L, qloop_env_setup);
    int rc = lua_pcall(L, 0, 0, 0);
    h->limit = limit;
    if (rc != LUA_OK) {
        fprintf(stderr, "qloop: 无法建立 Lua 沙箱：%s\n", lua_tostring(L, -1));
        lua_close(L);
        pool_drain(h);
        free(h);
        return NULL;
    }
    /* Generational collection: a rule call leaves young garbage only (the
     * strings of the fields it read, a result table, captures), which minor
     * collections free without traversing the old objects (the sandbox's
     * libraries, the pack's tables) each cycle as incremental mode does.
     * W1's three Lua rules: 2.1 % fewer instructions for the whole run
     * (callgrind, 100k rows), the collector's own share halved. Rule code
     * cannot change the mode (collectgarbage is not in the sandbox). */
    lua_gc(L, LUA_GCGEN, 0, 0);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, QLOOP_HOOK_EVERY);
    qloop_watchdog_add(h);
    return L;
}

void qloop_lua_set_limits(lua_State *L, const struct qloop_lua_limits *limits)
{
    apply_limits(qloop_host_of(L), limits);
}

void qloop_lua_close(lua_State *L)
{
    if (!L)
        return;
    struct qloop_host *h = qloop_host_of(L);
    qloop_watchdog_remove(h);
    /* Only C finalizers are left (the sandbox refuses __gc written in Lua):
     * closing cannot run rule code. */
    lua_close(L);
    pool_drain(h);
    qloop_buf_free(&h->scratch);
    free(h->patterns);
    free(h);
}

void qloop_lua_set_site(lua_State *L, const struct qloop_lua_site *site)
{
    struct qloop_host *h = qloop_host_of(L);
    h->have_site = site != NULL;
    if (site)
        h->site = *site;
}

/* Copies msg into err's message, at most MESSAGE_MAX bytes cut at a UTF-8
 * character, saying how much was cut. */
static void set_message(struct qloop_error *err, const char *file, long line, const char *msg)
{
    size_t len = strlen(msg);
    if (len <= MESSAGE_MAX) {
        qloop_error_set(err, file, line, 0, "%s", msg);
        return;
    }
    size_t keep = qloop_text_cut(msg, len, MESSAGE_MAX);
    qloop_error_set(err, file, line, 0, "%.*s…（错误信息过长，截去 %zu 字节）", (int)keep, msg,
                    len - keep);
}

/* Splits "file:line: message" (as Lua formats positions) into err. */
static void fill_error(struct qloop_error *err, const char *msg, const struct qloop_host *h)
{
    const char *file = h->where_file[0] ? h->where_file : NULL;
    long line = h->where_line;
    const char *text = msg;
    char fbuf[512];
    const char *c1 = strchr(msg, ':');
    /* only a prefix of reasonable length can be a position */
    while (c1 && c1 - msg < (ptrdiff_t)sizeof fbuf) {
        char *end;
        long n = strtol(c1 + 1, &end, 10);
        if (end > c1 + 1 && end[0] == ':' && end[1] == ' ') {
            size_t flen = (size_t)(c1 - msg);
            memcpy(fbuf, msg, flen);
            fbuf[flen] = '\0';
            if (strncmp(fbuf, "[string", 7) != 0) {
                file = fbuf;
                line = n;
            }
            text = end + 2;
            break;
        }
        c1 = strchr(c1 + 1, ':');
    }
    set_message(err, file, line, text);
}

/* The message handler of every call: notes the innermost Lua frame of a file
 * ("@path") among the top WHERE_LEVELS levels — a bounded walk, so a stack
 * overflow of 200,000 frames is reported at once. It runs no Lua code: when
 * the count hook raised the error, hooks are off until the stack unwinds, so
 * a __tostring run here would run unbudgeted. error_text converts the value
 * afterwards. */
static int error_handler(lua_State *L)
{
    struct qloop_host *h = qloop_host_of(L);
    h->where_file[0] = '\0';
    h->where_line = 0;
    lua_Debug ar;
    for (int level = 1; level <= WHERE_LEVELS && lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && ar.source[0] == '@') {
            snprintf(h->where_file, sizeof h->where_file, "%s", ar.source + 1);
            h->where_line = ar.currentline;
            break;
        }
    }
    lua_settop(L, 1);
    return 1;
}

/* Replaces a non-string error value at the top by text (its __tostring may
 * run: protected, under what is left of the call's budgets). */
static int to_error_text(lua_State *L)
{
    const char *s = luaL_tolstring(L, 1, NULL);
    qloop_lua_pushf(L, "规则抛出了非文本错误：%.400s", s);
    return 1;
}

static void error_text(lua_State *L)
{
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING || t == LUA_TNUMBER)
        return;
    lua_pushcfunction(L, to_error_text);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        qloop_lua_pushf(L, "规则抛出了非文本错误（%s），且无法转成文本", lua_typename(L, t));
    }
}

int qloop_host_error_handler(lua_State *L) { return error_handler(L); }

/* ---- EXACT and FAST calls (host.h) ----
 *
 * Why QLOOP_NS_PER_INSTR_FLOOR = 0.05 ns is safe: it says a CPU runs at most
 * 20 billion Lua VM instructions per second on one thread. Each VM
 * instruction is at least a load of the instruction word, a decode of its
 * opcode and an indirect jump to its case (lvm.c), several machine
 * instructions with a dependent load and an unpredictable branch in them;
 * even counted as one machine cycle each, no core clocks at 20 GHz (the
 * fastest run near 6 GHz: 0.17 ns a cycle). Measured here, W1's rules run
 * about 1 VM instruction per ns. Wall time (CLOCK_MONOTONIC, or the TSC at
 * a rate checked against it: watchdog.c) is never less than the time the
 * thread ran, and NTP slews it by at most 0.05 %; the clock's resolution (or
 * TSC_SLACK_NS) is added to each elapsed time. So a FAST call kept by
 * fast_call executed fewer VM instructions than its budget left over after
 * the C functions' charges, and the count hook of an EXACT run — which counts
 * the same instructions, 1,000 at a time, plus the same charges — would not
 * have raised either. */

/* Added to a time read from the TSC: the TSCs of two CPUs (a thread may move
 * during a call) differ by far less. */
#define TSC_SLACK_NS 200.0

void qloop_lua_set_fast(lua_State *L, int on)
{
    struct qloop_host *h = qloop_host_of(L);
    h->fast = on && qloop_watchdog_fast_ready();
}

/* Starts an outermost call: fresh budgets, and the watchdog told. */
static void outer_begin(struct qloop_host *h, int fast)
{
    h->left = h->budget;
    h->spent = 0;
    h->rerun = 0;
    h->over_memory = 0;
    h->where_file[0] = '\0';
    h->where_line = 0;
    qloop_watchdog_enter(h, fast);
}

/* The body of every call: lua_pcall, then a non-text error value made text
 * (leaving one value for an error, nresults values or all for a success). */
static int call_body(lua_State *L, int nargs, int nresults, int handler)
{
    int rc = lua_pcall(L, nargs, nresults, handler);
    if (rc != LUA_OK && rc != LUA_ERRMEM)
        error_text(L);
    return rc;
}

/* Whether the next outermost call of h runs FAST (counting down an EXACT
 * stretch). */
static inline int next_is_fast(struct qloop_host *h)
{
    if (!h->fast)
        return 0;
    if (h->exact_left > 0) {
        h->exact_left--;
        return 0;
    }
    return 1;
}

/* A FAST call has been re-run EXACT; long_call is set when that run spent
 * half its budget or more, or failed on its budget or CPU time. After a long
 * call the next calls run EXACT for a stretch: twice the last one when that
 * was after a long call too and the state kept fewer FAST calls since than it
 * lasted (its calls are all long), else QLOOP_EXACT_STRETCH. After a short
 * one, a stretch of QLOOP_EXACT_STRETCH only when the state kept fewer than
 * QLOOP_RERUN_GAP FAST calls since its last re-run (calls slow in C with few
 * instructions, or a machine that takes the CPU away often); otherwise the
 * FAST run was slow by chance and the next call runs FAST again. */
static void note_rerun(struct qloop_host *h, int long_call)
{
    h->reruns++;
    if (long_call) {
        if (h->stretched_long && h->fast_since < h->stretch)
            h->stretch = h->stretch * 2 > QLOOP_EXACT_STRETCH_MAX ? QLOOP_EXACT_STRETCH_MAX
                                                                   : h->stretch * 2;
        else
            h->stretch = QLOOP_EXACT_STRETCH;
        h->exact_left = h->stretch;
    } else if (h->fast_since < QLOOP_RERUN_GAP) {
        h->stretch = QLOOP_EXACT_STRETCH;
        h->exact_left = h->stretch;
    }
    h->stretched_long = long_call;
    h->fast_since = 0;
}

/* fast_call's answer when a call timed from the previous call's end was too
 * long and nothing else was wrong: run it again FAST, timed on its own. */
#define FAST_AGAIN (-2)

/* Runs the function and nargs arguments on top FAST, on copies of them.
 * Returns the call's status with the results (or the error value) in the
 * originals' place — above them with keep — when its answer is kept; returns -1 with
 * the stack as before (function and arguments on top) when it must be run
 * again EXACT, FAST_AGAIN with the stack as before when it may be run again
 * FAST (see host.h: one clock read per call). */
static int fast_call(lua_State *L, struct qloop_host *h, int nargs, int nresults, int handler,
                     int *slow, int keep)
{
    int top = lua_gettop(L), fn = top - nargs;
    for (int i = fn; i <= top; i++)
        lua_pushvalue(L, i);
    if (lua_gethook(L))
        lua_sethook(L, NULL, 0, 0);
    outer_begin(h, 1);
    qloop_watchdog_fast_begin(L);
    double rate = qloop_watchdog_tsc_rate();
    int tsc = rate > 0;
    /* The start: the end of this state's last FAST call, read on the same
     * clock, when no retry asked for own starts lately. It is earlier than
     * this call's real start (this call began after that one ended; the TSC
     * of another CPU is covered by TSC_SLACK_NS as for two reads in one
     * call), so the time measured is never shorter than the call's. */
    int chained = h->unchained <= 0 && h->last_end_tsc == tsc;
    if (h->unchained > 0)
        h->unchained--;
    uint64_t t0 = chained ? h->last_end : tsc ? qloop_tsc() : (uint64_t)qloop_mono_ns();
    h->depth++;
    int rc = call_body(L, nargs, nresults, handler);
    *slow = timed_out(h);
    h->depth--;
    uint64_t t1 = tsc ? qloop_tsc() : (uint64_t)qloop_mono_ns();
    h->last_end = t1;
    h->last_end_tsc = tsc;
    /* unsigned: a clock read that went back gives a huge time (a re-run) */
    uint64_t ticks = t1 - t0;
    qloop_watchdog_fast_end();
    if (lua_gethook(L)) /* the interrupt came as the call ended */
        lua_sethook(L, NULL, 0, 0);
    qloop_watchdog_leave(h);
    /* kept when elapsed < room: elapsed is ticks / rate + TSC_SLACK_NS from
     * the TSC, ticks + the clock's resolution from CLOCK_MONOTONIC (compared
     * in ticks: no division per call) */
    double room = h->left > 0 ? (double)h->left * QLOOP_NS_PER_INSTR_FLOOR : 0;
    if (room > (double)h->cpu_budget_ns)
        room = (double)h->cpu_budget_ns;
    int in_time = rate > 0 ? (double)ticks < (room - TSC_SLACK_NS) * rate
                           : (double)ticks + (double)qloop_watchdog_clock_res_ns() < room;
    if (chained && !in_time && !h->rerun && !h->spent && !*slow) {
        lua_settop(L, top);
        h->chain_retries++;
        h->unchained = QLOOP_UNCHAINED;
        return FAST_AGAIN;
    }
    if (h->rerun || h->spent || *slow || !in_time) {
        lua_settop(L, top);
        return -1;
    }
    h->fast_kept++;
    h->fast_since++;
    if (!keep) {
        lua_rotate(L, fn, -(nargs + 1));
        lua_pop(L, nargs + 1);
    }
    return rc;
}

/* qloop_host_pcall (keep 0) and qloop_host_pcall_kept (keep 1): with keep
 * the function and arguments stay below the results, and every run (FAST or
 * EXACT) is on copies of them. */
static inline int host_pcall(lua_State *L, int nargs, int nresults, int handler,
                             struct qloop_error *err, int keep)
{
    struct qloop_host *h = qloop_host_of(L);
    int outer = h->depth == 0;
    int fast = outer && next_is_fast(h);
    if (!lua_checkstack(L, 2 + (nresults > 0 ? nresults : 0) + (fast || keep ? nargs + 1 : 0))) {
        if (!keep)
            lua_settop(L, lua_gettop(L) - nargs - 1);
        return qloop_error_set(err, NULL, 0, 0, "Lua 栈空间不足；请减少返回值或递归层数"),
               LUA_ERRMEM;
    }
    int slow = 0;
    int rc = -1;
    /* at most twice: a FAST_AGAIN call is run again timed on its own
     * (h->unchained), which never answers FAST_AGAIN (one call site, so
     * fast_call stays inlined) */
    if (fast)
        while ((rc = fast_call(L, h, nargs, nresults, handler, &slow, keep)) == FAST_AGAIN)
            ;
    if (rc < 0) {
        if (keep) {
            int fn = lua_gettop(L) - nargs;
            for (int i = fn; i < fn + nargs + 1; i++)
                lua_pushvalue(L, i);
        }
        if (outer) {
            /* EXACT: the hook's counter starts afresh with every call */
            lua_sethook(L, count_hook, LUA_MASKCOUNT, QLOOP_HOOK_EVERY);
            outer_begin(h, 0);
        }
        h->depth++;
        rc = call_body(L, nargs, nresults, handler);
        slow = timed_out(h);
        h->depth--;
        if (outer)
            qloop_watchdog_leave(h);
        if (fast) /* a re-run */
            note_rerun(h, h->spent || slow || (h->budget - h->left) * 2 >= h->budget);
    }
    if (rc == LUA_OK)
        return rc;
    if (slow && h->exit_on_timeout) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", h->where_file, h->where_line);
        qloop_host_stop_too_slow(h, h->where_file[0] ? where : NULL);
    }
    if (rc == LUA_ERRMEM || (h->over_memory && !slow && !h->spent)) {
        qloop_error_set(err, h->where_file[0] ? h->where_file : NULL, h->where_line, 0,
                        "规则超出内存上限（%zu MiB），已中止；请减少规则中保存的数据", h->limit >> 20);
    } else {
        const char *msg = lua_tostring(L, -1);
        fill_error(err, msg ? msg : "未知错误", h);
    }
    lua_pop(L, 1);
    return rc;
}

int qloop_host_pcall(lua_State *L, int nargs, int nresults, int handler, struct qloop_error *err)
{
    return host_pcall(L, nargs, nresults, handler, err, 0);
}

int qloop_host_pcall_kept(lua_State *L, int nargs, int nresults, int handler,
                          struct qloop_error *err)
{
    return host_pcall(L, nargs, nresults, handler, err, 1);
}

int qloop_lua_pcall(lua_State *L, int nargs, int nresults, struct qloop_error *err)
{
    int base = lua_gettop(L) - nargs; /* index of the function */
    if (!lua_checkstack(L, 1)) {
        lua_settop(L, base - 1);
        return qloop_error_set(err, NULL, 0, 0, "Lua 栈空间不足；请减少返回值或递归层数"),
               LUA_ERRMEM;
    }
    lua_pushcfunction(L, error_handler);
    lua_insert(L, base);
    int rc = qloop_host_pcall(L, nargs, nresults, base, err);
    lua_remove(L, base);
    return rc;
}

int qloop_lua_load(lua_State *L, const char *code, size_t len, const char *chunkname,
                   struct qloop_error *err)
{
    struct qloop_host *h = qloop_host_of(L);
    const char *shown = chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname;
    h->where_file[0] = '\0';
    h->where_line = 0;
    if (len > 0 && code[0] == LUA_SIGNATURE[0])
        return qloop_error_set(err, shown, 0, 0, "不允许加载 Lua 字节码；规则文件必须是文本");
    int rc = luaL_loadbufferx(L, code, len, chunkname, "t");
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM)
            qloop_error_set(err, shown, 0, 0, "加载规则时内存不足");
        else
            fill_error(err, lua_tostring(L, -1), h);
        if (!err->file[0])
            snprintf(err->file, sizeof err->file, "%s", shown);
        /* The parser's own recursion limit comes without a line: name the
         * deepest nesting (lua/nesting.c). */
        if (err->line == 0 && strstr(err->message, "C stack overflow")) {
            int depth;
            long line = qloop_lua_deepest_line(code, len, &depth);
            qloop_error_set(err, err->file, line, 0,
                            "嵌套过深（这里的括号、表或函数、if/do 等语句块嵌套了 %d 层，"
                            "超过了 Lua 语法分析器的上限）；请拆分这段代码，例如把内层写成单独的函数或变量",
                            depth);
        }
        lua_pop(L, 1);
        return -1;
    }
    qloop_env_push_new(L);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 0;
}

int qloop_lua_load_file(lua_State *L, const char *path, struct qloop_error *err)
{
    return qloop_lua_load_file_digest(L, path, NULL, err);
}

int qloop_lua_load_file_digest(lua_State *L, const char *path, uint8_t digest[32],
                               struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0, "无法读取规则文件；请检查路径是否正确");
    struct qloop_buf b = {0};
    int bad = qloop_buf_read(&b, f, 0) != 0;
    fclose(f);
    if (bad) {
        qloop_buf_free(&b);
        return qloop_error_set(err, path, 0, 0, "读取规则文件出错");
    }
    const char *code = qloop_buf_str(&b);
    size_t len = b.len;
    if (digest)
        qloop_sha256(code, len, digest);
    if (len >= 3 && memcmp(code, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        code += 3;
        len -= 3;
    }
    struct qloop_buf name = {0};
    qloop_buf_printf(&name, "@%s", path);
    int rc = qloop_lua_load(L, code, len, qloop_buf_str(&name), err);
    qloop_buf_free(&name);
    qloop_buf_free(&b);
    return rc;
}

void qloop_lua_push_env(lua_State *L, int idx)
{
    if (!lua_getupvalue(L, idx, 1))
        lua_pushnil(L);
}
