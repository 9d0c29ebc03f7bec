/*
 * memo_run.c — the verdict memo (memo.h) in a run: per dataset, which rules
 * it keeps and the environment; per batch, the kept chunks covering its row
 * numbers, read on the run's thread before the workers judge (every SQLite
 * call stays on that thread) and the rows' answers, with the sealed copies
 * of their findings made on the workers, appended, in row order,
 * to the chunk being made; a chunk whose bytes differ from the kept one is
 * sealed (memo_seal: its reasons may quote personal data) and waits in the
 * run's spool (stage.h: a few MiB in memory, then a temporary file; no
 * write lock while reading) and goes into
 * verdict_memo in the run's final transaction (memo_write), which also
 * drops the chunks past the dataset's end. A run killed before it commits
 * leaves the previous memo as it was.
 *
 * The memo is off for the whole run with QLOOP_MEMO=0, for a partitioned
 * judge (part.c) and when the store's key cannot be read; for a dataset
 * whose columns are named as it is read (JSON Lines), that has no rule the
 * memo keeps (kept_rule), or whose environment cannot be digested (memo_env).
 */
#include <lauxlib.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "rules/forms.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/memo.h"
#include "run/stage.h"
#include "store/key.h"
#include "store/sql.h"

/* What the run decided and what its datasets leave to memo_write. */
struct memo_run {
    int state; /* 0: not looked at yet, 1: on, -1: off */
    unsigned char key[MEMO_FP_KEY_BYTES];
    unsigned char data_key[MEMO_DATA_KEY_BYTES]; /* seals the chunks (memo_seal) */
    /* the sealed chunks to store, each: dataset length (4 bytes), dataset,
     * chunk (8), env, data length (4), data (sealed) */
    struct stage_spool *spool;
    struct memo_kept {
        char *dataset;
        uint64_t nchunks; /* chunks from here on are dropped */
        bool broken;      /* none of its spooled chunks is stored */
    } *kept;
    size_t nkept;
    int64_t reused, called;
};

struct ds_memo {
    size_t nslots;
    int *slot;          /* per rule of the dataset: its slot, -1 */
    size_t *slot_rule;  /* per slot: the rule's index in the dataset */
    size_t *pack_rule;  /* per slot: the rule's index in the pack */
    unsigned char env[MEMO_ENV_BYTES];
    size_t ncols;
    bool broken;        /* columns or row order changed: nothing of it is kept */
    struct memo_chunk *loaded; /* kept chunks (of this environment) still needed */
    size_t nloaded;
    uint64_t next_look; /* lowest chunk not looked up yet */
    bool building;      /* a chunk is being made */
    uint64_t chunk;
    uint32_t last;
    struct qloop_buf out;  /* the chunk being made, plain */
    struct qloop_buf seal; /* a chunk sealed, or opened */
    uint64_t nchunks;   /* the highest chunk made + 1 */
    /* a batch's arrays (judge.h): two sets, the batches taking turns, so
     * that memo_after of a batch reads its own while the next is judged */
    struct memo_set {
        const uint8_t **old;
        uint64_t *fp;
        uint8_t *verdict;
        size_t cap;
        struct judge_memo jm;
    } set[2];
    unsigned turn;      /* the set the last batch got */
    const char **reasons; /* per slot, for memo_chunk_add */
    uint8_t *row_v;
    struct memo_sealed *seals; /* per rule of the dataset, for memo_chunk_seals */
    sqlite3_stmt *get;
};

/* Whether the run keeps a memo; the key made once. */
static bool run_on(struct run_ctx *run)
{
    if (!run->memo)
        run->memo = qloop_xcalloc(1, sizeof *run->memo);
    struct memo_run *m = run->memo;
    if (m->state == 0) {
        const char *env = getenv("QLOOP_MEMO");
        unsigned char sub[STORE_SUBKEY_BYTES] = {0};
        struct qloop_error e;
        if ((env && strcmp(env, "0") == 0) || run->part ||
            store_key(run->db, STORE_KEY_MEMO, sub, &e) != 0) {
            m->state = -1;
        } else {
            memo_fp_key(sub, m->key);
            memo_data_key(sub, m->data_key);
            m->state = 1;
        }
        sodium_memzero(sub, sizeof sub);
    }
    return m->state == 1;
}

/* Notes that dataset keeps nchunks chunks after this run. */
static void keep(struct run_ctx *run, const char *dataset, uint64_t nchunks, bool broken)
{
    struct memo_run *m = run->memo;
    m->kept = qloop_xrealloc(m->kept, (m->nkept + 1) * sizeof *m->kept);
    m->kept[m->nkept++] = (struct memo_kept){qloop_xstrdup(dataset), nchunks, broken};
}

/* Whether the memo keeps rule r's answers: a Lua record rule; a field rule
 * that judges its value per row (a built-in form with a judge, or a Lua
 * check) from that value alone — not unique (FORM_WHOLE_DATASET: across
 * rows) nor one that references another dataset (forms_needs: its values
 * are not in the environment). A field rule's answer on a row that read
 * today (idcard.valid) or raised is still never reused (judge.c). */
static bool kept_rule(const struct pack_rule *r)
{
    if (r->check_ref != LUA_NOREF && r->kind == RULE_RECORD)
        return true;
    const char *field;
    if (r->kind != RULE_FIELD || (r->form_flags & FORM_WHOLE_DATASET) || forms_needs(r, &field))
        return false;
    if (r->check_ref != LUA_NOREF)
        return true;
    for (size_t k = 0; k < r->nchecks; k++)
        if (r->checks[k].form->judge)
            return true;
    return false;
}

void memo_begin(struct ds_ctx *ds)
{
    struct run_ctx *run = ds->run;
    if (!run_on(run))
        return;
    size_t n = 0;
    for (size_t i = 0; i < ds->nrules; i++)
        n += kept_rule(ds->rules[i].rule);
    if (n == 0 || (ds->ad->flags & QLOOP_ADAPTER_OPEN_COLUMNS)) {
        keep(run, ds->d->name, 0, false); /* what an earlier pack kept goes */
        return;
    }
    struct ds_memo *m = qloop_xcalloc(1, sizeof *m);
    m->nslots = n;
    m->slot = qloop_xcalloc(ds->nrules + 1, sizeof *m->slot);
    m->slot_rule = qloop_xcalloc(n, sizeof *m->slot_rule);
    m->pack_rule = qloop_xcalloc(n, sizeof *m->pack_rule);
    m->reasons = qloop_xcalloc(n, sizeof *m->reasons);
    m->row_v = qloop_xcalloc(n, 1);
    m->seals = qloop_xcalloc(ds->nrules + 1, sizeof *m->seals);
    size_t k = 0;
    for (size_t i = 0; i < ds->nrules; i++) {
        const struct pack_rule *r = ds->rules[i].rule;
        m->slot[i] = -1;
        if (kept_rule(r)) {
            m->slot[i] = (int)k;
            m->slot_rule[k] = i;
            m->pack_rule[k++] = ds->rule_index[i];
        }
    }
    m->ncols = ds->ncols;
    if (memo_env(run->p, ds->d, m->pack_rule, n, ds->names, ds->ncols, m->env) != 0) {
        keep(run, ds->d->name, 0, false);
        ds->memo = m;
        memo_free(ds);
        return;
    }
    ds->memo = m;
}

/* The dataset's memo is given up for this run: nothing of it is kept. The
 * chunks loaded stay until memo_free: the verdicts of a batch being merged
 * or judged (judge.h: judge_start) may still point at their reasons. */
static void give_up(struct ds_ctx *ds)
{
    struct ds_memo *m = ds->memo;
    m->broken = true;
    m->building = false;
}

/* Looks chunk c up in the store: kept when it was made in this environment
 * and its first day is today or earlier (memo_chunk_stamp). */
static int look_up(struct ds_ctx *ds, uint64_t c)
{
    struct ds_memo *m = ds->memo;
    struct qloop_error *err = ds->run->err;
    if (!m->get &&
        !(m->get = sql_prepare(ds->run->db,
                               "SELECT env, data FROM main.verdict_memo WHERE dataset = ?1 AND chunk = ?2",
                               err)))
        return -1;
    sql_bind_text(m->get, 1, ds->d->name);
    sqlite3_bind_int64(m->get, 2, (sqlite3_int64)c);
    int rc = sql_row(ds->run->db, m->get, "读取上次运行的规则结果", err);
    if (rc == 1 && sqlite3_column_bytes(m->get, 0) == MEMO_ENV_BYTES &&
        memcmp(sqlite3_column_blob(m->get, 0), m->env, MEMO_ENV_BYTES) == 0) {
        struct memo_chunk chunk;
        const void *data = sqlite3_column_blob(m->get, 1);
        int len = sqlite3_column_bytes(m->get, 1);
        if (data && len > 0 && (size_t)len < UINT32_MAX &&
            memo_open(ds->run->memo->data_key, ds->d->name, c, m->env, data, (size_t)len,
                      &m->seal) == 0 &&
            memo_chunk_take(&chunk, &m->seal, m->nslots) == 0) { /* its bytes, not copied */
            chunk.index = c;
            if (chunk.from_day > qloop_today_days()) { /* made on a later day than today */
                memo_chunk_free(&chunk);
                sqlite3_reset(m->get);
                return 0;
            }
            m->loaded = qloop_xrealloc(m->loaded, (m->nloaded + 1) * sizeof *m->loaded);
            m->loaded[m->nloaded++] = chunk;
        }
    }
    sqlite3_reset(m->get);
    /* The chunk's pages are not read again this run, but would stay in the
     * connection's page cache (up to 64 MiB: store.c) next to everything
     * the read holds: W1 1M night 2 peaked 18 MiB higher once the memo kept
     * the sealed copies (34 MB of chunks). Unused clean pages are let go
     * (the open items' refs, read before, are not read again either). */
    sqlite3_db_release_memory(ds->run->db);
    return rc < 0 ? -1 : 0;
}

static const struct memo_chunk *loaded(const struct ds_memo *m, uint64_t c)
{
    for (size_t i = 0; i < m->nloaded; i++)
        if (m->loaded[i].index == c)
            return &m->loaded[i];
    return NULL;
}

int memo_batch(struct ds_ctx *ds, struct judge_batch *jb)
{
    struct ds_memo *m = ds->memo;
    jb->memo = NULL;
    if (!m || m->broken)
        return 0;
    const struct qloop_batch *b = jb->batch;
    if (b->ncols != m->ncols || ds->ncols != m->ncols) {
        give_up(ds);
        return 0;
    }
    for (size_t row = 1; row < b->nrows; row++)
        if (b->row_no[row] <= b->row_no[row - 1]) {
            give_up(ds);
            return 0;
        }
    struct memo_set *set = &m->set[m->turn ^= 1];
    if (b->nrows > set->cap) {
        set->cap = b->nrows;
        set->old = qloop_xrealloc(set->old, set->cap * sizeof *set->old);
        set->fp = qloop_xrealloc(set->fp, set->cap * sizeof *set->fp);
        set->verdict = qloop_xrealloc(set->verdict, set->cap * m->nslots);
    }
    uint64_t first = b->row_no[0] / MEMO_CHUNK_ROWS, last = b->row_no[b->nrows - 1] / MEMO_CHUNK_ROWS;
    for (uint64_t c = first > m->next_look ? first : m->next_look; c <= last; c++)
        if (look_up(ds, c) != 0)
            return -1;
    if (last + 1 > m->next_look)
        m->next_look = last + 1;
    const struct memo_chunk *c = NULL;
    for (size_t row = 0; row < b->nrows; row++) {
        uint64_t rn = b->row_no[row];
        if (!c || c->index != rn / MEMO_CHUNK_ROWS)
            c = loaded(m, rn / MEMO_CHUNK_ROWS);
        set->old[row] = c ? memo_chunk_row(c, (uint32_t)(rn % MEMO_CHUNK_ROWS)) : NULL;
    }
    memset(set->verdict, MEMO_NONE, b->nrows * m->nslots);
    set->jm = (struct judge_memo){.key = ds->run->memo->key, .nslots = m->nslots, .slot = m->slot,
                                  .old = set->old, .fp = set->fp, .verdict = set->verdict};
    jb->memo = &set->jm;
    return 0;
}

/* Ends the chunk being made: sealed into the run's spool unless the kept one has
 * the same bytes; the kept chunks up to it are no longer needed. */
static int finish_chunk(struct ds_ctx *ds)
{
    struct ds_memo *m = ds->memo;
    struct run_ctx *run = ds->run;
    m->building = false;
    m->nchunks = m->chunk + 1;
    const struct memo_chunk *was = loaded(m, m->chunk);
    bool same = was && memo_chunk_same(was, m->out.ptr, m->out.len); /* its first day kept */
    size_t keep_from = 0;
    for (size_t i = 0; i < m->nloaded; i++) {
        if (m->loaded[i].index <= m->chunk)
            memo_chunk_free(&m->loaded[i]);
        else
            m->loaded[keep_from++] = m->loaded[i];
    }
    m->nloaded = keep_from;
    if (same)
        return 0;
    memo_chunk_stamp(&m->out, qloop_today_days()); /* every answer of it made by now */
    memo_seal(run->memo->data_key, ds->d->name, m->chunk, m->env, m->out.ptr, m->out.len, &m->seal);
    if (!run->memo->spool)
        run->memo->spool = stage_spool_new();
    struct stage_spool *sp = run->memo->spool;
    char head[12];
    uint32_t nlen = (uint32_t)strlen(ds->d->name), dlen = (uint32_t)m->seal.len;
    for (int i = 0; i < 4; i++)
        head[i] = (char)(nlen >> (8 * i));
    for (int i = 0; i < 8; i++)
        head[4 + i] = (char)(m->chunk >> (8 * i));
    char dl[4] = {(char)dlen, (char)(dlen >> 8), (char)(dlen >> 16), (char)(dlen >> 24)};
    if (stage_spool_append(sp, head, 4, run->err) != 0 ||
        stage_spool_append(sp, ds->d->name, nlen, run->err) != 0 ||
        stage_spool_append(sp, head + 4, 8, run->err) != 0 ||
        stage_spool_append(sp, m->env, MEMO_ENV_BYTES, run->err) != 0 ||
        stage_spool_append(sp, dl, 4, run->err) != 0 ||
        stage_spool_append(sp, m->seal.ptr, m->seal.len, run->err) != 0)
        return -1;
    return 0;
}

/* The sealed copies of row's findings, over the dataset's nrules rules, that
 * the workers made (ds_encode.c: a failing verdict with its finding
 * encoded), into m->seals; their number. */
static size_t row_seals(struct ds_memo *m, size_t nrules, const struct judge_batch *jb, size_t row)
{
    size_t n = 0, nrows = jb->batch->nrows;
    for (size_t i = 0; i < nrules; i++) {
        size_t k = i * nrows + row;
        const void *p;
        size_t len;
        if (jb->verdict[k] != JUDGE_FAIL || jb->enc_len[k] == UINT32_MAX ||
            !findings_encoded_sealed(jb->enc[jb->enc_by[k]].ptr + jb->enc_at[k], jb->enc_len[k],
                                     &p, &len))
            continue;
        m->seals[n++] = (struct memo_sealed){(uint32_t)i, p, len};
    }
    return n;
}

int memo_after(struct ds_ctx *ds, const struct judge_batch *jb)
{
    struct ds_memo *m = ds->memo;
    if (!m || m->broken || !jb->memo)
        return 0;
    const struct qloop_batch *b = jb->batch;
    const struct judge_memo *jm = jb->memo; /* its own set's arrays */
    size_t nrows = b->nrows;
    for (size_t row = 0; row < nrows; row++) {
        uint64_t rn = b->row_no[row], c = rn / MEMO_CHUNK_ROWS;
        if (m->building && c != m->chunk && finish_chunk(ds) != 0)
            return -1;
        if (!m->building) {
            if (m->nchunks > c) { /* row numbers went back */
                give_up(ds);
                return 0;
            }
            m->building = true;
            m->chunk = c;
            m->last = 0;
            memo_chunk_start(&m->out, m->nslots);
        }
        for (size_t k = 0; k < m->nslots; k++) { /* a reason is read only when kept */
            uint8_t v = m->row_v[k] = jm->verdict[k * nrows + row];
            m->reasons[k] = v == MEMO_FAIL_REASON ? jb->reason[m->slot_rule[k] * nrows + row] : NULL;
        }
        memo_chunk_add(&m->out, &m->last, (uint32_t)(rn % MEMO_CHUNK_ROWS), jm->fp[row], m->row_v,
                       m->reasons, m->nslots);
        if (jb->enc)
            memo_chunk_seals(&m->out, m->seals, row_seals(m, ds->nrules, jb, row));
    }
    return 0;
}

int memo_end(struct ds_ctx *ds)
{
    struct ds_memo *m = ds->memo;
    if (!m)
        return 0;
    if (m->building && finish_chunk(ds) != 0)
        return -1;
    keep(ds->run, ds->d->name, m->broken ? 0 : m->nchunks, m->broken);
    ds->run->memo->reused += ds->jd.memo_reused;
    ds->run->memo->called += ds->jd.memo_called;
    return 0;
}

void memo_free(struct ds_ctx *ds)
{
    struct ds_memo *m = ds->memo;
    if (!m)
        return;
    for (size_t i = 0; i < m->nloaded; i++)
        memo_chunk_free(&m->loaded[i]);
    free(m->loaded);
    sqlite3_finalize(m->get);
    qloop_buf_free(&m->out);
    qloop_buf_free(&m->seal);
    free(m->slot);
    free(m->slot_rule);
    free(m->pack_rule);
    free(m->reasons);
    free(m->row_v);
    free(m->seals);
    for (int t = 0; t < 2; t++) {
        free(m->set[t].old);
        free(m->set[t].fp);
        free(m->set[t].verdict);
    }
    free(m);
    ds->memo = NULL;
}

/* What memo_write's drain needs: the statement, the bytes of an entry not
 * yet whole. */
struct drain {
    struct run_ctx *run;
    sqlite3_stmt *put;
    struct qloop_buf pending;
};

/* Whether the dataset named name[0..len) gave up its memo this run. */
static bool broken(const struct memo_run *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->nkept; i++)
        if (m->kept[i].broken && strlen(m->kept[i].dataset) == len &&
            memcmp(m->kept[i].dataset, name, len) == 0)
            return true;
    return false;
}

/* stage_spool_drain's each: stores every whole entry of the bytes so far. */
static int drain_each(void *ctx, const void *p, size_t n)
{
    struct drain *d = ctx;
    qloop_buf_append(&d->pending, p, n);
    const unsigned char *b = (const unsigned char *)d->pending.ptr;
    size_t at = 0, len = d->pending.len;
    for (;;) {
        if (len - at < 4)
            break;
        size_t nlen = (size_t)qloop_load_le64(b + at, 4);
        size_t head = 4 + nlen + 8 + MEMO_ENV_BYTES + 4;
        if (len - at < head)
            break;
        size_t dlen = (size_t)qloop_load_le64(b + at + head - 4, 4);
        if (len - at < head + dlen)
            break;
        const char *name = (const char *)b + at + 4;
        if (!broken(d->run->memo, name, nlen)) {
            sqlite3_bind_text(d->put, 1, name, (int)nlen, SQLITE_STATIC);
            sqlite3_bind_int64(d->put, 2, (sqlite3_int64)qloop_load_le64(b + at + 4 + nlen, 8));
            sqlite3_bind_blob(d->put, 3, b + at + 4 + nlen + 8, MEMO_ENV_BYTES, SQLITE_STATIC);
            sqlite3_bind_blob64(d->put, 4, b + at + head, dlen, SQLITE_STATIC);
            if (sql_done(d->run->db, d->put, "保存规则结果", d->run->err) != 0)
                return -1;
        }
        at += head + dlen;
    }
    memmove(d->pending.ptr, d->pending.ptr + at, len - at);
    d->pending.len = len - at;
    return 0;
}

int memo_write(struct run_ctx *run)
{
    struct memo_run *m = run->memo;
    if (!m || m->state != 1)
        return 0;
    if (m->spool) {
        struct drain d = {.run = run};
        d.put = sql_prepare(run->db,
                            "INSERT OR REPLACE INTO main.verdict_memo(dataset, chunk, env, data)"
                            " VALUES(?1, ?2, ?3, ?4)",
                            run->err);
        int rc = d.put ? stage_spool_drain(m->spool, drain_each, &d, run->err) : -1;
        sqlite3_finalize(d.put);
        qloop_buf_free(&d.pending);
        if (rc != 0)
            return -1;
    }
    sqlite3_stmt *st = sql_prepare(
        run->db, "DELETE FROM main.verdict_memo WHERE dataset = ?1 AND chunk >= ?2", run->err);
    if (!st)
        return -1;
    for (size_t i = 0; i < m->nkept; i++) {
        sql_bind_text(st, 1, m->kept[i].dataset);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)m->kept[i].nchunks);
        if (sql_done(run->db, st, "保存规则结果", run->err) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

void memo_counts(const struct run_ctx *run, int64_t *reused, int64_t *called)
{
    *reused = run->memo ? run->memo->reused : 0;
    *called = run->memo ? run->memo->called : 0;
}

void memo_release(struct run_ctx *run)
{
    struct memo_run *m = run->memo;
    if (!m)
        return;
    for (size_t i = 0; i < m->nkept; i++)
        free(m->kept[i].dataset);
    free(m->kept);
    stage_spool_free(m->spool);
    sodium_memzero(m->key, sizeof m->key);
    sodium_memzero(m->data_key, sizeof m->data_key);
    free(m);
    run->memo = NULL;
}
