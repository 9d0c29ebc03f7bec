/*
 * test_report.c — the annual assessment and the scorecard (reports/), on a
 * store built row by row so that every figure is known in advance.
 *
 * The store (built once, in a temporary folder) holds, for 2025:
 *   runs   r1 2025-03-03 and r2 2025-04-07 (done), plus runs the report must
 *          ignore: 2024-12-31, 2026-01-01 and one still "running";
 *   depts  市公安局 (dataset people) and 市人力社保局 (dataset social);
 *   rules  people.phone (normative) 100/2 then 100/0; social.x
 *          (completeness) 50/10 then 50/5; freshness and catalog rules that
 *          belong to aggregation and the catalog, not to quality;
 *   tickets with hand-written histories (see build_tickets) whose episodes,
 *          working days, extensions, re-checks and reopened records are
 *          worked out beside each one;
 *   a catalog imported on 2025-02-01 with one complete and one incomplete
 *          entry.
 * The tests check the facts against those hand-computed values, then the
 * default model's scores and advice, model overrides and faulty models,
 * ranking, publishing and the year-on-year change, the scorecard, each
 * renderer, byte-for-byte reproducibility, and that no record key or value
 * reaches any format.
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

#include "adapters.h"
#include "catalog/catalog.h"
#include "base/clock.h"
#include "report.h"
#include "store/store.h"

#define SECRET_KEY "110105194912310021"
#define SECRET_VALUE "13812345678"

static char dir[256];
static sqlite3 *db;
static int64_t after_year; /* 2026-06-01: the year 2025 is complete */

static void exec_ok(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static void execf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void execf(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    exec_ok(sql);
}

static int64_t at(const char *iso)
{
    int64_t t;
    assert_true(qloop_parse_datetime(iso, &t));
    return t;
}

static void run(const char *id, const char *as_of, const char *status)
{
    execf("INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('%s','%s','%s','%s','[]')",
          id, as_of, as_of, status);
}

static void dataset(const char *run_id, const char *name, const char *owner, int rows)
{
    execf("INSERT INTO run_datasets(run_id, dataset, rows, owner, update_cycle)"
          " VALUES('%s','%s',%d,'%s','daily')", run_id, name, rows, owner);
}

static void result(const char *run_id, const char *rule, const char *ds, const char *dim,
                   int checked, int failed)
{
    execf("INSERT INTO rule_results(run_id, rule, dataset, dimension, severity, checked, failed,"
          " errors) VALUES('%s','%s','%s','%s','medium',%d,%d,0)", run_id, rule, ds, dim, checked,
          failed);
}

static void ticket(int id, const char *dept, const char *ds, const char *rule, const char *state)
{
    execf("INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at, opened_by)"
          " VALUES(%d,'%s','%s','run','%s','%s','ningbo','2025-03-03T09:00:00+08:00','system')", id,
          ds, rule, dept, state);
}

/* One history row; deadline NULL keeps the column empty. */
static void hist(int ticket_id, const char *when, const char *event, const char *from,
                 const char *to, const char *deadline)
{
    char f[64], d[64];
    snprintf(f, sizeof f, from ? "'%s'" : "NULL", from);
    snprintf(d, sizeof d, deadline ? "'%s'" : "NULL", deadline);
    execf("INSERT INTO ticket_history(ticket_id, at, actor, event, from_state, to_state,"
          " deadline_after) VALUES(%d,'%s','t','%s',%s,'%s',%s)", ticket_id, when, event, f, to, d);
}

#define D0310 "2025-03-10T23:59:59+08:00"

/* The tickets. Dates are March–April 2025 (Qingming: 4–6 April off).
 * 市公安局 (fixes everything on time):
 *   #1 received Mon 03-03, deadline 03-10; rectified Wed 03-05 (2 working
 *      days, on time); re-check passed 03-06 -> shared; its 2 records fixed
 *      on 03-06, one fails again in #8 (reopened_from 1) on 05-01.
 *   #2 received 03-03; extension requested and approved 03-07 (deadline
 *      03-20); rectified Fri 03-14 (9 working days, on time, extended);
 *      re-check passed 03-15.
 *   #6 people.catalog_stale: received 03-03, confirmed 03-04 (1 day, on
 *      time): a catalog ticket.
 *   #8 opened 05-01, still discovered: opened, not due.
 *   => opened 4; due 3, on_time 3, answered 3, answer_days 12 (avg 4.0);
 *      extension_requests 1, extensions 1, with_extension 1; rectified 2,
 *      recheck_passed 2, recheck_failed 0; fixed_items 2, reopened 1;
 *      catalog tickets due 1, on time 1.
 * 市人力社保局 (late and sloppy):
 *   #3 received 03-03; rectified 03-04; re-check failed 03-05 (back to
 *      feedback, deadline 03-10 unchanged); rectified 03-12 (7 working
 *      days, late); re-check passed 03-13.
 *   #4 received 03-03, never answered: overdue at cutoff.
 *   #5 received 12-30, deadline 2026-01-07: pending at the year's end.
 *   #7 received 03-03, negotiated 03-05 (2 days, on time); handed back
 *      04-01 with deadline 04-09; rectified 04-10 (6 working days, late).
 *   => opened 4; due 4 (#3, #4, #7 twice), on_time 1, late 2,
 *      overdue_open 1, answered 3, answer_days 15 (avg 5.0); rectified 3,
 *      recheck_failed 1, recheck_passed 1 (#7's rectification waits).
 *      Months: March due 3 (on time 1), April due 1. */
static void build_tickets(void)
{
    const char *P = "市公安局", *S = "市人力社保局";
    ticket(1, P, "people", "people.phone", "shared");
    hist(1, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(1, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    hist(1, "2025-03-05T10:00:00+08:00", "rectified", "feedback", "corrected", D0310);
    hist(1, "2025-03-06T02:00:00+08:00", "recheck_pass", "corrected", "shared", D0310);
    ticket(2, P, "people", "people.name", "shared");
    hist(2, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(2, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    hist(2, "2025-03-06T10:00:00+08:00", "extend_request", "feedback", "feedback", D0310);
    hist(2, "2025-03-07T10:00:00+08:00", "extend_approve", "feedback", "feedback",
         "2025-03-20T23:59:59+08:00");
    hist(2, "2025-03-14T10:00:00+08:00", "rectified", "feedback", "corrected",
         "2025-03-20T23:59:59+08:00");
    hist(2, "2025-03-15T02:00:00+08:00", "recheck_pass", "corrected", "shared", NULL);
    ticket(6, P, "people", "people.catalog_stale", "confirmed");
    hist(6, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(6, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    hist(6, "2025-03-04T10:00:00+08:00", "confirmed", "feedback", "confirmed", D0310);
    ticket(8, P, "people", "people.phone", "discovered");
    hist(8, "2025-05-01T02:00:00+08:00", "open", NULL, "discovered", NULL);
    execf("INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, record_key, value, state,"
          " added_at, closed_at) VALUES(1,'people','people.phone','aa','%s','%s','fixed',"
          "'2025-03-03T09:00:00+08:00','2025-03-06T02:00:00+08:00')", SECRET_KEY, SECRET_VALUE);
    exec_ok("INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at,"
            " closed_at) VALUES(1,'people','people.phone','bb','fixed',"
            "'2025-03-03T09:00:00+08:00','2025-03-06T02:00:00+08:00')");
    execf("INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, record_key, value, state,"
          " added_at, reopened_from) VALUES(8,'people','people.phone','aa','%s','%s','open',"
          "'2025-05-01T02:00:00+08:00',1)", SECRET_KEY, SECRET_VALUE);

    ticket(3, S, "social", "social.x", "shared");
    hist(3, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(3, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    hist(3, "2025-03-04T10:00:00+08:00", "rectified", "feedback", "corrected", D0310);
    hist(3, "2025-03-05T02:00:00+08:00", "recheck_fail", "corrected", "feedback", D0310);
    hist(3, "2025-03-12T10:00:00+08:00", "rectified", "feedback", "corrected", D0310);
    hist(3, "2025-03-13T02:00:00+08:00", "recheck_pass", "corrected", "shared", D0310);
    ticket(4, S, "social", "social.y", "feedback");
    hist(4, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(4, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    ticket(5, S, "social", "social.z", "feedback");
    hist(5, "2025-12-30T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(5, "2025-12-30T10:00:00+08:00", "feedback", "discovered", "feedback",
         "2026-01-07T23:59:59+08:00");
    ticket(7, S, "social", "social.w", "corrected");
    hist(7, "2025-03-03T09:00:00+08:00", "open", NULL, "discovered", NULL);
    hist(7, "2025-03-03T10:00:00+08:00", "feedback", "discovered", "feedback", D0310);
    hist(7, "2025-03-05T10:00:00+08:00", "negotiated", "feedback", "negotiated", D0310);
    hist(7, "2025-04-01T10:00:00+08:00", "feedback", "negotiated", "feedback",
         "2025-04-09T23:59:59+08:00");
    hist(7, "2025-04-10T10:00:00+08:00", "rectified", "feedback", "corrected",
         "2025-04-09T23:59:59+08:00");
}

static void build_runs(void)
{
    run("r0", "2024-12-31T02:00:00+08:00", "done");
    dataset("r0", "people", "市公安局", 90);
    result("r0", "people.phone", "people", "normative", 90, 90);
    run("r1", "2025-03-03T02:00:00+08:00", "done");
    dataset("r1", "people", "市公安局", 100);
    dataset("r1", "social", "市人力社保局", 50);
    result("r1", "people.phone", "people", "normative", 100, 2);
    result("r1", "people.freshness", "people", "timeliness", 1, 0);
    result("r1", "people.catalog_missing_element", "people", "accessibility", 10, 1);
    result("r1", "social.x", "social", "completeness", 50, 10);
    result("r1", "social.freshness", "social", "timeliness", 1, 1);
    execf("INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field, value)"
          " VALUES('r1','people','people.phone',3,'aa','%s','phone','%s')", SECRET_KEY, SECRET_VALUE);
    run("r2", "2025-04-07T02:00:00+08:00", "done");
    dataset("r2", "people", "市公安局", 101);
    dataset("r2", "social", "市人力社保局", 52);
    result("r2", "people.phone", "people", "normative", 100, 0);
    result("r2", "social.x", "social", "completeness", 50, 5);
    result("r2", "social.catalog_stale", "social", "timeliness", 1, 1);
    run("r3", "2025-05-05T02:00:00+08:00", "running");
    dataset("r3", "people", "市公安局", 999);
    result("r3", "people.phone", "people", "normative", 999, 999);
    run("r4", "2026-01-01T00:00:00+08:00", "done");
    dataset("r4", "people", "市公安局", 5);
    result("r4", "people.phone", "people", "normative", 5, 5);
}

/* people: complete, 受限共享 with basis, 禁止开放 with reason.
 * social: no share period (incomplete), 受限共享 without basis, 有条件开放. */
static void build_catalog(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/catalog.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,"
          "提供方式,更新周期,共享期限\n"
          "people,人口基础信息,人口库,市公安局,person_id:公民身份号码:string,数据库表,受限共享,"
          "个人信息保护法,禁止开放,涉及个人信息,接口共享,每日,长期\n"
          "social,社保参保信息,社保系统,市人力社保局,pid:公民身份号码:string,数据库表,受限共享,,"
          "有条件开放,,交换共享,每月,\n",
          f);
    fclose(f);
    setenv("QLOOP_NOW", "2025-02-01T10:00:00+08:00", 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *diff = NULL;
    struct catalog_file file = {path, NULL, qloop_adapter_find};
    if (catalog_import(db, &file, "test", &diff, &err) != 0)
        fail_msg("catalog import: %s", err.message);
    json_decref(diff);
    unsetenv("QLOOP_NOW");
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/qloop-report-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/q.db", dir);
    struct qloop_error err;
    qloop_error_clear(&err);
    db = store_open(path, &err);
    if (!db)
        fail_msg("store_open: %s", err.message);
    build_runs();
    build_tickets();
    build_catalog();
    after_year = at("2026-06-01T12:00:00+08:00");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(db);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers for reading results ---------------------------------------- */

static json_t *dept_of(json_t *list, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
            return d;
    }
    fail_msg("no department %s", name);
    return NULL;
}

static long long get_int(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return (long long)json_integer_value(v);
}

static double get_real(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

static json_t *facts_2025(void)
{
    struct report_period p;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(report_period_init(&p, 2025, 0, after_year, &err), 0);
    json_t *facts = NULL;
    if (report_facts(db, &p, &facts, &err) != 0)
        fail_msg("facts: %s", err.message);
    return facts;
}

static char *write_file(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

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

/* ---- the default model ------------------------------------------------------ */

static json_t *annual(const char *model, int64_t now)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    if (report_annual(db, 2025, model, now, &r, &err) != 0)
        fail_msg("report_annual: %s:%ld: %s", err.file, err.line, err.message);
    return r;
}

static void test_default_model(void **state)
{
    (void)state;
    json_t *r = annual(NULL, after_year);
    json_t *list = json_object_get(r, "departments");
    json_t *p = dept_of(list, "市公安局"), *s = dept_of(list, "市人力社保局");
    /* 市公安局, applicable indicators (weight × ratio):
     *   catalog.complete 10 × 1/1, catalog.on_time 5 × 1/1,
     *   aggregation 15 × 1/1, quality.normative 5 × 198/200,
     *   handling.on_time 10 × 3/3, no_extension 5 × 2/3,
     *   recheck_passed 5 × 2/2, not_reopened 5 × 1/2,
     *   sharing.basis 10 × 1/1, sharing.open 5 × 0/1
     * = 10+5+15+4.95+10+3.3333+5+2.5+10+0 = 65.7833 of 75 -> 87.7 (良好). */
    assert_float_equal(get_real(p, "score"), 87.7, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "良好");
    assert_int_equal(get_int(p, "rank"), 1);
    json_t *ind = json_object_get(p, "indicators");
    assert_int_equal(json_object_size(ind), 15);
    json_t *noext = json_object_get(ind, "handling.no_extension");
    assert_float_equal(get_real(noext, "value"), 0.6667, 1e-9);
    assert_int_equal(get_int(noext, "numerator"), 2);
    assert_int_equal(get_int(noext, "denominator"), 3);
    assert_float_equal(get_real(noext, "points"), 3.33, 1e-9);
    assert_int_equal(get_int(noext, "weight"), 5);
    assert_true(json_is_null(json_object_get(json_object_get(ind, "quality.accuracy"), "value")));
    assert_true(json_is_true(json_object_get(json_object_get(ind, "sharing.open"), "weak")));
    assert_true(json_is_false(json_object_get(json_object_get(ind, "catalog.complete"), "weak")));
    /* advice: no_extension (0.667 < 0.8), not_reopened, sharing.open */
    json_t *adv = json_object_get(p, "advice");
    assert_int_equal(json_array_size(adv), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(adv, 0), "indicator")),
                        "handling.no_extension");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(adv, 2), "basis")),
                           "第二十八条"));
    /* 市人力社保局:
     *   catalog.complete 10 × 0/1, aggregation 15 × 0/2,
     *   quality.completeness 5 × 85/100, handling.on_time 10 × 1/4,
     *   no_extension 5 × 4/4, recheck_passed 5 × 1/2,
     *   sharing.basis 10 × 0/1, sharing.open 5 × 1/1
     * = 0+0+4.25+2.5+5+2.5+0+5 = 19.25 of 65 -> 29.6 (不合格). */
    assert_float_equal(get_real(s, "score"), 29.6, 1e-9);
    assert_string_equal(json_string_value(json_object_get(s, "grade")), "不合格");
    assert_int_equal(get_int(s, "rank"), 2);
    json_t *sadv = json_object_get(s, "advice");
    bool overdue = false, avg_days = false, overall = false, on_time = false;
    size_t i;
    json_t *a;
    json_array_foreach(sadv, i, a) {
        const char *id = json_string_value(json_object_get(a, "indicator"));
        const char *basis = json_string_value(json_object_get(a, "basis"));
        assert_true(basis && *basis);
        overdue = overdue || strcmp(id, "handling.overdue") == 0;
        avg_days = avg_days || strcmp(id, "handling.avg_days") == 0;
        on_time = on_time || (strcmp(id, "handling.on_time") == 0 && strstr(basis, "第二十七条"));
        overall = overall || (strcmp(id, "overall") == 0 && strstr(basis, "第四十条"));
    }
    assert_true(overdue);
    assert_false(avg_days); /* 5.0 is not more than 5 */
    assert_true(on_time);
    assert_true(overall);
    /* city */
    json_t *city = json_object_get(r, "city");
    assert_float_equal(get_real(city, "average_score"), 58.7, 1e-9); /* (87.7+29.6)/2 = 58.65 */
    assert_int_equal(get_int(city, "grades.良好"), 1);
    assert_int_equal(get_int(city, "grades.不合格"), 1);
    assert_int_equal(get_int(city, "tickets.due"), 7);
    assert_true(json_is_null(json_object_get(r, "previous")));
    assert_int_equal(json_array_size(json_object_get(r, "indicators")), 15);
    json_decref(r);
}

static void test_model_override(void **state)
{
    (void)state;
    char *path = write_file("strict.lua", "local M = ...\n"
                                          "M.name = 'strict'\n"
                                          "M.grades[2].min = 88  -- 良好 from 88\n"
                                          "return M\n");
    json_t *r = annual(path, after_year);
    json_t *p = dept_of(json_object_get(r, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 87.7, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "合格");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "model"), "name")),
                        "strict");
    json_t *d = annual(NULL, after_year);
    assert_string_not_equal(json_string_value(json_object_get(json_object_get(r, "model"), "hash")),
                            json_string_value(json_object_get(json_object_get(d, "model"), "hash")));
    json_decref(d);
    json_decref(r);

    /* A whole model of its own: one indicator, two grades. */
    path = write_file("own.lua",
                      "local M = { name = 'own', grades = { {name='达标', min=50}, {name='未达标', min=0} },\n"
                      "  indicators = { {id='q', group='质量', name='质量', weight=1} } }\n"
                      "function M.evaluate(d)\n"
                      "  local q = d.quality\n"
                      "  local v = q.checked > 0 and q.passed / q.checked or nil\n"
                      "  local s = v and v * 100 or 0\n"
                      "  return { score = s, grade = s >= 50 and '达标' or '未达标',\n"
                      "    indicators = { {id='q', numerator=q.passed, denominator=q.checked, value=v,\n"
                      "                    points=v, weight=1} },\n"
                      "    advice = { {text='保持', basis='测试'} } }\n"
                      "end\n"
                      "return M\n");
    r = annual(path, after_year);
    p = dept_of(json_object_get(r, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 99.0, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "达标");
    assert_int_equal(json_object_size(json_object_get(p, "indicators")), 1);
    json_decref(r);
}

/* Expects the model in text to be refused with a message containing want. */
static void expect_bad_model(const char *text, const char *want)
{
    char *path = write_file("bad.lua", text);
    char copy[400];
    snprintf(copy, sizeof copy, "%s", path);
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    int rc = report_annual(db, 2025, copy, after_year, &r, &err);
    if (rc != -1 || !strstr(err.message, want))
        fail_msg("model %s: rc %d, message \"%s\", wanted \"%s\"", text, rc, err.message, want);
    assert_null(r);
    assert_non_null(strstr(err.file, "bad.lua"));
}

static void test_bad_models(void **state)
{
    (void)state;
    expect_bad_model("return 42\n", "应返回一个表");
    expect_bad_model("local M = ...\nM.evaluate = nil\nreturn M\n", "evaluate");
    expect_bad_model("local M = ...\nM.grades = {}\nreturn M\n", "grades");
    expect_bad_model("local M = ...\nM.grades[2].min = 95\nreturn M\n", "逐个减小");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 120, grade = '优秀',"
                     " indicators = {} } end\nreturn M\n", "score");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '甲',"
                     " indicators = {} } end\nreturn M\n", "不在模型的 grades 中");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = { {id = 'nope'} } } end\nreturn M\n", "未在模型的 indicators 中声明");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = {}, advice = { {text = '无依据'} } } end\nreturn M\n", "basis");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = { {id = 'catalog.complete', value = 2} } } end\nreturn M\n",
                     "value");
    expect_bad_model("local M = ...\nfunction M.evaluate() while true do end end\nreturn M\n", "指令预算");
    expect_bad_model("local M = ...\nfunction M.evaluate(d) return d.nothing.here end\nreturn M\n",
                     "nothing");
    expect_bad_model("local M = ...\nM.indicators[2].id = M.indicators[1].id\nreturn M\n", "重复");
    expect_bad_model("return {\n", "expected");
    expect_bad_model("local M = ...\nM.name = os.getenv('HOME')\nreturn M\n", "os");
    /* the error names the line of a runtime error in the model */
    char *path = write_file("bad.lua", "local M = ...\n\nfunction M.evaluate(d)\n  error('第四行出错')\nend\nreturn M\n");
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    assert_int_equal(report_annual(db, 2025, path, after_year, &r, &err), -1);
    assert_int_equal(err.line, 4);
    /* a missing model file */
    qloop_error_clear(&err);
    assert_int_equal(report_annual(db, 2025, "/nonexistent/model.lua", after_year, &r, &err), -1);
    assert_non_null(strstr(err.message, "无法读取评估模型文件"));
}

static void test_ties(void **state)
{
    (void)state;
    /* Every department scores 50: both share rank 1, listed by name. */
    char *path = write_file("flat.lua", "local M = ...\n"
                                        "function M.evaluate() return { score = 50, grade = '不合格',"
                                        " indicators = {}, advice = {} } end\nreturn M\n");
    json_t *r = annual(path, after_year);
    json_t *list = json_object_get(r, "departments");
    assert_int_equal(get_int(json_array_get(list, 0), "rank"), 1);
    assert_int_equal(get_int(json_array_get(list, 1), "rank"), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "市人力社保局");
    json_decref(r);
}

/* ---- publishing and the change from the previous year --------------------- */

static void test_publish_and_compare(void **state)
{
    (void)state;
    /* Publish a 2025 report, then make 2026's: it compares with 2025. */
    json_t *r = annual(NULL, after_year);
    struct qloop_error err;
    qloop_error_clear(&err);
    setenv("QLOOP_NOW", "2026-01-05T09:00:00+08:00", 1);
    assert_int_equal(report_publish(db, r, "局长", &err), 0);
    unsetenv("QLOOP_NOW");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT year, count(*) FROM report_published", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2025);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT actor FROM audit WHERE kind = 'report.publish'"
                                            " AND subject = 'report:2025'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "局长");
    sqlite3_finalize(st);

    json_t *next = NULL;
    assert_int_equal(report_annual(db, 2026, NULL, after_year, &next, &err), 0);
    json_t *prev = json_object_get(next, "previous");
    assert_int_equal(get_int(prev, "year"), 2025);
    assert_true(json_is_true(json_object_get(prev, "same_model")));
    /* 2026 (to 2026-06-01): 市公安局 has only r4 (5 of 5 failed,
     * normative) and the catalog (complete, with basis, not open); #8 is
     * discovered, not due: catalog.complete 10 × 1, quality.normative
     * 5 × 0, sharing.basis 10 × 1, sharing.open 5 × 0 = 20 of 30 -> 66.7;
     * change from 87.7 = -21.0; rank 1 both years. */
    json_t *p = dept_of(json_object_get(next, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 66.7, 1e-9);
    assert_float_equal(get_real(p, "previous.score"), 87.7, 1e-9);
    assert_float_equal(get_real(p, "change"), -21.0, 1e-9);
    assert_int_equal(get_int(p, "rank_change"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "previous"), "grade")),
                        "良好");
    json_decref(next);

    /* A later publication of 2025 is the one compared with. */
    json_t *copy = json_deep_copy(r);
    json_t *cp = dept_of(json_object_get(copy, "departments"), "市公安局");
    json_object_set_new(cp, "score", json_real(60.0));
    setenv("QLOOP_NOW", "2026-01-06T09:00:00+08:00", 1);
    assert_int_equal(report_publish(db, copy, NULL, &err), 0);
    unsetenv("QLOOP_NOW");
    assert_int_equal(report_annual(db, 2026, NULL, after_year, &next, &err), 0);
    p = dept_of(json_object_get(next, "departments"), "市公安局");
    assert_float_equal(get_real(p, "change"), 6.7, 1e-9);
    json_decref(next);
    json_decref(copy);
    json_decref(r);
}

/* ---- the scorecard ---------------------------------------------------------- */

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}


static void test_scorecard(void **state)
{
    (void)state;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *card = NULL;
    assert_int_equal(report_scorecard(db, "市人力社保局", 2025, 4, NULL, after_year, &card, &err), 0);
    json_t *d = json_object_get(card, "department");
    assert_string_equal(json_string_value(json_object_get(card, "period")), "2025-04");
    /* April: #7's second episode (late) and #4, still overdue since
     * March (an unanswered ticket counts against every month it stays
     * overdue); r2 only. */
    assert_int_equal(get_int(d, "tickets.due"), 2);
    assert_int_equal(get_int(d, "tickets.late"), 1);
    assert_int_equal(get_int(d, "tickets.overdue_open"), 1);
    assert_int_equal(get_int(d, "quality.checked"), 50);
    assert_null(json_object_get(d, "months"));
    json_t *prev = json_object_get(d, "previous");
    assert_true(json_is_object(prev));
    assert_string_equal(json_string_value(json_object_get(prev, "period")), "2025-03");
    assert_true(json_is_number(json_object_get(d, "change")));
    struct qloop_buf html = {0}, md = {0};
    assert_int_equal(report_render_scorecard_html(card, &html, &err), 0);
    assert_int_equal(report_render_scorecard_md(card, &md, &err), 0);
    assert_non_null(strstr(html.ptr, "市人力社保局"));
    assert_non_null(strstr(html.ptr, "2025-04"));
    assert_non_null(strstr(html.ptr, "<svg"));
    assert_int_equal(count(html.ptr, "class=\"page"), 1);
    assert_non_null(strstr(md.ptr, "上月（2025-03）"));
    qloop_buf_free(&html);
    qloop_buf_free(&md);
    json_decref(card);

    card = NULL;
    assert_int_equal(report_scorecard(db, "市教育局", 2025, 4, NULL, after_year, &card, &err), -1);
    assert_non_null(strstr(err.message, "市公安局"));
    assert_null(card);
}

/* ---- renderers ------------------------------------------------------------- */

static void test_renderers(void **state)
{
    (void)state;
    json_t *r = annual(NULL, after_year);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf html = {0}, md = {0}, csv = {0}, js = {0};
    assert_int_equal(report_render_html(r, &html, &err), 0);
    assert_int_equal(report_render_md(r, &md, &err), 0);
    assert_int_equal(report_render_csv(r, &csv, &err), 0);
    assert_int_equal(report_render_json(r, &js, &err), 0);

    /* HTML: a summary page plus one page per department; 1 ranking + 1
     * city trend + per department 6 dimension charts and a trend. */
    assert_int_equal(count(html.ptr, "<section class=\"page"), 3);
    assert_int_equal(count(html.ptr, "<svg"), 2 + 2 * 7);
    assert_non_null(strstr(html.ptr, "@page{size:A4"));
    assert_non_null(strstr(html.ptr, "<details>"));
    assert_null(strstr(html.ptr, "http://"));
    assert_null(strstr(html.ptr, "https://"));
    assert_non_null(strstr(html.ptr, "87.7"));
    assert_non_null(strstr(html.ptr, "宁波市公共数据管理办法 第二十七条"));

    /* Markdown: the ranking table row */
    assert_non_null(strstr(md.ptr, "| 1 | 市公安局 | 87.7 | 良好 | — |"));
    assert_non_null(strstr(md.ptr, "| 2 | 市人力社保局 | 29.6 | 不合格 | — |"));

    /* CSV: BOM, header and one row per department */
    assert_memory_equal(csv.ptr, "\xEF\xBB\xBF", 3);
    assert_int_equal(count(csv.ptr, "\r\n"), 3);
    assert_non_null(strstr(csv.ptr, "\r\n2025,1,市公安局,87.7,良好,,,1,1,1,0.99,"));

    /* JSON parses back to the same document */
    json_error_t je;
    json_t *back = json_loads(js.ptr, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(back, r));
    json_decref(back);

    /* No record key or value anywhere (the store has them in findings and
     * ticket_items). */
    const struct qloop_buf *all[] = {&html, &md, &csv, &js};
    for (int i = 0; i < 4; i++) {
        assert_null(strstr(all[i]->ptr, SECRET_KEY));
        assert_null(strstr(all[i]->ptr, SECRET_VALUE));
    }
    qloop_buf_free(&html);
    qloop_buf_free(&md);
    qloop_buf_free(&csv);
    qloop_buf_free(&js);

    if (report_xlsx_available()) {
        char path[400];
        snprintf(path, sizeof path, "%s/r.xlsx", dir);
        assert_int_equal(report_render_xlsx(r, path, &err), 0);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char magic[2];
        assert_int_equal(fread(magic, 1, 2, f), 2);
        fclose(f);
        assert_memory_equal(magic, "PK", 2);
        assert_int_equal(report_render_xlsx(r, "/nonexistent/dir/r.xlsx", &err), -1);
        assert_non_null(strstr(err.message, "XLSX"));
    } else {
        assert_int_equal(report_render_xlsx(r, "/tmp/x.xlsx", &err), -1);
    }
    json_decref(r);
}

/* Everything but generated_at is the same byte for byte. */
static void test_reproducible(void **state)
{
    (void)state;
    json_t *a = annual(NULL, after_year), *b = annual(NULL, after_year + 3600);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf ha = {0}, hb = {0}, ja = {0}, jb = {0};
    assert_int_equal(report_render_html(a, &ha, &err), 0);
    assert_int_equal(report_render_html(b, &hb, &err), 0);
    assert_string_not_equal(ha.ptr, hb.ptr);
    json_object_set(b, "generated_at", json_object_get(a, "generated_at"));
    qloop_buf_reset(&hb);
    assert_int_equal(report_render_html(b, &hb, &err), 0);
    assert_string_equal(ha.ptr, hb.ptr);
    assert_int_equal(report_render_json(a, &ja, &err), 0);
    assert_int_equal(report_render_json(b, &jb, &err), 0);
    assert_string_equal(ja.ptr, jb.ptr);
    qloop_buf_free(&ha);
    qloop_buf_free(&hb);
    qloop_buf_free(&ja);
    qloop_buf_free(&jb);
    json_decref(a);
    json_decref(b);
}

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
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_model_override),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_scorecard),
        cmocka_unit_test(test_renderers),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_publish_and_compare),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
