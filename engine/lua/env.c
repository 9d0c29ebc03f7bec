/*
 * env.c — what rule code sees: the shared globals, read-only libraries, one
 * environment per file, and the base functions the sandbox changes.
 *
 * The shared globals table G (registry "qloop.globals") holds the
 * allow-listed base functions and one read-only proxy per library. It is
 * never handed to rule code: each chunk's _ENV is a fresh table whose
 * protected metatable reads through to G, and whose `_G` is itself.
 *
 * A library (idcard, string, table, …) is two tables. The real one holds the
 * functions; its metatable's __index raises "the library has no such name"
 * (so `uscc.vaild` stops a rule file's load with its file and line, and
 * ("x"):uper() fails as loudly). The proxy, which rules see, is empty: its
 * protected metatable reads through to the real table, refuses writes
 * (__newindex), and iterates the real table (__pairs) without handing it out.
 * rawset refuses every table whose metatable carries RO_MARK, and
 * setmetatable a protected one, so neither can go around the proxy. The
 * string metatable and the record metatable are protected the same way
 * (__metatable), so `getmetatable("").__index = …` cannot reach them.
 *
 * Finalizers: setmetatable refuses a metatable with __gc. Lua turns hooks off
 * while a finalizer runs, so a __gc written in Lua would run with no budget at
 * any allocation — or at lua_close, after a run has committed. Only the C
 * finalizers of qloop's own userdata remain.
 *
 * pcall and xpcall re-raise an error once the call's budget is spent or its
 * CPU time is up (qloop_host_fatal): rule code cannot catch its way past a
 * budget. print writes to stderr, at most QLOOP_PRINT_MAX bytes in a state's
 * life. load takes text only and gives a chunk the caller's environment.
 */
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/escape.h"
#include "base/purity.h"
#include "checks/mask.h"
#include "lua/host.h"
#include "lua/libs.h"

static const char GLOBALS_KEY[] = "qloop.globals";
static const char ENV_MT_KEY[] = "qloop.env.mt";
static char RO_MARK; /* its address: a key in the metatable of a read-only table */

/* ---- read-only libraries ---- */

/* __index of a library's real table: only reached for a name it lacks.
 * Upvalues: the library's name, the real table. */
static int lib_missing(lua_State *L)
{
    const char *lib = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) != LUA_TSTRING)
        return qloop_lua_error(L, "%s 库没有这个键（%s）", lib, luaL_typename(L, 2));
    /* list what it has, sorted, to help the fix */
    const char *names[64];
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, lua_upvalueindex(2))) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && n < sizeof names / sizeof names[0])
            names[n++] = lua_tostring(L, -1); /* the table keeps the key alive */
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    struct qloop_buf b = {0};
    for (size_t i = 0; i < n; i++)
        qloop_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    char list[1024];
    snprintf(list, sizeof list, "%s", n ? qloop_buf_str(&b) : "（无）");
    qloop_buf_free(&b);
    return qloop_lua_error(L, "%s 库没有 %s.%.200s；请检查拼写。%s 库有：%s", lib, lib,
                           lua_tostring(L, 2), lib, list);
}

/* __newindex of a proxy. Upvalue: the library's name. */
static int lib_readonly(lua_State *L)
{
    const char *lib = lua_tostring(L, lua_upvalueindex(1));
    return qloop_lua_error(L,
                           "%s 库是只读的：规则不能修改或增加库函数（%.200s）；"
                           "需要自己的函数时请用 local 定义",
                           lib, lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* The iterator of pairs(proxy): next over the real table (upvalue 1). */
static int lib_next(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of a proxy. Upvalue: the iterator. */
static int lib_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static void mark_readonly(lua_State *L, int mt)
{
    lua_pushboolean(L, 0);
    lua_setfield(L, mt, "__metatable");
    lua_pushboolean(L, 1);
    lua_rawsetp(L, mt, &RO_MARK);
}

/* Pushes the read-only proxy of the library table at idx named name, and
 * makes that table strict (a missing name raises). */
static void push_library(lua_State *L, int idx, const char *name)
{
    idx = lua_absindex(L, idx);
    lua_createtable(L, 0, 2); /* the real table's metatable */
    lua_pushstring(L, name);
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, lib_missing, 2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, idx);

    lua_newtable(L); /* the proxy */
    lua_createtable(L, 0, 5);
    int mt = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_setfield(L, mt, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, lib_readonly, 1);
    lua_setfield(L, mt, "__newindex");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, lib_next, 1);
    lua_pushcclosure(L, lib_pairs, 1);
    lua_setfield(L, mt, "__pairs");
    mark_readonly(L, mt);
    lua_setmetatable(L, -2);
}

static int is_readonly(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, -1, &RO_MARK);
    int ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* ---- the base functions the sandbox changes ---- */

static int sandbox_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0) != LUA_OK) {
        if (qloop_host_fatal(qloop_host_of(L)))
            return lua_error(L); /* the budget is spent: no catching it */
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L);
}

/* xpcall(f, handler, ...). The handler runs after the stack has unwound,
 * through a plain protected call: Lua would run it where the error was raised,
 * and when the count hook raised that error, hooks stay off until the
 * unwinding — a handler looping there would run unbudgeted. Sandboxed code
 * has no debug library, so it cannot tell the difference. */
static int sandbox_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* f, handler, true, f, args... */
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK)
        return lua_gettop(L) - 2;
    if (qloop_host_fatal(qloop_host_of(L)))
        return lua_error(L);
    lua_pushvalue(L, 2);
    lua_insert(L, -2); /* handler, error */
    if (lua_pcall(L, 1, 1, 0) != LUA_OK && qloop_host_fatal(qloop_host_of(L)))
        return lua_error(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int sandbox_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int gc = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (gc != LUA_TNIL)
            return qloop_lua_error(L, "沙箱中不允许 __gc 终结器：规则不能在垃圾回收时运行代码；"
                                      "需要收尾时请直接在规则中完成");
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return qloop_lua_error(L, "不能修改受保护的元表（cannot change a protected metatable）");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_readonly(L, 1))
        return qloop_lua_error(L, "这个表是只读的（库函数表，或运行中规则文件的全局环境），"
                                  "不能用 rawset 修改；请用 local 变量");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

void qloop_lua_set_print_filter(lua_State *L, qloop_lua_text_filter filter, void *ctx)
{
    struct qloop_host *h = qloop_host_of(L);
    h->print_filter = filter;
    h->print_ctx = ctx;
}

/* print writes to stderr: rules must not write into qloop's output. Rules
 * print record values: personal data is masked (the state's print filter,
 * or by shape), then control characters are escaped. At most
 * QLOOP_PRINT_MAX bytes in the state's life; then one notice, then nothing. */
static int sandbox_print(lua_State *L)
{
    qloop_host_once(L); /* a FAST call may be run twice: print in the EXACT run only */
    struct qloop_host *h = qloop_host_of(L);
    qloop_purity_bump(); /* output: a call that prints is never reused (base/purity.h) */
    if (h->printed >= QLOOP_PRINT_MAX)
        return 0;
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t raw_len;
    const char *raw = lua_tolstring(L, -1, &raw_len);
    struct qloop_buf shown = {0}, safe = {0};
    if (h->print_filter)
        h->print_filter(h->print_ctx, raw, raw_len, &shown);
    else
        mask_text(raw, raw_len, NULL, 0, &shown);
    qloop_escape_controls(shown.ptr ? shown.ptr : "", shown.len, QLOOP_ESC_KEEP_NEWLINE, &safe);
    qloop_buf_free(&shown);
    const char *s = qloop_buf_str(&safe);
    size_t len = safe.len;
    size_t room = QLOOP_PRINT_MAX - h->printed;
    if (len > room) {
        fwrite(s, 1, qloop_text_cut(s, len, room), stderr);
        fputs("\nqloop: 规则的 print 输出已达上限（1 MiB），之后的输出不再显示\n", stderr);
        h->printed = QLOOP_PRINT_MAX;
        qloop_buf_free(&safe);
        return 0;
    }
    fwrite(s, 1, len, stderr);
    h->printed += len;
    qloop_buf_free(&safe);
    return 0;
}

/* Pushes the _ENV of the Lua function calling the running C function, or a
 * fresh environment when it has none. */
static void push_caller_env(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "f", &ar)) {
        int f = lua_gettop(L);
        for (int i = 1;; i++) {
            const char *name = lua_getupvalue(L, f, i);
            if (!name)
                break;
            if (strcmp(name, "_ENV") == 0) {
                lua_remove(L, f);
                return;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    qloop_env_push_new(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) restricted to text chunks given
 * as strings; env defaults to the caller's environment. */
static int sandbox_load(lua_State *L)
{
    size_t len;
    const char *code = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b') || (len > 0 && code[0] == LUA_SIGNATURE[0]))
        return qloop_lua_error(L, "沙箱中不允许加载二进制代码块");
    int has_env = !lua_isnone(L, 4);
    if (luaL_loadbufferx(L, code, len, name, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env)
        lua_pushvalue(L, 4);
    else
        push_caller_env(L);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

/* string.rep(s, n [, sep]), Lua's results. Lua's own loops n times even when
 * s and sep are empty (string.rep("", math.maxinteger) never returns, in C)
 * and copies s byte by byte; here the result is "" at once, and otherwise the
 * copies double (a handful of memcpy calls), bounded by the memory cap. */
static int sandbox_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    size_t unit = l + lsep;
    if (unit < l || unit > (size_t)LUA_MAXINTEGER / (lua_Unsigned)n)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * l + (size_t)(n - 1) * lsep;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total);
    /* n - 1 units of s .. sep, then s */
    size_t body = total - l, done = 0;
    if (body > 0) {
        memcpy(p, s, l);
        memcpy(p + l, sep, lsep);
        done = unit;
        while (done < body) {
            size_t chunk = done < body - done ? done : body - done;
            memcpy(p + done, p, chunk);
            done += chunk;
        }
    }
    memcpy(p + done, s, l);
    luaL_pushresultsize(&b, total);
    return 1;
}

/* table.move(a1, f, e, t [, a2]): Lua's own moves e - f + 1 elements in C,
 * empty ones too (table.move({}, 1, 2^62, 1) never returns). The count is
 * charged to the instruction budget first; then Lua's function (upvalue 1)
 * does the work. */
static int sandbox_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f) {
        lua_Unsigned count = (lua_Unsigned)e - (lua_Unsigned)f + 1u;
        qloop_host_charge(L, count > (lua_Unsigned)LONG_MAX / 2 ? LONG_MAX / 2 : (long)count);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces t[name] (t at idx) by the C closure fn over the original. */
static void wrap(lua_State *L, int idx, const char *name, lua_CFunction fn)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, idx, name);
}

/* math.random and math.randomseed as Lua's own (upvalue 1), noting the
 * impure read first (base/purity.h): a call that draws or seeds chance
 * gives no answer to reuse. */
static int sandbox_chance(lua_State *L)
{
    qloop_purity_bump();
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* tonumber(v [, base]) as Lua's own (upvalue 1), which it calls for
 * everything but one string of 1 to 18 ASCII digits and no base: that one
 * is the integer it spells, which Lua's conversion would give too (no sign,
 * space, point or exponent; 18 digits cannot overflow), without the
 * library's general scan (rules turn captured date and time fields into
 * numbers once per record). */
static int sandbox_tonumber(lua_State *L)
{
    if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        if (len >= 1 && len <= 18) {
            lua_Integer v = 0;
            size_t i = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9')
                v = v * 10 + (s[i++] - '0');
            if (i == len) {
                lua_pushinteger(L, v);
                return 1;
            }
        }
    }
    return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* ---- environments ---- */

void qloop_env_push_new(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);
    lua_setmetatable(L, -2);
}

/* __newindex of a sealed environment. */
static int env_sealed(lua_State *L)
{
    return qloop_lua_error(L,
                           "规则在运行中不能设置全局变量 %.200s：全局变量只能在加载规则文件时设置"
                           "（每个工作线程只看到部分记录，运行中保存的状态会让结果随线程数变化）；"
                           "请改用 local 变量",
                           lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

void qloop_lua_seal_env(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!lua_getupvalue(L, idx, 1))
        return;
    int env = lua_gettop(L);
    if (!lua_istable(L, env) || !lua_getmetatable(L, env)) {
        lua_settop(L, env - 1);
        return;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);
    int fresh = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!fresh) { /* sealed already, or not an environment of ours */
        lua_settop(L, env - 1);
        return;
    }
    /* What the file set moves to a backing table; env stays, empty. The
     * backing table holds the shared globals too (copied first, so the file's
     * own win), so that a global is found in two lookups as before sealing. */
    lua_newtable(L);
    int back = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, back);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, env)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, back);
    }
    lua_pushnil(L); /* empty env (clearing fields during a traversal is allowed) */
    while (lua_next(L, env)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, env);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);
    lua_setmetatable(L, back);
    lua_createtable(L, 0, 4);
    int mt = lua_gettop(L);
    lua_pushvalue(L, back);
    lua_setfield(L, mt, "__index");
    lua_pushcfunction(L, env_sealed);
    lua_setfield(L, mt, "__newindex");
    mark_readonly(L, mt);
    lua_setmetatable(L, env);
    lua_settop(L, env - 1);
}

/* ---- building the globals ---- */

static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "select",
    "getmetatable", "tonumber", "tostring", "type", "_VERSION", NULL,
};

static const luaL_Reg base_changed[] = {
    {"pcall", sandbox_pcall},   {"xpcall", sandbox_xpcall}, {"setmetatable", sandbox_setmetatable},
    {"rawset", sandbox_rawset}, {"print", sandbox_print},   {"load", sandbox_load},
    {NULL, NULL},
};

static const luaL_Reg qloop_libs[] = {
    {"idcard", luaopen_idcard}, {"uscc", luaopen_uscc},         {"orgcode", luaopen_orgcode},
    {"valid", luaopen_valid},   {"re", luaopen_re},             {"clean", luaopen_clean},
    {"mask", luaopen_mask},     {"division", luaopen_division}, {"calendar", luaopen_calendar},
    {NULL, NULL},
};

int qloop_env_setup(lua_State *L)
{
    luaL_openlibs(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    for (const luaL_Reg *lib = qloop_libs; lib->name; lib++) {
        luaL_requiref(L, lib->name, lib->func, 0);
        lua_pop(L, 1);
    }
    lua_getfield(L, loaded, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    qloop_string_patterns(L, -1);
    lua_pushcfunction(L, sandbox_rep);
    lua_setfield(L, -2, "rep");
    lua_pop(L, 1);
    lua_getfield(L, loaded, "table");
    wrap(L, -1, "move", sandbox_move);
    lua_pop(L, 1);
    lua_getfield(L, loaded, "math");
    wrap(L, -1, "random", sandbox_chance);
    wrap(L, -1, "randomseed", sandbox_chance);
    lua_pop(L, 1);

    lua_newtable(L); /* G */
    int g = lua_gettop(L);
    for (const char *const *n = base_allowed; *n; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, g, *n);
    }
    lua_getglobal(L, "tonumber");
    lua_pushcclosure(L, sandbox_tonumber, 1);
    lua_setfield(L, g, "tonumber");
    luaL_setfuncs(L, base_changed, 0);
    static const char *const std_libs[] = {"string", "table", "math", "utf8", NULL};
    for (const char *const *n = std_libs; *n; n++) {
        lua_getfield(L, loaded, *n);
        push_library(L, -1, *n);
        lua_setfield(L, g, *n);
        lua_pop(L, 1);
    }
    for (const luaL_Reg *lib = qloop_libs; lib->name; lib++) {
        lua_getfield(L, loaded, lib->name);
        push_library(L, -1, lib->name);
        lua_setfield(L, g, lib->name);
        lua_pop(L, 1);
    }
    /* the string metatable: its __index is the real (strict) string table */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    /* every environment's metatable: reads fall through to G */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, g);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);

    /* Drop everything else: the real globals lose io, os, package, debug... */
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, -4);
    }
    lua_pop(L, 1);
    static const char *const unload[] = {"io", "os", "package", "debug", "coroutine", "_G", NULL};
    for (const char *const *n = unload; *n; n++) {
        lua_pushnil(L);
        lua_setfield(L, loaded, *n);
    }
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    lua_settop(L, 0);
    return 0;
}
