/*
 * stage.c — the run's staging tables (see stage.h). The staged tables have
 * the columns of the store's own, so stage_move is one INSERT ... SELECT
 * per table.
 */
#include "run/stage.h"
#include "store/sql.h"
#include "store/store.h"

/* Runs each statement of sqls (NULL-terminated) in turn. Returns 0, or -1
 * with err naming what (store_error: a full disk is the user's, a failing
 * constraint or trigger is internal). */
static int exec_all(sqlite3 *db, const char *const *sqls, const char *what,
                    struct qloop_error *err)
{
    for (; *sqls; sqls++) {
        sqlite3_stmt *st = sql_prepare(db, *sqls, err);
        if (!st)
            return -1;
        int rc = sql_done(db, st, what, err);
        sqlite3_finalize(st);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int stage_create(sqlite3 *db, struct qloop_error *err)
{
    static const char *const sqls[] = {
        "DROP TABLE IF EXISTS temp.stage_findings",
        "DROP TABLE IF EXISTS temp.stage_rule_results",
        "DROP TABLE IF EXISTS temp.stage_run_datasets",
        "DROP TABLE IF EXISTS temp.stage_cleanse_counts",
        "CREATE TEMP TABLE stage_findings(run_id, dataset, rule, row_no, record_ref, record_key,"
        " field, value, message, sealed, part)",
        "CREATE TEMP TABLE stage_rule_results(run_id, rule, dataset, field, dimension, severity,"
        " message, checked, failed, errors, resolve_missing)",
        "CREATE TEMP TABLE stage_run_datasets(run_id, dataset, source, rows, owner, update_cycle,"
        " newest_update, columns, sensitive, key_fields)",
        "CREATE TEMP TABLE stage_cleanse_counts(run_id, dataset, field, changed)",
        NULL,
    };
    return exec_all(db, sqls, "准备暂存表", err);
}

int stage_move(sqlite3 *db, struct qloop_error *err)
{
    static const char *const sqls[] = {
        "INSERT INTO main.findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
        " value, message, sealed, part) SELECT run_id, dataset, rule, row_no, record_ref, record_key,"
        " field, value, message, sealed, part FROM temp.stage_findings ORDER BY rowid",
        "INSERT INTO main.rule_results(run_id, rule, dataset, field, dimension, severity, message,"
        " checked, failed, errors, resolve_missing) SELECT run_id, rule, dataset, field,"
        " dimension, severity, message, checked, failed, errors, resolve_missing"
        " FROM temp.stage_rule_results ORDER BY rowid",
        "INSERT INTO main.run_datasets(run_id, dataset, source, rows, owner, update_cycle,"
        " newest_update, columns, sensitive, key_fields) SELECT run_id, dataset, source, rows,"
        " owner, update_cycle, newest_update, columns, sensitive, key_fields"
        " FROM temp.stage_run_datasets ORDER BY rowid",
        "INSERT INTO main.cleanse_counts(run_id, dataset, field, changed) SELECT run_id, dataset,"
        " field, changed FROM temp.stage_cleanse_counts ORDER BY rowid",
        "DELETE FROM temp.stage_findings",
        "DELETE FROM temp.stage_rule_results",
        "DELETE FROM temp.stage_run_datasets",
        "DELETE FROM temp.stage_cleanse_counts",
        NULL,
    };
    return exec_all(db, sqls, "写入本次运行的结果", err);
}

/* Runs the prepared st to its end and finalizes it. */
static int done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err)
{
    int rc = sql_done(db, st, what, err);
    sqlite3_finalize(st);
    return rc;
}

int stage_rule_result(sqlite3 *db, const char *run_id, const struct stage_result *r,
                      json_t *summary_rules, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO temp.stage_rule_results(run_id, rule, dataset, field,"
                                   " dimension, severity, message, checked, failed, errors,"
                                   " resolve_missing) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                                   err);
    if (!st)
        return -1;
    const char *text[] = {run_id, r->rule, r->dataset, r->field, r->dimension, r->severity,
                          r->message};
    for (int i = 0; i < 7; i++)
        sql_bind_text(st, i + 1, text[i]);
    sqlite3_bind_int64(st, 8, r->checked);
    sqlite3_bind_int64(st, 9, r->failed);
    sqlite3_bind_int64(st, 10, r->errors);
    sqlite3_bind_int(st, 11, r->resolve_missing);
    if (done(db, st, "写入规则结果", err) != 0)
        return -1;
    if (summary_rules)
        json_array_append_new(summary_rules,
                              json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", r->rule, "dataset",
                                        r->dataset, "checked", (json_int_t)r->checked, "failed",
                                        (json_int_t)r->failed, "errors", (json_int_t)r->errors));
    return 0;
}

int stage_dataset(sqlite3 *db, const char *run_id, const struct stage_dataset *d,
                  struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO temp.stage_run_datasets(run_id, dataset, source, rows,"
                                   " owner, update_cycle, newest_update, columns, sensitive, key_fields)"
                                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, run_id);
    sql_bind_text(st, 2, d->dataset);
    sql_bind_text(st, 3, d->source);
    sqlite3_bind_int64(st, 4, d->rows);
    sql_bind_text(st, 5, d->owner);
    sql_bind_text(st, 6, d->update_cycle);
    sql_bind_text(st, 7, d->newest_update);
    sql_bind_text(st, 8, d->columns);
    sql_bind_text(st, 9, d->sensitive);
    sql_bind_text(st, 10, d->key_fields);
    return done(db, st, "写入数据集结果", err);
}

int stage_cleanse_count(sqlite3 *db, const char *run_id, const char *dataset, const char *field,
                        int64_t changed, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO temp.stage_cleanse_counts(run_id, dataset, field,"
                                   " changed) VALUES(?1,?2,?3,?4)",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, run_id);
    sql_bind_text(st, 2, dataset);
    sql_bind_text(st, 3, field);
    sqlite3_bind_int64(st, 4, changed);
    return done(db, st, "写入清洗计数", err);
}
