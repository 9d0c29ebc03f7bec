/*
 * ticket_policy.c — the policy a ticket is held to for its whole life.
 *
 * CONTRACT.md: "A ticket keeps the policy it was opened under for its whole
 * life, whatever --policy a later command names." When a ticket opens, the
 * policy it opens under is stored (ticket_policies: each distinct policy
 * once, as policy_to_json writes it) and the ticket points at it
 * (tickets.policy_id); every later step — the hand-over's deadline, an
 * extension's cap and approver, a reopening, the reminders — reads that
 * policy back, not the one the command line or the run names. So neither a
 * later `--policy wenzhou` nor an edited policy file changes the rules of a
 * ticket already open; a command's --policy only chooses the policy new
 * tickets open under.
 *
 * Tickets opened before the store kept policies (schema step 6) have only
 * the policy's name: they are held to the caller's policy when it has that
 * name, else to the policy of that name found as policy_resolve finds one
 * ($QLOOP_POLICY_DIR, then the policies built into the binary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "loop/ticket_private.h"

int tk_policy_id(sqlite3 *db, const struct qloop_policy *p, int64_t *id, struct qloop_error *err)
{
    char *spec = policy_to_json(p);
    if (!spec)
        return qloop_error_internal(err, NULL, "保存工单的政策失败（内存不足）"), -2;
    char now[32];
    qloop_format_datetime(qloop_now(), now);
    const char *const params[] = {p->name, spec, now};
    int rc = sql_exec_texts(db,
                            "INSERT INTO ticket_policies(name, spec, added_at) VALUES(?1, ?2, ?3)"
                            " ON CONFLICT(spec) DO NOTHING",
                            "保存工单的政策", err, 3, params);
    if (rc == 0)
        rc = sql_int64_texts(db, "SELECT id FROM ticket_policies WHERE spec = ?1", 1, &params[1],
                             0, id, err);
    free(spec);
    return rc == 0 ? 0 : -2;
}

/* The policy stored as row id of ticket_policies, into out. 0 or -2. */
static int stored_policy(sqlite3 *db, int64_t id, struct qloop_policy *out,
                         struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "SELECT spec FROM ticket_policies WHERE id = ?1", err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sql_row(db, st, "读取工单的政策", err);
    if (rc == 1)
        rc = policy_from_json(sql_text(st, 0), out, err);
    else if (rc == 0)
        rc = qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                  "工单所存的政策（第 %lld 条）不在数据库中（内部错误）",
                                  (long long)id);
    sqlite3_finalize(st);
    return rc == 0 ? 0 : -2;
}

int tk_policy_of(sqlite3 *db, const struct tk *t, const struct qloop_policy *caller,
                 struct qloop_policy *out, struct qloop_error *err)
{
    if (t->policy_id > 0)
        return stored_policy(db, t->policy_id, out, err);
    if (caller && strcmp(caller->name, t->policy) == 0) {
        *out = *caller;
        return 0;
    }
    if (!t->policy[0]) {
        policy_default(out);
        return 0;
    }
    struct qloop_error why;
    qloop_error_clear(&why);
    if (policy_load_spec(t->policy, NULL, out, &why) == 0)
        return 0;
    return qloop_error_set(err, NULL, 0, 0,
                           "工单 #%lld 按政策「%s」开立，工单终身适用该政策，但找不到它（%s）；"
                           "请设置 QLOOP_POLICY_DIR 指向放有 %s.lua 的目录，或用 --policy 给出该政策文件",
                           (long long)t->id, t->policy, why.message, t->policy);
}
