/*
 * read.c — reading a catalog file into a struct catalog (read.h).
 *
 * A catalog file is either JSON ({"datasets": [...]} with the English keys
 * of docs/catalog.md, parsed with jansson) or CSV with the Chinese headers
 * staff keep in spreadsheets. CSV is not parsed here: its rows come from the
 * CSV adapter (adapters/csv.c, through the finder the command line hands
 * in), so the catalog reads CSV exactly as datasets are read — RFC 4180,
 * strict, GBK/GB18030 converted when declared — and its line numbers are
 * lines of the file. Rows whose cells are all blank (a spreadsheet's empty
 * rows) are skipped.
 *
 * Before either, the whole file is read once (at most 64 MiB): to tell JSON
 * from CSV when the extension does not, and to refuse an empty file, NUL
 * bytes and text that is not UTF-8 with the catalog's own advice (declare
 * --encoding gbk) before anything is parsed.
 *
 * Both forms build entries the same way (set_scalar, the data items, the
 * sensitive list) and every entry is checked whole (finish_entry) before
 * the next, so an error names the file, the line or entry and the dataset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/text.h"
#include "catalog/read.h"

#define MAX_FILE ((size_t)64 << 20)

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

/* ---- building an entry ---- */

/* The stored code for value (English code, Chinese name or its other
 * spelling), or NULL when value is none of them. */
static const char *code_of(const struct cat_code *codes, const char *value)
{
    for (const struct cat_code *c = codes; c->code; c++)
        if (strcmp(value, c->code) == 0 || strcmp(value, c->zh) == 0 ||
            (c->alt && strcmp(value, c->alt) == 0))
            return c->code;
    return NULL;
}

/* Sets a scalar element from text (trimmed; empty means not given),
 * turning an enumerated value into its code and a key list into "a,b".
 * Returns 0 or -1 with err. */
static int set_scalar(struct cat_entry *e, int el, const char *text, const struct src *s,
                      struct qloop_error *err)
{
    char *v = cat_trim(text, strlen(text));
    const struct cat_code *codes = cat_elements[el].codes;
    if (v && codes) {
        const char *code = code_of(codes, v);
        if (!code) {
            struct qloop_buf list = {0};
            for (const struct cat_code *c = codes; c->code; c++)
                qloop_buf_printf(&list, "%s%s（%s）", c == codes ? "" : "、", c->zh, c->code);
            src_error(err, s, "%s“%s”不是可用的取值；可用：%s", cat_elements[el].zh, v,
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
        size_t n = cat_split(v, cat_name_seps, false, &parts);
        struct qloop_buf b = {0};
        for (size_t i = 0; i < n; i++)
            qloop_buf_printf(&b, "%s%s", i ? "," : "", parts[i]);
        cat_free_list(parts, n);
        free(v);
        v = b.ptr;
    }
    free(e->v[el]);
    e->v[el] = v;
    return 0;
}

/* Adds one data item (taking the strings); refuses a name given twice. */
static int add_field(struct cat_entry *e, char *name, char *label, char *type, bool sensitive,
                     const struct src *s, struct qloop_error *err)
{
    if (cat_entry_field(e, name)) {
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
    size_t n = cat_split(item, cat_part_seps, true, &parts);
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
    cat_free_list(parts, n);
    return rc;
}

/* Parses the 数据项 text: items separated by ';' (or '；', or lines). */
static int parse_items(struct cat_entry *e, const char *text, const struct src *s,
                       struct qloop_error *err)
{
    char **items;
    size_t n = cat_split(text, cat_item_seps, false, &items);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = parse_item(e, items[i], s, err);
    cat_free_list(items, n);
    return rc;
}

/* Notes the item names in text (separated by ; , 、) as sensitive; they are
 * matched against the data items by finish_entry. */
static void add_sensitive(struct cat_entry *e, const char *text)
{
    char **names;
    size_t n = cat_split(text, cat_name_seps, false, &names);
    e->sens = qloop_xrealloc(e->sens, (e->nsens + n + 1) * sizeof *e->sens);
    for (size_t i = 0; i < n; i++)
        e->sens[e->nsens++] = names[i];
    free(names);
}

/* Checks that every name of the key list is a data item of e. */
static int check_keys(const struct cat_entry *e, const struct src *s, struct qloop_error *err)
{
    char **keys;
    size_t n = cat_split(e->v[E_KEY], cat_name_seps, false, &keys);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!cat_entry_field(e, keys[i]))
            rc = src_error(err, s, "键“%s”不在该数据集的数据项中；请在“数据项”中列出它或改正名称",
                           keys[i]);
    cat_free_list(keys, n);
    return rc;
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
        struct cat_field *f = cat_entry_field(e, e->sens[i]);
        if (!f)
            return src_error(err, s, "敏感数据项“%s”不在该数据集的数据项中；请在“数据项”中列出它或改正名称",
                             e->sens[i]);
        f->sensitive = true;
    }
    cat_free_list(e->sens, e->nsens);
    e->sens = NULL;
    e->nsens = 0;
    return e->v[E_KEY] ? check_keys(e, s, err) : 0;
}

/* ---- CSV, through the CSV adapter ---- */

/* Maps each header of the CSV to its element (col_el[i], -1 for a header
 * that is only white space); refuses unknown and repeated headers and a
 * file without 数据集标识. The header is line 1. */
static int csv_header(const char *path, const char *const *names, size_t n, int *col_el,
                      struct qloop_error *err)
{
    bool seen[NELEM] = {false};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *h = cat_trim(names[i], strlen(names[i]));
        col_el[i] = -1;
        if (!h)
            continue;
        for (int el = 0; el < NELEM; el++)
            if (strcmp(h, cat_elements[el].zh) == 0 || strcmp(h, cat_elements[el].key) == 0)
                col_el[i] = el;
        if (col_el[i] < 0) {
            struct qloop_buf list = {0};
            for (int el = 0; el < NELEM; el++)
                qloop_buf_printf(&list, "%s%s", el ? "、" : "", cat_elements[el].zh);
            rc = qloop_error_set(err, path, 1, 0, "表头第 %zu 列“%s”不是目录的列；可用的列：%s",
                                 i + 1, h, qloop_buf_str(&list));
            qloop_buf_free(&list);
        } else if (seen[col_el[i]]) {
            rc = qloop_error_set(err, path, 1, 0, "表头中“%s”出现了两次；请删去一列",
                                 cat_elements[col_el[i]].zh);
        }
        if (col_el[i] >= 0)
            seen[col_el[i]] = true;
        free(h);
    }
    if (rc == 0 && !seen[E_DATASET])
        rc = qloop_error_set(err, path, 1, 0,
                             "表头中没有“数据集标识”列；它写明每行是哪个数据集（规则文件中 dataset \"名称\" 的名称）");
    return rc;
}

/* Whether s[0..len) is only white space. */
static bool blank(const char *s, size_t len)
{
    size_t k;
    while (len && (k = cat_space_at(s, len)) != 0)
        s += k, len -= k;
    return len == 0;
}

/* Reads one CSV row (cells[0..n), starting on line `line`) as a new entry
 * of c; a row of blank cells is skipped. */
static int csv_row(struct catalog *c, const char *path, const int *col_el,
                   const struct qloop_field *cells, size_t n, long line, struct qloop_error *err)
{
    size_t filled = 0;
    for (size_t i = 0; i < n; i++)
        filled += !blank(cells[i].ptr, cells[i].len);
    if (!filled)
        return 0;
    struct src s = {.file = path, .csv = true, .line = line};
    struct cat_entry *e = cat_add(c);
    e->line = line;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (col_el[i] == E_DATASET)
            rc = set_scalar(e, E_DATASET, cells[i].ptr, &s, err);
    s.dataset = e->v[E_DATASET];
    for (size_t i = 0; i < n && rc == 0; i++) {
        int el = col_el[i];
        const char *text = cells[i].ptr;
        if (el < 0 && !blank(text, cells[i].len))
            rc = src_error(err, &s, "第 %zu 列没有表头却有内容“%s”；请补上表头或删去该内容", i + 1, text);
        else if (el == E_FIELDS)
            rc = parse_items(e, text, &s, err);
        else if (el == E_SENSITIVE)
            add_sensitive(e, text);
        else if (el >= 0 && el != E_DATASET)
            rc = set_scalar(e, el, text, &s, err);
    }
    return rc == 0 ? finish_entry(e, &s, err) : rc;
}

/* Reads a CSV catalog into c through the CSV adapter f->find_adapter gives. */
static int read_csv(const struct catalog_file *f, struct catalog *c, struct qloop_error *err)
{
    const struct qloop_adapter *ad = f->find_adapter ? f->find_adapter(f->path, "csv") : NULL;
    if (!ad)
        return qloop_error_internal(err, f->path, "没有可用的 CSV 适配器，无法读取目录文件");
    struct qloop_source_options opts = {.encoding = f->encoding};
    void *st;
    if (ad->open(f->path, &opts, &st, err) != 0)
        return -1;
    size_t ncols;
    const char *const *names;
    ad->columns(st, &ncols, &names);
    int *col_el = qloop_xcalloc(ncols + 1, sizeof *col_el);
    int rc = csv_header(f->path, names, ncols, col_el, err);
    struct qloop_batch b;
    int r = 0;
    while (rc == 0 && (r = ad->next_batch(st, &b, err)) == 1)
        for (size_t i = 0; i < b.nrows && rc == 0; i++)
            rc = csv_row(c, f->path, col_el, b.cells + i * b.ncols,
                         b.ncols < ncols ? b.ncols : ncols, (long)b.line_no[i], err);
    free(col_el);
    ad->close(st);
    return rc == 0 && r < 0 ? -1 : rc;
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

/* One data item of "fields" given as an object {name, label, type,
 * sensitive}; i is its index, for messages. */
static int json_field(struct cat_entry *e, json_t *f, size_t i, const struct src *s,
                      struct qloop_error *err)
{
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
    char *n = name ? cat_trim(name, strlen(name)) : NULL;
    if (!n)
        return src_error(err, s, "fields[%zu] 缺少 name", i);
    return add_field(e, n, label ? cat_trim(label, strlen(label)) : NULL,
                     type ? cat_trim(type, strlen(type)) : NULL, sv && json_is_true(sv), s, err);
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
        int rc = json_is_string(f) ? parse_item(e, json_string_value(f), s, err)
                                   : json_field(e, f, i, s, err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Reads "sensitive": an array of item names, or one string as in CSV. */
static int json_sensitive(struct cat_entry *e, json_t *v, const struct src *s,
                          struct qloop_error *err)
{
    if (json_is_string(v)) {
        add_sensitive(e, json_string_value(v));
        return 0;
    }
    if (json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return src_error(err, s, "sensitive 应为数据项名称的数组");
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x))
            return src_error(err, s, "sensitive 应为数据项名称的数组");
        add_sensitive(e, json_string_value(x));
    }
    return 0;
}

/* Refuses a key of obj that names no element. */
static int json_known_keys(json_t *obj, const struct src *s, struct qloop_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (cat_element_by_key(key) >= 0)
            continue;
        struct qloop_buf list = {0};
        for (int el = 0; el < NELEM; el++)
            qloop_buf_printf(&list, "%s%s", el ? ", " : "", cat_elements[el].key);
        src_error(err, s, "键 \"%s\" 无效；可用：%s", key, qloop_buf_str(&list));
        qloop_buf_free(&list);
        return -1;
    }
    return 0;
}

/* Reads one dataset object of a JSON catalog into e; refuses unknown keys. */
static int json_entry(struct cat_entry *e, json_t *obj, struct src *s, struct qloop_error *err)
{
    if (!json_is_object(obj))
        return src_error(err, s, "应为一个对象 {\"dataset\": ..., ...}");
    if (json_known_keys(obj, s, err) != 0)
        return -1;
    const char *name;
    if (json_text(json_object_get(obj, "dataset"), "dataset", &name, s, err) != 0)
        return -1;
    if (name && set_scalar(e, E_DATASET, name, s, err) != 0)
        return -1;
    s->dataset = e->v[E_DATASET];
    for (int el = 0; el < NELEM; el++) {
        json_t *v = json_object_get(obj, cat_elements[el].key);
        const char *t;
        int rc = 0;
        if (!v || el == E_DATASET)
            continue;
        if (el == E_FIELDS)
            rc = json_fields(e, v, s, err);
        else if (el == E_SENSITIVE)
            rc = json_sensitive(e, v, s, err);
        else if ((rc = json_text(v, cat_elements[el].key, &t, s, err)) == 0 && t)
            rc = set_scalar(e, el, t, s, err);
        if (rc != 0)
            return -1;
    }
    return finish_entry(e, s, err);
}

/* Refuses a top-level key of a JSON catalog other than "datasets". */
static int json_top_keys(const char *path, json_t *root, struct qloop_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "datasets") != 0)
            return qloop_error_set(err, path, 0, 0, "顶层键 \"%s\" 无效；JSON 目录只有 \"datasets\"",
                                   key);
    }
    return 0;
}

/* Parses a whole JSON catalog ({"datasets": [...]}, or the bare array) into c. */
static int read_json(const char *path, const char *text, size_t len, struct catalog *c,
                     struct qloop_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return qloop_error_set(err, path, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0,
                               "JSON 格式错误：%s；请修正后重新导入", je.text);
    json_t *list = json_is_object(root) ? json_object_get(root, "datasets") : root;
    int rc = 0;
    if (!json_is_array(list))
        rc = qloop_error_set(err, path, 0, 0,
                             "JSON 目录应为 {\"datasets\": [ {\"dataset\": ..., ...}, ... ]}");
    else if (json_is_object(root))
        rc = json_top_keys(path, root, err);
    size_t i;
    json_t *obj;
    if (rc == 0)
        json_array_foreach(list, i, obj) {
            struct src s = {.file = path, .index = i};
            struct cat_entry *e = cat_add(c);
            e->index = i;
            if ((rc = json_entry(e, obj, &s, err)) != 0)
                break;
        }
    json_decref(root);
    return rc;
}

/* ---- the file ---- */

/* Reads the whole file at path into b (at most MAX_FILE bytes). */
static int slurp(const char *path, struct qloop_buf *b, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0, "无法打开目录文件；请检查路径和读取权限");
    int rc = qloop_buf_read(b, f, MAX_FILE);
    fclose(f);
    if (rc > 0)
        return qloop_error_set(err, path, 0, 0, "目录文件超过 64 MiB；请检查是否选错了文件");
    if (rc < 0)
        return qloop_error_set(err, path, 0, 0, "读取目录文件失败；请检查文件");
    return 0;
}

/* Whether the encoding declared is UTF-8 (or none). */
static bool utf8_declared(const char *encoding)
{
    return !encoding || !*encoding || strcasecmp(encoding, "utf-8") == 0 ||
           strcasecmp(encoding, "utf8") == 0;
}

/* Whether the catalog file is JSON: by its extension (.json / .csv), else
 * by its first character. */
static bool is_json(const char *path, const char *text, size_t len)
{
    size_t plen = strlen(path);
    if (plen >= 5 && strcmp(path + plen - 5, ".json") == 0)
        return true;
    if (plen >= 4 && strcmp(path + plen - 4, ".csv") == 0)
        return false;
    size_t i = 0, k;
    while (i < len && (k = cat_space_at(text + i, len - i)) != 0)
        i += k;
    return i < len && (text[i] == '{' || text[i] == '[');
}

/* Refuses what no parser should see: an empty CSV file, NUL bytes, text
 * that is not UTF-8 unless a CSV file declares GBK/GB18030 (the adapter
 * converts and checks it then), and JSON declared in another encoding. */
static int check_text(const struct catalog_file *f, bool json, const char *text, size_t len,
                      struct qloop_error *err)
{
    if (!json && blank(text, len))
        return qloop_error_set(err, f->path, 0, 0,
                               "目录文件是空的；第一行应为表头：数据集标识,业务名称,信息系统名称,数源部门,数据项,...");
    if (json && !utf8_declared(f->encoding))
        return qloop_error_set(err, f->path, 0, 0,
                               "JSON 目录文件只能是 UTF-8 编码，--encoding %s 只适用于 CSV 目录；"
                               "请去掉 --encoding，或把文件另存为 UTF-8",
                               f->encoding);
    if (utf8_declared(f->encoding)) {
        size_t bad = qloop_utf8_invalid_at(text, len);
        if (bad < len) {
            long line = 1;
            size_t bol = 0;
            for (size_t i = 0; i < bad; i++)
                if (text[i] == '\n')
                    line++, bol = i + 1;
            long col = 1;
            for (size_t i = bol; i < bad; i++)
                col += ((unsigned char)text[i] & 0xC0) != 0x80;
            if (json)
                return qloop_error_set(err, f->path, line, col,
                                       "JSON 目录文件不是 UTF-8 编码；请另存为 UTF-8 后重新导入");
            return qloop_error_set(err, f->path, line, col,
                                   "目录文件不是 UTF-8 编码（可能是 GBK/GB18030，如 Excel 默认保存的 CSV）；"
                                   "请加 --encoding gbk 重新导入，或另存为 UTF-8（Excel：另存为“CSV UTF-8”）");
        }
    }
    if (memchr(text, '\0', len))
        return qloop_error_set(err, f->path, 0, 0,
                               "目录文件含有 NUL 字节，不是文本文件；请检查是否选错了文件");
    return 0;
}

/* Refuses a dataset given twice in c (in file order). */
static int no_duplicates(const char *path, bool json, const struct catalog *c,
                         struct qloop_error *err)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < i; j++) {
            const struct cat_entry *a = &c->v[i], *b = &c->v[j];
            if (strcmp(a->v[E_DATASET], b->v[E_DATASET]) != 0)
                continue;
            struct src s = {.file = path, .csv = !json, .line = a->line, .index = a->index,
                            .dataset = a->v[E_DATASET]};
            if (json)
                return src_error(err, &s, "数据集重复出现（datasets[%zu] 已有）；每个数据集只写一次",
                                 b->index);
            return src_error(err, &s, "数据集重复出现（文件第 %ld 行已有）；每个数据集只写一行", b->line);
        }
    return 0;
}

int cat_read_file(const struct catalog_file *f, struct catalog *c, struct qloop_error *err)
{
    struct qloop_buf b = {0};
    int rc = slurp(f->path, &b, err);
    const char *text = qloop_buf_str(&b);
    size_t len = b.len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3;
    bool json = rc == 0 && is_json(f->path, text, len);
    if (rc == 0)
        rc = check_text(f, json, text, len, err);
    if (rc == 0)
        rc = json ? read_json(f->path, text, len, c, err) : read_csv(f, c, err);
    qloop_buf_free(&b);
    if (rc == 0)
        rc = no_duplicates(f->path, json, c, err);
    if (rc != 0) {
        cat_clear(c);
        return -1;
    }
    cat_sort(c);
    return 0;
}
