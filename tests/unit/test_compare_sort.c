/*
 * test_compare_sort.c — 比对's join (engine/run/compare_join.c) sorting
 * each side by key fingerprint, in buckets of the fingerprint's top bits:
 * records added with chosen fingerprints (compare_add_record, as a merge
 * adds them) — crowded into a few buckets, alike in the bits after those
 * too, or spread; not in row order; a handful — give the same pairs,
 * duplicates and missing records, so the same findings in the same order,
 * as fingerprints spread over all bits, with one thread or two.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compare_helpers.h"

static const char FP_RULES[] =
    "dataset 'l' { key = 'k' }\n"
    "dataset 'r' { key = 'k' }\n"
    "compare 'lr' { left = 'l', right = 'r', key = 'k', fields = { v = 'v' } }\n";

/* The fingerprint of record j in a run of `kind`: 0 spread over all bits;
 * 1 three values of the top bits and alike in the next 20 bits too (a few
 * long runs the sort orders by the low bits and lo); 2 four values of the
 * top bits, 13 of the next ones, the rest by j (runs of about n / 52). */
static void fp_of(int kind, uint64_t j, uint64_t *hi, uint64_t *lo)
{
    uint64_t z = (j + 1) * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 31)) * UINT64_C(0xbf58476d1ce4e5b9);
    switch (kind) {
    case 0:
        *hi = z ^ (z >> 29);
        *lo = z * UINT64_C(0x94d049bb133111eb);
        break;
    case 1:
        *hi = (j % 3) << 62 | j / 7;
        *lo = j % 7 + 1;
        break;
    default:
        *hi = (j % 4) << 60 | (j % 13) << 45 | j;
        *lo = z;
    }
}

/* Adds record j (row row_no, value v) to side `side` with its fingerprint
 * of `kind`, as the merge does (compare_add_record). */
static void add_fp_record(int side, int kind, uint64_t j, uint64_t row_no, const char *v)
{
    char key[32];
    snprintf(key, sizeof key, "K%llu", (unsigned long long)j);
    const char *str[2] = {key, v};
    size_t len[2] = {strlen(key), strlen(v)};
    assert_int_equal(compare_record_strings(F.c, 0, side, false), 2);
    struct compare_record r = {.row_no = row_no, .nstr = 2, .str = str, .len = len};
    fp_of(kind, j, &r.fp_hi, &r.fp_lo);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(compare_add_record(F.c, 0, side, &r, &err), 0);
}

/* n left records j = 0 .. n-1, added from the last row to the first (not
 * in row order), and the right ones: every 9th missing, every 50th twice,
 * every 11th with another value, every 17th with no twin on the left. The
 * findings (in the order stored) and the rule results as text. */
static char *fp_run(int kind, size_t n, size_t jobs)
{
    setup(NULL);
    load(FP_RULES, 0);
    set_jobs(jobs);
    static const char *const names[] = {"k", "v"};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(compare_check_columns(F.c, "l", names, 2, &err), 0);
    assert_int_equal(compare_check_columns(F.c, "r", names, 2, &err), 0);
    char v[32];
    for (uint64_t j = n; j-- > 0;) {
        snprintf(v, sizeof v, "v%llu", (unsigned long long)j);
        add_fp_record(0, kind, j, j + 1, v);
    }
    uint64_t row = 1;
    for (uint64_t j = 0; j < n; j++) {
        if (j % 9 == 4)
            continue;
        snprintf(v, sizeof v, "%s%llu", j % 11 == 3 ? "w" : "v", (unsigned long long)j);
        for (int twice = 0; twice < (j % 50 == 7 ? 2 : 1); twice++)
            add_fp_record(1, kind, j, row++, v);
        if (j % 17 == 5)
            add_fp_record(1, kind, n + j, row++, "x");
    }
    finish();
    char *f = findings("id");
    struct qloop_buf b = {0};
    qloop_buf_append(&b, f, strlen(f));
    free(f);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.db,
                                        "SELECT rule, checked, failed FROM rule_results ORDER BY rule",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        qloop_buf_printf(&b, "%s %lld %lld\n", sqlite3_column_text(st, 0),
                         (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    teardown(NULL);
    return b.ptr;
}

/* The join sorts each side by fingerprint in buckets of its top bits:
 * fingerprints crowded into a few buckets and alike in the bits after them
 * (long runs), or spread, and records not in row order, give the same
 * pairs, duplicates and missing records — the same findings in the same
 * order — for any jobs; a handful of records (buckets of one) too. */
static void test_fingerprints_alike(void **state)
{
    (void)state;
    static const size_t sizes[] = {5000, 40};
    for (size_t z = 0; z < 2; z++) {
        char *want = fp_run(0, sizes[z], 1);
        assert_non_null(strstr(want, "lr.missing_in_right"));
        assert_non_null(strstr(want, "lr.missing_in_left"));
        assert_non_null(strstr(want, "lr.mismatch.v"));
        if (z == 0)
            assert_non_null(strstr(want, "lr.duplicate_key_right"));
        for (int kind = 0; kind < 3; kind++)
            for (size_t jobs = 1; jobs <= 2; jobs++) {
                char *got = fp_run(kind, sizes[z], jobs);
                assert_string_equal(got, want);
                free(got);
            }
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprints_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
