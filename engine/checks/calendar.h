/*
 * calendar.h — working days in mainland China (State Council holiday notices).
 *
 * Days are counted as qloop_days_from_civil() numbers (days since 1970-01-01).
 * Built in: the notices 2019–2026 (engine/data/holidays_cn.txt, embedded),
 * statutory days off and make-up working days (调休). More years can be
 * loaded at run time without rebuilding (calendar_load_text / _file). A date in
 * a year no loaded notice covers falls back to the statutory holidays of
 * 全国年节及纪念日放假办法 (calendar_statutory_holiday) and weekends, without
 * make-up days, and says so once on stderr (per year).
 */
#ifndef QLOOP_CALENDAR_H
#define QLOOP_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* true when day is a working day: by the notice for its year when one is
 * known (or the day is listed), else Monday to Friday and not a statutory
 * holiday, with a warning on stderr the first time a year falls back. */
bool calendar_workday(int64_t day);

/* Whether day is a statutory holiday for everyone (全体公民放假的节日) under
 * the text of 全国年节及纪念日放假办法 in force on that holiday, regardless
 * of any notice: from 2025 元旦 1 day, 春节 4 (除夕 to 正月初三), 清明 1,
 * 劳动节 2, 端午 1, 中秋 1, 国庆 3; 2014–2024 春节 3 (初一 to 初三) and
 * 劳动节 1; 2008–2013 春节 3 (除夕 to 初二); 1999-09-18 to 2007 元旦 1,
 * 春节 3 (初一 to 初三), 劳动节 3, 国庆 3; 1950 to 1999-09-17 元旦 1, 春节 3,
 * 劳动节 1, 国庆 2. Lunar holidays and 清明 only for 1900–2100 (lunar.h).
 * Weekends are not holidays here, and a holiday on a weekend is not moved.
 * name (may be NULL) receives the holiday's name, or NULL. */
bool calendar_statutory_holiday(int64_t day, const char **name);

/* The last day of a period of n working days starting after `from` (the day
 * of receipt is not counted): the n-th working day after from. n >= 0; n = 0
 * returns from. */
int64_t calendar_add_working_days(int64_t from, int n);

/* The last day of a period of n natural days after from (from + n); when that
 * day is not a working day, the next working day. */
int64_t calendar_add_natural_days(int64_t from, int n);

/* Number of working days in (from, to], 0 when to <= from. */
int calendar_working_days_between(int64_t from, int64_t to);

/* Loads notice data in qloop's own text format (see engine/data/holidays_cn.txt)
 * or the JSON format {"year":..,"days":[{"date","isOffDay"}]}; a year given
 * replaces what was known of it. name is used in messages. Returns 0 or -1. */
int calendar_load_text(const char *text, size_t len, const char *name, struct qloop_error *err);
int calendar_load_file(const char *path, struct qloop_error *err);

/* Whether a notice for year is known. */
bool calendar_year_known(int year);

struct qloop_buf;

/* The listed days (off or work) whose date falls in year, in date order, one
 * line each appended to out: "YYYY-MM-DD off|work NAME\n" (NAME omitted when
 * empty). Where two notices list one date, the later notice's entry is used.
 * Returns the number of lines. */
size_t calendar_format_year(int year, struct qloop_buf *out);

/* The SHA-256 of the calendar in use (every notice year known, every day
 * listed with its notice, kind and name): two calendars with the same digest
 * answer every question alike (run/memo.c keys reused rule answers by it). */
void calendar_digest(uint8_t out[32]);

/* Forgets what was loaded and which years were warned about: back to the
 * built-in notices only (for tests). */
void calendar_reset(void);

/* A set of parsed notices, apart from the calendar in use: what one calendar
 * file holds. `qloop calendar load` uses it to check a file and to merge it
 * into the file kept beside the store. Allocation failure aborts (buf.h). */
struct calendar_notices;

/* An empty set. */
struct calendar_notices *calendar_notices_new(void);

/* Parses text in either format (as calendar_load_text) into a new set;
 * NULL with err (name, line, what to do) on bad input. */
struct calendar_notices *calendar_notices_parse(const char *text, size_t len, const char *name,
                                                struct qloop_error *err);

/* Reads the file at path (at most 16 MiB) and parses it as above; NULL with
 * err when it cannot be read or is not a valid calendar file. */
struct calendar_notices *calendar_notices_read(const char *path, struct qloop_error *err);

/* Each year of from replaces that year (all its days) in into. */
void calendar_notices_merge(struct calendar_notices *into, const struct calendar_notices *from);

/* Appends the set to out in qloop's text format: per year ascending, a
 * "year YYYY" line then its day lines in date order. No comment header. */
void calendar_notices_format(const struct calendar_notices *n, struct qloop_buf *out);

/* The number of years in n; the first max of them, ascending, go to years. */
size_t calendar_notices_years(const struct calendar_notices *n, int *years, size_t max);

/* How many days the notice for year in n lists off and work (0 and 0 when
 * the year is not in n). */
void calendar_notices_count(const struct calendar_notices *n, int year, int *off, int *work);

/* Frees n (NULL is fine). */
void calendar_notices_free(struct calendar_notices *n);

#endif
