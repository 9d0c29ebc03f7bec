/*
 * test_validate.c — the `valid` checks: mobile, landline, phone, e-mail,
 * postal code, date, time, sex (GB/T 2261.1) and ethnic group (GB/T 3304),
 * each with accepted and rejected values at its edges; the embedded code
 * tables read in full; and the Lua bindings with their native table.
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
#include "checks/validate.h"

extern const char qloop_data_codes_sex[];
extern const size_t qloop_data_codes_sex_len;
extern const char qloop_data_codes_ethnic[];
extern const size_t qloop_data_codes_ethnic_len;

typedef bool (*check_fn)(const char *, size_t, const char **);

/* Asserts that each value of the NULL-terminated list passes f. */
static void all_ok(check_fn f, const char *const *values)
{
    for (; *values; values++) {
        const char *r = NULL;
        if (!f(*values, strlen(*values), &r))
            fail_msg("\"%s\" rejected: %s", *values, r ? r : "(no reason)");
    }
}

/* Asserts that each value fails f with the reason want. */
static void all_fail(check_fn f, const char *want, const char *const *values)
{
    for (; *values; values++) {
        const char *r = NULL;
        if (f(*values, strlen(*values), &r))
            fail_msg("\"%s\" accepted", *values);
        assert_non_null(r);
        assert_string_equal(r, want);
    }
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char R_MOBILE[] = "不是有效的手机号码（应为1[3-9]开头的11位数字）";
static const char R_LANDLINE[] = "不是有效的固定电话号码（应为 区号-号码[-分机]，如 0574-87654321）";

static void test_mobile(void **state)
{
    (void)state;
    all_ok(valid_mobile, LIST("13800138000", "19912345678", "14512345678", "13000000000"));
    all_fail(valid_mobile, R_MOBILE,
             LIST("", "12800138000", "10800138000", "23800138000", "1380013800", "138001380000",
                  "138 0013 8000", "1380013800O", "+8613800138000", "１３８00138000",
                  "13800138000 ", "010-12345678"));
    assert_false(valid_mobile("1380013800\0", 11, NULL));
}

static void test_landline(void **state)
{
    (void)state;
    all_ok(valid_landline,
           LIST("010-12345678", "01012345678", "021-87654321", "02987654321", "0574-87654321",
                "057487654321", "0574-8765432", "05748765432", "0574-87654321-123",
                "010-62345678-1", "0311-87654321-123456", "0991-1234567"));
    all_fail(valid_landline, R_LANDLINE,
             LIST("", "87654321", "0574", "0574-", "0574-876543", "0574-876543210",
                  "0574-07654321", "001-12345678", "011-12345678", "0104-12345678",
                  "0574--87654321", "(0574)87654321", "0574 87654321", "0574-87654321-",
                  "0574-87654321-1234567", "0574-87654321-12a", "0574-8765432１",
                  "13800138000"));
}

static void test_phone(void **state)
{
    (void)state;
    all_ok(valid_phone, LIST("13800138000", "0574-87654321", "010-12345678-8"));
    all_fail(valid_phone, "不是有效的电话号码（手机11位，或 区号-号码）",
             LIST("", "12800138000", "0574-876543", "110", "95588", "+86 138 0013 8000"));
}

static void test_email(void **state)
{
    (void)state;
    all_ok(valid_email,
           LIST("a@b.cn", "zhang.san@example.com.cn", "x+tag@mail.example.org",
                "o'brien@ex-ample.com", "user_1@sub.domain.co", "A.B-C@XN--FIQS8S.CN",
                "1234@163.com", "a!#$%&'*+/=?^_`{|}~-z@example.com"));
    all_fail(valid_email, "不是有效的电子邮箱地址",
             LIST("", "a", "a@", "@b.cn", "a@b", "a@@b.cn", "a@b@c.cn", "a b@c.cn", ".a@b.cn",
                  "a.@b.cn", "a..b@c.cn", "a@-b.cn", "a@b-.cn", "a@b..cn", "a@.b.cn",
                  "a@b.cn.", "a@b.c", "a@b.123", "张三@example.com", "a@例子.cn", "a(b)@c.cn",
                  "a@b_c.cn", "a,b@c.cn", "\"a\"@b.cn"));
    char buf[400];
    memset(buf, 'a', 64);
    strcpy(buf + 64, "@example.com");
    assert_true(valid_email(buf, strlen(buf), NULL)); /* local part of 64 */
    memset(buf, 'a', 65);
    strcpy(buf + 65, "@example.com");
    assert_false(valid_email(buf, strlen(buf), NULL));
    strcpy(buf, "a@");
    memset(buf + 2, 'b', 63);
    strcpy(buf + 65, ".cn");
    assert_true(valid_email(buf, strlen(buf), NULL)); /* label of 63 */
    strcpy(buf, "a@");
    memset(buf + 2, 'b', 64);
    strcpy(buf + 66, ".cn");
    assert_false(valid_email(buf, strlen(buf), NULL));
    /* 254 bytes in all at most. */
    strcpy(buf, "abc@");
    size_t n = 4;
    while (n + 4 <= 252) {
        memcpy(buf + n, "bcd.", 4);
        n += 4;
    }
    memcpy(buf + n, "cn", 3);
    n += 2;
    assert_int_equal(n, 254);
    assert_true(valid_email(buf, n, NULL));
    memmove(buf + 1, buf, n + 1);
    buf[0] = 'x';
    assert_false(valid_email(buf, n + 1, NULL));
}

static void test_postal_date_time(void **state)
{
    (void)state;
    all_ok(valid_postal, LIST("315000", "100000", "010010"));
    all_fail(valid_postal, "邮政编码应为6位数字",
             LIST("", "31500", "3150000", "31500a", "315 000", "３15000"));
    all_ok(valid_date, LIST("2024-02-29", "2000-02-29", "1999-12-31", "1900-01-01", "9999-12-31"));
    all_fail(valid_date, "不是有效日期（应为 YYYY-MM-DD）",
             LIST("", "2023-02-29", "1900-02-29", "2024-2-29", "2024/02/29", "2024-02-29 ",
                  "20240229", "2024-13-01", "2024-00-10", "2024-04-31", "2024-01-00",
                  "2024-02-29T00:00:00", "２024-02-29", "2024-1a-01"));
    assert_false(valid_date("2024-02-29", 9, NULL));
    all_ok(valid_time, LIST("00:00", "23:59", "23:59:59", "08:30:00", "12:00"));
    all_fail(valid_time, "不是有效时间（应为 HH:MM 或 HH:MM:SS）",
             LIST("", "24:00", "23:60", "23:59:60", "8:30", "08:30:5", "08-30", "08:30:",
                  "0830", "08:30 ", "08:3a", "-1:00"));
}

static void test_sex(void **state)
{
    (void)state;
    all_ok(valid_sex, LIST("0", "1", "2", "9", "男", "女", "男性", "女性", "未知的性别",
                           "未说明的性别"));
    all_fail(valid_sex, "不是 GB/T 2261.1 性别代码或名称",
             LIST("", "3", "5", "01", "M", "F", "男 ", "man", "男女"));
    const char *code = NULL, *name = NULL;
    assert_true(valid_code_lookup(VALID_CODES_SEX, "男", strlen("男"), &code, &name));
    assert_string_equal(code, "1");
    assert_string_equal(name, "男性");
    assert_true(valid_code_lookup(VALID_CODES_SEX, "2", 1, &code, &name));
    assert_string_equal(name, "女性");
    assert_true(valid_code_lookup(VALID_CODES_SEX, "9", 1, &code, &name));
    assert_string_equal(name, "未说明的性别");
    assert_int_equal(valid_code_count(VALID_CODES_SEX), 4);
}

static void test_ethnic(void **state)
{
    (void)state;
    /* Exactly 01–56, 97 and 98 among all two-digit codes. */
    int accepted = 0;
    for (int n = 0; n < 100; n++) {
        char c[3] = {(char)('0' + n / 10), (char)('0' + n % 10), '\0'};
        bool want = (n >= 1 && n <= 56) || n == 97 || n == 98;
        if (valid_ethnic(c, 2, NULL) != want)
            fail_msg("code %s", c);
        accepted += want;
    }
    assert_int_equal(accepted, 58);
    assert_int_equal(valid_code_count(VALID_CODES_ETHNIC), 58);
    all_ok(valid_ethnic, LIST("汉族", "蒙古族", "维吾尔族", "土家族", "柯尔克孜族", "德昂族",
                              "基诺族", "其他", "外国血统中国籍人士"));
    all_fail(valid_ethnic, "不是 GB/T 3304 民族代码或名称",
             LIST("", "1", "001", "57", "99", "汉", "汉族 ", "Han", "HA", "崩龙族"));
    struct {
        const char *code, *name;
    } known[] = {{"01", "汉族"},   {"02", "蒙古族"}, {"05", "维吾尔族"}, {"10", "朝鲜族"},
                 {"15", "土家族"}, {"29", "柯尔克孜族"}, {"46", "德昂族"}, {"56", "基诺族"},
                 {"97", "其他"},   {"98", "外国血统中国籍人士"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *code = NULL, *name = NULL;
        assert_true(valid_code_lookup(VALID_CODES_ETHNIC, known[i].code, 2, &code, &name));
        assert_string_equal(name, known[i].name);
        assert_true(valid_code_lookup(VALID_CODES_ETHNIC, known[i].name, strlen(known[i].name),
                                      &code, &name));
        assert_string_equal(code, known[i].code);
    }
}

/* Every `code<TAB>name` line of an embedded table is found both ways. */
static void check_every_line(enum valid_code_table t, const char *text, size_t len)
{
    char *copy = strndup(text, len);
    int lines = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        const char *code = NULL, *name = NULL;
        assert_true(valid_code_lookup(t, line, strlen(line), &code, &name));
        assert_string_equal(code, line);
        assert_true(valid_code_lookup(t, tab + 1, strlen(tab + 1), &code, NULL));
        assert_string_equal(code, line);
        lines++;
    }
    free(copy);
    assert_true(lines > 0);
}

static void test_tables_read_in_full(void **state)
{
    (void)state;
    check_every_line(VALID_CODES_SEX, qloop_data_codes_sex, qloop_data_codes_sex_len);
    check_every_line(VALID_CODES_ETHNIC, qloop_data_codes_ethnic, qloop_data_codes_ethnic_len);
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

static void test_lua(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "valid", luaopen_valid, 1);
    lua_pop(L, 1);
    assert_string_equal(lua_eval(L, "valid.mobile('13800138000')"), "true");
    assert_string_equal(lua_eval(L, "valid.mobile('12800138000')"),
                        "false, 不是有效的手机号码（应为1[3-9]开头的11位数字）");
    assert_string_equal(lua_eval(L, "valid.mobile(13800138000)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "valid.phone('0574-87654321')"), "true");
    assert_string_equal(lua_eval(L, "valid.landline('0574-87654321')"), "true");
    assert_string_equal(lua_eval(L, "valid.email('a@b.cn')"), "true");
    assert_string_equal(lua_eval(L, "valid.postal('315000')"), "true");
    assert_string_equal(lua_eval(L, "valid.date('2024-02-29')"), "true");
    assert_string_equal(lua_eval(L, "valid.date('2023-02-29')"),
                        "false, 不是有效日期（应为 YYYY-MM-DD）");
    assert_string_equal(lua_eval(L, "valid.time('23:59:59')"), "true");
    assert_string_equal(lua_eval(L, "valid.sex('女')"), "true");
    assert_string_equal(lua_eval(L, "valid.ethnic('01')"), "true");
    assert_string_equal(lua_eval(L, "valid.ethnic(nil)"), "false, 不是文本");
    assert_string_equal(lua_eval(L, "valid.sex(1)"), "false, 不是文本");

    static const char *const names[] = {"phone", "mobile", "landline", "email", "postal",
                                        "date",  "time",   "sex",      "ethnic"};
    static const check_fn checks[] = {valid_phone, valid_mobile, valid_landline,
                                      valid_email, valid_postal, valid_date,
                                      valid_time,  valid_sex,    valid_ethnic};
    lua_getglobal(L, "valid");
    for (size_t i = 0; i < 9; i++) {
        char full[32];
        snprintf(full, sizeof full, "valid.%s", names[i]);
        assert_non_null(qloop_validate_checks[i].name);
        assert_string_equal(qloop_validate_checks[i].name, full);
        lua_getfield(L, -1, names[i]);
        assert_ptr_equal(qloop_validate_checks[i].lua, lua_tocfunction(L, -1));
        lua_pop(L, 1);
        assert_ptr_equal(qloop_validate_checks[i].check, checks[i]);
    }
    assert_null(qloop_validate_checks[9].name);
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobile),
        cmocka_unit_test(test_landline),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_postal_date_time),
        cmocka_unit_test(test_sex),
        cmocka_unit_test(test_ethnic),
        cmocka_unit_test(test_tables_read_in_full),
        cmocka_unit_test(test_lua),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
