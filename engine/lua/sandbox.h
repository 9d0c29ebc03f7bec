/*
 * sandbox.h — the Lua sandbox every rule, policy and `qloop eval` runs in.
 *
 * In the manner of Suricata's util-lua-sandbox.c and Redis's script_lua.c:
 * a capped lua_Alloc, an instruction budget per call that rule code cannot
 * refill (pcall, xpcall and __close re-raise once it is spent), a CPU-time
 * budget per call kept by a watchdog thread, allow-listed libraries only (no
 * io, os, package, debug, coroutine, dofile, loadfile, collectgarbage,
 * string.dump, bytecode), read-only library tables, no finalizers written in
 * Lua, chunks loaded as text only, each file in its own environment, and
 * every call through lua_pcall with a bounded error handler — never lua_call.
 * A budget exceeded raises an ordinary Lua error that names what ran out, so
 * the caller reports it like any other.
 *
 * Environments. Each chunk loaded here gets a fresh _ENV reading through to
 * the shared globals; the library tables there (idcard, string, table, …),
 * the string metatable and the record metatable are read-only, and reading a
 * name a library does not have (uscc.vaild) raises at once, with the file and
 * line. qloop_lua_seal_env freezes a file's environment once it has run, so
 * that rule code called later cannot keep state in globals.
 */
#ifndef QLOOP_LUA_HOST_H
#define QLOOP_LUA_HOST_H

#include <lua.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum {
    QLOOP_LUA_MAX_CPU_SECONDS = 60,           /* the most limits.cpu_seconds may ask */
};
#define QLOOP_LUA_MAX_INSTRUCTIONS 1000000000L /* the most limits.instructions may ask */

struct qloop_lua_limits {
    size_t memory_bytes;     /* cap on the state's total allocation; 0 = 256 MiB */
    long instructions;       /* per call; 0 = 10,000,000 */
    double cpu_seconds;      /* CPU time per call; 0 = 1 s per 10,000,000 instructions
                                of budget, at least 1 s */
    int exit_on_timeout;     /* a call past cpu_seconds ends the process with exit 2
                                (a run: nothing is stored before its final transaction);
                                otherwise the call fails with an error */
};

/* What a call is for, named when it is too slow: "rule R on row N of dataset
 * D" (rule or field may be NULL, row 0 when none). The strings must stay
 * valid for the call. */
struct qloop_lua_site {
    const char *rule;
    const char *dataset;
    const char *field;   /* a cleanse step's field */
    uint64_t row;
};

/* Creates a sandboxed state with the allow-listed standard library and all of
 * qloop's tables (libs.h) as read-only globals, its collector in generational
 * mode. Returns NULL only when out of memory. */
lua_State *qloop_lua_new(const struct qloop_lua_limits *limits);
void qloop_lua_close(lua_State *L);

/* Changes the limits of L (zero fields keep their defaults, as in
 * qloop_lua_new). */
void qloop_lua_set_limits(lua_State *L, const struct qloop_lua_limits *limits);

/* Caps the limits of every state made or changed from now on, whatever a
 * pack asks (non-zero fields only), and with never_exit set makes a call past
 * its CPU time an error instead of the end of the process (a call stuck in C,
 * e.g. table.sort, is left to finish, then fails). For a fuzzer or a
 * test harness that must stay quick and alive; call before making states. */
struct qloop_lua_ceiling {
    size_t memory_bytes;
    long instructions;
    double cpu_seconds;
    int never_exit;
};
void qloop_lua_set_ceiling(const struct qloop_lua_ceiling *ceiling);

/* Loads a text chunk (never bytecode) named chunkname ("@path" style names
 * are used for files) and leaves the function on the stack. The function's
 * _ENV is a fresh table whose reads fall through to the sandbox's globals, so
 * each file has its own environment. Returns 0, or -1 with err (file, line,
 * message) and nothing pushed. */
int qloop_lua_load(lua_State *L, const char *code, size_t len, const char *chunkname,
                   struct qloop_error *err);

/* Reads and loads a file as above. */
int qloop_lua_load_file(lua_State *L, const char *path, struct qloop_error *err);

/* qloop_lua_load_file, also writing the SHA-256 of the bytes it read (the
 * whole file, BOM included) to digest when it is not NULL: what was loaded,
 * without reading the file a second time. */
int qloop_lua_load_file_digest(lua_State *L, const char *path, uint8_t digest[32],
                               struct qloop_error *err);

/* Calls the function below nargs arguments with a fresh instruction and CPU
 * budget, through lua_pcall with a bounded error handler. On success returns
 * LUA_OK and leaves nresults values. On error returns the Lua status, pops
 * everything it pushed, and fills err: message (the budget or memory cap that
 * ran out, or the error value as text, at most ~1 KiB) and, where the error
 * names a chunk line, file and line. A call past its CPU time in a state with
 * exit_on_timeout ends the process with exit 2, naming the site. */
int qloop_lua_pcall(lua_State *L, int nargs, int nresults, struct qloop_error *err);

/* Lets the outermost calls of L run FAST (on: 1) or not (0; the default):
 * without the count hook, timed, their answer kept only when the call could
 * not have spent its instruction budget, else run again EXACT under the hook
 * — the same verdict either way for rule code whose result depends only on
 * its arguments (engine/lua/host.h). For the states that run rules per
 * record, once their packs are loaded (loading defines rules: never run it
 * twice). Does nothing where FAST is not available (no fine-grained
 * monotonic clock, no signal handler). */
void qloop_lua_set_fast(lua_State *L, int on);

/* Names what the next calls are for (NULL: nothing in particular), for the
 * message of a call that is too slow. */
void qloop_lua_set_site(lua_State *L, const struct qloop_lua_site *site);

/* The fresh _ENV table of the chunk at stack index idx (a function), pushed;
 * pushes nil when it has none. */
void qloop_lua_push_env(lua_State *L, int idx);

/* Freezes the environment of the chunk at idx once it has run: what it set
 * stays readable, and setting a global from then on raises an error that says
 * to use a local. */
void qloop_lua_seal_env(lua_State *L, int idx);

/* luaL_error with printf formats checked by the compiler (Lua's own format
 * language is narrower: %l, %x, %u, %zu are not in it). Adds the position of
 * the calling Lua code. Never returns. */
int qloop_lua_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pushes a printf-formatted string (checked formats), at most ~2 KiB. */
const char *qloop_lua_pushf(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct qloop_buf;

/* What rule code prints goes to stderr through a filter: text s[0..len) in,
 * what may be shown appended to out. The run sets one that masks the
 * personal data of the record being judged (its sensitive values, and by
 * shape); without one, print masks by shape (checks/mask.h: mask_text).
 * Control characters are escaped after the filter either way. */
typedef void (*qloop_lua_text_filter)(void *ctx, const char *s, size_t len, struct qloop_buf *out);
void qloop_lua_set_print_filter(lua_State *L, qloop_lua_text_filter filter, void *ctx);

#endif
