/*
 * merge_part.c — the parts of one dataset into the merge (see merge.h): each
 * part's shard read once, in part order, its entries (shard.h) handed to the
 * run's own phases:
 *   v  a failing record, shown   → ds_emit_shown (the findings writer: the
 *                                  record_ref and the seal)
 *   u  a unique value's state    → the rule's unique set (ds_unique_offer /
 *                                  ds_unique_group): a value held elsewhere
 *                                  too makes its records fail
 *   p  a pending reference       → looked up among the referenced dataset's
 *                                  values (read earlier: the run's order);
 *                                  then what the rule's other checks said
 *   r  an offered value          → the values other datasets reference
 *   c  a compared record         → the compare, as if fed (compare_add_record)
 *   s  a record's key            → the re-check of open tickets, for rows
 *                                  whose key (as shown) an open item names
 *   counts                       → rows, columns, checked/errors, cleansing
 *                                  counts, the newest update
 * Anything that does not fit the pack — an index out of range, a row past
 * the part's rows, an entry that does not decode — is an input error naming
 * the shard and its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "base/strmap.h"
#include "loop/ticket.h"
#include "rules/forms.h"
#include "run/compare.h"
#include "run/findings.h"
#include "run/merge.h"

/* ---- set-up ---- */

/* The run->refsets entry of (dataset, field), or -1. */
static long refset_index(const struct run_ctx *run, const char *dataset, const char *field)
{
    for (size_t j = 0; j < run->nrefsets; j++)
        if (strcmp(run->refsets[j].dataset, dataset) == 0 &&
            strcmp(run->refsets[j].field, field) == 0)
            return (long)j;
    return -1;
}

/* ticket_open_keys' callback: an open item's key, as the item shows it. */
static void add_open_key(void *ctx, const char *ref, const char *record_key)
{
    (void)ref;
    struct merge_ds *md = ctx;
    if (!record_key)
        return;
    uint64_t hi, lo;
    strmap_fingerprint(record_key, strlen(record_key), &hi, &lo);
    strmap_put(md->seen_hashes, (const char *)&hi, sizeof hi, NULL);
}

/* Offsets, the offered fields, each rule's referenced set, the re-check's
 * filter. Returns 0 or -1 with err. */
static int setup(struct merge_ds *md)
{
    struct run_ctx *run = md->m->run;
    struct ds_ctx *ds = &md->ds;
    md->offsets = qloop_xcalloc(md->nparts + 1, sizeof *md->offsets);
    for (size_t i = 1; i <= md->nparts; i++)
        md->offsets[i] = UINT64_MAX;
    json_t *offers = json_object_get(md->in[0].header, "offers");
    md->noffers = json_array_size(offers);
    md->offer_ref = qloop_xcalloc(md->noffers + 1, sizeof *md->offer_ref);
    for (size_t i = 0; i < md->noffers; i++) {
        const char *field = json_string_value(json_array_get(offers, i));
        md->offer_ref[i] = field ? refset_index(run, ds->d->name, field) : -1;
        if (md->offer_ref[i] < 0)
            return qloop_error_set(run->err, md->in[0].path, 1, 0,
                                   "分片有误：分片头的 offers 与规则不符");
    }
    md->contents = strmap_new();
    md->need_ref = qloop_xcalloc(ds->nrules + 1, sizeof *md->need_ref);
    md->error_noted = qloop_xcalloc(ds->nrules + 1, sizeof *md->error_noted);
    for (size_t i = 0; i < ds->nrules; i++) {
        const char *field, *needs = forms_needs(ds->rules[i].rule, &field);
        md->need_ref[i] = needs ? refset_index(run, needs, field) : -1;
    }
    for (size_t i = 0; i < ds->nrules; i++)
        if (ds->rules[i].uniq && !md->uniq)
            md->uniq = merge_unique_new(ds->nrules, run->o->memory_budget);
    if (!recheck_wanted(ds))
        return 0;
    md->seen_hashes = strmap_new();
    return ticket_open_keys(run->db, ds->d->name, add_open_key, md, run->err);
}

void merge_ds_free(struct merge_ds *md)
{
    free(md->offsets);
    for (size_t i = 0; i < md->ncols; i++)
        free(md->cols[i]);
    free(md->cols);
    free(md->offer_ref);
    free(md->need_ref);
    free(md->error_noted);
    strmap_free(md->seen_hashes);
    strmap_free(md->contents);
    merge_unique_free(md->uniq);
    qloop_buf_free(&md->key);
    qloop_buf_free(&md->text);
}

/* ---- entries ---- */

/* What reading one part needs besides md. */
struct part_read {
    struct merge_ds *md;
    struct shard_reader *r;
    uint64_t offset;  /* rows before this part */
    uint64_t max_row; /* the highest row an entry named */
    bool contents_read; /* the k lines have begun */
    size_t nstr_cap;
    const char **str;
    size_t *len;
};

/* Parses the decimal digits of s[*i..len) into *v: up to a NUL byte, or
 * with to_end up to len. */
static bool digits(const char *s, size_t len, size_t *i, bool to_end, uint64_t *v)
{
    size_t from = *i;
    *v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - from < 19)
        *v = *v * 10 + (uint64_t)(s[(*i)++] - '0');
    return *i > from && (to_end ? *i == len : *i < len && s[*i] == '\0');
}

/* A record's raw key as the whole run names it. A record without a key
 * (identity.c) came named within its part — "\0K" FP "#" OCCURRENCE "\0#"
 * ROW — and is renamed: its occurrence after the records of its content in
 * the parts before, its row after their rows. Any other key is as it came.
 * Returns false when an identity does not parse. */
static bool record_key(struct part_read *pr, const char *key, size_t keylen, const char **out,
                       size_t *outlen)
{
    struct merge_ds *md = pr->md;
    *out = key;
    *outlen = keylen;
    if (keylen < 2 || key[0] != '\0' || key[1] != 'K')
        return true;
    size_t i = 2 + 32;
    uint64_t occurrence, row;
    uint8_t fp[16];
    static const char hex[] = "0123456789abcdef";
    if (keylen < i + 1 || key[i++] != '#')
        return false;
    for (size_t k = 0; k < 32; k++) {
        const char *d = key[2 + k] ? memchr(hex, key[2 + k], 16) : NULL;
        if (!d)
            return false;
        unsigned nibble = (unsigned)(d - hex);
        fp[k / 2] = (uint8_t)(k % 2 ? fp[k / 2] | nibble : nibble << 4);
    }
    if (!digits(key, keylen, &i, false, &occurrence) || ++i >= keylen || key[i++] != '#' ||
        !digits(key, keylen, &i, true, &row) || occurrence == 0 || row == 0)
        return false;
    const uint64_t *before = strmap_get(md->contents, (const char *)fp, sizeof fp);
    struct qloop_buf *b = &md->key;
    qloop_buf_reset(b);
    qloop_buf_append(b, key, 2 + 32 + 1);
    findings_append_uint(b, occurrence + (before ? *before : 0));
    qloop_buf_putc(b, '\0');
    findings_row_key(b, pr->offset + row);
    *out = b->ptr;
    *outlen = b->len;
    return true;
}

/* A NUL-terminated copy of s[0..len) (NULL stays NULL), in md->text. */
static const char *text_copy(struct merge_ds *md, const char *s, size_t len)
{
    if (!s)
        return NULL;
    qloop_buf_reset(&md->text);
    qloop_buf_append(&md->text, s, len);
    return qloop_buf_str(&md->text);
}

/* The global row of a part's row; 0 when row is not a row. */
static uint64_t global_row(struct part_read *pr, uint64_t row)
{
    if (row == 0)
        return 0;
    if (row > pr->max_row)
        pr->max_row = row;
    return pr->offset + row;
}

static int bad_entry(struct part_read *pr, const char *what)
{
    return shard_error(pr->r, pr->md->m->run->err, "%s条目无法解读（内容被改动或损坏）", what);
}

static int entry_v(struct part_read *pr, struct shard_cursor *c)
{
    struct ds_ctx *ds = &pr->md->ds;
    uint64_t rule = shard_get_uint(c), row = global_row(pr, shard_get_uint(c));
    size_t klen, vlen;
    const char *key = shard_get_bytes(c, &klen);
    if (c->bad || rule > ds->nrules || row == 0)
        return bad_entry(pr, "问题记录");
    if (rule == ds->nrules) { /* DATASET.malformed_row, named by its row */
        size_t rlen;
        const char *reason = shard_get_opt(c, &rlen);
        if (c->bad)
            return bad_entry(pr, "问题记录");
        return ds_malformed_row(ds, row, text_copy(pr->md, reason, rlen));
    }
    /* shown by the judge (findings_show): the record_ref and the seal are the merge's */
    uint8_t flags = shard_get_byte(c);
    bool is_key = flags & 8; /* the value is the key, shown alike */
    const char *value = is_key ? key : shard_get_opt(c, &vlen);
    if (is_key)
        vlen = klen;
    struct finding_shown s = {.key_masked = flags & 1, .value_masked = flags & 2};
    if (s.key_masked)
        s.key = shard_get_bytes(c, &s.keylen);
    if (s.value_masked) {
        s.value = is_key ? s.key : shard_get_bytes(c, &s.vlen);
        if (is_key)
            s.vlen = s.keylen;
    }
    const char *rm = ds->rules[rule].rule->message; /* the pack fingerprint pins it */
    if (flags & 4) { /* the rule's own message */
        s.message = rm;
        s.mlen = rm ? strlen(rm) : 0;
    } else if (flags & 16) { /* the rule's message framing what follows */
        size_t tail;
        const char *t = shard_get_bytes(c, &tail);
        struct qloop_buf *m = &pr->md->text;
        qloop_buf_reset(m);
        qloop_buf_append(m, rm ? rm : "", rm ? strlen(rm) : 0);
        qloop_buf_append(m, "：", strlen("："));
        qloop_buf_append(m, t, tail);
        s.message = m->ptr;
        s.mlen = m->len;
    } else {
        s.message = shard_get_opt(c, &s.mlen);
    }
    if (c->bad || flags > 31 || (flags & 20) == 20 || ((flags & 16) && !rm) || (s.value_masked && !value) || (is_key && s.value_masked != s.key_masked) ||
        !record_key(pr, key, klen, &key, &klen))
        return bad_entry(pr, "问题记录");
    return ds_emit_shown(ds, &ds->rules[rule], row, key, klen, value, vlen, &s);
}

static int entry_u(struct part_read *pr, struct shard_cursor *c)
{
    struct ds_ctx *ds = &pr->md->ds;
    uint64_t rule = shard_get_uint(c), count = shard_get_uint(c);
    size_t vlen, klen = 0;
    const char *value = shard_get_bytes(c, &vlen), *key = NULL;
    uint64_t row = 0;
    if (count == 1) {
        row = global_row(pr, shard_get_uint(c));
        uint64_t n = shard_get_uint(c); /* 0: the key is the value; else its length + 1 */
        if (n == 0) {
            key = value;
            klen = vlen;
        } else if (n - 1 > (uint64_t)(c->end - c->p)) {
            c->bad = true;
        } else {
            key = (const char *)c->p;
            klen = (size_t)(n - 1);
            c->p += klen;
        }
    }
    /* (a rule that pends on another dataset has no states: its values come as p entries) */
    if (c->bad || rule >= ds->nrules || !ds->rules[rule].uniq || pr->md->need_ref[rule] >= 0 ||
        count == 0 || (count == 1 && row == 0))
        return bad_entry(pr, "唯一性状态");
    if (count == 1 && !record_key(pr, key, klen, &key, &klen))
        return bad_entry(pr, "唯一性状态");
    /* a value the part holds twice or more: its records follow the rows before the part */
    return merge_unique_state(pr->md->uniq, (size_t)rule, value, vlen, count,
                              count == 1 ? row : pr->offset, key, klen, pr->md->m->run->err);
}

static int entry_p(struct part_read *pr, struct shard_cursor *c)
{
    struct merge_ds *md = pr->md;
    struct ds_ctx *ds = &md->ds;
    uint64_t rule = shard_get_uint(c), row = global_row(pr, shard_get_uint(c));
    size_t klen, vlen, rlen = 0;
    const char *key = shard_get_bytes(c, &klen), *value = shard_get_bytes(c, &vlen);
    uint8_t outcome = shard_get_byte(c);
    const char *reason = outcome ? shard_get_bytes(c, &rlen) : NULL;
    if (c->bad || rule >= ds->nrules || md->need_ref[rule] < 0 || row == 0 || outcome > 2)
        return bad_entry(pr, "待定引用");
    struct rule_state *rs = &ds->rules[rule];
    if (!record_key(pr, key, klen, &key, &klen))
        return bad_entry(pr, "待定引用");
    uint64_t fp[2];
    strmap_fingerprint(value, vlen, &fp[0], &fp[1]);
    if (!strmap_get(md->m->refvals[md->need_ref[rule]], (const char *)fp, sizeof fp)) {
        if (outcome == 2) /* the check raised, but a run would not have reached it */
            ds->checked[rule]++;
        return ds_emit(ds, rs, row, key, klen, value, vlen, FORMS_REFERENCE_MISSING, 0);
    }
    if (outcome == 1)
        return ds_emit(ds, rs, row, key, klen, value, vlen, text_copy(md, reason, rlen), 0);
    if (outcome == 2) {
        ds->errors[rule]++;
        if (!md->error_noted[rule]) {
            md->error_noted[rule] = true;
            fprintf(stderr, "qloop: 规则 \"%s\"（%s:%ld）在数据集 %s 出错：%s；本次运行继续，出错的记录计入 errors\n",
                    rs->rule->id, rs->rule->file, rs->rule->line, ds->d->name,
                    text_copy(md, reason, rlen));
        }
        return 0;
    }
    /* a rule that pends on another dataset offers all its values here, in
     * row order: the run's own unique set, reporting as a run does */
    return rs->uniq ? ds_unique_offer(ds, rs, value, vlen, row, key, klen) : 0;
}

static int entry_r(struct part_read *pr, struct shard_cursor *c)
{
    struct merge_ds *md = pr->md;
    uint64_t offer = shard_get_uint(c), fp[2];
    fp[0] = shard_get_u64(c);
    fp[1] = shard_get_u64(c);
    if (c->bad || offer >= md->noffers)
        return bad_entry(pr, "被引用值");
    strmap_put(md->m->refvals[md->offer_ref[offer]], (const char *)fp, sizeof fp, NULL);
    return 0;
}

static int entry_c(struct part_read *pr, struct shard_cursor *c)
{
    struct merge_ds *md = pr->md;
    struct run_ctx *run = md->m->run;
    uint64_t cmp = shard_get_uint(c);
    uint8_t side = shard_get_byte(c);
    uint64_t row = global_row(pr, shard_get_uint(c));
    uint8_t flags = shard_get_byte(c);
    struct compare_record rec = {.row_no = row, .empty_key = flags & 1, .own_key = flags & 2};
    rec.fp_hi = shard_get_u64(c);
    rec.fp_lo = shard_get_u64(c);
    if (c->bad || cmp >= run->p->ncompares || side > 1 || flags > 3 || row == 0)
        return bad_entry(pr, "比对记录");
    const struct pack_compare *pc = &run->p->compares[cmp];
    if (strcmp(side ? pc->right : pc->left, md->ds.d->name) != 0)
        return bad_entry(pr, "比对记录");
    rec.nstr = compare_record_strings(run->compares, cmp, side, rec.own_key);
    if (rec.nstr > pr->nstr_cap) {
        pr->nstr_cap = rec.nstr;
        pr->str = qloop_xrealloc(pr->str, rec.nstr * sizeof *pr->str);
        pr->len = qloop_xrealloc(pr->len, rec.nstr * sizeof *pr->len);
    }
    for (size_t i = 0; i < rec.nstr; i++)
        pr->str[i] = shard_get_bytes(c, &pr->len[i]);
    if (c->bad || (rec.own_key && !record_key(pr, pr->str[0], pr->len[0], &pr->str[0], &pr->len[0])))
        return bad_entry(pr, "比对记录");
    rec.str = pr->str;
    rec.len = pr->len;
    return compare_add_record(run->compares, cmp, side, &rec, run->err);
}

static int entry_s(struct part_read *pr, struct shard_cursor *c)
{
    struct merge_ds *md = pr->md;
    size_t klen;
    const char *key = shard_get_bytes(c, &klen);
    uint64_t masked = shard_get_u64(c), raw, lo;
    if (c->bad)
        return bad_entry(pr, "记录键");
    if (klen >= 2 && key[0] == '\0') { /* a record without a key: no ticket shows its identity */
        if (!record_key(pr, key, klen, &key, &klen))
            return bad_entry(pr, "记录键");
        recheck_see_key(&md->ds, key, klen);
        return 0;
    }
    strmap_fingerprint(key, klen, &raw, &lo);
    if (strmap_get(md->seen_hashes, (const char *)&raw, sizeof raw) ||
        strmap_get(md->seen_hashes, (const char *)&masked, sizeof masked))
        recheck_see_key(&md->ds, key, klen);
    return 0;
}

static int entry_k(struct part_read *pr, struct shard_cursor *c)
{
    size_t len = 16;
    const char *fp = (const char *)c->p;
    if (c->end - c->p < 16)
        c->bad = true;
    else
        c->p += 16;
    uint64_t count = shard_get_uint(c);
    if (c->bad || count == 0)
        return bad_entry(pr, "无键记录计数");
    *strmap_put(pr->md->contents, fp, len, NULL) += count;
    return 0;
}

/* Hands every entry of a block to its kind's function. */
static int read_block(struct part_read *pr, struct shard_line *l)
{
    static int (*const entry[SHARD_NKINDS])(struct part_read *, struct shard_cursor *) = {
        [SHARD_V] = entry_v, [SHARD_U] = entry_u, [SHARD_P] = entry_p,
        [SHARD_R] = entry_r, [SHARD_C] = entry_c, [SHARD_S] = entry_s, [SHARD_K] = entry_k,
    };
    /* the contents' counts are of this part: they name the records of the parts after it */
    if (pr->contents_read && l->kind != SHARD_K)
        return shard_error(pr->r, pr->md->m->run->err, "无键记录的计数行之后还有数据块（分片被改动）");
    pr->contents_read = l->kind == SHARD_K;
    if (l->kind == SHARD_S && !pr->md->seen_hashes)
        return 0; /* no open ticket on this dataset: nothing to re-check */
    for (uint64_t i = 0; i < l->n; i++)
        if (entry[l->kind](pr, &l->cur) != 0)
            return -1;
    if (!shard_cursor_done(&l->cur))
        return shard_error(pr->r, pr->md->m->run->err, "数据块的条目数与内容不符（内容被改动或损坏）");
    return 0;
}

/* ---- counts ---- */

/* Adds name to the dataset's columns unless there. */
static void add_column(struct merge_ds *md, const char *name)
{
    for (size_t i = 0; i < md->ncols; i++)
        if (strcmp(md->cols[i], name) == 0)
            return;
    md->cols = qloop_xrealloc(md->cols, (md->ncols + 1) * sizeof *md->cols);
    md->cols[md->ncols++] = qloop_xstrdup(name);
}

/* A non-negative integer member of o, or -1. */
static json_int_t count_of(const json_t *o)
{
    return json_is_integer(o) && json_integer_value(o) >= 0 ? json_integer_value(o) : -1;
}

/* Checks and adds part i's counts line. */
static int read_counts(struct part_read *pr, json_t *o, size_t part)
{
    struct merge_ds *md = pr->md;
    struct ds_ctx *ds = &md->ds;
    json_t *cols = json_object_get(o, "columns"), *rules = json_object_get(o, "rules"),
           *cleansed = json_object_get(o, "cleansed"), *newest = json_object_get(o, "newest_update");
    json_int_t rows = count_of(json_object_get(o, "rows")),
               bad_rows = count_of(json_object_get(o, "bad_rows"));
    bool ok = rows >= 0 && bad_rows >= 0 && json_is_array(cols) && json_array_size(rules) == ds->nrules &&
              json_array_size(cleansed) == ds->ncleanse && (!newest || json_is_null(newest) ||
                                                            json_is_integer(newest));
    for (size_t i = 0; ok && i < json_array_size(cols); i++)
        ok = json_is_string(json_array_get(cols, i));
    for (size_t i = 0; ok && i < ds->nrules; i++) {
        json_t *r = json_array_get(rules, i);
        ok = count_of(json_array_get(r, 0)) >= 0 && count_of(json_array_get(r, 1)) >= 0;
    }
    for (size_t i = 0; ok && i < ds->ncleanse; i++)
        ok = count_of(json_array_get(cleansed, i)) >= 0;
    if (!ok)
        return shard_error(pr->r, md->m->run->err, "计数行不完整或与规则不符");
    if (pr->max_row > (uint64_t)(rows + bad_rows))
        return shard_error(pr->r, md->m->run->err, "条目的行号 %llu 超出了这一部分的行数 %lld",
                           (unsigned long long)pr->max_row, (long long)rows);
    for (size_t i = 0; i < json_array_size(cols); i++)
        add_column(md, json_string_value(json_array_get(cols, i)));
    for (size_t i = 0; i < ds->nrules; i++) {
        json_t *r = json_array_get(rules, i);
        ds->checked[i] += json_integer_value(json_array_get(r, 0));
        ds->errors[i] += json_integer_value(json_array_get(r, 1));
    }
    for (size_t i = 0; i < ds->ncleanse; i++)
        ds->changed[i] += json_integer_value(json_array_get(cleansed, i));
    if (json_is_integer(newest) && (!ds->has_update || json_integer_value(newest) > ds->newest_update)) {
        ds->newest_update = json_integer_value(newest);
        ds->has_update = true;
    }
    ds->rows += rows;
    ds->bad_rows += bad_rows;
    /* malformed rows are numbered with the others: they take rows of the part */
    md->offsets[part + 1] = md->offsets[part] + (uint64_t)(rows + bad_rows);
    return 0;
}

/* ---- parts ---- */

/* Opens part i's shard again (standard input: the reader kept open) and
 * checks it is the shard whose header the merge read first. */
static struct shard_reader *reopen(struct merge_ds *md, size_t i)
{
    struct shard_in *in = &md->in[i];
    struct qloop_error *err = md->m->run->err;
    if (in->kept) {
        struct shard_reader *r = in->kept;
        in->kept = NULL;
        return r;
    }
    json_t *h;
    struct shard_reader *r = shard_reader_open(in->path, &h, err);
    if (r && !json_equal(h, in->header)) {
        shard_error(r, err, "分片在合并过程中被改动了；请在判定全部完成后再合并");
        shard_reader_close(r);
        return NULL;
    }
    return r;
}

static int read_part(struct merge_ds *md, size_t i)
{
    struct run_ctx *run = md->m->run;
    struct part_read pr = {.md = md, .offset = md->offsets[i]};
    findings_writer_parts(run->findings, md->ds.d->name, md->nparts, md->offsets);
    pr.r = reopen(md, i);
    if (!pr.r)
        return -1;
    if (!md->seen_hashes) /* no open ticket on this dataset: its records' keys are not needed */
        shard_reader_skip(pr.r, SHARD_S);
    struct shard_line l;
    int got, rc = 0;
    while (rc == 0 && (got = shard_reader_next(pr.r, &l, run->err)) == 1) {
        if (l.type == SHARD_LINE_BLOCK)
            rc = read_block(&pr, &l);
        else if (l.type == SHARD_LINE_COUNTS)
            rc = read_counts(&pr, l.counts, i);
    }
    if (rc == 0 && got < 0)
        rc = -1;
    if (md->uniq)
        merge_unique_part_end(md->uniq);
    shard_reader_close(pr.r);
    free(pr.str);
    free(pr.len);
    return rc;
}

/* strmap_foreach: the records of one content without a key, all in the
 * data, for the re-check ("\0K" FP "#" N, N = 1 .. count). */
static int see_contents(void *ctx, const char *fp, size_t len, uint64_t count)
{
    struct merge_ds *md = ctx;
    char hex[33];
    qloop_hex((const uint8_t *)fp, len < 16 ? len : 16, hex);
    for (uint64_t n = 1; n <= count; n++) {
        struct qloop_buf *b = &md->key;
        qloop_buf_reset(b);
        qloop_buf_append(b, "\0K", 2);
        qloop_buf_append(b, hex, 32);
        qloop_buf_putc(b, '#');
        findings_append_uint(b, n);
        qloop_buf_putc(b, '\0');
        recheck_see_key(&md->ds, b->ptr, b->len);
    }
    return 0;
}

/* merge_unique_emit_fn: a record whose value occurs elsewhere too. */
static int unique_failed(void *ctx, size_t rule, uint64_t row, const char *key, size_t klen,
                         const char *value, size_t vlen)
{
    struct ds_ctx *ds = ctx;
    struct rule_state *rs = &ds->rules[rule];
    return ds_emit(ds, rs, row, key, klen, value, vlen,
                   rs->rule->message_default ? "与其他记录重复" : NULL, 0);
}

int merge_parts(struct merge_ds *md)
{
    if (setup(md) != 0)
        return -1;
    for (size_t i = 0; i < md->nparts; i++)
        if (read_part(md, i) != 0)
            return -1;
    findings_writer_parts(md->m->run->findings, md->ds.d->name, md->nparts, md->offsets);
    if (md->uniq && merge_unique_finish(md->uniq, unique_failed, &md->ds, md->m->run->err) != 0)
        return -1;
    /* a dataset without a key sends no keys: its records are its contents' occurrences */
    if (md->seen_hashes && md->ds.d->nkeys == 0)
        strmap_foreach(md->contents, see_contents, md);
    return 0;
}
