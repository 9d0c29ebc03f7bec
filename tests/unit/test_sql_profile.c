/*
 * test_sql_profile.c — the per-statement SQL profile behind
 * QLOOP_SQL_PROFILE=1 (store/sql_profile.c): every store connection traced,
 * each distinct statement text one line with its executions, rows returned,
 * rows changed and sorts, whatever handle ran it; nothing traced when the
 * variable is unset or "0" (a process reads it once, so that case is a
 * second process: this test run again with the variable at "0").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/sql_profile.h"
#include "store_helpers.h"

/* The report so far, malloc'd. */
static char *report(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    sql_profile_report(f);
    fclose(f);
    return text;
}

/* The report's line of statement sql copied into line (size bytes); false
 * when there is none. */
static bool line_of(const char *text, const char *sql, char *line, size_t size)
{
    /* an offset, not a pointer into text: GCC 12 at -O2 takes a pointer
     * found in a block freed later for a dangling one (-Wdangling-pointer) */
    size_t n = strlen(sql), end = 0;
    while (text[end] && strncmp(text + end, sql, n) != 0)
        end++;
    if (!text[end])
        return false;
    size_t start = 0;
    for (size_t i = 0; i < end; i++)
        if (text[i] == '\n')
            start = i + 1;
    while (text[end] && text[end] != '\n')
        end++;
    snprintf(line, size, "%.*s", (int)(end - start), text + start);
    return true;
}

static void test_statements_counted(void **state)
{
    (void)state;
    const char *v = getenv("QLOOP_SQL_PROFILE");
    bool on = v && strcmp(v, "1") == 0;
    assert_true(sql_profile_enabled() == on);
    sqlite3 *db = db_open();
    exec(db, "CREATE TABLE t(a INTEGER, b TEXT)");
    /* the same text from three handles, each run once */
    for (int i = 0; i < 3; i++)
        exec(db, "INSERT INTO t(a, b) SELECT value, 'x' FROM json_each('[1,2,3,4]')");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT a FROM t WHERE a > 1 ORDER BY b, a", -1, &st,
                                        NULL),
                     SQLITE_OK);
    for (int i = 0; i < 2; i++) {
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    char *text = report();
    char ins[512], sel[512];
    bool has_ins = line_of(text, "INSERT INTO t(a, b) SELECT value", ins, sizeof ins);
    bool has_sel = line_of(text, "SELECT a FROM t WHERE a > 1 ORDER BY b, a", sel, sizeof sel);
    free(text);
    assert_true(has_ins == on);
    assert_true(has_sel == on);
    if (!on) {
        store_close(db);
        return;
    }
    double ms;
    long long calls, rows, changed, steps, sorts;
    /* ms calls rows changed steps sorts */
    assert_int_equal(sscanf(ins, "%lf %lld %lld %lld %lld %lld", &ms, &calls, &rows, &changed,
                            &steps, &sorts),
                     6);
    assert_int_equal(calls, 3);
    assert_int_equal(rows, 0);
    assert_int_equal(changed, 12);
    assert_true(steps > 0);
    assert_true(ms >= 0);
    assert_int_equal(sscanf(sel, "%lf %lld %lld %lld %lld %lld", &ms, &calls, &rows, &changed,
                            &steps, &sorts),
                     6);
    assert_int_equal(calls, 2);
    assert_int_equal(rows, 18); /* 9 rows past 1, twice */
    assert_int_equal(changed, 0);
    assert_int_equal(sorts, 2);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
