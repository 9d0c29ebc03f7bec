/*
 * test_outbox.c — what a department is told, over sequences of runs and
 * exports across deadlines, answers, extensions and reopenings: an export
 * never lists "due within 1 working day" beside "overdue" for the same
 * deadline, never sends a reminder or overdue notice its ticket has
 * outlived (answered, extended, reopened, handed over), and a reopened
 * ticket's notice gives its new deadline. Each export is what `qloop outbox export` does:
 * scan, then export, in one transaction.
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
#include "base/clock.h"
#include "loop/outbox.h"

/* The export at iso: the kinds exported, with the deadline each names,
 * "kind@YYYY-MM-DD" in export order, space-separated (static buffer). */
static const char *export_at(sqlite3 *db, const char *iso, const struct qloop_policy *p)
{
    static char kinds[4096];
    set_now(iso);
    struct qloop_buf out = {0};
    struct qloop_error err;
    qloop_error_clear(&err);
    long count = -1;
    assert_int_equal(store_begin(db, &err), 0);
    if (outbox_scan(db, p, qloop_now(), &err) != 0 ||
        outbox_export(db, &out, &count, qloop_now(), &err) != 0)
        fail_msg("export: %s", err.message);
    assert_int_equal(store_commit(db, &err), 0);
    kinds[0] = '\0';
    const char *s = qloop_buf_str(&out);
    for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        json_error_t je;
        json_t *o = json_loadb(s, (size_t)(nl - s), 0, &je);
        assert_non_null(o);
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *dl = json_string_value(json_object_get(o, "deadline"));
        const char *msg = json_string_value(json_object_get(o, "message"));
        /* The message names the deadline the event carries. */
        char day[11];
        snprintf(day, sizeof day, "%.10s", dl ? dl : "");
        if (dl && (strcmp(kind, "ticket.reminder") == 0 || strcmp(kind, "ticket.overdue") == 0 ||
                   strcmp(kind, "ticket.feedback") == 0) &&
            !strstr(msg, day))
            fail_msg("%s names another deadline than %s: %s", kind, day, msg);
        size_t n = strlen(kinds);
        snprintf(kinds + n, sizeof kinds - n, "%s%s@%.10s", n ? " " : "", kind, dl ? dl : "-");
        json_decref(o);
    }
    qloop_buf_free(&out);
    return kinds;
}

/* A ticket opened on Fri 27 Sep 2024 (deadline Thu 10 Oct: 1-7 Oct off,
 * Sun 29 Sep working); nothing exported yet after the hand-over. */
static sqlite3 *one_ticket(const struct qloop_policy *p)
{
    sqlite3 *db = db_open();
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", p);
    assert_string_equal(export_at(db, "2024-09-27T11:00:00+08:00", p), "ticket.feedback@2024-10-10");
    return db;
}

static void test_reminder_then_overdue(void **state)
{
    (void)state;
    struct qloop_policy p = ningbo();
    /* Exported on time: the reminder, then the overdue notice. */
    sqlite3 *db = one_ticket(&p);
    assert_string_equal(export_at(db, "2024-10-09T09:00:00+08:00", &p), "ticket.reminder@2024-10-10");
    assert_string_equal(export_at(db, "2024-10-10T20:00:00+08:00", &p), "");
    assert_string_equal(export_at(db, "2024-10-11T09:00:00+08:00", &p), "ticket.overdue@2024-10-10");
    assert_string_equal(export_at(db, "2024-10-14T09:00:00+08:00", &p), "");
    store_close(db);

    /* The nightly run wrote the reminder, the export came after the
     * deadline: overdue only, the reminder superseded, not sent. */
    db = one_ticket(&p);
    phone_run(db, "r2", "2024-10-09T02:00:00+08:00", "P2", "P2", &p);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.reminder'"), 1);
    assert_string_equal(export_at(db, "2024-10-11T09:00:00+08:00", &p), "ticket.overdue@2024-10-10");
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.reminder'"
                               " AND superseded_at IS NOT NULL AND exported_at IS NULL"),
                     1);
    /* The run after the deadline wrote the overdue notice before any
     * export: still one notice, overdue. */
    phone_run(db, "r3", "2024-10-12T02:00:00+08:00", "P2", "P2", &p);
    assert_string_equal(export_at(db, "2024-10-12T09:00:00+08:00", &p), "");
    store_close(db);

    /* An export on the deadline day itself, before its end: the reminder. */
    db = one_ticket(&p);
    phone_run(db, "r2", "2024-10-09T02:00:00+08:00", "P2", "P2", &p);
    assert_string_equal(export_at(db, "2024-10-10T23:00:00+08:00", &p), "ticket.reminder@2024-10-10");
    store_close(db);
}

static void test_answered_or_extended_before_export(void **state)
{
    (void)state;
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    /* Answered after the run wrote the reminder: nothing to remind of. */
    sqlite3 *db = one_ticket(&p);
    phone_run(db, "r2", "2024-10-09T02:00:00+08:00", "P2", "P2", &p);
    set_now("2024-10-09T08:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", NULL, &err), 0);
    assert_string_equal(export_at(db, "2024-10-09T09:00:00+08:00", &p), "");
    store_close(db);

    /* Overdue written by a run, then an extension approved before the
     * export: the old deadline's notice is not sent; the new deadline is,
     * and is reminded of in its turn. */
    db = one_ticket(&p);
    phone_run(db, "r2", "2024-10-11T02:00:00+08:00", "P2", "P2", &p);
    set_now("2024-10-11T08:00:00+08:00");
    assert_int_equal(ticket_extend(db, 1, "2024-10-18", "历史数据", "李四", &p, &err), 0);
    assert_int_equal(ticket_approve(db, 1, "局长", &p, &err), 0);
    assert_string_equal(export_at(db, "2024-10-11T09:00:00+08:00", &p),
                        "extension.requested@2024-10-10 extension.approved@2024-10-18");
    assert_string_equal(export_at(db, "2024-10-17T09:00:00+08:00", &p), "ticket.reminder@2024-10-18");
    assert_string_equal(export_at(db, "2024-10-21T09:00:00+08:00", &p), "ticket.overdue@2024-10-18");
    store_close(db);
}

/* A filed ticket waits for the steward; handed over before the export, the
 * call to hand it over is not sent, the hand-over is. */
static void test_handed_over_before_export(void **state)
{
    (void)state;
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = db_open();
    set_now("2024-09-27T10:00:00+08:00");
    int64_t a = file_only(db, "firms", "F1", &p), b = file_only(db, "shops", "S1", &p);
    assert_int_equal(ticket_feedback(db, a, "数据治理科", true, "2024-09-30T18:00:00+08:00", &p,
                                     &err), 0);
    assert_string_equal(export_at(db, "2024-09-27T11:00:00+08:00", &p),
                        "ticket.opened@- ticket.feedback@2024-09-30");
    assert_int_equal(q_int(db, "SELECT ticket_id FROM outbox WHERE kind = 'ticket.opened'"
                               " AND exported_at IS NOT NULL"), b);
    store_close(db);
}

static void test_reopened_ticket_new_deadline(void **state)
{
    (void)state;
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    /* Overdue written by a run, not yet exported; then answered, fixed,
     * closed, and reopened by a run weeks later with a new deadline. */
    sqlite3 *db = one_ticket(&p);
    phone_run(db, "r2", "2024-10-11T02:00:00+08:00", "P2", "P2", &p);
    set_now("2024-10-11T10:00:00+08:00");
    assert_int_equal(ticket_resolve(db, 1, "rectified", "李四", NULL, &err), 0);
    phone_run(db, "r3", "2024-10-12T02:00:00+08:00", "", "P2", &p);
    assert_string_equal(state_of(db, 1), "shared");
    phone_run(db, "r4", "2024-11-04T02:00:00+08:00", "P2", "P2", &p);
    assert_string_equal(state_of(db, 1), "feedback");
    /* Received Mon 4 Nov: 5 working days, 11 Nov. The old overdue notice
     * (10 Oct) is not sent; the reopening names 11 Nov. */
    const char *got = export_at(db, "2024-11-04T09:00:00+08:00", &p);
    assert_string_equal(got, "ticket.closed@2024-10-10 ticket.feedback@2024-11-11");
    assert_non_null(strstr(q_text(db, "SELECT message FROM outbox WHERE kind = 'ticket.feedback'"
                                      " ORDER BY id DESC"),
                           "重新打开"));
    /* The new deadline is reminded of and, passed, overdue — once each. */
    phone_run(db, "r5", "2024-11-08T02:00:00+08:00", "P2", "P2", &p);
    assert_string_equal(export_at(db, "2024-11-08T09:00:00+08:00", &p), "ticket.reminder@2024-11-11");
    assert_string_equal(export_at(db, "2024-11-12T09:00:00+08:00", &p), "ticket.overdue@2024-11-11");
    assert_string_equal(export_at(db, "2024-11-13T09:00:00+08:00", &p), "");
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reminder_then_overdue),
        cmocka_unit_test(test_answered_or_extended_before_export),
        cmocka_unit_test(test_handed_over_before_export),
        cmocka_unit_test(test_reopened_ticket_new_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
