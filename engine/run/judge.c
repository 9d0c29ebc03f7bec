/*
 * judge.c — cleansing and judging batches on worker threads (see judge.h).
 *
 * A pool of N workers: worker 0 is the caller, workers 1..N-1 are threads
 * that sleep on a condition variable between batches. judge_start splits
 * the batch's rows into N contiguous ranges, one per worker's Lua state, and
 * wakes the threads; judge_finish does the caller's part and waits for the
 * rest (judge_run: both). In between, the caller may do other work — the
 * batch before's merge (dataset.c) — while the threads judge: a thread done
 * with its own range goes on with the blocks of another state nobody is
 * judging (the caller's), one block at a time and in order, so that every
 * row is still judged by the Lua state of its range, in the same order,
 * whatever the timing. Per row range a worker
 *   1. cleanses: for each cleanse entry, the C cleaner (native.h) straight
 *      over the values, or the Lua step through its own state; changed values
 *      go to the worker's arena and replace the cell in the view;
 *   2. judges: for each rule, the built-in forms in C through their table
 *      (rules/forms.h: pattern, one_of, range, references, C checks with a
 *      native twin; not_null for empty values), and the Lua check where the
 *      rule has one — the only place Lua is entered.
 * Which Lua state cleanses and judges a row is fixed by the split (a
 * stateful rule's counts depend on which Lua state sees which rows); a
 * state's range is done in blocks of JUDGE_BLOCK rows, each cleansed and
 * then judged rule by rule. What follows is stateless C per row — the
 * record refs (row_refs), the findings of failing verdicts (fail) and the
 * passed values (pass) — and is shared out (share.h): once a block is judged
 * its rows are claimed in chunks by whichever thread is free, the run's
 * thread included, so the run's thread does not sit waiting for a worker
 * that shares its core with the reader — the refs and findings at once
 * when the batch has its own ctx (judge.h), the passed values (and the
 * rest without one) once the gate is open too (judge_finish: the caller
 * has made the dataset's callbacks see this batch).
 * Each chunk writes only its rows' slots (refs[row], enc_at/len/by of its
 * verdicts) and the claiming worker's own buffers, so the results are the
 * same whichever worker took it.
 */
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "run/judge.h"
#include "base/escape.h"
#include "base/purity.h"
#include "base/text.h"
#include "checks/mask.h"
#include "lua/call.h"
#include "lua/sandbox.h"
#include "rules/forms.h"
#include "base/strmap.h"
#include "run/memo.h"
#include "run/share.h"

/* ---- workers and the pool ---- */

struct worker {
    struct judge_pool *pool;
    struct pack *pack;          /* its own (worker 0: the run's) */
    pthread_t thread;
    /* cleansed values and reasons of a batch: two, the batches alternating
     * (judge_start), so that a batch's strings stay valid while the next
     * one is judged; arena points at the current batch's */
    struct qloop_arena arenas[2];
    struct qloop_arena *arena;
    struct qloop_buf cur, next;
    size_t begin, end;          /* row range of the current batch */
    size_t first_block, nblocks; /* its blocks: the share's ranges first_block .. */
    /* The Lua state's blocks are judged in order, one at a time, by
     * whichever thread holds busy: next_block (read and written only by the
     * holder) is the first not yet judged. */
    atomic_bool busy;
    size_t next_block;
    struct qloop_buf scratch;   /* the thread's own, for the stateless C (after_judging) */
    size_t row;                 /* the row being cleansed or judged */
    bool in_row;                /* row is set (else: loading, or between batches) */
    struct mask_value *values;  /* that row's sensitive values (row_values) */
    struct qloop_lua_record rec; /* what the record view shows */
    int64_t *checked, *errors, *changed;
    int64_t memo_reused, memo_called;
    int64_t forms_reused;       /* field rule verdicts taken from the memo */
    size_t ncounts;
    /* cleanse steps that raised, per cleanse entry: how often, and the first
     * (lowest row) with its text, reported once per dataset */
    int64_t *clean_errors;
    uint64_t *clean_first_row;
    char **clean_first;
    size_t nclean;
};

struct judge_pool {
    struct pack *pack;
    struct worker *w;
    size_t n;
    struct judge_dataset *ds;
    struct judge_batch *b;
    /* the stateless C after judging, by chunks: share the record refs and
     * findings (row_refs, fail), share_pass the passed values (pass) */
    struct share share, share_pass;
    bool early;                 /* the batch's ctx is set: share opens per block at once */
    /* per block of the batch: judged (+1) and the gate open (+1); the
     * second of the two makes its rows claimable (share_ready) */
    atomic_uint *gate;
    size_t gate_cap, nblocks;
    unsigned parity;            /* which of the workers' arenas the batch uses */
    bool started;               /* judge_start done, judge_finish not yet */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation;
    size_t pending;
    bool quit;
};

static const struct qloop_field *view_cell(const struct judge_batch *b, size_t row, long col)
{
    static const struct qloop_field null_field = {"", 0, 1};
    if (col < 0 || (size_t)col >= b->batch->ncols)
        return &null_field;
    return &b->view[row * b->batch->ncols + (size_t)col];
}

/* ---- personal data in what rule code prints or raises ---- */

/* The sensitive values of the row w is at (as cleansed so far, and as read)
 * into w->values; returns how many. */
static size_t row_values(struct worker *w)
{
    const struct judge_dataset *ds = w->pool->ds;
    const struct judge_batch *b = w->pool->b;
    if (!w->in_row || !ds || !b || ds->nsensitive == 0)
        return 0;
    w->values = qloop_xrealloc(w->values, 2 * ds->nsensitive * sizeof *w->values);
    size_t n = 0, ncols = b->batch->ncols;
    for (size_t i = 0; i < ds->nsensitive; i++) {
        long col = ds->sensitive_cols[i];
        if (col < 0 || (size_t)col >= ncols)
            continue;
        const struct qloop_field *v = &b->view[w->row * ncols + (size_t)col];
        const struct qloop_field *raw = &b->batch->cells[w->row * ncols + (size_t)col];
        if (!v->null && v->len)
            w->values[n++] = (struct mask_value){v->ptr, v->len};
        if (!raw->null && raw->len && (v->null || raw->len != v->len || raw->ptr != v->ptr))
            w->values[n++] = (struct mask_value){raw->ptr, raw->len};
    }
    return n;
}

/* The print filter of each worker's Lua state (lua/sandbox.h): masks the
 * row's sensitive values and by shape. */
static void print_filter(void *ctx, const char *s, size_t len, struct qloop_buf *out)
{
    struct worker *w = ctx;
    mask_text(s, len, w->values, row_values(w), out);
}

/* A copy of text (a cleanse function's error about the row w is at) with the
 * row's personal data masked and control characters escaped. */
static char *masked_copy(struct worker *w, const char *text)
{
    struct qloop_buf masked = {0}, safe = {0};
    mask_text(text, strlen(text), w->values, row_values(w), &masked);
    qloop_escape_controls(masked.ptr ? masked.ptr : "", masked.len, 0, &safe);
    qloop_buf_free(&masked);
    char *copy = qloop_xstrdup(qloop_buf_str(&safe));
    qloop_buf_free(&safe);
    return copy;
}

/* ---- cleansing ---- */

/* Cleanses rows begin .. end of w's range, entry by entry. */
static void cleanse_rows(struct worker *w, size_t begin, size_t end)
{
    struct judge_pool *pool = w->pool;
    const struct judge_dataset *ds = pool->ds;
    const struct judge_batch *b = pool->b;
    struct pack_dataset *d = &w->pack->datasets[ds->dataset];
    lua_State *L = w->pack->L;
    for (size_t c = 0; c < ds->ncleanse; c++) {
        long col = ds->cleanse_cols[c];
        if (col < 0 || (size_t)col >= b->batch->ncols)
            continue;
        const struct pack_cleanse *pc = &d->cleanse[c];
        for (size_t row = begin; row < end; row++) {
            struct qloop_field *f = &b->view[row * b->batch->ncols + (size_t)col];
            if (f->null)
                continue;
            w->row = row, w->in_row = true;
            /* the text the next step reads: the cell's own (NUL-terminated,
             * adapter.h) bytes for the first, then the step before's output */
            const char *in = f->ptr;
            size_t in_len = f->len;
            int have = 1;
            for (size_t s = 0; s < pc->nsteps && have; s++) {
                const struct pack_step *st = &pc->steps[s];
                qloop_buf_reset(&w->next);
                if (st->native) {
                    have = st->native->clean(in, in_len, &w->next);
                } else {
                    struct qloop_error e; /* filled when have < 0 */
                    struct qloop_lua_site site = {.dataset = d->name, .field = pc->field,
                                                  .row = b->batch->row_no[row]};
                    have = qloop_lua_clean(L, st->lua_ref, in, in_len, &site, &w->next, &e);
                    if (have < 0) {
                        uint64_t rn = b->batch->row_no[row];
                        if (w->clean_errors[c]++ == 0 || rn < w->clean_first_row[c]) {
                            char buf[1200];
                            qloop_error_format(&e, buf, sizeof buf);
                            free(w->clean_first[c]);
                            w->clean_first[c] = masked_copy(w, buf);
                            w->clean_first_row[c] = rn;
                        }
                        qloop_buf_reset(&w->next);
                        qloop_buf_append(&w->next, in, in_len);
                        have = 1;
                    }
                }
                struct qloop_buf t = w->cur;
                w->cur = w->next;
                w->next = t;
                in = qloop_buf_str(&w->cur);
                in_len = w->cur.len;
            }
            if (!have) {
                f->ptr = "";
                f->len = 0;
                f->null = 1;
                w->changed[c]++;
            } else if (in != f->ptr && (in_len != f->len || memcmp(in, f->ptr, f->len) != 0)) {
                f->ptr = qloop_arena_copy(w->arena, in, in_len);
                f->len = in_len;
                w->changed[c]++;
            }
        }
    }
}

/* judge_batch.key_empty of rows begin .. end, cleansed: whether a key cell
 * is empty (qloop_value_empty, as identity_keyless asks it). */
static void mark_key_empty(const struct judge_dataset *ds, const struct judge_batch *b,
                           size_t begin, size_t end)
{
    if (!b->key_empty)
        return;
    for (size_t row = begin; row < end; row++) {
        bool empty = ds->nkeys == 0;
        for (size_t i = 0; i < ds->nkeys && !empty; i++)
            empty = qloop_value_empty(view_cell(b, row, ds->key_cols[i]));
        b->key_empty[row] = empty;
    }
}

/* ---- judging ---- */

/* Keeps the text of a Lua answer beyond the call: copied into the arena. */
static const char *keep_answer(struct worker *w, const struct qloop_lua_answer *a)
{
    return a->text ? qloop_arena_copy(w->arena, a->text, a->len) : NULL;
}

static const char *keep_error(struct worker *w, const struct qloop_error *e)
{
    char buf[2200];
    qloop_error_format(e, buf, sizeof buf);
    return qloop_arena_copy(w->arena, buf, strlen(buf));
}

/* Judges one non-empty value (of data row `row`) against a field rule: its
 * built-in forms in C (forms.h), then its Lua check when it has one (calls:
 * its handler and function pushed for the block, call.h). */
static enum judge_verdict judge_value(struct worker *w, const struct pack_rule *r,
                                      const struct form_env *env, const struct qloop_field *f,
                                      uint64_t row, const char **reason,
                                      const struct qloop_lua_calls *calls)
{
    switch (forms_judge(r, env, f->ptr, f->len, reason)) {
    case FORM_FAIL:
        return JUDGE_FAIL;
    case FORM_ERROR: {
        struct qloop_error e;
        qloop_error_set(&e, r->file, r->line, 0, "%s", *reason);
        *reason = keep_error(w, &e);
        return JUDGE_ERROR;
    }
    case FORM_PASS:
        break;
    }
    if (r->check_ref != LUA_NOREF) {
        struct qloop_lua_site site = {.rule = r->id, .dataset = r->dataset, .row = row};
        struct qloop_lua_answer a;
        enum qloop_lua_verdict v = qloop_lua_value_call(w->pack->L, calls, f->ptr, f->len, &site, &a);
        if (v != QLOOP_LUA_PASS) {
            *reason = keep_answer(w, &a);
            return v == QLOOP_LUA_FAIL ? JUDGE_FAIL : JUDGE_ERROR;
        }
    }
    return JUDGE_PASS;
}

/* The memo's answer of slot on row (judge.h): when the row's fingerprint is
 * the one kept for its row number (else judge_rows dropped the entry) and
 * the kept answer is one, sets its
 * verdict and reason, notes it for the next memo and returns true. */
static inline bool reuse(const struct judge_memo *memo, size_t nrows, size_t slot, size_t row,
                         uint8_t *verdict, const char **reason)
{
    const uint8_t *e = memo->old[row]; /* its fingerprint checked (judge_rows) */
    if (!e)
        return false;
    uint8_t v = memo_entry_verdict(e, slot);
    if (v == MEMO_NONE)
        return false;
    *verdict = v == MEMO_PASS ? JUDGE_PASS : JUDGE_FAIL;
    *reason = v == MEMO_FAIL_REASON ? memo_entry_reason(e, memo->nslots, slot) : NULL;
    memo->verdict[slot * nrows + row] = v;
    return true;
}

/* What the memo keeps of a verdict just made (memo.h): nothing for an error
 * or a call that made an impure read (impure), else pass, fail, or fail with
 * its reason. */
static uint8_t kept_verdict(uint8_t verdict, const char *reason, bool impure)
{
    return verdict == JUDGE_ERROR || impure ? MEMO_NONE
           : verdict == JUDGE_PASS          ? MEMO_PASS
           : verdict != JUDGE_FAIL          ? MEMO_NONE
           : reason                         ? MEMO_FAIL_REASON
                                            : MEMO_FAIL;
}

/* Judges rows begin .. end of w's range, rule by rule (the rows
 * fingerprinted first when the batch has a memo). */
static void judge_rows(struct worker *w, size_t begin, size_t end)
{
    struct judge_pool *pool = w->pool;
    const struct judge_dataset *ds = pool->ds;
    const struct judge_batch *b = pool->b;
    size_t nrows = b->batch->nrows;
    lua_State *L = w->pack->L;
    const struct judge_memo *memo = b->memo;
    bool kept = false; /* some row of the range has a kept entry (none on a first night) */
    for (size_t row = begin; memo && row < end; row++) {
        memo->fp[row] = memo_row_fp(memo->key, &b->view[row * b->batch->ncols], b->batch->ncols,
                                    &w->cur);
        if (memo->old[row] && memo_entry_fp(memo->old[row]) != memo->fp[row])
            memo->old[row] = NULL; /* the row changed: nothing of it is reused */
        kept |= memo->old[row] != NULL;
    }
    for (size_t i = 0; i < ds->nrules; i++) {
        const struct pack_rule *r = &w->pack->rules[ds->rules[i]];
        uint8_t *verdict = b->verdict + i * nrows;
        const char **reason = b->reason + i * nrows;
        int slot = memo ? memo->slot[i] : -1; /* the rule's slot in the memo, -1: not kept */
        /* a Lua check's handler and function (and a record rule's view)
         * are pushed once for the block's rows (call.h) */
        struct qloop_lua_calls calls;
        bool lua = r->check_ref != LUA_NOREF; /* every record rule's is (pack.c) */
        if (lua && r->kind == RULE_RECORD)
            qloop_lua_record_calls_begin(L, r->check_ref, &w->rec, &calls);
        else if (lua)
            qloop_lua_value_calls_begin(L, r->check_ref, &calls);
        for (size_t row = begin; row < end; row++) {
            reason[row] = NULL;
            w->row = row, w->in_row = true;
            if (r->kind == RULE_RECORD) {
                if (kept && slot >= 0 &&
                    reuse(memo, nrows, (size_t)slot, row, &verdict[row], &reason[row])) {
                    w->memo_reused++;
                    w->checked[i]++;
                    continue;
                }
                w->rec.cells = &b->view[row * b->batch->ncols];
                w->rec.ncols = b->batch->ncols;
                struct qloop_lua_site site = {.rule = r->id, .dataset = r->dataset,
                                              .row = b->batch->row_no[row]};
                struct qloop_lua_answer a;
                uint64_t impure = qloop_purity_mark();
                enum qloop_lua_verdict v = qloop_lua_record_call(L, &calls, &site, &a);
                reason[row] = v == QLOOP_LUA_PASS ? NULL : keep_answer(w, &a);
                verdict[row] = v == QLOOP_LUA_PASS ? JUDGE_PASS : v == QLOOP_LUA_FAIL ? JUDGE_FAIL : JUDGE_ERROR;
                if (slot >= 0) {
                    w->memo_called++;
                    memo->verdict[(size_t)slot * nrows + row] =
                        kept_verdict(verdict[row], reason[row], qloop_purity_mark() != impure);
                }
                if (v == QLOOP_LUA_ERROR)
                    w->errors[i]++;
                else
                    w->checked[i]++;
                continue;
            }
            const struct qloop_field *f = view_cell(b, row, ds->rule_cols[i]);
            if (qloop_value_empty(f)) {
                if (r->form_flags & FORM_EMPTY_FAILS) {
                    w->checked[i]++;
                    verdict[row] = JUDGE_FAIL;
                    reason[row] = r->message_default ? "为空" : NULL;
                } else {
                    verdict[row] = JUDGE_SKIP;
                }
                continue;
            }
            /* a field rule the memo keeps (memo.h: its forms and check see
             * nothing but the value and the environment) */
            uint64_t impure = 0;
            if (slot >= 0) {
                if (kept && reuse(memo, nrows, (size_t)slot, row, &verdict[row], &reason[row])) {
                    w->forms_reused++;
                    w->checked[i]++;
                    continue;
                }
                impure = qloop_purity_mark();
            }
            bool deferred = false;
            struct form_env env = {.refset = ds->refsets[i],
                                   .deferred = ds->defer_refs ? &deferred : NULL};
            verdict[row] =
                (uint8_t)judge_value(w, r, &env, f, b->batch->row_no[row], &reason[row], &calls);
            if (slot >= 0)
                memo->verdict[(size_t)slot * nrows + row] =
                    kept_verdict(verdict[row], reason[row], deferred || qloop_purity_mark() != impure);
            if (deferred)
                verdict[row] = verdict[row] == JUDGE_PASS   ? JUDGE_PENDING
                               : verdict[row] == JUDGE_FAIL ? JUDGE_PENDING_FAIL
                                                            : JUDGE_PENDING_ERROR;
            if (verdict[row] == JUDGE_ERROR)
                w->errors[i]++;
            else if (verdict[row] != JUDGE_PENDING_ERROR) /* checked or an error: the merge says */
                w->checked[i]++;
        }
        if (lua)
            qloop_lua_calls_end(L, &calls);
    }
}

/* Rows a claim of the stateless work takes (share.h): small enough for the
 * run's thread to take over a fair part of a late worker's rows, large
 * enough for the claims to cost nothing beside the rows' findings. A worker
 * cleanses and judges its range JUDGE_BLOCK rows at a time and opens each
 * block to the others once judged, so that a worker done early does the C
 * of a late one's first blocks while that one is still in Lua. */
enum { SHARE_CHUNK = 64, JUDGE_BLOCK = 512 };

/* The findings of the failing verdicts of rows begin .. end, through the
 * dataset's fail (judge.h), made by worker me into its own buffer. */
static void encode_fails(struct worker *w, size_t begin, size_t end)
{
    struct judge_pool *pool = w->pool;
    const struct judge_dataset *ds = pool->ds;
    const struct judge_batch *b = pool->b;
    size_t me = (size_t)(w - pool->w), nrows = b->batch->nrows;
    struct qloop_buf *out = &b->enc[me];
    for (size_t i = 0; i < ds->nrules; i++)
        for (size_t row = begin; row < end; row++) {
            size_t k = i * nrows + row, at = out->len;
            if (b->verdict[k] != JUDGE_FAIL)
                continue;
            if (ds->fail(b->ctx ? b->ctx : ds->fail_ctx, me, i, row, b->reason[k], out) &&
                at < UINT32_MAX &&
                out->len - at < UINT32_MAX) {
                b->enc_at[k] = (uint32_t)at;
                b->enc_len[k] = (uint32_t)(out->len - at);
                b->enc_by[k] = (uint8_t)me;
            } else {
                out->len = at;
                b->enc_len[k] = UINT32_MAX;
            }
        }
}

/* The passed verdicts of rows begin .. end through the dataset's pass
 * (judge.h), as worker me. */
static void hand_passes(struct worker *w, size_t begin, size_t end)
{
    const struct judge_dataset *ds = w->pool->ds;
    const struct judge_batch *b = w->pool->b;
    size_t me = (size_t)(w - w->pool->w), nrows = b->batch->nrows;
    for (size_t i = 0; i < ds->nrules; i++) {
        if (!ds->pass_rules[i])
            continue;
        const uint8_t *verdict = b->verdict + i * nrows;
        for (size_t row = begin; row < end; row++)
            if (verdict[row] == JUDGE_PASS)
                ds->pass(ds->pass_ctx, me, i, row);
    }
}

/* share.h's fn: the stateless C on judged rows begin .. end, by thread
 * `thread` — their record refs and findings. */
static void after_judging(void *ctx, size_t thread, size_t begin, size_t end)
{
    struct judge_pool *pool = ctx;
    struct worker *w = &pool->w[thread];
    const struct judge_dataset *ds = pool->ds;
    void *row_ref_ctx = pool->b->ctx ? pool->b->ctx : ds->row_ref_ctx;
    if (ds->row_refs && pool->b->refs)
        ds->row_refs(row_ref_ctx, begin, end, &w->scratch, pool->b->refs);
    if (ds->fail && pool->b->enc)
        encode_fails(w, begin, end);
}

/* share.h's fn: the passed values of judged rows begin .. end, by thread
 * `thread`. */
static void after_judging_pass(void *ctx, size_t thread, size_t begin, size_t end)
{
    struct judge_pool *pool = ctx;
    if (pool->ds->pass)
        hand_passes(&pool->w[thread], begin, end);
}

/* The rows *begin .. *end of worker w's block k of the current batch. */
static void block_rows(const struct worker *w, size_t k, size_t *begin, size_t *end)
{
    *begin = w->begin + k * JUDGE_BLOCK;
    *end = w->end - *begin > JUDGE_BLOCK ? *begin + JUDGE_BLOCK : w->end;
}

/* Block `blk` is judged, or the gate opened on it: the second of the two
 * makes its rows claimable for what waits for the gate. */
static void gate_pass(struct judge_pool *pool, size_t blk)
{
    if (atomic_fetch_add_explicit(&pool->gate[blk], 1, memory_order_acq_rel) == 1) {
        if (!pool->early)
            share_ready(&pool->share, blk);
        share_ready(&pool->share_pass, blk);
    }
}

/* Judges the next block of Lua state s (worker s's range) on the calling
 * thread, when no other thread is judging one of s's and one is left:
 * cleansed and judged, then past the gate. Returns whether it did one. The
 * blocks of a state go in order whichever thread takes them, so each row is
 * judged by the same Lua state, in the same order, as judge_run always did. */
static bool judge_block(struct judge_pool *pool, size_t s)
{
    struct worker *w = &pool->w[s];
    if (atomic_load_explicit(&w->busy, memory_order_relaxed) ||
        atomic_exchange_explicit(&w->busy, true, memory_order_acquire))
        return false;
    size_t k = w->next_block;
    if (k >= w->nblocks) {
        atomic_store_explicit(&w->busy, false, memory_order_release);
        return false;
    }
    w->next_block = k + 1;
    if (k == 0) { /* the state's first block of the batch */
        w->arena = &w->arenas[pool->parity];
        qloop_arena_reset(w->arena);
    }
    size_t begin, end;
    block_rows(w, k, &begin, &end);
    cleanse_rows(w, begin, end);
    mark_key_empty(pool->ds, pool->b, begin, end);
    judge_rows(w, begin, end);
    w->in_row = false;
    if (k + 1 == w->nblocks)
        qloop_lua_record_expire(w->pack->L, &w->rec); /* views die with their batch */
    atomic_store_explicit(&w->busy, false, memory_order_release);
    if (pool->early) /* refs and findings through the batch's own ctx: at once */
        share_ready(&pool->share, w->first_block + k);
    gate_pass(pool, w->first_block + k);
    return true;
}

/* Thread `me`'s part of a batch: judges blocks — of its own Lua state
 * first, of another's when that one is free (a worker done early, or the
 * run's thread still busy with the batch before: judge_start) — then helps
 * with the stateless C of every block as they get judged and the gate is
 * open. */
static void work(struct judge_pool *pool, size_t me)
{
    if (pool->ds->fail && pool->b->enc)
        qloop_buf_reset(&pool->b->enc[me]); /* only its own thread appends */
    for (bool did = true; did;) {
        did = false;
        for (size_t j = 0; j < pool->n && !did; j++)
            did = judge_block(pool, (me + j) % pool->n);
    }
    /* A state still busy on another thread: that thread goes on with its
     * blocks (it looks again after each one). */
    share_help(&pool->share, me, pool->w[me].first_block, after_judging, pool);
    share_help(&pool->share_pass, me, pool->w[me].first_block, after_judging_pass, pool);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct judge_pool *pool = w->pool;
    size_t me = (size_t)(w - pool->w);
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->go, &pool->mu);
        if (pool->quit)
            break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->mu);
        work(pool, me);
        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

struct judge_pool *judge_pool_new(struct pack *p, size_t nworkers, struct qloop_error *err)
{
    if (nworkers < 1)
        nworkers = 1;
    struct judge_pool *pool = qloop_xcalloc(1, sizeof *pool);
    pool->pack = p;
    pool->w = qloop_xcalloc(nworkers, sizeof *pool->w);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->done, NULL);
    share_init(&pool->share, SHARE_CHUNK);
    share_init(&pool->share_pass, SHARE_CHUNK);
    for (size_t i = 0; i < nworkers; i++) {
        struct worker *w = &pool->w[i];
        w->pool = pool;
        w->arena = &w->arenas[0];
        atomic_init(&w->busy, false);
        if (i == 0) {
            w->pack = p;
        } else {
            w->pack = pack_new();
            for (size_t f = 0; w->pack && f < p->nfiles; f++)
                if (pack_load_path(w->pack, p->files[f], err) != 0) {
                    pack_free(w->pack);
                    w->pack = NULL;
                }
            if (!w->pack || w->pack->nrules != p->nrules || w->pack->ndatasets != p->ndatasets) {
                if (w->pack)
                    pack_free(w->pack);
                w->pack = NULL;
                pool->n = i;
                judge_pool_free(pool);
                qloop_error_internal(err, NULL, "无法为工作线程加载规则：规则文件在运行中被修改？");
                return NULL;
            }
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                pack_free(w->pack);
                w->pack = NULL;
                break; /* run with the workers we have */
            }
        }
        qloop_lua_set_print_filter(w->pack->L, print_filter, w);
        /* its files are loaded: from here on the state only judges and
         * cleanses, so its calls may run FAST (lua/sandbox.h) */
        qloop_lua_set_fast(w->pack->L, 1);
        pool->n = i + 1;
    }
    return pool;
}

size_t judge_pool_size(const struct judge_pool *pool) { return pool->n; }

static void free_counts(struct worker *w)
{
    free(w->checked);
    free(w->errors);
    free(w->changed);
    w->checked = w->errors = w->changed = NULL;
    for (size_t c = 0; w->clean_first && c < w->nclean; c++)
        free(w->clean_first[c]);
    free(w->clean_errors);
    free(w->clean_first_row);
    free(w->clean_first);
    w->clean_errors = NULL;
    w->clean_first_row = NULL;
    w->clean_first = NULL;
    w->nclean = 0;
}

void judge_pool_free(struct judge_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = true;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    for (size_t i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        if (i > 0)
            pthread_join(w->thread, NULL);
        if (w->pack)
            qloop_lua_record_expire(w->pack->L, &w->rec);
        if (i > 0)
            pack_free(w->pack);
        else if (w->pack) /* the run's own pack outlives the pool */
            qloop_lua_set_print_filter(w->pack->L, NULL, NULL);
        free(w->values);
        qloop_arena_free(&w->arenas[0]);
        qloop_arena_free(&w->arenas[1]);
        qloop_buf_free(&w->scratch);
        qloop_buf_free(&w->cur);
        qloop_buf_free(&w->next);
        free_counts(w);
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->go);
    pthread_cond_destroy(&pool->done);
    share_destroy(&pool->share);
    share_destroy(&pool->share_pass);
    free(pool->gate);
    free(pool->w);
    free(pool);
}

void judge_begin_dataset(struct judge_pool *pool, struct judge_dataset *ds)
{
    pool->ds = ds;
    for (size_t i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        free_counts(w);
        w->checked = qloop_xcalloc(ds->nrules + 1, sizeof *w->checked);
        w->errors = qloop_xcalloc(ds->nrules + 1, sizeof *w->errors);
        w->changed = qloop_xcalloc(ds->ncleanse + 1, sizeof *w->changed);
        w->clean_errors = qloop_xcalloc(ds->ncleanse + 1, sizeof *w->clean_errors);
        w->clean_first_row = qloop_xcalloc(ds->ncleanse + 1, sizeof *w->clean_first_row);
        w->clean_first = qloop_xcalloc(ds->ncleanse + 1, sizeof *w->clean_first);
        w->nclean = ds->ncleanse;
        w->memo_reused = w->memo_called = w->forms_reused = 0;
        qloop_lua_record_expire(w->pack->L, &w->rec);
        w->rec = (struct qloop_lua_record){.colmap = ds->colmap};
    }
}

/* Reports the cleanse steps that raised during the dataset: one line per
 * cleanse entry, with the count and the first failing row (the values stay
 * as they were read). */
static void report_clean_errors(struct judge_pool *pool)
{
    const struct judge_dataset *ds = pool->ds;
    const struct pack_dataset *d = &pool->pack->datasets[ds->dataset];
    for (size_t c = 0; c < ds->ncleanse; c++) {
        int64_t total = 0;
        const struct worker *first = NULL;
        for (size_t i = 0; i < pool->n; i++) {
            const struct worker *w = &pool->w[i];
            total += w->clean_errors[c];
            if (w->clean_errors[c] && (!first || w->clean_first_row[c] < first->clean_first_row[c]))
                first = w;
        }
        if (total)
            fprintf(stderr,
                    "qloop: 数据集 %s 字段 %s 的清洗函数在 %lld 条记录上出错，这些值保持原样；"
                    "第一处在数据第 %llu 行（不计表头）：%s\n",
                    d->name, d->cleanse[c].field, (long long)total,
                    (unsigned long long)first->clean_first_row[c], first->clean_first[c]);
    }
}

void judge_end_dataset(struct judge_pool *pool)
{
    struct judge_dataset *ds = pool->ds;
    report_clean_errors(pool);
    for (size_t i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        for (size_t r = 0; r < ds->nrules; r++) {
            ds->checked[r] += w->checked[r];
            ds->errors[r] += w->errors[r];
        }
        for (size_t c = 0; c < ds->ncleanse; c++)
            ds->changed[c] += w->changed[c];
        ds->memo_reused += w->memo_reused;
        ds->memo_called += w->memo_called;
        ds->forms_reused += w->forms_reused;
        qloop_lua_record_expire(w->pack->L, &w->rec);
        free_counts(w);
    }
    pool->ds = NULL;
}

void judge_start(struct judge_pool *pool, struct judge_batch *b)
{
    size_t nrows = b->batch->nrows;
    size_t n = pool->n;
    /* Below a few hundred rows a thread costs more than it saves. */
    if (nrows < 256 * n)
        n = 1;
    pool->b = b;
    pool->parity ^= 1;
    size_t nblocks = 0;
    for (size_t i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        w->begin = i < n ? nrows * i / n : nrows;
        w->end = i < n ? nrows * (i + 1) / n : nrows;
        w->first_block = nblocks;
        w->nblocks = (w->end - w->begin + JUDGE_BLOCK - 1) / JUDGE_BLOCK;
        w->next_block = 0;
        atomic_store_explicit(&w->busy, false, memory_order_relaxed);
        nblocks += w->nblocks;
    }
    share_start(&pool->share, nblocks);
    share_start(&pool->share_pass, nblocks);
    pool->early = b->ctx != NULL;
    pool->nblocks = nblocks;
    if (nblocks > pool->gate_cap) {
        free(pool->gate);
        pool->gate = qloop_xcalloc(nblocks, sizeof *pool->gate);
        pool->gate_cap = nblocks;
    }
    for (size_t i = 0; i < nblocks; i++)
        atomic_store_explicit(&pool->gate[i], 0, memory_order_relaxed);
    for (size_t i = 0; i < pool->n; i++) {
        const struct worker *w = &pool->w[i];
        for (size_t k = 0; k < w->nblocks; k++) {
            size_t begin, end;
            block_rows(w, k, &begin, &end);
            share_range(&pool->share, w->first_block + k, begin, end);
            share_range(&pool->share_pass, w->first_block + k, begin, end);
        }
    }
    pool->started = true;
    if (pool->n > 1) { /* the mutex publishes all of the above to the workers */
        pthread_mutex_lock(&pool->mu);
        pool->pending = pool->n - 1;
        pool->generation++;
        pthread_cond_broadcast(&pool->go);
        pthread_mutex_unlock(&pool->mu);
    }
}

void judge_finish(struct judge_pool *pool)
{
    if (!pool->started)
        return;
    for (size_t i = 0; i < pool->nblocks; i++)
        gate_pass(pool, i);
    work(pool, 0);
    if (pool->n > 1) {
        pthread_mutex_lock(&pool->mu);
        while (pool->pending > 0)
            pthread_cond_wait(&pool->done, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
    pool->started = false;
}

void judge_run(struct judge_pool *pool, struct judge_batch *b)
{
    judge_start(pool, b);
    judge_finish(pool);
}
