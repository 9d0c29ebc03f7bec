/*
 * lua_idcard.c — the `idcard` table rules see (GB 11643-1999 identity
 * numbers): valid, parse, upgrade; and qloop_idcard_checks, which lets a rule
 * written `check = idcard.valid` run idcard_valid in C without entering Lua.
 *
 * A value that is not a string (nil, a number) is not an identity number:
 * valid answers false, "不是文本" and parse / upgrade nil, "不是文本", rather
 * than raising, so one bad cell never stops a rule.
 */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "checks/idcard.h"
#include "lua/libs.h"
#include "lua/native.h"

static const char NOT_TEXT[] = "不是文本";

/* Reads the options table of idcard.valid at index 2 (absent or nil: none);
 * returns whether region = true. An unknown key is an error in the rule. */
static int check_options(lua_State *L)
{
    if (lua_isnoneornil(L, 2))
        return 0;
    luaL_checktype(L, 2, LUA_TTABLE);
    int region = 0;
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "region") != 0)
            return luaL_error(L, "idcard.valid 的选项只有 region（如 {region = true}）");
        region = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return region;
}

/* idcard.valid(s [, {region = true}]) -> true | false, reason */
static int idcard_valid_l(lua_State *L)
{
    int region = check_options(L);
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, NOT_TEXT);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *reason = NULL;
    bool ok = region ? idcard_valid_region(s, len, &reason) : idcard_valid(s, len, &reason);
    lua_pushboolean(L, ok);
    if (ok)
        return 1;
    lua_pushstring(L, reason);
    return 2;
}

/* The keys of parse's table and the two values of its sex, pushed once as
 * upvalues of the library's functions (luaopen_idcard): setting a field is
 * then a raw set with an interned key, not a lookup of the C text in Lua's
 * string cache, and the sex is not hashed and looked up again per call. */
enum { K_DIVISION = 1, K_BIRTH, K_SEX, K_LEGACY, NKEYS = K_LEGACY, V_MALE, V_FEMALE,
       NUPVALUES = V_FEMALE };
static const char *const upvalues[NUPVALUES] = {"division", "birth", "sex", "legacy", "男", "女"};

/* Sets t[key] = s[0..len) (the table at the top; key an upvalue index above). */
static void set_text(lua_State *L, int key, const char *s, size_t len)
{
    lua_pushvalue(L, lua_upvalueindex(key));
    lua_pushlstring(L, s, len);
    lua_rawset(L, -3);
}

/* Sets t.sex = sex ("男" or "女": the upvalue). */
static void set_sex(lua_State *L, const char *sex)
{
    lua_pushvalue(L, lua_upvalueindex(K_SEX));
    /* "男" and "女" are 3 bytes and a NUL: compared as 4 bytes, inline */
    if (memcmp(sex, "男", 4) == 0)
        lua_pushvalue(L, lua_upvalueindex(V_MALE));
    else if (memcmp(sex, "女", 4) == 0)
        lua_pushvalue(L, lua_upvalueindex(V_FEMALE));
    else
        lua_pushstring(L, sex);
    lua_rawset(L, -3);
}

/* idcard.parse(s) -> {division=, birth=, sex=, legacy=} | nil, reason */
static int idcard_parse_l(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        luaL_pushfail(L);
        lua_pushstring(L, NOT_TEXT);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    struct idcard_info info;
    const char *reason = NULL;
    if (!idcard_parse(s, len, &info, &reason)) {
        luaL_pushfail(L);
        lua_pushstring(L, reason);
        return 2;
    }
    lua_createtable(L, 0, NKEYS);
    /* idcard_parse writes both in full: 6 digits, YYYY-MM-DD */
    set_text(L, K_DIVISION, info.division, sizeof info.division - 1);
    set_text(L, K_BIRTH, info.birth, sizeof info.birth - 1);
    set_sex(L, info.sex);
    lua_pushvalue(L, lua_upvalueindex(K_LEGACY));
    lua_pushboolean(L, info.legacy);
    lua_rawset(L, -3);
    return 1;
}

/* idcard.upgrade(s) -> 18-digit number | nil, reason */
static int idcard_upgrade_l(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        luaL_pushfail(L);
        lua_pushstring(L, NOT_TEXT);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char out[19];
    const char *reason = NULL;
    if (!idcard_upgrade(s, len, out, &reason)) {
        luaL_pushfail(L);
        lua_pushstring(L, reason);
        return 2;
    }
    lua_pushlstring(L, out, 18);
    return 1;
}

static const luaL_Reg idcard_lib[] = {
    {"valid", idcard_valid_l},
    {"parse", idcard_parse_l},
    {"upgrade", idcard_upgrade_l},
    {NULL, NULL},
};

const struct qloop_native_check qloop_idcard_checks[] = {
    {"idcard.valid", idcard_valid_l, idcard_valid},
    {NULL, NULL, NULL},
};

int luaopen_idcard(lua_State *L)
{
    luaL_newlibtable(L, idcard_lib);
    for (int k = 0; k < NUPVALUES; k++)
        lua_pushstring(L, upvalues[k]);
    luaL_setfuncs(L, idcard_lib, NUPVALUES);
    return 1;
}
