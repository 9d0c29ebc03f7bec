/*
 * judge.h — cleansing and judging the rows of a batch, spread over worker
 * threads, one Lua state per worker.
 *
 * The batch loop (dataset.c) reads a batch, hands it to the pool, and gets back a
 * verdict for every (rule, row): the stateless part of checking. What needs
 * the whole dataset in order — `unique`, findings, re-check bookkeeping,
 * compares — stays on the run loop's thread and reads the verdicts in row
 * order, so the results do not depend on the number of workers.
 *
 * Each worker owns a pack loaded from the same rule files (its own Lua state
 * and compiled patterns); rule and cleanse positions are the same in every
 * pack, so a rule is named by its index. Worker 0 is the calling thread and
 * uses the run's own pack. Rule code must therefore not rely on state kept
 * between records: each worker sees only part of them. Which worker's Lua
 * state sees a row, and in which order, is fixed by the batch's split,
 * never by timing (a state cleanses and judges its rows in blocks of a few
 * hundred, rule by rule within a block, in order; which thread runs a
 * block may vary); the stateless C after judging (row_refs, fail, pass)
 * goes to whichever worker is free.
 */
#ifndef QLOOP_JUDGE_H
#define QLOOP_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"
#include "base/buf.h"
#include "base/error.h"
#include "rules/pack.h"

struct strmap;

enum judge_verdict {
    JUDGE_SKIP = 0, /* empty value, not judged */
    JUDGE_PASS,
    JUDGE_FAIL,     /* reason[] may hold why */
    JUDGE_ERROR,    /* the rule raised; reason[] holds the error text */
    /* A partitioned judge (judge_dataset.defer_refs): the value's `references`
     * to another dataset is left to the merge; what the rule's other checks
     * said: passed, failed (reason[]) or raised (reason[]). */
    JUDGE_PENDING,
    JUDGE_PENDING_FAIL,
    JUDGE_PENDING_ERROR,
};

/* One dataset's worth of what the workers read (set by the run loop). */
struct judge_dataset {
    size_t dataset;           /* index in pack->datasets */
    const struct strmap *colmap; /* column name -> index + 1 */
    size_t ncleanse;
    const long *cleanse_cols; /* column of each of the dataset's cleanse entries, -1 absent */
    size_t nrules;
    const size_t *rules;      /* index in pack->rules of each judged rule */
    const long *rule_cols;    /* column of each rule's field, -1 absent */
    struct strmap *const *refsets; /* values another dataset offers, per rule (or NULL) */
    bool defer_refs;          /* a partitioned judge: references to other datasets pend */
    /* When set, the workers also compute what the run needs to know of the
     * record_ref of rows begin .. end (after cleansing) into judge_batch.refs
     * (out[row], in the caller's form): which records of open tickets are in
     * the data. Like fail and pass below, it is stateless C called on chunks
     * of judged rows by whichever worker is free (judge.c), several at once
     * on different rows: it may write only out[row] of its rows and scratch
     * (the calling worker's own). */
    void (*row_refs)(void *ctx, size_t begin, size_t end, struct qloop_buf *scratch,
                     char (*out)[33]);
    void *row_ref_ctx;
    /* The dataset's declared sensitive fields: their columns (-1 absent).
     * What rule code prints or raises about a row is masked with that row's
     * values of them (and by shape) before it reaches stderr. */
    size_t nsensitive;
    const long *sensitive_cols;
    /* The dataset's key columns (-1: absent), for judge_batch.key_empty. */
    size_t nkeys;
    const long *key_cols;
    /* When set, every failing verdict of the batch is handed to
     * fail(fail_ctx, worker, rule, row, reason, out) once its row is judged,
     * by whichever worker took the row's chunk: the finding made on a worker,
     * appended to out (that worker's judge_batch.enc buffer, emptied per
     * batch); its bytes must not depend on which worker made it. fail
     * returns false to leave the verdict to the merge. */
    bool (*fail)(void *ctx, size_t worker, size_t rule, size_t row, const char *reason,
                 struct qloop_buf *out);
    void *fail_ctx;
    /* When set, every passed verdict on the rules marked in pass_rules is
     * handed to pass(pass_ctx, worker, rule, row) once its row is judged, by
     * whichever worker took the row's chunk (the whole-dataset forms:
     * unique's offers, whose result does not depend on the writer). */
    void (*pass)(void *ctx, size_t worker, size_t rule, size_t row);
    const bool *pass_rules;
    void *pass_ctx;
    /* counts, summed over workers by judge_end_dataset */
    int64_t *checked, *errors; /* per rule */
    int64_t *changed;          /* per cleanse entry */
    /* Lua record rule calls answered from the memo / made (batches with a
     * judge_batch.memo only), added to by judge_end_dataset */
    int64_t memo_reused, memo_called;
    /* field rule verdicts (built-in forms, Lua value checks) answered from
     * the memo, added to by judge_end_dataset */
    int64_t forms_reused;
};

/* The verdict memo's part in a batch (run/memo.h), set by the run loop: the
 * workers fingerprint each row once cleansed; a rule kept in the memo (a Lua
 * record rule, or a field rule's judging of a non-empty value) takes the
 * kept answer when the row's fingerprint is the one kept for its row number,
 * else it is judged; either way what the memo will keep of the answer goes
 * to verdict (MEMO_NONE for a call that raised or made an impure read,
 * base/purity.h, and for an empty value, which is judged without a call). */
struct judge_memo {
    const unsigned char *key;  /* the fingerprint key (MEMO_FP_KEY_BYTES) */
    size_t nslots;
    const int *slot;           /* per rule of the dataset: its slot, -1 when not kept */
    /* per row: the entry kept for its row number, or NULL; a worker sets
     * its rows' to NULL once their fingerprints differ from the kept ones */
    const uint8_t **old;
    uint64_t *fp;              /* per row (out): its fingerprint */
    uint8_t *verdict;          /* nslots * nrows (out), [slot * nrows + row] */
};

/* One batch: the workers cleanse view (a copy of the batch's cells; each
 * worker writes only its rows) and fill verdict/reason, nrules * nrows,
 * indexed [rule * nrows + row]. */
struct judge_batch {
    const struct qloop_batch *batch;
    struct qloop_field *view;
    uint8_t *verdict;
    const char **reason;
    char (*refs)[33];          /* nrows record refs, filled when the dataset has row_refs */
    /* when the dataset has fail: judge_pool_size buffers, and per verdict
     * (nrules * nrows, for failing ones) where fail put its finding —
     * enc[enc_by] at enc_at, enc_len bytes (UINT32_MAX: left to the merge) */
    struct qloop_buf *enc;
    uint32_t *enc_at, *enc_len;
    uint8_t *enc_by;
    struct judge_memo *memo;   /* or NULL: every rule called */
    /* nrows bytes, or NULL: once a row's block is cleansed, the worker that
     * cleansed it sets its byte to 1 when the row has no key (the dataset
     * declares none, or a key cell is empty: identity_keyless), else 0, so
     * the stateless C and the merge read one byte a row instead of the key
     * cells; a byte not set yet is left as the caller put it */
    uint8_t *key_empty;
    /* When set, row_refs and fail get it instead of the dataset's
     * row_ref_ctx and fail_ctx, and run as soon as their rows are judged,
     * before judge_finish (judge_start): what they read through it must be
     * this batch's and stay as it is meanwhile. NULL: they wait for
     * judge_finish, as pass always does. */
    void *ctx;
};

struct judge_pool;

/* Makes a pool of nworkers (>= 1) over pack p: worker 0 uses p, the others
 * load p->files into packs of their own. Returns NULL with err when a worker
 * pack cannot be built (it should not happen: p loaded the same files). */
struct judge_pool *judge_pool_new(struct pack *p, size_t nworkers, struct qloop_error *err);
size_t judge_pool_size(const struct judge_pool *pool);
void judge_pool_free(struct judge_pool *pool);

/* Before the first batch of a dataset / after its last (sums the counts). */
void judge_begin_dataset(struct judge_pool *pool, struct judge_dataset *ds);
void judge_end_dataset(struct judge_pool *pool);

/* Cleanses and judges every row of b; returns when all workers are done.
 * Strings the verdicts point at stay valid until the next batch but one is
 * started (judge_start). judge_start then judge_finish. */
void judge_run(struct judge_pool *pool, struct judge_batch *b);

/* judge_run in two: judge_start hands b to the worker threads, which
 * cleanse and judge it — each thread its own state's rows, then the rows of
 * any state no thread is judging (the caller's while it is away): which
 * state judges a row never depends on timing. The stateless C (row_refs,
 * fail, pass) waits for judge_finish, which opens it, does the caller's part
 * and returns when all is done — but row_refs and fail of a batch with its
 * own ctx, which run as its rows are judged. In between the caller may do
 * anything that touches neither b (nor its ctx) nor the pool's packs' Lua
 * states, nor what pass (and without a ctx, row_refs and fail) read: the
 * batch before's verdicts — kept valid, as b's strings are, until the
 * batch after b is started — may be merged then. Every judge_start is
 * followed by judge_finish before the next, and before judge_end_dataset. */
void judge_start(struct judge_pool *pool, struct judge_batch *b);
void judge_finish(struct judge_pool *pool);

#endif
