/*
 * unique.h — the `unique` check over a whole dataset: every record whose
 * value occurs more than once fails.
 *
 * Values are offered as they come — by the run's thread, or by several
 * writers at once (the judge's workers, each offering its own rows), each
 * offer with its place in the dataset (seq). Nothing is decided while values
 * come: the set only appends each offer to one of its hash partitions, in
 * memory up to a small part of the budget and past it in an unlinked
 * temporary file, so its memory does not grow with the data. unique_finish
 * counts the partitions one at a time and reports the failing records in
 * the order a set reporting as the rows came would have: a value's first
 * record when its second occurrence comes, just before that one, and every
 * later record at its own place — the same findings in the same order
 * whatever the number of writers, the budget, or which offers went to disk.
 */
#ifndef QLOOP_UNIQUE_H
#define QLOOP_UNIQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

struct unique_set;

/* Reports one failing record: its row, raw record key and value. Returns 0
 * or -1 (the error is the callback's to record). */
typedef int (*unique_emit_fn)(void *ctx, uint64_t row_no, const char *key, size_t keylen,
                              const char *value, size_t vlen);

/* budget: bytes the set may use (0 = 1 GiB); it keeps at most a quarter of
 * it, and never more than 32 MiB, of offers in memory. One writer. */
struct unique_set *unique_new(size_t budget);
void unique_free(struct unique_set *u);

/* Sets how many writers offer at once (>= 1), before the first offer. */
void unique_set_writers(struct unique_set *u, size_t nwriters);

/* Offers a non-empty value of the record at row row_no whose raw key is
 * key; seq is its place among the set's offers (smaller = earlier; each seq
 * offered once). Only writer `writer` may call this at a time for a given
 * writer: distinct writers may offer concurrently. A temporary file that
 * cannot be written is kept as the writer's error (unique_check). */
void unique_offer(struct unique_set *u, size_t writer, uint64_t seq, const char *value, size_t vlen,
                  uint64_t row_no, const char *key, size_t keylen);

/* Returns 0, or -1 with err when a writer could not write its temporary
 * file (a full TMPDIR disk: the user's to fix). */
int unique_check(const struct unique_set *u, struct qloop_error *err);

/* unique_offer by writer 0 as the next offer (seq one past the last given
 * here). Returns unique_check. */
int unique_add(struct unique_set *u, const char *value, size_t vlen, uint64_t row_no,
               const char *key, size_t keylen, struct qloop_error *err);

/* Offers count (>= 1) occurrences of value whose records were reported
 * elsewhere (a part's state), as the next offer like unique_add: a value
 * offered with a record before now fails there, and later ones fail.
 * Returns unique_check. */
int unique_add_group(struct unique_set *u, const char *value, size_t vlen, uint64_t count,
                     struct qloop_error *err);

/* After the last offer: calls emit for each failing record, in the order
 * above. Returns 0, or -1 (emit failed, or a temporary file could not be
 * written or read: err filled for those). */
int unique_finish(struct unique_set *u, unique_emit_fn emit, void *ctx, struct qloop_error *err);

/* How unique_finish_encoded turns failing records into what the caller
 * keeps (a run's findings), so that the making can run on two threads. */
struct unique_encoder {
    /* Appends to out what failing record (row, key, value) makes; called
     * as thread 0 (unique_finish_encoded's caller) and thread 1 (a helper)
     * at once: each thread's state must be its own, and what is made must
     * not depend on the thread. */
    void (*encode)(void *ctx, size_t thread, uint64_t row_no, const char *key, size_t keylen,
                   const char *value, size_t vlen, struct qloop_buf *out);
    /* On the caller's thread, in the order unique_finish emits: bytes[0..len)
     * that encode made for the n records at rows[0..n). Returns 0 or -1 (the
     * error is the callback's to record). */
    int (*take)(void *ctx, const char *bytes, size_t len, const uint64_t *rows, size_t n);
    void *ctx;
};

/* unique_finish with each failing record made by e->encode and handed to
 * e->take in unique_finish's order; with threads >= 2, a helper thread
 * makes the second half of each large batch while the caller makes the
 * first. Returns 0 or -1 as unique_finish. */
int unique_finish_encoded(struct unique_set *u, const struct unique_encoder *e, size_t threads,
                          struct qloop_error *err);

/* The mergeable state of one distinct value (a partitioned run, Deequ's
 * way): how often it occurred; for a value seen once, its row and record
 * key (row_no 0 and no key when count >= 2: those records were reported). */
typedef int (*unique_state_fn)(void *ctx, const char *value, size_t vlen, uint64_t count,
                               uint64_t row_no, const char *key, size_t keylen);

/* unique_finish, then state for every distinct value offered: partition by
 * partition, and within one in the order the values first came — the same
 * sequence for the same offers however they were written. Returns 0 or -1
 * as unique_finish (or a callback failed). */
int unique_finish_states(struct unique_set *u, unique_emit_fn emit, void *ectx,
                         unique_state_fn state, void *sctx, struct qloop_error *err);

/* The bytes the offers take, in memory or in temporary files: what a
 * spill writes and reads back. */
uint64_t unique_offer_bytes(const struct unique_set *u);

/* Whether offers went to temporary files. */
bool unique_spilled(const struct unique_set *u);

/* Tests only: the hash values are placed and grouped by (NULL: the real
 * one). Equal hashes of different values must not make them one value. */
void unique_test_hash(uint64_t (*hash)(const char *value, size_t len));

#endif
