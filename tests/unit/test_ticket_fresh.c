/*
 * test_ticket_fresh.c — a first night's findings as ticket_fresh.c hands
 * them over (loop/ticket_fresh.c): sorted by id with its radix sort (the
 * same order as qsort by id, for dense, sparse and very wide id ranges,
 * each id keeping its record), a record found more than once in one kind
 * handed over once (its first finding), a group of one kind marked as
 * holding each record once and a group of several kinds not, and the items
 * a sync makes from them: each record once, at its first finding, in id
 * order, whatever kind its later findings are of.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_helpers.h"
#include "ticket_helpers.h"

#include "base/buf.h"
#include "loop/ticket_private.h"

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct fresh_row *)a)->id, y = ((const struct fresh_row *)b)->id;
    return (x > y) - (x < y);
}

/* xorshift64*, for repeatable "random" ids */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* n distinct ids, base + (a random value below span), in random order;
 * each row's ref is its position, so that a row's id and ref can be seen
 * to travel together. Sorted by tk_fresh_sort_by_id and by qsort: the
 * same rows in the same order. */
static void check_sort(size_t n, int64_t base, uint64_t span, uint64_t seed)
{
    struct fresh_row *v = calloc(n + 1, sizeof *v), *w = calloc(n + 1, sizeof *w),
                     *scratch = calloc(n + 1, sizeof *scratch);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        bool fresh;
        do { /* distinct: the ids of a run's findings are */
            id = base + (int64_t)(span < n * 2 ? next_random(&s) % (n * 2)
                                               : next_random(&s) % span);
            fresh = true;
            for (size_t j = 0; fresh && j < i && n <= 5000; j++)
                fresh = v[j].id != id;
        } while (!fresh);
        v[i] = (struct fresh_row){id, i};
    }
    memcpy(w, v, n * sizeof *v);
    tk_fresh_sort_by_id(v, scratch, n);
    qsort(w, n, sizeof *w, by_id);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].id, w[i].id);
        assert_int_equal(v[i].ref, w[i].ref);
    }
    free(v);
    free(w);
    free(scratch);
}

static void test_sort_by_id_as_qsort(void **state)
{
    (void)state;
    check_sort(0, 1, 10, 1);
    check_sort(1, 7, 10, 2);
    check_sort(2, 1, 4, 3);
    check_sort(17, 100, 40, 4);
    check_sort(5000, 1, 10000, 5);                  /* dense: one pass */
    check_sort(5000, 1000000, 1u << 20, 6);         /* two passes */
    check_sort(4000, 1, (uint64_t)1 << 40, 7);      /* four */
    check_sort(3000, 5, (uint64_t)1 << 62, 8);      /* every pass */
    check_sort(3000, INT64_MAX - ((int64_t)1 << 40), (uint64_t)1 << 40, 9); /* near the top */
    /* ids already in order, and in reverse */
    enum { N = 3000 };
    struct fresh_row v[N], scratch[N];
    for (size_t i = 0; i < N; i++)
        v[i] = (struct fresh_row){(int64_t)(N - i) * 3, i};
    tk_fresh_sort_by_id(v, scratch, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(v[i].id, (int64_t)(i + 1) * 3);
        assert_int_equal(v[i].ref, N - 1 - i);
    }
    tk_fresh_sort_by_id(v, scratch, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].id, (int64_t)(i + 1) * 3);
}

/* Run r1 on dataset people: rule people.one (one kind) and rule
 * people.two (kinds of fields a and b), findings in this id order. */
static const struct {
    const char *rule, *field, *ref;
} found[] = {
    {"people.two", "a", "refX"}, /* 1 */
    {"people.one", "f", "refQ"}, /* 2 */
    {"people.two", "b", "refZ"}, /* 3 */
    {"people.two", "a", "refY"}, /* 4 */
    {"people.one", "f", "refP"}, /* 5 */
    {"people.two", "b", "refX"}, /* 6: X again, in the other kind */
    {"people.one", "f", "refQ"}, /* 7: Q again */
    {"people.two", "a", "refX"}, /* 8: X again, in its first kind */
    {"people.two", "b", "refY"}, /* 9: Y again, in the other kind */
    {"people.one", "f", "refR"}, /* 10 */
    {"people.two", "b", "refZ"}, /* 11: Z again */
    {"people.one", "f", "refQ"}, /* 12: Q a third time */
};
enum { NFOUND = sizeof found / sizeof found[0] };

static sqlite3 *store_with_findings(void)
{
    sqlite3 *db = db_open();
    set_now("2024-09-27T10:00:00+08:00");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r1',"
             " '2024-09-27T10:00:00+08:00', '2024-09-27T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES('r1', 'people', 12,"
             " '市公安局')");
    for (int r = 0; r < 2; r++)
        exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                 " message, checked, failed, errors, resolve_missing) VALUES('r1', %Q, 'people',"
                 " 'f', 'normative', 'medium', '格式错误', 12, 6, 0, 0)",
             r ? "people.two" : "people.one");
    for (int i = 0; i < NFOUND; i++)
        exec(db, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref, record_key,"
                 " field, value, message) VALUES(%d, 'r1', 'people', %Q, %d, %Q, 'K%d', %Q,"
                 " 'v%d', '格式错误')",
             i + 1, found[i].rule, i + 1, found[i].ref, i + 1, found[i].field, i + 1);
    return db;
}

/* What tk_fresh_findings handed over, as "rule id ref distinct;" */
static int collect(void *ctx, const struct tk_fresh *f)
{
    qloop_buf_printf(ctx, "%s %lld %s %d;", f->rule, (long long)f->id, f->ref, f->distinct);
    return 0;
}

static void test_records_found_twice(void **state)
{
    (void)state;
    sqlite3 *db = store_with_findings();
    struct qloop_buf got = {0};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(tk_fresh_findings(db, "r1", collect, &got, &err), 0);
    /* people.one: Q's later findings (7, 12) dropped, each record once:
     * distinct. people.two: X's and Y's findings in the other kind kept
     * (the caller skips them), X's second of kind a (8) and Z's second of
     * kind b (11) dropped. */
    assert_string_equal(qloop_buf_str(&got), "people.one 2 refQ 1;people.one 5 refP 1;"
                                             "people.one 10 refR 1;"
                                             "people.two 1 refX 0;people.two 3 refZ 0;"
                                             "people.two 4 refY 0;people.two 6 refX 0;"
                                             "people.two 9 refY 0;");
    qloop_buf_free(&got);
    /* the items: each record once, at its first finding, in id order */
    struct qloop_policy p = ningbo();
    sync_committed(db, "r1", &p);
    assert_string_equal(q_text(db, "SELECT group_concat(rule || ':' || record_ref || ':' || value,"
                                   " ' ') FROM (SELECT * FROM ticket_items ORDER BY id)"),
                        "people.one:refQ:v2 people.one:refP:v5 people.one:refR:v10"
                        " people.two:refX:v1 people.two:refZ:v3 people.two:refY:v4");
    audit_whole(db);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_by_id_as_qsort),
        cmocka_unit_test(test_records_found_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
