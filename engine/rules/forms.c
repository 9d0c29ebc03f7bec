/*
 * forms.c — the built-in check forms (see forms.h): one entry per form, its
 * parse and judge functions beside it, and the table at the end.
 *
 * Every parse reads its attribute with the same messages a rule file's author
 * sees for any attribute (FILE:LINE: 规则 "id" 的 X 应为 ...), checks the value
 * completely, and only then allocates its state.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "base/text.h"
#include "checks/division.h"
#include "checks/pattern.h"
#include "lua/native.h"
#include "rules/dsl.h"
#include "rules/forms.h"
#include "rules/pack.h"

/* ---- pattern = "regex" ---- */

static int pattern_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    size_t len;
    const char *text = dsl_peek_string(L, t, "pattern", &len, "规则", r->id);
    if (!text)
        return 0;
    char msg[256];
    size_t off = 0;
    struct qloop_pattern *p = pattern_compile(text, len, msg, sizeof msg, &off);
    if (!p)
        dsl_error(L, "规则 \"%s\" 的 pattern 不是有效的正则表达式（第 %d 个字符处）：%s", r->id, (int)off,
                  msg);
    lua_pop(L, 1);
    *state = p;
    return 1;
}

static enum form_verdict pattern_judge(void *state, const struct form_env *env, const char *s,
                                       size_t len, const char **reason)
{
    int m = pattern_match(state, s, len);
    if (m < 0) {
        *reason = "pattern 在这个值上回溯过多（超过 PCRE2 的 100000 步匹配限制），按规则出错计；"
                  "请改写模式，避免嵌套的重复（如 ^(a+)+$ 写成 ^a+$）";
        return FORM_ERROR;
    }
    if (!m) {
        *reason = "格式不符";
        return FORM_FAIL;
    }
    return FORM_PASS;
}

static void pattern_release(void *state) { pattern_free(state); }

/* ---- not_null = true, unique = true: flags only ---- */

static int not_null_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    return dsl_opt_bool(L, t, "not_null", "规则", r->id);
}

static int unique_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    return dsl_opt_bool(L, t, "unique", "规则", r->id);
}

/* ---- one_of = { "a", "b", ... } ---- */

static int one_of_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    size_t n;
    char **list = dsl_opt_strings(L, t, "one_of", &n, "规则", r->id);
    if (!list)
        return 0;
    struct strmap *set = strmap_new();
    for (size_t i = 0; i < n; i++)
        strmap_put(set, list[i], strlen(list[i]), NULL);
    dsl_free_strings(list, n);
    *state = set;
    return 1;
}

static enum form_verdict one_of_judge(void *state, const struct form_env *env, const char *s,
                                      size_t len, const char **reason)
{
    if (strmap_get(state, s, len))
        return FORM_PASS;
    *reason = "不在允许的取值范围内";
    return FORM_FAIL;
}

static void one_of_release(void *state) { strmap_free(state); }

/* ---- range = { min, max } (either may be nil) ---- */

struct range {
    double min, max;
};

static int range_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    if (!dsl_peek(L, t, "range", LUA_TTABLE, "规则 \"%s\" 的 range 应写成 { 最小值, 最大值 }", r->id))
        return 0;
    double bound[2] = {-HUGE_VAL, HUGE_VAL};
    for (int i = 1; i <= 2; i++) {
        int et = lua_geti(L, -1, i);
        if (et == LUA_TNUMBER)
            bound[i - 1] = lua_tonumber(L, -1);
        else if (et != LUA_TNIL)
            dsl_error(L, "规则 \"%s\" 的 range 第 %d 项应为数字", r->id, i);
        lua_pop(L, 1);
    }
    if (bound[0] > bound[1])
        dsl_error(L, "规则 \"%s\" 的 range 最小值大于最大值", r->id);
    lua_pop(L, 1);
    struct range *rg = qloop_xmalloc(sizeof *rg);
    *rg = (struct range){bound[0], bound[1]};
    *state = rg;
    return 1;
}

static enum form_verdict range_judge(void *state, const struct form_env *env, const char *s,
                                     size_t len, const char **reason)
{
    const struct range *rg = state;
    double v;
    if (!qloop_parse_number(s, len, &v)) {
        *reason = "不是数字";
        return FORM_FAIL;
    }
    if (v < rg->min || v > rg->max) {
        *reason = "超出取值范围";
        return FORM_FAIL;
    }
    return FORM_PASS;
}

/* ---- references = "dataset.field" ("divisions.code": GB/T 2260) ---- */

struct reference {
    char *dataset, *field;
};

static bool is_divisions(const char *dataset) { return strcmp(dataset, "divisions") == 0; }

static int references_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    const char *ref = dsl_peek_string(L, t, "references", NULL, "规则", r->id);
    if (!ref)
        return 0;
    const char *dot = strchr(ref, '.');
    if (!dot || dot == ref || !dot[1])
        dsl_error(L, "规则 \"%s\" 的 references 应写成 \"数据集.字段\"，例如 \"divisions.code\"", r->id);
    struct reference *rf = qloop_xmalloc(sizeof *rf);
    rf->dataset = qloop_xstrndup(ref, (size_t)(dot - ref));
    rf->field = qloop_xstrdup(dot + 1);
    lua_pop(L, 1);
    *state = rf;
    return 1;
}

static enum form_verdict references_judge(void *state, const struct form_env *env, const char *s,
                                          size_t len, const char **reason)
{
    const struct reference *rf = state;
    if (!is_divisions(rf->dataset) && env->deferred) {
        *env->deferred = true;
        return FORM_PASS;
    }
    bool found = is_divisions(rf->dataset) ? division_exists(s, len)
                                           : env->refset && strmap_get(env->refset, s, len) != NULL;
    if (found)
        return FORM_PASS;
    *reason = FORMS_REFERENCE_MISSING;
    return FORM_FAIL;
}

static const char *references_needs(const void *state, const char **field)
{
    const struct reference *rf = state;
    if (is_divisions(rf->dataset))
        return NULL;
    *field = rf->field;
    return rf->dataset;
}

static int references_finish(const struct pack *p, const struct pack_rule *r, const void *state,
                             struct qloop_error *err)
{
    const struct reference *rf = state;
    if (!is_divisions(rf->dataset) && !pack_find_dataset(p, rf->dataset))
        return qloop_error_set(err, r->file, r->line, 0,
                               "规则 \"%s\" 引用的数据集 \"%s\" 没有声明；可用 \"divisions.code\" 或本次运行声明的数据集",
                               r->id, rf->dataset);
    if (strcmp(rf->dataset, r->dataset) == 0)
        return qloop_error_set(err, r->file, r->line, 0, "规则 \"%s\" 不能引用自己的数据集", r->id);
    return 0;
}

static void references_release(void *state)
{
    struct reference *rf = state;
    free(rf->dataset);
    free(rf->field);
    free(rf);
}

/* ---- check = f, where f has a C twin (idcard.valid, ...) ---- */

/* A Lua function (or a C function without a twin, or any check of a
 * record rule) is kept in the registry for judge.c to call: not this form. */
static int check_parse(lua_State *L, int t, struct pack_rule *r, void **state)
{
    if (!dsl_peek(L, t, "check", LUA_TFUNCTION,
                  "规则 \"%s\" 的 check 应为函数（如 idcard.valid 或 function(v) ... end）", r->id))
        return 0;
    const struct qloop_native_check *native =
        lua_iscfunction(L, -1) ? qloop_native_check_find(lua_tocfunction(L, -1)) : NULL;
    if (native && r->kind == RULE_FIELD) {
        lua_pop(L, 1);
        *state = (void *)native;
        return 1;
    }
    r->check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static enum form_verdict check_judge(void *state, const struct form_env *env, const char *s,
                                     size_t len, const char **reason)
{
    const struct qloop_native_check *native = state;
    return native->check(s, len, reason) ? FORM_PASS : FORM_FAIL;
}

/* ---- the table ---- */

static const struct rule_form pattern_form = {
    .name = "pattern", .dimension = "normative", .rank = 1,
    .parse = pattern_parse, .judge = pattern_judge, .free = pattern_release,
};
static const struct rule_form not_null_form = {
    .name = "not_null", .flags = FORM_EMPTY_FAILS, .dimension = "completeness", .rank = 3,
    .parse = not_null_parse,
};
static const struct rule_form unique_form = {
    .name = "unique", .flags = FORM_WHOLE_DATASET, .dimension = "accuracy", .rank = 4,
    .parse = unique_parse,
};
static const struct rule_form one_of_form = {
    .name = "one_of", .dimension = "normative", .rank = 1,
    .parse = one_of_parse, .judge = one_of_judge, .free = one_of_release,
};
static const struct rule_form range_form = {
    .name = "range", .parse = range_parse, .judge = range_judge, .free = free,
};
static const struct rule_form references_form = {
    .name = "references", .dimension = "consistency", .rank = 2,
    .parse = references_parse, .judge = references_judge, .needs = references_needs,
    .finish = references_finish, .free = references_release,
};
static const struct rule_form check_form = {
    .name = "check", .parse = check_parse, .judge = check_judge,
};

const struct rule_form *const qloop_forms[] = {
    &pattern_form, &not_null_form, &unique_form, &one_of_form,
    &range_form,   &references_form, &check_form, NULL,
};

/* ---- over a rule's forms ---- */

void forms_parse(lua_State *L, int t, struct pack_rule *r)
{
    for (const struct rule_form *const *f = qloop_forms; *f; f++) {
        void *state = NULL;
        if (!(*f)->parse(L, t, r, &state))
            continue;
        /* joins the rule at once: a later error leaves it to pack_free */
        r->checks = qloop_xrealloc(r->checks, (r->nchecks + 1) * sizeof *r->checks);
        r->checks[r->nchecks++] = (struct rule_check){*f, state};
        r->form_flags |= (*f)->flags;
    }
}

const char *forms_dimension(const struct pack_rule *r)
{
    const struct rule_form *best = NULL;
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct rule_form *f = r->checks[i].form;
        if (f->dimension && (!best || f->rank > best->rank))
            best = f;
    }
    return best ? best->dimension : NULL;
}

int forms_finish(const struct pack *p, const struct pack_rule *r, struct qloop_error *err)
{
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct rule_check *c = &r->checks[i];
        if (c->form->finish && c->form->finish(p, r, c->state, err) != 0)
            return -1;
    }
    return 0;
}

enum form_verdict forms_judge(const struct pack_rule *r, const struct form_env *env,
                              const char *s, size_t len, const char **reason)
{
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct rule_check *c = &r->checks[i];
        if (!c->form->judge)
            continue;
        enum form_verdict v = c->form->judge(c->state, env, s, len, reason);
        if (v != FORM_PASS)
            return v;
    }
    return FORM_PASS;
}

const char *forms_needs(const struct pack_rule *r, const char **field)
{
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct rule_check *c = &r->checks[i];
        const char *ds = c->form->needs ? c->form->needs(c->state, field) : NULL;
        if (ds)
            return ds;
    }
    return NULL;
}

void forms_free(struct pack_rule *r)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].form->free)
            r->checks[i].form->free(r->checks[i].state);
    free(r->checks);
    r->checks = NULL;
    r->nchecks = 0;
}
