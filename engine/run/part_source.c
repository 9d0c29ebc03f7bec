/*
 * part_source.c — what a partitioned judge reads: one part of a dataset, as
 * an adapter (adapter.h) wrapped around the dataset's own.
 *
 * Two ways to get a part:
 *   - the engine splits the data and hands the judge its part (--input):
 *     read whole. A CSV part split off by lines has no header line; the
 *     column names come from --header-from or the dataset's `fields`, and a
 *     first line that is exactly those names (the part that kept the file's
 *     header, or a Spark partition that still holds it) is the header, not a
 *     record;
 *   - the judge reads the dataset's own source and keeps part I of N itself:
 *     rows (I-1)*R/N+1 .. I*R/N of its R rows, counted first (a source is
 *     read twice; an engine that splits files itself avoids that).
 * Rows are numbered within the part from 1 either way.
 */
#include <stdlib.h>
#include <string.h>

#include "run/context.h"
#include "run/partition.h"

struct part_src {
    const struct qloop_adapter *ad;
    void *src;
    const char *const *names; /* a leading row equal to these is the header */
    size_t nnames;
    bool first_batch;
    uint64_t from, to;        /* rows kept (source numbering), to = 0: all */
    uint64_t skipped;         /* source rows before the first kept */
    uint64_t *row_no, *line_no;
    size_t cap;
    struct qloop_bad_row *bad; /* the batch's malformed rows of the part, renumbered */
    size_t bad_cap;
};

static void ps_columns(void *state, size_t *ncols, const char *const **names)
{
    struct part_src *ps = state;
    ps->ad->columns(ps->src, ncols, names);
}

static void ps_close(void *state)
{
    struct part_src *ps = state;
    if (!ps)
        return;
    ps->ad->close(ps->src);
    free(ps->row_no);
    free(ps->line_no);
    free(ps->bad);
    free(ps);
}

/* Whether row r of b holds exactly the given names. */
static bool is_header(const struct part_src *ps, const struct qloop_batch *b, size_t r)
{
    if (b->ncols != ps->nnames)
        return false;
    for (size_t c = 0; c < b->ncols; c++) {
        const struct qloop_field *f = &b->cells[r * b->ncols + c];
        if (f->len != strlen(ps->names[c]) || memcmp(f->ptr, ps->names[c], f->len) != 0)
            return false;
    }
    return true;
}

/* Keeps rows [lo, hi) of b, numbered within the part. */
static void keep_rows(struct part_src *ps, struct qloop_batch *b, size_t lo, size_t hi)
{
    size_t n = hi - lo;
    if (n > ps->cap) {
        ps->row_no = qloop_xrealloc(ps->row_no, n * sizeof *ps->row_no);
        ps->line_no = qloop_xrealloc(ps->line_no, n * sizeof *ps->line_no);
        ps->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        ps->row_no[i] = b->row_no[lo + i] - ps->skipped;
        ps->line_no[i] = b->line_no ? b->line_no[lo + i] : 0;
    }
    b->cells += lo * b->ncols;
    b->nrows = n;
    b->row_no = ps->row_no;
    b->line_no = ps->line_no;
}

/* The batch's malformed rows that belong to the part (adapter.h: skipped
 * under bad_rows = "finding"), numbered within it, into ps->bad. */
static size_t keep_bad(struct part_src *ps, const struct qloop_batch *b)
{
    if (b->nbad > ps->bad_cap) {
        ps->bad = qloop_xrealloc(ps->bad, b->nbad * sizeof *ps->bad);
        ps->bad_cap = b->nbad;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->nbad; i++) {
        uint64_t r = b->bad[i].row_no;
        if (ps->to && (r < ps->from || r > ps->to))
            continue;
        ps->bad[n] = b->bad[i];
        ps->bad[n++].row_no = r - ps->skipped;
    }
    return n;
}

static int ps_next_batch(void *state, struct qloop_batch *b, struct qloop_error *err)
{
    struct part_src *ps = state;
    for (;;) {
        int got = ps->ad->next_batch(ps->src, b, err);
        if (got <= 0)
            return got;
        size_t lo = 0, hi = b->nrows;
        if (ps->first_batch) {
            ps->first_batch = false;
            if (ps->names && hi > 0 && is_header(ps, b, 0)) {
                lo = 1;
                ps->skipped = 1; /* rows count from the line after the header */
            }
        }
        if (ps->to) {
            while (lo < hi && b->row_no[lo] < ps->from)
                lo++;
            while (hi > lo && b->row_no[hi - 1] > ps->to)
                hi--;
        }
        size_t nbad = keep_bad(ps, b);
        if (lo < hi || nbad > 0) {
            keep_rows(ps, b, lo, hi);
            b->nbad = nbad;
            b->bad = ps->bad;
            return 1;
        }
        if (ps->to && b->nrows > 0 && b->row_no[b->nrows - 1] >= ps->to)
            return 0; /* past the part: the rest of the source is not read */
    }
}

static const struct qloop_adapter part_adapter = {
    .name = "part",
    .columns = ps_columns,
    .next_batch = ps_next_batch,
    .close = ps_close,
};

/* The rows of the source at path, counted with its adapter. */
static int count_rows(struct ds_ctx *ds, uint64_t *rows)
{
    struct qloop_error *err = ds->run->err;
    const struct qloop_adapter *ad = ds->run->o->find_adapter(ds->path, ds->d->format);
    struct qloop_source_options so;
    ds_source_options(ds, &so);
    void *src;
    if (!ad || ad->open(ds->path, &so, &src, err) != 0)
        return ad ? -1 : 0; /* no adapter: ds_open says so */
    *rows = 0;
    struct qloop_batch b;
    int got;
    while ((got = ad->next_batch(src, &b, err)) > 0)
        *rows += b.nrows + b.nbad; /* malformed rows are numbered too */
    ad->close(src);
    return got < 0 ? -1 : 0;
}

int part_source_open(struct ds_ctx *ds, const struct part_options *o, uint64_t *rows)
{
    *rows = 0;
    if (!o->input && o->nparts > 1) {
        ds->path = run_source_path(ds->run, ds->d);
        if (strcmp(ds->path, "-") == 0)
            return qloop_error_set(ds->run->err, NULL, 0, 0,
                                   "从标准输入读取时，请由调度程序切分数据，并用 --input - 给出这一部分");
        if (count_rows(ds, rows) != 0)
            return -1;
    }
    return ds_open(ds);
}

void part_source_wrap(struct ds_ctx *ds, const struct part_options *o, uint64_t rows)
{
    struct part_src *ps = qloop_xcalloc(1, sizeof *ps);
    ps->ad = ds->ad;
    ps->src = ds->src;
    ps->first_batch = true;
    bool csv = strcmp(ds->ad->name, "csv") == 0 || strcmp(ds->ad->name, "tsv") == 0;
    if (csv && ds->given_names) {
        ps->names = ds->given_names;
        ps->nnames = ds->ngiven_names;
    }
    if (!o->input && o->nparts > 1) {
        ps->from = rows * (o->part - 1) / o->nparts + 1;
        ps->to = rows * o->part / o->nparts;
        ps->skipped = ps->from - 1;
        if (ps->to < ps->from) /* an empty part: nothing to keep */
            ps->from = ps->to = rows + 1;
    }
    ds->ad = &part_adapter;
    ds->src = ps;
}
