/*
 * test_findings_keys.c — a flush's keys collected and sorted on a thread of
 * their own (engine/run/findings_keys.c) while the flush stores the rows,
 * and the flush's kinds numbered in the order they first come before any
 * row is stored (the view of the spool the thread reads: test_stage.c).
 *
 * A large flush gives the
 * same store (finding_kinds, finding_rows, finding_refs, every column and
 * id) and the same kept keys with the keys collected aside as without, for
 * kinds numbered by the writer in another order than they come, in one
 * flush and in two, under the sort budget and past it (SQL sorts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "loop/ticket.h"
#include "rules/pack.h"
#include "run/findings.h"
#include "run/findings_keys.h"
#include "run/findings_refs.h"
#include "run/stage.h"
#include "store/store.h"
#include "store_helpers.h"

static const char RULES[] =
    "dataset \"shops\" { key = \"code\" }\n"
    "rule \"shops.name\" { field = \"name\", not_null = true, message = \"店名为空\" }\n"
    "rule \"shops.code\" { field = \"code\", pattern = \"^S\", message = \"编码格式错误\" }\n"
    "rule \"shops.city\" { field = \"city\", not_null = true, message = \"城市为空\" }\n";

/* More than FINDINGS_KEYS_ASIDE_MIN, not a multiple of 32 nor 64. */
enum { MANY = 3 * FINDINGS_KEYS_ASIDE_MIN + 17 };

struct fixture {
    char rules[300], empty[300], db[300];
    struct pack *p;
};
static struct fixture F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    if (test_dir_make("fkeys") != 0)
        return -1;
    snprintf(F.rules, sizeof F.rules, "%s", test_dir_path("rules.lua"));
    snprintf(F.empty, sizeof F.empty, "%s", test_dir_path("empty.db"));
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
    if (rc == 0)
        store_close(db_open_at(F.empty));
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    pack_free(F.p);
    return test_dir_remove();
}

/* ---- the flush ---- */

/* Spools n findings: city first, then code, then name (the writer numbered
 * its kinds name, code, city before: another order), keys from tag. */
static int spool(struct findings_writer *w, const char *tag, int n, struct qloop_error *err)
{
    static const char *const rule[] = {"shops.city", "shops.code", "shops.name"};
    static const char *const field[] = {"city", "code", "name"};
    char key[48];
    int rc = 0;
    for (int i = 1; rc == 0 && i <= n; i++) {
        int r = i * 3 / (n + 1);
        int kl = snprintf(key, sizeof key, "%s-%d", tag, i);
        struct qloop_finding f = {.dataset = "shops", .rule = rule[r], .row_no = (uint64_t)i,
                                  .key = key, .keylen = (size_t)kl, .field = field[r],
                                  .value = r == 1 ? key : NULL, .vlen = (size_t)kl};
        rc = findings_write(w, &f, NULL, err);
    }
    return rc;
}

/* What the flushes left: the store's findings tables and the kept keys,
 * as text (malloc'd). */
struct outcome {
    char *kinds, *rows, *refs;
    struct qloop_buf kept;
};

static int kept_key(void *ctx, int64_t kind, const uint64_t ref[2], int64_t id, uint64_t digest)
{
    char hex[33];
    qloop_hex128(ref, hex);
    hex[32] = '\0';
    qloop_buf_printf(ctx, "%lld|%s|%lld|%016llx\n", (long long)kind, hex, (long long)id,
                     (unsigned long long)digest);
    return 0;
}

/* Writes MANY findings in `flushes` flushes into a copy of the empty store,
 * keys aside or not, the sort budget `budget` (SIZE_MAX: as it comes). */
static void write_findings(bool aside, int flushes, size_t budget, struct outcome *o)
{
    copy_store(F.empty, F.db);
    sqlite3 *db = db_open_at(F.db);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(stage_create(db, &err), 0);
    struct findings_writer *w = findings_writer_new(db, "r1", F.p, &err);
    assert_non_null(w);
    findings_writer_keys_aside(w, aside);
    if (budget != SIZE_MAX)
        findings_writer_sort_budget(w, budget);
    findings_keep_refs(w);
    assert_int_equal(findings_kind(w, "shops", "shops.name", "name"), 1);
    assert_int_equal(findings_kind(w, "shops", "shops.code", "code"), 2);
    assert_int_equal(store_begin(db, &err), 0);
    for (int k = 0; k < flushes; k++) {
        char tag[16];
        snprintf(tag, sizeof tag, "t%d", k);
        assert_int_equal(spool(w, tag, MANY / flushes, &err), 0);
        assert_int_equal(findings_flush(w, &err), 0);
    }
    assert_int_equal(store_commit(db, &err), 0);
    o->kinds = q_rows(db, "SELECT id, dataset, rule, field FROM finding_kinds ORDER BY id");
    o->rows = q_rows(db, "SELECT id, run, kind, row_no, record_ref, record_key, value, message,"
                         " hex(sealed), part FROM finding_rows ORDER BY id");
    o->refs = q_rows(db, "SELECT run, kind, record_ref, id FROM finding_refs"
                         " ORDER BY run, kind, record_ref, id");
    memset(&o->kept, 0, sizeof o->kept);
    findings_take_refs(w, kept_key, &o->kept);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), MANY / flushes * flushes);
    findings_writer_free(w);
    store_close(db);
}

static void outcome_free(struct outcome *o)
{
    free(o->kinds);
    free(o->rows);
    free(o->refs);
    qloop_buf_free(&o->kept);
}

static void test_aside_same_store(void **state)
{
    (void)state;
    const struct {
        int flushes;
        size_t budget;
    } cases[] = {{1, SIZE_MAX}, {2, SIZE_MAX}, {1, 0}, {1, 1000}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct outcome self, aside;
        write_findings(false, cases[c].flushes, cases[c].budget, &self);
        write_findings(true, cases[c].flushes, cases[c].budget, &aside);
        /* the kinds numbered as they first come: city, code, name */
        assert_string_equal(aside.kinds, "1|shops|shops.city|city\n2|shops|shops.code|code\n"
                                         "3|shops|shops.name|name\n");
        assert_string_equal(aside.kinds, self.kinds);
        assert_string_equal(aside.rows, self.rows);
        assert_string_equal(aside.refs, self.refs);
        assert_string_equal(qloop_buf_str(&aside.kept), qloop_buf_str(&self.kept));
        /* kept whole only for one flush sorted in memory */
        assert_true((aside.kept.len > 0) == (cases[c].flushes == 1 && cases[c].budget == SIZE_MAX));
        outcome_free(&self);
        outcome_free(&aside);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aside_same_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
