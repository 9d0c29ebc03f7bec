/*
 * web_private.h — what the files of web/ share: the server, one request and
 * its answer, the store's connections, the route table's handlers.
 *
 * A request is read whole (headers, then a body of at most WEB_BODY_MAX
 * bytes) before its handler runs; the handler fills the answer (status,
 * content type, body, extra headers) and server.c sends it with the
 * security headers every answer carries. Handlers run on the daemon's
 * worker threads, each holding one reading connection of the store for the
 * request; every change runs on the one writing connection, in a short
 * transaction, one at a time (db.c).
 */
#ifndef QLOOP_WEB_PRIVATE_H
#define QLOOP_WEB_PRIVATE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "identity/authz.h"
#include "identity/identity.h"
#include "loop/ticket.h"
#include "rules/policy.h"
#include "web.h"

enum {
    WEB_BODY_MAX = 1 << 20, /* bytes of a request body (413 beyond) */
    WEB_HEADERS_MAX = 64,   /* request headers (431 beyond) */
    WEB_PARAMS_MAX = 64,    /* form fields read */
    WEB_HEADERS_OUT = 8,    /* extra answer headers */
    WEB_REQUEST_SECONDS = 60, /* a request's whole upload */
};

#define WEB_COOKIE "qloop_session"

/* ---- the store's connections (db.c) ---- */

struct web_db;

/* Opens nread reading connections and one writing connection to path.
 * Returns the pool, or NULL with err. */
struct web_db *web_db_open(const char *path, unsigned nread, struct qloop_error *err);
void web_db_close(struct web_db *d);

/* A reading connection for one request (waits for a free one); given back
 * with web_db_put. Reads only, or writes that need no audit entry and no
 * explicit transaction (a sign-in's bookkeeping). */
sqlite3 *web_db_get(struct web_db *d);
void web_db_put(struct web_db *d, sqlite3 *db);

/* The writing connection, in a new write transaction (BEGIN IMMEDIATE),
 * held by this thread alone until web_db_write_end; NULL with err when the
 * store stayed busy past its timeout or failed. */
sqlite3 *web_db_write_begin(struct web_db *d, struct qloop_error *err);

/* Ends the write transaction: commits when rc is 0 (returns 0, or -2 with
 * err when the commit failed), else rolls back (returns rc); then lets the
 * next writer in. */
int web_db_write_end(struct web_db *d, int rc, struct qloop_error *err);

/* ---- the server and one request ---- */

struct web_server {
    struct web_config cfg;
    struct web_db *db;
    bool tls;            /* serving HTTPS ourselves */
    bool secure_cookies; /* tls or cfg.proxy_tls */
    int64_t session_ttl;
    struct qloop_policy policy; /* the default policy (for filing) */
};

struct web_param {
    const char *name, *value;
};

enum web_via { WEB_VIA_NONE, WEB_VIA_SESSION, WEB_VIA_KEY };

struct web_req {
    struct web_server *srv;
    void *conn; /* struct MHD_Connection */
    const char *method, *path;
    int64_t started_ms;
    bool page; /* a portal page: errors as HTML, not JSON */

    /* the body, and its form fields when it is application/x-www-form-urlencoded */
    struct qloop_buf body;
    unsigned refused; /* a limit's status (413, 408): answered when the upload ends */
    bool answered;    /* refused before the body was read */
    struct qloop_arena arena;
    struct web_param form[WEB_PARAMS_MAX];
    size_t nform;

    /* who asks */
    enum web_via via;
    struct ident_user user;
    struct ident_actor actor;
    char csrf[IDENT_TOKEN_CHARS + 1];
    char token[IDENT_TOKEN_CHARS + 1];
    sqlite3 *db; /* a reading connection, held for the request */

    /* the answer */
    unsigned status;
    struct qloop_buf out;
    const char *ctype;
    const char *csp; /* NULL: the portal's policy */
    bool cacheable;  /* a compiled-in asset */
    const char *hdr[WEB_HEADERS_OUT][2];
    size_t nhdr;
};

/* Copies s into r's arena (freed with the request). */
const char *web_keep(struct web_req *r, const char *s);

/* A request header, NULL when absent. */
const char *web_header(struct web_req *r, const char *name);

/* A query parameter (decoded), NULL when absent. */
const char *web_query(struct web_req *r, const char *name);

/* A form field of a urlencoded body (decoded), NULL when absent. */
const char *web_form(struct web_req *r, const char *name);

/* Parses the body as application/x-www-form-urlencoded into r->form. */
void web_parse_form(struct web_req *r);

/* The value of cookie name, NULL when absent. */
const char *web_cookie(struct web_req *r, const char *name, char *out, size_t size);

/* Adds an answer header (name and value copied). */
void web_add_header(struct web_req *r, const char *name, const char *value);

/* Answers status with v (stolen) as JSON. */
void web_reply_json(struct web_req *r, unsigned status, json_t *v);

/* Answers status with {"error": message} — or, for a page, the portal's
 * error page saying message. */
void web_reply_error(struct web_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers 303 See Other to location (a path of this portal). */
void web_redirect(struct web_req *r, const char *location);

/* The HTTP status for an engine failure: rc -1 (refused: 404, 403, 409 or
 * 422 by err->refusal), -2 (503 for a store that is busy, read-only or
 * full; 500 otherwise). */
unsigned web_status_of(int rc, const struct qloop_error *err);

/* web_reply_error for an engine failure (web_status_of); the message is
 * the engine's, except for a 500 (a generic one; the detail goes to the
 * log). */
void web_reply_failure(struct web_req *r, int rc, const struct qloop_error *err);

/* Milliseconds on a monotonic clock. */
int64_t web_ms(void);

/* ---- who asks (auth.c) ---- */

/* Finds who r comes from: a Bearer key, else the session cookie. Returns
 * 0 (r->via says whether anyone), or -1 after answering (a bad key: 401; a
 * store failure). */
int web_authenticate(struct web_req *r);

/* For a request that changes something: whether it carries the session's
 * CSRF token (X-CSRF-Token or the csrf form field). A key's request needs
 * none. Answers 403 and returns false when not. */
bool web_csrf_check(struct web_req *r);

/* Signs login in with password: 0 with the session cookie set and r's
 * user, csrf and token filled; else the HTTP status (400, 401, 429, 5xx)
 * with the message in msg (nothing answered yet). */
unsigned web_signin(struct web_req *r, const char *login, const char *password, char *msg,
                    size_t size);

/* Ends r's session and clears the cookie. */
void web_signout(struct web_req *r);

/* ---- the changes (act.c) ---- */

/* What a change of a ticket is given (API body or form fields). */
struct web_act {
    const char *as, *note, *until, *reason, *deadline;
    bool urgent;
};

/* Ticket id as r's user may see it: the object of `tickets show --json`,
 * its records unmasked (and the showing audited) for the owner
 * department's providers and admins when the key file is there, masked
 * for everyone else. Returns 0, or -1 (no such ticket, or not visible:
 * refused as absent) / -2 with err. */
int web_ticket_json(struct web_req *r, int64_t id, json_t **out, struct qloop_error *err);

/* web_ticket_json, answering the failure (404 for a ticket the user may not
 * see): the object, or NULL after answering. */
json_t *web_ticket_or_reply(struct web_req *r, int64_t id);

/* Whether s names a change of a ticket (feedback, resolve, extend,
 * approve, reject). */
bool web_act_name(const char *s);

/* Makes change `what` on ticket id as r's user, in one short write
 * transaction: refused as absent when the user may not see it, then the
 * engine's own answer. Returns 0, or the engine's -1 / -2 with err (nothing
 * answered yet: web_reply_failure / web_status_of). */
int web_ticket_act(struct web_req *r, int64_t id, const char *what, const struct web_act *a,
                   struct qloop_error *err);

/* Files a problem report as r's user (系统填报 for a session, 接口对接 for a
 * key), once per idem_key (may be NULL) for this user: a repeat (*repeat)
 * returns the first filing's ticket. *ticket and *duplicate (the record was
 * already tracked) are set. Returns 0, or -1 / -2 with err. */
int web_file_report(struct web_req *r, const struct ticket_report *rep, const char *idem_key,
                    int64_t *ticket, bool *duplicate, bool *repeat, struct qloop_error *err);

/* ---- the API's pieces (api.c) ---- */

/* The body as a JSON object ({} for an empty body); NULL after answering
 * 400. The caller releases it. */
json_t *web_json_body(struct web_req *r);

/* o[key] as text into *out (NULL when absent and not required); -1 after
 * answering 400 when it is missing (required) or not a string. */
int web_json_text(struct web_req *r, json_t *o, const char *key, bool required, const char **out);

/* A boolean parameter: absent, "", "0", "false" or "1", "true". 0 or -1. */
int web_bool_param(const char *s, bool *out);

/* Answers status with ticket id as the caller sees it (`tickets show
 * --json`), or {"id"} when a change left it out of the caller's sight. */
void web_reply_ticket(struct web_req *r, unsigned status, int64_t id);

/* ---- handlers (router.c dispatches; id: the number in the path, 0 when none) ---- */

typedef void (*web_handler)(struct web_req *r, int64_t id, const char *tail);

void web_route(struct web_req *r);

/* api.c */
void api_session_post(struct web_req *r, int64_t id, const char *tail);
void api_session_get(struct web_req *r, int64_t id, const char *tail);
void api_session_delete(struct web_req *r, int64_t id, const char *tail);
void api_tickets(struct web_req *r, int64_t id, const char *tail);
void api_ticket(struct web_req *r, int64_t id, const char *tail);
void api_ticket_act(struct web_req *r, int64_t id, const char *tail);

/* api_reports.c */
void api_reports_post(struct web_req *r, int64_t id, const char *tail);
void api_annual(struct web_req *r, int64_t id, const char *tail);
void api_scorecard(struct web_req *r, int64_t id, const char *tail);

/* Whether r's user may read the annual assessment / dept's scorecard
 * (ident_allowed); answers 403 and returns false when not. */
bool web_may_report(struct web_req *r, enum ident_action action, const char *dept);

/* The annual report of year (format html/json/xlsx) or dept's scorecard of
 * year-month (html/json), answered as a document (HTML under a policy that
 * admits only its own inline styles). */
void web_send_annual(struct web_req *r, int year, const char *format);
void web_send_scorecard(struct web_req *r, const char *dept, int year, int month,
                        const char *format);

/* pages */
void page_root(struct web_req *r, int64_t id, const char *tail);
void page_asset(struct web_req *r, int64_t id, const char *tail);
void page_signin(struct web_req *r, int64_t id, const char *tail);
void page_signin_post(struct web_req *r, int64_t id, const char *tail);
void page_signout(struct web_req *r, int64_t id, const char *tail);
void page_tickets(struct web_req *r, int64_t id, const char *tail);
void page_ticket(struct web_req *r, int64_t id, const char *tail);
void page_ticket_act(struct web_req *r, int64_t id, const char *tail);
void page_queue(struct web_req *r, int64_t id, const char *tail);
void page_overview(struct web_req *r, int64_t id, const char *tail);
void page_report_form(struct web_req *r, int64_t id, const char *tail);
void page_report_post(struct web_req *r, int64_t id, const char *tail);
void page_assessment(struct web_req *r, int64_t id, const char *tail);
void page_export(struct web_req *r, int64_t id, const char *tail);

#endif
