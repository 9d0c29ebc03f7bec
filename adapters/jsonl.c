/*
 * jsonl.c — the JSON Lines adapter (one JSON object per line).
 *
 * Lines are cut from the chunked input window (adapters.h) with memchr, checked
 * for UTF-8 and NUL bytes, and parsed one at a time with jansson. Values become
 * text in a per-batch arena: strings as they are, integers in decimal, reals
 * in the shortest %g form that reads back to the same double (1.0 → "1"),
 * true/false as "true"/"false", arrays and objects as compact JSON; null (and
 * a key the object lacks) is a null field. The columns are the keys of the first object
 * in order; keys first seen later are appended, and rows read before them in
 * the same batch get null there. Blank lines are skipped. Memory is the
 * longest line plus one batch of values.
 *
 * Speed: most lines of a data feed are flat objects of strings, numbers,
 * booleans and nulls. Those are read by a small parser of our own straight
 * into the batch (fast_row), about five times faster than building a
 * jansson tree; any line it is not sure of — nesting, a duplicate key, an
 * escape it does not take, a number it cannot keep exactly, anything
 * malformed — goes to jansson, so results and error messages stay jansson's.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"
#include "base/buf.h"

struct jl {
    struct qloop_input in;
    size_t batch_rows;
    struct qloop_colset cols; /* columns in order of first appearance */
    /* reading */
    size_t pos;     /* offset of the next line in the window */
    size_t scanned; /* bytes after pos known to hold no '\n' */
    long line;      /* number of the line at pos */
    json_t *first;  /* the object open() read, not yet returned */
    long first_line;
    uint64_t rows;
    int done;
    struct qloop_sticky fail;    /* next_batch failed: for good */
    int report_bad;              /* bad_rows: skip and list malformed lines */
    struct qloop_badlist bad;
    int bad_out;                 /* bad was handed out with the last batch */
    /* the batch: rows laid out with stride astride while filling */
    struct qloop_jcell *jc;
    size_t astride;
    struct qloop_buf arena;
    struct qloop_field *cells; /* handed out with stride ncols */
    size_t cells_cap;
    uint64_t *row_no;
    uint64_t *line_no;
    /* the fast path: a key buffer, and per column the last line that set it */
    struct qloop_buf key;
    unsigned long *seen;
    size_t seen_cap;
    unsigned long fast_gen;
};

/* Whether the flat-object fast path is used (tests turn it off to compare). */
int qloop_jsonl_fast = 1;

/* Cuts the next line (without its line break and a CR before it) from the
 * input: 1 with *lp, *ln, *lno set (valid until the next call), 0 at the end
 * of input, -1 with err filled. */
static int next_line(struct jl *st, const char **lp, size_t *ln, long *lno, struct qloop_error *err)
{
    for (;;) {
        char *b = st->in.buf;
        size_t avail = st->in.len - st->pos;
        if (avail > st->scanned) {
            char *nl = memchr(b + st->pos + st->scanned, '\n', avail - st->scanned);
            if (nl) {
                *lp = b + st->pos;
                *ln = (size_t)(nl - (b + st->pos));
                st->pos = (size_t)(nl + 1 - b);
                st->scanned = 0;
                *lno = st->line++;
                if (*ln && (*lp)[*ln - 1] == '\r')
                    (*ln)--;
                return 1;
            }
            st->scanned = avail;
        }
        if (st->in.eof) {
            if (st->in.bad_input || st->in.truncated)
                return qloop_input_bad_end(&st->in, err, st->line, b + st->pos);
            if (avail == 0)
                return 0;
            *lp = b + st->pos;
            *ln = avail;
            st->pos = st->in.len;
            st->scanned = 0;
            *lno = st->line++;
            if ((*lp)[*ln - 1] == '\r')
                (*ln)--;
            return 1;
        }
        size_t want = qloop_input_chunk_size, shift;
        if (avail > want)
            want = avail; /* long lines: grow geometrically */
        if (qloop_input_fill(&st->in, st->pos, want, &shift, err) < 0)
            return -1;
        st->pos -= shift;
    }
}

/* Chinese name of a JSON type, for messages. */
static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "数组";
    case JSON_STRING: return "字符串";
    case JSON_INTEGER:
    case JSON_REAL: return "数字";
    case JSON_TRUE:
    case JSON_FALSE: return "布尔值";
    case JSON_NULL: return "null";
    default: return "对象";
    }
}

/* Parses one line: 1 with *out an object (caller releases it), 0 for a blank
 * line, -1 with err filled (bad bytes, bad JSON, not an object). */
static int parse_line(struct jl *st, const char *p, size_t n, long lno, json_t **out,
                      struct qloop_error *err)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    if (i == n)
        return 0;
    size_t bad;
    if (qloop_utf8_check(p, n, 1, &bad))
        return qloop_input_bad_byte(&st->in, err, lno, p, p + bad);
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        const char *hint = "";
        if (strstr(je.text, "too big integer"))
            hint = "超出 64 位整数范围的数字（如很长的编号）请写成字符串。";
        else if (strstr(je.text, "duplicate object key"))
            hint = "同一个对象里不能有重复的键。";
        else if (strstr(je.text, "\\u0000"))
            hint = "字符串里不能含有 \\u0000（空字符），请在导出时去掉。";
        else if (strstr(je.text, "end of file expected"))
            hint = "每行只能有一个 JSON 对象，一个对象也不能跨行。";
        else
            hint = "请检查引号、逗号和括号是否配对，每行必须是一个完整的 JSON 对象。";
        return qloop_error_set(err, st->in.name, lno, je.column > 0 ? je.column : 0,
                               "这一行不是有效的 JSON（解析器提示：%s）：%s", je.text, hint);
    }
    if (!json_is_object(v)) {
        const char *tn = type_name(v);
        json_decref(v);
        return qloop_error_set(err, st->in.name, lno, (long)qloop_utf8_chars(p, i) + 1,
                               "这一行是 JSON %s，不是对象：JSON Lines 文件的每一行都必须是一个 JSON 对象 {…}。",
                               tn);
    }
    *out = v;
    return 1;
}

/* parse_line, except that under bad_rows = report a malformed line is listed
 * as a bad row (taking the next row number) and skipped like a blank one. */
static int parse_or_skip(struct jl *st, const char *p, size_t n, long lno, json_t **out,
                         struct qloop_error *err)
{
    int r = parse_line(st, p, n, lno, out, err);
    if (r >= 0 || !st->report_bad)
        return r;
    /* the finding is stored: leave out jansson's quote of the line ("near '...'") */
    char *near = strstr(err->message, " near '");
    char *end = near ? strstr(near, "'）") : NULL;
    if (end)
        memmove(near, end + 1, strlen(end + 1) + 1);
    qloop_badlist_add(&st->bad, ++st->rows, (uint64_t)lno, "%s", err->message);
    return 0;
}

/* Reads lines until an object: 1 with *out and *lno, 0 at end of input, -1. */
static int next_object(struct jl *st, json_t **out, long *lno, struct qloop_error *err)
{
    for (;;) {
        const char *p = NULL;
        size_t n = 0;
        int r = next_line(st, &p, &n, lno, err);
        if (r <= 0)
            return r;
        r = parse_or_skip(st, p, n, *lno, out, err);
        if (r != 0)
            return r;
    }
}

/* Writes v as text into the arena and describes it in *c. */
static void put_value(struct jl *st, const json_t *v, struct qloop_jcell *c)
{
    struct qloop_buf *a = &st->arena;
    c->null = 0;
    c->off = a->len;
    switch (json_typeof(v)) {
    case JSON_STRING:
        qloop_buf_append(a, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        qloop_buf_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        qloop_put_real(a, json_real_value(v));
        break;
    case JSON_TRUE:
        qloop_buf_append(a, "true", 4);
        break;
    case JSON_FALSE:
        qloop_buf_append(a, "false", 5);
        break;
    case JSON_NULL:
        c->null = 1;
        c->len = 0;
        return;
    default: { /* array or object: compact JSON */
        size_t flags = JSON_COMPACT;
        size_t need = json_dumpb(v, NULL, 0, flags);
        qloop_buf_reserve(a, need);
        json_dumpb(v, a->ptr + a->len, need, flags);
        a->len += need;
        a->ptr[a->len] = '\0';
        break;
    }
    }
    c->len = a->len - c->off;
    qloop_buf_putc(a, '\0'); /* every value NUL-terminated in the arena */
}

/* Widens the layout of rows 0..n to hold every known column. */
static void widen(struct jl *st, size_t n)
{
    size_t ns = st->astride * 2;
    if (ns < st->cols.n)
        ns = st->cols.n;
    struct qloop_jcell *nc = qloop_xmalloc(st->batch_rows * ns * sizeof *nc);
    for (size_t r = 0; r <= n; r++) {
        memcpy(nc + r * ns, st->jc + r * st->astride, st->astride * sizeof *nc);
        for (size_t k = st->astride; k < ns; k++)
            nc[r * ns + k] = (struct qloop_jcell){0, 0, 1};
    }
    free(st->jc);
    st->jc = nc;
    st->astride = ns;
}

/* Adds obj as row n of the batch (appending columns for new keys). */
static void add_row(struct jl *st, json_t *obj, size_t n)
{
    const char *key;
    json_t *v;
    for (size_t j = 0; j < st->astride; j++)
        st->jc[n * st->astride + j] = (struct qloop_jcell){0, 0, 1};
    json_object_foreach(obj, key, v) {
        size_t j = qloop_colset_find(&st->cols, key);
        if (j == (size_t)-1)
            j = qloop_colset_add(&st->cols, key);
        if (j >= st->astride)
            widen(st, n);
        put_value(st, v, &st->jc[n * st->astride + j]);
    }
}

/* ---- the flat-object fast path ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes the JSON string starting after its opening quote at p into out;
 * returns the position after the closing quote, or NULL to fall back
 * (malformed, a control character, \u0000, a lone surrogate). */
static const char *fast_string(const char *p, const char *e, struct qloop_buf *out)
{
    while (p < e) {
        const char *q = p;
        while (q < e && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
            q++;
        qloop_buf_append(out, p, (size_t)(q - p));
        if (q >= e || (unsigned char)*q < 0x20)
            return NULL;
        if (*q == '"')
            return q + 1;
        if (q + 1 >= e)
            return NULL;
        char c = q[1];
        p = q + 2;
        switch (c) {
        case '"': qloop_buf_putc(out, '"'); break;
        case '\\': qloop_buf_putc(out, '\\'); break;
        case '/': qloop_buf_putc(out, '/'); break;
        case 'b': qloop_buf_putc(out, '\b'); break;
        case 'f': qloop_buf_putc(out, '\f'); break;
        case 'n': qloop_buf_putc(out, '\n'); break;
        case 'r': qloop_buf_putc(out, '\r'); break;
        case 't': qloop_buf_putc(out, '\t'); break;
        case 'u': {
            unsigned cp = 0;
            if (e - p < 4)
                return NULL;
            for (int i = 0; i < 4; i++) {
                int h = hexval(p[i]);
                if (h < 0)
                    return NULL;
                cp = cp * 16 + (unsigned)h;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                unsigned lo = 0;
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u')
                    return NULL;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0)
                        return NULL;
                    lo = lo * 16 + (unsigned)h;
                }
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) {
                return NULL;
            }
            char u[4];
            int n;
            if (cp < 0x80) {
                u[0] = (char)cp, n = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
            } else {
                u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
            }
            qloop_buf_append(out, u, (size_t)n);
            break;
        }
        default:
            return NULL;
        }
    }
    return NULL;
}

/* Reads a JSON number token at p into the arena as jansson would print it;
 * returns the position after it, or NULL to fall back. */
static const char *fast_number(const char *p, const char *e, struct qloop_buf *a)
{
    const char *s = p;
    if (p < e && *p == '-')
        p++;
    if (p >= e || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9')
        return NULL; /* leading zero: malformed */
    while (p < e && *p >= '0' && *p <= '9')
        p++;
    bool real = false;
    if (p < e && *p == '.') {
        real = true;
        p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    char tok[64];
    size_t len = (size_t)(p - s);
    if (len >= sizeof tok)
        return NULL;
    memcpy(tok, s, len);
    tok[len] = '\0';
    if (!real) {
        /* up to 18 digits always fits in 64 bits; "-0" prints as 0 */
        size_t digits = len - (tok[0] == '-');
        if (digits > 18 || strcmp(tok, "-0") == 0)
            return NULL;
        qloop_buf_append(a, tok, len);
        return p;
    }
    char *end;
    double d = strtod(tok, &end);
    if (*end || !isfinite(d))
        return NULL;
    qloop_put_real(a, d);
    return p;
}

/* Reads line p[0..n) as a flat JSON object straight into row n of the
 * batch. Returns 1 when done, 0 when the line must go to jansson (then the
 * columns and the arena are as they were). */
static int fast_row(struct jl *st, const char *p, size_t len, size_t row)
{
    const char *e = p + len;
    size_t arena_mark = st->arena.len;
    size_t ncols_mark = st->cols.n;
    size_t bad;
    if (qloop_utf8_check(p, len, 1, &bad))
        return 0;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return 0;
    p = skip_ws(p + 1, e);
    for (size_t j = 0; j < st->astride; j++)
        st->jc[row * st->astride + j] = (struct qloop_jcell){0, 0, 1};
    st->fast_gen++;
    bool first = true;
    while (p < e && *p != '}') {
        if (!first) {
            if (*p != ',')
                goto fallback;
            p = skip_ws(p + 1, e);
        }
        first = false;
        if (p >= e || *p != '"')
            goto fallback;
        qloop_buf_reset(&st->key);
        p = fast_string(p + 1, e, &st->key);
        if (!p)
            goto fallback;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            goto fallback;
        p = skip_ws(p + 1, e);
        if (p >= e)
            goto fallback;
        const char *key = qloop_buf_str(&st->key);
        if (strlen(key) != st->key.len)
            goto fallback;
        size_t j = qloop_colset_find(&st->cols, key);
        if (j == (size_t)-1)
            j = qloop_colset_add(&st->cols, key);
        if (j >= st->seen_cap) {
            size_t cap = st->seen_cap ? st->seen_cap : 16;
            while (cap <= j)
                cap *= 2;
            st->seen = qloop_xrealloc(st->seen, cap * sizeof *st->seen);
            memset(st->seen + st->seen_cap, 0, (cap - st->seen_cap) * sizeof *st->seen);
            st->seen_cap = cap;
        }
        if (st->seen[j] == st->fast_gen)
            goto fallback; /* duplicate key: jansson's error */
        st->seen[j] = st->fast_gen;
        if (j >= st->astride)
            widen(st, row);
        struct qloop_jcell *c = &st->jc[row * st->astride + j];
        struct qloop_buf *a = &st->arena;
        c->null = 0;
        c->off = a->len;
        if (*p == '"') {
            p = fast_string(p + 1, e, a);
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            p = fast_number(p, e, a);
        } else if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
            qloop_buf_append(a, "true", 4);
            p += 4;
        } else if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
            qloop_buf_append(a, "false", 5);
            p += 5;
        } else if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
            c->null = 1;
            c->len = 0;
            p = skip_ws(p + 4, e);
            continue;
        } else {
            goto fallback; /* nesting, or malformed */
        }
        if (!p)
            goto fallback;
        c->len = a->len - c->off;
        qloop_buf_putc(a, '\0');
        p = skip_ws(p, e);
    }
    if (p >= e || *p != '}' || skip_ws(p + 1, e) != e)
        goto fallback;
    return 1;
fallback:
    qloop_colset_truncate(&st->cols, ncols_mark);
    st->arena.len = arena_mark;
    if (st->arena.ptr)
        st->arena.ptr[arena_mark] = '\0';
    return 0;
}

/* adapter.h next_batch: up to batch_rows objects laid out over the columns
 * known at the end of the batch. */
static int jl_next_batch(void *state, struct qloop_batch *bt, struct qloop_error *err)
{
    struct jl *st = state;
    struct qloop_error local;
    if (!err)
        err = &local;
    memset(bt, 0, sizeof *bt);
    bt->row_no = st->row_no;
    bt->line_no = st->line_no;
    if (qloop_sticky_failed(&st->fail, err))
        return -1;
    if (st->done)
        return 0;
    if (st->bad_out) {
        qloop_badlist_reset(&st->bad);
        st->bad_out = 0;
    }
    qloop_buf_reset(&st->arena);
    size_t n = 0;
    while (n < st->batch_rows) {
        json_t *obj;
        long lno;
        if (st->first) {
            obj = st->first;
            lno = st->first_line;
            st->first = NULL;
        } else {
            /* next non-blank line: the fast path, else jansson */
            const char *p = NULL;
            size_t len = 0;
            int r = next_line(st, &p, &len, &lno, err);
            if (r < 0)
                return qloop_sticky_fail(&st->fail, err);
            if (r == 0) {
                st->done = 1;
                break;
            }
            if (qloop_jsonl_fast && fast_row(st, p, len, n)) {
                st->row_no[n] = ++st->rows;
                st->line_no[n] = (uint64_t)lno;
                n++;
                continue;
            }
            r = parse_or_skip(st, p, len, lno, &obj, err);
            if (r < 0)
                return qloop_sticky_fail(&st->fail, err);
            if (r == 0)
                continue; /* a blank line */
        }
        add_row(st, obj, n);
        json_decref(obj);
        st->row_no[n] = ++st->rows;
        st->line_no[n] = (uint64_t)lno;
        n++;
    }
    size_t m = st->cols.n;
    if (n * m > st->cells_cap) {
        st->cells_cap = n * m;
        st->cells = qloop_xrealloc(st->cells, st->cells_cap * sizeof *st->cells);
    }
    qloop_jcells_to_fields(st->cells, st->jc, st->astride, n, m, st->arena.ptr);
    st->bad_out = 1;
    return qloop_batch_fill(bt, n, m, st->cells, st->row_no, st->line_no, &st->bad);
}

/* adapter.h columns: names in order of first appearance. */
static void jl_columns(void *state, size_t *ncols, const char *const **names)
{
    struct jl *st = state;
    *ncols = st->cols.n;
    *names = (const char *const *)st->cols.names;
}

/* adapter.h close: frees everything; state may be NULL. */
static void jl_close(void *state)
{
    struct jl *st = state;
    if (!st)
        return;
    qloop_input_close(&st->in);
    if (st->first)
        json_decref(st->first);
    qloop_colset_free(&st->cols);
    qloop_badlist_free(&st->bad);
    free(st->jc);
    qloop_buf_free(&st->arena);
    qloop_buf_free(&st->key);
    free(st->seen);
    free(st->cells);
    free(st->row_no);
    free(st->line_no);
    free(st);
}

/* adapter.h open: reads up to the first object, whose keys become the
 * columns; that object is the first row of the first batch. */
static int jl_open(const char *path, const struct qloop_source_options *opts, void **state,
                   struct qloop_error *err)
{
    struct qloop_error local;
    if (!err)
        err = &local;
    *state = NULL;
    struct jl *st = qloop_xcalloc(1, sizeof *st);
    if (qloop_input_open(&st->in, path, opts ? opts->encoding : NULL, err) < 0) {
        free(st);
        return -1;
    }
    st->batch_rows = opts && opts->batch_rows ? opts->batch_rows : 4096;
    st->report_bad = opts && opts->bad_rows == QLOOP_BAD_ROWS_REPORT;
    st->line = 1;
    int r = next_object(st, &st->first, &st->first_line, err);
    if (r < 0 || (r == 0 && st->bad.n == 0)) {
        if (r == 0)
            qloop_error_set(err, st->in.name, 0, 0,
                            "文件为空：没有任何 JSON 对象。JSON Lines 文件每行应是一个 JSON 对象，"
                            "请检查文件是否导出完整。");
        jl_close(st);
        return -1;
    }
    const char *key;
    json_t *v;
    if (st->first)
        json_object_foreach(st->first, key, v) {
            (void)v;
            qloop_colset_add(&st->cols, key);
        }
    st->astride = st->cols.n ? st->cols.n : 1;
    st->jc = qloop_xmalloc(st->batch_rows * st->astride * sizeof *st->jc);
    st->row_no = qloop_xcalloc(st->batch_rows, sizeof *st->row_no);
    st->line_no = qloop_xcalloc(st->batch_rows, sizeof *st->line_no);
    *state = st;
    return 0;
}

static const char *const jl_extensions[] = {"jsonl", "ndjson", NULL};

const struct qloop_adapter qloop_adapter_jsonl = {
    .name = "jsonl",
    .extensions = jl_extensions,
    .flags = QLOOP_ADAPTER_OPEN_COLUMNS,
    .open = jl_open,
    .columns = jl_columns,
    .next_batch = jl_next_batch,
    .close = jl_close,
};
