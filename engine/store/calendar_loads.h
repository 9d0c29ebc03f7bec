/*
 * calendar_loads.h — the holiday notices loaded into a store.
 *
 * Every `qloop calendar load` adds one row to calendar_loads (its text in
 * qloop's notice format, where it came from, who loaded it, the SHA-256 of
 * the text) together with an audit entry "calendar.load" naming the row and
 * the hash, in one transaction: loading changes every legal deadline, so it
 * is on the chain like any other change. The rows are append-only (triggers)
 * and the calendar in use is all of them applied in order, a later load of a
 * year replacing an earlier one. This module stores and checks text; reading
 * the notices is checks/calendar.c's (the command line wires the two).
 */
#ifndef QLOOP_STORE_CALENDAR_LOADS_H
#define QLOOP_STORE_CALENDAR_LOADS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Adds a load: text[0..len) in qloop's notice format, source (the file as
 * named, shown in the audit), actor, and the years it holds (may be NULL /
 * 0). In the caller's transaction or its own, with its audit entry
 * {"load", "source", "sha256", "bytes", "years"}. *id (may be NULL) gets the
 * row. Needs the key file (the audit entry). Returns 0 or -1 with err. */
int store_calendar_add(sqlite3 *db, const char *text, size_t len, const char *source,
                       const char *actor, const int *years, size_t nyears, int64_t *id,
                       struct qloop_error *err);

/* Calls fn for each load in the order loaded. Returns 0, the first non-zero
 * value fn returned, or -1 with err. */
typedef int (*store_calendar_fn)(void *ctx, const char *text, size_t len, const char *source,
                                 struct qloop_error *err);
int store_calendar_each(sqlite3 *db, store_calendar_fn fn, void *ctx, struct qloop_error *err);

/* Checks the loads against the audit chain (call after audit_verify returned
 * 0): each row has its "calendar.load" entry with the SHA-256 of the text as
 * it is now, and each such entry's row is still there. Returns 0, 1 with why
 * (Chinese) naming the load, or -1 with err. */
int store_calendar_verify(sqlite3 *db, char *why, size_t whysize, struct qloop_error *err);

/* Checks a calendar text before it is imported: 0, or -1 with err naming
 * the file (name) and line. The command line sets one (checks/calendar.c
 * reads notices; the store does not); without one the text is imported as
 * it is. */
typedef int (*store_calendar_check_fn)(const char *text, size_t len, const char *name,
                                       struct qloop_error *err);
void store_calendar_set_check(store_calendar_check_fn check);

/* Imports the calendar file earlier versions kept beside the store
 * (PATH.calendar) as one load, when there is one. Runs once, in the upgrade
 * that brought calendar_loads (store/upgrade.c). A file the check refuses
 * stops the upgrade (-1 with err: the file, the line, what to do). Returns 0
 * or -1 with err. */
int store_calendar_import_file(sqlite3 *db, struct qloop_error *err);

#endif
