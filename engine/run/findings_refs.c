/*
 * findings_refs.c — the findings' keys by record written in key order (see
 * run/findings_refs.h): entries collected per flush, sorted (a bucket
 * sort: findings_refs_sort), inserted into finding_refs 64 rows to a
 * statement; or, when they cannot be held, copied by one INSERT ... SELECT
 * ... ORDER BY.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "run/findings_refs.h"
#include "store/sql.h"
#include "store/store.h"

#define ref_entry findings_ref_entry

/* Rows of finding_refs inserted by one statement. */
enum { ROWS = 64 };

enum { KIND_SPAN = 1 << 16, MAX_BITS = 16, FEW = 24 };

/* What findings_refs_sort works in: n entries of scratch, at and fill for
 * KIND_SPAN + 2 kinds, 2^MAX_BITS counts. Made by the thread that sorts,
 * or beforehand by the one that hands the sort to another thread
 * (findings_refs_aside: so that thread allocates nothing — a new thread's
 * malloc arena would keep what it took past the sort). */
struct sort_space {
    struct ref_entry *scratch;
    size_t cap; /* entries of scratch */
    size_t *at, *fill, *count;
};

static void space_free(struct sort_space *ws);

struct findings_refs {
    struct ref_entry *v;
    size_t n, cap;
    size_t budget; /* bytes of entries at most */
    bool by_sql;   /* this flush's keys are copied by SQL */
    size_t added;  /* findings added this flush */
    bool sorted;   /* the entries are in key order (findings_refs_sort_entries) */
    bool aside;    /* entries added by another thread (findings_refs_aside) */
    struct sort_space space; /* made for that thread's sort, while aside */
    int64_t first; /* the id of the flush's first finding, once stored */
    size_t stored; /* findings whose ids are known: first .. first + stored - 1 */
    sqlite3 *db;   /* the statements' */
    sqlite3_stmt *one, *many;
    int64_t bound_run; /* the run bound in every row of one and many (0: none yet) */
    uint64_t *digest;    /* digest[at]: the evidence digest of the flush's finding at (cap) */
    bool keep;           /* findings_refs_keep: the run's keys kept after they are written */
    int kept_state;      /* KEPT_NONE, KEPT_ONE or KEPT_LOST */
    struct ref_entry *kv; /* the kept keys, sorted, kn of them */
    uint64_t *kdigest;   /* their digests by at */
    size_t kn;
    int64_t kfirst;      /* the id of the kept flush's first finding */
};

/* What is kept of the run's keys: nothing written yet, the one write's
 * entries, or none because a write could not keep them (by SQL, or a
 * second write with keys). */
enum { KEPT_NONE, KEPT_ONE, KEPT_LOST };

struct findings_refs *findings_refs_new(void)
{
    struct findings_refs *r = qloop_xcalloc(1, sizeof *r);
    r->budget = FINDINGS_REFS_BUDGET;
    return r;
}

static void drop_entries(struct findings_refs *r)
{
    free(r->v);
    free(r->digest);
    r->v = NULL;
    r->digest = NULL;
    r->n = r->cap = 0;
}

static void drop_kept(struct findings_refs *r)
{
    free(r->kv);
    free(r->kdigest);
    r->kv = NULL;
    r->kdigest = NULL;
    r->kn = 0;
}

void findings_refs_free(struct findings_refs *r)
{
    if (!r)
        return;
    drop_entries(r);
    drop_kept(r);
    space_free(&r->space);
    sqlite3_finalize(r->one);
    sqlite3_finalize(r->many);
    free(r);
}

void findings_refs_budget(struct findings_refs *r, size_t bytes)
{
    r->budget = bytes;
}

/* From now on this flush's keys are copied by SQL: the entries go. */
static void to_sql(struct findings_refs *r)
{
    r->by_sql = true;
    drop_entries(r);
}

void findings_refs_begin(struct findings_refs *r, size_t expected)
{
    drop_entries(r);
    r->by_sql = false;
    r->sorted = false;
    r->aside = false;
    r->added = 0;
    r->first = 0;
    r->stored = 0;
    if (expected > r->budget / sizeof *r->v) {
        to_sql(r);
        return;
    }
    r->v = expected ? malloc(expected * sizeof *r->v) : NULL;
    r->digest = r->v ? malloc(expected * sizeof *r->digest) : NULL;
    if (!r->digest) {
        free(r->v);
        r->v = NULL;
    }
    r->cap = r->v ? expected : 0;
}

/* Room for one more entry within the budget (doubling; not through
 * qloop_xrealloc, which would end the process when memory is short).
 * false: none. */
static bool grow(struct findings_refs *r)
{
    if (r->n < r->cap)
        return true;
    size_t most = r->budget / sizeof *r->v;
    size_t cap = r->cap ? r->cap * 2 : 4096;
    if (cap > most)
        cap = most;
    if (cap <= r->n)
        return false;
    struct ref_entry *v = realloc(r->v, cap * sizeof *v);
    if (!v)
        return false;
    r->v = v;
    uint64_t *d = realloc(r->digest, cap * sizeof *d);
    if (!d)
        return false; /* r->v grown, r->cap not: still consistent */
    r->digest = d;
    r->cap = cap;
    return true;
}

void findings_refs_add(struct findings_refs *r, int64_t kind, const char ref[32],
                       uint64_t digest)
{
    size_t at = r->added++;
    r->sorted = false;
    if (r->by_sql)
        return;
    struct ref_entry e;
    if (kind <= 0 || kind > UINT32_MAX || at > UINT32_MAX || !qloop_unhex128_prefix(ref, e.ref) ||
        !grow(r)) {
        to_sql(r);
        return;
    }
    e.kind = (uint32_t)kind;
    e.at = (uint32_t)at;
    r->digest[r->n] = digest; /* at == n while nothing went to SQL */
    r->v[r->n++] = e;
}

int findings_refs_stored(struct findings_refs *r, sqlite3 *db, size_t n, struct qloop_error *err)
{
    int64_t last = sqlite3_last_insert_rowid(db);
    if (r->stored == 0)
        r->first = last - (int64_t)n + 1;
    /* (entries added aside are counted against the stored ones when the
     * collector is done: findings_refs_aside_done, findings_refs_write) */
    if ((!r->aside && r->stored + n > r->added) ||
        last != r->first + (int64_t)(r->stored + n) - 1)
        return qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                    "问题记录的编号不连续（第 %zu 条起，编号 %lld）", r->stored,
                                    (long long)last);
    r->stored += n;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    const struct ref_entry *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->ref[0] != y->ref[0])
        return x->ref[0] < y->ref[0] ? -1 : 1;
    if (x->ref[1] != y->ref[1])
        return x->ref[1] < y->ref[1] ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Insertion sort of v[0..n) by by_key: for the few entries of one bucket. */
static void order_few(struct ref_entry *v, size_t n)
{
    for (size_t k = 1; k < n; k++) {
        struct ref_entry x = v[k];
        size_t m = k;
        for (; m > 0 && by_key(&v[m - 1], &x) > 0; m--)
            v[m] = v[m - 1];
        v[m] = x;
    }
}

static void space_free(struct sort_space *ws)
{
    free(ws->scratch);
    free(ws->at);
    free(ws->fill);
    free(ws->count);
    memset(ws, 0, sizeof *ws);
}

/* Room for sorting n entries. false (ws freed): none. */
static bool space_make(struct sort_space *ws, size_t n)
{
    ws->scratch = malloc(n * sizeof *ws->scratch);
    ws->cap = n;
    ws->at = malloc(((size_t)KIND_SPAN + 2) * sizeof *ws->at);
    ws->fill = malloc(((size_t)KIND_SPAN + 2) * sizeof *ws->fill);
    ws->count = malloc(((size_t)1 << MAX_BITS) * sizeof *ws->count);
    if (ws->scratch && ws->at && ws->fill && ws->count)
        return true;
    space_free(ws);
    return false;
}

/* findings_refs_sort in ws (room for n entries); qsort when the kinds span
 * KIND_SPAN numbers or more. */
static void sort_in(struct ref_entry *v, size_t n, struct sort_space *ws)
{
    uint32_t lo = v[0].kind, hi = v[0].kind;
    for (size_t i = 1; i < n; i++) {
        lo = v[i].kind < lo ? v[i].kind : lo;
        hi = v[i].kind > hi ? v[i].kind : hi;
    }
    if (hi - lo >= KIND_SPAN) {
        qsort(v, n, sizeof *v, by_key);
        return;
    }
    struct ref_entry *scratch = ws->scratch;
    size_t *at = ws->at, *fill = ws->fill, *count = ws->count;
    /* by kind into scratch (stable: at order kept within a kind) */
    size_t nk = (size_t)(hi - lo) + 1;
    memset(at, 0, (nk + 1) * sizeof *at);
    for (size_t i = 0; i < n; i++)
        at[v[i].kind - lo + 1]++;
    for (size_t k = 1; k <= nk; k++)
        at[k] += at[k - 1];
    /* at[k]: where kind lo + k starts; at[nk] = n */
    memcpy(fill, at, nk * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        scratch[fill[v[i].kind - lo]++] = v[i];
    /* each kind back into v by the top bits of its refs (about one entry a
     * value: the refs are hashes), then each run alike in them ordered */
    for (size_t k = 0; k < nk; k++) {
        size_t from = at[k], m = at[k + 1] - from;
        if (m == 0)
            continue;
        int bits = 1;
        while (bits < MAX_BITS && ((size_t)1 << bits) < m)
            bits++;
        const int shift = 64 - bits;
        memset(count, 0, ((size_t)1 << bits) * sizeof *count);
        const struct ref_entry *src = scratch + from;
        struct ref_entry *dst = v + from;
        for (size_t i = 0; i < m; i++)
            count[src[i].ref[0] >> shift]++;
        size_t sum = 0;
        for (size_t d = 0; d < ((size_t)1 << bits); d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < m; i++)
            dst[count[src[i].ref[0] >> shift]++] = src[i];
        for (size_t i = 0; i < m;) {
            size_t j = i + 1;
            while (j < m && dst[j].ref[0] >> shift == dst[i].ref[0] >> shift)
                j++;
            if (j - i > FEW)
                qsort(dst + i, j - i, sizeof *dst, by_key);
            else if (j - i > 1)
                order_few(dst + i, j - i);
            i = j;
        }
    }
}

void findings_refs_sort(struct ref_entry *v, size_t n)
{
    if (n < 2)
        return;
    struct sort_space ws;
    if (!space_make(&ws, n)) {
        qsort(v, n, sizeof *v, by_key);
        return;
    }
    sort_in(v, n, &ws);
    space_free(&ws);
}

void findings_refs_sort_entries(struct findings_refs *r)
{
    if (!r->by_sql && !r->sorted) {
        if (r->n >= 2 && r->space.scratch && r->space.cap >= r->n)
            sort_in(r->v, r->n, &r->space);
        else
            findings_refs_sort(r->v, r->n);
        space_free(&r->space); /* as soon as sorted (free()s of any thread go to its arena) */
        r->sorted = true;
    }
}

void findings_refs_aside(struct findings_refs *r)
{
    r->aside = true;
    if (!r->by_sql && r->cap)
        space_make(&r->space, r->cap); /* none: the sort makes its own */
}

void findings_refs_aside_done(struct findings_refs *r, bool whole)
{
    r->aside = false;
    space_free(&r->space);
    if (!whole) {
        to_sql(r);
        r->added = r->stored; /* the keys copied by SQL are those of the rows stored */
    }
}

/* The statements of one and of ROWS rows, prepared on db once. 0 or -1. */
static int prepare(struct findings_refs *r, sqlite3 *db, struct qloop_error *err)
{
    if (r->many && r->db == db)
        return 0;
    sqlite3_finalize(r->one);
    sqlite3_finalize(r->many);
    r->one = r->many = NULL;
    /* OR FAIL, as findings.c's INSERTs: no statement journal for a
     * statement of many rows (a failure fails the run's transaction). */
    static const char head[] = "INSERT OR FAIL INTO finding_refs(run, kind, record_ref, id) VALUES";
    r->one = sql_prepare_rows(db, head, "(?,?,?,?)", 1, err);
    r->many = r->one ? sql_prepare_rows(db, head, "(?,?,?,?)", ROWS, err) : NULL;
    if (!r->many) {
        sqlite3_finalize(r->one);
        r->one = NULL;
        return -1;
    }
    r->db = db;
    r->bound_run = 0;
    return 0;
}

/* Binds run into every row of the statements, unless it is bound already
 * (bindings outlive sqlite3_reset: a write of the same run binds nothing). */
static void bind_run(struct findings_refs *r, int64_t run)
{
    if (r->bound_run == run)
        return;
    sqlite3_bind_int64(r->one, 1, run);
    for (int i = 0; i < ROWS; i++)
        sqlite3_bind_int64(r->many, 1 + 4 * i, run);
    r->bound_run = run;
}

/* Inserts entries v[0..n) (n is 1 or ROWS) by st, whose rows' run is
 * bound (bind_run). The texts bound are left bound, dangling, after the
 * statement ran: every row's are bound anew before it runs again. 0 or -1. */
static int insert_rows(const struct findings_refs *r, sqlite3 *db, sqlite3_stmt *st,
                       const struct ref_entry *v, size_t n, struct qloop_error *err)
{
    char hex[ROWS][32];
    for (size_t i = 0; i < n; i++) {
        int p = 1 + 4 * (int)i;
        qloop_hex128(v[i].ref, hex[i]);
        sqlite3_bind_int64(st, p + 1, v[i].kind);
        sqlite3_bind_text(st, p + 2, hex[i], 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, p + 3, r->first + v[i].at);
    }
    return sql_done(db, st, "写入问题记录", err) == 0 ? 0 : -1;
}

/* The flush's keys copied by SQL, sorted by SQLite. 0 or -1. */
static int write_by_sql(const struct findings_refs *r, sqlite3 *db, struct qloop_error *err)
{
    int64_t range[2] = {r->first, r->first + (int64_t)r->stored - 1};
    return sql_exec_ids(db,
                        "INSERT INTO finding_refs(run, kind, record_ref, id)"
                        " SELECT run, kind, record_ref, id FROM finding_rows"
                        " WHERE id BETWEEN ?1 AND ?2 ORDER BY run, kind, record_ref, id",
                        "写入问题记录", err, 2, range);
}

int findings_refs_write(struct findings_refs *r, sqlite3 *db, int64_t run,
                        struct qloop_error *err)
{
    int rc = 0;
    if (r->stored != r->added)
        rc = qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                                  "问题记录只写入了 %zu 条（应为 %zu 条）", r->stored, r->added);
    else if (r->added == 0)
        rc = 0;
    else if (r->by_sql)
        rc = write_by_sql(r, db, err);
    else if ((rc = prepare(r, db, err)) == 0) {
        findings_refs_sort_entries(r);
        bind_run(r, run);
        size_t i = 0;
        for (; rc == 0 && i + ROWS <= r->n; i += ROWS)
            rc = insert_rows(r, db, r->many, r->v + i, ROWS, err);
        for (; rc == 0 && i < r->n; i++)
            rc = insert_rows(r, db, r->one, r->v + i, 1, err);
    }
    if (r->keep && r->added > 0) {
        /* the run's keys for its ticket phase: the entries of its one
         * write with keys, sorted; any other write loses them */
        if (rc == 0 && r->kept_state == KEPT_NONE && !r->by_sql) {
            r->kv = r->v;
            r->kdigest = r->digest;
            r->kn = r->n;
            r->kfirst = r->first;
            r->v = NULL;
            r->digest = NULL;
            r->kept_state = KEPT_ONE;
        } else {
            drop_kept(r);
            r->kept_state = KEPT_LOST;
        }
    }
    drop_entries(r); /* not held past the flush (a run's ticket phase follows) */
    r->added = r->stored = 0;
    r->by_sql = false;
    r->sorted = false;
    return rc;
}

/* The kept keys handed or given to the ticket phase (or not): dropped, and
 * keeping stopped until findings_refs_keep again. */
static void kept_stop(struct findings_refs *r)
{
    drop_kept(r);
    r->keep = false;
    r->kept_state = KEPT_NONE;
}

void findings_refs_keep(struct findings_refs *r)
{
    r->keep = true;
}

int findings_refs_take_kept(struct findings_refs *r,
                            int (*each)(void *ctx, int64_t kind, const uint64_t ref[2], int64_t id,
                                        uint64_t digest),
                            void *ctx)
{
    int rc = 1;
    if (each && r->keep && r->kept_state != KEPT_LOST) {
        rc = 0;
        for (size_t i = 0; rc == 0 && i < r->kn; i++) {
            const struct ref_entry *e = &r->kv[i];
            rc = each(ctx, e->kind, e->ref, r->kfirst + e->at, r->kdigest[e->at]);
        }
    }
    kept_stop(r);
    return rc;
}

int findings_refs_give_kept(struct findings_refs *r, struct ticket_keys *out)
{
    memset(out, 0, sizeof *out);
    int rc = r->keep && r->kept_state != KEPT_LOST ? 0 : 1;
    if (rc == 0 && r->kept_state == KEPT_ONE) {
        *out = (struct ticket_keys){r->kv, r->kdigest, r->kn, r->kfirst};
        r->kv = NULL;
        r->kdigest = NULL;
        r->kn = 0;
    }
    kept_stop(r);
    return rc;
}
