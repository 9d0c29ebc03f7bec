/*
 * test_lua_call.c — calling rule code (engine/lua/call.c, record.c, env.c):
 * what a check's answer means, reasons cut to size, record views that expire,
 * environments sealed after load, eval's results turned into text safely,
 * idcard.parse's table as rule code sees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "checks/idcard.h"
#include "lua/call.h"

/* Loads and runs code (a chunk returning one function), sealing its
 * environment when seal is set; returns a registry reference to the
 * function. */
static int load_function(lua_State *L, const char *code, int seal)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code, strlen(code), "@t.lua", &err), 0);
    lua_pushvalue(L, -1);
    if (qloop_lua_pcall(L, 0, 1, &err) != LUA_OK)
        fail_msg("%s", err.message);
    assert_true(lua_isfunction(L, -1));
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (seal)
        qloop_lua_seal_env(L, -1);
    lua_pop(L, 1);
    return ref;
}

static enum qloop_lua_verdict check(lua_State *L, const char *body, const char *value,
                                    struct qloop_lua_answer *a)
{
    char code[512];
    snprintf(code, sizeof code, "return function(v) %s end", body);
    int ref = load_function(L, code, 1);
    struct qloop_lua_site site = {.rule = "t.r", .dataset = "t", .row = 1};
    return qloop_lua_check_value(L, ref, value, strlen(value), &site, a);
}

static void test_answers(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct qloop_lua_answer a;
    assert_int_equal(check(L, "return true", "x", &a), QLOOP_LUA_PASS);
    assert_int_equal(check(L, "return true, {}", "x", &a), QLOOP_LUA_PASS);
    assert_int_equal(check(L, "return false", "x", &a), QLOOP_LUA_FAIL);
    assert_null(a.text);
    assert_int_equal(check(L, "return nil, '坏值 ' .. v", "x", &a), QLOOP_LUA_FAIL);
    assert_string_equal(a.text, "坏值 x");
    assert_int_equal(check(L, "return false, 42", "x", &a), QLOOP_LUA_FAIL);
    assert_string_equal(a.text, "42");
    assert_int_equal(check(L, "", "x", &a), QLOOP_LUA_FAIL); /* no return: nil */
    static const char *const errors[] = {"return {}", "return 'false'", "return 0",
                                         "return print", "return false, {}", "error('boom')"};
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (check(L, errors[i], "x", &a) != QLOOP_LUA_ERROR)
            fail_msg("%s was not an error", errors[i]);
        assert_non_null(a.text);
        assert_non_null(strstr(a.text, "t.lua:1"));
    }
    assert_non_null(strstr((check(L, "return 'false'", "x", &a), a.text), "文本 \"false\""));
    assert_int_equal(lua_gettop(L), 0);
    qloop_lua_close(L);
}

static void test_reason_cut(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct qloop_lua_answer a;
    /* 3-byte characters: the cut falls inside one and backs up to its start */
    assert_int_equal(check(L, "return false, string.rep('中', 1e6)", "x", &a), QLOOP_LUA_FAIL);
    assert_true(a.len < QLOOP_LUA_TEXT_MAX + 100);
    assert_int_equal(memcmp(a.text, "中中中", 9), 0);
    assert_non_null(strstr(a.text, "截去 2999490 字节"));
    assert_int_equal(check(L, "return false, 'a\\255b'", "x", &a), QLOOP_LUA_FAIL);
    assert_string_equal(a.text, "a\xEF\xBF\xBD" "b");
    /* each bad byte its own U+FFFD: a sequence cut by the end, a surrogate */
    assert_int_equal(check(L, "return false, '\\228\\184\\173x\\228\\184'", "x", &a), QLOOP_LUA_FAIL);
    assert_string_equal(a.text, "中x\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_int_equal(check(L, "return false, 'y\\237\\160\\128z'", "x", &a), QLOOP_LUA_FAIL);
    assert_string_equal(a.text, "y\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz");
    assert_int_equal(check(L, "return false, 'a\\0b'", "x", &a), QLOOP_LUA_FAIL);
    assert_int_equal(a.len, 3);
    assert_int_equal(memcmp(a.text, "a\0b", 3), 0);
    assert_int_equal(check(L, "error(string.rep('E', 1e6))", "x", &a), QLOOP_LUA_ERROR);
    assert_true(a.len < QLOOP_LUA_TEXT_MAX + 100);
    qloop_lua_close(L);
}

static void test_record_expires(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct strmap *cols = strmap_new();
    *strmap_put(cols, "v", 1, NULL) = 1;
    struct qloop_field cells[1] = {{"abc", 3, 0}};
    struct qloop_lua_record rec = {.colmap = cols, .cells = cells, .ncols = 1};
    int keep = load_function(L, "local kept return function(r) kept = kept or r return kept.v == 'abc' end", 1);
    struct qloop_lua_answer a;
    assert_int_equal(qloop_lua_check_record(L, keep, &rec, NULL, &a), QLOOP_LUA_PASS);
    assert_int_equal(qloop_lua_check_record(L, keep, &rec, NULL, &a), QLOOP_LUA_PASS);
    qloop_lua_record_expire(L, &rec); /* the batch is gone */
    cells[0] = (struct qloop_field){"xyz", 3, 0};
    assert_int_equal(qloop_lua_check_record(L, keep, &rec, NULL, &a), QLOOP_LUA_ERROR);
    assert_non_null(strstr(a.text, "已经失效"));
    int fresh = load_function(L, "return function(r) return r.v == 'xyz' end", 1);
    assert_int_equal(qloop_lua_check_record(L, fresh, &rec, NULL, &a), QLOOP_LUA_PASS);
    qloop_lua_record_expire(L, &rec);
    qloop_lua_record_expire(L, &rec); /* twice is fine */
    strmap_free(cols);
    qloop_lua_close(L);
}

/* The view finds a name's column by the address of its interned string (an
 * array of 16 per view), past that in its table, and looks an absent name up
 * again each time (a JSON Lines column may appear later in the batch). */
static void test_record_names(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct strmap *cols = strmap_new();
    enum { N = 24 };
    struct qloop_field cells[N + 1];
    static char names[N][8], values[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        snprintf(values[i], sizeof values[i], "v%d", i);
        *strmap_put(cols, names[i], strlen(names[i]), NULL) = (uint64_t)i + 1;
        cells[i] = (struct qloop_field){values[i], strlen(values[i]), 0};
    }
    cells[N] = (struct qloop_field){"late!", 5, 0};
    struct qloop_lua_record rec = {.colmap = cols, .cells = cells, .ncols = N};
    /* every name twice, in two orders, long names (not interned) too */
    int all = load_function(L,
                            "return function(r)\n"
                            "  for round = 1, 2 do\n"
                            "    for i = 0, 23 do\n"
                            "      local k = round == 1 and i or 23 - i\n"
                            "      if r['c' .. k] ~= 'v' .. k then return false, 'c' .. k end\n"
                            "    end\n"
                            "  end\n"
                            "  if r[string.rep('x', 60)] ~= nil then return false, 'long' end\n"
                            "  return r.late == nil\n"
                            "end",
                            1);
    struct qloop_lua_answer a;
    for (int i = 0; i < 3; i++)
        if (qloop_lua_check_record(L, all, &rec, NULL, &a) != QLOOP_LUA_PASS)
            fail_msg("round %d: %s", i, a.text ? a.text : "(no reason)");
    /* a column that appears in the same batch is found */
    *strmap_put(cols, "late", 4, NULL) = N + 1;
    rec.ncols = N + 1;
    int late = load_function(L, "return function(r) return r.late == 'late!' and r.c3 == 'v3' end", 1);
    assert_int_equal(qloop_lua_check_record(L, late, &rec, NULL, &a), QLOOP_LUA_PASS);
    /* the row changes under the same view */
    cells[3] = (struct qloop_field){"new", 3, 0};
    int changed = load_function(L, "return function(r) return r.c3 == 'new' and r[3] == nil end", 1);
    assert_int_equal(qloop_lua_check_record(L, changed, &rec, NULL, &a), QLOOP_LUA_PASS);
    /* a key that is neither text nor a number is an error of the rule */
    int bad = load_function(L, "return function(r) return r[{}] end", 1);
    assert_int_equal(qloop_lua_check_record(L, bad, &rec, NULL, &a), QLOOP_LUA_ERROR);
    assert_non_null(strstr(a.text, "string expected"));
    /* the view cannot be replaced by rule code, nor written */
    int forge = load_function(L, "return function(r) return getmetatable(r) end", 1);
    assert_int_equal(qloop_lua_check_record(L, forge, &rec, NULL, &a), QLOOP_LUA_FAIL);
    qloop_lua_record_expire(L, &rec);
    int after = load_function(L, "return function(r) return r.c20 == 'v20' end", 1);
    assert_int_equal(qloop_lua_check_record(L, after, &rec, NULL, &a), QLOOP_LUA_PASS);
    qloop_lua_record_expire(L, &rec);
    assert_int_equal(lua_gettop(L), 0);
    strmap_free(cols);
    qloop_lua_close(L);
}


/* qloop_lua_record_call gives qloop_lua_check_record's answer for every kind
 * of answer (pass, fail, a reason, an error, a bad answer), each call on the
 * row rec shows at that moment, and leaves the handler, check and view in
 * place until qloop_lua_calls_end. */
static void test_record_calls(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct strmap *cols = strmap_new();
    *strmap_put(cols, "v", 1, NULL) = 1;
    static const char *const values[] = {"ok", "no", "why", "boom", "bad", "ok"};
    enum { NROWS = sizeof values / sizeof values[0] };
    struct qloop_field cells[NROWS];
    for (int i = 0; i < NROWS; i++)
        cells[i] = (struct qloop_field){values[i], strlen(values[i]), 0};
    int ref = load_function(L,
                            "return function(r)\n"
                            "  local v = r.v\n"
                            "  if v == 'ok' then return true end\n"
                            "  if v == 'no' then return false end\n"
                            "  if v == 'why' then return nil, '原因 ' .. v end\n"
                            "  if v == 'boom' then error('炸了') end\n"
                            "  return {}\n"
                            "end",
                            1);
    struct qloop_lua_record rec = {.colmap = cols, .cells = cells, .ncols = 1};
    enum qloop_lua_verdict want[NROWS];
    char *want_text[NROWS];
    struct qloop_lua_answer a;
    for (int i = 0; i < NROWS; i++) {
        rec.cells = &cells[i];
        want[i] = qloop_lua_check_record(L, ref, &rec, NULL, &a);
        want_text[i] = a.text ? strdup(a.text) : NULL;
    }
    assert_int_equal(want[0], QLOOP_LUA_PASS);
    assert_int_equal(want[1], QLOOP_LUA_FAIL);
    assert_string_equal(want_text[2], "原因 why");
    assert_int_equal(want[3], QLOOP_LUA_ERROR);
    assert_int_equal(want[4], QLOOP_LUA_ERROR);
    lua_pushliteral(L, "below");
    int top = lua_gettop(L);
    struct qloop_lua_calls c;
    qloop_lua_record_calls_begin(L, ref, &rec, &c);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NROWS; i++) {
            rec.cells = &cells[i];
            struct qloop_lua_site site = {.rule = "t.r", .dataset = "t", .row = (uint64_t)i + 1};
            assert_int_equal(qloop_lua_record_call(L, &c, &site, &a), want[i]);
            if (want_text[i])
                assert_string_equal(a.text, want_text[i]);
            else
                assert_null(a.text);
            assert_int_equal(lua_gettop(L), top + 3);
        }
    qloop_lua_calls_end(L, &c);
    assert_int_equal(lua_gettop(L), top);
    assert_string_equal(lua_tostring(L, -1), "below");
    lua_pop(L, 1);
    for (int i = 0; i < NROWS; i++)
        free(want_text[i]);
    qloop_lua_record_expire(L, &rec);
    strmap_free(cols);
    qloop_lua_close(L);
}

/* qloop_lua_value_call gives qloop_lua_check_value's answer for every kind
 * of answer, each on its own value, and leaves the handler and check in
 * place (the value popped) until qloop_lua_calls_end. */
static void test_value_calls(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    static const char *const values[] = {"ok", "no", "why", "boom", "bad", "ok", ""};
    enum { NVALUES = sizeof values / sizeof values[0] };
    int ref = load_function(L,
                            "return function(v)\n"
                            "  if v == 'ok' then return true end\n"
                            "  if v == 'no' then return false end\n"
                            "  if v == 'why' then return nil, '原因 ' .. v end\n"
                            "  if v == 'boom' then error('炸了') end\n"
                            "  if v == '' then return #v == 0 end\n"
                            "  return {}\n"
                            "end",
                            1);
    enum qloop_lua_verdict want[NVALUES];
    char *want_text[NVALUES];
    struct qloop_lua_answer a;
    for (int i = 0; i < NVALUES; i++) {
        want[i] = qloop_lua_check_value(L, ref, values[i], strlen(values[i]), NULL, &a);
        want_text[i] = a.text ? strdup(a.text) : NULL;
    }
    assert_int_equal(want[2], QLOOP_LUA_FAIL);
    assert_int_equal(want[3], QLOOP_LUA_ERROR);
    assert_int_equal(want[4], QLOOP_LUA_ERROR);
    assert_int_equal(want[6], QLOOP_LUA_PASS);
    lua_pushliteral(L, "below");
    int top = lua_gettop(L);
    struct qloop_lua_calls c;
    qloop_lua_value_calls_begin(L, ref, &c);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NVALUES; i++) {
            struct qloop_lua_site site = {.rule = "t.r", .dataset = "t", .row = (uint64_t)i + 1};
            assert_int_equal(qloop_lua_value_call(L, &c, values[i], strlen(values[i]), &site, &a),
                             want[i]);
            if (want_text[i])
                assert_string_equal(a.text, want_text[i]);
            else
                assert_null(a.text);
            assert_int_equal(lua_gettop(L), top + 2);
        }
    qloop_lua_calls_end(L, &c);
    assert_int_equal(lua_gettop(L), top);
    assert_string_equal(lua_tostring(L, -1), "below");
    lua_pop(L, 1);
    for (int i = 0; i < NVALUES; i++)
        free(want_text[i]);
    qloop_lua_close(L);
}

/* Small blocks freed by the collector are reused (sandbox.c's pool), and the
 * memory cap still counts what rule code holds: a call that keeps too much
 * fails, calls that make and drop far more than the cap in small strings and
 * tables, and blocks that grow past the pool's sizes and shrink back, pass. */
static void test_memory_pool(void **state)
{
    (void)state;
    struct qloop_lua_limits lim = {.memory_bytes = 8 << 20, .instructions = 50000000};
    lua_State *L = qloop_lua_new(&lim);
    struct qloop_lua_answer a;
    int keep = load_function(L, "return function(v) local t = {} for i = 1, 1e6 do "
                                "t[i] = v .. i end return true end", 1);
    assert_int_equal(qloop_lua_check_value(L, keep, "x", 1, NULL, &a), QLOOP_LUA_ERROR);
    assert_non_null(strstr(a.text, "内存上限"));
    int churn = load_function(L, "return function(v) local n = 0 for i = 1, 20000 do "
                                 "local t = {v .. i, i, k = v} n = n + #t[1] end "
                                 "local s = '' for i = 1, 300 do s = s .. v end "
                                 "return n > 0 and #s == 300 * #v end", 1);
    for (int i = 0; i < 40; i++) /* ~ 40 x 2 MB of garbage under an 8 MiB cap */
        if (qloop_lua_check_value(L, churn, "abc", 3, NULL, &a) != QLOOP_LUA_PASS)
            fail_msg("call %d: %s", i, a.text ? a.text : "(no reason)");
    assert_int_equal(qloop_lua_check_value(L, keep, "x", 1, NULL, &a), QLOOP_LUA_ERROR);
    qloop_lua_close(L);
}

static void test_sealed_env(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    struct qloop_lua_answer a;
    int ref = load_function(L, "n = 0 return function(v) n = n + 1 return n > 0 end", 1);
    assert_int_equal(qloop_lua_check_value(L, ref, "x", 1, NULL, &a), QLOOP_LUA_ERROR);
    assert_non_null(strstr(a.text, "全局变量 n"));
    ref = load_function(L, "LIMIT = 3 local t = {} return function(v) t[#t + 1] = v return #t <= LIMIT end", 1);
    assert_int_equal(qloop_lua_check_value(L, ref, "x", 1, NULL, &a), QLOOP_LUA_PASS);
    /* unsealed (eval, policies): globals stay writable */
    ref = load_function(L, "m = 0 return function(v) m = m + 1 return m == 1 end", 0);
    assert_int_equal(qloop_lua_check_value(L, ref, "x", 1, NULL, &a), QLOOP_LUA_PASS);
    qloop_lua_close(L);
}

static void test_print_values(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        int ok;
        const char *out;
    } cases[] = {
        {"return 1, nil, true, 'x'", 1, "1\nnil\ntrue\nx\n"},
        {"return setmetatable({}, {__tostring = function() return 'T' end})", 1, "T\n"},
        {"return 1, setmetatable({}, {__tostring = function() error('boom') end})", 0, ""},
        {"return setmetatable({}, {__tostring = function() return {} end})", 0, ""},
        {"return setmetatable({}, {__tostring = function() while true do end end})", 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lua_State *L = qloop_lua_new(NULL);
        struct qloop_error err;
        qloop_error_clear(&err);
        assert_int_equal(qloop_lua_load(L, cases[i].code, strlen(cases[i].code), "=e", &err), 0);
        assert_int_equal(qloop_lua_pcall(L, 0, LUA_MULTRET, &err), LUA_OK);
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        int rc = qloop_lua_print_values(L, 0, out, &err);
        fclose(out);
        if ((rc == 0) != cases[i].ok || strcmp(buf, cases[i].out) != 0)
            fail_msg("case %zu: rc %d, output [%s], error %s", i, rc, buf, err.message);
        assert_int_equal(lua_gettop(L), 0);
        free(buf);
        qloop_lua_close(L);
    }
}

/* idcard.parse's table, as rule code sees it: exactly the keys division,
 * birth, sex, legacy with their values and types, no metatable, a fresh
 * table per call (changing one leaves the next as it was); nil and a reason
 * for a bad number or a value that is not text. */
static void test_idcard_parse_table(void **state)
{
    (void)state;
    static const char code[] =
        "local function show(t, why)\n"
        "  if t == nil then return 'nil:' .. tostring(why) end\n"
        "  local keys = {}\n"
        "  for k in pairs(t) do keys[#keys + 1] = k end\n"
        "  table.sort(keys)\n"
        "  local out = {}\n"
        "  for _, k in ipairs(keys) do out[#out + 1] = k .. '=' .. tostring(t[k]) .. ':' .. type(t[k]) end\n"
        "  return table.concat(out, ',') .. (getmetatable(t) == nil and '' or ' mt')\n"
        "end\n"
        "local a = idcard.parse('11010519491231002X')\n"
        "a.birth = 'changed'\n"
        "local b = idcard.parse('11010519491231002X')\n"
        "return table.concat({show(b), tostring(a ~= b),\n"
        "  show(idcard.parse('110105194912310010')), show(idcard.parse('130503670401001')),\n"
        "  show(idcard.parse('110105194902300020')), show(idcard.parse(42))}, '|')\n";
    lua_State *L = qloop_lua_new(NULL);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code, strlen(code), "@t.lua", &err), 0);
    if (qloop_lua_pcall(L, 0, 1, &err) != LUA_OK)
        fail_msg("%s", err.message);
    const char *got = lua_tostring(L, -1);
    assert_non_null(got);
    const char *reason = NULL;
    struct idcard_info info;
    assert_false(idcard_parse("110105194902300020", 18, &info, &reason));
    char want[1024];
    snprintf(want, sizeof want,
             "birth=1949-12-31:string,division=110105:string,legacy=false:boolean,sex=女:string|"
             "true|"
             "birth=1949-12-31:string,division=110105:string,legacy=false:boolean,sex=男:string|"
             "birth=1967-04-01:string,division=130503:string,legacy=true:boolean,sex=男:string|"
             "nil:%s|nil:不是文本",
             reason);
    assert_string_equal(got, want);
    qloop_lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),        cmocka_unit_test(test_reason_cut),
        cmocka_unit_test(test_record_expires), cmocka_unit_test(test_record_names),
        cmocka_unit_test(test_record_calls),   cmocka_unit_test(test_value_calls),
        cmocka_unit_test(test_memory_pool),  cmocka_unit_test(test_sealed_env),
        cmocka_unit_test(test_print_values), cmocka_unit_test(test_idcard_parse_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
