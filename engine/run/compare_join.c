/*
 * compare_join.c — 比对: joining one unit and judging what it finds (see
 * compare.c for the scheme).
 *
 * Each side's fingerprints are sorted and merged: a fingerprint that occurs
 * more than once on a side marks all its records there as duplicates (never
 * paired); a unique fingerprint with no twin on the other side is a missing
 * record; unique on both sides is a pair whose fields are compared (after
 * normalize, with tolerance, as dates, or by a Lua equal). Findings of a
 * unit are written rule by rule in row order, each through the run's
 * findings writer, which masks key and value as sensitive as either side
 * declares them.
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

/* A record's fingerprint held inline, so that sorting never chases pointers. */
struct fpkey {
    uint64_t hi, lo;
    struct ent *e;
};

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
static void show_key(struct emitter *e, const struct side *s, const struct rec *r,
                     struct qloop_buf *out)
{
    size_t len;
    const char *k = payload_str(r, rec_key_slot(r), &len);
    key_names(out, s, "|");
    qloop_buf_putc(out, '=');
    findings_quote(out, k, len, e->m->key_sensitive);
}

/* Writes one finding on dataset side ds_side about record subject (of its own
 * side), which exists on that dataset when `own` (row and own record key) or
 * is absent there (identified by its compare key). value (NULL for none) is
 * raw; value_sensitive: it comes from a field either side declares
 * sensitive. */
static int put_finding(struct emitter *e, int rule, int ds_side, struct ent *subject, bool own,
                       const char *field, const char *value, size_t vlen, bool value_sensitive,
                       const char *message)
{
    struct cmp *m = e->m;
    struct rule_count *rc = &m->rules[rule];
    const struct side *s = &m->side[ds_side];
    const struct rec *r = subject->r;
    struct qloop_finding f = {.dataset = s->dataset, .rule = rc->id, .row_no = own ? r->row_no : 0,
                              .field = field, .value = value, .vlen = vlen, .message = message};
    /* On its own dataset a record is named by its own key (or, without one,
     * its identity), as the dataset's rules name it; on the other, by the
     * compare key. */
    f.key = payload_str(r, own && (r->flags & REC_OWN_KEY) ? 0 : rec_key_slot(r), &f.keylen);
    /* A compare key and compared fields are as sensitive as either side
     * declares them. */
    struct finding_extra x = {.mask = (m->key_sensitive ? FINDING_MASK_KEY : 0u) |
                                      (value_sensitive ? FINDING_MASK_VALUE : 0u)};
    if (findings_write(e->findings, &f, &x, e->err) != 0)
        return -1;
    rc->failed++;
    if (!(subject->counted & (1u << ds_side))) {
        subject->counted |= (uint8_t)(1u << ds_side);
        e->failed_records++;
    }
    return 0;
}

/* Writes the missing_* finding for record x of side `from`, which has no
 * match on the other side: on x's own dataset, or on the other one when
 * `from` is the authority. Returns 0 or -1 with err. */
static int report_missing(struct emitter *e, int rule, int from, struct ent *x)
{
    struct cmp *m = e->m;
    int ds = m->rules[rule].side;
    const struct side *o = &m->side[from], *other = &m->side[1 - from];
    struct qloop_buf *msg = &e->msg;
    qloop_buf_reset(msg);
    if (ds == from) {
        /* the record exists here and has no match on the other side */
        TEXT(msg, m->auth == 1 - from ? "权威方" : "在", " ", other->dataset, " 中找不到对应记录（",
             (const char *)NULL);
        show_key(e, o, x->r, msg);
        TEXT(msg, "）");
        return put_finding(e, rule, ds, x, true, NULL, NULL, 0, false, qloop_buf_str(msg));
    }
    /* the record exists only on the authority's side: the other lacks it */
    TEXT(msg, "本方缺少记录：权威方 ", o->dataset, " ");
    findings_append_row(e->findings, msg, o->dataset, x->r->row_no);
    TEXT(msg, "有此记录（");
    show_key(e, o, x->r, msg);
    TEXT(msg, "）");
    return put_finding(e, rule, ds, x, false, NULL, NULL, 0, false, qloop_buf_str(msg));
}

/* Writes the duplicate_key_* finding for record x of side `side`. */
static int report_dup(struct emitter *e, int rule, int side, struct ent *x)
{
    struct cmp *m = e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&e->msg);
    TEXT(&e->msg, "比对键 ");
    show_key(e, s, x->r, &e->msg);
    TEXT(&e->msg, " 在 ", s->dataset, " 中出现 ");
    findings_append_uint(&e->msg, x->count);
    TEXT(&e->msg, " 次，无法与 ", m->side[1 - side].dataset, " 配对");
    size_t klen;
    const char *k = payload_str(x->r, rec_key_slot(x->r), &klen);
    return put_finding(e, rule, side, x, true, NULL, k, klen, m->key_sensitive,
                       qloop_buf_str(&e->msg));
}

int compare_report_empty(struct emitter *e, int side, struct ent *x)
{
    struct cmp *m = e->m;
    const struct side *s = &m->side[side];
    qloop_buf_reset(&e->msg);
    TEXT(&e->msg, "比对键 ");
    key_names(&e->msg, s, "、");
    TEXT(&e->msg, " 为空，无法与 ", m->side[1 - side].dataset, " 配对");
    return put_finding(e, side == 0 ? R_EMPTY_LEFT : R_EMPTY_RIGHT, side, x, true, NULL, NULL, 0,
                       false, qloop_buf_str(&e->msg));
}

/* Counts an error of rule rc on a record and prints the first one on stderr. */
static void note_error(struct emitter *e, struct rule_count *rc, const struct qloop_error *qe,
                       const struct side *s, uint64_t row_no)
{
    rc->errors++;
    if (rc->error_noted)
        return;
    rc->error_noted = true;
    char buf[1200];
    qloop_error_format(qe, buf, sizeof buf);
    fprintf(stderr,
            "qloop: 比对 \"%s\"（%s:%ld）的规则 %s 在数据集 %s 数据第 %llu 行（不计表头）出错：%s；本次运行继续，出错的记录计入 errors\n",
            e->m->pc->name, e->m->pc->file, e->m->pc->line, rc->id, s->dataset,
            (unsigned long long)row_no, buf);
}

/* Applies f's normalize to s into out; returns 1 with a value, 0 for none,
 * -1 on a Lua error (qe filled). */
static int normalize(struct emitter *e, const struct pack_compare_field *f, const char *s,
                     size_t len, struct qloop_buf *tmp, struct qloop_buf *out,
                     struct qloop_error *qe)
{
    qloop_buf_reset(out);
    if (len == 0)
        return 0;
    qloop_buf_reset(tmp);
    qloop_buf_append(tmp, s, len); /* NUL-terminated copy */
    if (f->normalize)
        return f->normalize->clean(qloop_buf_str(tmp), tmp->len, out) && out->len > 0;
    if (f->normalize_ref == LUA_NOREF) {
        qloop_buf_append(out, s, len);
        return 1;
    }
    struct qloop_lua_site site = {.rule = e->m->pc->name};
    int rc = qloop_lua_clean(e->L, f->normalize_ref, qloop_buf_str(tmp), tmp->len, &site, out, qe);
    return rc > 0 ? out->len > 0 : rc;
}

/* Judges one field of a pair: 1 equal, 0 different, -1 error (qe filled). */
static int values_equal(struct emitter *e, const struct pack_compare_field *f, const char *a,
                        size_t alen, const char *b, size_t blen, struct qloop_error *qe)
{
    int ha = normalize(e, f, a, alen, &e->t1, &e->na, qe);
    if (ha < 0)
        return -1;
    int hb = normalize(e, f, b, blen, &e->t1, &e->nb, qe);
    if (hb < 0)
        return -1;
    if (f->equal_ref != LUA_NOREF) {
        struct qloop_lua_site site = {.rule = e->m->pc->name};
        struct qloop_lua_answer ans;
        enum qloop_lua_verdict v =
            qloop_lua_check_pair(e->L, f->equal_ref, ha ? e->na.ptr : NULL, e->na.len,
                                 hb ? e->nb.ptr : NULL, e->nb.len, &site, &ans);
        if (v == QLOOP_LUA_ERROR) {
            qloop_error_set(qe, NULL, 0, 0, "%.*s", (int)ans.len, ans.text);
            return -1;
        }
        return v == QLOOP_LUA_PASS;
    }
    if (!ha || !hb)
        return ha == hb;
    if (e->na.len == e->nb.len && memcmp(e->na.ptr, e->nb.ptr, e->na.len) == 0)
        return 1;
    if (f->date) {
        qloop_buf_reset(&e->t1);
        qloop_buf_reset(&e->t2);
        if (clean_date(e->na.ptr, e->na.len, &e->t1) && clean_date(e->nb.ptr, e->nb.len, &e->t2))
            return strcmp(qloop_buf_str(&e->t1), qloop_buf_str(&e->t2)) == 0;
        return 0;
    }
    if (f->has_tolerance) {
        double x, y;
        if (qloop_parse_number(e->na.ptr, e->na.len, &x) && qloop_parse_number(e->nb.ptr, e->nb.len, &y))
            return fabs(x - y) <= f->tolerance;
        return 0;
    }
    return 0;
}

/* Compares field fi of the pair (l, r), counting it in the mismatch rule and
 * writing a finding when the values differ. Returns 0 or -1 with err (store). */
static int judge_pair(struct emitter *e, size_t fi, struct ent *l, struct ent *r)
{
    struct cmp *m = e->m;
    const struct pack_compare_field *f = m->fields[fi];
    struct rule_count *rc = &m->rules[R_MISMATCH + fi];
    const struct side *sl = &m->side[0], *sr = &m->side[1];
    size_t off_l = rec_key_slot(l->r) + 1 + fi, off_r = rec_key_slot(r->r) + 1 + fi;
    size_t alen, blen;
    const char *a = payload_str(l->r, off_l, &alen), *b = payload_str(r->r, off_r, &blen);
    struct qloop_error qe;
    qloop_error_clear(&qe);
    int eq = values_equal(e, f, a, alen, b, blen, &qe);
    if (eq < 0) {
        if (!qe.file[0] && !qe.line) {
            char text[sizeof qe.message];
            memcpy(text, qe.message, sizeof text);
            qloop_error_set(&qe, m->pc->file, m->pc->line, 0, "%s", text);
        }
        note_error(e, rc, &qe, sl, l->r->row_no);
        return 0;
    }
    rc->checked++;
    if (eq)
        return 0;
    bool sens = m->field_sensitive[fi];
    int ds = m->mismatch_side;
    struct qloop_buf *msg = &e->msg;
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
    return put_finding(e, R_MISMATCH + (int)fi, ds, ds == 0 ? l : r, true,
                       ds == 0 ? f->left : f->right, vlen > 0 ? v : NULL, vlen, sens,
                       qloop_buf_str(msg));
}

int compare_join_unit(struct emitter *e, struct ent *ents[2], const size_t n[2])
{
    struct cmp *m = e->m;
    struct fpkey *byfp[2];
    size_t nk[2];
    for (int s = 0; s < 2; s++) {
        bool sorted = true;
        for (size_t i = 1; i < n[s] && sorted; i++)
            sorted = ents[s][i - 1].r->row_no < ents[s][i].r->row_no;
        if (!sorted)
            qsort(ents[s], n[s], sizeof **ents, cmp_row);
        byfp[s] = qloop_xmalloc((n[s] + 1) * sizeof **byfp);
        nk[s] = 0;
        for (size_t i = 0; i < n[s]; i++) {
            struct ent *x = &ents[s][i];
            x->partner = NULL;
            x->counted = 0;
            x->count = 1;
            if (x->r->flags & REC_EMPTY_KEY)
                x->status = ST_EMPTY;
            else
                byfp[s][nk[s]++] = (struct fpkey){x->r->fp_hi, x->r->fp_lo, x};
        }
        qsort(byfp[s], nk[s], sizeof **byfp, cmp_fp);
    }
    /* merge groups of equal fingerprints */
    size_t i = 0, j = 0;
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
            size_t from = s == 0 ? i : j, to = s == 0 ? ei : ej, mine = s == 0 ? cl : cr,
                   theirs = s == 0 ? cr : cl;
            for (size_t k = from; k < to; k++) {
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
    free(byfp[0]);
    free(byfp[1]);

    for (int s = 0; s < 2; s++) {
        int rule = s == 0 ? R_MISSING_RIGHT : R_MISSING_LEFT;
        for (size_t k = 0; k < n[s]; k++) {
            struct ent *x = &ents[s][k];
            if (x->status == ST_EMPTY || x->status == ST_DUP)
                continue;
            m->rules[rule].checked++;
            if (x->status == ST_MISSING && report_missing(e, rule, s, x) != 0)
                return -1;
        }
    }
    for (size_t fi = 0; fi < m->nfields; fi++)
        for (size_t k = 0; k < n[0]; k++) {
            struct ent *x = &ents[0][k];
            if (x->status == ST_PAIRED && judge_pair(e, fi, x, x->partner) != 0)
                return -1;
        }
    for (int s = 0; s < 2; s++) {
        int rule = s == 0 ? R_DUP_LEFT : R_DUP_RIGHT;
        for (size_t k = 0; k < n[s]; k++) {
            struct ent *x = &ents[s][k];
            if (x->status == ST_EMPTY)
                continue;
            m->rules[rule].checked++;
            if (x->status == ST_DUP && report_dup(e, rule, s, x) != 0)
                return -1;
        }
    }
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < n[s]; k++)
            if (ents[s][k].status == ST_EMPTY && compare_report_empty(e, s, &ents[s][k]) != 0)
                return -1;
    return 0;
}

/* The number of records in chunk k. */
static size_t chunk_records(const struct chunk *k)
{
    size_t n = 0;
    for (size_t off = 0; off < k->used; n++)
        off += rec_size(((const struct rec *)((const char *)k->data + off))->len);
    return n;
}

int compare_join_in_memory(struct emitter *e)
{
    struct ent *ents[2];
    size_t n[2];
    for (int s = 0; s < 2; s++) {
        struct side *sd = &e->m->side[s];
        size_t total = 0;
        for (struct chunk *k = sd->head; k; k = k->next)
            total += chunk_records(k);
        ents[s] = qloop_xcalloc(total + 1, sizeof **ents);
        n[s] = 0;
        for (struct chunk *k = sd->head; k; k = k->next)
            for (size_t off = 0; off < k->used;) {
                const struct rec *r = (const struct rec *)((const char *)k->data + off);
                ents[s][n[s]++].r = r;
                off += rec_size(r->len);
            }
    }
    int rc = compare_join_unit(e, ents, n);
    free(ents[0]);
    free(ents[1]);
    return rc;
}

