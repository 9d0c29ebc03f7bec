/*
 * test_ticket_named.c — a ticket item names its finding (store step 17):
 * the `ticket_items` view shows every item's evidence (row_no, record_key,
 * value, message, sealed) exactly as the item held it before the step,
 * whether the item names a finding (opened by a run, or re-pointed by a
 * night's refresh), holds its evidence itself (filed by a report, written
 * by the re-check, written through the view, materialised by pruning), or
 * came through the upgrade; pruning the named finding's run leaves the item
 * showing what it showed; the upgrade from step 16 keeps every column of
 * every item.
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
#include "ticket_helpers.h"

#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/schema.h"
#include "store/store.h"

/* ticket_evidence_digest of test_digest_key_of_store's cells under the
 * all-zero secret's key. */
#define DIGEST_ZERO_SECRET UINT64_C(0xafe6ef1263999e36)

/* One finding of a simulated run: key, value, message (NULL: NULL) and
 * sealed (hex; NULL: NULL). */
struct fnd {
    const char *key, *value, *message, *sealed_hex;
};

/* A run of rule people.phone on dataset people at as_of: the findings fs
 * (n), the keys present (space-separated), written but not synced. */
static void stage_findings(sqlite3 *db, const char *run, const char *as_of, const struct fnd *fs,
                           int n, const char *present)
{
    set_now(as_of);
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q,"
             " 'running', '[]')",
         run, as_of, as_of);
    exec(db,
         "INSERT INTO run_datasets(run_id, dataset, rows, owner, sensitive, key_fields)"
         " VALUES(%Q, 'people', 10, '市公安局', '[\"phone\",\"address\"]', '[\"id\"]')",
         run);
    exec(db,
         "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
         " checked, failed, errors, resolve_missing) VALUES(%Q, 'people.phone', 'people',"
         " 'phone', 'normative', 'medium', '手机号格式错误', 10, %d, 0, 0)",
         run, n);
    for (int i = 0; i < n; i++) {
        char ref[33];
        store_record_ref(db, "people", fs[i].key, strlen(fs[i].key), ref);
        char *sealed = fs[i].sealed_hex ? sqlite3_mprintf("x'%s'", fs[i].sealed_hex)
                                        : sqlite3_mprintf("NULL");
        exec(db,
             "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message, sealed) VALUES(%Q, 'people', 'people.phone', %d, %Q, %Q, 'phone',"
             " %Q, %Q, %s)",
             run, i + 2, ref, fs[i].key, fs[i].value, fs[i].message, sealed);
        sqlite3_free(sealed);
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", present);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        char ref[33];
        store_record_ref(db, "people", t, strlen(t), ref);
        exec(db, "INSERT OR IGNORE INTO run_seen(run_id, dataset, record_ref) VALUES(%Q,"
                 " 'people', %Q)",
             run, ref);
    }
}

/* stage_findings, then synced and committed. */
static void run_findings(sqlite3 *db, const char *run, const char *as_of, const struct fnd *fs,
                         int n, const char *present)
{
    stage_findings(db, run, as_of, fs, n, present);
    struct qloop_policy p = ningbo();
    sync_committed(db, run, &p);
    exec(db, "UPDATE runs SET status = 'done' WHERE id = %Q", run);
}

/* The latest item of people's record key: its evidence through the view
 * ("row|key|field|value|message|sealed", quoted). */
static const char *shown(sqlite3 *db, const char *key)
{
    char ref[33];
    store_record_ref(db, "people", key, strlen(key), ref);
    return q_text(db,
                  "SELECT quote(row_no) || '|' || quote(record_key) || '|' || quote(field) || '|'"
                  " || quote(value) || '|' || quote(message) || '|' || quote(sealed) || '|' ||"
                  " state || '|' || coalesce(last_run, '-') FROM ticket_items"
                  " WHERE record_ref = %Q ORDER BY id DESC LIMIT 1",
                  ref);
}

/* The run of the finding the latest item of key names ('-': none), and
 * whether its own evidence columns are all NULL ("own" / "none"). */
static const char *named(sqlite3 *db, const char *key)
{
    char ref[33];
    store_record_ref(db, "people", key, strlen(key), ref);
    return q_text(db,
                  "SELECT coalesce((SELECT r.run_id FROM finding_rows f JOIN finding_runs r"
                  " ON r.id = f.run WHERE f.id = i.finding), '-') || '/' ||"
                  " CASE WHEN coalesce(i.row_no, i.record_key, i.value, i.message, i.sealed)"
                  " IS NULL THEN 'none' ELSE 'own' END FROM ticket_item_rows i"
                  " WHERE i.record_ref = %Q ORDER BY i.id DESC LIMIT 1",
                  ref);
}

/* Every item keeps the digest it should (store step 17's digest): an item
 * naming a finding the digest of its evidence as the view shows it, under
 * the store's key; an item holding its own evidence none. */
static void check_kept_digests(sqlite3 *db)
{
    ticket_evidence_digest_key(store_secret(db));
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT v.row_no, v.record_key, v.value, v.message,"
                                            " v.sealed, i.finding IS NULL, i.digest IS NULL,"
                                            " i.digest FROM ticket_item_rows i"
                                            " JOIN ticket_items v ON v.id = i.id ORDER BY i.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        if (sqlite3_column_int(st, 5)) {
            assert_int_equal(sqlite3_column_int(st, 6), 1);
            continue;
        }
        assert_int_equal(sqlite3_column_int(st, 6), 0);
        assert_true((uint64_t)sqlite3_column_int64(st, 7) ==
                    ticket_evidence_digest_row(st, 0, false));
    }
    sqlite3_finalize(st);
    assert_true(rows > 0);
}

/* A run's items name their findings and show exactly what the first
 * night's copy held: '' keys and messages as NULL, an empty sealed copy
 * as NULL, the rest as the finding has it. */
static void test_run_items_name_findings(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "手机号格式错误", "01ff"},
                             {"P3", "", "", ""},
                             {"P4", NULL, NULL, NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 3, "P2 P3 P4");
    assert_string_equal(shown(db, "P2"), "2|'P2'|'phone'|'139'|'手机号格式错误'|X'01FF'|open|r1");
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|''|NULL|NULL|open|r1");
    assert_string_equal(shown(db, "P4"), "4|'P4'|'phone'|NULL|NULL|NULL|open|r1");
    assert_string_equal(named(db, "P2"), "r1/none");
    assert_string_equal(named(db, "P3"), "r1/none");
    assert_string_equal(named(db, "P4"), "r1/none");
    /* the detail the CLI shows reads the same */
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_items i JOIN findings f"
                               " ON f.record_ref = i.record_ref AND f.run_id = 'r1'"
                               " WHERE i.row_no IS f.row_no AND i.value IS f.value"
                               " AND i.record_key IS nullif(f.record_key, '')"
                               " AND i.message IS nullif(f.message, '')"),
                     3);
    check_kept_digests(db);
    audit_whole(db);
    store_close(db);
}

/* Items filed by a report hold their evidence themselves. */
static void test_filed_items_hold_evidence(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_policy p = ningbo();
    int64_t tid = file_only(db, "residents", "R9", &p);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE ticket_id = %lld"
                               " AND finding IS NULL AND message = '号码错误'",
                           (long long)tid),
                     1);
    assert_string_equal(q_text(db, "SELECT field || '|' || message FROM ticket_items"
                                   " WHERE ticket_id = %lld",
                               (long long)tid),
                        "phone|号码错误");
    store_close(db);
}

/* A night's refresh re-points an item whose finding changed to the new
 * finding (last_run the night); an unchanged item keeps naming the first;
 * a finding whose NULL key or message keeps the item's, or whose message
 * is '', is written into the item's own columns. */
static void test_refresh_repoints(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", NULL},
                             {"P3", "150", "m1", NULL},
                             {"P4", "160", "m1", NULL},
                             {"P5", "170", "m1", NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 4, "P2 P3 P4 P5");
    const struct fnd r2[] = {{"P2", "138", "m1", NULL},
                             {"P3", "150", "m1", NULL},
                             {"P4", "161", NULL, NULL},
                             {"P5", "171", "", "00"}};
    run_findings(db, "r2", "2024-09-28T02:00:00+08:00", r2, 4, "P2 P3 P4 P5");
    assert_string_equal(shown(db, "P2"), "2|'P2'|'phone'|'138'|'m1'|NULL|open|r2");
    assert_string_equal(named(db, "P2"), "r2/none");
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'150'|'m1'|NULL|open|r1");
    assert_string_equal(named(db, "P3"), "r1/none");
    /* the item's message kept over the finding's NULL one */
    assert_string_equal(shown(db, "P4"), "4|'P4'|'phone'|'161'|'m1'|NULL|open|r2");
    assert_string_equal(named(db, "P4"), "-/own");
    /* '' written as it is, as the item's copy was */
    assert_string_equal(shown(db, "P5"), "5|'P5'|'phone'|'171'|''|X'00'|open|r2");
    assert_string_equal(named(db, "P5"), "-/own");
    /* a third night: P4 (holding its own) changes again and names r3's */
    const struct fnd r3[] = {{"P2", "138", "m1", NULL},
                             {"P3", "150", "m1", NULL},
                             {"P4", "162", "m1", NULL},
                             {"P5", "171", "", "00"}};
    run_findings(db, "r3", "2024-09-29T02:00:00+08:00", r3, 4, "P2 P3 P4 P5");
    assert_string_equal(shown(db, "P4"), "4|'P4'|'phone'|'162'|'m1'|NULL|open|r3");
    assert_string_equal(named(db, "P4"), "r3/none");
    assert_string_equal(named(db, "P5"), "-/own");
    check_kept_digests(db);
    audit_whole(db);
    store_close(db);
}

/* The refresh reads the named findings of items without a kept digest
 * (named before it was kept) by ranges of ids: items naming findings far
 * apart (more than a range's gap), one naming a finding that is gone from
 * the tables (the view shows NULLs), each compared as the view shows it:
 * the unchanged left alone, the changed re-pointed. */
static void test_refresh_reads_named_apart(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", NULL},
                             {"P3", "150", "", "01"},
                             {"P4", "160", "m1", NULL},
                             {"P5", "170", "m1", NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 4, "P2 P3 P4 P5");
    exec(db, "UPDATE ticket_item_rows SET digest = NULL");
    /* P3's finding moved far past the others, P4's deleted */
    char ref3[33];
    store_record_ref(db, "people", "P3", 2, ref3);
    int64_t f3 = q_int(db, "SELECT finding FROM ticket_item_rows WHERE record_ref = %Q", ref3);
    exec(db, "UPDATE finding_rows SET id = 100000 WHERE id = %lld;"
             "UPDATE finding_refs SET id = 100000 WHERE id = %lld;"
             "UPDATE ticket_item_rows SET finding = 100000 WHERE finding = %lld",
         (long long)f3, (long long)f3, (long long)f3);
    char ref4[33];
    store_record_ref(db, "people", "P4", 2, ref4);
    exec(db, "DELETE FROM finding_refs WHERE record_ref = %Q;"
             "DELETE FROM finding_rows WHERE record_ref = %Q",
         ref4, ref4);
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'150'|NULL|X'01'|open|r1");
    assert_string_equal(shown(db, "P4"), "NULL|NULL|'phone'|NULL|NULL|NULL|open|r1");
    const struct fnd r2[] = {{"P2", "139", "m1", NULL},
                             {"P3", "150", "", "01"},
                             {"P4", "160", "m1", NULL},
                             {"P5", "171", "m1", NULL}};
    run_findings(db, "r2", "2024-09-28T02:00:00+08:00", r2, 4, "P2 P3 P4 P5");
    assert_string_equal(named(db, "P2"), "r1/none");
    /* P3: '' against the item's NULL message differs (as before step 17) */
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'150'|''|X'01'|open|r2");
    assert_string_equal(named(db, "P3"), "-/own");
    assert_string_equal(shown(db, "P4"), "4|'P4'|'phone'|'160'|'m1'|NULL|open|r2");
    assert_string_equal(named(db, "P4"), "r2/none");
    assert_string_equal(shown(db, "P5"), "5|'P5'|'phone'|'171'|'m1'|NULL|open|r2");
    assert_string_equal(named(db, "P5"), "r2/none");
    /* a third night the same: nothing written */
    run_findings(db, "r3", "2024-09-29T02:00:00+08:00", r2, 4, "P2 P3 P4 P5");
    assert_string_equal(named(db, "P2"), "r1/none");
    assert_string_equal(shown(db, "P4"), "4|'P4'|'phone'|'160'|'m1'|NULL|open|r2");
    audit_whole(db);
    store_close(db);
}

/* Run r2's finding keys as the run hands them to the tickets (struct
 * ticket_seen's keys): in finding_refs' order, each with its evidence
 * digest (as the findings writer makes it). */
static int handed_keys(void *ctx, ticket_key_fn each, void *each_ctx)
{
    sqlite3 *db = ctx;
    if (!each)
        return 1;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT x.kind, x.record_ref, x.id, f.row_no, f.record_key,"
                                        " f.value, f.message, f.sealed FROM finding_refs x"
                                        " JOIN finding_rows f ON f.id = x.id WHERE x.run ="
                                        " (SELECT id FROM finding_runs WHERE run_id = 'r2')"
                                        " ORDER BY x.kind, x.record_ref, x.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t ref[2];
        assert_true(qloop_unhex128((const char *)sqlite3_column_text(st, 1), ref));
        rc = each(each_ctx, sqlite3_column_int64(st, 0), ref, sqlite3_column_int64(st, 2),
                  ticket_evidence_digest_row(st, 3, true));
    }
    sqlite3_finalize(st);
    return rc;
}

static bool none_seen(void *ctx, const char *dataset, const char *ref)
{
    (void)ctx;
    (void)dataset;
    (void)ref;
    return false;
}

/* A steady night compares an item naming a finding by the digest the item
 * keeps, without reading the finding: the named finding's row changed
 * behind the item's back (the view shows 'zzz'), the run's finding equal
 * to the kept digest's evidence, and the item is left alone — it would be
 * re-pointed had the finding been read. An item whose kept digest differs
 * is compared exactly (the same: not written). */
static void test_refresh_reads_kept_digest(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", NULL}, {"P3", "150", "m1", "01"}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 2, "P2 P3");
    check_kept_digests(db);
    char ref3[33];
    store_record_ref(db, "people", "P3", 2, ref3);
    exec(db, "UPDATE finding_rows SET value = 'zzz' WHERE record_ref = %Q", ref3);
    int64_t kept2 = q_int(db, "SELECT digest FROM ticket_item_rows WHERE record_ref <> %Q", ref3);
    exec(db, "UPDATE ticket_item_rows SET digest = 1 WHERE record_ref <> %Q", ref3);
    stage_findings(db, "r2", "2024-09-28T02:00:00+08:00", r1, 2, "P2 P3");
    struct ticket_seen seen = {.seen = none_seen, .ctx = db, .keys = handed_keys};
    struct qloop_error err;
    qloop_error_clear(&err);
    bool all_found = false;
    struct tk_judged_set judged;
    assert_int_equal(tk_refresh_failing(db, "r2", &seen, &all_found, &judged, &err), 0);
    assert_true(all_found);
    assert_true(judged.known);
    free(judged.v);
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'zzz'|'m1'|X'01'|open|r1");
    assert_string_equal(named(db, "P3"), "r1/none");
    assert_string_equal(shown(db, "P2"), "2|'P2'|'phone'|'139'|'m1'|NULL|open|r1");
    assert_int_equal(q_int(db, "SELECT digest FROM ticket_item_rows WHERE record_ref <> %Q", ref3),
                     1);
    /* the run's finding of P3 changed: re-pointed, with its digest */
    exec(db, "UPDATE finding_rows SET value = '151' WHERE record_ref = %Q AND run ="
             " (SELECT id FROM finding_runs WHERE run_id = 'r2')",
         ref3);
    assert_int_equal(tk_refresh_failing(db, "r2", &seen, &all_found, &judged, &err), 0);
    free(judged.v);
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'151'|'m1'|X'01'|open|r2");
    assert_string_equal(named(db, "P3"), "r2/none");
    exec(db, "UPDATE ticket_item_rows SET digest = %lld WHERE record_ref <> %Q", (long long)kept2,
         ref3);
    check_kept_digests(db);
    store_close(db);
}

/* The digest's key is the store's: the same secret gives the same digests
 * in any process (a fixed value for a fixed secret), another secret
 * others. */
static void test_digest_key_of_store(void **state)
{
    (void)state;
    struct ticket_cell c[TICKET_EVIDENCE] = {
        {.type = SQLITE_INTEGER, .i = 7},
        {.type = SQLITE_TEXT, .p = "K1", .len = 2},
        {.type = SQLITE_TEXT, .p = "13900000000", .len = 11},
        {.type = SQLITE_TEXT, .p = "手机号格式错误", .len = strlen("手机号格式错误")},
        {.type = SQLITE_BLOB, .p = "\x01\x02\x03", .len = 3}};
    unsigned char zero[32] = {0}, one[32] = {1};
    ticket_evidence_digest_key(zero);
    uint64_t a = ticket_evidence_digest(c, false);
    ticket_evidence_digest_key(one);
    uint64_t b = ticket_evidence_digest(c, false);
    ticket_evidence_digest_key(zero);
    assert_true(ticket_evidence_digest(c, false) == a);
    assert_true(a != b);
    assert_true(a == DIGEST_ZERO_SECRET);
    /* two connections of one store key alike */
    char path[64];
    temp_store_path(path, sizeof path, "dkey");
    sqlite3 *db = db_open_at(path);
    unsigned char secret[32];
    memcpy(secret, store_secret(db), sizeof secret);
    store_close(db);
    ticket_evidence_digest_key(secret);
    uint64_t first = ticket_evidence_digest(c, false);
    ticket_evidence_digest_key(zero);
    db = db_open_at(path);
    ticket_evidence_digest_key(store_secret(db));
    assert_true(ticket_evidence_digest(c, false) == first);
    assert_true(first != a);
    store_close(db);
    remove_store(path);
}

/* A run's finding keys as the findings writer gives them away (struct
 * ticket_seen's give), for run `run`, each digest XORed with `flip` where
 * it is not 0 (to tell a digest taken from the run from one made again). */
struct run_keys {
    sqlite3 *db;
    const char *run;
    uint64_t flip;
};

static int given_run_keys(void *ctx, struct ticket_keys *out)
{
    const struct run_keys *k = ctx;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(k->db,
                                        "SELECT x.kind, x.record_ref, x.id, f.row_no, f.record_key,"
                                        " f.value, f.message, f.sealed,"
                                        " min(x.id) OVER (), count(*) OVER () FROM finding_refs x"
                                        " JOIN finding_rows f ON f.id = x.id WHERE x.run ="
                                        " (SELECT id FROM finding_runs WHERE run_id = ?1)"
                                        " ORDER BY x.kind, x.record_ref, x.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, k->run, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!out->v) { /* the run's ids are first .. first + n - 1 */
            out->first = sqlite3_column_int64(st, 8);
            size_t n = (size_t)sqlite3_column_int64(st, 9);
            out->v = calloc(n, sizeof *out->v);
            out->digest = calloc(n, sizeof *out->digest);
        }
        struct ticket_key *e = &out->v[out->n++];
        assert_true(qloop_unhex128((const char *)sqlite3_column_text(st, 1), e->ref));
        e->kind = (uint32_t)sqlite3_column_int64(st, 0);
        e->at = (uint32_t)(sqlite3_column_int64(st, 2) - out->first);
        uint64_t d = ticket_evidence_digest_row(st, 3, true);
        out->digest[e->at] = d ? d ^ k->flip : 0;
    }
    sqlite3_finalize(st);
    return 0;
}

/* A finding's digest is 0 (the store compares) wherever the view shows
 * something else than the finding holds or holds NULL: '' key or message,
 * an empty sealed copy, a NULL key or message; elsewhere it is the digest
 * of the same evidence as an item's. */
static void test_finding_digest_zero(void **state)
{
    (void)state;
    struct ticket_cell c[TICKET_EVIDENCE] = {
        {.type = SQLITE_INTEGER, .i = 7},
        {.type = SQLITE_TEXT, .p = "K1", .len = 2},
        {.type = SQLITE_TEXT, .p = "139", .len = 3},
        {.type = SQLITE_TEXT, .p = "m", .len = 1},
        {.type = SQLITE_BLOB, .p = "\x01", .len = 1}};
    uint64_t d = ticket_evidence_digest(c, true);
    assert_true(d != 0 && d == ticket_evidence_digest(c, false));
    c[4] = (struct ticket_cell){.type = SQLITE_NULL};
    assert_true(ticket_evidence_digest(c, true) == ticket_evidence_digest(c, false));
    c[2] = (struct ticket_cell){.type = SQLITE_TEXT, .p = "", .len = 0}; /* '' value: shown */
    assert_true(ticket_evidence_digest(c, true) != 0);
    for (int col = 1; col <= 4; col++) {
        struct ticket_cell keep = c[col];
        c[col] = (struct ticket_cell){.type = SQLITE_TEXT, .p = "", .len = 0};
        if (col != 2)
            assert_true(ticket_evidence_digest(c, true) == 0);
        if (col == 4) {
            c[col] = (struct ticket_cell){.type = SQLITE_BLOB, .p = "", .len = 0};
            assert_true(ticket_evidence_digest(c, true) == 0);
        }
        if (col == 1 || col == 3) {
            c[col] = (struct ticket_cell){.type = SQLITE_NULL};
            assert_true(ticket_evidence_digest(c, true) == 0);
        }
        c[col] = keep;
    }
}

/* A first night's items keep the digests the run made of their findings
 * (handed with the keys) instead of digesting the findings again: equal
 * to the view's evidence digest for each (check_kept_digests), and taken
 * as given (a digest flipped on the way is kept flipped); a finding whose
 * digest the run could not give (0: '' or NULL key or message, empty
 * sealed copy) is digested by the INSERT as before. */
static void test_first_night_takes_run_digests(void **state)
{
    (void)state;
    const struct fnd r1[] = {{"P2", "139", "手机号格式错误", "01ff"},
                             {"P3", "", "", ""},
                             {"P4", NULL, NULL, NULL},
                             {"P5", "150", "m", NULL},
                             {"P6", "151", "m", ""}};
    for (int flip = 0; flip < 2; flip++) {
        sqlite3 *db = db_open();
        stage_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 5, "P2 P3 P4 P5 P6");
        ticket_evidence_digest_key(store_secret(db)); /* as a run does before digesting */
        struct run_keys k = {db, "r1", flip ? UINT64_C(0x5a5a) : 0};
        struct ticket_seen seen = {.seen = none_seen, .ctx = &k, .give = given_run_keys};
        struct qloop_error err;
        qloop_error_clear(&err);
        struct ticket_sync_counts c;
        assert_int_equal(store_begin(db, &err), 0);
        assert_int_equal(ticket_sync_run_seen(db, "r1", NULL, &seen, &c, &err), 0);
        assert_int_equal(store_commit(db, &err), 0);
        assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE digest IS NOT NULL"),
                         5);
        if (!flip) {
            check_kept_digests(db);
        } else {
            /* P2 and P5 took the run's (flipped) digests; P3, P4, P6 were made */
            ticket_evidence_digest_key(store_secret(db));
            sqlite3_stmt *st;
            assert_int_equal(sqlite3_prepare_v2(db,
                                                "SELECT v.row_no, v.record_key, v.value,"
                                                " v.message, v.sealed, i.digest, v.record_key"
                                                " FROM ticket_item_rows i JOIN ticket_items v"
                                                " ON v.id = i.id ORDER BY i.id",
                                                -1, &st, NULL),
                             SQLITE_OK);
            int flipped = 0;
            while (sqlite3_step(st) == SQLITE_ROW) {
                uint64_t kept = (uint64_t)sqlite3_column_int64(st, 5);
                uint64_t made = ticket_evidence_digest_row(st, 0, false);
                const char *key = (const char *)sqlite3_column_text(st, 6);
                bool from_run = key && (strcmp(key, "P2") == 0 || strcmp(key, "P5") == 0);
                assert_true(kept == (from_run ? made ^ UINT64_C(0x5a5a) : made));
                flipped += from_run;
            }
            sqlite3_finalize(st);
            assert_int_equal(flipped, 2);
        }
        store_close(db);
    }
}

/* TK_IDS_SQL: the elements of a bound struct tk_ids, in order, reopened
 * and digest NULL for 0, record_ref and field the texts given in order
 * (field "" as NULL; both NULL when not given); no rows without the array
 * bound (NULL, or
 * anything not bound by tk_ids_bind); registering it twice changes
 * nothing; not usable from the schema (a view of the store's). */
static void test_ids_table(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(tk_ids_sql(db, &err), 0);
    assert_int_equal(tk_ids_sql(db, &err), 0);
    const int64_t finding[] = {30, 10, 20};
    const int64_t reopened[] = {0, 7, 0};
    const uint64_t digest[] = {5, 0, UINT64_MAX};
    static const char refs[] = "r30\0r10\0r20", fields[] = "phone\0\0x";
    struct tk_ids list = {finding, reopened, digest, refs, fields, 3};
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(finding || ':' || quote(reopened)"
                                        " || ':' || quote(digest) || ':' || quote(record_ref)"
                                        " || ':' || quote(field), ' ') FROM " TK_IDS_SQL "(?1)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(tk_ids_bind(st, 1, &list), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "30:NULL:5:'r30':'phone' 10:7:NULL:'r10':NULL 20:NULL:-1:'r20':'x'");
    sqlite3_reset(st);
    list.digest = NULL;
    list.refs = list.fields = NULL;
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "30:NULL:NULL:NULL:NULL 10:7:NULL:NULL:NULL 20:NULL:NULL:NULL:NULL");
    sqlite3_reset(st);
    sqlite3_bind_null(st, 1);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_null(sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    sqlite3_bind_pointer(st, 1, &list, "another", NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_null(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "CREATE VIEW ids_v AS SELECT * FROM " TK_IDS_SQL "(NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM ids_v", NULL, NULL, NULL), SQLITE_OK);
    store_close(db);
}

/* Deleting a finding through the `findings` view gives the items naming it
 * its evidence first: they show the same, name none, keep no digest. */
static void test_view_delete_materialises(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", "01ff"}, {"P3", "", "", ""}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 2, "P2 P3");
    char *before = all_items(db);
    char ref2[33], ref3[33];
    store_record_ref(db, "people", "P2", 2, ref2);
    store_record_ref(db, "people", "P3", 2, ref3);
    exec(db, "DELETE FROM findings WHERE record_ref IN (%Q, %Q)", ref2, ref3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_rows"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM finding_refs"), 0);
    char *after = all_items(db);
    assert_string_equal(after, before);
    assert_string_equal(named(db, "P2"), "-/own");
    assert_string_equal(named(db, "P3"), "-/own");
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|''|NULL|NULL|open|r1");
    check_kept_digests(db);
    free(before);
    free(after);
    store_close(db);
}

/* tk_named_digests on every item of db (finding as stored), each digest
 * checked against the view's evidence of the item; every finding set back
 * to 0. */
static void check_named_digests(sqlite3 *db)
{
    int64_t n = q_int(db, "SELECT count(*) FROM ticket_item_rows");
    struct tk_open_item *items = calloc((size_t)n, sizeof *items);
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, coalesce(finding, 0) FROM ticket_item_rows"
                                            " ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        ids[i] = sqlite3_column_int64(st, 0);
        items[i].finding = sqlite3_column_int64(st, 1);
        items[i].digest = 7; /* kept where the item names no finding */
    }
    sqlite3_finalize(st);
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(tk_named_digests(db, items, (size_t)n, &err), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT row_no, record_key, value, message, sealed,"
                                            " (SELECT finding FROM ticket_item_rows r"
                                            "  WHERE r.id = ?1) IS NULL"
                                            " FROM ticket_items WHERE id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int64_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(items[i].finding, 0);
        if (sqlite3_column_int(st, 5))
            assert_int_equal(items[i].digest, 7);
        else
            assert_true(items[i].digest == ticket_evidence_digest_row(st, 0, false));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    free(items);
    free(ids);
}

/* The named findings' digests (ticket_named.c) equal the view's evidence:
 * in the order items are added (a few ascending runs, merged), in an order
 * of more runs than are merged (sorted), with findings far apart, gone,
 * and with '' and empty sealed copies read as NULL. */
static void test_named_digests(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct fnd r1[70];
    char keys[70][8], values[70][8];
    for (int i = 0; i < 70; i++) {
        snprintf(keys[i], sizeof keys[i], "K%d", i);
        snprintf(values[i], sizeof values[i], "v%d", i);
        r1[i] = (struct fnd){keys[i], values[i], i % 3 ? "m" : "", i % 5 ? NULL : ""};
    }
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 70, "");
    struct qloop_policy p = ningbo();
    file_only(db, "residents", "R9", &p); /* an item holding its own */
    check_named_digests(db);
    /* every item names a copy of its finding, the copies' ids descending
     * (70 runs), one far on, one gone */
    char *before = all_items(db);
    exec(db, "INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value,"
             " message, sealed, part) SELECT 10000 - i.id, f.run, f.kind, f.row_no, f.record_ref,"
             " f.record_key, f.value, f.message, f.sealed, f.part FROM ticket_item_rows i"
             " JOIN finding_rows f ON f.id = i.finding;"
             "UPDATE ticket_item_rows SET finding = 10000 - id WHERE finding IS NOT NULL;"
             "UPDATE finding_rows SET id = 60000 WHERE id = 9990;"
             "UPDATE ticket_item_rows SET finding = 60000 WHERE finding = 9990;");
    char *after = all_items(db);
    assert_string_equal(after, before);
    free(after);
    exec(db, "UPDATE ticket_item_rows SET finding = 99999 WHERE finding = 9980");
    check_named_digests(db);
    /* a few runs again: the first 60 ascending, the rest after them */
    exec(db, "UPDATE ticket_item_rows SET finding = 20000 + id WHERE finding IS NOT NULL"
             " AND id <= 60;"
             "INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value,"
             " message, sealed, part) SELECT 20000 + id, run, kind, row_no, record_ref,"
             " record_key, value, message, sealed, part FROM finding_rows WHERE id < 10000"
             " AND 10000 - id <= 60");
    check_named_digests(db);
    free(before);
    store_close(db);
}

/* An item that was missing and fails again is written by the re-check,
 * into its own columns, a NULL key of the finding keeping the item's. */
static void test_recheck_writes_own(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", NULL}, {"P3", "150", "m1", NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 2, "P2 P3");
    run_findings(db, "r2", "2024-09-28T02:00:00+08:00", r1, 1, "P2");
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'150'|'m1'|NULL|missing|r1");
    assert_string_equal(named(db, "P3"), "r1/none");
    const struct fnd r3[] = {{"P2", "139", "m1", NULL}, {"P3", "151", "m2", NULL}};
    run_findings(db, "r3", "2024-09-29T02:00:00+08:00", r3, 2, "P2 P3");
    assert_string_equal(shown(db, "P3"), "3|'P3'|'phone'|'151'|'m2'|NULL|open|r3");
    assert_string_equal(named(db, "P3"), "-/own");
    check_kept_digests(db);
    audit_whole(db);
    store_close(db);
}

/* Pruning the run of a named finding copies its evidence into the item
 * first: the finding's row is gone, the item shows the same. */
static void test_prune_materialises(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", "01ff"}, {"P4", "160", "m1", NULL},
                             {"P3", "150", "", ""}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 3, "P2 P3 P4");
    /* P2 changed (named r2's), P3 fixed (still naming r1's), P4 the same */
    const struct fnd r2[] = {{"P2", "138", "m1", "01ff"}, {"P4", "160", "m1", NULL}};
    run_findings(db, "r2", "2024-09-28T02:00:00+08:00", r2, 2, "P2 P3 P4");
    char *before = all_items(db);
    assert_string_equal(named(db, "P2"), "r2/none");
    assert_string_equal(named(db, "P3"), "r1/none");
    assert_string_equal(named(db, "P4"), "r1/none");
    struct qloop_error err;
    qloop_error_clear(&err);
    long long deleted = 0;
    assert_int_equal(store_prune_findings(db, 1, &deleted, &err), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM findings WHERE run_id = 'r1'"), 0);
    assert_string_equal(named(db, "P3"), "-/own");
    assert_string_equal(named(db, "P4"), "-/own");
    assert_string_equal(named(db, "P2"), "r2/none");
    char *after = all_items(db);
    assert_string_equal(after, before);
    free(after);
    assert_string_equal(shown(db, "P3"), "4|'P3'|'phone'|'150'|NULL|NULL|fixed|r1");
    assert_string_equal(shown(db, "P4"), "3|'P4'|'phone'|'160'|'m1'|NULL|open|r1");
    assert_string_equal(q_text(db, "SELECT detail FROM audit WHERE kind = 'store.prune'"),
                        "{\"keep_runs\":1,\"findings_deleted\":3}");
    check_kept_digests(db);
    free(before);
    audit_whole(db);
    store_close(db);
}

/* Writing through the view: a change of state keeps the finding named, a
 * change of evidence writes the whole evidence into the item; INSERT and
 * DELETE reach the table. */
static void test_view_writes(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const struct fnd r1[] = {{"P2", "139", "m1", "01"}, {"P3", "150", "m1", NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 2, "P2 P3");
    exec(db, "UPDATE ticket_items SET state = 'missing' WHERE id = 1");
    assert_string_equal(named(db, "P2"), "r1/none");
    assert_string_equal(shown(db, "P2"), "2|'P2'|'phone'|'139'|'m1'|X'01'|missing|r1");
    exec(db, "UPDATE ticket_items SET value = 'x' WHERE id = 1");
    assert_string_equal(named(db, "P2"), "-/own");
    assert_string_equal(shown(db, "P2"), "2|'P2'|'phone'|'x'|'m1'|X'01'|missing|r1");
    check_kept_digests(db);
    exec(db, "INSERT INTO ticket_items(id, ticket_id, dataset, rule, record_ref, value, state,"
             " added_at) VALUES(9, 1, 'people', 'people.phone', 'ref9', 'v9', 'fixed',"
             " '2024-09-27T10:00:00+08:00')");
    assert_string_equal(q_text(db, "SELECT value || '|' || state FROM ticket_items WHERE id = 9"),
                        "v9|fixed");
    exec(db, "DELETE FROM ticket_items WHERE id = 9");
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE id = 9"), 0);
    store_close(db);
}

/* A store at step 16 (ticket_items a table) upgraded: every column of
 * every item kept, each holding its own evidence; runs work after. */
static void test_upgrade_from_step16(void **state)
{
    (void)state;
    char path[64];
    temp_store_path(path, sizeof path, "named");
    sqlite3 *db = db_open_at(path);
    const struct fnd r1[] = {{"P2", "139", "m1", "01ff"}, {"P3", "150", "", ""},
                             {"P4", NULL, NULL, NULL}};
    run_findings(db, "r1", "2024-09-27T10:00:00+08:00", r1, 3, "P2 P3 P4");
    const struct fnd r2[] = {{"P2", "138", "m1", "01ff"}, {"P4", NULL, NULL, NULL}};
    run_findings(db, "r2", "2024-09-28T02:00:00+08:00", r2, 2, "P2 P3 P4");
    struct qloop_policy p = ningbo();
    file_only(db, "residents", "R9", &p);
    char *before = all_items(db);
    store_rewind_to_step16(db);
    assert_string_equal(q_text(db, "SELECT type FROM sqlite_schema WHERE name = 'ticket_items'"),
                        "table");
    char *rewound = all_items(db);
    assert_string_equal(rewound, before);
    free(rewound);
    store_close(db);

    db = db_open_at(path);
    assert_int_equal(q_int(db, "PRAGMA user_version"), store_nsteps);
    assert_string_equal(q_text(db, "SELECT type FROM sqlite_schema WHERE name = 'ticket_items'"),
                        "view");
    char *upgraded = all_items(db);
    assert_string_equal(upgraded, before);
    free(upgraded);
    assert_int_equal(q_int(db, "SELECT count(*) FROM ticket_item_rows WHERE finding IS NOT NULL"),
                     0);
    assert_string_equal(q_text(db, "PRAGMA integrity_check"), "ok");
    assert_int_equal(q_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    const struct fnd r3[] = {{"P2", "137", "m1", "01ff"}, {"P5", "180", "m1", NULL}};
    run_findings(db, "r3", "2024-09-29T02:00:00+08:00", r3, 2, "P2 P3 P4 P5");
    assert_string_equal(named(db, "P2"), "r3/none");
    assert_string_equal(named(db, "P5"), "r3/none");
    assert_string_equal(shown(db, "P5"), "3|'P5'|'phone'|'180'|'m1'|NULL|open|r3");
    check_kept_digests(db);
    free(before);
    audit_whole(db);
    store_close(db);
    remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_items_name_findings),
        cmocka_unit_test(test_filed_items_hold_evidence),
        cmocka_unit_test(test_refresh_repoints),
        cmocka_unit_test(test_refresh_reads_named_apart),
        cmocka_unit_test(test_refresh_reads_kept_digest),
        cmocka_unit_test(test_digest_key_of_store),
        cmocka_unit_test(test_finding_digest_zero),
        cmocka_unit_test(test_first_night_takes_run_digests),
        cmocka_unit_test(test_ids_table),
        cmocka_unit_test(test_view_delete_materialises),
        cmocka_unit_test(test_named_digests),
        cmocka_unit_test(test_recheck_writes_own),
        cmocka_unit_test(test_prune_materialises),
        cmocka_unit_test(test_view_writes),
        cmocka_unit_test(test_upgrade_from_step16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
