/*
 * catalog.h — the resource catalog (目录): every dataset on the platform,
 * described by its provider, imported from staff spreadsheets (CSV with
 * Chinese headers) or JSON, diffed on re-import into the audit chain, merged
 * into rule packs, and checked on its own and against the data of each run.
 */
#ifndef QLOOP_CATALOG_H
#define QLOOP_CATALOG_H

#include <jansson.h>
#include <sqlite3.h>

#include "error.h"
#include "pack.h"

/* Schema of the catalog tables, applied by store.c's migrations. */
extern const char qloop_catalog_schema_sql[];

/* Imports a catalog file (JSON {"datasets": [...]} or CSV with the Chinese
 * headers), recording each added, changed or removed dataset or field in the
 * audit chain with actor. Inside its own transaction. Returns 0 or -1 with err
 * (file, line, what to do); nothing is imported on error. */
int catalog_import(sqlite3 *db, const char *path, const char *actor, json_t **diff_summary,
                   struct qloop_error *err);

/* Fills what the rule files left unsaid (owner, update cycle, fields,
 * sensitivity) from the catalog; the rule file wins where both speak.
 * No-op when no catalog was imported. */
int catalog_merge_pack(sqlite3 *db, struct pack *p, struct qloop_error *err);

/* Checks the catalog alone (`qloop catalog check`): returns the JSON of
 * CONTRACT/issue 6: {"datasets": N, "problems": [{"dataset","kind","element","message"}]}. */
json_t *catalog_check(sqlite3 *db, struct qloop_error *err);

/* Part of every run, inside its transaction, after all datasets were read
 * (run_datasets holds rows, columns, newest_update): writes each catalog
 * problem of the run's datasets as a finding of rule "catalog.KIND" on that
 * dataset (so it enters the closed loop for the provider), with rule_results
 * rows, and appends summary objects to summary_rules. No-op (no problems)
 * until a catalog has been imported. Returns 0 or -1. */
int catalog_check_run(sqlite3 *db, const char *run_id, json_t *summary_rules,
                      struct qloop_error *err);

#endif
