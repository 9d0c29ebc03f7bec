/*
 * ticket_named.c — the evidence of open items that name their findings
 * (store step 17): the digest of such an item's evidence, kept in its row
 * (ticket_item_rows.digest) by the SQL function tk_digest_sql registers
 * when the item is made or re-pointed, and for an item without one (a
 * store written before the digest was kept) read for the nightly refresh
 * (ticket_refresh.c) from the findings they name, in id order in ranges
 * instead of joined item by item.
 */
#include <stdlib.h>
#include <string.h>

#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/store.h"

/* The digest (ticket_evidence_digest, as an item's) of the evidence c of
 * a finding an item names (row_no .. sealed, as stored), as the
 * `ticket_items` view shows it (TK_EV_*): a key or message that is ''
 * (empty text) and a sealed copy that is empty (text or blob) read as NULL
 * — what the SQL's "x <> ''" and "length(x) > 0" give for every type. */
static uint64_t named_digest(struct ticket_cell c[TICKET_EVIDENCE])
{
    for (int i = 1; i <= 3; i += 2) /* record_key, message */
        if (c[i].type == SQLITE_TEXT && c[i].len == 0)
            c[i] = (struct ticket_cell){.type = SQLITE_NULL};
    if ((c[4].type == SQLITE_TEXT || c[4].type == SQLITE_BLOB) && c[4].len == 0)
        c[4] = (struct ticket_cell){.type = SQLITE_NULL};
    return ticket_evidence_digest(c, false);
}

/* named_digest of the finding in st's current row, row_no .. sealed its
 * columns col ..; st NULL: the finding is not there, and the view shows
 * NULLs. */
static uint64_t named_digest_row(sqlite3_stmt *st, int col)
{
    struct ticket_cell c[TICKET_EVIDENCE];
    for (int i = 0; i < TICKET_EVIDENCE; i++)
        c[i] = st ? tk_cell_at(st, col + i) : (struct ticket_cell){.type = SQLITE_NULL};
    return named_digest(c);
}

/* TK_DIGEST_SQL(row_no, record_key, value, message, sealed): named_digest
 * of its arguments as a signed 64-bit integer (the digest's bits). */
static void digest_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct ticket_cell c[TICKET_EVIDENCE];
    for (int i = 0; i < TICKET_EVIDENCE && i < argc; i++) {
        sqlite3_value *v = argv[i];
        c[i] = (struct ticket_cell){.type = sqlite3_value_type(v)};
        if (c[i].type == SQLITE_INTEGER) {
            c[i].i = sqlite3_value_int64(v);
        } else if (c[i].type == SQLITE_TEXT) {
            c[i].p = sqlite3_value_text(v);
            c[i].len = (size_t)sqlite3_value_bytes(v);
        } else if (c[i].type == SQLITE_BLOB) {
            c[i].p = sqlite3_value_blob(v);
            c[i].len = (size_t)sqlite3_value_bytes(v);
        }
    }
    uint64_t d = named_digest(c);
    int64_t s;
    memcpy(&s, &d, sizeof s);
    sqlite3_result_int64(ctx, s);
}

int tk_digest_sql(sqlite3 *db, struct qloop_error *err)
{
    ticket_evidence_digest_key(store_secret(db));
    /* registered once per connection: defining it again would expire the
     * connection's prepared statements (and fail beside a running one) */
    sqlite3_stmt *probe = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " TK_DIGEST_SQL "(NULL, NULL, NULL, NULL, NULL)", -1,
                           &probe, NULL) == SQLITE_OK) {
        sqlite3_finalize(probe);
        return 0;
    }
    if (sqlite3_create_function(db, TK_DIGEST_SQL, TICKET_EVIDENCE,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                digest_sql, NULL, NULL) != SQLITE_OK) {
        qloop_error_internal(err, sqlite3_db_filename(db, "main"), "无法登记工单记录的摘要函数：%s",
                             sqlite3_errmsg(db));
        return -2;
    }
    return 0;
}

/* Sorts the places v[0..n) by the finding their items name (items[v[i]].
 * finding, positive), stably, by radix (16 bits a pass, as many passes as
 * the largest id needs: two below 2^32). */
static void sort_by_finding(uint32_t *v, size_t n, const struct tk_open_item *items)
{
    int64_t most = 0;
    for (size_t i = 0; i < n; i++)
        if (items[v[i]].finding > most)
            most = items[v[i]].finding;
    uint32_t *tmp = qloop_xcalloc(n ? n : 1, sizeof *tmp);
    size_t *at = qloop_xcalloc(65537, sizeof *at);
    for (int shift = 0; shift < 64 && (most >> shift) != 0; shift += 16) {
        memset(at, 0, 65537 * sizeof *at);
        for (size_t i = 0; i < n; i++)
            at[(((uint64_t)items[v[i]].finding >> shift) & 0xffff) + 1]++;
        for (size_t b = 0; b < 65536; b++)
            at[b + 1] += at[b];
        for (size_t i = 0; i < n; i++)
            tmp[at[((uint64_t)items[v[i]].finding >> shift) & 0xffff]++] = v[i];
        memcpy(v, tmp, n * sizeof *v);
    }
    free(at);
    free(tmp);
}

/* The most ascending runs merged in place; past it the places are sorted. */
#define NAMED_RUNS 64

/* The items naming a finding (finding > 0), in the order of those ids. In
 * the order read (item ids), the ids ascend within each ticket's items
 * added by one night (a rule's findings are added in id order) and fall
 * back at the next: a few ascending runs (W1: one a rule), merged by
 * their heads without memory. An item re-pointed by a later night starts
 * runs of its own; past NAMED_RUNS runs the items' places are sorted
 * instead (sort_by_finding, 8 bytes an item named while it sorts). */
struct named_order {
    const struct tk_open_item *items;
    size_t nruns, head[NAMED_RUNS], end[NAMED_RUNS];
    uint32_t *sorted; /* the places sorted (NULL: the runs merged) */
    size_t nsorted, at;
};

/* The place of the next item named at or after p and before end, or end. */
static size_t named_from(const struct tk_open_item *items, size_t p, size_t end)
{
    while (p < end && items[p].finding <= 0)
        p++;
    return p;
}

/* Sets o up over items[0..n). */
static void named_order_init(struct named_order *o, const struct tk_open_item *items, size_t n)
{
    *o = (struct named_order){.items = items};
    size_t last = SIZE_MAX;
    for (size_t p = named_from(items, 0, n); p < n; p = named_from(items, p + 1, n)) {
        if (last == SIZE_MAX || items[p].finding < items[last].finding) {
            if (o->nruns == NAMED_RUNS) {
                o->nruns = 0;
                break;
            }
            if (o->nruns)
                o->end[o->nruns - 1] = p;
            o->head[o->nruns++] = p;
        }
        last = p;
    }
    if (o->nruns) {
        o->end[o->nruns - 1] = n;
        return;
    }
    if (last == SIZE_MAX)
        return; /* none named */
    for (size_t p = named_from(items, 0, n); p < n; p = named_from(items, p + 1, n))
        o->nsorted++;
    o->sorted = qloop_xcalloc(o->nsorted, sizeof *o->sorted);
    size_t i = 0;
    for (size_t p = named_from(items, 0, n); p < n; p = named_from(items, p + 1, n))
        o->sorted[i++] = (uint32_t)p;
    sort_by_finding(o->sorted, o->nsorted, items);
}

/* The place of the next item in o's order, or SIZE_MAX after the last. */
static size_t named_next(struct named_order *o)
{
    if (o->sorted)
        return o->at < o->nsorted ? o->sorted[o->at++] : SIZE_MAX;
    size_t best = SIZE_MAX;
    for (size_t r = 0; r < o->nruns; r++)
        if (o->head[r] < o->end[r] &&
            (best == SIZE_MAX || o->items[o->head[r]].finding < o->items[o->head[best]].finding))
            best = r;
    if (best == SIZE_MAX)
        return SIZE_MAX;
    size_t p = o->head[best];
    o->head[best] = named_from(o->items, p + 1, o->end[best]);
    return p;
}

/* Named findings at most this far apart are read in one pass of the
 * cursor; past it the cursor seeks. */
#define NAMED_GAP 256

int tk_named_digests(sqlite3 *db, struct tk_open_item *items, size_t n, struct qloop_error *err)
{
    struct named_order o;
    named_order_init(&o, items, n);
    size_t cur = named_next(&o);
    sqlite3_stmt *st = cur == SIZE_MAX ? NULL
                                       : sql_prepare(db,
                                                     "SELECT id, row_no, record_key, value, message,"
                                                     " sealed FROM finding_rows WHERE id >= ?1"
                                                     " ORDER BY id",
                                                     err);
    int rc = cur != SIZE_MAX && !st ? -2 : 0;
    while (rc == 0 && cur != SIZE_MAX) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, items[cur].finding);
        bool seek = false;
        int row = 1;
        while (!seek && cur != SIZE_MAX && (row = sql_row(db, st, "读取工单记录的问题", err)) == 1) {
            int64_t id = sqlite3_column_int64(st, 0);
            for (; cur != SIZE_MAX && items[cur].finding < id; cur = named_next(&o))
                items[cur].digest = named_digest_row(NULL, 0); /* not there */
            for (; cur != SIZE_MAX && items[cur].finding == id; cur = named_next(&o))
                items[cur].digest = named_digest_row(st, 1);
            seek = cur != SIZE_MAX && items[cur].finding - id > NAMED_GAP;
        }
        if (row < 0)
            rc = -2;
        else if (row == 0) /* past the last finding */
            for (; cur != SIZE_MAX; cur = named_next(&o))
                items[cur].digest = named_digest_row(NULL, 0);
    }
    sqlite3_finalize(st);
    free(o.sorted);
    for (size_t p = 0; p < n; p++)
        if (items[p].finding > 0)
            items[p].finding = 0;
    return rc;
}
