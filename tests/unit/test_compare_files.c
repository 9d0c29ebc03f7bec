/*
 * test_compare_files.c — the compare's temporary files (engine/run/
 * compare_spill.c) when the disk refuses them.
 *
 * A compare keeps records past its hold in a file of their side and, past
 * its budget, spills everything to partition files, all in TMPDIR. These
 * tests feed generated records with TMPDIR gone or a file size limit (the
 * disk full) and check that the compare fails with the temporary file's
 * message, for one job and two (the second writes blocks behind), and is
 * freed cleanly; and that the same feed with a usable TMPDIR succeeds.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "run/compare.h"
#include "run/findings.h"
#include "run/stage.h"
#include "rules/pack.h"
#include "store/store.h"

#include "compare_helpers.h"

/* No Lua: the compare may use several threads. */
static const char RULES[] =
    "dataset 'people' { key = 'person_id', sensitive = { 'name' } }\n"
    "dataset 'social' { key = 'pid' }\n"
    "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
    "  fields = { name = 'name', amount = { tolerance = 1 } } }\n";

/* Feeds n generated records of people (ids P0000000, P0000001, …) in
 * batches of 1,000, then finishes, stopping at the first failure. Returns
 * 0 or -1 with err (compare_feed's or compare_finish's). */
static int feed_people_finish(size_t n, struct qloop_error *err)
{
    enum { BATCH = 1000 };
    static const char *const ln[] = {"person_id", "name", "birth_date", "amount"};
    char(*cells)[4][24] = calloc(BATCH, sizeof *cells);
    struct qloop_field *f = calloc(BATCH * 4, sizeof *f);
    uint64_t *row_no = calloc(BATCH, sizeof *row_no);
    qloop_error_clear(err);
    int rc = 0;
    for (size_t at = 0; at < n && rc == 0; at += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            snprintf(cells[i][0], 24, "P%07zu", at + i);
            snprintf(cells[i][1], 24, "姓名%zu", (at + i) % 50);
            snprintf(cells[i][2], 24, "1990-01-%02zu", (at + i) % 28 + 1);
            snprintf(cells[i][3], 24, "%zu", (at + i) % 1000);
            for (size_t k = 0; k < 4; k++)
                f[i * 4 + k] = (struct qloop_field){cells[i][k], strlen(cells[i][k]), 0};
            row_no[i] = at + i + 1;
        }
        struct fed b = {pack_find_dataset(F.p, "people"), ln, 4, f, row_no};
        struct compare_rows cr = {ln, 4, f, BATCH, row_no, own_key, &b};
        rc = compare_feed(F.c, "people", &cr, err);
    }
    if (rc == 0) {
        struct compare_emit_ctx ctx = {.db = F.db, .run_id = "r1", .findings = F.w};
        rc = compare_finish(F.c, &ctx, F.summary, &F.failed, err);
    }
    free(cells);
    free(f);
    free(row_no);
    return rc;
}

/* A partition file's block that the writer thread cannot write (the file
 * size limit, EFBIG): the feeding or compare_finish fails with the
 * temporary file's message, no hang, no crash; freeing stops the writer. */
static void test_writer_fails(void **state)
{
    (void)state;
    alarm(120);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = old;
    lim.rlim_cur = 64 << 10; /* each partition file stops at 64 KiB */
    setup(NULL);
    load(RULES, 1 << 20);
    set_jobs(2);
    struct qloop_error err;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = feed_people_finish(400000, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.message, "写入比对用的临时文件失败"));
    assert_true(compare_spill_blocks_behind(F.c) > 0);
    teardown(NULL);
    signal(SIGXFSZ, SIG_DFL);
    alarm(0);
}

/* Feeds n records of people past a hold of 64 KiB with a budget of 256 MiB
 * (so they go to the side's overflow file, not spilled) and jobs, with
 * TMPDIR set to tmpdir and the file size limit at fsize bytes (0: none);
 * finishes unless the feed failed. Returns what failed first, 0 if nothing
 * did, with its error in err; the compare stays for the caller to look at
 * and free (teardown). */
static int over_run(size_t n, size_t jobs, const char *tmpdir, rlim_t fsize,
                    struct qloop_error *err)
{
    setup(NULL);
    char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmpdir, 1); /* compare_run_new reads it */
    load(RULES, 256u << 20);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    set_jobs(jobs);
    compare_set_hold(F.c, 64 << 10);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    if (fsize)
        lim.rlim_cur = fsize;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = feed_people_finish(n, err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    return rc;
}

/* The records past the hold go to a file in TMPDIR: when it cannot be
 * made (TMPDIR gone) or written (the disk full: a file size limit), the
 * compare fails with a message naming the temporary file and what to do,
 * with one job and two (the second writes behind), and is freed cleanly;
 * with a usable TMPDIR the same feed holds and reads back its records. */
static void test_over_file_fails(void **state)
{
    (void)state;
    alarm(120);
    signal(SIGXFSZ, SIG_IGN);
    struct qloop_error err;
    for (size_t jobs = 1; jobs <= 2; jobs++) {
        assert_int_equal(over_run(20000, jobs, "/nonexistent/qloop-no-tmp", 0, &err), -1);
        assert_non_null(strstr(err.message, "无法创建比对用的临时文件"));
        assert_non_null(strstr(err.message, "TMPDIR"));
        assert_non_null(strstr(err.file, "/nonexistent/qloop-no-tmp/qloop-compare-"));
        assert_false(compare_spilled(F.c));
        teardown(NULL);

        assert_int_equal(over_run(200000, jobs, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                                  64 << 10, &err),
                         -1);
        assert_non_null(strstr(err.message, "写入比对用的临时文件失败"));
        assert_true(compare_over_records(F.c) > 0);
        assert_false(compare_spilled(F.c));
        teardown(NULL);

        assert_int_equal(over_run(20000, jobs, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", 0,
                                  &err),
                         0);
        assert_true(compare_over_records(F.c) > 10000);
        assert_false(compare_spilled(F.c));
        teardown(NULL);
    }
    signal(SIGXFSZ, SIG_DFL);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_fails),
        cmocka_unit_test(test_over_file_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
