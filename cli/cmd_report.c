/*
 * cmd_report.c — `qloop report annual` (the annual assessment, CONTRACT.md)
 * and `qloop report scorecard` (one department's monthly scorecard).
 *
 * Both read the store only (reports/report.h); `annual --publish` also keeps
 * the report in the store, so next year's report can show the change, and
 * notes it in the audit chain. Output goes to --out (written to a temporary
 * file beside it and renamed, so a reader never sees half a report) or, for
 * the text formats, to standard output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli.h"
#include "base/clock.h"
#include "report.h"
#include "store/store.h"

/* The format f (--format, or a default), else from the extension of --out;
 * NULL with a usage message printed when neither says or it is not one of
 * allowed. */
static const char *format_of(const struct cli_args *a, const char *f, const char *const *allowed)
{
    const char *out = cli_opt(a, "out");
    if (!f && out && strcmp(out, "-") != 0) {
        const char *dot = strrchr(out, '.');
        if (dot && (strcmp(dot, ".htm") == 0 || strcmp(dot, ".html") == 0))
            f = "html";
        else if (dot && strcmp(dot, ".markdown") == 0)
            f = "md";
        else if (dot)
            f = dot + 1;
    }
    struct qloop_buf list = {0};
    for (const char *const *k = allowed; *k; k++) {
        if (f && strcmp(f, *k) == 0) {
            qloop_buf_free(&list);
            return *k;
        }
        qloop_buf_printf(&list, "%s%s", list.len ? "、" : "", *k);
    }
    if (f)
        cli_fail(a, "不支持的格式“%s”；可用：%s", f, qloop_buf_str(&list));
    else
        cli_fail(a, "请用 --format 指定格式（%s）", qloop_buf_str(&list));
    qloop_buf_free(&list);
    return NULL;
}

/* Prints that writing the report to path failed (errno e); returns 2: the
 * place --out names is the user's to fix. */
static int write_failed(const char *path, const char *what, int e)
{
    fprintf(stderr, "qloop: %s: %s（%s）；请检查 --out 的目录是否存在、是否可写，以及磁盘空间\n", path,
            what, strerror(e));
    return QLOOP_EXIT_INPUT;
}

/* The store a report reads: --db, else the default. */
static const char *store_path(const struct cli_args *a)
{
    return cli_opt(a, "db") ? cli_opt(a, "db") : store_default_path();
}

/* Writes text to path (stdout for NULL or "-") through a temporary file
 * renamed into place. Returns an exit code. */
static int write_out(const char *path, const struct qloop_buf *text)
{
    if (!path || strcmp(path, "-") == 0) {
        fwrite(qloop_buf_str(text), 1, text->len, stdout);
        return fflush(stdout) == 0 ? QLOOP_EXIT_OK : QLOOP_EXIT_INTERNAL;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return write_failed(path, "无法写入报告", errno);
    size_t n = fwrite(qloop_buf_str(text), 1, text->len, f);
    int bad = n != text->len || ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return write_failed(path, "写入报告失败", e);
    }
    return QLOOP_EXIT_OK;
}

/* Writes the XLSX workbook to path through a temporary file. */
static int write_xlsx(const char *path, const json_t *report)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld.xlsx", path, (long)getpid());
    FILE *probe = fopen(tmp, "wb"); /* our own message when the place is unwritable */
    if (!probe)
        return write_failed(path, "无法写入报告", errno);
    fclose(probe);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (report_render_xlsx(report, tmp, &err) != 0) {
        unlink(tmp);
        if (!report_xlsx_available())
            err.file[0] = '\0';
        else
            snprintf(err.file, sizeof err.file, "%s", path);
        return cli_error(&err);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return write_failed(path, "写入报告失败", e);
    }
    return QLOOP_EXIT_OK;
}

/* Parses "YYYY" (4 digits). */
static bool parse_year(const char *s, int *year)
{
    if (!s || strlen(s) != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    *year = atoi(s);
    return true;
}

/* Parses "YYYY-MM" (month 01–12). */
static bool parse_period(const char *s, int *year, int *month)
{
    char ys[5];
    if (!s || strlen(s) != 7 || s[4] != '-' || s[5] < '0' || s[5] > '1' || s[6] < '0' ||
        s[6] > '9')
        return false;
    snprintf(ys, sizeof ys, "%.4s", s);
    *month = atoi(s + 5);
    return parse_year(ys, year) && *month >= 1 && *month <= 12;
}

/* The report year: --year, or this year. Returns 0, or the exit code. */
static int year_of(const struct cli_args *a, int64_t now, int *year)
{
    const char *y = cli_opt(a, "year");
    if (y && !parse_year(y, year))
        return cli_fail(a, "--year 应为四位数年份（如 2024），实际为“%s”", y);
    if (!y) {
        char today[11];
        qloop_format_date(now, today);
        *year = atoi(today);
    }
    return 0;
}

/* Renders report (annual) as format into text. */
static int render_annual(const json_t *report, const char *format, struct qloop_buf *text,
                         struct qloop_error *err)
{
    if (strcmp(format, "html") == 0)
        return report_render_html(report, text, err);
    if (strcmp(format, "json") == 0)
        return report_render_json(report, text, err);
    if (strcmp(format, "md") == 0)
        return report_render_md(report, text, err);
    return report_render_csv(report, text, err);
}

static int do_annual(const struct cli_args *a)
{
    static const char *const formats[] = {"html", "json", "md", "csv", "xlsx", NULL};
    const char *out = cli_opt(a, "out"), *actor = cli_opt(a, "actor");
    bool publish = cli_flag(a, "publish");
    if (actor && !publish)
        return cli_fail(a, "--actor 只用于 --publish");
    const char *format = format_of(a, cli_opt(a, "format"), formats);
    if (!format)
        return QLOOP_EXIT_INPUT;
    int64_t now = qloop_now();
    int year = 0, rc = year_of(a, now, &year);
    if (rc != 0)
        return rc;
    if (strcmp(format, "xlsx") == 0 && (!out || strcmp(out, "-") == 0))
        return cli_fail(a, "XLSX 不能写到标准输出；请用 --out 给出文件路径");
    if ((rc = cli_check_out(out, store_path(a), NULL)) != 0)
        return rc;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *report = NULL;
    if (report_annual(db, year, cli_opt(a, "model"), now, &report, &err) != 0) {
        store_close(db);
        return cli_error(&err);
    }
    if (strcmp(format, "xlsx") == 0) {
        rc = write_xlsx(out, report);
    } else {
        struct qloop_buf text = {0};
        rc = render_annual(report, format, &text, &err) != 0 ? cli_error(&err) : write_out(out, &text);
        qloop_buf_free(&text);
    }
    if (rc == QLOOP_EXIT_OK && publish) {
        if (report_publish(db, report, actor, &err) != 0)
            rc = cli_error(&err);
        else
            fprintf(stderr, "qloop: 已发布 %d 年度评估报告（%zu 个部门）\n", year,
                    json_array_size(json_object_get(report, "departments")));
    }
    json_decref(report);
    store_close(db);
    return rc;
}

/* The scorecard of --dept for --period (checked by do_scorecard). */
static int query_scorecard(sqlite3 *db, const struct cli_args *a, json_t **out,
                           struct qloop_error *err)
{
    int year, month;
    parse_period(cli_opt(a, "period"), &year, &month);
    return report_scorecard(db, cli_opt(a, "dept"), year, month, cli_opt(a, "model"), qloop_now(),
                            out, err);
}

static int do_scorecard(const struct cli_args *a)
{
    static const char *const formats[] = {"html", "md", "json", NULL};
    const char *period = cli_opt(a, "period"), *out = cli_opt(a, "out");
    int year, month;
    if (!parse_period(period, &year, &month))
        return cli_fail(a, "--period 应为 YYYY-MM（如 2024-07），实际为“%s”", period);
    const char *format = cli_opt(a, "format");
    if (!format && (!out || strcmp(out, "-") == 0))
        format = "html";
    if (!(format = format_of(a, format, formats)))
        return QLOOP_EXIT_INPUT;
    int rc = cli_check_out(out, store_path(a), NULL);
    if (rc != 0)
        return rc;
    json_t *card;
    rc = cli_query(a, query_scorecard, &card);
    if (rc != 0)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf text = {0};
    int r = strcmp(format, "html") == 0 ? report_render_scorecard_html(card, &text, &err)
            : strcmp(format, "md") == 0 ? report_render_scorecard_md(card, &text, &err)
                                        : report_render_json(card, &text, &err);
    rc = r == 0 ? write_out(out, &text) : cli_error(&err);
    qloop_buf_free(&text);
    json_decref(card);
    return rc;
}

#define REPORT_OPT_OUT {"out", 0, "PATH", 0, "输出文件；省略或为 - 时写到标准输出（xlsx 除外）"}
#define REPORT_OPT_MODEL                                                                           \
    {"model", 0, "FILE", 0, "评估模型（Lua，默认内置的 reports/assessment.lua）；见下文"}

static const struct cli_option annual_options[] = {
    {"year", 0, "YYYY", 0, "评估年度（默认今年）"},
    {"format", 0, "F", 0, "html、json、md、csv 或 xlsx；省略时按 --out 的扩展名判断"},
    REPORT_OPT_OUT,
    REPORT_OPT_MODEL,
    {"publish", 0, NULL, 0, "发布：把本报告保存到数据库并记入审计链；下一年度的报告与之比较"},
    {"actor", 0, "A", CLI_TEXT, "发布人（默认 system）"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option scorecard_options[] = {
    {"dept", 0, "NAME", CLI_REQUIRED | CLI_TEXT, "数源部门名称（与数据集的 owner 或工单的部门一致）"},
    {"period", 0, "YYYY-MM", CLI_REQUIRED, "月份"},
    {"format", 0, "F", 0, "html（默认，一页）、md 或 json"},
    REPORT_OPT_OUT,
    REPORT_OPT_MODEL,
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command report_subs[] = {
    {"annual",
     "--year YYYY --format html|json|md|csv|xlsx --out PATH [--model FILE] [--publish [--actor A]]",
     "年度评估报告：按评估模型对每个数源部门评分（0–100）、定级、排名，并给出改进建议及所依据的条款"
     "（温州市公共数据共享开放管理暂行办法 第四十条；宁波市公共数据管理办法 第三十四条、第三十五条）。"
     "评估期未结束时，按当前时间（QLOOP_NOW）的数据评估。",
     "格式：html 是自包含的单个文件，可打印，每个部门一页 A4；json 含全部数字；md 为 Markdown；\n"
     "csv 每个部门一行；xlsx 含汇总、各部门、工单三张表。\n"
     "评估模型：--model FILE 以默认模型为参数运行，可只修改权重、等级或建议，例如\n"
     "  local M = ... ; M.grades[1].min = 95 ; return M\n",
     annual_options, 0, 0, do_annual},
    {"scorecard", "--dept NAME --period YYYY-MM [--format html|md|json] [--out PATH] [--model FILE]",
     "一个部门一个月的计分卡（一页）：本月各项指标、得分、等级、在全市的排名、与上月的比较和改进建议。",
     NULL, scorecard_options, 0, 0, do_scorecard},
};

static const struct cli_group report_group = {
    "report", "年度评估报告与部门计分卡。", NULL, report_subs,
    sizeof report_subs / sizeof report_subs[0],
};

int cmd_report(int argc, char **argv)
{
    return cli_run_group(&report_group, argc, argv);
}
