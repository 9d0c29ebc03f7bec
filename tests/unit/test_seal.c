/*
 * test_seal.c — sealing a record's raw key and value with the store's key
 * (engine/identity/seal.c): what is sealed opens to the same bytes; it opens
 * only for the same record (dataset, record_ref, field), only unaltered and
 * only with the same store's key; a store without its key file cannot seal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "identity/seal.h"
#include "store_helpers.h"

static struct qloop_error err;

static sqlite3 *db_open_path(const char *path)
{
    struct qloop_error e;
    qloop_error_clear(&e);
    sqlite3 *db = store_open(path, &e);
    if (!db)
        fail_msg("store_open %s: %s", path, e.message);
    return db;
}

/* Whether needle occurs in the n bytes at p. */
static bool contains(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

static void round_trip(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct ident_sealer s;
    assert_int_equal(ident_sealer_open(db, &s, &err), 0);
    struct qloop_buf blob = {0}, plain = {0};
    struct ident_record in = {"330110199001011233", 18, "马小明", strlen("马小明")}, out;
    ident_seal(&s, "people", "0123456789abcdef0123456789abcdef", "name", &in, &blob);
    assert_int_equal(blob.len, 1 + 24 + 4 + 18 + 1 + strlen("马小明") + 16);
    assert_false(contains(blob.ptr, blob.len, "330110"));
    assert_int_equal(ident_unseal(&s, "people", "0123456789abcdef0123456789abcdef", "name", blob.ptr,
                                  blob.len, &plain, &out, &err),
                     0);
    assert_string_equal(out.key, "330110199001011233");
    assert_int_equal(out.keylen, 18);
    assert_string_equal(out.value, "马小明");

    /* No value, an empty value, an empty key; an identity longer than the
     * stack buffer. */
    struct ident_record none = {"k1", 2, NULL, 0}, empty = {"", 0, "", 0};
    ident_seal(&s, "d", "r", NULL, &none, &blob);
    assert_int_equal(ident_unseal(&s, "d", "r", NULL, blob.ptr, blob.len, &plain, &out, &err), 0);
    assert_string_equal(out.key, "k1");
    assert_null(out.value);
    ident_seal(&s, "d", "r", "f", &empty, &blob);
    assert_int_equal(ident_unseal(&s, "d", "r", "f", blob.ptr, blob.len, &plain, &out, &err), 0);
    assert_string_equal(out.key, "");
    assert_non_null(out.value);
    assert_string_equal(out.value, "");
    char longname[2000];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ident_seal(&s, longname, "r", "f", &in, &blob);
    assert_int_equal(ident_unseal(&s, longname, "r", "f", blob.ptr, blob.len, &plain, &out, &err), 0);
    assert_string_equal(out.key, "330110199001011233");
    /* Two seals of the same record differ (fresh nonces). */
    struct qloop_buf again = {0};
    ident_seal(&s, "d", "r", "f", &in, &blob);
    ident_seal(&s, "d", "r", "f", &in, &again);
    assert_int_equal(blob.len, again.len);
    assert_memory_not_equal(blob.ptr, again.ptr, blob.len);
    qloop_buf_free(&again);
    qloop_buf_free(&blob);
    qloop_buf_free(&plain);
    ident_sealer_close(&s);
    store_close(db);
}

static void opens_only_for_its_record(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct ident_sealer s;
    assert_int_equal(ident_sealer_open(db, &s, &err), 0);
    struct qloop_buf blob = {0}, plain = {0};
    struct ident_record in = {"330110199001011233", 18, "13800138000", 11}, out;
    ident_seal(&s, "people", "ref1", "phone", &in, &blob);
    /* Moved to another record, field or dataset: refused. */
    assert_int_equal(ident_unseal(&s, "people", "ref2", "phone", blob.ptr, blob.len, &plain, &out, &err), -1);
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    assert_int_equal(ident_unseal(&s, "people", "ref1", "name", blob.ptr, blob.len, &plain, &out, &err), -1);
    assert_int_equal(ident_unseal(&s, "firms", "ref1", "phone", blob.ptr, blob.len, &plain, &out, &err), -1);
    /* Any byte changed: refused. */
    for (size_t i = 0; i < blob.len; i++) {
        blob.ptr[i] ^= 0x01;
        assert_int_equal(ident_unseal(&s, "people", "ref1", "phone", blob.ptr, blob.len, &plain, &out, &err), -1);
        blob.ptr[i] ^= 0x01;
    }
    assert_int_equal(ident_unseal(&s, "people", "ref1", "phone", blob.ptr, blob.len - 1, &plain, &out, &err), -1);
    assert_int_equal(ident_unseal(&s, "people", "ref1", "phone", blob.ptr, 3, &plain, &out, &err), -1);
    assert_int_equal(ident_unseal(&s, "people", "ref1", "phone", NULL, 0, &plain, &out, &err), -1);
    assert_int_equal(ident_unseal(&s, "people", "ref1", "phone", blob.ptr, blob.len, &plain, &out, &err), 0);
    /* Another store's key: refused, never garbage. */
    sqlite3 *other = db_open();
    struct ident_sealer t;
    assert_int_equal(ident_sealer_open(other, &t, &err), 0);
    assert_int_equal(ident_unseal(&t, "people", "ref1", "phone", blob.ptr, blob.len, &plain, &out, &err), -1);
    assert_non_null(strstr(err.message, "无法解开"));
    ident_sealer_close(&t);
    store_close(other);
    qloop_buf_free(&blob);
    qloop_buf_free(&plain);
    ident_sealer_close(&s);
    store_close(db);
}

/* A store whose key file is gone cannot seal or open (exit 2, naming it). */
static void key_file_missing(void **state)
{
    (void)state;
    char path[] = "/tmp/qloop-seal-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    unsetenv("QLOOP_KEY_FILE");
    sqlite3 *db = db_open_path(path);
    store_close(db);
    char key[600];
    snprintf(key, sizeof key, "%s.key", path);
    assert_int_equal(unlink(key), 0);
    db = db_open_path(path);
    struct ident_sealer s;
    assert_int_equal(ident_sealer_open(db, &s, &err), -1);
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INPUT);
    assert_non_null(strstr(err.message, "密钥文件"));
    store_close(db);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(opens_only_for_its_record),
        cmocka_unit_test(key_file_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
