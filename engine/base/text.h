/*
 * text.h — small text primitives shared by the whole program: UTF-8 (the one
 * place that knows what a well-formed sequence is), what counts as an empty
 * value, reading a number.
 *
 * UTF-8 is well-formed as RFC 3629 and Unicode 3.9 (table 3-7) define it:
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
 * qloop_utf8_seq is the table, inline for the readers' inner loops; the
 * decoder, the validator (the first invalid byte), the character count and
 * the repair (U+FFFD for each bad byte) are built on it. jansson and SQLite
 * agree with this definition, so text that passes here is never refused as
 * JSON or mangled as TEXT.
 */
#ifndef QLOOP_TEXT_H
#define QLOOP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"

struct qloop_buf;

#define QLOOP_U8_INVALID UINT32_C(0xFFFFFFFF)

/* The length of the UTF-8 sequence that starts at p, the data ending at e
 * (p < e): 1 for an ASCII byte (NUL included), 2..4 for a well-formed
 * multibyte sequence, 0 when the bytes up to e are a well-formed but
 * incomplete prefix (more data may complete it), -1 when invalid (a stray
 * continuation byte, an overlong form, a surrogate, a value past U+10FFFF, a
 * bad continuation). */
static inline int qloop_utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned c = p[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return -1;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i < n; i++) {
        if (p + i >= e)
            return 0;
        unsigned b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return -1;
    }
    return n;
}

/* Decodes the character at s[i] (i < len). Returns its length in bytes and
 * stores its code point in *cp; a byte that does not begin a well-formed
 * sequence (a sequence cut by len included) is one character of length 1
 * with *cp = QLOOP_U8_INVALID. */
size_t qloop_utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp);

/* Flags of qloop_utf8_invalid. */
enum {
    QLOOP_UTF8_NO_NUL = 1,  /* a NUL byte counts as invalid */
    QLOOP_UTF8_PARTIAL = 2, /* a sequence cut by the end is not invalid: more data follows */
};

/* The offset of the first byte of s[0..n) that does not begin a well-formed
 * UTF-8 sequence (see flags), or n when there is none. Reads eight ASCII
 * bytes at a time. */
size_t qloop_utf8_invalid(const char *s, size_t n, unsigned flags);

/* qloop_utf8_invalid without flags: the offset of the first byte that does
 * not begin a well-formed character (a sequence cut by the end included),
 * or n when s[0..n) is well-formed UTF-8. */
static inline size_t qloop_utf8_invalid_at(const char *s, size_t n)
{
    return qloop_utf8_invalid(s, n, 0);
}

/* The number of characters in s[0..n): bytes that are not continuation
 * bytes (the column of a position, for messages). */
size_t qloop_utf8_chars(const char *s, size_t n);

/* Appends s[0..n) to b with each byte that does not begin a well-formed
 * sequence replaced by U+FFFD, so the result is always well-formed. */
void qloop_utf8_repair(struct qloop_buf *b, const char *s, size_t n);

/* true when a value counts as empty: absent, "", or only white space
 * (ASCII, U+3000, U+00A0). Empty values are judged only by not_null.
 * Inline for the common answers (asked per rule and per field read): a
 * value whose first byte can begin no white space is not empty. */
bool qloop_value_empty_scan(const struct qloop_field *f);
static inline bool qloop_value_empty(const struct qloop_field *f)
{
    if (f->null || f->len == 0)
        return true;
    unsigned char c = (unsigned char)f->ptr[0];
    if (c > ' ' && c != 0xE3 && c != 0xC2)
        return false;
    return qloop_value_empty_scan(f);
}

/* Reads s[0..len) as a number (surrounding blanks allowed) into *out;
 * false when it is not one (or NaN, or out of range). */
bool qloop_parse_number(const char *s, size_t len, double *out);

#endif
