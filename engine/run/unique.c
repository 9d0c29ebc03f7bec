/*
 * unique.c — whole-dataset uniqueness in bounded memory (see unique.h).
 *
 * Offers: each writer appends a record (hash of the value, seq, row, the
 * value and the key — once when the key is the value) to one of NPART
 * partition buffers chosen by the top bits of the hash. Past the writer's
 * share of the memory cap it writes every buffer as a chunk to its own
 * unlinked temporary file (tmpfile()) and remembers (partition, offset,
 * length). Nothing is shared between writers, so they need no lock.
 *
 * Finish, partition by partition (every writer's chunks and buffer of it):
 *   count   an open-addressing table of the distinct values — by hash, then
 *           by the value's bytes, so two values with the same hash stay two
 *           values — each with its occurrences and its two smallest seqs;
 *   fails   each record of a value that occurs twice or more goes, with the
 *           place it is reported at (its own seq; for the value's first
 *           record, the second occurrence's seq, just before it), to a
 *           second set of partitions by that place's range;
 * then those range partitions, in order, each sorted by place, are emitted:
 * the order in which a set deciding row by row would have reported them.
 * A group (unique_add_group: occurrences reported elsewhere) is an
 * occurrence without a record. What must fit in memory at once is one
 * partition of each kind: about 1/NPART of the offers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "run/unique.h"

enum {
    NPART = 256,             /* hash partitions (and range partitions of the fails) */
    MEM_MAX = 32 << 20,      /* offers kept in memory at most, over all writers */
    KEY_IS_VALUE = 0xffffffffu, /* rec.keylen: the key is the value */
};

/* One offer; the value and then the key follow (padded to 8 bytes). count:
 * 1 for a record; for a group (no record: row_no 0, no key) the occurrences
 * it stands for, saturating. */
struct rec {
    uint64_t hash, seq, row_no;
    uint32_t vlen, keylen;
    uint32_t count, group;
};

/* One failing record, at its place (seq, then sub: 0 for a first record
 * reported when its twin comes); the value and the key follow (padded to 8
 * bytes). */
struct fail {
    uint64_t seq, row_no;
    uint32_t sub, vlen, keylen, pad;
};

/* Where a writer put part of a partition in its file. */
struct chunk {
    uint64_t off;
    uint32_t part, len;
};

/* Partitioned bytes: in memory up to cap, then chunks of a temporary file. */
struct pspool {
    struct qloop_buf part[NPART];
    size_t mem, cap;
    FILE *file;
    uint64_t end;
    struct chunk *chunks;
    size_t nchunks, chunks_cap;
    int error; /* errno of the first failed write, 0 */
};

struct unique_set {
    size_t budget;
    size_t nwriters;
    struct pspool *w; /* per writer */
    uint64_t next_seq;    /* unique_add's */
    uint64_t *writer_max; /* per writer: the largest seq it offered */
};

static uint64_t (*test_hash)(const char *, size_t);

void unique_test_hash(uint64_t (*hash)(const char *value, size_t len)) { test_hash = hash; }

static uint64_t hash_of(const char *value, size_t len)
{
    return test_hash ? test_hash(value, len) : strmap_hash(value, len);
}

/* Items are padded to 8 bytes so that their heads can be read in place. */
static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static size_t mem_cap(size_t budget) { return budget / 4 < MEM_MAX ? budget / 4 : MEM_MAX; }

/* ---- partitioned spools ---- */

static void ps_free(struct pspool *s)
{
    for (int i = 0; i < NPART; i++)
        qloop_buf_free(&s->part[i]);
    if (s->file)
        fclose(s->file);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* Writes every partition buffer to the file as a chunk. */
static void ps_flush(struct pspool *s)
{
    if (!s->file && !s->error && !(s->file = tmpfile()))
        s->error = errno ? errno : EIO;
    for (int i = 0; i < NPART; i++) {
        struct qloop_buf *b = &s->part[i];
        if (!b->len)
            continue;
        if (!s->error && b->len <= UINT32_MAX) {
            if (fwrite(b->ptr, 1, b->len, s->file) != b->len)
                s->error = errno ? errno : EIO;
            if (s->nchunks == s->chunks_cap) {
                s->chunks_cap = s->chunks_cap ? 2 * s->chunks_cap : 1024;
                s->chunks = qloop_xrealloc(s->chunks, s->chunks_cap * sizeof *s->chunks);
            }
            s->chunks[s->nchunks++] = (struct chunk){s->end, (uint32_t)i, (uint32_t)b->len};
            s->end += b->len;
        } else if (!s->error) {
            s->error = EFBIG;
        }
        qloop_buf_reset(b);
    }
    s->mem = 0;
}

/* Appends head and two byte strings to partition part as one item. */
static void ps_append(struct pspool *s, size_t part, const void *head, size_t hlen, const char *a,
                      size_t alen, const char *b, size_t blen)
{
    struct qloop_buf *p = &s->part[part];
    size_t n = pad8(hlen + alen + blen);
    qloop_buf_reserve(p, n);
    char *at = p->ptr + p->len;
    memcpy(at, head, hlen);
    memcpy(at + hlen, a, alen);
    memcpy(at + hlen + alen, b, blen);
    memset(at + hlen + alen + blen, 0, n - (hlen + alen + blen));
    p->len += n;
    p->ptr[p->len] = '\0';
    s->mem += n;
    if (s->mem > s->cap)
        ps_flush(s);
}

/* Appends what s holds of partition part to out. Returns 0 or -1 (errno). */
static int ps_load(struct pspool *s, size_t part, struct qloop_buf *out)
{
    if (s->error) {
        errno = s->error;
        return -1;
    }
    if (s->file && s->nchunks) {
        if (fflush(s->file) != 0)
            return -1;
        for (size_t i = 0; i < s->nchunks; i++) {
            const struct chunk *c = &s->chunks[i];
            if (c->part != part)
                continue;
            qloop_buf_reserve(out, c->len);
            if (fseeko(s->file, (off_t)c->off, SEEK_SET) != 0 ||
                fread(out->ptr + out->len, 1, c->len, s->file) != c->len) {
                if (!errno)
                    errno = EIO;
                return -1;
            }
            out->len += c->len;
        }
    }
    qloop_buf_append(out, s->part[part].ptr ? s->part[part].ptr : "", s->part[part].len);
    return 0;
}

/* ---- offers ---- */

struct unique_set *unique_new(size_t budget)
{
    struct unique_set *u = qloop_xcalloc(1, sizeof *u);
    u->budget = budget ? budget : (size_t)1 << 30;
    unique_set_writers(u, 1);
    return u;
}

void unique_set_writers(struct unique_set *u, size_t nwriters)
{
    if (nwriters < 1)
        nwriters = 1;
    for (size_t i = 0; i < u->nwriters; i++)
        ps_free(&u->w[i]);
    free(u->w);
    free(u->writer_max);
    u->nwriters = nwriters;
    u->w = qloop_xcalloc(nwriters, sizeof *u->w);
    u->writer_max = qloop_xcalloc(nwriters, sizeof *u->writer_max);
    for (size_t i = 0; i < nwriters; i++)
        u->w[i].cap = mem_cap(u->budget) / nwriters;
}

void unique_free(struct unique_set *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nwriters; i++)
        ps_free(&u->w[i]);
    free(u->w);
    free(u->writer_max);
    free(u);
}

bool unique_spilled(const struct unique_set *u)
{
    for (size_t i = 0; i < u->nwriters; i++)
        if (u->w[i].nchunks || u->w[i].error)
            return true;
    return false;
}

static int temp_error(int e, const char *what, struct qloop_error *err)
{
    return qloop_error_set(err, NULL, 0, 0,
                           "唯一性检查%s临时文件失败（%s）；请检查 TMPDIR 所在磁盘的空间和写权限",
                           what, strerror(e));
}

int unique_check(const struct unique_set *u, struct qloop_error *err)
{
    for (size_t i = 0; i < u->nwriters; i++)
        if (u->w[i].error)
            return temp_error(u->w[i].error, "写", err);
    return 0;
}

static void offer(struct unique_set *u, size_t writer, uint64_t seq, const char *value, size_t vlen,
                  uint64_t row_no, const char *key, size_t keylen, uint64_t group)
{
    uint64_t h = hash_of(value, vlen);
    bool same = keylen == vlen && vlen > 0 && (key == value || memcmp(key, value, vlen) == 0);
    struct rec r = {.hash = h, .seq = seq, .row_no = row_no, .vlen = (uint32_t)vlen,
                    .keylen = same ? KEY_IS_VALUE : (uint32_t)keylen,
                    .count = group ? (group >= UINT32_MAX ? UINT32_MAX : (uint32_t)group) : 1,
                    .group = group != 0};
    if (seq > u->writer_max[writer])
        u->writer_max[writer] = seq;
    ps_append(&u->w[writer], (size_t)(h >> 56), &r, sizeof r, value, vlen, key, same ? 0 : keylen);
}

void unique_offer(struct unique_set *u, size_t writer, uint64_t seq, const char *value, size_t vlen,
                  uint64_t row_no, const char *key, size_t keylen)
{
    offer(u, writer, seq, value, vlen, row_no, key ? key : "", keylen, 0);
}

int unique_add(struct unique_set *u, const char *value, size_t vlen, uint64_t row_no,
               const char *key, size_t keylen, struct qloop_error *err)
{
    offer(u, 0, u->next_seq++, value, vlen, row_no, key ? key : "", keylen, 0);
    return unique_check(u, err);
}

int unique_add_group(struct unique_set *u, const char *value, size_t vlen, uint64_t count,
                     struct qloop_error *err)
{
    offer(u, 0, u->next_seq++, value, vlen, 0, "", 0, count ? count : 1);
    return unique_check(u, err);
}

/* ---- counting a partition ---- */

/* A distinct value of a partition. */
struct group {
    const struct rec *first; /* the offer at s1 */
    uint64_t count;
    uint64_t s1, s2; /* the two smallest seqs (s2 UINT64_MAX: none) */
};

struct count {
    struct qloop_buf data;  /* the partition's records */
    struct group *groups;
    size_t ngroups, groups_cap;
    uint32_t *slots; /* group index + 1, 0 empty */
    size_t nslots;
    uint32_t *rec_group; /* per record, in data order: its group's index */
    size_t nrecs, recs_cap;
};

static const char *rec_value(const struct rec *r) { return (const char *)(r + 1); }

static const char *rec_key(const struct rec *r, size_t *len)
{
    if (r->keylen == KEY_IS_VALUE) {
        *len = r->vlen;
        return rec_value(r);
    }
    *len = r->keylen;
    return rec_value(r) + r->vlen;
}

static size_t rec_size(const struct rec *r)
{
    return pad8(sizeof *r + r->vlen + (r->keylen == KEY_IS_VALUE ? 0 : r->keylen));
}

/* The index of r's value's group, made when new. */
static uint32_t group_of(struct count *c, const struct rec *r)
{
    size_t mask = c->nslots - 1;
    for (size_t i = (size_t)r->hash & mask;; i = (i + 1) & mask) {
        uint32_t g = c->slots[i];
        if (g == 0) {
            if (c->ngroups == c->groups_cap) {
                c->groups_cap = c->groups_cap ? 2 * c->groups_cap : 1024;
                c->groups = qloop_xrealloc(c->groups, c->groups_cap * sizeof *c->groups);
            }
            c->groups[c->ngroups] = (struct group){.first = r, .s1 = UINT64_MAX, .s2 = UINT64_MAX};
            c->slots[i] = (uint32_t)++c->ngroups;
            return (uint32_t)(c->ngroups - 1);
        }
        const struct rec *o = c->groups[g - 1].first;
        if (o->hash == r->hash && o->vlen == r->vlen &&
            memcmp(rec_value(o), rec_value(r), r->vlen) == 0)
            return g - 1;
    }
}

/* Loads partition part of every writer and counts its values. Returns 0 or
 * -1 with err. */
static int count_part(struct unique_set *u, size_t part, struct count *c, struct qloop_error *err)
{
    qloop_buf_reset(&c->data);
    c->ngroups = 0;
    for (size_t w = 0; w < u->nwriters; w++)
        if (ps_load(&u->w[w], part, &c->data) != 0)
            return temp_error(errno, "读", err);
    size_t n = 0;
    for (size_t off = 0; off < c->data.len; n++)
        off += rec_size((const struct rec *)(c->data.ptr + off));
    size_t want = 1024;
    while (want < 2 * n)
        want *= 2;
    if (want > c->nslots) {
        free(c->slots);
        c->slots = qloop_xmalloc(want * sizeof *c->slots);
        c->nslots = want;
    }
    memset(c->slots, 0, c->nslots * sizeof *c->slots);
    if (n > c->recs_cap) {
        free(c->rec_group);
        c->rec_group = qloop_xmalloc(n * sizeof *c->rec_group);
        c->recs_cap = n;
    }
    c->nrecs = n;
    n = 0;
    for (size_t off = 0; off < c->data.len;) {
        const struct rec *r = (const struct rec *)(c->data.ptr + off);
        off += rec_size(r);
        uint32_t gi = group_of(c, r);
        c->rec_group[n++] = gi;
        struct group *g = &c->groups[gi];
        g->count = r->count >= UINT64_MAX - g->count ? UINT64_MAX : g->count + r->count;
        if (r->seq < g->s1) {
            g->s2 = g->s1;
            g->s1 = r->seq;
            g->first = r;
        } else if (r->seq < g->s2) {
            g->s2 = r->seq;
        }
    }
    return 0;
}

static void count_free(struct count *c)
{
    qloop_buf_free(&c->data);
    free(c->groups);
    free(c->slots);
    free(c->rec_group);
}

/* ---- finishing ---- */

/* The range partition of place seq among seqs 0..max. */
static size_t range_of(uint64_t seq, uint64_t max)
{
    uint64_t width = max / NPART + 1;
    return (size_t)(seq / width);
}

/* Puts the failing records of the counted partition into fails. */
static void collect_fails(const struct count *c, uint64_t max, struct pspool *fails)
{
    size_t n = 0;
    for (size_t off = 0; off < c->data.len;) {
        const struct rec *r = (const struct rec *)(c->data.ptr + off);
        off += rec_size(r);
        const struct group *g = &c->groups[c->rec_group[n++]];
        if (r->group || g->count < 2) /* a group has no record to report */
            continue;
        bool first = g->first == r;
        size_t klen;
        const char *key = rec_key(r, &klen);
        struct fail f = {.seq = first ? g->s2 : r->seq, .row_no = r->row_no, .sub = !first,
                         .vlen = r->vlen, .keylen = (uint32_t)klen};
        ps_append(fails, range_of(f.seq, max), &f, sizeof f, rec_value(r), r->vlen, key, klen);
    }
}

static int by_place(const void *a, const void *b)
{
    const struct fail *x = *(const struct fail *const *)a, *y = *(const struct fail *const *)b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (int)x->sub - (int)y->sub;
}

/* Emits the failing records of fails, range by range, each sorted by place. */
static int emit_fails(struct pspool *fails, unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    struct qloop_buf data = {0};
    const struct fail **order = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t part = 0; part < NPART && rc == 0; part++) {
        qloop_buf_reset(&data);
        if (ps_load(fails, part, &data) != 0) {
            rc = temp_error(errno, "读", err);
            break;
        }
        size_t n = 0;
        for (size_t off = 0; off < data.len; n++) {
            const struct fail *f = (const struct fail *)(data.ptr + off);
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                order = qloop_xrealloc(order, cap * sizeof *order);
            }
            order[n] = f;
            off += pad8(sizeof *f + f->vlen + f->keylen);
        }
        if (n > 1)
            qsort(order, n, sizeof *order, by_place);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct fail *f = order[i];
            const char *value = (const char *)(f + 1);
            rc = emit(ctx, f->row_no, value + f->vlen, f->keylen, value, f->vlen);
        }
    }
    free(order);
    qloop_buf_free(&data);
    return rc;
}

static int by_first(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return x->s1 < y->s1 ? -1 : x->s1 > y->s1;
}

/* Hands out the counted partition's states, in the order values first came. */
static int give_states(struct count *c, unique_state_fn state, void *sctx)
{
    if (c->ngroups > 1) /* an empty partition has no array to sort */
        qsort(c->groups, c->ngroups, sizeof *c->groups, by_first);
    int rc = 0;
    for (size_t i = 0; i < c->ngroups && rc == 0; i++) {
        const struct group *g = &c->groups[i];
        const struct rec *r = g->first;
        size_t klen;
        const char *key = rec_key(r, &klen);
        if (g->count == 1)
            rc = state(sctx, rec_value(r), r->vlen, 1, r->row_no, key, klen);
        else
            rc = state(sctx, rec_value(r), r->vlen, g->count, 0, NULL, 0);
    }
    return rc;
}

int unique_finish(struct unique_set *u, unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    return unique_finish_states(u, emit, ctx, NULL, NULL, err);
}

int unique_finish_states(struct unique_set *u, unique_emit_fn emit, void *ectx,
                         unique_state_fn state, void *sctx, struct qloop_error *err)
{
    if (unique_check(u, err) != 0)
        return -1;
    uint64_t max = 0;
    for (size_t i = 0; i < u->nwriters; i++)
        if (u->writer_max[i] > max)
            max = u->writer_max[i];
    struct count c = {0};
    struct pspool fails = {.cap = mem_cap(u->budget)};
    int rc = 0;
    for (size_t part = 0; part < NPART && rc == 0; part++) {
        rc = count_part(u, part, &c, err);
        if (rc == 0)
            collect_fails(&c, max, &fails);
    }
    if (rc == 0 && fails.error)
        rc = temp_error(fails.error, "写", err);
    if (rc == 0)
        rc = emit_fails(&fails, emit, ectx, err);
    ps_free(&fails);
    for (size_t part = 0; state && part < NPART && rc == 0; part++) {
        rc = count_part(u, part, &c, err);
        if (rc == 0)
            rc = give_states(&c, state, sctx);
    }
    count_free(&c);
    return rc;
}
