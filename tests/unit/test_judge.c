/*
 * test_judge.c — the worker pool (engine/run/judge.c): cleansing and judging
 * a batch give the same views, verdicts, reasons and counts whatever the
 * number of workers, with native and Lua cleansing, field forms, not_null, a Lua
 * record rule that fails with reasons and one that raises; and they are the
 * verdicts worked out here for the same values. The stateless C after
 * judging (row_refs, fail, pass), shared out to whichever worker is free,
 * is done once per row or verdict, with the same output, for 1 to 4 workers
 * and batches of odd sizes. With a verdict memo, a field rule's verdicts are
 * kept and taken back for rows whose fingerprint is the kept one.
 * Pipelined (judge_start, then the batch before's merge, then
 * judge_finish): batch k's verdicts, reasons and findings stay as they were
 * while k+1 is judged, the stateless C of k+1 waits for judge_finish (but
 * the refs and findings of a batch with its own ctx, which see that ctx
 * and their own batch), and
 * a rule that names the row its Lua state judged before gives the same
 * answers as judging each batch in turn — every row judged by the same
 * state, in the same order — for 1 to 4 workers and batches of 1 to 1499
 * rows. Once judged, each row's judge_batch.key_empty byte says whether a
 * key cell of its cleansed view is empty.
 */
#include <setjmp.h>
#include <stdatomic.h>
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
#include "run/memo.h"

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

/* The columns id, v, w (1-based in colmap) and where each of p's NRULES
 * rules reads: what a judge_dataset points at. cols_init fills it; the
 * caller frees colmap. */
struct cols {
    struct strmap *colmap;
    long cleanse_cols[NCLEANSE];
    size_t rules[NRULES];
    long rule_cols[NRULES];
    struct strmap *refsets[NRULES];
};

static void cols_init(struct cols *c, const struct pack *p)
{
    static const char *names[NCOLS] = {"id", "v", "w"};
    memset(c, 0, sizeof *c);
    c->colmap = strmap_new();
    for (size_t i = 0; i < NCOLS; i++)
        *strmap_put(c->colmap, names[i], strlen(names[i]), NULL) = i + 1;
    c->cleanse_cols[0] = 1;
    c->cleanse_cols[1] = 2;
    for (size_t i = 0; i < NRULES; i++) {
        c->rules[i] = i;
        const char *f = p->rules[i].field;
        c->rule_cols[i] = !f ? -1 : strcmp(f, "v") == 0 ? 1 : strcmp(f, "w") == 0 ? 2 : 0;
    }
}

/* The key columns and judge_batch.key_empty of a judging (judge_keyed). */
struct keys {
    size_t nkeys;
    const long *cols;
    uint8_t *empty; /* NROWS bytes, or NULL */
};

/* Judges the batch with `workers` workers, with memo (NULL: none) and keys
 * (NULL: none); the field rule verdicts taken from the memo in
 * *forms_reused (when given). */
static void judge_keyed(struct pack *p, size_t workers, struct result *res,
                        struct judge_memo *memo, int64_t *forms_reused, const struct keys *keys)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct judge_pool *pool = judge_pool_new(p, workers, &err);
    assert_non_null(pool);
    assert_int_equal(judge_pool_size(pool), workers);

    struct cols cols;
    cols_init(&cols, p);
    memset(res, 0, sizeof *res);
    struct judge_dataset ds = {.dataset = 0, .colmap = cols.colmap, .ncleanse = NCLEANSE,
                               .cleanse_cols = cols.cleanse_cols, .nrules = NRULES,
                               .rules = cols.rules, .rule_cols = cols.rule_cols,
                               .refsets = cols.refsets,
                               .checked = res->checked, .errors = res->errors,
                               .changed = res->changed,
                               .nkeys = keys ? keys->nkeys : 0,
                               .key_cols = keys ? keys->cols : NULL};
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
                             .reason = reason, .memo = memo,
                             .key_empty = keys ? keys->empty : NULL};
    judge_begin_dataset(pool, &ds);
    judge_run(pool, &jb);
    for (size_t k = 0; k < NRULES * NROWS; k++)
        snprintf(res->reason[k], sizeof res->reason[k], "%s", reason[k] ? reason[k] : "-");
    for (size_t k = 0; k < NROWS * NCOLS; k++)
        snprintf(res->view[k], sizeof res->view[k], "%s%.*s", view[k].null ? "NULL" : "",
                 (int)view[k].len, view[k].ptr);
    judge_end_dataset(pool);
    if (forms_reused)
        *forms_reused = ds.forms_reused;
    judge_pool_free(pool);
    strmap_free(cols.colmap);
}

/* Judges the batch with `workers` workers, with memo (NULL: none), without
 * keys. */
static void judge_memo(struct pack *p, size_t workers, struct result *res,
                       struct judge_memo *memo, int64_t *forms_reused)
{
    judge_keyed(p, workers, res, memo, forms_reused, NULL);
}

/* The pack in file, loaded and finished. */
static struct pack *load_pack_path(const char *file)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct pack *p = pack_new();
    assert_non_null(p);
    assert_int_equal(pack_load_path(p, file, &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    return p;
}

/* Writes the pack's source to a new file named from tmpl (mkstemp's
 * template, filled in: the caller unlinks it). */
static void write_pack(char *tmpl, const char *source)
{
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    size_t n = strlen(source);
    assert_int_equal(write(fd, source, n), (ssize_t)n);
    close(fd);
}

/* Writes PACK to a new file named from tmpl (write_pack) and returns the
 * pack loaded from it, finished (the workers load their own packs from the
 * same file). */
static struct pack *load_pack(char *tmpl)
{
    write_pack(tmpl, PACK);
    return load_pack_path(tmpl);
}

/* Judges the batch with `workers` workers, without a memo. */
static void judge_all(struct pack *p, size_t workers, struct result *res)
{
    judge_memo(p, workers, res, NULL, NULL);
}

static void test_workers(void **state)
{
    (void)state;
    /* the pack as a rule file: the workers load their own packs from it */
    struct pack *p = load_pack(path);
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


/* ---- the stateless C after judging, shared out ---- */

struct hooks {
    size_t nrows, nworkers;
    const struct judge_batch *jb;
    atomic_int refs[NROWS];           /* row_refs calls per row */
    atomic_int fails[NRULES * NROWS]; /* fail calls per verdict */
    atomic_int passes[NRULES * NROWS];
    atomic_int bad;                   /* a call out of place */
};
static struct hooks hk;

/* row_refs: "ref:" and the row's cleansed id, from the view. */
static void hook_refs(void *ctx, size_t begin, size_t end, struct qloop_buf *scratch,
                      char (*out)[33])
{
    struct hooks *h = ctx;
    if (begin >= end || end > h->nrows || !scratch || out != h->jb->refs)
        atomic_store(&h->bad, 1);
    for (size_t row = begin; row < end && row < h->nrows; row++) {
        const struct qloop_field *id = &h->jb->view[row * NCOLS];
        snprintf(out[row], 33, "ref:%.*s", (int)id->len, id->ptr);
        atomic_fetch_add(&h->refs[row], 1);
    }
}

/* fail: a finding naming the rule, the row, its w and the reason; false
 * (left to the merge) for every 13th row. */
static bool hook_fail(void *ctx, size_t worker, size_t rule, size_t row, const char *reason,
                      struct qloop_buf *out)
{
    struct hooks *h = ctx;
    size_t k = rule * h->nrows + row;
    if (worker >= h->nworkers || out != &h->jb->enc[worker] || row >= h->nrows ||
        h->jb->verdict[k] != JUDGE_FAIL)
        atomic_store(&h->bad, 1);
    atomic_fetch_add(&h->fails[rule * NROWS + row], 1);
    if (row % 13 == 0)
        return false;
    const struct qloop_field *w = &h->jb->view[row * NCOLS + 2];
    char line[256];
    int n = snprintf(line, sizeof line, "F%zu/%zu/%s/%.*s", rule, row, reason ? reason : "-",
                     (int)w->len, w->ptr);
    qloop_buf_append(out, line, (size_t)n);
    return true;
}

static void hook_pass(void *ctx, size_t worker, size_t rule, size_t row)
{
    struct hooks *h = ctx;
    if (worker >= h->nworkers || row >= h->nrows ||
        h->jb->verdict[rule * h->nrows + row] != JUDGE_PASS)
        atomic_store(&h->bad, 1);
    atomic_fetch_add(&h->passes[rule * NROWS + row], 1);
}

/* The rules whose passes the hooked datasets hand to hook_pass. */
static const bool pass_rules[NRULES] = {true, false, true, true};

/* The dataset of cols judged with the hooks (the global hk) for its refs,
 * findings and passes (rules 0, 2 and 3), counting into checked, errors
 * and changed. */
static struct judge_dataset hooked_dataset(struct cols *c, int64_t *checked, int64_t *errors,
                                           int64_t *changed)
{
    return (struct judge_dataset){.dataset = 0, .colmap = c->colmap, .ncleanse = NCLEANSE,
                                  .cleanse_cols = c->cleanse_cols, .nrules = NRULES,
                                  .rules = c->rules, .rule_cols = c->rule_cols,
                                  .refsets = c->refsets, .row_refs = hook_refs,
                                  .row_ref_ctx = &hk, .fail = hook_fail, .fail_ctx = &hk,
                                  .pass = hook_pass, .pass_rules = pass_rules, .pass_ctx = &hk,
                                  .checked = checked, .errors = errors, .changed = changed};
}

/* What the hooks made of one batch, as text per verdict and row. */
struct made {
    char refs[NROWS][33];
    char enc[NRULES * NROWS][256];
};

/* Judges the first nrows rows with `workers` workers and the hooks. */
static void judge_hooks(struct pack *p, size_t workers, size_t nrows, struct made *m)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct judge_pool *pool = judge_pool_new(p, workers, &err);
    assert_non_null(pool);
    struct cols cols;
    cols_init(&cols, p);
    int64_t checked[NRULES] = {0}, errors[NRULES] = {0}, changed[NCLEANSE] = {0};
    memset(&hk, 0, sizeof hk);
    hk.nrows = nrows;
    hk.nworkers = workers;
    struct judge_dataset ds = hooked_dataset(&cols, checked, errors, changed);
    static struct qloop_field cells[NROWS * NCOLS], view[NROWS * NCOLS];
    static uint64_t row_no[NROWS];
    static const char *reason[NRULES * NROWS];
    static uint8_t verdict[NRULES * NROWS];
    static char refs[NROWS][33];
    static uint32_t enc_at[NRULES * NROWS], enc_len[NRULES * NROWS];
    static uint8_t enc_by[NRULES * NROWS];
    struct qloop_buf enc[4] = {0};
    for (size_t r = 0; r < nrows; r++) {
        row_no[r] = r + 1;
        for (size_t c = 0; c < NCOLS; c++) {
            int null;
            value(r, c, text[r * NCOLS + c], sizeof text[0], &null);
            cells[r * NCOLS + c] = (struct qloop_field){text[r * NCOLS + c],
                                                        strlen(text[r * NCOLS + c]), null};
        }
    }
    memcpy(view, cells, nrows * NCOLS * sizeof *view);
    memset(refs, 0, sizeof refs);
    memset(enc_len, 0xab, sizeof enc_len);
    struct qloop_batch batch = {.nrows = nrows, .ncols = NCOLS, .cells = cells, .row_no = row_no};
    struct judge_batch jb = {.batch = &batch, .view = view, .verdict = verdict, .reason = reason,
                             .refs = refs, .enc = enc, .enc_at = enc_at, .enc_len = enc_len,
                             .enc_by = enc_by};
    hk.jb = &jb;
    judge_begin_dataset(pool, &ds);
    judge_run(pool, &jb);
    assert_int_equal(atomic_load(&hk.bad), 0);
    memset(m, 0, sizeof *m);
    for (size_t row = 0; row < nrows; row++) {
        assert_int_equal(atomic_load(&hk.refs[row]), 1);
        memcpy(m->refs[row], refs[row], 33);
        for (size_t i = 0; i < NRULES; i++) {
            size_t k = i * nrows + row;
            assert_int_equal(atomic_load(&hk.fails[i * NROWS + row]), verdict[k] == JUDGE_FAIL);
            assert_int_equal(atomic_load(&hk.passes[i * NROWS + row]),
                             pass_rules[i] && verdict[k] == JUDGE_PASS);
            if (verdict[k] != JUDGE_FAIL)
                continue;
            if (row % 13 == 0) {
                assert_int_equal(enc_len[k], UINT32_MAX);
                snprintf(m->enc[i * NROWS + row], sizeof m->enc[0], "merge");
                continue;
            }
            assert_true(enc_by[k] < workers);
            assert_true((size_t)enc_at[k] + enc_len[k] <= enc[enc_by[k]].len);
            snprintf(m->enc[i * NROWS + row], sizeof m->enc[0], "%.*s", (int)enc_len[k],
                     enc[enc_by[k]].ptr + enc_at[k]);
        }
    }
    judge_end_dataset(pool);
    judge_pool_free(pool);
    for (size_t i = 0; i < 4; i++)
        qloop_buf_free(&enc[i]);
    strmap_free(cols.colmap);
}

static void test_after_judging(void **state)
{
    (void)state;
    char hpath[] = "/tmp/qloop-test-judge-hooks-XXXXXX";
    struct pack *p = load_pack(hpath);
    static struct made want, got;
    /* below 256 rows a worker, one worker judges; odd sizes around it */
    static const size_t sizes[] = {1, 7, 511, 513, 777, 1031, 1499};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t nrows = sizes[s];
        judge_hooks(p, 1, nrows, &want);
        char id[40];
        snprintf(id, sizeof id, "ref:id%zu", nrows - 1);
        assert_string_equal(want.refs[nrows - 1], id);
        for (size_t workers = 2; workers <= 4; workers++)
            for (int round = 0; round < 3; round++) {
                judge_hooks(p, workers, nrows, &got);
                for (size_t row = 0; row < nrows; row++) {
                    assert_string_equal(got.refs[row], want.refs[row]);
                    for (size_t i = 0; i < NRULES; i++)
                        assert_string_equal(got.enc[i * NROWS + row], want.enc[i * NROWS + row]);
                }
            }
    }
    unlink(hpath);
    pack_free(p);
}

/* ---- pipelined: batch k merged while batch k+1 is judged ---- */

/* PACK's rules, d.w_len failing every row with the id of the row its Lua
 * state judged before (state kept between records: its answers say which
 * state judged a row, and in which order; a FAST call run again EXACT,
 * lua/sandbox.c, sees its own row as the last and keeps the one before) and
 * d.id_raise raising on some rows of later batches. */
static const char PIPE_PACK[] =
    "dataset \"d\" { key = \"id\" }\n"
    "cleanse \"d\" { v = clean.trim, w = function(s) if s == 'up' then return nil end "
    "return s:upper() end }\n"
    "local prev, cur\n"
    "rule \"d.v_digits\" { field = \"v\", pattern = \"^[0-9]+$\" }\n"
    "rule \"d.w_len\" { check = function(r) local w = r.w\n"
    "  if r.id ~= cur then prev, cur = cur, r.id end\n"
    "  local after = ' after ' .. (prev or 'none')\n"
    "  if w == nil then return false, 'w 为空' .. after end\n"
    "  if #w % 3 == 0 then return false, '长度 ' .. #w .. after end\n"
    "  return false, 'ok' .. after end }\n"
    "rule \"d.v_not_null\" { field = \"v\", not_null = true }\n"
    "rule \"d.id_raise\" { check = function(r)\n"
    "  if r.id:sub(-2) == '97' then error('坏记录 ' .. r.id) end return true end }\n";

enum { NBATCHES = 7 };
static const size_t pipe_sizes[NBATCHES] = {1, 300, 1031, 7, 1499, 513, 1200};

/* One batch the test owns while it is judged and merged. */
struct pipe_batch {
    char text[NROWS * NCOLS][16];
    struct qloop_field cells[NROWS * NCOLS], view[NROWS * NCOLS];
    uint64_t row_no[NROWS];
    uint8_t verdict[NRULES * NROWS];
    const char *reason[NRULES * NROWS];
    char refs[NROWS][33];
    uint32_t enc_at[NRULES * NROWS], enc_len[NRULES * NROWS];
    uint8_t enc_by[NRULES * NROWS];
    struct qloop_buf enc[4];
    struct qloop_batch batch;
    struct judge_batch jb;
};

/* What the merge of one batch saw, as text: per verdict, its verdict,
 * reason and finding; per row, its ref and cleansed cells. */
struct pipe_seen {
    char line[NBATCHES][NRULES * NROWS][200];
    char row[NBATCHES][NROWS][80];
    int64_t checked[NRULES], errors[NRULES], changed[NCLEANSE];
};

/* Fills batch k (rows numbered on from the batches before) into b. */
static void pipe_fill(struct pipe_batch *b, size_t k)
{
    size_t first = 0;
    for (size_t i = 0; i < k; i++)
        first += pipe_sizes[i];
    size_t nrows = pipe_sizes[k];
    for (size_t r = 0; r < nrows; r++) {
        b->row_no[r] = first + r + 1;
        for (size_t c = 0; c < NCOLS; c++) {
            int null;
            value(first + r, c, b->text[r * NCOLS + c], sizeof b->text[0], &null);
            b->cells[r * NCOLS + c] = (struct qloop_field){b->text[r * NCOLS + c],
                                                           strlen(b->text[r * NCOLS + c]), null};
        }
    }
    memcpy(b->view, b->cells, nrows * NCOLS * sizeof *b->view);
    memset(b->refs, 0, sizeof b->refs);
    memset(b->verdict, 0xee, sizeof b->verdict);
    memset(b->enc_len, 0xab, sizeof b->enc_len);
    b->batch = (struct qloop_batch){.nrows = nrows, .ncols = NCOLS, .cells = b->cells,
                                    .row_no = b->row_no};
    b->jb = (struct judge_batch){.batch = &b->batch, .view = b->view, .verdict = b->verdict,
                                 .reason = b->reason, .refs = b->refs, .enc = b->enc,
                                 .enc_at = b->enc_at, .enc_len = b->enc_len, .enc_by = b->enc_by};
}

/* The merge of batch k (in b): what it sees, into seen. */
static void pipe_merge(const struct pipe_batch *b, size_t k, struct pipe_seen *seen)
{
    size_t nrows = pipe_sizes[k];
    for (size_t i = 0; i < NRULES; i++)
        for (size_t row = 0; row < nrows; row++) {
            size_t v = i * nrows + row;
            char enc[120] = "-";
            if (b->verdict[v] == JUDGE_FAIL && b->enc_len[v] != UINT32_MAX)
                snprintf(enc, sizeof enc, "%.*s", (int)b->enc_len[v],
                         b->enc[b->enc_by[v]].ptr + b->enc_at[v]);
            snprintf(seen->line[k][i * NROWS + row], sizeof seen->line[0][0], "%d|%s|%s",
                     b->verdict[v], b->reason[v] ? b->reason[v] : "-", enc);
        }
    for (size_t row = 0; row < nrows; row++) {
        const struct qloop_field *c = &b->view[row * NCOLS];
        snprintf(seen->row[k][row], sizeof seen->row[0][0], "%s|%.*s|%.*s|%.*s", b->refs[row],
                 (int)c[0].len, c[0].ptr, (int)c[1].len, c[1].ptr, (int)c[2].len, c[2].ptr);
    }
}

/* Judges the NBATCHES batches with `workers` workers and the hooks, each
 * in turn (judge_run) or pipelined: batch k+1 filled while k is judged,
 * then k joined (judge_finish), k+1 started, and k merged while k+1 is
 * judged — after a pause that lets the threads take the caller's blocks. */
static void judge_batches(const char *pack_path, size_t workers, bool pipelined, bool own_ctx,
                          struct pipe_seen *seen)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    /* a pack of its own: the counts of worker 0's state start at 0 */
    struct pack *p = load_pack_path(pack_path);
    struct judge_pool *pool = judge_pool_new(p, workers, &err);
    assert_non_null(pool);
    struct cols cols;
    cols_init(&cols, p);
    memset(seen, 0, sizeof *seen);
    memset(&hk, 0, sizeof hk);
    hk.nworkers = workers;
    struct judge_dataset ds = hooked_dataset(&cols, seen->checked, seen->errors, seen->changed);
    static struct pipe_batch pb[2];
    static struct hooks own[2]; /* own_ctx: each batch's refs and findings hooks */
    memset(own, 0, sizeof own);
    judge_begin_dataset(pool, &ds);
    for (size_t k = 0; k <= NBATCHES; k++) {
        struct pipe_batch *cur = &pb[k % 2], *before = &pb[(k + 1) % 2];
        if (k < NBATCHES) {
            pipe_fill(cur, k);
            if (own_ctx) { /* its refs and findings made before judge_finish */
                assert_int_equal(atomic_load(&own[k % 2].bad), 0);
                memset(&own[k % 2], 0, sizeof own[0]);
                own[k % 2].jb = &cur->jb;
                own[k % 2].nrows = pipe_sizes[k];
                own[k % 2].nworkers = workers;
                cur->jb.ctx = &own[k % 2];
            }
        }
        if (!pipelined) {
            if (k == NBATCHES)
                break;
            hk.jb = &cur->jb; /* the hooks check they write into this batch */
            hk.nrows = pipe_sizes[k];
            judge_run(pool, &cur->jb);
            pipe_merge(cur, k, seen);
            continue;
        }
        if (k > 0) { /* the stateless C of k-1 from here on only */
            hk.jb = &before->jb;
            hk.nrows = pipe_sizes[k - 1];
            judge_finish(pool);
        }
        if (k < NBATCHES)
            judge_start(pool, &cur->jb);
        if (k > 0) {
            usleep(3000);
            pipe_merge(before, k - 1, seen);
        }
    }
    if (pipelined)
        judge_finish(pool); /* nothing started: returns at once */
    assert_int_equal(atomic_load(&hk.bad), 0);
    assert_int_equal(atomic_load(&own[0].bad), 0);
    assert_int_equal(atomic_load(&own[1].bad), 0);
    judge_end_dataset(pool);
    judge_pool_free(pool);
    for (size_t b = 0; b < 2; b++)
        for (size_t i = 0; i < 4; i++)
            qloop_buf_free(&pb[b].enc[i]);
    strmap_free(cols.colmap);
    pack_free(p);
}

static void test_pipelined(void **state)
{
    (void)state;
    char ppath[] = "/tmp/qloop-test-judge-pipe-XXXXXX";
    write_pack(ppath, PIPE_PACK);
    static struct pipe_seen want, got;
    for (size_t workers = 1; workers <= 4; workers++) {
        judge_batches(ppath, workers, false, false, &want);
        /* the counting rule's answers: by the split, in row order */
        bool counted = false, raised = false;
        for (size_t k = 0; k < NBATCHES; k++)
            for (size_t row = 0; row < pipe_sizes[k]; row++) {
                counted |= strstr(want.line[k][1 * NROWS + row], " after id") != NULL;
                raised |= strstr(want.line[k][3 * NROWS + row], "坏记录") != NULL;
            }
        assert_true(counted);
        assert_true(raised);
        /* and the row before is the one of the same range before it: each
         * batch split into `workers` ranges (one below 256 rows a worker),
         * range i always judged by state i, in row order */
        char last[4][32];
        for (size_t i = 0; i < 4; i++)
            snprintf(last[i], sizeof last[i], "none");
        size_t first = 0;
        for (size_t k = 0; k < NBATCHES; k++) {
            size_t nrows = pipe_sizes[k], n = nrows < 256 * workers ? 1 : workers;
            for (size_t i = 0; i < n; i++)
                for (size_t row = nrows * i / n; row < nrows * (i + 1) / n; row++) {
                    char after[48];
                    snprintf(after, sizeof after, " after %s|", last[i]);
                    assert_non_null(strstr(want.line[k][1 * NROWS + row], after));
                    snprintf(last[i], sizeof last[i], "id%zu", first + row);
                }
            first += nrows;
        }
        for (int round = 0; round < 4; round++) {
            judge_batches(ppath, workers, true, round % 2 == 1, &got);
            for (size_t k = 0; k < NBATCHES; k++)
                for (size_t row = 0; row < pipe_sizes[k]; row++) {
                    assert_string_equal(got.row[k][row], want.row[k][row]);
                    for (size_t i = 0; i < NRULES; i++)
                        assert_string_equal(got.line[k][i * NROWS + row],
                                            want.line[k][i * NROWS + row]);
                }
            assert_memory_equal(got.checked, want.checked, sizeof want.checked);
            assert_memory_equal(got.errors, want.errors, sizeof want.errors);
            assert_memory_equal(got.changed, want.changed, sizeof want.changed);
        }
    }
    unlink(ppath);
}

/* ---- which rows have no key ---- */

/* judge_batch.key_empty: every row's byte is set once judged, 1 exactly when
 * a key cell of the cleansed view is empty (qloop_value_empty) — w's "up",
 * cleansed to nothing, counts as empty though its raw cell is not; v's
 * blanks and absent cells too — for 1 to 4 workers; every row 1 with no
 * key declared or a key column the data lacks; nothing written without the
 * array. */
static void test_key_empty(void **state)
{
    (void)state;
    char kpath[] = "/tmp/qloop-test-judge-keys-XXXXXX";
    struct pack *p = load_pack(kpath);
    static struct result res;
    static uint8_t empty[NROWS + 1];
    static const long vw[2] = {1, 2}, absent[2] = {0, -1};
    for (size_t workers = 1; workers <= 4; workers++) {
        memset(empty, 2, sizeof empty);
        struct keys k = {2, vw, empty};
        judge_keyed(p, workers, &res, NULL, NULL, &k);
        size_t keyless = 0, raw_w_set = 0;
        for (size_t r = 0; r < NROWS; r++) {
            bool want = false;
            for (size_t i = 0; i < 2; i++) {
                const char *v = res.view[r * NCOLS + (size_t)vw[i]];
                bool null = strncmp(v, "NULL", 4) == 0;
                want |= null || strspn(v, " ") == strlen(v);
            }
            assert_int_equal(empty[r], want);
            keyless += want;
            raw_w_set += want && r % 6 == 0 && r % 5 != 2 && r % 11 != 4;
        }
        assert_int_equal(empty[NROWS], 2); /* past the batch: untouched */
        assert_true(keyless > 0 && keyless < NROWS);
        assert_true(raw_w_set > 0); /* empty only once cleansed */

        memset(empty, 2, sizeof empty);
        k = (struct keys){0, NULL, empty};
        judge_keyed(p, workers, &res, NULL, NULL, &k);
        for (size_t r = 0; r < NROWS; r++)
            assert_int_equal(empty[r], 1);
        memset(empty, 2, sizeof empty);
        k = (struct keys){2, absent, empty};
        judge_keyed(p, workers, &res, NULL, NULL, &k);
        for (size_t r = 0; r < NROWS; r++)
            assert_int_equal(empty[r], 1);
        k = (struct keys){2, vw, NULL};
        judge_keyed(p, workers, &res, NULL, NULL, &k);
    }
    unlink(kpath);
    pack_free(p);
}

/* ---- the verdict memo: a field rule's verdicts kept and reused ---- */

/* A field rule with a built-in form (d.v_digits, slot 0) and a Lua record
 * rule (d.w_len, slot 1) kept in the memo: a first judging notes what the
 * memo keeps (the field rule's empty values nothing: judged without a
 * call); a second one whose kept entries have the rows' fingerprints and
 * the field rule's answers turned round takes them instead of judging, for
 * 1 and 3 workers — and a row whose fingerprint differs is judged again. */
static void test_memo_field_rule(void **state)
{
    (void)state;
    char mpath[] = "/tmp/qloop-test-judge-memo-XXXXXX";
    struct pack *p = load_pack(mpath);

    static const unsigned char key[MEMO_FP_KEY_BYTES] = {7};
    static const int slot[NRULES] = {0, 1, -1, -1};
    static const uint8_t *old[NROWS];
    static uint64_t fp[NROWS];
    static uint8_t kept[2 * NROWS];
    static struct result first, second;
    struct judge_memo memo = {.key = key, .nslots = 2, .slot = slot, .old = old, .fp = fp,
                              .verdict = kept};
    memset(kept, MEMO_NONE, sizeof kept);
    int64_t reused = -1;
    judge_memo(p, 1, &first, &memo, &reused);
    assert_int_equal(reused, 0);
    for (size_t r = 0; r < NROWS; r++) {
        uint8_t v = first.verdict[r], k = kept[r];
        if (v == JUDGE_SKIP)
            assert_int_equal(k, MEMO_NONE);
        else if (v == JUDGE_PASS)
            assert_int_equal(k, MEMO_PASS);
        else
            assert_int_equal(k, strcmp(first.reason[r], "-") ? MEMO_FAIL_REASON : MEMO_FAIL);
        assert_int_not_equal(kept[NROWS + r], MEMO_NONE); /* the Lua rule's answer */
    }

    /* the kept entries: the same fingerprints, the field rule's answers
     * turned round (a pass kept as a failure without reason, a failure as a
     * pass); row 3's fingerprint off by one */
    struct qloop_buf chunk = {0};
    memo_chunk_start(&chunk, 2);
    uint32_t last = 0;
    size_t judged = 0;
    for (size_t r = 0; r < NROWS; r++) {
        uint8_t v[2] = {kept[r] == MEMO_PASS ? MEMO_FAIL : kept[r] == MEMO_NONE ? MEMO_NONE : MEMO_PASS,
                        kept[NROWS + r]};
        const char *reasons[2] = {NULL, v[1] == MEMO_FAIL_REASON ? first.reason[NROWS + r] : NULL};
        memo_chunk_add(&chunk, &last, (uint32_t)r, r == 3 ? fp[r] + 1 : fp[r], v, reasons, 2);
        judged += v[0] != MEMO_NONE && r != 3;
    }
    struct memo_chunk c;
    assert_int_equal(memo_chunk_read(&c, chunk.ptr, chunk.len, 2), 0);
    for (size_t workers = 1; workers <= 3; workers += 2) {
        for (size_t r = 0; r < NROWS; r++)
            old[r] = memo_chunk_row(&c, (uint32_t)r);
        memset(kept, MEMO_NONE, sizeof kept);
        judge_memo(p, workers, &second, &memo, &reused);
        assert_int_equal(reused, (int64_t)judged);
        for (size_t r = 0; r < NROWS; r++) {
            uint8_t v = first.verdict[r];
            uint8_t want = r == 3 || v == JUDGE_SKIP ? v : v == JUDGE_PASS ? JUDGE_FAIL : JUDGE_PASS;
            assert_int_equal(second.verdict[r], want);
            if (r != 3 && v != JUDGE_SKIP)
                assert_string_equal(second.reason[r], "-");
            /* the Lua rule's answers are the kept ones, the same */
            assert_int_equal(second.verdict[NROWS + r], first.verdict[NROWS + r]);
            assert_string_equal(second.reason[NROWS + r], first.reason[NROWS + r]);
        }
        assert_int_equal(second.checked[0], first.checked[0]);
    }
    memo_chunk_free(&c);
    qloop_buf_free(&chunk);
    unlink(mpath);
    pack_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_after_judging),
        cmocka_unit_test(test_memo_field_rule),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_key_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
