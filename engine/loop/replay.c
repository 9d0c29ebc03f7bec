/*
 * replay.c — the tickets replayed from the audit chain (replay.h).
 *
 * What the entries say (the closed loop writes one with every history row):
 *   ticket.baseline    {"ticket", "state", "deadline", "dept"}   the ticket as
 *                      it stood when the store was keyed (store/upgrade.c)
 *   ticket.open        {"ticket", "dept", "to", "deadline_after", ...}
 *   ticket.transition  {"ticket", "dept", "from", "to", "deadline_after", ...}
 *   ticket.extension   the same, from == to (a request or a decision; an
 *                      approval moves the deadline)
 * Entries about a ticket before its baseline are from before the chain was
 * keyed and did not record the department; the baseline replaces whatever
 * they said. One pass over the entries in chain order, one over the tickets
 * table in id order; memory: one small record per ticket.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "loop/replay.h"
#include "loop/ticket.h"
#include "store/sql.h"

/* A ticket as its entries leave it. */
struct replayed {
    bool seen;        /* an opening or baseline entry was met */
    bool dept_known;  /* its department is on the chain */
    bool in_table;    /* found in the tickets table */
    char state[16];
    char *deadline;   /* NULL: none */
    char *dept;
};

struct replay {
    struct replayed *t;
    size_t n; /* t[0..n) valid, indexed by ticket id */
};

/* The record of ticket id, growing the table (NULL for an id out of range). */
static struct replayed *ticket_at(struct replay *r, json_int_t id)
{
    if (id < 1 || id > (json_int_t)1 << 40)
        return NULL;
    if ((size_t)id >= r->n) {
        size_t n = r->n ? r->n : 1024;
        while (n <= (size_t)id)
            n *= 2;
        r->t = qloop_xrealloc(r->t, n * sizeof *r->t);
        memset(r->t + r->n, 0, (n - r->n) * sizeof *r->t);
        r->n = n;
    }
    return &r->t[id];
}

/* Replaces *slot by a copy of the string v (NULL for JSON null or absent). */
static void set_text(char **slot, const json_t *v)
{
    free(*slot);
    *slot = json_is_string(v) ? qloop_xstrdup(json_string_value(v)) : NULL;
}

/* Applies one entry of kind to the replay. */
static void apply(struct replay *r, const char *kind, const json_t *d)
{
    struct replayed *t = ticket_at(r, json_integer_value(json_object_get(d, "ticket")));
    if (!t)
        return;
    bool baseline = strcmp(kind, "ticket.baseline") == 0;
    bool open = strcmp(kind, "ticket.open") == 0;
    if (!baseline && !open && !t->seen)
        return; /* before its baseline: a legacy entry */
    const json_t *state = json_object_get(d, baseline ? "state" : "to");
    snprintf(t->state, sizeof t->state, "%s",
             json_is_string(state) ? json_string_value(state) : "?");
    set_text(&t->deadline, json_object_get(d, baseline ? "deadline" : "deadline_after"));
    const json_t *dept = json_object_get(d, "dept");
    if (baseline || open || json_is_string(dept)) {
        set_text(&t->dept, dept);
        t->dept_known = json_is_string(dept);
    }
    t->seen = true;
}

/* Reads every ticket entry of the chain into r. Returns 0 or -1 with err. */
static int read_chain(sqlite3 *db, struct replay *r, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT kind, detail FROM audit WHERE kind IN ('ticket.baseline',"
                                   " 'ticket.open', 'ticket.transition', 'ticket.extension')"
                                   " ORDER BY seq",
                                   err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sql_row(db, st, "读取审计记录", err)) == 1) {
        json_t *d = json_loadb((const char *)sqlite3_column_blob(st, 1),
                               (size_t)sqlite3_column_bytes(st, 1), 0, NULL);
        if (json_is_object(d))
            apply(r, sql_text(st, 0), d);
        json_decref(d);
    }
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/* Whether two optional texts are the same ("" and NULL are). */
static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* What differs between ticket id as stored and as replayed t, into why;
 * false when nothing. */
static bool differs(int64_t id, const struct replayed *t, const char *state, const char *deadline,
                    const char *dept, char *why, size_t whysize)
{
    if (!t || !t->seen) {
        snprintf(why, whysize,
                 "工单 #%lld 在审计链中没有开单记录，也没有升级时的基线记录：它是绕过 qloop 写入数据库的",
                 (long long)id);
        return true;
    }
    if (!same(state, t->state)) {
        snprintf(why, whysize,
                 "工单 #%lld 的状态是「%s」（%s），但审计链记下的最后状态是「%s」（%s）："
                 "这次变更没有审计记录，是绕过 qloop 改动的",
                 (long long)id, ticket_state_zh(state ? state : ""), state ? state : "",
                 ticket_state_zh(t->state), t->state);
        return true;
    }
    if (!same(deadline, t->deadline)) {
        snprintf(why, whysize,
                 "工单 #%lld 的答复期限是 %s，但审计链记下的是 %s：期限被绕过 qloop 改动",
                 (long long)id, deadline && *deadline ? deadline : "（无）",
                 t->deadline && *t->deadline ? t->deadline : "（无）");
        return true;
    }
    if (!t->dept_known || !same(dept, t->dept)) {
        snprintf(why, whysize,
                 "工单 #%lld 的数源部门是「%s」，但审计链记下的是「%s」：工单被绕过 qloop 转给了别的部门",
                 (long long)id, dept ? dept : "", t->dept_known && t->dept ? t->dept : "（未记录）");
        return true;
    }
    return false;
}

/* Compares the tickets table with r. Returns 0, 1 with *ticket and why, or
 * -1 with err. */
static int compare(sqlite3 *db, struct replay *r, int64_t *ticket, int64_t *checked, char *why,
                   size_t whysize, struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT id, state, deadline, dept FROM tickets ORDER BY id", err);
    if (!st)
        return -1;
    int rc, verdict = 0;
    int64_t n = 0;
    while ((rc = sql_row(db, st, "读取工单", err)) == 1) {
        int64_t id = sqlite3_column_int64(st, 0);
        struct replayed *t = id > 0 && (size_t)id < r->n ? &r->t[id] : NULL;
        if (t)
            t->in_table = true;
        n++;
        if (!verdict && differs(id, t, sql_text(st, 1), sql_text(st, 2), sql_text(st, 3), why,
                                whysize)) {
            verdict = 1;
            *ticket = id;
        }
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    /* A ticket the chain knows and the table has lost: named when its id
     * comes before the first ticket found wrong. */
    for (size_t id = 1; id < r->n && (!verdict || (int64_t)id < *ticket); id++) {
        if (r->t[id].seen && !r->t[id].in_table) {
            snprintf(why, whysize,
                     "工单 #%lld 在审计链中有记录（最后状态「%s」），但已不在工单表中：它被绕过 qloop 删除",
                     (long long)id, ticket_state_zh(r->t[id].state));
            *ticket = (int64_t)id;
            verdict = 1;
            break;
        }
    }
    if (checked)
        *checked = n;
    return verdict;
}

int ticket_replay(sqlite3 *db, int64_t *ticket, int64_t *checked, char *why, size_t whysize,
                  struct qloop_error *err)
{
    struct replay r = {0};
    *ticket = 0;
    if (why && whysize)
        why[0] = '\0';
    /* One snapshot of the chain and the table. */
    int own = sqlite3_get_autocommit(db) != 0;
    if (own && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        own = 0;
    int rc = read_chain(db, &r, err);
    if (rc == 0)
        rc = compare(db, &r, ticket, checked, why, whysize, err);
    if (own)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    for (size_t i = 0; i < r.n; i++) {
        free(r.t[i].deadline);
        free(r.t[i].dept);
    }
    free(r.t);
    return rc;
}
