/*
 * dsl.c — reading a declaration's Lua table (see dsl.h).
 */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "rules/dsl.h"
#include "rules/forms.h"

/* Pushes "FILE:LINE: " and the message; level 2 is the chunk calling the
 * DSL body. The format is printf's, checked by the compiler (Lua's own
 * formatter knows no %ld, %zu, %x: a duplicate rule id once printed
 * "invalid option '%l'" instead of its message). */
static void push_message(lua_State *L, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    luaL_where(L, 2);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
}

int dsl_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_message(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

int dsl_peek(lua_State *L, int t, const char *key, int type, const char *fmt, ...)
{
    int ty = lua_getfield(L, t, key);
    if (ty == type)
        return 1;
    lua_pop(L, 1);
    if (ty == LUA_TNIL)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    push_message(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

void dsl_where(lua_State *L, char **file, long *line)
{
    lua_Debug ar;
    *file = NULL;
    *line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
        *file = qloop_xstrdup(ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
        *line = ar.currentline;
    }
}

bool dsl_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static bool is_form(const char *s, const struct rule_form *const *forms)
{
    for (; forms && *forms; forms++)
        if (strcmp(s, (*forms)->name) == 0)
            return true;
    return false;
}

void dsl_check_keys(lua_State *L, int t, const char *what, const char *name,
                    const char *const *allowed, const struct rule_form *const *forms)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            dsl_error(L, "%s \"%s\" 的属性名必须是文本", what, name);
        const char *k = lua_tostring(L, -1);
        if (!dsl_in_list(k, allowed) && !is_form(k, forms)) {
            struct qloop_buf b = {0};
            for (const char *const *a = allowed; *a; a++)
                qloop_buf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
            for (; forms && *forms; forms++)
                qloop_buf_printf(&b, ", %s", (*forms)->name);
            lua_pushstring(L, qloop_buf_str(&b));
            qloop_buf_free(&b);
            dsl_error(L, "%s \"%s\" 有未知的属性 \"%s\"；可用的属性：%s", what, name, k,
                      lua_tostring(L, -1));
        }
    }
}

const char *dsl_peek_string(lua_State *L, int t, const char *key, size_t *len, const char *what,
                            const char *name)
{
    int ty = lua_getfield(L, t, key);
    if (ty == LUA_TSTRING || ty == LUA_TNUMBER)
        return lua_tolstring(L, -1, len);
    if (ty != LUA_TNIL)
        dsl_error(L, "%s \"%s\" 的 %s 应为文本，而不是 %s", what, name, key, lua_typename(L, ty));
    lua_pop(L, 1);
    return NULL;
}

char *dsl_opt_string(lua_State *L, int t, const char *key, const char *what, const char *name)
{
    const char *s = dsl_peek_string(L, t, key, NULL, what, name);
    if (!s)
        return NULL;
    char *copy = qloop_xstrdup(s);
    lua_pop(L, 1);
    return copy;
}

bool dsl_opt_bool(lua_State *L, int t, const char *key, const char *what, const char *name)
{
    int ty = lua_getfield(L, t, key);
    bool v = false;
    if (ty == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL)
        dsl_error(L, "%s \"%s\" 的 %s 应为 true 或 false", what, name, key);
    lua_pop(L, 1);
    return v;
}

/* All elements are checked before anything is allocated. */
char **dsl_opt_strings(lua_State *L, int t, const char *key, size_t *n, const char *what,
                       const char *name)
{
    char **out = NULL;
    *n = 0;
    int ty = lua_getfield(L, t, key);
    if (ty == LUA_TSTRING) {
        out = qloop_xmalloc(sizeof *out);
        out[0] = qloop_xstrdup(lua_tostring(L, -1));
        *n = 1;
    } else if (ty == LUA_TTABLE) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= len; i++) {
            int et = lua_rawgeti(L, -1, i);
            lua_pop(L, 1);
            if (et != LUA_TSTRING && et != LUA_TNUMBER)
                dsl_error(L, "%s \"%s\" 的 %s 第 %d 项应为文本", what, name, key, (int)i);
        }
        out = qloop_xcalloc((size_t)len + 1, sizeof *out);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, -1, i);
            out[(*n)++] = qloop_xstrdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else if (ty != LUA_TNIL) {
        dsl_error(L, "%s \"%s\" 的 %s 应为文本或文本列表", what, name, key);
    }
    lua_pop(L, 1);
    return out;
}

void dsl_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
