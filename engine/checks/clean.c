/*
 * clean.c — cleansing (清洗) of text values: the C side of the `clean` table.
 *
 * Every function reads UTF-8 and writes UTF-8. Input bytes that do not form a
 * well-formed UTF-8 sequence are written as U+FFFD (one per byte), so the
 * output is always valid UTF-8 and a later check sees that something was
 * wrong with the value. Each function follows qloop_clean_fn (native.h):
 * appends to out and returns 1, or returns 0 when there is no value.
 *
 * "White space" here is the Unicode White_Space set (ASCII \t \n \v \f \r and
 * space, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000); trimming also strips the invisible U+200B–U+200D and U+FEFF
 * that copy-and-paste from office documents and web pages leaves at the ends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checks/clean.h"
#include "base/text.h"

/* Appends the UTF-8 form of cp (a valid scalar value) to out. */
static void u8_put(struct qloop_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    qloop_buf_append(out, b, n);
}

/* Makes room for n more bytes in out, keeping it NUL-terminated (a buffer
 * that was only reserved has no NUL yet). */
static void make_room(struct qloop_buf *out, size_t n)
{
    qloop_buf_reserve(out, n);
    out->ptr[out->len] = '\0';
}

/* Appends the character s[i..i+n) as it is, or U+FFFD when it is invalid. */
static void put_char(struct qloop_buf *out, const char *s, size_t i, size_t n, uint32_t cp)
{
    if (cp == QLOOP_U8_INVALID)
        u8_put(out, 0xFFFD);
    else
        qloop_buf_append(out, s + i, n);
}

/* true for a Unicode White_Space character. */
static bool is_space(uint32_t cp)
{
    switch (cp) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* true for what trimming strips: white space and the zero-width characters. */
static bool is_trim_space(uint32_t cp)
{
    return is_space(cp) || (cp >= 0x200B && cp <= 0x200D) || cp == 0xFEFF;
}

/* Finds the part of s left after trimming: [*start, *end). */
static void trim_range(const char *s, size_t len, size_t *start, size_t *end)
{
    const unsigned char *u = (const unsigned char *)s;
    /* the common case: printable ASCII at both ends, nothing to trim */
    if (len > 0 && u[0] > ' ' && u[0] < 0x7F && u[len - 1] > ' ' && u[len - 1] < 0x7F) {
        *start = 0;
        *end = len;
        return;
    }
    size_t i = 0, first = len, last = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        if (!is_trim_space(cp)) {
            if (first == len)
                first = i;
            last = i + n;
        }
        i += n;
    }
    if (first == len)
        first = last = 0;
    *start = first;
    *end = last;
}

/* Whether s[0..len) is all ASCII (then it is valid UTF-8 as it is). */
static bool all_ascii(const char *s, size_t len)
{
    unsigned char any = 0;
    for (size_t i = 0; i < len; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/* Appends s[from..to) with invalid bytes replaced by U+FFFD. */
static void put_sanitized(struct qloop_buf *out, const char *s, size_t from, size_t to)
{
    if (all_ascii(s + from, to - from)) {
        qloop_buf_append(out, s + from, to - from);
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = from, run = from;
    while (i < to) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, to, i, &cp);
        if (cp == QLOOP_U8_INVALID) {
            qloop_buf_append(out, s + run, i - run);
            u8_put(out, 0xFFFD);
            run = i + n;
        }
        i += n;
    }
    qloop_buf_append(out, s + run, to - run);
}

/* Strips white space and zero-width characters at both ends; the middle is
 * kept as it is. Always returns 1 (an all-blank value becomes ""). */
int clean_trim(const char *s, size_t len, struct qloop_buf *out)
{
    size_t a, b;
    trim_range(s, len, &a, &b);
    put_sanitized(out, s, a, b);
    return 1;
}

/* Maps a full-width form to its ASCII twin: U+FF01–U+FF5E → U+0021–U+007E
 * and the ideographic space U+3000 → ' '; other characters are returned
 * unchanged. */
static uint32_t halfwidth_cp(uint32_t cp)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return cp - 0xFEE0;
    if (cp == 0x3000)
        return ' ';
    return cp;
}

/* Converts full-width ASCII forms (ＡＢＣ１２３，（）) and U+3000 to their ASCII
 * twins; everything else is kept. Always returns 1. */
int clean_halfwidth(const char *s, size_t len, struct qloop_buf *out)
{
    if (all_ascii(s, len)) {
        qloop_buf_append(out, s, len);
        return 1;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    make_room(out, len);
    while (i < len) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        uint32_t h = cp == QLOOP_U8_INVALID ? cp : halfwidth_cp(cp);
        if (h != cp)
            u8_put(out, h);
        else
            put_char(out, s, i, n, cp);
        i += n;
    }
    return 1;
}

/* Upper-cases ASCII a–z; every other character is kept as it is (invalid
 * bytes become U+FFFD). Always returns 1. */
int clean_upper(const char *s, size_t len, struct qloop_buf *out)
{
    size_t start = out->len;
    put_sanitized(out, s, 0, len);
    for (size_t i = start; i < out->len; i++)
        if (out->ptr[i] >= 'a' && out->ptr[i] <= 'z')
            out->ptr[i] = (char)(out->ptr[i] - 'a' + 'A');
    return 1;
}

/* Trims (as clean_trim) and replaces every run of white space inside by one
 * ASCII space. Always returns 1. */
int clean_collapse(const char *s, size_t len, struct qloop_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t a, b;
    trim_range(s, len, &a, &b);
    size_t i = a;
    bool in_space = false;
    make_room(out, b - a);
    while (i < b) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, b, i, &cp);
        if (is_space(cp)) {
            if (!in_space)
                qloop_buf_putc(out, ' ');
            in_space = true;
        } else {
            put_char(out, s, i, n, cp);
            in_space = false;
        }
        i += n;
    }
    return 1;
}

/* ---- dates ---------------------------------------------------------------- */

/* Reads exactly between min and max ASCII digits at *p (stopping at the first
 * non-digit). Returns the number of digits read (0 when fewer than min or more
 * than max) and the value in *v; advances *p past them. */
static int read_digits(const char **p, const char *end, int min, int max, int *v)
{
    const char *q = *p;
    int n = 0, val = 0;
    while (q < end && *q >= '0' && *q <= '9') {
        if (n == max)
            return 0;
        val = val * 10 + (*q - '0');
        q++, n++;
    }
    if (n < min)
        return 0;
    *p = q;
    *v = val;
    return n;
}

/* true when *p starts with the literal lit; then advances *p past it. */
static bool eat(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* true for a Gregorian leap year. */
static bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Number of days of month m (1–12) of year y. */
static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Reads a time of day that follows a date, up to end: H:MM, H:MM:SS with an
 * optional fraction (.0 from database exports), or HHMMSS, then an optional
 * zone (Z, +08, +08:00, +0800). Returns true when all of [p, end) is such a
 * time with hour ≤ 23, minute ≤ 59 and second ≤ 60. */
static bool read_time(const char *p, const char *end)
{
    int h, m, sec = 0;
    if (read_digits(&p, end, 6, 6, &h)) {
        sec = h % 100, m = h / 100 % 100, h /= 10000;
    } else {
        if (!read_digits(&p, end, 1, 2, &h) || !eat(&p, end, ":") || !read_digits(&p, end, 2, 2, &m))
            return false;
        if (eat(&p, end, ":") && !read_digits(&p, end, 2, 2, &sec))
            return false;
    }
    if (eat(&p, end, ".")) {
        int frac;
        if (!read_digits(&p, end, 1, 9, &frac))
            return false;
    }
    if (h > 23 || m > 59 || sec > 60)
        return false;
    if (eat(&p, end, "Z") || eat(&p, end, "z"))
        return p == end;
    if (p < end && (*p == '+' || *p == '-')) {
        int zh, zm = 0;
        p++;
        if (!read_digits(&p, end, 2, 2, &zh))
            return false;
        bool colon = eat(&p, end, ":");
        if ((colon || p < end) && !read_digits(&p, end, 2, 2, &zm))
            return false;
        if (zh > 14 || zm > 59)
            return false;
    }
    return p == end;
}

/* Writes y-m-day as YYYY-MM-DD and returns 1 when it is a day that
 * exists in a year from 1000 on (y has at most four digits), else returns
 * 0 and writes nothing. */
static int put_date(int y, int m, int day, struct qloop_buf *out)
{
    if (y < 1000 || m < 1 || m > 12 || day < 1 || day > days_in_month(y, m))
        return 0;
    /* YYYY-MM-DD without printf: once per value of every cleansed date */
    char iso[10] = {(char)('0' + y / 1000), (char)('0' + y / 100 % 10), (char)('0' + y / 10 % 10),
                    (char)('0' + y % 10), '-', (char)('0' + m / 10), (char)('0' + m % 10), '-',
                    (char)('0' + day / 10), (char)('0' + day % 10)};
    qloop_buf_append(out, iso, sizeof iso);
    return 1;
}

/* clean_date of s[0..len) when it is already written YYYY-MM-DD in ASCII
 * digits (most values of a cleansed date column): the date read without
 * decoding it character by character, 1 or 0 as put_date. -1 when s has
 * another shape. */
static int iso_date(const char *s, size_t len, struct qloop_buf *out)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    return put_date(y, (s[5] - '0') * 10 + (s[6] - '0'), (s[8] - '0') * 10 + (s[9] - '0'), out);
}

/* Reads a date in one of the usual forms and writes it as YYYY-MM-DD.
 *
 * Accepted, after trimming and converting full-width digits and punctuation:
 *   2020-01-05  2020-1-5  2020/1/5  2020.1.5   (the same separator twice)
 *   2020年1月5日  2020年01月05号  2020年1月5    20200105
 * each optionally followed by a time of day after a space or 'T'
 * ("2020-01-05 10:00:00", "2020-01-05T10:00:00+08:00"), which is dropped.
 * The year must have four digits (1000–9999) and the day must exist in that
 * month (2021-02-29 and 2020-13-01 have no value). Returns 0 (no value) for
 * anything else. */
int clean_date(const char *s, size_t len, struct qloop_buf *out)
{
    int iso = iso_date(s, len, out);
    if (iso >= 0)
        return iso;
    size_t a, b;
    trim_range(s, len, &a, &b);
    /* Normalised copy: full-width forms to ASCII; dates are short. */
    char d[128];
    size_t dn = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = a; i < b;) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, b, i, &cp);
        if (cp == QLOOP_U8_INVALID)
            return 0;
        uint32_t h = halfwidth_cp(cp);
        if (h < 0x80) {
            if (dn + 1 > sizeof d)
                return 0;
            d[dn++] = (char)h;
        } else {
            if (dn + n > sizeof d)
                return 0;
            memcpy(d + dn, s + i, n);
            dn += n;
        }
        i += n;
    }

    const char *p = d, *end = d + dn;
    int y, m, day;
    int ny = read_digits(&p, end, 4, 8, &y);
    if (ny == 8) {
        day = y % 100, m = y / 100 % 100, y /= 10000;
    } else if (ny == 4) {
        if (p < end && (*p == '-' || *p == '/' || *p == '.')) {
            char sep = *p++;
            if (!read_digits(&p, end, 1, 2, &m) || p == end || *p++ != sep ||
                !read_digits(&p, end, 1, 2, &day))
                return 0;
        } else if (eat(&p, end, "年")) {
            if (!read_digits(&p, end, 1, 2, &m) || !eat(&p, end, "月") ||
                !read_digits(&p, end, 1, 2, &day))
                return 0;
            if (!eat(&p, end, "日"))
                eat(&p, end, "号");
        } else {
            return 0;
        }
    } else {
        return 0;
    }
    if (p < end) {
        if (*p == 'T' || *p == 't')
            p++;
        else if (*p == ' ')
            while (p < end && *p == ' ')
                p++;
        else
            return 0;
        if (!read_time(p, end))
            return 0;
    }
    return put_date(y, m, day, out);
}

/* ---- phone numbers ---------------------------------------------------------- */

/* true for the dashes people put in phone numbers: '-', U+2010–U+2015,
 * U+2212 (minus) and the full-width U+FF0D. */
static bool is_dash(uint32_t cp)
{
    return cp == '-' || (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFF0D;
}

/* true when s[0..n) is exactly a mainland mobile number: 11 digits, 1[3-9]... */
static bool is_mobile(const char *s, size_t n)
{
    if (n != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Normalises a phone number: converts full-width digits and '＋', removes
 * white space, dashes and parentheses (ASCII and full-width), and removes the
 * country prefix +86, 0086 or 86 in front of a mobile number
 * ("+86 138-1234-5678" → "13812345678"). Landline numbers keep their digits
 * ("(0571) 8888-6666" → "057188886666"); any other character is kept so that a
 * later check can flag it. Always returns 1. */
int clean_phone(const char *s, size_t len, struct qloop_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = out->len;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        if (cp != QLOOP_U8_INVALID && (is_trim_space(cp) || is_dash(cp) || cp == '(' || cp == ')' ||
                                 cp == 0xFF08 || cp == 0xFF09)) {
            /* dropped */
        } else if (cp >= 0xFF10 && cp <= 0xFF19) {
            qloop_buf_putc(out, (char)('0' + (cp - 0xFF10)));
        } else if (cp == 0xFF0B) {
            qloop_buf_putc(out, '+');
        } else {
            put_char(out, s, i, n, cp);
        }
        i += n;
    }
    char *p = out->ptr ? out->ptr + start : NULL;
    size_t n = out->len - start;
    size_t prefix = 0;
    if (n == 14 && memcmp(p, "+86", 3) == 0 && is_mobile(p + 3, 11))
        prefix = 3;
    else if (n == 15 && memcmp(p, "0086", 4) == 0 && is_mobile(p + 4, 11))
        prefix = 4;
    else if (n == 13 && memcmp(p, "86", 2) == 0 && is_mobile(p + 2, 11))
        prefix = 2;
    if (prefix) {
        memmove(p, p + prefix, n - prefix + 1); /* with the NUL */
        out->len -= prefix;
    }
    return 1;
}
