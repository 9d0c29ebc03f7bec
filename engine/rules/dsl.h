/*
 * dsl.h — reading a declaration's Lua table: the helpers pack.c (the four
 * DSL functions) and forms.c (the built-in check forms) share.
 *
 * Every reader raises a Lua error positioned at the rule file's line that
 * made the declaration, so the load stops with FILE:LINE and what to do. A
 * reader checks a value completely before it allocates anything: an error
 * raised half-way leaks nothing.
 */
#ifndef QLOOP_RULES_DSL_H
#define QLOOP_RULES_DSL_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

struct rule_form;

/* Raises a Lua error "FILE:LINE: <fmt ...>" at the declaring line (fmt is
 * printf's). Never returns (typed int so that `return dsl_error(...)` reads
 * well). */
int dsl_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The rule file and line that made the declaration being read (file
 * malloc'd, NULL with line 0 when unknown). */
void dsl_where(lua_State *L, char **file, long *line);

/* Whether s is one of the NULL-terminated list. */
bool dsl_in_list(const char *s, const char *const *list);

/* Refuses any attribute of the table at t that is neither in allowed
 * (NULL-terminated) nor the name of one of forms (NULL-terminated, or NULL):
 * a typo must not silently disable a check. The error lists what is
 * available. what/name say which declaration ("规则", "d.x"). */
void dsl_check_keys(lua_State *L, int t, const char *what, const char *name,
                    const char *const *allowed, const struct rule_form *const *forms);

/* Pushes t[key] and returns 1 when it is of Lua type `type`; returns 0
 * with nothing pushed when it is absent; raises dsl_error(fmt, ...) — what
 * to write instead — for any other type. */
int dsl_peek(lua_State *L, int t, const char *key, int type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* t[key] as text (numbers converted), left on the stack for the caller to
 * pop when done with it (*len its length, len may be NULL); NULL with
 * nothing pushed when absent. */
const char *dsl_peek_string(lua_State *L, int t, const char *key, size_t *len, const char *what,
                            const char *name);

/* t[key] as malloc'd text (numbers converted); NULL when absent. */
char *dsl_opt_string(lua_State *L, int t, const char *key, const char *what, const char *name);

/* t[key] as a boolean; false when absent. */
bool dsl_opt_bool(lua_State *L, int t, const char *key, const char *what, const char *name);

/* t[key] as a text or a list of texts: a malloc'd array of *n malloc'd
 * strings, NULL when absent. */
char **dsl_opt_strings(lua_State *L, int t, const char *key, size_t *n, const char *what,
                       const char *name);
void dsl_free_strings(char **v, size_t n);

#endif
