/*
 * ticket_item_refs.c — a first night's many items entered into the items'
 * keys by record (ticket_item_refs, store step 19) in key order, at the end
 * of the run's ticket phase, instead of one at a time as they are inserted.
 *
 * Each item's entry (record_ref, kind, open_key) added by the table's
 * trigger as the item is inserted lands at a random place of the table
 * (record_refs are hashes): once it outgrows the page cache, each insert
 * reads and later writes a page. Before step 19 the index was dropped and
 * made again (SQLite read every item back and sorted the keys: W1 10M night
 * 1, 1.8M keys, 3.0-3.4 s under load; bench/README.md, branch itemref).
 * Now the run drops the insert trigger inside its transaction
 * (tk_items_hold), notes which item each of its findings
 * became (tk_items_note, from tk_adds_flush), and at the end writes their
 * entries itself and makes the trigger again (tk_items_release): its
 * findings' keys are in memory already sorted by (finding kind,
 * record_ref) (struct tk_kept), so a merge of the kinds by (record_ref,
 * item kind) gives the entries in the table's key order, inserted 64 rows
 * to a statement and only ever appended. Nothing is copied but one 4-byte
 * index a finding. When the keys were not kept, or an item was inserted
 * that was not noted, SQLite sorts them instead (INSERT ... SELECT ...
 * ORDER BY over the held items). Either way a second open item of a record
 * fails the INSERT by the table's primary key (SQLITE_CONSTRAINT), and the
 * run's transaction rolls everything back, the trigger's drop with it.
 * While the trigger is dropped, an item must not be updated or deleted
 * (the run only inserts them open): its entry is not there yet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* Rows of ticket_item_refs inserted by one statement. */
enum { ROWS = 64 };

/* The trigger that adds an inserted item's entry (store step 19). */
static const char trigger[] = "ticket_item_refs_insert";

int tk_items_hold(sqlite3 *db, struct tk_items_held *h, struct qloop_error *err)
{
    memset(h, 0, sizeof *h);
    h->after = -1;
    int64_t after = 0;
    if (sql_int64(db, "SELECT coalesce(max(id), 0) FROM ticket_item_rows", NULL, 0, &after, err) !=
            0 ||
        sql_schema_drop(db, SQL_SCHEMA_TRIGGER, "ticket_item_rows", trigger, &h->trigger_sql,
                        err) != 0)
        return -2;
    h->after = after;
    return 0;
}

void tk_items_note(struct tk_items_held *h, int64_t finding_id, int64_t item_id)
{
    const struct tk_kept *k = h->kept;
    if (h->lost || !k || !k->whole || finding_id < k->first ||
        finding_id - k->first >= (int64_t)k->n || item_id - h->after <= 0 ||
        item_id - h->after > (int64_t)UINT32_MAX) {
        h->lost = true;
        return;
    }
    if (!h->item_at)
        h->item_at = qloop_xcalloc(k->n, sizeof *h->item_at);
    uint32_t *slot = &h->item_at[finding_id - k->first];
    if (*slot) {
        h->lost = true;
        return;
    }
    *slot = (uint32_t)(item_id - h->after);
    h->noted++;
}

void tk_items_held_free(struct tk_items_held *h)
{
    free(h->item_at);
    free(h->trigger_sql);
    h->item_at = NULL;
    h->trigger_sql = NULL;
    h->noted = 0;
    h->lost = false;
}

/* One kind's keys in the merge: kept keys v[at .. end) of item kind item. */
struct stream {
    size_t at, end;
    int64_t item;
};

/* Whether stream a's next key comes before b's: (record_ref, item kind). */
static bool before(const struct ticket_key *v, const struct stream *a, const struct stream *b)
{
    const struct ticket_key *x = &v[a->at], *y = &v[b->at];
    if (x->ref[0] != y->ref[0])
        return x->ref[0] < y->ref[0];
    if (x->ref[1] != y->ref[1])
        return x->ref[1] < y->ref[1];
    return a->item < b->item;
}

/* Restores the heap order of s[0..n) below place i. */
static void sift(const struct ticket_key *v, struct stream *s, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(v, &s[l], &s[m]))
            m = l;
        if (l + 1 < n && before(v, &s[l + 1], &s[m]))
            m = l + 1;
        if (m == i)
            return;
        struct stream t = s[i];
        s[i] = s[m];
        s[m] = t;
        i = m;
    }
}

/* The item kind of each kept kind (0: no item kind of its dataset and
 * rule, so none of its findings became an item) into s, with its range. */
static int streams(sqlite3 *db, const struct tk_kept *k, struct stream *s, size_t *n,
                   struct qloop_error *err)
{
    *n = 0;
    for (size_t i = 0; i < k->nkinds; i++) {
        int64_t item = 0;
        if (sql_int64_ids(db,
                          "SELECT i.id FROM finding_kinds f CROSS JOIN item_kinds i"
                          " ON i.dataset = f.dataset AND i.rule = f.rule WHERE f.id = ?1",
                          1, &k->kind[i], 0, &item, err) != 0)
            return -2;
        if (item && k->from[i] < k->from[i + 1])
            s[(*n)++] = (struct stream){k->from[i], k->from[i + 1], item};
    }
    return 0;
}

/* One entry to write: the item's record_ref (two big-endian numbers), its
 * item kind and its id. */
struct entry {
    const uint64_t *ref;
    int64_t kind, id;
};

/* Inserts rows e[0..n) (n is 1 or ROWS) by st. 0 or -2. */
static int insert_rows(sqlite3 *db, sqlite3_stmt *st, const struct entry *e, size_t n,
                       struct qloop_error *err)
{
    char hex[ROWS][32];
    for (size_t i = 0; i < n; i++) {
        int p = 1 + 3 * (int)i;
        qloop_hex128(e[i].ref, hex[i]);
        sqlite3_bind_text(st, p, hex[i], 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, p + 1, e[i].kind);
        sqlite3_bind_int64(st, p + 2, e[i].id);
    }
    return sql_done(db, st, "写入工单记录", err) == 0 ? 0 : -2;
}

/* The noted items' entries from the kept keys, merged across kinds in key
 * order (open_key 0: every held item is inserted open), 64 rows a
 * statement; *written: how many. 0 or -2. */
static int write_from_keys(sqlite3 *db, const struct tk_items_held *h, size_t *written,
                           struct qloop_error *err)
{
    const struct tk_kept *k = h->kept;
    *written = 0;
    struct stream *s = qloop_xcalloc(k->nkinds ? k->nkinds : 1, sizeof *s);
    size_t ns = 0;
    int rc = streams(db, k, s, &ns, err);
    /* OR FAIL, as findings_refs.c's: no statement journal for a statement of
     * many rows (a failure fails the run's transaction). */
    static const char head[] =
        "INSERT OR FAIL INTO ticket_item_refs(record_ref, kind, open_key, id) VALUES";
    sqlite3_stmt *one = rc == 0 ? sql_prepare_rows(db, head, "(?,?,0,?)", 1, err) : NULL;
    sqlite3_stmt *many = one ? sql_prepare_rows(db, head, "(?,?,0,?)", ROWS, err) : NULL;
    if (!many)
        rc = -2;
    for (size_t i = ns; rc == 0 && i-- > 0;)
        sift(k->v, s, ns, i);
    struct entry e[ROWS];
    size_t ne = 0;
    while (rc == 0 && ns > 0) {
        const struct ticket_key *key = &k->v[s[0].at];
        uint32_t item = h->item_at[key->at];
        if (item) {
            e[ne++] = (struct entry){key->ref, s[0].item, h->after + item};
            if (ne == ROWS) {
                rc = insert_rows(db, many, e, ROWS, err);
                *written += ne;
                ne = 0;
            }
        }
        if (++s[0].at == s[0].end)
            s[0] = s[--ns];
        sift(k->v, s, ns, 0);
    }
    for (size_t i = 0; rc == 0 && i < ne; i++)
        rc = insert_rows(db, one, &e[i], 1, err);
    if (rc == 0)
        *written += ne;
    sqlite3_finalize(one);
    sqlite3_finalize(many);
    free(s);
    return rc;
}

/* The page cache while SQLite sorts the held items' keys (write_by_sql):
 * its sorter keeps keys in memory up to the cache's size before it sorts
 * them into a run on disk and merges the runs; runs of 2 MiB (a small
 * share of the shared L3) sorted W1 10M night 1's 1.8M keys in ~13 % less
 * CPU than runs of 8 MiB (bench/README.md, "A first night's ticket phase,
 * again"). Up to tk_items_sort_in_cache items keep the run's cache (sorted
 * there in one piece). The cache is set back afterwards. */
#define TK_ITEMS_SORT_KIB 2048
int64_t tk_items_sort_in_cache = TK_ITEMS_SORT_IN_CACHE;

/* The held items' entries (ids after .. items) copied by SQL, sorted by
 * SQLite. 0 or -2. */
static int write_by_sql(sqlite3 *db, int64_t after, int64_t items, struct qloop_error *err)
{
    static const char copy[] =
        "INSERT OR FAIL INTO ticket_item_refs(record_ref, kind, open_key, id)"
        " SELECT i.record_ref, i.kind, " TK_ITEM_OPEN_KEY ", i.id"
        " FROM ticket_item_rows i WHERE i.id > ?1 ORDER BY 1, 2, 3";
    int64_t cache = 0;
    if (items - after <= tk_items_sort_in_cache)
        return sql_exec_ids(db, copy, "写入工单记录", err, 1, &after) == 0 ? 0 : -2;
    if (sql_cache_shrink(db, TK_ITEMS_SORT_KIB, &cache, "写入工单记录", err) != 0)
        return -2;
    int rc = sql_exec_ids(db, copy, "写入工单记录", err, 1, &after);
    struct qloop_error ignored;
    qloop_error_clear(&ignored);
    if (sql_cache_restore(db, cache, "写入工单记录", rc == 0 ? err : &ignored) != 0)
        rc = -1;
    return rc == 0 ? 0 : -2;
}

int tk_items_release(sqlite3 *db, struct tk_items_held *h, struct qloop_error *err)
{
    if (h->after < 0)
        return 0;
    int64_t items = 0;
    if (sql_int64(db, "SELECT coalesce(max(id), 0) FROM ticket_item_rows", NULL, 0, &items,
                  err) != 0)
        return -2;
    /* Every held item noted (ids only grow, and nothing else inserted or
     * deleted items since the hold): the kept keys give them all. */
    bool from_keys = !h->lost && h->item_at && items - h->after == (int64_t)h->noted;
    int rc;
    if (from_keys) {
        size_t written = 0;
        rc = write_from_keys(db, h, &written, err);
        if (rc == 0 && written != h->noted) {
            qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                 "工单记录的索引写入了 %zu 条（应为 %zu 条）", written, h->noted);
            rc = -2;
        }
    } else {
        rc = write_by_sql(db, h->after, items, err);
    }
    if (rc == 0)
        rc = sql_schema_restore(db, &h->trigger_sql, "写入工单记录", err) == 0 ? 0 : -2;
    tk_items_held_free(h);
    h->after = -1;
    return rc;
}
