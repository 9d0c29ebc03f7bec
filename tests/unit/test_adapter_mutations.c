/*
 * test_adapter_mutations.c — bad input is normal input: thousands of
 * mutated CSV, JSON Lines and JSON document files (flipped bytes, stray
 * quotes, cut multibyte characters, NUL bytes, truncation, huge fields), read
 * in tiny and normal chunks, in UTF-8 and as GBK, with malformed rows
 * stopping the source or reported; and mutated Excel workbooks (the zip's
 * bytes). Every file must end in rows or in an error with a file name, a line
 * (a workbook's damaged zip may have none) and a message — never a crash, a
 * hang or a memory error (the suite runs this under ASan and UBSan too). The
 * PRNG is seeded, so a failure replays.
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

#include <minizip/zip.h>

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

static const char json_seed[] =
    "{\"total\": 3, \"data\": {\"list\": [\n"
    "  {\"id\": \"1\", \"名称\": \"甲公司\", \"n\": 12, \"x\": null, \"f\": 1.5},\n"
    "  {\"id\": \"2\", \"名称\": \"乙\\\"公司\", \"n\": -3, \"tags\": [1, {\"b\": [2]}], \"o\": {\"a\": true}},\n"
    "  {\"id\": \"3\", \"新键\": \"后来的列\\u4e00\"}\n"
    "]}, \"tail\": [1, 2]}\n";

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

/* Options of the next read (records path, bad rows); whether a batch's error
 * must have a line. */
static const char *opt_records;
static enum qloop_bad_rows opt_bad;
static int need_line = 1;

/* Reads path to the end; checks the outcome is rows or a located error. */
static void read_through(const struct qloop_adapter *a, const char *path, const char *encoding)
{
    struct qloop_source_options opts = {.encoding = encoding, .batch_rows = 3, .records = opt_records,
                                        .bad_rows = opt_bad, .dataset = "变异"};
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
            assert_true(err.line > 0 || !need_line);
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
        for (size_t i = 0; i < b.nbad; i++)
            assert_true(b.bad[i].row_no > 0 && b.bad[i].message[0] != '\0');
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
        opt_bad = r % 2 ? QLOOP_BAD_ROWS_REPORT : QLOOP_BAD_ROWS_STOP;
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

static void test_json_mutations(void **state)
{
    (void)state;
    rng_state = 3122026;
    opt_records = "data.list";
    run_mutations(json_seed, sizeof json_seed - 1, "json", "json", 3000);
    opt_records = NULL;
}

/* Workbook parts, written as a zip with minizip: the sheet (shared and
 * inline strings, numbers, a date, booleans, a formula, an error value) and
 * the shared strings are mutated as text before zipping; every fourth round
 * mutates the zip's bytes instead. */
static const char wb_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns:r=\"r\"><workbookPr date1904=\"0\"/>"
    "<sheets><sheet name=\"数据\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
static const char rels_xml[] =
    "<?xml version=\"1.0\"?><Relationships><Relationship Id=\"rId1\" Type=\"x/worksheet\" "
    "Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"x/sharedStrings\" "
    "Target=\"sharedStrings.xml\"/><Relationship Id=\"rId3\" Type=\"x/styles\" Target=\"styles.xml\"/>"
    "</Relationships>";
static const char styles_xml[] =
    "<?xml version=\"1.0\"?><styleSheet><numFmts><numFmt numFmtId=\"164\" formatCode=\"yyyy-mm-dd\"/>"
    "</numFmts><cellXfs><xf numFmtId=\"0\"/><xf numFmtId=\"164\"/><xf numFmtId=\"10\"/></cellXfs></styleSheet>";
static const char sst_seed[] =
    "<?xml version=\"1.0\"?><sst><si><t>编号</t></si><si><t>名称</t></si><si><r><t>甲</t></r><r><t>公司</t></r>"
    "<rPh><t>jia</t></rPh></si><si><t>日期_x000D_</t></si></sst>";
static const char sheet_seed[] =
    "<?xml version=\"1.0\"?><worksheet><sheetData>"
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\" t=\"s\"><v>3</v></c></row>"
    "<row r=\"2\"><c r=\"A2\"><v>1</v></c><c r=\"B2\" t=\"s\"><v>2</v></c><c r=\"C2\" s=\"1\"><v>46086.5</v></c></row>"
    "<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t>二</t></is></c><c t=\"b\"><v>1</v></c><c s=\"2\"><v>0.25</v></c></row>"
    "<row><c r=\"A4\"><f>A2+1</f><v>2</v></c><c r=\"B4\" t=\"e\"><v>#N/A</v></c><c r=\"C4\" t=\"str\"><v>x</v></c></row>"
    "</sheetData></worksheet>";

/* Writes a workbook of the given sheet and shared-strings texts to path. */
static void write_book(const char *path, const char *sheet, size_t sheet_len, const char *sst, size_t sst_len)
{
    zipFile z = zipOpen(path, APPEND_STATUS_CREATE);
    assert_non_null(z);
    const char *names[] = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                           "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"};
    const char *data[] = {wb_xml, rels_xml, styles_xml, sst, sheet};
    size_t lens[] = {sizeof wb_xml - 1, sizeof rels_xml - 1, sizeof styles_xml - 1, sst_len, sheet_len};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(zipOpenNewFileInZip(z, names[i], NULL, NULL, 0, NULL, 0, NULL, Z_DEFLATED,
                                             Z_DEFAULT_COMPRESSION), ZIP_OK);
        assert_int_equal(zipWriteInFileInZip(z, data[i], (unsigned)lens[i]), ZIP_OK);
        assert_int_equal(zipCloseFileInZip(z), ZIP_OK);
    }
    assert_int_equal(zipClose(z, NULL), ZIP_OK);
}

static void test_xlsx_mutations(void **state)
{
    (void)state;
    const struct qloop_adapter *a = qloop_adapter_find("x.xlsx", NULL);
    char path[64];
    snprintf(path, sizeof path, "/tmp/qloop-mut-%d.xlsx", (int)getpid());
    static char sheet[sizeof sheet_seed + (1 << 16)], sst[sizeof sst_seed + (1 << 16)], zip[1 << 17];
    rng_state = 26112026;
    need_line = 0;
    outcome_rows = outcome_errors = 0;
    int rounds = 2000;
    for (int r = 0; r < rounds; r++) {
        memcpy(sheet, sheet_seed, sizeof sheet_seed - 1);
        memcpy(sst, sst_seed, sizeof sst_seed - 1);
        size_t sl = sizeof sheet_seed - 1, tl = sizeof sst_seed - 1;
        if (r % 4 == 1)
            tl = mutate(sst, tl, sizeof sst);
        else if (r % 4 != 0)
            sl = mutate(sheet, sl, sizeof sheet);
        write_book(path, sheet, sl, sst, tl);
        if (r % 4 == 0) { /* the zip's own bytes */
            FILE *f = fopen(path, "rb");
            size_t n = fread(zip, 1, sizeof zip / 2, f);
            fclose(f);
            n = mutate(zip, n, sizeof zip);
            f = fopen(path, "wb");
            assert_int_equal(fwrite(zip, 1, n, f), n);
            fclose(f);
        }
        opt_bad = r % 2 ? QLOOP_BAD_ROWS_REPORT : QLOOP_BAD_ROWS_STOP;
        read_through(a, path, NULL);
    }
    need_line = 1;
    unlink(path);
    print_message("%d workbooks read to rows, %d stopped with an error\n", outcome_rows, outcome_errors);
    assert_true(outcome_rows > rounds / 100);
    assert_true(outcome_errors > rounds / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_mutations),
        cmocka_unit_test(test_jsonl_mutations),
        cmocka_unit_test(test_json_mutations),
        cmocka_unit_test(test_xlsx_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
