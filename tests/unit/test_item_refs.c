/*
 * test_item_refs.c — the items' keys by record in a table of their own
 * (ticket_item_refs, store step 19): the upgrade from step 18 keeps every
 * item of every sort with its id and copies exactly the old index's
 * entries, in its order; the table's primary key keeps the UNIQUE rule
 * (one open or missing item per dataset, rule and record) through the
 * `ticket_items` view and on ticket_item_rows itself; its triggers move an
 * entry when an item's state, record, kind or id changes its key, and
 * delete it with the item; and every statement of the loop that reads the
 * table over three nights and a filed report finds a record's items by its
 * key, never by a scan of the items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_helpers.h"
#include "ticket_helpers.h"

#include "loop/ticket.h"
#include "store/schema.h"
#include "store/store.h"

/* Every item's keys as the old index held them (record_ref, kind, 0 for an
 * open or missing item else its id) and its id, in the index's order. */
static const char index_keys[] =
    "SELECT record_ref, kind, CASE WHEN state IN ('open','missing') THEN 0 ELSE id END, id"
    " FROM ticket_item_rows ORDER BY 1, 2, 3";

/* ticket_item_refs in its key order, and the items' keys: the same rows. */
static void refs_whole(sqlite3 *db)
{
    char *want = q_rows(db, index_keys);
    char *got = q_rows(db, "SELECT * FROM ticket_item_refs");
    assert_string_equal(got, want);
    free(want);
    free(got);
}

/* An item written through the view: ticket 1's dataset and rule, record
 * ref, field and state. An SQLite code. */
static int view_insert(sqlite3 *db, const char *ref, const char *field, const char *state)
{
    char *sql = sqlite3_mprintf(
        "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, record_key, field,"
        " value, message, row_no, state, reporter, added_at, added_run, last_run)"
        " SELECT 1, dataset, rule, %Q, 'K', %Q, 'v', 'm', 7, %Q, '张三',"
        " '2024-09-29T09:00:00+08:00', NULL, NULL FROM tickets WHERE id = 1",
        ref, field, state);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc;
}

/* Items of every state over three nights of P2/P3 (fixed, missing,
 * reopened, open) and, through the view, filed ones (open, closed, fixed)
 * of other records. */
static void items_of_every_state(sqlite3 *db)
{
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3=151", "P2 P3", &p);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2", "P2", &p);
    assert_int_equal(view_insert(db, "filed", "address", "open"), SQLITE_OK);
    assert_int_equal(view_insert(db, "filed", "address", "closed"), SQLITE_OK);
    assert_int_equal(view_insert(db, "filed", NULL, "fixed"), SQLITE_OK);
    assert_int_equal(view_insert(db, "other", NULL, "missing"), SQLITE_OK);
    assert_string_equal(q_text(db, "SELECT group_concat(state, ' ') FROM"
                                   " (SELECT state FROM ticket_items ORDER BY id)"),
                        "fixed missing open open closed fixed missing");
}

/* The upgrade from step 18: every item the same (every column of its row,
 * its id); the table holds exactly the old index's entries in its order;
 * the index is gone, the triggers are there. */
static void test_upgrade_from_step18(void **state)
{
    (void)state;
    char path[64];
    temp_store_path(path, sizeof path, "itemrefs");
    sqlite3 *db = db_open_at(path);
    items_of_every_state(db);
    store_rewind_to_step18(db);
    char *rows = q_rows(db, "SELECT * FROM ticket_item_rows ORDER BY id");
    char *entries = q_rows(db, "SELECT record_ref, kind, CASE WHEN state IN ('open','missing')"
                               " THEN 0 ELSE id END, id FROM ticket_item_rows"
                               " INDEXED BY ticket_items_record ORDER BY record_ref, kind,"
                               " (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END)");
    char *view = all_items(db);
    store_close(db);

    db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    char *now = q_rows(db, "SELECT * FROM ticket_item_rows ORDER BY id");
    assert_string_equal(now, rows);
    free(now);
    now = q_rows(db, "SELECT * FROM ticket_item_refs");
    assert_string_equal(now, entries);
    free(now);
    now = all_items(db);
    assert_string_equal(now, view);
    free(now);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs"), 7);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name ="
                               " 'ticket_items_record'"),
                     0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"
                               " AND tbl_name = 'ticket_item_rows'"),
                     3);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    /* a run after the upgrade: P2 fixed, P3 back (a new item), P4 new */
    struct qloop_policy p = ningbo();
    phone_run(db, "r4", "2024-09-30T02:00:00+08:00", "P3 P4", "P2 P3 P4", &p);
    refs_whole(db);
    free(rows);
    free(entries);
    free(view);
    audit_whole(db);
    store_close(db);
    remove_store(path);
}

/* The UNIQUE rule and the triggers, through the view and on the table: a
 * second open or missing item of a record refused (any field), a closed
 * one not; an item fixed and opened again, moved to another record or
 * kind, or given another id moves its entry; a second open item made by an
 * UPDATE refused; a deleted item takes its entry. */
static void test_triggers_keep_step(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    items_of_every_state(db);
    refs_whole(db);
    /* "filed" has an open item (id 4), a closed (5) and a fixed one (6) */
    assert_int_equal(view_insert(db, "filed", "phone", "open"), SQLITE_CONSTRAINT_PRIMARYKEY);
    assert_int_equal(view_insert(db, "filed", NULL, "missing"), SQLITE_CONSTRAINT_PRIMARYKEY);
    assert_int_equal(view_insert(db, "filed", NULL, "closed"), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO ticket_item_rows(ticket_id, kind, record_ref,"
                                      " state) SELECT ticket_id, kind, record_ref, 'open'"
                                      " FROM ticket_item_rows WHERE id = 4",
                                      NULL, NULL, NULL),
                     SQLITE_OK);
    assert_string_equal(sqlite3_errmsg(db), "UNIQUE constraint failed: ticket_item_refs.record_ref,"
                                            " ticket_item_refs.kind, ticket_item_refs.open_key");
    refs_whole(db);
    /* the open item fixed: its entry keyed by its id; then open again */
    exec(db, "UPDATE ticket_items SET state = 'fixed' WHERE id = 4");
    assert_int_equal(q_int(db, "SELECT open_key FROM ticket_item_refs WHERE id = 4"), 4);
    refs_whole(db);
    exec(db, "UPDATE ticket_item_rows SET state = 'open' WHERE id = 4");
    assert_int_equal(q_int(db, "SELECT open_key FROM ticket_item_refs WHERE id = 4"), 0);
    /* open and missing share the key 0: nothing moves */
    exec(db, "UPDATE ticket_item_rows SET state = 'missing' WHERE id = 4");
    refs_whole(db);
    /* the closed item of "filed" opened while item 4 is open: refused */
    assert_int_not_equal(sqlite3_exec(db, "UPDATE ticket_item_rows SET state = 'open' WHERE id = 5",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_non_null(strstr(sqlite3_errmsg(db), "UNIQUE constraint failed"));
    refs_whole(db);
    /* moved to another record (then the closed one may open), to another
     * kind, to another id */
    exec(db, "UPDATE ticket_item_rows SET record_ref = 'moved' WHERE id = 4");
    exec(db, "UPDATE ticket_item_rows SET state = 'open' WHERE id = 5");
    assert_int_equal(q_int(db, "SELECT open_key FROM ticket_item_refs WHERE id = 5"), 0);
    refs_whole(db);
    exec(db, "INSERT INTO item_kinds(dataset, rule) VALUES('people', 'people.other');"
             "UPDATE ticket_item_rows SET kind = (SELECT max(id) FROM item_kinds) WHERE id = 6");
    refs_whole(db);
    exec(db, "UPDATE ticket_items SET id = 100 WHERE id = 7");
    refs_whole(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs WHERE id = 100"), 1);
    /* deleted, through the view and on the table */
    exec(db, "DELETE FROM ticket_items WHERE id = 100");
    exec(db, "DELETE FROM ticket_item_rows WHERE id = 1");
    refs_whole(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs WHERE id IN (1, 100)"), 0);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    store_close(db);
}

/* The plan of sql, which reads ticket_item_refs: the table searched by its
 * primary key, or (the scan of every open ref, ticket_open_refs) scanned
 * alone; never a scan of the items' rows. */
static void assert_plan(sqlite3 *db, const char *sql)
{
    char *eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, eqp, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", eqp, sqlite3_errmsg(db));
    bool by_key = false, scans_refs = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        if (strncmp(d, "SCAN ", 5) == 0 && !strstr(sql, "FROM ticket_item_refs i WHERE i.kind IN"))
            fail_msg("scan: %s: %s", sql, d);
        by_key |= strstr(d, "USING PRIMARY KEY (record_ref=? AND kind=?") != NULL;
        scans_refs |= strncmp(d, "SCAN i", 6) == 0;
    }
    sqlite3_finalize(st);
    sqlite3_free(eqp);
    if (!by_key && !scans_refs)
        fail_msg("ticket_item_refs not searched by its key: %s", sql);
}

/* Every statement reading ticket_item_refs over three nights (new items,
 * one failing again and one fixed, one back after it was fixed) and a
 * filed report of a record with an open item: by the table's key. */
static void test_lookup_plans(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct sql_traced t;
    sql_trace_start(db, &t, "ticket_item_refs", NULL);
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3", "P2 P3", &p);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2 P3 P4", "P2 P3 P4", &p);
    /* a report on a record the run tracks: its open item found, nothing filed */
    struct ticket_report r = {.dataset = "people", .key = "P2", .rule = "people.phone",
                              .message = "号码不对", .actor = "窗口人员"};
    int64_t tid = 0;
    bool dup = false;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(ticket_file(db, &r, "file", &p, &tid, &dup, &err), 0);
    assert_true(dup);
    sql_trace_stop(db);
    int lookups = 0, filed = 0;
    for (int i = 0; i < t.n; i++) {
        lookups += strstr(t.sql[i], "record_ref = ") != NULL;
        filed += strstr(t.sql[i], "SELECT i.ticket_id FROM ticket_item_refs") != NULL;
        assert_plan(db, t.sql[i]);
    }
    sql_trace_free(&t);
    assert_true(lookups >= 2); /* the loop did look records up */
    assert_int_equal(filed, 1);
    refs_whole(db);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_from_step18),
        cmocka_unit_test(test_triggers_keep_step),
        cmocka_unit_test(test_lookup_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
