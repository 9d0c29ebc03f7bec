/*
 * ticket_new_findings.c — a run's new findings made items of tickets
 * (ticket_sync.c calls it after the re-check, inside the run's
 * transaction): each finding of the run without an open item of its record
 * joins the open ticket of its dataset + rule, or the closed ticket it was
 * in (reopened), or a new one, in dataset, rule and finding order.
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

#include "base/clock.h"
#include "base/strmap.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/store.h"

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

/* One finding of the run with no open item, as the query of tk_add_findings
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
                     struct group *g, struct tk_idset *updated, struct qloop_error *err)
{
    if (g->to != TK_TO_NEW && g->added > 0)
        tk_idset_add(updated, g->tid);
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
                       const struct new_finding *f, struct group *g, struct tk_idset *reopened_now,
                       struct ticket_sync_counts *counts, struct qloop_error *err)
{
    size_t ref_len = f->distinct ? 0 : strlen(f->ref);
    if (!f->distinct && strmap_get(g->added_refs, f->ref, ref_len))
        return 0;
    bool found = f->prior_ticket != 0 && f->prior_ticket_state && f->prior_item_state;
    bool still_closed = found && tk_is_closed(f->prior_ticket_state) &&
                        !tk_idset_has(reopened_now, f->prior_ticket);
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
            tk_idset_add(reopened_now, g->tid);
    }
    g->added++;
    if (!f->distinct)
        strmap_put(g->added_refs, f->ref, ref_len, NULL);
    tk_adds_push(&g->adds, f->id, f->ref, f->field, reopened, f->digest);
    return g->adds.n < TK_ADDS_CHUNK ? 0 : flush_adds(db, run_id, at, g, err);
}

/* What tk_add_findings carries from one finding to the next. */
struct adding {
    sqlite3 *db;
    const char *run_id;
    int64_t at;
    const struct qloop_policy *p;
    struct ticket_sync_counts *counts;
    struct tk_idset *updated, reopened_now;
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
int tk_add_findings(sqlite3 *db, const char *run_id, int64_t at, const struct qloop_policy *p,
                    const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                    struct tk_idset *updated, struct qloop_error *err)
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
