/*
 * text.c — UTF-8 decoding, empty values, numbers (see text.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "base/text.h"

size_t qloop_utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = QLOOP_U8_INVALID;
        return 1;
    }
    if (len - i < n) {
        *cp = QLOOP_U8_INVALID;
        return 1;
    }
    for (size_t k = 1; k < n; k++) {
        unsigned cc = s[i + k];
        if ((cc & 0xC0) != 0x80) {
            *cp = QLOOP_U8_INVALID;
            return 1;
        }
        v = (v << 6) | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = QLOOP_U8_INVALID;
        return 1;
    }
    *cp = v;
    return n;
}

size_t qloop_utf8_invalid_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        if (cp == QLOOP_U8_INVALID)
            return i;
        i += n;
    }
    return len;
}

bool qloop_value_empty(const struct qloop_field *f)
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
