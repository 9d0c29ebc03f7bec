/*
 * mask.c — masking (脱敏) of personal data: the C side of the `mask` table.
 *
 * Every function works on characters, not bytes: a value is read as UTF-8,
 * and a byte that does not begin a well-formed sequence counts as one
 * character of its own. Characters that are kept are copied, masked ones
 * become one '*' each; a kept character that is such an invalid byte is
 * written as '*' too, so the output is always valid UTF-8 and never carries
 * raw bytes of a malformed value. A value that does not have the shape a
 * function expects is masked by mask_generic (first and last character kept),
 * so nothing leaks because it was malformed.
 *
 * The rules, by function:
 *   mask_idcard   18 chars (17 digits + digit/X) or 15 digits: the 6-digit
 *                 region kept, then one '*' per character but the last, which
 *                 is kept: 330102***********X, 330102********1.
 *   mask_phone    only digits and + - ( ) space, at least 8 characters: the
 *                 last 4 kept, and the first 3 when that still masks at least
 *                 4 (11 and more characters: 138****5678); with 8 to 10
 *                 characters as many leading ones as leave 4 masked
 *                 (88886666 → ****6666, 0571888866 → 05****8866).
 *   mask_name     first character kept (张三 → 张*, 欧阳 → 欧*); a compound
 *                 surname of the list below is kept whole when something
 *                 follows it (欧阳修 → 欧阳*); a single character → "*".
 *   mask_address  see mask_address below: up to the district, town or street
 *                 kept, then a fixed "****".
 *   mask_generic  1 char → "*"; 2 → first + "*"; else first + one '*' per
 *                 inner character + last.
 *   mask_sensitive  chooses by shape, see there.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/mask.h"
#include "base/text.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Makes room for n more bytes in out, keeping it NUL-terminated (a buffer
 * that was only reserved has no NUL yet). */
static void make_room(struct qloop_buf *out, size_t n)
{
    qloop_buf_reserve(out, n);
    out->ptr[out->len] = '\0';
}

/* Bytes of ASCII (below 0x80) from u[i] on, before len: words of 8 at a
 * time, then byte by byte. */
static size_t ascii_run(const unsigned char *u, size_t len, size_t i)
{
    size_t j = i;
    while (len - j >= 8) {
        uint64_t w;
        memcpy(&w, u + j, 8);
        if (w & 0x8080808080808080ull)
            break;
        j += 8;
    }
    while (j < len && u[j] < 0x80)
        j++;
    return j - i;
}

/* Number of characters in s[0..len): each ASCII byte one, counted by runs;
 * anything else as qloop_utf8_decode reads it (an invalid byte is one). */
static size_t u8_count(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            size_t r = ascii_run(u, len, i);
            n += r;
            i += r;
            continue;
        }
        uint32_t cp;
        i += qloop_utf8_decode(u, len, i, &cp);
        n++;
    }
    return n;
}

/* Appends the first `head` and the last `tail` of the `count` characters of s
 * as they are (an invalid byte as '*') and one '*' for each other character.
 * The caller makes sure head + tail <= count. Writes straight into out (the
 * output is never longer than s: each character becomes itself or one
 * byte); a run of ASCII characters is split at most in three (kept, masked,
 * kept) and each part copied or filled at once. */
static void keep_ends(const char *s, size_t len, size_t count, size_t head, size_t tail,
                      struct qloop_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    make_room(out, len);
    char *w = out->ptr + out->len;
    const size_t mask_end = count - tail; /* characters [head, mask_end) are masked */
    size_t idx = 0;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            size_t r = ascii_run(u, len, i), end = idx + r;
            size_t kept1 = head > idx ? (head < end ? head : end) : idx; /* [idx, kept1) kept */
            size_t masked = mask_end < kept1 ? kept1 : (mask_end < end ? mask_end : end);
            memcpy(w, s + i, kept1 - idx);
            w += kept1 - idx;
            memset(w, '*', masked - kept1);
            w += masked - kept1;
            memcpy(w, s + i + (masked - idx), end - masked);
            w += end - masked;
            idx = end;
            i += r;
            continue;
        }
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        if ((idx < head || idx >= mask_end) && cp != QLOOP_U8_INVALID) {
            memcpy(w, s + i, n);
            w += n;
        } else {
            *w++ = '*';
        }
        idx++;
        i += n;
    }
    out->len = (size_t)(w - out->ptr);
    out->ptr[out->len] = '\0';
}

/* Masks any text: "" stays "", 1 character → "*", 2 → first + "*", longer →
 * first + one '*' per inner character + last. */
void mask_generic(const char *s, size_t len, struct qloop_buf *out)
{
    size_t n = u8_count(s, len);
    if (n <= 1)
        keep_ends(s, len, n, 0, 0, out);
    else if (n == 2)
        keep_ends(s, len, n, 1, 0, out);
    else
        keep_ends(s, len, n, 1, 1, out);
}

/* true for an ASCII digit. */
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* true when s[0..len) has the shape of a resident identity number: 18
 * characters (17 digits, then a digit or X/x) or 15 digits. */
static bool idcard_shape(const char *s, size_t len)
{
    if (len != 15 && len != 18)
        return false;
    for (size_t i = 0; i + 1 < len; i++)
        if (!is_digit(s[i]))
            return false;
    char last = s[len - 1];
    return is_digit(last) || (len == 18 && (last == 'X' || last == 'x'));
}

/* Identity number: the region (first 6) and the last character kept. */
void mask_idcard(const char *s, size_t len, struct qloop_buf *out)
{
    if (idcard_shape(s, len))
        keep_ends(s, len, len, 6, 1, out);
    else
        mask_generic(s, len, out);
}

/* Phone number; see the file comment for the rule. */
void mask_phone(const char *s, size_t len, struct qloop_buf *out)
{
    bool digits = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_digit(c)) {
            digits = true;
        } else if (c != '+' && c != '-' && c != '(' && c != ')' && c != ' ') {
            mask_generic(s, len, out);
            return;
        }
    }
    if (!digits || len < 8) {
        mask_generic(s, len, out);
        return;
    }
    size_t head = len >= 11 ? 3 : len - 8;
    keep_ends(s, len, len, head, 4, out);
}

/* Compound surnames kept whole by mask_name (each two 3-byte characters). */
static const char *const compound_surnames[] = {
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "令狐", "夏侯", "端木", "西门", "南宫", "独孤", "澹台", "轩辕",
};

/* Personal name: the surname kept, each further character → '*'. */
void mask_name(const char *s, size_t len, struct qloop_buf *out)
{
    size_t n = u8_count(s, len);
    size_t head = n > 1 ? 1 : 0;
    if (n > 2 && len >= 6) {
        for (size_t i = 0; i < sizeof compound_surnames / sizeof compound_surnames[0]; i++)
            if (memcmp(s, compound_surnames[i], 6) == 0)
                head = 2;
    }
    keep_ends(s, len, n, head, 0, out);
}

/* Window, in characters, in which mask_address looks for division markers. */
enum { ADDRESS_WINDOW = 12 };

/* Address. Within the first ADDRESS_WINDOW characters, the first occurrence
 * of each of the markers 省, 市, 区, 县, 镇 and 街道 is found ("区" of
 * "小区", a housing estate, does not count); the text is kept through the
 * marker that ends last among these, and everything after it is replaced by a
 * fixed "****" (so the length of the rest is not shown either):
 *   浙江省杭州市西湖区文三路100号     → 浙江省杭州市西湖区****
 *   杭州市西湖区西溪街道文三路100号   → 杭州市西湖区西溪街道****
 *   桐庐县分水镇某村5组              → 桐庐县分水镇****
 *   杭州市阳光小区3幢                → 杭州市****
 * An address that ends at that marker has nothing below the district and is
 * returned unchanged; one without any marker is masked by mask_generic. */
void mask_address(const char *s, size_t len, struct qloop_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t keep = 0; /* byte length of the kept prefix, 0 when no marker */
    bool seen[6] = {false};
    uint32_t prev = 0;
    size_t idx = 0;
    for (size_t i = 0; i < len && idx < ADDRESS_WINDOW; idx++) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, len, i, &cp);
        int which = -1;
        switch (cp) {
        case 0x7701: which = 0; break;                  /* 省 */
        case 0x5E02: which = 1; break;                  /* 市 */
        case 0x533A: which = prev == 0x5C0F ? -1 : 2; break; /* 区, not 小区 */
        case 0x53BF: which = 3; break;                  /* 县 */
        case 0x9547: which = 4; break;                  /* 镇 */
        case 0x9053: which = prev == 0x8857 ? 5 : -1; break; /* 道 of 街道 */
        default: break;
        }
        if (which >= 0 && !seen[which]) {
            seen[which] = true;
            keep = i + n;
        }
        prev = cp;
        i += n;
    }
    if (keep == 0) {
        mask_generic(s, len, out);
        return;
    }
    /* Copy the kept prefix with invalid bytes as '*'. */
    for (size_t i = 0; i < keep;) {
        uint32_t cp;
        size_t n = qloop_utf8_decode(u, keep, i, &cp);
        if (cp == QLOOP_U8_INVALID)
            qloop_buf_putc(out, '*');
        else
            qloop_buf_append(out, s + i, n);
        i += n;
    }
    if (keep < len)
        qloop_buf_append(out, "****", 4);
}

/* true for the 31 characters a unified social credit code (GB 32100) uses. */
static bool uscc_char(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Y' && !strchr("IOSVZ", c));
}

/* true when s has the shape of a unified social credit code: 18 characters
 * of its alphabet (upper case). */
static bool uscc_shape(const char *s, size_t len)
{
    if (len != 18)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!uscc_char(s[i]))
            return false;
    return true;
}

/* true when s looks like a phone number: white space, dashes and parentheses
 * aside, either a mobile number (11 digits starting 1[3-9], optionally after
 * +86, 0086 or 86) or a landline with its area code (0 then 9 to 11 more
 * digits). */
static bool phone_shape(const char *s, size_t len)
{
    char d[24];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '-' || c == '(' || c == ')')
            continue;
        if (!is_digit(c) && !(c == '+' && n == 0))
            return false;
        if (n == sizeof d)
            return false;
        d[n++] = c;
    }
    const char *p = d;
    if (n == 14 && memcmp(p, "+86", 3) == 0)
        p += 3, n -= 3;
    else if (n == 15 && memcmp(p, "0086", 4) == 0)
        p += 4, n -= 4;
    else if (n == 13 && memcmp(p, "86", 2) == 0)
        p += 2, n -= 2;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(p[i]))
            return false;
    if (n == 11 && p[0] == '1' && p[1] >= '3' && p[1] <= '9')
        return true;
    return n >= 10 && n <= 12 && p[0] == '0' && p[1] != '0';
}

/* true for a CJK unified ideograph (basic block, extension A, compatibility
 * ideographs, and the supplementary planes' extensions). */
static bool is_han(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* Masks a value of a `sensitive` field, choosing by its shape, first match
 * wins:
 *   identity number (15 digits, or 17 digits + digit/X)   → mask_idcard
 *   phone number (see phone_shape)                         → mask_phone
 *   unified social credit code (18 chars of its alphabet)  → first 8 (the
 *       registering authority, the kind of body and its region) and the last
 *       (check character) kept: 91330100*********X
 *   2 to 4 Chinese characters                              → mask_name
 *   more than 6 characters, containing 省 市 区 县 路 街 or 号 → mask_address
 *   anything else                                          → mask_generic */
void mask_sensitive(const char *s, size_t len, struct qloop_buf *out)
{
    if (idcard_shape(s, len)) {
        mask_idcard(s, len, out);
        return;
    }
    if (phone_shape(s, len)) {
        mask_phone(s, len, out);
        return;
    }
    if (uscc_shape(s, len)) {
        keep_ends(s, len, len, 8, 1, out);
        return;
    }

    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    bool all_han = true, marker = false;
    for (size_t i = 0; i < len; n++) {
        if (u[i] < 0x80) { /* a run of ASCII: no Chinese character, no marker */
            size_t r = ascii_run(u, len, i);
            all_han = false;
            n += r - 1;
            i += r;
            continue;
        }
        uint32_t cp;
        i += qloop_utf8_decode(u, len, i, &cp);
        if (!is_han(cp))
            all_han = false;
        switch (cp) {
        case 0x7701: case 0x5E02: case 0x533A: case 0x53BF: /* 省 市 区 县 */
        case 0x8DEF: case 0x8857: case 0x53F7:             /* 路 街 号 */
            marker = true;
            break;
        default:
            break;
        }
    }
    if (all_han && n >= 2 && n <= 4) {
        mask_name(s, len, out);
        return;
    }
    if (marker && n > 6) {
        mask_address(s, len, out);
        return;
    }
    mask_generic(s, len, out);
}

/* ---- free text ------------------------------------------------------------ */

/* What a masked span of free text is, and so what of it stays readable. */
enum span_kind {
    SPAN_VALUE,    /* one of the values given: masked as mask_sensitive would */
    SPAN_DIGITS,   /* a number found by its shape: digits masked, head/tail kept */
    SPAN_USCC,     /* a credit code: first 8 and the last kept */
    SPAN_OVERLAP,  /* spans that overlapped, merged: mask_generic */
};

struct span {
    size_t start, end; /* bytes [start, end) of the text */
    enum span_kind kind;
    unsigned char head, tail; /* SPAN_DIGITS: digits (or X) kept at each end */
};

/* A growable list of spans that lives on the stack until it outgrows it. */
struct spans {
    struct span *v, local[16];
    size_t n, cap;
};

static void spans_add(struct spans *l, size_t start, size_t end, enum span_kind kind,
                      unsigned head, unsigned tail)
{
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        struct span *v = qloop_xmalloc(cap * sizeof *v);
        memcpy(v, l->v, l->n * sizeof *v);
        if (l->v != l->local)
            free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct span){start, end, kind, (unsigned char)head, (unsigned char)tail};
}

/* The digit at s[i] (ASCII or full-width ０-９) in *d with its byte length;
 * 0 when s[i] does not begin a digit. */
static size_t digit_at(const char *s, size_t len, size_t i, char *d)
{
    unsigned char c = (unsigned char)s[i];
    if (c >= '0' && c <= '9') {
        *d = (char)c;
        return 1;
    }
    if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBC &&
        (unsigned char)s[i + 2] >= 0x90 && (unsigned char)s[i + 2] <= 0x99) {
        *d = (char)('0' + ((unsigned char)s[i + 2] - 0x90));
        return 3;
    }
    return 0;
}

/* Whether s[i] begins an X that can end an identity number (X, x, Ｘ, ｘ);
 * its byte length, else 0. */
static size_t x_at(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == 'X' || c == 'x')
        return 1;
    if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBC &&
        ((unsigned char)s[i + 2] == 0xB8))
        return 3;
    if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBD &&
        ((unsigned char)s[i + 2] == 0x98))
        return 3;
    return 0;
}

/* Whether the character ending just before byte i is a digit. */
static bool digit_before(const char *s, size_t len, size_t i)
{
    char d;
    if (i >= 1 && digit_at(s, len, i - 1, &d) == 1)
        return true;
    return i >= 3 && digit_at(s, len, i - 3, &d) == 3;
}

/* The Luhn check over n digits. */
static bool luhn_ok(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned v = (unsigned)(d[n - 1 - k] - '0');
        if (k % 2 == 1)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return sum % 10 == 0;
}

/* What a number of n digits (d; has_x: an X follows them) is, as the digits
 * kept at its head and tail; false when it is none of the shapes masked. */
static bool number_shape(const char *d, size_t n, bool has_x, unsigned *head, unsigned *tail)
{
    if (has_x) { /* 17 digits + X */
        *head = 6, *tail = 1;
        return n == 17;
    }
    if ((n == 13 && memcmp(d, "86", 2) == 0) || (n == 15 && memcmp(d, "0086", 4) == 0)) {
        const char *m = d + n - 11;
        *head = (unsigned)(n - 8), *tail = 4;
        if (m[0] == '1' && m[1] >= '3' && m[1] <= '9')
            return true;
    }
    if (n == 18 || n == 15) { /* identity numbers */
        *head = 6, *tail = 1;
        return true;
    }
    if (n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9') {
        *head = 3, *tail = 4;
        return true;
    }
    if (n >= 16 && n <= 19 && luhn_ok(d, n)) {
        *head = 6, *tail = 4;
        return true;
    }
    if (n >= 10 && n <= 12 && d[0] == '0' && d[1] != '0') {
        *head = 3, *tail = 4;
        return true;
    }
    return false;
}

/* true for an ASCII letter or digit. */
static bool isalnum_ascii(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

enum { GROUP_MAX = 24 }; /* digits in one number, separators aside */

/* One run of adjacent digits in a group (scan_number). */
struct digit_run {
    size_t start, end; /* bytes */
    size_t nd;         /* digits in it */
    char d[GROUP_MAX]; /* its first GROUP_MAX digits */
};

enum { RUNS_MAX = 32 }; /* runs looked at together; a longer group is cut */

/* Reads the run of digits at s[p] into r; returns the byte after it. */
static size_t read_run(const char *s, size_t len, size_t p, struct digit_run *r)
{
    char c;
    size_t w;
    r->start = p;
    r->nd = 0;
    while (p < len && (w = digit_at(s, len, p, &c)) > 0) {
        if (r->nd < GROUP_MAX)
            r->d[r->nd] = c;
        r->nd++;
        p += w;
    }
    r->end = p;
    return p;
}

/* Looks at the numbers that begin at s[i] (a digit with no digit before
 * it): the runs of digits there joined by one or two separators (space,
 * dash, parentheses). From each run, the longest sequence of consecutive
 * runs whose digits (and an X right after 17 of them) have a masked shape
 * is one span; a run that starts none is passed over. Adds the spans found;
 * returns the byte just past the runs looked at. */
static size_t scan_number(const char *s, size_t len, size_t i, struct spans *out)
{
    struct digit_run runs[RUNS_MAX];
    size_t nr = 0, p = i;
    char c;
    while (nr < RUNS_MAX) {
        p = read_run(s, len, p, &runs[nr++]);
        size_t sep = 0;
        while (sep < 2 && p + sep < len && s[p + sep] != '\0' && strchr(" -()", s[p + sep]))
            sep++;
        if (sep == 0 || p + sep >= len || digit_at(s, len, p + sep, &c) == 0)
            break;
        p += sep;
    }
    size_t end = runs[nr - 1].end;
    for (size_t r = 0; r < nr;) {
        char d[GROUP_MAX];
        size_t nd = 0, best = 0, best_end = 0;
        unsigned bh = 0, bt = 0;
        for (size_t t = r; t < nr && nd + runs[t].nd <= GROUP_MAX; t++) {
            memcpy(d + nd, runs[t].d, runs[t].nd);
            nd += runs[t].nd;
            unsigned head, tail;
            size_t xw = nd == 17 && runs[t].end < len ? x_at(s, len, runs[t].end) : 0;
            if (xw > 0 && runs[t].end + xw < len && isalnum_ascii(s[runs[t].end + xw]))
                xw = 0;
            if (xw > 0 && number_shape(d, nd, true, &head, &tail)) {
                best = t + 1, best_end = runs[t].end + xw, bh = head, bt = tail;
            } else if (number_shape(d, nd, false, &head, &tail)) {
                best = t + 1, best_end = runs[t].end, bh = head, bt = tail;
            }
        }
        if (best) {
            spans_add(out, runs[r].start, best_end, SPAN_DIGITS, bh, bt);
            if (best_end > end)
                end = best_end;
            r = best;
        } else {
            r++;
        }
    }
    return end;
}

/* Finds needle (nlen > 0 bytes) in hay[from..len); returns its offset or len. */
static size_t find_bytes(const char *hay, size_t len, size_t from, const char *needle,
                         size_t nlen)
{
    while (from + nlen <= len) {
        const char *p = memchr(hay + from, needle[0], len - from - nlen + 1);
        if (!p)
            return len;
        size_t at = (size_t)(p - hay);
        if (memcmp(p, needle, nlen) == 0)
            return at;
        from = at + 1;
    }
    return len;
}

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1; /* the longer first */
    return (int)x->kind - (int)y->kind;
}

/* Appends s[0..len) with its digits (and a trailing X) masked but the first
 * head and last tail of them; everything else in it (separators) kept. */
static void mask_digit_span(const char *s, size_t len, unsigned head, unsigned tail,
                            struct qloop_buf *out)
{
    size_t total = 0;
    char d;
    for (size_t i = 0; i < len;) {
        size_t w = digit_at(s, len, i, &d);
        if (!w)
            w = x_at(s, len, i);
        if (w) {
            total++;
            i += w;
        } else {
            i++;
        }
    }
    size_t idx = 0;
    for (size_t i = 0; i < len;) {
        size_t w = digit_at(s, len, i, &d);
        if (!w)
            w = x_at(s, len, i);
        if (!w) {
            qloop_buf_putc(out, s[i]);
            i++;
            continue;
        }
        if (idx < head || idx + tail >= total)
            qloop_buf_append(out, s + i, w);
        else
            qloop_buf_putc(out, '*');
        idx++;
        i += w;
    }
}

/* The first byte from u[i] on (len when none) that is an ASCII letter or
 * digit or 0xEF (the lead byte of a full-width digit or X): the only bytes
 * at which mask_text's shapes can begin. The bytes skipped (Chinese text,
 * punctuation) are passed 16 at a time with SSE2 where the target has it,
 * else one by one against a bitmap. */
static size_t next_shape_start(const unsigned char *u, size_t len, size_t i)
{
    static const uint64_t starts[4] = {
        0x03FF000000000000ull, /* '0'-'9' */
        0x07FFFFFE07FFFFFEull, /* 'A'-'Z', 'a'-'z' */
        0,
        (uint64_t)1 << (0xEF - 0xC0),
    };
#ifdef __SSE2__
    const __m128i d_lo = _mm_set1_epi8('0' - 1), d_hi = _mm_set1_epi8('9' + 1);
    const __m128i a_lo = _mm_set1_epi8('a' - 1), a_hi = _mm_set1_epi8('z' + 1);
    const __m128i bit20 = _mm_set1_epi8(0x20), ef = _mm_set1_epi8((char)0xEF);
    while (len - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        /* signed compares: bytes >= 0x80 are negative, never in a range */
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d_lo), _mm_cmpgt_epi8(d_hi, v));
        __m128i low = _mm_or_si128(v, bit20); /* letters folded to lower case */
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(low, a_lo), _mm_cmpgt_epi8(a_hi, low));
        __m128i m = _mm_or_si128(_mm_or_si128(digit, letter), _mm_cmpeq_epi8(v, ef));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < len && !((starts[u[i] >> 6] >> (u[i] & 63)) & 1))
        i++;
    return i;
}

size_t mask_text(const char *s, size_t len, const struct mask_value *values, size_t n,
                 struct qloop_buf *out)
{
    struct spans l = {.n = 0, .cap = 16};
    l.v = l.local;
    /* The values given, wherever they occur. */
    for (size_t k = 0; k < n; k++) {
        const char *v = values[k].s;
        size_t vlen = values[k].len;
        uint32_t cp; /* fewer than two characters: left to the shapes */
        if (!v || vlen == 0 || qloop_utf8_decode((const unsigned char *)v, vlen, 0, &cp) >= vlen)
            continue;
        for (size_t at = find_bytes(s, len, 0, v, vlen); at < len;
             at = find_bytes(s, len, at + vlen, v, vlen))
            spans_add(&l, at, at + vlen, SPAN_VALUE, 0, 0);
    }
    /* Numbers and codes, by shape. */
    for (size_t i = 0; i < len;) {
        i = next_shape_start((const unsigned char *)s, len, i);
        if (i >= len)
            break;
        char d;
        if (isalnum_ascii(s[i]) && (i == 0 || !isalnum_ascii(s[i - 1]))) {
            size_t j = i;
            while (j < len && isalnum_ascii(s[j]))
                j++;
            if (j - i == 18 && uscc_shape(s + i, 18) && !idcard_shape(s + i, 18)) {
                spans_add(&l, i, j, SPAN_USCC, 8, 1);
                i = j;
                continue;
            }
        }
        if (digit_at(s, len, i, &d) > 0 && !digit_before(s, len, i)) {
            i = scan_number(s, len, i, &l);
            continue;
        }
        i++;
    }
    if (l.n == 0) {
        qloop_buf_append(out, s, len);
        return 0;
    }
    /* In text order; overlapping spans become one. */
    qsort(l.v, l.n, sizeof l.v[0], span_cmp);
    size_t m = 0;
    for (size_t k = 1; k < l.n; k++) {
        struct span *cur = &l.v[m];
        if (l.v[k].start < cur->end) {
            if (l.v[k].end > cur->end || l.v[k].kind != cur->kind)
                cur->kind = l.v[k].end <= cur->end && cur->kind == SPAN_VALUE ? SPAN_VALUE
                                                                              : SPAN_OVERLAP;
            if (l.v[k].end > cur->end)
                cur->end = l.v[k].end;
        } else {
            l.v[++m] = l.v[k];
        }
    }
    m++;
    make_room(out, len);
    size_t at = 0;
    for (size_t k = 0; k < m; k++) {
        const struct span *sp = &l.v[k];
        qloop_buf_append(out, s + at, sp->start - at);
        const char *p = s + sp->start;
        size_t plen = sp->end - sp->start;
        switch (sp->kind) {
        case SPAN_VALUE:
            mask_sensitive(p, plen, out);
            break;
        case SPAN_DIGITS:
            mask_digit_span(p, plen, sp->head, sp->tail, out);
            break;
        case SPAN_USCC:
            keep_ends(p, plen, plen, 8, 1, out);
            break;
        case SPAN_OVERLAP:
        default:
            mask_generic(p, plen, out);
            break;
        }
        at = sp->end;
    }
    qloop_buf_append(out, s + at, len - at);
    if (l.v != l.local)
        free(l.v);
    return m;
}
