/*
 * record.h — the record `r` a record-level rule is called with.
 *
 * A rule written `check = function(r) ... end` reads fields as r.name or
 * r["名称"]: the cleansed value of the row being judged, nil when empty or
 * absent. The view is a userdata over a struct qloop_lua_record that its
 * owner (a judge worker) points at the current row before each call; the view
 * copies nothing, and writes to it are refused.
 *
 * A view lives only as long as the batch whose cells it shows: the owner
 * calls qloop_lua_record_expire when the batch is done (and before it frees
 * the struct), and a view that rule code kept — in a global, an upvalue, a
 * compare's `equal` — then raises a Lua error when read, instead of reading
 * freed memory. The next push makes a new view.
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
    void *view;                      /* private: the live view, or NULL */
    int ref;                         /* private: its registry reference */
};

/* Pushes the live view of rec, making one when there is none (a zeroed
 * struct has none). */
void qloop_lua_record_push(lua_State *L, struct qloop_lua_record *rec);

/* Ends rec's live view: reading it from then on raises an error. Safe to call
 * when there is none. */
void qloop_lua_record_expire(lua_State *L, struct qloop_lua_record *rec);

#endif
