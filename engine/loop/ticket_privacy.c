/*
 * ticket_privacy.c — what the closed loop knows of a dataset's personal
 * data, and the masking of the free text people write into tickets.
 *
 * A report filed by hand or by interface quotes a record (its key, the value
 * of a field) and says what is wrong in free text; staff and providers add
 * notes and reasons. None of that may enter the store in clear. What is
 * sensitive is what the dataset declares: its rule pack's `sensitive` list
 * as the latest run that read it recorded (run_datasets.sensitive, with its
 * key fields), and the catalog's 敏感数据项 (catalog_fields.sensitive). A
 * dataset the store knows no declaration for is treated as all sensitive.
 * Free text is masked by shape and by the sensitive values it may quote
 * (checks/mask.h: mask_text).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "loop/ticket_private.h"

/* Adds name[0..len) to the list (no duplicates). */
static void add_name(char ***list, size_t *n, const char *name, size_t len)
{
    while (len > 0 && (*name == ' ' || *name == '\t'))
        name++, len--;
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strlen((*list)[i]) == len && memcmp((*list)[i], name, len) == 0)
            return;
    *list = qloop_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = qloop_xstrndup(name, len);
}

/* Adds every string of the JSON array text (NULL: nothing) to the list. */
static void add_json_names(char ***list, size_t *n, const char *text)
{
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v))
            add_name(list, n, json_string_value(v), json_string_length(v));
    }
    json_decref(a);
}

/* Adds the names of a catalog key ("a", "a,b", "a|b", "a、b"). */
static void add_key_names(struct tk_privacy *pv, const char *key)
{
    const char *p = key;
    while (p && *p) {
        size_t len = strcspn(p, ",|");
        const char *dun = strstr(p, "、");
        if (dun && (size_t)(dun - p) < len)
            len = (size_t)(dun - p);
        add_name(&pv->keys, &pv->nkeys, p, len);
        p += len;
        if (*p == ',' || *p == '|')
            p++;
        else if (strncmp(p, "、", strlen("、")) == 0)
            p += strlen("、");
    }
}

int tk_dataset_privacy(sqlite3 *db, const char *dataset, struct tk_privacy *pv,
                       struct qloop_error *err)
{
    memset(pv, 0, sizeof *pv);
    const char *const arg[] = {dataset};
    /* The latest run that recorded the pack's declarations. */
    sqlite3_stmt *st = sql_prepare_texts(
        db,
        "SELECT d.sensitive, d.key_fields FROM run_datasets d JOIN runs r ON r.id = d.run_id"
        " WHERE d.dataset = ?1 AND d.sensitive IS NOT NULL"
        " ORDER BY r.as_of DESC, r.started_at DESC LIMIT 1",
        1, arg, err);
    if (!st)
        return -2;
    int rc = sql_row(db, st, "读取数据集的敏感字段", err);
    if (rc == 1) {
        pv->known = true;
        add_json_names(&pv->sensitive, &pv->nsensitive, sql_text(st, 0));
        add_json_names(&pv->keys, &pv->nkeys, sql_text(st, 1));
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    /* The catalog's. */
    st = sql_prepare_texts(db,
                           "SELECT f.name, f.sensitive, d.\"key\" FROM catalog_datasets d"
                           " LEFT JOIN catalog_fields f ON f.dataset = d.dataset"
                           " WHERE d.dataset = ?1",
                           1, arg, err);
    if (!st)
        return -2;
    while ((rc = sql_row(db, st, "读取资源目录的敏感数据项", err)) == 1) {
        pv->known = true;
        const char *name = sql_text(st, 0);
        if (name && sqlite3_column_int(st, 1))
            add_name(&pv->sensitive, &pv->nsensitive, name, strlen(name));
        if (sql_text(st, 2))
            add_key_names(pv, sql_text(st, 2));
    }
    sqlite3_finalize(st);
    return rc < 0 ? -2 : 0;
}

bool tk_field_sensitive(const struct tk_privacy *pv, const char *field)
{
    if (!pv->known)
        return true;
    for (size_t i = 0; field && i < pv->nsensitive; i++)
        if (strcmp(pv->sensitive[i], field) == 0)
            return true;
    return false;
}

bool tk_key_sensitive(const struct tk_privacy *pv)
{
    if (!pv->known || pv->nkeys == 0)
        return true;
    for (size_t i = 0; i < pv->nkeys; i++)
        if (tk_field_sensitive(pv, pv->keys[i]))
            return true;
    return false;
}

void tk_privacy_free(struct tk_privacy *pv)
{
    for (size_t i = 0; i < pv->nsensitive; i++)
        free(pv->sensitive[i]);
    for (size_t i = 0; i < pv->nkeys; i++)
        free(pv->keys[i]);
    free(pv->sensitive);
    free(pv->keys);
    memset(pv, 0, sizeof *pv);
}

const char *tk_mask_text(const char *s, const struct mask_value *values, size_t n,
                         struct qloop_buf *out)
{
    if (!s)
        return NULL;
    qloop_buf_reset(out);
    mask_text(s, strlen(s), values, n, out);
    return qloop_buf_str(out);
}
