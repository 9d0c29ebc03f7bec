/*
 * compare.c — 比对: matching two datasets of one run by key (see compare.h).
 *
 * Feeding. Every record of a compared dataset becomes one compact record: a
 * 128-bit fingerprint of its compare key (two independent 64-bit hashes over
 * the length-prefixed key parts), its row number, and a payload holding its
 * own record key (when the dataset's declared key differs from the compare
 * key), the compare key text and the cleansed values of the compared fields.
 * Records live in 1 MiB chunks; the memory charged is the chunks plus
 * ENT_COST bytes per record for the join's working arrays. When the charge
 * passes the budget, every side of every compare is written out to 64
 * temporary partition files chosen by the top bits of the fingerprint (plus
 * one stream for records whose key is empty), unlinked as soon as created,
 * and later records go straight to their partition.
 *
 * Joining. A unit (everything in memory, or one partition of both sides) is
 * loaded, each side's fingerprints are sorted and merged: a fingerprint that
 * occurs more than once on a side marks all its records there as duplicates
 * (never paired); a unique fingerprint with no twin on the other side is a
 * missing record; unique on both sides is a pair whose fields are compared.
 * Sorting within a hash partition (rather than probing a hash table) gives
 * the group counts needed for duplicates on both sides without a second
 * structure and makes the order of findings deterministic. A partition still
 * larger than the budget is split again on the next fingerprint bits, up to
 * MAX_LEVEL times. Within a unit, findings are written rule by rule in row
 * order, so a spilled run gives the same findings as an in-memory one
 * (grouped by partition instead of globally).
 *
 * Where findings go. Without authority: missing_in_right and mismatch on the
 * left dataset, missing_in_left on the right one. With authority = "left"
 * (or "right"), every missing and mismatch finding goes to the other side's
 * dataset, so the ticket reaches that owner; a missing record there has no
 * row and is identified by its compare key. Duplicate and empty keys are
 * reported on the dataset that has them.
 */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "checks/clean.h"
#include "run/compare.h"
#include "base/text.h"
#include "lua/sandbox.h"
#include "checks/mask.h"
#include "store/store.h"

enum {
    NPART = 64,             /* partitions per level */
    PART_BITS = 6,          /* log2(NPART) */
    MAX_LEVEL = 3,          /* partition levels below the first */
    MIN_SPLIT = 16,         /* a unit this small is loaded whatever the budget */
    EMPTY_STREAM = NPART,   /* the stream of records with an empty key */
    ENT_COST = 72,          /* join working memory per record: entry, sort key, sort buffer */
    CHUNK_SIZE = 1 << 20,   /* in-memory record storage granule */
    SPILL_BUFSIZE = 16384,  /* stdio buffer per partition file */
};

#define DEFAULT_BUDGET ((size_t)1 << 30)

/* One record, followed by len payload bytes padded to a multiple of 8. */
struct rec {
    uint64_t fp_hi, fp_lo;
    uint64_t row_no;
    uint32_t len;
    uint32_t flags;
};
#define REC_EMPTY_KEY 1u

/* Bytes a record with len payload bytes takes, padding included. */
static size_t rec_size(uint32_t len)
{
    return sizeof(struct rec) + (((size_t)len + 7u) & ~(size_t)7u);
}

struct chunk {
    struct chunk *next;
    size_t used, size;
    uint64_t data[]; /* 8-byte aligned records */
};

/* A temporary partition file. */
struct spill {
    FILE *f;
    char *buf; /* stdio buffer */
    uint64_t bytes, recs;
};

struct side {
    const char *dataset;
    struct pack_dataset *d;
    char *const *keys;         /* compare key fields on this side */
    size_t nkeys;
    const char **fields;       /* compared fields, this side's names, in rule order */
    size_t nfields;
    bool own_is_cmp;           /* the dataset's declared key is the compare key */
    bool store_own;            /* payload carries the own record key */
    /* column cache */
    const char *const *names;
    size_t ncols;
    long *key_col, *own_col, *field_col;
    bool *key_seen, *field_seen;
    bool fed;
    int64_t total;             /* records fed */
    /* in memory */
    struct chunk *head, *tail;
    /* after spilling */
    struct spill parts[NPART + 1];
};

enum { R_MISSING_RIGHT, R_MISSING_LEFT, R_DUP_LEFT, R_DUP_RIGHT, R_EMPTY_LEFT, R_EMPTY_RIGHT,
       R_MISMATCH /* + field index */ };

struct rule_count {
    char *id;
    int side;            /* dataset the findings are on: 0 left, 1 right */
    const char *field;   /* the field on that dataset (mismatch rules) */
    char *message;       /* rule_results message */
    bool resolve_missing;
    int64_t checked, failed, errors;
    bool error_noted;
};

struct cmp {
    struct pack_compare *pc;
    struct side side[2];
    const struct pack_compare_field **fields; /* sorted by left name */
    size_t nfields;
    bool key_sensitive;
    bool *field_sensitive;
    int mismatch_side;   /* dataset of mismatch findings */
    int auth;            /* -1 none, 0 left, 1 right */
    struct rule_count *rules; /* R_MISMATCH + nfields */
    size_t nrules;
};

struct compare_run {
    struct pack *p;
    size_t budget;
    size_t mem;
    bool spilled;
    struct cmp *cmps;
    size_t ncmps;
    const char *tmpdir;
    struct qloop_buf rec;  /* a record being built */
    struct qloop_buf key;  /* key parts, length-prefixed, being hashed */
};

/* ---- fingerprints ---- */

/* The splitmix64 finaliser: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* x rotated left by r bits (0 < r < 64). */
static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A 64-bit hash of s[0..n) parameterised by seed and two odd multipliers;
 * two parameter sets give two independent hashes. */
static uint64_t hash64(const unsigned char *s, size_t n, uint64_t seed, uint64_t m1, uint64_t m2)
{
    uint64_t h = seed ^ ((uint64_t)n * m1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = rotl64(h ^ mix64(w ^ seed), 29) * m2 + m1;
    }
    uint64_t w = 0;
    for (size_t k = 0; i + k < n; k++)
        w |= (uint64_t)s[i + k] << (8 * k);
    h = rotl64(h ^ mix64(w ^ seed ^ ((uint64_t)(n & 7) << 56)), 29) * m2 + m1;
    return mix64(h ^ (h >> 32));
}

/* The 128-bit fingerprint of the length-prefixed key parts s[0..n). */
static void fingerprint(const char *s, size_t n, uint64_t *hi, uint64_t *lo)
{
    const unsigned char *u = (const unsigned char *)s;
    *hi = hash64(u, n, UINT64_C(0x243f6a8885a308d3), UINT64_C(0x9e3779b97f4a7c15),
                 UINT64_C(0xc2b2ae3d27d4eb4f));
    *lo = hash64(u, n, UINT64_C(0x13198a2e03707344), UINT64_C(0xff51afd7ed558ccd),
                 UINT64_C(0xc4ceb9fe1a85ec53));
}

/* The partition (0..NPART-1) of a fingerprint at a partition level. */
static unsigned part_of(uint64_t fp_hi, int level)
{
    return (unsigned)((fp_hi >> (64 - PART_BITS * (level + 1))) & (NPART - 1));
}

/* ---- small helpers ---- */

/* The i-th length-prefixed string of a record's payload. */
static const char *payload_str(const struct rec *r, size_t i, size_t *len)
{
    const unsigned char *p = (const unsigned char *)(r + 1);
    for (;;) {
        uint32_t n;
        memcpy(&n, p, 4);
        if (i-- == 0) {
            *len = n;
            return (const char *)p + 4;
        }
        p += 4 + n;
    }
}

/* Appends s as a length-prefixed payload string. */
static void put_str(struct qloop_buf *b, const char *s, size_t len)
{
    uint32_t n = (uint32_t)len;
    qloop_buf_append(b, (const char *)&n, 4);
    qloop_buf_append(b, s, len);
}

/* ---- set-up ---- */

/* Frees a side's records (memory and partition files), keeping its set-up. */
static void side_release(struct side *s)
{
    for (struct chunk *c = s->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    s->head = s->tail = NULL;
    for (size_t i = 0; i <= NPART; i++) {
        if (s->parts[i].f)
            fclose(s->parts[i].f);
        free(s->parts[i].buf);
        s->parts[i] = (struct spill){0};
    }
}

/* Frees everything a side holds; the side must not be used afterwards. */
static void side_free(struct side *s)
{
    side_release(s);
    free(s->fields);
    free(s->key_col), free(s->own_col), free(s->field_col);
    free(s->key_seen), free(s->field_seen);
}

/* Frees c and every temporary file it still holds; c may be NULL. */
void compare_run_free(struct compare_run *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncmps; i++) {
        struct cmp *m = &c->cmps[i];
        side_free(&m->side[0]);
        side_free(&m->side[1]);
        free(m->fields);
        free(m->field_sensitive);
        for (size_t r = 0; r < m->nrules; r++) {
            free(m->rules[r].id);
            free(m->rules[r].message);
        }
        free(m->rules);
    }
    free(c->cmps);
    qloop_buf_free(&c->rec);
    qloop_buf_free(&c->key);
    free(c);
}

/* qsort order of compared fields: by left name, so rule order does not
 * depend on Lua's table iteration order. */
static int by_left_name(const void *a, const void *b)
{
    const struct pack_compare_field *x = *(const struct pack_compare_field *const *)a;
    const struct pack_compare_field *y = *(const struct pack_compare_field *const *)b;
    return strcmp(x->left, y->left);
}

/* A new string formatted like printf (aborts when out of memory). */
static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_dup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = qloop_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Fills one rule's fixed description; takes ownership of id and message. */
static void set_rule(struct rule_count *r, char *id, int side, const char *field, char *message,
                     bool resolve_missing)
{
    r->id = id;
    r->side = side;
    r->field = field;
    r->message = message;
    r->resolve_missing = resolve_missing;
}

/* Resolves compare pc's datasets, key fields on each side, compared fields,
 * sensitivity and its rules into m. Returns 0 or -1 with err (file, line). */
static int setup_cmp(struct compare_run *c, struct cmp *m, struct pack_compare *pc,
                     struct qloop_error *err)
{
    struct pack *p = c->p;
    m->pc = pc;
    struct pack_dataset *dl = pack_find_dataset(p, pc->left), *dr = pack_find_dataset(p, pc->right);
    if (!dl || !dr)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 的数据集 \"%s\" 没有声明；请先写 dataset \"%s\" { ... }",
                               pc->name, dl ? pc->right : pc->left, dl ? pc->right : pc->left);
    struct side *L = &m->side[0], *R = &m->side[1];
    L->d = dl, L->dataset = dl->name;
    R->d = dr, R->dataset = dr->name;
    L->keys = pc->nleft_keys ? pc->left_keys : dl->keys;
    L->nkeys = pc->nleft_keys ? pc->nleft_keys : dl->nkeys;
    R->keys = pc->nright_keys ? pc->right_keys : pc->nleft_keys ? pc->left_keys : dr->keys;
    R->nkeys = pc->nright_keys ? pc->nright_keys : pc->nleft_keys ? pc->nleft_keys : dr->nkeys;
    if (L->nkeys == 0 || R->nkeys == 0)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 没有给出 key，数据集 \"%s\" 也没有声明 key；请写 key = \"字段\"",
                               pc->name, L->nkeys == 0 ? dl->name : dr->name);
    if (L->nkeys != R->nkeys)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 左右两侧的键字段个数不同（%zu 与 %zu）；key 与 right_key 应一一对应",
                               pc->name, L->nkeys, R->nkeys);
    m->nfields = pc->nfields;
    m->fields = qloop_xcalloc(pc->nfields + 1, sizeof *m->fields);
    for (size_t i = 0; i < pc->nfields; i++)
        m->fields[i] = &pc->fields[i];
    qsort(m->fields, m->nfields, sizeof *m->fields, by_left_name);
    m->field_sensitive = qloop_xcalloc(m->nfields + 1, sizeof *m->field_sensitive);
    for (int s = 0; s < 2; s++) {
        struct side *sd = &m->side[s];
        sd->nfields = m->nfields;
        sd->fields = qloop_xcalloc(m->nfields + 1, sizeof *sd->fields);
        for (size_t i = 0; i < m->nfields; i++)
            sd->fields[i] = s == 0 ? m->fields[i]->left : m->fields[i]->right;
        sd->own_is_cmp = sd->d->nkeys == sd->nkeys;
        for (size_t i = 0; sd->own_is_cmp && i < sd->nkeys; i++)
            sd->own_is_cmp = strcmp(sd->d->keys[i], sd->keys[i]) == 0;
        sd->store_own = !sd->own_is_cmp && sd->d->nkeys > 0;
        sd->key_col = qloop_xcalloc(sd->nkeys + 1, sizeof *sd->key_col);
        sd->key_seen = qloop_xcalloc(sd->nkeys + 1, sizeof *sd->key_seen);
        sd->own_col = qloop_xcalloc(sd->d->nkeys + 1, sizeof *sd->own_col);
        sd->field_col = qloop_xcalloc(m->nfields + 1, sizeof *sd->field_col);
        sd->field_seen = qloop_xcalloc(m->nfields + 1, sizeof *sd->field_seen);
        for (size_t i = 0; i < sd->nkeys; i++)
            m->key_sensitive |= pack_is_sensitive(sd->d, sd->keys[i]);
        for (size_t i = 0; i < sd->d->nkeys; i++)
            m->key_sensitive |= pack_is_sensitive(sd->d, sd->d->keys[i]);
        for (size_t i = 0; i < m->nfields; i++)
            m->field_sensitive[i] |= pack_is_sensitive(sd->d, sd->fields[i]);
    }
    m->auth = !pc->authority ? -1 : strcmp(pc->authority, "left") == 0 ? 0 : 1;
    m->mismatch_side = m->auth == 0 ? 1 : 0;
    m->nrules = R_MISMATCH + m->nfields;
    m->rules = qloop_xcalloc(m->nrules, sizeof *m->rules);
    const char *n = pc->name, *ln = dl->name, *rn = dr->name;
    int mr_side = m->auth == 0 ? 1 : 0; /* missing_in_right */
    int ml_side = m->auth == 1 ? 0 : 1; /* missing_in_left */
    set_rule(&m->rules[R_MISSING_RIGHT], printf_dup("%s.missing_in_right", n), mr_side, NULL,
             printf_dup("比对 %s：%s 的记录在 %s 中找不到", n, ln, rn), mr_side == 0);
    set_rule(&m->rules[R_MISSING_LEFT], printf_dup("%s.missing_in_left", n), ml_side, NULL,
             printf_dup("比对 %s：%s 的记录在 %s 中找不到", n, rn, ln), ml_side == 1);
    set_rule(&m->rules[R_DUP_LEFT], printf_dup("%s.duplicate_key_left", n), 0, NULL,
             printf_dup("比对 %s：%s 中比对键重复，无法与 %s 配对", n, ln, rn), true);
    set_rule(&m->rules[R_DUP_RIGHT], printf_dup("%s.duplicate_key_right", n), 1, NULL,
             printf_dup("比对 %s：%s 中比对键重复，无法与 %s 配对", n, rn, ln), true);
    set_rule(&m->rules[R_EMPTY_LEFT], printf_dup("%s.empty_key_left", n), 0, NULL,
             printf_dup("比对 %s：%s 中比对键为空，无法与 %s 配对", n, ln, rn), true);
    set_rule(&m->rules[R_EMPTY_RIGHT], printf_dup("%s.empty_key_right", n), 1, NULL,
             printf_dup("比对 %s：%s 中比对键为空，无法与 %s 配对", n, rn, ln), true);
    for (size_t i = 0; i < m->nfields; i++) {
        const struct pack_compare_field *f = m->fields[i];
        set_rule(&m->rules[R_MISMATCH + i], printf_dup("%s.mismatch.%s", n, f->left),
                 m->mismatch_side, m->mismatch_side == 0 ? f->left : f->right,
                 printf_dup("比对 %s：%s.%s 与 %s.%s 不一致", n, ln, f->left, rn, f->right), false);
    }
    return 0;
}

int compare_run_new(struct compare_run **out, struct pack *p, size_t memory_budget,
                    struct qloop_error *err)
{
    struct compare_run *c = qloop_xcalloc(1, sizeof *c);
    c->p = p;
    c->budget = memory_budget ? memory_budget : DEFAULT_BUDGET;
    const char *t = getenv("TMPDIR");
    c->tmpdir = t && *t ? t : "/tmp";
    c->cmps = qloop_xcalloc(p->ncompares + 1, sizeof *c->cmps);
    for (size_t i = 0; i < p->ncompares; i++) {
        c->ncmps++;
        if (setup_cmp(c, &c->cmps[i], &p->compares[i], err) != 0) {
            compare_run_free(c);
            *out = NULL;
            return -1;
        }
    }
    *out = c;
    return 0;
}

bool compare_spilled(const struct compare_run *c)
{
    return c && c->spilled;
}

/* ---- columns ---- */

/* The index of name among names, or -1. */
static long find_col(const char *const *names, size_t ncols, const char *name)
{
    for (size_t i = 0; i < ncols; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

/* Maps side s's key, own-key and field names to column indices of a batch
 * (re-done only when the columns change) and notes which were ever seen. */
static void resolve_columns(struct side *s, const char *const *names, size_t ncols)
{
    if (s->names == names && s->ncols == ncols)
        return;
    s->names = names;
    s->ncols = ncols;
    for (size_t i = 0; i < s->nkeys; i++) {
        s->key_col[i] = find_col(names, ncols, s->keys[i]);
        s->key_seen[i] |= s->key_col[i] >= 0;
    }
    for (size_t i = 0; i < s->d->nkeys; i++)
        s->own_col[i] = find_col(names, ncols, s->d->keys[i]);
    for (size_t i = 0; i < s->nfields; i++) {
        s->field_col[i] = find_col(names, ncols, s->fields[i]);
        s->field_seen[i] |= s->field_col[i] >= 0;
    }
}

/* Error for the first compared column side s never had, or 0. */
static int missing_column(const struct cmp *m, const struct side *s, struct qloop_error *err)
{
    const char *what = NULL, *name = NULL;
    for (size_t i = 0; !name && i < s->nkeys; i++)
        if (!s->key_seen[i])
            what = "键字段", name = s->keys[i];
    for (size_t i = 0; !name && i < s->nfields; i++)
        if (!s->field_seen[i])
            what = "比对字段", name = s->fields[i];
    if (!name)
        return 0;
    return qloop_error_set(err, m->pc->file, m->pc->line, 0,
                           "compare \"%s\" 的%s \"%s\" 不在数据集 \"%s\" 的数据中；请核对字段名（区分大小写），"
                           "或用 right_key / fields = { 左字段 = \"右字段\" } 指明对方的字段名",
                           m->pc->name, what, name, s->dataset);
}

int compare_check_columns(struct compare_run *c, const char *dataset, const char *const *names,
                          size_t ncols, struct qloop_error *err)
{
    for (size_t i = 0; c && i < c->ncmps; i++)
        for (int s = 0; s < 2; s++) {
            struct side *sd = &c->cmps[i].side[s];
            if (strcmp(sd->dataset, dataset) != 0)
                continue;
            resolve_columns(sd, names, ncols);
            if (missing_column(&c->cmps[i], sd, err) != 0)
                return -1;
        }
    return 0;
}

/* ---- storing records: memory, or partition files ---- */

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
    s->buf = qloop_xmalloc(SPILL_BUFSIZE);
    setvbuf(s->f, s->buf, _IOFBF, SPILL_BUFSIZE);
    s->bytes = s->recs = 0;
    return 0;
}

/* Closes (and so deletes) s; s is empty and reusable afterwards. */
static void spill_close(struct spill *s)
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
    if (fwrite(r, 1, n, s->f) != n)
        return qloop_error_set(err, c->tmpdir, 0, 0,
                               "写入比对用的临时文件失败（%s）；请检查 TMPDIR 所在磁盘的可用空间，"
                               "或用 --memory 给比对更多内存",
                               strerror(errno));
    s->bytes += n;
    s->recs++;
    return 0;
}

/* Appends r to side s's first-level partition (or its empty-key stream). */
static int spill_record(struct compare_run *c, struct side *s, const struct rec *r,
                        struct qloop_error *err)
{
    unsigned part = r->flags & REC_EMPTY_KEY ? EMPTY_STREAM : part_of(r->fp_hi, 0);
    return spill_put(c, &s->parts[part], r, err);
}

/* Moves every in-memory record of every compare to partition files. */
static int spill_all(struct compare_run *c, struct qloop_error *err)
{
    c->spilled = true;
    for (size_t i = 0; i < c->ncmps; i++)
        for (int sd = 0; sd < 2; sd++) {
            struct side *s = &c->cmps[i].side[sd];
            for (struct chunk *k = s->head, *next; k; k = next) {
                next = k->next;
                for (size_t off = 0; off < k->used;) {
                    const struct rec *r = (const struct rec *)((const char *)k->data + off);
                    if (spill_record(c, s, r, err) != 0)
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

/* Keeps record r of side s in memory, or in its partition once spilled;
 * spills everything when the memory charged passes the budget. */
static int store_record(struct compare_run *c, struct side *s, const struct rec *r,
                        struct qloop_error *err)
{
    if (c->spilled)
        return spill_record(c, s, r, err);
    size_t n = rec_size(r->len);
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
    memcpy((char *)k->data + k->used, r, n);
    k->used += n;
    c->mem += ENT_COST;
    if (c->mem > c->budget)
        return spill_all(c, err);
    return 0;
}

/* Builds and stores the record of one row of side s. */
static int feed_row(struct compare_run *c, struct side *s, const struct qloop_field *row,
                    size_t ncols, uint64_t row_no, struct qloop_error *err)
{
    static const struct qloop_field none = {"", 0, 1};
    struct qloop_buf *b = &c->rec, *k = &c->key;
    qloop_buf_reset(b);
    qloop_buf_reset(k);
    struct rec h = {.row_no = row_no};
    qloop_buf_append(b, (const char *)&h, sizeof h);
    if (s->store_own) {
        size_t at = b->len;
        qloop_buf_append(b, "\0\0\0\0", 4);
        for (size_t i = 0; i < s->d->nkeys; i++) {
            long col = s->own_col[i];
            const struct qloop_field *f = col >= 0 && (size_t)col < ncols ? &row[col] : &none;
            if (i)
                qloop_buf_putc(b, '|');
            qloop_buf_append(b, f->ptr, f->len);
        }
        uint32_t n = (uint32_t)(b->len - at - 4);
        memcpy(b->ptr + at, &n, 4);
    }
    size_t at = b->len;
    qloop_buf_append(b, "\0\0\0\0", 4);
    for (size_t i = 0; i < s->nkeys; i++) {
        long col = s->key_col[i];
        const struct qloop_field *f = col >= 0 && (size_t)col < ncols ? &row[col] : &none;
        if (qloop_value_empty(f))
            h.flags |= REC_EMPTY_KEY;
        if (i)
            qloop_buf_putc(b, '|');
        qloop_buf_append(b, f->ptr, f->len);
        put_str(k, f->ptr, f->len);
    }
    uint32_t n = (uint32_t)(b->len - at - 4);
    memcpy(b->ptr + at, &n, 4);
    for (size_t i = 0; i < s->nfields; i++) {
        long col = s->field_col[i];
        const struct qloop_field *f = col >= 0 && (size_t)col < ncols ? &row[col] : &none;
        if (qloop_value_empty(f))
            put_str(b, "", 0);
        else
            put_str(b, f->ptr, f->len);
    }
    if (!(h.flags & REC_EMPTY_KEY))
        fingerprint(k->ptr, k->len, &h.fp_hi, &h.fp_lo);
    h.len = (uint32_t)(b->len - sizeof h);
    while (b->len % 8)
        qloop_buf_putc(b, '\0');
    memcpy(b->ptr, &h, sizeof h);
    s->total++;
    return store_record(c, s, (const struct rec *)b->ptr, err);
}

int compare_feed(struct compare_run *c, const char *dataset, const char *const *names, size_t ncols,
                 const struct qloop_field *cells, size_t nrows, const uint64_t *row_no,
                 struct qloop_error *err)
{
    for (size_t i = 0; c && i < c->ncmps; i++)
        for (int sd = 0; sd < 2; sd++) {
            struct side *s = &c->cmps[i].side[sd];
            if (strcmp(s->dataset, dataset) != 0)
                continue;
            resolve_columns(s, names, ncols);
            s->fed = true;
            for (size_t r = 0; r < nrows; r++)
                if (feed_row(c, s, cells + r * ncols, ncols, row_no[r], err) != 0)
                    return -1;
        }
    return 0;
}

/* ---- joining ---- */

enum { ST_NONE, ST_EMPTY, ST_DUP, ST_MISSING, ST_OTHER_DUP, ST_PAIRED };

struct ent {
    const struct rec *r;
    struct ent *partner;
    uint32_t count;  /* records sharing the key on this side */
    uint8_t status;
    uint8_t counted; /* bit per dataset side: counted in failed_records */
};

struct emitter {
    struct compare_run *c;
    struct cmp *m;
    sqlite3 *db;
    const char *run_id;
    lua_State *L;
    sqlite3_stmt *ins;
    struct qloop_error *err;
    int64_t failed_records;
    struct qloop_buf key, msg, val, na, nb, t1, t2;
};

/* A record's fingerprint held inline, so that sorting never chases pointers. */
struct fpkey {
    uint64_t hi, lo;
    struct ent *e;
};

/* Orders by fingerprint, then by entry address: entries are in row order, so
 * records of one key stay in row order. */
static int cmp_fp(const void *x, const void *y)
{
    const struct fpkey *a = x, *b = y;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->e < b->e ? -1 : a->e > b->e;
}

/* qsort order of entries by row number. */
static int cmp_row(const void *x, const void *y)
{
    const struct rec *a = ((const struct ent *)x)->r, *b = ((const struct ent *)y)->r;
    return a->row_no < b->row_no ? -1 : a->row_no > b->row_no;
}

static bool same_fp(const struct fpkey *a, const struct fpkey *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

/* Whether a's fingerprint sorts before or with b's. */
static bool fp_le(const struct fpkey *a, const struct fpkey *b)
{
    return a->hi != b->hi ? a->hi < b->hi : a->lo <= b->lo;
}

/* Appends the text shown for a value: "（空）" when empty, masked when sensitive. */
static void show_value(struct qloop_buf *out, const char *s, size_t len, bool sensitive)
{
    if (len == 0)
        qloop_buf_append(out, "（空）", strlen("（空）"));
    else if (sensitive)
        mask_sensitive(s, len, out);
    else
        qloop_buf_append(out, s, len);
}

/* The compare key text of a record, masked when any key is sensitive, into out. */
static void show_key(struct emitter *e, const struct side *s, const struct rec *r,
                     struct qloop_buf *out)
{
    size_t len;
    const char *k = payload_str(r, s->store_own ? 1 : 0, &len);
    for (size_t i = 0; i < s->nkeys; i++)
        qloop_buf_printf(out, "%s%s", i ? "|" : "", s->keys[i]);
    qloop_buf_putc(out, '=');
    show_value(out, k, len, e->m->key_sensitive);
}

/* Writes one finding on dataset side ds_side about record subject (of its own
 * side), which exists on that dataset when `own` (row and own record key) or
 * is absent there (identified by its compare key). */
static int put_finding(struct emitter *e, int rule, int ds_side, struct ent *subject, bool own,
                       const char *field, const char *value, size_t vlen, bool has_value,
                       const char *message)
{
    struct cmp *m = e->m;
    struct rule_count *rc = &m->rules[rule];
    const struct side *s = &m->side[ds_side];
    const struct side *origin = own ? s : &m->side[1 - ds_side];
    const struct rec *r = subject->r;
    char rowkey[32];
    const char *key;
    size_t keylen;
    if (!own || origin->own_is_cmp) {
        key = payload_str(r, origin->store_own ? 1 : 0, &keylen);
    } else if (origin->store_own) {
        key = payload_str(r, 0, &keylen);
    } else {
        snprintf(rowkey, sizeof rowkey, "#%llu", (unsigned long long)r->row_no);
        key = rowkey;
        keylen = strlen(rowkey);
    }
    char ref[33];
    store_record_ref(e->db, s->dataset, key, keylen, ref);
    sqlite3_stmt *st = e->ins;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, e->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rc->id, -1, SQLITE_STATIC);
    if (own && r->row_no)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)r->row_no);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, ref, 32, SQLITE_TRANSIENT);
    if (m->key_sensitive) {
        qloop_buf_reset(&e->key);
        mask_sensitive(key, keylen, &e->key);
        sqlite3_bind_text(st, 6, qloop_buf_str(&e->key), -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_text(st, 6, key, (int)keylen, SQLITE_TRANSIENT);
    }
    if (field)
        sqlite3_bind_text(st, 7, field, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    if (has_value)
        sqlite3_bind_text(st, 8, value, (int)vlen, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_text(st, 9, message, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_error(e->db, "写入比对结果", e->err);
    rc->failed++;
    if (!(subject->counted & (1u << ds_side))) {
        subject->counted |= (uint8_t)(1u << ds_side);
        e->failed_records++;
    }
    return 0;
}

/* Writes the missing_* finding for record x of side `from`, which has no
 * match on the other side: on x's own dataset, or on the other one when
 * `from` is the authority. Returns 0 or -1 with err. */
static int report_missing(struct emitter *e, int rule, int from, struct ent *x)
{
    struct cmp *m = e->m;
    int ds = m->rules[rule].side;
    const struct side *o = &m->side[from], *other = &m->side[1 - from];
    struct qloop_buf *msg = &e->msg;
    qloop_buf_reset(msg);
    if (ds == from) {
        /* the record exists here and has no match on the other side */
        qloop_buf_printf(msg, "%s %s 中找不到对应记录（", m->auth == 1 - from ? "权威方" : "在",
                         other->dataset);
        show_key(e, o, x->r, msg);
        qloop_buf_append(msg, "）", strlen("）"));
        return put_finding(e, rule, ds, x, true, NULL, NULL, 0, false, qloop_buf_str(msg));
    }
    /* the record exists only on the authority's side: the other lacks it */
    qloop_buf_printf(msg, "本方缺少记录：权威方 %s 第 %llu 行有此记录（", o->dataset,
                     (unsigned long long)x->r->row_no);
    show_key(e, o, x->r, msg);
    qloop_buf_append(msg, "）", strlen("）"));
    return put_finding(e, rule, ds, x, false, NULL, NULL, 0, false, qloop_buf_str(msg));
}

/* Writes the duplicate_key_* finding for record x of side `side`. */
static int report_dup(struct emitter *e, int rule, int side, struct ent *x)
{
    struct cmp *m = e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&e->msg);
    qloop_buf_append(&e->msg, "比对键 ", strlen("比对键 "));
    show_key(e, s, x->r, &e->msg);
    qloop_buf_printf(&e->msg, " 在 %s 中出现 %u 次，无法与 %s 配对", s->dataset, x->count,
                     m->side[1 - side].dataset);
    size_t klen;
    const char *k = payload_str(x->r, s->store_own ? 1 : 0, &klen);
    qloop_buf_reset(&e->val);
    if (m->key_sensitive)
        mask_sensitive(k, klen, &e->val);
    else
        qloop_buf_append(&e->val, k, klen);
    return put_finding(e, rule, side, x, true, NULL, qloop_buf_str(&e->val), e->val.len, true,
                       qloop_buf_str(&e->msg));
}

/* Writes the empty_key_* finding for record x of side `side`. */
static int report_empty(struct emitter *e, int side, struct ent *x)
{
    struct cmp *m = e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&e->msg);
    qloop_buf_append(&e->msg, "比对键 ", strlen("比对键 "));
    for (size_t i = 0; i < s->nkeys; i++)
        qloop_buf_printf(&e->msg, "%s%s", i ? "、" : "", s->keys[i]);
    qloop_buf_printf(&e->msg, " 为空，无法与 %s 配对", m->side[1 - side].dataset);
    return put_finding(e, side == 0 ? R_EMPTY_LEFT : R_EMPTY_RIGHT, side, x, true, NULL, NULL, 0,
                       false, qloop_buf_str(&e->msg));
}

/* Counts an error of rule rc on a record and prints the first one on stderr. */
static void note_error(struct emitter *e, struct rule_count *rc, const struct qloop_error *qe,
                       const struct side *s, uint64_t row_no)
{
    rc->errors++;
    if (rc->error_noted)
        return;
    rc->error_noted = true;
    char buf[1200];
    qloop_error_format(qe, buf, sizeof buf);
    fprintf(stderr,
            "qloop: 比对 \"%s\"（%s:%ld）的规则 %s 在数据集 %s 第 %llu 行出错：%s；本次运行继续，出错的记录计入 errors\n",
            e->m->pc->name, e->m->pc->file, e->m->pc->line, rc->id, s->dataset,
            (unsigned long long)row_no, buf);
}

/* Applies f's normalize to s into out; returns 1 with a value, 0 for none,
 * -1 on a Lua error (qe filled). */
static int normalize(struct emitter *e, const struct pack_compare_field *f, const char *s,
                     size_t len, struct qloop_buf *tmp, struct qloop_buf *out,
                     struct qloop_error *qe)
{
    qloop_buf_reset(out);
    if (len == 0)
        return 0;
    qloop_buf_reset(tmp);
    qloop_buf_append(tmp, s, len); /* NUL-terminated copy */
    if (f->normalize)
        return f->normalize->clean(qloop_buf_str(tmp), tmp->len, out) && out->len > 0;
    if (f->normalize_ref == LUA_NOREF) {
        qloop_buf_append(out, s, len);
        return 1;
    }
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->normalize_ref);
    lua_pushlstring(L, s, len);
    if (qloop_lua_pcall(L, 1, 1, qe) != LUA_OK)
        return -1;
    int t = lua_type(L, -1);
    int rc = 0;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        qloop_buf_append(out, v, n);
        rc = n > 0;
    } else if (t != LUA_TNIL && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        qloop_error_set(qe, NULL, 0, 0, "normalize 函数应返回文本或 nil，而不是 %s", lua_typename(L, t));
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

/* Judges one field of a pair: 1 equal, 0 different, -1 error (qe filled). */
static int values_equal(struct emitter *e, const struct pack_compare_field *f, const char *a,
                        size_t alen, const char *b, size_t blen, struct qloop_error *qe)
{
    int ha = normalize(e, f, a, alen, &e->t1, &e->na, qe);
    if (ha < 0)
        return -1;
    int hb = normalize(e, f, b, blen, &e->t1, &e->nb, qe);
    if (hb < 0)
        return -1;
    if (f->equal_ref != LUA_NOREF) {
        lua_State *L = e->L;
        lua_rawgeti(L, LUA_REGISTRYINDEX, f->equal_ref);
        if (ha)
            lua_pushlstring(L, e->na.ptr, e->na.len);
        else
            lua_pushnil(L);
        if (hb)
            lua_pushlstring(L, e->nb.ptr, e->nb.len);
        else
            lua_pushnil(L);
        if (qloop_lua_pcall(L, 2, 1, qe) != LUA_OK)
            return -1;
        int ok = lua_toboolean(L, -1);
        lua_pop(L, 1);
        return ok;
    }
    if (!ha || !hb)
        return ha == hb;
    if (e->na.len == e->nb.len && memcmp(e->na.ptr, e->nb.ptr, e->na.len) == 0)
        return 1;
    if (f->date) {
        qloop_buf_reset(&e->t1);
        qloop_buf_reset(&e->t2);
        if (clean_date(e->na.ptr, e->na.len, &e->t1) && clean_date(e->nb.ptr, e->nb.len, &e->t2))
            return strcmp(qloop_buf_str(&e->t1), qloop_buf_str(&e->t2)) == 0;
        return 0;
    }
    if (f->has_tolerance) {
        double x, y;
        if (qloop_parse_number(e->na.ptr, e->na.len, &x) && qloop_parse_number(e->nb.ptr, e->nb.len, &y))
            return fabs(x - y) <= f->tolerance;
        return 0;
    }
    return 0;
}

/* Compares field fi of the pair (l, r), counting it in the mismatch rule and
 * writing a finding when the values differ. Returns 0 or -1 with err (store). */
static int judge_pair(struct emitter *e, size_t fi, struct ent *l, struct ent *r)
{
    struct cmp *m = e->m;
    const struct pack_compare_field *f = m->fields[fi];
    struct rule_count *rc = &m->rules[R_MISMATCH + fi];
    const struct side *sl = &m->side[0], *sr = &m->side[1];
    size_t off_l = (sl->store_own ? 2 : 1) + fi, off_r = (sr->store_own ? 2 : 1) + fi;
    size_t alen, blen;
    const char *a = payload_str(l->r, off_l, &alen), *b = payload_str(r->r, off_r, &blen);
    struct qloop_error qe;
    qloop_error_clear(&qe);
    int eq = values_equal(e, f, a, alen, b, blen, &qe);
    if (eq < 0) {
        if (!qe.file[0] && !qe.line) {
            char text[sizeof qe.message];
            memcpy(text, qe.message, sizeof text);
            qloop_error_set(&qe, m->pc->file, m->pc->line, 0, "%s", text);
        }
        note_error(e, rc, &qe, sl, l->r->row_no);
        return 0;
    }
    rc->checked++;
    if (eq)
        return 0;
    bool sens = m->field_sensitive[fi];
    int ds = m->mismatch_side;
    struct qloop_buf *msg = &e->msg;
    qloop_buf_reset(msg);
    if (m->auth >= 0) {
        const char *mine = ds == 0 ? a : b, *theirs = ds == 0 ? b : a;
        size_t mlen = ds == 0 ? alen : blen, tlen = ds == 0 ? blen : alen;
        qloop_buf_printf(msg, "%s 不一致：本方 ", ds == 0 ? f->left : f->right);
        show_value(msg, mine, mlen, sens);
        qloop_buf_append(msg, "，权威方 ", strlen("，权威方 "));
        show_value(msg, theirs, tlen, sens);
    } else {
        qloop_buf_printf(msg, "%s 不一致：%s 为 ", f->left, sl->dataset);
        show_value(msg, a, alen, sens);
        qloop_buf_printf(msg, "，%s 为 ", sr->dataset);
        show_value(msg, b, blen, sens);
    }
    const char *v = ds == 0 ? a : b;
    size_t vlen = ds == 0 ? alen : blen;
    qloop_buf_reset(&e->val);
    if (sens)
        mask_sensitive(v, vlen, &e->val);
    else
        qloop_buf_append(&e->val, v, vlen);
    return put_finding(e, R_MISMATCH + (int)fi, ds, ds == 0 ? l : r, true,
                       ds == 0 ? f->left : f->right, qloop_buf_str(&e->val), e->val.len, vlen > 0,
                       qloop_buf_str(msg));
}

/* Joins one unit: ents[s] (n[s] records of side s, any order), then writes
 * its findings rule by rule in row order. */
static int join_unit(struct emitter *e, struct ent *ents[2], const size_t n[2])
{
    struct cmp *m = e->m;
    struct fpkey *byfp[2];
    size_t nk[2];
    for (int s = 0; s < 2; s++) {
        bool sorted = true;
        for (size_t i = 1; i < n[s] && sorted; i++)
            sorted = ents[s][i - 1].r->row_no < ents[s][i].r->row_no;
        if (!sorted)
            qsort(ents[s], n[s], sizeof **ents, cmp_row);
        byfp[s] = qloop_xmalloc((n[s] + 1) * sizeof **byfp);
        nk[s] = 0;
        for (size_t i = 0; i < n[s]; i++) {
            struct ent *x = &ents[s][i];
            x->partner = NULL;
            x->counted = 0;
            x->count = 1;
            if (x->r->flags & REC_EMPTY_KEY)
                x->status = ST_EMPTY;
            else
                byfp[s][nk[s]++] = (struct fpkey){x->r->fp_hi, x->r->fp_lo, x};
        }
        qsort(byfp[s], nk[s], sizeof **byfp, cmp_fp);
    }
    /* merge groups of equal fingerprints */
    size_t i = 0, j = 0;
    while (i < nk[0] || j < nk[1]) {
        const struct fpkey *key;
        if (i < nk[0] && j < nk[1])
            key = fp_le(&byfp[0][i], &byfp[1][j]) ? &byfp[0][i] : &byfp[1][j];
        else
            key = i < nk[0] ? &byfp[0][i] : &byfp[1][j];
        size_t ei = i, ej = j;
        while (ei < nk[0] && same_fp(&byfp[0][ei], key))
            ei++;
        while (ej < nk[1] && same_fp(&byfp[1][ej], key))
            ej++;
        size_t cl = ei - i, cr = ej - j;
        for (int s = 0; s < 2; s++) {
            size_t from = s == 0 ? i : j, to = s == 0 ? ei : ej, mine = s == 0 ? cl : cr,
                   theirs = s == 0 ? cr : cl;
            for (size_t k = from; k < to; k++) {
                struct ent *x = byfp[s][k].e;
                x->count = (uint32_t)mine;
                x->status = mine > 1 ? ST_DUP : theirs == 0 ? ST_MISSING
                                                : theirs > 1 ? ST_OTHER_DUP
                                                             : ST_PAIRED;
            }
        }
        if (cl == 1 && cr == 1) {
            byfp[0][i].e->partner = byfp[1][j].e;
            byfp[1][j].e->partner = byfp[0][i].e;
        }
        i = ei;
        j = ej;
    }
    free(byfp[0]);
    free(byfp[1]);

    for (int s = 0; s < 2; s++) {
        int rule = s == 0 ? R_MISSING_RIGHT : R_MISSING_LEFT;
        for (size_t k = 0; k < n[s]; k++) {
            struct ent *x = &ents[s][k];
            if (x->status == ST_EMPTY || x->status == ST_DUP)
                continue;
            m->rules[rule].checked++;
            if (x->status == ST_MISSING && report_missing(e, rule, s, x) != 0)
                return -1;
        }
    }
    for (size_t fi = 0; fi < m->nfields; fi++)
        for (size_t k = 0; k < n[0]; k++) {
            struct ent *x = &ents[0][k];
            if (x->status == ST_PAIRED && judge_pair(e, fi, x, x->partner) != 0)
                return -1;
        }
    for (int s = 0; s < 2; s++) {
        int rule = s == 0 ? R_DUP_LEFT : R_DUP_RIGHT;
        for (size_t k = 0; k < n[s]; k++) {
            struct ent *x = &ents[s][k];
            if (x->status == ST_EMPTY)
                continue;
            m->rules[rule].checked++;
            if (x->status == ST_DUP && report_dup(e, rule, s, x) != 0)
                return -1;
        }
    }
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < n[s]; k++)
            if (ents[s][k].status == ST_EMPTY && report_empty(e, s, &ents[s][k]) != 0)
                return -1;
    return 0;
}

/* The number of records in chunk k. */
static size_t chunk_records(const struct chunk *k)
{
    size_t n = 0;
    for (size_t off = 0; off < k->used; n++)
        off += rec_size(((const struct rec *)((const char *)k->data + off))->len);
    return n;
}

/* Joins the compare's in-memory records as one unit. */
static int join_in_memory(struct emitter *e)
{
    struct ent *ents[2];
    size_t n[2];
    for (int s = 0; s < 2; s++) {
        struct side *sd = &e->m->side[s];
        size_t total = 0;
        for (struct chunk *k = sd->head; k; k = k->next)
            total += chunk_records(k);
        ents[s] = qloop_xcalloc(total + 1, sizeof **ents);
        n[s] = 0;
        for (struct chunk *k = sd->head; k; k = k->next)
            for (size_t off = 0; off < k->used;) {
                const struct rec *r = (const struct rec *)((const char *)k->data + off);
                ents[s][n[s]++].r = r;
                off += rec_size(r->len);
            }
    }
    int rc = join_unit(e, ents, n);
    free(ents[0]);
    free(ents[1]);
    return rc;
}

/* Fills e->err for a temporary file that cannot be read back; returns -1. */
static int read_error(struct emitter *e)
{
    return qloop_error_set(e->err, e->c->tmpdir, 0, 0,
                           "读取比对用的临时文件失败（%s）；请检查 TMPDIR 所在磁盘", strerror(errno));
}

/* Reads spill s whole into a new buffer (8-byte aligned by malloc). */
static int load_spill(struct emitter *e, struct spill *s, char **data)
{
    *data = qloop_xmalloc(s->bytes + 8);
    if (!s->f || s->bytes == 0)
        return 0;
    if (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0 ||
        fread(*data, 1, s->bytes, s->f) != s->bytes)
        return read_error(e);
    return 0;
}

static int process_unit(struct emitter *e, struct spill *l, struct spill *r, int level);

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
        if (fflush(sp->f) != 0 || fseek(sp->f, 0, SEEK_SET) != 0) {
            rc = read_error(e);
            break;
        }
        for (uint64_t k = 0; k < sp->recs && rc == 0; k++) {
            struct rec h;
            if (fread(&h, sizeof h, 1, sp->f) != 1) {
                rc = read_error(e);
                break;
            }
            size_t n = rec_size(h.len);
            qloop_buf_reset(&b);
            qloop_buf_reserve(&b, n);
            memcpy(b.ptr, &h, sizeof h);
            if (n > sizeof h && fread(b.ptr + sizeof h, 1, n - sizeof h, sp->f) != n - sizeof h) {
                rc = read_error(e);
                break;
            }
            rc = spill_put(e->c, &sub[s * NPART + part_of(h.fp_hi, level)],
                           (const struct rec *)b.ptr, e->err);
        }
        spill_close(sp);
    }
    qloop_buf_free(&b);
    for (unsigned p = 0; p < NPART && rc == 0; p++)
        rc = process_unit(e, &sub[p], &sub[NPART + p], level);
    for (unsigned p = 0; p < 2 * NPART; p++)
        spill_close(&sub[p]);
    free(sub);
    return rc;
}

/* Joins partition l of the left side with partition r of the right side,
 * loading them when they fit the budget (or cannot be split further) and
 * splitting them on the next fingerprint bits otherwise. Closes l and r. */
static int process_unit(struct emitter *e, struct spill *l, struct spill *r, int level)
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
        rc = join_unit(e, ents, n);
    for (int s = 0; s < 2; s++) {
        free(ents[s]);
        free(data[s]);
        spill_close(src[s]);
    }
    return rc;
}

/* Reports every record of the empty-key stream of side s, in row order. */
static int stream_empty(struct emitter *e, int s)
{
    struct spill *sp = &e->m->side[s].parts[EMPTY_STREAM];
    if (!sp->f)
        return 0;
    if (fflush(sp->f) != 0 || fseek(sp->f, 0, SEEK_SET) != 0)
        return read_error(e);
    struct qloop_buf b = {0};
    int rc = 0;
    for (uint64_t k = 0; k < sp->recs && rc == 0; k++) {
        struct rec h;
        if (fread(&h, sizeof h, 1, sp->f) != 1) {
            rc = read_error(e);
            break;
        }
        size_t n = rec_size(h.len);
        qloop_buf_reset(&b);
        qloop_buf_reserve(&b, n);
        memcpy(b.ptr, &h, sizeof h);
        if (n > sizeof h && fread(b.ptr + sizeof h, 1, n - sizeof h, sp->f) != n - sizeof h) {
            rc = read_error(e);
            break;
        }
        struct ent x = {.r = (const struct rec *)b.ptr, .status = ST_EMPTY};
        rc = report_empty(e, s, &x);
    }
    qloop_buf_free(&b);
    spill_close(sp);
    return rc;
}

/* Writes the compare's rule_results rows and summary objects. */
static int write_results(struct emitter *e, json_t *summary_rules)
{
    struct cmp *m = e->m;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db,
                           "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                           " message, checked, failed, errors, resolve_missing)"
                           " VALUES(?1,?2,?3,?4,'consistency','medium',?5,?6,?7,?8,?9)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_error(e->db, "写入比对规则结果", e->err);
    static const int order[] = {R_MISSING_RIGHT, R_MISSING_LEFT, -1, R_DUP_LEFT, R_DUP_RIGHT,
                                R_EMPTY_LEFT, R_EMPTY_RIGHT};
    int rc = 0;
    for (size_t o = 0; o < sizeof order / sizeof order[0] && rc == 0; o++) {
        size_t from = order[o] >= 0 ? (size_t)order[o] : R_MISMATCH;
        size_t to = order[o] >= 0 ? from + 1 : R_MISMATCH + m->nfields;
        for (size_t k = from; k < to && rc == 0; k++) {
            struct rule_count *r = &m->rules[k];
            const char *ds = m->side[r->side].dataset;
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, e->run_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, ds, -1, SQLITE_STATIC);
            if (r->field)
                sqlite3_bind_text(st, 4, r->field, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 4);
            sqlite3_bind_text(st, 5, r->message, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 6, r->checked);
            sqlite3_bind_int64(st, 7, r->failed);
            sqlite3_bind_int64(st, 8, r->errors);
            sqlite3_bind_int(st, 9, r->resolve_missing);
            if (sqlite3_step(st) != SQLITE_DONE) {
                rc = store_error(e->db, "写入比对规则结果", e->err);
                break;
            }
            if (summary_rules)
                json_array_append_new(summary_rules,
                                      json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", r->id, "dataset",
                                                ds, "checked", (json_int_t)r->checked, "failed",
                                                (json_int_t)r->failed, "errors",
                                                (json_int_t)r->errors));
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Checks the columns, joins (in memory or partition by partition) and
 * writes the results of compare e->m. Returns 0 or -1 with err. */
static int finish_cmp(struct emitter *e, json_t *summary_rules)
{
    struct cmp *m = e->m;
    for (int s = 0; s < 2; s++)
        if (m->side[s].fed && missing_column(m, &m->side[s], e->err) != 0)
            return -1;
    for (size_t r = 0; r < m->nrules; r++)
        m->rules[r].checked = m->rules[r].failed = m->rules[r].errors = 0;
    if (!e->c->spilled) {
        if (join_in_memory(e) != 0)
            return -1;
    } else {
        for (unsigned p = 0; p < NPART; p++)
            if (process_unit(e, &m->side[0].parts[p], &m->side[1].parts[p], 0) != 0)
                return -1;
        if (stream_empty(e, 0) != 0 || stream_empty(e, 1) != 0)
            return -1;
    }
    m->rules[R_EMPTY_LEFT].checked = m->side[0].total;
    m->rules[R_EMPTY_RIGHT].checked = m->side[1].total;
    return write_results(e, summary_rules);
}

int compare_finish(struct compare_run *c, const struct compare_emit_ctx *ctx, json_t *summary_rules,
                   int64_t *failed_records, struct qloop_error *err)
{
    struct emitter e = {.c = c, .db = ctx->db, .run_id = ctx->run_id, .L = c->p->L, .err = err};
    if (sqlite3_prepare_v2(ctx->db,
                           "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key,"
                           " field, value, message) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                           -1, &e.ins, NULL) != SQLITE_OK)
        return store_error(ctx->db, "准备比对结果语句", err);
    int rc = 0;
    for (size_t i = 0; i < c->ncmps && rc == 0; i++) {
        e.m = &c->cmps[i];
        rc = finish_cmp(&e, summary_rules);
        /* the records of a finished compare are no longer needed */
        side_release(&e.m->side[0]);
        side_release(&e.m->side[1]);
    }
    sqlite3_finalize(e.ins);
    if (failed_records)
        *failed_records += e.failed_records;
    qloop_buf_free(&e.key), qloop_buf_free(&e.msg), qloop_buf_free(&e.val);
    qloop_buf_free(&e.na), qloop_buf_free(&e.nb);
    qloop_buf_free(&e.t1), qloop_buf_free(&e.t2);
    return rc;
}
