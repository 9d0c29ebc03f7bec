/*
 * test_openrefs.c — the set of open items' record refs with a seen bit each
 * (run/openrefs.h): against a plain list it finds exactly the refs added —
 * duplicates, refs sharing their leading bits, the ends of the order, an
 * empty set, a set of one — marks and reports seen exactly the refs seen,
 * and leaves out texts that are not a ref (wrong length, upper case, not
 * hex), which a run's computed ref can never equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/sha256.h"
#include "run/openrefs.h"
#include "store/store.h"
#include "seeded_rng.h"

static void hex_of(uint64_t hi, uint64_t lo, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
}

static void test_empty(void **state)
{
    (void)state;
    struct openrefs *s = openrefs_new();
    openrefs_seal(s);
    assert_int_equal(openrefs_count(s), 0);
    assert_false(openrefs_see(s, "0123456789abcdef0123456789abcdef"));
    assert_false(openrefs_seen(s, "0123456789abcdef0123456789abcdef"));
    assert_false(openrefs_seen(NULL, "0123456789abcdef0123456789abcdef"));
    assert_int_equal(openrefs_count(NULL), 0);
    openrefs_free(s);
}

static void test_not_refs(void **state)
{
    (void)state;
    struct openrefs *s = openrefs_new();
    assert_false(openrefs_add(s, ""));
    assert_false(openrefs_add(s, "0123456789abcdef0123456789abcde"));   /* 31 */
    assert_false(openrefs_add(s, "0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(openrefs_add(s, "0123456789ABCDEF0123456789abcdef"));  /* upper case */
    assert_false(openrefs_add(s, "0123456789abcdeg0123456789abcdef"));  /* not hex */
    assert_false(openrefs_add(s, NULL));
    assert_true(openrefs_add(s, "0123456789abcdef0123456789abcdef"));
    openrefs_seal(s);
    assert_int_equal(openrefs_count(s), 1);
    /* a short text is not read past its end, and is no ref */
    assert_false(openrefs_see(s, "0123456789abcdef"));
    assert_false(openrefs_see(s, "0123456789ABCDEF0123456789abcdef"));
    assert_false(openrefs_seen(s, "0123456789abcdef0123456789abcdef"));
    /* see reads 32 bytes: a ref inside a longer text is seen */
    assert_true(openrefs_see(s, "0123456789abcdef0123456789abcdefXYZ"));
    assert_true(openrefs_seen(s, "0123456789abcdef0123456789abcdef"));
    assert_false(openrefs_seen(s, "0123456789abcdef0123456789abcdefXYZ"));
    openrefs_free(s);
}

/* n random refs (some repeated, some sharing hi, the extremes), half of
 * them seen: every query agrees with the list. */
static void check_random(size_t n, uint64_t seed)
{
    uint64_t rng = seed;
    uint64_t(*v)[2] = calloc(n + 4, sizeof *v);
    size_t m = 0;
    v[m][0] = 0, v[m++][1] = 0;
    v[m][0] = UINT64_MAX, v[m++][1] = UINT64_MAX;
    while (m < n) {
        uint64_t hi = seeded_next(&rng), lo = seeded_next(&rng);
        if (m > 2 && m % 7 == 0)
            hi = v[m - 1][0]; /* same leading bits, other low half */
        if (m > 2 && m % 11 == 0)
            hi = v[m - 1][0], lo = v[m - 1][1]; /* a duplicate */
        v[m][0] = hi, v[m++][1] = lo;
    }
    struct openrefs *s = openrefs_new();
    char hex[33];
    for (size_t i = 0; i < m; i++) {
        hex_of(v[i][0], v[i][1], hex);
        assert_true(openrefs_add(s, hex));
    }
    openrefs_seal(s);
    size_t distinct = 0;
    for (size_t i = 0; i < m; i++) {
        bool dup = false;
        for (size_t j = i > 3 ? i - 3 : 0; j < i; j++) /* duplicates are made adjacent */
            dup |= v[j][0] == v[i][0] && v[j][1] == v[i][1];
        distinct += !dup;
    }
    assert_int_equal(openrefs_count(s), distinct);
    for (size_t i = 0; i < m; i += 2) {
        hex_of(v[i][0], v[i][1], hex);
        assert_true(openrefs_see(s, hex));
    }
    for (size_t i = 0; i < m; i++) {
        hex_of(v[i][0], v[i][1], hex);
        bool seen_copy = false; /* seen through this ref or its duplicate */
        for (size_t j = i > 3 ? i - 3 : 0; j <= i + 3 && j < m; j++)
            if (j % 2 == 0 && v[j][0] == v[i][0] && v[j][1] == v[i][1])
                seen_copy = true;
        assert_int_equal(openrefs_seen(s, hex), seen_copy);
        /* a ref next to it is not in the set */
        hex_of(v[i][0], v[i][1] ^ 0x8000, hex);
        assert_false(openrefs_see(s, hex));
    }
    assert_true(openrefs_bytes(s) < 64 * (m + 16) + 256);
    openrefs_free(s);
    free(v);
}

static void test_random_sizes(void **state)
{
    (void)state;
    size_t sizes[] = {3, 4, 5, 17, 64, 1000, 50000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_random(sizes[i], 1234 + i);
}

/* Sealing again after more refs keeps them all, and clears what was seen. */
static void test_seal_again(void **state)
{
    (void)state;
    struct openrefs *s = openrefs_new();
    assert_true(openrefs_add(s, "ffffffffffffffff0000000000000001"));
    openrefs_seal(s);
    assert_true(openrefs_see(s, "ffffffffffffffff0000000000000001"));
    assert_true(openrefs_add(s, "00000000000000000000000000000002"));
    openrefs_seal(s);
    assert_int_equal(openrefs_count(s), 2);
    assert_false(openrefs_seen(s, "ffffffffffffffff0000000000000001"));
    assert_true(openrefs_see(s, "00000000000000000000000000000002"));
    assert_true(openrefs_seen(s, "00000000000000000000000000000002"));
    openrefs_free(s);
}

/* By bytes (qloop_unhex128), as the workers look refs up: the same answer
 * as by text, a position that marks that ref seen and no other, and the
 * prefetch hint harmless on any ref and on an empty set. */
static void test_by_bytes(void **state)
{
    (void)state;
    struct openrefs *s = openrefs_new();
    char refs[64][33];
    for (unsigned i = 0; i < 64; i++) {
        snprintf(refs[i], sizeof refs[i], "%08x%08x%08x%08x", i * 2654435761u, i, ~i, i * 40503u);
        if (i % 2 == 0)
            assert_true(openrefs_add(s, refs[i]));
    }
    uint64_t r[2];
    openrefs_prefetch128(s, (uint64_t[2]){0, 0}, 0); /* before sealing */
    openrefs_seal(s);
    for (unsigned i = 0; i < 64; i++) {
        assert_true(qloop_unhex128(refs[i], r));
        openrefs_prefetch128(s, r, 0);
        openrefs_prefetch128(s, r, 1);
        long pos = openrefs_find128(s, r);
        assert_int_equal(pos >= 0, openrefs_has(s, refs[i]));
        if (i % 4 == 0)
            openrefs_see_at(s, (size_t)pos);
    }
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(openrefs_seen(s, refs[i]), i % 4 == 0);
    openrefs_see_at(s, openrefs_count(s)); /* past the end: nothing */
    assert_int_equal(openrefs_find128(NULL, r), -1);
    openrefs_free(s);
}

/* The workers' refs as numbers (store_record_ref_words) are the stored
 * refs' text read back (qloop_unhex128 of store_record_ref_keyed). */
static void test_ref_words(void **state)
{
    (void)state;
    unsigned char secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (unsigned char)(i * 7 + 1);
    const char *keys[] = {"", "a", "110101199003077777", "键\0内", "0123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789"};
    const size_t lens[] = {0, 1, 18, 8, 80};
    for (size_t k = 0; k < 5; k++) {
        char hex[33];
        uint64_t want[2], got[2];
        store_record_ref_keyed(secret, "pop", keys[k], lens[k], hex);
        assert_true(qloop_unhex128(hex, want));
        store_record_ref_words(secret, "pop", keys[k], lens[k], got);
        assert_true(want[0] == got[0] && want[1] == got[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_not_refs),
        cmocka_unit_test(test_random_sizes),
        cmocka_unit_test(test_seal_again),
        cmocka_unit_test(test_by_bytes),
        cmocka_unit_test(test_ref_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
