/*
 * share.c — a batch's rows shared out in chunks (see share.h).
 *
 * Claims are lock-free (one fetch-and-add on the range's counter); only
 * the readiness of the ranges goes through a mutex and a condition
 * variable, once per range a batch, so that a thread with nothing left
 * sleeps until another range is ready instead of spinning.
 */
#include <stdlib.h>

#include "base/buf.h"
#include "run/share.h"

void share_init(struct share *s, size_t chunk)
{
    s->cap = s->n = 0;
    s->chunk = chunk ? chunk : 1;
    s->range = NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

void share_destroy(struct share *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->range);
    s->range = NULL;
    s->cap = s->n = 0;
}

void share_start(struct share *s, size_t n)
{
    if (n < 1)
        n = 1;
    if (n > s->cap) {
        free(s->range);
        s->range = qloop_xcalloc(n, sizeof *s->range);
        for (size_t i = 0; i < n; i++) {
            atomic_init(&s->range[i].next, 0);
            atomic_init(&s->range[i].ready, false);
        }
        s->cap = n;
    }
    s->n = n;
    for (size_t i = 0; i < s->n; i++)
        share_range(s, i, 0, 0);
}

void share_range(struct share *s, size_t i, size_t begin, size_t end)
{
    /* the caller's wake-up of the threads publishes these */
    struct share_range *r = &s->range[i];
    r->begin = begin;
    r->end = end > begin ? end : begin;
    atomic_store_explicit(&r->next, r->begin, memory_order_relaxed);
    atomic_store_explicit(&r->ready, false, memory_order_relaxed);
}

void share_ready(struct share *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    atomic_store_explicit(&s->range[i].ready, true, memory_order_release);
    pthread_cond_broadcast(&s->cv); /* threads with nothing left help with this one */
    pthread_mutex_unlock(&s->mu);
}

/* Whether a thread with nothing to claim should sleep: a range with rows
 * is not ready yet and no ready one has rows left (under s->mu, which the
 * ready flags are set under, so a broadcast is not missed). */
static bool must_wait(const struct share *s)
{
    bool waiting = false;
    for (size_t i = 0; i < s->n; i++) {
        const struct share_range *r = &s->range[i];
        bool left = atomic_load_explicit(&r->next, memory_order_relaxed) < r->end;
        if (atomic_load_explicit(&r->ready, memory_order_relaxed)) {
            if (left)
                return false;
        } else if (r->begin < r->end) {
            waiting = true;
        }
    }
    return waiting;
}

/* Claims and does the chunks left in range r. */
static void drain(struct share *s, struct share_range *r, size_t thread, share_fn fn, void *ctx)
{
    for (;;) {
        size_t at = atomic_fetch_add_explicit(&r->next, s->chunk, memory_order_relaxed);
        if (at >= r->end)
            return;
        size_t stop = r->end - at > s->chunk ? at + s->chunk : r->end;
        fn(ctx, thread, at, stop);
    }
}

void share_help(struct share *s, size_t thread, size_t first, share_fn fn, void *ctx)
{
    for (;;) {
        bool waiting = false; /* a range with rows is not ready yet */
        for (size_t k = 0; k < s->n; k++) {
            struct share_range *r = &s->range[(first + k) % s->n];
            if (atomic_load_explicit(&r->next, memory_order_relaxed) >= r->end)
                continue;
            if (!atomic_load_explicit(&r->ready, memory_order_acquire)) {
                waiting = true;
                continue;
            }
            drain(s, r, thread, fn, ctx);
        }
        if (!waiting)
            return;
        /* nothing ready left to claim: sleep until another range is ready
         * (checked under the mutex, so its broadcast is not missed) */
        pthread_mutex_lock(&s->mu);
        while (must_wait(s))
            pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
}
