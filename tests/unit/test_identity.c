/*
 * test_identity.c — departments and users in the store
 * (engine/identity/): registering departments (one bureau, codes unique,
 * owners registered once when first seen, each audited), users (roles,
 * departments, passwords hashed with Argon2id at the INTERACTIVE limits),
 * signing in (wrong passwords, unknown logins, disabled users, throttling),
 * API keys and sessions (shown once, stored hashed, disabled users locked
 * out), and that no password, key or token reaches the audit chain or a
 * message.
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

#include "identity/identity.h"
#include "store/audit.h"
#include "store/schema.h"
#include "store_helpers.h"

static struct qloop_error err;

static sqlite3 *fresh(void)
{
    set_now("2024-09-02T09:00:00+08:00");
    qloop_error_clear(&err);
    return db_open();
}

/* Whether text occurs in any column of any row of the audit chain. */
static bool in_audit(sqlite3 *db, const char *text)
{
    return q_int(db, "SELECT count(*) FROM audit WHERE instr(detail, %Q) OR instr(actor, %Q)"
                     " OR instr(subject, %Q)",
                 text, text, text) > 0;
}

static void depts_register(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    bool changed;
    assert_int_equal(ident_dept_add(db, "大数据局", "11330200MB0000000X", true, "console:root", &changed, &err), 0);
    assert_true(changed);
    assert_int_equal(ident_dept_add(db, "市公安局", NULL, false, "console:root", &changed, &err), 0);
    /* The same again changes nothing. */
    assert_int_equal(ident_dept_add(db, "市公安局", NULL, false, "console:root", &changed, &err), 0);
    assert_false(changed);
    /* One bureau only. */
    assert_int_equal(ident_dept_add(db, "市公安局", NULL, true, "console:root", &changed, &err), -1);
    assert_non_null(strstr(err.message, "大数据局"));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INPUT);
    /* A code belongs to one department. */
    assert_int_equal(ident_dept_add(db, "市公安局", "11330200MB0000000X", false, "c", &changed, &err), -1);
    assert_non_null(strstr(err.message, "已属于"));
    /* A code given later is set, and audited as a change. */
    assert_int_equal(ident_dept_add(db, "市公安局", "113302000000001", false, "c", &changed, &err), 0);
    assert_true(changed);
    assert_string_equal(q_text(db, "SELECT code FROM depts WHERE name = '市公安局'"), "113302000000001");
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'dept.change'"), 1);
    /* Names and codes that are not. */
    assert_int_equal(ident_dept_add(db, "", NULL, false, "c", NULL, &err), -1);
    assert_int_equal(ident_dept_add(db, " 市公安局", NULL, false, "c", NULL, &err), -1);
    assert_int_equal(ident_dept_add(db, "市\n公安局", NULL, false, "c", NULL, &err), -1);
    assert_int_equal(ident_dept_add(db, "市税务局", "11 33", false, "c", NULL, &err), -1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM depts"), 2);

    /* An owner first seen in a rule pack: registered once, audited once. */
    bool added;
    assert_int_equal(ident_dept_ensure(db, "市民政局", "rules", "system", &added, &err), 0);
    assert_true(added);
    assert_int_equal(ident_dept_ensure(db, "市民政局", "catalog", "system", &added, &err), 0);
    assert_false(added);
    assert_int_equal(ident_dept_ensure(db, "市公安局", "rules", "system", &added, &err), 0);
    assert_false(added);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'dept.register'"
                               " AND subject = 'dept:市民政局'"),
                     1);
    assert_string_equal(q_text(db, "SELECT seen_in FROM depts WHERE name = '市民政局'"), "rules");

    json_t *list;
    assert_int_equal(ident_dept_list_json(db, &list, &err), 0);
    assert_int_equal(json_array_size(list), 3);
    json_t *first = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "大数据局");
    assert_true(json_is_true(json_object_get(first, "bureau")));
    json_decref(list);
    int64_t n;
    char why[200];
    assert_int_equal(audit_verify(db, &n, &n, why, sizeof why, &err), 0);
    store_close(db);
}

static void users_add(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    assert_int_equal(ident_dept_add(db, "市公安局", NULL, false, "c", NULL, &err), 0);
    const char *pw = "s3cret-Passw0rd";
    /* A provider needs a department, a registered one. */
    assert_int_equal(ident_user_add(db, "wang", IDENT_PROVIDER, NULL, NULL, pw, "c", &err), -1);
    assert_non_null(strstr(err.message, "--dept"));
    assert_int_equal(ident_user_add(db, "wang", IDENT_PROVIDER, "市税务局", NULL, pw, "c", &err), -1);
    assert_non_null(strstr(err.message, "qloop depts add"));
    /* A password too short is refused without being quoted. */
    assert_int_equal(ident_user_add(db, "wang", IDENT_PROVIDER, "市公安局", NULL, "短密码", "c", &err), -1);
    assert_null(strstr(err.message, "短密码"));
    assert_int_equal(ident_user_add(db, "wang", IDENT_PROVIDER, "市公安局", NULL, NULL, "c", &err), -1);
    /* Bad logins. */
    assert_int_equal(ident_user_add(db, "wang li", IDENT_LEADER, NULL, NULL, pw, "c", &err), -1);
    assert_int_equal(ident_user_add(db, "", IDENT_LEADER, NULL, NULL, pw, "c", &err), -1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM users"), 0);

    assert_int_equal(ident_user_add(db, "wang", IDENT_PROVIDER, "市公安局", "王五", pw, "c", &err), 0);
    assert_int_equal(ident_user_add(db, "wang", IDENT_LEADER, NULL, NULL, pw, "c", &err), -1);
    assert_non_null(strstr(err.message, "已被使用"));
    assert_int_equal(ident_user_add(db, "张三", IDENT_LEADER, NULL, NULL, pw, "c", &err), 0);
    /* A system user may go without a password. */
    assert_int_equal(ident_user_add(db, "erp", IDENT_SYSTEM, NULL, NULL, NULL, "c", &err), 0);

    /* The hash: Argon2id with the INTERACTIVE limits, never the password. */
    const char *h = q_text(db, "SELECT password_hash FROM users WHERE login = 'wang'");
    assert_true(strncmp(h, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    assert_null(strstr(h, pw));
    assert_false(in_audit(db, pw));
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'user.add'"), 3);

    struct ident_user u;
    assert_int_equal(ident_user_find(db, "wang", &u, &err), 1);
    assert_int_equal(u.role, IDENT_PROVIDER);
    assert_string_equal(u.dept, "市公安局");
    assert_string_equal(u.name, "王五");
    assert_true(u.active && u.has_password);
    assert_int_equal(ident_user_find(db, "nobody", &u, &err), 0);

    json_t *list;
    assert_int_equal(ident_user_list_json(db, &list, &err), 0);
    assert_int_equal(json_array_size(list), 3);
    char *text = json_dumps(list, 0);
    assert_null(strstr(text, "argon2"));
    free(text);
    json_decref(list);

    bool changed;
    assert_int_equal(ident_user_disable(db, "wang", "c", &changed, &err), 0);
    assert_true(changed);
    assert_int_equal(ident_user_disable(db, "wang", "c", &changed, &err), 0);
    assert_false(changed);
    assert_int_equal(ident_user_disable(db, "nobody", "c", &changed, &err), -1);
    assert_int_equal(ident_user_find(db, "wang", &u, &err), 1);
    assert_false(u.active);
    assert_string_equal(u.disabled_at, "2024-09-02T09:00:00+08:00");
    store_close(db);
}

static void signin(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    assert_int_equal(ident_user_add(db, "lead", IDENT_LEADER, NULL, "赵六", "right-password", "c", &err), 0);
    struct ident_user u;
    assert_int_equal(ident_signin(db, "lead", "right-password", &u, &err), IDENT_SIGNIN_OK);
    assert_string_equal(u.login, "lead");
    assert_int_equal(ident_signin(db, "lead", "wrong-password", &u, &err), IDENT_SIGNIN_BAD);
    assert_int_equal(ident_signin(db, "nobody", "right-password", &u, &err), IDENT_SIGNIN_BAD);
    assert_int_equal(ident_signin(db, "lead", "", &u, &err), IDENT_SIGNIN_BAD);
    /* A success clears the failures; five in a row lock the login out for
     * 15 minutes, even with the right password. */
    assert_int_equal(ident_signin(db, "lead", "right-password", &u, &err), IDENT_SIGNIN_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ident_signin(db, "lead", "guess", &u, &err), IDENT_SIGNIN_BAD);
    assert_int_equal(ident_signin(db, "lead", "right-password", &u, &err), IDENT_SIGNIN_THROTTLED);
    set_now("2024-09-02T09:16:00+08:00");
    assert_int_equal(ident_signin(db, "lead", "right-password", &u, &err), IDENT_SIGNIN_OK);
    assert_int_equal(q_int(db, "SELECT count(*) FROM signin_failures WHERE login = 'lead'"), 0);
    /* A disabled user cannot sign in. */
    assert_int_equal(ident_user_disable(db, "lead", "c", NULL, &err), 0);
    assert_int_equal(ident_signin(db, "lead", "right-password", &u, &err), IDENT_SIGNIN_BAD);
    /* A system user without a password cannot sign in with one. */
    assert_int_equal(ident_user_add(db, "erp", IDENT_SYSTEM, NULL, NULL, NULL, "c", &err), 0);
    assert_int_equal(ident_signin(db, "erp", "anything-at-all", &u, &err), IDENT_SIGNIN_BAD);
    assert_false(in_audit(db, "right-password"));
    store_close(db);
}

static void api_keys(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    assert_int_equal(ident_user_add(db, "erp", IDENT_SYSTEM, NULL, NULL, NULL, "c", &err), 0);
    assert_int_equal(ident_user_add(db, "lead", IDENT_LEADER, NULL, NULL, "right-password", "c", &err), 0);
    char key[IDENT_KEY_CHARS + 1], key2[IDENT_KEY_CHARS + 1];
    /* Only for system users. */
    assert_int_equal(ident_key_new(db, "lead", "c", key, sizeof key, &err), -1);
    assert_non_null(strstr(err.message, "system"));
    assert_int_equal(ident_key_new(db, "nobody", "c", key, sizeof key, &err), -1);

    assert_int_equal(ident_key_new(db, "erp", "c", key, sizeof key, &err), 0);
    assert_int_equal(strlen(key), IDENT_KEY_CHARS);
    assert_true(strncmp(key, "qk_", 3) == 0);
    struct ident_user u;
    assert_int_equal(ident_key_check(db, key, &u, &err), 1);
    assert_string_equal(u.login, "erp");
    /* Stored only hashed; never audited. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM api_keys WHERE instr(key_hash, %Q) OR key_hash = %Q",
                           key + 20, key),
                     0);
    assert_false(in_audit(db, key));
    assert_false(in_audit(db, key + 20));
    /* One character off, cut short, or garbage: refused. */
    char bad[IDENT_KEY_CHARS + 1];
    memcpy(bad, key, sizeof bad);
    bad[IDENT_KEY_CHARS - 1] = bad[IDENT_KEY_CHARS - 1] == '0' ? '1' : '0';
    assert_int_equal(ident_key_check(db, bad, &u, &err), 0);
    bad[10] = '\0';
    assert_int_equal(ident_key_check(db, bad, &u, &err), 0);
    assert_int_equal(ident_key_check(db, "", &u, &err), 0);
    assert_int_equal(ident_key_check(db, NULL, &u, &err), 0);
    /* A new key revokes the old one. */
    assert_int_equal(ident_key_new(db, "erp", "c", key2, sizeof key2, &err), 0);
    assert_string_not_equal(key, key2);
    assert_int_equal(ident_key_check(db, key, &u, &err), 0);
    assert_int_equal(ident_key_check(db, key2, &u, &err), 1);
    /* A disabled user's key stops working; no new one is issued. */
    assert_int_equal(ident_user_disable(db, "erp", "c", NULL, &err), 0);
    assert_int_equal(ident_key_check(db, key2, &u, &err), 0);
    assert_int_equal(ident_key_new(db, "erp", "c", key, sizeof key, &err), -1);
    assert_non_null(strstr(err.message, "已停用"));
    store_close(db);
}

static void sessions(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    assert_int_equal(ident_dept_add(db, "大数据局", NULL, true, "c", NULL, &err), 0);
    assert_int_equal(ident_user_add(db, "st", IDENT_STEWARD, "大数据局", NULL, "right-password", "c", &err), 0);
    struct ident_user u;
    assert_int_equal(ident_signin(db, "st", "right-password", &u, &err), IDENT_SIGNIN_OK);
    assert_true(u.dept_bureau);
    char token[IDENT_TOKEN_CHARS + 1], csrf[IDENT_TOKEN_CHARS + 1], got[IDENT_TOKEN_CHARS + 1];
    assert_int_equal(ident_session_new(db, u.id, 8 * 3600, token, csrf, &err), 0);
    assert_int_equal(strlen(token), IDENT_TOKEN_CHARS);
    assert_string_not_equal(token, csrf);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sessions WHERE token_hash = %Q", token), 0);
    struct ident_user v;
    assert_int_equal(ident_session_user(db, token, &v, got, &err), 1);
    assert_string_equal(v.login, "st");
    assert_true(ident_csrf_ok(got, csrf));
    assert_false(ident_csrf_ok(got, "x"));
    assert_false(ident_csrf_ok(got, NULL));
    assert_false(ident_csrf_ok("", ""));
    assert_int_equal(ident_session_user(db, csrf, &v, got, &err), 0);
    assert_int_equal(ident_session_user(db, "nonsense", &v, got, &err), 0);
    /* Expired after its time. */
    set_now("2024-09-02T17:00:01+08:00");
    assert_int_equal(ident_session_user(db, token, &v, got, &err), 0);
    set_now("2024-09-02T09:00:00+08:00");
    assert_int_equal(ident_session_user(db, token, &v, got, &err), 1);
    /* Signing out ends it. */
    assert_int_equal(ident_session_end(db, token, &err), 0);
    assert_int_equal(ident_session_user(db, token, &v, got, &err), 0);
    /* Disabling the user ends its sessions; none is made for it. */
    assert_int_equal(ident_session_new(db, u.id, 3600, token, csrf, &err), 0);
    assert_int_equal(ident_user_disable(db, "st", "c", NULL, &err), 0);
    assert_int_equal(ident_session_user(db, token, &v, got, &err), 0);
    assert_int_equal(ident_session_new(db, u.id, 3600, token, csrf, &err), -1);
    store_close(db);
}

/* A store from before users (schema steps 1-4 only, as release 0.1 left
 * it): upgrading registers the departments its tickets, runs and catalog
 * already name, as first seen there, and keeps the free-text actors of its
 * history. */
static void upgrade_registers_departments(void **state)
{
    (void)state;
    set_now("2024-09-02T09:00:00+08:00");
    char path[] = "/tmp/qloop-identity-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    for (int v = 0; v < 4; v++)
        exec(raw, "%s", store_steps[v].sql);
    exec(raw, "PRAGMA user_version = 4;"
              "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at, opened_by)"
              " VALUES(1, 'people', 'people.phone', 'run', '市公安局', 'feedback', 'ningbo',"
              " '2024-03-01T02:00:00+08:00', 'system'),"
              " (2, 'people', 'manual', 'file', '市公安局', 'discovered', 'ningbo',"
              " '2024-02-01T10:00:00+08:00', '张三');"
              "INSERT INTO ticket_history(ticket_id, at, actor, event, to_state)"
              " VALUES(2, '2024-02-01T10:00:00+08:00', '张三', 'open', 'discovered');"
              "INSERT INTO runs(id, started_at, as_of, status, rules)"
              " VALUES('r1', '2024-01-05T02:00:00+08:00', '2024-01-05T02:00:00+08:00', 'done', '[]');"
              "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES('r1', 'firms', 3, '市监局'),"
              " ('r1', 'x', 1, NULL), ('r1', 'y', 1, '');"
              "INSERT INTO catalog_datasets(dataset, owner, added_at, changed_at, version)"
              " VALUES('roads', '市交通局', '2024-04-01T00:00:00+08:00', '2024-04-01T00:00:00+08:00', 1);");
    sqlite3_close(raw);
    struct qloop_error e;
    qloop_error_clear(&e);
    sqlite3 *db = store_open(path, &e);
    assert_non_null(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM depts"), 3);
    assert_string_equal(q_text(db, "SELECT registered_at FROM depts WHERE name = '市公安局'"),
                        "2024-02-01T10:00:00+08:00");
    assert_string_equal(q_text(db, "SELECT seen_in FROM depts WHERE name = '市监局'"), "upgrade");
    assert_int_equal(q_int(db, "SELECT count(*) FROM depts WHERE name = '市交通局'"), 1);
    assert_string_equal(q_text(db, "SELECT actor FROM ticket_history WHERE ticket_id = 2"), "张三");
    assert_int_equal(q_int(db, "SELECT count(*) FROM users"), 0);
    store_close(db);
    char key[600];
    snprintf(key, sizeof key, "%s.key", path);
    unlink(key);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(depts_register), cmocka_unit_test(users_add),
        cmocka_unit_test(signin),         cmocka_unit_test(api_keys),
        cmocka_unit_test(sessions),       cmocka_unit_test(upgrade_registers_departments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
