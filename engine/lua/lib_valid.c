/*
 * lua_valid.c — the `valid` table rules see: phone, mobile, landline, email,
 * postal, date, time, sex, ethnic; and qloop_validate_checks, their C twins
 * (validate.h), so that `check = valid.mobile` runs without entering Lua.
 *
 * Each function answers true, or false and a Chinese reason; a value that is
 * not a string (nil, a number) answers false, "不是文本" rather than raising.
 */
#include <lauxlib.h>
#include <lua.h>

#include "lua/libs.h"
#include "lua/native.h"
#include "checks/validate.h"

/* Runs check on argument 1 and pushes its Lua answer. */
static int run_check(lua_State *L, qloop_check_fn check)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "不是文本");
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *reason = NULL;
    bool ok = check(s, len, &reason);
    lua_pushboolean(L, ok);
    if (ok)
        return 1;
    lua_pushstring(L, reason ? reason : "格式无效");
    return 2;
}

/* One distinct lua_CFunction per check: native lookup goes by pointer. */
#define VALID_FN(name)                                                                             \
    static int valid_##name##_l(lua_State *L) { return run_check(L, valid_##name); }

VALID_FN(phone)
VALID_FN(mobile)
VALID_FN(landline)
VALID_FN(email)
VALID_FN(postal)
VALID_FN(date)
VALID_FN(time)
VALID_FN(sex)
VALID_FN(ethnic)

static const luaL_Reg valid_lib[] = {
    {"phone", valid_phone_l},   {"mobile", valid_mobile_l}, {"landline", valid_landline_l},
    {"email", valid_email_l},   {"postal", valid_postal_l}, {"date", valid_date_l},
    {"time", valid_time_l},     {"sex", valid_sex_l},       {"ethnic", valid_ethnic_l},
    {NULL, NULL},
};

const struct qloop_native_check qloop_validate_checks[] = {
    {"valid.phone", valid_phone_l, valid_phone},
    {"valid.mobile", valid_mobile_l, valid_mobile},
    {"valid.landline", valid_landline_l, valid_landline},
    {"valid.email", valid_email_l, valid_email},
    {"valid.postal", valid_postal_l, valid_postal},
    {"valid.date", valid_date_l, valid_date},
    {"valid.time", valid_time_l, valid_time},
    {"valid.sex", valid_sex_l, valid_sex},
    {"valid.ethnic", valid_ethnic_l, valid_ethnic},
    {NULL, NULL, NULL},
};

int luaopen_valid(lua_State *L)
{
    luaL_newlib(L, valid_lib);
    return 1;
}
