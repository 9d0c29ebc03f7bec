/*
 * record.h — the record `r` a record-level rule is called with.
 *
 * A rule written `check = function(r) ... end` reads fields as r.name or
 * r["名称"]: the cleansed value of the row being judged, nil when empty or
 * absent. The view is a userdata over a struct qloop_lua_record that its
 * owner (a judge worker) points at the current row before each call; the view
 * copies nothing, and writes to it are refused.
 */
#ifndef QLOOP_LUA_RECORD_H
#define QLOOP_LUA_RECORD_H

#include <lua.h>
#include <stddef.h>

#include "base/adapter.h"

struct strmap;

struct qloop_lua_record {
    const struct strmap *colmap;     /* column name -> index + 1 */
    const struct qloop_field *cells; /* the current row's cells */
    size_t ncols;                    /* cells[0..ncols) */
};

/* Pushes a view of rec. rec must outlive every use of the view. */
void qloop_lua_record_push(lua_State *L, struct qloop_lua_record *rec);

#endif
