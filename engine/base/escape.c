/*
 * escape.c — text made safe for terminals, XML and spreadsheet cells (see
 * escape.h).
 */
#include <stdint.h>
#include <stdio.h>

#include "base/escape.h"
#include "base/text.h"

/* Whether cp must be escaped under flags. */
static bool must_escape(uint32_t cp, unsigned flags)
{
    if (cp == QLOOP_U8_INVALID)
        return true;
    if (cp < 0x20)
        return !(cp == '\t' || (cp == '\n' && (flags & QLOOP_ESC_KEEP_NEWLINE)));
    if (cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
        return true;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
        return true;
    return (flags & QLOOP_ESC_XML) && (cp == 0xFFFE || cp == 0xFFFF);
}

size_t qloop_escape_controls(const char *s, size_t len, unsigned flags, struct qloop_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t escaped = 0, run = 0; /* run: start of the bytes not yet copied */
    for (size_t i = 0; i < len;) {
        if (u[i] >= 0x20 && u[i] < 0x7F) { /* the common case */
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        if (!must_escape(cp, flags)) {
            i += n;
            continue;
        }
        qloop_buf_append(out, s + run, i - run);
        if (cp == QLOOP_U8_INVALID || cp < 0x80)
            qloop_buf_printf(out, "\\x%02X", u[i]);
        else
            qloop_buf_printf(out, "\\u%04X", (unsigned)cp);
        escaped++;
        i += n;
        run = i;
    }
    qloop_buf_append(out, s + run, len - run);
    return escaped;
}

bool qloop_escape_formula_like(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (s[0] == '\t' || s[0] == '\r')
        return true;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i < len && (s[i] == '=' || s[i] == '+' || s[i] == '-' || s[i] == '@');
}

void qloop_escape_cell(const char *s, size_t len, struct qloop_buf *out)
{
    if (qloop_escape_formula_like(s, len))
        qloop_buf_putc(out, '\'');
    qloop_escape_controls(s, len, QLOOP_ESC_KEEP_NEWLINE | QLOOP_ESC_XML, out);
}
