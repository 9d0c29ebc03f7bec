/*
 * record.c — the read-only record view given to record-level rules
 * (record.h).
 *
 * Column positions are cached in the view's user value (a Lua table keyed by
 * the interned field name), so a hit costs no hashing of the name in C.
 * Absent names are not cached: a JSON Lines column may appear later.
 */
#include <lauxlib.h>

#include "base/strmap.h"
#include "base/text.h"
#include "lua/record.h"

static const char RECORD_MT[] = "qloop.record";

/* r.field: the cleansed value of the current row, nil when empty or absent. */
static int record_index(lua_State *L)
{
    struct qloop_lua_record *rec = *(struct qloop_lua_record **)luaL_checkudata(L, 1, RECORD_MT);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    long col = -1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        col = (long)lua_tointeger(L, -1);
    } else {
        uint64_t *v = strmap_get(rec->colmap, name, len);
        if (v) {
            col = (long)*v - 1;
            lua_pushvalue(L, 2);
            lua_pushinteger(L, col);
            lua_rawset(L, -4);
        }
    }
    lua_pop(L, 2);
    const struct qloop_field *f =
        col >= 0 && (size_t)col < rec->ncols && rec->cells ? &rec->cells[col] : NULL;
    if (!f || qloop_value_empty(f))
        lua_pushnil(L);
    else
        lua_pushlstring(L, f->ptr, f->len);
    return 1;
}

static int record_newindex(lua_State *L)
{
    return luaL_error(L, "记录是只读的：规则不能修改数据（请在 cleanse 中清洗）");
}

void qloop_lua_record_push(lua_State *L, struct qloop_lua_record *rec)
{
    struct qloop_lua_record **u = lua_newuserdatauv(L, sizeof *u, 1);
    *u = rec;
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    if (luaL_newmetatable(L, RECORD_MT)) {
        lua_pushcfunction(L, record_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, record_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushstring(L, "record");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
}
