/*
 * check_run.c — the catalog's checks as part of a run: catalog_check_run.
 *
 * After all datasets of a run were read, each dataset the run read is
 * judged against its catalog entry as of the run (check.c). Every problem
 * goes out through the run's findings sink as a dataset-level finding of
 * rule "DATASET.catalog_KIND" whose record key is "catalog:KIND:ELEMENT", so
 * it enters the closed loop for the provider and keeps one identity from
 * run to run; the catalog itself inserts no finding. Each kind judged is a
 * rule_results row (resolve_missing = 1: a problem no longer found is
 * fixed) and a rule of the run's summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "catalog/catalog.h"
#include "catalog/check.h"
#include "catalog/stored.h"
#include "store/sql.h"
#include "store/store.h"

struct run_check {
    sqlite3 *db;
    const char *run_id;
    char as_of[32];
    int64_t day;                            /* the Shanghai day of as_of */
    json_t *summary_rules;
    const struct qloop_findings_sink *sink;
    struct sql_cached result;               /* the INSERT of rule_results */
    struct qloop_error *err;
};

/* Writes problems from..n-1 of l through the sink: rule
 * DATASET.catalog_KIND, record key catalog:KIND:ELEMENT, no row. */
static int write_findings(struct run_check *rc, const struct plist *l, size_t from)
{
    struct qloop_buf key = {0}, rule = {0};
    int r = 0;
    for (size_t i = from; i < l->n && r == 0; i++) {
        const struct problem *p = &l->v[i];
        qloop_buf_reset(&key);
        qloop_buf_reset(&rule);
        qloop_buf_printf(&key, "catalog:%s:%s", cat_kinds[p->kind].name, p->element);
        qloop_buf_printf(&rule, "%s.catalog_%s", p->dataset, cat_kinds[p->kind].name);
        struct qloop_finding f = {
            .dataset = p->dataset,
            .rule = rule.ptr,
            .row_no = 0,
            .key = key.ptr,
            .keylen = key.len,
            .field = p->column,
            .value = p->value,
            .vlen = p->value ? strlen(p->value) : 0,
            .message = p->message,
        };
        r = rc->sink->write(rc->sink->ctx, &f, rc->err);
    }
    qloop_buf_free(&key);
    qloop_buf_free(&rule);
    return r;
}

/* Writes one rule_results row and one summary object per kind judged for
 * dataset; problems from..n-1 of l are the dataset's. */
static int write_results(struct run_check *rc, const char *dataset, const struct judged *j,
                         const struct plist *l, size_t from)
{
    struct qloop_buf rule = {0};
    int r = 0;
    for (int k = 0; k < NKINDS && r == 0; k++) {
        if (!j->on[k])
            continue;
        int64_t failed = 0;
        for (size_t i = from; i < l->n; i++)
            failed += l->v[i].kind == (enum kind)k;
        qloop_buf_reset(&rule);
        qloop_buf_printf(&rule, "%s.catalog_%s", dataset, cat_kinds[k].name);
        sqlite3_stmt *st = sql_cached(rc->db, &rc->result,
                                      "INSERT INTO rule_results(run_id, rule, dataset, field,"
                                      " dimension, severity, message, checked, failed, errors,"
                                      " resolve_missing) VALUES(?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7,"
                                      " ?8, 0, 1)", rc->err);
        if (!st) {
            r = -1;
            break;
        }
        sql_bind_text(st, 1, rc->run_id);
        sql_bind_text(st, 2, rule.ptr);
        sql_bind_text(st, 3, dataset);
        sql_bind_text(st, 4, cat_kinds[k].dimension);
        sql_bind_text(st, 5, cat_kinds[k].severity);
        sql_bind_text(st, 6, cat_kinds[k].message);
        sqlite3_bind_int64(st, 7, j->checked[k]);
        sqlite3_bind_int64(st, 8, failed);
        r = sql_done(rc->db, st, "写入资源目录检查结果", rc->err);
        if (r == 0 && rc->summary_rules)
            json_array_append_new(rc->summary_rules,
                                  json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", rule.ptr, "dataset",
                                            dataset, "checked", (json_int_t)j->checked[k], "failed",
                                            (json_int_t)failed, "errors", (json_int_t)0));
    }
    qloop_buf_free(&rule);
    return r;
}

/* *covers = whether the run's own freshness rule ("DATASET.freshness")
 * judged dataset against the same cycle the catalog gives: then stale would
 * only repeat it. */
static int freshness_covers(struct run_check *rc, const char *dataset, const char *run_cycle,
                            const char *catalog_cycle, bool *covers)
{
    *covers = false;
    if (!run_cycle || !catalog_cycle || strcmp(run_cycle, catalog_cycle) != 0)
        return 0;
    sqlite3_stmt *st = sql_prepare(rc->db, "SELECT 1 FROM rule_results WHERE run_id = ?1"
                                           " AND rule = ?2", rc->err);
    if (!st)
        return -1;
    struct qloop_buf rule = {0};
    qloop_buf_printf(&rule, "%s.freshness", dataset);
    sql_bind_text(st, 1, rc->run_id);
    sql_bind_text(st, 2, rule.ptr);
    int r = sql_row(rc->db, st, "读取本次运行的检查结果", rc->err);
    *covers = r == 1;
    sqlite3_finalize(st);
    qloop_buf_free(&rule);
    return r < 0 ? -1 : 0;
}

/* The run's as_of (now when the run has none) and its day. */
static int run_as_of(struct run_check *rc)
{
    sqlite3_stmt *st = sql_prepare(rc->db, "SELECT as_of FROM runs WHERE id = ?1", rc->err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, rc->run_id);
    int r = sql_row(rc->db, st, "读取本次运行", rc->err);
    if (r == 1)
        sql_copy(st, 0, rc->as_of, sizeof rc->as_of);
    sqlite3_finalize(st);
    if (r < 0)
        return -1;
    if (!rc->as_of[0])
        qloop_format_datetime(qloop_now(), rc->as_of);
    rc->day = cat_day_of(rc->as_of);
    return 0;
}

/* Judges one dataset the run read (a row of run_datasets: name, columns,
 * newest_update, the rule file's update_cycle) against its entry of c, and
 * writes what was found and judged. */
static int judge_dataset(struct run_check *rc, const struct catalog *c, sqlite3_stmt *ds,
                         struct plist *l)
{
    const char *name = sql_text(ds, 0);
    if (!name)
        return 0;
    size_t from = l->n;
    struct judged j = {0};
    const struct cat_entry *e = cat_find(c, name);
    int r = 0;
    if (!e) {
        cat_judge_uncatalogued(name, l, &j);
    } else {
        j.on[K_UNCATALOGUED] = true;
        j.checked[K_UNCATALOGUED] = 1;
        cat_judge_elements(e, l, &j);
        struct cat_sighting seen = {rc->run_id, rc->as_of};
        r = cat_judge_columns(rc->db, e, sql_text(ds, 1), rc->day, &seen, l, &j, rc->err);
        bool covered = false;
        if (r == 0)
            r = freshness_covers(rc, name, sql_text(ds, 3), e->v[E_UPDATE_CYCLE], &covered);
        if (r == 0 && !covered)
            cat_judge_stale(e, sql_text(ds, 2), rc->day, l, &j);
    }
    if (r == 0)
        r = write_findings(rc, l, from);
    if (r == 0)
        r = write_results(rc, name, &j, l, from);
    return r;
}

int catalog_check_run(sqlite3 *db, const char *run_id, json_t *summary_rules,
                      const struct qloop_findings_sink *sink, struct qloop_error *err)
{
    struct catalog c = {0};
    int64_t version = cat_load_current(db, &c, err);
    if (version <= 0)
        return version < 0 ? -1 : 0;
    struct run_check rc = {.db = db, .run_id = run_id, .summary_rules = summary_rules,
                           .sink = sink, .err = err};
    int r = run_as_of(&rc);
    sqlite3_stmt *ds = r == 0 ? sql_prepare(db, "SELECT dataset, columns, newest_update,"
                                                " update_cycle FROM run_datasets WHERE run_id = ?1"
                                                " ORDER BY dataset", err)
                              : NULL;
    if (!ds)
        r = -1;
    else
        sql_bind_text(ds, 1, run_id);
    struct plist l = {0};
    while (r == 0 && (r = sql_row(db, ds, "读取本次运行的数据集", err)) == 1)
        r = judge_dataset(&rc, &c, ds, &l);
    sqlite3_finalize(ds);
    sql_cache_free(&rc.result);
    cat_plist_free(&l);
    cat_clear(&c);
    return r < 0 ? -1 : 0;
}
