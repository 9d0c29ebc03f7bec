/*
 * merge_unique.c — `unique` over the parts of a dataset in the merge (see
 * merge.h), the way an external sort merges its runs, with no hash table.
 *
 * Each judge hands out its part's distinct values (the `u` entries) in runs
 * sorted by the values' 16-byte fingerprints (strmap_fingerprint: shard.h).
 * The merge copies each run, as it reads it, into one store — chunks of
 * memory up to the budget (--memory), a temporary file past it — and at the
 * end merges
 * all runs at once (a heap over their heads): the entries of one fingerprint
 * meet, their counts add up, and a value that occurs twice or more in the
 * whole dataset makes each of its records seen once in a part fail (the
 * records of a value a part holds twice or more its judge already reported).
 * A run is what comes in ascending order: an entry not after the one before
 * it (of the same rule, in the same part) begins the next run, so a judge
 * may sort its states in pieces, and any order is still merged correctly
 * (only slower). (A rule that also checks `references` to another dataset
 * has no states: its values are offered in the merge, p entries, to the
 * run's own unique set.)
 *
 * A stored entry: a 4-byte length, the fingerprint (hi, lo), then varints
 * rule, count and row (of the record; for a count of 2 or more, the rows
 * before its part), and when count is 1 the value's bytes and the key (0
 * when it is the value, else its length + 1 and its bytes). Entries are
 * written in place into fixed-size chunks (no buffer grows by copying); an
 * entry never spans two chunks; a place in the store is (chunk << 32 | byte).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bits.h"
#include "base/strmap.h"
#include "run/merge.h"

enum { CHUNK_BYTES = 8 << 20, WINDOW = 256 * 1024 };

struct chunk {
    char *mem;        /* NULL once written to the temporary file */
    size_t len, cap;
    uint64_t file_at; /* where it is in the file, once there */
};

struct urun {
    uint64_t at, end; /* places in the store: its first entry, after its last */
};

/* What is known of a run's current entry while merging. */
struct head {
    uint64_t hi, lo, count, row;
    size_t rule;
    const char *key, *value;
    size_t klen, vlen;
};

/* A reader of one run. */
struct reader {
    struct urun r;
    struct qloop_buf buf; /* a spilled chunk's bytes [from, from + buf.len) */
    uint64_t chunk, from;
    struct head h;
};

struct merge_unique {
    size_t budget, in_memory; /* bytes of chunks in memory */
    FILE *file;               /* the chunks past the budget */
    uint64_t file_len;
    struct chunk *chunks;
    size_t nchunks, chunks_cap;
    struct urun *runs;
    size_t nruns, cap;
    size_t nrules;
    uint64_t *last; /* per rule: the fingerprint last stored (hi, lo) */
    bool *open;     /* per rule: a run of this part is open */
    size_t *run_of; /* per rule: its open run */
};

struct merge_unique *merge_unique_new(size_t nrules, size_t budget)
{
    struct merge_unique *u = qloop_xcalloc(1, sizeof *u);
    u->budget = budget ? budget : (size_t)1 << 30;
    u->nrules = nrules;
    u->last = qloop_xcalloc(2 * nrules + 1, sizeof *u->last);
    u->open = qloop_xcalloc(nrules + 1, sizeof *u->open);
    u->run_of = qloop_xcalloc(nrules + 1, sizeof *u->run_of);
    return u;
}

void merge_unique_free(struct merge_unique *u)
{
    if (!u)
        return;
    if (u->file)
        fclose(u->file);
    for (size_t i = 0; i < u->nchunks; i++)
        free(u->chunks[i].mem);
    free(u->chunks);
    free(u->runs);
    free(u->last);
    free(u->open);
    free(u->run_of);
    free(u);
}

static uint64_t get_uint(const uint8_t **p)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80) || shift >= 63)
            return v;
    }
}

/* Moves every chunk in memory but the last to the temporary file. */
static int spill(struct merge_unique *u, struct qloop_error *err)
{
    if (!u->file && !(u->file = tmpfile()))
        return qloop_error_set(err, NULL, 0, 0, "无法创建临时文件完成唯一性合并；请检查临时目录（TMPDIR）的空间和权限");
    for (size_t i = 0; i + 1 < u->nchunks; i++) {
        struct chunk *c = &u->chunks[i];
        if (!c->mem)
            continue;
        if (fwrite(c->mem, 1, c->len, u->file) != c->len)
            return qloop_error_set(err, NULL, 0, 0, "写入唯一性合并的临时文件失败；请检查临时目录（TMPDIR）的空间");
        c->file_at = u->file_len;
        u->file_len += c->len;
        u->in_memory -= c->cap;
        free(c->mem);
        c->mem = NULL;
    }
    return 0;
}

/* Room for n bytes at the end of the last chunk: a new chunk when it lacks
 * it (past the budget, the others go to the file first). Returns the
 * chunk, or NULL with err. */
static struct chunk *room(struct merge_unique *u, size_t n, struct qloop_error *err)
{
    struct chunk *c = u->nchunks ? &u->chunks[u->nchunks - 1] : NULL;
    if (c && c->cap - c->len >= n)
        return c;
    size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
    if (u->nchunks == u->chunks_cap) {
        u->chunks_cap = u->chunks_cap ? 2 * u->chunks_cap : 16;
        u->chunks = qloop_xrealloc(u->chunks, u->chunks_cap * sizeof *u->chunks);
    }
    u->chunks[u->nchunks++] = (struct chunk){qloop_xmalloc(cap), 0, cap, 0};
    u->in_memory += cap;
    if (u->in_memory > u->budget && spill(u, err) != 0)
        return NULL;
    return &u->chunks[u->nchunks - 1];
}

/* The place after the last entry stored. */
static uint64_t store_end(const struct merge_unique *u)
{
    return u->nchunks ? (uint64_t)(u->nchunks - 1) << 32 | u->chunks[u->nchunks - 1].len : 0;
}

int merge_unique_state(struct merge_unique *u, size_t rule, const char *value, size_t vlen,
                       uint64_t count, uint64_t row, const char *key, size_t klen,
                       struct qloop_error *err)
{
    uint64_t hi, lo;
    strmap_fingerprint(value, vlen, &hi, &lo);
    uint64_t *last = &u->last[2 * rule];
    /* a run goes on while its entries ascend and nothing else came between */
    bool more = u->open[rule] && (hi > last[0] || (hi == last[0] && lo > last[1])) &&
                u->runs[u->run_of[rule]].end == store_end(u);
    last[0] = hi;
    last[1] = lo;
    size_t most = 4 + 16 + 5 * 10 + (count == 1 ? klen + vlen : 0);
    struct chunk *c = room(u, most, err);
    if (!c)
        return -1;
    uint64_t at = (uint64_t)(u->nchunks - 1) << 32 | c->len;
    if (!more) {
        if (u->nruns == u->cap) {
            u->cap = u->cap ? 2 * u->cap : 16;
            u->runs = qloop_xrealloc(u->runs, u->cap * sizeof *u->runs);
        }
        u->runs[u->nruns] = (struct urun){at, at};
        u->run_of[rule] = u->nruns++;
        u->open[rule] = true;
    }
    char *e = c->mem + c->len, *o = e + 4;
    memcpy(o, &hi, 8);
    memcpy(o + 8, &lo, 8);
    o = qloop_varint_put(qloop_varint_put(qloop_varint_put(o + 16, rule), count), row);
    if (count == 1) { /* the value, then the key: 0 when it is the value, else its length + 1 */
        o = qloop_varint_put(o, vlen);
        if (vlen)
            memcpy(o, value, vlen);
        o += vlen;
        bool same = key == value || (klen == vlen && (vlen == 0 || memcmp(key, value, vlen) == 0));
        o = qloop_varint_put(o, same ? 0 : klen + 1);
        if (!same && klen) {
            memcpy(o, key, klen);
            o += klen;
        }
    }
    uint32_t len = (uint32_t)(o - e);
    memcpy(e, &len, 4);
    c->len += len;
    u->runs[u->run_of[rule]].end = store_end(u);
    return 0;
}

void merge_unique_part_end(struct merge_unique *u)
{
    memset(u->open, 0, u->nrules * sizeof *u->open);
}

/* ---- the merge of the runs ---- */

/* The n bytes at place `at` (in chunk c, at byte b): in memory, or read
 * from the file into the reader's window. NULL with err when unreadable. */
static const uint8_t *see(struct merge_unique *u, struct reader *rd, size_t c, size_t b, size_t n,
                          struct qloop_error *err)
{
    const struct chunk *ch = &u->chunks[c];
    if (ch->mem)
        return (const uint8_t *)ch->mem + b;
    if (rd->chunk == c && b >= rd->from && b + n <= rd->from + rd->buf.len)
        return (const uint8_t *)rd->buf.ptr + (b - rd->from);
    size_t want = n > WINDOW ? n : WINDOW;
    if (want > ch->len - b)
        want = ch->len - b;
    qloop_buf_reset(&rd->buf);
    qloop_buf_reserve(&rd->buf, want);
    ssize_t got = pread(fileno(u->file), rd->buf.ptr, want, (off_t)(ch->file_at + b));
    if (got < 0 || (size_t)got < n) {
        qloop_error_internal(err, NULL, "读取唯一性合并的临时文件失败");
        return NULL;
    }
    rd->buf.len = (size_t)got;
    rd->chunk = c;
    rd->from = b;
    return (const uint8_t *)rd->buf.ptr;
}

/* Reads the run's next entry into rd->h. Returns 1, 0 at its end, -1. */
static int next(struct merge_unique *u, struct reader *rd, struct qloop_error *err)
{
    if (rd->r.at == rd->r.end)
        return 0;
    size_t c = (size_t)(rd->r.at >> 32), b = (size_t)(rd->r.at & 0xffffffffu);
    if (b >= u->chunks[c].len) { /* the run goes on in the next chunk */
        c++;
        b = 0;
    }
    const uint8_t *p = see(u, rd, c, b, 4, err);
    if (!p)
        return -1;
    uint32_t len;
    memcpy(&len, p, sizeof len);
    if (!(p = see(u, rd, c, b, len, err)))
        return -1;
    struct head *h = &rd->h;
    memcpy(&h->hi, p + 4, 8);
    memcpy(&h->lo, p + 12, 8);
    const uint8_t *q = p + 20;
    h->rule = (size_t)get_uint(&q);
    h->count = get_uint(&q);
    h->row = get_uint(&q);
    if (h->count == 1) {
        h->vlen = (size_t)get_uint(&q);
        h->value = (const char *)q;
        q += h->vlen;
        uint64_t k = get_uint(&q);
        h->key = k ? (const char *)q : h->value;
        h->klen = k ? (size_t)(k - 1) : h->vlen;
    }
    rd->r.at = (uint64_t)c << 32 | (b + len);
    return 1;
}

/* Whether reader a's head comes before b's: rule, fingerprint, then run. */
static bool before(const struct reader *a, const struct reader *b)
{
    if (a->h.rule != b->h.rule)
        return a->h.rule < b->h.rule;
    if (a->h.hi != b->h.hi)
        return a->h.hi < b->h.hi;
    if (a->h.lo != b->h.lo)
        return a->h.lo < b->h.lo;
    return a < b;
}

static void sift_down(struct reader **heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(heap[l], heap[m]))
            m = l;
        if (l + 1 < n && before(heap[l + 1], heap[m]))
            m = l + 1;
        if (m == i)
            return;
        struct reader *t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* A record seen once in its part whose value occurs twice or more: when a
 * run over the whole data would report it (2 x the row then being read,
 * + 1 when that is only known to lie within a part), its row, and where its
 * key and value are in the failing records' bytes. */
struct fail {
    uint64_t when, row;
    size_t rule;
    size_t key, klen, value, vlen;
};

static int by_when(const void *a, const void *b)
{
    const struct fail *x = a, *y = b;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Whether reader r's head is of rule and fingerprint h. */
static bool same(const struct reader *r, const struct head *h)
{
    return r->h.rule == h->rule && r->h.hi == h->hi && r->h.lo == h->lo;
}

/* The entries of one rule and fingerprint (the heap's top ones): the
 * records among them seen once in their part go to *fails when the value
 * occurs twice or more. A run reports the first occurrence of a value when
 * the second comes, and each later one when it comes: fails keep that
 * moment, so that the merge reports them in the order a run does. Returns 1
 * or -1 (a run could not be read). */
static int merge_group(struct merge_unique *u, struct reader **heap, size_t *n,
                       struct qloop_buf *bytes, struct fail **fails, size_t *nfails,
                       size_t *cap, struct qloop_error *err)
{
    struct head first = heap[0]->h;
    uint64_t total = 0, pos1 = UINT64_MAX, pos2 = UINT64_MAX;
    size_t from = *nfails;
    while (*n > 0 && heap[0]->h.rule == first.rule && heap[0]->h.hi == first.hi &&
           heap[0]->h.lo == first.lo) {
        struct reader *top = heap[0];
        const struct head *h = &top->h;
        total += h->count;
        /* where its occurrences are (doubled): a record's row, or within a
         * part whose rows follow row h->row (its records the judge reported) */
        uint64_t pos = h->count == 1 ? 2 * h->row : 2 * h->row + 1;
        for (uint64_t k = 0; k < (h->count == 1 ? 1u : 2u); k++) {
            if (pos < pos1) {
                pos2 = pos1;
                pos1 = pos;
            } else if (pos < pos2) {
                pos2 = pos;
            }
        }
        /* the usual case: a value seen once, nowhere else (the heap's next
         * entries are its children) — nothing to keep */
        bool alone = total == 1 && pos2 == UINT64_MAX && !(*n > 1 && same(heap[1], &first)) &&
                     !(*n > 2 && same(heap[2], &first));
        if (h->count == 1 && !alone) {
            if (*nfails == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *fails = qloop_xrealloc(*fails, *cap * sizeof **fails);
            }
            struct fail *f = &(*fails)[(*nfails)++];
            *f = (struct fail){pos, h->row, h->rule, bytes->len, h->klen, 0, h->vlen};
            qloop_buf_append(bytes, h->key, h->klen);
            f->value = bytes->len;
            qloop_buf_append(bytes, h->value, h->vlen);
        }
        int got = next(u, top, err);
        if (got < 0)
            return -1;
        if (got == 0)
            heap[0] = heap[--*n];
        sift_down(heap, *n, 0);
    }
    if (total < 2) { /* seen once in the whole data: it passes */
        *nfails = from;
        return 1;
    }
    for (size_t i = from; i < *nfails; i++)
        if ((*fails)[i].when == pos1)
            (*fails)[i].when = pos2;
    return 1;
}

int merge_unique_finish(struct merge_unique *u, merge_unique_emit_fn emit, void *ctx,
                        struct qloop_error *err)
{
    if (u->file && fflush(u->file) != 0)
        return qloop_error_set(err, NULL, 0, 0, "写入唯一性合并的临时文件失败；请检查临时目录（TMPDIR）的空间");
    struct reader *rd = qloop_xcalloc(u->nruns + 1, sizeof *rd);
    struct reader **heap = qloop_xcalloc(u->nruns + 1, sizeof *heap);
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < u->nruns && rc == 0; i++) {
        rd[i].r = u->runs[i];
        int got = next(u, &rd[i], err);
        if (got < 0)
            rc = -1;
        else if (got > 0)
            heap[n++] = &rd[i];
    }
    for (size_t i = n / 2; i-- > 0;)
        sift_down(heap, n, i);
    struct qloop_buf bytes = {0};
    struct fail *fails = NULL;
    size_t nfails = 0, cap = 0;
    while (rc == 0 && n > 0)
        if (merge_group(u, heap, &n, &bytes, &fails, &nfails, &cap, err) < 0)
            rc = -1;
    if (rc == 0 && nfails > 0) {
        qsort(fails, nfails, sizeof *fails, by_when);
        const char *base = qloop_buf_str(&bytes);
        for (size_t i = 0; rc == 0 && i < nfails; i++)
            rc = emit(ctx, fails[i].rule, fails[i].row, base + fails[i].key, fails[i].klen,
                      base + fails[i].value, fails[i].vlen);
    }
    qloop_buf_free(&bytes);
    free(fails);
    for (size_t i = 0; i < u->nruns; i++)
        qloop_buf_free(&rd[i].buf);
    free(rd);
    free(heap);
    return rc;
}
