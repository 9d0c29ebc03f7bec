/*
 * recheck.c — which records of open tickets a run saw.
 *
 * A corrected ticket is re-checked by the next run: each of its problem
 * records either fails again (a finding), is gone from the data, or was seen
 * and passed. Which records the run saw matters only to this run's re-check,
 * so it stays in memory (run->seen, "dataset\0record_ref") and the tickets
 * ask (recheck_seen, the ticket_seen callback of loop/ticket.h). Only the
 * refs of open ticket items are kept; the workers compute each row's ref
 * (recheck_row_ref) only when the dataset has such items.
 */
#include <string.h>

#include "base/strmap.h"
#include "loop/ticket.h"
#include "run/context.h"
#include "run/findings.h"
#include "store/store.h"

static void add_open_ref(void *ctx, const char *ref)
{
    strmap_put(ctx, ref, strlen(ref), NULL);
}

/* Loads the record refs of the dataset's open ticket items. */
int recheck_begin(struct ds_ctx *ds)
{
    ds->open_refs = strmap_new();
    return ticket_open_refs(ds->run->db, ds->d->name, add_open_ref, ds->open_refs, ds->run->err);
}

/* Notes that the run saw the record whose ref is ref, when an open ticket
 * item refers to it. */
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

void recheck_batch(struct ds_ctx *ds)
{
    if (!ds->open_refs || strmap_count(ds->open_refs) == 0)
        return;
    struct qloop_buf key = {0};
    for (size_t row = 0; row < ds->batch->nrows; row++) {
        if (!ds->refs[row][0]) { /* a keyless record: by its identity */
            ds_row_key(ds, row, &key);
            findings_record_ref(ds->run->secret, ds->d->name, key.ptr, key.len, ds->refs[row]);
        }
        see_ref(ds, ds->refs[row]);
    }
    qloop_buf_free(&key);
}

/* Dataset-level findings (freshness) have the empty key: reading the dataset
 * is seeing that "record", so a fresh dataset closes them. */
void recheck_dataset_seen(struct ds_ctx *ds)
{
    if (!ds->open_refs || strmap_count(ds->open_refs) == 0)
        return;
    char empty_ref[33];
    store_record_ref_keyed(ds->run->secret, ds->d->name, "", 0, empty_ref);
    see_ref(ds, empty_ref);
}

void recheck_see_key(struct ds_ctx *ds, const char *key, size_t len)
{
    char ref[33];
    findings_record_ref(ds->run->secret, ds->d->name, key, len, ref);
    see_ref(ds, ref);
}

/* The judge's callback: the record_ref of a row (on a worker thread). A
 * record without a key has no identity yet (its occurrence is counted on
 * the run's thread after the workers): "" for now, recheck_batch fills it. */
void recheck_row_ref(void *ctx, size_t row, struct qloop_buf *scratch, char out[33])
{
    struct ds_ctx *ds = ctx;
    if (identity_keyless(ds, row)) {
        out[0] = '\0';
        return;
    }
    ds_row_key(ds, row, scratch);
    findings_record_ref(ds->run->secret, ds->d->name, scratch->ptr, scratch->len, out);
}

/* The tickets' question: did this run see record ref of dataset? */
bool recheck_seen(void *ctx, const char *dataset, const char *ref)
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
