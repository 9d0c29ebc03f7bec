/*
 * audit.h — the append-only, keyed, tamper-evident audit chain.
 *
 * Every ticket transition, every catalog change, every calendar load and
 * every run start and end is one entry. Each entry stores a MAC of its own
 * content — keyed BLAKE2b (libsodium crypto_generichash) with the store's
 * audit subkey (store/key.h) — and the MAC of the entry before, so any
 * changed, removed, inserted or reordered entry breaks the chain at a place
 * `qloop audit verify` names, and nobody without the key file can write an
 * entry that verifies: recomputing the later entries after an edit needs the
 * key. A one-row table audit_head keeps the last entry's seq and MAC, itself
 * under a MAC, so entries cut off the end are found too. Triggers refuse
 * UPDATE and DELETE on audit.
 *
 * Stores from before the key (release 0.1 and early 0.2) hold entries
 * hashed with plain SHA-256 (audit_entry_hash). They keep verifying as they
 * were written: meta 'audit_keyed_from' is the first keyed seq K, entries
 * before K are checked with SHA-256, and entry K — written when the store was
 * upgraded, kind "audit.keyed", {"legacy_entries": K-1, "legacy_head": H} —
 * binds the last legacy hash H under the key. A new store has K = 1.
 *
 * What the chain proves, and what it cannot: docs/audit.md. In short:
 * without the key nobody can change, add, remove or reorder an entry, nor
 * cut the tail, without verify naming it; someone holding both the store
 * and the key can rewrite everything, and only an anchor kept outside the
 * store (audit_anchor_*) shows that the chain no longer extends what it was.
 */
#ifndef QLOOP_AUDIT_H
#define QLOOP_AUDIT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Appends one entry inside the caller's transaction (or its own when none is
 * open). kind: "run.start", "run.end", "ticket.transition", "ticket.item",
 * "catalog.add", "calendar.load", ...; subject: what it is about
 * ("ticket:12", "run:<id>", "catalog:population"); actor: who ("system" for
 * runs); detail_json: a JSON object as text (may be NULL → "{}"). The time is
 * qloop_now(). Needs the store's key file: without it (or with another
 * store's) returns -1 with an input error (exit 2) saying so. Returns 0 or
 * -1 with err. */
int audit_append(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                 const char *detail_json, struct qloop_error *err);

/* audit_append for a detail qloop's own code has just written as one JSON
 * object (a batch of item changes: megabytes on a first night), which is not
 * parsed again to be checked. */
int audit_append_built(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                       const char *detail_json, struct qloop_error *err);

/* The legacy hash of an entry written before the chain was keyed: lower-case
 * hex SHA-256 (64 chars + NUL into out) of its canonical encoding — seq as 8
 * bytes big-endian, then at, kind, subject, actor, detail and prev_hash, each
 * as its byte length (8 bytes big-endian) followed by its bytes. Length
 * prefixes make the encoding injective: no two different entries encode the
 * same. */
void audit_entry_hash(int64_t seq, const char *at, const char *kind, const char *subject,
                      const char *actor, const char *detail, const char *prev_hash,
                      char out[65]);

/* The MAC a keyed entry carries: lower-case hex of the 32-byte keyed
 * BLAKE2b (crypto_generichash, key = the audit subkey) of the same canonical
 * encoding. */
void audit_entry_mac(const unsigned char key[32], int64_t seq, const char *at, const char *kind,
                     const char *subject, const char *actor, const char *detail,
                     const char *prev_hash, char out[65]);

/* The canonical encoding of entry seq over explicit lengths (fields read
 * back from a tampered store may hold any bytes, NULs included): f[0..5] =
 * at, kind, subject, actor, detail, prev_hash; hashed with SHA-256 when key
 * is NULL (audit_entry_hash), else MACed with key (audit_entry_mac). */
void audit_encode(const unsigned char *key, int64_t seq, const char *const f[6],
                  const size_t len[6], char out[65]);

/* The MAC audit_head carries for (seq, hash): keyed BLAKE2b, under a key
 * derived from the audit subkey for this use only, of "qloop audit head",
 * seq as 8 bytes big-endian and the 64 hex digits of hash. */
void audit_head_mac(const unsigned char key[32], int64_t seq, const char *hash, char out[65]);

/* Drops the statements and the key audit_append keeps for db; store_close
 * calls it before closing (any other owner of a connection must too). */
void audit_forget(sqlite3 *db);

/* Walks the chain: every entry's hash (SHA-256 before the keyed start, MAC
 * from it), every link, the keyed start entry, and the head and its MAC.
 * Needs the key file (-1 with an input error without it). Returns 0 and sets
 * *count when whole; 1 when broken, with *bad_seq the first bad entry and
 * why (Chinese) in why; -1 on error. */
int audit_verify(sqlite3 *db, int64_t *count, int64_t *bad_seq, char *why, size_t whysize,
                 struct qloop_error *err);

/* The first keyed seq (meta 'audit_keyed_from') in *from; entries before it
 * are legacy SHA-256 ones. 0, or -1 with err (absent: an input error). */
int audit_keyed_from(sqlite3 *db, int64_t *from, struct qloop_error *err);

/* Called once, inside the upgrade's transaction, when a store gets keyed:
 * records the keyed start (the entry after the current head) and, when there
 * are legacy entries, writes the "audit.keyed" entry that binds the last of
 * them; for an empty chain it puts the head under its MAC. Needs the key.
 * Returns 0 or -1 with err. */
int audit_start_keyed(sqlite3 *db, struct qloop_error *err);

/* ---- anchors: the head kept outside the store ---- */

/* The head of the chain as kept outside the store (in the annual report, a
 * mail to the leadership, a timestamping service). */
struct audit_anchor {
    int64_t seq;   /* the last entry, 0 for an empty chain */
    char hash[65]; /* its MAC (64 '0' for an empty chain) */
    char at[32];   /* its time ("" for an empty chain) */
};

/* Reads the current head into a: call after audit_verify returned 0.
 * Returns 0 or -1 with err. */
int audit_anchor_take(sqlite3 *db, struct audit_anchor *a, struct qloop_error *err);

/* Writes a as one line (no newline): "qloop-audit-anchor seq=N hash=H
 * at=T". */
void audit_anchor_format(const struct audit_anchor *a, char *out, size_t size);

/* Finds every anchor line in text (a file that may hold other text around
 * them: a report, a mail). Returns the number found (at most max, into
 * out), or -1 with an input error naming the line when a line that starts
 * "qloop-audit-anchor" is malformed, or when there is none. name: the file's
 * name for messages. */
int audit_anchor_parse(const char *text, size_t len, const char *name, struct audit_anchor *out,
                       size_t max, struct qloop_error *err);

/* Whether the chain still extends a: its entry a->seq exists and carries
 * a->hash (and, when given, a->at). Call after audit_verify returned 0.
 * Returns 0 when it does, 1 when not (why says how), -1 with err. */
int audit_anchor_check(sqlite3 *db, const struct audit_anchor *a, char *why, size_t whysize,
                       struct qloop_error *err);

#endif
