/*
 * identity_private.h — what the files of engine/identity/ share and nobody
 * else needs: checking names, writing audit entries, the current time.
 */
#ifndef QLOOP_IDENTITY_PRIVATE_H
#define QLOOP_IDENTITY_PRIVATE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

#include "base/error.h"
#include "identity/identity.h"

/* Checks that s is a usable name of what ("部门名称"): non-empty valid UTF-8
 * of at most max bytes, no control characters, no blanks at either end.
 * Returns 0, or -1 with err quoting s (never call it on a secret). */
int ident_text_check(const char *what, const char *s, size_t max, struct qloop_error *err);

/* Appends an audit entry of kind about "WHAT:NAME" ("user:wang",
 * "dept:市公安局") by actor, detail being the JSON object obj (stolen).
 * Returns 0 or -1. */
int ident_audit(sqlite3 *db, const char *kind, const char *what, const char *name,
                const char *actor, json_t *obj, struct qloop_error *err);

/* Runs st (prepared; the caller's) to its end, turning each row into an
 * element of a new JSON array with row(st). Finalizes st. Returns 0 with
 * *out or -1 (what names the reading in the error). */
int ident_json_rows(sqlite3 *db, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st),
                    const char *what, json_t **out, struct qloop_error *err);

/* qloop_now() as "YYYY-MM-DDTHH:MM:SS+08:00". */
void ident_now(char out[32]);

/* Fills u from a row whose columns are, from col: id, login, role, dept,
 * name, active, password_hash IS NOT NULL, created_at, disabled_at,
 * (the dept's bureau flag). */
void ident_user_from_row(sqlite3_stmt *st, int col, struct ident_user *u);

/* The columns ident_user_from_row reads, for "SELECT " IDENT_USER_COLS
 * " FROM users u LEFT JOIN depts d ON d.name = u.dept ...". */
#define IDENT_USER_COLS                                                                            \
    "u.id, u.login, u.role, u.dept, u.name, u.active, u.password_hash IS NOT NULL, u.created_at,"  \
    " u.disabled_at, coalesce(d.bureau, 0)"

/* ident_user_find for a user that must exist: 0 with *u filled, or -1 with
 * err (an unknown login: an input error saying how to list the users). */
int ident_user_known(sqlite3 *db, const char *login, struct ident_user *u,
                     struct qloop_error *err);

/* Runs a BEGIN IMMEDIATE when the connection is in autocommit mode; *own
 * tells whether it did (then ident_tx_end commits or rolls back). */
int ident_tx_begin(sqlite3 *db, int *own, struct qloop_error *err);
int ident_tx_end(sqlite3 *db, int own, int rc, struct qloop_error *err);

#endif
