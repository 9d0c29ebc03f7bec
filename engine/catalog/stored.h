/*
 * stored.h — the catalog in the store (stored.c), for the other files of
 * engine/catalog/: its version, loading it, replacing one dataset's rows.
 *
 * Tables (schema steps in store/schema.c):
 *   catalog_versions  one row per import (version, at, actor, file, counts)
 *   catalog_datasets  the current catalog, one row per dataset
 *   catalog_fields    its data items (数据项), in catalog order
 *   catalog_history   per import and changed dataset: op, entry after, changes
 *   catalog_drift     columns in which a dataset's data and its catalog
 *                     entry disagree, with the run that first saw it (for
 *                     late_update, 温州 第十一条)
 */
#ifndef QLOOP_CATALOG_STORED_H
#define QLOOP_CATALOG_STORED_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/error.h"
#include "catalog/entry.h"

/* Loads the current catalog into the empty c, sorted by dataset. Returns
 * its version, 0 when none was imported yet (c stays empty), or -1 with err
 * (c empty). */
int64_t cat_load_current(sqlite3 *db, struct catalog *c, struct qloop_error *err);

/* Replaces dataset name in the current tables with e (added at added_at,
 * changed at at, by version), or removes it when e is NULL. Returns 0 or -1
 * with err. */
int cat_write_entry(sqlite3 *db, const char *name, const struct cat_entry *e,
                    const char *added_at, const char *at, int64_t version,
                    struct qloop_error *err);

/* The added_at of dataset name in the current tables (*out, malloc'd; NULL
 * when it is not there). Returns 0 or -1 with err. */
int cat_added_at(sqlite3 *db, const char *name, char **out, struct qloop_error *err);

#endif
