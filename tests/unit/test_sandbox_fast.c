/*
 * test_sandbox_fast.c — FAST rule calls (engine/lua/sandbox.c, watchdog.c):
 * calls without the count hook give the verdicts of calls under it. Around a
 * budget of 100,000 instructions a FAST state and an EXACT state agree on
 * every loop size; a call that could not have spent its budget keeps its
 * FAST answer and leaves the stack as an EXACT call does; a loop that never
 * returns is interrupted by the watchdog's signal and fails on its budget,
 * quickly, even when it catches errors; pattern bombs and the memory cap
 * fail as before; after a re-run the state runs EXACT for a stretch, then
 * FAST again; an EXACT call's budget does not depend on the calls before
 * it (the hook's counter is reset); print in a re-run call prints once; and
 * a FAST call reads the clock once, taking the previous call's end as its
 * start, and is retried FAST on its own time when that made it too long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua/host.h"
#include "lua/sandbox.h"

/* A state with the given instruction budget (0: the default) and memory cap
 * in MiB (0: the default), FAST when fast is set. */
static lua_State *new_state(long instructions, size_t memory_mb, int fast)
{
    struct qloop_lua_limits limits = {.instructions = instructions,
                                      .memory_bytes = memory_mb << 20};
    lua_State *L = qloop_lua_new(&limits);
    assert_non_null(L);
    qloop_lua_set_fast(L, fast);
    assert_int_equal(qloop_host_of(L)->fast, fast);
    return L;
}

/* Loads code (a chunk returning one function); returns a registry reference
 * to the function. */
static int load_function(lua_State *L, const char *code)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code, strlen(code), "@t.lua", &err), 0);
    if (qloop_lua_pcall(L, 0, 1, &err) != LUA_OK)
        fail_msg("%s", err.message);
    assert_true(lua_isfunction(L, -1));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Calls the function ref on n with one result; returns the status, err
 * filled on an error. The stack is as before either way. */
static int call_n(lua_State *L, int ref, lua_Integer n, struct qloop_error *err)
{
    int top = lua_gettop(L);
    qloop_error_clear(err);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushinteger(L, n);
    int rc = qloop_lua_pcall(L, 1, 1, err);
    if (rc == LUA_OK) {
        assert_int_equal(lua_gettop(L), top + 1);
        lua_pop(L, 1);
    }
    assert_int_equal(lua_gettop(L), top);
    return rc;
}

static const char LOOP[] = "return function(n) for i = 1, n do end return true end";

/* The largest n for which LOOP passes in the EXACT state L. */
static lua_Integer largest_passing(lua_State *L, int ref)
{
    struct qloop_error err;
    lua_Integer lo = 0, hi = 1000000; /* lo passes, hi fails */
    assert_int_equal(call_n(L, ref, lo, &err), LUA_OK);
    assert_int_not_equal(call_n(L, ref, hi, &err), LUA_OK);
    while (hi - lo > 1) {
        lua_Integer mid = lo + (hi - lo) / 2;
        if (call_n(L, ref, mid, &err) == LUA_OK)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Compares the verdict and message of LOOP on n in the FAST state f (forced
 * to start FAST) and the EXACT state e; returns 1 when it passed. */
static int same_verdict(lua_State *f, int fref, lua_State *e, int eref, lua_Integer n)
{
    struct qloop_host *h = qloop_host_of(f);
    h->exact_left = 0; /* this call starts FAST, whatever came before */
    unsigned long started = h->fast_kept + h->reruns;
    struct qloop_error ef, ee;
    int rf = call_n(f, fref, n, &ef), re = call_n(e, eref, n, &ee);
    assert_int_equal(h->fast_kept + h->reruns, started + 1);
    if (rf != re || (rf != LUA_OK && strcmp(ef.message, ee.message) != 0))
        fail_msg("n %lld: FAST %d (%s), EXACT %d (%s)", (long long)n, rf, ef.message, re,
                 ee.message);
    if (rf != LUA_OK && !strstr(ef.message, "指令预算"))
        fail_msg("n %lld: %s", (long long)n, ef.message);
    return rf == LUA_OK;
}

/* Around a budget of 100,000 instructions FAST and EXACT agree on every loop
 * size: just under passes, just over fails with the budget error. */
static void test_budget_boundary(void **state)
{
    (void)state;
    lua_State *e = new_state(100000, 0, 0), *f = new_state(100000, 0, 1);
    int eref = load_function(e, LOOP), fref = load_function(f, LOOP);
    lua_Integer nmax = largest_passing(e, eref);
    assert_true(nmax > 90000 && nmax < 100000);
    for (lua_Integer n = nmax - 3; n <= nmax + 3; n++)
        assert_int_equal(same_verdict(f, fref, e, eref, n), n <= nmax);
    int passed = 0, failed = 0;
    for (lua_Integer n = 50000; n <= 150000; n += 2500) {
        if (same_verdict(f, fref, e, eref, n))
            passed++;
        else
            failed++;
    }
    assert_true(passed > 10 && failed > 10);
    assert_int_equal(same_verdict(f, fref, e, eref, 1000), 1);
    assert_int_equal(same_verdict(f, fref, e, eref, 200000), 0);
    qloop_lua_close(e);
    qloop_lua_close(f);
}

/* A short call keeps its FAST answer (no re-run): a pass, an error, many
 * results; the stack is left as by an EXACT call. */
static void test_fast_answer_kept(void **state)
{
    (void)state;
    lua_State *L = new_state(QLOOP_LUA_MAX_INSTRUCTIONS, 0, 1);
    struct qloop_host *h = qloop_host_of(L);
    int ref = load_function(L, LOOP);
    unsigned long kept = h->fast_kept;
    struct qloop_error err;
    assert_int_equal(call_n(L, ref, 10000, &err), LUA_OK);
    assert_int_equal(h->fast_kept, kept + 1);
    assert_int_equal(h->reruns, 0);
    lua_pushliteral(L, "below");
    int base = lua_gettop(L);
    static const char three[] = "return function(a, b) return a + b, a - b, 'x' end";
    lua_rawgeti(L, LUA_REGISTRYINDEX, load_function(L, three));
    lua_pushinteger(L, 5);
    lua_pushinteger(L, 3);
    assert_int_equal(qloop_lua_pcall(L, 2, LUA_MULTRET, &err), LUA_OK);
    assert_int_equal(lua_gettop(L), base + 3);
    assert_int_equal(lua_tointeger(L, base + 1), 8);
    assert_int_equal(lua_tointeger(L, base + 2), 2);
    assert_string_equal(lua_tostring(L, base + 3), "x");
    assert_string_equal(lua_tostring(L, base), "below");
    lua_settop(L, base);
    static const char boom[] = "return function(v) error('boom ' .. v) end";
    lua_rawgeti(L, LUA_REGISTRYINDEX, load_function(L, boom));
    lua_pushliteral(L, "v");
    assert_int_not_equal(qloop_lua_pcall(L, 1, 2, &err), LUA_OK);
    assert_string_equal(err.message, "boom v");
    assert_string_equal(err.file, "t.lua");
    assert_int_equal(lua_gettop(L), base);
    assert_int_equal(h->reruns, 0);
    assert_true(h->fast_kept >= 3);
    qloop_lua_close(L);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A loop that never returns, in a FAST call: the watchdog interrupts it, it
 * is re-run EXACT and fails with the budget error, within seconds — also
 * when it catches every error, and when it spends its time in C functions.
 * The state works on afterwards. (alarm: the test's own time-out.) */
static void test_runaway_interrupted(void **state)
{
    (void)state;
    static const char *const loops[] = {
        "return function() while true do end end",
        "return function() while true do pcall(function() while true do end end) end end",
        "return function() local s while true do s = string.rep('x', 8) .. 'y' end end",
        "return function() while true do xpcall(function() while true do end end, "
        "function() while true do end end) end end",
    };
    alarm(60);
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        lua_State *L = new_state(0, 0, 1);
        struct qloop_host *h = qloop_host_of(L);
        int ref = load_function(L, loops[i]);
        unsigned long kept = h->fast_kept;
        struct qloop_error err;
        unsigned long reruns = h->reruns;
        double t0 = wall_now();
        if (call_n(L, ref, 0, &err) == LUA_OK || !strstr(err.message, "指令预算"))
            fail_msg("loop %zu: %s", i, err.message);
        double took = wall_now() - t0;
        if (took > 10)
            fail_msg("loop %zu took %.1f s", i, took);
        assert_int_equal(h->reruns, reruns + 1);
        assert_int_equal(h->fast_kept, kept);
        int ok = load_function(L, "return function(n) return n == 7 end");
        assert_int_equal(call_n(L, ok, 7, &err), LUA_OK);
        qloop_lua_close(L);
    }
    alarm(0);
}

/* Calls the function ref with no argument; returns the message of its error
 * ("" when it passed). */
static void message_of(lua_State *L, int ref, char *out, size_t size)
{
    struct qloop_error err;
    out[0] = '\0';
    if (call_n(L, ref, 0, &err) != LUA_OK)
        snprintf(out, size, "%s", err.message);
}

/* A pattern bomb and the memory cap fail in a FAST state as in an EXACT one,
 * and a call after them works. */
static void test_bombs_as_before(void **state)
{
    (void)state;
    static const char *const bombs[][2] = {
        {"return function() return string.find(string.rep('a', 3e5), '.-.-.-.-.-b') end",
         "指令预算"},
        {"return function() local t = {} for i = 1, 64 do t[i] = string.rep('x', 1 << 20) .. i "
         "end end",
         "内存上限"},
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        lua_State *e = new_state(0, 16, 0), *f = new_state(0, 16, 1);
        char me[1200], mf[1200];
        message_of(e, load_function(e, bombs[i][0]), me, sizeof me);
        message_of(f, load_function(f, bombs[i][0]), mf, sizeof mf);
        if (!strstr(mf, bombs[i][1]) || strcmp(me, mf) != 0)
            fail_msg("bomb %zu: FAST \"%s\", EXACT \"%s\"", i, mf, me);
        struct qloop_error err;
        assert_int_equal(call_n(f, load_function(f, LOOP), 100, &err), LUA_OK);
        qloop_lua_close(e);
        qloop_lua_close(f);
    }
}

/* Runs `calls` calls of a short function; returns how many ran FAST, or -1
 * when one of them was re-run: slow by chance, the machine took the CPU away
 * (the scenario below is then tried again). */
static long short_calls(lua_State *L, int ref, int calls)
{
    struct qloop_host *h = qloop_host_of(L);
    unsigned long before = h->fast_kept + h->reruns, reruns = h->reruns;
    struct qloop_error err;
    for (int i = 0; i < calls; i++)
        assert_int_equal(call_n(L, ref, 1, &err), LUA_OK);
    return h->reruns != reruns ? -1 : (long)(h->fast_kept + h->reruns - before);
}

#define SHORT_CALLS(L, ref, calls, expected)                                                      \
    do {                                                                                           \
        long got_ = short_calls(L, ref, calls);                                                    \
        if (got_ < 0) {                                                                            \
            qloop_lua_close(L);                                                                    \
            return 0;                                                                              \
        }                                                                                          \
        assert_int_equal(got_, expected);                                                          \
    } while (0)

/* Calls ref on n in L, which must pass and be re-run once. */
static void rerun_once(lua_State *L, int ref, lua_Integer n)
{
    struct qloop_host *h = qloop_host_of(L);
    unsigned long reruns = h->reruns;
    struct qloop_error err;
    assert_int_equal(call_n(L, ref, n, &err), LUA_OK);
    assert_int_equal(h->reruns, reruns + 1);
}

/* The scenario of test_mode_switch; returns 1 when it ran through, 0 when a
 * short call was re-run by chance on the way. */
static int mode_switch_once(void)
{
    lua_State *L = new_state(0, 0, 1);
    struct qloop_host *h = qloop_host_of(L);
    int ref = load_function(L, LOOP);
    int slow = load_function(L, "return function() return #string.rep('x', 1 << 25) end");
    SHORT_CALLS(L, ref, QLOOP_RERUN_GAP, QLOOP_RERUN_GAP);
    /* 6 million of the 10 million instructions: a long call */
    rerun_once(L, ref, 6000000);
    assert_int_equal(h->exact_left, QLOOP_EXACT_STRETCH);
    SHORT_CALLS(L, ref, QLOOP_EXACT_STRETCH, 0);
    SHORT_CALLS(L, ref, 10, 10);
    /* at once again: twice as long */
    rerun_once(L, ref, 6000000);
    assert_int_equal(h->exact_left, 2 * QLOOP_EXACT_STRETCH);
    SHORT_CALLS(L, ref, 2 * QLOOP_EXACT_STRETCH, 0);
    /* after more FAST calls than the stretch lasted: back to the first length */
    SHORT_CALLS(L, ref, 2 * QLOOP_EXACT_STRETCH + 1, 2 * QLOOP_EXACT_STRETCH + 1);
    rerun_once(L, ref, 6000000);
    assert_int_equal(h->exact_left, QLOOP_EXACT_STRETCH);
    SHORT_CALLS(L, ref, QLOOP_EXACT_STRETCH + QLOOP_RERUN_GAP, QLOOP_RERUN_GAP);
    /* 32 MiB made in C: long in time, short in instructions: re-run alone */
    rerun_once(L, slow, 0);
    assert_int_equal(h->exact_left, 0);
    SHORT_CALLS(L, ref, 10, 10);
    /* but a second one this soon: a stretch; and never a longer one */
    rerun_once(L, slow, 0);
    assert_int_equal(h->exact_left, QLOOP_EXACT_STRETCH);
    SHORT_CALLS(L, ref, QLOOP_EXACT_STRETCH, 0);
    rerun_once(L, slow, 0);
    assert_int_equal(h->exact_left, QLOOP_EXACT_STRETCH);
    qloop_lua_close(L);
    return 1;
}

/* After a re-run of a long call the state runs EXACT for
 * QLOOP_EXACT_STRETCH calls, then FAST again; a long call re-run soon after
 * doubles the stretch, one after more FAST calls than it lasted starts it
 * again at QLOOP_EXACT_STRETCH. A short call slow by chance (here: slow in
 * C, few instructions) is re-run alone, unless re-runs come close together,
 * and then the stretch does not grow. An EXACT state never runs FAST. */
static void test_mode_switch(void **state)
{
    (void)state;
    int done = 0;
    for (int attempt = 0; attempt < 5 && !done; attempt++)
        done = mode_switch_once();
    assert_true(done);
    lua_State *e = new_state(0, 0, 0);
    assert_int_equal(short_calls(e, load_function(e, LOOP), 10), 0);
    qloop_lua_close(e);
}

/* In an EXACT state the same call gets the same verdict whatever ran before
 * it: the largest passing loop passes, and one more iteration fails, after
 * calls that left the hook's counter anywhere. */
static void test_exact_budget_reset(void **state)
{
    (void)state;
    lua_State *L = new_state(100000, 0, 0);
    int ref = load_function(L, LOOP);
    lua_Integer nmax = largest_passing(L, ref);
    static const lua_Integer before[] = {0, 1, 2, 7, 100, 333, 500, 998, 999, 1234, 54321};
    struct qloop_error err;
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        assert_int_equal(call_n(L, ref, before[i], &err), LUA_OK);
        if (call_n(L, ref, nmax, &err) != LUA_OK)
            fail_msg("after a loop of %lld: %lld failed: %s", (long long)before[i],
                     (long long)nmax, err.message);
        assert_int_equal(call_n(L, ref, before[i], &err), LUA_OK);
        if (call_n(L, ref, nmax + 1, &err) == LUA_OK)
            fail_msg("after a loop of %lld: %lld passed", (long long)before[i],
                     (long long)nmax + 1);
    }
    qloop_lua_close(L);
}

static int prints; /* lines print has written */

static void count_print(void *ctx, const char *s, size_t len, struct qloop_buf *out)
{
    (void)ctx, (void)s, (void)len, (void)out;
    prints++;
}

/* print in a FAST call that is then re-run prints once: the FAST run stops
 * at the print and the EXACT run prints. */
static void test_print_once(void **state)
{
    (void)state;
    lua_State *L = new_state(0, 0, 1);
    struct qloop_host *h = qloop_host_of(L);
    qloop_lua_set_print_filter(L, count_print, NULL);
    int ref = load_function(L, "return function(n) print('once') for i = 1, n do end return true end");
    struct qloop_error err;
    prints = 0;
    unsigned long reruns = h->reruns;
    assert_int_equal(call_n(L, ref, 3000000, &err), LUA_OK);
    assert_int_equal(prints, 1);
    assert_int_equal(h->reruns, reruns + 1);
    h->exact_left = 0;
    assert_int_equal(call_n(L, ref, 1, &err), LUA_OK);
    assert_int_equal(prints, 2);
    qloop_lua_close(L);
}

/* Where the kernel keeps time with the TSC (x86-64), FAST calls time
 * themselves with it once the watchdog has measured its rate: a rate that
 * never makes a time shorter than CLOCK_MONOTONIC's, and close to it. */
static void test_tsc_rate(void **state)
{
    (void)state;
    char src[32] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f || !fgets(src, sizeof src, f) || strcmp(src, "tsc\n") != 0) {
        if (f)
            fclose(f);
        skip(); /* no TSC clocksource: FAST calls use CLOCK_MONOTONIC */
    }
    fclose(f);
    lua_State *L = new_state(0, 0, 1);
    double rate = 0;
    for (int i = 0; i < 100 && rate == 0; i++) {
        usleep(10000);
        rate = qloop_watchdog_tsc_rate();
    }
    assert_true(rate > 0.1 && rate < 100);
    for (int k = 0; k < 5; k++) {
        double m0 = wall_now();
        uint64_t t0 = qloop_tsc();
        while (wall_now() - m0 < 0.02) {
        }
        uint64_t t1 = qloop_tsc();
        double m1 = wall_now();
        double by_tsc = (double)(t1 - t0) / rate * 1e-9;
        if (by_tsc < (m1 - m0) * 0.999 - 1e-6 || by_tsc > (m1 - m0) * 1.05)
            fail_msg("TSC says %.6f s, the monotonic clock %.6f s", by_tsc, m1 - m0);
    }
    qloop_lua_close(L);
}

/* A FAST call reads the clock once, at its end, and takes the end of the
 * state's previous FAST call as its start. Calls one after another keep their
 * answers with no retry; a call after a pause longer than its room (budget x
 * QLOOP_NS_PER_INSTR_FLOOR: 500 us here) is run again FAST, timed on its own,
 * and kept, and the next QLOOP_UNCHAINED calls time themselves; after them a
 * pause costs a retry again. No call is re-run EXACT and every answer holds.
 * A loaded machine may stop the test's thread between two calls for longer
 * than the room: such an attempt is started again, and one of up to 20 must
 * go as described. A long call is still re-run EXACT, with EXACT's verdict. */
static void test_one_clock_read(void **state)
{
    (void)state;
    lua_State *L = new_state(10000000, 0, 1);
    struct qloop_host *h = qloop_host_of(L);
    int ref = load_function(L, LOOP);
    struct qloop_error err;
    int done = 0;
    for (int attempt = 0; attempt < 20 && !done; attempt++) {
        unsigned long reruns = h->reruns;
        h->exact_left = 0;
        h->unchained = 0;
        assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        unsigned long retries = h->chain_retries, kept = h->fast_kept;
        for (int i = 0; i < 20; i++)
            assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        if (h->reruns != reruns || h->chain_retries != retries)
            continue; /* the thread was stopped between two calls */
        assert_int_equal(h->fast_kept, kept + 20);
        usleep(5000); /* 5 ms: far past the room */
        assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        if (h->reruns != reruns)
            continue;
        assert_int_equal(h->chain_retries, retries + 1);
        assert_int_equal(h->fast_kept, kept + 21);
        assert_int_equal(h->unchained, QLOOP_UNCHAINED - 1);
        usleep(5000); /* inside the window: timed on its own, no retry */
        assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        if (h->reruns != reruns)
            continue;
        assert_int_equal(h->chain_retries, retries + 1);
        assert_int_equal(h->unchained, QLOOP_UNCHAINED - 2);
        for (int i = 0; i < QLOOP_UNCHAINED; i++)
            assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        assert_int_equal(h->unchained, 0);
        usleep(5000); /* chained again: a retry */
        assert_int_equal(call_n(L, ref, 10, &err), LUA_OK);
        if (h->reruns != reruns)
            continue;
        assert_int_equal(h->chain_retries, retries + 2);
        done = 1;
    }
    assert_true(done);
    qloop_lua_close(L);
    /* a long call (a loop of 900,000 takes far more than 50 us) */
    L = new_state(1000000, 0, 1);
    h = qloop_host_of(L);
    ref = load_function(L, LOOP);
    unsigned long reruns = h->reruns;
    h->exact_left = 0;
    assert_int_equal(call_n(L, ref, 900000, &err), LUA_OK);
    assert_int_equal(h->reruns, reruns + 1);
    h->exact_left = 0;
    assert_int_not_equal(call_n(L, ref, 1100000, &err), LUA_OK);
    assert_non_null(strstr(err.message, "指令预算"));
    assert_int_equal(h->reruns, reruns + 2);
    qloop_lua_close(L);
}

/* Calls the function and argument at fn, fn + 1 (the handler at fn - 1)
 * through qloop_host_pcall_kept with one result; checks that the two stay
 * where they were and returns the status (the result popped). */
static int call_kept(lua_State *L, int fn, struct qloop_error *err)
{
    qloop_error_clear(err);
    int rc = qloop_host_pcall_kept(L, 1, 1, fn - 1, err);
    assert_int_equal(lua_gettop(L), fn + 1 + (rc == LUA_OK));
    assert_true(lua_isfunction(L, fn));
    assert_true(lua_isinteger(L, fn + 1));
    if (rc == LUA_OK) {
        assert_true(lua_toboolean(L, -1));
        lua_pop(L, 1);
    }
    return rc;
}

/* qloop_host_pcall_kept: the function and argument stay below the result
 * whether the call is kept FAST, re-run EXACT or fails, in a FAST state and
 * an EXACT one, and serve the next call. */
static void test_kept_call(void **state)
{
    (void)state;
    for (int fast = 0; fast <= 1; fast++) {
        lua_State *L = new_state(1000000, 0, fast);
        struct qloop_host *h = qloop_host_of(L);
        int ref = load_function(L, LOOP);
        lua_pushliteral(L, "below");
        lua_pushcfunction(L, qloop_host_error_handler);
        int fn = lua_gettop(L) + 1;
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushinteger(L, 10);
        struct qloop_error err;
        unsigned long kept = h->fast_kept, reruns = h->reruns;
        assert_int_equal(call_kept(L, fn, &err), LUA_OK);
        assert_int_equal(h->fast_kept, kept + (unsigned long)fast);
        /* a long call: re-run EXACT on fresh copies (FAST), or run EXACT */
        lua_pushinteger(L, 900000);
        lua_replace(L, fn + 1);
        h->exact_left = 0;
        assert_int_equal(call_kept(L, fn, &err), LUA_OK);
        assert_int_equal(h->reruns, reruns + (unsigned long)fast);
        /* over the budget: an error, nothing above the two */
        lua_pushinteger(L, 1100000);
        lua_replace(L, fn + 1);
        h->exact_left = 0;
        assert_int_not_equal(call_kept(L, fn, &err), LUA_OK);
        assert_non_null(strstr(err.message, "指令预算"));
        /* and again a short one on the same two */
        lua_pushinteger(L, 1);
        lua_replace(L, fn + 1);
        assert_int_equal(call_kept(L, fn, &err), LUA_OK);
        lua_settop(L, fn - 2);
        assert_string_equal(lua_tostring(L, -1), "below");
        qloop_lua_close(L);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_boundary),   cmocka_unit_test(test_fast_answer_kept),
        cmocka_unit_test(test_runaway_interrupted), cmocka_unit_test(test_bombs_as_before),
        cmocka_unit_test(test_mode_switch),       cmocka_unit_test(test_exact_budget_reset),
        cmocka_unit_test(test_print_once),        cmocka_unit_test(test_tsc_rate),
        cmocka_unit_test(test_one_clock_read),    cmocka_unit_test(test_kept_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
