/*
 * credentials.c — API keys and portal sessions (identity.h).
 *
 * Both are 32 random bytes from libsodium, handed out once and stored only
 * as their BLAKE2b-256 hash (crypto_generichash), so a copy of the store
 * lets nobody act as a user. An API key reads "qk_<id>_<secret>": the id (8
 * random bytes in hex) finds the row, the hash of the whole key is then
 * compared in constant time. A session token is looked up by its hash; the
 * session's csrf value is compared in constant time too.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "identity/identity_private.h"
#include "store/sql.h"

enum { KEY_ID_HEX = 16, SECRET_BYTES = 32, HASH_HEX = 64 };

/* The hex BLAKE2b-256 hash of s into out (65 bytes). */
static void hash_hex(const char *s, char out[HASH_HEX + 1])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)s, strlen(s), NULL, 0);
    qloop_hex(h, sizeof h, out);
}

/* n random bytes as hex into out (2n + 1 bytes). */
static void random_hex(size_t n, char *out)
{
    unsigned char b[64];
    randombytes_buf(b, n);
    qloop_hex(b, n, out);
    sodium_memzero(b, sizeof b);
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int ident_key_new(sqlite3 *db, const char *login, const char *by, char *key, size_t size,
                  struct qloop_error *err)
{
    if (size < IDENT_KEY_CHARS + 1)
        return qloop_error_internal(err, NULL, "API 密钥的缓冲区过小");
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    int own;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    struct ident_user u;
    int rc = ident_user_known(db, login, &u, err) != 0 ? -1
             : !u.active ? qloop_error_set(err, NULL, 0, 0, "用户 %s 已停用，不能生成 API 密钥", login)
             : u.role != IDENT_SYSTEM
                 ? qloop_error_set(err, NULL, 0, 0,
                                   "API 密钥只发给业务系统（system 角色）；用户 %s 的角色是 %s，"
                                   "请用密码登录门户，或为业务系统另建一个 system 用户",
                                   login, ident_role_name(u.role))
                 : 0;
    char id[KEY_ID_HEX + 1], secret[2 * SECRET_BYTES + 1], hash[HASH_HEX + 1], now[32];
    random_hex(KEY_ID_HEX / 2, id);
    random_hex(SECRET_BYTES, secret);
    snprintf(key, size, "qk_%s_%s", id, secret);
    sodium_memzero(secret, sizeof secret);
    hash_hex(key, hash);
    ident_now(now);
    int64_t revoked = 0;
    if (rc == 0) {
        sqlite3_stmt *st = sql_prepare(db,
                                       "UPDATE api_keys SET revoked_at = ?2"
                                       " WHERE user_id = ?1 AND revoked_at IS NULL",
                                       err);
        rc = st ? 0 : -1;
        if (st) {
            sqlite3_bind_int64(st, 1, u.id);
            sql_bind_text(st, 2, now);
            rc = sql_done(db, st, "作废旧的 API 密钥", err);
            revoked = sqlite3_changes(db);
            sqlite3_finalize(st);
        }
    }
    if (rc == 0) {
        sqlite3_stmt *st = sql_prepare(db,
                                       "INSERT INTO api_keys(user_id, key_id, key_hash, created_at)"
                                       " VALUES(?1, ?2, ?3, ?4)",
                                       err);
        rc = st ? 0 : -1;
        if (st) {
            sqlite3_bind_int64(st, 1, u.id);
            sql_bind_text(st, 2, id);
            sql_bind_text(st, 3, hash);
            sql_bind_text(st, 4, now);
            rc = sql_done(db, st, "保存 API 密钥", err);
            sqlite3_finalize(st);
        }
    }
    if (rc == 0) {
        rc = ident_audit(db, "user.key", "user", login, by,
                         json_pack("{s:s, s:I}", "login", login, "revoked", (json_int_t)revoked), err);
    }
    rc = ident_tx_end(db, own, rc, err);
    if (rc != 0)
        sodium_memzero(key, size);
    return rc;
}

int ident_key_check(sqlite3 *db, const char *key, struct ident_user *out,
                    struct qloop_error *err)
{
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (!key || strlen(key) != IDENT_KEY_CHARS || strncmp(key, "qk_", 3) != 0 ||
        key[3 + KEY_ID_HEX] != '_' || !is_hex(key + 3, KEY_ID_HEX) ||
        !is_hex(key + 4 + KEY_ID_HEX, 2 * SECRET_BYTES))
        return 0;
    char id[KEY_ID_HEX + 1], hash[HASH_HEX + 1], stored[HASH_HEX + 1];
    memcpy(id, key + 3, KEY_ID_HEX);
    id[KEY_ID_HEX] = '\0';
    hash_hex(key, hash);
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " IDENT_USER_COLS ", k.key_hash, k.id FROM api_keys k"
                                   " JOIN users u ON u.id = k.user_id"
                                   " LEFT JOIN depts d ON d.name = u.dept"
                                   " WHERE k.key_id = ?1 AND k.revoked_at IS NULL",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, id);
    struct ident_user u;
    int rc = sql_row(db, st, "查找 API 密钥", err);
    int64_t row = 0;
    if (rc == 1) {
        ident_user_from_row(st, 0, &u);
        sql_copy(st, 10, stored, sizeof stored);
        row = sqlite3_column_int64(st, 11);
    }
    sqlite3_finalize(st);
    if (rc != 1)
        return rc;
    if (strlen(stored) != HASH_HEX || sodium_memcmp(stored, hash, HASH_HEX) != 0 || !u.active)
        return 0;
    /* When it was last used: for the operator's eyes; a read-only store
     * still accepts the key. */
    char now[32];
    ident_now(now);
    struct qloop_error ignored;
    st = sql_prepare(db, "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", &ignored);
    if (st) {
        sqlite3_bind_int64(st, 1, row);
        sql_bind_text(st, 2, now);
        sql_done(db, st, "记录 API 密钥的使用", &ignored);
        sqlite3_finalize(st);
    }
    if (out)
        *out = u;
    return 1;
}

int ident_session_new(sqlite3 *db, int64_t user_id, int64_t ttl, char *token, char *csrf,
                      struct qloop_error *err)
{
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (ttl <= 0)
        return qloop_error_internal(err, NULL, "会话时长必须为正（%lld 秒）", (long long)ttl);
    char hash[HASH_HEX + 1], now[32], until[32];
    int64_t t = qloop_now();
    qloop_format_datetime(t, now);
    qloop_format_datetime(t + ttl, until);
    random_hex(SECRET_BYTES, token);
    random_hex(SECRET_BYTES, csrf);
    hash_hex(token, hash);
    int own;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    int rc = 0;
    sqlite3_stmt *st = sql_prepare(db, "DELETE FROM sessions WHERE expires_at <= ?1", err);
    if (!st)
        rc = -1;
    else {
        sql_bind_text(st, 1, now);
        rc = sql_done(db, st, "清理过期会话", err);
        sqlite3_finalize(st);
    }
    if (rc == 0) {
        st = sql_prepare(db,
                         "INSERT INTO sessions(token_hash, user_id, csrf, created_at, expires_at)"
                         " SELECT ?1, id, ?3, ?4, ?5 FROM users WHERE id = ?2 AND active",
                         err);
        rc = st ? 0 : -1;
        if (st) {
            sql_bind_text(st, 1, hash);
            sqlite3_bind_int64(st, 2, user_id);
            sql_bind_text(st, 3, csrf);
            sql_bind_text(st, 4, now);
            sql_bind_text(st, 5, until);
            rc = sql_done(db, st, "创建会话", err);
            if (rc == 0 && sqlite3_changes(db) != 1)
                rc = qloop_error_set(err, NULL, 0, 0, "用户不存在或已停用，不能登录");
            sqlite3_finalize(st);
        }
    }
    rc = ident_tx_end(db, own, rc, err);
    if (rc != 0) {
        sodium_memzero(token, IDENT_TOKEN_CHARS + 1);
        sodium_memzero(csrf, IDENT_TOKEN_CHARS + 1);
    }
    return rc;
}

int ident_session_user(sqlite3 *db, const char *token, struct ident_user *out, char *csrf,
                       struct qloop_error *err)
{
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (!token || strlen(token) != IDENT_TOKEN_CHARS || !is_hex(token, IDENT_TOKEN_CHARS))
        return 0;
    char hash[HASH_HEX + 1], stored[HASH_HEX + 1], now[32];
    hash_hex(token, hash);
    ident_now(now);
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " IDENT_USER_COLS ", s.token_hash, s.csrf FROM sessions s"
                                   " JOIN users u ON u.id = s.user_id"
                                   " LEFT JOIN depts d ON d.name = u.dept"
                                   " WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, hash);
    sql_bind_text(st, 2, now);
    int rc = sql_row(db, st, "查找会话", err);
    struct ident_user u;
    if (rc == 1) {
        ident_user_from_row(st, 0, &u);
        sql_copy(st, 10, stored, sizeof stored);
        if (csrf)
            sql_copy(st, 11, csrf, IDENT_TOKEN_CHARS + 1);
    }
    sqlite3_finalize(st);
    if (rc != 1)
        return rc;
    if (sodium_memcmp(stored, hash, HASH_HEX) != 0)
        return 0;
    if (out)
        *out = u;
    return 1;
}

int ident_session_end(sqlite3 *db, const char *token, struct qloop_error *err)
{
    if (!token)
        return 0;
    char hash[HASH_HEX + 1];
    hash_hex(token, hash);
    sqlite3_stmt *st = sql_prepare(db, "DELETE FROM sessions WHERE token_hash = ?1", err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, hash);
    int rc = sql_done(db, st, "结束会话", err);
    sqlite3_finalize(st);
    return rc;
}

bool ident_csrf_ok(const char *expected, const char *given)
{
    if (!expected || !given)
        return false;
    size_t n = strlen(expected);
    if (n == 0 || strlen(given) != n)
        return false;
    return sodium_memcmp(expected, given, n) == 0;
}
