/*
 * web.h — `qloop serve`: the web portal (Chinese pages at /) and the JSON API
 * (/api/v1) of CONTRACT.md "Identity, roles and the portal", on
 * libmicrohttpd.
 *
 * Departments and business systems close the loop themselves here: staff
 * sign in with a password and work in the portal's pages, business systems
 * call the API with `Authorization: Bearer KEY`. Every action goes through
 * the same engine functions as the command line (loop/ticket.h), so the
 * same authorisation function (identity/authz.h) decides it; nothing here
 * scopes by department itself.
 *
 * The code: server.c (the daemon, limits, security headers, request log),
 * request.c (reading a request, writing an answer), db.c (the store's
 * connections), auth.c (sessions, API keys, CSRF, signing in and out),
 * router.c (which handler serves a path), api.c and api_reports.c (the
 * JSON API), act.c (the changes both the API and the pages make), html.c
 * (the one escaping function, the page frame), page_*.c (the portal's
 * pages), export.c (a ticket's records as CSV and XLSX), assets/ (the
 * stylesheet and the small progressive script, compiled in).
 */
#ifndef QLOOP_WEB_H
#define QLOOP_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct web_config {
    const char *listen;    /* "ADDR:PORT" (IPv4 or [IPv6]); NULL: 127.0.0.1:8080; port 0: any free */
    const char *db_path;   /* the store (must exist) */
    const char *tls_cert;  /* PEM certificate chain, with tls_key: serve HTTPS; NULL: HTTP */
    const char *tls_key;   /* PEM private key */
    const char *data_dir;  /* where installed policies live (QLOOP_DATADIR), may be NULL */
    const char *policy;    /* the policy new tickets are filed under (--policy); NULL: the default */
    unsigned threads;      /* worker threads; 0: 8 */
    int64_t session_ttl;   /* seconds a portal session lasts; 0: 8 hours */
    bool proxy_tls;        /* a reverse proxy in front serves HTTPS: cookies are Secure */
};

/* Opens the store at c->db_path (which the caller has opened once already,
 * loading its calendar), starts listening, prints the URL it serves on
 * standard output (one line, e.g. "http://127.0.0.1:8080/", flushed), and
 * serves until SIGINT or SIGTERM. Returns 0 after a clean stop, or -1 with
 * err: an input error for what the user can fix (an address in use or
 * malformed, unreadable certificate or key, a store that cannot be opened),
 * internal otherwise. */
int web_serve(const struct web_config *c, struct qloop_error *err);

#endif
