/*
 * writebehind.c — a bulk transaction's page writes made by a thread of
 * the store instead of the run's thread.
 *
 * A run alone with the store writes one large transaction with a rollback
 * journal (store_begin_bulk). Whenever SQLite's page cache is full it
 * writes pages into the store file (pwrite, one page a call): at 10M the
 * compare's ~800 MB, most of them during the ticket phase, where the run's
 * thread is alone and a quarter of its time was the kernel copying those
 * pages into its page cache (bench/README.md, "The compare at 10M, second
 * round"). While the transaction runs, the store file's sqlite3_file gets
 * methods of its own (its pMethods swapped, the unix VFS's kept and called
 * for everything else): a whole-page write is copied into a queue and
 * returns; a thread of the store takes the queue in order and writes each
 * page with pwrite on SQLite's own descriptor (writeback.c's
 * store_file_descriptor, never one opened here). What the file holds for
 * SQLite never differs from what it would hold without the queue:
 *  - a read of a page still queued is served from its latest copy; a read
 *    that overlaps a queued page otherwise first waits until the queue is
 *    written (drained); a page written again while queued replaces its
 *    copy in place, unless the thread is writing it (then a new copy goes
 *    behind it: one thread, in order, so the last write wins);
 *  - anything else on the file — sync, truncate, size, unlock, close, a
 *    write that is not one whole page, every file control but the size
 *    hint (advisory; the unix VFS does nothing with it without a chunk
 *    size or memory map, and neither is set: store_writebehind_start
 *    refuses a connection with mmap_size > 0) — first drains the queue, so
 *    the COMMIT's sync (and a rollback's) finds every page written, and no
 *    lock is given up with a page still in memory. Memory maps are not
 *    handed out while it runs (xFetch gives none: SQLite reads instead).
 *  - Durability is unchanged: a page only ever reaches the file later than
 *    without the queue, never earlier (the journal is synced before a
 *    protected page is written, as before), and the COMMIT syncs after the
 *    drain. A kill loses queued pages of an uncommitted transaction,
 *    which the hot journal's rollback does not need (pages never written
 *    are as they were; pages past the old end are truncated).
 * A failed pwrite is kept: the next drain (the sync, store_writebehind_stop)
 * reports SQLITE_IOERR_WRITE, and store_commit rolls back instead of
 * committing. The queue holds at most WB_QUEUE_BYTES; a write finding it
 * full waits for the thread. One connection of the process at a time;
 * QLOOP_WRITEBEHIND=0 turns it off (to measure against). Linux only, like
 * writeback.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* The most bytes of pages waiting in the queue. */
#define WB_QUEUE_BYTES ((size_t)32 << 20)
/* Pages queued before a sleeping thread is woken: one wake-up (a futex
 * call on each side, ~3 % of the run's thread in the ticket phase when
 * woken for every page) per 256 KiB of 16 KiB pages. A drain or a stop
 * wakes it whatever is queued. */
#define WB_WAKE_PAGES 16
/* Buckets of the page map (a power of two). */
#define WB_BUCKETS 4096u

/* A page waiting to be written: in the queue (next) and, while it is its
 * page's latest copy, in the map (hnext). */
struct wb_page {
    struct wb_page *next, *hnext;
    int64_t pgno;
    unsigned char data[];
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the queue has a page, or stop */
    pthread_cond_t room; /* a page was written */
    pthread_t thread;
    sqlite3 *db;                     /* the connection whose store file is watched */
    sqlite3_file *file;              /* its main file */
    const sqlite3_io_methods *orig;  /* the file's own methods */
    int fd;
    int page;                        /* the page size */
    struct wb_page *head, *tail;     /* the queue, oldest first */
    struct wb_page *writing;         /* taken by the thread, being written */
    struct wb_page *map[WB_BUCKETS]; /* latest copy of each queued page */
    size_t queued;                   /* pages in the queue or being written */
    int draining;                    /* threads waiting in drain */
    bool sleeping;                   /* the thread waits for work */
    bool stop;
    int failed;                      /* errno of a failed write, 0 when none */
    long pages;                      /* pages written by the thread, in all */
} wbh = {.mu = PTHREAD_MUTEX_INITIALIZER,
         .work = PTHREAD_COND_INITIALIZER,
         .room = PTHREAD_COND_INITIALIZER,
         .fd = -1};

static sqlite3_io_methods behind_methods;

/* The map's bucket of page pgno. */
static struct wb_page **bucket(int64_t pgno)
{
    return &wbh.map[(uint64_t)pgno * 0x9E3779B97F4A7C15ull >> 52 & (WB_BUCKETS - 1)];
}

/* The latest queued copy of page pgno, or NULL. Under wbh.mu. */
static struct wb_page *find(int64_t pgno)
{
    for (struct wb_page *p = *bucket(pgno); p; p = p->hnext)
        if (p->pgno == pgno)
            return p;
    return NULL;
}

/* Takes p out of the map if it is there. Under wbh.mu. */
static void unmap(struct wb_page *p)
{
    for (struct wb_page **at = bucket(p->pgno); *at; at = &(*at)->hnext)
        if (*at == p) {
            *at = p->hnext;
            return;
        }
}

/* Writes len bytes of buf at off on fd, whole. 0 or an errno. */
static int write_all(int fd, const unsigned char *buf, size_t len, int64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        if (n == 0)
            return EIO;
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* The thread: writes the queue's pages in order until told to stop with
 * the queue empty. */
static void *behind_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&wbh.mu);
    for (;;) {
        /* on with a page while awake; asleep, once enough are queued or
         * someone drains; to the end of the queue once told to stop */
        while (!wbh.stop && !(wbh.head && (!wbh.sleeping || wbh.draining ||
                                           wbh.queued >= WB_WAKE_PAGES))) {
            wbh.sleeping = true;
            pthread_cond_wait(&wbh.work, &wbh.mu);
        }
        wbh.sleeping = false;
        if (!wbh.head)
            break; /* stopped, the queue written */
        struct wb_page *p = wbh.head;
        wbh.head = p->next;
        if (!wbh.head)
            wbh.tail = NULL;
        wbh.writing = p;
        int fd = wbh.fd;
        size_t len = (size_t)wbh.page;
        pthread_mutex_unlock(&wbh.mu);
        int rc = write_all(fd, p->data, len, p->pgno * (int64_t)len);
        pthread_mutex_lock(&wbh.mu);
        if (rc != 0 && !wbh.failed)
            wbh.failed = rc;
        unmap(p);
        wbh.writing = NULL;
        wbh.queued--;
        wbh.pages++;
        pthread_cond_broadcast(&wbh.room);
        free(p);
    }
    pthread_mutex_unlock(&wbh.mu);
    return NULL;
}

/* Waits until every queued page is written. SQLITE_OK, or
 * SQLITE_IOERR_WRITE when a write failed (kept: every later drain fails
 * too, until the watch stops). */
static int drain(void)
{
    pthread_mutex_lock(&wbh.mu);
    if (wbh.queued > 0) {
        wbh.draining++;
        pthread_cond_signal(&wbh.work);
        while (wbh.queued > 0)
            pthread_cond_wait(&wbh.room, &wbh.mu);
        wbh.draining--;
    }
    int failed = wbh.failed;
    pthread_mutex_unlock(&wbh.mu);
    return failed ? SQLITE_IOERR_WRITE : SQLITE_OK;
}

/* ---- the file's methods while watched ------------------------------------ */

static int finish(void);

/* The file closed while watched (a connection closed without
 * store_close): the queue written and the watch ended first. */
static int b_close(sqlite3_file *f)
{
    const sqlite3_io_methods *orig = wbh.orig;
    (void)finish();
    return orig->xClose(f);
}

static int b_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    int64_t ps = wbh.page;
    bool overlap = false;
    pthread_mutex_lock(&wbh.mu);
    if (wbh.queued > 0 && amt > 0) {
        if (amt == ps && off % ps == 0) {
            struct wb_page *p = find(off / ps);
            if (p) {
                memcpy(buf, p->data, (size_t)ps);
                pthread_mutex_unlock(&wbh.mu);
                return SQLITE_OK;
            }
        } else {
            for (int64_t g = off / ps; !overlap && g <= (off + amt - 1) / ps; g++)
                overlap = find(g) != NULL;
        }
    }
    pthread_mutex_unlock(&wbh.mu);
    if (overlap) {
        int rc = drain();
        if (rc != SQLITE_OK)
            return SQLITE_IOERR_READ;
    }
    return wbh.orig->xRead(f, buf, amt, off);
}

static int b_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    int64_t ps = wbh.page;
    if (amt != ps || off % ps != 0) {
        int rc = drain();
        return rc != SQLITE_OK ? rc : wbh.orig->xWrite(f, buf, amt, off);
    }
    int64_t pgno = off / ps;
    struct wb_page *fresh = malloc(sizeof *fresh + (size_t)ps);
    if (!fresh) {
        int rc = drain();
        return rc != SQLITE_OK ? rc : wbh.orig->xWrite(f, buf, amt, off);
    }
    memcpy(fresh->data, buf, (size_t)ps);
    pthread_mutex_lock(&wbh.mu);
    while (wbh.queued * (size_t)ps >= WB_QUEUE_BYTES && !wbh.failed)
        pthread_cond_wait(&wbh.room, &wbh.mu);
    if (wbh.failed) {
        pthread_mutex_unlock(&wbh.mu);
        free(fresh);
        return SQLITE_IOERR_WRITE;
    }
    /* looked up after the wait: a copy being written then may be gone */
    struct wb_page *p = find(pgno);
    if (p && p != wbh.writing) {
        /* still waiting: its copy replaced in place, one write saved */
        memcpy(p->data, fresh->data, (size_t)ps);
        pthread_mutex_unlock(&wbh.mu);
        free(fresh);
        return SQLITE_OK;
    }
    if (p)
        unmap(p); /* being written: the new copy is the latest */
    fresh->pgno = pgno;
    fresh->next = NULL;
    fresh->hnext = *bucket(pgno);
    *bucket(pgno) = fresh;
    if (wbh.tail)
        wbh.tail->next = fresh;
    else
        wbh.head = fresh;
    wbh.tail = fresh;
    wbh.queued++;
    if (wbh.sleeping && wbh.queued >= WB_WAKE_PAGES)
        pthread_cond_signal(&wbh.work);
    pthread_mutex_unlock(&wbh.mu);
    return SQLITE_OK;
}

static int b_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = drain();
    return rc != SQLITE_OK ? rc : wbh.orig->xTruncate(f, size);
}

static int b_sync(sqlite3_file *f, int flags)
{
    int rc = drain();
    return rc != SQLITE_OK ? SQLITE_IOERR_FSYNC : wbh.orig->xSync(f, flags);
}

static int b_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = drain();
    return rc != SQLITE_OK ? SQLITE_IOERR_FSTAT : wbh.orig->xFileSize(f, size);
}

static int b_lock(sqlite3_file *f, int level) { return wbh.orig->xLock(f, level); }

static int b_unlock(sqlite3_file *f, int level)
{
    (void)drain(); /* a failed write is reported by the sync or the stop */
    return wbh.orig->xUnlock(f, level);
}

static int b_check_reserved(sqlite3_file *f, int *out)
{
    return wbh.orig->xCheckReservedLock(f, out);
}

static int b_file_control(sqlite3_file *f, int op, void *arg)
{
    if (op == SQLITE_FCNTL_SIZE_HINT)
        return SQLITE_OK; /* advisory: nothing to preallocate or map here */
    int rc = drain();
    if (rc != SQLITE_OK && op == SQLITE_FCNTL_SYNC)
        return SQLITE_IOERR_FSYNC;
    return wbh.orig->xFileControl(f, op, arg);
}

static int b_sector_size(sqlite3_file *f) { return wbh.orig->xSectorSize(f); }

static int b_device(sqlite3_file *f) { return wbh.orig->xDeviceCharacteristics(f); }

static int b_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return wbh.orig->xShmMap(f, region, size, extend, pp);
}

static int b_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return wbh.orig->xShmLock(f, offset, n, flags);
}

static void b_shm_barrier(sqlite3_file *f) { wbh.orig->xShmBarrier(f); }

static int b_shm_unmap(sqlite3_file *f, int del) { return wbh.orig->xShmUnmap(f, del); }

static int b_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    (void)f;
    (void)off;
    (void)amt;
    *pp = NULL; /* no map: SQLite reads the page (b_read) */
    return SQLITE_OK;
}

static int b_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return wbh.orig->xUnfetch(f, off, p);
}

/* ---- start and stop -------------------------------------------------------- */

/* The integer PRAGMA sql gives on db, or -1. */
static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

void store_writebehind_start(sqlite3 *db)
{
#ifdef __linux__
    const char *off = getenv("QLOOP_WRITEBEHIND");
    if (off && strcmp(off, "0") == 0)
        return;
    int fd = store_file_descriptor(db);
    sqlite3_file *file = NULL;
    int64_t page = pragma_int(db, "PRAGMA main.page_size");
    if (fd < 0 ||
        sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        !file || !file->pMethods || file->pMethods->iVersion < 3 ||
        pragma_int(db, "PRAGMA main.mmap_size") != 0 || page < 512 || page > 65536)
        return;
    pthread_mutex_lock(&wbh.mu);
    if (!wbh.db) {
        wbh.fd = fd;
        wbh.page = (int)page;
        wbh.stop = false;
        wbh.failed = 0;
        wbh.file = file;
        wbh.orig = file->pMethods;
        behind_methods = (sqlite3_io_methods){
            .iVersion = 3, .xClose = b_close, .xRead = b_read, .xWrite = b_write,
            .xTruncate = b_truncate, .xSync = b_sync, .xFileSize = b_file_size,
            .xLock = b_lock, .xUnlock = b_unlock, .xCheckReservedLock = b_check_reserved,
            .xFileControl = b_file_control, .xSectorSize = b_sector_size,
            .xDeviceCharacteristics = b_device, .xShmMap = b_shm_map, .xShmLock = b_shm_lock,
            .xShmBarrier = b_shm_barrier, .xShmUnmap = b_shm_unmap, .xFetch = b_fetch,
            .xUnfetch = b_unfetch};
        if (pthread_create(&wbh.thread, NULL, behind_main, NULL) == 0) {
            wbh.db = db;
            file->pMethods = &behind_methods;
        }
    }
    pthread_mutex_unlock(&wbh.mu);
#else
    (void)db;
#endif
}

/* Stops the watch: the thread writes the queue and ends, the file gets
 * its own methods back. 0, or -1 when a write failed. */
static int finish(void)
{
    pthread_mutex_lock(&wbh.mu);
    wbh.stop = true;
    pthread_cond_signal(&wbh.work);
    pthread_t thread = wbh.thread;
    pthread_mutex_unlock(&wbh.mu);
    pthread_join(thread, NULL); /* the thread writes the whole queue first */
    pthread_mutex_lock(&wbh.mu);
    wbh.file->pMethods = wbh.orig;
    int failed = wbh.failed;
    wbh.db = NULL;
    wbh.file = NULL;
    wbh.orig = NULL;
    wbh.fd = -1;
    wbh.failed = 0;
    pthread_mutex_unlock(&wbh.mu);
    return failed ? -1 : 0;
}

int store_writebehind_stop(sqlite3 *db)
{
    pthread_mutex_lock(&wbh.mu);
    bool watched = db && wbh.db == db;
    pthread_mutex_unlock(&wbh.mu);
    return watched ? finish() : 0;
}

bool store_writebehind_active(sqlite3 *db)
{
    pthread_mutex_lock(&wbh.mu);
    bool active = db && wbh.db == db;
    pthread_mutex_unlock(&wbh.mu);
    return active;
}

long store_writebehind_pages(void)
{
    pthread_mutex_lock(&wbh.mu);
    long pages = wbh.pages;
    pthread_mutex_unlock(&wbh.mu);
    return pages;
}
