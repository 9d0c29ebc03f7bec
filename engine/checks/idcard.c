/*
 * idcard.c — GB 11643-1999 citizen identity numbers: validation (with the
 * ISO 7064 MOD 11-2 check character), parsing, and the upgrade of 15-digit
 * legacy numbers to 18 digits.
 *
 * idcard_valid runs once per record in nightly runs over millions of rows, so
 * it does no allocation and looks "today" up through a small per-thread cache
 * (see today_days) instead of reading the environment and formatting the
 * clock every time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/purity.h"
#include "checks/division.h"
#include "checks/idcard.h"

extern char **environ; /* POSIX: the process environment */

static const char R_LENGTH[] = "长度不是18位";
static const char R_LEGACY[] = "15位旧号码，请先用 idcard.upgrade 升级";
static const char R_CHARS[] = "含非法字符";
static const char R_LOWER_X[] = "含非法字符：校验码应为大写X";
static const char R_DATE[] = "出生日期无效";
static const char R_FUTURE[] = "出生日期晚于今天";
static const char R_CHECK[] = "校验码错误";
static const char R_REGION[] = "行政区划代码不存在";
static const char R_PARSE_LENGTH[] = "长度不是18位或15位";

static const int WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char CHECK_CHARS[] = "10X98765432";

static void set_reason(const char **reason, const char *r)
{
    if (reason)
        *reason = r;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* true when y-m-d (y >= 1) is a real Gregorian calendar date. */
static bool real_date(int y, int m, int d)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    int last = (m == 2 && is_leap(y)) ? 29 : dim[m - 1];
    return d <= last;
}

/* Today's day number (qloop_days_from_civil) in Asia/Shanghai, from
 * qloop_today(), the one clock, cached per thread. Notes no impure read
 * (base/purity.h): idcard_valid notes one only when its answer depends on
 * today.
 *
 * Reading QLOOP_NOW with getenv costs more than the whole check, so the cache
 * remembers where in `environ` the QLOOP_NOW entry was (or that there was
 * none) and is reused while the environment provably holds the same entry:
 * the same array, the same number of entries (its NULL terminator and its
 * last entry in place: nothing added or removed), and the same QLOOP_NOW
 * pointer with the same text (setenv and putenv replace the pointer; a
 * putenv buffer changed in place changes the text). A date that came from
 * the system clock (no valid QLOOP_NOW) also expires at the next Shanghai
 * midnight. Any change made through setenv, unsetenv, putenv or clearenv is
 * therefore seen on the very next call. */
struct today_cache {
    bool set;
    char **env;            /* environ when filled */
    size_t count;          /* its number of entries */
    const char *last;      /* its last entry, NULL when empty */
    long idx;              /* index of QLOOP_NOW=..., -1 when absent */
    const char *entry;     /* that entry */
    char value[64];        /* its text after '=' */
    bool from_system;      /* no valid QLOOP_NOW: expires at midnight */
    int64_t until;         /* end (exclusive, epoch seconds) when from_system */
    int64_t days;
};

static const char NOW_KEY[] = "QLOOP_NOW=";

static bool cache_current(const struct today_cache *c)
{
    char **env = environ;
    if (!c->set || env != c->env || !env || env[c->count] != NULL)
        return false;
    if (c->count > 0 && env[c->count - 1] != c->last)
        return false;
    if (c->idx >= 0 && (env[c->idx] != c->entry ||
                        strcmp(c->entry + sizeof NOW_KEY - 1, c->value) != 0))
        return false;
    return !c->from_system || (int64_t)time(NULL) < c->until;
}

static int64_t today_days(void)
{
    static _Thread_local struct today_cache cache;
    if (cache_current(&cache))
        return cache.days;
    uint64_t mark = qloop_purity_mark();
    int64_t days = qloop_today_days();
    qloop_impure_reads = mark; /* qloop_today's note taken back: idcard_valid notes it */
    if (days == INT64_MAX)
        return days; /* cannot happen: qloop_today always formats a date */

    struct today_cache c = {.set = true, .env = environ, .idx = -1, .days = days};
    if (c.env) {
        while (c.env[c.count])
            c.count++;
        c.last = c.count ? c.env[c.count - 1] : NULL;
        for (size_t i = 0; i < c.count; i++) {
            if (strncmp(c.env[i], NOW_KEY, sizeof NOW_KEY - 1) == 0) {
                c.idx = (long)i;
                c.entry = c.env[i];
                break;
            }
        }
    }
    int64_t t;
    if (c.entry) {
        const char *v = c.entry + sizeof NOW_KEY - 1;
        size_t vlen = strlen(v);
        if (vlen >= sizeof c.value)
            c.set = false; /* too long to remember: read it every time */
        else
            memcpy(c.value, v, vlen + 1);
        c.from_system = !*v || !qloop_parse_datetime(v, &t);
    } else {
        c.from_system = true;
    }
    /* Shanghai is UTC+8 all year: the day `days` ends at 16:00 UTC. */
    c.until = (days + 1) * 86400 - 8 * 3600;
    cache = c;
    return days;
}

char idcard_check_char(const char *body)
{
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (body[i] < '0' || body[i] > '9')
            return '\0';
        sum += (body[i] - '0') * WEIGHTS[i];
    }
    return CHECK_CHARS[sum % 11];
}

/* The reason why the 18 characters s are not digits + [0-9X], or NULL. */
static const char *shape18(const char *s)
{
    if (!all_digits(s, 17))
        return R_CHARS;
    char c = s[17];
    if (c == 'x')
        return R_LOWER_X;
    if ((c < '0' || c > '9') && c != 'X')
        return R_CHARS;
    return NULL;
}

bool idcard_valid(const char *s, size_t len, const char **reason)
{
    if (len != 18) {
        set_reason(reason, len == 15 && all_digits(s, 15) ? R_LEGACY : R_LENGTH);
        return false;
    }
    const char *bad = shape18(s);
    if (bad) {
        set_reason(reason, bad);
        return false;
    }
    int y = num(s + 6, 4), m = num(s + 10, 2), d = num(s + 12, 2);
    if (!real_date(y, m, d)) {
        set_reason(reason, R_DATE);
        return false;
    }
    /* The only answer that depends on today: a birth date after it. Every
     * other answer (this one's absence included) holds on every later day,
     * so only this one is noted as a read of today (base/purity.h), and the
     * verdict memo keeps the others for nights on that day or later
     * (run/memo.h: memo_chunk_stamp). */
    if (qloop_days_from_civil(y, m, d) > today_days()) {
        qloop_purity_bump();
        set_reason(reason, R_FUTURE);
        return false;
    }
    if (idcard_check_char(s) != s[17]) {
        set_reason(reason, R_CHECK);
        return false;
    }
    return true;
}

bool idcard_valid_region(const char *s, size_t len, const char **reason)
{
    if (!idcard_valid(s, len, reason))
        return false;
    if (!division_exists(s, 6)) {
        set_reason(reason, R_REGION);
        return false;
    }
    return true;
}

/* Fills out from division s[0..6), birth y-m-d and the sequence digit. */
static void fill_info(struct idcard_info *out, const char *s, int y, int m, int d, char seq,
                      bool legacy)
{
    memcpy(out->division, s, 6);
    out->division[6] = '\0';
    char *b = out->birth;
    b[0] = (char)('0' + y / 1000), b[1] = (char)('0' + y / 100 % 10);
    b[2] = (char)('0' + y / 10 % 10), b[3] = (char)('0' + y % 10);
    b[4] = '-';
    b[5] = (char)('0' + m / 10), b[6] = (char)('0' + m % 10);
    b[7] = '-';
    b[8] = (char)('0' + d / 10), b[9] = (char)('0' + d % 10);
    b[10] = '\0';
    out->sex = ((seq - '0') % 2) ? "男" : "女";
    out->legacy = legacy;
}

bool idcard_parse(const char *s, size_t len, struct idcard_info *out, const char **reason)
{
    if (len == 18) {
        const char *bad = shape18(s);
        if (bad) {
            set_reason(reason, bad);
            return false;
        }
        int y = num(s + 6, 4), m = num(s + 10, 2), d = num(s + 12, 2);
        if (!real_date(y, m, d)) {
            set_reason(reason, R_DATE);
            return false;
        }
        fill_info(out, s, y, m, d, s[16], false);
        return true;
    }
    if (len == 15) {
        if (!all_digits(s, 15)) {
            set_reason(reason, R_CHARS);
            return false;
        }
        int y = 1900 + num(s + 6, 2), m = num(s + 8, 2), d = num(s + 10, 2);
        if (!real_date(y, m, d)) {
            set_reason(reason, R_DATE);
            return false;
        }
        fill_info(out, s, y, m, d, s[14], true);
        return true;
    }
    set_reason(reason, R_PARSE_LENGTH);
    return false;
}

bool idcard_upgrade(const char *s, size_t len, char out[19], const char **reason)
{
    if (len == 18) {
        if (!idcard_valid(s, len, reason))
            return false;
        memcpy(out, s, 18);
        out[18] = '\0';
        return true;
    }
    if (len != 15) {
        set_reason(reason, R_PARSE_LENGTH);
        return false;
    }
    struct idcard_info info;
    if (!idcard_parse(s, len, &info, reason))
        return false;
    memcpy(out, s, 6);
    out[6] = '1', out[7] = '9';
    memcpy(out + 8, s + 6, 9);
    out[17] = idcard_check_char(out);
    out[18] = '\0';
    return true;
}
