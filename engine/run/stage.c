/*
 * stage.c — the run's staging (see stage.h): the spool the findings wait
 * in, and the staging tables of everything else, which have the columns of
 * the store's own, so stage_move is one INSERT ... SELECT per table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "run/stage.h"
#include "store/sql.h"
#include "store/store.h"

/* ---- the spool ---- */

enum {
    SPOOL_MEMORY = 4 << 20, /* bytes kept in memory before the file takes them */
    SPOOL_READ = 1 << 20,   /* bytes read back at a time */
};

struct stage_spool {
    struct qloop_buf mem; /* the tail, not yet written to the file */
    FILE *file;           /* tmpfile(), once the spool outgrew memory */
    uint64_t size;
};

struct stage_spool *stage_spool_new(void) { return qloop_xcalloc(1, sizeof(struct stage_spool)); }

void stage_spool_free(struct stage_spool *s)
{
    if (!s)
        return;
    if (s->file)
        fclose(s->file);
    qloop_buf_free(&s->mem);
    free(s);
}

uint64_t stage_spool_size(const struct stage_spool *s) { return s->size; }

/* The user's error of a temporary file that cannot be written or read. */
static int spool_error(const char *what, struct qloop_error *err)
{
    return qloop_error_set(err, NULL, 0, 0,
                           "%s暂存问题记录的临时文件失败（%s）；请检查临时目录（TMPDIR）所在磁盘的空间",
                           what, strerror(errno));
}

/* Writes p[0..len) to the file, making it first. */
static int spool_write(struct stage_spool *s, const void *p, size_t len, struct qloop_error *err)
{
    if (!s->file && !(s->file = tmpfile()))
        return spool_error("创建", err);
    if (len && fwrite(p, 1, len, s->file) != len)
        return spool_error("写入", err);
    return 0;
}

int stage_spool_append(struct stage_spool *s, const void *p, size_t len, struct qloop_error *err)
{
    if (s->mem.len + len > SPOOL_MEMORY) {
        if (spool_write(s, s->mem.ptr, s->mem.len, err) != 0)
            return -1;
        qloop_buf_reset(&s->mem);
        if (len > SPOOL_MEMORY / 2) {
            if (spool_write(s, p, len, err) != 0)
                return -1;
            s->size += len;
            return 0;
        }
    }
    qloop_buf_append(&s->mem, p, len);
    s->size += len;
    return 0;
}

int stage_spool_drain(struct stage_spool *s, int (*each)(void *ctx, const void *p, size_t n),
                      void *ctx, struct qloop_error *err)
{
    int rc = 0;
    if (s->file) {
        if (fflush(s->file) != 0 || fseek(s->file, 0, SEEK_SET) != 0)
            rc = spool_error("写入", err);
        char *chunk = rc == 0 ? qloop_xmalloc(SPOOL_READ) : NULL;
        size_t n;
        while (rc == 0 && (n = fread(chunk, 1, SPOOL_READ, s->file)) > 0)
            rc = each(ctx, chunk, n);
        if (rc == 0 && ferror(s->file))
            rc = spool_error("读取", err);
        free(chunk);
        fclose(s->file);
        s->file = NULL;
    }
    if (rc == 0 && s->mem.len)
        rc = each(ctx, s->mem.ptr, s->mem.len);
    qloop_buf_reset(&s->mem);
    s->size = 0;
    return rc;
}

struct stage_spool_view {
    int fd;        /* a duplicate of the file's descriptor; -1: no file */
    uint64_t size; /* bytes of the file that belong to the view */
    char *tail;    /* the spool's memory part, copied */
    size_t tail_len;
    char *chunk;   /* the read's buffer, made with the view (on the spool's thread) */
};

struct stage_spool_view *stage_spool_view(struct stage_spool *s)
{
    struct stage_spool_view *v = qloop_xcalloc(1, sizeof *v);
    v->fd = -1;
    if (s->file) {
        if (fflush(s->file) != 0 || (v->fd = dup(fileno(s->file))) < 0) {
            free(v);
            return NULL;
        }
        v->size = s->size - s->mem.len;
        v->chunk = qloop_xmalloc(SPOOL_READ);
    }
    if (s->mem.len) {
        v->tail = qloop_xmalloc(s->mem.len);
        memcpy(v->tail, s->mem.ptr, s->mem.len);
        v->tail_len = s->mem.len;
    }
    return v;
}

void stage_spool_view_free(struct stage_spool_view *v)
{
    if (!v)
        return;
    if (v->fd >= 0)
        close(v->fd);
    free(v->tail);
    free(v->chunk);
    free(v);
}

int stage_spool_view_read(struct stage_spool_view *v,
                          int (*each)(void *ctx, const void *p, size_t n), void *ctx)
{
    int rc = 0;
    if (v->fd >= 0 && v->size) {
        char *chunk = v->chunk;
        for (uint64_t at = 0; rc == 0 && at < v->size;) {
            size_t want = v->size - at < SPOOL_READ ? (size_t)(v->size - at) : SPOOL_READ;
            ssize_t n = pread(v->fd, chunk, want, (off_t)at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    errno = EIO; /* the file is shorter than the spool said */
                rc = -1;
                break;
            }
            rc = each(ctx, chunk, (size_t)n);
            at += (uint64_t)n;
        }
    }
    if (rc == 0 && v->tail_len)
        rc = each(ctx, v->tail, v->tail_len);
    return rc;
}

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
        "DROP TABLE IF EXISTS temp.stage_rule_results",
        "DROP TABLE IF EXISTS temp.stage_run_datasets",
        "DROP TABLE IF EXISTS temp.stage_cleanse_counts",
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
