/*
 * writeback.c — a bulk transaction's pages sent to the disk while it runs.
 *
 * A run alone with the store writes one large transaction with a rollback
 * journal (store_begin_bulk). Its pages leave SQLite's 64 MiB cache for
 * the kernel's page cache as the cache fills, and sit there dirty: the
 * kernel starts writing them back only past its dirty thresholds (10 % of
 * memory) or after 30 s, so the COMMIT's fsync wrote nearly all of them,
 * with the process waiting and both cores idle (the 10M compare: ~800 MB,
 * 1.0–1.2 s of a 14.5 s run). Here a thread of the store asks the kernel
 * every WRITEBACK_PERIOD_MS to start writing the store file's dirty pages
 * (sync_file_range SYNC_FILE_RANGE_WRITE: starts the writes, waits for
 * none), so they go out while the run still computes and the COMMIT's
 * fsync finds little left. Nothing about durability changes: the kernel
 * may write any dirty page at any time anyway, the journal is synced
 * before SQLite writes a page it protects into the store, and the COMMIT
 * syncs as before. The thread runs at nice 19: the CPU the submission of
 * the writes takes (which the COMMIT's fsync took on the run's thread)
 * goes to a core the run leaves idle.
 *
 * The file descriptor is SQLite's own (unix VFS), never one of ours: a
 * descriptor of the store opened and closed here would drop the process's
 * POSIX locks on it, SQLite's included. It is read from the unix VFS's
 * file object (whose first four members have been the same since 2008)
 * and used only when fstat shows it is the store's file (same device and
 * inode); otherwise, and off Linux, nothing is started. One transaction of
 * the process is watched at a time. QLOOP_WRITEBACK=0 in the environment
 * turns it off (to measure against).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

/* How often the store's dirty pages are handed to the disk. */
#define WRITEBACK_PERIOD_MS 250

/* The first members of the unix VFS's file object (sqlite3.c, unixFile). */
struct unix_file_head {
    const sqlite3_io_methods *methods;
    sqlite3_vfs *vfs;
    void *inode;
    int h;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    sqlite3 *db; /* the connection watched, NULL when none */
    int fd;
    bool stop;
    long kicks; /* sync_file_range calls that succeeded */
} wb = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1};

/* SQLite's descriptor of db's main file, or -1 when it cannot be told for
 * sure (not the unix VFS, not a file, not the same file as its name). */
int store_file_descriptor(sqlite3 *db)
{
    const char *name = sqlite3_db_filename(db, "main");
    sqlite3_file *file = NULL;
    sqlite3_vfs *vfs = NULL;
    if (!name || !*name ||
        sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || !file ||
        !file->pMethods || !vfs || strncmp(vfs->zName, "unix", 4) != 0)
        return -1;
    const struct unix_file_head *head = (const struct unix_file_head *)file;
    struct stat by_fd, by_name;
    if (head->vfs != vfs || head->h < 0 || fstat(head->h, &by_fd) != 0 ||
        stat(name, &by_name) != 0 || by_fd.st_dev != by_name.st_dev ||
        by_fd.st_ino != by_name.st_ino || !S_ISREG(by_fd.st_mode))
        return -1;
    return head->h;
}

#ifdef __linux__
/* The thread: every period until told to stop, start the writes of the
 * store file's dirty pages. */
static void *writeback_main(void *unused)
{
    (void)unused;
    /* The submission of the writes (the file system's block allocation,
     * the requests) runs on this thread: at the lowest priority it takes a
     * core only when the run leaves one idle (the ticket phase) rather than
     * from the compare's two threads. It failing leaves the priority as is. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    pthread_mutex_lock(&wb.mu);
    while (!wb.stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WRITEBACK_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
        }
        while (!wb.stop && pthread_cond_timedwait(&wb.cv, &wb.mu, &until) != ETIMEDOUT)
            ;
        if (wb.stop)
            break;
        int fd = wb.fd;
        pthread_mutex_unlock(&wb.mu);
        int rc = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        pthread_mutex_lock(&wb.mu);
        if (rc == 0)
            wb.kicks++;
    }
    pthread_mutex_unlock(&wb.mu);
    return NULL;
}
#endif

void store_writeback_start(sqlite3 *db)
{
#ifdef __linux__
    const char *off = getenv("QLOOP_WRITEBACK");
    if (off && strcmp(off, "0") == 0)
        return;
    int fd = store_file_descriptor(db);
    if (fd < 0)
        return;
    pthread_mutex_lock(&wb.mu);
    if (!wb.db) {
        wb.fd = fd;
        wb.stop = false;
        if (pthread_create(&wb.thread, NULL, writeback_main, NULL) == 0)
            wb.db = db;
    }
    pthread_mutex_unlock(&wb.mu);
#else
    (void)db;
#endif
}

void store_writeback_stop(sqlite3 *db)
{
    pthread_mutex_lock(&wb.mu);
    if (!db || wb.db != db) {
        pthread_mutex_unlock(&wb.mu);
        return;
    }
    wb.stop = true;
    pthread_cond_signal(&wb.cv);
    pthread_t thread = wb.thread;
    pthread_mutex_unlock(&wb.mu);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&wb.mu);
    wb.db = NULL;
    wb.fd = -1;
    pthread_mutex_unlock(&wb.mu);
}

bool store_writeback_active(sqlite3 *db)
{
    pthread_mutex_lock(&wb.mu);
    bool active = db && wb.db == db;
    pthread_mutex_unlock(&wb.mu);
    return active;
}

long store_writeback_kicks(void)
{
    pthread_mutex_lock(&wb.mu);
    long kicks = wb.kicks;
    pthread_mutex_unlock(&wb.mu);
    return kicks;
}
