/*
 * test_finding_refs.c — the findings' keys by record in their own table
 * (schema step 14, finding_refs; engine/run/findings_refs.c writing them
 * sorted, engine/store/store.c pruning them, engine/loop/ reading them).
 *
 * Every finding the writer stores has its key (run, kind, record_ref, id)
 * in finding_refs, in flushes of any size (64-row statements and the rest),
 * one run flushed in several pieces, and several runs; the keys are the
 * same whether the writer sorted them in memory, left the sorting to SQLite
 * (a sort budget of 0 or too small: the fallback), or the findings went in
 * through the `findings` view's trigger; a failed flush leaves no key
 * behind; flushes held (a compare's) write their keys once, at the end.
 * The view's triggers keep both tables in step (explicit and given ids,
 * deletes). Pruning deletes the old runs' keys with their rows. A
 * store at step 13 (rewound with store_rewind_to_step13) gets its keys
 * moved into finding_refs by the upgrade, the index gone. The ticket
 * loop's statements over the findings (traced over three nights) search
 * finding_refs by its primary key and never scan a findings table.
 * Kept for the ticket phase (findings_keep_refs), the keys of one sorted
 * write are handed once, in key order, with digests of the rows stored.
 * An encoded finding carries its evidence digest, made as it is encoded:
 * the digest of its row as the flush stores it (a masked and sealed key or
 * value, no value, a dataset-level finding, a partitioned run's part).
 * findings_refs_sort orders the entries as qsort by (kind, ref, place)
 * would: random refs, refs crowded into one top-bits bucket, equal refs
 * (kept in their order of arrival), kinds spread wide (qsort itself).
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
#include "run/findings_refs.h"
#include "run/stage.h"
#include "store/schema.h"
#include "store/store.h"
#include "store_helpers.h"
#include "ticket_helpers.h"

static const char RULES[] =
    "dataset \"shops\" { key = \"code\" }\n"
    "rule \"shops.name\" { field = \"name\", not_null = true, message = \"店名为空\" }\n"
    "rule \"shops.code\" { field = \"code\", pattern = \"^S\", message = \"编码格式错误\" }\n";

/* Not a multiple of 32 (findings.c's batch) nor of 64 (findings_refs.c's). */
enum { MANY = 5003 };

struct fixture {
    char rules[300], db[300], db2[300];
    struct pack *p;
};
static struct fixture F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    if (test_dir_make("frefs") != 0)
        return -1;
    snprintf(F.rules, sizeof F.rules, "%s", test_dir_path("rules.lua"));
    snprintf(F.db, sizeof F.db, "%s", test_dir_path("store.db"));
    snprintf(F.db2, sizeof F.db2, "%s", test_dir_path("other.db"));
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

/* Spools n findings into w: rule by rule (a third each of name, code and
 * name again, so a kind comes back), rows from 1, keys made from `tag`. */
static int spool(struct findings_writer *w, const char *tag, int n, struct qloop_error *err)
{
    char key[48];
    int rc = 0;
    for (int i = 1; rc == 0 && i <= n; i++) {
        bool name = i <= n / 3 || i > 2 * n / 3;
        int kl = snprintf(key, sizeof key, "%s-%d", tag, i);
        struct qloop_finding f = {.dataset = "shops", .rule = name ? "shops.name" : "shops.code",
                                  .row_no = (uint64_t)i, .key = key, .keylen = (size_t)kl,
                                  .field = name ? "name" : "code", .value = name ? NULL : key,
                                  .vlen = (size_t)kl};
        rc = findings_write(w, &f, NULL, err);
    }
    return rc;
}

/* SQLITE_TRACE_STMT: counts the statements run that insert into
 * finding_refs, by the writer's VALUES and by SQL's INSERT ... SELECT. */
struct inserts {
    int values, select;
};

static int count_inserts(unsigned type, void *ctx, void *p, void *x)
{
    (void)p;
    struct inserts *c = ctx;
    const char *text = x;
    if (type == SQLITE_TRACE_STMT && strstr(text, "INTO finding_refs")) {
        if (strstr(text, "VALUES"))
            c->values++;
        else if (strncmp(text, "INSERT INTO finding_refs", 24) == 0 && strstr(text, "SELECT"))
            c->select++;
    }
    return 0;
}

/* Spools n findings of run `run` and flushes them in `pieces` flushes,
 * inside one transaction, the writer's sort budget `budget` (SIZE_MAX: as
 * it comes); the finding_refs inserts counted into *c (may be NULL). 0 or
 * -1. */
static int write_run(sqlite3 *db, const char *run, const char *tag, int n, int pieces,
                     size_t budget, struct inserts *c)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (stage_create(db, &err) != 0)
        return -1;
    struct findings_writer *w = findings_writer_new(db, run, F.p, &err);
    if (!w)
        return -1;
    if (budget != SIZE_MAX)
        findings_writer_sort_budget(w, budget);
    int rc = store_begin(db, &err);
    if (c)
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_inserts, c);
    for (int k = 0; rc == 0 && k < pieces; k++) {
        char piece[32];
        snprintf(piece, sizeof piece, "%s%d", tag, k);
        rc = spool(w, piece, n / pieces + (k == 0 ? n % pieces : 0), &err);
        if (rc == 0)
            rc = findings_flush(w, &err);
    }
    sqlite3_trace_v2(db, 0, NULL, NULL);
    if (rc == 0)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    if (rc != 0)
        print_error("write_run %s: %s\n", run, err.message);
    findings_writer_free(w);
    return rc;
}

/* Every finding has exactly its key in finding_refs and no key is left
 * without its finding; the store is consistent. */
static void assert_refs_whole(sqlite3 *db)
{
    int64_t rows = q_int(db, "SELECT count(*) FROM finding_rows");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), rows);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows f JOIN finding_refs x"
                               " ON x.run = f.run AND x.kind = f.kind"
                               " AND x.record_ref = f.record_ref AND x.id = f.id"),
                     rows);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
}

/* The keys of db as text, by run and kind name, in key order (one of
 * q_text's buffers is too small: malloc'd, the caller frees). */
static char *refs_text(sqlite3 *db)
{
    return q_rows(db, "SELECT r.run_id, k.dataset, k.rule, k.field, x.record_ref, x.id"
                      " FROM finding_refs x JOIN finding_runs r ON r.id = x.run"
                      " JOIN finding_kinds k ON k.id = x.kind"
                      " ORDER BY x.run, x.kind, x.record_ref, x.id");
}

static void test_refs_for_every_finding(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    struct inserts c = {0};
    assert_int_equal(write_run(db, "r1", "a", MANY, 1, SIZE_MAX, &c), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), MANY);
    assert_refs_whole(db);
    /* sorted in C: 64-row statements and one-row ones for the rest, no SQL sort */
    assert_int_equal(c.values, MANY / 64 + MANY % 64);
    assert_int_equal(c.select, 0);
    /* one record's finding found by its key */
    char ref[33];
    store_record_ref(db, "shops", "a0-77", 5, ref);
    assert_int_equal(q_int(db,
                           "SELECT f.row_no FROM finding_refs x JOIN finding_rows f ON f.id = x.id"
                           " WHERE x.run = 1 AND x.kind = 1 AND x.record_ref = '%s'",
                           ref),
                     77);
    /* a second run in three flushes, a small third one, in one flush each */
    assert_int_equal(write_run(db, "r2", "b", MANY, 3, SIZE_MAX, NULL), 0);
    assert_int_equal(write_run(db, "r3", "c", 7, 1, SIZE_MAX, NULL), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 2 * MANY + 7);
    assert_refs_whole(db);
    assert_int_equal(q_int(db, "SELECT count(DISTINCT run) FROM finding_refs"), 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'finding_rows_run'"),
                     0);
    store_close(db);
}

/* The same findings through the view's trigger (one INSERT ... SELECT of
 * the view, the ids given, and rows without ids): the same keys as the
 * writer's sorted ones. */
static void test_sorted_equals_view(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r1", "a", MANY, 2, SIZE_MAX, NULL), 0);
    assert_int_equal(write_run(db, "r2", "b", 300, 1, SIZE_MAX, NULL), 0);
    char *want = refs_text(db);
    store_close(db);

    sqlite3 *other = db_open_at(F.db2);
    exec(other, "ATTACH %Q AS a", F.db);
    exec(other, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref, record_key,"
                " field, value, message, sealed, part) SELECT id, run_id, dataset, rule, row_no,"
                " record_ref, record_key, field, value, message, sealed, part FROM a.findings"
                " WHERE run_id = 'r1' ORDER BY id");
    exec(other, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key,"
                " field, value, message, sealed, part) SELECT run_id, dataset, rule, row_no,"
                " record_ref, record_key, field, value, message, sealed, part FROM a.findings"
                " WHERE run_id = 'r2' ORDER BY id");
    exec(other, "DETACH a");
    char *got = refs_text(other);
    assert_string_equal(got, want);
    assert_refs_whole(other);
    /* and a delete through the view takes the key with the row */
    int64_t id = q_int(other, "SELECT min(id) FROM finding_rows WHERE run = 2");
    exec(other, "DELETE FROM findings WHERE id = %lld", (long long)id);
    assert_int_equal(q_int(other, "SELECT count(*) FROM finding_refs WHERE id = %lld",
                           (long long)id),
                     0);
    assert_int_equal(q_int(other, "SELECT count(*) FROM finding_rows"), MANY + 299);
    assert_refs_whole(other);
    store_close(other);
    free(want);
    free(got);
}

/* No sort buffer (a budget of 0, or one too small for the flush): SQLite
 * sorts the flush's keys, the same keys. */
static void test_fallback_same_keys(void **state)
{
    (void)state;
    char empty[300];
    snprintf(empty, sizeof empty, "%s", test_dir_path("empty.db"));
    store_close(db_open_at(empty));
    copy_store(empty, F.db);
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r1", "a", MANY, 2, SIZE_MAX, NULL), 0);
    char *want = refs_text(db);
    store_close(db);

    size_t budgets[] = {0, 100 * 24};
    for (size_t b = 0; b < 2; b++) {
        copy_store(empty, F.db2);
        sqlite3 *other = db_open_at(F.db2);
        struct inserts c = {0};
        assert_int_equal(write_run(other, "r1", "a", MANY, 2, budgets[b], &c), 0);
        assert_int_equal(c.values, 0);
        assert_int_equal(c.select, 2); /* one a flush */
        char *got = refs_text(other);
        assert_string_equal(got, want);
        assert_refs_whole(other);
        free(got);
        store_close(other);
    }
    free(want);
}

/* A flush that fails — a finding refused, or a key — leaves no key (the
 * run's transaction is rolled back), and the next one goes through. The key
 * refused is the largest of the failing run's own: refs are keyed by each
 * store's random secret, and the largest of all rows was r0's about one
 * time in a hundred (then nothing was refused). */
static void test_failed_flush(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r0", "z", 50, 1, SIZE_MAX, NULL), 0);
    exec(db, "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.finding_rows"
             " WHEN NEW.row_no = 4000 BEGIN SELECT RAISE(ABORT, 'boom'); END");
    assert_int_equal(write_run(db, "r1", "a", MANY, 1, SIZE_MAX, NULL), -1);
    exec(db, "DROP TRIGGER temp.boom");
    exec(db, "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.finding_refs"
             " WHEN NEW.record_ref = (SELECT max(record_ref) FROM main.finding_rows"
             "  WHERE run = NEW.run)"
             " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    assert_int_equal(write_run(db, "r1", "a", MANY, 1, SIZE_MAX, NULL), -1);
    exec(db, "DROP TRIGGER temp.boom");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), 50);
    assert_refs_whole(db);
    assert_int_equal(write_run(db, "r1", "a", MANY, 1, SIZE_MAX, NULL), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), MANY + 50);
    assert_refs_whole(db);
    store_close(db);
}

/* Flushes held (findings_hold_refs, as a compare's): each stores its rows,
 * no key goes in until findings_release_refs writes them all in one sorted
 * write — as many statements as one flush of every finding takes, not one
 * set per flush — the same keys as flushes writing their own; past the sort
 * budget, one SQL copy for all of them; released without writing, none (and
 * the writer goes on as before). */
static void test_held_refs(void **state)
{
    (void)state;
    enum { PIECES = 4 };
    char empty[300];
    snprintf(empty, sizeof empty, "%s", test_dir_path("empty.db"));
    store_close(db_open_at(empty));
    copy_store(empty, F.db);
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r1", "a", MANY, PIECES, SIZE_MAX, NULL), 0);
    char *want = refs_text(db);
    store_close(db);

    size_t budgets[] = {SIZE_MAX, 100 * 24};
    for (size_t b = 0; b < 3; b++) {
        copy_store(empty, F.db2);
        sqlite3 *other = db_open_at(F.db2);
        struct qloop_error err;
        qloop_error_clear(&err);
        assert_int_equal(stage_create(other, &err), 0);
        struct findings_writer *w = findings_writer_new(other, "r1", F.p, &err);
        assert_non_null(w);
        if (b < 2 && budgets[b] != SIZE_MAX)
            findings_writer_sort_budget(w, budgets[b]);
        assert_int_equal(store_begin(other, &err), 0);
        struct inserts c = {0};
        sqlite3_trace_v2(other, SQLITE_TRACE_STMT, count_inserts, &c);
        findings_hold_refs(w);
        for (int k = 0; k < PIECES; k++) {
            char piece[32];
            snprintf(piece, sizeof piece, "a%d", k);
            assert_int_equal(spool(w, piece, MANY / PIECES + (k == 0 ? MANY % PIECES : 0), &err), 0);
            assert_int_equal(findings_flush(w, &err), 0);
            assert_int_equal(q_int(other, "SELECT count(*) FROM finding_refs"), 0);
        }
        assert_int_equal(q_int(other, "SELECT count(*) FROM finding_rows"), MANY);
        assert_int_equal(findings_release_refs(w, b < 2, &err), 0);
        if (b == 0) {
            assert_int_equal(c.values, MANY / 64 + MANY % 64);
            assert_int_equal(c.select, 0);
        } else if (b == 1) {
            assert_int_equal(c.values, 0);
            assert_int_equal(c.select, 1);
        } else {
            assert_int_equal(c.values + c.select, 0);
            assert_int_equal(q_int(other, "SELECT count(*) FROM finding_refs"), 0);
            /* no longer held: a flush writes its own keys again */
            assert_int_equal(spool(w, "z", 10, &err), 0);
            assert_int_equal(findings_flush(w, &err), 0);
            assert_int_equal(q_int(other, "SELECT count(*) FROM finding_refs"), 10);
        }
        sqlite3_trace_v2(other, 0, NULL, NULL);
        assert_int_equal(store_commit(other, &err), 0);
        findings_writer_free(w);
        if (b < 2) {
            char *got = refs_text(other);
            assert_string_equal(got, want);
            assert_refs_whole(other);
            free(got);
        }
        store_close(other);
    }
    free(want);
}

/* What kept_key saw: the keys as refs_text's lines would hold them (kind
 * number, ref, id), and how many digests equal the one of the finding's
 * row as stored. */
struct kept {
    sqlite3 *db;
    struct qloop_buf text;
    int n, digests_equal;
};

/* The evidence digest of finding id's row as stored. */
static uint64_t stored_digest(sqlite3 *db, int64_t id)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT row_no, record_key, value, message, sealed"
                                        " FROM finding_rows WHERE id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    uint64_t d = ticket_evidence_digest_row(st, 0, true);
    sqlite3_finalize(st);
    return d;
}

static int kept_key(void *ctx, int64_t kind, const uint64_t ref[2], int64_t id, uint64_t digest)
{
    struct kept *k = ctx;
    char hex[33];
    qloop_hex128(ref, hex);
    hex[32] = '\0';
    qloop_buf_printf(&k->text, "%lld|%s|%lld\n", (long long)kind, hex, (long long)id);
    k->n++;
    k->digests_equal += digest != 0 && digest == stored_digest(k->db, id);
    return 0;
}

/* The store's keys as kept_key writes them (malloc'd). */
static char *store_keys_text(sqlite3 *db)
{
    return q_rows(db, "SELECT kind, record_ref, id FROM finding_refs ORDER BY run, kind, record_ref, id");
}

/* Keys kept for the ticket phase (findings_keep_refs): one write of keys —
 * one flush, or flushes held and released — hands every key once, in
 * finding_refs' order with its id, and each finding's evidence digest
 * equal to the digest of its row as stored; taken once (a second take, or
 * a take with no callback, hands nothing). A second write of keys, keys
 * sorted by SQL (budget 0), or a writer not asked to keep: nothing handed
 * (1), the tickets read finding_refs. Given away instead (findings_give_refs):
 * the same keys as the writer's own sorted entries, ids as first + at and
 * digests by at, once; after a second write of keys, none (1). */
static void test_kept_keys(void **state)
{
    (void)state;
    enum { PIECES = 3 };
    char empty[300];
    snprintf(empty, sizeof empty, "%s", test_dir_path("empty.db"));
    store_close(db_open_at(empty));
    /* 0: one flush; 1: held flushes; 2: two flushes; 3: budget 0; 4: not kept;
     * 5: one flush, taken without a callback first; 6: one flush, given away;
     * 7: two flushes, given away */
    for (int c = 0; c < 8; c++) {
        copy_store(empty, F.db2);
        sqlite3 *db = db_open_at(F.db2);
        struct qloop_error err;
        qloop_error_clear(&err);
        assert_int_equal(stage_create(db, &err), 0);
        struct findings_writer *w = findings_writer_new(db, "r1", F.p, &err);
        assert_non_null(w);
        if (c == 3)
            findings_writer_sort_budget(w, 0);
        if (c != 4)
            findings_keep_refs(w);
        assert_int_equal(store_begin(db, &err), 0);
        if (c == 1)
            findings_hold_refs(w);
        int flushes = c == 1 ? PIECES : c == 2 || c == 7 ? 2 : 1;
        for (int k = 0; k < flushes; k++) {
            char piece[32];
            snprintf(piece, sizeof piece, "a%d", k);
            assert_int_equal(spool(w, piece, MANY / flushes, &err), 0);
            assert_int_equal(findings_flush(w, &err), 0);
        }
        if (c == 1)
            assert_int_equal(findings_release_refs(w, true, &err), 0);
        assert_int_equal(store_commit(db, &err), 0);
        int n = (int)q_int(db, "SELECT count(*) FROM finding_refs");
        assert_int_equal(n, MANY / flushes * flushes);
        struct kept k = {.db = db};
        if (c >= 6) {
            struct ticket_keys keys;
            assert_int_equal(findings_give_refs(w, &keys), c == 6 ? 0 : 1);
            for (size_t i = 0; i < keys.n; i++)
                kept_key(&k, keys.v[i].kind, keys.v[i].ref, keys.first + keys.v[i].at,
                         keys.digest[keys.v[i].at]);
            assert_int_equal(k.n, c == 6 ? n : 0);
            assert_int_equal(k.digests_equal, k.n);
            if (c == 6) {
                char *want = store_keys_text(db);
                assert_string_equal(qloop_buf_str(&k.text), want);
                free(want);
            }
            free(keys.v);
            free(keys.digest);
            assert_int_equal(findings_give_refs(w, &keys), 1); /* given once */
            assert_int_equal(keys.n, 0);
            assert_null(keys.v);
            qloop_buf_free(&k.text);
            findings_writer_free(w);
            store_close(db);
            continue;
        }
        if (c == 5)
            assert_int_equal(findings_take_refs(w, NULL, NULL), 1);
        int rc = findings_take_refs(w, kept_key, &k);
        if (c <= 1) {
            assert_int_equal(rc, 0);
            assert_int_equal(k.n, n);
            assert_int_equal(k.digests_equal, n);
            char *want = store_keys_text(db);
            assert_string_equal(qloop_buf_str(&k.text), want);
            free(want);
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(k.n, 0);
        }
        /* taken once */
        int before = k.n;
        assert_int_equal(findings_take_refs(w, kept_key, &k), 1);
        assert_int_equal(k.n, before);
        qloop_buf_free(&k.text);
        findings_writer_free(w);
        store_close(db);
    }
}

/* Each finding encoded carries the digest of its evidence as stored:
 * findings_encoded_digest of its bytes equals the digest of its row read
 * back after the flush, for findings whose key and value are masked and
 * sealed, shown as they are, absent, of the dataset, and of a part. */
static void test_digest_encoded(void **state)
{
    (void)state;
    static const char rules[] =
        "dataset \"people\" { key = \"pid\", sensitive = { \"pid\", \"phone\" } }\n"
        "dataset \"shops\" { key = \"code\" }\n"
        "rule \"people.phone\" { field = \"phone\", pattern = \"^1\", message = \"号码错误\" }\n"
        "rule \"shops.name\" { field = \"name\", not_null = true, message = \"店名为空\" }\n";
    char path[300];
    snprintf(path, sizeof path, "%s", test_dir_path("digest.lua"));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(rules, fp);
    fclose(fp);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct pack *p = pack_new();
    assert_int_equal(pack_load_path(p, path, &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(stage_create(db, &err), 0);
    struct findings_writer *w = findings_writer_new(db, "r1", p, &err);
    assert_non_null(w);
    const uint64_t offsets[2] = {0, 3};
    struct qloop_finding f[] = {
        {.dataset = "people", .rule = "people.phone", .row_no = 1, .key = "110101199001011234",
         .keylen = 18, .field = "phone", .value = "23800138000", .vlen = 11},
        {.dataset = "shops", .rule = "shops.name", .row_no = 2, .key = "S1", .keylen = 2,
         .field = "name", .value = "", .vlen = 0},
        {.dataset = "shops", .rule = "shops.name", .row_no = 3, .key = "S2", .keylen = 2,
         .field = "name"},
        {.dataset = "shops", .rule = "shops.name", .message = "数据集过期"},
        {.dataset = "people", .rule = "people.phone", .row_no = 5, .key = "P5", .keylen = 2,
         .field = "phone", .value = "0", .vlen = 1},
    };
    enum { N = sizeof f / sizeof f[0] };
    struct findings_encoder *e = findings_encoder_new(w);
    struct qloop_buf one = {0};
    uint64_t digest[N], none;
    for (int i = 0; i < N; i++) {
        if (i == N - 1) /* the last as a partitioned run's: "2/2" */
            findings_writer_parts(w, "people", 2, offsets);
        uint32_t kind = findings_kind(w, f[i].dataset, f[i].rule, f[i].field);
        qloop_buf_reset(&one);
        findings_encode(e, kind, &f[i], NULL, &one);
        assert_true(findings_encoded_digest(one.ptr, one.len, &digest[i]));
        assert_false(findings_encoded_digest(one.ptr, one.len - 1, &none));
        assert_int_equal(findings_append(w, one.ptr, one.len, &err), 0);
    }
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(findings_flush(w, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    /* sealed, shown as it is, no value, of the dataset, of a part: as stored */
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows WHERE sealed IS NOT NULL"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows WHERE value IS NULL"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows WHERE part = '2/2'"), 1);
    /* the dataset-level finding's record_key is '' (the ticket_items view
     * shows NULL): digest 0, as the row's; every other one not 0 */
    for (int i = 0; i < N; i++) {
        assert_true((digest[i] != 0) == (i != 3));
        assert_true(digest[i] == stored_digest(db, i + 1));
    }
    qloop_buf_free(&one);
    findings_encoder_free(e);
    findings_writer_free(w);
    store_close(db);
    pack_free(p);
}

/* Pruning deletes the old runs' keys with their rows, and counts the rows. */
static void test_prune(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    const char *runs[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++) {
        exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules)"
                 " VALUES(%Q, '2026-11-2%dT00:00:00+08:00', '2026-11-2%dT00:00:00+08:00', 'done', '[]')",
             runs[i], i, i);
        assert_int_equal(write_run(db, runs[i], runs[i], 1000 + i, 1, SIZE_MAX, NULL), 0);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    long long deleted = 0;
    assert_int_equal(store_prune_findings(db, 1, &deleted, &err), 0);
    assert_int_equal(deleted, 1000 + 1001);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 1002);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs WHERE run <>"
                               " (SELECT id FROM finding_runs WHERE run_id = 'r3')"),
                     0);
    assert_refs_whole(db);
    /* a later run's keys go in beside the pruned ones' places */
    assert_int_equal(write_run(db, "r4", "r1", 1000, 1, SIZE_MAX, NULL), 0);
    assert_refs_whole(db);
    store_close(db);
}

/* A store at step 13 (its keys in finding_rows_run) upgraded: every key
 * moved into finding_refs, the index gone, the view's triggers writing
 * and deleting keys. */
static void test_upgrade_from_step13(void **state)
{
    (void)state;
    sqlite3 *db = db_open_at(F.db);
    assert_int_equal(write_run(db, "r1", "a", MANY, 1, SIZE_MAX, NULL), 0);
    assert_int_equal(write_run(db, "r2", "b", 40, 1, SIZE_MAX, NULL), 0);
    char *want = refs_text(db);
    store_rewind_to_step13(db);
    /* a finding written at step 13, through the old trigger: no key yet */
    exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field)"
             " VALUES('r3', 'shops', 'shops.code', 1, 'ffff', 'code')");
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'finding_refs'"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'finding_rows_run'"),
                     1);
    store_close(db);

    db = db_open_at(F.db);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'finding_rows_run'"),
                     0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), MANY + 41);
    assert_refs_whole(db);
    exec(db, "DELETE FROM findings WHERE run_id = 'r3'");
    char *got = refs_text(db);
    assert_string_equal(got, want);
    exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field)"
             " VALUES('r3', 'shops', 'shops.code', 1, 'ffff', 'code')");
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs WHERE record_ref = 'ffff'"), 1);
    assert_refs_whole(db);
    /* the writer goes on after the upgraded keys */
    assert_int_equal(write_run(db, "r4", "d", 100, 1, SIZE_MAX, NULL), 0);
    assert_refs_whole(db);
    store_close(db);
    free(want);
    free(got);
}

/* The query plan of sql: never a scan of a findings table (by its name or
 * the aliases the loop gives it, f and x); when it reads finding_refs, by
 * its primary key; the walk by run in key order without a sort. */
static void assert_plan(sqlite3 *db, const char *sql)
{
    char *eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, eqp, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", eqp, sqlite3_errmsg(db));
    bool by_key = false, sorts = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        if (strncmp(d, "SCAN ", 5) == 0) {
            size_t len = strcspn(d + 5, " ");
            static const char *const tables[] = {"f", "x", "finding_rows", "finding_refs"};
            for (size_t i = 0; i < 4; i++)
                if (len == strlen(tables[i]) && strncmp(d + 5, tables[i], len) == 0)
                    fail_msg("%s: %s", sql, d);
        }
        by_key |= strstr(d, "USING PRIMARY KEY") != NULL;
        sorts |= strstr(d, "TEMP B-TREE") != NULL;
    }
    sqlite3_finalize(st);
    sqlite3_free(eqp);
    if (strstr(sql, "finding_refs") && !by_key)
        fail_msg("finding_refs not searched by its key: %s", sql);
    if (strstr(sql, "ORDER BY f.kind, f.record_ref, f.id") && sorts)
        fail_msg("sorted: %s", sql);
}

static void test_loop_plans(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct sql_traced t; /* the ticket loop's statements over the findings */
    sql_trace_start(db, &t, "finding_refs", "finding_rows");
    struct qloop_policy p = ningbo();
    /* new items; one failing again and one fixed; one back after it was fixed */
    phone_run(db, "r1", "2024-09-27T10:00:00+08:00", "P2 P3", "P2 P3", &p);
    phone_run(db, "r2", "2024-09-28T02:00:00+08:00", "P3", "P2 P3", &p);
    phone_run(db, "r3", "2024-09-29T02:00:00+08:00", "P2 P3 P4", "P2 P3 P4", &p);
    sql_trace_stop(db);
    int refs = 0;
    for (int i = 0; i < t.n; i++) {
        refs += strstr(t.sql[i], "finding_refs") != NULL;
        assert_plan(db, t.sql[i]);
    }
    sql_trace_free(&t);
    assert_true(refs >= 4); /* the loop did read the keys */
    assert_refs_whole(db);
    store_close(db);
}

static int key_order(const void *a, const void *b)
{
    const struct findings_ref_entry *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->ref[0] != y->ref[0])
        return x->ref[0] < y->ref[0] ? -1 : 1;
    if (x->ref[1] != y->ref[1])
        return x->ref[1] < y->ref[1] ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* n entries in arrival order (at = 0, 1, ...), of kinds from `kinds`
 * (kind_step apart), refs made by `shape`: 0 random, 1 all in one top-bits
 * bucket (the top 20 bits equal), 2 one of 7 values (equal refs, also
 * across kinds). Sorted by findings_refs_sort and by qsort: the same. */
static void check_sort(size_t n, uint32_t kinds, uint32_t kind_step, int shape, uint64_t seed)
{
    struct findings_ref_entry *v = calloc(n + 1, sizeof *v), *w = calloc(n + 1, sizeof *w);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t r0 = rnd(&s), r1 = rnd(&s);
        if (shape == 1)
            r0 = (0xABCDEull << 44) | (r0 >> 20);
        else if (shape == 2)
            r0 = r1 = (rnd(&s) % 7) << 60;
        v[i] = (struct findings_ref_entry){{r0, r1}, 1 + (uint32_t)(rnd(&s) % kinds) * kind_step,
                                           (uint32_t)i};
    }
    memcpy(w, v, n * sizeof *v);
    findings_refs_sort(v, n);
    qsort(w, n, sizeof *w, key_order);
    assert_memory_equal(v, w, n * sizeof *v);
    free(v);
    free(w);
}

static void test_sort_as_qsort(void **state)
{
    (void)state;
    check_sort(0, 1, 1, 0, 1);
    check_sort(1, 1, 1, 0, 2);
    check_sort(2, 2, 1, 0, 3);
    check_sort(100, 1, 1, 0, 4);
    check_sort(50000, 9, 1, 0, 5);
    check_sort(50000, 3, 1000, 0, 6);
    check_sort(20000, 4, 1, 1, 7);
    check_sort(20000, 4, 1, 2, 8);
    check_sort(5000, 5, 100000, 0, 9); /* kinds 400,000 apart: qsort */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refs_for_every_finding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sorted_equals_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_same_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_encoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_step13, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_plans, setup, teardown),
        cmocka_unit_test(test_sort_as_qsort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
