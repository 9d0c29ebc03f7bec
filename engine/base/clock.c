/*
 * clock.c — the one clock (QLOOP_NOW or the system's) and civil dates in
 * Asia/Shanghai. China has kept UTC+8 without daylight saving since 1992, so
 * local time is UTC plus eight hours: no dependence on the machine's TZ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/purity.h"

enum { SHANGHAI_OFFSET = 8 * 3600 };

int64_t qloop_days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void qloop_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool qloop_parse_date(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-')
        return false;
    int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
    if (yy < 1 || mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(yy, mm))
        return false;
    if (s[10] != '\0')
        return false;
    *y = yy, *m = mm, *d = dd;
    return true;
}

bool qloop_parse_datetime(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n < 10)
        return false;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    int y, m, d;
    if (!qloop_parse_date(date, &y, &m, &d))
        return false;
    int64_t secs = qloop_days_from_civil(y, m, d) * 86400;
    const char *p = s + 10;
    int offset = SHANGHAI_OFFSET;
    if (*p == 'T' || *p == ' ') {
        p++;
        int hh = digits(p, 2), mi = -1, ss = 0;
        if (hh < 0 || hh > 23 || p[2] != ':')
            return false;
        mi = digits(p + 3, 2);
        if (mi < 0 || mi > 59)
            return false;
        p += 5;
        if (*p == ':') {
            ss = digits(p + 1, 2);
            if (ss < 0 || ss > 60)
                return false;
            p += 3;
            if (*p == '.') { /* fractional seconds are dropped */
                p++;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
        }
        secs += hh * 3600 + mi * 60 + ss;
        if (*p == 'Z') {
            offset = 0;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            int oh = digits(p + 1, 2), om;
            if (oh < 0 || oh > 14)
                return false;
            if (p[3] == ':') {
                om = digits(p + 4, 2);
                p += 6;
            } else {
                om = digits(p + 3, 2);
                p += 5;
            }
            if (om < 0 || om > 59)
                return false;
            offset = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0')
        return false;
    *out = secs - offset;
    return true;
}

static bool now_from_env(int64_t *out)
{
    const char *env = getenv("QLOOP_NOW");
    if (!env || !*env)
        return false;
    return qloop_parse_datetime(env, out);
}

int64_t qloop_now(void)
{
    qloop_purity_bump(); /* a rule that reads the clock is not reused (purity.h) */
    int64_t t;
    if (now_from_env(&t))
        return t;
    return (int64_t)time(NULL);
}

int qloop_clock_check(char *msg, size_t size)
{
    const char *env = getenv("QLOOP_NOW");
    int64_t t;
    if (!env || !*env || qloop_parse_datetime(env, &t))
        return 0;
    snprintf(msg, size,
             "环境变量 QLOOP_NOW=\"%s\" 不是有效的 ISO 8601 时间；请写成 2024-09-27T10:00:00+08:00",
             env);
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void qloop_format_datetime(int64_t t, char out[32])
{
    int64_t local = t + SHANGHAI_OFFSET;
    int64_t days = floor_div(local, 86400);
    int64_t rem = local - days * 86400;
    int y, m, d;
    qloop_civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", (y % 10000 + 10000) % 10000, m % 100,
             d % 100, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

void qloop_format_date(int64_t t, char out[11])
{
    int y, m, d;
    qloop_civil_from_days(floor_div(t + SHANGHAI_OFFSET, 86400), &y, &m, &d);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (y % 10000 + 10000) % 10000, m % 100, d % 100);
    memcpy(out, tmp, 11);
}

void qloop_today(char out[11]) { qloop_format_date(qloop_now(), out); }

int64_t qloop_today_days(void)
{
    char today[11];
    int y, m, d;
    qloop_today(today);
    return qloop_parse_date(today, &y, &m, &d) ? qloop_days_from_civil(y, m, d) : INT64_MAX;
}
