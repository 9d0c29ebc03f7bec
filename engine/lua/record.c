/*
 * record.c — the read-only record view given to record-level rules
 * (record.h).
 *
 * The userdata holds a pointer back to its owner's struct, cleared when the
 * owner expires it. Column positions are cached in the view's user value (a
 * Lua table keyed by the interned field name), so a hit costs no hashing of
 * the name in C. Absent names are not cached: a JSON Lines column may appear
 * later. The metatable is protected (__metatable), so rule code cannot
 * reach it to forge the fields every other rule reads.
 */
#include <lauxlib.h>

#include "base/strmap.h"
#include "base/text.h"
#include "lua/record.h"
#include "lua/sandbox.h"

static const char RECORD_MT[] = "qloop.record";

struct view {
    struct qloop_lua_record *rec; /* NULL once expired */
};

/* r.field: the cleansed value of the current row, nil when empty or absent. */
static int record_index(lua_State *L)
{
    struct view *v = luaL_checkudata(L, 1, RECORD_MT);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    struct qloop_lua_record *rec = v->rec;
    if (!rec)
        return qloop_lua_error(L,
                               "记录 r 已经失效（读取字段 %.200s）：r 只在检查这条记录时有效，规则把它"
                               "保存下来以后再读了（例如放进变量，在比对的 equal 或其他记录的检查中"
                               "使用）；请在检查时取出需要的字段值",
                               name);
    long col = -1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        col = (long)lua_tointeger(L, -1);
    } else {
        uint64_t *c = strmap_get(rec->colmap, name, len);
        if (c) {
            col = (long)*c - 1;
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
    return qloop_lua_error(L, "记录是只读的：规则不能修改数据（请在 cleanse 中清洗）");
}

void qloop_lua_record_push(lua_State *L, struct qloop_lua_record *rec)
{
    if (rec->view) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rec->ref);
        return;
    }
    struct view *v = lua_newuserdatauv(L, sizeof *v, 1);
    v->rec = rec;
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    if (luaL_newmetatable(L, RECORD_MT)) {
        lua_pushcfunction(L, record_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, record_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushstring(L, "record");
        lua_setfield(L, -2, "__name");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    rec->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rec->view = v;
}

void qloop_lua_record_expire(lua_State *L, struct qloop_lua_record *rec)
{
    if (!rec->view)
        return;
    ((struct view *)rec->view)->rec = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, rec->ref);
    rec->view = NULL;
}
