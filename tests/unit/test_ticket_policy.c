/*
 * test_ticket_policy.c — a ticket keeps the policy it was opened under for
 * its whole life (CONTRACT.md, Ticket states): a command's policy does not
 * change an open ticket's cap, approver or urgent rule; an edited policy
 * file of the same name does not either; a run under another policy reopens
 * a ticket with the deadline of the ticket's own; reminders follow each
 * ticket's own period; a ticket from before policies were stored is held to
 * the policy of its name.
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

#include "base/clock.h"
#include "loop/outbox.h"

/* The one ticket of dataset people (a run's). */
static int64_t people_ticket(sqlite3 *db)
{
    return q_int(db, "SELECT id FROM tickets WHERE dataset = 'people' ORDER BY id DESC LIMIT 1");
}

/* A store whose one ticket (*a) a run opened under ningbo on Fri 27 Sep
 * 2024: deadline 10 Oct, extensions up to 26 Nov. */
static sqlite3 *ningbo_ticket(int64_t *a)
{
    sqlite3 *db = db_open();
    struct qloop_policy nb = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &nb);
    *a = people_ticket(db);
    assert_string_equal(q_text(db, "SELECT policy FROM tickets WHERE id = %lld", (long long)*a),
                        "ningbo");
    return db;
}

static void test_command_policy_does_not_rule(void **state)
{
    (void)state;
    int64_t a;
    sqlite3 *db = ningbo_ticket(&a);
    struct qloop_policy nb = ningbo(), wz = wenzhou();
    struct qloop_error err;
    qloop_error_clear(&err);
    set_now("2024-09-30T09:00:00+08:00");
    /* --policy wenzhou (cap 30 Oct) changes nothing: ningbo's 26 Nov holds. */
    assert_int_equal(ticket_extend(db, a, "2024-11-27", "数据量大", "李四", &wz, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-11-26"));
    assert_null(strstr(err.message, "2024-10-30"));
    assert_int_equal(ticket_extend(db, a, "2024-11-20", "数据量大", "李四", &wz, &err), 0);
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'extension.requested'"
                                   " AND ticket_id = %lld", (long long)a),
                        "大数据主管部门");
    assert_int_equal(ticket_approve(db, a, "局长", &wz, &err), 0);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)a),
                        "2024-11-20T23:59:59+08:00");

    /* Opened under wenzhou: a ningbo command keeps wenzhou's cap and approver. */
    struct sim s = {"r2", "2024-09-27T10:00:00+08:00", "orgs", "市民政局", "orgs.phone", 0,
                    {"O1"}, {"O1"}};
    run_sim(db, &s, &wz);
    int64_t b = q_int(db, "SELECT id FROM tickets WHERE dataset = 'orgs'");
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_extend(db, b, "2024-11-20", "数据量大", "李四", &nb, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-10-30"));
    assert_int_equal(ticket_extend(db, b, "2024-10-30", "数据量大", "李四", &nb, &err), 0);
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'extension.requested'"
                                   " AND ticket_id = %lld", (long long)b),
                        "市民政局 数源部门负责人");
    store_close(db);
}

static void test_edited_policy_of_the_same_name(void **state)
{
    (void)state;
    int64_t a;
    sqlite3 *db = ningbo_ticket(&a);
    struct qloop_policy nb = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    /* The file is edited later: ningbo now allows 10 days and no urgency. */
    struct qloop_policy edited = nb;
    edited.extension_days = 10;
    edited.urgent_own_deadline = false;
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_extend(db, a, "2024-11-26", "数据量大", "李四", &edited, &err), 0);
    assert_int_equal(ticket_approve(db, a, "局长", &edited, &err), 0);
    /* A ticket opened under the edited file is held to it. */
    phone_run(db, "r2", "2024-10-08T10:00:00+08:00", "P2 Q1", "P2 Q1", &edited);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_policies"), 1);
    struct sim s = {"r3", "2024-10-08T10:00:00+08:00", "orgs", "市民政局", "orgs.phone", 0,
                    {"O1"}, {"O1"}};
    run_sim(db, &s, &edited);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_policies"), 2);
    int64_t b = q_int(db, "SELECT id FROM tickets WHERE dataset = 'orgs'");
    set_now("2024-10-09T09:00:00+08:00");
    assert_int_equal(ticket_extend(db, b, "2024-11-26", "数据量大", "李四", &nb, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-10-18"));
    store_close(db);
}

static void test_reopen_and_reminders_follow_the_ticket(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy nb = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    /* A city policy: 10 natural days to answer, reminders 3 working days ahead. */
    struct qloop_policy city = nb;
    snprintf(city.name, sizeof city.name, "city");
    city.response_days = 10;
    city.response_natural = true;
    city.reminder_days = 3;
    phone_run(db, "r1", "2024-11-04T02:00:00+08:00", "P2", "P2", &city);
    int64_t a = people_ticket(db);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)a),
                        "2024-11-14T23:59:59+08:00");
    /* A ningbo scan (1 day ahead) on Mon 11 Nov still reminds 3 days ahead. */
    set_now("2024-11-11T09:00:00+08:00");
    assert_int_equal(outbox_scan(db, &nb, qloop_now(), &err), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.reminder'"
                               " AND ticket_id = %lld", (long long)a),
                     1);
    /* Fixed, closed, then failing again in a ningbo run: reopened with the
     * city's 10 natural days, and the provider told the new deadline. */
    phone_run(db, "r2", "2024-11-12T02:00:00+08:00", "", "P2", &nb);
    assert_string_equal(state_of(db, a), "shared");
    phone_run(db, "r3", "2024-12-02T02:00:00+08:00", "P2", "P2", &nb);
    assert_string_equal(q_text(db, "SELECT state || '|' || received_at || '|' || deadline"
                                   " FROM tickets WHERE id = %lld", (long long)a),
                        "feedback|2024-12-02T02:00:00+08:00|2024-12-12T23:59:59+08:00");
    const char *msg = q_text(db, "SELECT message FROM outbox WHERE ticket_id = %lld"
                                 " AND event_key LIKE 'reopened:%%'", (long long)a);
    assert_non_null(strstr(msg, "重新打开"));
    assert_non_null(strstr(msg, "2024-12-12"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.items_added'"
                               " AND ticket_id = %lld", (long long)a),
                     0);
    store_close(db);
}

static void test_tickets_from_before(void **state)
{
    (void)state;
    int64_t a;
    sqlite3 *db = ningbo_ticket(&a);
    struct qloop_policy nb = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    /* As an upgraded store has them: only the policy's name. */
    exec(db, "UPDATE tickets SET policy_id = NULL, policy = 'wenzhou' WHERE id = %lld",
         (long long)a);
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_extend(db, a, "2024-11-20", "数据量大", "李四", &nb, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-10-30"));
    /* A policy of old that cannot be found: said so, with what to do... */
    exec(db, "UPDATE tickets SET policy = 'hangzhou' WHERE id = %lld", (long long)a);
    assert_int_equal(ticket_extend(db, a, "2024-10-20", "数据量大", "李四", &nb, &err), -1);
    assert_non_null(strstr(err.message, "hangzhou"));
    assert_non_null(strstr(err.message, "QLOOP_POLICY_DIR"));
    /* ...unless the command names a policy of that name. */
    struct qloop_policy hz = nb;
    snprintf(hz.name, sizeof hz.name, "hangzhou");
    hz.extension_days = 21; /* from receipt: 18 Oct */
    assert_int_equal(ticket_extend(db, a, "2024-10-18", "数据量大", "李四", &hz, &err), 0);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_policy_does_not_rule),
        cmocka_unit_test(test_edited_policy_of_the_same_name),
        cmocka_unit_test(test_reopen_and_reminders_follow_the_ticket),
        cmocka_unit_test(test_tickets_from_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
