/*
 * test_seal_nonce.c — the seal's derived nonce (engine/identity/seal_nonce.c):
 * the own BLAKE2b path, which starts from the key block compressed once,
 * gives libsodium's crypto_generichash bytes for every framed length from
 * one block to past four (the own buffer's end, where libsodium's path
 * takes over), with parts absent, empty and of any bytes; and when the
 * self-check at seal_nonce_key_set fails, every nonce comes from libsodium's
 * path, still the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "identity/seal_nonce.h"

/* A deterministic byte stream (xorshift64*), any byte value. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned char next_byte(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned char)((rng_state * 0x2545f4914f6cdd1dULL) >> 56);
}

/* One framed part as seal.h states it, hashed into h: a byte saying
 * whether the part is there, then (if so) its 8-byte big-endian length and
 * its bytes. */
static void framed(crypto_generichash_state *h, const void *p, size_t n, bool present)
{
    unsigned char head[9] = {present};
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    crypto_generichash_update(h, head, present ? sizeof head : 1);
    if (present && n)
        crypto_generichash_update(h, p, n);
}

/* The nonce seal.h describes, straight from libsodium: keyed BLAKE2b, 24
 * bytes out, over the domain part and the five parts. */
static void described(const unsigned char key[32], const struct seal_nonce_input *in,
                      unsigned char out[24])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, key, 32, 24);
    framed(&h, "qloop seal nonce 1", 18, true);
    for (int i = 0; i < SEAL_NONCE_PARTS; i++)
        framed(&h, in->part[i], in->len[i], in->part[i] != NULL);
    crypto_generichash_final(&h, out, 24);
}

/* The nonce of in by seal_nonce, by seal_nonce_reference and as described
 * agree. */
static void agrees(const struct seal_nonce_key *k, const struct seal_nonce_input *in)
{
    unsigned char a[24], b[24], c[24];
    seal_nonce(k, in, a);
    seal_nonce_reference(k, in, b);
    described(k->key, in, c);
    assert_memory_equal(a, c, 24);
    assert_memory_equal(b, c, 24);
}

/* The key of test number i. */
static void test_key(unsigned char key[32], int i)
{
    for (int j = 0; j < 32; j++)
        key[j] = (unsigned char)(i * 31 + j * 7 + 1);
}

/* Framed lengths from 72 bytes to past the own buffer (512), every absent / empty /
 * present combination of field and value, several keys: the own path (the
 * self-check passed) gives libsodium's bytes. */
static void own_path_is_libsodium(void **state)
{
    (void)state;
    static unsigned char bytes[5][700];
    for (int p = 0; p < 5; p++)
        for (size_t i = 0; i < sizeof bytes[p]; i++)
            bytes[p][i] = next_byte();
    for (int key_no = 0; key_no < 3; key_no++) {
        unsigned char key[32];
        test_key(key, key_no);
        struct seal_nonce_key k;
        seal_nonce_key_set(&k, key);
        assert_true(k.own);
        for (int shape = 0; shape < 9; shape++) { /* field, value: absent, empty, present */
            for (size_t vlen = 0; vlen <= 520; vlen++) {
                int f = shape / 3, v = shape % 3;
                if (v < 2 && vlen > 0)
                    break;
                struct seal_nonce_input in = {
                    .part = {bytes[0], bytes[1], f ? bytes[2] : NULL, bytes[3], v ? bytes[4] : NULL},
                    .len = {3 + (size_t)key_no, 32, f == 2 ? 9 : 0, 18, v == 2 ? vlen : 0},
                };
                agrees(&k, &in);
            }
        }
        /* the dataset, record_ref and key empty, or each long on its own */
        for (int p = 0; p < 5; p++)
            for (size_t n = 0; n <= 600; n += 7) {
                struct seal_nonce_input in = {.part = {bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]},
                                              .len = {0, 0, 0, 0, 0}};
                in.len[p] = n;
                agrees(&k, &in);
            }
        sodium_memzero(&k, sizeof k);
    }
}

/* A self-check that fails (the test hook flips a bit of the own path's
 * nonce) leaves the own path off: every nonce is libsodium's, the same
 * bytes; with the hook off again, a key set anew is back on the own path. */
static void failed_self_check_falls_back(void **state)
{
    (void)state;
    unsigned char key[32];
    test_key(key, 9);
    seal_nonce_test_fault = 1;
    struct seal_nonce_key k;
    seal_nonce_key_set(&k, key);
    seal_nonce_test_fault = 0;
    assert_false(k.own);
    const char value[] = "13800138000";
    for (size_t n = 0; n <= sizeof value - 1; n++) {
        struct seal_nonce_input in = {.part = {"pop", "0123456789abcdef0123456789abcdef", "phone",
                                               "330110199001011233", value},
                                      .len = {3, 32, 5, 18, n}};
        agrees(&k, &in);
    }
    seal_nonce_key_set(&k, key);
    assert_true(k.own);
}

/* Two keys give two nonces for one input; one input changed in one byte of
 * any part gives another nonce. */
static void nonce_depends_on_all(void **state)
{
    (void)state;
    unsigned char key[32], other[32];
    test_key(key, 1);
    test_key(other, 2);
    struct seal_nonce_key k, l;
    seal_nonce_key_set(&k, key);
    seal_nonce_key_set(&l, other);
    char part[5][20] = {"pop", "0123456789abcdef", "phone", "330110199001011233", "13800138000"};
    struct seal_nonce_input in = {.part = {part[0], part[1], part[2], part[3], part[4]},
                                  .len = {3, 16, 5, 18, 11}};
    unsigned char a[24], b[24];
    seal_nonce(&k, &in, a);
    seal_nonce(&l, &in, b);
    assert_memory_not_equal(a, b, 24);
    for (int p = 0; p < 5; p++) {
        part[p][0] ^= 1;
        seal_nonce(&k, &in, b);
        assert_memory_not_equal(a, b, 24);
        part[p][0] ^= 1;
    }
    seal_nonce(&k, &in, b);
    assert_memory_equal(a, b, 24);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_path_is_libsodium),
        cmocka_unit_test(failed_self_check_falls_back),
        cmocka_unit_test(nonce_depends_on_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
