/*
 * call.c — calling rule code and reading its answer (see call.h).
 *
 * Arguments are pushed before the protected call, where the memory cap does
 * not apply (sandbox.c), so a rule that fills the state to its cap makes its
 * own calls fail, never the host's pushes. A check pushes the message handler
 * first (qloop_host_pcall), so nothing is rotated on the stack per call; a
 * check called over a block of rows (struct qloop_lua_calls) pushes the
 * handler, the check and a record's view once, and each call runs on copies
 * of them (qloop_host_pcall_kept). The answer's text goes to the host's
 * scratch buffer.
 */
#include <lauxlib.h>
#include <string.h>

#include "base/text.h"
#include "lua/call.h"
#include "lua/host.h"

size_t qloop_text_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = max;
    /* back up over continuation bytes to the start of a character */
    for (int k = 0; k < 3 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; k++)
        cut--;
    return cut;
}

/* Appends s[0..len) to b as valid UTF-8 (a bad byte becomes U+FFFD), at most
 * QLOOP_LUA_TEXT_MAX bytes of it, then a note of how many bytes were cut. */
static void add_text(struct qloop_buf *b, const char *s, size_t len)
{
    size_t keep = qloop_text_cut(s, len, QLOOP_LUA_TEXT_MAX);
    /* runs of well-formed text appended whole (eight ASCII bytes checked at
     * a time), not one character per append */
    qloop_utf8_repair(b, s, keep);
    if (keep < len)
        qloop_buf_printf(b, "…（过长，截去 %zu 字节）", len - keep);
}

static void set_answer(struct qloop_host *h, struct qloop_lua_answer *out)
{
    out->text = qloop_buf_str(&h->scratch);
    out->len = h->scratch.len;
}

static enum qloop_lua_verdict error_answer(lua_State *L, const struct qloop_error *e,
                                           struct qloop_lua_answer *out)
{
    struct qloop_host *h = qloop_host_of(L);
    char buf[2200];
    qloop_error_format(e, buf, sizeof buf);
    qloop_buf_reset(&h->scratch);
    add_text(&h->scratch, buf, strlen(buf));
    set_answer(h, out);
    return QLOOP_LUA_ERROR;
}

/* "file:line" where the function registered as ref is defined, into where. */
static void defined_at(lua_State *L, int ref, char *where, size_t size)
{
    lua_Debug ar;
    where[0] = '\0';
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (lua_isfunction(L, -1) && lua_getinfo(L, ">S", &ar) && ar.source[0] == '@')
        snprintf(where, size, "%s:%d: ", ar.source + 1, ar.linedefined);
    else
        lua_pop(L, 1);
}

/* A description of the value at idx for a message: its type, and for a
 * string or number its text (short). */
static void describe(lua_State *L, int idx, char *out, size_t size)
{
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        size_t keep = qloop_text_cut(s, len, 40);
        snprintf(out, size, "文本 \"%.*s\"%s", (int)keep, s, keep < len ? "…" : "");
    } else if (t == LUA_TNUMBER) {
        snprintf(out, size, "数字 %s", lua_tostring(L, idx));
    } else {
        snprintf(out, size, "%s", lua_typename(L, t));
    }
}

/* Calls the function and arguments pushed above the handler at `handler`,
 * reads the answer, and leaves the stack's top at `rest`: below the handler
 * (handler - 1), or — keep set, the call made on copies
 * (qloop_host_pcall_kept) — at the handler, function and what else stays
 * for the next call. */
static inline enum qloop_lua_verdict run_check(lua_State *L, int handler, int ref, int nargs,
                                               const struct qloop_lua_site *site,
                                               struct qloop_lua_answer *out, int keep, int rest)
{
    struct qloop_host *h = qloop_host_of(L);
    struct qloop_error e; /* filled by qloop_host_pcall on an error */
    if (site)
        h->site = *site;
    h->have_site = site != NULL;
    int rc = keep ? qloop_host_pcall_kept(L, nargs, 2, handler, &e)
                  : qloop_host_pcall(L, nargs, 2, handler, &e);
    h->have_site = 0;
    out->text = NULL;
    out->len = 0;
    if (rc != LUA_OK) {
        lua_settop(L, rest);
        return error_answer(L, &e, out);
    }
    /* a pass (true, the common answer) asks for no more than the first
     * result's type and truth: the reason is looked at only after a false */
    int t1 = lua_type(L, -2);
    if (t1 == LUA_TBOOLEAN && lua_toboolean(L, -2)) {
        lua_settop(L, rest);
        return QLOOP_LUA_PASS;
    }
    int t2 = lua_type(L, -1);
    if ((t1 == LUA_TBOOLEAN || t1 == LUA_TNIL) && t2 == LUA_TNIL) {
        lua_settop(L, rest);
        return QLOOP_LUA_FAIL;
    }
    if ((t1 == LUA_TBOOLEAN || t1 == LUA_TNIL) && (t2 == LUA_TSTRING || t2 == LUA_TNUMBER)) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        qloop_buf_reset(&h->scratch);
        add_text(&h->scratch, s, len);
        lua_settop(L, rest);
        set_answer(h, out);
        return QLOOP_LUA_FAIL;
    }
    char what[128], where[600];
    int bad_reason = t1 == LUA_TBOOLEAN || t1 == LUA_TNIL;
    describe(L, bad_reason ? -1 : -2, what, sizeof what);
    lua_settop(L, rest);
    defined_at(L, ref, where, sizeof where);
    qloop_buf_reset(&h->scratch);
    if (bad_reason)
        qloop_buf_printf(&h->scratch, "%scheck 返回的原因应为文本，而不是%s", where, what);
    else
        qloop_buf_printf(&h->scratch,
                         "%scheck 应返回 true（通过）、false 或 nil（不通过，可带原因文本），"
                         "而不是%s；请写成 return 条件 或 return false, \"原因\"",
                         where, what);
    set_answer(h, out);
    return QLOOP_LUA_ERROR;
}

void qloop_lua_record_calls_begin(lua_State *L, int ref, struct qloop_lua_record *rec,
                                  struct qloop_lua_calls *c)
{
    c->handler = lua_gettop(L) + 1;
    c->ref = ref;
    lua_pushcfunction(L, qloop_host_error_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    qloop_lua_record_push(L, rec);
}

void qloop_lua_value_calls_begin(lua_State *L, int ref, struct qloop_lua_calls *c)
{
    c->handler = lua_gettop(L) + 1;
    c->ref = ref;
    lua_pushcfunction(L, qloop_host_error_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

enum qloop_lua_verdict qloop_lua_record_call(lua_State *L, const struct qloop_lua_calls *c,
                                             const struct qloop_lua_site *site,
                                             struct qloop_lua_answer *out)
{
    /* the view stays: it shows whichever row rec points at */
    return run_check(L, c->handler, c->ref, 1, site, out, 1, c->handler + 2);
}

enum qloop_lua_verdict qloop_lua_value_call(lua_State *L, const struct qloop_lua_calls *c,
                                            const char *s, size_t len,
                                            const struct qloop_lua_site *site,
                                            struct qloop_lua_answer *out)
{
    lua_pushlstring(L, s, len);
    /* the value goes with the call */
    return run_check(L, c->handler, c->ref, 1, site, out, 1, c->handler + 1);
}

void qloop_lua_calls_end(lua_State *L, const struct qloop_lua_calls *c)
{
    lua_settop(L, c->handler - 1);
}

/* The one-call checks are blocks of one call: the engine's rules and these
 * run the same path. */
enum qloop_lua_verdict qloop_lua_check_value(lua_State *L, int ref, const char *s, size_t len,
                                             const struct qloop_lua_site *site,
                                             struct qloop_lua_answer *out)
{
    struct qloop_lua_calls c;
    qloop_lua_value_calls_begin(L, ref, &c);
    enum qloop_lua_verdict v = qloop_lua_value_call(L, &c, s, len, site, out);
    qloop_lua_calls_end(L, &c);
    return v;
}

enum qloop_lua_verdict qloop_lua_check_record(lua_State *L, int ref, struct qloop_lua_record *rec,
                                              const struct qloop_lua_site *site,
                                              struct qloop_lua_answer *out)
{
    struct qloop_lua_calls c;
    qloop_lua_record_calls_begin(L, ref, rec, &c);
    enum qloop_lua_verdict v = qloop_lua_record_call(L, &c, site, out);
    qloop_lua_calls_end(L, &c);
    return v;
}

enum qloop_lua_verdict qloop_lua_check_pair(lua_State *L, int ref, const char *a, size_t alen,
                                            const char *b, size_t blen,
                                            const struct qloop_lua_site *site,
                                            struct qloop_lua_answer *out)
{
    int handler = lua_gettop(L) + 1;
    lua_pushcfunction(L, qloop_host_error_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (a)
        lua_pushlstring(L, a, alen);
    else
        lua_pushnil(L);
    if (b)
        lua_pushlstring(L, b, blen);
    else
        lua_pushnil(L);
    return run_check(L, handler, ref, 2, site, out, 0, handler - 1);
}

int qloop_lua_clean(lua_State *L, int ref, const char *s, size_t len,
                    const struct qloop_lua_site *site, struct qloop_buf *out,
                    struct qloop_error *err)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushlstring(L, s, len);
    qloop_lua_set_site(L, site);
    int rc = qloop_lua_pcall(L, 1, 1, err);
    qloop_lua_set_site(L, NULL);
    if (rc != LUA_OK)
        return -1;
    int t = lua_type(L, -1);
    int have = 0;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        if (n > len * 4 + 65536) {
            char where[600];
            defined_at(L, ref, where, sizeof where);
            qloop_error_set(err, NULL, 0, 0,
                            "%s清洗函数返回的文本过长（%zu 字节，原值 %zu 字节）；清洗不应让值变长这么多",
                            where, n, len);
            have = -1;
        } else {
            qloop_buf_append(out, v, n);
            have = 1;
        }
    } else if (t != LUA_TNIL && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        char what[128], where[600];
        describe(L, -1, what, sizeof what);
        defined_at(L, ref, where, sizeof where);
        qloop_error_set(err, NULL, 0, 0, "%s清洗函数应返回文本或 nil（无值），而不是%s", where, what);
        have = -1;
    }
    lua_pop(L, 1);
    return have;
}

/* Replaces each argument by its text, as tostring would. */
static int to_text(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        lua_replace(L, i);
    }
    return n;
}

int qloop_lua_print_values(lua_State *L, int base, FILE *out, struct qloop_error *err)
{
    int n = lua_gettop(L) - base;
    if (n <= 0)
        return 0;
    if (!lua_checkstack(L, 3)) {
        lua_settop(L, base);
        return qloop_error_set(err, NULL, 0, 0, "返回值太多（%d 个），无法显示；请少返回一些值", n);
    }
    lua_pushcfunction(L, to_text);
    lua_insert(L, base + 1);
    if (qloop_lua_pcall(L, n, LUA_MULTRET, err) != LUA_OK)
        return -1;
    n = lua_gettop(L) - base;
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = lua_tolstring(L, base + i, &len);
        fwrite(s, 1, len, out);
        fputc('\n', out);
    }
    lua_settop(L, base);
    return 0;
}
