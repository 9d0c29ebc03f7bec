/*
 * test_hugepages.c — base/hugepages.h: the plan over THP modes, opt-outs and
 * the user's own tunables; a started process putting its environment back
 * and reporting what the loader read; a command that is not a batch left
 * alone. (The exec itself is e2e/hugepages.sh's: it replaces the process.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/hugepages.h"

static const char MADVISE[] = "always [madvise] never\n";

static void test_plan_modes(void **state)
{
    (void)state;
    char out[128];
    assert_true(qloop_hugepages_plan(MADVISE, NULL, NULL, out, sizeof out));
    assert_string_equal(out, "glibc.malloc.hugetlb=1");
    assert_true(qloop_hugepages_plan("[always] madvise never", NULL, NULL, out, sizeof out));
    assert_string_equal(out, "glibc.malloc.hugetlb=1");
    /* never, unreadable, no bracket, an unknown word, an unclosed bracket */
    strcpy(out, "untouched");
    assert_false(qloop_hugepages_plan("always madvise [never]", NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan(NULL, NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan("", NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan("always madvise never", NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan("[sometimes]", NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan("[madvise", NULL, NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan("[madvisemadvisemadvise]", NULL, NULL, out, sizeof out));
    assert_string_equal(out, "untouched");
}

static void test_plan_choices(void **state)
{
    (void)state;
    char out[128];
    /* QLOOP_HUGEPAGES=0 is the only opt-out; other values keep it on */
    strcpy(out, "untouched");
    assert_false(qloop_hugepages_plan(MADVISE, NULL, "0", out, sizeof out));
    assert_string_equal(out, "untouched");
    assert_true(qloop_hugepages_plan(MADVISE, NULL, "1", out, sizeof out));
    /* the user's other tunables are kept, ours appended */
    assert_true(qloop_hugepages_plan(MADVISE, "glibc.malloc.arena_max=2", NULL, out, sizeof out));
    assert_string_equal(out, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
    assert_true(qloop_hugepages_plan(MADVISE, "", NULL, out, sizeof out));
    assert_string_equal(out, "glibc.malloc.hugetlb=1");
    /* the user's own hugetlb, on or off, is theirs */
    strcpy(out, "untouched");
    assert_false(qloop_hugepages_plan(MADVISE, "glibc.malloc.hugetlb=0", NULL, out, sizeof out));
    assert_false(qloop_hugepages_plan(MADVISE, "a=1:glibc.malloc.hugetlb=2", NULL, out, sizeof out));
    assert_string_equal(out, "untouched");
    /* named as qloop_hugepages_on reads it: a longer name is not ours */
    assert_true(qloop_hugepages_plan(MADVISE, "xglibc.malloc.hugetlb=1", NULL, out, sizeof out));
    assert_string_equal(out, "xglibc.malloc.hugetlb=1:glibc.malloc.hugetlb=1");
    /* too long for out: nothing, not a cut text */
    char small[22]; /* one short of "glibc.malloc.hugetlb=1" and its NUL */
    strcpy(small, "untouched");
    assert_false(qloop_hugepages_plan(MADVISE, NULL, NULL, small, sizeof small));
    char fits[23];
    assert_true(qloop_hugepages_plan(MADVISE, NULL, NULL, fits, sizeof fits));
    assert_string_equal(fits, "glibc.malloc.hugetlb=1");
}

/* A process started by the exec: the mark names what GLIBC_TUNABLES was. */
static void test_started_restores(void **state)
{
    (void)state;
    char *argv[] = {"qloop", "run", NULL};
    setenv(QLOOP_HUGEPAGES_MARK, "=glibc.malloc.arena_max=2", 1);
    setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", 1);
    qloop_hugepages_start(argv, false);
    assert_true(qloop_hugepages_on());
    assert_null(getenv(QLOOP_HUGEPAGES_MARK));
    assert_string_equal(getenv("GLIBC_TUNABLES"), "glibc.malloc.arena_max=2");

    setenv(QLOOP_HUGEPAGES_MARK, "-", 1);
    setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
    qloop_hugepages_start(argv, true); /* a batch: still no second exec */
    assert_true(qloop_hugepages_on());
    assert_null(getenv(QLOOP_HUGEPAGES_MARK));
    assert_null(getenv("GLIBC_TUNABLES"));

    /* a mark not of ours: GLIBC_TUNABLES stays as it is */
    setenv(QLOOP_HUGEPAGES_MARK, "x", 1);
    setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=4", 1);
    qloop_hugepages_start(argv, false);
    assert_false(qloop_hugepages_on());
    assert_null(getenv(QLOOP_HUGEPAGES_MARK));
    assert_string_equal(getenv("GLIBC_TUNABLES"), "glibc.malloc.arena_max=4");
    unsetenv("GLIBC_TUNABLES");
}

/* No mark: what the user's GLIBC_TUNABLES says is what is reported, and a
 * command that is not a batch (or a batch opted out) is not executed again. */
static void test_user_tunables(void **state)
{
    (void)state;
    char *argv[] = {"qloop", "tickets", NULL};
    unsetenv(QLOOP_HUGEPAGES_MARK);
    static const struct {
        const char *tunables;
        bool on;
    } cases[] = {
        {"glibc.malloc.hugetlb=1", true},
        {"glibc.malloc.hugetlb=2", true},
        {"glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", true},
        {"glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2", true},
        {"glibc.malloc.hugetlb=0", false},
        {"glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2", false},
        {"glibc.malloc.hugetlb=", false},
        {"xglibc.malloc.hugetlb=1", false},
        {"glibc.malloc.arena_max=2", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].tunables)
            setenv("GLIBC_TUNABLES", cases[i].tunables, 1);
        else
            unsetenv("GLIBC_TUNABLES");
        qloop_hugepages_start(argv, false);
        assert_int_equal(qloop_hugepages_on(), cases[i].on);
        if (cases[i].tunables)
            assert_string_equal(getenv("GLIBC_TUNABLES"), cases[i].tunables);
    }
    setenv("QLOOP_HUGEPAGES", "0", 1);
    unsetenv("GLIBC_TUNABLES");
    qloop_hugepages_start(argv, true); /* opted out: returns, as it was */
    assert_false(qloop_hugepages_on());
    assert_null(getenv("GLIBC_TUNABLES"));
    assert_null(getenv(QLOOP_HUGEPAGES_MARK));
    unsetenv("QLOOP_HUGEPAGES");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_modes),
        cmocka_unit_test(test_plan_choices),
        cmocka_unit_test(test_started_restores),
        cmocka_unit_test(test_user_tunables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
