/*
 * csv.c — the CSV/TSV adapter (RFC 4180, strict).
 *
 * The file is read in chunks (adapters.h, struct qloop_input) into one window;
 * a batch is a run of complete rows inside that window. A row is scanned with
 * a byte-class table (a NUL sentinel at the end of the data stops the scan
 * without a bounds test per byte), recording each field as an offset and a
 * length; nothing is modified until the row is complete, so a row cut by the
 * end of the window is simply scanned again once more bytes have arrived, and
 * error positions are computed from the untouched bytes. On x86-64 (SSE2, the
 * baseline there) an unquoted field's end is found 16 bytes at a time
 * (plain16) and its bytes of 0x80 and above, if any, are then checked as
 * UTF-8 (check_utf8, Chinese characters five to a load); a quoted field skips
 * 16 at a time to the bytes its table stops at (skip16). Each answers what the
 * table loop would have, at the same byte. Where the CPU runs AVX2 (asked at
 * open), a row is first tried whole (plain_row): 32 bytes at a time, its
 * delimiters and line feed found by compares, its UTF-8 checked by
 * engine/base/utf8_avx2.h; a row with a quote or a NUL before its line feed,
 * a malformed sequence, or no line feed in the window's whole 32-byte blocks
 * is left to the field loop, which decides and words every error. Other
 * targets use the table and check_utf8's word loop alone, and so does a build
 * with QLOOP_CSV_SCALAR defined (tests/unit/test_csv_simd.c compares the
 * two). A complete row is then
 * finished in place: doubled quotes are collapsed and each field is
 * NUL-terminated over its delimiter, closing quote or line break. Field
 * pointers are handed out relative to the start of the batch, which stays in
 * the window until the next call, so memory is bounded by the batch size times
 * the longest row (plus one read chunk).
 *
 * Rules: a header row is required (a UTF-8 BOM is dropped; names are kept
 * exactly, and an empty or repeated name is an error) unless the caller gives
 * the names (opts->names: a part of a file split by lines); fields may be quoted,
 * with "" for a quote and line breaks inside; rows end with LF or CRLF, the
 * last one optionally; blank lines at the end are ignored, a blank line in the
 * middle is a row with one empty field (an error unless there is one column).
 * A quote inside an unquoted field, text after a closing quote, a quote left
 * open, a wrong number of fields, invalid UTF-8 and NUL bytes are errors
 * reported with line and column. Under bad_rows = report a row with the wrong
 * number of fields (or a blank line among several columns) is listed as a
 * malformed row and skipped; the others still stop the source. A header
 * holding tabs but no comma, read with the comma of a .csv name, is refused
 * with the hint that the file is tab-separated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters.h"
#include "base/strmap.h"
#include "base/buf.h"

#if defined(__SSE2__) && !defined(QLOOP_CSV_SCALAR)
#include <emmintrin.h>
#define CSV_SSE2 1
#include "base/utf8_avx2.h"
#ifdef QLOOP_UTF8_AVX2
#define CSV_AVX2 1
#endif
#endif

enum { ROW_DONE, ROW_MORE, ROW_ERR };

#ifndef QLOOP_CSV_SCALAR /* the library's build defines it (adapters.h) */
int qloop_csv_whole_rows = 1;
#endif

struct csv_fld {
    size_t off;           /* absolute offset in the window of the first byte */
    size_t len;           /* bytes, quotes excluded, doubled quotes not yet collapsed */
    unsigned char quoted; /* the field was enclosed in quotes */
    unsigned char dq;     /* it contains doubled quotes */
};

struct csv {
    struct qloop_input in;
    unsigned char delim;
    int avx2;                /* the CPU runs AVX2: plain rows are scanned whole (plain_row) */
    unsigned char ucls[256]; /* bytes that stop an unquoted field */
    unsigned char qcls[256]; /* bytes that stop a quoted field */
    size_t batch_rows;
    size_t ncols;
    char **names;
    /* the row being scanned */
    struct csv_fld *f;
    size_t nf;
    size_t fcap;
    /* position */
    size_t pos;         /* offset of the next row not yet returned */
    size_t bstart;      /* offset of the current batch's first row */
    long line;          /* line of the row at pos */
    uint64_t rows;      /* data rows returned so far */
    size_t blank_known; /* blank lines ahead known to be followed by data */
    int done;
    struct qloop_sticky fail;    /* next_batch failed: for good */
    int tab_hint;       /* the delimiter was not declared: a tabbed header gets the hint */
    int report_bad;     /* bad_rows: skip and list rows with the wrong field count */
    struct qloop_badlist bad;
    /* the batch */
    struct qloop_field *cells;
    size_t *offs; /* field offsets relative to bstart until the batch is handed out */
    uint64_t *row_no;
    uint64_t *line_no;
};

/* Words a delimiter for messages. */
static const char *delim_name(unsigned char d, char tmp[16])
{
    if (d == ',')
        return "逗号“,”";
    if (d == '\t')
        return "制表符";
    if (d == ';')
        return "分号“;”";
    if (d == '|')
        return "竖线“|”";
    snprintf(tmp, 16, "“%c”", d);
    return tmp;
}

/* Fills err at byte `at` of the current row (which starts at st->pos on line
 * st->line) and returns ROW_ERR. */
static int row_error(struct csv *st, struct qloop_error *err, const unsigned char *at,
                     const char *msg)
{
    long l, c;
    qloop_text_position(st->in.buf + st->pos, (const char *)at, st->line, &l, &c);
    qloop_error_set(err, st->in.name, l, c, "%s", msg);
    return ROW_ERR;
}

#ifdef CSV_SSE2
/* Skips from p the bytes that cannot end a field, 16 at a time while 16
 * bytes remain before e: it stops at the first of `stop` (the delimiter of an
 * unquoted field, or '"' again in a quoted one), '"', LF, NUL or a byte of
 * 0x80 and above — exactly the bytes the field's class table stops at — or
 * where fewer than 16 bytes are left. Never reads at or past e; the caller's
 * table loop goes on from the answer. */
static inline const unsigned char *skip16(const unsigned char *p, const unsigned char *e,
                                          unsigned char stop)
{
    const __m128i vs = _mm_set1_epi8((char)stop), vq = _mm_set1_epi8('"');
    const __m128i vn = _mm_set1_epi8('\n'), vz = _mm_setzero_si128();
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vs), _mm_cmpeq_epi8(v, vq)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, vn), _mm_cmpeq_epi8(v, vz)));
        /* movemask of v itself: the bytes with their top bit set */
        unsigned bits = (unsigned)(_mm_movemask_epi8(m) | _mm_movemask_epi8(v));
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
    return p;
}

/* As skip16 for an unquoted field, but the bytes of 0x80 and above do not
 * stop it: it stops at the first delimiter (vd: the delimiter in each
 * byte, made once a row), '"', LF or NUL, or where fewer
 * than 16 bytes are left before e, and sets *high when a byte of 0x80 or
 * above was passed on the way (the caller then checks those as UTF-8). */
static inline const unsigned char *plain16(const unsigned char *p, const unsigned char *e,
                                           __m128i vd, unsigned *high)
{
    const __m128i vq = _mm_set1_epi8('"');
    const __m128i vn = _mm_set1_epi8('\n'), vz = _mm_setzero_si128();
    unsigned hb = 0;
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vq)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, vn), _mm_cmpeq_epi8(v, vz)));
        unsigned stop = (unsigned)_mm_movemask_epi8(m), hi = (unsigned)_mm_movemask_epi8(v);
        if (stop) {
            unsigned k = (unsigned)__builtin_ctz(stop);
            *high = hb | (hi & ((1u << k) - 1));
            return p + k;
        }
        hb |= hi;
        p += 16;
    }
    *high = hb;
    return p;
}
#endif

/* w as read from memory on a little-endian machine (its first byte lowest). */
static inline uint32_t le32(uint32_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap32(w);
#else
    return w;
#endif
}

/* Checks as UTF-8 the bytes of an unquoted field from *pp up to `to`, none
 * of which is a byte that ends the field, the data ending at e: runs of the
 * common three-byte characters (lead E1-EC or EE-EF: any continuation bytes
 * make them well-formed; Chinese text is mostly these), else
 * qloop_utf8_seq. Returns 1 with *pp just past the last sequence (at `to`,
 * or past it when a sequence starting before `to` ends after it); 0 when a
 * sequence at *pp is cut by e, -1 when the one at *pp is invalid. */
static inline int check_utf8(const unsigned char **pp, const unsigned char *to,
                             const unsigned char *e)
{
    const unsigned char *p = *pp;
    while (p < to) {
        if (*p < 0x80) {
            p++;
            continue;
        }
#ifdef CSV_SSE2
        /* up to five such characters a 16-byte load: each byte masked to
         * its marker bits and compared with 1110 / 10 / 10, the leads E0
         * and ED refused; the characters before the first byte that fails
         * are taken */
        while (e - p >= 16) {
            const __m128i mark = _mm_setr_epi8((char)0xF0, (char)0xC0, (char)0xC0, (char)0xF0,
                                               (char)0xC0, (char)0xC0, (char)0xF0, (char)0xC0,
                                               (char)0xC0, (char)0xF0, (char)0xC0, (char)0xC0,
                                               (char)0xF0, (char)0xC0, (char)0xC0, 0);
            const __m128i want = _mm_setr_epi8((char)0xE0, (char)0x80, (char)0x80, (char)0xE0,
                                               (char)0x80, (char)0x80, (char)0xE0, (char)0x80,
                                               (char)0x80, (char)0xE0, (char)0x80, (char)0x80,
                                               (char)0xE0, (char)0x80, (char)0x80, 0);
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned ok = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, mark), want));
            unsigned excl = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE0)),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED))));
            unsigned bad = (~ok & 0xFFFFu) | (excl & 0x1249u) | 0x8000u; /* leads: 0 3 6 9 12 */
            unsigned n = (unsigned)__builtin_ctz(bad) / 3;
            p += 3 * n;
            if (n < 5)
                break;
        }
#endif
        /* each read as one 4-byte word (the 4th byte is at most the NUL
         * at e): lead 1110xxxx but E0 and ED (bit 0 and 13 of 0xDFFE
         * clear), then 10xxxxxx twice */
        while (e - p >= 3) {
            uint32_t w;
            memcpy(&w, p, 4);
            w = le32(w);
            if ((w & 0xC0C0F0u) != 0x8080E0u || !((0xDFFEu >> (w & 0xFu)) & 1u))
                break;
            p += 3;
        }
        if (p >= to || !(*p & 0x80))
            continue;
        int k = qloop_utf8_seq(p, e);
        if (k <= 0) {
            *pp = p;
            return k;
        }
        p += k;
    }
    *pp = p;
    return 1;
}

/* Field slot nf of st->f, the array doubled first when it is full. */
static inline struct csv_fld *field_at(struct csv *st, size_t nf)
{
    if (nf == st->fcap) {
        st->fcap = st->fcap ? st->fcap * 2 : 16;
        st->f = qloop_xrealloc(st->f, st->fcap * sizeof *st->f);
    }
    return &st->f[nf];
}

#ifdef CSV_AVX2
/* The row at offset `start` scanned whole, 32 bytes at a time, when it is
 * plain: no quote and no NUL before its line feed, well-formed UTF-8, and its
 * line feed inside the window's whole 32-byte blocks from `start`. Then its
 * fields (split at each delimiter, the last one without a CR before the line
 * feed) are in st->f[0..st->nf), *end is the offset just past the line feed,
 * and 1 is returned: exactly what scan_row's field loop finds for such a row
 * (with no line breaks inside fields and *term 1). Else 0 and nothing is
 * decided: scan_row scans the row the general way, which also words any
 * error. A malformed sequence is seen at the byte where the check finds it,
 * up to the line feed itself (a sequence cut by it). */
QLOOP_AVX2 static int plain_row(struct csv *st, size_t start, size_t *end)
{
    const unsigned char *b = (const unsigned char *)st->in.buf;
    const unsigned char *q = b + start, *e = b + st->in.len, *fs = q;
    const __m256i vd = _mm256_set1_epi8((char)st->delim), vq = _mm256_set1_epi8('"');
    const __m256i vn = _mm256_set1_epi8('\n'), vz = _mm256_setzero_si256();
    __m256i prev = vz; /* the byte before the row is a line feed or none: ASCII */
    size_t nf = 0;
    for (; e - q >= 32; q += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)q);
        uint32_t lf = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vn));
        uint32_t upto = lf ? lf ^ (lf - 1) : UINT32_MAX; /* the bytes up to the first LF */
        uint32_t stop = (uint32_t)_mm256_movemask_epi8(
            _mm256_or_si256(_mm256_cmpeq_epi8(v, vq), _mm256_cmpeq_epi8(v, vz)));
        __m256i bad = qloop_utf8_avx2_errors(v, prev);
        stop |= ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(bad, vz));
        if (stop & upto)
            return 0;
        uint32_t d = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vd)) & upto;
        while (d) {
            const unsigned char *at = q + __builtin_ctz(d);
            d &= d - 1;
            *field_at(st, nf++) = (struct csv_fld){.off = (size_t)(fs - b), .len = (size_t)(at - fs)};
            fs = at + 1;
        }
        if (lf) {
            const unsigned char *at = q + __builtin_ctz(lf);
            size_t len = (size_t)(at - fs);
            if (len && at[-1] == '\r')
                len--;
            *field_at(st, nf++) = (struct csv_fld){.off = (size_t)(fs - b), .len = len};
            st->nf = nf;
            *end = (size_t)(at + 1 - b);
            return 1;
        }
        prev = v;
    }
    return 0;
}
#endif

/* Scans the row starting at offset `start` (== st->pos). On ROW_DONE, the
 * fields are in st->f[0..st->nf), *end is the offset just past the row's line
 * break (or the end of data), *nl the line breaks inside quoted fields and
 * *term 1 when the row ended with a line break. ROW_MORE: the row is cut by
 * the end of the window and the input has not ended. ROW_ERR: err is filled. */
static int scan_row(struct csv *st, size_t start, size_t *end, long *nl_out, int *term,
                    struct qloop_error *err)
{
    struct qloop_input *in = &st->in;
    const unsigned char *b = (const unsigned char *)in->buf;
    const unsigned char *p = b + start, *e = b + in->len;
    const unsigned char *ucls = st->ucls, *qcls = st->qcls;
    const unsigned char delim = st->delim;
    size_t nf = 0;
    long nl = 0;
#ifdef CSV_SSE2
    const __m128i vdelim = _mm_set1_epi8((char)delim);
#endif
#ifdef CSV_AVX2
    if (st->avx2 && plain_row(st, start, end)) {
        *nl_out = 0;
        *term = 1;
        return ROW_DONE;
    }
#endif

    for (;;) {
        struct csv_fld *fd = field_at(st, nf);
        if (*p == '"' && p < e) {
            const unsigned char *q0 = p, *fs = ++p;
            int dq = 0;
            for (;;) {
#ifdef CSV_SSE2
                p = skip16(p, e, '"');
#endif
                while (!qcls[*p])
                    p++;
                if (*p == '"') {
                    if (p + 1 >= e && !in->eof)
                        return ROW_MORE;
                    if (p + 1 < e && p[1] == '"') {
                        dq = 1;
                        p += 2;
                        continue;
                    }
                    break; /* the closing quote */
                }
                if (*p == '\n') {
                    nl++;
                    p++;
                    continue;
                }
                if (p >= e) {
                    if (!in->eof)
                        return ROW_MORE;
                    if (in->bad_input || in->truncated) {
                        qloop_input_bad_end(in, err, st->line, in->buf + st->pos);
                        return ROW_ERR;
                    }
                    long l, c;
                    qloop_text_position(in->buf + st->pos, (const char *)q0, st->line, &l, &c);
                    qloop_error_set(err, in->name, l, c,
                                    "引号未闭合：从文件第 %ld 行第 %ld 列开始的带引号字段直到文件结束都没有结束引号。"
                                    "请补上结束引号；字段中的引号要写成两个（\"\"）。",
                                    l, c);
                    return ROW_ERR;
                }
                if (*p >= 0x80) {
                    int k = qloop_utf8_seq(p, e);
                    if (k > 0) {
                        p += k;
                        continue;
                    }
                    if (k == 0 && !in->eof)
                        return ROW_MORE;
                }
                qloop_input_bad_byte(in, err, st->line, in->buf + st->pos, (const char *)p);
                return ROW_ERR;
            }
            fd->off = (size_t)(fs - b);
            fd->len = (size_t)(p - fs);
            fd->quoted = 1;
            fd->dq = (unsigned char)dq;
            nf++;
            p++;
            if (p >= e) {
                if (!in->eof)
                    return ROW_MORE;
                if (in->bad_input || in->truncated) {
                    qloop_input_bad_end(in, err, st->line, in->buf + st->pos);
                    return ROW_ERR;
                }
                *term = 0;
                break;
            }
            if (*p == delim) {
                p++;
                continue;
            }
            if (*p == '\n') {
                p++;
                *term = 1;
                break;
            }
            if (*p == '\r') {
                if (p + 1 >= e) {
                    if (!in->eof)
                        return ROW_MORE;
                    if (in->bad_input || in->truncated) {
                        qloop_input_bad_end(in, err, st->line, in->buf + st->pos);
                        return ROW_ERR;
                    }
                    p++;
                    *term = 0;
                    break;
                }
                if (p[1] == '\n') {
                    p += 2;
                    *term = 1;
                    break;
                }
            }
            if (*p == 0) {
                qloop_input_bad_byte(in, err, st->line, in->buf + st->pos, (const char *)p);
                return ROW_ERR;
            }
            char msg[512], tmp[16];
            snprintf(msg, sizeof msg,
                     "结束引号后出现多余字符：带引号的字段结束后应紧跟分隔符（%s）或换行。"
                     "如果引号是值的一部分，请把整个字段用引号括起来，并把其中的引号写成两个（\"\"）。",
                     delim_name(delim, tmp));
            return row_error(st, err, p, msg);
        }

        /* unquoted */
        const unsigned char *fs = p;
#ifdef CSV_SSE2
        /* the field's end found 16 bytes at a time, then its bytes of 0x80
         * and above checked (if any): as the loop below, which reads on
         * from where this stops, would have found them */
        if (e - p >= 16) {
            unsigned high;
            p = plain16(p, e, vdelim, &high);
            if (high) {
                const unsigned char *q = fs;
                int k = check_utf8(&q, p, e);
                if (k <= 0) {
                    if (k == 0 && !in->eof)
                        return ROW_MORE;
                    qloop_input_bad_byte(in, err, st->line, in->buf + st->pos, (const char *)q);
                    return ROW_ERR;
                }
                p = q;
            }
        }
#endif
        for (;;) {
            while (!ucls[*p])
                p++;
            if (*p < 0x80)
                break;
            const unsigned char *q = p;
            int k = check_utf8(&q, p + 1, e);
            if (k > 0) {
                p = q;
                continue;
            }
            if (k == 0 && !in->eof)
                return ROW_MORE;
            qloop_input_bad_byte(in, err, st->line, in->buf + st->pos, (const char *)q);
            return ROW_ERR;
        }
        fd->off = (size_t)(fs - b);
        fd->quoted = 0;
        fd->dq = 0;
        if (*p == delim) {
            fd->len = (size_t)(p - fs);
            nf++;
            p++;
            continue;
        }
        if (*p == '\n') {
            fd->len = (size_t)(p - fs);
            if (fd->len && p[-1] == '\r')
                fd->len--;
            nf++;
            p++;
            *term = 1;
            break;
        }
        if (*p == '"')
            return row_error(st, err, p,
                             "字段中出现未转义的引号：不带引号的字段里不能有双引号。"
                             "请把整个字段用双引号括起来，并把其中的引号写成两个（\"\"）。");
        /* NUL: the sentinel at the end of the data, or a NUL byte in it */
        if (p < e) {
            qloop_input_bad_byte(in, err, st->line, in->buf + st->pos, (const char *)p);
            return ROW_ERR;
        }
        if (!in->eof)
            return ROW_MORE;
        if (in->bad_input || in->truncated) {
            qloop_input_bad_end(in, err, st->line, in->buf + st->pos);
            return ROW_ERR;
        }
        fd->len = (size_t)(p - fs);
        if (fd->len && p[-1] == '\r') /* a lone CR ending the file is its line break */
            fd->len--;
        nf++;
        *term = 0;
        break;
    }
    st->nf = nf;
    *end = (size_t)(p - b);
    *nl_out = nl;
    return ROW_DONE;
}

/* Lowers every offset the state holds by the distance the window moved. */
static void csv_shift(struct csv *st, size_t shift)
{
    if (!shift)
        return;
    st->pos -= shift;
    st->bstart -= shift;
    for (size_t i = 0; i < st->nf; i++)
        st->f[i].off -= shift;
}

/* Reads more input keeping the current batch; returns fill's result. */
static long csv_more(struct csv *st, struct qloop_error *err)
{
    size_t want = qloop_input_chunk_size;
    size_t pending = st->in.len - st->pos;
    if (pending > want)
        want = pending; /* long rows: read geometrically more, rescans stay linear */
    size_t shift;
    long n = qloop_input_fill(&st->in, st->bstart, want, &shift, err);
    csv_shift(st, shift);
    return n;
}

/* Collapses the doubled quotes of n bytes at s in place; returns the new length. */
static size_t unescape_quotes(char *s, size_t n)
{
    char *w = memchr(s, '"', n);
    if (!w)
        return n;
    const char *r = w, *e = s + n;
    while (r < e) {
        if (*r == '"') {
            *w++ = '"';
            r += 2;
        } else {
            *w++ = *r++;
        }
    }
    return (size_t)(w - s);
}

/* After a blank line ending at *at: counts the blank lines that follow (into
 * *count, the first one included) and tells whether only blank lines remain
 * before the end of the input (1) or data follows (0); -1 on a read error.
 * May read more input; *at is kept in step with the window. */
static int blank_run(struct csv *st, size_t *at, size_t *count, struct qloop_error *err)
{
    size_t q = *at, k = 1;
    for (;;) {
        if (q + 1 >= st->in.len && !st->in.eof) {
            size_t before = st->pos;
            if (csv_more(st, err) < 0)
                return -1;
            q -= before - st->pos;
            *at -= before - st->pos;
            continue;
        }
        if (q >= st->in.len) {
            *count = k;
            return st->in.bad_input || st->in.truncated ? 0 : 1;
        }
        const char *b = st->in.buf;
        if (b[q] == '\n') {
            q++;
            k++;
        } else if (b[q] == '\r' && q + 1 < st->in.len && b[q + 1] == '\n') {
            q += 2;
            k++;
        } else {
            *count = k;
            return 0;
        }
    }
}

/* Lists the scanned row (described by err) as malformed under the row number
 * it takes, and moves past it (end, nl, term as scan_row gave them). */
static void skip_bad_row(struct csv *st, const struct qloop_error *err, size_t end, long nl,
                         int term)
{
    qloop_badlist_add(&st->bad, ++st->rows, (uint64_t)st->line, "%s", err->message);
    st->line += nl + term;
    st->pos = end;
    st->nf = 0;
}

/* adapter.h next_batch: up to batch_rows complete rows, fields pointing into
 * the window from the batch's first row on. */
static int csv_next_batch(void *state, struct qloop_batch *bt, struct qloop_error *err)
{
    struct csv *st = state;
    const size_t m = st->ncols;
    size_t n = 0;
    struct qloop_error local;
    if (!err)
        err = &local;
    memset(bt, 0, sizeof *bt);
    bt->ncols = m;
    bt->cells = st->cells;
    bt->row_no = st->row_no;
    bt->line_no = st->line_no;
    if (qloop_sticky_failed(&st->fail, err))
        return -1;
    if (st->done)
        return 0;
    qloop_badlist_reset(&st->bad);
    st->bstart = st->pos;
    st->nf = 0;
    while (n < st->batch_rows) {
        if (st->pos >= st->in.len) {
            if (st->in.eof) {
                if (st->in.bad_input || st->in.truncated) {
                    qloop_input_bad_end(&st->in, err, st->line, st->in.buf + st->pos);
                    return qloop_sticky_fail(&st->fail, err);
                }
                st->done = 1;
                break;
            }
            if (csv_more(st, err) < 0)
                return qloop_sticky_fail(&st->fail, err);
            continue;
        }
        size_t end;
        long nl;
        int term;
        int r = scan_row(st, st->pos, &end, &nl, &term, err);
        if (r == ROW_ERR)
            return qloop_sticky_fail(&st->fail, err);
        if (r == ROW_MORE) {
            st->nf = 0;
            if (csv_more(st, err) < 0)
                return qloop_sticky_fail(&st->fail, err);
            continue;
        }
        if (st->nf == 1 && !st->f[0].quoted && st->f[0].len == 0 && term) {
            if (st->blank_known == 0) {
                int t = blank_run(st, &end, &st->blank_known, err);
                if (t < 0)
                    return qloop_sticky_fail(&st->fail, err);
                if (t == 1) {
                    st->pos = st->in.len;
                    st->done = 1;
                    break;
                }
            }
            st->blank_known--;
            if (m > 1) {
                qloop_error_set(err, st->in.name, st->line, 1,
                                "空行：表头有 %zu 列，文件的这一行（应为数据第 %llu 行）却是空的。"
                                "请删除这个空行，或补全该行的 %zu 个字段。",
                                m, (unsigned long long)st->rows + 1, m);
                if (!st->report_bad)
                    return qloop_sticky_fail(&st->fail, err);
                skip_bad_row(st, err, end, nl, term);
                continue;
            }
        } else if (st->nf != m) {
            char tmp[16];
            long l = st->line, c = 0;
            if (st->nf > m)
                qloop_text_position(st->in.buf + st->pos,
                                    st->in.buf + st->f[m].off - st->f[m].quoted, st->line, &l, &c);
            qloop_error_set(err, st->in.name, l, c,
                            "字段数不对：数据第 %llu 行（从文件这一行开始）有 %zu 个字段，表头有 %zu 个。"
                            "请检查是否%s分隔符（%s）；值里含有分隔符或换行时，要用双引号把整个值括起来。",
                            (unsigned long long)st->rows + 1, st->nf, m, st->nf > m ? "多了" : "少了",
                            delim_name(st->delim, tmp));
            if (!st->report_bad)
                return qloop_sticky_fail(&st->fail, err);
            skip_bad_row(st, err, end, nl, term);
            continue;
        }
        /* finish the row in place */
        char *base = st->in.buf;
        struct qloop_field *cell = st->cells + n * m;
        size_t *off = st->offs + n * m;
        for (size_t j = 0; j < m; j++) {
            char *s = base + st->f[j].off;
            size_t len = st->f[j].len;
            if (st->f[j].dq)
                len = unescape_quotes(s, len);
            s[len] = '\0';
            off[j] = st->f[j].off - st->bstart;
            cell[j].len = len;
            cell[j].null = 0;
        }
        st->row_no[n] = ++st->rows;
        st->line_no[n] = (uint64_t)st->line;
        n++;
        st->line += nl + term;
        st->pos = end;
        st->nf = 0;
    }
    const char *bb = st->in.buf + st->bstart;
    for (size_t k = 0; k < n * m; k++)
        st->cells[k].ptr = bb + st->offs[k];
    return qloop_batch_fill(bt, n, m, st->cells, st->row_no, st->line_no, &st->bad);
}

/* adapter.h columns: the header names, fixed after open. */
static void csv_columns(void *state, size_t *ncols, const char *const **names)
{
    struct csv *st = state;
    *ncols = st->ncols;
    *names = (const char *const *)st->names;
}

/* adapter.h close: frees everything; state may be NULL. */
static void csv_close(void *state)
{
    struct csv *st = state;
    if (!st)
        return;
    qloop_input_close(&st->in);
    for (size_t i = 0; i < st->ncols; i++)
        free(st->names[i]);
    free(st->names);
    free(st->f);
    free(st->cells);
    free(st->offs);
    free(st->row_no);
    free(st->line_no);
    qloop_badlist_free(&st->bad);
    free(st);
}

/* Reads and checks the header row (non-empty, no empty or repeated name);
 * sets names and ncols and moves pos past it. Returns 0 or -1 with err. */
static int read_header(struct csv *st, struct qloop_error *err)
{
    size_t end;
    long nl;
    int term;
    for (;;) {
        if (st->pos >= st->in.len && st->in.eof) {
            if (st->in.bad_input || st->in.truncated)
                return qloop_input_bad_end(&st->in, err, 1, st->in.buf);
            return qloop_error_set(err, st->in.name, 0, 0,
                                   "文件为空：CSV 文件的第一行必须是表头（列名），请检查文件是否导出完整。");
        }
        int r = scan_row(st, st->pos, &end, &nl, &term, err);
        if (r == ROW_ERR)
            return -1;
        if (r == ROW_DONE)
            break;
        if (csv_more(st, err) < 0)
            return -1;
    }
    if (st->nf == 1 && !st->f[0].quoted && st->f[0].len == 0)
        return qloop_error_set(err, st->in.name, 1, 1,
                               "第一行是空行：CSV 文件的第一行必须是表头（列名），请删除文件开头的空行。");
    if (st->tab_hint && st->nf == 1 && memchr(st->in.buf + st->f[0].off, '\t', st->f[0].len))
        return qloop_error_set(err, st->in.name, 1, 0,
                               "表头里有制表符却没有逗号：这个文件看起来是制表符分隔的（TSV），却被当作逗号分隔的 "
                               "CSV 读取，所以整行成了一个列名。请把文件扩展名改为 .tsv，或在 dataset 中写 "
                               "format = \"tsv\"。");
    /* A carriage return inside an unquoted header field: the file breaks its
     * lines with CR alone (old Mac style), so the whole file reads as one
     * row. Said as such, instead of a column that is not in the header. */
    for (size_t j = 0; j < st->nf; j++) {
        const char *cr = st->f[j].quoted ? NULL : memchr(st->in.buf + st->f[j].off, '\r', st->f[j].len);
        if (cr) {
            long l, c;
            qloop_text_position(st->in.buf + st->pos, cr, 1, &l, &c);
            return qloop_error_set(err, st->in.name, l, c,
                                   "文件只用回车符（CR）换行（旧式 Mac 格式），整个文件会被读成一行："
                                   "请把换行符转换为 LF 或 CRLF（如 tr '\\r' '\\n' < 原文件 > 新文件）后重试。");
        }
    }
    st->ncols = st->nf;
    st->names = qloop_xcalloc(st->nf, sizeof *st->names);
    for (size_t j = 0; j < st->nf; j++) {
        char *s = qloop_xstrndup(st->in.buf + st->f[j].off, st->f[j].len);
        if (st->f[j].dq)
            s[unescape_quotes(s, st->f[j].len)] = '\0';
        st->names[j] = s;
    }
    /* Empty and repeated names, in one pass over a hash of the names seen
     * (a header of 100,000 columns costs as much as its bytes); the
     * position is worked out only for the name reported. */
    struct strmap *seen = strmap_new();
    for (size_t j = 0; j < st->nf; j++) {
        size_t len = strlen(st->names[j]);
        int created = 0;
        uint64_t *slot = len ? strmap_put(seen, st->names[j], len, &created) : NULL;
        if (slot && created) {
            *slot = j + 1;
            continue;
        }
        size_t first = slot ? (size_t)*slot : 0;
        strmap_free(seen);
        long l, c;
        qloop_text_position(st->in.buf + st->pos, st->in.buf + st->f[j].off - st->f[j].quoted, 1,
                            &l, &c);
        if (!len) {
            char tmp[16];
            return qloop_error_set(err, st->in.name, l, c,
                                   "表头第 %zu 列的列名为空：每一列都必须有列名。请补上列名，"
                                   "或删除行末多余的分隔符（%s）。",
                                   j + 1, delim_name(st->delim, tmp));
        }
        return qloop_error_set(err, st->in.name, l, c,
                               "列名“%s”重复：表头第 %zu 列和第 %zu 列同名。每个列名只能出现一次，请改名。",
                               st->names[j], first, j + 1);
    }
    strmap_free(seen);
    st->line += nl + term;
    st->pos = end;
    st->nf = 0;
    return 0;
}

/* Takes the column names given for an input without a header line (none
 * empty, none repeated). Returns 0 or -1 with err. */
static int given_header(struct csv *st, const char *const *names, size_t n, struct qloop_error *err)
{
    if (n == 0)
        return qloop_error_set(err, st->in.name, 0, 0, "没有给出列名：没有表头的 CSV 需要列名。");
    st->ncols = n;
    st->names = qloop_xcalloc(n, sizeof *st->names);
    for (size_t j = 0; j < n; j++) {
        st->names[j] = qloop_xstrdup(names[j]);
        if (!names[j][0])
            return qloop_error_set(err, st->in.name, 0, 0, "给出的第 %zu 个列名为空：每一列都必须有列名。",
                                   j + 1);
        for (size_t i = 0; i < j; i++)
            if (!strcmp(names[i], names[j]))
                return qloop_error_set(err, st->in.name, 0, 0,
                                       "给出的列名“%s”重复（第 %zu 个和第 %zu 个）。每个列名只能出现一次。",
                                       names[j], i + 1, j + 1);
    }
    return 0;
}

/* Opens a CSV source with the given default delimiter (used when
 * opts->delimiter is 0). */
static int csv_open_with(const char *path, const struct qloop_source_options *opts,
                         unsigned char default_delim, void **state, struct qloop_error *err)
{
    *state = NULL;
    unsigned char d = opts && opts->delimiter ? (unsigned char)opts->delimiter : default_delim;
    if (d == '"' || d == '\n' || d == '\r' || d >= 0x80)
        return qloop_error_set(err, path, 0, 0,
                               "分隔符无效：不能用引号、换行或非 ASCII 字符作分隔符，请改用逗号或制表符。");
    struct csv *st = qloop_xcalloc(1, sizeof *st);
    if (qloop_input_open(&st->in, path, opts ? opts->encoding : NULL, err) < 0) {
        free(st);
        return -1;
    }
    st->delim = d;
#ifdef CSV_AVX2
    st->avx2 = qloop_csv_whole_rows && qloop_have_avx2();
#endif
    st->ucls[d] = st->ucls['"'] = st->ucls['\n'] = st->ucls[0] = 1;
    st->qcls['"'] = st->qcls['\n'] = st->qcls[0] = 1;
    for (int c = 0x80; c < 256; c++)
        st->ucls[c] = st->qcls[c] = 1;
    st->batch_rows = opts && opts->batch_rows ? opts->batch_rows : 4096;
    st->tab_hint = d == ',' && !(opts && opts->delimiter);
    st->report_bad = opts && opts->bad_rows == QLOOP_BAD_ROWS_REPORT;
    st->line = 1;
    if (opts && opts->names ? given_header(st, opts->names, opts->nnames, err) < 0
                            : read_header(st, err) < 0) {
        csv_close(st);
        return -1;
    }
    st->cells = qloop_xcalloc(st->batch_rows * st->ncols, sizeof *st->cells);
    st->offs = qloop_xcalloc(st->batch_rows * st->ncols, sizeof *st->offs);
    st->row_no = qloop_xcalloc(st->batch_rows, sizeof *st->row_no);
    st->line_no = qloop_xcalloc(st->batch_rows, sizeof *st->line_no);
    *state = st;
    return 0;
}

/* 1 when path ends in ".tsv" (any case). */
static int is_tsv_path(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcasecmp(path + n - 4, ".tsv");
}

/* adapter.h open: comma by default, tab for a .tsv path. */
static int csv_open(const char *path, const struct qloop_source_options *opts, void **state,
                    struct qloop_error *err)
{
    return csv_open_with(path, opts, is_tsv_path(path) ? '\t' : ',', state, err);
}

/* adapter.h open: tab by default whatever the path. */
static int tsv_open(const char *path, const struct qloop_source_options *opts, void **state,
                    struct qloop_error *err)
{
    return csv_open_with(path, opts, '\t', state, err);
}

static const char *const csv_extensions[] = {"csv", "tsv", "txt", NULL};
static const char *const tsv_extensions[] = {"tsv", NULL};

const struct qloop_adapter qloop_adapter_csv = {
    .name = "csv",
    .extensions = csv_extensions,
    .flags = QLOOP_ADAPTER_ONE_BUFFER,
    .open = csv_open,
    .columns = csv_columns,
    .next_batch = csv_next_batch,
    .close = csv_close,
};

const struct qloop_adapter qloop_adapter_tsv = {
    .name = "tsv",
    .extensions = tsv_extensions,
    .flags = QLOOP_ADAPTER_ONE_BUFFER,
    .open = tsv_open,
    .columns = csv_columns,
    .next_batch = csv_next_batch,
    .close = csv_close,
};
