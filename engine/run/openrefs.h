/*
 * openrefs.h — the record refs of one dataset's open ticket items, and which
 * of them a run saw.
 *
 * A record ref is 32 lower-case hex digits (16 bytes of a keyed SHA-256,
 * store_record_ref_keyed). The re-check of a run needs, per dataset, the set
 * of its open items' refs and one bit per ref: seen in this run's data. The
 * set keeps each ref as its 16 bytes in one sorted array with a radix index
 * over the leading bits (refs are uniformly spread), so a lookup touches one
 * or two cache lines, and memory is about 18 bytes per open item — instead of
 * two hash maps of hex text (about 230 bytes per item). Not thread-safe.
 */
#ifndef QLOOP_RUN_OPENREFS_H
#define QLOOP_RUN_OPENREFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct openrefs;

struct openrefs *openrefs_new(void);
void openrefs_free(struct openrefs *s);

/* Adds ref (before openrefs_seal). A text that is not 32 lower-case hex
 * digits can never equal a ref the run computes: it is left out, and false
 * is returned. */
bool openrefs_add(struct openrefs *s, const char *ref);

/* Sorts the refs, drops duplicates and builds the index; after it, only
 * openrefs_see / openrefs_seen / openrefs_count. Calling it again after more
 * openrefs_add calls is allowed (the seen bits are cleared). */
void openrefs_seal(struct openrefs *s);

/* The number of distinct refs (after openrefs_seal). */
size_t openrefs_count(const struct openrefs *s);

/* Marks ref seen when it is in the set; returns whether it is. ref is the
 * first 32 bytes of a ref (no terminator needed). */
bool openrefs_see(struct openrefs *s, const char *ref);

/* Whether the first 32 bytes of ref are a ref in the set. Reads only what
 * openrefs_seal built: threads may ask while one thread marks refs seen. */
bool openrefs_has(const struct openrefs *s, const char *ref);

/* The position of the ref whose 16 bytes are ref (qloop_unhex128: two
 * big-endian numbers) in the sealed set, or -1. Reads only what
 * openrefs_seal built, like openrefs_has. */
long openrefs_find128(const struct openrefs *s, const uint64_t ref[2]);

/* Asks the processor to fetch what openrefs_find128(s, ref) will read:
 * stage 0 the index entry, stage 1 (once stage 0's has arrived) the first
 * refs of its bucket. A hint only; reads like openrefs_has. */
void openrefs_prefetch128(const struct openrefs *s, const uint64_t ref[2], int stage);

/* Marks the ref at position pos (from openrefs_find128) seen. */
void openrefs_see_at(struct openrefs *s, size_t pos);

/* Whether ref (NUL-terminated) is in the set and was marked seen. */
bool openrefs_seen(const struct openrefs *s, const char *ref);

/* Bytes held, for memory accounting. */
size_t openrefs_bytes(const struct openrefs *s);

#endif
