/*
 * test_json.c — the JSON document adapter.
 *
 * Values and columns (strings, numbers as the JSON Lines adapter writes
 * them, booleans, null, nested values as compact JSON, keys first seen
 * later), the records path (the document itself, one key, a dot path, a key
 * that comes after other data, a second occurrence ignored), generated
 * documents read in tiny chunks and small batches against the same records
 * as JSON Lines, GBK, malformed records (reported or fatal) and the errors:
 * a path that is missing or not an array, a document that is not what the
 * path needs, syntax errors with their line and column, a document cut
 * short, an empty file.
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

#include "adapters.h"
#include "base/buf.h"
#include "seeded_rng.h"

#include "source_table.h"

static char *write_tmp(const char *data, size_t n)
{
    char *path = strdup("/tmp/qloop_test_json_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Reads the string s as a JSON document with records path rec. */
static int read_str(const char *s, const char *rec, enum qloop_bad_rows bad, struct table *t,
                    struct qloop_error *err)
{
    char *path = write_tmp(s, strlen(s));
    struct qloop_source_options o = {.records = rec, .dataset = "企业", .bad_rows = bad};
    int r = read_all(&qloop_adapter_json, path, &o, t, err);
    unlink(path);
    free(path);
    return r;
}

static void test_values(void **state)
{
    (void)state;
    struct table t;
    struct qloop_error err;
    const char *doc =
        "{\"total\": 2, \"skip\": [{\"code\": \"no\"}], \"erDataList\": [\n"
        "  {\"code\": \"91110000100000001A\", \"名称\": \"北京\\u7532公司\", \"capital\": 100.50,\n"
        "   \"count\": 12, \"neg\": -0, \"big\": 123456789012345678901234, \"exp\": 1e3,\n"
        "   \"ok\": true, \"none\": null, \"tags\": [\"a\", 1, {\"b\": null}],\n"
        "   \"addr\": {\"city\": \"北京\", \"q\": \"x\\\"y\\n\"}},\n"
        "  {\"code\": \"91110000100000002B\", \"later\": false}\n"
        "], \"erDataList\": [{\"code\": \"second, ignored\"}]}";
    assert_int_equal(read_str(doc, "erDataList", QLOOP_BAD_ROWS_STOP, &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(t.names[0], "code");
    assert_string_equal(val(&t, 0, "名称"), "北京甲公司");
    assert_string_equal(val(&t, 0, "capital"), "100.5");
    assert_string_equal(val(&t, 0, "count"), "12");
    assert_string_equal(val(&t, 0, "neg"), "0");
    assert_string_equal(val(&t, 0, "big"), "123456789012345678901234");
    assert_string_equal(val(&t, 0, "exp"), "1000");
    assert_string_equal(val(&t, 0, "ok"), "true");
    assert_null(val(&t, 0, "none"));
    assert_string_equal(val(&t, 0, "tags"), "[\"a\",1,{\"b\":null}]");
    assert_string_equal(val(&t, 0, "addr"), "{\"city\":\"北京\",\"q\":\"x\\\"y\\n\"}");
    assert_null(val(&t, 0, "later"));
    assert_string_equal(val(&t, 1, "later"), "false");
    assert_null(val(&t, 1, "capital"));
    assert_int_equal(t.line_no[0], 2);
    assert_int_equal(t.line_no[1], 6);
    assert_int_equal(t.row_no[1], 2);
    table_free(&t);

    /* the document itself, and a dot path */
    assert_int_equal(read_str("[{\"a\":1},{\"a\":2}]", NULL, QLOOP_BAD_ROWS_STOP, &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    table_free(&t);
    assert_int_equal(read_str("{\"data\":{\"x\":[1],\"list\":[{\"a\":\"v\"}]}}", "data.list", QLOOP_BAD_ROWS_STOP, &t,
                              &err), 0);
    assert_int_equal(t.nrows, 1);
    assert_string_equal(val(&t, 0, "a"), "v");
    table_free(&t);
    /* an empty records array is an empty dataset */
    assert_int_equal(read_str("{\"list\": []}", "list", QLOOP_BAD_ROWS_STOP, &t, &err), 0);
    assert_int_equal(t.nrows, 0);
    table_free(&t);
}

static void test_malformed(void **state)
{
    (void)state;
    struct table t;
    struct qloop_error err;
    const char *doc = "[{\"k\":1},\n5,\n{\"k\":2,\"k\":3},\n[1,2],\n{\"k\":\"a\\u0000b\"},\n{\"k\":4}]";
    assert_int_equal(read_str(doc, NULL, QLOOP_BAD_ROWS_REPORT, &t, &err), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(val(&t, 1, "k"), "4");
    assert_int_equal(t.row_no[1], 6);
    assert_int_equal(t.nbad, 4);
    uint64_t want[] = {2, 3, 4, 5};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(t.bad_row[i], want[i]);
    assert_non_null(strstr(t.bad_msg[0], "这条记录是数字"));
    assert_non_null(strstr(t.bad_msg[1], "出现了两次"));
    assert_non_null(strstr(t.bad_msg[2], "这条记录是数组"));
    assert_non_null(strstr(t.bad_msg[3], "\\u0000"));
    table_free(&t);
    assert_int_equal(read_str(doc, NULL, QLOOP_BAD_ROWS_STOP, &t, &err), -2);
    assert_non_null(strstr(err.message, "第 2 条记录"));
    assert_int_equal(err.line, 2);
    table_free(&t);
}

/* A message of err must hold every needle. */
static void expect_err(const char *doc, const char *rec, int want_rc, long line, long col,
                       const char *n1, const char *n2)
{
    struct table t;
    struct qloop_error err;
    int r = read_str(doc, rec, QLOOP_BAD_ROWS_STOP, &t, &err);
    if (r != want_rc)
        fail_msg("%s: rc %d, want %d (%s)", doc, r, want_rc, err.message);
    if (!strstr(err.message, n1) || (n2 && !strstr(err.message, n2)))
        fail_msg("%s: message \"%s\" lacks \"%s\"/\"%s\"", doc, err.message, n1, n2 ? n2 : "");
    assert_non_null(strstr(err.message, "企业"));
    assert_int_equal(err.line, line);
    if (col >= 0)
        assert_int_equal(err.column, col);
    table_free(&t);
}

static void test_errors(void **state)
{
    (void)state;
    expect_err("{\"erDataList\": {\"a\": 1}}", "erDataList", -1, 1, -1, "不是数组", "records");
    expect_err("{\"a\": 1}", "erDataList", -1, 0, 0, "找不到 records", NULL);
    expect_err("{\"a\": \"x\"}", "a.b", -1, 1, -1, "“a”不是对象", NULL);
    expect_err("{\"k\": 1}", NULL, -1, 1, -1, "不是数组", "records = ");
    expect_err("[1]", "list", -1, 1, -1, "不是对象", NULL);
    expect_err("[{\"a\": 1},\n {\"a\": 2]", NULL, -2, 2, 9, "语法错误", NULL);
    expect_err("[{\"a\": 1},\n {\"a\": 2}", NULL, -2, 2, 0, "被截断", NULL);
    expect_err("[{\"a\": 1]", NULL, -1, 1, 9, "语法错误", NULL);
    expect_err(" \n ", NULL, -1, 0, 0, "是空的", NULL);
    expect_err("[{\"a\": 1}] x", NULL, -1, 1, -1, "语法错误", NULL);
    expect_err("{\"a\": [1]}", "a..b", -1, 0, 0, "空的一段", NULL);
}

/* Generated records as JSON Lines and as a document (bare array and under a
 * path, one record per line or all on one line) read the same, in tiny
 * chunks and small batches. */
static void test_same_as_jsonl(void **state)
{
    (void)state;
    uint64_t rng = 11;
    struct qloop_buf jl = {0}, doc = {0}, flat = {0};
    qloop_buf_printf(&doc, "{\"meta\": {\"n\": 1},\n \"data\": {\"list\": [\n");
    qloop_buf_printf(&flat, "[");
    for (int i = 0; i < 3000; i++) {
        struct qloop_buf rec = {0};
        qloop_buf_printf(&rec, "{\"id\": \"R%05d\", \"名称\": \"单位%d号\"", i, (int)(seeded_next(&rng) % 1000));
        if (seeded_next(&rng) % 3 == 0)
            qloop_buf_printf(&rec, ", \"金额\": %d.%02d", (int)(seeded_next(&rng) % 100000),
                             (int)(seeded_next(&rng) % 100));
        if (seeded_next(&rng) % 5 == 0)
            qloop_buf_printf(&rec, ", \"备注\": null");
        if (i > 1500 && seeded_next(&rng) % 7 == 0)
            qloop_buf_printf(&rec, ", \"新字段%d\": \"v\\t%d\"", i % 4, i);
        qloop_buf_printf(&rec, "}");
        qloop_buf_printf(&jl, "%s\n", rec.ptr);
        qloop_buf_printf(&doc, "%s%s\n", i ? "," : "", rec.ptr);
        qloop_buf_printf(&flat, "%s%s", i ? "," : "", rec.ptr);
        qloop_buf_free(&rec);
    }
    qloop_buf_printf(&doc, "]}, \"tail\": [1, 2, 3]}\n");
    qloop_buf_printf(&flat, "]");
    char *pj = write_tmp(jl.ptr, jl.len), *pd = write_tmp(doc.ptr, doc.len), *pf = write_tmp(flat.ptr, flat.len);
    struct qloop_error err;
    struct table want, got;
    if (read_all(&qloop_adapter_jsonl, pj, NULL, &want, &err) != 0)
        fail_msg("jsonl: %s:%ld %s", err.file, err.line, err.message);
    size_t chunks[] = {1, 7, 4096};
    size_t batches[] = {1, 3, 1000, 0};
    for (size_t c = 0; c < 3; c++)
        for (size_t b = 0; b < 4; b++)
            for (int which = 0; which < 2; which++) {
                qloop_input_chunk_size = chunks[c];
                struct qloop_source_options o = {.batch_rows = batches[b], .records = which ? NULL : "data.list"};
                if (read_all(&qloop_adapter_json, which ? pf : pd, &o, &got, &err) != 0)
                    fail_msg("chunk %zu batch %zu %s: %s", chunks[c], batches[b], which ? "flat" : "doc", err.message);
                assert_int_equal(got.nrows, want.nrows);
                assert_int_equal(got.ncols, want.ncols);
                for (size_t j = 0; j < want.ncols; j++)
                    assert_string_equal(got.names[j], want.names[j]);
                for (size_t i = 0; i < want.nrows; i++) {
                    assert_int_equal(got.row_no[i], i + 1);
                    for (size_t j = 0; j < want.ncols; j++) {
                        const char *a = want.rows[i][j], *g = got.rows[i][j];
                        if ((a == NULL) != (g == NULL) || (a && strcmp(a, g)))
                            fail_msg("row %zu col %s: want %s got %s", i, want.names[j], a ? a : "null",
                                     g ? g : "null");
                    }
                    if (!which)
                        assert_int_equal(got.line_no[i], i + 3);
                }
                table_free(&got);
            }
    qloop_input_chunk_size = (size_t)1 << 20;
    table_free(&want);
    unlink(pj), unlink(pd), unlink(pf);
    free(pj), free(pd), free(pf);
    qloop_buf_free(&jl), qloop_buf_free(&doc), qloop_buf_free(&flat);
}

static void test_gbk(void **state)
{
    (void)state;
    /* {"名":"张三"} in GBK */
    const char gbk[] = "[{\"\xc3\xfb\":\"\xd5\xc5\xc8\xfd\"}]";
    char *path = write_tmp(gbk, sizeof gbk - 1);
    struct table t;
    struct qloop_error err;
    struct qloop_source_options o = {.encoding = "gbk", .dataset = "企业"};
    assert_int_equal(read_all(&qloop_adapter_json, path, &o, &t, &err), 0);
    assert_string_equal(val(&t, 0, "名"), "张三");
    table_free(&t);
    struct qloop_source_options u = {.dataset = "企业"};
    assert_true(read_all(&qloop_adapter_json, path, &u, &t, &err) < 0);
    assert_non_null(strstr(err.message, "GBK"));
    table_free(&t);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_same_as_jsonl),
        cmocka_unit_test(test_gbk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
