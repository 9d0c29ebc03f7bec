/*
 * test_report.c — the facts of the annual assessment (reports/facts.c) on
 * the store of report_fixture.h, checked against hand-computed values:
 * periods, runs and quality, tickets and their episodes, the cutoff, the
 * catalog; the report helpers; and text that is not UTF-8 in the store.
 * The model, publishing, the scorecard and the renderers are in
 * test_report_model.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "report_fixture.h"

/* ---- periods -------------------------------------------------------------- */

static void test_period(void **state)
{
    (void)state;
    struct report_period p;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(report_period_init(&p, 2025, 0, after_year, &err), 0);
    assert_int_equal(p.from, at("2025-01-01T00:00:00+08:00"));
    assert_int_equal(p.to, at("2026-01-01T00:00:00+08:00"));
    assert_int_equal(p.cutoff, p.to);
    assert_true(p.months);
    assert_string_equal(p.label, "2025");
    int64_t mid = at("2025-07-15T12:00:00+08:00");
    assert_int_equal(report_period_init(&p, 2025, 0, mid, &err), 0);
    assert_int_equal(p.cutoff, mid + 1);
    assert_int_equal(report_period_init(&p, 2025, 12, after_year, &err), 0);
    assert_int_equal(p.from, at("2025-12-01T00:00:00+08:00"));
    assert_int_equal(p.to, at("2026-01-01T00:00:00+08:00"));
    assert_false(p.months);
    assert_string_equal(p.label, "2025-12");
    assert_int_equal(report_period_init(&p, 2027, 0, after_year, &err), -1);
    assert_non_null(strstr(err.message, "尚未开始"));
    assert_int_equal(report_period_init(&p, 2025, 13, after_year, &err), -1);
    assert_int_equal(report_period_init(&p, 99, 0, after_year, &err), -1);
}

/* ---- facts ------------------------------------------------------------------ */

static void test_facts_runs(void **state)
{
    (void)state;
    json_t *facts = facts_2025();
    json_t *list = json_object_get(facts, "departments");
    assert_int_equal(json_array_size(list), 2);
    /* name order (UTF-8 bytes): 市人力社保局 < 市公安局 */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "市人力社保局");
    json_t *p = dept_of(list, "市公安局"), *s = dept_of(list, "市人力社保局");
    /* r0 (2024), r3 (running) and r4 (2026) are not counted. */
    assert_int_equal(get_int(p, "quality.dimensions.normative.checked"), 200);
    assert_int_equal(get_int(p, "quality.dimensions.normative.passed"), 198);
    assert_int_equal(get_int(p, "quality.checked"), 200);
    /* freshness and catalog rules are not quality */
    assert_int_equal(get_int(p, "quality.dimensions.timeliness.checked"), 0);
    assert_int_equal(get_int(p, "quality.dimensions.accessibility.checked"), 0);
    assert_int_equal(get_int(s, "quality.dimensions.completeness.checked"), 100);
    assert_int_equal(get_int(s, "quality.dimensions.completeness.passed"), 85);
    assert_float_equal(get_real(s, "quality.rate"), 0.85, 1e-9);
    /* aggregation: people fresh in r1; social stale in r1 (freshness) and
     * r2 (catalog_stale) */
    assert_int_equal(get_int(p, "aggregation.checks"), 1);
    assert_int_equal(get_int(p, "aggregation.on_time"), 1);
    assert_int_equal(get_int(s, "aggregation.checks"), 2);
    assert_int_equal(get_int(s, "aggregation.on_time"), 0);
    /* months: March and April */
    json_t *months = json_object_get(p, "months");
    assert_int_equal(json_array_size(months), 12);
    assert_string_equal(json_string_value(json_object_get(json_array_get(months, 2), "month")),
                        "2025-03");
    assert_int_equal(get_int(json_array_get(months, 2), "dimensions.normative.passed"), 98);
    assert_int_equal(get_int(json_array_get(months, 3), "dimensions.normative.passed"), 100);
    assert_int_equal(get_int(json_array_get(months, 4), "checked"), 0);
    /* datasets: the newest run's rows, runs counted */
    json_t *ds = json_array_get(json_object_get(p, "datasets"), 0);
    assert_string_equal(json_string_value(json_object_get(ds, "name")), "people");
    assert_int_equal(get_int(ds, "rows"), 101);
    assert_int_equal(get_int(ds, "runs"), 2);
    /* drill-down rules: people.phone only (freshness/catalog excluded) */
    json_t *rules = json_object_get(p, "rules");
    assert_int_equal(json_array_size(rules), 1);
    assert_int_equal(get_int(json_array_get(rules, 0), "failed"), 2);
    json_decref(facts);
}

static void test_facts_tickets(void **state)
{
    (void)state;
    json_t *facts = facts_2025();
    json_t *list = json_object_get(facts, "departments");
    json_t *p = json_object_get(dept_of(list, "市公安局"), "tickets");
    assert_int_equal(get_int(p, "opened"), 4);
    assert_int_equal(get_int(p, "due"), 3);
    assert_int_equal(get_int(p, "on_time"), 3);
    assert_int_equal(get_int(p, "late"), 0);
    assert_int_equal(get_int(p, "overdue_open"), 0);
    assert_int_equal(get_int(p, "answered"), 3);
    assert_int_equal(get_int(p, "answer_days"), 12);
    assert_float_equal(get_real(p, "avg_answer_days"), 4.0, 1e-9);
    assert_int_equal(get_int(p, "extension_requests"), 1);
    assert_int_equal(get_int(p, "extensions"), 1);
    assert_int_equal(get_int(p, "with_extension"), 1);
    assert_int_equal(get_int(p, "rectified"), 2);
    assert_int_equal(get_int(p, "recheck_passed"), 2);
    assert_int_equal(get_int(p, "recheck_failed"), 0);
    assert_int_equal(get_int(p, "fixed_items"), 2);
    assert_int_equal(get_int(p, "reopened_items"), 1);
    json_t *pd = dept_of(list, "市公安局");
    assert_int_equal(get_int(pd, "catalog.tickets_due"), 1);
    assert_int_equal(get_int(pd, "catalog.tickets_on_time"), 1);

    json_t *s = json_object_get(dept_of(list, "市人力社保局"), "tickets");
    assert_int_equal(get_int(s, "opened"), 4);
    assert_int_equal(get_int(s, "due"), 4);
    assert_int_equal(get_int(s, "on_time"), 1);
    assert_int_equal(get_int(s, "late"), 2);
    assert_int_equal(get_int(s, "overdue_open"), 1);
    assert_int_equal(get_int(s, "answered"), 3);
    assert_int_equal(get_int(s, "answer_days"), 15);
    assert_float_equal(get_real(s, "avg_answer_days"), 5.0, 1e-9);
    assert_int_equal(get_int(s, "rectified"), 3);
    assert_int_equal(get_int(s, "recheck_failed"), 1);
    assert_int_equal(get_int(s, "recheck_passed"), 1);
    json_t *sm = json_object_get(dept_of(list, "市人力社保局"), "months");
    assert_int_equal(get_int(json_array_get(sm, 2), "tickets_due"), 3);
    assert_int_equal(get_int(json_array_get(sm, 2), "tickets_on_time"), 1);
    assert_int_equal(get_int(json_array_get(sm, 3), "tickets_due"), 1);

    /* ticket_list: #3 judged late with 7 working days; #5 pending */
    json_t *tl = json_object_get(dept_of(list, "市人力社保局"), "ticket_list");
    assert_int_equal(json_array_size(tl), 4);
    json_t *t3 = json_array_get(tl, 0);
    assert_int_equal(get_int(t3, "id"), 3);
    assert_true(json_is_false(json_object_get(t3, "on_time")));
    assert_int_equal(get_int(t3, "working_days"), 7);
    assert_int_equal(get_int(t3, "recheck_failed"), 1);
    json_t *t5 = json_array_get(tl, 2);
    assert_int_equal(get_int(t5, "id"), 5);
    assert_true(json_is_null(json_object_get(t5, "on_time")));
    json_decref(facts);
}

static void test_facts_cutoff(void **state)
{
    (void)state;
    /* Judged on 2025-03-11 noon: #4 is overdue since the day before, #3's
     * second rectification has not happened yet (re-opened, deadline
     * passed: overdue), #7 was negotiated on time; April is not seen. */
    struct report_period p;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(report_period_init(&p, 2025, 0, at("2025-03-11T12:00:00+08:00"), &err), 0);
    json_t *facts = NULL;
    assert_int_equal(report_facts(db, &p, &facts, &err), 0);
    json_t *s = json_object_get(dept_of(json_object_get(facts, "departments"), "市人力社保局"),
                                "tickets");
    assert_int_equal(get_int(s, "due"), 3);
    assert_int_equal(get_int(s, "on_time"), 1);
    assert_int_equal(get_int(s, "overdue_open"), 2);
    assert_int_equal(get_int(s, "late"), 0);
    json_t *pd = dept_of(json_object_get(facts, "departments"), "市公安局");
    assert_int_equal(get_int(pd, "quality.checked"), 100);
    assert_false(json_is_true(json_object_get(facts, "complete")));
    json_decref(facts);
}

static void test_facts_catalog(void **state)
{
    (void)state;
    json_t *facts = facts_2025();
    assert_true(json_is_true(json_object_get(facts, "catalog_imported")));
    json_t *list = json_object_get(facts, "departments");
    json_t *pe = json_array_get(json_object_get(json_object_get(dept_of(list, "市公安局"), "catalog"),
                                                "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(pe, "share")), "conditional");
    assert_true(json_is_true(json_object_get(pe, "share_basis")));
    assert_string_equal(json_string_value(json_object_get(pe, "open")), "forbidden");
    json_t *se = json_array_get(json_object_get(json_object_get(dept_of(list, "市人力社保局"), "catalog"),
                                                "entries"), 0);
    assert_true(json_is_false(json_object_get(se, "share_basis")));
    json_t *missing = json_object_get(se, "missing");
    bool period = false;
    size_t i;
    json_t *m;
    json_array_foreach(missing, i, m) period = period || strcmp(json_string_value(m), "share_period") == 0;
    assert_true(period);

    /* Before the import (a month of January), no catalog. */
    struct report_period p;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(report_period_init(&p, 2025, 1, after_year, &err), 0);
    json_t *jan = NULL;
    assert_int_equal(report_facts(db, &p, &jan, &err), 0);
    assert_true(json_is_false(json_object_get(jan, "catalog_imported")));
    json_decref(jan);
    json_decref(facts);
}

/* ---- helpers and bad text ------------------------------------------------- */

static void test_util(void **state)
{
    (void)state;
    assert_float_equal(report_round(87.65, 1), 87.7, 1e-9);
    assert_float_equal(report_round(-2.25, 1), -2.3, 1e-9);
    assert_float_equal(report_round(2.0 / 3.0, 4), 0.6667, 1e-12);
    struct qloop_buf b = {0};
    json_t *v = json_real(0.98765);
    report_put_percent(&b, v);
    assert_string_equal(b.ptr, "98.8%");
    qloop_buf_reset(&b);
    report_put_percent(&b, NULL);
    assert_string_equal(b.ptr, "—");
    qloop_buf_reset(&b);
    report_put_number(&b, v, 2);
    assert_string_equal(b.ptr, "0.99");
    json_decref(v);
    qloop_buf_reset(&b);
    v = json_real(100.0);
    report_put_number(&b, v, 1);
    assert_string_equal(b.ptr, "100");
    json_decref(v);
    qloop_buf_reset(&b);
    report_put_html(&b, "<a href=\"x\">&'");
    assert_string_equal(b.ptr, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    assert_string_equal(report_dimension_zh("consistency"), "一致性");
    /* invalid UTF-8: a stray continuation, an overlong form, a surrogate,
     * a truncated sequence — each byte replaced */
    qloop_buf_free(&b);
    json_t *js = report_jstr("a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE4\xB8");
    assert_string_equal(json_string_value(js),
                        "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                        "d\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(js);
    js = report_jstr("ok\xff");
    assert_string_equal(json_string_value(js), "ok\xEF\xBF\xBD");
    json_decref(js);
    js = report_jstr(NULL);
    assert_string_equal(json_string_value(js), "");
    json_decref(js);
}

/* A department named with bytes that are not UTF-8 (a rule file's owner)
 * is reported, the bad bytes replaced by U+FFFD. Uses 2024 only. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    run("rx", "2024-06-03T02:00:00+08:00", "done");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner)"
                                            " VALUES('rx', ?1, 3, ?2)", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, "bad\xC3(", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "坏\xff部门", -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    result("rx", "bad\xC3(.r", "bad\xC3(", "accuracy", 3, 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    assert_int_equal(report_annual(db, 2024, NULL, after_year, &r, &err), 0);
    json_t *d = dept_of(json_object_get(r, "departments"), "坏\xEF\xBF\xBD部门");
    assert_int_equal(get_int(d, "quality.dimensions.accuracy.passed"), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "datasets"), 0),
                                                          "name")), "bad\xEF\xBF\xBD(");
    struct qloop_buf html = {0};
    assert_int_equal(report_render_html(r, &html, &err), 0);
    assert_non_null(strstr(html.ptr, "坏\xEF\xBF\xBD部门"));
    qloop_buf_free(&html);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util),
        cmocka_unit_test(test_period),
        cmocka_unit_test(test_facts_runs),
        cmocka_unit_test(test_facts_tickets),
        cmocka_unit_test(test_facts_cutoff),
        cmocka_unit_test(test_facts_catalog),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
