/*
 * test_ticket_refresh.c — the refresh of the open items a run finds failing
 * again (loop/ticket_refresh.c) leaves the items exactly as the one
 * statement it replaces did, except that an item already equal to its
 * finding is not written at all (its last_run kept): the first finding of
 * each record across the kinds (fields) of its rule, records found twice,
 * items of other rules, datasets and states, NULL keys and messages kept
 * from the item, and refs that are not hex text (the statement then
 * matches them). Every item found failing again, written or not, is named
 * in TK_REFRESHED — but on a steady night (every judged item failing
 * again) only those whose evidence digest differs from their finding's.
 * The run's keys handed from memory (ticket_seen keys, with the findings'
 * evidence digests) serve as those read back from finding_refs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_helpers.h"

#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* The statement of before (ticket_sync.c, W1 night 2 at 1M: 1.5 s). */
#define FIRST(cols)                                                                             \
    "(SELECT " cols " FROM finding_refs x CROSS JOIN finding_rows f ON f.id = x.id"             \
    " WHERE x.run = (SELECT id FROM finding_runs"                                              \
    " WHERE run_id = ?1) AND x.kind IN (SELECT k.id FROM finding_kinds k"                      \
    " WHERE k.dataset = ticket_items.dataset AND k.rule = ticket_items.rule)"                  \
    " AND x.record_ref = ticket_items.record_ref ORDER BY x.id LIMIT 1)"
static const char reference_sql[] =
    "UPDATE ticket_items SET (last_run, row_no, record_key, value, message, sealed) = "
    FIRST("?1, f.row_no, coalesce(f.record_key, ticket_items.record_key), f.value,"
          " coalesce(f.message, ticket_items.message), f.sealed")
    " WHERE state = 'open' AND EXISTS " FIRST("1");

/* An earlier night that found a third of the open records as run ?1 finds
 * them: their items hold their finding's evidence already (last_run kept). */
static const char prior_sql[] =
    "UPDATE ticket_items SET (row_no, record_key, value, message, sealed) = "
    FIRST("f.row_no, coalesce(f.record_key, ticket_items.record_key), f.value,"
          " coalesce(f.message, ticket_items.message), f.sealed")
    " WHERE state = 'open' AND id % 3 = 0 AND EXISTS " FIRST("1");

/* Whether item b (before) and ticket_items hold the same evidence. */
#define SAME_EVIDENCE                                                                           \
    "b.row_no IS ticket_items.row_no AND b.record_key IS ticket_items.record_key"               \
    " AND b.value IS ticket_items.value AND b.message IS ticket_items.message"                  \
    " AND b.sealed IS ticket_items.sealed"

/* The refresh as it should be, by the statement of before: each open item
 * with a finding of run, from its first finding — but an item whose
 * evidence that did not change keeps its row as it was (last_run too).
 * Returns the ids of the items it changed ("1,5,..."; malloc'd). */
static char *reference_refresh(sqlite3 *db, const char *run)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    exec(db, "DROP TABLE IF EXISTS temp.before;"
             " CREATE TEMP TABLE before AS SELECT * FROM ticket_items");
    assert_int_equal(sql_exec_texts(db, reference_sql, "ref", &err, 1, &run), 0);
    exec(db, "UPDATE ticket_items SET last_run = (SELECT b.last_run FROM temp.before b"
             " WHERE b.id = ticket_items.id) WHERE EXISTS (SELECT 1 FROM temp.before b"
             " WHERE b.id = ticket_items.id AND " SAME_EVIDENCE ")");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT coalesce(group_concat(id), '') FROM (SELECT id"
                                        " FROM ticket_items WHERE NOT EXISTS (SELECT 1 FROM"
                                        " temp.before b WHERE b.id = ticket_items.id AND "
                                        SAME_EVIDENCE ") ORDER BY id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *ids = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    exec(db, "DROP TABLE temp.before");
    return ids;
}

/* Logs each write of an item's row into temp.writes. */
static void log_writes(sqlite3 *db)
{
    exec(db, "CREATE TEMP TABLE writes(id INTEGER);"
             " CREATE TEMP TRIGGER log_writes AFTER UPDATE ON main.ticket_item_rows"
             " BEGIN INSERT INTO writes VALUES(new.id); END");
}

/* The ids of the items written since log_writes ("1,5,..."; malloc'd). */
static char *written(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT coalesce(group_concat(id), '') FROM"
                                        " (SELECT id FROM temp.writes ORDER BY id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *ids = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return ids;
}

/* A hex ref from n (32 lower-case digits, ordered unlike n). */
static void ref_of(unsigned n, char out[33])
{
    snprintf(out, 33, "%08x%08x%08x%08x", (n * 2654435761u) ^ 0x5bd1e995u, n, ~n, n * 7u);
}

/* A store with two tickets of items and two runs of findings; hex: whether
 * every ref is hex. */
static sqlite3 *make_store(bool hex)
{
    sqlite3 *db = db_open();
    exec(db, "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at,"
             " opened_by) VALUES(1, 'pop', 'pop.a', 'run', 'd', 'feedback', 'p', 't', 's'),"
             " (2, 'pop', 'pop.b', 'run', 'd', 'feedback', 'p', 't', 's'),"
             " (3, 'other', 'pop.a', 'run', 'd', 'feedback', 'p', 't', 's')");
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, dimension, severity, checked, failed,"
             " errors) VALUES('r2', 'pop.a', 'pop', 'd', 's', 1, 1, 0),"
             " ('r2', 'pop.b', 'pop', 'd', 's', 1, 1, 0), ('r2', 'pop.c', 'pop', 'd', 's', 1, 0, 0)");
    /* judged, of no finding kind: open ones (a few already of run r2, as
     * after an earlier sync of it) and missing ones */
    for (unsigned i = 0; i < 12; i++)
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at,"
                 " last_run) VALUES(2, 'pop', 'pop.c', 'c%u', %Q, 't', %Q)",
             i, i % 4 == 3 ? "missing" : "open", i % 3 == 0 ? "r2" : "r1");
    char ref[33];
    int64_t fid = 1;
    for (unsigned i = 0; i < 300; i++) {
        ref_of(i, ref);
        if (!hex && i == 150)
            strcpy(ref, "NOT-A-REF");
        const char *rule = i % 3 == 2 ? "pop.b" : "pop.a";
        const char *state = i % 17 == 0 ? "missing" : i % 19 == 0 ? "fixed" : "open";
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, record_key, field,"
                 " value, message, row_no, state, added_at, added_run, last_run, sealed)"
                 " VALUES(%d, 'pop', %Q, %Q, 'old-key', 'f', 'old', 'old message', %u, %Q, 't',"
                 " 'r1', %Q, x'00')",
             i % 3 == 2 ? 2 : 1, rule, ref, i, state, i % 23 == 0 ? "r2" : "r1");
        if (i % 5 == 0) /* the same record in another dataset: not its finding */
            exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state,"
                     " added_at) VALUES(3, 'other', 'pop.a', %Q, 'open', 't')",
                 ref);
        /* run r2's findings: most records, some three times (under two fields),
         * ids descending */
        for (int k = 0; k < (i % 7 == 0 ? 0 : i % 4 == 0 ? 3 : 1); k++) {
            const char *field = k == 1 ? "g" : "f";
            exec(db, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref,"
                     " record_key, field, value, message, sealed) VALUES(%lld, 'r2', 'pop', %Q,"
                     " %u, %Q, %Q, %Q, %Q, %Q, x'%02x%02x')",
                 (long long)(1000 - fid), rule, 1000 + i * 3 + (unsigned)k, ref,
                 i % 11 == 0 ? NULL : "new-key", field, k == 2 ? "later" : "new",
                 i % 13 == 0 ? NULL : "new message", i & 0xff, k);
            fid++;
        }
        /* another run's finding of the record: not this run's */
        if (i % 9 == 0)
            exec(db, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref, field,"
                     " value) VALUES(%lld, 'r0', 'pop', %Q, 1, %Q, 'f', 'r0')",
                 (long long)(5000 + i), rule, ref);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    const char *run = "r2";
    assert_int_equal(sql_exec_texts(db, prior_sql, "prior", &err, 1, &run), 0);
    return db;
}

/* The items as text, one line each (malloc'd). */
static char *items_text(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(line, char(10)) FROM (SELECT id || '|'"
                                        " || quote(record_key) || '|' || quote(value) || '|'"
                                        " || quote(message) || '|' || quote(row_no) || '|'"
                                        " || quote(last_run) || '|' || quote(sealed) || '|'"
                                        " || state AS line FROM ticket_items ORDER BY id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *s = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return s;
}

/* The open items with a finding of run r2, as a condition on item i. */
#define HAS_FINDING                                                                             \
    "EXISTS (SELECT 1 FROM findings g WHERE g.run_id = 'r2' AND g.dataset = i.dataset"          \
    " AND g.rule = i.rule AND g.record_ref = i.record_ref)"

/* The judged items per ticket by SQL, "ticket:judged:failing ...": failing,
 * the open ones with a finding or written by r2 already. */
static const char judged_sql[] =
    "SELECT group_concat(t, ' ') FROM (SELECT i.ticket_id || ':' || count(*) || ':'"
    " || sum(i.state = 'open' AND (i.last_run IS 'r2' OR " HAS_FINDING ")) AS t"
    " FROM ticket_items i"
    " CROSS JOIN rule_results r ON r.run_id = 'r2' AND r.rule = i.rule"
    " AND r.dataset = i.dataset WHERE i.state IN ('open','missing')"
    " GROUP BY i.ticket_id ORDER BY i.ticket_id)";

/* j as judged_sql writes it (malloc'd). */
static char *judged_text(const struct tk_judged_set *j)
{
    char *s = calloc(1, 64 * (j->n + 1));
    for (size_t i = 0; i < j->n; i++)
        sprintf(s + strlen(s), "%s%lld:%ld:%ld", i ? " " : "", (long long)j->v[i].ticket,
                j->v[i].judged, j->v[i].failing);
    return s;
}

/* The first column of sql's one row (malloc'd, "" for NULL). */
static char *q_text_dup(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    char *s = strdup(t ? t : "");
    sqlite3_finalize(st);
    return s;
}

/* blob: one item's ref stored as a blob of its text (the statement finds
 * no finding equal to it). */
static void check_same(bool hex, bool blob)
{
    sqlite3 *want = make_store(hex), *got = make_store(hex);
    char one[33];
    ref_of(1, one);
    if (blob)
        for (int k = 0; k < 2; k++)
            exec(k ? got : want, "UPDATE ticket_items SET record_ref = CAST(record_ref AS BLOB)"
                                 " WHERE dataset = 'pop' AND record_ref = %Q",
                 one);
    const char *run = "r2";
    struct qloop_error err;
    qloop_error_clear(&err);
    char *changed = reference_refresh(want, run);
    log_writes(got);
    bool all_found = true;
    struct tk_judged_set judged;
    assert_int_equal(tk_refresh_failing(got, run, NULL, &all_found, &judged, &err), 0);
    /* only the items whose evidence changed were written */
    char *wrote = written(got);
    assert_string_equal(wrote, changed);
    free(wrote);
    free(changed);
    /* TK_REFRESHED names every open item with a finding (written or not),
     * each with the first finding of its record */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(got,
                                        "SELECT (SELECT count(*) FROM " TK_REFRESHED "),"
                                        " (SELECT count(*) FROM ticket_items i WHERE"
                                        "  i.state = 'open' AND " HAS_FINDING "),"
                                        " (SELECT count(*) FROM " TK_REFRESHED " m JOIN"
                                        "  ticket_items i ON i.id = m.item WHERE i.state = 'open'"
                                        "  AND m.finding = (SELECT min(g.id) FROM findings g"
                                        "  WHERE g.run_id = 'r2' AND g.dataset = i.dataset"
                                        "  AND g.rule = i.rule AND g.record_ref = i.record_ref))",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
    assert_int_equal(sqlite3_column_int(st, 0), sqlite3_column_int(st, 2));
    assert_true(sqlite3_column_int(st, 0) > 200);
    sqlite3_finalize(st);
    assert_false(all_found); /* findings of missing items and of none */
    /* the judged items per ticket as ticket_sync.c counted them before, when
     * the merge could count them */
    assert_int_equal(judged.known, hex && !blob);
    if (judged.known) {
        char *counts = judged_text(&judged);
        char *want_counts = q_text_dup(got, judged_sql);
        assert_string_equal(counts, want_counts);
        assert_true(judged.n == 2);
        free(counts);
        free(want_counts);
    }
    free(judged.v);
    char *a = items_text(want), *b = items_text(got);
    assert_non_null(a);
    assert_string_equal(a, b);
    /* the case is not empty: items refreshed, others left, keys kept */
    assert_true(q_int(got, "SELECT count(*) FROM ticket_items WHERE last_run = 'r2'") > 120);
    assert_true(q_int(got, "SELECT count(*) FROM ticket_items WHERE last_run = 'r1'") > 20);
    /* items of the earlier night, equal to their findings: left as they were */
    assert_true(q_int(got, "SELECT count(*) FROM ticket_items i WHERE i.state = 'open'"
                           " AND i.last_run = 'r1' AND " HAS_FINDING) > 50);
    assert_true(q_int(got, "SELECT count(*) FROM ticket_items WHERE last_run = 'r2'"
                           " AND record_key = 'old-key'") > 5);
    /* ids run against the order written: the third finding of a record is its first */
    assert_true(q_int(got, "SELECT count(*) FROM ticket_items WHERE value = 'later'") > 20);
    assert_int_equal(q_int(got, "SELECT count(*) FROM ticket_items WHERE dataset = 'other'"
                                " AND last_run IS NOT NULL"), 0);
    free(a);
    free(b);
    store_close(want);
    store_close(got);
}

static void test_same_as_statement(void **state)
{
    (void)state;
    check_same(true, false);
}

static void test_ref_not_hex(void **state)
{
    (void)state;
    check_same(false, false);
    check_same(true, true);
}

/* A run without findings changes nothing. */
static void test_no_findings(void **state)
{
    (void)state;
    sqlite3 *db = make_store(true);
    char *before = items_text(db);
    struct qloop_error err;
    qloop_error_clear(&err);
    bool all_found = false;
    assert_int_equal(tk_refresh_failing(db, "r9", NULL, &all_found, NULL, &err), 0);
    assert_true(all_found); /* none to find */
    char *after = items_text(db);
    assert_string_equal(before, after);
    free(before);
    free(after);
    store_close(db);
}

/* Whether every finding of the run is of an open item: not when one is of
 * a missing item, or of a record with no item, or of another rule. */
static void test_all_found(void **state)
{
    (void)state;
    struct qloop_error err;
    qloop_error_clear(&err);
    sqlite3 *db = db_open();
    exec(db, "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at,"
             " opened_by) VALUES(1, 'pop', 'pop.a', 'run', 'd', 'feedback', 'p', 't', 's')");
    char ref[33];
    for (unsigned i = 0; i < 40; i++) {
        ref_of(i, ref);
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, state, added_at)"
                 " VALUES(1, 'pop', 'pop.a', %Q, %Q, 't')",
             ref, i == 39 ? "missing" : "open");
        if (i < 39 && i % 2 == 0)
            exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field)"
                     " VALUES('r2', 'pop', 'pop.a', %u, %Q, 'f')", i, ref);
    }
    bool all_found = false;
    assert_int_equal(tk_refresh_failing(db, "r2", NULL, &all_found, NULL, &err), 0);
    assert_true(all_found);
    const char *other[][3] = {{"pop.a", "39", "missing item"}, {"pop.a", "77", "no item"},
                              {"pop.b", "2", "another rule"}};
    for (size_t k = 0; k < 3; k++) {
        exec(db, "DELETE FROM findings WHERE run_id = 'r3'");
        exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field)"
                 " SELECT 'r3', dataset, rule, 1, record_ref, 'f' FROM findings WHERE run_id = 'r2'");
        ref_of((unsigned)atoi(other[k][1]), ref);
        exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field)"
                 " VALUES('r3', 'pop', %Q, 9, %Q, 'f')", other[k][0], ref);
        all_found = true;
        assert_int_equal(tk_refresh_failing(db, "r3", NULL, &all_found, NULL, &err), 0);
        if (all_found)
            fail_msg("all found despite a finding of a %s", other[k][2]);
    }
    store_close(db);
}

/* A second refresh on the same connection while another statement is
 * being read (its temporary table of matches is there already, emptied)
 * does what the first did. */
static void test_again_while_reading(void **state)
{
    (void)state;
    sqlite3 *want = make_store(true), *got = make_store(true);
    const char *run = "r2";
    struct qloop_error err;
    qloop_error_clear(&err);
    free(reference_refresh(want, run));
    bool all_found;
    assert_int_equal(tk_refresh_failing(got, run, NULL, &all_found, NULL, &err), 0);
    exec(got, "UPDATE ticket_items SET value = 'stale' WHERE value IN ('new', 'later')"
              " AND last_run = 'r2'");
    sqlite3_stmt *reading;
    assert_int_equal(sqlite3_prepare_v2(got, "SELECT id FROM tickets", -1, &reading, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(reading), SQLITE_ROW);
    assert_int_equal(tk_refresh_failing(got, run, NULL, &all_found, NULL, &err), 0);
    sqlite3_finalize(reading);
    char *a = items_text(want), *b = items_text(got);
    assert_string_equal(a, b);
    free(a);
    free(b);
    store_close(want);
    store_close(got);
}

/* The run's finding keys as the run hands them (ticket_seen keys): read
 * here once, in finding_refs' order, each with its finding's evidence
 * digest. */
struct handed {
    struct handed_key {
        int64_t kind, id;
        uint64_t ref[2], digest;
    } *v;
    size_t n;
    int calls;
};

static void handed_read(sqlite3 *db, const char *run, struct handed *h)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT x.kind, x.record_ref, x.id, f.row_no, f.record_key,"
                                        " f.value, f.message, f.sealed FROM finding_refs x"
                                        " JOIN finding_rows f ON f.id = x.id WHERE x.run ="
                                        " (SELECT id FROM finding_runs WHERE run_id = ?1)"
                                        " ORDER BY x.kind, x.record_ref, x.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    *h = (struct handed){0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->v = realloc(h->v, (h->n + 1) * sizeof *h->v);
        struct handed_key *k = &h->v[h->n++];
        k->kind = sqlite3_column_int64(st, 0);
        assert_true(qloop_unhex128((const char *)sqlite3_column_text(st, 1), k->ref));
        k->id = sqlite3_column_int64(st, 2);
        k->digest = ticket_evidence_digest_row(st, 3, true);
    }
    sqlite3_finalize(st);
    assert_true(h->n > 200);
}

static int handed_keys(void *ctx, ticket_key_fn each, void *each_ctx)
{
    struct handed *h = ctx;
    h->calls++;
    int rc = 0;
    for (size_t i = 0; each && rc == 0 && i < h->n; i++)
        rc = each(each_ctx, h->v[i].kind, h->v[i].ref, h->v[i].id, h->v[i].digest);
    return each ? rc : 1;
}

static bool never_seen(void *ctx, const char *dataset, const char *ref)
{
    (void)ctx;
    (void)dataset;
    (void)ref;
    return false;
}

/* Open items whose first finding of run r2 may differ from them: evidence
 * not equal, or a NULL key or message (the store compares those). */
static const char differing_sql[] =
    "SELECT count(*) FROM ticket_items i JOIN finding_rows f ON f.id = (SELECT min(g.id)"
    " FROM findings g WHERE g.run_id = 'r2' AND g.dataset = i.dataset AND g.rule = i.rule"
    " AND g.record_ref = i.record_ref) WHERE i.state = 'open' AND (f.record_key IS NULL"
    " OR f.message IS NULL OR i.row_no IS NOT f.row_no OR i.record_key IS NOT f.record_key"
    " OR i.value IS NOT f.value OR i.message IS NOT f.message OR i.sealed IS NOT f.sealed)";

/* The keys handed by the run (finding_refs emptied first, so nothing can be
 * read back) refresh the items exactly as the statement; with steady (every
 * judged item failing again: the others deleted first) only the matched
 * items that may differ go into TK_REFRESHED, else every matched one. */
static void check_handed(bool steady)
{
    sqlite3 *want = make_store(true), *got = make_store(true);
    const char *run = "r2";
    if (steady)
        for (int k = 0; k < 2; k++)
            exec(k ? got : want,
                 "DELETE FROM ticket_items WHERE id IN (SELECT i.id FROM ticket_items i"
                 " CROSS JOIN rule_results r ON r.run_id = 'r2' AND r.rule = i.rule"
                 " AND r.dataset = i.dataset WHERE i.state IN ('open','missing')"
                 " AND NOT (i.state = 'open' AND (i.last_run IS 'r2' OR " HAS_FINDING ")))");
    struct handed h;
    /* the run keys the digests with the store's secret before its
     * findings are digested (run_open_results) */
    ticket_evidence_digest_key(store_secret(got));
    handed_read(got, run, &h);
    int64_t matched = q_int(got, "SELECT count(*) FROM ticket_items i WHERE i.state = 'open'"
                                 " AND " HAS_FINDING);
    int64_t differing = q_int(got, "%s", differing_sql);
    assert_true(differing > 20 && differing < matched - 50);
    exec(got, "DELETE FROM finding_refs");
    struct qloop_error err;
    qloop_error_clear(&err);
    char *changed = reference_refresh(want, run);
    log_writes(got);
    struct ticket_seen seen = {.seen = never_seen, .ctx = &h, .keys = handed_keys};
    bool all_found = true;
    struct tk_judged_set judged;
    assert_int_equal(tk_refresh_failing(got, run, &seen, &all_found, &judged, &err), 0);
    assert_int_equal(h.calls, 1);
    char *wrote = written(got);
    assert_string_equal(wrote, changed);
    assert_true(strlen(wrote) > 0);
    char *a = items_text(want), *b = items_text(got);
    assert_string_equal(a, b);
    assert_true(judged.known);
    bool all_failing = true;
    for (size_t t = 0; t < judged.n; t++)
        all_failing = all_failing && judged.v[t].judged == judged.v[t].failing;
    assert_int_equal(all_failing, steady);
    assert_int_equal(q_int(got, "SELECT count(*) FROM " TK_REFRESHED),
                     steady ? differing : matched);
    free(judged.v);
    free(wrote);
    free(changed);
    free(a);
    free(b);
    free(h.v);
    store_close(want);
    store_close(got);
}

static void test_keys_handed(void **state)
{
    (void)state;
    check_handed(false);
}

static void test_steady_differing_only(void **state)
{
    (void)state;
    check_handed(true);
}

/* Many items in three rules, half of them with refs alike in their first
 * 20 bits (one crowded bucket of the sort), the rest spread: each open item
 * with a finding gets its first one (the sort put every item where the
 * merge looks for it). */
static void test_many_items_sorted(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const char *rules[] = {"pop.a", "pop.b", "pop.c"};
    for (int t = 0; t < 3; t++)
        exec(db, "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at,"
                 " opened_by) VALUES(%d, 'pop', %Q, 'run', 'd', 'feedback', 'p', 't', 's')",
             t + 1, rules[t]);
    exec(db, "BEGIN");
    char ref[33];
    for (unsigned i = 0; i < 3000; i++) {
        if (i % 2)
            snprintf(ref, sizeof ref, "abcde%03x%08x%08x%08x", i % 7, i * 2654435761u, i, ~i);
        else
            ref_of(i, ref);
        const char *rule = rules[i % 3];
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, value, state,"
                 " added_at) VALUES(%u, 'pop', %Q, %Q, 'old', 'open', 't')",
             i % 3 + 1, rule, ref);
        if (i % 5 != 0)
            exec(db, "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, field, value)"
                     " VALUES('r2', 'pop', %Q, %u, %Q, 'f', 'new')", rule, i + 1, ref);
    }
    exec(db, "COMMIT");
    struct qloop_error err;
    qloop_error_clear(&err);
    bool all_found = false;
    assert_int_equal(tk_refresh_failing(db, "r2", NULL, &all_found, NULL, &err), 0);
    assert_true(all_found);
    assert_int_equal(q_int(db, "SELECT count(*) FROM " TK_REFRESHED " m JOIN ticket_items i"
                               " ON i.id = m.item WHERE m.finding = (SELECT min(g.id) FROM"
                               " findings g WHERE g.run_id = 'r2' AND g.dataset = i.dataset"
                               " AND g.rule = i.rule AND g.record_ref = i.record_ref)"),
                     2400);
    assert_int_equal(q_int(db, "SELECT count(*) FROM " TK_REFRESHED), 2400);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE value = 'new'"), 2400);
    store_close(db);
}

/* The evidence digest: equal evidence, equal digests; a type, a length, a
 * byte or a column's place changed: another; a finding with a NULL key or
 * message has none (0), an item with one has one. */
static void test_evidence_digest(void **state)
{
    (void)state;
    struct ticket_cell c[TICKET_EVIDENCE] = {
        {.type = SQLITE_INTEGER, .i = 7},
        {.type = SQLITE_TEXT, .p = "k1", .len = 2},
        {.type = SQLITE_TEXT, .p = "value", .len = 5},
        {.type = SQLITE_TEXT, .p = "message", .len = 7},
        {.type = SQLITE_BLOB, .p = "\x01\x02\x03\x04\x05\x06\x07\x08\x09", .len = 9}};
    uint64_t base = ticket_evidence_digest(c, true);
    assert_true(base != 0);
    assert_true(ticket_evidence_digest(c, false) == base);
    struct ticket_cell d[TICKET_EVIDENCE];
    for (int change = 0; change < 7; change++) {
        memcpy(d, c, sizeof d);
        switch (change) {
        case 0: d[0].i = 8; break;
        case 1: d[0] = (struct ticket_cell){.type = SQLITE_TEXT, .p = "7", .len = 1}; break;
        case 2: d[2].len = 4; break;
        case 3: d[4].type = SQLITE_TEXT; break;
        case 4: d[4].p = "\x01\x02\x03\x04\x05\x06\x07\x08\x0a"; break;
        case 5: d[0] = (struct ticket_cell){.type = SQLITE_NULL}; break;
        default: d[1] = c[2]; d[2] = c[1]; break;
        }
        assert_true(ticket_evidence_digest(d, true) != base);
    }
    memcpy(d, c, sizeof d);
    d[1] = (struct ticket_cell){.type = SQLITE_NULL};
    assert_true(ticket_evidence_digest(d, true) == 0);
    assert_true(ticket_evidence_digest(d, false) != 0);
    memcpy(d, c, sizeof d);
    d[3] = (struct ticket_cell){.type = SQLITE_NULL};
    assert_true(ticket_evidence_digest(d, true) == 0);
}

/* The digest takes each text's bytes in whole pairs of words, then a word,
 * then a short last word: for every length 0..40 of the value and 0..24 of
 * the message (every way the pairs, the held word and the tail fall), the
 * same bytes elsewhere in memory give the same digest, and a change of any
 * one byte, or of a length by one, gives another. */
static void test_evidence_digest_lengths(void **state)
{
    (void)state;
    unsigned char a[48], b[48 + 3], m[32], m2[32 + 5];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (unsigned char)(i * 37 + 5);
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (unsigned char)(i * 11 + 200);
    for (size_t vl = 0; vl <= 40; vl++)
        for (size_t ml = 0; ml <= 24; ml++) {
            struct ticket_cell c[TICKET_EVIDENCE] = {
                {.type = SQLITE_INTEGER, .i = 42},
                {.type = SQLITE_TEXT, .p = "key", .len = 3},
                {.type = SQLITE_TEXT, .p = a, .len = vl},
                {.type = SQLITE_TEXT, .p = m, .len = ml},
                {.type = SQLITE_BLOB, .p = a + 1, .len = 17}};
            uint64_t base = ticket_evidence_digest(c, false);
            memcpy(b + 3, a, vl); /* elsewhere, unaligned */
            memcpy(m2 + 5, m, ml);
            struct ticket_cell d[TICKET_EVIDENCE];
            memcpy(d, c, sizeof d);
            d[2].p = b + 3;
            d[3].p = m2 + 5;
            assert_true(ticket_evidence_digest(d, false) == base);
            for (size_t at = 0; at < vl; at++) {
                b[3 + at] ^= 0x40;
                assert_true(ticket_evidence_digest(d, false) != base);
                b[3 + at] ^= 0x40;
            }
            for (size_t at = 0; at < ml; at++) {
                m2[5 + at] ^= 0x01;
                assert_true(ticket_evidence_digest(d, false) != base);
                m2[5 + at] ^= 0x01;
            }
            if (vl) {
                d[2].len = vl - 1;
                assert_true(ticket_evidence_digest(d, false) != base);
            }
        }
}

/* A row's cells read column by column (sqlite3_column_type, _int64, _text,
 * _blob, _bytes) and ticket_evidence_digest of them: what
 * ticket_evidence_digest_row gives. */
static uint64_t digest_by_columns(sqlite3_stmt *st, int col, bool finding)
{
    struct ticket_cell c[TICKET_EVIDENCE];
    for (int i = 0; i < TICKET_EVIDENCE; i++) {
        int at = col + i;
        c[i] = (struct ticket_cell){.type = sqlite3_column_type(st, at)};
        if (c[i].type == SQLITE_INTEGER) {
            c[i].i = sqlite3_column_int64(st, at);
        } else if (c[i].type == SQLITE_TEXT) {
            c[i].p = sqlite3_column_text(st, at);
            c[i].len = (size_t)sqlite3_column_bytes(st, at);
        } else if (c[i].type == SQLITE_BLOB) {
            c[i].p = sqlite3_column_blob(st, at);
            c[i].len = (size_t)sqlite3_column_bytes(st, at);
        }
    }
    return ticket_evidence_digest(c, finding);
}

/* The digest of a stored row (the refresh's item scan) is that of its
 * cells read column by column, for every type a column may hold (NULL,
 * integer, real, text with a NUL inside or empty, blob or empty blob), as
 * an item's and as a finding's; rows that differ in one cell differ. */
static void test_evidence_digest_row(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE t(pad, a, b, c, d, e);"
                                  "INSERT INTO t VALUES(0, 7, 'k1', 'v', 'msg', x'0102');"
                                  "INSERT INTO t VALUES(0, NULL, 'k1', NULL, 'msg', NULL);"
                                  "INSERT INTO t VALUES(0, 2.5, '', x'', 'msg', '');"
                                  "INSERT INTO t VALUES(0, 7, 'k1', 'v' || char(0) || 'w', 'msg', x'0102');"
                                  "INSERT INTO t VALUES(0, 7, NULL, 'v', 'msg', x'0102');"
                                  "INSERT INTO t VALUES(0, -9223372036854775808, 'k2', 'v', '长一些的消息"
                                  "，过一个字', zeroblob(70));"
                                  "INSERT INTO t VALUES(0, 7, 'k1', 'v', 'msg', x'0103');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM t ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
    uint64_t seen[8];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int finding = 0; finding < 2; finding++) {
            uint64_t d = ticket_evidence_digest_row(st, 1, finding);
            assert_true(d == digest_by_columns(st, 1, finding));
            if (!finding)
                seen[n] = d;
        }
        for (size_t i = 0; i < n; i++)
            assert_true(seen[i] != seen[n]);
        n++;
    }
    assert_int_equal(n, 7);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The page cache's memory now, in bytes. */
static int cache_used(sqlite3 *db)
{
    int cur = 0, high = 0;
    assert_int_equal(sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &cur, &high, 0), SQLITE_OK);
    return cur;
}

/* While the refresh reads the open items (and merges them with the run's
 * keys) the page cache is held to tk_refresh_cache_kib, and set back after:
 * a cache full of the items' pages before is not full after (the run has no
 * findings: nothing reads the items again), and its size is the one it
 * had. Without the small cache the scan leaves the items' pages in it. */
static void test_cache_small_while_loading(void **state)
{
    (void)state;
    char path[256];
    temp_store_path(path, sizeof path, "refcache");
    sqlite3 *db = db_open_at(path);
    exec(db, "PRAGMA main.cache_size=-65536");
    exec(db, "INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at,"
             " opened_by) VALUES(1, 'pop', 'pop.a', 'run', 'd', 'feedback', 'p', 't', 's')");
    exec(db, "INSERT INTO rule_results(run_id, rule, dataset, dimension, severity, checked, failed,"
             " errors) VALUES('r2', 'pop.a', 'pop', 'd', 's', 1, 1, 0)");
    exec(db, "BEGIN");
    char ref[33];
    for (unsigned i = 0; i < 3000; i++) { /* ~6 MiB of items */
        ref_of(i, ref);
        exec(db, "INSERT INTO ticket_items(ticket_id, dataset, rule, record_ref, value, state,"
                 " added_at) VALUES(1, 'pop', 'pop.a', %Q, printf('%%.2000c', 'v'), 'open', 't')",
             ref);
    }
    exec(db, "COMMIT");
    assert_int_equal(q_int(db, "SELECT sum(length(value)) > 0 FROM ticket_items"), 1);
    assert_true(cache_used(db) > 4 << 20); /* the items' pages are in the cache */
    int was = tk_refresh_cache_kib;
    tk_refresh_cache_kib = 512;
    struct qloop_error err;
    qloop_error_clear(&err);
    bool all_found = false;
    assert_int_equal(tk_refresh_failing(db, "r2", NULL, &all_found, NULL, &err), 0);
    tk_refresh_cache_kib = was;
    assert_true(all_found);
    assert_int_equal(q_int(db, "PRAGMA main.cache_size"), -65536);
    assert_true(cache_used(db) < 2 << 20);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items WHERE last_run IS NULL"), 3000);
    store_close(db);
    remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_statement),
        cmocka_unit_test(test_ref_not_hex),
        cmocka_unit_test(test_no_findings),
        cmocka_unit_test(test_all_found),
        cmocka_unit_test(test_again_while_reading),
        cmocka_unit_test(test_keys_handed),
        cmocka_unit_test(test_steady_differing_only),
        cmocka_unit_test(test_evidence_digest),
        cmocka_unit_test(test_evidence_digest_lengths),
        cmocka_unit_test(test_evidence_digest_row),
        cmocka_unit_test(test_many_items_sorted),
        cmocka_unit_test(test_cache_small_while_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
