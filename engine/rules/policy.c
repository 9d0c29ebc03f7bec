/*
 * policy.c — reading deadline policies from Lua files and computing the
 * deadlines, extension caps and reminder dates they imply.
 *
 * A policy file runs in the rule sandbox (qloop_lua_new) with one extra
 * global, `policy`, a function taking the policy table; the file either calls
 * it once or returns the table. Every key is checked: an unknown key (a typo)
 * or a value of the wrong type is an error naming the file and the key, so a
 * mistyped policy never silently falls back to defaults.
 */
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checks/calendar.h"
#include "lua/sandbox.h"
#include "rules/policy.h"

enum { SHANGHAI_OFFSET = 8 * 3600, DAY = 86400 };

void policy_default(struct qloop_policy *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "ningbo");
    snprintf(p->basis, sizeof p->basis, "宁波市公共数据管理办法 第二十七条");
    p->response_days = 5;
    p->response_natural = false;
    p->extension_days = 60;
    p->extension_natural = true;
    p->extension_from_receipt = true;
    snprintf(p->approver_role, sizeof p->approver_role, "bureau");
    snprintf(p->approver, sizeof p->approver, "大数据主管部门");
    p->auto_feedback = true;
    p->urgent_own_deadline = true;
    p->reminder_days = 1;
}

int64_t policy_day_of(int64_t t)
{
    int64_t local = t + SHANGHAI_OFFSET;
    int64_t q = local / DAY;
    if (local % DAY != 0 && local < 0)
        q--;
    return q;
}

int64_t policy_end_of_day(int64_t day) { return day * DAY - SHANGHAI_OFFSET + DAY - 1; }

/* The last day of a period of n days (working or natural) after day. */
static int64_t add_days(int64_t day, int n, bool natural)
{
    return natural ? calendar_add_natural_days(day, n) : calendar_add_working_days(day, n);
}

int64_t policy_deadline(const struct qloop_policy *p, int64_t received)
{
    return policy_end_of_day(add_days(policy_day_of(received), p->response_days,
                                      p->response_natural));
}

int64_t policy_extension_cap(const struct qloop_policy *p, int64_t received, int64_t base_deadline)
{
    if (p->extension_days <= 0)
        return base_deadline;
    int64_t from = p->extension_from_receipt ? policy_day_of(received)
                                             : policy_day_of(base_deadline);
    int64_t cap = policy_end_of_day(add_days(from, p->extension_days, p->extension_natural));
    return cap > base_deadline ? cap : base_deadline;
}

void policy_extension_rule(const struct qloop_policy *p, char *out, size_t size)
{
    if (p->extension_days <= 0) {
        snprintf(out, size, "本政策（%s）不允许延期", p->name);
        return;
    }
    snprintf(out, size, "%s起 %d 个%s%s（%s）",
             p->extension_from_receipt ? "自接收之日" : "自原答复期限",
             p->extension_days, p->extension_natural ? "自然日" : "工作日",
             p->extension_natural ? "，最后一日为非工作日的顺延至下一个工作日" : "",
             p->basis[0] ? p->basis : p->name);
}

bool policy_reminder_due(const struct qloop_policy *p, int64_t deadline, int64_t now)
{
    if (p->reminder_days <= 0 || now > deadline)
        return false;
    return calendar_working_days_between(policy_day_of(now), policy_day_of(deadline)) <=
           p->reminder_days;
}

/* ---- a policy kept with its tickets ------------------------------------ */

/* The fields of struct qloop_policy as JSON, in this order. */
enum pf_type { PF_TEXT, PF_INT, PF_BOOL };
static const struct {
    const char *key;
    enum pf_type type;
    size_t off, size;
} policy_fields[] = {
#define PF(key, type, field)                                                                    \
    {key, type, offsetof(struct qloop_policy, field), sizeof(((struct qloop_policy *)0)->field)}
    PF("name", PF_TEXT, name),
    PF("basis", PF_TEXT, basis),
    PF("response_days", PF_INT, response_days),
    PF("response_natural", PF_BOOL, response_natural),
    PF("extension_days", PF_INT, extension_days),
    PF("extension_natural", PF_BOOL, extension_natural),
    PF("extension_from_receipt", PF_BOOL, extension_from_receipt),
    PF("approver_role", PF_TEXT, approver_role),
    PF("approver", PF_TEXT, approver),
    PF("auto_feedback", PF_BOOL, auto_feedback),
    PF("urgent_own_deadline", PF_BOOL, urgent_own_deadline),
    PF("reminder_days", PF_INT, reminder_days),
    PF("hand_filed_feedback", PF_BOOL, hand_filed_feedback),
#undef PF
};
enum { NPOLICY_FIELDS = sizeof policy_fields / sizeof policy_fields[0] };

char *policy_to_json(const struct qloop_policy *p)
{
    json_t *o = json_object();
    for (int i = 0; o && i < NPOLICY_FIELDS; i++) {
        const char *at = (const char *)p + policy_fields[i].off;
        json_t *v = policy_fields[i].type == PF_TEXT  ? json_string(at)
                    : policy_fields[i].type == PF_INT ? json_integer(*(const int *)at)
                                                      : json_boolean(*(const bool *)at);
        if (!v || json_object_set_new(o, policy_fields[i].key, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

int policy_from_json(const char *text, struct qloop_policy *p, struct qloop_error *err)
{
    policy_default(p);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    int rc = json_is_object(o) && json_object_size(o) == NPOLICY_FIELDS ? 0 : -1;
    for (int i = 0; rc == 0 && i < NPOLICY_FIELDS; i++) {
        json_t *v = json_object_get(o, policy_fields[i].key);
        char *at = (char *)p + policy_fields[i].off;
        if (policy_fields[i].type == PF_TEXT && json_is_string(v) &&
            json_string_length(v) < policy_fields[i].size)
            memcpy(at, json_string_value(v), json_string_length(v) + 1);
        else if (policy_fields[i].type == PF_INT && json_is_integer(v) &&
                 json_integer_value(v) >= 0 && json_integer_value(v) <= 3650)
            *(int *)at = (int)json_integer_value(v);
        else if (policy_fields[i].type == PF_BOOL && json_is_boolean(v))
            *(bool *)at = json_is_true(v);
        else
            rc = -1;
    }
    json_decref(o);
    if (rc != 0) {
        policy_default(p);
        return qloop_error_internal(err, NULL, "工单所存的政策无法读取（内部错误或数据库被改动）");
    }
    return 0;
}

/* ---- reading a policy file ------------------------------------------- */

/* `policy { ... }`: keeps its table in upvalue 1 (once) and returns it. */
static int l_policy(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnil(L, lua_upvalueindex(1)))
        return luaL_error(L, "policy { ... } 只能调用一次");
    lua_settop(L, 1);
    lua_pushvalue(L, 1);
    lua_replace(L, lua_upvalueindex(1));
    return 1;
}

struct reader {
    lua_State *L;
    const char *path;
    struct qloop_error *err;
};

/* Fails with "策略文件 PATH：字段 KEY ..." text. */
static int bad(struct reader *r, const char *key, const char *what)
{
    return qloop_error_set(r->err, r->path, 0, 0, "策略字段 %s %s；请对照 rules/policies/ningbo.lua 的写法修改",
                           key, what);
}

/* Checks every string key of the table at idx is in allowed (NULL-ended). */
static int check_keys(struct reader *r, int idx, const char *where, const char *const *allowed)
{
    lua_State *L = r->L;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            return bad(r, where, "中有不是名字的键（只能写 名字 = 值）");
        }
        const char *k = lua_tostring(L, -1);
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, k) == 0;
        if (!ok) {
            char what[512], list[256] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            snprintf(what, sizeof what, "中有未知的键 \"%.64s\"（可用：%s）", k, list);
            lua_pop(L, 1);
            return bad(r, where, what);
        }
    }
    return 0;
}

/* Reads an optional string field of the table at idx into out. */
static int get_string(struct reader *r, int idx, const char *key, const char *where, char *out,
                      size_t size)
{
    lua_State *L = r->L;
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TSTRING || lua_rawlen(L, -1) == 0 || lua_rawlen(L, -1) >= size) {
        lua_pop(L, 1);
        char what[128];
        snprintf(what, sizeof what, "的 %s 应为非空文字（不超过 %zu 字节）", key, size - 1);
        return bad(r, where, what);
    }
    snprintf(out, size, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
}

/* Reads an optional integer field in [lo, hi]; *found tells whether present. */
static int get_int(struct reader *r, int idx, const char *key, const char *where, int lo, int hi,
                   int *out, bool *found)
{
    lua_State *L = r->L;
    int t = lua_getfield(L, idx, key);
    *found = false;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (t != LUA_TNUMBER || !isint || v < lo || v > hi) {
        char what[128];
        snprintf(what, sizeof what, "的 %s 应为 %d 到 %d 之间的整数", key, lo, hi);
        return bad(r, where, what);
    }
    *out = (int)v;
    *found = true;
    return 0;
}

/* Reads an optional boolean field. */
static int get_bool(struct reader *r, int idx, const char *key, const char *where, bool *out)
{
    lua_State *L = r->L;
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (t != LUA_TBOOLEAN) {
        char what[128];
        snprintf(what, sizeof what, "的 %s 应为 true 或 false", key);
        return bad(r, where, what);
    }
    *out = v;
    return 0;
}

/* A period table { working_days = N } or { natural_days = N } (exactly one),
 * plus the keys in extra. */
static int get_period(struct reader *r, int idx, const char *where, int lo, const char *const *keys,
                      int *days, bool *natural)
{
    if (check_keys(r, idx, where, keys) != 0)
        return -1;
    int w = 0, n = 0;
    bool has_w, has_n;
    if (get_int(r, idx, "working_days", where, lo, 3650, &w, &has_w) != 0 ||
        get_int(r, idx, "natural_days", where, lo, 3650, &n, &has_n) != 0)
        return -1;
    if (has_w == has_n)
        return bad(r, where, "应写 working_days = N 或 natural_days = N 之一");
    *days = has_w ? w : n;
    *natural = has_n;
    return 0;
}

/* Reads the policy table at the top of the stack into p. */
static int read_policy(struct reader *r, struct qloop_policy *p)
{
    lua_State *L = r->L;
    int t = lua_gettop(L);
    static const char *const top_keys[] = {"name",     "basis",         "response",
                                           "extension", "approver",     "auto_feedback",
                                           "urgent",   "reminder",      "hand_filed",
                                           NULL};
    if (check_keys(r, t, "表", top_keys) != 0)
        return -1;
    char hand_filed[16] = "";
    if (get_string(r, t, "name", "表", p->name, sizeof p->name) != 0 ||
        get_string(r, t, "basis", "表", p->basis, sizeof p->basis) != 0 ||
        get_bool(r, t, "auto_feedback", "表", &p->auto_feedback) != 0 ||
        get_string(r, t, "hand_filed", "表", hand_filed, sizeof hand_filed) != 0)
        return -1;
    if (hand_filed[0] && strcmp(hand_filed, "discovered") != 0 &&
        strcmp(hand_filed, "feedback") != 0)
        return bad(r, "hand_filed",
                   "应为 \"discovered\"（人工填报的工单先由数据治理人员核实再交办）或 "
                   "\"feedback\"（直接交数源部门）");
    if (hand_filed[0])
        p->hand_filed_feedback = strcmp(hand_filed, "feedback") == 0;

    int ty = lua_getfield(L, t, "response");
    if (ty == LUA_TTABLE) {
        static const char *const keys[] = {"working_days", "natural_days", NULL};
        if (get_period(r, -1, "response", 1, keys, &p->response_days, &p->response_natural) != 0)
            return -1;
    } else if (ty != LUA_TNIL) {
        return bad(r, "response", "应为表，例如 response = { working_days = 5 }");
    }
    lua_pop(L, 1);

    ty = lua_getfield(L, t, "extension");
    if (ty == LUA_TTABLE) {
        static const char *const keys[] = {"working_days", "natural_days", "from", NULL};
        if (get_period(r, -1, "extension", 1, keys, &p->extension_days, &p->extension_natural) != 0)
            return -1;
        char from[32] = "";
        if (get_string(r, lua_gettop(L), "from", "extension", from, sizeof from) != 0)
            return -1;
        if (!from[0])
            p->extension_from_receipt = p->extension_natural;
        else if (strcmp(from, "receipt") == 0 || strcmp(from, "deadline") == 0)
            p->extension_from_receipt = strcmp(from, "receipt") == 0;
        else
            return bad(r, "extension", "的 from 应为 \"receipt\"（自接收之日）或 \"deadline\"（自原答复期限）");
    } else if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        p->extension_days = 0;
    } else if (ty != LUA_TNIL) {
        return bad(r, "extension",
                   "应为表（例如 { natural_days = 60, from = \"receipt\" }）或 false（不允许延期）");
    }
    lua_pop(L, 1);

    ty = lua_getfield(L, t, "approver");
    if (ty == LUA_TTABLE) {
        static const char *const keys[] = {"role", "name", NULL};
        int a = lua_gettop(L);
        char name[sizeof p->approver] = "";
        if (check_keys(r, a, "approver", keys) != 0 ||
            get_string(r, a, "role", "approver", p->approver_role, sizeof p->approver_role) != 0 ||
            get_string(r, a, "name", "approver", name, sizeof name) != 0)
            return -1;
        if (!name[0])
            return bad(r, "approver", "缺少 name（审批人，例如 \"大数据主管部门\"）");
        snprintf(p->approver, sizeof p->approver, "%s", name);
    } else if (ty == LUA_TSTRING && lua_rawlen(L, -1) > 0 &&
               lua_rawlen(L, -1) < sizeof p->approver) {
        snprintf(p->approver, sizeof p->approver, "%s", lua_tostring(L, -1));
    } else if (ty != LUA_TNIL) {
        return bad(r, "approver", "应为表，例如 approver = { role = \"bureau\", name = \"大数据主管部门\" }");
    }
    lua_pop(L, 1);

    ty = lua_getfield(L, t, "urgent");
    if (ty == LUA_TTABLE) {
        static const char *const keys[] = {"own_deadline", NULL};
        if (check_keys(r, -1, "urgent", keys) != 0 ||
            get_bool(r, lua_gettop(L), "own_deadline", "urgent", &p->urgent_own_deadline) != 0)
            return -1;
    } else if (ty == LUA_TBOOLEAN) {
        p->urgent_own_deadline = lua_toboolean(L, -1);
    } else if (ty != LUA_TNIL) {
        return bad(r, "urgent", "应为表，例如 urgent = { own_deadline = true }");
    }
    lua_pop(L, 1);

    ty = lua_getfield(L, t, "reminder");
    if (ty == LUA_TTABLE) {
        static const char *const keys[] = {"working_days_before", NULL};
        bool found;
        if (check_keys(r, -1, "reminder", keys) != 0 ||
            get_int(r, lua_gettop(L), "working_days_before", "reminder", 0, 60, &p->reminder_days,
                    &found) != 0)
            return -1;
    } else if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        p->reminder_days = 0;
    } else if (ty != LUA_TNIL) {
        return bad(r, "reminder", "应为表（例如 { working_days_before = 1 }）或 false（不提醒）");
    }
    lua_pop(L, 1);
    return 0;
}

struct read_job {
    struct reader *r;
    struct qloop_policy *p;
    int rc;
};

/* read_policy as a Lua C function: (job, table). */
static int read_policy_protected(lua_State *L)
{
    struct read_job *job = lua_touserdata(L, 1);
    lua_settop(L, 2);
    job->rc = read_policy(job->r, job->p);
    return 0;
}

/* The file name of path without directories and without ".lua". */
/* The shipped policies, compiled in from rules/policies/ (CMake's
 * qloop_embed), so that an installed binary finds them without the source
 * tree. A path "builtin:NAME" names one of them. */
extern const char qloop_data_ningbo[], qloop_data_wenzhou[];
extern const size_t qloop_data_ningbo_len, qloop_data_wenzhou_len;
static const struct {
    const char *name;
    const char *text;
    const size_t *len;
} builtin_policies[] = {
    {"ningbo", qloop_data_ningbo, &qloop_data_ningbo_len},
    {"wenzhou", qloop_data_wenzhou, &qloop_data_wenzhou_len},
};
static const char BUILTIN[] = "builtin:";

static int builtin_index(const char *name)
{
    for (size_t i = 0; i < sizeof builtin_policies / sizeof builtin_policies[0]; i++)
        if (strcmp(builtin_policies[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void base_name(const char *path, char *out, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && strcmp(b + n - 4, ".lua") == 0)
        n -= 4;
    snprintf(out, size, "%.*s", (int)n, b);
}

int policy_load(const char *path, struct qloop_policy *p, struct qloop_error *err)
{
    policy_default(p);
    if (!path)
        return 0;
    base_name(path, p->name, sizeof p->name);
    p->basis[0] = '\0';
    snprintf(p->path, sizeof p->path, "%s", path);

    lua_State *L = qloop_lua_new(NULL);
    if (!L)
        return qloop_error_set(err, path, 0, 0, "读取策略文件时内存不足");
    int rc = -1;
    if (strncmp(path, BUILTIN, sizeof BUILTIN - 1) == 0) {
        int b = builtin_index(path + sizeof BUILTIN - 1);
        char chunk[96];
        snprintf(chunk, sizeof chunk, "@rules/policies/%s.lua", path + sizeof BUILTIN - 1);
        if (b < 0) {
            qloop_error_set(err, path, 0, 0, "没有这个内置策略；内置的有 ningbo、wenzhou");
            goto done;
        }
        if (qloop_lua_load(L, builtin_policies[b].text, *builtin_policies[b].len, chunk, err) != 0)
            goto done;
    } else if (qloop_lua_load_file(L, path, err) != 0) {
        goto done;
    }
    lua_pushnil(L);
    lua_pushcclosure(L, l_policy, 1);         /* fn, policy */
    qloop_lua_push_env(L, 1);                 /* fn, policy, env */
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "policy");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, 1);                      /* fn, policy, fn */
    if (qloop_lua_pcall(L, 0, 1, err) != LUA_OK) /* fn, policy, result */
        goto done;
    lua_getupvalue(L, 2, 1);                  /* fn, policy, result, called */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        if (!lua_istable(L, -1)) {
            qloop_error_set(err, path, 0, 0,
                            "策略文件既没有调用 policy { ... } 也没有 return 一个表；"
                            "请参照 rules/policies/ningbo.lua 书写");
            goto done;
        }
    }
    /* The table is read inside a protected, budgeted call: reading it may run
     * its metamethods, which may raise or loop like any rule code. */
    struct reader r = {L, path, err};
    struct read_job job = {&r, p, -1};
    lua_pushcfunction(L, read_policy_protected);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &job);
    lua_insert(L, -2);                        /* ..., reader, job, table */
    if (qloop_lua_pcall(L, 2, 0, err) != LUA_OK || job.rc != 0)
        goto done;
    rc = 0;
done:
    qloop_lua_close(L);
    if (rc != 0) {
        policy_default(p);
        if (err && !err->file[0])
            snprintf(err->file, sizeof err->file, "%s", path);
    }
    return rc;
}

/* Whether a regular file exists at path. */
static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int policy_resolve(const char *spec, const char *data_dir, char *out, size_t size,
                   struct qloop_error *err)
{
    size_t n = spec ? strlen(spec) : 0;
    if (n == 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "--policy 需要策略名（如 ningbo、wenzhou）或策略文件路径");
    if (strchr(spec, '/') || (n > 4 && strcmp(spec + n - 4, ".lua") == 0)) {
        if (!is_file(spec))
            return qloop_error_set(err, spec, 0, 0, "找不到策略文件；请检查 --policy 给出的路径");
        snprintf(out, size, "%s", spec);
        return 0;
    }
    for (const char *c = spec; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        if (!ok)
            return qloop_error_set(err, NULL, 0, 0,
                                   "策略名 \"%s\" 只能由字母、数字、_ 和 - 组成；"
                                   "文件请写路径（含 / 或以 .lua 结尾）",
                                   spec);
    }
    char tried[1024] = "";
    const char *dirs[2] = {getenv("QLOOP_POLICY_DIR"), NULL};
    char datadir[1024];
    if (data_dir && *data_dir) {
        snprintf(datadir, sizeof datadir, "%s/policies", data_dir);
        dirs[1] = datadir;
    }
    for (int i = 0; i < 2; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.lua", dirs[i], spec);
        if (is_file(path)) {
            if (strlen(path) >= size)
                return qloop_error_set(err, path, 0, 0, "策略文件路径过长");
            snprintf(out, size, "%s", path);
            return 0;
        }
        if (tried[0])
            strncat(tried, "、", sizeof tried - strlen(tried) - 1);
        strncat(tried, path, sizeof tried - strlen(tried) - 1);
    }
    if (builtin_index(spec) >= 0) { /* the copy compiled into the binary */
        if (strlen(BUILTIN) + n >= size)
            return qloop_error_set(err, NULL, 0, 0, "策略名过长");
        snprintf(out, size, "%s%s", BUILTIN, spec);
        return 0;
    }
    return qloop_error_set(err, NULL, 0, 0,
                           "找不到策略 \"%s\"（查找过：%s）；请用 ningbo 或 wenzhou，"
                           "或设置 QLOOP_POLICY_DIR，或直接给出策略文件路径",
                           spec, tried[0] ? tried : "无可查找的目录");
}

int policy_load_spec(const char *spec, const char *data_dir, struct qloop_policy *p,
                     struct qloop_error *err)
{
    if (!spec || !*spec) {
        policy_default(p);
        return 0;
    }
    char path[1024];
    if (policy_resolve(spec, data_dir, path, sizeof path, err) != 0) {
        policy_default(p);
        return -1;
    }
    return policy_load(path, p, err);
}
