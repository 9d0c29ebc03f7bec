/*
 * sql_profile.h — an optional per-statement profile of the SQL a process
 * runs, for measuring (bench/README.md): off unless the environment has
 * QLOOP_SQL_PROFILE=1, then every store connection (store_open_mode) is
 * traced and a table is printed to stderr when the process exits.
 */
#ifndef QLOOP_SQL_PROFILE_H
#define QLOOP_SQL_PROFILE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

/* Whether QLOOP_SQL_PROFILE asks for the profile (set, not "" nor "0";
 * read once). */
bool sql_profile_enabled(void);

/* Traces connection db into the process's profile (sqlite3_trace_v2:
 * statement start, each row returned, end with its time) when the profile
 * is enabled, and registers the report at exit the first time. Does
 * nothing otherwise. Call before the connection runs anything worth
 * counting; the connection may be used by any one thread at a time. */
void sql_profile_attach(sqlite3 *db);

/* Writes the profile so far to out: one line per distinct statement text,
 * largest total time first — calls, total ms, rows returned, rows changed
 * (sqlite3_total_changes64 across each execution, triggers included), VM
 * steps, sorts, the statement (whitespace collapsed, cut at 200 bytes). */
void sql_profile_report(FILE *out);

#endif
