/*
 * findings.c — the one findings writer (see run/findings.h).
 *
 * findings_write is four named steps, in order: record_ref, the key shown,
 * the value shown, the message; then one prepared INSERT into
 * temp.stage_findings. Buffers live in the writer and are reused; text is
 * bound without a copy (SQLITE_STATIC) because every parameter is bound anew
 * before each step and nothing moves until the step is done. A finding whose
 * key or value was masked also carries the raw ones sealed with the store's
 * key file (identity/seal.h), so the owner department can see its record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "checks/mask.h"
#include "identity/seal.h"
#include "run/findings.h"
#include "store/sql.h"
#include "store/store.h"

/* The parts of one dataset of a partitioned run (findings_writer_parts). */
struct parts {
    char *dataset;
    size_t n;
    uint64_t *offsets;
};

struct findings_writer {
    sqlite3 *db;
    char run_id[64];
    const struct pack *p;
    const unsigned char *secret;
    sqlite3_stmt *ins;
    /* the dataset of the last finding, and whether a key field of it is sensitive */
    const struct pack_dataset *d;
    bool key_sensitive;
    struct qloop_buf key, value, msg, sealed, masked, part;
    struct ident_sealer sealer;
    struct parts *parts;
    size_t nparts;
    struct mask_value *quoted; /* the sensitive values a message may quote */
    size_t quoted_cap;
};

struct findings_writer *findings_writer_new(sqlite3 *db, const char *run_id, const struct pack *p,
                                            struct qloop_error *err)
{
    sqlite3_stmt *ins = sql_prepare(db,
                                    "INSERT INTO temp.stage_findings(run_id, dataset, rule, row_no,"
                                    " record_ref, record_key, field, value, message, sealed, part)"
                                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                                    err);
    if (!ins)
        return NULL;
    struct findings_writer *w = qloop_xcalloc(1, sizeof *w);
    if (ident_sealer_open(db, &w->sealer, err) != 0) {
        sqlite3_finalize(ins);
        free(w);
        return NULL;
    }
    w->db = db;
    snprintf(w->run_id, sizeof w->run_id, "%s", run_id);
    w->p = p;
    w->secret = store_secret(db);
    w->ins = ins;
    return w;
}

void findings_writer_free(struct findings_writer *w)
{
    if (!w)
        return;
    sqlite3_finalize(w->ins);
    qloop_buf_free(&w->key);
    qloop_buf_free(&w->value);
    qloop_buf_free(&w->msg);
    qloop_buf_free(&w->sealed);
    ident_sealer_close(&w->sealer);
    qloop_buf_free(&w->part);
    for (size_t i = 0; i < w->nparts; i++) {
        free(w->parts[i].dataset);
        free(w->parts[i].offsets);
    }
    free(w->parts);
    qloop_buf_free(&w->masked);
    free(w->quoted);
    free(w);
}

void findings_writer_parts(struct findings_writer *w, const char *dataset, size_t nparts,
                           const uint64_t *offsets)
{
    struct parts *p = NULL;
    for (size_t i = 0; !p && i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            p = &w->parts[i];
    if (p) {
        free(p->offsets);
    } else {
        w->parts = qloop_xrealloc(w->parts, (w->nparts + 1) * sizeof *w->parts);
        p = &w->parts[w->nparts++];
        p->dataset = qloop_xstrdup(dataset);
    }
    p->n = nparts;
    p->offsets = qloop_xcalloc(nparts + 1, sizeof *p->offsets);
    memcpy(p->offsets, offsets, nparts * sizeof *offsets);
}

/* Splits row_no of dataset into its part (0-based, into *part; -1 when the
 * dataset is read whole) and its row within the part (returned). */
static uint64_t part_row(const struct findings_writer *w, const char *dataset, uint64_t row_no,
                         long *part)
{
    *part = -1;
    const struct parts *p = NULL;
    for (size_t i = 0; !p && i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            p = &w->parts[i];
    if (!p || row_no == 0 || p->n == 0)
        return row_no;
    size_t lo = 0, hi = p->n; /* the last part whose first row is at or before row_no */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->offsets[mid] < row_no)
            lo = mid;
        else
            hi = mid;
    }
    *part = (long)lo;
    return row_no - p->offsets[lo];
}

/* "I/N" of a 0-based part into out. */
static void part_name(const struct findings_writer *w, const char *dataset, long part,
                      struct qloop_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            n = w->parts[i].n;
    findings_append_uint(out, (uint64_t)part + 1);
    qloop_buf_putc(out, '/');
    findings_append_uint(out, n);
}

void findings_append_row(const struct findings_writer *w, struct qloop_buf *out,
                         const char *dataset, uint64_t row_no)
{
    long part;
    uint64_t row = part_row(w, dataset, row_no, &part);
    if (part >= 0) {
        qloop_buf_append(out, "第 ", strlen("第 "));
        part_name(w, dataset, part, out);
        qloop_buf_append(out, " 部分", strlen(" 部分"));
    }
    qloop_buf_append(out, "数据第 ", strlen("数据第 "));
    findings_append_uint(out, row);
    qloop_buf_append(out, " 行（不计表头）", strlen(" 行（不计表头）"));
}

void findings_mask_key(const char *key, size_t len, struct qloop_buf *out)
{
    mask_sensitive(key, len, out);
}

/* Makes name the current dataset (w->d, NULL when the pack lacks it). */
static void use_dataset(struct findings_writer *w, const char *name)
{
    if (w->d && strcmp(w->d->name, name) == 0)
        return;
    w->d = pack_find_dataset(w->p, name);
    w->key_sensitive = false;
    for (size_t i = 0; w->d && i < w->d->nkeys; i++)
        w->key_sensitive |= pack_is_sensitive(w->d, w->d->keys[i]);
}

/* s[0..len), masked into buf when sensitive. */
static const char *shown(const char *s, size_t len, bool sensitive, struct qloop_buf *buf,
                         size_t *outlen)
{
    if (!sensitive) {
        *outlen = len;
        return s;
    }
    qloop_buf_reset(buf);
    mask_sensitive(s, len, buf);
    *outlen = buf->len;
    return qloop_buf_str(buf);
}

static void append(struct qloop_buf *b, const char *s)
{
    qloop_buf_append(b, s, strlen(s));
}

/* The message of pack rule id, or id itself when the pack has no such rule. */
static const char *rule_message(const struct findings_writer *w, const char *id)
{
    for (size_t i = 0; i < w->p->nrules; i++)
        if (strcmp(w->p->rules[i].id, id) == 0)
            return w->p->rules[i].message;
    return id;
}

/* The message of f as composed (masked_message masks it). Every finding's
 * text passes here and only here. */
static const char *findings_message(struct findings_writer *w, const struct qloop_finding *f,
                                    const struct finding_extra *x)
{
    if (f->message)
        return f->message;
    const char *message = x && x->rule_message ? x->rule_message : rule_message(w, f->rule);
    const char *reason = x && x->reason && *x->reason ? x->reason : NULL;
    if (!reason || (!x->message_default && strcmp(reason, message) == 0))
        return message;
    qloop_buf_reset(&w->msg);
    if (!x->message_default) {
        append(&w->msg, message);
        append(&w->msg, "：");
    } else if (f->field) {
        append(&w->msg, f->field);
        append(&w->msg, "：");
    }
    append(&w->msg, reason);
    return qloop_buf_str(&w->msg);
}

/* The length of the part of raw key that identifies the record: all of it,
 * or for a record without a key ("\0" IDENTITY "\0" SHOWN, identity.c) the
 * part before the second NUL. */
static size_t identity_len(const char *key, size_t keylen)
{
    if (keylen == 0 || key[0] != '\0')
        return keylen;
    const char *end = memchr(key + 1, '\0', keylen - 1);
    return end ? (size_t)(end - key) : keylen;
}

void findings_record_ref(const unsigned char secret[32], const char *dataset, const char *key,
                         size_t keylen, char out[33])
{
    store_record_ref_keyed(secret, dataset, key, identity_len(key, keylen), out);
}

/* The message of f with the personal data in it masked (mask_text): by
 * shape, and wherever it quotes the raw key or value (when they are masked;
 * NULL otherwise) or one of the finder's values. */
static const char *masked_message(struct findings_writer *w, const struct qloop_finding *f,
                                  const struct finding_extra *x, const char *key, size_t keylen,
                                  const char *value, size_t vlen)
{
    const char *message = findings_message(w, f, x);
    if (!message)
        return NULL;
    size_t n = x ? x->nvalues : 0;
    if (n + 2 > w->quoted_cap) {
        w->quoted_cap = n + 2;
        w->quoted = qloop_xrealloc(w->quoted, w->quoted_cap * sizeof *w->quoted);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        w->quoted[k++] = x->values[i];
    if (key)
        w->quoted[k++] = (struct mask_value){key, keylen};
    if (value)
        w->quoted[k++] = (struct mask_value){value, vlen};
    qloop_buf_reset(&w->masked);
    if (mask_text(message, strlen(message), w->quoted, k, &w->masked) == 0)
        return message;
    return qloop_buf_str(&w->masked);
}

int findings_write(struct findings_writer *w, const struct qloop_finding *f,
                   const struct finding_extra *x, struct qloop_error *err)
{
    unsigned mask = x ? x->mask : 0;
    bool of_record = f->row_no != 0;
    use_dataset(w, f->dataset);

    const char *raw_key = f->key ? f->key : "";
    char ref[33];
    findings_record_ref(w->secret, f->dataset, raw_key, f->keylen, ref);

    /* A record without a key is shown by its data row ("#ROW"), nothing
     * personal; a key, masked when sensitive (a malformed row's key is its
     * row number: FINDING_KEY_ROW). */
    size_t idlen = identity_len(raw_key, f->keylen), keylen;
    bool keyless = idlen < f->keylen;
    const char *plain_key = keyless ? raw_key + idlen + 1 : raw_key;
    size_t plain_len = keyless ? f->keylen - idlen - 1 : f->keylen;
    bool key_masked = !keyless && ((mask & FINDING_MASK_KEY) ||
                                   (of_record && w->key_sensitive && !(mask & FINDING_KEY_ROW)));
    const char *key = shown(plain_key, plain_len, key_masked, &w->key, &keylen);

    size_t vlen = 0;
    bool value_masked = f->value && ((mask & FINDING_MASK_VALUE) ||
                                     (of_record && pack_is_sensitive(w->d, f->field)));
    const char *value = f->value ? shown(f->value, f->vlen, value_masked, &w->value, &vlen) : NULL;

    const char *message = masked_message(w, f, x, key_masked ? plain_key : NULL, plain_len,
                                         value_masked ? f->value : NULL, f->vlen);

    long part = -1;
    uint64_t row_no = w->nparts ? part_row(w, f->dataset, f->row_no, &part) : f->row_no;
    if (part >= 0) {
        qloop_buf_reset(&w->part);
        part_name(w, f->dataset, part, &w->part);
    }

    sqlite3_stmt *st = w->ins;
    sqlite3_bind_text(st, 1, w->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->rule, -1, SQLITE_STATIC);
    if (row_no)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)row_no);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, ref, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, key, (int)keylen, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, f->field, -1, SQLITE_STATIC); /* NULL pointer: SQL NULL */
    if (value)
        sqlite3_bind_text(st, 8, value, (int)vlen, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_text(st, 9, message, -1, SQLITE_STATIC);
    /* What masking hid, sealed for the owner (only then: nothing to hide,
     * nothing to seal). */
    if (key != plain_key || (value && value != f->value)) {
        struct ident_record r = {plain_key, plain_len, f->value, f->vlen};
        ident_seal(&w->sealer, f->dataset, ref, f->field, &r, &w->sealed);
        sqlite3_bind_blob(st, 10, w->sealed.ptr, (int)w->sealed.len, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 10);
    }
    if (part >= 0)
        sqlite3_bind_text(st, 11, w->part.ptr, (int)w->part.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 11);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_error(w->db, "写入问题记录", err);
    sqlite3_reset(st);
    return rc;
}

void findings_quote(struct qloop_buf *out, const char *s, size_t len, bool sensitive)
{
    if (len == 0)
        append(out, "（空）");
    else if (sensitive)
        mask_sensitive(s, len, out);
    else
        qloop_buf_append(out, s, len);
}

void findings_append_uint(struct qloop_buf *out, uint64_t n)
{
    char digits[24];
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    qloop_buf_append(out, digits + i, sizeof digits - i);
}

void findings_row_key(struct qloop_buf *out, uint64_t row_no)
{
    qloop_buf_putc(out, '#');
    findings_append_uint(out, row_no);
}

static int sink_write(void *ctx, const struct qloop_finding *f, struct qloop_error *err)
{
    return findings_write(ctx, f, NULL, err);
}

struct qloop_findings_sink findings_sink(struct findings_writer *w)
{
    return (struct qloop_findings_sink){.write = sink_write, .ctx = w};
}
