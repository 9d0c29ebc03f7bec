/*
 * sql.h — the SQL helpers every module that reads or writes the store uses.
 *
 * One convention for text: a NULL pointer is SQL NULL, anything else —
 * including "" — is stored as that text; reading, SQL NULL comes back as
 * NULL (sql_text, sql_dup) or as "" where a fixed buffer is filled
 * (sql_copy). Errors go through store_error(), so a failure the user can fix
 * (read-only, full disk) exits 2 and any other exits 3. Every function that
 * can fail returns 0 or -1 with err filled.
 */
#ifndef QLOOP_STORE_SQL_H
#define QLOOP_STORE_SQL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Prepares sql. Returns the statement, or NULL with err ("准备数据库语句"). */
sqlite3_stmt *sql_prepare(sqlite3 *db, const char *sql, struct qloop_error *err);

/* Prepares sql and binds its parameters ?1.. as text from params[0..n)
 * (sql_bind_text: NULL is SQL NULL); parameters past the statement's count
 * are ignored, so one list serves several statements. NULL with err. */
sqlite3_stmt *sql_prepare_texts(sqlite3 *db, const char *sql, size_t n, const char *const *params,
                                struct qloop_error *err);

/* Prepares head followed by n (>= 1) copies of row, separated by commas:
 * an INSERT ... VALUES of n rows ("(?,?)" as row). NULL with err. */
sqlite3_stmt *sql_prepare_rows(sqlite3 *db, const char *head, const char *row, size_t n,
                               struct qloop_error *err);

/* A statement prepared once and reused: sql_cached() prepares it on first use,
 * later resets it and clears its bindings. The owner calls sql_cache_free. */
struct sql_cached {
    sqlite3_stmt *st;
};
sqlite3_stmt *sql_cached(sqlite3 *db, struct sql_cached *c, const char *sql,
                         struct qloop_error *err);
void sql_cache_free(struct sql_cached *c);

/* Runs sql (one or more statements, no parameters, results ignored).
 * Returns 0 or -1 with err naming what. */
int sql_exec(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err);

/* Binds s (copied) as text, or SQL NULL when s is NULL. */
void sql_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Binds len bytes of s (copied) as text, or SQL NULL when s is NULL. */
void sql_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t len);

/* Column i as text, NULL when SQL NULL; valid until the next step. */
const char *sql_text(sqlite3_stmt *st, int i);
/* A malloc'd copy of column i, NULL when SQL NULL. */
char *sql_dup(sqlite3_stmt *st, int i);
/* Copies column i into out (truncated to size), "" when SQL NULL. */
void sql_copy(sqlite3_stmt *st, int i, char *out, size_t size);

/* s, or NULL when s is NULL or "": for writing back a fixed buffer that
 * sql_copy filled, where "" stands for SQL NULL. */
const char *sql_or_null(const char *s);

/* Steps st once, expecting SQLITE_DONE, then resets it. Returns 0, or -1 with
 * err naming what ("写入工单" ...). */
int sql_done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err);

/* Steps st expecting a row or the end: 1 with a row, 0 at the end, -1 with
 * err naming what. */
int sql_row(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err);

/* Runs sql, whose parameters ?1.. are bound from the int64 values, to the end.
 * Returns 0 or -1 with err naming what. */
int sql_exec_ids(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err,
                 size_t n, const int64_t *ids);

/* The same with the parameters bound as text (sql_prepare_texts). */
int sql_exec_texts(sqlite3 *db, const char *sql, const char *what, struct qloop_error *err,
                   size_t n, const char *const *params);

/* The first column of the first row of sql with ?1 bound to text param (may
 * be NULL): as an integer in *out (def when there is no row or it is NULL).
 * Returns 0 or -1 with err. */
int sql_int64(sqlite3 *db, const char *sql, const char *param, int64_t def, int64_t *out,
              struct qloop_error *err);

/* sql_int64 with the parameters bound as text from params[0..n)
 * (sql_prepare_texts). */
int sql_int64_texts(sqlite3 *db, const char *sql, size_t n, const char *const *params, int64_t def,
                    int64_t *out, struct qloop_error *err);

/* sql_int64 with the parameters ?1.. bound from the n int64 values. */
int sql_int64_ids(sqlite3 *db, const char *sql, size_t n, const int64_t *ids, int64_t def,
                  int64_t *out, struct qloop_error *err);

/* Steps st to the end, reading every row into a growing array of elements
 * of size bytes: read(st, row) fills row, which starts zeroed. *rows gets
 * the array (malloc'd; NULL when there are no rows) and *n its length, also
 * on failure, so that the caller frees what read allocated. Resets st.
 * Returns 0, or -1 with err naming what. */
int sql_collect(sqlite3 *db, sqlite3_stmt *st, size_t size,
                void (*read)(sqlite3_stmt *st, void *row), void **rows, size_t *n, const char *what,
                struct qloop_error *err);

/* What sql_schema_drop takes out of the schema for a while. */
enum sql_schema_kind { SQL_SCHEMA_INDEX, SQL_SCHEMA_TRIGGER };

/* Drops the index or trigger `name` of table `table` inside the caller's
 * open write transaction, for a bulk insert that would otherwise scatter
 * its entries over an index one random page at a time (or have a trigger
 * do so); *create_sql gets the statement that made it (malloc'd), for
 * sql_schema_restore before the transaction ends — killed or rolled back
 * in between, it is there as before. Outside a transaction, or when the
 * store lacks it, it fails (internal error: a store without it is
 * incomplete). 0 or -1 with err. */
int sql_schema_drop(sqlite3 *db, enum sql_schema_kind kind, const char *table, const char *name,
                    char **create_sql, struct qloop_error *err);

/* Makes again what sql_schema_drop dropped (for an index, CREATE INDEX: one
 * sort of every row's key, the pages written in order); frees *create_sql
 * and sets it to NULL. Nothing to do when it is NULL. 0 or -1 with err
 * naming what. */
int sql_schema_restore(sqlite3 *db, char **create_sql, const char *what,
                       struct qloop_error *err);

/* Sets the main database's page cache to kib KiB (PRAGMA main.cache_size
 * = -kib) for a step that should not hold the whole of it, *was getting
 * the size it had, for sql_cache_restore. Clean pages past the new size are
 * freed at once; dirty ones are written out (as the COMMIT would) as the
 * step needs their room. 0 or -1 with err naming what. */
int sql_cache_shrink(sqlite3 *db, int kib, int64_t *was, const char *what,
                     struct qloop_error *err);

/* Gives the main database's page cache back the size sql_cache_shrink kept
 * in was. 0 or -1 with err naming what. */
int sql_cache_restore(sqlite3 *db, int64_t was, const char *what, struct qloop_error *err);

#endif
