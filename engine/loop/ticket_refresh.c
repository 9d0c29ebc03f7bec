/*
 * ticket_refresh.c — the nightly refresh of the open items that fail again.
 *
 * On a steady night most open items fail again: each is refreshed from the
 * run's first finding of its record (the finding's row, key, value,
 * message and sealed copy, and last_run = the run) — only when one of
 * those differs from what the item holds; the item then names that
 * finding (store step 17) instead of copying it, unless its key or message
 * must stay the item's (update_sql). Asked per item through the
 * index of the run's findings, that is two B-tree searches by a random
 * record_ref per item and, once the items and findings outgrow the page
 * cache, a page read per search (W1 10M night 2: 1.8M items, most of the
 * ticket phase). Here both sides are read in the order they are stored
 * instead: the open items by one scan of their table, the run's findings
 * by their keys (finding_refs: run, kind, record_ref, id), which list each
 * kind's records in record_ref order; the items, sorted by (dataset +
 * rule, record_ref) in memory, are merged with each kind's list, and the
 * items that matched go into a temporary table with their findings
 * (TK_REFRESHED), and one statement updates, in item order, those whose
 * finding differs — both tables visited in the order of their pages. The
 * same scan of the
 * items counts each ticket's judged items and those failing again, which
 * the re-check needs next (ticket_sync.c), so it does not read them all
 * again. About 56 bytes of memory per open item while it runs (the item,
 * its id, then its finding by place).
 *
 * Items left alone. A record failing again unchanged has a finding equal
 * to its item: the same row, key, value and message, and the same sealed
 * copy (sealing is deterministic, identity/seal.h). Its item's row is not
 * written (W1 1M night 2: every open item was rewritten before, 135 MB
 * more written and about 0.4 s more commit; bench/README.md "Steady night
 * 2").
 * So last_run no longer tells the items failing again in this run: the
 * temporary table TK_REFRESHED does, until the re-check that reads it is
 * done (ticket_sync.c clears it), holding every open item that had a
 * finding, changed or not.
 *
 * From memory. In a run the findings writer keeps the keys it wrote, each
 * with a digest of its finding's evidence (ticket_evidence_digest,
 * ticket_digest.c), and hands them to the merge (ticket_seen keys) instead
 * of their being read back; the scan digests each open item's evidence the same way — an
 * item naming a finding keeps that digest in its row (store step 17's
 * digest; the key is the store's, ticket_evidence_digest_key), so no
 * finding is read for it (W1 100k night 2: ~2,000 instructions an item
 * when the named finding's row was read, ticket_named.c). On a
 * steady night — every judged item failing again, so nothing but the
 * update reads TK_REFRESHED — only the matched items whose digest is not
 * their finding's go into it, and the update's comparison, exact, decides
 * over those (W1 1M night 2: 180,000 pairs inserted and compared before, to
 * change none).
 *
 * The matches are those of one statement (collect_sql): a record_ref that
 * is not the text of 32 lower-case hex digits (refs are written by
 * store_record_ref, but an old or imported store may hold others) makes
 * the merge step aside for that statement, whose order and equality it
 * would not know to follow; the update is the same either way.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/store.h"

/* The first finding of run ?1 of the item of alias ticket_item_rows (cols). */
#define FIRST_FINDING(cols)                                                                     \
    "(SELECT " cols " FROM finding_refs x CROSS JOIN finding_rows f ON f.id = x.id"             \
    " WHERE x.run = (SELECT id FROM finding_runs"                                              \
    " WHERE run_id = ?1) AND x.kind IN (SELECT k.id FROM finding_kinds k"                      \
    " WHERE (k.dataset, k.rule) = " TK_KIND_COL("dataset, rule", "ticket_item_rows.kind") ")"   \
    " AND x.record_ref = ticket_item_rows.record_ref ORDER BY x.id LIMIT 1)"

/* Item i's evidence (g: the finding it names, if any; loop/ticket_private.h). */
#define EV_KEY TK_EV_KEY("i", "g")
#define EV_MESSAGE TK_EV_MESSAGE("i", "g")

/* Whether item i (its evidence) differs from what finding f would refresh
 * it to (last_run aside): f's row_no, value and sealed copy, f's key and
 * message unless NULL, when the item's are kept. */
#define DIFFERS                                                                                 \
    "(" TK_EV_ROW_NO("i", "g") " IS NOT f.row_no OR " TK_EV_VALUE("i", "g") " IS NOT f.value"    \
    " OR " TK_EV_SEALED("i", "g") " IS NOT f.sealed"                                             \
    " OR (f.record_key IS NOT NULL AND " EV_KEY " IS NOT f.record_key)"                         \
    " OR (f.message IS NOT NULL AND " EV_MESSAGE " IS NOT f.message))"

/* Whether the item refreshed from f may name f instead of holding the
 * evidence (store step 17): naming f reads f's key and message with ''
 * as NULL and an empty sealed copy as NULL, and a NULL key or message of
 * f must not replace the item's, so f names it when neither is '' nor
 * NULL over an item's non-NULL one, and its sealed copy is not empty.
 * Otherwise the item holds the refreshed evidence itself. */
#define NAMES                                                                                   \
    "((f.record_key <> '' OR (f.record_key IS NULL AND " EV_KEY " IS NULL))"                    \
    " AND (f.message <> '' OR (f.message IS NULL AND " EV_MESSAGE " IS NULL))"                  \
    " AND (f.sealed IS NULL OR length(f.sealed) > 0))"

/* The matches as one statement: each open item with a finding in run ?1
 * and its first one (what the merge finds). */
static const char collect_sql[] =
    "INSERT INTO " TK_REFRESHED "(item, finding) SELECT item, finding FROM"
    " (SELECT id AS item, " FIRST_FINDING("x.id") " AS finding FROM ticket_item_rows"
    "  WHERE state = 'open') WHERE finding IS NOT NULL";

/* The matched items (alias i) with their findings (f) and the findings
 * they name (g). */
#define MATCHED                                                                                 \
    " FROM " TK_REFRESHED " m CROSS JOIN finding_rows f ON f.id = m.finding"                    \
    " CROSS JOIN ticket_item_rows i ON i.id = m.item LEFT JOIN finding_rows g ON g.id = i.finding"

/* The refresh of the matched items that differ from their findings: each
 * names its finding (last_run the run) and keeps its digest, or holds the
 * refreshed evidence (NAMES) and no digest. Driven by the items named in
 * the WHERE (their ids looked up), not a join of the table with them
 * (UPDATE ... FROM scanned every item). */
static const char update_sql[] =
    "UPDATE ticket_item_rows SET (last_run, finding, digest, row_no, record_key, value, message,"
    " sealed) = (SELECT " TK_RUN_OF("?1") ", CASE WHEN " NAMES " THEN f.id END,"
    "  CASE WHEN " NAMES " THEN " TK_DIGEST_SQL "(f.row_no, f.record_key, f.value, f.message,"
    "  f.sealed) END,"
    "  CASE WHEN " NAMES " THEN NULL ELSE f.row_no END,"
    "  CASE WHEN " NAMES " THEN NULL ELSE coalesce(f.record_key, " EV_KEY ") END,"
    "  CASE WHEN " NAMES " THEN NULL ELSE f.value END,"
    "  CASE WHEN " NAMES " THEN NULL ELSE coalesce(f.message, " EV_MESSAGE ") END,"
    "  CASE WHEN " NAMES " THEN NULL ELSE f.sealed END"
    MATCHED " WHERE m.item = ticket_item_rows.id)"
    " WHERE id IN (SELECT m.item" MATCHED " WHERE " DIFFERS ")";

/* The open items read: v sorted for the merge, id[v[i].pos] the id of
 * v[i] (ids ascending: the order read, the table's). */
struct loaded {
    struct tk_open_item *v;
    int64_t *id;
    size_t n, cap;
};

/* An item to update and its finding (written over the open items, which
 * are larger, when they are no longer needed: insert_matches). */
struct match {
    int64_t id, finding;
};
_Static_assert(sizeof(struct match) <= sizeof(struct tk_open_item), "a match fits in an item");

#define ITEM_JUDGED (1u << 31)  /* its rule judged its dataset in the run */
#define ITEM_WAS_RUN (1u << 30) /* its last_run was the run already (the run wrote it) */
#define ITEM_SAME (1u << 29)    /* its finding's evidence digest equals its own */
#define ITEM_SLOT (ITEM_SAME - 1u)

/* The (dataset, rule) pairs of the store's finding kinds, and each kind's
 * pair. */
struct groups {
    char **dataset, **rule;
    size_t n;
    int64_t *kind;   /* finding_kinds ids, ascending */
    uint32_t *of;    /* of[i]: the group of kind[i] */
    size_t nkinds;
};

static void groups_free(struct groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->dataset[i]);
        free(g->rule[i]);
    }
    free(g->dataset);
    free(g->rule);
    free(g->kind);
    free(g->of);
}

/* The group of (dataset, rule), or -1 when no kind has it. last: the
 * group found before, tried first (items come grouped by rule). */
static long group_of(const struct groups *g, const char *dataset, const char *rule, long last)
{
    if (!dataset || !rule)
        return -1;
    if (last >= 0 && strcmp(g->rule[last], rule) == 0 && strcmp(g->dataset[last], dataset) == 0)
        return last;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->rule[i], rule) == 0 && strcmp(g->dataset[i], dataset) == 0)
            return (long)i;
    return -1;
}

/* Reads finding_kinds into *g. 0 or -2. */
static int groups_load(sqlite3 *db, struct groups *g, struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT id, dataset, rule FROM finding_kinds ORDER BY id", err);
    if (!st)
        return -2;
    int rc;
    size_t cap = 0;
    while ((rc = sql_row(db, st, "读取问题类别", err)) == 1) {
        const char *dataset = sql_text(st, 1), *rule = sql_text(st, 2);
        long at = group_of(g, dataset, rule, -1);
        if (at < 0 && dataset && rule) {
            g->dataset = qloop_xrealloc(g->dataset, (g->n + 1) * sizeof *g->dataset);
            g->rule = qloop_xrealloc(g->rule, (g->n + 1) * sizeof *g->rule);
            g->dataset[g->n] = qloop_xstrdup(dataset);
            g->rule[g->n] = qloop_xstrdup(rule);
            at = (long)g->n++;
        }
        if (at < 0)
            continue;
        if (g->nkinds == cap) {
            cap = cap ? cap * 2 : 16;
            g->kind = qloop_xrealloc(g->kind, cap * sizeof *g->kind);
            g->of = qloop_xrealloc(g->of, cap * sizeof *g->of);
        }
        g->kind[g->nkinds] = sqlite3_column_int64(st, 0);
        g->of[g->nkinds++] = (uint32_t)at;
    }
    sqlite3_finalize(st);
    return rc < 0 ? -2 : 0;
}

/* The group of kind, or -1 (kinds are ascending). */
static long group_of_kind(const struct groups *g, int64_t kind)
{
    ptrdiff_t at = tk_kind_index(g->kind, g->nkinds, kind);
    return at < 0 ? -1 : (long)g->of[at];
}

static int by_group_ref(const struct tk_open_item *x, const struct tk_open_item *y)
{
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    for (int i = 0; i < 2; i++)
        if (x->ref[i] != y->ref[i])
            return x->ref[i] < y->ref[i] ? -1 : 1;
    return 0;
}

static void swap_items(struct tk_open_item *x, struct tk_open_item *y)
{
    struct tk_open_item t = *x;
    *x = *y;
    *y = t;
}

/* Sorts v[0..n) by group and ref in place: a quicksort (median of three,
 * the smaller side first, so the stack holds log n frames) ending in
 * insertion sorts. In place, because qsort's buffer (16 bytes an item) was
 * most of night 2's peak memory at 10M; the refs are keyed hashes, so no
 * input drives the pivots to their worst. */
static void quick_sort_items(struct tk_open_item *v, size_t n)
{
    while (n > 16) {
        size_t mid = n / 2;
        if (by_group_ref(&v[mid], &v[0]) < 0)
            swap_items(&v[mid], &v[0]);
        if (by_group_ref(&v[n - 1], &v[0]) < 0)
            swap_items(&v[n - 1], &v[0]);
        if (by_group_ref(&v[n - 1], &v[mid]) < 0)
            swap_items(&v[n - 1], &v[mid]);
        struct tk_open_item pivot = v[mid]; /* v[0] <= pivot <= v[n - 1] */
        size_t i = 0, j = n - 1;
        for (;;) {
            while (by_group_ref(&v[i], &pivot) < 0)
                i++;
            while (by_group_ref(&pivot, &v[j]) < 0)
                j--;
            if (i >= j)
                break;
            swap_items(&v[i], &v[j]);
            i++;
            j--;
        }
        /* v[0..j] <= pivot <= v[j+1..n) */
        size_t left = j + 1;
        if (left < n - left) {
            quick_sort_items(v, left);
            v += left;
            n -= left;
        } else {
            quick_sort_items(v + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && by_group_ref(&v[k], &v[k - 1]) < 0; k--)
            swap_items(&v[k], &v[k - 1]);
}

/* The bucket of item x in a pass of flag_sort: its group (shift 64), or
 * the top 64 - shift bits of its ref. */
static size_t bucket_of(const struct tk_open_item *x, int shift)
{
    return shift == 64 ? x->group : (size_t)(x->ref[0] >> shift);
}

/* Moves v[0..n) into nb buckets by bucket_of(, shift), in place (American
 * flag sort: each item swapped at most once into its bucket's next free
 * place); at[0..nb] gets the buckets' bounds, next (nb places) is scratch. */
static void flag_sort(struct tk_open_item *v, size_t n, size_t nb, int shift, size_t *at,
                      size_t *next)
{
    memset(at, 0, (nb + 1) * sizeof *at);
    for (size_t i = 0; i < n; i++)
        at[bucket_of(&v[i], shift) + 1]++;
    for (size_t b = 0; b < nb; b++)
        at[b + 1] += at[b];
    memcpy(next, at, nb * sizeof *next);
    for (size_t b = 0; b < nb; b++)
        while (next[b] < at[b + 1]) {
            size_t d = bucket_of(&v[next[b]], shift);
            if (d == b)
                next[b]++;
            else
                swap_items(&v[next[b]], &v[next[d]++]);
        }
}

/* Sorts v[0..n) by group and ref in place (ngroups groups): by group, then
 * each group by the top bits of its refs into about two items a bucket (the
 * refs are keyed hashes, evenly spread), both by flag_sort, then each
 * bucket by quick_sort_items (insertion sorts but for a crowded one). The
 * order of quick_sort_items alone (no two open items share a group and
 * ref: ticket_item_refs), in a few passes over the items instead of
 * about 20 compares each (W1 1M night 2: 64M instructions, 350 an item,
 * then about 26M); extra memory 16 bytes a bucket, 2^16 buckets at most. */
static void sort_items(struct tk_open_item *v, size_t n, size_t ngroups)
{
    enum { MAX_BITS = 16 };
    if (n < 64 || ngroups == 0) {
        quick_sort_items(v, n);
        return;
    }
    size_t most = ngroups > ((size_t)1 << MAX_BITS) ? ngroups : (size_t)1 << MAX_BITS;
    size_t *gat = qloop_xcalloc(ngroups + 1, sizeof *gat);
    size_t *at = qloop_xcalloc(most + 1, sizeof *at);
    size_t *next = qloop_xcalloc(most, sizeof *next);
    flag_sort(v, n, ngroups, 64, gat, next);
    for (size_t g = 0; g < ngroups; g++) {
        struct tk_open_item *w = v + gat[g];
        size_t m = gat[g + 1] - gat[g];
        int bits = 1;
        while (bits < MAX_BITS && ((size_t)2 << bits) < m)
            bits++;
        if (m < 64) {
            quick_sort_items(w, m);
            continue;
        }
        flag_sort(w, m, (size_t)1 << bits, 64 - bits, at, next);
        for (size_t b = 0; b < ((size_t)1 << bits); b++)
            quick_sort_items(w + at[b], at[b + 1] - at[b]);
    }
    free(gat);
    free(at);
    free(next);
}

/* The run's judged items counted per ticket: the tickets in the order
 * first seen (slot order), found by a hash of their ids. */
struct judged {
    struct tk_judged *v;
    size_t n, cap;
    uint32_t *hash; /* slot + 1, 0: empty; hcap entries, a power of 2 */
    size_t hcap;
};

static void judged_free(struct judged *j)
{
    free(j->v);
    free(j->hash);
}

static size_t hash_at(int64_t ticket, size_t hcap)
{
    return (size_t)(((uint64_t)ticket * 0x9E3779B97F4A7C15u) >> 17) & (hcap - 1);
}

/* The slot of ticket (added with zero counts when new). */
static uint32_t judged_slot(struct judged *j, int64_t ticket)
{
    if (2 * (j->n + 1) > j->hcap) {
        size_t hcap = j->hcap ? j->hcap * 2 : 64;
        uint32_t *h = qloop_xcalloc(hcap, sizeof *h);
        for (size_t i = 0; i < j->n; i++) {
            size_t at = hash_at(j->v[i].ticket, hcap);
            while (h[at])
                at = (at + 1) & (hcap - 1);
            h[at] = (uint32_t)i + 1;
        }
        free(j->hash);
        j->hash = h;
        j->hcap = hcap;
    }
    size_t at = hash_at(ticket, j->hcap);
    while (j->hash[at]) {
        if (j->v[j->hash[at] - 1].ticket == ticket)
            return j->hash[at] - 1;
        at = (at + 1) & (j->hcap - 1);
    }
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 16;
        j->v = qloop_xrealloc(j->v, j->cap * sizeof *j->v);
    }
    j->v[j->n] = (struct tk_judged){.ticket = ticket};
    j->hash[at] = (uint32_t)j->n + 1;
    return (uint32_t)j->n++;
}

/* What is known of one (dataset, rule) of the items: its group (-1: none)
 * and whether the run's rule judged the dataset. */
struct pair {
    char *dataset, *rule;
    long group;
    bool judged;
};

struct pairs {
    struct pair *v;
    size_t n;
    char **judged; /* the run's rule results: dataset, rule, dataset, rule, ... */
    size_t njudged;
};

static void pairs_free(struct pairs *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].dataset);
        free(ps->v[i].rule);
    }
    free(ps->v);
    for (size_t i = 0; i < 2 * ps->njudged; i++)
        free(ps->judged[i]);
    free(ps->judged);
}

/* Reads the (dataset, rule) of run_id's rule results into ps. 0 or -2. */
static int pairs_load(sqlite3 *db, const char *run_id, struct pairs *ps, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare_texts(
        db, "SELECT dataset, rule FROM rule_results WHERE run_id = ?1", 1, &run_id, err);
    if (!st)
        return -2;
    int rc;
    while ((rc = sql_row(db, st, "读取本次运行的规则结果", err)) == 1) {
        if (!sql_text(st, 0) || !sql_text(st, 1))
            continue;
        ps->judged = qloop_xrealloc(ps->judged, 2 * (ps->njudged + 1) * sizeof *ps->judged);
        ps->judged[2 * ps->njudged] = qloop_xstrdup(sql_text(st, 0));
        ps->judged[2 * ps->njudged + 1] = qloop_xstrdup(sql_text(st, 1));
        ps->njudged++;
    }
    sqlite3_finalize(st);
    return rc < 0 ? -2 : 0;
}

/* The pair of (dataset, rule) (neither NULL), added when new; last: the
 * one found before, tried first (items come grouped by rule). */
static const struct pair *pair_of(struct pairs *ps, const struct groups *g, const char *dataset,
                                  const char *rule, long *last)
{
    if (*last >= 0 && strcmp(ps->v[*last].rule, rule) == 0 &&
        strcmp(ps->v[*last].dataset, dataset) == 0)
        return &ps->v[*last];
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].rule, rule) == 0 && strcmp(ps->v[i].dataset, dataset) == 0) {
            *last = (long)i;
            return &ps->v[i];
        }
    bool judged = false;
    for (size_t i = 0; i < ps->njudged && !judged; i++)
        judged = strcmp(ps->judged[2 * i], dataset) == 0 && strcmp(ps->judged[2 * i + 1], rule) == 0;
    ps->v = qloop_xrealloc(ps->v, (ps->n + 1) * sizeof *ps->v);
    ps->v[ps->n] = (struct pair){.dataset = qloop_xstrdup(dataset),
                                 .rule = qloop_xstrdup(rule),
                                 .group = group_of(g, dataset, rule, -1),
                                 .judged = judged};
    *last = (long)ps->n;
    return &ps->v[ps->n++];
}

/* Item it names a finding of id 0 or less (a rowid a row may be given by
 * hand, never by qloop): its digest from that finding, looked up alone
 * (tk_named_digests reads positive ids), as the view shows it. 0 or -2. */
static int named_digest_once(sqlite3 *db, struct tk_open_item *it, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT " TK_EV_ROW_NO("i", "f") ", " TK_EV_KEY("i", "f") ","
                                   " " TK_EV_VALUE("i", "f") ", " TK_EV_MESSAGE("i", "f") ","
                                   " " TK_EV_SEALED("i", "f") " FROM (SELECT ?1 AS finding,"
                                   " NULL AS row_no, NULL AS record_key, NULL AS value,"
                                   " NULL AS message, NULL AS sealed) i"
                                   " LEFT JOIN finding_rows f ON f.id = i.finding",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, it->finding);
    int rc = sql_row(db, st, "读取工单记录的问题", err);
    if (rc == 1)
        it->digest = ticket_evidence_digest_row(st, 0, false);
    sqlite3_finalize(st);
    it->finding = 0;
    return rc == 1 ? 0 : -2;
}

/* Reads the open and missing items: the open ones of a group that has
 * finding kinds into *items (table order); each judged one counted in j
 * (judged; failing too when it is open, in no group and its last_run the
 * run: the rest are counted after the merge). 1 when every ref could be
 * read, 0 when one could not (the statement must do it), -2 on a store
 * error. */
static int load_items(sqlite3 *db, const char *run_id, const struct groups *g, struct pairs *ps,
                      struct judged *j, struct loaded *items, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare_texts(
        db,
        "SELECT i.id, k.dataset, k.rule, i.record_ref, i.ticket_id, i.state = 'open',"
        " i.last_run = " TK_RUN_OF("?1") ", i.finding, i.row_no, i.record_key, i.value, i.message,"
        " i.sealed, i.digest FROM ticket_item_rows i CROSS JOIN item_kinds k ON k.id = i.kind"
        " WHERE i.state IN ('open','missing') ORDER BY i.id",
        1, &run_id, err);
    if (!st)
        return -2;
    int rc = 0;
    long last = -1;
    bool readable = true;
    while (readable && rc != -2 && (rc = sql_row(db, st, "读取未关闭的工单记录", err)) == 1) {
        const char *dataset = sql_text(st, 1), *rule = sql_text(st, 2);
        if (!dataset || !rule)
            continue; /* NOT NULL columns: neither judged nor found */
        const struct pair *pr = pair_of(ps, g, dataset, rule, &last);
        bool open = sqlite3_column_int(st, 5) != 0, was_run = sqlite3_column_int(st, 6) != 0;
        uint32_t slot = 0;
        if (pr->judged) {
            slot = judged_slot(j, sqlite3_column_int64(st, 4));
            j->v[slot].judged++;
            if (open && was_run && pr->group < 0)
                j->v[slot].failing++;
        }
        if (!open || pr->group < 0)
            continue; /* no finding can be of it */
        if (items->n == items->cap) {
            if (items->cap == UINT32_MAX) {
                qloop_error_internal(err, NULL, "未关闭的工单记录超过 %u 条", UINT32_MAX);
                rc = -2;
                break;
            }
            items->cap = items->cap ? items->cap * 2 : 1024;
            if (items->cap > UINT32_MAX)
                items->cap = UINT32_MAX;
            items->v = qloop_xrealloc(items->v, items->cap * sizeof *items->v);
            items->id = qloop_xrealloc(items->id, items->cap * sizeof *items->id);
        }
        struct tk_open_item *it = &items->v[items->n];
        bool text = sqlite3_column_type(st, 3) == SQLITE_TEXT; /* asked before reading it */
        readable = text && qloop_unhex128(sql_text(st, 3), it->ref);
        items->id[items->n] = sqlite3_column_int64(st, 0);
        /* an item naming a finding (store step 17): the digest it keeps
         * of the finding's evidence; without one, the finding's id kept
         * in finding until tk_named_digests reads the findings */
        it->finding = sqlite3_column_type(st, 7) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 7);
        if (it->finding != 0 && sqlite3_column_type(st, 13) == SQLITE_INTEGER) {
            it->digest = (uint64_t)sqlite3_column_int64(st, 13);
            it->finding = 0;
        } else if (it->finding == 0)
            it->digest = ticket_evidence_digest_row(st, 8, false);
        else if (it->finding < 0 && named_digest_once(db, it, err) != 0)
            rc = -2;
        it->group = (uint32_t)pr->group;
        it->slot = slot | (pr->judged ? ITEM_JUDGED : 0) | (was_run ? ITEM_WAS_RUN : 0);
        it->pos = (uint32_t)items->n++;
    }
    sqlite3_finalize(st);
    if (readable && rc >= 0 && tk_named_digests(db, items->v, items->n, err) != 0)
        rc = -2;
    if (!readable)
        return 0;
    return rc < 0 ? -2 : 1;
}

/* The merge of the items (sorted by group and ref; start[g] .. start[g+1]
 * the range of group g) with the run's finding keys in (kind, record_ref,
 * id) order: where it stands. */
struct merge {
    const struct groups *g;
    struct tk_open_item *items;
    const size_t *start;
    bool *all_found;
    int64_t kind;
    long group;
    size_t p, end;
    bool first;
};

/* The merge's next key: gives the item of its record, if any, the finding
 * when it is the first of its record (the smallest id), and ITEM_SAME when
 * that finding's evidence digest (0: unknown) equals the item's. 0, or -1
 * when ref is NULL (not readable) and the kind's group has items to merge
 * with. */
static int merge_key(void *ctx, int64_t k, const uint64_t ref[2], int64_t id, uint64_t digest)
{
    struct merge *m = ctx;
    if (m->first || k != m->kind) { /* a kind's records, in ref order: merge from its group's start */
        m->first = false;
        m->kind = k;
        m->group = group_of_kind(m->g, k);
        m->p = m->group >= 0 ? m->start[m->group] : 0;
        m->end = m->group >= 0 ? m->start[m->group + 1] : 0;
    }
    if (m->group < 0) {
        *m->all_found = false;
        return 0;
    }
    if (!ref)
        return -1;
    struct tk_open_item f = {.ref = {ref[0], ref[1]}, .group = (uint32_t)m->group};
    struct tk_open_item *items = m->items;
    while (m->p < m->end && by_group_ref(&items[m->p], &f) < 0)
        m->p++;
    if (m->p < m->end && by_group_ref(&items[m->p], &f) == 0) {
        struct tk_open_item *it = &items[m->p];
        if (!it->finding || id < it->finding) {
            it->finding = id;
            if (digest && digest == it->digest)
                it->slot |= ITEM_SAME;
            else
                it->slot &= ~ITEM_SAME;
        }
    } else {
        *m->all_found = false;
    }
    return 0;
}

/* Gives each item of items (sorted by group and ref; start[g] .. start[g+1]
 * the range of group g) the id of run_id's first finding of its record,
 * and ITEM_SAME when the finding's evidence digest is known and equal to
 * the item's: the keys from seen->keys when the run kept them, else read
 * from finding_refs (digests unknown). *all_found: whether every finding of
 * the run is of one of the items. 1, 0 when a finding's ref could not be
 * read, -2 on a store error. */
static int match_findings(sqlite3 *db, const char *run_id, const struct ticket_seen *seen,
                          const struct groups *g, struct tk_open_item *items, const size_t *start,
                          bool *all_found, struct qloop_error *err)
{
    struct merge m = {.g = g, .items = items, .start = start, .all_found = all_found,
                      .group = -1, .first = true};
    if (seen && seen->keys) {
        int kept = seen->keys(seen->ctx, merge_key, &m);
        if (kept == 0)
            return 1;
        if (kept != 1) {
            qloop_error_internal(err, NULL, "本次运行的问题记录未能交给工单");
            return -2;
        }
        m = (struct merge){.g = g, .items = items, .start = start, .all_found = all_found,
                           .group = -1, .first = true};
    }
    sqlite3_stmt *st = sql_prepare_texts(db,
                                         "SELECT f.kind, f.record_ref, f.id FROM finding_refs f"
                                         " WHERE f.run = (SELECT id FROM finding_runs"
                                         " WHERE run_id = ?1) ORDER BY f.kind, f.record_ref, f.id",
                                         1, &run_id, err);
    if (!st)
        return -2;
    int rc;
    bool readable = true;
    while (readable && (rc = sql_row(db, st, "读取本次运行的问题记录", err)) == 1) {
        uint64_t ref[2];
        bool text = sqlite3_column_type(st, 1) == SQLITE_TEXT; /* asked before reading it */
        readable = merge_key(&m, sqlite3_column_int64(st, 0),
                             text && qloop_unhex128(sql_text(st, 1), ref) ? ref : NULL,
                             sqlite3_column_int64(st, 2), 0) == 0;
    }
    sqlite3_finalize(st);
    if (!readable)
        return 0;
    return rc < 0 ? -2 : 1;
}

/* How many (item, finding) pairs one INSERT into the temporary table of
 * matches carries. */
#define PAIRS_PER_INSERT 64

/* Inserts the n (<= PAIRS_PER_INSERT) pairs at v into TK_REFRESHED
 * with st (NULL: prepared here for n pairs; finalized by the caller).
 * 0 or -2. */
static int insert_pairs(sqlite3 *db, sqlite3_stmt **st, const struct match *v, size_t n,
                        struct qloop_error *err)
{
    if (!*st &&
        !(*st = sql_prepare_rows(db, "INSERT INTO " TK_REFRESHED "(item, finding) VALUES",
                                 "(?,?)", n, err)))
        return -2;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(*st, (int)(2 * i + 1), v[i].id);
        sqlite3_bind_int64(*st, (int)(2 * i + 2), v[i].finding);
    }
    return sql_done(db, *st, "记录仍未整改的工单记录", err) == 0 ? 0 : -2;
}

/* Puts the items that matched and their findings into TK_REFRESHED (emptied
 * by the caller), in item order — all of them, or (all false) only those
 * whose finding's evidence digest differs from theirs or is unknown — for
 * update_sql: one statement over the
 * pairs updating the items whose finding differs, each from its finding.
 * One statement run per item cost three
 * times as much (W1 1M night 2: 14,000 instructions an item, most of them
 * the statement's start and end); one statement asking a C function for
 * each item's finding needs a statement journal (a function may fail
 * halfway), a copy of every page of items it changes (W1 1M: 115 MB
 * written to a temporary file). 0 or -2. */
static int insert_matches(sqlite3 *db, struct loaded *items, bool all, struct qloop_error *err)
{
    /* The findings in the order read (by pos), then the matched items in
     * it: id order, as the table was read. */
    int64_t *found = qloop_xcalloc(items->n ? items->n : 1, sizeof *found);
    for (size_t i = 0; i < items->n; i++)
        if (all || !(items->v[i].slot & ITEM_SAME))
            found[items->v[i].pos] = items->v[i].finding;
    struct match *v = (struct match *)items->v; /* no larger than an item: reused */
    size_t m = 0;
    for (size_t i = 0; i < items->n; i++)
        if (found[i])
            v[m++] = (struct match){.id = items->id[i], .finding = found[i]};
    free(found);
    sqlite3_stmt *full = NULL, *rest = NULL;
    int rc = 0;
    size_t i = 0;
    for (; rc == 0 && i + PAIRS_PER_INSERT <= m; i += PAIRS_PER_INSERT)
        rc = insert_pairs(db, &full, v + i, PAIRS_PER_INSERT, err);
    if (rc == 0 && i < m)
        rc = insert_pairs(db, &rest, v + i, m - i, err);
    sqlite3_finalize(full);
    sqlite3_finalize(rest);
    return rc;
}

int tk_refreshed_clear(sqlite3 *db, struct qloop_error *err)
{
    return sql_exec(db,
                    "CREATE TEMP TABLE IF NOT EXISTS qloop_refresh(item INTEGER PRIMARY KEY,"
                    " finding INTEGER NOT NULL); DELETE FROM " TK_REFRESHED,
                    "记录仍未整改的工单记录", err) == 0
               ? 0
               : -2;
}

static int by_ticket(const void *a, const void *b)
{
    const struct tk_judged *x = a, *y = b;
    return (x->ticket > y->ticket) - (x->ticket < y->ticket);
}

int tk_refresh_cache_kib = TK_REFRESH_CACHE_KIB;

int tk_refresh_failing(sqlite3 *db, const char *run_id, const struct ticket_seen *seen,
                       bool *all_found, struct tk_judged_set *judged, struct qloop_error *err)
{
    *all_found = true;
    if (judged)
        *judged = (struct tk_judged_set){0};
    struct groups g = {0};
    struct pairs ps = {0};
    struct judged j = {0};
    struct loaded items = {0};
    int rc = tk_digest_sql(db, err); /* keys the digests too */
    if (rc == 0)
        rc = tk_refreshed_clear(db, err);
    if (rc == 0)
        rc = groups_load(db, &g, err);
    if (rc == 0)
        rc = pairs_load(db, run_id, &ps, err);
    int64_t cache = 0; /* small while the items and the keys live: TK_REFRESH_CACHE_KIB */
    const char *what = "读取未关闭的工单记录";
    bool small = rc == 0 && sql_cache_shrink(db, tk_refresh_cache_kib, &cache, what, err) == 0;
    if (rc == 0)
        rc = small ? load_items(db, run_id, &g, &ps, &j, &items, err) : -2;
    size_t *start = NULL;
    if (rc == 1) {
        sort_items(items.v, items.n, g.n);
        start = qloop_xcalloc(g.n + 1, sizeof *start);
        for (size_t i = 0; i < items.n; i++)
            start[items.v[i].group + 1]++;
        for (size_t i = 0; i < g.n; i++)
            start[i + 1] += start[i];
        rc = match_findings(db, run_id, seen, &g, items.v, start, all_found, err);
    }
    if (small && sql_cache_restore(db, cache, what, err) != 0)
        rc = -2;
    if (rc != 1)
        *all_found = false;
    if (rc == 1) {
        for (size_t i = 0; i < items.n; i++)
            if ((items.v[i].slot & ITEM_JUDGED) &&
                ((items.v[i].slot & ITEM_WAS_RUN) || items.v[i].finding))
                j.v[items.v[i].slot & ITEM_SLOT].failing++;
        /* Every judged item failing again (a steady night): nothing reads
         * TK_REFRESHED but the update, which needs only the items whose
         * evidence may differ from their finding's. */
        bool steady = judged != NULL;
        for (size_t t = 0; t < j.n && steady; t++)
            steady = j.v[t].judged == j.v[t].failing;
        rc = insert_matches(db, &items, !steady, err);
        if (rc == 0)
            rc = sql_exec_texts(db, update_sql, "更新仍未整改的工单记录", err, 1, &run_id) == 0 ? 0 : -2;
        if (rc == 0 && judged) {
            if (j.n)
                qsort(j.v, j.n, sizeof *j.v, by_ticket);
            *judged = (struct tk_judged_set){.v = j.v, .n = j.n, .known = true};
            j.v = NULL;
        }
    } else if (rc == 0) {
        /* refs the merge cannot read: the statement matches */
        rc = sql_exec_texts(db, collect_sql, "记录仍未整改的工单记录", err, 1, &run_id) == 0 ? 0 : -2;
        if (rc == 0)
            rc = sql_exec_texts(db, update_sql, "更新仍未整改的工单记录", err, 1, &run_id) == 0 ? 0 : -2;
    }
    free(start);
    free(items.v);
    free(items.id);
    judged_free(&j);
    pairs_free(&ps);
    groups_free(&g);
    return rc;
}
