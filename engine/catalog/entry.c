/*
 * entry.c — the catalog's model (entry.h): the fifteen elements of a catalog
 * entry (资源目录要素) with their Chinese names and codes, entries and
 * catalogs in memory, splitting the lists staff write in one cell, and the
 * canonical JSON of an entry. Also the two public name lookups of catalog.h.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/entry.h"

static const struct cat_code share_codes[] = {
    {"unconditional", "无条件共享", NULL},
    {"conditional", "受限共享", "有条件共享"},
    {"none", "不予共享", NULL},
    {NULL, NULL, NULL},
};
static const struct cat_code open_codes[] = {
    {"unconditional", "无条件开放", NULL},
    {"conditional", "有条件开放", "受限开放"},
    {"forbidden", "禁止开放", "不予开放"},
    {NULL, NULL, NULL},
};
static const struct cat_code provision_codes[] = {
    {"api", "接口共享", NULL},
    {"exchange", "交换共享", NULL},
    {"platform", "平台分析", NULL},
    {NULL, NULL, NULL},
};
static const struct cat_code cycle_codes[] = {
    {"realtime", "实时", NULL},   {"daily", "每日", "每天"},      {"weekly", "每周", NULL},
    {"monthly", "每月", NULL},    {"quarterly", "每季度", "每季"}, {"yearly", "每年", NULL},
    {NULL, NULL, NULL},
};

const struct cat_element cat_elements[NELEM] = {
    [E_DATASET] = {"dataset", "数据集标识", NULL, false},
    [E_TITLE] = {"title", "业务名称", NULL, true},
    [E_SYSTEM] = {"system", "信息系统名称", NULL, true},
    [E_OWNER] = {"owner", "数源部门", NULL, true},
    [E_FIELDS] = {"fields", "数据项", NULL, true},
    [E_FORMAT] = {"format", "存储格式", NULL, true},
    [E_SHARE] = {"share", "共享属性", share_codes, true},
    [E_SHARE_BASIS] = {"share_basis", "共享依据", NULL, false},
    [E_OPEN] = {"open", "开放属性", open_codes, true},
    [E_OPEN_BASIS] = {"open_basis", "开放依据", NULL, false},
    [E_PROVISION] = {"provision", "提供方式", provision_codes, true},
    [E_UPDATE_CYCLE] = {"update_cycle", "更新周期", cycle_codes, true},
    [E_SHARE_PERIOD] = {"share_period", "共享期限", NULL, true},
    [E_SENSITIVE] = {"sensitive", "敏感数据项", NULL, false},
    [E_KEY] = {"key", "键", NULL, false},
};

bool cat_is_scalar(int el)
{
    return el != E_DATASET && el != E_FIELDS && el != E_SENSITIVE;
}

int cat_element_by_key(const char *key)
{
    for (int i = 0; i < NELEM; i++)
        if (strcmp(cat_elements[i].key, key) == 0)
            return i;
    return -1;
}

const char *catalog_element_zh(const char *key)
{
    int el = key ? cat_element_by_key(key) : -1;
    return el >= 0 ? cat_elements[el].zh : key;
}

const char *catalog_code_zh(const char *element, const char *code)
{
    int el = element ? cat_element_by_key(element) : -1;
    if (el < 0 || !cat_elements[el].codes || !code)
        return code;
    for (const struct cat_code *c = cat_elements[el].codes; c->code; c++)
        if (strcmp(c->code, code) == 0)
            return c->zh;
    return code;
}

/* ---- entries ---- */

/* Frees what e holds and zeroes it. */
static void entry_free(struct cat_entry *e)
{
    for (int i = 0; i < NELEM; i++)
        free(e->v[i]);
    for (size_t i = 0; i < e->nfields; i++) {
        free(e->fields[i].name);
        free(e->fields[i].label);
        free(e->fields[i].type);
    }
    free(e->fields);
    cat_free_list(e->sens, e->nsens);
    memset(e, 0, sizeof *e);
}

void cat_clear(struct catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_free(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

struct cat_entry *cat_add(struct catalog *c)
{
    c->v = qloop_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
    memset(&c->v[c->n], 0, sizeof *c->v);
    return &c->v[c->n++];
}

struct cat_entry *cat_find(const struct catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].v[E_DATASET], name) == 0)
            return &c->v[i];
    return NULL;
}

/* qsort order of entries: by dataset name. */
static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct cat_entry *)a)->v[E_DATASET],
                  ((const struct cat_entry *)b)->v[E_DATASET]);
}

void cat_sort(struct catalog *c)
{
    if (c->n)
        qsort(c->v, c->n, sizeof *c->v, cmp_entry);
}

struct cat_field *cat_entry_field(const struct cat_entry *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i].name, name) == 0)
            return &e->fields[i];
    return NULL;
}

bool cat_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- text ---- */

size_t cat_space_at(const char *s, size_t len)
{
    if (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        return 1;
    if (len >= 3 && (unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
        (unsigned char)s[2] == 0x80)
        return 3;
    return 0;
}

char *cat_trim(const char *s, size_t len)
{
    size_t n;
    while ((n = cat_space_at(s, len)) != 0)
        s += n, len -= n;
    while (len) {
        if (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n')
            len--;
        else if (len >= 3 && (unsigned char)s[len - 3] == 0xE3 &&
                 (unsigned char)s[len - 2] == 0x80 && (unsigned char)s[len - 1] == 0x80)
            len -= 3;
        else
            break;
    }
    return len ? qloop_xstrndup(s, len) : NULL;
}

const char *const cat_item_seps[] = {";", "\xEF\xBC\x9B" /* ； */, "\n", NULL};
const char *const cat_part_seps[] = {":", "\xEF\xBC\x9A" /* ： */, NULL};
const char *const cat_name_seps[] = {";", "\xEF\xBC\x9B", ",", "\xEF\xBC\x8C" /* ， */,
                                     "\xE3\x80\x81" /* 、 */, "\n", NULL};

/* The length of the separator of seps that s starts with, or 0. */
static size_t sep_at(const char *s, const char *const *seps)
{
    for (size_t i = 0; seps[i]; i++) {
        size_t n = strlen(seps[i]);
        if (strncmp(s, seps[i], n) == 0)
            return n;
    }
    return 0;
}

size_t cat_split(const char *s, const char *const *seps, bool keep_empty, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    const char *start = s;
    for (const char *p = s;; ) {
        size_t k = *p ? sep_at(p, seps) : 0;
        if (*p && !k) {
            p++;
            continue;
        }
        char *part = cat_trim(start, (size_t)(p - start));
        if (part || keep_empty) {
            v = qloop_xrealloc(v, (n + 1) * sizeof *v);
            v[n++] = part ? part : qloop_xstrdup("");
        }
        if (!*p)
            break;
        p += k;
        start = p;
    }
    *out = v;
    return n;
}

void cat_free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- canonical JSON of an entry ---- */

json_t *cat_jstr(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

json_t *cat_field_json(const struct cat_field *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", cat_jstr(f->name));
    json_object_set_new(o, "label", cat_jstr(f->label));
    json_object_set_new(o, "type", cat_jstr(f->type));
    json_object_set_new(o, "sensitive", json_boolean(f->sensitive));
    return o;
}

json_t *cat_entry_json(const struct cat_entry *e)
{
    json_t *o = json_object();
    for (int el = 0; el < NELEM; el++) {
        if (el == E_SENSITIVE)
            continue;
        if (el == E_FIELDS) {
            json_t *a = json_array();
            for (size_t i = 0; i < e->nfields; i++)
                json_array_append_new(a, cat_field_json(&e->fields[i]));
            json_object_set_new(o, "fields", a);
        } else {
            json_object_set_new(o, cat_elements[el].key, cat_jstr(e->v[el]));
        }
    }
    return o;
}

char *cat_dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    return qloop_xcheck(s);
}
