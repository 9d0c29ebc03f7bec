/*
 * test_sha256.c — SHA-256 against the NIST FIPS 180-4 example vectors,
 * HMAC-SHA-256 against RFC 4231 test cases 1–4, 6 and 7, streaming in odd
 * pieces against one-shot, and qloop_hex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/sha256.h"

/* Asserts that the digest of msg (len bytes) is the hex string want. */
static void check_digest(const void *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char hex[65];
    qloop_sha256(msg, len, d);
    qloop_hex(d, 32, hex);
    assert_string_equal(hex, want);
}

static void test_nist_empty(void **state)
{
    (void)state;
    check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_digest(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_nist_abc(void **state)
{
    (void)state;
    check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_nist_448(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m) * 8, 448);
    check_digest(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_nist_896(void **state)
{
    (void)state;
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_int_equal(strlen(m) * 8, 896);
    check_digest(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_nist_million_a(void **state)
{
    (void)state;
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *m = malloc(1000000);
    assert_non_null(m);
    memset(m, 'a', 1000000);
    check_digest(m, 1000000, want);

    /* The same million fed in 1000-byte pieces. */
    struct qloop_sha256 c;
    uint8_t d[32];
    char hex[65];
    qloop_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        qloop_sha256_update(&c, m + (size_t)i * 1000, 1000);
    qloop_sha256_final(&c, d);
    qloop_hex(d, 32, hex);
    assert_string_equal(hex, want);
    free(m);
}

/* Every message length around the padding boundaries (55, 56, 63, 64, ...)
 * fed in pieces of sizes 1, 3, 7, 13, 63, 64, 65 must equal the one-shot
 * digest; and the one-shot digest of a 55- and 56-byte message must equal
 * known values (one and two padding blocks). */
static void test_streaming_equals_oneshot(void **state)
{
    (void)state;
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    static const size_t pieces[] = {1, 3, 7, 13, 63, 64, 65};
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t one[32];
        qloop_sha256(msg, len, one);
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
            struct qloop_sha256 c;
            uint8_t d[32];
            qloop_sha256_init(&c);
            size_t off = 0;
            while (off < len) {
                size_t n = pieces[p] < len - off ? pieces[p] : len - off;
                qloop_sha256_update(&c, msg + off, n);
                qloop_sha256_update(&c, msg + off, 0); /* empty updates change nothing */
                off += n;
            }
            qloop_sha256_final(&c, d);
            assert_memory_equal(d, one, 32);
        }
    }
    char a55[56], a56[57];
    memset(a55, 'a', 55);
    memset(a56, 'a', 56);
    check_digest(a55, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check_digest(a56, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

/* Asserts HMAC-SHA-256(key, data) equals the hex string want. */
static void check_hmac(const void *key, size_t keylen, const void *data, size_t len,
                       const char *want)
{
    uint8_t d[32];
    char hex[65];
    qloop_hmac_sha256(key, keylen, data, len, d);
    qloop_hex(d, 32, hex);
    assert_string_equal(hex, want);
}

static void test_rfc4231(void **state)
{
    (void)state;
    uint8_t key[131], data[50];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2: a key shorter than the output */
    check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_hmac(key, 20, data, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    /* Test case 4 */
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    check_hmac(key, 25, data, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    /* Test case 6: a key larger than the block is hashed first */
    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(key, 131, m6, strlen(m6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* Test case 7: large key and large data */
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    check_hmac(key, 131, m7, strlen(m7),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    memset(out, 'x', sizeof out);
    qloop_hex(b, sizeof b, out);
    assert_string_equal(out, "00017f80abff");
    qloop_hex(b, 0, out);
    assert_string_equal(out, "");
}

/* qloop_unhex128 reads back what qloop_hex wrote, as two big-endian
 * numbers, and refuses anything else: upper case, other bytes, shorter or
 * longer texts. */
static void test_unhex128(void **state)
{
    (void)state;
    uint8_t b[16];
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)(i * 17 + 3);
    char hex[33];
    qloop_hex(b, 16, hex);
    uint64_t w[2];
    assert_true(qloop_unhex128(hex, w));
    assert_true(w[0] == 0x031425364758697aull && w[1] == 0x8b9cadbecfe0f102ull);
    char back[32]; /* qloop_hex128 writes what qloop_hex wrote */
    qloop_hex128(w, back);
    assert_memory_equal(back, hex, 32);
    assert_true(qloop_unhex128("0123456789abcdef0123456789abcdef", w));
    assert_true(w[0] == 0x0123456789abcdefull && w[1] == w[0]);
    assert_true(qloop_unhex128("ffffffffffffffffffffffffffffffff", w) && w[0] == UINT64_MAX);
    assert_false(qloop_unhex128("0123456789ABCDEF0123456789abcdef", w));
    assert_false(qloop_unhex128("0123456789abcdeg0123456789abcdef", w));
    assert_false(qloop_unhex128("0123456789abcdef0123456789abcde", w));
    assert_false(qloop_unhex128("0123456789abcdef0123456789abcdef0", w));
    assert_false(qloop_unhex128("", w));
    assert_false(qloop_unhex128("0123456789abcdef 123456789abcdef", w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_empty),
        cmocka_unit_test(test_nist_abc),
        cmocka_unit_test(test_nist_448),
        cmocka_unit_test(test_nist_896),
        cmocka_unit_test(test_nist_million_a),
        cmocka_unit_test(test_streaming_equals_oneshot),
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_unhex128),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
