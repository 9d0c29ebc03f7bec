/*
 * json.c — the JSON document adapter: the records are the array at a dot path
 * (`records = "erDataList"`, `"data.list"`), or the document itself when it
 * is an array.
 *
 * The document is streamed through yajl's event parser: the input is read in
 * chunks (adapters.h, struct qloop_input, so GBK declarations and the UTF-8
 * checks work as for CSV) and fed to yajl a line at a time (at most 64 KiB at
 * once), so every event knows its line. A stack of frames says what each open
 * container is: on the records path, the records array, a record, a value
 * nested in a record (kept as compact JSON text), or something skipped.
 * Values become text as in the JSON Lines adapter: strings as they are,
 * integers as written, other numbers in the shortest form that reads back,
 * true/false, null as a null field; the columns are the keys in order of
 * first appearance (QLOOP_ADAPTER_OPEN_COLUMNS).
 *
 * yajl cannot pause between records, so the rows one feed completes are
 * queued; a batch hands out at most batch_rows of them and the next call moves
 * the rest (and the record being read) to the front. Memory is one batch plus
 * what one 64 KiB piece completes, whatever the size of the file.
 *
 * A record that is not an object, or has a key twice or a \u0000, is a
 * malformed row (listed under bad_rows = report, else an error); a syntax
 * error, a document cut short, a records path that is missing or not an
 * array stop the source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "adapters.h"
#include "base/buf.h"

enum role { F_SKIP, F_PATH, F_RECORDS, F_RECORD, F_NESTED };

struct frame {
    unsigned char role;
    unsigned char is_map;
    unsigned char first; /* F_NESTED: nothing written inside yet */
    size_t level;        /* F_PATH: path components matched by this map's own key */
};

struct jd {
    struct qloop_input in;
    yajl_handle h;
    char *dataset;
    char *records;       /* as declared, for messages */
    char **path;         /* records split at '.' */
    size_t npath;
    size_t batch_rows;
    int report_bad;
    /* parsing */
    struct frame *fr;
    size_t depth, fcap;
    int key_match;       /* the current key of the F_PATH map on top is the next component */
    int records_found;
    long line;           /* line of the piece being fed */
    long col_base;       /* characters of that line fed before the piece */
    size_t pos;          /* next byte of the window to feed */
    int fed_all;         /* yajl_complete_parse done */
    int seen_data;       /* something other than white space was fed */
    struct qloop_error cb_err; /* a callback's fatal error (the parse was cancelled) */
    int cb_failed;
    struct qloop_sticky fail;    /* next_batch failed: for good */
    /* columns and the queue of rows */
    struct qloop_colset cols;
    struct qloop_jcell *jc;    /* queued rows, stride cells each */
    size_t stride;
    size_t qcap;         /* rows room in jc, row_no, line_no, roff */
    size_t nready;       /* complete rows queued */
    uint64_t *row_no, *line_no;
    size_t *roff;        /* arena offset where each queued row's values start */
    struct qloop_buf arena;
    /* the record being read (row index nready) */
    int in_record;
    size_t cur_col;      /* (size_t)-1: no key yet */
    size_t row_start;    /* its values start here in the arena */
    long row_line;
    char row_bad[256];   /* why it is malformed, "" when fine */
    size_t nest_off;     /* the nested value being written starts here */
    uint64_t rows;       /* row numbers given */
    size_t handed;       /* rows handed out by the last batch */
    struct qloop_field *cells;
    size_t cells_cap;
    struct qloop_badlist bad;
    int bad_out;         /* bad was handed out with the last batch */
};

/* ---- the queue --------------------------------------------------------------- */

/* Makes room for row index r in the queue. */
static void queue_room(struct jd *st, size_t r)
{
    if (r < st->qcap)
        return;
    size_t cap = st->qcap ? st->qcap * 2 : 64;
    while (cap <= r)
        cap *= 2;
    st->jc = qloop_xrealloc(st->jc, cap * st->stride * sizeof *st->jc);
    st->row_no = qloop_xrealloc(st->row_no, cap * sizeof *st->row_no);
    st->line_no = qloop_xrealloc(st->line_no, cap * sizeof *st->line_no);
    st->roff = qloop_xrealloc(st->roff, cap * sizeof *st->roff);
    st->qcap = cap;
}

/* Widens every queued row (and the one being read) to hold column col. */
static void widen(struct jd *st, size_t col)
{
    size_t ns = st->stride * 2;
    while (ns <= col)
        ns *= 2;
    size_t nrows = st->nready + 1;
    struct qloop_jcell *nc = qloop_xmalloc(st->qcap * ns * sizeof *nc);
    for (size_t r = 0; r < nrows && r < st->qcap; r++) {
        memcpy(nc + r * ns, st->jc + r * st->stride, st->stride * sizeof *nc);
        for (size_t k = st->stride; k < ns; k++)
            nc[r * ns + k] = (struct qloop_jcell){0, 0, 1};
    }
    free(st->jc);
    st->jc = nc;
    st->stride = ns;
}

/* Moves the rows after the last batch's (and the record being read) to the
 * front of the queue and of the arena. */
static void compact(struct jd *st)
{
    size_t h = st->handed;
    st->handed = 0;
    if (h == 0)
        return;
    size_t shift = h < st->nready ? st->roff[h] : st->in_record ? st->row_start : st->arena.len;
    size_t keep = st->nready - h + (st->in_record ? 1 : 0);
    if (st->arena.len > shift)
        memmove(st->arena.ptr, st->arena.ptr + shift, st->arena.len - shift);
    st->arena.len -= shift;
    if (st->arena.ptr)
        st->arena.ptr[st->arena.len] = '\0';
    memmove(st->jc, st->jc + h * st->stride, keep * st->stride * sizeof *st->jc);
    memmove(st->row_no, st->row_no + h, (st->nready - h) * sizeof *st->row_no);
    memmove(st->line_no, st->line_no + h, (st->nready - h) * sizeof *st->line_no);
    memmove(st->roff, st->roff + h, (st->nready - h) * sizeof *st->roff);
    for (size_t k = 0; k < keep * st->stride; k++)
        if (!st->jc[k].null)
            st->jc[k].off -= shift;
    for (size_t r = 0; r < st->nready - h; r++)
        st->roff[r] -= shift;
    st->nready -= h;
    if (st->in_record) {
        st->row_start -= shift;
        if (st->depth && st->fr[st->depth - 1].role == F_NESTED)
            st->nest_off -= shift;
    }
}

/* ---- building values ------------------------------------------------------------ */

/* A callback's fatal error: stops the parse (yajl returns client_canceled). */
static int cb_fail(struct jd *st, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    qloop_error_set(&st->cb_err, st->in.name, st->line, 0, "数据集“%s”：%s", st->dataset, msg);
    st->cb_failed = 1;
    return 0;
}

static void push(struct jd *st, enum role role, int is_map, size_t level)
{
    if (st->depth == st->fcap) {
        st->fcap = st->fcap ? st->fcap * 2 : 16;
        st->fr = qloop_xrealloc(st->fr, st->fcap * sizeof *st->fr);
    }
    st->fr[st->depth++] = (struct frame){(unsigned char)role, (unsigned char)is_map, 1, level};
}

/* Appends s as a JSON string (jansson's escapes) to the arena. */
static void put_quoted(struct qloop_buf *a, const unsigned char *s, size_t n)
{
    qloop_buf_putc(a, '"');
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        qloop_buf_append(a, (const char *)s + from, i - from);
        from = i + 1;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc)
            qloop_buf_append(a, esc, 2);
        else
            qloop_buf_printf(a, "\\u%04X", c);
    }
    qloop_buf_append(a, (const char *)s + from, n - from);
    qloop_buf_putc(a, '"');
}

/* The cell of the current key in the record being read, or NULL. */
static struct qloop_jcell *cur_cell(struct jd *st)
{
    if (st->cur_col == (size_t)-1)
        return NULL;
    return &st->jc[st->nready * st->stride + st->cur_col];
}

/* Marks the record being read as malformed (the first reason stays). */
static void row_bad(struct jd *st, const char *fmt, const char *a)
{
    if (!st->row_bad[0])
        snprintf(st->row_bad, sizeof st->row_bad, fmt, a);
}

/* A malformed element of the records array (not an object). */
static void element_bad(struct jd *st, const char *tname)
{
    char msg[256];
    snprintf(msg, sizeof msg, "这条记录是%s，不是对象 {...}：记录数组的每一项都必须是一个 JSON 对象。", tname);
    st->rows++;
    if (st->report_bad) {
        qloop_badlist_add(&st->bad, st->rows, (uint64_t)st->line, "%s", msg);
    } else {
        qloop_error_set(&st->cb_err, st->in.name, st->line, 0, "数据集“%s”第 %llu 条记录：%s",
                        st->dataset, (unsigned long long)st->rows, msg);
        st->cb_failed = 1;
    }
}

enum { V_IGNORE, V_CELL, V_STOP };

/* Decides what the value now starting is (kind 0 scalar, 1 object, 2 array;
 * tname names its type), pushing a frame for a container. V_CELL: a scalar
 * that is the current record's value; for a nested value the text is being
 * written (the caller appends the scalar's own text). */
static int begin_value(struct jd *st, int kind, const char *tname)
{
    if (st->depth == 0) {
        if (st->npath == 0) {
            if (kind == 2) {
                push(st, F_RECORDS, 0, 0);
                st->records_found = 1;
                return V_IGNORE;
            }
            return cb_fail(st,
                           "JSON 文档的顶层是%s，不是数组：没有写 records 时，文档本身必须是记录的数组 [...]。"
                           "如果记录在文档的某个键下，请在 dataset 中写 records = \"键名\"（多层用点连接，如 \"data.list\"）。%s",
                           tname, ""), V_STOP;
        }
        if (kind == 1) {
            push(st, F_PATH, 1, 0);
            return V_IGNORE;
        }
        return cb_fail(st, "JSON 文档的顶层是%s，不是对象：records = \"%s\" 要在顶层对象里按键名查找记录数组。请检查 records，"
                           "文档本身就是数组时不要写 records。",
                       tname, st->records), V_STOP;
    }
    struct frame *f = &st->fr[st->depth - 1];
    switch (f->role) {
    case F_PATH: {
        if (!st->key_match)
            break;
        st->key_match = 0;
        size_t level = f->level + 1;
        if (level == st->npath) {
            if (st->records_found)
                break; /* the same key again: the first one counts */
            if (kind != 2)
                return cb_fail(st, "records = \"%s\" 指向的值是%s，不是数组：records 应指向记录的数组 [...]，"
                                   "请检查键名和层级（多层用点连接，如 \"data.list\"）。",
                               st->records, tname), V_STOP;
            push(st, F_RECORDS, 0, 0);
            st->records_found = 1;
            return V_IGNORE;
        }
        if (kind != 1)
            return cb_fail(st, "records = \"%s\" 的路径上“%s”不是对象：请检查键名和层级。", st->records,
                           st->path[level - 1]), V_STOP;
        push(st, F_PATH, 1, level);
        return V_IGNORE;
    }
    case F_RECORDS:
        if (kind == 1) {
            queue_room(st, st->nready);
            for (size_t j = 0; j < st->stride; j++)
                st->jc[st->nready * st->stride + j] = (struct qloop_jcell){0, 0, 1};
            st->in_record = 1;
            st->cur_col = (size_t)-1;
            st->row_start = st->arena.len;
            st->row_line = st->line;
            st->row_bad[0] = '\0';
            push(st, F_RECORD, 1, 0);
            return V_IGNORE;
        }
        element_bad(st, tname);
        if (st->cb_failed)
            return V_STOP;
        break;
    case F_RECORD: {
        if (kind == 0)
            return V_CELL;
        struct qloop_jcell *c = cur_cell(st);
        st->nest_off = st->arena.len;
        if (c)
            c->null = 0; /* reserved; off and len set when it closes */
        qloop_buf_putc(&st->arena, kind == 1 ? '{' : '[');
        push(st, F_NESTED, kind == 1, 0);
        return V_IGNORE;
    }
    case F_NESTED:
        if (!f->is_map && !f->first)
            qloop_buf_putc(&st->arena, ',');
        f->first = 0;
        if (kind == 0)
            return V_CELL;
        qloop_buf_putc(&st->arena, kind == 1 ? '{' : '[');
        push(st, F_NESTED, kind == 1, 0);
        return V_IGNORE;
    default:
        break;
    }
    if (kind)
        push(st, F_SKIP, kind == 1, 0);
    return V_IGNORE;
}

enum { S_LITERAL, S_STRING, S_NUMBER };

/* Puts the scalar s[0..n) of the given kind (null when s is NULL) where the
 * value goes: the current cell, or inside the nested value being written. */
static int scalar(struct jd *st, const char *tname, const char *s, size_t n, int kind)
{
    int quoted = kind == S_STRING;
    int v = begin_value(st, 0, tname);
    if (v == V_STOP)
        return 0;
    if (v != V_CELL)
        return 1;
    struct frame *f = &st->fr[st->depth - 1];
    if (f->role == F_NESTED) {
        if (quoted)
            put_quoted(&st->arena, (const unsigned char *)s, n);
        else
            qloop_buf_append(&st->arena, s ? s : "null", s ? n : 4);
        return 1;
    }
    struct qloop_jcell *c = cur_cell(st);
    if (!c)
        return 1;
    if (!s) {
        *c = (struct qloop_jcell){1, 0, 1}; /* off 1: the key was seen */
        return 1;
    }
    if (quoted && memchr(s, '\0', n))
        row_bad(st, "“%s”的值含有 \\u0000（空字符）：请在导出时去掉。",
                st->cols.names[st->cur_col]);
    c->null = 0;
    c->off = st->arena.len;
    if (kind == S_NUMBER)
        qloop_put_json_number(&st->arena, s, n);
    else
        qloop_buf_append(&st->arena, s, n);
    c->len = st->arena.len - c->off;
    qloop_buf_putc(&st->arena, '\0');
    return 1;
}

static int on_null(void *ctx)
{
    return scalar(ctx, "null", NULL, 0, S_LITERAL);
}

static int on_boolean(void *ctx, int b)
{
    return scalar(ctx, "布尔值", b ? "true" : "false", b ? 4 : 5, S_LITERAL);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    struct jd *st = ctx;
    int nested = st->depth && st->fr[st->depth - 1].role == F_NESTED;
    return scalar(ctx, "数字", s, n, nested ? S_LITERAL : S_NUMBER);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return scalar(ctx, "字符串", (const char *)s, n, S_STRING);
}

static int on_start_map(void *ctx)
{
    return begin_value(ctx, 1, "对象") != V_STOP;
}

static int on_start_array(void *ctx)
{
    return begin_value(ctx, 2, "数组") != V_STOP;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    struct jd *st = ctx;
    struct frame *f = &st->fr[st->depth - 1];
    if (f->role == F_PATH) {
        const char *want = st->path[f->level];
        st->key_match = strlen(want) == n && !memcmp(want, k, n);
    } else if (f->role == F_NESTED) {
        if (!f->first)
            qloop_buf_putc(&st->arena, ',');
        f->first = 0;
        put_quoted(&st->arena, k, n);
        qloop_buf_putc(&st->arena, ':');
    } else if (f->role == F_RECORD) {
        char small[128];
        char *key = n < sizeof small ? small : qloop_xmalloc(n + 1);
        memcpy(key, k, n);
        key[n] = '\0';
        if (strlen(key) != n) {
            row_bad(st, "键名含有 \\u0000（空字符）%s：请在导出时去掉。", "");
            st->cur_col = (size_t)-1;
        } else {
            size_t j = qloop_colset_find(&st->cols, key);
            if (j == (size_t)-1)
                j = qloop_colset_add(&st->cols, key);
            if (j >= st->stride)
                widen(st, j);
            st->cur_col = j;
            struct qloop_jcell *c = cur_cell(st);
            if (!c->null || c->off) {
                row_bad(st, "键“%s”在这条记录中出现了两次：同一个对象里不能有重复的键。", key);
                st->cur_col = (size_t)-1;
            } else {
                c->off = 1; /* seen, still null until its value */
            }
        }
        if (key != small)
            free(key);
    }
    return 1;
}

/* Ends the record being read: queued, or listed as malformed. */
static void end_record(struct jd *st)
{
    st->in_record = 0;
    size_t base = st->nready * st->stride;
    for (size_t j = 0; j < st->stride; j++)
        if (st->jc[base + j].null)
            st->jc[base + j].off = 0;
    st->rows++;
    if (st->row_bad[0]) {
        st->arena.len = st->row_start;
        if (st->arena.ptr)
            st->arena.ptr[st->arena.len] = '\0';
        if (st->report_bad) {
            qloop_badlist_add(&st->bad, st->rows, (uint64_t)st->row_line, "%s", st->row_bad);
        } else {
            qloop_error_set(&st->cb_err, st->in.name, st->row_line, 0, "数据集“%s”第 %llu 条记录：%s",
                            st->dataset, (unsigned long long)st->rows, st->row_bad);
            st->cb_failed = 1;
        }
        return;
    }
    st->row_no[st->nready] = st->rows;
    st->line_no[st->nready] = (uint64_t)st->row_line;
    st->roff[st->nready] = st->row_start;
    st->nready++;
}

static int on_end(void *ctx)
{
    struct jd *st = ctx;
    struct frame f = st->fr[--st->depth];
    if (f.role == F_NESTED) {
        qloop_buf_putc(&st->arena, f.is_map ? '}' : ']');
        if (st->fr[st->depth - 1].role == F_RECORD) {
            struct qloop_jcell *c = cur_cell(st);
            if (c) {
                c->null = 0;
                c->off = st->nest_off;
                c->len = st->arena.len - st->nest_off;
            }
            qloop_buf_putc(&st->arena, '\0');
        }
    } else if (f.role == F_RECORD) {
        end_record(st);
        if (st->cb_failed)
            return 0;
    }
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* ---- feeding ----------------------------------------------------------------------- */

/* Words yajl's error at byte off of the piece p[0..n). */
static int syntax_error(struct jd *st, const char *p, size_t off, int at_end, struct qloop_error *err)
{
    unsigned char *text = yajl_get_error(st->h, 0, NULL, 0);
    for (size_t k = strlen((char *)text); k > 0 && (text[k - 1] == '\n' || text[k - 1] == ' '); k--)
        text[k - 1] = '\0';
    long line = st->line, col = st->col_base + (long)qloop_utf8_chars(p, off) + 1;
    const char *hint = "请检查引号、逗号和括号是否配对。";
    if (at_end || strstr((const char *)text, "premature EOF"))
        hint = "文件在 JSON 文档结束前就结束了，括号没有闭合：文件可能被截断，请重新导出。";
    else if (strstr((const char *)text, "trailing garbage"))
        hint = "文档结束后还有多余的内容：一个文件只能有一个 JSON 文档（每行一个对象的文件请用 .jsonl）。";
    else if (strstr((const char *)text, "UTF8"))
        hint = "字符串中有无效的 UTF-8 字节：请把文件另存为 UTF-8，或声明 encoding = \"gbk\"。";
    qloop_error_set(err, st->in.name, line, at_end ? 0 : col,
                    "数据集“%s”的 JSON 文档有语法错误（解析器提示：%s）：%s", st->dataset,
                    (const char *)text, hint);
    yajl_free_error(st->h, text);
    return -1;
}

/* Feeds the next piece (up to a line break, at most 64 KiB) to yajl, or
 * completes the parse at the end of input. Returns 0, or -1 with err. */
/* The length of p[0..n) without a UTF-8 sequence cut by its end. */
static size_t whole_chars(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)p[n - back];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static int feed(struct jd *st, struct qloop_error *err)
{
    struct qloop_input *in = &st->in;
    size_t n = 0;
    const char *nl = NULL;
    for (;;) {
        if (st->pos >= in->len && in->eof)
            break;
        size_t avail = in->len - st->pos;
        if (avail) {
            n = avail < 65536 ? avail : 65536;
            nl = memchr(in->buf + st->pos, '\n', n);
            if (nl)
                n = (size_t)(nl - (in->buf + st->pos)) + 1; /* else a long line cut at 64 KiB, or the last one */
            else if (!in->eof)
                n = whole_chars(in->buf + st->pos, n); /* a character cut by the chunk waits for the rest */
            if (n)
                break;
        }
        size_t shift;
        if (qloop_input_fill(in, st->pos, qloop_input_chunk_size, &shift, err) < 0)
            return -1;
        st->pos -= shift;
    }
    if (st->pos >= in->len) {
        if (in->bad_input || in->truncated)
            return qloop_input_bad_end(in, err, st->line, in->buf + st->pos);
        st->fed_all = 1;
        if (!st->seen_data)
            return qloop_error_set(err, in->name, 0, 0, "数据集“%s”的 JSON 文件是空的：请检查文件是否导出完整。",
                                   st->dataset);
        yajl_status s = yajl_complete_parse(st->h);
        if (st->cb_failed)
            return *err = st->cb_err, -1;
        if (s != yajl_status_ok)
            return syntax_error(st, in->buf + st->pos, 0, 1, err);
        if (!st->records_found)
            return qloop_error_set(err, in->name, 0, 0,
                                   "数据集“%s”：JSON 文档中找不到 records = \"%s\" 指向的键：请检查键名和层级"
                                   "（区分大小写，多层用点连接，如 \"data.list\"）。",
                                   st->dataset, st->records);
        return 0;
    }
    const char *p = in->buf + st->pos;
    size_t bad;
    if (!st->seen_data && strspn(p, " \t\r\n") < n)
        st->seen_data = 1;
    if (qloop_utf8_check(p, n, in->eof && st->pos + n == in->len, &bad))
        return qloop_input_bad_byte(in, err, st->line, p, p + bad);
    yajl_status s = yajl_parse(st->h, (const unsigned char *)p, n);
    if (st->cb_failed)
        return *err = st->cb_err, -1;
    if (s != yajl_status_ok)
        return syntax_error(st, p, yajl_get_bytes_consumed(st->h), 0, err);
    st->pos += n;
    if (nl) {
        st->line++;
        st->col_base = 0;
    } else {
        st->col_base += (long)qloop_utf8_chars(p, n);
    }
    return 0;
}

/* ---- the adapter --------------------------------------------------------------------- */

/* adapter.h next_batch: up to batch_rows queued records. */
static int jd_next_batch(void *state, struct qloop_batch *bt, struct qloop_error *err)
{
    struct jd *st = state;
    struct qloop_error local;
    if (!err)
        err = &local;
    memset(bt, 0, sizeof *bt);
    if (qloop_sticky_failed(&st->fail, err))
        return -1;
    compact(st);
    if (st->bad_out) {
        qloop_badlist_reset(&st->bad);
        st->bad_out = 0;
    }
    while (st->nready < st->batch_rows && !st->fed_all)
        if (feed(st, err) < 0)
            return qloop_sticky_fail(&st->fail, err);
    size_t n = st->nready < st->batch_rows ? st->nready : st->batch_rows;
    size_t m = st->cols.n;
    if (n * m > st->cells_cap) {
        st->cells_cap = n * m;
        st->cells = qloop_xrealloc(st->cells, st->cells_cap * sizeof *st->cells);
    }
    qloop_jcells_to_fields(st->cells, st->jc, st->stride, n, m, st->arena.ptr);
    st->handed = n;
    st->bad_out = 1;
    return qloop_batch_fill(bt, n, m, st->cells, st->row_no, st->line_no, &st->bad);
}

/* adapter.h columns: keys in order of first appearance. */
static void jd_columns(void *state, size_t *ncols, const char *const **names)
{
    struct jd *st = state;
    *ncols = st->cols.n;
    *names = (const char *const *)st->cols.names;
}

/* adapter.h close: frees everything; state may be NULL. */
static void jd_close(void *state)
{
    struct jd *st = state;
    if (!st)
        return;
    if (st->h)
        yajl_free(st->h);
    qloop_input_close(&st->in);
    for (size_t i = 0; i < st->npath; i++)
        free(st->path[i]);
    free(st->path);
    free(st->records);
    free(st->dataset);
    free(st->fr);
    qloop_colset_free(&st->cols);
    free(st->jc);
    free(st->row_no);
    free(st->line_no);
    free(st->roff);
    qloop_buf_free(&st->arena);
    free(st->cells);
    qloop_badlist_free(&st->bad);
    free(st);
}

/* Splits the records path at '.'; -1 with err for an empty component. */
static int split_path(struct jd *st, const char *records, struct qloop_error *err)
{
    st->records = qloop_xstrdup(records ? records : "");
    if (!records || !*records)
        return 0;
    const char *p = records;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0)
            return qloop_error_set(err, st->in.name, 0, 0,
                                   "数据集“%s”的 records = \"%s\" 有空的一段：请写成 \"键名\" 或 \"外层键.内层键\"，"
                                   "不要以点开头或结尾，也不要连续两个点。",
                                   st->dataset, records);
        st->path = qloop_xrealloc(st->path, (st->npath + 1) * sizeof *st->path);
        st->path[st->npath++] = qloop_xstrndup(p, n);
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

/* adapter.h open: parses up to the first record (its keys are the first
 * columns); a missing or non-array records path is found here unless it
 * comes after the first record. */
static int jd_open(const char *path, const struct qloop_source_options *opts, void **state,
                   struct qloop_error *err)
{
    struct qloop_error local;
    if (!err)
        err = &local;
    *state = NULL;
    struct jd *st = qloop_xcalloc(1, sizeof *st);
    st->dataset = qloop_xstrdup(QLOOP_DATASET_NAME(opts));
    if (qloop_input_open(&st->in, path, opts ? opts->encoding : NULL, err) < 0) {
        jd_close(st);
        return -1;
    }
    if (split_path(st, opts ? opts->records : NULL, err) < 0) {
        jd_close(st);
        return -1;
    }
    st->batch_rows = opts && opts->batch_rows ? opts->batch_rows : 4096;
    st->report_bad = opts && opts->bad_rows == QLOOP_BAD_ROWS_REPORT;
    st->line = 1;
    st->stride = 16;
    queue_room(st, 0);
    st->h = yajl_alloc(&callbacks, NULL, st);
    if (!st->h) {
        jd_close(st);
        return qloop_error_internal(err, path, "无法创建 JSON 解析器（内存不足）");
    }
    while (st->nready == 0 && st->bad.n == 0 && !st->fed_all)
        if (feed(st, err) < 0) {
            jd_close(st);
            return -1;
        }
    *state = st;
    return 0;
}

static const char *const jd_extensions[] = {"json", NULL};

const struct qloop_adapter qloop_adapter_json = {
    .name = "json",
    .extensions = jd_extensions,
    .flags = QLOOP_ADAPTER_OPEN_COLUMNS,
    .open = jd_open,
    .columns = jd_columns,
    .next_batch = jd_next_batch,
    .close = jd_close,
};
