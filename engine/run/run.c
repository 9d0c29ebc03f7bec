/*
 * run.c — one validation run (see run.h), in three phases:
 *
 *   before reading  everything that can be checked without data: --data
 *                   names, sources present and readable, the order of the
 *                   datasets (those referenced first), the divisions table,
 *                   the compares, the worker pool;
 *   reading         every dataset in turn (dataset.c): read, cleanse, check,
 *                   feed the compares. This takes most of a run and holds no
 *                   write lock on the store: what it produces waits in TEMP
 *                   staging tables of this connection (stage.h), gone if the
 *                   process dies, so staff can answer tickets meanwhile;
 *   writing         one write transaction: the run row, the staged results,
 *                   the compares, the catalog checks, the tickets, the audit
 *                   entries. Killed at any moment, the store stays as the last
 *                   good run left it.
 * Every finding of every phase goes through one findings writer
 * (findings.h), which masks what it stores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/heaptrim.h"
#include "base/strmap.h"
#include "catalog/catalog.h"
#include "checks/division.h"
#include "loop/ticket.h"
#include "run/compare.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/stage.h"
#include "store/audit.h"
#include "store/sql.h"
#include "store/store.h"

/* Seconds on a monotonic clock, for phase timings. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_run_id(struct run_ctx *run)
{
    unsigned char rnd[4];
    sqlite3_randomness(sizeof rnd, rnd);
    char stamp[32];
    qloop_format_datetime(run->now, stamp);
    /* 2026-11-22T02:00:00+08:00 -> 20261122T020000 */
    char compact[20];
    size_t j = 0;
    for (size_t i = 0; i < 19 && stamp[i] && j + 1 < sizeof compact; i++)
        if (stamp[i] != '-' && stamp[i] != ':')
            compact[j++] = stamp[i];
    compact[j] = '\0';
    snprintf(run->run_id, sizeof run->run_id, "%s-%02x%02x%02x%02x", compact, rnd[0], rnd[1], rnd[2],
             rnd[3]);
}

/* ---- before reading ---- */

/* Every dataset named by --data is declared; every dataset has a source
 * that can be read. */
static int check_sources(struct run_ctx *run)
{
    struct pack *p = run->p;
    const struct run_options *o = run->o;
    for (size_t i = 0; i < o->ndata; i++)
        if (!pack_find_dataset(p, o->data[i].name))
            return qloop_error_set(run->err, NULL, 0, 0, "--data %s=%s：规则中没有声明数据集 \"%s\"",
                                   o->data[i].name, o->data[i].path, o->data[i].name);
    for (size_t i = 0; i < p->ndatasets; i++) {
        struct pack_dataset *d = &p->datasets[i];
        const char *path = run_source_path(run, d);
        if (!path)
            return qloop_error_set(run->err, d->file, d->line, 0,
                                   "数据集 \"%s\" 没有数据来源；请在 dataset 中写 source = \"文件\"，或用 --data %s=文件",
                                   d->name, d->name);
        const struct qloop_adapter *ad = o->find_adapter(path, d->format);
        if (strcmp(path, "-") != 0 && !(ad && ad->scheme) && access(path, R_OK) != 0)
            return qloop_error_set(run->err, path, 0, 0, "无法读取数据集 \"%s\" 的数据文件（%s）；请检查路径",
                                   d->name, strerror(errno));
    }
    return 0;
}

int run_setup(struct run_ctx *run, size_t *order, bool workers)
{
    const struct run_options *o = run->o;
    if (refsets_order(run, order) != 0 || division_init(run->err) != 0)
        return -1;
    if (run->p->ncompares &&
        compare_run_new(&run->compares, run->p, o->memory_budget, run->err) != 0)
        return -1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t jobs = o->jobs ? o->jobs : (size_t)(ncpu > 0 ? (ncpu > 16 ? 16 : ncpu) : 1);
    compare_set_jobs(run->compares, jobs);
    if (!workers)
        return 0;
    run->pool = judge_pool_new(run->p, jobs, run->err);
    return run->pool ? 0 : -1;
}

static int before_reading(struct run_ctx *run, size_t *order)
{
    return check_sources(run) != 0 ? -1 : run_setup(run, order, true);
}

/* ---- reading ---- */

int run_open_results(struct run_ctx *run)
{
    if (stage_create(run->db, run->err) != 0)
        return -1;
    run->secret = store_secret(run->db);
    run->findings = findings_writer_new(run->db, run->run_id, run->p, run->err);
    if (!run->findings)
        return -1;
    refsets_setup(run);
    return 0;
}

static int read_all(struct run_ctx *run, const size_t *order, struct run_outcome *out)
{
    if (run_open_results(run) != 0)
        return -1;
    double t0 = mono_seconds();
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (size_t i = 0; i < run->p->ndatasets; i++)
        if (run_dataset(run, &run->p->datasets[order[i]]) != 0)
            return -1;
    out->seconds_read = mono_seconds() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    out->cpu_seconds_read = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    memo_counts(run, &out->memo_reused, &out->memo_called);
    return 0;
}

/* ---- writing ---- */

/* Moves what the run staged so far into the store: its findings, then the
 * staging tables (stage.h). */
static int move_staged(struct run_ctx *run)
{
    return findings_flush(run->findings, run->err) == 0 && stage_move(run->db, run->err) == 0
               ? 0
               : -1;
}

static int insert_run(struct run_ctx *run, const char *status, const char *summary)
{
    sqlite3_stmt *st = sql_prepare(
        run->db,
        summary ? "UPDATE runs SET status = ?2, finished_at = ?3, summary = ?4 WHERE id = ?1"
                : "INSERT INTO runs(id, status, started_at, as_of, rules) VALUES(?1, ?2, ?3, ?3, ?4)",
        run->err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, run->run_id);
    sql_bind_text(st, 2, status);
    sql_bind_text(st, 3, run->as_of);
    if (summary) {
        sql_bind_text(st, 4, summary);
    } else {
        json_t *files = json_array();
        for (size_t i = 0; i < run->p->nfiles; i++)
            json_array_append_new(files, json_string(run->p->files[i]));
        char *text = json_dumps(files, JSON_COMPACT);
        json_decref(files);
        sql_bind_text(st, 4, text);
        free(text);
    }
    int rc = sql_done(run->db, st, "写入运行记录", run->err);
    sqlite3_finalize(st);
    return rc;
}

static int audit_run(struct run_ctx *run, const char *kind, json_t *detail)
{
    char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    char subject[96];
    snprintf(subject, sizeof subject, "run:%s", run->run_id);
    int rc = audit_append(run->db, kind, subject, "system", text, run->err);
    free(text);
    json_decref(detail);
    return rc;
}

/* The compares, then the catalog checks: each writes its findings through
 * the run's writer into the staging tables, moved in after each. */
static int later_finders(struct run_ctx *run, struct run_outcome *out)
{
    double t0 = mono_seconds();
    if (run->compares) {
        struct compare_emit_ctx ectx = {.db = run->db, .run_id = run->run_id,
                                        .findings = run->findings};
        if (compare_finish(run->compares, &ectx, run->summary_rules, &run->failed_records,
                           run->err) != 0 ||
            move_staged(run) != 0)
            return -1;
    }
    double t1 = mono_seconds();
    out->seconds_compare = t1 - t0;
    struct qloop_findings_sink sink = findings_sink(run->findings);
    if (catalog_check_run(run->db, run->run_id, run->summary_rules, &sink, run->err) != 0 ||
        move_staged(run) != 0)
        return -1;
    out->seconds_catalog = mono_seconds() - t1;
    return 0;
}

/* The ticket_seen keys of the run: the finding keys its writer kept. */
static int run_keys(void *ctx, ticket_key_fn each, void *each_ctx)
{
    struct run_ctx *run = ctx;
    return findings_take_refs(run->findings, each, each_ctx);
}

/* The ticket_seen keys of the run given away (a first night's). */
static int run_give_keys(void *ctx, struct ticket_keys *out)
{
    struct run_ctx *run = ctx;
    return findings_give_refs(run->findings, out);
}

int run_write(struct run_ctx *run, struct run_outcome *out)
{
    double t0 = mono_seconds();
    /* A run alone with the store writes with a rollback journal rather
     * than WAL (store_begin_bulk), back to WAL once it ends either way. */
    bool journal = false;
    if (store_begin_bulk(run->db, &journal, run->err) != 0)
        return -1;
    json_t *summary = NULL;
    struct ticket_sync_counts tc = {0};
    struct ticket_seen seen = {.seen = recheck_seen, .ctx = run, .keys = run_keys,
                               .give = run_give_keys};
    /* the keys written from here on kept for the ticket phase's merge */
    findings_keep_refs(run->findings);
    if (insert_run(run, "running", NULL) != 0 ||
        audit_run(run, "run.start", json_pack("{s:s}", "as_of", run->as_of)) != 0 ||
        move_staged(run) != 0 || memo_write(run) != 0)
        goto fail;
    double t1 = mono_seconds();
    out->seconds_store = t1 - t0;
    if (later_finders(run, out) != 0)
        goto fail;
    double t2 = mono_seconds();
    if (ticket_sync_run_seen(run->db, run->run_id, run->o->policy_path, &seen, &tc, run->err) != 0)
        goto fail;
    double t3 = mono_seconds();
    out->seconds_tickets = t3 - t2;
    summary = json_pack("{s:s, s:s, s:O, s:O, s:{s:I, s:I, s:I}, s:I, s:O}", "run_id", run->run_id,
                        "as_of", run->as_of, "datasets", run->summary_datasets, "rules",
                        run->summary_rules, "tickets", "opened", (json_int_t)tc.opened, "updated",
                        (json_int_t)tc.updated, "reverified", (json_int_t)tc.reverified,
                        "failed_records", (json_int_t)run->failed_records, "cleansed",
                        run->summary_cleansed);
    char *text = json_dumps(summary, JSON_COMPACT);
    int rc = insert_run(run, "done", text);
    free(text);
    if (rc != 0 ||
        audit_run(run, "run.end",
                  json_pack("{s:I, s:I}", "failed_records", (json_int_t)run->failed_records,
                            "tickets_opened", (json_int_t)tc.opened)) != 0 ||
        store_commit(run->db, run->err) != 0)
        goto fail;
    if (journal)
        store_wal(run->db);
    out->seconds_commit = mono_seconds() - t3;
    out->summary = summary;
    return 0;
fail:
    json_decref(summary);
    store_rollback(run->db);
    if (journal)
        store_wal(run->db);
    return -1;
}

void run_init(struct run_ctx *run, sqlite3 *db, struct pack *p, const struct run_options *o,
              struct qloop_error *err)
{
    *run = (struct run_ctx){.db = db, .p = p, .o = o, .err = err};
    run->now = qloop_now();
    run->started = time(NULL);
    qloop_format_datetime(run->now, run->as_of);
    make_run_id(run);
    run->summary_datasets = json_array();
    run->summary_rules = json_array();
    run->summary_cleansed = json_array();
}

void run_release(struct run_ctx *run)
{
    findings_writer_free(run->findings);
    json_decref(run->summary_datasets);
    json_decref(run->summary_rules);
    json_decref(run->summary_cleansed);
    refsets_free(run);
    compare_run_free(run->compares);
    recheck_free(run);
    judge_pool_free(run->pool);
    qloop_buf_free(&run->keybuf);
    memo_release(run);
}

int run_execute(sqlite3 *db, struct pack *p, const struct run_options *o, struct run_outcome *out,
                struct qloop_error *err)
{
    struct run_ctx run;
    run_init(&run, db, p, o, err);
    memset(out, 0, sizeof *out);
    size_t *order = qloop_xcalloc(p->ndatasets + 1, sizeof *order);
    int rc = before_reading(&run, order);
    if (rc == 0)
        rc = read_all(&run, order, out);
    /* what the read freed given back before the tail's arrays (heaptrim.h) */
    if (rc == 0)
        (void)qloop_heap_trim();
    if (rc == 0)
        rc = run_write(&run, out);
    if (rc == 0) {
        snprintf(out->run_id, sizeof out->run_id, "%s", run.run_id);
        out->failed_records = run.failed_records;
    }
    run_release(&run);
    free(order);
    return rc;
}
