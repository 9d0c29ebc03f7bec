/*
 * web_pages.h — what the portal's page files share.
 */
#ifndef QLOOP_WEB_PAGES_H
#define QLOOP_WEB_PAGES_H

#include <jansson.h>

#include "web_private.h"

/* The deadline of ticket t and, while it is with its provider, the working
 * days left (or how many it is overdue). */
void page_deadline(struct qloop_buf *b, const json_t *t);

/* A table of n tickets (list objects), with its caption. */
void page_ticket_table(struct web_req *r, json_t **list, size_t n, const char *caption);

/* The tickets r's user may see matching f; -1 after answering an error. */
int page_list(struct web_req *r, const struct ticket_filter *f, json_t **out);

/* The ticket page of id with an optional notice (kind "ok"/"err", msg) and
 * status. */
void page_ticket_render(struct web_req *r, int64_t id, const char *kind, const char *msg,
                        unsigned status);

/* The Chinese name of a record's state (open 未整改, missing, fixed,
 * closed); s itself when it is none of them. */
const char *web_item_state_zh(const char *s);

/* Answers a file's bytes as a download named name (api_reports.c). 0 or -1. */
int web_send_file(struct web_req *r, const char *path, const char *ctype, const char *name);

/* A new temporary file's path (mkstemp). 0 or -1. */
int web_temp_path(char *out, size_t size);

/* "YYYY" and "YYYY-MM" parameters; this month at qloop_now(). */
bool web_parse_year(const char *s, int *year);
bool web_parse_period(const char *s, int *year, int *month);
void web_this_month(int *year, int *month);

#endif
