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
#include <string.h>

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

/* The keys of parse's table, pushed once as upvalues of the library's
 * functions (luaopen_uscc), so that setting a field is a raw set with an
 * interned key. */
enum { K_AUTHORITY = 1, K_AUTHORITY_NAME, K_TYPE, K_TYPE_NAME, K_DIVISION, K_ORGCODE, K_CHECK,
       NKEYS = K_CHECK };
static const char *const keys[NKEYS] = {"authority", "authority_name", "type", "type_name",
                                        "division", "orgcode", "check"};

/* Sets t[key] = s[0..len) (the table at the top; key an upvalue index above). */
static void set_text(lua_State *L, int key, const char *s, size_t len)
{
    lua_pushvalue(L, lua_upvalueindex(key));
    lua_pushlstring(L, s, len);
    lua_rawset(L, -3);
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
    lua_createtable(L, 0, NKEYS);
    set_text(L, K_AUTHORITY, &info.authority, 1);
    if (info.authority_name)
        set_text(L, K_AUTHORITY_NAME, info.authority_name, strlen(info.authority_name));
    set_text(L, K_TYPE, &info.type, 1);
    if (info.type_name)
        set_text(L, K_TYPE_NAME, info.type_name, strlen(info.type_name));
    set_text(L, K_DIVISION, info.division, strlen(info.division));
    set_text(L, K_ORGCODE, info.orgcode, strlen(info.orgcode));
    set_text(L, K_CHECK, &info.check, 1);
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
    luaL_newlibtable(L, uscc_lib);
    for (int k = 0; k < NKEYS; k++)
        lua_pushstring(L, keys[k]);
    luaL_setfuncs(L, uscc_lib, NKEYS);
    return 1;
}
