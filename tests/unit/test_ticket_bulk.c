/*
 * test_ticket_bulk.c — the items' keys by record (ticket_item_refs, store
 * step 19) written in bulk (loop/ticket_item_refs.c, tk_items_hold /
 * tk_items_release, chosen by ticket_sync.c for a run whose fresh findings
 * are many against the items stored and one of whose datasets and rules
 * has more than tk_items_group_in_place): the run's items and audit as
 * before, the store's schema text the same afterwards (the insert trigger
 * made again), the entries those of the items, in bulk only past both
 * thresholds (a first night of small rules keeps the trigger), from the
 * run's kept keys the same entries as the one-item path's, a second open
 * item of a record still refused by the database (the write fails, with
 * the kind of error the INSERT gave, and a rollback leaves the store as it
 * was), and no hold outside a transaction; past 500,000 items SQLite sorts
 * the keys with a 2 MiB page cache, the run's cache back afterwards.
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
#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* The store's schema as text, one line per object in name order (its
 * position in sqlite_schema and root page left out). malloc'd. */
static char *schema_text(sqlite3 *db)
{
    return q_rows(db, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY name");
}

/* How many times the trigger that adds an item's entry by record was
 * dropped since watch_index (an authorizer sees each DROP TRIGGER
 * prepared). */
static int drops;

static int count_drops(void *ctx, int action, const char *a, const char *b, const char *db,
                       const char *trigger)
{
    (void)ctx, (void)b, (void)db, (void)trigger;
    if (action == SQLITE_DROP_TRIGGER && a && strcmp(a, "ticket_item_refs_insert") == 0)
        drops++;
    return SQLITE_OK;
}

/* ticket_item_refs holds exactly every item's keys (record_ref, kind, 0 for
 * an open or missing item else its id) and id. */
static void refs_whole(sqlite3 *db)
{
    static const char keys[] =
        "SELECT record_ref, kind, CASE WHEN state IN ('open','missing') THEN 0 ELSE id END, id"
        " FROM ticket_item_rows";
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs"),
                     q_int(db, "SELECT count(*) FROM ticket_item_rows"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM (%s EXCEPT SELECT * FROM ticket_item_refs)",
                           keys),
                     0);
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

/* A fresh run of many records on an empty store writes its entries in
 * bulk; one of a new rule with few records against many stored items does
 * not; one with more than half of them does. Each time the schema's text
 * is as it was, the items are those of the findings in order, the entries
 * whole and used, and the audit chain holds. */
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
        refs_whole(db);
        assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    }
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 3);
    /* a record's open item found by its entry */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT 1 FROM ticket_item_refs i"
                                            " WHERE i.kind = 1 AND i.record_ref = 'c'"
                                            " AND i.open_key = 0",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3),
                           "SEARCH i USING PRIMARY KEY (record_ref=? AND kind=? AND open_key=?)"));
    sqlite3_finalize(st);
    /* the next night finds every item open: nothing added, none twice */
    fresh_findings(db, "r4", "2024-09-30T10:00:00+08:00", "people.phone", 3000);
    sync_committed(db, "r4", &p);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 6650);
    refs_whole(db);
    free(schema);
    audit_whole(db);
    store_close(db);
}

/* A first night whose datasets and rules each have no more findings than
 * tk_items_group_in_place keeps the insert trigger however many they are
 * together (a rule's size is the count of failing records it reports):
 * nothing dropped, the same items, the entries whole; one rule past the
 * bound has them written in bulk. The default bound keeps a night of
 * 3,000 findings one by one. */
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
    refs_whole(db);
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
    refs_whole(db);
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
 * by the INSERT's trigger (a run of few records on a store of many items),
 * by the bulk write of the entries after a fresh run of many — the same
 * kind of error, the run's transaction rolled back, the store as it was;
 * the same runs then go through. */
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

/* Past tk_items_sort_in_cache held items, when SQLite sorts their keys,
 * it does so with a 2 MiB page cache, so that its sorter sorts in runs of
 * 2 MiB rather than of the run's 64 MiB, and the cache is set back
 * afterwards, whether the entries were written or failed; up to it the
 * cache is left alone. */
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
    struct tk_items_held h;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_hold(db, &h, &err), 0);
    exec(db, "%s", item);
    qloop_buf_reset(&traced);
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, NULL);
    assert_int_equal(tk_items_release(db, &h, &err), 0);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    assert_null(strstr(traced_text(), "cache_size="));
    assert_non_null(strstr(traced_text(), "INSERT OR FAIL INTO ticket_item_refs"));
    store_rollback(db);
    /* past the bound (lowered to 0 here) */
    tk_items_sort_in_cache = 0;
    for (int fail = 0; fail < 2; fail++) {
        assert_int_equal(store_begin(db, &err), 0);
        assert_int_equal(tk_items_hold(db, &h, &err), 0);
        exec(db, "%s", item);
        if (fail)
            exec(db, "%s", item);
        qloop_buf_reset(&traced);
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, NULL);
        assert_int_equal(tk_items_release(db, &h, &err), fail ? -2 : 0);
        sqlite3_trace_v2(db, 0, NULL, NULL);
        const char *text = traced_text();
        const char *small = strstr(text, "PRAGMA main.cache_size=-2048\n");
        const char *create = strstr(text, "INSERT OR FAIL INTO ticket_item_refs");
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
    }
    tk_items_sort_in_cache = TK_ITEMS_SORT_IN_CACHE;
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 1);
    qloop_buf_free(&traced);
    store_close(db);
}

/* The trigger is dropped only inside a transaction, and comes back with
 * its own definition; items inserted meanwhile, not noted, get their
 * entries sorted by SQLite; a duplicate inserted meanwhile fails the
 * write. */
static void test_hold_release(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct tk_items_held h;
    char *schema = schema_text(db);
    assert_int_equal(tk_items_hold(db, &h, &err), -2);
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    assert_int_equal(h.after, -1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema"
                               " WHERE name = 'ticket_item_refs_insert'"),
                     1);
    assert_int_equal(tk_items_release(db, &h, &err), 0); /* nothing to do */

    exec(db, "INSERT INTO tickets(dataset, rule, source, dept, state, policy, opened_at, opened_by)"
             " VALUES('people', 'people.phone', 'run', '市公安局', 'discovered', 'p', 'now',"
             " 'system')");
    const char *item = "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state,"
                       " added_at) VALUES(1, 'people', 'people.phone', 'ref1', 'open', 'now')";
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_hold(db, &h, &err), 0);
    assert_int_equal(h.after, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema"
                               " WHERE name = 'ticket_item_refs_insert'"),
                     0);
    exec(db, "%s", item);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs"), 0);
    assert_int_equal(tk_items_release(db, &h, &err), 0);
    assert_int_equal(h.after, -1);
    char *now = schema_text(db);
    assert_string_equal(now, schema);
    free(now);
    refs_whole(db);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_not_equal(sqlite3_exec(db, item, NULL, NULL, NULL), SQLITE_OK);

    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(tk_items_hold(db, &h, &err), 0);
    assert_int_equal(h.after, 1);
    exec(db, "%s", item);
    assert_int_equal(tk_items_release(db, &h, &err), -2);
    assert_non_null(strstr(err.message, "UNIQUE constraint failed"));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    store_rollback(db);
    now = schema_text(db);
    assert_string_equal(now, schema);
    free(now);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 1);
    refs_whole(db);
    free(schema);
    store_close(db);
}

/* Run `run` of rules people.hex (field phone; and, with two, the same rule
 * under field name too: two finding kinds, one item kind) and people.oct,
 * with n findings each of 32-hex-char records (the refs a store makes) of
 * record numbers j = i (hex, phone), 2i (hex, name), 3i + 1 (oct) for i =
 * 1..n, so that the kinds' records interleave and share some refs; not
 * synced. */
static void hex_findings(sqlite3 *db, const char *run, int n, bool two)
{
    const char *day = "2024-09-27T10:00:00+08:00";
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q,"
             " 'running', '[]')", run, day, day);
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES(%Q, 'people', %d,"
             " '市公安局')", run, n);
    static const char *const rules[] = {"people.hex", "people.oct"};
    for (int r = 0; r < 2; r++) {
        exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                 " message, checked, failed, errors, resolve_missing) VALUES(%Q, %Q, 'people',"
                 " 'phone', 'normative', 'medium', '手机号格式错误', %d, %d, 0, 0)",
             run, rules[r], n, n);
        for (int f = 0; f < (r == 0 && two ? 2 : 1); f++)
            exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
                     " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key,"
                     " field, value, message)"
                     " SELECT %Q, 'people', %Q, i, printf('%%016x%%016x',"
                     " (j * 2654435761) %% 4294967296, j %% 7), 'K' || i,"
                     " %Q, 'v' || i, '手机号格式错误' FROM (SELECT i, i * %d + %d AS j FROM k)"
                     " ORDER BY i",
                 n, run, rules[r], f ? "name" : "phone", r ? 3 : f + 1, r);
    }
}

/* The run's finding keys as its findings writer gives them away (each
 * digest made up: the same for both paths compared). */
static int given_keys(void *ctx, struct ticket_keys *out)
{
    sqlite3 *db = ctx;
    memset(out, 0, sizeof *out);
    size_t n = (size_t)q_int(db, "SELECT count(*) FROM finding_refs");
    out->first = q_int(db, "SELECT min(id) FROM finding_refs");
    out->v = calloc(n, sizeof *out->v);
    out->digest = calloc(n, sizeof *out->digest);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT kind, record_ref, id FROM finding_refs"
                                            " ORDER BY kind, record_ref, id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct ticket_key *e = &out->v[out->n++];
        e->kind = (uint32_t)sqlite3_column_int64(st, 0);
        assert_true(qloop_unhex128((const char *)sqlite3_column_text(st, 1), e->ref));
        e->at = (uint32_t)(sqlite3_column_int64(st, 2) - out->first);
        out->digest[e->at] = 1000 + e->at; /* known: the items' INSERT from memory */
    }
    sqlite3_finalize(st);
    return 0;
}

static bool none_seen(void *ctx, const char *dataset, const char *ref)
{
    (void)ctx, (void)dataset, (void)ref;
    return false;
}

/* The entries of run r1 of hex_findings, synced with the run's keys given
 * (bulk: past tk_items_group_in_place) or one by one; the statements that
 * wrote ticket_item_refs into *how (traced), malloc'd. */
static char *entries_of(int n, bool two, bool bulk, char **how)
{
    sqlite3 *db = db_open();
    hex_findings(db, "r1", n, two);
    tk_items_group_in_place = bulk ? 0 : 1000000;
    struct ticket_seen seen = {.seen = none_seen, .ctx = db, .give = given_keys};
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    watch_index(db);
    assert_int_equal(store_begin(db, &err), 0);
    qloop_buf_reset(&traced);
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, NULL);
    if (ticket_sync_run_seen(db, "r1", NULL, &seen, &c, &err) != 0)
        fail_msg("sync: %s", err.message);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(drops, bulk ? 1 : 0);
    *how = strdup(traced_text());
    refs_whole(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"),
                     q_int(db, "SELECT count(*) FROM (SELECT DISTINCT rule, record_ref"
                               " FROM findings)"));
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    char *rows = q_rows(db, "SELECT * FROM ticket_item_refs");
    tk_items_group_in_place = TK_ITEMS_GROUP_IN_PLACE;
    store_close(db);
    return rows;
}

/* A first night's entries written from the run's kept keys, merged across
 * its finding kinds (one rule under two fields: two kinds of one item
 * kind, records shared), are the entries the one-item path's trigger
 * writes, in every size around the statements' 64 rows; they are written
 * by the rows' INSERT, not sorted by SQLite, and the trigger did not fire
 * for the held items. */
static void test_entries_from_keys(void **state)
{
    (void)state;
    static const int sizes[] = {1, 20, 63, 64, 65, 700};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
        for (int two = 0; two < 2; two++) {
            char *how_bulk, *how_one;
            char *bulk = entries_of(sizes[t], two, true, &how_bulk);
            char *one = entries_of(sizes[t], two, false, &how_one);
            assert_string_equal(bulk, one);
            assert_non_null(strstr(how_bulk, "INSERT OR FAIL INTO ticket_item_refs"));
            assert_null(strstr(how_bulk, "ORDER BY 1, 2, 3"));
            assert_null(strstr(how_bulk, "-- TRIGGER ticket_item_refs_insert"));
            assert_null(strstr(how_one, "INSERT OR FAIL INTO ticket_item_refs"));
            assert_non_null(strstr(how_one, "-- TRIGGER ticket_item_refs_insert"));
            free(bulk);
            free(one);
            free(how_bulk);
            free(how_one);
        }
    qloop_buf_free(&traced);
}

/* Two open items of one record noted from the kept keys (two finding kinds
 * of one item kind: what a bug in the loop would make) fail the bulk write
 * by the table's key, with the kind of error the INSERT gave. */
static void test_keys_duplicate_refused(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    hex_findings(db, "r1", 3, true);
    struct tk_kept kept;
    struct ticket_seen seen = {.seen = none_seen, .ctx = db, .give = given_keys};
    tk_kept_take(&seen, &kept);
    assert_true(kept.whole);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(store_begin(db, &err), 0);
    struct tk_items_held h;
    assert_int_equal(tk_items_hold(db, &h, &err), 0);
    h.kept = &kept;
    exec(db, "INSERT INTO tickets(dataset, rule, source, dept, state, policy, opened_at, opened_by)"
             " VALUES('people', 'people.hex', 'run', '市公安局', 'discovered', 'p', 'now',"
             " 'system')");
    /* findings 2 (field phone, j = 2) and 4 (field name, j = 2) are of one
     * record */
    char ref[64];
    snprintf(ref, sizeof ref, "%s", q_text(db, "SELECT record_ref FROM findings WHERE id = 2"));
    assert_string_equal(q_text(db, "SELECT record_ref FROM findings WHERE id = 4"), ref);
    for (int64_t f = 2; f <= 4; f += 2) {
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at)"
                 " VALUES(1, 'people', 'people.hex', %Q, 'open', 'now')",
             q_text(db, "SELECT record_ref FROM findings WHERE id = %lld", (long long)f));
        tk_items_note(&h, f, sqlite3_last_insert_rowid(db));
    }
    assert_int_equal(tk_items_release(db, &h, &err), -2);
    assert_non_null(strstr(err.message, "UNIQUE constraint failed"));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    store_rollback(db);
    tk_items_held_free(&h);
    tk_kept_free(&kept);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema"
                               " WHERE name = 'ticket_item_refs_insert'"),
                     1);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_runs_build_index_in_bulk),
        cmocka_unit_test(test_duplicate_open_item_refused),
        cmocka_unit_test(test_hold_release),
        cmocka_unit_test(test_entries_from_keys),
        cmocka_unit_test(test_keys_duplicate_refused),
        cmocka_unit_test(test_reindex_small_sort_runs),
        cmocka_unit_test(test_small_rules_keep_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
