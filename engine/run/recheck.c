/*
 * recheck.c — which records of open tickets a run saw.
 *
 * A corrected ticket is re-checked by the next run: each of its problem
 * records either fails again (a finding), is gone from the data, or was seen
 * and passed. Which records the run saw matters only to this run's re-check,
 * so it stays in memory and the tickets ask (recheck_seen, the ticket_seen
 * callback of loop/ticket.h). Only the refs of open ticket items are kept,
 * per dataset, as 16-byte refs with a seen bit each (openrefs.h: about 18
 * bytes per open item, held by the run until the tickets are synced); the
 * workers compute each row's ref (recheck_row_ref) only when the dataset has
 * such items.
 */
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "loop/ticket.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/openrefs.h"
#include "store/store.h"

/* What ds->refs[row] holds after the workers (recheck_rows_ref): "" for a
 * keyless record (its ref is made on the run's thread), NOT_OPEN for a row
 * no open item refers to, OPEN_AT and the position of its ref in the set
 * (a size_t, from byte 1) for a row one does; HASHED and the ref's 16
 * bytes only while a worker computes them. After NOT_OPEN or OPEN_AT, bytes
 * REF_WORDS .. 32 keep the ref's two words, for the row's findings
 * (recheck_row_ref: made once per row); NO_REF is a row whose ref could not
 * be had (read as NOT_OPEN). */
enum { NOT_OPEN = '-', OPEN_AT = '+', HASHED = '#', NO_REF = '?', REF_WORDS = 17 };
_Static_assert(REF_WORDS + 2 * sizeof(uint64_t) == 33, "a row's slot holds tag, place and ref");

static void add_open_ref(void *ctx, const char *ref)
{
    openrefs_add(ctx, ref);
}

/* The run's set of dataset's open refs, or NULL. */
static struct openrefs *set_of(const struct run_ctx *run, const char *dataset)
{
    for (size_t i = 0; i < run->nrechecks; i++)
        if (strcmp(run->rechecks[i].dataset, dataset) == 0)
            return run->rechecks[i].refs;
    return NULL;
}

/* Loads the record refs of the dataset's open ticket items into the run's
 * set for the dataset (made on the first call; a dataset read again keeps
 * what was seen before). */
int recheck_begin(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    ds->open_refs = set_of(run, ds->d->name);
    if (ds->open_refs)
        return 0;
    struct openrefs *s = openrefs_new();
    run->rechecks = qloop_xrealloc(run->rechecks, (run->nrechecks + 1) * sizeof *run->rechecks);
    run->rechecks[run->nrechecks++] = (struct recheck_set){.dataset = qloop_xstrdup(ds->d->name), .refs = s};
    ds->open_refs = s;
    int rc = ticket_open_refs(run->db, ds->d->name, add_open_ref, s, run->err);
    openrefs_seal(s);
    return rc;
}

void recheck_free(struct run_ctx *run)
{
    for (size_t i = 0; i < run->nrechecks; i++) {
        free(run->rechecks[i].dataset);
        openrefs_free(run->rechecks[i].refs);
    }
    free(run->rechecks);
    run->rechecks = NULL;
    run->nrechecks = 0;
}

bool recheck_wanted(const struct ds_ctx *ds)
{
    return openrefs_count(ds->open_refs) > 0;
}

/* Notes that the run saw the record whose ref is ref, when an open ticket
 * item refers to it. */
static void see_ref(struct ds_ctx *ds, const char *ref)
{
    openrefs_see(ds->open_refs, ref);
}

void recheck_batch(struct ds_ctx *ds)
{
    if (!recheck_wanted(ds))
        return;
    struct qloop_buf key = {0};
    for (size_t row = 0; row < ds->batch->nrows; row++) {
        if (ds->refs[row][0] == NOT_OPEN || ds->refs[row][0] == NO_REF)
            continue;
        if (ds->refs[row][0] == OPEN_AT) { /* found by the worker */
            size_t pos;
            memcpy(&pos, ds->refs[row] + 1, sizeof pos);
            openrefs_see_at(ds->open_refs, pos);
            continue;
        }
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
    if (!recheck_wanted(ds))
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

/* The judge's callback, on a worker thread for its rows begin .. end:
 * whether an open item refers to each row's record, and where its ref is
 * in the sealed set (OPEN_AT), so that the run's thread only marks it seen.
 * First each row's ref is computed (HASHED), then each is looked up while
 * the index entry and the bucket of the rows a little ahead are fetched: a
 * lookup in a set of 1.8M refs (W1 10M night 2) otherwise waits on two
 * cache misses. A record without a key has no identity yet (its occurrence
 * is counted on the run's thread after the workers): "" for now,
 * recheck_batch makes its ref. */
void recheck_rows_ref(void *ctx, size_t begin, size_t end, struct qloop_buf *scratch,
                      char (*out)[33])
{
    struct ds_ctx *ds = ctx;
    for (size_t row = begin; row < end; row++) {
        if (identity_keyless(ds, row)) {
            out[row][0] = '\0';
            continue;
        }
        uint64_t ref[2] = {0, 0};
        ds_row_key(ds, row, scratch);
        if (scratch->len && scratch->ptr[0] == '\0') { /* findings_record_ref's own case */
            char hex[33];
            findings_record_ref(ds->run->secret, ds->d->name, scratch->ptr, scratch->len, hex);
            out[row][0] = qloop_unhex128(hex, ref) ? HASHED : NO_REF;
        } else { /* its ref's bytes, not written as hex to be read back */
            store_record_ref_words(ds->run->secret, ds->d->name, scratch->ptr, scratch->len, ref);
            out[row][0] = HASHED;
        }
        memcpy(out[row] + 1, ref, sizeof ref);
    }
    enum { AHEAD = 8 };
    for (size_t row = begin; row < end; row++) {
        uint64_t ref[2];
        if (row + 2 * AHEAD < end && out[row + 2 * AHEAD][0] == HASHED) {
            memcpy(ref, out[row + 2 * AHEAD] + 1, sizeof ref);
            openrefs_prefetch128(ds->open_refs, ref, 0);
        }
        if (row + AHEAD < end && out[row + AHEAD][0] == HASHED) {
            memcpy(ref, out[row + AHEAD] + 1, sizeof ref);
            openrefs_prefetch128(ds->open_refs, ref, 1);
        }
        if (out[row][0] != HASHED)
            continue;
        memcpy(ref, out[row] + 1, sizeof ref);
        memcpy(out[row] + REF_WORDS, ref, sizeof ref);
        long pos = openrefs_find128(ds->open_refs, ref);
        if (pos < 0) {
            out[row][0] = NOT_OPEN;
            continue;
        }
        size_t at = (size_t)pos;
        out[row][0] = OPEN_AT;
        memcpy(out[row] + 1, &at, sizeof at);
    }
}

bool recheck_row_ref(const struct ds_ctx *ds, size_t row, char hex[33])
{
    if (!ds->jd.row_refs || !ds->refs)
        return false;
    const char *slot = ds->refs[row];
    if (slot[0] != NOT_OPEN && slot[0] != OPEN_AT)
        return false;
    uint64_t ref[2];
    memcpy(ref, slot + REF_WORDS, sizeof ref);
    qloop_hex128(ref, hex);
    hex[32] = '\0';
    return true;
}

/* The tickets' question: did this run see record ref of dataset? */
bool recheck_seen(void *ctx, const char *dataset, const char *ref)
{
    const struct run_ctx *run = ctx;
    return dataset && openrefs_seen(set_of(run, dataset), ref);
}
