/*
 * schema.h — the store's schema as numbered, append-only steps (schema.c).
 *
 * store_open() applies every step past the store's PRAGMA user_version, all
 * of them in one transaction, so a store is either upgraded whole or left as
 * it was. A store whose user_version is past store_nsteps was written by a
 * newer qloop and is refused.
 */
#ifndef QLOOP_STORE_SCHEMA_H
#define QLOOP_STORE_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

#include "base/error.h"

struct store_step {
    int version;     /* user_version after the step; steps[i].version == i + 1 */
    const char *what; /* a few words for messages */
    const char *sql;  /* one or more statements */
};

extern const struct store_step store_steps[];
extern const int store_nsteps;

/* What a step needs besides SQL — work with the store's key (audit entries)
 * or with files beside the store — runs right after that step's SQL, in the
 * same transaction (store/upgrade.c). The key is loaded by then: a store
 * from an earlier qloop is bound to its key file before it is upgraded, and a
 * new store right after its first step. */
struct store_step_code {
    int version; /* runs after the step that brings the store to this version */
    int (*run)(sqlite3 *db, struct qloop_error *err);
};

extern const struct store_step_code store_step_code[];
extern const int store_nstep_code;

#endif
