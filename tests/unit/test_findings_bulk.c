/*
 * test_findings_bulk.c — the findings index made again around a large
 * flush (engine/run/findings.c, bulk_unindex; store/sql.c,
 * sql_index_drop and sql_index_restore).
 *
 * A store on disk gets its findings through findings_flush inside a write
 * transaction, as a run's results phase does. Many findings into a store
 * that holds few: finding_rows_run is dropped while they go in and made
 * again before the flush returns (seen by an authorizer), the same index
 * (its statement), used by the readers' lookups, consistent with the rows
 * (integrity_check), the rows in the order written. The same number again
 * into a store that now holds as many, a small flush, a flush outside a
 * transaction: the index is fed as before, never dropped. A flush that
 * fails halfway makes the index again before it returns. A process killed
 * while the index is dropped (the rows in, CREATE INDEX about to run)
 * leaves the store as its last commit left it: the index there, the rows
 * of the killed flush gone.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "rules/pack.h"
#include "run/findings.h"
#include "run/stage.h"
#include "store/store.h"
#include "store_helpers.h"

static const char RULES[] =
    "dataset \"shops\" { key = \"code\" }\n"
    "rule \"shops.name\" { field = \"name\", not_null = true, message = \"店名为空\" }\n"
    "rule \"shops.code\" { field = \"code\", pattern = \"^S\", message = \"编码格式错误\" }\n";

/* More than findings.c's BULK_MIN (20,000). */
enum { MANY = 24000 };

static const char INDEX_SQL[] = "CREATE INDEX finding_rows_run ON finding_rows(run, kind, record_ref)";

struct fixture {
    char rules[300], db[300];
    struct pack *p;
};
static struct fixture F;

/* What the authorizer saw of finding_rows_run: drops and creations; and,
 * in the child of the kill test, whether to die at the creation. */
struct seen {
    int drops, creates;
    bool kill_at_create;
};

static int authorize(void *ctx, int action, const char *a1, const char *a2, const char *db,
                     const char *trigger)
{
    (void)a2;
    (void)db;
    (void)trigger;
    struct seen *s = ctx;
    if (a1 && strcmp(a1, "finding_rows_run") == 0) {
        if (action == SQLITE_DROP_INDEX)
            s->drops++;
        if (action == SQLITE_CREATE_INDEX) {
            s->creates++;
            if (s->kill_at_create)
                raise(SIGKILL);
        }
    }
    return SQLITE_OK;
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    if (test_dir_make("fbulk") != 0)
        return -1;
    snprintf(F.rules, sizeof F.rules, "%s", test_dir_path("rules.lua"));
    snprintf(F.db, sizeof F.db, "%s", test_dir_path("store.db"));
    FILE *f = fopen(F.rules, "w");
    if (!f)
        return -1;
    fputs(RULES, f);
    fclose(f);
    struct qloop_error err;
    qloop_error_clear(&err);
    F.p = pack_new();
    int rc = pack_load_path(F.p, F.rules, &err);
    if (rc == 0)
        rc = pack_finish(F.p, &err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    pack_free(F.p);
    return test_dir_remove();
}

/* Spools n findings into w (rule by rule, rows from 1, keys made from
 * `tag` so that each flush has its own records). 0 or -1 with err. */
static int spool(struct findings_writer *w, const char *tag, int n, struct qloop_error *err)
{
    char key[48];
    int rc = 0;
    for (int i = 1; rc == 0 && i <= n; i++) {
        bool first = i <= n / 2;
        int kl = snprintf(key, sizeof key, "%s-%d", tag, i);
        struct qloop_finding f = {.dataset = "shops", .rule = first ? "shops.name" : "shops.code",
                                  .row_no = (uint64_t)i, .key = key, .keylen = (size_t)kl,
                                  .field = first ? "name" : "code", .value = first ? NULL : key,
                                  .vlen = (size_t)kl};
        rc = findings_write(w, &f, NULL, err);
    }
    return rc;
}

/* Spools n findings of run `run` (spool) and flushes them, inside a
 * transaction when in_tx (committed after). 0 or -1. */
static int write_run(sqlite3 *db, const char *run, const char *tag, int n, bool in_tx)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (stage_create(db, &err) != 0)
        return -1;
    struct findings_writer *w = findings_writer_new(db, run, F.p, &err);
    if (!w)
        return -1;
    int rc = spool(w, tag, n, &err);
    if (rc == 0 && in_tx)
        rc = store_begin(db, &err);
    if (rc == 0)
        rc = findings_flush(w, &err);
    if (rc == 0 && in_tx)
        rc = store_commit(db, &err);
    if (rc != 0)
        print_error("write_run %s: %s\n", run, err.message);
    findings_writer_free(w);
    return rc;
}

/* The index is the schema's, the readers' lookup uses it, and it agrees
 * with the rows. */
static void assert_index(sqlite3 *db)
{
    assert_string_equal(q_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'finding_rows_run'"),
                        INDEX_SQL);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT f.id FROM finding_rows f"
                                        " WHERE f.run = 1 AND f.kind = 2 AND f.record_ref = '00'"
                                        " ORDER BY f.kind, f.record_ref, f.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bool used = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        used |= detail && strstr(detail, "USING COVERING INDEX finding_rows_run") != NULL;
    }
    sqlite3_finalize(st);
    assert_true(used);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
}

/* MANY findings of run `run` into db, the index dropped once and made
 * once on the way, as it was. */
static void assert_rebuilt(sqlite3 *db, const char *run, const char *tag)
{
    struct seen s = {0};
    sqlite3_set_authorizer(db, authorize, &s);
    assert_int_equal(write_run(db, run, tag, MANY, true), 0);
    sqlite3_set_authorizer(db, NULL, NULL);
    assert_int_equal(s.drops, 1);
    assert_int_equal(s.creates, 1);
    assert_index(db);
}

static void test_many_into_few_rebuilds(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_rebuilt(db, "r1", "a");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), MANY);
    /* in the order written: the n-th row is row n, half of each rule */
    assert_int_equal(q_int(db, "SELECT count(*) FROM (SELECT row_no, row_number() OVER"
                               " (ORDER BY id) AS n FROM finding_rows) WHERE row_no = n"),
                     MANY);
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings WHERE rule = 'shops.code'"
                               " AND row_no > 12000 AND value = record_key"),
                     MANY / 2);
    /* a record found through the index */
    char ref[33];
    store_record_ref(db, "shops", "a-77", 4, ref);
    assert_int_equal(q_int(db,
                           "SELECT row_no FROM finding_rows INDEXED BY finding_rows_run"
                           " WHERE run = 1 AND kind = 1 AND record_ref = '%s'",
                           ref),
                     77);

    /* as many again: the index holds as many, it is fed */
    struct seen s = {0};
    sqlite3_set_authorizer(db, authorize, &s);
    assert_int_equal(write_run(db, "r2", "b", MANY, true), 0);
    assert_int_equal(s.drops + s.creates, 0);
    /* few, and many outside a transaction: fed */
    assert_int_equal(write_run(db, "r3", "c", 100, true), 0);
    assert_int_equal(write_run(db, "r4", "d", MANY, false), 0);
    assert_int_equal(s.drops + s.creates, 0);
    assert_index(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 3 * MANY + 100);
    store_close(db);
}

static void test_prune_then_many_rebuilds(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r1", "a", MANY, true), 0);
    exec(db, "DELETE FROM finding_rows WHERE run = 1");
    assert_rebuilt(db, "r2", "b");
    store_close(db);
}

static void test_failed_flush_keeps_index(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    exec(db, "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.finding_rows"
             " WHEN NEW.row_no = 20000 BEGIN SELECT RAISE(ABORT, 'boom'); END");
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(stage_create(db, &err), 0);
    struct findings_writer *w = findings_writer_new(db, "r1", F.p, &err);
    assert_non_null(w);
    assert_int_equal(spool(w, "k", MANY, &err), 0);
    struct seen s = {0};
    sqlite3_set_authorizer(db, authorize, &s);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(findings_flush(w, &err), -1);
    assert_non_null(strstr(err.message, "boom"));
    /* dropped, then made again although the flush failed */
    assert_int_equal(s.drops, 1);
    assert_int_equal(s.creates, 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'finding_rows_run'"), 1);
    store_rollback(db);
    findings_writer_free(w);
    exec(db, "DROP TRIGGER temp.boom");
    assert_index(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 0);
    store_close(db);
}

static void test_killed_while_dropped(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r0", "z", 50, true), 0);
    store_close(db);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct qloop_error err;
        qloop_error_clear(&err);
        sqlite3 *child = store_open(F.db, &err);
        if (!child)
            _exit(10);
        struct seen s = {.kill_at_create = true};
        sqlite3_set_authorizer(child, authorize, &s);
        write_run(child, "r1", "a", MANY, true);
        _exit(11); /* not reached: killed at CREATE INDEX */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    db = db_open_at(F.db);
    assert_index(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 50);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_runs WHERE run_id = 'r1'"), 0);
    /* and the next flush goes through */
    assert_int_equal(write_run(db, "r1", "a", MANY, true), 0);
    assert_index(db);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), MANY + 50);
    store_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_into_few_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_then_many_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_flush_keeps_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_while_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
