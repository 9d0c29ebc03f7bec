/*
 * ticket.h — the closed loop 发现-反馈-修正-共享: tickets, their items, their
 * state machine, statutory deadlines and the re-check after each run.
 *
 * States (CONTRACT.md): discovered, feedback, corrected, shared, confirmed,
 * negotiated. Every transition is written to ticket_history and to the audit
 * chain (audit.h) in the same transaction, with actor, time, reason and the
 * deadline before and after.
 *
 * A ticket groups the problem records (items) of one dataset and one rule
 * from one source (a run, 系统填报 by hand, or 接口对接 import); while it is
 * open, the same dataset + rule + record never opens a second item, and the
 * same dataset + rule + source never opens a second ticket (partial UNIQUE
 * indexes). Times are stored as "YYYY-MM-DDTHH:MM:SS+08:00" text, which sorts
 * in time order.
 *
 * The action functions (ticket_feedback ... ticket_file) work inside the
 * caller's transaction and return 0 when done, -1 when refused or given bad
 * input (err says why and, for a refused transition, what the current state
 * allows; exit 2) and -2 when the store failed or on an internal error. For
 * -2, err's kind tells them apart (store_error): a store the user can fix
 * (read-only, full disk, busy, not a database) is an input error with what
 * to do (exit 2), any other failure internal (exit 3); the CLI exits with
 * qloop_error_exit(err). The caller rolls its transaction back after -1/-2.
 * A -1 says why in err->refusal (error.h): QLOOP_REFUSED_ABSENT (no such
 * ticket), _DENIED (the actor may not), _STATE (not from the ticket's state,
 * or no extension pending / one already pending), _INPUT (anything else:
 * a bad answer, a date past the cap, an unknown dataset).
 *
 * The code: ticket_state.c (states, transitions), ticket_items.c (opening a
 * ticket, adding records), ticket_actions.c, ticket_file.c, ticket_sync.c
 * (what a run does), ticket_query.c (JSON); ticket_private.h joins them.
 */
#ifndef QLOOP_TICKET_H
#define QLOOP_TICKET_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "identity/authz.h"
#include "rules/policy.h"

struct ticket_sync_counts {
    long opened;     /* tickets opened by this run */
    long updated;    /* existing tickets that gained or lost items */
    long reverified; /* tickets whose items were re-checked by this run */
};

/* Calls cb(ctx, record_ref) for every open item (open or missing: not yet
 * fixed) of a ticket on dataset — a record with open items under several
 * rules comes once for each, in no particular order; the run uses it to note
 * which of those records it saw (the re-check). Returns 0 or -1 with err. */
int ticket_open_refs(sqlite3 *db, const char *dataset,
                     void (*cb)(void *ctx, const char *record_ref), void *ctx,
                     struct qloop_error *err);

/* ticket_open_refs with each item's record key as the item shows it (masked
 * where it was found sensitive; NULL when none): a partitioned merge tells
 * from it which rows may be open items' records. Returns 0 or -1 with err. */
int ticket_open_keys(sqlite3 *db, const char *dataset,
                     void (*cb)(void *ctx, const char *record_ref, const char *record_key),
                     void *ctx, struct qloop_error *err);

/* Turns run run_id's findings into tickets and re-checks open ones, inside
 * the caller's transaction. Reads: runs (as_of: the time tickets are received
 * and re-checked), findings, rule_results (which rules judged which dataset
 * in this run, and resolve_missing), run_datasets (owner), run_seen. Also
 * writes the due reminders and overdue notices to the outbox and the run's
 * dept_stats rows. policy_path is a policy Lua file (NULL: the default,
 * ningbo): the policy of the tickets the run opens; a reopened ticket keeps
 * its own. A corrected ticket whose remaining records are only missing from
 * the data is not sent back: it waits for `tickets verify`. Returns 0 or -1
 * with err (the caller rolls the run back). */
int ticket_sync_run(sqlite3 *db, const char *run_id, const char *policy_path,
                    struct ticket_sync_counts *counts, struct qloop_error *err);

/* ticket_sync_run with a policy already loaded. */
int ticket_sync_run_policy(sqlite3 *db, const char *run_id, const struct qloop_policy *policy,
                           struct ticket_sync_counts *counts, struct qloop_error *err);

/* One of the run's finding keys handed to the tickets: its store kind
 * (finding_kinds.id), record_ref as two big-endian numbers (qloop_unhex128),
 * the finding's id, and the digest of its evidence (ticket_evidence_digest).
 * Returns 0 to go on, else that value ends the hand-over. */
typedef int (*ticket_key_fn)(void *ctx, int64_t kind, const uint64_t ref[2], int64_t id,
                             uint64_t digest);

/* One of the run's finding keys as its findings writer sorted them
 * (run/findings_refs.h's entries are of this type): record_ref as two
 * big-endian numbers, the store kind, and the finding's place among the
 * findings of the write that kept them. */
struct ticket_key {
    uint64_t ref[2];
    uint32_t kind;
    uint32_t at;
};

/* The run's finding keys given to the tickets: n keys sorted by (kind,
 * ref, at); the finding of v[i] has id first + v[i].at and evidence digest
 * digest[v[i].at] (ticket_evidence_digest). v and digest are malloc'd and
 * the taker's to free. */
struct ticket_keys {
    struct ticket_key *v;
    uint64_t *digest;
    size_t n;
    int64_t first;
};

/* Whether the run saw the record record_ref of dataset in its data: the
 * run's own answer, instead of the run_seen table. keys (may be NULL): hands
 * every key of the run's findings to each, in finding_refs' order (kind,
 * record_ref, id), once — the run kept them when it wrote them, so the
 * tickets need not read them back; returns 1 without calling each when it
 * has not kept them all (the tickets read finding_refs) or each is NULL
 * (the tickets do not need them: they are dropped), else 0 or what each
 * returned. */
struct ticket_seen {
    bool (*seen)(void *ctx, const char *dataset, const char *record_ref);
    void *ctx;
    int (*keys)(void *ctx, ticket_key_fn each, void *each_ctx);
    /* give (may be NULL): the same keys, once, given away instead of
     * handed one by one (*out: 0 with them, or with none when the run had
     * no finding), so a first night holds them without a copy; 1 (*out
     * empty) when the run has not kept them all. A first night takes its
     * keys only so (without give it reads finding_refs); keys serve the
     * nightly refresh. */
    int (*give)(void *ctx, struct ticket_keys *out);
};

/* One column of a finding's or an item's evidence as stored: type is
 * SQLITE_INTEGER (i), SQLITE_TEXT or SQLITE_BLOB (p, len bytes) or
 * SQLITE_NULL. */
struct ticket_cell {
    int type;
    int64_t i;
    const void *p;
    size_t len;
};

/* The evidence an item holds from its finding, in this order: row_no,
 * record_key, value, message, sealed. */
enum { TICKET_EVIDENCE = 5 };

/* Keys ticket_evidence_digest for the store of secret (store_secret(db)):
 * a key derived from it (crypto_kdf, a context of its own), the same in
 * every process over that store. Call it before any digest of the store's
 * evidence, on the thread that then lets others digest; the same secret
 * again changes nothing. */
void ticket_evidence_digest_key(const unsigned char secret[32]);

/* A 64-bit digest of the evidence c[0..TICKET_EVIDENCE) (types, lengths and
 * bytes), under the key of ticket_evidence_digest_key (before it is called:
 * a fixed key, for tests that digest without a store): equal evidence,
 * equal digests; different evidence, different digests but with odds of
 * 2^-64. With finding = true it is a finding's: 0 when its record_key or
 * message is NULL (the item keeps its own there, so the digests cannot
 * tell; the store compares) or where the `ticket_items` view shows NULL
 * for what the finding holds (a '' record_key or message, an empty sealed
 * copy), never 0 otherwise — and then the digest an item naming the
 * finding keeps (TK_DIGEST_SQL: a first night's items take it as made). */
uint64_t ticket_evidence_digest(const struct ticket_cell c[TICKET_EVIDENCE], bool finding);

/* ticket_evidence_digest of the evidence in st's current row, row_no ..
 * sealed being its columns col .. col + TICKET_EVIDENCE - 1 (as stored). */
uint64_t ticket_evidence_digest_row(sqlite3_stmt *st, int col, bool finding);

/* ticket_sync_run asking seen (may be NULL: the run_seen table) which
 * records of open tickets the run saw. */
int ticket_sync_run_seen(sqlite3 *db, const char *run_id, const char *policy_path,
                         const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                         struct qloop_error *err);

/* The Chinese name of a state (发现, 反馈, 修正, 共享, 确认无误, 沟通解决);
 * the input itself when it is not a state. */
const char *ticket_state_zh(const char *state);

/* Whether s is one of the six states. */
bool ticket_state_valid(const char *s);

/* The state id s names, in English (feedback) or in Chinese (反馈); NULL
 * when it names none. */
const char *ticket_state_parse(const char *s);

/* The policy argument of the actions below (feedback, extend, approve,
 * reject) is the command's: a ticket is held to the policy it was opened
 * under, stored with it (CONTRACT.md), whatever policy names; policy serves
 * only a ticket opened before the store kept policies whose policy has its
 * name (NULL: the default). */

/* 发现 → 反馈 (or 沟通解决 → 反馈, handed back): received_at = now, deadline
 * from the ticket's policy; urgent with deadline (ISO 8601; a bare date
 * means the end of that day) sets the ticket's own deadline. */
int ticket_feedback(sqlite3 *db, int64_t id, const char *actor, bool urgent, const char *deadline,
                    const struct qloop_policy *policy, struct qloop_error *err);

/* The provider's answer: as = "rectified" (→ corrected), "confirmed" or
 * "negotiated"; note is optional. */
int ticket_resolve(sqlite3 *db, int64_t id, const char *as, const char *actor, const char *note,
                   struct qloop_error *err);

/* The provider asks to extend the deadline to the end of day until
 * (YYYY-MM-DD). Refused beyond the cap of the ticket's policy, with the
 * latest date allowed in err. The request waits for ticket_approve /
 * ticket_reject. */
int ticket_extend(sqlite3 *db, int64_t id, const char *until, const char *reason,
                  const char *actor, const struct qloop_policy *policy, struct qloop_error *err);

/* The authority decides on the pending extension request. */
int ticket_approve(sqlite3 *db, int64_t id, const char *actor, const struct qloop_policy *policy,
                   struct qloop_error *err);
int ticket_reject(sqlite3 *db, int64_t id, const char *actor, const char *reason,
                  const struct qloop_policy *policy, struct qloop_error *err);

/* A re-check by a person, for a `corrected` ticket no run re-checks (a
 * report filed by hand): passed → shared (its open items fixed); failed →
 * feedback with received_at and deadline unchanged (reason required). */
int ticket_verify(sqlite3 *db, int64_t id, const char *actor, bool passed, const char *reason,
                  struct qloop_error *err);

/* One problem report (系统填报 or 接口对接). dataset, key, message and actor
 * are required; dataset must be known to the store (a run's or the
 * catalog's) and have an owner, which is the ticket's department: dept may
 * be NULL or name that owner, nothing else. rule defaults to "manual";
 * field and value are optional. */
struct ticket_report {
    const char *dataset;
    const char *key;
    const char *field;
    const char *value;
    const char *message;
    const char *actor;
    const char *dept;
    const char *rule;
};

/* Files a report from source "file" or "import": adds an item to the open
 * ticket of (dataset, rule, source) or opens one under policy, in discovered
 * for the steward to hand over (straight to the provider when the policy
 * says hand_filed = "feedback"). An unknown dataset, one without an owner,
 * or a dept other than the owner is refused (-1). When the record already
 * has an open item for that dataset and rule, nothing changes and
 * *duplicate is set. *ticket_id gets the ticket (may be NULL). */
int ticket_file(sqlite3 *db, const struct ticket_report *r, const char *source,
                const struct qloop_policy *policy, int64_t *ticket_id, bool *duplicate,
                struct qloop_error *err);

struct ticket_filter {
    const char *state; /* NULL: any */
    const char *dept;  /* NULL: any */
    bool overdue;      /* only tickets past their deadline */
    const char *actor; /* NULL: every ticket (the operator's console); else only
                          the tickets actor may see (identity/authz.h) */
};

/* The tickets matching f as a JSON array of objects (CONTRACT.md: id,
 * dataset, rule, dept, state, items, opened_at, received_at, deadline,
 * overdue, and more), overdue judged at qloop_now(). Returns 0 with *out (a
 * new reference), -1 when f->actor is not a user of the store (err says
 * why), or -2 with err. */
int ticket_list_json(sqlite3 *db, const struct ticket_filter *f, json_t **out,
                     struct qloop_error *err);

/* One ticket as the list's object plus records and history. Returns 0, -1
 * when there is no such ticket, -2 on a store error. */
int ticket_show_json(sqlite3 *db, int64_t id, json_t **out, struct qloop_error *err);

/* Whether a showing reveals the records (their raw key and value, kept
 * sealed with the store's key file: identity/seal.h). */
enum ticket_reveal {
    TICKET_MASKED,           /* as stored: masked */
    TICKET_REVEAL,           /* unmasked, or refused (exit 2) when actor may not
                                or the key file is missing or foreign */
    TICKET_REVEAL_IF_ALLOWED /* unmasked when actor may and the key file is
                                there, masked otherwise (the portal's default) */
};

/* ticket_show_json for actor (NULL: the operator's console, which may not
 * reveal). -1, with the reason in err, when actor may not see the ticket —
 * the same answer as for a ticket that does not exist, for the portal's
 * 404 (QLOOP_REFUSED_ABSENT) — or, with TICKET_REVEAL, may not see its
 * records unmasked (QLOOP_REFUSED_DENIED). A
 * showing that reveals records is audited (ticket.reveal: who, which
 * ticket, how many records — never the values) in the same transaction,
 * and the object gets "revealed": the number of records shown unmasked
 * (each of them "revealed": true). -2 on a store or internal error (a
 * sealed record that does not open). */
int ticket_show_json_as(sqlite3 *db, int64_t id, const char *actor, enum ticket_reveal reveal,
                        json_t **out, struct qloop_error *err);

/* The records of ticket id as actor may see them (the show's "records"
 * array): unmasked when actor is the owner department's provider or an
 * admin and the key file is there (audited), masked otherwise. For the
 * portal. Returns as ticket_show_json_as. */
int ticket_records_json(sqlite3 *db, int64_t id, const char *actor, json_t **out,
                        struct qloop_error *err);

/* Whether actor may do action on ticket id, asking the one authorisation
 * function (identity/authz.h) with the ticket's facts, as the action itself
 * would: 1 yes; 0 no, with the reason in err (QLOOP_REFUSED_DENIED, or
 * _INPUT when actor is not a user); -1 when there is no such ticket
 * (QLOOP_REFUSED_ABSENT); -2 on a store error. For pages that offer only
 * the actions their user may take. p: the ticket's policy (NULL: found by
 * the name the ticket keeps). */
int ticket_allowed(sqlite3 *db, int64_t id, const char *actor, enum ident_action action,
                   const struct qloop_policy *p, struct qloop_error *err);

/* Records per department, for the run run_id at time at: tickets whose
 * closing no run has counted yet, closed on time or late, and open tickets
 * past their deadline (the scorecards read dept_stats). Called by
 * ticket_sync_run; exposed for tests. */
int ticket_record_dept_stats(sqlite3 *db, const char *run_id, int64_t at,
                             struct qloop_error *err);

#endif
