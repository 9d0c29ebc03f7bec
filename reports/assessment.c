/*
 * assessment.c — the indicator model and the assembled reports (report.h,
 * stage 2): loading the Lua model into the rule sandbox, evaluating it on
 * each department's facts, checking what it returns, the comparison with
 * the previous year's published report, the monthly scorecard, and
 * publishing (ranking and the city summary: ranking.c).
 *
 * Every crossing of the C/Lua boundary (facts into Lua tables, results back
 * into JSON) runs inside a protected call (qloop_lua_pcall), so a model that
 * misbehaves — wrong types, errors, endless loops, memory — ends in a Chinese
 * message naming the model file, never in a crash. Results are rounded here
 * (score 1 decimal, ratios 4, points 2), and ranks use the rounded scores,
 * so every format shows the same figures.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/audit.h"
#include "base/clock.h"
#include "lua/sandbox.h"
#include "report.h"
#include "base/sha256.h"
#include "store/store.h"

struct report_model {
    lua_State *L;
    int ref;          /* the model table M */
    char path[1024];  /* the file named in messages */
    char hash[65];
    json_t *grades;     /* [{"name", "min"}] */
    json_t *indicators; /* [{"id", "group", "name", "weight", "basis"}] */
    char *name, *title;
};

/* The default model compiled in from reports/assessment.lua (qloop_embed). */
extern const char qloop_data_assessment[];
extern const size_t qloop_data_assessment_len;

const char *report_default_model_path(void)
{
#ifdef QLOOP_DATADIR
    return QLOOP_DATADIR "/assessment.lua";
#else
    return "assessment.lua";
#endif
}

/* Reads the whole file at path into b. Returns 0 or -1 with err. */
static int read_model_file(const char *path, struct qloop_buf *b, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0,
                               "无法读取评估模型文件；请检查 --model 的路径（默认模型为 reports/assessment.lua）");
    int bad = qloop_buf_read(b, f, 0) != 0;
    fclose(f);
    if (bad)
        return qloop_error_set(err, path, 0, 0, "读取评估模型文件出错");
    return 0;
}

/* Loads and runs the chunk in text (file path) with nargs arguments below
 * it on the stack; leaves its one result. Returns 0 or -1 with err. */
static int run_chunk(lua_State *L, const char *path, const struct qloop_buf *text, int nargs,
                     struct qloop_error *err)
{
    const char *code = qloop_buf_str(text);
    size_t len = text->len;
    if (len >= 3 && memcmp(code, "\xEF\xBB\xBF", 3) == 0) {
        code += 3;
        len -= 3;
    }
    struct qloop_buf name = {0};
    qloop_buf_printf(&name, "@%s", path);
    int rc = qloop_lua_load(L, code, len, qloop_buf_str(&name), err);
    qloop_buf_free(&name);
    if (rc != 0) {
        lua_pop(L, nargs);
        return -1;
    }
    lua_insert(L, -(nargs + 1));
    if (qloop_lua_pcall(L, nargs, 1, err) != LUA_OK) {
        if (!err->file[0])
            snprintf(err->file, sizeof err->file, "%s", path);
        return -1;
    }
    return 0;
}

/* ---- reading the model's declarations (inside a protected call) ---------- */

/* A figure as JSON: an integer when whole, else rounded to decimals. */
static json_t *figure(double x, int decimals)
{
    if (isnan(x))
        return json_null();
    if (x == floor(x) && fabs(x) < 9e15)
        return json_integer((json_int_t)x);
    return json_real(report_round(x, decimals));
}


/* The string at idx as JSON; raises an error naming what when it is not
 * valid UTF-8 (jansson refuses such text). */
static json_t *lstr(lua_State *L, int idx, const char *what)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *v = s ? json_stringn(s, len) : NULL;
    if (!v)
        luaL_error(L, "%s 含有无效的 UTF-8 文字；评估模型的文字须为 UTF-8", what);
    return v;
}


struct decl {
    struct report_model *m;
};

/* Protected: reads M (argument 1) into the decl's JSON lists. */
static int read_decl(lua_State *L)
{
    struct decl *dc = lua_touserdata(L, 2);
    struct report_model *m = dc->m;
    if (!lua_istable(L, 1))
        return luaL_error(L, "评估模型应返回一个表（return M），实际返回了 %s", luaL_typename(L, 1));
    if (lua_getfield(L, 1, "evaluate") != LUA_TFUNCTION)
        return luaL_error(L, "评估模型缺少 evaluate 函数：function M.evaluate(d, facts) ... end");
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "name") == LUA_TSTRING)
        m->name = qloop_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "title") == LUA_TSTRING)
        m->title = qloop_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);

    if (lua_getfield(L, 1, "grades") != LUA_TTABLE || luaL_len(L, -1) < 1)
        return luaL_error(L, "评估模型的 grades 应为非空列表：{ {name=\"优秀\", min=90}, ... }");
    lua_Integer ng = luaL_len(L, -1);
    double prev = INFINITY;
    for (lua_Integer i = 1; i <= ng; i++) {
        lua_geti(L, -1, i);
        if (!lua_istable(L, -1))
            return luaL_error(L, "grades[%d] 应为 {name=, min=} 表", (int)i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "min");
        if (lua_type(L, -2) != LUA_TSTRING || lua_rawlen(L, -2) == 0)
            return luaL_error(L, "grades[%d].name 应为等级名称（如“优秀”）", (int)i);
        int isnum;
        double min = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(min) || min < 0 || min > 100)
            return luaL_error(L, "grades[%d].min 应为 0 到 100 之间的分数", (int)i);
        if (min >= prev)
            return luaL_error(L, "grades 应从最高等级排到最低等级，min 逐个减小（grades[%d]）", (int)i);
        prev = min;
        json_t *g = json_object();
        json_array_append_new(m->grades, g);
        json_object_set_new(g, "name", lstr(L, -2, "grades 的 name"));
        json_object_set_new(g, "min", figure(min, 2));
        lua_pop(L, 3);
    }
    lua_pop(L, 1);

    if (lua_getfield(L, 1, "indicators") != LUA_TTABLE || luaL_len(L, -1) < 1)
        return luaL_error(L, "评估模型的 indicators 应为非空列表");
    lua_Integer ni = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= ni; i++) {
        lua_geti(L, -1, i);
        if (!lua_istable(L, -1))
            return luaL_error(L, "indicators[%d] 应为表", (int)i);
        static const char *const keys[] = {"id", "group", "name", "basis"};
        const char *vals[4];
        for (int k = 0; k < 4; k++) {
            int t = lua_getfield(L, -1 - k, keys[k]);
            if (t != LUA_TSTRING && !(k == 3 && t == LUA_TNIL))
                return luaL_error(L, "indicators[%d].%s 应为文字", (int)i, keys[k]);
            vals[k] = lua_tostring(L, -1);
        }
        if (!vals[0][0])
            return luaL_error(L, "indicators[%d].id 不能为空", (int)i);
        lua_getfield(L, -5, "weight");
        int isnum;
        double w = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(w) || w < 0)
            return luaL_error(L, "指标 %s 的 weight 应为不小于 0 的数", vals[0]);
        size_t j;
        json_t *other;
        json_array_foreach(m->indicators, j, other) {
            if (strcmp(report_str(other, "id", ""), vals[0]) == 0)
                return luaL_error(L, "指标 id “%s” 重复", vals[0]);
        }
        json_t *o = json_object();
        json_array_append_new(m->indicators, o);
        json_object_set_new(o, "id", lstr(L, -5, "indicators 的 id"));
        json_object_set_new(o, "group", lstr(L, -4, "indicators 的 group"));
        json_object_set_new(o, "name", lstr(L, -3, "indicators 的 name"));
        json_object_set_new(o, "weight", figure(w, 2));
        json_object_set_new(o, "basis", vals[3] ? lstr(L, -2, "indicators 的 basis") : json_null());
        lua_pop(L, 6);
    }
    lua_pop(L, 1);
    return 0;
}

/* Fills err's file with the model path when the error named none. */
static void blame_model(const struct report_model *m, struct qloop_error *err)
{
    if (err && !err->file[0])
        snprintf(err->file, sizeof err->file, "%s", m->path);
}

struct report_model *report_model_load(const char *path, struct qloop_error *err)
{
    struct report_model *m = qloop_xcalloc(1, sizeof *m);
    m->ref = LUA_NOREF;
    m->grades = json_array();
    m->indicators = json_array();
    struct qloop_lua_limits limits = {.memory_bytes = (size_t)512 << 20, .instructions = 50000000L};
    m->L = qloop_lua_new(&limits);
    if (!m->L) {
        qloop_error_internal(err, NULL, "无法建立 Lua 沙箱（内存不足）");
        report_model_free(m);
        return NULL;
    }
    lua_State *L = m->L;
    /* The default model: the file in the source tree when it is there (so
     * staff can edit it), else the copy compiled into the binary. */
    const char *def = report_default_model_path();
    struct qloop_buf hashed = {0}, text = {0};
    int rc = 0;
    snprintf(m->path, sizeof m->path, "%s", def);
    if (access(def, R_OK) == 0) {
        rc = read_model_file(def, &text, err);
    } else {
        def = "reports/assessment.lua";
        snprintf(m->path, sizeof m->path, "%s", def);
        qloop_buf_append(&text, qloop_data_assessment, qloop_data_assessment_len);
    }
    if (rc == 0)
        rc = run_chunk(L, def, &text, 0, err);
    qloop_buf_append(&hashed, text.ptr ? text.ptr : "", text.len);
    if (rc == 0 && path) {
        snprintf(m->path, sizeof m->path, "%s", path);
        qloop_buf_reset(&text);
        rc = read_model_file(path, &text, err);
        if (rc != 0)
            lua_pop(L, 1);
        if (rc == 0)
            rc = run_chunk(L, path, &text, 1, err);
        qloop_buf_append(&hashed, "\n--model--\n", 11);
        qloop_buf_append(&hashed, text.ptr ? text.ptr : "", text.len);
    }
    if (rc == 0) {
        uint8_t digest[32];
        qloop_sha256(hashed.ptr ? hashed.ptr : "", hashed.len, digest);
        qloop_hex(digest, 32, m->hash);
        m->ref = luaL_ref(L, LUA_REGISTRYINDEX);
        struct decl dc = {m};
        lua_pushcfunction(L, read_decl);
        lua_rawgeti(L, LUA_REGISTRYINDEX, m->ref);
        lua_pushlightuserdata(L, &dc);
        if (qloop_lua_pcall(L, 2, 0, err) != LUA_OK)
            rc = -1;
    }
    qloop_buf_free(&hashed);
    qloop_buf_free(&text);
    if (rc != 0) {
        blame_model(m, err);
        report_model_free(m);
        return NULL;
    }
    return m;
}

void report_model_free(struct report_model *m)
{
    if (!m)
        return;
    qloop_lua_close(m->L);
    json_decref(m->grades);
    json_decref(m->indicators);
    free(m->name);
    free(m->title);
    free(m);
}

const char *report_model_hash(const struct report_model *m) { return m->hash; }

/* ---- facts into Lua ------------------------------------------------------- */

/* Pushes v as a Lua value: objects and arrays as tables, null as nil. */
static void push_json(lua_State *L, const json_t *v, int depth)
{
    luaL_checkstack(L, 4, "报告数据嵌套过深");
    if (depth > 32)
        luaL_error(L, "报告数据嵌套过深");
    if (json_is_object(v)) {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item) {
            push_json(L, item, depth + 1);
            lua_setfield(L, -2, key);
        }
    } else if (json_is_array(v)) {
        lua_createtable(L, (int)json_array_size(v), 0);
        for (size_t i = 0; i < json_array_size(v); i++) {
            push_json(L, json_array_get(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else if (json_is_string(v)) {
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    } else if (json_is_real(v)) {
        lua_pushnumber(L, json_real_value(v));
    } else if (json_is_boolean(v)) {
        lua_pushboolean(L, json_is_true(v));
    } else {
        lua_pushnil(L);
    }
}

/* Protected: pushes the JSON given as light userdata. */
static int push_json_cf(lua_State *L)
{
    push_json(L, lua_touserdata(L, 1), 0);
    return 1;
}

/* ---- results back into JSON (inside a protected call) ------------------- */

struct extract {
    const struct report_model *m;
    const char *dept;
    json_t *out; /* the department object being filled (owned by the caller) */
};

/* The number at field key of the table at idx, or NAN when nil; raises an
 * error naming what when it is something else or not finite. */
static double opt_number(lua_State *L, int idx, const char *key, const char *what)
{
    int t = lua_getfield(L, idx, key);
    double x = NAN;
    if (t != LUA_TNIL) {
        int isnum;
        x = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(x))
            luaL_error(L, "%s 的 %s 应为数字（实际为 %s）", what, key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return x;
}

/* The declaration of indicator id in the model, or NULL. */
static const json_t *declared(const struct report_model *m, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(m->indicators, i, o) {
        if (strcmp(report_str(o, "id", ""), id) == 0)
            return o;
    }
    return NULL;
}

/* Protected: reads evaluate's result (argument 1) into x->out. */
static int read_result(lua_State *L)
{
    struct extract *x = lua_touserdata(L, 2);
    const struct report_model *m = x->m;
    char what[600];
    snprintf(what, sizeof what, "部门「%s」的评估结果", x->dept);
    if (!lua_istable(L, 1))
        return luaL_error(L, "evaluate 应返回一个表（%s），实际返回了 %s", what, luaL_typename(L, 1));
    double score = opt_number(L, 1, "score", what);
    int gt = lua_getfield(L, 1, "grade");
    if (isnan(score)) {
        /* no score: no indicator applies, the department is not rated */
        if (gt != LUA_TNIL && !(gt == LUA_TSTRING && strcmp(lua_tostring(L, -1), REPORT_NOT_RATED) == 0))
            return luaL_error(L, "%s：没有 score（不参评）时不应有 grade，或应为“%s”", what,
                              REPORT_NOT_RATED);
        json_object_set_new(x->out, "score", json_null());
        json_object_set_new(x->out, "grade", json_string(REPORT_NOT_RATED));
        json_object_set_new(x->out, "rated", json_false());
    } else {
        if (score < 0 || score > 100)
            return luaL_error(L, "%s：score 应为 0 到 100 之间的数（不参评的部门不返回 score）", what);
        if (gt != LUA_TSTRING)
            return luaL_error(L, "%s：grade 应为等级名称", what);
        const char *grade = lua_tostring(L, -1);
        bool known = false;
        size_t i;
        json_t *g;
        json_array_foreach(m->grades, i, g) known = known || strcmp(report_str(g, "name", ""), grade) == 0;
        if (!known)
            return luaL_error(L, "%s：grade “%s” 不在模型的 grades 中", what, grade);
        json_object_set_new(x->out, "score", json_real(report_round(score, 1)));
        json_object_set_new(x->out, "grade", lstr(L, -1, what));
        json_object_set_new(x->out, "rated", json_true());
    }
    lua_pop(L, 1);

    json_t *inds = json_object();
    json_object_set_new(x->out, "indicators", inds);
    if (lua_getfield(L, 1, "indicators") != LUA_TTABLE)
        return luaL_error(L, "%s：indicators 应为列表", what);
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, -1, k);
        int it = lua_gettop(L);
        if (!lua_istable(L, it))
            return luaL_error(L, "%s：indicators[%d] 应为表", what, (int)k);
        if (lua_getfield(L, it, "id") != LUA_TSTRING)
            return luaL_error(L, "%s：indicators[%d].id 应为文字", what, (int)k);
        const char *id = lua_tostring(L, -1);
        const json_t *decl = declared(m, id);
        if (!decl)
            return luaL_error(L, "%s：指标 “%s” 未在模型的 indicators 中声明", what, id);
        if (json_object_get(inds, id))
            return luaL_error(L, "%s：指标 “%s” 出现两次", what, id);
        char iwhat[800];
        snprintf(iwhat, sizeof iwhat, "%s中的指标 %s", what, id);
        json_t *o = json_object();
        json_object_set_new(inds, id, o);
        json_object_set(o, "group", json_object_get(decl, "group"));
        json_object_set(o, "name", json_object_get(decl, "name"));
        double w = opt_number(L, it, "weight", iwhat);
        if (isnan(w))
            w = report_real(decl, "weight", 0);
        if (w < 0)
            return luaL_error(L, "%s：weight 不能为负", iwhat);
        json_object_set_new(o, "weight", figure(w, 2));
        double a = opt_number(L, it, "numerator", iwhat);
        double b = opt_number(L, it, "denominator", iwhat);
        double v = opt_number(L, it, "value", iwhat);
        double p = opt_number(L, it, "points", iwhat);
        if (!isnan(v) && (v < 0 || v > 1))
            return luaL_error(L, "%s：value 应在 0 到 1 之间（实际为 %f）", iwhat, v);
        if (!isnan(p) && (p < -1e-9 || p > w + 1e-9))
            return luaL_error(L, "%s：points 应在 0 到 weight 之间", iwhat);
        json_object_set_new(o, "numerator", figure(a, 2));
        json_object_set_new(o, "denominator", figure(b, 2));
        json_object_set_new(o, "value", isnan(v) ? json_null() : json_real(report_round(v, 4)));
        json_object_set_new(o, "points", isnan(p) ? json_null() : json_real(report_round(p, 2)));
        lua_getfield(L, it, "weak");
        json_object_set_new(o, "weak", json_boolean(lua_toboolean(L, -1)));
        lua_settop(L, it - 1);
    }
    lua_pop(L, 1);

    json_t *advice = json_array();
    json_object_set_new(x->out, "advice", advice);
    int t = lua_getfield(L, 1, "advice");
    if (t != LUA_TNIL && t != LUA_TTABLE)
        return luaL_error(L, "%s：advice 应为列表", what);
    n = t == LUA_TTABLE ? luaL_len(L, -1) : 0;
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, -1, k);
        int it = lua_gettop(L);
        if (!lua_istable(L, it))
            return luaL_error(L, "%s：advice[%d] 应为 {indicator=, text=, basis=} 表", what, (int)k);
        lua_getfield(L, it, "indicator");
        lua_getfield(L, it, "text");
        lua_getfield(L, it, "basis");
        if (lua_type(L, -2) != LUA_TSTRING || lua_rawlen(L, -2) == 0)
            return luaL_error(L, "%s：advice[%d].text 应为建议文字", what, (int)k);
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            return luaL_error(L, "%s：advice[%d].basis 应写明所依据的条款", what, (int)k);
        json_t *a = json_object();
        json_array_append_new(advice, a);
        json_object_set_new(a, "indicator",
                            lua_type(L, -3) == LUA_TSTRING ? lstr(L, -3, what) : json_null());
        json_object_set_new(a, "text", lstr(L, -2, what));
        json_object_set_new(a, "basis", lstr(L, -1, what));
        lua_settop(L, it - 1);
    }
    return 0;
}

/* ---- applying the model --------------------------------------------------- */

int report_model_apply(struct report_model *m, json_t *facts, struct qloop_error *err)
{
    lua_State *L = m->L;
    json_t *depts = json_object_get(facts, "departments");
    lua_pushcfunction(L, push_json_cf);
    lua_pushlightuserdata(L, facts);
    if (qloop_lua_pcall(L, 1, 1, err) != LUA_OK) {
        blame_model(m, err);
        return -1;
    }
    int facts_idx = lua_gettop(L);
    size_t n = json_array_size(depts);
    json_t **ranked = qloop_xcalloc(n ? n : 1, sizeof *ranked);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *d = json_array_get(depts, i);
        const char *name = report_str(d, "name", "");
        lua_rawgeti(L, LUA_REGISTRYINDEX, m->ref);
        lua_getfield(L, -1, "evaluate");
        lua_remove(L, -2);
        lua_getfield(L, facts_idx, "departments");
        lua_geti(L, -1, (lua_Integer)i + 1);
        lua_remove(L, -2);
        lua_pushvalue(L, facts_idx);
        if (qloop_lua_pcall(L, 2, 1, err) != LUA_OK) {
            rc = -1;
            break;
        }
        /* The department object in report order: ranking first, then facts. */
        json_t *out = json_object();
        json_object_set(out, "name", json_object_get(d, "name"));
        struct extract x = {m, name, out};
        lua_pushcfunction(L, read_result);
        lua_insert(L, -2);
        lua_pushlightuserdata(L, &x);
        if (qloop_lua_pcall(L, 2, 0, err) != LUA_OK) {
            json_decref(out);
            rc = -1;
            break;
        }
        json_object_set_new(out, "rank", json_integer(0));
        json_t *adv = json_incref(json_object_get(out, "advice")),
               *inds = json_incref(json_object_get(out, "indicators"));
        json_object_del(out, "advice");
        json_object_del(out, "indicators");
        json_object_set_new(out, "previous", json_null());
        json_object_set_new(out, "change", json_null());
        json_object_set_new(out, "rank_change", json_null());
        json_object_set_new(out, "indicators", inds);
        json_object_set_new(out, "advice", adv);
        const char *key;
        json_t *v;
        json_object_foreach(d, key, v) {
            if (!json_object_get(out, key))
                json_object_set(out, key, v);
        }
        ranked[i] = out;
    }
    lua_settop(L, facts_idx - 1);
    if (rc != 0) {
        blame_model(m, err);
        for (size_t i = 0; i < n; i++)
            json_decref(ranked[i]);
        free(ranked);
        return -1;
    }
    json_object_set_new(facts, "departments", report_rank(ranked, n));
    free(ranked);

    json_t *model = json_object();
    json_object_set_new(model, "name", report_jstr(m->name ? m->name : "（未命名模型）"));
    json_object_set_new(model, "hash", json_string(m->hash));
    json_object_set_new(facts, "model", model);
    json_object_set(facts, "grades", m->grades);
    json_object_set(facts, "indicators", m->indicators);
    json_t *dims = json_array();
    for (int i = 0; i < REPORT_NDIMS; i++)
        json_array_append_new(dims, json_pack("{s:s, s:s}", "id", report_dimensions[i], "name",
                                              report_dimensions_zh[i]));
    json_object_set_new(facts, "dimensions", dims);
    return 0;
}

/* ---- published reports ------------------------------------------------- */

/* The newest published report of year: {"year", "published_at",
 * "model_hash", "report"}; json null when none. NULL with err on a store
 * error. */
static json_t *load_published(sqlite3 *db, int year, struct qloop_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT json, model_hash, published_at FROM report_published"
                               " WHERE year = ?1 ORDER BY published_at DESC, rowid DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        store_error(db, "读取已发布的报告", err);
        return NULL;
    }
    sqlite3_bind_int(st, 1, year);
    int rc = sqlite3_step(st);
    json_t *out = json_null();
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        json_t *r = text ? json_loads(text, 0, NULL) : NULL;
        if (json_is_object(r)) {
            out = json_object();
            json_object_set_new(out, "year", json_integer(year));
            json_object_set_new(out, "published_at",
                                json_string((const char *)sqlite3_column_text(st, 2)));
            json_object_set_new(out, "model_hash",
                                json_string((const char *)sqlite3_column_text(st, 1)));
            json_object_set_new(out, "report", r);
        } else {
            json_decref(r);
        }
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        store_error(db, "读取已发布的报告", err);
        return NULL;
    }
    sqlite3_finalize(st);
    return out;
}

/* Sets each department's previous/change/rank_change from prev_depts (a
 * departments array of an earlier report), matched by name. */
static void compare_with(json_t *depts, const json_t *prev_depts)
{
    size_t i, j;
    json_t *d, *p;
    json_array_foreach(depts, i, d) {
        const char *name = report_str(d, "name", "");
        json_array_foreach(prev_depts, j, p) {
            if (strcmp(report_str(p, "name", ""), name) != 0)
                continue;
            json_t *o = json_object();
            json_object_set(o, "score", json_object_get(p, "score"));
            json_object_set(o, "grade", json_object_get(p, "grade"));
            json_object_set(o, "rank", json_object_get(p, "rank"));
            json_object_set_new(d, "previous", o);
            if (json_is_number(json_object_get(p, "score")) && report_rated(d))
                json_object_set_new(d, "change",
                                    json_real(report_round(report_real(d, "score", 0) -
                                                               report_real(p, "score", 0), 1)));
            if (json_is_integer(json_object_get(p, "rank")) && report_rated(d))
                json_object_set_new(d, "rank_change",
                                    json_integer(report_int(p, "rank", 0) - report_int(d, "rank", 0)));
            break;
        }
    }
}

/* ---- the reports ----------------------------------------------------------- */

/* Runs stages 1 and 2 for period p: 0 with *out, -1 (model) or -2 (store). */
static int assess(sqlite3 *db, struct report_model *m, const struct report_period *p,
                  json_t **out, struct qloop_error *err)
{
    json_t *facts;
    int rc = report_facts(db, p, &facts, err);
    if (rc != 0)
        return rc;
    if (report_model_apply(m, facts, err) != 0) {
        json_decref(facts);
        return -1;
    }
    *out = facts;
    return 0;
}

/* The report's title: label + suffix + the model's title. */
static json_t *title_of(const struct report_model *m, const char *label, const char *suffix)
{
    struct qloop_buf b = {0};
    qloop_buf_printf(&b, "%s%s%s", label, suffix, m->title ? m->title : "公共数据管理评估报告");
    json_t *t = json_string(qloop_buf_str(&b));
    qloop_buf_free(&b);
    return t ? t : json_string("评估报告");
}

/* Copies the keys every report shares from facts into r. */
static void common_keys(json_t *r, const json_t *facts, const char *period_key, int64_t now)
{
    char gen[32];
    qloop_format_datetime(now, gen);
    json_t *period = json_object();
    static const char *const pkeys[] = {"from", "to", "as_of", "complete"};
    for (int i = 0; i < 4; i++)
        json_object_set(period, pkeys[i], json_object_get(facts, pkeys[i]));
    json_object_set_new(r, period_key, period);
    json_object_set_new(r, "generated_at", json_string(gen));
    static const char *const keys[] = {"model", "catalog_imported", "grades", "indicators",
                                       "dimensions"};
    for (int i = 0; i < 5; i++)
        json_object_set(r, keys[i], json_object_get(facts, keys[i]));
}

int report_annual(sqlite3 *db, int year, const char *model_path, int64_t now, json_t **out,
                  struct qloop_error *err)
{
    *out = NULL;
    struct report_period p;
    if (report_period_init(&p, year, 0, now, err) != 0)
        return -1;
    struct report_model *m = report_model_load(model_path, err);
    if (!m)
        return -1;
    json_t *facts = NULL, *prev = NULL;
    int rc = assess(db, m, &p, &facts, err);
    if (rc == 0 && !(prev = load_published(db, year - 1, err)))
        rc = -2;
    if (rc != 0) {
        json_decref(facts);
        report_model_free(m);
        return rc;
    }
    json_t *r = json_object();
    char label[16];
    snprintf(label, sizeof label, "%d", year);
    json_object_set_new(r, "kind", json_string("annual"));
    json_object_set_new(r, "year", json_integer(year));
    json_object_set_new(r, "title", title_of(m, label, " 年度"));
    common_keys(r, facts, "period", now);
    json_t *depts = json_object_get(facts, "departments");
    if (json_is_object(prev)) {
        const char *ph = report_str(prev, "model_hash", "");
        json_t *pv = json_object();
        json_object_set_new(pv, "year", json_integer(year - 1));
        json_object_set(pv, "published_at", json_object_get(prev, "published_at"));
        json_object_set_new(pv, "model_hash", json_string(ph));
        json_object_set_new(pv, "same_model", json_boolean(strcmp(ph, m->hash) == 0));
        json_object_set_new(r, "previous", pv);
        compare_with(depts, json_object_get(json_object_get(prev, "report"), "departments"));
    } else {
        json_object_set_new(r, "previous", json_null());
    }
    json_object_set_new(r, "city", report_city_summary(r, depts));
    json_object_set(r, "departments", depts);
    json_decref(prev);
    json_decref(facts);
    report_model_free(m);
    *out = r;
    return 0;
}

int report_scorecard(sqlite3 *db, const char *dept, int year, int month, const char *model_path,
                     int64_t now, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    if (month < 1 || month > 12)
        return qloop_error_set(err, NULL, 0, 0, "--period 的月份无效；请写 YYYY-MM，如 2024-07");
    struct report_period p, pp;
    if (report_period_init(&p, year, month, now, err) != 0)
        return -1;
    int py = month == 1 ? year - 1 : year, pm = month == 1 ? 12 : month - 1;
    struct report_model *m = report_model_load(model_path, err);
    if (!m)
        return -1;
    json_t *facts = NULL, *prevp = NULL;
    int rc = assess(db, m, &p, &facts, err);
    json_t *depts = json_object_get(facts, "departments");
    json_t *mine = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(depts, i, d) {
        if (strcmp(report_str(d, "name", ""), dept) == 0)
            mine = d;
    }
    if (rc == 0 && !mine) {
        struct qloop_buf names = {0};
        json_array_foreach(depts, i, d)
            qloop_buf_printf(&names, "%s%s", i ? "、" : "", report_str(d, "name", ""));
        qloop_error_set(err, NULL, 0, 0, "%s 没有部门「%s」的数据；本月有数据的部门：%s", p.label,
                        dept, names.len ? qloop_buf_str(&names) : "（无）");
        qloop_buf_free(&names);
        rc = -1;
    }
    /* The month before, computed now (monthly scorecards are not published). */
    if (rc == 0 && report_period_init(&pp, py, pm, now, err) != 0)
        rc = -1;
    if (rc == 0)
        rc = assess(db, m, &pp, &prevp, err);
    if (rc != 0) {
        json_decref(facts);
        report_model_free(m);
        return rc;
    }
    compare_with(depts, json_object_get(prevp, "departments"));
    json_t *prev = json_object_get(mine, "previous");
    if (json_is_object(prev))
        json_object_set_new(prev, "period", json_string(pp.label));

    json_t *card = json_object();
    json_object_set_new(card, "kind", json_string("scorecard"));
    json_object_set_new(card, "period", json_string(p.label));
    json_object_set_new(card, "previous_period", json_string(pp.label));
    struct qloop_buf title = {0};
    qloop_buf_printf(&title, "%s %d 年 %d 月计分卡", dept, year, month);
    json_t *tv = json_string(qloop_buf_str(&title));
    qloop_buf_free(&title);
    json_object_set_new(card, "title", tv ? tv : json_string("月度计分卡"));
    common_keys(card, facts, "range", now);
    json_object_set_new(card, "city", report_city_summary(card, depts));
    json_object_set(card, "department", mine);
    json_decref(prevp);
    json_decref(facts);
    report_model_free(m);
    *out = card;
    return 0;
}

int report_publish(sqlite3 *db, const json_t *report, const char *actor,
                   struct qloop_error *err)
{
    long long year = report_int(report, "year", 0);
    const char *hash = report_str(json_object_get(report, "model"), "hash", "");
    char *text = json_dumps(report, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (!text)
        return qloop_error_internal(err, NULL, "生成报告 JSON 失败（内存不足）"), -2;
    uint8_t digest[32];
    char hex[65];
    qloop_sha256(text, strlen(text), digest);
    qloop_hex(digest, 32, hex);
    char at[32];
    qloop_format_datetime(qloop_now(), at);
    int rc = store_begin(db, err);
    if (rc == 0) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "INSERT INTO report_published(year, model_hash, json,"
                                   " published_at) VALUES(?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK) {
            rc = store_error(db, "发布报告", err);
        } else {
            sqlite3_bind_int64(st, 1, year);
            sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = store_error(db, "发布报告", err);
            sqlite3_finalize(st);
        }
    }
    if (rc == 0) {
        char subject[32];
        snprintf(subject, sizeof subject, "report:%lld", year);
        json_t *detail = json_pack("{s:I, s:s, s:s, s:I}", "year", (json_int_t)year, "model_hash",
                                   hash, "sha256", hex, "departments",
                                   (json_int_t)json_array_size(json_object_get(report, "departments")));
        char *dt = json_dumps(detail, JSON_COMPACT);
        json_decref(detail);
        rc = audit_append(db, "report.publish", subject, actor && *actor ? actor : "system", dt, err);
        free(dt);
    }
    free(text);
    if (rc == 0 && store_commit(db, err) == 0)
        return 0;
    store_rollback(db);
    return -2;
}
