/*
 * test_buf.c — reading a whole stream into a buffer (base/buf.c
 * qloop_buf_read), as every loader of a file does: the whole stream, the
 * limit exactly met and just passed, appending after what the buffer held,
 * and a read error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

/* A temporary stream holding n bytes 'a'..'z' repeated, at its start. */
static FILE *stream_of(size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    rewind(f);
    return f;
}

static void test_whole_stream(void **state)
{
    (void)state;
    size_t n = 200000; /* several reads */
    FILE *f = stream_of(n);
    struct qloop_buf b = {0};
    qloop_buf_append(&b, "head:", 5);
    assert_int_equal(qloop_buf_read(&b, f, 0), 0);
    assert_int_equal(b.len, n + 5);
    assert_memory_equal(b.ptr, "head:abc", 8);
    assert_int_equal(b.ptr[5 + n - 1], 'a' + (int)((n - 1) % 26));
    assert_int_equal(b.ptr[b.len], '\0');
    fclose(f);
    qloop_buf_free(&b);
}

static void test_limit(void **state)
{
    (void)state;
    /* exactly the limit: the end of the stream */
    FILE *f = stream_of(1000);
    struct qloop_buf b = {0};
    assert_int_equal(qloop_buf_read(&b, f, 1000), 0);
    assert_int_equal(b.len, 1000);
    fclose(f);
    qloop_buf_reset(&b);
    /* one byte more: stopped, more than the limit held */
    f = stream_of(1001);
    assert_int_equal(qloop_buf_read(&b, f, 1000), 1);
    assert_true(b.len > 1000);
    fclose(f);
    qloop_buf_reset(&b);
    /* a long stream stops soon after the limit, not at its end */
    f = stream_of(1 << 20);
    assert_int_equal(qloop_buf_read(&b, f, 1000), 1);
    assert_true(b.len < (1 << 20));
    fclose(f);
    qloop_buf_free(&b);
}

static void test_read_error(void **state)
{
    (void)state;
    FILE *f = fopen(".", "rb"); /* a folder opens, and reading it fails (EISDIR) */
    if (!f)
        skip();
    struct qloop_buf b = {0};
    assert_int_equal(qloop_buf_read(&b, f, 0), -1);
    assert_int_equal(b.len, 0);
    fclose(f);
    qloop_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_read_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
