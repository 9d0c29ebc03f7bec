/*
 * act.c — the changes the portal makes, for the API and the pages alike:
 * moving a ticket (feedback, resolve, extend, approve, reject) and filing
 * a problem report, each through the engine function the command line uses
 * (loop/ticket.h), so the one authorisation function decides, in one short
 * transaction on the writing connection.
 *
 * A ticket the user may not see is answered 404 before anything else, as
 * one that does not exist. A ticket is shown to its owner department's
 * providers (and admins) with its records unmasked, each showing audited
 * (loop/ticket.h: TICKET_REVEAL_IF_ALLOWED), on the writing connection;
 * to everyone else masked, on the request's reading connection. A report sent with an Idempotency-Key is filed
 * once: the key, scoped to the user, is kept with a hash of the report and
 * the ticket it went into (table idempotency, in the filing's transaction),
 * and a retry gets the first filing's ticket; the same key with another
 * report is refused (422).
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "loop/ticket.h"
#include "store/sql.h"
#include "web_private.h"

/* Refuses a ticket the user may not see as if it did not exist. */
static int absent(int64_t id, struct qloop_error *err)
{
    qloop_error_set(err, NULL, 0, 0, "工单 #%lld 不存在，或您无权查看", (long long)id);
    return qloop_error_refuse(err, QLOOP_REFUSED_ABSENT);
}

/* The move what on ticket id, in db's open transaction. */
static int move(sqlite3 *db, struct web_req *r, int64_t id, const char *what,
                const struct web_act *a, struct qloop_error *err)
{
    const char *login = r->user.login;
    int seen = ticket_allowed(db, id, login, IDENT_VIEW, NULL, err);
    if (seen == -2)
        return -2;
    if (seen != 1)
        return absent(id, err);
    /* The ticket is held to the policy it was opened under (loop/ticket.h);
     * the server's serves only a ticket from before stores kept policies. */
    const struct qloop_policy *p = &r->srv->policy;
    if (strcmp(what, "feedback") == 0)
        return ticket_feedback(db, id, login, a->urgent, a->urgent ? a->deadline : NULL, p, err);
    if (strcmp(what, "resolve") == 0)
        return ticket_resolve(db, id, a->as, login, a->note, err);
    if (strcmp(what, "extend") == 0)
        return ticket_extend(db, id, a->until, a->reason, login, p, err);
    if (strcmp(what, "approve") == 0)
        return ticket_approve(db, id, login, p, err);
    return ticket_reject(db, id, login, a->reason, p, err);
}

int web_ticket_act(struct web_req *r, int64_t id, const char *what, const struct web_act *a,
                   struct qloop_error *err)
{
    sqlite3 *db = web_db_write_begin(r->srv->db, err);
    if (!db)
        return -2;
    return web_db_write_end(r->srv->db, move(db, r, id, what, a, err), err);
}

int web_ticket_json(struct web_req *r, int64_t id, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    int may = ticket_allowed(r->db, id, r->user.login, IDENT_REVEAL, NULL, err);
    if (may == -2)
        return -2;
    if (may != 1) /* masked, read beside everything else; absent when not visible */
        return ticket_show_json_as(r->db, id, r->user.login, TICKET_MASKED, out, err);
    /* The owner's records, unmasked: read and audited in one short write
     * transaction on the writing connection. */
    sqlite3 *db = web_db_write_begin(r->srv->db, err);
    if (!db)
        return -2;
    int rc = ticket_show_json_as(db, id, r->user.login, TICKET_REVEAL_IF_ALLOWED, out, err);
    rc = web_db_write_end(r->srv->db, rc, err);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

json_t *web_ticket_or_reply(struct web_req *r, int64_t id)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *t = NULL;
    int rc = web_ticket_json(r, id, &t, &err);
    if (rc != 0)
        web_reply_failure(r, rc, &err);
    return rc == 0 ? t : NULL;
}

/* The hash of what a report asks, to tell a retry from another report. */
static void report_hash(const struct ticket_report *rep, char out[65])
{
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    const char *parts[] = {rep->dataset, rep->key, rep->field, rep->value, rep->message};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *s = parts[i] ? parts[i] : "";
        qloop_sha256_update(&c, parts[i] ? "1" : "0", 1);
        qloop_sha256_update(&c, s, strlen(s) + 1);
    }
    uint8_t h[32];
    qloop_sha256_final(&c, h);
    qloop_hex(h, sizeof h, out);
}

/* Looks the key up: 1 with the first filing (*ticket, *duplicate), 0 when
 * new, -1 when it was used for another report, -2. */
static int idem_find(sqlite3 *db, const char *login, const char *key, const char *hash,
                     int64_t *ticket, bool *duplicate, struct qloop_error *err)
{
    const char *params[] = {login, key};
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT request, ticket_id, duplicate FROM idempotency"
                                         " WHERE login = ?1 AND key = ?2",
                                         2, params, err);
    if (!st)
        return -2;
    int rc = sql_row(db, st, "读取 Idempotency-Key", err);
    int out = rc < 0 ? -2 : rc;
    if (rc == 1) {
        const char *was = sql_text(st, 0);
        if (!was || strcmp(was, hash) != 0) {
            qloop_error_set(err, NULL, 0, 0,
                            "Idempotency-Key 已用于另一份内容不同的报告；新报告请换一个键");
            out = -1;
        } else {
            *ticket = sqlite3_column_int64(st, 1);
            *duplicate = sqlite3_column_int(st, 2) != 0;
        }
    }
    sqlite3_finalize(st);
    return out;
}

static int idem_keep(sqlite3 *db, const char *login, const char *key, const char *hash,
                     int64_t ticket, bool duplicate, struct qloop_error *err)
{
    char now[32], ids[2][24];
    qloop_format_datetime(qloop_now(), now);
    snprintf(ids[0], sizeof ids[0], "%lld", (long long)ticket);
    snprintf(ids[1], sizeof ids[1], "%d", duplicate ? 1 : 0);
    const char *params[] = {login, key, hash, ids[0], ids[1], now};
    return sql_exec_texts(db,
                          "INSERT INTO idempotency(login, key, request, ticket_id, duplicate,"
                          " created_at) VALUES(?1, ?2, ?3, CAST(?4 AS INTEGER),"
                          " CAST(?5 AS INTEGER), ?6)",
                          "记录 Idempotency-Key", err, 6, params) == 0
               ? 0
               : -2;
}

/* Files rep (idempotently with key) in db's open transaction. */
static int file_in(sqlite3 *db, struct web_req *r, const struct ticket_report *rep, const char *key,
                   int64_t *ticket, bool *duplicate, bool *repeat, struct qloop_error *err)
{
    char hash[65];
    report_hash(rep, hash);
    if (key) {
        int rc = idem_find(db, r->user.login, key, hash, ticket, duplicate, err);
        if (rc != 0) {
            *repeat = rc == 1;
            return rc == 1 ? 0 : rc;
        }
    }
    const char *source = r->via == WEB_VIA_KEY ? "import" : "file";
    int rc = ticket_file(db, rep, source, &r->srv->policy, ticket, duplicate, err);
    if (rc == 0 && key)
        rc = idem_keep(db, r->user.login, key, hash, *ticket, *duplicate, err);
    return rc;
}

int web_file_report(struct web_req *r, const struct ticket_report *rep, const char *idem_key,
                    int64_t *ticket, bool *duplicate, bool *repeat, struct qloop_error *err)
{
    *ticket = 0;
    *duplicate = *repeat = false;
    sqlite3 *db = web_db_write_begin(r->srv->db, err);
    if (!db)
        return -2;
    return web_db_write_end(r->srv->db, file_in(db, r, rep, idem_key, ticket, duplicate, repeat, err),
                            err);
}
