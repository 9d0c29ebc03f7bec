/*
 * test_memo.c — the pure parts of the verdict memo (engine/run/memo.c): a
 * row's fingerprint (base/siphash.h: its SipHash-2-4 equals libsodium's
 * crypto_shorthash at every length around the word boundaries) changes
 * when any cell changes (an empty value and a missing one differ, so do
 * rows of other widths, and the key matters) and is NH then SipHash-1-3
 * over the documented layout (against a reference written apart, rows over
 * several of NH's blocks); a chunk reads back what was added (fingerprints,
 * verdicts 2 bits a slot, reasons, slots without a row) and bytes that are
 * not a chunk, or a chunk of the earlier layout, are refused; a sealed
 * chunk holds no plain text and opens only with its key, dataset, chunk and
 * environment; the environment changes with the columns, a rule file's
 * bytes, the divisions table and the calendar, so a memo kept under
 * another one is not reused.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "base/siphash.h"
#include "checks/calendar.h"
#include "checks/division.h"
#include "run/memo.h"

static const unsigned char SUBKEY[32] = {1, 2, 3};

static struct qloop_field cell(const char *s)
{
    return s ? (struct qloop_field){s, strlen(s), 0} : (struct qloop_field){"", 0, 1};
}

static void test_fingerprint(void **state)
{
    (void)state;
    unsigned char key[MEMO_FP_KEY_BYTES], key2[MEMO_FP_KEY_BYTES];
    unsigned char other[32] = {9};
    memo_fp_key(SUBKEY, key);
    memo_fp_key(other, key2);
    assert_memory_not_equal(key, key2, sizeof key);
    struct qloop_buf scratch = {0};
    struct qloop_field row[4] = {cell("110105"), cell("张三"), cell(""), cell(NULL)};
    uint64_t base = memo_row_fp(key, row, 4, &scratch);
    assert_int_equal(base, memo_row_fp(key, row, 4, &scratch)); /* stable */
    assert_int_not_equal(base, memo_row_fp(key2, row, 4, &scratch));
    assert_int_not_equal(base, memo_row_fp(key, row, 3, &scratch)); /* width */
    const char *changes[] = {"110106", "张四", " ", "x"};
    for (size_t c = 0; c < 4; c++) {
        struct qloop_field r2[4];
        memcpy(r2, row, sizeof r2);
        r2[c] = cell(changes[c]);
        assert_int_not_equal(base, memo_row_fp(key, r2, 4, &scratch));
    }
    /* empty vs missing, both ways */
    struct qloop_field r3[4];
    memcpy(r3, row, sizeof r3);
    r3[2] = cell(NULL);
    assert_int_not_equal(base, memo_row_fp(key, r3, 4, &scratch));
    memcpy(r3, row, sizeof r3);
    r3[3] = cell("");
    assert_int_not_equal(base, memo_row_fp(key, r3, 4, &scratch));
    /* a boundary moved between cells */
    struct qloop_field a[2] = {cell("ab"), cell("c")}, b[2] = {cell("a"), cell("bc")};
    assert_int_not_equal(memo_row_fp(key, a, 2, &scratch), memo_row_fp(key, b, 2, &scratch));
    qloop_buf_free(&scratch);
}

/* qloop_siphash with 2 and 4 rounds is libsodium's SipHash-2-4 at every
 * length from 0 to 80 bytes (all tail lengths, several words), and the
 * fingerprint is its 1-3 over the documented layout (memo.h). */
static void test_siphash(void **state)
{
    (void)state;
    unsigned char key[MEMO_FP_KEY_BYTES], data[80];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 7 + 3);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 31 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        unsigned char h[crypto_shorthash_BYTES];
        crypto_shorthash(h, data, len, key);
        uint64_t want = 0;
        for (int i = 0; i < 8; i++)
            want |= (uint64_t)h[i] << (8 * i);
        assert_true(qloop_siphash(key, data, len, 2, 4) == want);
        assert_true(qloop_siphash(key, data, len, 1, 3) != want);
    }
}

/* The little-endian word of the 8 bytes at p. */
static uint64_t le_word(const unsigned char *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = w << 8 | p[i];
    return w;
}

/* a * b added to the 128-bit (hi, lo), schoolbook on 32-bit halves. */
static void add_product(uint64_t *hi, uint64_t *lo, uint64_t a, uint64_t b)
{
    uint64_t h[4] = {a & 0xffffffffu, a >> 32, b & 0xffffffffu, b >> 32};
    uint64_t p00 = h[0] * h[2], p01 = h[0] * h[3], p10 = h[1] * h[2], p11 = h[1] * h[3];
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    uint64_t l = (p00 & 0xffffffffu) | mid << 32, hh = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    *lo += l;
    *hi += hh + (*lo < l);
}

/* The fingerprint as memo.h documents it, from the laid-out row
 * layout[0..len): written apart from memo.c's, word by word. */
static uint64_t reference_fp(const unsigned char key[MEMO_FP_KEY_BYTES], const unsigned char *layout,
                             size_t len)
{
    size_t padded = (len + 15) / 16 * 16;
    unsigned char *z = calloc(1, padded + 1);
    memcpy(z, layout, len);
    /* the words SipHash-1-3 takes: each block's (low, high), then len */
    size_t nblocks = (padded + MEMO_NH_KEY_BYTES - 1) / MEMO_NH_KEY_BYTES, nw = 0;
    unsigned char *words = calloc(2 * nblocks + 1, 8);
    for (size_t blk = 0; blk < nblocks; blk++) {
        uint64_t hi = 0, lo = 0;
        for (size_t i = 0; blk * MEMO_NH_KEY_BYTES + i < padded && i < MEMO_NH_KEY_BYTES; i += 16) {
            const unsigned char *m = z + blk * MEMO_NH_KEY_BYTES + i, *k = key + 16 + i;
            add_product(&hi, &lo, le_word(m) + le_word(k), le_word(m + 8) + le_word(k + 8));
        }
        for (int b = 0; b < 8; b++)
            words[8 * nw + b] = (unsigned char)(lo >> (8 * b));
        nw++;
        for (int b = 0; b < 8; b++)
            words[8 * nw + b] = (unsigned char)(hi >> (8 * b));
        nw++;
    }
    for (int b = 0; b < 8; b++)
        words[8 * nw + b] = (unsigned char)((uint64_t)len >> (8 * b));
    nw++;
    /* SipHash-1-3 of those words without its own length word: its
     * compression rounds by hand (qloop_siphash appends one) */
    uint64_t k0 = le_word(key), k1 = le_word(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    for (size_t i = 0; i < nw; i++) {
        uint64_t m = le_word(words + 8 * i);
        v[3] ^= m;
        qloop_sipround(v);
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for (int r = 0; r < 3; r++)
        qloop_sipround(v);
    free(z);
    free(words);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The fingerprint is NH then SipHash-1-3 over the documented layout
 * (memo.h), for a short row and for rows over one, two and more of NH's
 * blocks at every padding; any byte changed in a long row changes it. */
static void test_fingerprint_layout(void **state)
{
    (void)state;
    unsigned char key[MEMO_FP_KEY_BYTES];
    memo_fp_key(SUBKEY, key);
    /* ncols 2; "ab" (length 2); missing (0xFFFFFFFF) */
    const unsigned char layout[] = {2, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 0xff, 0xff, 0xff, 0xff};
    struct qloop_field row[2] = {cell("ab"), cell(NULL)};
    struct qloop_buf scratch = {0};
    assert_true(memo_row_fp(key, row, 2, &scratch) == reference_fp(key, layout, sizeof layout));
    assert_true(memo_row_fp(key, row, 2, &scratch) != qloop_siphash(key, layout, sizeof layout, 1, 3));
    /* one cell of n bytes: layout 1, n, the bytes */
    size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, MEMO_NH_KEY_BYTES - 9, MEMO_NH_KEY_BYTES - 8,
                      MEMO_NH_KEY_BYTES - 7, MEMO_NH_KEY_BYTES, 2 * MEMO_NH_KEY_BYTES + 5, 5000};
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        size_t n = sizes[t];
        unsigned char *lay = malloc(8 + n + 1);
        char *text = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)('a' + (i * 13) % 26);
        text[n] = '\0';
        lay[0] = 1, lay[1] = lay[2] = lay[3] = 0;
        for (int b = 0; b < 4; b++)
            lay[4 + b] = (unsigned char)(n >> (8 * b));
        memcpy(lay + 8, text, n);
        struct qloop_field c1 = {text, n, 0};
        uint64_t fp = memo_row_fp(key, &c1, 1, &scratch);
        assert_true(fp == reference_fp(key, lay, 8 + n));
        for (size_t at = 0; at < n; at += 97) { /* a byte changed anywhere */
            text[at] ^= 1;
            assert_true(memo_row_fp(key, &c1, 1, &scratch) != fp);
            text[at] ^= 1;
        }
        if (n > 0) { /* one byte shorter, or a zero byte longer */
            c1.len = n - 1;
            assert_true(memo_row_fp(key, &c1, 1, &scratch) != fp);
        }
        free(lay);
        free(text);
    }
    qloop_buf_free(&scratch);
}

/* e's verdicts of nslots slots equal v[0..nslots). */
static void assert_verdicts(const uint8_t *e, const uint8_t *v, size_t nslots)
{
    for (size_t k = 0; k < nslots; k++)
        assert_int_equal(memo_entry_verdict(e, k), v[k]);
}

static void test_chunk(void **state)
{
    (void)state;
    struct qloop_buf out = {0};
    uint32_t last = 0;
    memo_chunk_start(&out, 3);
    const uint8_t v0[3] = {MEMO_PASS, MEMO_FAIL_REASON, MEMO_NONE};
    const char *r0[3] = {NULL, "出生日期不符", NULL};
    memo_chunk_add(&out, &last, 0, 0x0102030405060708ull, v0, r0, 3);
    const uint8_t v1[3] = {MEMO_FAIL_REASON, MEMO_FAIL, MEMO_FAIL_REASON};
    const char *r1[3] = {"a", NULL, ""};
    memo_chunk_add(&out, &last, 5, UINT64_MAX, v1, r1, 3);
    const uint8_t v2[3] = {MEMO_PASS, MEMO_PASS, MEMO_PASS};
    memo_chunk_add(&out, &last, MEMO_CHUNK_ROWS - 1, 7, v2, r0, 3);

    struct memo_chunk c;
    assert_int_equal(memo_chunk_read(&c, out.ptr, out.len, 3), 0);
    assert_int_equal(c.len, out.len);
    const uint8_t *e = memo_chunk_row(&c, 0);
    assert_non_null(e);
    assert_true(memo_entry_fp(e) == 0x0102030405060708ull);
    assert_verdicts(e, v0, 3);
    assert_string_equal(memo_entry_reason(e, 3, 1), "出生日期不符");
    e = memo_chunk_row(&c, 5);
    assert_non_null(e);
    assert_true(memo_entry_fp(e) == UINT64_MAX);
    assert_verdicts(e, v1, 3);
    assert_string_equal(memo_entry_reason(e, 3, 0), "a");
    assert_string_equal(memo_entry_reason(e, 3, 2), "");
    e = memo_chunk_row(&c, MEMO_CHUNK_ROWS - 1);
    assert_non_null(e);
    assert_true(memo_entry_fp(e) == 7);
    for (uint32_t s = 1; s < 5; s++)
        assert_null(memo_chunk_row(&c, s));
    assert_null(memo_chunk_row(&c, 6));
    memo_chunk_free(&c);

    /* another number of slots, cut bytes, a bad verdict: refused */
    assert_int_equal(memo_chunk_read(&c, out.ptr, out.len, 2), -1);
    for (size_t cut = 1; cut < out.len; cut += 7)
        if (memo_chunk_read(&c, out.ptr, out.len - cut, 3) == 0) {
            /* a cut at a row's end is a shorter chunk: the last row is gone */
            assert_null(memo_chunk_row(&c, MEMO_CHUNK_ROWS - 1));
            memo_chunk_free(&c);
        }
    char *bad = malloc(out.len);
    memcpy(bad, out.ptr, out.len);
    bad[out.len - 2] |= (char)0x40; /* the last row's verdicts: a bit past its 3 slots */
    assert_int_equal(memo_chunk_read(&c, bad, out.len, 3), -1);
    free(bad);

    /* taken without a copy: the same rows, the buffer's memory now the
     * chunk's; refused bytes leave the buffer as it was */
    struct qloop_buf taken = {0};
    qloop_buf_append(&taken, out.ptr, out.len);
    assert_int_equal(memo_chunk_take(&c, &taken, 2), -1);
    assert_non_null(taken.ptr);
    assert_int_equal(taken.len, out.len);
    char *mem = taken.ptr;
    assert_int_equal(memo_chunk_take(&c, &taken, 3), 0);
    assert_null(taken.ptr);
    assert_int_equal(taken.len, 0);
    assert_ptr_equal(c.data, mem);
    assert_int_equal(c.len, out.len);
    assert_string_equal(memo_entry_reason(memo_chunk_row(&c, 0), 3, 1), "出生日期不符");
    assert_string_equal(memo_entry_reason(memo_chunk_row(&c, 5), 3, 0), "a");
    assert_true(memo_entry_fp(memo_chunk_row(&c, MEMO_CHUNK_ROWS - 1)) == 7);
    assert_null(memo_chunk_row(&c, 6));
    memo_chunk_free(&c);
    assert_int_equal(memo_chunk_take(&c, &taken, 3), -1); /* nothing to take */

    /* an over-long reason is kept as not kept */
    char *longr = malloc(70000);
    memset(longr, 'x', 69999);
    longr[69999] = '\0';
    const uint8_t vl[1] = {MEMO_FAIL_REASON};
    const char *rl[1] = {longr};
    last = 0;
    memo_chunk_start(&out, 1);
    memo_chunk_add(&out, &last, 3, 1, vl, rl, 1);
    assert_int_equal(memo_chunk_read(&c, out.ptr, out.len, 1), 0);
    assert_int_equal(memo_entry_verdict(memo_chunk_row(&c, 3), 0), MEMO_NONE);
    memo_chunk_free(&c);
    free(longr);
    qloop_buf_free(&out);
}

/* Verdicts take 2 bits a slot: 1 to 9 slots of every verdict read back
 * (their reasons too) from 1, 1, 1, 1, 2, 2, 2, 2, 3 bytes; a chunk in the
 * layout main wrote before (version 2: a byte a verdict) is refused, so a
 * store's older memo is never misread, only recomputed. */
static void test_chunk_packed(void **state)
{
    (void)state;
    struct qloop_buf out = {0};
    for (size_t n = 1; n <= 9; n++) {
        uint8_t v[9];
        const char *r[9];
        for (size_t k = 0; k < n; k++) {
            v[k] = (uint8_t)((k + n) % 4);
            r[k] = v[k] == MEMO_FAIL_REASON ? (k % 2 ? "甲" : "") : NULL;
        }
        uint32_t last = 0;
        memo_chunk_start(&out, n);
        size_t head = out.len;
        memo_chunk_add(&out, &last, 0, 42, v, r, n);
        size_t reasons = 0;
        for (size_t k = 0; k < n; k++)
            reasons += r[k] ? 2 + strlen(r[k]) + 1 : 0;
        /* gap, fingerprint, the verdicts, the reasons, no sealed copies */
        assert_int_equal(out.len - head, 1 + 8 + (n + 3) / 4 + reasons + 1);
        assert_int_equal(memo_verdict_bytes(n), (n + 3) / 4);
        struct memo_chunk c;
        assert_int_equal(memo_chunk_read(&c, out.ptr, out.len, n), 0);
        const uint8_t *e = memo_chunk_row(&c, 0);
        assert_verdicts(e, v, n);
        for (size_t k = 0; k < n; k++)
            if (r[k])
                assert_string_equal(memo_entry_reason(e, n, k), r[k]);
        memo_chunk_free(&c);
    }
    /* version 2, one slot, one row: day, slots, gap, fingerprint, a verdict
     * byte (MEMO_PASS), no sealed copies */
    unsigned char v2[] = {2, 0xB3, 0x4F, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, MEMO_PASS, 0};
    struct memo_chunk c;
    assert_int_equal(memo_chunk_read(&c, v2, sizeof v2, 1), -1);
    v2[0] = 3; /* the same bytes read as this version's are a chunk */
    assert_int_equal(memo_chunk_read(&c, v2, sizeof v2, 1), 0);
    assert_int_equal(memo_entry_verdict(memo_chunk_row(&c, 0), 0), MEMO_PASS);
    memo_chunk_free(&c);
    qloop_buf_free(&out);
}

/* A chunk's first day: never until stamped, read back as stamped; two
 * chunks with the same rows but another first day are the same answers,
 * any other difference is not. */
static void test_chunk_day(void **state)
{
    (void)state;
    struct qloop_buf a = {0}, b = {0};
    const uint8_t v[2] = {MEMO_PASS, MEMO_FAIL};
    const char *r[2] = {NULL, NULL};
    uint32_t last = 0;
    memo_chunk_start(&a, 2);
    memo_chunk_add(&a, &last, 4, 99, v, r, 2);
    struct memo_chunk c;
    assert_int_equal(memo_chunk_read(&c, a.ptr, a.len, 2), 0);
    assert_true(c.from_day == MEMO_DAY_NEVER);
    memo_chunk_free(&c);
    memo_chunk_stamp(&a, 20419);
    assert_int_equal(memo_chunk_read(&c, a.ptr, a.len, 2), 0);
    assert_true(c.from_day == 20419);
    assert_verdicts(memo_chunk_row(&c, 4), v, 2);

    last = 0;
    memo_chunk_start(&b, 2);
    memo_chunk_add(&b, &last, 4, 99, v, r, 2);
    memo_chunk_stamp(&b, 20420);
    assert_true(memo_chunk_same(&c, b.ptr, b.len));
    const uint8_t w[2] = {MEMO_PASS, MEMO_PASS};
    last = 0;
    memo_chunk_start(&b, 2);
    memo_chunk_add(&b, &last, 4, 99, w, r, 2);
    memo_chunk_stamp(&b, 20419);
    assert_false(memo_chunk_same(&c, b.ptr, b.len));
    memo_chunk_add(&b, &last, 5, 99, w, r, 2);
    assert_false(memo_chunk_same(&c, b.ptr, b.len));
    memo_chunk_free(&c);
    qloop_buf_free(&a);
    qloop_buf_free(&b);
}

/* A row's sealed copies: found by rule, none for another rule or a row
 * given none; cut or overlong ones refused. */
static void test_chunk_seals(void **state)
{
    (void)state;
    struct qloop_buf out = {0};
    uint32_t last = 0;
    const uint8_t v[2] = {MEMO_FAIL_REASON, MEMO_FAIL};
    const char *r[2] = {"原因", NULL};
    char big[300];
    memset(big, 'b', sizeof big);
    struct memo_sealed s[2] = {{1, "\x01sealed-one", 11}, {7, big, sizeof big}};
    memo_chunk_start(&out, 2);
    memo_chunk_add(&out, &last, 0, 5, v, r, 2);
    memo_chunk_seals(&out, s, 2);
    memo_chunk_add(&out, &last, 1, 6, v, r, 2);
    memo_chunk_seals(&out, s, 0);
    memo_chunk_add(&out, &last, 2, 7, v, r, 2);
    memo_chunk_seals(&out, s + 1, 1);
    struct memo_chunk c;
    assert_int_equal(memo_chunk_read(&c, out.ptr, out.len, 2), 0);
    size_t len = 0;
    const uint8_t *e = memo_chunk_row(&c, 0);
    assert_string_equal(memo_entry_reason(e, 2, 0), "原因");
    const void *p = memo_entry_sealed(e, 2, 1, &len);
    assert_non_null(p);
    assert_int_equal(len, 11);
    assert_memory_equal(p, "\x01sealed-one", 11);
    p = memo_entry_sealed(e, 2, 7, &len);
    assert_non_null(p);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(p, big, sizeof big);
    assert_null(memo_entry_sealed(e, 2, 0, &len));
    assert_null(memo_entry_sealed(memo_chunk_row(&c, 1), 2, 1, &len));
    assert_true(memo_entry_fp(memo_chunk_row(&c, 2)) == 7);
    assert_null(memo_entry_sealed(memo_chunk_row(&c, 2), 2, 1, &len));
    assert_non_null(memo_entry_sealed(memo_chunk_row(&c, 2), 2, 7, &len));
    memo_chunk_free(&c);
    /* the last copy cut short, or its length past the end: refused */
    assert_int_equal(memo_chunk_read(&c, out.ptr, out.len - 1, 2), -1);
    char *bad = malloc(out.len);
    memcpy(bad, out.ptr, out.len);
    size_t at = out.len - sizeof big - 2; /* the last copy's length: 2 bytes of varint */
    bad[at] = (char)0xFF, bad[at + 1] = 0x7F;
    assert_int_equal(memo_chunk_read(&c, bad, out.len, 2), -1);
    free(bad);
    qloop_buf_free(&out);
}

static void test_seal(void **state)
{
    (void)state;
    unsigned char key[MEMO_DATA_KEY_BYTES], key2[MEMO_DATA_KEY_BYTES], fpkey[MEMO_FP_KEY_BYTES];
    unsigned char other[32] = {9};
    memo_data_key(SUBKEY, key);
    memo_data_key(other, key2);
    memo_fp_key(SUBKEY, fpkey);
    assert_memory_not_equal(key, key2, sizeof key);
    assert_memory_not_equal(key, fpkey, 16); /* another subkey than the fingerprint's */
    assert_memory_not_equal(key, fpkey + 16, sizeof key);
    unsigned char env[MEMO_ENV_BYTES] = {5}, env2[MEMO_ENV_BYTES] = {6};
    const char plain[] = "号码 13812345677 属于 张三";
    struct qloop_buf sealed = {0}, opened = {0}, again = {0};
    memo_seal(key, "pop", 3, env, plain, sizeof plain, &sealed);
    assert_null(memmem(sealed.ptr, sealed.len, "13812345677", 11)); /* ciphertext only */
    assert_int_equal(memo_open(key, "pop", 3, env, sealed.ptr, sealed.len, &opened), 0);
    assert_int_equal(opened.len, sizeof plain);
    assert_memory_equal(opened.ptr, plain, sizeof plain);
    memo_seal(key, "pop", 3, env, plain, sizeof plain, &again);
    assert_memory_not_equal(again.ptr, sealed.ptr, 24); /* a fresh nonce each time */
    /* another key, dataset, chunk or env, or a byte changed: not opened */
    assert_int_equal(memo_open(key2, "pop", 3, env, sealed.ptr, sealed.len, &opened), -1);
    assert_int_equal(memo_open(key, "pep", 3, env, sealed.ptr, sealed.len, &opened), -1);
    assert_int_equal(memo_open(key, "pop", 4, env, sealed.ptr, sealed.len, &opened), -1);
    assert_int_equal(memo_open(key, "pop", 3, env2, sealed.ptr, sealed.len, &opened), -1);
    sealed.ptr[sealed.len / 2] ^= 1;
    assert_int_equal(memo_open(key, "pop", 3, env, sealed.ptr, sealed.len, &opened), -1);
    assert_int_equal(memo_open(key, "pop", 3, env, sealed.ptr, 10, &opened), -1);
    qloop_buf_free(&sealed);
    qloop_buf_free(&opened);
    qloop_buf_free(&again);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The environment of the pack in path over names. */
static void env_of(const char *path, const char *const *names, size_t n, unsigned char out[32])
{
    struct qloop_error err;
    struct pack *p = pack_new();
    assert_int_equal(pack_load_path(p, path, &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    size_t rule = 0;
    assert_int_equal(memo_env(p, &p->datasets[0], &rule, 1, names, n, out), 0);
    pack_free(p);
}

static void test_env(void **state)
{
    (void)state;
    char dir[] = "/tmp/qloop-memo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rules[256], divs[256];
    snprintf(rules, sizeof rules, "%s/r.lua", dir);
    snprintf(divs, sizeof divs, "%s/d.csv", dir);
    const char *pack = "dataset \"d\" { key = \"id\" }\n"
                       "rule \"d.r\" { check = function(r) return r.v ~= 'x' end }\n";
    write_file(rules, pack);
    const char *names[] = {"id", "v"}, *names2[] = {"id", "w"};
    unsigned char e1[32], e2[32];
    env_of(rules, names, 2, e1);
    env_of(rules, names, 2, e2);
    assert_memory_equal(e1, e2, 32); /* the same environment twice */
    env_of(rules, names2, 2, e2);
    assert_memory_not_equal(e1, e2, 32); /* columns */
    env_of(rules, names, 1, e2);
    assert_memory_not_equal(e1, e2, 32);
    write_file(rules, "-- a comment\n"
                      "dataset \"d\" { key = \"id\" }\n"
                      "rule \"d.r\" { check = function(r) return r.v ~= 'x' end }\n");
    env_of(rules, names, 2, e2);
    assert_memory_not_equal(e1, e2, 32); /* a rule file's bytes */
    write_file(rules, pack);
    env_of(rules, names, 2, e2);
    assert_memory_equal(e1, e2, 32);
    /* the divisions table in use */
    write_file(divs, "code,name\n110000,北京市\n110100,市辖区\n");
    struct qloop_error err;
    assert_int_equal(division_load_file(divs, &err), 0);
    env_of(rules, names, 2, e2);
    assert_memory_not_equal(e1, e2, 32);
    memcpy(e1, e2, 32);
    /* the calendar in use */
    const char *notice = "year 2031\n2031-01-01 off 元旦\n";
    assert_int_equal(calendar_load_text(notice, strlen(notice), "t", &err), 0);
    env_of(rules, names, 2, e2);
    calendar_reset();
    assert_memory_not_equal(e1, e2, 32);
    env_of(rules, names, 2, e2);
    assert_memory_equal(e1, e2, 32);
    unlink(rules);
    unlink(divs);
    rmdir(dir);
}

/* The environment describes the rule files as the pack loaded them: a file
 * edited after loading (during a run) changes nothing, so the answers of
 * the code that ran are never kept under the edited file's digest. */
static void test_env_as_loaded(void **state)
{
    (void)state;
    char dir[] = "/tmp/qloop-memo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rules[256];
    snprintf(rules, sizeof rules, "%s/r.lua", dir);
    const char *pack = "dataset \"d\" { key = \"id\" }\n"
                       "rule \"d.r\" { check = function(r) return r.v ~= 'x' end }\n";
    write_file(rules, pack);
    const char *names[] = {"id", "v"};
    struct qloop_error err;
    struct pack *p = pack_new();
    assert_int_equal(pack_load_path(p, rules, &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    size_t rule = 0;
    unsigned char before[32], after[32], edited[32];
    assert_int_equal(memo_env(p, &p->datasets[0], &rule, 1, names, 2, before), 0);
    write_file(rules, "dataset \"d\" { key = \"id\" }\n"
                      "rule \"d.r\" { check = function(r) return r.v ~= 'y' end }\n");
    assert_int_equal(memo_env(p, &p->datasets[0], &rule, 1, names, 2, after), 0);
    assert_memory_equal(before, after, 32);
    pack_free(p);
    env_of(rules, names, 2, edited); /* loaded again: the edit counts */
    assert_memory_not_equal(before, edited, 32);
    unlink(rules);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_siphash),
        cmocka_unit_test(test_fingerprint_layout),
        cmocka_unit_test(test_chunk),
        cmocka_unit_test(test_chunk_packed),
        cmocka_unit_test(test_chunk_day),
        cmocka_unit_test(test_chunk_seals),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_as_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
