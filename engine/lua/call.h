/*
 * call.h — calling rule code and reading its answer: the one way the run
 * enters a check, a cleanse step or an eval's results.
 *
 * Each function here pushes what it calls, calls it through qloop_lua_pcall
 * (so under the state's memory, instruction and CPU budgets, naming the site
 * when it is too slow) and turns what came back into C values, so that a
 * call site is one call (a check called over a block of rows: a begin, one
 * call per row, an end — struct qloop_lua_calls). What a check may return is documented in
 * docs/dsl.md ("What a check returns"):
 *   true                          pass
 *   false | nil [, reason]        fail; reason is text (a number is shown
 *                                 as text) or nil
 *   anything else — {}, "false", 0, a reason that is a table — or an error
 *                                 the rule's error on that record
 * Text that comes back (a reason, an error) is kept to QLOOP_LUA_TEXT_MAX
 * bytes, cut at a UTF-8 character with a note of how many bytes were cut, and
 * invalid UTF-8 is replaced by U+FFFD: rule output cannot grow the store.
 */
#ifndef QLOOP_LUA_CALL_H
#define QLOOP_LUA_CALL_H

#include <lua.h>
#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/error.h"
#include "lua/record.h"
#include "lua/sandbox.h"

enum { QLOOP_LUA_TEXT_MAX = 512 };

enum qloop_lua_verdict {
    QLOOP_LUA_PASS = 1,
    QLOOP_LUA_FAIL,
    QLOOP_LUA_ERROR,
};

/* The text of an answer: on FAIL the rule's reason (NULL when it gave none),
 * on ERROR "file:line: message". Valid until the next call on the state. */
struct qloop_lua_answer {
    const char *text;
    size_t len;
};

/* Calls the check registered as ref (LUA_REGISTRYINDEX) on the value
 * s[0..len), and reads its answer (see above): a block of one call (below). */
enum qloop_lua_verdict qloop_lua_check_value(lua_State *L, int ref, const char *s, size_t len,
                                             const struct qloop_lua_site *site,
                                             struct qloop_lua_answer *out);

/* Calls the check registered as ref on the record view of rec: a block of
 * one call (below). */
enum qloop_lua_verdict qloop_lua_check_record(lua_State *L, int ref, struct qloop_lua_record *rec,
                                              const struct qloop_lua_site *site,
                                              struct qloop_lua_answer *out);

/* One check called many times in a row on one state (a rule over a block of
 * rows): the begin functions push the message handler and the check
 * registered as ref — and, for a record check, rec's view — once; each call
 * then runs the check on copies of them (on the row rec shows at that
 * moment, or on s[0..len)), reads its answer as above and leaves them in
 * place; qloop_lua_calls_end pops them. Between begin and end nothing
 * else may be left pushed or popped on L, and rec's view must not expire. */
struct qloop_lua_calls {
    int handler; /* stack index of the handler; the check (and view) above it */
    int ref;
};

void qloop_lua_record_calls_begin(lua_State *L, int ref, struct qloop_lua_record *rec,
                                  struct qloop_lua_calls *c);
void qloop_lua_value_calls_begin(lua_State *L, int ref, struct qloop_lua_calls *c);
enum qloop_lua_verdict qloop_lua_record_call(lua_State *L, const struct qloop_lua_calls *c,
                                             const struct qloop_lua_site *site,
                                             struct qloop_lua_answer *out);
enum qloop_lua_verdict qloop_lua_value_call(lua_State *L, const struct qloop_lua_calls *c,
                                            const char *s, size_t len,
                                            const struct qloop_lua_site *site,
                                            struct qloop_lua_answer *out);
void qloop_lua_calls_end(lua_State *L, const struct qloop_lua_calls *c);

/* Calls the two-argument check registered as ref (a compare's `equal`) on a
 * and b (NULL: nil); the answer is read as a check's: PASS means equal. */
enum qloop_lua_verdict qloop_lua_check_pair(lua_State *L, int ref, const char *a, size_t alen,
                                            const char *b, size_t blen,
                                            const struct qloop_lua_site *site,
                                            struct qloop_lua_answer *out);

/* Calls the cleanse step registered as ref on s[0..len). Returns 1 with the
 * cleaned value appended to out (text; a number as text), 0 for "no value"
 * (nil or false), -1 with err filled when it raised, returned anything else,
 * or returned more than 4 * len + 64 KiB. */
int qloop_lua_clean(lua_State *L, int ref, const char *s, size_t len,
                    const struct qloop_lua_site *site, struct qloop_buf *out,
                    struct qloop_error *err);

/* Writes the values at stack positions base+1 .. top to out, each as tostring
 * would and on its own line, and pops them. Conversions run protected and
 * budgeted (a __tostring that raises or loops is an error, never an abort).
 * Returns 0, or -1 with err and nothing written. */
int qloop_lua_print_values(lua_State *L, int base, FILE *out, struct qloop_error *err);

#endif
