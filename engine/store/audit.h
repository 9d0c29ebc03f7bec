/*
 * audit.h — the append-only, tamper-evident audit chain.
 *
 * Every ticket transition, every catalog change and every run start and end
 * is one entry. Each entry stores the SHA-256 of its own content and the hash
 * of the entry before, so any changed, removed or reordered entry breaks the
 * chain at a place `qloop audit verify` names. A one-row table audit_head
 * keeps the last entry's seq and hash, so that entries cut off the end are
 * detected too. Triggers refuse UPDATE and DELETE on audit.
 *
 * Limit: the chain has no anchor outside the store file. Someone with write
 * access who rewrites every entry after the one they change (recomputing
 * each hash, which needs no secret) and audit_head as well leaves a chain
 * that verifies. What the chain guarantees is that any edit short of that —
 * a changed, removed, inserted or reordered entry, a forged hash — is found.
 */
#ifndef QLOOP_AUDIT_H
#define QLOOP_AUDIT_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/error.h"

/* Appends one entry inside the caller's transaction (or its own when none is
 * open). kind: "run.start", "run.end", "ticket.transition", "ticket.item",
 * "catalog.add", "catalog.change", "catalog.remove", ...; subject: what it is
 * about ("ticket:12", "run:<id>", "catalog:population"); actor: who ("system"
 * for runs); detail_json: a JSON object as text (may be NULL → "{}"). The time
 * is qloop_now(). Returns 0 or -1 with err. */
int audit_append(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                 const char *detail_json, struct qloop_error *err);

/* The hash an entry must carry: lower-case hex SHA-256 (64 chars + NUL into
 * out) of its canonical encoding — seq as 8 bytes big-endian, then at, kind,
 * subject, actor, detail and prev_hash, each as its byte length (8 bytes
 * big-endian) followed by its bytes. Length prefixes make the encoding
 * injective: no two different entries encode the same. */
void audit_entry_hash(int64_t seq, const char *at, const char *kind, const char *subject,
                      const char *actor, const char *detail, const char *prev_hash,
                      char out[65]);

/* Drops the statements audit_append keeps prepared for db; store_close calls
 * it before closing (any other owner of a connection must too). */
void audit_forget(sqlite3 *db);

/* Walks the chain. Returns 0 and sets *count when whole; 1 when broken, with
 * *bad_seq the first bad entry and why (Chinese) in why; -1 on SQL error. */
int audit_verify(sqlite3 *db, int64_t *count, int64_t *bad_seq, char *why, size_t whysize,
                 struct qloop_error *err);

#endif
