/*
 * text.c — UTF-8 (decode, validate, count, repair), empty values, numbers
 * (see text.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/text.h"

size_t qloop_utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    int n = qloop_utf8_seq(s + i, s + len);
    if (n <= 0) {
        *cp = QLOOP_U8_INVALID;
        return 1;
    }
    uint32_t v = n == 1 ? s[i] : s[i] & (0x7Fu >> n);
    for (int k = 1; k < n; k++)
        v = (v << 6) | (s[i + k] & 0x3Fu);
    *cp = v;
    return (size_t)n;
}

size_t qloop_utf8_invalid(const char *p, size_t n, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)p, *e = s + n, *q = s;
    while (q < e) {
        /* eight ASCII bytes at a time, none of them NUL */
        while (q + 8 <= e) {
            uint64_t w;
            memcpy(&w, q, 8);
            if ((w & 0x8080808080808080ull) ||
                ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            q += 8;
        }
        if (q >= e)
            break;
        if (*q < 0x80) {
            if (*q == 0 && (flags & QLOOP_UTF8_NO_NUL))
                return (size_t)(q - s);
            q++;
            continue;
        }
        int k = qloop_utf8_seq(q, e);
        if (k > 0) {
            q += k;
            continue;
        }
        if (k == 0 && (flags & QLOOP_UTF8_PARTIAL))
            break; /* a cut tail: the caller sees it again with more data */
        return (size_t)(q - s);
    }
    return n;
}

size_t qloop_utf8_chars(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

void qloop_utf8_repair(struct qloop_buf *b, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p, *e = s + n;
    while (s < e) {
        size_t good = qloop_utf8_invalid((const char *)s, (size_t)(e - s), 0);
        qloop_buf_append(b, (const char *)s, good);
        s += good;
        if (s < e) {
            qloop_buf_append(b, "\xEF\xBF\xBD", 3);
            s++;
        }
    }
    if (!b->ptr)
        qloop_buf_append(b, "", 0);
}

/* qloop_value_empty past its inline part: the whole value looked at. */
bool qloop_value_empty_scan(const struct qloop_field *f)
{
    if (f->null || f->len == 0)
        return true;
    const unsigned char *s = (const unsigned char *)f->ptr;
    size_t i = 0, len = f->len;
    while (i < len) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
            i++;
        else if (s[i] == 0xE3 && i + 2 < len && s[i + 1] == 0x80 && s[i + 2] == 0x80)
            i += 3; /* U+3000 */
        else if (s[i] == 0xC2 && i + 1 < len && s[i + 1] == 0xA0)
            i += 2; /* U+00A0 */
        else
            return false;
    }
    return true;
}

bool qloop_parse_number(const char *s, size_t len, double *out)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    if (!len)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (end < s + len && (*end == ' ' || *end == '\t'))
        end++;
    if (end != s + len || errno == ERANGE || isnan(v))
        return false;
    *out = v;
    return true;
}
