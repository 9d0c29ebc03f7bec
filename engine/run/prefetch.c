/*
 * prefetch.c — reading ahead: a dataset's source read by a thread of its
 * own, one batch ahead of the batch loop (ds_prefetch, context.h).
 *
 * The reading thread used to parse each batch itself and only then hand it
 * to the workers; the other core waited meanwhile. Here a reader thread calls
 * the source's next_batch and copies the batch (cells, their bytes, row and
 * line numbers, malformed rows, the column names so far) into one of two
 * slots, while the batch loop judges and merges the batch in the other. The
 * wrapper is itself an adapter (adapter.h): ds->ad and ds->src are replaced
 * by it, so the loop reads batches exactly as before, in the same order and
 * with the same contents; a batch stays valid until the next next_batch, as
 * the interface says — and one more: until the second next_batch after it,
 * since the loop merges a batch while the workers judge the next one
 * (dataset.c). So there are three slots: two the loop holds, one the reader
 * fills. close() stops the reader and closes the source.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "run/context.h"

/* One batch as read, owned. */
struct slot {
    int got;                 /* next_batch's answer; 2: empty */
    struct qloop_error err;  /* when got < 0 */
    struct qloop_batch batch;
    struct qloop_field *cells;
    size_t cells_cap;
    uint64_t *row_no, *line_no;
    size_t rows_cap;
    struct qloop_bad_row *bad;
    size_t bad_cap;
    struct qloop_buf bytes;  /* the fields' and messages' bytes */
    const char *const *names; /* the column names after this batch (a version below) */
    size_t ncols;
};

/* The column names as they grew: every version kept until close, so that a
 * version's pointer stays what the loop bound (ds_bind_names compares it). */
struct names {
    struct names *prev;
    size_t n;
    const char *name[];
};

enum { EMPTY = 2, NSLOTS = 3 };

struct prefetch {
    struct qloop_adapter ad; /* the wrapper, with the source's name and flags */
    const struct qloop_adapter *inner;
    void *src;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot slot[NSLOTS];
    size_t next_fill, next_take; /* slot indices */
    struct slot *held[2];        /* the batches the loop has, older first, or NULL */
    struct names *names;         /* the latest version (the reader's) */
    const char *const *cur_names; /* what columns() says (the loop's) */
    size_t cur_ncols;
    bool quit;
};

/* The source's columns now, as a version (a new one when they grew). */
static void note_names(struct prefetch *p)
{
    size_t n;
    const char *const *names;
    p->inner->columns(p->src, &n, &names);
    if (p->names && p->names->n == n)
        return;
    struct names *v = qloop_xmalloc(sizeof *v + (n + 1) * sizeof *v->name);
    v->prev = p->names;
    v->n = n;
    if (n)
        memcpy(v->name, names, n * sizeof *names);
    p->names = v;
}

/* Copies the cells of b into s's cells and bytes from at on, each followed
 * by a NUL, and returns the byte after the last. Cells that follow each other
 * in the source's buffer one byte apart (a delimiter or a line end) are
 * copied as one span, their separators then replaced by NULs: one memcpy per
 * run instead of one per cell. The bytes land where copying cell by cell
 * would put them; at must have room for every cell's bytes and NUL. */
static char *copy_runs(struct slot *s, const struct qloop_batch *b, char *at)
{
    size_t ncells = b->nrows * b->ncols;
    size_t run = 0;             /* first cell of the pending run, if any */
    bool have_run = false;
    const char *run_src = NULL; /* its source bytes .. run_end */
    const char *run_end = NULL;
    char *run_at = at;
    for (size_t i = 0; i <= ncells; i++) {
        const struct qloop_field *f = i < ncells ? &b->cells[i] : NULL;
        const char *src = f && f->ptr ? f->ptr : "";
        if (f && have_run && (uintptr_t)src == (uintptr_t)run_end + 1) {
            run_end = src + f->len;
            continue;
        }
        if (have_run) { /* the pending run: cells run .. i-1 */
            size_t span = (size_t)((uintptr_t)run_end - (uintptr_t)run_src);
            if (span)
                memcpy(run_at, run_src, span);
            for (size_t k = run; k < i; k++) {
                const struct qloop_field *g = &b->cells[k];
                const char *gsrc = g->ptr ? g->ptr : "";
                char *to = run_at + ((uintptr_t)gsrc - (uintptr_t)run_src);
                to[g->len] = '\0';
                s->cells[k] = (struct qloop_field){to, g->len, g->null};
            }
            at = run_at + span + 1;
        }
        if (!f)
            break;
        run = i;
        have_run = true;
        run_src = src;
        run_end = src + f->len;
        run_at = at;
    }
    return at;
}

/* Copies what the source just gave (got, *b, its columns) into s. */
static void copy_batch(struct prefetch *p, struct slot *s, const struct qloop_batch *b)
{
    size_t ncells = b->nrows * b->ncols;
    if (ncells > s->cells_cap) {
        s->cells = qloop_xrealloc(s->cells, ncells * sizeof *s->cells);
        s->cells_cap = ncells;
    }
    if (b->nrows > s->rows_cap) {
        s->row_no = qloop_xrealloc(s->row_no, b->nrows * sizeof *s->row_no);
        s->line_no = qloop_xrealloc(s->line_no, b->nrows * sizeof *s->line_no);
        s->rows_cap = b->nrows;
    }
    if (b->nbad > s->bad_cap) {
        s->bad = qloop_xrealloc(s->bad, b->nbad * sizeof *s->bad);
        s->bad_cap = b->nbad;
    }
    size_t msgs = 0;
    for (size_t i = 0; i < b->nbad; i++)
        msgs += strlen(b->bad[i].message ? b->bad[i].message : "") + 1;
    /* A source whose cells lie in one buffer (QLOOP_ADAPTER_ONE_BUFFER; CSV:
     * the window its rows were parsed in) is copied as one block from the
     * first cell to the last one's NUL, the gaps between cells (delimiters,
     * line ends, quotes) with it, each cell then pointed at its place in the
     * copy: one memcpy and one pass. Taken when the cells are in order, each
     * past the end and NUL of the one before, and the block is at most
     * 1 MiB more than 64 bytes a cell (a long malformed row skipped inside a
     * batch is not copied). The NULs come with the bytes: every field is
     * NUL-terminated at ptr[len] (adapter.h). */
    size_t span = 0;
    const char *first = NULL;
    if (ncells && (p->inner->flags & QLOOP_ADAPTER_ONE_BUFFER) && b->cells[0].ptr &&
        b->cells[ncells - 1].ptr) {
        first = b->cells[0].ptr;
        const struct qloop_field *last = &b->cells[ncells - 1];
        uintptr_t end = (uintptr_t)last->ptr + last->len + 1;
        if (end > (uintptr_t)first && end - (uintptr_t)first <= ((size_t)1 << 20) + 64 * ncells)
            span = (size_t)(end - (uintptr_t)first);
    }
    qloop_buf_reset(&s->bytes);
    char *at = NULL;
    bool block = false;
    if (span) {
        qloop_buf_reserve(&s->bytes, span + msgs);
        at = s->bytes.ptr;
        uintptr_t prev_end = 0;
        block = true;
        for (size_t i = 0; i < ncells; i++) {
            const struct qloop_field *g = &b->cells[i];
            uintptr_t src = (uintptr_t)g->ptr;
            if (!g->ptr || (i > 0 && src <= prev_end)) {
                block = false;
                break;
            }
            prev_end = src + g->len;
            s->cells[i] = (struct qloop_field){at + (src - (uintptr_t)first), g->len, g->null};
        }
        if (block) {
            memcpy(at, first, span);
            at += span;
        }
    }
    if (!block) {
        /* every byte counted first, so that the buffer never moves while
         * the cells are pointed into it */
        size_t need = 0;
        for (size_t i = 0; i < ncells; i++)
            need += b->cells[i].len + 1;
        qloop_buf_reserve(&s->bytes, need + msgs);
        at = copy_runs(s, b, s->bytes.ptr);
    }
    for (size_t i = 0; i < b->nbad; i++) {
        const char *m = b->bad[i].message ? b->bad[i].message : "";
        size_t n = strlen(m) + 1;
        memcpy(at, m, n);
        s->bad[i] = b->bad[i];
        s->bad[i].message = at;
        at += n;
    }
    s->bytes.len = (size_t)(at - s->bytes.ptr);
    if (b->nrows) {
        memcpy(s->row_no, b->row_no, b->nrows * sizeof *s->row_no);
        if (b->line_no)
            memcpy(s->line_no, b->line_no, b->nrows * sizeof *s->line_no);
    }
    s->batch = (struct qloop_batch){.nrows = b->nrows, .ncols = b->ncols, .cells = s->cells,
                                    .row_no = s->row_no, .line_no = b->line_no ? s->line_no : NULL,
                                    .nbad = b->nbad, .bad = s->bad};
    note_names(p);
    s->names = p->names->name;
    s->ncols = p->names->n;
}

static void *reader_main(void *arg)
{
    struct prefetch *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct slot *s = &p->slot[p->next_fill];
        while (!p->quit && s->got != EMPTY)
            pthread_cond_wait(&p->cv, &p->mu);
        bool quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit)
            return NULL;
        struct qloop_batch b;
        qloop_error_clear(&s->err);
        int got = p->inner->next_batch(p->src, &b, &s->err);
        if (got > 0)
            copy_batch(p, s, &b);
        pthread_mutex_lock(&p->mu);
        s->got = got > 0 ? 1 : got;
        p->next_fill = (p->next_fill + 1) % NSLOTS;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (got <= 0)
            return NULL;
    }
}

static int pf_next_batch(void *state, struct qloop_batch *batch, struct qloop_error *err)
{
    struct prefetch *p = state;
    pthread_mutex_lock(&p->mu);
    if (p->held[0]) { /* taken two calls ago: the loop is done with it, the
                       * reader may refill it */
        p->held[0]->got = EMPTY;
        p->held[0] = NULL;
        pthread_cond_broadcast(&p->cv);
    }
    struct slot *s = &p->slot[p->next_take];
    while (s->got == EMPTY)
        pthread_cond_wait(&p->cv, &p->mu);
    int got = s->got;
    if (got > 0) {
        p->held[0] = p->held[1];
        p->held[1] = s;
        p->next_take = (p->next_take + 1) % NSLOTS;
        p->cur_names = s->names;
        p->cur_ncols = s->ncols;
    }
    pthread_mutex_unlock(&p->mu);
    if (got < 0)
        *err = s->err;
    else if (got > 0)
        *batch = s->batch;
    return got;
}

/* The columns as of the batch the loop last took (before the first: as
 * open() found them). */
static void pf_columns(void *state, size_t *ncols, const char *const **names)
{
    struct prefetch *p = state;
    *ncols = p->cur_ncols;
    *names = p->cur_names;
}

static int pf_open(const char *path, const struct qloop_source_options *opts, void **state,
                   struct qloop_error *err)
{
    (void)path, (void)opts, (void)state;
    return qloop_error_internal(err, NULL, "预读包装不能直接打开数据源");
}

static void pf_close(void *state)
{
    struct prefetch *p = state;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->inner->close(p->src);
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *s = &p->slot[i];
        free(s->cells);
        free(s->row_no);
        free(s->line_no);
        free(s->bad);
        qloop_buf_free(&s->bytes);
    }
    while (p->names) {
        struct names *prev = p->names->prev;
        free(p->names);
        p->names = prev;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

bool ds_prefetch(struct ds_ctx *ds)
{
    struct prefetch *p = qloop_xcalloc(1, sizeof *p);
    p->inner = ds->ad;
    p->src = ds->src;
    p->ad = *ds->ad;
    p->ad.open = pf_open;
    p->ad.columns = pf_columns;
    p->ad.next_batch = pf_next_batch;
    p->ad.close = pf_close;
    for (int i = 0; i < NSLOTS; i++)
        p->slot[i].got = EMPTY;
    note_names(p); /* open()'s, for a loop that asks before the first batch */
    p->cur_names = p->names->name;
    p->cur_ncols = p->names->n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, reader_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->names);
        free(p);
        return false; /* read on the loop's thread, as before */
    }
    ds->ad = &p->ad;
    ds->src = p;
    return true;
}
