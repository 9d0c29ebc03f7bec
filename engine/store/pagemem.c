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
 * (MADV_HUGEPAGE: this kernel's policy is "madvise"), handed out in address
 * order and reused last-freed first; memory is only used as slots are
 * first written, 2 MiB at a time. Every other allocation, and a line once
 * the region is used up, is SQLite's own allocator's (the methods it had).
 * A slot is never given back to the kernel before the process ends
 * (freed, it waits for the next line; the page cache keeps its lines until
 * its connection closes anyway).
 *
 * Thread-safe (one mutex around the free list and the next slot): the
 * portal's request threads share it. Off with QLOOP_PAGEMEM=0 (to measure
 * against), off Linux, and when SQLite was in use before (the
 * configuration is then refused and nothing changes).
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

static struct {
    pthread_mutex_t mu;
    sqlite3_mem_methods orig;   /* SQLite's allocator before */
    unsigned char *base, *end;  /* the slots' region */
    unsigned char *next;        /* the first slot never handed out */
    size_t lines;               /* lines live in SQLite's allocator, until engaged */
    bool engaged;               /* lines take slots (once PM_SMALL_LINES lived at once) */
    uint32_t freed[PM_SLOTS];   /* numbers of freed slots, the last freed last */
    size_t nfreed;              /* (kept apart: freeing touches no slot's memory) */
    size_t used;                /* slots handed out, not freed */
    bool on;
} pm = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Whether p is a slot of the region. */
static bool owned(const void *p)
{
    return pm.base && (const unsigned char *)p >= pm.base && (const unsigned char *)p < pm.end;
}

/* A slot, or NULL when none is left. */
static void *slot_take(void)
{
    pthread_mutex_lock(&pm.mu);
    void *p = NULL;
    if (pm.nfreed) {
        p = pm.base + (size_t)pm.freed[--pm.nfreed] * PM_SLOT;
    } else if ((size_t)(pm.end - pm.next) >= PM_SLOT) {
        p = pm.next;
        pm.next += PM_SLOT;
    }
    if (p)
        pm.used++;
    pthread_mutex_unlock(&pm.mu);
    return p;
}

/* Gives slot p back: the next slot_take hands it out first. */
static void slot_give(void *p)
{
    pthread_mutex_lock(&pm.mu);
    pm.freed[pm.nfreed++] = (uint32_t)(((unsigned char *)p - pm.base) / PM_SLOT);
    pm.used--;
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
    pm.base = pm.next = (unsigned char *)at;
    pm.end = pm.base + PM_SLOTS * PM_SLOT;
    (void)madvise(pm.base, PM_RESERVE, MADV_HUGEPAGE); /* advisory: 4 KiB pages otherwise */
    static const sqlite3_mem_methods wrapped = {pm_malloc, pm_free,  pm_realloc, pm_size,
                                                pm_roundup, pm_init, pm_shutdown, NULL};
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped) != SQLITE_OK) {
        munmap(map, PM_RESERVE + PM_HUGE);
        pm.base = pm.next = pm.end = NULL;
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
