/*
 * test_mask_text.c — the free-text masker (checks/mask.c: mask_text): the
 * shapes it finds in a message, the record values it is given, what it must
 * leave alone, and generated texts in which no planted number or value may
 * survive. The text between shapes is passed 16 bytes at a time (SSE2) or
 * byte by byte: each shape is tried at every offset of a 16-byte block, with
 * Chinese text, punctuation and bytes >= 0x80 before and after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checks/mask.h"
#include "seeded_rng.h"

/* Asserts mask_text(in, values) gives expect with `spans` spans masked. */
static void check_v(const char *in, const struct mask_value *v, size_t nv, const char *expect,
                    size_t spans)
{
    struct qloop_buf out = {0};
    size_t got = mask_text(in, strlen(in), v, nv, &out);
    if (strcmp(qloop_buf_str(&out), expect) != 0)
        fail_msg("mask_text(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, qloop_buf_str(&out), expect);
    assert_int_equal(got, spans);
    qloop_buf_free(&out);
}

static void check(const char *in, const char *expect, size_t spans)
{
    check_v(in, NULL, 0, expect, spans);
}

/* The example of the issue, and each shape alone. */
static void test_shapes(void **state)
{
    (void)state;
    check("电话 13812345678 身份证 330102199001011234",
          "电话 138****5678 身份证 330102***********4", 2);
    /* Identity numbers: 18 with a wrong check digit, with X, 15 digits. */
    check("号码 330102199001011235。", "号码 330102***********5。", 1);
    check("33010219900101123X", "330102***********X", 1);
    check("33010219900101123x 是", "330102***********x 是", 1);
    check("旧证 330102900101123", "旧证 330102********3", 1);
    check("分段 330102 19900101 1234", "分段 330102 ******** ***4", 1);
    /* Mobile numbers, bare, split, with the country code. */
    check("138-1234-5678", "138-****-5678", 1);
    check("138 1234 5678", "138 **** 5678", 1);
    check("+86 138 1234 5678", "+86 138 **** 5678", 1);
    check("008613812345678", "0086138****5678", 1);
    check("8613812345678", "86138****5678", 1);
    /* Landlines with their area code. */
    check("0571-88886666", "057*-****6666", 1);
    check("(0571)88886666", "(057*)****6666", 1);
    check("010 6666 8888", "010 **** 8888", 1);
    /* Bank cards: Luhn decides. */
    check("卡号 6222021234567890128", "卡号 622202*********0128", 1);
    check("卡号 6222 0212 3456 7890 128", "卡号 6222 02** **** ***0 128", 1);
    check("卡号 6222021234567890123", "卡号 6222021234567890123", 0);
    /* Unified social credit codes. */
    check("代码 91330106MA2B2P9X1T。", "代码 91330106*********T。", 1);
    /* Full-width digits are digits. */
    check("手机１３８１２３４５６７８", "手机１３８****５６７８", 1);
    /* Two numbers in a row are two. */
    check("13812345678 13912345678", "138****5678 139****5678", 2);
    check("13812345678-330102199001011234", "138****5678-330102***********4", 2);
    /* A number glued to letters still counts. */
    check("ID330102199001011234x", "ID330102***********4x", 1);
}

/* What must not be touched: dates, times, counts, row numbers, ids of runs,
 * short numbers, money. */
static void test_leaves_ordinary_text(void **state)
{
    (void)state;
    static const char *const same[] = {
        "",
        "第 12 行：年龄 200 超出范围 0-150",
        "2024-09-27T10:00:00+08:00 运行 20240927T100000-ab12 完成",
        "共 100000 条，失败 12 条（0.012%）",
        "金额 12345678.90 元",
        "值 12345678901 不是手机号",
        "邮编 315000，区划 330203",
        "1 - 2 (3) 4-5",
        "no digits at all, 没有数字",
        "ABCDEFGHJKLMNPQRTU12", /* 20 characters: not a credit code */
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        check(same[i], same[i], 0);
}

/* The record's sensitive values, wherever they occur, masked as the field
 * would be. */
static void test_values(void **state)
{
    (void)state;
    const char *addr = "杭州市西湖区文三路100号";
    struct mask_value v[] = {{"王小明", strlen("王小明")}, {addr, strlen(addr)},
                             {"男", strlen("男")}, {"", 0}, {NULL, 0}};
    check_v("号码 王小明 住 杭州市西湖区文三路100号，性别男", v, 5,
            "号码 王** 住 杭州市西湖区****，性别男", 2);
    check_v("王小明王小明", v, 5, "王**王**", 2);
    /* The value and a shape on the same text: one span. */
    struct mask_value phone[] = {{"13812345678", 11}};
    check_v("电话13812345678", phone, 1, "电话138****5678", 1);
    /* A value that is not a name or phone is still masked (generic). */
    struct mask_value odd[] = {{"abc-xyz", 7}};
    check_v("编号 abc-xyz 有误", odd, 1, "编号 a*****z 有误", 1);
    /* Values of one character are left to the shapes; two are masked (a bad
     * byte counts as one character: "\xE7\x8E" is two). */
    struct mask_value shortv[] = {{"q", 1}, {"男", 3}, {"zq", 2}, {"\xFF", 1}, {"\xE7\x8E", 2}};
    check_v("q 男 zq \xFF 女 \xE7\x8E", shortv, 5, "q 男 z* \xFF 女 **", 2);
}

/* Appends one random filler character (no digit, no ASCII letter). */
static void filler(struct qloop_buf *b, uint64_t *rng)
{
    static const char *const parts[] = {"，", "。", "号码", "电话", " ", "：", "（", "）",
                                        "身份证", "的", "是", "\n", "、", "；"};
    const char *p = parts[seeded_next(rng) % (sizeof parts / sizeof parts[0])];
    qloop_buf_append(b, p, strlen(p));
}

/* n random digits into d, first digit given (or random when 0). */
static void digits(char *d, size_t n, char first, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        d[i] = (char)('0' + seeded_next(rng) % 10);
    if (first)
        d[0] = first;
    d[n] = '\0';
}

/* A random number of one of the masked shapes, as plain digits in raw
 * (what must not survive), written in text (maybe split or full-width). */
static void planted(uint64_t *rng, char raw[32], struct qloop_buf *text)
{
    size_t n;
    switch (seeded_next(rng) % 5) {
    case 0: /* identity number, random check character */
        digits(raw, 18, '3', rng);
        n = 18;
        if (seeded_next(rng) % 4 == 0)
            raw[17] = 'X';
        break;
    case 1:
        digits(raw, 15, '4', rng);
        n = 15;
        break;
    case 2: /* mobile */
        digits(raw, 11, '1', rng);
        raw[1] = (char)('3' + seeded_next(rng) % 7);
        n = 11;
        break;
    case 3: { /* bank card: fix the last digit so Luhn passes */
        n = 16 + seeded_next(rng) % 4;
        digits(raw, n, '6', rng);
        for (char c = '0'; c <= '9'; c++) {
            raw[n - 1] = c;
            unsigned sum = 0;
            for (size_t k = 0; k < n; k++) {
                unsigned v = (unsigned)(raw[n - 1 - k] - '0');
                sum += k % 2 ? (v * 2 > 9 ? v * 2 - 9 : v * 2) : v;
            }
            if (sum % 10 == 0)
                break;
        }
        break;
    }
    default: /* landline */
        n = 11 + seeded_next(rng) % 2;
        digits(raw, n, '0', rng);
        raw[1] = (char)('1' + seeded_next(rng) % 9);
        break;
    }
    bool wide = seeded_next(rng) % 5 == 0, split = seeded_next(rng) % 4 == 0;
    for (size_t i = 0; i < n; i++) {
        if (split && i > 0 && i % 4 == 0)
            qloop_buf_putc(text, seeded_next(rng) % 2 ? ' ' : '-');
        if (wide && raw[i] >= '0' && raw[i] <= '9') {
            char w[4] = {(char)0xEF, (char)0xBC, (char)(0x90 + raw[i] - '0'), 0};
            qloop_buf_append(text, w, 3);
        } else {
            qloop_buf_putc(text, raw[i]);
        }
    }
}

/* The digits (ASCII, full-width as ASCII) of s, in order, as a string. */
static void only_digits(const char *s, size_t len, struct qloop_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            qloop_buf_putc(out, (char)c);
        } else if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBC &&
                   (unsigned char)s[i + 2] >= 0x90 && (unsigned char)s[i + 2] <= 0x99) {
            qloop_buf_putc(out, (char)('0' + (unsigned char)s[i + 2] - 0x90));
            i += 2;
        } else if (c == '*') {
            qloop_buf_putc(out, '*');
        } else if (c != ' ' && c != '-') {
            qloop_buf_putc(out, '|');
        }
    }
}

/* 3,000 generated messages with up to five planted numbers and a planted
 * name each: none survives, in any spelling. */
static void test_generated(void **state)
{
    (void)state;
    uint64_t rng = 20240927;
    for (int round = 0; round < 3000; round++) {
        struct qloop_buf text = {0}, out = {0}, dig = {0};
        char raws[5][32];
        int nplant = 1 + (int)(seeded_next(&rng) % 5);
        static const char *const names[] = {"王小明", "欧阳修文", "李四", "赵钱孙"};
        const char *name = names[seeded_next(&rng) % 4];
        for (int k = 0; k < nplant; k++) {
            for (int f = (int)(seeded_next(&rng) % 4); f >= 0; f--)
                filler(&text, &rng);
            planted(&rng, raws[k], &text);
            filler(&text, &rng);
            if (seeded_next(&rng) % 2)
                qloop_buf_append(&text, name, strlen(name));
        }
        struct mask_value v = {name, strlen(name)};
        mask_text(text.ptr, text.len, &v, 1, &out);
        assert_null(strstr(qloop_buf_str(&out), name));
        only_digits(out.ptr, out.len, &dig);
        for (int k = 0; k < nplant; k++) {
            char plain[32];
            snprintf(plain, sizeof plain, "%s", raws[k]);
            if (plain[17] == 'X')
                plain[17] = '\0'; /* 17 digits must not survive either */
            if (strstr(qloop_buf_str(&dig), plain))
                fail_msg("round %d: %s survived in \"%s\" -> \"%s\"", round, plain, text.ptr,
                         qloop_buf_str(&out));
        }
        qloop_buf_free(&text);
        qloop_buf_free(&out);
        qloop_buf_free(&dig);
    }
}

/* A long text with many spans (past the first 16 kept on the stack). */
static void test_many_spans(void **state)
{
    (void)state;
    struct qloop_buf in = {0}, want = {0}, out = {0};
    for (int i = 0; i < 500; i++) {
        qloop_buf_printf(&in, "第%d条 1381234%04d；", i, i);
        qloop_buf_printf(&want, "第%d条 138****%04d；", i, i);
    }
    assert_int_equal(mask_text(in.ptr, in.len, NULL, 0, &out), 500);
    assert_string_equal(qloop_buf_str(&out), qloop_buf_str(&want));
    qloop_buf_free(&in);
    qloop_buf_free(&want);
    qloop_buf_free(&out);
}

/* A phone number, a credit code, an identity number with a full-width X,
 * a full-width phone number and a word touching a number, after 0..40 bytes
 * of Chinese and punctuation (so their first byte falls at every offset of a
 * 16-byte block and in the last 16 bytes of the text) and before 0..3
 * characters: masked as alone. */
static void test_shape_at_every_offset(void **state)
{
    (void)state;
    static const char *const shapes[][2] = {
        {"13812345678", "138****5678"},
        {"91330100MA27XL0F1X", "91330100*********X"},
        {"33010219900101123Ｘ", "330102***********Ｘ"},
        {"１３８１２３４５６７８", "１３８****５６７８"},
        {"ab13812345678", "ab138****5678"}, /* a number after letters */
        {"编号ID330102199001011234", "编号ID330102***********4"},
    };
    static const char *const fill[] = {"中", "，", "a", " ", "\xC2\xB7"};
    static const char *const after[] = {"", "。", "号", "!x"};
    char in[256], want[256];
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (size_t pre = 0; pre <= 40; pre++)
            for (size_t a = 0; a < sizeof after / sizeof *after; a++) {
                /* pre bytes of filler, never ending in a letter or digit */
                size_t n = 0;
                while (n < pre) {
                    const char *f = fill[(n + k) % (sizeof fill / sizeof *fill)];
                    if (strlen(f) > pre - n || (f[0] == 'a' && n + 1 == pre))
                        f = " ";
                    memcpy(in + n, f, strlen(f));
                    n += strlen(f);
                }
                memcpy(want, in, n);
                snprintf(in + n, sizeof in - n, "%s%s", shapes[k][0], after[a]);
                snprintf(want + n, sizeof want - n, "%s%s", shapes[k][1], after[a]);
                bool same = strcmp(shapes[k][0], shapes[k][1]) == 0;
                check(in, want, same ? 0 : 1);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),    cmocka_unit_test(test_leaves_ordinary_text),
        cmocka_unit_test(test_values),    cmocka_unit_test(test_generated),
        cmocka_unit_test(test_many_spans), cmocka_unit_test(test_shape_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
