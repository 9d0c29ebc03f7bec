/*
 * cli.h — the command line: the one place that wires the engine, the
 * adapters and the reports together. One file per command (cmd_*.c), each
 * exporting one cmd_NAME(argc, argv) where argv[0] is the command word
 * ("run", "tickets", ...); each declares its options as a table and hands
 * the words to the one parser (options.h). Each returns a process exit
 * code: engine errors map through qloop_error_exit (error.h), so what the
 * user can fix is 2 and an internal failure 3.
 */
#ifndef QLOOP_CLI_H
#define QLOOP_CLI_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "base/error.h"
#include "options.h"

struct qloop_policy;

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
int cmd_depts(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_judge(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Replaces every string in v (recursively) by its printable form: control
 * characters and terminal escape sequences written as visible escapes
 * (base/escape.h), line breaks included, so text from the store can neither
 * drive the terminal nor fake a line of output. For text output only. */
void cli_json_printable(json_t *v);

/* Prints "qloop: FILE:LINE:COL: MESSAGE" to stderr, control characters
 * escaped (line breaks kept). */
void cli_print_error(const struct qloop_error *err);

/* cli_print_error, then returns the exit code err's kind names
 * (qloop_error_exit: 2 for the user's to fix, 3 for an internal failure). */
int cli_error(const struct qloop_error *err);

/* Prints v as indented JSON (keys in insertion order) and a newline on
 * stdout. */
void cli_print_json(const json_t *v);

/* Opens the existing store at path (NULL: store_default_path()), loads the
 * holiday notices loaded into it (store/calendar_loads.h) and the divisions
 * table ($QLOOP_DIVISIONS or --divisions given earlier via
 * cli_load_divisions). A path with no store is refused, naming it (exit 2):
 * only the commands that create a store (CONTRACT.md: run, catalog import,
 * depts add, users add) call cli_create_store instead. On failure prints the
 * error, stores the exit code in *rc and returns NULL. */
sqlite3 *cli_open_store(const char *path, int *rc);

/* cli_open_store, making a new store when none exists at path. */
sqlite3 *cli_create_store(const char *path, int *rc);

/* A read of the store whose result is JSON: fills *out (the caller's to
 * release), or returns nonzero with err filled. */
typedef int (*cli_query_fn)(sqlite3 *db, const struct cli_args *a, json_t **out,
                            struct qloop_error *err);

/* Opens the store --db names, runs query, closes the store. Returns 0 with
 * *out set, or the exit code after printing the error (*out NULL). */
int cli_query(const struct cli_args *a, cli_query_fn query, json_t **out);

/* cli_query, then prints the result: as JSON with --json, else with
 * text(result, a). Returns the exit code. */
int cli_show(const struct cli_args *a, cli_query_fn query, void (*text)(json_t *, const struct cli_args *));

/* Who acts at the operator's console (depts, users): "console:" and the
 * system user running qloop, for the audit chain. */
void cli_console_actor(char *out, size_t size);

/* cli_show on a store made when none exists at --db (catalog import). */
int cli_show_creating(const struct cli_args *a, cli_query_fn query,
                      void (*text)(json_t *, const struct cli_args *));

/* Checks an --out path before anything is written: a path that exists and
 * is not a regular file (a device such as /dev/full, a directory, a pipe) is
 * refused, since writing through a temporary file renamed into place would
 * replace it; so is a path that is one of the command's own files — the
 * store at db (when db is not NULL: the database, its -wal, -shm and
 * -journal, its key file and its run lock) or any path of inputs (a
 * NULL-terminated list, or NULL), compared as files (device and inode), so
 * that no link or other spelling of a path overwrites them. NULL and "-"
 * (standard output) pass. Returns 0, or prints why and returns the exit
 * code (2). */
int cli_check_out(const char *path, const char *db, const char *const *inputs);

/* Loads a --divisions FILE (before cli_open_store / eval). Returns 0, or
 * prints the error and returns the exit code. */
int cli_load_divisions(const char *path);

/* Loads the policy named by spec (NULL: the default) into p. Returns 0, or
 * prints the error and returns the exit code. */
int cli_load_policy(const char *spec, struct qloop_policy *p);

/* Loads the holiday notices loaded into the store into the calendar in use.
 * Returns 0, or prints the error and returns the exit code. */
int cli_load_calendar(sqlite3 *db);

struct pack;
struct run_outcome;

/* The pack of the rule files --rules names, loaded and finished, into *out.
 * divert (may be NULL): a --rules value after the first for which it returns
 * true is not loaded (qloop merge: a shard that follows the rules).
 * Returns 0, or the exit code after printing the error (*out NULL). */
int cli_load_rules(const struct cli_args *a, struct pack **out,
                   bool (*divert)(void *ctx, const char *value), void *ctx);

/* The policy file a --policy spec names (resolved and checked) into out;
 * out is left empty for a NULL spec. Returns 0, or the exit code after
 * printing the error. */
int cli_policy_file(const char *spec, char *out, size_t size);

/* What a run (or a merge) needs of the store at db_path (NULL: the
 * default): the run lock (waiting with wait), the store (with create, made
 * when missing — a run; else an existing one — a merge) and the catalog
 * merged into p. Returns 0 with *db and *lock set, or the exit code after
 * printing the error (*db NULL, *lock -1). */
int cli_open_run_store(const char *db_path, bool create, bool wait, struct pack *p, sqlite3 **db,
                       int *lock);

/* Prints a finished run's outcome as `run` does: the summary with --json,
 * else a line on stderr unless --quiet (what: "运行", "合并运行"); the
 * phase timings with --timings. */
void cli_print_run_outcome(const struct cli_args *a, const struct run_outcome *res,
                           const char *what);

/* Reads a size such as 512M or 2G (K, M, G; an optional "iB" or "B").
 * Returns 0, -1 when s is not one, -2 when it is more than this machine's
 * memory. */
int cli_parse_size(const char *s, size_t *out);

/* Reads --jobs (1 to 64) into *jobs and --memory (a size) into *memory,
 * each when given (the command may have only one of them). Returns 0, or
 * the exit code after a usage error. */
int cli_read_limits(const struct cli_args *a, size_t *jobs, size_t *memory);

/* Takes the run lock (PATH.lock beside the store db): two runs (or merges)
 * on one store never overlap; with wait, waits for the other. Returns the
 * lock's fd, or -1 after printing why. */
int cli_run_lock(const char *db, bool wait);

/* The state id (discovered, feedback, ...) that s names, in English or in
 * Chinese (发现, 反馈, 修正, 共享, 确认无误, 沟通解决); NULL when it names
 * none. */
const char *cli_state(const char *s);

#endif
