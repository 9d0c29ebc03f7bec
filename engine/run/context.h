/*
 * context.h — what the phases of a run share: the run (run.c) and the
 * dataset being read (dataset.c), with the helpers the phases call across
 * files. Private to engine/run/: the run's interface is run.h.
 *
 * The files, in the order a run uses them:
 *   run.c        run_execute: what is checked before reading, the read phase,
 *                the final write transaction;
 *   refsets.c    datasets other datasets reference: read first, their values
 *                collected for `references`;
 *   dataset.c    one dataset: open the source, bind columns, the batch loop
 *                (judge.c on the workers, the verdict merge here), the
 *                whole-dataset rules, its rows for the store;
 *   identity.c   which record a row is: its key, or for a record without one
 *                its content fingerprint and occurrence;
 *   recheck.c    which records of open tickets the run saw (the re-check);
 *   freshness.c  the dataset-level timeliness rule DATASET.freshness;
 *   findings.c   the one findings writer; stage.c the staging tables.
 * A partitioned run (partition.h) reuses these phases: part.c runs the read
 * phase of one part of one dataset into a shard (shard.h), merge.c feeds the
 * shards' verdicts and states to the whole-dataset phases and the write.
 */
#ifndef QLOOP_RUN_CONTEXT_H
#define QLOOP_RUN_CONTEXT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/adapter.h"
#include "base/buf.h"
#include "base/error.h"
#include "checks/mask.h"
#include "rules/pack.h"
#include "run/judge.h"
#include "run/run.h"
#include "run/unique.h"

struct finding_shown;
struct finding_extra;
struct qloop_finding;

struct strmap;
struct compare_run;
struct part_out;
struct findings_writer;
struct unique_set;

/* The values of one field of a dataset that another dataset references. */
struct refset {
    const char *dataset, *field;
    long col; /* its column while that dataset is read, -1 when absent */
    struct strmap *values;
};

struct run_ctx {
    sqlite3 *db;
    struct pack *p;
    const struct run_options *o;
    struct qloop_error *err;
    char run_id[64];
    char as_of[32];
    int64_t now;
    time_t started;
    struct findings_writer *findings;
    struct recheck_set *rechecks; /* per dataset read: its open items' refs, seen or not */
    size_t nrechecks;
    const unsigned char *secret; /* store_secret(db), read once before workers start */
    struct refset *refsets;
    size_t nrefsets;
    struct compare_run *compares;
    struct judge_pool *pool;
    struct part_out *part;   /* a partitioned judge: its shard (part.c); NULL in a run */
    json_t *summary_datasets, *summary_rules, *summary_cleansed;
    int64_t failed_records;
    struct qloop_buf keybuf; /* the record key of the row being written */
    struct memo_run *memo;   /* the verdict memo (memo_run.c), made on first use */
};

/* A rule of the dataset being read. */
struct rule_state {
    struct pack_rule *rule;
    struct ds_ctx *ds;
    long col; /* column of rule->field, -1 when absent */
    int64_t failed;
    struct unique_set *uniq; /* for a whole-dataset form (unique) */
    char first_error[1024];
};

struct cleanse_state {
    struct pack_cleanse *c;
    long col;
};

/* A batch in the read loop's hands (dataset.c): what it owns from the
 * moment it is read until its verdicts are merged. Two of them: the loop
 * merges one while the workers judge the other (judge_start). */
struct ds_batch {
    struct qloop_batch batch; /* as read (prefetch.c keeps two valid) */
    struct qloop_field *view; /* its cleansed cells */
    size_t view_cap;
    uint8_t *verdict;
    const char **reason;
    size_t verdict_cap;
    char (*refs)[33];
    size_t refs_cap;
    uint8_t *key_empty;       /* per row: judge_batch.key_empty (2: not known yet) */
    size_t key_empty_cap;
    struct judge_batch jb;    /* what the workers read and fill */
    /* the dataset as this batch's record refs and findings made on the
     * workers see it (judge_batch.ctx): a copy made when the batch is
     * prepared, its batch current, without the identities of keyless rows
     * (identity.c: made on the run's thread after judging; the workers
     * handle keyed rows only) */
    struct ds_ctx *cb;
};

/* The dataset being read. */
struct ds_ctx {
    struct run_ctx *run;
    struct pack_dataset *d;
    const struct qloop_adapter *ad;
    void *src;
    const char *path;
    const struct qloop_adapter *given_ad; /* the adapter to use whatever the path, or NULL */
    const char *const *given_names; /* column names of a source without its header, or NULL */
    size_t ngiven_names;
    size_t ncols;
    const char *const *names;
    struct strmap *colmap; /* name -> column + 1 */
    long *key_cols;
    long *sens_cols;               /* column of each declared sensitive field, -1 absent */
    struct mask_value *sens_vals;  /* a row's sensitive values (ds_row_values) */
    struct rule_state *rules;
    size_t nrules;
    struct cleanse_state *cleanse;
    size_t ncleanse;
    long updated_col;
    int64_t newest_update;
    bool has_update;
    uint8_t *failed_rows; /* bitmap by row_no */
    size_t failed_cap;
    int64_t rows;
    struct openrefs *open_refs; /* record refs of open ticket items (the run's, recheck.c) */
    /* The current batch (ds_select): the one being merged, or — from
     * judge_finish on, for unique's offers on the workers — the one judged. */
    struct qloop_field *view; /* cleansed cells of the current batch */
    const struct qloop_batch *batch;
    const struct judge_batch *jb;
    struct ds_batch slots[2];
    /* what the judge pool reads and fills (judge.h) */
    struct judge_dataset jd;
    size_t *rule_index;
    long *rule_cols, *cleanse_cols;
    struct strmap **refsets;
    int64_t *checked, *errors, *changed;
    uint8_t *verdict;
    const char **reason;
    char (*refs)[33]; /* record refs of the batch's rows, when open tickets need them */
    /* per row of the current batch: 1 keyless, 0 keyed, 2 (or no array: a
     * batch not read through ds_read) not known yet — identity_keyless */
    const uint8_t *key_empty;
    bool judging;
    bool *pass_rules;             /* per rule: a unique set the workers offer to */
    struct qloop_buf *whole_keys; /* per worker: the key of the row it offers */
    size_t nwhole_keys;
    struct ds_encode *encode; /* findings made on the workers (ds_encode.c), or NULL */
    struct strmap *nulls; /* the dataset's null_values (source.c), made on first use */
    int64_t bad_rows;     /* malformed rows the adapter listed (bad_rows = "finding") */
    /* identity.c: records without a key */
    size_t *name_order;      /* columns in name order */
    struct strmap *keyless;  /* fingerprint (16 bytes) -> records seen so far */
    struct qloop_buf idents; /* the batch's keyless identities */
    struct qloop_buf content; /* the content of the row being fingerprinted */
    size_t *ident_at;        /* per row of the batch: offset in idents, SIZE_MAX for a keyed row */
    size_t ident_cap;
    struct ds_memo *memo;    /* the verdict memo of its Lua record rules, or NULL (memo_run.c) */
};

/* run.c: the phases a partitioned run (part.c, merge.c) shares with a run */
/* The run's identity, clock and empty summaries. */
void run_init(struct run_ctx *run, sqlite3 *db, struct pack *p, const struct run_options *o,
              struct qloop_error *err);
/* What is set up before reading: the datasets' order into order (those
 * referenced first), the divisions table, the compares and — with workers —
 * the judge pool. Returns 0 or -1 with err. */
int run_setup(struct run_ctx *run, size_t *order, bool workers);
/* Where the results go: the staging tables, the findings writer, the
 * referenced values. Returns 0 or -1 with err. */
int run_open_results(struct run_ctx *run);
/* The final write transaction: the run row, the staged results, compares,
 * catalog checks, tickets, audit; fills out->summary and the timings. */
int run_write(struct run_ctx *run, struct run_outcome *out);
void run_release(struct run_ctx *run);

/* ds_encode.c: findings of failing verdicts made on the workers. begin sets
 * ds->jd.fail unless the run is a partitioned judge, has no findings writer
 * or pool, or the dataset has no key; batch hands the arrays to a judge
 * batch; ds_encoded gives the finding a worker made for (rule, row) of the
 * current batch, false when the merge must make it; free ends it. */
struct judge_batch;
void ds_encode_begin(struct ds_ctx *ds);
void ds_encode_batch(struct ds_ctx *ds, struct judge_batch *jb);
bool ds_encoded(const struct ds_ctx *ds, size_t rule, size_t row, const char **p, size_t *n);
void ds_encode_free(struct ds_ctx *ds);

/* dataset.c */
/* Reads dataset d: ds_open, ds_bind, the re-check's refs, ds_read, ds_whole,
 * ds_record, ds_free. Returns 0 or -1 with run->err. */
int run_dataset(struct run_ctx *run, struct pack_dataset *d);
/* The raw values of the declared sensitive fields of row of the current
 * batch (empty ones left out) in ds->sens_vals; returns how many. */
size_t ds_row_values(struct ds_ctx *ds, size_t row);
/* The same into out (2 per sensitive field), for a worker thread. */
size_t ds_row_values_into(const struct ds_ctx *ds, size_t row, struct mask_value *out);
const char *run_source_path(const struct run_ctx *run, const struct pack_dataset *d);
long ds_column(const struct ds_ctx *ds, const char *name);
const struct qloop_field *ds_cell(const struct ds_ctx *ds, size_t row, long col);
void ds_row_key(const struct ds_ctx *ds, size_t row, struct qloop_buf *out);
/* The row's key fields (cleansed), '|'-joined, into out (emptied first):
 * ds_row_key of a row with a key; safe on worker threads. */
void ds_key_fields(const struct ds_ctx *ds, size_t row, struct qloop_buf *out);
/* Writes a finding of rule rs (row_no 0: of the dataset), counting it;
 * mask: FINDING_* flags for the findings writer (findings.h). In a
 * partitioned judge, a verdict into the shard instead. */
int ds_emit(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
            size_t keylen, const char *value, size_t vlen, const char *reason, unsigned mask);
/* ds_emit of a failing record a judge has shown already (the merge of a
 * shard's v entry): key and value raw, s what findings_show made of them. */
int ds_emit_shown(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
                  size_t keylen, const char *value, size_t vlen, const struct finding_shown *s);

/* source.c: what the dataset declares about its source. The adapter's
 * options; null_values applied to the first ncells of the view; the batch's
 * malformed rows as findings of DATASET.malformed_row; that rule's result
 * (staged when the dataset says bad_rows = "finding"). */
void ds_source_options(const struct ds_ctx *ds, struct qloop_source_options *o);
void ds_null_values(struct ds_ctx *ds, size_t ncells);
int ds_malformed_rows(struct ds_ctx *ds, const struct qloop_batch *b);
/* One malformed row's finding (row_no: its row; message: what is wrong). */
int ds_malformed_row(struct ds_ctx *ds, uint64_t row_no, const char *message);
int ds_malformed_result(struct ds_ctx *ds);
/* The phases of run_dataset, for a partitioned run: the source (by its
 * adapter), the rules and cleanse entries (ds_setup_rules alone where there
 * is no source), the columns named (ds_bind_names: every column a rule, key,
 * cleanse entry or reference uses), the batch loop, what needs every row
 * (unique's deferred reports, rule results, freshness), the dataset's row. */
int ds_open(struct ds_ctx *ds);
void ds_setup_rules(struct ds_ctx *ds);
int ds_bind(struct ds_ctx *ds);
void ds_bind_names(struct ds_ctx *ds, size_t n, const char *const *names);
int ds_read(struct ds_ctx *ds);
int ds_whole(struct ds_ctx *ds);
int ds_record(struct ds_ctx *ds);
void ds_free(struct ds_ctx *ds);
/* rs's unique set: one value offered; count (>= 2) occurrences reported
 * elsewhere; the end (states, when state is set: unique.h). Each failing
 * record found is written with ds_emit. Return 0 or -1 with run->err. */
int ds_unique_offer(struct ds_ctx *ds, struct rule_state *rs, const char *value, size_t vlen,
                    uint64_t row_no, const char *key, size_t keylen);
int ds_unique_group(struct ds_ctx *ds, struct rule_state *rs, const char *value, size_t vlen,
                    uint64_t count);
int ds_unique_finish(struct ds_ctx *ds, struct rule_state *rs, unique_state_fn state, void *ctx);

/* part.c: a partitioned judge's hooks in the batch loop (run->part set):
 * a verdict of rule rs on a record (f and x as the findings writer would
 * have them: the judge shows it, findings_show); a value whose `references` to another
 * dataset pends (verdict JUDGE_PENDING*); after each batch, the rows' keys
 * for the merge's re-check. Return 0 or -1 with run->err. */
int part_verdict(struct ds_ctx *ds, struct rule_state *rs, const struct qloop_finding *f,
                 const struct finding_extra *x);
int part_pending(struct ds_ctx *ds, struct rule_state *rs, size_t row, uint8_t verdict,
                 const char *reason);
int part_batch(struct ds_ctx *ds);

/* part_source.c: the part a judge reads (partition.h). part_source_open
 * opens the source (ds_open), having counted its rows into *rows when the
 * judge splits it itself (no --input); part_source_wrap, after ds_bind,
 * puts the part's view in front of it: a leading header line dropped, only
 * the part's rows, numbered from 1. */
struct part_options;
int part_source_open(struct ds_ctx *ds, const struct part_options *o, uint64_t *rows);
void part_source_wrap(struct ds_ctx *ds, const struct part_options *o, uint64_t rows);

/* prefetch.c: from here on the source is read by a thread of its own, one
 * batch ahead (ds->ad and ds->src become a wrapper that reads the same
 * batches, each valid until the second next_batch after it; closing it
 * stops the thread and closes the source) and returns true. When no
 * thread can be started, nothing changes and it returns false. */
bool ds_prefetch(struct ds_ctx *ds);

/* refsets.c */
void refsets_setup(struct run_ctx *run);
/* The order to read the datasets in: every dataset after those it
 * references. Returns 0, or -1 with err for a cycle. */
int refsets_order(struct run_ctx *run, size_t *order);
struct strmap *refsets_for(const struct run_ctx *run, const struct pack_rule *r);
void refsets_bind(struct ds_ctx *ds);
void refsets_collect(struct ds_ctx *ds);
void refsets_free(struct run_ctx *run);

/* identity.c */
/* The columns in name order (after the columns change). */
void identity_bind(struct ds_ctx *ds);
/* Whether row has no key: the dataset declares none, or a key field of the
 * row (cleansed) is empty. Safe on worker threads. Read from key_empty once
 * the row's block is cleansed (judge.c), else from the key cells. */
bool identity_keyless(const struct ds_ctx *ds, size_t row);
/* Gives every keyless row of the batch its identity (fingerprint and
 * occurrence), in row order, on the run's thread, after the workers. */
void identity_batch(struct ds_ctx *ds);
/* Appends the raw key of keyless row ("\0K" FP "#" N "\0#" ROW) to out and
 * returns true; false (nothing appended) for a row with a key. */
bool identity_of(const struct ds_ctx *ds, size_t row, struct qloop_buf *out);
void identity_free(struct ds_ctx *ds);

/* recheck.c */
struct recheck_set {
    char *dataset;
    struct openrefs *refs;
};
int recheck_begin(struct ds_ctx *ds);
/* Whether the dataset being read has open ticket items (after recheck_begin). */
bool recheck_wanted(const struct ds_ctx *ds);
void recheck_free(struct run_ctx *run);
void recheck_batch(struct ds_ctx *ds);
void recheck_dataset_seen(struct ds_ctx *ds);
/* A partitioned merge: the record whose raw key is key was in the data. */
void recheck_see_key(struct ds_ctx *ds, const char *key, size_t len);
void recheck_rows_ref(void *ctx, size_t begin, size_t end, struct qloop_buf *scratch,
                      char (*out)[33]);
bool recheck_seen(void *ctx, const char *dataset, const char *ref);
/* The record ref of row of the batch as recheck_rows_ref made it on the
 * worker that took the row (the same chunk of rows, before its findings:
 * judge.c's after_judging), as hex into hex: true; false when it made none
 * (no open items, a keyless record). */
bool recheck_row_ref(const struct ds_ctx *ds, size_t row, char hex[33]);

/* memo_run.c: the verdict memo (memo.h). memo_begin, at the start of the
 * batch loop, decides whether the dataset's Lua record rules are kept;
 * memo_batch, before the workers judge a batch, reads the kept chunks of
 * its row numbers and sets jb->memo (NULL: every rule called); memo_after,
 * once the batch's verdicts are merged, appends its rows to the chunk being
 * made; memo_end after the last batch; memo_free in ds_free. memo_write puts
 * what changed into the store inside the run's write transaction;
 * memo_counts gives the rule calls answered from the memo and made. Return
 * 0 or -1 with run->err. */
struct memo_run;
struct ds_memo;
void memo_begin(struct ds_ctx *ds);
int memo_batch(struct ds_ctx *ds, struct judge_batch *jb);
int memo_after(struct ds_ctx *ds, const struct judge_batch *jb);
int memo_end(struct ds_ctx *ds);
void memo_free(struct ds_ctx *ds);
int memo_write(struct run_ctx *run);
void memo_counts(const struct run_ctx *run, int64_t *reused, int64_t *called);
void memo_release(struct run_ctx *run);

/* freshness.c */
void freshness_batch(struct ds_ctx *ds);
int freshness_judge(struct ds_ctx *ds);

#endif
