/*
 * test_csv.c — the CSV/TSV adapter and the adapter registry.
 *
 * Fixtures in tests/fixtures/adapters/ cover quoting, doubled quotes, line
 * breaks inside quotes, CRLF, a BOM, Chinese headers, GBK (declared and not)
 * and one file per error; larger inputs are generated under /tmp and read back
 * in small batches, with the default 1 MiB read chunk and with tiny chunks, so
 * rows, quotes, CRLF pairs and multibyte characters fall across every chunk
 * boundary. Each value, row number and line number is compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"
#include "base/text.h"

#define FIX(name) QLOOP_SOURCE_DIR "/tests/fixtures/adapters/" name

/* Everything a source returned, copied. */
struct table {
    size_t ncols;
    char **names;
    size_t nrows;
    size_t cap;
    char **cells; /* nrows * ncols */
    uint64_t *row_no;
    uint64_t *line_no;
};

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->names[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->names);
    free(t->cells);
    free(t->row_no);
    free(t->line_no);
    memset(t, 0, sizeof *t);
}

/* Reads the whole source into t. Returns 0, -1 when open failed, -2 when a
 * batch failed (t then holds the rows of the batches before). Checks the batch
 * invariants on the way. */
static int read_all(const struct qloop_adapter *a, const char *path,
                    const struct qloop_source_options *o, struct table *t, struct qloop_error *err)
{
    memset(t, 0, sizeof *t);
    qloop_error_clear(err);
    void *st;
    if (a->open(path, o, &st, err) < 0) {
        assert_null(st);
        assert_true(err->message[0] != '\0');
        return -1;
    }
    const char *const *names;
    a->columns(st, &t->ncols, &names);
    t->names = calloc(t->ncols, sizeof *t->names);
    for (size_t i = 0; i < t->ncols; i++)
        t->names[i] = strdup(names[i]);
    size_t limit = o && o->batch_rows ? o->batch_rows : 4096;
    struct qloop_batch b;
    int r;
    while ((r = a->next_batch(st, &b, err)) == 1) {
        assert_int_equal(b.ncols, t->ncols);
        assert_true(b.nrows >= 1 && b.nrows <= limit);
        for (size_t i = 0; i < b.nrows; i++) {
            if (t->nrows == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 64;
                t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
                t->row_no = realloc(t->row_no, t->cap * sizeof *t->row_no);
                t->line_no = realloc(t->line_no, t->cap * sizeof *t->line_no);
            }
            for (size_t j = 0; j < b.ncols; j++) {
                const struct qloop_field *f = &b.cells[i * b.ncols + j];
                assert_int_equal(f->null, 0); /* CSV has no nulls */
                assert_int_equal(f->ptr[f->len], '\0');
                assert_int_equal(strlen(f->ptr), f->len);
                t->cells[t->nrows * t->ncols + j] = strdup(f->ptr);
            }
            t->row_no[t->nrows] = b.row_no[i];
            t->line_no[t->nrows] = b.line_no[i];
            t->nrows++;
        }
    }
    if (r < 0) {
        assert_true(err->message[0] != '\0');
        /* the source stays failed */
        struct qloop_error again;
        assert_int_equal(a->next_batch(st, &b, &again), -1);
        assert_string_equal(again.message, err->message);
    } else {
        assert_int_equal(a->next_batch(st, &b, err), 0); /* stays at the end */
        assert_int_equal(b.nrows, 0);
    }
    a->close(st);
    return r < 0 ? -2 : 0;
}

#define CELL(t, i, j) ((t)->cells[(i) * (t)->ncols + (j)])

/* Writes n bytes (strlen(data) when n is -1) to a fresh temporary file;
 * returns its malloc'd path. */
static char *write_tmp(const char *data, size_t n)
{
    if (n == (size_t)-1)
        n = strlen(data);
    char *path = strdup("/tmp/qloop_test_csv_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Reads the string s as a CSV file with default options; on failure t is
 * left empty. */
static int read_str(const char *s, struct table *t, struct qloop_error *err)
{
    char *path = write_tmp(s, strlen(s));
    int r = read_all(&qloop_adapter_csv, path, NULL, t, err);
    unlink(path);
    free(path);
    if (r != 0)
        table_free(t);
    return r;
}

/* ---- well-formed input ---------------------------------------------------- */

static void test_quoting_crlf_bom_chinese(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = 2};
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("quoted.csv"), &o, &t, &err), 0);
    assert_int_equal(t.ncols, 4);
    assert_string_equal(t.names[0], "统一社会信用代码"); /* BOM dropped */
    assert_string_equal(t.names[1], "名称");
    assert_string_equal(t.names[3], "备注");
    assert_int_equal(t.nrows, 3); /* the two blank lines at the end are ignored */

    assert_string_equal(CELL(&t, 0, 0), "91330100MA27Y0001A");
    assert_string_equal(CELL(&t, 0, 1), "杭州\"云栖\"科技有限公司");
    assert_string_equal(CELL(&t, 0, 2), "浙江省杭州市\r\n西湖区1号");
    assert_string_equal(CELL(&t, 0, 3), "");
    assert_string_equal(CELL(&t, 1, 1), "宁波港");
    assert_string_equal(CELL(&t, 1, 2), "");
    assert_string_equal(CELL(&t, 1, 3), "\"");
    assert_string_equal(CELL(&t, 2, 1), " 有空格 "); /* nothing trimmed */
    assert_string_equal(CELL(&t, 2, 2), "a,b");
    assert_string_equal(CELL(&t, 2, 3), "多\r\n行\r\n文本");

    assert_int_equal(t.row_no[0], 1);
    assert_int_equal(t.row_no[1], 2);
    assert_int_equal(t.row_no[2], 3);
    assert_int_equal(t.line_no[0], 2);
    assert_int_equal(t.line_no[1], 4); /* row 1 spans lines 2-3 */
    assert_int_equal(t.line_no[2], 5);
    table_free(&t);
}

static void test_lf_and_no_final_newline(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("a,b\n1,2\n3,4", &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(CELL(&t, 1, 1), "4");
    assert_int_equal(t.line_no[1], 3);
    table_free(&t);

    assert_int_equal(read_str("a,b\r\n1,\"2\"", &t, &err), 0);
    assert_int_equal(t.nrows, 1);
    assert_string_equal(CELL(&t, 0, 1), "2");
    table_free(&t);

    /* header only: no rows */
    assert_int_equal(read_str("a,b", &t, &err), 0);
    assert_int_equal(t.ncols, 2);
    assert_int_equal(t.nrows, 0);
    table_free(&t);

    /* empty fields, a quoted empty last field, a bare CR kept as data */
    assert_int_equal(read_str("a,b,c\n,,\n\"\",x\ry,\"\"\n", &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(CELL(&t, 0, 0), "");
    assert_string_equal(CELL(&t, 0, 2), "");
    assert_string_equal(CELL(&t, 1, 1), "x\ry");
    table_free(&t);
}

static void test_tsv(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    /* .tsv through the csv adapter: tab by default */
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("people.tsv"), NULL, &t, &err), 0);
    assert_int_equal(t.ncols, 3);
    assert_string_equal(t.names[1], "年龄");
    assert_int_equal(t.nrows, 2);
    assert_string_equal(CELL(&t, 0, 2), "含\t制表符");
    assert_string_equal(CELL(&t, 1, 1), "");
    table_free(&t);

    /* the tsv adapter on any name; an explicit delimiter wins */
    char *path = write_tmp("x\ty;z\n1\t2;3\n", (size_t)-1);
    assert_int_equal(read_all(&qloop_adapter_tsv, path, NULL, &t, &err), 0);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(CELL(&t, 0, 1), "2;3");
    table_free(&t);
    struct qloop_source_options o = {.delimiter = ';'};
    assert_int_equal(read_all(&qloop_adapter_tsv, path, &o, &t, &err), 0);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(t.names[0], "x\ty");
    assert_string_equal(CELL(&t, 0, 1), "3");
    table_free(&t);
    o.delimiter = '"';
    assert_int_equal(read_all(&qloop_adapter_csv, path, &o, &t, &err), -1);
    assert_non_null(strstr(err.message, "分隔符"));
    unlink(path);
    free(path);
}

static void test_one_column_blank_lines(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = 1};
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("one_column.csv"), &o, &t, &err), 0);
    assert_int_equal(t.nrows, 3); /* 330102, "", 330203; the trailing blanks dropped */
    assert_string_equal(CELL(&t, 0, 0), "330102");
    assert_string_equal(CELL(&t, 1, 0), "");
    assert_string_equal(CELL(&t, 2, 0), "330203");
    assert_int_equal(t.line_no[1], 3);
    assert_int_equal(t.line_no[2], 4);
    assert_int_equal(t.row_no[2], 3);
    table_free(&t);

    /* a run of blank lines in the middle, CRLF */
    assert_int_equal(read_str("a\r\n1\r\n\r\n\r\n2\r\n", &t, &err), 0);
    assert_int_equal(t.nrows, 4);
    assert_string_equal(CELL(&t, 1, 0), "");
    assert_string_equal(CELL(&t, 2, 0), "");
    assert_string_equal(CELL(&t, 3, 0), "2");
    assert_int_equal(t.line_no[3], 5);
    table_free(&t);

    /* a quoted empty value is a row, not a blank line */
    assert_int_equal(read_str("a\n\"\"\n", &t, &err), 0);
    assert_int_equal(t.nrows, 1);
    table_free(&t);
}

static void test_stdin(void **unused)
{
    (void)unused;
    int saved = dup(0);
    int fd = open(FIX("quoted.csv"), O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 0);
    close(fd);
    struct table t;
    struct qloop_error err;
    int r = read_all(&qloop_adapter_csv, "-", NULL, &t, &err);
    dup2(saved, 0);
    close(saved);
    assert_int_equal(r, 0);
    assert_int_equal(t.nrows, 3);
    assert_string_equal(t.names[0], "统一社会信用代码");
    assert_string_equal(CELL(&t, 2, 3), "多\r\n行\r\n文本");
    table_free(&t);
}

/* ---- errors ---------------------------------------------------------------- */

/* Reads path (fixture) and expects failure at (line, column) with a message
 * containing want; returns the number of rows read before. */
static size_t expect_error(const char *path, int at_open, long line, long column,
                           const char *want, const char *encoding)
{
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.encoding = encoding};
    int r = read_all(&qloop_adapter_csv, path, &o, &t, &err);
    if (r == 0)
        fail_msg("%s: expected an error", path);
    assert_int_equal(r, at_open ? -1 : -2);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    if (!strstr(err.message, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
    const char *slash = strrchr(path, '/');
    assert_string_equal(strrchr(err.file, '/') ? strrchr(err.file, '/') + 1 : err.file,
                        slash ? slash + 1 : path);
    size_t n = t.nrows;
    table_free(&t);
    return n;
}

static void test_unterminated_quote_line(void **unused)
{
    (void)unused;
    /* 10 lines; the quote opens on line 3 (column 6) and never closes */
    expect_error(FIX("unterminated.csv"), 0, 3, 6, "引号未闭合", NULL);

    /* the same with one byte per read, and with batches of one row: the row
     * on line 2 comes out first */
    size_t saved = qloop_input_chunk_size;
    qloop_input_chunk_size = 1;
    expect_error(FIX("unterminated.csv"), 0, 3, 6, "从文件第 3 行第 6 列开始", NULL);
    qloop_input_chunk_size = saved;

    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = 1};
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("unterminated.csv"), &o, &t, &err), -2);
    assert_int_equal(t.nrows, 1);
    assert_string_equal(CELL(&t, 0, 1), "张三");
    assert_int_equal(err.line, 3);
    table_free(&t);

    /* a quote opening in the header */
    assert_int_equal(read_str("a,\"b\n1,2\n", &t, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 3);
}

static void test_ragged_rows(void **unused)
{
    (void)unused;
    expect_error(FIX("ragged.csv"), 0, 3, 5, "数据第 2 行（从文件这一行开始）有 3 个字段，表头有 2 个",
                 NULL);
    expect_error(FIX("blank_middle.csv"), 0, 3, 1, "空行", NULL);

    struct table t;
    struct qloop_error err;
    /* The error's line is the file's; the message names the data row too,
     * which differs once a quoted value spans lines. */
    assert_int_equal(read_str("a,b\n\"x\ny\",1\n1,2,3\n", &t, &err), -2);
    assert_int_equal(err.line, 4);
    if (!strstr(err.message, "数据第 2 行"))
        fail_msg("message \"%s\" lacks the data row", err.message);
    /* too few, after a row spanning lines 2-4 */
    assert_int_equal(read_str("a,b\n1,\"x\n\ny\"\n5\n", &t, &err), -2);
    assert_int_equal(err.line, 5);
    assert_non_null(strstr(err.message, "数据第 2 行（从文件这一行开始）有 1 个字段，表头有 2 个"));
    /* too many inside a quoted-multiline row: the surplus field's position */
    assert_int_equal(read_str("a,b\n1,\"x\ny\",3\n", &t, &err), -2);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 4);
}

static void test_stray_and_trailing_quotes(void **unused)
{
    (void)unused;
    expect_error(FIX("stray_quote.csv"), 0, 3, 5, "字段中出现未转义的引号", NULL);
    expect_error(FIX("after_quote.csv"), 0, 3, 4, "结束引号后出现多余字符", NULL);
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("名称,b\n\"中文\"文,2\n", &t, &err), -2);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 5); /* counted in characters */
}

static void test_bad_bytes(void **unused)
{
    (void)unused;
    /* 0xFF after two Chinese characters: column 4 in characters */
    size_t n = expect_error(FIX("bad_utf8.csv"), 0, 3, 4, "不是有效的 UTF-8 编码（字节 0xFF）", NULL);
    assert_int_equal(n, 0);
    expect_error(FIX("nul.csv"), 0, 3, 4, "NUL", NULL);

    struct table t;
    struct qloop_error err;
    /* not GBK-looking: no hint that the file is GBK */
    assert_int_equal(read_str("a\n\xff\xfe\n", &t, &err), -2);
    assert_null(strstr(err.message, "看起来是 GBK"));
    /* overlong and surrogate encodings are invalid */
    assert_int_equal(read_str("a\n\xc0\xaf\n", &t, &err), -2);
    assert_int_equal(err.line, 2);
    assert_int_equal(read_str("a\n\"x\xed\xa0\x80\"\n", &t, &err), -2);
    assert_int_equal(err.column, 3);
    /* a character cut by the end of the file */
    assert_int_equal(read_str("a\n\xe4\xb8", &t, &err), -2);
    assert_non_null(strstr(err.message, "截断"));
    /* UTF-16 */
    assert_int_equal(read_str("\xff\xfe" "a\0,\0", &t, &err), -1);
    assert_non_null(strstr(err.message, "UTF-16"));
    /* invalid bytes in the header */
    assert_int_equal(read_str("a,\xff\n", &t, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 3);
}

/* Three-byte sequences in unquoted fields (csv.c takes runs of the common
 * ones at once): every lead byte E0-EF with second and third bytes at the
 * edges of the continuation range is accepted exactly when it is
 * well-formed UTF-8 (qloop_utf8_seq), after and before Chinese text, at the
 * field's end, and read back byte for byte. */
static void test_three_byte_runs(void **unused)
{
    (void)unused;
    static const unsigned char second[] = {0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0};
    static const unsigned char third[] = {0x7F, 0x80, 0xBF, 0xC0};
    size_t accepted = 0;
    for (unsigned lead = 0xE0; lead <= 0xEF; lead++)
        for (size_t i = 0; i < sizeof second; i++)
            for (size_t j = 0; j < sizeof third; j++) {
                unsigned char seq[4] = {(unsigned char)lead, second[i], third[j], 0};
                bool good = qloop_utf8_seq(seq, seq + 3) == 3;
                char field[32], text[64];
                snprintf(field, sizeof field, "\xE4\xB8\xAD%s\xE6\x96\x87%s", (const char *)seq,
                         (const char *)seq);
                snprintf(text, sizeof text, "a,b\n%s,x\n", field);
                struct table t;
                struct qloop_error err;
                int r = read_str(text, &t, &err);
                if (good != (r == 0))
                    fail_msg("%02X %02X %02X: %s", lead, second[i], third[j], good ? err.message : "accepted");
                if (r == 0) {
                    assert_string_equal(CELL(&t, 0, 0), field);
                    assert_string_equal(CELL(&t, 0, 1), "x");
                    accepted++;
                    table_free(&t);
                }
            }
    assert_int_equal(accepted, 14 * 4 * 2 + 2 * 2 * 2); /* E0: second A0, BF; ED: 80, 9F */
}

static void test_header_errors(void **unused)
{
    (void)unused;
    expect_error(FIX("empty.csv"), 1, 0, 0, "文件为空", NULL);
    expect_error(FIX("dup_header.csv"), 1, 1, 7, "列名“名称”重复：表头第 2 列和第 3 列", NULL);
    expect_error(FIX("empty_header.csv"), 1, 1, 4, "表头第 2 列的列名为空", NULL);
    expect_error(FIX("no_such_file.csv"), 1, 0, 0, "找不到数据文件", NULL);
    expect_error(FIX(""), 1, 0, 0, "目录", NULL);

    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("\xef\xbb\xbf", &t, &err), -1);
    assert_non_null(strstr(err.message, "文件为空"));
    assert_int_equal(read_str("\na,b\n", &t, &err), -1);
    assert_non_null(strstr(err.message, "第一行是空行"));
    assert_int_equal(read_str("a,\"\"\n", &t, &err), -1);
    assert_non_null(strstr(err.message, "第 2 列的列名为空"));
    /* names are kept exactly: " a" and "a" differ */
    assert_int_equal(read_str(" a,a\n1,2\n", &t, &err), 0);
    assert_string_equal(t.names[0], " a");
    table_free(&t);
}

/* ---- GBK ------------------------------------------------------------------- */

static void test_gbk_declared(void **unused)
{
    (void)unused;
    const char *encs[] = {"gbk", "GB18030", "gb2312"};
    size_t chunks[] = {(size_t)1 << 20, 1, 2, 3, 5};
    size_t saved = qloop_input_chunk_size;
    for (size_t e = 0; e < 3; e++)
        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            qloop_input_chunk_size = chunks[c];
            struct table t;
            struct qloop_error err;
            struct qloop_source_options o = {.encoding = encs[e], .batch_rows = 1};
            assert_int_equal(read_all(&qloop_adapter_csv, FIX("gbk.csv"), &o, &t, &err), 0);
            assert_int_equal(t.ncols, 3);
            assert_string_equal(t.names[0], "名称");
            assert_string_equal(t.names[2], "联系人");
            assert_int_equal(t.nrows, 2);
            assert_string_equal(CELL(&t, 0, 0), "杭州市数据资源管理局");
            assert_string_equal(CELL(&t, 0, 1), "浙江省杭州市\n上城区解放东路18号");
            assert_string_equal(CELL(&t, 1, 0), "宁波市大数据发展管理局");
            assert_string_equal(CELL(&t, 1, 2), "李四");
            assert_int_equal(t.line_no[1], 4);
            table_free(&t);
        }
    qloop_input_chunk_size = saved;
}

static void test_gbk_detected(void **unused)
{
    (void)unused;
    /* Chinese header: fails at open, line 1 column 1, with the hint */
    expect_error(FIX("gbk.csv"), 1, 1, 1, "encoding = \"gbk\"", NULL);
    expect_error(FIX("gbk.csv"), 1, 1, 1, "看起来是 GBK/GB18030 编码", "utf-8");
    /* ASCII until line 5 (row 3, after a two-line row), column 3 */
    size_t saved = qloop_input_chunk_size;
    for (size_t c = 1; c <= 4; c++) {
        qloop_input_chunk_size = c == 4 ? (size_t)1 << 20 : c;
        expect_error(FIX("gbk_data.csv"), 0, 5, 3, "看起来是 GBK/GB18030 编码", NULL);
    }
    qloop_input_chunk_size = saved;
}

static void test_gbk_errors(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.encoding = "gbk"};
    /* 0x81 0x20 is not GB18030: line 3, column 3 */
    char *path = write_tmp("a,b\n1,2\n3,\x81\x20\n", (size_t)-1);
    assert_int_equal(read_all(&qloop_adapter_csv, path, &o, &t, &err), -2);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 3);
    assert_non_null(strstr(err.message, "不是有效的 gbk 编码（字节 0x81）"));
    table_free(&t);
    unlink(path);
    free(path);
    /* cut at the end of the file */
    path = write_tmp("a\n\xd6", (size_t)-1);
    assert_int_equal(read_all(&qloop_adapter_csv, path, &o, &t, &err), -2);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "截断"));
    table_free(&t);
    unlink(path);
    free(path);
    /* a UTF-8 file declared GBK */
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("quoted.csv"), &o, &t, &err), -1);
    assert_non_null(strstr(err.message, "BOM"));
    o.encoding = "big5";
    assert_int_equal(read_all(&qloop_adapter_csv, FIX("quoted.csv"), &o, &t, &err), -1);
    assert_non_null(strstr(err.message, "不支持的编码“big5”"));
}

/* ---- generated input across chunk boundaries --------------------------------- */

struct gen {
    struct qloop_buf text;
    size_t nrows;
    char **vals; /* nrows * 4 */
    uint64_t *line;
};

/* Appends a CSV rendering of v (quoted when needed or when force). */
static void put_field(struct qloop_buf *b, const char *v, int force)
{
    if (!force && !strpbrk(v, ",\"\r\n")) {
        qloop_buf_append(b, v, strlen(v));
        return;
    }
    qloop_buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '"')
            qloop_buf_putc(b, '"');
        qloop_buf_putc(b, *v);
    }
    qloop_buf_putc(b, '"');
}

/* Builds n rows of four columns with every kind of field; one field of
 * `huge` bytes in row n/2 when huge > 0. */
static void gen_build(struct gen *g, size_t n, size_t huge)
{
    memset(g, 0, sizeof *g);
    g->nrows = n;
    g->vals = calloc(n * 4, sizeof *g->vals);
    g->line = calloc(n, sizeof *g->line);
    qloop_buf_printf(&g->text, "%s", "\xef\xbb\xbf编号,名称,备注,代码\r\n");
    uint64_t line = 2;
    for (size_t i = 0; i < n; i++) {
        struct qloop_buf v = {0};
        char **row = g->vals + i * 4;
        qloop_buf_printf(&v, "%zu", i);
        row[0] = strdup(v.ptr);
        qloop_buf_reset(&v);
        switch (i % 7) {
        case 0: qloop_buf_printf(&v, "名称%zu", i); break;
        case 1: qloop_buf_printf(&v, "说\"你好\"%zu", i); break;
        case 2: qloop_buf_printf(&v, "a,b%zu", i); break;
        case 3: qloop_buf_printf(&v, "多\n行%zu\r\n第三行", i); break;
        case 4: break;
        case 5: for (size_t k = 0; k < i % 97; k++) qloop_buf_append(&v, "中", 3); break;
        default: qloop_buf_printf(&v, "\"%zu\"", i); break;
        }
        if (huge && i == n / 2) {
            qloop_buf_reset(&v);
            for (size_t k = 0; k < huge; k++)
                qloop_buf_putc(&v, (char)('a' + k % 26));
        }
        row[1] = strdup(qloop_buf_str(&v));
        qloop_buf_reset(&v);
        qloop_buf_printf(&v, "%s", i % 3 == 0 ? "" : i % 3 == 1 ? "备注" : " 空格 ");
        row[2] = strdup(qloop_buf_str(&v));
        qloop_buf_reset(&v);
        qloop_buf_printf(&v, "3301%02zu", i % 100);
        row[3] = strdup(v.ptr);
        qloop_buf_free(&v);

        g->line[i] = line;
        size_t start = g->text.len;
        for (int j = 0; j < 4; j++) {
            if (j)
                qloop_buf_putc(&g->text, ',');
            put_field(&g->text, row[j], (i + (size_t)j) % 5 == 0);
        }
        if (i + 1 < n || i % 2) /* the last row without a line break when n is odd */
            qloop_buf_append(&g->text, i % 2 ? "\r\n" : "\n", i % 2 ? 2 : 1);
        for (size_t k = start; k < g->text.len; k++)
            line += g->text.ptr[k] == '\n';
    }
}

static void gen_free(struct gen *g)
{
    for (size_t i = 0; i < g->nrows * 4; i++)
        free(g->vals[i]);
    free(g->vals);
    free(g->line);
    qloop_buf_free(&g->text);
}

/* Reads g back with the given batch size and checks everything. */
static void gen_check(const struct gen *g, const char *path, size_t batch_rows)
{
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = batch_rows};
    int r = read_all(&qloop_adapter_csv, path, &o, &t, &err);
    if (r != 0)
        fail_msg("read failed: %s:%ld:%ld %s", err.file, err.line, err.column, err.message);
    assert_int_equal(t.ncols, 4);
    assert_string_equal(t.names[0], "编号");
    assert_string_equal(t.names[3], "代码");
    assert_int_equal(t.nrows, g->nrows);
    for (size_t i = 0; i < g->nrows; i++) {
        for (size_t j = 0; j < 4; j++)
            if (strcmp(CELL(&t, i, j), g->vals[i * 4 + j]))
                fail_msg("row %zu col %zu: got \"%.60s\" want \"%.60s\"", i, j, CELL(&t, i, j),
                         g->vals[i * 4 + j]);
        assert_int_equal(t.row_no[i], i + 1);
        assert_int_equal(t.line_no[i], g->line[i]);
    }
    table_free(&t);
}

static void test_large_file_small_batches(void **unused)
{
    (void)unused;
    struct gen g;
    gen_build(&g, 50001, 0);
    assert_true(g.text.len > 2 * qloop_input_chunk_size); /* crosses read chunks */
    char *path = write_tmp(g.text.ptr, g.text.len);
    gen_check(&g, path, 7);
    gen_check(&g, path, 4096);
    unlink(path);
    free(path);
    gen_free(&g);

    /* one field longer than three read chunks */
    gen_build(&g, 101, (size_t)3 << 20 | 17);
    path = write_tmp(g.text.ptr, g.text.len);
    gen_check(&g, path, 10);
    unlink(path);
    free(path);
    gen_free(&g);
}

static void test_tiny_chunks(void **unused)
{
    (void)unused;
    size_t saved = qloop_input_chunk_size;
    size_t sizes[] = {1, 2, 3, 4, 7, 64, 1000};
    for (size_t n = 200; n <= 201; n++) {
        struct gen g;
        gen_build(&g, n, 0);
        char *path = write_tmp(g.text.ptr, g.text.len);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            qloop_input_chunk_size = sizes[s];
            gen_check(&g, path, 1);
            gen_check(&g, path, 13);
        }
        unlink(path);
        free(path);
        gen_free(&g);
    }
    /* trailing blank lines split across chunks */
    qloop_input_chunk_size = 1;
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("a\r\n1\r\n\r\n\r\n", &t, &err), 0);
    assert_int_equal(t.nrows, 1);
    table_free(&t);
    assert_int_equal(read_str("a,b\n1,2\n\r\n\r\n", &t, &err), 0);
    assert_int_equal(t.nrows, 1);
    table_free(&t);
    qloop_input_chunk_size = saved;
}

/* bad_rows = report: rows with the wrong number of fields (and a blank line
 * among several columns) are listed with their row and line and skipped;
 * the rows after them keep their numbers. A quote never closed still stops. */
static void test_bad_rows_reported(void **unused)
{
    (void)unused;
    char *path = write_tmp("a,b\n1,2\n3\n\n\"4\n\",5,6\n7,8\n", (size_t)-1);
    struct qloop_source_options o = {.bad_rows = QLOOP_BAD_ROWS_REPORT, .batch_rows = 2};
    void *st;
    struct qloop_error err;
    assert_int_equal(qloop_adapter_csv.open(path, &o, &st, &err), 0);
    struct qloop_batch b;
    uint64_t good[8], bad[8], bad_line[8];
    size_t ngood = 0, nbad = 0;
    int r;
    while ((r = qloop_adapter_csv.next_batch(st, &b, &err)) == 1) {
        for (size_t i = 0; i < b.nrows; i++)
            good[ngood++] = b.row_no[i];
        for (size_t i = 0; i < b.nbad; i++) {
            bad[nbad] = b.bad[i].row_no;
            bad_line[nbad++] = b.bad[i].line_no;
            assert_non_null(b.bad[i].message);
        }
    }
    assert_int_equal(r, 0);
    qloop_adapter_csv.close(st);
    assert_int_equal(ngood, 2);
    assert_int_equal(good[0], 1);
    assert_int_equal(good[1], 5);
    assert_int_equal(nbad, 3);
    assert_int_equal(bad[0], 2), assert_int_equal(bad_line[0], 3);
    assert_int_equal(bad[1], 3), assert_int_equal(bad_line[1], 4);
    assert_int_equal(bad[2], 4), assert_int_equal(bad_line[2], 5);
    unlink(path);
    free(path);

    path = write_tmp("a,b\n1,2\n\"3,4\n", (size_t)-1);
    assert_int_equal(qloop_adapter_csv.open(path, &o, &st, &err), 0);
    while ((r = qloop_adapter_csv.next_batch(st, &b, &err)) == 1)
        ;
    assert_int_equal(r, -1);
    assert_non_null(strstr(err.message, "引号未闭合"));
    qloop_adapter_csv.close(st);
    unlink(path);
    free(path);
}

/* A tab-separated file read as CSV: the header is one name full of tabs. */
static void test_tab_hint(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("证照编号\t名称\nZZ-1\t甲\n", &t, &err), -1);
    assert_non_null(strstr(err.message, "制表符分隔"));
    assert_non_null(strstr(err.message, "format = \"tsv\""));
    /* a declared delimiter is taken at its word; a tab inside one of several names is no hint */
    char *path = write_tmp("证照编号\t名称\nZZ-1\t甲\n", (size_t)-1);
    struct qloop_source_options semi = {.delimiter = ';'};
    assert_int_equal(read_all(&qloop_adapter_csv, path, &semi, &t, &err), 0);
    table_free(&t);
    assert_int_equal(read_all(&qloop_adapter_tsv, path, NULL, &t, &err), 0);
    assert_int_equal(t.ncols, 2);
    table_free(&t);
    unlink(path);
    free(path);
    assert_int_equal(read_str("a\tx,b\n1,2\n", &t, &err), 0);
    table_free(&t);
}

/* ---- registry ---------------------------------------------------------------- */

static void test_registry(void **unused)
{
    (void)unused;
    assert_ptr_equal(qloop_adapter_find("data/人口.csv", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("X.CSV", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("a.b/x.tsv", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("x.txt", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("x.jsonl", NULL), &qloop_adapter_jsonl);
    assert_ptr_equal(qloop_adapter_find("x.NDJSON", NULL), &qloop_adapter_jsonl);
    assert_ptr_equal(qloop_adapter_find("-", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("x.json", NULL), &qloop_adapter_json);
    assert_ptr_equal(qloop_adapter_find("x.XLSX", NULL), &qloop_adapter_xlsx);
    assert_ptr_equal(qloop_adapter_find("x.xlsm", NULL), &qloop_adapter_xlsx);
    assert_null(qloop_adapter_find("x.xls", NULL));
    assert_ptr_equal(qloop_adapter_find("odbc:population", NULL), &qloop_adapter_odbc);
    assert_ptr_equal(qloop_adapter_find("ODBC:population", "csv"), &qloop_adapter_odbc);
    assert_ptr_equal(qloop_adapter_find("odbc.csv", NULL), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("x.dat", "json"), &qloop_adapter_json);
    assert_ptr_equal(qloop_adapter_find("x.dat", "xlsx"), &qloop_adapter_xlsx);
    assert_null(qloop_adapter_find("x.csv/noext", NULL));
    assert_null(qloop_adapter_find("x.", NULL));
    assert_null(qloop_adapter_find(NULL, NULL));
    assert_ptr_equal(qloop_adapter_find("x.csv", "jsonl"), &qloop_adapter_jsonl);
    assert_ptr_equal(qloop_adapter_find("-", "JSONL"), &qloop_adapter_jsonl);
    assert_ptr_equal(qloop_adapter_find("x.dat", "csv"), &qloop_adapter_csv);
    assert_ptr_equal(qloop_adapter_find("-", "tsv"), &qloop_adapter_tsv);
    assert_null(qloop_adapter_find("x.csv", "xml"));

    size_t n = 0;
    while (qloop_adapters[n])
        n++;
    assert_int_equal(n, 5);
    assert_string_equal(qloop_adapters[0]->name, "csv");
    assert_string_equal(qloop_adapters[1]->name, "jsonl");
    assert_string_equal(qloop_adapters[4]->scheme, "odbc");
    assert_true(qloop_adapter_jsonl.flags & QLOOP_ADAPTER_OPEN_COLUMNS);
    assert_true(qloop_adapter_json.flags & QLOOP_ADAPTER_OPEN_COLUMNS);
    assert_false(qloop_adapter_csv.flags & QLOOP_ADAPTER_OPEN_COLUMNS);
    assert_string_equal(qloop_adapter_csv.extensions[1], "tsv");
    assert_null(qloop_adapter_csv.extensions[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting_crlf_bom_chinese),
        cmocka_unit_test(test_lf_and_no_final_newline),
        cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_one_column_blank_lines),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_unterminated_quote_line),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_stray_and_trailing_quotes),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_three_byte_runs),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_gbk_declared),
        cmocka_unit_test(test_gbk_detected),
        cmocka_unit_test(test_gbk_errors),
        cmocka_unit_test(test_large_file_small_batches),
        cmocka_unit_test(test_tiny_chunks),
        cmocka_unit_test(test_bad_rows_reported),
        cmocka_unit_test(test_tab_hint),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
