/*
 * lua_division.c — the `division` table: GB/T 2260 administrative division
 * codes for rules.
 *
 *   division.name(code)  -> the name ("西湖区"), or nil when unknown
 *   division.valid(code) -> true when the code is in the table, else false
 *   division.level(code) -> "省级" | "地级" | "县级" for a code in the table
 *                           (xx0000 province, xxxx00 prefecture, else
 *                           county), nil when the code is unknown
 *
 * code is a string or a number (330106 works as well as "330106"); nil gives
 * nil (name, level) or false (valid). The table is the one of division.c: the
 * bundled subset, or the file named by --divisions / QLOOP_DIVISIONS.
 */
#include <lauxlib.h>

#include "checks/division.h"
#include "lua/libs.h"

/* The name of the code at argument 1, NULL when it is nil or unknown. */
static const char *lookup(lua_State *L, size_t *len, const char **code)
{
    if (lua_isnoneornil(L, 1))
        return NULL;
    *code = luaL_checklstring(L, 1, len);
    return division_name(*code, *len);
}

/* division.name(code) -> name | nil */
static int division_l_name(lua_State *L)
{
    size_t len;
    const char *code;
    const char *name = lookup(L, &len, &code);
    if (name)
        lua_pushstring(L, name);
    else
        lua_pushnil(L);
    return 1;
}

/* division.valid(code) -> boolean */
static int division_l_valid(lua_State *L)
{
    size_t len;
    const char *code;
    lua_pushboolean(L, lookup(L, &len, &code) != NULL);
    return 1;
}

/* division.level(code) -> "省级" | "地级" | "县级" | nil */
static int division_l_level(lua_State *L)
{
    size_t len;
    const char *code = NULL;
    if (!lookup(L, &len, &code)) {
        lua_pushnil(L);
        return 1;
    }
    if (code[2] == '0' && code[3] == '0' && code[4] == '0' && code[5] == '0')
        lua_pushliteral(L, "省级");
    else if (code[4] == '0' && code[5] == '0')
        lua_pushliteral(L, "地级");
    else
        lua_pushliteral(L, "县级");
    return 1;
}

static const luaL_Reg division_funcs[] = {
    {"name", division_l_name},
    {"valid", division_l_valid},
    {"level", division_l_level},
    {NULL, NULL},
};

/* Pushes the `division` table. */
int luaopen_division(lua_State *L)
{
    luaL_newlib(L, division_funcs);
    return 1;
}
