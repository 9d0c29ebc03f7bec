/*
 * users.c — the users of a store (identity.h): roles, logins, adding,
 * listing and disabling users, password hashes and signing in.
 *
 * Passwords go through libsodium's crypto_pwhash_str (Argon2id with the
 * INTERACTIVE limits) and are zeroed as soon as they are hashed or checked;
 * no message here ever quotes one.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/text.h"
#include "identity/identity_private.h"
#include "store/sql.h"
#include "store/store.h"

static const struct {
    const char *name, *zh;
} roles[IDENT_NROLES] = {
    [IDENT_ADMIN] = {"admin", "管理员"},
    [IDENT_STEWARD] = {"steward", "数据治理人员"},
    [IDENT_APPROVER] = {"approver", "审批人"},
    [IDENT_PROVIDER] = {"provider", "数源部门人员"},
    [IDENT_REPORTER] = {"reporter", "使用部门人员"},
    [IDENT_LEADER] = {"leader", "领导"},
    [IDENT_SYSTEM] = {"system", "业务系统"},
};

const char *ident_role_name(enum ident_role r)
{
    return r >= 0 && r < IDENT_NROLES ? roles[r].name : "?";
}

const char *ident_role_zh(enum ident_role r)
{
    return r >= 0 && r < IDENT_NROLES ? roles[r].zh : "?";
}

int ident_role_parse(const char *s, enum ident_role *out, struct qloop_error *err)
{
    for (int r = 0; r < IDENT_NROLES; r++)
        if (s && strcmp(s, roles[r].name) == 0) {
            *out = (enum ident_role)r;
            return 0;
        }
    return qloop_error_set(err, NULL, 0, 0,
                           "未知的角色“%.64s”；可用角色：admin（管理员）、steward（数据治理）、"
                           "approver（审批人）、provider（数源部门）、reporter（使用部门）、"
                           "leader（领导）、system（业务系统）",
                           s ? s : "");
}

bool ident_role_needs_dept(enum ident_role r)
{
    return r == IDENT_APPROVER || r == IDENT_PROVIDER || r == IDENT_REPORTER;
}

int ident_login_check(const char *login, struct qloop_error *err)
{
    static const char rule[] = "登录名只能由字母、数字（可用中文）和 . _ - @ 组成，1 到 64 字节";
    size_t len = login ? strlen(login) : 0;
    if (len == 0 || len > IDENT_LOGIN_MAX)
        return qloop_error_set(err, NULL, 0, 0, "登录名%s；%s", len ? "过长" : "不能为空", rule);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = qloop_utf8_decode((const unsigned char *)login, len, i, &cp);
        bool ok = (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                  cp == '.' || cp == '_' || cp == '-' || cp == '@';
        /* Letters of other scripts; not blanks or punctuation. */
        if (cp != QLOOP_U8_INVALID && cp >= 0xc0 && !(cp >= 0x2000 && cp <= 0x2bff) &&
            !(cp >= 0x3000 && cp <= 0x303f) && !(cp >= 0xfe30 && cp <= 0xfe4f) &&
            !(cp >= 0xff00 && cp <= 0xff20) && cp != 0xfeff)
            ok = true;
        if (!ok)
            return qloop_error_set(err, NULL, 0, 0, "登录名“%s”含有不能用的字符（第 %zu 字节）；%s",
                                   cp == QLOOP_U8_INVALID ? "（非 UTF-8）" : login, i + 1, rule);
        i += n;
    }
    return 0;
}

void ident_user_from_row(sqlite3_stmt *st, int col, struct ident_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, col);
    sql_copy(st, col + 1, u->login, sizeof u->login);
    struct qloop_error ignored;
    if (ident_role_parse(sql_text(st, col + 2), &u->role, &ignored) != 0)
        u->role = IDENT_NROLES; /* cannot happen: the column has a CHECK */
    sql_copy(st, col + 3, u->dept, sizeof u->dept);
    sql_copy(st, col + 4, u->name, sizeof u->name);
    u->active = sqlite3_column_int(st, col + 5) != 0;
    u->has_password = sqlite3_column_int(st, col + 6) != 0;
    sql_copy(st, col + 7, u->created_at, sizeof u->created_at);
    sql_copy(st, col + 8, u->disabled_at, sizeof u->disabled_at);
    u->dept_bureau = sqlite3_column_int(st, col + 9) != 0;
}

/* Looks login up into *out (may be NULL) and its password hash into hash
 * (may be NULL; "" when it has none). Returns 1, 0 or -1. */
static int find_user(sqlite3 *db, const char *login, struct ident_user *out, char *hash,
                     size_t hashsize, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " IDENT_USER_COLS ", u.password_hash FROM users u"
                                   " LEFT JOIN depts d ON d.name = u.dept WHERE u.login = ?1",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, login);
    int rc = sql_row(db, st, "查找用户", err);
    if (rc == 1 && out)
        ident_user_from_row(st, 0, out);
    if (rc == 1 && hash)
        sql_copy(st, 10, hash, hashsize);
    sqlite3_finalize(st);
    return rc;
}

int ident_user_find(sqlite3 *db, const char *login, struct ident_user *out,
                    struct qloop_error *err)
{
    return find_user(db, login, out, NULL, 0, err);
}

int ident_user_known(sqlite3 *db, const char *login, struct ident_user *u,
                     struct qloop_error *err)
{
    int found = ident_user_find(db, login, u, err);
    if (found == 0)
        return qloop_error_set(err, NULL, 0, 0, "没有登录名为 %s 的用户（qloop users list 查看）", login);
    return found == 1 ? 0 : -1;
}

int ident_user_count(sqlite3 *db, int64_t *n, struct qloop_error *err)
{
    return sql_int64(db, "SELECT count(*) FROM users", NULL, 0, n, err);
}

/* The number of characters (code points) of s. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int ident_password_hash(const char *password, char *out, size_t size, struct qloop_error *err)
{
    if (size < crypto_pwhash_STRBYTES)
        return qloop_error_internal(err, NULL, "密码散列的缓冲区过小");
    size_t len = password ? strlen(password) : 0;
    if (len > IDENT_PASSWORD_MAX)
        return qloop_error_set(err, NULL, 0, 0, "密码过长（最多 %d 字节）", IDENT_PASSWORD_MAX);
    if (!password || chars(password) < IDENT_PASSWORD_MIN)
        return qloop_error_set(err, NULL, 0, 0, "密码太短：至少 %d 个字符", IDENT_PASSWORD_MIN);
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return qloop_error_internal(err, NULL, "计算密码散列失败（内存不足：需要 %zu MiB）",
                                    (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20);
    return 0;
}

/* The checks of ident_user_add on its department. */
static int user_dept_check(sqlite3 *db, enum ident_role role, const char *dept,
                           struct qloop_error *err)
{
    if (!dept || !*dept) {
        if (ident_role_needs_dept(role))
            return qloop_error_set(err, NULL, 0, 0,
                                   "角色 %s（%s）的用户必须属于一个部门；请加 --dept 部门名称",
                                   ident_role_name(role), ident_role_zh(role));
        return 0;
    }
    int found = ident_dept_find(db, dept, NULL, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "部门“%s”尚未登记；请先运行 qloop depts add %s（qloop depts list 查看已登记的部门）",
                               dept, dept);
    return 0;
}

int ident_user_add(sqlite3 *db, const char *login, enum ident_role role, const char *dept,
                   const char *name, const char *password, const char *by,
                   struct qloop_error *err)
{
    if (ident_login_check(login, err) != 0 ||
        (name && *name && ident_text_check("姓名", name, 200, err) != 0))
        return -1;
    if (role < 0 || role >= IDENT_NROLES)
        return qloop_error_internal(err, NULL, "未知的角色编号 %d", (int)role);
    if ((!password || !*password) && role != IDENT_SYSTEM)
        return qloop_error_set(err, NULL, 0, 0,
                               "请从标准输入提供密码（至少 %d 个字符），例如在提示后输入；"
                               "只有 system 角色可以不设密码（它用 qloop users key 生成的 API 密钥）",
                               IDENT_PASSWORD_MIN);
    char hash[crypto_pwhash_STRBYTES] = "";
    if (password && *password && ident_password_hash(password, hash, sizeof hash, err) != 0)
        return -1;
    int own, rc;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    int found = ident_user_find(db, login, NULL, err);
    rc = found < 0 ? -1
         : found ? qloop_error_set(err, NULL, 0, 0, "登录名 %s 已被使用；请换一个（qloop users list 查看）",
                                   login)
                 : user_dept_check(db, role, dept, err);
    if (rc == 0) {
        char now[32];
        ident_now(now);
        sqlite3_stmt *st = sql_prepare(db,
                                       "INSERT INTO users(login, role, dept, name, password_hash, active,"
                                       " created_at, created_by) VALUES(?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
                                       err);
        rc = st ? 0 : -1;
        if (st) {
            sql_bind_text(st, 1, login);
            sql_bind_text(st, 2, ident_role_name(role));
            sql_bind_text(st, 3, dept && *dept ? dept : NULL);
            sql_bind_text(st, 4, name && *name ? name : NULL);
            sql_bind_text(st, 5, *hash ? hash : NULL);
            sql_bind_text(st, 6, now);
            sql_bind_text(st, 7, by);
            rc = sql_done(db, st, "添加用户", err);
            sqlite3_finalize(st);
        }
    }
    sodium_memzero(hash, sizeof hash);
    if (rc == 0) {
        rc = ident_audit(db, "user.add", "user", login, by,
                         json_pack("{s:s, s:s, s:s?, s:s?}", "login", login, "role",
                                   ident_role_name(role), "dept", dept && *dept ? dept : NULL,
                                   "name", name && *name ? name : NULL),
                         err);
    }
    return ident_tx_end(db, own, rc, err);
}

/* One user of the list (ident_user_list_json's query). */
static json_t *user_json(sqlite3_stmt *st)
{
    struct ident_user u;
    ident_user_from_row(st, 0, &u);
    return json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:s, s:s?, s:I}", "login", u.login, "role",
                     ident_role_name(u.role), "dept", *u.dept ? u.dept : NULL, "name",
                     *u.name ? u.name : NULL, "active", u.active, "created_at", u.created_at,
                     "disabled_at", *u.disabled_at ? u.disabled_at : NULL, "api_keys",
                     (json_int_t)sqlite3_column_int64(st, 10));
}

int ident_user_list_json(sqlite3 *db, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " IDENT_USER_COLS ","
                                   " (SELECT count(*) FROM api_keys k WHERE k.user_id = u.id"
                                   "  AND k.revoked_at IS NULL)"
                                   " FROM users u LEFT JOIN depts d ON d.name = u.dept ORDER BY u.login",
                                   err);
    return st ? ident_json_rows(db, st, user_json, "读取用户", out, err) : -1;
}

int ident_user_disable(sqlite3 *db, const char *login, const char *by, bool *changed,
                       struct qloop_error *err)
{
    if (changed)
        *changed = false;
    int own;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    struct ident_user u;
    int rc = ident_user_known(db, login, &u, err);
    if (rc == 0 && u.active) {
        char now[32];
        ident_now(now);
        static const char *const sql[] = {
            "UPDATE users SET active = 0, disabled_at = ?2, disabled_by = ?3 WHERE id = ?1",
            "DELETE FROM sessions WHERE user_id = ?1",
            "UPDATE api_keys SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        };
        for (size_t i = 0; rc == 0 && i < sizeof sql / sizeof sql[0]; i++) {
            sqlite3_stmt *st = sql_prepare(db, sql[i], err);
            if (!st) {
                rc = -1;
                break;
            }
            sqlite3_bind_int64(st, 1, u.id);
            if (sqlite3_bind_parameter_count(st) >= 2)
                sql_bind_text(st, 2, now);
            if (sqlite3_bind_parameter_count(st) >= 3)
                sql_bind_text(st, 3, by);
            rc = sql_done(db, st, "停用用户", err);
            sqlite3_finalize(st);
        }
        if (rc == 0) {
            rc = ident_audit(db, "user.disable", "user", login, by, json_pack("{s:s}", "login", login),
                             err);
        }
        if (rc == 0 && changed)
            *changed = true;
    }
    return ident_tx_end(db, own, rc, err);
}

/* ---- signing in ---- */

enum { FAIL_LIMIT = 5, FAIL_WINDOW = 15 * 60 };

/* A hash with the INTERACTIVE limits, verified against when the login does
 * not exist (or cannot sign in), so that such an attempt costs the same
 * time; whatever it matches, the attempt fails. */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$WutAha5merdc33nDXQ4VZQ$XB/2gLWdvh86qQhZt7NZLJGHOFgI3QwIPN50sDwiADw";

/* Runs sql with ?1 = login and ?2 = a time text; returns 0 or -1. */
static int exec_login(sqlite3 *db, const char *sql, const char *login, const char *at,
                      struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, login);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sql_bind_text(st, 2, at);
    int rc = sql_done(db, st, "记录登录", err);
    sqlite3_finalize(st);
    return rc;
}

/* Replaces the stored hash of user id by a new one of password (its limits
 * were weaker than today's). Best effort: a failure leaves the old hash. */
static void rehash(sqlite3 *db, int64_t id, const char *password)
{
    char hash[crypto_pwhash_STRBYTES];
    struct qloop_error ignored;
    if (ident_password_hash(password, hash, sizeof hash, &ignored) != 0)
        return;
    sqlite3_stmt *st = sql_prepare(db, "UPDATE users SET password_hash = ?2 WHERE id = ?1", &ignored);
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sql_bind_text(st, 2, hash);
        sql_done(db, st, "更新密码散列", &ignored);
        sqlite3_finalize(st);
    }
    sodium_memzero(hash, sizeof hash);
}

int ident_signin(sqlite3 *db, const char *login, const char *password, struct ident_user *out,
                 struct qloop_error *err)
{
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (!login || !password || strlen(login) > IDENT_LOGIN_MAX || strlen(password) > IDENT_PASSWORD_MAX)
        return IDENT_SIGNIN_BAD;
    char now[32], since[32];
    int64_t t = qloop_now();
    qloop_format_datetime(t, now);
    qloop_format_datetime(t - FAIL_WINDOW, since);
    int64_t fails = 0;
    sqlite3_stmt *st = sql_prepare(db, "SELECT count(*) FROM signin_failures WHERE login = ?1 AND at > ?2",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, login);
    sql_bind_text(st, 2, since);
    int rc = sql_row(db, st, "读取登录记录", err);
    if (rc == 1)
        fails = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    if (fails >= FAIL_LIMIT)
        return IDENT_SIGNIN_THROTTLED;

    struct ident_user u;
    char hash[crypto_pwhash_STRBYTES + 1] = "";
    int found = find_user(db, login, &u, hash, sizeof hash, err);
    if (found < 0)
        return -1;
    bool usable = found == 1 && u.active && *hash;
    bool ok = crypto_pwhash_str_verify(usable ? hash : dummy_hash, password, strlen(password)) == 0 &&
              usable;
    if (!ok) {
        sodium_memzero(hash, sizeof hash);
        if (exec_login(db, "INSERT INTO signin_failures(login, at) VALUES(?1, ?2)", login, now, err) != 0 ||
            exec_login(db, "DELETE FROM signin_failures WHERE at <= ?2", login,
                       since, err) != 0)
            return -1;
        return IDENT_SIGNIN_BAD;
    }
    if (exec_login(db, "DELETE FROM signin_failures WHERE login = ?1", login, NULL, err) != 0)
        return -1;
    if (crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        rehash(db, u.id, password);
    sodium_memzero(hash, sizeof hash);
    if (out)
        *out = u;
    return IDENT_SIGNIN_OK;
}
