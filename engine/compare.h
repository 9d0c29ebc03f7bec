/*
 * compare.h — 比对: cross-source comparison of two datasets of one run
 * (`compare "NAME" { left = A, right = B, key = ..., fields = {...} }`).
 *
 * The run loop feeds every cleansed batch of every dataset to the compares
 * (compare_feed ignores datasets no compare names); once all datasets are
 * read, compare_finish matches the two sides by key — a hash join on key
 * fingerprints that spills to temporary files past the memory budget — and
 * writes findings and rule results for NAME.missing_in_left,
 * NAME.missing_in_right, NAME.mismatch.FIELD (FIELD as named on the left) and
 * NAME.duplicate_key_left / NAME.duplicate_key_right.
 */
#ifndef QLOOP_COMPARE_H
#define QLOOP_COMPARE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "error.h"
#include "pack.h"

struct compare_run;

/* What compare_finish needs to write its results into the run. */
struct compare_emit_ctx {
    sqlite3 *db;
    const char *run_id;
    struct pack *pack; /* datasets (owner, sensitive fields), compares, Lua state */
};

/* Prepares every compare of pack p. memory_budget: bytes the in-memory
 * tables may use before spilling (0 = 1 GiB). Returns 0 or -1 with err. */
int compare_run_new(struct compare_run **out, struct pack *p, size_t memory_budget,
                    struct qloop_error *err);

/* Takes one cleansed batch of dataset: ncols column names, nrows rows of
 * cells (row-major, nrows * ncols), their 1-based row numbers. Copies what it
 * keeps. Returns 0 or -1 with err (e.g. a compared field missing from the
 * data, or a temporary file that cannot be written). */
int compare_feed(struct compare_run *c, const char *dataset, const char *const *names, size_t ncols,
                 const struct qloop_field *cells, size_t nrows, const uint64_t *row_no,
                 struct qloop_error *err);

/* Matches, writes findings (findings table, masked like the run's own) and
 * rule_results rows, appends one {"id","dataset","checked","failed","errors"}
 * object per compare rule to summary_rules, and adds records newly found
 * failing to *failed_records. Returns 0 or -1 with err. */
int compare_finish(struct compare_run *c, const struct compare_emit_ctx *ctx, json_t *summary_rules,
                   int64_t *failed_records, struct qloop_error *err);

void compare_run_free(struct compare_run *c);

#endif
