/*
 * error.h — the one error record every layer fills in.
 *
 * Bad input is normal input: whoever detects a problem fills a qloop_error
 * with the file, the line (and column where known) and a Chinese message that
 * says what is wrong and what to do. The command line prints it as
 *   FILE:LINE:COL: MESSAGE
 * and exits with the code its kind names (qloop_error_exit): 2 for whatever
 * the user can fix (input, rules, configuration, a store that is missing,
 * read-only, full or not a qloop store), 3 for an internal failure. Nothing
 * here allocates.
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

enum qloop_error_kind {
    QLOOP_ERR_INPUT = 0,   /* the user can fix it: exit 2 (the default) */
    QLOOP_ERR_INTERNAL,    /* a bug or an unexpected failure: exit 3 */
};

/* Why an input error refused what was asked, for callers that answer
 * differently by cause (the portal's HTTP status): plain bad input (the
 * default), no such thing (or not visible to the asker), not allowed for
 * the asker, not allowed from the current state. */
enum qloop_refusal {
    QLOOP_REFUSED_INPUT = 0, /* well-formed but invalid (HTTP 422) */
    QLOOP_REFUSED_ABSENT,    /* no such ticket, or one the asker may not see (404) */
    QLOOP_REFUSED_DENIED,    /* the asker may not do this (403) */
    QLOOP_REFUSED_STATE,     /* not from the current state (409) */
};

struct qloop_error {
    enum qloop_error_kind kind;
    enum qloop_refusal refusal; /* for an input error; set by qloop_error_refuse */
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

/* Marks the input error just set in err as refused for reason r
 * (qloop_error_set resets it to QLOOP_REFUSED_INPUT). err may be NULL.
 * Always returns -1. */
int qloop_error_refuse(struct qloop_error *err, enum qloop_refusal r);

/* qloop_error_set, marking the error internal (exit 3). */
int qloop_error_internal(struct qloop_error *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit code for err: QLOOP_EXIT_INTERNAL for an internal error, else
 * QLOOP_EXIT_INPUT. */
int qloop_error_exit(const struct qloop_error *err);

/* Writes "file:line:col: message" (parts omitted when unknown) to buf. */
void qloop_error_format(const struct qloop_error *err, char *buf, size_t size);

#endif
