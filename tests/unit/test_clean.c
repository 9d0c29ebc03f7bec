/*
 * test_clean.c — the cleansing functions (engine/clean.c), their Lua table
 * (engine/lua_clean.c) and the native lookup (engine/native.c).
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
#include <lua.h>
#include <lualib.h>

#include "checks/clean.h"
#include "lua/libs.h"
#include "lua/native.h"

/* true when s[0..len) is well-formed UTF-8. */
static int utf8_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        size_t n;
        uint32_t v, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 2, v = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3, v = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4, v = c & 0x07, min = 0x10000;
        else
            return 0;
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (u[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

/* Runs fn over in[0..len) and checks the result: expect NULL means "no value". */
static void check_n(qloop_clean_fn fn, const char *in, size_t len, const char *expect)
{
    struct qloop_buf out = {0};
    int rc = fn(in, len, &out);
    if (expect) {
        assert_int_equal(rc, 1);
        assert_string_equal(qloop_buf_str(&out), expect);
        assert_int_equal(out.len, strlen(expect));
        assert_true(utf8_ok(qloop_buf_str(&out), out.len));
    } else {
        assert_int_equal(rc, 0);
    }
    qloop_buf_free(&out);
}

static void check(qloop_clean_fn fn, const char *in, const char *expect)
{
    check_n(fn, in, strlen(in), expect);
}

static void test_trim(void **state)
{
    (void)state;
    check(clean_trim, "  abc  ", "abc");
    check(clean_trim, "\t\r\n abc\n", "abc");
    check(clean_trim, "\xE3\x80\x80张三\xE3\x80\x80", "张三");                  /* U+3000 */
    check(clean_trim, "\xC2\xA0" "abc" "\xC2\xA0", "abc");                       /* NBSP */
    check(clean_trim, "\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8D" "x" "\xEF\xBB\xBF", "x"); /* ZW, BOM */
    check(clean_trim, "\xEF\xBB\xBF 330102", "330102");
    check(clean_trim, " a  b ", "a  b");                                         /* middle kept */
    check(clean_trim, "a\xE3\x80\x80" "b", "a\xE3\x80\x80" "b");
    check(clean_trim, "", "");
    check(clean_trim, "   \xE3\x80\x80 ", "");
    check(clean_trim, "abc", "abc");
    /* Invalid bytes are kept as U+FFFD, never raw. */
    check(clean_trim, " a\xFF" "b ", "a\xEF\xBF\xBD" "b");
    check(clean_trim, "\xE4\xB8 ", "\xEF\xBF\xBD\xEF\xBF\xBD");                  /* truncated 中 */
    check(clean_trim, "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");                   /* overlong '/' */
    check(clean_trim, "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");   /* surrogate */
    /* Embedded NUL is a character like any other. */
    struct qloop_buf out = {0};
    clean_trim(" a\0b ", 5, &out);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.ptr, "a\0b", 3);
    qloop_buf_free(&out);
}

static void test_halfwidth(void **state)
{
    (void)state;
    check(clean_halfwidth, "ＡＢＣ１２３", "ABC123");
    check(clean_halfwidth, "！～", "!~");                     /* both ends of the range */
    check(clean_halfwidth, "（０５７１）８８８８\xE3\x80\x80", "(0571)8888 ");
    check(clean_halfwidth, "张三，你好", "张三,你好");
    check(clean_halfwidth, "｟", "｟");                        /* U+FF5F is outside */
    check(clean_halfwidth, "abc", "abc");
    check(clean_halfwidth, "", "");
    check(clean_halfwidth, "Ａ\xFE" "Ｂ", "A\xEF\xBF\xBD" "B");
}

static void test_upper(void **state)
{
    (void)state;
    check(clean_upper, "91330100abcdefgh1x", "91330100ABCDEFGH1X");
    check(clean_upper, "azAZ09", "AZAZ09");
    check(clean_upper, "ｘ张x", "ｘ张X");                     /* full-width untouched */
    check(clean_upper, "é", "é");
    check(clean_upper, "", "");
    check(clean_upper, "a\x80" "b", "A\xEF\xBF\xBD" "B");
}

static void test_collapse(void **state)
{
    (void)state;
    check(clean_collapse, "  浙江省   杭州市\t\n西湖区 ", "浙江省 杭州市 西湖区");
    check(clean_collapse, "a\xE3\x80\x80\xE3\x80\x80" "b", "a b");
    check(clean_collapse, "a \xC2\xA0\t b", "a b");
    check(clean_collapse, "\xE2\x80\x8B a  b \xEF\xBB\xBF", "a b");
    check(clean_collapse, "a b", "a b");
    check(clean_collapse, "", "");
    check(clean_collapse, " \t ", "");
    check(clean_collapse, "a  \xFF  b", "a \xEF\xBF\xBD b");
}

static void test_date_forms(void **state)
{
    (void)state;
    check(clean_date, "2020/1/5", "2020-01-05");
    check(clean_date, "2020.1.5", "2020-01-05");
    check(clean_date, "2020-1-5", "2020-01-05");
    check(clean_date, "2020-01-05", "2020-01-05");
    check(clean_date, "2020年1月5日", "2020-01-05");
    check(clean_date, "2020年01月05号", "2020-01-05");
    check(clean_date, "2020年12月31", "2020-12-31");
    check(clean_date, "20200105", "2020-01-05");
    check(clean_date, "2020-01-05 10:00:00", "2020-01-05");
    check(clean_date, "2020-01-05T10:00:00", "2020-01-05");
    check(clean_date, "2020-01-05T10:00:00+08:00", "2020-01-05");
    check(clean_date, "2020-01-05T02:00:00Z", "2020-01-05");
    check(clean_date, "2020/1/5 9:30", "2020-01-05");
    check(clean_date, "2020-01-05 10:00:00.0", "2020-01-05");
    check(clean_date, "20200105T103000", "2020-01-05");
    check(clean_date, "2020年1月5日 10:00", "2020-01-05");
    check(clean_date, "  2020-01-05 \xE3\x80\x80", "2020-01-05");
    check(clean_date, "２０２０年１月５日", "2020-01-05");      /* full-width digits */
    check(clean_date, "２０２０－０１－０５", "2020-01-05");
    check(clean_date, "2020-02-29", "2020-02-29");               /* leap year */
    check(clean_date, "2000-02-29", "2000-02-29");
}

static void test_date_impossible(void **state)
{
    (void)state;
    check(clean_date, "2021-02-29", NULL);
    check(clean_date, "1900-02-29", NULL);
    check(clean_date, "2020-13-01", NULL);
    check(clean_date, "2020-00-10", NULL);
    check(clean_date, "2020-04-31", NULL);
    check(clean_date, "2020-01-00", NULL);
    check(clean_date, "20201301", NULL);
    check(clean_date, "0999-01-01", NULL);
    check(clean_date, "", NULL);
    check(clean_date, "   ", NULL);
    check(clean_date, "abc", NULL);
    check(clean_date, "2020-01", NULL);
    check(clean_date, "2020-1-5-", NULL);
    check(clean_date, "2020/1-5", NULL);                          /* mixed separators */
    check(clean_date, "20-1-5", NULL);                            /* two-digit year */
    check(clean_date, "2020-001-05", NULL);
    check(clean_date, "202001055", NULL);
    check(clean_date, "2020-01-05 abc", NULL);
    check(clean_date, "2020-01-05 25:00", NULL);
    check(clean_date, "2020-01-05T", NULL);
    check(clean_date, "2020-01-05 10:00+08:", NULL);
    check(clean_date, "2020年1月", NULL);
    check(clean_date, "2020-01-05\xFF", NULL);
    check_n(clean_date, "2020-01-05\0", 11, NULL);
    /* Very long input is no date, and is not read past its length. */
    size_t n = 100000;
    char *big = malloc(n);
    memset(big, '1', n);
    check_n(clean_date, big, n, NULL);
    memcpy(big, "2020-01-05", 10);
    memset(big + 10, ' ', n - 10);
    check_n(clean_date, big, n, "2020-01-05");
    free(big);
}

/* A value already written YYYY-MM-DD takes a shorter way (clean.c
 * iso_date): for every such text of the years 0999-1001, 1899-1901,
 * 1999-2001 and 2023-2025, every month 00-13 and day 00-32, the answer
 * equals the general path's, reached by the same text with a space before
 * it (trimmed). */
static void test_date_iso_same(void **state)
{
    (void)state;
    static const int years[] = {999, 1000, 1001, 1899, 1900, 1901, 1999, 2000, 2001, 2023, 2024, 2025};
    size_t valid = 0;
    for (size_t yi = 0; yi < sizeof years / sizeof *years; yi++)
        for (int m = 0; m <= 13; m++)
            for (int d = 0; d <= 32; d++) {
                char iso[16], spaced[16];
                snprintf(iso, sizeof iso, "%04d-%02d-%02d", years[yi], m, d);
                snprintf(spaced, sizeof spaced, " %s", iso);
                struct qloop_buf a = {0}, b = {0};
                int ra = clean_date(iso, strlen(iso), &a);
                int rb = clean_date(spaced, strlen(spaced), &b);
                assert_int_equal(ra, rb);
                assert_string_equal(qloop_buf_str(&a), qloop_buf_str(&b));
                valid += ra == 1;
                qloop_buf_free(&a);
                qloop_buf_free(&b);
            }
    assert_int_equal(valid, 11 * 365 + 2); /* 0999 none; 2000 and 2024 leap, 1000 and 1900 not */
}

static void test_phone(void **state)
{
    (void)state;
    check(clean_phone, "13812345678", "13812345678");
    check(clean_phone, "+86 138 1234 5678", "13812345678");
    check(clean_phone, "+86-13812345678", "13812345678");
    check(clean_phone, "0086 13812345678", "13812345678");
    check(clean_phone, "86-138-1234-5678", "13812345678");
    check(clean_phone, "(+86)13812345678", "13812345678");
    check(clean_phone, "＋８６　１３８１２３４５６７８", "13812345678");
    check(clean_phone, "１３８－１２３４－５６７８", "13812345678");
    check(clean_phone, "138\xE2\x80\x94" "1234\xE2\x80\x94" "5678", "13812345678"); /* em dash */
    check(clean_phone, "(0571) 8888-6666", "057188886666");
    check(clean_phone, "（0571）88886666", "057188886666");
    check(clean_phone, "0571-88886666", "057188886666");
    /* The prefix is only removed in front of a mobile number. */
    check(clean_phone, "+86 571 8888 6666", "+8657188886666");
    check(clean_phone, "8613812345", "8613812345");
    check(clean_phone, "861234567890", "861234567890");
    /* Other characters stay for the validators to see. */
    check(clean_phone, "138x1234y5678", "138x1234y5678");
    check(clean_phone, "电话13812345678", "电话13812345678");
    check(clean_phone, "", "");
    check(clean_phone, " - ", "");
    check(clean_phone, "138\xFF" "5678", "138\xEF\xBF\xBD" "5678");
}

static void test_append_to_nonempty(void **state)
{
    (void)state;
    /* The functions append: what is in out already is left alone. */
    struct qloop_buf out = {0};
    qloop_buf_append(&out, "X:", 2);
    assert_int_equal(clean_phone("+86 13812345678", 15, &out), 1);
    assert_string_equal(qloop_buf_str(&out), "X:13812345678");
    qloop_buf_reset(&out);
    qloop_buf_append(&out, "Y:", 2);
    assert_int_equal(clean_upper("ab", 2, &out), 1);
    assert_string_equal(qloop_buf_str(&out), "Y:AB");
    qloop_buf_free(&out);
}

static void test_long_input(void **state)
{
    (void)state;
    size_t reps = 200000;
    struct qloop_buf in = {0};
    qloop_buf_append(&in, "  ", 2);
    for (size_t i = 0; i < reps; i++)
        qloop_buf_append(&in, "ａ\xE3\x80\x80", 6);
    struct qloop_buf out = {0};
    assert_int_equal(clean_halfwidth(in.ptr, in.len, &out), 1);
    assert_int_equal(out.len, 2 + 2 * reps);
    qloop_buf_reset(&out);
    assert_int_equal(clean_collapse(in.ptr, in.len, &out), 1);
    assert_int_equal(out.len, 3 * reps + (reps - 1)); /* "ａ" + " " between */
    assert_true(utf8_ok(out.ptr, out.len));
    qloop_buf_reset(&out);
    assert_int_equal(clean_trim(in.ptr, in.len, &out), 1);
    assert_int_equal(out.len, in.len - 2 - 3);
    qloop_buf_free(&out);
    qloop_buf_free(&in);
}

/* ---- Lua ---------------------------------------------------------------- */

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, "clean", luaopen_clean, 1);
    lua_settop(L, 0);
    return L;
}

/* Runs code, which must return one value; returns it as a string ("nil" for
 * nil) in buf. */
static const char *eval(lua_State *L, const char *code, char *buf, size_t size)
{
    int rc = luaL_dostring(L, code);
    if (rc != LUA_OK)
        fail_msg("Lua error: %s", lua_tostring(L, -1));
    if (lua_isnil(L, -1))
        snprintf(buf, size, "nil");
    else
        snprintf(buf, size, "%s", luaL_tolstring(L, -1, NULL));
    lua_settop(L, 0);
    return buf;
}

static void test_lua(void **state)
{
    (void)state;
    lua_State *L = new_state();
    char b[256];
    assert_string_equal(eval(L, "return clean.trim('  张三 ')", b, sizeof b), "张三");
    assert_string_equal(eval(L, "return clean.halfwidth('ＡＢＣ')", b, sizeof b), "ABC");
    assert_string_equal(eval(L, "return clean.date('2020年1月5日')", b, sizeof b), "2020-01-05");
    assert_string_equal(eval(L, "return clean.date('2021-02-29')", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return clean.date(20200105)", b, sizeof b), "2020-01-05");
    assert_string_equal(eval(L, "return clean.phone('+86 138-1234-5678')", b, sizeof b), "13812345678");
    assert_string_equal(eval(L, "return clean.phone(13812345678)", b, sizeof b), "13812345678");
    assert_string_equal(eval(L, "return clean.upper('91x')", b, sizeof b), "91X");
    assert_string_equal(eval(L, "return clean.collapse(' a   b ')", b, sizeof b), "a b");
    assert_string_equal(eval(L, "return clean.trim(nil)", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return clean.date()", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return clean.trim(12)", b, sizeof b), "12");
    assert_string_equal(eval(L, "return clean.trim(1.5)", b, sizeof b), "1.5");
    assert_string_equal(eval(L, "return clean.trim('')", b, sizeof b), "");
    assert_string_equal(eval(L, "return #clean.trim(' a\\0b ')", b, sizeof b), "3");
    assert_string_equal(eval(L, "return clean.trim('\\xff')", b, sizeof b), "\xEF\xBF\xBD");
    /* Chaining, as a cleanse step list would. */
    assert_string_equal(eval(L, "return clean.date(clean.halfwidth(clean.trim('　２０２０．１．５ ')))", b,
                             sizeof b),
                        "2020-01-05");
    /* A table is a type error, raised as a Lua error, not a crash. */
    assert_int_not_equal(luaL_dostring(L, "return clean.trim({})"), LUA_OK);
    assert_non_null(strstr(lua_tostring(L, -1), "string expected"));
    lua_settop(L, 0);
    /* Long strings go through the shared scratch buffer and back. */
    assert_string_equal(eval(L, "return #clean.upper(string.rep('ab', 100000))", b, sizeof b), "200000");
    assert_string_equal(eval(L, "return clean.upper('ok')", b, sizeof b), "OK");
    lua_close(L);
}

/* ---- native table ------------------------------------------------------- */

static void test_native_cleaners(void **state)
{
    (void)state;
    lua_State *L = new_state();
    static const char *const names[] = {"trim", "halfwidth", "date", "phone", "upper", "collapse"};
    size_t n = 0;
    for (const struct qloop_native_cleaner *c = qloop_clean_cleaners; c->name; c++)
        n++;
    assert_int_equal(n, 6);
    for (size_t i = 0; i < 6; i++) {
        lua_getglobal(L, "clean");
        lua_getfield(L, -1, names[i]);
        lua_CFunction f = lua_tocfunction(L, -1);
        assert_non_null(f);
        const struct qloop_native_cleaner *c = qloop_native_cleaner_find(f);
        assert_non_null(c);
        char full[32];
        snprintf(full, sizeof full, "clean.%s", names[i]);
        assert_string_equal(c->name, full);
        assert_ptr_equal(c->lua, f);
        /* The C twin gives what the Lua function gives. */
        struct qloop_buf out = {0};
        int rc = c->clean(" ２０２０/1/5 ", strlen(" ２０２０/1/5 "), &out);
        lua_pushstring(L, " ２０２０/1/5 ");
        assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
        if (rc)
            assert_string_equal(qloop_buf_str(&out), lua_tostring(L, -1));
        else
            assert_true(lua_isnil(L, -1));
        qloop_buf_free(&out);
        /* A cleaner is not a check. */
        assert_null(qloop_native_check_find(f));
        lua_settop(L, 0);
    }
    lua_close(L);
}

static void test_native_checks(void **state)
{
    (void)state;
    assert_null(qloop_native_check_find(NULL));
    assert_null(qloop_native_cleaner_find(NULL));
    assert_null(qloop_native_cleaner_find(luaopen_clean));
    assert_null(qloop_native_check_find(luaopen_clean));
    const struct qloop_native_check *const tables[] = {qloop_idcard_checks, qloop_uscc_checks,
                                                       qloop_validate_checks};
    size_t found = 0;
    for (size_t t = 0; t < 3; t++)
        for (const struct qloop_native_check *c = tables[t]; c->name; c++) {
            assert_ptr_equal(qloop_native_check_find(c->lua), c);
            assert_null(qloop_native_cleaner_find(c->lua));
            found++;
        }
    assert_true(found >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),           cmocka_unit_test(test_halfwidth),
        cmocka_unit_test(test_upper),          cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_date_forms),     cmocka_unit_test(test_date_impossible),
        cmocka_unit_test(test_date_iso_same),
        cmocka_unit_test(test_phone),          cmocka_unit_test(test_append_to_nonempty),
        cmocka_unit_test(test_long_input),     cmocka_unit_test(test_lua),
        cmocka_unit_test(test_native_cleaners), cmocka_unit_test(test_native_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
