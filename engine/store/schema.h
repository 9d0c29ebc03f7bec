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

struct store_step {
    int version;     /* user_version after the step; steps[i].version == i + 1 */
    const char *what; /* a few words for messages */
    const char *sql;  /* one or more statements */
};

extern const struct store_step store_steps[];
extern const int store_nsteps;

#endif
