/*
 * shard_write.c — writing a shard (see shard.h), and what writing and reading
 * share: the kinds' names, the pack fingerprint, the line check.
 *
 * Entries of each kind collect in their own buffer; a buffer past BLOCK_BYTES
 * becomes one block line (base64). Every line goes out through one function
 * that also folds it into the rolling check the end line carries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "base/strmap.h"
#include "base/sha256.h"
#include "run/shard.h"

enum { BLOCK_BYTES = 48 * 1024 };

static const char *const kind_names[SHARD_NKINDS] = {"v", "u", "p", "r", "c", "s", "k"};

const char *shard_kind_name(enum shard_kind k)
{
    return kind_names[k];
}

int shard_kind_of(const char *name)
{
    for (int k = 0; k < SHARD_NKINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

void shard_pack_fingerprint(const struct pack *p, char out[65])
{
    /* Each file's digest as pack.c took it from the bytes it loaded (not the
     * file read again: a file edited since would fingerprint code that did
     * not run), in load order; a fixed-size digest per file, so no bytes can
     * move from one file to the next unseen. */
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    static const char domain[] = "qloop shard pack 4";
    qloop_sha256_update(&c, domain, sizeof domain);
    for (size_t i = 0; i < p->nfiles; i++)
        qloop_sha256_update(&c, p->file_digests[i], sizeof p->file_digests[i]);
    uint8_t d[32];
    qloop_sha256_final(&c, d);
    qloop_hex(d, 32, out);
}

/* XXH64's primes and rounds: a 64-bit digest of a line at memory speed
 * (four independent lanes), enough to tell a line lost, cut or changed. */
static const uint64_t P1 = UINT64_C(0x9e3779b185ebca87), P2 = UINT64_C(0xc2b2ae3d27d4eb4f),
                      P3 = UINT64_C(0x165667b19e3779f9), P4 = UINT64_C(0x85ebca77c2b2ae63),
                      P5 = UINT64_C(0x27d4eb2f165667c5);

static uint64_t round64(uint64_t acc, uint64_t lane)
{
    return qloop_rotl64(acc + lane * P2, 31) * P1;
}

static uint64_t line_digest(const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t a = P1 + P2, b = P2, c = 0, d = (uint64_t)0 - P1;
        for (; end - p >= 32; p += 32) {
            a = round64(a, qloop_load_le64(p, 8));
            b = round64(b, qloop_load_le64(p + 8, 8));
            c = round64(c, qloop_load_le64(p + 16, 8));
            d = round64(d, qloop_load_le64(p + 24, 8));
        }
        h = qloop_rotl64(a, 1) + qloop_rotl64(b, 7) + qloop_rotl64(c, 12) + qloop_rotl64(d, 18);
        h = (h ^ round64(0, a)) * P1 + P4;
        h = (h ^ round64(0, b)) * P1 + P4;
        h = (h ^ round64(0, c)) * P1 + P4;
        h = (h ^ round64(0, d)) * P1 + P4;
    } else {
        h = P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8)
        h = qloop_rotl64(h ^ round64(0, qloop_load_le64(p, 8)), 27) * P1 + P4;
    if (end - p >= 4) {
        h = qloop_rotl64(h ^ (qloop_load_le64(p, 4) * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++)
        h = qloop_rotl64(h ^ (*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

uint64_t shard_check_line(uint64_t check, const char *line, size_t len)
{
    uint64_t h = line_digest((const unsigned char *)line, len);
    /* order matters: the check of lines a, b differs from that of b, a */
    return (check ^ h) * UINT64_C(0x9e3779b97f4a7c15) + qloop_rotl64(h, 32);
}

/* ---- entries ---- */

void shard_put_uint(struct qloop_buf *b, uint64_t v)
{
    char t[QLOOP_VARINT_MAX];
    qloop_buf_append(b, t, (size_t)(qloop_varint_put(t, v) - t));
}

void shard_put_byte(struct qloop_buf *b, uint8_t v)
{
    qloop_buf_putc(b, (char)v);
}

void shard_put_bytes(struct qloop_buf *b, const char *s, size_t len)
{
    shard_put_uint(b, len);
    qloop_buf_append(b, s, len);
}

void shard_put_opt(struct qloop_buf *b, const char *s, size_t len)
{
    shard_put_byte(b, s != NULL);
    if (s)
        shard_put_bytes(b, s, len);
}

void shard_put_u64(struct qloop_buf *b, uint64_t v)
{
    char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (char)(v >> (8 * i));
    qloop_buf_append(b, t, 8);
}

/* ---- the writer ---- */

struct shard_writer {
    FILE *f;
    bool own; /* f is a file we opened (not standard output) */
    const char *name;
    uint64_t lines, check;
    struct qloop_buf kind[SHARD_NKINDS];
    uint64_t n[SHARD_NKINDS]; /* entries in each buffer */
    struct qloop_buf line;
};

struct shard_writer *shard_writer_open(const char *path, struct qloop_error *err)
{
    bool std = strcmp(path, "-") == 0;
    FILE *f = std ? stdout : fopen(path, "wb");
    if (!f) {
        qloop_error_set(err, path, 0, 0, "无法写入分片文件（%s）；请检查路径和写权限", strerror(errno));
        return NULL;
    }
    struct shard_writer *w = qloop_xcalloc(1, sizeof *w);
    w->f = f;
    w->own = !std;
    w->name = std ? "（标准输出）" : path;
    return w;
}

void shard_writer_free(struct shard_writer *w)
{
    if (!w)
        return;
    if (w->own && w->f)
        fclose(w->f);
    for (int k = 0; k < SHARD_NKINDS; k++)
        qloop_buf_free(&w->kind[k]);
    qloop_buf_free(&w->line);
    free(w);
}

static int write_error(const struct shard_writer *w, struct qloop_error *err)
{
    return qloop_error_set(err, w->name, 0, 0, "写入分片失败（%s）；请检查磁盘空间，或读取分片的程序是否已退出",
                           errno ? strerror(errno) : "输出已关闭");
}

/* Writes w->line (which ends with its newline) and folds it into the check. */
static int put_line(struct shard_writer *w, struct qloop_error *err)
{
    errno = 0;
    if (fwrite(w->line.ptr, 1, w->line.len, w->f) != w->line.len)
        return write_error(w, err);
    w->check = shard_check_line(w->check, w->line.ptr, w->line.len);
    w->lines++;
    return 0;
}

int shard_write_json(struct shard_writer *w, json_t *obj, struct qloop_error *err)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text)
        return qloop_error_internal(err, NULL, "无法生成分片的 JSON 行");
    qloop_buf_reset(&w->line);
    qloop_buf_append(&w->line, text, strlen(text));
    qloop_buf_putc(&w->line, '\n');
    free(text);
    return put_line(w, err);
}

static void base64(struct qloop_buf *out, const unsigned char *s, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
        qloop_buf_append(out, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], i + 1 < n ? a[(v >> 6) & 63] : '=', '='};
        qloop_buf_append(out, q, 4);
    }
}

/* Writes kind k's buffer as one block line and empties it. */
static int flush_kind(struct shard_writer *w, enum shard_kind k, struct qloop_error *err)
{
    if (w->n[k] == 0)
        return 0;
    struct qloop_buf *l = &w->line;
    qloop_buf_reset(l);
    qloop_buf_printf(l, "{\"t\":\"%s\",\"n\":%llu,\"b\":\"", kind_names[k],
                     (unsigned long long)w->n[k]);
    base64(l, (const unsigned char *)w->kind[k].ptr, w->kind[k].len);
    qloop_buf_append(l, "\"}\n", 3);
    qloop_buf_reset(&w->kind[k]);
    w->n[k] = 0;
    return put_line(w, err);
}

struct qloop_buf *shard_entry(struct shard_writer *w, enum shard_kind k)
{
    return &w->kind[k];
}

int shard_entry_done(struct shard_writer *w, enum shard_kind k, struct qloop_error *err)
{
    w->n[k]++;
    return w->kind[k].len >= BLOCK_BYTES ? flush_kind(w, k, err) : 0;
}

int shard_writer_flush(struct shard_writer *w, struct qloop_error *err)
{
    for (int k = 0; k < SHARD_NKINDS; k++)
        if (flush_kind(w, (enum shard_kind)k, err) != 0)
            return -1;
    return 0;
}

int shard_writer_end(struct shard_writer *w, struct qloop_error *err)
{
    char text[128];
    snprintf(text, sizeof text, "{\"t\":\"end\",\"lines\":%llu,\"check\":\"%016llx\"}\n",
             (unsigned long long)w->lines, (unsigned long long)w->check);
    errno = 0;
    if (fputs(text, w->f) < 0 || fflush(w->f) != 0)
        return write_error(w, err);
    if (w->own) {
        FILE *f = w->f;
        w->f = NULL;
        if (fclose(f) != 0)
            return write_error(w, err);
    }
    return 0;
}
