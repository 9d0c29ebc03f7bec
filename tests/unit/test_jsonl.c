/*
 * test_jsonl.c — the JSON Lines adapter.
 *
 * Fixtures in tests/fixtures/adapters/ (the .jsonl files) cover value kinds, columns that
 * appear later, blank lines, CRLF, GBK (declared and not) and each error with
 * its line and column; a generated file larger than the read chunk (and tiny
 * chunk sizes) checks lines cut across reads, with small batches so that new
 * keys arrive both inside a batch and between batches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"

#define FIX(name) QLOOP_SOURCE_DIR "/tests/fixtures/adapters/" name

/* Everything a source returned, copied; a row keeps the width of its batch. */
struct table {
    size_t ncols; /* after the last batch */
    char **names;
    size_t nrows;
    char ***rows;    /* rows[i][j]: NULL when the field was null */
    size_t *width;   /* ncols of row i's batch */
    uint64_t *row_no;
    uint64_t *line_no;
};

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->names[i]);
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t j = 0; j < t->width[i]; j++)
            free(t->rows[i][j]);
        free(t->rows[i]);
    }
    free(t->names);
    free(t->rows);
    free(t->width);
    free(t->row_no);
    free(t->line_no);
    memset(t, 0, sizeof *t);
}

/* Reads the whole source: 0, -1 when open failed, -2 when a batch failed. Checks
 * the batch invariants: the batch width equals the column count, names once
 * seen never change, null fields are "" with len 0, values NUL-terminated. */
static int read_all(const char *path, const struct qloop_source_options *o, struct table *t,
                    struct qloop_error *err)
{
    const struct qloop_adapter *a = &qloop_adapter_jsonl;
    memset(t, 0, sizeof *t);
    qloop_error_clear(err);
    void *st;
    if (a->open(path, o, &st, err) < 0) {
        assert_null(st);
        assert_true(err->message[0] != '\0');
        return -1;
    }
    size_t limit = o && o->batch_rows ? o->batch_rows : 4096;
    struct qloop_batch b;
    int r;
    const char *const *names;
    size_t nc;
    a->columns(st, &nc, &names);
    size_t cap = 0;
    for (;;) {
        size_t before = nc;
        char **keep = calloc(before + 1, sizeof *keep);
        for (size_t j = 0; j < before; j++)
            keep[j] = strdup(names[j]);
        r = a->next_batch(st, &b, err);
        a->columns(st, &nc, &names);
        assert_true(nc >= before);
        for (size_t j = 0; j < before; j++) {
            assert_string_equal(keep[j], names[j]);
            free(keep[j]);
        }
        free(keep);
        if (r != 1)
            break;
        assert_int_equal(b.ncols, nc);
        assert_true(b.nrows >= 1 && b.nrows <= limit);
        for (size_t i = 0; i < b.nrows; i++) {
            if (t->nrows == cap) {
                cap = cap ? cap * 2 : 64;
                t->rows = realloc(t->rows, cap * sizeof *t->rows);
                t->width = realloc(t->width, cap * sizeof *t->width);
                t->row_no = realloc(t->row_no, cap * sizeof *t->row_no);
                t->line_no = realloc(t->line_no, cap * sizeof *t->line_no);
            }
            char **row = calloc(b.ncols + 1, sizeof *row);
            for (size_t j = 0; j < b.ncols; j++) {
                const struct qloop_field *f = &b.cells[i * b.ncols + j];
                assert_int_equal(f->ptr[f->len], '\0');
                if (f->null) {
                    assert_int_equal(f->len, 0);
                    assert_string_equal(f->ptr, "");
                } else {
                    assert_int_equal(strlen(f->ptr), f->len);
                    row[j] = strdup(f->ptr);
                }
            }
            t->rows[t->nrows] = row;
            t->width[t->nrows] = b.ncols;
            t->row_no[t->nrows] = b.row_no[i];
            t->line_no[t->nrows] = b.line_no[i];
            t->nrows++;
        }
    }
    t->ncols = nc;
    t->names = calloc(nc + 1, sizeof *t->names);
    for (size_t j = 0; j < nc; j++)
        t->names[j] = strdup(names[j]);
    if (r < 0) {
        assert_true(err->message[0] != '\0');
        struct qloop_error again;
        assert_int_equal(a->next_batch(st, &b, &again), -1);
        assert_string_equal(again.message, err->message);
    } else {
        assert_int_equal(a->next_batch(st, &b, err), 0);
    }
    a->close(st);
    return r < 0 ? -2 : 0;
}

/* Value of row i, column j: NULL for null; "<absent>" when the column did not
 * exist yet in the row's batch. */
static const char *val(const struct table *t, size_t i, size_t j)
{
    assert_true(i < t->nrows);
    if (j >= t->width[i])
        return "<absent>";
    return t->rows[i][j];
}

/* Index of column name; fails the test when absent. */
static size_t col(const struct table *t, const char *name)
{
    for (size_t j = 0; j < t->ncols; j++)
        if (!strcmp(t->names[j], name))
            return j;
    fail_msg("no column %s", name);
    return 0;
}

static char *write_tmp(const char *data, size_t n)
{
    char *path = strdup("/tmp/qloop_test_jsonl_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Reads the string s as a JSON Lines file; on failure t is left empty. */
static int read_str(const char *s, struct table *t, struct qloop_error *err)
{
    char *path = write_tmp(s, strlen(s));
    int r = read_all(path, NULL, t, err);
    unlink(path);
    free(path);
    if (r != 0)
        table_free(t);
    return r;
}

/* ---- values and columns ------------------------------------------------------- */

/* Checks the contents of records.jsonl read with batches of batch_rows. */
static void check_records(size_t batch_rows)
{
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = batch_rows};
    assert_int_equal(read_all(FIX("records.jsonl"), &o, &t, &err), 0);
    const char *want_names[] = {"统一社会信用代码", "名称", "注册资本", "比例",
                                "存续", "注销日期", "地址", "标签"};
    assert_int_equal(t.ncols, 8);
    for (size_t j = 0; j < 8; j++)
        assert_string_equal(t.names[j], want_names[j]);
    assert_int_equal(t.nrows, 3);
    assert_int_equal(t.line_no[0], 1);
    assert_int_equal(t.line_no[1], 3); /* line 2 is blank */
    assert_int_equal(t.line_no[2], 5); /* line 4 is spaces */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(t.row_no[i], i + 1);

    assert_string_equal(val(&t, 0, 0), "91330100MA27Y0001A");
    assert_string_equal(val(&t, 0, 1), "杭州\"云栖\"科技");
    assert_string_equal(val(&t, 0, 2), "1000000");
    assert_string_equal(val(&t, 0, 3), "0.25");
    assert_string_equal(val(&t, 0, 4), "true");
    assert_null(val(&t, 0, 5)); /* null */
    /* 地址 arrives with row 2, 标签 with row 3: a row of the same batch was
     * widened with null, a row of an earlier batch did not have them yet */
    if (batch_rows == 1)
        assert_string_equal(val(&t, 0, 6), "<absent>");
    else
        assert_null(val(&t, 0, 6));
    if (batch_rows < 3)
        assert_string_equal(val(&t, 0, 7), "<absent>");
    else
        assert_null(val(&t, 0, 7));
    assert_string_equal(val(&t, 1, 2), "12345678901234");
    assert_string_equal(val(&t, 1, 3), "1e-07");
    assert_string_equal(val(&t, 1, 4), "false");
    assert_null(val(&t, 1, 5)); /* missing key */
    assert_string_equal(val(&t, 1, 6), "{\"市\":\"宁波\",\"区\":[\"鄞州\",\"海曙\"]}");
    assert_null(val(&t, 2, 0));
    assert_string_equal(val(&t, 2, 1), "温州\n瓯海");
    assert_string_equal(val(&t, 2, 3), "2");
    assert_null(val(&t, 2, 6));
    assert_string_equal(val(&t, 2, 7), "[1,2.5,\"x\"]");
    table_free(&t);
}

static void test_records(void **unused)
{
    (void)unused;
    check_records(1);
    check_records(2);
    check_records(4096);
}

static void test_numbers(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("{\"a\": -42, \"b\": 0.1, \"c\": 0.3333333333333333, "
                              "\"d\": 1.7976931348623157e308, \"e\": 5e-324, \"f\": 123456789.125, "
                              "\"g\": 9223372036854775807, \"h\": 1.0, \"i\": 100e-2, \"j\": \"007\"}\n",
                              &t, &err),
                     0);
    assert_string_equal(val(&t, 0, col(&t, "a")), "-42");
    assert_string_equal(val(&t, 0, col(&t, "b")), "0.1");
    assert_string_equal(val(&t, 0, col(&t, "c")), "0.3333333333333333");
    assert_string_equal(val(&t, 0, col(&t, "d")), "1.7976931348623157e+308");
    assert_string_equal(val(&t, 0, col(&t, "e")), "5e-324");
    assert_string_equal(val(&t, 0, col(&t, "f")), "123456789.125");
    assert_string_equal(val(&t, 0, col(&t, "g")), "9223372036854775807");
    assert_string_equal(val(&t, 0, col(&t, "h")), "1");
    assert_string_equal(val(&t, 0, col(&t, "i")), "1");
    assert_string_equal(val(&t, 0, col(&t, "j")), "007");
    table_free(&t);

    /* beyond 64 bits: an error that says to quote it */
    assert_int_equal(read_str("{\"a\": 1}\n{\"a\": 123456789012345678901234}\n", &t, &err), -2);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "写成字符串"));
}

static void test_crlf_blank_stdin(void **unused)
{
    (void)unused;
    struct table t;
    struct qloop_error err;
    assert_int_equal(read_all(FIX("crlf.jsonl"), NULL, &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(val(&t, 1, 0), "2");
    table_free(&t);

    /* no final line break, an empty object first, keys only later */
    assert_int_equal(read_str("{}\n\n{\"k\": \"v\"}", &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_int_equal(t.ncols, 1);
    assert_null(val(&t, 0, 0));
    assert_string_equal(val(&t, 1, 0), "v");
    assert_int_equal(t.line_no[1], 3);
    table_free(&t);

    int saved = dup(0);
    int fd = open(FIX("records.jsonl"), O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 0);
    close(fd);
    int r = read_all("-", NULL, &t, &err);
    dup2(saved, 0);
    close(saved);
    assert_int_equal(r, 0);
    assert_int_equal(t.nrows, 3);
    assert_string_equal(val(&t, 2, 1), "温州\n瓯海");
    table_free(&t);
}

/* ---- errors -------------------------------------------------------------------- */

static void expect_error(const char *path, const char *encoding, int at_open, long line,
                         long column, const char *want)
{
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.encoding = encoding, .batch_rows = 2};
    int r = read_all(path, &o, &t, &err);
    if (r == 0)
        fail_msg("%s: expected an error", path);
    assert_int_equal(r, at_open ? -1 : -2);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    if (!strstr(err.message, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
    assert_string_equal(err.file, path);
    table_free(&t);
}

static void test_errors(void **unused)
{
    (void)unused;
    /* line 4 `{"id": 4, "name": "x",}`: jansson's column, at the '}' */
    expect_error(FIX("bad_json.jsonl"), NULL, 0, 4, 23, "不是有效的 JSON");
    expect_error(FIX("not_object.jsonl"), NULL, 0, 2, 3, "JSON 数组，不是对象");
    expect_error(FIX("bad_utf8.jsonl"), NULL, 0, 2, 11, "不是有效的 UTF-8 编码（字节 0xFF）");
    expect_error(FIX("blank.jsonl"), NULL, 1, 0, 0, "文件为空");
    expect_error(FIX("empty.csv"), NULL, 1, 0, 0, "文件为空");
    expect_error(FIX("no_such.jsonl"), NULL, 1, 0, 0, "找不到数据文件");

    struct table t;
    struct qloop_error err;
    assert_int_equal(read_str("{\"a\": 1, \"a\": 2}\n", &t, &err), -1);
    assert_non_null(strstr(err.message, "重复的键"));
    assert_int_equal(read_str("{\"a\": 1} {\"a\": 2}\n", &t, &err), -1);
    assert_non_null(strstr(err.message, "每行只能有一个 JSON 对象"));
    assert_int_equal(read_str("{\"a\": 1}\n{\"a\": \"x\\u0000\"}\n", &t, &err), -2);
    assert_int_equal(err.line, 2);
    assert_int_equal(read_str("{\"a\": 1}\n\"text\"\n", &t, &err), -2);
    assert_non_null(strstr(err.message, "JSON 字符串，不是对象"));
    assert_int_equal(read_str("{\"a\": 1}\n{\"a\": \x01}\n", &t, &err), -2);
    assert_int_equal(err.line, 2);
    char nul[] = "{\"a\": 1}\n{\"a\": 2}\n{\"a\":\0 3}\n";
    char *path = write_tmp(nul, sizeof nul - 1);
    assert_int_equal(read_all(path, NULL, &t, &err), -2);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 6);
    assert_non_null(strstr(err.message, "NUL"));
    table_free(&t);
    unlink(path);
    free(path);
}

static void test_gbk(void **unused)
{
    (void)unused;
    size_t saved = qloop_input_chunk_size;
    for (size_t c = 1; c <= 4; c++) {
        qloop_input_chunk_size = c == 4 ? (size_t)1 << 20 : c;
        struct table t;
        struct qloop_error err;
        struct qloop_source_options o = {.encoding = "gbk"};
        assert_int_equal(read_all(FIX("gbk.jsonl"), &o, &t, &err), 0);
        assert_int_equal(t.nrows, 2);
        assert_string_equal(val(&t, 0, col(&t, "name")), "张三");
        assert_string_equal(val(&t, 1, col(&t, "name")), "李四");
        assert_string_equal(val(&t, 1, col(&t, "id")), "2");
        table_free(&t);
        /* not declared: line 1, at the first GBK byte (column 20), with the hint */
        expect_error(FIX("gbk.jsonl"), NULL, 1, 1, 20, "encoding = \"gbk\"");
        expect_error(FIX("gbk.jsonl"), NULL, 1, 1, 20, "看起来是 GBK/GB18030 编码");
    }
    qloop_input_chunk_size = saved;
}

/* ---- generated input across chunk boundaries ------------------------------------ */

/* Builds n lines; every `every`-th brings a new key "k<i>"; line n/2 holds a
 * string of `huge` bytes when huge > 0. Values: v → i, name → 名<i>"q". */
static char *gen(size_t n, size_t every, size_t huge, size_t *len)
{
    struct qloop_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (i % 13 == 5)
            qloop_buf_append(&b, "\n", 1); /* a blank line */
        qloop_buf_printf(&b, "{\"v\": %zu, \"name\": \"名%zu\\\"q\\\"\"", i, i);
        if (i % every == 0)
            qloop_buf_printf(&b, ", \"k%zu\": [%zu, {\"x\": null}]", i, i);
        if (huge && i == n / 2) {
            qloop_buf_append(&b, ", \"big\": \"", 10);
            for (size_t k = 0; k < huge; k++)
                qloop_buf_putc(&b, (char)('a' + k % 26));
            qloop_buf_putc(&b, '"');
        }
        qloop_buf_append(&b, i % 2 ? "}\r\n" : "}\n", i % 2 ? 3 : 2);
    }
    *len = b.len;
    return b.ptr;
}

static void gen_check(const char *path, size_t n, size_t every, size_t huge, size_t batch_rows)
{
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.batch_rows = batch_rows};
    int r = read_all(path, &o, &t, &err);
    if (r != 0)
        fail_msg("read failed: %s:%ld:%ld %s", err.file, err.line, err.column, err.message);
    assert_int_equal(t.nrows, n);
    assert_int_equal(t.ncols, 2 + (n + every - 1) / every + (huge ? 1 : 0));
    uint64_t line = 1;
    char want[128];
    for (size_t i = 0; i < n; i++) {
        if (i % 13 == 5)
            line++;
        assert_int_equal(t.line_no[i], line);
        assert_int_equal(t.row_no[i], i + 1);
        line++;
        snprintf(want, sizeof want, "%zu", i);
        assert_string_equal(val(&t, i, 0), want);
        snprintf(want, sizeof want, "名%zu\"q\"", i);
        assert_string_equal(val(&t, i, 1), want);
        if (i % every == 0) {
            char key[32];
            snprintf(key, sizeof key, "k%zu", i);
            snprintf(want, sizeof want, "[%zu,{\"x\":null}]", i);
            assert_string_equal(val(&t, i, col(&t, key)), want);
        }
        if (i > 0 && i % every == 1) {
            char key[32];
            snprintf(key, sizeof key, "k%zu", i - 1);
            assert_null(val(&t, i, col(&t, key)));
        }
        if (huge && i == n / 2)
            assert_int_equal(strlen(val(&t, i, col(&t, "big"))), huge);
    }
    table_free(&t);
}

static void test_large_and_chunks(void **unused)
{
    (void)unused;
    size_t len;
    char *text = gen(60000, 1000, 0, &len);
    assert_true(len > 2 * qloop_input_chunk_size);
    char *path = write_tmp(text, len);
    gen_check(path, 60000, 1000, 0, 7);
    gen_check(path, 60000, 1000, 0, 4096);
    unlink(path);
    free(path);
    free(text);

    text = gen(300, 50, (size_t)3 << 20 | 5, &len);
    path = write_tmp(text, len);
    gen_check(path, 300, 50, (size_t)3 << 20 | 5, 64);
    unlink(path);
    free(path);
    free(text);

    size_t saved = qloop_input_chunk_size;
    text = gen(120, 10, 0, &len);
    path = write_tmp(text, len);
    size_t sizes[] = {1, 2, 3, 5, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        qloop_input_chunk_size = sizes[s];
        gen_check(path, 120, 10, 0, 1);
        gen_check(path, 120, 10, 0, 11);
    }
    qloop_input_chunk_size = saved;
    unlink(path);
    free(path);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_crlf_blank_stdin),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gbk),
        cmocka_unit_test(test_large_and_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
