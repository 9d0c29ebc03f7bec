/*
 * authz.c — the authorisation function (authz.h): the roles × actions table,
 * department scoping and separation of duties, in one place.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity/authz.h"
#include "identity/identity_private.h"

static const struct {
    const char *name, *zh;
} actions[IDENT_NACTIONS] = {
    [IDENT_VIEW] = {"view", "查看工单"},
    [IDENT_FEEDBACK] = {"feedback", "交办（反馈）"},
    [IDENT_RESOLVE] = {"resolve", "答复"},
    [IDENT_EXTEND] = {"extend", "申请延期"},
    [IDENT_APPROVE] = {"approve", "批准延期"},
    [IDENT_REJECT] = {"reject", "驳回延期"},
    [IDENT_VERIFY] = {"verify", "人工复核"},
    [IDENT_FILE] = {"file", "填报问题"},
    [IDENT_IMPORT] = {"import", "接口导入问题"},
    [IDENT_REVEAL] = {"reveal", "查看明文记录"},
    [IDENT_ANNUAL] = {"annual", "查看年度评估"},
    [IDENT_SCORECARD] = {"scorecard", "查看计分卡"},
    [IDENT_MANAGE] = {"manage", "管理用户和部门"},
};

const char *ident_action_name(enum ident_action a)
{
    return a >= 0 && a < IDENT_NACTIONS ? actions[a].name : "?";
}

const char *ident_action_zh(enum ident_action a)
{
    return a >= 0 && a < IDENT_NACTIONS ? actions[a].zh : "?";
}

/* Writes the reason into why; returns false. */
__attribute__((format(printf, 3, 4))) static bool refuse(char *why, size_t size, const char *fmt,
                                                         ...)
{
    if (why && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool same(const char *a, const char *b)
{
    return a && b && *a && strcmp(a, b) == 0;
}

/* "用户 li（数源部门人员，市公安局）" into out. */
static const char *who(const struct ident_actor *a, char *out, size_t size)
{
    if (a->operator)
        snprintf(out, size, "操作人“%s”", a->login);
    else if (*a->dept)
        snprintf(out, size, "用户 %s（%s，%s）", a->login, ident_role_zh(a->role), a->dept);
    else
        snprintf(out, size, "用户 %s（%s）", a->login, ident_role_zh(a->role));
    return out;
}

/* Whether someone of dept filed a report into the ticket (or a itself). */
static bool filed_by(const struct ident_actor *a, const struct ident_facts *t)
{
    for (size_t i = 0; t && i < t->nfilers; i++)
        if (same(t->filers[i].login, a->login) || same(t->filers[i].dept, a->dept))
            return true;
    return false;
}

/* The department that asked for the pending extension. */
static const char *requesting_dept(const struct ident_facts *t)
{
    return t->ext_dept && *t->ext_dept ? t->ext_dept : t->dept;
}

/* Separation of duties on a decision, for users and the operator alike. */
static bool decide_duties(const struct ident_actor *a, const struct ident_facts *t, char *why,
                          size_t size)
{
    char w[600];
    if (same(t->ext_actor, a->login))
        return refuse(why, size, "%s不能审批自己提出的延期申请；请由另一位审批人决定", who(a, w, sizeof w));
    if (same(t->approver, "bureau") && same(requesting_dept(t), a->dept))
        return refuse(why, size,
                      "%s与提出延期申请的部门（%s）相同：按本工单的政策须由大数据主管部门审批，"
                      "申请部门的人员不能审批自己部门的申请",
                      who(a, w, sizeof w), requesting_dept(t));
    return true;
}

/* Whether the approver a may decide under the ticket's policy. */
static bool approver_may_decide(const struct ident_actor *a, const struct ident_facts *t,
                                char *why, size_t size)
{
    char w[600];
    if (same(t->approver, "bureau")) {
        if (!a->bureau)
            return refuse(why, size,
                          "%s不能审批：本工单的政策规定延期由大数据主管部门审批，"
                          "应由大数据主管部门的审批人（approver）决定",
                          who(a, w, sizeof w));
        return true;
    }
    if (same(t->approver, "provider_head")) {
        if (!same(t->dept, a->dept))
            return refuse(why, size,
                          "%s不能审批：本工单的政策规定延期由数源部门负责人审批，"
                          "应由“%s”的审批人（approver）决定",
                          who(a, w, sizeof w), t->dept ? t->dept : "");
        return true;
    }
    return refuse(why, size,
                  "%s不能审批：本工单的政策未写明可识别的审批人类型（“%s”，应为 bureau 或 "
                  "provider_head），只有管理员可以决定",
                  who(a, w, sizeof w), t->approver ? t->approver : "");
}

/* Whether the approver a may see the ticket: one it could decide on. */
static bool approver_may_view(const struct ident_actor *a, const struct ident_facts *t)
{
    return same(t->dept, a->dept) || (a->bureau && same(t->approver, "bureau"));
}

/* The store with no users: one trusted operator. */
static bool operator_allowed(const struct ident_actor *a, enum ident_action action,
                             const struct ident_facts *t, char *why, size_t size)
{
    char w[600];
    if (!*a->login)
        return refuse(why, size, "请用 --actor 写明操作人");
    if (action == IDENT_REVEAL)
        return refuse(why, size,
                      "本数据库还没有用户：原文只向登记的数源部门人员（provider）和管理员显示；"
                      "请先用 qloop users add 登记用户，再以其登录名查看");
    if ((action == IDENT_APPROVE || action == IDENT_REJECT) && t) {
        if (same(t->dept, a->login))
            return refuse(why, size,
                          "%s即工单所属部门，不能审批本部门的延期申请；请由%s决定",
                          who(a, w, sizeof w),
                          same(t->approver, "provider_head") ? "该部门负责人（以其本人名义）"
                                                             : "大数据主管部门");
        return decide_duties(a, t, why, size);
    }
    return true;
}

bool ident_allowed(const struct ident_actor *a, enum ident_action action,
                   const struct ident_facts *t, char *why, size_t size)
{
    static const struct ident_facts none;
    char w[600];
    if (why && size)
        *why = '\0';
    if (!a || action < 0 || action >= IDENT_NACTIONS)
        return refuse(why, size, "未知的操作");
    if (a->operator)
        return operator_allowed(a, action, t, why, size);
    if (!a->active)
        return refuse(why, size, "用户 %s 已停用，不能进行任何操作", a->login);
    if (a->role < 0 || a->role >= IDENT_NROLES)
        return refuse(why, size, "用户 %s 的角色无效", a->login);
    const struct ident_facts *f = t ? t : &none;
    enum ident_role r = a->role;
    bool own = same(f->dept, a->dept);
    bool ok;
    const char *instead; /* who may, for the message */
    switch (action) {
    case IDENT_VIEW:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD || (r == IDENT_PROVIDER && own) ||
             (r == IDENT_APPROVER && approver_may_view(a, f)) ||
             ((r == IDENT_REPORTER || r == IDENT_SYSTEM) && filed_by(a, f));
        instead = "本工单只对管理员、数据治理人员、所属部门（%s）的人员和审批人、以及填报它的部门可见";
        break;
    case IDENT_FEEDBACK:
    case IDENT_VERIFY:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD;
        instead = "只有数据治理人员（steward）和管理员可以%s";
        break;
    case IDENT_RESOLVE:
    case IDENT_EXTEND:
    case IDENT_REVEAL:
        ok = r == IDENT_ADMIN || (r == IDENT_PROVIDER && own);
        instead = "只有工单所属部门（%s）的数源部门人员（provider）和管理员可以%s";
        break;
    case IDENT_APPROVE:
    case IDENT_REJECT:
        if (r == IDENT_APPROVER) {
            if (!approver_may_decide(a, f, why, size))
                return false;
        } else if (r != IDENT_ADMIN) {
            return refuse(why, size, "%s不能%s：只有审批人（approver）和管理员可以审批延期申请",
                          who(a, w, sizeof w), ident_action_zh(action));
        }
        return decide_duties(a, f, why, size);
    case IDENT_FILE:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD || r == IDENT_REPORTER || r == IDENT_SYSTEM;
        instead = "只有使用部门人员（reporter）、业务系统（system）、数据治理人员和管理员可以%s";
        break;
    case IDENT_IMPORT:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD || r == IDENT_SYSTEM;
        instead = "只有业务系统（system）、数据治理人员和管理员可以%s";
        break;
    case IDENT_ANNUAL:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD || r == IDENT_LEADER;
        instead = "只有领导（leader）、数据治理人员和管理员可以%s";
        break;
    case IDENT_SCORECARD:
        ok = r == IDENT_ADMIN || r == IDENT_STEWARD || r == IDENT_LEADER || (r == IDENT_PROVIDER && own);
        instead = "只有领导、数据治理人员、管理员和该部门（%s）自己的数源部门人员可以%s";
        break;
    case IDENT_MANAGE:
    default:
        ok = r == IDENT_ADMIN;
        instead = "只有管理员（admin）可以%s";
        break;
    }
    if (ok)
        return true;
    /* The message: who is refused what, and who may instead. */
    char rule[600];
    const char *d = f->dept && *f->dept ? f->dept : "未指定";
    if (action == IDENT_VIEW)
        snprintf(rule, sizeof rule, instead, d);
    else if (action == IDENT_RESOLVE || action == IDENT_EXTEND || action == IDENT_REVEAL ||
             action == IDENT_SCORECARD)
        snprintf(rule, sizeof rule, instead, d, ident_action_zh(action));
    else
        snprintf(rule, sizeof rule, instead, ident_action_zh(action));
    return refuse(why, size, "%s不能%s：%s", who(a, w, sizeof w), ident_action_zh(action), rule);
}

void ident_actor_of_user(const struct ident_user *u, struct ident_actor *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->login, sizeof out->login, "%s", u->login);
    out->role = u->role;
    snprintf(out->dept, sizeof out->dept, "%s", u->dept);
    out->bureau = u->dept_bureau;
    out->active = u->active;
}

int ident_actor_resolve(sqlite3 *db, const char *text, struct ident_actor *out,
                        struct qloop_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return qloop_error_set(err, NULL, 0, 0, "请用 --actor 写明操作人（已有用户时为其登录名）");
    int64_t n;
    if (ident_user_count(db, &n, err) != 0)
        return -1;
    if (n == 0) {
        if (ident_text_check("操作人（--actor）", text, 200, err) != 0)
            return -1;
        out->operator= true;
        out->active = true;
        snprintf(out->login, sizeof out->login, "%s", text);
        return 0;
    }
    struct ident_user u;
    int found = ident_user_find(db, text, &u, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "“%.200s”不是本数据库的用户：已有用户时，--actor 必须是用户的登录名"
                               "（qloop users list 查看；qloop users add 添加）",
                               text);
    ident_actor_of_user(&u, out);
    return 0;
}

int ident_require(const struct ident_actor *a, enum ident_action action,
                  const struct ident_facts *t, const char *subject, struct qloop_error *err)
{
    char why[1200];
    if (ident_allowed(a, action, t, why, sizeof why))
        return 0;
    qloop_error_set(err, NULL, 0, 0, "%s%s%s", subject ? subject : "", subject ? "：" : "", why);
    return qloop_error_refuse(err, QLOOP_REFUSED_DENIED);
}

int ident_require_active(const struct ident_actor *a, struct qloop_error *err)
{
    if (a->operator || a->active)
        return 0;
    qloop_error_set(err, NULL, 0, 0, "用户 %s 已停用，不能进行任何操作", a->login);
    return qloop_error_refuse(err, QLOOP_REFUSED_DENIED);
}
