/*
 * ticket_state.c — the state machine of the closed loop 发现-反馈-修正-共享:
 * the six states, the transition table, and applying one transition — the
 * ticket row, its history, the audit chain, its records when it closes, and
 * the outbox event for whoever must act next — in the caller's transaction.
 *
 * The table (transitions[] below): discovered → feedback; feedback →
 * corrected | confirmed | negotiated; negotiated → feedback (handed back
 * after the agreed time: a new received_at and deadline) | corrected (fixed
 * after all); corrected → feedback (re-check failed: received_at and deadline
 * unchanged) | shared (re-check passed); shared | confirmed → feedback or
 * discovered (reopened by a run: a record failed again). A run's re-check
 * also closes as shared a discovered, feedback or negotiated ticket whose
 * records all pass now: the data is fixed, holding the department to a
 * deadline for it would be wrong. shared and confirmed are closed. Extension
 * requests and decisions keep the state and are written to the history like
 * transitions (ticket_actions.c).
 *
 * Also here, since every transition uses them: loading a ticket, the refusal
 * that names what the state allows, history rows and their audit entries,
 * and the batched audit of item changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/text.h"
#include "loop/outbox.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/audit.h"
#include "store/store.h"

/* ---- states and the transition table ---------------------------------- */

static const struct {
    const char *state, *zh;
} state_names[] = {
    {"discovered", "发现"}, {"feedback", "反馈"},      {"corrected", "修正"},
    {"shared", "共享"},     {"confirmed", "确认无误"}, {"negotiated", "沟通解决"},
};
enum { NSTATES = sizeof state_names / sizeof state_names[0] };

/* The index of state in state_names, -1 when it is none. */
static int state_index(const char *state)
{
    for (int i = 0; i < NSTATES; i++)
        if (strcmp(state_names[i].state, state) == 0)
            return i;
    return -1;
}

const char *ticket_state_zh(const char *state)
{
    int i = state_index(state);
    return i < 0 ? state : state_names[i].zh;
}

bool ticket_state_valid(const char *s) { return state_index(s) >= 0; }

const char *ticket_state_parse(const char *s)
{
    for (int i = 0; s && i < NSTATES; i++)
        if (strcmp(s, state_names[i].state) == 0 || strcmp(s, state_names[i].zh) == 0)
            return state_names[i].state;
    return NULL;
}

/* Every legal move. */
static const struct tk_transition transitions[] = {
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

const struct tk_transition *tk_find_transition(const char *from, const char *to,
                                               const char *event, bool by_user)
{
    for (int i = 0; i < NTRANSITIONS; i++) {
        const struct tk_transition *t = &transitions[i];
        if (strcmp(t->from, from) == 0 && strcmp(t->to, to) == 0 &&
            strcmp(t->event, event) == 0 && (!by_user || t->how))
            return t;
    }
    return NULL;
}

bool tk_is_closed(const char *state)
{
    return strcmp(state, "shared") == 0 || strcmp(state, "confirmed") == 0;
}

const struct qloop_policy *tk_policy(const struct qloop_policy *p, struct qloop_policy *def)
{
    if (p)
        return p;
    policy_default(def);
    return def;
}

/* ---- JSON text and the audit ------------------------------------------- */

json_t *tk_jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    struct qloop_buf b = {0};
    qloop_utf8_repair(&b, s, strlen(s));
    v = json_string(qloop_buf_str(&b));
    qloop_buf_free(&b);
    return v ? v : json_string("");
}

json_t *tk_jtime(const char *s) { return s && *s ? tk_jstr(s) : json_null(); }

/* Appends an audit entry about ticket whose detail is obj (consumed).
 * Returns 0 or -2. */
static int audit_json(sqlite3 *db, const char *kind, int64_t ticket, const char *actor, json_t *obj,
                      struct qloop_error *err)
{
    char subject[48];
    snprintf(subject, sizeof subject, "ticket:%lld", (long long)ticket);
    char *detail = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!detail)
        return qloop_error_internal(err, NULL, "生成审计记录失败（内存不足）"), -2;
    int rc = audit_append(db, kind, subject, actor && *actor ? actor : "system", detail, err);
    free(detail);
    return rc == 0 ? 0 : -2;
}

/* Appends v as jansson writes it (JSON_COMPACT): the batch's text must be
 * the bytes the entry had when it was one jansson object. */
static void put_json(struct qloop_buf *out, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (s)
        qloop_buf_append(out, s, strlen(s));
    else
        qloop_buf_append(out, "null", 4);
    free(s);
}

static void put_int(struct qloop_buf *out, int64_t n)
{
    char digits[24];
    size_t i = sizeof digits;
    uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    do
        digits[--i] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (n < 0)
        digits[--i] = '-';
    qloop_buf_append(out, digits + i, sizeof digits - i);
}

/* 1 for the bytes of ASCII letters and digits, 0 for every other byte
 * (NUL included). */
#define Z16 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
static const unsigned char ascii_alnum[256] = {
    Z16, Z16, Z16,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0-9 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, /* P-Z */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, /* p-z */
    Z16, Z16, Z16, Z16, Z16, Z16, Z16, Z16,
};
#undef Z16

/* Appends the item entry [item,"ref"] (with a comma before it unless it is
 * the first) to out, the ref as it is when it has nothing jansson would
 * escape or repair (ASCII letters and digits: the 32 hex digits of every
 * ref a run makes), else through jansson. The bytes are those of put_int
 * and a JSON string; written straight into the buffer, as this runs for
 * every item a night adds (W1 10M: 1.8M; through qloop_buf_putc a byte at
 * a time it was ~550 instructions an item). */
static void put_item(struct qloop_buf *out, bool first, int64_t item, const char *ref)
{
    size_t n = 0;
    while (ref && ascii_alnum[(unsigned char)ref[n]])
        n++;
    bool plain = ref && !ref[n];
    char digits[24];
    size_t d = sizeof digits;
    uint64_t u = item < 0 ? 0 - (uint64_t)item : (uint64_t)item;
    do
        digits[--d] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (item < 0)
        digits[--d] = '-';
    size_t nd = sizeof digits - d;
    qloop_buf_reserve(out, 2 + nd + 1 + (plain ? n + 3 : 0));
    char *w = out->ptr + out->len;
    if (!first)
        *w++ = ',';
    *w++ = '[';
    memcpy(w, digits + d, nd);
    w += nd;
    *w++ = ',';
    if (plain) {
        *w++ = '"';
        memcpy(w, ref, n);
        w += n;
        *w++ = '"';
        *w++ = ']';
    }
    out->len = (size_t)(w - out->ptr);
    out->ptr[out->len] = '\0';
    if (!plain) {
        put_json(out, tk_jstr(ref));
        qloop_buf_putc(out, ']');
    }
}

/* Room kept before a pending entry's pairs in tk_batch.items for the
 * entry's head ({"ticket":...,"items":[), so that tk_batch_flush writes
 * the head into it and hands the entry to the chain where it lies instead
 * of copying every pair behind a head in a new buffer (W1 10M night 1:
 * eight entries of ~10 MB, each copied into fresh pages). A head longer
 * than the room (a run id or change that JSON escapes at length) is copied
 * as before. */
enum { BATCH_HEAD_ROOM = 256 };

int tk_batch_flush(sqlite3 *db, struct tk_batch *b, struct qloop_error *err)
{
    if (!b->count)
        return 0;
    /* {"ticket","change","run","count","items","reopened_from"}, as the one
     * jansson object it used to be */
    struct qloop_buf d = {0};
    qloop_buf_append(&d, "{\"ticket\":", strlen("{\"ticket\":"));
    put_int(&d, b->ticket);
    qloop_buf_append(&d, ",\"change\":", strlen(",\"change\":"));
    put_json(&d, tk_jstr(b->change));
    if (b->run[0]) {
        qloop_buf_append(&d, ",\"run\":", strlen(",\"run\":"));
        put_json(&d, tk_jstr(b->run));
    }
    qloop_buf_append(&d, ",\"count\":", strlen(",\"count\":"));
    put_int(&d, b->count);
    qloop_buf_append(&d, ",\"items\":[", strlen(",\"items\":["));
    struct qloop_buf *items = &b->items; /* the room, then the pairs */
    qloop_buf_putc(items, ']');
    if (b->reopened_from > 0) {
        qloop_buf_append(items, ",\"reopened_from\":", strlen(",\"reopened_from\":"));
        put_int(items, b->reopened_from);
    }
    qloop_buf_putc(items, '}');
    const char *detail;
    if (d.len <= BATCH_HEAD_ROOM) {
        char *start = items->ptr + BATCH_HEAD_ROOM - d.len;
        memcpy(start, d.ptr, d.len);
        detail = start;
    } else {
        qloop_buf_append(&d, items->ptr + BATCH_HEAD_ROOM, items->len - BATCH_HEAD_ROOM);
        detail = qloop_buf_str(&d);
    }
    char subject[48];
    snprintf(subject, sizeof subject, "ticket:%lld", (long long)b->ticket);
    int rc = audit_append_built(db, "ticket.item", subject, b->actor[0] ? b->actor : "system",
                                detail, err);
    b->count = 0;
    qloop_buf_reset(items);
    qloop_buf_free(&d);
    return rc == 0 ? 0 : -2;
}

int tk_audit_item(sqlite3 *db, struct tk_batch *b, int64_t ticket, int64_t item,
                  const char *record_ref, const char *change, const char *actor,
                  const char *run_id, int64_t reopened_from, struct qloop_error *err)
{
    struct tk_batch one = {0};
    struct tk_batch *t = b ? b : &one;
    if (!actor || !*actor)
        actor = "system";
    if (!run_id)
        run_id = "";
    if (t->count && (t->ticket != ticket || t->reopened_from != reopened_from ||
                     strcmp(t->change, change) != 0 || strcmp(t->run, run_id) != 0 ||
                     strcmp(t->actor, actor) != 0) &&
        tk_batch_flush(db, t, err) != 0)
        return -2;
    if (!t->count) {
        t->ticket = ticket;
        t->reopened_from = reopened_from;
        snprintf(t->change, sizeof t->change, "%s", change);
        snprintf(t->run, sizeof t->run, "%s", run_id);
        snprintf(t->actor, sizeof t->actor, "%s", actor);
        qloop_buf_reset(&t->items);
        qloop_buf_reserve(&t->items, BATCH_HEAD_ROOM);
        memset(t->items.ptr, ' ', BATCH_HEAD_ROOM);
        t->items.len = BATCH_HEAD_ROOM;
        t->items.ptr[t->items.len] = '\0';
    }
    put_item(&t->items, t->count == 0, item, record_ref);
    t->count++;
    if (b)
        return 0;
    int rc = tk_batch_flush(db, t, err);
    tk_batch_drop(t);
    return rc;
}

void tk_batch_drop(struct tk_batch *b)
{
    qloop_buf_free(&b->items);
    b->count = 0;
}

/* ---- one ticket ---------------------------------------------------------- */

int tk_load(sqlite3 *db, int64_t id, struct tk *t, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT id, dataset, rule, source, dept, state, opened_by,"
                                   " policy, urgent, received_at, deadline, base_deadline,"
                                   " ext_until, ext_reason, ext_actor, policy_id FROM tickets"
                                   " WHERE id = ?1",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sql_row(db, st, "读取工单", err);
    if (rc == 1) {
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        sql_copy(st, 1, t->dataset, sizeof t->dataset);
        sql_copy(st, 2, t->rule, sizeof t->rule);
        sql_copy(st, 3, t->source, sizeof t->source);
        sql_copy(st, 4, t->dept, sizeof t->dept);
        sql_copy(st, 5, t->state, sizeof t->state);
        sql_copy(st, 6, t->opened_by, sizeof t->opened_by);
        sql_copy(st, 7, t->policy, sizeof t->policy);
        t->urgent = sqlite3_column_int(st, 8) != 0;
        sql_copy(st, 9, t->received_at, sizeof t->received_at);
        sql_copy(st, 10, t->deadline, sizeof t->deadline);
        sql_copy(st, 11, t->base_deadline, sizeof t->base_deadline);
        sql_copy(st, 12, t->ext_until, sizeof t->ext_until);
        sql_copy(st, 13, t->ext_reason, sizeof t->ext_reason);
        sql_copy(st, 14, t->ext_actor, sizeof t->ext_actor);
        t->policy_id = sqlite3_column_int64(st, 15);
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    if (rc == 0) {
        qloop_error_set(err, NULL, 0, 0, "工单 #%lld 不存在；用 qloop tickets list 查看现有工单",
                        (long long)id);
        return qloop_error_refuse(err, QLOOP_REFUSED_ABSENT);
    }
    return 0;
}

int tk_load_known(sqlite3 *db, int64_t id, struct tk *t, struct qloop_error *err)
{
    int rc = tk_load(db, id, t, err);
    if (rc == -1)
        qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                             "工单 #%lld 在处理中途消失（内部错误）", (long long)id);
    return rc == 0 ? 0 : -2;
}

int tk_open_items(sqlite3 *db, int64_t id, long *n, struct qloop_error *err)
{
    int64_t v = 0;
    int rc = sql_int64_ids(db,
                           "SELECT count(*) FROM ticket_item_rows WHERE ticket_id = ?1"
                           " AND state IN ('open','missing')",
                           1, &id, 0, &v, err);
    *n = (long)v;
    return rc == 0 ? 0 : -2;
}

int tk_notify(sqlite3 *db, const struct tk *t, const char *kind, const char *key,
              const char *recipient, const char *message, int64_t at, struct qloop_error *err)
{
    struct outbox_event ev = {key, kind, t->id, recipient, message, at};
    return outbox_add(db, &ev, NULL, err) == 0 ? 0 : -2;
}

/* What a person may do from t's state (the transition table, plus
 * extensions), into out. */
static void allowed_text(const struct tk *t, char *out, size_t size)
{
    struct qloop_buf b = {0};
    for (int i = 0; i < NTRANSITIONS; i++) {
        const struct tk_transition *tr = &transitions[i];
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

int tk_refuse(const struct tk *t, const char *action, struct qloop_error *err)
{
    char allowed[1024];
    allowed_text(t, allowed, sizeof allowed);
    qloop_error_set(err, NULL, 0, 0, "工单 #%lld 当前状态为「%s」（%s），不能%s。当前允许：%s",
                    (long long)t->id, ticket_state_zh(t->state), t->state, action, allowed);
    return qloop_error_refuse(err, QLOOP_REFUSED_STATE);
}

/* ---- history -------------------------------------------------------------- */

int tk_history(sqlite3 *db, const struct tk *t, const char *event, const char *from,
               const char *to, const char *actor, const char *reason, int64_t at,
               const char *deadline_before, const char *deadline_after, const char *run_id,
               int64_t *hid, struct qloop_error *err)
{
    char at_s[32];
    qloop_format_datetime(at, at_s);
    deadline_before = sql_or_null(deadline_before);
    deadline_after = sql_or_null(deadline_after);
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO ticket_history(ticket_id, at, actor, event,"
                                   " from_state, to_state, reason, deadline_before, deadline_after,"
                                   " run_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, t->id);
    sql_bind_text(st, 2, at_s);
    sql_bind_text(st, 3, sql_or_null(actor));
    sql_bind_text(st, 4, event);
    sql_bind_text(st, 5, from);
    sql_bind_text(st, 6, to);
    sql_bind_text(st, 7, sql_or_null(reason));
    sql_bind_text(st, 8, deadline_before);
    sql_bind_text(st, 9, deadline_after);
    sql_bind_text(st, 10, run_id);
    int rc = sql_done(db, st, "写入工单历史", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -2;
    if (hid)
        *hid = sqlite3_last_insert_rowid(db);

    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_integer(t->id));
    json_object_set_new(o, "dept", tk_jstr(t->dept)); /* the replay (loop/replay.c) checks it */
    json_object_set_new(o, "event", tk_jstr(event));
    json_object_set_new(o, "from", tk_jtime(from));
    json_object_set_new(o, "to", tk_jstr(to));
    json_object_set_new(o, "reason", tk_jtime(reason));
    json_object_set_new(o, "deadline_before", tk_jtime(deadline_before));
    json_object_set_new(o, "deadline_after", tk_jtime(deadline_after));
    if (run_id)
        json_object_set_new(o, "run", tk_jstr(run_id));
    const char *kind = !from                                ? "ticket.open"
                       : strncmp(event, "extend", 6) == 0   ? "ticket.extension"
                       : strcmp(from, to) == 0              ? "ticket.event"
                                                            : "ticket.transition";
    return audit_json(db, kind, t->id, actor, o, err);
}

/* ---- applying a transition ------------------------------------------------ */

/* Phase 1 of tk_apply: the ticket row. Leaving feedback records the answer
 * time and drops a pending extension request; closing records closed_at; a
 * provider's answer keeps its reason as the ticket's note. */
static int update_row(sqlite3 *db, const struct tk *t, const struct tk_change *c,
                      bool leaves_feedback, bool closes, const char *at_s, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(
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
    bool answer = strcmp(c->event, "rectified") == 0 || strcmp(c->event, "confirmed") == 0 ||
                  strcmp(c->event, "negotiated") == 0;
    sqlite3_bind_int64(st, 1, t->id);
    sql_bind_text(st, 2, c->to);
    sql_bind_text(st, 3, sql_or_null(c->received_at));
    sql_bind_text(st, 4, sql_or_null(c->deadline));
    sqlite3_bind_int(st, 5, c->urgent);
    sqlite3_bind_int(st, 6, leaves_feedback);
    sql_bind_text(st, 7, at_s);
    sqlite3_bind_int(st, 8, closes);
    sql_bind_text(st, 9, answer ? sql_or_null(c->reason) : NULL);
    int rc = sql_done(db, st, "更新工单状态", err);
    sqlite3_finalize(st);
    return rc == 0 ? 0 : -2;
}

/* An open item of a closing ticket. */
struct open_item {
    int64_t id;
    char ref[40];
};

static void read_open_item(sqlite3_stmt *st, void *row)
{
    struct open_item *it = row;
    it->id = sqlite3_column_int64(st, 0);
    sql_copy(st, 1, it->ref, sizeof it->ref);
}

/* Phase 2 of tk_apply, when the ticket closes: its open items are closed
 * (confirmed: the data was right) or fixed (shared), each audited. */
static int close_items(sqlite3 *db, const struct tk *t, const struct tk_change *c,
                       const char *at_s, struct qloop_error *err)
{
    sqlite3_stmt *q = sql_prepare(db,
                                  "SELECT id, record_ref FROM ticket_item_rows WHERE ticket_id = ?1"
                                  " AND state IN ('open','missing') ORDER BY id",
                                  err);
    if (!q)
        return -2;
    sqlite3_bind_int64(q, 1, t->id);
    struct open_item *items;
    size_t n;
    int result = sql_collect(db, q, sizeof *items, read_open_item, (void **)&items, &n,
                             "读取工单记录", err) == 0 ? 0 : -2;
    sqlite3_finalize(q);
    const char *item_state = strcmp(c->to, "confirmed") == 0 ? "closed" : "fixed";
    sqlite3_stmt *u = result == 0 ? sql_prepare(db,
                                                "UPDATE ticket_item_rows SET state = ?2,"
                                                " closed_at = ?3, closed_run = " TK_RUN_OF("?4")
                                                " WHERE id = ?1",
                                                err)
                                  : NULL;
    if (result == 0 && !u)
        result = -2;
    struct tk_batch batch = {0};
    for (size_t i = 0; result == 0 && i < n; i++) {
        sqlite3_bind_int64(u, 1, items[i].id);
        sql_bind_text(u, 2, item_state);
        sql_bind_text(u, 3, at_s);
        sql_bind_text(u, 4, c->run_id);
        if (sql_done(db, u, "关闭工单记录", err) != 0)
            result = -2;
        else
            result = tk_audit_item(db, &batch, t->id, items[i].id, items[i].ref, item_state,
                                   c->actor, c->run_id, 0, err);
    }
    if (result == 0)
        result = tk_batch_flush(db, &batch, err);
    tk_batch_drop(&batch);
    sqlite3_finalize(u);
    free(items);
    return result;
}

/* Phase 3 of tk_apply: the outbox event for whoever must act next — the
 * provider handed a ticket or a failed re-check, the reporter (or staff)
 * told of a closing. hid: the history row, part of the event key. */
static int notify_next(sqlite3 *db, const struct tk *t, const struct tk_change *c, int64_t hid,
                       const struct qloop_policy *p, struct qloop_error *err)
{
    char key[96], msg[2048], dl[11];
    snprintf(dl, sizeof dl, "%.10s", t->deadline);
    if (strcmp(c->to, "feedback") == 0 && strcmp(c->event, "feedback") == 0) {
        long open = c->open_items;
        if (!c->open_known && tk_open_items(db, t->id, &open, err) != 0)
            return -2;
        snprintf(key, sizeof key, "feedback:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg,
                 "工单 #%lld：数据集「%s」规则「%s」有 %ld 条问题记录，请于 %s 前答复%s（%s）",
                 (long long)t->id, t->dataset, t->rule, open, dl, t->urgent ? "（紧急）" : "",
                 p && p->basis[0] ? p->basis : "答复期限");
        return tk_notify(db, t, "ticket.feedback", key, t->dept, msg, c->at, err);
    }
    if (strcmp(c->event, "recheck_fail") == 0) {
        snprintf(key, sizeof key, "recheck:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」）%s；请继续整改，答复期限仍为 %s",
                 (long long)t->id, t->dataset, t->rule, c->reason ? c->reason : "复核未通过",
                 dl[0] ? dl : "（无）");
        return tk_notify(db, t, "ticket.recheck_failed", key, t->dept, msg, c->at, err);
    }
    if (tk_is_closed(c->to)) {
        snprintf(key, sizeof key, "closed:%lld:%lld", (long long)t->id, (long long)hid);
        snprintf(msg, sizeof msg, "工单 #%lld（数据集「%s」规则「%s」）已关闭：%s%s%s",
                 (long long)t->id, t->dataset, t->rule, ticket_state_zh(c->to),
                 c->reason ? "。" : "", c->reason ? c->reason : "");
        bool by_reporter = strcmp(t->source, "run") != 0 && strcmp(t->opened_by, "system") != 0;
        return tk_notify(db, t, "ticket.closed", key, by_reporter ? t->opened_by : TK_STAFF, msg,
                         c->at, err);
    }
    return 0;
}

int tk_apply(sqlite3 *db, struct tk *t, const struct tk_change *c, bool by_user,
             const struct qloop_policy *p, struct qloop_error *err)
{
    if (!tk_find_transition(t->state, c->to, c->event, by_user)) {
        char action[64];
        snprintf(action, sizeof action, "转为「%s」", ticket_state_zh(c->to));
        return tk_refuse(t, action, err);
    }
    char from[16], at_s[32], deadline_before[32];
    snprintf(from, sizeof from, "%s", t->state);
    snprintf(deadline_before, sizeof deadline_before, "%s", t->deadline);
    qloop_format_datetime(c->at, at_s);
    bool leaves_feedback = strcmp(from, "feedback") == 0;
    bool closes = tk_is_closed(c->to);
    if (update_row(db, t, c, leaves_feedback, closes, at_s, err) != 0)
        return -2;

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
    if (tk_history(db, t, c->event, from, c->to, c->actor, c->reason, c->at, deadline_before,
                   t->deadline, c->run_id, &hid, err) != 0)
        return -2;
    if (closes && close_items(db, t, c, at_s, err) != 0)
        return -2;
    return notify_next(db, t, c, hid, p, err);
}
