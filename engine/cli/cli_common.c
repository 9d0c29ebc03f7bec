/*
 * cli_common.c — what every command shares: error printing, opening the
 * store with the calendar and divisions that go with it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "cli.h"
#include "division.h"
#include "store.h"

void cli_print_error(const struct qloop_error *err)
{
    char buf[2200];
    qloop_error_format(err, buf, sizeof buf);
    fprintf(stderr, "qloop: %s\n", buf);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qloop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return QLOOP_EXIT_INPUT;
}

void cli_calendar_path(const char *db_path, char *out, size_t size)
{
    snprintf(out, size, "%s.calendar", db_path ? db_path : store_default_path());
}

int cli_load_divisions(const char *path)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (division_load_file(path, &err) != 0) {
        cli_print_error(&err);
        return -1;
    }
    return 0;
}

sqlite3 *cli_open_store(const char *path)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (!path)
        path = store_default_path();
    char cal[1024];
    cli_calendar_path(path, cal, sizeof cal);
    if (access(cal, R_OK) == 0 && calendar_load_file(cal, &err) != 0) {
        cli_print_error(&err);
        return NULL;
    }
    if (division_init(&err) != 0) {
        cli_print_error(&err);
        return NULL;
    }
    sqlite3 *db = store_open(path, &err);
    if (!db)
        cli_print_error(&err);
    return db;
}
