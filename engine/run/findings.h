/*
 * findings.h (run) — the one findings writer: every finding of a run goes
 * through it, and nothing else inserts into findings (finding_rows).
 *
 * Who writes through it: the run's own rules (dataset.c: the verdict merge,
 * unique), freshness, the compares (compare_join.c), and — through the sink of
 * store/findings.h — the finders below the run (the catalog's checks). For
 * each finding the writer alone
 *   1. computes the record_ref from the raw key (findings_record_ref, with
 *      the store's secret read once: a record without a key by its
 *      identity, run/identity.c, and shown by its data row);
 *   2. masks the record key and the value: the key when one of the dataset's
 *      declared key fields is sensitive, the value when the field judged is;
 *      a dataset-level finding (row_no 0: freshness, the catalog) names no
 *      record, so its key and value are shown as the finder wrote them unless
 *      the finder says they come from records (FINDING_MASK_*, as a compare
 *      does for a record missing on one side, or for a key or field that only
 *      the other side declares sensitive);
 *      what it masked (the raw key and value) is sealed with the store's key
 *      file into the finding's sealed column (identity/seal.h), for the
 *      owner's eyes only — so the writer needs the key file;
 *   3. composes the message (findings_message in findings.c — the one place
 *      where free text leaves the run) and masks it: identity numbers,
 *      phones, bank cards and credit codes by shape, and wherever it quotes
 *      one of the record's sensitive values — the key and the value judged
 *      when they are sensitive, and the values the finder hands over
 *      (finding_extra.values): a reason built from a record
 *      (`return false, "号码 " .. r.phone`) is stored masked;
 *   4. encodes the finding (its kind — dataset, rule, field — as a number,
 *      the rest as the store will hold it; in a partitioned run
 *      (findings_writer_parts) with its row within its part and the part)
 *      and spools it (stage.h); the run moves the spool into the store
 *      inside its write transaction (findings_flush: finding_rows, schema
 *      step 11, and the keys by record, finding_refs, step 14).
 * Steps 1-3 need nothing but the pack, the store's secret and the sealer,
 * and keep their buffers in an encoder (findings_encode), so that they can
 * run on another thread than the one spooling (findings_append); the
 * writer's own encoder serves findings_write. Per finding nothing is
 * allocated once the buffers have grown and nothing is formatted with
 * printf: the hot path of a run with many failing records.
 */
#ifndef QLOOP_RUN_FINDINGS_H
#define QLOOP_RUN_FINDINGS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "checks/mask.h"
#include "loop/ticket.h"
#include "rules/pack.h"
#include "store/findings.h"

struct findings_writer;

enum {
    FINDING_MASK_KEY = 1u,   /* the key comes from sensitive fields, whatever the dataset says */
    FINDING_MASK_VALUE = 2u, /* the value does */
    FINDING_KEY_ROW = 4u,    /* the key is the row's number ("#ROW", a malformed row), not
                              * the record's key fields: shown as it is */
};

/* What the run's own finders add to a finding (every member optional). */
struct finding_extra {
    /* When the finding has no message: the rule's message, framing reason
     * ("手机号码格式错误：格式不符"); with message_default (the rule gave
     * none) the finding says "field：reason" instead. */
    const char *rule_message;
    bool message_default;
    const char *reason; /* why this record failed, or NULL */
    unsigned mask;      /* FINDING_MASK_* */
    /* The raw values of the record's declared sensitive fields, when the
     * finder has the record: the message is masked wherever it quotes one. */
    const struct mask_value *values;
    size_t nvalues;
};

/* A writer for the findings of run run_id over pack p (its datasets'
 * sensitive fields and key fields; the rules' messages). Returns NULL with
 * err on a store error, or when the store's key file is missing or foreign
 * (exit 2). */
struct findings_writer *findings_writer_new(sqlite3 *db, const char *run_id, const struct pack *p,
                                            struct qloop_error *err);
void findings_writer_free(struct findings_writer *w);

/* Spools finding f as described above; x may be NULL. When f->message and
 * x->rule_message are both NULL, the message of the pack's rule f->rule is
 * used. Returns 0, or -1 with err (a temporary file that cannot be written). */
int findings_write(struct findings_writer *w, const struct qloop_finding *f,
                   const struct finding_extra *x, struct qloop_error *err);

/* Moves the spooled findings into the store, in the order written (their
 * ids follow that order), and their keys into finding_refs (in key order:
 * run/findings_refs.h), inside the caller's write transaction. Returns 0,
 * or -1 with err (store_error). */
int findings_flush(struct findings_writer *w, struct qloop_error *err);

/* Flushes from now on store the findings' rows and leave their keys
 * collected, each flush's after the last's (their ids follow one another:
 * nothing else may insert into finding_rows meanwhile), until
 * findings_release_refs writes them all at once, sorted: a finder that
 * flushes often (a compare moves its findings in as it makes them) appends
 * its keys to finding_refs' B-tree in order once, instead of each flush's
 * going to random leaves of the kinds' ranges. The keys, and so the store,
 * are the same either way. */
void findings_hold_refs(struct findings_writer *w);

/* Ends the hold: with `write`, the keys of the flushes since
 * findings_hold_refs go into finding_refs (sorted in memory, or by SQL past
 * the sort budget, as a flush's); without (the caller fails and rolls the
 * transaction back), they are dropped. Returns 0, or -1 with err. */
int findings_release_refs(struct findings_writer *w, bool write, struct qloop_error *err);

/* Whether a flush of many findings whose keys it writes itself (not held)
 * collects and sorts the keys on a thread of its own while it stores the
 * rows (run/findings_keys.h): on until told. The store is the same either
 * way. */
void findings_writer_keys_aside(struct findings_writer *w, bool on);

/* At most `bytes` of memory for sorting a flush's keys from now on
 * (FINDINGS_REFS_BUDGET until told; past it SQLite sorts them). */
void findings_writer_sort_budget(struct findings_writer *w, size_t bytes);

/* From now on the keys the writer puts into finding_refs are kept in
 * memory, sorted, with each finding's evidence digest (32 bytes a finding),
 * for findings_take_refs: the run's ticket phase merges its open items with
 * them instead of reading finding_refs back. Kept only while they all come
 * from one sorted write (run/findings_refs.h: findings_refs_keep). */
void findings_keep_refs(struct findings_writer *w);

/* Hands the kept keys to each (loop/ticket.h: ticket_key_fn, the
 * ticket_seen keys contract) and drops them: 1 when they were not kept
 * whole or each is NULL (none handed), else 0 or what each returned. */
int findings_take_refs(struct findings_writer *w, ticket_key_fn each, void *ctx);

/* As findings_take_refs, the keys given away (findings_refs_give_kept). */
int findings_give_refs(struct findings_writer *w, struct ticket_keys *out);

/* The number of the kind (dataset, rule, field — field may be NULL) of a
 * finding, for findings_encode; made on first use. On the run's thread
 * only: workers are handed the numbers of their rules. */
uint32_t findings_kind(struct findings_writer *w, const char *dataset, const char *rule,
                       const char *field);

/* What one thread needs to encode findings: its own buffers. */
struct findings_encoder;
struct findings_encoder *findings_encoder_new(struct findings_writer *w);
void findings_encoder_free(struct findings_encoder *e);

/* Steps 1-3 above for finding f of kind `kind`, appending the encoded
 * finding to out; x may be NULL. Safe on any thread with its own encoder
 * (the writer is only read). */
void findings_encode(struct findings_encoder *e, uint32_t kind, const struct qloop_finding *f,
                     const struct finding_extra *x, struct qloop_buf *out);

/* What of a finding needs no secret (steps 2 and 3 but the sealing): the
 * key and value as shown and the masked message, as findings_encode makes
 * them. A partitioned judge makes them (a shard carries them: shard.h) and
 * the merge adds only what needs the store's secret and key file — the
 * record_ref and the seal — with findings_write_shown. Unmasked, the key and
 * value show as the finding's own (a record without a key: by its row, the
 * one the finding names). Pointers are into the encoder's buffers or the
 * finding, valid until the encoder's next use. */
struct finding_shown {
    bool key_masked, value_masked;
    const char *key;     /* when key_masked: the masked key */
    size_t keylen;
    const char *value;   /* when value_masked: the masked value */
    size_t vlen;
    const char *message; /* masked; NULL: none */
    size_t mlen;
    /* message is the rule's own (x->rule_message, else the pack rule's), as
     * it is: a shard need not carry it */
    bool rule_message;
    /* the record's ref (32 hex digits) when already made (recheck_row_ref);
     * NULL: findings_encode_shown makes it */
    const char *ref;
    /* the sealed copy of what masking hid when it is known already: the
     * bytes ident_seal makes for this finding's dataset, ref, field, raw key
     * and value (the verdict memo's copy of an unchanged row's, memo.h:
     * sealing is deterministic). NULL: findings_encode_shown seals. */
    const void *sealed;
    size_t sealed_len;
};

/* An encoder for findings_show only (no writer, no secret: a judge's). */
struct findings_encoder *findings_encoder_show(const struct pack *p);

/* Fills s for finding f; x may be NULL. Any encoder. */
void findings_show(struct findings_encoder *e, const struct qloop_finding *f,
                   const struct finding_extra *x, struct finding_shown *s);

/* findings_encode with what findings_show made (here or in a judge): the
 * record_ref, the seal of what masking hid, the part. A writer's encoder. */
void findings_encode_shown(struct findings_encoder *e, uint32_t kind,
                           const struct qloop_finding *f, const struct finding_shown *s,
                           struct qloop_buf *out);

/* The sealed copy inside encoded finding enc[0..n) (one whole finding, as
 * findings_encode_shown made it): true with *sealed and *len, false when it
 * has none or enc is not a whole finding. */
bool findings_encoded_sealed(const void *enc, size_t n, const void **sealed, size_t *len);

/* The evidence digest (ticket_evidence_digest, finding = true) of encoded
 * finding enc[0..n) (one whole finding): of its row_no, key, value, message
 * and sealed copy as findings_flush will store them, made when it was
 * encoded, so that the flush only hands it on. False when enc is not a
 * whole finding. */
bool findings_encoded_digest(const void *enc, size_t n, uint64_t *digest);

/* findings_write of a finding already shown. Returns 0, or -1 with err. */
int findings_write_shown(struct findings_writer *w, const struct qloop_finding *f,
                         const struct finding_shown *s, struct qloop_error *err);

/* Spools findings encoded by findings_encode (any number of them, whole),
 * after those written so far. Returns 0, or -1 with err. */
int findings_append(struct findings_writer *w, const void *encoded, size_t len,
                    struct qloop_error *err);

/* The record_ref of raw key of dataset (store_record_ref_keyed): of the key,
 * or for a record without one (run/identity.c) of its identity, not of the
 * row it is shown by. Safe on worker threads. */
void findings_record_ref(const unsigned char secret[32], const char *dataset, const char *key,
                         size_t keylen, char out[33]);

/* Appends to out the text a message shows for a value it quotes: "（空）"
 * when empty, masked when sensitive (a compare quotes both sides' values). */
void findings_quote(struct qloop_buf *out, const char *s, size_t len, bool sensitive);

/* Appends the decimal digits of n, and the record key of row row_no of a
 * dataset that declares no key ("#ROW"): without printf, for text made once
 * per finding. */
void findings_append_uint(struct qloop_buf *out, uint64_t n);
void findings_row_key(struct qloop_buf *out, uint64_t row_no);

/* A partitioned run (qloop merge): the rows of dataset are numbered across
 * its parts in part order, the first row of part i (0-based) being
 * offsets[i] + 1. From then on each finding of one of its records is stored
 * with its row within its part and the part ("2/4"), as CONTRACT.md says.
 * The writer keeps a copy of offsets (nparts entries, ascending; a part not
 * yet read may say UINT64_MAX); called again for dataset, it replaces them. */
void findings_writer_parts(struct findings_writer *w, const char *dataset, size_t nparts,
                           const uint64_t *offsets);

/* Appends how a message names row row_no of dataset: "数据第 N 行（不计表头）",
 * or in a partitioned run "第 2/4 部分数据第 N 行（不计表头）". */
void findings_append_row(const struct findings_writer *w, struct qloop_buf *out,
                         const char *dataset, uint64_t row_no);

/* Appends key as the writer stores the key of a record whose key is
 * sensitive (masked): what a ticket item then shows. */
void findings_mask_key(const char *key, size_t len, struct qloop_buf *out);

/* The sink (store/findings.h) that writes through w, for finders below the
 * run; valid while w is. */
struct qloop_findings_sink findings_sink(struct findings_writer *w);

#endif
