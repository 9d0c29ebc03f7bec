/*
 * lua_orgcode.c — the `orgcode` table rules see (GB 11714-1997 organisation
 * codes, 组织机构代码): valid. Its C twin is listed in qloop_uscc_checks
 * (lua_uscc.c), next to uscc.valid, which checks the same code inside a USCC.
 */
#include <lauxlib.h>
#include <lua.h>

#include "lua/libs.h"
#include "checks/uscc.h"

/* orgcode.valid(s) -> true | false, reason. s is 9 characters, or 10 with a
 * '-' before the check character; a non-string answers false, "不是文本". */
int qloop_lua_orgcode_valid(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "不是文本");
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *reason = NULL;
    bool ok = orgcode_valid(s, len, &reason);
    lua_pushboolean(L, ok);
    if (ok)
        return 1;
    lua_pushstring(L, reason);
    return 2;
}

static const luaL_Reg orgcode_lib[] = {
    {"valid", qloop_lua_orgcode_valid},
    {NULL, NULL},
};

int luaopen_orgcode(lua_State *L)
{
    luaL_newlib(L, orgcode_lib);
    return 1;
}
