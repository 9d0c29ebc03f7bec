/*
 * ticket_actions.c — what people do to a ticket: staff hand it to the
 * provider department (feedback, optionally urgent with its own deadline),
 * the provider answers (resolve), asks for more time (extend), the
 * authority decides on that request (approve, reject), and staff re-check
 * by hand what no run re-checks (verify).
 *
 * Each action loads the ticket with the policy it keeps for life
 * (ticket_policy.c: the policy a command names serves only new tickets),
 * asks whether its actor may (tk_authorize: the one authorisation function,
 * with the ticket's facts and its policy), checks what its state allows (the
 * refusal names the moves that are), and makes its transition through
 * tk_apply (or,
 * for extensions, which keep the state, writes the history and outbox
 * itself), inside the caller's transaction. What people write — a note, a
 * reason — is free text and may quote personal data: each public action
 * masks it first (tk_mask_text) and hands the masked text to its _text body.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "checks/calendar.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* Loads ticket id into t and the policy it keeps for life into own
 * (ticket_policy.c; caller: the command's policy, which serves only a
 * ticket from before policies were stored that names it). Returns 0, -1
 * (no such ticket, or its old policy not found), -2. */
static int load_with_policy(sqlite3 *db, int64_t id, const struct qloop_policy *caller,
                            struct tk *t, struct qloop_policy *own, struct qloop_error *err)
{
    int rc = tk_load(db, id, t, err);
    return rc != 0 ? rc : tk_policy_of(db, t, caller, own, err);
}

/* ---- handing over -------------------------------------------------------- */

/* The deadline and reason of an urgent hand-over with the ticket's own
 * deadline (ISO 8601; a bare date is the end of that day). -1 when refused. */
static int urgent_deadline(const struct tk *t, const char *deadline, int64_t now,
                           const struct qloop_policy *p, char dl[32], char *reason, size_t rsize,
                           struct qloop_error *err)
{
    if (!p->urgent_own_deadline)
        return qloop_error_set(err, NULL, 0, 0, "政策「%s」不允许紧急工单自定期限；请去掉 --urgent",
                               p->name);
    int64_t d;
    if (!deadline || !qloop_parse_datetime(deadline, &d))
        return qloop_error_set(err, NULL, 0, 0,
                               "紧急工单需要 --deadline 日期时间（ISO 8601，如 "
                               "2024-09-30T18:00:00+08:00 或 2024-09-30）");
    if (strlen(deadline) == 10)
        d = policy_end_of_day(policy_day_of(d));
    if (d <= now) {
        char nows[32];
        qloop_format_datetime(now, nows);
        return qloop_error_set(err, NULL, 0, 0, "紧急工单的期限 %s 不晚于现在（%s）；请给出将来的时间",
                               deadline, nows);
    }
    qloop_format_datetime(d, dl);
    snprintf(reason, rsize, "紧急工单交数源部门「%s」，自定答复期限", t->dept);
    return 0;
}

int ticket_feedback(sqlite3 *db, int64_t id, const char *actor, bool urgent, const char *deadline,
                    const struct qloop_policy *policy, struct qloop_error *err)
{
    struct qloop_policy own;
    const struct qloop_policy *p = &own;
    struct tk t;
    int rc = load_with_policy(db, id, policy, &t, &own, err);
    if (rc == 0)
        rc = tk_authorize(db, &t, actor, IDENT_FEEDBACK, p, err);
    if (rc != 0)
        return rc;
    if (!tk_find_transition(t.state, "feedback", "feedback", true))
        return tk_refuse(&t, "交给数源部门（feedback）", err);
    int64_t now = qloop_now();
    char received[32], dl[32], reason[1024];
    qloop_format_datetime(now, received);
    if (urgent) {
        if (urgent_deadline(&t, deadline, now, p, dl, reason, sizeof reason, err) != 0)
            return -1;
    } else {
        if (deadline)
            return qloop_error_set(err, NULL, 0, 0, "--deadline 只用于紧急工单；请同时给出 --urgent");
        qloop_format_datetime(policy_deadline(p, now), dl);
        snprintf(reason, sizeof reason, "交数源部门「%s」，%d 个%s内答复（%s）", t.dept,
                 p->response_days, p->response_natural ? "自然日" : "工作日",
                 p->basis[0] ? p->basis : p->name);
    }
    struct tk_change c = {.to = "feedback", .event = "feedback", .actor = actor,
                          .reason = reason, .at = now, .received_at = received, .deadline = dl,
                          .urgent = urgent};
    return tk_apply(db, &t, &c, true, p, err);
}

/* ---- the provider's answer ------------------------------------------------ */

static int ticket_resolve_text(sqlite3 *db, int64_t id, const char *as, const char *actor, const char *note,
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
    int rc = tk_load(db, id, &t, err);
    if (rc == 0)
        rc = tk_authorize(db, &t, actor, IDENT_RESOLVE, NULL, err);
    if (rc != 0)
        return rc;
    char action[64];
    snprintf(action, sizeof action, "答复为%s（resolve --as %s）", answers[k].zh, answers[k].as);
    if (!tk_find_transition(t.state, answers[k].to, answers[k].as, true))
        return tk_refuse(&t, action, err);
    char reason[2048];
    snprintf(reason, sizeof reason, "数源部门答复：%s%s%s", answers[k].zh, note && *note ? "。" : "",
             note && *note ? note : "");
    struct tk_change c = {.to = answers[k].to, .event = answers[k].as, .actor = actor,
                          .reason = reason, .at = qloop_now()};
    return tk_apply(db, &t, &c, true, NULL, err);
}

int ticket_resolve(sqlite3 *db, int64_t id, const char *as, const char *actor, const char *note,
                   struct qloop_error *err)
{
    struct qloop_buf buf = {0};
    const char *masked_text = tk_mask_text(note, NULL, 0, &buf);
    int rc = ticket_resolve_text(db, id, as, actor, masked_text, err);
    qloop_buf_free(&buf);
    return rc;
}

/* ---- extensions ----------------------------------------------------------- */

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
    qloop_format_datetime(cap, cap_s);
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

/* The recipient of extension requests under policy p for ticket t. */
static void approver_of(const struct qloop_policy *p, const struct tk *t, char *out, size_t size)
{
    if (strcmp(p->approver_role, "provider_head") == 0)
        snprintf(out, size, "%s %s", t->dept, p->approver);
    else
        snprintf(out, size, "%s", p->approver);
}

/* Sets (or, with until NULL, clears) t's pending extension request. 0 or -2. */
static int set_request(sqlite3 *db, int64_t id, const char *until, const char *reason,
                       const char *actor, const char *at, const char *what,
                       struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "UPDATE tickets SET ext_until = ?2, ext_reason = ?3,"
                                   " ext_actor = ?4, ext_at = ?5 WHERE id = ?1",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    sql_bind_text(st, 2, until);
    sql_bind_text(st, 3, sql_or_null(reason));
    sql_bind_text(st, 4, sql_or_null(actor));
    sql_bind_text(st, 5, at);
    int rc = sql_done(db, st, what, err);
    sqlite3_finalize(st);
    return rc == 0 ? 0 : -2;
}

static int ticket_extend_text(sqlite3 *db, int64_t id, const char *until, const char *reason,
                  const char *actor, const struct qloop_policy *policy, struct qloop_error *err)
{
    if (!reason || !*reason)
        return qloop_error_set(err, NULL, 0, 0, "申请延期需要 --reason 说明理由");
    struct qloop_policy own;
    const struct qloop_policy *p = &own;
    struct tk t;
    int rc = load_with_policy(db, id, policy, &t, &own, err);
    if (rc == 0)
        rc = tk_authorize(db, &t, actor, IDENT_EXTEND, p, err);
    if (rc != 0)
        return rc;
    if (strcmp(t.state, "feedback") != 0)
        return tk_refuse(&t, "申请延期（extend）", err);
    if (t.ext_until[0]) {
        qloop_error_set(err, NULL, 0, 0,
                        "工单 #%lld 已有待审批的延期申请（至 %.10s，%s 提出）；请先由%s "
                        "qloop tickets approve 或 reject",
                        (long long)id, t.ext_until, t.ext_actor, p->approver);
        return qloop_error_refuse(err, QLOOP_REFUSED_STATE);
    }
    int64_t until_t;
    if (check_extension(&t, until, p, &until_t, err) != 0)
        return -1;
    int64_t now = qloop_now();
    char until_s[32], now_s[32];
    qloop_format_datetime(until_t, until_s);
    qloop_format_datetime(now, now_s);
    if (set_request(db, id, until_s, reason, actor, now_s, "记录延期申请", err) != 0)
        return -2;
    char why[2048];
    snprintf(why, sizeof why, "申请延期至 %s：%s", until, reason);
    int64_t hid;
    if (tk_history(db, &t, "extend_request", t.state, t.state, actor, why, now, t.deadline,
                   t.deadline, NULL, &hid, err) != 0)
        return -2;
    char key[96], msg[2048], to[768];
    snprintf(key, sizeof key, "ext_request:%lld:%lld", (long long)id, (long long)hid);
    snprintf(msg, sizeof msg, "工单 #%lld（%s）：%s 申请把答复期限从 %.10s 延至 %s，理由：%s；请审批",
             (long long)id, t.dept, actor, t.deadline, until, reason);
    approver_of(p, &t, to, sizeof to);
    return tk_notify(db, &t, "extension.requested", key, to, msg, now, err);
}

int ticket_extend(sqlite3 *db, int64_t id, const char *until, const char *reason,
                  const char *actor, const struct qloop_policy *policy, struct qloop_error *err)
{
    struct qloop_buf buf = {0};
    const char *masked_text = tk_mask_text(reason, NULL, 0, &buf);
    int rc = ticket_extend_text(db, id, until, masked_text, actor, policy, err);
    qloop_buf_free(&buf);
    return rc;
}

/* Loads t with its own policy (load_with_policy), asks whether actor may
 * decide (approve or reject) under it and checks an extension is pending. */
static int load_pending(sqlite3 *db, int64_t id, const struct qloop_policy *caller, struct tk *t,
                        struct qloop_policy *own, const char *actor, enum ident_action decision,
                        const char *action, struct qloop_error *err)
{
    int rc = load_with_policy(db, id, caller, t, own, err);
    if (rc == 0)
        rc = tk_authorize(db, t, actor, decision, own, err);
    if (rc != 0)
        return rc;
    if (strcmp(t->state, "feedback") != 0)
        return tk_refuse(t, action, err);
    if (!t->ext_until[0]) {
        qloop_error_set(err, NULL, 0, 0,
                        "工单 #%lld 没有待审批的延期申请；数源部门先用 qloop tickets extend "
                        "--until DATE --reason T 申请",
                        (long long)id);
        return qloop_error_refuse(err, QLOOP_REFUSED_STATE);
    }
    return 0;
}

/* Writes the decision on t's pending extension: history, audit, outbox. */
static int decide(sqlite3 *db, struct tk *t, bool approved, const char *actor, const char *reason,
                  int64_t now, const char *deadline_before, struct qloop_error *err)
{
    int64_t hid;
    if (tk_history(db, t, approved ? "extend_approve" : "extend_reject", t->state, t->state, actor,
                   reason, now, deadline_before, t->deadline, NULL, &hid, err) != 0)
        return -2;
    char key[96], msg[2048];
    snprintf(key, sizeof key, "ext_decided:%lld:%lld", (long long)t->id, (long long)hid);
    snprintf(msg, sizeof msg, "工单 #%lld 的延期申请%s：%s；答复期限为 %.10s", (long long)t->id,
             approved ? "已批准" : "未获批准", reason, t->deadline);
    return tk_notify(db, t, approved ? "extension.approved" : "extension.rejected", key, t->dept,
                     msg, now, err);
}

int ticket_approve(sqlite3 *db, int64_t id, const char *actor, const struct qloop_policy *policy,
                   struct qloop_error *err)
{
    struct qloop_policy own;
    const struct qloop_policy *p = &own;
    struct tk t;
    int rc = load_pending(db, id, policy, &t, &own, actor, IDENT_APPROVE, "批准延期（approve）",
                          err);
    if (rc != 0)
        return rc;
    char until[11];
    snprintf(until, sizeof until, "%.10s", t.ext_until);
    int64_t until_t;
    if (check_extension(&t, until, p, &until_t, err) != 0)
        return -1;
    int64_t now = qloop_now();
    if (sql_exec_ids(db,
                     "UPDATE tickets SET deadline = ext_until, ext_until = NULL,"
                     " ext_reason = NULL, ext_actor = NULL, ext_at = NULL WHERE id = ?1",
                     "批准延期", err, 1, &id) != 0)
        return -2;
    char before[32], reason[2048];
    snprintf(before, sizeof before, "%s", t.deadline);
    snprintf(t.deadline, sizeof t.deadline, "%s", t.ext_until);
    snprintf(reason, sizeof reason, "批准延期至 %s（审批：%s；申请理由：%s）", until, p->approver,
             t.ext_reason);
    return decide(db, &t, true, actor, reason, now, before, err);
}

static int ticket_reject_text(sqlite3 *db, int64_t id, const char *actor, const char *reason,
                  const struct qloop_policy *policy, struct qloop_error *err)
{
    if (!reason || !*reason)
        return qloop_error_set(err, NULL, 0, 0, "驳回延期申请需要 --reason 说明理由");
    struct qloop_policy own;
    struct tk t;
    int rc = load_pending(db, id, policy, &t, &own, actor, IDENT_REJECT, "驳回延期（reject）",
                          err);
    if (rc != 0)
        return rc;
    if (set_request(db, id, NULL, NULL, NULL, NULL, "驳回延期", err) != 0)
        return -2;
    char why[2048];
    snprintf(why, sizeof why, "驳回延期至 %.10s 的申请：%s", t.ext_until, reason);
    return decide(db, &t, false, actor, why, qloop_now(), t.deadline, err);
}

int ticket_reject(sqlite3 *db, int64_t id, const char *actor, const char *reason,
                  const struct qloop_policy *policy, struct qloop_error *err)
{
    struct qloop_buf buf = {0};
    const char *masked_text = tk_mask_text(reason, NULL, 0, &buf);
    int rc = ticket_reject_text(db, id, actor, masked_text, policy, err);
    qloop_buf_free(&buf);
    return rc;
}

/* ---- a re-check by a person ------------------------------------------------- */

static int ticket_verify_text(sqlite3 *db, int64_t id, const char *actor, bool passed, const char *reason,
                  struct qloop_error *err)
{
    if (!passed && (!reason || !*reason))
        return qloop_error_set(err, NULL, 0, 0, "复核未通过需要 --reason 说明哪里仍有问题");
    struct tk t;
    int rc = tk_load(db, id, &t, err);
    if (rc == 0)
        rc = tk_authorize(db, &t, actor, IDENT_VERIFY, NULL, err);
    if (rc != 0)
        return rc;
    const char *to = passed ? "shared" : "feedback";
    const char *event = passed ? "recheck_pass" : "recheck_fail";
    if (!tk_find_transition(t.state, to, event, true))
        return tk_refuse(&t, passed ? "判定复核通过（verify --pass）" : "判定复核未通过（verify --fail）",
                         err);
    char why[2048];
    snprintf(why, sizeof why, "人工复核%s%s%s", passed ? "通过" : "未通过",
             reason && *reason ? "：" : "", reason && *reason ? reason : "");
    struct tk_change c = {.to = to, .event = event, .actor = actor, .reason = why,
                          .at = qloop_now()};
    return tk_apply(db, &t, &c, true, NULL, err);
}

int ticket_verify(sqlite3 *db, int64_t id, const char *actor, bool passed, const char *reason,
                  struct qloop_error *err)
{
    struct qloop_buf buf = {0};
    const char *masked_text = tk_mask_text(reason, NULL, 0, &buf);
    int rc = ticket_verify_text(db, id, actor, passed, masked_text, err);
    qloop_buf_free(&buf);
    return rc;
}
