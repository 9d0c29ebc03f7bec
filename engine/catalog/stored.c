/*
 * stored.c — the catalog in the store (stored.h): its current tables, read
 * and written one dataset at a time, and the two queries over its history,
 * catalog_show (the catalog as it stood on any day, rebuilt from
 * catalog_history) and catalog_history (every import and what it changed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "catalog/catalog.h"
#include "catalog/stored.h"
#include "store/sql.h"
#include "store/store.h"


/* Appends ", "key"" for every scalar element: the columns of
 * catalog_datasets after dataset. */
static void scalar_columns(struct qloop_buf *sql)
{
    for (int el = 0; el < NELEM; el++)
        if (cat_is_scalar(el))
            qloop_buf_printf(sql, ", \"%s\"", cat_elements[el].key);
}

/* Reads the data items of e (its dataset bound to fs) in catalog order. */
static int load_fields(sqlite3 *db, sqlite3_stmt *fs, struct cat_entry *e,
                       struct qloop_error *err)
{
    sqlite3_reset(fs);
    sql_bind_text(fs, 1, e->v[E_DATASET]);
    int r;
    while ((r = sql_row(db, fs, "读取资源目录数据项", err)) == 1) {
        e->fields = qloop_xrealloc(e->fields, (e->nfields + 1) * sizeof *e->fields);
        e->fields[e->nfields++] = (struct cat_field){sql_dup(fs, 0), sql_dup(fs, 1), sql_dup(fs, 2),
                                                     sqlite3_column_int(fs, 3) != 0};
    }
    return r;
}

/* Appends the catalog in catalog_datasets to c, sorted by dataset. */
static int load(sqlite3 *db, struct catalog *c, struct qloop_error *err)
{
    struct qloop_buf sql = {0};
    qloop_buf_printf(&sql, "SELECT dataset");
    scalar_columns(&sql);
    qloop_buf_printf(&sql, " FROM catalog_datasets ORDER BY dataset");
    sqlite3_stmt *st = sql_prepare(db, sql.ptr, err);
    qloop_buf_free(&sql);
    sqlite3_stmt *fs = st ? sql_prepare(db, "SELECT name, label, type, sensitive FROM catalog_fields"
                                            " WHERE dataset = ?1 ORDER BY pos", err)
                          : NULL;
    int r = fs ? 1 : -1;
    while (r == 1 && (r = sql_row(db, st, "读取资源目录", err)) == 1) {
        struct cat_entry *e = cat_add(c);
        int col = 0;
        e->v[E_DATASET] = sql_dup(st, col++);
        for (int el = 0; el < NELEM; el++)
            if (cat_is_scalar(el))
                e->v[el] = sql_dup(st, col++);
        r = load_fields(db, fs, e, err) < 0 ? -1 : 1;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(fs);
    if (r < 0)
        cat_clear(c);
    return r < 0 ? -1 : 0;
}

int64_t cat_load_current(sqlite3 *db, struct catalog *c, struct qloop_error *err)
{
    int64_t v;
    if (sql_int64(db, "SELECT coalesce(max(version), 0) FROM catalog_versions", NULL, 0, &v,
                  err) != 0)
        return -1;
    return v > 0 && load(db, c, err) != 0 ? -1 : v;
}

/* Runs sql with ?1 bound to text to its end. */
static int exec_text(sqlite3 *db, const char *sql, const char *text, const char *what,
                     struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, text);
    int rc = sql_done(db, st, what, err);
    sqlite3_finalize(st);
    return rc;
}

/* Inserts the catalog_datasets row of e. */
static int insert_dataset(sqlite3 *db, const char *name, const struct cat_entry *e,
                          const char *added_at, const char *at, int64_t version,
                          struct qloop_error *err)
{
    struct qloop_buf sql = {0};
    qloop_buf_printf(&sql, "INSERT INTO catalog_datasets(dataset, added_at, changed_at, version");
    scalar_columns(&sql);
    qloop_buf_printf(&sql, ") VALUES(?1, ?2, ?3, ?4");
    int n = 4;
    for (int el = 0; el < NELEM; el++)
        if (cat_is_scalar(el))
            qloop_buf_printf(&sql, ", ?%d", ++n);
    qloop_buf_printf(&sql, ")");
    sqlite3_stmt *st = sql_prepare(db, sql.ptr, err);
    qloop_buf_free(&sql);
    if (!st)
        return -1;
    sql_bind_text(st, 1, name);
    sql_bind_text(st, 2, added_at);
    sql_bind_text(st, 3, at);
    sqlite3_bind_int64(st, 4, version);
    n = 4;
    for (int el = 0; el < NELEM; el++)
        if (cat_is_scalar(el))
            sql_bind_text(st, ++n, e->v[el]);
    int rc = sql_done(db, st, "写入资源目录", err);
    sqlite3_finalize(st);
    return rc;
}

/* Inserts the catalog_fields rows of e, in order. */
static int insert_fields(sqlite3 *db, const char *name, const struct cat_entry *e,
                         struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "INSERT INTO catalog_fields(dataset, name, label, type,"
                                       " sensitive, pos) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err);
    int rc = st ? 0 : -1;
    for (size_t i = 0; i < e->nfields && rc == 0; i++) {
        sql_bind_text(st, 1, name);
        sql_bind_text(st, 2, e->fields[i].name);
        sql_bind_text(st, 3, e->fields[i].label);
        sql_bind_text(st, 4, e->fields[i].type);
        sqlite3_bind_int(st, 5, e->fields[i].sensitive);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)i);
        rc = sql_done(db, st, "写入资源目录数据项", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int cat_write_entry(sqlite3 *db, const char *name, const struct cat_entry *e,
                    const char *added_at, const char *at, int64_t version,
                    struct qloop_error *err)
{
    if (exec_text(db, "DELETE FROM catalog_fields WHERE dataset = ?1", name, "写入资源目录", err) ||
        exec_text(db, "DELETE FROM catalog_datasets WHERE dataset = ?1", name, "写入资源目录", err))
        return -1;
    if (!e)
        return 0;
    if (insert_dataset(db, name, e, added_at, at, version, err) != 0)
        return -1;
    return insert_fields(db, name, e, err);
}

int cat_added_at(sqlite3 *db, const char *name, char **out, struct qloop_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = sql_prepare(db, "SELECT added_at FROM catalog_datasets WHERE dataset = ?1",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, name);
    int r = sql_row(db, st, "读取资源目录", err);
    if (r == 1)
        *out = sql_dup(st, 0);
    sqlite3_finalize(st);
    return r < 0 ? -1 : 0;
}

/* ---- show and history ---- */

/* The version of the catalog at cutoff (0: none yet) and its header
 * {"version", "imported_at", "actor", "file"} in o. */
static int show_version(sqlite3 *db, const char *cutoff, json_t *o, int64_t *version,
                        struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "SELECT version, at, actor, file FROM catalog_versions"
                                       " WHERE at < ?1 ORDER BY version DESC LIMIT 1", err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, cutoff);
    int r = sql_row(db, st, "读取资源目录版本", err);
    *version = r == 1 ? sqlite3_column_int64(st, 0) : 0;
    if (r == 1) {
        json_object_set_new(o, "version", json_integer(*version));
        json_object_set_new(o, "imported_at", cat_jstr(sql_text(st, 1)));
        json_object_set_new(o, "actor", cat_jstr(sql_text(st, 2)));
        json_object_set_new(o, "file", cat_jstr(sql_text(st, 3)));
    } else {
        json_object_set_new(o, "version", json_null());
        json_object_set_new(o, "imported_at", json_null());
    }
    sqlite3_finalize(st);
    return r < 0 ? -1 : 0;
}

/* Appends to list each dataset (only dataset when not NULL) as it stood in
 * version: its latest history entry up to it, unless that removed it. */
static int show_entries(sqlite3 *db, const char *dataset, int64_t version, json_t *list,
                        struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "SELECT h.op, h.entry FROM catalog_history h"
                                       " WHERE h.version = (SELECT max(version) FROM catalog_history x"
                                       " WHERE x.dataset = h.dataset AND x.version <= ?1)"
                                       " AND (?2 IS NULL OR h.dataset = ?2) ORDER BY h.dataset", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version);
    sql_bind_text(st, 2, dataset);
    int r;
    while ((r = sql_row(db, st, "读取资源目录历史", err)) == 1) {
        const char *op = sql_text(st, 0), *entry = sql_text(st, 1);
        json_t *e = entry && op && strcmp(op, "remove") != 0 ? json_loads(entry, 0, NULL) : NULL;
        if (e)
            json_array_append_new(list, e);
    }
    sqlite3_finalize(st);
    return r;
}

int catalog_show(sqlite3 *db, const char *dataset, const char *as_of, json_t **out,
                 struct qloop_error *err)
{
    *out = NULL;
    char cutoff[32] = "9999-12-31T23:59:59+08:00";
    if (as_of) {
        int64_t t;
        if (!qloop_parse_datetime(as_of, &t))
            return qloop_error_set(err, NULL, 0, 0,
                                   "--as-of 的时间无法识别：\"%s\"；请写成 YYYY-MM-DD 或 2024-09-27T10:00:00+08:00",
                                   as_of);
        /* A bare date means the whole day; a time, up to and including it. */
        qloop_format_datetime(strlen(as_of) == 10 ? t + 86400 : t + 1, cutoff);
    }
    json_t *o = json_object();
    int64_t version;
    int rc = show_version(db, cutoff, o, &version, err);
    json_object_set_new(o, "as_of", as_of ? json_string(as_of) : json_null());
    json_t *list = json_array();
    json_object_set_new(o, "datasets", list);
    if (rc == 0)
        rc = show_entries(db, dataset, version, list, err);
    if (rc != 0) {
        json_decref(o);
        return -2;
    }
    *out = o;
    return 0;
}

/* The changes of one import (version) to dataset (all when NULL), as one
 * array in *changes. */
static int version_changes(sqlite3 *db, sqlite3_stmt *hs, int64_t version, const char *dataset,
                           json_t **changes, struct qloop_error *err)
{
    *changes = json_array();
    sqlite3_reset(hs);
    sqlite3_bind_int64(hs, 1, version);
    sql_bind_text(hs, 2, dataset);
    int r;
    while ((r = sql_row(db, hs, "读取资源目录历史", err)) == 1) {
        const char *text = sql_text(hs, 0);
        json_t *c = text ? json_loads(text, 0, NULL) : NULL;
        if (json_is_array(c))
            json_array_extend(*changes, c);
        json_decref(c);
    }
    return r;
}

/* One import's object of catalog_history from a row of catalog_versions. */
static json_t *version_json(sqlite3_stmt *st, json_t *changes)
{
    const char *at = sql_text(st, 1);
    json_t *v = json_object();
    json_object_set_new(v, "version", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(v, "at", cat_jstr(at));
    json_object_set_new(v, "date", at ? json_stringn(at, strlen(at) >= 10 ? 10 : strlen(at))
                                      : json_null());
    json_object_set_new(v, "actor", cat_jstr(sql_text(st, 2)));
    json_object_set_new(v, "file", cat_jstr(sql_text(st, 3)));
    static const char *const counts[] = {"datasets", "added", "changed", "removed"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(v, counts[i], json_integer(sqlite3_column_int64(st, 4 + i)));
    json_object_set_new(v, "changes", changes);
    return v;
}

int catalog_history(sqlite3 *db, const char *dataset, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = sql_prepare(db, "SELECT version, at, actor, file, datasets, added, changed,"
                                       " removed FROM catalog_versions ORDER BY version", err);
    sqlite3_stmt *hs = st ? sql_prepare(db, "SELECT changes FROM catalog_history WHERE version = ?1"
                                            " AND (?2 IS NULL OR dataset = ?2) ORDER BY dataset", err)
                          : NULL;
    json_t *list = json_array();
    int r = hs ? 1 : -1;
    while (r == 1 && (r = sql_row(db, st, "读取资源目录历史", err)) == 1) {
        json_t *changes;
        r = version_changes(db, hs, sqlite3_column_int64(st, 0), dataset, &changes, err) < 0 ? -1 : 1;
        if (r < 0 || (dataset && json_array_size(changes) == 0))
            json_decref(changes);
        else
            json_array_append_new(list, version_json(st, changes));
    }
    sqlite3_finalize(st);
    sqlite3_finalize(hs);
    if (r < 0) {
        json_decref(list);
        return -2;
    }
    *out = list;
    return 0;
}
