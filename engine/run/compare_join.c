/*
 * compare_join.c — 比对: joining one unit and judging what it finds (see
 * compare.c for the scheme).
 *
 * Each side's fingerprints are sorted and merged: a fingerprint that occurs
 * more than once on a side marks all its records there as duplicates (never
 * paired); a unique fingerprint with no twin on the other side is a missing
 * record; unique on both sides is a pair whose fields are compared (after
 * normalize, with tolerance, as dates, or by a Lua equal). Findings of a
 * unit are written rule by rule in row order: encoded (findings_encode,
 * which masks key and value as sensitive as either side declares them) by
 * each thread for its slice of rows, then spooled slice by slice through
 * the run's findings writer (findings_append).
 */
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "checks/clean.h"
#include "lua/call.h"
#include "lua/sandbox.h"
#include "run/compare_impl.h"
#include "run/findings.h"

/* Orders by fingerprint, then by entry address: entries are in row order, so
 * records of one key stay in row order. */
static int cmp_fp(const void *x, const void *y)
{
    const struct fpkey *a = x, *b = y;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->e < b->e ? -1 : a->e > b->e;
}

/* Orders a run a[0..n) whose entries are in e order by (hi, lo, e):
 * insertion sort when short, qsort when long and out of order. */
static void order_run(struct fpkey *a, size_t n)
{
    enum { SMALL = 64 };
    bool ordered = true;
    for (size_t j = 1; j < n && ordered; j++)
        ordered = a[j - 1].hi < a[j].hi || (a[j - 1].hi == a[j].hi && a[j - 1].lo <= a[j].lo);
    if (ordered)
        return;
    if (n > SMALL) {
        qsort(a, n, sizeof *a, cmp_fp);
        return;
    }
    for (size_t k = 1; k < n; k++) {
        struct fpkey x = a[k];
        size_t m = k;
        for (; m > 0 && cmp_fp(&a[m - 1], &x) > 0; m--)
            a[m] = a[m - 1];
        a[m] = x;
    }
}

enum {
    TOP_BITS = 11,             /* the fingerprint's top bits that pick a bucket */
    NTOP = 1 << TOP_BITS,      /* buckets */
    BUCKET_SHIFT = 64 - TOP_BITS
};

/* Sorts one bucket a[0..m) (entries sharing the top TOP_BITS bits of hi,
 * given in e order) by (hi, lo, e): a stable counting sort on the next
 * bits of hi — as many as make about one entry per value, up to 11 —
 * through scratch (m entries), then order_run over each run of entries
 * alike in those bits (a key occurring more than once, or two keys alike
 * in them). A bucket holds about n / NTOP entries, so all of this happens
 * in the cache. */
static void sort_bucket(struct fpkey *a, struct fpkey *scratch, size_t m)
{
    enum { MAX_BITS = 11, FEW = 16 };
    if (m < 2)
        return;
    if (m <= FEW) {
        order_run(a, m);
        return;
    }
    int bits = 4;
    while (bits < MAX_BITS && ((size_t)1 << bits) < m)
        bits++;
    const int shift = BUCKET_SHIFT - bits;
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    size_t count[1 << MAX_BITS];
    memset(count, 0, ((size_t)1 << bits) * sizeof *count);
    for (size_t i = 0; i < m; i++)
        count[(a[i].hi >> shift) & mask]++;
    size_t sum = 0;
    for (size_t d = 0; d <= mask; d++) {
        size_t c = count[d];
        count[d] = sum;
        sum += c;
    }
    for (size_t i = 0; i < m; i++)
        scratch[count[(a[i].hi >> shift) & mask]++] = a[i];
    memcpy(a, scratch, m * sizeof *a);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && a[j].hi >> shift == a[i].hi >> shift)
            j++;
        if (j - i > 1)
            order_run(a + i, j - i);
        i = j;
    }
}

/* qsort order of entries by row number. */
static int cmp_row(const void *x, const void *y)
{
    const struct rec *a = ((const struct ent *)x)->r, *b = ((const struct ent *)y)->r;
    return a->row_no < b->row_no ? -1 : a->row_no > b->row_no;
}

static bool same_fp(const struct fpkey *a, const struct fpkey *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

/* Whether a's fingerprint sorts before or with b's. */
static bool fp_le(const struct fpkey *a, const struct fpkey *b)
{
    return a->hi != b->hi ? a->hi < b->hi : a->lo <= b->lo;
}

/* Appends the NUL-terminated strings that follow b, up to a NULL: a
 * message's text without printf (it is made once per finding). TEXT adds
 * the NULL. */
#define TEXT(b, ...) text(b, __VA_ARGS__, (const char *)NULL)
static void text(struct qloop_buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        qloop_buf_append(b, s, strlen(s));
    va_end(ap);
}

/* Appends the names of side s's key fields, joined by sep. */
static void key_names(struct qloop_buf *b, const struct side *s, const char *sep)
{
    for (size_t i = 0; i < s->nkeys; i++)
        TEXT(b, i ? sep : "", s->keys[i]);
}

/* The compare key text of a record, masked when any key is sensitive, into out. */
/* The compare key text of a record, masked when any key is sensitive, into out. */
static void show_key(const struct cmp *m, const struct side *s, const struct rec *r,
                     struct qloop_buf *out)
{
    size_t len;
    const char *k = payload_str(r, rec_key_slot(r), &len);
    key_names(out, s, "|");
    qloop_buf_putc(out, '=');
    findings_quote(out, k, len, m->key_sensitive);
}

/* Encodes, into w->out, one finding on dataset side ds_side about record
 * subject (of its own side), which exists on that dataset when `own` (row
 * and own record key) or is absent there (identified by its compare key).
 * value (NULL for none) is raw; value_sensitive: it comes from a field
 * either side declares sensitive. Counts it in w. */
static void put_finding(struct emit_worker *w, int rule, int ds_side, struct ent *subject,
                        bool own, const char *field, const char *value, size_t vlen,
                        bool value_sensitive, const char *message)
{
    struct cmp *m = w->e->m;
    const struct side *s = &m->side[ds_side];
    const struct rec *r = subject->r;
    struct qloop_finding f = {.dataset = s->dataset, .rule = m->rules[rule].id,
                              .row_no = own ? r->row_no : 0, .field = field, .value = value,
                              .vlen = vlen, .message = message};
    /* On its own dataset a record is named by its own key (or, without one,
     * its identity), as the dataset's rules name it; on the other, by the
     * compare key. */
    f.key = payload_str(r, own && (r->flags & REC_OWN_KEY) ? 0 : rec_key_slot(r), &f.keylen);
    /* A compare key and compared fields are as sensitive as either side
     * declares them. */
    struct finding_extra x = {.mask = (m->key_sensitive ? FINDING_MASK_KEY : 0u) |
                                      (value_sensitive ? FINDING_MASK_VALUE : 0u)};
    findings_encode(w->enc, w->e->kind[rule], &f, &x, &w->out);
    w->failed++;
    /* one record's findings of several rules may be made at once on two
     * threads: the one that sets the bit counts it */
    unsigned bit = 1u << ds_side;
    if (!(atomic_load_explicit(&subject->counted, memory_order_relaxed) & bit) &&
        !(atomic_fetch_or_explicit(&subject->counted, (unsigned char)bit, memory_order_relaxed) &
          bit))
        w->failed_records++;
}

/* Writes the missing_* finding for record x of side `from`, which has no
 * match on the other side: on x's own dataset, or on the other one when
 * `from` is the authority. */
static void report_missing(struct emit_worker *w, int rule, int from, struct ent *x)
{
    struct cmp *m = w->e->m;
    int ds = m->rules[rule].side;
    const struct side *o = &m->side[from], *other = &m->side[1 - from];
    struct qloop_buf *msg = &w->msg;
    qloop_buf_reset(msg);
    if (ds == from) {
        /* the record exists here and has no match on the other side */
        TEXT(msg, m->auth == 1 - from ? "权威方" : "在", " ", other->dataset, " 中找不到对应记录（",
             (const char *)NULL);
        show_key(m, o, x->r, msg);
        TEXT(msg, "）");
        put_finding(w, rule, ds, x, true, NULL, NULL, 0, false, qloop_buf_str(msg));
        return;
    }
    /* the record exists only on the authority's side: the other lacks it */
    TEXT(msg, "本方缺少记录：权威方 ", o->dataset, " ");
    findings_append_row(w->e->findings, msg, o->dataset, x->r->row_no);
    TEXT(msg, "有此记录（");
    show_key(m, o, x->r, msg);
    TEXT(msg, "）");
    put_finding(w, rule, ds, x, false, NULL, NULL, 0, false, qloop_buf_str(msg));
}

/* Writes the duplicate_key_* finding for record x of side `side`. */
static void report_dup(struct emit_worker *w, int rule, int side, struct ent *x)
{
    struct cmp *m = w->e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&w->msg);
    TEXT(&w->msg, "比对键 ");
    show_key(m, s, x->r, &w->msg);
    TEXT(&w->msg, " 在 ", s->dataset, " 中出现 ");
    findings_append_uint(&w->msg, x->count);
    TEXT(&w->msg, " 次，无法与 ", m->side[1 - side].dataset, " 配对");
    size_t klen;
    const char *k = payload_str(x->r, rec_key_slot(x->r), &klen);
    put_finding(w, rule, side, x, true, NULL, k, klen, m->key_sensitive, qloop_buf_str(&w->msg));
}

/* Writes the empty_key_* finding for record x of side `side`. */
static void report_empty(struct emit_worker *w, int side, struct ent *x)
{
    struct cmp *m = w->e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&w->msg);
    TEXT(&w->msg, "比对键 ");
    key_names(&w->msg, s, "、");
    TEXT(&w->msg, " 为空，无法与 ", m->side[1 - side].dataset, " 配对");
    put_finding(w, side == 0 ? R_EMPTY_LEFT : R_EMPTY_RIGHT, side, x, true, NULL, NULL, 0, false,
                qloop_buf_str(&w->msg));
}

/* Counts an error of rule rc on a record and prints the first one on stderr
 * (the calling thread's: errors come from Lua, run with one thread). */
static void note_error(struct emit_worker *w, struct rule_count *rc, const struct qloop_error *qe,
                       const struct side *s, uint64_t row_no)
{
    w->errors++;
    if (rc->error_noted)
        return;
    rc->error_noted = true;
    char buf[1200];
    qloop_error_format(qe, buf, sizeof buf);
    fprintf(stderr,
            "qloop: 比对 \"%s\"（%s:%ld）的规则 %s 在数据集 %s 数据第 %llu 行（不计表头）出错：%s；本次运行继续，出错的记录计入 errors\n",
            w->e->m->pc->name, w->e->m->pc->file, w->e->m->pc->line, rc->id, s->dataset,
            (unsigned long long)row_no, buf);
}

/* Applies f's normalize to s (len bytes): *v, *vlen are the value to
 * compare — s itself without a normalize (a payload string, not
 * NUL-terminated), else out (NUL-terminated, as a number must be for
 * strtod: a tolerance field's value is copied there too). Returns 1 with a
 * value, 0 for none, -1 on a Lua error (qe filled). */
static int normalize(struct emit_worker *w, const struct pack_compare_field *f, const char *s,
                     size_t len, struct qloop_buf *out, const char **v, size_t *vlen,
                     struct qloop_error *qe)
{
    *v = s;
    *vlen = len;
    if (len == 0)
        return 0;
    bool plain = !f->normalize && f->normalize_ref == LUA_NOREF;
    if (plain && !f->has_tolerance)
        return 1;
    qloop_buf_reset(out);
    if (plain) {
        qloop_buf_append(out, s, len);
        *v = out->ptr;
        return 1;
    }
    struct qloop_buf *tmp = &w->t1;
    qloop_buf_reset(tmp);
    qloop_buf_append(tmp, s, len); /* NUL-terminated copy */
    int rc;
    if (f->normalize) {
        rc = f->normalize->clean(qloop_buf_str(tmp), tmp->len, out) && out->len > 0;
    } else {
        struct qloop_lua_site site = {.rule = w->e->m->pc->name};
        qloop_error_clear(qe);
        rc = qloop_lua_clean(w->e->L, f->normalize_ref, qloop_buf_str(tmp), tmp->len, &site, out,
                             qe);
        rc = rc > 0 ? out->len > 0 : rc;
    }
    *v = out->ptr;
    *vlen = out->len;
    return rc;
}

/* Judges one field of a pair: 1 equal, 0 different, -1 error (qe filled;
 * only a Lua normalize or equal fails). */
static int values_equal(struct emit_worker *w, const struct pack_compare_field *f, const char *a,
                        size_t alen, const char *b, size_t blen, struct qloop_error *qe)
{
    const char *na, *nb;
    size_t nalen, nblen;
    int ha = normalize(w, f, a, alen, &w->na, &na, &nalen, qe);
    if (ha < 0)
        return -1;
    int hb = normalize(w, f, b, blen, &w->nb, &nb, &nblen, qe);
    if (hb < 0)
        return -1;
    if (f->equal_ref != LUA_NOREF) {
        struct qloop_lua_site site = {.rule = w->e->m->pc->name};
        struct qloop_lua_answer ans;
        enum qloop_lua_verdict v = qloop_lua_check_pair(w->e->L, f->equal_ref, ha ? na : NULL,
                                                        ha ? nalen : 0, hb ? nb : NULL,
                                                        hb ? nblen : 0, &site, &ans);
        if (v == QLOOP_LUA_ERROR) {
            qloop_error_clear(qe);
            qloop_error_set(qe, NULL, 0, 0, "%.*s", (int)ans.len, ans.text);
            return -1;
        }
        return v == QLOOP_LUA_PASS;
    }
    if (!ha || !hb)
        return ha == hb;
    if (nalen == nblen && memcmp(na, nb, nalen) == 0)
        return 1;
    if (f->date) {
        qloop_buf_reset(&w->t1);
        qloop_buf_reset(&w->t2);
        if (clean_date(na, nalen, &w->t1) && clean_date(nb, nblen, &w->t2))
            return strcmp(qloop_buf_str(&w->t1), qloop_buf_str(&w->t2)) == 0;
        return 0;
    }
    if (f->has_tolerance) {
        double x, y;
        if (qloop_parse_number(na, nalen, &x) && qloop_parse_number(nb, nblen, &y))
            return fabs(x - y) <= f->tolerance;
        return 0;
    }
    return 0;
}

/* Compares field fi of the pair (l, r), counting it in the mismatch rule and
 * writing a finding when the values differ. */
static void judge_pair(struct emit_worker *w, size_t fi, struct ent *l, struct ent *r)
{
    struct cmp *m = w->e->m;
    const struct pack_compare_field *f = m->fields[fi];
    const struct side *sl = &m->side[0], *sr = &m->side[1];
    size_t off_l = rec_key_slot(l->r) + 1 + fi, off_r = rec_key_slot(r->r) + 1 + fi;
    size_t alen, blen;
    const char *a = payload_str(l->r, off_l, &alen), *b = payload_str(r->r, off_r, &blen);
    struct qloop_error qe;
    int eq = values_equal(w, f, a, alen, b, blen, &qe);
    if (eq < 0) {
        if (!qe.file[0] && !qe.line) {
            char text[sizeof qe.message];
            memcpy(text, qe.message, sizeof text);
            qloop_error_set(&qe, m->pc->file, m->pc->line, 0, "%s", text);
        }
        note_error(w, &m->rules[R_MISMATCH + fi], &qe, sl, l->r->row_no);
        return;
    }
    w->checked++;
    if (eq)
        return;
    bool sens = m->field_sensitive[fi];
    int ds = m->mismatch_side;
    struct qloop_buf *msg = &w->msg;
    qloop_buf_reset(msg);
    if (m->auth >= 0) {
        const char *mine = ds == 0 ? a : b, *theirs = ds == 0 ? b : a;
        size_t mlen = ds == 0 ? alen : blen, tlen = ds == 0 ? blen : alen;
        TEXT(msg, ds == 0 ? f->left : f->right, " 不一致：本方 ");
        findings_quote(msg, mine, mlen, sens);
        TEXT(msg, "，权威方 ");
        findings_quote(msg, theirs, tlen, sens);
    } else {
        TEXT(msg, f->left, " 不一致：", sl->dataset, " 为 ");
        findings_quote(msg, a, alen, sens);
        TEXT(msg, "，", sr->dataset, " 为 ");
        findings_quote(msg, b, blen, sens);
    }
    const char *v = ds == 0 ? a : b;
    size_t vlen = ds == 0 ? alen : blen;
    put_finding(w, R_MISMATCH + (int)fi, ds, ds == 0 ? l : r, true, ds == 0 ? f->left : f->right,
                vlen > 0 ? v : NULL, vlen, sens, qloop_buf_str(msg));
}

/* ---- the threads ---- */

enum {
    EMIT_SLICE = 8192,    /* rows a worker takes per round, at most */
    EMIT_SLICE_MIN = 256, /* and at least, but for the last */
    POOL_MIN_ROWS = 1024  /* a unit smaller than this is done on the calling thread */
};

/* Notes record r, the n-th of a side: whether the records so far are in
 * row order (*last: the previous one's row) and, unless its key is empty,
 * its fingerprint's bucket in count. */
static inline void note_record(const struct rec *r, size_t n, uint64_t *last, bool *ordered,
                               size_t *count)
{
    *ordered &= n == 0 || *last < r->row_no;
    *last = r->row_no;
    if (!(r->flags & REC_EMPTY_KEY))
        count[r->fp_hi >> BUCKET_SHIFT]++;
}

/* Points side s's entries at its records when they are in memory (in the
 * order stored: every record fed; e->n[s] becomes their number), else
 * goes over the entries given; either way counts the records of each
 * bucket into count and tells whether they are in row order. */
static bool collect_side(struct emitter *e, int s, size_t *count)
{
    struct ent *ents = e->ents[s];
    size_t n = 0, cap = e->n[s];
    uint64_t last = 0;
    bool ordered = true;
    if (e->fill[s]) {
        for (const struct chunk *k = e->fill[s]->head; k && n < cap; k = k->next)
            for (size_t off = 0; off < k->used && n < cap; n++) {
                const struct rec *r = (const struct rec *)((const char *)k->data + off);
                ents[n].r = r;
                note_record(r, n, &last, &ordered, count);
                off += rec_size(r->len);
            }
        e->n[s] = n;
    } else {
        for (; n < cap; n++)
            note_record(ents[n].r, n, &last, &ordered, count);
    }
    return ordered;
}

/* Sorts side s of the current unit by fingerprint (after pointing its
 * entries at the side's records, in memory, and putting them in row
 * order) and resets its entries' join state. The sort: the entries go
 * straight to their bucket of the fingerprint's top bits (counted while
 * the records were walked: one pass over the records to count, one to
 * place, in row order, so each bucket is in e order), then each bucket is
 * sorted on its own (sort_bucket). */
static void prepare_side(struct emitter *e, int s)
{
    size_t *count = qloop_xcalloc(NTOP + 1, sizeof *count);
    if (!collect_side(e, s, count))
        qsort(e->ents[s], e->n[s], sizeof *e->ents[s], cmp_row);
    struct ent *ents = e->ents[s];
    size_t n = e->n[s], nk = 0, most = 0;
    for (size_t d = 0; d < NTOP; d++) {
        size_t c = count[d];
        count[d] = nk;
        nk += c;
        most = c > most ? c : most;
    }
    struct fpkey *byfp = qloop_xmalloc((nk + 1) * sizeof *byfp);
    for (size_t i = 0; i < n; i++) {
        struct ent *x = &ents[i];
        const struct rec *r = x->r;
        x->partner = NULL;
        atomic_store_explicit(&x->counted, 0, memory_order_relaxed);
        x->count = 1;
        if (r->flags & REC_EMPTY_KEY)
            x->status = ST_EMPTY;
        else
            byfp[count[r->fp_hi >> BUCKET_SHIFT]++] = (struct fpkey){r->fp_hi, r->fp_lo, x};
    }
    /* count[d] is now where bucket d ends */
    struct fpkey *scratch = qloop_xmalloc((most + 1) * sizeof *scratch);
    for (size_t d = 0, from = 0; d < NTOP; d++) {
        sort_bucket(byfp + from, scratch, count[d] - from);
        from = count[d];
    }
    free(scratch);
    e->ends[s] = count;
    e->byfp[s] = byfp;
    e->nk[s] = nk;
}

/* Merges the groups of equal fingerprints of buckets [from, to) of both
 * sides of the current unit: each record's count on its side and status,
 * and the partners of a key unique on both sides. A key's records are all
 * in one bucket, so ranges of buckets can be merged at once. */
static void merge_buckets(struct emitter *e, size_t from, size_t to)
{
    struct fpkey *const *byfp = e->byfp;
    size_t i = from ? e->ends[0][from - 1] : 0, j = from ? e->ends[1][from - 1] : 0;
    const size_t nk[2] = {e->ends[0][to - 1], e->ends[1][to - 1]};
    while (i < nk[0] || j < nk[1]) {
        const struct fpkey *key;
        if (i < nk[0] && j < nk[1])
            key = fp_le(&byfp[0][i], &byfp[1][j]) ? &byfp[0][i] : &byfp[1][j];
        else
            key = i < nk[0] ? &byfp[0][i] : &byfp[1][j];
        size_t ei = i, ej = j;
        while (ei < nk[0] && same_fp(&byfp[0][ei], key))
            ei++;
        while (ej < nk[1] && same_fp(&byfp[1][ej], key))
            ej++;
        size_t cl = ei - i, cr = ej - j;
        for (int s = 0; s < 2; s++) {
            size_t lo = s == 0 ? i : j, hi = s == 0 ? ei : ej, mine = s == 0 ? cl : cr,
                   theirs = s == 0 ? cr : cl;
            for (size_t k = lo; k < hi; k++) {
                struct ent *x = byfp[s][k].e;
                x->count = (uint32_t)mine;
                x->status = mine > 1 ? ST_DUP : theirs == 0 ? ST_MISSING
                                                : theirs > 1 ? ST_OTHER_DUP
                                                             : ST_PAIRED;
            }
        }
        if (cl == 1 && cr == 1) {
            byfp[0][i].e->partner = byfp[1][j].e;
            byfp[1][j].e->partner = byfp[0][i].e;
        }
        i = ei;
        j = ej;
    }
}

/* Makes rule w->rule's findings for rows w->from..w->to of its side. */
static void emit_slice(struct emit_worker *w)
{
    struct emitter *e = w->e;
    int rule = w->rule;
    switch (rule) {
    case R_MISSING_RIGHT:
    case R_MISSING_LEFT: {
        int s = rule == R_MISSING_RIGHT ? 0 : 1;
        for (size_t k = w->from; k < w->to; k++) {
            struct ent *x = &e->ents[s][k];
            if (x->status == ST_EMPTY || x->status == ST_DUP)
                continue;
            w->checked++;
            if (x->status == ST_MISSING)
                report_missing(w, rule, s, x);
        }
        break;
    }
    case R_DUP_LEFT:
    case R_DUP_RIGHT: {
        int s = rule == R_DUP_LEFT ? 0 : 1;
        for (size_t k = w->from; k < w->to; k++) {
            struct ent *x = &e->ents[s][k];
            if (x->status == ST_EMPTY)
                continue;
            w->checked++;
            if (x->status == ST_DUP)
                report_dup(w, rule, s, x);
        }
        break;
    }
    case R_EMPTY_LEFT:
    case R_EMPTY_RIGHT: {
        int s = rule == R_EMPTY_LEFT ? 0 : 1;
        for (size_t k = w->from; k < w->to; k++)
            if (e->ents[s][k].status == ST_EMPTY)
                report_empty(w, s, &e->ents[s][k]);
        break;
    }
    default:
        for (size_t k = w->from; k < w->to; k++) {
            struct ent *x = &e->ents[0][k];
            if (x->status == ST_PAIRED)
                judge_pair(w, (size_t)(rule - R_MISMATCH), x, x->partner);
        }
    }
}

static void make_rounds(struct emitter *e);

/* Member i's part of the current task: in TASK_SORT (crew_run's) a side to
 * sort, in TASK_MERGE (crew_run's) its share of the buckets to merge, in
 * TASK_EMIT (crew_begin's, helpers only) its slices of rows. */
static void do_task(void *ctx, size_t i)
{
    struct emitter *e = ctx;
    if (e->task == TASK_SORT) {
        for (size_t s = i; s < 2; s += e->jobs)
            prepare_side(e, (int)s);
    } else if (e->task == TASK_MERGE) {
        if (i < e->jobs)
            merge_buckets(e, i * NTOP / e->jobs, (i + 1) * NTOP / e->jobs);
    } else if (i >= 1 && i <= e->helpers) {
        make_rounds(e);
    }
}

/* Spools what worker w encoded this round and adds its counts to its rule. */
static int commit_worker(struct emitter *e, struct emit_worker *w)
{
    struct rule_count *rc = &e->m->rules[w->rule];
    rc->checked += w->checked;
    rc->failed += w->failed;
    rc->errors += w->errors;
    e->failed_records += w->failed_records;
    w->checked = w->failed = w->errors = w->failed_records = 0;
    int r = w->out.len ? findings_append(e->findings, w->out.ptr, w->out.len, e->err) : 0;
    qloop_buf_reset(&w->out);
    return r;
}

/* The rules of a unit in the order their findings are written, and the
 * number of records each goes over (n[s] of its side). Returns how many. */
static size_t rule_order(const struct emitter *e, const size_t n[2], int *rules, size_t *rows)
{
    size_t k = 0;
    rules[k] = R_MISSING_RIGHT, rows[k++] = n[0];
    rules[k] = R_MISSING_LEFT, rows[k++] = n[1];
    for (size_t fi = 0; fi < e->m->nfields; fi++)
        rules[k] = R_MISMATCH + (int)fi, rows[k++] = n[0];
    rules[k] = R_DUP_LEFT, rows[k++] = n[0];
    rules[k] = R_DUP_RIGHT, rows[k++] = n[1];
    rules[k] = R_EMPTY_LEFT, rows[k++] = n[0];
    rules[k] = R_EMPTY_RIGHT, rows[k++] = n[1];
    return k;
}

/* The rows a worker takes per round of a rule over n records, with
 * `workers` workers per round. */
static size_t slice_rows(size_t n, size_t workers)
{
    size_t slice = (n + workers - 1) / workers;
    return slice > EMIT_SLICE ? EMIT_SLICE : slice < EMIT_SLICE_MIN ? EMIT_SLICE_MIN : slice;
}

/* Makes every rule's findings of the unit on the calling thread, rule by
 * rule in row order, a slice of rows at a time. Returns 0 or -1 with err. */
static int emit_alone(struct emitter *e, const int *rules, const size_t *rows, size_t nr)
{
    struct emit_worker *w = &e->w[0];
    int rc = 0;
    for (size_t k = 0; k < nr && rc == 0; k++)
        for (size_t from = 0; from < rows[k] && rc == 0; from += EMIT_SLICE) {
            w->rule = rules[k];
            w->from = from;
            w->to = rows[k] - from > EMIT_SLICE ? from + EMIT_SLICE : rows[k];
            emit_slice(w);
            rc = commit_worker(e, w);
        }
    return rc;
}

/* Claims the next slice to make (index k: slice k % helpers of round k /
 * helpers), when there is one and its round may be made now: its set of
 * workers is free (the round ahead_rounds before it spooled) and, unless
 * it is the round to spool next, fewer than ahead_bytes wait. Under e->mu. */
static bool claim_slice(struct emitter *e, size_t *k)
{
    if (e->stop || e->next >= e->nrounds * e->helpers)
        return false;
    size_t r = e->next / e->helpers;
    if (r >= e->spooled + e->ahead_rounds || (r > e->spooled && e->ahead > e->ahead_bytes))
        return false;
    *k = e->next++;
    return true;
}

/* Makes claimed slice k into its worker and reports it made: called
 * without e->mu, returns holding it. */
static void make_slice(struct emitter *e, size_t k)
{
    size_t r = k / e->helpers, i = k % e->helpers;
    const struct emit_round *o = &e->rounds[r];
    struct emit_worker *w = &e->w[(r % e->ahead_rounds) * e->helpers + i];
    size_t from = o->base + i * o->slice, to = from + o->slice;
    w->rule = o->rule;
    w->from = from < o->n ? from : o->n;
    w->to = to < o->n ? to : o->n;
    emit_slice(w);
    pthread_mutex_lock(&e->mu);
    e->ahead += w->out.len;
    e->made[r % e->ahead_rounds]++;
    pthread_cond_broadcast(&e->cv);
}

/* A helper's share of the unit's rounds: slice after slice, in order, as
 * they may be claimed, until every slice is claimed or the spooling
 * failed. */
static void make_rounds(struct emitter *e)
{
    pthread_mutex_lock(&e->mu);
    for (;;) {
        size_t k;
        if (claim_slice(e, &k)) {
            pthread_mutex_unlock(&e->mu);
            make_slice(e, k);
            continue;
        }
        if (e->stop || e->next >= e->nrounds * e->helpers)
            break;
        pthread_cond_wait(&e->cv, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
}

/* Makes every rule's findings of the unit round by round (each round one
 * slice of rows of one rule per helper), up to ahead_rounds rounds (and
 * ahead_bytes) ahead of the spooling, on the crew's helpers and on the
 * calling thread, which spools each round's findings, worker by worker,
 * and moves them into the store (findings_flush): the same findings in the
 * same order as emit_alone, whoever made each slice. While the round to
 * spool is not made, the calling thread makes the next slice not yet
 * claimed (the first one before the helpers start), else waits. When the
 * spooling fails the helpers stop at their next slice. Returns 0 or -1
 * with err. */
static int emit_pipelined(struct emitter *e, const int *rules, const size_t *rows, size_t nr)
{
    size_t h = e->helpers, count = 0;
    for (size_t k = 0; k < nr; k++) {
        size_t step = h * slice_rows(rows[k], h);
        count += (rows[k] + step - 1) / step;
    }
    struct emit_round *rounds = qloop_xcalloc(count + 1, sizeof *rounds);
    size_t nrounds = 0;
    for (size_t k = 0; k < nr; k++) {
        size_t slice = slice_rows(rows[k], h);
        for (size_t base = 0; base < rows[k]; base += h * slice)
            rounds[nrounds++] = (struct emit_round){rules[k], rows[k], base, slice};
    }
    e->rounds = rounds;
    e->nrounds = nrounds;
    e->spooled = 0;
    e->ahead = 0;
    e->next = 0;
    e->stop = false;
    memset(e->made, 0, sizeof e->made);
    e->task = TASK_EMIT;
    size_t first;
    bool mine = claim_slice(e, &first); /* no helper runs yet: no lock needed */
    crew_begin(&e->c->crew, do_task, e);
    if (mine) {
        make_slice(e, first);
        e->c->caller_slices++;
        pthread_mutex_unlock(&e->mu);
    }
    int rc = 0;
    for (size_t r = 0; r < nrounds && rc == 0; r++) {
        size_t set = r % e->ahead_rounds;
        pthread_mutex_lock(&e->mu);
        while (e->made[set] < h) {
            size_t k;
            if (claim_slice(e, &k)) {
                pthread_mutex_unlock(&e->mu);
                make_slice(e, k);
                e->c->caller_slices++;
            } else {
                pthread_cond_wait(&e->cv, &e->mu);
            }
        }
        e->made[set] = 0;
        pthread_mutex_unlock(&e->mu);
        size_t bytes = 0;
        for (size_t i = 0; i < h && rc == 0; i++) {
            struct emit_worker *w = &e->w[set * h + i];
            bytes += w->out.len;
            rc = commit_worker(e, w);
            if (w->out.cap > EMIT_KEEP)
                qloop_buf_free(&w->out);
        }
        if (rc == 0)
            rc = findings_flush(e->findings, e->err);
        pthread_mutex_lock(&e->mu);
        e->spooled = r + 1;
        e->ahead -= bytes < e->ahead ? bytes : e->ahead;
        e->stop = rc != 0;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
    crew_wait(&e->c->crew);
    for (size_t i = 0; i < e->nw; i++) { /* what a stopped unit left */
        struct emit_worker *w = &e->w[i];
        w->checked = w->failed = w->errors = w->failed_records = 0;
        qloop_buf_reset(&w->out);
    }
    free(rounds);
    e->rounds = NULL;
    e->nrounds = 0;
    return rc;
}

int compare_report_empty(struct emitter *e, int side, struct ent *x)
{
    e->w[0].rule = side == 0 ? R_EMPTY_LEFT : R_EMPTY_RIGHT;
    report_empty(&e->w[0], side, x);
    return commit_worker(e, &e->w[0]);
}

void compare_emit_begin(struct emitter *e, struct cmp *m)
{
    e->m = m;
    if (!e->w) {
        e->jobs = e->c->jobs ? e->c->jobs : 1;
        e->ahead_rounds = e->c->ahead_rounds ? e->c->ahead_rounds : EMIT_AHEAD;
        e->ahead_bytes = e->c->ahead_bytes ? e->c->ahead_bytes : EMIT_AHEAD_BYTES;
        e->nw = e->ahead_rounds * e->jobs;
        e->w = qloop_xcalloc(e->nw, sizeof *e->w);
        pthread_mutex_init(&e->mu, NULL);
        pthread_cond_init(&e->cv, NULL);
        for (size_t i = 0; i < e->nw; i++) {
            e->w[i].e = e;
            e->w[i].enc = findings_encoder_new(e->findings);
        }
    }
    free(e->kind);
    e->kind = qloop_xcalloc(m->nrules, sizeof *e->kind);
    for (size_t r = 0; r < m->nrules; r++)
        e->kind[r] = findings_kind(e->findings, m->side[m->rules[r].side].dataset, m->rules[r].id,
                                   m->rules[r].field);
}

void compare_emit_end(struct emitter *e)
{
    for (size_t i = 0; e->w && i < e->nw; i++) {
        struct emit_worker *w = &e->w[i];
        findings_encoder_free(w->enc);
        qloop_buf_free(&w->out), qloop_buf_free(&w->msg);
        qloop_buf_free(&w->na), qloop_buf_free(&w->nb);
        qloop_buf_free(&w->t1), qloop_buf_free(&w->t2);
    }
    if (e->w) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
    }
    free(e->w);
    free(e->kind);
    e->w = NULL;
    e->kind = NULL;
}

/* Whether compare m calls Lua to judge a field (then one thread only). */
static bool uses_lua(const struct cmp *m)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i]->normalize_ref != LUA_NOREF || m->fields[i]->equal_ref != LUA_NOREF)
            return true;
    return false;
}

int compare_join_unit(struct emitter *e, struct ent *ents[2], const size_t n[2])
{
    struct cmp *m = e->m;
    bool pool = e->jobs > 1 && n[0] + n[1] >= POOL_MIN_ROWS && !uses_lua(m);
    if (pool && !e->pool_up) {
        size_t got = crew_start(&e->c->crew, e->jobs);
        e->jobs = got < e->jobs ? got : e->jobs;
        e->pool_up = true;
        pool = e->jobs > 1;
    }
    size_t jobs = pool ? e->jobs : 1;
    e->ents[0] = ents[0], e->ents[1] = ents[1];
    e->n[0] = n[0], e->n[1] = n[1];
    e->task = TASK_SORT;
    if (jobs > 1) {
        crew_run(&e->c->crew, do_task, e);
    } else {
        prepare_side(e, 0);
        prepare_side(e, 1);
    }
    /* merge groups of equal fingerprints, bucket ranges on the crew */
    e->task = TASK_MERGE;
    if (jobs > 1)
        crew_run(&e->c->crew, do_task, e);
    else
        merge_buckets(e, 0, NTOP);
    for (int s = 0; s < 2; s++) {
        free(e->ends[s]);
        e->ends[s] = NULL;
    }
    free(e->byfp[0]);
    free(e->byfp[1]);
    e->byfp[0] = e->byfp[1] = NULL;

    /* the findings, rule by rule, each in row order */
    int *rules = qloop_xcalloc(R_MISMATCH + 1 + m->nfields, sizeof *rules);
    size_t *rows = qloop_xcalloc(R_MISMATCH + 1 + m->nfields, sizeof *rows);
    size_t nr = rule_order(e, e->n, rules, rows);
    int rc;
    if (jobs < 2) {
        rc = emit_alone(e, rules, rows, nr);
    } else {
        e->helpers = jobs - 1;
        rc = emit_pipelined(e, rules, rows, nr);
    }
    free(rules);
    free(rows);
    return rc;
}

int compare_join_in_memory(struct emitter *e)
{
    /* every record fed is in memory (nothing went to a sink or a file);
     * the entries are pointed at them while the sides are sorted */
    struct ent *ents[2];
    size_t n[2];
    for (int s = 0; s < 2; s++) {
        const struct side *sd = &e->m->side[s];
        n[s] = (size_t)sd->total;
        ents[s] = qloop_xmalloc((n[s] + 1) * sizeof **ents);
        e->fill[s] = sd;
    }
    int rc = compare_join_unit(e, ents, n);
    e->fill[0] = e->fill[1] = NULL;
    free(ents[0]);
    free(ents[1]);
    return rc;
}
