/*
 * fuzz_rules.c — a libFuzzer target over rule source and record values
 * (tests/fuzz/README.md says how to build and run it).
 *
 * An input is Lua source, optionally followed by a NUL byte and record values
 * separated by 0x1E. Each input is
 *   1. loaded as a rule file through the DSL (pack_load_path: the sandbox,
 *      the DSL's checks, sealed environments, limits {}); then every Lua
 *      check of the pack runs on every value (field rules) and on a record of
 *      the values (record rules), every Lua cleanse step and compare function
 *      on every value, twice — the record views of the first round expired
 *      in between, so rule code that kept one reads an expired view;
 *   2. run as `qloop eval` would (results turned into text, protected);
 *   3. when there are two values, used as subject and pattern for
 *      string.find / match / gmatch / gsub in the sandbox and in a plain Lua
 *      state: whenever the sandbox's functions finish within their small step
 *      budget, both must give the same results (else abort(): a finding).
 * A crash, a leak, a sanitizer report, a timeout or an abort is a finding;
 * rule errors of any kind are normal. Budgets are capped low for speed
 * (qloop_lua_set_ceiling): 4 MiB, 200,000 instructions, 1 s CPU per call,
 * and a call past its CPU time is an error, never the end of the process.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/strmap.h"
#include "lua/call.h"
#include "lua/record.h"
#include "lua/sandbox.h"
#include "rules/pack.h"

enum { MAX_VALUES = 8, PATTERN_MAX = 48 };

static char rule_path[64];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct qloop_lua_ceiling c = {.memory_bytes = (size_t)4 << 20, .instructions = 200000,
                                  .cpu_seconds = 1.0, .never_exit = 1};
    qloop_lua_set_ceiling(&c);
    snprintf(rule_path, sizeof rule_path, "/tmp/qloop-fuzz-%d.lua", (int)getpid());
    devnull = fopen("/dev/null", "w");
    return 0;
}

struct values {
    const char *v[MAX_VALUES];
    size_t len[MAX_VALUES];
    size_t n;
};

/* Splits data into source and values (see the file comment). */
static size_t split(const uint8_t *data, size_t size, struct values *vals)
{
    const uint8_t *nul = memchr(data, 0, size);
    vals->n = 0;
    if (!nul) {
        static const char *const dflt[] = {"a", "", "110105194912310025", " 12 "};
        for (size_t i = 0; i < 4; i++) {
            vals->v[i] = dflt[i];
            vals->len[i] = strlen(dflt[i]);
        }
        vals->n = 4;
        return size;
    }
    const char *p = (const char *)nul + 1, *end = (const char *)data + size;
    while (vals->n < MAX_VALUES) {
        const char *sep = memchr(p, 0x1E, (size_t)(end - p));
        const char *stop = sep ? sep : end;
        vals->v[vals->n] = p;
        vals->len[vals->n++] = (size_t)(stop - p);
        if (!sep)
            break;
        p = sep + 1;
    }
    return (size_t)(nul - data);
}

/* Runs every Lua function of the pack over the values, once. */
static void run_pack(struct pack *p, const struct values *vals, struct qloop_lua_record *rec)
{
    lua_State *L = p->L;
    struct qloop_lua_answer a;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct pack_rule *r = &p->rules[i];
        if (r->check_ref == LUA_NOREF)
            continue;
        struct qloop_lua_site site = {.rule = r->id, .dataset = r->dataset, .row = 1};
        if (r->kind == RULE_RECORD)
            qloop_lua_check_record(L, r->check_ref, rec, &site, &a);
        else
            for (size_t k = 0; k < vals->n; k++)
                qloop_lua_check_value(L, r->check_ref, vals->v[k], vals->len[k], &site, &a);
    }
    struct qloop_buf out = {0};
    for (size_t d = 0; d < p->ndatasets; d++)
        for (size_t c = 0; c < p->datasets[d].ncleanse; c++) {
            const struct pack_cleanse *pc = &p->datasets[d].cleanse[c];
            for (size_t s = 0; s < pc->nsteps; s++)
                for (size_t k = 0; pc->steps[s].lua_ref != LUA_NOREF && k < vals->n; k++) {
                    struct qloop_error e;
                    qloop_buf_reset(&out);
                    qloop_lua_clean(L, pc->steps[s].lua_ref, vals->v[k], vals->len[k], NULL, &out, &e);
                }
        }
    qloop_buf_free(&out);
    for (size_t c = 0; c < p->ncompares; c++)
        for (size_t f = 0; f < p->compares[c].nfields; f++) {
            const struct pack_compare_field *cf = &p->compares[c].fields[f];
            int refs[2] = {cf->normalize_ref, cf->equal_ref};
            for (int k = 0; k < 2; k++) {
                if (refs[k] == LUA_NOREF || vals->n < 2)
                    continue;
                struct qloop_error e;
                lua_rawgeti(L, LUA_REGISTRYINDEX, refs[k]);
                lua_pushlstring(L, vals->v[0], vals->len[0]);
                lua_pushlstring(L, vals->v[1], vals->len[1]);
                if (qloop_lua_pcall(L, 2, 1, &e) == LUA_OK)
                    lua_pop(L, 1);
            }
        }
}

static void fuzz_pack(const uint8_t *src, size_t len, const struct values *vals)
{
    FILE *f = fopen(rule_path, "wb");
    if (!f)
        abort();
    fwrite(src, 1, len, f);
    fclose(f);
    struct pack *p = pack_new();
    if (!p)
        return;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (pack_load_path(p, rule_path, &err) == 0) {
        struct strmap *cols = strmap_new();
        static const char *const names[] = {"a", "b", "c", "d", "id", "v", "name", "n"};
        struct qloop_field cells[MAX_VALUES];
        for (size_t k = 0; k < MAX_VALUES; k++) {
            *strmap_put(cols, names[k], strlen(names[k]), NULL) = k + 1;
            cells[k] = (struct qloop_field){k < vals->n ? vals->v[k] : "", k < vals->n ? vals->len[k] : 0,
                                            k >= vals->n};
        }
        struct qloop_lua_record rec = {.colmap = cols, .cells = cells, .ncols = MAX_VALUES};
        run_pack(p, vals, &rec);
        qloop_lua_record_expire(p->L, &rec); /* the batch is gone */
        run_pack(p, vals, &rec);
        qloop_lua_record_expire(p->L, &rec);
        strmap_free(cols);
    }
    pack_free(p);
}

static void fuzz_eval(const uint8_t *src, size_t len)
{
    lua_State *L = qloop_lua_new(NULL);
    if (!L)
        return;
    struct qloop_error err;
    qloop_error_clear(&err);
    int base = lua_gettop(L);
    if (qloop_lua_load(L, (const char *)src, len, "=(eval)", &err) == 0 &&
        qloop_lua_pcall(L, 0, LUA_MULTRET, &err) == LUA_OK)
        qloop_lua_print_values(L, base, devnull, &err);
    qloop_lua_close(L);
}

/* The results of `code` (a chunk of s and p) as one string, or NULL when the
 * chunk did not finish (the sandbox's budget ran out). */
static char *results(lua_State *L, int sandboxed, const char *code, const char *s, size_t ls,
                     const char *p, size_t lp)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    int base = lua_gettop(L);
    if (sandboxed ? qloop_lua_load(L, code, strlen(code), "=d", &err) != 0
                  : luaL_loadbufferx(L, code, strlen(code), "=d", "t") != LUA_OK)
        abort();
    lua_pushlstring(L, s, ls);
    lua_pushlstring(L, p, lp);
    int rc = sandboxed ? qloop_lua_pcall(L, 2, 1, &err) : lua_pcall(L, 2, 1, 0);
    char *out = NULL;
    if (rc == LUA_OK)
        out = strdup(lua_tostring(L, -1));
    else if (!sandboxed)
        abort(); /* the harness itself failed */
    lua_settop(L, base);
    return out;
}

static void fuzz_patterns(const struct values *vals)
{
    static const char code[] =
        "local s, p = ...\n"
        "local function ser(...)\n"
        "  local t = {}\n"
        "  for i = 1, select('#', ...) do t[#t + 1] = type((select(i, ...))) .. ':' .. tostring((select(i, ...))) end\n"
        "  return table.concat(t, ',')\n"
        "end\n"
        "local function all() local r = {} for a, b in string.gmatch(s, p) do r[#r + 1] = ser(a, b) if #r > 50 then break end end return table.concat(r, ';') end\n"
        "return table.concat({ ser(pcall(string.find, s, p)), ser(pcall(string.find, s, p, 2)),\n"
        "  ser(pcall(string.match, s, p)), ser(pcall(all)), ser(pcall(string.gsub, s, p, '<%0%1>')),\n"
        "  ser(pcall(string.gsub, s, p, function(x) return x end, 3)) }, '\\n')\n";
    if (vals->n < 2 || vals->len[0] > 4 * PATTERN_MAX || vals->len[1] > PATTERN_MAX)
        return;
    /* fresh states each time: what an input allocates, it frees (libFuzzer
     * counts mallocs and frees per input to find leaks) */
    lua_State *plain = luaL_newstate();
    luaL_openlibs(plain);
    struct qloop_lua_limits lim = {.instructions = 100000};
    lua_State *patterns = qloop_lua_new(&lim);
    char *mine = results(patterns, 1, code, vals->v[0], vals->len[0], vals->v[1], vals->len[1]);
    if (!mine || strstr(mine, "预算") || strstr(mine, "CPU"))
        goto out; /* out of budget: Lua's own might run for a long time */
    char *theirs = results(plain, 0, code, vals->v[0], vals->len[0], vals->v[1], vals->len[1]);
    if (strcmp(mine, theirs) != 0) {
        fprintf(stderr, "string patterns differ:\n qloop: %s\n lua:   %s\n", mine, theirs);
        abort();
    }
    free(theirs);
out:
    free(mine);
    lua_close(plain);
    qloop_lua_close(patterns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct values vals;
    size_t srclen = split(data, size, &vals);
    fuzz_pack(data, srclen, &vals);
    fuzz_eval(data, srclen);
    fuzz_patterns(&vals);
    return 0;
}
