/*
 * compare_helpers.h — the fixture of the compare's unit tests
 * (test_compare.c, test_compare_sort.c): a rule file written and loaded, a
 * temporary store with its findings writer and staging tables, batches fed
 * through compare_feed, compare_finish with the results moved in, and the
 * findings read back as text. Included after cmocka's headers; everything
 * here is static inline, the fixture F static.
 */
#ifndef QLOOP_TEST_COMPARE_HELPERS_H
#define QLOOP_TEST_COMPARE_HELPERS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "run/compare.h"
#include "run/findings.h"
#include "run/stage.h"
#include "rules/pack.h"
#include "store/store.h"

struct fixture {
    char dir[256];
    char rules[300];
    char dbpath[300];
    struct pack *p;
    sqlite3 *db;
    struct compare_run *c;
    struct findings_writer *w;
    json_t *summary;
    int64_t failed;
    char *text; /* findings text of the test, freed by teardown */
    size_t jobs; /* set_jobs */
};

static struct fixture F;

static inline int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    const char *tmp = getenv("TMPDIR");
    snprintf(F.dir, sizeof F.dir, "%s/qloop-test-compare-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.rules, sizeof F.rules, "%s/rules.lua", F.dir);
    snprintf(F.dbpath, sizeof F.dbpath, "%s/q.db", F.dir);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    compare_run_free(F.c);
    findings_writer_free(F.w);
    pack_free(F.p);
    store_close(F.db);
    json_decref(F.summary);
    free(F.text);
    unlink(F.rules);
    char path[400];
    /* the store, its WAL files and the key file the store makes beside it */
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".key"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(path, sizeof path, "%s%s", F.dbpath, suffixes[i]);
        unlink(path);
    }
    rmdir(F.dir);
    return 0;
}

/* Writes the rule file, loads it, opens the store and prepares the compares
 * with budget bytes. */
static inline void load(const char *lua, size_t budget)
{
    FILE *f = fopen(F.rules, "w");
    assert_non_null(f);
    fputs(lua, f);
    fclose(f);
    struct qloop_error err;
    qloop_error_clear(&err);
    F.p = pack_new();
    assert_non_null(F.p);
    if (pack_load_path(F.p, F.rules, &err) != 0 || pack_finish(F.p, &err) != 0)
        fail_msg("pack: %s:%ld: %s", err.file, err.line, err.message);
    F.db = store_open(F.dbpath, &err);
    if (!F.db)
        fail_msg("store: %s", err.message);
    assert_int_equal(stage_create(F.db, &err), 0);
    F.w = findings_writer_new(F.db, "r1", F.p, &err);
    assert_non_null(F.w);
    assert_int_equal(compare_run_new(&F.c, F.p, budget, &err), 0);
    F.summary = json_array();
}

/* The batch being fed, for own_key. */
struct fed {
    const struct pack_dataset *d;
    const char *const *names;
    size_t ncols;
    const struct qloop_field *cells;
    const uint64_t *row_no;
};

/* compare_rows.own_key as the run's reader gives it (run/dataset.c): the
 * declared key fields joined by '|'; for a record without a key, a stand-in
 * identity "\0K#ROW\0#ROW" (the run's is a content fingerprint). */
static inline void own_key(void *ctx, size_t row, struct qloop_buf *out)
{
    const struct fed *b = ctx;
    if (!b->d)
        fail_msg("own_key asked for a dataset the pack does not declare");
    bool keyless = b->d->nkeys == 0;
    for (size_t i = 0; i < b->d->nkeys; i++)
        for (size_t c = 0; c < b->ncols; c++)
            if (strcmp(b->names[c], b->d->keys[i]) == 0) {
                const struct qloop_field *f = &b->cells[row * b->ncols + c];
                keyless |= f->null || f->len == 0;
                qloop_buf_printf(out, "%s%.*s", i ? "|" : "", (int)f->len, f->ptr);
            }
    if (keyless) {
        qloop_buf_reset(out);
        qloop_buf_append(out, "\0K#", 3);
        findings_append_uint(out, b->row_no[row]);
        qloop_buf_putc(out, '\0');
        findings_row_key(out, b->row_no[row]);
    }
}

/* Feeds rows (ncols cells each, NULL = absent) of dataset as one batch,
 * numbering them first_row, first_row + 1, ... */
static inline void feed(const char *dataset, const char *const *names, size_t ncols,
                 const char *const *rows, size_t nrows, uint64_t first_row)
{
    struct qloop_field *cells = calloc(nrows * ncols + 1, sizeof *cells);
    uint64_t *row_no = calloc(nrows + 1, sizeof *row_no);
    for (size_t i = 0; i < nrows * ncols; i++) {
        const char *s = rows[i];
        cells[i] = (struct qloop_field){s ? s : "", s ? strlen(s) : 0, s ? 0 : 1};
    }
    for (size_t i = 0; i < nrows; i++)
        row_no[i] = first_row + i;
    struct qloop_error err;
    qloop_error_clear(&err);
    struct fed b = {pack_find_dataset(F.p, dataset), names, ncols, cells, row_no};
    struct compare_rows cr = {names, ncols, cells, nrows, row_no, own_key, &b};
    if (compare_feed(F.c, dataset, &cr, &err) != 0)
        fail_msg("feed: %s", err.message);
    free(cells);
    free(row_no);
}

/* compare_set_jobs, noted for finish. */
static inline void set_jobs(size_t jobs)
{
    F.jobs = jobs;
    compare_set_jobs(F.c, jobs);
}

static inline int64_t query_int(const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline void finish(void)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct compare_emit_ctx ctx = {.db = F.db, .run_id = "r1", .findings = F.w};
    if (compare_finish(F.c, &ctx, F.summary, &F.failed, &err) != 0)
        fail_msg("finish: %s:%ld: %s", err.file, err.line, err.message);
    /* the results wait in the staging tables until the run moves them; the
     * findings too, but with jobs, which moves them in while it makes them */
    if (F.jobs < 2)
        assert_int_equal(query_int("SELECT count(*) FROM main.findings"), 0);
    assert_int_equal(query_int("SELECT count(*) FROM main.rule_results"), 0);
    /* what it moved in has its keys by record (written at the end) */
    assert_int_equal(query_int("SELECT count(*) FROM main.finding_refs"),
                     query_int("SELECT count(*) FROM main.finding_rows"));
    if (findings_flush(F.w, &err) != 0 || stage_move(F.db, &err) != 0)
        fail_msg("stage_move: %s", err.message);
}


/* Every finding as "dataset|rule|row_no|record_key|field|value|message" lines
 * in the order given by order_by, NULL shown as "-". */
static inline char *findings(const char *order_by)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT dataset, rule, row_no, record_key, field, value, message, record_ref"
             " FROM findings ORDER BY %s",
             order_by);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.db, sql, -1, &st, NULL), SQLITE_OK);
    struct qloop_buf b = {0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < 7; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            qloop_buf_printf(&b, "%s%s", i ? "|" : "", v ? v : "-");
        }
        qloop_buf_putc(&b, '\n');
    }
    sqlite3_finalize(st);
    return b.ptr ? b.ptr : qloop_xstrdup("");
}

static inline void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("missing line:\n  %s\nin:\n%s", needle, hay);
}

static inline void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle))
        fail_msg("unexpected:\n  %s\nin:\n%s", needle, hay);
}

#endif
