/*
 * catalog_helpers.h — what the catalog's unit tests (test_catalog.c,
 * test_catalog_checks.c) share: a temporary folder for catalog files,
 * importing text as a catalog file (read by the CSV adapter, as the command
 * line does), and the CSV header of every element. Included after cmocka's
 * headers and store_helpers.h; everything here is static or static inline.
 */
#ifndef QLOOP_TEST_CATALOG_HELPERS_H
#define QLOOP_TEST_CATALOG_HELPERS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"
#include "catalog/catalog.h"

#define HDR "数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限,敏感数据项,键\n"

static char tmpdir[64];

/* Writes text to tmpdir/name; returns the path (static, 4 in rotation). */
static inline const char *write_file(const char *name, const char *text)
{
    static char paths[4][256];
    static int k;
    char *path = paths[k++ % 4];
    snprintf(path, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Imports the file name holding text, declared in encoding (NULL: UTF-8);
 * returns catalog_import's result, the summary in *summary. */
static inline int import_as(sqlite3 *db, const char *name, const char *text,
                            const char *encoding, json_t **summary, struct qloop_error *err)
{
    qloop_error_clear(err);
    struct catalog_file file = {write_file(name, text), encoding, qloop_adapter_find};
    return catalog_import(db, &file, "测试员", summary, err);
}

/* Imports text declared in encoding, failing the test on error; returns the
 * summary. */
static inline json_t *import_enc(sqlite3 *db, const char *name, const char *text,
                                 const char *encoding)
{
    struct qloop_error err;
    json_t *summary = NULL;
    if (import_as(db, name, text, encoding, &summary, &err) != 0)
        fail_msg("import %s: %s:%ld: %s", name, err.file, err.line, err.message);
    assert_non_null(summary);
    return summary;
}

static inline json_t *import_ok(sqlite3 *db, const char *name, const char *text)
{
    return import_enc(db, name, text, NULL);
}

/* Imports text (declared in encoding) that must be refused; returns the error. */
static inline struct qloop_error import_bad_enc(sqlite3 *db, const char *name,
                                                const char *text, const char *encoding)
{
    struct qloop_error err;
    json_t *summary = (json_t *)1;
    if (import_as(db, name, text, encoding, &summary, &err) == 0)
        fail_msg("import of %s should have failed", name);
    assert_null(summary);
    assert_true(err.message[0] != '\0');
    assert_non_null(strstr(err.file, name));
    return err;
}

static inline struct qloop_error import_bad(sqlite3 *db, const char *name, const char *text)
{
    return import_bad_enc(db, name, text, NULL);
}

/* catalog_show, failing the test on error. */
static inline json_t *show(sqlite3 *db, const char *dataset, const char *as_of)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *out;
    if (catalog_show(db, dataset, as_of, &out, &err) != 0)
        fail_msg("catalog_show: %s", err.message);
    return out;
}

/* The first dataset catalog_show gives (a new reference), or NULL. */
static inline json_t *show_entry(sqlite3 *db, const char *dataset, const char *as_of)
{
    json_t *o = show(db, dataset, as_of);
    json_t *e = json_incref(json_array_get(json_object_get(o, "datasets"), 0));
    json_decref(o);
    return e;
}

static inline const char *jget(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* cmocka group setup: a new temporary folder, the clock at 2024-09-02. */
static inline int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qloop_catalog_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    set_now("2024-09-02T10:00:00+08:00");
    return 0;
}

/* cmocka group teardown: removes the temporary folder. */
static inline int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
