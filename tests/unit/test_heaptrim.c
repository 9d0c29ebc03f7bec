/*
 * test_heaptrim.c — qloop_heap_trim (base/heaptrim.h) gives the free pages
 * inside malloc's heap back to the kernel: 48 MiB written and freed below a
 * block still in use stay resident until it is called, and are not after;
 * QLOOP_HEAPTRIM=0 leaves them. (Under a sanitizer, whose allocator is not
 * glibc's, only the switch is checked.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/heaptrim.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(SANITIZED)
#define GLIBC_HEAP 1 /* the allocator is glibc's: its heap's memory can be watched */
#endif

#ifdef GLIBC_HEAP
enum { BLOCK = 4096, BLOCKS = 12288 }; /* 48 MiB in blocks malloc keeps in its heap */

/* The process's resident memory, in bytes. */
static long resident(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* Writes BLOCKS blocks, keeps one allocated after them (the heap's top
 * cannot shrink past it), frees the blocks; returns the kept one. */
static void *freed_below_kept(void)
{
    void **v = malloc(BLOCKS * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < BLOCKS; i++) {
        v[i] = malloc(BLOCK);
        assert_non_null(v[i]);
        memset(v[i], 0x5a, BLOCK);
    }
    void *kept = malloc(BLOCK);
    assert_non_null(kept);
    memset(kept, 1, BLOCK);
    for (size_t i = 0; i < BLOCKS; i++)
        free(v[i]);
    free(v);
    return kept;
}
#endif

static void test_gives_back(void **state)
{
    (void)state;
#ifdef GLIBC_HEAP
    unsetenv("QLOOP_HEAPTRIM");
    void *kept = freed_below_kept();
    long before = resident();
    assert_true(qloop_heap_trim());
    long after = resident();
    if (before - after < 32L << 20)
        fail_msg("resident %ld -> %ld bytes: the free blocks were not given back", before, after);
    free(kept);
#else
    skip();
#endif
}

static void test_switched_off(void **state)
{
    (void)state;
    setenv("QLOOP_HEAPTRIM", "0", 1);
#ifdef GLIBC_HEAP
    void *kept = freed_below_kept();
    long before = resident();
    assert_false(qloop_heap_trim());
    long after = resident();
    if (before - after > 8L << 20)
        fail_msg("resident %ld -> %ld bytes with QLOOP_HEAPTRIM=0", before, after);
    unsetenv("QLOOP_HEAPTRIM");
    assert_true(qloop_heap_trim()); /* what was left is given back when on */
    free(kept);
#else
    assert_false(qloop_heap_trim());
#endif
    unsetenv("QLOOP_HEAPTRIM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gives_back),
        cmocka_unit_test(test_switched_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
