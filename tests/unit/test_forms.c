/*
 * test_forms.c — the built-in check forms as one table (engine/rules/forms.c).
 *
 * Rule files are loaded through pack.c, which reads every rule through the
 * table; each form is then judged through forms_judge as the workers do:
 * pattern, one_of, range, references (to another dataset and to the
 * divisions), a C check, with not_null and unique as flags. Also: the
 * default dimension the forms give, what a rule needs read first, the errors
 * a wrong attribute raises (file and line), the lists the messages show, and
 * a form defined here — outside the table — judged by the same loop, which
 * is all a new form needs to be.
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
#include <lauxlib.h>

#include "base/strmap.h"
#include "checks/division.h"
#include "rules/forms.h"
#include "rules/pack.h"

static char path[300];

/* Loads lua as one rule file; returns the pack, or NULL with err. */
static struct pack *load(const char *lua, struct qloop_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/qloop-test-forms-%d.lua", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(lua, f);
    fclose(f);
    qloop_error_clear(err);
    struct pack *p = pack_new();
    assert_non_null(p);
    int rc = pack_load_path(p, path, err);
    if (rc == 0)
        rc = pack_finish(p, err);
    unlink(path);
    if (rc != 0) {
        pack_free(p);
        return NULL;
    }
    return p;
}

static const struct pack_rule *rule(const struct pack *p, const char *id)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].id, id) == 0)
            return &p->rules[i];
    fail_msg("no rule %s", id);
    return NULL;
}

/* forms_judge on s; *reason gets the reason ("" when none). */
static enum form_verdict judge(const struct pack_rule *r, const struct strmap *refset,
                               const char *s, const char **reason)
{
    struct form_env env = {.refset = refset};
    *reason = NULL;
    enum form_verdict v = forms_judge(r, &env, s, strlen(s), reason);
    if (!*reason)
        *reason = "";
    return v;
}

static const char PACK[] =
    "dataset \"p\" { key = \"id\" }\n"
    "dataset \"q\" { key = \"code\" }\n"
    "rule \"p.phone\" { field = \"phone\", pattern = \"^1[3-9]\\\\d{9}$\" }\n"
    "rule \"p.sex\" { field = \"sex\", one_of = { \"男\", \"女\" } }\n"
    "rule \"p.age\" { field = \"age\", range = { 0, 150 } }\n"
    "rule \"p.low\" { field = \"n\", range = { nil, 10 } }\n"
    "rule \"p.q\" { field = \"q_code\", references = \"q.code\" }\n"
    "rule \"p.div\" { field = \"dc\", references = \"divisions.code\" }\n"
    "rule \"p.id\" { field = \"id\", check = idcard.valid, not_null = true, unique = true }\n"
    "rule \"p.lua\" { field = \"x\", check = function(v) return v == \"x\" end }\n"
    "rule \"p.rec\" { check = function(r) return true end }\n"
    "rule \"p.two\" { field = \"y\", pattern = \"^[a-z]+$\", one_of = { \"abc\", \"12\" } }\n";

static void test_judging(void **state)
{
    (void)state;
    struct qloop_error err;
    assert_int_equal(division_init(&err), 0);
    struct pack *p = load(PACK, &err);
    if (!p)
        fail_msg("%s:%ld: %s", err.file, err.line, err.message);
    const char *why;
    const struct pack_rule *r = rule(p, "p.phone");
    assert_int_equal(judge(r, NULL, "13812345678", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "23812345678", &why), FORM_FAIL);
    assert_string_equal(why, "格式不符");
    r = rule(p, "p.sex");
    assert_int_equal(judge(r, NULL, "女", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "F", &why), FORM_FAIL);
    assert_string_equal(why, "不在允许的取值范围内");
    r = rule(p, "p.age");
    assert_int_equal(judge(r, NULL, "150", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "151", &why), FORM_FAIL);
    assert_string_equal(why, "超出取值范围");
    assert_int_equal(judge(r, NULL, "abc", &why), FORM_FAIL);
    assert_string_equal(why, "不是数字");
    r = rule(p, "p.low");
    assert_int_equal(judge(r, NULL, "-1e9", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "11", &why), FORM_FAIL);
    /* references to a dataset: its values come from the run */
    r = rule(p, "p.q");
    struct strmap *values = strmap_new();
    strmap_put(values, "Q1", 2, NULL);
    assert_int_equal(judge(r, values, "Q1", &why), FORM_PASS);
    assert_int_equal(judge(r, values, "Q2", &why), FORM_FAIL);
    assert_string_equal(why, "在引用的数据中不存在");
    assert_int_equal(judge(r, NULL, "Q1", &why), FORM_FAIL);
    strmap_free(values);
    const char *field = NULL;
    assert_string_equal(forms_needs(r, &field), "q");
    assert_string_equal(field, "code");
    /* references to the divisions: nothing to read first */
    r = rule(p, "p.div");
    assert_null(forms_needs(r, &field));
    assert_int_equal(judge(r, NULL, "110101", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "999999", &why), FORM_FAIL);
    /* a C check with its twin; not_null and unique are flags */
    r = rule(p, "p.id");
    assert_int_equal(r->nchecks, 3);
    assert_int_equal(r->form_flags, FORM_EMPTY_FAILS | FORM_WHOLE_DATASET);
    assert_int_equal(r->check_ref, LUA_NOREF);
    assert_int_equal(judge(r, NULL, "11010519491231002X", &why), FORM_PASS);
    assert_int_equal(judge(r, NULL, "110105194912310021", &why), FORM_FAIL);
    /* a Lua check is no form: judge.c calls it */
    r = rule(p, "p.lua");
    assert_int_equal(r->nchecks, 0);
    assert_int_not_equal(r->check_ref, LUA_NOREF);
    assert_int_equal(judge(r, NULL, "anything", &why), FORM_PASS);
    r = rule(p, "p.rec");
    assert_int_equal(r->kind, RULE_RECORD);
    assert_int_not_equal(r->check_ref, LUA_NOREF);
    /* several forms: judged in table order, the first failure's reason */
    r = rule(p, "p.two");
    assert_int_equal(judge(r, NULL, "12", &why), FORM_FAIL);
    assert_string_equal(why, "格式不符");
    assert_int_equal(judge(r, NULL, "abd", &why), FORM_FAIL);
    assert_string_equal(why, "不在允许的取值范围内");
    assert_int_equal(judge(r, NULL, "abc", &why), FORM_PASS);
    pack_free(p);
}

/* The dimension a rule gets when it names none: the highest-ranked of its
 * forms' (unique > not_null > references > pattern, one_of), consistency for
 * a record rule, else accuracy. */
static void test_default_dimension(void **state)
{
    (void)state;
    struct qloop_error err;
    struct pack *p = load("dataset \"p\" { key = \"id\" }\n"
                          "dataset \"q\" { key = \"id\" }\n"
                          "rule \"p.a\" { field = \"a\", pattern = \"x\", range = { 0, 1 } }\n"
                          "rule \"p.b\" { field = \"b\", pattern = \"x\", references = \"q.id\" }\n"
                          "rule \"p.c\" { field = \"c\", not_null = true, references = \"q.id\" }\n"
                          "rule \"p.d\" { field = \"d\", unique = true, not_null = true }\n"
                          "rule \"p.e\" { field = \"e\", range = { 0, 1 } }\n"
                          "rule \"p.f\" { field = \"f\", check = uscc.valid }\n"
                          "rule \"p.g\" { check = function(r) return true end }\n"
                          "rule \"p.h\" { field = \"h\", one_of = { \"x\" }, dimension = \"timeliness\" }\n",
                          &err);
    if (!p)
        fail_msg("%s:%ld: %s", err.file, err.line, err.message);
    static const char *const want[][2] = {
        {"p.a", "normative"},   {"p.b", "consistency"}, {"p.c", "completeness"},
        {"p.d", "accuracy"},    {"p.e", "accuracy"},    {"p.f", "accuracy"},
        {"p.g", "consistency"}, {"p.h", "timeliness"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(rule(p, want[i][0])->dimension, want[i][1]);
    pack_free(p);
}

/* A wrong attribute stops the load with the file, the line and what to write. */
static void test_errors(void **state)
{
    (void)state;
    static const struct { const char *rule, *want; } cases[] = {
        {"rule \"p.a\" { field = \"a\", pattern = \"(\" }", "pattern 不是有效的正则表达式"},
        {"rule \"p.a\" { field = \"a\", pattern = {} }", "pattern 应为文本"},
        {"rule \"p.a\" { field = \"a\", range = { 5, 1 } }", "range 最小值大于最大值"},
        {"rule \"p.a\" { field = \"a\", range = { \"a\" } }", "range 第 1 项应为数字"},
        {"rule \"p.a\" { field = \"a\", range = 3 }", "range 应写成"},
        {"rule \"p.a\" { field = \"a\", one_of = { {} } }", "one_of 第 1 项应为文本"},
        {"rule \"p.a\" { field = \"a\", references = \"nodot\" }", "references 应写成"},
        {"rule \"p.a\" { field = \"a\", references = \"zz.id\" }", "引用的数据集 \"zz\" 没有声明"},
        {"rule \"p.a\" { field = \"a\", references = \"p.id\" }", "不能引用自己的数据集"},
        {"rule \"p.a\" { field = \"a\", check = 1 }", "check 应为函数"},
        {"rule \"p.a\" { field = \"a\", not_null = 1 }", "not_null 应为 true 或 false"},
        {"rule \"p.a\" { pattern = \"x\", unique = true }", "用了字段检查（pattern、unique），但没有给出 field"},
        {"rule \"p.a\" { field = \"a\" }",
         "没有任何检查：请给出 pattern、not_null、unique、one_of、range、references 或 check"},
        {"rule \"p.a\" { field = \"a\", patern = \"x\" }",
         "可用的属性：dataset, field, dimension, severity, basis, message, description, "
         "resolve_missing, pattern, not_null, unique, one_of, range, references, check"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char lua[512];
        snprintf(lua, sizeof lua, "dataset \"p\" { key = \"id\" }\n\n%s\n", cases[i].rule);
        struct qloop_error err;
        struct pack *p = load(lua, &err);
        if (p)
            fail_msg("loaded: %s", cases[i].rule);
        if (!strstr(err.message, cases[i].want))
            fail_msg("%s:\n  got  %s\n  want %s", cases[i].rule, err.message, cases[i].want);
        assert_string_equal(err.file, path);
        assert_int_equal(err.line, 3);
    }
}

/* A form outside the table, in the shape of every entry: the same loop
 * judges it in its place, with the others. */
static enum form_verdict max_len_judge(void *state, const struct form_env *env, const char *s,
                                       size_t len, const char **reason)
{
    if (len <= *(const size_t *)state)
        return FORM_PASS;
    *reason = "过长";
    return FORM_FAIL;
}

static void test_a_new_form(void **state)
{
    (void)state;
    static const struct rule_form max_len = {.name = "max_length", .judge = max_len_judge};
    struct qloop_error err;
    struct pack *p = load("dataset \"p\" { key = \"id\" }\n"
                          "rule \"p.a\" { field = \"a\", one_of = { \"abc\", \"abcdef\" } }\n",
                          &err);
    assert_non_null(p);
    struct pack_rule *r = &p->rules[0];
    size_t limit = 4;
    struct rule_check checks[2] = {{&max_len, &limit}, r->checks[0]};
    struct pack_rule copy = *r;
    copy.checks = checks;
    copy.nchecks = 2;
    const char *why;
    assert_int_equal(judge(&copy, NULL, "abc", &why), FORM_PASS);
    assert_int_equal(judge(&copy, NULL, "abcdef", &why), FORM_FAIL);
    assert_string_equal(why, "过长");
    assert_int_equal(judge(&copy, NULL, "abd", &why), FORM_FAIL);
    assert_string_equal(why, "不在允许的取值范围内");
    pack_free(p);
}

/* Every entry of the table has a name and a parse, and names are unique. */
static void test_table(void **state)
{
    (void)state;
    size_t n = 0;
    for (const struct rule_form *const *f = qloop_forms; *f; f++, n++) {
        assert_non_null((*f)->name);
        assert_non_null((*f)->parse);
        for (const struct rule_form *const *g = qloop_forms; g != f; g++)
            assert_string_not_equal((*f)->name, (*g)->name);
    }
    assert_int_equal(n, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judging),       cmocka_unit_test(test_default_dimension),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_a_new_form),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
