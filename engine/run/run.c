/*
 * run.c — the run loop (see run.h).
 *
 * Per dataset: open the source, then for each batch of rows
 *   1. cleanse and judge (judge.c): the batch's rows are spread over the
 *      worker threads, each with its own Lua state; built-in forms run in C,
 *      Lua is entered only for a rule that is a Lua function; the result is a
 *      verdict per (rule, row);
 *   2. merge, here on the run's thread, in rule then row order: `unique`
 *      (which needs every earlier row), and every failure becomes a finding
 *      row written with one prepared statement inside the run's
 *      transaction, its key and value masked when the dataset declares them
 *      sensitive.
 * Datasets that others reference are read first, collecting the referenced
 * values. Compares take the cleansed rows of both sides (compare.h).
 */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/audit.h"
#include "base/buf.h"
#include "catalog/catalog.h"
#include "base/clock.h"
#include "run/compare.h"
#include "checks/division.h"
#include "run/judge.h"
#include "base/text.h"
#include "lua/sandbox.h"
#include "checks/mask.h"
#include "checks/pattern.h"
#include "run/run.h"
#include "store/sql.h"
#include "store/store.h"
#include "base/strmap.h"
#include "loop/ticket.h"
#include "run/unique.h"
#include "rules/forms.h"

/* ---- per-rule state ---- */

struct rule_state {
    struct pack_rule *rule;
    long col;            /* column of rule->field, -1 when absent */
    int64_t failed;
    struct unique_set *uniq; /* for a unique rule */
    struct ds_ctx *ds;       /* for the unique set's callback */
    struct strmap *refset; /* references to another dataset: its values */
    char first_error[1024];
};

struct cleanse_state {
    struct pack_cleanse *c;
    long col;
};

/* values of one field of a dataset, kept for another dataset's references */
struct refset {
    char *dataset, *field;
    long col;
    struct strmap *values;
};

struct run_ctx {
    sqlite3 *db;
    struct pack *p;
    const struct run_options *o;
    struct qloop_error *err;
    char run_id[64];
    char as_of[32];
    int64_t now;
    sqlite3_stmt *ins_finding;
    struct strmap *seen;         /* "dataset\0ref" of open ticket items this run saw */
    const unsigned char *secret; /* store_secret(db), read once before workers start */
    struct refset *refsets;
    size_t nrefsets;
    struct compare_run *compares;
    struct judge_pool *pool;
    json_t *summary_datasets, *summary_rules, *summary_cleansed;
    int64_t failed_records;
    struct qloop_buf keybuf, maskbuf, maskbuf2, msgbuf;
    time_t started;
};

/* per-dataset state */
struct ds_ctx {
    struct run_ctx *run;
    struct pack_dataset *d;
    const struct qloop_adapter *ad;
    void *src;
    const char *path;
    size_t ncols;
    const char *const *names;
    struct strmap *colmap; /* name -> column + 1 */
    long *key_cols;
    struct rule_state *rules;
    size_t nrules;
    struct cleanse_state *cleanse;
    size_t ncleanse;
    long updated_col;
    int64_t newest_update;
    bool has_update;
    uint8_t *failed_rows; /* bitmap by row_no */
    size_t failed_cap;
    int64_t rows;
    struct strmap *open_refs; /* record refs of open ticket items */
    struct qloop_field *view; /* cleansed cells of the current batch */
    size_t view_cap;
    const struct qloop_batch *batch;
    /* what the judge pool reads and fills (judge.h) */
    struct judge_dataset jd;
    size_t *rule_index;
    long *rule_cols, *cleanse_cols;
    struct strmap **refsets;
    int64_t *checked, *errors, *changed;
    uint8_t *verdict;
    const char **reason;
    size_t verdict_cap;
    char (*refs)[33];  /* record refs of the batch's rows, when open tickets need them */
    size_t refs_cap;
    bool judging;
};

static long column_of(struct ds_ctx *ds, const char *name)
{
    if (!name)
        return -1;
    uint64_t *v = strmap_get(ds->colmap, name, strlen(name));
    return v ? (long)*v - 1 : -1;
}

static void refresh_columns(struct ds_ctx *ds)
{
    size_t n;
    const char *const *names;
    ds->ad->columns(ds->src, &n, &names);
    if (n == ds->ncols && names == ds->names)
        return;
    for (size_t i = ds->ncols; i < n; i++)
        *strmap_put(ds->colmap, names[i], strlen(names[i]), NULL) = i + 1;
    ds->ncols = n;
    ds->names = names;
    for (size_t i = 0; i < ds->d->nkeys; i++)
        ds->key_cols[i] = column_of(ds, ds->d->keys[i]);
    for (size_t i = 0; i < ds->nrules; i++)
        ds->rule_cols[i] = ds->rules[i].col = column_of(ds, ds->rules[i].rule->field);
    for (size_t i = 0; i < ds->ncleanse; i++)
        ds->cleanse_cols[i] = ds->cleanse[i].col = column_of(ds, ds->cleanse[i].c->field);
    ds->updated_col = column_of(ds, ds->d->updated_at);
    for (size_t i = 0; i < ds->run->nrefsets; i++) {
        struct refset *rs = &ds->run->refsets[i];
        if (strcmp(rs->dataset, ds->d->name) == 0)
            rs->col = column_of(ds, rs->field);
    }
}

static const struct qloop_field *cell(struct ds_ctx *ds, size_t row, long col)
{
    static const struct qloop_field null_field = {"", 0, 1};
    if (col < 0 || (size_t)col >= ds->batch->ncols)
        return &null_field;
    return &ds->view[row * ds->batch->ncols + (size_t)col];
}

/* The raw record key of a row: key fields joined by '|' (row_no when the
 * dataset has no key). */
static void row_key(struct ds_ctx *ds, size_t row, struct qloop_buf *out)
{
    qloop_buf_reset(out);
    if (ds->d->nkeys == 0) {
        qloop_buf_printf(out, "#%llu", (unsigned long long)ds->batch->row_no[row]);
        return;
    }
    for (size_t i = 0; i < ds->d->nkeys; i++) {
        const struct qloop_field *f = cell(ds, row, ds->key_cols[i]);
        if (i)
            qloop_buf_putc(out, '|');
        qloop_buf_append(out, f->ptr, f->len);
    }
}

static bool key_sensitive(const struct pack_dataset *d)
{
    for (size_t i = 0; i < d->nkeys; i++)
        if (pack_is_sensitive(d, d->keys[i]))
            return true;
    return false;
}

static void mark_failed(struct ds_ctx *ds, uint64_t row_no)
{
    size_t byte = (size_t)(row_no / 8);
    if (byte >= ds->failed_cap) {
        size_t cap = ds->failed_cap ? ds->failed_cap : 4096;
        while (cap <= byte)
            cap *= 2;
        ds->failed_rows = qloop_xrealloc(ds->failed_rows, cap);
        memset(ds->failed_rows + ds->failed_cap, 0, cap - ds->failed_cap);
        ds->failed_cap = cap;
    }
    uint8_t bit = (uint8_t)(1u << (row_no % 8));
    if (!(ds->failed_rows[byte] & bit)) {
        ds->failed_rows[byte] |= bit;
        ds->run->failed_records++;
    }
}

/* Writes one finding. key/keylen: the raw record key; value may be NULL. */
static int emit(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
                size_t keylen, const char *value, size_t vlen, const char *reason)
{
    struct run_ctx *run = ds->run;
    struct pack_rule *r = rs->rule;
    char ref[33];
    store_record_ref(run->db, ds->d->name, key, keylen, ref);
    sqlite3_stmt *st = run->ins_finding;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ds->d->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->id, -1, SQLITE_STATIC);
    if (row_no)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)row_no);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, ref, 32, SQLITE_TRANSIENT);
    if (key_sensitive(ds->d)) {
        qloop_buf_reset(&run->maskbuf);
        mask_sensitive(key, keylen, &run->maskbuf);
        sqlite3_bind_text(st, 6, qloop_buf_str(&run->maskbuf), -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_text(st, 6, key, (int)keylen, SQLITE_TRANSIENT);
    }
    if (r->field)
        sqlite3_bind_text(st, 7, r->field, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    if (!value) {
        sqlite3_bind_null(st, 8);
    } else if (pack_is_sensitive(ds->d, r->field)) {
        qloop_buf_reset(&run->maskbuf2);
        mask_sensitive(value, vlen, &run->maskbuf2);
        sqlite3_bind_text(st, 8, qloop_buf_str(&run->maskbuf2), -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_text(st, 8, value, (int)vlen, SQLITE_TRANSIENT);
    }
    qloop_buf_reset(&run->msgbuf);
    if (r->message_default && reason && *reason)
        qloop_buf_printf(&run->msgbuf, "%s%s%s", r->field ? r->field : "", r->field ? "：" : "", reason);
    else if (reason && *reason && strcmp(reason, r->message) != 0)
        qloop_buf_printf(&run->msgbuf, "%s：%s", r->message, reason);
    else
        qloop_buf_append(&run->msgbuf, r->message, strlen(r->message));
    sqlite3_bind_text(st, 9, qloop_buf_str(&run->msgbuf), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_error(run->db, "写入问题记录", run->err);
    rs->failed++;
    if (row_no)
        mark_failed(ds, row_no);
    return 0;
}

static int emit_row(struct ds_ctx *ds, struct rule_state *rs, size_t row, const char *reason)
{
    struct run_ctx *run = ds->run;
    row_key(ds, row, &run->keybuf);
    const struct qloop_field *f = rs->rule->field ? cell(ds, row, rs->col) : NULL;
    return emit(ds, rs, ds->batch->row_no[row], run->keybuf.ptr, run->keybuf.len,
                f && !f->null ? f->ptr : NULL, f ? f->len : 0, reason);
}

static void note_rule_error(struct ds_ctx *ds, struct rule_state *rs, const char *text, size_t row)
{
    if (rs->first_error[0])
        return;
    snprintf(rs->first_error, sizeof rs->first_error, "%s", text ? text : "");
    fprintf(stderr, "qloop: 规则 \"%s\"（%s:%ld）在数据集 %s 第 %llu 行出错：%s；本次运行继续，出错的记录计入 errors\n",
            rs->rule->id, rs->rule->file, rs->rule->line, ds->d->name,
            (unsigned long long)ds->batch->row_no[row], rs->first_error);
}

/* The unique set's report of a failing record. */
static int unique_failed(void *ctx, uint64_t row_no, const char *key, size_t keylen,
                         const char *value, size_t vlen)
{
    struct rule_state *rs = ctx;
    return emit(rs->ds, rs, row_no, key, keylen, value, vlen,
                rs->rule->message_default ? "与其他记录重复" : NULL);
}

static int check_unique(struct ds_ctx *ds, struct rule_state *rs, size_t row,
                        const struct qloop_field *f)
{
    struct run_ctx *run = ds->run;
    row_key(ds, row, &run->keybuf);
    return unique_add(rs->uniq, f->ptr, f->len, ds->batch->row_no[row], run->keybuf.ptr,
                      run->keybuf.len, unique_failed, rs, run->err);
}

/* Turns the workers' verdicts into findings, in rule then row order, and
 * runs the checks that need the whole dataset in order (unique). */
static int merge_verdicts(struct ds_ctx *ds)
{
    const struct qloop_batch *b = ds->batch;
    for (size_t i = 0; i < ds->nrules; i++) {
        struct rule_state *rs = &ds->rules[i];
        const uint8_t *verdict = ds->verdict + i * b->nrows;
        const char **reason = ds->reason + i * b->nrows;
        for (size_t row = 0; row < b->nrows; row++) {
            switch (verdict[row]) {
            case JUDGE_FAIL:
                if (emit_row(ds, rs, row, reason[row]) != 0)
                    return -1;
                break;
            case JUDGE_PASS:
                if (rs->uniq && check_unique(ds, rs, row, cell(ds, row, rs->col)) != 0)
                    return -1;
                break;
            case JUDGE_ERROR:
                note_rule_error(ds, rs, reason[row], row);
                break;
            default:
                break;
            }
        }
    }
    return 0;
}

/* ---- per-batch bookkeeping ---- */

static void collect_refsets(struct ds_ctx *ds)
{
    for (size_t i = 0; i < ds->run->nrefsets; i++) {
        struct refset *rs = &ds->run->refsets[i];
        if (strcmp(rs->dataset, ds->d->name) != 0 || rs->col < 0)
            continue;
        for (size_t row = 0; row < ds->batch->nrows; row++) {
            const struct qloop_field *f = cell(ds, row, rs->col);
            if (!qloop_value_empty(f))
                strmap_put(rs->values, f->ptr, f->len, NULL);
        }
    }
}

static void note_updates(struct ds_ctx *ds)
{
    if (ds->updated_col < 0)
        return;
    for (size_t row = 0; row < ds->batch->nrows; row++) {
        const struct qloop_field *f = cell(ds, row, ds->updated_col);
        int64_t t;
        if (!qloop_value_empty(f) && qloop_parse_datetime(f->ptr, &t) && (!ds->has_update || t > ds->newest_update)) {
            ds->newest_update = t;
            ds->has_update = true;
        }
    }
}

/* Notes that the run saw the record whose ref is ref, when an open ticket
 * item refers to it (the re-check asks, through seen_ref_of()). */
static void see_ref(struct ds_ctx *ds, const char *ref)
{
    if (!strmap_get(ds->open_refs, ref, 32))
        return;
    struct qloop_buf *k = &ds->run->keybuf;
    qloop_buf_reset(k);
    qloop_buf_append(k, ds->d->name, strlen(ds->d->name) + 1);
    qloop_buf_append(k, ref, 32);
    strmap_put(ds->run->seen, k->ptr, k->len, NULL);
}

/* The tickets' question: did this run see record ref of dataset? */
static bool seen_ref_of(void *ctx, const char *dataset, const char *ref)
{
    struct run_ctx *run = ctx;
    if (!dataset || !ref || strlen(ref) != 32)
        return false;
    struct qloop_buf k = {0};
    qloop_buf_append(&k, dataset, strlen(dataset) + 1);
    qloop_buf_append(&k, ref, 32);
    bool found = strmap_get(run->seen, k.ptr, k.len) != NULL;
    qloop_buf_free(&k);
    return found;
}

/* The judge's callback: the record_ref of a row (on a worker thread). */
static void row_ref(void *ctx, size_t row, struct qloop_buf *scratch, char out[33])
{
    struct ds_ctx *ds = ctx;
    row_key(ds, row, scratch);
    store_record_ref_keyed(ds->run->secret, ds->d->name, qloop_buf_str(scratch), scratch->len, out);
}

static int note_seen(struct ds_ctx *ds)
{
    if (!ds->open_refs || strmap_count(ds->open_refs) == 0)
        return 0;
    for (size_t row = 0; row < ds->batch->nrows; row++)
        see_ref(ds, ds->refs[row]);
    return 0;
}

static void progress(struct ds_ctx *ds, bool done)
{
    if (!ds->run->o->progress)
        return;
    static time_t last;
    time_t now = time(NULL);
    if (!done && now == last)
        return;
    last = now;
    double el = difftime(now, ds->run->started);
    fprintf(stderr, "\r读取 %s：%lld 行，%.0f 行/秒，已用 %.0f 秒%s", ds->d->name, (long long)ds->rows,
            el > 0 ? (double)ds->rows / el : (double)ds->rows, el, done ? "\n" : "");
}

static void add_open_ref(void *ctx, const char *ref)
{
    strmap_put(ctx, ref, strlen(ref), NULL);
}

/* ---- one dataset ---- */

static const char *source_path(struct run_ctx *run, struct pack_dataset *d)
{
    for (size_t i = 0; i < run->o->ndata; i++)
        if (strcmp(run->o->data[i].name, d->name) == 0)
            return run->o->data[i].path;
    return d->source;
}

static int64_t cycle_days(const char *cycle)
{
    static const struct { const char *name; int64_t days; } t[] = {
        {"realtime", 1}, {"daily", 1}, {"weekly", 7}, {"monthly", 31}, {"quarterly", 92}, {"yearly", 366},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (cycle && strcmp(cycle, t[i].name) == 0)
            return t[i].days;
    return 0;
}

static void rule_summary(struct run_ctx *run, const char *id, const char *dataset, int64_t checked,
                         int64_t failed, int64_t errors)
{
    json_array_append_new(run->summary_rules,
                          json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", id, "dataset", dataset, "checked",
                                    (json_int_t)checked, "failed", (json_int_t)failed, "errors",
                                    (json_int_t)errors));
}

static int store_rule_result(struct run_ctx *run, const char *id, const char *dataset,
                             const char *field, const char *dimension, const char *severity,
                             const char *message, int64_t checked, int64_t failed, int64_t errors,
                             bool resolve_missing)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(run->db,
                           "INSERT INTO temp.stage_rule_results(run_id, rule, dataset, field, dimension, severity,"
                           " message, checked, failed, errors, resolve_missing)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_error(run->db, "写入规则结果", run->err);
    sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, dimension, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, severity, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, checked);
    sqlite3_bind_int64(st, 9, failed);
    sqlite3_bind_int64(st, 10, errors);
    sqlite3_bind_int(st, 11, resolve_missing);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_error(run->db, "写入规则结果", run->err);
    rule_summary(run, id, dataset, checked, failed, errors);
    return 0;
}

/* The dataset-level timeliness rule: the newest updated_at must lie within
 * the update cycle before the run date. */
static int freshness(struct ds_ctx *ds)
{
    struct pack_dataset *d = ds->d;
    int64_t days = cycle_days(d->update_cycle);
    if (!d->updated_at || !days)
        return 0;
    struct run_ctx *run = ds->run;
    struct qloop_buf id = {0}, msg = {0};
    qloop_buf_printf(&id, "%s.freshness", d->name);
    qloop_buf_printf(&msg, "数据未按更新周期（%s）更新", d->update_cycle);
    struct pack_rule rule = {.id = id.ptr, .dataset = d->name, .message = msg.ptr};
    struct rule_state rs = {.rule = &rule};
    int rc = 0;
    bool stale = !ds->has_update || run->now - ds->newest_update > days * 86400;
    if (stale) {
        char newest[32] = "无";
        if (ds->has_update)
            qloop_format_datetime(ds->newest_update, newest);
        char why[96];
        snprintf(why, sizeof why, "最新更新时间 %s", newest);
        rc = emit(ds, &rs, 0, "", 0, NULL, 0, why);
    }
    if (rc == 0)
        rc = store_rule_result(run, id.ptr, d->name, d->updated_at, "timeliness", "medium", msg.ptr, 1,
                               stale ? 1 : 0, 0, false);
    qloop_buf_free(&id);
    qloop_buf_free(&msg);
    return rc;
}

static void ds_free(struct ds_ctx *ds)
{
    if (ds->src)
        ds->ad->close(ds->src);
    for (size_t i = 0; i < ds->nrules; i++) {
        struct rule_state *rs = &ds->rules[i];
        unique_free(rs->uniq);
    }
    free(ds->rules);
    free(ds->cleanse);
    free(ds->key_cols);
    free(ds->failed_rows);
    free(ds->view);
    strmap_free(ds->colmap);
    strmap_free(ds->open_refs);
    if (ds->judging)
        judge_end_dataset(ds->run->pool);
    free(ds->rule_index);
    free(ds->rule_cols);
    free(ds->cleanse_cols);
    free(ds->refsets);
    free(ds->checked);
    free(ds->errors);
    free(ds->changed);
    free(ds->verdict);
    free(ds->reason);
    free(ds->refs);
}

static int run_dataset(struct run_ctx *run, struct pack_dataset *d)
{
    struct ds_ctx ds = {.run = run, .d = d, .updated_col = -1};
    struct qloop_error *err = run->err;
    int rc = RUN_INPUT_ERROR;
    ds.path = source_path(run, d);
    ds.ad = run->o->find_adapter(ds.path, d->format);
    if (!ds.ad) {
        qloop_error_set(err, ds.path, 0, 0,
                        "无法识别数据文件的格式；请使用 .csv/.tsv/.jsonl 扩展名，或在 dataset \"%s\" 中写 format = \"csv\"",
                        d->name);
        return RUN_INPUT_ERROR;
    }
    struct qloop_source_options so = {.encoding = d->encoding};
    if (ds.ad->open(ds.path, &so, &ds.src, err) != 0)
        return RUN_INPUT_ERROR;
    ds.colmap = strmap_new();
    ds.key_cols = qloop_xcalloc(d->nkeys + 1, sizeof *ds.key_cols);
    for (size_t i = 0; i < run->p->nrules; i++)
        if (strcmp(run->p->rules[i].dataset, d->name) == 0)
            ds.nrules++;
    ds.rules = qloop_xcalloc(ds.nrules + 1, sizeof *ds.rules);
    ds.rule_index = qloop_xcalloc(ds.nrules + 1, sizeof *ds.rule_index);
    ds.rule_cols = qloop_xcalloc(ds.nrules + 1, sizeof *ds.rule_cols);
    ds.refsets = qloop_xcalloc(ds.nrules + 1, sizeof *ds.refsets);
    ds.checked = qloop_xcalloc(ds.nrules + 1, sizeof *ds.checked);
    ds.errors = qloop_xcalloc(ds.nrules + 1, sizeof *ds.errors);
    size_t k = 0;
    for (size_t i = 0; i < run->p->nrules; i++) {
        struct pack_rule *r = &run->p->rules[i];
        if (strcmp(r->dataset, d->name) != 0)
            continue;
        ds.rule_index[k] = i;
        struct rule_state *rs = &ds.rules[k++];
        rs->rule = r;
        rs->col = -1;
        rs->ds = &ds;
        if (r->form_flags & FORM_WHOLE_DATASET)
            rs->uniq = unique_new(run->o->memory_budget);
        const char *ref_field, *ref_dataset = forms_needs(r, &ref_field);
        if (ref_dataset)
            for (size_t j = 0; j < run->nrefsets; j++)
                if (strcmp(run->refsets[j].dataset, ref_dataset) == 0 &&
                    strcmp(run->refsets[j].field, ref_field) == 0)
                    ds.refsets[k - 1] = run->refsets[j].values;
    }
    ds.ncleanse = d->ncleanse;
    ds.cleanse = qloop_xcalloc(d->ncleanse + 1, sizeof *ds.cleanse);
    ds.cleanse_cols = qloop_xcalloc(d->ncleanse + 1, sizeof *ds.cleanse_cols);
    ds.changed = qloop_xcalloc(d->ncleanse + 1, sizeof *ds.changed);
    for (size_t i = 0; i < d->ncleanse; i++) {
        ds.cleanse[i].c = &d->cleanse[i];
        ds.cleanse[i].col = -1;
    }
    refresh_columns(&ds);
    /* Fields a rule names must exist in a file with a fixed header. */
    if (strcmp(ds.ad->name, "jsonl") != 0) {
        for (size_t i = 0; i < ds.nrules; i++) {
            struct pack_rule *r = ds.rules[i].rule;
            if (r->field && ds.rules[i].col < 0) {
                qloop_error_set(err, r->file, r->line, 0,
                                "规则 \"%s\" 的字段 \"%s\" 不在数据文件 %s 的表头中；请核对字段名（区分大小写）",
                                r->id, r->field, ds.path);
                goto out;
            }
        }
        for (size_t i = 0; i < d->nkeys; i++)
            if (ds.key_cols[i] < 0) {
                qloop_error_set(err, d->file, d->line, 0,
                                "数据集 \"%s\" 的键字段 \"%s\" 不在数据文件 %s 的表头中", d->name, d->keys[i],
                                ds.path);
                goto out;
            }
        if (run->compares && compare_check_columns(run->compares, d->name, ds.names, ds.ncols, err) != 0)
            goto out;
    }
    ds.open_refs = strmap_new();
    if (ticket_open_refs(run->db, d->name, add_open_ref, ds.open_refs, err) != 0) {
        rc = RUN_INTERNAL_ERROR;
        goto out;
    }
    struct compare_run *cmp = run->compares;
    ds.jd = (struct judge_dataset){
        .dataset = (size_t)(d - run->p->datasets),
        .colmap = ds.colmap,
        .ncleanse = ds.ncleanse,
        .cleanse_cols = ds.cleanse_cols,
        .nrules = ds.nrules,
        .rules = ds.rule_index,
        .rule_cols = ds.rule_cols,
        .refsets = ds.refsets,
        .checked = ds.checked,
        .errors = ds.errors,
        .changed = ds.changed,
        .row_ref = strmap_count(ds.open_refs) ? row_ref : NULL,
        .row_ref_ctx = &ds,
    };
    judge_begin_dataset(run->pool, &ds.jd);
    ds.judging = true;
    for (;;) {
        struct qloop_batch batch;
        int got = ds.ad->next_batch(ds.src, &batch, err);
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        ds.batch = &batch;
        refresh_columns(&ds);
        size_t ncells = batch.nrows * batch.ncols;
        if (ncells > ds.view_cap) {
            ds.view = qloop_xrealloc(ds.view, ncells * sizeof *ds.view);
            ds.view_cap = ncells;
        }
        memcpy(ds.view, batch.cells, ncells * sizeof *ds.view);
        size_t nverdicts = ds.nrules * batch.nrows;
        if (nverdicts > ds.verdict_cap) {
            ds.verdict = qloop_xrealloc(ds.verdict, nverdicts);
            ds.reason = qloop_xrealloc(ds.reason, nverdicts * sizeof *ds.reason);
            ds.verdict_cap = nverdicts;
        }
        if (ds.jd.row_ref && batch.nrows > ds.refs_cap) {
            ds.refs = qloop_xrealloc(ds.refs, batch.nrows * sizeof *ds.refs);
            ds.refs_cap = batch.nrows;
        }
        struct judge_batch jb = {.batch = &batch, .view = ds.view, .verdict = ds.verdict,
                                 .reason = ds.reason, .refs = ds.jd.row_ref ? ds.refs : NULL};
        judge_run(run->pool, &jb);
        if (merge_verdicts(&ds) != 0 || note_seen(&ds) != 0) {
            rc = RUN_INTERNAL_ERROR;
            goto out;
        }
        collect_refsets(&ds);
        note_updates(&ds);
        if (cmp && compare_feed(cmp, d->name, ds.names, batch.ncols, ds.view, batch.nrows,
                                batch.row_no, err) != 0)
            goto out;
        ds.rows += (int64_t)batch.nrows;
        progress(&ds, false);
    }
    judge_end_dataset(run->pool);
    ds.judging = false;
    progress(&ds, true);
    /* A JSON Lines file names its columns as it goes; once read, a key that
     * never appeared would make every record the same record. */
    for (size_t i = 0; ds.rows > 0 && i < d->nkeys; i++)
        if (ds.key_cols[i] < 0) {
            qloop_error_set(err, d->file, d->line, 0,
                            "数据集 \"%s\" 的键字段 \"%s\" 在数据文件 %s 中一次也没有出现；请核对字段名",
                            d->name, d->keys[i], ds.path);
            goto out;
        }

    for (size_t i = 0; i < ds.nrules; i++) {
        struct rule_state *rs = &ds.rules[i];
        if (rs->uniq && unique_finish(rs->uniq, unique_failed, rs, err) != 0) {
            rc = RUN_INTERNAL_ERROR;
            goto out;
        }
        if (rs->uniq && unique_spilled(rs->uniq) && run->o->progress)
            fprintf(stderr, "qloop: 规则 \"%s\" 的唯一性检查超出内存预算（--memory），已借助临时文件完成\n",
                    rs->rule->id);
    }
    for (size_t i = 0; i < ds.nrules; i++) {
        struct rule_state *rs = &ds.rules[i];
        struct pack_rule *r = rs->rule;
        if (ds.errors[i] > 1)
            fprintf(stderr, "qloop: 规则 \"%s\" 共在 %lld 条记录上出错\n", r->id, (long long)ds.errors[i]);
        if (store_rule_result(run, r->id, d->name, r->field, r->dimension, r->severity, r->message,
                              ds.checked[i], rs->failed, ds.errors[i], r->resolve_missing) != 0) {
            rc = RUN_INTERNAL_ERROR;
            goto out;
        }
    }
    /* Dataset-level findings (freshness) have the empty key: reading the
     * dataset is seeing that "record", so a fresh dataset closes them. */
    char empty_ref[33];
    store_record_ref_keyed(run->secret, d->name, "", 0, empty_ref);
    if (strmap_count(ds.open_refs))
        see_ref(&ds, empty_ref);
    if (freshness(&ds) != 0) {
        rc = RUN_INTERNAL_ERROR;
        goto out;
    }
    {
        sqlite3_stmt *st;
        char newest[32] = "";
        if (ds.has_update)
            qloop_format_datetime(ds.newest_update, newest);
        json_t *cols = json_array();
        for (size_t i = 0; i < ds.ncols; i++)
            json_array_append_new(cols, json_string(ds.names[i]));
        char *cols_text = json_dumps(cols, JSON_COMPACT);
        json_decref(cols);
        if (sqlite3_prepare_v2(run->db,
                               "INSERT INTO temp.stage_run_datasets(run_id, dataset, source, rows, owner, update_cycle,"
                               " newest_update, columns) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                               -1, &st, NULL) != SQLITE_OK) {
            free(cols_text);
            store_error(run->db, "写入数据集结果", err);
            rc = RUN_INTERNAL_ERROR;
            goto out;
        }
        sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ds.path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, ds.rows);
        sqlite3_bind_text(st, 5, d->owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, d->update_cycle, -1, SQLITE_STATIC);
        if (ds.has_update)
            sqlite3_bind_text(st, 7, newest, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 8, cols_text, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        sqlite3_finalize(st);
        free(cols_text);
        if (src != SQLITE_DONE) {
            store_error(run->db, "写入数据集结果", err);
            rc = RUN_INTERNAL_ERROR;
            goto out;
        }
        json_array_append_new(run->summary_datasets,
                              json_pack("{s:s, s:I}", "name", d->name, "rows", (json_int_t)ds.rows));
        for (size_t i = 0; i < ds.ncleanse; i++) {
            json_array_append_new(run->summary_cleansed,
                                  json_pack("{s:s, s:s, s:I}", "dataset", d->name, "field",
                                            ds.cleanse[i].c->field, "changed",
                                            (json_int_t)ds.changed[i]));
            if (sqlite3_prepare_v2(run->db,
                                   "INSERT INTO temp.stage_cleanse_counts(run_id, dataset, field, changed) VALUES(?1,?2,?3,?4)",
                                   -1, &st, NULL) != SQLITE_OK) {
                store_error(run->db, "写入清洗计数", err);
                rc = RUN_INTERNAL_ERROR;
                goto out;
            }
            sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, ds.cleanse[i].c->field, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, ds.changed[i]);
            src = sqlite3_step(st);
            sqlite3_finalize(st);
            if (src != SQLITE_DONE) {
                store_error(run->db, "写入清洗计数", err);
                rc = RUN_INTERNAL_ERROR;
                goto out;
            }
        }
    }
    rc = RUN_OK;
out:
    ds_free(&ds);
    return rc;
}

/* ---- ordering: datasets that others reference come first ---- */

static int order_datasets(struct run_ctx *run, size_t *order)
{
    struct pack *p = run->p;
    size_t n = p->ndatasets, done = 0;
    bool *placed = qloop_xcalloc(n + 1, sizeof *placed);
    while (done < n) {
        bool progress_made = false;
        for (size_t i = 0; i < n; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            for (size_t j = 0; j < p->nrules && ready; j++) {
                struct pack_rule *r = &p->rules[j];
                const char *field, *needs = forms_needs(r, &field);
                if (strcmp(r->dataset, p->datasets[i].name) != 0 || !needs)
                    continue;
                for (size_t m = 0; m < n; m++)
                    if (!placed[m] && strcmp(p->datasets[m].name, needs) == 0)
                        ready = false;
            }
            if (ready) {
                placed[i] = true;
                order[done++] = i;
                progress_made = true;
            }
        }
        if (!progress_made) {
            free(placed);
            return qloop_error_set(run->err, p->datasets[0].file, 0, 0,
                                   "数据集之间的 references 形成了循环引用；请去掉其中一个引用");
        }
    }
    free(placed);
    return 0;
}

/* Seconds on a monotonic clock, for phase timings. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_run_id(struct run_ctx *run)
{
    unsigned char rnd[4];
    sqlite3_randomness(sizeof rnd, rnd);
    char stamp[32];
    qloop_format_datetime(run->now, stamp);
    /* 2026-11-22T02:00:00+08:00 -> 20261122T020000 */
    char compact[20];
    size_t j = 0;
    for (size_t i = 0; i < 19 && stamp[i] && j + 1 < sizeof compact; i++)
        if (stamp[i] != '-' && stamp[i] != ':')
            compact[j++] = stamp[i];
    compact[j] = '\0';
    snprintf(run->run_id, sizeof run->run_id, "%s-%02x%02x%02x%02x", compact, rnd[0], rnd[1], rnd[2],
             rnd[3]);
}

static int insert_run(struct run_ctx *run, const char *status, const char *summary)
{
    sqlite3_stmt *st;
    const char *sql = summary
        ? "UPDATE runs SET status = ?2, finished_at = ?3, summary = ?4 WHERE id = ?1"
        : "INSERT INTO runs(id, status, started_at, as_of, rules) VALUES(?1, ?2, ?3, ?3, ?4)";
    if (sqlite3_prepare_v2(run->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_error(run->db, "写入运行记录", run->err);
    sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, run->as_of, -1, SQLITE_STATIC);
    if (summary) {
        sqlite3_bind_text(st, 4, summary, -1, SQLITE_TRANSIENT);
    } else {
        json_t *files = json_array();
        for (size_t i = 0; i < run->p->nfiles; i++)
            json_array_append_new(files, json_string(run->p->files[i]));
        char *text = json_dumps(files, JSON_COMPACT);
        json_decref(files);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
        free(text);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_error(run->db, "写入运行记录", run->err);
}

static int audit_run(struct run_ctx *run, const char *kind, json_t *detail)
{
    char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    char subject[96];
    snprintf(subject, sizeof subject, "run:%s", run->run_id);
    int rc = audit_append(run->db, kind, subject, "system", text, run->err);
    free(text);
    json_decref(detail);
    return rc;
}

static int setup_refsets(struct run_ctx *run)
{
    struct pack *p = run->p;
    for (size_t i = 0; i < p->nrules; i++) {
        const char *field, *dataset = forms_needs(&p->rules[i], &field);
        if (!dataset)
            continue;
        bool have = false;
        for (size_t j = 0; j < run->nrefsets; j++)
            have |= strcmp(run->refsets[j].dataset, dataset) == 0 &&
                    strcmp(run->refsets[j].field, field) == 0;
        if (have)
            continue;
        run->refsets = qloop_xrealloc(run->refsets, (run->nrefsets + 1) * sizeof *run->refsets);
        run->refsets[run->nrefsets++] = (struct refset){
            .dataset = (char *)dataset, .field = (char *)field, .col = -1, .values = strmap_new()};
    }
    return 0;
}

/* A findings sink for the catalog's checks, storing each finding as
 * the catalog once inserted it (row_no NULL for a dataset-level finding). To
 * be replaced by the run's one findings writer (run/findings.c). */
struct catalog_sink {
    sqlite3 *db;
    const char *run_id;
    struct sql_cached ins;
};

static int catalog_sink_write(void *ctx, const struct qloop_finding *f, struct qloop_error *err)
{
    struct catalog_sink *c = ctx;
    char ref[33];
    store_record_ref(c->db, f->dataset, f->key, f->keylen, ref);
    sqlite3_stmt *st = sql_cached(c->db, &c->ins, "INSERT INTO findings(run_id, dataset, rule,"
                                  " row_no, record_ref, record_key, field, value, message)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, c->run_id);
    sql_bind_text(st, 2, f->dataset);
    sql_bind_text(st, 3, f->rule);
    if (f->row_no)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)f->row_no);
    sql_bind_text(st, 5, ref);
    sql_bind_textn(st, 6, f->key, f->keylen);
    sql_bind_text(st, 7, f->field);
    sql_bind_textn(st, 8, f->value, f->vlen);
    sql_bind_text(st, 9, f->message);
    return sql_done(c->db, st, "写入资源目录问题", err);
}

/* The run's staging tables (see run_execute): same columns as the store's. */
static int stage_create(sqlite3 *db, struct qloop_error *err)
{
    return store_exec(
        db,
        "DROP TABLE IF EXISTS temp.stage_findings; DROP TABLE IF EXISTS temp.stage_rule_results;"
        "DROP TABLE IF EXISTS temp.stage_run_datasets; DROP TABLE IF EXISTS temp.stage_cleanse_counts;"
        "CREATE TEMP TABLE stage_findings(run_id, dataset, rule, row_no, record_ref, record_key,"
        "  field, value, message);"
        "CREATE TEMP TABLE stage_rule_results(run_id, rule, dataset, field, dimension, severity,"
        "  message, checked, failed, errors, resolve_missing);"
        "CREATE TEMP TABLE stage_run_datasets(run_id, dataset, source, rows, owner, update_cycle,"
        "  newest_update, columns);"
        "CREATE TEMP TABLE stage_cleanse_counts(run_id, dataset, field, changed);",
        err);
}

/* Moves the staged rows into the store, in the order they were made,
 * inside the caller's transaction. */
static int stage_commit(sqlite3 *db, struct qloop_error *err)
{
    return store_exec(
        db,
        "INSERT INTO main.findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
        "  value, message) SELECT run_id, dataset, rule, row_no, record_ref, record_key, field,"
        "  value, message FROM temp.stage_findings ORDER BY rowid;"
        "INSERT INTO main.rule_results(run_id, rule, dataset, field, dimension, severity, message,"
        "  checked, failed, errors, resolve_missing) SELECT run_id, rule, dataset, field,"
        "  dimension, severity, message, checked, failed, errors, resolve_missing"
        "  FROM temp.stage_rule_results ORDER BY rowid;"
        "INSERT INTO main.run_datasets(run_id, dataset, source, rows, owner, update_cycle,"
        "  newest_update, columns) SELECT run_id, dataset, source, rows, owner, update_cycle,"
        "  newest_update, columns FROM temp.stage_run_datasets ORDER BY rowid;"
        "INSERT INTO main.cleanse_counts(run_id, dataset, field, changed) SELECT run_id, dataset,"
        "  field, changed FROM temp.stage_cleanse_counts ORDER BY rowid;"
        "DELETE FROM temp.stage_findings; DELETE FROM temp.stage_rule_results;"
        "DELETE FROM temp.stage_run_datasets; DELETE FROM temp.stage_cleanse_counts;",
        err);
}

int run_execute(sqlite3 *db, struct pack *p, const struct run_options *o, struct run_outcome *out,
                struct qloop_error *err)
{
    struct run_ctx run = {.db = db, .p = p, .o = o, .err = err};
    memset(out, 0, sizeof *out);
    run.now = qloop_now();
    run.started = time(NULL);
    qloop_format_datetime(run.now, run.as_of);
    make_run_id(&run);
    int rc = RUN_INPUT_ERROR;
    size_t *order = qloop_xcalloc(p->ndatasets + 1, sizeof *order);

    /* Everything that can be checked before reading data is checked first. */
    for (size_t i = 0; i < o->ndata; i++)
        if (!pack_find_dataset(p, o->data[i].name)) {
            qloop_error_set(err, NULL, 0, 0, "--data %s=%s：规则中没有声明数据集 \"%s\"", o->data[i].name,
                            o->data[i].path, o->data[i].name);
            goto fail_early;
        }
    for (size_t i = 0; i < p->ndatasets; i++) {
        struct pack_dataset *d = &p->datasets[i];
        const char *path = source_path(&run, d);
        if (!path) {
            qloop_error_set(err, d->file, d->line, 0,
                            "数据集 \"%s\" 没有数据来源；请在 dataset 中写 source = \"文件\"，或用 --data %s=文件",
                            d->name, d->name);
            goto fail_early;
        }
        if (strcmp(path, "-") != 0 && access(path, R_OK) != 0) {
            qloop_error_set(err, path, 0, 0, "无法读取数据集 \"%s\" 的数据文件（%s）；请检查路径", d->name,
                            strerror(errno));
            goto fail_early;
        }
    }
    if (order_datasets(&run, order) != 0)
        goto fail_early;
    if (division_init(err) != 0)
        goto fail_early;
    if (p->ncompares && compare_run_new(&run.compares, p, o->memory_budget, err) != 0)
        goto fail_early;
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        size_t jobs = o->jobs ? o->jobs : (size_t)(ncpu > 0 ? (ncpu > 16 ? 16 : ncpu) : 1);
        run.pool = judge_pool_new(p, jobs, err);
        if (!run.pool) {
            rc = RUN_INTERNAL_ERROR;
            goto fail_early;
        }
    }

    /* Reading and checking the data takes most of a run, and holds no
     * write lock on the store: what it produces goes to TEMP tables of this
     * connection (gone if the process dies). Only the final phase — moving
     * those rows in, compares, catalog checks, tickets — is one write
     * transaction, so staff can answer tickets while a nightly run reads. */
    rc = RUN_INTERNAL_ERROR;
    if (stage_create(db, err) != 0)
        goto fail;
    run.secret = store_secret(db);
    /* Which records of open tickets this run saw matters only to this run's
     * re-check: it stays in memory and the tickets ask (ticket_seen). */
    run.seen = strmap_new();
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO temp.stage_findings(run_id, dataset, rule, row_no, record_ref,"
                           " record_key, field, value, message) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                           -1, &run.ins_finding, NULL) != SQLITE_OK) {
        store_error(db, "准备语句", err);
        goto fail;
    }
    run.summary_datasets = json_array();
    run.summary_rules = json_array();
    run.summary_cleansed = json_array();
    setup_refsets(&run);
    double t0 = mono_seconds();
    for (size_t i = 0; i < p->ndatasets; i++) {
        int drc = run_dataset(&run, &p->datasets[order[i]]);
        if (drc != RUN_OK) {
            rc = drc;
            goto fail;
        }
    }
    double t1 = mono_seconds();
    sqlite3_finalize(run.ins_finding);
    run.ins_finding = NULL;
    if (store_begin(db, err) != 0) {
        rc = RUN_INPUT_ERROR;
        goto fail;
    }
    if (insert_run(&run, "running", NULL) != 0 ||
        audit_run(&run, "run.start", json_pack("{s:s}", "as_of", run.as_of)) != 0 ||
        stage_commit(db, err) != 0)
        goto fail;
    double t1s = mono_seconds();
    if (run.compares) {
        struct compare_emit_ctx ectx = {.db = db, .run_id = run.run_id, .pack = p};
        if (compare_finish(run.compares, &ectx, run.summary_rules, &run.failed_records, err) != 0)
            goto fail;
    }
    double t2 = mono_seconds();
    struct catalog_sink csink = {.db = db, .run_id = run.run_id};
    struct qloop_findings_sink sink = {.write = catalog_sink_write, .ctx = &csink};
    int crc = catalog_check_run(db, run.run_id, run.summary_rules, &sink, err);
    sql_cache_free(&csink.ins);
    if (crc != 0)
        goto fail;
    double t3 = mono_seconds();
    struct ticket_sync_counts tc = {0};
    struct ticket_seen seen = {.seen = seen_ref_of, .ctx = &run};
    if (ticket_sync_run_seen(db, run.run_id, o->policy_path, &seen, &tc, err) != 0) {
        rc = RUN_INPUT_ERROR;
        goto fail;
    }
    double t4 = mono_seconds();
    json_t *summary = json_pack("{s:s, s:s, s:O, s:O, s:{s:I, s:I, s:I}, s:I, s:O}", "run_id",
                                run.run_id, "as_of", run.as_of, "datasets", run.summary_datasets,
                                "rules", run.summary_rules, "tickets", "opened", (json_int_t)tc.opened,
                                "updated", (json_int_t)tc.updated, "reverified",
                                (json_int_t)tc.reverified, "failed_records",
                                (json_int_t)run.failed_records, "cleansed", run.summary_cleansed);
    char *text = json_dumps(summary, JSON_COMPACT);
    int urc = insert_run(&run, "done", text);
    free(text);
    if (urc != 0 ||
        audit_run(&run, "run.end",
                  json_pack("{s:I, s:I}", "failed_records", (json_int_t)run.failed_records,
                            "tickets_opened", (json_int_t)tc.opened)) != 0) {
        json_decref(summary);
        goto fail;
    }
    if (store_commit(db, err) != 0) {
        json_decref(summary);
        goto fail;
    }
    snprintf(out->run_id, sizeof out->run_id, "%s", run.run_id);
    out->seconds_read = t1 - t0;
    out->seconds_store = t1s - t1;
    out->seconds_compare = t2 - t1s;
    out->seconds_catalog = t3 - t2;
    out->seconds_tickets = t4 - t3;
    out->seconds_commit = mono_seconds() - t4;
    out->failed_records = run.failed_records;
    out->summary = summary;
    rc = RUN_OK;
    goto cleanup;
fail:
    sqlite3_finalize(run.ins_finding);
    store_rollback(db);
fail_early:
cleanup:
    json_decref(run.summary_datasets);
    json_decref(run.summary_rules);
    json_decref(run.summary_cleansed);
    for (size_t i = 0; i < run.nrefsets; i++)
        strmap_free(run.refsets[i].values);
    free(run.refsets);
    compare_run_free(run.compares);
    strmap_free(run.seen);
    judge_pool_free(run.pool);
    qloop_buf_free(&run.keybuf);
    qloop_buf_free(&run.maskbuf);
    qloop_buf_free(&run.maskbuf2);
    qloop_buf_free(&run.msgbuf);
    free(order);
    return rc;
}
