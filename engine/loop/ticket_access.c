/*
 * ticket_access.c — who may act on a ticket. Every action of the loop, every
 * list and every show asks the one authorisation function
 * (identity/authz.h: ident_allowed) with the facts of the ticket, loaded
 * here in the action's own transaction: its department, the approver its
 * policy names, who asked for the pending extension and from which
 * department, and who filed it. Nothing here decides anything itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/authz.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* The approver role of the policy named name (the ticket's own): p's when
 * p is that policy, else the policy found by that name, else p's (the
 * command could not find the ticket's policy either, and said so); "" when
 * there is none (only an admin then decides). */
static void approver_role(const char *name, const struct qloop_policy *p, char *out, size_t size)
{
    out[0] = '\0';
    if (p && (!name || !*name || strcmp(p->name, name) == 0)) {
        snprintf(out, size, "%s", p->approver_role);
        return;
    }
    struct qloop_policy own;
    struct qloop_error ignored;
    if (name && *name && policy_load_spec(name, NULL, &own, &ignored) == 0)
        snprintf(out, size, "%s", own.approver_role);
    else if (p)
        snprintf(out, size, "%s", p->approver_role);
}

/* Copies s into the access's arena. */
static const char *keep(struct tk_access *a, const char *s)
{
    return s ? qloop_arena_copy(&a->arena, s, strlen(s)) : NULL;
}

int tk_access_load(sqlite3 *db, const struct tk_ticket_ref *r, const struct qloop_policy *p,
                   struct tk_access *a, struct qloop_error *err)
{
    memset(a, 0, sizeof *a);
    approver_role(r->policy, p, a->approver, sizeof a->approver);
    a->f.dept = keep(a, r->dept);
    a->f.approver = a->approver;
    if (r->ext_actor && *r->ext_actor) {
        a->f.ext_actor = keep(a, r->ext_actor);
        const char *key[] = {r->ext_actor};
        sqlite3_stmt *st = sql_prepare_texts(db, "SELECT dept FROM users WHERE login = ?1", 1, key, err);
        if (!st)
            return -2;
        int rc = sql_row(db, st, "读取延期申请人", err);
        if (rc == 1)
            a->f.ext_dept = keep(a, sql_text(st, 0));
        sqlite3_finalize(st);
        if (rc < 0)
            return -2;
    }
    /* Who filed it: whoever opened a ticket from a report, and the reporters
     * of its records. */
    if (r->source && strcmp(r->source, "run") != 0) {
        sqlite3_stmt *st = sql_prepare(db,
                                       "SELECT x.who, u.dept FROM (SELECT opened_by AS who FROM tickets"
                                       " WHERE id = ?1 UNION SELECT reporter FROM ticket_item_rows"
                                       " WHERE ticket_id = ?1 AND reporter IS NOT NULL) x"
                                       " LEFT JOIN users u ON u.login = x.who",
                                       err);
        if (!st)
            return -2;
        sqlite3_bind_int64(st, 1, r->id);
        int rc;
        size_t cap = 0;
        while ((rc = sql_row(db, st, "读取工单的填报人", err)) == 1) {
            if (a->nfilers == cap) {
                cap = cap ? 2 * cap : 4;
                a->filers = qloop_xrealloc(a->filers, cap * sizeof *a->filers);
            }
            a->filers[a->nfilers].login = keep(a, sql_text(st, 0));
            a->filers[a->nfilers].dept = keep(a, sql_text(st, 1));
            a->nfilers++;
        }
        sqlite3_finalize(st);
        if (rc < 0)
            return -2;
        a->f.filers = a->filers;
        a->f.nfilers = a->nfilers;
    }
    return 0;
}

void tk_access_free(struct tk_access *a)
{
    free(a->filers);
    qloop_arena_free(&a->arena);
    memset(a, 0, sizeof *a);
}

/* The facts' reference to a loaded ticket. */
static struct tk_ticket_ref ref_of(const struct tk *t)
{
    return (struct tk_ticket_ref){t->id, t->source, t->dept, t->policy, t->ext_actor};
}

int tk_authorize(sqlite3 *db, const struct tk *t, const char *actor, enum ident_action action,
                 const struct qloop_policy *p, struct qloop_error *err)
{
    struct ident_actor who;
    if (ident_actor_resolve(db, actor, &who, err) != 0)
        return qloop_error_exit(err) == QLOOP_EXIT_INPUT ? -1 : -2;
    struct tk_access a;
    struct tk_ticket_ref r = ref_of(t);
    int rc = tk_access_load(db, &r, p, &a, err);
    if (rc == 0) {
        char subject[48];
        snprintf(subject, sizeof subject, "工单 #%lld", (long long)t->id);
        rc = ident_require(&who, action, &a.f, subject, err);
    }
    tk_access_free(&a);
    return rc;
}

int ticket_allowed(sqlite3 *db, int64_t id, const char *actor, enum ident_action action,
                   const struct qloop_policy *p, struct qloop_error *err)
{
    struct tk t;
    int rc = tk_load(db, id, &t, err);
    if (rc == 0)
        rc = tk_authorize(db, &t, actor, action, p, err);
    if (rc == -1 && err->refusal == QLOOP_REFUSED_ABSENT)
        return -1;
    return rc == 0 ? 1 : rc == -1 ? 0 : -2;
}

int tk_authorize_report(sqlite3 *db, const char *actor, const char *source, const char *dept,
                        struct qloop_error *err)
{
    struct ident_actor who;
    if (ident_actor_resolve(db, actor, &who, err) != 0)
        return qloop_error_exit(err) == QLOOP_EXIT_INPUT ? -1 : -2;
    struct ident_facts f = {.dept = dept};
    return ident_require(&who, strcmp(source, "import") == 0 ? IDENT_IMPORT : IDENT_FILE, &f, NULL,
                         err);
}

int tk_register_owners(sqlite3 *db, const char *run_id, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT owner, min(dataset) FROM run_datasets WHERE run_id = ?1"
                                         " AND owner IS NOT NULL AND owner <> '' GROUP BY owner"
                                         " ORDER BY owner",
                                         1, &run_id, err);
    if (!st)
        return -2;
    int rc;
    while ((rc = sql_row(db, st, "读取数据集的数源部门", err)) == 1) {
        if (ident_dept_ensure(db, sql_text(st, 0), "rules", "system", NULL, err) != 0) {
            rc = qloop_error_exit(err) == QLOOP_EXIT_INPUT ? -1 : -2;
            if (rc == -1) {
                char why[sizeof err->message];
                snprintf(why, sizeof why, "%s", err->message);
                qloop_error_set(err, NULL, 0, 0,
                                "数据集「%s」的数源部门（owner）不能登记为部门：%s；请修改规则包中该数据集的 owner",
                                sql_text(st, 1), why);
            }
            break;
        }
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

int tk_viewer_resolve(sqlite3 *db, const char *actor, struct ident_actor *who,
                      struct qloop_error *err)
{
    if (ident_actor_resolve(db, actor, who, err) != 0)
        return qloop_error_exit(err) == QLOOP_EXIT_INPUT ? -1 : -2;
    return 0;
}

int tk_may(sqlite3 *db, const struct ident_actor *who, enum ident_action action,
           const struct tk_ticket_ref *r, struct qloop_policy *cache, bool *yes, char *why,
           size_t whysize, struct qloop_error *err)
{
    if (cache && r->policy && *r->policy && strcmp(cache->name, r->policy) != 0) {
        struct qloop_error ignored;
        if (policy_load_spec(r->policy, NULL, cache, &ignored) != 0)
            snprintf(cache->name, sizeof cache->name, "%s", ""); /* unknown: no approver role */
    }
    struct tk_access a;
    int rc = tk_access_load(db, r, cache && *cache->name ? cache : NULL, &a, err);
    if (rc == 0)
        *yes = ident_allowed(who, action, &a.f, why, whysize);
    tk_access_free(&a);
    return rc;
}
