/*
 * test_nesting.c — where a Lua chunk nests deepest (lua/nesting.c), and the
 * parser's "C stack overflow" reported with that line by qloop_lua_load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "lua/nesting.h"
#include "lua/sandbox.h"

static void expect(const char *code, long line, int depth)
{
    int d = -1;
    long l = qloop_lua_deepest_line(code, strlen(code), &d);
    if (l != line || d != depth)
        fail_msg("\"%s\": line %ld depth %d, want line %ld depth %d", code, l, d, line, depth);
}

static void test_scanner(void **state)
{
    (void)state;
    expect("", 0, 0);
    expect("local x = 1", 0, 0);
    expect("local t = {1, {2}}\n", 1, 2);
    expect("a = 1\nb = f((1))\n", 2, 2);
    /* blocks: function, if, do, repeat; while/for count by their do */
    expect("function f()\n  if x then\n    while y do\n    end\n  end\nend\n", 3, 3);
    expect("repeat\n  for i = 1, 2 do (f)() end\nuntil x\n", 2, 3);
    /* strings, long strings and comments do not count, but their lines do */
    expect("s = \"((((\" .. '{{{'\n-- ((((\n--[==[ (((\n]] ((( ]==]\nt = {}\n", 5, 1);
    expect("s = [[\n((\n]]\nu = [=[ ]] ]=] .. (1)\n", 4, 1);
    expect("s = \"a\\\"((\"\nv = ((1))\n", 2, 2);
    /* names that only contain the keywords */
    expect("doit = 1\nendless = ifx\nfunctions = {}\n", 3, 1);
}

static void test_load_reports_line(void **state)
{
    (void)state;
    lua_State *L = qloop_lua_new(NULL);
    assert_non_null(L);
    struct qloop_buf code = {0};
    qloop_buf_printf(&code, "local a = 1\n-- deep below\nlocal x = ");
    for (int i = 0; i < 400; i++)
        qloop_buf_putc(&code, '{');
    for (int i = 0; i < 400; i++)
        qloop_buf_putc(&code, '}');
    qloop_buf_putc(&code, '\n');
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(qloop_lua_load(L, code.ptr, code.len, "@deep.lua", &err), -1);
    assert_string_equal(err.file, "deep.lua");
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "嵌套过深"));
    assert_non_null(strstr(err.message, "400 层"));
    qloop_buf_free(&code);
    qloop_lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner),
        cmocka_unit_test(test_load_reports_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
