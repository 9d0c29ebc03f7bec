/*
 * lua_host.c — the Lua sandbox: capped allocator, instruction budget,
 * allow-listed libraries, text-only chunks, protected calls.
 *
 * Modelled on Suricata's util-lua-sandbox.c and Redis's script_lua.c. The
 * whole boundary between C and rule code is here and in the lua_*.c binding
 * files; nothing else in qloop touches a lua_State except the rule pack
 * loader and the run loop, through the functions below.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "lua/sandbox.h"
#include "lua/libs.h"

enum { HOOK_EVERY = 1000 };

struct host {
    size_t used, limit;   /* bytes allocated / cap */
    long budget;          /* instructions per call */
    long left;            /* instructions left in the current call */
    int over_memory;      /* set when the cap refused an allocation */
    char where_file[512]; /* innermost Lua frame of the last error */
    long where_line;
};

static const char HOST_KEY[] = "qloop.host";
static const char GLOBALS_KEY[] = "qloop.globals";

static struct host *host_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct host *h = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        h->used -= old;
        return NULL;
    }
    if (nsize > old && h->used - old + nsize > h->limit) {
        h->over_memory = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        h->used = h->used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct host *h = host_of(L);
    h->left -= HOOK_EVERY;
    if (h->left <= 0) {
        h->left = h->budget; /* leave room for the error handler to run */
        luaL_error(L, "规则超出指令预算（%I 条指令），已中止；请检查是否有死循环", (lua_Integer)h->budget);
    }
}

/* print writes to stderr: rules must not write into qloop's output. */
static int sandbox_print(lua_State *L)
{
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
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    fwrite(s, 1, len, stderr);
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]) restricted to text chunks and to
 * string sources; env defaults to the sandbox's globals. */
static int sandbox_load(lua_State *L)
{
    size_t len;
    const char *code = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b'))
        return luaL_error(L, "沙箱中不允许加载二进制代码块");
    if (len > 0 && code[0] == LUA_SIGNATURE[0])
        return luaL_error(L, "沙箱中不允许加载二进制代码块");
    int has_env = !lua_isnone(L, 4);
    if (luaL_loadbufferx(L, code, len, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env)
        lua_pushvalue(L, 4);
    else
        lua_getfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
    "rawset", "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type",
    "xpcall", "_VERSION", NULL,
};

static void open_lib(lua_State *L, const char *name, lua_CFunction open, int global)
{
    luaL_requiref(L, name, open, global);
    lua_pop(L, 1);
}

/* Builds the sandbox's globals table: allow-listed base functions and
 * libraries copied from a full environment that is then dropped. */
static int setup(lua_State *L)
{
    luaL_openlibs(L);
    lua_newtable(L); /* sandbox globals */
    int g = lua_gettop(L);
    for (const char *const *n = base_allowed; *n; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, g, *n);
    }
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, sandbox_load);
    lua_setfield(L, g, "load");
    static const char *const libs[] = {"string", "table", "math", "utf8", NULL};
    for (const char *const *n = libs; *n; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, g, *n);
    }
    lua_getfield(L, g, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    static const luaL_Reg qloop_libs[] = {
        {"idcard", luaopen_idcard}, {"uscc", luaopen_uscc},         {"orgcode", luaopen_orgcode},
        {"valid", luaopen_valid},   {"re", luaopen_re},             {"clean", luaopen_clean},
        {"mask", luaopen_mask},     {"division", luaopen_division}, {"calendar", luaopen_calendar},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = qloop_libs; lib->name; lib++) {
        open_lib(L, lib->name, lib->func, 0);
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, lib->name);
        lua_setfield(L, g, lib->name);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, g);
    lua_setfield(L, g, "_G");

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
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    for (const char *const *n = unload; *n; n++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *n);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    lua_pop(L, 1);
    return 0;
}

lua_State *qloop_lua_new(const struct qloop_lua_limits *limits)
{
    struct host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->limit = limits && limits->memory_bytes ? limits->memory_bytes : (size_t)256 << 20;
    h->budget = limits && limits->instructions ? limits->instructions : 10000000L;
    h->left = h->budget;
    lua_State *L = lua_newstate(capped_alloc, h);
    if (!L) {
        free(h);
        return NULL;
    }
    /* Building the sandbox must not be limited by a small cap. */
    size_t limit = h->limit;
    h->limit = (size_t)-1;
    lua_pushcfunction(L, setup);
    int rc = lua_pcall(L, 0, 0, 0);
    h->limit = limit;
    if (rc != LUA_OK) {
        fprintf(stderr, "qloop: 无法建立 Lua 沙箱：%s\n", lua_tostring(L, -1));
        lua_close(L);
        free(h);
        return NULL;
    }
    lua_pushlightuserdata(L, h);
    lua_setfield(L, LUA_REGISTRYINDEX, HOST_KEY);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return L;
}

void qloop_lua_close(lua_State *L)
{
    if (!L)
        return;
    struct host *h = host_of(L);
    lua_close(L);
    free(h);
}

/* Splits "file:line: message" (as Lua formats positions) into err. */
static void fill_error(struct qloop_error *err, const char *msg, const struct host *h)
{
    const char *file = h->where_file[0] ? h->where_file : NULL;
    long line = h->where_line;
    const char *text = msg;
    char fbuf[512];
    const char *c1 = strstr(msg, ":");
    while (c1) {
        char *end;
        long n = strtol(c1 + 1, &end, 10);
        if (end > c1 + 1 && end[0] == ':' && end[1] == ' ') {
            size_t flen = (size_t)(c1 - msg);
            if (flen >= sizeof fbuf)
                flen = sizeof fbuf - 1;
            memcpy(fbuf, msg, flen);
            fbuf[flen] = '\0';
            if (strncmp(fbuf, "[string", 7) != 0) {
                file = fbuf;
                line = n;
            }
            text = end + 2;
            break;
        }
        c1 = strstr(c1 + 1, ":");
    }
    qloop_error_set(err, file, line, 0, "%s", text);
}

static int traceback_handler(lua_State *L)
{
    struct host *h = host_of(L);
    h->where_file[0] = '\0';
    h->where_line = 0;
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && ar.source[0] == '@') {
            snprintf(h->where_file, sizeof h->where_file, "%s", ar.source + 1);
            h->where_line = ar.currentline;
            break;
        }
    }
    if (!lua_isstring(L, 1)) {
        const char *s = luaL_tolstring(L, 1, NULL);
        lua_pushfstring(L, "规则抛出了非文本错误：%s", s);
    } else {
        lua_pushvalue(L, 1);
    }
    return 1;
}

int qloop_lua_pcall(lua_State *L, int nargs, int nresults, struct qloop_error *err)
{
    struct host *h = host_of(L);
    int base = lua_gettop(L) - nargs; /* index of the function */
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    h->left = h->budget;
    h->over_memory = 0;
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc == LUA_OK)
        return rc;
    if (rc == LUA_ERRMEM || h->over_memory) {
        qloop_error_set(err, h->where_file[0] ? h->where_file : NULL, h->where_line, 0,
                        "规则超出内存上限（%zu MiB），已中止；请减少规则中保存的数据", h->limit >> 20);
    } else {
        const char *msg = lua_tostring(L, -1);
        fill_error(err, msg ? msg : "未知错误", h);
    }
    lua_pop(L, 1);
    return rc;
}

int qloop_lua_load(lua_State *L, const char *code, size_t len, const char *chunkname,
                   struct qloop_error *err)
{
    struct host *h = host_of(L);
    h->where_file[0] = '\0';
    h->where_line = 0;
    if (len > 0 && code[0] == LUA_SIGNATURE[0])
        return qloop_error_set(err, chunkname[0] == '@' ? chunkname + 1 : chunkname, 0, 0,
                               "不允许加载 Lua 字节码；规则文件必须是文本");
    int rc = luaL_loadbufferx(L, code, len, chunkname, "t");
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM)
            qloop_error_set(err, chunkname[0] == '@' ? chunkname + 1 : chunkname, 0, 0,
                            "加载规则时内存不足");
        else
            fill_error(err, lua_tostring(L, -1), h);
        if (!err->file[0])
            snprintf(err->file, sizeof err->file, "%s",
                     chunkname[0] == '@' ? chunkname + 1 : chunkname);
        lua_pop(L, 1);
        return -1;
    }
    /* A fresh _ENV per chunk, reading through to the sandbox's globals. */
    lua_newtable(L);
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 0;
}

int qloop_lua_load_file(lua_State *L, const char *path, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0, "无法读取规则文件；请检查路径是否正确");
    struct qloop_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        qloop_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        qloop_buf_free(&b);
        return qloop_error_set(err, path, 0, 0, "读取规则文件出错");
    }
    const char *code = qloop_buf_str(&b);
    size_t len = b.len;
    if (len >= 3 && memcmp(code, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        code += 3;
        len -= 3;
    }
    struct qloop_buf name = {0};
    qloop_buf_printf(&name, "@%s", path);
    int rc = qloop_lua_load(L, code, len, qloop_buf_str(&name), err);
    qloop_buf_free(&name);
    qloop_buf_free(&b);
    return rc;
}

void qloop_lua_push_env(lua_State *L, int idx)
{
    if (!lua_getupvalue(L, idx, 1))
        lua_pushnil(L);
}
