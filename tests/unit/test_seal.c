/*
 * test_seal.c — sealing a record's raw key and value with the store's key
 * (engine/identity/seal.c): what is sealed opens to the same bytes; it opens
 * only for the same record (dataset, record_ref, field), only unaltered and
 * only with the same store's key; a store without its key file cannot seal.
 * The nonce is derived (seal.h): the same record, key and value seal to the
 * same bytes, anything different to another nonce, and blobs sealed under a
 * random nonce, as before, still open. A sealer whose nonce self-check
 * failed (libsodium's path) seals to the same bytes.
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

#include <sodium.h>

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
    /* Two seals of the same record are the same bytes (a derived nonce),
     * from another sealer of the same store too. */
    struct qloop_buf again = {0};
    ident_seal(&s, "d", "r", "f", &in, &blob);
    ident_seal(&s, "d", "r", "f", &in, &again);
    assert_int_equal(blob.len, again.len);
    assert_memory_equal(blob.ptr, again.ptr, blob.len);
    struct ident_sealer s2;
    assert_int_equal(ident_sealer_open(db, &s2, &err), 0);
    ident_seal(&s2, "d", "r", "f", &in, &again);
    assert_int_equal(blob.len, again.len);
    assert_memory_equal(blob.ptr, again.ptr, blob.len);
    ident_sealer_close(&s2);
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

/* The nonce of blob b (bytes 1..24). */
#define NONCE_OF(b) ((const unsigned char *)(b).ptr + 1)

/* One part of the nonce's input as seal.h states it: a byte saying whether
 * the part is there, then (if so) its 8-byte big-endian length and bytes. */
static void framed(crypto_generichash_state *h, const char *p, size_t n, bool present)
{
    unsigned char head[9] = {present};
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    crypto_generichash_update(h, head, present ? sizeof head : 1);
    if (present && n)
        crypto_generichash_update(h, (const unsigned char *)p, n);
}

/* The nonce seal.h describes, computed here from the records key alone:
 * BLAKE2b, 24 bytes, keyed by crypto_kdf subkey 1 of context "qlsealnc",
 * over the domain, dataset, record_ref, field, raw key and raw value. */
static void expected_nonce(const unsigned char key[32], const char *dataset, const char *ref,
                           const char *field, const struct ident_record *r, unsigned char out[24])
{
    unsigned char nk[32];
    assert_int_equal(crypto_kdf_derive_from_key(nk, sizeof nk, 1, "qlsealnc", key), 0);
    crypto_generichash_state h;
    crypto_generichash_init(&h, nk, sizeof nk, 24);
    framed(&h, "qloop seal nonce 1", 18, true);
    framed(&h, dataset, strlen(dataset), true);
    framed(&h, ref, strlen(ref), true);
    framed(&h, field, field ? strlen(field) : 0, field != NULL);
    framed(&h, r->key, r->keylen, true);
    framed(&h, r->value, r->value ? r->vlen : 0, r->value != NULL);
    crypto_generichash_final(&h, out, 24);
}

/* A seal differing from another in any one of dataset, record_ref, field
 * (another, or absent), raw key, having a value, raw value has another
 * nonce; each opens to its own. */
static void nonce_per_input(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct ident_sealer s;
    assert_int_equal(ident_sealer_open(db, &s, &err), 0);
    struct {
        const char *dataset, *ref, *field;
        struct ident_record r;
    } v[] = {
        {"people", "ref1", "phone", {"330110199001011233", 18, "13800138000", 11}},
        {"firms", "ref1", "phone", {"330110199001011233", 18, "13800138000", 11}},
        {"people", "ref2", "phone", {"330110199001011233", 18, "13800138000", 11}},
        {"people", "ref1", "name", {"330110199001011233", 18, "13800138000", 11}},
        {"people", "ref1", NULL, {"330110199001011233", 18, "13800138000", 11}},
        {"people", "ref1", "", {"330110199001011233", 18, "13800138000", 11}},
        {"people", "ref1", "phone", {"330110199001011234", 18, "13800138000", 11}},
        {"people", "ref1", "phone", {"330110199001011233", 18, "13800138001", 11}},
        {"people", "ref1", "phone", {"330110199001011233", 18, "1380013800", 10}},
        {"people", "ref1", "phone", {"330110199001011233", 18, "", 0}},
        {"people", "ref1", "phone", {"330110199001011233", 18, NULL, 0}},
        /* the same bytes split differently between the parts */
        {"people", "ref1", "phone", {"3301101990010112331", 19, "3800138000", 10}},
        {"peopler", "ef1", "phone", {"330110199001011233", 18, "13800138000", 11}},
    };
    enum { N = sizeof v / sizeof v[0] };
    struct qloop_buf blob[N] = {{0}}, plain = {0};
    struct ident_record out;
    for (size_t i = 0; i < N; i++) {
        ident_seal(&s, v[i].dataset, v[i].ref, v[i].field, &v[i].r, &blob[i]);
        assert_int_equal(ident_unseal(&s, v[i].dataset, v[i].ref, v[i].field, blob[i].ptr,
                                      blob[i].len, &plain, &out, &err),
                         0);
        assert_int_equal(out.keylen, v[i].r.keylen);
        assert_memory_equal(out.key, v[i].r.key, out.keylen);
        assert_int_equal(out.value != NULL, v[i].r.value != NULL);
        if (out.value)
            assert_string_equal(out.value, v[i].r.value);
        for (size_t k = 0; k < i; k++)
            if (memcmp(NONCE_OF(blob[i]), NONCE_OF(blob[k]), 24) == 0)
                fail_msg("seals %zu and %zu share a nonce", k, i);
    }
    /* The same seal under another store's key: another nonce, and it does
     * not open with this one's. */
    sqlite3 *other = db_open();
    struct ident_sealer t;
    struct qloop_buf theirs = {0};
    assert_int_equal(ident_sealer_open(other, &t, &err), 0);
    ident_seal(&t, v[0].dataset, v[0].ref, v[0].field, &v[0].r, &theirs);
    assert_memory_not_equal(NONCE_OF(theirs), NONCE_OF(blob[0]), 24);
    assert_int_equal(ident_unseal(&s, v[0].dataset, v[0].ref, v[0].field, theirs.ptr, theirs.len,
                                  &plain, &out, &err),
                     -1);
    /* each nonce is the keyed BLAKE2b seal.h describes (the sealer starts
     * every one from a copy of its precomputed state), under a key of its
     * own derived from the records key, not under that key itself */
    for (size_t i = 0; i < N; i++) {
        unsigned char want[24];
        expected_nonce(s.key, v[i].dataset, v[i].ref, v[i].field, &v[i].r, want);
        assert_memory_equal(NONCE_OF(blob[i]), want, 24);
    }
    /* a record whose parts do not fit the sealer's stack buffer is hashed
     * part by part: the same nonce as the description */
    char longvalue[700];
    memset(longvalue, 'v', sizeof longvalue);
    struct ident_record big = {"330110199001011233", 18, longvalue, sizeof longvalue};
    struct qloop_buf bigblob = {0};
    ident_seal(&s, "people", "ref1", "address", &big, &bigblob);
    unsigned char want[24];
    expected_nonce(s.key, "people", "ref1", "address", &big, want);
    assert_memory_equal(NONCE_OF(bigblob), want, 24);
    qloop_buf_free(&bigblob);
    ident_sealer_close(&t);
    store_close(other);
    qloop_buf_free(&theirs);
    for (size_t i = 0; i < N; i++)
        qloop_buf_free(&blob[i]);
    qloop_buf_free(&plain);
    ident_sealer_close(&s);
    store_close(db);
}

/* A blob sealed the way of before — a random nonce (a per-sealer prefix
 * and a counter) — opens as ever for its record, not for another, and not
 * under another store's key. */
static void random_nonce_blob_opens(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct ident_sealer s;
    assert_int_equal(ident_sealer_open(db, &s, &err), 0);
    const char key[] = "330110199001011233", value[] = "马小明";
    size_t klen = strlen(key), vlen = strlen(value), plen = 4 + klen + 1 + vlen;
    unsigned char p[64], b[128];
    p[0] = p[1] = p[2] = 0;
    p[3] = (unsigned char)klen;
    memcpy(p + 4, key, klen);
    p[4 + klen] = 1;
    memcpy(p + 5 + klen, value, vlen);
    const char ad[] = "people\0ref1\0name"; /* each NUL-ended: sizeof includes the last */
    b[0] = 1;
    randombytes_buf(b + 1, 24);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(b + 25, &clen, p, plen, (const unsigned char *)ad,
                                               sizeof ad, NULL, b + 1, s.key);
    size_t len = 25 + (size_t)clen;
    struct qloop_buf plain = {0};
    struct ident_record out;
    assert_int_equal(ident_unseal(&s, "people", "ref1", "name", b, len, &plain, &out, &err), 0);
    assert_string_equal(out.key, key);
    assert_string_equal(out.value, value);
    /* sealed again now: the same plaintext, another (derived) nonce */
    struct qloop_buf now = {0};
    struct ident_record in = {key, klen, value, vlen};
    ident_seal(&s, "people", "ref1", "name", &in, &now);
    assert_int_equal(now.len, len);
    assert_memory_not_equal(now.ptr + 1, b + 1, 24);
    assert_int_equal(ident_unseal(&s, "people", "ref2", "name", b, len, &plain, &out, &err), -1);
    sqlite3 *other = db_open();
    struct ident_sealer t;
    assert_int_equal(ident_sealer_open(other, &t, &err), 0);
    assert_int_equal(ident_unseal(&t, "people", "ref1", "name", b, len, &plain, &out, &err), -1);
    ident_sealer_close(&t);
    store_close(other);
    qloop_buf_free(&now);
    ident_plain_free(&plain);
    ident_sealer_close(&s);
    store_close(db);
}

/* A sealer whose nonce self-check failed (seal_nonce.h's test hook) takes
 * libsodium's path for every nonce and seals to the same bytes as one on
 * the own path: short and long records, field and value absent. */
static void fallback_seals_the_same(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct ident_sealer s, slow;
    assert_int_equal(ident_sealer_open(db, &s, &err), 0);
    assert_true(s.nonce.own);
    seal_nonce_test_fault = 1;
    assert_int_equal(ident_sealer_open(db, &slow, &err), 0);
    seal_nonce_test_fault = 0;
    assert_false(slow.nonce.own);
    static char longvalue[900];
    memset(longvalue, 'v', sizeof longvalue);
    struct {
        const char *field;
        struct ident_record r;
    } v[] = {
        {"phone", {"330110199001011233", 18, "13800138000", 11}},
        {NULL, {"330110199001011233", 18, NULL, 0}},
        {"name", {"", 0, "", 0}},
        {"address", {"330110199001011233", 18, longvalue, sizeof longvalue}},
        {"address", {"330110199001011233", 18, longvalue, 300}},
    };
    struct qloop_buf a = {0}, b = {0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ident_seal(&s, "people", "0123456789abcdef0123456789abcdef", v[i].field, &v[i].r, &a);
        ident_seal(&slow, "people", "0123456789abcdef0123456789abcdef", v[i].field, &v[i].r, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.ptr, b.ptr, a.len);
    }
    qloop_buf_free(&a);
    qloop_buf_free(&b);
    ident_sealer_close(&slow);
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
        cmocka_unit_test(nonce_per_input),
        cmocka_unit_test(random_nonce_blob_opens),
        cmocka_unit_test(fallback_seals_the_same),
        cmocka_unit_test(key_file_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
