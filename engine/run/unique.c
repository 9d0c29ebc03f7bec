/*
 * unique.c — whole-dataset uniqueness in bounded memory (see unique.h).
 *
 * Offers: each writer appends a compact record (flags, part of the value's
 * hash, varint seq and row, the value and the key — once when the key is
 * the value: struct rec below) to one of NPART
 * partitions chosen by the top bits of the hash: a chain of fixed-size
 * blocks, taken from the writer's own free list, so a record is copied once
 * and memory once faulted in is used again. Past the writer's share of the
 * memory cap it writes every partition's chain as a chunk to its own
 * unlinked temporary file (tmpfile()), all in a few large writev calls, and
 * remembers (partition, offset, length). Nothing is shared between writers,
 * so they need no lock.
 *
 * Finish, partition by partition (every writer's chunks and blocks of it):
 *   count   an open-addressing table of the distinct values — by hash, then
 *           by the value's bytes, so two values with the same hash stay two
 *           values — each with its occurrences and its two smallest seqs;
 *   fails   each record of a value that occurs twice or more goes, with the
 *           place it is reported at (its own seq; for the value's first
 *           record, the second occurrence's seq, just before it), to a
 *           second set of partitions by that place's range;
 * then those range partitions, in order, each sorted by place, are emitted:
 * the order in which a set deciding row by row would have reported them
 * (unique_finish_encoded: each range's records made by the caller's
 * encoder, a large range's second half on a helper thread, and taken in
 * that order).
 * A group (unique_add_group: occurrences reported elsewhere) is an
 * occurrence without a record. What must fit in memory at once is one
 * partition of each kind: about 1/NPART of the offers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/bits.h"
#include "base/buf.h"
#include "base/strmap.h"
#include "run/unique.h"

enum {
    NPART = 256,             /* hash partitions (and range partitions of the fails) */
    MEM_MAX = 32 << 20,      /* offers kept in memory at most, over all writers */
    BLOCK_MIN = 256,         /* bytes of a spool's block, at least */
    BLOCK_MAX = 64 << 10,    /* and at most */
    IOV_BATCH = 64,          /* blocks written by one writev */
    REC_GROUP = 1,           /* record flags: a group (no record: row 0, no key) */
    REC_KEY_IS_VALUE = 2,    /* the key is the value (stored once) */
    REC_HEAD_MAX = 1 + 4 + 4 * QLOOP_VARINT_MAX, /* flags, hash, four varints */
};

/* One offer as stored, unaligned, in as few bytes as its numbers need:
 *   flags     1 byte (REC_*)
 *   hash      the low 32 bits of the value's hash (the top bits chose the
 *             partition; equal values have equal hashes), 4 bytes
 *   seq       varint
 *   row_no    varint of zigzag(row_no - seq) (rows and places mostly go
 *             together: one byte); for a group, the occurrences it stands
 *             for instead, saturating at UINT32_MAX
 *   vlen      varint
 *   keylen    varint, absent for a group or when the key is the value
 * then the value's bytes and the key's. An 18-byte identity number that is
 * its record's key takes 28 bytes (a padded head of 40 took 64). */
struct rec {
    const char *at; /* the record's first byte */
    const char *value, *key;
    uint64_t seq, row_no, count;
    size_t vlen, keylen;
    uint32_t hash;
    bool group;
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

/* A fixed-size piece of a partition's bytes; items may run on into the
 * next block of their partition. */
struct block {
    struct block *next;
    size_t len;
    char data[];
};

/* Partitioned bytes: each partition a chain of blocks, in memory up to cap
 * bytes, then chunks of a temporary file. Blocks are taken from a free list
 * kept for the spool's life, so flushes neither copy nor give memory back
 * to be faulted in again. */
struct pspool {
    struct block *head[NPART], *tail[NPART];
    struct block *free;  /* blocks not in a chain */
    uint64_t items[NPART]; /* items appended to each partition, in memory or not */
    uint64_t bytes;        /* bytes appended, in memory or not */
    size_t bsize;        /* bytes a block holds */
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

/* Failing records are padded to 8 bytes so that their heads can be read in
 * place. */
static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static size_t mem_cap(size_t budget) { return budget / 4 < MEM_MAX ? budget / 4 : MEM_MAX; }

/* ---- partitioned spools ---- */

/* A spool keeping cap bytes in memory, in blocks of about a quarter of its
 * share per partition. */
static void ps_init(struct pspool *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->cap = cap;
    size_t b = cap / (4 * NPART);
    s->bsize = b < BLOCK_MIN ? BLOCK_MIN : b > BLOCK_MAX ? BLOCK_MAX : b;
}

static void free_chain(struct block *b)
{
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
}

static void ps_free(struct pspool *s)
{
    for (int i = 0; i < NPART; i++)
        free_chain(s->head[i]);
    free_chain(s->free);
    if (s->file)
        fclose(s->file);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* A block for the end of partition part's chain. */
static struct block *ps_new_block(struct pspool *s, size_t part)
{
    struct block *b = s->free;
    if (b)
        s->free = b->next;
    else
        b = qloop_xmalloc(sizeof *b + s->bsize);
    b->next = NULL;
    b->len = 0;
    if (s->tail[part])
        s->tail[part]->next = b;
    else
        s->head[part] = b;
    s->tail[part] = b;
    return b;
}

/* Writes iov[0..n) whole to fd at its position. Returns 0 or an errno. */
static int write_iov(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++, n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Writes every partition's chain to the file, partition after partition,
 * as one chunk each, in large sequential writes; the blocks go back to the
 * free list. */
static void ps_flush(struct pspool *s)
{
    if (!s->file && !s->error && !(s->file = tmpfile()))
        s->error = errno ? errno : EIO;
    struct iovec iov[IOV_BATCH];
    int n = 0;
    for (int i = 0; i < NPART; i++) {
        uint64_t len = 0;
        for (struct block *b = s->head[i]; b; b = b->next) {
            len += b->len;
            if (s->error || !b->len)
                continue;
            iov[n++] = (struct iovec){b->data, b->len};
            if (n == IOV_BATCH) {
                s->error = write_iov(fileno(s->file), iov, n);
                n = 0;
            }
        }
        if (len && !s->error) {
            if (len > UINT32_MAX) {
                s->error = EFBIG;
            } else {
                if (s->nchunks == s->chunks_cap) {
                    s->chunks_cap = s->chunks_cap ? 2 * s->chunks_cap : 1024;
                    s->chunks = qloop_xrealloc(s->chunks, s->chunks_cap * sizeof *s->chunks);
                }
                s->chunks[s->nchunks++] = (struct chunk){s->end, (uint32_t)i, (uint32_t)len};
                s->end += len;
            }
        }
        if (s->tail[i]) {
            s->tail[i]->next = s->free;
            s->free = s->head[i];
            s->head[i] = s->tail[i] = NULL;
        }
    }
    if (n && !s->error)
        s->error = write_iov(fileno(s->file), iov, n);
    s->mem = 0;
}

/* Appends len bytes to partition part's chain (across blocks as needed). */
static void ps_put(struct pspool *s, size_t part, const void *bytes, size_t len)
{
    const char *p = bytes;
    struct block *b = s->tail[part];
    while (len) {
        if (!b || b->len == s->bsize)
            b = ps_new_block(s, part);
        size_t n = s->bsize - b->len < len ? s->bsize - b->len : len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
    }
}

/* Where n contiguous bytes can be written at the end of partition part's
 * last block, or NULL when it has no room for them. */
static char *ps_room(struct pspool *s, size_t part, size_t n)
{
    struct block *t = s->tail[part];
    return t && s->bsize - t->len >= n ? t->data + t->len : NULL;
}

/* Counts an item of n bytes just appended to partition part (its bytes
 * written where ps_room said, or by ps_put); past the memory cap, flushes. */
static void ps_added(struct pspool *s, size_t part, size_t n, bool in_room)
{
    if (in_room)
        s->tail[part]->len += n;
    s->items[part]++;
    s->bytes += n;
    s->mem += n;
    if (s->mem > s->cap)
        ps_flush(s);
}

/* Appends head and two byte strings to partition part as one item, padded
 * to a multiple of pad bytes (1: none); past the memory cap, flushes. */
static void ps_append(struct pspool *s, size_t part, const void *head, size_t hlen, const char *a,
                      size_t alen, const char *b, size_t blen, size_t pad)
{
    static const char zeros[8];
    size_t len = hlen + alen + blen, n = (len + pad - 1) / pad * pad;
    char *at = ps_room(s, part, n);
    if (at) { /* the usual case: room in the last block */
        memcpy(at, head, hlen);
        memcpy(at + hlen, a, alen);
        memcpy(at + hlen + alen, b, blen);
        memcpy(at + len, zeros, n - len);
    } else {
        ps_put(s, part, head, hlen);
        ps_put(s, part, a, alen);
        ps_put(s, part, b, blen);
        ps_put(s, part, zeros, n - len);
    }
    ps_added(s, part, n, at != NULL);
}

/* Reads len bytes at off of fd into to. Returns 0 or -1 (errno). */
static int read_at(int fd, char *to, size_t len, uint64_t off)
{
    while (len) {
        ssize_t r = pread(fd, to, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        to += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Appends what s holds of partition part to out. Returns 0 or -1 (errno). */
static int ps_load(struct pspool *s, size_t part, struct qloop_buf *out)
{
    if (s->error) {
        errno = s->error;
        return -1;
    }
    for (size_t i = 0; i < s->nchunks; i++) {
        const struct chunk *c = &s->chunks[i];
        if (c->part != part)
            continue;
        qloop_buf_reserve(out, c->len);
        if (read_at(fileno(s->file), out->ptr + out->len, c->len, c->off) != 0)
            return -1;
        out->len += c->len;
    }
    for (struct block *b = s->head[part]; b; b = b->next)
        qloop_buf_append(out, b->data, b->len);
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
        ps_init(&u->w[i], mem_cap(u->budget) / nwriters);
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

uint64_t unique_offer_bytes(const struct unique_set *u)
{
    uint64_t n = 0;
    for (size_t i = 0; i < u->nwriters; i++)
        n += u->w[i].bytes;
    return n;
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
    bool same = !group && keylen == vlen && vlen > 0 && (key == value || memcmp(key, value, vlen) == 0);
    size_t part = (size_t)(h >> 56), klen = group || same ? 0 : keylen;
    struct pspool *s = &u->w[writer];
    if (seq > u->writer_max[writer])
        u->writer_max[writer] = seq;
    /* the head, written in place when the last block has room for the
     * longest record these lengths make (the usual case) */
    char local[REC_HEAD_MAX];
    char *room = ps_room(s, part, REC_HEAD_MAX + vlen + klen);
    char *head = room ? room : local;
    uint32_t h32 = (uint32_t)h;
    head[0] = (char)((group ? REC_GROUP : 0) | (same ? REC_KEY_IS_VALUE : 0));
    memcpy(head + 1, &h32, 4);
    char *o = qloop_varint_put(head + 5, seq);
    if (group) {
        o = qloop_varint_put(o, group >= UINT32_MAX ? UINT32_MAX : group);
    } else {
        uint64_t d = row_no - seq; /* zigzag of the signed difference */
        o = qloop_varint_put(o, (d << 1) ^ (uint64_t)-(int64_t)(d >> 63));
    }
    o = qloop_varint_put(o, vlen);
    if (!group && !same)
        o = qloop_varint_put(o, keylen);
    size_t n = (size_t)(o - head);
    if (!room) {
        ps_append(s, part, local, n, value, vlen, key, klen, 1);
        return;
    }
    memcpy(room + n, value, vlen);
    memcpy(room + n + vlen, key, klen);
    ps_added(s, part, n + vlen + klen, true);
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
    const char *first;  /* the record at s1 */
    const char *value;  /* its value */
    size_t vlen;
    uint64_t count;
    uint64_t s1, s2; /* the two smallest seqs (s2 UINT64_MAX: none) */
};

struct count {
    struct qloop_buf data;  /* the partition's records */
    struct group *groups;
    size_t ngroups, groups_cap;
    uint64_t *slots; /* hash << 32 | group index + 1; 0 empty */
    size_t nslots;
    uint32_t *rec_group; /* per record, in data order: its group's index */
    size_t *rec_at;      /* and where it starts in data */
    size_t nrecs, recs_cap;
};

/* Decodes the record at p into r; returns the bytes it takes. */
static inline size_t rec_read(const char *p, struct rec *r)
{
    const unsigned char *q = (const unsigned char *)p + 5;
    unsigned flags = (unsigned char)p[0];
    r->at = p;
    memcpy(&r->hash, p + 1, 4);
    r->seq = qloop_varint_next(&q);
    r->group = flags & REC_GROUP;
    if (r->group) {
        r->count = qloop_varint_next(&q);
        r->row_no = 0;
    } else {
        uint64_t z = qloop_varint_next(&q);
        r->count = 1;
        r->row_no = r->seq + ((z >> 1) ^ (uint64_t)-(int64_t)(z & 1));
    }
    r->vlen = (size_t)qloop_varint_next(&q);
    r->value = (const char *)q;
    if (flags & REC_KEY_IS_VALUE) {
        r->key = r->value;
        r->keylen = r->vlen;
        return (size_t)(r->value + r->vlen - p);
    }
    r->keylen = r->group ? 0 : (size_t)qloop_varint_next(&q);
    r->value = (const char *)q;
    r->key = r->value + r->vlen;
    return (size_t)(r->key + r->keylen - p);
}

/* The index of r's value's group, made when new. */
static uint32_t group_of(struct count *c, const struct rec *r)
{
    size_t mask = c->nslots - 1;
    uint64_t tag = (uint64_t)r->hash << 32;
    for (size_t i = (size_t)r->hash & mask;; i = (i + 1) & mask) {
        uint64_t slot = c->slots[i];
        if (slot == 0) {
            if (c->ngroups == c->groups_cap) {
                c->groups_cap = c->groups_cap ? 2 * c->groups_cap : 1024;
                c->groups = qloop_xrealloc(c->groups, c->groups_cap * sizeof *c->groups);
            }
            c->groups[c->ngroups] = (struct group){.first = r->at, .value = r->value, .vlen = r->vlen,
                                                   .s1 = UINT64_MAX, .s2 = UINT64_MAX};
            c->slots[i] = tag | ++c->ngroups;
            return (uint32_t)(c->ngroups - 1);
        }
        if ((slot & ~(uint64_t)UINT32_MAX) == tag) {
            const struct group *g = &c->groups[(uint32_t)slot - 1];
            if (g->vlen == r->vlen && memcmp(g->value, r->value, r->vlen) == 0)
                return (uint32_t)slot - 1;
        }
    }
}

/* Loads partition part of every writer and counts its values. Returns 0 or
 * -1 with err. */
static int count_part(struct unique_set *u, size_t part, struct count *c, struct qloop_error *err)
{
    qloop_buf_reset(&c->data);
    c->ngroups = 0;
    size_t n = 0;
    for (size_t w = 0; w < u->nwriters; w++) {
        if (ps_load(&u->w[w], part, &c->data) != 0)
            return temp_error(errno, "读", err);
        n += (size_t)u->w[w].items[part];
    }
    size_t want = 1024;
    while (want < 2 * n)
        want *= 2;
    if (want > c->nslots) {
        free(c->slots);
        c->slots = qloop_xmalloc(want * sizeof *c->slots);
    }
    c->nslots = want;
    memset(c->slots, 0, want * sizeof *c->slots);
    if (n > c->recs_cap) {
        free(c->rec_group);
        free(c->rec_at);
        c->rec_group = qloop_xmalloc(n * sizeof *c->rec_group);
        c->rec_at = qloop_xmalloc(n * sizeof *c->rec_at);
        c->recs_cap = n;
    }
    c->nrecs = n;
    n = 0;
    for (size_t off = 0; off < c->data.len;) {
        struct rec r;
        c->rec_at[n] = off;
        off += rec_read(c->data.ptr + off, &r);
        uint32_t gi = group_of(c, &r);
        c->rec_group[n++] = gi;
        struct group *g = &c->groups[gi];
        g->count = r.count >= UINT64_MAX - g->count ? UINT64_MAX : g->count + r.count;
        if (r.seq < g->s1) {
            g->s2 = g->s1;
            g->s1 = r.seq;
            g->first = r.at;
        } else if (r.seq < g->s2) {
            g->s2 = r.seq;
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
    free(c->rec_at);
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
    for (size_t i = 0; i < c->nrecs; i++) {
        const struct group *g = &c->groups[c->rec_group[i]];
        if (g->count < 2)
            continue;
        struct rec r;
        rec_read(c->data.ptr + c->rec_at[i], &r);
        if (r.group) /* a group has no record to report */
            continue;
        bool first = g->first == r.at;
        struct fail f = {.seq = first ? g->s2 : r.seq, .row_no = r.row_no, .sub = !first,
                         .vlen = (uint32_t)r.vlen, .keylen = (uint32_t)r.keylen};
        ps_append(fails, range_of(f.seq, max), &f, sizeof f, r.value, r.vlen, r.key, r.keylen, 8);
    }
}

static int by_place(const void *a, const void *b)
{
    const struct fail *x = *(const struct fail *const *)a, *y = *(const struct fail *const *)b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (int)x->sub - (int)y->sub;
}

/* The failing records of one range partition, sorted by place. */
struct range {
    struct qloop_buf data;
    const struct fail **order;
    size_t n, cap;
};

/* Loads range partition part of fails into r, sorted. Returns 0 or -1
 * (errno). */
static int range_load(struct pspool *fails, size_t part, struct range *r)
{
    qloop_buf_reset(&r->data);
    if (ps_load(fails, part, &r->data) != 0)
        return -1;
    size_t n = (size_t)fails->items[part];
    if (n > r->cap) {
        free(r->order);
        r->order = qloop_xmalloc(n * sizeof *r->order);
        r->cap = n;
    }
    n = 0;
    for (size_t off = 0; off < r->data.len; n++) {
        const struct fail *f = (const struct fail *)(r->data.ptr + off);
        r->order[n] = f;
        off += pad8(sizeof *f + f->vlen + f->keylen);
    }
    r->n = n;
    if (n > 1)
        qsort(r->order, n, sizeof *r->order, by_place);
    return 0;
}

static void range_free(struct range *r)
{
    qloop_buf_free(&r->data);
    free(r->order);
}

static const char *fail_value(const struct fail *f) { return (const char *)(f + 1); }

/* Emits the failing records of fails, range by range, each sorted by place. */
static int emit_fails(struct pspool *fails, unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    struct range r = {0};
    int rc = 0;
    for (size_t part = 0; part < NPART && rc == 0; part++) {
        if (range_load(fails, part, &r) != 0) {
            rc = temp_error(errno, "读", err);
            break;
        }
        for (size_t i = 0; i < r.n && rc == 0; i++) {
            const struct fail *f = r.order[i];
            rc = emit(ctx, f->row_no, fail_value(f) + f->vlen, f->keylen, fail_value(f), f->vlen);
        }
    }
    range_free(&r);
    return rc;
}

/* ---- failing records encoded on two threads ---- */

enum { SPLIT_MIN = 64 }; /* records of a range worth handing half of to the helper */

/* The helper thread: encodes the records it is handed into out. */
struct helper {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct unique_encoder *e;
    const struct fail *const *order; /* its job: order[0..n) */
    size_t n;
    bool busy, quit;
    struct qloop_buf out;
};

/* Appends e->encode of order[0..n) to out, as thread `thread`. */
static void encode_some(const struct unique_encoder *e, size_t thread,
                        const struct fail *const *order, size_t n, struct qloop_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct fail *f = order[i];
        e->encode(e->ctx, thread, f->row_no, fail_value(f) + f->vlen, f->keylen, fail_value(f),
                  f->vlen, out);
    }
}

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->busy && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (!h->busy)
            break;
        pthread_mutex_unlock(&h->mu);
        qloop_buf_reset(&h->out);
        encode_some(h->e, 1, h->order, h->n, &h->out);
        pthread_mutex_lock(&h->mu);
        h->busy = false;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Starts the helper; false when no thread could be made (one thread then). */
static bool helper_start(struct helper *h, const struct unique_encoder *e)
{
    memset(h, 0, sizeof *h);
    h->e = e;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, helper_main, h) == 0)
        return true;
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    return false;
}

static void helper_stop(struct helper *h)
{
    pthread_mutex_lock(&h->mu);
    h->quit = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    qloop_buf_free(&h->out);
}

/* Hands out the rows of order[0..n) and what encoding them made, in order. */
static int take_some(const struct unique_encoder *e, const struct fail *const *order, size_t n,
                     const struct qloop_buf *out, uint64_t *rows)
{
    for (size_t i = 0; i < n; i++)
        rows[i] = order[i]->row_no;
    return n ? e->take(e->ctx, out->ptr, out->len, rows, n) : 0;
}

/* emit_fails through e: each range's records encoded, the second half of a
 * large one by the helper (h, when not NULL) while this thread encodes the
 * first, and taken in order. */
static int encode_fails(struct pspool *fails, const struct unique_encoder *e, struct helper *h,
                        struct qloop_error *err)
{
    struct range r = {0};
    struct qloop_buf out = {0};
    uint64_t *rows = NULL;
    size_t rows_cap = 0;
    int rc = 0;
    for (size_t part = 0; part < NPART && rc == 0; part++) {
        if (range_load(fails, part, &r) != 0) {
            rc = temp_error(errno, "读", err);
            break;
        }
        if (r.n > rows_cap) {
            free(rows);
            rows = qloop_xmalloc(r.n * sizeof *rows);
            rows_cap = r.n;
        }
        size_t mine = h && r.n >= SPLIT_MIN ? r.n / 2 : r.n;
        if (mine < r.n) {
            pthread_mutex_lock(&h->mu);
            h->order = r.order + mine;
            h->n = r.n - mine;
            h->busy = true;
            pthread_cond_broadcast(&h->cv);
            pthread_mutex_unlock(&h->mu);
        }
        qloop_buf_reset(&out);
        encode_some(e, 0, r.order, mine, &out);
        if (mine < r.n) {
            pthread_mutex_lock(&h->mu);
            while (h->busy)
                pthread_cond_wait(&h->cv, &h->mu);
            pthread_mutex_unlock(&h->mu);
        }
        rc = take_some(e, r.order, mine, &out, rows);
        if (rc == 0 && mine < r.n)
            rc = take_some(e, r.order + mine, r.n - mine, &h->out, rows);
    }
    free(rows);
    qloop_buf_free(&out);
    range_free(&r);
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
        struct rec r;
        rec_read(g->first, &r);
        if (g->count == 1)
            rc = state(sctx, r.value, r.vlen, 1, r.row_no, r.key, r.keylen);
        else
            rc = state(sctx, r.value, r.vlen, g->count, 0, NULL, 0);
    }
    return rc;
}

int unique_finish(struct unique_set *u, unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    return unique_finish_states(u, emit, ctx, NULL, NULL, err);
}

/* Counts every partition and collects the failing records into fails
 * (ps_init'ed). Returns 0 or -1 with err. */
static int count_fails(struct unique_set *u, struct count *c, struct pspool *fails,
                       struct qloop_error *err)
{
    if (unique_check(u, err) != 0)
        return -1;
    uint64_t max = 0;
    for (size_t i = 0; i < u->nwriters; i++)
        if (u->writer_max[i] > max)
            max = u->writer_max[i];
    for (size_t part = 0; part < NPART; part++) {
        if (count_part(u, part, c, err) != 0)
            return -1;
        collect_fails(c, max, fails);
    }
    return fails->error ? temp_error(fails->error, "写", err) : 0;
}

int unique_finish_states(struct unique_set *u, unique_emit_fn emit, void *ectx,
                         unique_state_fn state, void *sctx, struct qloop_error *err)
{
    struct count c = {0};
    struct pspool fails;
    ps_init(&fails, mem_cap(u->budget));
    int rc = count_fails(u, &c, &fails, err);
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

int unique_finish_encoded(struct unique_set *u, const struct unique_encoder *e, size_t threads,
                          struct qloop_error *err)
{
    struct count c = {0};
    struct pspool fails;
    ps_init(&fails, mem_cap(u->budget));
    int rc = count_fails(u, &c, &fails, err);
    count_free(&c);
    struct helper h;
    bool two = rc == 0 && threads >= 2 && helper_start(&h, e);
    if (rc == 0)
        rc = encode_fails(&fails, e, two ? &h : NULL, err);
    if (two)
        helper_stop(&h);
    ps_free(&fails);
    return rc;
}
