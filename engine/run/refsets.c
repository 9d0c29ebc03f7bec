/*
 * refsets.c — datasets that other datasets reference.
 *
 * A rule whose form needs another dataset (`references = "other.field"`,
 * forms_needs) is judged against the values that dataset holds in that
 * field. The run therefore reads every dataset after those it references
 * (refsets_order: a cycle is an error in the rule files), collects the
 * non-empty values of each referenced field as its dataset is read
 * (refsets_collect), and hands each rule its set (refsets_for, the judge's
 * env->refset).
 */
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "base/text.h"
#include "rules/forms.h"
#include "run/context.h"

void refsets_setup(struct run_ctx *run)
{
    struct pack *p = run->p;
    for (size_t i = 0; i < p->nrules; i++) {
        const char *field, *dataset = forms_needs(&p->rules[i], &field);
        if (!dataset || refsets_for(run, &p->rules[i]))
            continue;
        run->refsets = qloop_xrealloc(run->refsets, (run->nrefsets + 1) * sizeof *run->refsets);
        run->refsets[run->nrefsets++] =
            (struct refset){.dataset = dataset, .field = field, .col = -1, .values = strmap_new()};
    }
}

struct strmap *refsets_for(const struct run_ctx *run, const struct pack_rule *r)
{
    const char *field, *dataset = forms_needs(r, &field);
    for (size_t j = 0; dataset && j < run->nrefsets; j++)
        if (strcmp(run->refsets[j].dataset, dataset) == 0 &&
            strcmp(run->refsets[j].field, field) == 0)
            return run->refsets[j].values;
    return NULL;
}

/* Whether dataset i must wait for a dataset not yet placed. */
static bool waits(const struct pack *p, size_t i, const bool *placed)
{
    for (size_t j = 0; j < p->nrules; j++) {
        const char *field, *needs = forms_needs(&p->rules[j], &field);
        if (!needs || strcmp(p->rules[j].dataset, p->datasets[i].name) != 0)
            continue;
        for (size_t m = 0; m < p->ndatasets; m++)
            if (!placed[m] && strcmp(p->datasets[m].name, needs) == 0)
                return true;
    }
    return false;
}

int refsets_order(struct run_ctx *run, size_t *order)
{
    struct pack *p = run->p;
    size_t n = p->ndatasets, done = 0;
    bool *placed = qloop_xcalloc(n + 1, sizeof *placed);
    while (done < n) {
        bool progress_made = false;
        for (size_t i = 0; i < n; i++) {
            if (placed[i] || waits(p, i, placed))
                continue;
            placed[i] = true;
            order[done++] = i;
            progress_made = true;
        }
        if (!progress_made) {
            free(placed);
            return qloop_error_set(run->err, p->datasets[0].file, 0, 0,
                                   "数据集之间的 references 形成了循环引用；请去掉其中一个引用");
        }
    }
    free(placed);
    return 0;
}

/* The columns of the referenced fields of the dataset being read. */
void refsets_bind(struct ds_ctx *ds)
{
    for (size_t i = 0; i < ds->run->nrefsets; i++) {
        struct refset *rs = &ds->run->refsets[i];
        if (strcmp(rs->dataset, ds->d->name) == 0)
            rs->col = ds_column(ds, rs->field);
    }
}

void refsets_collect(struct ds_ctx *ds)
{
    for (size_t i = 0; i < ds->run->nrefsets; i++) {
        struct refset *rs = &ds->run->refsets[i];
        if (strcmp(rs->dataset, ds->d->name) != 0 || rs->col < 0)
            continue;
        for (size_t row = 0; row < ds->batch->nrows; row++) {
            const struct qloop_field *f = ds_cell(ds, row, rs->col);
            if (!qloop_value_empty(f))
                strmap_put(rs->values, f->ptr, f->len, NULL);
        }
    }
}

void refsets_free(struct run_ctx *run)
{
    for (size_t i = 0; i < run->nrefsets; i++)
        strmap_free(run->refsets[i].values);
    free(run->refsets);
    run->refsets = NULL;
    run->nrefsets = 0;
}
