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
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bits.h"
#include "run/compare_impl.h"

/* ---- the files' record format ----
 *
 * A record in a partition file is its fingerprint (16 bytes, as in
 * memory), then as varints its row number, flags and payload length, then
 * each payload string as a varint length and its bytes, without padding:
 * about a third fewer bytes than the record in memory (4-byte lengths, an
 * 8-byte row number, padding) to copy into the files, out of them and
 * through the page cache. Reading back decodes a unit in place: the file
 * is read into the end of the unit's buffer and each record decoded
 * towards its start, which never overtakes what is still to be decoded
 * (a record grows when decoded, and grows as it is decoded, unless one of
 * its strings takes 2^28 bytes or more: such a file is `loose` and is
 * decoded from a buffer of its own). */

enum { ENC_HEAD = 16 + 3 * QLOOP_VARINT_MAX }; /* the most an encoded header takes */

/* The most bytes record r takes encoded (a string's 4-byte length may
 * take 5). */
static size_t enc_bound(const struct rec *r)
{
    return ENC_HEAD + r->len + r->len / 4 + 1;
}

/* Encodes r at o and returns the end; sets *loose when r would not decode
 * in place (see above). */
static char *rec_encode(char *o, const struct rec *r, bool *loose)
{
    char *start = o;
    memcpy(o, &r->fp_hi, 8);
    memcpy(o + 8, &r->fp_lo, 8);
    o = qloop_varint_put(o + 16, r->row_no);
    o = qloop_varint_put(o, r->flags);
    o = qloop_varint_put(o, r->len);
    if (o - start > (ptrdiff_t)sizeof *r)
        *loose = true;
    const unsigned char *p = (const unsigned char *)(r + 1), *end = p + r->len;
    while (p < end) {
        uint32_t n;
        memcpy(&n, p, 4);
        if (n >= (uint32_t)1 << 28)
            *loose = true;
        o = qloop_varint_put(o, n);
        memcpy(o, p + 4, n);
        o += n;
        p += 4 + n;
    }
    return o;
}

/* Decodes the record at in[*at] (of in[0..len)) to out, moving *at past
 * it; out may lie before in[*at] as the format allows (memmove). Returns
 * the decoded record's size (rec_size), or 0 when the bytes do not make a
 * record. */
static size_t rec_decode(const unsigned char *in, size_t len, size_t *at, char *out)
{
    struct rec h;
    uint64_t row, flags, plen;
    if (len - *at < 16)
        return 0;
    memcpy(&h.fp_hi, in + *at, 8);
    memcpy(&h.fp_lo, in + *at + 8, 8);
    *at += 16;
    if (!qloop_varint_get(in, len, at, &row) || !qloop_varint_get(in, len, at, &flags) ||
        !qloop_varint_get(in, len, at, &plen) || flags > UINT32_MAX || plen > UINT32_MAX)
        return 0;
    h.row_no = row;
    h.flags = (uint32_t)flags;
    h.len = (uint32_t)plen;
    memcpy(out, &h, sizeof h);
    char *o = out + sizeof h, *end = o + h.len;
    while (o < end) {
        uint64_t n;
        if (!qloop_varint_get(in, len, at, &n) || n > (uint64_t)(end - o) - 4 ||
            (uint64_t)(end - o) < 4 || n > len - *at)
            return 0;
        uint32_t n32 = (uint32_t)n;
        memcpy(o, &n32, 4);
        memmove(o + 4, in + *at, n);
        *at += n;
        o += 4 + n;
    }
    size_t size = rec_size(h.len);
    memset(end, 0, (size_t)(out + size - end)); /* the padding */
    return size;
}

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
    s->bytes = s->recs = s->fbytes = 0;
    s->loose = false;
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

/* Writes out what s's buffer holds, on the calling thread. Returns 0 or -1
 * with err. */
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

/* ---- the writer thread ---- */

/* With jobs > 1, a full block of a partition file is handed to a thread of
 * its own, which writes the blocks in the order they were handed (so each
 * file holds the same bytes as when written at once), and the run's thread
 * takes another buffer and goes on feeding: the system's copying of the
 * blocks into files leaves the thread that reads the datasets. */
enum { WQ = 64 }; /* blocks handed and not yet written, at most */

struct block {
    FILE *f;
    char *buf;
    size_t len;
};

struct spill_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more;   /* a block handed, or quit */
    pthread_cond_t room;   /* a block written */
    struct block q[WQ];    /* a ring: head, count */
    size_t head, count;
    bool busy;             /* a block is being written */
    bool quit;
    int failed;            /* errno of the first write that failed, 0 */
    char *spare[WQ + 1];   /* buffers written out, to be handed again */
    size_t nspare;
};

static void *writer_main(void *arg)
{
    struct spill_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->count == 0 && !w->quit)
            pthread_cond_wait(&w->more, &w->mu);
        if (w->count == 0)
            break;
        struct block b = w->q[w->head];
        w->head = (w->head + 1) % WQ;
        w->count--;
        w->busy = true;
        pthread_mutex_unlock(&w->mu);
        errno = 0;
        bool ok = w->failed || fwrite(b.buf, 1, b.len, b.f) == b.len;
        int e = errno ? errno : EIO;
        pthread_mutex_lock(&w->mu);
        w->busy = false;
        if (!ok && !w->failed)
            w->failed = e;
        w->spare[w->nspare++] = b.buf;
        pthread_cond_broadcast(&w->room);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts c's writer thread; leaves c->writer NULL when none is to be had. */
static void writer_start(struct compare_run *c)
{
    struct spill_writer *w = qloop_xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->more, NULL);
    pthread_cond_init(&w->room, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->more);
        pthread_cond_destroy(&w->room);
        free(w);
        c->writer_tried = true;
        return;
    }
    c->writer = w;
}

/* Fills err from a failed write of the writer's; returns -1. */
static int writer_error(struct compare_run *c, int failed, struct qloop_error *err)
{
    errno = failed;
    return write_error(c, err);
}

/* Hands s's full buffer to the writer and gives s an empty one. Returns 0,
 * or -1 with err when a block handed before could not be written. */
static int writer_hand(struct compare_run *c, struct spill *s, struct qloop_error *err)
{
    struct spill_writer *w = c->writer;
    pthread_mutex_lock(&w->mu);
    while (w->count == WQ)
        pthread_cond_wait(&w->room, &w->mu);
    int failed = w->failed;
    if (!failed) {
        w->q[(w->head + w->count) % WQ] = (struct block){s->f, s->buf, s->used};
        w->count++;
        pthread_cond_signal(&w->more);
        s->buf = w->nspare ? w->spare[--w->nspare] : NULL;
    }
    pthread_mutex_unlock(&w->mu);
    if (failed)
        return writer_error(c, failed, err);
    if (!s->buf)
        s->buf = qloop_xmalloc(SPILL_BUFSIZE);
    s->used = 0;
    c->blocks_behind++;
    return 0;
}

int compare_spill_drain(struct compare_run *c, struct qloop_error *err)
{
    struct spill_writer *w = c ? c->writer : NULL;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (w->count || w->busy)
        pthread_cond_wait(&w->room, &w->mu);
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    return failed ? writer_error(c, failed, err) : 0;
}

void compare_spill_stop(struct compare_run *c)
{
    struct spill_writer *w = c->writer;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->nspare; i++)
        free(w->spare[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->more);
    pthread_cond_destroy(&w->room);
    free(w);
    c->writer = NULL;
}

/* Appends record r to s, encoded, creating the file on first use. Returns
 * 0 or -1 with err. */
static int spill_put(struct compare_run *c, struct spill *s, const struct rec *r,
                     struct qloop_error *err)
{
    if (!s->f && spill_open(c, s, err) != 0)
        return -1;
    size_t bound = enc_bound(r);
    if (s->used + bound > SPILL_BUFSIZE && s->used) {
        if (!c->writer && !c->writer_tried && c->jobs > 1)
            writer_start(c);
        if ((c->writer ? writer_hand(c, s, err) : spill_flush(c, s, err)) != 0)
            return -1;
    }
    size_t n;
    if (bound > SPILL_BUFSIZE) {
        /* a record larger than a block: after the blocks handed before it */
        char *big = qloop_xmalloc(bound);
        n = (size_t)(rec_encode(big, r, &s->loose) - big);
        bool ok = compare_spill_drain(c, err) == 0;
        if (ok && fwrite(big, 1, n, s->f) != n)
            ok = write_error(c, err) == 0;
        free(big);
        if (!ok)
            return -1;
    } else {
        n = (size_t)(rec_encode(s->buf + s->used, r, &s->loose) - (s->buf + s->used));
        s->used += n;
    }
    s->fbytes += n;
    s->bytes += rec_size(r->len);
    s->recs++;
    c->spill_file += n;
    c->spill_mem += rec_size(r->len);
    return 0;
}

int compare_spill_record(struct compare_run *c, struct side *s, const struct rec *r,
                         struct qloop_error *err)
{
    unsigned part = r->flags & REC_EMPTY_KEY ? EMPTY_STREAM : part_of(r->fp_hi, 0);
    return spill_put(c, &s->parts[part], r, err);
}

int compare_hold_record(struct compare_run *c, struct side *s, const struct rec *r,
                        struct qloop_error *err)
{
    /* not a partition file: compare_spill_sizes counts those */
    uint64_t mem = c->spill_mem, file = c->spill_file;
    int rc = spill_put(c, &s->over, r, err);
    c->spill_mem = mem;
    c->spill_file = file;
    c->over_recs++;
    return rc;
}

int compare_spill_all(struct compare_run *c, struct qloop_error *err)
{
    c->spilled = true;
    c->holding = false;
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
            /* then what came after them, past the hold */
            if (s->over.f && compare_over_read(c, s, compare_spill_record, err) != 0)
                return -1;
        }
    c->mem = 0;
    return 0;
}

/* ---- reading them back ---- */

/* Fills err for a temporary file of c that cannot be read back; returns -1. */
static int read_error(const struct compare_run *c, struct qloop_error *err)
{
    return qloop_error_set(err, c->tmpdir, 0, 0,
                           "读取比对用的临时文件失败（%s）；请检查 TMPDIR 所在磁盘", strerror(errno));
}

/* Makes s ready to be read from its start, its buffer written out and
 * empty. Returns 0 or -1 with err. */
static int spill_rewind(struct compare_run *c, struct spill *s, struct qloop_error *err)
{
    if (compare_spill_drain(c, err) != 0 || spill_flush(c, s, err) != 0)
        return -1;
    if (fseek(s->f, 0, SEEK_SET) != 0)
        return read_error(c, err);
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
                return read_error(e->c, e->err);
        }
        size_t k = s->used - s->pos < n ? s->used - s->pos : n;
        memcpy(dst, s->buf + s->pos, k);
        s->pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

/* Reads a varint of s into *v. Returns 0, or -1 with err. */
static int spill_varint(struct emitter *e, struct spill *s, uint64_t *v)
{
    unsigned char b[QLOOP_VARINT_MAX];
    for (size_t k = 0; k < sizeof b; k++) {
        if (spill_read(e, s, (char *)&b[k], 1) != 0)
            return -1;
        if (!(b[k] & 0x80)) {
            size_t at = 0;
            qloop_varint_get(b, k + 1, &at, v);
            return 0;
        }
    }
    errno = EIO;
    return read_error(e->c, e->err);
}

/* Reads the next record of s into b, decoded. Returns it, or NULL with err. */
static const struct rec *spill_next(struct emitter *e, struct spill *s, struct qloop_buf *b)
{
    struct rec h;
    uint64_t row, flags, plen;
    if (spill_read(e, s, (char *)&h.fp_hi, 8) != 0 || spill_read(e, s, (char *)&h.fp_lo, 8) != 0 ||
        spill_varint(e, s, &row) != 0 || spill_varint(e, s, &flags) != 0 ||
        spill_varint(e, s, &plen) != 0)
        return NULL;
    if (flags > UINT32_MAX || plen > UINT32_MAX) {
        errno = EIO;
        read_error(e->c, e->err);
        return NULL;
    }
    h.row_no = row;
    h.flags = (uint32_t)flags;
    h.len = (uint32_t)plen;
    size_t size = rec_size(h.len);
    qloop_buf_reset(b);
    qloop_buf_reserve(b, size);
    memset(b->ptr, 0, size);
    memcpy(b->ptr, &h, sizeof h);
    for (size_t o = sizeof h; o < sizeof h + h.len;) {
        uint64_t n;
        if (spill_varint(e, s, &n) != 0)
            return NULL;
        if (n + 4 > sizeof h + h.len - o) {
            errno = EIO;
            read_error(e->c, e->err);
            return NULL;
        }
        uint32_t n32 = (uint32_t)n;
        memcpy(b->ptr + o, &n32, 4);
        if (n && spill_read(e, s, b->ptr + o + 4, n) != 0)
            return NULL;
        o += 4 + n;
    }
    return (const struct rec *)b->ptr;
}

/* Reads spill sp from its start and calls fn(e, r, ctx) on each record in
 * order until one fails, then closes it (a spill never opened: nothing).
 * Returns 0, or -1 with e->err (fn's, or a read's). */
static int spill_each(struct emitter *e, struct spill *sp,
                      int (*fn)(struct emitter *e, const struct rec *r, void *ctx), void *ctx)
{
    if (!sp->f)
        return 0;
    struct qloop_buf b = {0};
    int rc = spill_rewind(e->c, sp, e->err);
    for (uint64_t k = 0; k < sp->recs && rc == 0; k++) {
        const struct rec *r = spill_next(e, sp, &b);
        rc = r ? fn(e, r, ctx) : -1;
    }
    qloop_buf_free(&b);
    compare_spill_close(sp);
    return rc;
}

/* Reads spill s whole into a new buffer *data (8-byte aligned by malloc),
 * its records decoded, and points ents[0..s->recs) at them. Returns 0 or
 * -1 with err. */
static int load_spill(struct compare_run *c, struct spill *s, char **data, struct ent *ents,
                      struct qloop_error *err)
{
    *data = qloop_xmalloc(s->bytes + 8);
    if (!s->f || s->recs == 0)
        return 0;
    if (spill_rewind(c, s, err) != 0)
        return -1;
    bool in_place = !s->loose && s->fbytes <= s->bytes;
    unsigned char *in = in_place ? (unsigned char *)*data + (s->bytes - s->fbytes)
                                 : qloop_xmalloc(s->fbytes + 1);
    int rc = fread(in, 1, s->fbytes, s->f) == s->fbytes ? 0 : read_error(c, err);
    size_t at = 0, off = 0;
    for (uint64_t k = 0; k < s->recs && rc == 0; k++) {
        size_t size = rec_decode(in, s->fbytes, &at, *data + off);
        if (size == 0 || off + size > s->bytes) {
            errno = EIO;
            rc = read_error(c, err);
            break;
        }
        ents[k].r = (const struct rec *)(*data + off);
        off += size;
    }
    if (rc == 0 && (at != s->fbytes || off != s->bytes)) {
        errno = EIO;
        rc = read_error(c, err);
    }
    if (!in_place)
        free(in);
    return rc;
}

/* A unit read back: each side's file whole and its entries pointed at the
 * records in it. */
struct unit_data {
    char *data[2];
    struct ent *ents[2];
    size_t n[2];
    uint64_t need; /* what the unit is charged against the budget (unit_need) */
};

/* What joining spills l and r in memory is charged: their records and
 * ENT_COST bytes a record. */
static uint64_t unit_need(const struct spill *l, const struct spill *r)
{
    return l->bytes + r->bytes + (l->recs + r->recs) * ENT_COST;
}

/* Whether l and r, a unit at a partition level, are joined as one (rather
 * than split on the next fingerprint bits). */
static bool unit_whole(const struct compare_run *c, const struct spill *l, const struct spill *r,
                       int level)
{
    return unit_need(l, r) <= c->budget || level >= MAX_LEVEL || l->recs + r->recs <= MIN_SPLIT;
}

/* Frees what u holds. */
static void unit_free(struct unit_data *u)
{
    for (int s = 0; s < 2; s++) {
        free(u->ents[s]);
        free(u->data[s]);
    }
    *u = (struct unit_data){0};
}

/* Reads spills src[0] and src[1] into u and closes them (their pages are
 * let go here). Touches nothing of c but reads its tmpdir, so that it may
 * run on a thread of its own. Returns 0, or -1 with err (u then holds what
 * was read, for unit_free). */
static int load_unit(struct compare_run *c, struct spill *const src[2], struct unit_data *u,
                     struct qloop_error *err)
{
    *u = (struct unit_data){.need = unit_need(src[0], src[1])};
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        u->ents[s] = qloop_xcalloc(src[s]->recs + 1, sizeof **u->ents);
        rc = load_spill(c, src[s], &u->data[s], u->ents[s], err);
        u->n[s] = rc == 0 ? (size_t)src[s]->recs : 0;
    }
    compare_spill_close(src[0]);
    compare_spill_close(src[1]);
    return rc;
}

/* Where split_unit sends one side's records: its 64 sub-partitions. */
struct split_to {
    struct spill *sub;
    int level;
};

/* spill_each's for split_unit: r to its sub-partition at the level. */
static int split_put(struct emitter *e, const struct rec *r, void *ctx)
{
    struct split_to *to = ctx;
    return spill_put(e->c, &to->sub[part_of(r->fp_hi, to->level)], r, e->err);
}

/* Splits spills l and r on the fingerprint bits of level and processes the
 * 64 sub-units in order. */
static int split_unit(struct emitter *e, struct spill *l, struct spill *r, int level)
{
    struct spill *sub = qloop_xcalloc(2 * NPART, sizeof *sub);
    struct split_to to = {sub, level};
    int rc = spill_each(e, l, split_put, &to);
    to.sub += NPART;
    if (rc == 0)
        rc = spill_each(e, r, split_put, &to);
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
    if (l->recs + r->recs == 0)
        return 0;
    if (!unit_whole(e->c, l, r, level))
        return split_unit(e, l, r, level + 1);
    struct unit_data u;
    struct spill *src[2] = {l, r};
    int rc = load_unit(e->c, src, &u, e->err);
    if (rc == 0)
        rc = compare_join_unit(e, u.ents, u.n);
    unit_free(&u);
    return rc;
}

/* A first-level unit read on a thread of its own while the one before it
 * is joined. */
struct loader {
    struct compare_run *c;
    struct spill *src[2];
    struct unit_data u;
    int rc;
    struct qloop_error err;
    pthread_t thread;
};

static void *loader_main(void *arg)
{
    struct loader *ld = arg;
    ld->rc = load_unit(ld->c, ld->src, &ld->u, &ld->err);
    return NULL;
}

/* Starts reading unit l, r on a thread; NULL when no thread is to be had
 * (the unit is then read when its turn comes). */
static struct loader *loader_start(struct compare_run *c, struct spill *l, struct spill *r)
{
    struct loader *ld = qloop_xcalloc(1, sizeof *ld);
    ld->c = c;
    ld->src[0] = l, ld->src[1] = r;
    qloop_error_clear(&ld->err);
    if (pthread_create(&ld->thread, NULL, loader_main, ld) != 0) {
        free(ld);
        return NULL;
    }
    return ld;
}

/* Waits for ld's thread; moves its unit into *u and its error into err.
 * Frees ld. Returns the load's 0 or -1. */
static int loader_finish(struct loader *ld, struct unit_data *u, struct qloop_error *err)
{
    pthread_join(ld->thread, NULL);
    int rc = ld->rc;
    if (rc != 0 && err)
        *err = ld->err;
    *u = ld->u;
    free(ld);
    return rc;
}

int compare_process_parts(struct emitter *e)
{
    struct compare_run *c = e->c;
    struct side *L = &e->m->side[0], *R = &e->m->side[1];
    /* with helpers (jobs > 1), unit p + 1 is read on a thread while unit p
     * is joined, when the two fit the budget together: the reading (the
     * files' bytes copied back, the entries pointed at them, the files'
     * pages let go) leaves the calling thread, which stores the findings */
    bool ahead = c->jobs > 1;
    struct loader *next = NULL;
    int rc = 0;
    for (unsigned p = 0; p < NPART && rc == 0; p++) {
        struct spill *l = &L->parts[p], *r = &R->parts[p];
        struct unit_data u = {0};
        bool loaded = next != NULL;
        if (next) {
            rc = loader_finish(next, &u, e->err);
            next = NULL;
        }
        if (rc == 0 && ahead && p + 1 < NPART) {
            struct spill *nl = &L->parts[p + 1], *nr = &R->parts[p + 1];
            uint64_t now = loaded ? u.need : unit_whole(c, l, r, 0) ? unit_need(l, r) : c->budget;
            if (nl->recs + nr->recs > 0 && unit_whole(c, nl, nr, 0) &&
                now + unit_need(nl, nr) <= c->budget && (next = loader_start(c, nl, nr)))
                c->units_ahead++;
        }
        if (rc == 0)
            rc = loaded ? compare_join_unit(e, u.ents, u.n) : compare_process_unit(e, l, r, 0);
        unit_free(&u);
    }
    if (next) {
        struct unit_data u;
        loader_finish(next, &u, NULL);
        unit_free(&u);
    }
    return rc;
}

/* What compare_over_read calls fn with, for each record. */
struct over_to {
    struct side *s;
    compare_rec_fn fn;
};

/* spill_each's for compare_over_read. */
static int over_put(struct emitter *e, const struct rec *r, void *ctx)
{
    struct over_to *to = ctx;
    return to->fn(e->c, to->s, r, e->err);
}

int compare_over_read(struct compare_run *c, struct side *s, compare_rec_fn fn,
                      struct qloop_error *err)
{
    struct emitter e = {.c = c, .err = err}; /* what spill_next reports through */
    struct over_to to = {s, fn};
    return spill_each(&e, &s->over, over_put, &to);
}

/* spill_each's for compare_stream_empty: r, of the side at ctx, reported. */
static int empty_put(struct emitter *e, const struct rec *r, void *ctx)
{
    struct ent x = {.r = r, .status = ST_EMPTY};
    return compare_report_empty(e, *(const int *)ctx, &x);
}

int compare_stream_empty(struct emitter *e, int s)
{
    return spill_each(e, &e->m->side[s].parts[EMPTY_STREAM], empty_put, &s);
}
