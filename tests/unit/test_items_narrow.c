/*
 * test_items_narrow.c — a narrower ticket item (store step 18): an item
 * keeps one integer kind for its (dataset, rule) and integer run ids, and
 * added_at only when it is not its run's as_of; the `ticket_items` view
 * shows every column exactly as before (values and types). The upgrade
 * from step 17 keeps every item of every sort (a run's, fixed, missing,
 * reopened, filed without a run, added at another time than its run's,
 * naming runs that are not in `runs`); the UNIQUE rule still refuses a
 * second open item of a record's dataset and rule whatever its field; the
 * view's triggers map texts to ids on INSERT, UPDATE and DELETE.
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

/* An item written through the view: ticket 1's dataset and rule, record
 * ref, field, state, added_at and the three run texts (NULL for NULL). */
static int view_insert(sqlite3 *db, const char *ref, const char *field, const char *state,
                       const char *added_at, const char *added_run, const char *closed_run)
{
    char *sql = sqlite3_mprintf(
        "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, record_key, field,"
        " value, message, row_no, state, reporter, added_at, added_run, last_run, closed_at,"
        " closed_run, sealed) SELECT 1, dataset, rule, %Q, 'K', %Q, 'v', 'm', 7, %Q, '张三',"
        " %Q, %Q, %Q, NULL, %Q, x'0102' FROM tickets WHERE id = 1",
        ref, field, state, added_at, added_run, added_run, closed_run);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc;
}

/* A store with items of every sort: r1 opens P2 and P3; r2 fixes P2
 * (closed_run r2) and sees P3 failing; r3 reopens P2 and misses P3; then,
 * through the view, an item filed without a run, one added by r1 at a time
 * not r1's, one naming runs no run row has (rX added, rY closed) and
 * reopened from ticket 1. */
static void items_of_every_sort(sqlite3 *db)
{
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3=151", "P2 P3", &p);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2", "P2", &p);
    assert_int_equal(view_insert(db, "filed", "address", "open", "2024-09-29T09:00:00+08:00",
                                 NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(view_insert(db, "late", "phone", "open", "2024-09-27T11:00:00+08:00", "r1",
                                 NULL),
                     SQLITE_OK);
    assert_int_equal(view_insert(db, "odd", NULL, "fixed", "2024-09-20T00:00:00+08:00", "rX",
                                 "rY"),
                     SQLITE_OK);
    assert_string_equal(q_text(db, "SELECT group_concat(state, ' ') FROM"
                                   " (SELECT state FROM ticket_items ORDER BY id)"),
                        "fixed missing open open open fixed");
    exec(db, "UPDATE ticket_items SET reopened_from = 1 WHERE record_ref = 'odd'");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE reopened_from > 0"), 1);
}

/* The upgrade from step 17: every item through the view the same, quoted;
 * ids where texts were; added_at kept only where it is not the run's. */
static void test_upgrade_from_step17(void **state)
{
    (void)state;
    char path[64];
    temp_store_path(path, sizeof path, "narrow");
    sqlite3 *db = db_open_at(path);
    items_of_every_sort(db);
    char *before = all_items(db);
    store_rewind_to_step17(db);
    /* the run texts not in finding_runs before step 18 made them rows */
    exec(db, "DELETE FROM finding_runs WHERE id NOT IN (SELECT run FROM finding_rows)");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_runs WHERE run_id IN ('rX', 'rY')"),
                     0);
    assert_string_equal(q_text(db, "SELECT typeof(added_run) FROM ticket_item_rows WHERE id = 1"),
                        "text");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE finding IS NOT NULL"),
                     3);
    char *rewound = all_items(db);
    assert_string_equal(rewound, before);
    free(rewound);
    store_close(db);

    db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    char *upgraded = all_items(db);
    assert_string_equal(upgraded, before);
    free(upgraded);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE finding IS NOT NULL"),
                     3);
    assert_string_equal(q_text(db, "SELECT group_concat(dataset || '/' || rule, ' ')"
                                   " FROM item_kinds"),
                        "people/people.phone");
    assert_string_equal(q_text(db, "SELECT group_concat(typeof(kind) || typeof(added_run) ||"
                                   " typeof(last_run) || typeof(closed_run), ' ') FROM"
                                   " (SELECT * FROM ticket_item_rows WHERE id = 1)"),
                        "integerintegerintegerinteger");
    /* added_at: NULL where it is the run's as_of (the runs' items), kept
     * for the filed item, the late one and the one of a run without row */
    assert_string_equal(q_text(db, "SELECT group_concat(coalesce(added_at, '-'), ' ') FROM"
                                   " (SELECT added_at FROM ticket_item_rows ORDER BY id)"),
                        "- - - 2024-09-29T09:00:00+08:00 2024-09-27T11:00:00+08:00"
                        " 2024-09-20T00:00:00+08:00");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_runs WHERE run_id IN ('rX', 'rY')"),
                     2);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    assert_int_equal(q_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    /* a run after the upgrade: P2 failing again, P9 new */
    struct qloop_policy p = ningbo();
    phone_run(db, "r4", "2024-09-30T02:00:00+08:00", "P2 P9", "P2 P9", &p);
    assert_string_equal(q_text(db, "SELECT quote(added_at) || quote(added_run) || quote(last_run)"
                                   " FROM ticket_items WHERE id = 7"),
                        "'2024-09-30T02:00:00+08:00''r4''r4'");
    free(before);
    audit_whole(db);
    store_close(db);
    remove_store(path);
}

/* At most one open (or missing) item of a record's dataset and rule,
 * whatever its field: the record index refuses a second one with another
 * field, not a closed one (since store step 19 the index is the primary
 * key of ticket_item_refs: "UNIQUE constraint failed", its extended code
 * SQLITE_CONSTRAINT_PRIMARYKEY). */
static void test_unique_whatever_field(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &p);
    const char *ref = q_text(db, "SELECT record_ref FROM ticket_items WHERE id = 1");
    char r[64];
    snprintf(r, sizeof r, "%s", ref);
    assert_int_equal(view_insert(db, r, "address", "open", "2024-09-28T00:00:00+08:00", "r1",
                                 NULL),
                     SQLITE_CONSTRAINT_PRIMARYKEY);
    assert_int_equal(view_insert(db, r, NULL, "missing", "2024-09-28T00:00:00+08:00", NULL,
                                 NULL),
                     SQLITE_CONSTRAINT_PRIMARYKEY);
    assert_int_equal(view_insert(db, r, "address", "closed", "2024-09-28T00:00:00+08:00", "r1",
                                 "r1"),
                     SQLITE_OK);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 2);
    store_close(db);
}

/* Writes through the view: an INSERT naming a new dataset and rule and new
 * runs adds their rows; an UPDATE maps changed texts to ids (added_at kept
 * or dropped against the new run's as_of); added_at NULL is refused; a
 * DELETE removes the row. */
static void test_view_writes(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &p);
    exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, field, state,"
             " added_at, added_run, last_run, closed_run) VALUES(1, 'other', 'other.rule', 'x1',"
             " NULL, 'fixed', '2024-09-27T10:00:00+08:00', 'r1', 'rZ', 'rW')");
    assert_string_equal(q_text(db, "SELECT group_concat(dataset || '/' || rule, ' ')"
                                   " FROM item_kinds"),
                        "people/people.phone other/other.rule");
    assert_string_equal(q_text(db, "SELECT quote(added_at) || quote(added_run) || quote(last_run)"
                                   " || quote(closed_run) || quote(dataset) FROM ticket_items"
                                   " WHERE record_ref = 'x1'"),
                        "'2024-09-27T10:00:00+08:00''r1''rZ''rW''other'");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE record_ref = 'x1'"
                               " AND added_at IS NULL"),
                     1);
    /* another run's as_of: kept, and the run text mapped */
    exec(db, "UPDATE ticket_items SET added_run = 'rQ', closed_run = NULL, rule = 'other.r2'"
             " WHERE record_ref = 'x1'");
    assert_string_equal(q_text(db, "SELECT quote(added_at) || quote(added_run) || quote(last_run)"
                                   " || quote(closed_run) || quote(rule) FROM ticket_items"
                                   " WHERE record_ref = 'x1'"),
                        "'2024-09-27T10:00:00+08:00''rQ''rZ'NULL'other.r2'");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE record_ref = 'x1'"
                               " AND added_at IS NOT NULL"),
                     1);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE ticket_items SET added_at = NULL"
                                          " WHERE record_ref = 'x1'", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule,"
                                          " record_ref, state) VALUES(1, 'a', 'b', 'c', 'open')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    exec(db, "DELETE FROM ticket_items WHERE record_ref = 'x1'");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows"), 1);
    assert_string_equal(q_text(db, "SELECT quote(added_at) || quote(added_run) FROM ticket_items"),
                        "'2024-09-27T10:00:00+08:00''r1'");
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_from_step17),
        cmocka_unit_test(test_unique_whatever_field),
        cmocka_unit_test(test_view_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
