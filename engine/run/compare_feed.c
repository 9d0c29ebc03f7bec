/*
 * compare_feed.c — 比对: records in (see compare.c for the scheme). Each row
 * of a compared dataset becomes one compact record (compare_impl.h: struct
 * rec), built in place at the end of its side's last chunk while the
 * records are in memory, else handed to its partition file (compare_spill.c)
 * or to a partitioned judge's sink. With --jobs the rows of a batch are
 * built on the crew's threads, part by part, and stored in row order: the
 * records, and so the findings, are the same for any number of threads.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "base/text.h"
#include "run/compare_impl.h"

/* Appends s as a length-prefixed payload string. */
static void put_str(struct qloop_buf *b, const char *s, size_t len)
{
    uint32_t n = (uint32_t)len;
    qloop_buf_append(b, (const char *)&n, 4);
    qloop_buf_append(b, s, len);
}

/* ---- feeding records in ---- */

/* Room for a record of n bytes (rec_size) at the end of side s's last
 * chunk, adding a chunk when it is full; charges the chunk to the budget.
 * The caller adds n to the chunk's used bytes once it is written. */
static char *chunk_room(struct compare_run *c, struct side *s, size_t n)
{
    struct chunk *k = s->tail;
    if (!k || k->size - k->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        k = qloop_xmalloc(sizeof *k + size);
        k->next = NULL;
        k->used = 0;
        k->size = size;
        if (s->tail)
            s->tail->next = k;
        else
            s->head = k;
        s->tail = k;
        c->mem += sizeof *k + size;
    }
    return (char *)k->data + k->used;
}

/* After records were charged: spills everything when the charge passes
 * the budget, else sends later records past the hold to the overflow
 * files. Returns 0 or -1 with err. */
static int settle(struct compare_run *c, struct qloop_error *err)
{
    if (c->mem > c->budget)
        return compare_spill_all(c, err);
    if (c->mem > c->hold)
        c->holding = true;
    return 0;
}

/* Charges a record just written at the end of side s's last chunk (n
 * bytes); spills everything when the charge passes the budget. */
static int charge_record(struct compare_run *c, struct side *s, size_t n, struct qloop_error *err)
{
    s->tail->used += n;
    c->mem += ENT_COST;
    return settle(c, err);
}

/* Charges a record of n bytes (rec_size) going to side s's overflow file
 * as chunk_room would charge it if it were held: the chunks it would take
 * are followed past the side's last real one, so that the charge, and so
 * whether the run spills, is the same as if every record were held. */
static void charge_over(struct compare_run *c, struct side *s, size_t n)
{
    if (!s->vset) {
        s->vset = true;
        s->vused = s->tail ? s->tail->used : 0;
        s->vsize = s->tail ? s->tail->size : 0;
    }
    if (s->vsize - s->vused < n) {
        s->vsize = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        s->vused = 0;
        c->mem += sizeof(struct chunk) + s->vsize;
    }
    s->vused += n;
    c->mem += ENT_COST;
}

/* compare_over_read's: puts record r at the end of side s's chunks. */
static int place_held(struct compare_run *c, struct side *s, const struct rec *r,
                      struct qloop_error *err)
{
    (void)err;
    size_t n = rec_size(r->len);
    memcpy(chunk_room(c, s, n), r, n);
    s->tail->used += n;
    return 0;
}

int compare_unhold(struct compare_run *c, struct qloop_error *err)
{
    size_t mem = c->mem; /* charged already, as if held */
    for (size_t i = 0; i < c->ncmps; i++)
        for (int sd = 0; sd < 2; sd++) {
            struct side *s = &c->cmps[i].side[sd];
            if (compare_over_read(c, s, place_held, err) != 0)
                return -1;
            s->vset = false;
        }
    c->mem = mem;
    c->holding = false;
    return 0;
}

/* Keeps record r of side s in memory, or in its partition once spilled;
 * spills everything when the memory charged passes the budget. */
static int store_record(struct compare_run *c, struct side *s, const struct rec *r,
                        struct qloop_error *err)
{
    if (c->spilled)
        return compare_spill_record(c, s, r, err);
    size_t n = rec_size(r->len);
    if (c->holding) {
        charge_over(c, s, n);
        return compare_hold_record(c, s, r, err) != 0 ? -1 : settle(c, err);
    }
    memcpy(chunk_room(c, s, n), r, n);
    return charge_record(c, s, n, err);
}

/* The number of payload strings of a record of side s: its own key when
 * it carries one (REC_OWN_KEY), the compare key, each compared field. */
static size_t rec_strings(const struct side *s, bool own_key)
{
    return (own_key ? 2 : 1) + s->nfields;
}

/* Hands record r of side s to the partitioned judge's sink. */
static int sink_record(struct compare_run *c, struct side *s, const struct rec *r,
                       struct qloop_error *err)
{
    enum { MAXSTR = 64 };
    size_t n = rec_strings(s, r->flags & REC_OWN_KEY);
    const char *fixed_str[MAXSTR];
    size_t fixed_len[MAXSTR];
    const char **str = n <= MAXSTR ? fixed_str : qloop_xcalloc(n, sizeof *str);
    size_t *len = n <= MAXSTR ? fixed_len : qloop_xcalloc(n, sizeof *len);
    for (size_t i = 0; i < n; i++)
        str[i] = payload_str(r, i, &len[i]);
    size_t cmp = 0, side = 0;
    for (size_t i = 0; i < c->ncmps; i++)
        for (int k = 0; k < 2; k++)
            if (&c->cmps[i].side[k] == s)
                cmp = i, side = (size_t)k;
    struct compare_record cr = {.row_no = r->row_no, .empty_key = r->flags & REC_EMPTY_KEY,
                                .own_key = r->flags & REC_OWN_KEY, .fp_hi = r->fp_hi,
                                .fp_lo = r->fp_lo, .nstr = n, .str = str, .len = len};
    int rc = c->sink(c->sink_ctx, cmp, (int)side, &cr, err);
    if (n > MAXSTR) {
        free(str);
        free(len);
    }
    return rc;
}

void compare_set_jobs(struct compare_run *c, size_t jobs)
{
    if (c)
        c->jobs = jobs;
}

void compare_set_emit_ahead(struct compare_run *c, size_t rounds, size_t bytes)
{
    if (!c)
        return;
    c->ahead_rounds = rounds > EMIT_AHEAD ? EMIT_AHEAD : rounds;
    c->ahead_bytes = bytes;
}

void compare_set_sink(struct compare_run *c, compare_sink_fn fn, void *ctx)
{
    c->sink = fn;
    c->sink_ctx = ctx;
}

size_t compare_record_strings(const struct compare_run *c, size_t cmp, int side, bool own_key)
{
    return rec_strings(&c->cmps[cmp].side[side], own_key);
}

int compare_add_record(struct compare_run *c, size_t cmp, int side, const struct compare_record *r,
                       struct qloop_error *err)
{
    struct side *s = &c->cmps[cmp].side[side];
    struct qloop_buf *b = &c->rec;
    qloop_buf_reset(b);
    struct rec h = {.row_no = r->row_no,
                    .flags = (r->empty_key ? REC_EMPTY_KEY : 0u) | (r->own_key ? REC_OWN_KEY : 0u),
                    .fp_hi = r->empty_key ? 0 : r->fp_hi, .fp_lo = r->empty_key ? 0 : r->fp_lo};
    qloop_buf_append(b, (const char *)&h, sizeof h);
    for (size_t i = 0; i < r->nstr; i++)
        put_str(b, r->str[i], r->len[i]);
    h.len = (uint32_t)(b->len - sizeof h);
    while (b->len % 8)
        qloop_buf_putc(b, '\0');
    memcpy(b->ptr, &h, sizeof h);
    s->fed = true;
    s->total++;
    return store_record(c, s, (const struct rec *)b->ptr, err);
}

/* ---- building a record ---- */

enum { MAXCELLS = 16 }; /* key and field cells a plan keeps (more: looked up again) */

/* How the record of one row is laid out: its header, its key's text length,
 * the cells of its key and compared fields (empty values as ""), its size. */
struct rec_plan {
    struct rec h;
    size_t klen, n;
    const struct qloop_field *kf[MAXCELLS], *vf[MAXCELLS];
};

static const struct qloop_field no_cell = {"", 0, 1};

/* The cell of column col of row `row`, or an empty one. */
static const struct qloop_field *cell(const struct compare_rows *rows, size_t row, long col)
{
    return col >= 0 && (size_t)col < rows->ncols ? &rows->cells[row * rows->ncols + (size_t)col]
                                                  : &no_cell;
}

/* Key part i of the planned row. */
static const struct qloop_field *key_cell(const struct side *s, const struct compare_rows *rows,
                                          size_t row, const struct rec_plan *p, size_t i)
{
    return i < MAXCELLS ? p->kf[i] : cell(rows, row, s->key_col[i]);
}

/* Compared field i of the planned row ("" when empty). */
static const struct qloop_field *field_cell(const struct side *s, const struct compare_rows *rows,
                                            size_t row, const struct rec_plan *p, size_t i)
{
    if (i < MAXCELLS)
        return p->vf[i];
    const struct qloop_field *f = cell(rows, row, s->field_col[i]);
    return qloop_value_empty(f) ? &no_cell : f;
}

/* Plans row `row`'s key: its row number, whether a key part is empty, the
 * key text's length. Returns whether the record carries its own key
 * (REC_OWN_KEY: the compare key is not the dataset's, or it is empty). */
static bool plan_key(const struct side *s, const struct compare_rows *rows, size_t row,
                     struct rec_plan *p)
{
    p->h = (struct rec){.row_no = rows->row_no[row]};
    p->klen = 0;
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct qloop_field *f = cell(rows, row, s->key_col[i]);
        if (qloop_value_empty(f))
            p->h.flags |= REC_EMPTY_KEY;
        p->klen += f->len + (i ? 1 : 0);
        if (i < MAXCELLS)
            p->kf[i] = f;
    }
    if (!s->own_is_cmp || (p->h.flags & REC_EMPTY_KEY))
        p->h.flags |= REC_OWN_KEY;
    return p->h.flags & REC_OWN_KEY;
}

/* Plans the rest of row `row`'s record, whose own key (when it carries
 * one) is ownlen bytes: its fields and its size. */
static void plan_size(const struct side *s, const struct compare_rows *rows, size_t row,
                      struct rec_plan *p, size_t ownlen)
{
    size_t len = (p->h.flags & REC_OWN_KEY ? 4 + ownlen : 0) + 4 + p->klen;
    for (size_t i = 0; i < s->nfields; i++) {
        const struct qloop_field *f = cell(rows, row, s->field_col[i]);
        if (qloop_value_empty(f))
            f = &no_cell;
        len += 4 + f->len;
        if (i < MAXCELLS)
            p->vf[i] = f;
    }
    p->h.len = (uint32_t)len;
    p->n = rec_size(p->h.len);
}

/* Writes s as a length-prefixed payload string at at; returns the end. */
static char *write_str(char *at, const char *s, size_t len)
{
    uint32_t n = (uint32_t)len;
    memcpy(at, &n, 4);
    if (len)
        memcpy(at + 4, s, len);
    return at + 4 + len;
}

/* Writes the planned record of row `row` at base (p->n bytes): header,
 * own key, compare key, fields, padding, and the key's fingerprint (of the
 * length-prefixed key parts, made in key when there are several). */
static void write_record(const struct side *s, const struct compare_rows *rows, size_t row,
                         struct rec_plan *p, const char *own, size_t ownlen, char *base,
                         struct qloop_buf *key)
{
    char *at = base + sizeof p->h;
    if (p->h.flags & REC_OWN_KEY)
        at = write_str(at, own, ownlen);
    char *kslot = at;
    uint32_t kl = (uint32_t)p->klen;
    memcpy(at, &kl, 4);
    at += 4;
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct qloop_field *f = key_cell(s, rows, row, p, i);
        if (i)
            *at++ = '|';
        if (f->len)
            memcpy(at, f->ptr, f->len);
        at += f->len;
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const struct qloop_field *f = field_cell(s, rows, row, p, i);
        at = write_str(at, f->ptr, f->len);
    }
    memset(at, 0, (size_t)(base + p->n - at)); /* the padding */
    if (!(p->h.flags & REC_EMPTY_KEY)) {
        if (s->nkeys == 1) { /* the key slot as written */
            strmap_fingerprint(kslot, 4 + p->klen, &p->h.fp_hi, &p->h.fp_lo);
        } else {
            qloop_buf_reset(key);
            for (size_t i = 0; i < s->nkeys; i++) {
                const struct qloop_field *f = key_cell(s, rows, row, p, i);
                put_str(key, f->ptr, f->len);
            }
            strmap_fingerprint(key->ptr, key->len, &p->h.fp_hi, &p->h.fp_lo);
        }
    }
    memcpy(base, &p->h, sizeof p->h);
}

/* Hands a built record of side s on: to the sink, or kept. */
static int deliver(struct compare_run *c, struct side *s, const struct rec *r,
                   struct qloop_error *err)
{
    return c->sink ? sink_record(c, s, r, err) : store_record(c, s, r, err);
}

/* Builds and stores the record of row `row` of the batch for side s: in
 * place at the end of its chunk while the records are in memory, else in
 * c->rec for its partition file or the sink. */
static int feed_row(struct compare_run *c, struct side *s, const struct compare_rows *rows,
                    size_t row, struct qloop_error *err)
{
    struct rec_plan p;
    if (plan_key(s, rows, row, &p)) {
        qloop_buf_reset(&c->own);
        rows->own_key(rows->own_key_ctx, row, &c->own);
    }
    plan_size(s, rows, row, &p, c->own.len);
    s->total++;
    if (!c->spilled && !c->sink && !c->holding) {
        write_record(s, rows, row, &p, c->own.ptr, c->own.len, chunk_room(c, s, p.n), &c->key);
        return charge_record(c, s, p.n, err);
    }
    qloop_buf_reset(&c->rec);
    qloop_buf_reserve(&c->rec, p.n);
    write_record(s, rows, row, &p, c->own.ptr, c->own.len, c->rec.ptr, &c->key);
    return deliver(c, s, (const struct rec *)c->rec.ptr, err);
}

/* ---- a batch on several threads ---- */

enum { FEED_PAR_MIN = 256 }; /* a batch smaller than this is built on the calling thread */

/* One batch of side s built by the crew: member i builds rows
 * [i * per, (i + 1) * per) into stage[i]; own keys were made beforehand
 * (own_off[row], own_len[row]: in c->own; SIZE_MAX: none). */
struct feed_task {
    struct compare_run *c;
    const struct side *s;
    const struct compare_rows *rows;
    size_t per, parts;
    const size_t *own_off, *own_len;
};

/* crew_run's task: member i's rows. */
static void build_part(void *ctx, size_t i)
{
    struct feed_task *t = ctx;
    struct compare_run *c = t->c;
    if (i >= t->parts)
        return;
    struct qloop_buf *out = &c->stage[i];
    qloop_buf_reset(out);
    size_t from = i * t->per, to = from + t->per;
    to = to < t->rows->nrows ? to : t->rows->nrows;
    for (size_t row = from; row < to; row++) {
        struct rec_plan p;
        plan_key(t->s, t->rows, row, &p);
        size_t olen = t->own_len[row] == SIZE_MAX ? 0 : t->own_len[row];
        const char *own = c->own.ptr ? c->own.ptr + t->own_off[row] : "";
        plan_size(t->s, t->rows, row, &p, olen);
        qloop_buf_reserve(out, p.n);
        write_record(t->s, t->rows, row, &p, own, olen, out->ptr + out->len, &c->stage_key[i]);
        out->len += p.n;
    }
}

/* A run of built records (a part of one member's stage) and where in a
 * chunk it goes. */
struct piece {
    const char *from;
    size_t len;
    char *to;
};

/* The pieces a batch's records are copied in, and by how many members. */
struct place_task {
    const struct piece *pieces;
    size_t npieces, parts;
};

/* crew_run's task: member i copies every parts-th piece. */
static void copy_part(void *ctx, size_t i)
{
    const struct place_task *t = ctx;
    for (size_t k = i; k < t->npieces; k += t->parts)
        memcpy(t->pieces[k].to, t->pieces[k].from, t->pieces[k].len);
}

/* Stores the n records the crew built (c->stage[0..jobs), in row order) at
 * the end of side s's chunks: the room is taken here, in row order, a
 * member's records split between chunks where one is full, and the copying
 * (the first touch of the chunks' memory) is done on the crew. Charges them
 * and spills everything when the charge passes the budget, as storing one
 * by one does. Returns 0 or -1 with err. */
static int place_parallel(struct compare_run *c, struct side *s, size_t n, size_t jobs,
                          struct qloop_error *err)
{
    struct piece *pieces = NULL;
    size_t np = 0, cap = 0;
    for (size_t i = 0; i < jobs; i++) {
        const char *stage = c->stage[i].ptr;
        size_t len = c->stage[i].len;
        for (size_t off = 0; off < len;) {
            const struct rec *r = (const struct rec *)(stage + off);
            char *to = chunk_room(c, s, rec_size(r->len)); /* room for one at least */
            size_t room = s->tail->size - s->tail->used, take = len - off;
            if (take > room) /* as many whole records as fit */
                for (take = 0; off + take < len;) {
                    size_t k = rec_size(((const struct rec *)(stage + off + take))->len);
                    if (take + k > room)
                        break;
                    take += k;
                }
            if (np == cap) {
                cap = 2 * cap + 8;
                pieces = qloop_xrealloc(pieces, cap * sizeof *pieces);
            }
            pieces[np++] = (struct piece){stage + off, take, to};
            s->tail->used += take;
            off += take;
        }
    }
    struct place_task t = {pieces, np, jobs};
    crew_run(&c->crew, copy_part, &t);
    free(pieces);
    c->mem += n * ENT_COST;
    return settle(c, err);
}

/* Feeds a whole batch to side s on the crew's threads, then stores the
 * records in row order. Returns 0 or -1 with err. */
static int feed_parallel(struct compare_run *c, struct side *s, const struct compare_rows *rows,
                         size_t jobs, struct qloop_error *err)
{
    size_t n = rows->nrows;
    if (n > c->own_cap) {
        c->own_cap = n;
        c->own_off = qloop_xrealloc(c->own_off, n * sizeof *c->own_off);
        c->own_len = qloop_xrealloc(c->own_len, n * sizeof *c->own_len);
    }
    /* own keys on this thread: the dataset's callback is not the crew's */
    qloop_buf_reset(&c->own);
    struct qloop_buf *one = &c->rec;
    for (size_t row = 0; row < n; row++) {
        struct rec_plan p;
        c->own_len[row] = SIZE_MAX;
        c->own_off[row] = c->own.len;
        if (!plan_key(s, rows, row, &p))
            continue;
        qloop_buf_reset(one);
        rows->own_key(rows->own_key_ctx, row, one);
        qloop_buf_append(&c->own, one->ptr ? one->ptr : "", one->len);
        c->own_len[row] = one->len;
    }
    struct feed_task t = {.c = c, .s = s, .rows = rows, .per = (n + jobs - 1) / jobs,
                          .parts = jobs, .own_off = c->own_off, .own_len = c->own_len};
    crew_run(&c->crew, build_part, &t);
    s->total += (int64_t)n;
    if (!c->spilled && !c->sink && !c->holding)
        return place_parallel(c, s, n, jobs, err);
    for (size_t i = 0; i < jobs; i++)
        for (size_t off = 0; off < c->stage[i].len;) {
            const struct rec *r = (const struct rec *)(c->stage[i].ptr + off);
            if (deliver(c, s, r, err) != 0)
                return -1;
            off += rec_size(r->len);
        }
    return 0;
}

/* The number of threads to build a batch of n rows with (starting the
 * crew on first need): 1 for a small batch or without --jobs. */
static size_t feed_jobs(struct compare_run *c, size_t n)
{
    if (c->jobs < 2 || n < FEED_PAR_MIN)
        return 1;
    crew_start(&c->crew, c->jobs);
    if (!c->stage) {
        c->stage = qloop_xcalloc(c->crew.size, sizeof *c->stage);
        c->stage_key = qloop_xcalloc(c->crew.size, sizeof *c->stage_key);
    }
    return c->crew.size;
}

int compare_feed(struct compare_run *c, const char *dataset, const struct compare_rows *rows,
                 struct qloop_error *err)
{
    for (size_t i = 0; c && i < c->ncmps; i++)
        for (int sd = 0; sd < 2; sd++) {
            struct side *s = &c->cmps[i].side[sd];
            if (strcmp(s->dataset, dataset) != 0)
                continue;
            compare_resolve_columns(s, rows->names, rows->ncols);
            s->fed = true;
            size_t jobs = feed_jobs(c, rows->nrows);
            if (jobs > 1) {
                if (feed_parallel(c, s, rows, jobs, err) != 0)
                    return -1;
                continue;
            }
            for (size_t r = 0; r < rows->nrows; r++)
                if (feed_row(c, s, rows, r, err) != 0)
                    return -1;
        }
    return 0;
}

