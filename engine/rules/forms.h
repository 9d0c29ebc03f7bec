/*
 * forms.h — the built-in check forms of a field rule, as one table.
 *
 * A form is a rule attribute naming a check that qloop runs in C, never
 * through Lua: `pattern`, `not_null`, `unique`, `one_of`, `range`,
 * `references`, and `check` given a C function with a native twin
 * (idcard.valid, uscc.valid, ...; lua/native.h). In the way SQLite makes a
 * VFS one sqlite3_io_methods struct, each form is one const struct rule_form
 * saying how its attribute is read when a rule file loads, how one value is
 * judged, and what the run must arrange for it:
 *   - pack.c reads every rule through the table (forms_parse) and lists the
 *     forms in its messages;
 *   - judge.c judges each non-empty value through it (forms_judge), on the
 *     worker threads;
 *   - run/ asks the flags and needs: FORM_EMPTY_FAILS (an empty value fails
 *     instead of being skipped), FORM_WHOLE_DATASET (judged over the whole
 *     dataset in row order by run/unique.c), and needs() (another dataset
 *     must be read first, its values handed to judge as env->refset).
 *
 * A new per-value form is one entry in forms.c's table with its parse and
 * judge functions beside it; nothing else changes (docs/dsl.md documents the
 * attribute). A `check` that is a Lua function is not a form: pack.c keeps
 * it as rule->check_ref and judge.c calls it in the worker's Lua state.
 */
#ifndef QLOOP_RULES_FORMS_H
#define QLOOP_RULES_FORMS_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct pack;
struct pack_rule;
struct strmap;

enum form_verdict { FORM_PASS = 0, FORM_FAIL, FORM_ERROR };

enum form_flag {
    FORM_EMPTY_FAILS = 1u << 0,   /* an empty value fails the rule (not_null) */
    FORM_WHOLE_DATASET = 1u << 1, /* judged over the whole dataset, in row order (unique) */
};

/* What the run supplies while judging a rule's values. */
struct form_env {
    const struct strmap *refset; /* the values of the dataset needs() named, or NULL */
    /* When set (a partitioned judge, which reads one dataset only), a form
     * whose verdict needs another dataset passes and sets *deferred: the
     * merge decides it (a failure is reported with FORMS_REFERENCE_MISSING). */
    bool *deferred;
};

/* The reason of a value that `references` does not find. */
#define FORMS_REFERENCE_MISSING "在引用的数据中不存在"

struct rule_form {
    const char *name;      /* the rule attribute, e.g. "pattern" */
    unsigned flags;        /* enum form_flag */
    /* The GB/T 36344 dimension of a rule that gives none: of the rule's forms
     * with a dimension, the one of highest rank decides (NULL: no opinion). */
    const char *dimension;
    int rank;
    /* Reads the attribute from the rule's table at stack index t (r's id,
     * file, line, field and kind are set). Returns 0 when the attribute is
     * absent (or, for `check`, names a Lua function), 1 when the form applies,
     * with *state what judge reads (NULL for none). A wrong value raises
     * dsl_error (FILE:LINE: what to write instead); nothing is allocated
     * before the value is known to be good. */
    int (*parse)(lua_State *L, int t, struct pack_rule *r, void **state);
    /* Judges one non-empty value s[0..len) (NUL-terminated), on any worker
     * thread (state belongs to that worker's pack, and may be scratch space
     * of its own, like a pattern's match data). Returns FORM_PASS, or
     * FORM_FAIL / FORM_ERROR with *reason a static Chinese text. NULL: the
     * form judges no single value (not_null, unique). */
    enum form_verdict (*judge)(void *state, const struct form_env *env, const char *s, size_t len,
                               const char **reason);
    /* The dataset that must be read before the rule's own, *field its field
     * (its non-empty values become env->refset); NULL for none. May be NULL. */
    const char *(*needs)(const void *state, const char **field);
    /* Checks the form against the whole pack once every file is loaded
     * (pack_finish): 0, or -1 with err (the rule's file and line). May be NULL. */
    int (*finish)(const struct pack *p, const struct pack_rule *r, const void *state,
                  struct qloop_error *err);
    void (*free)(void *state); /* may be NULL */
};

/* A form a rule uses, with its parsed attribute (pack_rule.checks). */
struct rule_check {
    const struct rule_form *form;
    void *state;
};

/* Every form, NULL-terminated, in judging order: a value failing several
 * forms of one rule gets the reason of the first. */
extern const struct rule_form *const qloop_forms[];

/* Reads every form attribute of the rule table at t into r->checks,
 * r->form_flags and (for a Lua check) r->check_ref. Raises dsl_error. */
void forms_parse(lua_State *L, int t, struct pack_rule *r);

/* The default dimension of r by its forms, or NULL when none has one. */
const char *forms_dimension(const struct pack_rule *r);

/* Runs each form's finish over r. Returns 0 or -1 with err. */
int forms_finish(const struct pack *p, const struct pack_rule *r, struct qloop_error *err);

/* Judges one non-empty value against every form of r, in order; the first
 * that does not pass decides (*reason as judge). */
enum form_verdict forms_judge(const struct pack_rule *r, const struct form_env *env,
                              const char *s, size_t len, const char **reason);

/* The dataset r needs read first (see needs), or NULL. */
const char *forms_needs(const struct pack_rule *r, const char **field);

/* Frees r->checks. */
void forms_free(struct pack_rule *r);

#endif
