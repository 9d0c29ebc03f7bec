/*
 * lua_libs.h — the Lua tables qloop gives rules, one binding file each.
 *
 * Each engine/lua_NAME.c holds one luaopen_NAME and one luaL_Reg table, in the
 * style of Lua's own lstrlib.c: arguments checked first (luaL_check*), then
 * the work, luaL_Buffer for strings. The sandbox (lua_host.c) opens them all
 * as globals; nothing else is visible to rules beyond the allow-listed parts of
 * the standard library.
 */
#ifndef QLOOP_LUA_LIBS_H
#define QLOOP_LUA_LIBS_H

#include <lua.h>

int luaopen_idcard(lua_State *L);   /* lua_idcard.c:   valid, parse, upgrade */
int luaopen_uscc(lua_State *L);     /* lua_uscc.c:     valid, parse */
int luaopen_orgcode(lua_State *L);  /* lua_orgcode.c:  valid */
int luaopen_valid(lua_State *L);    /* lua_valid.c:    phone, mobile, landline, email, postal, date, time, sex, ethnic */
int luaopen_re(lua_State *L);       /* lua_re.c:       match, find */
int luaopen_clean(lua_State *L);    /* lua_clean.c:    trim, halfwidth, date, phone, upper, collapse */
int luaopen_mask(lua_State *L);     /* lua_mask.c:     idcard, phone, name, address, generic */
int luaopen_division(lua_State *L); /* lua_division.c: name, valid */
int luaopen_calendar(lua_State *L); /* lua_calendar.c: workday, add_working_days, add_natural_days */

#endif
