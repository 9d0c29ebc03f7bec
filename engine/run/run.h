/*
 * run.h — one validation run: read every dataset of a pack, cleanse, check,
 * compare, store findings, hand them to the closed loop.
 *
 * The whole run is one store transaction (BEGIN IMMEDIATE ... COMMIT): a run
 * killed at any moment leaves the store as the last good run left it, and
 * running again does the whole job. The engine does not know the adapters:
 * the caller passes a function that picks one for a path.
 */
#ifndef QLOOP_RUN_H
#define QLOOP_RUN_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/adapter.h"
#include "base/error.h"
#include "rules/pack.h"

struct run_data_override {
    const char *name; /* dataset */
    const char *path; /* file, "-" for standard input */
};

struct run_options {
    const struct run_data_override *data; /* --data NAME=FILE */
    size_t ndata;
    const char *policy_path;              /* NULL: default policy */
    bool progress;                        /* progress lines on stderr */
    size_t memory_budget;                 /* bytes for unique/compare tables; 0 = 1 GiB */
    size_t jobs;                          /* worker threads; 0 = one per core (at most 16) */
    /* Picks the adapter for a path (format may be NULL); NULL when none fits. */
    const struct qloop_adapter *(*find_adapter)(const char *path, const char *format);
};

struct run_outcome {
    char run_id[64];
    int64_t failed_records; /* distinct records with at least one failure */
    json_t *summary;        /* the CONTRACT.md summary object (caller frees) */
    /* wall-clock seconds of each phase, for operators (never in the summary,
     * which must not change between identical runs) */
    double seconds_read;    /* read, cleanse, check (no write lock held) */
    double seconds_store;   /* waiting for the write lock and moving the results in */
    double seconds_compare, seconds_catalog, seconds_tickets, seconds_commit;
    double cpu_seconds_read; /* the CPU time (all threads) of the read phase (a merge: reading and merging the shards) */
    /* Lua record rule calls answered from the previous night's memo and
     * calls made where the memo could keep the answer (run/memo.h) */
    int64_t memo_reused, memo_called;
};

/* Runs pack p against the store db. On success returns 0 and fills out (the
 * run is committed). On failure returns -1 with err filled — its kind says
 * whose the problem is: bad data, rules, configuration or a store the user
 * can fix (exit 2), or an internal failure (exit 3); qloop_error_exit(err)
 * gives the exit code — and nothing of the run is committed. */
int run_execute(sqlite3 *db, struct pack *p, const struct run_options *o, struct run_outcome *out,
                struct qloop_error *err);

#endif
