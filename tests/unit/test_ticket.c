/*
 * test_ticket.c — the closed loop 发现-反馈-修正-共享: every state and
 * transition, every refused transition, statutory deadlines across Spring
 * Festival, National Day and weekends with make-up working days, extension
 * caps under both policies, re-check outcomes, dedupe over repeated runs,
 * reopening, filing by hand, the outbox's exactly-once events, department
 * statistics and the audit entries every change leaves.
 *
 * Runs are simulated by inserting runs, run_datasets, rule_results, findings
 * and run_seen rows directly, then calling ticket_sync_run_policy; QLOOP_NOW
 * moves the clock. The expected deadlines were worked out by hand from the
 * State Council notices, independently of the calendar code.
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

#include "store/audit.h"
#include "checks/calendar.h"
#include "base/clock.h"
#include "loop/outbox.h"
#include "rules/policy.h"
#include "store/store.h"
#include "loop/ticket.h"

/* ---- helpers ------------------------------------------------------------- */

static struct qloop_policy ningbo(void)
{
    struct qloop_policy p;
    policy_default(&p);
    return p;
}

static struct qloop_policy wenzhou(void)
{
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load(QLOOP_SOURCE_DIR "/rules/policies/wenzhou.lua", &p, &err) != 0)
        fail_msg("wenzhou.lua: %s", err.message);
    return p;
}

static struct qloop_policy manual_feedback(void)
{
    struct qloop_policy p = ningbo();
    p.auto_feedback = false;
    return p;
}

/* One simulated run of one rule on one dataset at as_of. failing: keys that
 * fail ("KEY" or "KEY=VALUE"); present: keys in the data (run_seen). */
struct sim {
    const char *run, *as_of, *dataset, *owner, *rule;
    int resolve_missing;
    const char *failing[8];
    const char *present[8];
};

static struct ticket_sync_counts run_sim(sqlite3 *db, const struct sim *s,
                                         const struct qloop_policy *p)
{
    set_now(s->as_of);
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q, 'running', '[]')",
         s->run, s->as_of, s->as_of);
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES(%Q, %Q, 10, %Q)", s->run,
         s->dataset, s->owner);
    int nfail = 0;
    while (nfail < 8 && s->failing[nfail])
        nfail++;
    exec(db,
         "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
         " checked, failed, errors, resolve_missing) VALUES(%Q, %Q, %Q, 'phone', 'normative',"
         " 'medium', '手机号格式错误', 10, %d, 0, %d)",
         s->run, s->rule, s->dataset, nfail, s->resolve_missing);
    for (int i = 0; i < nfail; i++) {
        char key[64], value[64];
        const char *eq = strchr(s->failing[i], '=');
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - s->failing[i]) : 63, s->failing[i]);
        snprintf(value, sizeof value, "%s", eq ? eq + 1 : "bad");
        char ref[33];
        store_record_ref(db, s->dataset, key, strlen(key), ref);
        exec(db,
             "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message) VALUES(%Q, %Q, %Q, %d, %Q, %Q, 'phone', %Q, '手机号格式错误')",
             s->run, s->dataset, s->rule, i + 2, ref, key, value);
    }
    for (int i = 0; i < 8 && s->present[i]; i++) {
        char ref[33];
        store_record_ref(db, s->dataset, s->present[i], strlen(s->present[i]), ref);
        exec(db, "INSERT OR IGNORE INTO run_seen(run_id, dataset, record_ref) VALUES(%Q, %Q, %Q)",
             s->run, s->dataset, ref);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    assert_int_equal(store_begin(db, &err), 0);
    if (ticket_sync_run_policy(db, s->run, p, &c, &err) != 0)
        fail_msg("ticket_sync_run: %s", err.message);
    assert_int_equal(store_commit(db, &err), 0);
    exec(db, "UPDATE runs SET status = 'done' WHERE id = %Q", s->run);
    return c;
}

static const char *state_of(sqlite3 *db, int64_t id)
{
    return q_text(db, "SELECT state FROM tickets WHERE id = %lld", (long long)id);
}

static const char *item_state(sqlite3 *db, const char *dataset, const char *key)
{
    char ref[33];
    store_record_ref(db, dataset, key, strlen(key), ref);
    return q_text(db, "SELECT state FROM ticket_items WHERE record_ref = %Q ORDER BY id DESC LIMIT 1",
                  ref);
}

static int64_t audit_count(sqlite3 *db, int64_t ticket, const char *kind)
{
    return q_int(db, "SELECT count(*) FROM audit WHERE subject = 'ticket:%lld' AND kind = %Q",
                 (long long)ticket, kind);
}

static void audit_whole(sqlite3 *db)
{
    int64_t count = 0, bad = 0;
    char why[256] = "";
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, &count, &bad, why, sizeof why, &err);
    if (rc != 0)
        fail_msg("audit chain broken at %lld: %s %s", (long long)bad, why, err.message);
    assert_true(count > 0);
}

/* Files a report on its own dataset; returns the ticket. */
static int64_t file_report(sqlite3 *db, const char *dataset, const char *key,
                           const struct qloop_policy *p)
{
    struct ticket_report r = {.dataset = dataset, .key = key, .field = "phone",
                              .message = "号码错误", .actor = "张三", .dept = "市民政局"};
    struct qloop_error err;
    qloop_error_clear(&err);
    int64_t tid = 0;
    bool dup = true;
    if (ticket_file(db, &r, "file", p, &tid, &dup, &err) != 0)
        fail_msg("ticket_file: %s", err.message);
    assert_false(dup);
    return tid;
}

/* ---- runs open tickets ---------------------------------------------------- */

static void test_run_opens_ticket_in_feedback(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct sim s = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                    {"P2", "P3"}, {"P1", "P2", "P3"}};
    struct ticket_sync_counts c = run_sim(db, &s, &p);
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
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3"}, {"P1", "P2", "P3"}};
    run_sim(db, &s1, &p);
    struct sim s2 = {"r2", "2024-09-28T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3"}, {"P1", "P2", "P3"}};
    struct ticket_sync_counts c = run_sim(db, &s2, &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(c.updated, 0);
    assert_int_equal(c.reverified, 1);
    struct sim s3 = {"r3", "2024-09-29T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2=139", "P3"}, {"P1", "P2", "P3"}};
    run_sim(db, &s3, &p);
    /* a record still failing shows its latest value */
    assert_string_equal(q_text(db, "SELECT value FROM ticket_items WHERE id = 1"), "139");
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), 2);
    /* The received_at and deadline do not move with later runs. */
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 1"),
                        "2024-10-10T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT last_run FROM ticket_items WHERE id = 1"), "r3");
    /* A new failing record joins the open ticket. */
    struct sim s4 = {"r4", "2024-09-30T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3", "P4"}, {"P1", "P2", "P3", "P4"}};
    c = run_sim(db, &s4, &p);
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
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"A", "B", "C", "D"}, {"A", "B", "C", "D"}};
    run_sim(db, &s1, &p);
    /* A fixed (seen, no finding); B still failing; C and D gone from the data. */
    struct sim s2 = {"r2", "2024-09-28T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"B"}, {"A", "B"}};
    struct ticket_sync_counts c = run_sim(db, &s2, &p);
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
    struct sim s3 = {"r3", "2024-09-29T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"B", "C"}, {"A", "B", "C"}};
    run_sim(db, &s3, &p);
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
    struct sim s6 = {"r6", "2024-10-08T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"A", "B", "C"}};
    run_sim(db, &s6, &p);
    assert_string_equal(state_of(db, 1), "shared");
    assert_string_equal(q_text(db, "SELECT closed_at FROM tickets WHERE id = 1"),
                        "2024-10-08T02:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT answered_at FROM tickets WHERE id = 1"),
                        "2024-10-08T02:00:00+08:00");
    audit_whole(db);
    store_close(db);
}

static void test_corrected_passes_to_shared(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3"}, {"P2", "P3"}};
    run_sim(db, &s1, &p);
    set_now("2024-10-08T15:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", "已更正", &err), 0);
    assert_string_equal(state_of(db, 1), "corrected");
    assert_string_equal(q_text(db, "SELECT note FROM tickets WHERE id = 1"), "数源部门答复：完成整改。已更正");
    struct sim s2 = {"r2", "2024-10-09T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"P2", "P3"}};
    struct ticket_sync_counts c = run_sim(db, &s2, &p);
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
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3"}, {"P2", "P3"}};
    run_sim(db, &s1, &p);
    set_now("2024-09-30T09:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", NULL, &err), 0);
    struct sim s2 = {"r2", "2024-10-01T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P3"}, {"P2", "P3"}};
    run_sim(db, &s2, &p);
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

static void test_reopen_after_shared_and_confirmed(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    run_sim(db, &s1, &p);
    struct sim s2 = {"r2", "2024-09-28T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"P2"}};
    run_sim(db, &s2, &p);
    assert_string_equal(state_of(db, 1), "shared");
    /* P2 fails again and no ticket is open: the closed ticket is reopened,
     * handed back with a new receipt and deadline; the item names it. */
    struct sim s3 = {"r3", "2024-10-12T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    struct ticket_sync_counts c = run_sim(db, &s3, &p);
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
    struct sim s3b = {"r3b", "2024-10-13T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                      {"P2", "P9"}, {"P2", "P9"}};
    c = run_sim(db, &s3b, &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 1 AND state = 'open'"), 2);

    /* Confirmed correct: the same value is not reported again; a new value is. */
    set_now("2024-10-14T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "confirmed", "李四", "号码属实", &err), 0);
    assert_string_equal(state_of(db, 1), "confirmed");
    assert_string_equal(item_state(db, "people", "P2"), "closed");
    struct sim s4 = {"r4", "2024-10-15T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    c = run_sim(db, &s4, &p);
    assert_int_equal(c.opened, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), 1);
    assert_string_equal(state_of(db, 1), "confirmed");
    struct sim s5 = {"r5", "2024-10-16T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2=12"}, {"P2"}};
    c = run_sim(db, &s5, &p);
    assert_int_equal(c.opened, 0);
    assert_string_equal(state_of(db, 1), "feedback");
    assert_string_equal(q_text(db, "SELECT event || '|' || from_state FROM ticket_history"
                                   " WHERE ticket_id = 1 ORDER BY id DESC"),
                        "reopen|confirmed");
    audit_whole(db);
    store_close(db);
}

/* ---- every state, every action ------------------------------------------------ */

enum action { A_FEEDBACK, A_RECTIFIED, A_CONFIRMED, A_NEGOTIATED, A_EXTEND, A_APPROVE, A_REJECT,
              A_PASS, A_FAIL, NACTIONS };
static const char *const action_names[] = {"feedback", "rectified", "confirmed", "negotiated",
                                           "extend",   "approve",   "reject",    "pass", "fail"};
static const char *const states[] = {"discovered", "feedback",  "corrected",
                                     "shared",     "confirmed", "negotiated"};

/* What each action does from each state: the new state, or NULL (refused). */
static const char *const expect[6][NACTIONS] = {
    /* discovered */ {"feedback", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    /* feedback */ {NULL, "corrected", "confirmed", "negotiated", "feedback", NULL, NULL, NULL, NULL},
    /* corrected */ {NULL, NULL, NULL, NULL, NULL, NULL, NULL, "shared", "feedback"},
    /* shared */ {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    /* confirmed */ {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    /* negotiated */ {"feedback", "corrected", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Brings a new ticket (on its own dataset) to state. */
static int64_t ticket_in(sqlite3 *db, int n, const char *target, const struct qloop_policy *p)
{
    struct qloop_policy manual = *p;
    manual.auto_feedback = false;
    char dataset[32];
    snprintf(dataset, sizeof dataset, "ds%d", n);
    int64_t id = file_report(db, dataset, "K1", &manual);
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = 0;
    if (strcmp(target, "discovered") != 0)
        rc |= ticket_feedback(db, id, "王五", false, NULL, p, &err);
    if (strcmp(target, "corrected") == 0 || strcmp(target, "shared") == 0)
        rc |= ticket_resolve(db, id, "rectified", "李四", NULL, &err);
    if (strcmp(target, "shared") == 0)
        rc |= ticket_verify(db, id, "王五", true, NULL, &err);
    if (strcmp(target, "confirmed") == 0 || strcmp(target, "negotiated") == 0)
        rc |= ticket_resolve(db, id, target, "李四", NULL, &err);
    if (rc != 0)
        fail_msg("bringing ticket to %s: %s", target, err.message);
    assert_string_equal(state_of(db, id), target);
    return id;
}

static int act(sqlite3 *db, int64_t id, enum action a, const struct qloop_policy *p,
               struct qloop_error *err)
{
    switch (a) {
    case A_FEEDBACK:
        return ticket_feedback(db, id, "王五", false, NULL, p, err);
    case A_RECTIFIED:
        return ticket_resolve(db, id, "rectified", "李四", NULL, err);
    case A_CONFIRMED:
        return ticket_resolve(db, id, "confirmed", "李四", NULL, err);
    case A_NEGOTIATED:
        return ticket_resolve(db, id, "negotiated", "李四", NULL, err);
    case A_EXTEND:
        return ticket_extend(db, id, "2024-10-20", "数据量大", "李四", p, err);
    case A_APPROVE:
        return ticket_approve(db, id, "局长", p, err);
    case A_REJECT:
        return ticket_reject(db, id, "局长", "理由不足", p, err);
    case A_PASS:
        return ticket_verify(db, id, "王五", true, NULL, err);
    case A_FAIL:
        return ticket_verify(db, id, "王五", false, "仍有错误", err);
    default:
        return -3;
    }
}

static void test_every_state_and_action(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    set_now("2024-09-27T10:00:00+08:00");
    int n = 0;
    for (int s = 0; s < 6; s++)
        for (int a = 0; a < NACTIONS; a++) {
            int64_t id = ticket_in(db, n++, states[s], &p);
            int64_t hist = q_int(db, "SELECT count(*) FROM ticket_history WHERE ticket_id = %lld",
                                 (long long)id);
            int64_t audits = q_int(db, "SELECT count(*) FROM audit");
            struct qloop_error err;
            qloop_error_clear(&err);
            int rc = act(db, id, (enum action)a, &p, &err);
            const char *want = expect[s][a];
            if (want) {
                if (rc != 0)
                    fail_msg("%s from %s refused: %s", action_names[a], states[s], err.message);
                assert_string_equal(state_of(db, id), want);
                assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE ticket_id = %lld",
                                       (long long)id),
                                 hist + 1);
                assert_true(q_int(db, "SELECT count(*) FROM audit") > audits);
            } else {
                if (rc != -1)
                    fail_msg("%s from %s: rc %d, expected refusal", action_names[a], states[s], rc);
                assert_string_equal(state_of(db, id), states[s]);
                assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_history WHERE ticket_id = %lld",
                                       (long long)id),
                                 hist);
                assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), audits);
                bool says_allowed = strstr(err.message, "当前允许") != NULL;
                bool says_no_request = strstr(err.message, "没有待审批的延期申请") != NULL;
                if (!says_allowed && !says_no_request)
                    fail_msg("%s from %s: message does not say what is allowed: %s",
                             action_names[a], states[s], err.message);
            }
        }
    /* The refusal names the moves the state allows. */
    int64_t id = ticket_in(db, n++, "corrected", &p);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(ticket_resolve(db, id, "confirmed", "李四", NULL, &err), -1);
    assert_non_null(strstr(err.message, "「修正」"));
    assert_non_null(strstr(err.message, "verify --pass"));
    assert_non_null(strstr(err.message, "verify --fail"));
    id = ticket_in(db, n++, "discovered", &p);
    assert_int_equal(ticket_resolve(db, id, "rectified", "李四", NULL, &err), -1);
    assert_non_null(strstr(err.message, "qloop tickets feedback"));
    /* Bad answers and unknown tickets. */
    assert_int_equal(ticket_resolve(db, id, "fixed", "李四", NULL, &err), -1);
    assert_non_null(strstr(err.message, "rectified"));
    assert_int_equal(ticket_feedback(db, 9999, "王五", false, NULL, &p, &err), -1);
    assert_non_null(strstr(err.message, "不存在"));
    audit_whole(db);
    store_close(db);
}

static void test_negotiated_paths(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    set_now("2024-09-27T10:00:00+08:00");
    int64_t id = ticket_in(db, 1, "negotiated", &p);
    assert_string_equal(q_text(db, "SELECT answered_at FROM tickets WHERE id = %lld", (long long)id),
                        "2024-09-27T10:00:00+08:00");
    /* Handed back after the agreed time: a new receipt and deadline. */
    set_now("2024-12-02T09:00:00+08:00");
    assert_int_equal(ticket_feedback(db, id, "王五", false, NULL, &p, &err), 0);
    assert_string_equal(q_text(db, "SELECT received_at FROM tickets WHERE id = %lld", (long long)id),
                        "2024-12-02T09:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)id),
                        "2024-12-09T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT deadline_before || '>' || deadline_after FROM ticket_history"
                                   " WHERE ticket_id = %lld ORDER BY id DESC",
                               (long long)id),
                        "2024-10-10T23:59:59+08:00>2024-12-09T23:59:59+08:00");
    /* negotiated → corrected: fixed after all. */
    int64_t id2 = ticket_in(db, 2, "negotiated", &p);
    assert_int_equal(ticket_resolve(db, id2, "rectified", "李四", NULL, &err), 0);
    assert_string_equal(state_of(db, id2), "corrected");
    /* A run whose re-check passes closes a negotiated ticket too. */
    struct sim s1 = {"r1", "2024-12-02T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P1"}, {"P1"}};
    run_sim(db, &s1, &p);
    int64_t t3 = q_int(db, "SELECT id FROM tickets WHERE dataset = 'people'");
    set_now("2024-12-03T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, t3, "negotiated", "李四", "明年随系统改造", &err), 0);
    struct sim s2 = {"r2", "2024-12-04T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P1"}, {"P1"}};
    run_sim(db, &s2, &p);
    assert_string_equal(state_of(db, t3), "negotiated");
    struct sim s3 = {"r3", "2024-12-05T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"P1"}};
    run_sim(db, &s3, &p);
    assert_string_equal(state_of(db, t3), "shared");
    store_close(db);
}

/* ---- deadlines ----------------------------------------------------------------- */

static void expect_deadline(const struct qloop_policy *p, const char *received, const char *want)
{
    int64_t t;
    assert_true(qloop_parse_datetime(received, &t));
    char got[32];
    qloop_format_datetime(policy_deadline(p, t), got);
    if (strcmp(got, want) != 0)
        fail_msg("received %s: deadline %s, expected %s", received, got, want);
}

static void test_deadlines_across_holidays(void **state)
{
    (void)state;
    struct qloop_policy p = ningbo();
    /* Spring Festival 2023: 21-27 Jan off, Sat 28 and Sun 29 Jan working. */
    expect_deadline(&p, "2023-01-20T16:00:00+08:00", "2023-02-01T23:59:59+08:00");
    /* Spring Festival 2024: 10-17 Feb off, Sun 18 Feb working. */
    expect_deadline(&p, "2024-02-08T09:00:00+08:00", "2024-02-21T23:59:59+08:00");
    /* Spring Festival 2025: 28 Jan-4 Feb off, Sat 8 Feb working. */
    expect_deadline(&p, "2025-01-27T09:00:00+08:00", "2025-02-10T23:59:59+08:00");
    /* Spring Festival 2026: Sat 14 Feb working, 15-23 Feb off. */
    expect_deadline(&p, "2026-02-13T09:00:00+08:00", "2026-02-27T23:59:59+08:00");
    /* Spring Festival 2022: Sat 29 and Sun 30 Jan working, 31 Jan-6 Feb off. */
    expect_deadline(&p, "2022-01-28T09:00:00+08:00", "2022-02-09T23:59:59+08:00");
    /* Spring Festival 2020 (extended): 24 Jan-2 Feb off. */
    expect_deadline(&p, "2020-01-23T09:00:00+08:00", "2020-02-07T23:59:59+08:00");
    /* National Day 2019: 1-7 Oct off, Sat 12 Oct working. */
    expect_deadline(&p, "2019-09-30T09:00:00+08:00", "2019-10-12T23:59:59+08:00");
    /* National Day 2021: 1-7 Oct off, Sat 9 Oct working. */
    expect_deadline(&p, "2021-09-30T09:00:00+08:00", "2021-10-13T23:59:59+08:00");
    /* Mid-Autumn and National Day 2023: 29 Sep-6 Oct off, 7 and 8 Oct working. */
    expect_deadline(&p, "2023-09-28T09:00:00+08:00", "2023-10-11T23:59:59+08:00");
    /* National Day 2024: Sun 29 Sep working, 1-7 Oct off. */
    expect_deadline(&p, "2024-09-27T10:00:00+08:00", "2024-10-10T23:59:59+08:00");
    /* National Day and Mid-Autumn 2025: 1-8 Oct off, Sat 11 Oct working. */
    expect_deadline(&p, "2025-09-30T09:00:00+08:00", "2025-10-14T23:59:59+08:00");
    /* Weekends: Dragon Boat 2024 (Mon 10 Jun off); received on a Saturday. */
    expect_deadline(&p, "2024-06-07T09:00:00+08:00", "2024-06-17T23:59:59+08:00");
    expect_deadline(&p, "2024-03-02T11:00:00+08:00", "2024-03-08T23:59:59+08:00");
    /* The day of receipt is the Shanghai date: 23:30 UTC is the next day. */
    expect_deadline(&p, "2024-03-01T23:30:00Z", "2024-03-08T23:59:59+08:00");
    expect_deadline(&p, "2024-03-01T23:59:59+08:00", "2024-03-08T23:59:59+08:00");
}

/* Files a ticket received at `at` and tries to extend it to until. */
static int try_extend(sqlite3 *db, int n, const char *at, const char *until,
                      const struct qloop_policy *p, struct qloop_error *err)
{
    set_now(at);
    char dataset[32];
    snprintf(dataset, sizeof dataset, "ext%d", n);
    int64_t id = file_report(db, dataset, "K1", p);
    assert_string_equal(state_of(db, id), "feedback");
    qloop_error_clear(err);
    int rc = ticket_extend(db, id, until, "涉及历史数据", "李四", p, err);
    if (rc == 0) {
        assert_int_equal(ticket_approve(db, id, "审批人", p, err), 0);
        char want[40];
        snprintf(want, sizeof want, "%sT23:59:59+08:00", until);
        assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)id),
                            want);
    }
    return rc;
}

static void test_extension_caps(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy nb = ningbo(), wz = wenzhou();
    struct qloop_error err;
    int n = 0;
    /* ningbo: 60 natural days from receipt. */
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-11-26", &nb, &err), 0);
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-11-27", &nb, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-11-26"));
    /* The 60th day (2 Oct 2024) is a holiday: the period ends on 8 Oct. */
    assert_int_equal(try_extend(db, n++, "2024-08-03T10:00:00+08:00", "2024-10-08", &nb, &err), 0);
    assert_int_equal(try_extend(db, n++, "2024-08-03T10:00:00+08:00", "2024-10-09", &nb, &err), -1);
    assert_non_null(strstr(err.message, "2024-10-08"));
    /* The 60th day (10 Feb 2024) is in Spring Festival: next working day is Sun 18 Feb. */
    assert_int_equal(try_extend(db, n++, "2023-12-12T10:00:00+08:00", "2024-02-18", &nb, &err), 0);
    assert_int_equal(try_extend(db, n++, "2023-12-12T10:00:00+08:00", "2024-02-19", &nb, &err), -1);
    assert_non_null(strstr(err.message, "2024-02-18"));
    /* wenzhou: at most 15 working days beyond the 5-working-day period
     * (10 Oct 2024 + 15, Sat 12 Oct working): 30 Oct. */
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-10-30", &wz, &err), 0);
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-10-31", &wz, &err), -1);
    assert_non_null(strstr(err.message, "最晚可延至 2024-10-30"));
    assert_non_null(strstr(err.message, "wenzhou"));
    /* Not later than the current deadline; not a date. */
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-10-10", &nb, &err), -1);
    assert_non_null(strstr(err.message, "不晚于当前答复期限"));
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-13-01", &nb, &err), -1);
    assert_non_null(strstr(err.message, "YYYY-MM-DD"));
    /* A policy without extensions refuses every request. */
    struct qloop_policy none = nb;
    none.extension_days = 0;
    assert_int_equal(try_extend(db, n++, "2024-09-27T10:00:00+08:00", "2024-10-11", &none, &err), -1);
    assert_non_null(strstr(err.message, "不允许延期"));
    /* The cap counts from the deadline before any extension: a second
     * extension under wenzhou still ends by 30 Oct. */
    set_now("2024-09-27T10:00:00+08:00");
    int64_t id = file_report(db, "ext-twice", "K1", &wz);
    assert_int_equal(ticket_extend(db, id, "2024-10-20", "第一次", "李四", &wz, &err), 0);
    assert_int_equal(ticket_extend(db, id, "2024-10-21", "再次", "李四", &wz, &err), -1);
    assert_non_null(strstr(err.message, "待审批"));
    assert_int_equal(ticket_approve(db, id, "数源部门负责人", &wz, &err), 0);
    assert_int_equal(ticket_extend(db, id, "2024-10-31", "第二次", "李四", &wz, &err), -1);
    assert_int_equal(ticket_extend(db, id, "2024-10-30", "第二次", "李四", &wz, &err), 0);
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'extension.requested'"
                                   " AND ticket_id = %lld ORDER BY id DESC",
                               (long long)id),
                        "市民政局 数源部门负责人");
    assert_int_equal(ticket_reject(db, id, "数源部门负责人", "", &wz, &err), -1);
    assert_int_equal(ticket_reject(db, id, "数源部门负责人", "无必要", &wz, &err), 0);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)id),
                        "2024-10-20T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT ext_until FROM tickets WHERE id = %lld", (long long)id),
                        "(null)");
    assert_string_equal(q_text(db, "SELECT group_concat(event, ',') FROM (SELECT event FROM"
                                   " ticket_history WHERE ticket_id = %lld ORDER BY id)",
                               (long long)id),
                        "open,feedback,extend_request,extend_approve,extend_request,extend_reject");
    assert_string_equal(q_text(db, "SELECT deadline_before || '>' || deadline_after FROM ticket_history"
                                   " WHERE ticket_id = %lld AND event = 'extend_approve'",
                               (long long)id),
                        "2024-10-10T23:59:59+08:00>2024-10-20T23:59:59+08:00");
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                               " AND kind IN ('extension.approved','extension.rejected')",
                           (long long)id),
                     2);
    assert_int_equal(audit_count(db, id, "ticket.extension"), 4);
    audit_whole(db);
    store_close(db);
}

static void test_urgent_deadline(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    set_now("2024-09-27T10:00:00+08:00");
    int64_t a = ticket_in(db, 1, "discovered", &p);
    assert_int_equal(ticket_feedback(db, a, "王五", true, "2024-09-27T18:00:00+08:00", &p, &err), 0);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)a),
                        "2024-09-27T18:00:00+08:00");
    assert_int_equal(q_int(db, "SELECT urgent FROM tickets WHERE id = %lld", (long long)a), 1);
    /* A bare date is the end of that day, even a holiday. */
    int64_t b = ticket_in(db, 2, "discovered", &p);
    assert_int_equal(ticket_feedback(db, b, "王五", true, "2024-10-01", &p, &err), 0);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = %lld", (long long)b),
                        "2024-10-01T23:59:59+08:00");
    int64_t c = ticket_in(db, 3, "discovered", &p);
    assert_int_equal(ticket_feedback(db, c, "王五", true, "2024-09-26T18:00:00+08:00", &p, &err), -1);
    assert_non_null(strstr(err.message, "不晚于现在"));
    assert_int_equal(ticket_feedback(db, c, "王五", true, "明天", &p, &err), -1);
    assert_int_equal(ticket_feedback(db, c, "王五", false, "2024-10-01", &p, &err), -1);
    struct qloop_policy strict = p;
    strict.urgent_own_deadline = false;
    assert_int_equal(ticket_feedback(db, c, "王五", true, "2024-10-01", &strict, &err), -1);
    assert_string_equal(state_of(db, c), "discovered");
    /* An urgent ticket past its own deadline is overdue within the day. */
    set_now("2024-09-27T18:00:01+08:00");
    json_t *list = NULL;
    struct ticket_filter f = {.overdue = true};
    assert_int_equal(ticket_list_json(db, &f, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), a);
    json_decref(list);
    store_close(db);
}

/* ---- outbox ---------------------------------------------------------------------- */

static long export_lines(sqlite3 *db, const char *kind_filter, char *last_kind, size_t size)
{
    struct qloop_buf out = {0};
    struct qloop_error err;
    long count = -1;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(outbox_export(db, &out, &count, qloop_now(), &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    long matching = 0;
    const char *p = qloop_buf_str(&out);
    long lines = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        assert_non_null(o);
        const char *kind = json_string_value(json_object_get(o, "kind"));
        assert_non_null(kind);
        assert_non_null(json_string_value(json_object_get(o, "key")));
        assert_non_null(json_string_value(json_object_get(o, "message")));
        assert_true(json_is_integer(json_object_get(o, "id")));
        if (!kind_filter || strcmp(kind, kind_filter) == 0) {
            matching++;
            if (last_kind)
                snprintf(last_kind, size, "%s", kind);
        }
        json_decref(o);
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, count);
    qloop_buf_free(&out);
    return kind_filter ? matching : count;
}

static void scan(sqlite3 *db, const struct qloop_policy *p)
{
    struct qloop_error err;
    assert_int_equal(outbox_scan(db, p, qloop_now(), &err), 0);
}

static void test_outbox_exactly_once(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    run_sim(db, &s1, &p);
    char kind[64] = "";
    assert_int_equal(export_lines(db, NULL, kind, sizeof kind), 1);
    assert_string_equal(kind, "ticket.feedback");
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    /* The same run again (killed and re-run, or a second run) adds nothing. */
    struct sim s2 = {"r2", "2024-09-27T11:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    run_sim(db, &s2, &p);
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    /* Two working days left: no reminder; one left (Wed 9 Oct): one reminder. */
    set_now("2024-10-08T09:00:00+08:00");
    scan(db, &p);
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    set_now("2024-10-09T09:00:00+08:00");
    scan(db, &p);
    scan(db, &p);
    assert_int_equal(export_lines(db, "ticket.reminder", NULL, 0), 1);
    set_now("2024-10-10T09:00:00+08:00");
    scan(db, &p);
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    /* Overdue once. */
    set_now("2024-10-11T00:00:00+08:00");
    scan(db, &p);
    scan(db, &p);
    assert_int_equal(export_lines(db, "ticket.overdue", NULL, 0), 1);
    set_now("2024-10-12T09:00:00+08:00");
    scan(db, &p);
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    /* An approved extension is a new deadline: a new reminder when it nears. */
    assert_int_equal(ticket_extend(db, 1, "2024-10-18", "补充材料", "李四", &p, &err), 0);
    assert_int_equal(ticket_approve(db, 1, "局长", &p, &err), 0);
    assert_int_equal(export_lines(db, NULL, NULL, 0), 2);
    set_now("2024-10-17T09:00:00+08:00");
    scan(db, &p);
    scan(db, &p);
    assert_int_equal(export_lines(db, "ticket.reminder", NULL, 0), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE exported_at IS NULL"), 0);
    assert_int_equal(q_int(db, "SELECT count(DISTINCT event_key) FROM outbox"),
                     q_int(db, "SELECT count(*) FROM outbox"));
    /* Rolled back exports are exported again: nothing is lost either. */
    set_now("2024-10-19T09:00:00+08:00");
    scan(db, &p);
    struct qloop_buf out = {0};
    long count = 0;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(outbox_export(db, &out, &count, qloop_now(), &err), 0);
    assert_int_equal(count, 1);
    store_rollback(db);
    qloop_buf_free(&out);
    assert_int_equal(export_lines(db, "ticket.overdue", NULL, 0), 1);
    store_close(db);
}

/* ---- statistics, filing, reading ----------------------------------------------- */

static void test_dept_stats(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct sim a1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P1"}, {"P1"}};
    run_sim(db, &a1, &p);
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
    struct sim a2 = {"r4", "2024-10-16T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"P1"}};
    run_sim(db, &a2, &p);
    assert_string_equal(state_of(db, 1), "shared");
    assert_int_equal(q_int(db, "SELECT closed_on_time FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 1);
    assert_int_equal(q_int(db, "SELECT closed_late FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 0);
    assert_int_equal(q_int(db, "SELECT closed_on_time FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 0);
    assert_int_equal(q_int(db, "SELECT closed_late FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_overdue FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_total FROM dept_stats WHERE run_id = 'r4' AND dept = '市场监管局'"), 1);
    assert_int_equal(q_int(db, "SELECT open_total FROM dept_stats WHERE run_id = 'r4' AND dept = '市公安局'"), 0);
    /* Each closing is counted by one run only. */
    struct sim a3 = {"r5", "2024-10-17T02:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {0}, {"P1"}};
    run_sim(db, &a3, &p);
    assert_int_equal(q_int(db, "SELECT sum(closed_on_time + closed_late) FROM dept_stats WHERE run_id = 'r5'"), 0);
    assert_int_equal(q_int(db, "SELECT sum(closed_on_time) + sum(closed_late) FROM dept_stats"), 2);
    store_close(db);
}

static void test_file_reports(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2"}, {"P2"}};
    run_sim(db, &s1, &p);
    set_now("2024-09-28T10:00:00+08:00");
    /* Default dept: the dataset's owner; key of a known dataset kept. */
    struct ticket_report r = {.dataset = "people", .key = "P9", .field = "name",
                              .message = "姓名有错别字", .actor = "窗口人员"};
    int64_t tid = 0;
    bool dup = true;
    assert_int_equal(ticket_file(db, &r, "file", &p, &tid, &dup, &err), 0);
    assert_false(dup);
    assert_int_equal(tid, 2);
    assert_string_equal(q_text(db, "SELECT dept || '|' || rule || '|' || source || '|' || state"
                                   " FROM tickets WHERE id = 2"),
                        "市公安局|manual|file|feedback");
    assert_string_equal(q_text(db, "SELECT record_key || '|' || reporter FROM ticket_items WHERE ticket_id = 2"),
                        "P9|窗口人员");
    /* The same report again: nothing new. */
    assert_int_equal(ticket_file(db, &r, "file", &p, &tid, &dup, &err), 0);
    assert_true(dup);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 2"), 1);
    /* A report on a record the run already tracks under the same rule. */
    struct ticket_report r2 = {.dataset = "people", .key = "P2", .rule = "people.phone",
                               .message = "号码不对", .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r2, "import", &p, &tid, &dup, &err), 0);
    assert_true(dup);
    assert_int_equal(tid, 1);
    /* Another record joins the open filed ticket. */
    struct ticket_report r3 = {.dataset = "people", .key = "P10", .message = "住址错误",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r3, "file", &p, &tid, &dup, &err), 0);
    assert_int_equal(tid, 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.items_added' AND ticket_id = 2"), 1);
    /* Identity numbers and unknown datasets are stored masked. */
    struct ticket_report r4 = {.dataset = "people", .key = "330102199001011234", .message = "x",
                               .actor = "窗口人员", .field = "phone", .value = "13812345678"};
    assert_int_equal(ticket_file(db, &r4, "file", &p, &tid, &dup, &err), 0);
    const char *k = q_text(db, "SELECT record_key FROM ticket_items ORDER BY id DESC LIMIT 1");
    assert_null(strstr(k, "199001011234"));
    assert_string_not_equal(k, "330102199001011234");
    const char *v = q_text(db, "SELECT value FROM ticket_items ORDER BY id DESC LIMIT 1");
    assert_null(strstr(v, "12345678"));
    assert_int_not_equal(strlen(v), 0);
    assert_string_equal(q_text(db, "SELECT value FROM ticket_items WHERE record_key = 'P9'"), "(null)");
    struct ticket_report r5 = {.dataset = "unknown_ds", .key = "ABCDEFGH", .message = "x",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r5, "file", &p, &tid, &dup, &err), 0);
    assert_string_not_equal(q_text(db, "SELECT record_key FROM ticket_items ORDER BY id DESC LIMIT 1"),
                            "ABCDEFGH");
    assert_string_equal(q_text(db, "SELECT dept FROM tickets WHERE id = %lld", (long long)tid),
                        "未指定部门");
    /* Missing fields and bad sources are refused. */
    struct ticket_report bad = {.dataset = "people", .key = "", .message = "x", .actor = "a"};
    assert_int_equal(ticket_file(db, &bad, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "key"));
    assert_int_equal(ticket_file(db, &r, "web", &p, &tid, &dup, &err), -1);
    /* A filed ticket no run re-checks is verified by a person. */
    assert_int_equal(ticket_resolve(db, 2, "rectified", "李四", NULL, &err), 0);
    assert_int_equal(ticket_verify(db, 2, "窗口人员", false, NULL, &err), -1);
    assert_int_equal(ticket_verify(db, 2, "窗口人员", false, "住址仍错", &err), 0);
    assert_string_equal(state_of(db, 2), "feedback");
    assert_int_equal(ticket_resolve(db, 2, "rectified", "李四", NULL, &err), 0);
    assert_int_equal(ticket_verify(db, 2, "窗口人员", true, NULL, &err), 0);
    assert_string_equal(state_of(db, 2), "shared");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 2 AND state = 'fixed'"), 3);
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'ticket.closed'"
                                   " AND ticket_id = 2"),
                        "窗口人员");
    audit_whole(db);
    store_close(db);
}

static void collect_ref(void *ctx, const char *ref)
{
    int *n = ctx;
    assert_int_equal(strlen(ref), 32);
    (*n)++;
}

static void test_open_refs_and_json(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct sim s1 = {"r1", "2024-09-27T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P2", "P3"}, {"P2", "P3"}};
    run_sim(db, &s1, &p);
    struct sim s2 = {"r2", "2024-09-28T10:00:00+08:00", "people", "市公安局", "people.phone", 0,
                     {"P3"}, {"P2", "P3"}};
    run_sim(db, &s2, &p);
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
        cmocka_unit_test(test_corrected_passes_to_shared),
        cmocka_unit_test(test_corrected_fails_back_to_feedback),
        cmocka_unit_test(test_reopen_after_shared_and_confirmed),
        cmocka_unit_test(test_every_state_and_action),
        cmocka_unit_test(test_negotiated_paths),
        cmocka_unit_test(test_deadlines_across_holidays),
        cmocka_unit_test(test_extension_caps),
        cmocka_unit_test(test_urgent_deadline),
        cmocka_unit_test(test_outbox_exactly_once),
        cmocka_unit_test(test_dept_stats),
        cmocka_unit_test(test_file_reports),
        cmocka_unit_test(test_open_refs_and_json),
        cmocka_unit_test(test_sync_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
