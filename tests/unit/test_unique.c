/*
 * test_unique.c — the whole-dataset uniqueness set, in memory and spilled,
 * and its states: parts judged apart and merged report what one set does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run/unique.h"

/* The reported rows, as a bitmap over row numbers < MAXROW. */
enum { MAXROW = 20001 };
struct seen {
    unsigned char hit[MAXROW];
    int reports;
    int bad_key;
};

static int record(void *ctx, uint64_t row_no, const char *key, size_t keylen, const char *value,
                  size_t vlen)
{
    struct seen *s = ctx;
    char want[32];
    snprintf(want, sizeof want, "k%llu", (unsigned long long)row_no);
    if (keylen != strlen(want) || memcmp(key, want, keylen) != 0 || vlen == 0)
        s->bad_key++;
    s->hit[row_no]++;
    s->reports++;
    return 0;
}

/* Values: row r has value r % modulo when r % 7 == 0 (repeats), else a
 * value of its own. */
static void feed(struct unique_set *u, struct seen *s, int rows, int modulo)
{
    struct qloop_error err;
    for (int r = 1; r <= rows; r++) {
        char v[32], k[32];
        if (r % 7 == 0)
            snprintf(v, sizeof v, "dup-%d", r % modulo);
        else
            snprintf(v, sizeof v, "own-%d", r);
        snprintf(k, sizeof k, "k%d", r);
        assert_int_equal(unique_add(u, v, strlen(v), (uint64_t)r, k, strlen(k), record, s, &err), 0);
    }
    assert_int_equal(unique_finish(u, record, s, &err), 0);
}

static void same_results(size_t budget_a, size_t budget_b, bool spill_a, bool spill_b)
{
    struct seen *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    struct unique_set *ua = unique_new(budget_a), *ub = unique_new(budget_b);
    feed(ua, a, 20000, 50);
    feed(ub, b, 20000, 50);
    assert_int_equal(unique_spilled(ua), spill_a);
    assert_int_equal(unique_spilled(ub), spill_b);
    assert_int_equal(a->bad_key, 0);
    assert_int_equal(b->bad_key, 0);
    /* every multiple of 7 shares one of 50 values (each at least twice): all fail */
    int expected = 20000 / 7;
    assert_int_equal(a->reports, expected);
    assert_int_equal(b->reports, expected);
    for (int r = 1; r <= 20000; r++) {
        assert_int_equal(a->hit[r], r % 7 == 0 ? 1 : 0);
        assert_int_equal(b->hit[r], a->hit[r]);
    }
    unique_free(ua);
    unique_free(ub);
    free(a);
    free(b);
}

static void test_memory_and_spill_agree(void **state)
{
    (void)state;
    same_results(0, 4096, false, true);
}

static void test_spill_in_the_middle(void **state)
{
    (void)state;
    /* a budget that runs out part-way: reported groups must not be reported twice */
    same_results(0, 300 * 1024, false, true);
}

static void test_single_value_never_fails(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct unique_set *u = unique_new(1);
    struct qloop_error err;
    assert_int_equal(unique_add(u, "a", 1, 1, "k1", 2, record, s, &err), 0);
    assert_int_equal(unique_add(u, "b", 1, 2, "k2", 2, record, s, &err), 0);
    assert_int_equal(unique_finish(u, record, s, &err), 0);
    assert_true(unique_spilled(u));
    assert_int_equal(s->reports, 0);
    unique_free(u);
    free(s);
}

/* ---- states: parts judged apart, then merged (a partitioned run) ---- */

struct merge_ctx {
    struct unique_set *merged;
    struct seen *s;
    int groups, singles;
};

/* unique_state_fn: one part's value handed to the merged set. */
static int take_state(void *ctx, const char *value, size_t vlen, uint64_t count, uint64_t row_no,
                      const char *key, size_t keylen)
{
    struct merge_ctx *m = ctx;
    struct qloop_error err;
    if (count == 1) {
        m->singles++;
        return unique_add(m->merged, value, vlen, row_no, key, keylen, record, m->s, &err);
    }
    m->groups++;
    assert_int_equal(row_no, 0);
    return unique_add_group(m->merged, value, vlen, count, record, m->s, &err);
}

/* Rows 1..20000 as feed() makes them, spread over nparts parts (row r in
 * part (r * 7919) % nparts, so a value's records land in several parts),
 * each part's set with part_budget, merged into a set with merge_budget:
 * every row that a single set reports is reported exactly once. */
static void parts_merge(int nparts, size_t part_budget, size_t merge_budget)
{
    struct seen *s = calloc(1, sizeof *s);
    struct merge_ctx m = {.merged = unique_new(merge_budget), .s = s};
    struct qloop_error err;
    for (int p = 0; p < nparts; p++) {
        struct unique_set *u = unique_new(part_budget);
        for (int r = 1; r <= 20000; r++) {
            if ((r * 7919) % nparts != p)
                continue;
            char v[32], k[32];
            if (r % 7 == 0)
                snprintf(v, sizeof v, "dup-%d", r % 50);
            else
                snprintf(v, sizeof v, "own-%d", r);
            snprintf(k, sizeof k, "k%d", r);
            assert_int_equal(unique_add(u, v, strlen(v), (uint64_t)r, k, strlen(k), record, s, &err), 0);
        }
        assert_int_equal(unique_finish_states(u, record, s, take_state, &m, &err), 0);
        unique_free(u);
    }
    assert_int_equal(unique_finish(m.merged, record, s, &err), 0);
    assert_int_equal(s->bad_key, 0);
    assert_true(m.groups > 0);
    for (int r = 1; r <= 20000; r++)
        assert_int_equal(s->hit[r], r % 7 == 0 ? 1 : 0);
    assert_int_equal(s->reports, 20000 / 7);
    unique_free(m.merged);
    free(s);
}

static void test_states_merge_in_memory(void **state)
{
    (void)state;
    parts_merge(4, 0, 0);
}

static void test_states_merge_spilled(void **state)
{
    (void)state;
    parts_merge(4, 4096, 0);     /* parts spill: states come from the partition pass */
    parts_merge(3, 0, 4096);     /* the merge spills */
    parts_merge(5, 4096, 8192);  /* both */
    parts_merge(64, 0, 0);       /* most values seen once per part */
}

struct order {
    uint64_t last_row;
    int out_of_order, states;
};

static int check_order(void *ctx, const char *value, size_t vlen, uint64_t count, uint64_t row_no,
                       const char *key, size_t keylen)
{
    (void)value, (void)vlen, (void)key, (void)keylen;
    struct order *o = ctx;
    o->states++;
    if (count == 1) {
        o->out_of_order += row_no <= o->last_row;
        o->last_row = row_no;
    }
    return 0;
}

/* States leave in the order the values came, never in the map's slot order
 * (a merge inserting them into its own map would probe ever longer runs). */
static void test_states_in_row_order(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct unique_set *u = unique_new(0);
    struct qloop_error err;
    for (int r = 1; r <= 20000; r++) {
        char v[32], k[32];
        snprintf(v, sizeof v, r % 7 == 0 ? "dup-%d" : "own-%d", r % 7 == 0 ? r % 50 : r);
        snprintf(k, sizeof k, "k%d", r);
        assert_int_equal(unique_add(u, v, strlen(v), (uint64_t)r, k, strlen(k), record, s, &err), 0);
    }
    struct order o = {0};
    assert_int_equal(unique_finish_states(u, record, s, check_order, &o, &err), 0);
    assert_int_equal(o.states, 20000 - 20000 / 7 + 50);
    assert_int_equal(o.out_of_order, 0);
    unique_free(u);
    free(s);
}

/* A group that arrives before a value's only other record, and after it. */
static void test_group_then_single(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct qloop_error err;
    for (int spilled = 0; spilled < 2; spilled++) {
        memset(s, 0, sizeof *s);
        struct unique_set *u = unique_new(spilled ? 1 : 0);
        assert_int_equal(unique_add(u, "x", 1, 3, "k3", 2, record, s, &err), 0);
        assert_int_equal(unique_add_group(u, "x", 1, 2, record, s, &err), 0);
        assert_int_equal(unique_add_group(u, "y", 1, 5, record, s, &err), 0);
        assert_int_equal(unique_add(u, "y", 1, 9, "k9", 2, record, s, &err), 0);
        assert_int_equal(unique_add_group(u, "z", 1, 2, record, s, &err), 0);
        assert_int_equal(unique_add(u, "w", 1, 4, "k4", 2, record, s, &err), 0);
        assert_int_equal(unique_finish(u, record, s, &err), 0);
        assert_int_equal(unique_spilled(u), spilled);
        assert_int_equal(s->reports, 2);
        assert_int_equal(s->hit[3], 1);
        assert_int_equal(s->hit[9], 1);
        assert_int_equal(s->bad_key, 0);
        unique_free(u);
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_and_spill_agree),
        cmocka_unit_test(test_spill_in_the_middle),
        cmocka_unit_test(test_single_value_never_fails),
        cmocka_unit_test(test_states_merge_in_memory),
        cmocka_unit_test(test_states_merge_spilled),
        cmocka_unit_test(test_group_then_single),
        cmocka_unit_test(test_states_in_row_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
