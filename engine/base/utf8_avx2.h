/*
 * utf8_avx2.h — UTF-8 well-formedness of 32 bytes at a time with AVX2, for
 * readers that check a whole row in one pass (adapters/csv.c's plain rows).
 *
 * The method is Keiser and Lemire's ("Validating UTF-8 in less than one
 * instruction per byte", 2021): each byte is classified by three 16-entry
 * tables — the high nibble of the byte before it, that byte's low nibble, and
 * its own high nibble — whose AND has a bit set exactly where the pair is one
 * of the malformed kinds (a lead or ASCII followed by a continuation or not,
 * overlong forms, surrogates, above U+10FFFF); a continuation that must be
 * the third or fourth byte of a sequence (two or three bytes after a lead of
 * E0 or F0 and above) is then checked against the "two continuations" bit.
 * The result marks each byte at which a malformed sequence is seen, with the
 * well-formedness rule of engine/base/text.h's qloop_utf8_seq (shortest form,
 * no surrogates, at most U+10FFFF, leads C0, C1, F5-FF refused). A sequence
 * cut by the end of the checked bytes is seen at the first byte after them
 * (an ASCII byte there, such as a row's line break, shows it).
 *
 * Compiled for AVX2 by a target attribute, so that the file it is included
 * in needs no -mavx2: the functions here run only after qloop_have_avx2()
 * answered true (x86-64 with GCC or Clang; QLOOP_UTF8_AVX2 is defined there).
 * tests/unit/test_utf8_avx2.c checks every sequence of up to three bytes and
 * the four-byte ones over the bytes that matter against qloop_utf8_seq.
 */
#ifndef QLOOP_BASE_UTF8_AVX2_H
#define QLOOP_BASE_UTF8_AVX2_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QLOOP_UTF8_AVX2 1
#include <immintrin.h>

/* True when this CPU runs AVX2 (libgcc's CPU model, filled in before main:
 * a read of a flag, no state of its own). */
static inline bool qloop_have_avx2(void) { return __builtin_cpu_supports("avx2"); }

#define QLOOP_AVX2 __attribute__((target("avx2")))

/* The 16 bytes a..p (each cast to char: the flags use the top bit) repeated
 * in both 128-bit lanes. */
#define QLOOP_U8_TABLE(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)                        \
    _mm256_setr_epi8((char)(a), (char)(b), (char)(c), (char)(d), (char)(e), (char)(f),        \
                     (char)(g), (char)(h), (char)(i), (char)(j), (char)(k), (char)(l),        \
                     (char)(m), (char)(n), (char)(o), (char)(p), (char)(a), (char)(b),        \
                     (char)(c), (char)(d), (char)(e), (char)(f), (char)(g), (char)(h),        \
                     (char)(i), (char)(j), (char)(k), (char)(l), (char)(m), (char)(n),        \
                     (char)(o), (char)(p))

/* The errors of the 32 bytes `in`, `prev` being the 32 bytes before them
 * (zeros at the start of the text: as ASCII): each byte of the answer is
 * non-zero where a malformed sequence is seen at that byte, zero elsewhere. */
QLOOP_AVX2 static inline __m256i qloop_utf8_avx2_errors(__m256i in, __m256i prev)
{
    enum {
        TOO_SHORT = 1 << 0, /* 11______ 0_______ or 11______ 11______ */
        TOO_LONG = 1 << 1,  /* 0_______ 10______ */
        OVERLONG_3 = 1 << 2, /* 11100000 100_____ */
        TOO_LARGE = 1 << 3, /* 11110100 1001____, 11110101+ 10______ */
        SURROGATE = 1 << 4, /* 11101101 101_____ */
        OVERLONG_2 = 1 << 5, /* 1100000_ 10______ */
        TOO_LARGE_1000 = 1 << 6, /* 11110101+ 1000____ */
        OVERLONG_4 = 1 << 6, /* 11110000 1000____ */
        TWO_CONTS = 1 << 7, /* 10______ 10______ */
        CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
    };
    /* the bytes one, two and three before each byte of in */
    __m256i back = _mm256_permute2x128_si256(prev, in, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(in, back, 15);
    __m256i prev2 = _mm256_alignr_epi8(in, back, 14);
    __m256i prev3 = _mm256_alignr_epi8(in, back, 13);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i byte_1_high_t = QLOOP_U8_TABLE(
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, /* 0___ */
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,                                  /* 10__ */
        TOO_SHORT | OVERLONG_2,                                                      /* 1100 */
        TOO_SHORT,                                                                   /* 1101 */
        TOO_SHORT | OVERLONG_3 | SURROGATE,                                          /* 1110 */
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);                        /* 1111 */
    const __m256i byte_1_low_t = QLOOP_U8_TABLE(
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, /* ____0000 */
        CARRY | OVERLONG_2,                           /* ____0001 */
        CARRY, CARRY,                                 /* ____001_ */
        CARRY | TOO_LARGE,                            /* ____0100 */
        CARRY | TOO_LARGE | TOO_LARGE_1000,           /* ____0101 */
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, /* ____011_ */
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, /* ____1___ */
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* ____1101 */
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000);
    const __m256i byte_2_high_t = QLOOP_U8_TABLE(
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4, /* 1000 */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,                  /* 1001 */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,                   /* 101_ */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT); /* 11__ */
    __m256i b1h = _mm256_shuffle_epi8(byte_1_high_t,
                                      _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4));
    __m256i b1l = _mm256_shuffle_epi8(byte_1_low_t, _mm256_and_si256(prev1, low4));
    __m256i b2h = _mm256_shuffle_epi8(byte_2_high_t,
                                      _mm256_and_si256(_mm256_srli_epi16(in, 4), low4));
    __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
    /* 0x80 where the byte must be a continuation: two after a lead of E0 and
     * above, or three after one of F0 and above */
    __m256i must23 = _mm256_and_si256(
        _mm256_or_si256(_mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80))),
                        _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)))),
        _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must23, special);
}

#undef QLOOP_U8_TABLE
#endif

#endif
