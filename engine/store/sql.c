/*
 * sql.c — the shared SQL helpers (sql.h): one NULL convention, one way of
 * reporting a store failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/sql.h"
#include "store/store.h"

sqlite3_stmt *sql_prepare(sqlite3 *db, const char *sql, struct qloop_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_error(db, "准备数据库语句", err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *sql_prepare_texts(sqlite3 *db, const char *sql, size_t n, const char *const *params,
                                struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    if (!st)
        return NULL;
    size_t count = (size_t)sqlite3_bind_parameter_count(st);
    for (size_t i = 0; i < n && i < count; i++)
        sql_bind_text(st, (int)i + 1, params[i]);
    return st;
}

sqlite3_stmt *sql_cached(sqlite3 *db, struct sql_cached *c, const char *sql,
                         struct qloop_error *err)
{
    if (c->st) {
        sqlite3_reset(c->st);
        sqlite3_clear_bindings(c->st);
        return c->st;
    }
    return c->st = sql_prepare(db, sql, err);
}

void sql_cache_free(struct sql_cached *c)
{
    sqlite3_finalize(c->st);
    c->st = NULL;
}

int sql_exec(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_error(db, what, err);
    return 0;
}

void sql_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void sql_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t len)
{
    if (s)
        sqlite3_bind_text64(st, i, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
    else
        sqlite3_bind_null(st, i);
}

const char *sql_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

char *sql_dup(sqlite3_stmt *st, int i)
{
    const char *s = sql_text(st, i);
    return s ? qloop_xstrdup(s) : NULL;
}

void sql_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const char *s = sql_text(st, i);
    if (size)
        snprintf(out, size, "%s", s ? s : "");
}

const char *sql_or_null(const char *s)
{
    return s && *s ? s : NULL;
}

int sql_done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_error(db, what, err);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int sql_row(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return store_error(db, what, err);
}

/* Steps st (NULL: its preparing failed) to the end and finalizes it.
 * 0 or -1 with err naming what. */
static int done_once(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err)
{
    if (!st)
        return -1;
    int rc = sql_done(db, st, what, err);
    sqlite3_finalize(st);
    return rc;
}

int sql_exec_texts(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err,
                   size_t n, const char *const *params)
{
    return done_once(db, sql_prepare_texts(db, sql, n, params, err), what, err);
}

int sql_exec_ids(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err,
                 size_t n, const int64_t *ids)
{
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    for (size_t i = 0; st && i < n; i++)
        sqlite3_bind_int64(st, (int)i + 1, ids[i]);
    return done_once(db, st, what, err);
}

/* The first column of st's first row as an integer in *out (def when there
 * is no row or it is NULL); finalizes st (NULL: its preparing failed).
 * Returns 0 or -1 with err. */
static int first_int64(sqlite3 *db, sqlite3_stmt *st, int64_t def, int64_t *out,
                       struct qloop_error *err)
{
    *out = def;
    if (!st)
        return -1;
    int rc = sql_row(db, st, "读取数据库", err);
    if (rc == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

int sql_int64(sqlite3 *db, const char *sql, const char *param, int64_t def, int64_t *out,
              struct qloop_error *err)
{
    return sql_int64_texts(db, sql, 1, &param, def, out, err);
}

int sql_int64_texts(sqlite3 *db, const char *sql, size_t n, const char *const *params, int64_t def,
                    int64_t *out, struct qloop_error *err)
{
    return first_int64(db, sql_prepare_texts(db, sql, n, params, err), def, out, err);
}

int sql_int64_ids(sqlite3 *db, const char *sql, size_t n, const int64_t *ids, int64_t def,
                  int64_t *out, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    for (size_t i = 0; st && i < n; i++)
        sqlite3_bind_int64(st, (int)i + 1, ids[i]);
    return first_int64(db, st, def, out, err);
}

int sql_collect(sqlite3 *db, sqlite3_stmt *st, size_t size,
                void (*read)(sqlite3_stmt *st, void *row), void **rows, size_t *n, const char *what,
                struct qloop_error *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sql_row(db, st, what, err)) == 1) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = qloop_xrealloc(v, cap * size);
        }
        memset(v + len * size, 0, size);
        read(st, v + len * size);
        len++;
    }
    sqlite3_reset(st);
    *rows = v;
    *n = len;
    return rc < 0 ? -1 : 0;
}

sqlite3_stmt *sql_prepare_rows(sqlite3 *db, const char *head, const char *row, size_t n,
                               struct qloop_error *err)
{
    struct qloop_buf sql = {0};
    qloop_buf_append(&sql, head, strlen(head));
    for (size_t i = 0; i < n; i++) {
        if (i)
            qloop_buf_putc(&sql, ',');
        qloop_buf_append(&sql, row, strlen(row));
    }
    sqlite3_stmt *st = sql_prepare(db, qloop_buf_str(&sql), err);
    qloop_buf_free(&sql);
    return st;
}

/* Per sql_schema_kind: its type in sqlite_schema, its DROP statement's
 * head, and its name for people. */
static const struct {
    const char *type, *drop, *noun;
} schema_kinds[] = {
    [SQL_SCHEMA_INDEX] = {"index", "DROP INDEX \"", "索引"},
    [SQL_SCHEMA_TRIGGER] = {"trigger", "DROP TRIGGER \"", "触发器"},
};

int sql_schema_drop(sqlite3 *db, enum sql_schema_kind kind, const char *table, const char *name,
                    char **create_sql, struct qloop_error *err)
{
    *create_sql = NULL;
    const char *file = sqlite3_db_filename(db, "main");
    const char *noun = schema_kinds[kind].noun;
    if (sqlite3_get_autocommit(db))
        return qloop_error_internal(err, file, "%s %s 只能在事务中重建（请在运行的事务中调用）",
                                    noun, name);
    const char *const texts[] = {schema_kinds[kind].type, name, table};
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT sql FROM sqlite_schema WHERE type = ?1"
                                         " AND name = ?2 AND tbl_name = ?3",
                                         3, texts, err);
    if (!st)
        return -1;
    int rc = sql_row(db, st, "读取数据库结构定义", err);
    char *sql = rc == 1 ? sql_dup(st, 0) : NULL;
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    if (!sql)
        return qloop_error_internal(err, file,
                                    "数据库缺少%s %s（数据库结构不完整，请从备份恢复）", noun, name);
    struct qloop_buf drop = {0};
    qloop_buf_append(&drop, schema_kinds[kind].drop, strlen(schema_kinds[kind].drop));
    qloop_buf_append(&drop, name, strlen(name));
    qloop_buf_putc(&drop, '"');
    rc = sql_exec(db, qloop_buf_str(&drop), "重建数据库结构", err);
    qloop_buf_free(&drop);
    if (rc != 0) {
        free(sql);
        return -1;
    }
    *create_sql = sql;
    return 0;
}

int sql_schema_restore(sqlite3 *db, char **create_sql, const char *what, struct qloop_error *err)
{
    if (!*create_sql)
        return 0;
    int rc = sql_exec(db, *create_sql, what, err);
    free(*create_sql);
    *create_sql = NULL;
    return rc;
}

int sql_cache_shrink(sqlite3 *db, int kib, int64_t *was, const char *what,
                     struct qloop_error *err)
{
    if (sql_int64(db, "PRAGMA main.cache_size", NULL, 0, was, err) != 0)
        return -1;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA main.cache_size=-%d", kib);
    return sql_exec(db, pragma, what, err);
}

int sql_cache_restore(sqlite3 *db, int64_t was, const char *what, struct qloop_error *err)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA main.cache_size=%lld", (long long)was);
    return sql_exec(db, pragma, what, err);
}
