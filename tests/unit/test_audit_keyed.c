/*
 * test_audit_keyed.c — the keyed audit chain across the upgrade and around
 * it: a store written by a qloop without the key (SHA-256 entries, tickets,
 * a calendar file beside it) is upgraded once: its entries keep verifying as
 * written, the keyed start binds the last of them, one baseline per ticket,
 * the calendar file imported; the replay agrees with the tickets; tampering
 * with the legacy part before or after the upgrade is found; an upgrade
 * without the key file leaves the store as it was. Also the anchors (parsed
 * out of surrounding text, checked against the chain) and the calendar
 * loads checked against their audit entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/replay.h"
#include "store/audit.h"
#include "store/calendar_loads.h"
#include "store/key.h"
#include "store/schema.h"
#include "store_helpers.h"

#define NOW "2024-09-27T10:00:00+08:00"
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
enum { LEGACY = 12 };

static int setup(void **state)
{
    (void)state;
    unsetenv("QLOOP_KEY_FILE");
    set_now(NOW);
    return test_dir_make("akeyed");
}

static int teardown(void **state)
{
    (void)state;
    return test_dir_remove();
}


/* Writes a store as a qloop without the key left it: the release-0.1 schema
 * (steps 1-4), LEGACY SHA-256 entries about three tickets, and a calendar
 * file beside it. cut: entries removed from the end afterwards, the head
 * left where it was (tampering before the upgrade). */
static void write_legacy_store(const char *path, int cut)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int v = 0; v < 4; v++)
        exec(db, "%s", store_steps[v].sql);
    exec(db, "INSERT INTO meta VALUES('secret', '%s'); PRAGMA user_version = 4;", ZERO_HASH);
    static const char *const states[] = {"feedback", "corrected", "shared"};
    for (int t = 1; t <= 3; t++)
        exec(db,
             "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at,"
             " opened_by, received_at, deadline) VALUES(%d, 'people', 'people.r%d', 'run',"
             " '市公安局', '%s', 'ningbo', '" NOW "', 'system', '" NOW "',"
             " '2024-10-10T23:59:59+08:00')",
             t, t, states[t - 1]);
    char prev[65] = ZERO_HASH, h[65];
    for (int seq = 1; seq <= LEGACY; seq++) {
        char subject[32], detail[128];
        snprintf(subject, sizeof subject, "ticket:%d", seq % 3 + 1);
        snprintf(detail, sizeof detail, "{\"ticket\":%d,\"event\":\"feedback\",\"to\":\"feedback\"}",
                 seq % 3 + 1);
        audit_entry_hash(seq, NOW, "ticket.transition", subject, "张三", detail, prev, h);
        exec(db, "INSERT INTO audit VALUES(%d, '" NOW "', 'ticket.transition', %Q, '张三', %Q, %Q, %Q)",
             seq, subject, detail, prev, h);
        exec(db, "UPDATE audit_head SET seq = %d, hash = %Q", seq, h);
        memcpy(prev, h, sizeof prev);
    }
    if (cut > 0)
        exec(db, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > %d", LEGACY - cut);
    sqlite3_close(db);
    char cal[512];
    snprintf(cal, sizeof cal, "%s.calendar", path);
    FILE *f = fopen(cal, "w");
    fputs("year 2030\n2030-01-07 off 测试\n", f);
    fclose(f);
}

/* verify: rc, and bad/why in the outputs. */
static int verify(sqlite3 *db, int64_t *n, int64_t *bad, char why[512])
{
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, n, bad, why, 512, &err);
    if (rc < 0)
        fail_msg("audit_verify: %s", err.message);
    return rc;
}

static void expect_broken(sqlite3 *db, int64_t seq, const char *part)
{
    int64_t n, bad;
    char why[512];
    if (verify(db, &n, &bad, why) != 1 || bad != seq || !strstr(why, part))
        fail_msg("want broken at %lld with \"%s\", got at %lld: \"%s\"", (long long)seq, part,
                 (long long)bad, why);
}

static void test_upgrade(void **state)
{
    (void)state;
    const char *path = test_dir_path("legacy.db");
    write_legacy_store(path, 0);
    sqlite3 *db = db_open_at(path);
    int64_t n, bad, from;
    char why[512];
    struct qloop_error err;
    assert_int_equal(verify(db, &n, &bad, why), 0);
    /* legacy + the keyed start + 3 baselines + the calendar import */
    assert_int_equal(n, LEGACY + 1 + 3 + 1);
    assert_int_equal(audit_keyed_from(db, &from, &err), 0);
    assert_int_equal(from, LEGACY + 1);
    assert_string_equal(q_text(db, "SELECT kind FROM audit WHERE seq = %d", LEGACY + 1), "audit.keyed");
    assert_string_equal(q_text(db, "SELECT json_extract(detail, '$.legacy_entries') FROM audit"
                                   " WHERE seq = %d", LEGACY + 1), "12");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'ticket.baseline'"), 3);
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE kind = 'ticket.baseline'"
                                   " AND subject = 'ticket:2'"),
                        "{\"ticket\":2,\"state\":\"corrected\",\"deadline\":"
                        "\"2024-10-10T23:59:59+08:00\",\"dept\":\"市公安局\"}");
    /* The legacy entries are as they were: SHA-256. */
    char h[65];
    audit_entry_hash(1, NOW, "ticket.transition", "ticket:2", "张三",
                     "{\"ticket\":2,\"event\":\"feedback\",\"to\":\"feedback\"}", ZERO_HASH, h);
    assert_string_equal(q_text(db, "SELECT hash FROM audit WHERE seq = 1"), h);
    /* The calendar file: one load, on the chain. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM calendar_loads"), 1);
    assert_non_null(strstr(q_text(db, "SELECT notices FROM calendar_loads"), "2030-01-07 off"));
    assert_int_equal(store_calendar_verify(db, why, 512, &err), 0);
    int64_t t, checked;
    assert_int_equal(ticket_replay(db, &t, &checked, why, 512, &err), 0);
    assert_int_equal(checked, 3);
    store_close(db);
    /* Opened again: nothing is written twice. */
    db = db_open_at(path);
    assert_int_equal(verify(db, &n, &bad, why), 0);
    assert_int_equal(n, LEGACY + 5);
    store_close(db);
}

/* A legacy entry changed after the upgrade: found there. Changed and the
 * legacy chain rehashed (SHA-256 needs no key): the keyed start, which binds
 * the last legacy hash, gives it away. */
static void test_legacy_tampered_after(void **state)
{
    (void)state;
    const char *path = test_dir_path("after.db");
    write_legacy_store(path, 0);
    sqlite3 *db = db_open_at(path);
    exec(db, "DROP TRIGGER audit_no_update");
    exec(db, "UPDATE audit SET actor = '李四' WHERE seq = 2");
    expect_broken(db, 2, "第 2 条记录内容被修改（哈希不符）");
    /* Rehash 2..LEGACY as the attacker can. */
    char prev[65];
    snprintf(prev, sizeof prev, "%s", q_text(db, "SELECT hash FROM audit WHERE seq = 1"));
    for (int seq = 2; seq <= LEGACY; seq++) {
        char h[65];
        audit_entry_hash(seq, NOW, "ticket.transition",
                         q_text(db, "SELECT subject FROM audit WHERE seq = %d", seq),
                         q_text(db, "SELECT actor FROM audit WHERE seq = %d", seq),
                         q_text(db, "SELECT detail FROM audit WHERE seq = %d", seq), prev, h);
        exec(db, "UPDATE audit SET prev_hash = %Q, hash = %Q WHERE seq = %d", prev, h, seq);
        memcpy(prev, h, sizeof prev);
    }
    expect_broken(db, LEGACY, "第 12 条记录被修改后重算了哈希（与第 13 条登记的前一哈希不符）");
    store_close(db);
}

/* Entries cut before the upgrade, the head left: the upgrade goes through
 * and records it; verify names it at the keyed start ever after. */
static void test_legacy_tampered_before(void **state)
{
    (void)state;
    const char *path = test_dir_path("before.db");
    write_legacy_store(path, 2);
    sqlite3 *db = db_open_at(path);
    expect_broken(db, LEGACY - 1, "升级时旧审计链已不完整：链头登记为第 12 条，现存旧记录只到第 10 条");
    store_close(db);
}

/* A store already bound to a key file (by the qloop that made key files)
 * whose file is gone: the upgrade needs it, stops with exit 2 and leaves the
 * store as it was. */
static void test_upgrade_needs_key(void **state)
{
    (void)state;
    const char *path = test_dir_path("nokey.db");
    write_legacy_store(path, 0);
    /* Bind it the way store/key.c does, then lose the file. */
    char key[512];
    snprintf(key, sizeof key, "%s.key", path);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    exec(raw, "INSERT INTO meta VALUES('key_check', '%s')", ZERO_HASH);
    sqlite3_close(raw);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_null(store_open(path, &err));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INPUT);
    assert_non_null(strstr(err.message, "升级数据库需要它的密钥文件"));
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(q_int(raw, "PRAGMA user_version"), 4);
    assert_int_equal(q_int(raw, "SELECT count(*) FROM audit"), LEGACY);
    sqlite3_close(raw);
    assert_int_equal(access(key, F_OK), -1);
}

/* Anchors: found inside other text, several per file, malformed ones named
 * by line; a chain that still extends them passes, one rewritten before them
 * does not. */
static void test_anchors(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(test_dir_path("anchors.db"));
    struct qloop_error err;
    struct audit_anchor a0, a, got[4];
    assert_int_equal(audit_anchor_take(db, &a0, &err), 0);
    assert_int_equal(a0.seq, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(audit_append(db, "run.start", "run:x", "system", "{}", &err), 0);
    assert_int_equal(audit_anchor_take(db, &a, &err), 0);
    assert_int_equal(a.seq, 5);
    assert_string_equal(a.at, NOW);
    char line[256], text[1024];
    audit_anchor_format(&a, line, sizeof line);
    assert_non_null(strstr(line, "qloop-audit-anchor seq=5 hash="));
    char l0[256];
    audit_anchor_format(&a0, l0, sizeof l0);
    snprintf(text, sizeof text, "致领导：\n本年度审计链锚点：%s。\n%s\n此致\n", line, l0);
    assert_int_equal(audit_anchor_parse(text, strlen(text), "mail.txt", got, 4, &err), 2);
    assert_int_equal(got[0].seq, 5);
    assert_string_equal(got[0].hash, a.hash);
    assert_string_equal(got[0].at, NOW);
    assert_int_equal(got[1].seq, 0);
    assert_int_equal(got[1].at[0], '\0');
    char why[512];
    for (int i = 0; i < 2; i++)
        assert_int_equal(audit_anchor_check(db, &got[i], why, sizeof why, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(audit_append(db, "run.end", "run:x", "system", "{}", &err), 0);
    assert_int_equal(audit_anchor_check(db, &got[0], why, sizeof why, &err), 0);
    /* A different hash at seq 5, or a seq past the end. */
    struct audit_anchor other = got[0];
    other.hash[0] = other.hash[0] == 'a' ? 'b' : 'a';
    assert_int_equal(audit_anchor_check(db, &other, why, sizeof why, &err), 1);
    assert_non_null(strstr(why, "第 5 条与锚点不符"));
    other = got[0];
    other.seq = 99;
    assert_int_equal(audit_anchor_check(db, &other, why, sizeof why, &err), 1);
    assert_non_null(strstr(why, "已不在审计链中"));
    /* Malformed: file and line. */
    const char *bad = "ok\nqloop-audit-anchor seq=5 hash=xyz\n";
    assert_int_equal(audit_anchor_parse(bad, strlen(bad), "a.txt", got, 4, &err), -1);
    assert_string_equal(err.file, "a.txt");
    assert_int_equal(err.line, 2);
    assert_int_equal(audit_anchor_parse("nothing here", 12, "b.txt", got, 4, &err), -1);
    assert_non_null(strstr(err.message, "没有审计链锚点"));
    store_close(db);
}

/* The calendar loads against their entries: changed, removed, or added
 * behind qloop's back. */
static void test_calendar_loads(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(test_dir_path("cal.db"));
    struct qloop_error err;
    int years[] = {2027};
    int64_t id;
    const char *text = "year 2027\n2027-01-01 off 元旦\n";
    assert_int_equal(store_calendar_add(db, text, strlen(text), "2027.txt", "张三", years, 1, &id,
                                        &err), 0);
    assert_int_equal(id, 1);
    assert_string_equal(q_text(db, "SELECT json_extract(detail, '$.years') FROM audit"
                                   " WHERE kind = 'calendar.load'"), "[2027]");
    char why[512];
    assert_int_equal(store_calendar_verify(db, why, sizeof why, &err), 0);
    exec(db, "DROP TRIGGER calendar_loads_no_update; DROP TRIGGER calendar_loads_no_delete;"
             "UPDATE calendar_loads SET notices = 'year 2027'");
    assert_int_equal(store_calendar_verify(db, why, sizeof why, &err), 1);
    assert_non_null(strstr(why, "第 1 次加载的内容与审计记录不符"));
    exec(db, "DELETE FROM calendar_loads");
    assert_int_equal(store_calendar_verify(db, why, sizeof why, &err), 1);
    assert_non_null(strstr(why, "第 1 次加载已从数据库中删除"));
    exec(db, "INSERT INTO calendar_loads VALUES(1, '" NOW "', 'x', 'x', 'x', %Q)", text);
    exec(db, "INSERT INTO calendar_loads VALUES(2, '" NOW "', 'x', 'x', 'x', %Q)", text);
    assert_int_equal(store_calendar_verify(db, why, sizeof why, &err), 1);
    assert_non_null(strstr(why, "第 2 次加载没有审计记录"));
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade),          cmocka_unit_test(test_legacy_tampered_after),
        cmocka_unit_test(test_legacy_tampered_before), cmocka_unit_test(test_upgrade_needs_key),
        cmocka_unit_test(test_anchors),          cmocka_unit_test(test_calendar_loads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
