/*
 * clock.h — the one clock of qloop, and dates in Asia/Shanghai.
 *
 * QLOOP_NOW (ISO 8601, e.g. 2024-09-27T10:00:00+08:00) replaces the clock
 * everywhere, for replayable runs and tests. All dates are civil dates in
 * Asia/Shanghai (UTC+8 all year since 1992), whatever the machine's zone.
 */
#ifndef QLOOP_CLOCK_H
#define QLOOP_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Seconds since the epoch: QLOOP_NOW when set (and valid), else time(NULL).
 * An invalid QLOOP_NOW makes qloop_clock_check() fail. */
int64_t qloop_now(void);

/* Returns 0 when QLOOP_NOW is unset or valid, else -1 with a message in msg. */
int qloop_clock_check(char *msg, size_t size);

/* Parses ISO 8601 "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|+HHMM]"
 * (a space may replace T). A time without zone is Asia/Shanghai. A bare date
 * is 00:00:00 that day in Shanghai. Returns true and sets *out on success. */
bool qloop_parse_datetime(const char *s, int64_t *out);

/* Formats t as "YYYY-MM-DDTHH:MM:SS+08:00" (26 bytes with NUL). */
void qloop_format_datetime(int64_t t, char out[32]);

/* Formats t's Shanghai civil date as "YYYY-MM-DD" (11 bytes with NUL). */
void qloop_format_date(int64_t t, char out[11]);

/* Today in Shanghai, "YYYY-MM-DD". */
void qloop_today(char out[11]);

/* Today in Shanghai as a day number (qloop_days_from_civil of qloop_today's
 * date); INT64_MAX when that date cannot be read back (never: qloop_today
 * always formats one). */
int64_t qloop_today_days(void);

/* Civil-date helpers: days since 1970-01-01 for a proleptic Gregorian date,
 * and back. Valid for years 1..9999. */
int64_t qloop_days_from_civil(int y, int m, int d);
void qloop_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Parses exactly "YYYY-MM-DD" into a real calendar date. */
bool qloop_parse_date(const char *s, int *y, int *m, int *d);

#endif
