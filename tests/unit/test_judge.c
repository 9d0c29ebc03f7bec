/*
 * test_judge.c — the worker pool (engine/run/judge.c): cleansing and judging
 * a batch give the same views, verdicts, reasons and counts whatever the
 * number of workers, with native and Lua cleansing, field forms, not_null, a Lua
 * record rule that fails with reasons and one that raises; and they are the
 * verdicts worked out here for the same values.
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

#include "base/strmap.h"
#include "run/judge.h"

static const char PACK[] =
    "dataset \"d\" { key = \"id\" }\n"
    "cleanse \"d\" { v = clean.trim, w = function(s) if s == 'up' then return nil end "
    "return s:upper() end }\n"
    "rule \"d.v_digits\" { field = \"v\", pattern = \"^[0-9]+$\" }\n"
    "rule \"d.w_len\" { check = function(r) local w = r.w\n"
    "  if w == nil then return false, 'w 为空' end\n"
    "  if #w % 3 == 0 then return false, '长度 ' .. #w end\n"
    "  return true end }\n"
    "rule \"d.v_not_null\" { field = \"v\", not_null = true }\n"
    "rule \"d.id_raise\" { check = function(r)\n"
    "  if r.id:sub(-1) == '7' then error('坏记录 ' .. r.id) end return true end }\n";

enum { NROWS = 1500, NCOLS = 3, NRULES = 4, NCLEANSE = 2 };

/* The value of row r, column c (id, v, w). */
static void value(size_t r, size_t c, char *out, size_t size, int *null)
{
    *null = 0;
    if (c == 0)
        snprintf(out, size, "id%zu", r);
    else if (c == 1) /* trimmed to digits, letters, empty, or absent */
        snprintf(out, size, r % 5 == 0 ? " %zu " : r % 5 == 1 ? "%zux" : r % 5 == 2 ? "  " : "%zu", r);
    else /* w: lengths 1..5, "up" (cleansed to nothing) */
        snprintf(out, size, "%.*s", (int)(r % 6), "abcde");
    if (c == 1 && r % 11 == 4)
        *null = 1, out[0] = '\0';
    if (c == 2 && r % 6 == 0)
        snprintf(out, size, "up");
}

struct result {
    uint8_t verdict[NRULES * NROWS];
    char reason[NRULES * NROWS][160];
    char view[NROWS * NCOLS][16];
    int64_t checked[NRULES], errors[NRULES], changed[NCLEANSE];
};

static char path[] = "/tmp/qloop-test-judge-XXXXXX";
static char text[NROWS * NCOLS][16];

/* Judges the batch with `workers` workers. */
static void judge_all(struct pack *p, size_t workers, struct result *res)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct judge_pool *pool = judge_pool_new(p, workers, &err);
    assert_non_null(pool);
    assert_int_equal(judge_pool_size(pool), workers);

    struct strmap *colmap = strmap_new();
    static const char *names[NCOLS] = {"id", "v", "w"};
    for (size_t c = 0; c < NCOLS; c++)
        *strmap_put(colmap, names[c], strlen(names[c]), NULL) = c + 1;
    long cleanse_cols[NCLEANSE] = {1, 2};
    size_t rules[NRULES];
    long rule_cols[NRULES];
    struct strmap *refsets[NRULES] = {0};
    for (size_t i = 0; i < NRULES; i++) {
        rules[i] = i;
        const char *f = p->rules[i].field;
        rule_cols[i] = !f ? -1 : strcmp(f, "v") == 0 ? 1 : strcmp(f, "w") == 0 ? 2 : 0;
    }
    memset(res, 0, sizeof *res);
    struct judge_dataset ds = {.dataset = 0, .colmap = colmap, .ncleanse = NCLEANSE,
                               .cleanse_cols = cleanse_cols, .nrules = NRULES, .rules = rules,
                               .rule_cols = rule_cols, .refsets = refsets,
                               .checked = res->checked, .errors = res->errors,
                               .changed = res->changed};
    static struct qloop_field cells[NROWS * NCOLS], view[NROWS * NCOLS];
    static uint64_t row_no[NROWS];
    static const char *reason[NRULES * NROWS];
    for (size_t r = 0; r < NROWS; r++) {
        row_no[r] = r + 1;
        for (size_t c = 0; c < NCOLS; c++) {
            int null;
            value(r, c, text[r * NCOLS + c], sizeof text[0], &null);
            cells[r * NCOLS + c] = (struct qloop_field){text[r * NCOLS + c],
                                                        strlen(text[r * NCOLS + c]), null};
        }
    }
    memcpy(view, cells, sizeof view);
    struct qloop_batch batch = {.nrows = NROWS, .ncols = NCOLS, .cells = cells, .row_no = row_no};
    struct judge_batch jb = {.batch = &batch, .view = view, .verdict = res->verdict,
                             .reason = reason};
    judge_begin_dataset(pool, &ds);
    judge_run(pool, &jb);
    for (size_t k = 0; k < NRULES * NROWS; k++)
        snprintf(res->reason[k], sizeof res->reason[k], "%s", reason[k] ? reason[k] : "-");
    for (size_t k = 0; k < NROWS * NCOLS; k++)
        snprintf(res->view[k], sizeof res->view[k], "%s%.*s", view[k].null ? "NULL" : "",
                 (int)view[k].len, view[k].ptr);
    judge_end_dataset(pool);
    judge_pool_free(pool);
    strmap_free(colmap);
}

static void test_workers(void **state)
{
    (void)state;
    /* the pack as a rule file: the workers load their own packs from it */
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, PACK, sizeof PACK - 1), (ssize_t)(sizeof PACK - 1));
    close(fd);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct pack *p = pack_new();
    assert_non_null(p);
    assert_int_equal(pack_load_path(p, path, &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    assert_int_equal(p->nrules, NRULES);

    static struct result want, got;
    judge_all(p, 1, &want);
    /* the verdicts worked out here */
    for (size_t r = 0; r < NROWS; r++) {
        bool vnull = r % 11 == 4, vblank = r % 5 == 2;
        uint8_t v = vnull || vblank ? JUDGE_SKIP : r % 5 == 1 ? JUDGE_FAIL : JUDGE_PASS;
        assert_int_equal(want.verdict[0 * NROWS + r], v);
        size_t wlen = r % 6;
        v = r % 6 == 0 ? JUDGE_FAIL : wlen % 3 == 0 ? JUDGE_FAIL : JUDGE_PASS;
        assert_int_equal(want.verdict[1 * NROWS + r], v);
        if (r % 6 == 0)
            assert_string_equal(want.reason[1 * NROWS + r], "w 为空");
        else if (v == JUDGE_FAIL)
            assert_string_equal(want.reason[1 * NROWS + r], "长度 3");
        v = vnull || vblank ? JUDGE_FAIL : JUDGE_PASS;
        assert_int_equal(want.verdict[2 * NROWS + r], v);
        v = r % 10 == 7 ? JUDGE_ERROR : JUDGE_PASS;
        assert_int_equal(want.verdict[3 * NROWS + r], v);
        if (v == JUDGE_ERROR)
            assert_non_null(strstr(want.reason[3 * NROWS + r], "坏记录 id"));
    }
    assert_int_equal(want.errors[3], NROWS / 10);
    assert_int_equal(want.checked[3], NROWS - NROWS / 10);
    assert_string_equal(want.view[5 * NCOLS + 1], "5");
    assert_string_equal(want.view[6 * NCOLS + 2], "NULL");
    assert_string_equal(want.view[7 * NCOLS + 2], "A");

    for (size_t workers = 2; workers <= 4; workers++) {
        judge_all(p, workers, &got);
        assert_memory_equal(got.verdict, want.verdict, sizeof want.verdict);
        for (size_t k = 0; k < NRULES * NROWS; k++)
            assert_string_equal(got.reason[k], want.reason[k]);
        for (size_t k = 0; k < NROWS * NCOLS; k++)
            assert_string_equal(got.view[k], want.view[k]);
        assert_memory_equal(got.checked, want.checked, sizeof want.checked);
        assert_memory_equal(got.errors, want.errors, sizeof want.errors);
        assert_memory_equal(got.changed, want.changed, sizeof want.changed);
    }
    unlink(path);
    pack_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
