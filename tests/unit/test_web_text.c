/*
 * test_web_text.c — the portal's text output: html_f escapes every value it
 * is given (%s) and nothing else, html_esc escapes what an attribute or an
 * element needs, html_time shows a time. (The downloads' cells go through
 * base/escape.h's qloop_escape_cell, tested in test_escape.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "html.h"

static void test_values_escaped(void **state)
{
    (void)state;
    struct qloop_buf b = {0};
    html_f(&b, "<td title=\"%s\">%s</td>", "a\"b'c", "<script>alert(1)</script>&");
    assert_string_equal(qloop_buf_str(&b),
                        "<td title=\"a&quot;b&#39;c\">&lt;script&gt;alert(1)&lt;/script&gt;&amp;</td>");
    qloop_buf_free(&b);
}

static void test_conversions(void **state)
{
    (void)state;
    struct qloop_buf b = {0};
    html_f(&b, "%d|%ld|%lld|%u|%zu|%%|%r|%s|", -3, 40L, 5000000000LL, 7u, (size_t)9, "<b>", (const char *)NULL);
    assert_string_equal(qloop_buf_str(&b), "-3|40|5000000000|7|9|%|<b>||");
    qloop_buf_reset(&b);
    html_f(&b, "100%");
    assert_string_equal(qloop_buf_str(&b), "100%");
    qloop_buf_free(&b);
}

static void test_time(void **state)
{
    (void)state;
    struct qloop_buf b = {0};
    html_time(&b, "2024-09-09T23:59:59+08:00");
    html_time(&b, NULL);
    html_time(&b, "<x>");
    assert_string_equal(qloop_buf_str(&b), "2024-09-09 23:59—&lt;x&gt;");
    qloop_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_escaped),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
