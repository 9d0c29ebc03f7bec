/*
 * test_merge_unique.c — `unique` over the parts in the merge (run/merge.h,
 * merge_unique.c): the parts' states merged as sorted runs report exactly
 * the records a whole run's unique reports and the judges did not — in
 * memory and spilled to the temporary file, with the states sorted, in
 * pieces, or in any order — and in the order a run reports them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strmap.h"
#include "run/merge.h"

enum { ROWS = 120000, PARTS = 4, KEYPAD = 100, VALUES = 3 * ROWS + 100 };

/* The data: row r (1-based) holds value[r]; the record's key is "k" r,
 * padded so that the states outgrow one chunk of the store. */
static uint32_t value[ROWS + 1];

static void key_of(uint64_t row, char *out, size_t *len)
{
    int n = snprintf(out, 32, "k%llu", (unsigned long long)row);
    memset(out + n, '.', KEYPAD - (size_t)n);
    *len = KEYPAD;
}

static size_t part_of(uint64_t row)
{
    return (size_t)((row - 1) * PARTS / ROWS);
}

/* One part's state of one distinct value. */
struct state {
    uint32_t v;
    uint64_t count, row; /* row: the first, for a count of 1 */
    uint64_t hi, lo;
};

static int by_fp(const void *a, const void *b)
{
    const struct state *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

struct got {
    unsigned char hit[ROWS + 1];
    uint64_t order[ROWS];
    size_t n;
    int bad;
};

static int emit(void *ctx, size_t rule, uint64_t row, const char *key, size_t klen,
                const char *val, size_t vlen)
{
    struct got *g = ctx;
    char want[KEYPAD + 32], v[16];
    size_t wlen;
    if (row == 0 || row > ROWS || rule != 1) {
        g->bad++;
        return 0;
    }
    key_of(row, want, &wlen);
    int n = snprintf(v, sizeof v, "v%u", value[row]);
    if (klen != wlen || memcmp(key, want, klen) != 0 || vlen != (size_t)n || memcmp(val, v, vlen) != 0)
        g->bad++;
    g->hit[row]++;
    g->order[g->n++] = row;
    return 0;
}

/* How the states of a part are handed over. */
enum order { SORTED, PIECES, ANY };

/* Feeds every part's states (rule 1 of 2) in the given order and merges. */
static void merge_all(struct merge_unique *u, enum order how, struct got *g)
{
    struct state *st = calloc(ROWS, sizeof *st);
    uint32_t *slot = calloc(VALUES, sizeof *slot); /* value -> index in st + 1 */
    for (size_t p = 0; p < PARTS; p++) {
        size_t n = 0;
        memset(slot, 0, VALUES * sizeof *slot);
        for (uint64_t r = 1; r <= ROWS; r++) {
            if (part_of(r) != p)
                continue;
            uint32_t v = value[r];
            if (!slot[v]) {
                char text[16];
                int len = snprintf(text, sizeof text, "v%u", v);
                st[n] = (struct state){v, 0, r, 0, 0};
                strmap_fingerprint(text, (size_t)len, &st[n].hi, &st[n].lo);
                slot[v] = (uint32_t)++n;
            }
            st[slot[v] - 1].count++;
        }
        if (how == SORTED)
            qsort(st, n, sizeof *st, by_fp);
        else if (how == PIECES)
            for (size_t at = 0; at < n; at += 5000)
                qsort(st + at, n - at < 5000 ? n - at : 5000, sizeof *st, by_fp);
        for (size_t i = 0; i < n; i++) {
            char text[16], key[KEYPAD + 32];
            size_t klen = 0;
            int len = snprintf(text, sizeof text, "v%u", st[i].v);
            uint64_t row = st[i].count == 1 ? st[i].row : (uint64_t)p * ROWS / PARTS;
            if (st[i].count == 1)
                key_of(row, key, &klen);
            assert_int_equal(merge_unique_state(u, 1, text, (size_t)len, st[i].count, row, key, klen,
                                                &(struct qloop_error){0}), 0);
        }
        merge_unique_part_end(u);
    }
    struct qloop_error err = {0};
    assert_int_equal(merge_unique_finish(u, emit, g, &err), 0);
    free(st);
    free(slot);
}

/* The data: every third row a value that repeats across parts (about once
 * a part); the others a value of their own — or with within, some values
 * that the first part holds many times and the later parts once each. */
static void make_data(bool within)
{
    for (uint64_t r = 1; r <= ROWS; r++) {
        value[r] = r % 3 == 0 ? (uint32_t)(r % 29989) : (uint32_t)(ROWS + r);
        if (within && r <= ROWS / PARTS && r % 10 == 0)
            value[r] = (uint32_t)(3 * ROWS + (r / 10) % 50);
        if (within && r > ROWS / PARTS && r % 1000 == 7)
            value[r] = (uint32_t)(3 * ROWS + (r / 1000) % 50);
    }
}

/* The records a run's unique reports that the judges did not: those whose
 * value occurs twice or more in the data but once in their part; in the
 * order a run reports them (a first occurrence when the second comes). */
static size_t expected(uint64_t *order, unsigned char *want)
{
    uint32_t *total = calloc(VALUES, sizeof *total), *in_part = calloc(VALUES, sizeof *in_part);
    uint64_t *first = calloc(VALUES, sizeof *first);
    for (uint64_t r = 1; r <= ROWS; r++)
        total[value[r]]++;
    memset(want, 0, ROWS + 1);
    for (size_t p = 0; p < PARTS; p++) {
        memset(in_part, 0, VALUES * sizeof *in_part);
        for (uint64_t r = 1; r <= ROWS; r++)
            if (part_of(r) == p)
                in_part[value[r]]++;
        for (uint64_t r = 1; r <= ROWS; r++)
            if (part_of(r) == p && in_part[value[r]] == 1 && total[value[r]] >= 2)
                want[r] = 1;
    }
    size_t n = 0;
    uint32_t *seen = calloc(VALUES, sizeof *seen);
    for (uint64_t r = 1; r <= ROWS; r++) {
        uint32_t v = value[r];
        if (++seen[v] == 1) {
            first[v] = r;
            continue;
        }
        if (seen[v] == 2 && want[first[v]])
            order[n++] = first[v];
        if (want[r])
            order[n++] = r;
    }
    free(total);
    free(in_part);
    free(first);
    free(seen);
    return n;
}

static void check(size_t budget, enum order how, bool within)
{
    static uint64_t order[ROWS];
    static unsigned char want[ROWS + 1];
    static struct got g;
    memset(&g, 0, sizeof g);
    make_data(within);
    size_t n = expected(order, want);
    assert_true(n > 0);
    struct merge_unique *u = merge_unique_new(2, budget);
    merge_all(u, how, &g);
    merge_unique_free(u);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.n, n);
    for (uint64_t r = 1; r <= ROWS; r++)
        assert_int_equal(g.hit[r], want[r]);
    if (!within) /* with values a part holds twice, the order is the run's only roughly */
        for (size_t i = 0; i < n; i++)
            assert_int_equal(g.order[i], order[i]);
}

/* Values repeat only across parts: the set, and the run's order exactly. */
static void test_across_parts(void **state)
{
    (void)state;
    check(0, SORTED, false);
}

/* Values that also repeat within a part (its judge reported those). */
static void test_within_parts(void **state)
{
    (void)state;
    check(0, SORTED, true);
}

/* Past the budget the chunks go to the temporary file: the same result. */
static void test_spilled(void **state)
{
    (void)state;
    check(1, SORTED, false);
    check(1, PIECES, true);
}

/* States in pieces, or in any order: every ascending stretch is a run. */
static void test_any_order(void **state)
{
    (void)state;
    check(0, PIECES, false);
    check(0, ANY, false);
    check(1 << 20, ANY, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_across_parts),
        cmocka_unit_test(test_within_parts),
        cmocka_unit_test(test_spilled),
        cmocka_unit_test(test_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
