/*
 * identity.c — which record a row is, for findings and tickets.
 *
 * A record is identified by its key (the dataset's key fields, joined by
 * '|'). A record without one — the dataset declares no key, or a key field
 * is empty — is identified by a fingerprint of its content and its
 * occurrence among identical records: the n-th keyless record of the
 * dataset with that content is "fingerprint #n". So every failing record is
 * an item of its ticket (two keyless records never merge into one, and the
 * second of two identical rows is an item of its own), and the same keyless
 * record found again next night — same content, same occurrence — joins its
 * open item. A keyless record whose content changes is, to qloop, another
 * record: the old one is missing from the data (the re-check marks its item
 * missing; the steward verifies), the new one is judged afresh.
 *
 * The fingerprint (strmap_fingerprint, 128 bits) is over the record's
 * non-empty raw values (the dataset's null_values count as empty) with their
 * column names, in name order: neither the
 * order of the columns nor a column that is empty or absent (a JSON Lines
 * key, a new empty CSV column) changes it. The occurrence is counted over the whole
 * dataset in data order; since identical records are interchangeable, any
 * order — and any split of the data into parts — gives the same set of
 * identities {fp #1, ..., fp #n}: a merge of partitioned runs can compute
 * them from each part's (fingerprint, count) by adding the counts of the
 * parts before (see the report of the Loop-fixes issue and Scale-out).
 *
 * The raw key of a keyless record (ds_row_key) carries both what identifies
 * it and what people are shown: "\0K" FINGERPRINT "#" OCCURRENCE "\0#" ROW.
 * The NUL bytes cannot occur in a real key (neither CSV nor JSON Lines lets
 * a value hold one), so no key is ever mistaken for an identity;
 * findings_record_ref (findings.c) hashes the part before the second NUL,
 * and the record is shown as "#ROW", its data row.
 */
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h" /* qloop_hex */
#include "base/strmap.h"
#include "base/text.h"
#include "run/context.h"
#include "run/findings.h"

enum { NO_IDENT = SIZE_MAX };

void identity_bind(struct ds_ctx *ds)
{
    /* insertion sort: a dataset has tens of columns, bound a few times */
    ds->name_order = qloop_xrealloc(ds->name_order, (ds->ncols + 1) * sizeof *ds->name_order);
    for (size_t i = 0; i < ds->ncols; i++) {
        size_t j = i;
        while (j > 0 && strcmp(ds->names[ds->name_order[j - 1]], ds->names[i]) > 0) {
            ds->name_order[j] = ds->name_order[j - 1];
            j--;
        }
        ds->name_order[j] = i;
    }
}

bool identity_keyless(const struct ds_ctx *ds, size_t row)
{
    /* the workers' answer, from the cleansed cells (judge.c: key_empty) */
    if (ds->key_empty && ds->key_empty[row] < 2)
        return ds->key_empty[row];
    if (ds->d->nkeys == 0)
        return true;
    for (size_t i = 0; i < ds->d->nkeys; i++)
        if (qloop_value_empty(ds_cell(ds, row, ds->key_cols[i])))
            return true;
    return false;
}

/* The fingerprint of row's raw content into fp (hi, lo): each non-empty
 * value (a null_values text counts as empty) with its column name, in name
 * order, as name NUL length(8 bytes,
 * little-endian) value, hashed by strmap_fingerprint. */
static void fingerprint(struct ds_ctx *ds, size_t row, uint64_t fp[2])
{
    const struct qloop_batch *b = ds->batch;
    struct qloop_buf *c = &ds->content;
    qloop_buf_reset(c);
    for (size_t k = 0; k < ds->ncols; k++) {
        size_t col = ds->name_order[k];
        if (col >= b->ncols)
            continue;
        const struct qloop_field *f = &b->cells[row * b->ncols + col];
        if (qloop_value_empty(f) || (ds->nulls && strmap_get(ds->nulls, f->ptr, f->len)))
            continue;
        const char *name = ds->names[col];
        char len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (char)(uint8_t)((uint64_t)f->len >> (8 * i));
        qloop_buf_append(c, name, strlen(name) + 1);
        qloop_buf_append(c, len, sizeof len);
        qloop_buf_append(c, f->ptr, f->len);
    }
    strmap_fingerprint(c->ptr ? c->ptr : "", c->len, &fp[0], &fp[1]);
}

void identity_batch(struct ds_ctx *ds)
{
    const struct qloop_batch *b = ds->batch;
    if (b->nrows > ds->ident_cap) {
        ds->ident_at = qloop_xrealloc(ds->ident_at, b->nrows * sizeof *ds->ident_at);
        ds->ident_cap = b->nrows;
    }
    qloop_buf_reset(&ds->idents);
    for (size_t row = 0; row < b->nrows; row++) {
        if (!identity_keyless(ds, row)) {
            ds->ident_at[row] = NO_IDENT;
            continue;
        }
        if (!ds->keyless)
            ds->keyless = strmap_new();
        uint64_t fp[2];
        fingerprint(ds, row, fp);
        uint8_t bytes[16];
        for (int i = 0; i < 8; i++) {
            bytes[i] = (uint8_t)(fp[0] >> (56 - 8 * i));
            bytes[8 + i] = (uint8_t)(fp[1] >> (56 - 8 * i));
        }
        char hex[33];
        qloop_hex(bytes, sizeof bytes, hex);
        uint64_t occurrence = ++*strmap_put(ds->keyless, (const char *)bytes, sizeof bytes, NULL);
        ds->ident_at[row] = ds->idents.len;
        qloop_buf_append(&ds->idents, "\0K", 2);
        qloop_buf_append(&ds->idents, hex, 32);
        qloop_buf_putc(&ds->idents, '#');
        findings_append_uint(&ds->idents, occurrence);
        qloop_buf_putc(&ds->idents, '\0');
    }
}

bool identity_of(const struct ds_ctx *ds, size_t row, struct qloop_buf *out)
{
    if (!ds->ident_at || row >= ds->ident_cap || ds->ident_at[row] == NO_IDENT)
        return false;
    const char *id = ds->idents.ptr + ds->ident_at[row];
    size_t len = 2 + strlen(id + 2) + 1; /* "\0K...#n\0" */
    qloop_buf_append(out, id, len);
    findings_row_key(out, ds->batch->row_no[row]);
    return true;
}

void identity_free(struct ds_ctx *ds)
{
    qloop_buf_free(&ds->content);
    strmap_free(ds->keyless);
    free(ds->ident_at);
    free(ds->name_order);
    qloop_buf_free(&ds->idents);
}
