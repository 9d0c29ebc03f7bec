/*
 * test_ticket_file.c — reports filed by hand or imported (default
 * department, duplicates, joining the open filed ticket, masking of identity
 * numbers and of unknown datasets, refused reports, verification by a
 * person) and the outbox's exactly-once events (reminders, overdue notices,
 * a new reminder after an approved extension, exports rolled back).
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

/* ---- filing ---------------------------------------------------------------- */

static void test_file_reports(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    struct qloop_error err;
    qloop_error_clear(&err);
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &p);
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
    /* A dataset the store does not know is refused (CONTRACT.md: no ticket
     * to a department nobody registered), as is a department nobody
     * registered; nothing is written. */
    int64_t items = q_int(db, "SELECT count(*) FROM ticket_items");
    struct ticket_report r5 = {.dataset = "unknown_ds", .key = "ABCDEFGH", .message = "x",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r5, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "unknown_ds"));
    struct ticket_report r6 = {.dataset = "people", .key = "P11", .message = "x",
                               .actor = "窗口人员", .dept = "没登记的部门"};
    assert_int_equal(ticket_file(db, &r6, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "qloop depts add"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), items);
    /* A dataset only the catalog knows goes to the catalog's owner. */
    exec(db, "INSERT INTO catalog_datasets(dataset, owner, added_at, changed_at, version)"
             " VALUES('roads', '市交通局', '2024-01-01T00:00:00+08:00', '2024-01-01T00:00:00+08:00', 1)");
    struct ticket_report r7 = {.dataset = "roads", .key = "R1", .message = "x", .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r7, "file", &p, &tid, &dup, &err), 0);
    assert_string_equal(q_text(db, "SELECT dept FROM tickets WHERE id = %lld", (long long)tid),
                        "市交通局");
    assert_int_equal(q_int(db, "SELECT count(*) FROM depts WHERE name = '市交通局'"), 1);
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
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2", "P2", &p);
    char kind[64] = "";
    assert_int_equal(export_lines(db, NULL, kind, sizeof kind), 1);
    assert_string_equal(kind, "ticket.feedback");
    assert_int_equal(export_lines(db, NULL, NULL, 0), 0);
    /* The same run again (killed and re-run, or a second run) adds nothing. */
    phone_run(db, "r2", "2024-09-27T11:00:00+08:00", "P2", "P2", &p);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_reports),
        cmocka_unit_test(test_outbox_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
