/*
 * test_ticket_bulk.c — the index of items by record built in bulk
 * (loop/ticket_items.c, tk_items_unindex / tk_items_reindex, chosen by
 * ticket_sync.c for a run whose fresh findings are many against the items
 * stored and one of whose datasets and rules has more than
 * tk_items_group_in_place): the run's items and audit as before, the
 * store's schema text the same afterwards, the index rebuilt only past
 * both thresholds (a first night of small rules keeps it in place), a second
 * open item of a record still refused by the database (the rebuild fails,
 * with the kind of error the INSERT gave, and a rollback leaves the store
 * as it was), and no drop outside a transaction; past 500,000 items the
 * index sorted with an 8 MiB page cache, the run's cache back afterwards.
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
#include "ticket_helpers.h"

#include "base/buf.h"
#include "loop/ticket_private.h"

/* The store's schema as text, one line per object in name order (its
 * position in sqlite_schema and root page left out). malloc'd. */
static char *schema_text(sqlite3 *db)
{
    return q_rows(db, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY name");
}

/* How many times the index of items by record was dropped since
 * watch_index (an authorizer sees each DROP INDEX prepared). */
static int drops;

static int count_drops(void *ctx, int action, const char *a, const char *b, const char *db,
                       const char *trigger)
{
    (void)ctx, (void)b, (void)db, (void)trigger;
    if (action == SQLITE_DROP_INDEX && a && strcmp(a, "ticket_items_record") == 0)
        drops++;
    return SQLITE_OK;
}

static void watch_index(sqlite3 *db)
{
    drops = 0;
    assert_int_equal(sqlite3_set_authorizer(db, count_drops, NULL), SQLITE_OK);
}

/* Run `run` of rule `rule` on dataset people with n findings of records
 * ref<tag><i>, the records of rows 3 and 5 found twice; not synced. */
static void fresh_findings(sqlite3 *db, const char *run, const char *day, const char *rule,
                           int n)
{
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q,"
             " 'running', '[]')", run, day, day);
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES(%Q, 'people', %d,"
             " '市公安局')", run, n);
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
             " checked, failed, errors, resolve_missing) VALUES(%Q, %Q, 'people', 'phone',"
             " 'normative', 'medium', '手机号格式错误', %d, %d, 0, 0)", run, rule, n, n);
    exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
             " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message)"
             " SELECT %Q, 'people', %Q, i, printf('ref%%s%%06d', %Q, CASE WHEN i > %d THEN"
             " (i - %d) * 2 + 1 ELSE i END), 'K' || i, 'phone', 'v' || i, '手机号格式错误'"
             " FROM k ORDER BY i",
         n + 2, run, rule, rule, n, n);
}

/* The items of run `run` as "rule/ref" in id order, each record once, in
 * the order of its first finding. */
static void items_as_found(sqlite3 *db, const char *run, int n)
{
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE added_run = %Q", run), n);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i JOIN findings f"
                               " ON f.run_id = i.added_run AND f.rule = i.rule"
                               " AND f.record_ref = i.record_ref AND f.row_no = i.row_no"
                               " WHERE i.added_run = %Q AND i.state = 'open'"
                               " AND i.id - (SELECT min(id) FROM ticket_items WHERE added_run = %Q)"
                               " = f.row_no - 1 AND i.value = 'v' || f.row_no",
                           run, run),
                     n);
}

/* A fresh run of many records on an empty store rebuilds the index; one of
 * a new rule with few records against many stored items does not; one with
 * more than half of them does. Each time the schema's text is as it
 * was, the items are those of the findings in order, the index whole and
 * used, and the audit chain holds. */
static void test_fresh_runs_build_index_in_bulk(void **state)
{
    (void)state;
    tk_items_group_in_place = 1000;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    char *schema = schema_text(db);
    static const struct {
        const char *run, *day, *rule;
        int n;
        bool rebuilt;
    } runs[] = {
        {"r1", "2024-09-27T10:00:00+08:00", "people.phone", 3000, true},
        /* 1402 findings < 3000 / 2 + 1 (items stored) */
        {"r2", "2024-09-28T10:00:00+08:00", "people.id", 1400, false},
        /* 2252 findings >= 4400 / 2 + 1 */
        {"r3", "2024-09-29T10:00:00+08:00", "people.name", 2250, true},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        fresh_findings(db, runs[i].run, runs[i].day, runs[i].rule, runs[i].n);
        watch_index(db);
        sync_committed(db, runs[i].run, &p);
        assert_int_equal(drops, runs[i].rebuilt ? 1 : 0);
        char *now = schema_text(db);
        assert_string_equal(now, schema);
        free(now);
        items_as_found(db, runs[i].run, runs[i].n);
        assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    }
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 3);
    /* a record's open item found by the rebuilt index */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT 1 FROM ticket_items i"
                                            " WHERE i.dataset = 'a' AND i.rule = 'b'"
                                            " AND i.record_ref = 'c' AND " TK_ITEM_OPEN_KEY
                                            " = 0",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "ticket_items_record"));
    sqlite3_finalize(st);
    /* the next night finds every item open: nothing added, none twice */
    fresh_findings(db, "r4", "2024-09-30T10:00:00+08:00", "people.phone", 3000);
    sync_committed(db, "r4", &p);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 6650);
    free(schema);
    audit_whole(db);
    store_close(db);
}

/* A first night whose datasets and rules each have no more findings than
 * tk_items_group_in_place keeps the index in place however many they are
 * together (each rule's part of the index is filled in the cache, where a
 * rebuild would sort them all; a rule's size is the count of failing
 * records it reports): nothing dropped, the same items, the index whole;
 * one rule past the bound has it rebuilt. The default bound
 * keeps a night of 3,000 findings in place. */
static void test_small_rules_keep_index(void **state)
{
    (void)state;
    tk_items_group_in_place = TK_ITEMS_GROUP_IN_PLACE;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    fresh_findings(db, "r1", "2024-09-27T10:00:00+08:00", "people.phone", 3000);
    watch_index(db);
    sync_committed(db, "r1", &p);
    assert_int_equal(drops, 0);
    items_as_found(db, "r1", 3000);
    store_close(db);

    tk_items_group_in_place = 1000;
    db = db_open();
    char *schema = schema_text(db);
    static const char *const rules[] = {"people.a", "people.b", "people.c"};
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r1',"
             " '2024-09-27T10:00:00+08:00', '2024-09-27T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES('r1', 'people', 1000,"
             " '市公安局')");
    for (int r = 0; r < 3; r++) {
        exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                 " message, checked, failed, errors, resolve_missing) VALUES('r1', %Q, 'people',"
                 " 'phone', 'normative', 'medium', '手机号格式错误', 1000, 1000, 0, 0)",
             rules[r]);
        /* 1000 findings (records 3 and 5 twice), 1000 failing as the rule
         * reports them: at the bound */
        exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 1000)"
                 " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key,"
                 " field, value, message)"
                 " SELECT 'r1', 'people', %Q, i, printf('ref%%06d', CASE WHEN i > 998 THEN"
                 " (i - 998) * 2 + 1 ELSE i END), 'K' || i, 'phone', 'v' || i, '手机号格式错误'"
                 " FROM k ORDER BY i",
             rules[r]);
    }
    watch_index(db);
    sync_committed(db, "r1", &p);
    assert_int_equal(drops, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 3 * 998);
    /* each rule's items in the order of its findings, the rules in order */
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i JOIN findings f"
                               " ON f.rule = i.rule AND f.record_ref = i.record_ref"
                               " AND f.row_no = i.row_no WHERE i.id = (i.rule > 'people.a')"
                               " * 998 + (i.rule > 'people.b') * 998 + f.row_no"
                               " AND i.value = 'v' || f.row_no"),
                     3 * 998);
    char *now = schema_text(db);
    assert_string_equal(now, schema);
    free(now);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    /* one rule failing 1,600 records (1,602 findings): past the bound, and
     * its findings more than half the 2,994 items stored */
    fresh_findings(db, "r2", "2024-09-28T10:00:00+08:00", "people.d", 1600);
    watch_index(db);
    sync_committed(db, "r2", &p);
    assert_int_equal(drops, 1);
    items_as_found(db, "r2", 1600);
    free(schema);
    audit_whole(db);
    store_close(db);
}

/* What a failed sync must leave untouched. */
struct snapshot {
    char *schema;
    int64_t items, tickets, audit, history;
};

static struct snapshot snap(sqlite3 *db)
{
    return (struct snapshot){schema_text(db), q_int(db, "SELECT count(*) FROM ticket_items"),
                             q_int(db, "SELECT count(*) FROM tickets"),
                             q_int(db, "SELECT count(*) FROM audit"),
                             q_int(db, "SELECT count(*) FROM ticket_history")};
}

/* Syncs run `run` with a second open item of a record slipped in when its
 * ticket goes to the provider (a trigger: what a bug in the loop would
 * do); returns the exit code of the error, the store rolled back and
 * checked to be as before. */
static int sync_with_duplicate(sqlite3 *db, const char *run, const struct qloop_policy *p)
{
    exec(db, "CREATE TEMP TRIGGER dup AFTER UPDATE OF state ON main.tickets"
             " WHEN NEW.state = 'feedback' BEGIN"
             " INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at)"
             " SELECT ticket_id, dataset, rule, record_ref, 'open', added_at FROM ticket_items"
             " WHERE ticket_id = NEW.id ORDER BY id LIMIT 1; END");
    struct snapshot before = snap(db);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(ticket_sync_run_policy(db, run, p, &c, &err), -1);
    assert_non_null(strstr(err.message, "UNIQUE constraint failed"));
    store_rollback(db);
    exec(db, "DROP TRIGGER dup");
    struct snapshot after = snap(db);
    assert_string_equal(after.schema, before.schema);
    assert_int_equal(after.items, before.items);
    assert_int_equal(after.tickets, before.tickets);
    assert_int_equal(after.audit, before.audit);
    assert_int_equal(after.history, before.history);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    free(before.schema);
    free(after.schema);
    return qloop_error_exit(&err);
}

/* A second open item of a record is refused by the database either way:
 * by the INSERT with the index in place (a run of few records on a store
 * of many items), by the rebuild of the index after a fresh run of many —
 * the same kind of error, the run's transaction rolled back, the store as
 * it was; the same runs then go through. */
static void test_duplicate_open_item_refused(void **state)
{
    (void)state;
    tk_items_group_in_place = 100;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    fresh_findings(db, "r1", "2024-09-27T10:00:00+08:00", "people.phone", 400);
    watch_index(db);
    int in_bulk = sync_with_duplicate(db, "r1", &p);
    assert_int_equal(in_bulk, QLOOP_EXIT_INTERNAL);
    assert_int_equal(drops, 1);
    sync_committed(db, "r1", &p);
    assert_int_equal(drops, 2);

    fresh_findings(db, "r2", "2024-09-28T10:00:00+08:00", "people.id", 20);
    watch_index(db);
    int one_by_one = sync_with_duplicate(db, "r2", &p);
    assert_int_equal(one_by_one, in_bulk);
    sync_committed(db, "r2", &p);
    assert_int_equal(drops, 0);
    items_as_found(db, "r2", 20);
    audit_whole(db);
    store_close(db);
}

/* The index is dropped only inside a transaction, and comes back with its
 * own definition; a duplicate inserted meanwhile fails its rebuild. */
static void test_unindex_reindex(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    char *sql = NULL;
    char *schema = schema_text(db);
    assert_int_equal(tk_items_unindex(db, &sql, &err), -2);
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    assert_null(sql);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema"
                               " WHERE name = 'ticket_items_record'"),
                     1);
    assert_int_equal(tk_items_reindex(db, &sql, &err), 0); /* nothing to do */

    exec(db, "INSERT INTO tickets(dataset, rule, source, dept, state, policy, opened_at, opened_by)"
             " VALUES('people', 'people.phone', 'run', '市公安局', 'discovered', 'p', 'now',"
             " 'system')");
    const char *item = "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state,"
                       " added_at) VALUES(1, 'people', 'people.phone', 'ref1', 'open', 'now')";
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_unindex(db, &sql, &err), 0);
    assert_non_null(sql);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema"
                               " WHERE name = 'ticket_items_record'"),
                     0);
    exec(db, "%s", item);
    assert_int_equal(tk_items_reindex(db, &sql, &err), 0);
    assert_null(sql);
    char *now = schema_text(db);
    assert_string_equal(now, schema);
    free(now);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_not_equal(sqlite3_exec(db, item, NULL, NULL, NULL), SQLITE_OK);

    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_unindex(db, &sql, &err), 0);
    exec(db, "%s", item);
    assert_int_equal(tk_items_reindex(db, &sql, &err), -2);
    assert_null(sql);
    assert_non_null(strstr(err.message, "UNIQUE constraint failed"));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    store_rollback(db);
    now = schema_text(db);
    assert_string_equal(now, schema);
    free(now);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 1);
    free(schema);
    store_close(db);
}

/* Statements run while traced, one a line ('\n' after each). */
static struct qloop_buf traced;

static int trace_stmt(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)ctx;
    (void)p;
    const char *sql = x;
    qloop_buf_append(&traced, sql, strlen(sql));
    qloop_buf_putc(&traced, '\n');
    return 0;
}

/* The traced statements as a string (a NUL appended to the buffer). */
static const char *traced_text(void)
{
    qloop_buf_putc(&traced, '\0');
    traced.len--;
    return traced.ptr;
}

/* Past tk_items_sort_in_cache items the index is built with a 2 MiB page
 * cache, so that SQLite's sorter sorts its keys in runs of 2 MiB rather
 * than of the run's 64 MiB, and the cache is set back afterwards, whether
 * the index was made or failed; up to it the cache is left alone. */
static void test_reindex_small_sort_runs(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    int64_t cache = q_int(db, "PRAGMA cache_size");
    assert_int_equal(cache, -65536);
    exec(db, "INSERT INTO tickets(dataset, rule, source, dept, state, policy, opened_at, opened_by)"
             " VALUES('people', 'people.phone', 'run', '市公安局', 'discovered', 'p', 'now',"
             " 'system')");
    const char *item = "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state,"
                       " added_at) VALUES(1, 'people', 'people.phone', 'ref1', 'open', 'now')";
    /* one item: sorted under the run's cache, no PRAGMA */
    char *sql = NULL;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_unindex(db, &sql, &err), 0);
    exec(db, "%s", item);
    qloop_buf_reset(&traced);
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, NULL);
    assert_int_equal(tk_items_reindex(db, &sql, &err), 0);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    assert_null(strstr(traced_text(), "cache_size="));
    assert_non_null(strstr(traced_text(), "CREATE UNIQUE INDEX ticket_items_record"));
    store_rollback(db);
    /* past the bound (lowered to 0 here) */
    tk_items_sort_in_cache = 0;
    for (int fail = 0; fail < 2; fail++) {
        assert_int_equal(store_begin(db, &err), 0);
        assert_int_equal(tk_items_unindex(db, &sql, &err), 0);
        exec(db, "%s", item);
        if (fail)
            exec(db, "%s", item);
        qloop_buf_reset(&traced);
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, NULL);
        assert_int_equal(tk_items_reindex(db, &sql, &err), fail ? -2 : 0);
        sqlite3_trace_v2(db, 0, NULL, NULL);
        const char *text = traced_text();
        const char *small = strstr(text, "PRAGMA main.cache_size=-2048\n");
        const char *create = strstr(text, "CREATE UNIQUE INDEX ticket_items_record");
        const char *back = strstr(text, "PRAGMA main.cache_size=-65536\n");
        assert_non_null(small);
        assert_non_null(create);
        assert_non_null(back);
        assert_true(small < create && create < back);
        assert_int_equal(q_int(db, "PRAGMA cache_size"), cache);
        if (fail) {
            assert_non_null(strstr(err.message, "UNIQUE constraint failed"));
            store_rollback(db);
        } else {
            assert_int_equal(store_commit(db, &err), 0);
        }
        free(sql);
    }
    tk_items_sort_in_cache = TK_ITEMS_SORT_IN_CACHE;
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 1);
    qloop_buf_free(&traced);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_runs_build_index_in_bulk),
        cmocka_unit_test(test_duplicate_open_item_refused),
        cmocka_unit_test(test_unindex_reindex),
        cmocka_unit_test(test_reindex_small_sort_runs),
        cmocka_unit_test(test_small_rules_keep_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
