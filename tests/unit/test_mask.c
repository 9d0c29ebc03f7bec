/*
 * test_mask.c — the masking functions (engine/mask.c) and their Lua table
 * (engine/lua_mask.c). mask.c takes runs of ASCII at once; the per-character
 * reading it replaced is kept here (ref_keep_ends) and the functions built on
 * it are compared with it over mixed Chinese/ASCII text, invalid bytes and
 * runs cut at every place, appending to a buffer already holding text.
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

#include "lua/libs.h"
#include "checks/mask.h"
#include "base/text.h"
#include "seeded_rng.h"

typedef void (*mask_fn)(const char *s, size_t len, struct qloop_buf *out);

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

static void check_n(mask_fn fn, const char *in, size_t len, const char *expect)
{
    struct qloop_buf out = {0};
    fn(in, len, &out);
    assert_string_equal(qloop_buf_str(&out), expect);
    assert_int_equal(out.len, strlen(expect));
    assert_true(utf8_ok(qloop_buf_str(&out), out.len));
    qloop_buf_free(&out);
}

static void check(mask_fn fn, const char *in, const char *expect)
{
    check_n(fn, in, strlen(in), expect);
}

static void test_generic(void **state)
{
    (void)state;
    check(mask_generic, "", "");
    check(mask_generic, "a", "*");
    check(mask_generic, "张", "*");
    check(mask_generic, "ab", "a*");
    check(mask_generic, "张三", "张*");
    check(mask_generic, "abc", "a*c");
    check(mask_generic, "abcdef", "a****f");
    check(mask_generic, "杭州西湖", "杭**湖");
    check(mask_generic, "a😀b", "a*b");                 /* 4-byte character is one */
    check(mask_generic, "😀😀😀", "😀*😀");
}

static void test_invalid_utf8_never_leaks(void **state)
{
    (void)state;
    /* Each invalid byte is a character; kept ones are written as '*'. */
    check(mask_generic, "\xFF\xFE\xFD", "***");
    check(mask_generic, "\xFF" "bc", "**c");
    check(mask_generic, "ab\xFF", "a**");
    check(mask_generic, "\xE5\xBC", "**");              /* truncated 张 */
    check(mask_name, "\xFF" "三", "**");
    check(mask_name, "\xC0\x80", "**");                 /* overlong NUL */
    check(mask_idcard, "\xFF" "30102199003071234", "*****************4");
    check(mask_phone, "\xFF" "3812345678", "**********8");
    check(mask_address, "\xFF" "江省杭州市西湖区文三路", "*江省杭州市西湖区****");
    check(mask_sensitive, "\xFF\xFF", "**");
    /* Whatever the bytes, no input byte >= 0x80 appears unless it was part of
     * a valid character: run all masks over every single byte. */
    for (int b = 0x80; b <= 0xFF; b++) {
        char in[4] = {'x', (char)b, 'y', (char)b};
        mask_fn fns[] = {mask_idcard, mask_phone, mask_name, mask_address, mask_generic, mask_sensitive};
        for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
            struct qloop_buf out = {0};
            fns[i](in, sizeof in, &out);
            assert_true(utf8_ok(qloop_buf_str(&out), out.len));
            assert_null(memchr(qloop_buf_str(&out), b, out.len));
            qloop_buf_free(&out);
        }
    }
}

static void test_idcard(void **state)
{
    (void)state;
    check(mask_idcard, "33010219900307123X", "330102***********X");
    check(mask_idcard, "33010219900307123x", "330102***********x");
    check(mask_idcard, "330102199003071234", "330102***********4");
    check(mask_idcard, "330102900307123", "330102********3");
    /* Not an identity number shape: generic. */
    check(mask_idcard, "3301021990030712", "3**************2");
    check(mask_idcard, "33010219900307123Y", "3****************Y");
    check(mask_idcard, "33010X199003071234", "3****************4");
    check(mask_idcard, "", "");
    check(mask_idcard, "1", "*");
}

static void test_phone(void **state)
{
    (void)state;
    check(mask_phone, "13812345678", "138****5678");
    check(mask_phone, "057188886666", "057*****6666");
    check(mask_phone, "0571-88886666", "057******6666");
    check(mask_phone, "+86 13812345678", "+86********5678");
    /* Short numbers still get at least four characters masked. */
    check(mask_phone, "88886666", "****6666");
    check(mask_phone, "888866661", "8****6661");
    check(mask_phone, "0571888866", "05****8866");
    check(mask_phone, "1234567", "1*****7");               /* too short: generic */
    check(mask_phone, "12", "1*");
    check(mask_phone, "", "");
    check(mask_phone, "--------", "-******-");             /* no digit: generic */
    check(mask_phone, "138１２３45678", "1*********8");     /* not plain ASCII: generic */
    check(mask_phone, "电话13812345678", "电***********8");
}

static void test_name(void **state)
{
    (void)state;
    check(mask_name, "张三", "张*");
    check(mask_name, "张三丰", "张**");
    check(mask_name, "欧阳修", "欧阳*");
    check(mask_name, "欧阳娜娜", "欧阳**");
    check(mask_name, "司马相如", "司马**");
    check(mask_name, "诸葛亮", "诸葛*");
    check(mask_name, "上官婉儿", "上官**");
    check(mask_name, "轩辕", "轩*");                       /* nothing follows: one kept */
    check(mask_name, "欧阳", "欧*");
    check(mask_name, "欧三", "欧*");
    check(mask_name, "阳修文", "阳**");
    check(mask_name, "张", "*");
    check(mask_name, "", "");
    check(mask_name, "John Smith", "J*********");
    check(mask_name, "阿卜杜拉·买买提", "阿*******");
    check(mask_name, "𠀀三", "𠀀*");                        /* extension B surname */
}

static void test_address(void **state)
{
    (void)state;
    check(mask_address, "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区****");
    check(mask_address, "杭州市西湖区西溪街道文三路100号", "杭州市西湖区西溪街道****");
    check(mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****");
    check(mask_address, "桐庐县分水镇某村5组12号", "桐庐县分水镇****");
    check(mask_address, "杭州市阳光小区3幢2单元", "杭州市****");      /* 小区 is no district */
    check(mask_address, "宁波市镇海区骆驼街道", "宁波市镇海区骆驼街道");  /* nothing below: as is */
    check(mask_address, "浙江省杭州市", "浙江省杭州市");
    check(mask_address, "内蒙古自治区呼和浩特市新城区某路1号", "内蒙古自治区呼和浩特市****");
    /* A marker past the window does not count. */
    check(mask_address, "某某某某某某某某某某某某某区某路", "某**************路");
    check(mask_address, "文三路100号", "文*****号");                  /* no marker: generic */
    check(mask_address, "", "");
    check(mask_address, "区", "区");
}

static void test_sensitive(void **state)
{
    (void)state;
    check(mask_sensitive, "33010219900307123X", "330102***********X");
    check(mask_sensitive, "330102900307123", "330102********3");
    check(mask_sensitive, "13812345678", "138****5678");
    check(mask_sensitive, "138-1234-5678", "138******5678");
    check(mask_sensitive, "+8613812345678", "+86*******5678");
    check(mask_sensitive, "0571-88886666", "057******6666");
    check(mask_sensitive, "91330100MA27XL0F1X", "91330100*********X");
    check(mask_sensitive, "张三", "张*");
    check(mask_sensitive, "欧阳修", "欧阳*");
    check(mask_sensitive, "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区****");
    check(mask_sensitive, "杭州市上城区", "杭****区");           /* 6 chars: not an address */
    check(mask_sensitive, "zhang.san@example.com", "z*******************m");
    check(mask_sensitive, "12345", "1***5");
    check(mask_sensitive, "88886666", "8******6");               /* no area code: generic */
    check(mask_sensitive, "", "");
    check(mask_sensitive, "x", "*");
}

/* ---- against the per-character path -------------------------------------- */

/* The character count and keep_ends as mask.c read them before, one code
 * point at a time. */
static size_t ref_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        uint32_t cp;
        i += qloop_utf8_decode((const unsigned char *)s, len, i, &cp);
    }
    return n;
}

static void ref_keep_ends(const char *s, size_t len, size_t count, size_t head, size_t tail,
                          struct qloop_buf *out)
{
    size_t idx = 0;
    for (size_t i = 0; i < len; idx++) {
        uint32_t cp;
        size_t n = qloop_utf8_decode((const unsigned char *)s, len, i, &cp);
        if ((idx < head || idx >= count - tail) && cp != QLOOP_U8_INVALID)
            qloop_buf_append(out, s + i, n);
        else
            qloop_buf_putc(out, '*');
        i += n;
    }
}

static void ref_generic(const char *s, size_t len, struct qloop_buf *out)
{
    size_t n = ref_count(s, len);
    ref_keep_ends(s, len, n, n <= 1 ? 0 : 1, n <= 2 ? 0 : 1, out);
}

/* mask_name's rule for text without a compound surname */
static void ref_name(const char *s, size_t len, struct qloop_buf *out)
{
    size_t n = ref_count(s, len);
    ref_keep_ends(s, len, n, n > 1 ? 1 : 0, 0, out);
}

/* fn and ref over s, each appended after "前缀:" in a buffer: the same. */
static void same_as_ref(mask_fn fn, mask_fn ref, const char *s, size_t len)
{
    struct qloop_buf a = {0}, b = {0};
    qloop_buf_append(&a, "前缀:", strlen("前缀:"));
    qloop_buf_append(&b, "前缀:", strlen("前缀:"));
    fn(s, len, &a);
    ref(s, len, &b);
    if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
        fail_msg("input \"%.*s\" (%zu bytes): got \"%s\", per character \"%s\"", (int)len, s, len,
                 a.ptr, b.ptr);
    assert_int_equal(a.ptr[a.len], '\0');
    assert_true(utf8_ok(a.ptr, a.len));
    qloop_buf_free(&a);
    qloop_buf_free(&b);
}

/* Mixed Chinese and ASCII, and the edges of ASCII runs (the first, the last,
 * 8-byte words and the bytes after them), by hand. */
static void test_ascii_runs(void **state)
{
    (void)state;
    check(mask_generic, "张a", "张*");
    check(mask_generic, "a张", "a*");
    check(mask_generic, "ab张cd", "a***d");
    check(mask_generic, "张abcdefghijklmnop文", "张****************文");
    check(mask_generic, "abcdefghij", "a********j");
    check(mask_generic, "abcdefgh\xFF", "a********");
    check(mask_name, "张abc", "张***");
    check(mask_name, "Li张", "L**");
    check(mask_idcard, "110101199003071234", "110101***********4");
    check(mask_phone, "(0571) 8888-6666", "(05*********6666");
    check(mask_sensitive, "张三abc", "张***c");              /* not all Chinese: generic */
    check(mask_sensitive, "王a", "王*");
    check(mask_sensitive, "杭州市西湖区文三路100号1幢", "杭州市西湖区****");
    check(mask_sensitive, "abc路12345", "a*******5");        /* a marker, but 9 > 6 and no division */
    check(mask_sensitive, "a市b", "a*b");                    /* a marker, 3 characters */
    /* every cut of a run of 0..20 ASCII between Chinese characters */
    char buf[128];
    for (size_t pre = 0; pre < 3; pre++)
        for (size_t n = 0; n <= 20; n++)
            for (size_t post = 0; post < 3; post++) {
                size_t len = 0;
                for (size_t i = 0; i < pre; i++)
                    memcpy(buf + len, "中", 3), len += 3;
                for (size_t i = 0; i < n; i++)
                    buf[len++] = (char)('a' + i);
                for (size_t i = 0; i < post; i++)
                    memcpy(buf + len, "文", 3), len += 3;
                same_as_ref(mask_generic, ref_generic, buf, len);
                same_as_ref(mask_name, ref_name, buf, len);
            }
}

/* Seeded random text of Chinese, ASCII runs, 2- and 4-byte characters and
 * invalid or cut sequences: mask_generic and mask_name as the per-character
 * path gives them; the identity number and phone shapes with ASCII runs as
 * keep_ends would cut them there. */
static void test_same_as_per_character(void **state)
{
    (void)state;
    static const char *const atoms[] = {"张", "中", "文", "a", "1", "X", " ", "abcdefghijk",
                                        "0123456789", "é", "😀", "\xFF", "\xE4\xB8", "\xC0\xAF",
                                        "\x80", "-"};
    uint64_t rng = 13;
    char buf[512];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0, atoms_n = seeded_next(&rng) % 16;
        for (size_t k = 0; k < atoms_n; k++) {
            const char *a = atoms[seeded_next(&rng) % (sizeof atoms / sizeof *atoms)];
            memcpy(buf + len, a, strlen(a));
            len += strlen(a);
        }
        same_as_ref(mask_generic, ref_generic, buf, len);
        same_as_ref(mask_name, ref_name, buf, len);
        /* keep_ends through the identity number's shape: 18 characters */
        char id[19];
        for (int i = 0; i < 17; i++)
            id[i] = (char)('0' + seeded_next(&rng) % 10);
        id[17] = seeded_next(&rng) % 2 ? 'X' : '7';
        struct qloop_buf a = {0}, b = {0};
        mask_idcard(id, 18, &a);
        ref_keep_ends(id, 18, 18, 6, 1, &b);
        assert_string_equal(a.ptr, b.ptr);
        qloop_buf_free(&a);
        qloop_buf_free(&b);
    }
}

static void test_long_input(void **state)
{
    (void)state;
    size_t reps = 100000;
    struct qloop_buf in = {0};
    for (size_t i = 0; i < reps; i++)
        qloop_buf_append(&in, "张", 3);
    struct qloop_buf out = {0};
    mask_generic(in.ptr, in.len, &out);
    assert_int_equal(out.len, 3 + (reps - 2) + 3);
    qloop_buf_reset(&out);
    mask_name(in.ptr, in.len, &out);
    assert_int_equal(out.len, 3 + (reps - 1));
    qloop_buf_reset(&out);
    mask_sensitive(in.ptr, in.len, &out);
    assert_int_equal(out.len, 3 + (reps - 2) + 3);
    qloop_buf_reset(&out);
    mask_address(in.ptr, in.len, &out);
    assert_int_equal(out.len, 3 + (reps - 2) + 3);
    qloop_buf_free(&out);
    qloop_buf_free(&in);
}

/* ---- Lua ---------------------------------------------------------------- */

static const char *eval(lua_State *L, const char *code, char *buf, size_t size)
{
    if (luaL_dostring(L, code) != LUA_OK)
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
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, "mask", luaopen_mask, 1);
    lua_settop(L, 0);
    char b[256];
    assert_string_equal(eval(L, "return mask.idcard('33010219900307123X')", b, sizeof b),
                        "330102***********X");
    assert_string_equal(eval(L, "return mask.phone('13812345678')", b, sizeof b), "138****5678");
    assert_string_equal(eval(L, "return mask.phone(13812345678)", b, sizeof b), "138****5678");
    assert_string_equal(eval(L, "return mask.name('欧阳修')", b, sizeof b), "欧阳*");
    assert_string_equal(eval(L, "return mask.address('浙江省杭州市西湖区文三路100号')", b, sizeof b),
                        "浙江省杭州市西湖区****");
    assert_string_equal(eval(L, "return mask.generic('abcd')", b, sizeof b), "a**d");
    assert_string_equal(eval(L, "return mask.sensitive('张三')", b, sizeof b), "张*");
    assert_string_equal(eval(L, "return mask.name(nil)", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return mask.generic('')", b, sizeof b), "");
    assert_string_equal(eval(L, "return mask.generic('\\xff\\xfe')", b, sizeof b), "**");
    assert_string_equal(eval(L, "return #mask.generic(string.rep('a', 300000))", b, sizeof b), "300000");
    assert_string_equal(eval(L, "return mask.generic('xyz')", b, sizeof b), "x*z");
    assert_int_not_equal(luaL_dostring(L, "return mask.name(true)"), LUA_OK);
    assert_non_null(strstr(lua_tostring(L, -1), "string expected"));
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic), cmocka_unit_test(test_invalid_utf8_never_leaks),
        cmocka_unit_test(test_idcard),  cmocka_unit_test(test_phone),
        cmocka_unit_test(test_name),    cmocka_unit_test(test_address),
        cmocka_unit_test(test_sensitive), cmocka_unit_test(test_long_input),
        cmocka_unit_test(test_lua),
        cmocka_unit_test(test_ascii_runs), cmocka_unit_test(test_same_as_per_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
