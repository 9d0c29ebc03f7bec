/*
 * strmap.h — a compact hash map from byte strings to 64-bit values.
 *
 * Open addressing with linear probing over (hash, offset) slots; key bytes
 * are copied into chunked storage owned by the map, so callers may pass
 * slices of short-lived buffers. Used for `unique`, `references`, `one_of`,
 * and sets of record refs. Not thread-safe.
 */
#ifndef QLOOP_STRMAP_H
#define QLOOP_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);

/* Returns the value slot for key, inserting it (value 0) when absent; sets
 * *created to 1 when inserted, 0 when it was there. */
uint64_t *strmap_put(struct strmap *m, const char *key, size_t len, int *created);

/* Returns the value slot for key, or NULL when absent. */
uint64_t *strmap_get(const struct strmap *m, const char *key, size_t len);

size_t strmap_count(const struct strmap *m);

/* Calls fn for every entry, in no particular order; stops and returns fn's
 * value when it is not 0. */
int strmap_foreach(const struct strmap *m,
                   int (*fn)(void *ctx, const char *key, size_t len, uint64_t value), void *ctx);

/* Bytes held (slots and key storage), for memory accounting. */
size_t strmap_bytes(const struct strmap *m);

/* The hash function used, exposed for fingerprints elsewhere. */
uint64_t strmap_hash(const char *key, size_t len);

/* A 128-bit fingerprint of s[0..n): two independent 64-bit hashes, words
 * read little-endian so that every machine computes the same. Compares match
 * keys by it, and a record without a key is identified by the fingerprint
 * of its content (run/identity.c) — identities stored in tickets, so its
 * definition must never change. */
void strmap_fingerprint(const char *s, size_t n, uint64_t *hi, uint64_t *lo);

#endif
