/*
 * test_audit.c — the audit chain on an in-memory SQLite database.
 *
 * Appends entries through audit_append, checks that verify accepts the
 * whole chain, then plays the attacker who has the file: drops the
 * append-only triggers and changes, removes, reorders, swaps or forges
 * entries; each must be found at the right seq. Also: the triggers refuse
 * UPDATE and DELETE, bad detail is refused (audit_append_built, for a
 * detail qloop wrote itself, skips only that check), the hash is the
 * documented canonical encoding, and appends join the caller's transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_helpers.h"

#include "base/sha256.h"
#include "store/audit.h"
#include "store/key.h"
#include "store/store.h"

#define NOW "2024-09-27T10:00:00+08:00"
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
enum { N = 20 };

/* Runs sql expecting failure; returns SQLite's message (static copy). */
static const char *exec_fails(sqlite3 *db, const char *sql)
{
    static char last[256];
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    assert_int_not_equal(rc, SQLITE_OK);
    snprintf(last, sizeof last, "%s", msg ? msg : "");
    sqlite3_free(msg);
    return last;
}

/* The MAC entry seq must carry: what an insider with the store's key file
 * computes (the attacks without the key are in test_audit_keyed.c and
 * tests/e2e/audit_attacks.sh). The diagnostics below are tested with it,
 * since without the key every changed entry already fails its own MAC. */
static void entry_mac(sqlite3 *db, int64_t seq, const char *at, const char *kind,
                      const char *subject, const char *actor, const char *detail,
                      const char *prev, char out[65])
{
    unsigned char key[STORE_SUBKEY_BYTES];
    struct qloop_error err;
    if (store_key(db, STORE_KEY_AUDIT, key, &err) != 0)
        fail_msg("store_key: %s", err.message);
    audit_entry_mac(key, seq, at, kind, subject, actor, detail, prev, out);
}

/* A fresh in-memory store with the audit schema and n entries: entry i has
 * kind ticket.transition, subject ticket:i, actor user-i, detail {"i": i}. */
static sqlite3 *make_db(int n)
{
    sqlite3 *db = db_open();
    for (int i = 1; i <= n; i++) {
        char subject[32], actor[32], detail[64];
        snprintf(subject, sizeof subject, "ticket:%d", i);
        snprintf(actor, sizeof actor, "user-%d", i);
        snprintf(detail, sizeof detail, "{\"i\": %d, \"to\": \"feedback\"}", i);
        struct qloop_error err;
        qloop_error_clear(&err);
        if (audit_append(db, "ticket.transition", subject, actor, detail, &err) != 0)
            fail_msg("audit_append %d: %s", i, err.message);
    }
    return db;
}

/* What an attacker with the file does first. */
static void drop_triggers(sqlite3 *db)
{
    exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
                "DROP TRIGGER audit_head_no_delete; DROP TRIGGER audit_head_follows;");
}

/* Asserts verify finds the chain whole with count entries. */
static void expect_ok(sqlite3 *db, int64_t count)
{
    int64_t n = -1, bad = -1;
    char why[512];
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, &n, &bad, why, sizeof why, &err);
    if (rc != 0)
        fail_msg("verify rc=%d bad=%lld why=%s err=%s", rc, (long long)bad, why, err.message);
    assert_int_equal(n, count);
}

/* Asserts verify reports the chain broken at seq with why containing part. */
static void expect_broken(sqlite3 *db, int64_t seq, const char *part)
{
    int64_t n = -1, bad = -1;
    char why[512];
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, &n, &bad, why, sizeof why, &err);
    if (rc != 1)
        fail_msg("verify rc=%d (want 1), err=%s", rc, err.message);
    if (bad != seq)
        fail_msg("broken at %lld, want %lld: %s", (long long)bad, (long long)seq, why);
    if (!strstr(why, part))
        fail_msg("why \"%s\" lacks \"%s\"", why, part);
}

static int setup(void **state)
{
    (void)state;
    setenv("QLOOP_NOW", NOW, 1);
    return 0;
}

/* Appended entries form the chain: seq 1..n, prev_hash links, the time from
 * QLOOP_NOW, audit_head at the last entry; verify says ok n. */
static void test_append_and_verify(void **state)
{
    (void)state;
    sqlite3 *db = make_db(0);
    expect_ok(db, 0);
    audit_forget(db);
    store_close(db);

    db = make_db(N);
    expect_ok(db, N);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), N);
    assert_int_equal(q_int(db, "SELECT min(seq) FROM audit"), 1);
    assert_int_equal(q_int(db, "SELECT max(seq) FROM audit"), N);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE at = '" NOW "'"), N);
    assert_string_equal(q_text(db, "SELECT prev_hash FROM audit WHERE seq = 1"), ZERO_HASH);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit a JOIN audit b ON b.seq = a.seq + 1"
                                   " WHERE b.prev_hash = a.hash"),
                     N - 1);
    assert_int_equal(q_int(db, "SELECT count(DISTINCT hash) FROM audit"), N);
    assert_int_equal(q_int(db, "SELECT seq FROM audit_head"), N);
    assert_string_equal(q_text(db, "SELECT hash FROM audit_head"),
                        q_text(db, "SELECT hash FROM audit WHERE seq = 20"));
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE seq = 3"),
                        "{\"i\": 3, \"to\": \"feedback\"}");

    /* NULL detail is stored as {}. */
    struct qloop_error err;
    assert_int_equal(audit_append(db, "run.start", "run:x", "system", NULL, &err), 0);
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE seq = 21"), "{}");
    expect_ok(db, N + 1);
    audit_forget(db);
    store_close(db);
}

/* The hash is SHA-256 of the documented encoding, built here by hand. */
static void test_canonical_encoding(void **state)
{
    (void)state;
    const char *fields[6] = {NOW, "ticket.transition", "ticket:1", "张三", "{\"a\":1}", ZERO_HASH};
    unsigned char enc[512];
    size_t n = 0;
    uint64_t seq = 7;
    for (int i = 0; i < 8; i++)
        enc[n++] = (unsigned char)(seq >> (56 - 8 * i));
    for (int f = 0; f < 6; f++) {
        uint64_t len = strlen(fields[f]);
        for (int i = 0; i < 8; i++)
            enc[n++] = (unsigned char)(len >> (56 - 8 * i));
        memcpy(enc + n, fields[f], len);
        n += len;
    }
    uint8_t d[32];
    char want[65], got[65];
    qloop_sha256(enc, n, d);
    qloop_hex(d, 32, want);
    audit_entry_hash(7, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], got);
    assert_string_equal(got, want);

    /* Moving a byte across a field boundary changes the hash. */
    char other[65];
    audit_entry_hash(7, NOW, "ticket.transitio", "nticket:1", "张三", "{\"a\":1}", ZERO_HASH, other);
    assert_string_not_equal(got, other);
    /* So does the seq. */
    audit_entry_hash(8, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], other);
    assert_string_not_equal(got, other);
}

/* Bad arguments are refused with a Chinese message and write nothing. */
static void test_bad_input(void **state)
{
    (void)state;
    sqlite3 *db = make_db(2);
    struct qloop_error err;
    static const char *bad_details[] = {"[1, 2]", "\"text\"", "{\"a\": 1", "", "{\"a\":1,\"a\":2}",
                                        "42", "{} {}"};
    for (size_t i = 0; i < sizeof bad_details / sizeof bad_details[0]; i++) {
        qloop_error_clear(&err);
        assert_int_equal(audit_append(db, "ticket.transition", "ticket:1", "u", bad_details[i], &err),
                         -1);
        assert_non_null(strstr(err.message, "detail"));
        assert_non_null(strstr(err.message, "JSON"));
    }
    qloop_error_clear(&err);
    assert_int_equal(audit_append(db, "", "ticket:1", "u", "{}", &err), -1);
    assert_non_null(strstr(err.message, "kind"));
    assert_int_equal(audit_append(db, "k", NULL, "u", "{}", &err), -1);
    assert_non_null(strstr(err.message, "subject"));
    assert_int_equal(audit_append(db, "k", "s", "", "{}", &err), -1);
    assert_non_null(strstr(err.message, "actor"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 2);
    expect_ok(db, 2);
    audit_forget(db);
    store_close(db);
}

/* audit_append_built (a detail qloop wrote itself, not parsed back) stores
 * the detail as given, in the same chain as audit_append's entries, and
 * still refuses a missing kind, subject or actor. */
static void test_append_built(void **state)
{
    (void)state;
    sqlite3 *db = make_db(2);
    struct qloop_error err;
    qloop_error_clear(&err);
    static const char detail[] = "{\"ticket\":1,\"change\":\"added\",\"count\":1,"
                                 "\"items\":[[1,\"0123456789abcdef0123456789abcdef\"]]}";
    assert_int_equal(audit_append_built(db, "ticket.item", "ticket:1", "system", detail, &err), 0);
    assert_int_equal(audit_append(db, "ticket.item", "ticket:1", "system", detail, &err), 0);
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE seq = 3"), detail);
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE seq = 4"), detail);
    assert_int_equal(audit_append_built(db, "", "ticket:1", "system", "{}", &err), -1);
    assert_non_null(strstr(err.message, "kind"));
    assert_int_equal(audit_append_built(db, "k", "s", NULL, "{}", &err), -1);
    assert_non_null(strstr(err.message, "actor"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 4);
    expect_ok(db, 4);
    audit_forget(db);
    store_close(db);
}

/* The triggers refuse UPDATE and DELETE of entries and keep audit_head at
 * the real last entry. */
static void test_triggers_refuse(void **state)
{
    (void)state;
    sqlite3 *db = make_db(3);
    assert_non_null(strstr(exec_fails(db, "UPDATE audit SET detail = '{}' WHERE seq = 2"),
                           "audit is append-only"));
    assert_non_null(strstr(exec_fails(db, "DELETE FROM audit WHERE seq = 3"), "audit is append-only"));
    assert_non_null(strstr(exec_fails(db, "DELETE FROM audit"), "audit is append-only"));
    exec_fails(db, "DELETE FROM audit_head");
    exec_fails(db, "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2)");
    exec_fails(db, "UPDATE audit_head SET hash = '" ZERO_HASH "'");
    exec_fails(db, "INSERT INTO audit_head(id, seq, hash) VALUES(2, 0, 'x')");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 3);
    expect_ok(db, 3);
    audit_forget(db);
    store_close(db);
}

static void test_changed_detail(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET detail = '{\"i\": 12, \"to\": \"shared\"}' WHERE seq = 12");
    expect_broken(db, 12, "第 12 条记录内容被修改（密钥校验值不符");
    audit_forget(db);
    store_close(db);

    /* Any one column counts, including the time and the actor. */
    db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET at = '2024-09-26T10:00:00+08:00' WHERE seq = 1");
    expect_broken(db, 1, "第 1 条记录内容被修改");
    audit_forget(db);
    store_close(db);
    db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET actor = 'someone-else' WHERE seq = 20");
    expect_broken(db, 20, "第 20 条记录内容被修改");
    audit_forget(db);
    store_close(db);
}

static void test_forged_hash(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET hash = '" ZERO_HASH "' WHERE seq = 3");
    expect_broken(db, 3, "第 3 条");
    audit_forget(db);
    store_close(db);
}

static void test_deleted_middle(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "DELETE FROM audit WHERE seq = 7");
    expect_broken(db, 7, "第 7 条记录缺失（第 8 条之前的记录缺失或顺序被改动）");
    audit_forget(db);
    store_close(db);

    db = make_db(N);
    drop_triggers(db);
    exec(db, "DELETE FROM audit WHERE seq = 1");
    expect_broken(db, 1, "第 1 条记录缺失");
    audit_forget(db);
    store_close(db);
}

/* Entries cut off the end leave a whole chain: only audit_head tells. */
static void test_deleted_last(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "DELETE FROM audit WHERE seq = 20");
    expect_broken(db, 20, "第 20 条及之后的记录缺失（链头登记共 20 条，现存只到第 19 条）");

    /* And appending is refused until someone looks, so the cut cannot be
     * papered over by the next entry. */
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(audit_append(db, "ticket.transition", "ticket:1", "u", "{}", &err), -1);
    assert_non_null(strstr(err.message, "qloop audit verify"));
    assert_int_equal(q_int(db, "SELECT max(seq) FROM audit"), 19);
    assert_int_equal(q_int(db, "SELECT seq FROM audit_head"), 20);
    audit_forget(db);
    store_close(db);

    /* Everything cut: still found. */
    db = make_db(N);
    drop_triggers(db);
    exec(db, "DELETE FROM audit");
    expect_broken(db, 1, "第 1 条及之后的记录缺失");
    audit_forget(db);
    store_close(db);

    /* An attacker who also moves audit_head back: the head's MAC, which
     * needs the key, gives it away. */
    db = make_db(N);
    drop_triggers(db);
    exec(db, "DELETE FROM audit WHERE seq = 20;"
                "UPDATE audit_head SET seq = 19, hash = (SELECT hash FROM audit WHERE seq = 19)");
    expect_broken(db, 20, "链头登记（第 19 条）的密钥校验值不符");
    audit_forget(db);
    store_close(db);
}

/* Two entries exchange everything but their seq. */
static void test_swapped_entries(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (4, 9);"
                "UPDATE audit SET (at, kind, subject, actor, detail, prev_hash, hash) ="
                " (SELECT at, kind, subject, actor, detail, prev_hash, hash FROM t"
                "  WHERE t.seq = 13 - audit.seq) WHERE seq IN (4, 9);");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE seq = 4 AND subject = 'ticket:9'"),
                     1);
    expect_broken(db, 4, "第 4 条记录被替换或与别的记录调换");
    audit_forget(db);
    store_close(db);
}

/* An entry renumbered to the end: a hole where it was. */
static void test_reordered(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET seq = 100 WHERE seq = 5");
    expect_broken(db, 5, "第 5 条记录缺失（第 6 条之前的记录缺失或顺序被改动）");
    audit_forget(db);
    store_close(db);

    /* Two neighbours exchanged whole, seq included, each rehashed for its
     * new seq: their contents verify, the links do not. */
    db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET seq = -6 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 7;"
                "UPDATE audit SET seq = 7 WHERE seq = -6;");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, at, kind, subject, actor, detail, prev_hash"
                                        " FROM audit WHERE seq IN (6, 7)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    char hashes[2][65];
    int64_t seqs[2];
    int k = 0;
    while (sqlite3_step(st) == SQLITE_ROW && k < 2) {
        const char *c[6];
        for (int i = 0; i < 6; i++)
            c[i] = (const char *)sqlite3_column_text(st, i + 1);
        seqs[k] = sqlite3_column_int64(st, 0);
        entry_mac(db, seqs[k], c[0], c[1], c[2], c[3], c[4], c[5], hashes[k]);
        k++;
    }
    sqlite3_finalize(st);
    assert_int_equal(k, 2);
    for (int i = 0; i < 2; i++)
        exec(db, "UPDATE audit SET hash = %Q WHERE seq = %lld", hashes[i], (long long)seqs[i]);
    expect_broken(db, 6, "第 6 条记录不接在第 5 条之后");
    audit_forget(db);
    store_close(db);
}

/* Recomputes the MAC of entry seq from its (possibly changed) columns, with
 * the key, as an insider would. */
static void rehash(sqlite3 *db, int seq)
{
    static const char *const cols[6] = {"at", "kind", "subject", "actor", "detail", "prev_hash"};
    const char *f[6];
    for (int i = 0; i < 6; i++)
        f[i] = q_text(db, "SELECT %s FROM audit WHERE seq = %d", cols[i], seq);
    char h[65];
    entry_mac(db, seq, f[0], f[1], f[2], f[3], f[4], f[5], h);
    exec(db, "UPDATE audit SET hash = %Q WHERE seq = %d", h, seq);
}

/* Content changed and its hash recomputed to match: the next entry's
 * prev_hash (or audit_head, for the last entry) gives it away. */
static void test_recomputed_hash(void **state)
{
    (void)state;
    sqlite3 *db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET detail = '{\"i\": 5, \"to\": \"shared\"}' WHERE seq = 5");
    rehash(db, 5);
    expect_broken(db, 5, "第 5 条记录被修改后重算了哈希（与第 6 条登记的前一哈希不符）");
    audit_forget(db);
    store_close(db);

    db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET actor = 'x' WHERE seq = 20");
    rehash(db, 20);
    expect_broken(db, 20, "第 20 条记录被修改后重算了哈希（与链头登记的哈希不符）");
    audit_forget(db);
    store_close(db);

    /* The first entry made to point elsewhere and rehashed. */
    db = make_db(N);
    drop_triggers(db);
    exec(db, "UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 20) WHERE seq = 1");
    rehash(db, 1);
    expect_broken(db, 1, "链首值");
    audit_forget(db);
    store_close(db);
}

/* An entry added straight into the table, well chained but not through
 * audit_append, is not in audit_head. */
static void test_appended_outside(void **state)
{
    (void)state;
    sqlite3 *db = make_db(3);
    char h[65];
    const char *prev = q_text(db, "SELECT hash FROM audit WHERE seq = 3");
    entry_mac(db, 4, NOW, "ticket.transition", "ticket:1", "mallory", "{}", prev, h);
    exec(db,
         "INSERT INTO audit VALUES(4, '" NOW "', 'ticket.transition', 'ticket:1', 'mallory',"
         " '{}', %Q, %Q)",
         prev, h);
    expect_broken(db, 4, "第 4 条起的记录未登记在链头");
    audit_forget(db);
    store_close(db);
}

static void test_head_removed(void **state)
{
    (void)state;
    sqlite3 *db = make_db(3);
    drop_triggers(db);
    exec(db, "DELETE FROM audit_head");
    expect_broken(db, 3, "audit_head");
    struct qloop_error err;
    assert_int_equal(audit_append(db, "k", "s", "a", "{}", &err), -1);
    assert_non_null(strstr(err.message, "audit_head"));
    exec(db, "DROP TABLE audit_head");
    expect_broken(db, 0, "audit_head 不存在");
    exec(db, "DROP TABLE audit");
    expect_broken(db, 0, "audit 不存在");
    audit_forget(db);
    store_close(db);
}

/* Appends join the caller's transaction; a failed append leaves the
 * caller's transaction open with its own work intact. */
static void test_caller_transaction(void **state)
{
    (void)state;
    sqlite3 *db = make_db(0);
    struct qloop_error err;
    exec(db, "BEGIN");
    assert_int_equal(audit_append(db, "k", "s", "a", "{}", &err), 0);
    assert_int_equal(audit_append(db, "k", "s", "a", "{}", &err), 0);
    exec(db, "ROLLBACK");
    expect_ok(db, 0);

    exec(db, "BEGIN");
    assert_int_equal(audit_append(db, "k", "s", "a", "{}", &err), 0);
    exec(db, "COMMIT");
    expect_ok(db, 1);

    /* A failure inside the savepoint (head out of step) rolls back only the
     * audit part. */
    drop_triggers(db);
    exec(db, "UPDATE audit_head SET seq = 5");
    exec(db, "CREATE TABLE work(x); BEGIN; INSERT INTO work VALUES(1);");
    assert_int_equal(audit_append(db, "k", "s", "a", "{}", &err), -1);
    assert_int_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM work"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 1);
    exec(db, "COMMIT");
    audit_forget(db);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_verify),
        cmocka_unit_test(test_canonical_encoding),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_append_built),
        cmocka_unit_test(test_triggers_refuse),
        cmocka_unit_test(test_changed_detail),
        cmocka_unit_test(test_forged_hash),
        cmocka_unit_test(test_deleted_middle),
        cmocka_unit_test(test_deleted_last),
        cmocka_unit_test(test_swapped_entries),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_recomputed_hash),
        cmocka_unit_test(test_appended_outside),
        cmocka_unit_test(test_head_removed),
        cmocka_unit_test(test_caller_transaction),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
