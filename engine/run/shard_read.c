/*
 * shard_read.c — reading a shard (see shard.h) as input that may be wrong in
 * any way: not a shard, cut short, lines lost or changed, a block that does
 * not decode. Every such problem is an input error (exit 2) naming the shard
 * and the line.
 *
 * Block lines are the bulk of a shard and come in one fixed shape, which is
 * parsed by hand; any other line goes through jansson. Base64 is decoded
 * into one buffer reused from block to block.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "run/shard.h"

struct shard_reader {
    FILE *f;
    bool own;
    char *name;
    char *line;
    size_t cap;
    long lineno;
    uint64_t check;
    bool ended;
    json_t *header, *counts;
    struct qloop_buf block;
    bool skip[SHARD_NKINDS]; /* kinds whose blocks the reader is not asked to decode */
};

int shard_error(const struct shard_reader *r, struct qloop_error *err, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qloop_error_set(err, r->name, r->lineno, 0, "分片有误：%s", msg);
}

long shard_reader_line(const struct shard_reader *r) { return r->lineno; }
void shard_reader_skip(struct shard_reader *r, enum shard_kind k) { r->skip[k] = true; }
const char *shard_reader_name(const struct shard_reader *r) { return r->name; }

void shard_reader_close(struct shard_reader *r)
{
    if (!r)
        return;
    if (r->own && r->f)
        fclose(r->f);
    free(r->name);
    free(r->line);
    json_decref(r->header);
    json_decref(r->counts);
    qloop_buf_free(&r->block);
    free(r);
}

/* Reads the next line into r->line (with its newline). Returns its length,
 * 0 at the end of the input, -1 with err (a read error, or a last line
 * without its newline: the shard was cut). */
static long read_line(struct shard_reader *r, struct qloop_error *err)
{
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0) {
        if (ferror(r->f))
            return qloop_error_set(err, r->name, r->lineno, 0, "读取分片失败（%s）",
                                   errno ? strerror(errno) : "读错误");
        return 0;
    }
    r->lineno++;
    if (n == 0 || r->line[n - 1] != '\n')
        return shard_error(r, err, "最后一行不完整：分片被截断了；请重新生成这个分片");
    /* A shard's lines hold no tab and no carriage return: one before the
     * newline was added on the way (Hadoop Streaming's key-value separator,
     * a CRLF conversion) and is not part of the line. */
    while (n >= 2 && (r->line[n - 2] == '\t' || r->line[n - 2] == '\r')) {
        r->line[n - 2] = '\n';
        r->line[--n] = '\0';
    }
    return (long)n;
}

struct shard_reader *shard_reader_open(const char *path, json_t **header, struct qloop_error *err)
{
    bool std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) {
        qloop_error_set(err, path, 0, 0, "无法读取分片文件（%s）；请检查路径", strerror(errno));
        return NULL;
    }
    /* block lines are ~64 KiB: read a file in large pieces, not stdio's 4 KiB */
    if (!std)
        setvbuf(f, NULL, _IOFBF, 1 << 20);
    struct shard_reader *r = qloop_xcalloc(1, sizeof *r);
    r->f = f;
    r->own = !std;
    r->name = qloop_xstrdup(std ? "（标准输入）" : path);
    long n = read_line(r, err);
    if (n == 0)
        shard_error(r, err, "文件为空，不是 qloop 分片");
    json_error_t je;
    json_t *h = n > 0 ? json_loadb(r->line, (size_t)n, 0, &je) : NULL;
    json_t *fmt = json_object_get(h, "qloop_shard");
    if (n > 0 && (!json_is_object(h) || !json_is_integer(fmt)))
        shard_error(r, err, "第一行不是分片头：这不是 qloop judge 写出的分片");
    else if (n > 0 && json_integer_value(fmt) != SHARD_FORMAT)
        shard_error(r, err, "分片格式版本为 %lld，本程序只读版本 %d；请用同一版本的 qloop 判定和合并",
                    (long long)json_integer_value(fmt), SHARD_FORMAT);
    else if (n > 0) {
        r->check = shard_check_line(0, r->line, (size_t)n);
        r->header = h;
        *header = h;
        return r;
    }
    json_decref(h);
    shard_reader_close(r);
    return NULL;
}

/* ---- block lines ---- */

static const signed char *b64_table(void)
{
    static signed char t[256];
    static int ready;
    if (!ready) {
        memset(t, -1, sizeof t);
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; i++)
            t[(unsigned char)a[i]] = (signed char)i;
        ready = 1;
    }
    return t;
}

/* Decodes base64 s[0..n) into out. Returns 0, or -1 when it is not base64.
 * Every quad but the last has no padding: those are decoded without
 * looking for it, and checked once at the end. */
static int unbase64(const char *s, size_t n, struct qloop_buf *out)
{
    const signed char *t = b64_table();
    qloop_buf_reset(out);
    if (n % 4 || n == 0)
        return n % 4 ? -1 : 0;
    qloop_buf_reserve(out, n / 4 * 3 + 1);
    unsigned char *o = (unsigned char *)out->ptr;
    const unsigned char *q = (const unsigned char *)s, *last = q + n - 4;
    int bad = 0;
    for (; q < last; q += 4, o += 3) {
        int a = t[q[0]], b = t[q[1]], c = t[q[2]], d = t[q[3]];
        bad |= a | b | c | d;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
    }
    int pad = (q[3] == '=') + (q[2] == '=' && q[3] == '=');
    int a = t[q[0]], b = t[q[1]], c = pad >= 2 ? 0 : t[q[2]], d = pad >= 1 ? 0 : t[q[3]];
    if ((bad | a | b | c | d) < 0)
        return -1;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    *o++ = (unsigned char)(v >> 16);
    if (pad < 2)
        *o++ = (unsigned char)(v >> 8);
    if (pad < 1)
        *o++ = (unsigned char)v;
    out->len = (size_t)(o - (unsigned char *)out->ptr);
    return 0;
}

/* Parses a block line {"t":"K","n":N,"b":"..."} of n bytes. Returns 1 when
 * it is one (line filled), 0 when it has another shape, -1 with err when it
 * is a block that does not decode. */
static int parse_block(struct shard_reader *r, size_t n, struct shard_line *line,
                       struct qloop_error *err)
{
    const char *s = r->line, *end = s + n - 1; /* before the newline */
    static const char p1[] = "{\"t\":\"", p2[] = "\",\"n\":", p3[] = ",\"b\":\"", p4[] = "\"}";
    if ((size_t)(end - s) < sizeof p1 + 1 || memcmp(s, p1, sizeof p1 - 1) != 0)
        return 0;
    s += sizeof p1 - 1;
    char name[2] = {*s++, '\0'};
    int kind = shard_kind_of(name);
    if (kind < 0 || end - s < (long)(sizeof p2 - 1) || memcmp(s, p2, sizeof p2 - 1) != 0)
        return 0;
    s += sizeof p2 - 1;
    uint64_t count = 0;
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9' && s - digits < 19)
        count = count * 10 + (uint64_t)(*s++ - '0');
    if (s == digits || end - s < (long)(sizeof p3 - 1) || memcmp(s, p3, sizeof p3 - 1) != 0)
        return 0;
    s += sizeof p3 - 1;
    if (end - s < 2 || memcmp(end - 2, p4, 2) != 0)
        return 0;
    if (count == 0 || (r->skip[kind] ? (end - 2 - s) % 4 != 0
                                      : unbase64(s, (size_t)(end - 2 - s), &r->block) != 0))
        return shard_error(r, err, "数据块无法解码（内容被改动或损坏）");
    if (r->skip[kind])
        qloop_buf_reset(&r->block);
    line->type = SHARD_LINE_BLOCK;
    line->kind = (enum shard_kind)kind;
    line->n = count;
    const uint8_t *at = r->block.ptr ? (const uint8_t *)r->block.ptr : (const uint8_t *)"";
    line->cur = (struct shard_cursor){at, at + r->block.len, false};
    return 1;
}

/* ---- other lines ---- */

/* Checks the end line against what was read. */
static int check_end(struct shard_reader *r, json_t *o, struct qloop_error *err)
{
    json_t *lines = json_object_get(o, "lines");
    const char *check = json_string_value(json_object_get(o, "check"));
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)r->check);
    if (!json_is_integer(lines) || !check)
        return shard_error(r, err, "结束行不完整");
    if (json_integer_value(lines) != r->lineno - 1)
        return shard_error(r, err, "结束行说分片有 %lld 行，实际读到 %ld 行：有行丢失或多出；请重新生成这个分片",
                           (long long)json_integer_value(lines), r->lineno - 1);
    if (strcmp(check, want) != 0)
        return shard_error(r, err, "校验值不符：分片内容被改动或损坏；请重新生成这个分片");
    if (!r->counts)
        return shard_error(r, err, "分片没有计数行（\"counts\"）");
    return 0;
}

int shard_reader_next(struct shard_reader *r, struct shard_line *line, struct qloop_error *err)
{
    if (r->ended)
        return 0;
    long n = read_line(r, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return shard_error(r, err, "分片没有结束行：分片被截断了（判定未完成，或传输中断）；请重新生成这个分片");
    memset(line, 0, sizeof *line);
    int b = parse_block(r, (size_t)n, line, err);
    if (b != 0) {
        if (b > 0)
            r->check = shard_check_line(r->check, r->line, (size_t)n);
        return b;
    }
    json_error_t je;
    json_t *o = json_loadb(r->line, (size_t)n, 0, &je);
    const char *t = json_string_value(json_object_get(o, "t"));
    int rc;
    if (t && strcmp(t, "counts") == 0 && !r->counts) {
        r->counts = o;
        r->check = shard_check_line(r->check, r->line, (size_t)n);
        line->type = SHARD_LINE_COUNTS;
        line->counts = o;
        return 1;
    }
    if (t && strcmp(t, "end") == 0) {
        rc = check_end(r, o, err);
        json_decref(o);
        if (rc != 0)
            return -1;
        r->ended = true;
        /* one shard per file: anything after the end is a mistake */
        long more = read_line(r, err);
        if (more < 0)
            return -1;
        if (more > 0)
            return shard_error(r, err, "结束行之后还有内容：一个文件只能放一个分片；请把各分片分别保存");
        line->type = SHARD_LINE_END;
        return 0;
    }
    json_decref(o);
    return shard_error(r, err, "无法识别的行（不是数据块、计数行或结束行）");
}

/* ---- entries ---- */

uint64_t shard_get_uint(struct shard_cursor *c)
{
    size_t at = 0;
    uint64_t v;
    if (!qloop_varint_get(c->p, (size_t)(c->end - c->p), &at, &v))
        c->bad = true;
    c->p += at;
    return v;
}

uint8_t shard_get_byte(struct shard_cursor *c)
{
    if (c->p >= c->end) {
        c->bad = true;
        return 0;
    }
    return *c->p++;
}

const char *shard_get_bytes(struct shard_cursor *c, size_t *len)
{
    uint64_t n = shard_get_uint(c);
    if (c->bad || n > (uint64_t)(c->end - c->p)) {
        c->bad = true;
        *len = 0;
        return "";
    }
    const char *s = (const char *)c->p;
    c->p += n;
    *len = (size_t)n;
    return s;
}

const char *shard_get_opt(struct shard_cursor *c, size_t *len)
{
    uint8_t has = shard_get_byte(c);
    if (has > 1)
        c->bad = true;
    if (has != 1) {
        *len = 0;
        return NULL;
    }
    return shard_get_bytes(c, len);
}

uint64_t shard_get_u64(struct shard_cursor *c)
{
    if (c->end - c->p < 8) {
        c->bad = true;
        c->p = c->end;
        return 0;
    }
    uint64_t v = qloop_load_le64(c->p, 8);
    c->p += 8;
    return v;
}

bool shard_cursor_done(const struct shard_cursor *c)
{
    return c->p >= c->end;
}
