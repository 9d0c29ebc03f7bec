/*
 * lunar.h — the Chinese lunar calendar (农历) and the solar term 清明 for the
 * Gregorian years 1900–2100, from a compact table (see lunar.c for its
 * source). The calendar uses it to place the statutory holidays of years
 * without a State Council notice: Spring Festival, Dragon Boat, Mid-Autumn
 * and Qingming.
 *
 * Days are qloop_days_from_civil() numbers (days since 1970-01-01).
 */
#ifndef QLOOP_LUNAR_H
#define QLOOP_LUNAR_H

#include <stdbool.h>
#include <stdint.h>

/* The lunar years the table holds; lunar year Y begins (正月初一) in
 * January or February of Gregorian year Y. */
enum { LUNAR_YEAR_MIN = 1900, LUNAR_YEAR_MAX = 2100 };

/* The Gregorian day of lunar year/month/day; leap selects the leap month
 * (闰月) that follows month. Returns false (and leaves *out alone) when the
 * year is outside LUNAR_YEAR_MIN..LUNAR_YEAR_MAX, the month is not 1–12, the
 * year has no such leap month, or the month has fewer days than day.
 * 除夕, the last day of lunar year Y-1, is the day before (Y, 1, 1). */
bool lunar_to_solar(int year, int month, bool leap, int day, int64_t *out);

/* The day of the solar term 清明 (the sun at 15° ecliptic longitude) in
 * Gregorian year, Beijing time. Returns false when the year is outside
 * LUNAR_YEAR_MIN..LUNAR_YEAR_MAX. */
bool lunar_qingming(int year, int64_t *out);

#endif
