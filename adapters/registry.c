/*
 * registry.c — the list of adapters, choosing one for a dataset, and the
 * pieces every adapter shares (see adapters.h): reading a file or standard
 * input in chunks into a growable window, converting GBK/GB18030 to UTF-8
 * with iconv across chunk boundaries, and wording the Chinese messages about
 * bad bytes (with the "looks like GBK" hint; UTF-8 validity itself is
 * engine/base/text.h's); the set of columns learnt while reading (JSON keys),
 * numbers as text, and the list of malformed rows a batch reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"

/* ---- registry ------------------------------------------------------------ */

const struct qloop_adapter *const qloop_adapters[] = {
    &qloop_adapter_csv,
    &qloop_adapter_jsonl,
    &qloop_adapter_json,
    &qloop_adapter_xlsx,
    &qloop_adapter_odbc,
    NULL,
};

const struct qloop_adapter *qloop_adapter_find(const char *path, const char *format)
{
    for (size_t i = 0; path && qloop_adapters[i]; i++) {
        const char *sc = qloop_adapters[i]->scheme;
        size_t n = sc ? strlen(sc) : 0;
        if (sc && !strncasecmp(path, sc, n) && path[n] == ':')
            return qloop_adapters[i];
    }
    if (format) {
        if (!strcasecmp(format, "csv"))
            return &qloop_adapter_csv;
        if (!strcasecmp(format, "tsv"))
            return &qloop_adapter_tsv;
        if (!strcasecmp(format, "jsonl") || !strcasecmp(format, "ndjson"))
            return &qloop_adapter_jsonl;
        if (!strcasecmp(format, "json"))
            return &qloop_adapter_json;
        if (!strcasecmp(format, "xlsx"))
            return &qloop_adapter_xlsx;
        return NULL;
    }
    if (!path)
        return NULL;
    if (!strcmp(path, "-"))
        return &qloop_adapter_csv;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || !dot[1])
        return NULL;
    for (size_t i = 0; qloop_adapters[i]; i++)
        for (const char *const *e = qloop_adapters[i]->extensions; *e; e++)
            if (!strcasecmp(dot + 1, *e))
                return qloop_adapters[i];
    return NULL;
}

/* ---- columns learnt while reading ------------------------------------------ */

/* FNV-1a. */
static size_t hash_name(const char *s)
{
    size_t h = (size_t)14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
    return h;
}

size_t qloop_colset_find(const struct qloop_colset *c, const char *name)
{
    if (!c->hcap)
        return (size_t)-1;
    for (size_t i = hash_name(name) & (c->hcap - 1);; i = (i + 1) & (c->hcap - 1)) {
        size_t v = c->hash[i];
        if (!v)
            return (size_t)-1;
        if (!strcmp(c->names[v - 1], name))
            return v - 1;
    }
}

/* Puts column idx into the hash table (which has room). */
static void colset_hash_put(struct qloop_colset *c, size_t idx)
{
    size_t i = hash_name(c->names[idx]) & (c->hcap - 1);
    while (c->hash[i])
        i = (i + 1) & (c->hcap - 1);
    c->hash[i] = idx + 1;
}

size_t qloop_colset_add(struct qloop_colset *c, const char *name)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->names = qloop_xrealloc(c->names, c->cap * sizeof *c->names);
    }
    c->names[c->n++] = qloop_xstrdup(name);
    if (c->n * 2 > c->hcap) {
        free(c->hash);
        c->hcap = c->hcap ? c->hcap * 2 : 32;
        c->hash = qloop_xcalloc(c->hcap, sizeof *c->hash);
        for (size_t i = 0; i < c->n; i++)
            colset_hash_put(c, i);
    } else {
        colset_hash_put(c, c->n - 1);
    }
    return c->n - 1;
}

void qloop_colset_truncate(struct qloop_colset *c, size_t n)
{
    if (c->n <= n)
        return;
    for (size_t i = n; i < c->n; i++)
        free(c->names[i]);
    c->n = n;
    memset(c->hash, 0, c->hcap * sizeof *c->hash);
    for (size_t i = 0; i < c->n; i++)
        colset_hash_put(c, i);
}

void qloop_colset_free(struct qloop_colset *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->hash);
    memset(c, 0, sizeof *c);
}

/* ---- numbers as text ---------------------------------------------------------- */

void qloop_put_real(struct qloop_buf *out, double d)
{
    char tmp[40];
    /* 15 significant digits name a normal double uniquely, so when they
     * read back they are also the shortest form; subnormals have fewer
     * digits of precision and are searched from 1. */
    int from = d != 0 && d < DBL_MIN && d > -DBL_MIN ? 1 : 15;
    for (int prec = from; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    qloop_buf_append(out, tmp, strlen(tmp));
}

void qloop_put_json_number(struct qloop_buf *out, const char *tok, size_t len)
{
    if (!memchr(tok, '.', len) && !memchr(tok, 'e', len) && !memchr(tok, 'E', len)) {
        if (len == 2 && tok[0] == '-' && tok[1] == '0')
            qloop_buf_append(out, "0", 1);
        else
            qloop_buf_append(out, tok, len);
        return;
    }
    char small[64];
    char *t = len < sizeof small ? small : qloop_xmalloc(len + 1);
    memcpy(t, tok, len);
    t[len] = '\0';
    double d = strtod(t, NULL);
    if (isfinite(d))
        qloop_put_real(out, d);
    else
        qloop_buf_append(out, tok, len); /* 1e999: as written */
    if (t != small)
        free(t);
}

/* ---- a failure that stays, and rows built in an arena ------------------------------ */

int qloop_sticky_fail(struct qloop_sticky *s, const struct qloop_error *err)
{
    s->failed = 1;
    s->saved = *err;
    return -1;
}

int qloop_sticky_failed(const struct qloop_sticky *s, struct qloop_error *err)
{
    if (s->failed)
        *err = s->saved;
    return s->failed;
}

void qloop_jcells_to_fields(struct qloop_field *out, const struct qloop_jcell *cells, size_t stride,
                            size_t nrows, size_t ncols, const char *arena)
{
    for (size_t i = 0; i < nrows; i++)
        for (size_t j = 0; j < ncols; j++) {
            const struct qloop_jcell *c = &cells[i * stride + j];
            struct qloop_field *f = &out[i * ncols + j];
            f->null = c->null;
            f->len = c->null ? 0 : c->len;
            f->ptr = c->null ? "" : arena + c->off;
        }
}

/* ---- malformed rows ------------------------------------------------------------- */

void qloop_badlist_add(struct qloop_badlist *b, uint64_t row_no, uint64_t line_no,
                       const char *fmt, ...)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = qloop_xrealloc(b->v, b->cap * sizeof *b->v);
        b->msg_off = qloop_xrealloc(b->msg_off, b->cap * sizeof *b->msg_off);
    }
    b->v[b->n] = (struct qloop_bad_row){.row_no = row_no, .line_no = line_no};
    b->msg_off[b->n] = b->text.len;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    qloop_buf_append(&b->text, tmp, strlen(tmp) + 1);
    b->n++;
}

void qloop_badlist_hand_out(struct qloop_badlist *b, struct qloop_batch *batch)
{
    for (size_t i = 0; i < b->n; i++)
        b->v[i].message = b->text.ptr + b->msg_off[i];
    batch->bad = b->n ? b->v : NULL;
    batch->nbad = b->n;
}

int qloop_batch_fill(struct qloop_batch *bt, size_t nrows, size_t ncols, struct qloop_field *cells,
                     uint64_t *row_no, uint64_t *line_no, struct qloop_badlist *bad)
{
    bt->nrows = nrows;
    bt->ncols = ncols;
    bt->cells = cells;
    bt->row_no = row_no;
    bt->line_no = line_no;
    bt->nbad = 0;
    bt->bad = NULL;
    if (bad)
        qloop_badlist_hand_out(bad, bt);
    return nrows > 0 || bt->nbad > 0 ? 1 : 0;
}

void qloop_fields_point(struct qloop_field *cells, const size_t *offs, size_t n, const char *arena)
{
    for (size_t k = 0; k < n; k++)
        if (!cells[k].null)
            cells[k].ptr = arena + offs[k];
}

void qloop_badlist_reset(struct qloop_badlist *b)
{
    b->n = 0;
    qloop_buf_reset(&b->text);
}

void qloop_badlist_free(struct qloop_badlist *b)
{
    free(b->v);
    free(b->msg_off);
    qloop_buf_free(&b->text);
    memset(b, 0, sizeof *b);
}

/* ---- input ----------------------------------------------------------------- */

size_t qloop_input_chunk_size = (size_t)1 << 20;

/* Sets err for the file of in and returns -1 (file-level problem, no line). */
#define INPUT_FAIL(in, err, ...) qloop_error_set((err), (in)->name, 0, 0, __VA_ARGS__)

int qloop_input_open(struct qloop_input *in, const char *path, const char *encoding,
                     struct qloop_error *err)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->cd = (iconv_t)-1;
    int is_stdin = !strcmp(path, "-");
    snprintf(in->name, sizeof in->name, "%s", is_stdin ? "<stdin>" : path);

    if (encoding && *encoding && strcasecmp(encoding, "utf-8") && strcasecmp(encoding, "utf8")) {
        if (strcasecmp(encoding, "gbk") && strcasecmp(encoding, "gb2312") &&
            strcasecmp(encoding, "gb18030") && strcasecmp(encoding, "cp936"))
            return INPUT_FAIL(in, err,
                              "不支持的编码“%s”：encoding 只能是 \"utf-8\"、\"gbk\" 或 \"gb18030\"。",
                              encoding);
        /* GB18030 decodes every GB2312 and GBK byte sequence the same way and
         * also the four-byte rare characters (生僻字) that exports labelled GBK
         * often contain. */
        in->cd = iconv_open("UTF-8", "GB18030");
        if (in->cd == (iconv_t)-1)
            return INPUT_FAIL(in, err, "系统不支持 GB18030 编码转换（iconv）：请把文件另存为 UTF-8。");
        in->encoding = encoding;
    }

    if (is_stdin) {
        in->fd = 0;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            int e = errno;
            qloop_input_close(in);
            if (e == ENOENT || e == ENOTDIR)
                return INPUT_FAIL(in, err, "找不到数据文件：请检查路径是否正确（相对路径从当前目录算起）。");
            if (e == EACCES)
                return INPUT_FAIL(in, err, "没有读取该数据文件的权限：请检查文件权限。");
            return INPUT_FAIL(in, err, "无法打开数据文件（%s）：请检查路径和权限。", strerror(e));
        }
        in->close_fd = 1;
        struct stat sb;
        if (fstat(in->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            qloop_input_close(in);
            return INPUT_FAIL(in, err, "这是一个目录，不是数据文件：请给出文件的路径。");
        }
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }

    size_t shift;
    if (qloop_input_fill(in, 0, qloop_input_chunk_size, &shift, err) < 0) {
        qloop_input_close(in);
        return -1;
    }
    if (in->cd == (iconv_t)-1) {
        /* The BOM might be cut by a tiny chunk size: read until 3 bytes. */
        while (in->len < 3 && !in->eof)
            if (qloop_input_fill(in, 0, qloop_input_chunk_size, &shift, err) < 0) {
                qloop_input_close(in);
                return -1;
            }
        const unsigned char *b = (const unsigned char *)in->buf;
        if (in->len >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
            qloop_input_close(in);
            return qloop_error_set(err, in->name, 1, 1,
                                   "文件是 UTF-16 编码：请把文件另存为 UTF-8（Excel 中选择“CSV UTF-8”）。");
        }
        if (in->len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
            memmove(in->buf, in->buf + 3, in->len - 3 + 1);
            in->len -= 3;
        }
    }
    return 0;
}

/* Makes room for `need` more bytes (plus the NUL) after buf[len], first by
 * dropping [0, keep), then by growing. Sets *shift. */
static void input_room(struct qloop_input *in, size_t keep, size_t need, size_t *shift)
{
    *shift = 0;
    if (in->cap >= in->len + need + 1)
        return;
    if (keep > 0) {
        memmove(in->buf, in->buf + keep, in->len - keep);
        in->len -= keep;
        *shift = keep;
        in->buf[in->len] = '\0';
        if (in->cap >= in->len + need + 1)
            return;
    }
    size_t cap = in->cap ? in->cap : 4096;
    while (cap < in->len + need + 1)
        cap *= 2;
    in->buf = qloop_xrealloc(in->buf, cap);
    in->cap = cap;
}

/* Reads up to n bytes into p, looping over short reads; returns the count (0
 * at end of file) or -1 with err filled. */
static long input_read(struct qloop_input *in, char *p, size_t n, int *eof, struct qloop_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(in->fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EISDIR)
                return INPUT_FAIL(in, err, "这是一个目录，不是数据文件：请给出文件的路径。");
            return INPUT_FAIL(in, err, "读取数据文件出错（%s）：请检查文件是否完整、磁盘是否正常。",
                              strerror(errno));
        }
        if (r == 0) {
            *eof = 1;
            break;
        }
        got += (size_t)r;
    }
    return (long)got;
}

long qloop_input_fill(struct qloop_input *in, size_t keep, size_t want, size_t *shift,
                      struct qloop_error *err)
{
    *shift = 0;
    if (in->eof)
        return 0;
    if (want == 0)
        want = 1;

    if (in->cd == (iconv_t)-1) {
        input_room(in, keep, want, shift);
        long n = input_read(in, in->buf + in->len, want, &in->eof, err);
        if (n < 0)
            return -1;
        in->len += (size_t)n;
        in->buf[in->len] = '\0';
        return n;
    }

    /* Converting: read raw bytes after any carried-over partial sequence and
     * convert as much as is complete; loop until something came out. */
    size_t before = in->len;
    int moved = 0;
    while (in->len == before && !in->eof) {
        if (!in->raw_eof) {
            if (in->raw_cap < in->raw_len + want) {
                in->raw_cap = in->raw_len + want;
                in->raw = qloop_xrealloc(in->raw, in->raw_cap);
            }
            long n = input_read(in, in->raw + in->raw_len, want, &in->raw_eof, err);
            if (n < 0)
                return -1;
            in->raw_len += (size_t)n;
            if (!in->started && (in->raw_len >= 3 || in->raw_eof)) {
                in->started = 1;
                const unsigned char *b = (const unsigned char *)in->raw;
                if (in->raw_len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
                    return INPUT_FAIL(in, err,
                                      "文件以 UTF-8 的 BOM 开头，却被声明为 encoding = \"%s\"："
                                      "文件实际是 UTF-8，请去掉数据集的 encoding 声明。",
                                      in->encoding);
            }
            if (!in->started)
                continue;
        }
        /* GB18030 → UTF-8 grows at most 3/2 (two bytes → three). */
        size_t room_needed = in->raw_len + in->raw_len / 2 + 8;
        size_t sh;
        input_room(in, moved ? 0 : keep, room_needed, &sh);
        if (sh)
            moved = 1;
        *shift += sh;
        before -= sh;
        char *ip = in->raw, *op = in->buf + in->len;
        size_t il = in->raw_len, ol = in->cap - in->len - 1;
        size_t r = iconv(in->cd, &ip, &il, &op, &ol);
        int e = errno;
        in->len = (size_t)(op - in->buf);
        in->buf[in->len] = '\0';
        if (r == (size_t)-1 && e == EILSEQ) {
            in->bad_input = 1;
            in->bad_byte = (unsigned char)*ip;
            in->eof = 1;
        } else if (r == (size_t)-1 && e == EINVAL && in->raw_eof) {
            in->truncated = 1;
            in->bad_byte = (unsigned char)*ip;
            in->eof = 1;
        } else if (r == (size_t)-1 && e != EINVAL && e != E2BIG) {
            return INPUT_FAIL(in, err, "编码转换出错（%s）：请把文件另存为 UTF-8。", strerror(e));
        }
        memmove(in->raw, ip, il);
        in->raw_len = il;
        if (in->raw_eof && in->raw_len == 0)
            in->eof = 1;
    }
    return (long)(in->len - before);
}

void qloop_input_close(struct qloop_input *in)
{
    if (in->close_fd && in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    in->close_fd = 0;
    if (in->cd != (iconv_t)-1 && in->cd != (iconv_t)0)
        iconv_close(in->cd);
    in->cd = (iconv_t)-1;
    free(in->buf);
    free(in->raw);
    in->buf = in->raw = NULL;
    in->len = in->cap = in->raw_len = in->raw_cap = 0;
}

/* ---- positions and bad bytes ------------------------------------------------ */

void qloop_text_position(const char *from, const char *at, long line, long *out_line,
                         long *out_col)
{
    const char *ls = from;
    for (const char *p = from; p < at; p++)
        if (*p == '\n') {
            line++;
            ls = p + 1;
        }
    *out_line = line;
    *out_col = (long)qloop_utf8_chars(ls, (size_t)(at - ls)) + 1;
}

/* 1 when the bytes decode as GB18030 (allowing a cut sequence at the end) and
 * contain at least one CJK ideograph: the mark of a GBK export. */
static int looks_gb18030(const char *p, size_t n)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return 0;
    int cjk = 0, ok = 1;
    char *ip = (char *)p;
    size_t il = n;
    while (il > 0) {
        char out[1024];
        char *op = out;
        size_t ol = sizeof out;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        for (const unsigned char *u = (const unsigned char *)out; u + 2 < (const unsigned char *)op; u++)
            if (*u >= 0xE4 && *u <= 0xE9 && (u[1] & 0xC0) == 0x80)
                cjk = 1;
        if (r == (size_t)-1 && e == E2BIG)
            continue;
        if (r == (size_t)-1 && e != EINVAL)
            ok = 0;
        break;
    }
    iconv_close(cd);
    return ok && cjk;
}

int qloop_input_bad_byte(const struct qloop_input *in, struct qloop_error *err, long line,
                         const char *line_start, const char *bad)
{
    long l, col;
    qloop_text_position(line_start, bad, line, &l, &col);
    unsigned char b = (unsigned char)*bad;
    if (b == 0)
        return qloop_error_set(err, in->name, l, col,
                               "数据中含有 NUL 字节（0x00）：文件可能已损坏或不是文本文件，"
                               "请检查导出方式后重新导出。");
    const char *end = in->buf + in->len;
    if (qloop_utf8_seq((const unsigned char *)bad, (const unsigned char *)end) == 0)
        return qloop_error_set(err, in->name, l, col,
                               "文件在一个 UTF-8 多字节字符的中间结束（字节 0x%02X）："
                               "文件可能被截断，请重新导出。",
                               b);
    size_t n = (size_t)(end - bad);
    const char *nl = memchr(bad, '\n', n);
    if (nl)
        n = (size_t)(nl - bad);
    if (n > 4096)
        n = 4096;
    if (looks_gb18030(bad, n))
        return qloop_error_set(err, in->name, l, col,
                               "不是有效的 UTF-8 编码（字节 0x%02X）：文件看起来是 GBK/GB18030 编码。"
                               "请在数据集定义中声明 encoding = \"gbk\"，或把文件另存为 UTF-8。",
                               b);
    return qloop_error_set(err, in->name, l, col,
                           "不是有效的 UTF-8 编码（字节 0x%02X）：请把文件另存为 UTF-8；"
                           "如果文件是 GBK/GB18030 编码，请在数据集定义中声明 encoding = \"gbk\"。",
                           b);
}

int qloop_input_bad_end(const struct qloop_input *in, struct qloop_error *err, long line,
                        const char *line_start)
{
    long l, col;
    qloop_text_position(line_start, in->buf + in->len, line, &l, &col);
    if (in->truncated)
        return qloop_error_set(err, in->name, l, col,
                               "文件在一个 %s 多字节字符的中间结束（字节 0x%02X）：文件可能被截断，请重新导出。",
                               in->encoding ? in->encoding : "UTF-8", in->bad_byte);
    return qloop_error_set(err, in->name, l, col,
                           "不是有效的 %s 编码（字节 0x%02X）：数据集声明了 encoding = \"%s\"，"
                           "但文件在此处无法按该编码解读。请确认文件的实际编码；如果文件是 UTF-8，"
                           "请去掉 encoding 声明。",
                           in->encoding ? in->encoding : "UTF-8", in->bad_byte,
                           in->encoding ? in->encoding : "utf-8");
}
