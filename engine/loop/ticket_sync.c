/*
 * ticket_sync.c — what each run does to the tickets, inside the run's
 * transaction: re-check the open records its rules judged, move the
 * re-checked tickets (closed as shared when every record passes, back to
 * feedback when a corrected one still fails), turn its new findings into
 * items of open, reopened or new tickets, write the due reminders and
 * overdue notices, and count the department statistics.
 *
 * Re-check. An open item whose rule judged its dataset in this run is still
 * failing when the run has a finding for its record, fixed when the run saw
 * the record without one (or the rule says a vanished record is resolved),
 * and missing when the record was not in the data.
 *
 * Reopening. When a record of a closed ticket (shared or confirmed) fails
 * again and no ticket is open for that dataset + rule, the run reopens the
 * closed ticket: it goes back to the provider (feedback, or discovered when
 * the policy does not hand over automatically) with a new received_at and
 * statutory deadline, the transition written to history and audit like any
 * other, and the record is an item again that names the ticket it came from
 * (reopened_from). When a ticket for that dataset + rule is already open
 * (at most one may be), the record joins it instead. The first episode's
 * receipt, deadline and answer stay in the history, so its on-time verdict
 * does not change; the ticket's closing after reopening is counted again in
 * dept_stats. A record the provider confirmed as correct (确认无误) with the
 * same value is not reported again, or every nightly run would reopen the
 * same confirmed record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/strmap.h"
#include "loop/outbox.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/store.h"

int ticket_open_keys(sqlite3 *db, const char *dataset,
                     void (*cb)(void *ctx, const char *record_ref, const char *record_key),
                     void *ctx, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT DISTINCT i.record_ref, " TK_EV_KEY("i", "f")
                                         " FROM " TK_ITEMS_OF_TICKETS
                                         " LEFT JOIN finding_rows f ON f.id = i.finding"
                                         " WHERE t.dataset = ?1 AND i.kind IN " TK_KINDS_OF("?1")
                                         " AND i.state IN ('open','missing')",
                                         1, &dataset, err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sql_row(db, st, "读取未关闭的工单记录", err)) == 1)
        cb(ctx, sql_text(st, 0), sql_text(st, 1));
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/* The refs from the items' keys by record alone (ticket_item_refs: record_ref,
 * kind, 0 for an open or missing item; store step 19), the whole table
 * scanned: finding the dataset's items by ticket reads each item's row (W1
 * 1M night 2: 104 ms against 48, +43 MB of peak). Nothing is sorted (a
 * DISTINCT would be). A first night's new items have no entry until
 * tk_items_release, inside its ticket phase; none is read then. */
int ticket_open_refs(sqlite3 *db, const char *dataset,
                     void (*cb)(void *ctx, const char *record_ref), void *ctx,
                     struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT i.record_ref FROM ticket_item_refs i"
                                         " WHERE i.kind IN " TK_KINDS_OF("?1")
                                         " AND i.open_key = 0",
                                         1, &dataset, err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sql_row(db, st, "读取未关闭的工单记录", err)) == 1)
        cb(ctx, sql_text(st, 0));
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/* A growing set of ticket ids (small: one entry per ticket touched). */
struct idset {
    int64_t *v;
    size_t n, cap;
};

/* Whether id is in s. */
static bool idset_has(const struct idset *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return true;
    return false;
}

/* Adds id to s unless there. */
static void idset_add(struct idset *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = qloop_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = id;
}

/* ---- the re-check ---------------------------------------------------------- */

/* What the re-check saw for one ticket. */
struct recheck {
    int64_t ticket;
    long judged, failing, missing, fixed;
};

/* An open or missing item the run's rules judged that did not fail again
 * in phase 1 (judged_items). */
struct judged_item {
    int64_t id, ticket;
    char ref[40], state[16], dataset[512];
    int resolve_missing;
    int of_record; /* a record's item (it has a row), not the dataset's */
};

static void read_judged_item(sqlite3_stmt *st, void *row)
{
    struct judged_item *it = row;
    it->id = sqlite3_column_int64(st, 0);
    it->ticket = sqlite3_column_int64(st, 1);
    sql_copy(st, 2, it->ref, sizeof it->ref);
    sql_copy(st, 3, it->state, sizeof it->state);
    it->resolve_missing = sqlite3_column_int(st, 4);
    sql_copy(st, 5, it->dataset, sizeof it->dataset);
    it->of_record = sqlite3_column_int(st, 6);
}

/* The items judged in run ?1: open or missing items whose rule judged their
 * dataset in it. The items first (CROSS JOIN), read by ticket through
 * ticket_items_ticket, each rule's result found by its key: SQLite chose
 * the rule results first and each one's items through the index by record,
 * a row read in record_ref order, scattered over the table (W1 1M night 2:
 * 0.24 s CPU against 0.08, and a page read each once the items outgrow the
 * cache). */
#define JUDGED                                                                                  \
    " FROM ticket_item_rows i CROSS JOIN item_kinds k ON k.id = i.kind"                          \
    " CROSS JOIN rule_results r ON r.run_id = ?1 AND r.rule = k.rule AND r.dataset = k.dataset"  \
    " WHERE i.state IN ('open','missing')"

/* The re-check by sets. Phase 1: open items that fail again, the common case
 * of a nightly run, are refreshed by one merge of the items with the run's
 * findings (tk_refresh_failing) from their first finding of this run (only
 * those whose finding differs: an unchanged item's row is left alone, its
 * last_run too), and named in TK_REFRESHED, which tells them from the
 * others here (TK_FAILING_AGAIN) and is emptied at the end. Each ticket's
 * judged items and those failing again
 * are counted (*rs, one entry per ticket in ticket order) by that merge as
 * it reads the items, or else (refs it cannot read, or no open item's rule
 * with findings) by one GROUP BY, which cost 4,500 instructions an item (W1
 * 1M night 2: 0.81G of 3.65G), and only the judged items that did not fail
 * again — fixed, missing, or reappearing, a few on most nights — are read
 * into *items (ticket and item order) for the item loop. *all_found: every
 * finding of the run was of an open item (tk_refresh_failing). 0 or -2. */
static int judged_items_read(sqlite3 *db, const char *run_id, const struct ticket_seen *seen,
                             struct recheck **rs, size_t *nrs, struct judged_item **items,
                             size_t *n, bool *all_found, struct qloop_error *err)
{
    *all_found = false;
    *items = NULL;
    *n = 0;
    *rs = NULL;
    *nrs = 0;
    /* Only when some open item's rule has findings in this run: not on a
     * first night, where reading every item finds none open. */
    int64_t any = 0;
    if (sql_int64_texts(db,
                        "SELECT EXISTS (SELECT 1 FROM finding_kinds k"
                        " JOIN finding_runs r ON r.run_id = ?1"
                        " WHERE EXISTS (SELECT 1 FROM finding_refs f"
                        "  WHERE f.run = r.id AND f.kind = k.id)"
                        " AND EXISTS (SELECT 1 FROM " TK_ITEMS_OF_TICKETS
                        "  WHERE t.dataset = k.dataset AND t.rule = k.rule AND i.state = 'open'"
                        "  AND i.kind = " TK_KIND_OF("k.dataset", "k.rule") "))",
                        1, &run_id, 0, &any, err) != 0)
        return -2;
    /* Each open item failing again, from the run's first finding of its
     * record (ticket_refresh.c), which counts the judged items as it reads
     * them. */
    struct tk_judged_set judged = {0};
    /* else the keys are left to a first night's add_findings (tk_kept_take) */
    if (any ? tk_refresh_failing(db, run_id, seen, all_found, &judged, err) != 0
            : tk_refreshed_clear(db, err) != 0)
        return -2;
    int rc;
    if (judged.known) {
        *rs = qloop_xcalloc(judged.n ? judged.n : 1, sizeof **rs);
        for (size_t i = 0; i < judged.n; i++)
            (*rs)[i] = (struct recheck){.ticket = judged.v[i].ticket,
                                        .judged = judged.v[i].judged,
                                        .failing = judged.v[i].failing};
        *nrs = judged.n;
        free(judged.v);
    } else {
        sqlite3_stmt *st = sql_prepare_texts(db,
                                             "SELECT i.ticket_id, count(*),"
                                             " sum(" TK_FAILING_AGAIN ")" JUDGED
                                             " GROUP BY i.ticket_id ORDER BY i.ticket_id",
                                             1, &run_id, err);
        if (!st)
            return -2;
        size_t cap = 0;
        while ((rc = sql_row(db, st, "读取待复核的工单", err)) == 1) {
            if (*nrs == cap) {
                cap = cap ? cap * 2 : 16;
                *rs = qloop_xrealloc(*rs, cap * sizeof **rs);
            }
            (*rs)[(*nrs)++] = (struct recheck){.ticket = sqlite3_column_int64(st, 0),
                                               .judged = (long)sqlite3_column_int64(st, 1),
                                               .failing = (long)sqlite3_column_int64(st, 2)};
        }
        sqlite3_finalize(st);
        if (rc < 0)
            return -2;
    }
    /* A steady night: every judged item failing again, none left to read
     * (the query would scan every item to find none). */
    bool rest = false;
    for (size_t i = 0; i < *nrs && !rest; i++)
        rest = (*rs)[i].judged > (*rs)[i].failing;
    if (!rest)
        return 0;
    sqlite3_stmt *st = sql_prepare_texts(db,
                           "SELECT i.id, i.ticket_id, i.record_ref, i.state, r.resolve_missing,"
                           " k.dataset, (CASE WHEN i.finding IS NULL THEN i.row_no"
                           " ELSE (SELECT f.row_no FROM finding_rows f WHERE f.id = i.finding)"
                           " END) IS NOT NULL" JUDGED
                           " AND NOT " TK_FAILING_AGAIN
                           " ORDER BY i.ticket_id, i.id",
                           1, &run_id, err);
    if (!st)
        return -2;
    rc = sql_collect(db, st, sizeof **items, read_judged_item, (void **)items, n,
                     "读取待复核的工单记录", err);
    sqlite3_finalize(st);
    return rc == 0 ? 0 : -2;
}

/* judged_items_read, then TK_REFRESHED emptied (nothing reads it after). */
static int judged_items(sqlite3 *db, const char *run_id, const struct ticket_seen *seen,
                        struct recheck **rs, size_t *nrs, struct judged_item **items, size_t *n,
                        bool *all_found, struct qloop_error *err)
{
    int rc = judged_items_read(db, run_id, seen, rs, nrs, items, n, all_found, err);
    if (rc == 0 && tk_refreshed_clear(db, err) != 0)
        rc = -2;
    return rc; /* the caller frees *rs and *items whatever this returns */
}

/* The statements of the item loop. */
struct recheck_sql {
    sqlite3_stmt *find;  /* the run's first finding of item ?2 */
    sqlite3_stmt *seen;  /* whether the run saw item ?2's record */
    sqlite3_stmt *still; /* item ?1 still failing in run ?2, refreshed from the finding */
    sqlite3_stmt *set;   /* item ?1 fixed or missing */
    const struct ticket_seen *seen_by;
    const char *run_id, *at;
    struct tk_batch batch;
};

static int recheck_sql_prepare(sqlite3 *db, struct recheck_sql *q, struct qloop_error *err)
{
    /* The findings view's tables joined in this order (CROSS JOIN): the
     * rows are then found by the whole key of finding_refs (run, kind,
     * record_ref), then by id; by the
     * view, SQLite walked every finding of the run for each item (W1 1M,
     * 1% of the records gone and 10% fixed: 557 s of ticket phase). */
    q->find = sql_prepare(db,
                          "SELECT f.row_no, f.record_key, k.field, f.value, f.message, f.sealed"
                          " FROM ticket_item_rows i CROSS JOIN finding_runs r"
                          " CROSS JOIN finding_kinds k CROSS JOIN finding_refs x"
                          " CROSS JOIN finding_rows f ON f.id = x.id"
                          " WHERE i.id = ?2 AND r.run_id = ?1 AND k.id = x.kind AND (k.dataset,"
                          " k.rule) = " TK_KIND_COL("dataset, rule", "i.kind") " AND x.run = r.id"
                          " AND x.record_ref = i.record_ref ORDER BY x.id LIMIT 1",
                          err);
    q->seen = q->find ? sql_prepare(db,
                                    q->seen_by ? "SELECT " TK_KIND_COL("dataset", "kind") ","
                                                 " record_ref FROM ticket_item_rows"
                                                 " WHERE id = ?2 AND ?1 IS NOT NULL"
                                               : "SELECT 1 FROM run_seen s JOIN ticket_item_rows i"
                                                 " ON i.id = ?2 WHERE s.run_id = ?1"
                                                 " AND s.dataset = " TK_KIND_COL("dataset", "i.kind")
                                                 " AND s.record_ref = i.record_ref",
                                    err)
                      : NULL;
    /* The item keeps its evidence itself from here on (store step 17):
     * a NULL key or message of the finding keeps what the item shows
     * (the `ticket_items` view: its own, or its named finding's). A few
     * items a night (those failing again after being missing); the many
     * failing again are tk_refresh_failing's. */
    q->still = q->seen ? sql_prepare(db,
                                     "UPDATE ticket_item_rows SET state = 'open', last_run = " TK_RUN_OF("?2") ","
                                     " row_no = ?3, record_key = coalesce(?4, (SELECT v.record_key"
                                     " FROM ticket_items v WHERE v.id = ticket_item_rows.id)),"
                                     " value = ?5, message = coalesce(?6, (SELECT v.message"
                                     " FROM ticket_items v WHERE v.id = ticket_item_rows.id)),"
                                     " sealed = ?7, finding = NULL, digest = NULL WHERE id = ?1",
                                     err)
                       : NULL;
    q->set = q->still ? sql_prepare(db,
                                    "UPDATE ticket_item_rows SET state = ?2,"
                                    " closed_at = CASE WHEN ?2 = 'fixed' THEN ?3 END,"
                                    " closed_run = CASE WHEN ?2 = 'fixed' THEN " TK_RUN_OF("?4") " END"
                                    " WHERE id = ?1",
                                    err)
                      : NULL;
    return q->set ? 0 : -2;
}

static void recheck_sql_free(struct recheck_sql *q)
{
    tk_batch_drop(&q->batch);
    sqlite3_finalize(q->find);
    sqlite3_finalize(q->seen);
    sqlite3_finalize(q->still);
    sqlite3_finalize(q->set);
}

/* The run's finding of item it, if any: the item is still failing; it is
 * refreshed from the finding (and audited when it had been missing). Sets
 * *failing. 0 or -2. */
static int recheck_failing(sqlite3 *db, struct recheck_sql *q, const struct judged_item *it,
                           bool *failing, struct qloop_error *err)
{
    sqlite3_reset(q->find);
    sql_bind_text(q->find, 1, q->run_id);
    sqlite3_bind_int64(q->find, 2, it->id);
    int rc = sql_row(db, q->find, "查找复核结果", err);
    *failing = rc == 1;
    if (rc != 1)
        return rc < 0 ? -2 : 0;
    sqlite3_bind_int64(q->still, 1, it->id);
    sql_bind_text(q->still, 2, q->run_id);
    sqlite3_bind_value(q->still, 3, sqlite3_column_value(q->find, 0));
    sqlite3_bind_value(q->still, 4, sqlite3_column_value(q->find, 1));
    sqlite3_bind_value(q->still, 5, sqlite3_column_value(q->find, 3));
    sqlite3_bind_value(q->still, 6, sqlite3_column_value(q->find, 4));
    sqlite3_bind_value(q->still, 7, sqlite3_column_value(q->find, 5));
    if (sql_done(db, q->still, "更新工单记录", err) != 0)
        return -2;
    if (strcmp(it->state, "missing") == 0)
        return tk_audit_item(db, &q->batch, it->ticket, it->id, it->ref, "reappeared", "system",
                             q->run_id, 0, err);
    return 0;
}

/* Whether the run saw item it's record (the run's own answer when it gave
 * one, else run_seen) in *seen. Reading a dataset is seeing its
 * dataset-level "record" (the empty key); an item of a record (with a row)
 * under that key is the item into which an earlier qloop merged the records
 * whose key was empty: those records now have identities of their own
 * (run/identity.c), so the merged item is not seen — missing, or resolved
 * under resolve_missing — never fixed by the dataset being read. 0 or -2. */
static int recheck_seen(sqlite3 *db, struct recheck_sql *q, const struct judged_item *it,
                        bool *seen, struct qloop_error *err)
{
    sqlite3_reset(q->seen);
    sql_bind_text(q->seen, 1, q->run_id);
    sqlite3_bind_int64(q->seen, 2, it->id);
    int rc = sql_row(db, q->seen, "查找复核结果", err);
    if (rc < 0)
        return -2;
    *seen = rc == 1;
    if (q->seen_by && *seen)
        *seen = q->seen_by->seen(q->seen_by->ctx, sql_text(q->seen, 0), sql_text(q->seen, 1));
    if (*seen && it->of_record) {
        char dataset_ref[33];
        store_record_ref(db, it->dataset, "", 0, dataset_ref);
        *seen = strcmp(it->ref, dataset_ref) != 0;
    }
    return 0;
}

/* Re-checks item it (judged, not failing again in phase 1), counting the
 * outcome in r. 0 or -2. */
static int recheck_item(sqlite3 *db, struct recheck_sql *q, const struct judged_item *it,
                        struct recheck *r, struct qloop_error *err)
{
    bool failing;
    if (recheck_failing(db, q, it, &failing, err) != 0)
        return -2;
    if (failing) {
        r->failing++;
        return 0;
    }
    bool seen;
    if (recheck_seen(db, q, it, &seen, err) != 0)
        return -2;
    const char *to = seen || it->resolve_missing ? "fixed" : "missing";
    if (strcmp(to, "fixed") == 0)
        r->fixed++;
    else
        r->missing++;
    if (strcmp(to, "missing") == 0 && strcmp(it->state, "missing") == 0)
        return 0;
    sqlite3_bind_int64(q->set, 1, it->id);
    sql_bind_text(q->set, 2, to);
    sql_bind_text(q->set, 3, q->at);
    sql_bind_text(q->set, 4, q->run_id);
    if (sql_done(db, q->set, "更新工单记录", err) != 0)
        return -2;
    const char *change = seen ? "fixed" : strcmp(to, "fixed") == 0 ? "fixed_missing" : "missing";
    return tk_audit_item(db, &q->batch, it->ticket, it->id, it->ref, change, "system", q->run_id,
                         0, err);
}

/* Re-checks every open item whose rule judged its dataset in run_id.
 * Fills *out (one entry per ticket with judged items, in ticket order) and
 * *no_new (every finding of the run is of an item that stays open: the
 * run has no new findings). */
static int recheck_items(sqlite3 *db, const char *run_id, int64_t at,
                         const struct ticket_seen *seen_by, struct recheck **out,
                         size_t *nout, bool *no_new, struct qloop_error *err)
{
    struct judged_item *items;
    struct recheck *rs;
    size_t n, nrs;
    int result = judged_items(db, run_id, seen_by, &rs, &nrs, &items, &n, no_new, err);
    char at_s[32];
    qloop_format_datetime(at, at_s);
    struct recheck_sql q = {.seen_by = seen_by, .run_id = run_id, .at = at_s};
    if (result == 0)
        result = recheck_sql_prepare(db, &q, err);
    size_t t = 0; /* rs[t]: the ticket of items[i] (both in ticket order) */
    for (size_t i = 0; result == 0 && i < n; i++) {
        while (t < nrs && rs[t].ticket != items[i].ticket)
            t++;
        if (t == nrs) {
            qloop_error_internal(err, NULL, "复核的工单记录与工单计数不一致");
            result = -2;
            break;
        }
        result = recheck_item(db, &q, &items[i], &rs[t], err);
    }
    if (result == 0)
        result = tk_batch_flush(db, &q.batch, err);
    recheck_sql_free(&q);
    free(items);
    if (result != 0) {
        free(rs);
        *out = NULL;
        *nout = 0;
        return result;
    }
    *out = rs;
    *nout = nrs;
    return 0;
}

/* The reason of a failed run re-check of r, into out. */
static void recheck_fail_reason(const struct recheck *r, char *out, size_t size)
{
    struct qloop_buf b = {0};
    qloop_buf_printf(&b, "运行复核未通过：");
    if (r->failing > 0)
        qloop_buf_printf(&b, "%ld 条记录仍不符合规则", r->failing);
    if (r->missing > 0)
        qloop_buf_printf(&b, "%s%ld 条记录在本次数据中缺失", r->failing > 0 ? "，" : "", r->missing);
    snprintf(out, size, "%s", qloop_buf_str(&b));
    qloop_buf_free(&b);
}

/* A corrected ticket none of whose records still fails, but some are not
 * in the data: the provider may have corrected the key itself (a lowercase
 * x uppercased), which a run cannot tell from a record deleted. That is no
 * failed re-check: the ticket stays corrected — not overdue, not counted
 * against the department — and waits for the steward, who is told once per
 * answer (history, audit and outbox) what to do. */
static int wait_for_steward(sqlite3 *db, struct tk *t, const struct recheck *r,
                            const char *run_id, int64_t at, struct qloop_error *err)
{
    int64_t told = 0;
    if (sql_int64_ids(db,
                      "SELECT count(*) FROM ticket_history WHERE ticket_id = ?1"
                      " AND event = 'recheck_missing' AND id > (SELECT max(id) FROM ticket_history"
                      " WHERE ticket_id = ?1 AND to_state = 'corrected' AND from_state <> 'corrected')",
                      1, &t->id, 0, &told, err) != 0)
        return -2;
    if (told > 0)
        return 0;
    char reason[1024], key[96], msg[2048];
    snprintf(reason, sizeof reason,
             "运行复核：没有仍不符合规则的记录，%ld 条问题记录在本次数据中缺失（可能已改正主键，"
             "也可能已删除），不视为复核未通过；待数据治理人员核实后用 qloop tickets verify %lld"
             " --pass 或 --fail --reason 判定（规则设 resolve_missing = true 时，缺失的记录视为已整改）",
             r->missing, (long long)t->id);
    int64_t hid;
    if (tk_history(db, t, "recheck_missing", t->state, t->state, "system", reason, at, t->deadline,
                   t->deadline, run_id, &hid, err) != 0)
        return -2;
    snprintf(key, sizeof key, "verify:%lld:%lld", (long long)t->id, (long long)hid);
    snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」，数源部门「%s」）待人工复核：%s",
             (long long)t->id, t->dataset, t->rule, t->dept, reason);
    return tk_notify(db, t, "ticket.verify_needed", key, TK_STAFF, msg, at, err);
}

/* Moves the re-checked tickets: all records pass → shared; a corrected one
 * with records still failing → back to feedback; a corrected one whose
 * remaining records are only missing from the data waits for the steward
 * (wait_for_steward). */
static int close_rechecked(sqlite3 *db, const struct recheck *rs, size_t n, const char *run_id,
                           int64_t at, const struct qloop_policy *p, struct idset *updated,
                           struct qloop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct recheck *r = &rs[i];
        if (r->fixed > 0)
            idset_add(updated, r->ticket);
        struct tk t;
        /* Whether the ticket has open or missing items left: surely when
         * some failed again (the re-check leaves those open), so they are
         * counted only when none did (W1 1M night 2: 9 counts over 180,000
         * items' index entries, each ticket's all failing again). */
        long open = r->failing;
        if (tk_load_known(db, r->ticket, &t, err) != 0 ||
            (open == 0 && tk_open_items(db, t.id, &open, err) != 0))
            return -2;
        char reason[1024];
        struct tk_change c = {.actor = "system", .reason = reason, .run_id = run_id, .at = at};
        if (open == 0) {
            if (!tk_find_transition(t.state, "shared", "recheck_pass", false))
                continue;
            snprintf(reason, sizeof reason, "运行复核通过：%ld 条问题记录均已整改", r->fixed);
            c.to = "shared";
            c.event = "recheck_pass";
        } else if (strcmp(t.state, "corrected") == 0 && r->failing == 0) {
            if (wait_for_steward(db, &t, r, run_id, at, err) != 0)
                return -2;
            continue;
        } else if (strcmp(t.state, "corrected") == 0) {
            recheck_fail_reason(r, reason, sizeof reason);
            c.to = "feedback";
            c.event = "recheck_fail";
        } else {
            continue;
        }
        if (tk_apply(db, &t, &c, false, p, err) != 0)
            return -2;
    }
    return 0;
}

/* ---- new findings ------------------------------------------------------------ */

/* Reopens closed ticket id (a run found one of its records failing again)
 * when it came from runs: back to the provider with a new receipt and
 * deadline under the ticket's own policy (or to discovered when that policy
 * does not hand over automatically). Sets *tid to id when reopened, leaves it 0 otherwise
 * (a ticket filed by hand or imported is not reopened by a run). */
static int reopen_ticket(sqlite3 *db, int64_t id, const char *run_id, int64_t at,
                         const struct qloop_policy *run_policy, int64_t *tid,
                         struct qloop_error *err)
{
    struct tk t;
    if (tk_load_known(db, id, &t, err) != 0)
        return -2;
    if (strcmp(t.source, "run") != 0 || !tk_is_closed(t.state))
        return 0;
    /* The ticket's own policy; one of old whose file is gone: the run's. */
    struct qloop_policy own;
    const struct qloop_policy *p = &own;
    int rc = tk_policy_of(db, &t, run_policy, &own, err);
    if (rc == -2)
        return -2;
    if (rc == -1)
        p = run_policy;
    char received[32], deadline[32], reason[512];
    qloop_format_datetime(at, received);
    qloop_format_datetime(policy_deadline(p, at), deadline);
    snprintf(reason, sizeof reason, "运行复核发现已关闭工单的问题记录再次出现，重新打开%s",
             p->auto_feedback ? "并交数源部门" : "");
    struct tk_change c = {.to = p->auto_feedback ? "feedback" : "discovered", .event = "reopen",
                          .actor = "system", .reason = reason, .run_id = run_id, .at = at,
                          .received_at = p->auto_feedback ? received : NULL,
                          .deadline = p->auto_feedback ? deadline : NULL};
    if (tk_apply(db, &t, &c, false, p, err) != 0)
        return -2;
    /* its next closing counts again in the department statistics */
    if (sql_exec_ids(db, "UPDATE tickets SET stats_run = NULL, closed_at = NULL WHERE id = ?1",
                     "重新打开工单", err, 1, &id) != 0)
        return -2;
    *tid = id;
    return 0;
}

/* One finding of the run with no open item, as the query of add_findings
 * hands it over (pointers into the statement's row, valid until its next
 * step), with the latest item of its record, if any (prior_*). The rest of
 * the finding (key, field, message, row, sealed copy) goes from its row to
 * its item inside the store (tk_adds_flush). */
struct new_finding {
    int64_t id; /* in finding_rows */
    const char *dataset, *rule, *ref, *value;
    int64_t prior_ticket; /* 0: the record has no item of this rule yet */
    const char *prior_ticket_state, *prior_item_state, *prior_value;
    bool distinct; /* no other finding of its dataset and rule in this run
                      has its record_ref (tk_fresh.distinct) */
    uint64_t digest; /* the digest its item keeps, as the run made it (0: not known) */
    const char *field; /* its kind's ("" for none; NULL: not known) */
};

/* The run's findings without an open item, by dataset and rule and in the
 * order found, each with the latest item of its record (by id). Read as they
 * stream, nothing copied: through the findings' keys by run, kind and
 * record (finding_refs), the items of each record looked up in the order of their own
 * index. When no finding's dataset and rule has an item yet (a first night),
 * tk_fresh_findings (ticket_fresh.c) hands over the same findings in the
 * same order without looking any item up: none of its datasets and rules had
 * one when it began, so each finding has neither a latest item nor an open
 * one (one added by this run for the same record is found in the group's
 * added_refs, as by_record's would be), and the items' entries by record may
 * be held back while it runs (tk_items_hold); nor are the values read, only
 * compared with a latest item's. */
static const char new_findings_by_record[] =
    "SELECT f.id, k.dataset, k.rule, f.record_ref, f.value, p.ticket_id, t.state, p.state,"
    " " TK_EV_VALUE("p", "pf") " FROM finding_runs r JOIN finding_refs x ON x.run = r.id"
    " JOIN finding_rows f ON f.id = x.id JOIN finding_kinds k ON k.id = x.kind"
    " LEFT JOIN item_kinds ik ON ik.dataset = k.dataset AND ik.rule = k.rule"
    " LEFT JOIN ticket_item_rows p ON p.id = (SELECT max(i.id) FROM ticket_item_refs i"
    "  WHERE i.record_ref = f.record_ref AND i.kind = ik.id)"
    " LEFT JOIN finding_rows pf ON pf.id = p.finding LEFT JOIN tickets t ON t.id = p.ticket_id"
    " WHERE r.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM ticket_item_refs i"
    "  WHERE i.record_ref = f.record_ref AND i.kind = ik.id"
    "  AND i.open_key = 0) ORDER BY k.dataset, k.rule, f.id";
/* Whether some dataset and rule with findings in run ?1 has items. */
static const char items_of_run_rules[] =
    "SELECT EXISTS (SELECT 1 FROM finding_kinds k JOIN finding_runs r ON r.run_id = ?1"
    " WHERE EXISTS (SELECT 1 FROM finding_refs f WHERE f.run = r.id AND f.kind = k.id)"
    " AND EXISTS (SELECT 1 FROM " TK_ITEMS_OF_TICKETS " WHERE t.dataset = k.dataset"
    "  AND t.rule = k.rule AND i.kind = " TK_KIND_OF("k.dataset", "k.rule") "))";

static void read_finding(sqlite3_stmt *st, struct new_finding *f)
{
    f->id = sqlite3_column_int64(st, 0);
    f->dataset = sql_text(st, 1);
    f->rule = sql_text(st, 2);
    f->ref = sql_text(st, 3);
    f->value = sql_text(st, 4);
    f->prior_ticket = sqlite3_column_int64(st, 5);
    f->prior_ticket_state = sql_text(st, 6);
    f->prior_item_state = sql_text(st, 7);
    f->prior_value = sql_text(st, 8);
    f->distinct = false; /* a record may have findings of two kinds */
    f->digest = 0;       /* not known: the items' INSERT reads the finding */
    f->field = NULL;
}

/* Where the findings of one dataset and rule go. */
struct group {
    char *dataset, *rule; /* the group's, copied from its first finding */
    int64_t tid;          /* 0: not chosen yet */
    enum tk_added_to to;
    long added;
    struct strmap *added_refs; /* the records added to it by this run */
    struct tk_adds adds;       /* added, not yet inserted (at most TK_ADDS_CHUNK) */
    struct sql_cached ins[2];  /* tk_adds_flush's statements */
    struct tk_batch batch;     /* the audit of the items inserted */
};

/* How many findings a group gathers before inserting them as items. */
#define TK_ADDS_CHUNK 8192

/* Inserts the findings g gathered as items of its ticket. 0 or -2. */
static int flush_adds(sqlite3 *db, const char *run_id, int64_t at, struct group *g,
                      struct qloop_error *err)
{
    return tk_adds_flush(db, &g->adds, g->tid, g->dataset, g->rule, at, run_id, g->ins, &g->batch,
                         err);
}

/* Chooses the ticket of finding f's group: the open one of its dataset and
 * rule, else the closed one it was in (reopened), else a new one. */
static int choose_ticket(sqlite3 *db, const char *run_id, int64_t at, const struct qloop_policy *p,
                         const struct new_finding *f, int64_t reopened, struct group *g,
                         struct ticket_sync_counts *counts, struct qloop_error *err)
{
    if (tk_find_open(db, f->dataset, f->rule, "run", &g->tid, err) != 0)
        return -2;
    g->to = TK_TO_OPEN;
    if (!g->tid && reopened > 0 && reopen_ticket(db, reopened, run_id, at, p, &g->tid, err) != 0)
        return -2;
    if (g->tid)
        g->to = g->tid == reopened ? TK_TO_REOPENED : TK_TO_OPEN;
    else
        g->to = TK_TO_NEW;
    if (g->to != TK_TO_NEW)
        return 0;
    char dept[512];
    bool known;
    char *msg = NULL;
    const char *const key[] = {run_id, f->rule};
    sqlite3_stmt *st = sql_prepare_texts(
        db, "SELECT message FROM rule_results WHERE run_id = ?1 AND rule = ?2", 2, key, err);
    int rc = st ? 0 : -2;
    if (st) {
        rc = sql_row(db, st, "读取规则的问题说明", err);
        msg = rc == 1 ? sql_dup(st, 0) : NULL;
        rc = rc < 0 ? -2 : 0;
        sqlite3_finalize(st);
    }
    if (rc == 0)
        rc = tk_dataset_owner(db, f->dataset, run_id, dept, sizeof dept, &known, err);
    if (rc == 0)
        rc = tk_open(db, f->dataset, f->rule, "run", dept, msg, "system", run_id, at, p, &g->tid,
                     err);
    free(msg);
    if (rc == 0)
        counts->opened++;
    return rc;
}

/* Ends the group of ticket g->tid: its audit entry, then the hand-over or
 * the notice of new records. */
static int end_group(sqlite3 *db, const char *run_id, int64_t at, const struct qloop_policy *p,
                     struct group *g, struct idset *updated, struct qloop_error *err)
{
    if (g->to != TK_TO_NEW && g->added > 0)
        idset_add(updated, g->tid);
    int rc = flush_adds(db, run_id, at, g, err);
    if (rc == 0)
        rc = tk_batch_flush(db, &g->batch, err);
    if (rc == 0)
        rc = tk_after_adding(db, g->tid, g->to, p->auto_feedback, g->added, run_id, at, p, run_id,
                             err);
    g->tid = 0;
    g->added = 0;
    return rc;
}

/* Adds finding f to its group's ticket, unless it has an open item already
 * (a record still failing: the query left those out; or found twice in this
 * run: added_refs, unless f is known to be its record's only finding of
 * the group) or was confirmed correct by the provider with the same
 * value. The query read each record's latest item before this loop began
 * (or while it runs: either way), so a ticket this loop reopened
 * (*reopened_now) is taken as open, as it now is. */
static int add_finding(sqlite3 *db, const char *run_id, int64_t at, const struct qloop_policy *p,
                       const struct new_finding *f, struct group *g, struct idset *reopened_now,
                       struct ticket_sync_counts *counts, struct qloop_error *err)
{
    size_t ref_len = f->distinct ? 0 : strlen(f->ref);
    if (!f->distinct && strmap_get(g->added_refs, f->ref, ref_len))
        return 0;
    bool found = f->prior_ticket != 0 && f->prior_ticket_state && f->prior_item_state;
    bool still_closed = found && tk_is_closed(f->prior_ticket_state) &&
                        !idset_has(reopened_now, f->prior_ticket);
    bool confirmed_same = still_closed && strcmp(f->prior_ticket_state, "confirmed") == 0 &&
                          strcmp(f->prior_item_state, "closed") == 0 &&
                          ((!f->prior_value && !f->value) ||
                           (f->prior_value && f->value && strcmp(f->prior_value, f->value) == 0));
    int64_t reopened = still_closed ? f->prior_ticket : 0;
    if (confirmed_same)
        return 0;
    if (!g->tid) {
        if (choose_ticket(db, run_id, at, p, f, reopened, g, counts, err) != 0)
            return -2;
        if (g->to == TK_TO_REOPENED)
            idset_add(reopened_now, g->tid);
    }
    g->added++;
    if (!f->distinct)
        strmap_put(g->added_refs, f->ref, ref_len, NULL);
    tk_adds_push(&g->adds, f->id, f->ref, f->field, reopened, f->digest);
    return g->adds.n < TK_ADDS_CHUNK ? 0 : flush_adds(db, run_id, at, g, err);
}

/* What add_findings carries from one finding to the next. */
struct adding {
    sqlite3 *db;
    const char *run_id;
    int64_t at;
    const struct qloop_policy *p;
    struct ticket_sync_counts *counts;
    struct idset *updated, reopened_now;
    struct group g;
    struct tk_kept kept; /* the run's keys, as its findings writer kept them (a first night) */
    struct qloop_error *err;
};

/* Takes finding f into its group (ending the previous group when f starts
 * another) and adds it. 0 or -2. */
static int take_finding(struct adding *a, const struct new_finding *f)
{
    struct group *g = &a->g;
    if (!f->dataset || !f->rule || !f->ref) {
        qloop_error_internal(a->err, sqlite3_db_filename(a->db, "main"),
                             "运行 %s 的问题记录缺少数据集、规则或记录标识", a->run_id);
        return -2;
    }
    if (!g->dataset || strcmp(f->dataset, g->dataset) != 0 || strcmp(f->rule, g->rule) != 0) {
        if (g->tid && end_group(a->db, a->run_id, a->at, a->p, g, a->updated, a->err) != 0)
            return -2;
        free(g->dataset);
        free(g->rule);
        g->dataset = qloop_xstrdup(f->dataset);
        g->rule = qloop_xstrdup(f->rule);
        strmap_free(g->added_refs);
        g->added_refs = strmap_new();
    }
    return add_finding(a->db, a->run_id, a->at, a->p, f, g, &a->reopened_now, a->counts, a->err);
}

/* take_finding for a finding of tk_fresh_findings: no item of its record,
 * so no latest one. */
static int take_fresh(void *ctx, const struct tk_fresh *fresh)
{
    struct adding *a = ctx;
    struct new_finding f = {.id = fresh->id, .dataset = fresh->dataset, .rule = fresh->rule,
                            .ref = fresh->ref, .distinct = fresh->distinct, .field = fresh->field,
                            .digest = fresh->digest};
    return take_finding(a, &f);
}

/* Turns the run's findings without an open item into items of the open
 * ticket of their dataset and rule, or of a reopened or new one, in
 * dataset, rule and finding order: streamed from new_findings_by_record,
 * or when none of their datasets and rules has an item yet, one dataset
 * and rule at a time from tk_fresh_findings; nothing gathered in memory
 * but that and the records added to the current group; many fresh ones'
 * entries by record held to the end (tk_items_in_bulk, tk_items_hold). They
 * come from the run's keys as kept, with digests (seen's; else dropped). */
static int add_findings(sqlite3 *db, const char *run_id, int64_t at,
                        const struct qloop_policy *p, const struct ticket_seen *seen,
                        struct ticket_sync_counts *counts, struct idset *updated,
                        struct qloop_error *err)
{
    int64_t have_items = 1;
    if (sql_int64_texts(db, items_of_run_rules, 1, &run_id, 1, &have_items, err) != 0)
        return -2;
    bool bulk = false;
    struct tk_items_held held = {.after = -1};
    if (!have_items && (tk_items_in_bulk(db, run_id, &bulk, err) != 0 ||
                        (bulk && tk_items_hold(db, &held, err) != 0)))
        return -2;
    struct adding a = {.db = db, .run_id = run_id, .at = at, .p = p, .counts = counts,
                       .updated = updated, .err = err,
                       .g = {.added_refs = strmap_new(), .adds.held = bulk ? &held : NULL}};
    int result = 0;
    if (!have_items)
        tk_kept_take(seen, &a.kept);
    else if (seen && seen->keys)
        seen->keys(seen->ctx, NULL, NULL); /* not needed: let the run drop them */
    held.kept = &a.kept;
    if (have_items) {
        sqlite3_stmt *st = sql_prepare_texts(db, new_findings_by_record, 1, &run_id, err);
        int rc = st ? 0 : -1;
        struct new_finding f;
        while (st && result == 0 && (rc = sql_row(db, st, "读取本次运行的问题记录", err)) == 1) {
            read_finding(st, &f);
            result = take_finding(&a, &f);
        }
        if (result == 0 && rc < 0)
            result = -2;
        sqlite3_finalize(st);
    } else {
        result = tk_fresh_findings(db, run_id, &a.kept, take_fresh, &a, err);
    }
    if (result == 0 && a.g.tid)
        result = end_group(db, run_id, at, p, &a.g, updated, err);
    if (result == 0)
        result = tk_items_release(db, &held, err); /* a failed run rolls the hold back */
    tk_items_held_free(&held);
    tk_kept_free(&a.kept); /* not held while the run commits */
    tk_batch_drop(&a.g.batch);
    tk_adds_free(&a.g.adds);
    sql_cache_free(&a.g.ins[0]);
    sql_cache_free(&a.g.ins[1]);
    strmap_free(a.g.added_refs);
    free(a.g.dataset);
    free(a.g.rule);
    free(a.reopened_now.v);
    return result;
}

/* ---- statistics and the whole sync ------------------------------------------ */

int ticket_record_dept_stats(sqlite3 *db, const char *run_id, int64_t at, struct qloop_error *err)
{
    char at_s[32];
    qloop_format_datetime(at, at_s);
    static const char *const steps[] = {
        "DELETE FROM dept_stats WHERE run_id = ?1",
        "INSERT INTO dept_stats(run_id, dept, at, opened, closed_on_time, closed_late, open_total,"
        " open_overdue)"
        " SELECT ?1, dept, ?2, sum(opened_run IS ?1),"
        "  sum(state IN ('shared','confirmed') AND (stats_run IS NULL OR stats_run = ?1)"
        "      AND (deadline IS NULL OR answered_at IS NULL OR answered_at <= deadline)),"
        "  sum(state IN ('shared','confirmed') AND (stats_run IS NULL OR stats_run = ?1)"
        "      AND deadline IS NOT NULL AND answered_at > deadline),"
        "  sum(state NOT IN ('shared','confirmed')),"
        "  sum(state = 'feedback' AND deadline < ?2)"
        " FROM tickets GROUP BY dept"
        " HAVING sum(opened_run IS ?1) + sum(state NOT IN ('shared','confirmed'))"
        "  + sum(state IN ('shared','confirmed') AND (stats_run IS NULL OR stats_run = ?1)) > 0",
        "UPDATE tickets SET stats_run = ?1 WHERE state IN ('shared','confirmed')"
        " AND stats_run IS NULL",
    };
    const char *const params[] = {run_id, at_s};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (sql_exec_texts(db, steps[i], "记录部门统计", err, 2, params) != 0)
            return -2;
    return 0;
}

/* The time of run run_id (its as_of; now when unreadable) in *at. -1 when
 * there is no such run, -2 on a store error. */
static int run_time(sqlite3 *db, const char *run_id, int64_t *at, struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare_texts(db, "SELECT as_of FROM runs WHERE id = ?1", 1, &run_id, err);
    if (!st)
        return -2;
    char as_of[64] = "";
    int rc = sql_row(db, st, "读取运行", err);
    if (rc == 1)
        sql_copy(st, 0, as_of, sizeof as_of);
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    if (rc == 0)
        return qloop_error_set(err, NULL, 0, 0, "运行 %s 不在数据库中（先写入 runs 再生成工单）",
                               run_id);
    if (!qloop_parse_datetime(as_of, at))
        *at = qloop_now();
    return 0;
}

/* The sync: re-check, move the re-checked tickets, add the new findings,
 * scan for reminders, count. Returns 0 or -1 with err. */
static int sync_run(sqlite3 *db, const char *run_id, const struct qloop_policy *p,
                    const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                    struct qloop_error *err)
{
    struct ticket_sync_counts local = {0};
    if (!counts)
        counts = &local;
    memset(counts, 0, sizeof *counts);
    int64_t at;
    if (run_time(db, run_id, &at, err) != 0 || tk_register_owners(db, run_id, err) != 0)
        return -1;
    struct recheck *rs = NULL;
    size_t nrs = 0;
    struct idset updated = {0};
    bool no_new = false;
    int result = recheck_items(db, run_id, at, seen, &rs, &nrs, &no_new, err);
    if (result == 0) {
        counts->reverified = (long)nrs;
        result = close_rechecked(db, rs, nrs, run_id, at, p, &updated, err);
    }
    /* Each finding's item was open and failing again: the re-check left it
     * open (it closes only the items of a ticket with none open), so the
     * query of add_findings would find no finding without an open item. */
    if (result == 0 && !no_new)
        result = add_findings(db, run_id, at, p, seen, counts, &updated, err);
    if (seen && seen->keys)
        seen->keys(seen->ctx, NULL, NULL); /* when nothing took them: dropped */
    if (result == 0)
        result = outbox_scan(db, p, at, err) == 0 ? 0 : -2;
    if (result == 0)
        result = ticket_record_dept_stats(db, run_id, at, err);
    counts->updated = (long)updated.n;
    free(rs);
    free(updated.v);
    return result == 0 ? 0 : -1;
}

int ticket_sync_run_policy(sqlite3 *db, const char *run_id, const struct qloop_policy *p,
                           struct ticket_sync_counts *counts, struct qloop_error *err)
{
    return sync_run(db, run_id, p, NULL, counts, err);
}

int ticket_sync_run(sqlite3 *db, const char *run_id, const char *policy_path,
                    struct ticket_sync_counts *counts, struct qloop_error *err)
{
    return ticket_sync_run_seen(db, run_id, policy_path, NULL, counts, err);
}

int ticket_sync_run_seen(sqlite3 *db, const char *run_id, const char *policy_path,
                         const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                         struct qloop_error *err)
{
    struct qloop_policy p;
    if (policy_load(policy_path, &p, err) != 0)
        return -1;
    return sync_run(db, run_id, &p, seen, counts, err);
}
