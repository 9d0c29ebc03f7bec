/*
 * store.h — the SQLite store: opening, schema migrations, transactions.
 *
 * One file per store (`--db`, `$QLOOP_DB`, default ./qloop.db), WAL mode
 * (but while a run alone with the store writes, store_begin_bulk), foreign keys on, a busy
 * timeout so short commands wait for each other.
 * The schema is the numbered, append-only steps of schema.c; PRAGMA
 * user_version says how many a store has run. store_open applies the
 * missing ones all in one transaction (a store is upgraded whole or not at
 * all) and refuses, before writing anything, a store of a newer qloop or a
 * database of something else. A run is one transaction (BEGIN IMMEDIATE ...
 * COMMIT): killed half-way, the store keeps its last good state.
 *
 * Core tables (step 1):
 *   meta(key PRIMARY KEY, value)             store secret, settings
 *   runs(id, started_at, finished_at, as_of, status, rules, summary JSON)
 *   run_datasets(run_id, dataset, source, rows, owner, newest_update)
 *   rule_results(run_id, rule, dataset, dimension, severity, checked, failed, errors, message)
 *   findings(id, run_id, dataset, rule, row_no, record_ref, record_key, field, value, message)
 *       record_ref: 32 hex chars, store-keyed hash of (dataset, raw key): the
 *       stable identity of a record; record_key and value are masked when the
 *       dataset declares them sensitive. Since step 8 a view over
 *       finding_rows(id, run, kind, row_no, record_ref, record_key, value,
 *       message, sealed, part), whose run and kind (dataset, rule, field)
 *       are numbers of finding_runs and finding_kinds; since step 14 each
 *       finding's key by record is in finding_refs(run, kind, record_ref,
 *       id), WITHOUT ROWID, written in key order by run/findings_refs.c.
 *   cleanse_counts(run_id, dataset, field, changed)
 *   run_seen(run_id, dataset, record_ref)    records of open ticket items that
 *       a run saw in its data (so a re-check can tell fixed from missing), for
 *       callers of ticket_sync_run; qloop run answers that question from
 *       memory instead (ticket_sync_run_seen), so nothing is written here
 */
#ifndef QLOOP_STORE_H
#define QLOOP_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* 0 when path names no file yet or a regular file; else (a device such as
 * /dev/null, a directory, a pipe) -1 with an input error saying what it is
 * and what to do. store_open_mode checks it first; so does whatever writes
 * beside the store before opening it (the run lock). */
int store_check_path(const char *path, struct qloop_error *err);

/* How store_open_mode treats a path where no store exists yet. */
enum store_open_mode {
    STORE_CREATE,   /* make a new store there (qloop run, catalog import) */
    STORE_EXISTING, /* refuse: a mistyped --db must not leave an empty store */
};

/* Opens and migrates the store at path (NULL: store_default_path()). With
 * STORE_EXISTING a path where no file exists is an input error naming it
 * (exit 2) and nothing is created; a store in memory (":memory:" or "") is
 * opened in either mode. Returns the handle, or NULL with err filled: an
 * input error for what the user can fix (no store at the path, unwritable or
 * read-only path, full disk, not a qloop store, newer schema than this binary
 * knows), internal for any other failure. */
sqlite3 *store_open_mode(const char *path, enum store_open_mode mode, struct qloop_error *err);

/* store_open_mode(path, STORE_CREATE, err). */
sqlite3 *store_open(const char *path, struct qloop_error *err);
void store_close(sqlite3 *db);

/* The default path: $QLOOP_DB, else "./qloop.db". */
const char *store_default_path(void);

/* Runs sql (no results); returns 0 or -1 with err (store_error's kind). */
int store_exec(sqlite3 *db, const char *sql, struct qloop_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Begin fails with a clear message when
 * another writer holds the store longer than the busy timeout. */
int store_begin(sqlite3 *db, struct qloop_error *err);
int store_commit(sqlite3 *db, struct qloop_error *err);
void store_rollback(sqlite3 *db);

/* BEGIN IMMEDIATE for a transaction that writes much at once (a run's
 * results, items and tickets): when no other connection has the store open,
 * the store first leaves WAL for a rollback journal (journal_mode DELETE;
 * *rollback_journal = true), and the caller calls store_wal after its
 * COMMIT or ROLLBACK. In WAL every page of a run is written twice, into the
 * WAL and by the checkpoint into the store, with an fdatasync of each; with
 * a rollback journal the new pages (past the store's end when the
 * transaction began: nearly all of a run's findings and items) are written
 * once and journaled not at all, and only the few pages the run changes in
 * place are (W1 1M, a second night: commit 0.31 -> 0.11 s). The trade-off:
 * while such a transaction writes, a connection opened to read waits (the
 * busy timeout) instead of reading the last committed state as WAL allows,
 * and store_open_mode, which puts the store back in WAL, waits for its
 * commit; a portal already serving keeps the store in WAL, and the run with
 * it. A kill leaves a hot journal that the next open rolls back (the store
 * as before the transaction), then sets WAL again. Otherwise (another
 * connection open, a store in memory, already in a transaction) this is
 * store_begin in WAL, *rollback_journal = false. Returns 0 or -1 with err as
 * store_begin (the store back in WAL). With the rollback journal, the
 * store's early writeback (below) runs until the transaction ends. */
int store_begin_bulk(sqlite3 *db, bool *rollback_journal, struct qloop_error *err);

/* Puts the store back in WAL after store_begin_bulk's transaction ended:
 * outside a transaction only. True when it is in WAL; false when it stays
 * in its rollback journal (a reader held it past the busy timeout, or a
 * transaction is open), which the next store_open_mode fixes. */
bool store_wal(sqlite3 *db);

/* Early writeback (writeback.c). store_begin_bulk starts it for a
 * transaction with a rollback journal on a file: a thread hands the store
 * file's dirty pages to the disk every 250 ms (sync_file_range, Linux), so
 * that the COMMIT's fsync finds few left. store_commit, store_rollback and
 * store_close stop it (stop joins the thread; a connection other than the
 * one watched, or NULL, is left alone). One connection of the process is
 * watched at a time; a start while another is watched does nothing, and
 * so does one with QLOOP_WRITEBACK=0 in the environment. */
void store_writeback_start(sqlite3 *db);
void store_writeback_stop(sqlite3 *db);
/* Whether db's writeback thread is running. */
bool store_writeback_active(sqlite3 *db);
/* How many times the process's writeback threads have started writes. */
long store_writeback_kicks(void);
/* SQLite's own descriptor of db's main file (unix VFS), or -1 when it
 * cannot be told for sure (another VFS, not a file, not the same file as
 * its name). Never to be closed. */
int store_file_descriptor(sqlite3 *db);

/* Write-behind (writebehind.c). store_begin_bulk starts it with the early
 * writeback: while the transaction runs, the store file's whole-page
 * writes are queued and written by a thread of the store in order; reads
 * see the queued pages, and a sync, truncate, unlock or close of the file
 * waits for the queue first. store_commit, store_rollback and store_close
 * stop it (the queue written, the file's methods as they were). Stop
 * returns -1 when a queued write failed (the transaction must not commit),
 * else 0; a connection other than the one watched, or NULL, is left alone.
 * One connection of the process at a time; not with QLOOP_WRITEBEHIND=0,
 * a memory map (mmap_size) or off Linux. */
void store_writebehind_start(sqlite3 *db);
int store_writebehind_stop(sqlite3 *db);
/* Whether db's writes are queued. */
bool store_writebehind_active(sqlite3 *db);
/* Pages the process's write-behind threads have written, in all. */
long store_writebehind_pages(void);

/* The store's secret (32 random bytes made at creation, kept in meta) used to
 * key record_ref hashes. */
const unsigned char *store_secret(sqlite3 *db);

/* Writes the 32-hex-char record_ref of (dataset, key) into out (33 bytes). */
void store_record_ref(sqlite3 *db, const char *dataset, const char *key, size_t keylen,
                      char out[33]);

/* The same with the secret given (store_secret(db)): no store access, so
 * worker threads may call it. */
void store_record_ref_keyed(const unsigned char secret[32], const char *dataset, const char *key,
                            size_t keylen, char out[33]);

/* The 16 bytes whose hex store_record_ref_keyed writes, as two big-endian
 * numbers (qloop_unhex128 of that text): out[0] the first 8. */
void store_record_ref_words(const unsigned char secret[32], const char *dataset, const char *key,
                            size_t keylen, uint64_t out[2]);

/* Deletes the findings of every run but the newest keep_runs (by start
 * time), in one transaction with an audit entry. A ticket item naming one
 * of them (schema step 17) first takes its evidence into its own columns,
 * so items show what they showed; reports read per-run totals
 * (rule_results), so nothing else depends on old findings. Sets *deleted.
 * Returns 0 or -1 with err. */
int store_prune_findings(sqlite3 *db, long keep_runs, long long *deleted, struct qloop_error *err);

/* Fills err with sqlite3_errmsg(db) prefixed by what; returns -1. A failure
 * the user can fix (read-only, full disk, not a database, busy) is an input
 * error with what to do; any other is internal (exit 3). */
int store_error(sqlite3 *db, const char *what, struct qloop_error *err);

#endif
