/*
 * openrefs.c — a sorted set of 16-byte record refs with a seen bit each (see
 * openrefs.h).
 *
 * openrefs_seal places the refs by their leading `bits` bits (a counting
 * sort: refs are SHA-256 output, evenly spread), sorts each small bucket,
 * and drops duplicates; start[b] .. start[b + 1] is then bucket b's range in
 * the array, so a lookup is one index read and a short scan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "run/openrefs.h"

/* A ref's 16 bytes as two numbers, big-endian, so that they order as the
 * bytes do and a comparison is mostly one of hi. */
typedef struct { uint64_t hi, lo; } ref16;

struct openrefs {
    ref16 *refs;
    size_t n, cap;
    unsigned bits;    /* index bits (0 before openrefs_seal) */
    size_t *start;    /* 2^bits + 1 offsets into refs */
    uint8_t *seen;    /* one bit per ref */
};

struct openrefs *openrefs_new(void)
{
    return qloop_xcalloc(1, sizeof(struct openrefs));
}

void openrefs_free(struct openrefs *s)
{
    if (!s)
        return;
    free(s->refs);
    free(s->start);
    free(s->seen);
    free(s);
}

/* The 16 bytes of the 32 hex digits at hex (what follows them not looked
 * at); false when one is not a lower-case digit or the text is shorter. */
static bool parse(const char *hex, ref16 *out)
{
    uint64_t w[2];
    if (!qloop_unhex128_prefix(hex, w))
        return false;
    out->hi = w[0];
    out->lo = w[1];
    return true;
}

bool openrefs_add(struct openrefs *s, const char *ref)
{
    ref16 r;
    if (!ref || strnlen(ref, 33) != 32 || !parse(ref, &r))
        return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->refs = qloop_xrealloc(s->refs, s->cap * sizeof *s->refs);
    }
    s->refs[s->n++] = r;
    return true;
}

static size_t bucket(const ref16 *r, unsigned bits)
{
    return bits ? (size_t)(r->hi >> (64 - bits)) : 0;
}

/* -1, 0 or 1 as a orders before, with or after b. */
static int order(const ref16 *a, const ref16 *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int cmp_ref(const void *a, const void *b)
{
    return order(a, b);
}

void openrefs_seal(struct openrefs *s)
{
    unsigned bits = 0;
    while (bits < 24 && ((size_t)1 << (bits + 2)) < s->n)
        bits++; /* about four refs a bucket */
    size_t nb = (size_t)1 << bits;
    free(s->start);
    s->start = qloop_xcalloc(nb + 1, sizeof *s->start);
    s->bits = bits;
    /* counting sort by bucket */
    for (size_t i = 0; i < s->n; i++)
        s->start[bucket(&s->refs[i], bits) + 1]++;
    for (size_t b = 0; b < nb; b++)
        s->start[b + 1] += s->start[b];
    ref16 *sorted = qloop_xmalloc((s->n + 1) * sizeof *sorted);
    size_t *fill = qloop_xmalloc((nb + 1) * sizeof *fill);
    memcpy(fill, s->start, nb * sizeof *fill);
    for (size_t i = 0; i < s->n; i++)
        sorted[fill[bucket(&s->refs[i], bits)]++] = s->refs[i];
    free(fill);
    free(s->refs);
    /* each bucket sorted, duplicates dropped, offsets moved down */
    size_t out = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t lo = s->start[b], hi = s->start[b + 1];
        if (hi - lo > 1)
            qsort(sorted + lo, hi - lo, sizeof *sorted, cmp_ref);
        s->start[b] = out;
        for (size_t i = lo; i < hi; i++)
            if (i == lo || order(&sorted[i], &sorted[i - 1]) != 0)
                sorted[out++] = sorted[i];
    }
    s->start[nb] = out;
    s->n = s->cap = out;
    s->refs = qloop_xrealloc(sorted, (out + 1) * sizeof *sorted);
    free(s->seen);
    s->seen = qloop_xcalloc(out / 8 + 1, 1);
}

size_t openrefs_count(const struct openrefs *s)
{
    return s ? s->n : 0;
}

/* The position of r in the sealed set, or -1. */
static long find(const struct openrefs *s, const ref16 *r)
{
    if (!s->start)
        return -1;
    size_t b = bucket(r, s->bits);
    for (size_t i = s->start[b]; i < s->start[b + 1]; i++) {
        int c = order(&s->refs[i], r);
        if (c == 0)
            return (long)i;
        if (c > 0)
            break;
    }
    return -1;
}

long openrefs_find128(const struct openrefs *s, const uint64_t ref[2])
{
    if (!s)
        return -1;
    ref16 r = {ref[0], ref[1]};
    return find(s, &r);
}

void openrefs_prefetch128(const struct openrefs *s, const uint64_t ref[2], int stage)
{
    if (!s || !s->start)
        return;
    ref16 r = {ref[0], 0};
    size_t b = bucket(&r, s->bits);
#if defined(__GNUC__)
    if (stage == 0)
        __builtin_prefetch(&s->start[b]);
    else if (s->start[b] < s->n)
        __builtin_prefetch(&s->refs[s->start[b]]);
#else
    (void)b;
    (void)stage;
#endif
}

void openrefs_see_at(struct openrefs *s, size_t pos)
{
    if (s && pos < s->n)
        s->seen[pos / 8] |= (uint8_t)(1u << (pos % 8));
}

bool openrefs_see(struct openrefs *s, const char *ref)
{
    ref16 r;
    if (!s || !parse(ref, &r))
        return false;
    long i = find(s, &r);
    if (i < 0)
        return false;
    s->seen[i / 8] |= (uint8_t)(1u << (i % 8));
    return true;
}

bool openrefs_has(const struct openrefs *s, const char *ref)
{
    ref16 r;
    return s && parse(ref, &r) && find(s, &r) >= 0;
}

bool openrefs_seen(const struct openrefs *s, const char *ref)
{
    ref16 r;
    if (!s || !ref || strnlen(ref, 33) != 32 || !parse(ref, &r))
        return false;
    long i = find(s, &r);
    return i >= 0 && (s->seen[i / 8] >> (i % 8) & 1);
}

size_t openrefs_bytes(const struct openrefs *s)
{
    if (!s)
        return 0;
    return s->cap * sizeof *s->refs + (s->start ? (((size_t)1 << s->bits) + 1) * sizeof *s->start : 0) +
           (s->seen ? s->n / 8 + 1 : 0);
}
