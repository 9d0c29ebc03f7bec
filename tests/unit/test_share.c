/*
 * test_share.c — a batch's rows shared out in chunks (engine/run/share.c):
 * with 1 to 4 threads, batches of odd sizes and chunks of several sizes,
 * each thread doing a fixed range first at its own pace, every row's
 * stateless work is done exactly once, after its range's fixed part, and
 * the output is the same as done in order on one thread; a thread with its
 * own range done takes over the rows of the ranges that got ready.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "run/share.h"

enum { MAXROWS = 5000, MAXTHREADS = 4 };

struct batch {
    struct share share;
    size_t nthreads, nrows;
    size_t begin[MAXTHREADS], end[MAXTHREADS];
    uint64_t fixed[MAXROWS];        /* written by the range's owner first */
    atomic_int done[MAXROWS];       /* how often the shared work did the row */
    uint64_t out[MAXROWS];          /* the row's own output slot */
    atomic_size_t by[MAXTHREADS];   /* rows each thread did */
    unsigned delay[MAXTHREADS];     /* microseconds each owner lags */
    atomic_int bad;                 /* a chunk out of bounds (asserted on the main thread) */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

/* share_fn: the stateless work, reading the fixed part of its rows. */
static void shared_work(void *ctx, size_t thread, size_t begin, size_t end)
{
    struct batch *b = ctx;
    if (begin >= end || end > b->nrows || thread >= b->nthreads) {
        atomic_store(&b->bad, 1);
        return;
    }
    for (size_t row = begin; row < end; row++) {
        atomic_fetch_add(&b->done[row], 1);
        b->out[row] = mix(b->fixed[row] + row);
    }
    atomic_fetch_add(&b->by[thread], end - begin);
}

struct thread_arg {
    struct batch *b;
    size_t me;
};

static void *run_thread(void *arg)
{
    struct thread_arg *t = arg;
    struct batch *b = t->b;
    if (b->delay[t->me]) {
        struct timespec ts = {0, (long)b->delay[t->me] * 1000L};
        nanosleep(&ts, NULL);
    }
    for (size_t row = b->begin[t->me]; row < b->end[t->me]; row++)
        b->fixed[row] = mix(row * 7 + 1);
    share_ready(&b->share, t->me);
    share_help(&b->share, t->me, t->me, shared_work, b);
    return NULL;
}

/* One batch of nrows over nthreads (split as judge.c splits), chunk rows a
 * claim; checks every row done once with the expected output. */
static void one_batch(struct batch *b, size_t nthreads, size_t nrows, unsigned seed)
{
    memset(b->fixed, 0, sizeof b->fixed);
    memset(b->out, 0, sizeof b->out);
    for (size_t r = 0; r < MAXROWS; r++)
        atomic_store(&b->done[r], 0);
    b->nthreads = nthreads;
    b->nrows = nrows;
    size_t n = nrows < 3 * nthreads ? 1 : nthreads; /* some batches on one range */
    share_start(&b->share, nthreads);
    for (size_t i = 0; i < nthreads; i++) {
        b->begin[i] = i < n ? nrows * i / n : nrows;
        b->end[i] = i < n ? nrows * (i + 1) / n : nrows;
        share_range(&b->share, i, b->begin[i], b->end[i]);
        atomic_store(&b->by[i], 0);
        b->delay[i] = (unsigned)((seed >> (i * 3)) % 4) * 700; /* owners late by turns */
    }
    pthread_t th[MAXTHREADS];
    struct thread_arg args[MAXTHREADS];
    for (size_t i = 1; i < nthreads; i++) {
        args[i] = (struct thread_arg){b, i};
        assert_int_equal(pthread_create(&th[i], NULL, run_thread, &args[i]), 0);
    }
    args[0] = (struct thread_arg){b, 0};
    run_thread(&args[0]);
    for (size_t i = 1; i < nthreads; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&b->bad), 0);
    size_t total = 0;
    for (size_t i = 0; i < nthreads; i++)
        total += atomic_load(&b->by[i]);
    assert_int_equal(total, nrows);
    for (size_t row = 0; row < nrows; row++) {
        assert_int_equal(atomic_load(&b->done[row]), 1);
        assert_true(b->out[row] == mix(mix(row * 7 + 1) + row));
    }
    for (size_t row = nrows; row < MAXROWS; row++)
        assert_int_equal(atomic_load(&b->done[row]), 0);
}

static void test_threads_and_sizes(void **state)
{
    (void)state;
    static struct batch b;
    static const size_t sizes[] = {1, 2, 3, 7, 63, 64, 65, 255, 257, 1001, 4093, 4999};
    static const size_t chunks[] = {1, 5, 64, 4096};
    unsigned seed = 12345;
    for (size_t nthreads = 1; nthreads <= MAXTHREADS; nthreads++)
        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            share_init(&b.share, chunks[c]);
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                seed = seed * 1103515245u + 12345u;
                one_batch(&b, nthreads, sizes[s], seed >> 8); /* the share reused per batch */
            }
            share_destroy(&b.share);
        }
}

/* A thread whose range is done takes the other ready ranges' rows: one
 * thread, both ranges ready, helps as thread 0 and does every row. */
static void test_helps_other_ranges(void **state)
{
    (void)state;
    static struct batch b;
    memset(&b, 0, sizeof b);
    share_init(&b.share, 7);
    b.nthreads = 2;
    b.nrows = 101;
    share_start(&b.share, 2);
    share_range(&b.share, 0, 0, 50);
    share_range(&b.share, 1, 50, 101);
    for (size_t row = 0; row < 101; row++)
        b.fixed[row] = mix(row * 7 + 1);
    share_ready(&b.share, 1);
    share_ready(&b.share, 0);
    share_help(&b.share, 0, 0, shared_work, &b);
    assert_int_equal(atomic_load(&b.by[0]), 101);
    for (size_t row = 0; row < 101; row++)
        assert_int_equal(atomic_load(&b.done[row]), 1);
    /* thread 1 arriving later finds nothing left */
    share_help(&b.share, 1, 1, shared_work, &b);
    assert_int_equal(atomic_load(&b.by[1]), 0);
    share_destroy(&b.share);
}

/* A late owner's rows go to the thread that waited: thread 1 readies its
 * range and then stalls; thread 0, already waiting in share_help, does
 * them, or thread 1 does (timing); that each was done once, and the
 * output, are not timing. */
static void test_waiting_thread_helps(void **state)
{
    (void)state;
    static struct batch b;
    memset(&b, 0, sizeof b);
    share_init(&b.share, 3);
    b.nthreads = 2;
    b.nrows = 999;
    share_start(&b.share, 2);
    b.begin[0] = 0, b.end[0] = 499, b.begin[1] = 499, b.end[1] = 999;
    share_range(&b.share, 0, 0, 499);
    share_range(&b.share, 1, 499, 999);
    b.delay[1] = 20000;
    pthread_t th;
    struct thread_arg a1 = {&b, 1}, a0 = {&b, 0};
    assert_int_equal(pthread_create(&th, NULL, run_thread, &a1), 0);
    run_thread(&a0); /* returns only once range 1 was ready and claimed */
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&b.bad), 0);
    assert_int_equal(atomic_load(&b.by[0]) + atomic_load(&b.by[1]), 999);
    for (size_t row = 0; row < 999; row++) {
        assert_int_equal(atomic_load(&b.done[row]), 1);
        assert_true(b.out[row] == mix(mix(row * 7 + 1) + row));
    }
    share_destroy(&b.share);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_sizes),
        cmocka_unit_test(test_helps_other_ranges),
        cmocka_unit_test(test_waiting_thread_helps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
