/*
 * test_jsonl_fast.c — the JSON Lines fast path gives exactly what jansson
 * gives: the same columns in the same order, the same value text for every
 * cell (strings with every kind of escape, integers, reals, booleans, null,
 * nested values), and the same error (line, column, message) for broken
 * lines. Thousands of generated files are read twice, with the fast path on
 * and off, and compared cell by cell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seeded_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"

static uint64_t rng_state = 7;

static uint64_t rnd(void) { return seeded_next(&rng_state); }

static const char *pick(const char *const *v, size_t n) { return v[rnd() % n]; }

static void gen_value(struct qloop_buf *b)
{
    static const char *const strings[] = {
        "\"\"", "\"甲公司\"", "\"a\\\"b\"", "\"back\\\\slash\"", "\"\\/\\b\\f\\n\\r\\t\"",
        "\"\\u4e2d\\u6587\"", "\"\\ud83d\\ude00\"", "\"\\u00e9t\\u00E9\"", "\"tab\\tend\"",
        "\"全角　空格\"", "\"\\u0000\"", "\"\\ud800\"", "\"bad\\x\"", "\"ctl\x01\"",
    };
    static const char *const numbers[] = {
        "0", "-0", "12", "-3", "123456789012345678", "1234567890123456789",
        "99999999999999999999", "1.5", "1.0", "-2.50", "1e-7", "1E+3", "6.02e23", "0.1",
        "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308", "1e400", "01", "1.",
        "-", ".5",
    };
    static const char *const others[] = {
        "true", "false", "null", "[1,2]", "{\"a\":true}", "[]", "{}", "tru", "nul",
    };
    switch (rnd() % 6) {
    case 0:
    case 1:
        qloop_buf_printf(b, "%s", pick(strings, sizeof strings / sizeof strings[0]));
        break;
    case 2:
    case 3:
        qloop_buf_printf(b, "%s", pick(numbers, sizeof numbers / sizeof numbers[0]));
        break;
    default:
        qloop_buf_printf(b, "%s", pick(others, sizeof others / sizeof others[0]));
        break;
    }
}

static void gen_line(struct qloop_buf *b)
{
    static const char *const keys[] = {"id", "名称", "n", "x", "a\\\"q", "\\u4e2d", "k2", "新键"};
    static const char *const ws[] = {"", " ", "  ", "\t"};
    if (rnd() % 40 == 0) { /* a blank line, or not an object */
        qloop_buf_printf(b, "%s\n", rnd() % 2 ? "   " : "[1]");
        return;
    }
    qloop_buf_printf(b, "%s{", pick(ws, 4));
    int n = (int)(rnd() % 6);
    for (int i = 0; i < n; i++) {
        qloop_buf_printf(b, "%s%s\"%s\"%s:%s", i ? "," : "", pick(ws, 4), pick(keys, 8), pick(ws, 4),
                         pick(ws, 4));
        gen_value(b);
        qloop_buf_printf(b, "%s", pick(ws, 4));
    }
    qloop_buf_printf(b, "}%s%s\n", pick(ws, 4), rnd() % 30 == 0 ? "x" : "");
}

struct result {
    struct qloop_buf text; /* columns, cells and the error, flattened */
};

static void read_all(const char *path, int fast, struct qloop_buf *out)
{
    qloop_jsonl_fast = fast;
    const struct qloop_adapter *a = &qloop_adapter_jsonl;
    struct qloop_source_options opts = {.batch_rows = 4};
    struct qloop_error err;
    qloop_error_clear(&err);
    void *st = NULL;
    qloop_buf_reset(out);
    if (a->open(path, &opts, &st, &err) != 0) {
        qloop_buf_printf(out, "open error %ld:%ld %s\n", err.line, err.column, err.message);
        return;
    }
    for (;;) {
        struct qloop_batch b;
        int rc = a->next_batch(st, &b, &err);
        if (rc < 0) {
            qloop_buf_printf(out, "error %ld:%ld %s\n", err.line, err.column, err.message);
            break;
        }
        if (rc == 0)
            break;
        for (size_t r = 0; r < b.nrows; r++) {
            qloop_buf_printf(out, "row %llu line %llu:", (unsigned long long)b.row_no[r],
                             (unsigned long long)b.line_no[r]);
            for (size_t c = 0; c < b.ncols; c++) {
                const struct qloop_field *f = &b.cells[r * b.ncols + c];
                if (f->null)
                    qloop_buf_printf(out, " [null]");
                else {
                    qloop_buf_printf(out, " [");
                    qloop_buf_append(out, f->ptr, f->len);
                    qloop_buf_printf(out, "]");
                }
            }
            qloop_buf_putc(out, '\n');
        }
    }
    size_t ncols;
    const char *const *names;
    a->columns(st, &ncols, &names);
    qloop_buf_printf(out, "columns:");
    for (size_t i = 0; i < ncols; i++)
        qloop_buf_printf(out, " %s", names[i]);
    a->close(st);
    qloop_jsonl_fast = 1;
}

static void test_fast_equals_jansson(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/qloop-jfast-%d.jsonl", (int)getpid());
    struct qloop_buf file = {0}, slow = {0}, fast = {0};
    int with_errors = 0, clean = 0;
    for (int round = 0; round < 3000; round++) {
        qloop_buf_reset(&file);
        /* a valid first line so that open() succeeds most of the time */
        qloop_buf_printf(&file, "{\"id\": \"0\", \"名称\": \"起\"}\n");
        int lines = 1 + (int)(rnd() % 8);
        for (int i = 0; i < lines; i++)
            gen_line(&file);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(file.ptr, 1, file.len, f), file.len);
        fclose(f);
        read_all(path, 0, &slow);
        read_all(path, 1, &fast);
        if (strcmp(qloop_buf_str(&slow), qloop_buf_str(&fast)) != 0)
            fail_msg("fast path differs on:\n%s\n--- jansson:\n%s\n--- fast:\n%s", file.ptr,
                     qloop_buf_str(&slow), qloop_buf_str(&fast));
        if (strstr(qloop_buf_str(&slow), "error "))
            with_errors++;
        else
            clean++;
    }
    print_message("%d files read alike, %d of them ending in an error\n", clean + with_errors,
                  with_errors);
    assert_true(clean > 100);
    assert_true(with_errors > 100);
    unlink(path);
    qloop_buf_free(&file);
    qloop_buf_free(&slow);
    qloop_buf_free(&fast);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_equals_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
