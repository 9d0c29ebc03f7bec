/*
 * test_ticket.c — the state machine of the closed loop 发现-反馈-修正-共享
 * and what people do: every action from every state (allowed or refused,
 * with the refusal naming what is allowed), the negotiated paths, statutory
 * deadlines across Spring Festival, National Day and weekends with make-up
 * working days, extension caps under both policies, and urgent tickets with
 * their own deadline. The expected deadlines were worked out by hand from the
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
#include "ticket_helpers.h"

#include "base/clock.h"
#include "checks/calendar.h"

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
    char dataset[32];
    snprintf(dataset, sizeof dataset, "ds%d", n);
    int64_t id = file_only(db, dataset, "K1", p);
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
    phone_run(db, "r1", "2024-12-02T10:00:00+08:00", "P1", "P1", &p);
    int64_t t3 = q_int(db, "SELECT id FROM tickets WHERE dataset = 'people'");
    set_now("2024-12-03T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, t3, "negotiated", "李四", "明年随系统改造", &err), 0);
    phone_run(db, "r2", "2024-12-04T02:00:00+08:00", "P1", "P1", &p);
    assert_string_equal(state_of(db, t3), "negotiated");
    phone_run(db, "r3", "2024-12-05T02:00:00+08:00", "", "P1", &p);
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
    assert_string_equal(state_of(db, c), "discovered");
    /* A ticket opened under a policy without urgent deadlines keeps it: the
     * command's policy (ningbo, which allows them) does not change that. */
    struct qloop_policy strict = p;
    strict.urgent_own_deadline = false;
    int64_t d = ticket_in(db, 4, "discovered", &strict);
    assert_int_equal(ticket_feedback(db, d, "王五", true, "2024-10-01", &p, &err), -1);
    assert_non_null(strstr(err.message, "不允许紧急工单自定期限"));
    assert_string_equal(state_of(db, d), "discovered");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_and_action),
        cmocka_unit_test(test_negotiated_paths),
        cmocka_unit_test(test_deadlines_across_holidays),
        cmocka_unit_test(test_extension_caps),
        cmocka_unit_test(test_urgent_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
