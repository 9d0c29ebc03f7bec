/*
 * ticket_private.h — what the files of the closed loop share and nobody
 * else sees: one ticket in memory, the transition about to be made, the
 * batched audit of item changes, and the steps every path that opens a
 * ticket or adds a record goes through.
 *
 *   ticket_state.c    states, the transition table, applying a transition
 *                     (ticket row, history, audit, items, outbox)
 *   ticket_items.c    opening a ticket, adding a record, handing a new
 *                     ticket over (shared by filing and by runs)
 *   ticket_actions.c  what staff and providers do (feedback ... verify)
 *   ticket_file.c     reports filed by hand or imported
 *   ticket_policy.c   the policy each ticket keeps for life
 *   ticket_sync.c     what a run does to the tickets
 *   ticket_new_findings.c  its new findings made items, reopening tickets
 *   ticket_refresh.c  its refresh of the open items failing again
 *   ticket_named.c    the evidence of the items naming their findings, for it
 *   ticket_digest.c   the digest of an item's or a finding's evidence, for it
 *   ticket_query.c    tickets as JSON (list, show)
 *   ticket_access.c   the facts of a ticket for the authorisation function
 *
 * Return codes inside the loop follow ticket.h: 0 done, -1 refused or bad
 * input, -2 the store failed (err filled by store_error(), which tells a
 * store the user can fix from an internal failure) or an internal error.
 */
#ifndef QLOOP_TICKET_PRIVATE_H
#define QLOOP_TICKET_PRIVATE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "checks/mask.h"
#include "identity/authz.h"
#include "rules/policy.h"
#include "store/sql.h"

#define TK_NO_DEPT "未指定部门"
#define TK_STAFF "数据治理人员"

/* The last key of the items' keys by record (the index of schema steps 12,
 * 16, 18; since step 19 ticket_item_refs.open_key, which its triggers
 * compute so): 0 for an open or missing item of alias i, its id otherwise.
 * "open_key = 0" is "i.state IN ('open','missing')" (ids start at 1). */
#define TK_ITEM_OPEN_KEY "(CASE WHEN i.state IN ('open','missing') THEN 0 ELSE i.id END)"

/* An item's integer columns (store step 18), as SQL expressions of text
 * parameters or columns d, r, at (string literals): TK_KIND_OF the
 * item_kinds id of (dataset d, rule r), TK_RUN_OF the finding_runs id of
 * run id r (NULL for NULL), TK_ADDED_AT what an item added at at by run r
 * keeps (NULL when at is that run's as_of, which the `ticket_items` view
 * shows then). Each is a subquery of its parameters only, evaluated once
 * per statement. */
#define TK_KIND_OF(d, r) "(SELECT id FROM item_kinds WHERE dataset = " d " AND rule = " r ")"
#define TK_RUN_OF(r) "(SELECT id FROM finding_runs WHERE run_id = " r ")"
/* The integer keys of a batch of new items (ticket_kinds.c): the item
 * kind of (dataset, rule), the finding_runs id of run_id (0: none, then
 * NULL), whether at is that run's as_of (the item stores added_at NULL).
 * 0, or -2 with err (a kind missing is 0 and refused by the INSERT's NOT
 * NULL). */
struct tk_item_keys {
    int64_t kind, run;
    bool at_is_run;
};
int tk_item_keys(sqlite3 *db, const char *dataset, const char *rule, const char *run_id,
                 const char *at, struct tk_item_keys *k, struct qloop_error *err);

/* The item kinds of dataset d (TK_KINDS_OF), and column col of item kind
 * k (TK_KIND_COL: dataset or rule), as subqueries. */
#define TK_KINDS_OF(d) "(SELECT id FROM item_kinds WHERE dataset = " d ")"
#define TK_KIND_COL(col, k) "(SELECT " col " FROM item_kinds WHERE id = " k ")"
#define TK_ADDED_AT(at, r)                                                                      \
    "(CASE WHEN " at " IS (SELECT as_of FROM runs WHERE id = " r ") THEN NULL ELSE " at " END)"

/* Items (alias i) found by their tickets (alias t): a FROM clause for the
 * items of a dataset, or of a dataset and rule, "WHERE t.dataset = ... AND
 * i.dataset = ..." (and the same for rule). The index of items by record
 * begins with record_ref (store step 16), so it no longer finds a
 * dataset's items; the tickets are few (a table scan), each one's items
 * are found through ticket_items_ticket (ticket_id, state), and an item is
 * always of its ticket's dataset and rule (tk_add_item's and the bulk
 * INSERT's callers pass the ticket's). CROSS JOIN keeps the tickets
 * outside. */
#define TK_ITEMS_OF_TICKETS "tickets t CROSS JOIN ticket_item_rows i ON i.ticket_id = t.id"

/* An item's evidence (store step 17): item i's own column when it names no
 * finding, else finding f's (f: finding_rows joined on f.id = i.finding),
 * its key and message with '' read as NULL and its sealed copy with an
 * empty one read as NULL — what the first night's INSERT stored when it
 * copied them, and exactly the `ticket_items` view's columns. i and f are
 * aliases as string literals: TK_EV_KEY("i", "f"). */
#define TK_EV_KEY(i, f)                                                                         \
    "(CASE WHEN " i ".finding IS NULL THEN " i ".record_key WHEN " f ".record_key <> ''"        \
    " THEN " f ".record_key END)"
#define TK_EV_VALUE(i, f) "(CASE WHEN " i ".finding IS NULL THEN " i ".value ELSE " f ".value END)"
#define TK_EV_MESSAGE(i, f)                                                                     \
    "(CASE WHEN " i ".finding IS NULL THEN " i ".message WHEN " f ".message <> ''"              \
    " THEN " f ".message END)"
#define TK_EV_ROW_NO(i, f)                                                                      \
    "(CASE WHEN " i ".finding IS NULL THEN " i ".row_no ELSE " f ".row_no END)"
#define TK_EV_SEALED(i, f)                                                                      \
    "(CASE WHEN " i ".finding IS NULL THEN " i ".sealed WHEN length(" f ".sealed) > 0"          \
    " THEN " f ".sealed END)"

/* One ticket's items judged in a run (open or missing, their rule judged
 * their dataset in it) and how many of those are open and failing again
 * (TK_FAILING_AGAIN). */
struct tk_judged {
    int64_t ticket;
    long judged, failing;
};

/* The tickets with judged items, in ticket order (v malloc'd); known:
 * whether they were counted. */
struct tk_judged_set {
    struct tk_judged *v;
    size_t n;
    bool known;
};

/* One open item of the refresh (ticket_refresh.c): its record_ref as
 * numbers, the id of the run's first finding of its record (0: none yet;
 * while the items are read, the finding it names: tk_named_digests), its
 * (dataset, rule) group, its ticket's slot among the judged ones with the
 * refresh's flags, and its place in the order read. */
struct tk_open_item {
    uint64_t ref[2];
    int64_t finding;
    uint64_t digest; /* of the item's evidence (ticket_evidence_digest) */
    uint32_t group, slot, pos;
};

/* Column col of st's current row as a ticket_cell (ticket_digest.c). */
struct ticket_cell tk_cell_at(sqlite3_stmt *st, int col);

/* The SQL function (ticket_named.c) giving the digest an item naming a
 * finding keeps (ticket_item_rows.digest): TK_DIGEST_SQL(f.row_no,
 * f.record_key, f.value, f.message, f.sealed) is ticket_evidence_digest of
 * that evidence as the `ticket_items` view shows it (TK_EV_*), as a signed
 * integer. */
#define TK_DIGEST_SQL "qloop_item_digest"

/* Keys ticket_evidence_digest with db's store secret and registers
 * TK_DIGEST_SQL on db, once per connection (deterministic, not callable
 * from the schema: triggers and views never use it). Before any statement
 * that uses it. 0, or -2 with err. */
int tk_digest_sql(sqlite3 *db, struct qloop_error *err);

/* ticket_named.c. Gives each of the loaded items[0..n) whose finding is
 * positive — the id of the finding it names, kept there while the items
 * are read, for an item without a kept digest (ticket_item_rows.digest
 * NULL: named before the digest was kept) — the digest of its evidence as the `ticket_items` view shows
 * it, and sets its finding back to 0. The findings are read in id order by
 * one cursor, which seeks where the next named id is far on, so each page
 * of finding_rows is read once: joined item by item (items in id order, a
 * rule's findings interleaved with the others' across the table) each
 * rule's pass read the table's pages again (W1 10M night 2: the scan 1.55
 * s -> 2.33 s). 0 or -2. */
int tk_named_digests(sqlite3 *db, struct tk_open_item *items, size_t n, struct qloop_error *err);

/* The temporary table (item INTEGER PRIMARY KEY, finding) of the open
 * items tk_refresh_failing found failing again in a run, each with the
 * run's first finding of its record: every one, changed or not. It is the
 * connection's, made by tk_refreshed_clear, and holds the last refresh's
 * items until the next tk_refreshed_clear (a failed run's transaction
 * rolls it back with the rest). */
#define TK_REFRESHED "temp.qloop_refresh"

/* Whether the open or missing item of alias i is failing again in run ?1
 * after the refresh: open, and found by the refresh (TK_REFRESHED), or
 * written by the run already (an earlier sync of the same run: last_run is
 * only written with the evidence, never set by a refresh that changes
 * nothing). */
#define TK_FAILING_AGAIN                                                                        \
    "(i.state = 'open' AND (i.last_run = " TK_RUN_OF("?1") " OR i.id IN (SELECT item FROM "   \
    TK_REFRESHED ")))"

/* Makes TK_REFRESHED when the connection has none, and empties it. 0 or
 * -2. */
int tk_refreshed_clear(sqlite3 *db, struct qloop_error *err);

/* Refreshes each open item that run_id found failing again from the run's
 * first finding of its record: when the finding's row, key (unless NULL),
 * value, message (unless NULL) or sealed copy differ from the item's, they
 * are written with last_run = run_id; an item equal to its finding is left
 * alone, its row not written (ticket_refresh.c). Every item found failing
 * again, changed or not, is left in TK_REFRESHED (emptied first) — unless
 * judged is known and every ticket's judged items all fail again (no
 * judged item is left for the re-check to read), when only those written
 * or compared by the store are. seen (may be NULL): its keys, when the run
 * kept them, are the run's finding keys and their evidence digests
 * (ticket.h), else they are read from finding_refs. *all_found: true when
 * every finding of the run is of an open item (the run has no new
 * findings); false when not, or not known. judged (may be NULL): the run's
 * judged items per ticket, counted after the refresh as they read it
 * stands, when the refresh could count them while it read the items
 * (known); not known otherwise. 0 or -2. */
struct ticket_seen;
int tk_refresh_failing(sqlite3 *db, const char *run_id, const struct ticket_seen *seen,
                       bool *all_found, struct tk_judged_set *judged, struct qloop_error *err);

/* The page cache (KiB) while tk_refresh_failing reads the open items and
 * merges them with the run's keys, set back after: the items' array (~56
 * bytes an item) and the run's kept keys live at once there, beside a full
 * cache that a scan of the items does not need (W1 10M night 2: 1.8M
 * items; that step was the run's peak, 300-330 MiB with the run's 64 MiB
 * cache; bench/README.md, "The steady night's peak at 10M"). A variable
 * for the tests. */
#define TK_REFRESH_CACHE_KIB 8192
extern int tk_refresh_cache_kib;

/* A growing set of ticket ids (small: one entry per ticket touched), as
 * the sync gathers the tickets a run updated (ticket_sync.c). */
struct tk_idset {
    int64_t *v;
    size_t n, cap;
};
bool tk_idset_has(const struct tk_idset *s, int64_t id);
void tk_idset_add(struct tk_idset *s, int64_t id);

/* Turns run run_id's findings without an open item into items of the open
 * ticket of their dataset and rule, or of a reopened or new one
 * (ticket_new_findings.c), at time at under policy p; the tickets that
 * gained items go into *updated, the opened ones into counts. seen: the
 * run's keys as its findings writer kept them, or NULL. 0 or -2. */
struct ticket_sync_counts;
int tk_add_findings(sqlite3 *db, const char *run_id, int64_t at, const struct qloop_policy *p,
                    const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                    struct tk_idset *updated, struct qloop_error *err);

/* ---- states and transitions (ticket_state.c) ---- */

/* One legal move. how: the command a person uses for it, NULL when only a
 * run's re-check makes it. */
struct tk_transition {
    const char *from, *to, *event, *how;
};

/* The entry for (from, to, event); by_user: only those a person may make. */
const struct tk_transition *tk_find_transition(const char *from, const char *to,
                                               const char *event, bool by_user);

/* Whether state is a closed one (shared, confirmed). */
bool tk_is_closed(const char *state);

/* ---- one ticket in memory ---- */

/* The columns a transition or an action needs; "" where the column is NULL. */
struct tk {
    int64_t id;
    char dataset[512], rule[512], source[16], dept[512], state[16];
    char opened_by[256], policy[64];
    int64_t policy_id; /* the policy kept with the ticket (ticket_policy.c); 0: only its name */
    bool urgent;
    char received_at[32], deadline[32], base_deadline[32];
    char ext_until[32], ext_reason[1024], ext_actor[256];
};

/* Loads ticket id. Returns 0, -1 when there is none (err says so), -2 on a
 * store error. */
int tk_load(sqlite3 *db, int64_t id, struct tk *t, struct qloop_error *err);

/* tk_load for a ticket the caller knows exists (it just found or made it):
 * its absence is an internal error. Returns 0 or -2. */
int tk_load_known(sqlite3 *db, int64_t id, struct tk *t, struct qloop_error *err);

/* The number of open items (open or missing) of ticket id in *n. 0 or -2. */
int tk_open_items(sqlite3 *db, int64_t id, long *n, struct qloop_error *err);

/* Fills err with a refusal of action on t naming what its state allows;
 * returns -1. */
int tk_refuse(const struct tk *t, const char *action, struct qloop_error *err);

/* ---- making a transition ---- */

/* A transition about to be made. */
struct tk_change {
    const char *to, *event, *actor, *reason, *run_id;
    int64_t at;
    const char *received_at; /* new received_at, NULL: unchanged */
    const char *deadline;    /* new deadline (also the new base deadline), NULL: unchanged */
    bool urgent;             /* with deadline: the ticket's own */
    /* The ticket's open and missing items, when the caller knows them (a
     * ticket just opened with the items it was given): the hand-over
     * message names their count without counting the ticket's index
     * entries. open_known false: counted (tk_open_items). */
    bool open_known;
    long open_items;
};

/* Makes the transition c on t: checks the table, updates the ticket (times,
 * pending extension, closing its items), writes history and audit, and the
 * outbox event someone must act on. by_user: refuse run-only moves. p may be
 * NULL (the basis named in a hand-over message is then generic). Returns 0,
 * -1 when the table refuses it, -2. */
int tk_apply(sqlite3 *db, struct tk *t, const struct tk_change *c, bool by_user,
             const struct qloop_policy *p, struct qloop_error *err);

/* Inserts a history row (from NULL: the ticket was opened) and its audit
 * entry; *hid (may be NULL) gets the row id. "" deadlines are stored as
 * NULL. Returns 0 or -2. */
int tk_history(sqlite3 *db, const struct tk *t, const char *event, const char *from,
               const char *to, const char *actor, const char *reason, int64_t at,
               const char *deadline_before, const char *deadline_after, const char *run_id,
               int64_t *hid, struct qloop_error *err);

/* Writes an outbox event about ticket t. Returns 0 or -2. */
int tk_notify(sqlite3 *db, const struct tk *t, const char *kind, const char *key,
              const char *recipient, const char *message, int64_t at, struct qloop_error *err);

/* ---- the audit of item changes ---- */

/* Item changes made by one sweep (a run adding records, a re-check, a
 * ticket closing its records) are audited one entry per ticket, change, run
 * and actor, listing every item: {"ticket", "change", "run", "count",
 * "items": [[item id, record_ref], ...], "reopened_from"}. The chain still
 * covers each record's change, without an entry (and a hash, a statement
 * round trip) per record: a first night adds hundreds of thousands. */
struct tk_batch {
    int64_t ticket, reopened_from;
    char change[24], run[96], actor[256];
    struct qloop_buf items; /* room for the entry's head (tk_batch_flush), then the
                               pending entry's "[id,ref]" pairs, comma-separated */
    int64_t count;          /* how many; 0: no entry pending */
};

/* Audits one change of an item (change = added | reopened | fixed |
 * fixed_missing | missing | reappeared | closed): into batch b, flushing it
 * first when the item belongs to another entry; straight to the chain when
 * b is NULL. Returns 0 or -2. */
int tk_audit_item(sqlite3 *db, struct tk_batch *b, int64_t ticket, int64_t item,
                  const char *record_ref, const char *change, const char *actor,
                  const char *run_id, int64_t reopened_from, struct qloop_error *err);

/* Writes the pending entry of b, if any. Returns 0 or -2. */
int tk_batch_flush(sqlite3 *db, struct tk_batch *b, struct qloop_error *err);

/* Drops a batch's pending entry (after an error: its sweep is rolled back;
 * after a flush: nothing is left) and frees its buffer: every batch ends
 * here. */
void tk_batch_drop(struct tk_batch *b);

/* A JSON string of s with invalid UTF-8 bytes replaced by U+FFFD; JSON null
 * for NULL. tk_jtime: the same, but "" is null too (unset times). */
json_t *tk_jstr(const char *s);
json_t *tk_jtime(const char *s);

/* ---- opening tickets and adding records (ticket_items.c) ---- */

/* The open ticket of (dataset, rule, source): *id, or 0 when none. 0 or -2. */
int tk_find_open(sqlite3 *db, const char *dataset, const char *rule, const char *source,
                 int64_t *id, struct qloop_error *err);

/* Opens a ticket in state discovered, with its history and audit; *id gets
 * it. run_id: the run that found the problem, NULL for a report. 0 or -2. */
int tk_open(sqlite3 *db, const char *dataset, const char *rule, const char *source,
            const char *dept, const char *message, const char *actor, const char *run_id,
            int64_t at, const struct qloop_policy *p, int64_t *id, struct qloop_error *err);

/* The latest item ever of (dataset, rule, record_ref): its ticket, the
 * ticket's state, the item's state and value (malloc'd; the caller frees). */
struct tk_prior {
    bool found;
    int64_t ticket;
    char ticket_state[16], item_state[16];
    char *value;
};

/* Looks the prior item up, with the statement kept in *cache (may be NULL:
 * prepared for this call). 0 or -2. */
int tk_find_prior(sqlite3 *db, const char *dataset, const char *rule, const char *ref,
                  struct tk_prior *pr, struct sql_cached *cache, struct qloop_error *err);

/* One problem record to add to a ticket; "" text is stored as NULL. */
struct tk_item {
    const char *record_ref, *record_key, *field, *value, *message, *reporter;
    int64_t row_no;     /* < 0: unknown */
    const void *sealed; /* the raw key and value masking hid (identity/seal.h), or NULL */
    size_t sealed_len;
};

/* Adds item it to ticket tid and audits it (into batch, may be NULL);
 * reopened_from: the closed ticket the record was in before (0: none).
 * *item_id (may be NULL) gets the item. cache: as for tk_find_prior. */
int tk_add_item(sqlite3 *db, int64_t tid, const char *dataset, const char *rule,
                const struct tk_item *it, int64_t at, const char *run_id, int64_t reopened_from,
                const char *actor, int64_t *item_id, struct sql_cached *cache,
                struct tk_batch *batch, struct qloop_error *err);

/* The findings a run adds to one ticket, gathered and then inserted by one
 * statement per chunk (tk_adds_flush) instead of one INSERT per record: a
 * first night adds hundreds of thousands. Each finding is named by its id
 * in finding_rows (the `findings` view's id); its item names the finding
 * (store step 17) and takes its dataset, rule, record_ref and field as
 * tk_add_item would store them ("" field as NULL). */
struct tk_adds {
    struct qloop_buf ids;      /* each finding's id, an int64_t each, in order */
    struct qloop_buf digests;  /* each item's evidence digest, a uint64_t each (0: unknown) */
    struct qloop_buf refs;     /* each finding's record_ref, NUL-terminated, in order */
    struct qloop_buf fields;   /* each finding's field, NUL-terminated ("": none), in order */
    struct qloop_buf reopened; /* each finding's reopened_from (0: none), an int64_t each */
    size_t n;
    bool unknown; /* some finding pushed without its field or digest: the
                     INSERT reads the findings' rows and kinds */
    struct tk_items_held *held; /* the items' entries held (tk_items_note), or NULL */
};

/* The name of the table-valued function (ticket_ids.c) whose rows are the
 * elements of a struct tk_ids bound to its one argument by tk_ids_bind, in
 * array order: finding (the id), reopened (reopened_from, NULL for 0),
 * digest (the item's evidence digest as a signed integer, NULL for 0:
 * not known), record_ref (a text; NULL when the list has no refs) and
 * field (a text, NULL for "" or when the list has no fields). */
#define TK_IDS_SQL "qloop_item_ids"

/* n findings with their reopened_from (0: none) and the evidence digest
 * their items keep (0: not known; digest may be NULL: none known), as
 * tk_ids_bind gives them to TK_IDS_SQL; the arrays stay valid while the
 * statement runs. refs and fields (each may be NULL: not given) are n
 * NUL-terminated texts one after another, in array order; the rows are
 * read once each, in order (a cursor steps through the texts). */
struct tk_ids {
    const int64_t *finding, *reopened;
    const uint64_t *digest;
    const char *refs, *fields;
    size_t n;
};

/* Registers TK_IDS_SQL on db, once per connection (a second call does
 * nothing; not usable from the schema: SQLITE_VTAB_DIRECTONLY). Before any
 * statement that uses it. 0, or -2 with err. */
int tk_ids_sql(sqlite3 *db, struct qloop_error *err);

/* Binds list (kept by the caller until the statement is reset) to
 * parameter param of st, the argument of TK_IDS_SQL. An SQLite code. */
int tk_ids_bind(sqlite3_stmt *st, int param, const struct tk_ids *list);

/* The run's keys as its findings writer kept them, for a first night's
 * items (tk_fresh_findings): sorted by store kind, and in each kind by
 * record_ref (two big-endian numbers, which order as the hex texts do) and
 * id, with the evidence digest the run made of each finding
 * (ticket_evidence_digest as a finding's: 0 where it cannot stand for what
 * the `ticket_items` view shows, else exactly TK_DIGEST_SQL of the
 * finding). Given away by the run (ticket_seen.give: its own sorted
 * arrays, 32 bytes a finding, no copy). v[i]'s finding has id first +
 * v[i].at and digest digest[v[i].at]. */
struct tk_kept {
    struct ticket_key *v;
    uint64_t *digest;
    int64_t first;
    size_t n;
    int64_t *kind; /* the kinds, ascending, nkinds of them */
    size_t *from;  /* kind[k]'s keys: v[from[k] .. from[k + 1]) (from[nkinds] = n) */
    size_t nkinds, kinds_cap;
    bool whole; /* every key of the run, in order (else none is held) */
};

/* Takes the run's keys given away by seen (nothing when seen or its give
 * is NULL: a ticket_seen that only hands its keys, ticket_seen.keys, is
 * for the nightly refresh) into *k: every one when the run kept them all
 * and they are in order, else none (k->whole false; the keys given freed). */
void tk_kept_take(const struct ticket_seen *seen, struct tk_kept *k);

/* Frees k's keys and empties it. */
void tk_kept_free(struct tk_kept *k);

/* Appends finding finding_id, with its record_ref (its row's), its kind's
 * field ("" for none, as for NULL; NULL: not known), the closed ticket its
 * record was in before (0: none) and the digest of its evidence as its
 * item keeps it (TK_DIGEST_SQL of the finding; 0: not known, the INSERT
 * makes it), to a. */
void tk_adds_push(struct tk_adds *a, int64_t finding_id, const char *record_ref,
                  const char *field, int64_t reopened_from, uint64_t digest);

/* Inserts a's findings as open items of ticket tid (of dataset and rule,
 * the findings' kinds'), in the order pushed, added at `at` by run_id
 * (added_run = last_run), and audits each into batch ("added", or
 * "reopened" with its reopened_from), as tk_add_item does one by one; a is
 * emptied. When every finding was pushed with its field and digest the
 * items are made from what was pushed alone, else from the findings' rows
 * and kinds (the same bytes either way). The items' ids and records come
 * from the insert itself (the ids consecutive after the highest stored),
 * not read back. ins: the statements, kept across calls (two). 0 or -2 (a
 * finding pushed that did not become exactly one item, or ids not
 * consecutive, is an internal error). */
int tk_adds_flush(sqlite3 *db, struct tk_adds *a, int64_t tid, const char *dataset,
                  const char *rule, int64_t at, const char *run_id, struct sql_cached ins[2],
                  struct tk_batch *batch, struct qloop_error *err);

/* Frees a's buffers. */
void tk_adds_free(struct tk_adds *a);

/* A finding of a run none of whose datasets and rules has an item yet
 * (ticket_fresh.c): its id in finding_rows, its kind's dataset and rule
 * and its record_ref (valid during the call only). */
struct tk_fresh {
    int64_t id;
    const char *dataset, *rule, *ref;
    const char *field; /* its kind's ("" for none) */
    uint64_t digest;   /* the digest its item keeps, as the run made it (0: not known) */
    bool distinct; /* no other finding handed over for this dataset and rule
                      has this record_ref (else the caller must tell) */
};

/* One finding of the group tk_fresh_findings is reading: its id, where
 * its record_ref starts in the group's text buffer (or, read from kept
 * keys, its key's place among them), and which of the group's kinds it is
 * of (0 for the first read). */
struct fresh_row {
    int64_t id;
    size_t ref;
    size_t kind;
};

/* Sorts v[0..n) by id (ascending; the ids distinct), through scratch (room
 * for n rows). */
void tk_fresh_sort_by_id(struct fresh_row *v, struct fresh_row *scratch, size_t n);

/* Hands each finding of run run_id to each(ctx, f), by dataset and rule
 * (BINARY order) and in id order within each: the order in which a run
 * adds items. The findings' ids, refs and digests come from kept when it
 * holds the run's keys whole and a share for each of the run's kinds,
 * else from finding_refs (no digest known; kept may be NULL). Stops at
 * the first nonzero return of each(). 0 or -2 (err set, by each() when it
 * failed). */
int tk_fresh_findings(sqlite3 *db, const char *run_id, const struct tk_kept *kept,
                      int (*each)(void *ctx, const struct tk_fresh *f), void *ctx,
                      struct qloop_error *err);

/* A first night's items held out of ticket_item_refs while they are
 * inserted (ticket_item_refs.c; store step 19): the insert trigger is
 * dropped, so items with ids past after get no entry until
 * tk_items_release writes them and makes it again (trigger_sql). kept (set
 * by the caller after tk_items_hold; may be NULL): the run's keys, held
 * until the release; item_at[at]: the item (its id less after; 0: none)
 * of the finding with id kept->first + at, noted by tk_items_note. */
struct tk_items_held {
    int64_t after; /* -1: not holding */
    char *trigger_sql;
    const struct tk_kept *kept;
    uint32_t *item_at;
    size_t noted;
    bool lost; /* an item noted that the kept keys cannot place */
};

/* Holds the entries of the items inserted from now on (ids past today's
 * max(id)) out of ticket_item_refs, into *h: drops the insert trigger.
 * Only inside a transaction (else an internal error): until
 * tk_items_release those items are not checked for duplicates nor found by
 * record, none may be updated or deleted, and a failure in between must
 * roll the run back (which makes the trigger again). 0 or -2. */
int tk_items_hold(sqlite3 *db, struct tk_items_held *h, struct qloop_error *err);

/* Notes that the finding finding_id became item item_id (while h holds). */
void tk_items_note(struct tk_items_held *h, int64_t finding_id, int64_t item_id);

/* Writes the held items' entries in ticket_item_refs' key order — from the
 * kept keys when every held item was noted, else sorted by SQLite — and
 * ends the hold; nothing when h does not hold. Two open items of one
 * record fail it as their INSERT would have (SQLITE_CONSTRAINT through
 * store_error). Frees what h allocated. 0 or -2. */
int tk_items_release(sqlite3 *db, struct tk_items_held *h, struct qloop_error *err);

/* Frees what h allocated (a hold not released ends with the transaction,
 * which must roll back). */
void tk_items_held_free(struct tk_items_held *h);

/* The most held items whose keys tk_items_release, when it lets SQLite
 * sort them, sorts under the run's page cache; past it the keys are sorted
 * in runs of 2 MiB (ticket_item_refs.c). A variable for the tests. */
#define TK_ITEMS_SORT_IN_CACHE 500000
extern int64_t tk_items_sort_in_cache;

/* The most fresh findings one dataset + rule of a run may have for its
 * items to go into the index of items by record as they are inserted
 * (tk_items_in_bulk); a variable so that tests can lower it. With the
 * index keyed by record_ref first (store step 16) its sort is cheap and
 * an item inserted in place lands anywhere in the whole index, not in its
 * rule's part: the rebuild costs fewer instructions already at W1 1M
 * (rules of 20,000: ticket phase 3.35 G against 3.64 G) and about the
 * same at 100k (rules of 2,000: 309 M against 320 M), where keeping the
 * index spares the sort's memory. */
#define TK_ITEMS_GROUP_IN_PLACE 10000
extern int64_t tk_items_group_in_place;

/* Whether the findings of fresh run run_id (no item of their datasets and
 * rules yet) are worth inserting without the index of items by record,
 * built again in bulk after them (*bulk): when they are more than half
 * the items already stored, measured by the highest item id (ids only
 * grow), and one dataset + rule among them has more than
 * tk_items_group_in_place (as its rule's count of failing records in
 * rule_results says); only inside a transaction. Their keys go to random
 * places of the whole index (record_ref first, store step 16): a few
 * pages read at random for each while the index fits in the cache, one
 * page each once it does not; a rebuild sorts every item, the old ones
 * too. With step 12's order (a dataset + rule's keys together, its part
 * filled alone), 1.8M items stored, a new rule's items with the index in
 * place / rebuilt: 450k 6.6 / 9.2 s, 900k 14.4 / 11.7 s, 1.8M 33.6 / 14.0
 * s; none stored, one rule's 180k: 1.12 / 1.03 s, 1.8M: 15.4 / 9.0 s
 * (bench/README.md, branch itembulk). W1 1M night 1 (nine rules of
 * 20,000 items each), step 16's order: ticket phase 3.64 G instructions
 * with the index in place, 3.35 G rebuilt (branch tix). The findings are
 * counted only up to the first bound. 0 or -2. */
int tk_items_in_bulk(sqlite3 *db, const char *run_id, bool *bulk, struct qloop_error *err);

/* How a ticket came to get its new items. */
enum tk_added_to {
    TK_TO_OPEN,     /* a ticket that was open already */
    TK_TO_NEW,      /* a ticket just opened */
    TK_TO_REOPENED, /* a closed ticket a run has just reopened */
};

/* After `added` items were added to ticket tid: a new ticket goes to
 * feedback when hand_over (the policy's auto_feedback for a run,
 * hand_filed for a report) or waits in discovered, announced to staff; a
 * reopened ticket tells its provider (or staff, when it waits in
 * discovered) its new deadline; a ticket already with its provider is told
 * about the new records, once per tag (the run's id, or the filed item).
 * p: the ticket's own policy. 0 or -2. */
int tk_after_adding(sqlite3 *db, int64_t tid, enum tk_added_to to, bool hand_over, long added,
                    const char *run_id, int64_t at, const struct qloop_policy *p, const char *tag,
                    struct qloop_error *err);

/* The owner of dataset: in run_id when given, else in its latest run or,
 * when that names none, in the catalog (TK_NO_DEPT when none); *known:
 * whether the run (any run, or the catalog, when run_id is NULL) has the
 * dataset. */
int tk_dataset_owner(sqlite3 *db, const char *dataset, const char *run_id, char *out,
                     size_t size, bool *known, struct qloop_error *err);

/* ---- personal data in what people write (ticket_privacy.c) ---- */

/* What the store knows of a dataset's personal data: its declared sensitive
 * fields and key fields (from its latest run's rule pack and the catalog).
 * known: false when neither declares anything (everything is then treated
 * as sensitive). */
struct tk_privacy {
    bool known;
    char **sensitive, **keys;
    size_t nsensitive, nkeys;
};

/* Fills pv for dataset (tk_privacy_free frees it). 0 or -2. */
int tk_dataset_privacy(sqlite3 *db, const char *dataset, struct tk_privacy *pv,
                       struct qloop_error *err);
void tk_privacy_free(struct tk_privacy *pv);

/* Whether field is sensitive (unknown datasets: every field); whether the
 * record key is (one of the key fields is, or they are not known). */
bool tk_field_sensitive(const struct tk_privacy *pv, const char *field);
bool tk_key_sensitive(const struct tk_privacy *pv);

/* Free text s (a message, a note, a reason) with the personal data in it
 * masked (mask_text: by shape and by the n raw values given) into out;
 * returns out's text, or NULL when s is NULL. */
const char *tk_mask_text(const char *s, const struct mask_value *values, size_t n,
                         struct qloop_buf *out);

/* ---- who may act (ticket_access.c) ---- */

/* What the facts are read from: a loaded ticket, or a row of a list. */
struct tk_ticket_ref {
    int64_t id;
    const char *source, *dept, *policy, *ext_actor;
};

/* The facts of one ticket for ident_allowed, and the memory they use. */
struct tk_access {
    struct ident_facts f;
    char approver[32];
    struct ident_filer *filers;
    size_t nfilers;
    struct qloop_arena arena;
};

/* Loads the facts of ticket r: the approver role of its own policy (p's
 * when p is that policy), the requesting user's department, who filed it.
 * tk_access_free releases them whatever this returns. 0 or -2. */
int tk_access_load(sqlite3 *db, const struct tk_ticket_ref *r, const struct qloop_policy *p,
                   struct tk_access *a, struct qloop_error *err);
void tk_access_free(struct tk_access *a);

/* Whether actor (a command line's --actor, a signed-in user's login) may do
 * action on t: resolves the actor (identity/authz.h) and asks ident_allowed
 * with t's facts. 0 when allowed; -1 when refused or the actor is not a user
 * (err says why: exit 2, nothing changed); -2 on a store error. */
int tk_authorize(sqlite3 *db, const struct tk *t, const char *actor, enum ident_action action,
                 const struct qloop_policy *p, struct qloop_error *err);

/* The viewer of a list or a show: actor resolved (identity/authz.h). 0, -1
 * (not a user), -2. */
int tk_viewer_resolve(sqlite3 *db, const char *actor, struct ident_actor *who,
                      struct qloop_error *err);

/* Whether who may do action on the ticket r: *yes, and why not into why.
 * cache: the policy last loaded by name (its name "" at first), reused while
 * rows share a policy. 0 or -2. */
int tk_may(sqlite3 *db, const struct ident_actor *who, enum ident_action action,
           const struct tk_ticket_ref *r, struct qloop_policy *cache, bool *yes, char *why,
           size_t whysize, struct qloop_error *err);

/* Whether actor may file a report (source "file") or import one ("import")
 * on a dataset of department dept. 0, -1 or -2 as tk_authorize. */
int tk_authorize_report(sqlite3 *db, const char *actor, const char *source, const char *dept,
                        struct qloop_error *err);

/* Registers every owner the datasets of run run_id name as a department
 * (identity.h: ident_dept_ensure, audited the first time). 0, -1 (a name
 * that is not one) or -2. */
int tk_register_owners(sqlite3 *db, const char *run_id, struct qloop_error *err);

/* The ningbo default when p is NULL. */
const struct qloop_policy *tk_policy(const struct qloop_policy *p, struct qloop_policy *def);

/* ---- the policy a ticket keeps (ticket_policy.c) ---- */

/* The row of ticket_policies holding p (added when new) in *id. 0 or -2. */
int tk_policy_id(sqlite3 *db, const struct qloop_policy *p, int64_t *id, struct qloop_error *err);

/* The policy ticket t is held to, into out: the one stored with it; for a
 * ticket from before policies were stored, caller when it has the ticket's
 * policy name, else the policy of that name. Returns 0, -1 when a ticket's
 * policy of old cannot be found (err says what to do), -2. */
int tk_policy_of(sqlite3 *db, const struct tk *t, const struct qloop_policy *caller,
                 struct qloop_policy *out, struct qloop_error *err);

/* The place of kind in kinds[0..n) (ascending, no repeats), or -1: the
 * binary search both the first night's kept keys (ticket_fresh.c) and the
 * refresh's groups (ticket_refresh.c) look a finding kind up with. */
static inline ptrdiff_t tk_kind_index(const int64_t *kinds, size_t n, int64_t kind)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kinds[mid] < kind)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && kinds[lo] == kind ? (ptrdiff_t)lo : -1;
}

#endif
