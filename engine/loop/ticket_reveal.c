/*
 * ticket_reveal.c — a ticket shown to a user, its records unmasked for the
 * owner department.
 *
 * The store keeps a problem record masked (主键 330110***********3) and, when
 * masking hid something, the raw key and value sealed with the store's key
 * file (identity/seal.h, written by the findings writer and by filing).
 * Showing a ticket to a user first asks the one authorisation function
 * whether the user may see it; revealing its records asks it again (reveal:
 * the owner department's providers and admins), opens each sealed record
 * and writes one audit entry — who, which ticket, how many records, never a
 * value — in the same transaction as the reading, so no record is shown
 * unaudited (宁波 第三十三条: staff keep personal data confidential).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/seal.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/audit.h"
#include "store/store.h"

/* Replaces record_key and value of the records of o by the raw ones sealed
 * in ticket t's items; *n gets how many were revealed. The items are read
 * in the show's order (by id) inside the caller's transaction. 0 or -2. */
static int unseal_records(sqlite3 *db, const struct tk *t, const struct ident_sealer *s, json_t *o,
                          long *n, struct qloop_error *err)
{
    *n = 0;
    json_t *records = json_object_get(o, "records");
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT record_ref, field, sealed FROM ticket_items"
                                   " WHERE ticket_id = ?1 ORDER BY id",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, t->id);
    struct qloop_buf plain = {0};
    int rc;
    for (size_t i = 0; (rc = sql_row(db, st, "读取工单记录", err)) == 1; i++) {
        json_t *rec = json_array_get(records, i);
        if (!rec) {
            rc = qloop_error_internal(err, NULL, "工单 #%lld 的记录在读取时发生了变化", (long long)t->id);
            break;
        }
        const void *blob = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        bool opened = false;
        if (blob) {
            struct ident_record r;
            if (ident_unseal(s, t->dataset, sql_text(st, 0), sql_text(st, 1), blob, len, &plain, &r,
                             err) != 0) {
                rc = -1;
                break;
            }
            json_object_set_new(rec, "record_key", tk_jstr(r.key));
            json_object_set_new(rec, "value", r.value ? tk_jstr(r.value) : json_null());
            opened = true;
            ++*n;
        }
        json_object_set_new(rec, "revealed", json_boolean(opened));
    }
    sqlite3_finalize(st);
    ident_plain_free(&plain);
    return rc < 0 ? -2 : 0;
}

/* The ticket for who, revealed or not as asked; the caller holds the
 * transaction. 0, -1 or -2 as ticket_show_json_as. */
static int show_for(sqlite3 *db, int64_t id, const char *actor, enum ticket_reveal reveal,
                    json_t **out, struct qloop_error *err)
{
    struct tk t;
    int rc = tk_load(db, id, &t, err);
    if (rc == 0 && actor)
        rc = tk_authorize(db, &t, actor, IDENT_VIEW, NULL, err);
    if (rc == -1 && err->refusal == QLOOP_REFUSED_DENIED)
        qloop_error_refuse(err, QLOOP_REFUSED_ABSENT); /* as if there were none */
    bool unmask = false;
    if (rc == 0 && reveal == TICKET_REVEAL) {
        rc = actor ? tk_authorize(db, &t, actor, IDENT_REVEAL, NULL, err)
                   : qloop_error_set(err, NULL, 0, 0,
                                     "查看原文需要 --actor 登录名：只向工单所属部门的数源部门人员和管理员显示");
        unmask = rc == 0;
    } else if (rc == 0 && reveal == TICKET_REVEAL_IF_ALLOWED && actor) {
        struct ident_actor who;
        struct tk_ticket_ref r = {t.id, t.source, t.dept, t.policy, t.ext_actor};
        rc = tk_viewer_resolve(db, actor, &who, err);
        if (rc == 0)
            rc = tk_may(db, &who, IDENT_REVEAL, &r, NULL, &unmask, NULL, 0, err);
    }
    struct ident_sealer s;
    if (rc == 0 && unmask && ident_sealer_open(db, &s, err) != 0) {
        if (reveal == TICKET_REVEAL)
            return -1; /* the key file is missing or foreign: err says so */
        unmask = false;
        qloop_error_clear(err);
    }
    if (rc != 0)
        return rc;
    rc = ticket_show_json(db, id, out, err);
    long n = 0;
    if (rc == 0 && unmask) {
        rc = unseal_records(db, &t, &s, *out, &n, err);
        ident_sealer_close(&s);
        char subject[48];
        snprintf(subject, sizeof subject, "ticket:%lld", (long long)id);
        json_t *d = json_pack("{s:I, s:s, s:s, s:I}", "ticket", (json_int_t)id, "dataset", t.dataset,
                              "dept", t.dept, "records", (json_int_t)n);
        char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(d);
        if (rc == 0 && audit_append(db, "ticket.reveal", subject, actor, detail, err) != 0)
            rc = -2;
        free(detail);
    }
    if (rc == 0)
        json_object_set_new(*out, "revealed", json_integer(n));
    else if (*out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int ticket_show_json_as(sqlite3 *db, int64_t id, const char *actor, enum ticket_reveal reveal,
                        json_t **out, struct qloop_error *err)
{
    *out = NULL;
    bool own = reveal != TICKET_MASKED && sqlite3_get_autocommit(db);
    if (own && store_begin(db, err) != 0)
        return -2;
    int rc = show_for(db, id, actor, reveal, out, err);
    if (own) {
        if (rc == 0 && store_commit(db, err) != 0) {
            rc = -2;
            json_decref(*out);
            *out = NULL;
        } else if (rc != 0) {
            store_rollback(db);
        }
    }
    return rc;
}

int ticket_records_json(sqlite3 *db, int64_t id, const char *actor, json_t **out,
                        struct qloop_error *err)
{
    json_t *t;
    int rc = ticket_show_json_as(db, id, actor, TICKET_REVEAL_IF_ALLOWED, &t, err);
    if (rc != 0)
        return rc;
    *out = json_incref(json_object_get(t, "records"));
    json_decref(t);
    return 0;
}
