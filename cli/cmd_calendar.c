/*
 * cmd_calendar.c — `qloop calendar`: working days and deadlines on the
 * command line, and loading State Council notices for later years.
 *
 *   qloop calendar workday [DATE]
 *   qloop calendar deadline [--from DATE] (--working-days N | --natural-days N)
 *   qloop calendar load FILE
 *   qloop calendar show --year YYYY
 *
 * Every subcommand takes --db PATH (default: store_default_path()) and
 * --help. Years loaded are kept in the store (store/calendar_loads.h: one
 * row per load, each on the audit chain, since a load changes every legal
 * deadline), and every command that opens the store uses them; workday,
 * deadline and show use them when the store exists and need none otherwise.
 */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "checks/calendar.h"
#include "cli.h"
#include "base/clock.h"
#include "store/calendar_loads.h"
#include "store/store.h"

#define MAX_DAYS 3660

/* Parses a "YYYY-MM-DD" date into a day number; usage error (exit 2) when
 * it is not a real date. what names the argument in the message. */
static int parse_day(const struct cli_args *a, const char *s, const char *what, int64_t *day)
{
    int y, m, d;
    if (!qloop_parse_date(s, &y, &m, &d))
        return cli_fail(a, "%s “%s” 不是有效日期：应为 YYYY-MM-DD，如 2024-09-27", what, s);
    *day = qloop_days_from_civil(y, m, d);
    return 0;
}

/* Parses a number of days 0..MAX_DAYS; usage error (exit 2) otherwise. */
static int parse_count(const struct cli_args *a, const char *s, const char *opt, int *n)
{
    long v = 0;
    bool ok = *s != '\0' && strlen(s) <= 5;
    for (const char *p = s; ok && *p; p++) {
        if (*p < '0' || *p > '9')
            ok = false;
        else
            v = v * 10 + (*p - '0');
    }
    if (!ok || v > MAX_DAYS)
        return cli_fail(a, "%s 应为 0 到 %d 之间的整数天数，而不是 “%s”", opt, MAX_DAYS, s);
    *n = (int)v;
    return 0;
}

/* Today's day number in Shanghai (QLOOP_NOW when set); exit 2 when
 * QLOOP_NOW is set but invalid. */
static int today(const struct cli_args *a, int64_t *day)
{
    char msg[512];
    if (qloop_clock_check(msg, sizeof msg) != 0)
        return cli_fail(a, "%s", msg);
    char s[11];
    qloop_today(s);
    return parse_day(a, s, "今天的日期", day);
}

/* Prints day as "YYYY-MM-DD" and a newline; usage error past the year 9999. */
static int print_day(const struct cli_args *a, int64_t day)
{
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    if (y > 9999)
        return cli_fail(a, "期限超出了 9999 年：请检查日期和天数");
    printf("%04d-%02d-%02d\n", y, m, d);
    return QLOOP_EXIT_OK;
}

/* Loads the years loaded into the store, when the store exists (no store
 * is made here). Returns 0, or prints the error and returns the exit code. */
static int load_beside_store(const struct cli_args *a)
{
    const char *path = cli_opt(a, "db") ? cli_opt(a, "db") : store_default_path();
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    int rc;
    sqlite3 *db = cli_open_store(path, &rc);
    if (!db)
        return rc;
    store_close(db);
    return 0;
}

static int do_workday(const struct cli_args *a)
{
    int64_t day;
    int rc = a->npos ? parse_day(a, a->pos[0], "日期", &day) : today(a, &day);
    if (rc != 0)
        return rc;
    if ((rc = load_beside_store(a)) != 0)
        return rc;
    puts(calendar_workday(day) ? "true" : "false");
    return QLOOP_EXIT_OK;
}

static int do_deadline(const struct cli_args *a)
{
    const char *from_arg = cli_opt(a, "from"), *working = cli_opt(a, "working-days");
    const char *natural = cli_opt(a, "natural-days");
    if (!working == !natural)
        return cli_fail(a, "--working-days N 与 --natural-days N 须给且只给一个");
    int64_t from;
    int n = 0, rc = from_arg ? parse_day(a, from_arg, "--from", &from) : today(a, &from);
    if (rc != 0)
        return rc;
    if (working)
        rc = parse_count(a, working, "--working-days", &n);
    else
        rc = parse_count(a, natural, "--natural-days", &n);
    if (rc != 0 || (rc = load_beside_store(a)) != 0)
        return rc;
    if (working)
        return print_day(a, calendar_add_working_days(from, n));
    return print_day(a, calendar_add_natural_days(from, n));
}

/* Who loads: the login of the user running qloop ("system" when unknown). */
static const char *operator_name(void)
{
    const struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_name && *pw->pw_name ? pw->pw_name : "system";
}

static int do_load(const struct cli_args *a)
{
    if (a->npos != 1)
        return cli_fail(a, "缺少要加载的文件");
    const char *file = a->pos[0];
    struct qloop_error err;
    qloop_error_clear(&err);
    struct calendar_notices *add = calendar_notices_read(file, &err);
    if (!add)
        return cli_error(&err);
    int years[64];
    size_t ny = calendar_notices_years(add, years, sizeof years / sizeof years[0]);
    if (ny > sizeof years / sizeof years[0])
        ny = sizeof years / sizeof years[0];
    struct qloop_buf text = {0};
    calendar_notices_format(add, &text);
    int rc;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &rc);
    if (db && store_calendar_add(db, qloop_buf_str(&text), text.len, file, operator_name(), years,
                                 ny, NULL, &err) != 0)
        rc = cli_error(&err);
    qloop_buf_free(&text);
    store_close(db);
    if (rc == 0) {
        for (size_t i = 0; i < ny; i++) {
            int off, work;
            calendar_notices_count(add, years[i], &off, &work);
            printf("已加载 %d 年的节假日安排：放假 %d 天，调休上班 %d 天\n", years[i], off, work);
        }
        printf("已保存到数据库 %s（已记入审计链）\n",
               cli_opt(a, "db") ? cli_opt(a, "db") : store_default_path());
    }
    calendar_notices_free(add);
    return rc;
}

static int do_show(const struct cli_args *a)
{
    const char *y = cli_opt(a, "year");
    int year = 0;
    bool ok = strlen(y) == 4;
    for (const char *p = y; ok && *p; p++) {
        if (*p < '0' || *p > '9')
            ok = false;
        else
            year = year * 10 + (*p - '0');
    }
    if (!ok || year < 1)
        return cli_fail(a, "--year 应为四位年份，如 2024，而不是 “%s”", y);
    int rc = load_beside_store(a);
    if (rc != 0)
        return rc;
    if (!calendar_year_known(year))
        return cli_fail(a, "没有 %d 年的节假日安排：可用 qloop calendar load FILE 加载该年的通知", year);
    struct qloop_buf out = {0};
    calendar_format_year(year, &out);
    fputs(qloop_buf_str(&out), stdout);
    qloop_buf_free(&out);
    return QLOOP_EXIT_OK;
}

static const struct cli_option workday_options[] = {CLI_OPT_DB, CLI_OPT_END};

static const struct cli_option deadline_options[] = {
    {"from", 0, "DATE", 0, "收到的日期 YYYY-MM-DD（默认今天；当天不计）"},
    {"working-days", 0, "N", 0, "N 个工作日后"},
    {"natural-days", 0, "N", 0, "N 个自然日后（最后一天遇节假日顺延到下一个工作日）"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option load_options[] = {CLI_OPT_DB, CLI_OPT_END};

static const struct cli_option show_options[] = {
    {"year", 0, "YYYY", CLI_REQUIRED, "年份"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command calendar_subs[] = {
    {"workday", "[DATE] [--db PATH]", "DATE（YYYY-MM-DD，默认今天）是否工作日：打印 true 或 false",
     NULL, workday_options, 0, 1, do_workday},
    {"deadline", "[--from DATE] (--working-days N | --natural-days N) [--db PATH]",
     "期限的最后一天 YYYY-MM-DD：收到当天不计，N 个工作日后，或 N 个自然日后（遇节假日顺延）",
     "N 为 0 到 3660 的整数。\n", deadline_options, 0, 0, do_deadline},
    {"load", "FILE [--db PATH]",
     "检查国务院节假日安排文件（qloop 文本格式或 holiday-cn JSON），保存到数据库中"
     "（同一年份以后加载的为准），记入审计链",
     NULL, load_options, 0, 1, do_load},
    {"show", "--year YYYY [--db PATH]", "列出该年的放假（off）和调休上班（work）日期", NULL,
     show_options, 0, 0, do_show},
};

static const struct cli_group calendar_group = {
    "calendar", "工作日历：是否工作日、期限计算、加载新年度的节假日安排。",
    "内置 2019–2026 年的安排；其他年份按法定节假日和周末计算（不含调休），并给出警告。\n"
    "--db 指定的数据库若已存在，也使用其中加载过的安排（qloop calendar load）；\n"
    "早先版本写在数据库旁的 PATH.calendar 在数据库升级时导入一次。\n",
    calendar_subs, sizeof calendar_subs / sizeof calendar_subs[0],
};

int cmd_calendar(int argc, char **argv)
{
    return cli_run_group(&calendar_group, argc, argv);
}
