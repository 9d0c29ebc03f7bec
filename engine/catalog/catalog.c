/*
 * catalog.c — the resource catalog (目录): import, history, merge, checks.
 *
 * A catalog file (CSV with the Chinese headers staff keep in spreadsheets, or
 * JSON {"datasets": [...]} with the English keys of docs/catalog.md) is
 * parsed and validated whole before anything is written. Importing is a diff
 * against the catalog in the store: each added, changed or removed dataset,
 * and each added, changed or removed data item of a dataset that stays, is
 * one audit entry (catalog.add / catalog.change / catalog.remove, subject
 * "catalog:DATASET", detail {date, version, dataset, [field], before, after}),
 * and one row of catalog_history holding the dataset's whole entry after the
 * import, so the catalog as it stood on any day can be rebuilt.
 *
 * Tables (migration applied by store.c):
 *   catalog_versions  one row per import (version, at, actor, file, counts)
 *   catalog_datasets  the current catalog, one row per dataset
 *   catalog_fields    its data items (数据项), in catalog order
 *   catalog_history   per import and changed dataset: op, entry after, changes
 *   catalog_drift     columns in which a dataset's data and its catalog
 *                     entry disagree, with the run that first saw it (for
 *                     late_update, 温州 第十一条)
 *
 * Checks: missing_element (宁波 第十条 plus the provider), missing_basis
 * (温州 第十五条, 第二十八条; 宁波 第十六条), schema_drift, stale,
 * late_update (5 working days) and uncatalogued. In a run each problem is a
 * finding of rule "DATASET.catalog_KIND" whose record key is
 * "catalog:KIND:ELEMENT", so it enters the closed loop for the provider and
 * keeps one identity from run to run.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "base/buf.h"
#include "checks/calendar.h"
#include "catalog/catalog.h"
#include "base/clock.h"
#include "store/store.h"

/* ---- the elements of a catalog entry ---- */

enum elem {
    E_DATASET, E_TITLE, E_SYSTEM, E_OWNER, E_FIELDS, E_FORMAT, E_SHARE, E_SHARE_BASIS,
    E_OPEN, E_OPEN_BASIS, E_PROVISION, E_UPDATE_CYCLE, E_SHARE_PERIOD, E_SENSITIVE, E_KEY,
    NELEM
};

struct code {
    const char *code; /* stored, English */
    const char *zh;   /* as staff write it */
    const char *alt;  /* another spelling accepted, or NULL */
};

static const struct code share_codes[] = {
    {"unconditional", "无条件共享", NULL},
    {"conditional", "受限共享", "有条件共享"},
    {"none", "不予共享", NULL},
    {NULL, NULL, NULL},
};
static const struct code open_codes[] = {
    {"unconditional", "无条件开放", NULL},
    {"conditional", "有条件开放", "受限开放"},
    {"forbidden", "禁止开放", "不予开放"},
    {NULL, NULL, NULL},
};
static const struct code provision_codes[] = {
    {"api", "接口共享", NULL},
    {"exchange", "交换共享", NULL},
    {"platform", "平台分析", NULL},
    {NULL, NULL, NULL},
};
static const struct code cycle_codes[] = {
    {"realtime", "实时", NULL},   {"daily", "每日", "每天"},      {"weekly", "每周", NULL},
    {"monthly", "每月", NULL},    {"quarterly", "每季度", "每季"}, {"yearly", "每年", NULL},
    {NULL, NULL, NULL},
};

static const struct element {
    const char *key;           /* JSON key and column of catalog_datasets */
    const char *zh;            /* CSV header and name in messages */
    const struct code *codes;  /* enumerated values, or NULL for free text */
    bool required;             /* 宁波 第十条 (and the provider) */
} elements[NELEM] = {
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

/* A scalar element is one text value stored in its own column. */
static bool is_scalar(int el)
{
    return el != E_DATASET && el != E_FIELDS && el != E_SENSITIVE;
}

/* The element whose JSON key is key, or -1. */
static int element_by_key(const char *key)
{
    for (int i = 0; i < NELEM; i++)
        if (strcmp(elements[i].key, key) == 0)
            return i;
    return -1;
}

const char *catalog_element_zh(const char *key)
{
    int el = key ? element_by_key(key) : -1;
    return el >= 0 ? elements[el].zh : key;
}

const char *catalog_code_zh(const char *element, const char *code)
{
    int el = element ? element_by_key(element) : -1;
    if (el < 0 || !elements[el].codes || !code)
        return code;
    for (const struct code *c = elements[el].codes; c->code; c++)
        if (strcmp(c->code, code) == 0)
            return c->zh;
    return code;
}

/* The stored code for value (English code, Chinese name or its other
 * spelling), or NULL when value is none of them. */
static const char *code_of(const struct code *codes, const char *value)
{
    for (const struct code *c = codes; c->code; c++)
        if (strcmp(value, c->code) == 0 || strcmp(value, c->zh) == 0 ||
            (c->alt && strcmp(value, c->alt) == 0))
            return c->code;
    return NULL;
}

/* "无条件共享、受限共享、不予共享" for messages. */
static void code_list(const struct code *codes, struct qloop_buf *out)
{
    for (const struct code *c = codes; c->code; c++)
        qloop_buf_printf(out, "%s%s（%s）", c == codes ? "" : "、", c->zh, c->code);
}

/* ---- entries ---- */

struct cat_field {
    char *name, *label, *type;
    bool sensitive;
};

struct cat_entry {
    char *v[NELEM];            /* scalar elements and E_DATASET; NULL when empty */
    struct cat_field *fields;  /* E_FIELDS */
    size_t nfields;
    char **sens;               /* E_SENSITIVE as read, before it marks fields */
    size_t nsens;
    long line;                 /* CSV line, or 0 */
    size_t index;              /* position in a JSON file */
};

struct catalog {
    struct cat_entry *v;
    size_t n;
};

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
    for (size_t i = 0; i < e->nsens; i++)
        free(e->sens[i]);
    free(e->sens);
    memset(e, 0, sizeof *e);
}

/* Frees every entry of c; c is empty afterwards. */
static void catalog_clear(struct catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_free(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* Appends a zeroed entry to c and returns it. */
static struct cat_entry *catalog_add(struct catalog *c)
{
    c->v = qloop_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
    memset(&c->v[c->n], 0, sizeof *c->v);
    return &c->v[c->n++];
}

/* The entry of dataset name, or NULL. */
static struct cat_entry *catalog_find(const struct catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].v[E_DATASET], name) == 0)
            return &c->v[i];
    return NULL;
}

/* The data item of e called name, or NULL. */
static const struct cat_field *entry_field(const struct cat_entry *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i].name, name) == 0)
            return &e->fields[i];
    return NULL;
}

/* Equality of two optional strings (both NULL is equal). */
static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* qsort order of entries: by dataset name. */
static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct cat_entry *)a)->v[E_DATASET],
                  ((const struct cat_entry *)b)->v[E_DATASET]);
}

/* ---- text helpers ---- */

/* Length of the whitespace (ASCII or U+3000 ideographic space) at s. */
static size_t space_at(const char *s, size_t len)
{
    if (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        return 1;
    if (len >= 3 && (unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
        (unsigned char)s[2] == 0x80)
        return 3;
    return 0;
}

/* A trimmed copy of s[0..len), or NULL when nothing is left. */
static char *trim_dup(const char *s, size_t len)
{
    size_t n;
    while ((n = space_at(s, len)) != 0)
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

/* Whether s at the given position starts one of the separators in seps
 * (each a NUL-terminated UTF-8 string); returns its length or 0. */
static size_t sep_at(const char *s, const char *const *seps)
{
    for (size_t i = 0; seps[i]; i++) {
        size_t n = strlen(seps[i]);
        if (strncmp(s, seps[i], n) == 0)
            return n;
    }
    return 0;
}

/* Splits s at any of seps into trimmed, non-empty parts (or, with
 * keep_empty, every part). Returns the count; *out is a new array. */
static size_t split(const char *s, const char *const *seps, bool keep_empty, char ***out)
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
        char *part = trim_dup(start, (size_t)(p - start));
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

/* Frees a list made by split(). */
static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static const char *const item_seps[] = {";", "\xEF\xBC\x9B" /* ； */, "\n", NULL};
static const char *const part_seps[] = {":", "\xEF\xBC\x9A" /* ： */, NULL};
static const char *const name_seps[] = {";", "\xEF\xBC\x9B", ",", "\xEF\xBC\x8C" /* ， */,
                                        "\xE3\x80\x81" /* 、 */, "\n", NULL};

/* Offset of the first byte that is not valid UTF-8, or -1. */
static long utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return (long)i;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return (long)i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += n + 1;
    }
    return -1;
}

/* ---- where an entry came from, for messages ---- */

struct src {
    const char *file;
    bool csv;
    long line;     /* CSV: line of the record */
    size_t index;  /* JSON: index in datasets */
    const char *dataset;
};

/* Fills err with the file, the line (CSV) and a message that names the
 * entry; returns -1. */
static int src_error(struct qloop_error *err, const struct src *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int src_error(struct qloop_error *err, const struct src *s, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->csv)
        return qloop_error_set(err, s->file, s->line, 0, "%s%s%s%s", s->dataset ? "数据集“" : "",
                               s->dataset ? s->dataset : "", s->dataset ? "”：" : "", msg);
    return qloop_error_set(err, s->file, 0, 0, "datasets[%zu]%s%s%s：%s", s->index,
                           s->dataset ? "（" : "", s->dataset ? s->dataset : "",
                           s->dataset ? "）" : "", msg);
}

/* Sets a scalar element from text (trimmed; empty means not given),
 * turning an enumerated value into its code. Returns 0 or -1 with err. */
static int set_scalar(struct cat_entry *e, int el, const char *text, const struct src *s,
                      struct qloop_error *err)
{
    char *v = trim_dup(text, strlen(text));
    if (v && elements[el].codes) {
        const char *code = code_of(elements[el].codes, v);
        if (!code) {
            struct qloop_buf list = {0};
            code_list(elements[el].codes, &list);
            src_error(err, s, "%s“%s”不是可用的取值；可用：%s", elements[el].zh, v,
                      qloop_buf_str(&list));
            qloop_buf_free(&list);
            free(v);
            return -1;
        }
        free(v);
        v = qloop_xstrdup(code);
    }
    if (v && el == E_KEY) {
        char **parts;
        size_t n = split(v, name_seps, false, &parts);
        struct qloop_buf b = {0};
        for (size_t i = 0; i < n; i++)
            qloop_buf_printf(&b, "%s%s", i ? "," : "", parts[i]);
        free_list(parts, n);
        free(v);
        v = b.ptr;
    }
    free(e->v[el]);
    e->v[el] = v;
    return 0;
}

/* Adds one data item; refuses a name given twice. */
static int add_field(struct cat_entry *e, char *name, char *label, char *type, bool sensitive,
                     const struct src *s, struct qloop_error *err)
{
    if (entry_field(e, name)) {
        src_error(err, s, "数据项“%s”重复列出；每个数据项只写一次", name);
        free(name), free(label), free(type);
        return -1;
    }
    e->fields = qloop_xrealloc(e->fields, (e->nfields + 1) * sizeof *e->fields);
    e->fields[e->nfields++] = (struct cat_field){name, label, type, sensitive};
    return 0;
}

/* Parses one item written "name:标签:type" (label and type optional). */
static int parse_item(struct cat_entry *e, const char *item, const struct src *s,
                      struct qloop_error *err)
{
    char **parts;
    size_t n = split(item, part_seps, true, &parts);
    int rc = 0;
    if (n > 3) {
        rc = src_error(err, s, "数据项“%s”的写法应为 名称:标签:类型（用分号隔开各数据项）", item);
    } else if (!parts[0][0]) {
        rc = src_error(err, s, "数据项“%s”缺少名称；写法为 名称:标签:类型", item);
    } else {
        char *label = n > 1 && parts[1][0] ? qloop_xstrdup(parts[1]) : NULL;
        char *type = n > 2 && parts[2][0] ? qloop_xstrdup(parts[2]) : NULL;
        rc = add_field(e, qloop_xstrdup(parts[0]), label, type, false, s, err);
    }
    free_list(parts, n);
    return rc;
}

/* Parses the 数据项 text: items separated by ';' (or '；', or lines). */
static int parse_items(struct cat_entry *e, const char *text, const struct src *s,
                       struct qloop_error *err)
{
    char **items;
    size_t n = split(text, item_seps, false, &items);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = parse_item(e, items[i], s, err);
    free_list(items, n);
    return rc;
}

/* Notes the item names in text (separated by ; , 、) as sensitive; they are
 * matched against the data items by finish_entry. */
static void add_sensitive(struct cat_entry *e, const char *text)
{
    char **names;
    size_t n = split(text, name_seps, false, &names);
    e->sens = qloop_xrealloc(e->sens, (e->nsens + n + 1) * sizeof *e->sens);
    for (size_t i = 0; i < n; i++)
        e->sens[e->nsens++] = names[i];
    free(names);
}

/* Checks what concerns the entry as a whole once read: a dataset id, the
 * sensitive items and key fields among the data items. */
static int finish_entry(struct cat_entry *e, struct src *s, struct qloop_error *err)
{
    if (!e->v[E_DATASET])
        return src_error(err, s, "缺少数据集标识（%s，即规则文件中 dataset \"名称\" 的名称）；请补上",
                         s->csv ? "“数据集标识”列" : "dataset");
    for (const char *p = e->v[E_DATASET]; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == ' ')
            return src_error(err, s, "数据集标识“%s”含有空白或控制字符；请改用规则文件中的数据集名称",
                             e->v[E_DATASET]);
    s->dataset = e->v[E_DATASET];
    for (size_t i = 0; i < e->nsens; i++) {
        struct cat_field *f = (struct cat_field *)entry_field(e, e->sens[i]);
        if (!f)
            return src_error(err, s, "敏感数据项“%s”不在该数据集的数据项中；请在“数据项”中列出它或改正名称",
                             e->sens[i]);
        f->sensitive = true;
    }
    free_list(e->sens, e->nsens);
    e->sens = NULL;
    e->nsens = 0;
    if (e->v[E_KEY]) {
        char **keys;
        size_t n = split(e->v[E_KEY], name_seps, false, &keys);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!entry_field(e, keys[i]))
                rc = src_error(err, s, "键“%s”不在该数据集的数据项中；请在“数据项”中列出它或改正名称",
                               keys[i]);
        free_list(keys, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- CSV ---- */

struct csv {
    const char *p, *end;
    long line;
    const char *file;
};

/* Reads one record (RFC 4180: quoted fields, doubled quotes, line breaks
 * inside quotes, CRLF). Returns 1 with cells, 0 at the end, -1 with err. */
static int csv_record(struct csv *c, char ***cells, size_t *ncells, long *line,
                      struct qloop_error *err)
{
    *cells = NULL;
    *ncells = 0;
    if (c->p >= c->end)
        return 0;
    *line = c->line;
    struct qloop_buf cell = {0};
    for (;;) {
        qloop_buf_reset(&cell);
        if (c->p < c->end && *c->p == '"') {
            long qline = c->line;
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    qloop_buf_free(&cell);
                    free_list(*cells, *ncells);
                    *cells = NULL;
                    return qloop_error_set(err, c->file, qline, 0,
                                           "引号没有闭合：从这一行开始的带引号字段直到文件末尾都没有结束的引号；请补上引号");
                }
                char ch = *c->p++;
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') {
                        qloop_buf_putc(&cell, '"');
                        c->p++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n')
                    c->line++;
                qloop_buf_putc(&cell, ch);
            }
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                qloop_buf_free(&cell);
                free_list(*cells, *ncells);
                *cells = NULL;
                return qloop_error_set(err, c->file, c->line, 0,
                                       "带引号的字段在结束引号之后还有字符；字段内的引号请写成两个（\"\"）");
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (*c->p == '"') {
                    qloop_buf_free(&cell);
                    free_list(*cells, *ncells);
                    *cells = NULL;
                    return qloop_error_set(err, c->file, c->line, 0,
                                           "未加引号的字段中出现了双引号；请把整个字段用双引号括起来，并把其中的引号写成两个");
                }
                qloop_buf_putc(&cell, *c->p++);
            }
        }
        *cells = qloop_xrealloc(*cells, (*ncells + 1) * sizeof **cells);
        (*cells)[(*ncells)++] = qloop_xstrdup(qloop_buf_str(&cell));
        if (c->p >= c->end)
            break;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
            c->p++;
        c->p++;
        c->line++;
        break;
    }
    qloop_buf_free(&cell);
    return 1;
}

/* Whether every cell is empty or whitespace. */
static bool cells_blank(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *t = trim_dup(cells[i], strlen(cells[i]));
        free(t);
        if (t)
            return false;
    }
    return true;
}

/* Parses a whole CSV catalog into c. */
static int parse_csv(const char *path, const char *text, size_t len, struct catalog *c,
                     struct qloop_error *err)
{
    struct csv in = {text, text + len, 1, path};
    char **cells;
    size_t n;
    long line;
    int r;
    while ((r = csv_record(&in, &cells, &n, &line, err)) == 1 && cells_blank(cells, n))
        free_list(cells, n);
    if (r < 0)
        return -1;
    if (r == 0)
        return qloop_error_set(err, path, 0, 0,
                               "目录文件是空的；第一行应为表头：数据集标识,业务名称,信息系统名称,数源部门,数据项,...");
    long header_line = line;
    size_t ncols = n;
    int *col_el = qloop_xcalloc(ncols + 1, sizeof *col_el);
    bool seen[NELEM] = {false};
    int rc = 0;
    for (size_t i = 0; i < ncols && rc == 0; i++) {
        char *h = trim_dup(cells[i], strlen(cells[i]));
        col_el[i] = -1;
        if (!h)
            continue;
        for (int el = 0; el < NELEM; el++)
            if (strcmp(h, elements[el].zh) == 0 || strcmp(h, elements[el].key) == 0)
                col_el[i] = el;
        if (col_el[i] < 0) {
            struct qloop_buf list = {0};
            for (int el = 0; el < NELEM; el++)
                qloop_buf_printf(&list, "%s%s", el ? "、" : "", elements[el].zh);
            rc = qloop_error_set(err, path, header_line, 0, "表头第 %zu 列“%s”不是目录的列；可用的列：%s",
                                 i + 1, h, qloop_buf_str(&list));
            qloop_buf_free(&list);
        } else if (seen[col_el[i]]) {
            rc = qloop_error_set(err, path, header_line, 0, "表头中“%s”出现了两次；请删去一列",
                                 elements[col_el[i]].zh);
        }
        if (col_el[i] >= 0)
            seen[col_el[i]] = true;
        free(h);
    }
    free_list(cells, n);
    if (rc == 0 && !seen[E_DATASET])
        rc = qloop_error_set(err, path, header_line, 0,
                             "表头中没有“数据集标识”列；它写明每行是哪个数据集（规则文件中 dataset \"名称\" 的名称）");
    while (rc == 0 && (r = csv_record(&in, &cells, &n, &line, err)) == 1) {
        if (cells_blank(cells, n)) {
            free_list(cells, n);
            continue;
        }
        struct src s = {.file = path, .csv = true, .line = line};
        struct cat_entry *e = catalog_add(c);
        e->line = line;
        if (n > ncols && !cells_blank(cells + ncols, n - ncols))
            rc = qloop_error_set(err, path, line, 0, "这一行有 %zu 列，表头只有 %zu 列；请检查是否有未加引号的逗号",
                                 n, ncols);
        for (size_t i = 0; i < n && i < ncols && rc == 0; i++)
            if (col_el[i] == E_DATASET)
                rc = set_scalar(e, E_DATASET, cells[i], &s, err);
        s.dataset = e->v[E_DATASET];
        for (size_t i = 0; i < n && i < ncols && rc == 0; i++) {
            int el = col_el[i];
            if (el < 0) {
                char *t = trim_dup(cells[i], strlen(cells[i]));
                if (t)
                    rc = src_error(err, &s, "第 %zu 列没有表头却有内容“%s”；请补上表头或删去该内容", i + 1, t);
                free(t);
            } else if (el == E_FIELDS) {
                rc = parse_items(e, cells[i], &s, err);
            } else if (el == E_SENSITIVE) {
                add_sensitive(e, cells[i]);
            } else if (el != E_DATASET) {
                rc = set_scalar(e, el, cells[i], &s, err);
            }
        }
        if (rc == 0)
            rc = finish_entry(e, &s, err);
        free_list(cells, n);
    }
    if (r < 0)
        rc = -1;
    free(col_el);
    return rc;
}

/* ---- JSON ---- */

/* *out = the string v (NULL for absent or null); -1 with err for any other
 * type. */
static int json_text(json_t *v, const char *key, const char **out, const struct src *s,
                     struct qloop_error *err)
{
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return src_error(err, s, "%s 应为文本（或 null）", key);
    *out = json_string_value(v);
    return 0;
}

/* Reads "fields": an array of {name, label, type, sensitive} objects or
 * "name:标签:type" strings, or one string as in CSV. */
static int json_fields(struct cat_entry *e, json_t *v, const struct src *s,
                       struct qloop_error *err)
{
    if (json_is_null(v))
        return 0;
    if (json_is_string(v))
        return parse_items(e, json_string_value(v), s, err);
    if (!json_is_array(v))
        return src_error(err, s, "fields 应为数组：[{\"name\": ..., \"label\": ..., \"type\": ..., \"sensitive\": true}]");
    size_t i;
    json_t *f;
    json_array_foreach(v, i, f) {
        if (json_is_string(f)) {
            if (parse_item(e, json_string_value(f), s, err) != 0)
                return -1;
            continue;
        }
        if (!json_is_object(f))
            return src_error(err, s, "fields[%zu] 应为对象 {\"name\", \"label\", \"type\", \"sensitive\"}", i);
        const char *key;
        json_t *val;
        json_object_foreach(f, key, val) {
            if (strcmp(key, "name") && strcmp(key, "label") && strcmp(key, "type") &&
                strcmp(key, "sensitive"))
                return src_error(err, s, "fields[%zu] 中的键 \"%s\" 无效；可用：name, label, type, sensitive",
                                 i, key);
        }
        const char *name, *label, *type;
        if (json_text(json_object_get(f, "name"), "name", &name, s, err) ||
            json_text(json_object_get(f, "label"), "label", &label, s, err) ||
            json_text(json_object_get(f, "type"), "type", &type, s, err))
            return -1;
        json_t *sv = json_object_get(f, "sensitive");
        if (sv && !json_is_boolean(sv) && !json_is_null(sv))
            return src_error(err, s, "fields[%zu].sensitive 应为 true 或 false", i);
        char *n = name ? trim_dup(name, strlen(name)) : NULL;
        if (!n)
            return src_error(err, s, "fields[%zu] 缺少 name", i);
        if (add_field(e, n, label ? trim_dup(label, strlen(label)) : NULL,
                      type ? trim_dup(type, strlen(type)) : NULL, sv && json_is_true(sv), s,
                      err) != 0)
            return -1;
    }
    return 0;
}

/* Reads one dataset object of a JSON catalog into e; refuses unknown keys. */
static int json_entry(struct cat_entry *e, json_t *obj, struct src *s, struct qloop_error *err)
{
    if (!json_is_object(obj))
        return src_error(err, s, "应为一个对象 {\"dataset\": ..., ...}");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (element_by_key(key) < 0) {
            struct qloop_buf list = {0};
            for (int el = 0; el < NELEM; el++)
                qloop_buf_printf(&list, "%s%s", el ? ", " : "", elements[el].key);
            src_error(err, s, "键 \"%s\" 无效；可用：%s", key, qloop_buf_str(&list));
            qloop_buf_free(&list);
            return -1;
        }
    }
    const char *name;
    if (json_text(json_object_get(obj, "dataset"), "dataset", &name, s, err) != 0)
        return -1;
    if (name && set_scalar(e, E_DATASET, name, s, err) != 0)
        return -1;
    s->dataset = e->v[E_DATASET];
    for (int el = 0; el < NELEM; el++) {
        v = json_object_get(obj, elements[el].key);
        if (!v || el == E_DATASET)
            continue;
        if (el == E_FIELDS) {
            if (json_fields(e, v, s, err) != 0)
                return -1;
        } else if (el == E_SENSITIVE) {
            if (json_is_string(v)) {
                add_sensitive(e, json_string_value(v));
            } else if (json_is_array(v)) {
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                    if (!json_is_string(x))
                        return src_error(err, s, "sensitive 应为数据项名称的数组");
                    add_sensitive(e, json_string_value(x));
                }
            } else if (!json_is_null(v)) {
                return src_error(err, s, "sensitive 应为数据项名称的数组");
            }
        } else {
            const char *t;
            if (json_text(v, elements[el].key, &t, s, err) != 0)
                return -1;
            if (t && set_scalar(e, el, t, s, err) != 0)
                return -1;
        }
    }
    return finish_entry(e, s, err);
}

/* Parses a whole JSON catalog ({"datasets": [...]}, or the bare array) into c. */
static int parse_json(const char *path, const char *text, size_t len, struct catalog *c,
                      struct qloop_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return qloop_error_set(err, path, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0,
                               "JSON 格式错误：%s；请修正后重新导入", je.text);
    json_t *list = json_is_object(root) ? json_object_get(root, "datasets") : root;
    int rc = 0;
    if (!json_is_array(list)) {
        rc = qloop_error_set(err, path, 0, 0,
                             "JSON 目录应为 {\"datasets\": [ {\"dataset\": ..., ...}, ... ]}");
    } else if (json_is_object(root) && json_object_size(root) != 1) {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            if (strcmp(key, "datasets") != 0) {
                rc = qloop_error_set(err, path, 0, 0, "顶层键 \"%s\" 无效；JSON 目录只有 \"datasets\"", key);
                break;
            }
        }
    }
    size_t i;
    json_t *obj;
    if (rc == 0)
        json_array_foreach(list, i, obj) {
            struct src s = {.file = path, .index = i};
            struct cat_entry *e = catalog_add(c);
            e->index = i;
            if ((rc = json_entry(e, obj, &s, err)) != 0)
                break;
        }
    json_decref(root);
    return rc;
}

/* Reads and parses a catalog file (by extension .json / .csv, else by its
 * first character) into c, sorted by dataset; refuses duplicates. */
static int parse_file(const char *path, struct catalog *c, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0, "无法打开目录文件；请检查路径和读取权限");
    struct qloop_buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        qloop_buf_append(&b, chunk, got);
        if (b.len > (size_t)64 << 20) {
            fclose(f);
            qloop_buf_free(&b);
            return qloop_error_set(err, path, 0, 0, "目录文件超过 64 MiB；请检查是否选错了文件");
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        qloop_buf_free(&b);
        return qloop_error_set(err, path, 0, 0, "读取目录文件失败；请检查文件");
    }
    const char *text = qloop_buf_str(&b);
    size_t len = b.len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3;
    long bad_at = utf8_invalid_at((const unsigned char *)text, len);
    if (bad_at >= 0) {
        long line = 1;
        for (long i = 0; i < bad_at; i++)
            line += text[i] == '\n';
        qloop_buf_free(&b);
        return qloop_error_set(err, path, line, 0,
                               "目录文件不是 UTF-8 编码（可能是 GBK）；请另存为 UTF-8（Excel：另存为“CSV UTF-8”）后重新导入");
    }
    if (memchr(text, '\0', len)) {
        qloop_buf_free(&b);
        return qloop_error_set(err, path, 0, 0, "目录文件含有 NUL 字节，不是文本文件；请检查是否选错了文件");
    }
    size_t plen = strlen(path);
    bool json;
    if (plen >= 5 && strcmp(path + plen - 5, ".json") == 0) {
        json = true;
    } else if (plen >= 4 && strcmp(path + plen - 4, ".csv") == 0) {
        json = false;
    } else {
        size_t i = 0;
        while (i < len && space_at(text + i, len - i))
            i += space_at(text + i, len - i);
        json = i < len && (text[i] == '{' || text[i] == '[');
    }
    int rc = json ? parse_json(path, text, len, c, err) : parse_csv(path, text, len, c, err);
    qloop_buf_free(&b);
    if (rc != 0) {
        catalog_clear(c);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->v[i].v[E_DATASET], c->v[j].v[E_DATASET]) == 0) {
                struct src s = {.file = path, .csv = !json, .line = c->v[i].line,
                                .index = c->v[i].index, .dataset = c->v[i].v[E_DATASET]};
                if (json)
                    src_error(err, &s, "数据集重复出现（datasets[%zu] 已有）；每个数据集只写一次",
                              c->v[j].index);
                else
                    src_error(err, &s, "数据集重复出现（第 %ld 行已有）；每个数据集只写一行", c->v[j].line);
                catalog_clear(c);
                return -1;
            }
    if (c->n)
        qsort(c->v, c->n, sizeof *c->v, cmp_entry);
    return 0;
}

/* ---- canonical JSON of an entry (history, show, diffs) ---- */

/* A JSON string of s, or null when s is NULL (or not UTF-8). */
static json_t *jstr(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* {"name", "label", "type", "sensitive"} of one data item. */
static json_t *field_json(const struct cat_field *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(f->name));
    json_object_set_new(o, "label", jstr(f->label));
    json_object_set_new(o, "type", jstr(f->type));
    json_object_set_new(o, "sensitive", json_boolean(f->sensitive));
    return o;
}

/* The canonical JSON of an entry: the import form, keys in catalog order,
 * fields as objects, empty elements null. */
static json_t *entry_json(const struct cat_entry *e)
{
    json_t *o = json_object();
    for (int el = 0; el < NELEM; el++) {
        if (el == E_SENSITIVE)
            continue;
        if (el == E_FIELDS) {
            json_t *a = json_array();
            for (size_t i = 0; i < e->nfields; i++)
                json_array_append_new(a, field_json(&e->fields[i]));
            json_object_set_new(o, "fields", a);
        } else {
            json_object_set_new(o, elements[el].key, jstr(e->v[el]));
        }
    }
    return o;
}

/* v as compact text, keys in insertion order (caller frees). */
static char *dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    return qloop_xcheck(s);
}

/* ---- the store ---- */

/* Prepares sql; -1 with err on failure. */
static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct qloop_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return store_error(db, "读取或写入资源目录", err);
    return 0;
}

/* Binds s (copied), or NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* A copy of text column i, or NULL. */
static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? qloop_xstrdup((const char *)t) : NULL;
}

/* The latest catalog version, 0 when none was imported; -1 on error. */
static int64_t current_version(sqlite3 *db, struct qloop_error *err)
{
    sqlite3_stmt *st;
    if (prep(db, "SELECT coalesce(max(version), 0) FROM catalog_versions", &st, err) != 0)
        return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (v < 0)
        store_error(db, "读取资源目录版本", err);
    return v;
}

/* Loads the current catalog, sorted by dataset. */
static int load_catalog(sqlite3 *db, struct catalog *c, struct qloop_error *err)
{
    struct qloop_buf sql = {0};
    qloop_buf_printf(&sql, "SELECT dataset");
    for (int el = 0; el < NELEM; el++)
        if (is_scalar(el))
            qloop_buf_printf(&sql, ", \"%s\"", elements[el].key);
    qloop_buf_printf(&sql, " FROM catalog_datasets ORDER BY dataset");
    sqlite3_stmt *st, *fs;
    int rc = prep(db, sql.ptr, &st, err);
    qloop_buf_free(&sql);
    if (rc != 0)
        return -1;
    if (prep(db, "SELECT name, label, type, sensitive FROM catalog_fields WHERE dataset = ?1"
                 " ORDER BY pos", &fs, err) != 0) {
        sqlite3_finalize(st);
        return -1;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct cat_entry *e = catalog_add(c);
        int col = 0;
        e->v[E_DATASET] = col_dup(st, col++);
        for (int el = 0; el < NELEM; el++)
            if (is_scalar(el))
                e->v[el] = col_dup(st, col++);
        sqlite3_reset(fs);
        bind_text(fs, 1, e->v[E_DATASET]);
        while ((r = sqlite3_step(fs)) == SQLITE_ROW) {
            e->fields = qloop_xrealloc(e->fields, (e->nfields + 1) * sizeof *e->fields);
            e->fields[e->nfields++] = (struct cat_field){col_dup(fs, 0), col_dup(fs, 1),
                                                         col_dup(fs, 2),
                                                         sqlite3_column_int(fs, 3) != 0};
        }
        if (r != SQLITE_DONE)
            break;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(fs);
    if (r != SQLITE_DONE) {
        catalog_clear(c);
        return store_error(db, "读取资源目录", err);
    }
    return 0;
}

/* Steps a bound statement to completion and resets it; -1 with err naming
 * what on failure. */
static int exec_bound(sqlite3 *db, sqlite3_stmt *st, const char *what, struct qloop_error *err)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : store_error(db, what, err);
}

/* Replaces (or, with e NULL, removes) dataset name in the current tables. */
static int write_entry(sqlite3 *db, const char *name, const struct cat_entry *e,
                       const char *added_at, const char *at, int64_t version,
                       struct qloop_error *err)
{
    sqlite3_stmt *st;
    if (prep(db, "DELETE FROM catalog_fields WHERE dataset = ?1", &st, err) != 0)
        return -1;
    bind_text(st, 1, name);
    int rc = exec_bound(db, st, "写入资源目录", err);
    sqlite3_finalize(st);
    if (rc == 0 && prep(db, "DELETE FROM catalog_datasets WHERE dataset = ?1", &st, err) == 0) {
        bind_text(st, 1, name);
        rc = exec_bound(db, st, "写入资源目录", err);
        sqlite3_finalize(st);
    } else {
        rc = -1;
    }
    if (rc != 0 || !e)
        return rc;
    struct qloop_buf sql = {0};
    qloop_buf_printf(&sql, "INSERT INTO catalog_datasets(dataset, added_at, changed_at, version");
    for (int el = 0; el < NELEM; el++)
        if (is_scalar(el))
            qloop_buf_printf(&sql, ", \"%s\"", elements[el].key);
    qloop_buf_printf(&sql, ") VALUES(?1, ?2, ?3, ?4");
    int n = 4;
    for (int el = 0; el < NELEM; el++)
        if (is_scalar(el))
            qloop_buf_printf(&sql, ", ?%d", ++n);
    qloop_buf_printf(&sql, ")");
    rc = prep(db, sql.ptr, &st, err);
    qloop_buf_free(&sql);
    if (rc != 0)
        return -1;
    bind_text(st, 1, name);
    bind_text(st, 2, added_at);
    bind_text(st, 3, at);
    sqlite3_bind_int64(st, 4, version);
    n = 4;
    for (int el = 0; el < NELEM; el++)
        if (is_scalar(el))
            bind_text(st, ++n, e->v[el]);
    rc = exec_bound(db, st, "写入资源目录", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    if (prep(db, "INSERT INTO catalog_fields(dataset, name, label, type, sensitive, pos)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st, err) != 0)
        return -1;
    for (size_t i = 0; i < e->nfields && rc == 0; i++) {
        bind_text(st, 1, name);
        bind_text(st, 2, e->fields[i].name);
        bind_text(st, 3, e->fields[i].label);
        bind_text(st, 4, e->fields[i].type);
        sqlite3_bind_int(st, 5, e->fields[i].sensitive);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)i);
        rc = exec_bound(db, st, "写入资源目录数据项", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The added_at of dataset name in the current tables (caller frees). */
static char *added_at_of(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT added_at FROM catalog_datasets WHERE dataset = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return NULL;
    bind_text(st, 1, name);
    char *s = sqlite3_step(st) == SQLITE_ROW ? col_dup(st, 0) : NULL;
    sqlite3_finalize(st);
    return s;
}

/* ---- import: the diff ---- */

struct import_ctx {
    sqlite3 *db;
    const char *actor;
    int64_t version;
    char at[32], date[11];
    json_t *changes;   /* every element-level change, for the summary */
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
    char *text = dump(d);
    json_decref(d);
    char subject[600];
    snprintf(subject, sizeof subject, "catalog:%s", dataset);
    int rc = audit_append(x->db, kind, subject, x->actor, text, x->err);
    free(text);
    return rc;
}

/* One change record: {"dataset", "op", ["element"|"field"], "before", "after"}. */
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
 * entry after it (NULL when removed) and its changes. */
static int write_history(struct import_ctx *x, const char *dataset, const char *op,
                         const struct cat_entry *after, json_t *changes)
{
    sqlite3_stmt *st;
    if (prep(x->db, "INSERT INTO catalog_history(version, dataset, op, entry, changes)"
                    " VALUES(?1, ?2, ?3, ?4, ?5)", &st, x->err) != 0)
        return -1;
    char *entry = NULL;
    if (after) {
        json_t *j = entry_json(after);
        entry = dump(j);
        json_decref(j);
    }
    char *ch = dump(changes);
    sqlite3_bind_int64(st, 1, x->version);
    bind_text(st, 2, dataset);
    bind_text(st, 3, op);
    bind_text(st, 4, entry);
    bind_text(st, 5, ch);
    int rc = exec_bound(x->db, st, "写入资源目录历史", x->err);
    sqlite3_finalize(st);
    free(entry);
    free(ch);
    return rc;
}

/* Diffs one dataset present before and after; writes what changed.
 * *changed is set when anything did. */
static int diff_entry(struct import_ctx *x, const struct cat_entry *old,
                      const struct cat_entry *now, bool *changed)
{
    const char *name = now->v[E_DATASET];
    json_t *changes = json_array();
    json_t *before = json_object(), *after = json_object();
    for (int el = 0; el < NELEM; el++) {
        if (!is_scalar(el) || str_eq(old->v[el], now->v[el]))
            continue;
        json_object_set_new(before, elements[el].key, jstr(old->v[el]));
        json_object_set_new(after, elements[el].key, jstr(now->v[el]));
        json_array_append_new(changes, change(name, "change", "element", elements[el].key,
                                              jstr(old->v[el]), jstr(now->v[el])));
    }
    int rc = 0;
    if (json_object_size(before))
        rc = audit_catalog(x, "catalog.change", name,
                           json_pack("{s:O, s:O}", "before", before, "after", after));
    json_decref(before);
    json_decref(after);
    for (size_t i = 0; i < now->nfields && rc == 0; i++) {
        const struct cat_field *nf = &now->fields[i];
        const struct cat_field *of = entry_field(old, nf->name);
        if (of && str_eq(of->label, nf->label) && str_eq(of->type, nf->type) &&
            of->sensitive == nf->sensitive)
            continue;
        const char *op = of ? "change" : "add";
        json_t *b = of ? field_json(of) : json_null(), *a = field_json(nf);
        json_array_append_new(changes, change(name, op, "field", nf->name, json_incref(b),
                                              json_incref(a)));
        json_t *d = json_pack("{s:s, s:o, s:o}", "field", nf->name, "before", b, "after", a);
        rc = audit_catalog(x, of ? "catalog.change" : "catalog.add", name, d);
    }
    for (size_t i = 0; i < old->nfields && rc == 0; i++) {
        const struct cat_field *of = &old->fields[i];
        if (entry_field(now, of->name))
            continue;
        json_t *b = field_json(of);
        json_array_append_new(changes, change(name, "remove", "field", of->name, json_incref(b),
                                              NULL));
        json_t *d = json_pack("{s:s, s:o, s:n}", "field", of->name, "before", b, "after");
        rc = audit_catalog(x, "catalog.remove", name, d);
    }
    *changed = json_array_size(changes) > 0;
    if (rc == 0 && *changed) {
        char *added = added_at_of(x->db, name);
        rc = write_entry(x->db, name, now, added ? added : x->at, x->at, x->version, x->err);
        free(added);
        if (rc == 0)
            rc = write_history(x, name, "change", now, changes);
        json_array_extend(x->changes, changes);
    }
    json_decref(changes);
    return rc;
}

/* A dataset new in this import: audit, tables, history. */
static int add_entry(struct import_ctx *x, const struct cat_entry *now)
{
    const char *name = now->v[E_DATASET];
    json_t *a = entry_json(now);
    json_t *changes = json_array();
    json_array_append_new(changes, change(name, "add", NULL, NULL, NULL, json_incref(a)));
    json_t *d = json_pack("{s:n, s:O}", "before", "after", a);
    int rc = audit_catalog(x, "catalog.add", name, d);
    json_decref(a);
    if (rc == 0)
        rc = write_entry(x->db, name, now, x->at, x->at, x->version, x->err);
    if (rc == 0)
        rc = write_history(x, name, "add", now, changes);
    json_array_extend(x->changes, changes);
    json_decref(changes);
    return rc;
}

/* A dataset this import drops: audit, tables, history. */
static int remove_entry(struct import_ctx *x, const struct cat_entry *old)
{
    const char *name = old->v[E_DATASET];
    json_t *b = entry_json(old);
    json_t *changes = json_array();
    json_array_append_new(changes, change(name, "remove", NULL, NULL, json_incref(b), NULL));
    json_t *d = json_pack("{s:O, s:n}", "before", b, "after");
    int rc = audit_catalog(x, "catalog.remove", name, d);
    json_decref(b);
    if (rc == 0)
        rc = write_entry(x->db, name, NULL, NULL, NULL, 0, x->err);
    if (rc == 0)
        rc = write_history(x, name, "remove", NULL, changes);
    json_array_extend(x->changes, changes);
    json_decref(changes);
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

int catalog_import(sqlite3 *db, const char *path, const char *actor, json_t **diff_summary,
                   struct qloop_error *err)
{
    if (diff_summary)
        *diff_summary = NULL;
    struct catalog now = {0}, old = {0};
    if (parse_file(path, &now, err) != 0)
        return -1;
    bool nested;
    if (tx_begin(db, &nested, err) != 0) {
        catalog_clear(&now);
        return -1;
    }
    struct import_ctx x = {.db = db, .actor = actor && *actor ? actor : "system", .err = err};
    int64_t t = qloop_now();
    qloop_format_datetime(t, x.at);
    qloop_format_date(t, x.date);
    x.changes = json_array();
    json_t *added = json_array(), *changed = json_array(), *removed = json_array();
    int64_t prev = current_version(db, err);
    int rc = prev < 0 ? -1 : load_catalog(db, &old, err);
    x.version = prev + 1;
    sqlite3_stmt *st = NULL;
    if (rc == 0)
        rc = prep(db, "INSERT INTO catalog_versions(version, at, actor, file, datasets, added,"
                      " changed, removed) VALUES(?1, ?2, ?3, ?4, ?5, 0, 0, 0)", &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, x.version);
        bind_text(st, 2, x.at);
        bind_text(st, 3, x.actor);
        bind_text(st, 4, path);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)now.n);
        rc = exec_bound(db, st, "写入资源目录版本", err);
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < now.n && rc == 0; i++) {
        const struct cat_entry *o = catalog_find(&old, now.v[i].v[E_DATASET]);
        if (!o) {
            rc = add_entry(&x, &now.v[i]);
            json_array_append_new(added, json_string(now.v[i].v[E_DATASET]));
            continue;
        }
        bool ch = false;
        rc = diff_entry(&x, o, &now.v[i], &ch);
        if (ch)
            json_array_append_new(changed, json_string(now.v[i].v[E_DATASET]));
    }
    for (size_t i = 0; i < old.n && rc == 0; i++)
        if (!catalog_find(&now, old.v[i].v[E_DATASET])) {
            rc = remove_entry(&x, &old.v[i]);
            json_array_append_new(removed, json_string(old.v[i].v[E_DATASET]));
        }
    json_t *summary = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O, s:O}", "version",
                                (json_int_t)x.version, "at", x.at, "date", x.date, "actor", x.actor,
                                "file", path, "datasets", (json_int_t)now.n, "added", added,
                                "changed", changed, "removed", removed, "changes", x.changes);
    if (rc == 0 && prep(db, "UPDATE catalog_versions SET added = ?2, changed = ?3, removed = ?4"
                            " WHERE version = ?1", &st, err) == 0) {
        sqlite3_bind_int64(st, 1, x.version);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)json_array_size(added));
        sqlite3_bind_int64(st, 3, (sqlite3_int64)json_array_size(changed));
        sqlite3_bind_int64(st, 4, (sqlite3_int64)json_array_size(removed));
        rc = exec_bound(db, st, "写入资源目录版本", err);
        sqlite3_finalize(st);
    } else if (rc == 0) {
        rc = -1;
    }
    if (rc == 0) {
        json_t *d = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "date", x.date, "version",
                              (json_int_t)x.version, "file", path, "datasets", (json_int_t)now.n,
                              "added", (json_int_t)json_array_size(added), "changed",
                              (json_int_t)json_array_size(changed), "removed",
                              (json_int_t)json_array_size(removed));
        char *text = dump(d);
        json_decref(d);
        rc = audit_append(db, "catalog.import", "catalog", x.actor, text, err);
        free(text);
    }
    json_decref(added);
    json_decref(changed);
    json_decref(removed);
    json_decref(x.changes);
    catalog_clear(&now);
    catalog_clear(&old);
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

/* ---- merging into a rule pack ---- */

int catalog_merge_pack(sqlite3 *db, struct pack *p, struct qloop_error *err)
{
    int64_t version = current_version(db, err);
    if (version <= 0)
        return version < 0 ? -1 : 0;
    struct catalog c = {0};
    if (load_catalog(db, &c, err) != 0)
        return -1;
    for (size_t i = 0; i < p->ndatasets; i++) {
        struct pack_dataset *d = &p->datasets[i];
        const struct cat_entry *e = catalog_find(&c, d->name);
        if (!e)
            continue;
        if (!d->owner && e->v[E_OWNER])
            d->owner = qloop_xstrdup(e->v[E_OWNER]);
        if (!d->update_cycle && e->v[E_UPDATE_CYCLE])
            d->update_cycle = qloop_xstrdup(e->v[E_UPDATE_CYCLE]);
        if (d->nkeys == 0 && e->v[E_KEY]) {
            free(d->keys);
            d->nkeys = split(e->v[E_KEY], name_seps, false, &d->keys);
        }
        /* Masking only ever widens: a field either side calls sensitive is. */
        for (size_t f = 0; f < e->nfields; f++)
            if (e->fields[f].sensitive && !pack_is_sensitive(d, e->fields[f].name)) {
                d->sensitive = qloop_xrealloc(d->sensitive, (d->nsensitive + 1) * sizeof *d->sensitive);
                d->sensitive[d->nsensitive++] = qloop_xstrdup(e->fields[f].name);
            }
    }
    catalog_clear(&c);
    return 0;
}

/* ---- the checks ---- */

enum kind { K_MISSING_ELEMENT, K_MISSING_BASIS, K_SCHEMA_DRIFT, K_STALE, K_LATE_UPDATE,
            K_UNCATALOGUED, NKINDS };

static const struct kind_info {
    const char *name, *dimension, *severity, *message;
} kinds[NKINDS] = {
    [K_MISSING_ELEMENT] = {"missing_element", "accessibility", "medium",
                           "资源目录缺少必备要素（宁波市公共数据管理办法第十条）"},
    [K_MISSING_BASIS] = {"missing_basis", "accessibility", "high",
                         "受限共享、不予共享或禁止开放未写明依据（温州市公共数据共享开放管理暂行办法第十五条、第二十八条，宁波市公共数据管理办法第十六条）"},
    [K_SCHEMA_DRIFT] = {"schema_drift", "consistency", "medium", "数据的字段与资源目录的数据项不一致"},
    [K_STALE] = {"stale", "timeliness", "medium", "数据未按资源目录登记的更新周期更新"},
    [K_LATE_UPDATE] = {"late_update", "timeliness", "medium",
                       "数据字段变化后未在 5 个工作日内更新资源目录（温州市公共数据共享开放管理暂行办法第十一条）"},
    [K_UNCATALOGUED] = {"uncatalogued", "accessibility", "medium", "数据集已汇聚但未编入资源目录"},
};

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

/* What was judged per kind for one dataset. */
struct judged {
    bool on[NKINDS];
    int64_t checked[NKINDS];
};

/* Appends a problem (copies of the strings, the text of msg) and empties msg. */
static void padd(struct plist *l, enum kind k, const char *dataset, const char *element,
                  const char *column, const char *value, struct qloop_buf *msg)
{
    l->v = qloop_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = (struct problem){k,
                                    qloop_xstrdup(dataset),
                                    qloop_xstrdup(element),
                                    column ? qloop_xstrdup(column) : NULL,
                                    value ? qloop_xstrdup(value) : NULL,
                                    qloop_xstrdup(qloop_buf_str(msg))};
    qloop_buf_reset(msg);
}

/* Frees every problem of l; l is empty afterwards. */
static void plist_free(struct plist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].dataset), free(l->v[i].element), free(l->v[i].column);
        free(l->v[i].value), free(l->v[i].message);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* missing_element and missing_basis: the entry alone. */
static void judge_elements(const struct cat_entry *e, struct plist *l, struct judged *j)
{
    const char *name = e->v[E_DATASET];
    struct qloop_buf m = {0};
    j->on[K_MISSING_ELEMENT] = j->on[K_MISSING_BASIS] = true;
    for (int el = 0; el < NELEM; el++) {
        if (!elements[el].required)
            continue;
        j->checked[K_MISSING_ELEMENT]++;
        bool empty = el == E_FIELDS ? e->nfields == 0 : e->v[el] == NULL;
        if (!empty)
            continue;
        if (el == E_OWNER)
            qloop_buf_printf(&m, "资源目录未写明数源部门（数据提供单位）；请补全后重新导入目录");
        else
            qloop_buf_printf(&m, "资源目录缺少必备要素“%s”（宁波市公共数据管理办法第十条）；请数源部门补全",
                             elements[el].zh);
        padd(l, K_MISSING_ELEMENT, name, elements[el].key, NULL, NULL, &m);
    }
    j->checked[K_MISSING_BASIS] += 2;
    const char *share = e->v[E_SHARE];
    if (share && (strcmp(share, "conditional") == 0 || strcmp(share, "none") == 0) &&
        !e->v[E_SHARE_BASIS]) {
        const char *zh = catalog_code_zh("share", share);
        qloop_buf_printf(&m,
                         "共享属性为“%s”，但未写明共享依据（温州市公共数据共享开放管理暂行办法第十五条、"
                         "宁波市公共数据管理办法第十六条）；请在“共享依据”中写明所依据的法律、法规、规章或规定",
                         zh);
        padd(l, K_MISSING_BASIS, name, "share_basis", NULL, zh, &m);
    }
    const char *open = e->v[E_OPEN];
    if (open && strcmp(open, "forbidden") == 0 && !e->v[E_OPEN_BASIS]) {
        qloop_buf_printf(&m, "开放属性为“禁止开放”，但未写明理由（温州市公共数据共享开放管理暂行办法第二十八条）；"
                             "请在“开放依据”中写明禁止开放的理由和依据");
        padd(l, K_MISSING_BASIS, name, "open_basis", NULL, "禁止开放", &m);
    }
    qloop_buf_free(&m);
}

struct drift {
    const char *column;
    bool missing; /* listed in the catalog, absent from the data */
};

/* The columns in which data (a JSON array of column names) and entry
 * disagree: the data's extra columns in data order, then the catalog's
 * missing items in catalog order. Returns the count; *out is new. */
static size_t compute_drift(const struct cat_entry *e, json_t *columns, struct drift **out,
                            int64_t *judged)
{
    struct drift *d = NULL;
    size_t n = 0, i;
    json_t *c;
    int64_t all = (int64_t)e->nfields;
    json_array_foreach(columns, i, c) {
        const char *name = json_string_value(c);
        if (!name || entry_field(e, name))
            continue;
        all++;
        d = qloop_xrealloc(d, (n + 1) * sizeof *d);
        d[n++] = (struct drift){name, false};
    }
    for (size_t f = 0; f < e->nfields; f++) {
        bool present = false;
        json_array_foreach(columns, i, c)
            present |= json_is_string(c) && strcmp(json_string_value(c), e->fields[f].name) == 0;
        if (!present) {
            d = qloop_xrealloc(d, (n + 1) * sizeof *d);
            d[n++] = (struct drift){e->fields[f].name, true};
        }
    }
    *out = d;
    *judged = all;
    return n;
}

/* schema_drift: one problem per drift of compute_drift; checked = the
 * columns and items compared. */
static void judge_drift(const struct cat_entry *e, const struct drift *d, size_t n,
                        int64_t checked, struct plist *l, struct judged *j)
{
    struct qloop_buf m = {0};
    j->on[K_SCHEMA_DRIFT] = true;
    j->checked[K_SCHEMA_DRIFT] = checked;
    for (size_t i = 0; i < n; i++) {
        if (d[i].missing)
            qloop_buf_printf(&m, "资源目录列出的数据项“%s”在汇聚的数据中不存在；请核对数据，或更新资源目录",
                             d[i].column);
        else
            qloop_buf_printf(&m, "数据中有字段“%s”，资源目录的数据项中没有；请更新资源目录，或核对数据",
                             d[i].column);
        padd(l, K_SCHEMA_DRIFT, e->v[E_DATASET], d[i].column, d[i].column,
             d[i].missing ? "missing" : "extra", &m);
    }
    qloop_buf_free(&m);
}

/* The last day on which data last updated on day may be updated next under
 * cycle (a code), or -1 for an unknown cycle. */
static int64_t cycle_limit(const char *cycle, int64_t day)
{
    int months = 0;
    if (strcmp(cycle, "realtime") == 0 || strcmp(cycle, "daily") == 0)
        return day + 1;
    if (strcmp(cycle, "weekly") == 0)
        return day + 7;
    if (strcmp(cycle, "monthly") == 0)
        months = 1;
    else if (strcmp(cycle, "quarterly") == 0)
        months = 3;
    else if (strcmp(cycle, "yearly") == 0)
        months = 12;
    else
        return -1;
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    m += months;
    while (m > 12)
        m -= 12, y++;
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return qloop_days_from_civil(y, m, d > last ? last : d);
}

/* Day number (qloop_days_from_civil) as YYYY-MM-DD. */
static void day_text(int64_t day, char out[11])
{
    /* 00:00 UTC of the day is 08:00 of the same day in Shanghai. */
    qloop_format_date(day * 86400, out);
}

/* The Shanghai civil day of a stored time text, or -1. */
static int64_t day_of(const char *text)
{
    int64_t t;
    if (!text || !qloop_parse_datetime(text, &t))
        return -1;
    char date[11];
    qloop_format_date(t, date);
    int y, m, d;
    return qloop_parse_date(date, &y, &m, &d) ? qloop_days_from_civil(y, m, d) : -1;
}

/* stale: newest_update (the newest update time in the data) against the
 * catalog's update cycle, on judge_day. Not judged without either. */
static void judge_stale(const struct cat_entry *e, const char *newest_update, int64_t judge_day,
                        struct plist *l, struct judged *j)
{
    const char *cycle = e->v[E_UPDATE_CYCLE];
    int64_t newest = day_of(newest_update);
    if (!cycle || newest < 0)
        return;
    int64_t limit = cycle_limit(cycle, newest);
    if (limit < 0)
        return;
    j->on[K_STALE] = true;
    j->checked[K_STALE] = 1;
    if (judge_day <= limit)
        return;
    char nd[11], ld[11];
    day_text(newest, nd);
    day_text(limit, ld);
    struct qloop_buf m = {0};
    qloop_buf_printf(&m, "数据未按资源目录登记的更新周期（%s）更新：最近一次更新在 %s，应不晚于 %s 再次更新；请数源部门及时更新数据",
                     catalog_code_zh("update_cycle", cycle), nd, ld);
    padd(l, K_STALE, e->v[E_DATASET], "update_cycle", NULL, newest_update, &m);
    qloop_buf_free(&m);
}

/* late_update: each drift whose first sighting (catalog_drift) lies more
 * than 5 working days before judge_day (温州 第十一条). */
static int judge_late(sqlite3 *db, const struct cat_entry *e, const struct drift *d, size_t n,
                      int64_t judge_day, struct plist *l, struct judged *j,
                      struct qloop_error *err)
{
    sqlite3_stmt *st;
    if (prep(db, "SELECT first_seen FROM catalog_drift WHERE dataset = ?1 AND element = ?2"
                 " AND direction = ?3", &st, err) != 0)
        return -1;
    j->on[K_LATE_UPDATE] = true;
    j->checked[K_LATE_UPDATE] = (int64_t)n;
    struct qloop_buf m = {0};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, e->v[E_DATASET]);
        bind_text(st, 2, d[i].column);
        bind_text(st, 3, d[i].missing ? "missing" : "extra");
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE)
            continue;
        if (r != SQLITE_ROW) {
            rc = store_error(db, "读取资源目录的字段差异", err);
            break;
        }
        int64_t first = day_of((const char *)sqlite3_column_text(st, 0));
        if (first < 0)
            continue;
        int64_t deadline = calendar_add_working_days(first, 5);
        if (judge_day <= deadline)
            continue;
        char fd[11], dd[11];
        day_text(first, fd);
        day_text(deadline, dd);
        qloop_buf_printf(&m, "数据%s字段“%s”（%s 首次发现），资源目录未在 5 个工作日内（期限 %s）相应更新"
                             "（温州市公共数据共享开放管理暂行办法第十一条）；请数源部门更新资源目录",
                         d[i].missing ? "缺少目录所列的" : "新增了", d[i].column, fd, dd);
        padd(l, K_LATE_UPDATE, e->v[E_DATASET], d[i].column, d[i].column, fd, &m);
    }
    sqlite3_finalize(st);
    qloop_buf_free(&m);
    return rc;
}

/* uncatalogued: dataset was read but the catalog lacks it. */
static void judge_uncatalogued(const char *dataset, struct plist *l, struct judged *j)
{
    struct qloop_buf m = {0};
    j->on[K_UNCATALOGUED] = true;
    j->checked[K_UNCATALOGUED] = 1;
    qloop_buf_printf(&m, "数据集“%s”已汇聚到平台，但资源目录中没有它；请数源部门编制目录后导入", dataset);
    padd(l, K_UNCATALOGUED, dataset, "dataset", NULL, NULL, &m);
    qloop_buf_free(&m);
}

/* {"dataset", "kind", "element", "message"} of one problem. */
static json_t *problem_json(const struct problem *p)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "dataset", p->dataset, "kind", kinds[p->kind].name,
                     "element", p->element, "message", p->message);
}

/* Today (qloop_now, Shanghai) as a day number. */
static int64_t today_day(void)
{
    char date[11];
    qloop_format_date(qloop_now(), date);
    int y, m, d;
    qloop_parse_date(date, &y, &m, &d);
    return qloop_days_from_civil(y, m, d);
}

json_t *catalog_check(sqlite3 *db, struct qloop_error *err)
{
    int64_t version = current_version(db, err);
    if (version < 0)
        return NULL;
    struct catalog c = {0};
    struct plist l = {0};
    if (version > 0 && load_catalog(db, &c, err) != 0)
        return NULL;
    sqlite3_stmt *last = NULL, *seen = NULL;
    int rc = 0;
    if (version > 0)
        rc = prep(db, "SELECT d.columns, d.newest_update, r.as_of FROM run_datasets d"
                      " JOIN runs r ON r.id = d.run_id WHERE d.dataset = ?1"
                      " ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1", &last, err);
    if (rc == 0 && version > 0)
        rc = prep(db, "SELECT DISTINCT dataset FROM run_datasets ORDER BY dataset", &seen, err);
    int64_t today = today_day();
    for (size_t i = 0; i < c.n && rc == 0; i++) {
        const struct cat_entry *e = &c.v[i];
        struct judged j = {0};
        judge_elements(e, &l, &j);
        sqlite3_reset(last);
        bind_text(last, 1, e->v[E_DATASET]);
        int r = sqlite3_step(last);
        if (r == SQLITE_ROW) {
            const char *cols = (const char *)sqlite3_column_text(last, 0);
            json_t *columns = cols ? json_loads(cols, 0, NULL) : NULL;
            if (json_is_array(columns) && json_array_size(columns) > 0) {
                struct drift *d;
                int64_t checked;
                size_t n = compute_drift(e, columns, &d, &checked);
                judge_drift(e, d, n, checked, &l, &j);
                rc = judge_late(db, e, d, n, today, &l, &j, err);
                free(d);
            }
            json_decref(columns);
            judge_stale(e, (const char *)sqlite3_column_text(last, 1),
                        day_of((const char *)sqlite3_column_text(last, 2)), &l, &j);
        } else if (r != SQLITE_DONE) {
            rc = store_error(db, "读取运行结果", err);
        }
    }
    int r;
    while (rc == 0 && seen && (r = sqlite3_step(seen)) != SQLITE_DONE) {
        if (r != SQLITE_ROW) {
            rc = store_error(db, "读取运行结果", err);
            break;
        }
        const char *name = (const char *)sqlite3_column_text(seen, 0);
        struct judged j = {0};
        if (name && !catalog_find(&c, name))
            judge_uncatalogued(name, &l, &j);
    }
    sqlite3_finalize(last);
    sqlite3_finalize(seen);
    json_t *out = NULL;
    if (rc == 0) {
        json_t *problems = json_array();
        for (size_t i = 0; i < l.n; i++)
            json_array_append_new(problems, problem_json(&l.v[i]));
        out = json_object();
        json_object_set_new(out, "version", version ? json_integer(version) : json_null());
        json_object_set_new(out, "datasets", json_integer((json_int_t)c.n));
        json_object_set_new(out, "problems", problems);
    }
    plist_free(&l);
    catalog_clear(&c);
    return out;
}

/* ---- inside a run ---- */

struct run_check {
    sqlite3 *db;
    const char *run_id;
    json_t *summary_rules;
    sqlite3_stmt *finding, *result;
    struct qloop_error *err;
};

/* Writes problems from..n-1 of l as findings of the run: rule
 * DATASET.catalog_KIND, record key catalog:KIND:ELEMENT and its record_ref. */
static int write_findings(struct run_check *rc, const struct plist *l, size_t from)
{
    char ref[33];
    struct qloop_buf key = {0}, rule = {0};
    int r = 0;
    for (size_t i = from; i < l->n && r == 0; i++) {
        const struct problem *p = &l->v[i];
        qloop_buf_reset(&key);
        qloop_buf_reset(&rule);
        qloop_buf_printf(&key, "catalog:%s:%s", kinds[p->kind].name, p->element);
        qloop_buf_printf(&rule, "%s.catalog_%s", p->dataset, kinds[p->kind].name);
        store_record_ref(rc->db, p->dataset, key.ptr, key.len, ref);
        sqlite3_stmt *st = rc->finding;
        bind_text(st, 1, rc->run_id);
        bind_text(st, 2, p->dataset);
        bind_text(st, 3, rule.ptr);
        bind_text(st, 4, ref);
        bind_text(st, 5, key.ptr);
        bind_text(st, 6, p->column);
        bind_text(st, 7, p->value);
        bind_text(st, 8, p->message);
        r = exec_bound(rc->db, st, "写入资源目录问题", rc->err);
    }
    qloop_buf_free(&key);
    qloop_buf_free(&rule);
    return r;
}

/* Writes one rule_results row (resolve_missing = 1: a problem no longer
 * found is fixed) and one summary object per kind judged for dataset. */
static int write_results(struct run_check *rc, const char *dataset, const struct judged *j,
                         const struct plist *l, size_t from)
{
    struct qloop_buf rule = {0};
    int r = 0;
    for (int k = 0; k < NKINDS && r == 0; k++) {
        if (!j->on[k])
            continue;
        int64_t failed = 0;
        for (size_t i = from; i < l->n; i++)
            failed += l->v[i].kind == (enum kind)k;
        qloop_buf_reset(&rule);
        qloop_buf_printf(&rule, "%s.catalog_%s", dataset, kinds[k].name);
        sqlite3_stmt *st = rc->result;
        bind_text(st, 1, rc->run_id);
        bind_text(st, 2, rule.ptr);
        bind_text(st, 3, dataset);
        bind_text(st, 4, kinds[k].dimension);
        bind_text(st, 5, kinds[k].severity);
        bind_text(st, 6, kinds[k].message);
        sqlite3_bind_int64(st, 7, j->checked[k]);
        sqlite3_bind_int64(st, 8, failed);
        r = exec_bound(rc->db, st, "写入资源目录检查结果", rc->err);
        if (r == 0 && rc->summary_rules)
            json_array_append_new(rc->summary_rules,
                                  json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", rule.ptr, "dataset",
                                            dataset, "checked", (json_int_t)j->checked[k], "failed",
                                            (json_int_t)failed, "errors", (json_int_t)0));
    }
    qloop_buf_free(&rule);
    return r;
}

/* Records this run's drift of dataset in catalog_drift: new disagreements
 * get today's run as first sighting, resolved ones are forgotten. */
static int note_drift(struct run_check *rc, const char *dataset, const struct drift *d,
                      size_t n, const char *as_of)
{
    sqlite3_stmt *st;
    if (prep(rc->db, "INSERT INTO catalog_drift(dataset, element, direction, first_seen, first_run,"
                     " last_seen, last_run) VALUES(?1, ?2, ?3, ?4, ?5, ?4, ?5)"
                     " ON CONFLICT(dataset, element, direction) DO UPDATE SET"
                     " last_seen = excluded.last_seen, last_run = excluded.last_run",
             &st, rc->err) != 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        bind_text(st, 1, dataset);
        bind_text(st, 2, d[i].column);
        bind_text(st, 3, d[i].missing ? "missing" : "extra");
        bind_text(st, 4, as_of);
        bind_text(st, 5, rc->run_id);
        r = exec_bound(rc->db, st, "记录资源目录的字段差异", rc->err);
    }
    sqlite3_finalize(st);
    if (r != 0 || prep(rc->db, "DELETE FROM catalog_drift WHERE dataset = ?1 AND last_run IS NOT ?2",
                       &st, rc->err) != 0)
        return -1;
    bind_text(st, 1, dataset);
    bind_text(st, 2, rc->run_id);
    r = exec_bound(rc->db, st, "记录资源目录的字段差异", rc->err);
    sqlite3_finalize(st);
    return r;
}

/* Whether the run's own freshness rule (run.c, "DATASET.freshness") judged
 * dataset against the same cycle the catalog gives: then stale would only
 * repeat it. */
static bool freshness_covers(sqlite3 *db, const char *run_id, const char *dataset,
                             const char *run_cycle, const char *catalog_cycle)
{
    if (!run_cycle || !catalog_cycle || strcmp(run_cycle, catalog_cycle) != 0)
        return false;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM rule_results WHERE run_id = ?1 AND rule = ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return false;
    struct qloop_buf rule = {0};
    qloop_buf_printf(&rule, "%s.freshness", dataset);
    bind_text(st, 1, run_id);
    bind_text(st, 2, rule.ptr);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    qloop_buf_free(&rule);
    return found;
}

int catalog_check_run(sqlite3 *db, const char *run_id, json_t *summary_rules,
                      struct qloop_error *err)
{
    int64_t version = current_version(db, err);
    if (version <= 0)
        return version < 0 ? -1 : 0;
    struct catalog c = {0};
    if (load_catalog(db, &c, err) != 0)
        return -1;
    struct run_check rc = {.db = db, .run_id = run_id, .summary_rules = summary_rules, .err = err};
    sqlite3_stmt *ds = NULL, *asof = NULL;
    char as_of[32] = "";
    int r = prep(db, "SELECT as_of FROM runs WHERE id = ?1", &asof, err);
    if (r == 0) {
        bind_text(asof, 1, run_id);
        if (sqlite3_step(asof) == SQLITE_ROW && sqlite3_column_text(asof, 0))
            snprintf(as_of, sizeof as_of, "%s", (const char *)sqlite3_column_text(asof, 0));
        sqlite3_finalize(asof);
    }
    if (!as_of[0])
        qloop_format_datetime(qloop_now(), as_of);
    int64_t judge_day = day_of(as_of);
    if (r == 0)
        r = prep(db, "SELECT dataset, columns, newest_update, update_cycle FROM run_datasets"
                     " WHERE run_id = ?1 ORDER BY dataset", &ds, err);
    if (r == 0)
        r = prep(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key,"
                     " field, value, message) VALUES(?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8)",
                 &rc.finding, err);
    if (r == 0)
        r = prep(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                     " message, checked, failed, errors, resolve_missing)"
                     " VALUES(?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8, 0, 1)", &rc.result, err);
    struct plist l = {0};
    if (r == 0)
        bind_text(ds, 1, run_id);
    int step = SQLITE_DONE;
    while (r == 0 && (step = sqlite3_step(ds)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(ds, 0);
        const char *cols = (const char *)sqlite3_column_text(ds, 1);
        const char *newest = (const char *)sqlite3_column_text(ds, 2);
        const char *run_cycle = (const char *)sqlite3_column_text(ds, 3);
        size_t from = l.n;
        struct judged j = {0};
        const struct cat_entry *e = name ? catalog_find(&c, name) : NULL;
        if (!name)
            continue;
        if (!e) {
            judge_uncatalogued(name, &l, &j);
        } else {
            j.on[K_UNCATALOGUED] = true;
            j.checked[K_UNCATALOGUED] = 1;
            judge_elements(e, &l, &j);
            json_t *columns = cols ? json_loads(cols, 0, NULL) : NULL;
            if (json_is_array(columns) && json_array_size(columns) > 0) {
                struct drift *d;
                int64_t checked;
                size_t n = compute_drift(e, columns, &d, &checked);
                judge_drift(e, d, n, checked, &l, &j);
                r = note_drift(&rc, name, d, n, as_of);
                if (r == 0)
                    r = judge_late(db, e, d, n, judge_day, &l, &j, err);
                free(d);
            }
            json_decref(columns);
            if (!freshness_covers(db, run_id, name, run_cycle, e->v[E_UPDATE_CYCLE]))
                judge_stale(e, newest, judge_day, &l, &j);
        }
        if (r == 0)
            r = write_findings(&rc, &l, from);
        if (r == 0)
            r = write_results(&rc, name, &j, &l, from);
    }
    if (r == 0 && step != SQLITE_DONE)
        r = store_error(db, "读取本次运行的数据集", err);
    sqlite3_finalize(ds);
    sqlite3_finalize(rc.finding);
    sqlite3_finalize(rc.result);
    plist_free(&l);
    catalog_clear(&c);
    return r;
}

/* ---- show and history ---- */

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
    sqlite3_stmt *st;
    if (prep(db, "SELECT version, at, actor, file FROM catalog_versions WHERE at < ?1"
                 " ORDER BY version DESC LIMIT 1", &st, err) != 0)
        return -2;
    bind_text(st, 1, cutoff);
    int r = sqlite3_step(st);
    json_t *o = json_object();
    int64_t version = 0;
    if (r == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
        json_object_set_new(o, "version", json_integer(version));
        json_object_set_new(o, "imported_at", jstr((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(o, "actor", jstr((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(o, "file", jstr((const char *)sqlite3_column_text(st, 3)));
    } else {
        json_object_set_new(o, "version", json_null());
        json_object_set_new(o, "imported_at", json_null());
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        json_decref(o);
        store_error(db, "读取资源目录版本", err);
        return -2;
    }
    json_object_set_new(o, "as_of", as_of ? json_string(as_of) : json_null());
    json_t *list = json_array();
    json_object_set_new(o, "datasets", list);
    if (prep(db, "SELECT h.op, h.entry FROM catalog_history h WHERE h.version = (SELECT max(version)"
                 " FROM catalog_history x WHERE x.dataset = h.dataset AND x.version <= ?1)"
                 " AND (?2 IS NULL OR h.dataset = ?2) ORDER BY h.dataset", &st, err) != 0) {
        json_decref(o);
        return -2;
    }
    sqlite3_bind_int64(st, 1, version);
    bind_text(st, 2, dataset);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *op = (const char *)sqlite3_column_text(st, 0);
        const char *entry = (const char *)sqlite3_column_text(st, 1);
        json_t *e = entry && op && strcmp(op, "remove") != 0 ? json_loads(entry, 0, NULL) : NULL;
        if (e)
            json_array_append_new(list, e);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        json_decref(o);
        store_error(db, "读取资源目录历史", err);
        return -2;
    }
    *out = o;
    return 0;
}

int catalog_history(sqlite3 *db, const char *dataset, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    sqlite3_stmt *st, *hs;
    if (prep(db, "SELECT version, at, actor, file, datasets, added, changed, removed"
                 " FROM catalog_versions ORDER BY version", &st, err) != 0)
        return -2;
    if (prep(db, "SELECT changes FROM catalog_history WHERE version = ?1"
                 " AND (?2 IS NULL OR dataset = ?2) ORDER BY dataset", &hs, err) != 0) {
        sqlite3_finalize(st);
        return -2;
    }
    json_t *list = json_array();
    int r, hr = SQLITE_DONE;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *changes = json_array();
        sqlite3_reset(hs);
        sqlite3_bind_int64(hs, 1, sqlite3_column_int64(st, 0));
        bind_text(hs, 2, dataset);
        while ((hr = sqlite3_step(hs)) == SQLITE_ROW) {
            const char *text = (const char *)sqlite3_column_text(hs, 0);
            json_t *c = text ? json_loads(text, 0, NULL) : NULL;
            if (json_is_array(c))
                json_array_extend(changes, c);
            json_decref(c);
        }
        if (hr != SQLITE_DONE) {
            json_decref(changes);
            break;
        }
        if (dataset && json_array_size(changes) == 0) {
            json_decref(changes);
            continue;
        }
        const char *at = (const char *)sqlite3_column_text(st, 1);
        json_t *v = json_object();
        json_object_set_new(v, "version", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(v, "at", jstr(at));
        json_object_set_new(v, "date", at ? json_stringn(at, strlen(at) >= 10 ? 10 : strlen(at))
                                          : json_null());
        json_object_set_new(v, "actor", jstr((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(v, "file", jstr((const char *)sqlite3_column_text(st, 3)));
        json_object_set_new(v, "datasets", json_integer(sqlite3_column_int64(st, 4)));
        json_object_set_new(v, "added", json_integer(sqlite3_column_int64(st, 5)));
        json_object_set_new(v, "changed", json_integer(sqlite3_column_int64(st, 6)));
        json_object_set_new(v, "removed", json_integer(sqlite3_column_int64(st, 7)));
        json_object_set_new(v, "changes", changes);
        json_array_append_new(list, v);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(hs);
    if (r != SQLITE_DONE) {
        json_decref(list);
        store_error(db, "读取资源目录历史", err);
        return -2;
    }
    *out = list;
    return 0;
}
