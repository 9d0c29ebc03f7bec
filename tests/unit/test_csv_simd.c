/*
 * test_csv_simd.c — the CSV adapter's 16-bytes-at-a-time field scan (SSE2 on
 * x86-64) and its whole-row scan (AVX2 where the CPU has it) against its
 * byte-at-a-time path; the library's adapter is read both with and without
 * the whole-row scan (qloop_csv_whole_rows), so the SSE2 field scan is
 * compared on every input too.
 *
 * adapters/csv.c is compiled a second time into this test with
 * QLOOP_CSV_SCALAR defined (its adapters renamed scalar_csv / scalar_tsv), so
 * the library's adapter (with SSE2 where the target has it) and the table-only
 * scan read the same inputs: fields of every length from 0 to 48 starting at
 * every offset of a 16-byte block, quoted fields with doubled quotes and line
 * breaks placed on both sides of a block's end, CRLF and LF, a last line with
 * and without its line break, a BOM, empty fields; a stray quote, a NUL, an
 * invalid byte and text after a closing quote at every position of a long
 * field (the column reported is checked as well); runs of Chinese characters
 * of every length ending in valid and invalid three-byte sequences; and
 * seeded random inputs
 * over the bytes that matter. Each is read with the default read chunk and
 * with tiny ones (rows and fields cut at every place), with bad_rows = stop
 * and = report, and everything returned (cells, row and line numbers,
 * malformed rows, the error with its file, line and column) must be the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"
#include "seeded_rng.h"

/* the scalar build of the adapter, local to this test */
#define QLOOP_CSV_SCALAR 1
#define qloop_adapter_csv scalar_csv
#define qloop_adapter_tsv scalar_tsv
#include "../../adapters/csv.c"
#undef qloop_adapter_csv
#undef qloop_adapter_tsv

extern const struct qloop_adapter qloop_adapter_csv;

/* Writes n bytes to a fresh temporary file; returns its malloc'd path. */
static char *write_tmp(const char *data, size_t n)
{
    char *path = strdup("/tmp/qloop_test_csv_simd_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Everything adapter a returns for path (names, each batch's cells with row
 * and line numbers, malformed rows, the final answer or error), as text in
 * out. */
static void read_to_text(const struct qloop_adapter *a, const char *path,
                         const struct qloop_source_options *o, struct qloop_buf *out)
{
    qloop_buf_reset(out);
    struct qloop_error err;
    qloop_error_clear(&err);
    void *st;
    char tmp[128];
    if (a->open(path, o, &st, &err) < 0) {
        snprintf(tmp, sizeof tmp, "OPEN %ld:%ld ", err.line, err.column);
        qloop_buf_append(out, tmp, strlen(tmp));
        qloop_buf_append(out, err.message, strlen(err.message));
        return;
    }
    size_t ncols;
    const char *const *names;
    a->columns(st, &ncols, &names);
    for (size_t j = 0; j < ncols; j++) {
        qloop_buf_append(out, names[j], strlen(names[j]));
        qloop_buf_putc(out, '\x01');
    }
    struct qloop_batch b;
    int r;
    while ((r = a->next_batch(st, &b, &err)) == 1) {
        for (size_t i = 0; i < b.nrows; i++) {
            snprintf(tmp, sizeof tmp, "\n%llu@%llu:", (unsigned long long)b.row_no[i],
                     (unsigned long long)b.line_no[i]);
            qloop_buf_append(out, tmp, strlen(tmp));
            for (size_t j = 0; j < b.ncols; j++) {
                const struct qloop_field *f = &b.cells[i * b.ncols + j];
                assert_int_equal(f->ptr[f->len], '\0');
                qloop_buf_append(out, f->ptr, f->len);
                qloop_buf_putc(out, '\x01');
            }
        }
        for (size_t i = 0; i < b.nbad; i++) {
            snprintf(tmp, sizeof tmp, "\nBAD %llu@%llu ", (unsigned long long)b.bad[i].row_no,
                     (unsigned long long)b.bad[i].line_no);
            qloop_buf_append(out, tmp, strlen(tmp));
            qloop_buf_append(out, b.bad[i].message, strlen(b.bad[i].message));
        }
    }
    if (r < 0) {
        snprintf(tmp, sizeof tmp, "\nERR %ld:%ld ", err.line, err.column);
        qloop_buf_append(out, tmp, strlen(tmp));
        qloop_buf_append(out, err.message, strlen(err.message));
    } else {
        qloop_buf_append(out, "\nEND", 4);
    }
    a->close(st);
}

/* Reads data with both scans under several read chunks and batch sizes,
 * with bad_rows = stop and = report; fails on any difference. Returns what
 * the library's adapter gave with the default chunk (the caller frees it). */
static char *same_both_ways(const char *data, size_t n)
{
    char *path = write_tmp(data, n);
    size_t saved = qloop_input_chunk_size;
    static const size_t chunks[] = {0, 1, 5, 16, 17};
    struct qloop_buf fast = {0}, slow = {0};
    char *first = NULL;
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        qloop_input_chunk_size = chunks[c] ? chunks[c] : saved;
        for (int report = 0; report < 2; report++)
            for (int whole = 1; whole >= 0; whole--) { /* AVX2 whole rows (where run), then SSE2 alone */
                struct qloop_source_options o = {0};
                o.batch_rows = report ? 3 : 0;
                o.bad_rows = report ? QLOOP_BAD_ROWS_REPORT : QLOOP_BAD_ROWS_STOP;
                qloop_csv_whole_rows = whole;
                read_to_text(&qloop_adapter_csv, path, &o, &fast);
                qloop_csv_whole_rows = 1;
                read_to_text(&scalar_csv, path, &o, &slow);
                if (fast.len != slow.len || memcmp(fast.ptr, slow.ptr, fast.len) != 0)
                    fail_msg("chunk %zu report %d whole rows %d: fast and scalar differ\n--- input (%zu "
                             "bytes)\n%.*s\n--- fast\n%.*s\n--- scalar\n%.*s",
                             chunks[c], report, whole, n, (int)n, data, (int)fast.len, fast.ptr,
                             (int)slow.len, slow.ptr);
                if (!first && !report && !chunks[c])
                    first = strndup(fast.ptr, fast.len);
            }
    }
    qloop_input_chunk_size = saved;
    qloop_buf_free(&fast);
    qloop_buf_free(&slow);
    unlink(path);
    free(path);
    return first;
}

/* Fields of each length 0..48 after a first field of 0..17 bytes, so that
 * each field's end falls at every offset of a 16-byte block: plain ASCII,
 * ending in a Chinese character, quoted with a doubled quote or a line
 * break at its length, empty quoted; LF and CRLF, with and without a BOM
 * and a final line break. The cells read are checked too. */
static void test_field_lengths_and_offsets(void **unused)
{
    (void)unused;
    struct qloop_buf in = {0};
    for (int variant = 0; variant < 8; variant++) {
        const char *eol = variant & 1 ? "\r\n" : "\n";
        qloop_buf_reset(&in);
        if (variant & 2)
            qloop_buf_append(&in, "\xEF\xBB\xBF", 3);
        qloop_buf_append(&in, "k,v,w", 5);
        qloop_buf_append(&in, eol, strlen(eol));
        size_t rows = 0;
        for (size_t shift = 0; shift < 18; shift++)
            for (size_t len = 0; len <= 48; len++) {
                int kind = (int)((shift + len + (size_t)variant) % 5);
                for (size_t i = 0; i < shift; i++)
                    qloop_buf_putc(&in, (char)('a' + i % 26));
                qloop_buf_putc(&in, ',');
                if (kind == 0) {
                    for (size_t i = 0; i < len; i++)
                        qloop_buf_putc(&in, (char)('0' + i % 10));
                } else if (kind == 1) {
                    for (size_t i = 0; i < len; i++)
                        qloop_buf_putc(&in, 'x');
                    qloop_buf_append(&in, "\xE4\xB8\xAD", 3);
                } else if (kind == 2) {
                    qloop_buf_putc(&in, '"');
                    for (size_t i = 0; i < len; i++)
                        qloop_buf_putc(&in, 'q');
                    qloop_buf_append(&in, "\"\"", 2);
                    qloop_buf_append(&in, "t\"", 2);
                } else if (kind == 3) {
                    qloop_buf_putc(&in, '"');
                    for (size_t i = 0; i < len; i++)
                        qloop_buf_putc(&in, 'n');
                    qloop_buf_append(&in, "\n,\"", 3);
                } else {
                    qloop_buf_append(&in, "\"\"", 2);
                }
                qloop_buf_putc(&in, ',');
                for (size_t i = 0; i < len % 19; i++)
                    qloop_buf_putc(&in, 'w');
                rows++;
                qloop_buf_append(&in, eol, strlen(eol));
            }
        if (variant & 4) /* no line break after the last row */
            in.len -= strlen(eol);
        char *got = same_both_ways(in.ptr, in.len);
        assert_non_null(strstr(got, "\nEND"));
        assert_null(strstr(got, "ERR"));
        /* spot checks: a field of 33 digits after 15 bytes, the quoted ones */
        assert_non_null(strstr(got, "\x01" "012345678901234567890123456789012\x01"));
        assert_non_null(strstr(got, "qqqqqqqqqqqqqqqqq\"t\x01"));
        assert_non_null(strstr(got, "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n,\x01"));
        char last[64];
        snprintf(last, sizeof last, "\n%zu@", rows);
        assert_non_null(strstr(got, last));
        free(got);
    }
    qloop_buf_free(&in);
}

/* A stray quote, a NUL, an invalid byte, and a character after a closing
 * quote at each position 0..40 of a long field: the same error, at the
 * column of the byte, both ways. */
static void test_errors_at_every_position(void **unused)
{
    (void)unused;
    static const char *const bad[] = {"\"", "\0", "\xFF", "\xE4\xB8", "\xC0\xAF"};
    char data[256];
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        for (size_t quoted = 0; quoted < 2; quoted++)
            for (size_t at = 0; at <= 40; at++) {
                if (quoted && b == 0)
                    continue; /* a quote inside quotes ends the field: below */
                size_t n = 0, blen = b == 1 ? 1 : strlen(bad[b]);
                memcpy(data + n, "a,b\nxy,", 7);
                n += 7;
                if (quoted)
                    data[n++] = '"';
                for (size_t i = 0; i < at; i++)
                    data[n++] = (char)('A' + i % 26);
                memcpy(data + n, bad[b], blen);
                n += blen;
                for (size_t i = 0; i < 30; i++)
                    data[n++] = 'z';
                if (quoted)
                    data[n++] = '"';
                data[n++] = '\n';
                char *got = same_both_ways(data, n);
                char want[32];
                snprintf(want, sizeof want, "\nERR 2:%zu ", 4 + quoted + at);
                if (!strstr(got, want))
                    fail_msg("bad %zu quoted %zu at %zu: want %s in %s", b, quoted, at, want + 1, got);
                free(got);
            }
    /* text after a closing quote, the closing quote at each position */
    for (size_t at = 0; at <= 40; at++) {
        size_t n = 0;
        memcpy(data + n, "a,b\nxy,\"", 8);
        n += 8;
        for (size_t i = 0; i < at; i++)
            data[n++] = 'Q';
        memcpy(data + n, "\"x\n", 3);
        n += 3;
        char *got = same_both_ways(data, n);
        char want[32];
        snprintf(want, sizeof want, "\nERR 2:%zu ", 6 + at);
        if (!strstr(got, want))
            fail_msg("closing quote at %zu: want %s in %s", at, want + 1, got);
        free(got);
    }
}

/* A wrong number of fields with long fields, a quote left open over many
 * lines, blank lines: the same both ways (with bad_rows = report too). */
static void test_malformed_rows(void **unused)
{
    (void)unused;
    static const char *const cases[] = {
        "a,b\nxxxxxxxxxxxxxxxxxxxxxxxx,yyyyyyyyyyyyyyyyyyyyyyyyy,zzzzzzzzzzzzzzzzzzzz\n1,2\n",
        "a,b\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n1,2\n",
        "a,b\n1,2\n\n3,4\n",
        "a,b\n1,\"open quote over lines\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nyyyyyyy\n",
        "a,b\n1,2\r\n3,4\r",
        "a,b\n\xEF\xBB\xBF" "1,2\n",
        "\xEF\xBB\xBF\"a\",\"b\"\n\"\",\"\"\n,\n",
        "a\tb\n1\t2\n",
        "a,b\r\nxxxxxxxxxxxxxxx\r,yyyyyyyyyyyyyyyyyy\r\n",
        "a,b\n1,2\n\n\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        free(same_both_ways(cases[i], strlen(cases[i])));
}

/* Seeded random files over the bytes that matter to the scan (delimiter,
 * quote, CR, LF, NUL, ASCII, parts of Chinese characters, invalid bytes),
 * with long plain runs so that the 16-byte steps are taken: the same both
 * ways. */
static void test_random_inputs(void **unused)
{
    (void)unused;
    static const char *const atoms[] = {",", "\"", "\"\"", "\n", "\r\n", "\r", "a", "0",
                                        "\xE4\xB8\xAD", "\xE4", "\xFF", " ", "abcdefghijklmnopq",
                                        "0123456789012345678901234567890123", "\xE6\x96\x87xyz"};
    uint64_t rng = 20261204;
    struct qloop_buf in = {0};
    for (int round = 0; round < 400; round++) {
        qloop_buf_reset(&in);
        qloop_buf_append(&in, "a,b,c\n", 6);
        size_t atoms_n = 1 + seeded_next(&rng) % 80;
        for (size_t k = 0; k < atoms_n; k++) {
            uint64_t r = seeded_next(&rng);
            if (r % 211 == 0) {
                qloop_buf_putc(&in, '\0');
                continue;
            }
            /* mostly well-formed-ish: plain text and delimiters */
            size_t pick = r % 4 == 0 ? (size_t)((r >> 8) % (sizeof atoms / sizeof *atoms))
                                     : (size_t)((r >> 8) % 2 ? 12 + (r >> 16) % 3 : 0);
            qloop_buf_append(&in, atoms[pick], strlen(atoms[pick]));
        }
        free(same_both_ways(in.ptr, in.len));
    }
    qloop_buf_free(&in);
}

/* Runs of 0..13 Chinese characters (three bytes each, five to a 16-byte
 * load) after 0..3 ASCII bytes, ending in a three-byte sequence at the edge
 * of what the run check takes at once: valid ones (E0 A0 80, ED 9F BF, EF BF
 * BF, 中) go on, invalid ones (E0 80 80, ED A0 80, a cut one, a stray
 * continuation) stop the row at their column; the same both ways. */
static void test_chinese_runs(void **unused)
{
    (void)unused;
    static const struct {
        const char *seq;
        int good;
    } ends[] = {
        {"\xE4\xB8\xAD", 1}, {"\xE0\xA0\x80", 1}, {"\xED\x9F\xBF", 1}, {"\xEF\xBF\xBF", 1},
        {"\xE0\x80\x80", 0}, {"\xED\xA0\x80", 0}, {"\xE4\xB8z", 0},      {"\x80\x80\x80", 0},
        {"\xC3\xA9", 1},     {"\xF0\x9F\x98\x80", 1},
    };
    char data[256];
    for (size_t x = 0; x < sizeof ends / sizeof *ends; x++)
        for (size_t lead = 0; lead < 4; lead++)
            for (size_t run = 0; run <= 13; run++)
                for (size_t tail = 0; tail < 3; tail++) {
                    size_t n = 0;
                    memcpy(data, "a,b\n1,", 6);
                    n = 6;
                    for (size_t i = 0; i < lead; i++)
                        data[n++] = 'x';
                    for (size_t i = 0; i < run; i++)
                        memcpy(data + n, "\xE6\x96\x87", 3), n += 3;
                    memcpy(data + n, ends[x].seq, strlen(ends[x].seq));
                    n += strlen(ends[x].seq);
                    for (size_t i = 0; i < tail * 7; i++)
                        memcpy(data + n, i % 2 ? "\xE4\xB8\xAD" : "y", i % 2 ? 3 : 1), n += i % 2 ? 3 : 1;
                    memcpy(data + n, "\n2,3\n", 5);
                    n += 5;
                    char *got = same_both_ways(data, n);
                    if (ends[x].good) {
                        if (!strstr(got, "\nEND") || !strstr(got, "\n2@3:2\x01" "3\x01"))
                            fail_msg("end %zu lead %zu run %zu: refused: %s", x, lead, run, got);
                    } else {
                        char want[32];
                        snprintf(want, sizeof want, "\nERR 2:%zu ", 3 + lead + run);
                        if (!strstr(got, want))
                            fail_msg("end %zu lead %zu run %zu: want %s in %s", x, lead, run, want + 1, got);
                    }
                    free(got);
                }
}

/* Rows scanned whole 32 bytes at a time (plain_row, with AVX2): rows of
 * 0..100 characters in three fields of Chinese and ASCII, so that each delimiter
 * and the line feed fall at every offset of a 32-byte block, with CRLF and
 * LF and a lone CR inside; then one such row with, at each position 0..80, a
 * quote, a NUL, an invalid byte, a cut, surrogate, overlong or too large
 * sequence, a valid two-, three- or four-byte character, or a CR: the same
 * cells, or the same error at the same column, both ways. */
static void test_plain_rows(void **unused)
{
    (void)unused;
    struct qloop_buf in = {0};
    for (int crlf = 0; crlf < 2; crlf++) {
        qloop_buf_reset(&in);
        qloop_buf_append(&in, "a,b,c\n", 6);
        for (size_t len = 0; len <= 100; len++) {
            size_t cut1 = len / 3, cut2 = len - len / 4;
            for (size_t i = 0; i <= len; i++) {
                if (i == cut1)
                    qloop_buf_putc(&in, ',');
                if (i == cut2)
                    qloop_buf_putc(&in, ',');
                if (i == len)
                    break;
                if (i % 7 == 3)
                    qloop_buf_append(&in, "\xE4\xB8\xAD", 3);
                else if (i % 11 == 5)
                    qloop_buf_putc(&in, '\r');
                else
                    qloop_buf_putc(&in, (char)('a' + i % 26));
            }
            qloop_buf_append(&in, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
        }
        char *got = same_both_ways(in.ptr, in.len);
        assert_non_null(strstr(got, "\nEND"));
        free(got);
    }
    static const char *const ins[] = {"\"", "\0", "\xFF", "\xE4\xB8", "\xED\xA0\x80", "\xE0\x80\x80",
                                      "\xC0\xAF", "\xF4\x90\x80\x80", "\xF0\x8F\xBF\xBF", "\x80",
                                      "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\r", "\r\r"};
    char data[256];
    for (size_t k = 0; k < sizeof ins / sizeof *ins; k++)
        for (size_t at = 0; at <= 80; at++) {
            size_t n = 0, ilen = k == 1 ? 1 : strlen(ins[k]);
            memcpy(data, "a,b,c\n", 6);
            n = 6;
            for (size_t i = 0; i < 90; i++) {
                if (i == at)
                    memcpy(data + n, ins[k], ilen), n += ilen;
                if (i == 20 || i == 55)
                    data[n++] = ',';
                else if (i % 5 == 2)
                    memcpy(data + n, "\xE6\x96\x87", 3), n += 3;
                else
                    data[n++] = (char)('A' + i % 26);
            }
            memcpy(data + n, "\n1,2,3\n", 7);
            n += 7;
            free(same_both_ways(data, n));
        }
    qloop_buf_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_lengths_and_offsets),
        cmocka_unit_test(test_errors_at_every_position),
        cmocka_unit_test(test_malformed_rows),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_chinese_runs),
        cmocka_unit_test(test_plain_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
