/*
 * stage.h — the run's staging tables: where a run's results wait, in TEMP
 * tables of its own connection, until its write transaction moves them into
 * the store.
 *
 * Reading and checking the data takes most of a run and holds no write lock:
 * its findings wait in the findings writer's spool (findings.h, below), its
 * rule results, dataset rows and cleansing counts in temp.stage_* (all gone
 * with the process if it dies). The final phase moves them in
 * (findings_flush, then stage_move), once for the datasets' results and
 * again after each later finder (compares, catalog) has written its own, so
 * the store's rows keep the order they were made in.
 */
#ifndef QLOOP_RUN_STAGE_H
#define QLOOP_RUN_STAGE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* A spool: bytes appended in order and read back once, in order. It keeps
 * up to a few MiB in memory and spills the rest to an unlinked temporary
 * file (gone with the process), so a run's findings — hundreds of MiB at
 * ten million records — wait outside both memory and the store. The
 * findings writer (findings.h) spools its encoded findings here. */
struct stage_spool;

struct stage_spool *stage_spool_new(void);
void stage_spool_free(struct stage_spool *s);
/* Appends len bytes. Returns 0, or -1 with err when the temporary file
 * cannot be written (a full disk: the user's to fix). */
int stage_spool_append(struct stage_spool *s, const void *p, size_t len, struct qloop_error *err);
/* Bytes appended since the spool was last drained. */
uint64_t stage_spool_size(const struct stage_spool *s);
/* Reads everything appended back in order, calling each(ctx, p, n) with
 * successive pieces of it (a piece may end inside something appended in one
 * call: the reader reassembles), then empties the spool. Returns 0, -1 with
 * err on a read error, or the first non-zero result of each. */
int stage_spool_drain(struct stage_spool *s, int (*each)(void *ctx, const void *p, size_t n),
                      void *ctx, struct qloop_error *err);

/* What a spool holds at one moment, to be read once more on another thread
 * while the spool itself is drained (findings_flush collects the findings'
 * keys so, findings_keys.h): its own descriptor of the spool's file (read
 * with pread, so the drain's reads are not disturbed and the drain may
 * close the file) up to the size the spool had, and a copy of the part
 * still in memory, and the buffer its read uses (so that the thread that
 * reads it allocates nothing). Made and freed on the spool's thread; read
 * on any one thread. NULL (nothing made) when the file cannot be flushed or its
 * descriptor duplicated: the caller reads the spool by the drain alone. */
struct stage_spool_view;
struct stage_spool_view *stage_spool_view(struct stage_spool *s);
void stage_spool_view_free(struct stage_spool_view *v);
/* Calls each(ctx, p, n) with successive pieces of the bytes the spool held
 * when the view was made, in order (a piece may end inside something
 * appended in one call, as stage_spool_drain's). Returns 0, -1 when the
 * file cannot be read (errno says why; no message: the drain reports its
 * own), or the first non-zero result of each. Once per view. */
int stage_spool_view_read(struct stage_spool_view *v,
                          int (*each)(void *ctx, const void *p, size_t n), void *ctx);

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
