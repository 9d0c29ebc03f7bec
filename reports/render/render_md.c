/*
 * render_md.c — the report as Markdown, for pasting into a document: the
 * city summary, the ranking, and per department its indicators, quality per
 * GB/T 36344 dimension, ticket handling and the advice with its basis. The
 * monthly scorecard uses the same department section. Text from the store
 * (names, titles, advice) goes through cell(): it is shown, never rendered.
 */
#include <string.h>

#include "base/escape.h"
#include "report.h"

/* Appends text s for a Markdown document (a table cell, a heading, a list
 * item): nothing in it may become markup. < > & as HTML entities, so no raw
 * HTML (<script>, <img onerror=...>) reaches a renderer; the characters that
 * make emphasis, code, links, images and tables backslash-escaped; line
 * breaks as spaces; other control characters as visible escapes. */
static void cell(struct qloop_buf *b, const char *s)
{
    struct qloop_buf clean = {0};
    s = s ? s : "";
    qloop_escape_controls(s, strlen(s), QLOOP_ESC_KEEP_NEWLINE, &clean);
    for (const char *p = qloop_buf_str(&clean); *p; p++) {
        switch (*p) {
        case '<': qloop_buf_append(b, "&lt;", 4); break;
        case '>': qloop_buf_append(b, "&gt;", 4); break;
        case '&': qloop_buf_append(b, "&amp;", 5); break;
        case '\n': qloop_buf_putc(b, ' '); break;
        case '\\': case '`': case '*': case '_': case '[': case ']': case '|': case '~':
        case '!': case '#':
            qloop_buf_putc(b, '\\');
            qloop_buf_putc(b, *p);
            break;
        default: qloop_buf_putc(b, *p); break;
        }
    }
    qloop_buf_free(&clean);
}

/* "+3.2" / "-1.0" / "0.0", or "—" when there is no change. */
static void signed_change(struct qloop_buf *b, const json_t *v)
{
    if (!json_is_number(v)) {
        qloop_buf_printf(b, "—");
        return;
    }
    double x = json_number_value(v);
    qloop_buf_printf(b, "%s%.1f", x > 0 ? "+" : "", report_round(x, 1));
}

/* The comparison sentence for a department (previous year or month). */
static void change_text(struct qloop_buf *b, const json_t *d, const char *prev_label)
{
    const json_t *prev = json_object_get(d, "previous");
    if (!json_is_object(prev)) {
        qloop_buf_printf(b, "%s无可比数据", prev_label);
        return;
    }
    qloop_buf_printf(b, "%s得分 ", prev_label);
    report_put_number(b, json_object_get(prev, "score"), 1);
    qloop_buf_printf(b, "（%s），变化 ", report_str(prev, "grade", "—"));
    signed_change(b, json_object_get(d, "change"));
    qloop_buf_printf(b, " 分");
    long long rc = report_int(d, "rank_change", 0);
    if (rc > 0)
        qloop_buf_printf(b, "，排名上升 %lld 位", rc);
    else if (rc < 0)
        qloop_buf_printf(b, "，排名下降 %lld 位", -rc);
}

static void ticket_line(struct qloop_buf *b, const json_t *t)
{
    qloop_buf_printf(b,
                     "问题处理：新开工单 %lld 张；应答复 %lld 次，按期答复 %lld 次（",
                     report_int(t, "opened", 0), report_int(t, "due", 0), report_int(t, "on_time", 0));
    report_put_percent(b, json_object_get(t, "on_time_rate"));
    qloop_buf_printf(b, "），逾期答复 %lld 次，逾期未答复 %lld 张；平均答复用时 ",
                     report_int(t, "late", 0), report_int(t, "overdue_open", 0));
    report_put_number(b, json_object_get(t, "avg_answer_days"), 1);
    qloop_buf_printf(b,
                     " 个工作日；申请延期 %lld 次、批准 %lld 次；完成整改答复 %lld 次，复核未通过 %lld 次；"
                     "整改共享 %lld 条记录，其中再次出错 %lld 条。\n",
                     report_int(t, "extension_requests", 0), report_int(t, "extensions", 0),
                     report_int(t, "rectified", 0), report_int(t, "recheck_failed", 0),
                     report_int(t, "fixed_items", 0), report_int(t, "reopened_items", 0));
}

/* One department's section; ndepts for "第 N 名 / 共 M 个部门". */
static void department(struct qloop_buf *b, const json_t *report, const json_t *d, size_t ndepts,
                       const char *prev_label, const char *heading)
{
    qloop_buf_printf(b, "%s ", heading);
    cell(b, report_str(d, "name", ""));
    qloop_buf_printf(b, "\n\n得分 **");
    report_put_number(b, json_object_get(d, "score"), 1);
    if (report_rated(d))
        qloop_buf_printf(b, "**（%s），第 %lld 名 / 共 %zu 个部门；", report_str(d, "grade", ""),
                         report_int(d, "rank", 0), ndepts);
    else
        qloop_buf_printf(b, "**（" REPORT_NOT_RATED "：本期没有适用的评估指标，不计分、不排名）；");
    change_text(b, d, prev_label);
    qloop_buf_printf(b, "。\n\n| 类别 | 指标 | 分子 / 分母 | 比率 | 得分 / 权重 |\n"
                        "|---|---|---:|---:|---:|\n");
    const json_t *inds = json_object_get(d, "indicators");
    size_t i;
    json_t *decl;
    json_array_foreach(json_object_get(report, "indicators"), i, decl) {
        const json_t *r = json_object_get(inds, report_str(decl, "id", ""));
        if (!r)
            continue;
        qloop_buf_printf(b, "| ");
        cell(b, report_str(r, "group", ""));
        qloop_buf_printf(b, " | ");
        cell(b, report_str(r, "name", ""));
        if (json_is_true(json_object_get(r, "weak")))
            qloop_buf_printf(b, " ⚠");
        qloop_buf_printf(b, " | ");
        report_put_number(b, json_object_get(r, "numerator"), 2);
        qloop_buf_printf(b, " / ");
        report_put_number(b, json_object_get(r, "denominator"), 2);
        qloop_buf_printf(b, " | ");
        report_put_percent(b, json_object_get(r, "value"));
        qloop_buf_printf(b, " | ");
        report_put_number(b, json_object_get(r, "points"), 2);
        qloop_buf_printf(b, " / ");
        report_put_number(b, json_object_get(r, "weight"), 2);
        qloop_buf_printf(b, " |\n");
    }
    qloop_buf_printf(b, "\n⚠ 为薄弱指标；“—”为本期不适用（没有可计的分母），不计入得分。\n\n");

    qloop_buf_printf(b, "数据质量（GB/T 36344）：\n\n| 维度 | 校验条次 | 通过条次 | 通过率 |\n"
                        "|---|---:|---:|---:|\n");
    const json_t *dims = json_object_get(json_object_get(d, "quality"), "dimensions");
    for (int k = 0; k < REPORT_NDIMS; k++) {
        const json_t *q = json_object_get(dims, report_dimensions[k]);
        qloop_buf_printf(b, "| %s | %lld | %lld | ", report_dimensions_zh[k],
                         report_int(q, "checked", 0), report_int(q, "passed", 0));
        report_put_percent(b, json_object_get(q, "rate"));
        qloop_buf_printf(b, " |\n");
    }
    qloop_buf_printf(b, "\n");
    ticket_line(b, json_object_get(d, "tickets"));
    const json_t *advice = json_object_get(d, "advice");
    qloop_buf_printf(b, "\n**改进建议**\n\n");
    if (json_array_size(advice) == 0)
        qloop_buf_printf(b, "各项指标均达到要求，请保持。\n");
    json_t *a;
    json_array_foreach(advice, i, a) {
        qloop_buf_printf(b, "%zu. ", i + 1);
        cell(b, report_str(a, "text", ""));
        qloop_buf_printf(b, "（依据：");
        cell(b, report_str(a, "basis", ""));
        qloop_buf_printf(b, "）\n");
    }
    qloop_buf_printf(b, "\n");
}

/* The lines under the title: period, model, generation time. */
static void meta(struct qloop_buf *b, const json_t *report, const json_t *period)
{
    qloop_buf_printf(b, "- 评估期：%s 至 %s", report_str(period, "from", ""),
                     report_str(period, "to", ""));
    if (!json_is_true(json_object_get(period, "complete")))
        qloop_buf_printf(b, "（评估期未结束，数据截至 %.10s）", report_str(period, "as_of", ""));
    const json_t *model = json_object_get(report, "model");
    qloop_buf_printf(b, "\n- 评估模型：");
    cell(b, report_str(model, "name", ""));
    qloop_buf_printf(b, "（%.12s）\n- 生成时间：%s\n", report_str(model, "hash", ""),
                     report_str(report, "generated_at", ""));
}

int report_render_md(const json_t *report, struct qloop_buf *out, struct qloop_error *err)
{
    (void)err;
    struct qloop_buf *b = out;
    qloop_buf_printf(b, "# ");
    cell(b, report_str(report, "title", ""));
    qloop_buf_printf(b, "\n\n");
    meta(b, report, json_object_get(report, "period"));
    qloop_buf_printf(b, "- 依据：温州市公共数据共享开放管理暂行办法 第四十条；"
                        "宁波市公共数据管理办法 第三十四条、第三十五条\n\n## 全市概况\n\n");
    const json_t *city = json_object_get(report, "city");
    qloop_buf_printf(b, "参评部门 %lld 个", report_int(city, "departments", 0));
    if (report_int(city, "not_rated", 0) > 0)
        qloop_buf_printf(b, "（另有 %lld 个部门" REPORT_NOT_RATED "：本期没有适用的评估指标）",
                         report_int(city, "not_rated", 0));
    qloop_buf_printf(b, "，平均得分 ");
    report_put_number(b, json_object_get(city, "average_score"), 1);
    qloop_buf_printf(b, "；");
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(json_object_get(city, "grades"), key, v)
        qloop_buf_printf(b, "%s%s %lld 个", i++ ? "、" : "", key, (long long)json_integer_value(v));
    const json_t *q = json_object_get(city, "quality");
    qloop_buf_printf(b, "。\n\n数据质量：校验 %lld 条次（一条记录经一条规则校验一次为一条次（同一条记录经 5 条规则校验计 5 条次）），通过率 ",
                     report_int(q, "checked", 0));
    report_put_percent(b, json_object_get(q, "rate"));
    const json_t *t = json_object_get(city, "tickets");
    qloop_buf_printf(b, "。问题处理：应答复 %lld 次，按期答复率 ", report_int(t, "due", 0));
    report_put_percent(b, json_object_get(t, "on_time_rate"));
    qloop_buf_printf(b, "，逾期未答复 %lld 张，平均答复用时 ", report_int(t, "overdue_open", 0));
    report_put_number(b, json_object_get(t, "avg_answer_days"), 1);
    qloop_buf_printf(b, " 个工作日。\n\n");
    const json_t *prev = json_object_get(report, "previous");
    if (json_is_object(prev)) {
        qloop_buf_printf(b, "与 %lld 年度已发布的报告（%.10s 发布）比较。", report_int(prev, "year", 0),
                         report_str(prev, "published_at", ""));
        if (!json_is_true(json_object_get(prev, "same_model")))
            qloop_buf_printf(b, "两年所用评估模型不同，得分变化仅供参考。");
        qloop_buf_printf(b, "\n\n");
    } else {
        qloop_buf_printf(b, "上一年度没有已发布的报告，本报告不作年度比较。\n\n");
    }

    qloop_buf_printf(b, "## 部门排名\n\n| 排名 | 部门 | 得分 | 等级 | 较上年 |\n|---:|---|---:|---|---:|\n");
    const json_t *depts = json_object_get(report, "departments");
    json_t *d;
    json_array_foreach(depts, i, d) {
        qloop_buf_printf(b, "| ");
        report_put_rank(b, d);
        qloop_buf_printf(b, " | ");
        cell(b, report_str(d, "name", ""));
        qloop_buf_printf(b, " | ");
        report_put_number(b, json_object_get(d, "score"), 1);
        qloop_buf_printf(b, " | %s | ", report_str(d, "grade", ""));
        signed_change(b, json_object_get(d, "change"));
        qloop_buf_printf(b, " |\n");
    }
    qloop_buf_printf(b, "\n");
    json_array_foreach(depts, i, d) {
        char heading[64];
        if (report_rated(d))
            snprintf(heading, sizeof heading, "## %lld.", report_int(d, "rank", 0));
        else
            snprintf(heading, sizeof heading, "## " REPORT_NOT_RATED " ·");
        department(b, report, d, json_array_size(depts), "上年", heading);
    }
    return 0;
}

int report_render_scorecard_md(const json_t *card, struct qloop_buf *out,
                               struct qloop_error *err)
{
    (void)err;
    struct qloop_buf *b = out;
    qloop_buf_printf(b, "# ");
    cell(b, report_str(card, "title", ""));
    qloop_buf_printf(b, "\n\n");
    meta(b, card, json_object_get(card, "range"));
    const json_t *city = json_object_get(card, "city");
    qloop_buf_printf(b, "- 本月参评部门 %lld 个，平均得分 ", report_int(city, "departments", 0));
    report_put_number(b, json_object_get(city, "average_score"), 1);
    qloop_buf_printf(b, "\n\n");
    char prev[64];
    snprintf(prev, sizeof prev, "上月（%s）", report_str(card, "previous_period", ""));
    department(b, card, json_object_get(card, "department"),
               (size_t)report_int(city, "departments", 0), prev, "##");
    return 0;
}
