/*
 * test_uscc.c — GB 32100-2015 unified social credit identifiers and GB 11714
 * organisation codes: worked examples, every reason, the registration
 * authority / organisation type table, property tests (thousands of
 * generated codes pass; every single-character substitution of one fails),
 * parse, and the Lua bindings with their native table.
 *
 * The check characters here are computed by an independent implementation
 * (letter values from the character itself, powers of 3 computed, not
 * tabulated) so that a wrong table in uscc.c cannot agree with the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua/libs.h"
#include "lua/native.h"
#include "checks/uscc.h"

static const char ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* Registration authority + organisation type pairs of GB 32100-2015. */
static const char *const PAIRS[] = {
    "11", "12", "13", "19",             /* 机构编制 */
    "21", "29",                         /* 外交 */
    "31", "32", "33", "34", "35", "39", /* 司法行政 */
    "41", "49",                         /* 文化 */
    "51", "52", "53", "59",             /* 民政 */
    "61", "62", "69",                   /* 旅游 */
    "71", "72", "79",                   /* 宗教 */
    "81", "89",                         /* 工会 */
    "91", "92", "93",                   /* 工商 */
    "A1", "A9",                         /* 中央军委改革和编制办公室 */
    "N1", "N2", "N3", "N9",             /* 农业 */
    "Y1",                               /* 其他 */
};
enum { NPAIRS = sizeof PAIRS / sizeof PAIRS[0] };

static int alpha_index(char c)
{
    const char *p = strchr(ALPHABET, c);
    return c && p ? (int)(p - ALPHABET) : -1;
}

/* GB 11714 check of body[0..8): letters A..Z are 10..35. */
static char org_check(const char *body)
{
    static const int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        char c = body[i];
        sum += (c >= 'A' ? c - 'A' + 10 : c - '0') * w[i];
    }
    int r = 11 - sum % 11;
    return r == 10 ? 'X' : r == 11 ? '0' : (char)('0' + r);
}

/* GB 32100 check of body[0..17): weights 3^i mod 31 computed. */
static char uscc_check(const char *body)
{
    int sum = 0, w = 1;
    for (int i = 0; i < 17; i++) {
        sum += alpha_index(body[i]) * w;
        w = w * 3 % 31;
    }
    return ALPHABET[(31 - sum % 31) % 31];
}

/* Completes the 16 characters head into a code with both check characters. */
static void complete(char out[19], const char *head)
{
    memcpy(out, head, 16);
    out[16] = org_check(out + 8);
    out[17] = uscc_check(out);
    out[18] = '\0';
}

static void expect_fail(const char *s, const char *want)
{
    const char *r = NULL;
    assert_false(uscc_valid(s, strlen(s), &r));
    assert_non_null(r);
    assert_string_equal(r, want);
}

static void expect_ok(const char *s)
{
    const char *r = NULL;
    if (!uscc_valid(s, strlen(s), &r))
        fail_msg("%s rejected: %s", s, r);
}

static void test_examples(void **state)
{
    (void)state;
    /* The example used throughout GB 32100 explanations: 工商 企业, 福州. */
    expect_ok("91350100M000100Y43");
    assert_int_equal(uscc_check_char("91350100M000100Y4"), '3');
    assert_int_equal(orgcode_check_char("M000100Y"), '4');
    /* GB 11714 example: D2143569-X (check value 10 written X). */
    assert_int_equal(orgcode_check_char("D2143569"), 'X');
    assert_true(orgcode_valid("D2143569X", 9, NULL));
    assert_true(orgcode_valid("D2143569-X", 10, NULL));
    /* Check value 11 is written 0. */
    char code[19];
    for (unsigned n = 0;; n++) {
        char body[9];
        snprintf(body, sizeof body, "%08u", n);
        if (org_check(body) == '0') {
            assert_int_equal(orgcode_check_char(body), '0');
            break;
        }
    }
    /* Final check 31 - 0 = 31 is written 0: search for one. */
    int found = 0;
    for (unsigned n = 0; n < 100000 && !found; n++) {
        char head[32];
        snprintf(head, sizeof head, "91330200%08u", n);
        complete(code, head);
        if (code[17] == '0') {
            expect_ok(code);
            found = 1;
        }
    }
    assert_true(found);
    assert_int_equal(uscc_check_char("91350100M000100YI"), '\0');
}

static void test_reasons(void **state)
{
    (void)state;
    char code[19];
    expect_fail("", "长度不是18位");
    expect_fail("91350100M000100Y4", "长度不是18位");
    expect_fail("91350100M000100Y433", "长度不是18位");
    expect_fail("91350100m000100Y43", "含非法字符：字母应为大写");
    expect_fail("91350100M000100I43", "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
    expect_fail("91350100M000100O43", "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
    expect_fail("91350100M000100Z43", "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
    expect_fail("91350100M000100S43", "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
    expect_fail("91350100M000100V43", "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
    expect_fail("91350100M000100-43", "含非法字符");
    expect_fail("91350100M000100Y4 ", "含非法字符");
    complete(code, "B1350100M000100Y");
    expect_fail(code, "登记管理部门代码无效");
    complete(code, "94350100M000100Y");
    expect_fail(code, "机构类别代码无效");
    complete(code, "Y2350100M000100Y");
    expect_fail(code, "机构类别代码无效");
    complete(code, "9135A100M000100Y");
    expect_fail(code, "登记管理机关行政区划码无效");
    expect_fail("91350100M000100Y53", "组织机构代码校验码错误");
    expect_fail("91350100M000100Y44", "校验码错误");
    expect_fail("91350100M000100Y4Y", "校验码错误");
    assert_false(uscc_valid("91350100M000100Y4\0", 18, NULL));
}

static void test_table(void **state)
{
    (void)state;
    char head[17], code[19];
    int accepted = 0;
    for (const char *a = ALPHABET; *a; a++) {
        for (const char *t = ALPHABET; *t; t++) {
            snprintf(head, sizeof head, "%c%c350100M000100Y", *a, *t);
            complete(code, head);
            bool listed = false;
            for (int i = 0; i < NPAIRS; i++)
                listed |= PAIRS[i][0] == *a && PAIRS[i][1] == *t;
            const char *r = NULL;
            bool ok = uscc_valid(code, 18, &r);
            if (ok != listed)
                fail_msg("%s: valid %d, listed %d (%s)", code, ok, listed, r ? r : "");
            accepted += ok;
            assert_true(uscc_type_name(*a, *t) ? listed : !listed);
        }
    }
    assert_int_equal(accepted, NPAIRS);
    assert_string_equal(uscc_authority_name('9'), "工商");
    assert_string_equal(uscc_type_name('9', '2'), "个体工商户");
    assert_string_equal(uscc_authority_name('5'), "民政");
    assert_string_equal(uscc_type_name('5', '3'), "基金会");
    assert_string_equal(uscc_authority_name('1'), "机构编制");
    assert_string_equal(uscc_type_name('1', '1'), "机关");
    assert_string_equal(uscc_authority_name('Y'), "其他");
    assert_null(uscc_authority_name('B'));
    assert_null(uscc_type_name('9', '9'));
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void random_code(char out[19])
{
    char head[17];
    const char *pair = PAIRS[rng() % NPAIRS];
    head[0] = pair[0], head[1] = pair[1];
    for (int i = 2; i < 8; i++)
        head[i] = (char)('0' + rng() % 10);
    for (int i = 8; i < 16; i++)
        head[i] = ALPHABET[rng() % 31];
    head[16] = '\0';
    complete(out, head);
}

static void test_property_generated_valid(void **state)
{
    (void)state;
    rng_state = 32100;
    char code[19];
    int zero = 0, x = 0;
    for (int i = 0; i < 20000; i++) {
        random_code(code);
        expect_ok(code);
        assert_int_equal(uscc_check_char(code), code[17]);
        assert_true(orgcode_valid(code + 8, 9, NULL));
        zero += code[17] == '0';
        x += code[16] == 'X';
    }
    assert_true(zero > 300 && x > 1000);
}

static void test_property_substitutions_fail(void **state)
{
    (void)state;
    rng_state = 2015;
    char code[19], mutated[19];
    for (int n = 0; n < 300; n++) {
        random_code(code);
        for (int pos = 0; pos < 18; pos++) {
            for (const char *c = ALPHABET; *c; c++) {
                if (*c == code[pos])
                    continue;
                memcpy(mutated, code, 19);
                mutated[pos] = *c;
                if (uscc_valid(mutated, 18, NULL))
                    fail_msg("%s (from %s, position %d) passed", mutated, code, pos + 1);
            }
        }
    }
}

static void test_orgcode(void **state)
{
    (void)state;
    const char *r = NULL;
    assert_false(orgcode_valid("D2143569", 8, &r));
    assert_string_equal(r, "长度不是9位");
    assert_false(orgcode_valid("D2143569--X", 11, &r));
    assert_string_equal(r, "长度不是9位");
    assert_false(orgcode_valid("D214356-9X", 10, &r));
    assert_string_equal(r, "长度不是9位");
    assert_false(orgcode_valid("d2143569X", 9, &r));
    assert_string_equal(r, "含非法字符：字母应为大写");
    assert_false(orgcode_valid("D2143569x", 9, &r));
    assert_string_equal(r, "含非法字符：字母应为大写");
    assert_false(orgcode_valid("D214356#X", 9, &r));
    assert_string_equal(r, "含非法字符");
    assert_false(orgcode_valid("D21435691", 9, &r));
    assert_string_equal(r, "校验码错误");
    assert_false(orgcode_valid("D2143569-1", 10, &r));
    assert_string_equal(r, "校验码错误");
    assert_false(orgcode_valid("D2143569A", 9, &r));
    assert_string_equal(r, "校验码错误");
    /* GB 11714 body characters may be any uppercase letter, I O Z S V too. */
    char code[10] = "ZOSIV000";
    code[8] = org_check(code);
    assert_true(orgcode_valid(code, 9, NULL));

    rng_state = 11714;
    static const char body_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int n = 0; n < 5000; n++) {
        char c[11];
        for (int i = 0; i < 8; i++)
            c[i] = body_chars[rng() % 36];
        c[8] = org_check(c);
        assert_true(orgcode_valid(c, 9, NULL));
        char dashed[10];
        memcpy(dashed, c, 8);
        dashed[8] = '-', dashed[9] = c[8];
        assert_true(orgcode_valid(dashed, 10, NULL));
        /* Substituting one digit body character by another digit, or the
         * check character by any other, is always caught. */
        for (int pos = 0; pos < 9; pos++) {
            const char *alt = pos < 8 ? "0123456789" : "0123456789X";
            if (pos < 8 && (c[pos] < '0' || c[pos] > '9'))
                continue;
            for (const char *a = alt; *a; a++) {
                if (*a == c[pos])
                    continue;
                char m[9];
                memcpy(m, c, 9);
                m[pos] = *a;
                if (orgcode_valid(m, 9, NULL))
                    fail_msg("%.9s (from %.9s) passed", m, c);
            }
        }
    }
    /* The MOD 11 check cannot see a change of 11 in a value ('2' → 'D'):
     * the standard's own limit, which the USCC's MOD 31 check covers. */
    assert_true(orgcode_valid("DD143569X", 9, NULL));
    char whole[19];
    complete(whole, "91350100D2143569");
    expect_ok(whole);
    whole[9] = 'D';
    expect_fail(whole, "校验码错误");
}

static void test_parse(void **state)
{
    (void)state;
    struct uscc_info info;
    const char *r = NULL;
    assert_true(uscc_parse("91350100M000100Y43", 18, &info, &r));
    assert_int_equal(info.authority, '9');
    assert_string_equal(info.authority_name, "工商");
    assert_int_equal(info.type, '1');
    assert_string_equal(info.type_name, "企业");
    assert_string_equal(info.division, "350100");
    assert_string_equal(info.orgcode, "M000100Y4");
    assert_int_equal(info.check, '3');
    /* parse reads the parts; unknown table codes give no names, wrong check
     * characters are not judged. */
    assert_true(uscc_parse("B4350100M000100Y44", 18, &info, &r));
    assert_null(info.authority_name);
    assert_null(info.type_name);
    assert_false(uscc_parse("9135010M000100Y43", 17, &info, &r));
    assert_string_equal(r, "长度不是18位");
    assert_false(uscc_parse("9135A100M000100Y43", 18, &info, &r));
    assert_string_equal(r, "登记管理机关行政区划码无效");
    assert_false(uscc_parse("91350100M000100O43", 18, &info, &r));
    assert_string_equal(r, "含非法字符：统一社会信用代码不使用I、O、Z、S、V");
}

static const char *lua_eval(lua_State *L, const char *expr)
{
    char code[1024];
    snprintf(code, sizeof code,
             "local t = table.pack(%s) local o = {} "
             "for i = 1, t.n do o[i] = tostring(t[i]) end return table.concat(o, ', ')",
             expr);
    lua_settop(L, 0);
    if (luaL_dostring(L, code) != LUA_OK)
        return lua_tostring(L, -1); /* the error message, which no test expects */
    return lua_tostring(L, -1);
}

/* The C function at global table.field. */
static lua_CFunction lua_fn(lua_State *L, const char *table, const char *field)
{
    lua_getglobal(L, table);
    lua_getfield(L, -1, field);
    lua_CFunction f = lua_tocfunction(L, -1);
    lua_pop(L, 2);
    return f;
}

static void test_lua(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "uscc", luaopen_uscc, 1);
    luaL_requiref(L, "orgcode", luaopen_orgcode, 1);
    lua_pop(L, 2);
    assert_string_equal(lua_eval(L, "uscc.valid('91350100M000100Y43')"), "true");
    assert_string_equal(lua_eval(L, "uscc.valid('91350100M000100Y44')"), "false, 校验码错误");
    assert_string_equal(lua_eval(L, "uscc.valid(nil)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "uscc.valid(913501)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').authority_name"), "工商");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').type_name"), "企业");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').type"), "1");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').division"), "350100");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').orgcode"), "M000100Y4");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').check"), "3");
    assert_string_equal(lua_eval(L, "uscc.parse('B4350100M000100Y43').authority_name"), "nil");
    assert_string_equal(lua_eval(L, "uscc.parse('91350100M000100Y43').authority"), "9");
    /* a fresh table each call; the absent names are absent keys */
    assert_string_equal(lua_eval(L, "(function() local a = uscc.parse('91350100M000100Y43') "
                                    "a.orgcode = 'x' local n = 0 "
                                    "for _ in pairs(uscc.parse('B4350100M000100Y43')) do n = n + 1 end "
                                    "return uscc.parse('91350100M000100Y43').orgcode, n end)()"),
                        "M000100Y4, 5");
    assert_string_equal(lua_eval(L, "uscc.parse('9135')"), "nil, 长度不是18位");
    assert_string_equal(lua_eval(L, "uscc.parse(false)"), "nil, 不是文本");
    assert_string_equal(lua_eval(L, "orgcode.valid('D2143569-X')"), "true");
    assert_string_equal(lua_eval(L, "orgcode.valid('D21435691')"), "false, 校验码错误");
    assert_string_equal(lua_eval(L, "orgcode.valid()"), "false, 不是文本");

    assert_string_equal(qloop_uscc_checks[0].name, "uscc.valid");
    assert_ptr_equal(qloop_uscc_checks[0].lua, lua_fn(L, "uscc", "valid"));
    assert_ptr_equal(qloop_uscc_checks[0].check, uscc_valid);
    assert_string_equal(qloop_uscc_checks[1].name, "orgcode.valid");
    assert_ptr_equal(qloop_uscc_checks[1].lua, lua_fn(L, "orgcode", "valid"));
    assert_ptr_equal(qloop_uscc_checks[1].lua, qloop_lua_orgcode_valid);
    assert_ptr_equal(qloop_uscc_checks[1].check, orgcode_valid);
    assert_null(qloop_uscc_checks[2].name);
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_property_generated_valid),
        cmocka_unit_test(test_property_substitutions_fail),
        cmocka_unit_test(test_orgcode),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_lua),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
