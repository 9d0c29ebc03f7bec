/*
 * part.c — `qloop judge`: one part of one dataset into a shard (see
 * partition.h and shard.h).
 *
 * The part is read by the run's own phases (dataset.c): open, bind, the
 * batch loop with the same workers, cleansing and checks. Set on the run
 * (run->part), the loop hands this file what a run would have kept to itself:
 *   part_verdict  each failing (rule, record) — a `v` entry;
 *   part_pending  a value whose `references` to another dataset pends — `p`;
 *   part_batch    every record's key, for the merge's re-check — `s`;
 * and the compares hand over their records (compare_set_sink) — `c`. After
 * the last batch, unique's states (`u`), the values this dataset offers to
 * other datasets' references (`r`), the contents of its records without a
 * key (`k`: the merge names those records by them) and the counts close the
 * shard.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "checks/division.h"
#include "run/compare.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/partition.h"
#include "run/shard.h"

struct part_out {
    struct shard_writer *w;
    const struct pack_dataset *d;
    struct qloop_error *err;
    struct qloop_buf key, masked;
    struct findings_encoder *enc; /* findings_show's */
    size_t *offers; /* run->refsets indices of the fields this dataset offers */
    size_t noffers;
};

int part_parse(const char *s, unsigned long *i, unsigned long *n)
{
    char *end;
    if (!s || *s < '1' || *s > '9')
        return -1;
    *i = strtoul(s, &end, 10);
    if (*end != '/' || end[1] < '1' || end[1] > '9')
        return -1;
    *n = strtoul(end + 1, &end, 10);
    return *end || *i > *n ? -1 : 0;
}

/* The index of rule rs among its dataset's rules; nrules for the rule that
 * is none of them, DATASET.malformed_row (source.c). */
static uint64_t rule_index(const struct ds_ctx *ds, const struct rule_state *rs)
{
    for (size_t i = 0; i < ds->nrules; i++)
        if (rs == &ds->rules[i])
            return i;
    return ds->nrules;
}

int part_verdict(struct ds_ctx *ds, struct rule_state *rs, const struct qloop_finding *f,
                 const struct finding_extra *x)
{
    struct part_out *po = ds->run->part;
    uint64_t rule = rule_index(ds, rs);
    struct qloop_buf *b = shard_entry(po->w, SHARD_V);
    shard_put_uint(b, rule);
    shard_put_uint(b, f->row_no);
    if (rule == ds->nrules) { /* a malformed row, named by its row in the merge */
        shard_put_bytes(b, "", 0);
        shard_put_opt(b, x->reason, x->reason ? strlen(x->reason) : 0);
        return shard_entry_done(po->w, SHARD_V, po->err);
    }
    /* Shown here, as the run's writer would show it: only the record_ref
     * and the seal, which need the store's secret, are left to the merge.
     * The raw key and value go along for those (as in every shard). */
    struct finding_shown s;
    findings_show(po->enc, f, x, &s);
    shard_put_bytes(b, f->key, f->keylen);
    /* the value judged is often the key itself (a rule on the key field) */
    bool is_key = f->value && f->vlen == f->keylen && f->keylen > 0 && f->key[0] != '\0' &&
                  memcmp(f->value, f->key, f->vlen) == 0 && s.value_masked == s.key_masked;
    bool value_masked = s.value_masked && f->value;
    /* most messages frame a reason with the rule's: "MESSAGE：" + reason */
    const char *rm = rs->rule->message;
    size_t rmlen = rm && !s.rule_message ? strlen(rm) : 0, sep = strlen("：");
    bool framed = rmlen && s.message && s.mlen > rmlen + sep &&
                  memcmp(s.message, rm, rmlen) == 0 && memcmp(s.message + rmlen, "：", sep) == 0;
    shard_put_byte(b, (uint8_t)(s.key_masked | value_masked << 1 | s.rule_message << 2 |
                                is_key << 3 | framed << 4));
    if (!is_key)
        shard_put_opt(b, f->value, f->vlen);
    if (s.key_masked)
        shard_put_bytes(b, s.key, s.keylen);
    if (value_masked && !is_key)
        shard_put_bytes(b, s.value, s.vlen);
    if (framed)
        shard_put_bytes(b, s.message + rmlen + sep, s.mlen - rmlen - sep);
    else if (!s.rule_message)
        shard_put_opt(b, s.message, s.mlen);
    return shard_entry_done(po->w, SHARD_V, po->err);
}

int part_pending(struct ds_ctx *ds, struct rule_state *rs, size_t row, uint8_t verdict,
                 const char *reason)
{
    struct part_out *po = ds->run->part;
    ds_row_key(ds, row, &po->key);
    const struct qloop_field *f = ds_cell(ds, row, rs->col);
    struct qloop_buf *b = shard_entry(po->w, SHARD_P);
    shard_put_uint(b, rule_index(ds, rs));
    shard_put_uint(b, ds->batch->row_no[row]);
    shard_put_bytes(b, po->key.ptr, po->key.len);
    shard_put_bytes(b, f->ptr, f->len);
    uint8_t outcome = verdict == JUDGE_PENDING ? 0 : verdict == JUDGE_PENDING_FAIL ? 1 : 2;
    shard_put_byte(b, outcome);
    if (outcome)
        shard_put_bytes(b, reason ? reason : "", reason ? strlen(reason) : 0);
    return shard_entry_done(po->w, SHARD_P, po->err);
}

int part_batch(struct ds_ctx *ds)
{
    struct part_out *po = ds->run->part;
    if (ds->d->nkeys == 0) /* its records are its contents' occurrences: the k lines */
        return 0;
    for (size_t row = 0; row < ds->batch->nrows; row++) {
        ds_row_key(ds, row, &po->key);
        qloop_buf_reset(&po->masked);
        findings_mask_key(po->key.ptr, po->key.len, &po->masked);
        uint64_t hi, lo;
        strmap_fingerprint(po->masked.ptr, po->masked.len, &hi, &lo);
        struct qloop_buf *b = shard_entry(po->w, SHARD_S);
        shard_put_bytes(b, po->key.ptr, po->key.len);
        shard_put_u64(b, hi);
        if (shard_entry_done(po->w, SHARD_S, po->err) != 0)
            return -1;
    }
    return 0;
}

/* compare_sink_fn: a compared record of this part. */
static int put_compare(void *ctx, size_t cmp, int side, const struct compare_record *r,
                       struct qloop_error *err)
{
    struct part_out *po = ctx;
    struct qloop_buf *b = shard_entry(po->w, SHARD_C);
    shard_put_uint(b, cmp);
    shard_put_byte(b, (uint8_t)side);
    shard_put_uint(b, r->row_no);
    shard_put_byte(b, (uint8_t)(r->empty_key | r->own_key << 1));
    shard_put_u64(b, r->fp_hi);
    shard_put_u64(b, r->fp_lo);
    for (size_t i = 0; i < r->nstr; i++)
        shard_put_bytes(b, r->str[i], r->len[i]);
    return shard_entry_done(po->w, SHARD_C, err);
}

/* ---- after the last batch ---- */

/* A unique rule's states, collected to leave sorted by their value's
 * fingerprint (shard.h: the merge merges the parts' sorted runs). Past
 * max_bytes the states so far leave as one run and the next run begins. */
struct state_ctx {
    struct part_out *po;
    uint64_t rule;
    struct qloop_buf bytes; /* the entries, as the shard holds them */
    struct state_at {
        uint64_t hi, lo;
        size_t at, len;
    } *at;
    size_t n, cap, max_bytes;
};

static int by_fingerprint(const void *a, const void *b)
{
    const struct state_at *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Writes the states collected, sorted, and forgets them. */
static int put_states(struct state_ctx *s)
{
    if (s->n > 1)
        qsort(s->at, s->n, sizeof *s->at, by_fingerprint);
    int rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        struct qloop_buf *b = shard_entry(s->po->w, SHARD_U);
        qloop_buf_append(b, s->bytes.ptr + s->at[i].at, s->at[i].len);
        rc = shard_entry_done(s->po->w, SHARD_U, s->po->err);
    }
    s->n = 0;
    qloop_buf_reset(&s->bytes);
    return rc;
}

/* unique_state_fn: one distinct value of a unique rule. */
static int put_state(void *ctx, const char *value, size_t vlen, uint64_t count, uint64_t row_no,
                     const char *key, size_t keylen)
{
    struct state_ctx *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->at = qloop_xrealloc(s->at, s->cap * sizeof *s->at);
    }
    struct state_at *a = &s->at[s->n++];
    strmap_fingerprint(value, vlen, &a->hi, &a->lo);
    struct qloop_buf *b = &s->bytes;
    a->at = b->len;
    shard_put_uint(b, s->rule);
    shard_put_uint(b, count);
    shard_put_bytes(b, value, vlen);
    if (count == 1) { /* the key: its length + 1, or 0 when it is the value (a unique key) */
        shard_put_uint(b, row_no);
        bool same = keylen == vlen && (vlen == 0 || memcmp(key, value, vlen) == 0);
        shard_put_uint(b, same ? 0 : keylen + 1);
        if (!same)
            qloop_buf_append(b, key, keylen);
    }
    a->len = b->len - a->at;
    return b->len + s->n * sizeof *s->at >= s->max_bytes ? put_states(s) : 0;
}

struct offer_ctx {
    struct part_out *po;
    uint64_t index;
};

/* strmap_foreach: one distinct value of an offered field. */
static int put_offer(void *ctx, const char *value, size_t len, uint64_t unused)
{
    (void)unused;
    struct offer_ctx *o = ctx;
    uint64_t hi, lo;
    strmap_fingerprint(value, len, &hi, &lo);
    struct qloop_buf *b = shard_entry(o->po->w, SHARD_R);
    shard_put_uint(b, o->index);
    shard_put_u64(b, hi);
    shard_put_u64(b, lo);
    return shard_entry_done(o->po->w, SHARD_R, o->po->err);
}

/* One content of the part's records without a key (ds->keyless). */
struct content {
    uint8_t fp[16];
    uint64_t count;
};

static int note_content(void *ctx, const char *fp, size_t len, uint64_t count)
{
    struct content **next = ctx;
    memcpy((*next)->fp, fp, len < 16 ? len : 16);
    (*next)++->count = count;
    return 0;
}

static int by_fp(const void *a, const void *b)
{
    return memcmp(((const struct content *)a)->fp, ((const struct content *)b)->fp, 16);
}

/* The k lines, after every other block: each content's count in the part,
 * sorted by fingerprint (never in the map's slot order: the merge puts them
 * into a map of its own). */
static int part_contents(struct ds_ctx *ds)
{
    struct part_out *po = ds->run->part;
    size_t n = ds->keyless ? strmap_count(ds->keyless) : 0;
    if (n == 0)
        return 0;
    if (shard_writer_flush(po->w, po->err) != 0)
        return -1;
    struct content *c = qloop_xcalloc(n, sizeof *c), *next = c;
    strmap_foreach(ds->keyless, note_content, &next);
    qsort(c, n, sizeof *c, by_fp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct qloop_buf *b = shard_entry(po->w, SHARD_K);
        qloop_buf_append(b, (const char *)c[i].fp, 16);
        shard_put_uint(b, c[i].count);
        rc = shard_entry_done(po->w, SHARD_K, po->err);
    }
    free(c);
    return rc;
}

/* Unique's deferred reports and states, then the offered values. */
static int part_states(struct ds_ctx *ds)
{
    struct part_out *po = ds->run->part;
    size_t budget = ds->run->o->memory_budget ? ds->run->o->memory_budget : (size_t)1 << 30;
    for (size_t i = 0; i < ds->nrules; i++) {
        if (!ds->rules[i].uniq)
            continue;
        struct state_ctx s = {.po = po, .rule = i, .max_bytes = budget / 4};
        int rc = ds_unique_finish(ds, &ds->rules[i], put_state, &s);
        if (rc == 0)
            rc = put_states(&s);
        qloop_buf_free(&s.bytes);
        free(s.at);
        if (rc != 0)
            return -1;
    }
    for (size_t i = 0; i < po->noffers; i++) {
        struct offer_ctx o = {po, i};
        if (strmap_foreach(ds->run->refsets[po->offers[i]].values, put_offer, &o) != 0)
            return -1;
    }
    return 0;
}

/* The counts line (see shard.h). */
static int part_counts(struct ds_ctx *ds)
{
    json_t *cols = json_array(), *rules = json_array(), *cleansed = json_array();
    for (size_t i = 0; i < ds->ncols; i++)
        json_array_append_new(cols, json_string(ds->names[i]));
    for (size_t i = 0; i < ds->nrules; i++)
        json_array_append_new(rules, json_pack("[I, I]", (json_int_t)ds->checked[i],
                                               (json_int_t)ds->errors[i]));
    for (size_t i = 0; i < ds->ncleanse; i++)
        json_array_append_new(cleansed, json_integer((json_int_t)ds->changed[i]));
    json_t *o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "t", "counts", "rows",
                          (json_int_t)ds->rows, "bad_rows", (json_int_t)ds->bad_rows, "columns",
                          cols, "rules", rules, "cleansed", cleansed, "newest_update",
                          ds->has_update ? json_integer((json_int_t)ds->newest_update) : json_null());
    int rc = shard_write_json(ds->run->part->w, o, ds->run->err);
    json_decref(o);
    return rc;
}

/* ---- the judge ---- */

/* The header line (see shard.h). */
static int part_header(struct run_ctx *run, const struct part_options *o, struct part_out *po)
{
    char pack_fp[65], div_fp[65], part[64];
    shard_pack_fingerprint(run->p, pack_fp);
    division_digest(div_fp);
    snprintf(part, sizeof part, "%lu/%lu", o->part, o->nparts);
    json_t *offers = json_array();
    for (size_t i = 0; i < po->noffers; i++)
        json_array_append_new(offers, json_string(run->refsets[po->offers[i]].field));
    json_t *h = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "qloop_shard", SHARD_FORMAT,
                          "qloop", o->version ? o->version : "", "dataset", o->dataset, "part",
                          part, "pack", pack_fp, "divisions", div_fp, "offers", offers);
    int rc = shard_write_json(po->w, h, run->err);
    json_decref(h);
    return rc;
}

/* Reads the part through the run's phases into the shard. */
static int judge_dataset(struct run_ctx *run, struct pack_dataset *d,
                         const struct part_options *o)
{
    struct ds_ctx ds = {.run = run, .d = d, .updated_col = -1, .given_names = o->names,
                        .ngiven_names = o->nnames};
    /* a part file named by the engine (part-00003) reads as the dataset's
     * source does; a part given its column names is CSV */
    if (o->input && !o->find_adapter(o->input, d->format)) {
        if (d->source)
            ds.given_ad = o->find_adapter(d->source, d->format);
        if (!ds.given_ad && o->names)
            ds.given_ad = o->find_adapter(o->input, "csv");
    }
    uint64_t rows;
    int rc = part_source_open(&ds, o, &rows);
    if (rc == 0)
        rc = ds_bind(&ds);
    if (rc == 0) {
        part_source_wrap(&ds, o, rows);
        /* no open_refs here (no store): the merge does the re-check */
        rc = ds_read(&ds);
    }
    if (rc == 0)
        rc = part_states(&ds);
    if (rc == 0)
        rc = part_contents(&ds);
    if (rc == 0)
        rc = shard_writer_flush(run->part->w, run->err);
    if (rc == 0)
        rc = part_counts(&ds);
    ds_free(&ds);
    return rc;
}

int part_judge(struct pack *p, const struct part_options *o, struct qloop_error *err)
{
    struct pack_dataset *d = pack_find_dataset(p, o->dataset);
    if (!d)
        return qloop_error_set(err, NULL, 0, 0, "--dataset %s：规则中没有声明这个数据集", o->dataset);
    struct run_data_override input = {.name = o->dataset, .path = o->input};
    struct run_options ro = {.data = &input, .ndata = o->input ? 1 : 0,
                             .memory_budget = o->memory_budget, .jobs = o->jobs,
                             .progress = o->progress, .find_adapter = o->find_adapter};
    if (!run_source_path(&(struct run_ctx){.o = &ro}, d))
        return qloop_error_set(err, d->file, d->line, 0,
                               "数据集 \"%s\" 没有数据来源；请用 --input 文件（或 - 表示标准输入）给出这一部分的数据",
                               d->name);
    struct run_ctx run;
    run_init(&run, NULL, p, &ro, err);
    struct part_out po = {.d = d, .err = err, .enc = findings_encoder_show(p)};
    size_t *order = qloop_xcalloc(p->ndatasets + 1, sizeof *order);
    int rc = run_setup(&run, order, true);
    if (rc == 0) {
        refsets_setup(&run);
        po.offers = qloop_xcalloc(run.nrefsets + 1, sizeof *po.offers);
        for (size_t i = 0; i < run.nrefsets; i++)
            if (strcmp(run.refsets[i].dataset, d->name) == 0)
                po.offers[po.noffers++] = i;
        if (run.compares)
            compare_set_sink(run.compares, put_compare, &po);
        po.w = shard_writer_open(o->out, err);
        rc = po.w ? 0 : -1;
    }
    run.part = &po;
    if (rc == 0)
        rc = part_header(&run, o, &po);
    if (rc == 0)
        rc = judge_dataset(&run, d, o);
    if (rc == 0)
        rc = shard_writer_end(po.w, err);
    shard_writer_free(po.w);
    free(po.offers);
    qloop_buf_free(&po.key);
    qloop_buf_free(&po.masked);
    findings_encoder_free(po.enc);
    run_release(&run);
    free(order);
    return rc;
}
