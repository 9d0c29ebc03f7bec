/*
 * merge_unique.c — `unique` over the parts of a dataset in the merge (see
 * merge.h), the way an external sort merges its runs, with no hash table.
 *
 * Each judge hands out its part's distinct values (the `u` entries) in runs
 * sorted by the values' 16-byte fingerprints (strmap_fingerprint: shard.h).
 * The merge copies each run, as it reads it, into one store — memory up to
 * the budget (--memory), a temporary file past it — and at the end merges
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
 * rule and count, and when count is 1 the row, key and value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/strmap.h"
#include "run/merge.h"

enum { CHUNK = 256 * 1024 };

struct urun {
    uint64_t at, end; /* where it is in the store (offsets past file_len: memory) */
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
    struct qloop_buf buf; /* file bytes [from, from + buf.len) */
    uint64_t from;
    struct head h;
};

struct merge_unique {
    size_t budget;
    FILE *file;         /* the runs past the budget */
    uint64_t file_len;  /* bytes in it */
    struct qloop_buf mem; /* the rest: offsets file_len + i */
    struct urun *runs;
    size_t nruns, cap;
    size_t nrules;
    uint64_t *last;    /* per rule: the fingerprint last stored (hi, lo) */
    bool *open;        /* per rule: a run of this part is open */
    size_t *run_of;    /* per rule: its open run */
    struct qloop_buf entry;   /* scratch */
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
    qloop_buf_free(&u->mem);
    qloop_buf_free(&u->entry);
    free(u->runs);
    free(u->last);
    free(u->open);
    free(u->run_of);
    free(u);
}

static void put_uint(struct qloop_buf *b, uint64_t v)
{
    char t[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        t[n++] = (char)(byte | (v ? 0x80 : 0));
    } while (v);
    qloop_buf_append(b, t, n);
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

/* One entry into u->entry. */
static void encode(struct qloop_buf *e, uint64_t hi, uint64_t lo, size_t rule, uint64_t count,
                   uint64_t row, const char *key, size_t klen, const char *value, size_t vlen)
{
    qloop_buf_reset(e);
    uint32_t len = 0;
    qloop_buf_append(e, (const char *)&len, sizeof len);
    qloop_buf_append(e, (const char *)&hi, sizeof hi);
    qloop_buf_append(e, (const char *)&lo, sizeof lo);
    put_uint(e, rule);
    put_uint(e, count);
    if (count == 1) {
        put_uint(e, row);
        put_uint(e, klen);
        qloop_buf_append(e, key, klen);
        put_uint(e, vlen);
        qloop_buf_append(e, value, vlen);
    }
    len = (uint32_t)e->len;
    memcpy(e->ptr, &len, sizeof len);
}

/* Appends the encoded entry e to the store, spilling memory past the
 * budget. Returns 0 or -1 with err. */
static int store(struct merge_unique *u, const struct qloop_buf *e, struct qloop_error *err)
{
    if (u->mem.len + e->len > u->budget && u->mem.len > 0) {
        if (!u->file && !(u->file = tmpfile()))
            return qloop_error_set(err, NULL, 0, 0, "无法创建临时文件完成唯一性合并；请检查临时目录（TMPDIR）的空间和权限");
        if (fwrite(u->mem.ptr, 1, u->mem.len, u->file) != u->mem.len)
            return qloop_error_set(err, NULL, 0, 0, "写入唯一性合并的临时文件失败；请检查临时目录（TMPDIR）的空间");
        u->file_len += u->mem.len;
        qloop_buf_reset(&u->mem);
    }
    qloop_buf_append(&u->mem, e->ptr, e->len);
    return 0;
}

static uint64_t store_end(const struct merge_unique *u)
{
    return u->file_len + u->mem.len;
}

static size_t new_run(struct merge_unique *u)
{
    if (u->nruns == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 16;
        u->runs = qloop_xrealloc(u->runs, u->cap * sizeof *u->runs);
    }
    uint64_t at = store_end(u);
    u->runs[u->nruns] = (struct urun){at, at};
    return u->nruns++;
}

int merge_unique_state(struct merge_unique *u, size_t rule, const char *value, size_t vlen,
                       uint64_t count, uint64_t row, const char *key, size_t klen,
                       struct qloop_error *err)
{
    uint64_t hi, lo;
    strmap_fingerprint(value, vlen, &hi, &lo);
    uint64_t *last = &u->last[2 * rule];
    if (!u->open[rule] || hi < last[0] || (hi == last[0] && lo <= last[1])) {
        u->run_of[rule] = new_run(u);
        u->open[rule] = true;
    }
    last[0] = hi;
    last[1] = lo;
    /* runs of other rules may be open: this one must end where its entry does */
    struct urun *r = &u->runs[u->run_of[rule]];
    if (r->end != store_end(u)) {
        u->run_of[rule] = new_run(u);
        r = &u->runs[u->run_of[rule]];
    }
    encode(&u->entry, hi, lo, rule, count, row, key, klen, value, vlen);
    if (store(u, &u->entry, err) != 0)
        return -1;
    r->end = store_end(u);
    return 0;
}

void merge_unique_part_end(struct merge_unique *u)
{
    memset(u->open, 0, u->nrules * sizeof *u->open);
}

/* ---- the merge of the runs ---- */

/* Makes n bytes at rd->r.at readable; returns them, or NULL with err. */
static const uint8_t *see(struct merge_unique *u, struct reader *rd, size_t n,
                          struct qloop_error *err)
{
    uint64_t at = rd->r.at;
    if (at >= u->file_len)
        return (const uint8_t *)u->mem.ptr + (at - u->file_len);
    if (at >= rd->from && at + n <= rd->from + rd->buf.len)
        return (const uint8_t *)rd->buf.ptr + (at - rd->from);
    uint64_t until = u->file_len < rd->r.end ? u->file_len : rd->r.end;
    size_t want = n > CHUNK ? n : CHUNK;
    if (want > until - at)
        want = (size_t)(until - at);
    qloop_buf_reset(&rd->buf);
    qloop_buf_reserve(&rd->buf, want);
    ssize_t got = pread(fileno(u->file), rd->buf.ptr, want, (off_t)at);
    if (got < 0 || (size_t)got < n || n > want) {
        qloop_error_internal(err, NULL, "读取唯一性合并的临时文件失败");
        return NULL;
    }
    rd->buf.len = (size_t)got;
    rd->from = at;
    return (const uint8_t *)rd->buf.ptr;
}

/* Reads the run's next entry into rd->h. Returns 1, 0 at its end, -1. */
static int next(struct merge_unique *u, struct reader *rd, struct qloop_error *err)
{
    if (rd->r.at >= rd->r.end)
        return 0;
    const uint8_t *p = see(u, rd, 4, err);
    if (!p)
        return -1;
    uint32_t len;
    memcpy(&len, p, sizeof len);
    if (!(p = see(u, rd, len, err)))
        return -1;
    struct head *h = &rd->h;
    memcpy(&h->hi, p + 4, 8);
    memcpy(&h->lo, p + 12, 8);
    const uint8_t *q = p + 20;
    h->rule = (size_t)get_uint(&q);
    h->count = get_uint(&q);
    if (h->count == 1) {
        h->row = get_uint(&q);
        h->klen = (size_t)get_uint(&q);
        h->key = (const char *)q;
        q += h->klen;
        h->vlen = (size_t)get_uint(&q);
        h->value = (const char *)q;
    }
    rd->r.at += len;
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
        if (h->count == 1) {
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
