/*
 * key.h — the store's key file.
 *
 * Each store has a key kept outside it: PATH.key beside the store (or the file
 * $QLOOP_KEY_FILE names), 32 random bytes written as hex, mode 0600, made
 * together with the store — or, for a store from an earlier qloop, when it is
 * first opened by this one. The store keeps only a check value derived from
 * the key (meta 'key_check'), so a key file that belongs to another store is
 * recognised and refused. Subkeys for each use are derived from the key with
 * libsodium's crypto_kdf, so learning one subkey says nothing of another:
 * the audit chain is keyed with one, what only a record's owner may see is
 * encrypted with another.
 *
 * Without its key file a store can still be read (lists, reports, tickets
 * shown masked); whatever needs a subkey — writing an audit entry, verifying
 * the chain, revealing a record — fails with an input error (exit 2) that
 * says the key file is missing or foreign and what to do.
 */
#ifndef QLOOP_STORE_KEY_H
#define QLOOP_STORE_KEY_H

#include <sqlite3.h>
#include <stddef.h>

#include "base/error.h"

enum store_key_use {
    STORE_KEY_AUDIT = 1,   /* the audit chain's MAC key */
    STORE_KEY_RECORDS = 2, /* encrypts records only their owner may see */
    STORE_KEY_MEMO = 3,    /* keys the row fingerprints of reused rule answers (run/memo.h) */
};

enum { STORE_SUBKEY_BYTES = 32 };

/* Writes the key file's path for the store at db_path into out:
 * $QLOOP_KEY_FILE when set, else db_path + ".key". */
void store_key_path(const char *db_path, char *out, size_t size);

/* Called by store_open after the schema is current: finds the store's key.
 * A store not yet bound to a key (new, or from an earlier qloop) is bound to
 * the key file at store_key_path — an existing file is adopted, else a new
 * one is made with mode 0600 — and the check value is written into meta. A
 * store in memory gets a key for this process only. Returns 0 (a missing or
 * foreign key file is not an error here: store_key reports it when a key is
 * needed), or -1 with err when the key file cannot be made or read. */
int store_key_attach(sqlite3 *db, struct qloop_error *err);

/* Forgets what store_key_attach learnt of db (store_close calls it). */
void store_key_forget(sqlite3 *db);

/* Fills out with the subkey for use. Returns 0, or -1 with an input error
 * (exit 2) naming the key file when it is missing, unreadable, too open
 * (group or others may read it) or belongs to another store. */
int store_key(sqlite3 *db, enum store_key_use use, unsigned char out[STORE_SUBKEY_BYTES],
              struct qloop_error *err);

/* 0 when the store's key file is present and belongs to it, else -1 with
 * err as store_key. */
int store_key_check(sqlite3 *db, struct qloop_error *err);

#endif
