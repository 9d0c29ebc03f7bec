/*
 * lua_calendar.c — the `calendar` table rules see: working days and
 * deadlines of mainland China (calendar.h), on "YYYY-MM-DD" strings.
 *
 *   calendar.workday(date)              true / false
 *   calendar.add_working_days(date, n)  the n-th working day after date
 *   calendar.add_natural_days(date, n)  date + n, moved on to a working day
 *
 * n is an integer from 0 to 3660 (ten years). A bad date or n raises an
 * argument error with a Chinese message, as the CLI would refuse it.
 */
#include <lauxlib.h>
#include <lua.h>

#include "checks/calendar.h"
#include "base/clock.h"
#include "lua/libs.h"
#include "lua/sandbox.h"

#define MAX_DAYS 3660

/* Checks that argument arg is a "YYYY-MM-DD" string of a real date and
 * returns its day number; raises an argument error otherwise. */
static int64_t check_date(lua_State *L, int arg)
{
    if (lua_type(L, arg) != LUA_TSTRING) /* not luaL_checklstring: it turns numbers into strings */
        return luaL_argerror(L, arg, lua_pushfstring(L, "应为日期字符串 YYYY-MM-DD，而不是 %s", luaL_typename(L, arg)));
    size_t len;
    const char *s = lua_tolstring(L, arg, &len);
    int y, m, d;
    if (len != 10 || !qloop_parse_date(s, &y, &m, &d))
        return luaL_argerror(L, arg, qloop_lua_pushf(L, "“%.40s” 不是有效日期：应为 YYYY-MM-DD，如 2024-09-27", s));
    return qloop_days_from_civil(y, m, d);
}

/* Checks that argument arg is an integer from 0 to MAX_DAYS and returns it. */
static int check_days(lua_State *L, int arg)
{
    int isnum;
    lua_Integer n = lua_tointegerx(L, arg, &isnum);
    if (!isnum || n < 0 || n > MAX_DAYS)
        luaL_argerror(L, arg, "天数应为 0 到 3660 之间的整数");
    return (int)n;
}

/* Pushes day as "YYYY-MM-DD"; raises an error past the year 9999. */
static int push_date(lua_State *L, int64_t day)
{
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    if (y > 9999)
        return luaL_error(L, "期限超出了 9999 年：请检查日期和天数");
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, 10);
    p[0] = (char)('0' + y / 1000);
    p[1] = (char)('0' + y / 100 % 10);
    p[2] = (char)('0' + y / 10 % 10);
    p[3] = (char)('0' + y % 10);
    p[4] = '-';
    p[5] = (char)('0' + m / 10);
    p[6] = (char)('0' + m % 10);
    p[7] = '-';
    p[8] = (char)('0' + d / 10);
    p[9] = (char)('0' + d % 10);
    luaL_pushresultsize(&b, 10);
    return 1;
}

/* calendar.workday(date) -> boolean */
static int cal_workday(lua_State *L)
{
    int64_t day = check_date(L, 1);
    lua_pushboolean(L, calendar_workday(day));
    return 1;
}

/* calendar.add_working_days(date, n) -> "YYYY-MM-DD" */
static int cal_add_working_days(lua_State *L)
{
    int64_t day = check_date(L, 1);
    int n = check_days(L, 2);
    return push_date(L, calendar_add_working_days(day, n));
}

/* calendar.add_natural_days(date, n) -> "YYYY-MM-DD" */
static int cal_add_natural_days(lua_State *L)
{
    int64_t day = check_date(L, 1);
    int n = check_days(L, 2);
    return push_date(L, calendar_add_natural_days(day, n));
}

static const luaL_Reg calendar_funcs[] = {
    {"workday", cal_workday},
    {"add_working_days", cal_add_working_days},
    {"add_natural_days", cal_add_natural_days},
    {NULL, NULL},
};

int luaopen_calendar(lua_State *L)
{
    luaL_newlib(L, calendar_funcs);
    return 1;
}
