/*
 * catalog.h — the resource catalog (目录): every dataset on the platform,
 * described by its provider, imported from staff spreadsheets (CSV with
 * Chinese headers, read by the CSV adapter the command line hands in) or
 * JSON, diffed on re-import into the audit chain, merged into rule packs,
 * and checked on its own and against the data of each run (the problems of
 * a run go out as findings through the run's findings sink).
 *
 * The files: entry.c (the model: elements, codes, Chinese names), read.c
 * (a catalog file into memory), stored.c (the catalog tables; show and
 * history), import.c (the diff, audit entries and history of an import),
 * merge.c (into rule packs), check.c (the checks; `catalog check`) and
 * check_run.c (the checks of a run).
 */
#ifndef QLOOP_CATALOG_H
#define QLOOP_CATALOG_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "base/adapter.h"
#include "base/error.h"
#include "rules/pack.h"
#include "store/findings.h"

/* A catalog file and how to read it. */
struct catalog_file {
    const char *path;
    /* CSV only: NULL or "utf-8" (strict UTF-8), "gbk", "gb18030" (converted
     * by the adapter). A JSON catalog is always UTF-8. */
    const char *encoding;
    /* Finds the adapter that reads a CSV catalog; asked for format "csv".
     * The command line passes qloop_adapter_find. */
    const struct qloop_adapter *(*find_adapter)(const char *path, const char *format);
};

/* Imports a catalog file (JSON {"datasets": [...]}, known by the extension
 * .json or a first character { or [; else CSV with the Chinese headers,
 * read through file->find_adapter; docs/catalog.md), the whole catalog: a
 * diff against the stored one, each added, changed or removed dataset or
 * data item recorded in the audit chain (catalog.add / catalog.change /
 * catalog.remove, subject "catalog:DATASET", detail with date, version,
 * before and after) with actor, and the new version in catalog_history.
 * Inside its own transaction (a savepoint when the caller has one open).
 * *diff_summary (may be NULL) gets {"version", "at", "date", "actor",
 * "file", "datasets", "added", "changed", "removed" (dataset names),
 * "changes" (as catalog_history's)}. Once the store has users, actor must
 * be one who may import (identity/authz.h), and every 数源部门 named is a
 * registered department afterwards. Returns 0 or -1 with err (file, line,
 * what to do); nothing is imported on error. */
int catalog_import(sqlite3 *db, const struct catalog_file *file, const char *actor,
                   json_t **diff_summary, struct qloop_error *err);

/* Fills what the rule files left unsaid from the catalog, per dataset it
 * lists: owner, update_cycle, keys (when the rule file gives none) — the rule
 * file wins where both speak — and sensitive as the union of both (masking
 * only widens). The data items feed schema_drift from the catalog tables.
 * No-op when no catalog was imported. Returns 0 or -1 with err. */
int catalog_merge_pack(sqlite3 *db, struct pack *p, struct qloop_error *err);

/* Checks the catalog (`qloop catalog check`): returns the JSON of issue 6,
 * {"version": N or null, "datasets": N, "problems": [{"dataset", "kind",
 * "element", "message"}]}: each entry's own elements; schema_drift and stale
 * against the latest run that read the dataset (as of that run); late_update
 * as of now from the first sightings runs recorded; every dataset a run has
 * read that the catalog lacks. No problems before the first import. NULL
 * with err on a store error. */
json_t *catalog_check(sqlite3 *db, struct qloop_error *err);

/* Part of every run, inside its transaction, after all datasets were read
 * (run_datasets holds rows, columns, newest_update): writes each catalog
 * problem of the run's datasets through sink as a dataset-level finding
 * (row_no 0) of rule "DATASET.catalog_KIND" with record key
 * "catalog:KIND:ELEMENT" (so it enters the closed loop for the provider and
 * keeps its identity across runs), the data column concerned (drift) as
 * field, the value in question as value, and the message; one rule_results
 * row per kind judged (resolve_missing = 1: a problem no longer found is
 * fixed), and
 * appends the same rules as summary objects to summary_rules (may be NULL).
 * Records first sightings of drift in catalog_drift. No-op (no problems)
 * until a catalog has been imported. Returns 0 or -1 with err. */
int catalog_check_run(sqlite3 *db, const char *run_id, json_t *summary_rules,
                      const struct qloop_findings_sink *sink, struct qloop_error *err);

/* The catalog as it stood at as_of (NULL: now; a bare YYYY-MM-DD means the
 * end of that day), rebuilt from catalog_history: {"version" (null before
 * the first import), "imported_at", "actor", "file", "as_of", "datasets":
 * [entries in the JSON import form, "fields" as objects]}, only dataset when
 * not NULL. Returns 0 with *out, -1 for an unreadable as_of (err), -2 on a
 * store error. */
int catalog_show(sqlite3 *db, const char *dataset, const char *as_of, json_t **out,
                 struct qloop_error *err);

/* Every import in order: [{"version", "at", "date", "actor", "file",
 * "datasets", "added", "changed", "removed", "changes": [{"dataset", "op"
 * (add|change|remove), "element" or "field" (absent for a whole dataset),
 * "before", "after"}]}]; with dataset, only the imports that changed it and
 * only its changes. Returns 0 with *out or -2 on a store error. */
int catalog_history(sqlite3 *db, const char *dataset, json_t **out, struct qloop_error *err);

/* The Chinese name of an element key ("share" -> "共享属性"); key itself
 * when unknown. */
const char *catalog_element_zh(const char *key);

/* The Chinese name of an enumerated value ("share", "conditional" ->
 * "受限共享"); code itself when not enumerated or unknown. */
const char *catalog_code_zh(const char *element, const char *code);

#endif
