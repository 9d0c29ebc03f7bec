/*
 * report_fixture.h — the store the report tests share (test_report.c,
 * test_report_model.c), built row by row so that every figure is known in
 * advance, and helpers to read results. Included after cmocka's headers;
 * everything here is static inline, each test executable builds its own
 * copy in a temporary folder (setup/teardown).
 *
 * The store holds, for 2025:
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
 */
#ifndef QLOOP_TEST_REPORT_FIXTURE_H
#define QLOOP_TEST_REPORT_FIXTURE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/clock.h"
#include "catalog/catalog.h"
#include "report.h"
#include "store/store.h"

#define SECRET_KEY "110105194912310021"
#define SECRET_VALUE "13812345678"

static char dir[256];
static sqlite3 *db;
static int64_t after_year; /* 2026-06-01: the year 2025 is complete */

static inline void exec_ok(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static inline void execf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void execf(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    exec_ok(sql);
}

static inline int64_t at(const char *iso)
{
    int64_t t;
    assert_true(qloop_parse_datetime(iso, &t));
    return t;
}

static inline void run(const char *id, const char *as_of, const char *status)
{
    execf("INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('%s','%s','%s','%s','[]')",
          id, as_of, as_of, status);
}

static inline void dataset(const char *run_id, const char *name, const char *owner, int rows)
{
    execf("INSERT INTO run_datasets(run_id, dataset, rows, owner, update_cycle)"
          " VALUES('%s','%s',%d,'%s','daily')", run_id, name, rows, owner);
}

static inline void result(const char *run_id, const char *rule, const char *ds, const char *dim,
                   int checked, int failed)
{
    execf("INSERT INTO rule_results(run_id, rule, dataset, dimension, severity, checked, failed,"
          " errors) VALUES('%s','%s','%s','%s','medium',%d,%d,0)", run_id, rule, ds, dim, checked,
          failed);
}

static inline void ticket(int id, const char *dept, const char *ds, const char *rule, const char *state)
{
    execf("INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at, opened_by)"
          " VALUES(%d,'%s','%s','run','%s','%s','ningbo','2025-03-03T09:00:00+08:00','system')", id,
          ds, rule, dept, state);
}

/* One history row; deadline NULL keeps the column empty. */
static inline void hist(int ticket_id, const char *when, const char *event, const char *from,
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
static inline void build_tickets(void)
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

static inline void build_runs(void)
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
static inline void build_catalog(void)
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

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
    (void)state;
    store_close(db);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers for reading results ---------------------------------------- */

static inline json_t *dept_of(json_t *list, const char *name)
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

/* The value at a dotted path ("quality.dimensions.accuracy.passed") in o. */
static inline json_t *json_at(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    return v;
}

static inline long long get_int(json_t *o, const char *path)
{
    json_t *v = json_at(o, path);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return (long long)json_integer_value(v);
}

static inline double get_real(json_t *o, const char *path)
{
    json_t *v = json_at(o, path);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

static inline json_t *facts_2025(void)
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

static inline char *write_file(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#endif
