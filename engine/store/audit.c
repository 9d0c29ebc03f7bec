/*
 * audit.c — appending to the keyed audit chain (audit.h); its verification
 * and the anchors are in audit_verify.c.
 *
 * Entries live in the table audit, numbered 1, 2, 3, ... without gaps. Each
 * carries prev_hash (the hash of the entry before; 64 '0' for the first) and
 * hash: from the keyed start on, the keyed BLAKE2b MAC of its canonical
 * encoding (audit_entry_mac); before it, in stores upgraded from a qloop
 * without the key, plain SHA-256 (audit_entry_hash). audit_head (one row,
 * id 1) keeps the last seq and hash and a MAC over both, so entries removed
 * from the end, with the head moved back, are found without the key. The
 * triggers refuse UPDATE and DELETE on audit and only let audit_head follow
 * the real last entry; an attacker with the file can drop them, which is what
 * verify and the key are for.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "store/audit.h"
#include "store/key.h"
#include "store/sql.h"
#include "store/store.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- the canonical encoding, hashed or MACed ------------------------------- */

/* A hash being fed: SHA-256 for legacy entries, keyed BLAKE2b otherwise. */
struct feed {
    bool keyed;
    struct qloop_sha256 sha;
    crypto_generichash_state mac;
};

static void feed_bytes(struct feed *f, const void *p, size_t len)
{
    if (f->keyed)
        crypto_generichash_update(&f->mac, p, len);
    else
        qloop_sha256_update(&f->sha, p, len);
}

/* Feeds v as 8 bytes big-endian. */
static void feed_u64(struct feed *f, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    feed_bytes(f, b, 8);
}

/* The canonical encoding of an entry over explicit lengths (fields may hold
 * any bytes when read back from a tampered store), hashed with SHA-256 when
 * key is NULL, else MACed with key. f[0..5] = at, kind, subject, actor,
 * detail, prev_hash. */
static void encode(const unsigned char *key, int64_t seq, const char *const f[6],
                   const size_t len[6], char out[65])
{
    struct feed c = {.keyed = key != NULL};
    uint8_t d[32];
    if (key)
        crypto_generichash_init(&c.mac, key, 32, sizeof d);
    else
        qloop_sha256_init(&c.sha);
    feed_u64(&c, (uint64_t)seq);
    for (int i = 0; i < 6; i++) {
        feed_u64(&c, len[i]);
        feed_bytes(&c, f[i], len[i]);
    }
    if (key)
        crypto_generichash_final(&c.mac, d, sizeof d);
    else
        qloop_sha256_final(&c.sha, d);
    qloop_hex(d, 32, out);
}

void audit_encode(const unsigned char *key, int64_t seq, const char *const f[6],
                  const size_t len[6], char out[65])
{
    encode(key, seq, f, len, out);
}

/* encode() over NUL-terminated fields (NULL counts as ""). */
static void encode_str(const unsigned char *key, int64_t seq, const char *at, const char *kind,
                       const char *subject, const char *actor, const char *detail,
                       const char *prev_hash, char out[65])
{
    const char *f[6] = {at, kind, subject, actor, detail, prev_hash};
    size_t len[6];
    for (int i = 0; i < 6; i++) {
        if (!f[i])
            f[i] = "";
        len[i] = strlen(f[i]);
    }
    encode(key, seq, f, len, out);
}

void audit_entry_hash(int64_t seq, const char *at, const char *kind, const char *subject,
                      const char *actor, const char *detail, const char *prev_hash,
                      char out[65])
{
    encode_str(NULL, seq, at, kind, subject, actor, detail, prev_hash, out);
}

void audit_entry_mac(const unsigned char key[32], int64_t seq, const char *at, const char *kind,
                     const char *subject, const char *actor, const char *detail,
                     const char *prev_hash, char out[65])
{
    encode_str(key, seq, at, kind, subject, actor, detail, prev_hash, out);
}

void audit_head_mac(const unsigned char key[32], int64_t seq, const char *hash, char out[65])
{
    static const char label[] = "qloop audit head";
    unsigned char head_key[32], d[32];
    /* A key for this use only, so a head MAC is never an entry's MAC. */
    crypto_generichash(head_key, sizeof head_key, (const unsigned char *)label, sizeof label - 1,
                       key, 32);
    struct feed f = {.keyed = true};
    crypto_generichash_init(&f.mac, head_key, sizeof head_key, sizeof d);
    feed_u64(&f, (uint64_t)seq);
    feed_bytes(&f, hash ? hash : "", hash ? strlen(hash) : 0);
    crypto_generichash_final(&f.mac, d, sizeof d);
    sodium_memzero(head_key, sizeof head_key);
    qloop_hex(d, 32, out);
}

/* ---- appending ---------------------------------------------------------- */

/* Checks that text is one JSON object (duplicate keys refused). Returns 0 or
 * -1 with err. */
static int check_detail(const char *text, struct qloop_error *err)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return qloop_error_set(err, NULL, 0, 0,
                               "审计记录的 detail 不是合法的 JSON（第 %d 行第 %d 列：%s）；"
                               "请传入 JSON 对象文本，例如 {\"from\":\"feedback\",\"to\":\"corrected\"}",
                               je.line, je.column, je.text);
    int is_object = json_is_object(v);
    json_decref(v);
    if (!is_object)
        return qloop_error_set(err, NULL, 0, 0,
                               "审计记录的 detail 必须是 JSON 对象（{...}），收到的是：%.200s；"
                               "请把内容放进一个对象，例如 {\"note\": ...}",
                               text);
    return 0;
}

/* Prepared statements of audit_append and the audit subkey, kept per
 * connection: a run appends an entry for every ticket change, and preparing
 * the statements (and deriving the key) each time cost more than the rest of
 * the append. audit_forget() drops them before the connection closes. */
enum { ST_HEAD, ST_LAST, ST_INSERT, ST_UPDATE, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK, ST_COUNT };
static const char *const cached_sql[ST_COUNT] = {
    "SELECT seq, hash FROM audit_head WHERE id = 1",
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    "INSERT INTO audit(seq, at, kind, subject, actor, detail, prev_hash, hash)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO audit_head(id, seq, hash, mac) VALUES(1, ?1, ?2, ?3)"
    " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
    "SAVEPOINT qloop_audit_append",
    "RELEASE qloop_audit_append",
    "ROLLBACK TO qloop_audit_append",
};
static struct {
    sqlite3 *db;
    struct sql_cached st[ST_COUNT];
    bool have_key;
    unsigned char key[STORE_SUBKEY_BYTES];
} cache;

void audit_forget(sqlite3 *db)
{
    if (cache.db != db)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sql_cache_free(&cache.st[i]);
    sodium_memzero(cache.key, sizeof cache.key);
    cache.have_key = false;
    cache.db = NULL;
}

/* Makes db the connection the cache serves. */
static void use_db(sqlite3 *db)
{
    if (cache.db != db) {
        audit_forget(cache.db);
        cache.db = db;
    }
}

/* The cached statement i for db, reset and unbound; NULL with err on failure. */
static sqlite3_stmt *cached(sqlite3 *db, int i, struct qloop_error *err)
{
    use_db(db);
    return sql_cached(db, &cache.st[i], cached_sql[i], err);
}

/* The audit subkey of db (cached). Returns it, or NULL with err (the key file
 * missing or foreign: an input error). */
static const unsigned char *audit_key(sqlite3 *db, struct qloop_error *err)
{
    use_db(db);
    if (!cache.have_key) {
        if (store_key(db, STORE_KEY_AUDIT, cache.key, err) != 0)
            return NULL;
        cache.have_key = true;
    }
    return cache.key;
}

/* Steps a cached statement that returns no rows; 0 or -1 with err. */
static int step_cached(sqlite3 *db, int i, const char *what, struct qloop_error *err)
{
    sqlite3_stmt *st = cached(db, i, err);
    return st ? sql_done(db, st, what, err) : -1;
}

/* Reads (seq, hash) from cached statement i, which yields at most one such
 * row; sets *found. Returns 0 or -1 with err. */
static int read_seq_hash(sqlite3 *db, int i, int *found, int64_t *seq, char hash[65],
                         struct qloop_error *err)
{
    sqlite3_stmt *st = cached(db, i, err);
    if (!st)
        return -1;
    int rc = sql_row(db, st, "读取审计链", err);
    *found = rc == 1;
    if (rc == 1) {
        *seq = sqlite3_column_int64(st, 0);
        sql_copy(st, 1, hash, 65);
    }
    sqlite3_reset(st);
    return rc < 0 ? -1 : 0;
}

/* Writes entry seq after prev_hash, then moves the head to it under its
 * MAC. Returns 0 or -1 with err. */
static int write_entry(sqlite3 *db, const unsigned char *key, int64_t seq, const char *prev_hash,
                       const char *kind, const char *subject, const char *actor,
                       const char *detail, struct qloop_error *err)
{
    char at[32], hash[65], head[65];
    qloop_format_datetime(qloop_now(), at);
    audit_entry_mac(key, seq, at, kind, subject, actor, detail, prev_hash, hash);
    sqlite3_stmt *st = cached(db, ST_INSERT, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sql_bind_text(st, 2, at);
    sql_bind_text(st, 3, kind);
    sql_bind_text(st, 4, subject);
    sql_bind_text(st, 5, actor);
    sql_bind_text(st, 6, detail);
    sql_bind_text(st, 7, prev_hash);
    sql_bind_text(st, 8, hash);
    if (sql_done(db, st, "写入审计记录", err) != 0)
        return -1;
    audit_head_mac(key, seq, hash, head);
    if (!(st = cached(db, ST_UPDATE, err)))
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sql_bind_text(st, 2, hash);
    sql_bind_text(st, 3, head);
    return sql_done(db, st, "更新审计链头", err);
}

/* The body of audit_append, run inside a transaction or savepoint: the head
 * must name the last entry, or something was cut or added behind qloop's
 * back and nothing more is written until someone has looked. */
static int append_entry(sqlite3 *db, const unsigned char *key, const char *kind,
                        const char *subject, const char *actor, const char *detail,
                        struct qloop_error *err)
{
    int found;
    int64_t head_seq = 0, last_seq = 0;
    char head_hash[65], last_hash[65] = ZERO_HASH;

    if (read_seq_hash(db, ST_HEAD, &found, &head_seq, head_hash, err) != 0)
        return -1;
    if (!found)
        return qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                               "审计链头记录（audit_head）缺失，审计记录可能被篡改；"
                               "请先运行 qloop audit verify 查明，查清之前不能再追加记录");
    if (read_seq_hash(db, ST_LAST, &found, &last_seq, last_hash, err) != 0)
        return -1;
    if (head_seq != last_seq || strcmp(head_hash, last_hash) != 0)
        return qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                               "审计链尾（第 %lld 条）与链头登记（第 %lld 条）不符，"
                               "审计记录可能被删除或篡改；请先运行 qloop audit verify 查明，"
                               "查清之前不能再追加记录",
                               (long long)last_seq, (long long)head_seq);
    return write_entry(db, key, last_seq + 1, last_hash, kind, subject, actor, detail, err);
}

/* Checks kind, subject, actor are non-empty text; returns 0 or -1 with err. */
static int check_word(const char *value, const char *name, const char *example,
                      struct qloop_error *err)
{
    if (!value || !*value)
        return qloop_error_set(err, NULL, 0, 0, "审计记录缺少 %s（例如 %s）；请填写后再写入", name,
                               example);
    return 0;
}

/* Runs body(db, key, ...) in its own IMMEDIATE transaction when none is open
 * (the read of the last entry and the insert must not interleave with
 * another writer), else in a savepoint, so that a failure leaves the
 * caller's transaction as it was. */
static int in_transaction(sqlite3 *db, const unsigned char *key, const char *kind,
                          const char *subject, const char *actor, const char *detail,
                          int (*body)(sqlite3 *, const unsigned char *, const char *, const char *,
                                      const char *, const char *, struct qloop_error *),
                          struct qloop_error *err)
{
    int own = sqlite3_get_autocommit(db) != 0;
    if (own ? store_begin(db, err) != 0
            : step_cached(db, ST_SAVEPOINT, "开始写入审计记录", err) != 0)
        return -1;
    if (body(db, key, kind, subject, actor, detail, err) != 0) {
        if (own) {
            store_rollback(db);
        } else {
            struct qloop_error ignored;
            step_cached(db, ST_ROLLBACK, "回滚审计记录", &ignored);
            step_cached(db, ST_RELEASE, "回滚审计记录", &ignored);
        }
        return -1;
    }
    if (own)
        return store_commit(db, err);
    return step_cached(db, ST_RELEASE, "提交审计记录", err);
}

/* audit_append and audit_append_built: check_json says whether to parse
 * the detail. */
static int append(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                  const char *detail_json, bool check_json, struct qloop_error *err)
{
    const char *detail = detail_json ? detail_json : "{}";
    if (check_word(kind, "kind（记录类型）", "ticket.transition", err) != 0 ||
        check_word(subject, "subject（对象）", "ticket:12", err) != 0 ||
        check_word(actor, "actor（操作人）", "system", err) != 0 ||
        (check_json && check_detail(detail, err) != 0))
        return -1;
    const unsigned char *key = audit_key(db, err);
    if (!key)
        return -1;
    return in_transaction(db, key, kind, subject, actor, detail, append_entry, err);
}

int audit_append(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                 const char *detail_json, struct qloop_error *err)
{
    return append(db, kind, subject, actor, detail_json, true, err);
}

int audit_append_built(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                       const char *detail_json, struct qloop_error *err)
{
    return append(db, kind, subject, actor, detail_json, false, err);
}

/* ---- the keyed start -------------------------------------------------------- */

/* The body of audit_start_keyed. Unlike append_entry it does not refuse a
 * legacy chain whose head and tail disagree: the upgrade must not stop on
 * tampering it cannot undo, so it records both in the start entry, where
 * verify finds them for ever after. */
static int start_keyed(sqlite3 *db, const unsigned char *key, const char *kind,
                       const char *subject, const char *actor, const char *detail,
                       struct qloop_error *err)
{
    (void)kind, (void)subject, (void)actor, (void)detail;
    int head_found, last_found;
    int64_t head_seq = 0, last_seq = 0;
    char head_hash[65] = "", last_hash[65] = ZERO_HASH;
    if (read_seq_hash(db, ST_HEAD, &head_found, &head_seq, head_hash, err) != 0 ||
        read_seq_hash(db, ST_LAST, &last_found, &last_seq, last_hash, err) != 0)
        return -1;
    char from[32];
    snprintf(from, sizeof from, "%lld", (long long)(last_seq + 1));
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO meta(key, value) VALUES('audit_keyed_from', ?1)"
                                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, from);
    int rc = sql_done(db, st, "记录审计链的密钥起点", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    if (last_seq == 0 && head_found && head_seq == 0) { /* nothing to bind: the head under its MAC */
        char mac[65];
        audit_head_mac(key, 0, ZERO_HASH, mac);
        st = cached(db, ST_UPDATE, err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, 0);
        sql_bind_text(st, 2, ZERO_HASH);
        sql_bind_text(st, 3, mac);
        return sql_done(db, st, "更新审计链头", err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "legacy_entries", json_integer(last_seq));
    json_object_set_new(o, "legacy_head", json_string(last_hash));
    json_object_set_new(o, "head_seq", head_found ? json_integer(head_seq) : json_null());
    json_object_set_new(o, "head_hash", head_found ? json_string(head_hash) : json_null());
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return qloop_error_internal(err, NULL, "生成审计记录失败（内存不足）");
    rc = write_entry(db, key, last_seq + 1, last_hash, "audit.keyed", "audit", "system", text, err);
    free(text);
    return rc;
}

int audit_start_keyed(sqlite3 *db, struct qloop_error *err)
{
    const unsigned char *key = audit_key(db, err);
    if (!key)
        return -1;
    return in_transaction(db, key, NULL, NULL, NULL, NULL, start_keyed, err);
}
