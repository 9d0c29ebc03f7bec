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

#include "base/adapter.h"
#include "base/error.h"
#include "base/text.h"

/* ---- public: the registry ---------------------------------------------- */

/* The adapters that ship, one file each. */
extern const struct qloop_adapter qloop_adapter_csv;
extern const struct qloop_adapter qloop_adapter_jsonl;

/* The CSV adapter with a tab as its default delimiter, chosen by
 * qloop_adapter_find(path, "tsv"). (qloop_adapter_csv itself defaults to a tab
 * for paths ending in .tsv.) */
extern const struct qloop_adapter qloop_adapter_tsv;

/* The adapters that ship, NULL-terminated, in the order extensions are tried. */
extern const struct qloop_adapter *const qloop_adapters[];

/* Returns the adapter for a dataset. When format is non-NULL it wins:
 * "csv", "tsv", "jsonl" (also "ndjson"), case-insensitive. Otherwise the
 * extension of path decides (case-insensitive: csv, tsv, txt → CSV; jsonl,
 * ndjson → JSON Lines), and "-" (standard input) is CSV. Returns NULL when
 * nothing fits (unknown format or extension, or path NULL without format). */
const struct qloop_adapter *qloop_adapter_find(const char *path, const char *format);

/* The JSON Lines adapter reads flat objects with its own fast parser and
 * everything else with jansson; 0 sends every line to jansson (tests compare
 * the two). Default 1. */
extern int qloop_jsonl_fast;

/* ---- for adapters: chunked, converting input ---------------------------- */

/* Bytes asked of the file per read (1 MiB). Tests may lower it to force rows,
 * quotes and multibyte sequences across chunk boundaries; must be >= 1. */
extern size_t qloop_input_chunk_size;

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
