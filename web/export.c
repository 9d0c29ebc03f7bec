/*
 * export.c — a ticket's problem records as downloads: CSV (UTF-8 with a
 * byte-order mark, so spreadsheets read the Chinese right) and XLSX.
 *
 * Records are the ticket's as its user may see them (unmasked for the owner
 * department's providers, audited; masked for everyone else). Every cell
 * goes through the project's one spreadsheet neutraliser (base/escape.h:
 * qloop_escape_cell): a cell a spreadsheet would run as a formula (it
 * starts with = + - or @) is written behind a single quote, control
 * characters as visible escapes.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef QLOOP_HAVE_XLSX
#include <xlsxwriter.h>
#endif

#include "base/escape.h"
#include "report.h"
#include "web_pages.h"

static const char *const columns[] = {"行号", "主键", "字段", "值", "问题", "状态", "登记时间", "关闭时间"};
enum { NCOLS = sizeof columns / sizeof columns[0] };

/* The cells of record rec, neutralised, into cells[NCOLS] (each a buffer). */
static void record_cells(const json_t *rec, struct qloop_buf cells[NCOLS])
{
    const char *keys[NCOLS] = {NULL, "record_key", "field", "value", "message", "state", "added_at",
                               "closed_at"};
    for (int i = 0; i < NCOLS; i++)
        qloop_buf_reset(&cells[i]);
    const json_t *row = json_object_get(rec, "row_no");
    if (json_is_integer(row))
        qloop_buf_printf(&cells[0], "%lld", (long long)json_integer_value(row));
    for (int i = 1; i < NCOLS; i++) {
        const char *v = report_str(rec, keys[i], "");
        v = i == 5 ? web_item_state_zh(v) : v;
        qloop_escape_cell(v, strlen(v), &cells[i]);
    }
}

static void csv_field(struct qloop_buf *b, const char *s)
{
    qloop_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            qloop_buf_putc(b, '"');
        qloop_buf_putc(b, *s);
    }
    qloop_buf_putc(b, '"');
}

static void send_csv(struct web_req *r, int64_t id, const json_t *recs)
{
    struct qloop_buf *b = &r->out;
    qloop_buf_reset(b);
    qloop_buf_append(b, "\xEF\xBB\xBF", 3);
    for (int i = 0; i < NCOLS; i++) {
        if (i)
            qloop_buf_putc(b, ',');
        csv_field(b, columns[i]);
    }
    qloop_buf_append(b, "\r\n", 2);
    struct qloop_buf cells[NCOLS] = {{0}};
    size_t k;
    json_t *rec;
    json_array_foreach(recs, k, rec) {
        record_cells(rec, cells);
        for (int i = 0; i < NCOLS; i++) {
            if (i)
                qloop_buf_putc(b, ',');
            csv_field(b, qloop_buf_str(&cells[i]));
        }
        qloop_buf_append(b, "\r\n", 2);
    }
    for (int i = 0; i < NCOLS; i++)
        qloop_buf_free(&cells[i]);
    r->status = 200;
    r->ctype = "text/csv; charset=utf-8";
    char cd[96];
    snprintf(cd, sizeof cd, "attachment; filename=\"ticket-%lld-records.csv\"", (long long)id);
    web_add_header(r, "Content-Disposition", cd);
}

#ifdef QLOOP_HAVE_XLSX
/* Writes the records as a workbook at path. 0 or -1. */
static int write_xlsx(const char *path, int64_t id, const json_t *recs)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb)
        return -1;
    char name[32];
    snprintf(name, sizeof name, "工单%lld", (long long)id);
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    for (int i = 0; i < NCOLS; i++)
        worksheet_write_string(ws, 0, (lxw_col_t)i, columns[i], bold);
    struct qloop_buf cells[NCOLS] = {{0}};
    size_t k;
    json_t *rec;
    json_array_foreach(recs, k, rec) {
        record_cells(rec, cells);
        const json_t *row = json_object_get(rec, "row_no");
        if (json_is_integer(row))
            worksheet_write_number(ws, (lxw_row_t)(k + 1), 0, (double)json_integer_value(row), NULL);
        for (int i = 1; i < NCOLS; i++)
            worksheet_write_string(ws, (lxw_row_t)(k + 1), (lxw_col_t)i, qloop_buf_str(&cells[i]), NULL);
    }
    for (int i = 0; i < NCOLS; i++)
        qloop_buf_free(&cells[i]);
    worksheet_set_column(ws, 1, NCOLS - 1, 18, NULL);
    return workbook_close(wb) == LXW_NO_ERROR ? 0 : -1;
}
#endif

static void send_xlsx(struct web_req *r, int64_t id, const json_t *recs)
{
#ifdef QLOOP_HAVE_XLSX
    char path[512], name[64];
    snprintf(name, sizeof name, "ticket-%lld-records.xlsx", (long long)id);
    if (web_temp_path(path, sizeof path) != 0) {
        web_reply_error(r, 500, "无法创建临时文件");
        return;
    }
    if (write_xlsx(path, id, recs) != 0 ||
        web_send_file(r, path, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      name) != 0)
        web_reply_error(r, 500, "生成 XLSX 失败");
    unlink(path);
#else
    (void)id, (void)recs;
    web_reply_error(r, 422, "本构建没有 libxlsxwriter，不能生成 XLSX；请下载 CSV");
#endif
}

void page_export(struct web_req *r, int64_t id, const char *name)
{
    bool csv = strcmp(name, "records.csv") == 0;
    if (!csv && strcmp(name, "records.xlsx") != 0) {
        web_reply_error(r, 404, "没有这个页面");
        return;
    }
    json_t *t = web_ticket_or_reply(r, id);
    if (!t)
        return;
    if (csv)
        send_csv(r, id, json_object_get(t, "records"));
    else
        send_xlsx(r, id, json_object_get(t, "records"));
    json_decref(t);
}
