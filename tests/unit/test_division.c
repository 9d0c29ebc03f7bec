/*
 * test_division.c — the division-code table (engine/division.c) and its Lua
 * table (engine/lua_division.c).
 *
 * The table is process-wide, so the order of the tests matters: the first
 * checks $QLOOP_DIVISIONS in child processes (fresh state), the second the
 * bundled table loaded lazily, then files replace it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/buf.h"
#include "checks/division.h"
#include "lua/libs.h"

/* Writes content to a new temporary file; its path goes to path. */
static void write_temp(char path[64], const char *content, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/qloop_div_XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
}

static const char *name_of(const char *code) { return division_name(code, strlen(code)); }

/* In a child process (whose table is still unloaded): QLOOP_DIVISIONS is
 * loaded by division_init; exit status 0 when all is as expected, else the
 * number of the failed check. */
static int child_env_ok(const char *path)
{
    setenv("QLOOP_DIVISIONS", path, 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (division_init(&err) != 0)
        return 1;
    if (division_count() != 2)
        return 2;
    const char *n = name_of("330106");
    if (!n || strcmp(n, "西湖区") != 0)
        return 3;
    if (name_of("330102")) /* only in the bundled table */
        return 4;
    return 0;
}

static int child_env_missing(const char *path)
{
    setenv("QLOOP_DIVISIONS", path, 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (division_init(&err) != -1)
        return 1;
    if (strcmp(err.file, path) != 0 || !strstr(err.message, "QLOOP_DIVISIONS"))
        return 2;
    /* The lookups then find nothing (and say so once on stderr). */
    if (name_of("330106") || division_exists("330106", 6) || division_count() != 0)
        return 3;
    return 0;
}

static void *lookup_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        const char *n = name_of(i % 2 ? "330106" : "110105");
        if (!n || strcmp(n, i % 2 ? "西湖区" : "朝阳区") != 0)
            return (void *)1;
    }
    return NULL;
}

/* In a child process: many threads start looking codes up at once; the
 * bundled table is loaded once and every lookup succeeds. */
static int child_threads(const char *unused)
{
    (void)unused;
    unsetenv("QLOOP_DIVISIONS");
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        if (pthread_create(&t[i], NULL, lookup_many, NULL) != 0)
            return 1;
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    return bad ? 2 : division_count() == 107 ? 0 : 3;
}

static int run_child(int (*fn)(const char *), const char *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_env(void **state)
{
    (void)state;
    char path[64];
    const char csv[] = "code,name\n330000,浙江省\n330106,西湖区\n";
    write_temp(path, csv, sizeof csv - 1);
    assert_int_equal(run_child(child_env_ok, path), 0);
    unlink(path);
    assert_int_equal(run_child(child_env_missing, path), 0);
    assert_int_equal(run_child(child_threads, NULL), 0);
}

static void test_bundled(void **state)
{
    (void)state;
    unsetenv("QLOOP_DIVISIONS");
    /* Loaded lazily by the first lookup. */
    assert_string_equal(name_of("330106"), "西湖区");
    assert_int_equal(division_count(), 102 + 5);
    assert_string_equal(name_of("330000"), "浙江省");
    assert_string_equal(name_of("330100"), "杭州市");
    assert_string_equal(name_of("331127"), "景宁畲族自治县");
    assert_string_equal(name_of("331181"), "龙泉市");
    assert_string_equal(name_of("110000"), "北京市");
    assert_string_equal(name_of("110101"), "东城区");
    assert_string_equal(name_of("110105"), "朝阳区");
    assert_string_equal(name_of("310000"), "上海市");
    assert_string_equal(name_of("310101"), "黄浦区");
    assert_null(name_of("320000"));  /* not in the subset */
    assert_null(name_of("110102"));
    assert_null(name_of("33010"));
    assert_null(name_of("3301060"));
    assert_null(name_of("33010a"));
    assert_null(name_of(""));
    assert_null(division_name(NULL, 6));
    /* Only len bytes are read. */
    assert_string_equal(division_name("3301069999", 6), "西湖区");
    assert_true(division_exists("330106", 6));
    assert_false(division_exists("999999", 6));
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(division_init(&err), 0);  /* already loaded: kept */
    assert_int_equal(division_count(), 107);
}

/* Loads csv from a temporary file, expecting an error on line `line` whose
 * message contains `needle`; the table in use must stay as it was. */
static void expect_error(const char *csv, size_t len, long line, const char *needle)
{
    char path[64];
    write_temp(path, csv, len);
    size_t before = division_count();
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(division_load_file(path, &err), -1);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, line);
    if (!strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
    assert_int_equal(division_count(), before);
    unlink(path);
}

#define EXPECT_ERROR(csv, line, needle) expect_error(csv, sizeof(csv) - 1, line, needle)

static void test_malformed(void **state)
{
    (void)state;
    EXPECT_ERROR("330000,浙江省\n330106,西湖区\n", 1, "表头");
    EXPECT_ERROR("code,name\n330000,浙江省\n33010x,西湖区\n", 3, "6 位数字");
    EXPECT_ERROR("code,name\n330000,浙江省\n3301066,西湖区\n", 3, "3301066");
    EXPECT_ERROR("code,name\n\n\n012345,某地\n", 4, "首位不为 0");
    EXPECT_ERROR("code,name\n330000,浙江省,省级\n", 2, "实际有 3 列");
    EXPECT_ERROR("code,name\n330000\n", 2, "实际有 1 列");
    EXPECT_ERROR("code,name\n330000,\"浙江省\n", 2, "双引号没有闭合");
    EXPECT_ERROR("code,name\n330000,\"浙江\"省\n", 2, "右引号之后");
    EXPECT_ERROR("code,name\n330000,\n", 2, "名称为空");
    EXPECT_ERROR("code,name\n330106,\xce\xf7\xba\xfe\xc7\xf8\n", 2, "GBK"); /* 西湖区 in GBK */
    EXPECT_ERROR("code,name\r\n330000,浙江省\r\n330106,西湖区\r\n330000,浙江\r\n", 4, "文件第 2 行");
    EXPECT_ERROR("code,name\n", 0, "没有任何");
    EXPECT_ERROR("", 0, "文件为空");
    EXPECT_ERROR("\n \n", 0, "文件为空");

    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(division_load_file("/nonexistent/qloop/divisions.csv", &err), -1);
    assert_string_equal(err.file, "/nonexistent/qloop/divisions.csv");
    assert_non_null(strstr(err.message, "无法打开"));
    qloop_error_clear(&err);
    assert_int_equal(division_load_file("/", &err), -1); /* a directory */
    assert_int_equal(division_count(), 107);
}

static void test_csv_forms(void **state)
{
    (void)state;
    char path[64];
    const char csv[] = "\xEF\xBB\xBF" "code,name\r\n"
                       "\r\n"
                       " 330106 , 西湖区 \r\n"
                       "\"330100\",\"杭州市\"\r\n"
                       "110000,\"北京,\"\"首都\"\"\"\r\n"
                       "330000,浙江省"; /* no final line end */
    write_temp(path, csv, sizeof csv - 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(division_load_file(path, &err), 0);
    unlink(path);
    assert_int_equal(division_count(), 4);
    assert_string_equal(name_of("330106"), "西湖区");
    assert_string_equal(name_of("330100"), "杭州市");
    assert_string_equal(name_of("110000"), "北京,\"首都\"");
    assert_string_equal(name_of("330000"), "浙江省");
    assert_null(name_of("330102")); /* the bundled table was replaced */
}

static void test_reference_file(void **state)
{
    (void)state;
#ifdef QLOOP_SHARED_REF
    char path[1024];
    snprintf(path, sizeof path, "%s/divisions.csv", QLOOP_SHARED_REF);
    if (access(path, R_OK) != 0)
        skip();
    struct qloop_error err;
    qloop_error_clear(&err);
    if (division_load_file(path, &err) != 0)
        fail_msg("%s:%ld: %s", err.file, err.line, err.message);
    assert_int_equal(division_count(), 3213);
    assert_string_equal(name_of("110000"), "北京市");
    assert_string_equal(name_of("330106"), "西湖区");
    assert_string_equal(name_of("429004"), "仙桃市");
    assert_string_equal(name_of("441900"), "东莞市");
    assert_string_equal(name_of("710000"), "台湾省");
    assert_string_equal(name_of("810000"), "香港特别行政区");
    assert_string_equal(name_of("120110"), "东丽区"); /* renamed from 东郊区 in 1992 */
    assert_null(name_of("110103"));                   /* 崇文区, abolished in 2010 */
    assert_null(name_of("000000"));
#else
    skip();
#endif
}

/* Every 6-digit text (000000 included) is found exactly when it is a code
 * of the table, with its own name (division_name) and by division_exists, for tables of 1, 2, 3, 5, 64, 1,000,
 * 3,200 and 6,000 codes (the hash's probes: the sizes, half-full tables,
 * runs of neighbouring codes, the probe wrapping at the last slot). */
static void test_search_every_code(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 5, 64, 1000, 3200, 6000};
    static bool in[1000000];
    char path[64];
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        memset(in, 0, sizeof in);
        struct qloop_buf csv = {0};
        qloop_buf_printf(&csv, "code,name\n");
        for (size_t i = 0; i < sizes[k]; i++) { /* uneven steps, written out of order */
            unsigned code = sizes[k] > 1000 ? 100000u + (unsigned)(i * (i % 3 ? 1u : 131u)) % 900000u
                                            : 100000u + (unsigned)((sizes[k] - 1 - i) * 877u + (i * i) % 13u);
            if (in[code])
                continue;
            in[code] = true;
            qloop_buf_printf(&csv, "%06u,n%06u\n", code, code);
        }
        in[999999] = !in[999999];
        if (in[999999])
            qloop_buf_printf(&csv, "999999,n999999\n");
        write_temp(path, csv.ptr, csv.len);
        qloop_buf_free(&csv);
        struct qloop_error err;
        qloop_error_clear(&err);
        if (division_load_file(path, &err) != 0)
            fail_msg("%s:%ld: %s", err.file, err.line, err.message);
        for (unsigned code = 0; code <= 999999; code++) {
            char text[8], want[8];
            snprintf(text, sizeof text, "%06u", code);
            const char *got = division_name(text, 6);
            if (division_exists(text, 6) != in[code])
                fail_msg("%s: exists %d in a table of %zu", text, !in[code], sizes[k]);
            if (!in[code]) {
                if (got)
                    fail_msg("%s found in a table of %zu", text, sizes[k]);
                continue;
            }
            snprintf(want, sizeof want, "n%06u", code);
            if (!got || strcmp(got, want) != 0)
                fail_msg("%s: %s in a table of %zu", text, got ? got : "NULL", sizes[k]);
        }
        unlink(path);
    }
}

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
    char path[64];
    const char csv[] = "code,name\n330000,浙江省\n330100,杭州市\n330106,西湖区\n429004,仙桃市\n";
    write_temp(path, csv, sizeof csv - 1);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(division_load_file(path, &err), 0);
    unlink(path);

    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, "division", luaopen_division, 1);
    lua_settop(L, 0);
    char b[128];
    assert_string_equal(eval(L, "return division.name('330106')", b, sizeof b), "西湖区");
    assert_string_equal(eval(L, "return division.name(330106)", b, sizeof b), "西湖区");
    assert_string_equal(eval(L, "return division.name('330102')", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return division.name('abc')", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return division.name(nil)", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return division.valid('330100')", b, sizeof b), "true");
    assert_string_equal(eval(L, "return division.valid('330199')", b, sizeof b), "false");
    assert_string_equal(eval(L, "return division.valid(nil)", b, sizeof b), "false");
    assert_string_equal(eval(L, "return division.valid('')", b, sizeof b), "false");
    assert_string_equal(eval(L, "return division.level('330000')", b, sizeof b), "省级");
    assert_string_equal(eval(L, "return division.level('330100')", b, sizeof b), "地级");
    assert_string_equal(eval(L, "return division.level('330106')", b, sizeof b), "县级");
    assert_string_equal(eval(L, "return division.level('429004')", b, sizeof b), "县级");
    assert_string_equal(eval(L, "return division.level('320000')", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return division.level('3300')", b, sizeof b), "nil");
    assert_string_equal(eval(L, "return division.level()", b, sizeof b), "nil");
    assert_int_not_equal(luaL_dostring(L, "return division.name({})"), LUA_OK);
    assert_non_null(strstr(lua_tostring(L, -1), "string expected"));
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),       cmocka_unit_test(test_bundled),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_csv_forms),
        cmocka_unit_test(test_reference_file), cmocka_unit_test(test_lua),
        cmocka_unit_test(test_search_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
