/*
 * lua_re.c — the `re` table: PCRE2 regular expressions for rules.
 *
 *   re.match(pattern, s) -> true | false
 *   re.find(pattern, s)  -> the captures (the whole match when the pattern
 *                           has none), or nil
 *
 * Compiled patterns are cached per Lua state (registry table keyed by the
 * pattern text, at most CACHE_MAX entries), so a rule calling re.match in a
 * loop compiles its pattern once. An invalid pattern raises an error that
 * names the position of the problem. Both raise the same error when matching
 * hits a limit of pattern.h: the value is neither a match nor a non-match,
 * and the rule's error on that record says so.
 */
#include <lauxlib.h>
#include <string.h>

#include "lua/libs.h"
#include "lua/sandbox.h"
#include "checks/pattern.h"

enum { CACHE_MAX = 256 };
static const char CACHE_KEY[] = "qloop.re.cache";
static const char PATTERN_MT[] = "qloop.re.pattern";

static int pattern_gc(lua_State *L)
{
    struct qloop_pattern **pp = luaL_checkudata(L, 1, PATTERN_MT);
    pattern_free(*pp);
    *pp = NULL;
    return 0;
}

/* Returns the compiled pattern for the string at index 1, from the cache or
 * newly compiled (raising a Lua error when invalid). */
static struct qloop_pattern *get_pattern(lua_State *L)
{
    size_t len;
    const char *pat = luaL_checklstring(L, 1, &len);
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) == LUA_TUSERDATA) {
        struct qloop_pattern *p = *(struct qloop_pattern **)lua_touserdata(L, -1);
        lua_pop(L, 2);
        return p;
    }
    lua_pop(L, 1);
    lua_pushinteger(L, 0);
    if (lua_rawget(L, -2) == LUA_TNUMBER && lua_tointeger(L, -1) >= CACHE_MAX) {
        lua_pop(L, 2);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
        lua_pushinteger(L, 0);
    }
    lua_Integer count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    struct qloop_pattern **pp = lua_newuserdatauv(L, sizeof *pp, 0);
    *pp = NULL;
    luaL_setmetatable(L, PATTERN_MT);
    char msg[256];
    size_t off = 0;
    *pp = pattern_compile(pat, len, msg, sizeof msg, &off);
    if (!*pp)
        luaL_error(L, "正则表达式无效（第 %d 个字符处）：%s", (int)off, msg);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pushinteger(L, 0);
    lua_pushinteger(L, count + 1);
    lua_rawset(L, -4);
    struct qloop_pattern *p = *pp;
    lua_pop(L, 2);
    return p;
}

/* The error of re.match and re.find alike when matching hits a limit. */
static int match_limit_error(lua_State *L)
{
    return qloop_lua_error(L,
                           "正则表达式在这个值上回溯过多（超过 %d 步的匹配限制），按规则出错计："
                           "模式写得会在某些值上指数级回溯（如 ^(a+)+$），请改写（如 ^a+$）",
                           (int)PATTERN_MATCH_LIMIT);
}

static int re_match(lua_State *L)
{
    luaL_checkstring(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    struct qloop_pattern *p = get_pattern(L);
    int rc = pattern_match(p, s, len);
    if (rc < 0)
        return match_limit_error(L);
    lua_pushboolean(L, rc);
    return 1;
}

static int re_find(lua_State *L)
{
    luaL_checkstring(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    struct qloop_pattern *p = get_pattern(L);
    const size_t *ov;
    int caps = pattern_find(p, s, len, &ov);
    if (caps == -2)
        return match_limit_error(L);
    if (caps < 0) {
        lua_pushnil(L);
        return 1;
    }
    if (caps == 0) {
        lua_pushlstring(L, s + ov[0], ov[1] - ov[0]);
        return 1;
    }
    luaL_checkstack(L, caps, "too many captures");
    for (int i = 1; i <= caps; i++) {
        if (ov[2 * i] == (size_t)-1)
            lua_pushnil(L);
        else
            lua_pushlstring(L, s + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    }
    return caps;
}

static const luaL_Reg re_funcs[] = {
    {"match", re_match},
    {"find", re_find},
    {NULL, NULL},
};

int luaopen_re(lua_State *L)
{
    luaL_newmetatable(L, PATTERN_MT);
    lua_pushcfunction(L, pattern_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    luaL_newlib(L, re_funcs);
    return 1;
}
