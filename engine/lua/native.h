/*
 * native.h — C functions that rules may name without entering Lua.
 *
 * A rule written `check = idcard.valid` or a cleanse step `clean.trim` names a
 * Lua C function. When the rule pack is loaded, the engine looks that function
 * pointer up in the tables below; when found, the run calls the plain C
 * function over each batch and never enters Lua for it. Each binding file
 * (lua_idcard.c, lua_clean.c, ...) exports its own table next to its
 * luaopen_* function, so the Lua function and the native one are defined side
 * by side and cannot drift apart.
 */
#ifndef QLOOP_NATIVE_H
#define QLOOP_NATIVE_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* A check: true when the value s[0..len) (NUL-terminated) passes; on failure
 * may set *reason to a static Chinese message. Empty values never reach it. */
typedef bool (*qloop_check_fn)(const char *s, size_t len, const char **reason);

/* A cleanser: appends the cleaned value to out and returns 1, or returns 0 for
 * "no value" (Lua nil, e.g. clean.date on an impossible date). out is empty on
 * entry. s is NUL-terminated. */
typedef int (*qloop_clean_fn)(const char *s, size_t len, struct qloop_buf *out);

struct qloop_native_check {
    const char *name;       /* "idcard.valid" */
    lua_CFunction lua;      /* the function rules see */
    qloop_check_fn check;   /* its C twin */
};

struct qloop_native_cleaner {
    const char *name;       /* "clean.trim" */
    lua_CFunction lua;
    qloop_clean_fn clean;
};

/* Each table ends with an entry whose name is NULL. */
extern const struct qloop_native_check qloop_idcard_checks[];
extern const struct qloop_native_check qloop_uscc_checks[];   /* uscc.valid, orgcode.valid */
extern const struct qloop_native_check qloop_validate_checks[]; /* phone.valid, email.valid, ... */
extern const struct qloop_native_cleaner qloop_clean_cleaners[];

/* Looks f up in all tables; returns NULL when f has no C twin. */
const struct qloop_native_check *qloop_native_check_find(lua_CFunction f);
const struct qloop_native_cleaner *qloop_native_cleaner_find(lua_CFunction f);

#endif
