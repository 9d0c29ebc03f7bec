/*
 * partition.h — partitioned runs, past one machine (CONTRACT.md "Partitioned
 * runs"): an engine that already splits and schedules work (Spark, Hadoop
 * Streaming, Dask, Slurm) calls part_judge on every part of a dataset, each
 * anywhere, and merge_execute once where the store is.
 *
 * part_judge reads one part, cleanses and checks it exactly as a run would,
 * and writes a shard (run/shard.h): the verdicts of its records and the
 * mergeable states of what needs the whole data — `unique` (each distinct
 * value with its count, and its record when seen once), `references` to
 * another dataset (fingerprints of the referenced values; the referencing
 * values left to the merge), compares (each record's key fingerprint and
 * compared values), freshness (the newest update), the rows' keys for the
 * re-check of open tickets, and the counts. It needs no store.
 *
 * merge_execute reads every part's shard and completes the run as one run,
 * without reading any data again: the whole-dataset rules from the merged
 * states, then findings (through the one findings writer), compares, catalog
 * checks and tickets, in one transaction — the result (rule counts, findings
 * with their record refs, tickets) is what `run` gives over the whole data,
 * however it was split. A finding's row is the row within its part, with the
 * part ("2/4"). A shard set with a part missing or given twice, a shard cut
 * short or changed, or one judged with other rules is refused before
 * anything is stored.
 */
#ifndef QLOOP_PARTITION_H
#define QLOOP_PARTITION_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/adapter.h"
#include "base/error.h"
#include "rules/pack.h"
#include "run/run.h"

/* Parses a part id "I/N" (1 <= I <= N). Returns 0, or -1 when s is not one. */
int part_parse(const char *s, unsigned long *i, unsigned long *n);

struct part_options {
    const char *dataset;            /* the dataset judged */
    unsigned long part, nparts;     /* part I of N, 1 <= I <= N */
    const char *input;              /* the part's data ("-": standard input) */
    const char *out;                /* the shard ("-": standard output) */
    const char *const *names;       /* column names of an input without its header line, or NULL */
    size_t nnames;
    const char *version;            /* the qloop version, written into the shard */
    size_t memory_budget;           /* as run_options */
    size_t jobs;
    bool progress;
    const struct qloop_adapter *(*find_adapter)(const char *path, const char *format);
};

/* Judges part o->part of o->nparts of dataset o->dataset of pack p into the
 * shard o->out. Returns 0, or -1 with err (its kind as run_execute's); on
 * failure a shard file may be left incomplete — without its end line, which
 * the merge refuses. */
int part_judge(struct pack *p, const struct part_options *o, struct qloop_error *err);

struct merge_options {
    const char *const *shards;      /* shard files ("-": standard input, once) */
    size_t nshards;
    const char *version;            /* the qloop version: shards must carry the same */
    struct run_options run;         /* policy, memory budget, progress (data and jobs unused) */
};

/* Merges the shards into one run of pack p on store db: as run_execute,
 * out->summary being the same object `run --json` prints. Returns 0, or -1
 * with err; nothing is stored on failure. */
int merge_execute(sqlite3 *db, struct pack *p, const struct merge_options *o,
                  struct run_outcome *out, struct qloop_error *err);

#endif
