/*
 * findings_enc.h (run) — an encoded finding as the findings writer spools
 * it (findings.c makes them), and the walk that takes the spool's pieces
 * back apart into whole findings: for the flush that stores them
 * (findings.c) and for the thread that collects their keys beside it
 * (findings_keys.c). Private to the writer's files.
 *
 * One encoded finding is struct findings_enc_head, then the bytes of key,
 * value, message, sealed and part, in that order (a length of
 * FINDINGS_ENC_NULL: SQL NULL, no bytes).
 */
#ifndef QLOOP_RUN_FINDINGS_ENC_H
#define QLOOP_RUN_FINDINGS_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"

enum {
    FINDINGS_ENC_NULL = UINT32_MAX,
    F_KEY = 0,
    F_VALUE,
    F_MESSAGE,
    F_SEALED,
    F_PART,
    F_COUNT
};

struct findings_enc_head {
    uint32_t size; /* of the whole encoded finding */
    uint32_t kind; /* the writer's own number of its kind (findings_kind) */
    uint64_t row_no; /* 0: none */
    /* the evidence digest (ticket_evidence_digest) of row_no, key, value,
     * message and sealed as stored: made where the finding is encoded
     * (often a worker, while the read runs) instead of in the serial flush */
    uint64_t digest;
    uint32_t len[F_COUNT];
    char ref[32];
};

/* The size of encoded finding p (its head's first member). */
static inline uint32_t findings_enc_size(const char *p)
{
    uint32_t size;
    memcpy(&size, p, sizeof size);
    return size;
}

/* The walk over a spool's pieces: the bytes of a finding split between
 * two pieces wait in carry. Zeroed to start; carry freed by the owner. */
struct findings_enc_walk {
    struct qloop_buf carry;
};

/* Calls one(ctx, p) with every whole encoded finding that piece[0..n)
 * completes, in order, keeping a finding it leaves unfinished in wk for
 * the next piece. Returns 0, what one returned when not 0, or -1 with err
 * (internal) when a head's size is less than a head. */
int findings_enc_walk(struct findings_enc_walk *wk, const void *piece, size_t n,
                      int (*one)(void *ctx, const char *enc), void *ctx, struct qloop_error *err);

#endif
