/*
 * test_watchdog_ceiling.c — a state made under a ceiling with never_exit
 * (engine/lua/sandbox.h, watchdog.c) is never ended by the watchdog: a call
 * stuck in C past twice its CPU budget (table.sort of two million numbers
 * under a budget of 10 ms) used to end the whole process with _exit(2), as
 * for a run, which killed the fuzzer (fuzz.rules, CI of 2026-12-05: a rule
 * file asking limits { cpu_seconds = 0.01 } and sorting a large table). Now
 * the call finishes its C, fails or returns, and the state goes on working.
 * Its own binary: the ceiling is the process's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua/host.h"
#include "lua/sandbox.h"

/* The CPU time of the calling thread, in seconds. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads code (a chunk returning one function) and leaves the function on
 * the stack. */
static void push_function(lua_State *L, const char *code)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code, strlen(code), "@t.lua", &err), 0);
    if (qloop_lua_pcall(L, 0, 1, &err) != LUA_OK)
        fail_msg("%s", err.message);
    assert_true(lua_isfunction(L, -1));
}

static void test_stuck_in_c_not_ended(void **state)
{
    (void)state;
    struct qloop_lua_ceiling c = {.never_exit = 1};
    qloop_lua_set_ceiling(&c);
    /* a run's state asks to end the process on a time-out; the ceiling wins */
    struct qloop_lua_limits limits = {.cpu_seconds = 0.01, .exit_on_timeout = 1,
                                      .memory_bytes = (size_t)512 << 20};
    lua_State *L = qloop_lua_new(&limits);
    assert_non_null(L);
    assert_int_equal(qloop_host_of(L)->exit_on_timeout, 0);
    assert_int_equal(qloop_host_of(L)->never_stop, 1);
    alarm(120);
    push_function(L, "return function(t) table.sort(t) return #t end");
    /* the table is made here in C, outside any call and its budget */
    enum { N = 2000000 };
    lua_createtable(L, N, 0);
    uint64_t x = 88172645463325252u;
    for (lua_Integer i = 1; i <= N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        lua_pushinteger(L, (lua_Integer)(x >> 1));
        lua_rawseti(L, -2, i);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    double t0 = thread_cpu();
    int rc = qloop_lua_pcall(L, 1, 1, &err);
    double used = thread_cpu() - t0;
    /* the sort must really have been stuck in C past the watchdog's hard
     * stop (twice the budget), or this test proves nothing */
    if (used < 0.05)
        skip();
    /* still here: the call returned (its C done), or failed on its time */
    if (rc != LUA_OK && !strstr(err.message, "CPU"))
        fail_msg("unexpected error: %s", err.message);
    lua_settop(L, 0);
    push_function(L, "return function() return 7 end");
    assert_int_equal(qloop_lua_pcall(L, 0, 1, &err), LUA_OK);
    assert_int_equal(lua_tointeger(L, -1), 7);
    alarm(0);
    qloop_lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stuck_in_c_not_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
