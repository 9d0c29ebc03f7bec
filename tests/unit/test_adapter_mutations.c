/*
 * test_adapter_mutations.c — bad input is normal input: thousands of
 * mutated CSV and JSON Lines files (flipped bytes, stray quotes, cut
 * multibyte characters, NUL bytes, truncation, huge fields), read in tiny
 * and normal chunks, in UTF-8 and as GBK. Every file must end in rows or in
 * an error with a file name, a line and a message — never a crash, a hang or
 * a memory error (the suite runs this under ASan and UBSan too). The PRNG is
 * seeded, so a failure replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seeded_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"

static uint64_t rng_state;
static int outcome_rows, outcome_errors; /* both paths must be exercised */

static uint64_t rnd(void) { return seeded_next(&rng_state); }

static const char csv_seed[] =
    "统一社会信用代码,名称,注册日期,备注\n"
    "91350100M000100Y43,\"甲公司\",2020-01-05,\"含,逗号\"\n"
    "91350100M000100Y44,乙公司,2020/1/5,\"含\"\"引号\"\"\"\n"
    "91350100M000100Y45,丙公司,,\"跨\n行\"\r\n"
    "91350100M000100Y46,丁公司,2020年1月5日,全角　空格\n";

static const char jsonl_seed[] =
    "{\"id\": \"1\", \"名称\": \"甲公司\", \"n\": 12, \"x\": null, \"f\": 1.5}\n"
    "{\"id\": \"2\", \"名称\": \"乙\\\"公司\", \"n\": -3, \"tags\": [1, 2], \"o\": {\"a\": true}}\n"
    "\n"
    "{\"id\": \"3\", \"新键\": \"后来的列\"}\n";

/* Applies 1..8 random edits to buf (len bytes, capacity cap); returns the new length. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char *const inserts[] = {"\"", "\n", "\r", ",", "\xff", "\xe4\xb8", "\0",
                                          "{", "}", "\\", "\"\"", "\t", "\xc3\x28", "\xed\xa0\x80"};
    int edits = 1 + (int)(rnd() % 8);
    for (int e = 0; e < edits; e++) {
        size_t at = len ? (size_t)(rnd() % len) : 0;
        switch (rnd() % 5) {
        case 0: /* flip a byte */
            if (len)
                buf[at] = (char)(rnd() & 0xff);
            break;
        case 1: { /* insert a troublesome sequence */
            const char *ins = inserts[rnd() % (sizeof inserts / sizeof inserts[0])];
            size_t n = ins[0] ? strlen(ins) : 1;
            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at, ins, n);
                len += n;
            }
            break;
        }
        case 2: /* delete a span */
            if (len) {
                size_t n = 1 + (size_t)(rnd() % 8);
                if (at + n > len)
                    n = len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        case 3: /* truncate */
            len = at;
            break;
        default: { /* a long run of one byte (a huge field) */
            size_t n = (size_t)(rnd() % 5000);
            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                memset(buf + at, "a\"\n,"[rnd() % 4], n);
                len += n;
            }
            break;
        }
        }
    }
    return len;
}

/* Reads path to the end; checks the outcome is rows or a located error. */
static void read_through(const struct qloop_adapter *a, const char *path, const char *encoding)
{
    struct qloop_source_options opts = {.encoding = encoding, .batch_rows = 3};
    struct qloop_error err;
    qloop_error_clear(&err);
    void *st = NULL;
    if (a->open(path, &opts, &st, &err) != 0) {
        assert_true(err.file[0] != '\0');
        assert_true(err.message[0] != '\0');
        outcome_errors++;
        return;
    }
    size_t rows = 0;
    for (int guard = 0; guard < 100000; guard++) {
        struct qloop_batch b;
        int rc = a->next_batch(st, &b, &err);
        if (rc < 0) {
            assert_true(err.file[0] != '\0');
            assert_true(err.line > 0);
            assert_true(err.message[0] != '\0');
            outcome_errors++;
            break;
        }
        if (rc == 0)
            break;
        for (size_t i = 0; i < b.nrows * b.ncols; i++) {
            const struct qloop_field *f = &b.cells[i];
            assert_int_equal(f->ptr[f->len], '\0'); /* NUL-terminated as promised */
        }
        rows += b.nrows;
    }
    size_t ncols;
    const char *const *names;
    a->columns(st, &ncols, &names);
    for (size_t i = 0; i < ncols; i++)
        assert_non_null(names[i]);
    a->close(st);
    if (rows > 0)
        outcome_rows++;
}

static void run_mutations(const char *seed, size_t seed_len, const char *adapter_name,
                          const char *ext, int rounds)
{
    const struct qloop_adapter *a = qloop_adapter_find(NULL, adapter_name);
    assert_non_null(a);
    char path[64];
    snprintf(path, sizeof path, "/tmp/qloop-mut-%d.%s", (int)getpid(), ext);
    size_t cap = seed_len + (1 << 16);
    char *buf = malloc(cap);
    size_t saved_chunk = qloop_input_chunk_size;
    outcome_rows = outcome_errors = 0;
    for (int r = 0; r < rounds; r++) {
        memcpy(buf, seed, seed_len);
        size_t len = mutate(buf, seed_len, cap);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
        qloop_input_chunk_size = r % 3 == 0 ? 1 : r % 3 == 1 ? 7 : 1 << 20;
        read_through(a, path, NULL);
        if (r % 5 == 0)
            read_through(a, path, "gbk");
    }
    qloop_input_chunk_size = saved_chunk;
    unlink(path);
    free(buf);
    print_message("%d files read to rows, %d stopped with a located error\n", outcome_rows, outcome_errors);
    assert_true(outcome_rows > rounds / 100);
    assert_true(outcome_errors > rounds / 10);
}

static void test_csv_mutations(void **state)
{
    (void)state;
    rng_state = 20261122;
    run_mutations(csv_seed, sizeof csv_seed - 1, "csv", "csv", 4000);
}

static void test_jsonl_mutations(void **state)
{
    (void)state;
    rng_state = 11222026;
    run_mutations(jsonl_seed, sizeof jsonl_seed - 1, "jsonl", "jsonl", 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_mutations),
        cmocka_unit_test(test_jsonl_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
