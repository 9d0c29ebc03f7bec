/*
 * ticket_fresh.c — a run's findings in the order their items are added
 * when none of the run's datasets and rules has an item yet (a first
 * night, a compare on a new store): by (dataset, rule), and in id order
 * within each (ticket_new_findings.c, tk_add_findings).
 *
 * SQL sorted every finding of the run for that order (ORDER BY the rank of
 * its kind, then id, after a scan of the run's index range for min and max
 * id): ~8,000 instructions a finding, a third of a first night's ticket
 * phase. Here each dataset + rule (a group: its kinds, one per field) is
 * read from the findings' keys by record (finding_refs, schema step 14: its
 * primary key (run, kind, record_ref, id), nothing but the keys' pages)
 * into memory, its rows sorted by id in C, and handed over one by one;
 * then the next group. Only one group's ids
 * and refs are held at a time.
 *
 * A record found more than once in a group becomes one item, its first
 * finding's (ticket_sync.c skips the later ones). A kind's rows arrive in
 * (record_ref, id) order, the table's key, so a record's later findings of
 * the same kind follow its first and are dropped here with one compare,
 * instead of each finding being looked up and put in a hash map of the
 * group's records (W1 10M: 2M findings, ~0.5 s). A group of one kind is
 * then known to hold each record once (tk_fresh.distinct); a group of
 * several may still have a record in two kinds, left to the caller.
 *
 * The sort by id is a radix sort on the id's offset from the group's
 * smallest (11 bits a pass: two passes for a run of up to 4M findings)
 * instead of qsort (~0.4 s at 10M): ids are unique, so any correct sort
 * gives the same order.
 *
 * The keys from memory. The findings writer sorted the run's keys by
 * (kind, record_ref, id) moments before, to write finding_refs in its key
 * order, and keeps them for the ticket phase when one write held them all
 * (run/findings_refs.h, findings_refs_keep), with each finding's evidence
 * digest. A first night takes them (tk_kept_take: the writer's own sorted
 * array, given away, no copy) and its groups are filled from them instead
 * of read back from finding_refs (W1 10M: 2M rows, 292 ms), a record's
 * later findings of a kind skipped, the ref's hex text made from its two
 * numbers as the writer made finding_refs'. The kinds and their order
 * still come from the store; only when every kind of the run has its share
 * of the keys, and no key is of another kind, are the keys used, else the
 * whole run is read back as before.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* ---- the run's keys, as the findings writer kept them --------------------- */

/* Starts a share of k's keys for kind (after those of smaller kinds). */
static void kept_new_kind(struct tk_kept *k, int64_t kind)
{
    if (k->nkinds == k->kinds_cap) {
        k->kinds_cap = k->kinds_cap ? k->kinds_cap * 2 : 16;
        k->kind = qloop_xrealloc(k->kind, k->kinds_cap * sizeof *k->kind);
        k->from = qloop_xrealloc(k->from, (k->kinds_cap + 1) * sizeof *k->from);
    }
    k->kind[k->nkinds] = kind;
    k->from[k->nkinds++] = k->n;
}

/* Whether key (kind, ref, id) comes after the last of k in (kind, ref, id)
 * order. */
static bool kept_after(const struct tk_kept *k, int64_t kind, const uint64_t ref[2], int64_t id)
{
    if (!k->n)
        return kind > 0;
    const struct ticket_key *last = &k->v[k->n - 1];
    if (kind != last->kind)
        return kind > last->kind;
    if (ref[0] == last->ref[0] && ref[1] == last->ref[1])
        return id > k->first + last->at;
    return ref[0] > last->ref[0] || (ref[0] == last->ref[0] && ref[1] > last->ref[1]);
}

/* Takes the keys given (sorted by the run) into k, its kinds' shares found
 * in one pass that also checks the order. false when out of order. */
static bool kept_given(struct tk_kept *k, struct ticket_keys *keys)
{
    k->v = keys->v;
    k->digest = keys->digest;
    k->first = keys->first;
    for (size_t i = 0; i < keys->n; i++) {
        const struct ticket_key *e = &keys->v[i];
        if (e->at >= keys->n || !kept_after(k, e->kind, e->ref, keys->first + e->at))
            return false;
        if (!k->n || e->kind != k->v[k->n - 1].kind)
            kept_new_kind(k, e->kind);
        k->n++; /* a record's later findings stay: take_kind skips them */
    }
    return true;
}

void tk_kept_take(const struct ticket_seen *seen, struct tk_kept *k)
{
    memset(k, 0, sizeof *k);
    if (!seen || !seen->give)
        return;
    struct ticket_keys keys;
    bool taken = seen->give(seen->ctx, &keys) == 0 && kept_given(k, &keys);
    if (!k->v) { /* not taken into k: freed here */
        free(keys.v);
        free(keys.digest);
    }
    if (!taken || !k->nkinds) {
        tk_kept_free(k);
        return;
    }
    k->from[k->nkinds] = k->n;
    k->whole = true;
}

void tk_kept_free(struct tk_kept *k)
{
    free(k->v);
    free(k->digest);
    free(k->kind);
    free(k->from);
    memset(k, 0, sizeof *k);
}

/* ---- the groups ------------------------------------------------------------ */

/* The group being read. */
struct fresh_group {
    char *dataset, *rule;
    struct fresh_row *rows, *scratch;
    size_t n, cap, scratch_cap;
    size_t kinds;          /* kinds read into the group */
    char **fields;         /* each kind's field ("" for none), kinds of them */
    size_t fields_cap;
    struct qloop_buf refs; /* NUL-terminated record_refs */
    const struct tk_kept *kept; /* the rows' keys (row.ref: a key's place); NULL: refs */
};

/* Makes room in g for its next kind, of field `field` (NULL as ""), and
 * returns its place among g's kinds. */
static size_t add_kind(struct fresh_group *g, const char *field)
{
    if (g->kinds == g->fields_cap) {
        g->fields_cap = g->fields_cap ? g->fields_cap * 2 : 4;
        g->fields = qloop_xrealloc(g->fields, g->fields_cap * sizeof *g->fields);
    }
    g->fields[g->kinds] = qloop_xstrdup(field ? field : "");
    return g->kinds++;
}

/* Room for m more rows in g. */
static void reserve_rows(struct fresh_group *g, size_t m)
{
    if (g->n + m <= g->cap)
        return;
    while (g->cap < g->n + m)
        g->cap = g->cap ? g->cap * 2 : 1024;
    g->rows = qloop_xrealloc(g->rows, g->cap * sizeof *g->rows);
}

/* Takes the keys g->kept holds of its kind at place `at` into g as rows of
 * a kind of field `field`: each record's first finding (a kind's keys are
 * in (ref, id) order, so its later ones follow it and are skipped here
 * with one compare). */
static void take_kind(struct fresh_group *g, size_t at, const char *field)
{
    const struct tk_kept *kept = g->kept;
    size_t k = add_kind(g, field);
    size_t from = kept->from[at], to = kept->from[at + 1];
    reserve_rows(g, to - from);
    for (size_t i = from; i < to; i++) {
        const struct ticket_key *e = &kept->v[i];
        if (i > from && e->ref[0] == e[-1].ref[0] && e->ref[1] == e[-1].ref[1])
            continue;
        g->rows[g->n++] = (struct fresh_row){kept->first + e->at, i, k};
    }
}

/* Reads the findings of kind `kind` (whose field is `field`, NULL as "")
 * in run `run` into g. 0 or -2. */
static int read_kind(sqlite3 *db, sqlite3_stmt *rows, int64_t run, int64_t kind,
                     const char *field, struct fresh_group *g, struct qloop_error *err)
{
    sqlite3_reset(rows);
    sqlite3_bind_int64(rows, 1, run);
    sqlite3_bind_int64(rows, 2, kind);
    int rc;
    size_t first = g->n; /* this kind's first row */
    size_t k = add_kind(g, field);
    while ((rc = sql_row(db, rows, "读取本次运行的问题记录", err)) == 1) {
        const char *ref = sql_text(rows, 1);
        if (!ref) {
            qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                 "运行的问题记录缺少记录标识（finding_rows #%lld）",
                                 (long long)sqlite3_column_int64(rows, 0));
            return -2;
        }
        size_t len = (size_t)sqlite3_column_bytes(rows, 1);
        /* a later finding of the record just read (rows in (ref, id) order) */
        if (g->n > first) {
            const char *last = g->refs.ptr + g->rows[g->n - 1].ref;
            if (memcmp(last, ref, len) == 0 && last[len] == '\0')
                continue;
        }
        reserve_rows(g, 1);
        g->rows[g->n++] = (struct fresh_row){sqlite3_column_int64(rows, 0), g->refs.len, k};
        qloop_buf_append(&g->refs, ref, len + 1);
    }
    sqlite3_reset(rows);
    return rc < 0 ? -2 : 0;
}

void tk_fresh_sort_by_id(struct fresh_row *v, struct fresh_row *scratch, size_t n)
{
    enum { BITS = 11, SLOTS = 1 << BITS };
    if (n < 2)
        return;
    int64_t lo = v[0].id, hi = v[0].id;
    for (size_t i = 1; i < n; i++) {
        lo = v[i].id < lo ? v[i].id : lo;
        hi = v[i].id > hi ? v[i].id : hi;
    }
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    struct fresh_row *from = v, *to = scratch;
    for (unsigned shift = 0; shift < 64 && (shift == 0 || span >> shift); shift += BITS) {
        size_t count[SLOTS] = {0};
        for (size_t i = 0; i < n; i++)
            count[(((uint64_t)from[i].id - (uint64_t)lo) >> shift) & (SLOTS - 1)]++;
        size_t sum = 0;
        for (size_t d = 0; d < SLOTS; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(((uint64_t)from[i].id - (uint64_t)lo) >> shift) & (SLOTS - 1)]++] = from[i];
        struct fresh_row *t = from;
        from = to;
        to = t;
    }
    if (from != v)
        memcpy(v, from, n * sizeof *v);
}

/* How far ahead of the row being handed over hand_over asks for a row's
 * kept key. The rows go in id order while their keys lie in (kind, ref)
 * order: each row's key is a random read of the kept keys (32 bytes a
 * finding, ~64 MB at W1 10M, far past the caches). Unasked, the key's miss
 * showed as qloop_hex128, the key's first reader: W1 10M night 1, 121 of
 * the run's thread's 1,287 samples in the ticket phase (bench/README.md,
 * "A first night's ticket phase outside SQLite"). Each row costs ~1 us of
 * the items' work, so a few rows ahead cover a miss. Its digest needs no
 * asking: found by the finding's id (digest[id - first], the key's at),
 * read in id order it is read in address order. */
enum { KEY_AHEAD = 16 };

/* Sorts g's findings by id and hands each to each(). 0, or what each()
 * returned when not 0 (the rest not handed over). */
static int hand_over(struct fresh_group *g, int (*each)(void *ctx, const struct tk_fresh *f),
                     void *ctx)
{
    if (g->scratch_cap < g->n) {
        free(g->scratch);
        g->scratch = qloop_xmalloc(g->n * sizeof *g->scratch);
        g->scratch_cap = g->n;
    }
    tk_fresh_sort_by_id(g->rows, g->scratch, g->n);
    char hex[33];
    hex[32] = '\0';
    for (size_t i = 0; i < g->n; i++) {
        const struct fresh_row *r = &g->rows[i];
#if defined(__GNUC__)
        /* here, not in a function of its own: GCC takes a function of
         * nothing but prefetches for pure and drops its calls */
        if (g->kept && i + KEY_AHEAD < g->n)
            __builtin_prefetch(&g->kept->v[g->rows[i + KEY_AHEAD].ref]);
#endif
        struct tk_fresh f = {r->id, g->dataset, g->rule, g->refs.ptr + r->ref,
                             g->fields[r->kind], 0, g->kinds == 1};
        if (g->kept) {
            qloop_hex128(g->kept->v[r->ref].ref, hex);
            f.ref = hex;
            f.digest = g->kept->digest[r->id - g->kept->first];
        }
        int rc = each(ctx, &f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void group_reset(struct fresh_group *g)
{
    free(g->dataset);
    free(g->rule);
    g->dataset = g->rule = NULL;
    for (size_t k = 0; k < g->kinds; k++)
        free(g->fields[k]);
    g->n = g->kinds = 0;
    qloop_buf_reset(&g->refs);
}

/* A kind of the run: its store id, dataset, rule and field (malloc'd; the
 * field NULL for none), and its place among the kept keys' kinds (-1:
 * none). */
struct fresh_kind {
    int64_t id;
    char *dataset, *rule, *field;
    ptrdiff_t kept;
};

static void kinds_free(struct fresh_kind *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].dataset);
        free(v[i].rule);
        free(v[i].field);
    }
    free(v);
}

/* The kinds of run `run` in (dataset, rule) order (BINARY, as ORDER BY
 * compares), then id, into *out (*n of them). 0 or -2. */
static int read_kinds(sqlite3 *db, int64_t run, const char *run_id, struct fresh_kind **out,
                      size_t *n, struct qloop_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT k.id, k.dataset, k.rule, k.field FROM finding_kinds k"
                                   " WHERE EXISTS (SELECT 1 FROM finding_refs f"
                                   "  WHERE f.run = ?1 AND f.kind = k.id)"
                                   " ORDER BY k.dataset, k.rule, k.id",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, run);
    size_t cap = 0;
    int rc, result = 0;
    while ((rc = sql_row(db, st, "读取本次运行的问题类型", err)) == 1) {
        const char *dataset = sql_text(st, 1), *rule = sql_text(st, 2);
        if (!dataset || !rule) {
            result = qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                          "运行 %s 的问题记录缺少数据集、规则或记录标识", run_id);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = qloop_xrealloc(*out, cap * sizeof **out);
        }
        const char *field = sql_text(st, 3);
        (*out)[(*n)++] = (struct fresh_kind){sqlite3_column_int64(st, 0), qloop_xstrdup(dataset),
                                             qloop_xstrdup(rule),
                                             field ? qloop_xstrdup(field) : NULL, -1};
    }
    sqlite3_finalize(st);
    if (result == 0 && rc < 0)
        result = -2;
    if (result != 0) {
        kinds_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return result;
}

/* Whether kept holds the keys of exactly the kinds v[0..n), each kind's
 * place among them noted in v (kept may be NULL: no). */
static bool kept_fits(const struct tk_kept *kept, struct fresh_kind *v, size_t n)
{
    if (!kept || !kept->whole || kept->nkinds != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((v[i].kept = tk_kind_index(kept->kind, kept->nkinds, v[i].id)) < 0)
            return false;
    return true; /* n distinct kinds, each found among the n kept */
}

int tk_fresh_findings(sqlite3 *db, const char *run_id, const struct tk_kept *kept,
                      int (*each)(void *ctx, const struct tk_fresh *f), void *ctx,
                      struct qloop_error *err)
{
    int64_t run = 0;
    if (sql_int64_texts(db, "SELECT id FROM finding_runs WHERE run_id = ?1", 1, &run_id, 0, &run,
                        err) != 0)
        return -2;
    if (!run)
        return 0;
    struct fresh_kind *kinds;
    size_t nkinds;
    if (read_kinds(db, run, run_id, &kinds, &nkinds, err) != 0)
        return -2;
    struct fresh_group g = {.kept = kept_fits(kept, kinds, nkinds) ? kept : NULL};
    sqlite3_stmt *rows = g.kept ? NULL
                                : sql_prepare(db,
                                              "SELECT id, record_ref FROM finding_refs"
                                              " WHERE run = ?1 AND kind = ?2"
                                              " ORDER BY record_ref, id",
                                              err);
    int result = g.kept || rows ? 0 : -2;
    for (size_t i = 0; result == 0 && i < nkinds; i++) {
        const struct fresh_kind *k = &kinds[i];
        if (g.dataset && (strcmp(g.dataset, k->dataset) != 0 || strcmp(g.rule, k->rule) != 0)) {
            result = hand_over(&g, each, ctx);
            group_reset(&g);
        }
        if (result != 0)
            break;
        if (!g.dataset) {
            g.dataset = qloop_xstrdup(k->dataset);
            g.rule = qloop_xstrdup(k->rule);
        }
        if (g.kept)
            take_kind(&g, (size_t)k->kept, k->field);
        else
            result = read_kind(db, rows, run, k->id, k->field, &g, err);
    }
    sqlite3_finalize(rows);
    kinds_free(kinds, nkinds);
    if (result == 0 && g.dataset)
        result = hand_over(&g, each, ctx);
    group_reset(&g);
    free(g.rows);
    free(g.scratch);
    free(g.fields);
    qloop_buf_free(&g.refs);
    return result == 0 ? 0 : -2;
}
