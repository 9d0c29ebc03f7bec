/*
 * bench_checks.c — how long the check-character validators take per value:
 * idcard_valid (GB 11643) and uscc_valid (GB 32100) called from C, the same C
 * functions called through Lua (idcard.valid in a Lua loop), and the same
 * checks written in plain Lua, all over the same generated values. It is a
 * measuring tool for the design note (native checks vs Lua), not a test.
 *
 * Usage: bench_checks [N]   (N values of each kind, default 1000000)
 * Prints one line per measurement: "<what>  <ns>/value  (<passed> passed)".
 * Build (the lead wires it into CMake; by hand):
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I engine \
 *       -I/usr/include/lua5.4 bench/bench_checks.c build/libqloop_engine.a \
 *       -llua5.4 -lpcre2-8 -lsqlite3 -ljansson -lpthread -lm -o bench_checks
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "checks/idcard.h"
#include "lua/libs.h"
#include "checks/uscc.h"

static uint64_t rng_state = 20240927;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* n identity numbers, 19 bytes each (NUL-terminated); about 1 in 50 has a
 * wrong check character, as in real data. */
static char *gen_idcards(size_t n)
{
    char *v = malloc(n * 19);
    if (!v)
        exit(3);
    int64_t lo = qloop_days_from_civil(1930, 1, 1), hi = qloop_days_from_civil(2020, 12, 31);
    for (size_t i = 0; i < n; i++) {
        char *s = v + i * 19, tmp[64];
        int y, m, d;
        qloop_civil_from_days(lo + (int64_t)(rng() % (uint64_t)(hi - lo)), &y, &m, &d);
        snprintf(tmp, sizeof tmp, "%06u%04d%02d%02d%03u", 110000u + (unsigned)(rng() % 600000), y,
                 m, d, (unsigned)(rng() % 1000));
        memcpy(s, tmp, 17);
        s[17] = idcard_check_char(s);
        if (rng() % 50 == 0)
            s[17] = s[17] == '0' ? '1' : '0';
        s[18] = '\0';
    }
    return v;
}

static char *gen_usccs(size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    static const char *const pairs[] = {"91", "92", "93", "11", "12", "51", "52", "Y1"};
    char *v = malloc(n * 19);
    if (!v)
        exit(3);
    for (size_t i = 0; i < n; i++) {
        char *s = v + i * 19;
        const char *p = pairs[rng() % 8];
        s[0] = p[0], s[1] = p[1];
        for (int k = 2; k < 8; k++)
            s[k] = (char)('0' + rng() % 10);
        for (int k = 8; k < 16; k++)
            s[k] = alphabet[rng() % 31];
        s[16] = orgcode_check_char(s + 8);
        s[17] = uscc_check_char(s);
        if (rng() % 50 == 0)
            s[17] = s[17] == '0' ? '1' : '0';
        s[18] = '\0';
    }
    return v;
}

typedef bool (*check_fn)(const char *, size_t, const char **);

static void time_c(const char *what, check_fn f, const char *values, size_t n)
{
    size_t passed = 0;
    const char *reason;
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        passed += f(values + i * 19, 18, &reason);
    double t = now_ns() - t0;
    printf("%-44s %8.1f ns/value  (%zu passed)\n", what, t / (double)n, passed);
}

/* The same checks in plain Lua, written for speed (string.byte and table
 * lookups, no substrings): the best a rule author could do without the
 * built-in functions. */
static const char LUA_CHECKS[] =
    "local byte = string.byte\n"
    "local W = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}\n"
    "local C = {byte('10X98765432', 1, 11)}\n"
    "local DIM = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}\n"
    "function lua_idcard_valid(s, today)\n"
    "  if #s ~= 18 then return false, '长度不是18位' end\n"
    "  local sum = 0\n"
    "  local d = {byte(s, 1, 18)}\n"
    "  for i = 1, 17 do\n"
    "    local c = d[i] - 48\n"
    "    if c < 0 or c > 9 then return false, '含非法字符' end\n"
    "    d[i] = c\n"
    "    sum = sum + c * W[i]\n"
    "  end\n"
    "  local last = d[18]\n"
    "  if (last < 48 or last > 57) and last ~= 88 then return false, '含非法字符' end\n"
    "  local y = d[7] * 1000 + d[8] * 100 + d[9] * 10 + d[10]\n"
    "  local m, dd = d[11] * 10 + d[12], d[13] * 10 + d[14]\n"
    "  local dim = DIM[m]\n"
    "  if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then dim = 29 end\n"
    "  if not dim or dd < 1 or dd > dim then return false, '出生日期无效' end\n"
    "  if y * 10000 + m * 100 + dd > today then return false, '出生日期晚于今天' end\n"
    "  if C[sum % 11 + 1] ~= last then return false, '校验码错误' end\n"
    "  return true\n"
    "end\n"
    "local V = {}\n"
    "do local a = '0123456789ABCDEFGHJKLMNPQRTUWXY'\n"
    "  for i = 1, #a do V[byte(a, i)] = i - 1 end end\n"
    "local A = {byte('0123456789ABCDEFGHJKLMNPQRTUWXY', 1, 31)}\n"
    "local UW = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}\n"
    "local OW = {3, 7, 9, 10, 5, 8, 4, 2}\n"
    "local TYPES = {}\n"
    "for k, v in pairs({['1'] = '1239', ['2'] = '19', ['3'] = '123459', ['4'] = '19',\n"
    "  ['5'] = '1239', ['6'] = '129', ['7'] = '129', ['8'] = '19', ['9'] = '123',\n"
    "  A = '19', N = '1239', Y = '1'}) do\n"
    "  local t = {}\n"
    "  for i = 1, #v do t[byte(v, i)] = true end\n"
    "  TYPES[byte(k)] = t\n"
    "end\n"
    "local OC = {[10] = 88, [11] = 48}\n"
    "for i = 1, 9 do OC[i] = 48 + i end\n"
    "function lua_uscc_valid(s)\n"
    "  if #s ~= 18 then return false, '长度不是18位' end\n"
    "  local b = {byte(s, 1, 18)}\n"
    "  local sum = 0\n"
    "  for i = 1, 18 do\n"
    "    local v = V[b[i]]\n"
    "    if not v then return false, '含非法字符' end\n"
    "    if i <= 17 then sum = sum + v * UW[i] end\n"
    "  end\n"
    "  local types = TYPES[b[1]]\n"
    "  if not types then return false, '登记管理部门代码无效' end\n"
    "  if not types[b[2]] then return false, '机构类别代码无效' end\n"
    "  for i = 3, 8 do\n"
    "    if b[i] > 57 then return false, '登记管理机关行政区划码无效' end\n"
    "  end\n"
    "  local osum = 0\n"
    "  for i = 1, 8 do\n"
    "    local c = b[8 + i]\n"
    "    osum = osum + (c <= 57 and c - 48 or c - 55) * OW[i]\n"
    "  end\n"
    "  if OC[11 - osum % 11] ~= b[17] then return false, '组织机构代码校验码错误' end\n"
    "  if A[(31 - sum % 31) % 31 + 1] ~= b[18] then return false, '校验码错误' end\n"
    "  return true\n"
    "end\n"
    "function bench(f, values, arg)\n"
    "  arg = tonumber(arg)\n"
    "  local passed = 0\n"
    "  for i = 1, #values do\n"
    "    if f(values[i], arg) then passed = passed + 1 end\n"
    "  end\n"
    "  return passed\n"
    "end\n";

/* Pushes a Lua table holding the n values. */
static void push_values(lua_State *L, const char *values, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, values + i * 19, 18);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Times bench(f, values, arg) in Lua: f is the global fname, or
 * lib.field when lib is not NULL. */
static void time_lua(lua_State *L, const char *what, const char *lib, const char *fname,
                     const char *values, size_t n, const char *arg)
{
    lua_getglobal(L, "bench");
    if (lib) {
        lua_getglobal(L, lib);
        lua_getfield(L, -1, fname);
        lua_remove(L, -2);
    } else {
        lua_getglobal(L, fname);
    }
    push_values(L, values, n);
    if (arg)
        lua_pushstring(L, arg);
    else
        lua_pushnil(L);
    double t0 = now_ns();
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        fprintf(stderr, "bench_checks: %s\n", lua_tostring(L, -1));
        exit(3);
    }
    double t = now_ns() - t0;
    printf("%-44s %8.1f ns/value  (%lld passed)\n", what, t / (double)n,
           (long long)lua_tointeger(L, -1));
    lua_pop(L, 1);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    if (n == 0) {
        fprintf(stderr, "用法：bench_checks [N]（N 为正整数，默认 1000000）\n");
        return 2;
    }
    char *ids = gen_idcards(n), *usccs = gen_usccs(n);
    printf("bench_checks: %zu values each\n", n);

    unsetenv("QLOOP_NOW");
    time_c("C  idcard_valid (system clock)", idcard_valid, ids, n);
    setenv("QLOOP_NOW", "2024-09-27T10:00:00+08:00", 1);
    time_c("C  idcard_valid (QLOOP_NOW set)", idcard_valid, ids, n);
    time_c("C  uscc_valid", uscc_valid, usccs, n);

    lua_State *L = luaL_newstate();
    if (!L)
        return 3;
    luaL_openlibs(L);
    luaL_requiref(L, "idcard", luaopen_idcard, 1);
    luaL_requiref(L, "uscc", luaopen_uscc, 1);
    lua_pop(L, 2);
    if (luaL_loadstring(L, LUA_CHECKS) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "bench_checks: %s\n", lua_tostring(L, -1));
        return 3;
    }
    char today[11], today8[9];
    qloop_today(today); /* YYYY-MM-DD; the Lua check compares YYYYMMDD as a number */
    memcpy(today8, today, 4);
    memcpy(today8 + 4, today + 5, 2);
    memcpy(today8 + 6, today + 8, 3);
    time_lua(L, "Lua loop calling idcard.valid (C)", "idcard", "valid", ids, n, NULL);
    time_lua(L, "Lua loop calling a Lua idcard check", NULL, "lua_idcard_valid", ids, n, today8);
    time_lua(L, "Lua loop calling uscc.valid (C)", "uscc", "valid", usccs, n, NULL);
    time_lua(L, "Lua loop calling a Lua uscc check", NULL, "lua_uscc_valid", usccs, n, NULL);
    lua_close(L);
    free(ids);
    free(usccs);
    return 0;
}
