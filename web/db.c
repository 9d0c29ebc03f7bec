/*
 * db.c — the store's connections of `qloop serve`.
 *
 * Reading connections: one per worker thread, lent to a request for its
 * whole life; in WAL mode they read beside a nightly run and beside each
 * other. The writing connection: one, for every change that writes the
 * audit chain (ticket actions, filed reports), lent to one thread at a time
 * for one short BEGIN IMMEDIATE ... COMMIT, so the portal never holds the
 * store's write lock for more than one change (a run's own writes wait at
 * most that long, and the portal's wait for the run's with the store's busy
 * timeout). All connections are opened before the workers start and closed
 * after they stop: the engine keeps a little per-connection state (cached
 * audit statements, the store's key) that is set up in one thread.
 */
#include <pthread.h>
#include <stdlib.h>

#include "store/store.h"
#include "web_private.h"

struct web_db {
    pthread_mutex_t lock; /* the free list */
    pthread_cond_t freed;
    sqlite3 **all;
    sqlite3 **free_list;
    unsigned n, nfree;
    pthread_mutex_t write_lock;
    sqlite3 *writer;
};

struct web_db *web_db_open(const char *path, unsigned nread, struct qloop_error *err)
{
    struct web_db *d = qloop_xcalloc(1, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->freed, NULL);
    pthread_mutex_init(&d->write_lock, NULL);
    d->all = qloop_xcalloc(nread, sizeof *d->all);
    d->free_list = qloop_xcalloc(nread, sizeof *d->free_list);
    if (!(d->writer = store_open_mode(path, STORE_EXISTING, err))) {
        web_db_close(d);
        return NULL;
    }
    for (unsigned i = 0; i < nread; i++) {
        if (!(d->all[i] = store_open_mode(path, STORE_EXISTING, err))) {
            web_db_close(d);
            return NULL;
        }
        d->free_list[d->nfree++] = d->all[d->n++];
    }
    return d;
}

void web_db_close(struct web_db *d)
{
    if (!d)
        return;
    for (unsigned i = 0; i < d->n; i++)
        store_close(d->all[i]);
    store_close(d->writer);
    free(d->all);
    free(d->free_list);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->freed);
    pthread_mutex_destroy(&d->write_lock);
    free(d);
}

sqlite3 *web_db_get(struct web_db *d)
{
    pthread_mutex_lock(&d->lock);
    while (d->nfree == 0)
        pthread_cond_wait(&d->freed, &d->lock);
    sqlite3 *db = d->free_list[--d->nfree];
    pthread_mutex_unlock(&d->lock);
    return db;
}

void web_db_put(struct web_db *d, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&d->lock);
    d->free_list[d->nfree++] = db;
    pthread_cond_signal(&d->freed);
    pthread_mutex_unlock(&d->lock);
}

sqlite3 *web_db_write_begin(struct web_db *d, struct qloop_error *err)
{
    pthread_mutex_lock(&d->write_lock);
    if (store_begin(d->writer, err) != 0) {
        pthread_mutex_unlock(&d->write_lock);
        return NULL;
    }
    return d->writer;
}

int web_db_write_end(struct web_db *d, int rc, struct qloop_error *err)
{
    if (rc == 0 && store_commit(d->writer, err) != 0)
        rc = -2;
    if (rc != 0)
        store_rollback(d->writer);
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}
