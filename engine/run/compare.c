/*
 * compare.c — 比对: matching two datasets of one run by key (see compare.h):
 * set-up and finishing. Feeding records in is in compare_feed.c, the
 * partition files in compare_spill.c, the join in compare_join.c, the
 * threads in compare_crew.c (compare_impl.h).
 *
 * Feeding. Every record of a compared dataset becomes one compact record: a
 * 128-bit fingerprint of its compare key (two independent 64-bit hashes over
 * the length-prefixed key parts), its row number, and a payload holding its
 * own record key (when the dataset's declared key differs from the compare
 * key), the compare key text and the cleansed values of the compared fields.
 * Records live in 1 MiB chunks; the memory charged is the chunks plus
 * ENT_COST bytes per record for the join's working arrays. Past the hold
 * (HOLD_BUDGET, at most the budget) later records go to a temporary file of
 * their side in feed order, charged as if held. When the charge passes the
 * budget, every side of every compare is written out to 64 temporary
 * partition files chosen by the top bits of the fingerprint (plus one
 * stream for records whose key is empty), unlinked as soon as created: the
 * held records, then those of the side's file; later records go straight to
 * their partition. A run that never passes the budget reads its files back
 * into its chunks before joining, as if it had held every record.
 *
 * Joining. A unit (everything in memory, or one partition of both sides) is
 * loaded, each side's fingerprints are sorted and merged: a fingerprint that
 * occurs more than once on a side marks all its records there as duplicates
 * (never paired); a unique fingerprint with no twin on the other side is a
 * missing record; unique on both sides is a pair whose fields are compared.
 * Sorting within a hash partition (rather than probing a hash table) gives
 * the group counts needed for duplicates on both sides without a second
 * structure and makes the order of findings deterministic. A partition still
 * larger than the budget is split again on the next fingerprint bits, up to
 * MAX_LEVEL times. Within a unit, findings are written rule by rule in row
 * order, so a spilled run gives the same findings as an in-memory one
 * (grouped by partition instead of globally).
 *
 * Threads. With --jobs (compare_set_jobs) a crew of helper threads
 * (compare_crew.c) builds the records of each batch part by part, sorts the
 * two sides of a unit at once, and makes each rule's findings slice by
 * slice of rows on the helpers, each slice with its own findings encoder,
 * while the run's thread spools the slices made before in row order and
 * moves them into the store (findings_flush), making the next slice itself
 * whenever the one to spool is not ready; the records are stored and the
 * findings spooled in row order, so that both are the same for any number
 * of threads. A compare whose fields call Lua is
 * judged on the run's thread only (the Lua state is its). The findings'
 * keys by record (finding_refs) are held while the rows go in, flush after
 * flush, and written once at the end, sorted (findings_hold_refs): each
 * flush writing its own would put them on random leaves of the B-tree.
 *
 * Where findings go. Without authority: missing_in_right and mismatch on the
 * left dataset, missing_in_left on the right one. With authority = "left"
 * (or "right"), every missing and mismatch finding goes to the other side's
 * dataset, so the ticket reaches that owner; a missing record there has no
 * row and is identified by its compare key. Duplicate and empty keys are
 * reported on the dataset that has them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "run/compare_impl.h"
#include "run/findings.h"
#include "run/stage.h"

/* ---- set-up ---- */

/* Frees a side's records (memory and partition files), keeping its set-up. */
static void side_release(struct side *s)
{
    for (struct chunk *c = s->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    s->head = s->tail = NULL;
    for (size_t i = 0; i <= NPART; i++)
        compare_spill_close(&s->parts[i]);
    compare_spill_close(&s->over);
}

/* Frees everything a side holds; the side must not be used afterwards. */
static void side_free(struct side *s)
{
    side_release(s);
    free(s->fields);
    free(s->key_col), free(s->field_col);
    free(s->key_seen), free(s->field_seen);
}

/* Frees c and every temporary file it still holds; c may be NULL. */
void compare_run_free(struct compare_run *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->stage && i < c->crew.size; i++) {
        qloop_buf_free(&c->stage[i]);
        qloop_buf_free(&c->stage_key[i]);
    }
    free(c->stage);
    free(c->stage_key);
    free(c->own_off);
    free(c->own_len);
    crew_stop(&c->crew);
    compare_spill_stop(c); /* before the files it writes are closed */
    for (size_t i = 0; i < c->ncmps; i++) {
        struct cmp *m = &c->cmps[i];
        side_free(&m->side[0]);
        side_free(&m->side[1]);
        free(m->fields);
        free(m->field_sensitive);
        for (size_t r = 0; r < m->nrules; r++) {
            free(m->rules[r].id);
            free(m->rules[r].message);
        }
        free(m->rules);
    }
    free(c->cmps);
    qloop_buf_free(&c->rec);
    qloop_buf_free(&c->key);
    qloop_buf_free(&c->own);
    free(c);
}

/* qsort order of compared fields: by left name, so rule order does not
 * depend on Lua's table iteration order. */
static int by_left_name(const void *a, const void *b)
{
    const struct pack_compare_field *x = *(const struct pack_compare_field *const *)a;
    const struct pack_compare_field *y = *(const struct pack_compare_field *const *)b;
    return strcmp(x->left, y->left);
}

/* A new string formatted like printf (aborts when out of memory). */
static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_dup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = qloop_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Fills one rule's fixed description; takes ownership of id and message. */
static void set_rule(struct rule_count *r, char *id, int side, const char *field, char *message,
                     bool resolve_missing)
{
    r->id = id;
    r->side = side;
    r->field = field;
    r->message = message;
    r->resolve_missing = resolve_missing;
}

/* Resolves compare pc's datasets, key fields on each side, compared fields,
 * sensitivity and its rules into m. Returns 0 or -1 with err (file, line). */
static int setup_cmp(struct compare_run *c, struct cmp *m, struct pack_compare *pc,
                     struct qloop_error *err)
{
    struct pack *p = c->p;
    m->pc = pc;
    struct pack_dataset *dl = pack_find_dataset(p, pc->left), *dr = pack_find_dataset(p, pc->right);
    if (!dl || !dr)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 的数据集 \"%s\" 没有声明；请先写 dataset \"%s\" { ... }",
                               pc->name, dl ? pc->right : pc->left, dl ? pc->right : pc->left);
    struct side *L = &m->side[0], *R = &m->side[1];
    L->d = dl, L->dataset = dl->name;
    R->d = dr, R->dataset = dr->name;
    L->keys = pc->nleft_keys ? pc->left_keys : dl->keys;
    L->nkeys = pc->nleft_keys ? pc->nleft_keys : dl->nkeys;
    R->keys = pc->nright_keys ? pc->right_keys : pc->nleft_keys ? pc->left_keys : dr->keys;
    R->nkeys = pc->nright_keys ? pc->nright_keys : pc->nleft_keys ? pc->nleft_keys : dr->nkeys;
    if (L->nkeys == 0 || R->nkeys == 0)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 没有给出 key，数据集 \"%s\" 也没有声明 key；请写 key = \"字段\"",
                               pc->name, L->nkeys == 0 ? dl->name : dr->name);
    if (L->nkeys != R->nkeys)
        return qloop_error_set(err, pc->file, pc->line, 0,
                               "compare \"%s\" 左右两侧的键字段个数不同（%zu 与 %zu）；key 与 right_key 应一一对应",
                               pc->name, L->nkeys, R->nkeys);
    m->nfields = pc->nfields;
    m->fields = qloop_xcalloc(pc->nfields + 1, sizeof *m->fields);
    for (size_t i = 0; i < pc->nfields; i++)
        m->fields[i] = &pc->fields[i];
    qsort(m->fields, m->nfields, sizeof *m->fields, by_left_name);
    m->field_sensitive = qloop_xcalloc(m->nfields + 1, sizeof *m->field_sensitive);
    for (int s = 0; s < 2; s++) {
        struct side *sd = &m->side[s];
        sd->nfields = m->nfields;
        sd->fields = qloop_xcalloc(m->nfields + 1, sizeof *sd->fields);
        for (size_t i = 0; i < m->nfields; i++)
            sd->fields[i] = s == 0 ? m->fields[i]->left : m->fields[i]->right;
        sd->own_is_cmp = sd->d->nkeys == sd->nkeys;
        for (size_t i = 0; sd->own_is_cmp && i < sd->nkeys; i++)
            sd->own_is_cmp = strcmp(sd->d->keys[i], sd->keys[i]) == 0;
        sd->key_col = qloop_xcalloc(sd->nkeys + 1, sizeof *sd->key_col);
        sd->key_seen = qloop_xcalloc(sd->nkeys + 1, sizeof *sd->key_seen);
        sd->field_col = qloop_xcalloc(m->nfields + 1, sizeof *sd->field_col);
        sd->field_seen = qloop_xcalloc(m->nfields + 1, sizeof *sd->field_seen);
        for (size_t i = 0; i < sd->nkeys; i++)
            m->key_sensitive |= pack_is_sensitive(sd->d, sd->keys[i]);
        for (size_t i = 0; i < sd->d->nkeys; i++)
            m->key_sensitive |= pack_is_sensitive(sd->d, sd->d->keys[i]);
        for (size_t i = 0; i < m->nfields; i++)
            m->field_sensitive[i] |= pack_is_sensitive(sd->d, sd->fields[i]);
    }
    m->auth = !pc->authority ? -1 : strcmp(pc->authority, "left") == 0 ? 0 : 1;
    m->mismatch_side = m->auth == 0 ? 1 : 0;
    m->nrules = R_MISMATCH + m->nfields;
    m->rules = qloop_xcalloc(m->nrules, sizeof *m->rules);
    const char *n = pc->name, *ln = dl->name, *rn = dr->name;
    int mr_side = m->auth == 0 ? 1 : 0; /* missing_in_right */
    int ml_side = m->auth == 1 ? 0 : 1; /* missing_in_left */
    set_rule(&m->rules[R_MISSING_RIGHT], printf_dup("%s.missing_in_right", n), mr_side, NULL,
             printf_dup("比对 %s：%s 的记录在 %s 中找不到", n, ln, rn), mr_side == 0);
    set_rule(&m->rules[R_MISSING_LEFT], printf_dup("%s.missing_in_left", n), ml_side, NULL,
             printf_dup("比对 %s：%s 的记录在 %s 中找不到", n, rn, ln), ml_side == 1);
    set_rule(&m->rules[R_DUP_LEFT], printf_dup("%s.duplicate_key_left", n), 0, NULL,
             printf_dup("比对 %s：%s 中比对键重复，无法与 %s 配对", n, ln, rn), true);
    set_rule(&m->rules[R_DUP_RIGHT], printf_dup("%s.duplicate_key_right", n), 1, NULL,
             printf_dup("比对 %s：%s 中比对键重复，无法与 %s 配对", n, rn, ln), true);
    set_rule(&m->rules[R_EMPTY_LEFT], printf_dup("%s.empty_key_left", n), 0, NULL,
             printf_dup("比对 %s：%s 中比对键为空，无法与 %s 配对", n, ln, rn), true);
    set_rule(&m->rules[R_EMPTY_RIGHT], printf_dup("%s.empty_key_right", n), 1, NULL,
             printf_dup("比对 %s：%s 中比对键为空，无法与 %s 配对", n, rn, ln), true);
    for (size_t i = 0; i < m->nfields; i++) {
        const struct pack_compare_field *f = m->fields[i];
        set_rule(&m->rules[R_MISMATCH + i], printf_dup("%s.mismatch.%s", n, f->left),
                 m->mismatch_side, m->mismatch_side == 0 ? f->left : f->right,
                 printf_dup("比对 %s：%s.%s 与 %s.%s 不一致", n, ln, f->left, rn, f->right), false);
    }
    return 0;
}

int compare_run_new(struct compare_run **out, struct pack *p, size_t memory_budget,
                    struct qloop_error *err)
{
    struct compare_run *c = qloop_xcalloc(1, sizeof *c);
    c->p = p;
    c->budget = memory_budget ? memory_budget : DEFAULT_BUDGET;
    c->hold = c->budget < HOLD_BUDGET ? c->budget : HOLD_BUDGET;
    const char *t = getenv("TMPDIR");
    c->tmpdir = t && *t ? t : "/tmp";
    c->cmps = qloop_xcalloc(p->ncompares + 1, sizeof *c->cmps);
    /* the pack is loaded: its normalize and equal calls may run FAST */
    qloop_lua_set_fast(p->L, 1);
    for (size_t i = 0; i < p->ncompares; i++) {
        c->ncmps++;
        if (setup_cmp(c, &c->cmps[i], &p->compares[i], err) != 0) {
            compare_run_free(c);
            *out = NULL;
            return -1;
        }
    }
    *out = c;
    return 0;
}

void compare_set_hold(struct compare_run *c, size_t bytes)
{
    if (c)
        c->hold = bytes < c->budget ? bytes : c->budget;
}

uint64_t compare_over_records(const struct compare_run *c)
{
    return c ? c->over_recs : 0;
}

size_t compare_charge(const struct compare_run *c)
{
    return c ? c->mem : 0;
}

bool compare_spilled(const struct compare_run *c)
{
    return c && c->spilled;
}

size_t compare_caller_slices(const struct compare_run *c)
{
    return c ? c->caller_slices : 0;
}

size_t compare_units_ahead(const struct compare_run *c)
{
    return c ? c->units_ahead : 0;
}

void compare_spill_sizes(const struct compare_run *c, uint64_t *mem, uint64_t *file)
{
    *mem = c ? c->spill_mem : 0;
    *file = c ? c->spill_file : 0;
}

size_t compare_spill_blocks_behind(const struct compare_run *c)
{
    return c ? c->blocks_behind : 0;
}

/* ---- columns ---- */

/* The index of name among names, or -1. */
static long find_col(const char *const *names, size_t ncols, const char *name)
{
    for (size_t i = 0; i < ncols; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

void compare_resolve_columns(struct side *s, const char *const *names, size_t ncols)
{
    if (s->names == names && s->ncols == ncols)
        return;
    s->names = names;
    s->ncols = ncols;
    for (size_t i = 0; i < s->nkeys; i++) {
        s->key_col[i] = find_col(names, ncols, s->keys[i]);
        s->key_seen[i] |= s->key_col[i] >= 0;
    }
    for (size_t i = 0; i < s->nfields; i++) {
        s->field_col[i] = find_col(names, ncols, s->fields[i]);
        s->field_seen[i] |= s->field_col[i] >= 0;
    }
}

/* Error for the first compared column side s never had, or 0. */
static int missing_column(const struct cmp *m, const struct side *s, struct qloop_error *err)
{
    const char *what = NULL, *name = NULL;
    for (size_t i = 0; !name && i < s->nkeys; i++)
        if (!s->key_seen[i])
            what = "键字段", name = s->keys[i];
    for (size_t i = 0; !name && i < s->nfields; i++)
        if (!s->field_seen[i])
            what = "比对字段", name = s->fields[i];
    if (!name)
        return 0;
    return qloop_error_set(err, m->pc->file, m->pc->line, 0,
                           "compare \"%s\" 的%s \"%s\" 不在数据集 \"%s\" 的数据中；请核对字段名（区分大小写），"
                           "或用 right_key / fields = { 左字段 = \"右字段\" } 指明对方的字段名",
                           m->pc->name, what, name, s->dataset);
}

int compare_check_columns(struct compare_run *c, const char *dataset, const char *const *names,
                          size_t ncols, struct qloop_error *err)
{
    for (size_t i = 0; c && i < c->ncmps; i++)
        for (int s = 0; s < 2; s++) {
            struct side *sd = &c->cmps[i].side[s];
            if (strcmp(sd->dataset, dataset) != 0)
                continue;
            compare_resolve_columns(sd, names, ncols);
            if (missing_column(&c->cmps[i], sd, err) != 0)
                return -1;
        }
    return 0;
}

/* ---- finishing ---- */

/* Stages the compare's rule results and appends their summary objects. */
static int write_results(struct emitter *e, const struct compare_emit_ctx *ctx,
                         json_t *summary_rules)
{
    struct cmp *m = e->m;
    static const int order[] = {R_MISSING_RIGHT, R_MISSING_LEFT, -1, R_DUP_LEFT, R_DUP_RIGHT,
                                R_EMPTY_LEFT, R_EMPTY_RIGHT};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        size_t from = order[o] >= 0 ? (size_t)order[o] : R_MISMATCH;
        size_t to = order[o] >= 0 ? from + 1 : R_MISMATCH + m->nfields;
        for (size_t k = from; k < to; k++) {
            const struct rule_count *r = &m->rules[k];
            struct stage_result res = {
                .rule = r->id, .dataset = m->side[r->side].dataset, .field = r->field,
                .dimension = "consistency", .severity = "medium", .message = r->message,
                .checked = r->checked, .failed = r->failed, .errors = r->errors,
                .resolve_missing = r->resolve_missing};
            if (stage_rule_result(ctx->db, ctx->run_id, &res, summary_rules, e->err) != 0)
                return -1;
        }
    }
    return 0;
}

/* Checks the columns, joins (in memory or partition by partition) and
 * writes the results of compare e->m. Returns 0 or -1 with err. */
static int finish_cmp(struct emitter *e, const struct compare_emit_ctx *ctx,
                      json_t *summary_rules)
{
    struct cmp *m = e->m;
    for (int s = 0; s < 2; s++)
        if (m->side[s].fed && missing_column(m, &m->side[s], e->err) != 0)
            return -1;
    for (size_t r = 0; r < m->nrules; r++)
        m->rules[r].checked = m->rules[r].failed = m->rules[r].errors = 0;
    if (!e->c->spilled) {
        if (compare_join_in_memory(e) != 0)
            return -1;
    } else {
        /* every block of the partition files written before any is read */
        if (compare_spill_drain(e->c, e->err) != 0 || compare_process_parts(e) != 0)
            return -1;
        if (compare_stream_empty(e, 0) != 0 || compare_stream_empty(e, 1) != 0)
            return -1;
    }
    m->rules[R_EMPTY_LEFT].checked = m->side[0].total;
    m->rules[R_EMPTY_RIGHT].checked = m->side[1].total;
    return write_results(e, ctx, summary_rules);
}

int compare_finish(struct compare_run *c, const struct compare_emit_ctx *ctx, json_t *summary_rules,
                   int64_t *failed_records, struct qloop_error *err)
{
    struct emitter e = {.c = c, .findings = ctx->findings, .L = c->p->L, .err = err};
    /* records past the hold, within the budget: back into their chunks */
    int rc = c->spilled ? 0 : compare_unhold(c, err);
    if (rc != 0)
        return -1;
    /* the findings moved in as they are made (with jobs, round by round):
     * their keys go into finding_refs at the end, in one sorted write */
    findings_hold_refs(ctx->findings);
    for (size_t i = 0; i < c->ncmps && rc == 0; i++) {
        compare_emit_begin(&e, &c->cmps[i]);
        rc = finish_cmp(&e, ctx, summary_rules);
        /* the records of a finished compare are no longer needed */
        side_release(&e.m->side[0]);
        side_release(&e.m->side[1]);
    }
    compare_emit_end(&e);
    if (findings_release_refs(ctx->findings, rc == 0, err) != 0)
        rc = -1;
    if (failed_records)
        *failed_records += e.failed_records;
    return rc;
}
