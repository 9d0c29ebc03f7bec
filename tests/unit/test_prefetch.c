/*
 * test_prefetch.c — reading ahead (run/prefetch.c): through the wrapper a
 * source gives the same batches (cells, NULLs, row and line numbers,
 * malformed rows, the columns as they grow), its error at the same place,
 * and closing it before the end stops the reader. A source whose cells lie
 * one NUL apart in one buffer (as the CSV adapter's do) is copied by runs:
 * the same cells, each NUL-terminated. A source flagged
 * QLOOP_ADAPTER_ONE_BUFFER whose cells lie in order with gaps between them
 * (CRLF, quotes) is copied as one block, gaps kept; a batch spanning more
 * than 1 MiB beyond its cells, cells out of order, or no flag: by runs.
 * A batch taken through the wrapper stays as it was until the second
 * next_batch after it (the read loop merges one while the next is judged).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "run/context.h"

/* A fake source: nbatches batches of batch b having b % 5 + 1 rows (batch 3
 * has none, only two malformed rows), columns "c0".."c{n}" where a third
 * column appears from batch 4 on; fails at batch fail_at (0: never). */
struct fake {
    int b, nbatches, fail_at;
    bool packed;   /* cells in one buffer, one NUL apart, some with a gap */
    char pack[64 * 34];
    int closed;
    const char *names[3];
    struct qloop_field cells[64];
    char text[64][32];
    uint64_t row_no[16], line_no[16];
    struct qloop_bad_row bad[2];
    char msg[2][32];
    uint64_t next_row;
};

static void fake_columns(void *state, size_t *ncols, const char *const **names)
{
    struct fake *f = state;
    *ncols = f->b >= 4 ? 3 : 2;
    *names = f->names;
}

static int fake_next(void *state, struct qloop_batch *batch, struct qloop_error *err)
{
    struct fake *f = state;
    f->b++;
    if (f->fail_at && f->b == f->fail_at)
        return qloop_error_set(err, "fake.csv", (long)f->b, 0, "第 %d 批坏了", f->b);
    if (f->b > f->nbatches)
        return 0;
    size_t ncols = f->b >= 4 ? 3 : 2, nrows = f->b == 3 ? 0 : (size_t)(f->b % 5 + 1);
    size_t at = 0;
    for (size_t r = 0; r < nrows; r++) {
        f->row_no[r] = ++f->next_row;
        f->line_no[r] = f->next_row + 1;
        for (size_t c = 0; c < ncols; c++) {
            size_t k = r * ncols + c;
            snprintf(f->text[k], sizeof f->text[k], "b%d-r%zu-c%zu", f->b, r, c);
            bool null = (r + c) % 4 == 3;
            const char *text = f->text[k];
            size_t len = null ? 0 : strlen(text);
            if (f->packed) { /* runs broken by a gap byte, a NULL's "" and an empty value */
                if (k % 5 == 2)
                    f->pack[at++] = 'x';
                if (k % 7 == 4)
                    len = 0;
                memcpy(f->pack + at, text, len);
                f->pack[at + len] = '\0';
                text = f->pack + at;
                at += len + 1;
            }
            f->cells[k] = (struct qloop_field){null ? "" : text, null ? 0 : len, null};
        }
    }
    size_t nbad = 0;
    if (f->b == 3) {
        for (int i = 0; i < 2; i++) {
            snprintf(f->msg[i], sizeof f->msg[i], "坏行 %d", i);
            f->bad[i] = (struct qloop_bad_row){++f->next_row, 0, f->msg[i]};
        }
        nbad = 2;
    }
    *batch = (struct qloop_batch){.nrows = nrows, .ncols = ncols, .cells = f->cells,
                                  .row_no = f->row_no, .line_no = f->line_no, .nbad = nbad,
                                  .bad = f->bad};
    return 1;
}

static void fake_close(void *state)
{
    struct fake *f = state;
    f->closed++;
}

static const struct qloop_adapter fake_adapter = {
    .name = "fake", .flags = QLOOP_ADAPTER_OPEN_COLUMNS, .columns = fake_columns,
    .next_batch = fake_next, .close = fake_close};

/* A batch with its columns, as text. */
static void describe(const struct qloop_adapter *ad, void *src, const struct qloop_batch *b,
                     char *out, size_t size)
{
    size_t n = 0, ncols;
    const char *const *names;
    ad->columns(src, &ncols, &names);
    n += (size_t)snprintf(out + n, size - n, "cols=%zu:", ncols);
    for (size_t c = 0; c < ncols; c++)
        n += (size_t)snprintf(out + n, size - n, "%s,", names[c]);
    n += (size_t)snprintf(out + n, size - n, " rows=%zu ncols=%zu", b->nrows, b->ncols);
    for (size_t r = 0; r < b->nrows; r++) {
        n += (size_t)snprintf(out + n, size - n, " [%llu@%llu", (unsigned long long)b->row_no[r],
                              (unsigned long long)b->line_no[r]);
        for (size_t c = 0; c < b->ncols; c++) {
            const struct qloop_field *f = &b->cells[r * b->ncols + c];
            assert_int_equal(f->ptr[f->len], '\0');
            n += (size_t)snprintf(out + n, size - n, " %s%.*s", f->null ? "NULL" : "",
                                  (int)f->len, f->ptr);
        }
        n += (size_t)snprintf(out + n, size - n, "]");
    }
    for (size_t i = 0; i < b->nbad; i++)
        n += (size_t)snprintf(out + n, size - n, " bad %llu %s", (unsigned long long)b->bad[i].row_no,
                              b->bad[i].message);
}

static void read_all_packed(int nbatches, int fail_at, bool ahead, bool packed, char *out,
                            size_t size);

/* Reads the fake source whole, straight or through the wrapper, into out
 * (one line per batch, then the end or the error). */
static void read_all(int nbatches, int fail_at, bool ahead, char *out, size_t size)
{
    read_all_packed(nbatches, fail_at, ahead, false, out, size);
}

static void read_all_packed(int nbatches, int fail_at, bool ahead, bool packed, char *out,
                            size_t size)
{
    struct fake *f = calloc(1, sizeof *f);
    f->packed = packed;
    f->nbatches = nbatches;
    f->fail_at = fail_at;
    f->names[0] = "c0", f->names[1] = "c1", f->names[2] = "c2";
    struct ds_ctx ds = {.ad = &fake_adapter, .src = f};
    if (ahead) {
        ds_prefetch(&ds);
        assert_ptr_not_equal(ds.src, f);
        assert_int_equal(ds.ad->flags, QLOOP_ADAPTER_OPEN_COLUMNS);
    }
    size_t n = 0;
    for (;;) {
        struct qloop_batch b;
        struct qloop_error err;
        qloop_error_clear(&err);
        int got = ds.ad->next_batch(ds.src, &b, &err);
        if (got < 0) {
            n += (size_t)snprintf(out + n, size - n, "error line %ld: %s\n", err.line, err.message);
            break;
        }
        if (got == 0) {
            n += (size_t)snprintf(out + n, size - n, "end\n");
            break;
        }
        char line[4096];
        describe(ds.ad, ds.src, &b, line, sizeof line);
        n += (size_t)snprintf(out + n, size - n, "%s\n", line);
    }
    ds.ad->close(ds.src);
    assert_int_equal(f->closed, 1);
    free(f);
}

static void test_same_batches(void **state)
{
    (void)state;
    static char straight[1 << 16], ahead[1 << 16];
    read_all(12, 0, false, straight, sizeof straight);
    read_all(12, 0, true, ahead, sizeof ahead);
    assert_non_null(strstr(straight, "bad 6 坏行 0"));
    assert_non_null(strstr(straight, "cols=3:c0,c1,c2,"));
    assert_string_equal(ahead, straight);
}

/* Batch k-1, described when taken, is described the same after batch k is
 * taken and the reader has had time to read on. */
static void test_two_held(void **state)
{
    (void)state;
    struct fake *f = calloc(1, sizeof *f);
    f->nbatches = 12;
    f->names[0] = "c0", f->names[1] = "c1", f->names[2] = "c2";
    struct ds_ctx ds = {.ad = &fake_adapter, .src = f};
    assert_true(ds_prefetch(&ds));
    static char was[4096], now[4096];
    struct qloop_batch before = {0};
    int nbatches = 0;
    for (;;) {
        struct qloop_batch b;
        struct qloop_error err;
        qloop_error_clear(&err);
        int got = ds.ad->next_batch(ds.src, &b, &err);
        assert_true(got >= 0);
        usleep(2000); /* the reader fills what it may */
        if (nbatches > 0) {
            /* the columns asked of the wrapper are the last batch's: the
             * batch before is described with what it was described with */
            char line[4096];
            describe(ds.ad, ds.src, &before, line, sizeof line);
            snprintf(now, sizeof now, "%s", strchr(line, ' ') ? strchr(line, ' ') : line);
            assert_string_equal(now, was);
        }
        if (got == 0)
            break;
        char line[4096];
        describe(ds.ad, ds.src, &b, line, sizeof line);
        snprintf(was, sizeof was, "%s", strchr(line, ' ') ? strchr(line, ' ') : line);
        before = b;
        nbatches++;
    }
    assert_int_equal(nbatches, 12);
    ds.ad->close(ds.src);
    free(f);
}

static void test_same_batches_packed(void **state)
{
    (void)state;
    static char straight[1 << 16], ahead[1 << 16], plain[1 << 16];
    read_all_packed(12, 0, false, true, straight, sizeof straight);
    read_all_packed(12, 0, true, true, ahead, sizeof ahead);
    read_all(12, 0, false, plain, sizeof plain);
    assert_non_null(strstr(straight, "[11@12 NULL b4-r3-c1 ] [12@13 b4-r4-c0 b4-r4-c1 b4-r4-c2]"));
    assert_string_not_equal(straight, plain); /* the empty values */
    assert_string_equal(ahead, straight);
}

static void test_same_error(void **state)
{
    (void)state;
    static char straight[1 << 16], ahead[1 << 16];
    read_all(12, 6, false, straight, sizeof straight);
    read_all(12, 6, true, ahead, sizeof ahead);
    assert_non_null(strstr(straight, "error line 6"));
    assert_string_equal(ahead, straight);
}

/* Closed after the first batch, while the reader is a batch ahead. */
static void test_close_early(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct fake *f = calloc(1, sizeof *f);
        f->nbatches = 1000;
        f->names[0] = "c0", f->names[1] = "c1", f->names[2] = "c2";
        struct ds_ctx ds = {.ad = &fake_adapter, .src = f};
        ds_prefetch(&ds);
        struct qloop_batch b;
        struct qloop_error err;
        assert_int_equal(ds.ad->next_batch(ds.src, &b, &err), 1);
        ds.ad->close(ds.src);
        assert_int_equal(f->closed, 1);
        assert_true(f->b <= 3); /* never more than a batch ahead */
        free(f);
    }
}

/* ---- one block ------------------------------------------------------------ */

enum { BLK_BATCHES = 3, BLK_ROWS = 4, BLK_COLS = 3, BLK_CELLS = BLK_ROWS * BLK_COLS };

/* A source of BLK_BATCHES batches whose cells lie in one buffer, laid out by
 * mode: 0 one byte apart (a CSV with LF); 1 two to four bytes apart (CRLF,
 * quotes); 2 as 1 with an empty value; 3 as 1 but one gap of 1.5 MiB; 4
 * two cells of each row swapped in the buffer. The gaps hold a NUL then
 * 'g's. Each cell's offset from the batch's first is kept per batch. */
struct blockfake {
    int b, mode;
    char buf[(3 << 19) + 8192];
    struct qloop_field cells[BLK_CELLS];
    char text[BLK_CELLS][32];
    uint64_t row_no[BLK_ROWS];
    size_t off[BLK_BATCHES + 1][BLK_CELLS];
    const char *names[BLK_COLS];
};

static void blk_columns(void *state, size_t *ncols, const char *const **names)
{
    struct blockfake *f = state;
    *ncols = BLK_COLS;
    *names = f->names;
}

static int blk_next(void *state, struct qloop_batch *batch, struct qloop_error *err)
{
    (void)err;
    struct blockfake *f = state;
    if (++f->b > BLK_BATCHES)
        return 0;
    memset(f->buf, 'g', sizeof f->buf);
    size_t at = 0, place[BLK_CELLS];
    for (size_t k = 0; k < BLK_CELLS; k++) /* the order of the cells in the buffer */
        place[k] = f->mode == 4 && k % BLK_COLS < 2 ? k - k % BLK_COLS + 1 - k % BLK_COLS : k;
    for (size_t q = 0; q < BLK_CELLS; q++) {
        size_t k = place[q];
        snprintf(f->text[k], sizeof f->text[k], "b%d-r%zu-c%zu", f->b, k / BLK_COLS, k % BLK_COLS);
        size_t len = f->mode == 2 && k == 5 ? 0 : strlen(f->text[k]);
        memcpy(f->buf + at, f->text[k], len);
        f->buf[at + len] = '\0';
        f->cells[k] = (struct qloop_field){f->buf + at, len, 0};
        f->off[f->b][k] = at;
        size_t gap = f->mode == 0 || f->mode == 4 ? 1 : 2 + q % 3;
        if (f->mode == 3 && q == 6)
            gap = (size_t)3 << 19; /* 1.5 MiB */
        at += len + gap;
    }
    for (size_t k = 0; k < BLK_CELLS; k++)
        f->off[f->b][k] -= f->off[f->b][0];
    for (size_t r = 0; r < BLK_ROWS; r++)
        f->row_no[r] = (uint64_t)(f->b - 1) * BLK_ROWS + r + 1;
    *batch = (struct qloop_batch){.nrows = BLK_ROWS, .ncols = BLK_COLS, .cells = f->cells,
                                  .row_no = f->row_no};
    return 1;
}

static void blk_close(void *state) { (void)state; }

static const struct qloop_adapter blk_one_buffer = {
    .name = "blk", .flags = QLOOP_ADAPTER_ONE_BUFFER, .columns = blk_columns,
    .next_batch = blk_next, .close = blk_close};
static const struct qloop_adapter blk_no_flag = {
    .name = "blk", .columns = blk_columns, .next_batch = blk_next, .close = blk_close};

/* Reads the block source (mode, adapter ad) through the wrapper: the same
 * cells, each NUL-terminated; the copy keeps the source's layout (block 1)
 * or packs the cells one NUL apart in row order (block 0). */
static void read_blocks(const struct qloop_adapter *ad, int mode, bool block)
{
    struct blockfake *f = calloc(1, sizeof *f);
    f->mode = mode;
    f->names[0] = "c0", f->names[1] = "c1", f->names[2] = "c2";
    struct ds_ctx ds = {.ad = ad, .src = f};
    ds_prefetch(&ds);
    assert_ptr_not_equal(ds.src, f);
    for (int b = 1; b <= BLK_BATCHES; b++) {
        struct qloop_batch batch;
        struct qloop_error err;
        assert_int_equal(ds.ad->next_batch(ds.src, &batch, &err), 1);
        assert_int_equal(batch.nrows, BLK_ROWS);
        assert_int_equal(batch.ncols, BLK_COLS);
        for (size_t k = 0; k < BLK_CELLS; k++) {
            const struct qloop_field *c = &batch.cells[k];
            char want[32];
            snprintf(want, sizeof want, "b%d-r%zu-c%zu", b, k / BLK_COLS, k % BLK_COLS);
            if (mode == 2 && k == 5)
                want[0] = '\0';
            assert_int_equal(c->len, strlen(want));
            assert_int_equal(c->ptr[c->len], '\0');
            assert_string_equal(c->ptr, want);
            assert_int_equal(c->null, 0);
            assert_int_equal(batch.row_no[k / BLK_COLS], (uint64_t)(b - 1) * BLK_ROWS + k / BLK_COLS + 1);
            size_t got = (size_t)(c->ptr - batch.cells[0].ptr);
            if (block) {
                assert_int_equal(got, f->off[b][k]);
            } else if (k > 0) {
                const struct qloop_field *prev = &batch.cells[k - 1];
                assert_ptr_equal(c->ptr, prev->ptr + prev->len + 1);
            }
        }
    }
    struct qloop_batch batch;
    struct qloop_error err;
    assert_int_equal(ds.ad->next_batch(ds.src, &batch, &err), 0);
    ds.ad->close(ds.src);
    free(f);
}

static void test_one_block(void **state)
{
    (void)state;
    read_blocks(&blk_one_buffer, 0, true);
    read_blocks(&blk_one_buffer, 1, true);
    read_blocks(&blk_one_buffer, 2, true);
    read_blocks(&blk_one_buffer, 3, false); /* a gap of more than 1 MiB */
    read_blocks(&blk_one_buffer, 4, false); /* out of order */
    read_blocks(&blk_no_flag, 1, false);    /* not said to be one buffer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_batches),
        cmocka_unit_test(test_same_batches_packed),
        cmocka_unit_test(test_two_held),
        cmocka_unit_test(test_same_error),
        cmocka_unit_test(test_close_early),
        cmocka_unit_test(test_one_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
