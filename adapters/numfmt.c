/*
 * numfmt.c — a number in a spreadsheet cell as the text a person sees, by the
 * cell's number format (ECMA-376 Part 1, §18.8.30-31): see adapters.h.
 *
 * A workbook stores numbers and dates alike as doubles (a date is a serial
 * day count, the time its fraction); what Excel shows comes from the format
 * code of the cell's style. This file knows the built-in formats as a
 * Chinese (zh-CN) Excel shows them, tells date formats from number formats,
 * and renders both: dates and times token by token (y, m, d, h, s, AM/PM,
 * 上午/下午, elapsed [h], Chinese weekdays aaa/aaaa, literals and quoted
 * text), numbers by their placeholders (0 # ? with decimals, thousands
 * separators, percent, scientific notation, literal text around them), and
 * General as Excel's formula bar does (integers without ".0", at most 15
 * significant digits).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters.h"
#include "base/buf.h"
#include "base/clock.h"

const char *qloop_numfmt_builtin(unsigned long id)
{
    switch (id) {
    case 0: return "General";
    case 1: return "0";
    case 2: return "0.00";
    case 3: return "#,##0";
    case 4: return "#,##0.00";
    case 9: return "0%";
    case 10: return "0.00%";
    case 11: return "0.00E+00";
    case 12: return "# ?/?";
    case 13: return "# ?\?/??";
    case 14: return "yyyy/m/d";
    case 15: return "d-mmm-yy";
    case 16: return "d-mmm";
    case 17: return "mmm-yy";
    case 18: return "h:mm AM/PM";
    case 19: return "h:mm:ss AM/PM";
    case 20: return "h:mm";
    case 21: return "h:mm:ss";
    case 22: return "yyyy/m/d h:mm";
    case 27: case 36: case 50: case 52: case 57: return "yyyy\"年\"m\"月\"";
    case 28: case 29: case 51: case 53: case 54: case 58: return "m\"月\"d\"日\"";
    case 30: return "m-d-yy";
    case 31: return "yyyy\"年\"m\"月\"d\"日\"";
    case 32: return "h\"时\"mm\"分\"";
    case 33: return "h\"时\"mm\"分\"ss\"秒\"";
    case 34: case 55: return "上午/下午h\"时\"mm\"分\"";
    case 35: case 56: return "上午/下午h\"时\"mm\"分\"ss\"秒\"";
    case 37: return "#,##0 ;(#,##0)";
    case 38: return "#,##0 ;[Red](#,##0)";
    case 39: return "#,##0.00;(#,##0.00)";
    case 40: return "#,##0.00;[Red](#,##0.00)";
    case 45: return "mm:ss";
    case 46: return "[h]:mm:ss";
    case 47: return "mm:ss.0";
    case 48: return "##0.0E+0";
    case 49: return "@";
    default: return NULL;
    }
}

/* Length of the section starting at s (up to an unquoted ';' or the end). */
static size_t section_len(const char *s)
{
    const char *p = s;
    while (*p && *p != ';') {
        if (*p == '"') {
            p++;
            while (*p && *p != '"')
                p++;
            if (*p)
                p++;
        } else if (*p == '\\' && p[1]) {
            p += 2;
        } else if (*p == '[') {
            while (*p && *p != ']')
                p++;
            if (*p)
                p++;
        } else {
            p++;
        }
    }
    return (size_t)(p - s);
}

int qloop_numfmt_is_date(const char *code)
{
    if (!code)
        return 0;
    size_t n = section_len(code);
    int date = 0, digit = 0;
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (c == '"') {
            for (i++; i < n && code[i] != '"'; i++)
                ;
        } else if (c == '\\' || c == '_' || c == '*') {
            i++;
        } else if (c == '[') {
            /* [h] [mm] [ss] are elapsed time; [Red], [$-804], [>100] are not */
            char t = (char)tolower((unsigned char)code[i + 1]);
            if (t == 'h' || t == 'm' || t == 's')
                date = 1;
            while (i < n && code[i] != ']')
                i++;
        } else if (strchr("yYdDhHsSmM", c) || !strncasecmp(code + i, "aaa", 3)) {
            date = 1;
        } else if (c == '0' || c == '#' || c == '?') {
            /* "mm:ss.0": a 0 after a '.' that follows seconds is their fraction */
            if (!(c == '0' && i > 0 && code[i - 1] == '.' && date))
                digit = 1;
        } else if (!strncasecmp(code + i, "General", 7)) {
            i += 6;
        }
    }
    return date && !digit;
}

/* ---- dates ---------------------------------------------------------------------- */

struct civil {
    long y;
    int m, d, wday; /* wday: 0 = Sunday */
    long hh;        /* hours of the day, or all of them for [h] */
    int mi, ss;
    double frac;    /* fraction of the second */
    double days;    /* the serial, for elapsed times */
};

/* Breaks serial v into a civil date and time (1900 or 1904 date system),
 * rounding to the second unless fraction digits are wanted. */
static void serial_to_civil(double v, int date1904, int keep_frac, struct civil *c)
{
    memset(c, 0, sizeof *c);
    c->days = v;
    double day = floor(v);
    double secs = (v - day) * 86400.0;
    if (!keep_frac)
        secs = floor(secs + 0.5);
    if (secs >= 86400.0) {
        day += 1;
        secs -= 86400.0;
    }
    long isecs = (long)floor(secs);
    c->frac = secs - (double)isecs;
    c->hh = isecs / 3600;
    c->mi = (int)(isecs / 60 % 60);
    c->ss = (int)(isecs % 60);
    long serial = (long)day;
    if (!date1904 && serial == 60) { /* Excel's 1900-02-29, which never was */
        c->y = 1900, c->m = 2, c->d = 29, c->wday = 3;
        return;
    }
    if (!date1904 && serial == 0) { /* shown as 1900-01-00 */
        c->y = 1900, c->m = 1, c->d = 0, c->wday = 6;
        return;
    }
    /* days from 1970-01-01: 1900 system serial 61 is 1900-03-01 = -25508 */
    long z = date1904 ? serial - 24107 : serial < 60 ? serial - 25568 : serial - 25569;
    int y, m, d;
    qloop_civil_from_days(z, &y, &m, &d);
    c->y = y, c->m = m, c->d = d;
    c->wday = (int)(((z % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

static const char *const month_abbr[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const month_full[] = {"January", "February", "March",     "April",
                                         "May",     "June",     "July",      "August",
                                         "September", "October", "November", "December"};
static const char *const wday_abbr[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_full[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const wday_cn[] = {"日", "一", "二", "三", "四", "五", "六"};

/* Counts how often c (either case) repeats at s. */
static size_t run_of(const char *s, size_t n, char c)
{
    size_t k = 0;
    while (k < n && tolower((unsigned char)s[k]) == c)
        k++;
    return k;
}

/* 1 when the m-run at code[i] means minutes: an h before it (only literals
 * between) or an s after it. */
static int m_is_minutes(const char *code, size_t n, size_t i, size_t len)
{
    for (size_t j = i; j-- > 0;) {
        char c = (char)tolower((unsigned char)code[j]);
        if (c == 'h' || (c == ']' && j > 0 && tolower((unsigned char)code[j - 1]) == 'h'))
            return 1;
        if (c == 'y' || c == 'd' || c == 'm' || c == 's')
            break;
    }
    for (size_t j = i + len; j < n; j++) {
        char c = (char)tolower((unsigned char)code[j]);
        if (c == 's')
            return 1;
        if (c == 'y' || c == 'd' || c == 'h' || c == 'm')
            break;
    }
    return 0;
}

/* Renders serial v with the date section code[0..n). */
static void render_date(struct qloop_buf *out, double v, const char *code, size_t n, int date1904)
{
    int ampm = 0;
    for (size_t i = 0; i < n; i++)
        if (!strncasecmp(code + i, "AM/PM", 5) || !strncasecmp(code + i, "A/P", 3) ||
            !strncmp(code + i, "上午/下午", strlen("上午/下午")))
            ampm = 1;
    int frac_digits = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (tolower((unsigned char)code[i]) == 's' && code[i + 1] == '.')
            for (size_t j = i + 2; j < n && code[j] == '0'; j++)
                frac_digits++;
    struct civil c;
    serial_to_civil(v, date1904, frac_digits > 0, &c);
    for (size_t i = 0; i < n;) {
        char ch = code[i], lc = (char)tolower((unsigned char)ch);
        size_t k;
        if (ch == '"') {
            size_t j = i + 1;
            while (j < n && code[j] != '"')
                j++;
            qloop_buf_append(out, code + i + 1, j - i - 1);
            i = j < n ? j + 1 : j;
        } else if (ch == '\\' && i + 1 < n) {
            qloop_buf_putc(out, code[i + 1]);
            i += 2;
        } else if (ch == '_' && i + 1 < n) {
            qloop_buf_putc(out, ' ');
            i += 2;
        } else if (ch == '*' && i + 1 < n) {
            i += 2;
        } else if (ch == '[') {
            size_t j = i + 1;
            while (j < n && code[j] != ']')
                j++;
            char t = (char)tolower((unsigned char)code[i + 1]);
            double el = c.days;
            if (t == 'h')
                qloop_buf_printf(out, "%.0f", floor(el * 24 + 1e-9));
            else if (t == 'm')
                qloop_buf_printf(out, "%.0f", floor(el * 1440 + 1e-9));
            else if (t == 's')
                qloop_buf_printf(out, "%.0f", floor(el * 86400 + 0.5));
            else if (code[i + 1] == '$') { /* [$¥-804]: the currency text before '-' */
                size_t e = i + 2;
                while (e < j && code[e] != '-')
                    e++;
                qloop_buf_append(out, code + i + 2, e - i - 2);
            }
            i = j < n ? j + 1 : j;
        } else if (!strncasecmp(code + i, "AM/PM", 5)) {
            qloop_buf_append(out, c.hh < 12 ? "AM" : "PM", 2);
            i += 5;
        } else if (!strncasecmp(code + i, "A/P", 3)) {
            qloop_buf_putc(out, c.hh < 12 ? 'A' : 'P');
            i += 3;
        } else if (!strncmp(code + i, "上午/下午", strlen("上午/下午"))) {
            qloop_buf_append(out, c.hh < 12 ? "上午" : "下午", strlen("上午"));
            i += strlen("上午/下午");
        } else if (lc == 'y' || lc == 'e') {
            k = run_of(code + i, n - i, lc);
            if (lc == 'y' && k <= 2)
                qloop_buf_printf(out, "%02ld", c.y % 100);
            else
                qloop_buf_printf(out, "%ld", c.y);
            i += k;
        } else if (lc == 'm') {
            k = run_of(code + i, n - i, 'm');
            if (k <= 2 && m_is_minutes(code, n, i, k))
                qloop_buf_printf(out, k == 2 ? "%02d" : "%d", c.mi);
            else if (k <= 2)
                qloop_buf_printf(out, k == 2 ? "%02d" : "%d", c.m);
            else if (k == 3)
                qloop_buf_append(out, month_abbr[c.m - 1], 3);
            else if (k == 5)
                qloop_buf_putc(out, month_abbr[c.m - 1][0]);
            else
                qloop_buf_append(out, month_full[c.m - 1], strlen(month_full[c.m - 1]));
            i += k;
        } else if (lc == 'd') {
            k = run_of(code + i, n - i, 'd');
            if (k <= 2)
                qloop_buf_printf(out, k == 2 ? "%02d" : "%d", c.d);
            else if (k == 3)
                qloop_buf_append(out, wday_abbr[c.wday], 3);
            else
                qloop_buf_append(out, wday_full[c.wday], strlen(wday_full[c.wday]));
            i += k;
        } else if (lc == 'a' && (k = run_of(code + i, n - i, 'a')) >= 3) {
            if (k >= 4)
                qloop_buf_append(out, "星期", strlen("星期"));
            qloop_buf_append(out, wday_cn[c.wday], strlen(wday_cn[c.wday]));
            i += k;
        } else if (lc == 'h') {
            k = run_of(code + i, n - i, 'h');
            long h = c.hh % 24;
            if (ampm)
                h = h % 12 == 0 ? 12 : h % 12;
            qloop_buf_printf(out, k >= 2 ? "%02ld" : "%ld", h);
            i += k;
        } else if (lc == 's') {
            k = run_of(code + i, n - i, 's');
            qloop_buf_printf(out, k >= 2 ? "%02d" : "%d", c.ss);
            i += k;
            if (frac_digits && i < n && code[i] == '.') {
                char tmp[16];
                snprintf(tmp, sizeof tmp, "%.*f", frac_digits, c.frac);
                qloop_buf_append(out, tmp + 1, strlen(tmp + 1)); /* ".5" of "0.5" */
                i += 1 + (size_t)frac_digits;
            }
        } else {
            qloop_buf_putc(out, ch);
            i++;
        }
    }
}

/* ---- numbers ----------------------------------------------------------------------- */

void qloop_numfmt_general(struct qloop_buf *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        qloop_buf_printf(out, "%.0f", v == 0 ? 0.0 : v);
        return;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    double a = fabs(v);
    if (a >= 1e15 || (a < 1e-9 && a > 0)) {
        /* Excel writes 1.23457E+20: upper-case E and at least two exponent digits */
        char *e = strchr(tmp, 'e');
        if (e) {
            *e = 'E';
            int ex = atoi(e + 1);
            snprintf(e + 1, sizeof tmp - (size_t)(e + 1 - tmp), "%c%02d", ex < 0 ? '-' : '+', abs(ex));
        }
    } else if (strchr(tmp, 'e')) {
        snprintf(tmp, sizeof tmp, "%.*f", 15, v);
        char *p = tmp + strlen(tmp);
        while (p > tmp && p[-1] == '0')
            *--p = '\0';
        if (p > tmp && p[-1] == '.')
            p[-1] = '\0';
    }
    qloop_buf_append(out, tmp, strlen(tmp));
}

/* Renders v (already without sign when the section is the negative one)
 * with the number section code[0..n). */
static void render_number(struct qloop_buf *out, double v, const char *code, size_t n)
{
    /* the number's placeholders: the first run of 0 # ? , . % E+ */
    size_t first = n, last = 0;
    int int0 = 0, dec0 = 0, dec_all = 0, comma = 0, in_dec = 0, percent = 0, sci = 0, sci_digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (c == '"') {
            for (i++; i < n && code[i] != '"'; i++)
                ;
            continue;
        }
        if (c == '\\' || c == '_' || c == '*') {
            i++;
            continue;
        }
        if (c == '[') {
            while (i < n && code[i] != ']')
                i++;
            continue;
        }
        if (c == '%') {
            percent++;
            continue;
        }
        if ((c == 'E' || c == 'e') && i + 1 < n && (code[i + 1] == '+' || code[i + 1] == '-') &&
            first < n) {
            sci = 1;
            i += 2;
            while (i < n && (code[i] == '0' || code[i] == '#'))
                sci_digits++, last = i++;
            i--;
            continue;
        }
        if (c == '0' || c == '#' || c == '?') {
            if (first == n)
                first = i;
            last = i;
            if (in_dec) {
                dec_all++;
                if (c == '0')
                    dec0 = dec_all;
            } else if (c == '0') {
                int0++;
            }
        } else if (c == '.' && first < n && !in_dec) {
            in_dec = 1;
            last = i;
        } else if (c == ',' && first < n && !in_dec) {
            comma = 1;
        }
    }
    if (first == n) { /* no placeholder: the literal text alone */
        render_date(out, 0, code, n, 0); /* prints literals; no date tokens here */
        return;
    }
    for (int k = 0; k < percent; k++)
        v *= 100;
    char num[400];
    if (sci) {
        int ex = v == 0 ? 0 : (int)floor(log10(fabs(v)));
        double mant = v / pow(10, ex);
        char m[64];
        snprintf(m, sizeof m, "%.*f", dec_all, mant);
        if (fabs(atof(m)) >= 10) {
            ex++;
            snprintf(m, sizeof m, "%.*f", dec_all, v / pow(10, ex));
        }
        snprintf(num, sizeof num, "%sE%c%0*d", m, ex < 0 ? '-' : '+', sci_digits ? sci_digits : 1, abs(ex));
    } else {
        char raw[360];
        snprintf(raw, sizeof raw, "%.*f", dec_all, v);
        char *dot = strchr(raw, '.');
        /* drop optional trailing decimals (#) down to the required ones (0) */
        if (dot) {
            char *e = raw + strlen(raw);
            while (e > dot + 1 + dec0 && e[-1] == '0')
                *--e = '\0';
            if (e == dot + 1)
                *dot = '\0', dot = NULL;
        }
        const char *ip = raw[0] == '-' ? raw + 1 : raw;
        size_t ilen = dot ? (size_t)(dot - ip) : strlen(ip);
        char *w = num;
        if (raw[0] == '-')
            *w++ = '-';
        if (ilen == 1 && ip[0] == '0' && int0 == 0) /* "#.00": no leading zero */
            ilen = 0, ip++;
        for (size_t z = ilen; z < (size_t)int0; z++) /* "000": zero-padded */
            *w++ = '0';
        for (size_t i = 0; i < ilen; i++) {
            *w++ = ip[i];
            size_t left = ilen - 1 - i;
            if (comma && left > 0 && left % 3 == 0)
                *w++ = ',';
        }
        *w = '\0';
        if (dot)
            snprintf(w, sizeof num - (size_t)(w - num), "%s", dot);
    }
    /* literals before and after the placeholders */
    render_date(out, 0, code, first, 0);
    qloop_buf_append(out, num, strlen(num));
    size_t tail = last + 1;
    while (tail < n && (code[tail] == '0' || code[tail] == '#' || code[tail] == '?' ||
                        code[tail] == ',' || code[tail] == '.'))
        tail++;
    render_date(out, 0, code + tail, n - tail, 0);
}

void qloop_numfmt_render(struct qloop_buf *out, double v, const char *code, int date1904)
{
    if (!code || !*code || !strcasecmp(code, "General") || !strcmp(code, "@")) {
        qloop_numfmt_general(out, v);
        return;
    }
    /* the section for v: positive; negative (shown without its sign); zero */
    const char *sec[4] = {code, NULL, NULL, NULL};
    size_t len[4] = {section_len(code), 0, 0, 0};
    size_t ns = 1;
    while (ns < 4 && sec[ns - 1][len[ns - 1]] == ';') {
        sec[ns] = sec[ns - 1] + len[ns - 1] + 1;
        len[ns] = section_len(sec[ns]);
        ns++;
    }
    size_t k = 0;
    int neg = v < 0;
    if (neg && ns >= 2)
        k = 1, v = -v;
    else if (v == 0 && ns >= 3)
        k = 2;
    char part[512];
    snprintf(part, sizeof part, "%.*s", (int)(len[k] < sizeof part - 1 ? len[k] : sizeof part - 1), sec[k]);
    if (!strcasecmp(part, "General") || !strcmp(part, "@")) {
        qloop_numfmt_general(out, v);
        return;
    }
    if (qloop_numfmt_is_date(part)) {
        if (v < 0) { /* Excel shows ##### for a negative date: keep the number */
            qloop_numfmt_general(out, v);
            return;
        }
        render_date(out, v, part, strlen(part), date1904);
        return;
    }
    render_number(out, v, part, strlen(part));
}
