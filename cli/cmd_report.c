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

static const char usage_all[] =
    "用法：qloop report annual --year YYYY --format html|json|md|csv|xlsx --out PATH\n"
    "                          [--model FILE] [--publish [--actor A]] [--db PATH]\n"
    "      qloop report scorecard --dept NAME --period YYYY-MM [--format html|md|json]\n"
    "                          [--out PATH] [--model FILE] [--db PATH]\n"
    "\n"
    "  annual     年度评估报告（温州市公共数据共享开放管理暂行办法 第四十条；\n"
    "             宁波市公共数据管理办法 第三十四条、第三十五条）：全市概况、部门排名、\n"
    "             每个部门一页（指标、各数据质量维度、月度趋势、改进建议及依据）\n"
    "  scorecard  一个部门某月的计分卡（一页）\n"
    "用 qloop report annual --help 或 qloop report scorecard --help 查看各自的选项。\n";

static const char usage_annual[] =
    "用法：qloop report annual --year YYYY --format html|json|md|csv|xlsx --out PATH\n"
    "                          [--model FILE] [--publish [--actor A]] [--db PATH]\n"
    "\n"
    "按评估模型对每个数源部门评分（0–100）、定级、排名，并给出改进建议及所依据的条款。\n"
    "评估期未结束时，按当前时间（QLOOP_NOW）的数据评估。\n"
    "\n"
    "  --year YYYY     评估年度（默认今年）\n"
    "  --format F      html（自包含的单个文件，可打印，每个部门一页 A4）、json（全部数字）、\n"
    "                  md（Markdown）、csv（每个部门一行）、xlsx（汇总、各部门、工单）；\n"
    "                  省略时按 --out 的扩展名判断\n"
    "  --out PATH      输出文件；省略或为 - 时写到标准输出（xlsx 除外）\n"
    "  --model FILE    评估模型（Lua，默认 reports/assessment.lua）；FILE 以默认模型为参数运行，\n"
    "                  可只修改权重、等级或建议：local M = ... ; M.grades[1].min = 95 ; return M\n"
    "  --publish       发布：把本报告保存到数据库（表 report_published）并记入审计链；\n"
    "                  下一年度的报告与最近一次发布的本年度报告比较\n"
    "  --actor A       发布人（默认 system）\n"
    "  --db PATH       数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help          显示本说明\n";

static const char usage_scorecard[] =
    "用法：qloop report scorecard --dept NAME --period YYYY-MM [--format html|md|json]\n"
    "                             [--out PATH] [--model FILE] [--db PATH]\n"
    "\n"
    "一个部门一个月的计分卡：本月各项指标、得分、等级、在全市的排名、与上月的比较和改进建议。\n"
    "\n"
    "  --dept NAME       数源部门名称（与数据集的 owner 或工单的部门一致）\n"
    "  --period YYYY-MM  月份\n"
    "  --format F        html（默认，一页）、md、json\n"
    "  --out PATH        输出文件；省略或为 - 时写到标准输出\n"
    "  --model FILE      评估模型（同 annual）\n"
    "  --db PATH         数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help            显示本说明\n";

struct opts {
    const char *sub, *db, *year, *format, *out, *model, *actor, *dept, *period;
    bool publish, help;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    static const char *const names[] = {"--db", "--year", "--format", "--out", "--model",
                                        "--actor", "--dept", "--period"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = true;
            continue;
        }
        if (strcmp(arg, "--publish") == 0) {
            o->publish = true;
            continue;
        }
        const char **slots[] = {&o->db, &o->year, &o->format, &o->out, &o->model,
                                &o->actor, &o->dept, &o->period};
        int r = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && r == 0; k++)
            r = cli_take_value("report", names[k], argc, argv, &i, slots[k]);
        if (r < 0)
            return QLOOP_EXIT_INPUT;
        if (r > 0)
            continue;
        if (arg[0] == '-' && arg[1] != '\0')
            return cli_usage_error("未知选项 %s；运行 qloop report --help 查看用法", arg);
        if (o->sub)
            return cli_usage_error("多余的参数 %s；运行 qloop report --help 查看用法", arg);
        o->sub = arg;
    }
    return 0;
}

/* The format from --format, else from the extension of --out; NULL with a
 * usage message printed when neither says. */
static const char *format_of(const struct opts *o, const char *const *allowed)
{
    const char *f = o->format;
    if (!f && o->out && strcmp(o->out, "-") != 0) {
        const char *dot = strrchr(o->out, '.');
        if (dot && (strcmp(dot, ".htm") == 0 || strcmp(dot, ".html") == 0))
            f = "html";
        else if (dot && strcmp(dot, ".markdown") == 0)
            f = "md";
        else if (dot)
            f = dot + 1;
    }
    struct qloop_buf list = {0};
    for (const char *const *a = allowed; *a; a++) {
        if (f && strcmp(f, *a) == 0) {
            qloop_buf_free(&list);
            return *a;
        }
        qloop_buf_printf(&list, "%s%s", list.len ? "、" : "", *a);
    }
    if (f)
        cli_usage_error("不支持的格式 \"%s\"；可用：%s", f, qloop_buf_str(&list));
    else
        cli_usage_error("请用 --format 指定格式（%s）", qloop_buf_str(&list));
    qloop_buf_free(&list);
    return NULL;
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
        return cli_usage_error("%s: 无法写入报告（%s）；请检查 --out 的目录是否存在、是否可写", path,
                               strerror(errno));
    size_t n = fwrite(qloop_buf_str(text), 1, text->len, f);
    int bad = n != text->len || ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cli_usage_error("%s: 写入报告失败（%s）；请检查磁盘空间和写权限", path, strerror(e));
    }
    return QLOOP_EXIT_OK;
}

/* Writes the XLSX workbook to path through a temporary file. */
static int write_xlsx(const char *path, const json_t *report)
{
    if (!path || strcmp(path, "-") == 0)
        return cli_usage_error("XLSX 不能写到标准输出；请用 --out 给出文件路径");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld.xlsx", path, (long)getpid());
    FILE *probe = fopen(tmp, "wb"); /* our own message when the place is unwritable */
    if (!probe)
        return cli_usage_error("%s: 无法写入报告（%s）；请检查 --out 的目录是否存在、是否可写", path,
                               strerror(errno));
    fclose(probe);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (report_render_xlsx(report, tmp, &err) != 0) {
        unlink(tmp);
        if (!report_xlsx_available())
            err.file[0] = '\0';
        else
            snprintf(err.file, sizeof err.file, "%s", path);
        cli_print_error(&err);
        return QLOOP_EXIT_INPUT;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cli_usage_error("%s: 写入报告失败（%s）；请检查写权限", path, strerror(e));
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

static int exit_of(int rc)
{
    return rc == -1 ? QLOOP_EXIT_INPUT : QLOOP_EXIT_INTERNAL;
}

static int do_annual(const struct opts *o)
{
    static const char *const formats[] = {"html", "json", "md", "csv", "xlsx", NULL};
    if (o->dept || o->period)
        return cli_usage_error("--dept 和 --period 属于 qloop report scorecard；年度报告请用 --year");
    if (o->actor && !o->publish)
        return cli_usage_error("--actor 只用于 --publish");
    const char *format = format_of(o, formats);
    if (!format)
        return QLOOP_EXIT_INPUT;
    int64_t now = qloop_now();
    int year;
    if (o->year) {
        if (!parse_year(o->year, &year))
            return cli_usage_error("--year 应为四位数年份（如 2024），实际为 \"%s\"", o->year);
    } else {
        char today[11];
        qloop_format_date(now, today);
        year = atoi(today);
    }
    if (strcmp(format, "xlsx") == 0 && (!o->out || strcmp(o->out, "-") == 0))
        return cli_usage_error("XLSX 不能写到标准输出；请用 --out 给出文件路径");
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *report = NULL;
    int rc = report_annual(db, year, o->model, now, &report, &err);
    if (rc != 0) {
        cli_print_error(&err);
        store_close(db);
        return exit_of(rc);
    }
    int code;
    if (strcmp(format, "xlsx") == 0) {
        code = write_xlsx(o->out, report);
    } else {
        struct qloop_buf text = {0};
        int r = strcmp(format, "html") == 0  ? report_render_html(report, &text, &err)
                : strcmp(format, "json") == 0 ? report_render_json(report, &text, &err)
                : strcmp(format, "md") == 0   ? report_render_md(report, &text, &err)
                                              : report_render_csv(report, &text, &err);
        if (r != 0) {
            cli_print_error(&err);
            code = QLOOP_EXIT_INTERNAL;
        } else {
            code = write_out(o->out, &text);
        }
        qloop_buf_free(&text);
    }
    if (code == QLOOP_EXIT_OK && o->publish) {
        if (report_publish(db, report, o->actor, &err) != 0) {
            cli_print_error(&err);
            code = QLOOP_EXIT_INTERNAL;
        } else {
            fprintf(stderr, "qloop: 已发布 %d 年度评估报告（%zu 个部门）\n", year,
                    json_array_size(json_object_get(report, "departments")));
        }
    }
    json_decref(report);
    store_close(db);
    return code;
}

static int do_scorecard(const struct opts *o)
{
    static const char *const formats[] = {"html", "md", "json", NULL};
    if (o->year || o->publish || o->actor)
        return cli_usage_error("--year、--publish、--actor 属于 qloop report annual；计分卡请用 --period YYYY-MM");
    if (!o->dept || !*o->dept)
        return cli_usage_error("缺少 --dept NAME（数源部门名称）；运行 qloop report scorecard --help 查看用法");
    int year, month;
    if (!parse_period(o->period, &year, &month))
        return cli_usage_error("--period 应为 YYYY-MM（如 2024-07），实际为 \"%s\"",
                               o->period ? o->period : "（缺少）");
    struct opts with_default = *o;
    if (!with_default.format && (!o->out || strcmp(o->out, "-") == 0))
        with_default.format = "html";
    const char *format = format_of(&with_default, formats);
    if (!format)
        return QLOOP_EXIT_INPUT;
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *card = NULL;
    int rc = report_scorecard(db, o->dept, year, month, o->model, qloop_now(), &card, &err);
    store_close(db);
    if (rc != 0) {
        cli_print_error(&err);
        return exit_of(rc);
    }
    struct qloop_buf text = {0};
    int r = strcmp(format, "html") == 0 ? report_render_scorecard_html(card, &text, &err)
            : strcmp(format, "md") == 0 ? report_render_scorecard_md(card, &text, &err)
                                        : report_render_json(card, &text, &err);
    int code = r == 0 ? write_out(o->out, &text) : (cli_print_error(&err), QLOOP_EXIT_INTERNAL);
    qloop_buf_free(&text);
    json_decref(card);
    return code;
}

int cmd_report(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (!o.sub) {
        fputs(usage_all, o.help ? stdout : stderr);
        return o.help ? QLOOP_EXIT_OK : QLOOP_EXIT_INPUT;
    }
    bool annual = strcmp(o.sub, "annual") == 0, card = strcmp(o.sub, "scorecard") == 0;
    if (!annual && !card) {
        cli_usage_error("未知的子命令 \"%s\"", o.sub);
        fputs(usage_all, stderr);
        return QLOOP_EXIT_INPUT;
    }
    if (o.help) {
        fputs(annual ? usage_annual : usage_scorecard, stdout);
        return QLOOP_EXIT_OK;
    }
    return annual ? do_annual(&o) : do_scorecard(&o);
}
