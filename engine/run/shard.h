/*
 * shard.h — the file one part of a partitioned run leaves behind: what
 * `qloop judge` writes and `qloop merge` reads (docs/scale-out.md describes it
 * for operators). Private to engine/run/.
 *
 * A shard is JSON Lines, so it streams through standard input and output
 * (Spark's RDD.pipe, Hadoop Streaming) and survives any tool that moves text
 * lines. Its lines, in order:
 *   1. the header: {"qloop_shard": 1, "qloop": VERSION, "dataset": NAME,
 *      "part": "I/N", "pack": SHA-256 of the rule files as loaded, "divisions": SHA-256
 *      of the GB/T 2260 table, "offers": [fields of this dataset that other
 *      datasets reference]};
 *   2. blocks of entries: {"t": KIND, "n": ENTRIES, "b": BASE64}, the entries
 *      packed in binary (varints and length-prefixed bytes, below) so that a
 *      shard of millions of rows is read at memory speed;
 *   3. the counts: {"t": "counts", "rows": N, "columns": [...], "rules":
 *      [[checked, errors], ...] (the dataset's rules in pack order),
 *      "cleansed": [changed, ...] (its cleanse entries in pack order),
 *      "newest_update": SECONDS or null};
 *   4. the end: {"t": "end", "lines": L, "check": HEX}, L the lines before it
 *      and HEX a fingerprint of their bytes: a shard cut short, or with lines
 *      lost or changed, is refused.
 *
 * The kinds of entries (row: the row within the part, from 1; key: the raw
 * record key, empty for a dataset without one; bytes: varint length + bytes;
 * opt: one byte 0, or 1 followed by bytes):
 *   v  a record failing a rule:     rule, row, key bytes, a flags byte, the
 *      value opt (unless flag 8), then the finding as the judge shows it
 *      (findings_show): the masked key bytes (flag 1: the key is masked),
 *      the masked value bytes (flag 2: the value is; not with 8), the masked
 *      message opt (flag 4: none, it is the rule's own; flag 16: the bytes
 *      of what follows "RULE'S MESSAGE：", the usual framed reason). Flag 8:
 *      the value is the key, shown as the key is (a rule on the key field).
 *      The merge
 *      adds only
 *      the record_ref and the seal, which need the store's secret. (The raw
 *      key and value are there for those two; nothing else travels raw.)
 *      DATASET.malformed_row (rule = the number of rules): rule, row, empty
 *      key bytes, its message opt
 *   u  a `unique` rule's state of one distinct value: rule, count, value
 *      bytes, and when count is 1 its row and key (a varint: 0 when the key
 *      is the value — a unique key —, else the key's length + 1, then its
 *      bytes) (records of a value
 *      the part holds twice or more are already among the v entries); a
 *      rule's u entries come in ascending order of their values'
 *      fingerprints (strmap_fingerprint: hi, then lo), in one or more
 *      sorted runs, so that the merge merges them as sorted runs
 *      (merge_unique.c) instead of hashing every value of the dataset
 *   p  a value whose `references` to another dataset the merge decides:
 *      rule, row, key bytes, value bytes, then what the rule's other checks
 *      said: 0 passed, 1 failed + reason bytes, 2 raised + error bytes
 *   r  a value of a referenced field: offer index, 16-byte fingerprint
 *   c  a record of a compare side: compare, side, row, flags (1: empty key),
 *      16-byte key fingerprint, then its payload strings (compare.h)
 *   s  a record of a dataset with a key, for the re-check of open tickets:
 *      key bytes, 8-byte hash of the key as a ticket shows it masked
 *   k  a content of records without a key (identity.c): its 16-byte
 *      fingerprint and how many of the part's records have it; every k
 *      line comes after every other block of the shard
 * A record without a key (identity.c) travels as the run names it — "\0K"
 * FINGERPRINT "#" OCCURRENCE "\0#" ROW — with its occurrence and row counted
 * within the part; the merge adds the records of that content and the rows
 * of the parts before. A malformed row's key is left empty: the merge names
 * it by its row.
 * Rule, compare and offer indices are positions in the pack, which the pack
 * fingerprint pins. Fingerprints are little-endian.
 */
#ifndef QLOOP_RUN_SHARD_H
#define QLOOP_RUN_SHARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/error.h"
#include "rules/pack.h"

/* 2: u entries sorted by fingerprint; 3: v entries shown by the judge; 4:
 * "pack" over the rule files' digests as loaded (shards of an earlier format
 * are refused) */
enum { SHARD_FORMAT = 4 };

/* The kinds of entries, in the order a kind's buffer is flushed at the end. */
enum shard_kind { SHARD_V, SHARD_U, SHARD_P, SHARD_R, SHARD_C, SHARD_S, SHARD_K, SHARD_NKINDS };

/* The letter of kind k ("v", "u", ...), and the kind of a letter (-1: none). */
const char *shard_kind_name(enum shard_kind k);
int shard_kind_of(const char *name);

/* The SHA-256 (hex) of the pack's rule files as it loaded them: over each
 * file's SHA-256 (struct pack's file_digests), in load order, contents only
 * (the same rules under other paths fingerprint alike). Never reads a file:
 * a rule file edited after the pack loaded it does not change it. */
void shard_pack_fingerprint(const struct pack *p, char out[65]);

/* The rolling fingerprint of a shard's lines (each line with its newline). */
uint64_t shard_check_line(uint64_t check, const char *line, size_t len);

/* ---- writing ---- */

struct shard_writer;

/* Opens path for writing ("-": standard output). Returns NULL with err. */
struct shard_writer *shard_writer_open(const char *path, struct qloop_error *err);

/* Writes one JSON object as a line (header, counts). Returns 0 or -1. */
int shard_write_json(struct shard_writer *w, json_t *obj, struct qloop_error *err);

/* The buffer of kind k's entries: append one whole entry with the shard_put_*
 * helpers, then call shard_entry_done, which writes a block line when the
 * buffer is full. */
struct qloop_buf *shard_entry(struct shard_writer *w, enum shard_kind k);
int shard_entry_done(struct shard_writer *w, enum shard_kind k, struct qloop_error *err);

void shard_put_uint(struct qloop_buf *b, uint64_t v);
void shard_put_byte(struct qloop_buf *b, uint8_t v);
void shard_put_bytes(struct qloop_buf *b, const char *s, size_t len);
void shard_put_opt(struct qloop_buf *b, const char *s, size_t len); /* s NULL: absent */
void shard_put_u64(struct qloop_buf *b, uint64_t v);                  /* 8 bytes, little-endian */

/* Writes every block still buffered (before the counts line). */
int shard_writer_flush(struct shard_writer *w, struct qloop_error *err);

/* Writes the end line and closes the file (standard output: flushes it).
 * Returns 0 or -1 with err (a write error: a full disk, a closed pipe). Then,
 * or after any failure, shard_writer_free. */
int shard_writer_end(struct shard_writer *w, struct qloop_error *err);
void shard_writer_free(struct shard_writer *w);

/* ---- reading ---- */

/* A cursor over the entries of one block. Reading past its end or a length
 * past its end sets bad and returns zeros; the caller checks bad once per
 * entry. */
struct shard_cursor {
    const uint8_t *p, *end;
    bool bad;
};
uint64_t shard_get_uint(struct shard_cursor *c);
uint8_t shard_get_byte(struct shard_cursor *c);
const char *shard_get_bytes(struct shard_cursor *c, size_t *len);
const char *shard_get_opt(struct shard_cursor *c, size_t *len); /* NULL when absent */
uint64_t shard_get_u64(struct shard_cursor *c);
bool shard_cursor_done(const struct shard_cursor *c);

struct shard_reader;

/* What a reader hands out, line by line. */
struct shard_line {
    enum { SHARD_LINE_BLOCK, SHARD_LINE_COUNTS, SHARD_LINE_END } type;
    enum shard_kind kind;   /* a block's */
    uint64_t n;             /* a block's entries */
    struct shard_cursor cur; /* a block's decoded entries */
    json_t *counts;         /* the counts object (the reader's) */
};

/* Opens path ("-": standard input, which is then read once: a merge reads a
 * shard from standard input into a temporary file first) and reads its
 * header (*header: the reader's). Returns NULL with err naming path. */
struct shard_reader *shard_reader_open(const char *path, json_t **header, struct qloop_error *err);

/* The next line after the header. Returns 1 with *line filled, 0 after the
 * end line (which it has checked), -1 with err naming the shard and line. */
int shard_reader_next(struct shard_reader *r, struct shard_line *line, struct qloop_error *err);

/* Kind k's blocks are still read and checked (the end line's fingerprint
 * covers them) but not decoded: their lines come with no entries. */
void shard_reader_skip(struct shard_reader *r, enum shard_kind k);

/* The line last read (for messages) and the shard's name. */
long shard_reader_line(const struct shard_reader *r);
const char *shard_reader_name(const struct shard_reader *r);

void shard_reader_close(struct shard_reader *r);

/* Fills err (an input error, exit 2) with "分片 NAME 第 L 行：" + the message. */
int shard_error(const struct shard_reader *r, struct qloop_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
