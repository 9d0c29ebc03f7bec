/*
 * test_ticket_sync.c — what a run does to the tickets: opening them (handed
 * over or waiting), dedupe over repeated runs, the re-check outcomes (fixed,
 * still failing, missing, reappeared, resolved when vanished), corrected
 * tickets passing or failing their re-check, reopening after shared and
 * confirmed, department statistics, the open records a run asks for, the
 * list/show JSON, and a sync refused for an unknown run or policy.
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
#include <jansson.h>

#include "store_helpers.h"
#include "ticket_helpers.h"

#include "base/clock.h"
#include "report.h"
#include "store/schema.h"

/* ---- runs open tickets ---------------------------------------------------- */

static void test_run_opens_ticket_in_feedback(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct ticket_sync_counts c = phone_run(db, "r1", "2024-09-27T10:00:00+08:00",
                                            "P2 P3", "P1 P2 P3", &p);
    assert_int_equal(c.opened, 1);
    assert_int_equal(c.updated, 0);
    assert_int_equal(c.reverified, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT dept FROM tickets WHERE id = 1"), "市公安局");
    assert_string_equal(q_text(db, "SELECT received_at FROM tickets WHERE id = 1"),
                        "2024-09-27T10:00:00+08:00");
    /* Fri 27 Sep 2024: Sun 29 Sep (调休) and Mon 30 Sep, 1-7 Oct off, 8, 9, 10 Oct. */
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"),
                        "2024-10-10T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT message FROM tickets WHERE id = 1"), "手机号格式错误");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 1 AND state = 'open'"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE ticket_id = 1"), 2);
    assert_string_equal(q_text(db, "SELECT event || ':' || coalesce(from_state, '-') || '>' || to_state"
                                   " FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC"),
                        "feedback:discovered>feedback");
    assert_string_equal(q_text(db, "SELECT actor FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC"),
                        "system");
    assert_int_equal(audit_count(db, 1, "ticket.open"), 1);
    assert_int_equal(audit_count(db, 1, "ticket.transition"), 1);
    /* both records of the run in one audit entry that lists each */
    assert_int_equal(audit_count(db, 1, "ticket.item"), 1);
    const char *items = q_text(db, "SELECT detail FROM audit WHERE kind = 'ticket.item'");
    assert_non_null(strstr(items, "\"change\":\"added\""));
    assert_non_null(strstr(items, "\"count\":2"));
    assert_non_null(strstr(items, "\"items\":[[1,\""));
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.feedback'"
                               " AND recipient = '市公安局' AND ticket_id = 1"),
                     1);
    audit_whole(db);
    store_close(db);
}

static void test_unknown_owner_and_manual_policy(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = manual_feedback();
    struct sim s = {"r1", "2024-09-27T10:00:00+08:00", "people", NULL, "people.phone", 0,
                    {"P2"}, {"P2"}};
    run_sim(db, &s, &p);
    assert_string_equal(state_of(db, 1), "discovered");
    assert_string_equal(q_text(db, "SELECT dept FROM tickets WHERE id = 1"), "未指定部门");
    assert_string_equal(q_text(db, "SELECT received_at FROM tickets WHERE id = 1"), "(null)");
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"), "(null)");
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.opened'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.feedback'"), 0);
    store_close(db);
}

static void test_dedupe_over_repeated_runs(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P1 P2 P3", &p);
    struct ticket_sync_counts c = phone_run(db, "r2", "2024-09-28T02:00:00+08:00",
                                            "P2 P3", "P1 P2 P3", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(c.updated, 0);
    assert_int_equal(c.reverified, 1);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2=139 P3", "P1 P2 P3", &p);
    /* a record still failing shows its latest value */
    assert_string_equal(q_text(db, "SELECT value FROM ticket_items WHERE id = 1"), "139");
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 2);
    /* The received_at and deadline do not move with later runs. */
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"),
                        "2024-10-10T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT last_run FROM ticket_items WHERE id = 1"), "r3");
    /* A new failing record joins the open ticket. */
    c = phone_run(db, "r4", "2024-09-30T02:00:00+08:00", "P2 P3 P4", "P1 P2 P3 P4", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(c.updated, 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 1"), 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.items_added'"), 1);
    /* Two findings of one record in one run make one item. */
    struct sim s5 = {"r5", "2024-09-30T03:00:00+08:00", "people", "市公安局", "people.other", 0,
                     {"P7", "P7"}, {"P7"}};
    run_sim(db, &s5, &p);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE rule = 'people.other'"), 1);
    /* The indexes refuse a second open item or ticket whatever the code does. */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref,"
                                      " state, added_at) SELECT ticket_id, dataset, rule, record_ref,"
                                      " 'open', added_at FROM ticket_items WHERE id = 1",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO tickets(dataset, rule, source, dept, state, policy,"
                                      " opened_at, opened_by) VALUES('people', 'people.phone', 'run',"
                                      " 'x', 'discovered', 'ningbo', '2024', 'system')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    audit_whole(db);
    store_close(db);
}

/* ---- re-check outcomes ----------------------------------------------------- */

static void test_recheck_outcomes(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "A B C D", "A B C D", &p);
    /* A fixed (seen, no finding); B still failing; C and D gone from the data. */
    struct ticket_sync_counts c = phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "B", "A B", &p);
    assert_int_equal(c.reverified, 1);
    assert_int_equal(c.updated, 1);
    assert_string_equal(item_state(db, "people", "A"), "fixed");
    assert_string_equal(item_state(db, "people", "B"), "open");
    assert_string_equal(item_state(db, "people", "C"), "missing");
    assert_string_equal(item_state(db, "people", "D"), "missing");
    assert_string_equal(state_of(db, 1), "feedback");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'ticket.item'"
                               " AND detail LIKE '%%\"change\":\"missing\"%%'"
                               " AND detail LIKE '%%\"count\":2%%'"),
                     1);
    /* C comes back still failing: open again (missing cleared). */
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "B C", "A B C", &p);
    assert_string_equal(item_state(db, "people", "C"), "open");
    assert_string_equal(item_state(db, "people", "D"), "missing");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE detail LIKE '%%\"change\":\"reappeared\"%%'"), 1);
    /* A run of another rule on the dataset does not judge these items. */
    struct sim s4 = {"r4", "2024-09-29T03:00:00+08:00", "people", "市公安局", "people.name", 0,
                     {0}, {"A"}};
    c = run_sim(db, &s4, &p);
    assert_int_equal(c.reverified, 0);
    assert_string_equal(item_state(db, "people", "B"), "open");
    /* A rule that says a vanished record is resolved: D is fixed. */
    struct sim s5 = {"r5", "2024-09-30T02:00:00+08:00", "people", "市公安局", "people.phone", 1,
                     {"B", "C"}, {"A", "B", "C"}};
    run_sim(db, &s5, &p);
    assert_string_equal(item_state(db, "people", "D"), "fixed");
    assert_string_equal(q_text(db, "SELECT closed_run FROM ticket_items WHERE id = 4"), "r5");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE detail LIKE '%%\"change\":\"fixed_missing\"%%'"), 1);
    /* Everything passes: a ticket still with its provider is closed as shared. */
    phone_run(db, "r6", "2024-10-08T02:00:00+08:00", "", "A B C", &p);
    assert_string_equal(state_of(db, 1), "shared");
    assert_string_equal(q_text(db, "SELECT closed_at FROM tickets WHERE id = 1"),
                        "2024-10-08T02:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT answered_at FROM tickets WHERE id = 1"),
                        "2024-10-08T02:00:00+08:00");
    audit_whole(db);
    store_close(db);
}

/* SQLITE_TRACE_STMT: counts the counts of a ticket's open items. */
/* A ticket whose records fail again keeps open items: the re-check does not
 * count them (one count per ticket over its items' index entries a night);
 * a ticket with none failing again is counted, and closed when none is left
 * open. */
static void test_failing_again_not_counted(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "A B", "A B", &p);
    int counts = 0;
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_open_counts, &counts);
    struct ticket_sync_counts c = phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "A", "A B", &p);
    assert_int_equal(c.reverified, 1);
    assert_int_equal(counts, 0);
    assert_string_equal(item_state(db, "people", "B"), "fixed");
    assert_string_equal(state_of(db, 1), "feedback");
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "", "A B", &p);
    assert_int_equal(counts, 1);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    assert_string_equal(state_of(db, 1), "shared");
    audit_whole(db);
    store_close(db);
}

static void test_corrected_passes_to_shared(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    set_now("2024-10-08T15:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", "已更正", &err), 0);
    assert_string_equal(state_of(db, 1), "corrected");
    assert_string_equal(q_text(db, "SELECT note FROM tickets WHERE id = 1"), "数源部门答复：完成整改。已更正");
    struct ticket_sync_counts c = phone_run(db, "r2", "2024-10-09T02:00:00+08:00", "", "P2 P3", &p);
    assert_int_equal(c.reverified, 1);
    assert_int_equal(c.updated, 1);
    assert_string_equal(state_of(db, 1), "shared");
    assert_string_equal(q_text(db, "SELECT event || ':' || from_state || '>' || to_state || ':' || actor"
                                   " FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC"),
                        "recheck_pass:corrected>shared:system");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE state = 'fixed'"), 2);
    assert_string_equal(q_text(db, "SELECT answered_at FROM tickets WHERE id = 1"),
                        "2024-10-08T15:00:00+08:00");
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.closed'"), 1);
    /* Closed: nothing more is allowed. */
    set_now("2024-10-09T09:00:00+08:00");
    qloop_error_clear(&err);
    assert_int_equal(ticket_feedback(db, 1, "王五", false, NULL, &p, &err), -1);
    assert_non_null(strstr(err.message, "已关闭"));
    store_close(db);
}

static void test_corrected_fails_back_to_feedback(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", NULL, &err), 0);
    phone_run(db, "r2", "2024-10-01T02:00:00+08:00", "P3", "P2 P3", &p);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT received_at FROM tickets WHERE id = 1"),
                        "2024-09-27T10:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"),
                        "2024-10-10T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT event || '|' || deadline_before || '|' || deadline_after"
                                   " FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC"),
                        "recheck_fail|2024-10-10T23:59:59+08:00|2024-10-10T23:59:59+08:00");
    assert_non_null(strstr(q_text(db, "SELECT reason FROM ticket_history ORDER BY id DESC"),
                           "1 条记录仍不符合规则"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.recheck_failed'"), 1);
    assert_string_equal(item_state(db, "people", "P2"), "fixed");
    assert_string_equal(item_state(db, "people", "P3"), "open");
    audit_whole(db);
    store_close(db);
}

/* The department answered 完成整改 by correcting the keys themselves (a
 * lowercase x uppercased): the old keys are missing from the next data and
 * nothing fails. That is no failed re-check (no 假整改): the ticket stays
 * corrected, is never overdue, tells the steward once what to do, and the
 * assessment does not count it against the department. */
static void test_fixed_key_waits_for_steward(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "k1x k2x", "k1x k2x", &p);
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", "主键末位改为大写 X", &err), 0);
    struct ticket_sync_counts c = phone_run(db, "r2", "2024-10-08T02:00:00+08:00", "", "K1X K2X", &p);
    assert_int_equal(c.reverified, 1);
    assert_string_equal(state_of(db, 1), "corrected");
    assert_string_equal(item_state(db, "people", "k1x"), "missing");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE event = 'recheck_fail'"), 0);
    const char *why = q_text(db, "SELECT event || '|' || from_state || '>' || to_state || '|' || reason"
                                 " FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC");
    assert_non_null(strstr(why, "recheck_missing|corrected>corrected|"));
    assert_non_null(strstr(why, "不视为复核未通过"));
    assert_non_null(strstr(why, "qloop tickets verify 1"));
    assert_non_null(strstr(why, "resolve_missing"));
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'ticket.verify_needed'"),
                        "数据治理人员");
    assert_int_equal(audit_count(db, 1, "ticket.event"), 1);
    /* Told once, not every night; never overdue, past its deadline too. */
    phone_run(db, "r3", "2024-10-21T02:00:00+08:00", "", "K1X K2X", &p);
    assert_string_equal(state_of(db, 1), "corrected");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE event = 'recheck_missing'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.verify_needed'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.overdue'"), 0);
    assert_int_equal(q_int(db, "SELECT open_overdue FROM dept_stats WHERE run_id = 'r3'"), 0);
    json_t *list = NULL;
    struct ticket_filter f = {.overdue = true};
    assert_int_equal(ticket_list_json(db, &f, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* The assessment: answered on time, no failed re-check, nothing overdue. */
    struct report_period period;
    assert_int_equal(report_period_init(&period, 2024, 0, qloop_now(), &err), 0);
    json_t *facts = NULL;
    assert_int_equal(report_facts(db, &period, &facts, &err), 0);
    json_t *t = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(facts, "departments"), i, d)
        if (strcmp(json_string_value(json_object_get(d, "name")), "市公安局") == 0)
            t = json_object_get(d, "tickets");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(t, "recheck_failed")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "overdue_open")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "on_time")), 1);
    json_decref(facts);
    /* The steward confirms the fix: shared, its records fixed. */
    set_now("2024-10-21T09:00:00+08:00");
    assert_int_equal(ticket_verify(db, 1, "数据治理科", true, "主键已统一为大写", &err), 0);
    assert_string_equal(state_of(db, 1), "shared");
    assert_string_equal(item_state(db, "people", "k2x"), "fixed");
    /* One record still failing besides a missing one is a failed re-check. */
    phone_run(db, "r4", "2024-10-22T02:00:00+08:00", "P7 P8", "P7 P8", &p);
    int64_t t2 = q_int(db, "SELECT id FROM tickets WHERE state = 'feedback'");
    set_now("2024-10-22T09:00:00+08:00");
    assert_int_equal(ticket_resolve(db, t2, "rectified", "李四", NULL, &err), 0);
    phone_run(db, "r5", "2024-10-23T02:00:00+08:00", "P8", "P8", &p);
    assert_string_equal(state_of(db, t2), "feedback");
    assert_non_null(strstr(q_text(db, "SELECT reason FROM ticket_history WHERE ticket_id = %lld"
                                      " ORDER BY id DESC", (long long)t2),
                           "1 条记录仍不符合规则，1 条记录在本次数据中缺失"));
    audit_whole(db);
    store_close(db);
}

static void test_reopen_after_shared_and_confirmed(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "", "P2", &p);
    assert_string_equal(state_of(db, 1), "shared");
    /* P2 fails again and no ticket is open: the closed ticket is reopened,
     * handed back with a new receipt and deadline; the item names it. */
    struct ticket_sync_counts c = phone_run(db, "r3", "2024-10-12T02:00:00+08:00", "P2", "P2", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(c.updated, 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT event || '|' || from_state || '|' || to_state"
                                   " FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC"),
                        "reopen|shared|feedback");
    assert_int_equal(q_int(db, "SELECT reopened_from FROM ticket_items WHERE ticket_id = 1"
                               " AND state = 'open'"), 1);
    assert_string_equal(q_text(db, "SELECT received_at FROM tickets WHERE id = 1"),
                        "2024-10-12T02:00:00+08:00");
    /* Sat 12 Oct 2024 is a make-up working day, not counted: 14-18 Oct. */
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"),
                        "2024-10-18T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT closed_at FROM tickets WHERE id = 1"), "(null)");
    assert_non_null(strstr(q_text(db, "SELECT detail FROM audit WHERE subject = 'ticket:1'"
                                      " AND kind = 'ticket.item' ORDER BY seq DESC"),
                           "\"reopened_from\":1"));

    /* A ticket already open for the rule takes the recurring record instead. */
    c = phone_run(db, "r3b", "2024-10-13T02:00:00+08:00", "P2 P9", "P2 P9", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 1 AND state = 'open'"), 2);

    /* Confirmed correct: the same value is not reported again; a new value is. */
    set_now("2024-10-14T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "confirmed", "李四", "号码属实", &err), 0);
    assert_string_equal(state_of(db, 1), "confirmed");
    assert_string_equal(item_state(db, "people", "P2"), "closed");
    c = phone_run(db, "r4", "2024-10-15T02:00:00+08:00", "P2", "P2", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_string_equal(state_of(db, 1), "confirmed");
    c = phone_run(db, "r5", "2024-10-16T02:00:00+08:00", "P2=12", "P2", &p);
    assert_int_equal(c.opened, 0);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT event || '|' || from_state FROM ticket_history"
                                   " WHERE ticket_id = 1 ORDER BY id DESC"),
                        "reopen|confirmed");
    audit_whole(db);
    store_close(db);
}

/* Several records of one closed ticket fail again in one run, one of them
 * twice: the first reopens the ticket and names it (reopened_from); the
 * others join the ticket then open, as records joining an open ticket do;
 * the record found twice is one item. After 确认无误, a record found twice
 * with its confirmed value and a new one is reported once, by the new one. */
static void test_reopen_many_in_one_run(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3 P4", "P2 P3 P4", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "", "P2 P3 P4", &p);
    assert_string_equal(state_of(db, 1), "shared");
    struct ticket_sync_counts c =
        phone_run(db, "r3", "2024-10-12T02:00:00+08:00", "P2 P3 P2=x", "P2 P3 P4", &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT group_concat(record_key || ':' || value || ':'"
                                   " || coalesce(reopened_from, '-'), ' ') FROM (SELECT * FROM"
                                   " ticket_items WHERE ticket_id = 1 AND state = 'open' ORDER BY id)"),
                        "P2:bad:1 P3:bad:-");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE ticket_id = 1"
                               " AND event = 'reopen'"), 1);
    /* confirmed; then P2 twice: its confirmed value, and a new one */
    set_now("2024-10-14T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "confirmed", "李四", "号码属实", &err), 0);
    phone_run(db, "r4", "2024-10-16T02:00:00+08:00", "P2 P2=new", "P2 P3 P4", &p);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT group_concat(record_key || ':' || value || ':'"
                                   " || coalesce(reopened_from, '-'), ' ') FROM (SELECT * FROM"
                                   " ticket_items WHERE ticket_id = 1 AND state = 'open' ORDER BY id)"),
                        "P2:new:1");
    audit_whole(db);
    store_close(db);
}

/* The batched audit entry of a run's new items has the bytes one jansson
 * object (JSON_COMPACT) had: here with a run id that needs escaping (a
 * quote, a backslash, a control character, Chinese, a byte that is not
 * UTF-8: repaired to U+FFFD) and a record ref that is not hex. */
static void test_item_audit_text(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    const char *run = "r\"1\\\x01中\xff";
    const char *hex = "0123456789abcdef0123456789abcdef";
    set_now("2024-09-27T10:00:00+08:00");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q,"
             " '2024-09-27T10:00:00+08:00', '2024-09-27T10:00:00+08:00', 'running', '[]')", run);
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES(%Q, 'people', 2,"
             " '市公安局')", run);
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
             " checked, failed, errors) VALUES(%Q, 'people.phone', 'people', 'phone', 'normative',"
             " 'medium', '手机号格式错误', 2, 2, 0)", run);
    exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message) VALUES(%Q, 'people', 'people.phone', 2, 'a\"b\\c', 'K1', 'phone',"
             " 'x', '手机号格式错误'), (%Q, 'people', 'people.phone', 3, %Q, 'K2', 'phone', 'y',"
             " '手机号格式错误')", run, run, hex);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(store_begin(db, &err), 0);
    if (ticket_sync_run_policy(db, run, &p, NULL, &err) != 0)
        fail_msg("ticket_sync_run: %s", err.message);
    assert_int_equal(store_commit(db, &err), 0);
    json_t *want = json_pack("{s:I,s:s,s:s,s:I,s:[[I,s],[I,s]]}", "ticket", (json_int_t)1, "change",
                             "added", "run", "r\"1\\\x01中\xEF\xBF\xBD", "count", (json_int_t)2,
                             "items", (json_int_t)1, "a\"b\\c", (json_int_t)2, hex);
    assert_non_null(want);
    char *text = json_dumps(want, JSON_COMPACT);
    json_decref(want);
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE kind = 'ticket.item'"), text);
    free(text);
    audit_whole(db);
    store_close(db);
}

/* ---- statistics, reading ----------------------------------------------------- */

static void test_dept_stats(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P1", "P1", &p);
    struct sim b1 = {"r2", "2024-09-27T10:00:00+08:00", "firms", "市场监管局", "firms.uscc", 0,
                     {"F1"}, {"F1"}};
    run_sim(db, &b1, &p);
    struct sim c1 = {"r3", "2024-09-27T10:00:00+08:00", "shops", "市场监管局", "shops.phone", 0,
                     {"S1"}, {"S1"}};
    run_sim(db, &c1, &p);
    assert_int_equal(q_int(db, "SELECT opened FROM dept_stats WHERE run_id = 'r2' AND dept = '市场监管局'"), 1);
    set_now("2024-10-08T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", NULL, &err), 0); /* on time */
    set_now("2024-10-15T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 2, "confirmed", "赵六", NULL, &err), 0); /* late */
    phone_run(db, "r4", "2024-10-16T02:00:00+08:00", "", "P1", &p);
    assert_string_equal(state_of(db, 1), "shared");
    assert_int_equal(q_int(db, "SELECT closed_on_time FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 1);
    assert_int_equal(q_int(db, "SELECT closed_late FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 0);
    assert_int_equal(q_int(db, "SELECT closed_on_time FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 0);
    assert_int_equal(q_int(db, "SELECT closed_late FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_overdue FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_total FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_total FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 0);
    /* Each closing is counted by one run only. */
    phone_run(db, "r5", "2024-10-17T02:00:00+08:00", "", "P1", &p);
    assert_int_equal(q_int(db, "SELECT sum(closed_on_time + closed_late) FROM dept_stats WHERE run_id = 'r5'"), 0);
    assert_int_equal(q_int(db, "SELECT sum(closed_on_time) + sum(closed_late) FROM dept_stats"), 2);
    store_close(db);
}

static void collect_ref(void *ctx, const char *ref)
{
    int *n = ctx;
    assert_int_equal(strlen(ref), 32);
    (*n)++;
}

/* collect_ref's sibling: the refs themselves, joined by spaces. */
static void list_ref(void *ctx, const char *ref)
{
    char *out = ctx;
    strncat(out, ref, 32);
    strcat(out, " ");
}

/* ticket_open_keys' callback: "ref:key" (key "-" when NULL), by spaces. */
static void list_key(void *ctx, const char *ref, const char *key)
{
    char *out = ctx;
    strncat(out, ref, 1);
    strcat(out, ":");
    strcat(out, key ? key : "-");
    strcat(out, " ");
}

static int cmp_ref_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ticket_open_refs reads the items by ticket: exactly the refs of the
 * dataset's open and missing items (once per item, over the dataset's
 * tickets), never a fixed or closed one's, nor another dataset's. */
static void test_open_refs_states(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const char *A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", *B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
               *C = "cccccccccccccccccccccccccccccccc", *D = "dddddddddddddddddddddddddddddddd";
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at, opened_by)"
             " VALUES(1, 'people', 'people.x', 'run', '市公安局', 'feedback', 'p', 't', 'system'),"
             " (2, 'people', 'people.y', 'run', '市公安局', 'feedback', 'p', 't', 'system'),"
             " (3, 'other', 'other.x', 'run', '市公安局', 'feedback', 'p', 't', 'system');"
             "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at) VALUES"
             " (1, 'people', 'people.x', '%s', 'open', 't'), (2, 'people', 'people.y', '%s', 'open', 't'),"
             " (1, 'people', 'people.x', '%s', 'missing', 't'), (1, 'people', 'people.x', '%s', 'fixed', 't'),"
             " (2, 'people', 'people.y', '%s', 'closed', 't'), (2, 'people', 'people.y', '%s', 'closed', 't'),"
             " (3, 'other', 'other.x', '%s', 'open', 't');",
             A, A, B, C, D, D, D);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    struct qloop_error err;
    qloop_error_clear(&err);
    char got[512] = "";
    assert_int_equal(ticket_open_refs(db, "people", list_ref, got, &err), 0);
    char *refs[8];
    size_t n = 0;
    for (char *tok = strtok(got, " "); tok && n < 8; tok = strtok(NULL, " "))
        refs[n++] = tok;
    qsort(refs, n, sizeof *refs, cmp_ref_text);
    assert_int_equal(n, 3);
    assert_string_equal(refs[0], A);
    assert_string_equal(refs[1], A);
    assert_string_equal(refs[2], B);
    got[0] = '\0';
    assert_int_equal(ticket_open_refs(db, "other", list_ref, got, &err), 0);
    assert_string_equal(got, "dddddddddddddddddddddddddddddddd ");
    got[0] = '\0';
    assert_int_equal(ticket_open_refs(db, "nobody", list_ref, got, &err), 0);
    assert_string_equal(got, "");
    /* ticket_open_keys: the same items, each (ref, key) once */
    exec(db, "UPDATE ticket_items SET record_key = 'k' || substr(record_ref, 1, 1)"
             " WHERE id <> 2");
    got[0] = '\0';
    assert_int_equal(ticket_open_keys(db, "people", list_key, got, &err), 0);
    n = 0;
    for (char *tok = strtok(got, " "); tok && n < 8; tok = strtok(NULL, " "))
        refs[n++] = tok;
    qsort(refs, n, sizeof *refs, cmp_ref_text);
    assert_int_equal(n, 3);
    assert_string_equal(refs[0], "a:-");
    assert_string_equal(refs[1], "a:ka");
    assert_string_equal(refs[2], "b:kb");
    got[0] = '\0';
    assert_int_equal(ticket_open_keys(db, "other", list_key, got, &err), 0);
    assert_string_equal(got, "d:kd ");
    store_close(db);
}

static void test_open_refs_and_json(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T10:00:00+08:00", "P3", "P2 P3", &p);
    int n = 0;
    assert_int_equal(ticket_open_refs(db, "people", collect_ref, &n, &err), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(ticket_open_refs(db, "other", collect_ref, &n, &err), 0);
    assert_int_equal(n, 0);

    set_now("2024-10-11T00:00:01+08:00");
    json_t *list = NULL;
    struct ticket_filter f = {.state = "feedback", .dept = "市公安局", .overdue = true};
    assert_int_equal(ticket_list_json(db, &f, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_t *t = json_array_get(list, 0);
    static const char *const keys[] = {"id", "dataset", "rule", "dept", "state", "items",
                                       "opened_at", "received_at", "deadline", "overdue"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(t, keys[i]))
            fail_msg("list object lacks %s", keys[i]);
    assert_int_equal(json_integer_value(json_object_get(t, "items")), 1);
    assert_true(json_is_true(json_object_get(t, "overdue")));
    assert_string_equal(json_string_value(json_object_get(t, "deadline")), "2024-10-10T23:59:59+08:00");
    json_decref(list);
    struct ticket_filter other = {.dept = "市民政局"};
    assert_int_equal(ticket_list_json(db, &other, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    json_t *show = NULL;
    assert_int_equal(ticket_show_json(db, 1, &show, &err), 0);
    json_t *records = json_object_get(show, "records");
    assert_int_equal(json_array_size(records), 2);
    static const char *const rkeys[] = {"record_key", "field", "value", "message", "row_no", "state"};
    for (size_t i = 0; i < sizeof rkeys / sizeof rkeys[0]; i++)
        if (!json_object_get(json_array_get(records, 0), rkeys[i]))
            fail_msg("record lacks %s", rkeys[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(records, 0), "state")), "fixed");
    assert_string_equal(json_string_value(json_object_get(json_array_get(records, 1), "state")), "open");
    json_t *history = json_object_get(show, "history");
    assert_int_equal(json_array_size(history), 2);
    static const char *const hkeys[] = {"at", "actor", "from", "to", "reason", "deadline_before",
                                        "deadline_after"};
    for (size_t i = 0; i < sizeof hkeys / sizeof hkeys[0]; i++)
        if (!json_object_get(json_array_get(history, 0), hkeys[i]))
            fail_msg("history lacks %s", hkeys[i]);
    assert_true(json_is_null(json_object_get(json_array_get(history, 0), "from")));
    assert_true(json_is_null(json_object_get(json_array_get(history, 0), "deadline_before")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(history, 1), "to")), "feedback");
    json_decref(show);
    assert_int_equal(ticket_show_json(db, 42, &show, &err), -1);
    assert_string_equal(ticket_state_zh("negotiated"), "沟通解决");
    assert_string_equal(ticket_state_zh("confirmed"), "确认无误");
    assert_true(ticket_state_valid("shared"));
    assert_false(ticket_state_valid("closed"));
    store_close(db);
}

/* A first night of many records: the run's new items go in by chunks
 * (loop/ticket_items.c, 8,192 findings a statement) and still come out as
 * one item per record in finding order — ids, values, NULLs as one INSERT
 * per record stored them ("" key and message as NULL, "" value kept, an
 * empty sealed copy as NULL), the second finding of a record left out —
 * with one audit entry listing every item in id order. */
static void test_many_items_in_chunks(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    const int n = 8192 * 2 + 5;
    set_now("2024-09-27T10:00:00+08:00");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r1', '2024-09-27',"
             " '2024-09-27T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES('r1', 'people', %d,"
             " '市公安局')", n);
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
             " checked, failed, errors, resolve_missing) VALUES('r1', 'people.phone', 'people',"
             " 'phone', 'normative', 'medium', '手机号格式错误', %d, %d, 0, 0)", n, n);
    /* rows 1..n, and row n + 1 the record of row 7 again */
    exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
             " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message, sealed)"
             " SELECT 'r1', 'people', 'people.phone', i,"
             " printf('ref%%06d', CASE WHEN i = %d THEN 7 ELSE i END),"
             " CASE WHEN i %% 3 THEN 'K' || i ELSE '' END, 'phone',"
             " CASE WHEN i %% 5 THEN 'v' || i ELSE '' END,"
             " CASE WHEN i %% 7 THEN '手机号格式错误' ELSE '' END,"
             " CASE i %% 4 WHEN 0 THEN x'' WHEN 1 THEN x'0102' END FROM k ORDER BY i",
         n + 1, n + 1);
    assert_int_equal(sync_committed(db, "r1", &p).opened, 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), n);
    /* item i is the finding of row i, its columns as tk_add_item wrote them */
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i JOIN findings f"
                               " ON f.row_no = i.id AND f.record_ref = i.record_ref"
                               " WHERE i.ticket_id = 1 AND i.state = 'open' AND i.row_no = f.row_no"
                               " AND i.dataset = 'people' AND i.rule = 'people.phone'"
                               " AND i.record_key IS nullif(f.record_key, '')"
                               " AND i.field = 'phone' AND i.value IS f.value"
                               " AND i.message IS nullif(f.message, '')"
                               " AND i.sealed IS (CASE WHEN length(f.sealed) THEN f.sealed END)"
                               " AND i.added_run = 'r1' AND i.last_run = 'r1'"
                               " AND i.added_at = '2024-09-27T10:00:00+08:00'"
                               " AND i.reopened_from IS NULL AND i.reporter IS NULL"),
                     n);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE value = ''"), n / 5);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE record_key IS NULL"), n / 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE sealed IS NULL"),
                     n - (n + 3) / 4);
    /* one audit entry: every item, in id order, with its ref */
    assert_int_equal(audit_count(db, 1, "ticket.item"), 1);
    char head[96];
    snprintf(head, sizeof head, "{\"ticket\":1,\"change\":\"added\",\"run\":\"r1\",\"count\":%d,"
             "\"items\":[[1,\"ref000001\"],", n);
    assert_string_equal(q_text(db, "SELECT substr(detail, 1, %d) FROM audit"
                                   " WHERE kind = 'ticket.item'", (int)strlen(head)),
                        head);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit a, json_each(a.detail, '$.items') j"
                               " JOIN ticket_items i ON i.id = j.key + 1"
                               " AND i.id = j.value ->> 0 AND i.record_ref = j.value ->> 1"
                               " WHERE a.kind = 'ticket.item'"),
                     n);
    audit_whole(db);
    store_close(db);
}

/* The items a run's findings make, as "dataset/rule/ref" in item order:
 * the first finding of each record of each dataset and rule, groups in
 * (dataset, rule) order, records in the order found. */
static const char *expected_items(sqlite3 *db, const char *run)
{
    return q_text(db, "SELECT group_concat(dataset || '/' || rule || '/' || record_ref, ' ')"
                      " FROM (SELECT dataset, rule, record_ref, min(id) AS first FROM findings"
                      " WHERE run_id = %Q GROUP BY dataset, rule, record_ref"
                      " ORDER BY dataset, rule, first)",
                  run);
}

/* A first night's findings are read in id order within the run's ids (no
 * item of their rules yet), a later night's through the index by record:
 * both give the items in (dataset, rule, finding) order, one per record,
 * each from its first finding, and only the run's own findings — here two
 * runs' findings interleave in id order, over three rules of two datasets
 * whose ids interleave too. */
static void test_new_items_order_over_interleaved_runs(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    const char *runs[] = {"r1", "r2"};
    for (int r = 0; r < 2; r++) {
        exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q,"
                 " '2024-09-2%dT10:00:00+08:00', '2024-09-2%dT10:00:00+08:00', 'running', '[]')",
             runs[r], 7 + r, 7 + r);
        exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES(%Q, 'people', 90,"
                 " '市公安局'), (%Q, 'orgs', 90, '市市场监管局')", runs[r], runs[r]);
        exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                 " message, checked, failed, errors) VALUES"
                 " (%Q, 'people.phone', 'people', 'phone', 'normative', 'medium', '手机号错误', 90, 30, 0),"
                 " (%Q, 'people.id', 'people', 'id', 'normative', 'high', '身份号错误', 90, 30, 0),"
                 " (%Q, 'orgs.code', 'orgs', 'code', 'normative', 'high', '代码错误', 90, 30, 0)",
             runs[r], runs[r], runs[r]);
    }
    /* rows 1..180: odd rows r1's, even rows r2's; rule by row % 3 (orgs.code
     * sorts first, its ids in between); refs repeat every 40 rows per run */
    exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 180)"
             " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message)"
             " SELECT CASE WHEN i %% 2 THEN 'r1' ELSE 'r2' END,"
             " CASE WHEN i %% 3 = 2 THEN 'orgs' ELSE 'people' END,"
             " CASE i %% 3 WHEN 0 THEN 'people.phone' WHEN 1 THEN 'people.id' ELSE 'orgs.code' END,"
             " i, printf('%%s-%%03d', CASE WHEN i %% 2 THEN 'a' ELSE 'b' END, i %% 40), 'K' || i,"
             " CASE i %% 3 WHEN 0 THEN 'phone' WHEN 1 THEN 'id' ELSE 'code' END, 'v' || i, 'm'"
             " FROM k ORDER BY i");
    const char *want1 = expected_items(db, "r1");
    const char *want2 = expected_items(db, "r2");
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    for (int r = 0; r < 2; r++) {
        assert_int_equal(store_begin(db, &err), 0);
        if (ticket_sync_run_policy(db, runs[r], &p, &c, &err) != 0)
            fail_msg("ticket_sync_run %s: %s", runs[r], err.message);
        assert_int_equal(store_commit(db, &err), 0);
        assert_int_equal(c.opened, r == 0 ? 3 : 0);
        assert_string_equal(q_text(db, "SELECT group_concat(dataset || '/' || rule || '/'"
                                       " || record_ref, ' ') FROM (SELECT * FROM ticket_items"
                                       " WHERE added_run = %Q ORDER BY id)",
                                   runs[r]),
                            r == 0 ? want1 : want2);
    }
    /* each item from its record's first finding in its run; r2's after r1's */
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i WHERE i.row_no ="
                               " (SELECT min(f.row_no) FROM findings f WHERE f.run_id = i.added_run"
                               "  AND f.dataset = i.dataset AND f.rule = i.rule"
                               "  AND f.record_ref = i.record_ref) AND i.value = 'v' || i.row_no"
                               " AND i.record_key = 'K' || i.row_no"),
                     q_int(db, "SELECT count(*) FROM ticket_items"));
    assert_int_equal(q_int(db, "SELECT max(id) FROM ticket_items WHERE added_run = 'r1'") <
                         q_int(db, "SELECT min(id) FROM ticket_items WHERE added_run = 'r2'"),
                     1);
    audit_whole(db);
    store_close(db);
}

/* A first night's findings are handed over one dataset + rule at a time
 * (loop/ticket_fresh.c): a rule of two fields (two kinds, made in the
 * other order than their rows' ids) gives one item per record from its
 * first finding of either field; datasets and rules go in BINARY order
 * ("Zeta" before "people" before "人口"), whatever their kinds' ids. */
static void test_fresh_groups_of_kinds(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r1',"
             " '2024-09-27T10:00:00+08:00', '2024-09-27T10:00:00+08:00', 'running', '[]');"
             "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES"
             " ('r1', 'people', 90, '市公安局'), ('r1', 'Zeta', 90, '市公安局'),"
             " ('r1', '人口', 90, '市公安局');"
             "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
             " message, checked, failed, errors) VALUES"
             " ('r1', 'people.two', 'people', 'phone', 'normative', 'medium', '两字段', 90, 60, 0),"
             " ('r1', 'Zeta.x', 'Zeta', 'x', 'normative', 'medium', 'x', 90, 30, 0),"
             " ('r1', '人口.y', '人口', 'y', 'normative', 'medium', 'y', 90, 30, 0);"
             /* kinds made in the order 人口, people/id, people/phone, Zeta */
             "INSERT INTO finding_kinds(dataset, rule, field) VALUES('人口', '人口.y', 'y'),"
             " ('people', 'people.two', 'id'), ('people', 'people.two', 'phone'),"
             " ('Zeta', 'Zeta.x', 'x')");
    exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 120)"
             " INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message)"
             " SELECT 'r1', CASE i %% 4 WHEN 0 THEN 'Zeta' WHEN 1 THEN '人口' ELSE 'people' END,"
             " CASE i %% 4 WHEN 0 THEN 'Zeta.x' WHEN 1 THEN '人口.y' ELSE 'people.two' END,"
             " i, printf('ref-%%03d', (i * 7) %% 23), 'K' || i,"
             " CASE i %% 4 WHEN 0 THEN 'x' WHEN 1 THEN 'y' WHEN 2 THEN 'phone' ELSE 'id' END,"
             " 'v' || i, 'm' FROM k ORDER BY i");
    const char *want = expected_items(db, "r1");
    assert_int_equal(sync_committed(db, "r1", &p).opened, 3);
    assert_string_equal(q_text(db, "SELECT group_concat(dataset || '/' || rule || '/'"
                                   " || record_ref, ' ') FROM (SELECT * FROM ticket_items"
                                   " ORDER BY id)"),
                        want);
    assert_string_equal(q_text(db, "SELECT group_concat(dataset, ' ') FROM"
                                   " (SELECT dataset FROM tickets ORDER BY id)"),
                        "Zeta people 人口");
    /* each item from its record's first finding, of either field */
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i WHERE i.row_no ="
                               " (SELECT min(f.row_no) FROM findings f WHERE f.run_id = 'r1'"
                               "  AND f.dataset = i.dataset AND f.rule = i.rule"
                               "  AND f.record_ref = i.record_ref) AND i.value = 'v' || i.row_no"),
                     q_int(db, "SELECT count(*) FROM ticket_items"));
    assert_int_equal(q_int(db, "SELECT count(DISTINCT field) FROM ticket_items"
                               " WHERE rule = 'people.two'"),
                     2);
    audit_whole(db);
    store_close(db);
}

/* Schema step 12: a store at step 11 (two indexes of items by record) keeps
 * its items, gets the one index, and its lookups still hold: the open item
 * of a record found by the next run (failing again: refreshed, not added
 * twice), a record's closed item beside its open one, a second open item
 * of a record refused by the database, another closed one allowed. */
static void test_items_index_upgrade(void **state)
{
    (void)state;
    char path[64];
    temp_store_path(path, sizeof path, "items");
    sqlite3 *db = db_open_at(path);
    struct qloop_policy p = ningbo();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3", "P2 P3", &p);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2 P3", "P2 P3", &p);
    /* P2: item 1 fixed, item 3 open */
    assert_string_equal(q_text(db, "SELECT group_concat(id || ':' || state, ' ') FROM"
                                   " (SELECT * FROM ticket_items ORDER BY id)"),
                        "1:fixed 2:open 3:open");
    /* back to step 11's indexes */
    store_rewind_to_step13(db);
    exec(db, "DROP INDEX ticket_items_record;"
             "CREATE UNIQUE INDEX ticket_items_one_open ON ticket_items(dataset, rule, record_ref)"
             "  WHERE state IN ('open','missing');"
             "CREATE INDEX ticket_items_ref ON ticket_items(dataset, rule, record_ref, id);"
             "PRAGMA user_version = 11;");
    const char *rows = "SELECT group_concat(id || ticket_id || record_ref || state || value"
                       " || coalesce(closed_run, '-') || last_run, ' ') FROM"
                       " (SELECT * FROM ticket_items ORDER BY id)";
    char *before = strdup(q_text(db, "%s", rows));
    store_close(db);

    db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    assert_string_equal(q_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM"
                                   " sqlite_master WHERE type = 'index' AND tbl_name = 'ticket_item_rows'"
                                   " ORDER BY name)"),
                        "ticket_items_ticket");
    /* the index by record a table since store step 19: every item's keys */
    assert_int_equal(q_int(db, "SELECT count(*) FROM (SELECT record_ref, kind, CASE WHEN state"
                               " IN ('open','missing') THEN 0 ELSE id END, id FROM ticket_item_rows"
                               " EXCEPT SELECT * FROM ticket_item_refs)"),
                     0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_refs"), 3);
    assert_string_equal(q_text(db, "%s", rows), before);
    free(before);
    struct ticket_sync_counts c =
        phone_run(db, "r4", "2024-09-30T02:00:00+08:00", "P2 P4", "P2 P3 P4", &p);
    assert_int_equal(c.opened, 0);
    /* P2 fails again in r4 as it did in r3: its item is left alone (last_run
     * is the run that wrote its evidence) */
    assert_string_equal(q_text(db, "SELECT group_concat(id || ':' || state || ':' || last_run, ' ')"
                                   " FROM (SELECT * FROM ticket_items ORDER BY id)"),
                        "1:fixed:r1 2:fixed:r3 3:open:r3 4:open:r4");
    /* the database refuses a second open item of P2, not another closed one */
    const char *dup = "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state,"
                      " added_at) SELECT ticket_id, dataset, rule, record_ref, '%s', added_at"
                      " FROM ticket_items WHERE id = 3";
    char sql[512];
    snprintf(sql, sizeof sql, dup, "missing");
    assert_int_not_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    exec(db, "SAVEPOINT s");
    snprintf(sql, sizeof sql, dup, "fixed");
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    exec(db, "ROLLBACK TO s; RELEASE s");
    /* a record's open item is found by the whole key by record (its kind an
     * id since store step 18, a table's primary key since 19, as the loop asks) */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT 1 FROM ticket_item_refs i"
                                            " WHERE i.kind = (SELECT id FROM item_kinds"
                                            " WHERE dataset = 'a' AND rule = 'b')"
                                            " AND i.record_ref = 'c' AND i.open_key = 0",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bool whole_key = false;
    while (sqlite3_step(st) == SQLITE_ROW)
        whole_key = whole_key || strstr((const char *)sqlite3_column_text(st, 3),
                                        "PRIMARY KEY (record_ref=? AND kind=? AND"
                                        " open_key=?)");
    assert_true(whole_key);
    sqlite3_finalize(st);
    audit_whole(db);
    store_close(db);
    remove_store(path);
}

static void test_sync_errors(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    assert_int_equal(ticket_sync_run(db, "no-such-run", NULL, &c, &err), -1);
    assert_non_null(strstr(err.message, "no-such-run"));
    assert_int_equal(ticket_sync_run(db, "x", "/nonexistent/policy.lua", &c, &err), -1);
    assert_non_null(strstr(err.file, "/nonexistent/policy.lua"));
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_opens_ticket_in_feedback),
        cmocka_unit_test(test_unknown_owner_and_manual_policy),
        cmocka_unit_test(test_dedupe_over_repeated_runs),
        cmocka_unit_test(test_recheck_outcomes),
        cmocka_unit_test(test_failing_again_not_counted),
        cmocka_unit_test(test_corrected_passes_to_shared),
        cmocka_unit_test(test_corrected_fails_back_to_feedback),
        cmocka_unit_test(test_fixed_key_waits_for_steward),
        cmocka_unit_test(test_reopen_after_shared_and_confirmed),
        cmocka_unit_test(test_reopen_many_in_one_run),
        cmocka_unit_test(test_item_audit_text),
        cmocka_unit_test(test_dept_stats),
        cmocka_unit_test(test_open_refs_and_json),
        cmocka_unit_test(test_open_refs_states),
        cmocka_unit_test(test_sync_errors),
        cmocka_unit_test(test_many_items_in_chunks),
        cmocka_unit_test(test_new_items_order_over_interleaved_runs),
        cmocka_unit_test(test_items_index_upgrade),
        cmocka_unit_test(test_fresh_groups_of_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
