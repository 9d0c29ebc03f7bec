/*
 * router.c — which handler answers a request: the route table of the API
 * (CONTRACT.md) and of the portal's pages, and what every route needs
 * before its handler runs (a reading connection, who asks, a signed-in
 * user where the route wants one, the CSRF token for a change).
 *
 * A pattern's segment "#" is a positive number (the handler's id), "*" any
 * one segment (the handler's tail). A path that matches no route is 404; a
 * path served for other methods is 405 with Allow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_private.h"

enum {
    R_AUTH = 1,   /* a signed-in user (401 / the sign-in page otherwise) */
    R_CHANGE = 2, /* changes something: the session's CSRF token is required */
    R_PAGE = 4,   /* a portal page: errors as HTML */
    R_OPEN = 8,   /* needs no store (assets) */
};

static const struct route {
    const char *method, *pattern;
    web_handler fn;
    unsigned flags;
} routes[] = {
    {"POST", "/api/v1/session", api_session_post, 0},
    {"GET", "/api/v1/session", api_session_get, R_AUTH},
    {"DELETE", "/api/v1/session", api_session_delete, R_AUTH | R_CHANGE},
    {"GET", "/api/v1/tickets", api_tickets, R_AUTH},
    {"GET", "/api/v1/tickets/#", api_ticket, R_AUTH},
    {"POST", "/api/v1/tickets/#/*", api_ticket_act, R_AUTH | R_CHANGE},
    {"POST", "/api/v1/reports", api_reports_post, R_AUTH | R_CHANGE},
    {"GET", "/api/v1/reports/annual", api_annual, R_AUTH},
    {"GET", "/api/v1/scorecard", api_scorecard, R_AUTH},
    {"GET", "/", page_root, R_PAGE},
    {"GET", "/assets/*", page_asset, R_PAGE | R_OPEN},
    {"GET", "/signin", page_signin, R_PAGE},
    {"POST", "/signin", page_signin_post, R_PAGE},
    {"POST", "/signout", page_signout, R_PAGE | R_AUTH | R_CHANGE},
    {"GET", "/tickets", page_tickets, R_PAGE | R_AUTH},
    {"GET", "/tickets/#", page_ticket, R_PAGE | R_AUTH},
    {"POST", "/tickets/#/*", page_ticket_act, R_PAGE | R_AUTH | R_CHANGE},
    {"GET", "/tickets/#/*", page_export, R_PAGE | R_AUTH},
    {"GET", "/queue", page_queue, R_PAGE | R_AUTH},
    {"GET", "/overview", page_overview, R_PAGE | R_AUTH},
    {"GET", "/report", page_report_form, R_PAGE | R_AUTH},
    {"POST", "/report", page_report_post, R_PAGE | R_AUTH | R_CHANGE},
    {"GET", "/assessment", page_assessment, R_PAGE | R_AUTH},
};

/* Whether path matches pattern; fills *id and *tail (the "*" segment, in
 * tail[0..size)). */
static bool match(const char *pattern, const char *path, int64_t *id, char *tail, size_t size)
{
    *id = 0;
    tail[0] = '\0';
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '#') {
            char *end;
            if (*s < '1' || *s > '9')
                return false;
            long long v = strtoll(s, &end, 10);
            if (end - s > 15)
                return false;
            *id = v;
            s = end;
            p++;
        } else if (*p == '*') {
            const char *slash = strchr(s, '/');
            size_t n = slash ? (size_t)(slash - s) : strlen(s);
            if (n == 0 || n >= size)
                return false;
            memcpy(tail, s, n);
            tail[n] = '\0';
            s += n;
            p++;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return !*p && !*s;
}

void web_route(struct web_req *r)
{
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    const struct route *found = NULL;
    char allow[64] = "";
    int64_t id = 0;
    char tail[128];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !found; i++) {
        int64_t rid;
        char rtail[128];
        if (!match(routes[i].pattern, r->path, &rid, rtail, sizeof rtail))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            found = &routes[i];
            id = rid;
            memcpy(tail, rtail, sizeof tail);
        } else if (!strstr(allow, routes[i].method)) {
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", *allow ? ", " : "",
                     routes[i].method);
        }
    }
    r->page = strncmp(r->path, "/api/", 5) != 0;
    if (!found) {
        if (*allow) {
            web_add_header(r, "Allow", allow);
            web_reply_error(r, 405, "不支持 %s 方法；可用：%s", r->method, allow);
        } else {
            web_reply_error(r, 404, "没有这个页面或接口：%s", r->page ? "请从首页进入" : "见 CONTRACT.md 的 API 表");
        }
        return;
    }
    if (found->flags & R_OPEN) {
        found->fn(r, id, tail);
        return;
    }
    r->db = web_db_get(r->srv->db);
    if (web_authenticate(r) == 0) {
        if ((found->flags & R_AUTH) && r->via == WEB_VIA_NONE) {
            if (r->page) {
                web_redirect(r, "/signin");
            } else {
                web_add_header(r, "WWW-Authenticate", "Bearer");
                web_reply_error(r, 401, "请先登录（POST /api/v1/session），或用 Authorization: Bearer 附上 API 密钥");
            }
        } else {
            if (found->flags & R_CHANGE)
                web_parse_form(r);
            if (!(found->flags & R_CHANGE) || web_csrf_check(r))
                found->fn(r, id, tail);
        }
    }
    web_db_put(r->srv->db, r->db);
    r->db = NULL;
}
