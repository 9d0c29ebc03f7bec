/*
 * compare_impl.h — the inside of 比对 (compare.h), shared by its files:
 *   compare.c        set-up, columns, finishing (results);
 *   compare_feed.c   feeding records in (on the crew's threads with --jobs);
 *   compare_crew.c   the helper threads;
 *   compare_spill.c  the temporary partition files past the memory budget:
 *                    writing records out, reading them back, splitting a
 *                    partition that is still too large;
 *   compare_join.c   joining one unit (everything in memory, or one
 *                    partition of both sides) and judging what it finds.
 * Private to engine/run/.
 */
#ifndef QLOOP_RUN_COMPARE_IMPL_H
#define QLOOP_RUN_COMPARE_IMPL_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "rules/pack.h"
#include "run/compare.h"

struct findings_writer;

enum {
    NPART = 64,             /* partitions per level */
    PART_BITS = 6,          /* log2(NPART) */
    MAX_LEVEL = 3,          /* partition levels below the first */
    MIN_SPLIT = 16,         /* a unit this small is loaded whatever the budget */
    EMPTY_STREAM = NPART,   /* the stream of records with an empty key */
    ENT_COST = 72,          /* join working memory charged per record: entry and sort key
                               (48 bytes since the sort goes by buckets; 72 kept, so that a
                               run spills where it did) */
    CHUNK_SIZE = 1 << 20,   /* in-memory record storage granule */
    SPILL_BUFSIZE = 16384,  /* buffer per partition file */
};

#define DEFAULT_BUDGET ((size_t)1 << 30)

/* The charge up to which records are held in chunks while they are fed
 * (at most the budget; compare_set_hold). Past it, later records go to a
 * file of their side in feed order (struct side.over), charged as if held:
 * a run that passes the budget spills as before, one that does not reads
 * them back into chunks at the end and joins in memory as before. A record
 * of a two-field compare is charged ~160 bytes of which ~88 are held, so
 * at a 1 GiB budget a 10M compare held 579 MiB before spilling it all;
 * held up to 384 MiB of charge, it holds ~215 MiB. */
#define HOLD_BUDGET ((size_t)384 << 20)

/* One record, followed by len payload bytes padded to a multiple of 8. */
struct rec {
    uint64_t fp_hi, fp_lo;
    uint64_t row_no;
    uint32_t len;
    uint32_t flags;
};
#define REC_EMPTY_KEY 1u /* a part of the compare key is empty */
#define REC_OWN_KEY 2u   /* payload string 0 is the record's own key (compare_rows.own_key):
                            the dataset's key is not the compare key, or the record has none */

/* The payload index of the compare key (the fields follow it). */
static inline size_t rec_key_slot(const struct rec *r) { return r->flags & REC_OWN_KEY ? 1 : 0; }

/* Bytes a record with len payload bytes takes, padding included. */
static inline size_t rec_size(uint32_t len)
{
    return sizeof(struct rec) + (((size_t)len + 7u) & ~(size_t)7u);
}

struct chunk {
    struct chunk *next;
    size_t used, size;
    uint64_t data[]; /* 8-byte aligned records */
};

/* A temporary partition file, unbuffered by stdio: records are encoded
 * into buf (used bytes; compare_spill.c: the file's format) and written a
 * block at a time; once rewound, buf buffers reading (used bytes read, pos
 * the next). */
struct spill {
    FILE *f;
    char *buf;
    size_t used, pos;
    uint64_t bytes, recs; /* the records' bytes in memory (rec_size), and their number */
    uint64_t fbytes;      /* the file's bytes (encoded) */
    bool loose;           /* a record whose encoding may outgrow it while decoded in place */
};

struct side {
    const char *dataset;
    struct pack_dataset *d;
    char *const *keys;         /* compare key fields on this side */
    size_t nkeys;
    const char **fields;       /* compared fields, this side's names, in rule order */
    size_t nfields;
    bool own_is_cmp;           /* the dataset's declared key is the compare key */
    /* column cache */
    const char *const *names;
    size_t ncols;
    long *key_col, *field_col;
    bool *key_seen, *field_seen;
    bool fed;
    int64_t total;             /* records fed */
    /* in memory */
    struct chunk *head, *tail;
    /* after spilling */
    struct spill parts[NPART + 1];
    /* past the hold (compare_run.holding): the records fed since, in feed
     * order, and the chunk they would have been put in (vsize bytes, vused
     * taken; vset once it follows the last real chunk) */
    struct spill over;
    size_t vused, vsize;
    bool vset;
};

enum { R_MISSING_RIGHT, R_MISSING_LEFT, R_DUP_LEFT, R_DUP_RIGHT, R_EMPTY_LEFT, R_EMPTY_RIGHT,
       R_MISMATCH /* + field index */ };

struct rule_count {
    char *id;
    int side;            /* dataset the findings are on: 0 left, 1 right */
    const char *field;   /* the field on that dataset (mismatch rules) */
    char *message;       /* rule_results message */
    bool resolve_missing;
    int64_t checked, failed, errors;
    bool error_noted;
};

struct cmp {
    struct pack_compare *pc;
    struct side side[2];
    const struct pack_compare_field **fields; /* sorted by left name */
    size_t nfields;
    bool key_sensitive;
    bool *field_sensitive;
    int mismatch_side;   /* dataset of mismatch findings */
    int auth;            /* -1 none, 0 left, 1 right */
    struct rule_count *rules; /* R_MISMATCH + nfields */
    size_t nrules;
};

/* Helper threads that run one task at a time with the calling thread
 * (compare_crew.c). */
struct crew;
struct spill_writer;
struct crew_member {
    struct crew *crew;
    size_t index;
    pthread_t thread;
};
struct crew {
    bool up, quit;
    size_t size;                  /* members, the calling thread included */
    struct crew_member *members;  /* [1..size-1] are threads */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;                 /* the task's generation */
    size_t pending;               /* helpers still running it */
    void (*fn)(void *ctx, size_t member);
    void *ctx;
};

/* Starts want - 1 helpers (fewer when no more threads are to be had);
 * returns the crew's size. Started already: its size. */
size_t crew_start(struct crew *k, size_t want);
/* Runs fn(ctx, i) for every member i (0 on the calling thread) and waits
 * for all; without helpers, just fn(ctx, 0). */
void crew_run(struct crew *k, void (*fn)(void *ctx, size_t member), void *ctx);
/* Starts fn(ctx, i) on every helper i (1..size-1) and returns at once; the
 * crew must have helpers. crew_wait waits until all of them have finished. */
void crew_begin(struct crew *k, void (*fn)(void *ctx, size_t member), void *ctx);
void crew_wait(struct crew *k);
/* Stops and joins the helpers; k is empty afterwards. */
void crew_stop(struct crew *k);

struct compare_run {
    struct pack *p;
    compare_sink_fn sink; /* a partitioned judge's (compare_set_sink), or NULL */
    void *sink_ctx;
    size_t budget;
    size_t hold;           /* the charge held in chunks before records go to side.over */
    size_t mem;
    bool spilled;
    bool holding;          /* past the hold, not spilled: records go to side.over */
    struct cmp *cmps;
    size_t ncmps;
    const char *tmpdir;
    struct qloop_buf rec;  /* a record being built */
    struct qloop_buf key;  /* key parts, length-prefixed, being hashed */
    struct qloop_buf own;  /* the record's own key (compare_rows.own_key) */
    size_t jobs;           /* threads the compares may use (compare_set_jobs) */
    size_t ahead_rounds, ahead_bytes; /* compare_set_emit_ahead (0: the defaults) */
    struct crew crew;      /* started on first need */
    size_t caller_slices;  /* slices of findings the calling thread made (compare_caller_slices) */
    size_t units_ahead;    /* spilled units read while the one before was joined (compare_units_ahead) */
    struct spill_writer *writer; /* writes the partition files' blocks (compare_spill.c), or NULL */
    bool writer_tried;     /* it could not be started: write on the calling thread */
    size_t blocks_behind;  /* blocks handed to the writer (compare_spill_blocks_behind) */
    uint64_t over_recs;    /* records written to overflow files (compare_over_records) */
    uint64_t spill_mem, spill_file; /* records written to partition files: their bytes in
                                       memory and in the files (compare_spill_sizes) */
    /* a batch built on the crew (compare_feed.c): each member's records and
     * key buffer; the rows' own keys, made first, in `own` */
    struct qloop_buf *stage, *stage_key;
    size_t *own_off, *own_len, own_cap;
};

/* The partition (0..NPART-1) of a fingerprint at a partition level. */
static inline unsigned part_of(uint64_t fp_hi, int level)
{
    return (unsigned)((fp_hi >> (64 - PART_BITS * (level + 1))) & (NPART - 1));
}

/* The i-th length-prefixed string of a record's payload. */
static inline const char *payload_str(const struct rec *r, size_t i, size_t *len)
{
    const unsigned char *p = (const unsigned char *)(r + 1);
    for (;;) {
        uint32_t n;
        memcpy(&n, p, 4);
        if (i-- == 0) {
            *len = n;
            return (const char *)p + 4;
        }
        p += 4 + n;
    }
}

/* What the join found for a record. */
enum { ST_NONE, ST_EMPTY, ST_DUP, ST_MISSING, ST_OTHER_DUP, ST_PAIRED };

/* A record in the join. */
struct ent;

/* A record's fingerprint held inline, so that sorting never chases pointers. */
struct fpkey {
    uint64_t hi, lo;
    struct ent *e;
};

/* A record in the join. */
struct ent {
    const struct rec *r;
    struct ent *partner;
    uint32_t count;  /* records sharing the key on this side */
    uint8_t status;
    atomic_uchar counted; /* bit per dataset side: counted in failed_records */
};

/* One thread's share of writing findings: its own encoder, buffers, and
 * what it counted in the current round (one rule over a slice of rows). */
struct emit_worker {
    struct emitter *e;
    int rule;                            /* this round's */
    struct findings_encoder *enc;
    struct qloop_buf out;                /* findings encoded this round */
    struct qloop_buf msg, na, nb, t1, t2;
    int64_t checked, failed, errors, failed_records;
    size_t from, to;                     /* this round's slice */
};

/* What a round asks of every worker (compare_join.c). */
enum { TASK_SORT, TASK_MERGE, TASK_EMIT };

enum {
    EMIT_AHEAD = 256,             /* rounds of findings the helpers may make ahead of the spooling */
    EMIT_AHEAD_BYTES = 32 << 20,  /* and findings' bytes, but for the round being spooled */
    EMIT_KEEP = 64 << 10          /* a worker's findings buffer larger than this is let go once spooled */
};

/* A round of findings: rule over rows [base, base + helpers * slice) of its
 * side (n records), a slice per helper. */
struct emit_round {
    int rule;
    size_t n, base, slice;
};

/* The join of one compare at a time, and where its results go. With jobs
 * > 1 a unit's two sides are sorted on two threads and each rule's
 * findings are made slice by slice, round by round, up to EMIT_AHEAD
 * rounds (and EMIT_AHEAD_BYTES) ahead of the spooling, by the crew's
 * helpers and by the calling thread whenever the round it is to spool is
 * not made yet; the calling thread spools the rounds' findings in row
 * order and moves them into the store: the findings are the same for any
 * jobs and whoever made each slice. The rules alternate between slow to
 * make (a mismatch: every pair judged, few findings) and slow to store
 * (many findings), so the helpers run ahead through the one while the
 * calling thread stores the other. */
struct emitter {
    struct compare_run *c;
    struct cmp *m;
    struct findings_writer *findings;
    lua_State *L;
    struct qloop_error *err;
    int64_t failed_records;
    size_t jobs;                /* threads the emission may use (1: no pool) */
    struct emit_worker *w;      /* nw of them; w[0] is emit_alone's; slice i
                                   of round r is made in w[(r % ahead_rounds) * helpers + i] */
    size_t nw;
    uint32_t *kind;             /* findings_kind of each rule of m */
    bool pool_up;               /* e->c->crew started for it */
    /* the current unit */
    int task;
    struct ent *ents[2];
    size_t n[2];
    const struct side *fill[2]; /* in memory: the sides whose records ents[] are pointed at */
    struct fpkey *byfp[2];
    size_t nk[2];
    size_t *ends[2];            /* where each bucket of byfp[s] ends (compare_join.c) */
    /* its rounds of findings (`helpers` slices each), made by the helpers and the
     * calling thread, spooled by the calling thread */
    size_t helpers;
    size_t ahead_rounds, ahead_bytes; /* compare_set_emit_ahead's, or the defaults */
    const struct emit_round *rounds;
    size_t nrounds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;                /* slices claimed (compare_join.c: claim_slice) */
    size_t spooled;             /* rounds spooled (their workers free again) */
    size_t ahead;               /* bytes of findings made and not yet spooled */
    size_t made[EMIT_AHEAD];    /* slices made of the round of each set of workers */
    bool stop;                  /* spooling failed: make no more */
};

/* compare.c */
/* Maps side s's key, own-key and field names to column indices of a batch
 * (re-done only when the columns change) and notes which were ever seen. */
void compare_resolve_columns(struct side *s, const char *const *names, size_t ncols);

/* compare_spill.c */
/* Appends r to side s's first-level partition (or its empty-key stream). */
int compare_spill_record(struct compare_run *c, struct side *s, const struct rec *r,
                         struct qloop_error *err);
/* Moves every in-memory record of every compare to partition files, then
 * the records of each side's overflow file (side.over), in feed order. */
int compare_spill_all(struct compare_run *c, struct qloop_error *err);
/* Appends r to side s's overflow file (side.over). Returns 0 or -1. */
int compare_hold_record(struct compare_run *c, struct side *s, const struct rec *r,
                        struct qloop_error *err);
/* What compare_over_read does with each record of an overflow file. */
typedef int (*compare_rec_fn)(struct compare_run *c, struct side *s, const struct rec *r,
                              struct qloop_error *err);
/* Reads side s's overflow file from its start, calls fn on each record in
 * feed order, then closes it. Returns 0, or -1 with err (fn's or a read). */
int compare_over_read(struct compare_run *c, struct side *s, compare_rec_fn fn,
                      struct qloop_error *err);

/* compare_feed.c */
/* Reads every side's overflow file back to the end of its chunks, as if
 * the records had been held (for a run within its budget, not spilled),
 * and closes them. Returns 0 or -1 with err. */
int compare_unhold(struct compare_run *c, struct qloop_error *err);
/* Waits until the writer thread (if any) has written every block handed
 * to it. Returns 0, or -1 with err when one could not be written. */
int compare_spill_drain(struct compare_run *c, struct qloop_error *err);
/* Stops and frees the writer thread (after it wrote what it was handed). */
void compare_spill_stop(struct compare_run *c);
/* Closes (and so deletes) s; s is empty and reusable afterwards. The
 * writer must hold no block of it (compare_spill_drain). */
void compare_spill_close(struct spill *s);
/* Joins partition l of the left side with partition r of the right side at
 * a partition level (0: the first). Closes l and r. Returns 0 or -1. */
int compare_process_unit(struct emitter *e, struct spill *l, struct spill *r, int level);
/* Joins the first-level partitions of e->m's two sides in order, each as
 * compare_process_unit; with jobs > 1 reads unit p + 1 on a thread of its
 * own while unit p is joined, when both fit the budget together. */
int compare_process_parts(struct emitter *e);
/* Reports every record of the empty-key stream of side s, in row order. */
int compare_stream_empty(struct emitter *e, int s);

/* compare_join.c */
/* Joins one unit: ents[s] (n[s] records of side s, any order; when
 * e->fill[s], room for them, pointed at side s's records in memory), then
 * writes its findings rule by rule in row order. Returns 0 or -1 with err. */
int compare_join_unit(struct emitter *e, struct ent *ents[2], const size_t n[2]);
/* Joins the compare's in-memory records as one unit. */
int compare_join_in_memory(struct emitter *e);
/* Writes the empty_key_* finding for record x of side `side` at once. */
int compare_report_empty(struct emitter *e, int side, struct ent *x);
/* Prepares e for compare m: the findings' kinds, and one thread only when
 * a compared field calls Lua (the Lua state is the calling thread's). */
void compare_emit_begin(struct emitter *e, struct cmp *m);
/* Stops e's pool and frees what e holds. */
void compare_emit_end(struct emitter *e);

#endif
