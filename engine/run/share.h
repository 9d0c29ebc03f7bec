/*
 * share.h — a batch's rows shared out in chunks to whichever thread is free,
 * after a fixed part of the work.
 *
 * The judge's workers each do fixed ranges of a batch first (the Lua state
 * that judges a row must not depend on timing: judge.h), and then stateless
 * work on every row (findings made, record refs, unique's offers) that any
 * thread may do. A share holds one claim counter per range: once a range's
 * owner says it is ready (share_ready), any thread in share_help claims
 * chunks of it — from its own first range on, then the others in turn — and
 * does them; a thread that finds nothing left waits for the ranges not yet
 * ready and helps with those. Each chunk is claimed exactly once (an atomic
 * fetch and add), so the work done on a row must write only that row's own
 * output slots (or the claiming thread's own scratch) for the result not to
 * depend on which thread did it.
 */
#ifndef QLOOP_SHARE_H
#define QLOOP_SHARE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Does the stateless work on rows begin .. end (end > begin) as thread
 * `thread`. */
typedef void (*share_fn)(void *ctx, size_t thread, size_t begin, size_t end);

struct share_range {
    size_t begin, end;
    atomic_size_t next; /* the first row not yet claimed */
    atomic_bool ready;
};

struct share {
    size_t cap;               /* ranges allocated */
    size_t n;                 /* ranges of the current batch */
    struct share_range *range;
    size_t chunk;             /* rows a claim takes */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a range got ready (its flag set under mu) */
};

/* An empty share whose ranges are claimed `chunk` (>= 1) rows at a time. */
void share_init(struct share *s, size_t chunk);
void share_destroy(struct share *s);

/* Before a batch, while no thread uses s: the batch has ranges 0 .. n - 1
 * (n >= 1), none ready; each then set by share_range. */
void share_start(struct share *s, size_t n);

/* Before a batch, after share_start: range i is rows begin .. end (empty
 * allowed: nothing to claim, no share_ready needed). */
void share_range(struct share *s, size_t i, size_t begin, size_t end);

/* Range i's fixed part is done: its rows may be claimed. Once per range a
 * batch; what was written before is seen by the thread that claims them. */
void share_ready(struct share *s, size_t i);

/* As thread `thread` (fn's argument), after share_ready of its own ranges:
 * claims and does chunks with fn, from range `first` on (its own), until
 * every range is ready and none is left to claim. Chunks other threads
 * claimed may still be running when it returns: the caller's own join (all
 * threads returned) says the batch is done. */
void share_help(struct share *s, size_t thread, size_t first, share_fn fn, void *ctx);

#endif
