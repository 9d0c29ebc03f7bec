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
 *
 * A record found more than once in a group becomes one item, its first
 * finding's (ticket_sync.c skips the later ones). A kind's rows arrive in
 * (record_ref, id) order, the table's key, so a record's later findings of
 * the same kind follow its first and are dropped here with one compare,
 * instead of each finding being looked up and put in a hash map of the
 * group's records (W1 10M: 2M findings, ~0.5 s). A group of one kind is
 * then known to hold each record once (tk_fresh.distinct); a group of
 * several may still have a record in two kinds, left to the caller.
 *
 * The sort by id is a radix sort on the id's offset from the group's
 * smallest (11 bits a pass: two passes for a run of up to 4M findings)
 * instead of qsort (~0.4 s at 10M): ids are unique, so any correct sort
 * gives the same order.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "loop/ticket_private.h"

/* The group being read. */
struct fresh_group {
    char *dataset, *rule;
    struct fresh_row *rows, *scratch;
    size_t n, cap, scratch_cap;
    size_t kinds;          /* kinds read into the group */
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
    size_t first = g->n; /* this kind's first row */
    g->kinds++;
    while ((rc = sql_row(db, rows, "读取本次运行的问题记录", err)) == 1) {
        const char *ref = sql_text(rows, 1);
        if (!ref) {
            qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                 "运行的问题记录缺少记录标识（finding_rows #%lld）",
                                 (long long)sqlite3_column_int64(rows, 0));
            return -2;
        }
        size_t len = (size_t)sqlite3_column_bytes(rows, 1);
        /* a later finding of the record just read (rows in (ref, id) order) */
        if (g->n > first) {
            const char *last = g->refs.ptr + g->rows[g->n - 1].ref;
            if (memcmp(last, ref, len) == 0 && last[len] == '\0')
                continue;
        }
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 1024;
            g->rows = qloop_xrealloc(g->rows, g->cap * sizeof *g->rows);
        }
        g->rows[g->n++] = (struct fresh_row){sqlite3_column_int64(rows, 0), g->refs.len};
        qloop_buf_append(&g->refs, ref, len + 1);
    }
    sqlite3_reset(rows);
    return rc < 0 ? -2 : 0;
}

void tk_fresh_sort_by_id(struct fresh_row *v, struct fresh_row *scratch, size_t n)
{
    enum { BITS = 11, SLOTS = 1 << BITS };
    if (n < 2)
        return;
    int64_t lo = v[0].id, hi = v[0].id;
    for (size_t i = 1; i < n; i++) {
        lo = v[i].id < lo ? v[i].id : lo;
        hi = v[i].id > hi ? v[i].id : hi;
    }
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    struct fresh_row *from = v, *to = scratch;
    for (unsigned shift = 0; shift < 64 && (shift == 0 || span >> shift); shift += BITS) {
        size_t count[SLOTS] = {0};
        for (size_t i = 0; i < n; i++)
            count[(((uint64_t)from[i].id - (uint64_t)lo) >> shift) & (SLOTS - 1)]++;
        size_t sum = 0;
        for (size_t d = 0; d < SLOTS; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(((uint64_t)from[i].id - (uint64_t)lo) >> shift) & (SLOTS - 1)]++] = from[i];
        struct fresh_row *t = from;
        from = to;
        to = t;
    }
    if (from != v)
        memcpy(v, from, n * sizeof *v);
}

/* Sorts g's findings by id and hands each to each(). 0, or what each()
 * returned when not 0 (the rest not handed over). */
static int hand_over(struct fresh_group *g, int (*each)(void *ctx, const struct tk_fresh *f),
                     void *ctx)
{
    if (g->scratch_cap < g->n) {
        free(g->scratch);
        g->scratch = qloop_xmalloc(g->n * sizeof *g->scratch);
        g->scratch_cap = g->n;
    }
    tk_fresh_sort_by_id(g->rows, g->scratch, g->n);
    for (size_t i = 0; i < g->n; i++) {
        struct tk_fresh f = {g->rows[i].id, g->dataset, g->rule, g->refs.ptr + g->rows[i].ref,
                             g->kinds == 1};
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
    g->n = g->kinds = 0;
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
                                             " WHERE run = ?1 AND kind = ?2"
                                             " ORDER BY record_ref, id",
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
    free(g.scratch);
    qloop_buf_free(&g.refs);
    return result == 0 ? 0 : -2;
}
