/*
 * test_pagemem.c — SQLite's page-cache lines in the huge-page region
 * (store/pagemem.c): installed by the first store_open; a small cache keeps
 * its lines in SQLite's allocator; once ~16 MiB of lines lived at once, a
 * store's 16 KiB pages are cached in slots; sqlite3_malloc of a line's size gives a slot,
 * its size is the slot's, freed it is given again, grown or shrunk past a
 * slot the bytes move to SQLite's own allocator and back, other sizes never
 * take one; once every slot is out, allocations go on from SQLite's
 * allocator; threads taking and giving slots at once lose none.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void test_threads(void **state)
{
    (void)state;
    store_close(db_open());
    engage();
    size_t before = store_pagemem_used();
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    assert_int_equal(store_pagemem_used(), before);
}

int main(void)
{
    unsetenv("QLOOP_PAGEMEM");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_pages_in_slots),
        cmocka_unit_test(test_slot_malloc_free_realloc),
        cmocka_unit_test(test_region_used_up),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
