/*
 * test_stage.c — the findings' spool (engine/run/stage.c): drained, it hands
 * back exactly the bytes appended, in order (the file's in pieces of 1 MiB),
 * whether they stayed in memory, went to its file or both, and it is empty
 * and reusable afterwards; a reader's non-zero result stops the drain and is
 * its result; a view of it
 * (stage_spool_view) gives exactly the bytes the spool held when the view
 * was made, though the spool is drained meanwhile, its file closed, and more
 * appended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "run/stage.h"

/* stage_spool_view_read's each: appends the piece to a buffer. */
static int collect_bytes(void *ctx, const void *p, size_t n)
{
    qloop_buf_append(ctx, p, n);
    return 0;
}

/* Appends n bytes of a pattern starting at `from` to the spool and to want. */
static void append_pattern(struct stage_spool *s, struct qloop_buf *want, size_t from, size_t n)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    char block[4099];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < sizeof block ? n - done : sizeof block;
        for (size_t i = 0; i < m; i++)
            block[i] = (char)((from + done + i) * 131 % 251);
        assert_int_equal(stage_spool_append(s, block, m, &err), 0);
        if (want)
            qloop_buf_append(want, block, m);
        done += m;
    }
}

static int count_bytes(void *ctx, const void *p, size_t n)
{
    (void)p;
    *(size_t *)ctx += n;
    return 0;
}

static void test_spool_view(void **state)
{
    (void)state;
    /* sizes: in memory only; spilled to the file with a tail; none */
    const size_t sizes[] = {1000, (size_t)9 << 20, 0};
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        struct stage_spool *s = stage_spool_new();
        struct qloop_buf want = {0}, got = {0};
        append_pattern(s, &want, 0, sizes[c]);
        struct stage_spool_view *v = stage_spool_view(s);
        assert_non_null(v);
        /* the spool drained (its file closed), then more appended */
        struct qloop_error err;
        qloop_error_clear(&err);
        size_t drained = 0;
        assert_int_equal(stage_spool_drain(s, count_bytes, &drained, &err), 0);
        assert_int_equal(drained, sizes[c]);
        append_pattern(s, NULL, 7, (size_t)5 << 20);
        assert_int_equal(stage_spool_view_read(v, collect_bytes, &got), 0);
        assert_int_equal(got.len, want.len);
        if (want.len)
            assert_memory_equal(got.ptr, want.ptr, want.len);
        stage_spool_view_free(v);
        stage_spool_free(s);
        qloop_buf_free(&want);
        qloop_buf_free(&got);
    }
}

/* stage_spool_drain's each: the piece appended, its size checked. */
static int collect_piece(void *ctx, const void *p, size_t n)
{
    assert_true(n > 0 && n <= (size_t)4 << 20); /* the file's by 1 MiB, the memory part whole */
    qloop_buf_append(ctx, p, n);
    return 0;
}

static void test_spool_drain(void **state)
{
    (void)state;
    /* in memory; the file and a tail; the file in whole 1 MiB reads and a part
     * of one; nothing */
    const size_t sizes[] = {1000, (size_t)9 << 20, ((size_t)13 << 20) + 4097, 0};
    struct stage_spool *s = stage_spool_new();
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        for (int round = 0; round < 2; round++) { /* the drained spool reused */
            struct qloop_buf want = {0}, got = {0};
            append_pattern(s, &want, c + (size_t)round, sizes[c]);
            assert_int_equal(stage_spool_size(s), sizes[c]);
            struct qloop_error err;
            qloop_error_clear(&err);
            assert_int_equal(stage_spool_drain(s, collect_piece, &got, &err), 0);
            assert_int_equal(got.len, want.len);
            if (want.len)
                assert_memory_equal(got.ptr, want.ptr, want.len);
            assert_int_equal(stage_spool_size(s), 0);
            qloop_buf_free(&want);
            qloop_buf_free(&got);
        }
    }
    stage_spool_free(s);
}

/* A reader that stops: its result is the drain's, the spool emptied. */
static int stop_at_second(void *ctx, const void *p, size_t n)
{
    (void)p;
    (void)n;
    return ++*(int *)ctx == 2 ? 7 : 0;
}

static void test_spool_drain_stops(void **state)
{
    (void)state;
    struct stage_spool *s = stage_spool_new();
    append_pattern(s, NULL, 0, (size_t)9 << 20);
    struct qloop_error err;
    qloop_error_clear(&err);
    int calls = 0;
    assert_int_equal(stage_spool_drain(s, stop_at_second, &calls, &err), 7);
    assert_int_equal(calls, 2);
    assert_int_equal(stage_spool_size(s), 0);
    stage_spool_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool_drain),
        cmocka_unit_test(test_spool_drain_stops),
        cmocka_unit_test(test_spool_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
