/*
 * test_unique.c — the whole-dataset uniqueness set, in memory and spilled,
 * and its states: parts judged apart and merged report what one set does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strmap.h"
#include "run/unique.h"

/* The reported rows, as a bitmap over row numbers < MAXROW, and in the
 * order reported. */
enum { MAXROW = 20001 };
struct seen {
    unsigned char hit[MAXROW];
    uint64_t order[4 * MAXROW];
    int reports;
    int bad_key;
};

static int record(void *ctx, uint64_t row_no, const char *key, size_t keylen, const char *value,
                  size_t vlen)
{
    struct seen *s = ctx;
    char want[32];
    snprintf(want, sizeof want, "k%llu", (unsigned long long)row_no);
    if (keylen != strlen(want) || memcmp(key, want, keylen) != 0 || vlen == 0)
        s->bad_key++;
    s->hit[row_no]++;
    if (s->reports < 4 * MAXROW)
        s->order[s->reports] = row_no;
    s->reports++;
    return 0;
}

/* Row r's value: r % modulo when r % 7 == 0 (repeats), else a value of its
 * own. */
static void value_of(int r, int modulo, char *v, size_t n)
{
    if (r % 7 == 0)
        snprintf(v, n, "dup-%d", r % modulo);
    else
        snprintf(v, n, "own-%d", r);
}

/* Offers rows 1..rows by nwriters writers (row r by writer r % nwriters, at
 * its place r), then finishes. */
static void feed_writers(struct unique_set *u, struct seen *s, int rows, int modulo,
                         size_t nwriters)
{
    struct qloop_error err;
    unique_set_writers(u, nwriters);
    for (int r = 1; r <= rows; r++) {
        char v[32], k[32];
        value_of(r, modulo, v, sizeof v);
        snprintf(k, sizeof k, "k%d", r);
        unique_offer(u, (size_t)r % nwriters, (uint64_t)r, v, strlen(v), (uint64_t)r, k, strlen(k));
    }
    assert_int_equal(unique_check(u, &err), 0);
    assert_int_equal(unique_finish(u, record, s, &err), 0);
}

static void feed(struct unique_set *u, struct seen *s, int rows, int modulo)
{
    struct qloop_error err;
    for (int r = 1; r <= rows; r++) {
        char v[32], k[32];
        value_of(r, modulo, v, sizeof v);
        snprintf(k, sizeof k, "k%d", r);
        assert_int_equal(unique_add(u, v, strlen(v), (uint64_t)r, k, strlen(k), &err), 0);
    }
    assert_int_equal(unique_finish(u, record, s, &err), 0);
}

/* What a set deciding row by row reports (the order unique.h promises):
 * a value's first record when its second comes, then each record with a
 * twin before it. A reference model over feed()'s rows. */
static void reference(struct seen *s, int rows, int modulo)
{
    struct strmap *first = strmap_new();
    for (int r = 1; r <= rows; r++) {
        char v[32], k[32];
        value_of(r, modulo, v, sizeof v);
        uint64_t *slot = strmap_put(first, v, strlen(v), NULL);
        if (*slot == 0) {
            *slot = (uint64_t)r; /* seen once, at row r */
            continue;
        }
        if (*slot != UINT64_MAX) {
            snprintf(k, sizeof k, "k%llu", (unsigned long long)*slot);
            record(s, *slot, k, strlen(k), v, strlen(v));
            *slot = UINT64_MAX;
        }
        snprintf(k, sizeof k, "k%d", r);
        record(s, (uint64_t)r, k, strlen(k), v, strlen(v));
    }
    strmap_free(first);
}

static void assert_same_reports(const struct seen *a, const struct seen *b)
{
    assert_int_equal(a->reports, b->reports);
    assert_int_equal(a->bad_key, 0);
    assert_int_equal(b->bad_key, 0);
    for (int i = 0; i < a->reports && i < 4 * MAXROW; i++)
        assert_int_equal(a->order[i], b->order[i]);
}

static void same_results(size_t budget_a, size_t budget_b, bool spill_a, bool spill_b)
{
    struct seen *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *ref = calloc(1, sizeof *ref);
    struct unique_set *ua = unique_new(budget_a), *ub = unique_new(budget_b);
    feed(ua, a, 20000, 50);
    feed(ub, b, 20000, 50);
    reference(ref, 20000, 50);
    assert_int_equal(unique_spilled(ua), spill_a);
    assert_int_equal(unique_spilled(ub), spill_b);
    /* every multiple of 7 shares one of 50 values (each at least twice): all fail */
    int expected = 20000 / 7;
    assert_int_equal(a->reports, expected);
    for (int r = 1; r <= 20000; r++)
        assert_int_equal(a->hit[r], r % 7 == 0 ? 1 : 0);
    assert_same_reports(a, ref);
    assert_same_reports(b, ref);
    unique_free(ua);
    unique_free(ub);
    free(a);
    free(b);
    free(ref);
}

static void test_memory_and_spill_agree(void **state)
{
    (void)state;
    same_results(0, 4096, false, true);
}

static void test_spill_in_the_middle(void **state)
{
    (void)state;
    /* a budget that runs out part-way: some chunks on disk, the rest in memory */
    same_results(0, 300 * 1024, false, true);
}

/* Writers offering at once, spilled or not, report what one set does, in
 * the same order: duplicates whose records are in different writers'
 * buffers and files, and in different chunks of one file. */
static void test_writers_and_spill_same_order(void **state)
{
    (void)state;
    struct seen *ref = calloc(1, sizeof *ref);
    reference(ref, 20000, 13);
    size_t budgets[] = {0, 4096, 64 * 1024};
    for (size_t nw = 1; nw <= 4; nw++)
        for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++) {
            struct seen *s = calloc(1, sizeof *s);
            struct unique_set *u = unique_new(budgets[i]);
            feed_writers(u, s, 20000, 13, nw);
            assert_int_equal(unique_spilled(u), budgets[i] != 0);
            assert_same_reports(s, ref);
            unique_free(u);
            free(s);
        }
    free(ref);
}

static uint64_t one_hash(const char *value, size_t len)
{
    (void)value, (void)len;
    return UINT64_C(0x0123456789abcdef);
}

/* Every value with the same hash: one partition, one probe chain; values
 * are still told apart by their bytes. */
static void test_equal_hashes_of_different_values(void **state)
{
    (void)state;
    struct seen *ref = calloc(1, sizeof *ref), *s = calloc(1, sizeof *s), *t = calloc(1, sizeof *t);
    reference(ref, 3000, 11);
    unique_test_hash(one_hash);
    struct unique_set *u = unique_new(0), *v = unique_new(2048);
    feed_writers(u, s, 3000, 11, 2);
    feed(v, t, 3000, 11);
    unique_test_hash(NULL);
    assert_true(unique_spilled(v));
    assert_same_reports(s, ref);
    assert_same_reports(t, ref);
    unique_free(u);
    unique_free(v);
    free(ref);
    free(s);
    free(t);
}

/* A record whose key is its value is stored once and reported whole. */
static void test_key_is_value(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct unique_set *u = unique_new(4096);
    struct qloop_error err;
    assert_int_equal(unique_add(u, "k5", 2, 5, "k5", 2, &err), 0);
    assert_int_equal(unique_add(u, "k6", 2, 6, "k6", 2, &err), 0);
    assert_int_equal(unique_add(u, "k5", 2, 7, "k7", 2, &err), 0);
    assert_int_equal(unique_finish(u, record, s, &err), 0);
    assert_int_equal(s->reports, 2);
    assert_int_equal(s->order[0], 5);
    assert_int_equal(s->order[1], 7);
    assert_int_equal(s->bad_key, 0);
    unique_free(u);
    free(s);
}

static void test_single_value_never_fails(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct unique_set *u = unique_new(1);
    struct qloop_error err;
    assert_int_equal(unique_add(u, "a", 1, 1, "k1", 2, &err), 0);
    assert_int_equal(unique_add(u, "b", 1, 2, "k2", 2, &err), 0);
    assert_int_equal(unique_finish(u, record, s, &err), 0);
    assert_true(unique_spilled(u));
    assert_int_equal(s->reports, 0);
    unique_free(u);
    free(s);
}

/* ---- the spool's blocks: values of any length, any budget ---- */

/* Row r's value for the block tests: length from a small generator (1 to
 * long, some longer than any block), repeated for every 5th row among 40
 * values; written into v (room for 70000 bytes). Returns its length. */
static size_t long_value(int r, char *v)
{
    static const size_t lens[] = {1, 7, 8, 9, 63, 64, 65, 255, 256, 257, 1000, 4096, 70000};
    int id = r % 5 == 0 ? r % 40 : r;
    size_t len = lens[(unsigned)id * 2654435761u % (sizeof lens / sizeof *lens)];
    for (size_t i = 0; i < len; i++)
        v[i] = (char)('a' + (id + (int)i) % 26);
    int n = snprintf(v, len + 1 < 24 ? len + 1 : 24, "%d.", id); /* tells ids apart */
    if (n >= 0 && (size_t)n < len)
        v[n] = '.';
    return len;
}

/* The reports over long_value's rows: rows in order, and a checksum of
 * every reported row, value and key. */
struct long_seen {
    uint64_t order[4000];
    int reports;
    uint64_t sum; /* of the reported values' and keys' bytes */
};

/* h with a value's bytes and then a key's folded in: a checksum that tells
 * the order and the bytes of what was reported. */
static uint64_t fold_text(uint64_t h, const char *value, size_t vlen, const char *key,
                          size_t keylen)
{
    for (size_t i = 0; i < vlen; i++)
        h = h * 131u + (unsigned char)value[i];
    for (size_t i = 0; i < keylen; i++)
        h = h * 137u + (unsigned char)key[i];
    return h;
}

static int long_record(void *ctx, uint64_t row_no, const char *key, size_t keylen,
                       const char *value, size_t vlen)
{
    struct long_seen *s = ctx;
    if (s->reports < 4000)
        s->order[s->reports] = row_no;
    s->reports++;
    s->sum = fold_text(s->sum * 31u + row_no + vlen * 7u + keylen, value, vlen, key, keylen);
    return 0;
}

/* Row r's key: k<r>, empty for every 3rd row. */
static void long_key(int r, char *k, size_t *klen)
{
    if (r % 3 == 0) {
        *klen = 0;
        return;
    }
    *klen = (size_t)snprintf(k, 32, "k%d", r);
}

/* What a set deciding row by row reports over long_value's rows. */
static void long_reference(struct long_seen *s, int rows)
{
    struct strmap *first = strmap_new();
    char *v = malloc(70001), k[32];
    for (int r = 1; r <= rows; r++) {
        size_t vlen = long_value(r, v), klen;
        uint64_t *slot = strmap_put(first, v, vlen, NULL);
        if (*slot == 0) {
            *slot = (uint64_t)r;
            continue;
        }
        if (*slot != UINT64_MAX) {
            long_key((int)*slot, k, &klen);
            long_record(s, *slot, k, klen, v, vlen);
            *slot = UINT64_MAX;
        }
        long_key(r, k, &klen);
        long_record(s, (uint64_t)r, k, klen, v, vlen);
    }
    free(v);
    strmap_free(first);
}

/* A set of the given budget with rows 1..rows of the long values offered
 * by nw writers in turn (row r by writer r % nw, at place r). */
static struct unique_set *long_offered(size_t budget, size_t nw, int rows)
{
    struct unique_set *u = unique_new(budget);
    unique_set_writers(u, nw);
    char *v = malloc(70001), k[32];
    assert_non_null(v);
    for (int r = 1; r <= rows; r++) {
        size_t vlen = long_value(r, v), klen;
        long_key(r, k, &klen);
        unique_offer(u, (size_t)r % nw, (uint64_t)r, v, vlen, (uint64_t)r, k, klen);
    }
    free(v);
    return u;
}

/* s saw the same reports of long values, in the same order, as ref. */
static void assert_same_long_reports(const struct long_seen *s, const struct long_seen *ref)
{
    assert_int_equal(s->reports, ref->reports);
    assert_memory_equal(s->order, ref->order, sizeof ref->order);
    assert_true(s->sum == ref->sum);
}

/* Values from 1 byte to longer than a block (straddling block ends, filling
 * blocks exactly, spanning several), keys empty or not, offered by 1, 2 and
 * 4 writers with budgets from one that flushes after every offer to one
 * that never spills: the reports are those of a set deciding row by row. */
static void test_blocks_values_of_any_length(void **state)
{
    (void)state;
    enum { ROWS = 3000 };
    struct long_seen *ref = calloc(1, sizeof *ref);
    long_reference(ref, ROWS);
    assert_true(ref->reports > 100);
    size_t budgets[] = {1, 4096, 64 * 1024, 1 << 20, 0};
    for (size_t nw = 1; nw <= 4; nw *= 2)
        for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
            struct long_seen *s = calloc(1, sizeof *s);
            struct unique_set *u = long_offered(budgets[b], nw, ROWS);
            struct qloop_error err;
            assert_int_equal(unique_check(u, &err), 0);
            assert_int_equal(unique_finish(u, long_record, s, &err), 0);
            assert_int_equal(unique_spilled(u), budgets[b] != 0);
            assert_same_long_reports(s, ref);
            unique_free(u);
            free(s);
        }
    free(ref);
}

/* ---- the offers' records ---- */

/* An 18-character identity number that is its record's key, at the place
 * one before its row (W1's person_id), takes under 32 bytes an offer: the
 * spill's size. */
static void test_offer_of_an_id_is_small(void **state)
{
    (void)state;
    struct unique_set *u = unique_new(0);
    unique_set_writers(u, 2);
    for (int r = 1; r <= 100000; r++) {
        char id[32];
        snprintf(id, sizeof id, "33020019%06d%04d", r % 1000000, r % 9973);
        unique_offer(u, (size_t)r % 2, (uint64_t)r - 1, id, 18, (uint64_t)r, id, 18);
    }
    assert_true(unique_offer_bytes(u) < 32u * 100000);
    assert_true(unique_offer_bytes(u) >= 18u * 100000);
    unique_free(u);
}

struct rows_seen {
    uint64_t row[16];
    char key[16][24];
    int n;
};

static int note_row(void *ctx, uint64_t row_no, const char *key, size_t keylen, const char *value,
                    size_t vlen)
{
    (void)value, (void)vlen;
    struct rows_seen *s = ctx;
    assert_true(s->n < 16 && keylen < 24);
    s->row[s->n] = row_no;
    memcpy(s->key[s->n], key, keylen);
    s->key[s->n][keylen] = '\0';
    s->n++;
    return 0;
}

/* Rows far from their places, before them and after, at the ends of the
 * range, come back as offered, in memory and spilled. */
static void test_rows_far_from_places(void **state)
{
    (void)state;
    static const uint64_t seq[] = {0, 1, 2, 3, UINT64_C(1) << 40, UINT64_MAX - 1};
    static const uint64_t row[] = {UINT64_MAX, 0, 1, UINT64_C(1) << 62, 7, 1};
    for (size_t budget = 0; budget <= 1; budget++) {
        struct unique_set *u = unique_new(budget);
        struct rows_seen s = {0};
        struct qloop_error err;
        for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
            char key[24];
            snprintf(key, sizeof key, "key%zu", i);
            unique_offer(u, 0, seq[i], "same", 4, row[i], key, strlen(key));
        }
        unique_offer(u, 0, 100, "other", 5, 100, "", 0);
        assert_int_equal(unique_finish(u, note_row, &s, &err), 0);
        assert_int_equal(unique_spilled(u), budget == 1);
        assert_int_equal(s.n, 6);
        for (int i = 0; i < 6; i++) { /* in place order: the first at the second's */
            assert_true(s.row[i] == row[i]);
            char key[24];
            snprintf(key, sizeof key, "key%d", i);
            assert_string_equal(s.key[i], key);
        }
        unique_free(u);
    }
}

/* ---- failing records encoded on two threads ---- */

/* An encoder writing "row:key=value;" and counting which thread made what;
 * take checks the rows against the bytes and replays them as reports. */
struct enc_seen {
    struct long_seen seen;
    int by_thread[2];
    int takes;
    int fail_at_take; /* take returns -1 at this take (0: never) */
};

static void enc_one(void *ctx, size_t thread, uint64_t row_no, const char *key, size_t keylen,
                    const char *value, size_t vlen, struct qloop_buf *out)
{
    struct enc_seen *e = ctx;
    assert_true(thread < 2);
    __atomic_fetch_add(&e->by_thread[thread], 1, __ATOMIC_RELAXED);
    char head[32];
    int n = snprintf(head, sizeof head, "%llu:%zu:%zu:", (unsigned long long)row_no, keylen, vlen);
    qloop_buf_append(out, head, (size_t)n);
    qloop_buf_append(out, key, keylen);
    qloop_buf_append(out, value, vlen);
}

static int enc_take(void *ctx, const char *bytes, size_t len, const uint64_t *rows, size_t n)
{
    struct enc_seen *e = ctx;
    if (++e->takes == e->fail_at_take)
        return -1;
    const char *p = bytes, *end = bytes + len;
    for (size_t i = 0; i < n; i++) {
        unsigned long long row;
        size_t klen, vlen;
        int used;
        assert_int_equal(sscanf(p, "%llu:%zu:%zu:%n", &row, &klen, &vlen, &used), 3);
        assert_true(row == rows[i]);
        p += used;
        long_record(&e->seen, row, p, klen, p + klen, vlen);
        p += klen + vlen;
    }
    assert_true(p == end);
    return 0;
}

/* Encoded on one thread or two, spilled or not, the records come to take
 * in unique_finish's order with what encode made of each; with two threads
 * the helper makes some; a failing take stops the finish. */
static void test_encoded_same_as_emitted(void **state)
{
    (void)state;
    enum { ROWS = 3000 };
    struct long_seen *ref = calloc(1, sizeof *ref);
    long_reference(ref, ROWS);
    size_t budgets[] = {0, 4096, 1 << 20};
    for (size_t threads = 1; threads <= 2; threads++)
        for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
            for (int failing = 0; failing < 2; failing++) {
                struct enc_seen *e = calloc(1, sizeof *e);
                e->fail_at_take = failing ? 3 : 0;
                struct unique_set *u = long_offered(budgets[b], 2, ROWS);
                struct qloop_error err;
                struct unique_encoder enc = {enc_one, enc_take, e};
                int rc = unique_finish_encoded(u, &enc, threads, &err);
                if (failing) {
                    assert_int_equal(rc, -1);
                    assert_int_equal(e->takes, 3);
                } else {
                    assert_int_equal(rc, 0);
                    assert_same_long_reports(&e->seen, ref);
                    assert_int_equal(e->by_thread[0] + e->by_thread[1], ref->reports);
                    if (threads == 1)
                        assert_int_equal(e->by_thread[1], 0);
                }
                unique_free(u);
                free(e);
            }
        }
    free(ref);
}

/* Ranges of many failing records (50,000 rows of one value: ~195 in each
 * of the 256 ranges of places): the helper makes about half. */
static void test_encoded_helper_takes_half(void **state)
{
    (void)state;
    enum { ROWS = 50000 };
    struct enc_seen *e = calloc(1, sizeof *e);
    struct unique_set *u = unique_new(0);
    struct qloop_error err;
    for (int r = 1; r <= ROWS; r++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", r);
        assert_int_equal(unique_add(u, "same", 4, (uint64_t)r, key, strlen(key), &err), 0);
    }
    struct unique_encoder enc = {enc_one, enc_take, e};
    assert_int_equal(unique_finish_encoded(u, &enc, 2, &err), 0);
    assert_int_equal(e->seen.reports, ROWS);
    assert_true(e->by_thread[1] >= ROWS / 3);
    for (int i = 0; i < 4000; i++)
        assert_true(e->seen.order[i] == (uint64_t)i + 1);
    unique_free(u);
    free(e);
}

/* ---- states: parts judged apart, then merged (a partitioned run) ---- */

struct merge_ctx {
    struct unique_set *merged;
    struct seen *s;
    int groups, singles;
};

/* unique_state_fn: one part's value handed to the merged set. */
static int take_state(void *ctx, const char *value, size_t vlen, uint64_t count, uint64_t row_no,
                      const char *key, size_t keylen)
{
    struct merge_ctx *m = ctx;
    struct qloop_error err;
    if (count == 1) {
        m->singles++;
        return unique_add(m->merged, value, vlen, row_no, key, keylen, &err);
    }
    m->groups++;
    assert_int_equal(row_no, 0);
    return unique_add_group(m->merged, value, vlen, count, &err);
}

/* Rows 1..20000 as feed() makes them, spread over nparts parts (row r in
 * part (r * 7919) % nparts, so a value's records land in several parts),
 * each part's set with part_budget, merged into a set with merge_budget:
 * every row that a single set reports is reported exactly once. */
static void parts_merge(int nparts, size_t part_budget, size_t merge_budget)
{
    struct seen *s = calloc(1, sizeof *s);
    struct merge_ctx m = {.merged = unique_new(merge_budget), .s = s};
    struct qloop_error err;
    for (int p = 0; p < nparts; p++) {
        struct unique_set *u = unique_new(part_budget);
        for (int r = 1; r <= 20000; r++) {
            if ((r * 7919) % nparts != p)
                continue;
            char v[32], k[32];
            if (r % 7 == 0)
                snprintf(v, sizeof v, "dup-%d", r % 50);
            else
                snprintf(v, sizeof v, "own-%d", r);
            snprintf(k, sizeof k, "k%d", r);
            assert_int_equal(unique_add(u, v, strlen(v), (uint64_t)r, k, strlen(k), &err), 0);
        }
        assert_int_equal(unique_finish_states(u, record, s, take_state, &m, &err), 0);
        unique_free(u);
    }
    assert_int_equal(unique_finish(m.merged, record, s, &err), 0);
    assert_int_equal(s->bad_key, 0);
    assert_true(m.groups > 0);
    for (int r = 1; r <= 20000; r++)
        assert_int_equal(s->hit[r], r % 7 == 0 ? 1 : 0);
    assert_int_equal(s->reports, 20000 / 7);
    unique_free(m.merged);
    free(s);
}

static void test_states_merge_in_memory(void **state)
{
    (void)state;
    parts_merge(4, 0, 0);
}

static void test_states_merge_spilled(void **state)
{
    (void)state;
    parts_merge(4, 4096, 0);     /* parts spill: states come from the partition pass */
    parts_merge(3, 0, 4096);     /* the merge spills */
    parts_merge(5, 4096, 8192);  /* both */
    parts_merge(64, 0, 0);       /* most values seen once per part */
}

/* The states handed out, as a checksum of the sequence. */
struct order {
    uint64_t sum;
    int states, singles;
};

static int note_state(void *ctx, const char *value, size_t vlen, uint64_t count, uint64_t row_no,
                      const char *key, size_t keylen)
{
    struct order *o = ctx;
    o->states++;
    o->singles += count == 1;
    o->sum = fold_text(o->sum * 1000003u + count * 31u + row_no, value, vlen, key, keylen);
    return 0;
}

/* The states are the same sequence however the offers were written (one
 * writer or several, in memory or spilled): a shard is the same file. */
static void test_states_same_sequence(void **state)
{
    (void)state;
    struct order first = {0};
    for (size_t nw = 1; nw <= 3; nw += 2)
        for (size_t budget = 0; budget <= 4096; budget += 4096) {
            struct seen *s = calloc(1, sizeof *s);
            struct unique_set *u = unique_new(budget);
            struct qloop_error err;
            unique_set_writers(u, nw);
            for (int r = 1; r <= 20000; r++) {
                char v[32], k[32];
                value_of(r, 50, v, sizeof v);
                snprintf(k, sizeof k, "k%d", r);
                unique_offer(u, (size_t)r % nw, (uint64_t)r, v, strlen(v), (uint64_t)r, k, strlen(k));
            }
            struct order o = {0};
            assert_int_equal(unique_finish_states(u, record, s, note_state, &o, &err), 0);
            assert_int_equal(o.states, 20000 - 20000 / 7 + 50);
            assert_int_equal(o.singles, 20000 - 20000 / 7);
            assert_int_equal(s->reports, 20000 / 7);
            if (nw == 1 && budget == 0)
                first = o;
            assert_int_equal(o.sum, first.sum);
            unique_free(u);
            free(s);
        }
}

/* A set with a few values (most partitions empty) hands out their states. */
static void test_states_of_a_few_values(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct unique_set *u = unique_new(0);
    struct qloop_error err;
    assert_int_equal(unique_add(u, "a", 1, 1, "k1", 2, &err), 0);
    assert_int_equal(unique_add(u, "b", 1, 2, "k2", 2, &err), 0);
    assert_int_equal(unique_add(u, "a", 1, 3, "k3", 2, &err), 0);
    struct order o = {0};
    assert_int_equal(unique_finish_states(u, record, s, note_state, &o, &err), 0);
    assert_int_equal(o.states, 2);
    assert_int_equal(o.singles, 1);
    assert_int_equal(s->reports, 2);
    unique_free(u);
    struct unique_set *empty = unique_new(0);
    memset(&o, 0, sizeof o);
    assert_int_equal(unique_finish_states(empty, record, s, note_state, &o, &err), 0);
    assert_int_equal(o.states, 0);
    unique_free(empty);
    free(s);
}

/* A group that arrives before a value's only other record, and after it. */
static void test_group_then_single(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof *s);
    struct qloop_error err;
    for (int spilled = 0; spilled < 2; spilled++) {
        memset(s, 0, sizeof *s);
        struct unique_set *u = unique_new(spilled ? 1 : 0);
        assert_int_equal(unique_add(u, "x", 1, 3, "k3", 2, &err), 0);
        assert_int_equal(unique_add_group(u, "x", 1, 2, &err), 0);
        assert_int_equal(unique_add_group(u, "y", 1, 5, &err), 0);
        assert_int_equal(unique_add(u, "y", 1, 9, "k9", 2, &err), 0);
        assert_int_equal(unique_add_group(u, "z", 1, 2, &err), 0);
        assert_int_equal(unique_add(u, "w", 1, 4, "k4", 2, &err), 0);
        assert_int_equal(unique_finish(u, record, s, &err), 0);
        assert_int_equal(unique_spilled(u), spilled);
        assert_int_equal(s->reports, 2);
        assert_int_equal(s->hit[3], 1);
        assert_int_equal(s->hit[9], 1);
        assert_int_equal(s->order[0], 3); /* reported when the group came */
        assert_int_equal(s->order[1], 9);
        assert_int_equal(s->bad_key, 0);
        unique_free(u);
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_and_spill_agree),
        cmocka_unit_test(test_spill_in_the_middle),
        cmocka_unit_test(test_writers_and_spill_same_order),
        cmocka_unit_test(test_equal_hashes_of_different_values),
        cmocka_unit_test(test_key_is_value),
        cmocka_unit_test(test_single_value_never_fails),
        cmocka_unit_test(test_blocks_values_of_any_length),
        cmocka_unit_test(test_offer_of_an_id_is_small),
        cmocka_unit_test(test_rows_far_from_places),
        cmocka_unit_test(test_encoded_same_as_emitted),
        cmocka_unit_test(test_encoded_helper_takes_half),
        cmocka_unit_test(test_states_merge_in_memory),
        cmocka_unit_test(test_states_merge_spilled),
        cmocka_unit_test(test_group_then_single),
        cmocka_unit_test(test_states_same_sequence),
        cmocka_unit_test(test_states_of_a_few_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
