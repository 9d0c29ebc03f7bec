/*
 * ticket.c — the closed loop 发现-反馈-修正-共享: the ticket tables, the
 * state machine and its transition table, the actions of staff and
 * providers, filing by hand or by interface, and what each run does to the
 * tickets (new findings, re-checks, closing, department statistics).
 *
 * Grouping. A ticket is one dataset + one rule + one source ("run", "file"
 * for 系统填报, "import" for 接口对接), listing its problem records as items:
 * that is the unit a provider department works through. While a ticket is
 * open, findings of later runs on the same dataset and rule join it (one list
 * per dataset and rule, one deadline the department is held to), and a
 * record already open there is only updated, never added twice. Two partial
 * UNIQUE indexes make both rules hold whatever the code does.
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
 *
 * The state machine (transitions[] below): discovered → feedback; feedback →
 * corrected | confirmed | negotiated; negotiated → feedback (handed back
 * after the agreed time: a new received_at and deadline) | corrected (fixed
 * after all); corrected → feedback (re-check failed: received_at and deadline
 * unchanged) | shared (re-check passed); shared | confirmed → feedback or
 * discovered (reopened by a run: a record failed again). A run's re-check also closes as
 * shared a discovered, feedback or negotiated ticket whose records all pass
 * now: the data is fixed, holding the department to a deadline for it would
 * be wrong. shared and confirmed are closed. Extension requests and decisions
 * keep the state and are written to the history like transitions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "base/buf.h"
#include "checks/calendar.h"
#include "base/clock.h"
#include "checks/mask.h"
#include "loop/outbox.h"
#include "store/store.h"
#include "loop/ticket.h"

#define NO_DEPT "未指定部门"
#define STAFF "数据治理人员"

/* ---- states and the transition table ---------------------------------- */

static const struct {
    const char *state, *zh;
} state_names[] = {
    {"discovered", "发现"}, {"feedback", "反馈"},      {"corrected", "修正"},
    {"shared", "共享"},     {"confirmed", "确认无误"}, {"negotiated", "沟通解决"},
};

const char *ticket_state_zh(const char *state)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(state_names[i].state, state) == 0)
            return state_names[i].zh;
    return state;
}

bool ticket_state_valid(const char *s)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(state_names[i].state, s) == 0)
            return true;
    return false;
}

/* Every legal move. how: the command a person uses for it, NULL when only a
 * run's re-check makes it. */
struct transition {
    const char *from, *to, *event, *how;
};
static const struct transition transitions[] = {
    {"discovered", "feedback", "feedback", "qloop tickets feedback（交数源部门）"},
    {"feedback", "corrected", "rectified", "qloop tickets resolve --as rectified（完成整改）"},
    {"feedback", "confirmed", "confirmed", "qloop tickets resolve --as confirmed（确认无误）"},
    {"feedback", "negotiated", "negotiated", "qloop tickets resolve --as negotiated（沟通解决）"},
    {"negotiated", "feedback", "feedback", "qloop tickets feedback（重新交数源部门）"},
    {"negotiated", "corrected", "rectified", "qloop tickets resolve --as rectified（完成整改）"},
    {"corrected", "feedback", "recheck_fail",
     "qloop tickets verify --fail（人工复核未通过；或由下一次运行复核）"},
    {"corrected", "shared", "recheck_pass",
     "qloop tickets verify --pass（人工复核通过；或由下一次运行复核）"},
    {"discovered", "shared", "recheck_pass", NULL},
    {"feedback", "shared", "recheck_pass", NULL},
    {"negotiated", "shared", "recheck_pass", NULL},
    {"shared", "feedback", "reopen", NULL},
    {"confirmed", "feedback", "reopen", NULL},
    {"shared", "discovered", "reopen", NULL},
    {"confirmed", "discovered", "reopen", NULL},
};
enum { NTRANSITIONS = sizeof transitions / sizeof transitions[0] };

/* The entry for (from, to, event); by_user: only those a person may make. */
static const struct transition *find_transition(const char *from, const char *to,
                                                const char *event, bool by_user)
{
    for (int i = 0; i < NTRANSITIONS; i++) {
        const struct transition *t = &transitions[i];
        if (strcmp(t->from, from) == 0 && strcmp(t->to, to) == 0 &&
            strcmp(t->event, event) == 0 && (!by_user || t->how))
            return t;
    }
    return NULL;
}

/* Whether state is a closed one (shared, confirmed). */
static bool is_closed(const char *state)
{
    return strcmp(state, "shared") == 0 || strcmp(state, "confirmed") == 0;
}

/* ---- small helpers ------------------------------------------------------ */

/* Fills err from SQLite and returns -2. */
static int sqlerr(sqlite3 *db, const char *what, struct qloop_error *err)
{
    store_error(db, what, err);
    return -2;
}

/* Prepares sql; NULL with err filled on failure. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql, struct qloop_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_error(db, "准备数据库语句", err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Runs sql, whose only parameter ?1 is a ticket id, to completion.
 * Returns 0, or -2 with err naming what failed. */
static int exec_for_ticket(sqlite3 *db, const char *sql, int64_t id, const char *what,
                           struct qloop_error *err)
{
    sqlite3_stmt *st = prep(db, sql, err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sqlerr(db, what, err);
}

/* Prepares sql into *cache on first use and resets it on later ones (the
 * caller finalizes the cache); with cache NULL, a fresh statement the caller
 * finalizes. NULL with err filled on failure. */
static sqlite3_stmt *prep_cached(sqlite3 *db, sqlite3_stmt **cache, const char *sql,
                                 struct qloop_error *err)
{
    if (!cache)
        return prep(db, sql, err);
    if (*cache) {
        sqlite3_reset(*cache);
        sqlite3_clear_bindings(*cache);
        return *cache;
    }
    return *cache = prep(db, sql, err);
}

/* Finalizes st unless it is the cached statement. */
static void done_with(sqlite3_stmt *st, sqlite3_stmt **cache)
{
    if (!cache)
        sqlite3_finalize(st);
    else
        sqlite3_reset(st);
}

/* Binds s as text; NULL or "" as SQL NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Copies column i as text into out ("" when NULL). */
static void col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, size, "%s", s ? (const char *)s : "");
}

/* A malloc'd copy of column i as text; NULL when the column is NULL. */
static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? qloop_xstrdup((const char *)s) : NULL;
}

/* t as stored: "YYYY-MM-DDTHH:MM:SS+08:00". */
static void fmt_time(int64_t t, char out[32]) { qloop_format_datetime(t, out); }

/* The date part of an ISO time ("" stays ""). */
static void date_part(const char *iso, char out[11])
{
    snprintf(out, 11, "%.10s", iso);
}

/* A JSON string of s with invalid UTF-8 bytes replaced by U+FFFD; JSON null
 * for NULL. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    struct qloop_buf b = {0};
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        int ok = n > 0;
        for (int k = 1; ok && k < n; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (ok) {
            qloop_buf_append(&b, (const char *)p, (size_t)n);
            p += n;
        } else {
            qloop_buf_append(&b, "\xEF\xBF\xBD", 3);
            p++;
        }
    }
    v = json_string(qloop_buf_str(&b));
    qloop_buf_free(&b);
    return v ? v : json_string("");
}

/* jstr, but "" is null too (unset times). */
static json_t *jtime(const char *s) { return s && *s ? jstr(s) : json_null(); }

/* Appends an audit entry whose detail is obj (consumed). */
static int audit_json(sqlite3 *db, const char *kind, int64_t ticket, const char *actor, json_t *obj,
                      struct qloop_error *err)
{
    char subject[48];
    snprintf(subject, sizeof subject, "ticket:%lld", (long long)ticket);
    char *detail = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!detail)
        return qloop_error_set(err, NULL, 0, 0, "生成审计记录失败（内存不足）"), -2;
    int rc = audit_append(db, kind, subject, actor && *actor ? actor : "system", detail, err);
    free(detail);
    return rc == 0 ? 0 : -2;
}

/* Item changes made by one sweep (a run adding records, a re-check, a
 * ticket closing its records) are audited one entry per ticket, change, run
 * and actor, listing every item: {"ticket", "change", "run", "count",
 * "items": [[item id, record_ref], ...], "reopened_from"}. The chain still
 * covers each record's change, without an entry (and a hash, a statement
 * round trip) per record: a first night adds hundreds of thousands. */
struct item_batch {
    int64_t ticket, reopened_from;
    char change[24], run[96], actor[256];
    json_t *items;
};

/* Writes the pending entry of b, if any. Returns 0 or -2. */
static int item_batch_flush(sqlite3 *db, struct item_batch *b, struct qloop_error *err)
{
    if (!b->items)
        return 0;
    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_integer(b->ticket));
    json_object_set_new(o, "change", jstr(b->change));
    if (b->run[0])
        json_object_set_new(o, "run", jstr(b->run));
    json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(b->items)));
    json_object_set_new(o, "items", b->items);
    if (b->reopened_from > 0)
        json_object_set_new(o, "reopened_from", json_integer(b->reopened_from));
    b->items = NULL;
    return audit_json(db, "ticket.item", b->ticket, b->actor, o, err);
}

/* Audits one change of an item (change = added | reopened | fixed |
 * fixed_missing | missing | reappeared | closed): into batch b, flushing it
 * first when the item belongs to another entry; straight to the chain when
 * b is NULL. */
static int audit_item(sqlite3 *db, struct item_batch *b, int64_t ticket, int64_t item,
                      const char *record_ref, const char *change, const char *actor,
                      const char *run_id, int64_t reopened_from, struct qloop_error *err)
{
    struct item_batch one = {0};
    struct item_batch *t = b ? b : &one;
    if (!actor || !*actor)
        actor = "system";
    if (t->items && (t->ticket != ticket || t->reopened_from != reopened_from ||
                     strcmp(t->change, change) != 0 || strcmp(t->run, run_id ? run_id : "") != 0 ||
                     strcmp(t->actor, actor) != 0) &&
        item_batch_flush(db, t, err) != 0)
        return -2;
    if (!t->items) {
        t->ticket = ticket;
        t->reopened_from = reopened_from;
        snprintf(t->change, sizeof t->change, "%s", change);
        snprintf(t->run, sizeof t->run, "%s", run_id ? run_id : "");
        snprintf(t->actor, sizeof t->actor, "%s", actor);
        t->items = json_array();
    }
    json_t *pair = json_array();
    json_array_append_new(pair, json_integer(item));
    json_array_append_new(pair, jstr(record_ref));
    json_array_append_new(t->items, pair);
    return b ? 0 : item_batch_flush(db, t, err);
}

/* Drops a batch's pending entry after an error (its sweep is rolled back). */
static void item_batch_drop(struct item_batch *b)
{
    json_decref(b->items);
    b->items = NULL;
}

/* ---- one ticket in memory ------------------------------------------------ */

struct tk {
    int64_t id;
    char dataset[512], rule[512], source[16], dept[512], state[16];
    char opened_by[256], policy[64];
    bool urgent;
    char received_at[32], deadline[32], base_deadline[32];
    char ext_until[32], ext_reason[1024], ext_actor[256];
};

/* Loads ticket id. Returns 0, -1 when there is none, -2 on a store error. */
static int load_ticket(sqlite3 *db, int64_t id, struct tk *t, struct qloop_error *err)
{
    sqlite3_stmt *st = prep(db,
                            "SELECT id, dataset, rule, source, dept, state, opened_by, policy,"
                            " urgent, received_at, deadline, base_deadline, ext_until, ext_reason,"
                            " ext_actor FROM tickets WHERE id = ?1",
                            err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        col_copy(st, 1, t->dataset, sizeof t->dataset);
        col_copy(st, 2, t->rule, sizeof t->rule);
        col_copy(st, 3, t->source, sizeof t->source);
        col_copy(st, 4, t->dept, sizeof t->dept);
        col_copy(st, 5, t->state, sizeof t->state);
        col_copy(st, 6, t->opened_by, sizeof t->opened_by);
        col_copy(st, 7, t->policy, sizeof t->policy);
        t->urgent = sqlite3_column_int(st, 8) != 0;
        col_copy(st, 9, t->received_at, sizeof t->received_at);
        col_copy(st, 10, t->deadline, sizeof t->deadline);
        col_copy(st, 11, t->base_deadline, sizeof t->base_deadline);
        col_copy(st, 12, t->ext_until, sizeof t->ext_until);
        col_copy(st, 13, t->ext_reason, sizeof t->ext_reason);
        col_copy(st, 14, t->ext_actor, sizeof t->ext_actor);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sqlerr(db, "读取工单", err);
    return qloop_error_set(err, NULL, 0, 0, "工单 #%lld 不存在；用 qloop tickets list 查看现有工单",
                           (long long)id);
}

/* Counts the ticket's items: the open ones (open or missing), or all. 0 on error. */
static long count_items(sqlite3 *db, int64_t ticket, bool open_only)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           open_only ? "SELECT count(*) FROM ticket_items WHERE ticket_id = ?1"
                                       " AND state IN ('open','missing')"
                                     : "SELECT count(*) FROM ticket_items WHERE ticket_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, ticket);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return n;
}

/* The recipient of extension requests under policy p for ticket t. */
static void approver_of(const struct qloop_policy *p, const struct tk *t, char *out, size_t size)
{
    if (strcmp(p->approver_role, "provider_head") == 0)
        snprintf(out, size, "%s %s", t->dept, p->approver);
    else
        snprintf(out, size, "%s", p->approver);
}

/* Writes an outbox event about ticket t. */
static int notify(sqlite3 *db, const struct tk *t, const char *kind, const char *key,
                  const char *recipient, const char *message, int64_t at,
                  struct qloop_error *err)
{
    struct outbox_event ev = {key, kind, t->id, recipient, message, at};
    return outbox_add(db, &ev, NULL, err) == 0 ? 0 : -2;
}

/* What a person may do from state (the transition table, plus extensions). */
static void allowed_text(const struct tk *t, char *out, size_t size)
{
    struct qloop_buf b = {0};
    for (int i = 0; i < NTRANSITIONS; i++) {
        const struct transition *tr = &transitions[i];
        if (strcmp(tr->from, t->state) != 0 || !tr->how)
            continue;
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen = seen || (strcmp(transitions[j].from, t->state) == 0 && transitions[j].how &&
                            strcmp(transitions[j].how, tr->how) == 0);
        if (seen)
            continue;
        qloop_buf_printf(&b, "%s%s", b.len ? "；" : "", tr->how);
    }
    if (strcmp(t->state, "feedback") == 0) {
        qloop_buf_printf(&b, "；qloop tickets extend（申请延期）");
        if (t->ext_until[0])
            qloop_buf_printf(&b, "；qloop tickets approve / reject（审批延期申请）");
    }
    if (b.len == 0)
        qloop_buf_printf(&b, "无（工单已关闭；同一记录再次出错时，下一次运行会把它列入新工单）");
    snprintf(out, size, "%s", qloop_buf_str(&b));
    qloop_buf_free(&b);
}

/* Fills err with a refusal of action on t, naming what is allowed; -1. */
static int refuse(const struct tk *t, const char *action, struct qloop_error *err)
{
    char allowed[1024];
    allowed_text(t, allowed, sizeof allowed);
    return qloop_error_set(err, NULL, 0, 0, "工单 #%lld 当前状态为「%s」（%s），不能%s。当前允许：%s",
                           (long long)t->id, ticket_state_zh(t->state), t->state, action, allowed);
}

/* Inserts a history row and its audit entry; *hid gets the row id. */
static int record_history(sqlite3 *db, const struct tk *t, const char *event, const char *from,
                          const char *to, const char *actor, const char *reason, int64_t at,
                          const char *deadline_before, const char *deadline_after,
                          const char *run_id, int64_t *hid, struct qloop_error *err)
{
    char at_s[32];
    fmt_time(at, at_s);
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO ticket_history(ticket_id, at, actor, event, from_state,"
                            " to_state, reason, deadline_before, deadline_after, run_id)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                            err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, t->id);
    bind_text(st, 2, at_s);
    bind_text(st, 3, actor);
    bind_text(st, 4, event);
    bind_text(st, 5, from);
    bind_text(st, 6, to);
    bind_text(st, 7, reason);
    bind_text(st, 8, deadline_before);
    bind_text(st, 9, deadline_after);
    bind_text(st, 10, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "写入工单历史", err);
    if (hid)
        *hid = sqlite3_last_insert_rowid(db);

    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_integer(t->id));
    json_object_set_new(o, "event", jstr(event));
    json_object_set_new(o, "from", jtime(from));
    json_object_set_new(o, "to", jstr(to));
    json_object_set_new(o, "reason", jtime(reason));
    json_object_set_new(o, "deadline_before", jtime(deadline_before));
    json_object_set_new(o, "deadline_after", jtime(deadline_after));
    if (run_id)
        json_object_set_new(o, "run", jstr(run_id));
    const char *kind = !from                  ? "ticket.open"
                       : strcmp(from, to) == 0 ? "ticket.extension"
                                               : "ticket.transition";
    return audit_json(db, kind, t->id, actor, o, err);
}

/* A transition about to be made. */
struct change {
    const char *to, *event, *actor, *reason, *run_id;
    int64_t at;
    const char *received_at; /* new received_at, NULL: unchanged */
    const char *deadline;    /* new deadline (also the new base deadline), NULL: unchanged */
    bool urgent;             /* with deadline: the ticket's own */
};

/* Makes the transition c on t: checks the table, updates the ticket (times,
 * pending extension, closing its items), writes history and audit, and the
 * outbox event someone must act on. by_user: refuse run-only moves. */
static int apply(sqlite3 *db, struct tk *t, const struct change *c, bool by_user,
                 const struct qloop_policy *p, struct qloop_error *err)
{
    if (!find_transition(t->state, c->to, c->event, by_user)) {
        char action[64];
        snprintf(action, sizeof action, "转为「%s」", ticket_state_zh(c->to));
        return refuse(t, action, err);
    }
    char from[16], at_s[32], deadline_before[32];
    snprintf(from, sizeof from, "%s", t->state);
    snprintf(deadline_before, sizeof deadline_before, "%s", t->deadline);
    fmt_time(c->at, at_s);
    bool leaves_feedback = strcmp(from, "feedback") == 0;
    bool closes = is_closed(c->to);

    sqlite3_stmt *st = prep(
        db,
        "UPDATE tickets SET state = ?2, received_at = coalesce(?3, received_at),"
        " deadline = coalesce(?4, deadline), base_deadline = coalesce(?4, base_deadline),"
        " urgent = CASE WHEN ?4 IS NULL THEN urgent ELSE ?5 END,"
        " answered_at = CASE WHEN ?6 THEN ?7 ELSE answered_at END,"
        " closed_at = CASE WHEN ?8 THEN ?7 ELSE closed_at END,"
        " ext_until = CASE WHEN ?6 THEN NULL ELSE ext_until END,"
        " ext_reason = CASE WHEN ?6 THEN NULL ELSE ext_reason END,"
        " ext_actor = CASE WHEN ?6 THEN NULL ELSE ext_actor END,"
        " ext_at = CASE WHEN ?6 THEN NULL ELSE ext_at END,"
        " note = coalesce(?9, note)"
        " WHERE id = ?1",
        err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, t->id);
    bind_text(st, 2, c->to);
    bind_text(st, 3, c->received_at);
    bind_text(st, 4, c->deadline);
    sqlite3_bind_int(st, 5, c->urgent);
    sqlite3_bind_int(st, 6, leaves_feedback);
    bind_text(st, 7, at_s);
    sqlite3_bind_int(st, 8, closes);
    bool answer = strcmp(c->event, "rectified") == 0 || strcmp(c->event, "confirmed") == 0 ||
                  strcmp(c->event, "negotiated") == 0;
    bind_text(st, 9, answer ? c->reason : NULL);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "更新工单状态", err);

    snprintf(t->state, sizeof t->state, "%s", c->to);
    if (c->received_at)
        snprintf(t->received_at, sizeof t->received_at, "%s", c->received_at);
    if (c->deadline) {
        snprintf(t->deadline, sizeof t->deadline, "%s", c->deadline);
        snprintf(t->base_deadline, sizeof t->base_deadline, "%s", c->deadline);
        t->urgent = c->urgent;
    }
    if (leaves_feedback)
        t->ext_until[0] = t->ext_reason[0] = t->ext_actor[0] = '\0';

    int64_t hid;
    if (record_history(db, t, c->event, from, c->to, c->actor, c->reason, c->at, deadline_before,
                       t->deadline, c->run_id, &hid, err) != 0)
        return -2;

    /* Closing: the open items of a confirmed ticket are closed (the data was
     * right), those of a shared one fixed. */
    if (closes) {
        sqlite3_stmt *q = prep(db,
                               "SELECT id, record_ref FROM ticket_items WHERE ticket_id = ?1"
                               " AND state IN ('open','missing') ORDER BY id",
                               err);
        if (!q)
            return -2;
        sqlite3_bind_int64(q, 1, t->id);
        struct {
            int64_t id;
            char ref[40];
        } *items = NULL;
        size_t n = 0, cap = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                items = qloop_xrealloc(items, cap * sizeof *items);
            }
            items[n].id = sqlite3_column_int64(q, 0);
            col_copy(q, 1, items[n].ref, sizeof items[n].ref);
            n++;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            free(items);
            return sqlerr(db, "读取工单记录", err);
        }
        const char *item_state = strcmp(c->to, "confirmed") == 0 ? "closed" : "fixed";
        sqlite3_stmt *u = prep(db,
                               "UPDATE ticket_items SET state = ?2, closed_at = ?3, closed_run = ?4"
                               " WHERE id = ?1",
                               err);
        int result = u ? 0 : -2;
        struct item_batch batch = {0};
        for (size_t i = 0; result == 0 && i < n; i++) {
            sqlite3_reset(u);
            sqlite3_bind_int64(u, 1, items[i].id);
            bind_text(u, 2, item_state);
            bind_text(u, 3, at_s);
            bind_text(u, 4, c->run_id);
            if (sqlite3_step(u) != SQLITE_DONE)
                result = sqlerr(db, "关闭工单记录", err);
            else
                result = audit_item(db, &batch, t->id, items[i].id, items[i].ref, item_state,
                                    c->actor, c->run_id, 0, err);
        }
        if (result == 0)
            result = item_batch_flush(db, &batch, err);
        item_batch_drop(&batch);
        sqlite3_finalize(u);
        free(items);
        if (result != 0)
            return result;
    }

    /* The outbox: whoever must act next. */
    char key[96], msg[2048], dl[11];
    date_part(t->deadline, dl);
    if (strcmp(c->to, "feedback") == 0 && strcmp(c->event, "feedback") == 0) {
        snprintf(key, sizeof key, "feedback:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg,
                 "工单 #%lld：数据集「%s」规则「%s」有 %ld 条问题记录，请于 %s 前答复%s（%s）",
                 (long long)t->id, t->dataset, t->rule, count_items(db, t->id, true), dl,
                 t->urgent ? "（紧急）" : "", p && p->basis[0] ? p->basis : "答复期限");
        return notify(db, t, "ticket.feedback", key, t->dept, msg, c->at, err);
    }
    if (strcmp(c->event, "recheck_fail") == 0) {
        snprintf(key, sizeof key, "recheck:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」）%s；请继续整改，答复期限仍为 %s",
                 (long long)t->id, t->dataset, t->rule, c->reason ? c->reason : "复核未通过",
                 dl[0] ? dl : "（无）");
        return notify(db, t, "ticket.recheck_failed", key, t->dept, msg, c->at, err);
    }
    if (closes) {
        snprintf(key, sizeof key, "closed:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」）已关闭：%s%s%s",
                 (long long)t->id, t->dataset, t->rule, ticket_state_zh(c->to),
                 c->reason ? "。" : "", c->reason ? c->reason : "");
        bool by_reporter = strcmp(t->source, "run") != 0 && strcmp(t->opened_by, "system") != 0;
        return notify(db, t, "ticket.closed", key, by_reporter ? t->opened_by : STAFF, msg, c->at,
                      err);
    }
    return 0;
}

/* ---- actions of staff and providers --------------------------------- */

int ticket_feedback(sqlite3 *db, int64_t id, const char *actor, bool urgent, const char *deadline,
                    const struct qloop_policy *policy, struct qloop_error *err)
{
    struct qloop_policy def;
    if (!policy) {
        policy_default(&def);
        policy = &def;
    }
    struct tk t;
    int rc = load_ticket(db, id, &t, err);
    if (rc != 0)
        return rc;
    if (!find_transition(t.state, "feedback", "feedback", true))
        return refuse(&t, "交给数源部门（feedback）", err);
    int64_t now = qloop_now();
    char received[32], dl[32], reason[1024];
    fmt_time(now, received);
    if (urgent) {
        if (!policy->urgent_own_deadline)
            return qloop_error_set(err, NULL, 0, 0, "政策「%s」不允许紧急工单自定期限；请去掉 --urgent",
                                   policy->name);
        int64_t d;
        if (!deadline || !qloop_parse_datetime(deadline, &d))
            return qloop_error_set(err, NULL, 0, 0,
                                   "紧急工单需要 --deadline 日期时间（ISO 8601，如 "
                                   "2024-09-30T18:00:00+08:00 或 2024-09-30）");
        if (strlen(deadline) == 10)
            d = policy_end_of_day(policy_day_of(d));
        if (d <= now) {
            char nows[32];
            fmt_time(now, nows);
            return qloop_error_set(err, NULL, 0, 0, "紧急工单的期限 %s 不晚于现在（%s）；请给出将来的时间",
                                   deadline, nows);
        }
        fmt_time(d, dl);
        snprintf(reason, sizeof reason, "紧急工单交数源部门「%s」，自定答复期限", t.dept);
    } else {
        if (deadline)
            return qloop_error_set(err, NULL, 0, 0, "--deadline 只用于紧急工单；请同时给出 --urgent");
        fmt_time(policy_deadline(policy, now), dl);
        snprintf(reason, sizeof reason, "交数源部门「%s」，%d 个%s内答复（%s）", t.dept,
                 policy->response_days, policy->response_natural ? "自然日" : "工作日",
                 policy->basis[0] ? policy->basis : policy->name);
    }
    struct change c = {.to = "feedback", .event = "feedback", .actor = actor, .reason = reason,
                       .at = now, .received_at = received, .deadline = dl, .urgent = urgent};
    return apply(db, &t, &c, true, policy, err);
}

int ticket_resolve(sqlite3 *db, int64_t id, const char *as, const char *actor, const char *note,
                   struct qloop_error *err)
{
    static const struct {
        const char *as, *to, *zh;
    } answers[] = {{"rectified", "corrected", "完成整改"},
                   {"confirmed", "confirmed", "确认无误"},
                   {"negotiated", "negotiated", "沟通解决"}};
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (as && strcmp(as, answers[i].as) == 0)
            k = i;
    if (k < 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "--as 应为 rectified（完成整改）、confirmed（确认无误）或 "
                               "negotiated（沟通解决），收到的是 \"%s\"",
                               as ? as : "");
    struct tk t;
    int rc = load_ticket(db, id, &t, err);
    if (rc != 0)
        return rc;
    char action[64];
    snprintf(action, sizeof action, "答复为%s（resolve --as %s）", answers[k].zh, answers[k].as);
    if (!find_transition(t.state, answers[k].to, answers[k].as, true))
        return refuse(&t, action, err);
    char reason[2048];
    snprintf(reason, sizeof reason, "数源部门答复：%s%s%s", answers[k].zh, note && *note ? "。" : "",
             note && *note ? note : "");
    struct change c = {.to = answers[k].to, .event = answers[k].as, .actor = actor,
                       .reason = reason, .at = qloop_now()};
    return apply(db, &t, &c, true, NULL, err);
}

/* Checks until against t's cap under policy; fills *until_t. -1 with the
 * latest date allowed when beyond. */
static int check_extension(const struct tk *t, const char *until, const struct qloop_policy *p,
                           int64_t *until_t, struct qloop_error *err)
{
    int y, m, d;
    if (!until || !qloop_parse_date(until, &y, &m, &d))
        return qloop_error_set(err, NULL, 0, 0, "--until 应为日期 YYYY-MM-DD，收到的是 \"%s\"",
                               until ? until : "");
    *until_t = policy_end_of_day(qloop_days_from_civil(y, m, d));
    int64_t received, base, current;
    if (!qloop_parse_datetime(t->received_at, &received) ||
        !qloop_parse_datetime(t->base_deadline, &base) ||
        !qloop_parse_datetime(t->deadline, &current))
        return qloop_error_set(err, NULL, 0, 0, "工单 #%lld 没有接收时间或答复期限，不能延期",
                               (long long)t->id);
    char rule[512], cap_s[32];
    policy_extension_rule(p, rule, sizeof rule);
    if (p->extension_days <= 0)
        return qloop_error_set(err, NULL, 0, 0, "%s；答复期限仍为 %.10s", rule, t->deadline);
    int64_t cap = policy_extension_cap(p, received, base);
    fmt_time(cap, cap_s);
    if (*until_t > cap)
        return qloop_error_set(err, NULL, 0, 0,
                               "延期至 %s 超过政策「%s」的上限：最晚可延至 %.10s（%s）", until,
                               p->name, cap_s, rule);
    if (*until_t <= current)
        return qloop_error_set(err, NULL, 0, 0,
                               "延期至 %s 不晚于当前答复期限 %.10s；请给出更晚的日期（最晚 %.10s）",
                               until, t->deadline, cap_s);
    return 0;
}

int ticket_extend(sqlite3 *db, int64_t id, const char *until, const char *reason,
                  const char *actor, const struct qloop_policy *policy, struct qloop_error *err)
{
    struct qloop_policy def;
    if (!policy) {
        policy_default(&def);
        policy = &def;
    }
    if (!reason || !*reason)
        return qloop_error_set(err, NULL, 0, 0, "申请延期需要 --reason 说明理由");
    struct tk t;
    int rc = load_ticket(db, id, &t, err);
    if (rc != 0)
        return rc;
    if (strcmp(t.state, "feedback") != 0)
        return refuse(&t, "申请延期（extend）", err);
    if (t.ext_until[0])
        return qloop_error_set(err, NULL, 0, 0,
                               "工单 #%lld 已有待审批的延期申请（至 %.10s，%s 提出）；请先由%s "
                               "qloop tickets approve 或 reject",
                               (long long)id, t.ext_until, t.ext_actor, policy->approver);
    int64_t until_t;
    if (check_extension(&t, until, policy, &until_t, err) != 0)
        return -1;
    int64_t now = qloop_now();
    char until_s[32], now_s[32];
    fmt_time(until_t, until_s);
    fmt_time(now, now_s);
    sqlite3_stmt *st = prep(db,
                            "UPDATE tickets SET ext_until = ?2, ext_reason = ?3, ext_actor = ?4,"
                            " ext_at = ?5 WHERE id = ?1",
                            err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, until_s);
    bind_text(st, 3, reason);
    bind_text(st, 4, actor);
    bind_text(st, 5, now_s);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "记录延期申请", err);
    char why[2048];
    snprintf(why, sizeof why, "申请延期至 %s：%s", until, reason);
    int64_t hid;
    if (record_history(db, &t, "extend_request", t.state, t.state, actor, why, now, t.deadline,
                       t.deadline, NULL, &hid, err) != 0)
        return -2;
    char key[96], msg[2048], to[768];
    snprintf(key, sizeof key, "ext_request:%lld:%lld", (long long)id, (long long)hid);
    snprintf(msg, sizeof msg, "工单 #%lld（%s）：%s 申请把答复期限从 %.10s 延至 %s，理由：%s；请审批",
             (long long)id, t.dept, actor, t.deadline, until, reason);
    approver_of(policy, &t, to, sizeof to);
    return notify(db, &t, "extension.requested", key, to, msg, now, err);
}

/* Loads t and checks an extension is pending; for approve and reject. */
static int load_pending(sqlite3 *db, int64_t id, struct tk *t, const char *action,
                        struct qloop_error *err)
{
    int rc = load_ticket(db, id, t, err);
    if (rc != 0)
        return rc;
    if (strcmp(t->state, "feedback") != 0)
        return refuse(t, action, err);
    if (!t->ext_until[0])
        return qloop_error_set(err, NULL, 0, 0,
                               "工单 #%lld 没有待审批的延期申请；数源部门先用 qloop tickets extend "
                               "--until DATE --reason T 申请",
                               (long long)id);
    return 0;
}

/* Writes the decision on t's pending extension: history, audit, outbox. */
static int decide(sqlite3 *db, struct tk *t, bool approved, const char *actor, const char *reason,
                  int64_t now, const char *deadline_before, struct qloop_error *err)
{
    int64_t hid;
    if (record_history(db, t, approved ? "extend_approve" : "extend_reject", t->state, t->state,
                       actor, reason, now, deadline_before, t->deadline, NULL, &hid, err) != 0)
        return -2;
    char key[96], msg[2048];
    snprintf(key, sizeof key, "ext_decided:%lld:%lld", (long long)t->id, (long long)hid);
    snprintf(msg, sizeof msg, "工单 #%lld 的延期申请%s：%s；答复期限为 %.10s", (long long)t->id,
             approved ? "已批准" : "未获批准", reason, t->deadline);
    return notify(db, t, approved ? "extension.approved" : "extension.rejected", key, t->dept, msg,
                  now, err);
}

int ticket_approve(sqlite3 *db, int64_t id, const char *actor, const struct qloop_policy *policy,
                   struct qloop_error *err)
{
    struct qloop_policy def;
    if (!policy) {
        policy_default(&def);
        policy = &def;
    }
    struct tk t;
    int rc = load_pending(db, id, &t, "批准延期（approve）", err);
    if (rc != 0)
        return rc;
    char until[11];
    date_part(t.ext_until, until);
    int64_t until_t;
    if (check_extension(&t, until, policy, &until_t, err) != 0)
        return -1;
    int64_t now = qloop_now();
    if (exec_for_ticket(db,
                        "UPDATE tickets SET deadline = ext_until, ext_until = NULL,"
                        " ext_reason = NULL, ext_actor = NULL, ext_at = NULL WHERE id = ?1",
                        id, "批准延期", err) != 0)
        return -2;
    char before[32], reason[2048];
    snprintf(before, sizeof before, "%s", t.deadline);
    snprintf(t.deadline, sizeof t.deadline, "%s", t.ext_until);
    snprintf(reason, sizeof reason, "批准延期至 %s（审批：%s；申请理由：%s）", until,
             policy->approver, t.ext_reason);
    return decide(db, &t, true, actor, reason, now, before, err);
}

int ticket_reject(sqlite3 *db, int64_t id, const char *actor, const char *reason,
                  const struct qloop_policy *policy, struct qloop_error *err)
{
    (void)policy;
    if (!reason || !*reason)
        return qloop_error_set(err, NULL, 0, 0, "驳回延期申请需要 --reason 说明理由");
    struct tk t;
    int rc = load_pending(db, id, &t, "驳回延期（reject）", err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = prep(db,
                            "UPDATE tickets SET ext_until = NULL, ext_reason = NULL,"
                            " ext_actor = NULL, ext_at = NULL WHERE id = ?1",
                            err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "驳回延期", err);
    char why[2048];
    snprintf(why, sizeof why, "驳回延期至 %.10s 的申请：%s", t.ext_until, reason);
    return decide(db, &t, false, actor, why, qloop_now(), t.deadline, err);
}

int ticket_verify(sqlite3 *db, int64_t id, const char *actor, bool passed, const char *reason,
                  struct qloop_error *err)
{
    if (!passed && (!reason || !*reason))
        return qloop_error_set(err, NULL, 0, 0, "复核未通过需要 --reason 说明哪里仍有问题");
    struct tk t;
    int rc = load_ticket(db, id, &t, err);
    if (rc != 0)
        return rc;
    const char *to = passed ? "shared" : "feedback";
    const char *event = passed ? "recheck_pass" : "recheck_fail";
    if (!find_transition(t.state, to, event, true))
        return refuse(&t, passed ? "判定复核通过（verify --pass）" : "判定复核未通过（verify --fail）",
                      err);
    char why[2048];
    snprintf(why, sizeof why, "人工复核%s%s%s", passed ? "通过" : "未通过",
             reason && *reason ? "：" : "", reason && *reason ? reason : "");
    struct change c = {.to = to, .event = event, .actor = actor, .reason = why,
                       .at = qloop_now()};
    return apply(db, &t, &c, true, NULL, err);
}

/* ---- opening tickets and adding items ------------------------------- */

/* The open ticket of (dataset, rule, source): *id, or 0 when none. */
static int find_open_ticket(sqlite3 *db, const char *dataset, const char *rule, const char *source,
                            int64_t *id, struct qloop_error *err)
{
    sqlite3_stmt *st = prep(db,
                            "SELECT id FROM tickets WHERE dataset = ?1 AND rule = ?2 AND source = ?3"
                            " AND state NOT IN ('shared','confirmed')",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, dataset);
    bind_text(st, 2, rule);
    bind_text(st, 3, source);
    int rc = sqlite3_step(st);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlerr(db, "查找工单", err);
    return 0;
}

/* Opens a ticket in state discovered; *id gets it. */
static int open_ticket(sqlite3 *db, const char *dataset, const char *rule, const char *source,
                       const char *dept, const char *message, const char *actor,
                       const char *run_id, int64_t at, const struct qloop_policy *p, int64_t *id,
                       struct qloop_error *err)
{
    char at_s[32];
    fmt_time(at, at_s);
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO tickets(dataset, rule, source, dept, state, message, policy,"
                            " opened_at, opened_by, opened_run)"
                            " VALUES(?1, ?2, ?3, ?4, 'discovered', ?5, ?6, ?7, ?8, ?9)",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, dataset);
    bind_text(st, 2, rule);
    bind_text(st, 3, source);
    bind_text(st, 4, dept && *dept ? dept : NO_DEPT);
    bind_text(st, 5, message);
    bind_text(st, 6, p->name);
    bind_text(st, 7, at_s);
    bind_text(st, 8, actor);
    bind_text(st, 9, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "新建工单", err);
    *id = sqlite3_last_insert_rowid(db);
    struct tk t;
    if (load_ticket(db, *id, &t, err) != 0)
        return -2;
    char reason[1024];
    if (run_id)
        snprintf(reason, sizeof reason, "运行 %s 发现问题数据", run_id);
    else
        snprintf(reason, sizeof reason, "%s（%s）", strcmp(source, "import") == 0 ? "接口对接上报"
                                                                                : "系统填报",
                 actor);
    return record_history(db, &t, "open", NULL, "discovered", actor, reason, at, NULL, NULL, run_id,
                          NULL, err);
}

/* The latest item ever of (dataset, rule, record_ref): its ticket, the
 * ticket's state, the item's state and value. *found = 0 when none. */
struct prior {
    int found;
    int64_t ticket;
    char ticket_state[16], item_state[16];
    char *value;
};

static int find_prior(sqlite3 *db, const char *dataset, const char *rule, const char *ref,
                      struct prior *pr, sqlite3_stmt **cache, struct qloop_error *err)
{
    memset(pr, 0, sizeof *pr);
    sqlite3_stmt *st = prep_cached(db, cache,
                            "SELECT i.ticket_id, t.state, i.state, i.value FROM ticket_items i"
                            " JOIN tickets t ON t.id = i.ticket_id"
                            " WHERE i.dataset = ?1 AND i.rule = ?2 AND i.record_ref = ?3"
                            " ORDER BY i.id DESC LIMIT 1",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, dataset);
    bind_text(st, 2, rule);
    bind_text(st, 3, ref);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        pr->found = 1;
        pr->ticket = sqlite3_column_int64(st, 0);
        col_copy(st, 1, pr->ticket_state, sizeof pr->ticket_state);
        col_copy(st, 2, pr->item_state, sizeof pr->item_state);
        pr->value = col_dup(st, 3);
    }
    done_with(st, cache);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlerr(db, "查找记录的工单", err);
    return 0;
}

/* One problem record to add to a ticket. */
struct item_in {
    const char *record_ref, *record_key, *field, *value, *message, *reporter;
    int64_t row_no; /* < 0: unknown */
};

/* Adds item it to ticket tid; audits it. */
static int add_item(sqlite3 *db, int64_t tid, const char *dataset, const char *rule,
                    const struct item_in *it, int64_t at, const char *run_id, int64_t reopened_from,
                    const char *actor, int64_t *item_id, sqlite3_stmt **cache,
                    struct item_batch *batch, struct qloop_error *err)
{
    char at_s[32];
    fmt_time(at, at_s);
    sqlite3_stmt *st = prep_cached(db, cache,
                            "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref,"
                            " record_key, field, value, message, row_no, state, reporter, added_at,"
                            " added_run, last_run, reopened_from)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10, ?11, ?12, ?12,"
                            " ?13)",
                            err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, tid);
    bind_text(st, 2, dataset);
    bind_text(st, 3, rule);
    bind_text(st, 4, it->record_ref);
    bind_text(st, 5, it->record_key);
    bind_text(st, 6, it->field);
    if (it->value)
        sqlite3_bind_text(st, 7, it->value, -1, SQLITE_TRANSIENT);
    bind_text(st, 8, it->message);
    if (it->row_no >= 0)
        sqlite3_bind_int64(st, 9, it->row_no);
    bind_text(st, 10, it->reporter);
    bind_text(st, 11, at_s);
    bind_text(st, 12, run_id);
    if (reopened_from > 0)
        sqlite3_bind_int64(st, 13, reopened_from);
    int rc = sqlite3_step(st);
    done_with(st, cache);
    if (rc != SQLITE_DONE)
        return sqlerr(db, "写入工单记录", err);
    int64_t iid = sqlite3_last_insert_rowid(db);
    if (item_id)
        *item_id = iid;
    return audit_item(db, batch, tid, iid, it->record_ref,
                      reopened_from > 0 ? "reopened" : "added", actor, run_id, reopened_from, err);
}

/* Reopens closed ticket id (a run found one of its records failing again)
 * when it came from runs: back to the provider with a new receipt and
 * deadline under policy p (or to discovered when p does not hand over
 * automatically). Sets *tid to id when reopened, leaves it 0 otherwise
 * (a ticket filed by hand or imported is not reopened by a run). */
static int reopen_ticket(sqlite3 *db, int64_t id, const char *run_id, int64_t at,
                         const struct qloop_policy *p, int64_t *tid, struct qloop_error *err)
{
    struct tk t;
    int rc = load_ticket(db, id, &t, err);
    if (rc == -1)
        return 0;
    if (rc != 0)
        return -2;
    if (strcmp(t.source, "run") != 0 || !is_closed(t.state))
        return 0;
    char received[32], deadline[32], reason[512];
    fmt_time(at, received);
    fmt_time(policy_deadline(p, at), deadline);
    snprintf(reason, sizeof reason, "运行复核发现已关闭工单的问题记录再次出现，重新打开%s",
             p->auto_feedback ? "并交数源部门" : "");
    struct change c = {.to = p->auto_feedback ? "feedback" : "discovered", .event = "reopen",
                       .actor = "system", .reason = reason, .run_id = run_id, .at = at,
                       .received_at = p->auto_feedback ? received : NULL,
                       .deadline = p->auto_feedback ? deadline : NULL};
    if (apply(db, &t, &c, false, p, err) != 0)
        return -2;
    /* its next closing counts again in the department statistics */
    if (exec_for_ticket(db, "UPDATE tickets SET stats_run = NULL, closed_at = NULL WHERE id = ?1",
                        id, "重新打开工单", err) != 0)
        return -2;
    *tid = id;
    return 0;
}

/* After `added` items were added to ticket tid: a new ticket goes to
 * feedback under auto_feedback (or waits in discovered, announced to staff);
 * a ticket already with its provider tells it about the new records, once
 * per tag (the run's id, or the filed item). */
static int after_adding(sqlite3 *db, int64_t tid, bool is_new, long added, const char *run_id,
                        int64_t at, const struct qloop_policy *p, const char *tag,
                        struct qloop_error *err)
{
    struct tk t;
    if (load_ticket(db, tid, &t, err) != 0)
        return -2;
    char key[160], msg[2048], dl[11];
    if (is_new && p->auto_feedback) {
        char received[32], deadline[32], reason[1024];
        fmt_time(at, received);
        fmt_time(policy_deadline(p, at), deadline);
        snprintf(reason, sizeof reason, "按政策「%s」自动交数源部门「%s」，%d 个%s内答复（%s）",
                 p->name, t.dept, p->response_days, p->response_natural ? "自然日" : "工作日",
                 p->basis[0] ? p->basis : p->name);
        struct change c = {.to = "feedback", .event = "feedback", .actor = "system",
                           .reason = reason, .run_id = run_id, .at = at, .received_at = received,
                           .deadline = deadline};
        return apply(db, &t, &c, false, p, err);
    }
    if (is_new) {
        snprintf(key, sizeof key, "opened:%lld", (long long)tid);
        snprintf(msg, sizeof msg,
                 "新工单 #%lld：数据集「%s」规则「%s」有 %ld 条问题记录，待交数源部门「%s」"
                 "（qloop tickets feedback %lld --actor 姓名）",
                 (long long)tid, t.dataset, t.rule, added, t.dept, (long long)tid);
        return notify(db, &t, "ticket.opened", key, STAFF, msg, at, err);
    }
    if (strcmp(t.state, "feedback") != 0 || added == 0)
        return 0;
    date_part(t.deadline, dl);
    snprintf(key, sizeof key, "items:%lld:%s", (long long)tid, tag);
    snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」）新增 %ld 条问题记录，答复期限仍为 %s",
             (long long)tid, t.dataset, t.rule, added, dl);
    return notify(db, &t, "ticket.items_added", key, t.dept, msg, at, err);
}

/* The owner of dataset: in run_id when given, else in its latest run. */
static int dataset_owner(sqlite3 *db, const char *dataset, const char *run_id, char *out,
                         size_t size, bool *known, struct qloop_error *err)
{
    sqlite3_stmt *st = prep(db,
                            run_id ? "SELECT owner FROM run_datasets WHERE dataset = ?1 AND run_id = ?2"
                                   : "SELECT d.owner FROM run_datasets d JOIN runs r ON r.id = d.run_id"
                                     " WHERE d.dataset = ?1 ORDER BY r.as_of DESC, r.started_at DESC"
                                     " LIMIT 1",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, dataset);
    if (run_id)
        bind_text(st, 2, run_id);
    int rc = sqlite3_step(st);
    *known = rc == SQLITE_ROW;
    out[0] = '\0';
    if (rc == SQLITE_ROW)
        col_copy(st, 0, out, size);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlerr(db, "读取数据集的数源部门", err);
    if (!out[0])
        snprintf(out, size, "%s", NO_DEPT);
    return 0;
}

/* Whether key looks like a resident identity number or a mobile number. */
static bool looks_personal(const char *key)
{
    size_t n = strlen(key), digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += key[i] >= '0' && key[i] <= '9';
    if (n == 18 && (digits == 18 || (digits == 17 && (key[17] == 'X' || key[17] == 'x'))))
        return true;
    if (n == 15 && digits == 15)
        return true;
    return n == 11 && digits == 11 && key[0] == '1';
}

int ticket_file(sqlite3 *db, const struct ticket_report *r, const char *source,
                const struct qloop_policy *policy, int64_t *ticket_id, bool *duplicate,
                struct qloop_error *err)
{
    struct qloop_policy def;
    if (!policy) {
        policy_default(&def);
        policy = &def;
    }
    if (duplicate)
        *duplicate = false;
    if (ticket_id)
        *ticket_id = 0;
    static const char *const names[] = {"dataset（数据集）", "key（记录主键）", "message（问题说明）",
                                        "actor（填报人）"};
    const char *req[] = {r->dataset, r->key, r->message, r->actor};
    for (int i = 0; i < 4; i++)
        if (!req[i] || !*req[i])
            return qloop_error_set(err, NULL, 0, 0, "问题报告缺少 %s；请补上后再提交", names[i]);
    if (!source || (strcmp(source, "file") != 0 && strcmp(source, "import") != 0))
        return qloop_error_set(err, NULL, 0, 0, "问题报告的来源应为 file 或 import");
    const char *rule = r->rule && *r->rule ? r->rule : "manual";

    char ref[33];
    store_record_ref(db, r->dataset, r->key, strlen(r->key), ref);
    sqlite3_stmt *st = prep(db,
                            "SELECT ticket_id FROM ticket_items WHERE dataset = ?1 AND rule = ?2"
                            " AND record_ref = ?3 AND state IN ('open','missing')",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, r->dataset);
    bind_text(st, 2, rule);
    bind_text(st, 3, ref);
    int rc = sqlite3_step(st);
    int64_t existing = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlerr(db, "查找工单记录", err);
    if (existing) {
        if (duplicate)
            *duplicate = true;
        if (ticket_id)
            *ticket_id = existing;
        return 0;
    }

    char dept[512];
    bool known;
    if (dataset_owner(db, r->dataset, NULL, dept, sizeof dept, &known, err) != 0)
        return -2;
    if (r->dept && *r->dept)
        snprintf(dept, sizeof dept, "%s", r->dept);
    /* What a reporter sends is stored masked when qloop cannot tell whether
     * the dataset's fields are sensitive, or when it looks like personal data. */
    struct qloop_buf masked = {0}, value = {0};
    if (!known || looks_personal(r->key))
        mask_sensitive(r->key, strlen(r->key), &masked);
    else
        qloop_buf_printf(&masked, "%s", r->key);
    if (r->value && (!known || looks_personal(r->value)))
        mask_sensitive(r->value, strlen(r->value), &value);
    else if (r->value)
        qloop_buf_printf(&value, "%s", r->value);

    int64_t now = qloop_now();
    int64_t tid;
    int result = find_open_ticket(db, r->dataset, rule, source, &tid, err);
    bool is_new = tid == 0;
    if (result == 0 && is_new)
        result = open_ticket(db, r->dataset, rule, source, dept, r->message, r->actor, NULL, now,
                             policy, &tid, err);
    struct prior pr = {0};
    int64_t item_id = 0;
    if (result == 0)
        result = find_prior(db, r->dataset, rule, ref, &pr, NULL, err);
    if (result == 0) {
        struct item_in it = {ref, qloop_buf_str(&masked), r->field,
                             r->value ? qloop_buf_str(&value) : NULL, r->message, r->actor, -1};
        result = add_item(db, tid, r->dataset, rule, &it, now, NULL,
                          pr.found && is_closed(pr.ticket_state) ? pr.ticket : 0, r->actor,
                          &item_id, NULL, NULL, err);
    }
    free(pr.value);
    qloop_buf_free(&masked);
    qloop_buf_free(&value);
    if (result != 0)
        return result;
    char tag[48];
    snprintf(tag, sizeof tag, "item%lld", (long long)item_id);
    if (after_adding(db, tid, is_new, 1, NULL, now, policy, tag, err) != 0)
        return -2;
    if (ticket_id)
        *ticket_id = tid;
    return 0;
}

/* ---- what a run does ----------------------------------------------------- */

int ticket_open_refs(sqlite3 *db, const char *dataset,
                     void (*cb)(void *ctx, const char *record_ref), void *ctx,
                     struct qloop_error *err)
{
    sqlite3_stmt *st = prep(db,
                            "SELECT DISTINCT record_ref FROM ticket_items WHERE dataset = ?1"
                            " AND state IN ('open','missing')",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, dataset);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_error(db, "读取未关闭的工单记录", err);
    return 0;
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
    if (idset_has(s, id))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = qloop_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = id;
}

/* What the re-check saw for one ticket. */
struct recheck {
    int64_t ticket;
    long judged, failing, missing, fixed;
};

/* An open item the run's rules judged. */
struct judged_item {
    int64_t id, ticket;
    char ref[40], state[16];
    int resolve_missing;
    int failing_again; /* open, and refreshed from a finding of this run */
};

/* Re-checks every open item whose rule judged its dataset in run_id.
 * Fills *out (one entry per ticket, in ticket order). */
static int recheck_items(sqlite3 *db, const char *run_id, int64_t at,
                         const struct ticket_seen *seen_by, struct recheck **out,
                         size_t *nout, struct qloop_error *err)
{
    *out = NULL;
    *nout = 0;
    /* Open items that fail again, the common case of a nightly run, are
     * refreshed in one statement from their first finding of this run; the
     * loop below then only counts them (last_run = this run). */
    sqlite3_stmt *st = prep(db,
                            "UPDATE ticket_items SET last_run = ?1, row_no = f.row_no,"
                            " record_key = coalesce(f.record_key, ticket_items.record_key),"
                            " value = f.value, message = coalesce(f.message, ticket_items.message)"
                            " FROM (SELECT min(id) AS id, dataset, rule, record_ref FROM findings"
                            "       WHERE run_id = ?1 GROUP BY dataset, rule, record_ref) g"
                            " JOIN findings f ON f.id = g.id"
                            " WHERE ticket_items.state = 'open' AND ticket_items.dataset = g.dataset"
                            " AND ticket_items.rule = g.rule AND ticket_items.record_ref = g.record_ref",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, run_id);
    int urc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (urc != SQLITE_DONE)
        return sqlerr(db, "更新仍未整改的工单记录", err);
    st = prep(db,
              "SELECT i.id, i.ticket_id, i.record_ref, i.state, r.resolve_missing,"
              " i.state = 'open' AND i.last_run IS ?1"
              " FROM ticket_items i JOIN rule_results r"
              " ON r.run_id = ?1 AND r.rule = i.rule AND r.dataset = i.dataset"
              " WHERE i.state IN ('open','missing') ORDER BY i.ticket_id, i.id",
              err);
    if (!st)
        return -2;
    bind_text(st, 1, run_id);
    struct judged_item *items = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            items = qloop_xrealloc(items, cap * sizeof *items);
        }
        items[n].id = sqlite3_column_int64(st, 0);
        items[n].ticket = sqlite3_column_int64(st, 1);
        col_copy(st, 2, items[n].ref, sizeof items[n].ref);
        col_copy(st, 3, items[n].state, sizeof items[n].state);
        items[n].resolve_missing = sqlite3_column_int(st, 4);
        items[n].failing_again = sqlite3_column_int(st, 5);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(items);
        return sqlerr(db, "读取待复核的工单记录", err);
    }

    char at_s[32];
    fmt_time(at, at_s);
    sqlite3_stmt *find = prep(db,
                              "SELECT f.row_no, f.record_key, f.field, f.value, f.message"
                              " FROM findings f JOIN ticket_items i ON i.id = ?2"
                              " WHERE f.run_id = ?1 AND f.dataset = i.dataset"
                              " AND f.record_ref = i.record_ref AND f.rule = i.rule"
                              " ORDER BY f.id LIMIT 1",
                              err);
    sqlite3_stmt *seen = find ? prep(db,
                                     seen_by
                                         ? "SELECT dataset, record_ref FROM ticket_items"
                                           " WHERE id = ?2 AND ?1 IS NOT NULL"
                                         : "SELECT 1 FROM run_seen s JOIN ticket_items i ON i.id = ?2"
                                           " WHERE s.run_id = ?1 AND s.dataset = i.dataset"
                                           " AND s.record_ref = i.record_ref",
                                     err)
                              : NULL;
    sqlite3_stmt *still = seen ? prep(db,
                                      "UPDATE ticket_items SET state = 'open', last_run = ?2,"
                                      " row_no = ?3, record_key = coalesce(?4, record_key),"
                                      " value = ?5, message = coalesce(?6, message)"
                                      " WHERE id = ?1",
                                      err)
                               : NULL;
    sqlite3_stmt *set = still ? prep(db,
                                     "UPDATE ticket_items SET state = ?2,"
                                     " closed_at = CASE WHEN ?2 = 'fixed' THEN ?3 END,"
                                     " closed_run = CASE WHEN ?2 = 'fixed' THEN ?4 END"
                                     " WHERE id = ?1",
                                     err)
                              : NULL;
    int result = set ? 0 : -2;
    struct item_batch batch = {0};
    struct recheck *rs = NULL;
    size_t nrs = 0;
    for (size_t i = 0; result == 0 && i < n; i++) {
        struct judged_item *it = &items[i];
        if (nrs == 0 || rs[nrs - 1].ticket != it->ticket) {
            rs = qloop_xrealloc(rs, (nrs + 1) * sizeof *rs);
            memset(&rs[nrs], 0, sizeof *rs);
            rs[nrs++].ticket = it->ticket;
        }
        struct recheck *r = &rs[nrs - 1];
        r->judged++;
        if (it->failing_again) {
            r->failing++;
            continue;
        }
        sqlite3_reset(find);
        bind_text(find, 1, run_id);
        sqlite3_bind_int64(find, 2, it->id);
        rc = sqlite3_step(find);
        if (rc == SQLITE_ROW) {
            r->failing++;
            sqlite3_reset(still);
            sqlite3_bind_int64(still, 1, it->id);
            bind_text(still, 2, run_id);
            sqlite3_bind_value(still, 3, sqlite3_column_value(find, 0));
            sqlite3_bind_value(still, 4, sqlite3_column_value(find, 1));
            sqlite3_bind_value(still, 5, sqlite3_column_value(find, 3));
            sqlite3_bind_value(still, 6, sqlite3_column_value(find, 4));
            if (sqlite3_step(still) != SQLITE_DONE)
                result = sqlerr(db, "更新工单记录", err);
            else if (strcmp(it->state, "missing") == 0)
                result = audit_item(db, &batch, it->ticket, it->id, it->ref, "reappeared",
                                    "system", run_id, 0, err);
            continue;
        }
        if (rc != SQLITE_DONE) {
            result = sqlerr(db, "查找复核结果", err);
            break;
        }
        sqlite3_reset(seen);
        bind_text(seen, 1, run_id);
        sqlite3_bind_int64(seen, 2, it->id);
        rc = sqlite3_step(seen);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            result = sqlerr(db, "查找复核结果", err);
            break;
        }
        bool was_seen = rc == SQLITE_ROW;
        if (seen_by && was_seen)
            was_seen = seen_by->seen(seen_by->ctx, (const char *)sqlite3_column_text(seen, 0),
                                     (const char *)sqlite3_column_text(seen, 1));
        const char *to;
        if (was_seen || it->resolve_missing) {
            to = "fixed";
            r->fixed++;
        } else {
            to = "missing";
            r->missing++;
            if (strcmp(it->state, "missing") == 0)
                continue;
        }
        sqlite3_reset(set);
        sqlite3_bind_int64(set, 1, it->id);
        bind_text(set, 2, to);
        bind_text(set, 3, at_s);
        bind_text(set, 4, run_id);
        if (sqlite3_step(set) != SQLITE_DONE)
            result = sqlerr(db, "更新工单记录", err);
        else
            result = audit_item(db, &batch, it->ticket, it->id, it->ref,
                                was_seen                   ? "fixed"
                                : strcmp(to, "fixed") == 0 ? "fixed_missing"
                                                           : "missing",
                                "system", run_id, 0, err);
    }
    if (result == 0)
        result = item_batch_flush(db, &batch, err);
    item_batch_drop(&batch);
    sqlite3_finalize(find);
    sqlite3_finalize(seen);
    sqlite3_finalize(still);
    sqlite3_finalize(set);
    free(items);
    if (result != 0) {
        free(rs);
        return result;
    }
    *out = rs;
    *nout = nrs;
    return 0;
}

/* Moves the re-checked tickets: all records pass → shared; a corrected one
 * with records still failing or missing → back to feedback. */
static int close_rechecked(sqlite3 *db, const struct recheck *rs, size_t n, const char *run_id,
                           int64_t at, const struct qloop_policy *p, struct idset *updated,
                           struct qloop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct recheck *r = &rs[i];
        if (r->fixed > 0)
            idset_add(updated, r->ticket);
        struct tk t;
        if (load_ticket(db, r->ticket, &t, err) != 0)
            return -2;
        long open = count_items(db, t.id, true);
        char reason[1024];
        if (open == 0) {
            snprintf(reason, sizeof reason, "运行复核通过：%ld 条问题记录均已整改", r->fixed);
            struct change c = {.to = "shared", .event = "recheck_pass", .actor = "system",
                               .reason = reason, .run_id = run_id, .at = at};
            if (find_transition(t.state, "shared", "recheck_pass", false) &&
                apply(db, &t, &c, false, p, err) != 0)
                return -2;
        } else if (strcmp(t.state, "corrected") == 0) {
            int len = snprintf(reason, sizeof reason, "运行复核未通过：");
            if (r->failing > 0)
                len += snprintf(reason + len, sizeof reason - (size_t)len, "%ld 条记录仍不符合规则",
                                r->failing);
            if (r->missing > 0)
                snprintf(reason + len, sizeof reason - (size_t)len, "%s%ld 条记录在本次数据中缺失",
                         r->failing > 0 ? "，" : "", r->missing);
            struct change c = {.to = "feedback", .event = "recheck_fail", .actor = "system",
                               .reason = reason, .run_id = run_id, .at = at};
            if (apply(db, &t, &c, false, p, err) != 0)
                return -2;
        }
    }
    return 0;
}

/* One finding of the run with no open item. */
struct new_finding {
    char *dataset, *rule, *ref, *key, *field, *value, *message;
    int64_t row_no;
};

/* Frees n findings and the array. */
static void free_findings(struct new_finding *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].dataset);
        free(f[i].rule);
        free(f[i].ref);
        free(f[i].key);
        free(f[i].field);
        free(f[i].value);
        free(f[i].message);
    }
    free(f);
}

/* The rule's message in run_id (NULL when none). */
static char *rule_message(sqlite3 *db, const char *run_id, const char *rule)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT message FROM rule_results WHERE run_id = ?1 AND rule = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    bind_text(st, 1, run_id);
    bind_text(st, 2, rule);
    char *m = sqlite3_step(st) == SQLITE_ROW ? col_dup(st, 0) : NULL;
    sqlite3_finalize(st);
    return m;
}

/* Turns the run's findings without an open item into items of the open
 * ticket of their dataset and rule, or of a new one. */
static int add_findings(sqlite3 *db, const char *run_id, int64_t at,
                        const struct qloop_policy *p, struct ticket_sync_counts *counts,
                        struct idset *updated, struct qloop_error *err)
{
    sqlite3_stmt *st = prep(
        db,
        "SELECT f.dataset, f.rule, f.record_ref, f.record_key, f.field, f.value, f.message,"
        " f.row_no FROM findings f WHERE f.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM ticket_items i"
        " WHERE i.dataset = f.dataset AND i.rule = f.rule AND i.record_ref = f.record_ref"
        " AND i.state IN ('open','missing')) ORDER BY f.dataset, f.rule, f.id",
        err);
    if (!st)
        return -2;
    bind_text(st, 1, run_id);
    struct new_finding *fs = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            fs = qloop_xrealloc(fs, cap * sizeof *fs);
        }
        struct new_finding *f = &fs[n++];
        f->dataset = col_dup(st, 0);
        f->rule = col_dup(st, 1);
        f->ref = col_dup(st, 2);
        f->key = col_dup(st, 3);
        f->field = col_dup(st, 4);
        f->value = col_dup(st, 5);
        f->message = col_dup(st, 6);
        f->row_no = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 7);
        if (!f->dataset || !f->rule || !f->ref) {
            sqlite3_finalize(st);
            free_findings(fs, n);
            return qloop_error_set(err, NULL, 0, 0, "运行 %s 的问题记录缺少数据集、规则或记录标识",
                                   run_id),
                   -2;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free_findings(fs, n);
        return sqlerr(db, "读取本次运行的问题记录", err);
    }

    sqlite3_stmt *prior_st = NULL, *add_st = NULL;
    int result = 0;
    int64_t tid = 0;
    bool is_new = false;
    long added = 0;
    struct item_batch batch = {0};
    for (size_t i = 0; result == 0 && i <= n; i++) {
        bool group_ends = i == n || (i > 0 && (strcmp(fs[i].dataset, fs[i - 1].dataset) != 0 ||
                                               strcmp(fs[i].rule, fs[i - 1].rule) != 0));
        if (group_ends && tid) {
            if (!is_new && added > 0)
                idset_add(updated, tid);
            result = item_batch_flush(db, &batch, err);
            if (result == 0)
                result = after_adding(db, tid, is_new, added, run_id, at, p, run_id, err);
            tid = 0;
            added = 0;
        }
        if (i == n || result != 0)
            break;
        struct new_finding *f = &fs[i];
        struct prior pr;
        if ((result = find_prior(db, f->dataset, f->rule, f->ref, &pr, &prior_st, err)) != 0)
            break;
        /* Already an open item (open items are unique, so it is the latest):
         * a record still failing, or found twice in this run. */
        if (pr.found && (strcmp(pr.item_state, "open") == 0 || strcmp(pr.item_state, "missing") == 0)) {
            free(pr.value);
            continue;
        }
        /* Confirmed correct by the provider, and unchanged since: not again. */
        bool confirmed_same = pr.found && strcmp(pr.ticket_state, "confirmed") == 0 &&
                              strcmp(pr.item_state, "closed") == 0 &&
                              ((!pr.value && !f->value) ||
                               (pr.value && f->value && strcmp(pr.value, f->value) == 0));
        int64_t reopened = pr.found && is_closed(pr.ticket_state) ? pr.ticket : 0;
        free(pr.value);
        if (confirmed_same)
            continue;
        if (!tid) {
            if ((result = find_open_ticket(db, f->dataset, f->rule, "run", &tid, err)) != 0)
                break;
            if (!tid && reopened > 0) {
                if ((result = reopen_ticket(db, reopened, run_id, at, p, &tid, err)) != 0)
                    break;
            }
            is_new = tid == 0;
            if (is_new) {
                char dept[512];
                bool known;
                char *msg = rule_message(db, run_id, f->rule);
                result = dataset_owner(db, f->dataset, run_id, dept, sizeof dept, &known, err);
                if (result == 0)
                    result = open_ticket(db, f->dataset, f->rule, "run", dept, msg, "system",
                                         run_id, at, p, &tid, err);
                free(msg);
                if (result != 0)
                    break;
                counts->opened++;
            }
        }
        struct item_in it = {f->ref, f->key, f->field, f->value, f->message, NULL, f->row_no};
        result = add_item(db, tid, f->dataset, f->rule, &it, at, run_id, reopened, "system", NULL,
                          &add_st, &batch, err);
        added++;
    }
    item_batch_drop(&batch);
    sqlite3_finalize(prior_st);
    sqlite3_finalize(add_st);
    free_findings(fs, n);
    return result;
}

int ticket_record_dept_stats(sqlite3 *db, const char *run_id, int64_t at, struct qloop_error *err)
{
    char at_s[32];
    fmt_time(at, at_s);
    static const char sql[] =
        "DELETE FROM dept_stats WHERE run_id = ?1;"
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
        "  + sum(state IN ('shared','confirmed') AND (stats_run IS NULL OR stats_run = ?1)) > 0;"
        "UPDATE tickets SET stats_run = ?1 WHERE state IN ('shared','confirmed')"
        " AND stats_run IS NULL;";
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK)
            return sqlerr(db, "记录部门统计", err);
        if (!st)
            break;
        bind_text(st, 1, run_id);
        if (sqlite3_bind_parameter_count(st) >= 2)
            bind_text(st, 2, at_s);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return sqlerr(db, "记录部门统计", err);
    }
    return 0;
}

static int sync_run(sqlite3 *db, const char *run_id, const struct qloop_policy *p,
                    const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                    struct qloop_error *err);

int ticket_sync_run_policy(sqlite3 *db, const char *run_id, const struct qloop_policy *p,
                           struct ticket_sync_counts *counts, struct qloop_error *err)
{
    return sync_run(db, run_id, p, NULL, counts, err);
}

static int sync_run(sqlite3 *db, const char *run_id, const struct qloop_policy *p,
                    const struct ticket_seen *seen, struct ticket_sync_counts *counts,
                    struct qloop_error *err)
{
    struct ticket_sync_counts local = {0};
    if (!counts)
        counts = &local;
    memset(counts, 0, sizeof *counts);
    sqlite3_stmt *st = prep(db, "SELECT as_of FROM runs WHERE id = ?1", err);
    if (!st)
        return -1;
    bind_text(st, 1, run_id);
    int rc = sqlite3_step(st);
    char as_of[64] = "";
    if (rc == SQLITE_ROW)
        col_copy(st, 0, as_of, sizeof as_of);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return qloop_error_set(err, NULL, 0, 0, "运行 %s 不在数据库中（先写入 runs 再生成工单）",
                               run_id);
    int64_t at;
    if (!qloop_parse_datetime(as_of, &at))
        at = qloop_now();

    struct recheck *rs = NULL;
    size_t nrs = 0;
    struct idset updated = {0};
    int result = recheck_items(db, run_id, at, seen, &rs, &nrs, err);
    if (result == 0) {
        counts->reverified = (long)nrs;
        result = close_rechecked(db, rs, nrs, run_id, at, p, &updated, err);
    }
    if (result == 0)
        result = add_findings(db, run_id, at, p, counts, &updated, err);
    if (result == 0)
        result = outbox_scan(db, p, at, err) == 0 ? 0 : -2;
    if (result == 0)
        result = ticket_record_dept_stats(db, run_id, at, err);
    counts->updated = (long)updated.n;
    free(rs);
    free(updated.v);
    return result == 0 ? 0 : -1;
}

int ticket_sync_run(sqlite3 *db, const char *run_id, const char *policy_path,
                    struct ticket_sync_counts *counts, struct qloop_error *err)
{
    struct qloop_policy p;
    if (policy_load(policy_path, &p, err) != 0)
        return -1;
    return ticket_sync_run_policy(db, run_id, &p, counts, err);
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

/* ---- reading tickets as JSON --------------------------------------------- */

#define TICKET_COLUMNS                                                                          \
    "t.id, t.dataset, t.rule, t.source, t.dept, t.state, t.urgent, t.message, t.opened_at,"     \
    " t.opened_by, t.received_at, t.deadline, t.answered_at, t.closed_at, t.policy, t.note,"    \
    " t.ext_until, t.ext_reason, t.ext_actor, t.ext_at,"                                        \
    " (SELECT count(*) FROM ticket_items i WHERE i.ticket_id = t.id"                            \
    "   AND i.state IN ('open','missing')),"                                                    \
    " (SELECT count(*) FROM ticket_items i WHERE i.ticket_id = t.id AND i.state = 'missing'),"  \
    " (SELECT count(*) FROM ticket_items i WHERE i.ticket_id = t.id), t.base_deadline"

/* The list object of the row at st (TICKET_COLUMNS), overdue judged at now. */
static json_t *ticket_object(sqlite3_stmt *st, const char *now)
{
    json_t *o = json_object();
    const char *state = (const char *)sqlite3_column_text(st, 5);
    const char *deadline = (const char *)sqlite3_column_text(st, 11);
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "dataset", jstr((const char *)sqlite3_column_text(st, 1)));
    json_object_set_new(o, "rule", jstr((const char *)sqlite3_column_text(st, 2)));
    json_object_set_new(o, "source", jstr((const char *)sqlite3_column_text(st, 3)));
    json_object_set_new(o, "dept", jstr((const char *)sqlite3_column_text(st, 4)));
    json_object_set_new(o, "state", jstr(state));
    json_object_set_new(o, "state_zh", jstr(ticket_state_zh(state ? state : "")));
    json_object_set_new(o, "items", json_integer(sqlite3_column_int64(st, 20)));
    json_object_set_new(o, "missing_items", json_integer(sqlite3_column_int64(st, 21)));
    json_object_set_new(o, "total_items", json_integer(sqlite3_column_int64(st, 22)));
    json_object_set_new(o, "message", jtime((const char *)sqlite3_column_text(st, 7)));
    json_object_set_new(o, "urgent", json_boolean(sqlite3_column_int(st, 6)));
    json_object_set_new(o, "opened_at", jtime((const char *)sqlite3_column_text(st, 8)));
    json_object_set_new(o, "opened_by", jtime((const char *)sqlite3_column_text(st, 9)));
    json_object_set_new(o, "received_at", jtime((const char *)sqlite3_column_text(st, 10)));
    json_object_set_new(o, "deadline", jtime(deadline));
    json_object_set_new(o, "base_deadline", jtime((const char *)sqlite3_column_text(st, 23)));
    bool overdue = state && strcmp(state, "feedback") == 0 && deadline && strcmp(deadline, now) < 0;
    json_object_set_new(o, "overdue", json_boolean(overdue));
    json_object_set_new(o, "answered_at", jtime((const char *)sqlite3_column_text(st, 12)));
    json_object_set_new(o, "closed_at", jtime((const char *)sqlite3_column_text(st, 13)));
    json_object_set_new(o, "policy", jtime((const char *)sqlite3_column_text(st, 14)));
    json_object_set_new(o, "note", jtime((const char *)sqlite3_column_text(st, 15)));
    if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
        json_t *e = json_object();
        json_object_set_new(e, "until", jtime((const char *)sqlite3_column_text(st, 16)));
        json_object_set_new(e, "reason", jtime((const char *)sqlite3_column_text(st, 17)));
        json_object_set_new(e, "actor", jtime((const char *)sqlite3_column_text(st, 18)));
        json_object_set_new(e, "at", jtime((const char *)sqlite3_column_text(st, 19)));
        json_object_set_new(o, "extension_request", e);
    } else {
        json_object_set_new(o, "extension_request", json_null());
    }
    return o;
}

int ticket_list_json(sqlite3 *db, const struct ticket_filter *f, json_t **out,
                     struct qloop_error *err)
{
    char now[32];
    fmt_time(qloop_now(), now);
    sqlite3_stmt *st = prep(db,
                            "SELECT " TICKET_COLUMNS " FROM tickets t"
                            " WHERE (?1 IS NULL OR t.state = ?1) AND (?2 IS NULL OR t.dept = ?2)"
                            " AND (?3 = 0 OR (t.state = 'feedback' AND t.deadline < ?4))"
                            " ORDER BY t.id",
                            err);
    if (!st)
        return -2;
    bind_text(st, 1, f ? f->state : NULL);
    bind_text(st, 2, f ? f->dept : NULL);
    sqlite3_bind_int(st, 3, f && f->overdue);
    bind_text(st, 4, now);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, ticket_object(st, now));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return sqlerr(db, "读取工单", err);
    }
    *out = arr;
    return 0;
}

int ticket_show_json(sqlite3 *db, int64_t id, json_t **out, struct qloop_error *err)
{
    char now[32];
    fmt_time(qloop_now(), now);
    sqlite3_stmt *st = prep(db, "SELECT " TICKET_COLUMNS " FROM tickets t WHERE t.id = ?1", err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? ticket_object(st, now) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return qloop_error_set(err, NULL, 0, 0, "工单 #%lld 不存在；用 qloop tickets list 查看现有工单",
                               (long long)id);
    if (rc != SQLITE_ROW)
        return sqlerr(db, "读取工单", err);

    json_t *records = json_array();
    st = prep(db,
              "SELECT record_key, field, value, message, row_no, state, added_at, closed_at,"
              " reopened_from, reporter, record_ref FROM ticket_items WHERE ticket_id = ?1"
              " ORDER BY id",
              err);
    if (!st) {
        json_decref(o);
        json_decref(records);
        return -2;
    }
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *r = json_object();
        json_object_set_new(r, "record_key", jstr((const char *)sqlite3_column_text(st, 0)));
        json_object_set_new(r, "field", jstr((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(r, "value", jstr((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(r, "message", jstr((const char *)sqlite3_column_text(st, 3)));
        json_object_set_new(r, "row_no", sqlite3_column_type(st, 4) == SQLITE_NULL
                                             ? json_null()
                                             : json_integer(sqlite3_column_int64(st, 4)));
        json_object_set_new(r, "state", jstr((const char *)sqlite3_column_text(st, 5)));
        json_object_set_new(r, "added_at", jtime((const char *)sqlite3_column_text(st, 6)));
        json_object_set_new(r, "closed_at", jtime((const char *)sqlite3_column_text(st, 7)));
        json_object_set_new(r, "reopened_from", sqlite3_column_type(st, 8) == SQLITE_NULL
                                                    ? json_null()
                                                    : json_integer(sqlite3_column_int64(st, 8)));
        json_object_set_new(r, "reporter", jstr((const char *)sqlite3_column_text(st, 9)));
        json_object_set_new(r, "record_ref", jstr((const char *)sqlite3_column_text(st, 10)));
        json_array_append_new(records, r);
    }
    sqlite3_finalize(st);
    json_object_set_new(o, "records", records);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return sqlerr(db, "读取工单记录", err);
    }

    json_t *history = json_array();
    json_object_set_new(o, "history", history);
    st = prep(db,
              "SELECT at, actor, event, from_state, to_state, reason, deadline_before,"
              " deadline_after, run_id FROM ticket_history WHERE ticket_id = ?1 ORDER BY id",
              err);
    if (!st) {
        json_decref(o);
        return -2;
    }
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *h = json_object();
        json_object_set_new(h, "at", jtime((const char *)sqlite3_column_text(st, 0)));
        json_object_set_new(h, "actor", jstr((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(h, "event", jstr((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(h, "from", jtime((const char *)sqlite3_column_text(st, 3)));
        json_object_set_new(h, "to", jstr((const char *)sqlite3_column_text(st, 4)));
        json_object_set_new(h, "reason", jtime((const char *)sqlite3_column_text(st, 5)));
        json_object_set_new(h, "deadline_before", jtime((const char *)sqlite3_column_text(st, 6)));
        json_object_set_new(h, "deadline_after", jtime((const char *)sqlite3_column_text(st, 7)));
        json_object_set_new(h, "run", jtime((const char *)sqlite3_column_text(st, 8)));
        json_array_append_new(history, h);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return sqlerr(db, "读取工单历史", err);
    }
    *out = o;
    return 0;
}
