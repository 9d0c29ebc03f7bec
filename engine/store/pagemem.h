/*
 * pagemem.h — SQLite's page-cache lines in a region of transparent huge
 * pages (pagemem.c): fewer page faults on the thread that fills a cache;
 * the memory of huge pages a shrunk cache no longer uses given back.
 */
#ifndef QLOOP_PAGEMEM_H
#define QLOOP_PAGEMEM_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* Wraps SQLite's allocator so that page-cache lines of 16 KiB pages come
 * from the region. Call once before SQLite's first use (store_open_mode
 * does); later, with QLOOP_PAGEMEM=0 or off Linux it changes nothing. */
void store_pagemem_install(void);
/* Whether the wrapper is installed. */
bool store_pagemem_on(void);
/* Whether lines take slots: once 16 MiB of them lived in SQLite's
 * allocator at once (a large cache filling). */
bool store_pagemem_engaged(void);
/* Whether p (from sqlite3_malloc) is a slot of the region. */
bool store_pagemem_owns(const void *p);
/* Slots handed out and not freed. */
size_t store_pagemem_used(void);
/* Bytes of the region's huge pages that slots were handed out in since
 * they were last given back (what the region may hold resident). */
size_t store_pagemem_resident(void);
/* Huge pages given back to the kernel so far (each 2 MiB). */
size_t store_pagemem_released(void);

/* Bytes of wholly free huge pages the region keeps resident for the next
 * lines; the memory of further free huge pages is given back. */
#define STORE_PAGEMEM_KEEP ((size_t)8 << 20)

#endif
