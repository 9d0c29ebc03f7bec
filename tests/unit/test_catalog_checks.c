/*
 * test_catalog_checks.c — the resource catalog's checks: every kind of
 * problem (missing_element, missing_basis, schema_drift, stale,
 * late_update across National Day 2024, uncatalogued) alone (`catalog
 * check`) and inside a run, with stable record identities, written only
 * through the run's findings sink.
 *
 * Runs are simulated by inserting runs / run_datasets / rule_results rows
 * directly and calling catalog_check_run with a findings sink that stores
 * findings as the run does; QLOOP_NOW moves the clock.
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

#include "store_helpers.h"
#include "catalog_helpers.h"

#include "base/clock.h"
#include "store/store.h"

static json_t *check(sqlite3 *db)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *out = catalog_check(db, &err);
    if (!out)
        fail_msg("catalog_check: %s", err.message);
    return out;
}

/* The "dataset/kind/element" lines of a check result, sorted as given. */
static char *problem_keys(json_t *res)
{
    static char buf[4096];
    buf[0] = '\0';
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(res, "problems"), i, p) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s/%s/%s\n", jget(p, "dataset"), jget(p, "kind"),
                 jget(p, "element"));
    }
    return buf;
}

static const char *problem_message(json_t *res, const char *dataset, const char *kind,
                                   const char *element)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(res, "problems"), i, p)
        if (strcmp(jget(p, "dataset"), dataset) == 0 && strcmp(jget(p, "kind"), kind) == 0 &&
            strcmp(jget(p, "element"), element) == 0)
            return jget(p, "message");
    return NULL;
}

/* ---- checks of the catalog alone ------------------------------------------ */

static void test_missing_element_and_basis(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    /* Before any import: nothing to judge, even with datasets in runs. */
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r0', '2024-09-01T00:00:00+08:00',"
             " '2024-09-01T00:00:00+08:00', 'done', '[]')");
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows) VALUES('r0', 'zeta', 1)");
    json_t *res = check(db);
    assert_true(json_is_null(json_object_get(res, "version")));
    assert_int_equal(json_integer_value(json_object_get(res, "datasets")), 0);
    assert_int_equal(json_array_size(json_object_get(res, "problems")), 0);
    json_decref(res);

    json_decref(import_ok(db, "c.csv", HDR
        /* a: no title, no owner, no items, no share period */
        "a,,S,,,表,无条件共享,,无条件开放,,接口共享,每日,,,\n"
        /* b: conditional sharing and forbidden opening without basis */
        "b,B,S,O,x,表,受限共享,,禁止开放,,接口共享,每日,长期,,\n"
        /* c: complete, with both bases */
        "c,C,S,O,x,表,不予共享,法律规定,禁止开放,涉密,接口共享,每日,长期,,\n"
        /* d: not shared without basis; nothing else missing but the cycle */
        "d,D,S,O,x,表,不予共享,,有条件开放,,接口共享,,长期,,\n"));
    res = check(db);
    assert_int_equal(json_integer_value(json_object_get(res, "datasets")), 4);
    assert_string_equal(problem_keys(res),
                        "a/missing_element/title\n"
                        "a/missing_element/owner\n"
                        "a/missing_element/fields\n"
                        "a/missing_element/share_period\n"
                        "b/missing_basis/share_basis\n"
                        "b/missing_basis/open_basis\n"
                        "d/missing_element/update_cycle\n"
                        "d/missing_basis/share_basis\n"
                        "zeta/uncatalogued/dataset\n");
    assert_non_null(strstr(problem_message(res, "a", "missing_element", "title"), "宁波市公共数据管理办法第十条"));
    assert_non_null(strstr(problem_message(res, "a", "missing_element", "title"), "业务名称"));
    assert_non_null(strstr(problem_message(res, "a", "missing_element", "owner"), "数源部门"));
    const char *m = problem_message(res, "b", "missing_basis", "share_basis");
    assert_non_null(strstr(m, "受限共享"));
    assert_non_null(strstr(m, "温州市公共数据共享开放管理暂行办法第十五条"));
    assert_non_null(strstr(m, "宁波市公共数据管理办法第十六条"));
    assert_non_null(strstr(problem_message(res, "b", "missing_basis", "open_basis"), "第二十八条"));
    assert_non_null(strstr(problem_message(res, "d", "missing_basis", "share_basis"), "不予共享"));
    json_decref(res);
    store_close(db);
}

/* ---- checks inside a run --------------------------------------------------- */

static void add_run(sqlite3 *db, const char *id, const char *as_of)
{
    set_now(as_of);
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q, 'running', '[]')",
         id, as_of, as_of);
}

static void add_ds(sqlite3 *db, const char *run, const char *dataset, const char *columns,
                   const char *newest, const char *cycle)
{
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner, update_cycle, newest_update, columns)"
             " VALUES(%Q, %Q, 5, '市公安局', %Q, %Q, %Q)", run, dataset, cycle, newest, columns);
}

/* The findings sink of these tests: checks what the catalog hands it (a
 * dataset-level finding with its key and message) and stores it as the
 * run's findings writer does, unmasked (catalog findings hold no personal
 * data). With fail set, refuses every finding. */
struct test_sink {
    sqlite3 *db;
    const char *run;
    int written;
    bool fail;
};

static int sink_write(void *ctx, const struct qloop_finding *f, struct qloop_error *err)
{
    struct test_sink *s = ctx;
    if (s->fail)
        return qloop_error_set(err, NULL, 0, 0, "sink refused");
    assert_int_equal(f->row_no, 0);
    assert_int_equal(f->keylen, strlen(f->key));
    assert_true(strncmp(f->key, "catalog:", 8) == 0);
    assert_non_null(f->message);
    assert_int_equal(f->vlen, f->value ? strlen(f->value) : 0);
    char ref[33];
    store_record_ref(s->db, f->dataset, f->key, f->keylen, ref);
    exec(s->db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
                " value, message) VALUES(%Q, %Q, %Q, NULL, %Q, %Q, %Q, %Q, %Q)",
         s->run, f->dataset, f->rule, ref, f->key, f->field, f->value, f->message);
    s->written++;
    return 0;
}

static json_t *check_run(sqlite3 *db, const char *run)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *rules = json_array();
    struct test_sink ts = {db, run, 0, false};
    struct qloop_findings_sink sink = {sink_write, &ts};
    exec(db, "BEGIN");
    if (catalog_check_run(db, run, rules, &sink, &err) != 0)
        fail_msg("catalog_check_run: %s", err.message);
    exec(db, "COMMIT");
    /* Every finding of the run came through the sink. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings WHERE run_id = %Q", run), ts.written);
    return rules;
}

static int64_t findings(sqlite3 *db, const char *run, const char *rule)
{
    return q_int(db, "SELECT count(*) FROM findings WHERE run_id = %Q AND rule = %Q", run, rule);
}

static const char PEOPLE[] = HDR
    "people,人口,人口库,市公安局,id:号码;name:姓名;phone:电话,表,无条件共享,,无条件开放,,接口共享,每日,长期,,id\n";

static void test_no_catalog_no_problems_in_runs(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    add_run(db, "r1", "2024-09-27T10:00:00+08:00");
    add_ds(db, "r1", "people", "[\"id\",\"other\"]", "2020-01-01T00:00:00+08:00", "daily");
    json_t *rules = check_run(db, "r1");
    assert_int_equal(json_array_size(rules), 0);
    json_decref(rules);
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results"), 0);
    store_close(db);
}

/* A new store holding the catalog PEOPLE, imported on 2024-09-01. */
static sqlite3 *people_store(void)
{
    sqlite3 *db = db_open();
    set_now("2024-09-01T10:00:00+08:00");
    json_decref(import_ok(db, "p.csv", PEOPLE));
    return db;
}

/* The catalog writes its problems only through the sink: a sink that
 * refuses stops the check with the sink's error. */
static void test_sink_errors_stop_the_check(void **state)
{
    (void)state;
    sqlite3 *db = people_store();
    add_run(db, "r1", "2024-09-27T10:00:00+08:00");
    add_ds(db, "r1", "social", "[\"pid\"]", NULL, NULL);
    struct test_sink ts = {db, "r1", 0, true};
    struct qloop_findings_sink sink = {sink_write, &ts};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(catalog_check_run(db, "r1", NULL, &sink, &err), -1);
    assert_string_equal(err.message, "sink refused");
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings"), 0);
    store_close(db);
}

static void test_run_drift_stale_uncatalogued(void **state)
{
    (void)state;
    sqlite3 *db = people_store();
    add_run(db, "r1", "2024-09-27T10:00:00+08:00");
    add_ds(db, "r1", "people", "[\"id\",\"name\",\"extra_col\"]", "2024-09-25T08:00:00+08:00", "daily");
    add_ds(db, "r1", "social", "[\"pid\"]", NULL, NULL);
    json_t *rules = check_run(db, "r1");

    assert_int_equal(findings(db, "r1", "people.catalog_schema_drift"), 2);
    assert_int_equal(findings(db, "r1", "people.catalog_stale"), 1);
    assert_int_equal(findings(db, "r1", "people.catalog_late_update"), 0);
    assert_int_equal(findings(db, "r1", "people.catalog_missing_element"), 0);
    assert_int_equal(findings(db, "r1", "social.catalog_uncatalogued"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings WHERE run_id = 'r1'"), 4);
    /* Stable identities: the record key names kind and element. */
    char ref[33];
    store_record_ref(db, "people", "catalog:schema_drift:phone", strlen("catalog:schema_drift:phone"), ref);
    assert_string_equal(q_text(db, "SELECT record_key FROM findings WHERE record_ref = %Q", ref),
                        "catalog:schema_drift:phone");
    assert_string_equal(q_text(db, "SELECT field FROM findings WHERE record_ref = %Q", ref), "phone");
    assert_non_null(strstr(q_text(db, "SELECT message FROM findings WHERE record_ref = %Q", ref),
                           "在汇聚的数据中不存在"));
    assert_non_null(strstr(q_text(db, "SELECT message FROM findings WHERE rule = 'people.catalog_schema_drift'"
                                      " AND field = 'extra_col'"), "资源目录的数据项中没有"));
    const char *stale = q_text(db, "SELECT message FROM findings WHERE rule = 'people.catalog_stale'");
    assert_non_null(strstr(stale, "2024-09-25"));
    assert_non_null(strstr(stale, "2024-09-26"));
    assert_non_null(strstr(stale, "每日"));

    /* rule_results: every kind judged, each re-checkable (resolve_missing). */
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results WHERE run_id = 'r1' AND dataset = 'people'"), 6);
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results WHERE run_id = 'r1' AND resolve_missing = 1"), 7);
    assert_int_equal(q_int(db, "SELECT failed FROM rule_results WHERE rule = 'people.catalog_schema_drift'"), 2);
    assert_int_equal(q_int(db, "SELECT checked FROM rule_results WHERE rule = 'people.catalog_schema_drift'"), 4);
    assert_string_equal(q_text(db, "SELECT dimension FROM rule_results WHERE rule = 'people.catalog_schema_drift'"),
                        "consistency");
    assert_string_equal(q_text(db, "SELECT dimension FROM rule_results WHERE rule = 'people.catalog_stale'"),
                        "timeliness");
    assert_string_equal(q_text(db, "SELECT dimension FROM rule_results WHERE rule = 'people.catalog_missing_element'"),
                        "accessibility");
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results WHERE dataset = 'social'"), 1);
    /* The run's summary gets the same rules. */
    assert_int_equal(json_array_size(rules), 7);
    bool seen = false;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
        if (strcmp(jget(r, "id"), "people.catalog_schema_drift") == 0) {
            seen = true;
            assert_int_equal(json_integer_value(json_object_get(r, "failed")), 2);
            assert_string_equal(jget(r, "dataset"), "people");
        }
    assert_true(seen);
    json_decref(rules);

    /* First sightings of the drift are kept. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_drift WHERE dataset = 'people'"), 2);
    assert_string_equal(q_text(db, "SELECT first_seen FROM catalog_drift WHERE element = 'phone'"),
                        "2024-09-27T10:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT direction FROM catalog_drift WHERE element = 'phone'"), "missing");

    /* The run's own freshness rule already judged the same cycle: no stale. */
    add_run(db, "r2", "2024-09-28T10:00:00+08:00");
    add_ds(db, "r2", "people", "[\"id\",\"name\",\"phone\"]", "2024-09-25T08:00:00+08:00", "daily");
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, checked, failed, errors)"
             " VALUES('r2', 'people.freshness', 'people', 'updated_at', 'timeliness', 'medium', 1, 1, 0)");
    json_decref(check_run(db, "r2"));
    assert_int_equal(findings(db, "r2", "people.catalog_stale"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results WHERE run_id = 'r2' AND rule = 'people.catalog_stale'"), 0);
    /* ... and the drift is gone: no findings, forgotten first sightings. */
    assert_int_equal(findings(db, "r2", "people.catalog_schema_drift"), 0);
    assert_int_equal(q_int(db, "SELECT failed FROM rule_results WHERE run_id = 'r2' AND rule = 'people.catalog_schema_drift'"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_drift"), 0);

    /* A different cycle in the rule file: the catalog's cycle is judged too. */
    add_run(db, "r3", "2024-09-29T10:00:00+08:00");
    add_ds(db, "r3", "people", "[\"id\",\"name\",\"phone\"]", "2024-09-25T08:00:00+08:00", "weekly");
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, checked, failed, errors)"
             " VALUES('r3', 'people.freshness', 'people', 'updated_at', 'timeliness', 'medium', 1, 0, 0)");
    json_decref(check_run(db, "r3"));
    assert_int_equal(findings(db, "r3", "people.catalog_stale"), 1);

    /* Fresh data is not stale; no update time: stale is not judged. */
    add_run(db, "r4", "2024-09-29T11:00:00+08:00");
    add_ds(db, "r4", "people", "[\"id\",\"name\",\"phone\"]", "2024-09-28T23:00:00+08:00", NULL);
    json_decref(check_run(db, "r4"));
    assert_int_equal(findings(db, "r4", "people.catalog_stale"), 0);
    assert_int_equal(q_int(db, "SELECT failed FROM rule_results WHERE run_id = 'r4' AND rule = 'people.catalog_stale'"), 0);
    add_run(db, "r5", "2024-09-29T12:00:00+08:00");
    add_ds(db, "r5", "people", "[\"id\",\"name\",\"phone\"]", NULL, NULL);
    json_decref(check_run(db, "r5"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM rule_results WHERE run_id = 'r5' AND rule = 'people.catalog_stale'"), 0);
    store_close(db);
}

static void test_stale_cycles_by_calendar_month(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    set_now("2024-01-01T10:00:00+08:00");
    json_decref(import_ok(db, "m.csv", HDR
        "m,M,S,O,id,表,无条件共享,,无条件开放,,接口共享,每月,长期,,\n"
        "q,Q,S,O,id,表,无条件共享,,无条件开放,,接口共享,每季度,长期,,\n"
        "y,Y,S,O,id,表,无条件共享,,无条件开放,,接口共享,每年,长期,,\n"
        "w,W,S,O,id,表,无条件共享,,无条件开放,,接口共享,每周,长期,,\n"
        "y2,Y2,S,O,id,表,无条件共享,,无条件开放,,接口共享,每年,长期,,\n"));
    /* Updated 2024-01-31: monthly allows up to 2024-02-29 (leap year). */
    add_run(db, "a", "2024-02-29T23:00:00+08:00");
    add_ds(db, "a", "m", "[\"id\"]", "2024-01-31T12:00:00+08:00", NULL);
    add_ds(db, "a", "q", "[\"id\"]", "2023-11-30T12:00:00+08:00", NULL);
    add_ds(db, "a", "y", "[\"id\"]", "2023-02-28T12:00:00+08:00", NULL);
    add_ds(db, "a", "w", "[\"id\"]", "2024-02-22T12:00:00+08:00", NULL);
    add_ds(db, "a", "y2", "[\"id\"]", "2023-03-01T12:00:00+08:00", NULL);
    json_decref(check_run(db, "a"));
    assert_int_equal(findings(db, "a", "m.catalog_stale"), 0);
    assert_int_equal(findings(db, "a", "q.catalog_stale"), 0);  /* until 2024-02-29 */
    assert_int_equal(findings(db, "a", "y.catalog_stale"), 1);  /* until 2024-02-28 */
    assert_int_equal(findings(db, "a", "w.catalog_stale"), 0);  /* until 2024-02-29 */
    assert_int_equal(findings(db, "a", "y2.catalog_stale"), 0); /* until 2024-03-01 */
    add_run(db, "b", "2024-03-01T00:30:00+08:00");
    add_ds(db, "b", "m", "[\"id\"]", "2024-01-31T12:00:00+08:00", NULL);
    add_ds(db, "b", "w", "[\"id\"]", "2024-02-22T12:00:00+08:00", NULL);
    json_decref(check_run(db, "b"));
    assert_int_equal(findings(db, "b", "m.catalog_stale"), 1);
    assert_int_equal(findings(db, "b", "w.catalog_stale"), 1);
    store_close(db);
}

/* First seen Friday 2024-09-27; working days after it: 09-29 (make-up
 * Sunday), 09-30, then National Day off to 10-07, 10-08, 10-09, 10-10. */
static void test_late_update_after_five_working_days(void **state)
{
    (void)state;
    sqlite3 *db = people_store();
    add_run(db, "r1", "2024-09-27T10:00:00+08:00");
    add_ds(db, "r1", "people", "[\"id\",\"name\",\"phone\",\"email\"]", NULL, NULL);
    json_decref(check_run(db, "r1"));
    assert_int_equal(findings(db, "r1", "people.catalog_late_update"), 0);

    add_run(db, "r2", "2024-10-10T22:00:00+08:00");
    add_ds(db, "r2", "people", "[\"id\",\"name\",\"phone\",\"email\"]", NULL, NULL);
    json_decref(check_run(db, "r2"));
    assert_int_equal(findings(db, "r2", "people.catalog_schema_drift"), 1);
    assert_int_equal(findings(db, "r2", "people.catalog_late_update"), 0);
    assert_int_equal(q_int(db, "SELECT checked FROM rule_results WHERE run_id = 'r2' AND rule = 'people.catalog_late_update'"), 1);
    /* The first sighting stays the first. */
    assert_string_equal(q_text(db, "SELECT first_seen FROM catalog_drift WHERE element = 'email'"),
                        "2024-09-27T10:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT last_run FROM catalog_drift WHERE element = 'email'"), "r2");

    add_run(db, "r3", "2024-10-11T02:00:00+08:00");
    add_ds(db, "r3", "people", "[\"id\",\"name\",\"phone\",\"email\"]", NULL, NULL);
    json_decref(check_run(db, "r3"));
    assert_int_equal(findings(db, "r3", "people.catalog_late_update"), 1);
    const char *m = q_text(db, "SELECT message FROM findings WHERE run_id = 'r3' AND rule = 'people.catalog_late_update'");
    assert_non_null(strstr(m, "email"));
    assert_non_null(strstr(m, "2024-09-27"));
    assert_non_null(strstr(m, "2024-10-10"));
    assert_non_null(strstr(m, "温州市公共数据共享开放管理暂行办法第十一条"));
    assert_string_equal(q_text(db, "SELECT record_key FROM findings WHERE run_id = 'r3' AND rule = 'people.catalog_late_update'"),
                        "catalog:late_update:email");

    /* catalog check (alone) says the same, judged today. */
    set_now("2024-10-11T09:00:00+08:00");
    json_t *res = check(db);
    assert_string_equal(problem_keys(res), "people/schema_drift/email\npeople/late_update/email\n");
    json_decref(res);
    set_now("2024-10-10T09:00:00+08:00");
    res = check(db);
    assert_string_equal(problem_keys(res), "people/schema_drift/email\n");
    json_decref(res);

    /* The provider updates the catalog: the drift and the lateness go. */
    set_now("2024-10-12T09:00:00+08:00");
    json_decref(import_ok(db, "p2.csv", HDR
        "people,人口,人口库,市公安局,id:号码;name:姓名;phone:电话;email:邮箱,表,无条件共享,,无条件开放,,接口共享,每日,长期,,id\n"));
    res = check(db);
    assert_string_equal(problem_keys(res), "");
    json_decref(res);
    add_run(db, "r4", "2024-10-12T10:00:00+08:00");
    add_ds(db, "r4", "people", "[\"id\",\"name\",\"phone\",\"email\"]", NULL, NULL);
    json_decref(check_run(db, "r4"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings WHERE run_id = 'r4'"), 0);
    assert_int_equal(q_int(db, "SELECT failed FROM rule_results WHERE run_id = 'r4' AND rule = 'people.catalog_late_update'"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_drift"), 0);
    store_close(db);
}

static void test_check_alone_uses_the_latest_run(void **state)
{
    (void)state;
    sqlite3 *db = people_store();
    add_run(db, "old", "2024-09-02T10:00:00+08:00");
    add_ds(db, "old", "people", "[\"id\",\"name\"]", "2024-09-02T01:00:00+08:00", NULL);
    add_run(db, "new", "2024-09-20T10:00:00+08:00");
    add_ds(db, "new", "people", "[\"id\",\"name\",\"phone\",\"fax\"]", "2024-09-10T01:00:00+08:00", NULL);
    add_ds(db, "new", "legal", "[\"uscc\"]", NULL, NULL);
    set_now("2024-09-21T10:00:00+08:00");
    json_t *res = check(db);
    assert_string_equal(problem_keys(res),
                        "people/schema_drift/fax\npeople/stale/update_cycle\nlegal/uncatalogued/dataset\n");
    assert_non_null(strstr(problem_message(res, "people", "stale", "update_cycle"), "2024-09-10"));
    assert_int_equal(json_integer_value(json_object_get(res, "version")), 1);
    json_decref(res);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_element_and_basis),
        cmocka_unit_test(test_no_catalog_no_problems_in_runs),
        cmocka_unit_test(test_sink_errors_stop_the_check),
        cmocka_unit_test(test_run_drift_stale_uncatalogued),
        cmocka_unit_test(test_stale_cycles_by_calendar_month),
        cmocka_unit_test(test_late_update_after_five_working_days),
        cmocka_unit_test(test_check_alone_uses_the_latest_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
