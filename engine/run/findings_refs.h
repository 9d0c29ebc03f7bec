/*
 * findings_refs.h (run) — the findings' keys by record (finding_refs,
 * schema step 14), written in their key order by the findings writer.
 *
 * finding_refs (run, kind, record_ref, id) is a WITHOUT ROWID table: fed in
 * the order the findings are stored (record_ref is a hash), each entry
 * would go to a random leaf of the B-tree. So while findings_flush inserts a
 * spool's findings into finding_rows, it hands each finding's kind and
 * record_ref here (findings_refs_add) and then the ids SQLite gave them
 * (findings_refs_stored, after each INSERT); findings_refs_write sorts the
 * entries in memory (findings_refs_sort) by (kind, record_ref, id) — the
 * table's key after the run, which is the same for all — and inserts them
 * 64 rows to a statement, so the B-tree is appended to in order. An entry is 24 bytes
 * (the ref as two numbers, the kind, the finding's place in the flush); the
 * refs are the 32 lower-case hex digits findings_record_ref writes.
 *
 * When the entries cannot be held — their memory would pass the budget, an
 * allocation fails, a kind's number or a ref does not fit an entry — the
 * flush's keys are copied by SQL instead (INSERT ... SELECT from the
 * flush's finding_rows, ORDER BY the key: SQLite's own sorter, which spills
 * to temporary files): the same rows, slower.
 *
 * In a run the keys of its one sorted write are also kept, with a digest of
 * each finding's evidence, for the ticket phase (findings_refs_keep,
 * findings_refs_take_kept): it merges the open items with them instead of
 * reading finding_refs back, or, on a first night, takes them as they are
 * (findings_refs_give_kept) to make the items from.
 */
#ifndef QLOOP_RUN_FINDINGS_REFS_H
#define QLOOP_RUN_FINDINGS_REFS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "loop/ticket.h"

struct findings_refs;

/* One finding's key: its record_ref as two big-endian numbers (they order
 * as the hex texts do: qloop_unhex128), its store kind, and its place
 * among the flush's findings (its id is the flush's first id plus it):
 * the tickets' struct ticket_key (loop/ticket.h), so that the run's kept
 * keys can be given to its ticket phase as they are
 * (findings_refs_give_kept). */
#define findings_ref_entry ticket_key

/* Sorts v[0..n) by (kind, ref, at), the order of finding_refs' key: by
 * kind (a counting sort), then each kind by the top bits of ref[0] (a
 * counting sort into about one entry a value, the refs being hashes), then
 * each run of entries alike in those bits by insertion sort (qsort for a
 * crowded one). The same order as qsort by that key, in a few passes over
 * the entries instead of ~21 compares each at 2M findings; needs n more
 * entries of memory for a while (as glibc's qsort does), and is qsort
 * itself when that is not to be had or the kinds span 65,536 numbers or
 * more. */
void findings_refs_sort(struct findings_ref_entry *v, size_t n);

/* The budget of a new collector: at most this many bytes of entries
 * (24 a finding: ~2.8 million findings) before it leaves the sorting to
 * SQLite. */
enum { FINDINGS_REFS_BUDGET = 64 << 20 };

struct findings_refs *findings_refs_new(void);
void findings_refs_free(struct findings_refs *r);

/* At most `bytes` of entries from now on (0: SQLite sorts every flush). */
void findings_refs_budget(struct findings_refs *r, size_t bytes);

/* A flush of about `expected` findings begins: nothing collected, no id
 * known; room for the entries made at once (more than the budget holds:
 * SQLite sorts this flush). */
void findings_refs_begin(struct findings_refs *r, size_t expected);

/* The next finding the flush stores: its store kind, its record_ref
 * (32 bytes, no NUL needed) and the digest of its evidence
 * (ticket_evidence_digest, loop/ticket.h; kept for findings_refs_take_kept). Never fails: what cannot be kept switches the
 * flush to SQLite's sort. */
void findings_refs_add(struct findings_refs *r, int64_t kind, const char ref[32],
                       uint64_t digest);

/* The last statement on db inserted the next n findings into finding_rows
 * (in the order added): their ids end at sqlite3_last_insert_rowid and
 * follow those stored before without a gap, as SQLite numbers rows of an
 * INTEGER PRIMARY KEY it is not given (max + 1). 0, or -1 (internal error)
 * when they do not. */
int findings_refs_stored(struct findings_refs *r, sqlite3 *db, size_t n, struct qloop_error *err);

/* Sorts the entries added so far (findings_refs_sort), so that
 * findings_refs_write need not: on the thread that adds them. */
void findings_refs_sort_entries(struct findings_refs *r);

/* From now on until findings_refs_aside_done, the entries are added (and
 * sorted) by another thread than the one storing the rows (findings_keys.h):
 * findings_refs_stored checks the ids only, not against the findings
 * added. The two threads touch no member in common: the adder the entries
 * and their count, the storer the ids. The sort's room is made here, by the
 * caller, so that the other thread allocates nothing (a new thread's malloc
 * arena keeps what it took). */
void findings_refs_aside(struct findings_refs *r);

/* The other thread is done (joined). `whole`: it added every finding of
 * the flush, in order (findings_refs_write checks the count against the
 * rows stored); else its entries go and the flush's keys are copied by SQL
 * from the rows stored. */
void findings_refs_aside_done(struct findings_refs *r, bool whole);

/* Inserts the flush's entries into finding_refs under run `run`, sorted, or
 * by SQL (see above); the collector is emptied either way. 0 or -1. */
int findings_refs_write(struct findings_refs *r, sqlite3 *db, int64_t run,
                        struct qloop_error *err);

/* From now on the keys written are kept for the run's ticket phase
 * (findings_refs_take_kept) instead of dropped: those of the one
 * findings_refs_write that has keys, sorted, with their digests — 32 bytes
 * a finding, so within 4/3 of the budget. A write whose keys went by SQL,
 * or a second write with keys, drops what was kept: the run's keys are
 * then read back from the store. */
void findings_refs_keep(struct findings_refs *r);

/* Hands each kept key to each, in finding_refs' order (kind, record_ref,
 * id) — the store kind, the ref as two big-endian numbers, the finding's id
 * and its evidence digest — then drops them and stops keeping (each NULL:
 * only that, 1 returned). Returns 1
 * (nothing called) when the keys were not kept whole (findings_refs_keep
 * not called, or a write lost them), else 0 or what each returned first
 * when not 0 (the rest not handed). */
int findings_refs_take_kept(struct findings_refs *r,
                            int (*each)(void *ctx, int64_t kind, const uint64_t ref[2], int64_t id,
                                        uint64_t digest),
                            void *ctx);

/* As findings_refs_take_kept, the kept keys given away instead (*out:
 * the sorted entries, their digests by at, their count and the first id;
 * freed by the taker) and keeping stopped: 0 (*out empty when nothing was
 * written with keys), or 1 (*out empty) when the keys were not kept
 * whole. */
int findings_refs_give_kept(struct findings_refs *r, struct ticket_keys *out);

#endif
