/*
 * merge.h — the inside of `qloop merge` (partition.h), shared by its two
 * files: merge.c (the shard set, the datasets in order, the write) and
 * merge_part.c (the entries of one dataset's parts). Private to engine/run/.
 */
#ifndef QLOOP_RUN_MERGE_H
#define QLOOP_RUN_MERGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run/context.h"
#include "run/partition.h"
#include "run/shard.h"

struct strmap;

/* One shard given to the merge. */
struct shard_in {
    const char *path;
    json_t *header;
    size_t dataset;             /* index in pack->datasets */
    unsigned long part, nparts; /* I/N */
    struct shard_reader *kept;  /* standard input: read once, kept open after its header */
};

struct merge {
    struct run_ctx *run;
    const struct merge_options *o;
    struct shard_in *in; /* sorted by dataset, then part */
    size_t nin;
    char pack_fp[65];
    /* per run->refsets entry: the 16-byte fingerprints of the values the
     * referenced dataset's parts offered */
    struct strmap **refvals;
};

/* One dataset being merged. */
struct merge_ds {
    struct merge *m;
    struct ds_ctx ds;
    struct shard_in *in; /* its shards, in part order */
    size_t nparts;
    uint64_t *offsets;   /* rows before each part (UINT64_MAX: not yet read) */
    char **cols;         /* the columns of every part, in order of first appearance */
    size_t ncols;
    long *offer_ref;     /* the run->refsets entry of each field the dataset offers */
    size_t noffers;
    long *need_ref;      /* per rule: the run->refsets entry its references needs, or -1 */
    bool *error_noted;   /* per rule: a pending check's error was printed */
    struct strmap *seen_hashes; /* hashes of open items' keys as shown (the re-check) */
    struct strmap *contents;    /* records without a key: fingerprint (16 bytes) -> how
                                   many of the parts read so far have that content */
    struct merge_unique *uniq;  /* the unique rules' states (merge_unique.c), or NULL */
    struct qloop_buf key, text; /* scratch */
};

/* merge_part.c */
/* Reads every part of md's dataset in order into md->ds. Returns 0 or -1. */
int merge_parts(struct merge_ds *md);
void merge_ds_free(struct merge_ds *md);

/* merge_unique.c: `unique` over the parts (the rules are the dataset's
 * indices). merge_unique_state takes a part's states in the order its shard
 * gives them (one run per ascending stretch) — row: the record's, or for a
 * count of 2 or more the rows before its part; merge_unique_part_end after
 * each part; then merge_unique_finish reports, through emit and in the
 * order a run would, each record seen once in its part whose value occurs
 * twice or more in the dataset. Chunks past budget (0: 1 GiB) go to a
 * temporary file. Each returns 0 or -1 with err. */
struct merge_unique;
typedef int (*merge_unique_emit_fn)(void *ctx, size_t rule, uint64_t row, const char *key,
                                    size_t klen, const char *value, size_t vlen);
struct merge_unique *merge_unique_new(size_t nrules, size_t budget);
void merge_unique_free(struct merge_unique *u);
int merge_unique_state(struct merge_unique *u, size_t rule, const char *value, size_t vlen,
                       uint64_t count, uint64_t row, const char *key, size_t klen,
                       struct qloop_error *err);
void merge_unique_part_end(struct merge_unique *u);
int merge_unique_finish(struct merge_unique *u, merge_unique_emit_fn emit, void *ctx,
                        struct qloop_error *err);

#endif
