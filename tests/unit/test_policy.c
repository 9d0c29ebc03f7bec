/*
 * test_policy.c — deadline policies: the shipped ningbo and wenzhou files,
 * the built-in default kept equal to ningbo.lua, both ways of writing a
 * policy, every kind of mistake in a policy file, --policy NAME|FILE
 * resolution, and the deadline, cap and reminder arithmetic.
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

#include "base/clock.h"
#include "rules/policy.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/qloop-policy-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int64_t at(const char *iso)
{
    int64_t t;
    assert_true(qloop_parse_datetime(iso, &t));
    return t;
}

static void test_default_equals_ningbo_file(void **state)
{
    (void)state;
    struct qloop_policy def, file;
    struct qloop_error err;
    qloop_error_clear(&err);
    policy_default(&def);
    if (policy_load(QLOOP_SOURCE_DIR "/rules/policies/ningbo.lua", &file, &err) != 0)
        fail_msg("ningbo.lua: %s", err.message);
    assert_string_equal(file.name, "ningbo");
    assert_string_equal(file.name, def.name);
    assert_string_equal(file.basis, def.basis);
    assert_int_equal(file.response_days, 5);
    assert_int_equal(file.response_days, def.response_days);
    assert_int_equal(file.response_natural, def.response_natural);
    assert_int_equal(file.extension_days, 60);
    assert_true(file.extension_natural);
    assert_true(file.extension_from_receipt);
    assert_int_equal(file.extension_days, def.extension_days);
    assert_int_equal(file.extension_natural, def.extension_natural);
    assert_int_equal(file.extension_from_receipt, def.extension_from_receipt);
    assert_string_equal(file.approver_role, "bureau");
    assert_string_equal(file.approver, "大数据主管部门");
    assert_string_equal(file.approver_role, def.approver_role);
    assert_string_equal(file.approver, def.approver);
    assert_int_equal(file.auto_feedback, def.auto_feedback);
    assert_int_equal(file.urgent_own_deadline, def.urgent_own_deadline);
    assert_int_equal(file.reminder_days, 1);
    assert_int_equal(file.reminder_days, def.reminder_days);
    assert_false(file.hand_filed_feedback);
    assert_int_equal(file.hand_filed_feedback, def.hand_filed_feedback);
    assert_string_equal(def.path, "");
    assert_string_equal(file.path, QLOOP_SOURCE_DIR "/rules/policies/ningbo.lua");
}

static void test_wenzhou_file(void **state)
{
    (void)state;
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load(QLOOP_SOURCE_DIR "/rules/policies/wenzhou.lua", &p, &err) != 0)
        fail_msg("wenzhou.lua: %s", err.message);
    assert_string_equal(p.name, "wenzhou");
    assert_non_null(strstr(p.basis, "第二十三条"));
    assert_int_equal(p.response_days, 5);
    assert_false(p.response_natural);
    assert_int_equal(p.extension_days, 15);
    assert_false(p.extension_natural);
    assert_false(p.extension_from_receipt);
    assert_string_equal(p.approver_role, "provider_head");
    assert_string_equal(p.approver, "数源部门负责人");
    assert_true(p.auto_feedback);
    /* 5 working days from Fri 27 Sep 2024: 10 Oct; 15 more: 30 Oct. */
    int64_t received = at("2024-09-27T10:00:00+08:00");
    int64_t base = policy_deadline(&p, received);
    char s[32];
    qloop_format_datetime(base, s);
    assert_string_equal(s, "2024-10-10T23:59:59+08:00");
    qloop_format_datetime(policy_extension_cap(&p, received, base), s);
    assert_string_equal(s, "2024-10-30T23:59:59+08:00");
    char rule[512];
    policy_extension_rule(&p, rule, sizeof rule);
    assert_non_null(strstr(rule, "15 个工作日"));
}

static void test_returned_table_and_defaults(void **state)
{
    (void)state;
    const char *path = write_file("city.lua",
                                  "-- a policy written as a returned table\n"
                                  "return {\n"
                                  "  response = { natural_days = 10 },\n"
                                  "  extension = false,\n"
                                  "  auto_feedback = false,\n"
                                  "  reminder = false,\n"
                                  "  urgent = { own_deadline = false },\n"
                                  "  approver = \"市数据局\",\n"
                                  "}\n");
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load(path, &p, &err) != 0)
        fail_msg("%s", err.message);
    assert_string_equal(p.name, "city");
    assert_int_equal(p.response_days, 10);
    assert_true(p.response_natural);
    assert_int_equal(p.extension_days, 0);
    assert_false(p.auto_feedback);
    assert_int_equal(p.reminder_days, 0);
    assert_false(p.urgent_own_deadline);
    assert_string_equal(p.approver, "市数据局");
    /* 10 natural days from Mon 23 Sep 2024 is Thu 3 Oct, a holiday: 8 Oct. */
    char s[32];
    int64_t received = at("2024-09-23T09:00:00+08:00");
    qloop_format_datetime(policy_deadline(&p, received), s);
    assert_string_equal(s, "2024-10-08T23:59:59+08:00");
    int64_t base = policy_deadline(&p, received);
    assert_int_equal(policy_extension_cap(&p, received, base), base);
    assert_false(policy_reminder_due(&p, base, base - 3600));
    /* policy { ... } keeps unspecified keys at the default. */
    path = write_file("partial.lua", "policy { name = \"partial\", reminder = { working_days_before = 2 } }\n");
    if (policy_load(path, &p, &err) != 0)
        fail_msg("%s", err.message);
    assert_string_equal(p.name, "partial");
    assert_int_equal(p.reminder_days, 2);
    assert_int_equal(p.response_days, 5);
    assert_int_equal(p.extension_days, 60);
    assert_string_equal(p.approver, "大数据主管部门");
}

/* Each bad file fails with a message containing want, and leaves the default. */
static void expect_bad(const char *name, const char *text, const char *want)
{
    const char *path = write_file(name, text);
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load(path, &p, &err) == 0)
        fail_msg("%s: accepted", name);
    if (!strstr(err.message, want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", name, err.message, want);
    assert_non_null(strstr(err.file, name));
    assert_string_equal(p.name, "ningbo");
    assert_int_equal(p.response_days, 5);
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_bad("typo.lua", "policy { respons = { working_days = 5 } }", "respons");
    expect_bad("type.lua", "policy { response = 5 }", "response");
    expect_bad("both.lua", "policy { response = { working_days = 5, natural_days = 3 } }", "之一");
    expect_bad("neither.lua", "policy { response = {} }", "之一");
    expect_bad("frac.lua", "policy { response = { working_days = 2.5 } }", "整数");
    expect_bad("neg.lua", "policy { response = { working_days = 0 } }", "整数");
    expect_bad("from.lua", "policy { extension = { natural_days = 60, from = \"start\" } }", "from");
    expect_bad("extkey.lua", "policy { extension = { days = 60 } }", "days");
    expect_bad("bool.lua", "policy { auto_feedback = \"yes\" }", "true 或 false");
    expect_bad("approver.lua", "policy { approver = { role = \"bureau\" } }", "name");
    expect_bad("reminder.lua", "policy { reminder = 1 }", "reminder");
    expect_bad("hand.lua", "policy { hand_filed = \"steward\" }", "hand_filed");
    expect_bad("handtype.lua", "policy { hand_filed = true }", "hand_filed");
    expect_bad("nothing.lua", "local x = 1\n", "既没有调用");
    expect_bad("twice.lua", "policy { }\npolicy { }\n", "只能调用一次");
    expect_bad("numkey.lua", "policy { 5 }", "键");
    expect_bad("sandbox.lua", "os.exit(1)\n", "os");
    const char *path = write_file("syntax.lua", "policy {\n  name = \n");
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(policy_load(path, &p, &err), -1);
    assert_non_null(strstr(err.file, "syntax.lua"));
    assert_true(err.line >= 2);
    qloop_error_clear(&err);
    assert_int_equal(policy_load("/nonexistent/x.lua", &p, &err), -1);
    assert_non_null(strstr(err.file, "/nonexistent/x.lua"));
    /* NULL: the built-in default. */
    assert_int_equal(policy_load(NULL, &p, &err), 0);
    assert_string_equal(p.name, "ningbo");
}

/* hand_filed: a filed ticket waits for the steward, or goes straight to
 * the provider; and a policy kept with its tickets reads back whole. */
static void test_hand_filed_and_json(void **state)
{
    (void)state;
    struct qloop_policy p, q;
    struct qloop_error err;
    qloop_error_clear(&err);
    const char *path = write_file("direct.lua", "policy { hand_filed = \"feedback\" }");
    assert_int_equal(policy_load(path, &p, &err), 0);
    assert_true(p.hand_filed_feedback);
    path = write_file("steward.lua", "policy { hand_filed = \"discovered\" }");
    assert_int_equal(policy_load(path, &p, &err), 0);
    assert_false(p.hand_filed_feedback);
    if (policy_load(QLOOP_SOURCE_DIR "/rules/policies/wenzhou.lua", &p, &err) != 0)
        fail_msg("wenzhou.lua: %s", err.message);
    assert_false(p.hand_filed_feedback);
    p.hand_filed_feedback = true;
    p.reminder_days = 3;
    char *text = policy_to_json(&p);
    assert_non_null(text);
    assert_int_equal(policy_from_json(text, &q, &err), 0);
    char *again = policy_to_json(&q);
    assert_string_equal(text, again);
    assert_string_equal(q.name, "wenzhou");
    assert_string_equal(q.approver_role, "provider_head");
    assert_int_equal(q.extension_days, 15);
    assert_false(q.extension_from_receipt);
    assert_true(q.hand_filed_feedback);
    assert_int_equal(q.reminder_days, 3);
    assert_string_equal(q.path, "");
    free(again);
    free(text);
    /* Equal policies, equal text (the path is not part of it). */
    struct qloop_policy a, b;
    policy_default(&a);
    assert_int_equal(policy_load(QLOOP_SOURCE_DIR "/rules/policies/ningbo.lua", &b, &err), 0);
    char *ta = policy_to_json(&a), *tb = policy_to_json(&b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    /* Not a stored policy: refused, the default left. */
    assert_int_equal(policy_from_json("{\"name\":\"x\"}", &q, &err), -1);
    assert_string_equal(q.name, "ningbo");
    assert_int_equal(policy_from_json("not json", &q, &err), -1);
    assert_int_equal(policy_from_json(NULL, &q, &err), -1);
}

static void test_resolve(void **state)
{
    (void)state;
    char out[1024];
    struct qloop_error err;
    qloop_error_clear(&err);
    unsetenv("QLOOP_POLICY_DIR");
    assert_int_equal(policy_resolve("wenzhou", QLOOP_SOURCE_DIR "/rules", out, sizeof out, &err), 0);
    assert_string_equal(out, QLOOP_SOURCE_DIR "/rules/policies/wenzhou.lua");
    /* $QLOOP_POLICY_DIR comes first. */
    write_file("wenzhou.lua", "policy { name = \"local-wenzhou\" }\n");
    setenv("QLOOP_POLICY_DIR", tmpdir, 1);
    assert_int_equal(policy_resolve("wenzhou", QLOOP_SOURCE_DIR "/rules", out, sizeof out, &err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/wenzhou.lua", tmpdir);
    assert_string_equal(out, want);
    struct qloop_policy p;
    assert_int_equal(policy_load_spec("wenzhou", QLOOP_SOURCE_DIR "/rules", &p, &err), 0);
    assert_string_equal(p.name, "local-wenzhou");
    /* ... then the data folder (DIR/policies: installed, here the source tree's) ... */
    assert_int_equal(policy_resolve("ningbo", QLOOP_SOURCE_DIR "/rules", out, sizeof out, &err), 0);
    assert_string_equal(out, QLOOP_SOURCE_DIR "/rules/policies/ningbo.lua");
    unsetenv("QLOOP_POLICY_DIR");
    /* ... then the copies compiled in. */
    assert_int_equal(policy_resolve("ningbo", "/nonexistent", out, sizeof out, &err), 0);
    assert_string_equal(out, "builtin:ningbo");
    /* A FILE is used as given. */
    const char *path = write_file("mine.lua", "policy { name = \"mine\" }\n");
    assert_int_equal(policy_resolve(path, NULL, out, sizeof out, &err), 0);
    assert_string_equal(out, path);
    assert_int_equal(policy_load_spec(path, NULL, &p, &err), 0);
    assert_string_equal(p.name, "mine");
    /* Unknown names say where they were looked for. */
    assert_int_equal(policy_resolve("hangzhou", QLOOP_SOURCE_DIR "/rules", out, sizeof out, &err), -1);
    assert_non_null(strstr(err.message, "hangzhou"));
    assert_non_null(strstr(err.message, "rules/policies/hangzhou.lua"));
    assert_int_equal(policy_resolve("a b", NULL, out, sizeof out, &err), -1);
    assert_non_null(strstr(err.message, "只能由字母"));
    assert_int_equal(policy_resolve("/nonexistent/p.lua", NULL, out, sizeof out, &err), -1);
    assert_int_equal(policy_resolve("", NULL, out, sizeof out, &err), -1);
    assert_int_equal(policy_load_spec("hangzhou", NULL, &p, &err), -1);
    assert_int_equal(policy_load_spec(NULL, NULL, &p, &err), 0);
    assert_string_equal(p.name, "ningbo");
}

/* Without the source tree (an installed binary), the shipped policies come
 * from the copies compiled in, identical to the files. */
static void test_builtin_copies(void **state)
{
    (void)state;
    char out[1024];
    struct qloop_error err;
    qloop_error_clear(&err);
    unsetenv("QLOOP_POLICY_DIR");
    static const char *const names[] = {"ningbo", "wenzhou"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(policy_resolve(names[i], "/nonexistent", out, sizeof out, &err), 0);
        char want[64];
        snprintf(want, sizeof want, "builtin:%s", names[i]);
        assert_string_equal(out, want);
        struct qloop_policy built, file;
        if (policy_load(out, &built, &err) != 0)
            fail_msg("%s: %s", out, err.message);
        char path[1024];
        snprintf(path, sizeof path, QLOOP_SOURCE_DIR "/rules/policies/%s.lua", names[i]);
        assert_int_equal(policy_load(path, &file, &err), 0);
        assert_string_equal(built.name, file.name);
        assert_string_equal(built.basis, file.basis);
        assert_int_equal(built.response_days, file.response_days);
        assert_int_equal(built.extension_days, file.extension_days);
        assert_int_equal(built.extension_natural, file.extension_natural);
        assert_int_equal(built.extension_from_receipt, file.extension_from_receipt);
        assert_string_equal(built.approver, file.approver);
        assert_int_equal(built.auto_feedback, file.auto_feedback);
        assert_int_equal(built.reminder_days, file.reminder_days);
    }
    assert_int_equal(policy_resolve("hangzhou", "/nonexistent", out, sizeof out, &err), -1);
    struct qloop_policy p;
    assert_int_equal(policy_load("builtin:hangzhou", &p, &err), -1);
}

static void test_days_and_reminders(void **state)
{
    (void)state;
    struct qloop_policy p;
    policy_default(&p);
    int64_t t = at("2024-03-01T23:30:00Z"); /* 07:30 on 2 Mar in Shanghai */
    assert_int_equal(policy_day_of(t), qloop_days_from_civil(2024, 3, 2));
    assert_int_equal(policy_day_of(at("1969-12-31T20:00:00+08:00")), -1);
    char s[32];
    qloop_format_datetime(policy_end_of_day(qloop_days_from_civil(2024, 10, 10)), s);
    assert_string_equal(s, "2024-10-10T23:59:59+08:00");
    int64_t deadline = at("2024-10-10T23:59:59+08:00");
    assert_true(policy_reminder_due(&p, deadline, at("2024-10-09T08:00:00+08:00")));
    assert_true(policy_reminder_due(&p, deadline, at("2024-10-10T23:59:59+08:00")));
    assert_false(policy_reminder_due(&p, deadline, at("2024-10-08T23:00:00+08:00")));
    assert_false(policy_reminder_due(&p, deadline, at("2024-10-11T00:00:00+08:00")));
    /* Across National Day: from Mon 30 Sep, 8 Oct is the next working day. */
    int64_t after = at("2024-10-08T23:59:59+08:00");
    assert_true(policy_reminder_due(&p, after, at("2024-09-30T09:00:00+08:00")));
    assert_false(policy_reminder_due(&p, after, at("2024-09-27T09:00:00+08:00")));
    /* Sunday 29 Sep 2024 is a make-up working day: two working days to 8 Oct. */
    assert_false(policy_reminder_due(&p, after, at("2024-09-28T09:00:00+08:00")));
    p.reminder_days = 0;
    assert_false(policy_reminder_due(&p, deadline, at("2024-10-10T08:00:00+08:00")));
    policy_default(&p);
    char rule[512];
    policy_extension_rule(&p, rule, sizeof rule);
    assert_non_null(strstr(rule, "60 个自然日"));
    assert_non_null(strstr(rule, "顺延"));
    /* The cap never falls before the deadline it extends. */
    int64_t received = at("2024-09-27T10:00:00+08:00");
    int64_t late = at("2025-06-30T23:59:59+08:00");
    assert_int_equal(policy_extension_cap(&p, received, late), late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_equals_ningbo_file),
        cmocka_unit_test(test_wenzhou_file),
        cmocka_unit_test(test_returned_table_and_defaults),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_hand_filed_and_json),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_builtin_copies),
        cmocka_unit_test(test_days_and_reminders),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
