/*
 * stage.h — the run's staging tables: where a run's results wait, in TEMP
 * tables of its own connection, until its write transaction moves them into
 * the store.
 *
 * Reading and checking the data takes most of a run and holds no write lock:
 * its findings (findings.h), rule results, dataset rows and cleansing counts
 * go to temp.stage_* (gone with the process if it dies). The final phase
 * moves them in with stage_move, once for the datasets' results and again
 * after each later finder (compares, catalog) has written its own, so the
 * store's rows keep the order they were made in.
 */
#ifndef QLOOP_RUN_STAGE_H
#define QLOOP_RUN_STAGE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* (Re)creates the empty staging tables on db. Returns 0 or -1 with err. */
int stage_create(sqlite3 *db, struct qloop_error *err);

/* Moves every staged row into the store, in the order staged, and empties
 * the staging tables; inside the caller's transaction. Returns 0 or -1. */
int stage_move(sqlite3 *db, struct qloop_error *err);

/* One rule's result (a rule_results row). */
struct stage_result {
    const char *rule, *dataset;
    const char *field; /* NULL for a record or dataset rule */
    const char *dimension, *severity, *message;
    int64_t checked, failed, errors;
    bool resolve_missing; /* a record no longer found is fixed (re-check) */
};

/* Stages r for run run_id and appends its summary object ({"id", "dataset",
 * "checked", "failed", "errors"}, CONTRACT.md) to summary_rules (may be
 * NULL). Returns 0 or -1 with err. */
int stage_rule_result(sqlite3 *db, const char *run_id, const struct stage_result *r,
                      json_t *summary_rules, struct qloop_error *err);

/* One dataset as the run read it (a run_datasets row). */
struct stage_dataset {
    const char *dataset, *source, *owner, *update_cycle;
    int64_t rows;
    const char *newest_update; /* ISO 8601, or NULL when no record said */
    const char *columns;       /* JSON array of the column names */
    const char *sensitive;     /* JSON array of the pack's sensitive fields */
    const char *key_fields;    /* JSON array of the pack's key fields */
};
int stage_dataset(sqlite3 *db, const char *run_id, const struct stage_dataset *d,
                  struct qloop_error *err);

/* How many values cleansing changed in one field (a cleanse_counts row). */
int stage_cleanse_count(sqlite3 *db, const char *run_id, const char *dataset, const char *field,
                        int64_t changed, struct qloop_error *err);

#endif
