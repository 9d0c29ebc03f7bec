/*
 * test_authz.c — the authorisation function (engine/identity/authz.c) over
 * the whole roles × actions table of CONTRACT.md, for both approver kinds
 * (bureau: 宁波; provider_head: 温州), with separation of duties, disabled
 * users and the single operator of a store without users; and resolving a
 * command line's --actor against the store.
 *
 * The expected answers are written out below as one row per actor, one
 * letter per action (Y allowed, N refused), from the contract's table —
 * not computed — so a change to any single decision fails a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/authz.h"
#include "identity/identity.h"
#include "store_helpers.h"

/* The order of the letters in a row. */
static const enum ident_action order[] = {
    IDENT_VIEW,   IDENT_FEEDBACK, IDENT_RESOLVE, IDENT_EXTEND, IDENT_APPROVE,
    IDENT_REJECT, IDENT_VERIFY,   IDENT_FILE,    IDENT_IMPORT, IDENT_REVEAL,
    IDENT_ANNUAL, IDENT_SCORECARD, IDENT_MANAGE,
};
enum { NACT = sizeof order / sizeof order[0] };

static struct ident_actor user(const char *login, enum ident_role role, const char *dept, bool bureau)
{
    struct ident_actor a;
    memset(&a, 0, sizeof a);
    snprintf(a.login, sizeof a.login, "%s", login);
    a.role = role;
    snprintf(a.dept, sizeof a.dept, "%s", dept ? dept : "");
    a.bureau = bureau;
    a.active = true;
    return a;
}

static struct ident_actor operator_named(const char *text)
{
    struct ident_actor a;
    memset(&a, 0, sizeof a);
    a.operator= true;
    a.active = true;
    snprintf(a.login, sizeof a.login, "%s", text);
    return a;
}

/* Departments: 市公安局 owns the ticket (A), 大数据局 is the bureau (B),
 * 市民政局 files reports (R), 市税务局 is unrelated (C). */
#define A "市公安局"
#define B "大数据局"
#define R "市民政局"
#define C "市税务局"

static const struct ident_filer filers[] = {{"rep_r", R}, {"sys_s", NULL}};

struct row {
    struct ident_actor a;
    const char *want; /* NACT letters, in `order` */
};

/* Checks every action of every row against t; prints each mismatch. */
static void check_rows(const char *ticket, const struct ident_facts *t, const struct row *rows, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(strlen(rows[i].want), NACT);
        for (size_t k = 0; k < NACT; k++) {
            char why[1200];
            bool got = ident_allowed(&rows[i].a, order[k], t, why, sizeof why);
            bool want = rows[i].want[k] == 'Y';
            if (got != want) {
                print_error("%s: %s %s %s: want %s, got %s (%s)\n", ticket, rows[i].a.login,
                            rows[i].a.operator? "(operator)" : ident_role_name(rows[i].a.role),
                            ident_action_name(order[k]), want ? "allowed" : "refused",
                            got ? "allowed" : "refused", why);
                bad++;
            }
            /* A refusal always says why, in Chinese; a yes says nothing. */
            if (!got)
                assert_true(strlen(why) > 10 && (unsigned char)why[0] >= 0x80);
            else
                assert_string_equal(why, "");
        }
    }
    assert_int_equal(bad, 0);
}

/* Under a bureau policy (宁波): the extension was asked for by prov_a of A. */
static void matrix_bureau(void **state)
{
    (void)state;
    struct ident_facts t = {.dept = A, .approver = "bureau", .ext_actor = "prov_a", .ext_dept = A,
                            .filers = filers, .nfilers = 2};
    struct ident_actor off = user("prov_off", IDENT_PROVIDER, A, false);
    off.active = false;
    const struct row rows[] = {
        /*                                                      VFRsExApRjVfFiImRvAnScMg */
        {user("admin", IDENT_ADMIN, NULL, false),               "YYYYYYYYYYYYY"},
        {user("admin_a", IDENT_ADMIN, A, false),                "YYYYNNYYYYYYY"},
        {user("steward", IDENT_STEWARD, B, true),               "YYNNNNYYYNYYN"},
        {user("appr_b", IDENT_APPROVER, B, true),               "YNNNYYNNNNNNN"},
        {user("appr_a", IDENT_APPROVER, A, false),              "YNNNNNNNNNNNN"},
        {user("appr_c", IDENT_APPROVER, C, false),              "NNNNNNNNNNNNN"},
        {user("prov_a", IDENT_PROVIDER, A, false),              "YNYYNNNNNYNYN"},
        {user("prov_a2", IDENT_PROVIDER, A, false),             "YNYYNNNNNYNYN"},
        {user("prov_c", IDENT_PROVIDER, C, false),              "NNNNNNNNNNNNN"},
        {user("rep_r", IDENT_REPORTER, R, false),               "YNNNNNNYNNNNN"},
        {user("rep_r2", IDENT_REPORTER, R, false),              "YNNNNNNYNNNNN"},
        {user("rep_c", IDENT_REPORTER, C, false),               "NNNNNNNYNNNNN"},
        {user("sys_s", IDENT_SYSTEM, NULL, false),              "YNNNNNNYYNNNN"},
        {user("sys_c", IDENT_SYSTEM, C, false),                 "NNNNNNNYYNNNN"},
        {user("leader", IDENT_LEADER, NULL, false),             "NNNNNNNNNNYYN"},
        {off,                                                   "NNNNNNNNNNNNN"},
    };
    check_rows("bureau", &t, rows, sizeof rows / sizeof rows[0]);
}

/* Under a provider_head policy (温州): the department's own approver decides. */
static void matrix_provider_head(void **state)
{
    (void)state;
    struct ident_facts t = {.dept = A, .approver = "provider_head", .ext_actor = "prov_a",
                            .ext_dept = A, .filers = filers, .nfilers = 2};
    const struct row rows[] = {
        /*                                                      VFRsExApRjVfFiImRvAnScMg */
        {user("admin", IDENT_ADMIN, NULL, false),               "YYYYYYYYYYYYY"},
        {user("admin_a", IDENT_ADMIN, A, false),                "YYYYYYYYYYYYY"},
        {user("steward", IDENT_STEWARD, B, true),               "YYNNNNYYYNYYN"},
        {user("appr_b", IDENT_APPROVER, B, true),               "NNNNNNNNNNNNN"},
        {user("appr_a", IDENT_APPROVER, A, false),              "YNNNYYNNNNNNN"},
        {user("appr_c", IDENT_APPROVER, C, false),              "NNNNNNNNNNNNN"},
        {user("prov_a", IDENT_PROVIDER, A, false),              "YNYYNNNNNYNYN"},
        {user("prov_c", IDENT_PROVIDER, C, false),              "NNNNNNNNNNNNN"},
        {user("rep_r", IDENT_REPORTER, R, false),               "YNNNNNNYNNNNN"},
        {user("rep_c", IDENT_REPORTER, C, false),               "NNNNNNNYNNNNN"},
        {user("sys_s", IDENT_SYSTEM, NULL, false),              "YNNNNNNYYNNNN"},
        {user("leader", IDENT_LEADER, NULL, false),             "NNNNNNNNNNYYN"},
    };
    check_rows("provider_head", &t, rows, sizeof rows / sizeof rows[0]);
}

/* Nobody decides on an extension they asked for, whatever the policy and role. */
static void self_approval_refused(void **state)
{
    (void)state;
    const char *kinds[] = {"bureau", "provider_head"};
    for (int k = 0; k < 2; k++) {
        struct ident_facts t = {.dept = A, .approver = kinds[k], .ext_actor = "admin", .ext_dept = ""};
        struct ident_actor admin = user("admin", IDENT_ADMIN, NULL, false);
        char why[1200];
        assert_false(ident_allowed(&admin, IDENT_APPROVE, &t, why, sizeof why));
        assert_non_null(strstr(why, "自己提出的延期申请"));
        assert_false(ident_allowed(&admin, IDENT_REJECT, &t, why, sizeof why));
        /* Another admin may. */
        struct ident_actor other = user("admin2", IDENT_ADMIN, NULL, false);
        assert_true(ident_allowed(&other, IDENT_APPROVE, &t, why, sizeof why));
    }
    /* An approver of the bureau whose request it was (an admin of the bureau
     * asked, an approver cannot ask): refused by name even so. */
    struct ident_facts t = {.dept = B, .approver = "bureau", .ext_actor = "appr_b", .ext_dept = B};
    struct ident_actor appr = user("appr_b", IDENT_APPROVER, B, true);
    char why[1200];
    assert_false(ident_allowed(&appr, IDENT_APPROVE, &t, why, sizeof why));
    assert_non_null(strstr(why, "自己提出"));
}

/* Under bureau, nobody of the requesting department decides — not even the
 * bureau's own approvers on the bureau's own request; with no requester
 * department known, the ticket's department counts. */
static void bureau_requesting_department(void **state)
{
    (void)state;
    struct ident_actor appr_b = user("appr_b", IDENT_APPROVER, B, true);
    struct ident_facts own = {.dept = B, .approver = "bureau", .ext_actor = "admin_b", .ext_dept = B};
    char why[1200];
    assert_false(ident_allowed(&appr_b, IDENT_APPROVE, &own, why, sizeof why));
    assert_non_null(strstr(why, "申请部门"));
    struct ident_facts unknown = {.dept = B, .approver = "bureau", .ext_actor = "旧的自由文本"};
    assert_false(ident_allowed(&appr_b, IDENT_REJECT, &unknown, why, sizeof why));
    struct ident_facts other = {.dept = A, .approver = "bureau", .ext_actor = "prov_a", .ext_dept = A};
    assert_true(ident_allowed(&appr_b, IDENT_APPROVE, &other, why, sizeof why));
    /* Under provider_head the requesting department decides, by its head. */
    struct ident_actor appr_a = user("appr_a", IDENT_APPROVER, A, false);
    other.approver = "provider_head";
    assert_true(ident_allowed(&appr_a, IDENT_APPROVE, &other, why, sizeof why));
    /* A policy naming an approver nobody knows: only an admin decides. */
    other.approver = "committee";
    assert_false(ident_allowed(&appr_a, IDENT_APPROVE, &other, why, sizeof why));
    assert_non_null(strstr(why, "committee"));
    struct ident_actor admin = user("admin", IDENT_ADMIN, NULL, false);
    assert_true(ident_allowed(&admin, IDENT_APPROVE, &other, why, sizeof why));
}

/* A store with no users: one trusted operator, who still cannot approve as
 * the ticket's own department or their own request, and cannot reveal. */
static void operator_store(void **state)
{
    (void)state;
    struct ident_facts t = {.dept = A, .approver = "bureau", .ext_actor = "李四"};
    const struct row rows[] = {
        /*                                              VFRsExApRjVfFiImRvAnScMg */
        {operator_named("张三"),                        "YYYYYYYYYNYYY"},
        {operator_named(A),                             "YYYYNNYYYNYYY"},
        {operator_named("李四"),                        "YYYYNNYYYNYYY"},
    };
    check_rows("operator", &t, rows, sizeof rows / sizeof rows[0]);
    char why[1200];
    struct ident_actor as_dept = operator_named(A);
    ident_allowed(&as_dept, IDENT_APPROVE, &t, why, sizeof why);
    assert_non_null(strstr(why, "工单所属部门"));
    struct ident_actor blank = operator_named("");
    assert_false(ident_allowed(&blank, IDENT_VIEW, &t, why, sizeof why));
}

/* Actions without a ticket: a scorecard of no department is not a
 * provider's; filing needs no ticket. */
static void without_ticket(void **state)
{
    (void)state;
    struct ident_actor prov = user("prov_a", IDENT_PROVIDER, A, false);
    struct ident_actor rep = user("rep_r", IDENT_REPORTER, R, false);
    struct ident_actor leader = user("leader", IDENT_LEADER, NULL, false);
    char why[1200];
    assert_false(ident_allowed(&prov, IDENT_SCORECARD, NULL, why, sizeof why));
    assert_false(ident_allowed(&prov, IDENT_VIEW, NULL, why, sizeof why));
    assert_true(ident_allowed(&rep, IDENT_FILE, NULL, why, sizeof why));
    assert_true(ident_allowed(&leader, IDENT_ANNUAL, NULL, why, sizeof why));
    struct ident_facts sc = {.dept = A};
    assert_true(ident_allowed(&prov, IDENT_SCORECARD, &sc, why, sizeof why));
    /* The reason names who is refused and who may instead. */
    assert_false(ident_allowed(&rep, IDENT_FEEDBACK, NULL, why, sizeof why));
    assert_non_null(strstr(why, "rep_r"));
    assert_non_null(strstr(why, "数据治理人员"));
    assert_false(ident_allowed(NULL, IDENT_VIEW, NULL, why, sizeof why));
    assert_false(ident_allowed(&rep, IDENT_NACTIONS, NULL, why, sizeof why));
}

/* --actor against the store: free text while there are no users, a login
 * once there are; a disabled user resolves but may do nothing. */
static void resolve_actor(void **state)
{
    (void)state;
    set_now("2024-09-02T09:00:00+08:00");
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ident_actor a;
    assert_int_equal(ident_actor_resolve(db, "市公安局", &a, &err), 0);
    assert_true(a.operator);
    assert_string_equal(a.login, "市公安局");
    assert_int_equal(ident_actor_resolve(db, "", &a, &err), -1);

    assert_int_equal(ident_dept_add(db, A, NULL, false, "test", NULL, &err), 0);
    assert_int_equal(ident_user_add(db, "prov_a", IDENT_PROVIDER, A, "王五", "password-1", "test", &err), 0);
    assert_int_equal(ident_actor_resolve(db, "市公安局", &a, &err), -1);
    assert_non_null(strstr(err.message, "登录名"));
    assert_int_equal(ident_actor_resolve(db, "prov_a", &a, &err), 0);
    assert_false(a.operator);
    assert_int_equal(a.role, IDENT_PROVIDER);
    assert_string_equal(a.dept, A);
    struct ident_facts t = {.dept = A, .approver = "bureau"};
    char why[1200];
    assert_true(ident_allowed(&a, IDENT_RESOLVE, &t, why, sizeof why));

    assert_int_equal(ident_user_disable(db, "prov_a", "test", NULL, &err), 0);
    assert_int_equal(ident_actor_resolve(db, "prov_a", &a, &err), 0);
    assert_false(a.active);
    for (size_t k = 0; k < NACT; k++) {
        assert_false(ident_allowed(&a, order[k], &t, why, sizeof why));
        assert_non_null(strstr(why, "已停用"));
    }
    assert_int_equal(ident_require(&a, IDENT_VIEW, &t, "工单 7", &err), -1);
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INPUT);
    assert_non_null(strstr(err.message, "工单 7："));
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix_bureau),
        cmocka_unit_test(matrix_provider_head),
        cmocka_unit_test(self_approval_refused),
        cmocka_unit_test(bureau_requesting_department),
        cmocka_unit_test(operator_store),
        cmocka_unit_test(without_ticket),
        cmocka_unit_test(resolve_actor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
