/*
 * api.c — the JSON API of CONTRACT.md "Identity, roles and the portal":
 * signing in and out (/api/v1/session) and the tickets (/api/v1/tickets,
 * their changes). Tickets are the objects of `tickets list --json` and
 * `tickets show --json`, of the tickets the caller may see (the one
 * authorisation function decides, in the engine). Errors are
 * {"error": "中文说明"} with 400 (malformed), 401, 403, 404, 409, 422, 429.
 */
#include <stdio.h>
#include <string.h>

#include "loop/ticket.h"
#include "web_private.h"

json_t *web_json_body(struct web_req *r)
{
    const char *p = qloop_buf_str(&r->body);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (!*p)
        return json_object();
    json_error_t je;
    json_t *o = json_loadb(r->body.ptr, r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        web_reply_error(r, 400, "请求体应为一个 JSON 对象（Content-Type: application/json）%s%s",
                        o ? "" : "：", o ? "" : je.text);
        return NULL;
    }
    return o;
}

int web_json_text(struct web_req *r, json_t *o, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        web_reply_error(r, 400, "缺少字段 \"%s\"", key);
        return -1;
    }
    if (!json_is_string(v) || (required && !*json_string_value(v))) {
        web_reply_error(r, 400, "字段 \"%s\" 应为%s字符串", key, required ? "非空" : "");
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* ---- /api/v1/session ---- */

/* {"user", "role", "dept", "name", "csrf"} of r's signed-in user. */
static json_t *session_object(struct web_req *r, bool with_csrf)
{
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s}", "user", r->user.login, "role",
                          ident_role_name(r->user.role), "dept",
                          r->user.dept[0] ? r->user.dept : NULL, "name", r->user.name);
    if (with_csrf && r->via == WEB_VIA_SESSION)
        json_object_set_new(o, "csrf", json_string(r->csrf));
    return o;
}

void api_session_post(struct web_req *r, int64_t id, const char *tail)
{
    json_t *b = web_json_body(r);
    if (!b)
        return;
    const char *login, *password;
    char msg[512];
    if (web_json_text(r, b, "login", true, &login) == 0 &&
        web_json_text(r, b, "password", true, &password) == 0) {
        unsigned status = web_signin(r, login, password, msg, sizeof msg);
        if (status == 0)
            web_reply_json(r, 200, session_object(r, true));
        else
            web_reply_error(r, status, "%s", msg);
    }
    json_decref(b);
}

void api_session_get(struct web_req *r, int64_t id, const char *tail)
{
    web_reply_json(r, 200, session_object(r, true));
}

void api_session_delete(struct web_req *r, int64_t id, const char *tail)
{
    web_signout(r);
    web_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

/* ---- /api/v1/tickets ---- */

int web_bool_param(const char *s, bool *out)
{
    *out = false;
    if (!s || !*s || strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
        return 0;
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) {
        *out = true;
        return 0;
    }
    return -1;
}

void api_tickets(struct web_req *r, int64_t id, const char *tail)
{
    const char *state = web_query(r, "state"), *dept = web_query(r, "dept");
    bool overdue;
    if (state && *state && !ticket_state_parse(state)) {
        web_reply_error(r, 400, "state 应为 discovered、feedback、corrected、shared、confirmed 或 negotiated");
        return;
    }
    if (web_bool_param(web_query(r, "overdue"), &overdue) != 0) {
        web_reply_error(r, 400, "overdue 应为 true 或 false");
        return;
    }
    struct ticket_filter f = {state && *state ? ticket_state_parse(state) : NULL,
                              dept && *dept ? dept : NULL, overdue, r->user.login};
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *list;
    int rc = ticket_list_json(r->db, &f, &list, &err);
    if (rc != 0)
        web_reply_failure(r, rc, &err);
    else
        web_reply_json(r, 200, list);
}

void web_reply_ticket(struct web_req *r, unsigned status, int64_t id)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *t;
    int rc = web_ticket_json(r, id, &t, &err);
    if (rc == 0)
        web_reply_json(r, status, t);
    else if (status != 200 && rc == -1) /* done, but no longer visible to the caller */
        web_reply_json(r, status, json_pack("{s:I}", "id", (json_int_t)id));
    else
        web_reply_failure(r, rc, &err);
}

void api_ticket(struct web_req *r, int64_t id, const char *tail)
{
    web_reply_ticket(r, 200, id);
}

bool web_act_name(const char *s)
{
    static const char *const acts[] = {"feedback", "resolve", "extend", "approve", "reject"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(s, acts[i]) == 0)
            return true;
    return false;
}

void api_ticket_act(struct web_req *r, int64_t id, const char *what)
{
    if (!web_act_name(what)) {
        web_reply_error(r, 404, "没有这个操作：可用 feedback、resolve、extend、approve、reject");
        return;
    }
    json_t *b = web_json_body(r);
    if (!b)
        return;
    struct web_act a = {0};
    json_t *urgent = json_object_get(b, "urgent");
    int bad = 0;
    if (strcmp(what, "resolve") == 0)
        bad = web_json_text(r, b, "as", true, &a.as) || web_json_text(r, b, "note", false, &a.note);
    else if (strcmp(what, "extend") == 0)
        bad = web_json_text(r, b, "until", true, &a.until) ||
              web_json_text(r, b, "reason", true, &a.reason);
    else if (strcmp(what, "reject") == 0)
        bad = web_json_text(r, b, "reason", true, &a.reason);
    else if (strcmp(what, "feedback") == 0) {
        if (urgent && !json_is_boolean(urgent)) {
            web_reply_error(r, 400, "字段 \"urgent\" 应为 true 或 false");
            bad = 1;
        }
        a.urgent = json_is_true(urgent);
        bad = bad || web_json_text(r, b, "deadline", a.urgent, &a.deadline);
    }
    if (!bad) {
        struct qloop_error err;
        qloop_error_clear(&err);
        int rc = web_ticket_act(r, id, what, &a, &err);
        if (rc == 0)
            web_reply_ticket(r, 200, id);
        else
            web_reply_failure(r, rc, &err);
    }
    json_decref(b);
}
