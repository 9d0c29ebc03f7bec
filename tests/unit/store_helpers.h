/*
 * store_helpers.h — helpers for unit tests that work on a store: open an
 * in-memory store, run SQL, read one value. Included by the tests that
 * need them (cmocka's headers first); everything here is static inline.
 */
#ifndef QLOOP_TEST_STORE_HELPERS_H
#define QLOOP_TEST_STORE_HELPERS_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "store/schema.h"
#include "store/store.h"

static inline void set_now(const char *iso) { setenv("QLOOP_NOW", iso, 1); }

/* A fresh, migrated in-memory store; fails the test when it cannot open. */
static inline sqlite3 *db_open(void)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(":memory:", &err);
    if (!db)
        fail_msg("store_open: %s", err.message);
    return db;
}

/* The distinct statements a connection ran while traced (sql_trace_start
 * to sql_trace_stop) whose SQL names `name` or `also` (when not NULL), in
 * first-run order, each
 * once, at most 256; a trigger's statements (traced as "-- ...") are not
 * kept. The texts are malloc'd: sql_trace_free frees them. */
struct sql_traced {
    const char *name, *also;
    char *sql[256];
    int n;
};

static inline int sql_trace_keep(unsigned type, void *ctx, void *p, void *x)
{
    (void)p;
    struct sql_traced *t = ctx;
    const char *sql = x;
    if (type != SQLITE_TRACE_STMT || strncmp(sql, "--", 2) == 0 ||
        (!strstr(sql, t->name) && !(t->also && strstr(sql, t->also))))
        return 0;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->sql[i], sql) == 0)
            return 0;
    if (t->n < 256)
        t->sql[t->n++] = strdup(sql);
    return 0;
}

static inline void sql_trace_start(sqlite3 *db, struct sql_traced *t, const char *name,
                                   const char *also)
{
    *t = (struct sql_traced){.name = name, .also = also};
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, sql_trace_keep, t);
}

static inline void sql_trace_stop(sqlite3 *db) { sqlite3_trace_v2(db, 0, NULL, NULL); }

static inline void sql_trace_free(struct sql_traced *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->sql[i]);
    t->n = 0;
}

/* Removes the store at path and what lives beside it (WAL, shared memory,
 * key file). */
static inline void remove_store(const char *path)
{
    static const char *const sides[] = {"", "-wal", "-shm", ".key"};
    char side[1024];
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        remove(side);
    }
}

/* A copy of the store at `from` (its WAL, shared memory and key file
 * beside it too, when there) at `to`, so that both have the same secret
 * (the same record_refs). Fails the test when a copy fails. */
static inline void copy_store(const char *from, const char *to)
{
    static const char *const sides[] = {"", "-wal", "-shm", ".key"};
    remove_store(to);
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        char cmd[1000];
        snprintf(cmd, sizeof cmd, "if [ -e '%s%s' ]; then cp '%s%s' '%s%s'; fi", from, sides[i],
                 from, sides[i], to, sides[i]);
        assert_int_equal(system(cmd), 0);
    }
}

/* The store at path (made when missing), opened and migrated; fails the
 * test when it cannot open. */
static inline sqlite3 *db_open_at(const char *path)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(path, &err);
    if (!db)
        fail_msg("store_open %s: %s", path, err.message);
    return db;
}

/* A fresh path /tmp/qloop-test-<tag>.XXXXXX in path (size bytes; no file
 * there), for db_open_at. */
static inline void temp_store_path(char *path, size_t size, const char *tag)
{
    snprintf(path, size, "/tmp/qloop-test-%s.XXXXXX", tag);
    int fd = mkstemp(path);
    if (fd < 0)
        fail_msg("mkstemp %s", path);
    close(fd);
    unlink(path);
}

/* Runs printf-style SQL (sqlite3_vmprintf: %Q quotes); fails the test on error. */
static inline void exec(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_free(sql);
}

/* Prepares printf-style SQL and steps it once; fails the test when it
 * cannot be prepared. Returns the statement (the caller finalizes it) and
 * whether it has a row in *row. */
static inline sqlite3_stmt *q_step(sqlite3 *db, int *row, const char *fmt, va_list ap)
{
    char *sql = sqlite3_vmprintf(fmt, ap);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_free(sql);
    *row = sqlite3_step(st) == SQLITE_ROW;
    return st;
}

/* The first column of the first row as an integer (-1 for no row). */
static inline int64_t q_int(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int row;
    sqlite3_stmt *st = q_step(db, &row, fmt, ap);
    va_end(ap);
    int64_t v = row ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* The first column of the first row as text ("(null)" for NULL, "" for no
 * row), in one of 8 rotating buffers of 2 KiB. */
static inline const char *q_text(sqlite3 *db, const char *fmt, ...)
{
    static char out[8][2048];
    static int k;
    char *buf = out[k++ % 8];
    va_list ap;
    va_start(ap, fmt);
    int row;
    sqlite3_stmt *st = q_step(db, &row, fmt, ap);
    va_end(ap);
    buf[0] = '\0';
    if (row) {
        const unsigned char *s = sqlite3_column_text(st, 0);
        snprintf(buf, 2048, "%s", s ? (const char *)s : "(null)");
    }
    sqlite3_finalize(st);
    return buf;
}

/* Every row of sql's result as a line of text, its columns joined by '|'
 * and NULL written "-" (malloc'd: the caller frees). For comparing tables
 * whose rows outgrow q_text's buffers. */
static inline char *q_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    struct qloop_buf b = {0};
    int n = sqlite3_column_count(st);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < n; i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            qloop_buf_append(&b, t ? t : "-", strlen(t ? t : "-"));
            qloop_buf_putc(&b, i < n - 1 ? '|' : '\n');
        }
    sqlite3_finalize(st);
    char *text = strdup(qloop_buf_str(&b));
    qloop_buf_free(&b);
    assert_non_null(text);
    return text;
}

/* Takes a store at the current schema step back to step 18 (store/schema.c),
 * for the tests of the upgrade to step 19: ticket_item_refs and its three
 * triggers dropped, the UNIQUE index ticket_items_record made again as step
 * 18 made it (from the items' rows, whatever the table held);
 * user_version 18. */
static inline void store_rewind_to_step18(sqlite3 *db)
{
    exec(db, "DROP TRIGGER ticket_item_refs_insert;"
             "DROP TRIGGER ticket_item_refs_update;"
             "DROP TRIGGER ticket_item_refs_delete;"
             "DROP TABLE ticket_item_refs;"
             "CREATE UNIQUE INDEX ticket_items_record ON ticket_item_rows(record_ref, kind,"
             "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));"
             "PRAGMA user_version = 18;");
}

/* Takes a store at the current schema step back to step 16 (store/schema.c),
 * for the tests of upgrades: ticket_items a table again, as steps 13 and 16
 * left it, each item with its evidence (the view's columns) and its id;
 * ticket_item_rows, the view and its triggers dropped, step 18's item_kinds
 * and triggers too, the `findings` view's DELETE trigger as step 14 made
 * it; user_version 16. (finding_runs keeps the rows step 18 added.) */
static inline void store_rewind_to_step16(sqlite3 *db)
{
    store_rewind_to_step18(db);
    exec(db,
         "CREATE TABLE ticket_items_16 AS SELECT * FROM ticket_items;"
         "DROP VIEW ticket_items;"
         "DROP TABLE ticket_item_rows;"
         "DROP TABLE item_kinds;"
         "DROP TRIGGER tickets_item_kind;"
         "DROP TRIGGER runs_finding_run;"
         "CREATE TABLE ticket_items(id INTEGER PRIMARY KEY,"
         "  ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
         "  dataset TEXT NOT NULL, rule TEXT NOT NULL, record_ref TEXT NOT NULL, record_key TEXT,"
         "  field TEXT, value TEXT, message TEXT, row_no INTEGER,"
         "  state TEXT NOT NULL"
         "   CHECK(state = 'open' OR state = 'missing' OR state = 'fixed' OR state = 'closed'),"
         "  reporter TEXT, added_at TEXT NOT NULL, added_run TEXT, last_run TEXT,"
         "  closed_at TEXT, closed_run TEXT, reopened_from INTEGER, sealed BLOB);"
         "INSERT INTO ticket_items SELECT * FROM ticket_items_16 ORDER BY id;"
         "DROP TABLE ticket_items_16;"
         "CREATE INDEX ticket_items_ticket ON ticket_items(ticket_id, state);"
         "CREATE UNIQUE INDEX ticket_items_record ON ticket_items(record_ref, dataset, rule,"
         "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));"
         "DROP TRIGGER findings_delete;"
         "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
         "  DELETE FROM finding_refs WHERE id = OLD.id"
         "   AND run = (SELECT run FROM finding_rows WHERE id = OLD.id)"
         "   AND kind = (SELECT kind FROM finding_rows WHERE id = OLD.id)"
         "   AND record_ref = (SELECT record_ref FROM finding_rows WHERE id = OLD.id);"
         "  DELETE FROM finding_rows WHERE id = OLD.id;"
         " END;"
         "PRAGMA user_version = 16;");
}

/* Takes a store at the current schema step back to step 17 (store/schema.c),
 * for the tests of the upgrade to step 18: ticket_item_rows with its text
 * columns (dataset, rule, run ids, added_at always), each item naming the
 * finding it named and keeping its own columns and digest as they were,
 * step 17's view and triggers; user_version 17. */
static inline void store_rewind_to_step17(sqlite3 *db)
{
    exec(db, "CREATE TABLE temp.rows_17 AS SELECT id, record_key, value, message, row_no, sealed,"
             " finding, digest FROM ticket_item_rows");
    store_rewind_to_step16(db);
    exec(db, "%s", store_steps[16].sql);
    exec(db, "UPDATE ticket_item_rows SET (record_key, value, message, row_no, sealed, finding,"
             " digest) = (SELECT record_key, value, message, row_no, sealed, finding, digest"
             " FROM temp.rows_17 r WHERE r.id = ticket_item_rows.id);"
             "DROP TABLE temp.rows_17;"
             "PRAGMA user_version = 17;");
}

/* Takes a store at the current schema step back to step 13 (store/schema.c),
 * for the tests of upgrades: step 17 undone (store_rewind_to_step16), step 15's verdict_memo dropped, the findings'
 * keys by record back in the index
 * finding_rows_run, finding_refs dropped, the findings view's triggers as
 * step 11 made them, user_version 13. The rows of finding_rows stay. */
static inline void store_rewind_to_step13(sqlite3 *db)
{
    store_rewind_to_step16(db);
    exec(db,
         "DROP TABLE verdict_memo;" /* step 15 */
         "CREATE INDEX finding_rows_run ON finding_rows(run, kind, record_ref);"
         "DROP TABLE finding_refs;"
         "DROP TRIGGER findings_insert;"
         "CREATE TRIGGER findings_insert INSTEAD OF INSERT ON findings BEGIN"
         "  INSERT OR IGNORE INTO finding_runs(run_id) VALUES(NEW.run_id);"
         "  INSERT INTO finding_kinds(dataset, rule, field) SELECT NEW.dataset, NEW.rule, NEW.field"
         "   WHERE NOT EXISTS (SELECT 1 FROM finding_kinds WHERE dataset = NEW.dataset"
         "   AND rule = NEW.rule AND field IS NEW.field);"
         "  INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value, message,"
         "   sealed, part) VALUES(NEW.id, (SELECT id FROM finding_runs WHERE run_id = NEW.run_id),"
         "   (SELECT id FROM finding_kinds WHERE dataset = NEW.dataset AND rule = NEW.rule"
         "    AND field IS NEW.field ORDER BY id LIMIT 1), NEW.row_no, NEW.record_ref, NEW.record_key,"
         "   NEW.value, NEW.message, NEW.sealed, NEW.part);"
         " END;"
         "DROP TRIGGER findings_delete;"
         "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
         "  DELETE FROM finding_rows WHERE id = OLD.id;"
         " END;"
         "PRAGMA user_version = 13;");
}

/* A temporary folder for a test's files: test_dir() is its path ("" until
 * made), test_dir_make makes one under $TMPDIR (or /tmp) named after tag,
 * test_dir_remove removes it with its files, test_dir_path names a file in
 * it (one of 4 rotating buffers). */
static inline char *test_dir(void)
{
    static char dir[256];
    return dir;
}

static inline int test_dir_make(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(test_dir(), 256, "%s/qloop-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    return mkdtemp(test_dir()) ? 0 : -1;
}

static inline int test_dir_remove(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir());
    return system(cmd) == 0 ? 0 : -1;
}

static inline const char *test_dir_path(const char *name)
{
    static char p[4][400];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", test_dir(), name);
    return p[i];
}

#endif
