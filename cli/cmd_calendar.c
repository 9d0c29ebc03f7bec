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
 * --help. Years loaded are kept in PATH.calendar beside the store (qloop's
 * text format, merged by year, written atomically), and every command that
 * uses the store's calendar reads that file; workday, deadline and show read
 * it without opening the store itself.
 */
#include <errno.h>
#include <fcntl.h>
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

/* Loads PATH.calendar beside the store when it exists. Returns 0, or prints
 * the error and returns QLOOP_EXIT_INPUT. */
static int load_beside_store(const struct cli_args *a)
{
    char path[4096];
    cli_calendar_path(cli_opt(a, "db"), path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    struct qloop_error err;
    if (calendar_load_file(path, &err) != 0) {
        cli_print_error(&err);
        fprintf(stderr, "qloop: 数据库旁的日历文件 %s 有误：请修正它，或删除后重新 qloop calendar load\n",
                path);
        return qloop_error_exit(&err);
    }
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
    int n, rc = from_arg ? parse_day(a, from_arg, "--from", &from) : today(a, &from);
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

/* Writes len bytes of data to path atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. Returns 0, or
 * fills err and returns -1 (the temporary file removed). */
static int write_atomic(const char *path, const char *data, size_t len, struct qloop_error *err)
{
    struct qloop_buf tmp = {0};
    qloop_buf_printf(&tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp.ptr);
    if (fd < 0) {
        qloop_error_set(err, path, 0, 0, "无法在这个文件所在的目录里创建临时文件：%s；请检查目录存在且可写",
                        strerror(errno));
        qloop_buf_free(&tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    const char *what = "写入";
    int rc = fchmod(fd, 0666 & ~mask);
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -1;
        else
            off += (size_t)w;
    }
    if (rc == 0 && (rc = fsync(fd)) != 0)
        what = "同步（fsync）";
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp.ptr, path) != 0) {
        rc = -1;
        saved = errno;
        what = "替换（rename）";
    }
    if (rc != 0) {
        unlink(tmp.ptr);
        qloop_buf_free(&tmp);
        return qloop_error_set(err, path, 0, 0, "%s日历文件失败：%s；原文件未改动，请检查磁盘空间和写权限",
                               what, strerror(saved));
    }
    qloop_buf_free(&tmp);
    /* Make the rename itself durable. */
    struct qloop_buf dir = {0};
    const char *slash = strrchr(path, '/');
    if (slash == path)
        qloop_buf_append(&dir, "/", 1);
    else if (slash)
        qloop_buf_append(&dir, path, (size_t)(slash - path));
    else
        qloop_buf_append(&dir, ".", 1);
    int dfd = open(dir.ptr, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    qloop_buf_free(&dir);
    return 0;
}

static int do_load(const struct cli_args *a)
{
    if (a->npos != 1)
        return cli_fail(a, "缺少要加载的文件");
    const char *file = a->pos[0];
    struct qloop_error err;
    struct calendar_notices *add = calendar_notices_read(file, &err);
    if (!add)
        return cli_error(&err);
    char target[4096];
    cli_calendar_path(cli_opt(a, "db"), target, sizeof target);
    struct stat st;
    struct calendar_notices *all;
    if (stat(target, &st) != 0 && errno == ENOENT) {
        all = calendar_notices_new();
    } else if (!(all = calendar_notices_read(target, &err))) {
        cli_print_error(&err);
        calendar_notices_free(add);
        fprintf(stderr, "qloop: 数据库旁的日历文件 %s 有误，未作改动：请修正它，或删除后重新 load\n", target);
        return qloop_error_exit(&err);
    }
    calendar_notices_merge(all, add);

    struct qloop_buf out = {0};
    qloop_buf_printf(&out,
                     "# qloop 日历文件：由 qloop calendar load 写入的国务院办公厅节假日安排，\n"
                     "# 与内置的 2019–2026 年安排合并使用，同一年份以本文件为准。\n"
                     "# 格式同 engine/data/holidays_cn.txt：year YYYY，其下 YYYY-MM-DD off|work 名称。\n\n");
    calendar_notices_format(all, &out);
    int rc = write_atomic(target, out.ptr, out.len, &err);
    qloop_buf_free(&out);
    calendar_notices_free(all);
    if (rc != 0) {
        calendar_notices_free(add);
        return cli_error(&err);
    }
    int years[64];
    size_t ny = calendar_notices_years(add, years, sizeof years / sizeof years[0]);
    for (size_t i = 0; i < ny && i < sizeof years / sizeof years[0]; i++) {
        int off, work;
        calendar_notices_count(add, years[i], &off, &work);
        printf("已加载 %d 年的节假日安排：放假 %d 天，调休上班 %d 天\n", years[i], off, work);
    }
    printf("已保存到 %s\n", target);
    calendar_notices_free(add);
    return QLOOP_EXIT_OK;
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
     "检查国务院节假日安排文件（qloop 文本格式或 holiday-cn JSON），按年份合并保存到数据库旁的 "
     "PATH.calendar",
     NULL, load_options, 0, 1, do_load},
    {"show", "--year YYYY [--db PATH]", "列出该年的放假（off）和调休上班（work）日期", NULL,
     show_options, 0, 0, do_show},
};

static const struct cli_group calendar_group = {
    "calendar", "工作日历：是否工作日、期限计算、加载新年度的节假日安排。",
    "内置 2019–2026 年的安排；其他年份按法定节假日和周末计算（不含调休），并给出警告。\n"
    "--db 指定的数据库旁若有 PATH.calendar（qloop calendar load 写入），也一并使用。\n",
    calendar_subs, sizeof calendar_subs / sizeof calendar_subs[0],
};

int cmd_calendar(int argc, char **argv)
{
    return cli_run_group(&calendar_group, argc, argv);
}
