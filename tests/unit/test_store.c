/*
 * test_store.c — opening and migrating the store (store.c, schema.c): a new
 * store runs every step; a store written by a newer qloop, a file that is
 * not a database and a database of something else are refused as input
 * errors that say what to do, without a byte written; a step that fails
 * leaves the store at its old version with none of the pending steps
 * applied (they run in one transaction), as an internal error; opened as
 * STORE_EXISTING, a path with no store is refused naming it and nothing is
 * made there.
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

#include "store/schema.h"

/* A fresh path in /tmp (the file does not exist). */
static void temp_path(char *path, size_t size)
{
    snprintf(path, size, "/tmp/qloop-test-store.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
}

/* The whole content of path (malloc'd) and its length. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap)
            buf = realloc(buf, cap = cap ? cap * 2 : 65536);
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Runs sql on path with a plain connection (not store_open). */
static void raw(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* Opens path expecting a refusal of kind whose message holds part, and the
 * file unchanged. */
static void expect_refused(const char *path, enum qloop_error_kind kind, const char *part)
{
    size_t before_len, after_len;
    char *before = slurp(path, &before_len);
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(path, &err);
    if (db)
        fail_msg("%s opened, expected a refusal", path);
    if (err.kind != kind || !strstr(err.message, part))
        fail_msg("kind %d, message: %s (expected kind %d and \"%s\")", err.kind, err.message, kind,
                 part);
    assert_string_equal(err.file, path);
    char *after = slurp(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

static void test_new_store_runs_every_step(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    for (int i = 0; i < store_nsteps; i++)
        assert_int_equal(store_steps[i].version, i + 1);
    assert_int_equal(
        q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'report_published'"), 1);
    assert_int_equal(strlen(q_text(db, "SELECT value FROM meta WHERE key = 'secret'")), 64);
    store_close(db);
}

/* The first store opened turns SQLite's memory statistics off (a mutex
 * per allocation, counts nobody reads): a store opened, migrated and
 * written leaves them at zero. First in this program, before anything else
 * uses SQLite. */
static void test_no_memory_statistics(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(randomblob(100000))");
    assert_int_equal(q_int(db, "SELECT count(*) FROM t"), 1);
    assert_int_equal(sqlite3_memory_used(), 0);
    assert_int_equal(sqlite3_memory_highwater(0), 0);
    store_close(db);
}

/* A new store file gets 16 KiB pages; a store made with other pages keeps
 * them, opens and takes a run's writes as before. */
static void test_page_size(void **state)
{
    (void)state;
    char path[64], old[64];
    temp_path(path, sizeof path);
    temp_path(old, sizeof old);
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(path, &err);
    assert_non_null(db);
    assert_int_equal(q_int(db, "PRAGMA page_size"), 16384);
    assert_string_equal(q_text(db, "PRAGMA journal_mode"), "wal");
    store_close(db);
    db = store_open(path, &err);
    assert_non_null(db);
    assert_int_equal(q_int(db, "PRAGMA page_size"), 16384);
    store_close(db);

    raw(old, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL");
    db = store_open(old, &err);
    assert_non_null(db);
    assert_int_equal(q_int(db, "PRAGMA page_size"), 4096);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    exec(db, "BEGIN; INSERT INTO finding_runs(run_id) VALUES('r1'); COMMIT");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_runs"), 1);
    store_close(db);
    const char *const made[] = {path, old};
    for (int i = 0; i < 2; i++) {
        char side[80];
        unlink(made[i]);
        snprintf(side, sizeof side, "%s.key", made[i]);
        unlink(side);
        snprintf(side, sizeof side, "%s.lock", made[i]);
        unlink(side);
    }
}

static void test_refused_without_a_write(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(path, &err);
    assert_non_null(db);
    store_close(db);

    /* Written by a newer qloop. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_nsteps + 1);
    raw(path, sql);
    expect_refused(path, QLOOP_ERR_INPUT, "更新版本的 qloop");
    raw(path, "PRAGMA user_version = 999");
    expect_refused(path, QLOOP_ERR_INPUT, "请改用更新的 qloop");
    /* ... not even switched to WAL mode (a header byte) before the check. */
    raw(path, "PRAGMA journal_mode = DELETE");
    expect_refused(path, QLOOP_ERR_INPUT, "请改用更新的 qloop");
    remove_store(path);

    /* Not a database at all. */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 256; i++)
        fputs("这不是数据库。", f);
    fclose(f);
    expect_refused(path, QLOOP_ERR_INPUT, "不是 qloop 数据库");
    unlink(path);

    /* Another program's database. */
    raw(path, "PRAGMA journal_mode=DELETE; CREATE TABLE contacts(name TEXT, phone TEXT);");
    expect_refused(path, QLOOP_ERR_INPUT, "不是 qloop 数据库");
    remove_store(path);
}

static void test_existing_mode_creates_nothing(void **state)
{
    (void)state;
    char path[64], key[80];
    temp_path(path, sizeof path);
    snprintf(key, sizeof key, "%s.key", path);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_null(store_open_mode(path, STORE_EXISTING, &err));
    assert_int_equal(err.kind, QLOOP_ERR_INPUT);
    assert_string_equal(err.file, path);
    assert_non_null(strstr(err.message, "数据库不存在"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(key, F_OK), -1);

    /* In memory there is nothing to mistype. */
    sqlite3 *db = store_open_mode(":memory:", STORE_EXISTING, &err);
    assert_non_null(db);
    store_close(db);

    /* Once created, the same path opens in either mode. */
    assert_non_null(db = store_open_mode(path, STORE_CREATE, &err));
    store_close(db);
    assert_non_null(db = store_open_mode(path, STORE_EXISTING, &err));
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    store_close(db);
    remove_store(path);
}

static void test_failed_step_leaves_old_version(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    /* A store at step 3 whose step 4 cannot run (a table in its way). */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int i = 0; i < 3; i++)
        exec(db, "%s", store_steps[i].sql);
    exec(db, "INSERT INTO meta(key, value) VALUES('secret', %Q)",
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    exec(db, "CREATE TABLE catalog_versions(x); PRAGMA user_version = 3");
    sqlite3_close(db);

    struct qloop_error err;
    qloop_error_clear(&err);
    assert_null(store_open(path, &err));
    assert_int_equal(err.kind, QLOOP_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "第 4 步"));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(q_int(db, "PRAGMA user_version"), 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                               " ('catalog_datasets', 'report_published')"),
                     0);

    /* With the obstacle gone, the same store upgrades whole. */
    exec(db, "DROP TABLE catalog_versions");
    sqlite3_close(db);
    qloop_error_clear(&err);
    db = store_open(path, &err);
    if (!db)
        fail_msg("store_open: %s", err.message);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                               " ('catalog_datasets', 'report_published')"),
                     2);
    store_close(db);
    remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_memory_statistics),
        cmocka_unit_test(test_new_store_runs_every_step),
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_refused_without_a_write),
        cmocka_unit_test(test_existing_mode_creates_nothing),
        cmocka_unit_test(test_failed_step_leaves_old_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
