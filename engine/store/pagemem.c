/*
 * pagemem.c — the memory of SQLite's page caches, in huge pages.
 *
 * A run's connection fills a 64 MiB page cache during its write phase
 * (16 KiB pages, each with pcache's headers: one allocation of ~16.6 KiB).
 * From malloc, that memory is new to the process when the write phase
 * begins, and the run's thread took a page fault, and the kernel's zeroing
 * of a 4 KiB page, for every 4 KiB of it it first touched: W1 1M night 1,
 * ~23,000 minor faults on the run's thread after the read, about a sixth
 * of its time there (the fault path of this machine's paravirtualised
 * kernel is dear). The same run with glibc's heap in transparent huge pages
 * (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) took 1,400–1,900 faults and a
 * quarter less CPU after the read (bench/README.md, "A first night's tail
 * on both cores").
 *
 * So SQLite's allocator is wrapped (SQLITE_CONFIG_MALLOC, once, before
 * SQLite's first use; store_open_mode). Once PM_SMALL of page-cache lines
 * (more than PM_MIN bytes, at most PM_SLOT) have lived at once in SQLite's
 * own allocator (a large cache filling; smaller ones never get here), each
 * further line takes a slot of a region reserved once (address space
 * only: PM_RESERVE, MAP_NORESERVE) and marked for transparent huge pages
 * (MADV_HUGEPAGE: this kernel's policy is "madvise"), the lowest free
 * slot first; memory is only used as slots are first written, 2 MiB at a
 * time. Every other allocation, and a line once the region is used up, is
 * SQLite's own allocator's (the methods it had).
 * A freed slot waits for the next line; as the lowest free slot is handed
 * out first, live lines gather at the region's start and whole huge
 * pages above them fall free when a cache shrinks (a connection closed,
 * sqlite3_db_release_memory after the memo's look-ups, a smaller
 * cache_size). Of the huge pages no slot uses, PM_KEEP bytes (the lowest)
 * stay resident for the next lines; the memory of the others is given
 * back to the kernel (MADV_DONTNEED, 2 MiB each), so that what a shrunk
 * cache held does not stay resident beside malloc's heap, which cannot
 * reuse it (W1 10M night 2's read phase: the region held 50 MiB after the
 * memo's look-ups, now 8 MiB; bench/README.md, "Page faults and peak
 * memory").
 *
 * Thread-safe (one mutex around the slots' bitmap, the huge pages' counts
 * and their release): the portal's request threads share it. Off with
 * QLOOP_PAGEMEM=0 (to measure against), off Linux, and when SQLite was in
 * use before (the configuration is then refused and nothing changes).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store/pagemem.h"

/* Requests of more than PM_MIN and at most PM_SLOT bytes take a slot: a
 * 16 KiB page with pcache's headers (pager's extra, PgHdr1): 16,648 bytes
 * with SQLite 3.40's, a little slack for other builds, a multiple of 64
 * (the slots' memory is what the cache would take from malloc, within
 * 1 %); 4 KiB pages of older stores stay malloc's. */
#define PM_MIN 16384
#define PM_SLOT 16768
/* Address space reserved for slots: the run's 64 MiB cache and the
 * portal's connections several times over. */
#define PM_RESERVE ((size_t)512 << 20)
#define PM_SLOTS (PM_RESERVE / PM_SLOT)
#define PM_HUGE ((size_t)2 << 20)
/* Lines live in SQLite's allocator before slots are used at all: a process
 * that caches little (a command, a small run: the page cache of W1's
 * first 100,000 rows, an ODBC read of 300,000 rows) keeps its memory as it
 * was, in malloc's heap, whose freed lines other allocations reuse (slots,
 * reused only by lines, made such a run's peak ~0.9 MB higher); one that
 * fills a large cache takes the lines past these in huge pages. */
#define PM_SMALL ((size_t)16 << 20)
#define PM_SMALL_LINES (PM_SMALL / PM_SLOT)
/* Huge pages of the region, and words of the free slots' bitmap. */
#define PM_PAGES (PM_RESERVE / PM_HUGE)
#define PM_WORDS ((PM_SLOTS + 63) / 64)
/* Wholly free huge pages kept resident (the lowest ones: the next lines
 * take them first); past these, free huge pages are given back. */
#define PM_KEEP STORE_PAGEMEM_KEEP
#define PM_KEEP_PAGES (PM_KEEP / PM_HUGE)

static struct {
    pthread_mutex_t mu;
    sqlite3_mem_methods orig;   /* SQLite's allocator before */
    unsigned char *base, *end;  /* the slots' region */
    size_t lines;               /* lines live in SQLite's allocator, until engaged */
    bool engaged;               /* lines take slots (once PM_SMALL_LINES lived at once) */
    uint64_t free[PM_WORDS];    /* bit set: slot free (kept apart: freeing touches no slot) */
    size_t low;                 /* no word below this one has a free slot */
    uint16_t busy[PM_PAGES];    /* slots handed out that overlap each huge page */
    bool resident[PM_PAGES];    /* a slot of it was handed out since it was last given back */
    size_t idle;                /* resident huge pages with no slot handed out */
    size_t nresident;           /* resident huge pages */
    size_t released;            /* huge pages given back, in all */
    size_t used;                /* slots handed out, not freed */
    bool on;
} pm = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Whether p is a slot of the region. */
static bool owned(const void *p)
{
    return pm.base && (const unsigned char *)p >= pm.base && (const unsigned char *)p < pm.end;
}

/* The huge pages slot i overlaps: *first to *last (a slot may straddle two). */
static void slot_pages(size_t i, size_t *first, size_t *last)
{
    size_t off = i * PM_SLOT;
    *first = off / PM_HUGE;
    *last = (off + PM_SLOT - 1) / PM_HUGE;
}

/* A slot, or NULL when none is left: the lowest free one. Its huge pages
 * count it; a page given back before is resident again once written. */
static void *slot_take(void)
{
    pthread_mutex_lock(&pm.mu);
    void *p = NULL;
    while (pm.low < PM_WORDS && !pm.free[pm.low])
        pm.low++;
    if (pm.low < PM_WORDS) {
        size_t i = pm.low * 64 + (size_t)__builtin_ctzll(pm.free[pm.low]);
        pm.free[pm.low] &= pm.free[pm.low] - 1;
        size_t first, last;
        slot_pages(i, &first, &last);
        for (size_t h = first; h <= last; h++) {
            if (!pm.resident[h]) {
                pm.resident[h] = true;
                pm.nresident++;
            } else if (pm.busy[h] == 0) {
                pm.idle--;
            }
            pm.busy[h]++;
        }
        pm.used++;
        p = pm.base + i * PM_SLOT;
    }
    pthread_mutex_unlock(&pm.mu);
    return p;
}

/* Gives back to the kernel the memory of the highest resident huge pages no
 * slot uses, until PM_KEEP_PAGES are left. With the mutex held: no slot of
 * such a page can be handed out meanwhile. */
static void pages_release(void)
{
    for (size_t h = PM_PAGES; h-- > 0 && pm.idle > PM_KEEP_PAGES;) {
        if (!pm.resident[h] || pm.busy[h])
            continue;
        /* zero-filled when next touched */
        (void)madvise(pm.base + h * PM_HUGE, PM_HUGE, MADV_DONTNEED);
        pm.resident[h] = false;
        pm.nresident--;
        pm.idle--;
        pm.released++;
    }
}

/* Gives slot p back: the lowest free slot is handed out next; its huge
 * pages, once no slot uses them, may be given back to the kernel. */
static void slot_give(void *p)
{
    pthread_mutex_lock(&pm.mu);
    size_t i = (size_t)((unsigned char *)p - pm.base) / PM_SLOT;
    pm.free[i / 64] |= (uint64_t)1 << (i % 64);
    if (i / 64 < pm.low)
        pm.low = i / 64;
    size_t first, last;
    slot_pages(i, &first, &last);
    for (size_t h = first; h <= last; h++)
        if (--pm.busy[h] == 0)
            pm.idle++;
    pm.used--;
    if (pm.idle > PM_KEEP_PAGES)
        pages_release();
    pthread_mutex_unlock(&pm.mu);
}

/* Whether an allocation of n bytes is a line. */
static bool line_size(int n) { return n > PM_MIN && n <= PM_SLOT; }

/* Counts a line allocated (+1) or freed (-1) in SQLite's allocator until
 * enough live at once to engage the slots. */
static void count_line(int d)
{
    pthread_mutex_lock(&pm.mu);
    if (d < 0 && pm.lines > 0)
        pm.lines--;
    else if (d > 0 && ++pm.lines >= PM_SMALL_LINES)
        __atomic_store_n(&pm.engaged, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&pm.mu);
}

/* SQLite's xMalloc: a slot for a line once engaged (while any is left),
 * else SQLite's allocator, a line counted there until engaged. */
static void *pm_malloc(int n)
{
    if (!line_size(n))
        return pm.orig.xMalloc(n);
    if (__atomic_load_n(&pm.engaged, __ATOMIC_ACQUIRE)) {
        void *p = slot_take();
        if (p)
            return p;
        return pm.orig.xMalloc(n);
    }
    void *p = pm.orig.xMalloc(n);
    if (p)
        count_line(1);
    return p;
}

/* SQLite's xFree: a slot back to the free list, else to SQLite's
 * allocator (a line uncounted until engaged). */
static void pm_free(void *p)
{
    if (owned(p)) {
        slot_give(p);
        return;
    }
    if (p && !__atomic_load_n(&pm.engaged, __ATOMIC_ACQUIRE) && line_size(pm.orig.xSize(p)))
        count_line(-1);
    pm.orig.xFree(p);
}

/* A slot stays where it is for any size it holds; otherwise the bytes move
 * to a new allocation of either kind. */
static void *pm_realloc(void *p, int n)
{
    if (!owned(p))
        return pm.orig.xRealloc(p, n); /* (lines are not reallocated: the count stays an estimate) */
    if (n > PM_MIN && n <= PM_SLOT)
        return p;
    void *q = pm_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, n < PM_SLOT ? (size_t)n : PM_SLOT);
    slot_give(p);
    return q;
}

/* SQLite's xSize, xRoundup, xInit and xShutdown: a slot's size, else
 * SQLite's allocator's answers. */
static int pm_size(void *p) { return owned(p) ? PM_SLOT : pm.orig.xSize(p); }

static int pm_roundup(int n) { return pm.orig.xRoundup(n); }

static int pm_init(void *unused)
{
    (void)unused;
    return pm.orig.xInit(pm.orig.pAppData);
}

static void pm_shutdown(void *unused)
{
    (void)unused;
    pm.orig.xShutdown(pm.orig.pAppData);
}

void store_pagemem_install(void)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const char *off = getenv("QLOOP_PAGEMEM");
    if ((off && strcmp(off, "0") == 0) || pm.on)
        return;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &pm.orig) != SQLITE_OK || !pm.orig.xMalloc)
        return;
    void *map = mmap(NULL, PM_RESERVE + PM_HUGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return;
    /* slots from a 2 MiB boundary: whole huge pages */
    uintptr_t at = ((uintptr_t)map + PM_HUGE - 1) & ~(uintptr_t)(PM_HUGE - 1);
    pm.base = (unsigned char *)at;
    pm.end = pm.base + PM_SLOTS * PM_SLOT;
    for (size_t i = 0; i < PM_SLOTS; i++)
        pm.free[i / 64] |= (uint64_t)1 << (i % 64);
    pm.low = 0;
    (void)madvise(pm.base, PM_RESERVE, MADV_HUGEPAGE); /* advisory: 4 KiB pages otherwise */
    static const sqlite3_mem_methods wrapped = {pm_malloc, pm_free,  pm_realloc, pm_size,
                                                pm_roundup, pm_init, pm_shutdown, NULL};
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped) != SQLITE_OK) {
        munmap(map, PM_RESERVE + PM_HUGE);
        pm.base = pm.end = NULL;
        return;
    }
    pm.on = true;
#endif
}

bool store_pagemem_on(void) { return pm.on; }

bool store_pagemem_engaged(void) { return __atomic_load_n(&pm.engaged, __ATOMIC_ACQUIRE); }

bool store_pagemem_owns(const void *p) { return owned(p); }

size_t store_pagemem_used(void)
{
    pthread_mutex_lock(&pm.mu);
    size_t n = pm.used;
    pthread_mutex_unlock(&pm.mu);
    return n;
}

size_t store_pagemem_resident(void)
{
    pthread_mutex_lock(&pm.mu);
    size_t n = pm.nresident * PM_HUGE;
    pthread_mutex_unlock(&pm.mu);
    return n;
}

size_t store_pagemem_released(void)
{
    pthread_mutex_lock(&pm.mu);
    size_t n = pm.released;
    pthread_mutex_unlock(&pm.mu);
    return n;
}
