/*
 * findings_keys.c — a flush's keys collected and sorted on a thread of
 * their own (see run/findings_keys.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "run/findings_enc.h"
#include "run/findings_keys.h"

struct findings_keys {
    pthread_t thread;
    struct findings_refs *refs;
    struct stage_spool_view *view;
    int64_t *kind_of; /* kind_of[k]: the store kind of the writer's kind k */
    size_t nkinds;
    struct findings_enc_walk walk;
    bool whole; /* the view read to its end, every finding added */
};

/* findings_enc_walk's one: the entry of encoded finding enc. 0, or 1 for
 * a kind the table does not map (the collection fails). */
static int add_one(void *ctx, const char *enc)
{
    struct findings_keys *k = ctx;
    struct findings_enc_head h;
    memcpy(&h, enc, sizeof h);
    if (h.kind == 0 || h.kind > k->nkinds || k->kind_of[h.kind] == 0)
        return 1;
    findings_refs_add(k->refs, k->kind_of[h.kind], h.ref, h.digest);
    return 0;
}

/* stage_spool_view_read's each: a piece of the spool walked. */
static int add_piece(void *ctx, const void *p, size_t n)
{
    struct findings_keys *k = ctx;
    struct qloop_error err; /* not reported: the flush meets the same bytes and says */
    qloop_error_clear(&err);
    return findings_enc_walk(&k->walk, p, n, add_one, k, &err);
}

static void *collect(void *arg)
{
    struct findings_keys *k = arg;
    k->whole = stage_spool_view_read(k->view, add_piece, k) == 0 && k->walk.carry.len == 0;
    if (k->whole)
        findings_refs_sort_entries(k->refs);
    return NULL;
}

struct findings_keys *findings_keys_start(struct findings_refs *r, struct stage_spool_view *view,
                                          const int64_t *kind_of, size_t nkinds)
{
    struct findings_keys *k = qloop_xcalloc(1, sizeof *k);
    k->refs = r;
    k->view = view;
    k->nkinds = nkinds;
    k->kind_of = qloop_xmalloc((nkinds + 1) * sizeof *k->kind_of);
    memcpy(k->kind_of, kind_of, (nkinds + 1) * sizeof *k->kind_of);
    /* the walk's carry made here too: the thread allocates nothing but for
     * a finding larger than this */
    qloop_buf_reserve(&k->walk.carry, 1 << 16);
    findings_refs_aside(r);
    if (pthread_create(&k->thread, NULL, collect, k) != 0) {
        findings_refs_aside_done(r, true); /* nothing added: the flush adds them */
        stage_spool_view_free(view);
        qloop_buf_free(&k->walk.carry);
        free(k->kind_of);
        free(k);
        return NULL;
    }
    return k;
}

void findings_keys_join(struct findings_keys *k)
{
    pthread_join(k->thread, NULL);
    findings_refs_aside_done(k->refs, k->whole);
    stage_spool_view_free(k->view);
    qloop_buf_free(&k->walk.carry);
    free(k->kind_of);
    free(k);
}
