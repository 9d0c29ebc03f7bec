/*
 * calendar_helpers.h — helpers for the calendar's unit tests: dates as
 * "YYYY-MM-DD" both ways, a cmocka setup that resets the calendar, loading
 * notice text, reading the reference notices, and capturing what a call
 * writes to stderr. Included by the
 * tests that need them (cmocka's headers first); everything here is static
 * inline.
 */
#ifndef QLOOP_TEST_CALENDAR_HELPERS_H
#define QLOOP_TEST_CALENDAR_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "checks/calendar.h"

/* Day number of "YYYY-MM-DD" (the test's own dates are always valid). */
static inline int64_t D(const char *s)
{
    int y, m, d;
    if (!qloop_parse_date(s, &y, &m, &d))
        fail_msg("bad test date %s", s);
    return qloop_days_from_civil(y, m, d);
}

/* "YYYY-MM-DD" of a day number, in a rotating static buffer. */
static inline const char *S(int64_t day)
{
    static char bufs[4][16];
    static int next;
    char *b = bufs[next++ % 4];
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    snprintf(b, 16, "%04d-%02d-%02d", y, m, d);
    return b;
}

/* cmocka setup: the calendar back to the built-in notices, no year warned. */
static inline int reset(void **state)
{
    (void)state;
    calendar_reset();
    return 0;
}

/* Loads text into the calendar and asserts it was accepted. */
static inline void load_ok(const char *text)
{
    struct qloop_error err;
    int rc = calendar_load_text(text, strlen(text), "test", &err);
    if (rc != 0)
        fail_msg("load failed: %ld:%ld %s", err.line, err.column, err.message);
}

/* Runs fn with stderr redirected to a temporary file; returns what it wrote
 * (caller frees). */
static inline char *capture_stderr(void (*fn)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    long size = ftell(tmp);
    rewind(tmp);
    char *out = calloc((size_t)size + 1, 1);
    assert_non_null(out);
    assert_int_equal(fread(out, 1, (size_t)size, tmp), (size_t)size);
    fclose(tmp);
    return out;
}

/* How many times needle occurs in hay. */
static inline int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The reference transcription of year's notice
 * (QLOOP_SHARED_REF/holidays/YEAR.json), parsed; NULL when the reference
 * folder is absent, so that the caller can skip(). Fails the test when the
 * file is there but cannot be read. The caller json_decref()s it. */
static inline json_t *ref_notice(int year)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/holidays", QLOOP_SHARED_REF);
    if (access(path, R_OK) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/holidays/%d.json", QLOOP_SHARED_REF, year);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        fail_msg("%s: %s", path, je.text);
    return root;
}

#endif
