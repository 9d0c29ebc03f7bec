/*
 * lua_uscc.c — the `uscc` table rules see (GB 32100-2015 unified social
 * credit identifiers): valid, parse; and qloop_uscc_checks, the C twins of
 * uscc.valid and of orgcode.valid (whose Lua function lives in lua_orgcode.c).
 *
 * A value that is not a string answers false (or nil), "不是文本" rather than
 * raising.
 */
#include <lauxlib.h>
#include <lua.h>

#include "lua/libs.h"
#include "lua/native.h"
#include "checks/uscc.h"

static const char NOT_TEXT[] = "不是文本";

/* uscc.valid(s) -> true | false, reason */
static int uscc_valid_l(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, NOT_TEXT);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *reason = NULL;
    bool ok = uscc_valid(s, len, &reason);
    lua_pushboolean(L, ok);
    if (ok)
        return 1;
    lua_pushstring(L, reason);
    return 2;
}

static void set_char(lua_State *L, const char *key, char c)
{
    lua_pushlstring(L, &c, 1);
    lua_setfield(L, -2, key);
}

/* uscc.parse(s) -> {authority=, authority_name=, type=, type_name=,
 * division=, orgcode=, check=} | nil, reason. The names are absent when the
 * codes are not in the GB 32100 table. */
static int uscc_parse_l(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        luaL_pushfail(L);
        lua_pushstring(L, NOT_TEXT);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    struct uscc_info info;
    const char *reason = NULL;
    if (!uscc_parse(s, len, &info, &reason)) {
        luaL_pushfail(L);
        lua_pushstring(L, reason);
        return 2;
    }
    lua_createtable(L, 0, 7);
    set_char(L, "authority", info.authority);
    if (info.authority_name) {
        lua_pushstring(L, info.authority_name);
        lua_setfield(L, -2, "authority_name");
    }
    set_char(L, "type", info.type);
    if (info.type_name) {
        lua_pushstring(L, info.type_name);
        lua_setfield(L, -2, "type_name");
    }
    lua_pushstring(L, info.division);
    lua_setfield(L, -2, "division");
    lua_pushstring(L, info.orgcode);
    lua_setfield(L, -2, "orgcode");
    set_char(L, "check", info.check);
    return 1;
}

static const luaL_Reg uscc_lib[] = {
    {"valid", uscc_valid_l},
    {"parse", uscc_parse_l},
    {NULL, NULL},
};

const struct qloop_native_check qloop_uscc_checks[] = {
    {"uscc.valid", uscc_valid_l, uscc_valid},
    {"orgcode.valid", qloop_lua_orgcode_valid, orgcode_valid},
    {NULL, NULL, NULL},
};

int luaopen_uscc(lua_State *L)
{
    luaL_newlib(L, uscc_lib);
    return 1;
}
