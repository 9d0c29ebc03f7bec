/*
 * ds_encode.c — a dataset's findings made on the workers (judge.h: fail).
 *
 * On a W1 night most findings are failing verdicts of records with a key,
 * and making each one (record ref, masking, sealing what masking hid, the
 * masked message: findings_encode) on the reading thread, after the batch
 * was judged, kept the workers waiting. So the workers encode the findings
 * of the judged rows (each chunk of rows by whichever worker took it:
 * judge.c), each with an encoder of its own, exactly as emit_row
 * (dataset.c) would have written them, and the merge appends those bytes in
 * rule then row order where it would have written them (ds_encoded): the
 * same findings, in the same order. An unchanged row's finding takes the
 * sealed copy the verdict memo kept from the night before (memo.h) instead
 * of sealing again. A record without a key (its identity is
 * counted on the reading thread after the workers: identity.c) and a
 * partitioned judge (its verdicts go to a shard: part.c) keep the merge's
 * way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run/context.h"
#include "run/findings.h"
#include "run/judge.h"
#include "run/memo.h"

/* What one worker encodes with. */
struct enc_worker {
    struct findings_encoder *enc;
    struct qloop_buf key;
    struct mask_value *values; /* 2 per sensitive field, as ds_row_values */
};

/* Where one batch's findings are: two sets, the batches taking turns, so
 * that a batch's stay while the workers encode the next one's (judge.h:
 * judge_start). */
struct enc_set {
    struct qloop_buf *out; /* per worker: its rows' findings of the batch */
    uint32_t *at, *len;    /* nrules * nrows: where each failing verdict's finding is */
    uint8_t *by;           /* and which worker made it */
    size_t cap;
};

struct ds_encode {
    size_t nworkers;
    struct enc_worker *w;
    uint32_t *kinds;       /* the findings kind of each rule of the dataset */
    struct enc_set set[2];
    unsigned turn;         /* the set the last batch got */
};

/* judge.h's fail: row's finding for rule `rule`, as emit_row makes it. */
static bool encode_fail(void *ctx, size_t worker, size_t rule, size_t row, const char *reason,
                        struct qloop_buf *out)
{
    struct ds_ctx *ds = ctx;
    if (identity_keyless(ds, row))
        return false;
    struct ds_encode *e = ds->encode;
    struct enc_worker *ew = &e->w[worker];
    const struct rule_state *rs = &ds->rules[rule];
    ds_key_fields(ds, row, &ew->key); /* ds_row_key of a record with a key */
    const struct qloop_field *f = rs->rule->field ? ds_cell(ds, row, rs->col) : NULL;
    const struct pack_rule *r = rs->rule;
    struct qloop_finding fd = {.dataset = ds->d->name, .rule = r->id,
                               .row_no = ds->batch->row_no[row], .key = ew->key.ptr,
                               .keylen = ew->key.len, .field = r->field,
                               .value = f && !f->null ? f->ptr : NULL, .vlen = f ? f->len : 0};
    if (!fd.key)
        fd.key = "";
    struct finding_extra x = {.rule_message = r->message, .message_default = r->message_default,
                              .reason = reason, .values = ew->values,
                              .nvalues = reason ? ds_row_values_into(ds, row, ew->values) : 0};
    struct finding_shown shown;
    findings_show(ew->enc, &fd, &x, &shown);
    char ref[33];
    if (recheck_row_ref(ds, row, ref)) /* made for the re-check on this worker: not again */
        shown.ref = ref;
    /* an unchanged row (its memo entry still there: judge.c drops a changed
     * row's) keeps last night's sealed copy of this finding: the same bytes
     * sealing would make (memo.h) */
    const struct judge_memo *jm = ds->jb ? ds->jb->memo : NULL;
    if (jm && jm->old[row])
        shown.sealed = memo_entry_sealed(jm->old[row], jm->nslots, (uint32_t)rule, &shown.sealed_len);
    findings_encode_shown(ew->enc, e->kinds[rule], &fd, &shown, out);
    return true;
}

void ds_encode_begin(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    if (run->part || !run->findings || !run->pool || ds->d->nkeys == 0)
        return;
    size_t n = judge_pool_size(run->pool);
    if (n > UINT8_MAX)
        return;
    struct ds_encode *e = qloop_xcalloc(1, sizeof *e);
    e->nworkers = n;
    e->w = qloop_xcalloc(n, sizeof *e->w);
    e->set[0].out = qloop_xcalloc(n, sizeof *e->set[0].out);
    e->set[1].out = qloop_xcalloc(n, sizeof *e->set[1].out);
    for (size_t i = 0; i < n; i++) {
        e->w[i].enc = findings_encoder_new(run->findings);
        e->w[i].values = qloop_xcalloc(2 * ds->d->nsensitive + 1, sizeof *e->w[i].values);
    }
    e->kinds = qloop_xcalloc(ds->nrules + 1, sizeof *e->kinds);
    for (size_t i = 0; i < ds->nrules; i++)
        e->kinds[i] = findings_kind(run->findings, ds->d->name, ds->rules[i].rule->id,
                                    ds->rules[i].rule->field);
    ds->encode = e;
    ds->jd.fail = encode_fail;
    ds->jd.fail_ctx = ds;
}

void ds_encode_batch(struct ds_ctx *ds, struct judge_batch *jb)
{
    struct ds_encode *e = ds->encode;
    if (!e)
        return;
    struct enc_set *set = &e->set[e->turn ^= 1];
    size_t need = ds->nrules * jb->batch->nrows;
    if (need > set->cap) {
        set->at = qloop_xrealloc(set->at, need * sizeof *set->at);
        set->len = qloop_xrealloc(set->len, need * sizeof *set->len);
        set->by = qloop_xrealloc(set->by, need);
        set->cap = need;
    }
    jb->enc = set->out;
    jb->enc_at = set->at;
    jb->enc_len = set->len;
    jb->enc_by = set->by;
}

bool ds_encoded(const struct ds_ctx *ds, size_t rule, size_t row, const char **p, size_t *n)
{
    const struct judge_batch *jb = ds->jb; /* the batch being merged */
    if (!ds->encode || !jb || !jb->enc)
        return false;
    size_t k = rule * ds->batch->nrows + row;
    if (jb->enc_len[k] == UINT32_MAX)
        return false;
    *p = jb->enc[jb->enc_by[k]].ptr + jb->enc_at[k];
    *n = jb->enc_len[k];
    return true;
}

void ds_encode_free(struct ds_ctx *ds)
{
    struct ds_encode *e = ds->encode;
    if (!e)
        return;
    for (size_t i = 0; i < e->nworkers; i++) {
        findings_encoder_free(e->w[i].enc);
        qloop_buf_free(&e->w[i].key);
        free(e->w[i].values);
    }
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < e->nworkers; i++)
            qloop_buf_free(&e->set[t].out[i]);
        free(e->set[t].out);
        free(e->set[t].at);
        free(e->set[t].len);
        free(e->set[t].by);
    }
    free(e->w);
    free(e->kinds);
    free(e);
    ds->encode = NULL;
}
