/*
 * render_xlsx.c — the report as an Excel workbook (libxlsxwriter): a summary
 * sheet 汇总 (one row per department, the same columns as the CSV), one
 * sheet per department (indicators, dimensions, months, advice) and a sheet
 * 工单 of every ticket listed in the report. Chinese headers; figures are
 * written as numbers (ratios with a percentage format), never as text. The
 * workbook's creation time is the report's generation time, so the same
 * report gives the same file.
 *
 * Built only when CMake found libxlsxwriter (QLOOP_HAVE_XLSX); otherwise
 * report_render_xlsx says so and the other formats remain.
 */
#include <string.h>

#include "report.h"

#ifdef QLOOP_HAVE_XLSX

#include <xlsxwriter.h>

#include "base/clock.h"
#include "base/escape.h"
#include "base/text.h"
#include "loop/ticket.h"

bool report_xlsx_available(void) { return true; }

struct book {
    lxw_workbook *wb;
    lxw_format *bold, *pct, *num1, *num2, *wrap, *title;
};

/* Writes text s at (row, col) in fmt. Every string cell passes here: control
 * characters (which XML cannot hold: the workbook would not open) are
 * written as visible escapes, and a value that would be taken for a formula
 * when edited gets a leading quote (base/escape.h). */
static void text(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s, lxw_format *fmt)
{
    struct qloop_buf cell = {0};
    s = s ? s : "";
    qloop_escape_cell(s, strlen(s), &cell);
    worksheet_write_string(ws, row, col, qloop_buf_str(&cell), fmt);
    qloop_buf_free(&cell);
}

/* Writes v at (row, col): a number (in fmt), a string, or nothing. */
static void put(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const json_t *v, lxw_format *fmt)
{
    if (json_is_number(v))
        worksheet_write_number(ws, row, col, json_number_value(v), fmt);
    else if (json_is_string(v))
        text(ws, row, col, json_string_value(v), NULL);
    else if (json_is_boolean(v))
        text(ws, row, col, json_is_true(v) ? "是" : "否", NULL);
}

static const struct {
    const char *obj, *key, *header;
} extra[] = {
    {"quality", "checked", "质量校验条次"},
    {"quality", "passed", "质量通过条次"},
    {"aggregation", "checks", "归集检查次数"},
    {"aggregation", "on_time", "按期归集次数"},
    {"tickets", "opened", "新开工单"},
    {"tickets", "due", "应答复次数"},
    {"tickets", "on_time", "按期答复次数"},
    {"tickets", "late", "逾期答复次数"},
    {"tickets", "overdue_open", "逾期未答复工单"},
    {"tickets", "avg_answer_days", "平均答复工作日"},
    {"tickets", "extension_requests", "申请延期次数"},
    {"tickets", "extensions", "批准延期次数"},
    {"tickets", "rectified", "完成整改答复次数"},
    {"tickets", "recheck_failed", "复核未通过次数"},
    {"tickets", "fixed_items", "整改共享记录"},
    {"tickets", "reopened_items", "共享后再次出错记录"},
};
enum { NEXTRA = sizeof extra / sizeof extra[0] };

/* 汇总: header row, then one row per department in rank order. */
static void summary_sheet(struct book *bk, const json_t *report)
{
    lxw_worksheet *ws = workbook_add_worksheet(bk->wb, "汇总");
    static const char *const head[] = {"排名", "部门", "得分", "等级", "上年得分", "较上年"};
    lxw_col_t c = 0;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        text(ws, 0, c++, head[i], bk->bold);
    const json_t *decls = json_object_get(report, "indicators");
    size_t i;
    json_t *decl;
    json_array_foreach(decls, i, decl) text(ws, 0, c++, report_str(decl, "name", ""), bk->bold);
    for (int k = 0; k < REPORT_NDIMS; k++) {
        char h[64];
        snprintf(h, sizeof h, "%s通过率", report_dimensions_zh[k]);
        text(ws, 0, c++, h, bk->bold);
    }
    for (int k = 0; k < NEXTRA; k++)
        text(ws, 0, c++, extra[k].header, bk->bold);
    worksheet_set_column(ws, 0, 0, 6, NULL);
    worksheet_set_column(ws, 1, 1, 22, NULL);
    worksheet_set_column(ws, 2, c, 12, NULL);
    worksheet_freeze_panes(ws, 1, 2);

    json_t *d;
    size_t j;
    json_array_foreach(json_object_get(report, "departments"), j, d) {
        lxw_row_t r = (lxw_row_t)j + 1;
        c = 0;
        put(ws, r, c++, json_object_get(d, "rank"), NULL);
        put(ws, r, c++, json_object_get(d, "name"), NULL);
        put(ws, r, c++, json_object_get(d, "score"), bk->num1);
        put(ws, r, c++, json_object_get(d, "grade"), NULL);
        put(ws, r, c++, json_object_get(json_object_get(d, "previous"), "score"), bk->num1);
        put(ws, r, c++, json_object_get(d, "change"), bk->num1);
        const json_t *inds = json_object_get(d, "indicators");
        json_array_foreach(decls, i, decl) {
            const json_t *x = json_object_get(inds, report_str(decl, "id", ""));
            put(ws, r, c++, json_object_get(x, "value"), bk->pct);
        }
        const json_t *dims = json_object_get(json_object_get(d, "quality"), "dimensions");
        for (int k = 0; k < REPORT_NDIMS; k++)
            put(ws, r, c++, json_object_get(json_object_get(dims, report_dimensions[k]), "rate"),
                bk->pct);
        for (int k = 0; k < NEXTRA; k++)
            put(ws, r, c++, json_object_get(json_object_get(d, extra[k].obj), extra[k].key), NULL);
    }
}

/* A sheet name for department number n: "NN 名称", at most 31 characters,
 * without the characters Excel forbids, control characters or bytes that
 * are not UTF-8 (each becomes '_'). */
static void sheet_name(size_t n, const char *name, char *out, size_t size)
{
    struct qloop_buf b = {0};
    qloop_buf_printf(&b, "%02zu ", n);
    int chars = 3;
    const unsigned char *u = (const unsigned char *)name;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < nlen && chars < 31; chars++) {
        uint32_t cp;
        size_t len = qloop_utf8_decode(u, nlen, i, &cp);
        if (cp == QLOOP_U8_INVALID || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
            (len == 1 && strchr("[]:*?/\\'", u[i])))
            qloop_buf_putc(&b, '_');
        else
            qloop_buf_append(&b, name + i, len);
        i += len;
    }
    snprintf(out, size, "%s", qloop_buf_str(&b));
    qloop_buf_free(&b);
}

/* One department's sheet. */
static void department_sheet(struct book *bk, const json_t *report, const json_t *d, size_t n)
{
    char name[160];
    sheet_name(n, report_str(d, "name", ""), name, sizeof name);
    lxw_worksheet *ws = workbook_add_worksheet(bk->wb, name);
    if (!ws) { /* a name Excel refuses after all: the number alone */
        snprintf(name, sizeof name, "部门%02zu", n);
        ws = workbook_add_worksheet(bk->wb, name);
    }
    if (!ws)
        return;
    worksheet_set_column(ws, 0, 0, 18, NULL);
    worksheet_set_column(ws, 1, 1, 24, NULL);
    worksheet_set_column(ws, 2, 7, 12, NULL);
    lxw_row_t r = 0;
    text(ws, r, 0, report_str(d, "name", ""), bk->title);
    r += 2;
    static const struct {
        const char *label, *key;
    } head[] = {{"得分", "score"}, {"等级", "grade"}, {"排名", "rank"}, {"较上年", "change"}};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++, r++) {
        text(ws, r, 0, head[i].label, bk->bold);
        put(ws, r, 1, json_object_get(d, head[i].key), bk->num1);
    }
    text(ws, r, 0, "上年得分", bk->bold);
    put(ws, r++, 1, json_object_get(json_object_get(d, "previous"), "score"), bk->num1);

    r++;
    static const char *const ih[] = {"类别", "指标", "权重", "分子", "分母", "比率", "得分", "薄弱"};
    for (lxw_col_t c = 0; c < 8; c++)
        text(ws, r, c, ih[c], bk->bold);
    r++;
    const json_t *inds = json_object_get(d, "indicators");
    size_t i;
    json_t *decl;
    json_array_foreach(json_object_get(report, "indicators"), i, decl) {
        const json_t *x = json_object_get(inds, report_str(decl, "id", ""));
        if (!x)
            continue;
        put(ws, r, 0, json_object_get(x, "group"), NULL);
        put(ws, r, 1, json_object_get(x, "name"), NULL);
        put(ws, r, 2, json_object_get(x, "weight"), NULL);
        put(ws, r, 3, json_object_get(x, "numerator"), NULL);
        put(ws, r, 4, json_object_get(x, "denominator"), NULL);
        put(ws, r, 5, json_object_get(x, "value"), bk->pct);
        put(ws, r, 6, json_object_get(x, "points"), bk->num2);
        put(ws, r, 7, json_object_get(x, "weak"), NULL);
        r++;
    }

    r++;
    static const char *const dh[] = {"数据质量维度", "校验条次", "通过条次", "未通过", "出错", "通过率"};
    for (lxw_col_t c = 0; c < 6; c++)
        text(ws, r, c, dh[c], bk->bold);
    r++;
    const json_t *dims = json_object_get(json_object_get(d, "quality"), "dimensions");
    for (int k = 0; k < REPORT_NDIMS; k++, r++) {
        const json_t *q = json_object_get(dims, report_dimensions[k]);
        text(ws, r, 0, report_dimensions_zh[k], NULL);
        put(ws, r, 1, json_object_get(q, "checked"), NULL);
        put(ws, r, 2, json_object_get(q, "passed"), NULL);
        put(ws, r, 3, json_object_get(q, "failed"), NULL);
        put(ws, r, 4, json_object_get(q, "errors"), NULL);
        put(ws, r, 5, json_object_get(q, "rate"), bk->pct);
    }

    const json_t *months = json_object_get(d, "months");
    if (months) {
        r++;
        static const char *const mh[] = {"月份", "校验条次", "通过条次", "通过率", "应答复工单",
                                         "按期答复", "按期率", "新开工单"};
        for (lxw_col_t c = 0; c < 8; c++)
            text(ws, r, c, mh[c], bk->bold);
        r++;
        json_t *mo;
        json_array_foreach(months, i, mo) {
            put(ws, r, 0, json_object_get(mo, "month"), NULL);
            put(ws, r, 1, json_object_get(mo, "checked"), NULL);
            put(ws, r, 2, json_object_get(mo, "passed"), NULL);
            put(ws, r, 3, json_object_get(mo, "rate"), bk->pct);
            put(ws, r, 4, json_object_get(mo, "tickets_due"), NULL);
            put(ws, r, 5, json_object_get(mo, "tickets_on_time"), NULL);
            put(ws, r, 6, json_object_get(mo, "tickets_rate"), bk->pct);
            put(ws, r, 7, json_object_get(mo, "tickets_opened"), NULL);
            r++;
        }
    }

    r++;
    text(ws, r, 0, "改进建议", bk->bold);
    text(ws, r, 1, "依据", bk->bold);
    r++;
    json_t *a;
    json_array_foreach(json_object_get(d, "advice"), i, a) {
        text(ws, r, 0, report_str(a, "text", ""), bk->wrap);
        text(ws, r, 1, report_str(a, "basis", ""), bk->wrap);
        r++;
    }
}

/* 工单: every ticket of every department. */
static void ticket_sheet(struct book *bk, const json_t *report)
{
    lxw_worksheet *ws = workbook_add_worksheet(bk->wb, "工单");
    static const char *const head[] = {"部门", "工单号", "数据集", "规则", "来源", "状态",
                                       "接收时间", "答复期限", "答复时间", "答复用时（工作日）",
                                       "按期", "批准延期次数", "复核未通过次数", "问题记录数"};
    for (lxw_col_t c = 0; c < 14; c++)
        text(ws, 0, c, head[c], bk->bold);
    worksheet_set_column(ws, 0, 0, 18, NULL);
    worksheet_set_column(ws, 2, 3, 24, NULL);
    worksheet_set_column(ws, 6, 8, 26, NULL);
    worksheet_freeze_panes(ws, 1, 0);
    lxw_row_t r = 1;
    size_t i, j;
    json_t *d, *t;
    json_array_foreach(json_object_get(report, "departments"), i, d) {
        json_array_foreach(json_object_get(d, "ticket_list"), j, t) {
            put(ws, r, 0, json_object_get(d, "name"), NULL);
            put(ws, r, 1, json_object_get(t, "id"), NULL);
            put(ws, r, 2, json_object_get(t, "dataset"), NULL);
            put(ws, r, 3, json_object_get(t, "rule"), NULL);
            put(ws, r, 4, json_object_get(t, "source"), NULL);
            text(ws, r, 5, ticket_state_zh(report_str(t, "state", "")), NULL);
            put(ws, r, 6, json_object_get(t, "received_at"), NULL);
            put(ws, r, 7, json_object_get(t, "deadline"), NULL);
            put(ws, r, 8, json_object_get(t, "answered_at"), NULL);
            put(ws, r, 9, json_object_get(t, "working_days"), NULL);
            put(ws, r, 10, json_object_get(t, "on_time"), NULL);
            put(ws, r, 11, json_object_get(t, "extensions"), NULL);
            put(ws, r, 12, json_object_get(t, "recheck_failed"), NULL);
            put(ws, r, 13, json_object_get(t, "items"), NULL);
            r++;
        }
    }
}

int report_render_xlsx(const json_t *report, const char *path, struct qloop_error *err)
{
    struct book bk = {0};
    bk.wb = workbook_new(path);
    if (!bk.wb)
        return qloop_error_set(err, path, 0, 0, "无法创建 XLSX 文件；请检查 --out 的路径和写权限");
    int64_t created;
    lxw_doc_properties props = {0};
    props.title = (char *)report_str(report, "title", "");
    props.author = (char *)"qloop";
    if (qloop_parse_datetime(report_str(report, "generated_at", ""), &created))
        props.created = (time_t)created;
    workbook_set_properties(bk.wb, &props);
    bk.bold = workbook_add_format(bk.wb);
    format_set_bold(bk.bold);
    bk.title = workbook_add_format(bk.wb);
    format_set_bold(bk.title);
    format_set_font_size(bk.title, 14);
    bk.pct = workbook_add_format(bk.wb);
    format_set_num_format(bk.pct, "0.0%");
    bk.num1 = workbook_add_format(bk.wb);
    format_set_num_format(bk.num1, "0.0");
    bk.num2 = workbook_add_format(bk.wb);
    format_set_num_format(bk.num2, "0.00");
    bk.wrap = workbook_add_format(bk.wb);
    format_set_text_wrap(bk.wrap);

    summary_sheet(&bk, report);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(report, "departments"), i, d)
        department_sheet(&bk, report, d, i + 1);
    ticket_sheet(&bk, report);
    lxw_error e = workbook_close(bk.wb);
    if (e != LXW_NO_ERROR)
        return qloop_error_set(err, path, 0, 0, "写入 XLSX 文件失败：%s；请检查 --out 的路径和磁盘空间",
                               lxw_strerror(e));
    return 0;
}

#else

bool report_xlsx_available(void) { return false; }

int report_render_xlsx(const json_t *report, const char *path, struct qloop_error *err)
{
    (void)report;
    return qloop_error_set(err, path, 0, 0,
                           "此版本的 qloop 构建时没有 libxlsxwriter，不能写 XLSX；"
                           "请安装 libxlsxwriter-dev 后重新构建，或改用 --format csv");
}

#endif
