/*
 * error.c — filling and formatting struct qloop_error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

void qloop_error_clear(struct qloop_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

int qloop_error_set(struct qloop_error *err, const char *file, long line, long column,
                    const char *fmt, ...)
{
    if (!err)
        return -1;
    /* The arguments may point into err itself (a message wrapped in a
     * longer one): format into locals first. */
    char msg[sizeof err->message], where[sizeof err->file];
    snprintf(where, sizeof where, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err->kind = QLOOP_ERR_INPUT;
    err->refusal = QLOOP_REFUSED_INPUT;
    memcpy(err->file, where, sizeof where);
    err->line = line;
    err->column = column;
    memcpy(err->message, msg, sizeof msg);
    return -1;
}

int qloop_error_refuse(struct qloop_error *err, enum qloop_refusal r)
{
    if (err)
        err->refusal = r;
    return -1;
}

int qloop_error_internal(struct qloop_error *err, const char *file, const char *fmt, ...)
{
    if (!err)
        return -1;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qloop_error_set(err, file, 0, 0, "%s", msg);
    err->kind = QLOOP_ERR_INTERNAL;
    return -1;
}

int qloop_error_exit(const struct qloop_error *err)
{
    return err && err->kind == QLOOP_ERR_INTERNAL ? QLOOP_EXIT_INTERNAL : QLOOP_EXIT_INPUT;
}

void qloop_error_format(const struct qloop_error *err, char *buf, size_t size)
{
    if (!err->file[0])
        snprintf(buf, size, "%s", err->message);
    else if (err->line > 0 && err->column > 0)
        snprintf(buf, size, "%s:%ld:%ld: %s", err->file, err->line, err->column, err->message);
    else if (err->line > 0)
        snprintf(buf, size, "%s:%ld: %s", err->file, err->line, err->message);
    else
        snprintf(buf, size, "%s: %s", err->file, err->message);
}
