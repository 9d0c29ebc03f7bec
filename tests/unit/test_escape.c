/*
 * test_escape.c — text made safe for terminals, XML and spreadsheet cells
 * (base/escape.c): what is escaped and how, what is left alone, formula-like
 * cells, and every single byte and control character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/escape.h"

static void esc(const char *in, size_t len, unsigned flags, const char *want, size_t nesc)
{
    struct qloop_buf out = {0};
    size_t n = qloop_escape_controls(in, len, flags, &out);
    if (strcmp(qloop_buf_str(&out), want) != 0)
        fail_msg("escape(\"%s\"): got \"%s\", want \"%s\"", in, qloop_buf_str(&out), want);
    assert_int_equal(n, nesc);
    qloop_buf_free(&out);
}

static void test_controls(void **state)
{
    (void)state;
    esc("", 0, 0, "", 0);
    esc("市公安局 a\\b", strlen("市公安局 a\\b"), 0, "市公安局 a\\b", 0);
    esc("\033]0;pwned\007", 10, 0, "\\x1B]0;pwned\\x07", 2);
    esc("\033[2J", 4, 0, "\\x1B[2J", 1);
    esc("a\r\nb\tc", 6, 0, "a\\x0D\\x0Ab\tc", 2);
    esc("a\r\nb", 4, QLOOP_ESC_KEEP_NEWLINE, "a\\x0D\nb", 1);
    esc("x\x7Fy", 3, 0, "x\\x7Fy", 1);
    esc("n\0ul", 4, 0, "n\\x00ul", 1);
    esc("\xC2\x9B" "31m", 5, 0, "\\u009B31m", 1);          /* C1 CSI */
    esc("\xE2\x80\xAE" "txt", 6, 0, "\\u202Etxt", 1);      /* right-to-left override */
    esc("\xE2\x81\xA6" "x", 4, 0, "\\u2066x", 1);          /* left-to-right isolate */
    esc("\xFF" "ok\xE5\xBC", 5, 0, "\\xFFok\\xE5\\xBC", 3); /* not UTF-8 */
    esc("\xEF\xBF\xBE", 3, 0, "\xEF\xBF\xBE", 0);
    esc("\xEF\xBF\xBE", 3, QLOOP_ESC_XML, "\\uFFFE", 1);
}

/* Whatever the byte, the output holds no control character but tab (and
 * newline when kept), and no byte that is not UTF-8. */
static void test_every_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char in[3] = {'a', (char)b, 'z'};
        for (unsigned flags = 0; flags < 4; flags++) {
            struct qloop_buf out = {0};
            qloop_escape_controls(in, 3, flags, &out);
            for (size_t i = 0; i < out.len; i++) {
                unsigned char c = (unsigned char)out.ptr[i];
                if (c < 0x20 && c != '\t' && !(c == '\n' && (flags & QLOOP_ESC_KEEP_NEWLINE)))
                    fail_msg("byte 0x%02X: control 0x%02X in output", b, c);
                if (c == 0x7F || c >= 0x80) /* DEL, and lone bytes >= 0x80 (not UTF-8) */
                    fail_msg("byte 0x%02X: raw 0x%02X in output", b, c);
            }
            qloop_buf_free(&out);
        }
    }
}

static void test_formula_like(void **state)
{
    (void)state;
    static const char *const yes[] = {"=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                      "  =1", "\t=1", "\r=1", "\n\n-1", "\tplain", "\rplain"};
    static const char *const no[] = {"", "市公安局", "a=1", "1-2", " plain", "'=1", "＝1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!qloop_escape_formula_like(yes[i], strlen(yes[i])))
            fail_msg("\"%s\" should be formula-like", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (qloop_escape_formula_like(no[i], strlen(no[i])))
            fail_msg("\"%s\" should not be formula-like", no[i]);

    struct qloop_buf out = {0};
    qloop_escape_cell("=HYPERLINK(\"x\")", 15, &out);
    assert_string_equal(qloop_buf_str(&out), "'=HYPERLINK(\"x\")");
    qloop_buf_reset(&out);
    qloop_escape_cell("市\x01局\n第二行", strlen("市\x01局\n第二行"), &out);
    assert_string_equal(qloop_buf_str(&out), "市\\x01局\n第二行");
    qloop_buf_reset(&out);
    qloop_escape_cell("\t\x1B", 2, &out);
    assert_string_equal(qloop_buf_str(&out), "'\t\\x1B");
    qloop_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_formula_like),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
