/*
 * test_utf8_avx2.c — engine/base/utf8_avx2.h's 32-bytes-at-a-time UTF-8
 * check against qloop_utf8_seq (engine/base/text.h), the rule every reader
 * applies byte by byte.
 *
 * Every string of one, two and three bytes, and the four-byte strings over
 * the bytes where the rule changes its answer (ASCII, each continuation
 * range's ends, each lead class and the leads with narrowed second bytes),
 * is put among ASCII bytes at offsets inside the first 32-byte block and
 * across the blocks' edge; the check must find an error exactly when the
 * string is not a run of well-formed sequences (a sequence cut by the
 * string's end included: the ASCII byte after it shows the cut). Skipped on
 * a CPU without AVX2, where nothing calls the check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/text.h"
#include "base/utf8_avx2.h"

/* True when s[0..n) is a run of well-formed sequences by qloop_utf8_seq. */
static bool reference_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int k = qloop_utf8_seq(s + i, s + n);
        if (k <= 0)
            return false;
        i += (size_t)k;
    }
    return true;
}

#ifdef QLOOP_UTF8_AVX2
/* True when the check finds no error in the 64 bytes at b (two blocks, the
 * first after zeros). */
QLOOP_AVX2 static bool avx2_ok(const unsigned char *b)
{
    __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
    __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
    __m256i e0 = qloop_utf8_avx2_errors(v0, _mm256_setzero_si256());
    __m256i e1 = qloop_utf8_avx2_errors(v1, v0);
    return _mm256_testz_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e0, e1)) != 0;
}

/* Checks s[0..n) placed at offset `at` among 'a's both ways. */
static void check_at(const unsigned char *s, size_t n, size_t at, unsigned long *mismatches)
{
    unsigned char b[64];
    memset(b, 'a', sizeof b);
    memcpy(b + at, s, n);
    if (avx2_ok(b) != reference_ok(s, n) && (*mismatches)++ < 5)
        print_error("differs at offset %zu for %02x %02x %02x %02x (n=%zu): avx2 %d reference %d\n",
                    at, n > 0 ? s[0] : 0, n > 1 ? s[1] : 0, n > 2 ? s[2] : 0, n > 3 ? s[3] : 0, n,
                    avx2_ok(b), reference_ok(s, n));
}
#endif

static void test_short_strings(void **state)
{
    (void)state;
#ifdef QLOOP_UTF8_AVX2
    if (!qloop_have_avx2())
        skip();
    unsigned long bad = 0;
    static const size_t offsets[] = {0, 7, 29, 30, 31, 40, 60};
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++)
            check_at(s, 1, offsets[o], &bad);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++)
                check_at(s, 2, offsets[o], &bad);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                check_at(s, 3, 5, &bad);
                check_at(s, 3, 30, &bad); /* across the blocks' edge */
            }
        }
    }
    assert_int_equal(bad, 0);
#else
    skip();
#endif
}

static void test_four_byte_strings(void **state)
{
    (void)state;
#ifdef QLOOP_UTF8_AVX2
    if (!qloop_have_avx2())
        skip();
    static const unsigned char v[] = {0x00, 0x0A, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                      0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
                                      0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF};
    enum { N = sizeof v };
    unsigned long bad = 0;
    unsigned char s[8];
    for (size_t a = 0; a < N; a++)
        for (size_t b = 0; b < N; b++)
            for (size_t c = 0; c < N; c++)
                for (size_t d = 0; d < N; d++) {
                    s[0] = v[a], s[1] = v[b], s[2] = v[c], s[3] = v[d];
                    for (size_t at = 26; at <= 33; at++)
                        check_at(s, 4, at, &bad);
                    /* behind a valid Chinese character */
                    unsigned char t[7] = {0xE4, 0xB8, 0xAD, s[0], s[1], s[2], s[3]};
                    check_at(t, 7, 27, &bad);
                }
    assert_int_equal(bad, 0);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_strings),
        cmocka_unit_test(test_four_byte_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
