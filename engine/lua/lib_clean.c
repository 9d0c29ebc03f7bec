/*
 * lua_clean.c — the `clean` table: cleansing functions for rules.
 *
 *   clean.trim(s)      clean.halfwidth(s)   clean.date(s)
 *   clean.phone(s)     clean.upper(s)       clean.collapse(s)
 *
 * Each takes a string (a number is converted as tostring would; nil gives
 * nil) and returns the cleaned string, or nil when there is no value
 * (clean.date on something that is not a date). The work is done by the C
 * functions of clean.c; qloop_clean_cleaners pairs each Lua function with its
 * C twin so that a cleanse step naming one runs without entering Lua.
 *
 * The C functions write into a struct qloop_buf. Each state keeps one such
 * buffer in a userdata shared as upvalue by all functions of the table (its
 * __gc frees it), so the buffer is reused between calls and is never leaked
 * when pushing the result raises a memory error.
 */
#include <lauxlib.h>

#include "checks/clean.h"
#include "lua/libs.h"
#include "lua/native.h"

static const char SCRATCH_MT[] = "qloop.clean.scratch";

/* Buffers larger than this are released after use rather than kept. */
enum { SCRATCH_KEEP = 64 * 1024 };

/* __gc of the scratch buffer userdata: frees its memory. */
static int scratch_gc(lua_State *L)
{
    qloop_buf_free(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

/* Applies fn to argument 1 and pushes the result (string or nil). */
static int apply(lua_State *L, qloop_clean_fn fn)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct qloop_buf *b = lua_touserdata(L, lua_upvalueindex(1));
    qloop_buf_reset(b);
    if (fn(s, len, b))
        lua_pushlstring(L, qloop_buf_str(b), b->len);
    else
        lua_pushnil(L);
    if (b->cap > SCRATCH_KEEP)
        qloop_buf_free(b);
    return 1;
}

/* The Lua functions: clean.NAME(s) -> string | nil, see the file comment. */
static int clean_l_trim(lua_State *L) { return apply(L, clean_trim); }
static int clean_l_halfwidth(lua_State *L) { return apply(L, clean_halfwidth); }
static int clean_l_date(lua_State *L) { return apply(L, clean_date); }
static int clean_l_phone(lua_State *L) { return apply(L, clean_phone); }
static int clean_l_upper(lua_State *L) { return apply(L, clean_upper); }
static int clean_l_collapse(lua_State *L) { return apply(L, clean_collapse); }

static const luaL_Reg clean_funcs[] = {
    {"trim", clean_l_trim},
    {"halfwidth", clean_l_halfwidth},
    {"date", clean_l_date},
    {"phone", clean_l_phone},
    {"upper", clean_l_upper},
    {"collapse", clean_l_collapse},
    {NULL, NULL},
};

const struct qloop_native_cleaner qloop_clean_cleaners[] = {
    {"clean.trim", clean_l_trim, clean_trim},
    {"clean.halfwidth", clean_l_halfwidth, clean_halfwidth},
    {"clean.date", clean_l_date, clean_date},
    {"clean.phone", clean_l_phone, clean_phone},
    {"clean.upper", clean_l_upper, clean_upper},
    {"clean.collapse", clean_l_collapse, clean_collapse},
    {NULL, NULL, NULL},
};

/* Pushes the `clean` table; its functions share one scratch buffer. */
int luaopen_clean(lua_State *L)
{
    luaL_newlibtable(L, clean_funcs);
    struct qloop_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    *b = (struct qloop_buf){0};
    if (luaL_newmetatable(L, SCRATCH_MT)) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    luaL_setfuncs(L, clean_funcs, 1);
    return 1;
}
