/*
 * import.c — importing a catalog file: catalog_import.
 *
 * The file is read and checked whole first (read.c). Importing is then a
 * diff against the catalog in the store, inside one transaction (or a
 * savepoint in the caller's): each added, changed or removed dataset, and
 * each added, changed or removed data item of a dataset that stays, is one
 * audit entry (catalog.add / catalog.change / catalog.remove, subject
 * "catalog:DATASET", detail {date, version, dataset, [field], before,
 * after}), and each dataset that changed gets one row of catalog_history
 * holding its whole entry after the import, so the catalog as it stood on
 * any day can be rebuilt (stored.c). The import itself is a row of
 * catalog_versions and a catalog.import audit entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "catalog/catalog.h"
#include "catalog/read.h"
#include "catalog/stored.h"
#include "identity/authz.h"
#include "identity/identity.h"
#include "store/audit.h"
#include "store/sql.h"
#include "store/store.h"

struct import_ctx {
    sqlite3 *db;
    const char *actor;
    const char *path;
    int64_t version;
    char at[32], date[11];
    json_t *changes;                  /* every element-level change, for the summary */
    json_t *added, *changed, *removed; /* dataset names */
    struct qloop_error *err;
};

/* Appends one catalog audit entry; detail (a JSON object, stolen) gets the
 * date, the version and the dataset in front. */
static int audit_catalog(struct import_ctx *x, const char *kind, const char *dataset,
                         json_t *detail)
{
    json_t *d = json_object();
    json_object_set_new(d, "date", json_string(x->date));
    json_object_set_new(d, "version", json_integer(x->version));
    json_object_set_new(d, "dataset", json_string(dataset));
    json_object_update(d, detail);
    json_decref(detail);
    char *text = cat_dump(d);
    json_decref(d);
    char subject[600];
    snprintf(subject, sizeof subject, "catalog:%s", dataset);
    int rc = audit_append(x->db, kind, subject, x->actor, text, x->err);
    free(text);
    return rc;
}

/* One change record: {"dataset", "op", ["element"|"field"], "before",
 * "after"}; before and after (may be NULL for null) are stolen. */
static json_t *change(const char *dataset, const char *op, const char *what_key,
                      const char *what, json_t *before, json_t *after)
{
    json_t *c = json_object();
    json_object_set_new(c, "dataset", json_string(dataset));
    json_object_set_new(c, "op", json_string(op));
    if (what_key)
        json_object_set_new(c, what_key, json_string(what));
    json_object_set_new(c, "before", before ? before : json_null());
    json_object_set_new(c, "after", after ? after : json_null());
    return c;
}

/* Writes the catalog_history row of dataset for this version: op, the whole
 * entry after it (NULL when removed) and its changes; and adds the changes
 * to the import's. */
static int write_history(struct import_ctx *x, const char *dataset, const char *op,
                         const struct cat_entry *after, json_t *changes)
{
    json_array_extend(x->changes, changes);
    sqlite3_stmt *st = sql_prepare(x->db, "INSERT INTO catalog_history(version, dataset, op,"
                                          " entry, changes) VALUES(?1, ?2, ?3, ?4, ?5)", x->err);
    if (!st)
        return -1;
    char *entry = NULL;
    if (after) {
        json_t *j = cat_entry_json(after);
        entry = cat_dump(j);
        json_decref(j);
    }
    char *ch = cat_dump(changes);
    sqlite3_bind_int64(st, 1, x->version);
    sql_bind_text(st, 2, dataset);
    sql_bind_text(st, 3, op);
    sql_bind_text(st, 4, entry);
    sql_bind_text(st, 5, ch);
    int rc = sql_done(x->db, st, "写入资源目录历史", x->err);
    sqlite3_finalize(st);
    free(entry);
    free(ch);
    return rc;
}

/* The scalar elements that differ between old and now: one change record
 * each in changes, one catalog.change audit entry for them all. */
static int diff_scalars(struct import_ctx *x, const struct cat_entry *old,
                        const struct cat_entry *now, json_t *changes)
{
    const char *name = now->v[E_DATASET];
    json_t *before = json_object(), *after = json_object();
    for (int el = 0; el < NELEM; el++) {
        if (!cat_is_scalar(el) || cat_str_eq(old->v[el], now->v[el]))
            continue;
        json_object_set_new(before, cat_elements[el].key, cat_jstr(old->v[el]));
        json_object_set_new(after, cat_elements[el].key, cat_jstr(now->v[el]));
        json_array_append_new(changes, change(name, "change", "element", cat_elements[el].key,
                                              cat_jstr(old->v[el]), cat_jstr(now->v[el])));
    }
    int rc = 0;
    if (json_object_size(before))
        rc = audit_catalog(x, "catalog.change", name,
                           json_pack("{s:O, s:O}", "before", before, "after", after));
    json_decref(before);
    json_decref(after);
    return rc;
}

/* One data item added (of NULL), changed, or removed (nf NULL): a change
 * record in changes and an audit entry. */
static int diff_field(struct import_ctx *x, const char *name, const struct cat_field *of,
                      const struct cat_field *nf, json_t *changes)
{
    const char *op = !of ? "add" : !nf ? "remove" : "change";
    const char *field = nf ? nf->name : of->name;
    json_t *b = of ? cat_field_json(of) : json_null(), *a = nf ? cat_field_json(nf) : json_null();
    json_array_append_new(changes, change(name, op, "field", field, json_incref(b), json_incref(a)));
    char kind[32];
    snprintf(kind, sizeof kind, "catalog.%s", op);
    return audit_catalog(x, kind, name,
                         json_pack("{s:s, s:o, s:o}", "field", field, "before", b, "after", a));
}

/* The data items added, changed and removed between old and now. */
static int diff_fields(struct import_ctx *x, const struct cat_entry *old,
                       const struct cat_entry *now, json_t *changes)
{
    const char *name = now->v[E_DATASET];
    int rc = 0;
    for (size_t i = 0; i < now->nfields && rc == 0; i++) {
        const struct cat_field *nf = &now->fields[i];
        const struct cat_field *of = cat_entry_field(old, nf->name);
        if (!of || !cat_str_eq(of->label, nf->label) || !cat_str_eq(of->type, nf->type) ||
            of->sensitive != nf->sensitive)
            rc = diff_field(x, name, of, nf, changes);
    }
    for (size_t i = 0; i < old->nfields && rc == 0; i++)
        if (!cat_entry_field(now, old->fields[i].name))
            rc = diff_field(x, name, &old->fields[i], NULL, changes);
    return rc;
}

/* A dataset present before and after: audits what changed and, when
 * anything did, rewrites its rows and history. */
static int diff_entry(struct import_ctx *x, const struct cat_entry *old,
                      const struct cat_entry *now)
{
    const char *name = now->v[E_DATASET];
    json_t *changes = json_array();
    int rc = diff_scalars(x, old, now, changes);
    if (rc == 0)
        rc = diff_fields(x, old, now, changes);
    if (rc == 0 && json_array_size(changes) > 0) {
        char *added;
        rc = cat_added_at(x->db, name, &added, x->err);
        if (rc == 0)
            rc = cat_write_entry(x->db, name, now, added ? added : x->at, x->at, x->version, x->err);
        free(added);
        if (rc == 0)
            rc = write_history(x, name, "change", now, changes);
        json_array_append_new(x->changed, json_string(name));
    }
    json_decref(changes);
    return rc;
}

/* A dataset this import adds (op "add", e the new entry) or drops
 * ("remove", e the old one): audit, tables, history. */
static int whole_entry(struct import_ctx *x, const char *op, const struct cat_entry *e)
{
    bool add = strcmp(op, "add") == 0;
    const char *name = e->v[E_DATASET];
    json_t *j = cat_entry_json(e);
    json_t *changes = json_array();
    json_array_append_new(changes, change(name, op, NULL, NULL, add ? NULL : json_incref(j),
                                          add ? json_incref(j) : NULL));
    json_t *d = add ? json_pack("{s:n, s:O}", "before", "after", j)
                    : json_pack("{s:O, s:n}", "before", j, "after");
    int rc = audit_catalog(x, add ? "catalog.add" : "catalog.remove", name, d);
    json_decref(j);
    if (rc == 0)
        rc = cat_write_entry(x->db, name, add ? e : NULL, x->at, x->at, x->version, x->err);
    if (rc == 0)
        rc = write_history(x, name, op, add ? e : NULL, changes);
    json_decref(changes);
    json_array_append_new(add ? x->added : x->removed, json_string(name));
    return rc;
}

/* Starts the import's own transaction, or a savepoint inside the caller's. */
static int tx_begin(sqlite3 *db, bool *nested, struct qloop_error *err)
{
    *nested = !sqlite3_get_autocommit(db);
    if (*nested)
        return store_exec(db, "SAVEPOINT catalog_import", err);
    return store_begin(db, err);
}

/* Commits (ok) or rolls back what tx_begin started; 0 only when committed. */
static int tx_end(sqlite3 *db, bool nested, bool ok, struct qloop_error *err)
{
    if (nested) {
        if (ok)
            return store_exec(db, "RELEASE catalog_import", err);
        sqlite3_exec(db, "ROLLBACK TO catalog_import; RELEASE catalog_import", NULL, NULL, NULL);
        return -1;
    }
    if (ok)
        return store_commit(db, err);
    store_rollback(db);
    return -1;
}

/* The row of catalog_versions for this import (counts filled in later). */
static int version_begin(struct import_ctx *x, size_t ndatasets)
{
    sqlite3_stmt *st = sql_prepare(x->db, "INSERT INTO catalog_versions(version, at, actor, file,"
                                          " datasets, added, changed, removed)"
                                          " VALUES(?1, ?2, ?3, ?4, ?5, 0, 0, 0)", x->err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, x->version);
    sql_bind_text(st, 2, x->at);
    sql_bind_text(st, 3, x->actor);
    sql_bind_text(st, 4, x->path);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)ndatasets);
    int rc = sql_done(x->db, st, "写入资源目录版本", x->err);
    sqlite3_finalize(st);
    return rc;
}

/* Every dataset of now against old: added, changed (or not), removed. */
static int apply_diff(struct import_ctx *x, const struct catalog *old, const struct catalog *now)
{
    int rc = 0;
    for (size_t i = 0; i < now->n && rc == 0; i++) {
        const struct cat_entry *o = cat_find(old, now->v[i].v[E_DATASET]);
        rc = o ? diff_entry(x, o, &now->v[i]) : whole_entry(x, "add", &now->v[i]);
    }
    for (size_t i = 0; i < old->n && rc == 0; i++)
        if (!cat_find(now, old->v[i].v[E_DATASET]))
            rc = whole_entry(x, "remove", &old->v[i]);
    return rc;
}

/* Every 数源部门 the catalog names is a registered department (registered,
 * and audited, the first time one is seen). */
static int register_owners(struct import_ctx *x, const struct catalog *now)
{
    for (size_t i = 0; i < now->n; i++) {
        const char *owner = now->v[i].v[E_OWNER];
        if (owner && *owner && ident_dept_ensure(x->db, owner, "catalog", x->actor, NULL, x->err) != 0)
            return -1;
    }
    return 0;
}

/* The counts of this import in catalog_versions and its catalog.import
 * audit entry. */
static int version_finish(struct import_ctx *x, size_t ndatasets)
{
    json_int_t added = (json_int_t)json_array_size(x->added);
    json_int_t changed = (json_int_t)json_array_size(x->changed);
    json_int_t removed = (json_int_t)json_array_size(x->removed);
    sqlite3_stmt *st = sql_prepare(x->db, "UPDATE catalog_versions SET added = ?2, changed = ?3,"
                                          " removed = ?4 WHERE version = ?1", x->err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, x->version);
    sqlite3_bind_int64(st, 2, added);
    sqlite3_bind_int64(st, 3, changed);
    sqlite3_bind_int64(st, 4, removed);
    int rc = sql_done(x->db, st, "写入资源目录版本", x->err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    json_t *d = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "date", x->date, "version",
                          (json_int_t)x->version, "file", x->path, "datasets",
                          (json_int_t)ndatasets, "added", added, "changed", changed, "removed",
                          removed);
    char *text = cat_dump(d);
    json_decref(d);
    rc = audit_append(x->db, "catalog.import", "catalog", x->actor, text, x->err);
    free(text);
    return rc;
}

int catalog_import(sqlite3 *db, const struct catalog_file *file, const char *actor,
                   json_t **diff_summary, struct qloop_error *err)
{
    if (diff_summary)
        *diff_summary = NULL;
    /* Who imports: the one authorisation function decides (a store with
     * users: a steward, an admin or a system). */
    struct ident_actor who;
    if (ident_actor_resolve(db, actor && *actor ? actor : "system", &who, err) != 0 ||
        ident_require(&who, IDENT_IMPORT, NULL, "导入资源目录", err) != 0)
        return -1;
    struct catalog now = {0}, old = {0};
    if (cat_read_file(file, &now, err) != 0)
        return -1;
    bool nested;
    if (tx_begin(db, &nested, err) != 0) {
        cat_clear(&now);
        return -1;
    }
    struct import_ctx x = {.db = db, .actor = actor && *actor ? actor : "system",
                           .path = file->path, .err = err, .changes = json_array(),
                           .added = json_array(), .changed = json_array(), .removed = json_array()};
    int64_t t = qloop_now();
    qloop_format_datetime(t, x.at);
    qloop_format_date(t, x.date);
    int64_t prev = cat_load_current(db, &old, err);
    int rc = prev < 0 ? -1 : 0;
    x.version = prev + 1;
    if (rc == 0)
        rc = version_begin(&x, now.n);
    if (rc == 0)
        rc = apply_diff(&x, &old, &now);
    if (rc == 0)
        rc = register_owners(&x, &now);
    if (rc == 0)
        rc = version_finish(&x, now.n);
    json_t *summary = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "version",
                                (json_int_t)x.version, "at", x.at, "date", x.date, "actor",
                                x.actor, "file", x.path, "datasets", (json_int_t)now.n, "added",
                                x.added, "changed", x.changed, "removed", x.removed, "changes",
                                x.changes);
    cat_clear(&now);
    cat_clear(&old);
    if (tx_end(db, nested, rc == 0, err) != 0) {
        json_decref(summary);
        return -1;
    }
    if (diff_summary)
        *diff_summary = summary;
    else
        json_decref(summary);
    return 0;
}
