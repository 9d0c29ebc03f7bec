/*
 * test_ticket_file.c — reports filed by hand or imported (known datasets
 * only, the owner as department, waiting in 发现 for the steward unless the
 * policy hands them over, urgent hand-over, duplicates, joining the open
 * filed ticket, masking by the dataset's declared sensitive fields and by
 * shape — key, value, message, notes and reasons — refused reports, verification
 * by a person) and the outbox's exactly-once events (reminders, overdue notices,
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
    /* The department is the dataset's owner; the key of a known dataset is
     * kept; a hand-filed ticket waits in 发现 for the steward. */
    struct ticket_report r = {.dataset = "people", .key = "P9", .field = "name",
                              .message = "姓名有错别字", .actor = "窗口人员"};
    int64_t tid = 0;
    bool dup = true;
    assert_int_equal(ticket_file(db, &r, "file", &p, &tid, &dup, &err), 0);
    assert_false(dup);
    assert_int_equal(tid, 2);
    assert_string_equal(q_text(db, "SELECT dept || '|' || rule || '|' || source || '|' || state"
                                   " || '|' || coalesce(received_at, '-') FROM tickets WHERE id = 2"),
                        "市公安局|manual|file|discovered|-");
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'ticket.opened'"
                                   " AND ticket_id = 2"),
                        "数据治理人员");
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
    /* Another record joins the open filed ticket; once it is with its
     * provider, new records are announced. */
    struct ticket_report r3 = {.dataset = "people", .key = "P10", .message = "住址错误",
                               .actor = "窗口人员", .dept = "市公安局"};
    assert_int_equal(ticket_file(db, &r3, "file", &p, &tid, &dup, &err), 0);
    assert_int_equal(tid, 2);
    assert_string_equal(state_of(db, 2), "discovered");
    assert_int_equal(ticket_feedback(db, 2, "数据治理科", false, NULL, &p, &err), 0);
    assert_string_equal(q_text(db, "SELECT deadline FROM tickets WHERE id = 2"),
                        "2024-10-10T23:59:59+08:00"); /* Sun 29 Sep 2024 is a working day */
    struct ticket_report r3b = {.dataset = "people", .key = "P11", .message = "住址错误",
                                .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r3b, "file", &p, &tid, &dup, &err), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM outbox WHERE kind = 'ticket.items_added' AND ticket_id = 2"), 1);
    /* Identity numbers are stored masked. */
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
    /* Refused, nothing written: an unknown dataset (the known ones named), a
     * department other than the owner, a dataset without an owner. */
    int64_t tickets = q_int(db, "SELECT count(*) FROM tickets");
    int64_t items = q_int(db, "SELECT count(*) FROM ticket_items");
    struct ticket_report r5 = {.dataset = "unknown_ds", .key = "ABCDEFGH", .message = "x",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r5, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "unknown_ds"));
    assert_non_null(strstr(err.message, "已知的数据集：people"));
    struct ticket_report r6 = {.dataset = "people", .key = "P12", .message = "x",
                               .actor = "窗口人员", .dept = "市民政局"};
    assert_int_equal(ticket_file(db, &r6, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "数源部门是「市公安局」"));
    exec(db, "INSERT INTO catalog_datasets(dataset, added_at, changed_at, version)"
             " VALUES('orphans', '2024-01-01', '2024-01-01', 1)");
    struct ticket_report r7 = {.dataset = "orphans", .key = "O1", .message = "x",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r7, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "没有登记数源部门"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets"), tickets);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items"), items);
    /* A dataset known from the catalog only: its catalog owner. */
    know_dataset(db, "licences", "市市场监管局");
    struct ticket_report r8 = {.dataset = "licences", .key = "L1", .message = "证照过期",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r8, "file", &p, &tid, &dup, &err), 0);
    assert_string_equal(q_text(db, "SELECT dept || '|' || state FROM tickets WHERE id = %lld",
                               (long long)tid),
                        "市市场监管局|discovered");
    assert_int_equal(q_int(db, "SELECT count(*) FROM depts WHERE name = '市市场监管局'"), 1);
    /* By the dataset's declaration: a sensitive field's value masked as
     * such whatever its shape, the message masked by shape and by the
     * sensitive values it quotes; a field not declared sensitive kept. */
    struct ticket_report r9 = {.dataset = "people", .key = "P20", .field = "address",
                               .value = "杭州市西湖区文三路100号",
                               .message = "住址 杭州市西湖区文三路100号 有误，电话 13812345678，"
                                          "身份证 330102199001011234",
                               .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r9, "file", &p, &tid, &dup, &err), 0);
    assert_string_equal(q_text(db, "SELECT record_key || '|' || value || '|' || message"
                                   " FROM ticket_items ORDER BY id DESC LIMIT 1"),
                        "P20|杭州市西湖区****|住址 杭州市西湖区**** 有误，电话 138****5678，"
                        "身份证 330102***********4");
    struct ticket_report r10 = {.dataset = "people", .key = "P21", .field = "name", .value = "王小明",
                                .message = "王小明 写错", .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r10, "file", &p, &tid, &dup, &err), 0);
    assert_string_equal(q_text(db, "SELECT value || '|' || message FROM ticket_items"
                                   " ORDER BY id DESC LIMIT 1"),
                        "王小明|王小明 写错");
    /* A dataset whose key fields the store does not know (the catalog names
     * none): the key is masked, and so are the message's quotes of it. */
    struct ticket_report r11 = {.dataset = "licences", .key = "QRSTUVWX", .field = "f",
                                .value = "v-1", .message = "记录 QRSTUVWX 的 v-1 不对",
                                .actor = "窗口人员"};
    assert_int_equal(ticket_file(db, &r11, "import", &p, &tid, &dup, &err), 0);
    assert_string_equal(q_text(db, "SELECT message FROM ticket_items ORDER BY id DESC LIMIT 1"),
                        "记录 Q******X 的 v-1 不对");
    assert_int_equal(q_int(db, "SELECT count(*) FROM tickets WHERE message LIKE '%%13812345678%%'"
                               " OR message LIKE '%%QRSTUVWX%%'"),
                     0);
    /* Missing fields and bad sources are refused. */
    struct ticket_report bad = {.dataset = "people", .key = "", .message = "x", .actor = "a"};
    assert_int_equal(ticket_file(db, &bad, "file", &p, &tid, &dup, &err), -1);
    assert_non_null(strstr(err.message, "key"));
    assert_int_equal(ticket_file(db, &r, "web", &p, &tid, &dup, &err), -1);
    /* A filed ticket no run re-checks is verified by a person. */
    assert_int_equal(ticket_resolve(db, 2, "rectified", "李四", NULL, &err), 0);
    assert_int_equal(ticket_verify(db, 2, "窗口人员", false, NULL, &err), -1);
    assert_int_equal(ticket_verify(db, 2, "窗口人员", false, "住址仍错，已电话 13812345678 联系", &err), 0);
    assert_string_equal(q_text(db, "SELECT reason FROM ticket_history ORDER BY id DESC LIMIT 1"),
                        "人工复核未通过：住址仍错，已电话 138****5678 联系");
    assert_string_equal(state_of(db, 2), "feedback");
    assert_int_equal(ticket_resolve(db, 2, "rectified", "李四", "已改，身份证 330102199001011234", &err), 0);
    assert_string_equal(q_text(db, "SELECT note FROM tickets WHERE id = 2"),
                        "数源部门答复：完成整改。已改，身份证 330102***********4");
    assert_int_equal(ticket_verify(db, 2, "窗口人员", true, NULL, &err), 0);
    assert_string_equal(state_of(db, 2), "shared");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE ticket_id = 2 AND state = 'fixed'"), 6);
    /* Nothing personal anywhere: history, notes, the audit chain, the outbox. */
    assert_int_equal(q_int(db, "SELECT (SELECT count(*) FROM ticket_history WHERE reason LIKE '%%13812345678%%')"
                               " + (SELECT count(*) FROM audit WHERE detail LIKE '%%13812345678%%'"
                               "    OR detail LIKE '%%199001011234%%')"
                               " + (SELECT count(*) FROM outbox WHERE message LIKE '%%13812345678%%')"),
                     0);
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'ticket.closed'"
                                   " AND ticket_id = 2"),
                        "窗口人员");
    audit_whole(db);
    store_close(db);
}

/* A policy may hand filed tickets straight to the provider; an urgent
 * hand-over by the steward works for filed tickets; a filed ticket keeps
 * the policy it was filed under. */
static void test_hand_filed_policy(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    set_now("2024-09-27T10:00:00+08:00");
    struct qloop_policy direct = ningbo();
    direct.hand_filed_feedback = true;
    int64_t a = file_only(db, "firms", "F1", &direct);
    assert_string_equal(q_text(db, "SELECT state || '|' || received_at || '|' || deadline"
                                   " FROM tickets WHERE id = %lld", (long long)a),
                        "feedback|2024-09-27T10:00:00+08:00|2024-10-10T23:59:59+08:00");
    assert_string_equal(q_text(db, "SELECT recipient FROM outbox WHERE kind = 'ticket.feedback'"
                                   " AND ticket_id = %lld", (long long)a),
                        "市民政局");
    /* Under the shipped policies it waits; the steward hands it over
     * urgently with its own deadline. */
    struct qloop_policy nb = ningbo(), wz = wenzhou();
    int64_t b = file_only(db, "shops", "S1", &wz);
    assert_string_equal(state_of(db, b), "discovered");
    assert_int_equal(ticket_feedback(db, b, "数据治理科", true, "2024-09-30T18:00:00+08:00", &nb,
                                     &err), 0);
    assert_string_equal(q_text(db, "SELECT state || '|' || urgent || '|' || deadline || '|' || policy"
                                   " FROM tickets WHERE id = %lld", (long long)b),
                        "feedback|1|2024-09-30T18:00:00+08:00|wenzhou");
    assert_non_null(strstr(q_text(db, "SELECT message FROM outbox WHERE kind = 'ticket.feedback'"
                                      " AND ticket_id = %lld", (long long)b),
                           "2024-09-30"));
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
        cmocka_unit_test(test_hand_filed_policy),
        cmocka_unit_test(test_outbox_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
