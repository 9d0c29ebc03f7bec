/*
 * pack.c — loading rule files into a pack (see pack.h).
 *
 * The DSL is curried functions installed in each file's environment (the
 * four declarations and `limits`):
 * `rule "id" { ... }` is rule("id")({ ... }). The outer call checks the name
 * and returns a closure; the closure checks the table against the attribute
 * list of its kind and records the declaration in the C pack, raising a Lua
 * error that names the rule file's line for anything wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "lua/sandbox.h"
#include "rules/dsl.h"
#include "rules/forms.h"
#include "rules/pack.h"

static const char PACK_KEY[] = "qloop.pack";

static const char *const dimensions[] = {"normative",   "completeness", "accuracy", "consistency",
                                         "timeliness",  "accessibility", NULL};
static const char *const severities[] = {"high", "medium", "low", NULL};
static const char *const cycles[] = {"realtime", "daily",     "weekly", "monthly",
                                     "quarterly", "yearly", NULL};

/* The pack being loaded. The DSL declares only while a file loads: rule code
 * calling `rule` or `dataset` later, from a check, would change the pack
 * under the run that reads it. */
static struct pack *pack_of(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, PACK_KEY);
    struct pack *p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!p->loading)
        dsl_error(L, "dataset、cleanse、rule、compare 和 limits 只能在加载规则文件时声明，"
                     "不能在检查或清洗函数中调用");
    return p;
}

static char *rule_file_dir_join(const char *file, const char *rel)
{
    if (!file || rel[0] == '/' || strcmp(rel, "-") == 0)
        return qloop_xstrdup(rel);
    const char *slash = strrchr(file, '/');
    if (!slash)
        return qloop_xstrdup(rel);
    struct qloop_buf b = {0};
    qloop_buf_append(&b, file, (size_t)(slash - file + 1));
    qloop_buf_append(&b, rel, strlen(rel));
    return b.ptr;
}

struct pack_dataset *pack_find_dataset(const struct pack *p, const char *name)
{
    for (size_t i = 0; i < p->ndatasets; i++)
        if (strcmp(p->datasets[i].name, name) == 0)
            return &p->datasets[i];
    return NULL;
}

bool pack_is_sensitive(const struct pack_dataset *d, const char *field)
{
    for (size_t i = 0; d && field && i < d->nsensitive; i++)
        if (strcmp(d->sensitive[i], field) == 0)
            return true;
    return false;
}

/* ---- dataset "name" { ... } ---- */

static const char *const dataset_keys[] = {
    "source", "key", "owner", "update_cycle", "sensitive", "encoding", "format",
    "updated_at", "title", "description", "fields", "records", "sheet", "header_row",
    "query", "table", "null_values", "bad_rows", NULL,
};

static const char *const formats[] = {"csv", "tsv", "jsonl", "json", "xlsx", NULL};

/* 1 when source names a database ("odbc:NAME") rather than a file. */
static bool is_odbc_source(const char *source)
{
    return source && strncmp(source, "odbc:", 5) == 0;
}

/* What kind of source a dataset declares: its format, else "odbc" or the
 * source's extension in lower case (into ext); NULL when it cannot be told
 * (no source: --data gives it at run time). */
static const char *source_kind(const struct pack_dataset *d, char ext[8])
{
    if (is_odbc_source(d->source))
        return "odbc";
    if (d->format)
        return d->format;
    const char *slash = d->source ? strrchr(d->source, '/') : NULL;
    const char *dot = d->source ? strrchr(slash ? slash : d->source, '.') : NULL;
    if (!dot || strlen(dot + 1) >= 8)
        return NULL;
    size_t i = 0;
    for (const char *c = dot + 1; *c; c++)
        ext[i++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    ext[i] = '\0';
    if (!strcmp(ext, "ndjson"))
        return "jsonl";
    if (!strcmp(ext, "xlsm"))
        return "xlsx";
    return ext;
}

/* The source-specific attributes: each only where its source is (or may be)
 * of the kind it belongs to; header_row a positive integer; bad_rows "stop"
 * or "finding". Raises a DSL error. */
static void read_source_attrs(lua_State *L, struct pack_dataset *d, const char *name)
{
    char ext[8];
    const char *kind = source_kind(d, ext);
    static const struct { const char *attr, *kind, *hint; } only[] = {
        {"records", "json", " JSON 文档（format = \"json\" 或 .json 文件）"},
        {"sheet", "xlsx", " Excel 工作簿（.xlsx 文件）"},
        {"header_row", "xlsx", " Excel 工作簿（.xlsx 文件）"},
        {"query", "odbc", "数据库（source = \"odbc:数据源名\"）"},
        {"table", "odbc", "数据库（source = \"odbc:数据源名\"）"},
    };
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        int ty = lua_getfield(L, 1, only[i].attr);
        lua_pop(L, 1);
        if (ty != LUA_TNIL && kind && strcmp(kind, only[i].kind) != 0)
            dsl_error(L, "数据集 \"%s\" 的 %s 只用于%s，而这个数据集的来源是 %s", name, only[i].attr,
                      only[i].hint, kind);
    }
    if (is_odbc_source(d->source) && d->format)
        dsl_error(L, "数据集 \"%s\" 的来源是数据库（%s），不需要 format；请去掉 format", name, d->source);
    d->records = dsl_opt_string(L, 1, "records", "dataset", name);
    d->sheet = dsl_opt_string(L, 1, "sheet", "dataset", name);
    d->query = dsl_opt_string(L, 1, "query", "dataset", name);
    d->table = dsl_opt_string(L, 1, "table", "dataset", name);
    if (d->query && d->table)
        dsl_error(L, "数据集 \"%s\" 只能给出 query 或 table 之一", name);
    int ty = lua_getfield(L, 1, "header_row");
    if (ty != LUA_TNIL) {
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 1 || v > 1048576)
            dsl_error(L, "数据集 \"%s\" 的 header_row 应为表头所在的行号（从 1 起的整数）", name);
        d->header_row = (unsigned long)v;
    }
    lua_pop(L, 1);
    d->null_values = dsl_opt_strings(L, 1, "null_values", &d->nnull_values, "dataset", name);
    char *bad = dsl_opt_string(L, 1, "bad_rows", "dataset", name);
    if (bad) {
        bool ok = !strcmp(bad, "stop") || !strcmp(bad, "finding");
        d->bad_rows_finding = !strcmp(bad, "finding");
        free(bad);
        if (!ok)
            dsl_error(L, "数据集 \"%s\" 的 bad_rows 只能是 \"stop\"（默认：格式错误的行使运行停止）或 "
                         "\"finding\"（记为 %s.malformed_row 问题，运行继续）", name, name);
    }
}

static int dataset_body(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    if (!lua_istable(L, 1))
        return dsl_error(L, "dataset \"%s\" 后面应跟一个 { ... } 表", name);
    dsl_check_keys(L, 1, "dataset", name, dataset_keys, NULL);
    struct pack *p = pack_of(L);
    if (pack_find_dataset(p, name))
        return dsl_error(L, "数据集 \"%s\" 重复声明", name);
    /* The declaration joins the pack before it is filled in: an error raised
     * half-way leaves it there for pack_free, so nothing leaks. */
    p->datasets = qloop_xrealloc(p->datasets, (p->ndatasets + 1) * sizeof *p->datasets);
    struct pack_dataset *d = &p->datasets[p->ndatasets++];
    memset(d, 0, sizeof *d);
    dsl_where(L, &d->file, &d->line);
    d->name = qloop_xstrdup(name);
    char *src = dsl_opt_string(L, 1, "source", "dataset", name);
    if (src && is_odbc_source(src)) {
        d->source = src;
        if (!src[5])
            return dsl_error(L, "数据集 \"%s\" 的 source = \"odbc:\" 缺少数据源名：请写成 \"odbc:数据源名\"（odbc.ini 中的名字）",
                             name);
    } else if (src) {
        d->source = rule_file_dir_join(d->file, src);
        free(src);
    }
    d->format = dsl_opt_string(L, 1, "format", "dataset", name);
    if (d->format && !dsl_in_list(d->format, formats))
        return dsl_error(L, "数据集 \"%s\" 的 format 只能是 csv、tsv、jsonl、json 或 xlsx", name);
    read_source_attrs(L, d, name);
    d->encoding = dsl_opt_string(L, 1, "encoding", "dataset", name);
    d->keys = dsl_opt_strings(L, 1, "key", &d->nkeys, "dataset", name);
    d->owner = dsl_opt_string(L, 1, "owner", "dataset", name);
    d->update_cycle = dsl_opt_string(L, 1, "update_cycle", "dataset", name);
    if (d->update_cycle && !dsl_in_list(d->update_cycle, cycles))
        return dsl_error(L,
                         "数据集 \"%s\" 的 update_cycle \"%s\" 无效；可用：realtime, daily, weekly, "
                         "monthly, quarterly, yearly",
                         name, d->update_cycle);
    d->updated_at = dsl_opt_string(L, 1, "updated_at", "dataset", name);
    d->sensitive = dsl_opt_strings(L, 1, "sensitive", &d->nsensitive, "dataset", name);
    d->fields = dsl_opt_strings(L, 1, "fields", &d->nfields, "dataset", name);
    return 0;
}

static int dsl_dataset(lua_State *L)
{
    luaL_checkstring(L, 1);
    if (lua_rawlen(L, 1) == 0)
        return dsl_error(L, "数据集名称不能为空");
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, dataset_body, 1);
    return 1;
}

/* ---- cleanse "dataset" { field = fn | {fn, ...} } ---- */

static void read_step(lua_State *L, int idx, struct pack_step *st, const char *ds, const char *field)
{
    if (!lua_isfunction(L, idx))
        dsl_error(L, "cleanse \"%s\" 的字段 %s 应给出函数（如 clean.trim）或函数列表", ds, field);
    st->native = NULL;
    st->lua_ref = LUA_NOREF;
    if (lua_iscfunction(L, idx))
        st->native = qloop_native_cleaner_find(lua_tocfunction(L, idx));
    if (!st->native) {
        lua_pushvalue(L, idx);
        st->lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
}

static int cleanse_body(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    if (!lua_istable(L, 1))
        return dsl_error(L, "cleanse \"%s\" 后面应跟一个 { 字段 = 函数 } 表", name);
    struct pack *p = pack_of(L);
    struct pack_dataset *d = pack_find_dataset(p, name);
    if (!d)
        return dsl_error(L, "cleanse \"%s\"：数据集未声明；请先写 dataset \"%s\" { ... }", name, name);
    size_t first = d->ncleanse;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return dsl_error(L, "cleanse \"%s\" 的字段名必须是文本", name);
        const char *field = lua_tostring(L, -2);
        d->cleanse = qloop_xrealloc(d->cleanse, (d->ncleanse + 1) * sizeof *d->cleanse);
        struct pack_cleanse *c = &d->cleanse[d->ncleanse++];
        memset(c, 0, sizeof *c);
        c->field = qloop_xstrdup(field);
        if (lua_istable(L, -1)) {
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            c->steps = qloop_xcalloc((size_t)n + 1, sizeof *c->steps);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                read_step(L, lua_gettop(L), &c->steps[c->nsteps], name, field);
                c->nsteps++;
                lua_pop(L, 1);
            }
        } else {
            c->steps = qloop_xcalloc(1, sizeof *c->steps);
            read_step(L, lua_gettop(L), &c->steps[0], name, field);
            c->nsteps = 1;
        }
        lua_pop(L, 1);
    }
    /* A Lua table has no order: sort this block's fields by name so that
     * runs, counts and summaries come out the same every time. */
    for (size_t i = first + 1; i < d->ncleanse; i++) {
        struct pack_cleanse t = d->cleanse[i];
        size_t j = i;
        for (; j > first && strcmp(d->cleanse[j - 1].field, t.field) > 0; j--)
            d->cleanse[j] = d->cleanse[j - 1];
        d->cleanse[j] = t;
    }
    return 0;
}

static int dsl_cleanse(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, cleanse_body, 1);
    return 1;
}

/* ---- rule "dataset.name" { ... } ---- */

/* A rule's own attributes; its checks are the forms' (forms.h). */
static const char *const rule_keys[] = {
    "dataset", "field", "dimension", "severity", "basis", "message", "description",
    "resolve_missing", NULL,
};

/* Pushes the names of r's forms (every form when r is NULL) joined by sep,
 * the last two by last: the list the messages below show. */
static const char *push_form_names(lua_State *L, const struct pack_rule *r, const char *sep,
                                   const char *last)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n = 0;
    while (r ? n < r->nchecks : qloop_forms[n] != NULL)
        n++;
    for (size_t i = 0; i < n; i++) {
        if (i)
            luaL_addstring(&b, i + 1 == n ? last : sep);
        luaL_addstring(&b, r ? r->checks[i].form->name : qloop_forms[i]->name);
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int rule_body(lua_State *L)
{
    const char *id = lua_tostring(L, lua_upvalueindex(1));
    if (!lua_istable(L, 1))
        return dsl_error(L, "rule \"%s\" 后面应跟一个 { ... } 表", id);
    dsl_check_keys(L, 1, "规则", id, rule_keys, qloop_forms);
    struct pack *p = pack_of(L);
    for (size_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].id, id) == 0)
            return dsl_error(L, "规则 \"%s\" 重复声明（上一次在 %s:%ld）", id, p->rules[i].file,
                             p->rules[i].line);
    p->rules = qloop_xrealloc(p->rules, (p->nrules + 1) * sizeof *p->rules);
    struct pack_rule *r = &p->rules[p->nrules++];
    memset(r, 0, sizeof *r);
    r->check_ref = LUA_NOREF;
    r->id = qloop_xstrdup(id);
    dsl_where(L, &r->file, &r->line);
    r->dataset = dsl_opt_string(L, 1, "dataset", "规则", id);
    if (!r->dataset) {
        const char *dot = strchr(id, '.');
        if (!dot)
            return dsl_error(L, "规则 \"%s\" 不知道属于哪个数据集：请写成 \"数据集.规则名\" 或给出 dataset = \"...\"", id);
        r->dataset = qloop_xstrndup(id, (size_t)(dot - id));
    }
    r->field = dsl_opt_string(L, 1, "field", "规则", id);
    r->kind = r->field ? RULE_FIELD : RULE_RECORD;
    r->dimension = dsl_opt_string(L, 1, "dimension", "规则", id);
    if (r->dimension && !dsl_in_list(r->dimension, dimensions))
        return dsl_error(L, "规则 \"%s\" 的 dimension \"%s\" 无效；可用（GB/T 36344）：normative, completeness, accuracy, consistency, timeliness, accessibility", id, r->dimension);
    r->severity = dsl_opt_string(L, 1, "severity", "规则", id);
    if (r->severity && !dsl_in_list(r->severity, severities))
        return dsl_error(L, "规则 \"%s\" 的 severity \"%s\" 无效；可用：high, medium, low", id, r->severity);
    r->basis = dsl_opt_string(L, 1, "basis", "规则", id);
    r->message = dsl_opt_string(L, 1, "message", "规则", id);
    r->resolve_missing = dsl_opt_bool(L, 1, "resolve_missing", "规则", id);
    forms_parse(L, 1, r);
    if (r->kind == RULE_RECORD && r->nchecks)
        return dsl_error(L, "规则 \"%s\" 用了字段检查（%s），但没有给出 field", id,
                         push_form_names(L, r, "、", "、"));
    if (!r->nchecks && r->check_ref == LUA_NOREF)
        return dsl_error(L, "规则 \"%s\" 没有任何检查：请给出 %s", id,
                         push_form_names(L, NULL, "、", " 或 "));
    if (!r->dimension) {
        const char *dim = r->kind == RULE_RECORD ? "consistency" : forms_dimension(r);
        r->dimension = qloop_xstrdup(dim ? dim : "accuracy");
    }
    if (!r->severity)
        r->severity = qloop_xstrdup("medium");
    if (!r->message) {
        struct qloop_buf b = {0};
        if (r->field)
            qloop_buf_printf(&b, "%s 不符合规则 %s", r->field, id);
        else
            qloop_buf_printf(&b, "记录不符合规则 %s", id);
        r->message = b.ptr;
        r->message_default = true;
    }
    return 0;
}

static int dsl_rule(lua_State *L)
{
    luaL_checkstring(L, 1);
    if (lua_rawlen(L, 1) == 0)
        return dsl_error(L, "规则名称不能为空");
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, rule_body, 1);
    return 1;
}

/* ---- compare "name" { ... } ---- */

static const char *const compare_keys[] = {
    "left", "right", "key", "right_key", "fields", "authority", "description", NULL,
};

static void read_compare_field(lua_State *L, struct pack_compare *c, struct pack_compare_field *f)
{
    f->normalize_ref = f->equal_ref = LUA_NOREF;
    if (lua_type(L, -1) == LUA_TSTRING) {
        f->right = qloop_xstrdup(lua_tostring(L, -1));
        return;
    }
    if (!lua_istable(L, -1))
        dsl_error(L, "compare \"%s\" 的 fields.%s 应为右侧字段名或 { field = ..., ... }", c->name, f->left);
    static const char *const fkeys[] = {"field", "normalize", "tolerance", "date", "equal", NULL};
    dsl_check_keys(L, lua_gettop(L), "compare 字段", f->left, fkeys, NULL);
    f->right = dsl_opt_string(L, -1, "field", "compare", c->name);
    if (!f->right)
        f->right = qloop_xstrdup(f->left);
    int ty = lua_getfield(L, -1, "normalize");
    if (ty == LUA_TFUNCTION) {
        if (lua_iscfunction(L, -1))
            f->normalize = qloop_native_cleaner_find(lua_tocfunction(L, -1));
        if (!f->normalize) {
            lua_pushvalue(L, -1);
            f->normalize_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
    } else if (ty != LUA_TNIL) {
        dsl_error(L, "compare \"%s\" 的 normalize 应为函数", c->name);
    }
    lua_pop(L, 1);
    ty = lua_getfield(L, -1, "tolerance");
    if (ty == LUA_TNUMBER) {
        f->has_tolerance = true;
        f->tolerance = lua_tonumber(L, -1);
    } else if (ty != LUA_TNIL) {
        dsl_error(L, "compare \"%s\" 的 tolerance 应为数字", c->name);
    }
    lua_pop(L, 1);
    f->date = dsl_opt_bool(L, lua_gettop(L), "date", "compare", c->name);
    ty = lua_getfield(L, -1, "equal");
    if (ty == LUA_TFUNCTION) {
        lua_pushvalue(L, -1);
        f->equal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (ty != LUA_TNIL) {
        dsl_error(L, "compare \"%s\" 的 equal 应为 function(a, b)", c->name);
    }
    lua_pop(L, 1);
}

static int compare_body(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    if (!lua_istable(L, 1))
        return dsl_error(L, "compare \"%s\" 后面应跟一个 { ... } 表", name);
    dsl_check_keys(L, 1, "compare", name, compare_keys, NULL);
    struct pack *p = pack_of(L);
    for (size_t i = 0; i < p->ncompares; i++)
        if (strcmp(p->compares[i].name, name) == 0)
            return dsl_error(L, "compare \"%s\" 重复声明", name);
    p->compares = qloop_xrealloc(p->compares, (p->ncompares + 1) * sizeof *p->compares);
    struct pack_compare *c = &p->compares[p->ncompares++];
    memset(c, 0, sizeof *c);
    c->name = qloop_xstrdup(name);
    dsl_where(L, &c->file, &c->line);
    c->left = dsl_opt_string(L, 1, "left", "compare", name);
    c->right = dsl_opt_string(L, 1, "right", "compare", name);
    if (!c->left || !c->right)
        return dsl_error(L, "compare \"%s\" 需要 left 和 right 两个数据集", name);
    c->left_keys = dsl_opt_strings(L, 1, "key", &c->nleft_keys, "compare", name);
    c->right_keys = dsl_opt_strings(L, 1, "right_key", &c->nright_keys, "compare", name);
    c->authority = dsl_opt_string(L, 1, "authority", "compare", name);
    if (c->authority && strcmp(c->authority, "left") != 0 && strcmp(c->authority, "right") != 0)
        return dsl_error(L, "compare \"%s\" 的 authority 只能是 \"left\" 或 \"right\"", name);
    if (lua_getfield(L, 1, "fields") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return dsl_error(L, "compare \"%s\" 的 fields 应写成 { 左字段 = 右字段 }", name);
            c->fields = qloop_xrealloc(c->fields, (c->nfields + 1) * sizeof *c->fields);
            struct pack_compare_field *f = &c->fields[c->nfields++];
            memset(f, 0, sizeof *f);
            f->left = qloop_xstrdup(lua_tostring(L, -2));
            read_compare_field(L, c, f);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        return dsl_error(L, "compare \"%s\" 的 fields 应为表", name);
    }
    lua_pop(L, 1);
    /* fields came from a Lua table, which has no order: sort them by name */
    for (size_t i = 1; i < c->nfields; i++) {
        struct pack_compare_field t = c->fields[i];
        size_t j = i;
        for (; j > 0 && strcmp(c->fields[j - 1].left, t.left) > 0; j--)
            c->fields[j] = c->fields[j - 1];
        c->fields[j] = t;
    }
    return 0;
}

static int dsl_compare(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, compare_body, 1);
    return 1;
}

/* ---- limits { ... }: the budgets of each call into the pack's code ---- */

static const char *const limits_keys[] = {"cpu_seconds", "instructions", "memory_mb", NULL};

/* Reads t[key] (t at 1) as a number in [lo, hi] (an integer when integer is
 * set) into *out; leaves *out when absent. */
static void limit_number(lua_State *L, const char *key, double lo, double hi, bool integer,
                         double *out)
{
    int ty = lua_getfield(L, 1, key);
    if (ty != LUA_TNIL) {
        int isnum;
        double v = lua_tonumberx(L, -1, &isnum);
        if (ty != LUA_TNUMBER || !isnum || !(v >= lo && v <= hi) || (integer && v != (double)(long long)v))
            dsl_error(L, "limits 的 %s 应为 %g 到 %g 之间的%s", key, lo, hi, integer ? "整数" : "数");
        *out = v;
    }
    lua_pop(L, 1);
}

static int dsl_limits(lua_State *L)
{
    if (!lua_istable(L, 1))
        return dsl_error(L, "limits 后面应跟一个 { ... } 表，如 limits { cpu_seconds = 2 }");
    dsl_check_keys(L, 1, "limits", "规则包", limits_keys, NULL);
    struct pack *p = pack_of(L);
    if (p->limits_file)
        return dsl_error(L, "limits 重复声明（上一次在 %s:%ld）；一个规则包只能声明一次", p->limits_file,
                         p->limits_line);
    double cpu = 0, instr = 10000000, mem = 256; /* cpu 0: 1 s per 10 million instructions */
    limit_number(L, "cpu_seconds", 0.01, QLOOP_LUA_MAX_CPU_SECONDS, false, &cpu);
    limit_number(L, "instructions", 100000, (double)QLOOP_LUA_MAX_INSTRUCTIONS, true, &instr);
    limit_number(L, "memory_mb", 16, 4096, true, &mem);
    dsl_where(L, &p->limits_file, &p->limits_line);
    p->limits.cpu_seconds = cpu;
    p->limits.instructions = (long)instr;
    p->limits.memory_bytes = (size_t)mem << 20;
    qloop_lua_set_limits(L, &p->limits);
    return 0;
}

static const luaL_Reg dsl_funcs[] = {
    {"limits", dsl_limits},
    {"dataset", dsl_dataset},
    {"cleanse", dsl_cleanse},
    {"rule", dsl_rule},
    {"compare", dsl_compare},
    {NULL, NULL},
};

struct pack *pack_new(void)
{
    struct pack *p = qloop_xcalloc(1, sizeof *p);
    /* A run stores nothing before its final transaction: a call past its CPU
     * time stops the process with exit 2, naming the rule and the row. */
    p->limits.exit_on_timeout = 1;
    p->L = qloop_lua_new(&p->limits);
    if (!p->L) {
        free(p);
        return NULL;
    }
    lua_pushlightuserdata(p->L, p);
    lua_setfield(p->L, LUA_REGISTRYINDEX, PACK_KEY);
    return p;
}

static void free_rule(struct pack_rule *r)
{
    free(r->id), free(r->dataset), free(r->field), free(r->dimension), free(r->severity);
    free(r->basis), free(r->message), free(r->file);
    forms_free(r);
}

void pack_free(struct pack *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ndatasets; i++) {
        struct pack_dataset *d = &p->datasets[i];
        free(d->name), free(d->source), free(d->format), free(d->encoding), free(d->owner);
        free(d->update_cycle), free(d->updated_at), free(d->file);
        free(d->records), free(d->sheet), free(d->query), free(d->table);
        dsl_free_strings(d->null_values, d->nnull_values);
        dsl_free_strings(d->keys, d->nkeys);
        dsl_free_strings(d->sensitive, d->nsensitive);
        dsl_free_strings(d->fields, d->nfields);
        for (size_t j = 0; j < d->ncleanse; j++) {
            free(d->cleanse[j].field);
            free(d->cleanse[j].steps);
        }
        free(d->cleanse);
    }
    free(p->datasets);
    for (size_t i = 0; i < p->nrules; i++)
        free_rule(&p->rules[i]);
    free(p->rules);
    for (size_t i = 0; i < p->ncompares; i++) {
        struct pack_compare *c = &p->compares[i];
        free(c->name), free(c->left), free(c->right), free(c->authority), free(c->file);
        dsl_free_strings(c->left_keys, c->nleft_keys);
        dsl_free_strings(c->right_keys, c->nright_keys);
        for (size_t j = 0; j < c->nfields; j++)
            free(c->fields[j].left), free(c->fields[j].right);
        free(c->fields);
    }
    free(p->compares);
    dsl_free_strings(p->files, p->nfiles);
    free(p->file_digests);
    free(p->limits_file);
    qloop_lua_close(p->L);
    free(p);
}

static int load_file(struct pack *p, const char *path, struct qloop_error *err)
{
    lua_State *L = p->L;
    uint8_t digest[32];
    if (qloop_lua_load_file_digest(L, path, digest, err) != 0)
        return -1;
    qloop_lua_push_env(L, -1);
    luaL_setfuncs(L, dsl_funcs, 0);
    lua_pop(L, 1);
    lua_pushvalue(L, -1); /* kept to seal its environment */
    p->loading = true;
    int rc = qloop_lua_pcall(L, 0, 0, err);
    p->loading = false;
    if (rc != LUA_OK) {
        lua_pop(L, 1);
        if (!err->file[0])
            snprintf(err->file, sizeof err->file, "%s", path);
        return -1;
    }
    /* From now on the file's globals are read-only: a check that kept state
     * in them would see only its worker's records (results changing with
     * --jobs). */
    qloop_lua_seal_env(L, -1);
    lua_pop(L, 1);
    p->files = qloop_xrealloc(p->files, (p->nfiles + 1) * sizeof *p->files);
    p->file_digests = qloop_xrealloc(p->file_digests, (p->nfiles + 1) * sizeof *p->file_digests);
    memcpy(p->file_digests[p->nfiles], digest, sizeof digest);
    p->files[p->nfiles++] = qloop_xstrdup(path);
    return 0;
}

static int lua_file_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".lua") == 0;
}

int pack_load_path(struct pack *p, const char *path, struct qloop_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return qloop_error_set(err, path, 0, 0, "找不到规则文件或目录（%s）；请检查 --rules 参数",
                               strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return load_file(p, path, err);
    struct dirent **list;
    int n = scandir(path, &list, lua_file_filter, alphasort);
    if (n < 0)
        return qloop_error_set(err, path, 0, 0, "无法读取规则目录（%s）", strerror(errno));
    int rc = 0;
    if (n == 0)
        rc = qloop_error_set(err, path, 0, 0, "规则目录中没有 .lua 文件；请检查 --rules 参数");
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            struct qloop_buf b = {0};
            qloop_buf_printf(&b, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
                             list[i]->d_name);
            rc = load_file(p, b.ptr, err);
            qloop_buf_free(&b);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int pack_finish(struct pack *p, struct qloop_error *err)
{
    for (size_t i = 0; i < p->nrules; i++) {
        struct pack_rule *r = &p->rules[i];
        if (!pack_find_dataset(p, r->dataset))
            return qloop_error_set(err, r->file, r->line, 0,
                                   "规则 \"%s\" 属于数据集 \"%s\"，但没有声明该数据集；请加上 dataset \"%s\" { ... }",
                                   r->id, r->dataset, r->dataset);
        if (forms_finish(p, r, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < p->ncompares; i++) {
        struct pack_compare *c = &p->compares[i];
        const char *sides[2] = {c->left, c->right};
        for (int s = 0; s < 2; s++) {
            struct pack_dataset *d = pack_find_dataset(p, sides[s]);
            if (!d)
                return qloop_error_set(err, c->file, c->line, 0,
                                       "compare \"%s\" 的数据集 \"%s\" 没有声明", c->name, sides[s]);
            size_t nk = s == 0 ? c->nleft_keys : (c->nright_keys ? c->nright_keys : c->nleft_keys);
            if (nk == 0 && d->nkeys == 0)
                return qloop_error_set(err, c->file, c->line, 0,
                                       "compare \"%s\" 没有给出 key，数据集 \"%s\" 也没有声明 key", c->name,
                                       sides[s]);
        }
        size_t nl = c->nleft_keys ? c->nleft_keys : pack_find_dataset(p, c->left)->nkeys;
        size_t nr = c->nright_keys ? c->nright_keys
                    : c->nleft_keys ? c->nleft_keys
                                    : pack_find_dataset(p, c->right)->nkeys;
        if (nl != nr)
            return qloop_error_set(err, c->file, c->line, 0,
                                   "compare \"%s\" 左右两侧的键字段个数不同（%zu 与 %zu）", c->name, nl, nr);
    }
    return 0;
}
