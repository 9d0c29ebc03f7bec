/*
 * ticket_named.c — the evidence of open items that name their findings
 * (store step 17), read for the nightly refresh (ticket_refresh.c): each
 * such item's evidence digest, from the findings it names, read in id
 * order in ranges instead of joined item by item.
 */
#include <stdlib.h>
#include <string.h>

#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* The digest (ticket_evidence_digest, as an item's) of the evidence of an
 * item naming the finding in st's current row, row_no .. sealed its
 * columns col ..: as the `ticket_items` view shows it (TK_EV_*), a key or
 * message that is '' (empty text) and a sealed copy that is empty (text or
 * blob) read as NULL — what the SQL's "x <> ''" and "length(x) > 0" give
 * for every type. st NULL: the finding is not there, and the view shows
 * NULLs. */
static uint64_t named_digest_row(sqlite3_stmt *st, int col)
{
    struct ticket_cell c[TICKET_EVIDENCE];
    for (int i = 0; i < TICKET_EVIDENCE; i++)
        c[i] = st ? tk_cell_at(st, col + i) : (struct ticket_cell){.type = SQLITE_NULL};
    for (int i = 1; i <= 3; i += 2) /* record_key, message */
        if (c[i].type == SQLITE_TEXT && c[i].len == 0)
            c[i] = (struct ticket_cell){.type = SQLITE_NULL};
    if ((c[4].type == SQLITE_TEXT || c[4].type == SQLITE_BLOB) && c[4].len == 0)
        c[4] = (struct ticket_cell){.type = SQLITE_NULL};
    return ticket_evidence_digest(c, false);
}

/* Sorts the places v[0..n) by the finding their items name (items[v[i]].
 * finding, positive), stably, by radix (16 bits a pass, as many passes as
 * the largest id needs: two below 2^32): W1 10M night 2 sorts 1.8M. */
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

/* Named findings at most this far apart are read in one range of ids. */
#define NAMED_GAP 256

int tk_named_digests(sqlite3 *db, struct tk_open_item *items, uint32_t *named, size_t n,
                     struct qloop_error *err)
{
    if (!n)
        return 0;
    sort_by_finding(named, n, items);
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT id, row_no, record_key, value, message, sealed"
                                   " FROM finding_rows WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
                                   err);
    if (!st)
        return -2;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t end = i + 1;
        while (end < n && items[named[end]].finding - items[named[end - 1]].finding <= NAMED_GAP)
            end++;
        sqlite3_bind_int64(st, 1, items[named[i]].finding);
        sqlite3_bind_int64(st, 2, items[named[end - 1]].finding);
        int row;
        while ((row = sql_row(db, st, "读取工单记录的问题", err)) == 1) {
            int64_t id = sqlite3_column_int64(st, 0);
            for (; i < end && items[named[i]].finding < id; i++)
                items[named[i]].digest = named_digest_row(NULL, 0);
            for (; i < end && items[named[i]].finding == id; i++)
                items[named[i]].digest = named_digest_row(st, 1);
        }
        sqlite3_reset(st);
        if (row < 0)
            rc = -2;
        for (; i < end; i++)
            items[named[i]].digest = named_digest_row(NULL, 0);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++)
        items[named[i]].finding = 0;
    return rc;
}
