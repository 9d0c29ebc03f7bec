/*
 * html.h — writing the portal's pages: the one escaping function and the
 * formatter built on it, the page frame (head, navigation by role, footer),
 * the CSRF field every form carries, notices and the error page.
 *
 * Every value that reaches a page goes through html_esc (reports/
 * report_put_html: & < > " ' as entities), the same function the reports'
 * renderers use; html_f escapes each of its %s arguments, so markup is
 * written as the format and values can only ever be text.
 */
#ifndef QLOOP_WEB_HTML_H
#define QLOOP_WEB_HTML_H

#include "base/buf.h"
#include "web_private.h"

/* Appends s (NULL: nothing) with & < > " ' escaped. */
void html_esc(struct qloop_buf *b, const char *s);

/* Appends fmt with its conversions: %s a value, escaped (NULL: nothing);
 * %r raw markup the caller built (never a value); %d int; %ld long; %lld
 * long long; %u unsigned; %zu size_t; %% a percent sign. */
void html_f(struct qloop_buf *b, const char *fmt, ...);

/* Starts r's answer as a portal page titled title (status 200, HTML), with
 * the navigation r's user's role uses. */
void html_begin(struct web_req *r, const char *title);

/* Closes the page. */
void html_end(struct web_req *r);

/* The hidden csrf field of a form. */
void html_csrf(struct web_req *r);

/* A notice: kind "ok" or "err". */
void html_notice(struct web_req *r, const char *kind, const char *msg);

/* The error page: status and message. */
void html_error_page(struct web_req *r, unsigned status, const char *msg);

/* "YYYY-MM-DD HH:MM" of an ISO time (the first 16 characters, T as a space). */
void html_time(struct qloop_buf *b, const char *iso);

#endif
