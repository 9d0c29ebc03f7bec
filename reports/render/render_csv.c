/*
 * render_csv.c — the report as CSV: one row per department, in rank order,
 * under a header row of Chinese column names. RFC 4180 quoting, CRLF line
 * ends and a UTF-8 byte-order mark, so spreadsheet programs in Chinese
 * locales open it as UTF-8. Figures are the JSON's own numbers (ratios as
 * 0..1, scores with one decimal); a figure that does not apply is empty.
 * Text cells are made inert: a name such as =HYPERLINK(...) is written as
 * '=HYPERLINK(...), shown as text by every spreadsheet program.
 */
#include <string.h>

#include "base/escape.h"
#include "report.h"

/* Appends one text field: a value a spreadsheet would read as a formula
 * (= + - @ first, also after blanks, or a leading tab or CR) behind a single
 * quote, control characters escaped (base/escape.h), and the whole quoted
 * when it holds a comma, quote or line break. */
static void field(struct qloop_buf *b, const char *s, bool first)
{
    if (!first)
        qloop_buf_putc(b, ',');
    s = s ? s : "";
    struct qloop_buf cell = {0};
    qloop_escape_cell(s, strlen(s), &cell);
    const char *c = qloop_buf_str(&cell);
    if (!strpbrk(c, ",\"\r\n")) {
        qloop_buf_append(b, c, cell.len);
        qloop_buf_free(&cell);
        return;
    }
    qloop_buf_putc(b, '"');
    for (const char *p = c; *p; p++) {
        if (*p == '"')
            qloop_buf_putc(b, '"');
        qloop_buf_putc(b, *p);
    }
    qloop_buf_putc(b, '"');
    qloop_buf_free(&cell);
}

/* Appends a number field (empty for null). */
static void number(struct qloop_buf *b, const json_t *v, int decimals)
{
    qloop_buf_putc(b, ',');
    if (json_is_number(v))
        report_put_number(b, v, decimals);
}

static const struct {
    const char *obj, *key, *header;
    int decimals;
} extra[] = {
    {"quality", "checked", "质量校验条次", 0},
    {"quality", "passed", "质量通过条次", 0},
    {"quality", "rate", "质量通过率", 4},
    {"aggregation", "checks", "归集检查次数", 0},
    {"aggregation", "on_time", "按期归集次数", 0},
    {"tickets", "opened", "新开工单", 0},
    {"tickets", "due", "应答复次数", 0},
    {"tickets", "on_time", "按期答复次数", 0},
    {"tickets", "late", "逾期答复次数", 0},
    {"tickets", "overdue_open", "逾期未答复工单", 0},
    {"tickets", "avg_answer_days", "平均答复工作日", 2},
    {"tickets", "extension_requests", "申请延期次数", 0},
    {"tickets", "extensions", "批准延期次数", 0},
    {"tickets", "rectified", "完成整改答复次数", 0},
    {"tickets", "recheck_failed", "复核未通过次数", 0},
    {"tickets", "fixed_items", "整改共享记录", 0},
    {"tickets", "reopened_items", "共享后再次出错记录", 0},
};
enum { NEXTRA = sizeof extra / sizeof extra[0] };

int report_render_csv(const json_t *report, struct qloop_buf *out, struct qloop_error *err)
{
    (void)err;
    struct qloop_buf *b = out;
    qloop_buf_append(b, "\xEF\xBB\xBF", 3);
    static const char *const head[] = {"年度", "排名", "部门", "得分", "等级", "上年得分", "较上年"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        field(b, head[i], i == 0);
    const json_t *decls = json_object_get(report, "indicators");
    size_t i;
    json_t *decl;
    json_array_foreach(decls, i, decl) {
        struct qloop_buf h = {0};
        qloop_buf_printf(&h, "%s（比率）", report_str(decl, "name", ""));
        field(b, qloop_buf_str(&h), false);
        qloop_buf_free(&h);
    }
    for (int k = 0; k < REPORT_NDIMS; k++) {
        struct qloop_buf h = {0};
        qloop_buf_printf(&h, "%s通过率", report_dimensions_zh[k]);
        field(b, qloop_buf_str(&h), false);
        qloop_buf_free(&h);
    }
    for (int k = 0; k < NEXTRA; k++)
        field(b, extra[k].header, false);
    field(b, "改进建议条数", false);
    qloop_buf_append(b, "\r\n", 2);

    json_t *d;
    size_t j;
    json_array_foreach(json_object_get(report, "departments"), j, d) {
        qloop_buf_printf(b, "%lld,", report_int(report, "year", 0));
        if (report_rated(d))
            qloop_buf_printf(b, "%lld", report_int(d, "rank", 0));
        field(b, report_str(d, "name", ""), false);
        number(b, json_object_get(d, "score"), 1);
        field(b, report_str(d, "grade", ""), false);
        number(b, json_object_get(json_object_get(d, "previous"), "score"), 1);
        number(b, json_object_get(d, "change"), 1);
        const json_t *inds = json_object_get(d, "indicators");
        json_array_foreach(decls, i, decl) {
            const json_t *r = json_object_get(inds, report_str(decl, "id", ""));
            number(b, json_object_get(r, "value"), 4);
        }
        const json_t *dims = json_object_get(json_object_get(d, "quality"), "dimensions");
        for (int k = 0; k < REPORT_NDIMS; k++)
            number(b, json_object_get(json_object_get(dims, report_dimensions[k]), "rate"), 4);
        for (int k = 0; k < NEXTRA; k++)
            number(b, json_object_get(json_object_get(d, extra[k].obj), extra[k].key),
                   extra[k].decimals);
        qloop_buf_printf(b, ",%zu\r\n", json_array_size(json_object_get(d, "advice")));
    }
    return 0;
}
