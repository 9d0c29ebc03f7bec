/*
 * unique.h — the `unique` check over a whole dataset: every record whose
 * value occurs more than once fails.
 *
 * Values are offered in row order. In memory, a value's first occurrence is
 * remembered (row and record key) and reported as soon as a twin arrives, so
 * findings stream out with the rows. Past the memory budget the set spills:
 * what it holds and every later value go to temporary partition files chosen
 * by the value's hash, and unique_finish() reports, partition by partition,
 * the records not yet reported whose value occurs more than once. The
 * result (which records fail) is the same either way; only the order of the
 * findings differs.
 */
#ifndef QLOOP_UNIQUE_H
#define QLOOP_UNIQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct unique_set;

/* Reports one failing record: its row, raw record key and value. Returns 0
 * or -1 (the error is the callback's to record). */
typedef int (*unique_emit_fn)(void *ctx, uint64_t row_no, const char *key, size_t keylen,
                              const char *value, size_t vlen);

/* budget: bytes the in-memory set may use before spilling (0 = 1 GiB). */
struct unique_set *unique_new(size_t budget);
void unique_free(struct unique_set *u);

/* Offers a non-empty value of row row_no whose record key is key. Calls emit
 * for each record now known to fail. Returns 0, or -1 when emit failed or a
 * temporary file could not be written (err filled). */
int unique_add(struct unique_set *u, const char *value, size_t vlen, uint64_t row_no,
               const char *key, size_t keylen, unique_emit_fn emit, void *ctx,
               struct qloop_error *err);

/* After the last row: reports what spilling deferred. Returns 0 or -1. */
int unique_finish(struct unique_set *u, unique_emit_fn emit, void *ctx, struct qloop_error *err);

/* The mergeable state of one distinct value (a partitioned run, Deequ's
 * way): how often it occurred; for a value seen once, its row and record
 * key (row_no 0 and no key when count >= 2: those records were reported). */
typedef int (*unique_state_fn)(void *ctx, const char *value, size_t vlen, uint64_t count,
                               uint64_t row_no, const char *key, size_t keylen);

/* unique_finish, then state for every distinct value offered, in no
 * particular order. Returns 0 or -1 (a callback failed or a temporary file
 * could not be read; err filled for the latter). */
int unique_finish_states(struct unique_set *u, unique_emit_fn emit, void *ectx,
                         unique_state_fn state, void *sctx, struct qloop_error *err);

/* Offers count (>= 2) occurrences of value whose records were reported
 * elsewhere (a part's state): a value seen once so far now fails, and
 * later ones will. Returns 0 or -1 as unique_add. */
int unique_add_group(struct unique_set *u, const char *value, size_t vlen, uint64_t count,
                     unique_emit_fn emit, void *ctx, struct qloop_error *err);

/* Whether the set went to temporary files. */
bool unique_spilled(const struct unique_set *u);

#endif
