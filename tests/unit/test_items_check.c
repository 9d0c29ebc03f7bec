/*
 * test_items_check.c — schema step 13 (store/schema.c): ticket_items'
 * state checked by comparisons, not by an IN list of four (SQLite 3.40
 * fills a temporary table with the list for every row a CHECK's IN list
 * sees). On a new store and on a store upgraded from step 12: writing an
 * item builds no temporary table; each of the four states is accepted and
 * anything else refused by the CHECK, on INSERT and UPDATE; the upgrade
 * keeps every row (every column, ids, sealed bytes), the indexes and the
 * table as a new store has them, and a run afterwards works on it with an
 * intact audit chain.
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

#include "store/schema.h"

/* ticket_items as steps 3, 6 and 12 left it (sqlite_schema's text). */
static const char step12_items[] =
    "CREATE TABLE ticket_items(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    "  dataset TEXT NOT NULL, rule TEXT NOT NULL, record_ref TEXT NOT NULL, record_key TEXT,"
    "  field TEXT, value TEXT, message TEXT, row_no INTEGER,"
    "  state TEXT NOT NULL CHECK(state IN ('open','missing','fixed','closed')),"
    "  reporter TEXT, added_at TEXT NOT NULL, added_run TEXT, last_run TEXT,"
    "  closed_at TEXT, closed_run TEXT, reopened_from INTEGER, sealed BLOB);"
    "CREATE INDEX ticket_items_ticket ON ticket_items(ticket_id, state);"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_items(dataset, rule, record_ref,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));";

/* The text of ticket_items, table and indexes, as sqlite_schema has it
 * (malloc'd). */
static char *items_schema(sqlite3 *db)
{
    return strdup(q_text(db, "SELECT group_concat(type || ':' || name || ':' || sql, char(10))"
                             " FROM (SELECT * FROM sqlite_schema WHERE tbl_name IN ('ticket_items', 'ticket_item_rows')"
                             " ORDER BY type, name)"));
}

/* How many OpenEphemeral instructions writing an item runs. */
static int ephemeral_tables(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    char *explain = sqlite3_mprintf("EXPLAIN %s", sql);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
    sqlite3_free(explain);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
    sqlite3_finalize(st);
    return n;
}

/* The CHECK of step 13 on db, which has an item 1: no temporary table
 * built, the four states accepted, anything else refused as a CHECK
 * failure (INSERT and UPDATE), NULL by NOT NULL; nothing left written. */
static void check_states(sqlite3 *db)
{
    static const char ins[] =
        "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at)"
        " VALUES(1, 'd13', 'r13', 'ref13', %Q, '2024-09-27T10:00:00+08:00')";
    /* the CHECK is ticket_item_rows' (store step 17), which the loop
     * writes; the view's triggers write it too */
    static const char ins_row[] =
        "INSERT INTO ticket_item_rows(ticket_id, kind, record_ref, state, added_at)"
        " VALUES(1, 1, 'ref13', %Q, '2024-09-27T10:00:00+08:00')";
    char *one = sqlite3_mprintf(ins_row, "open");
    assert_int_equal(ephemeral_tables(db, one), 0);
    sqlite3_free(one);
    assert_int_equal(
        ephemeral_tables(db, "UPDATE ticket_item_rows SET state = ?1 WHERE id = ?2"), 0);
    int64_t before = q_int(db, "SELECT count(*) FROM ticket_items");
    static const char *const good[] = {"open", "missing", "fixed", "closed"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        exec(db, "SAVEPOINT s");
        exec(db, ins, good[i]);
        exec(db, "UPDATE ticket_items SET state = %Q WHERE id = 1", good[i]);
        exec(db, "ROLLBACK TO s; RELEASE s");
    }
    static const char *const bad[] = {"bogus", "Open", "open ", "", "shared"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *sql = sqlite3_mprintf(ins, bad[i]);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff, SQLITE_CONSTRAINT);
        assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_CHECK);
        sqlite3_free(sql);
        sql = sqlite3_mprintf("UPDATE ticket_items SET state = %Q WHERE id = 1", bad[i]);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff, SQLITE_CONSTRAINT);
        assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_CHECK);
        sqlite3_free(sql);
    }
    assert_int_equal(sqlite3_exec(db, "UPDATE ticket_items SET state = NULL WHERE id = 1", NULL,
                                  NULL, NULL) &
                         0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_NOTNULL);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), before);
}

static void test_new_store(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    check_states(db);
    assert_null(strstr(q_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'ticket_item_rows'"),
                       " IN ("));
    store_close(db);
}

/* A store at step 12 with items in every state, sealed bytes, NULLs and
 * texts in every column, upgraded. */
static void test_upgrade_from_step12(void **state)
{
    (void)state;
    sqlite3 *fresh = db_open();
    char *want_schema = items_schema(fresh);
    store_close(fresh);

    char path[64];
    temp_store_path(path, sizeof path, "check");
    sqlite3 *db = db_open_at(path);
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3", "P2 P3", &p);
    /* back to step 12's table, every row copied with its id */
    store_rewind_to_step13(db);
    exec(db, "CREATE TABLE items_copy AS SELECT * FROM ticket_items;"
             "DROP TABLE ticket_items;"
             "%s"
             "INSERT INTO ticket_items SELECT * FROM items_copy ORDER BY id;"
             "DROP TABLE items_copy;"
             "INSERT INTO ticket_items VALUES(40, 1, 'people', 'people.phone', 'ref-m', 'K''m',"
             " 'phone', '值', '说明', 7, 'missing', '张三', '2024-09-28T02:00:00+08:00', 'r2',"
             " 'r2', NULL, NULL, NULL, x'00ff10');"
             "INSERT INTO ticket_items VALUES(41, 1, 'people', 'people.phone', 'ref-c', NULL,"
             " NULL, NULL, NULL, NULL, 'closed', NULL, '2024-09-28T02:00:00+08:00', NULL, NULL,"
             " '2024-09-29T00:00:00+08:00', 'r2', 1, x'');"
             "PRAGMA user_version = 12;",
         step12_items);
    assert_non_null(strstr(q_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'ticket_items'"),
                           "state IN ('open','missing','fixed','closed')"));
    char *rows = all_items(db);
    assert_int_equal(q_int(db, "SELECT count(DISTINCT state) FROM ticket_items"), 4);
    store_close(db);

    db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    char *upgraded = all_items(db);
    assert_string_equal(upgraded, rows);
    free(upgraded);
    char *got_schema = items_schema(db);
    assert_string_equal(got_schema, want_schema);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%%13%%'"), 0);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    assert_int_equal(q_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    check_states(db);
    /* a second open item of a record still refused by the index */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO ticket_items(ticket_id, dataset, rule,"
                                      " record_ref, state, added_at) SELECT ticket_id, dataset,"
                                      " rule, record_ref, 'open', added_at FROM ticket_items"
                                      " WHERE id = 40",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    struct ticket_sync_counts c =
        phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2 P3 P4", "P2 P3 P4", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE added_run = 'r3'"), 2);
    audit_whole(db);
    free(rows);
    free(got_schema);
    free(want_schema);
    store_close(db);
    remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_store),
        cmocka_unit_test(test_upgrade_from_step12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
