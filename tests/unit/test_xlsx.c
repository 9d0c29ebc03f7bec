/*
 * test_xlsx.c — the Excel workbook adapter and the number formats.
 *
 * Workbooks are written here with libxlsxwriter: shared strings (Chinese,
 * rich text), numbers (integers, decimals, percent, thousands), dates and
 * times in built-in and custom formats (1900 and 1904 date systems),
 * booleans, formulas' cached results, a header on row 3, empty rows, a
 * second sheet chosen by name, batches smaller than the sheet (the parser
 * suspended between them), a value outside the header (a malformed row,
 * reported or fatal), and the errors: a missing sheet, a truncated file, a
 * file that is not a zip, a zip that is not a workbook. The number formats
 * are also checked directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "adapters.h"
#include "base/buf.h"

#include "source_table.h"

static char *tmp_path(const char *suffix)
{
    static int n;
    char *p = malloc(128);
    snprintf(p, 128, "/tmp/qloop_test_xlsx_%d_%d%s", (int)getpid(), n++, suffix);
    return p;
}

/* ---- workbooks ---- */

/* A workbook with sheets "说明" (one note) and "2026": header on row 3 (rows
 * 1–2 a title and a blank), then rows of every kind of value, a blank row,
 * and more rows. */
static char *make_book(int extra_cell)
{
    char *path = tmp_path(".xlsx");
    lxw_workbook_options opt = {.constant_memory = LXW_FALSE, .use_zip64 = LXW_FALSE};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    lxw_worksheet *note = workbook_add_worksheet(wb, "说明");
    worksheet_write_string(note, 0, 0, "本表为测试数据", NULL);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "2026");
    lxw_format *date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    lxw_format *date14 = workbook_add_format(wb);
    format_set_num_format_index(date14, 14);
    lxw_format *dt = workbook_add_format(wb);
    format_set_num_format(dt, "yyyy\"年\"m\"月\"d\"日\" hh:mm:ss");
    lxw_format *pct = workbook_add_format(wb);
    format_set_num_format(pct, "0.00%");
    lxw_format *thou = workbook_add_format(wb);
    format_set_num_format(thou, "#,##0.00");
    lxw_format *yuan = workbook_add_format(wb);
    format_set_num_format(yuan, "0\"元\"");
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    worksheet_write_string(ws, 0, 0, "2026 年证照清单", NULL);
    const char *head[] = {"证照编号", "名称", "数量", "金额", "比例", "发证日期", "日期14", "时间", "有效", "合计", "人民币"};
    for (int j = 0; j < 11; j++)
        worksheet_write_string(ws, 2, (lxw_col_t)j, head[j], NULL);
    lxw_datetime d1 = {2026, 3, 5, 0, 0, 0}, d2 = {1999, 12, 31, 0, 0, 0};
    lxw_datetime t1 = {2026, 3, 5, 14, 7, 9.4};
    /* row 4 */
    worksheet_write_string(ws, 3, 0, "ZZ-001", NULL);
    lxw_rich_string_tuple f1 = {.format = bold, .string = "杭州"}, f2 = {.format = NULL, .string = "甲公司"};
    lxw_rich_string_tuple *rich[] = {&f1, &f2, NULL};
    worksheet_write_rich_string(ws, 3, 1, rich, NULL);
    worksheet_write_number(ws, 3, 2, 42, NULL);
    worksheet_write_number(ws, 3, 3, 1234567.891, thou);
    worksheet_write_number(ws, 3, 4, 0.1234, pct);
    worksheet_write_datetime(ws, 3, 5, &d1, date);
    worksheet_write_datetime(ws, 3, 6, &d2, date14);
    worksheet_write_datetime(ws, 3, 7, &t1, dt);
    worksheet_write_boolean(ws, 3, 8, 1, NULL);
    worksheet_write_formula_num(ws, 3, 9, "=C4*2", NULL, 84);
    worksheet_write_number(ws, 3, 10, 15, yuan);
    /* row 5: sparse, a decimal in General, a negative */
    worksheet_write_string(ws, 4, 0, "ZZ-002", NULL);
    worksheet_write_number(ws, 4, 2, 0.1, NULL);
    worksheet_write_number(ws, 4, 3, -5.5, thou);
    worksheet_write_boolean(ws, 4, 8, 0, NULL);
    worksheet_write_formula_str(ws, 4, 9, "=\"合\"&\"计\"", NULL, "合计");
    /* row 6 empty; row 7 */
    worksheet_write_string(ws, 6, 0, "ZZ-003", NULL);
    worksheet_write_string(ws, 6, 1, "", NULL);
    worksheet_write_number(ws, 6, 2, 1e20, NULL);
    if (extra_cell)
        worksheet_write_string(ws, 7, 12, "表外备注", NULL);
    worksheet_write_string(ws, 8, 0, "ZZ-004", NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    return path;
}

static void test_values(void **state)
{
    (void)state;
    char *path = make_book(0);
    struct qloop_source_options o = {.sheet = "2026", .header_row = 3, .dataset = "证照"};
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &o, &t, &err), 0);
    assert_int_equal(t.ncols, 11);
    assert_string_equal(t.names[0], "证照编号");
    assert_string_equal(t.names[10], "人民币");
    assert_int_equal(t.nrows, 4);
    assert_string_equal(val(&t, 0, "证照编号"), "ZZ-001");
    assert_string_equal(val(&t, 0, "名称"), "杭州甲公司");
    assert_string_equal(val(&t, 0, "数量"), "42");
    assert_string_equal(val(&t, 0, "金额"), "1,234,567.89");
    assert_string_equal(val(&t, 0, "比例"), "12.34%");
    assert_string_equal(val(&t, 0, "发证日期"), "2026-03-05");
    assert_string_equal(val(&t, 0, "日期14"), "1999/12/31");
    assert_string_equal(val(&t, 0, "时间"), "2026年3月5日 14:07:09");
    assert_string_equal(val(&t, 0, "有效"), "TRUE");
    assert_string_equal(val(&t, 0, "合计"), "84");
    assert_string_equal(val(&t, 0, "人民币"), "15元");
    assert_string_equal(val(&t, 1, "数量"), "0.1");
    assert_string_equal(val(&t, 1, "金额"), "-5.50");
    assert_null(val(&t, 1, "名称"));
    assert_string_equal(val(&t, 1, "有效"), "FALSE");
    assert_string_equal(val(&t, 1, "合计"), "合计");
    assert_string_equal(val(&t, 2, "数量"), "1E+20");
    assert_null(val(&t, 2, "名称")); /* an empty string is no value */
    /* row numbers: sheet row minus the header row; the line is the sheet row */
    assert_int_equal(t.row_no[0], 1);
    assert_int_equal(t.line_no[0], 4);
    assert_int_equal(t.row_no[2], 4);
    assert_int_equal(t.line_no[2], 7);
    assert_int_equal(t.row_no[3], 6);
    table_free(&t);

    /* small batches: the parser is suspended and resumed between them */
    o.batch_rows = 1;
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &o, &t, &err), 0);
    assert_int_equal(t.nrows, 4);
    assert_string_equal(val(&t, 3, "证照编号"), "ZZ-004");
    assert_string_equal(val(&t, 0, "发证日期"), "2026-03-05");
    table_free(&t);

    /* the first sheet by default */
    struct qloop_source_options first = {0};
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &first, &t, &err), 0);
    assert_int_equal(t.ncols, 1);
    assert_string_equal(t.names[0], "本表为测试数据");
    assert_int_equal(t.nrows, 0);
    table_free(&t);
    unlink(path);
    free(path);
}

static void test_malformed_row(void **state)
{
    (void)state;
    char *path = make_book(1);
    struct qloop_source_options o = {.sheet = "2026", .header_row = 3, .dataset = "证照"};
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &o, &t, &err), -2);
    assert_non_null(strstr(err.message, "M 列有值"));
    assert_int_equal(err.line, 8);
    table_free(&t);
    o.bad_rows = QLOOP_BAD_ROWS_REPORT;
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &o, &t, &err), 0);
    assert_int_equal(t.nrows, 4);
    assert_int_equal(t.nbad, 1);
    assert_int_equal(t.bad_row[0], 5);
    assert_non_null(strstr(t.bad_msg[0], "表头（第 3 行）这一列没有列名"));
    table_free(&t);
    unlink(path);
    free(path);
}

static void test_errors(void **state)
{
    (void)state;
    char *path = make_book(0);
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.sheet = "2025", .dataset = "证照"};
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &o, &t, &err), -1);
    assert_non_null(strstr(err.message, "没有名为“2025”的工作表"));
    assert_non_null(strstr(err.message, "“说明”、“2026”"));
    assert_non_null(strstr(err.message, "证照"));

    struct qloop_source_options deep = {.sheet = "2026", .header_row = 99, .dataset = "证照"};
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &deep, &t, &err), -1);
    assert_non_null(strstr(err.message, "没有第 99 行"));

    /* a header row that is blank while data follows */
    struct qloop_source_options blank = {.sheet = "2026", .header_row = 2, .dataset = "证照"};
    assert_int_equal(read_all(&qloop_adapter_xlsx, path, &blank, &t, &err), -1);
    assert_non_null(strstr(err.message, "第 2 行（表头）是空的"));

    /* truncated: the zip's directory is at its end */
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *cut = tmp_path(".xlsx");
    f = fopen(cut, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    struct qloop_source_options any = {.dataset = "证照"};
    assert_int_equal(read_all(&qloop_adapter_xlsx, cut, &any, &t, &err), -1);
    assert_non_null(strstr(err.message, "不是有效的 .xlsx 工作簿"));
    assert_non_null(strstr(err.message, "证照"));
    assert_string_equal(err.file, cut);

    /* not a zip at all */
    f = fopen(cut, "wb");
    fputs("证照编号,名称\nZZ-001,甲\n", f);
    fclose(f);
    assert_int_equal(read_all(&qloop_adapter_xlsx, cut, &any, &t, &err), -1);
    assert_non_null(strstr(err.message, "不是有效的 .xlsx 工作簿"));

    /* missing file */
    unlink(cut);
    assert_int_equal(read_all(&qloop_adapter_xlsx, cut, &any, &t, &err), -1);
    assert_non_null(strstr(err.message, "找不到"));
    free(cut);
    unlink(path);
    free(path);
}

/* ---- number formats ---- */

static void fmt(const char *want, double v, const char *code, int date1904)
{
    struct qloop_buf b = {0};
    qloop_numfmt_render(&b, v, code, date1904);
    if (strcmp(qloop_buf_str(&b), want) != 0)
        fail_msg("%g with \"%s\": got \"%s\", want \"%s\"", v, code ? code : "(null)", qloop_buf_str(&b), want);
    qloop_buf_free(&b);
}

static void test_numfmt(void **state)
{
    (void)state;
    fmt("42", 42, NULL, 0);
    fmt("42", 42.0, "General", 0);
    fmt("0.1", 0.1, "General", 0);
    fmt("-3", -3, "@", 0);
    fmt("123456789012345", 123456789012345.0, "General", 0);
    fmt("1.23456789012346E+20", 123456789012345678901.0, "General", 0);
    fmt("3", 3.4, "0", 0);
    fmt("3.40", 3.4, "0.00", 0);
    fmt("1,234,568", 1234567.6, "#,##0", 0);
    fmt("(1,234.50)", -1234.5, "#,##0.00;(#,##0.00)", 0);
    fmt("-1,234.50", -1234.5, "#,##0.00", 0);
    fmt("50%", 0.5, "0%", 0);
    fmt("1.50E+03", 1500, "0.00E+00", 0);
    fmt("007", 7, "000", 0);
    fmt("¥12.00", 12, "[$¥-804]#,##0.00", 0);
    fmt("12.5", 12.5, "#.##", 0);
    /* dates: serial 46086 is 2026-03-05 in the 1900 system */
    fmt("2026-03-05", 46086, "yyyy-mm-dd", 0);
    fmt("2026/3/5", 46086, qloop_numfmt_builtin(14), 0);
    fmt("2026年3月5日", 46086, qloop_numfmt_builtin(31), 0);
    fmt("3月5日", 46086, qloop_numfmt_builtin(28), 0);
    fmt("5-Mar-26", 46086, qloop_numfmt_builtin(15), 0);
    fmt("2026/3/5 12:00", 46086.5, qloop_numfmt_builtin(22), 0);
    fmt("1:30 PM", 0.5625, qloop_numfmt_builtin(18), 0);
    fmt("下午1时30分", 0.5625, qloop_numfmt_builtin(34), 0);
    fmt("13:30:00", 0.5625, "hh:mm:ss", 0);
    fmt("30:00", 0.5625 - 13.0 / 24, "mm:ss", 0);
    fmt("37:30:00", 1.5625, "[h]:mm:ss", 0);
    fmt("星期四", 46086, "aaaa", 0);
    fmt("Thu", 46086, "ddd", 0);
    fmt("1900-02-28", 59, "yyyy-mm-dd", 0);
    fmt("1900-02-29", 60, "yyyy-mm-dd", 0); /* Excel's leap-year bug */
    fmt("1900-03-01", 61, "yyyy-mm-dd", 0);
    fmt("1904-01-01", 0, "yyyy-mm-dd", 1);
    fmt("2030-03-06", 46086, "yyyy-mm-dd", 1);
    fmt("2026-03-05 23:59:59", 46086 + 86399.4 / 86400, "yyyy-mm-dd hh:mm:ss", 0);
    fmt("2026-03-06 00:00:00", 46086 + 86399.6 / 86400, "yyyy-mm-dd hh:mm:ss", 0);
    assert_true(qloop_numfmt_is_date("yyyy-mm-dd"));
    assert_true(qloop_numfmt_is_date("[h]:mm"));
    assert_true(qloop_numfmt_is_date("mm:ss.0"));
    assert_false(qloop_numfmt_is_date("0.00"));
    assert_false(qloop_numfmt_is_date("[Red]#,##0"));
    assert_false(qloop_numfmt_is_date("0\"天\""));
    assert_false(qloop_numfmt_is_date("General"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_malformed_row),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_numfmt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
