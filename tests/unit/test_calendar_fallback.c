/*
 * test_calendar_fallback.c — years without a State Council notice
 * (engine/checks/calendar.c) and the lunar table behind them
 * (engine/checks/lunar.c):
 *
 * - the fallback: the statutory holidays of 全国年节及纪念日放假办法 as in
 *   force that year, weekends, no make-up days, one warning per year on
 *   stderr; 2027 worked by hand; the earlier texts and the ends of the table;
 * - every statutory holiday of 2019–2026, under that year's text, is a day
 *   off in that year's notice (shared/ref/holidays, skipped when absent);
 * - lunar dates and 清明 against published dates across 1990–2050, every
 *   正月初一, 端午 and 中秋 of 2000–2100 against the observatory-derived
 *   table, and the shape of every year of the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/clock.h"
#include "checks/calendar.h"
#include "checks/lunar.h"

#include "calendar_helpers.h"

/* Results of fallback_calls, checked once stderr is back. */
static bool fb_workday[5];
static int64_t fb_deadline[2];

static void fallback_calls(void)
{
    fb_workday[0] = calendar_workday(D("2030-01-01"));
    fb_workday[1] = calendar_workday(D("2030-01-05"));
    fb_workday[2] = calendar_workday(D("2030-01-07"));
    fb_workday[3] = calendar_workday(D("2024-10-08")); /* known year: no warning */
    fb_workday[4] = calendar_workday(D("2030-01-02"));
    fb_deadline[0] = calendar_add_working_days(D("2029-12-28"), 1);
    fb_deadline[1] = calendar_add_natural_days(D("2030-01-04"), 1);
}

static void check_fallback_results(void)
{
    /* 2030: no notice. 2030-01-01 is a Tuesday and 元旦: not a working day
     * (before the fallback knew the law, Monday–Friday made it one). */
    assert_false(fb_workday[0]);
    assert_false(fb_workday[1]); /* Saturday */
    assert_true(fb_workday[2]);  /* Monday */
    assert_true(fb_workday[3]);
    assert_true(fb_workday[4]); /* Wednesday after 元旦 */
    /* Fri 2029-12-28 + 1 working day = Mon 2029-12-31 (warning for 2029);
     * Fri 2030-01-04 + 1 natural day = Saturday → Mon 2030-01-07. */
    assert_string_equal(S(fb_deadline[0]), "2029-12-31");
    assert_string_equal(S(fb_deadline[1]), "2030-01-07");
}

static void test_fallback_years(void **state)
{
    (void)state;
    assert_false(calendar_year_known(2030));
    char *err = capture_stderr(fallback_calls);
    check_fallback_results();
    assert_int_equal(count_of(err, "qloop: 警告: 还没有 2030 年的国务院节假日安排：按《全国年节及纪念日放假办法》"
                                   "的法定节假日和周末计算工作日，该年的调休（周末补假和调休上班日）尚不知道；"
                                   "通知发布后用 qloop calendar load FILE 加载\n"),
                     1);
    assert_int_equal(count_of(err, "还没有 2029 年的国务院节假日安排"), 1);
    assert_int_equal(count_of(err, "警告"), 2);
    free(err);
    /* Warned once per process: asking again prints nothing. */
    err = capture_stderr(fallback_calls);
    check_fallback_results();
    assert_string_equal(err, "");
    free(err);
}

/* The 2027 examples, worked by hand. 2027 has no notice yet; under the 2024
 * text its statutory holidays are 01-01 (Fri); 除夕 02-05 (Fri) to 初三
 * 02-08 (Mon); 清明 04-05 (Mon); 05-01 (Sat) and 05-02 (Sun); 端午 06-09
 * (Wed); 中秋 09-15 (Wed); 10-01 (Fri) to 10-03 (Sun). */
static bool y27_workday[16];
static int64_t y27_deadline[3];

static void year_2027_calls(void)
{
    static const char *days[16] = {
        "2027-01-01", "2027-02-04", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
        "2027-02-09", "2027-04-05", "2027-05-01", "2027-05-03", "2027-06-09", "2027-09-15",
        "2027-10-01", "2027-10-04", "2026-12-31", "2027-01-04",
    };
    for (int i = 0; i < 16; i++)
        y27_workday[i] = calendar_workday(D(days[i]));
    y27_deadline[0] = calendar_add_working_days(D("2026-12-28"), 5);
    y27_deadline[1] = calendar_add_working_days(D("2027-02-03"), 3);
    y27_deadline[2] = calendar_add_natural_days(D("2027-01-26"), 10);
}

static void test_fallback_2027(void **state)
{
    (void)state;
    assert_false(calendar_year_known(2027));
    char *err = capture_stderr(year_2027_calls);
    /* 元旦 2027 is a Friday: not a working day. */
    assert_false(y27_workday[0]);
    /* Spring Festival: Thu 02-04 works; 除夕 Fri 02-05 to 初三 Mon 02-08 off;
     * Tue 02-09 works. */
    assert_true(y27_workday[1]);
    assert_false(y27_workday[2]);
    assert_false(y27_workday[3]);
    assert_false(y27_workday[4]);
    assert_false(y27_workday[5]);
    assert_true(y27_workday[6]);
    assert_false(y27_workday[7]); /* 清明, Monday */
    assert_false(y27_workday[8]); /* 劳动节 on a Saturday ... */
    assert_true(y27_workday[9]);  /* ... is not moved: Monday 05-03 works */
    assert_false(y27_workday[10]); /* 端午, Wednesday */
    assert_false(y27_workday[11]); /* 中秋, Wednesday */
    assert_false(y27_workday[12]); /* 国庆, Friday */
    assert_true(y27_workday[13]);  /* Monday 10-04: no 补假 for 10-02, 10-03 */
    assert_true(y27_workday[14]);  /* Thu 2026-12-31, by the 2026 notice */
    assert_true(y27_workday[15]);
    /* Receipt Mon 2026-12-28, 5 working days, the day of receipt not counted:
     * 12-29 Tue (1), 12-30 Wed (2), 12-31 Thu (3); 2027-01-01 Fri 元旦 off;
     * 01-02 Sat, 01-03 Sun; 01-04 Mon (4), 01-05 Tue (5). Due 2027-01-05
     * (Monday–Friday made it 01-04). */
    assert_string_equal(S(y27_deadline[0]), "2027-01-05");
    /* Receipt Wed 2027-02-03, 3 working days: 02-04 Thu (1); 02-05..02-08
     * off; 02-09 Tue (2), 02-10 Wed (3). */
    assert_string_equal(S(y27_deadline[1]), "2027-02-10");
    /* 2027-01-26 + 10 natural days = 02-05, 除夕 (off) → 02-06 Sat, 02-07
     * Sun, 02-08 初三 → Tue 02-09. */
    assert_string_equal(S(y27_deadline[2]), "2027-02-09");
    /* One warning for 2027, none for 2026 (known), whatever the number of
     * days asked about. */
    assert_int_equal(count_of(err, "警告"), 1);
    assert_int_equal(count_of(err, "还没有 2027 年的国务院节假日安排"), 1);
    assert_non_null(strstr(err, "调休"));
    assert_non_null(strstr(err, "qloop calendar load FILE"));
    free(err);
    /* A notice, once loaded, rules the year instead of the fallback: here a
     * made-up one that gives 01-01 off and makes Saturday 02-06 a working
     * day; Friday 02-05 (除夕) is not listed, so it works. */
    load_ok("year 2027\n2027-01-01 off 元旦\n2027-02-06 work 春节\n");
    assert_true(calendar_workday(D("2027-02-05")));
    assert_true(calendar_workday(D("2027-02-06")));
    assert_false(calendar_workday(D("2027-01-01")));
}

/* Every statutory holiday the fallback names for 2019–2026, under that
 * year's text (2013 for 2019–2024, 2024 from 2025), is a day off in that
 * year's notice (shared/ref/holidays/YYYY.json). */
static void test_statutory_in_notices(void **state)
{
    (void)state;
    /* Distinct statutory days per year: 11 under the 2013 text (元旦 1,
     * 春节 3, 清明 1, 劳动节 1, 端午 1, 中秋 1, 国庆 3), 13 under the 2024
     * text (春节 4, 劳动节 2); 10 in 2020, whose 中秋 fell on 10-01. */
    static const int expect_days[8] = {11, 10, 11, 11, 11, 11, 13, 13};
    for (int year = 2019; year <= 2026; year++) {
        json_t *root = ref_notice(year);
        if (!root)
            skip();
        int found = 0, names = 0;
        const char *seen[8] = {0};
        int64_t jan1 = qloop_days_from_civil(year, 1, 1), next = qloop_days_from_civil(year + 1, 1, 1);
        for (int64_t day = jan1; day < next; day++) {
            const char *name = NULL;
            if (!calendar_statutory_holiday(day, &name))
                continue;
            assert_non_null(name);
            found++;
            bool off = false;
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(root, "days"), i, e) {
                if (strcmp(json_string_value(json_object_get(e, "date")), S(day)) == 0)
                    off = json_is_true(json_object_get(e, "isOffDay"));
            }
            if (!off)
                fail_msg("%s (%s) is a statutory holiday, but the %d notice does not give it off", S(day),
                         name, year);
            bool known_name = false;
            for (int k = 0; k < names; k++)
                known_name |= strcmp(seen[k], name) == 0;
            if (!known_name && names < 8)
                seen[names++] = name;
        }
        json_decref(root);
        if (found != expect_days[year - 2019])
            fail_msg("%d: %d statutory days, expected %d", year, found, expect_days[year - 2019]);
        assert_int_equal(names, 7);
    }
    /* The two texts differ where the notices did: 除夕 2024 (Friday 02-09)
     * was a working day, 除夕 2025 (Tuesday 01-28) a statutory holiday. */
    assert_false(calendar_statutory_holiday(D("2024-02-09"), NULL));
    assert_true(calendar_statutory_holiday(D("2025-01-28"), NULL));
    assert_false(calendar_statutory_holiday(D("2024-05-02"), NULL));
    assert_true(calendar_statutory_holiday(D("2025-05-02"), NULL));
}

/* The earlier texts of the 办法 and the ends of the lunar table: each day,
 * and the holiday it is (NULL: none). */
static void test_statutory_texts(void **state)
{
    (void)state;
    static const struct {
        const char *date, *holiday;
    } cases[] = {
        {"2027-02-05", "春节"}, /* 除夕, 2024 text */
        {"2027-04-05", "清明节"},
        {"2027-04-06", NULL},
        /* 2008–2013: 春节 除夕 to 初二. 除夕 2013 was 02-09, 初三 02-12. */
        {"2013-02-09", "春节"},
        {"2013-02-11", "春节"},
        {"2013-02-12", NULL},
        /* 2014: 初一 to 初三 (01-31..02-02); 除夕 01-30 was a working day. */
        {"2014-01-30", NULL},
        {"2014-02-02", "春节"},
        /* 1999-09-18 to 2007: 劳动节 and 国庆节 3 days; no 清明, 端午, 中秋. */
        {"2007-05-03", "劳动节"},
        {"2008-05-02", NULL},
        {"2007-04-05", NULL}, /* 清明 2007 */
        {"2008-04-04", "清明节"},
        {"2007-06-19", NULL}, /* 端午 2007 */
        /* 1999: the amendment of 09-18 made 国庆 3 days; before, 2. */
        {"1999-10-03", "国庆节"},
        {"1998-10-03", NULL},
        {"1998-10-02", "国庆节"},
        {"1999-05-02", NULL},
        /* Before 1949-12-23 there was no such law; 元旦 1950 was the first. */
        {"1949-10-01", NULL},
        {"1950-01-01", "元旦"},
        /* The ends of the lunar table; past it the Gregorian holidays still. */
        {"2100-02-08", "春节"}, /* 除夕 2100 */
        {"2101-10-03", "国庆节"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *name = "unset";
        bool is = calendar_statutory_holiday(D(cases[i].date), &name);
        if (is != (cases[i].holiday != NULL) || (is && strcmp(name, cases[i].holiday) != 0) || (!is && name))
            fail_msg("%s: %s, expected %s", cases[i].date, is ? name : "no holiday",
                     cases[i].holiday ? cases[i].holiday : "no holiday");
    }
    /* No 春节 past the table: nothing from 01-02 to the end of April 2101. */
    for (int64_t d = D("2101-01-02"); d < D("2101-04-30"); d++)
        assert_false(calendar_statutory_holiday(d, NULL));
}

/* What the fallback says when it cannot compute the lunar holidays, and
 * before the law. */
static bool edge_workday[3];

static void edge_calls(void)
{
    edge_workday[0] = calendar_workday(D("2101-01-31")); /* Monday, 春节 2101 not computed */
    edge_workday[1] = calendar_workday(D("2101-05-02")); /* Monday, 劳动节 */
    edge_workday[2] = calendar_workday(D("1949-10-03")); /* Monday */
}

static void test_fallback_edges(void **state)
{
    (void)state;
    char *err = capture_stderr(edge_calls);
    assert_true(edge_workday[0]);
    assert_false(edge_workday[1]);
    assert_true(edge_workday[2]);
    assert_non_null(strstr(err, "还没有 2101 年的国务院节假日安排，且该年超出内置农历表（1900–2100 年）"));
    assert_non_null(strstr(err, "没有 1949 年的节假日安排，该年早于《全国年节及纪念日放假办法》"));
    assert_int_equal(count_of(err, "警告"), 2);
    free(err);
}

/* ---- the lunar table -------------------------------------------------- */

/* Day number of lunar y-m-d (leap month when leap), failing the test when
 * the table refuses it. */
static int64_t L(int y, int m, bool leap, int d)
{
    int64_t day = 0;
    if (!lunar_to_solar(y, m, leap, d, &day))
        fail_msg("lunar %d-%d-%d%s refused", y, m, d, leap ? " (leap)" : "");
    return day;
}

static void test_lunar_known_dates(void **state)
{
    (void)state;
    /* 除夕 (the day before 正月初一), as published: the notices for 2008,
     * 2013 and 2014 (春节 2008-02-06.., 2013-02-09.., 2014-01-31..) and the
     * observatories' tables. */
    static const struct {
        int year;
        const char *chuxi, *duanwu, *zhongqiu, *qingming;
    } known[] = {
        {1990, "1990-01-26", "1990-05-28", "1990-10-03", "1990-04-05"},
        {1997, "1997-02-06", "1997-06-09", "1997-09-16", "1997-04-05"},
        {2000, "2000-02-04", "2000-06-06", "2000-09-12", "2000-04-04"},
        {2008, "2008-02-06", "2008-06-08", "2008-09-14", "2008-04-04"},
        {2012, "2012-01-22", "2012-06-23", "2012-09-30", "2012-04-04"},
        {2013, "2013-02-09", "2013-06-12", "2013-09-19", "2013-04-04"},
        {2014, "2014-01-30", "2014-06-02", "2014-09-08", "2014-04-05"},
        {2017, "2017-01-27", "2017-05-30", "2017-10-04", "2017-04-04"},
        {2020, "2020-01-24", "2020-06-25", "2020-10-01", "2020-04-04"},
        {2025, "2025-01-28", "2025-05-31", "2025-10-06", "2025-04-04"},
        {2027, "2027-02-05", "2027-06-09", "2027-09-15", "2027-04-05"},
        {2033, "2033-01-30", "2033-06-01", "2033-09-08", "2033-04-04"},
        {2048, "2048-02-13", "2048-06-15", "2048-09-22", "2048-04-04"},
        {2050, "2050-01-22", "2050-06-23", "2050-09-30", "2050-04-04"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int y = known[i].year;
        assert_string_equal(S(L(y, 1, false, 1) - 1), known[i].chuxi);
        assert_string_equal(S(L(y, 5, false, 5)), known[i].duanwu);
        assert_string_equal(S(L(y, 8, false, 15)), known[i].zhongqiu);
        int64_t q;
        assert_true(lunar_qingming(y, &q));
        assert_string_equal(S(q), known[i].qingming);
    }
    /* Leap months: 闰四月 2020, 闰二月 2023, 闰六月 2025 (中秋 came late),
     * 闰十一月 2033. */
    assert_string_equal(S(L(2020, 4, true, 1)), "2020-05-23");
    assert_string_equal(S(L(2020, 4, false, 30)), "2020-05-22");
    assert_string_equal(S(L(2023, 2, true, 1)), "2023-03-22");
    assert_string_equal(S(L(2025, 6, true, 1)), "2025-07-25");
    assert_string_equal(S(L(2033, 11, true, 1)), "2033-12-22");
    /* The ends of the table. */
    assert_string_equal(S(L(1900, 1, false, 1)), "1900-01-31");
    assert_string_equal(S(L(2100, 1, false, 1)), "2100-02-09");
    /* What it refuses. */
    int64_t out = 12345;
    assert_false(lunar_to_solar(2024, 4, true, 1, &out));  /* 2024 had no leap month */
    assert_false(lunar_to_solar(2020, 5, true, 1, &out));  /* 2020's was the fourth */
    assert_false(lunar_to_solar(2027, 12, false, 30, &out)); /* 十二月 2026/27 is short: 除夕 is the 29th */
    assert_false(lunar_to_solar(2027, 13, false, 1, &out));
    assert_false(lunar_to_solar(2027, 0, false, 1, &out));
    assert_false(lunar_to_solar(2027, 1, false, 0, &out));
    assert_false(lunar_to_solar(1899, 1, false, 1, &out));
    assert_false(lunar_to_solar(2101, 1, false, 1, &out));
    assert_false(lunar_qingming(2101, &out));
    assert_false(lunar_qingming(1899, &out));
    assert_int_equal(out, 12345);
}

/* 正月初一, 端午 and 中秋 of every year 2000–2100 ("MMDDMMDDMMDD", five
 * years a row) as given by the Hong Kong Observatory-derived table of
 * calendar.js (solarlunar 3.1.0): a source apart from the astronomical
 * computation lunar.c's table was made with. A typo in a month that moves a
 * holiday shows here. */
static void test_lunar_against_observatory(void **state)
{
    (void)state;
    static const char *const rows[] = {
        "020506060912 012406251001 021206150921 020106040911 012206220928" /* 2000–2004 */
        "020906110918 012905311006 021806190925 020706080914 012605281003" /* 2005–2009 */
        "021406160922 020306060912 012306230930 021006120919 013106020908" /* 2010–2014 */
        "021906200927 020806090915 012805301004 021606180924 020506070913" /* 2015–2019 */
        "012506251001 021206140921 020106030910 012206220929 021006100917" /* 2020–2024 */
        "012905311006 021706190925 020606090915 012605281003 021306160922" /* 2025–2029 */
        "020306050912 012306241001 021106120919 013106010908 021906200927" /* 2030–2034 */
        "020806100916 012805301004 021506180924 020406070913 012405271002" /* 2035–2039 */
        "021206140920 020106030910 012206220928 021006110917 013005311005" /* 2040–2044 */
        "021706190925 020606080915 012605291004 021406150922 020206040911" /* 2045–2049 */
        "012306230930 021106130919 020106010907 021906200926 020806100916" /* 2050–2054 */
        "012805301005 021506170924 020406060913 012406251002 021206140921" /* 2055–2059 */
        "020206030909 012106220928 020906110917 012906011006 021706190925" /* 2060–2064 */
        "020506080915 012605281003 021406160923 020306040911 012306230929" /* 2065–2069 */
        "021106130919 013106020908 021906200926 020706100916 012705301005" /* 2070–2074 */
        "021506170924 020506060912 012406241001 021206140920 020206040910" /* 2075–2079 */
        "012206220928 020906110917 012906011006 021706190926 020606070914" /* 2080–2084 */
        "012605271003 021406150922 020306050911 012406230929 021006130918" /* 2085–2089 */
        "013006020908 021806210927 020706090916 012705291005 021506170924" /* 2090–2094 */
        "020506060913 012506240930 021206140920 020106040909 012106230929" /* 2095–2099 */
        "020906120918" /* 2100–2100 */
    };
    int year = 2000;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (const char *p = rows[r]; *p; year++) {
            int v[6];
            for (int k = 0; k < 6; k++, p += 2)
                v[k] = (p[0] - '0') * 10 + (p[1] - '0');
            if (*p == ' ')
                p++;
            int64_t want[3] = {qloop_days_from_civil(year, v[0], v[1]), qloop_days_from_civil(year, v[2], v[3]),
                               qloop_days_from_civil(year, v[4], v[5])};
            int64_t got[3] = {L(year, 1, false, 1), L(year, 5, false, 5), L(year, 8, false, 15)};
            for (int k = 0; k < 3; k++)
                if (got[k] != want[k])
                    fail_msg("%d: %s is %s, the observatory says %s", year, k == 0 ? "正月初一" : k == 1 ? "端午" : "中秋",
                             S(got[k]), S(want[k]));
        }
    }
    assert_int_equal(year, 2101);
}

/* The shape of every year of the table: a lunar year of 353–355 days, or
 * 383–385 with a leap month; 正月初一 between 01-21 and 02-20; 清明 on
 * 04-04, 04-05 or 04-06; every month 29 or 30 days. A typo in the table
 * breaks one of these. */
static void test_lunar_table_shape(void **state)
{
    (void)state;
    int leaps = 0;
    for (int y = LUNAR_YEAR_MIN; y <= LUNAR_YEAR_MAX; y++) {
        int64_t ny = L(y, 1, false, 1), q;
        int gy, gm, gd;
        qloop_civil_from_days(ny, &gy, &gm, &gd);
        assert_int_equal(gy, y);
        assert_true((gm == 1 && gd >= 21) || (gm == 2 && gd <= 20));
        assert_true(lunar_qingming(y, &q));
        qloop_civil_from_days(q, &gy, &gm, &gd);
        assert_true(gy == y && gm == 4 && gd >= 4 && gd <= 6);
        int64_t prev = ny;
        int months = 0;
        for (int m = 1; m <= 12; m++) {
            for (int leap = 0; leap <= 1; leap++) {
                int64_t first;
                if (!lunar_to_solar(y, m, leap, 1, &first))
                    continue;
                if (months > 0) {
                    int64_t len = first - prev;
                    if (len != 29 && len != 30)
                        fail_msg("%d: a month of %d days", y, (int)len);
                }
                int64_t last29, last30;
                assert_true(lunar_to_solar(y, m, leap, 29, &last29));
                assert_int_equal(last29, first + 28);
                if (lunar_to_solar(y, m, leap, 30, &last30))
                    assert_int_equal(last30, first + 29);
                prev = first;
                months++;
                leaps += leap;
            }
        }
        assert_true(months == 12 || months == 13);
        if (y < LUNAR_YEAR_MAX) {
            int64_t len = L(y + 1, 1, false, 1) - ny;
            if (!(months == 12 ? len >= 353 && len <= 355 : len >= 383 && len <= 385))
                fail_msg("%d: %d months in %d days", y, months, (int)len);
        }
    }
    /* 7 leap months every 19 years: 74 in 201 years. */
    assert_true(leaps >= 73 && leaps <= 75);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fallback_years, reset),
        cmocka_unit_test_setup(test_fallback_2027, reset),
        cmocka_unit_test_setup(test_statutory_in_notices, reset),
        cmocka_unit_test_setup(test_statutory_texts, reset),
        cmocka_unit_test_setup(test_fallback_edges, reset),
        cmocka_unit_test_setup(test_lunar_known_dates, reset),
        cmocka_unit_test_setup(test_lunar_against_observatory, reset),
        cmocka_unit_test_setup(test_lunar_table_shape, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
