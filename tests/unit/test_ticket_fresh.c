/*
 * test_ticket_fresh.c — a first night's findings as ticket_fresh.c hands
 * them over (loop/ticket_fresh.c): sorted by id with its radix sort (the
 * same order as qsort by id, for dense, sparse and very wide id ranges,
 * each id keeping its record), a record found more than once in one kind
 * handed over once (its first finding), a group of one kind marked as
 * holding each record once and a group of several kinds not, and the items
 * a sync makes from them: each record once, at its first finding, in id
 * order, whatever kind its later findings are of; and the same findings
 * handed over from the keys the findings writer kept (tk_kept_take), each
 * with its digest, or read back when the keys lack a kind or came out of
 * order; and groups of every size up to hundreds of findings handed over
 * from given keys as read back, each with its own digest.
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

#include "base/buf.h"
#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct fresh_row *)a)->id, y = ((const struct fresh_row *)b)->id;
    return (x > y) - (x < y);
}

/* xorshift64*, for repeatable "random" ids */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* n distinct ids, base + (a random value below span), in random order;
 * each row's ref is its position, so that a row's id and ref can be seen
 * to travel together. Sorted by tk_fresh_sort_by_id and by qsort: the
 * same rows in the same order. */
static void check_sort(size_t n, int64_t base, uint64_t span, uint64_t seed)
{
    struct fresh_row *v = calloc(n + 1, sizeof *v), *w = calloc(n + 1, sizeof *w),
                     *scratch = calloc(n + 1, sizeof *scratch);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        bool fresh;
        do { /* distinct: the ids of a run's findings are */
            id = base + (int64_t)(span < n * 2 ? next_random(&s) % (n * 2)
                                               : next_random(&s) % span);
            fresh = true;
            for (size_t j = 0; fresh && j < i && n <= 5000; j++)
                fresh = v[j].id != id;
        } while (!fresh);
        v[i] = (struct fresh_row){id, i, 0};
    }
    memcpy(w, v, n * sizeof *v);
    tk_fresh_sort_by_id(v, scratch, n);
    qsort(w, n, sizeof *w, by_id);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].id, w[i].id);
        assert_int_equal(v[i].ref, w[i].ref);
    }
    free(v);
    free(w);
    free(scratch);
}

static void test_sort_by_id_as_qsort(void **state)
{
    (void)state;
    check_sort(0, 1, 10, 1);
    check_sort(1, 7, 10, 2);
    check_sort(2, 1, 4, 3);
    check_sort(17, 100, 40, 4);
    check_sort(5000, 1, 10000, 5);                  /* dense: one pass */
    check_sort(5000, 1000000, 1u << 20, 6);         /* two passes */
    check_sort(4000, 1, (uint64_t)1 << 40, 7);      /* four */
    check_sort(3000, 5, (uint64_t)1 << 62, 8);      /* every pass */
    check_sort(3000, INT64_MAX - ((int64_t)1 << 40), (uint64_t)1 << 40, 9); /* near the top */
    /* ids already in order, and in reverse */
    enum { N = 3000 };
    struct fresh_row v[N], scratch[N];
    for (size_t i = 0; i < N; i++)
        v[i] = (struct fresh_row){(int64_t)(N - i) * 3, i, 0};
    tk_fresh_sort_by_id(v, scratch, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(v[i].id, (int64_t)(i + 1) * 3);
        assert_int_equal(v[i].ref, N - 1 - i);
    }
    tk_fresh_sort_by_id(v, scratch, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].id, (int64_t)(i + 1) * 3);
}

/* Run r1 on dataset people: rule people.one (one kind) and rule
 * people.two (kinds of fields a and b), findings in this id order. */
static const struct {
    const char *rule, *field, *ref;
} found[] = {
    {"people.two", "a", "refX"}, /* 1 */
    {"people.one", "f", "refQ"}, /* 2 */
    {"people.two", "b", "refZ"}, /* 3 */
    {"people.two", "a", "refY"}, /* 4 */
    {"people.one", "f", "refP"}, /* 5 */
    {"people.two", "b", "refX"}, /* 6: X again, in the other kind */
    {"people.one", "f", "refQ"}, /* 7: Q again */
    {"people.two", "a", "refX"}, /* 8: X again, in its first kind */
    {"people.two", "b", "refY"}, /* 9: Y again, in the other kind */
    {"people.one", "f", "refR"}, /* 10 */
    {"people.two", "b", "refZ"}, /* 11: Z again */
    {"people.one", "f", "refQ"}, /* 12: Q a third time */
};
enum { NFOUND = sizeof found / sizeof found[0] };

/* A record_ref of found[]'s as a store run's are: 32 lower-case hex
 * digits (here of the letter's code, so that they order as the letters). */
static void hex_ref(const char *ref, char out[33])
{
    snprintf(out, 33, "%032x", (unsigned)(unsigned char)ref[3]);
}

static sqlite3 *store_with_refs(bool hex)
{
    sqlite3 *db = db_open();
    set_now("2024-09-27T10:00:00+08:00");
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES('r1',"
             " '2024-09-27T10:00:00+08:00', '2024-09-27T10:00:00+08:00', 'running', '[]')");
    exec(db, "INSERT INTO run_datasets(run_id, dataset, rows, owner) VALUES('r1', 'people', 12,"
             " '市公安局')");
    for (int r = 0; r < 2; r++)
        exec(db, "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity,"
                 " message, checked, failed, errors, resolve_missing) VALUES('r1', %Q, 'people',"
                 " 'f', 'normative', 'medium', '格式错误', 12, 6, 0, 0)",
             r ? "people.two" : "people.one");
    for (int i = 0; i < NFOUND; i++) {
        char ref[33];
        hex_ref(found[i].ref, ref);
        exec(db, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref, record_key,"
                 " field, value, message) VALUES(%d, 'r1', 'people', %Q, %d, %Q, 'K%d', %Q,"
                 " 'v%d', '格式错误')",
             i + 1, found[i].rule, i + 1, hex ? ref : found[i].ref, i + 1, found[i].field, i + 1);
    }
    return db;
}

static sqlite3 *store_with_findings(void)
{
    return store_with_refs(false);
}

/* What tk_fresh_findings handed over, as "rule id ref distinct;" */
static int collect(void *ctx, const struct tk_fresh *f)
{
    qloop_buf_printf(ctx, "%s %lld %s %d;", f->rule, (long long)f->id, f->ref, f->distinct);
    return 0;
}

static void test_records_found_twice(void **state)
{
    (void)state;
    sqlite3 *db = store_with_findings();
    struct qloop_buf got = {0};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(tk_fresh_findings(db, "r1", NULL, collect, &got, &err), 0);
    /* people.one: Q's later findings (7, 12) dropped, each record once:
     * distinct. people.two: X's and Y's findings in the other kind kept
     * (the caller skips them), X's second of kind a (8) and Z's second of
     * kind b (11) dropped. */
    assert_string_equal(qloop_buf_str(&got), "people.one 2 refQ 1;people.one 5 refP 1;"
                                             "people.one 10 refR 1;"
                                             "people.two 1 refX 0;people.two 3 refZ 0;"
                                             "people.two 4 refY 0;people.two 6 refX 0;"
                                             "people.two 9 refY 0;");
    qloop_buf_free(&got);
    /* the items: each record once, at its first finding, in id order */
    struct qloop_policy p = ningbo();
    sync_committed(db, "r1", &p);
    assert_string_equal(q_text(db, "SELECT group_concat(rule || ':' || record_ref || ':' || value,"
                                   " ' ') FROM (SELECT * FROM ticket_items ORDER BY id)"),
                        "people.one:refQ:v2 people.one:refP:v5 people.one:refR:v10"
                        " people.two:refX:v1 people.two:refZ:v3 people.two:refY:v4");
    audit_whole(db);
    store_close(db);
}

/* The keys a findings writer would keep: run r1's finding_refs in their
 * key order (kind, record_ref, id), each digest 1000 + id; with `other` a
 * kind whose keys are given as of kind OTHER_KIND, which the run has not
 * (0: none), with `reversed` given last to first, with `none` not given. */
struct fake_keys {
    sqlite3 *db;
    int64_t other;
    bool reversed, none;
};

enum { OTHER_KIND = 1000 };

/* The stored keys (kind, record_ref, id) in key order (fk->other's last,
 * as of OTHER_KIND), or last to first with fk->reversed. */
static sqlite3_stmt *keys_in_order(const struct fake_keys *fk)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(fk->db,
                                        fk->reversed
                                            ? "SELECT kind, record_ref, id FROM finding_refs"
                                              " ORDER BY kind = ?1 DESC, kind DESC,"
                                              " record_ref DESC, id DESC"
                                            : "SELECT kind, record_ref, id FROM finding_refs"
                                              " ORDER BY kind = ?1, kind, record_ref, id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, fk->other);
    return st;
}

/* The keys given away as the run gives them (ticket_seen.give): its
 * sorted entries, every finding's (a record's later ones too), at = id -
 * 1, digests by at; 1 (none) with fk->none. */
static int give_keys(void *ctx, struct ticket_keys *out)
{
    const struct fake_keys *fk = ctx;
    memset(out, 0, sizeof *out);
    if (fk->none)
        return 1;
    size_t n = (size_t)q_int(fk->db, "SELECT count(*) FROM finding_refs");
    sqlite3_stmt *st = keys_in_order(fk);
    out->v = calloc(n, sizeof *out->v);
    out->digest = calloc(n, sizeof *out->digest);
    out->first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct ticket_key *e = &out->v[out->n++];
        assert_true(qloop_unhex128((const char *)sqlite3_column_text(st, 1), e->ref));
        int64_t kind = sqlite3_column_int64(st, 0);
        e->kind = (uint32_t)(kind == fk->other ? OTHER_KIND : kind);
        e->at = (uint32_t)(sqlite3_column_int64(st, 2) - 1);
        out->digest[e->at] = (uint64_t)(1000 + e->at + 1);
    }
    sqlite3_finalize(st);
    return 0;
}

/* The keys only handed one by one (ticket_seen.keys, the nightly
 * refresh's): never called by a first night, which takes given keys only. */
static int hand_keys(void *ctx, ticket_key_fn each, void *each_ctx)
{
    (void)ctx;
    (void)each_ctx;
    if (each)
        fail_msg("a first night took handed keys");
    return 1;
}

/* What tk_fresh_findings handed over, as "rule id ref field distinct" and
 * then " digest;" into two texts: struct handed. */
struct handed {
    struct qloop_buf rows, digests;
};

static int collect_all(void *ctx, const struct tk_fresh *f)
{
    struct handed *h = ctx;
    qloop_buf_printf(&h->rows, "%s %lld %.4s…%s %s %d;", f->rule, (long long)f->id, f->ref,
                     f->ref + 28, f->field, f->distinct);
    qloop_buf_printf(&h->digests, "%llu;", (unsigned long long)f->digest);
    return 0;
}

static void handed_free(struct handed *h)
{
    qloop_buf_free(&h->rows);
    qloop_buf_free(&h->digests);
}

/* A first night's findings from the keys its findings writer kept (given
 * away as they are): the same findings in the same order, with the same
 * refs and fields, as read back from finding_refs, each with the digest
 * kept for it (none known when read back); each record's later findings
 * of a kind left out as the groups are filled. Keys out of order, or not
 * given (not kept whole; only handed one by one, as to the refresh), are
 * not taken; keys that lack a kind of the run are not used (the run's
 * findings are read back). */
static void test_kept_keys(void **state)
{
    (void)state;
    sqlite3 *db = store_with_refs(true);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct handed back = {0}, kept_h = {0};
    assert_int_equal(tk_fresh_findings(db, "r1", NULL, collect_all, &back, &err), 0);
    assert_string_equal(qloop_buf_str(&back.rows),
                        "people.one 2 0000…0051 f 1;people.one 5 0000…0050 f 1;"
                        "people.one 10 0000…0052 f 1;"
                        "people.two 1 0000…0058 a 0;people.two 3 0000…005a b 0;"
                        "people.two 4 0000…0059 a 0;people.two 6 0000…0058 b 0;"
                        "people.two 9 0000…0059 b 0;");
    assert_string_equal(qloop_buf_str(&back.digests), "0;0;0;0;0;0;0;0;");

    /* given away: every finding's key held (no copy), a record's later
     * findings of a kind skipped as the groups are filled */
    struct fake_keys fk = {db, 0, false, false};
    struct ticket_seen seen = {.ctx = &fk, .keys = hand_keys, .give = give_keys};
    struct tk_kept kept;
    tk_kept_take(&seen, &kept);
    assert_true(kept.whole);
    assert_int_equal(kept.nkinds, 3);
    assert_int_equal(kept.n, 12);
    assert_int_equal(tk_fresh_findings(db, "r1", &kept, collect_all, &kept_h, &err), 0);
    assert_string_equal(qloop_buf_str(&kept_h.rows), qloop_buf_str(&back.rows));
    assert_string_equal(qloop_buf_str(&kept_h.digests),
                        "1002;1005;1010;1001;1003;1004;1006;1009;");
    handed_free(&kept_h);
    tk_kept_free(&kept);
    assert_null(kept.v);

    /* a kind of the run missing (its keys given as of another kind): read
     * back, no digest known */
    fk.other = q_int(db, "SELECT min(kind) FROM finding_refs");
    tk_kept_take(&seen, &kept);
    assert_true(kept.whole);
    assert_int_equal(kept.nkinds, 3);
    assert_int_equal(tk_fresh_findings(db, "r1", &kept, collect_all, &kept_h, &err), 0);
    assert_string_equal(qloop_buf_str(&kept_h.rows), qloop_buf_str(&back.rows));
    assert_string_equal(qloop_buf_str(&kept_h.digests), "0;0;0;0;0;0;0;0;");
    handed_free(&kept_h);
    tk_kept_free(&kept);
    fk.other = 0;

    /* given out of order, or not kept whole: none taken */
    fk.reversed = true;
    tk_kept_take(&seen, &kept);
    assert_false(kept.whole);
    assert_int_equal(kept.n, 0);
    assert_null(kept.v);
    fk.reversed = false;
    fk.none = true;
    tk_kept_take(&seen, &kept);
    assert_false(kept.whole);
    assert_null(kept.v);
    fk.none = false;
    /* keys only handed (no give), or no seen: none taken */
    seen.give = NULL;
    tk_kept_take(&seen, &kept);
    assert_false(kept.whole);
    assert_null(kept.v);
    tk_kept_take(NULL, &kept);
    assert_false(kept.whole);
    handed_free(&back);
    store_close(db);
}

/* Run r1 with n findings (ids 1..n) of rules people.one (one kind) and
 * people.two (kinds a and b), in a repeatable random order, on records of
 * random 32-hex-digit refs, one in five a record found before. */
static sqlite3 *store_with_many(int n)
{
    sqlite3 *db = store_with_refs(true);
    exec(db, "DELETE FROM findings");
    static const char *const rules[] = {"people.one", "people.two", "people.two"};
    static const char *const fields[] = {"f", "a", "b"};
    uint64_t s = 0x9e3779b97f4a7c15ull;
    char (*refs)[33] = calloc((size_t)n, sizeof *refs);
    exec(db, "BEGIN");
    for (int i = 0; i < n; i++) {
        uint64_t r = next_random(&s);
        if (i > 0 && r % 5 == 0) {
            memcpy(refs[i], refs[next_random(&s) % (uint64_t)i], 33);
        } else {
            uint64_t ref[2] = {next_random(&s), next_random(&s)};
            qloop_hex128(ref, refs[i]);
            refs[i][32] = '\0';
        }
        int k = (int)(next_random(&s) % 3);
        exec(db, "INSERT INTO findings(id, run_id, dataset, rule, row_no, record_ref, record_key,"
                 " field, value, message) VALUES(%d, 'r1', 'people', %Q, %d, %Q, 'K%d', %Q,"
                 " 'v%d', '格式错误')",
             i + 1, rules[k], i + 1, refs[i], i + 1, fields[k], i + 1);
    }
    exec(db, "COMMIT");
    free(refs);
    return db;
}

/* collect_all, checking on the way that each finding's digest is the one
 * give_keys kept for it (1000 + id) */
static int collect_checked(void *ctx, const struct tk_fresh *f)
{
    assert_int_equal(f->digest, (uint64_t)(1000 + f->id));
    return collect_all(ctx, f);
}

/* Groups of hundreds of findings from given keys (hand_over asks for
 * each row's key and digest rows ahead of the one it hands over, up to the
 * group's last): the same findings, refs, fields and order as read back,
 * each with its own digest; groups whose sizes are below, at and past how
 * far ahead it asks. */
static void test_kept_keys_many(void **state)
{
    (void)state;
    static const int sizes[] = {1, 7, 8, 9, 16, 17, 40, 1500};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        sqlite3 *db = store_with_many(sizes[t]);
        struct qloop_error err;
        qloop_error_clear(&err);
        struct handed back = {0}, kept_h = {0};
        assert_int_equal(tk_fresh_findings(db, "r1", NULL, collect_all, &back, &err), 0);
        struct fake_keys fk = {db, 0, false, false};
        struct ticket_seen seen = {.ctx = &fk, .give = give_keys};
        struct tk_kept kept;
        tk_kept_take(&seen, &kept);
        assert_true(kept.whole);
        assert_int_equal(kept.n, sizes[t]);
        assert_int_equal(tk_fresh_findings(db, "r1", &kept, collect_checked, &kept_h, &err), 0);
        assert_string_equal(qloop_buf_str(&kept_h.rows), qloop_buf_str(&back.rows));
        handed_free(&kept_h);
        handed_free(&back);
        tk_kept_free(&kept);
        store_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_by_id_as_qsort),
        cmocka_unit_test(test_records_found_twice),
        cmocka_unit_test(test_kept_keys),
        cmocka_unit_test(test_kept_keys_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
