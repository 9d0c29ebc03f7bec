/*
 * replay.h — the tickets replayed from the audit chain.
 *
 * `qloop audit verify` proves that the chain is whole; this proves that the
 * tickets table is what the chain says. Every ticket's state, deadline and
 * department must be explained by its audited history: its baseline entry
 * (written once when the store was keyed: the ticket as it stood) or its
 * opening entry, then every transition, extension decision and re-check
 * after it. A ticket set to `shared` straight in the store, a deadline moved
 * by SQL, a ticket handed to another department, a ticket inserted or
 * deleted behind qloop's back: each is named.
 */
#ifndef QLOOP_LOOP_REPLAY_H
#define QLOOP_LOOP_REPLAY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Replays the audited ticket entries (ticket.baseline, ticket.open,
 * ticket.transition, ticket.extension) in chain order and compares the
 * result with the tickets table. Call after audit_verify returned 0 (the
 * entries are then genuine). Returns 0 when every ticket is explained; 1
 * with *ticket the first (lowest id) that is not and why (Chinese) saying
 * what differs; -1 with err. *checked (may be NULL) gets the number of
 * tickets compared. */
int ticket_replay(sqlite3 *db, int64_t *ticket, int64_t *checked, char *why, size_t whysize,
                  struct qloop_error *err);

#endif
