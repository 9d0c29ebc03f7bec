/*
 * strmap.c — string → uint64 hash map (see strmap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "base/buf.h"
#include "base/strmap.h"

struct slot {
    uint64_t hash;   /* 0 = empty (real hashes are forced non-zero) */
    uint64_t value;
    char *key;
    size_t len;
};

enum { CHUNK = 1 << 16 };

struct chunk {
    struct chunk *next;
    size_t used, size;
    char data[];
};

struct strmap {
    struct slot *slots;
    size_t cap, count;
    struct chunk *chunks;
    size_t key_bytes;
};

uint64_t strmap_hash(const char *key, size_t len)
{
    /* FNV-1a 64 followed by a murmur-style finaliser for good low bits. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = qloop_xcalloc(1, sizeof *m);
    m->cap = 64;
    m->slots = qloop_xcalloc(m->cap, sizeof *m->slots);
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m)
        return;
    for (struct chunk *c = m->chunks, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(m->slots);
    free(m);
}

static char *store_key(struct strmap *m, const char *key, size_t len)
{
    struct chunk *c = m->chunks;
    if (!c || c->size - c->used < len + 1) {
        size_t size = len + 1 > CHUNK ? len + 1 : CHUNK;
        c = qloop_xmalloc(sizeof *c + size);
        c->used = 0;
        c->size = size;
        c->next = m->chunks;
        m->chunks = c;
        m->key_bytes += sizeof *c + size;
    }
    char *p = c->data + c->used;
    memcpy(p, key, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

static void grow(struct strmap *m)
{
    size_t cap = m->cap * 2;
    struct slot *slots = qloop_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].hash)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

static struct slot *find(const struct strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t i = h & (m->cap - 1);
    for (;;) {
        struct slot *s = &m->slots[i];
        if (!s->hash || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

uint64_t *strmap_put(struct strmap *m, const char *key, size_t len, int *created)
{
    if ((m->count + 1) * 4 > m->cap * 3)
        grow(m);
    uint64_t h = strmap_hash(key, len);
    struct slot *s = find(m, key, len, h);
    if (s->hash) {
        if (created)
            *created = 0;
        return &s->value;
    }
    s->hash = h;
    s->key = store_key(m, key, len);
    s->len = len;
    s->value = 0;
    m->count++;
    if (created)
        *created = 1;
    return &s->value;
}

uint64_t *strmap_get(const struct strmap *m, const char *key, size_t len)
{
    struct slot *s = find(m, key, len, strmap_hash(key, len));
    return s->hash ? &s->value : NULL;
}

size_t strmap_count(const struct strmap *m) { return m->count; }

int strmap_foreach(const struct strmap *m,
                   int (*fn)(void *ctx, const char *key, size_t len, uint64_t value), void *ctx)
{
    for (size_t i = 0; i < m->cap; i++) {
        const struct slot *s = &m->slots[i];
        if (!s->hash)
            continue;
        int rc = fn(ctx, s->key, s->len, s->value);
        if (rc)
            return rc;
    }
    return 0;
}

size_t strmap_bytes(const struct strmap *m) { return m->cap * sizeof(struct slot) + m->key_bytes; }

/* ---- 128-bit fingerprints ---- */

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

/* A 64-bit hash of s[0..n) parameterised by seed and two odd multipliers;
 * two parameter sets give two independent hashes. */
static uint64_t hash64(const unsigned char *s, size_t n, uint64_t seed, uint64_t m1, uint64_t m2)
{
    uint64_t h = seed ^ ((uint64_t)n * m1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = qloop_rotl64(h ^ mix64(qloop_load_le64(s + i, 8) ^ seed), 29) * m2 + m1;
    uint64_t w = qloop_load_le64(s + i, n - i);
    h = qloop_rotl64(h ^ mix64(w ^ seed ^ ((uint64_t)(n & 7) << 56)), 29) * m2 + m1;
    return mix64(h ^ (h >> 32));
}

void strmap_fingerprint(const char *s, size_t n, uint64_t *hi, uint64_t *lo)
{
    const unsigned char *u = (const unsigned char *)s;
    *hi = hash64(u, n, UINT64_C(0x243f6a8885a308d3), UINT64_C(0x9e3779b97f4a7c15),
                 UINT64_C(0xc2b2ae3d27d4eb4f));
    *lo = hash64(u, n, UINT64_C(0x13198a2e03707344), UINT64_C(0xff51afd7ed558ccd),
                 UINT64_C(0xc4ceb9fe1a85ec53));
}
