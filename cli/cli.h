/*
 * cli.h — the command line: the one place that wires the engine, the
 * adapters and the reports together. One file per command (cmd_*.c), each
 * exporting one cmd_NAME(argc, argv) where argv[0] is the command word
 * ("run", "tickets", ...). Each returns a process exit code (error.h).
 */
#ifndef QLOOP_CLI_H
#define QLOOP_CLI_H

#include <sqlite3.h>
#include <stdbool.h>

#include "base/error.h"

int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_tickets(int argc, char **argv);
int cmd_calendar(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_prune(int argc, char **argv);

/* Prints "qloop: FILE:LINE:COL: MESSAGE" to stderr. */
void cli_print_error(const struct qloop_error *err);

/* Prints "qloop: " + printf text + newline to stderr; returns QLOOP_EXIT_INPUT. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* If argv[*i] is the option `name` ("--db") as `--db VALUE` or `--db=VALUE`,
 * stores VALUE in *out (advancing *i past a separate value) and returns 1;
 * returns 0 when argv[*i] is another word; prints a usage error naming
 * command and returns -1 when the value is missing. */
int cli_take_value(const char *command, const char *name, int argc, char **argv, int *i,
                   const char **out);

/* Opens the store at path (NULL: store_default_path()), loads the calendar
 * file kept beside it (PATH.calendar, when present) and the divisions table
 * ($QLOOP_DIVISIONS or --divisions given earlier via cli_set_divisions).
 * On failure prints the error and returns NULL (exit 2 is the caller's). */
sqlite3 *cli_open_store(const char *path);

/* Remembers a --divisions FILE to load (before cli_open_store / eval). Returns
 * 0, or prints the error and returns -1. */
int cli_load_divisions(const char *path);

/* The path of the calendar file kept beside the store at db_path. */
void cli_calendar_path(const char *db_path, char *out, size_t size);

#endif
