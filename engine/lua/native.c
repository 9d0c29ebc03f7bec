/*
 * native.c — finding the C twin of a Lua C function named by a rule.
 *
 * The tables themselves live next to their luaopen_* functions (lua_idcard.c,
 * lua_uscc.c, lua_valid.c, lua_clean.c); this file only searches them. They
 * are short (a few entries each) and searched once per rule when a rule pack
 * is loaded, so a linear search is all that is needed.
 */
#include "lua/native.h"

/* Returns the entry of checks whose Lua function is f, or NULL. */
static const struct qloop_native_check *find_check(const struct qloop_native_check *checks,
                                                   lua_CFunction f)
{
    for (const struct qloop_native_check *c = checks; c->name; c++)
        if (c->lua == f)
            return c;
    return NULL;
}

/* Looks f up in the check tables of idcard, uscc/orgcode and valid; returns
 * NULL when f is NULL or has no C twin. */
const struct qloop_native_check *qloop_native_check_find(lua_CFunction f)
{
    if (!f)
        return NULL;
    const struct qloop_native_check *const tables[] = {
        qloop_idcard_checks,
        qloop_uscc_checks,
        qloop_validate_checks,
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        const struct qloop_native_check *c = find_check(tables[i], f);
        if (c)
            return c;
    }
    return NULL;
}

/* Looks f up in the cleaner table; returns NULL when f is NULL or has no C
 * twin. */
const struct qloop_native_cleaner *qloop_native_cleaner_find(lua_CFunction f)
{
    if (!f)
        return NULL;
    for (const struct qloop_native_cleaner *c = qloop_clean_cleaners; c->name; c++)
        if (c->lua == f)
            return c;
    return NULL;
}
