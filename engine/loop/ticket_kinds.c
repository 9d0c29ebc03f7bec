/*
 * ticket_kinds.c — the integer keys a run's new items are written with
 * (store step 18): the item kind of their (dataset, rule), the finding_runs
 * id of their run, and whether their added_at is that run's own time (then
 * stored NULL, which the `ticket_items` view shows as the run's as_of).
 * Looked up once per batch of items and bound to the items' INSERT as
 * plain values: as subqueries of the statement (TK_KIND_OF, TK_RUN_OF,
 * TK_ADDED_AT) SQLite evaluated them once but ran ~10 more VM steps for
 * every row to reach their results (W1 10M night 1: 99.0M -> 117.0M steps).
 */
#include <stdbool.h>
#include <stdint.h>

#include "store/sql.h"
#include "loop/ticket_private.h"

int tk_item_keys(sqlite3 *db, const char *dataset, const char *rule, const char *run_id,
                 const char *at, struct tk_item_keys *k, struct qloop_error *err)
{
    *k = (struct tk_item_keys){0};
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " TK_KIND_OF("?1", "?2") ", " TK_RUN_OF("?3") ","
                                   " " TK_ADDED_AT("?4", "?3") " IS NULL",
                                   err);
    if (!st)
        return -2;
    sql_bind_text(st, 1, dataset);
    sql_bind_text(st, 2, rule);
    sql_bind_text(st, 3, run_id);
    sql_bind_text(st, 4, at);
    int rc = sql_row(db, st, "写入工单记录", err);
    if (rc == 1) {
        k->kind = sqlite3_column_int64(st, 0);
        k->run = sqlite3_column_int64(st, 1);
        k->at_is_run = sqlite3_column_int(st, 2) != 0;
    }
    sqlite3_finalize(st);
    return rc == 1 ? 0 : -2;
}
