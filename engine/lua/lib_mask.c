/*
 * lua_mask.c — the `mask` table: masking (脱敏) functions for rules.
 *
 *   mask.idcard(s)   mask.phone(s)   mask.name(s)
 *   mask.address(s)  mask.generic(s) mask.sensitive(s)
 *
 * Each takes a string (a number is converted as tostring would; nil gives
 * nil) and returns the masked string; the rules are those of mask.c.
 * mask.sensitive picks the mask by the value's shape, as the engine does for
 * the fields a dataset declares `sensitive`.
 *
 * The C functions write into a struct qloop_buf kept per state in a userdata
 * shared as upvalue by all functions of the table (its __gc frees it), so the
 * buffer is reused and never leaked when pushing the result raises a memory
 * error.
 */
#include <lauxlib.h>

#include "lua/libs.h"
#include "checks/mask.h"

static const char SCRATCH_MT[] = "qloop.mask.scratch";

/* Buffers larger than this are released after use rather than kept. */
enum { SCRATCH_KEEP = 64 * 1024 };

typedef void (*mask_fn)(const char *s, size_t len, struct qloop_buf *out);

/* __gc of the scratch buffer userdata: frees its memory. */
static int scratch_gc(lua_State *L)
{
    qloop_buf_free(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

/* Applies fn to argument 1 and pushes the masked string (nil for nil). */
static int apply(lua_State *L, mask_fn fn)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct qloop_buf *b = lua_touserdata(L, lua_upvalueindex(1));
    qloop_buf_reset(b);
    fn(s, len, b);
    lua_pushlstring(L, qloop_buf_str(b), b->len);
    if (b->cap > SCRATCH_KEEP)
        qloop_buf_free(b);
    return 1;
}

/* The Lua functions: mask.NAME(s) -> string, see the file comment. */
static int mask_l_idcard(lua_State *L) { return apply(L, mask_idcard); }
static int mask_l_phone(lua_State *L) { return apply(L, mask_phone); }
static int mask_l_name(lua_State *L) { return apply(L, mask_name); }
static int mask_l_address(lua_State *L) { return apply(L, mask_address); }
static int mask_l_generic(lua_State *L) { return apply(L, mask_generic); }
static int mask_l_sensitive(lua_State *L) { return apply(L, mask_sensitive); }

static const luaL_Reg mask_funcs[] = {
    {"idcard", mask_l_idcard},
    {"phone", mask_l_phone},
    {"name", mask_l_name},
    {"address", mask_l_address},
    {"generic", mask_l_generic},
    {"sensitive", mask_l_sensitive},
    {NULL, NULL},
};

/* Pushes the `mask` table; its functions share one scratch buffer. */
int luaopen_mask(lua_State *L)
{
    luaL_newlibtable(L, mask_funcs);
    struct qloop_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    *b = (struct qloop_buf){0};
    if (luaL_newmetatable(L, SCRATCH_MT)) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    luaL_setfuncs(L, mask_funcs, 1);
    return 1;
}
