/*
 * merge.c — merging the catalog into rule packs: catalog_merge_pack. What
 * a rule file leaves unsaid about a dataset (owner, update cycle, keys) is
 * taken from its catalog entry; the rule file wins where both speak, and a
 * field either calls sensitive is masked.
 */
#include <stdlib.h>

#include "catalog/catalog.h"
#include "catalog/stored.h"

/* Fills d from its catalog entry e. */
static void merge_dataset(struct pack_dataset *d, const struct cat_entry *e)
{
    if (!d->owner && e->v[E_OWNER])
        d->owner = qloop_xstrdup(e->v[E_OWNER]);
    if (!d->update_cycle && e->v[E_UPDATE_CYCLE])
        d->update_cycle = qloop_xstrdup(e->v[E_UPDATE_CYCLE]);
    if (d->nkeys == 0 && e->v[E_KEY]) {
        free(d->keys);
        d->nkeys = cat_split(e->v[E_KEY], cat_name_seps, false, &d->keys);
    }
    /* Masking only ever widens: a field either side calls sensitive is. */
    for (size_t f = 0; f < e->nfields; f++)
        if (e->fields[f].sensitive && !pack_is_sensitive(d, e->fields[f].name)) {
            d->sensitive = qloop_xrealloc(d->sensitive, (d->nsensitive + 1) * sizeof *d->sensitive);
            d->sensitive[d->nsensitive++] = qloop_xstrdup(e->fields[f].name);
        }
}

int catalog_merge_pack(sqlite3 *db, struct pack *p, struct qloop_error *err)
{
    struct catalog c = {0};
    int64_t version = cat_load_current(db, &c, err);
    if (version <= 0)
        return version < 0 ? -1 : 0;
    for (size_t i = 0; i < p->ndatasets; i++) {
        const struct cat_entry *e = cat_find(&c, p->datasets[i].name);
        if (e)
            merge_dataset(&p->datasets[i], e);
    }
    cat_clear(&c);
    return 0;
}
