/*
 * check.h — the catalog's checks (check.c), shared by `catalog check`
 * (check.c) and the checks of a run (check_run.c): the kinds of problem,
 * a list of problems found, and the judges that find them.
 */
#ifndef QLOOP_CATALOG_CHECK_H
#define QLOOP_CATALOG_CHECK_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "catalog/entry.h"

enum kind { K_MISSING_ELEMENT, K_MISSING_BASIS, K_SCHEMA_DRIFT, K_STALE, K_LATE_UPDATE,
            K_UNCATALOGUED, NKINDS };

/* A kind of problem: its name ("DATASET.catalog_NAME" in a run) and the
 * dimension, severity and message of that rule. */
struct cat_kind {
    const char *name, *dimension, *severity, *message;
};

extern const struct cat_kind cat_kinds[NKINDS];

struct problem {
    enum kind kind;
    char *dataset;
    char *element;  /* the element key, or the data column */
    char *column;   /* the data column (schema_drift, late_update), or NULL */
    char *value;    /* the value in question, or NULL */
    char *message;
};

struct plist {
    struct problem *v;
    size_t n;
};

/* Frees every problem of l; l is empty afterwards. */
void cat_plist_free(struct plist *l);

/* What was judged per kind for one dataset. */
struct judged {
    bool on[NKINDS];
    int64_t checked[NKINDS];
};

/* The Shanghai civil day of a stored time text, or -1. */
int64_t cat_day_of(const char *text);

/* missing_element and missing_basis: the entry alone. */
void cat_judge_elements(const struct cat_entry *e, struct plist *l, struct judged *j);

/* In a run: the run whose drift is recorded in catalog_drift. */
struct cat_sighting {
    const char *run_id;
    const char *as_of;
};

/* schema_drift of e against columns (the JSON array of the column names a
 * run read; nothing is judged without it) and late_update of that drift on
 * judge_day. With seen (in a run), first records the drift's sightings:
 * new disagreements get the run as first sighting, resolved ones are
 * forgotten. Returns 0 or -1 with err. */
int cat_judge_columns(sqlite3 *db, const struct cat_entry *e, const char *columns,
                      int64_t judge_day, const struct cat_sighting *seen, struct plist *l,
                      struct judged *j, struct qloop_error *err);

/* stale: newest_update (the newest update time in the data) against the
 * catalog's update cycle, on judge_day. Not judged without either. */
void cat_judge_stale(const struct cat_entry *e, const char *newest_update, int64_t judge_day,
                     struct plist *l, struct judged *j);

/* uncatalogued: dataset was read but the catalog lacks it. */
void cat_judge_uncatalogued(const char *dataset, struct plist *l, struct judged *j);

#endif
