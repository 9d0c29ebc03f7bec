/*
 * dataset.c — reading one dataset of a run, as named phases (run_dataset):
 *   open     pick the adapter and open the source;
 *   bind     the dataset's rules and cleanse entries, their columns, and the
 *            header checks a file with a fixed header allows;
 *   read     batch by batch: the workers cleanse and judge (judge.c), then
 *            here, on the run's thread and in rule then row order, the
 *            verdicts become findings and passed values go to the
 *            whole-dataset forms (unique); the batch also feeds the re-check,
 *            the referenced values, the freshness and the compares;
 *   whole    what needs every row: unique's deferred reports, each rule's
 *            result, the dataset-level findings (freshness);
 *   record   the dataset's row, its cleansing counts and its summary.
 * Every finding goes through the findings writer (findings.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/escape.h"
#include "base/strmap.h"
#include "base/text.h"
#include "rules/forms.h"
#include "run/compare.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/stage.h"
#include "run/unique.h"

/* ---- columns and cells ---- */

long ds_column(const struct ds_ctx *ds, const char *name)
{
    if (!name)
        return -1;
    uint64_t *v = strmap_get(ds->colmap, name, strlen(name));
    return v ? (long)*v - 1 : -1;
}

void ds_bind_names(struct ds_ctx *ds, size_t n, const char *const *names)
{
    if (n == ds->ncols && names == ds->names)
        return;
    for (size_t i = ds->ncols; i < n; i++)
        *strmap_put(ds->colmap, names[i], strlen(names[i]), NULL) = i + 1;
    ds->ncols = n;
    ds->names = names;
    for (size_t i = 0; i < ds->d->nkeys; i++)
        ds->key_cols[i] = ds_column(ds, ds->d->keys[i]);
    for (size_t i = 0; i < ds->d->nsensitive; i++)
        ds->sens_cols[i] = ds_column(ds, ds->d->sensitive[i]);
    for (size_t i = 0; i < ds->nrules; i++)
        ds->rule_cols[i] = ds->rules[i].col = ds_column(ds, ds->rules[i].rule->field);
    for (size_t i = 0; i < ds->ncleanse; i++)
        ds->cleanse_cols[i] = ds->cleanse[i].col = ds_column(ds, ds->cleanse[i].c->field);
    ds->updated_col = ds_column(ds, ds->d->updated_at);
    refsets_bind(ds);
    identity_bind(ds);
}

/* Maps the source's columns (ds_bind_names); redone when it names new ones. */
static void bind_columns(struct ds_ctx *ds)
{
    size_t n;
    const char *const *names;
    ds->ad->columns(ds->src, &n, &names);
    ds_bind_names(ds, n, names);
}

const struct qloop_field *ds_cell(const struct ds_ctx *ds, size_t row, long col)
{
    static const struct qloop_field null_field = {"", 0, 1};
    if (col < 0 || (size_t)col >= ds->batch->ncols)
        return &null_field;
    return &ds->view[row * ds->batch->ncols + (size_t)col];
}

/* The raw record key of a row: key fields joined by '|', or for a record
 * without a key its identity (identity.c). */
void ds_row_key(const struct ds_ctx *ds, size_t row, struct qloop_buf *out)
{
    qloop_buf_reset(out);
    if (!identity_of(ds, row, out))
        ds_key_fields(ds, row, out);
}

/* compare_rows' own_key: the raw record key of row, as ds_row_key. */
static void ds_compare_key(void *ctx, size_t row, struct qloop_buf *out)
{
    ds_row_key(ctx, row, out);
}

size_t ds_row_values(struct ds_ctx *ds, size_t row)
{
    return ds_row_values_into(ds, row, ds->sens_vals);
}

size_t ds_row_values_into(const struct ds_ctx *ds, size_t row, struct mask_value *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->d->nsensitive; i++) {
        long col = ds->sens_cols[i];
        if (col < 0 || (size_t)col >= ds->batch->ncols)
            continue;
        /* As cleansed (what a rule sees) and as read, when they differ. */
        const struct qloop_field *f = ds_cell(ds, row, col);
        const struct qloop_field *raw = &ds->batch->cells[row * ds->batch->ncols + (size_t)col];
        if (!f->null && f->len > 0)
            out[n++] = (struct mask_value){f->ptr, f->len};
        if (!raw->null && raw->len > 0 &&
            (f->null || raw->len != f->len || memcmp(raw->ptr, f->ptr, f->len) != 0))
            out[n++] = (struct mask_value){raw->ptr, raw->len};
    }
    return n;
}

/* ---- findings ---- */

/* Counts row_no among the run's distinct failing records. */
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

/* Writes a finding of rule rs about the record at row_no with raw key and
 * value (NULL for none) and the finder's mask, and counts it; nvalues: how
 * many of the row's sensitive values ds_row_values put in ds->sens_vals for
 * the writer to mask in the message. */
/* The finding of rule rs on a record of ds (f) and what its message and
 * masking need (x); pointers into the caller's arguments and ds. */
static void finding_of(const struct ds_ctx *ds, const struct rule_state *rs, uint64_t row_no,
                       const char *key, size_t keylen, const char *value, size_t vlen,
                       const char *reason, unsigned mask, size_t nvalues,
                       struct qloop_finding *f, struct finding_extra *x)
{
    const struct pack_rule *r = rs->rule;
    *f = (struct qloop_finding){.dataset = ds->d->name, .rule = r->id, .row_no = row_no,
                                .key = key, .keylen = keylen, .field = r->field,
                                .value = value, .vlen = vlen};
    *x = (struct finding_extra){.rule_message = r->message, .message_default = r->message_default,
                                .reason = reason, .mask = mask, .values = ds->sens_vals,
                                .nvalues = nvalues};
}

/* Counts a finding of rs stored for the record at row_no (0: none). */
static void count_failed(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no)
{
    rs->failed++;
    if (row_no)
        mark_failed(ds, row_no);
}

static int emit_values(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
                       size_t keylen, const char *value, size_t vlen, const char *reason,
                       unsigned mask, size_t nvalues, const struct finding_shown *shown)
{
    struct qloop_finding f;
    struct finding_extra x;
    finding_of(ds, rs, row_no, key, keylen, value, vlen, reason, mask, nvalues, &f, &x);
    if (ds->run->part) /* a partitioned judge: the verdict goes to its shard, shown */
        return part_verdict(ds, rs, &f, &x);
    if ((shown ? findings_write_shown(ds->run->findings, &f, shown, ds->run->err)
               : findings_write(ds->run->findings, &f, &x, ds->run->err)) != 0)
        return -1;
    count_failed(ds, rs, row_no);
    return 0;
}

/* emit_values without a mask. */
static int emit(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
                size_t keylen, const char *value, size_t vlen, const char *reason,
                size_t nvalues)
{
    return emit_values(ds, rs, row_no, key, keylen, value, vlen, reason, 0, nvalues, NULL);
}

int ds_emit(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
            size_t keylen, const char *value, size_t vlen, const char *reason, unsigned mask)
{
    return emit_values(ds, rs, row_no, key, keylen, value, vlen, reason, mask, 0, NULL);
}

int ds_emit_shown(struct ds_ctx *ds, struct rule_state *rs, uint64_t row_no, const char *key,
                  size_t keylen, const char *value, size_t vlen, const struct finding_shown *s)
{
    return emit_values(ds, rs, row_no, key, keylen, value, vlen, NULL, 0, 0, s);
}

static int emit_row(struct ds_ctx *ds, struct rule_state *rs, size_t row, const char *reason)
{
    struct qloop_buf *key = &ds->run->keybuf;
    ds_row_key(ds, row, key);
    const struct qloop_field *f = rs->rule->field ? ds_cell(ds, row, rs->col) : NULL;
    return emit(ds, rs, ds->batch->row_no[row], key->ptr, key->len, f && !f->null ? f->ptr : NULL,
                f ? f->len : 0, reason, reason ? ds_row_values(ds, row) : 0);
}

static void note_rule_error(struct ds_ctx *ds, struct rule_state *rs, const char *text, size_t row)
{
    if (rs->first_error[0])
        return;
    /* The error may quote the record (error("bad " .. r.name)): masked by
     * shape and by the row's sensitive values, control characters escaped. */
    struct qloop_buf masked = {0}, safe = {0};
    text = text ? text : "";
    mask_text(text, strlen(text), ds->sens_vals, ds_row_values(ds, row), &masked);
    qloop_escape_controls(masked.ptr ? masked.ptr : "", masked.len, 0, &safe);
    snprintf(rs->first_error, sizeof rs->first_error, "%s", qloop_buf_str(&safe));
    qloop_buf_free(&masked);
    qloop_buf_free(&safe);
    fprintf(stderr, "qloop: 规则 \"%s\"（%s:%ld）在数据集 %s 数据第 %llu 行（不计表头）出错：%s；本次运行继续，出错的记录计入 errors\n",
            rs->rule->id, rs->rule->file, rs->rule->line, ds->d->name,
            (unsigned long long)ds->batch->row_no[row], rs->first_error);
}

/* The reason a unique rule's finding gives: its own when the rule has no
 * message of its own, else none (the rule's message says it). */
static const char *unique_reason(const struct rule_state *rs)
{
    return rs->rule->message_default ? "与其他记录重复" : NULL;
}

/* The unique set's report of a failing record. */
static int unique_failed(void *ctx, uint64_t row_no, const char *key, size_t keylen,
                         const char *value, size_t vlen)
{
    struct rule_state *rs = ctx;
    return emit(rs->ds, rs, row_no, key, keylen, value, vlen, unique_reason(rs), 0);
}

int ds_unique_offer(struct ds_ctx *ds, struct rule_state *rs, const char *value, size_t vlen,
                    uint64_t row_no, const char *key, size_t keylen)
{
    return unique_add(rs->uniq, value, vlen, row_no, key, keylen, ds->run->err);
}

int ds_unique_group(struct ds_ctx *ds, struct rule_state *rs, const char *value, size_t vlen,
                    uint64_t count)
{
    return unique_add_group(rs->uniq, value, vlen, count, ds->run->err);
}

/* The findings of a unique rule's failing records made on two threads
 * (unique_encoder): what emit writes for each, the same bytes. */
struct unique_enc {
    struct rule_state *rs;
    struct findings_encoder *enc[2];
    uint32_t kind;
};

static void unique_encode(void *ctx, size_t thread, uint64_t row_no, const char *key,
                          size_t keylen, const char *value, size_t vlen, struct qloop_buf *out)
{
    struct unique_enc *ue = ctx;
    struct qloop_finding f;
    struct finding_extra x;
    finding_of(ue->rs->ds, ue->rs, row_no, key, keylen, value, vlen, unique_reason(ue->rs), 0, 0,
               &f, &x);
    findings_encode(ue->enc[thread], ue->kind, &f, &x, out);
}

static int unique_take(void *ctx, const char *bytes, size_t len, const uint64_t *rows, size_t n)
{
    struct unique_enc *ue = ctx;
    struct ds_ctx *ds = ue->rs->ds;
    if (findings_append(ds->run->findings, bytes, len, ds->run->err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        count_failed(ds, ue->rs, rows[i]);
    return 0;
}

int ds_unique_finish(struct ds_ctx *ds, struct rule_state *rs, unique_state_fn state, void *ctx)
{
    struct run_ctx *run = ds->run;
    if (!state && !run->part && run->findings) { /* a run's findings: made on two threads */
        const struct pack_rule *r = rs->rule;
        struct unique_enc ue = {.rs = rs,
                                .kind = findings_kind(run->findings, ds->d->name, r->id, r->field)};
        ue.enc[0] = findings_encoder_new(run->findings);
        ue.enc[1] = findings_encoder_new(run->findings);
        struct unique_encoder e = {unique_encode, unique_take, &ue};
        size_t threads = run->pool && judge_pool_size(run->pool) >= 2 ? 2 : 1;
        int rc = unique_finish_encoded(rs->uniq, &e, threads, run->err);
        findings_encoder_free(ue.enc[0]);
        findings_encoder_free(ue.enc[1]);
        if (rc != 0)
            return -1;
    } else if (unique_finish_states(rs->uniq, unique_failed, rs, state, ctx, run->err) != 0) {
        return -1;
    }
    if (unique_spilled(rs->uniq) && run->o->progress)
        fprintf(stderr, "qloop: 规则 \"%s\" 的唯一性检查已借助临时文件完成（内存只保留其一小部分，见 --memory）\n",
                rs->rule->id);
    return 0;
}

void ds_key_fields(const struct ds_ctx *ds, size_t row, struct qloop_buf *out)
{
    qloop_buf_reset(out);
    for (size_t i = 0; i < ds->d->nkeys; i++) {
        const struct qloop_field *f = ds_cell(ds, row, ds->key_cols[i]);
        if (i)
            qloop_buf_putc(out, '|');
        qloop_buf_append(out, f->ptr, f->len);
    }
}

/* Offers the passed value of row to rule rs's whole-dataset set, as writer
 * `writer`, at its place in the dataset; key[0..key_len): the row's raw
 * record key (NULL: empty). */
static void offer_whole(struct ds_ctx *ds, struct rule_state *rs, size_t writer, size_t row,
                        const char *key, size_t key_len)
{
    const struct qloop_field *f = ds_cell(ds, row, rs->col);
    unique_offer(rs->uniq, writer, (uint64_t)ds->rows + row, f->ptr, f->len,
                 ds->batch->row_no[row], key ? key : "", key_len);
}

/* judge.h's pass: a worker offers the passed values of the rows it took
 * with a key (those without one get their identity after the workers: the
 * merge offers them). */
static void offer_on_worker(void *ctx, size_t worker, size_t rule, size_t row)
{
    struct ds_ctx *ds = ctx;
    if (identity_keyless(ds, row))
        return;
    struct rule_state *rs = &ds->rules[rule];
    if (ds->d->nkeys == 1 && ds->key_cols[0] == rs->col) {
        /* the value is the record's whole key (W1's unique identity
         * number): offered as both, not copied to be compared back */
        const struct qloop_field *f = ds_cell(ds, row, rs->col);
        offer_whole(ds, rs, worker, row, f->ptr, f->len);
        return;
    }
    struct qloop_buf *key = &ds->whole_keys[worker];
    ds_key_fields(ds, row, key);
    offer_whole(ds, rs, worker, row, key->ptr, key->len);
}

/* Sets the workers to offer the unique rules' values (offer_on_worker), or
 * leaves it to the merge. */
static void whole_begin(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    size_t n = run->pool ? judge_pool_size(run->pool) : 1;
    bool any = false;
    for (size_t i = 0; i < ds->nrules; i++)
        if (ds->rules[i].uniq) {
            unique_set_writers(ds->rules[i].uniq, n);
            ds->pass_rules[i] = any = true;
        }
    if (!any || !run->pool || ds->d->nkeys == 0)
        return;
    ds->whole_keys = qloop_xcalloc(n, sizeof *ds->whole_keys);
    ds->nwhole_keys = n;
    ds->jd.pass = offer_on_worker;
    ds->jd.pass_rules = ds->pass_rules;
    ds->jd.pass_ctx = ds;
}

/* Turns the workers' verdicts on the batch into findings, in rule then row
 * order, and offers passed values to the whole-dataset forms in order. */
static int merge_verdicts(struct ds_ctx *ds)
{
    const struct qloop_batch *b = ds->batch;
    for (size_t i = 0; i < ds->nrules; i++) {
        struct rule_state *rs = &ds->rules[i];
        const uint8_t *verdict = ds->verdict + i * b->nrows;
        const char **reason = ds->reason + i * b->nrows;
        for (size_t row = 0; row < b->nrows; row++) {
            switch (verdict[row]) {
            case JUDGE_FAIL: {
                const char *enc;
                size_t n;
                if (!ds_encoded(ds, i, row, &enc, &n)) {
                    if (emit_row(ds, rs, row, reason[row]) != 0)
                        return -1;
                    break;
                }
                /* made on the worker as emit_row would have: store, count */
                if (findings_append(ds->run->findings, enc, n, ds->run->err) != 0)
                    return -1;
                rs->failed++;
                if (b->row_no[row])
                    mark_failed(ds, b->row_no[row]);
                break;
            }
            case JUDGE_PASS:
                if (rs->uniq && !(ds->jd.pass && !identity_keyless(ds, row))) {
                    ds_row_key(ds, row, &ds->run->keybuf);
                    offer_whole(ds, rs, 0, row, ds->run->keybuf.ptr, ds->run->keybuf.len);
                }
                break;
            case JUDGE_ERROR:
                note_rule_error(ds, rs, reason[row], row);
                break;
            case JUDGE_PENDING:
            case JUDGE_PENDING_FAIL:
            case JUDGE_PENDING_ERROR: /* only a partitioned judge defers */
                if (part_pending(ds, rs, row, verdict[row], reason[row]) != 0)
                    return -1;
                break;
            default:
                break;
            }
        }
        if (rs->uniq && unique_check(rs->uniq, ds->run->err) != 0)
            return -1;
    }
    return 0;
}

/* ---- the phases ---- */

const char *run_source_path(const struct run_ctx *run, const struct pack_dataset *d)
{
    for (size_t i = 0; i < run->o->ndata; i++)
        if (strcmp(run->o->data[i].name, d->name) == 0)
            return run->o->data[i].path;
    return d->source;
}

int ds_open(struct ds_ctx *ds)
{
    struct pack_dataset *d = ds->d;
    ds->path = run_source_path(ds->run, d);
    ds->ad = ds->given_ad ? ds->given_ad : ds->run->o->find_adapter(ds->path, d->format);
    if (!ds->ad)
        return qloop_error_set(ds->run->err, ds->path, 0, 0,
                               "无法识别数据文件的格式；请使用 .csv/.tsv/.jsonl/.json/.xlsx 扩展名（.xls 请在 Excel 中另存为 "
                               ".xlsx），或在 dataset \"%s\" 中写 format = \"csv\"",
                               d->name);
    struct qloop_source_options so;
    ds_source_options(ds, &so);
    so.names = ds->given_names;
    so.nnames = ds->ngiven_names;
    if (ds->ad->open(ds->path, &so, &ds->src, ds->run->err) != 0) {
        ds->src = NULL;
        return -1;
    }
    return 0;
}

void ds_setup_rules(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    struct pack_dataset *d = ds->d;
    ds->colmap = strmap_new();
    ds->key_cols = qloop_xcalloc(d->nkeys + 1, sizeof *ds->key_cols);
    ds->sens_cols = qloop_xcalloc(d->nsensitive + 1, sizeof *ds->sens_cols);
    ds->sens_vals = qloop_xcalloc(2 * d->nsensitive + 1, sizeof *ds->sens_vals);
    for (size_t i = 0; i < run->p->nrules; i++)
        ds->nrules += strcmp(run->p->rules[i].dataset, d->name) == 0;
    ds->rules = qloop_xcalloc(ds->nrules + 1, sizeof *ds->rules);
    ds->rule_index = qloop_xcalloc(ds->nrules + 1, sizeof *ds->rule_index);
    ds->rule_cols = qloop_xcalloc(ds->nrules + 1, sizeof *ds->rule_cols);
    ds->refsets = qloop_xcalloc(ds->nrules + 1, sizeof *ds->refsets);
    ds->checked = qloop_xcalloc(ds->nrules + 1, sizeof *ds->checked);
    ds->errors = qloop_xcalloc(ds->nrules + 1, sizeof *ds->errors);
    ds->pass_rules = qloop_xcalloc(ds->nrules + 1, sizeof *ds->pass_rules);
    size_t k = 0;
    for (size_t i = 0; i < run->p->nrules; i++) {
        struct pack_rule *r = &run->p->rules[i];
        if (strcmp(r->dataset, d->name) != 0)
            continue;
        ds->rule_index[k] = i;
        ds->refsets[k] = refsets_for(run, r);
        ds->rules[k++] = (struct rule_state){
            .rule = r, .ds = ds, .col = -1,
            .uniq = r->form_flags & FORM_WHOLE_DATASET ? unique_new(run->o->memory_budget) : NULL};
    }
    ds->ncleanse = d->ncleanse;
    ds->cleanse = qloop_xcalloc(d->ncleanse + 1, sizeof *ds->cleanse);
    ds->cleanse_cols = qloop_xcalloc(d->ncleanse + 1, sizeof *ds->cleanse_cols);
    ds->changed = qloop_xcalloc(d->ncleanse + 1, sizeof *ds->changed);
    for (size_t i = 0; i < d->ncleanse; i++)
        ds->cleanse[i] = (struct cleanse_state){&d->cleanse[i], -1};
}

/* Binds the columns; in a file with a fixed header, every field a rule, the
 * key or a compare names must be there before anything is read. */
int ds_bind(struct ds_ctx *ds)
{
    struct pack_dataset *d = ds->d;
    struct qloop_error *err = ds->run->err;
    ds_setup_rules(ds);
    bind_columns(ds);
    if (ds->ad->flags & QLOOP_ADAPTER_OPEN_COLUMNS)
        return 0;
    for (size_t i = 0; i < ds->nrules; i++) {
        struct pack_rule *r = ds->rules[i].rule;
        if (r->field && ds->rules[i].col < 0)
            return qloop_error_set(err, r->file, r->line, 0,
                                   "规则 \"%s\" 的字段 \"%s\" 不在数据文件 %s 的表头中；请核对字段名（区分大小写）",
                                   r->id, r->field, ds->path);
    }
    for (size_t i = 0; i < d->nkeys; i++)
        if (ds->key_cols[i] < 0)
            return qloop_error_set(err, d->file, d->line, 0,
                                   "数据集 \"%s\" 的键字段 \"%s\" 不在数据文件 %s 的表头中", d->name,
                                   d->keys[i], ds->path);
    return compare_check_columns(ds->run->compares, d->name, ds->names, ds->ncols, err);
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

/* Makes slot the current batch: what the merge (and, from judge_finish on,
 * judge.h's pass) read through ds. */
static void ds_select(struct ds_ctx *ds, struct ds_batch *slot)
{
    ds->batch = &slot->batch;
    ds->view = slot->view;
    ds->verdict = slot->verdict;
    ds->reason = slot->reason;
    ds->refs = slot->refs;
    ds->key_empty = slot->key_empty;
    ds->jb = &slot->jb;
}

/* Sizes the slot's working arrays for its batch, copies its cells into the
 * view that cleansing rewrites and sets up its judge batch (the findings
 * the workers make, the copy of ds its refs and findings read, the memo's
 * part); slot becomes the current batch. Returns 0 or -1 with run->err. */
static int prepare_batch(struct ds_ctx *ds, struct ds_batch *slot)
{
    const struct qloop_batch *batch = &slot->batch;
    size_t ncells = batch->nrows * batch->ncols;
    if (ncells > slot->view_cap) {
        slot->view = qloop_xrealloc(slot->view, ncells * sizeof *slot->view);
        slot->view_cap = ncells;
    }
    memcpy(slot->view, batch->cells, ncells * sizeof *slot->view);
    size_t nverdicts = ds->nrules * batch->nrows;
    if (nverdicts > slot->verdict_cap) {
        slot->verdict = qloop_xrealloc(slot->verdict, nverdicts);
        slot->reason = qloop_xrealloc(slot->reason, nverdicts * sizeof *slot->reason);
        slot->verdict_cap = nverdicts;
    }
    if (ds->jd.row_refs && batch->nrows > slot->refs_cap) {
        slot->refs = qloop_xrealloc(slot->refs, batch->nrows * sizeof *slot->refs);
        slot->refs_cap = batch->nrows;
    }
    if (batch->nrows > slot->key_empty_cap) {
        slot->key_empty = qloop_xrealloc(slot->key_empty, batch->nrows);
        slot->key_empty_cap = batch->nrows;
    }
    memset(slot->key_empty, 2, batch->nrows); /* not known until cleansed (judge.c) */
    ds_select(ds, slot);
    ds_null_values(ds, ncells);
    slot->jb = (struct judge_batch){.batch = batch, .view = slot->view, .verdict = slot->verdict,
                                    .reason = slot->reason,
                                    .refs = ds->jd.row_refs ? slot->refs : NULL,
                                    .key_empty = slot->key_empty};
    ds_encode_batch(ds, &slot->jb);
    if (!slot->cb)
        slot->cb = qloop_xmalloc(sizeof *slot->cb);
    *slot->cb = *ds;
    slot->cb->ident_at = NULL;
    slot->cb->ident_cap = 0;
    slot->jb.ctx = slot->cb;
    return memo_batch(ds, &slot->jb);
}

/* The serial part of a judged batch, on the run's thread and in this order:
 * the keyless rows' identities, the verdicts merged into findings, the
 * memo's rows, the re-check, a partitioned judge's keys, the referenced
 * values, the freshness and the compares. Returns 0 or -1 with run->err. */
static int merge_batch(struct ds_ctx *ds, struct ds_batch *slot)
{
    struct run_ctx *run = ds->run;
    const struct qloop_batch *batch = &slot->batch;
    ds_select(ds, slot);
    identity_batch(ds);
    if (merge_verdicts(ds) != 0 || memo_after(ds, &slot->jb) != 0)
        return -1;
    recheck_batch(ds);
    if (run->part && part_batch(ds) != 0)
        return -1;
    refsets_collect(ds);
    freshness_batch(ds);
    struct compare_rows rows = {ds->names, batch->ncols, ds->view, batch->nrows, batch->row_no,
                                ds_compare_key, ds};
    if (compare_feed(run->compares, ds->d->name, &rows, run->err) != 0)
        return -1;
    ds->rows += (int64_t)batch->nrows;
    progress(ds, false);
    return 0;
}

/* Joins the workers on slot's batch, if any (judge_finish), with slot the
 * current batch: what unique's offers on the workers read. */
static void finish_judging(struct ds_ctx *ds, struct ds_batch *slot)
{
    if (!slot)
        return;
    ds_select(ds, slot);
    judge_finish(ds->run->pool);
}

/* Joins the workers on slot's batch and merges it; nothing when slot is
 * NULL. Returns 0 or -1 with run->err. */
static int finish_and_merge(struct ds_ctx *ds, struct ds_batch *slot)
{
    if (!slot)
        return 0;
    finish_judging(ds, slot);
    return merge_batch(ds, slot);
}

/* The batch loop. With more than one worker (and the source read ahead by
 * prefetch.c, which keeps two batches valid, and its columns known from the
 * start), it is a pipeline: while the workers judge batch k (judge_start),
 * the run's thread reads and prepares batch k+1, then joins k's judging
 * (judge_finish: unique's offers on k start only then, with k current; its
 * record refs and findings are made as its blocks are judged, through k's
 * own copy of ds), hands k+1 to the workers and does k's serial part
 * (merge_batch) while they judge it. Every serial step still sees the batches in order,
 * each batch's serial part before the next one's and before the next one's
 * malformed rows: the same findings, counts and stores as judging and
 * merging each batch in turn, which the loop does with one worker. */
int ds_read(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    ds->jd = (struct judge_dataset){
        .dataset = (size_t)(ds->d - run->p->datasets),
        .colmap = ds->colmap,
        .ncleanse = ds->ncleanse,
        .cleanse_cols = ds->cleanse_cols,
        .nrules = ds->nrules,
        .rules = ds->rule_index,
        .rule_cols = ds->rule_cols,
        .refsets = ds->refsets,
        .defer_refs = run->part != NULL,
        .checked = ds->checked,
        .errors = ds->errors,
        .changed = ds->changed,
        .row_refs = recheck_wanted(ds) ? recheck_rows_ref : NULL,
        .row_ref_ctx = ds,
        .nsensitive = ds->d->nsensitive,
        .sensitive_cols = ds->sens_cols,
        .nkeys = ds->d->nkeys,
        .key_cols = ds->key_cols,
    };
    ds_encode_begin(ds);
    whole_begin(ds);
    memo_begin(ds);
    bool pipe = false;
    if (run->pool && judge_pool_size(run->pool) > 1)
        /* the next batch parsed while this one is judged and merged */
        pipe = ds_prefetch(ds) && !(ds->ad->flags & QLOOP_ADAPTER_OPEN_COLUMNS);
    judge_begin_dataset(run->pool, &ds->jd);
    ds->judging = true;
    /* started on the workers (judge_start), not finished nor merged yet */
    struct ds_batch *judging = NULL;
    for (;;) {
        struct qloop_batch batch;
        int got = ds->ad->next_batch(ds->src, &batch, run->err);
        if (got <= 0) {
            if (got < 0)
                return finish_judging(ds, judging), -1;
            break;
        }
        struct ds_batch *slot = judging == &ds->slots[0] ? &ds->slots[1] : &ds->slots[0];
        slot->batch = batch;
        ds_select(ds, slot);
        bind_columns(ds);
        if (batch.nbad || batch.nrows == 0 || !pipe) {
            /* every batch before it done first: its malformed rows' findings
             * come after their findings, as they always did */
            if (judging) {
                if (finish_and_merge(ds, judging) != 0)
                    return -1;
                judging = NULL;
                ds_select(ds, slot);
            }
            if (batch.nbad && ds_malformed_rows(ds, &slot->batch) != 0)
                return -1;
            if (batch.nrows == 0)
                continue;
            if (prepare_batch(ds, slot) != 0)
                return -1;
            if (!pipe) {
                judge_run(run->pool, &slot->jb);
                if (merge_batch(ds, slot) != 0)
                    return -1;
                continue;
            }
            judge_start(run->pool, &slot->jb);
            judging = slot;
            continue;
        }
        /* batch k+1 prepared while the workers judge batch k; then the run's
         * thread joins k, starts k+1 and merges k while k+1 is judged */
        if (prepare_batch(ds, slot) != 0)
            return finish_judging(ds, judging), -1;
        struct ds_batch *done = judging;
        if (done)
            finish_judging(ds, done);
        judge_start(run->pool, &slot->jb);
        judging = slot;
        if (done && merge_batch(ds, done) != 0)
            return finish_judging(ds, judging), -1;
    }
    if (finish_and_merge(ds, judging) != 0)
        return -1;
    judge_end_dataset(run->pool);
    ds->judging = false;
    progress(ds, true);
    return memo_end(ds);
}

int ds_whole(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    struct pack_dataset *d = ds->d;
    /* A JSON Lines file names its columns as it goes; once read, a key that
     * never appeared would make every record the same record. */
    for (size_t i = 0; ds->rows > 0 && i < d->nkeys; i++)
        if (ds->key_cols[i] < 0)
            return qloop_error_set(run->err, d->file, d->line, 0,
                                   "数据集 \"%s\" 的键字段 \"%s\" 在数据文件 %s 中一次也没有出现；请核对字段名",
                                   d->name, d->keys[i], ds->path);
    for (size_t i = 0; i < ds->nrules; i++)
        if (ds->rules[i].uniq && ds_unique_finish(ds, &ds->rules[i], NULL, NULL) != 0)
            return -1;
    if (d->bad_rows_finding && ds_malformed_result(ds) != 0)
        return -1;
    for (size_t i = 0; i < ds->nrules; i++) {
        const struct pack_rule *r = ds->rules[i].rule;
        if (ds->errors[i] > 1)
            fprintf(stderr, "qloop: 规则 \"%s\" 共在 %lld 条记录上出错\n", r->id, (long long)ds->errors[i]);
        struct stage_result res = {
            .rule = r->id, .dataset = d->name, .field = r->field, .dimension = r->dimension,
            .severity = r->severity, .message = r->message, .checked = ds->checked[i],
            .failed = ds->rules[i].failed, .errors = ds->errors[i],
            .resolve_missing = r->resolve_missing};
        if (stage_rule_result(run->db, run->run_id, &res, run->summary_rules, run->err) != 0)
            return -1;
    }
    recheck_dataset_seen(ds);
    return freshness_judge(ds);
}

int ds_record(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    struct pack_dataset *d = ds->d;
    char newest[32] = "";
    if (ds->has_update)
        qloop_format_datetime(ds->newest_update, newest);
    json_t *cols = json_array();
    for (size_t i = 0; i < ds->ncols; i++)
        json_array_append_new(cols, json_string(ds->names[i]));
    char *cols_text = json_dumps(cols, JSON_COMPACT);
    json_decref(cols);
    /* The pack's declarations: reports filed later on this dataset are
     * masked by them (loop/ticket_privacy.c). */
    json_t *sens = json_array(), *keys = json_array();
    for (size_t i = 0; i < d->nsensitive; i++)
        json_array_append_new(sens, json_string(d->sensitive[i]));
    for (size_t i = 0; i < d->nkeys; i++)
        json_array_append_new(keys, json_string(d->keys[i]));
    char *sens_text = json_dumps(sens, JSON_COMPACT), *keys_text = json_dumps(keys, JSON_COMPACT);
    json_decref(sens);
    json_decref(keys);
    struct stage_dataset row = {.dataset = d->name, .source = ds->path, .owner = d->owner,
                                .update_cycle = d->update_cycle, .rows = ds->rows,
                                .newest_update = ds->has_update ? newest : NULL,
                                .columns = cols_text, .sensitive = sens_text,
                                .key_fields = keys_text};
    int rc = stage_dataset(run->db, run->run_id, &row, run->err);
    free(cols_text);
    free(sens_text);
    free(keys_text);
    if (rc != 0)
        return -1;
    json_array_append_new(run->summary_datasets,
                          json_pack("{s:s, s:I}", "name", d->name, "rows", (json_int_t)ds->rows));
    for (size_t i = 0; i < ds->ncleanse; i++) {
        const char *field = ds->cleanse[i].c->field;
        json_array_append_new(run->summary_cleansed,
                              json_pack("{s:s, s:s, s:I}", "dataset", d->name, "field", field,
                                        "changed", (json_int_t)ds->changed[i]));
        if (stage_cleanse_count(run->db, run->run_id, d->name, field, ds->changed[i], run->err) != 0)
            return -1;
    }
    return 0;
}

void ds_free(struct ds_ctx *ds)
{
    if (ds->src)
        ds->ad->close(ds->src);
    for (size_t i = 0; i < ds->nrules; i++)
        unique_free(ds->rules[i].uniq);
    free(ds->rules);
    free(ds->cleanse);
    free(ds->key_cols);
    free(ds->sens_cols);
    free(ds->sens_vals);
    free(ds->failed_rows);
    for (int i = 0; i < 2; i++) {
        free(ds->slots[i].view);
        free(ds->slots[i].verdict);
        free(ds->slots[i].reason);
        free(ds->slots[i].refs);
        free(ds->slots[i].key_empty);
        free(ds->slots[i].cb);
    }
    strmap_free(ds->colmap);
    strmap_free(ds->nulls);
    if (ds->judging)
        judge_end_dataset(ds->run->pool);
    free(ds->rule_index);
    free(ds->rule_cols);
    free(ds->cleanse_cols);
    free(ds->refsets);
    free(ds->checked);
    free(ds->errors);
    free(ds->pass_rules);
    for (size_t i = 0; i < ds->nwhole_keys; i++)
        qloop_buf_free(&ds->whole_keys[i]);
    free(ds->whole_keys);
    free(ds->changed);
    ds_encode_free(ds);
    identity_free(ds);
    memo_free(ds);
}

int run_dataset(struct run_ctx *run, struct pack_dataset *d)
{
    struct ds_ctx ds = {.run = run, .d = d, .updated_col = -1};
    int rc = ds_open(&ds);
    if (rc == 0)
        rc = ds_bind(&ds);
    if (rc == 0)
        rc = recheck_begin(&ds);
    if (rc == 0)
        rc = ds_read(&ds);
    if (rc == 0)
        rc = ds_whole(&ds);
    if (rc == 0)
        rc = ds_record(&ds);
    ds_free(&ds);
    return rc;
}
