/*
 * outbox.h — notifications waiting for a mail or messaging gateway.
 *
 * Each event someone must act on (a ticket handed to its provider, a new
 * ticket waiting to be handed over, records added to a ticket, a failed
 * re-check, a deadline one working day away, a deadline passed, an extension
 * requested or decided, a ticket closed) is written once to the outbox table
 * under a unique event key; `qloop outbox export --jsonl` prints the events
 * not yet exported, one JSON object a line, and marks them exported in the
 * same transaction, so nothing is sent twice.
 */
#ifndef QLOOP_OUTBOX_H
#define QLOOP_OUTBOX_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "rules/policy.h"

struct outbox_event {
    const char *key;       /* unique event key, e.g. "overdue:12:2024-10-11T23:59:59+08:00" */
    const char *kind;      /* "ticket.feedback", "ticket.reminder", "ticket.overdue", ... */
    int64_t ticket_id;     /* 0: none */
    const char *recipient; /* who must act: a department, an approver */
    const char *message;   /* Chinese text for the recipient */
    int64_t at;            /* when it happened */
};

/* Writes ev unless an event with its key exists. Sets *added (may be NULL)
 * to 1 when written, 0 when it was there already. Inside the caller's
 * transaction. Returns 0 or -1 with err. */
int outbox_add(sqlite3 *db, const struct outbox_event *ev, int *added, struct qloop_error *err);

/* Adds the due reminders (deadline within the reminder period of the
 * policy each ticket keeps for life; policy serves tickets from before
 * policies were stored) and overdue notices of tickets in feedback, judged
 * at now; each once per ticket and deadline. Inside the caller's
 * transaction. */
int outbox_scan(sqlite3 *db, const struct qloop_policy *policy, int64_t now,
                struct qloop_error *err);

/* Appends every event not yet exported to out as JSON lines (id, key, kind,
 * created_at, ticket, dataset, rule, dept, state, deadline, recipient,
 * message) and marks them exported at now, inside the caller's transaction:
 * commit only after out has been delivered. A notice no longer true at now
 * (a reminder or overdue notice whose ticket was answered or whose deadline
 * moved, a reminder whose deadline passed, a new ticket's call for a
 * hand-over that happened) is marked superseded instead, never sent.
 * *count gets the number. */
int outbox_export(sqlite3 *db, struct qloop_buf *out, long *count, int64_t now,
                  struct qloop_error *err);

#endif
