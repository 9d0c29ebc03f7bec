/*
 * test_text.c — base/text.h's UTF-8: the sequence table against an
 * independent reference over every 1-, 2- and 3-byte input and the 4-byte
 * leads, the decoder over every scalar value, the first invalid byte (with
 * and without NUL bytes and cut tails, inside and outside the eight-byte
 * ASCII fast path), the character count and the repair; then empty values
 * and numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/text.h"

/* The reference: decode by value and refuse what Unicode calls ill-formed.
 * Returns the length of a complete well-formed sequence at s[0..n), 0 for a
 * well-formed prefix cut by n, -1 otherwise. */
static int reference_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t v;
    if ((c & 0xE0) == 0xC0)
        len = 2, v = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, v = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, v = c & 0x07;
    else
        return -1;
    size_t k = 1;
    for (; k < len && k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (k < len) {
        /* cut: well-formed only if some completion is; check the smallest
         * and largest completions of the bits seen so far */
        uint32_t lo = v, hi = v;
        for (size_t j = k; j < len; j++)
            lo = lo << 6, hi = (hi << 6) | 0x3F;
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (hi < min[len] || lo > 0x10FFFF)
            return -1;
        if (lo >= 0xD800 && hi <= 0xDFFF)
            return -1;
        return 0;
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    return (int)len;
}

/* Every 1-, 2- and 3-byte input, and every 4-byte lead with every second
 * byte and edge values after it, agrees with the reference, complete and
 * cut short. */
static void test_seq_matches_reference(void **state)
{
    (void)state;
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        assert_int_equal(qloop_utf8_seq(s, s + 1), reference_seq(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            if (a < 0x80)
                continue;
            assert_int_equal(qloop_utf8_seq(s, s + 2), reference_seq(s, 2));
            if (a < 0xE0)
                continue;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                int got = qloop_utf8_seq(s, s + 3), want = reference_seq(s, 3);
                if (got != want)
                    fail_msg("%02X %02X %02X: %d, expected %d", a, b, c, got, want);
            }
        }
    }
    static const unsigned char edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
    for (unsigned a = 0xF0; a < 0x100; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b, s[2] = edge[c], s[3] = edge[d];
                    assert_int_equal(qloop_utf8_seq(s, s + 4), reference_seq(s, 4));
                }
}

/* Every scalar value encodes, decodes to itself and is valid; surrogates
 * encoded as if they were characters are not. */
static void test_decode_every_scalar(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        unsigned char s[4];
        size_t n;
        if (cp < 0x80)
            s[0] = (unsigned char)cp, n = 1;
        else if (cp < 0x800)
            s[0] = (unsigned char)(0xC0 | cp >> 6), s[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
        else if (cp < 0x10000)
            s[0] = (unsigned char)(0xE0 | cp >> 12), s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            s[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
        else
            s[0] = (unsigned char)(0xF0 | cp >> 18), s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
            s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), s[3] = (unsigned char)(0x80 | (cp & 0x3F)),
            n = 4;
        uint32_t got;
        size_t len = qloop_utf8_decode(s, n, 0, &got);
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (surrogate) {
            assert_int_equal(len, 1);
            assert_true(got == QLOOP_U8_INVALID);
            assert_false(qloop_utf8_invalid_at((const char *)s, n) == n);
        } else if (len != n || got != cp || qloop_utf8_invalid_at((const char *)s, n) != n) {
            fail_msg("U+%04X: length %zu, decoded U+%04X", (unsigned)cp, len, (unsigned)got);
        }
    }
    /* a sequence cut by the length given is one invalid byte */
    uint32_t cp;
    assert_int_equal(qloop_utf8_decode((const unsigned char *)"\xE4\xB8\xAD", 2, 0, &cp), 1);
    assert_true(cp == QLOOP_U8_INVALID);
}

/* The first invalid byte: found inside and after the eight-byte fast path;
 * NUL only with QLOOP_UTF8_NO_NUL; a cut tail only without
 * QLOOP_UTF8_PARTIAL. */
static void test_first_invalid(void **state)
{
    (void)state;
    const char *ok = "身份证 abcdefghijklmnop 12345678 ✓ 𠀀";
    assert_int_equal(qloop_utf8_invalid(ok, strlen(ok), QLOOP_UTF8_NO_NUL), strlen(ok));
    assert_int_equal(qloop_utf8_invalid("", 0, 0), 0);
    char s[64];
    for (size_t at = 0; at < 40; at++) { /* every offset, so some fall in an 8-byte word */
        memset(s, 'a', sizeof s);
        s[at] = (char)0xFF;
        assert_int_equal(qloop_utf8_invalid(s, 48, 0), at);
        s[at] = '\0';
        assert_int_equal(qloop_utf8_invalid(s, 48, 0), 48);
        assert_int_equal(qloop_utf8_invalid(s, 48, QLOOP_UTF8_NO_NUL), at);
    }
    const char *cut = "abcdefgh中\xE6\x96";
    size_t n = strlen(cut);
    assert_int_equal(qloop_utf8_invalid(cut, n, 0), n - 2);
    assert_int_equal(qloop_utf8_invalid(cut, n, QLOOP_UTF8_PARTIAL), n);
    /* a bad byte before the cut tail is still found */
    const char *bad = "ab\xC0\xAF" "cd\xE6\x96";
    assert_int_equal(qloop_utf8_invalid(bad, strlen(bad), QLOOP_UTF8_PARTIAL), 2);
    assert_true(qloop_utf8_invalid_at("中文", strlen("中文")) == strlen("中文"));
    assert_false(qloop_utf8_invalid_at("\xED\xA0\x80", 3) == 3); /* a surrogate */
    assert_false(qloop_utf8_invalid_at("\xF4\x90\x80\x80", 4) == 4); /* past U+10FFFF */
}

static void test_chars_and_repair(void **state)
{
    (void)state;
    assert_int_equal(qloop_utf8_chars("a中b𠀀", strlen("a中b𠀀")), 4);
    assert_int_equal(qloop_utf8_chars("", 0), 0);
    struct qloop_buf b = {0};
    /* a stray continuation, an overlong form, a surrogate, a cut sequence:
     * each byte replaced */
    const char *in = "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE4\xB8";
    qloop_utf8_repair(&b, in, strlen(in));
    assert_string_equal(b.ptr, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD"
                               "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "d\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_true(qloop_utf8_invalid_at(b.ptr, b.len) == b.len);
    qloop_buf_reset(&b);
    qloop_utf8_repair(&b, "中文", strlen("中文"));
    assert_string_equal(b.ptr, "中文");
    qloop_buf_free(&b);
    qloop_utf8_repair(&b, "", 0);
    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");
    qloop_buf_free(&b);
}

static void test_empty_and_number(void **state)
{
    (void)state;
    struct qloop_field f = {" \t\xE3\x80\x80\xC2\xA0", 7, 0};
    assert_true(qloop_value_empty(&f));
    f = (struct qloop_field){" x ", 3, 0};
    assert_false(qloop_value_empty(&f));
    f = (struct qloop_field){"", 0, 1};
    assert_true(qloop_value_empty(&f));
    /* the inline first-byte answer agrees with a reading of every byte:
     * each first byte, alone and before blanks or U+3000 / U+00A0 parts */
    static const char *const tails[] = {"", " ", "\x80\x80", "\xA0", "\x80", "\x80\x80 x", "\t\n"};
    for (int c = 1; c < 256; c++)
        for (size_t t = 0; t < sizeof tails / sizeof *tails; t++) {
            char text[16];
            snprintf(text, sizeof text, "%c%s", c, tails[t]);
            size_t len = strlen(text);
            bool want = true; /* only ' ', \t, \r, \n, U+3000, U+00A0 */
            for (size_t i = 0; i < len && want;) {
                const unsigned char *u = (const unsigned char *)text;
                if (u[i] == ' ' || u[i] == '\t' || u[i] == '\r' || u[i] == '\n')
                    i++;
                else if (u[i] == 0xE3 && i + 2 < len && u[i + 1] == 0x80 && u[i + 2] == 0x80)
                    i += 3;
                else if (u[i] == 0xC2 && i + 1 < len && u[i + 1] == 0xA0)
                    i += 2;
                else
                    want = false;
            }
            f = (struct qloop_field){text, len, 0};
            if (qloop_value_empty(&f) != want)
                fail_msg("byte %d + tail %zu: %d", c, t, !want);
        }
    double v;
    assert_true(qloop_parse_number(" 12.5 ", 6, &v));
    assert_true(v == 12.5);
    assert_false(qloop_parse_number("12x", 3, &v));
    assert_false(qloop_parse_number("nan", 3, &v));
    assert_false(qloop_parse_number("  ", 2, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_matches_reference),
        cmocka_unit_test(test_decode_every_scalar),
        cmocka_unit_test(test_first_invalid),
        cmocka_unit_test(test_chars_and_repair),
        cmocka_unit_test(test_empty_and_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
