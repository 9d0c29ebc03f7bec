/*
 * outbox.c — writing notifications once, finding due reminders and overdue
 * tickets, and exporting what has not been exported yet.
 *
 * The event key is UNIQUE in the outbox table: writing an event twice (a run
 * repeated, two scans on the same day) keeps the first. Reminders and
 * overdue notices are keyed by ticket and deadline, so an approved extension
 * (a new deadline) earns a new reminder, and nothing else does; each ticket's
 * reminder period is that of the policy it keeps for life. A reminder or
 * overdue notice that is no longer true at export (supersede_stale) is
 * marked superseded instead of sent. Export marks the events it printed in
 * the caller's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "loop/outbox.h"
#include "loop/ticket_private.h"
#include "store/sql.h"

int outbox_add(sqlite3 *db, const struct outbox_event *ev, int *added, struct qloop_error *err)
{
    if (added)
        *added = 0;
    if (!ev->key || !*ev->key || !ev->kind || !*ev->kind || !ev->message)
        return qloop_error_internal(err, NULL, "通知缺少事件键、类型或内容（内部错误）");
    char at[32];
    qloop_format_datetime(ev->at, at);
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO outbox(event_key, kind, ticket_id, dataset, rule,"
                                   " dept, state, deadline, recipient, message, created_at)"
                                   " SELECT ?1, ?2, t.id, t.dataset, t.rule, t.dept, t.state,"
                                   " t.deadline, ?4, ?5, ?6 FROM (SELECT 1)"
                                   " LEFT JOIN tickets t ON t.id = ?3"
                                   " WHERE 1 ON CONFLICT(event_key) DO NOTHING",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, ev->key);
    sql_bind_text(st, 2, ev->kind);
    sqlite3_bind_int64(st, 3, ev->ticket_id);
    sql_bind_text(st, 4, ev->recipient);
    sql_bind_text(st, 5, ev->message);
    sql_bind_text(st, 6, at);
    int rc = sql_done(db, st, "写入通知", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    if (added)
        *added = sqlite3_changes(db) > 0;
    return 0;
}

/* A ticket in feedback, as the scan needs it. */
struct due {
    long long id;
    char deadline[32], dataset[256], rule[256], dept[256], policy[64];
    int64_t policy_id;
};

static void read_due(sqlite3_stmt *st, void *row)
{
    struct due *d = row;
    d->id = sqlite3_column_int64(st, 0);
    sql_copy(st, 1, d->deadline, sizeof d->deadline);
    sql_copy(st, 2, d->dataset, sizeof d->dataset);
    sql_copy(st, 3, d->rule, sizeof d->rule);
    sql_copy(st, 4, d->dept, sizeof d->dept);
    sql_copy(st, 5, d->policy, sizeof d->policy);
    d->policy_id = sqlite3_column_int64(st, 6);
}

/* The policies of the tickets one scan looks at: the last one read, kept
 * while the next ticket has the same (tickets mostly share one). */
struct scan_policy {
    bool set;
    int64_t id;
    char name[64];
    struct qloop_policy p;
};

/* The reminder policy of ticket d into sp->p: the policy it keeps for life
 * (ticket_policy.c); the scan's own when one of old cannot be found. */
static int due_policy(sqlite3 *db, const struct due *d, const struct qloop_policy *scan,
                      struct scan_policy *sp, struct qloop_error *err)
{
    if (sp->set && sp->id == d->policy_id && strcmp(sp->name, d->policy) == 0)
        return 0;
    struct tk t;
    memset(&t, 0, sizeof t);
    t.id = d->id;
    t.policy_id = d->policy_id;
    snprintf(t.policy, sizeof t.policy, "%s", d->policy);
    int rc = tk_policy_of(db, &t, scan, &sp->p, err);
    if (rc == -2)
        return -1;
    if (rc == -1)
        sp->p = *scan;
    sp->set = true;
    sp->id = d->policy_id;
    snprintf(sp->name, sizeof sp->name, "%s", d->policy);
    return 0;
}

int outbox_scan(sqlite3 *db, const struct qloop_policy *policy, int64_t now,
                struct qloop_error *err)
{
    struct qloop_policy def;
    if (!policy) {
        policy_default(&def);
        policy = &def;
    }
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT id, deadline, dataset, rule, dept, policy, policy_id"
                                   " FROM tickets WHERE state = 'feedback' AND deadline IS NOT NULL"
                                   " ORDER BY id",
                                   err);
    if (!st)
        return -1;
    struct due *v;
    size_t n;
    int rc = sql_collect(db, st, sizeof *v, read_due, (void **)&v, &n, "读取待提醒的工单", err);
    sqlite3_finalize(st);
    if (rc != 0) {
        free(v);
        return -1;
    }
    int result = 0;
    struct scan_policy sp = {0};
    for (size_t i = 0; result == 0 && i < n; i++) {
        int64_t deadline;
        if (!qloop_parse_datetime(v[i].deadline, &deadline))
            continue;
        if (due_policy(db, &v[i], policy, &sp, err) != 0) {
            result = -1;
            break;
        }
        char key[96], msg[1024];
        struct outbox_event ev = {key, NULL, v[i].id, v[i].dept, msg, now};
        if (now > deadline) {
            ev.kind = "ticket.overdue";
            snprintf(key, sizeof key, "overdue:%lld:%s", v[i].id, v[i].deadline);
            snprintf(msg, sizeof msg,
                     "工单 #%lld（数据集「%s」规则「%s」）已超过答复期限 %.10s，请尽快答复", v[i].id,
                     v[i].dataset, v[i].rule, v[i].deadline);
        } else if (policy_reminder_due(&sp.p, deadline, now)) {
            ev.kind = "ticket.reminder";
            snprintf(key, sizeof key, "reminder:%lld:%s", v[i].id, v[i].deadline);
            snprintf(msg, sizeof msg,
                     "工单 #%lld（数据集「%s」规则「%s」）的答复期限 %.10s 将在 %d 个工作日内到期，"
                     "请及时答复",
                     v[i].id, v[i].dataset, v[i].rule, v[i].deadline, sp.p.reminder_days);
        } else {
            continue;
        }
        result = outbox_add(db, &ev, NULL, err);
    }
    free(v);
    return result;
}

/* A JSON string of column i (null when NULL). */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *s = sql_text(st, i);
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    return v ? v : json_string("（非 UTF-8 文本）");
}

/* Marks superseded, at now, the notices waiting for export that are no
 * longer true: a reminder or overdue notice whose ticket has left feedback
 * (answered, closed) or has another deadline (extended, reopened), a
 * reminder whose deadline has passed (the overdue notice is what is due
 * then), a "new ticket waiting to be handed over" whose ticket has been.
 * Sent late, they would tell a department to answer a ticket it has
 * answered, name a deadline that no longer holds, announce "due within a
 * working day" beside "overdue" for the same deadline, or ask staff to hand
 * over what they have. 0 or -1. */
static int supersede_stale(sqlite3 *db, const char *now, struct qloop_error *err)
{
    return sql_exec_texts(
        db,
        "UPDATE outbox SET superseded_at = ?1 WHERE exported_at IS NULL AND superseded_at IS NULL"
        " AND ((kind IN ('ticket.reminder', 'ticket.overdue')"
        "       AND (NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = outbox.ticket_id"
        "             AND t.state = 'feedback' AND t.deadline IS outbox.deadline)"
        "         OR (kind = 'ticket.reminder' AND deadline < ?1)))"
        "   OR (kind = 'ticket.opened' AND NOT EXISTS (SELECT 1 FROM tickets t"
        "        WHERE t.id = outbox.ticket_id AND t.state = 'discovered')))",
        "标记过时的通知", err, 1, &now);
}

int outbox_export(sqlite3 *db, struct qloop_buf *out, long *count, int64_t now,
                  struct qloop_error *err)
{
    *count = 0;
    char now_s[32];
    qloop_format_datetime(now, now_s);
    if (supersede_stale(db, now_s, err) != 0)
        return -1;
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT id, event_key, kind, created_at, ticket_id, dataset,"
                                   " rule, dept, state, deadline, recipient, message FROM outbox"
                                   " WHERE exported_at IS NULL AND superseded_at IS NULL"
                                   " ORDER BY id",
                                   err);
    if (!st)
        return -1;
    static const char *const names[] = {"id",      "key",   "kind",  "created_at",
                                        "ticket",  "dataset", "rule", "dept",
                                        "state",   "deadline", "recipient", "message"};
    int rc;
    int64_t last = 0;
    while ((rc = sql_row(db, st, "读取待发送的通知", err)) == 1) {
        json_t *o = json_object();
        for (int i = 0; i < 12; i++) {
            json_t *v;
            if ((i == 0 || i == 4) && sqlite3_column_type(st, i) != SQLITE_NULL)
                v = json_integer(sqlite3_column_int64(st, i));
            else
                v = col_json(st, i);
            json_object_set_new(o, names[i], v);
        }
        char *line = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!line) {
            sqlite3_finalize(st);
            return qloop_error_internal(err, NULL, "生成通知 JSON 失败（内存不足）");
        }
        qloop_buf_printf(out, "%s\n", line);
        free(line);
        last = sqlite3_column_int64(st, 0);
        (*count)++;
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    if (*count == 0)
        return 0;
    if (!(st = sql_prepare(db,
                           "UPDATE outbox SET exported_at = ?1"
                           " WHERE exported_at IS NULL AND superseded_at IS NULL AND id <= ?2",
                           err)))
        return -1;
    sql_bind_text(st, 1, now_s);
    sqlite3_bind_int64(st, 2, last);
    rc = sql_done(db, st, "标记已发送的通知", err);
    sqlite3_finalize(st);
    return rc;
}
