/*
 * options.h — the one option parser of the command line.
 *
 * Every command and subcommand declares what it takes as a table: its
 * options (name, whether it takes a value, whether it may be repeated, help
 * text), how many positional arguments it takes, and the function that does
 * the work. The parser is the same for all of them:
 *   - `--opt VALUE` and `--opt=VALUE` everywhere; a one-letter short name as
 *     `-o VALUE`; `--` ends the options;
 *   - options may stand before, between or after the positional arguments
 *     (and, for a group such as `tickets`, before the subcommand word);
 *   - `-h`/`--help` anywhere prints THAT subcommand's help on stdout, exit 0
 *     (the group's help when no subcommand is named);
 *   - an unknown option, a missing value, a value given to a flag, an option
 *     given twice that may not be, a missing required option and a wrong
 *     number of positional arguments exit 2, naming the option and showing
 *     the usage line on stderr.
 * The help text is built from the same table, so what `--help` shows is what
 * the parser accepts.
 */
#ifndef QLOOP_CLI_OPTIONS_H
#define QLOOP_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Option flags. */
enum {
    CLI_REPEAT = 1 << 0,   /* may be given more than once (all values kept) */
    CLI_MULTI = 1 << 1,    /* takes every following word up to the next option:
                              `--rules a.lua b.lua`; implies CLI_REPEAT */
    CLI_REQUIRED = 1 << 2, /* must be given (with a non-empty value) */
    CLI_TEXT = 1 << 3,     /* the value is stored or shown as text: must be UTF-8 */
};

/* One option. A table of them ends with an entry whose name is NULL. */
struct cli_option {
    const char *name;  /* long name without dashes: "db" is --db */
    char short_name;   /* '\0', or 'e' for -e */
    const char *value; /* NULL for a flag; else how the usage names its value: "PATH" */
    unsigned flags;    /* CLI_* above */
    const char *help;  /* one line, Chinese */
};

/* The options most commands share. */
#define CLI_OPT_DB {"db", 0, "PATH", 0, "数据库文件（默认 $QLOOP_DB 或 ./qloop.db）"}
#define CLI_OPT_POLICY {"policy", 0, "NAME|FILE", 0, "新开工单的期限政策：ningbo（默认）、wenzhou，或政策文件；已有的工单终身按开立时的政策"}
#define CLI_OPT_DIVISIONS                                                                          \
    {"divisions", 0, "FILE", 0, "GB/T 2260 区划代码 CSV（code,name），默认 $QLOOP_DIVISIONS 或内置小表"}
#define CLI_OPT_JSON(what) {"json", 0, NULL, 0, what}
#define CLI_OPT_END {NULL, 0, NULL, 0, NULL}

struct cli_args;

/* A command (`qloop run`) or a subcommand (`qloop tickets list`). */
struct cli_command {
    const char *name;    /* the word: "run", "list" */
    const char *usage;   /* what follows the words in the usage line:
                            "[--state S] [--dept D] [--overdue] [--json]" */
    const char *summary; /* one line: what it does */
    const char *details; /* NULL, or paragraphs printed after the options */
    const struct cli_option *options; /* ends with CLI_OPT_END */
    int min_pos, max_pos;             /* positional arguments allowed */
    int (*run)(const struct cli_args *a); /* does the work; returns the exit code */
};

/* A command made of subcommands (`qloop tickets list|show|...`). */
struct cli_group {
    const char *name;    /* "tickets" */
    const char *summary; /* one line */
    const char *details; /* NULL, or paragraphs printed after the subcommands */
    const struct cli_command *subs;
    size_t nsubs;
};

/* What the parser found; handed to cli_command.run. Valid during the call. */
struct cli_args {
    const struct cli_command *cmd;
    const char *group;   /* "tickets", or NULL for a command of its own */
    const char **pos;    /* positional arguments */
    int npos;
    int ngiven;          /* options given, in order */
    struct cli_given {
        int opt;           /* index into cmd->options */
        const char *value; /* "" for a flag */
    } *given;
};

/* Parses argv[1..argc) (argv[0] is the command word) for cmd and runs it.
 * Returns the exit code: cmd->run's, 0 after --help, 2 after a usage error. */
int cli_run_command(const struct cli_command *cmd, int argc, char **argv);

/* Finds the subcommand among argv[1..argc) (argv[0] is the group word) and
 * runs it as cli_run_command does. Returns the exit code. */
int cli_run_group(const struct cli_group *g, int argc, char **argv);

/* The value of option name (its last, for a repeated one); "" for a flag
 * given; NULL when absent, or when the command has no such option (so one
 * handler may serve subcommands whose tables differ). */
const char *cli_opt(const struct cli_args *a, const char *name);

/* Whether option name was given. */
bool cli_flag(const struct cli_args *a, const char *name);

/* Iterates the values of a repeated option: start with *i = 0; returns the
 * next value or NULL after the last. */
const char *cli_next(const struct cli_args *a, const char *name, int *i);

/* Prints "qloop: " + the printf message, then the usage line of a's
 * command, on stderr; returns QLOOP_EXIT_INPUT. For the checks a command
 * makes of its arguments after parsing. */
int cli_fail(const struct cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the full help of a's command to stdout. */
void cli_print_help(const struct cli_command *cmd, const char *group);

#endif
