/*
 * audit_verify.c — checking the audit chain (audit.h): the walk over every
 * entry, the keyed start, the head and its MAC, and the anchors kept outside
 * the store.
 *
 * The walk reads the entries in seq order in one read transaction. Each
 * entry's hash is recomputed — SHA-256 before the keyed start, the keyed MAC
 * from it — and compared with the one stored and with the next entry's
 * prev_hash; the first entry that fails is named, with what most likely
 * happened to it (changed, replaced, moved, missing, added behind qloop's
 * back). Without the key nothing can be recomputed to pass: a changed entry
 * fails its own MAC, so the rewrite-and-rehash attack is found at the entry
 * changed, and a head moved back over a cut tail fails the head's MAC.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/audit.h"
#include "store/key.h"
#include "store/sql.h"
#include "store/store.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define ANCHOR_WORD "qloop-audit-anchor"

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

int audit_keyed_from(sqlite3 *db, int64_t *from, struct qloop_error *err)
{
    *from = 0;
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT value FROM meta WHERE key = 'audit_keyed_from'", err);
    if (!st)
        return -1;
    int rc = sql_row(db, st, "读取审计链的密钥起点", err);
    char text[32] = "";
    if (rc == 1)
        sql_copy(st, 0, text, sizeof text);
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (rc == 0 || !*text || *end || v < 1)
        return qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                               "数据库中审计链的密钥起点记录（meta audit_keyed_from）缺失或无效："
                               "审计记录可能被篡改；请从备份恢复数据库，并核对最近一次留存的链头锚点");
    *from = v;
    return 0;
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

/* The entry at the keyed start K (kind kind, detail of dlen bytes), when it
 * is the upgrade's "audit.keyed" entry or must be one (K > 1): it must say
 * that K-1 legacy entries ending in prev_hash came before it, and that the
 * head agreed with them at the upgrade. Returns 0 or the verdict 1. */
static int check_start(int64_t k, const char *kind, size_t klen, const char *detail, size_t dlen,
                       const char *prev_hash, int64_t *bad_seq, char *why, size_t whysize)
{
    bool is_start = klen == strlen("audit.keyed") && memcmp(kind, "audit.keyed", klen) == 0;
    if (!is_start && k == 1)
        return 0;
    if (!is_start)
        return broken(bad_seq, k, why, whysize,
                      "第 %lld 条应是升级时写入的密钥起点记录（audit.keyed），实际不是："
                      "密钥起点或之前的记录被改动",
                      (long long)k);
    json_t *d = json_loadb(detail, dlen, 0, NULL);
    json_t *legacy = json_object_get(d, "legacy_entries"), *head = json_object_get(d, "legacy_head");
    json_t *hseq = json_object_get(d, "head_seq"), *hhash = json_object_get(d, "head_hash");
    int verdict = 0;
    if (!json_is_integer(legacy) || json_integer_value(legacy) != k - 1 || !json_is_string(head) ||
        strcmp(json_string_value(head), prev_hash) != 0)
        verdict = broken(bad_seq, k, why, whysize,
                         "第 %lld 条密钥起点记录与之前的旧记录不符（密钥起点被移动）", (long long)k);
    else if (!json_is_integer(hseq) || json_integer_value(hseq) != k - 1 ||
             !json_is_string(hhash) || strcmp(json_string_value(hhash), prev_hash) != 0)
        verdict = broken(bad_seq, k, why, whysize,
                         "升级时旧审计链已不完整：链头登记为第 %lld 条，现存旧记录只到第 %lld 条"
                         "（升级前有记录被删除或篡改；第 %lld 条记下了这一点）",
                         (long long)(json_is_integer(hseq) ? json_integer_value(hseq) : -1),
                         (long long)(k - 1), (long long)k);
    json_decref(d);
    return verdict;
}

/* The walk itself, inside a read transaction. Same contract as
 * audit_verify; key: the audit subkey. */
static int verify_chain(sqlite3 *db, const unsigned char *key, int64_t *count, int64_t *bad_seq,
                        char *why, size_t whysize, struct qloop_error *err)
{
    int have = table_exists(db, "audit", err);
    if (have < 0)
        return -1;
    if (!have)
        return broken(bad_seq, 0, why, whysize, "审计表 audit 不存在（已被删除）");
    have = table_exists(db, "audit_head", err);
    if (have < 0)
        return -1;
    if (!have)
        return broken(bad_seq, 0, why, whysize, "审计链头表 audit_head 不存在（已被删除）");
    int64_t k;
    struct qloop_error kerr;
    if (audit_keyed_from(db, &k, &kerr) != 0)
        return kerr.kind == QLOOP_ERR_INTERNAL
                   ? (*err = kerr, -1)
                   : broken(bad_seq, 0, why, whysize,
                            "审计链的密钥起点记录（meta audit_keyed_from）缺失或无效");

    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT seq, at, kind, subject, actor, detail, prev_hash, hash"
                                   " FROM audit ORDER BY seq",
                                   err);
    if (!st)
        return -1;
    int64_t expected = 1, prev_seq = 0, n = 0;
    char prev_hash[65] = ZERO_HASH;
    int rc, verdict = 0;
    while ((rc = sql_row(db, st, "读取审计记录", err)) == 1) {
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
        audit_encode(seq >= k ? key : NULL, seq, f, len, want);
        bool content_ok = stored && stored_len == 64 && sodium_memcmp(stored, want, 64) == 0;
        bool link_ok = len[5] == 64 && memcmp(f[5], prev_hash, 64) == 0;

        if (seq < expected) {
            verdict = broken(bad_seq, seq, why, whysize,
                             "出现了不应存在的第 %lld 条记录（序号应从 1 起连续编号）",
                             (long long)seq);
        } else if (seq > expected) {
            verdict = broken(bad_seq, expected, why, whysize,
                             "第 %lld 条记录缺失（第 %lld 条之前的记录缺失或顺序被改动）",
                             (long long)expected, (long long)seq);
        } else if (!content_ok && !link_ok) {
            verdict = broken(bad_seq, seq, why, whysize,
                             "第 %lld 条记录被替换或与别的记录调换（哈希不符，且与前一条不相连）",
                             (long long)seq);
        } else if (!content_ok) {
            verdict = broken(bad_seq, seq, why, whysize,
                             seq >= k ? "第 %lld 条记录内容被修改（密钥校验值不符：没有密钥无法重算）"
                                      : "第 %lld 条记录内容被修改（哈希不符）",
                             (long long)seq);
        } else if (!link_ok && prev_seq == 0) {
            verdict = broken(bad_seq, seq, why, whysize,
                             "第 %lld 条记录的前一哈希不是链首值（第 %lld 条之前的记录缺失或顺序被改动）",
                             (long long)seq, (long long)seq);
        } else if (!link_ok) {
            /* This entry is intact but does not point at the one before.
             * If a later entry points at that one, the one before is
             * genuine and this entry was moved here or slipped in;
             * otherwise the one before was most likely changed and given a
             * recomputed hash. */
            int64_t follower = 0;
            if (later_follower(db, prev_hash, seq, &follower, err) != 0) {
                sqlite3_finalize(st);
                return -1;
            }
            if (follower > 0)
                verdict = broken(bad_seq, seq, why, whysize,
                                 "第 %lld 条记录不接在第 %lld 条之后（顺序被改动，或记录被替换、插入；"
                                 "第 %lld 条之后原本应是现在的第 %lld 条）",
                                 (long long)seq, (long long)prev_seq, (long long)prev_seq,
                                 (long long)follower);
            else
                verdict = broken(bad_seq, prev_seq, why, whysize,
                                 "第 %lld 条记录被修改后重算了哈希（与第 %lld 条登记的前一哈希不符），"
                                 "或第 %lld 条之前的记录缺失或顺序被改动",
                                 (long long)prev_seq, (long long)seq, (long long)seq);
        } else if (seq == k) {
            verdict = check_start(k, f[1], len[1], f[4], len[4], prev_hash, bad_seq, why, whysize);
        }
        if (verdict)
            break;
        memcpy(prev_hash, stored, 64);
        prev_seq = seq;
        expected = seq + 1;
        n++;
    }
    sqlite3_finalize(st);
    if (verdict)
        return verdict;
    if (rc < 0)
        return -1;
    if (k > 1 && prev_seq < k)
        return broken(bad_seq, prev_seq + 1, why, whysize,
                      "第 %lld 条及之后的记录缺失（密钥起点是第 %lld 条，现存只到第 %lld 条）",
                      (long long)(prev_seq + 1), (long long)k, (long long)prev_seq);

    st = sql_prepare(db, "SELECT seq, hash, mac FROM audit_head WHERE id = 1", err);
    if (!st)
        return -1;
    rc = sql_row(db, st, "读取审计链头", err);
    int64_t head_seq = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
    char head_hash[65] = "", head_mac[65] = "", want[65];
    if (rc == 1) {
        sql_copy(st, 1, head_hash, sizeof head_hash);
        sql_copy(st, 2, head_mac, sizeof head_mac);
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return broken(bad_seq, prev_seq, why, whysize,
                      "审计链头记录（audit_head）缺失，无法确认链尾是否完整");
    if (head_seq > prev_seq)
        return broken(bad_seq, prev_seq + 1, why, whysize,
                      "第 %lld 条及之后的记录缺失（链头登记共 %lld 条，现存只到第 %lld 条）",
                      (long long)(prev_seq + 1), (long long)head_seq, (long long)prev_seq);
    if (head_seq < prev_seq)
        return broken(bad_seq, head_seq + 1, why, whysize,
                      "第 %lld 条起的记录未登记在链头（链头只登记到第 %lld 条），"
                      "可能是绕过 qloop 追加的记录",
                      (long long)(head_seq + 1), (long long)head_seq);
    if (strcmp(head_hash, prev_hash) != 0 && prev_seq == 0)
        return broken(bad_seq, 0, why, whysize, "审计链头被改动（空链的链头哈希应为全 0）");
    if (strcmp(head_hash, prev_hash) != 0)
        return broken(bad_seq, prev_seq, why, whysize,
                      "第 %lld 条记录被修改后重算了哈希（与链头登记的哈希不符）",
                      (long long)prev_seq);
    audit_head_mac(key, head_seq, head_hash, want);
    if (strlen(head_mac) != 64 || sodium_memcmp(head_mac, want, 64) != 0)
        return broken(bad_seq, prev_seq + 1, why, whysize,
                      "链头登记（第 %lld 条）的密钥校验值不符：链头被挪动过，"
                      "第 %lld 条及之后的记录可能被删除",
                      (long long)head_seq, (long long)(prev_seq + 1));
    if (count)
        *count = n;
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
    unsigned char key[STORE_SUBKEY_BYTES];
    if (store_key(db, STORE_KEY_AUDIT, key, err) != 0)
        return -1;
    /* One read transaction, so the chain and its head are one snapshot. */
    int own = sqlite3_get_autocommit(db) != 0;
    int rc = own && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
                 ? store_error(db, "开始读取审计链", err)
                 : verify_chain(db, key, count, bad_seq, why, whysize, err);
    if (own && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* ---- anchors ------------------------------------------------------------ */

int audit_anchor_take(sqlite3 *db, struct audit_anchor *a, struct qloop_error *err)
{
    memset(a, 0, sizeof *a);
    snprintf(a->hash, sizeof a->hash, "%s", ZERO_HASH);
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT h.seq, h.hash, a.at FROM audit_head h"
                                   " LEFT JOIN audit a ON a.seq = h.seq WHERE h.id = 1",
                                   err);
    if (!st)
        return -1;
    int rc = sql_row(db, st, "读取审计链头", err);
    if (rc == 1) {
        a->seq = sqlite3_column_int64(st, 0);
        sql_copy(st, 1, a->hash, sizeof a->hash);
        sql_copy(st, 2, a->at, sizeof a->at);
    }
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

void audit_anchor_format(const struct audit_anchor *a, char *out, size_t size)
{
    snprintf(out, size, ANCHOR_WORD " seq=%lld hash=%s at=%s", (long long)a->seq, a->hash,
             a->at[0] ? a->at : "-");
}

/* Reads "name=" followed by the longest run of characters of allowed from
 * line[0..len) into out (an anchor may be followed by punctuation when it
 * stands in a sentence). false when absent or empty. */
static bool anchor_field(const char *line, size_t len, const char *name, const char *allowed,
                         char *out, size_t size)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i + nlen <= len; i++) {
        if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') &&
            memcmp(line + i, name, nlen) == 0) {
            size_t j = i + nlen, k = 0;
            while (j < len && line[j] && strchr(allowed, line[j]) && k + 1 < size)
                out[k++] = line[j++];
            out[k] = '\0';
            return k > 0;
        }
    }
    return false;
}

/* Whether s is 64 lower-case hex digits. */
static bool is_hash(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int audit_anchor_parse(const char *text, size_t len, const char *name, struct audit_anchor *out,
                       size_t max, struct qloop_error *err)
{
    size_t found = 0;
    int lineno = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        const char *line = text + i;
        size_t llen = e - i;
        /* The anchor may stand inside other text (a mail, a report): from
         * the word on. */
        const char *w = NULL;
        for (size_t k = 0; k + strlen(ANCHOR_WORD) <= llen; k++)
            if (memcmp(line + k, ANCHOR_WORD, strlen(ANCHOR_WORD)) == 0) {
                w = line + k;
                break;
            }
        if (w) {
            size_t wlen = llen - (size_t)(w - line);
            struct audit_anchor a = {0};
            char seq[32];
            char *end = NULL;
            char hash[80];
            bool ok = anchor_field(w, wlen, "seq=", "0123456789", seq, sizeof seq) &&
                      anchor_field(w, wlen, "hash=", "0123456789abcdef", hash, sizeof hash) &&
                      is_hash(hash);
            snprintf(a.hash, sizeof a.hash, "%s", ok ? hash : "");
            if (ok) {
                a.seq = strtoll(seq, &end, 10);
                ok = *end == '\0' && a.seq >= 0;
            }
            if (!ok)
                return qloop_error_set(err, name, lineno, 0,
                                       "锚点行格式不对；应为 qloop audit anchor 打印的一行："
                                       ANCHOR_WORD " seq=N hash=64位十六进制 at=时间");
            if (!anchor_field(w, wlen, "at=", "0123456789-:T+Z.", a.at, sizeof a.at) ||
                strcmp(a.at, "-") == 0)
                a.at[0] = '\0';
            if (found < max)
                out[found] = a;
            found++;
        }
        i = e + 1;
    }
    if (found == 0)
        return qloop_error_set(err, name, 0, 0,
                               "文件中没有审计链锚点；锚点是 qloop audit anchor 打印的一行（"
                               ANCHOR_WORD " seq=... hash=...），请把它原样保存在该文件中");
    return (int)(found < max ? found : max);
}

int audit_anchor_check(sqlite3 *db, const struct audit_anchor *a, char *why, size_t whysize,
                       struct qloop_error *err)
{
    if (a->seq == 0) /* every chain extends the empty one */
        return 0;
    sqlite3_stmt *st = sql_prepare(db, "SELECT hash, at FROM audit WHERE seq = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a->seq);
    int rc = sql_row(db, st, "读取审计记录", err);
    char hash[65] = "", at[32] = "";
    if (rc == 1) {
        sql_copy(st, 0, hash, sizeof hash);
        sql_copy(st, 1, at, sizeof at);
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        snprintf(why, whysize,
                 "锚点第 %lld 条已不在审计链中（链比锚点短）：锚点之后的记录被删除，或数据库被换成了更早的副本",
                 (long long)a->seq);
        return 1;
    }
    if (strcmp(hash, a->hash) != 0 || (a->at[0] && strcmp(at, a->at) != 0)) {
        snprintf(why, whysize,
                 "第 %lld 条与锚点不符（锚点 %.16s…，现为 %.16s…）：锚点之前的记录被改写过"
                 "（能这样改写的人同时拥有数据库和密钥文件）",
                 (long long)a->seq, a->hash, hash);
        return 1;
    }
    return 0;
}
