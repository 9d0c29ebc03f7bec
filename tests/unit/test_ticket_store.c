/*
 * test_ticket_store.c — what the closed loop reports when the store fails.
 * A failure the user can fix — a full disk (PRAGMA max_page_count held at
 * the store's size), a read-only store (a second connection opened
 * SQLITE_OPEN_READONLY) — is an input error (exit 2) whose message says what
 * to do; any other database failure — a trigger that RAISEs, a table gone —
 * is internal (exit 3), never an input error. Each failed action leaves the
 * store as it was once the caller rolls back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_helpers.h"
#include "ticket_helpers.h"

#include "base/error.h"
#include "store/key.h"

/* What a failed action must leave as it was. */
struct before {
    int64_t history, audits;
};

static struct before counted(sqlite3 *db)
{
    struct before b = {q_int(db, "SELECT count(*) FROM ticket_history"),
                       q_int(db, "SELECT count(*) FROM audit")};
    return b;
}

/* Puts one run ticket (#1, in feedback) and one filed ticket (#2, in
 * feedback) into db on 2024-09-27; the clock moves to the next day. */
static struct before two_tickets(sqlite3 *db, const struct qloop_policy *p)
{
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", p);
    file_report(db, "firms", "F1", p);
    set_now("2024-09-28T10:00:00+08:00");
    return counted(db);
}

/* The actions a person takes on ticket id (in feedback), by number; the
 * last files a report. */
enum { NACTIONS = 4 };
static int action(sqlite3 *db, int k, int64_t id, const struct qloop_policy *p,
                  struct qloop_error *err)
{
    struct ticket_report r = {.dataset = "firms", .key = "F9", .message = "名称错误",
                              .actor = "窗口人员"};
    switch (k) {
    case 0:
        return ticket_resolve(db, id, "rectified", "李四", "已更正", err);
    case 1:
        return ticket_extend(db, id, "2024-10-20", "数据量大", "李四", p, err);
    case 2:
        return ticket_resolve(db, id, "negotiated", "李四", NULL, err);
    case 3:
        return ticket_file(db, &r, "file", p, NULL, NULL, err);
    default:
        fail_msg("no action %d", k);
        return -3;
    }
}

/* Expects rc -2 with an error of kind and a message holding part; the
 * caller's transaction rolled back, the store is as before b. */
static void expect_failure(sqlite3 *db, int rc, const struct qloop_error *err,
                           enum qloop_error_kind kind, const char *part, struct before b)
{
    if (rc != -2)
        fail_msg("rc %d, expected -2 (store failure): %s", rc, err->message);
    if (err->kind != kind)
        fail_msg("kind %d, expected %d: %s", err->kind, kind, err->message);
    if (!strstr(err->message, part))
        fail_msg("message lacks \"%s\": %s", part, err->message);
    store_rollback(db);
    struct before now = counted(db);
    assert_int_equal(now.history, b.history);
    assert_int_equal(now.audits, b.audits);
}

static void test_full_disk_is_input(void **state)
{
    (void)state;
    /* A store of 4 KiB pages (a new one has 16 KiB pages: the answer's
     * reason, up to 2 KiB of the note below, would fit beside what they
     * hold, and nothing would need a new page). */
    char path[] = "/tmp/qloop-ticket-store.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA page_size = 4096; VACUUM", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA page_size"), 4096);
    struct qloop_policy p = ningbo();
    struct before b = two_tickets(db, &p);
    /* A page-sized note, and no page left to grow into (nor a free one
     * inside: the schema's steps drop tables, which frees their pages). */
    char note[8192];
    memset(note, 'x', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    exec(db, "VACUUM");
    exec(db, "PRAGMA max_page_count = %lld", (long long)q_int(db, "PRAGMA page_count"));
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(store_begin(db, &err), 0);
    int rc = ticket_resolve(db, 1, "rectified", "李四", note, &err);
    expect_failure(db, rc, &err, QLOOP_ERR_INPUT, "磁盘已满", b);
    assert_non_null(strstr(err.message, "请腾出空间"));
    assert_string_equal(state_of(db, 1), "feedback");

    /* A run's sync on a full store: input too (the run exits 2, not 3). */
    exec(db, "PRAGMA max_page_count = 1000000");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r2',"
             " '2024-09-28T10:00:00+08:00', '2024-09-28T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, dimension, severity, checked,"
             " failed, errors) VALUES('r2', 'people.name', 'people', 'completeness', 'high',"
             " 400, 400, 0)");
    exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)"
             " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, value,"
             " message) SELECT 'r2', 'people', 'people.name', i, printf('%%032d', i),"
             " printf('K%%d', i), printf('%%0200d', i), '姓名为空' FROM n");
    b = counted(db);
    exec(db, "VACUUM");
    exec(db, "PRAGMA max_page_count = %lld", (long long)q_int(db, "PRAGMA page_count"));
    assert_int_equal(store_begin(db, &err), 0);
    struct ticket_sync_counts c;
    qloop_error_clear(&err);
    assert_int_equal(ticket_sync_run_policy(db, "r2", &p, &c, &err), -1);
    expect_failure(db, -2, &err, QLOOP_ERR_INPUT, "磁盘已满", b);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 2);
    store_close(db);
    remove_store(path);
}

static void test_read_only_is_input(void **state)
{
    (void)state;
    char path[] = "/tmp/qloop-ticket-store.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = store_open(path, &err);
    if (!db)
        fail_msg("store_open: %s", err.message);
    struct qloop_policy p = ningbo();
    struct before b = two_tickets(db, &p);

    /* The writer stays open, so the read-only connection finds the WAL index. */
    sqlite3 *ro = NULL;
    assert_int_equal(sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_extended_result_codes(ro, 1);
    /* The store's key, as store_open finds it (a report is sealed first). */
    assert_int_equal(store_key_attach(ro, &err), 0);
    for (int k = 0; k < NACTIONS; k++) {
        qloop_error_clear(&err);
        int rc = action(ro, k, 1, &p, &err);
        expect_failure(ro, rc, &err, QLOOP_ERR_INPUT, "不可写", b);
        assert_non_null(strstr(err.message, "请检查权限"));
        assert_non_null(strstr(err.file, "qloop-ticket-store"));
    }
    /* Reading works. */
    json_t *list = NULL;
    assert_int_equal(ticket_list_json(ro, NULL, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    audit_forget(ro);
    store_key_forget(ro);
    sqlite3_close(ro);
    assert_string_equal(state_of(db, 1), "feedback");
    store_close(db);
    remove_store(path);
}

/* Makes every insert into table fail inside the store (a trigger that
 * RAISEs), replacing the previous injection; table NULL: none. */
static void inject(sqlite3 *db, const char *table)
{
    exec(db, "DROP TRIGGER IF EXISTS inject");
    if (table)
        exec(db, "CREATE TEMP TRIGGER inject BEFORE INSERT ON %s"
                 " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
             table);
}

/* Action k on ticket id inside a transaction, expected to fail as internal. */
static void internal_failure(sqlite3 *db, int k, int64_t id, const struct qloop_policy *p,
                             struct before b)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(store_begin(db, &err), 0);
    int rc = action(db, k, id, p, &err);
    expect_failure(db, rc, &err, QLOOP_ERR_INTERNAL, "injected failure", b);
}

static void test_injected_failure_is_internal(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct before b = two_tickets(db, &p);
    struct qloop_error err;

    /* Every action that writes history fails inside the store. */
    inject(db, "ticket_history");
    for (int k = 0; k < NACTIONS - 1; k++)
        internal_failure(db, k, 1, &p, b);
    /* The audit chain refusing an entry. */
    inject(db, "audit");
    internal_failure(db, 0, 1, &p, b);
    /* Filing: the item insert fails. */
    inject(db, "ticket_item_rows");
    internal_failure(db, 3, 0, &p, b);

    /* A run's sync: internal, and the run is not said to be missing. */
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r2',"
             " '2024-09-28T10:00:00+08:00', '2024-09-28T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key)"
             " VALUES('r2', 'shops', 'shops.phone', 2, 'ref-s1', 'S1')");
    qloop_error_clear(&err);
    assert_int_equal(store_begin(db, &err), 0);
    struct ticket_sync_counts c;
    assert_int_equal(ticket_sync_run_policy(db, "r2", &p, &c, &err), -1);
    expect_failure(db, -2, &err, QLOOP_ERR_INTERNAL, "injected failure", b);
    inject(db, NULL);
    exec(db, "ALTER TABLE runs RENAME TO runs_gone");
    qloop_error_clear(&err);
    assert_int_equal(ticket_sync_run_policy(db, "r2", &p, &c, &err), -1);
    assert_int_equal(err.kind, QLOOP_ERR_INTERNAL);
    assert_null(strstr(err.message, "不在数据库中"));
    exec(db, "ALTER TABLE runs_gone RENAME TO runs");

    /* Reading: a table gone is internal; a ticket that is not there is input. */
    exec(db, "ALTER TABLE ticket_history RENAME TO history_gone");
    json_t *show = NULL;
    qloop_error_clear(&err);
    assert_int_equal(ticket_show_json(db, 1, &show, &err), -2);
    assert_int_equal(err.kind, QLOOP_ERR_INTERNAL);
    exec(db, "ALTER TABLE history_gone RENAME TO ticket_history");
    qloop_error_clear(&err);
    assert_int_equal(ticket_show_json(db, 99, &show, &err), -1);
    assert_int_equal(err.kind, QLOOP_ERR_INPUT);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_is_input),
        cmocka_unit_test(test_read_only_is_input),
        cmocka_unit_test(test_injected_failure_is_internal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
