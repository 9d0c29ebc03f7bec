/*
 * cli_common.c — what every command shares: error printing, opening the
 * store with the calendar and divisions that go with it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checks/calendar.h"
#include "cli.h"
#include "checks/division.h"
#include "store/store.h"

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

int cli_take_value(const char *command, const char *name, int argc, char **argv, int *i,
                   const char **out)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *out = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error("%s 后面缺少取值；运行 qloop %s --help 查看用法", name, command);
        return -1;
    }
    *out = argv[++*i];
    return 1;
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
