/*
 * lua_host.h — the Lua sandbox every rule, policy and `qloop eval` runs in.
 *
 * In the manner of Suricata's util-lua-sandbox.c and Redis's script_lua.c:
 * a capped lua_Alloc, an instruction-count hook reset before every call,
 * allow-listed libraries only (no io, os, package, debug, dofile, loadfile,
 * load of bytecode, string.dump, collectgarbage), chunks loaded as text only
 * (luaL_loadbufferx(..., "t")), and every call through lua_pcall with a
 * traceback handler — never lua_call. A budget exceeded raises an ordinary Lua
 * error that names what ran out, so the caller reports it like any other.
 */
#ifndef QLOOP_LUA_HOST_H
#define QLOOP_LUA_HOST_H

#include <lua.h>
#include <stddef.h>

#include "base/error.h"

struct qloop_lua_limits {
    size_t memory_bytes;     /* cap on the state's total allocation; 0 = 256 MiB */
    long instructions;       /* per call; 0 = 10,000,000 */
};

/* Creates a sandboxed state with the allow-listed standard library and all of
 * qloop's tables (lua_libs.h) as globals. Returns NULL only when out of memory. */
lua_State *qloop_lua_new(const struct qloop_lua_limits *limits);
void qloop_lua_close(lua_State *L);

/* Loads a text chunk (never bytecode) named chunkname ("@path" style names
 * are used for files) and leaves the function on the stack. The function's
 * _ENV is a fresh table whose metatable __index is the sandbox's globals, so
 * each file has its own environment. Returns 0, or -1 with err (file, line,
 * message) and nothing pushed. */
int qloop_lua_load(lua_State *L, const char *code, size_t len, const char *chunkname,
                   struct qloop_error *err);

/* Reads and loads a file as above. */
int qloop_lua_load_file(lua_State *L, const char *path, struct qloop_error *err);

/* Calls the function below nargs arguments with a fresh instruction budget,
 * through lua_pcall with a traceback handler. On success returns LUA_OK and
 * leaves nresults values. On error returns the Lua status, pops everything it
 * pushed, and fills err: message (the budget or memory cap that ran out, or
 * the error value as text) and, where the error names a chunk line, file and
 * line. */
int qloop_lua_pcall(lua_State *L, int nargs, int nresults, struct qloop_error *err);

/* The fresh _ENV table of the chunk at stack index idx (a function), pushed;
 * pushes nil when it has none. */
void qloop_lua_push_env(lua_State *L, int idx);

#endif
