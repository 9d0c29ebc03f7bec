/*
 * unique.c — whole-dataset uniqueness with a memory budget (see unique.h).
 *
 * In memory: a strmap from value to an entry (first row, its record key in
 * an arena, occurrence count). The second occurrence reports the first and
 * itself; later ones report themselves.
 *
 * Spilled: NPART temporary files (tmpfile(): unlinked, gone with the
 * process) take records (value, row, key, reported?) by the top bits of the
 * value's hash.
 * On the switch, every in-memory entry is written once with "reported" set
 * when its group was already reported (count >= 2); later values go straight
 * to their partition unreported. unique_finish loads one partition at a time,
 * counts each value's records, and reports the unreported records of values
 * that occur more than once, in file order (so in row order within a
 * partition). A partition holds about 1/NPART of the data, which is what must
 * fit in memory at the end.
 *
 * States (a partitioned run): unique_finish_states also hands out each
 * distinct value once, with its count and, when seen once, its record — from
 * the map in memory (in the order values first came), or from the partition
 * pass when spilled (a spilled record carries the count it stands for). unique_add_group takes such a
 * count back in: a value another part holds twice or more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "run/unique.h"

enum { NPART = 64 };

struct entry {
    uint64_t row_no;
    const char *key;
    uint32_t keylen;
    uint32_t count;
};

struct unique_set {
    size_t budget;
    struct strmap *map;
    struct entry *entries;
    size_t n, cap;
    struct qloop_arena keys;
    size_t key_bytes;
    FILE *part[NPART];
    bool spilled;
};

/* A spilled record's fixed part; value and key bytes follow. count: the
 * occurrences it stands for (an in-memory entry moved out stands for all of
 * its value's records so far). */
struct rec_head {
    uint64_t row_no;
    uint32_t vlen, keylen;
    uint32_t count;
    uint8_t reported;
};

struct unique_set *unique_new(size_t budget)
{
    struct unique_set *u = qloop_xcalloc(1, sizeof *u);
    u->budget = budget ? budget : (size_t)1 << 30;
    u->map = strmap_new();
    return u;
}

void unique_free(struct unique_set *u)
{
    if (!u)
        return;
    strmap_free(u->map);
    free(u->entries);
    qloop_arena_free(&u->keys);
    for (int i = 0; i < NPART; i++)
        if (u->part[i])
            fclose(u->part[i]);
    free(u);
}

bool unique_spilled(const struct unique_set *u) { return u->spilled; }

static size_t memory_used(const struct unique_set *u)
{
    return strmap_bytes(u->map) + u->cap * sizeof *u->entries + u->key_bytes;
}

static int write_rec(struct unique_set *u, const char *value, size_t vlen, uint64_t row_no,
                     const char *key, size_t keylen, uint32_t count, bool reported,
                     struct qloop_error *err)
{
    /* the top bits: the maps that count a partition place keys by the low ones */
    FILE *f = u->part[strmap_hash(value, vlen) >> 58];
    struct rec_head h = {.row_no = row_no, .vlen = (uint32_t)vlen, .keylen = (uint32_t)keylen,
                         .count = count, .reported = reported};
    if (fwrite(&h, sizeof h, 1, f) != 1 || fwrite(value, 1, vlen, f) != vlen ||
        fwrite(key, 1, keylen, f) != keylen)
        return qloop_error_set(err, NULL, 0, 0,
                               "唯一性检查写临时文件失败（%s）；请检查 TMPDIR 所在磁盘的空间",
                               strerror(errno));
    return 0;
}

/* One in-memory value: its bytes (in the map) by entry. */
struct value_ref {
    const char *value;
    size_t len;
};

static int note_value(void *ctx, const char *value, size_t vlen, uint64_t idx)
{
    struct value_ref *v = ctx;
    v[idx - 1] = (struct value_ref){value, vlen};
    return 0;
}

/* Calls fn for every in-memory entry in the order the values first came
 * (rows in order): never in the map's slot order, which would make whoever
 * inserts them into another map probe long runs of full slots. */
static int for_each_in_order(struct unique_set *u,
                             int (*fn)(void *ctx, const char *value, size_t vlen,
                                       const struct entry *e),
                             void *ctx)
{
    struct value_ref *v = qloop_xcalloc(u->n + 1, sizeof *v);
    strmap_foreach(u->map, note_value, v);
    int rc = 0;
    for (size_t i = 0; i < u->n && rc == 0; i++)
        rc = fn(ctx, v[i].value, v[i].len, &u->entries[i]);
    free(v);
    return rc;
}

struct dump_ctx {
    struct unique_set *u;
    struct qloop_error *err;
};

static int dump_entry(void *ctx, const char *value, size_t vlen, const struct entry *e)
{
    struct dump_ctx *d = ctx;
    return write_rec(d->u, value, vlen, e->row_no, e->key, e->keylen, e->count, e->count >= 2,
                     d->err);
}

/* Moves the in-memory set to the partition files. */
static int spill(struct unique_set *u, struct qloop_error *err)
{
    for (int i = 0; i < NPART; i++) {
        u->part[i] = tmpfile();
        if (!u->part[i])
            return qloop_error_set(err, NULL, 0, 0,
                                   "唯一性检查无法创建临时文件（%s）；请检查 TMPDIR 的写权限和空间",
                                   strerror(errno));
    }
    struct dump_ctx d = {u, err};
    if (for_each_in_order(u, dump_entry, &d) != 0)
        return -1;
    strmap_free(u->map);
    u->map = NULL;
    free(u->entries);
    u->entries = NULL;
    u->n = u->cap = 0;
    qloop_arena_free(&u->keys);
    u->key_bytes = 0;
    u->spilled = true;
    return 0;
}

/* Adds n to a saturating occurrence count. */
static uint32_t add_count(uint32_t c, uint64_t n)
{
    return n >= UINT32_MAX - c ? UINT32_MAX : c + (uint32_t)n;
}

int unique_add(struct unique_set *u, const char *value, size_t vlen, uint64_t row_no,
               const char *key, size_t keylen, unique_emit_fn emit, void *ctx,
               struct qloop_error *err)
{
    if (u->spilled)
        return write_rec(u, value, vlen, row_no, key, keylen, 1, false, err);
    int created;
    uint64_t *slot = strmap_put(u->map, value, vlen, &created);
    if (created) {
        if (u->n == u->cap) {
            u->cap = u->cap ? u->cap * 2 : 1024;
            u->entries = qloop_xrealloc(u->entries, u->cap * sizeof *u->entries);
        }
        struct entry *e = &u->entries[u->n];
        e->row_no = row_no;
        e->key = qloop_arena_copy(&u->keys, key, keylen);
        e->keylen = (uint32_t)keylen;
        e->count = 1;
        u->key_bytes += keylen + 1;
        *slot = ++u->n;
        if (memory_used(u) > u->budget)
            return spill(u, err);
        return 0;
    }
    struct entry *e = &u->entries[*slot - 1];
    uint32_t before = e->count;
    e->count = add_count(e->count, 1);
    if (before == 1 && emit(ctx, e->row_no, e->key, e->keylen, value, vlen) != 0)
        return -1;
    return emit(ctx, row_no, key, keylen, value, vlen);
}

/* Reports the unreported records of repeated values in one partition and,
 * when state is set, every value's state (see unique_state_fn). */
static int finish_part(FILE *f, unique_emit_fn emit, void *ctx, unique_state_fn state,
                       void *sctx, struct qloop_error *err)
{
    long size;
    if (fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        return qloop_error_set(err, NULL, 0, 0, "唯一性检查读临时文件失败（%s）", strerror(errno));
    if (size == 0)
        return 0;
    char *buf = qloop_xmalloc((size_t)size);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        return qloop_error_set(err, NULL, 0, 0, "唯一性检查读临时文件失败（%s）", strerror(errno));
    }
    /* a value's count, with the top bit set once its group state is out */
    const uint64_t stated = UINT64_C(1) << 63;
    struct strmap *counts = strmap_new();
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t off = 0; off < (size_t)size && rc == 0;) {
            struct rec_head h;
            memcpy(&h, buf + off, sizeof h);
            const char *value = buf + off + sizeof h;
            const char *key = value + h.vlen;
            off += sizeof h + h.vlen + h.keylen;
            if (pass == 0) {
                *strmap_put(counts, value, h.vlen, NULL) += h.count;
                continue;
            }
            uint64_t *c = strmap_get(counts, value, h.vlen);
            uint64_t n = *c & ~stated;
            if (!h.reported && n > 1)
                rc = emit(ctx, h.row_no, key, h.keylen, value, h.vlen);
            if (rc == 0 && state && n == 1)
                rc = state(sctx, value, h.vlen, 1, h.row_no, key, h.keylen);
            else if (rc == 0 && state && !(*c & stated)) {
                *c |= stated;
                rc = state(sctx, value, h.vlen, n, 0, NULL, 0);
            }
        }
    }
    strmap_free(counts);
    free(buf);
    return rc;
}

int unique_finish(struct unique_set *u, unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    return unique_finish_states(u, emit, ctx, NULL, NULL, err);
}

struct state_ctx {
    unique_state_fn state;
    void *sctx;
};

static int state_entry(void *ctx, const char *value, size_t vlen, const struct entry *e)
{
    struct state_ctx *s = ctx;
    if (e->count == 1)
        return s->state(s->sctx, value, vlen, 1, e->row_no, e->key, e->keylen);
    return s->state(s->sctx, value, vlen, e->count, 0, NULL, 0);
}

int unique_finish_states(struct unique_set *u, unique_emit_fn emit, void *ectx,
                         unique_state_fn state, void *sctx, struct qloop_error *err)
{
    if (!u->spilled) {
        struct state_ctx s = {state, sctx};
        return state ? for_each_in_order(u, state_entry, &s) : 0;
    }
    for (int i = 0; i < NPART; i++)
        if (finish_part(u->part[i], emit, ectx, state, sctx, err) != 0)
            return -1;
    return 0;
}

int unique_add_group(struct unique_set *u, const char *value, size_t vlen, uint64_t count,
                     unique_emit_fn emit, void *ctx, struct qloop_error *err)
{
    uint32_t n = add_count(0, count);
    if (u->spilled)
        return write_rec(u, value, vlen, 0, "", 0, n, true, err);
    int created;
    uint64_t *slot = strmap_put(u->map, value, vlen, &created);
    if (!created) {
        struct entry *e = &u->entries[*slot - 1];
        if (e->count == 1 && emit(ctx, e->row_no, e->key, e->keylen, value, vlen) != 0)
            return -1;
        e->count = add_count(e->count, n);
        return 0;
    }
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 1024;
        u->entries = qloop_xrealloc(u->entries, u->cap * sizeof *u->entries);
    }
    u->entries[u->n] = (struct entry){.row_no = 0, .key = "", .keylen = 0, .count = n};
    *slot = ++u->n;
    if (memory_used(u) > u->budget)
        return spill(u, err);
    return 0;
}
