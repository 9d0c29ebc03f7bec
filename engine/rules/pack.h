/*
 * pack.h — a rule pack: the datasets, cleanse steps, rules and compares that
 * one or more rule files declare through the DSL of CONTRACT.md
 * (`dataset "x" {...}`, `cleanse "x" {...}`, `rule "x.y" {...}`,
 * `compare "n" {...}`).
 *
 * Loading runs each file in the sandbox with its own _ENV and the four DSL
 * functions; every declaration is checked as it is made (unknown attributes,
 * wrong types, invalid patterns) and reported with file and line, so a broken
 * pack stops before any data is read. A rule's built-in checks (pattern,
 * not_null, unique, one_of, range, references, a C check) are read through
 * the table of forms (forms.h). Lua functions named by a pack are kept
 * in the registry of the pack's Lua state; C functions with a native twin
 * (native.h) are recorded as such and never entered through Lua.
 */
#ifndef QLOOP_PACK_H
#define QLOOP_PACK_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "lua/native.h"
#include "lua/sandbox.h"


struct pack_step {                        /* one cleanse step */
    const struct qloop_native_cleaner *native; /* C twin, or NULL */
    int lua_ref;                          /* LUA_NOREF when native */
};

struct pack_cleanse {                     /* the steps for one field */
    char *field;
    struct pack_step *steps;
    size_t nsteps;
};

struct pack_dataset {
    char *name;
    char *source;       /* resolved path (relative to the rule file), "odbc:NAME", or NULL */
    char *format;       /* "csv", "tsv", "jsonl", "json", "xlsx" or NULL (by extension) */
    char *encoding;     /* NULL = UTF-8 */
    char *records;      /* JSON document: dot path of the records array, or NULL */
    char *sheet;        /* workbook: sheet name, or NULL (the first) */
    unsigned long header_row; /* workbook: header row, 0 = 1 */
    char *query, *table; /* database: what to read (NULL, NULL: the table named like the dataset) */
    char **null_values; /* values that count as empty in every field */
    size_t nnull_values;
    bool bad_rows_finding; /* bad_rows = "finding": malformed rows become findings */
    char **keys;        /* key fields; nkeys may be 0 */
    size_t nkeys;
    char *owner;        /* provider department (数源部门) */
    char *update_cycle; /* realtime|daily|weekly|monthly|quarterly|yearly */
    char *updated_at;   /* field holding the record's update time, or NULL */
    char **sensitive;
    size_t nsensitive;
    char **fields;      /* the declared fields in file order (`fields = {...}`), or NULL */
    size_t nfields;
    struct pack_cleanse *cleanse;
    size_t ncleanse;
    char *file;         /* where declared */
    long line;
};

enum rule_kind { RULE_FIELD, RULE_RECORD };

struct rule_check;

struct pack_rule {
    char *id;
    char *dataset;
    char *field;        /* NULL for a record-level rule */
    char *dimension, *severity, *basis, *message;
    enum rule_kind kind;
    bool resolve_missing;
    bool message_default;     /* message was not given: findings say field + reason */
    struct rule_check *checks; /* the built-in forms it uses (forms.h), in judging order */
    size_t nchecks;
    unsigned form_flags;      /* their flags, or'ed (FORM_EMPTY_FAILS, FORM_WHOLE_DATASET) */
    int check_ref;            /* Lua check function, or LUA_NOREF */
    char *file;
    long line;
};

struct pack_compare_field {
    char *left, *right;
    int normalize_ref;                            /* Lua function, or LUA_NOREF */
    const struct qloop_native_cleaner *normalize; /* or a C cleaner */
    bool has_tolerance;
    double tolerance;
    bool date;
    int equal_ref;                                /* equal = function(a, b), or LUA_NOREF */
};

struct pack_compare {
    char *name;
    char *left, *right;
    char **left_keys, **right_keys; /* NULL: each dataset's declared key */
    size_t nleft_keys, nright_keys;
    char *authority;                /* "left", "right" or NULL */
    struct pack_compare_field *fields;
    size_t nfields;
    char *file;
    long line;
};

struct pack {
    lua_State *L;
    struct qloop_lua_limits limits; /* limits { ... } (or the defaults) */
    char *limits_file;              /* where limits was declared, or NULL */
    long limits_line;
    bool loading;                   /* a rule file is running: the DSL may declare */
    struct pack_dataset *datasets;
    size_t ndatasets;
    struct pack_rule *rules;
    size_t nrules;
    struct pack_compare *compares;
    size_t ncompares;
    char **files;
    uint8_t (*file_digests)[32]; /* the SHA-256 of each file's bytes as loaded */
    size_t nfiles;
};

/* Creates an empty pack over a new sandboxed state. */
struct pack *pack_new(void);
void pack_free(struct pack *p);

/* Loads one rule file, or every *.lua of a folder in name order. Returns 0 or
 * -1 with err (file, line, what to do). */
int pack_load_path(struct pack *p, const char *path, struct qloop_error *err);

/* Checks the whole pack once every file is loaded: rules and compares name
 * declared datasets, cleanse blocks name declared datasets, ids are unique.
 * Returns 0 or -1 with err. */
int pack_finish(struct pack *p, struct qloop_error *err);

struct pack_dataset *pack_find_dataset(const struct pack *p, const char *name);
bool pack_is_sensitive(const struct pack_dataset *d, const char *field);

#endif
