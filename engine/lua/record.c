/*
 * record.c — the read-only record view given to record-level rules
 * (record.h).
 *
 * The userdata holds a pointer back to its owner's struct, cleared when the
 * owner expires it. A field read is one C call (__index) and must be cheap:
 * the view is recognised by a mark in its block (the address of a static of
 * this file, which no other userdata holds; the function is reachable only
 * as the __index of the protected metatable anyway), not by a registry
 * lookup by name, and the column of a name is found by the address of the
 * name's Lua string in a small array in the view. That address identifies the name safely because the view's user
 * value (a Lua table: name -> column) holds every string the array points
 * at, so none of them is collected and reused while the view lives. Names
 * past the array's size are found in that table; absent names are not
 * cached at all (a JSON Lines column may appear later). The metatable is
 * protected (__metatable), so rule code cannot reach it to forge the fields
 * every other rule reads.
 */
#include <lauxlib.h>

#include "base/strmap.h"
#include "base/text.h"
#include "lua/record.h"
#include "lua/sandbox.h"

static const char RECORD_MT[] = "qloop.record";

enum { NAMES = 16 }; /* names a view finds by address */

static const char MARK = 'r'; /* its address marks a view's block */

struct view {
    const char *mark;             /* &MARK */
    struct qloop_lua_record *rec; /* NULL once expired */
    int nnames;
    const char *name[NAMES]; /* interned names, anchored in the user value */
    long col[NAMES];
};

/* The column of the name at index 2 (len bytes at name) in the view at index
 * 1, or -1 when the dataset has none. */
static long column_of(lua_State *L, struct view *v, const char *name, size_t len)
{
    for (int i = 0; i < v->nnames; i++)
        if (v->name[i] == name)
            return v->col[i];
    long col = -1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        col = (long)lua_tointeger(L, -1);
    } else {
        const uint64_t *c = strmap_get(v->rec->colmap, name, len);
        if (c) {
            col = (long)*c - 1;
            lua_pushvalue(L, 2);
            lua_pushinteger(L, col);
            lua_rawset(L, -4); /* anchors the name */
            if (v->nnames < NAMES) {
                v->name[v->nnames] = name;
                v->col[v->nnames++] = col;
            }
        }
    }
    lua_pop(L, 2);
    return col;
}

/* r.field: the cleansed value of the current row, nil when empty or absent.
 */
static int record_index(lua_State *L)
{
    struct view *v = lua_touserdata(L, 1);
    /* a light userdata has no length: rawlen is 0 for it */
    if (!v || lua_rawlen(L, 1) != sizeof *v || v->mark != &MARK)
        return luaL_typeerror(L, 1, "record");
    size_t len;
    const char *name = lua_tolstring(L, 2, &len); /* a number becomes its text, as before */
    if (!name)
        name = luaL_checklstring(L, 2, &len);
    struct qloop_lua_record *rec = v->rec;
    if (!rec)
        return qloop_lua_error(L,
                               "记录 r 已经失效（读取字段 %.200s）：r 只在检查这条记录时有效，规则把它"
                               "保存下来以后再读了（例如放进变量，在比对的 equal 或其他记录的检查中"
                               "使用）；请在检查时取出需要的字段值",
                               name);
    long col = column_of(L, v, name, len);
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
    v->mark = &MARK;
    v->rec = rec;
    v->nnames = 0;
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
