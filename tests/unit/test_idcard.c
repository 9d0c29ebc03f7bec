/*
 * test_idcard.c — GB 11643-1999 identity numbers: the standard's worked
 * examples, every reason, boundary birth dates (29 February, today, the day
 * after, 1900), the per-thread "today" following QLOOP_NOW, a read of
 * today noted (base/purity.h) only for a birth date after it, property tests
 * over thousands of generated numbers (all valid; every single-character
 * substitution of one invalid), parse, the 15→18 upgrade, the region option,
 * and the Lua bindings (contract for non-strings, native table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "base/clock.h"
#include "base/purity.h"
#include "checks/division.h"
#include "checks/idcard.h"
#include "lua/libs.h"
#include "lua/native.h"

static const char NOW[] = "2024-09-27T10:00:00+08:00";

static int setup_now(void **state)
{
    (void)state;
    setenv("QLOOP_NOW", NOW, 1);
    return 0;
}

static bool valid(const char *s, const char **reason)
{
    *reason = NULL;
    return idcard_valid(s, strlen(s), reason);
}

/* Asserts that s fails with exactly the reason want. */
static void expect_fail(const char *s, const char *want)
{
    const char *r;
    assert_false(valid(s, &r));
    assert_non_null(r);
    assert_string_equal(r, want);
}

static void expect_ok(const char *s)
{
    const char *r;
    if (!valid(s, &r))
        fail_msg("%s rejected: %s", s, r);
}

/* Independent MOD 11-2 (ISO 7064): Σ aᵢ·2^(18−i) mod 11, check = (12 − Σ) mod 11. */
static char mod11_2(const char *body)
{
    int sum = 0, w = 1;
    for (int i = 16; i >= 0; i--) {
        w = w * 2 % 11;
        sum += (body[i] - '0') * w;
    }
    int c = (12 - sum % 11) % 11;
    return c == 10 ? 'X' : (char)('0' + c);
}

static void test_standard_examples(void **state)
{
    (void)state;
    /* The GB 11643-1999 example: female, born 1949-12-31, Beijing 朝阳区. */
    expect_ok("11010519491231002X");
    assert_int_equal(idcard_check_char("11010519491231002"), 'X');
    /* The standard's other worked example, born 1880: valid. GB 11643 sets
     * no earliest birth date, and neither may qloop. */
    assert_int_equal(idcard_check_char("44052418800101001"), '4');
    expect_ok("440524188001010014");
    assert_int_equal(idcard_check_char("4405241880010100A"), '\0');
}

static void test_reasons(void **state)
{
    (void)state;
    expect_fail("", "长度不是18位");
    expect_fail("11010519491231002", "长度不是18位");
    expect_fail("11010519491231002XX", "长度不是18位");
    expect_fail("110105491231002", "15位旧号码，请先用 idcard.upgrade 升级");
    expect_fail("11010549123100A", "长度不是18位");
    expect_fail("11010519491231002x", "含非法字符：校验码应为大写X");
    expect_fail("1101051949123100XX", "含非法字符");
    expect_fail("11010519491231002Y", "含非法字符");
    expect_fail("11010519491231 02X", "含非法字符");
    expect_fail("１１０１０５19491231", "长度不是18位"); /* full-width digits: 3 bytes each */
    expect_fail("110105194912320020", "出生日期无效");
    expect_fail("110105194913010020", "出生日期无效");
    expect_fail("110105194900010020", "出生日期无效");
    expect_fail("110105000001010020", "出生日期无效");
    expect_fail("110105194912310021", "校验码错误");
    expect_fail("110105194912310020", "校验码错误");
    /* An embedded NUL is a character like any other, not an end. */
    const char *r = NULL;
    assert_false(idcard_valid("11010519491231\0" "02X", 18, &r));
    assert_string_equal(r, "含非法字符");
    /* reason may be NULL. */
    assert_false(idcard_valid("1", 1, NULL));
    assert_true(idcard_valid("11010519491231002X", 18, NULL));
}

/* Builds a number for division 110105, birth y-m-d, sequence seq. */
static void make(char out[19], int y, int m, int d, int seq)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "110105%04d%02d%02d%03d", y, m, d, seq);
    assert_int_equal(strlen(tmp), 17);
    memcpy(out, tmp, 17);
    out[17] = mod11_2(out);
    out[18] = '\0';
}

static void test_birth_boundaries(void **state)
{
    (void)state;
    char id[19];
    make(id, 2000, 2, 29, 123); /* 2000 is a leap year (÷400) */
    expect_ok(id);
    make(id, 2004, 2, 29, 123);
    expect_ok(id);
    make(id, 1900, 2, 29, 123); /* 1900 is not (÷100) */
    expect_fail(id, "出生日期无效");
    make(id, 2023, 2, 29, 123);
    expect_fail(id, "出生日期无效");
    make(id, 2023, 2, 28, 123);
    expect_ok(id);
    make(id, 1999, 4, 31, 123);
    expect_fail(id, "出生日期无效");
    make(id, 1900, 1, 1, 1);
    expect_ok(id);
    make(id, 1899, 12, 31, 1);
    expect_ok(id);
    make(id, 1, 1, 1, 1); /* the first day of the Gregorian year 1 */
    expect_ok(id);
    make(id, 1600, 2, 29, 7); /* 1600 is a leap year (÷400) */
    expect_ok(id);
    make(id, 1700, 2, 29, 7);
    expect_fail(id, "出生日期无效");
    make(id, 2024, 9, 27, 1); /* born today (QLOOP_NOW) */
    expect_ok(id);
    make(id, 2024, 9, 28, 1);
    expect_fail(id, "出生日期晚于今天");
    make(id, 2031, 1, 1, 1);
    expect_fail(id, "出生日期晚于今天");
}

/* Only the answer 出生日期晚于今天 depends on today: only it is noted as an
 * impure read (the verdict memo keeps the others for later days), on a
 * cache hit of today and on a miss alike. */
static void test_today_noted_only_for_future(void **state)
{
    (void)state;
    char past[19], future[19], badsum[19];
    make(past, 1990, 5, 17, 12);
    make(future, 2024, 9, 28, 12);
    memcpy(badsum, past, sizeof badsum);
    badsum[17] = badsum[17] == '0' ? '1' : '0';
    const char *cases[] = {past, badsum, "11010519491231002", "1101051949123100x2", future};
    for (int miss = 0; miss < 2; miss++) {
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            if (miss)
                setenv("QLOOP_NOW", i % 2 ? NOW : "2024-09-27T11:00:00+08:00", 1); /* today again */
            const char *r = NULL;
            uint64_t mark = qloop_purity_mark();
            bool ok = idcard_valid(cases[i], strlen(cases[i]), &r);
            bool is_future = cases[i] == future;
            assert_int_equal(ok, i == 0);
            if (is_future)
                assert_string_equal(r, "出生日期晚于今天");
            assert_int_equal(qloop_purity_mark() != mark, is_future);
        }
    }
    setenv("QLOOP_NOW", NOW, 1);
}

static void test_today_follows_clock(void **state)
{
    (void)state;
    char id[19];
    make(id, 2024, 9, 28, 1);
    expect_fail(id, "出生日期晚于今天");
    setenv("QLOOP_NOW", "2024-09-28T00:00:00+08:00", 1);
    expect_ok(id);
    /* 2024-09-27T16:00Z is already the 28th in Shanghai. */
    setenv("QLOOP_NOW", "2024-09-27T16:00:00Z", 1);
    expect_ok(id);
    setenv("QLOOP_NOW", "2024-09-27T15:59:59Z", 1);
    expect_fail(id, "出生日期晚于今天");
    /* Without QLOOP_NOW the system clock decides. */
    unsetenv("QLOOP_NOW");
    char today[11];
    int y, m, d;
    qloop_today(today);
    assert_true(qloop_parse_date(today, &y, &m, &d));
    make(id, y, m, d, 2);
    expect_ok(id);
    int64_t next = qloop_days_from_civil(y, m, d) + 1;
    qloop_civil_from_days(next, &y, &m, &d);
    make(id, y, m, d, 2);
    expect_fail(id, "出生日期晚于今天");

    /* Another variable removed and QLOOP_NOW added in its place (same
     * number of entries): the change is still seen. */
    setenv("QLOOP_TEST_SPARE", "1", 1);
    make(id, 2024, 9, 28, 1);
    expect_ok(id); /* system clock: later than 2024 */
    unsetenv("QLOOP_TEST_SPARE");
    setenv("QLOOP_NOW", NOW, 1);
    expect_fail(id, "出生日期晚于今天");
    /* putenv with a buffer changed in place. */
    static char entry[] = "QLOOP_NOW=2024-09-28T08:00:00+08:00";
    putenv(entry);
    expect_ok(id);
    memcpy(entry + 10, "2024-09-27", 10);
    expect_fail(id, "出生日期晚于今天");
    /* An invalid QLOOP_NOW falls back to the system clock, as qloop_now does. */
    setenv("QLOOP_NOW", "yesterday", 1);
    expect_ok(id);
    setenv("QLOOP_NOW", NOW, 1);
    expect_fail(id, "出生日期晚于今天");
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A random valid number: random 6-digit division, birth between 1900-01-01
 * and 2024-09-27, random sequence. */
static void random_id(char out[19])
{
    int64_t lo = qloop_days_from_civil(1900, 1, 1), hi = qloop_days_from_civil(2024, 9, 27);
    int y, m, d;
    qloop_civil_from_days(lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)), &y, &m, &d);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%06u%04d%02d%02d%03u", (unsigned)(rng() % 1000000), y, m, d,
             (unsigned)(rng() % 1000));
    assert_int_equal(strlen(tmp), 17);
    memcpy(out, tmp, 17);
    out[17] = mod11_2(out);
    out[18] = '\0';
}

static void test_property_generated_valid(void **state)
{
    (void)state;
    rng_state = 20240927;
    char id[19];
    int x = 0;
    for (int i = 0; i < 20000; i++) {
        random_id(id);
        expect_ok(id);
        x += id[17] == 'X';
        assert_int_equal(idcard_check_char(id), id[17]);
    }
    assert_true(x > 1000); /* about 1 in 11 end in X: the generator covers it */
}

static void test_property_substitutions_fail(void **state)
{
    (void)state;
    rng_state = 11643;
    static const char alphabet[] = "0123456789X";
    char id[19], mutated[19];
    for (int n = 0; n < 500; n++) {
        random_id(id);
        for (int pos = 0; pos < 18; pos++) {
            for (const char *c = alphabet; *c; c++) {
                if (*c == id[pos])
                    continue;
                memcpy(mutated, id, 19);
                mutated[pos] = *c;
                const char *r;
                if (valid(mutated, &r))
                    fail_msg("%s (from %s, position %d) passed", mutated, id, pos + 1);
            }
        }
    }
}

static void test_parse(void **state)
{
    (void)state;
    struct idcard_info info;
    const char *r = NULL;
    assert_true(idcard_parse("11010519491231002X", 18, &info, &r));
    assert_string_equal(info.division, "110105");
    assert_string_equal(info.birth, "1949-12-31");
    assert_string_equal(info.sex, "女");
    assert_false(info.legacy);

    char id[19];
    make(id, 1985, 7, 4, 13);
    assert_true(idcard_parse(id, 18, &info, &r));
    assert_string_equal(info.birth, "1985-07-04");
    assert_string_equal(info.sex, "男");

    /* parse reads the parts without judging the check character: a record
     * whose check character is wrong still has a birth date and a sex. */
    assert_true(idcard_parse("110105194912310021", 18, &info, &r));
    assert_string_equal(info.birth, "1949-12-31");

    /* 15-digit legacy number: 19YYMMDD, sex from the last digit. */
    assert_true(idcard_parse("130503670401001", 15, &info, &r));
    assert_string_equal(info.division, "130503");
    assert_string_equal(info.birth, "1967-04-01");
    assert_string_equal(info.sex, "男");
    assert_true(info.legacy);
    assert_true(idcard_parse("130503670401002", 15, &info, &r));
    assert_string_equal(info.sex, "女");

    assert_false(idcard_parse("110105194902300020", 18, &info, &r));
    assert_string_equal(r, "出生日期无效");
    assert_false(idcard_parse("130503670231001", 15, &info, &r));
    assert_string_equal(r, "出生日期无效");
    assert_false(idcard_parse("13050367040100A", 15, &info, &r));
    assert_string_equal(r, "含非法字符");
    assert_false(idcard_parse("1234", 4, &info, &r));
    assert_string_equal(r, "长度不是18位或15位");
}

static void test_upgrade(void **state)
{
    (void)state;
    char out[19];
    const char *r = NULL;
    assert_true(idcard_upgrade("130503670401001", 15, out, &r));
    assert_string_equal(out, "130503196704010016");
    expect_ok(out);
    /* Every upgraded number is valid. */
    rng_state = 15;
    for (int i = 0; i < 2000; i++) {
        char old[40];
        int64_t day = qloop_days_from_civil(1900, 1, 1) + (int64_t)(rng() % 36524);
        int y, m, d;
        qloop_civil_from_days(day, &y, &m, &d);
        snprintf(old, sizeof old, "%06u%02d%02d%02d%03u", (unsigned)(rng() % 1000000), y % 100, m,
                 d, (unsigned)(rng() % 1000));
        assert_int_equal(strlen(old), 15);
        assert_true(idcard_upgrade(old, 15, out, &r));
        expect_ok(out);
        assert_memory_equal(out, old, 6);
        assert_memory_equal(out + 8, old + 6, 9);
    }
    /* A valid 18-digit number is returned unchanged; an invalid one is not. */
    assert_true(idcard_upgrade("11010519491231002X", 18, out, &r));
    assert_string_equal(out, "11010519491231002X");
    assert_false(idcard_upgrade("110105194912310021", 18, out, &r));
    assert_string_equal(r, "校验码错误");
    assert_false(idcard_upgrade("130503670231001", 15, out, &r));
    assert_string_equal(r, "出生日期无效");
    assert_false(idcard_upgrade("12345", 5, out, &r));
    assert_string_equal(r, "长度不是18位或15位");
}

/* Replaces the division table with two codes, 110000 and 110105. */
static void load_test_divisions(void)
{
    char path[] = "/tmp/qloop_test_idcard_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("code,name\n110000,北京市\n110105,朝阳区\n", f);
    fclose(f);
    struct qloop_error err;
    int rc = division_load_file(path, &err);
    unlink(path);
    assert_int_equal(rc, 0);
}

static void test_region(void **state)
{
    (void)state;
    load_test_divisions();
    const char *r = NULL;
    assert_true(idcard_valid_region("11010519491231002X", 18, &r));
    char id[19];
    make(id, 1990, 1, 1, 1);
    id[0] = '9', id[1] = '9';
    id[17] = mod11_2(id);
    assert_true(idcard_valid(id, 18, &r));
    assert_false(idcard_valid_region(id, 18, &r));
    assert_string_equal(r, "行政区划代码不存在");
    /* The other reasons come first. */
    assert_false(idcard_valid_region("990105194912310021", 18, &r));
    assert_string_equal(r, "校验码错误");
}

/* Evaluates the Lua expression expr and returns its results as text, each
 * through tostring, joined with ", " (the form docs/rules.md uses). */
static const char *lua_eval(lua_State *L, const char *expr)
{
    char code[1024];
    snprintf(code, sizeof code,
             "local t = table.pack(%s) local o = {} "
             "for i = 1, t.n do o[i] = tostring(t[i]) end return table.concat(o, ', ')",
             expr);
    lua_settop(L, 0);
    if (luaL_dostring(L, code) != LUA_OK)
        return lua_tostring(L, -1);
    return lua_tostring(L, -1);
}

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "idcard", luaopen_idcard, 1);
    lua_pop(L, 1);
    return L;
}

static void test_lua(void **state)
{
    (void)state;
    load_test_divisions();
    lua_State *L = new_state();
    assert_string_equal(lua_eval(L, "idcard.valid('11010519491231002X')"), "true");
    assert_string_equal(lua_eval(L, "idcard.valid('110105194912310021')"), "false, 校验码错误");
    assert_string_equal(lua_eval(L, "idcard.valid(nil)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "idcard.valid(110105)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "idcard.valid()"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "idcard.valid('11010519491231002X', {region = true})"),
                        "true");
    assert_string_equal(lua_eval(L, "idcard.valid('99010519491231002X', {region = true})"),
                        "false, 校验码错误");
    assert_string_equal(lua_eval(L, "idcard.valid('990105194912310023', {region = true})"),
                        "false, 行政区划代码不存在");
    assert_string_equal(lua_eval(L, "idcard.valid('11010519491231002X', {region = false})"),
                        "true");
    assert_non_null(strstr(lua_eval(L, "pcall(idcard.valid, '11010519491231002X', {regoin = true})"),
                           "选项只有 region"));
    assert_non_null(strstr(lua_eval(L, "pcall(idcard.valid, '11010519491231002X', 'region')"),
                           "table expected"));
    assert_string_equal(lua_eval(L, "idcard.parse('11010519491231002X').birth"), "1949-12-31");
    assert_string_equal(lua_eval(L, "idcard.parse('11010519491231002X').sex"), "女");
    assert_string_equal(lua_eval(L, "idcard.parse('110105194912310011').sex"), "男");
    assert_string_equal(lua_eval(L, "idcard.parse('110105194912310011').sex == '男' and "
                                    "idcard.parse('11010519491231002X').sex == '女'"),
                        "true");
    assert_string_equal(lua_eval(L, "idcard.parse('11010519491231002X').division"), "110105");
    assert_string_equal(lua_eval(L, "idcard.parse('11010519491231002X').legacy"), "false");
    assert_string_equal(lua_eval(L, "idcard.parse('130503670401001').legacy"), "true");
    assert_string_equal(lua_eval(L, "idcard.parse('abc')"), "nil, 长度不是18位或15位");
    assert_string_equal(lua_eval(L, "idcard.parse(nil)"), "nil, 不是文本");
    /* each call gives a fresh table with exactly the four keys */
    assert_string_equal(lua_eval(L, "(function() local a = idcard.parse('11010519491231002X') "
                                    "a.birth = 'x' local n = 0 "
                                    "for _ in pairs(idcard.parse('130503670401001')) do n = n + 1 end "
                                    "return idcard.parse('11010519491231002X').birth, n end)()"),
                        "1949-12-31, 4");
    assert_string_equal(lua_eval(L, "idcard.upgrade('130503670401001')"), "130503196704010016");
    assert_string_equal(lua_eval(L, "idcard.upgrade({})"), "nil, 不是文本");
    assert_string_equal(lua_eval(L, "idcard.upgrade('13050367040100')"),
                        "nil, 长度不是18位或15位");

    /* The native table names the very function rules see. */
    lua_getglobal(L, "idcard");
    lua_getfield(L, -1, "valid");
    lua_CFunction f = lua_tocfunction(L, -1);
    assert_non_null(f);
    assert_string_equal(qloop_idcard_checks[0].name, "idcard.valid");
    assert_ptr_equal(qloop_idcard_checks[0].lua, f);
    assert_ptr_equal(qloop_idcard_checks[0].check, idcard_valid);
    assert_null(qloop_idcard_checks[1].name);
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_examples),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_birth_boundaries),
        cmocka_unit_test(test_today_noted_only_for_future),
        cmocka_unit_test(test_today_follows_clock),
        cmocka_unit_test(test_property_generated_valid),
        cmocka_unit_test(test_property_substitutions_fail),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_region),
        cmocka_unit_test(test_lua),
    };
    return cmocka_run_group_tests(tests, setup_now, NULL);
}
