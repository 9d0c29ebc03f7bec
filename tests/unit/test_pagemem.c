/*
 * test_pagemem.c — SQLite's page-cache lines in the huge-page region
 * (store/pagemem.c): installed by the first store_open; a small cache keeps
 * its lines in SQLite's allocator; once ~16 MiB of lines lived at once, a
 * store's 16 KiB pages are cached in slots; sqlite3_malloc of a line's size gives a slot,
 * its size is the slot's, freed it is given again, grown or shrunk past a
 * slot the bytes move to SQLite's own allocator and back, other sizes never
 * take one; once every slot is out, allocations go on from SQLite's
 * allocator; threads taking and giving slots at once lose none. The lowest
 * free slot is handed out first; once slots fall free, the huge pages no
 * slot uses past STORE_PAGEMEM_KEEP are given back to the kernel (not
 * resident: mincore) and used again, zero-filled, by later slots; threads
 * taking, writing and giving many slots while pages are given back find
 * their bytes intact.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_helpers.h"

#include "store/pagemem.h"
#include "store/sql.h"

/* A line of a 16 KiB page with pcache's headers: between PM_MIN and PM_SLOT. */
#define LINE 16700

/* Lines until the slots are engaged; the ones from SQLite's allocator freed
 * again. */
static void engage(void)
{
    size_t cap = 4096, n = 0;
    void **v = malloc(cap * sizeof *v);
    assert_non_null(v);
    void *p;
    while (!store_pagemem_engaged()) {
        assert_true(n < cap);
        p = sqlite3_malloc(LINE);
        assert_non_null(p);
        assert_false(store_pagemem_owns(p));
        v[n++] = p;
    }
    assert_true(n == 0 || n * LINE >= (size_t)15 << 20); /* ~16 MiB of lines lived first */
    for (size_t i = 0; i < n; i++)
        sqlite3_free(v[i]);
    free(v);
}

/* A store written with pages in its cache (a table of ~3 MB): before the
 * slots are engaged its lines are SQLite's allocator's, after they are
 * slots, given back when it closes. */
static void test_store_pages_in_slots(void **state)
{
    (void)state;
    const char *fill = "CREATE TABLE t(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                       " SELECT i + 1 FROM n WHERE i < 3000)"
                       " INSERT INTO t SELECT randomblob(1000) FROM n;";
    sqlite3 *db = db_open();
    assert_true(store_pagemem_on());
    assert_false(store_pagemem_engaged());
    assert_int_equal(sqlite3_exec(db, fill, NULL, NULL, NULL), SQLITE_OK);
    assert_false(store_pagemem_engaged()); /* a small cache: as before */
    assert_int_equal(store_pagemem_used(), 0);
    store_close(db);
    engage();
    db = db_open();
    size_t before = store_pagemem_used();
    assert_int_equal(sqlite3_exec(db, fill, NULL, NULL, NULL), SQLITE_OK);
    assert_true(store_pagemem_used() > before + 100); /* ~190 pages of 16 KiB */
    int64_t n = 0;
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(sql_int64(db, "SELECT count(*) FROM t WHERE length(x) = 1000", NULL, 0, &n,
                               &err),
                     0);
    assert_int_equal(n, 3000);
    store_close(db);
    assert_true(store_pagemem_used() <= before); /* the cache's lines given back */
}

static void test_slot_malloc_free_realloc(void **state)
{
    (void)state;
    store_close(db_open()); /* installs */
    engage();
    assert_true(store_pagemem_on());
    size_t before = store_pagemem_used();
    unsigned char *p = sqlite3_malloc(LINE);
    assert_non_null(p);
    assert_true(store_pagemem_owns(p));
    assert_int_equal(store_pagemem_used(), before + 1);
    assert_true(sqlite3_msize(p) >= LINE);
    memset(p, 0xA5, LINE);
    /* within a slot: stays */
    assert_ptr_equal(sqlite3_realloc(p, LINE + 60), p);
    /* past it: moved to SQLite's allocator, bytes kept, slot given back */
    unsigned char *q = sqlite3_realloc(p, 40000);
    assert_non_null(q);
    assert_false(store_pagemem_owns(q));
    assert_int_equal(store_pagemem_used(), before);
    for (size_t i = 0; i < LINE; i++)
        assert_int_equal(q[i], 0xA5);
    /* back to a line's size from SQLite's allocator: stays there */
    q = sqlite3_realloc(q, LINE);
    assert_false(store_pagemem_owns(q));
    sqlite3_free(q);
    /* shrunk from a slot to a small size: moved, the first bytes kept */
    p = sqlite3_malloc(LINE);
    assert_true(store_pagemem_owns(p));
    memcpy(p, "abcdef", 6);
    unsigned char *r = sqlite3_realloc(p, 6);
    assert_false(store_pagemem_owns(r));
    assert_memory_equal(r, "abcdef", 6);
    sqlite3_free(r);
    /* the last slot freed is the next given */
    p = sqlite3_malloc(LINE);
    sqlite3_free(p);
    assert_ptr_equal(sqlite3_malloc(LINE), p);
    sqlite3_free(p);
    /* other sizes are SQLite's allocator's */
    void *small = sqlite3_malloc(16384), *big = sqlite3_malloc(16769);
    assert_false(store_pagemem_owns(small));
    assert_false(store_pagemem_owns(big));
    sqlite3_free(small);
    sqlite3_free(big);
    assert_int_equal(store_pagemem_used(), before);
}

/* Every slot out: the next line comes from SQLite's allocator; all given back. */
static void test_region_used_up(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    size_t before = store_pagemem_used();
    size_t cap = 1 << 16, n = 0;
    void **v = malloc(cap * sizeof *v);
    assert_non_null(v);
    void *p;
    while ((p = sqlite3_malloc(LINE)) && store_pagemem_owns(p)) {
        assert_true(n < cap);
        v[n++] = p; /* never written: no memory used */
    }
    assert_non_null(p);
    assert_false(store_pagemem_owns(p));
    assert_true(n > 3000); /* at least a 64 MiB cache's worth */
    memset(p, 1, LINE);
    sqlite3_free(p);
    for (size_t i = 0; i < n; i++)
        sqlite3_free(v[i]);
    free(v);
    assert_int_equal(store_pagemem_used(), before);
    p = sqlite3_malloc(LINE);
    assert_true(store_pagemem_owns(p));
    sqlite3_free(p);
}

/* Whether the 4 KiB page holding p is resident (mincore). */
static bool resident_at(const void *p)
{
    long psz = sysconf(_SC_PAGESIZE);
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(psz - 1));
    unsigned char v = 0;
    assert_int_equal(mincore(page, (size_t)psz, &v), 0);
    return v & 1;
}

#define HUGE ((size_t)2 << 20)

/* 48 MiB of slots written and freed: all but STORE_PAGEMEM_KEEP of the
 * huge pages they filled are given back (the highest first), the lowest
 * stay; the next slots are the lowest again, and slots in given-back pages
 * work again (zero-filled, then written). */
static void test_pages_given_back_and_reused(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    assert_int_equal(store_pagemem_used(), 0);
    size_t n = ((size_t)48 << 20) / LINE;
    unsigned char **v = malloc(n * sizeof *v);
    assert_non_null(v);
    size_t released = store_pagemem_released();
    for (size_t i = 0; i < n; i++) {
        v[i] = sqlite3_malloc(LINE);
        assert_true(store_pagemem_owns(v[i]));
        assert_true(i == 0 || v[i] > v[i - 1]); /* the lowest free first: in address order */
        memset(v[i], (int)(i & 0x7f) + 1, LINE);
    }
    assert_true(store_pagemem_resident() >= ((size_t)48 << 20));
    assert_true(resident_at(v[0]) && resident_at(v[n - 1]));
    for (size_t i = 0; i < n; i++)
        sqlite3_free(v[i]);
    assert_int_equal(store_pagemem_used(), 0);
    /* the region keeps STORE_PAGEMEM_KEEP of free huge pages, the lowest */
    assert_true(store_pagemem_resident() <= STORE_PAGEMEM_KEEP);
    assert_true(store_pagemem_released() >= released + ((size_t)38 << 20) / HUGE);
    assert_true(resident_at(v[0]));
    assert_false(resident_at(v[n - 1]));
    assert_false(resident_at(v[n / 2]));
    /* taken again: the lowest first; the kept pages hold their old bytes,
     * the given-back ones read as zero until written */
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = sqlite3_malloc(LINE);
        assert_ptr_equal(p, v[i]);
        if (i == n - 1)
            assert_int_equal(p[LINE - 1], 0);
        memset(p, 0x5A, LINE);
    }
    assert_true(store_pagemem_resident() >= ((size_t)48 << 20));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i][0], 0x5A);
        assert_int_equal(v[i][LINE - 1], 0x5A);
        sqlite3_free(v[i]);
    }
    assert_true(store_pagemem_resident() <= STORE_PAGEMEM_KEEP);
    free(v);
}

/* A store's cache of ~48 MiB in slots, closed: its huge pages past
 * STORE_PAGEMEM_KEEP are given back. */
static void test_closed_cache_given_back(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    sqlite3 *db = db_open();
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE t(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                                  " SELECT i + 1 FROM n WHERE i < 48000)"
                                  " INSERT INTO t SELECT randomblob(1000) FROM n;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_true(store_pagemem_used() > 2000); /* ~3,000 pages of 16 KiB */
    assert_true(store_pagemem_resident() > ((size_t)32 << 20));
    store_close(db);
    assert_int_equal(store_pagemem_used(), 0);
    assert_true(store_pagemem_resident() <= STORE_PAGEMEM_KEEP);
}

static void *churn(void *arg)
{
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    void *held[64];
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < 64; i++) {
            held[i] = sqlite3_malloc(LINE);
            if (!held[i])
                return (void *)1;
            memset(held[i], tag, 64);
        }
        for (int i = 0; i < 64; i++) {
            const unsigned char *b = held[i];
            for (int k = 0; k < 64; k++)
                if (b[k] != tag)
                    return (void *)1;
            sqlite3_free(held[i]);
        }
    }
    return NULL;
}

/* Runs fn on four threads at once, each given its tag 1..4, and checks that
 * every one returned NULL (its bytes all found as written). */
static void run_four(void *(*fn)(void *))
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
}

static void test_threads(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    size_t before = store_pagemem_used();
    run_four(churn);
    assert_int_equal(store_pagemem_used(), before);
}

/* Each of four threads takes 700 slots (~11 MiB), writes them with its tag,
 * checks and gives them all back, 20 times: huge pages are given back while
 * other threads' slots live beside them, and none of their bytes is lost. */
static void *churn_big(void *arg)
{
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    enum { HELD = 700 };
    unsigned char **held = malloc(HELD * sizeof *held);
    if (!held)
        return (void *)1;
    void *rc = NULL;
    for (int round = 0; round < 20 && !rc; round++) {
        for (int i = 0; i < HELD; i++) {
            held[i] = sqlite3_malloc(LINE);
            if (!held[i] || !store_pagemem_owns(held[i]))
                return (void *)1;
            memset(held[i], tag, LINE);
        }
        for (int i = 0; i < HELD; i++) {
            if (held[i][0] != tag || held[i][LINE / 2] != tag || held[i][LINE - 1] != tag)
                rc = (void *)1;
            sqlite3_free(held[i]);
        }
    }
    free(held);
    return rc;
}

static void test_threads_with_pages_given_back(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    size_t released = store_pagemem_released();
    run_four(churn_big);
    assert_int_equal(store_pagemem_used(), 0);
    assert_true(store_pagemem_released() > released);
    assert_true(store_pagemem_resident() <= STORE_PAGEMEM_KEEP);
}

int main(void)
{
    unsetenv("QLOOP_PAGEMEM");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_pages_in_slots),
        cmocka_unit_test(test_slot_malloc_free_realloc),
        cmocka_unit_test(test_region_used_up),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_pages_given_back_and_reused),
        cmocka_unit_test(test_closed_cache_given_back),
        cmocka_unit_test(test_threads_with_pages_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
