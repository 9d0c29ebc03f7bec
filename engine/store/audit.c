/*
 * audit.c — the append-only, tamper-evident audit chain.
 *
 * Entries live in the table audit, numbered 1, 2, 3, ... without gaps. Each
 * carries prev_hash (the hash of the entry before; 64 '0' for the first) and
 * hash (SHA-256 of its own canonical encoding, see audit_entry_hash), so a
 * change anywhere breaks the link to the next entry. audit_head (one row,
 * id 1) keeps the last seq and hash; without it, entries removed from the
 * end would leave a shorter chain that is still whole. Triggers refuse
 * UPDATE and DELETE on audit and only let audit_head follow the real last
 * entry; an attacker with the file can drop them, which is what verify is for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "store/audit.h"
#include "store/sql.h"
#include "store/store.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* Feeds v as 8 bytes big-endian. */
static void put_u64(struct qloop_sha256 *c, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    qloop_sha256_update(c, b, 8);
}

/* Feeds one length-prefixed field. */
static void put_field(struct qloop_sha256 *c, const void *p, size_t len)
{
    put_u64(c, len);
    qloop_sha256_update(c, p, len);
}

/* The canonical hash over explicit lengths (fields may hold any bytes when
 * read back from a tampered store). f[0..5] = at, kind, subject, actor,
 * detail, prev_hash. */
static void entry_hash(int64_t seq, const char *const f[6], const size_t len[6], char out[65])
{
    struct qloop_sha256 c;
    uint8_t d[32];
    qloop_sha256_init(&c);
    put_u64(&c, (uint64_t)seq);
    for (int i = 0; i < 6; i++)
        put_field(&c, f[i], len[i]);
    qloop_sha256_final(&c, d);
    qloop_hex(d, 32, out);
}

void audit_entry_hash(int64_t seq, const char *at, const char *kind, const char *subject,
                      const char *actor, const char *detail, const char *prev_hash,
                      char out[65])
{
    const char *f[6] = {at, kind, subject, actor, detail, prev_hash};
    size_t len[6];
    for (int i = 0; i < 6; i++) {
        if (!f[i])
            f[i] = "";
        len[i] = strlen(f[i]);
    }
    entry_hash(seq, f, len, out);
}

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

/* Prepared statements of audit_append, kept per connection: a run appends an
 * entry for every ticket change, and preparing five statements each time
 * cost more than the rest of the append. audit_forget() drops them before
 * the connection closes. */
enum { ST_HEAD, ST_LAST, ST_INSERT, ST_UPDATE, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK, ST_COUNT };
static const char *const cached_sql[ST_COUNT] = {
    "SELECT seq, hash FROM audit_head WHERE id = 1",
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    "INSERT INTO audit(seq, at, kind, subject, actor, detail, prev_hash, hash)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
    "SAVEPOINT qloop_audit_append",
    "RELEASE qloop_audit_append",
    "ROLLBACK TO qloop_audit_append",
};
static struct {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
} cache;

void audit_forget(sqlite3 *db)
{
    if (cache.db != db)
        return;
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(cache.st[i]);
        cache.st[i] = NULL;
    }
    cache.db = NULL;
}

/* The cached statement i for db, reset and unbound; NULL with err on failure. */
static sqlite3_stmt *cached(sqlite3 *db, int i, struct qloop_error *err)
{
    if (cache.db != db) {
        audit_forget(cache.db);
        cache.db = db;
    }
    if (!cache.st[i] &&
        sqlite3_prepare_v3(db, cached_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &cache.st[i], NULL) !=
            SQLITE_OK) {
        store_error(db, "准备审计语句", err);
        sqlite3_finalize(cache.st[i]);
        cache.st[i] = NULL;
        return NULL;
    }
    sqlite3_reset(cache.st[i]);
    sqlite3_clear_bindings(cache.st[i]);
    return cache.st[i];
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

/* The body of audit_append, run inside a transaction or savepoint. */
static int append_entry(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                        const char *detail, struct qloop_error *err)
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

    int64_t seq = last_seq + 1;
    char at[32], hash[65];
    qloop_format_datetime(qloop_now(), at);
    audit_entry_hash(seq, at, kind, subject, actor, detail, last_hash, hash);

    sqlite3_stmt *st = cached(db, ST_INSERT, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sql_bind_text(st, 2, at);
    sql_bind_text(st, 3, kind);
    sql_bind_text(st, 4, subject);
    sql_bind_text(st, 5, actor);
    sql_bind_text(st, 6, detail);
    sql_bind_text(st, 7, last_hash);
    sql_bind_text(st, 8, hash);
    if (sql_done(db, st, "写入审计记录", err) != 0)
        return -1;

    if (!(st = cached(db, ST_UPDATE, err)))
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sql_bind_text(st, 2, hash);
    if (sql_done(db, st, "更新审计链头", err) != 0)
        return -1;
    if (sqlite3_changes(db) != 1)
        return qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                               "审计链头记录（audit_head）缺失，审计记录可能被篡改；"
                               "请先运行 qloop audit verify 查明");
    return 0;
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

int audit_append(sqlite3 *db, const char *kind, const char *subject, const char *actor,
                 const char *detail_json, struct qloop_error *err)
{
    const char *detail = detail_json ? detail_json : "{}";
    if (check_word(kind, "kind（记录类型）", "ticket.transition", err) != 0 ||
        check_word(subject, "subject（对象）", "ticket:12", err) != 0 ||
        check_word(actor, "actor（操作人）", "system", err) != 0 || check_detail(detail, err) != 0)
        return -1;

    /* Own transaction when none is open (IMMEDIATE: the read of the last
     * entry and the insert must not interleave with another writer), else a
     * savepoint so that a failure leaves the caller's transaction as it was. */
    int own = sqlite3_get_autocommit(db) != 0;
    if ((own ? sql_exec(db, "BEGIN IMMEDIATE", "开始写入审计记录", err)
             : step_cached(db, ST_SAVEPOINT, "开始写入审计记录", err)) != 0)
        return -1;
    if (append_entry(db, kind, subject, actor, detail, err) != 0) {
        if (own) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            struct qloop_error ignored;
            step_cached(db, ST_ROLLBACK, "回滚审计记录", &ignored);
            step_cached(db, ST_RELEASE, "回滚审计记录", &ignored);
        }
        return -1;
    }
    if ((own ? sql_exec(db, "COMMIT", "提交审计记录", err)
             : step_cached(db, ST_RELEASE, "提交审计记录", err)) != 0) {
        if (own)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Whether a table named name exists in the main schema; -1 on SQL error. */
static int table_exists(sqlite3 *db, const char *name, struct qloop_error *err)
{
    int64_t n;
    if (sql_int64(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                  name, 0, &n, err) != 0)
        return -1;
    return n > 0;
}

/* Sets the verdict of a broken chain and returns 1. */
static int broken(int64_t *bad_seq, int64_t seq, char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int broken(int64_t *bad_seq, int64_t seq, char *why, size_t whysize, const char *fmt, ...)
{
    if (bad_seq)
        *bad_seq = seq;
    if (why && whysize > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whysize, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* Sets *follower to the smallest seq after `after` whose prev_hash is hash
 * (0 when none). Returns 0 or -1 with err. */
static int later_follower(sqlite3 *db, const char *hash, int64_t after, int64_t *follower,
                          struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT min(seq) FROM audit WHERE prev_hash = ?1 AND seq > ?2", err);
    if (!st)
        return -1;
    sql_bind_textn(st, 1, hash, 64);
    sqlite3_bind_int64(st, 2, after);
    int rc = sql_row(db, st, "读取审计记录", err);
    *follower = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/* Where a walk of the chain has come: the seq it expects next, the last
 * good entry and its hash, how many were good; and where a verdict goes. */
struct walk {
    int64_t expected, prev_seq, n;
    char prev_hash[65];
    int64_t *bad_seq;
    char *why;
    size_t whysize;
};

/* Judges the entry at st (seq, at, kind, subject, actor, detail, prev_hash,
 * hash) against the walk so far and, when good, moves the walk past it.
 * Returns 0 good, 1 broken (verdict set), -1 with err. */
static int judge_entry(sqlite3 *db, sqlite3_stmt *st, struct walk *w, struct qloop_error *err)
{
    int64_t seq = sqlite3_column_int64(st, 0);
    const char *f[6];
    size_t len[6];
    for (int i = 0; i < 6; i++) {
        f[i] = (const char *)sqlite3_column_blob(st, i + 1);
        len[i] = (size_t)sqlite3_column_bytes(st, i + 1);
        if (!f[i]) {
            f[i] = "";
            len[i] = 0;
        }
    }
    const char *stored = (const char *)sqlite3_column_blob(st, 7);
    size_t stored_len = (size_t)sqlite3_column_bytes(st, 7);
    char want[65];
    entry_hash(seq, f, len, want);
    int content_ok = stored && stored_len == 64 && memcmp(stored, want, 64) == 0;
    int link_ok = len[5] == 64 && memcmp(f[5], w->prev_hash, 64) == 0;
    long long s = seq, prev = w->prev_seq;

    if (seq < w->expected)
        return broken(w->bad_seq, seq, w->why, w->whysize,
                      "出现了不应存在的第 %lld 条记录（序号应从 1 起连续编号）", s);
    if (seq > w->expected)
        return broken(w->bad_seq, w->expected, w->why, w->whysize,
                      "第 %lld 条记录缺失（第 %lld 条之前的记录缺失或顺序被改动）",
                      (long long)w->expected, s);
    if (!content_ok && !link_ok)
        return broken(w->bad_seq, seq, w->why, w->whysize,
                      "第 %lld 条记录被替换或与别的记录调换（哈希不符，且与前一条不相连）", s);
    if (!content_ok)
        return broken(w->bad_seq, seq, w->why, w->whysize,
                      "第 %lld 条记录内容被修改（哈希不符）", s);
    if (!link_ok && prev == 0)
        return broken(w->bad_seq, seq, w->why, w->whysize,
                      "第 %lld 条记录的前一哈希不是链首值（第 %lld 条之前的记录缺失或顺序被改动）",
                      s, s);
    if (!link_ok) {
        /* This entry is intact but does not point at the one before. If a
         * later entry points at that one, the one before is genuine and
         * this entry was moved here or slipped in; otherwise the one before
         * was most likely changed and given a recomputed hash. */
        int64_t follower = 0;
        if (later_follower(db, w->prev_hash, seq, &follower, err) != 0)
            return -1;
        if (follower > 0)
            return broken(w->bad_seq, seq, w->why, w->whysize,
                          "第 %lld 条记录不接在第 %lld 条之后（顺序被改动，或记录被替换、插入；"
                          "第 %lld 条之后原本应是现在的第 %lld 条）",
                          s, prev, prev, (long long)follower);
        return broken(w->bad_seq, w->prev_seq, w->why, w->whysize,
                      "第 %lld 条记录被修改后重算了哈希（与第 %lld 条登记的前一哈希不符），"
                      "或第 %lld 条之前的记录缺失或顺序被改动",
                      prev, s, s);
    }
    memcpy(w->prev_hash, stored, 64);
    w->prev_seq = seq;
    w->expected = seq + 1;
    w->n++;
    return 0;
}

/* Checks audit_head against the end of a whole walk: entries cut off the
 * end, appended around qloop, or a last entry rehashed. Same returns as
 * judge_entry. */
static int check_head(sqlite3 *db, const struct walk *w, struct qloop_error *err)
{
    int found;
    int64_t head_seq = 0;
    char head_hash[65];
    if (read_seq_hash(db, ST_HEAD, &found, &head_seq, head_hash, err) != 0)
        return -1;
    long long last = w->prev_seq, head = head_seq;
    if (!found)
        return broken(w->bad_seq, w->prev_seq, w->why, w->whysize,
                      "审计链头记录（audit_head）缺失，无法确认链尾是否完整");
    if (head > last)
        return broken(w->bad_seq, last + 1, w->why, w->whysize,
                      "第 %lld 条及之后的记录缺失（链头登记共 %lld 条，现存只到第 %lld 条）",
                      last + 1, head, last);
    if (head < last)
        return broken(w->bad_seq, head + 1, w->why, w->whysize,
                      "第 %lld 条起的记录未登记在链头（链头只登记到第 %lld 条），"
                      "可能是绕过 qloop 追加的记录",
                      head + 1, head);
    if (strcmp(head_hash, w->prev_hash) != 0 && last == 0)
        return broken(w->bad_seq, 0, w->why, w->whysize,
                      "审计链头被改动（空链的链头哈希应为全 0）");
    if (strcmp(head_hash, w->prev_hash) != 0)
        return broken(w->bad_seq, last, w->why, w->whysize,
                      "第 %lld 条记录被修改后重算了哈希（与链头登记的哈希不符）", last);
    return 0;
}

/* The walk itself, inside a read transaction: both tables there, every
 * entry in order, then the head. Same contract as audit_verify. */
static int verify_chain(sqlite3 *db, int64_t *count, int64_t *bad_seq, char *why, size_t whysize,
                        struct qloop_error *err)
{
    static const char *const tables[][2] = {
        {"audit", "审计表 audit 不存在（已被删除）"},
        {"audit_head", "审计链头表 audit_head 不存在（已被删除）"},
    };
    for (int i = 0; i < 2; i++) {
        int have = table_exists(db, tables[i][0], err);
        if (have < 0)
            return -1;
        if (!have)
            return broken(bad_seq, 0, why, whysize, "%s", tables[i][1]);
    }
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT seq, at, kind, subject, actor, detail, prev_hash, hash"
                                   " FROM audit ORDER BY seq",
                                   err);
    if (!st)
        return -1;
    struct walk w = {.expected = 1, .prev_hash = ZERO_HASH, .bad_seq = bad_seq, .why = why,
                     .whysize = whysize};
    int rc, verdict = 0;
    while (verdict == 0 && (rc = sql_row(db, st, "读取审计记录", err)) == 1)
        verdict = judge_entry(db, st, &w, err);
    sqlite3_finalize(st);
    if (verdict != 0)
        return verdict;
    if (rc < 0)
        return -1;
    if ((verdict = check_head(db, &w, err)) != 0)
        return verdict;
    if (count)
        *count = w.n;
    return 0;
}

int audit_verify(sqlite3 *db, int64_t *count, int64_t *bad_seq, char *why, size_t whysize,
                 struct qloop_error *err)
{
    if (count)
        *count = 0;
    if (bad_seq)
        *bad_seq = 0;
    if (why && whysize > 0)
        why[0] = '\0';
    /* One read transaction, so the chain and its head are one snapshot. */
    int own = sqlite3_get_autocommit(db) != 0;
    if (own && sql_exec(db, "BEGIN", "开始读取审计链", err) != 0)
        return -1;
    int rc = verify_chain(db, count, bad_seq, why, whysize, err);
    if (own)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
