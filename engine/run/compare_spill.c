/*
 * compare_spill.c — 比对 past the memory budget: the temporary partition
 * files (see compare.c for the scheme).
 *
 * Writing: a record goes to the partition of its fingerprint's top bits at
 * level 0 (or to the side's empty-key stream); files are unlinked as soon as
 * they are made, so nothing is left behind by a killed run. Reading back: a
 * unit (one partition of both sides) is loaded whole when it fits the
 * budget, or split again on the next fingerprint bits, up to MAX_LEVEL
 * times; then compare_join.c joins it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/compare_impl.h"

/* ---- writing records out ---- */

/* Creates s as an unlinked temporary file in TMPDIR. Returns 0 or -1 with err. */
static int spill_open(struct compare_run *c, struct spill *s, struct qloop_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/qloop-compare-XXXXXX", c->tmpdir);
    int fd = mkstemp(path);
    if (fd < 0)
        return qloop_error_set(err, path, 0, 0,
                               "无法创建比对用的临时文件（%s）；请检查 TMPDIR 指向的目录是否存在、可写",
                               strerror(errno));
    unlink(path);
    s->f = fdopen(fd, "w+b");
    if (!s->f) {
        close(fd);
        return qloop_error_set(err, path, 0, 0, "无法打开比对用的临时文件（%s）", strerror(errno));
    }
    /* s->buf is the file's only buffer: records are copied into it and
     * written a block at a time, then it serves reading back */
    setvbuf(s->f, NULL, _IONBF, 0);
    s->buf = qloop_xmalloc(SPILL_BUFSIZE);
    s->used = s->pos = 0;
    s->bytes = s->recs = 0;
    return 0;
}

/* Fills err for a temporary file that cannot be written; returns -1. */
static int write_error(struct compare_run *c, struct qloop_error *err)
{
    return qloop_error_set(err, c->tmpdir, 0, 0,
                           "写入比对用的临时文件失败（%s）；请检查 TMPDIR 所在磁盘的可用空间，"
                           "或用 --memory 给比对更多内存",
                           strerror(errno));
}

/* Writes out what s's buffer holds. Returns 0 or -1 with err. */
static int spill_flush(struct compare_run *c, struct spill *s, struct qloop_error *err)
{
    if (s->used && fwrite(s->buf, 1, s->used, s->f) != s->used)
        return write_error(c, err);
    s->used = 0;
    return 0;
}

void compare_spill_close(struct spill *s)
{
    if (s->f)
        fclose(s->f);
    free(s->buf);
    *s = (struct spill){0};
}

/* Appends record r to s, creating the file on first use. Returns 0 or -1 with err. */
static int spill_put(struct compare_run *c, struct spill *s, const struct rec *r,
                     struct qloop_error *err)
{
    if (!s->f && spill_open(c, s, err) != 0)
        return -1;
    size_t n = rec_size(r->len);
    if (s->used + n > SPILL_BUFSIZE && spill_flush(c, s, err) != 0)
        return -1;
    if (n > SPILL_BUFSIZE) {
        if (fwrite(r, 1, n, s->f) != n)
            return write_error(c, err);
    } else {
        memcpy(s->buf + s->used, r, n);
        s->used += n;
    }
    s->bytes += n;
    s->recs++;
    return 0;
}

int compare_spill_record(struct compare_run *c, struct side *s, const struct rec *r,
                         struct qloop_error *err)
{
    unsigned part = r->flags & REC_EMPTY_KEY ? EMPTY_STREAM : part_of(r->fp_hi, 0);
    return spill_put(c, &s->parts[part], r, err);
}

int compare_spill_all(struct compare_run *c, struct qloop_error *err)
{
    c->spilled = true;
    for (size_t i = 0; i < c->ncmps; i++)
        for (int sd = 0; sd < 2; sd++) {
            struct side *s = &c->cmps[i].side[sd];
            for (struct chunk *k = s->head, *next; k; k = next) {
                next = k->next;
                for (size_t off = 0; off < k->used;) {
                    const struct rec *r = (const struct rec *)((const char *)k->data + off);
                    if (compare_spill_record(c, s, r, err) != 0)
                        return -1;
                    off += rec_size(r->len);
                }
                free(k);
                s->head = next;
            }
            s->tail = NULL;
        }
    c->mem = 0;
    return 0;
}

/* ---- reading them back ---- */

/* Fills e->err for a temporary file that cannot be read back; returns -1. */
static int read_error(struct emitter *e)
{
    return qloop_error_set(e->err, e->c->tmpdir, 0, 0,
                           "读取比对用的临时文件失败（%s）；请检查 TMPDIR 所在磁盘", strerror(errno));
}

/* Makes s ready to be read from its start, its buffer written out and
 * empty. Returns 0 or -1 with err. */
static int spill_rewind(struct emitter *e, struct spill *s)
{
    if (spill_flush(e->c, s, e->err) != 0)
        return -1;
    if (fseek(s->f, 0, SEEK_SET) != 0)
        return read_error(e);
    s->used = s->pos = 0;
    return 0;
}

/* Reads n bytes of s into dst through its buffer. Returns 0 or -1 with err. */
static int spill_read(struct emitter *e, struct spill *s, char *dst, size_t n)
{
    while (n > 0) {
        if (s->pos == s->used) {
            s->used = fread(s->buf, 1, SPILL_BUFSIZE, s->f);
            s->pos = 0;
            if (s->used == 0)
                return read_error(e);
        }
        size_t k = s->used - s->pos < n ? s->used - s->pos : n;
        memcpy(dst, s->buf + s->pos, k);
        s->pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

/* Reads the next record of s into b. Returns it, or NULL with err. */
static const struct rec *spill_next(struct emitter *e, struct spill *s, struct qloop_buf *b)
{
    struct rec h;
    if (spill_read(e, s, (char *)&h, sizeof h) != 0)
        return NULL;
    size_t n = rec_size(h.len);
    qloop_buf_reset(b);
    qloop_buf_reserve(b, n);
    memcpy(b->ptr, &h, sizeof h);
    if (n > sizeof h && spill_read(e, s, b->ptr + sizeof h, n - sizeof h) != 0)
        return NULL;
    return (const struct rec *)b->ptr;
}

/* Reads spill s whole into a new buffer (8-byte aligned by malloc). */
static int load_spill(struct emitter *e, struct spill *s, char **data)
{
    *data = qloop_xmalloc(s->bytes + 8);
    if (!s->f || s->bytes == 0)
        return 0;
    if (spill_rewind(e, s) != 0)
        return -1;
    return fread(*data, 1, s->bytes, s->f) == s->bytes ? 0 : read_error(e);
}

/* Splits spills l and r on the fingerprint bits of level and processes the
 * 64 sub-units in order. */
static int split_unit(struct emitter *e, struct spill *l, struct spill *r, int level)
{
    struct spill *sub = qloop_xcalloc(2 * NPART, sizeof *sub);
    struct qloop_buf b = {0};
    int rc = 0;
    struct spill *src[2] = {l, r};
    for (int s = 0; s < 2 && rc == 0; s++) {
        struct spill *sp = src[s];
        if (!sp->f)
            continue;
        rc = spill_rewind(e, sp);
        for (uint64_t k = 0; k < sp->recs && rc == 0; k++) {
            const struct rec *x = spill_next(e, sp, &b);
            rc = x ? spill_put(e->c, &sub[s * NPART + part_of(x->fp_hi, level)], x, e->err) : -1;
        }
        compare_spill_close(sp);
    }
    qloop_buf_free(&b);
    for (unsigned p = 0; p < NPART && rc == 0; p++)
        rc = compare_process_unit(e, &sub[p], &sub[NPART + p], level);
    for (unsigned p = 0; p < 2 * NPART; p++)
        compare_spill_close(&sub[p]);
    free(sub);
    return rc;
}

/* Loads l and r when they fit the budget (or cannot be split further) and
 * splits them on the next fingerprint bits otherwise. */
int compare_process_unit(struct emitter *e, struct spill *l, struct spill *r, int level)
{
    uint64_t recs = l->recs + r->recs;
    if (recs == 0)
        return 0;
    uint64_t need = l->bytes + r->bytes + recs * ENT_COST;
    if (need > e->c->budget && level < MAX_LEVEL && recs > MIN_SPLIT)
        return split_unit(e, l, r, level + 1);
    char *data[2] = {NULL, NULL};
    struct ent *ents[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    struct spill *src[2] = {l, r};
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        rc = load_spill(e, src[s], &data[s]);
        if (rc != 0)
            break;
        ents[s] = qloop_xcalloc(src[s]->recs + 1, sizeof **ents);
        for (uint64_t off = 0; off < src[s]->bytes;) {
            const struct rec *x = (const struct rec *)(data[s] + off);
            ents[s][n[s]++].r = x;
            off += rec_size(x->len);
        }
    }
    if (rc == 0)
        rc = compare_join_unit(e, ents, n);
    for (int s = 0; s < 2; s++) {
        free(ents[s]);
        free(data[s]);
        compare_spill_close(src[s]);
    }
    return rc;
}

int compare_stream_empty(struct emitter *e, int s)
{
    struct spill *sp = &e->m->side[s].parts[EMPTY_STREAM];
    if (!sp->f)
        return 0;
    struct qloop_buf b = {0};
    int rc = spill_rewind(e, sp);
    for (uint64_t k = 0; k < sp->recs && rc == 0; k++) {
        struct ent x = {.r = spill_next(e, sp, &b), .status = ST_EMPTY};
        rc = x.r ? compare_report_empty(e, s, &x) : -1;
    }
    qloop_buf_free(&b);
    compare_spill_close(sp);
    return rc;
}
