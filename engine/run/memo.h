/*
 * memo.h — reusing the answers of a dataset's Lua record rules from the
 * previous night, for records that did not change.
 *
 * A deterministic record rule gives the same answer for the same record
 * under the same rules and reference data. A night keeps, per row number,
 * a fingerprint of the row as the rules saw it and each kept rule's answer
 * (pass, fail, fail with its reason); the next night, a row whose
 * fingerprint is the one kept for the same row number takes the kept
 * answers instead of judging. Kept rules (memo_run.c, kept_rule): Lua
 * record rules, and field rules whose forms or Lua check judge a value
 * alone — not unique (across rows), nor references to another dataset (not
 * in the environment); an empty value of a field rule is judged every
 * night (no call: MEMO_NONE). Everything after the verdict (findings,
 * masking, refs, tickets, counts) is made exactly as when the rule ran.
 *
 *   the row's fingerprint   keyed with a subkey of the store's key
 *                           (store/key.h, STORE_KEY_MEMO), over the row's
 *                           cleansed cells, each length-prefixed, a missing
 *                           value told apart from an empty one: NH (UMAC's
 *                           universal hash, 2^-64 for two rows of one
 *                           length) over the laid-out row, its sum and the
 *                           row's length then through SipHash-1-3 (a PRF;
 *                           base/siphash.h), so two rows collide with
 *                           probability about 2^-63 whatever a provider
 *                           sends; a provider who does not hold the key
 *                           cannot make a changed record collide with its
 *                           previous version, and never sees a fingerprint
 *                           (the memo is sealed). NH's multiplies replaced
 *                           one SipHash round per word: memo_row_fp was
 *                           3.5 % of a first W1 night's instructions;
 *   the environment         BLAKE2b over everything else a rule can see: the
 *                           qloop binary itself (its bytes: any build differs),
 *                           every rule file (path and bytes), the pack's
 *                           limits, the dataset and its memoised rules, the
 *                           column names in order, the divisions table and the
 *                           holiday calendar in use (their digests). When
 *                           one of them cannot be read the memo is off;
 *   what is never reused    a call that read the clock, drew chance or
 *                           printed (base/purity.h), and a call that raised
 *                           (budget, time, memory, the rule's own error);
 *                           idcard.valid reads today but notes it only when
 *                           its answer is 出生日期晚于今天: every other
 *                           answer holds on every later day, so it is kept,
 *                           and a chunk is reused only on its first day or
 *                           later (memo_chunk_stamp);
 *                           rule code that keeps state between records
 *                           (which varies with --jobs already) is not
 *                           supported, as docs/dsl.md says.
 *
 * Stored per (dataset, chunk of MEMO_CHUNK_ROWS row numbers) in the store's
 * verdict_memo table (schema step 15), sealed (memo_seal: the reasons may
 * quote personal data), written in the run's own transaction:
 * only the latest run's memo is kept, a chunk is rewritten only when its
 * bytes change. Rows are matched by row number: a row inserted at the top
 * shifts every later row, which is then recomputed (correct, not faster).
 *
 * This file holds the pure parts (fingerprint, environment, the chunk's
 * bytes); memo_run.c ties them to a run. QLOOP_MEMO=0 turns the memo off.
 */
#ifndef QLOOP_RUN_MEMO_H
#define QLOOP_RUN_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"
#include "base/bits.h"
#include "base/buf.h"
#include "rules/pack.h"

enum {
    MEMO_CHUNK_ROWS = 65536, /* row numbers per stored chunk */
    MEMO_NH_KEY_BYTES = 1024,                    /* NH's key: a row is hashed in blocks of this */
    MEMO_FP_KEY_BYTES = 16 + MEMO_NH_KEY_BYTES,  /* SipHash's key, then NH's */
    MEMO_ENV_BYTES = 32,
    MEMO_DATA_KEY_BYTES = 32,
};

/* What the memo keeps of one rule's answer on one row. */
enum memo_verdict {
    MEMO_NONE = 0,        /* not kept: call the rule */
    MEMO_PASS = 1,
    MEMO_FAIL = 2,        /* failed without a reason */
    MEMO_FAIL_REASON = 3, /* failed; its reason follows the row's verdicts */
};

/* The fingerprint key from the store's STORE_KEY_MEMO subkey (crypto_kdf,
 * context "qlmemofp"): SipHash's 16 bytes (id 1), then NH's
 * MEMO_NH_KEY_BYTES, ChaCha20's stream under a key of id 3. */
void memo_fp_key(const unsigned char subkey[32], unsigned char key[MEMO_FP_KEY_BYTES]);

/* The key that seals a chunk's bytes (crypto_kdf from the same subkey,
 * another id): the memo keeps the rules' reasons, which may quote personal
 * data, so the store holds them only as ciphertext, as it does sealed
 * findings. */
void memo_data_key(const unsigned char subkey[32], unsigned char key[MEMO_DATA_KEY_BYTES]);

/* Seals plain[0..len), chunk `chunk` of dataset under env, into out
 * (emptied): a random nonce, then XChaCha20-Poly1305 of the bytes with the
 * dataset, chunk and env as associated data (a chunk moved elsewhere or
 * changed does not open). */
void memo_seal(const unsigned char key[MEMO_DATA_KEY_BYTES], const char *dataset, uint64_t chunk,
               const unsigned char env[MEMO_ENV_BYTES], const void *plain, size_t len,
               struct qloop_buf *out);

/* Opens what memo_seal made into out (emptied). Returns 0, or -1 when the
 * bytes were not sealed for this dataset, chunk and env with this key. */
int memo_open(const unsigned char key[MEMO_DATA_KEY_BYTES], const char *dataset, uint64_t chunk,
              const unsigned char env[MEMO_ENV_BYTES], const void *sealed, size_t len,
              struct qloop_buf *out);

/* The fingerprint of a row of ncols cells (as cleansed: what a rule sees).
 * The row is laid out as ncols, then each cell's length and bytes (4 bytes
 * of length, little-endian; a missing value 0xFFFFFFFF and no bytes), zeros
 * appended up to a multiple of 16 bytes. Each block of MEMO_NH_KEY_BYTES of
 * it (the last one shorter) gives NH: the sum mod 2^128 of
 * (m[2i] + k[2i] mod 2^64) * (m[2i+1] + k[2i+1] mod 2^64) over its
 * little-endian words m and NH's key words k (from the block's start). The
 * fingerprint is SipHash-1-3 under the key's first 16 bytes of the words:
 * each block's sum (low word, high word), then the layout's length before
 * the zeros. scratch is the caller's buffer (emptied). */
uint64_t memo_row_fp(const unsigned char key[MEMO_FP_KEY_BYTES], const struct qloop_field *cells,
                     size_t ncols, struct qloop_buf *scratch);

/* The environment of dataset d's rules rules[0..nrules) (indexes in
 * p->rules, in memo slot order) with the columns names[0..ncols), into out.
 * Returns 0, or -1 when something a rule can see cannot be read (then the
 * memo is off for the dataset). */
int memo_env(const struct pack *p, const struct pack_dataset *d, const size_t *rules,
             size_t nrules, const char *const *names, size_t ncols,
             unsigned char out[MEMO_ENV_BYTES]);

/* ---- a chunk's bytes ----
 * A version byte (3), the chunk's first day (8 bytes, little-endian, a day
 * number as qloop_days_from_civil: the chunk's answers hold on that day and
 * every later one — see memo_chunk_stamp), the number of slots (rules) as a
 * varint, then per row in
 * row number order: the gap from the previous row's slot (varint; the first
 * row: its slot + 1), its fingerprint (8 bytes, little-endian), its
 * memo_verdicts, 2 bits a slot, four slots a byte from the low bits up
 * (memo_verdict_bytes; slot k in byte k / 4 at bit 2 * (k % 4), the last
 * byte's unused bits zero), then for each MEMO_FAIL_REASON slot in order
 * its reason: length (2 bytes, little-endian), the bytes, a NUL; then the
 * row's sealed copies: their number (varint), each the rule's index in the
 * dataset (varint), its length (varint) and its bytes.
 *
 * The sealed copies are those of the row's findings made on the workers
 * (ds_encode.c): sealing is deterministic (identity/seal.h) over the
 * dataset, the record's ref, the field and the cleansed key and value, all
 * of which an unchanged fingerprint (under the same store key and
 * environment) keeps as they were, so the next night's findings of an
 * unchanged row take them instead of sealing again (W1: 200,000 seals a
 * night at 1M, ~9 % of a steady night's CPU). */

/* A first day no night reaches: a chunk never stamped is never reused. */
#define MEMO_DAY_NEVER INT64_MAX

/* Starts a chunk of nslots slots in out (emptied), its first day
 * MEMO_DAY_NEVER until memo_chunk_stamp. */
void memo_chunk_start(struct qloop_buf *out, size_t nslots);

/* Sets the first day of the chunk being made in out: the day ("today",
 * qloop_today) by which all its answers were made. An answer that read
 * today is kept only when it holds on every later day (idcard.valid's
 * answers other than 出生日期晚于今天: checks/idcard.c), so a night whose
 * today is earlier than a chunk's first day does not reuse the chunk. */
void memo_chunk_stamp(struct qloop_buf *out, int64_t from_day);

/* Appends the row at slot (past the previous row's) with fingerprint fp and
 * verdicts v[0..nslots); reasons[k] is slot k's reason for a
 * MEMO_FAIL_REASON (NUL-terminated; one longer than 65535 bytes is kept as
 * MEMO_NONE). *last is the previous row's slot + 1 (0 at the start), updated. */
void memo_chunk_add(struct qloop_buf *out, uint32_t *last, uint32_t slot, uint64_t fp,
                    const uint8_t *v, const char *const *reasons, size_t nslots);

/* One sealed copy of a row's finding for memo_chunk_seals. */
struct memo_sealed {
    uint32_t rule; /* the rule's index in the dataset */
    const void *bytes;
    size_t len;
};

/* Gives the row memo_chunk_add just appended to out its sealed copies
 * s[0..n) (memo_chunk_add leaves it none). */
void memo_chunk_seals(struct qloop_buf *out, const struct memo_sealed *s, size_t n);

/* A chunk read back: its bytes (owned) and where each slot's row starts. */
struct memo_chunk {
    uint64_t index;   /* chunk number: row_no / MEMO_CHUNK_ROWS */
    int64_t from_day; /* its first day (memo_chunk_stamp) */
    size_t nslots;
    unsigned char *data;
    size_t len;
    uint32_t *at;     /* MEMO_CHUNK_ROWS offsets of rows in data, UINT32_MAX: none */
};

/* Reads data[0..len) (copied) as a chunk of nslots slots into c. Returns 0,
 * or -1 (c empty) when the bytes are not such a chunk. */
int memo_chunk_read(struct memo_chunk *c, const void *data, size_t len, size_t nslots);

/* memo_chunk_read of buf's bytes without a copy: on success c takes buf's
 * memory and buf is emptied; on -1, c is empty and buf as it was. */
int memo_chunk_take(struct memo_chunk *c, struct qloop_buf *buf, size_t nslots);
void memo_chunk_free(struct memo_chunk *c);

/* Whether the chunk made in made[0..len) has c's answers: the same bytes but
 * for the first day. Then c is kept as it is: its answers hold from its own
 * first day, which is no later than the new one. */
bool memo_chunk_same(const struct memo_chunk *c, const void *made, size_t len);

/* The row kept at slot: its entry (the fingerprint, then the verdicts), or
 * NULL when the chunk has none. */
static inline const uint8_t *memo_chunk_row(const struct memo_chunk *c, uint32_t slot)
{
    return slot < MEMO_CHUNK_ROWS && c->at[slot] != UINT32_MAX ? c->data + c->at[slot] : NULL;
}

/* An entry's fingerprint. */
static inline uint64_t memo_entry_fp(const uint8_t *e) { return qloop_load_le64(e, 8); }

/* The bytes of an entry's verdicts for nslots slots. */
static inline size_t memo_verdict_bytes(size_t nslots) { return (nslots + 3) / 4; }

/* An entry's verdict of slot k (a memo_verdict). */
static inline uint8_t memo_entry_verdict(const uint8_t *e, size_t k)
{
    return (uint8_t)(e[8 + k / 4] >> (2 * (k % 4)) & 3);
}

/* The reason of slot k of an entry of nslots slots whose verdict k is
 * MEMO_FAIL_REASON (NUL-terminated, inside the chunk). */
const char *memo_entry_reason(const uint8_t *e, size_t nslots, size_t k);

/* The sealed copy an entry of nslots slots keeps for the finding of the
 * dataset's rule `rule` (*len bytes, inside the chunk), or NULL. */
const void *memo_entry_sealed(const uint8_t *e, size_t nslots, uint32_t rule, size_t *len);

#endif
