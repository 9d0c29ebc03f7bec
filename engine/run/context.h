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
#include "rules/pack.h"
#include "run/judge.h"
#include "run/run.h"

struct strmap;
struct compare_run;
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
    struct strmap *seen;         /* "dataset\0ref" of open ticket items this run saw */
    const unsigned char *secret; /* store_secret(db), read once before workers start */
    struct refset *refsets;
    size_t nrefsets;
    struct compare_run *compares;
    struct judge_pool *pool;
    json_t *summary_datasets, *summary_rules, *summary_cleansed;
    int64_t failed_records;
    struct qloop_buf keybuf; /* the record key of the row being written */
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

/* The dataset being read. */
struct ds_ctx {
    struct run_ctx *run;
    struct pack_dataset *d;
    const struct qloop_adapter *ad;
    void *src;
    const char *path;
    size_t ncols;
    const char *const *names;
    struct strmap *colmap; /* name -> column + 1 */
    long *key_cols;
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
    struct strmap *open_refs; /* record refs of open ticket items */
    struct qloop_field *view; /* cleansed cells of the current batch */
    size_t view_cap;
    const struct qloop_batch *batch;
    /* what the judge pool reads and fills (judge.h) */
    struct judge_dataset jd;
    size_t *rule_index;
    long *rule_cols, *cleanse_cols;
    struct strmap **refsets;
    int64_t *checked, *errors, *changed;
    uint8_t *verdict;
    const char **reason;
    size_t verdict_cap;
    char (*refs)[33]; /* record refs of the batch's rows, when open tickets need them */
    size_t refs_cap;
    bool judging;
    struct strmap *nulls; /* the dataset's null_values (source.c), made on first use */
    int64_t bad_rows;     /* malformed rows the adapter listed (bad_rows = "finding") */
    /* identity.c: records without a key */
    size_t *name_order;      /* columns in name order */
    struct strmap *keyless;  /* fingerprint (16 bytes) -> records seen so far */
    struct qloop_buf idents; /* the batch's keyless identities */
    struct qloop_buf content; /* the content of the row being fingerprinted */
    size_t *ident_at;        /* per row of the batch: offset in idents, SIZE_MAX for a keyed row */
    size_t ident_cap;
};

/* dataset.c */
int run_dataset(struct run_ctx *run, struct pack_dataset *d);
const char *run_source_path(const struct run_ctx *run, const struct pack_dataset *d);
long ds_column(const struct ds_ctx *ds, const char *name);
const struct qloop_field *ds_cell(const struct ds_ctx *ds, size_t row, long col);
void ds_row_key(const struct ds_ctx *ds, size_t row, struct qloop_buf *out);
/* Writes a finding of rule rs (row_no 0: of the dataset), counting it;
 * mask: FINDING_* flags for the findings writer (findings.h). */
int ds_emit(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
            size_t keylen, const char *value, size_t vlen, const char *reason, unsigned mask);

/* source.c: what the dataset declares about its source. The adapter's
 * options; null_values applied to the first ncells of the view; the batch's
 * malformed rows as findings of DATASET.malformed_row; that rule's result
 * (staged when the dataset says bad_rows = "finding"). */
void ds_source_options(const struct ds_ctx *ds, struct qloop_source_options *o);
void ds_null_values(struct ds_ctx *ds, size_t ncells);
int ds_malformed_rows(struct ds_ctx *ds, const struct qloop_batch *b);
int ds_malformed_result(struct ds_ctx *ds);

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
 * row (cleansed) is empty. Safe on worker threads. */
bool identity_keyless(const struct ds_ctx *ds, size_t row);
/* Gives every keyless row of the batch its identity (fingerprint and
 * occurrence), in row order, on the run's thread, after the workers. */
void identity_batch(struct ds_ctx *ds);
/* Appends the raw key of keyless row ("\0K" FP "#" N "\0#" ROW) to out and
 * returns true; false (nothing appended) for a row with a key. */
bool identity_of(const struct ds_ctx *ds, size_t row, struct qloop_buf *out);
void identity_free(struct ds_ctx *ds);

/* recheck.c */
int recheck_begin(struct ds_ctx *ds);
void recheck_batch(struct ds_ctx *ds);
void recheck_dataset_seen(struct ds_ctx *ds);
void recheck_row_ref(void *ctx, size_t row, struct qloop_buf *scratch, char out[33]);
bool recheck_seen(void *ctx, const char *dataset, const char *ref);

/* freshness.c */
void freshness_batch(struct ds_ctx *ds);
int freshness_judge(struct ds_ctx *ds);

#endif
