/*
 * lunar.c — the lunar calendar and 清明 for 1900–2100 from a compact table.
 *
 * LUNAR_YEARS holds one word per lunar year 1900–2100, in the encoding
 * that most Chinese calendar programs share:
 *   bits 0–3    the month a leap month (闰月) follows, 0 when the year has none
 *   bits 4–15   months 12 (bit 4) up to 1 (bit 15): 1 = 30 days (大月), 0 = 29 (小月)
 *   bit 16      the leap month has 30 days
 * Lunar year 1900 began on 1900-01-31; every later year begins the day after
 * the last day of the year before, so the table alone fixes every date.
 * QINGMING holds the April day of 清明 for each Gregorian year 1900–2100.
 *
 * Source. The month lengths, leap months and 清明 were computed with the
 * 寿星天文历 algorithms of 许剑伟 (VSOP87/ELP-based new moons and solar
 * terms, Beijing time, the rules of GB/T 33661-2017 农历的编算和颁行) as
 * implemented by lunar-javascript 1.7.7 (6tail), and checked year by year
 * against two tables:
 *   - the Hong Kong Observatory-derived table of calendar.js as shipped in
 *     solarlunar 3.1.0: identical except 1933 (闰五月/六月) and 2097
 *     (六月/七月), where it swaps the lengths of two months that hold no
 *     holiday; here the astronomical values are kept (ICU4X's
 *     calendrical-calculations data agrees with them); its 清明 dates are
 *     identical for all 201 years;
 *   - Debian's liblunar-date 3.0.1 and python3-lunardate 0.2.0 (the table of
 *     Fung F. Lee and Ricky Yeung's `lunar`): month lengths differ in 1933,
 *     1954, 1956, 1978 and 2057, which moves one holiday, 中秋 1978
 *     (09-16 there, 09-17 here and at the observatory); 清明 differs in 1910,
 *     1943 and 2071, when the term falls within 25 minutes after midnight
 *     (2071-04-05 00:10 Beijing time by the computation above).
 * Every 除夕, 端午, 中秋 and 清明 of 2019–2026 is checked against the State
 * Council notices by tests/unit/test_calendar.c, and a sample across
 * 1990–2050 against published dates.
 */
#include <pthread.h>
#include <stdint.h>

#include "base/clock.h"
#include "checks/lunar.h"

enum { NYEARS = LUNAR_YEAR_MAX - LUNAR_YEAR_MIN + 1 };

static const uint32_t LUNAR_YEARS[NYEARS] = {
    0x04bd8, 0x04ae0, 0x0a570, 0x054d5, 0x0d260, 0x0d950, 0x16554, 0x056a0, 0x09ad0, 0x055d2, /* 1900-1909 */
    0x04ae0, 0x0a5b6, 0x0a4d0, 0x0d250, 0x1d255, 0x0b540, 0x0d6a0, 0x0ada2, 0x095b0, 0x14977, /* 1910-1919 */
    0x04970, 0x0a4b0, 0x0b4b5, 0x06a50, 0x06d40, 0x1ab54, 0x02b60, 0x09570, 0x052f2, 0x04970, /* 1920-1929 */
    0x06566, 0x0d4a0, 0x0ea50, 0x16a95, 0x05ad0, 0x02b60, 0x186e3, 0x092e0, 0x1c8d7, 0x0c950, /* 1930-1939 */
    0x0d4a0, 0x1d8a6, 0x0b550, 0x056a0, 0x1a5b4, 0x025d0, 0x092d0, 0x0d2b2, 0x0a950, 0x0b557, /* 1940-1949 */
    0x06ca0, 0x0b550, 0x15355, 0x04da0, 0x0a5b0, 0x14573, 0x052b0, 0x0a9a8, 0x0e950, 0x06aa0, /* 1950-1959 */
    0x0aea6, 0x0ab50, 0x04b60, 0x0aae4, 0x0a570, 0x05260, 0x0f263, 0x0d950, 0x05b57, 0x056a0, /* 1960-1969 */
    0x096d0, 0x04dd5, 0x04ad0, 0x0a4d0, 0x0d4d4, 0x0d250, 0x0d558, 0x0b540, 0x0b6a0, 0x195a6, /* 1970-1979 */
    0x095b0, 0x049b0, 0x0a974, 0x0a4b0, 0x0b27a, 0x06a50, 0x06d40, 0x0af46, 0x0ab60, 0x09570, /* 1980-1989 */
    0x04af5, 0x04970, 0x064b0, 0x074a3, 0x0ea50, 0x06b58, 0x05ac0, 0x0ab60, 0x096d5, 0x092e0, /* 1990-1999 */
    0x0c960, 0x0d954, 0x0d4a0, 0x0da50, 0x07552, 0x056a0, 0x0abb7, 0x025d0, 0x092d0, 0x0cab5, /* 2000-2009 */
    0x0a950, 0x0b4a0, 0x0baa4, 0x0ad50, 0x055d9, 0x04ba0, 0x0a5b0, 0x15176, 0x052b0, 0x0a930, /* 2010-2019 */
    0x07954, 0x06aa0, 0x0ad50, 0x05b52, 0x04b60, 0x0a6e6, 0x0a4e0, 0x0d260, 0x0ea65, 0x0d530, /* 2020-2029 */
    0x05aa0, 0x076a3, 0x096d0, 0x04afb, 0x04ad0, 0x0a4d0, 0x1d0b6, 0x0d250, 0x0d520, 0x0dd45, /* 2030-2039 */
    0x0b5a0, 0x056d0, 0x055b2, 0x049b0, 0x0a577, 0x0a4b0, 0x0aa50, 0x1b255, 0x06d20, 0x0ada0, /* 2040-2049 */
    0x14b63, 0x09370, 0x049f8, 0x04970, 0x064b0, 0x168a6, 0x0ea50, 0x06b20, 0x1a6c4, 0x0aae0, /* 2050-2059 */
    0x092e0, 0x0d2e3, 0x0c960, 0x0d557, 0x0d4a0, 0x0da50, 0x05d55, 0x056a0, 0x0a6d0, 0x055d4, /* 2060-2069 */
    0x052d0, 0x0a9b8, 0x0a950, 0x0b4a0, 0x0b6a6, 0x0ad50, 0x055a0, 0x0aba4, 0x0a5b0, 0x052b0, /* 2070-2079 */
    0x0b273, 0x06930, 0x07337, 0x06aa0, 0x0ad50, 0x14b55, 0x04b60, 0x0a570, 0x054e4, 0x0d160, /* 2080-2089 */
    0x0e968, 0x0d520, 0x0daa0, 0x16aa6, 0x056d0, 0x04ae0, 0x0a9d4, 0x0a2d0, 0x0d150, 0x0f252, /* 2090-2099 */
    0x0d520,                                                                                  /* 2100 */
};

/* The April day of 清明, one digit per Gregorian year from 1900. */
static const char QINGMING[NYEARS + 1] =
    "55665566556655565556555655565556555655565556555555" /* 1900-1949 */
    "55555555555555555555555555455545554555455545554555" /* 1950-1999 */
    "45554555445544554455445544554455445544554445444544" /* 2000-2049 */
    "45444544454445444544454444444444444444444444444444" /* 2050-2099 */
    "5" /* 2100-2100 */;

/* Day number of 正月初一 of each lunar year; filled once. */
static int64_t g_new_year[NYEARS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Days in month (1–12) of the year with info word v. */
static int month_days(uint32_t v, int month)
{
    return (v & (0x10000u >> month)) ? 30 : 29;
}

/* Days in the leap month of the year with info word v (0 when none). */
static int leap_days(uint32_t v)
{
    if ((v & 0xf) == 0)
        return 0;
    return (v & 0x10000u) ? 30 : 29;
}

/* Days in the lunar year with info word v. */
static int year_days(uint32_t v)
{
    int n = leap_days(v);
    for (int m = 1; m <= 12; m++)
        n += month_days(v, m);
    return n;
}

static void init_new_years(void)
{
    int64_t day = qloop_days_from_civil(1900, 1, 31);
    for (int i = 0; i < NYEARS; i++) {
        g_new_year[i] = day;
        day += year_days(LUNAR_YEARS[i]);
    }
}

bool lunar_to_solar(int year, int month, bool leap, int day, int64_t *out)
{
    if (year < LUNAR_YEAR_MIN || year > LUNAR_YEAR_MAX || month < 1 || month > 12 || day < 1)
        return false;
    uint32_t v = LUNAR_YEARS[year - LUNAR_YEAR_MIN];
    int leap_month = (int)(v & 0xf);
    if (leap && leap_month != month)
        return false;
    if (day > (leap ? leap_days(v) : month_days(v, month)))
        return false;
    pthread_once(&g_once, init_new_years);
    int64_t d = g_new_year[year - LUNAR_YEAR_MIN];
    for (int m = 1; m < month; m++)
        d += month_days(v, m);
    if (leap_month != 0 && (leap_month < month || leap))
        d += leap ? month_days(v, month) : leap_days(v);
    *out = d + day - 1;
    return true;
}

bool lunar_qingming(int year, int64_t *out)
{
    if (year < LUNAR_YEAR_MIN || year > LUNAR_YEAR_MAX)
        return false;
    *out = qloop_days_from_civil(year, 4, QINGMING[year - LUNAR_YEAR_MIN] - '0');
    return true;
}
