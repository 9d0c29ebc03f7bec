/*
 * test_calendar.c — the working-day calendar (engine/checks/calendar.c) and
 * its Lua table (engine/lua/lib_calendar.c).
 *
 * - every day of 2019–2026 against the holiday-cn JSON transcription of the
 *   State Council notices in shared/ref/holidays (skipped when absent);
 * - deadlines across Spring Festival and National Day of several years and
 *   across weekends with make-up working days, each worked out by hand below;
 * - natural-day deadlines rolled forward to the next working day;
 * - loading years from text and from JSON, replacing years, notices that
 *   arrange the end of the year before them; malformed files with lines.
 * Years without a notice and the lunar table: test_calendar_fallback.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/buf.h"
#include "base/clock.h"
#include "checks/calendar.h"
#include "lua/libs.h"

#include "calendar_helpers.h"

/* ---- the built-in notices against the reference ------------------------ */

/* Every day of 2019–2026 (and the 2018 days the 2019 notice arranges): listed
 * in some year's JSON → working iff isOffDay is false; else Monday–Friday. A
 * notice's entries may fall in the year before (2019.json lists 2018-12-29..31,
 * 2023.json lists 2022-12-31), so all files are read before comparing. */
static void test_builtin_matches_reference(void **state)
{
    (void)state;
    int64_t first = D("2018-12-01"), last = D("2026-12-31");
    size_t span = (size_t)(last - first + 1);
    signed char *listed = calloc(span, 1); /* 0 unlisted, 1 work, -1 off */
    assert_non_null(listed);
    int entries = 0;
    for (int year = 2019; year <= 2026; year++) {
        json_t *root = ref_notice(year);
        if (!root) {
            free(listed);
            skip();
        }
        assert_int_equal(json_integer_value(json_object_get(root, "year")), year);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(root, "days"), i, e) {
            int64_t day = D(json_string_value(json_object_get(e, "date")));
            assert_true(day >= first && day <= last);
            listed[day - first] = json_is_true(json_object_get(e, "isOffDay")) ? -1 : 1;
            entries++;
        }
        json_decref(root);
        assert_true(calendar_year_known(year));
    }
    assert_true(entries > 250);
    int offs = 0, works = 0;
    for (int64_t day = D("2018-12-29"); day <= last; day++) {
        signed char l = listed[day - first];
        int dow = (int)(((day % 7) + 11) % 7); /* 0 = Sunday; 1970-01-01 was Thursday */
        bool expect = l ? l > 0 : (dow >= 1 && dow <= 5);
        if (calendar_workday(day) != expect)
            fail_msg("%s: calendar says %s, the notice says %s", S(day),
                     calendar_workday(day) ? "working" : "not working", expect ? "working" : "not working");
        offs += l < 0;
        works += l > 0;
    }
    free(listed);
    assert_true(offs > 150 && works > 40);
    assert_false(calendar_year_known(2018));
    assert_false(calendar_year_known(2027));
}

/* Spot checks that need no reference files. */
static void test_builtin_spot_checks(void **state)
{
    (void)state;
    assert_false(calendar_workday(D("2024-10-01")));  /* National Day, Tuesday */
    assert_true(calendar_workday(D("2024-09-29")));   /* make-up working Sunday */
    assert_true(calendar_workday(D("2024-02-09")));   /* 除夕 2024 was a Friday at work */
    assert_false(calendar_workday(D("2024-02-10")));
    assert_true(calendar_workday(D("2024-02-18")));   /* make-up working Sunday */
    assert_false(calendar_workday(D("2020-02-01")));  /* Saturday: the 2020 extension cancelled its make-up */
    assert_true(calendar_workday(D("2026-01-04")));   /* Sunday, make-up for New Year 2026 */
    assert_true(calendar_workday(D("2018-12-29")));   /* Saturday arranged by the 2019 notice */
    assert_false(calendar_workday(D("2018-12-31")));  /* Monday off, 2019 notice */
    assert_false(calendar_workday(D("2024-03-02")));  /* ordinary Saturday */
    assert_true(calendar_workday(D("2024-03-04")));   /* ordinary Monday */
    assert_false(calendar_workday(D("2025-05-31")));  /* Dragon Boat, Saturday listed off */
}

/* ---- deadlines ------------------------------------------------------------ */

static void test_working_day_deadlines(void **state)
{
    (void)state;
    /* 2024 National Day: 9-29 (Sun) work, 10-01..10-07 off, 10-12 (Sat) work.
     * Receipt Fri 2024-09-27, not counted: 9-28 Sat no; 9-29 Sun work (1);
     * 9-30 Mon (2); 10-01..07 off; 10-08 (3); 10-09 (4); 10-10 (5).
     * So 2024-10-10, not the 10-11 a naive count skipping the make-up gives. */
    assert_string_equal(S(calendar_add_working_days(D("2024-09-27"), 5)), "2024-10-10");
    /* 2024 Spring Festival: 2-04 (Sun) work, 2-10..2-17 off, 2-18 (Sun) work.
     * Receipt Thu 2024-02-08: 2-09 Fri (1, 除夕 was not a day off);
     * 2-10..17 off; 2-18 Sun work (2); 2-19 (3); 2-20 (4); 2-21 (5). */
    assert_string_equal(S(calendar_add_working_days(D("2024-02-08"), 5)), "2024-02-21");
    /* 2025 Spring Festival: 1-26 (Sun) work, 1-28..2-04 off, 2-08 (Sat) work.
     * Receipt Fri 2025-01-24: 1-25 Sat no; 1-26 Sun work (1); 1-27 Mon (2);
     * 1-28..2-04 off; 2-05 Wed (3). */
    assert_string_equal(S(calendar_add_working_days(D("2025-01-24"), 3)), "2025-02-05");
    /* 2025 National Day/Mid-Autumn: 9-28 (Sun) work, 10-01..10-08 off,
     * 10-11 (Sat) work. Receipt Fri 2025-09-26: 9-28 (1), 9-29 (2), 9-30 (3),
     * 10-09 (4), 10-10 (5), 10-11 Sat (6), 10-13 (7), 10-14 (8), 10-15 (9),
     * 10-16 (10). */
    assert_string_equal(S(calendar_add_working_days(D("2025-09-26"), 10)), "2025-10-16");
    /* 2019 National Day: 10-01..10-07 off, 10-12 (Sat) work. Receipt Mon
     * 2019-09-30: 10-08 (1); then 10-09 (2), 10-10 (3), 10-11 (4), 10-12 Sat (5). */
    assert_string_equal(S(calendar_add_working_days(D("2019-09-30"), 1)), "2019-10-08");
    assert_string_equal(S(calendar_add_working_days(D("2019-09-30"), 5)), "2019-10-12");
    /* 2020 Spring Festival as extended: 1-24..2-02 off (2-01 Sat no longer a
     * make-up day). Receipt Thu 2020-01-23: 2-03 Mon (1), 2-04 (2). */
    assert_string_equal(S(calendar_add_working_days(D("2020-01-23"), 2)), "2020-02-04");
    /* 2023 Mid-Autumn/National Day: 9-29..10-06 off, 10-07 (Sat) and 10-08
     * (Sun) work. Receipt Thu 2023-09-28: 10-07 (1), 10-08 Sunday (2). */
    assert_string_equal(S(calendar_add_working_days(D("2023-09-28"), 2)), "2023-10-08");
    /* New Year 2019, arranged by the 2019 notice in 2018: 12-29 (Sat) work,
     * 12-30..2019-01-01 off. Receipt Fri 2018-12-28: 12-29 (1); 01-02 (2). */
    assert_string_equal(S(calendar_add_working_days(D("2018-12-28"), 1)), "2018-12-29");
    assert_string_equal(S(calendar_add_working_days(D("2018-12-28"), 2)), "2019-01-02");
    /* New Year 2026: 01-01..01-03 off, 01-04 (Sun) work. Receipt Wed
     * 2025-12-31: 2026-01-04 (1). */
    assert_string_equal(S(calendar_add_working_days(D("2025-12-31"), 1)), "2026-01-04");
    /* Plain weekend: Fri 2024-03-01 + 1 = Mon 03-04; n = 0 is the day itself. */
    assert_string_equal(S(calendar_add_working_days(D("2024-03-01"), 1)), "2024-03-04");
    assert_string_equal(S(calendar_add_working_days(D("2024-10-01"), 0)), "2024-10-01");
}

static void test_working_days_between(void **state)
{
    (void)state;
    assert_int_equal(calendar_working_days_between(D("2024-09-27"), D("2024-10-10")), 5);
    assert_int_equal(calendar_working_days_between(D("2024-09-30"), D("2024-10-07")), 0);
    assert_int_equal(calendar_working_days_between(D("2024-10-10"), D("2024-09-27")), 0);
    assert_int_equal(calendar_working_days_between(D("2024-10-10"), D("2024-10-10")), 0);
    /* 2024 by its notice: 366 days - 104 weekend days (it began on a Monday)
     * - 19 weekdays off (01-01; 02-12..16; 04-04, 05; 05-01..03; 06-10;
     * 09-16, 17; 10-01..04, 07) + 8 make-up days (02-04, 02-18, 04-07, 04-28,
     * 05-11, 09-14, 09-29, 10-12) = 251 working days. */
    assert_int_equal(calendar_working_days_between(D("2023-12-31"), D("2024-12-31")), 251);
    /* between(from, add(from, n)) == n for every receipt day of 2019–2026. */
    for (int64_t d = D("2019-01-01"); d <= D("2026-11-30"); d += 3) {
        int n = (int)(d % 23);
        int64_t end = calendar_add_working_days(d, n);
        assert_int_equal(calendar_working_days_between(d, end), n);
        if (n > 0)
            assert_true(calendar_workday(end));
    }
}

static void test_natural_day_deadlines(void **state)
{
    (void)state;
    /* 2024-09-25 + 7 = 10-02, off (National Day) → next working day 10-08. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-09-25"), 7)), "2024-10-08");
    /* 2024-09-21 + 8 = 9-29, a Sunday but a make-up working day: stays. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-09-21"), 8)), "2024-09-29");
    /* Fri 2024-03-01 + 1 = Sat 03-02 → Mon 03-04. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-03-01"), 1)), "2024-03-04");
    /* Mon 2024-05-06 + 0 is itself, a working day. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-05-06"), 0)), "2024-05-06");
    /* 2025-01-20 + 10 = 1-30, inside 1-28..2-04 off → 2-05. */
    assert_string_equal(S(calendar_add_natural_days(D("2025-01-20"), 10)), "2025-02-05");
    /* 2024-10-01 + 0 is a holiday → 10-08. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-10-01"), 0)), "2024-10-08");
    /* 2024-01-25 + 15 = 02-09 (除夕, a working Friday): stays. */
    assert_string_equal(S(calendar_add_natural_days(D("2024-01-25"), 15)), "2024-02-09");
}

/* ---- loading ------------------------------------------------------------ */

static void test_load_text_new_year(void **state)
{
    (void)state;
    assert_false(calendar_year_known(2027));
    load_ok("# a made-up notice for 2027\n"
            "\n"
            "year 2027\n"
            "  2027-02-06 work 春节  \n"
            "2027-02-08\toff\t春节\r\n"
            "2027-01-01 off\n");
    assert_true(calendar_year_known(2027));
    assert_true(calendar_workday(D("2027-02-06")));  /* Saturday made working */
    assert_false(calendar_workday(D("2027-02-08"))); /* Monday off */
    assert_false(calendar_workday(D("2027-01-01"))); /* Friday off, no name */
    assert_true(calendar_workday(D("2027-02-09")));  /* unlisted Tuesday, known year */
    assert_false(calendar_workday(D("2027-02-07"))); /* unlisted Sunday */
    /* Fri 2027-02-05 + 2: 02-06 Sat work (1), 02-08 off, 02-09 (2). */
    assert_string_equal(S(calendar_add_working_days(D("2027-02-05"), 2)), "2027-02-09");

    struct qloop_buf b = {0};
    assert_int_equal(calendar_format_year(2027, &b), 3);
    assert_string_equal(qloop_buf_str(&b), "2027-01-01 off\n"
                                           "2027-02-06 work 春节\n"
                                           "2027-02-08 off  春节\n");
    qloop_buf_free(&b);

    /* Loading 2027 again replaces it whole. */
    load_ok("year 2027\n2027-02-09 off 另一份\n");
    assert_true(calendar_workday(D("2027-02-08")));
    assert_false(calendar_workday(D("2027-02-06")));
    assert_false(calendar_workday(D("2027-02-09")));
    assert_true(calendar_workday(D("2027-01-01")));
}

static void test_load_replaces_builtin_year(void **state)
{
    (void)state;
    /* An empty 2024 notice: 2024 stays known, its days go. */
    load_ok("year 2024\n");
    assert_true(calendar_year_known(2024));
    assert_true(calendar_workday(D("2024-10-01")));  /* Tuesday, no longer off */
    assert_false(calendar_workday(D("2024-09-29"))); /* Sunday, no longer work */
    assert_false(calendar_workday(D("2023-10-02"))); /* other years untouched */
    assert_false(calendar_workday(D("2018-12-31")));
    /* The reference JSON puts it back (when present). */
    char path[1024];
    snprintf(path, sizeof path, "%s/holidays/2024.json", QLOOP_SHARED_REF);
    if (access(path, R_OK) != 0)
        return;
    struct qloop_error err;
    assert_int_equal(calendar_load_file(path, &err), 0);
    assert_false(calendar_workday(D("2024-10-01")));
    assert_true(calendar_workday(D("2024-09-29")));
    assert_string_equal(S(calendar_add_working_days(D("2024-09-27"), 5)), "2024-10-10");
}

static void test_load_json(void **state)
{
    (void)state;
    const char *json = "\xEF\xBB\xBF{\n"
                       "  \"year\": 2028,\n"
                       "  \"papers\": [\"https://www.gov.cn/example\"],\n"
                       "  \"days\": [\n"
                       "    {\"name\": \"元旦\", \"date\": \"2027-12-31\", \"isOffDay\": true},\n"
                       "    {\"name\": \"元旦\", \"date\": \"2028-01-01\", \"isOffDay\": true},\n"
                       "    {\"name\": \"春节\\n调休\", \"date\": \"2028-01-29\", \"isOffDay\": false}\n"
                       "  ]\n"
                       "}\n";
    load_ok(json);
    assert_true(calendar_year_known(2028));
    assert_false(calendar_year_known(2027));
    assert_false(calendar_workday(D("2027-12-31"))); /* Friday, off by the 2028 notice */
    assert_true(calendar_workday(D("2028-01-29")));  /* Saturday, make-up */
    assert_false(calendar_workday(D("2028-01-01")));
    /* 2027 is unknown, but its last day is listed: it comes out in 2027's list. */
    struct qloop_buf b = {0};
    assert_int_equal(calendar_format_year(2027, &b), 1);
    assert_string_equal(qloop_buf_str(&b), "2027-12-31 off  元旦\n");
    qloop_buf_reset(&b);
    /* A control character in a name becomes a space (one line per day). */
    assert_int_equal(calendar_format_year(2028, &b), 2);
    assert_string_equal(qloop_buf_str(&b), "2028-01-01 off  元旦\n2028-01-29 work 春节 调休\n");
    qloop_buf_free(&b);

    /* Two notices list one date: the later notice wins. */
    load_ok("year 2027\n2027-12-31 work 旧安排\n");
    assert_false(calendar_workday(D("2027-12-31")));
    b = (struct qloop_buf){0};
    assert_int_equal(calendar_format_year(2027, &b), 1);
    assert_string_equal(qloop_buf_str(&b), "2027-12-31 off  元旦\n");
    qloop_buf_free(&b);
}

/* One malformed input: the error's line (and column when > 0 expected) and a
 * piece of its message. */
struct bad_case {
    const char *text;
    long line;
    long column; /* -1: any column > 0 */
    const char *message;
};

static void test_malformed(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"year 2029\n2029-02-30 off 春节\n", 2, 1, "不是有效日期"},
        {"# header\n\n2029-02-06 work 春节\n", 3, 1, "缺少 year 行"},
        {"year 2029\n2029-02-06 holiday 春节\n", 2, 12, "off（放假）或 work"},
        {"year 2029\n2029-02-06\n", 2, 11, "缺少 off"},
        {"year 29\n", 1, 6, "四位年份"},
        {"year 2029 2030\n", 1, 6, "四位年份"},
        {"year 2029\nholiday 2029-01-01\n", 2, 1, "无法识别"},
        {"year 2029\n2031-01-01 off 元旦\n", 2, 1, "不属于 year 2029"},
        {"year 2029\n2029-01-01 off a\n# x\n2029-01-01 work b\n", 4, 1, "文件第 2 行已有"},
        {"year 2029\n2029-01-01 off\nyear 2029\n", 3, 1, "重复"},
        {"", 0, 0, "没有任何 year 行"},
        {"# only a comment\n", 0, 0, "没有任何 year 行"},
        {"{\n \"year\": 2029,\n \"days\": [\n  {\"date\": \"2029-01-01\" \"isOffDay\": true}\n ]\n}\n", 4,
         -1, "JSON 格式错误"},
        {"{\"year\": 2029,\n\"days\": [\n{\"name\": \"x\", \"date\": \"2029-13-01\", \"isOffDay\": true}]}", 3,
         23, "无效"},
        {"{\"year\": 2029, \"days\": [{\"date\": \"2029-01-01\"}]}", 1, -1, "isOffDay"},
        {"{\"days\": []}", 0, 0, "\"year\""},
        {"{\"year\": 2029}", 0, 0, "\"days\""},
        {"[1, 2]", 1, 1, "顶层应为一个对象"},
        {"{\"year\": 2029, \"days\": [{\"date\": \"2029-01-01\", \"isOffDay\": true},\n"
         "{\"date\": \"2029-01-01\", \"isOffDay\": false}]}",
         0, 0, "第 2 项的日期 2029-01-01 与第 1 项重复"},
        {"{\"year\": 2029, \"days\": [{\"date\": \"2031-01-01\", \"isOffDay\": true}]}", 1, -1, "不属于 2029"},
        {"{\"year\": 2029, \"year\": 2030, \"days\": []}", 1, -1, "JSON 格式错误"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *c = &cases[i];
        struct qloop_error err;
        int rc = calendar_load_text(c->text, strlen(c->text), "bad.txt", &err);
        if (rc != -1)
            fail_msg("case %zu accepted", i);
        assert_string_equal(err.file, "bad.txt");
        if (err.line != c->line)
            fail_msg("case %zu: line %ld, expected %ld (%s)", i, err.line, c->line, err.message);
        if (c->column >= 0 && err.column != c->column)
            fail_msg("case %zu: column %ld, expected %ld (%s)", i, err.column, c->column, err.message);
        if (c->column < 0)
            assert_true(err.column > 0);
        if (!strstr(err.message, c->message))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, c->message);
    }
    /* A NUL byte: not text. */
    static const char nul[] = "year 2029\n2029-01-01 off a\0b\n";
    struct qloop_error err;
    assert_int_equal(calendar_load_text(nul, sizeof nul - 1, "bad.txt", &err), -1);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "NUL"));
    /* A failed load changes nothing: 2029 is still unknown. */
    assert_false(calendar_year_known(2029));
}

static void test_load_file_errors(void **state)
{
    (void)state;
    struct qloop_error err;
    assert_int_equal(calendar_load_file("/nonexistent/qloop/cal.txt", &err), -1);
    assert_string_equal(err.file, "/nonexistent/qloop/cal.txt");
    assert_non_null(strstr(err.message, "无法打开"));
    assert_int_equal(calendar_load_file("/", &err), -1);
    assert_string_equal(err.file, "/");
    /* A file: error lines are the file's own. */
    char path[] = "/tmp/qloop_test_calendar_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "year 2029\n2029-01-01 off 元旦\n2029-01-0x off 元旦\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(calendar_load_file(path, &err), -1);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 3);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    text = "year 2029\n2029-01-01 off 元旦\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(calendar_load_file(path, &err), 0);
    assert_false(calendar_workday(D("2029-01-01")));
    unlink(path);
}

/* ---- sets of notices (what `qloop calendar load` merges) ----------------- */

static void test_notices_merge_and_format(void **state)
{
    (void)state;
    struct qloop_error err;
    const char *a_text = "year 2027\n2027-01-01 off 元旦\n\nyear 2028\n2027-12-31 off 元旦\n2028-01-01 off\n";
    struct calendar_notices *a = calendar_notices_parse(a_text, strlen(a_text), "a", &err);
    assert_non_null(a);
    const char *b_json = "{\"year\": 2028, \"days\": [{\"name\": \"春节\", \"date\": \"2028-01-29\", "
                         "\"isOffDay\": false}]}";
    struct calendar_notices *b = calendar_notices_parse(b_json, strlen(b_json), "b", &err);
    assert_non_null(b);
    calendar_notices_merge(a, b);
    int years[4];
    assert_int_equal(calendar_notices_years(a, years, 4), 2);
    assert_int_equal(years[0], 2027);
    assert_int_equal(years[1], 2028);
    int off, work;
    calendar_notices_count(a, 2028, &off, &work);
    assert_int_equal(off, 0);
    assert_int_equal(work, 1);
    calendar_notices_count(a, 2027, &off, &work);
    assert_int_equal(off, 1);
    assert_int_equal(work, 0);
    struct qloop_buf out = {0};
    calendar_notices_format(a, &out);
    assert_string_equal(qloop_buf_str(&out), "year 2027\n2027-01-01 off  元旦\n\nyear 2028\n2028-01-29 work 春节\n");
    /* The format reads back to the same thing. */
    struct calendar_notices *c = calendar_notices_parse(out.ptr, out.len, "c", &err);
    assert_non_null(c);
    struct qloop_buf again = {0};
    calendar_notices_format(c, &again);
    assert_string_equal(qloop_buf_str(&again), qloop_buf_str(&out));
    qloop_buf_free(&again);
    qloop_buf_free(&out);
    calendar_notices_free(a);
    calendar_notices_free(b);
    calendar_notices_free(c);
    calendar_notices_free(NULL);
    /* Merging into an empty set copies. */
    struct calendar_notices *e = calendar_notices_new();
    assert_int_equal(calendar_notices_years(e, years, 4), 0);
    assert_null(calendar_notices_parse("year x\n", 7, "d", &err));
    assert_int_equal(err.line, 1);
    calendar_notices_free(e);
}

/* ---- threads ---------------------------------------------------------------- */

/* Lua rules run on several worker threads: concurrent questions, while another
 * thread loads a year, must all get the same answers (run under TSan too). */
static void *thread_deadlines(void *arg)
{
    int64_t *sum = arg;
    for (int64_t d = D("2023-01-01"); d < D("2026-06-01"); d += 5)
        *sum += calendar_add_working_days(d, 7) - d;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    int64_t sums[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_deadlines, &sums[i]), 0);
    struct qloop_error err;
    assert_int_equal(calendar_load_text("year 2027\n", 10, "t", &err), 0); /* a writer meanwhile */
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    int64_t expect = 0;
    thread_deadlines(&expect);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sums[i], expect);
}

/* ---- the Lua table --------------------------------------------------------- */

/* Runs chunk with the base library and `calendar` opened; returns its string result or error
 * message (copied to out). Returns the pcall status. */
static int run_lua(const char *chunk, char *out, size_t size)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, "calendar", luaopen_calendar, 1);
    lua_pop(L, 2);
    int rc = luaL_loadstring(L, chunk);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 1, 0);
    const char *s = lua_tostring(L, -1);
    snprintf(out, size, "%s", s ? s : "(nil)");
    lua_close(L);
    return rc;
}

static void test_lua(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(run_lua("return tostring(calendar.workday('2024-10-01')) .. ' ' .."
                             " tostring(calendar.workday('2024-09-29'))",
                             out, sizeof out),
                     LUA_OK);
    assert_string_equal(out, "false true");
    assert_int_equal(run_lua("return calendar.add_working_days('2024-09-27', 5)", out, sizeof out), LUA_OK);
    assert_string_equal(out, "2024-10-10");
    assert_int_equal(run_lua("return calendar.add_natural_days('2024-09-25', 7)", out, sizeof out), LUA_OK);
    assert_string_equal(out, "2024-10-08");
    assert_int_equal(run_lua("return calendar.add_working_days('2024-09-27', 0)", out, sizeof out), LUA_OK);
    assert_string_equal(out, "2024-09-27");
    /* A year without a notice: 元旦 2027 is a statutory holiday. */
    assert_int_equal(run_lua("return calendar.add_working_days('2026-12-28', 5)", out, sizeof out), LUA_OK);
    assert_string_equal(out, "2027-01-05");

    assert_int_equal(run_lua("return calendar.workday('2024-02-30')", out, sizeof out), LUA_ERRRUN);
    assert_non_null(strstr(out, "不是有效日期"));
    assert_non_null(strstr(out, "#1"));
    assert_int_equal(run_lua("return calendar.workday(20240101)", out, sizeof out), LUA_ERRRUN);
    assert_non_null(strstr(out, "应为日期字符串"));
    assert_int_equal(run_lua("return calendar.workday('2024-01-01 ')", out, sizeof out), LUA_ERRRUN);
    assert_int_equal(run_lua("return calendar.add_working_days('2024-09-27', -1)", out, sizeof out),
                     LUA_ERRRUN);
    assert_non_null(strstr(out, "0 到 3660"));
    assert_non_null(strstr(out, "#2"));
    assert_int_equal(run_lua("return calendar.add_natural_days('2024-09-27', 3661)", out, sizeof out),
                     LUA_ERRRUN);
    assert_int_equal(run_lua("return calendar.add_natural_days('2024-09-27', 2.5)", out, sizeof out),
                     LUA_ERRRUN);
    assert_int_equal(run_lua("return calendar.add_natural_days('2024-09-27')", out, sizeof out), LUA_ERRRUN);
    assert_int_equal(run_lua("return calendar.add_working_days('9999-12-30', 10)", out, sizeof out),
                     LUA_ERRRUN);
    assert_non_null(strstr(out, "9999"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_builtin_matches_reference, reset),
        cmocka_unit_test_setup(test_builtin_spot_checks, reset),
        cmocka_unit_test_setup(test_working_day_deadlines, reset),
        cmocka_unit_test_setup(test_working_days_between, reset),
        cmocka_unit_test_setup(test_natural_day_deadlines, reset),
        cmocka_unit_test_setup(test_load_text_new_year, reset),
        cmocka_unit_test_setup(test_load_replaces_builtin_year, reset),
        cmocka_unit_test_setup(test_load_json, reset),
        cmocka_unit_test_setup(test_malformed, reset),
        cmocka_unit_test_setup(test_load_file_errors, reset),
        cmocka_unit_test_setup(test_notices_merge_and_format, reset),
        cmocka_unit_test_setup(test_threads, reset),
        cmocka_unit_test_setup(test_lua, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
