/*
 * test_key.c — the store's key file (engine/store/key.c): made with the store
 * with mode 0600, adopted when it is already there, recognised when it
 * belongs to another store, refused when missing, unreadable or readable by
 * others; a store from before key files gets one when it is opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/key.h"
#include "store_helpers.h"

static int setup(void **state)
{
    (void)state;
    unsetenv("QLOOP_KEY_FILE");
    return test_dir_make("key");
}

static int teardown(void **state)
{
    (void)state;
    return test_dir_remove();
}

/* The audit subkey, or "" with the error message in msg. */
static int subkey(sqlite3 *db, unsigned char out[STORE_SUBKEY_BYTES], char *msg, size_t size)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = store_key(db, STORE_KEY_AUDIT, out, &err);
    snprintf(msg, size, "%s", err.message);
    if (rc != 0)
        assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INPUT);
    return rc;
}

static void test_made_with_the_store(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(test_dir_path("a.db"));
    struct stat sb;
    assert_int_equal(stat(test_dir_path("a.db.key"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    unsigned char k1[STORE_SUBKEY_BYTES], k2[STORE_SUBKEY_BYTES];
    char msg[2048];
    assert_int_equal(subkey(db, k1, msg, sizeof msg), 0);
    struct qloop_error err;
    assert_int_equal(store_key(db, STORE_KEY_RECORDS, k2, &err), 0);
    assert_memory_not_equal(k1, k2, sizeof k1); /* one subkey per use */
    store_close(db);
    /* Reopened: the same key. */
    db = db_open_at(test_dir_path("a.db"));
    assert_int_equal(subkey(db, k2, msg, sizeof msg), 0);
    assert_memory_equal(k1, k2, sizeof k1);
    assert_non_null(q_text(db, "SELECT value FROM meta WHERE key = 'key_check'"));
    store_close(db);
}

static void test_missing_foreign_open(void **state)
{
    (void)state;
    sqlite3 *a = db_open_at(test_dir_path("b.db"));
    sqlite3 *other = db_open_at(test_dir_path("c.db"));
    store_close(a);
    store_close(other);
    unsigned char k[STORE_SUBKEY_BYTES];
    char msg[2048];
    /* Missing: the store still opens (reading works), the key is refused. */
    assert_int_equal(rename(test_dir_path("b.db.key"), test_dir_path("b.key.saved")), 0);
    a = db_open_at(test_dir_path("b.db"));
    assert_int_equal(q_int(a, "SELECT count(*) FROM meta"), 3); /* secret, key check, keyed start */
    assert_int_equal(subkey(a, k, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "找不到数据库的密钥文件"));
    store_close(a);
    /* The key file did not come back by itself. */
    assert_int_equal(access(test_dir_path("b.db.key"), F_OK), -1);
    /* Another store's key: refused. */
    setenv("QLOOP_KEY_FILE", test_dir_path("c.db.key"), 1);
    a = db_open_at(test_dir_path("b.db"));
    assert_int_equal(subkey(a, k, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "不属于这个数据库"));
    store_close(a);
    unsetenv("QLOOP_KEY_FILE");
    /* Its own key, readable by others: refused with what to do. */
    assert_int_equal(rename(test_dir_path("b.key.saved"), test_dir_path("b.db.key")), 0);
    assert_int_equal(chmod(test_dir_path("b.db.key"), 0644), 0);
    a = db_open_at(test_dir_path("b.db"));
    assert_int_equal(subkey(a, k, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "chmod 600"));
    store_close(a);
    assert_int_equal(chmod(test_dir_path("b.db.key"), 0600), 0);
    a = db_open_at(test_dir_path("b.db"));
    assert_int_equal(subkey(a, k, msg, sizeof msg), 0);
    store_close(a);
    /* Garbage: refused, never used as a key. */
    FILE *f = fopen(test_dir_path("b.db.key"), "w");
    fputs("not a key\n", f);
    fclose(f);
    a = db_open_at(test_dir_path("b.db"));
    assert_int_equal(subkey(a, k, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "不是 qloop 密钥"));
    store_close(a);
}

static void test_adopted_and_upgraded(void **state)
{
    (void)state;
    /* A store from before key files (no key_check) gets one when opened. */
    sqlite3 *db = db_open_at(test_dir_path("d.db"));
    exec(db, "DELETE FROM meta WHERE key = 'key_check'");
    store_close(db);
    assert_int_equal(unlink(test_dir_path("d.db.key")), 0);
    db = db_open_at(test_dir_path("d.db"));
    assert_int_equal(access(test_dir_path("d.db.key"), R_OK), 0);
    unsigned char k[STORE_SUBKEY_BYTES];
    char msg[2048];
    assert_int_equal(subkey(db, k, msg, sizeof msg), 0);
    store_close(db);
    /* A key file already at the path of a new store is adopted. */
    assert_int_equal(rename(test_dir_path("d.db.key"), test_dir_path("e.db.key")), 0);
    db = db_open_at(test_dir_path("e.db"));
    unsigned char k2[STORE_SUBKEY_BYTES];
    assert_int_equal(subkey(db, k2, msg, sizeof msg), 0);
    assert_memory_equal(k, k2, sizeof k);
    store_close(db);
}

static void test_memory_store(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    unsigned char k[STORE_SUBKEY_BYTES];
    char msg[2048];
    assert_int_equal(subkey(db, k, msg, sizeof msg), 0);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_made_with_the_store),
        cmocka_unit_test(test_missing_foreign_open),
        cmocka_unit_test(test_adopted_and_upgraded),
        cmocka_unit_test(test_memory_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
