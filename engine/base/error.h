/*
 * error.h — the one error record every layer fills in.
 *
 * Bad input is normal input: whoever detects a problem fills a qloop_error
 * with the file, the line (and column where known) and a Chinese message that
 * says what is wrong and what to do. The command line prints it as
 *   FILE:LINE:COL: MESSAGE
 * and exits 2 (QLOOP_EXIT_INPUT). Nothing here allocates.
 */
#ifndef QLOOP_ERROR_H
#define QLOOP_ERROR_H

#include <stdarg.h>

enum {
    QLOOP_EXIT_OK = 0,        /* done */
    QLOOP_EXIT_THRESHOLD = 1, /* done, but a --fail-on threshold was crossed */
    QLOOP_EXIT_INPUT = 2,     /* bad usage, configuration, rule or input */
    QLOOP_EXIT_INTERNAL = 3,  /* internal error */
};

struct qloop_error {
    char file[512];     /* file the problem is in, "" when none */
    long line;          /* 1-based line, 0 when unknown */
    long column;        /* 1-based column, 0 when unknown */
    char message[1536]; /* Chinese text: what is wrong and what to do */
};

/* Clears err (all fields empty / zero). err may be NULL. */
void qloop_error_clear(struct qloop_error *err);

/* Fills err with file (may be NULL), line, column and a printf-style message.
 * Always returns -1 so callers can write `return qloop_error_set(...)`.
 * err may be NULL, in which case nothing is written. */
int qloop_error_set(struct qloop_error *err, const char *file, long line, long column,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Writes "file:line:col: message" (parts omitted when unknown) to buf. */
void qloop_error_format(const struct qloop_error *err, char *buf, size_t size);

#endif
