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
 * Reopening and new findings: ticket_new_findings.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
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

/* Whether id is in s (ticket_private.h). */
bool tk_idset_has(const struct tk_idset *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return true;
    return false;
}

/* Adds id to s unless there (ticket_private.h). */
void tk_idset_add(struct tk_idset *s, int64_t id)
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
    /* else the keys are left to a first night's tk_add_findings (tk_kept_take) */
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
                           int64_t at, const struct qloop_policy *p, struct tk_idset *updated,
                           struct qloop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct recheck *r = &rs[i];
        if (r->fixed > 0)
            tk_idset_add(updated, r->ticket);
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
    struct tk_idset updated = {0};
    bool no_new = false;
    int result = recheck_items(db, run_id, at, seen, &rs, &nrs, &no_new, err);
    if (result == 0) {
        counts->reverified = (long)nrs;
        result = close_rechecked(db, rs, nrs, run_id, at, p, &updated, err);
    }
    /* Each finding's item was open and failing again: the re-check left it
     * open (it closes only the items of a ticket with none open), so the
     * query of tk_add_findings would find no finding without an open item. */
    if (result == 0 && !no_new)
        result = tk_add_findings(db, run_id, at, p, seen, counts, &updated, err);
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
