/*
 * error.c — filling and formatting struct qloop_error.
 */
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
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
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
