/*
 * adapters.h — finding an adapter, and the input plumbing adapters share.
 *
 * The first part is public: the command line asks qloop_adapter_find() for
 * the adapter that reads a dataset (by its declared format, else by the file
 * extension) and lists qloop_adapters[] in help text.
 *
 * The second part is for adapters only: struct qloop_input reads a file (or
 * standard input) in chunks into one growable window of UTF-8 bytes,
 * converting from GBK/GB18030 with iconv when the dataset declares it, and
 * the helpers that word the Chinese error messages about bad bytes the same
 * way for every adapter (UTF-8 itself is engine/base/text.h's).
 */
#ifndef QLOOP_ADAPTERS_H
#define QLOOP_ADAPTERS_H

#include <iconv.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/text.h"

/* ---- public: the registry ---------------------------------------------- */

/* The adapters that ship, one file each. */
extern const struct qloop_adapter qloop_adapter_csv;
extern const struct qloop_adapter qloop_adapter_jsonl;
extern const struct qloop_adapter qloop_adapter_json;
extern const struct qloop_adapter qloop_adapter_xlsx;
extern const struct qloop_adapter qloop_adapter_odbc;

/* The CSV adapter with a tab as its default delimiter, chosen by
 * qloop_adapter_find(path, "tsv"). (qloop_adapter_csv itself defaults to a tab
 * for paths ending in .tsv.) */
extern const struct qloop_adapter qloop_adapter_tsv;

/* The adapters that ship, NULL-terminated, in the order extensions are tried. */
extern const struct qloop_adapter *const qloop_adapters[];

/* Returns the adapter for a dataset. A path "SCHEME:NAME" whose scheme an
 * adapter declares ("odbc:population") is that adapter's, whatever the
 * format. Otherwise a non-NULL format wins: "csv", "tsv", "jsonl" (also
 * "ndjson"), "json", "xlsx", case-insensitive. Otherwise the extension of
 * path decides (case-insensitive: csv, tsv, txt → CSV; jsonl, ndjson → JSON
 * Lines; json → JSON document; xlsx, xlsm → workbook), and "-" (standard
 * input) is CSV. Returns NULL when nothing fits (unknown format or
 * extension, or path NULL without format). */
const struct qloop_adapter *qloop_adapter_find(const char *path, const char *format);

/* The JSON Lines adapter reads flat objects with its own fast parser and
 * everything else with jansson; 0 sends every line to jansson (tests compare
 * the two). Default 1. */
extern int qloop_jsonl_fast;

/* ---- for adapters: shared pieces ---------------------------------------- */

/* The dataset's name for messages ("?" when the caller gave none). */
#define QLOOP_DATASET_NAME(opts) ((opts) && (opts)->dataset ? (opts)->dataset : "?")

/* Column names learnt while reading (JSON keys), with a hash from name to
 * index. Indices never change once given; zero-initialise before use. */
struct qloop_colset {
    char **names;
    size_t n;
    size_t cap;
    size_t *hash; /* open addressing, index + 1, 0 = empty */
    size_t hcap;
};

/* The index of name, or (size_t)-1. */
size_t qloop_colset_find(const struct qloop_colset *c, const char *name);

/* Appends name (copied); returns its index. */
size_t qloop_colset_add(struct qloop_colset *c, const char *name);

/* Forgets the columns from index n on. */
void qloop_colset_truncate(struct qloop_colset *c, size_t n);

void qloop_colset_free(struct qloop_colset *c);

/* Appends d in the shortest %g form that reads back to d (1.0 → "1",
 * 0.1 → "0.1"). */
void qloop_put_real(struct qloop_buf *out, double d);

/* Appends the JSON number token tok[0..len) as text: an integer as written
 * ("-0" as "0"), any other number through qloop_put_real. */
void qloop_put_json_number(struct qloop_buf *out, const char *tok, size_t len);

/* Spreadsheet number formats (numfmt.c). The format code of a built-in
 * numFmtId as a Chinese (zh-CN) Excel shows it, or NULL for an unknown id. */
const char *qloop_numfmt_builtin(unsigned long id);

/* 1 when the format code's first section shows a date or a time. */
int qloop_numfmt_is_date(const char *code);

/* Appends v as the format code shows it (dates from serial day numbers in the
 * 1900 or, with date1904, the 1904 date system); NULL, "General" and "@"
 * give General. */
void qloop_numfmt_render(struct qloop_buf *out, double v, const char *code, int date1904);

/* Appends v as Excel's General format shows it in the formula bar:
 * integers without ".0", at most 15 significant digits, 1.5E+20 beyond. */
void qloop_numfmt_general(struct qloop_buf *out, double v);

/* An adapter's failure that stays: after next_batch() has failed once, every
 * later call fails with the same error. Zero-initialise. */
struct qloop_sticky {
    int failed;
    struct qloop_error saved;
};

/* Records err as the source's lasting failure; returns -1. */
int qloop_sticky_fail(struct qloop_sticky *s, const struct qloop_error *err);

/* 1 (with err set to the saved error) when the source has failed, else 0. */
int qloop_sticky_failed(const struct qloop_sticky *s, struct qloop_error *err);

/* A value of a row being built in an arena (JSON adapters): its offset and
 * length there, or null. */
struct qloop_jcell {
    size_t off;
    size_t len;
    int null;
};

/* Fills out (nrows x ncols) from cells laid out with the given stride, the
 * values' text in arena. */
void qloop_jcells_to_fields(struct qloop_field *out, const struct qloop_jcell *cells, size_t stride,
                            size_t nrows, size_t ncols, const char *arena);

/* Points the non-null fields of cells[0..n) at arena + offs[k]: values were
 * appended to a growing arena, so pointers are only made once it is done. */
void qloop_fields_point(struct qloop_field *cells, const size_t *offs, size_t n, const char *arena);

/* Malformed rows of one batch (QLOOP_BAD_ROWS_REPORT), with their messages;
 * zero-initialise before use. */
struct qloop_badlist {
    struct qloop_bad_row *v;
    size_t *msg_off; /* message offsets in text until handed out */
    size_t n;
    size_t cap;
    struct qloop_buf text;
};

/* Records a malformed row with a printf-style Chinese message. */
void qloop_badlist_add(struct qloop_badlist *b, uint64_t row_no, uint64_t line_no,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Points batch->bad / nbad at the rows recorded since the last reset; they
 * stay valid until the next reset. */
void qloop_badlist_hand_out(struct qloop_badlist *b, struct qloop_batch *batch);

/* Forgets the recorded rows (at the start of the next batch). */
void qloop_badlist_reset(struct qloop_badlist *b);

void qloop_badlist_free(struct qloop_badlist *b);

/* Fills *bt with a batch of nrows x ncols cells and the rows' numbers and
 * lines, and hands out the malformed rows of bad (may be NULL). Returns
 * next_batch's answer: 1 when there are rows or malformed rows, else 0. */
int qloop_batch_fill(struct qloop_batch *bt, size_t nrows, size_t ncols, struct qloop_field *cells,
                     uint64_t *row_no, uint64_t *line_no, struct qloop_badlist *bad);

/* ---- for adapters: chunked, converting input ---------------------------- */

/* Bytes asked of the file per read (1 MiB). Tests may lower it to force rows,
 * quotes and multibyte sequences across chunk boundaries; must be >= 1. */
extern size_t qloop_input_chunk_size;

/* 1 (the default): a CSV/TSV source opened on a CPU with AVX2 scans its plain
 * rows whole (csv.c's plain_row). Tests set 0 before opening to read every
 * row field by field (SSE2 on x86-64), as a CPU without AVX2 does. */
extern int qloop_csv_whole_rows;

struct qloop_input {
    char name[512];  /* the path as given, "<stdin>" for "-": used in messages */
    int fd;
    int close_fd;    /* 0 for standard input */
    char *buf;       /* UTF-8 window [0, len); buf[len] is always '\0' */
    size_t len;
    size_t cap;
    int eof;         /* no byte will ever be appended to buf again */
    int bad_input;   /* eof came from bytes invalid in the declared encoding */
    unsigned char bad_byte; /* the first of those bytes */
    int truncated;   /* ... or from a multibyte sequence cut by the end of file */
    /* conversion (declared GBK/GB18030); cd == (iconv_t)-1 for UTF-8 */
    iconv_t cd;
    const char *encoding; /* the declared name, for messages ("gbk") */
    char *raw;       /* bytes read but not yet converted */
    size_t raw_len;
    size_t raw_cap;
    int raw_eof;
    int started;     /* the first bytes have been looked at (BOM checks) */
};

/* Opens path ("-" = standard input) for reading in the given encoding (NULL,
 * "utf-8"/"utf8": strict UTF-8; "gbk", "gb2312", "cp936", "gb18030":
 * converted from GB18030, a superset of the others). Reads the first chunk,
 * drops a UTF-8 byte order mark and rejects UTF-16 files. Returns 0, or -1
 * with err naming the file (missing, unreadable, a directory, unknown
 * encoding, UTF-16, a BOM in a file declared GBK). On failure in is closed. */
int qloop_input_open(struct qloop_input *in, const char *path, const char *encoding,
                     struct qloop_error *err);

/* Appends up to `want` more bytes (at least one unless the input ends) to
 * buf. Bytes before offset `keep` are no longer needed: to make room they may
 * be dropped by moving [keep, len) to offset 0, in which case *shift is set to
 * the distance moved (else 0); every offset the caller holds at or after keep
 * must then be lowered by *shift. Returns the number of bytes appended, 0 when
 * the input has ended (eof set; bad_input or truncated tell whether it ended
 * early at bytes invalid in the declared encoding), -1 on a read error with err
 * filled. */
long qloop_input_fill(struct qloop_input *in, size_t keep, size_t want, size_t *shift,
                      struct qloop_error *err);

/* Releases everything; in may be zeroed or already closed. */
void qloop_input_close(struct qloop_input *in);

/* UTF-8 is engine/base/text.h's (qloop_utf8_seq in the inner loops,
 * qloop_utf8_chars for columns). This checks n bytes read from a source for
 * UTF-8 validity and NUL bytes: 0 when clean, else 1 with *bad the offset of
 * the first NUL byte or the first byte of an invalid (or, with at_end,
 * incomplete) sequence. */
static inline int qloop_utf8_check(const char *p, size_t n, int at_end, size_t *bad)
{
    *bad = qloop_utf8_invalid(p, n, QLOOP_UTF8_NO_NUL | (at_end ? 0 : QLOOP_UTF8_PARTIAL));
    return *bad < n;
}

/* Line and column of byte `at`, counting from `from` which is at (line, 1):
 * each '\n' starts a new line, columns count characters. */
void qloop_text_position(const char *from, const char *at, long line, long *out_line,
                         long *out_col);

/* Fills err for a bad byte found while reading in: `bad` points at it inside
 * in->buf, `line_start` at the start of its line in in->buf, the line being
 * reported as `line` (the column is computed). Words the message for a NUL
 * byte, invalid UTF-8 (adding, when the line decodes as GB18030 with Chinese
 * characters, that the file looks GBK and the dataset should declare
 * encoding = "gbk"), or a sequence cut by the end of the file. Returns -1. */
int qloop_input_bad_byte(const struct qloop_input *in, struct qloop_error *err, long line,
                         const char *line_start, const char *bad);

/* Fills err for input that stopped early (in->bad_input or in->truncated) at
 * the end of the data, i.e. at in->buf + in->len, which lies on line `line`
 * starting at line_start. Returns -1. */
int qloop_input_bad_end(const struct qloop_input *in, struct qloop_error *err, long line,
                        const char *line_start);

#endif
