/*
 * compare.h — 比对: cross-source comparison of two datasets of one run
 * (`compare "NAME" { left = A, right = B, key = ..., fields = {...} }`).
 *
 * The run loop feeds every cleansed batch of every dataset to the compares
 * (compare_feed ignores datasets no compare names); once all datasets are
 * read, compare_finish matches the two sides by key — a hash join on key
 * fingerprints that spills to temporary files past the memory budget — and
 * writes findings and rule results for NAME.missing_in_left,
 * NAME.missing_in_right, NAME.mismatch.FIELD (FIELD as named on the left),
 * NAME.duplicate_key_left / NAME.duplicate_key_right (every record of a key
 * that occurs more than once on that side; never paired) and
 * NAME.empty_key_left / NAME.empty_key_right (a key part is empty).
 *
 * Findings of missing_* and mismatch go to the dataset of the side that is
 * not the authority (authority = "left" | "right"); without authority,
 * missing_in_right and mismatch go to the left dataset, missing_in_left to
 * the right one. A missing record written on the side that lacks it has no
 * row_no and is identified by its compare key. failed_records counts
 * distinct (dataset, record) among the compare's findings: a record that
 * also fails a rule of the run is counted twice.
 */
#ifndef QLOOP_COMPARE_H
#define QLOOP_COMPARE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"
#include "base/error.h"
#include "rules/pack.h"

struct compare_run;

struct findings_writer;

/* What compare_finish needs to write its results into the run. */
struct compare_emit_ctx {
    sqlite3 *db;
    const char *run_id;
    struct findings_writer *findings; /* the run's findings writer (findings.h) */
};

/* Prepares every compare of pack p. memory_budget: bytes the in-memory
 * tables may use before spilling (0 = 1 GiB). Returns 0 or -1 with err. */
int compare_run_new(struct compare_run **out, struct pack *p, size_t memory_budget,
                    struct qloop_error *err);

/* One cleansed batch of a dataset: ncols column names, nrows rows of cells
 * (row-major, nrows * ncols), their 1-based row numbers, and the raw record
 * key of each row as the dataset's own findings name it (its key fields
 * joined by '|', or the identity of a record without a key: run/identity.c),
 * so that a compare's finding on a record is an item of the same record. */
struct compare_rows {
    const char *const *names;
    size_t ncols;
    const struct qloop_field *cells;
    size_t nrows;
    const uint64_t *row_no;
    void (*own_key)(void *ctx, size_t row, struct qloop_buf *out);
    void *own_key_ctx;
};

/* Takes one batch of dataset. Copies what it keeps. Returns 0 or -1 with err
 * (e.g. a compared field missing from the data, or a temporary file that
 * cannot be written). */
int compare_feed(struct compare_run *c, const char *dataset, const struct compare_rows *rows,
                 struct qloop_error *err);

/* The threads compare_finish may use to join and to make findings (the
 * run's --jobs; 0 or 1: the calling thread only). The findings and their
 * order are the same for any number. c may be NULL. */
void compare_set_jobs(struct compare_run *c, size_t jobs);

/* How far the crew's helpers may make findings ahead of the calling thread,
 * which moves them into the store: at most `rounds` rounds of slices (1 ..
 * 256; 0: the default, 256) and `bytes` bytes of findings beyond the round
 * being stored (0: the default, 32 MiB). Tuning only: the findings are the
 * same for any values (tests use small ones to reach every path). c may be
 * NULL. */
void compare_set_emit_ahead(struct compare_run *c, size_t rounds, size_t bytes);

/* Checks, once a source with a fixed header is opened, that every key and
 * field the compares name on dataset is among its columns (names, ncols).
 * Returns 0, or -1 with err naming the compare's file and line (an input
 * error: exit 2). For sources whose columns may appear later (JSON Lines),
 * skip it: compare_finish reports a column no batch ever had. */
int compare_check_columns(struct compare_run *c, const char *dataset, const char *const *names,
                          size_t ncols, struct qloop_error *err);

/* Matches, writes findings (through ctx->findings, which masks them; with
 * jobs, it moves them into the store as it goes, findings_flush, so this
 * must run inside the caller's write transaction) and
 * stages rule_results rows (stage.h; the caller moves them in), appends one {"id","dataset","checked","failed","errors"}
 * object per compare rule to summary_rules, and adds records newly found
 * failing to *failed_records. Returns 0 or -1 with err. */
int compare_finish(struct compare_run *c, const struct compare_emit_ctx *ctx, json_t *summary_rules,
                   int64_t *failed_records, struct qloop_error *err);

/* One record of one side of a compare as a partitioned run moves it from a
 * judge's shard to the merge: its row, its compare key's fingerprint
 * (empty_key: a key part is empty, no fingerprint) and its payload strings —
 * the record's own key when it carries one (own_key), the compare key text,
 * then each compared field's cleansed value. */
struct compare_record {
    uint64_t row_no;
    bool empty_key, own_key;
    uint64_t fp_hi, fp_lo;
    size_t nstr;
    const char *const *str;
    const size_t *len;
};

/* A partitioned judge: compare_feed hands each record it builds to fn
 * (compare index cmp in pack order, side 0 left / 1 right) instead of
 * keeping it. fn returns 0 or -1 (its error in err). */
typedef int (*compare_sink_fn)(void *ctx, size_t cmp, int side, const struct compare_record *r,
                               struct qloop_error *err);
void compare_set_sink(struct compare_run *c, compare_sink_fn fn, void *ctx);

/* The number of payload strings a record of side `side` of compare cmp has
 * (own_key: it carries its own record key). */
size_t compare_record_strings(const struct compare_run *c, size_t cmp, int side, bool own_key);

/* The merge: keeps record r of side `side` of compare cmp as if fed (r->nstr
 * must be compare_record_strings). Returns 0 or -1 with err (a temporary
 * file). */
int compare_add_record(struct compare_run *c, size_t cmp, int side, const struct compare_record *r,
                       struct qloop_error *err);

/* The charge up to which fed records are held in memory (default and at
 * most the budget: 384 MiB); past it they go to a temporary file of their
 * side in feed order, still charged, so that the budget decides spilling
 * as before and a run that stays within it reads them back and joins in
 * memory: the same findings either way. Tuning and tests. c may be NULL. */
void compare_set_hold(struct compare_run *c, size_t bytes);

/* How many records went to the files past the hold (compare_set_hold).
 * For tests; c may be NULL (0). */
uint64_t compare_over_records(const struct compare_run *c);

/* The memory charged against the budget by the records fed so far (0 once
 * spilled). For tests; c may be NULL (0). */
size_t compare_charge(const struct compare_run *c);

/* Whether the records went to temporary partition files because the memory
 * budget was passed (for progress messages and tests). */
bool compare_spilled(const struct compare_run *c);

/* The slices of findings (a rule over a run of rows) the calling thread of
 * compare_finish made itself beside the helpers, with jobs (for tests). */
size_t compare_caller_slices(const struct compare_run *c);

/* How many spilled units were read back on a thread of their own while
 * the unit before them was joined (with jobs > 1 and room in the budget
 * for both). For tests; c may be NULL (0). */
size_t compare_units_ahead(const struct compare_run *c);

/* How many blocks of the partition files the run's thread handed to the
 * writer thread (with jobs > 1) instead of writing them itself. For tests;
 * c may be NULL (0). */
size_t compare_spill_blocks_behind(const struct compare_run *c);

/* The records written to partition files so far: their bytes in memory
 * (*mem) and in the files (*file, encoded). For tests; c may be NULL. */
void compare_spill_sizes(const struct compare_run *c, uint64_t *mem, uint64_t *file);

void compare_run_free(struct compare_run *c);

#endif
