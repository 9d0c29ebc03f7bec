/*
 * ticket_fresh.c — a run's findings in the order their items are added
 * when none of the run's datasets and rules has an item yet (a first
 * night, a compare on a new store): by (dataset, rule), and in id order
 * within each (ticket_sync.c, add_findings).
 *
 * SQL sorted every finding of the run for that order (ORDER BY the rank of
 * its kind, then id, after a scan of the run's index range for min and max
 * id): ~8,000 instructions a finding, a third of a first night's ticket
 * phase. Here each dataset + rule (a group: its kinds, one per field) is
 * read from the findings' keys by record (finding_refs, schema step 14: its
 * primary key (run, kind, record_ref, id), nothing but the keys' pages)
 * into memory, its rows sorted by id in C, and handed over one by one;
 * then the next group. Only one group's ids
 * and refs are held at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "loop/ticket_private.h"

/* One finding of the group being read: its id and where its record_ref
 * starts in the group's text buffer. */
struct fresh_row {
    int64_t id;
    size_t ref;
};

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct fresh_row *)a)->id, y = ((const struct fresh_row *)b)->id;
    return (x > y) - (x < y);
}

/* The group being read. */
struct fresh_group {
    char *dataset, *rule;
    struct fresh_row *rows;
    size_t n, cap;
    struct qloop_buf refs; /* NUL-terminated record_refs */
};

/* Reads the findings of kind `kind` in run `run` into g. 0 or -2. */
static int read_kind(sqlite3 *db, sqlite3_stmt *rows, int64_t run, int64_t kind,
                     struct fresh_group *g, struct qloop_error *err)
{
    sqlite3_reset(rows);
    sqlite3_bind_int64(rows, 1, run);
    sqlite3_bind_int64(rows, 2, kind);
    int rc;
    while ((rc = sql_row(db, rows, "读取本次运行的问题记录", err)) == 1) {
        const char *ref = sql_text(rows, 1);
        if (!ref) {
            qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                 "运行的问题记录缺少记录标识（finding_rows #%lld）",
                                 (long long)sqlite3_column_int64(rows, 0));
            return -2;
        }
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 1024;
            g->rows = qloop_xrealloc(g->rows, g->cap * sizeof *g->rows);
        }
        g->rows[g->n++] = (struct fresh_row){sqlite3_column_int64(rows, 0), g->refs.len};
        qloop_buf_append(&g->refs, ref, strlen(ref) + 1);
    }
    sqlite3_reset(rows);
    return rc < 0 ? -2 : 0;
}

/* Sorts g's findings by id and hands each to each(). 0, or what each()
 * returned when not 0 (the rest not handed over). */
static int hand_over(struct fresh_group *g, int (*each)(void *ctx, const struct tk_fresh *f),
                     void *ctx)
{
    qsort(g->rows, g->n, sizeof *g->rows, by_id);
    for (size_t i = 0; i < g->n; i++) {
        struct tk_fresh f = {g->rows[i].id, g->dataset, g->rule, g->refs.ptr + g->rows[i].ref};
        int rc = each(ctx, &f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void group_reset(struct fresh_group *g)
{
    free(g->dataset);
    free(g->rule);
    g->dataset = g->rule = NULL;
    g->n = 0;
    qloop_buf_reset(&g->refs);
}

int tk_fresh_findings(sqlite3 *db, const char *run_id,
                      int (*each)(void *ctx, const struct tk_fresh *f), void *ctx,
                      struct qloop_error *err)
{
    int64_t run = 0;
    if (sql_int64_texts(db, "SELECT id FROM finding_runs WHERE run_id = ?1", 1, &run_id, 0, &run,
                        err) != 0)
        return -2;
    if (!run)
        return 0;
    /* the run's kinds in (dataset, rule) order, BINARY as ORDER BY compares */
    sqlite3_stmt *kinds = sql_prepare(db,
                                      "SELECT k.id, k.dataset, k.rule FROM finding_kinds k"
                                      " WHERE EXISTS (SELECT 1 FROM finding_refs f"
                                      "  WHERE f.run = ?1 AND f.kind = k.id)"
                                      " ORDER BY k.dataset, k.rule, k.id",
                                      err);
    sqlite3_stmt *rows = kinds ? sql_prepare(db,
                                             "SELECT id, record_ref FROM finding_refs"
                                             " WHERE run = ?1 AND kind = ?2",
                                             err)
                               : NULL;
    if (!rows) {
        sqlite3_finalize(kinds);
        return -2;
    }
    sqlite3_bind_int64(kinds, 1, run);
    struct fresh_group g = {0};
    int result = 0, rc = 0;
    while (result == 0 && (rc = sql_row(db, kinds, "读取本次运行的问题类型", err)) == 1) {
        const char *dataset = sql_text(kinds, 1), *rule = sql_text(kinds, 2);
        if (!dataset || !rule) {
            result = qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                          "运行 %s 的问题记录缺少数据集、规则或记录标识", run_id);
            break;
        }
        if (g.dataset && (strcmp(g.dataset, dataset) != 0 || strcmp(g.rule, rule) != 0)) {
            result = hand_over(&g, each, ctx);
            group_reset(&g);
        }
        if (result != 0)
            break;
        if (!g.dataset) {
            g.dataset = qloop_xstrdup(dataset);
            g.rule = qloop_xstrdup(rule);
        }
        result = read_kind(db, rows, run, sqlite3_column_int64(kinds, 0), &g, err);
    }
    if (result == 0 && rc < 0)
        result = -2;
    sqlite3_finalize(kinds);
    sqlite3_finalize(rows);
    if (result == 0 && g.dataset)
        result = hand_over(&g, each, ctx);
    group_reset(&g);
    free(g.rows);
    qloop_buf_free(&g.refs);
    return result == 0 ? 0 : -2;
}
