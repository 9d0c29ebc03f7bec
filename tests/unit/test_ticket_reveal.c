/*
 * test_ticket_reveal.c — a ticket's records for a user (loop/ticket_reveal.c),
 * what the portal calls: unmasked for the owner department's providers and
 * admins (one audit entry per showing, no value in it), masked for everyone
 * else who may see the ticket, refused for who may not; TICKET_REVEAL
 * refuses instead of masking; records from before sealing stay masked.
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

#include "identity/identity.h"

static struct qloop_error err;

/* A store with a department, its provider, a steward, a leader, and one
 * report filed by the steward on a record whose key is an identity number
 * (stored masked, sealed). Returns the ticket. */
static int64_t setup_store(sqlite3 *db)
{
    set_now("2024-09-02T09:00:00+08:00");
    qloop_error_clear(&err);
    exec(db, "INSERT INTO catalog_datasets(dataset, owner, added_at, changed_at, version)"
             " VALUES('people', '市公安局', '2024-01-01T00:00:00+08:00', '2024-01-01T00:00:00+08:00', 1)");
    assert_int_equal(ident_dept_add(db, "市公安局", NULL, false, "t", NULL, &err), 0);
    assert_int_equal(ident_dept_add(db, "大数据局", NULL, true, "t", NULL, &err), 0);
    assert_int_equal(ident_user_add(db, "prov", IDENT_PROVIDER, "市公安局", NULL, "password-1", "t", &err), 0);
    assert_int_equal(ident_user_add(db, "adm", IDENT_ADMIN, NULL, NULL, "password-1", "t", &err), 0);
    assert_int_equal(ident_user_add(db, "st", IDENT_STEWARD, "大数据局", NULL, "password-1", "t", &err), 0);
    assert_int_equal(ident_user_add(db, "lead", IDENT_LEADER, NULL, NULL, "password-1", "t", &err), 0);
    struct qloop_policy p = ningbo();
    struct ticket_report r = {.dataset = "people", .key = "330110199001011233", .field = "phone",
                              .value = "13812345678", .message = "号码停机", .actor = "st"};
    int64_t tid = 0;
    assert_int_equal(ticket_file(db, &r, "file", &p, &tid, NULL, &err), 0);
    return tid;
}

static int64_t reveals(sqlite3 *db)
{
    return q_int(db, "SELECT count(*) FROM audit WHERE kind = 'ticket.reveal'");
}

static void records_for_each_user(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    int64_t id = setup_store(db);
    json_t *recs;
    /* The owner's provider and an admin: unmasked, audited. */
    const char *owners[] = {"prov", "adm"};
    for (int i = 0; i < 2; i++) {
        int64_t before = reveals(db);
        assert_int_equal(ticket_records_json(db, id, owners[i], &recs, &err), 0);
        json_t *r = json_array_get(recs, 0);
        assert_string_equal(json_string_value(json_object_get(r, "record_key")), "330110199001011233");
        assert_string_equal(json_string_value(json_object_get(r, "value")), "13812345678");
        assert_true(json_is_true(json_object_get(r, "revealed")));
        json_decref(recs);
        assert_int_equal(reveals(db), before + 1);
        assert_string_equal(q_text(db, "SELECT actor FROM audit WHERE kind = 'ticket.reveal'"
                                       " ORDER BY seq DESC LIMIT 1"),
                            owners[i]);
    }
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE instr(detail, '199001011233')"
                               " OR instr(detail, '12345678')"),
                     0);
    /* The steward may see the ticket, masked, unaudited. */
    int64_t before = reveals(db);
    assert_int_equal(ticket_records_json(db, id, "st", &recs, &err), 0);
    const char *k = json_string_value(json_object_get(json_array_get(recs, 0), "record_key"));
    assert_null(strstr(k, "199001011233"));
    json_decref(recs);
    assert_int_equal(reveals(db), before);
    /* Asked to reveal, it is refused instead. */
    json_t *t;
    assert_int_equal(ticket_show_json_as(db, id, "st", TICKET_REVEAL, &t, &err), -1);
    assert_non_null(strstr(err.message, "查看明文记录"));
    /* A leader may not see the ticket at all; nor a login that is none. */
    assert_int_equal(ticket_records_json(db, id, "lead", &recs, &err), -1);
    assert_int_equal(ticket_records_json(db, id, "nobody", &recs, &err), -1);
    assert_int_equal(ticket_records_json(db, 999, "prov", &recs, &err), -1);
    /* A disabled provider reveals nothing. */
    assert_int_equal(ident_user_disable(db, "prov", "t", NULL, &err), 0);
    assert_int_equal(ticket_records_json(db, id, "prov", &recs, &err), -1);
    assert_int_equal(reveals(db), before);
    store_close(db);
}

/* A record stored before sealing (an upgraded store) stays masked, counted
 * as not revealed. */
static void unsealed_records_stay_masked(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    int64_t id = setup_store(db);
    exec(db, "UPDATE ticket_items SET sealed = NULL");
    json_t *t;
    assert_int_equal(ticket_show_json_as(db, id, "prov", TICKET_REVEAL, &t, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "revealed")), 0);
    json_t *r = json_array_get(json_object_get(t, "records"), 0);
    assert_false(json_is_true(json_object_get(r, "revealed")));
    assert_null(strstr(json_string_value(json_object_get(r, "record_key")), "199001011233"));
    json_decref(t);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_for_each_user),
        cmocka_unit_test(unsealed_records_stay_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
