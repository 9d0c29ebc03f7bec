/*
 * nesting.h — where a Lua chunk nests deepest, for the parser's "C stack
 * overflow", which comes without a line.
 */
#ifndef QLOOP_LUA_NESTING_H
#define QLOOP_LUA_NESTING_H

#include <stddef.h>

/* The line (1-based) where the nesting of s[0..len) — brackets and the
 * blocks of function, if, do and repeat — first reaches its deepest, with
 * that depth in *depth (may be NULL); 0 for a chunk with no nesting. Strings,
 * long strings and comments are skipped. */
long qloop_lua_deepest_line(const char *s, size_t len, int *depth);

#endif
