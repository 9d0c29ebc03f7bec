/*
 * test_sandbox_alloc.c — the sandbox's capped allocator (engine/lua/sandbox.c)
 * called directly, byte for byte: while rule code runs the cap is exact (a
 * request that reaches it exactly succeeds, one byte more fails and is noted,
 * a failed growth leaves the block as it was, freeing and shrinking always
 * succeed), between calls nothing fails on the cap, the pool hands a freed
 * small block back for its size class and keeps at most its 4 MiB, and every
 * byte is counted back when blocks are freed. qloop_host_of finds the host
 * that the allocator is given. A new state collects generationally, and a
 * rule that makes garbage on every call runs on under a small cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lua/host.h"
#include "lua/sandbox.h"

enum { CAP = 4 << 20 };

static int failed_at; /* the first check that failed inside the call, or 0 */
static void *held;    /* a 20-byte block the call leaves allocated */

#define CHECK(n, cond)                                                                             \
    do {                                                                                           \
        if (!failed_at && !(cond))                                                                 \
            failed_at = (n);                                                                       \
    } while (0)

/* Runs inside a protected call of the sandbox (the cap applies). */
static int exact_cap(lua_State *L)
{
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    struct qloop_host *h = qloop_host_of(L);
    CHECK(1, h == ud);
    CHECK(2, h->depth > 0 && h->limit == CAP);
    size_t used0 = h->used, room = h->limit - h->used;
    /* a block that takes the state exactly to its cap */
    char *a = f(ud, NULL, LUA_TSTRING, room);
    CHECK(3, a != NULL && h->used == h->limit);
    memset(a, 0x5a, room);
    /* one byte more: refused, and noted */
    h->over_memory = 0;
    CHECK(4, f(ud, NULL, LUA_TTABLE, 1) == NULL && h->over_memory == 1);
    CHECK(5, h->used == h->limit);
    /* growing the block by one byte fails and leaves it as it was */
    CHECK(6, f(ud, a, room, room + 1) == NULL && a[0] == 0x5a && a[room - 1] == 0x5a);
    CHECK(7, h->used == h->limit);
    /* shrinking always succeeds: 100 bytes of room again */
    a = f(ud, a, room, room - 100);
    CHECK(8, a != NULL && h->used == h->limit - 100 && a[room - 101] == 0x5a);
    /* 100 bytes fit exactly (a pool size), 1 more does not */
    char *d = f(ud, NULL, LUA_TSTRING, 100);
    CHECK(9, d != NULL && h->used == h->limit);
    CHECK(10, f(ud, NULL, LUA_TSTRING, 1) == NULL);
    /* freed, the block goes to the pool and comes back for its class
     * (97..112 bytes), counted by the bytes asked for */
    CHECK(11, f(ud, d, 100, 0) == NULL && h->used == h->limit - 100);
    char *e = f(ud, NULL, LUA_TSTRING, 97);
    CHECK(12, e == d && h->used == h->limit - 3);
    CHECK(13, f(ud, e, 97, 100) == e && h->used == h->limit); /* same class: in place */
    CHECK(14, f(ud, e, 100, 101) == NULL);                    /* past the cap */
    held = f(ud, e, 100, 20); /* another class */
    CHECK(15, held != NULL && h->used == h->limit - 80);
    /* a realloc from a pool size past the pool's sizes, and back */
    CHECK(16, f(ud, NULL, LUA_TSTRING, 81) == NULL);
    f(ud, a, room - 100, 0);
    CHECK(17, h->used == used0 + 20);
    char *g = f(ud, NULL, LUA_TSTRING, 200);
    memset(g, 'g', 200);
    g = f(ud, g, 200, 100000);
    CHECK(18, g != NULL && g[199] == 'g' && h->used == used0 + 20 + 100000);
    g = f(ud, g, 100000, 30);
    CHECK(19, g != NULL && g[29] == 'g' && h->used == used0 + 20 + 30);
    f(ud, g, 30, 0);
    /* the 20-byte block of check 15 is left for the caller to count */
    return 0;
}

static void test_exact_cap_in_a_call(void **state)
{
    (void)state;
    struct qloop_lua_limits lim = {.memory_bytes = CAP};
    lua_State *L = qloop_lua_new(&lim);
    assert_non_null(L);
    struct qloop_host *h = qloop_host_of(L);
    void *ud;
    lua_getallocf(L, &ud);
    assert_ptr_equal(h, ud);
    lua_gc(L, LUA_GCSTOP); /* nothing else allocates or frees meanwhile */
    size_t used0 = h->used;
    struct qloop_error err;
    qloop_error_clear(&err);
    failed_at = 0;
    lua_pushcfunction(L, exact_cap);
    assert_int_equal(qloop_lua_pcall(L, 0, 0, &err), LUA_OK);
    if (failed_at)
        fail_msg("check %d failed", failed_at);
    /* the 20-byte block of check 15 is still held: 20 bytes */
    assert_int_equal(h->used, used0 + 20);
    assert_int_equal(h->depth, 0);
    assert_null(((lua_Alloc)lua_getallocf(L, NULL))(ud, held, 20, 0));
    assert_int_equal(h->used, used0);
    lua_gc(L, LUA_GCRESTART);
    qloop_lua_close(L);
}

/* Between calls (depth 0) nothing fails on the cap; the pool keeps at most
 * 4 MiB of freed blocks and the rest goes back to malloc; all is counted. */
static void test_between_calls_and_the_pool_bound(void **state)
{
    (void)state;
    struct qloop_lua_limits lim = {.memory_bytes = 1 << 20};
    lua_State *L = qloop_lua_new(&lim);
    assert_non_null(L);
    lua_gc(L, LUA_GCSTOP);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    struct qloop_host *h = qloop_host_of(L);
    size_t used0 = h->used, pooled0 = h->pooled;
    assert_int_equal(h->depth, 0);
    void *big = f(ud, NULL, LUA_TSTRING, 3 << 20); /* past the 1 MiB cap */
    assert_non_null(big);
    assert_int_equal(h->used, used0 + (3 << 20));
    assert_int_equal(h->over_memory, 0);
    f(ud, big, 3 << 20, 0);
    enum { N = 400000 }; /* 400,000 x 16 bytes: more than the pool keeps */
    void **blocks = malloc(N * sizeof *blocks);
    assert_non_null(blocks);
    for (int i = 0; i < N; i++) {
        blocks[i] = f(ud, NULL, LUA_TSTRING, 1 + (size_t)i % 16);
        assert_non_null(blocks[i]);
    }
    for (int i = 0; i < N; i++)
        f(ud, blocks[i], 1 + (size_t)i % 16, 0);
    free(blocks);
    assert_int_equal(h->used, used0);
    assert_true(h->pooled >= pooled0);
    assert_true(h->pooled <= 4 << 20);
    assert_true(h->pooled > (4 << 20) - 256);
    lua_gc(L, LUA_GCRESTART);
    qloop_lua_close(L);
}

/* The collector of a new state is generational (lua_gc answers the mode it
 * leaves), and 20,000 calls that each make ~10 KB of young garbage (a table,
 * strings) run under a 1 MiB cap: minor collections free it between calls,
 * nothing reaches the cap. */
static void test_generational_under_the_cap(void **state)
{
    (void)state;
    struct qloop_lua_limits lim = {.memory_bytes = 1 << 20};
    lua_State *L = qloop_lua_new(&lim);
    assert_non_null(L);
    assert_int_equal(lua_gc(L, LUA_GCGEN, 0, 0), LUA_GCGEN);
    static const char code[] =
        "return function(i)\n"
        "  local t = {}\n"
        "  for k = 1, 40 do t[k] = string.rep(tostring(i + k), 16) end\n"
        "  return #t[40]\n"
        "end\n";
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code, sizeof code - 1, "=garbage", &err), 0);
    assert_int_equal(qloop_lua_pcall(L, 0, 1, &err), LUA_OK);
    struct qloop_host *h = qloop_host_of(L);
    for (int i = 0; i < 20000; i++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, i);
        if (qloop_lua_pcall(L, 1, 1, &err) != LUA_OK)
            fail_msg("call %d: %s", i, err.message);
        assert_true(lua_tointeger(L, -1) >= 16);
        lua_pop(L, 1);
        assert_true(h->used <= 1 << 20);
    }
    assert_int_equal(h->over_memory, 0);
    qloop_lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_cap_in_a_call),
        cmocka_unit_test(test_between_calls_and_the_pool_bound),
        cmocka_unit_test(test_generational_under_the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
