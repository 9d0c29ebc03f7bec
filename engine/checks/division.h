/*
 * division.h — GB/T 2260 administrative division codes.
 *
 * A small table of codes is bundled (engine/data/divisions_bundled.txt) for
 * the samples; QLOOP_DIVISIONS or --divisions FILE (CSV `code,name` with a
 * header) replaces it for real use. The table is process-wide and read-only
 * once loaded.
 */
#ifndef QLOOP_DIVISION_H
#define QLOOP_DIVISION_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Replaces the table with the CSV file at path. Returns 0 or -1 with err
 * naming the file and line of a malformed entry. */
int division_load_file(const char *path, struct qloop_error *err);

/* Loads $QLOOP_DIVISIONS when set and nothing was loaded yet, else the
 * bundled table. Called lazily by the lookups; call it early to get errors. */
int division_init(struct qloop_error *err);

/* The name of a 6-digit code, or NULL when unknown. code need not be
 * NUL-terminated beyond len. */
const char *division_name(const char *code, size_t len);
bool division_exists(const char *code, size_t len);

/* Number of codes in the table. */
size_t division_count(void);

/* The SHA-256 (hex) of the table in use (codes and names): two processes
 * judge `references = "divisions.code"` alike when their digests match. */
void division_digest(char out[65]);

#endif
