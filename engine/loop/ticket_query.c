/*
 * ticket_query.c — tickets as JSON for `qloop tickets list --json` and
 * `qloop tickets show --json` (CONTRACT.md): one object per ticket, overdue
 * judged at qloop_now(); show adds the ticket's records and its history.
 * Text read back from the store goes through tk_jstr, so a byte that is not
 * UTF-8 becomes U+FFFD instead of failing the whole answer.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

#define TICKET_COLUMNS                                                                          \
    "t.id, t.dataset, t.rule, t.source, t.dept, t.state, t.urgent, t.message, t.opened_at,"     \
    " t.opened_by, t.received_at, t.deadline, t.answered_at, t.closed_at, t.policy, t.note,"    \
    " t.ext_until, t.ext_reason, t.ext_actor, t.ext_at,"                                        \
    " (SELECT count(*) FROM ticket_item_rows i WHERE i.ticket_id = t.id"                        \
    "   AND i.state IN ('open','missing')),"                                                    \
    " (SELECT count(*) FROM ticket_item_rows i WHERE i.ticket_id = t.id"                        \
    "   AND i.state = 'missing'),"                                                              \
    " (SELECT count(*) FROM ticket_item_rows i WHERE i.ticket_id = t.id), t.base_deadline"

/* A member of a JSON object taken from a result column. */
struct member {
    const char *key;
    int col;
    enum { M_STR, M_TIME, M_INT, M_BOOL } type; /* M_STR: "" stays ""; M_TIME: "" is null */
};

/* Sets o's members from the row at st; SQL NULL is JSON null. */
static void set_members(json_t *o, sqlite3_stmt *st, const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v;
        if (sqlite3_column_type(st, m[i].col) == SQLITE_NULL && m[i].type != M_BOOL)
            v = json_null();
        else if (m[i].type == M_INT)
            v = json_integer(sqlite3_column_int64(st, m[i].col));
        else if (m[i].type == M_BOOL)
            v = json_boolean(sqlite3_column_int(st, m[i].col));
        else if (m[i].type == M_TIME)
            v = tk_jtime(sql_text(st, m[i].col));
        else
            v = tk_jstr(sql_text(st, m[i].col));
        json_object_set_new(o, m[i].key, v);
    }
}

/* The list object of the row at st (TICKET_COLUMNS), overdue judged at now. */
static json_t *ticket_object(sqlite3_stmt *st, const char *now)
{
    static const struct member head[] = {
        {"id", 0, M_INT},          {"dataset", 1, M_STR},      {"rule", 2, M_STR},
        {"source", 3, M_STR},      {"dept", 4, M_STR},         {"state", 5, M_STR},
    };
    static const struct member counts[] = {
        {"items", 20, M_INT},        {"missing_items", 21, M_INT}, {"total_items", 22, M_INT},
        {"message", 7, M_TIME},      {"urgent", 6, M_BOOL},        {"opened_at", 8, M_TIME},
        {"opened_by", 9, M_TIME},    {"received_at", 10, M_TIME},  {"deadline", 11, M_TIME},
        {"base_deadline", 23, M_TIME},
    };
    static const struct member tail[] = {
        {"answered_at", 12, M_TIME}, {"closed_at", 13, M_TIME}, {"policy", 14, M_TIME},
        {"note", 15, M_TIME},
    };
    static const struct member request[] = {
        {"until", 16, M_TIME}, {"reason", 17, M_TIME}, {"actor", 18, M_TIME}, {"at", 19, M_TIME},
    };
    json_t *o = json_object();
    const char *state = sql_text(st, 5);
    const char *deadline = sql_text(st, 11);
    set_members(o, st, head, sizeof head / sizeof head[0]);
    json_object_set_new(o, "state_zh", tk_jstr(ticket_state_zh(state ? state : "")));
    set_members(o, st, counts, sizeof counts / sizeof counts[0]);
    bool overdue = state && strcmp(state, "feedback") == 0 && deadline && strcmp(deadline, now) < 0;
    json_object_set_new(o, "overdue", json_boolean(overdue));
    set_members(o, st, tail, sizeof tail / sizeof tail[0]);
    json_t *e = json_null();
    if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
        e = json_object();
        set_members(e, st, request, sizeof request / sizeof request[0]);
    }
    json_object_set_new(o, "extension_request", e);
    return o;
}

/* Sets o[key] to an array of one object per row of sql (?1: ticket id),
 * whose members m name. 0 or -2. */
static int show_rows(sqlite3 *db, int64_t id, json_t *o, const char *key, const char *sql,
                     const struct member *m, size_t n, const char *what, struct qloop_error *err)
{
    json_t *arr = json_array();
    json_object_set_new(o, key, arr);
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = sql_row(db, st, what, err)) == 1) {
        json_t *row = json_object();
        set_members(row, st, m, n);
        json_array_append_new(arr, row);
    }
    sqlite3_finalize(st);
    return rc < 0 ? -2 : 0;
}

int ticket_list_json(sqlite3 *db, const struct ticket_filter *f, json_t **out,
                     struct qloop_error *err)
{
    char now[32];
    qloop_format_datetime(qloop_now(), now);
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " TICKET_COLUMNS " FROM tickets t"
                                   " WHERE (?1 IS NULL OR t.state = ?1)"
                                   " AND (?2 IS NULL OR t.dept = ?2)"
                                   " AND (?3 = 0 OR (t.state = 'feedback' AND t.deadline < ?4))"
                                   " ORDER BY t.id",
                                   err);
    if (!st)
        return -2;
    sql_bind_text(st, 1, f ? sql_or_null(f->state) : NULL);
    sql_bind_text(st, 2, f ? sql_or_null(f->dept) : NULL);
    sqlite3_bind_int(st, 3, f && f->overdue);
    sql_bind_text(st, 4, now);
    struct ident_actor who;
    struct qloop_policy cache = {.name = ""};
    if (f && f->actor &&
        (tk_viewer_resolve(db, f->actor, &who, err) != 0 || ident_require_active(&who, err) != 0)) {
        sqlite3_finalize(st);
        return qloop_error_exit(err) == QLOOP_EXIT_INPUT ? -1 : -2;
    }
    json_t *arr = json_array();
    int rc;
    while ((rc = sql_row(db, st, "读取工单", err)) == 1) {
        bool visible = true;
        if (f && f->actor) {
            struct tk_ticket_ref r = {sqlite3_column_int64(st, 0), sql_text(st, 3), sql_text(st, 4),
                                      sql_text(st, 14), sql_text(st, 18)};
            if (tk_may(db, &who, IDENT_VIEW, &r, &cache, &visible, NULL, 0, err) != 0) {
                rc = -2;
                break;
            }
        }
        if (visible)
            json_array_append_new(arr, ticket_object(st, now));
    }
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return -2;
    }
    *out = arr;
    return 0;
}

/* What show adds to the list object: the ticket's records and history. */
static const struct member record_members[] = {
    {"record_key", 0, M_STR}, {"field", 1, M_STR},      {"value", 2, M_STR},
    {"message", 3, M_STR},    {"row_no", 4, M_INT},     {"state", 5, M_STR},
    {"added_at", 6, M_TIME},  {"closed_at", 7, M_TIME}, {"reopened_from", 8, M_INT},
    {"reporter", 9, M_STR},   {"record_ref", 10, M_STR},
};
static const struct member history_members[] = {
    {"at", 0, M_TIME},              {"actor", 1, M_STR},            {"event", 2, M_STR},
    {"from", 3, M_TIME},            {"to", 4, M_STR},               {"reason", 5, M_TIME},
    {"deadline_before", 6, M_TIME}, {"deadline_after", 7, M_TIME}, {"run", 8, M_TIME},
};

int ticket_show_json(sqlite3 *db, int64_t id, json_t **out, struct qloop_error *err)
{
    char now[32];
    qloop_format_datetime(qloop_now(), now);
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT " TICKET_COLUMNS " FROM tickets t WHERE t.id = ?1", err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, id);
    int rc = sql_row(db, st, "读取工单", err);
    json_t *o = rc == 1 ? ticket_object(st, now) : NULL;
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    if (rc == 0)
        return qloop_error_set(err, NULL, 0, 0, "工单 #%lld 不存在；用 qloop tickets list 查看现有工单",
                               (long long)id);
    if (show_rows(db, id, o, "records",
                  "SELECT record_key, field, value, message, row_no, state, added_at, closed_at,"
                  " reopened_from, reporter, record_ref FROM ticket_items WHERE ticket_id = ?1"
                  " ORDER BY id",
                  record_members, sizeof record_members / sizeof record_members[0],
                  "读取工单记录", err) != 0 ||
        show_rows(db, id, o, "history",
                  "SELECT at, actor, event, from_state, to_state, reason, deadline_before,"
                  " deadline_after, run_id FROM ticket_history WHERE ticket_id = ?1 ORDER BY id",
                  history_members, sizeof history_members / sizeof history_members[0],
                  "读取工单历史", err) != 0) {
        json_decref(o);
        return -2;
    }
    *out = o;
    return 0;
}
