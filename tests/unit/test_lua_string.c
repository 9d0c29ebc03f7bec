/*
 * test_lua_string.c — the sandbox's string.find / match / gmatch / gsub
 * (engine/lua/lib_string.c) and string.rep (env.c) give exactly what Lua's
 * own give, and a pathological pattern stops with the budget error within a
 * fraction of a second.
 *
 * The same harness runs in a plain Lua state (Lua's functions) and in a
 * sandboxed state (qloop's); it tries every pattern of a table on every
 * subject with several init positions, replacement kinds and limits, and
 * prints every result or error; the two transcripts must be equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua/host.h" /* the budget left, for the step counts */
#include "lua/sandbox.h"

static const char harness[] =
    "local pats = {\n"
    "  'a', 'ab', '', '^', '$', '^$', 'a*', 'a-', 'a+', 'a?', '.', '.-', '.*', '.+', '^a', 'a$', '^a$',\n"
    "  '%a+', '%d+', '%s*', '%S+', '%w*', '%W', '%l%u', '%x+', '%p', '%c', '%g+', '%z', '%A-',\n"
    "  '[abc]', '[^abc]+', '[a-c]+', '[%d%s]+', '[]]', '[^]]', '[a-]', '[-a]', '[%]]', '[%a-]+',\n"
    "  '(a)', '(a)(b)', '()a()', '(a*(.)%w(%s*))', '((a)(b))', '%((%a+)%)', '(.)%1', '(a-)%1b',\n"
    "  '%bxy', '%b()', '%b((', '%f[%w]%w+', '%f[%W]', '%f[%a]', '%f[^%z]', '^(%s*)(.-)(%s*)$',\n"
    "  '^%s*(.-)%s*$', 'x*y-z?', '(h)(e)(l)(l)(o)', '[%w_]+@[%w_]+%.%a+', '%.', '%%', 'a.-b',\n"
    "  '(()', '%', '[a', '(a', 'a)', '%1', '%b', '%f', '%fa', '(()())', '(%d+)-(%d+)', '%0',\n"
    "  '[^%s]-$', '.-$', '^.-', '$a', 'a^', '^^', '%$', '(%$)', '[$]', '[^$]*',\n"
    "  '^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$', 'a.b', '%a%d', '%d%d%a', '[%d]%d',\n"
    "  '^1[3-9][0-9]', 'x.', '.x', '%Aa', 'l%al', '*a', ']a', '^a.c$',\n"
    "  '(a(b)c)', 'a.c$', '%-%d', '(%a)(%d)$', 'a$b', '(a)(', ')(', '(a))', '%q%.', '^(.)(.)$',\n"
    "  '%d%d%-(%d)', 'a%', '(%w)%s(%w)', '^%$(.)', ('(%d)'):rep(33), ('.'):rep(70), ('%a'):rep(32),\n"
    "  -- fixed-width with sets and position captures (lib_string.c's compiled path)\n"
    "  '[0-9][0-9]', '^[1][3-9][0-9]', '[^%d]', '[^%s]%s', '[%a_][%w_]', '%d[-/]%d', '[a-c]$', '^[ab].',\n"
    "  '[%.]', '%.[%]]', '[]a]', '[^]a]x', '[a-]b', '[%z]', '[%Z]', '[%za]', '[^%z]', '[a%-z]',\n"
    "  '[z-a]', '[-]', '[^-]', '[%%]', '[%]', '[^', '[]', '[a-c', '[%a', '[^]', '[^]]]', '%[', '%]',\n"
    "  '()', '()()', '(()a)', '^()$', '()$', '(%d)()', '()(%a)()', '(()[ab]())', 'a()b()c', '%d()%-',\n"
    "  '(()', '())', '(])', '([ab])%1', '[ab](c)', '[%w_]+', '[ab]?', '[ab]-x', '[ab]*$', '%f[a]b',\n"
    "  '^(%d%d%d%d)[-/](%d%d)[-/](%d%d)$', '^[1-9]%d%d%d%d%d[12]%d%d%d[01]%d[0-3]%d%d%d%d[%dX]$',\n"
    "  '([%x][%x])', '[%l%u]', '[%p]', '[%c]', '[%g]', '[^%w%s]', '[\\0]', '[%s%d]$', '^[%S][%D]',\n"
    "  ('[0-9]'):rep(20), ('()'):rep(20), ('()'):rep(33), '(' .. ('.'):rep(62) .. ')',\n"
    "  ('()'):rep(18), ('()'):rep(19), ('()'):rep(21), ('()'):rep(32), ('(.)'):rep(21), ('(%d)'):rep(32),\n"
    "}\n"
    "local subs = {\n"
    "  '', 'a', 'ab', 'aab', 'aaab', 'ba', 'abc', '  hello world  ', 'THE (quick) fox', 'x(y(z)w)v',\n"
    "  '2025-11-22T08:30:00', '2025-11-22T08:30:0', '2025-1-22T08:30:00x', 'a1b2', '13912345678', '*a]a',\n"
    "  'xaby', 'a\\0b', '12-345 6', 'user_1@mail.cn', 'hello', 'aaaa', '$x$', ']]a]', '\\t\\n ',\n"
    "  '中文 abc 123', '^a^', '2025/11/22', '.]x', 'a-z', '12:34', 'X\\0', ('0123456789'):rep(3),\n"
    "  '110101199003077777', '11010119900307777X',\n"
    "}\n"
    "local out = {}\n"
    "local function ser(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    local s = type(v) == 'string' and string.format('%q', v) or tostring(v)\n"
    "    t[#t + 1] = type(v) .. ':' .. s\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local function all(s, p, init)\n"
    "  local r = {}\n"
    "  for a, b in string.gmatch(s, p, init) do r[#r + 1] = ser(a, b) end\n"
    "  return table.concat(r, ';')\n"
    "end\n"
    "local function put(...) out[#out + 1] = ser(...) end\n"
    "for _, p in ipairs(pats) do\n"
    "  for _, s in ipairs(subs) do\n"
    "    put(pcall(string.find, s, p))\n"
    "    put(pcall(string.find, s, p, 2))\n"
    "    put(pcall(string.find, s, p, -3))\n"
    "    put(pcall(string.find, s, p, 40))\n"
    "    put(pcall(string.find, s, p, 1, true))\n"
    "    put(pcall(string.match, s, p))\n"
    "    put(pcall(string.match, s, p, 3))\n"
    "    put(pcall(string.find, s, p, 0))\n"
    "    put(pcall(string.find, s, p, -100))\n"
    "    put(pcall(string.find, s, p, #s + 1))\n"
    "    put(pcall(string.match, s, p, -1))\n"
    "    put(pcall(string.match, s, p, #s + 1))\n"
    "    put(pcall(string.match, s, p, #s + 2))\n"
    "    put(pcall(all, s, p))\n"
    "    put(pcall(all, s, p, 2))\n"
    "    put(pcall(string.gsub, s, p, '<%0>'))\n"
    "    put(pcall(string.gsub, s, p, '%1%%', 2))\n"
    "    put(pcall(string.gsub, s, p, '%2'))\n"
    "    put(pcall(string.gsub, s, p, '%x'))\n"
    "    put(pcall(string.gsub, s, p, function(a, b) return a and ('[' .. tostring(a) .. ']') end))\n"
    "    put(pcall(string.gsub, s, p, function() return {} end))\n"
    "    put(pcall(string.gsub, s, p, { a = 'A', h = 1.5, x = false }))\n"
    "    put(pcall(string.gsub, s, p, 7, 0))\n"
    "    put(pcall(function() return (s):match(p) end))\n"
    "    put(pcall(string.rep, s, #p % 5 - 1, p))\n"
    "    put(pcall(string.rep, p, #s % 4, s))\n"
    "  end\n"
    "end\n"
    "local nums = { '', '0', '7', '007', '42', '123456789012345678', '999999999999999999',\n"
    "  '1234567890123456789', '9223372036854775807', '9223372036854775808', ' 12', '12 ', '-5',\n"
    "  '+5', '0x10', '1e3', '1.5', '.5', '5.', '12a', 'a12', '1 2', '12\\0', '\\0', '１２', 12, 1.5,\n"
    "  -3, true, {}, 'inf', 'nan', '0x', '--1' }\n"
    "-- random patterns of fixed-width pieces (and a few that are not), the\n"
    "-- same in both states: a seeded generator of this harness's own\n"
    "local seed = 12345\n"
    "local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n + 1 end\n"
    "local pieces = { 'a', 'b', '1', '.', '%d', '%a', '%A', '%-', '%%', '(', ')', '$', '^', 'x',\n"
    "  '[ab]', '[^a]', '[0-9]', '()', '[%d-]', '[]]', '%z', '[^%z]', '[a-]', '[', ']', '%',\n"
    "  '-', '*', '?', '+' }\n"
    "local chars = { 'a', 'b', '1', '2', 'x', '-', '$', '(', ']', '\\0' }\n"
    "for i = 1, 8000 do\n"
    "  local p, s = {}, {}\n"
    "  for k = 1, rnd(7) do p[k] = pieces[rnd(i % 5 == 0 and #pieces or #pieces - 4)] end\n"
    "  for k = 1, rnd(9) - 1 do s[k] = chars[rnd(#chars)] end\n"
    "  p, s = table.concat(p), table.concat(s)\n"
    "  put(pcall(string.match, s, p))\n"
    "  put(pcall(string.match, s, p, rnd(7) - 4))\n"
    "  put(pcall(string.find, s, p, rnd(3) - 1))\n"
    "  put(pcall(string.find, s, p, rnd(13) - 8))\n"
    "end\n"
    "for i = 1, #nums + 1 do\n"
    "  local v = nums[i]\n"
    "  put(pcall(function() return tonumber(v) end))\n"
    "  put(pcall(function() return tonumber(v, 16) end))\n"
    "  put(pcall(function() return tonumber(v, nil) end))\n"
    "  put(pcall(function() return tonumber(v, 36) end))\n"
    "  put(pcall(function() return tonumber() end))\n"
    "  local n = tonumber(v)\n"
    "  put(math.type(n), n)\n"
    "end\n"
    "return table.concat(out, '\\n'), #out\n";

/* Runs the harness in L (already holding a function to run it) and returns
 * its transcript (malloc'd). */
static char *transcript(lua_State *L, int sandboxed)
{
    int rc;
    if (sandboxed) {
        struct qloop_error err;
        qloop_error_clear(&err);
        assert_int_equal(qloop_lua_load(L, harness, sizeof harness - 1, "=harness", &err), 0);
        rc = qloop_lua_pcall(L, 0, 2, &err);
        if (rc != LUA_OK)
            fail_msg("sandboxed harness: %s", err.message);
    } else {
        assert_int_equal(luaL_loadbufferx(L, harness, sizeof harness - 1, "=harness", "t"), LUA_OK);
        rc = lua_pcall(L, 0, 2, 0);
        if (rc != LUA_OK)
            fail_msg("plain harness: %s", lua_tostring(L, -1));
    }
    assert_true(lua_tointeger(L, -1) > 10000);
    char *s = strdup(lua_tostring(L, -2));
    lua_pop(L, 2);
    return s;
}

static void test_same_as_lua(void **state)
{
    (void)state;
    lua_State *plain = luaL_newstate();
    luaL_openlibs(plain);
    struct qloop_lua_limits lim = {.instructions = 500000000L, .cpu_seconds = 60};
    lua_State *sb = qloop_lua_new(&lim);
    assert_non_null(sb);
    char *a = transcript(plain, 0), *b = transcript(sb, 1);
    if (strcmp(a, b) != 0) {
        /* report the first line that differs */
        const char *pa = a, *pb = b;
        int line = 1;
        while (*pa && *pa == *pb) {
            if (*pa == '\n')
                line++;
            pa++, pb++;
        }
        const char *la = pa, *lb = pb;
        while (la > a && la[-1] != '\n')
            la--;
        while (lb > b && lb[-1] != '\n')
            lb--;
        fail_msg("line %d differs:\n lua:   %.200s\n qloop: %.200s", line, la, lb);
    }
    free(a);
    free(b);
    lua_close(plain);
    qloop_lua_close(sb);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Each pathological call ends with the budget error, quickly. */
static void test_pathological_patterns_stop(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "return string.find(string.rep('a', 3e5), '.-.-.-.-.-b')",
        "return ('x' .. string.rep(' ', 80000) .. 'y'):match('^%s*(.-)%s*$')",
        "return string.gsub(string.rep('a', 2e5), 'a-a-a-a-b', '')",
        "for w in string.gmatch(string.rep('ab', 1e5), '.-.-.-c') do end",
        "return string.find(string.rep('a', 1e6), string.rep('a', 5000) .. 'b', 1, true)",
        "return string.match(string.rep('(', 1e5), '%b()%b()%b()x')",
        /* a fixed-width pattern (no backtracking: lib_string.c's compiled path) */
        "return string.find(string.rep('a', 6e6), 'a%d')",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lua_State *L = qloop_lua_new(NULL);
        struct qloop_error err;
        qloop_error_clear(&err);
        assert_int_equal(qloop_lua_load(L, cases[i], strlen(cases[i]), "=case", &err), 0);
        double t0 = cpu_now();
        int rc = qloop_lua_pcall(L, 0, 0, &err);
        double used = cpu_now() - t0;
        if (rc == LUA_OK || !strstr(err.message, "指令预算"))
            fail_msg("case %zu: rc %d, message %s", i, rc, err.message);
        if (used > 2.0)
            fail_msg("case %zu took %.2f s of CPU", i, used);
        qloop_lua_close(L);
    }
}

/* The instructions the C function at fn charged, called with the nargs
 * values above it: its whole budget less what is left (called from C, so no
 * Lua instruction is counted besides). */
static long charged(lua_State *L, int fn, int nargs)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    lua_pushvalue(L, fn);
    lua_insert(L, -nargs - 1);
    assert_int_equal(qloop_lua_pcall(L, nargs, 1, &err), LUA_OK);
    lua_pop(L, 1);
    struct qloop_host *h = qloop_host_of(L);
    return h->budget - h->left;
}

/* A fixed-width pattern is charged the steps the general matcher counts:
 * string.gsub with a function as the replacement (type: a C function, so no
 * Lua instruction) and a limit of one runs the general matcher from position
 * 1 to the first match, as string.match does; match, find, gsub with a text
 * replacement and the first step of gmatch (compiled path) must charge the
 * same, over matches and misses. */
static void test_fixed_patterns_charge_the_same(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2025-11-22T08:30:00", "(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$"},
        {"x 2025-11-22T08:30:0", "(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$"},
        {"2025-11-22T08:30:00", "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$"},
        {"aaaaaaaaaaaaaaaaaaaab", "a(b)$"},
        {"aaaaaaaaaaaaaaaaaaaaa", "a%d"},
        {"hello world", "(o)%s(w)"},
        {"hello world", "d$"},
        {"abc", "x"},
        {"", ".$"},
        /* sets and position captures */
        {"x2025/11/22", "(%d%d%d%d)[-/](%d%d)[-/](%d%d)$"},
        {"2025-11-2x", "(%d%d%d%d)[-/](%d%d)[-/](%d%d)$"},
        {"ab-cd", "[^%w]()[a-z]"},
        {"11010119900307777X", "[1-9]%d%d%d%d%d[12]%d%d%d[01]%d[0-3]%d%d%d%d[%dX]$"},
        {"1101011990030777", "[1-9]%d%d%d%d%d[12]%d%d%d[01]%d[0-3]%d%d%d%d[%dX]$"},
        {"", "()"},
        {"abc", "()$"},
        {"]]a]a", "[]a]()a"},
        {"a\0b", "[%z]()"},
    };
    lua_State *L = qloop_lua_new(NULL);
    struct qloop_error err;
    static const char fns[] = "return string.match, string.find, string.gsub, type, "
                              "function(s, p) return string.gmatch(s, p) end";
    assert_int_equal(qloop_lua_load(L, fns, sizeof fns - 1, "=fns", &err), 0);
    assert_int_equal(qloop_lua_pcall(L, 0, 5, &err), LUA_OK);
    int match = lua_gettop(L) - 4, find = match + 1, gsub = match + 2, type = match + 3,
        gmatch = match + 4;
    long total = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i][0], *p = cases[i][1];
        size_t ls = strlen(s) + (i == sizeof cases / sizeof cases[0] - 1 ? 2 : 0); /* "a\0b" */
        lua_pushlstring(L, s, ls);
        lua_pushstring(L, p);
        lua_pushvalue(L, type);
        lua_pushinteger(L, 1);
        long general = charged(L, gsub, 4);
        lua_pushlstring(L, s, ls);
        lua_pushstring(L, p);
        long by_match = charged(L, match, 2);
        lua_pushlstring(L, s, ls);
        lua_pushstring(L, p);
        long by_find = charged(L, find, 2);
        if (!strpbrk(p, "^$*+?.([%-")) /* a plain search: charged per candidate instead */
            by_find = general;
        lua_pushlstring(L, s, ls);
        lua_pushstring(L, p);
        lua_pushliteral(L, "<%0>");
        lua_pushinteger(L, 1);
        long by_gsub = charged(L, gsub, 4);
        long by_gmatch = -1;
        if (p[0] != '^') { /* gmatch reads '^' as a character */
            lua_pushvalue(L, gmatch);
            lua_pushlstring(L, s, ls);
            lua_pushstring(L, p);
            assert_int_equal(lua_pcall(L, 2, 1, 0), LUA_OK); /* the iterator: charges nothing */
            by_gmatch = charged(L, lua_gettop(L), 0);
            lua_pop(L, 1);
        }
        if (by_match != general || by_find != general || by_gsub != general ||
            (by_gmatch >= 0 && by_gmatch != general))
            fail_msg("case %zu: the general matcher charged %ld; match %ld, find %ld, gsub %ld, "
                     "gmatch %ld",
                     i, general, by_match, by_find, by_gsub, by_gmatch);
        total += general;
    }
    assert_true(total > 100);
    qloop_lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_lua),
        cmocka_unit_test(test_pathological_patterns_stop),
        cmocka_unit_test(test_fixed_patterns_charge_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
