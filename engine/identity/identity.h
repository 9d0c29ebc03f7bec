/*
 * identity.h — departments and users of a store, and how users prove who
 * they are (passwords, API keys, portal sessions).
 *
 * Departments (depts): every department the store deals with — provider
 * departments (数源部门) named as owners by rule packs and the catalog, using
 * departments (使用部门), and one bureau (大数据主管部门, the big-data
 * authority) marked by `qloop depts add NAME --bureau`. A ticket's department
 * is always a registered one: owners are registered when first seen
 * (ident_dept_ensure), each registration audited.
 *
 * Users (users): a login, one role (admin, steward, approver, provider,
 * reporter, leader, system — CONTRACT.md "Identity, roles and the portal"),
 * a department where the role needs one, a display name, a password hash
 * and whether the user is active. A disabled user can do nothing: it cannot
 * sign in, its sessions end and its API keys stop working.
 *
 * Secrets: passwords are hashed with libsodium's crypto_pwhash_str (Argon2id
 * with the library's INTERACTIVE limits: about a third of a second and 64 MiB
 * per hash); API keys and session tokens are 32 random bytes, shown once and
 * stored only as a hash (BLAKE2b), checked in constant time. No password, key or
 * token is ever written to the audit chain, a log or an error message.
 *
 * Every function returns 0 (or a count / found flag as documented) and -1
 * with err filled: an input error (exit 2) for what the caller can fix, an
 * internal one (exit 3) for a store failure. Functions that change the store
 * write their audit entries inside the caller's transaction (or their own
 * when none is open).
 */
#ifndef QLOOP_IDENTITY_H
#define QLOOP_IDENTITY_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum ident_role {
    IDENT_ADMIN,    /* everything, including users and departments */
    IDENT_STEWARD,  /* bureau staff (数据治理): all tickets, hand over, file, verify, import */
    IDENT_APPROVER, /* decides extension requests, as the ticket's policy names the approver */
    IDENT_PROVIDER, /* staff of a provider department (数源部门) */
    IDENT_REPORTER, /* a using department (使用部门): files reports */
    IDENT_LEADER,   /* reads the annual assessment and scorecards */
    IDENT_SYSTEM,   /* a business system filing by interface with an API key */
    IDENT_NROLES
};

/* The role's word ("admin") and its Chinese name ("管理员"). */
const char *ident_role_name(enum ident_role r);
const char *ident_role_zh(enum ident_role r);

/* Parses a role word. Returns 0, or -1 with err listing the roles. */
int ident_role_parse(const char *s, enum ident_role *out, struct qloop_error *err);

/* Whether users of role r must belong to a department (approver, provider,
 * reporter). */
bool ident_role_needs_dept(enum ident_role r);

/* ---- departments ---- */

struct ident_dept {
    int64_t id;
    char name[256];
    char code[64];          /* "" when none */
    bool bureau;            /* the big-data authority (at most one) */
    char registered_at[32]; /* ISO 8601 */
    char registered_by[128];
    char seen_in[16];       /* console | rules | catalog | upgrade */
};

/* `qloop depts add`: registers name (with code, may be NULL, and the bureau
 * flag), or — when it is already registered — sets the code and the bureau
 * flag given (a department first seen in a rule pack gets its code later).
 * Refused (input error): a bad name or code, a code another department
 * has, a second bureau. *changed (may be NULL) tells whether anything was
 * written. Audited as dept.add or dept.change, by `by`. */
int ident_dept_add(sqlite3 *db, const char *name, const char *code, bool bureau, const char *by,
                   bool *changed, struct qloop_error *err);

/* Registers name when it is not a department yet: an owner first seen in a
 * rule pack (seen_in "rules") or the catalog ("catalog"). Audited as
 * dept.register. *added (may be NULL) tells whether it was new. A name that
 * is not one (empty, too long, control characters) is an input error. */
int ident_dept_ensure(sqlite3 *db, const char *name, const char *seen_in, const char *by,
                      bool *added, struct qloop_error *err);

/* Looks name up. Returns 1 (found, *out filled; out may be NULL), 0 (not
 * registered), -1 on a store error. */
int ident_dept_find(sqlite3 *db, const char *name, struct ident_dept *out,
                    struct qloop_error *err);

/* Every department, by name, as a JSON array of {"name", "code", "bureau",
 * "registered_at", "registered_by", "seen_in", "users"} (users: active users
 * of it). Returns 0 with *out (a new reference) or -1. */
int ident_dept_list_json(sqlite3 *db, json_t **out, struct qloop_error *err);

/* ---- users ---- */

enum { IDENT_LOGIN_MAX = 64, IDENT_PASSWORD_MIN = 8, IDENT_PASSWORD_MAX = 1024 };

struct ident_user {
    int64_t id;
    char login[IDENT_LOGIN_MAX + 1];
    enum ident_role role;
    char dept[256];        /* "" when none */
    bool dept_bureau;      /* dept is the bureau */
    char name[256];        /* display name, "" when none */
    bool active;
    bool has_password;
    char created_at[32];
    char disabled_at[32];  /* "" while active */
};

/* Whether login is a valid login: 1 to 64 bytes of letters, digits (any
 * script, UTF-8) and . _ - @. Returns 0, or -1 with err saying what to use. */
int ident_login_check(const char *login, struct qloop_error *err);

/* `qloop users add`: a new active user. dept must be registered (required for
 * the roles that need one); password may be NULL only for a system user (who
 * signs in with API keys alone), else it is at least 8 characters. Refused:
 * a login already taken, an unknown department, a bad role or password (the
 * message never quotes the password). Audited as user.add (login, role,
 * dept — never the password). */
int ident_user_add(sqlite3 *db, const char *login, enum ident_role role, const char *dept,
                   const char *name, const char *password, const char *by,
                   struct qloop_error *err);

/* Looks login up (active or not). Returns 1 (found, *out filled), 0, -1. */
int ident_user_find(sqlite3 *db, const char *login, struct ident_user *out,
                    struct qloop_error *err);

/* The number of users the store has (active or not) into *n: 0 means a
 * store run by one trusted operator. Returns 0 or -1. */
int ident_user_count(sqlite3 *db, int64_t *n, struct qloop_error *err);

/* Every user, by login, as a JSON array of {"login", "role", "dept", "name",
 * "active", "created_at", "disabled_at", "api_keys"} (api_keys: how many
 * live keys; never a hash). Returns 0 with *out or -1. */
int ident_user_list_json(sqlite3 *db, json_t **out, struct qloop_error *err);

/* `qloop users disable`: the user can no longer do anything; its sessions
 * end and its API keys are revoked. Disabling a disabled user changes
 * nothing (*changed false). Audited as user.disable. */
int ident_user_disable(sqlite3 *db, const char *login, const char *by, bool *changed,
                       struct qloop_error *err);

/* ---- passwords, API keys, sessions ---- */

enum { IDENT_KEY_CHARS = 84, IDENT_TOKEN_CHARS = 64 };

/* Hashes password (crypto_pwhash_str, Argon2id, INTERACTIVE limits) into out.
 * Returns 0, or -1 with err (too short, too long, out of memory). */
int ident_password_hash(const char *password, char *out, size_t size, struct qloop_error *err);

enum ident_signin_result {
    IDENT_SIGNIN_OK = 0,
    IDENT_SIGNIN_BAD = 1,       /* no such user, disabled, or a wrong password */
    IDENT_SIGNIN_THROTTLED = 2, /* too many failures for this login lately (HTTP 429) */
};

/* Checks login and password. Every attempt costs one Argon2id verification,
 * whether or not the login exists, so timing does not tell which logins
 * exist. Five failures for a login within 15 minutes refuse further attempts
 * (even right ones) until the window passes; a success clears them. A hash
 * made with weaker limits is renewed on success. Returns an
 * ident_signin_result (with *out filled on OK) or -1 on a store error. */
int ident_signin(sqlite3 *db, const char *login, const char *password, struct ident_user *out,
                 struct qloop_error *err);

/* `qloop users key`: a new API key for a system user into key
 * (IDENT_KEY_CHARS + 1 bytes: "qk_", 16 hex digits naming the key, "_",
 * 64 hex digits of secret). Earlier keys of the user are revoked; only a hash is kept,
 * so the key can be shown once. Refused for a user that is not a system
 * user or is disabled. Audited as user.key (the login; never the key). */
int ident_key_new(sqlite3 *db, const char *login, const char *by, char *key, size_t size,
                  struct qloop_error *err);

/* Checks an API key (from `Authorization: Bearer KEY`): returns 1 with *out
 * filled for a live key of an active user, 0 for anything else, -1 on a
 * store error. The comparison is constant-time. */
int ident_key_check(sqlite3 *db, const char *key, struct ident_user *out,
                    struct qloop_error *err);

/* A new portal session for the active user user_id lasting ttl seconds:
 * token (IDENT_TOKEN_CHARS + 1 bytes, the cookie's value, stored only
 * hashed) and csrf (IDENT_TOKEN_CHARS + 1 bytes, to be sent back in
 * X-CSRF-Token). Expired sessions are dropped. Returns 0 or -1. */
int ident_session_new(sqlite3 *db, int64_t user_id, int64_t ttl, char *token, char *csrf,
                      struct qloop_error *err);

/* The user of a live session: 1 with *out and csrf (may be NULL) filled, 0
 * when the token is unknown, expired or its user disabled, -1. */
int ident_session_user(sqlite3 *db, const char *token, struct ident_user *out, char *csrf,
                       struct qloop_error *err);

/* Ends the session of token (signing out); an unknown token is no error. */
int ident_session_end(sqlite3 *db, const char *token, struct qloop_error *err);

/* Whether given equals the session's csrf value, in constant time; false
 * for NULL or a length that differs. */
bool ident_csrf_ok(const char *expected, const char *given);

#endif
