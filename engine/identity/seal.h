/*
 * seal.h — what only a record's owner may see, sealed with the store's key.
 *
 * The store keeps problem records masked (主键 330110***********3). So that
 * the owner department can still find its record, the findings writer seals
 * the raw key and value of each record it masked, and the ticket keeps the
 * sealed copy beside the masked one. Sealing is libsodium's
 * crypto_aead_xchacha20poly1305_ietf with the STORE_KEY_RECORDS subkey of
 * the store's key file (store/key.h) — the key is never inside the store —
 * and the record's identity (dataset, record_ref, field) as associated data,
 * so a sealed copy moved to another record does not open. Without the key
 * file nothing opens (the store still works, masked); with a wrong one
 * store_key refuses before anything is tried, and a blob that does not open
 * is an error, never garbage.
 *
 * A blob is: 1 version byte (1), a 24-byte nonce, then the ciphertext of
 * (4-byte big-endian key length, key, 1 byte: has value, value) with its
 * 16-byte tag. Nonces are a random 16-byte prefix chosen per sealer and a
 * 64-bit counter, so sealing costs no system call per record.
 */
#ifndef QLOOP_IDENTITY_SEAL_H
#define QLOOP_IDENTITY_SEAL_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

struct ident_sealer {
    unsigned char key[32];
    unsigned char prefix[16];
    unsigned char subkey[32]; /* HChaCha20(key, prefix): XChaCha20's per-nonce key, made once */
    _Atomic uint64_t counter;
};

/* The raw key (and value, NULL when the record has none) of one record. */
struct ident_record {
    const char *key;
    size_t keylen;
    const char *value;
    size_t vlen;
};

/* Readies s with the store's STORE_KEY_RECORDS subkey. Returns 0, or -1
 * with err (exit 2) when the key file is missing or foreign. */
int ident_sealer_open(sqlite3 *db, struct ident_sealer *s, struct qloop_error *err);

/* Forgets the key (zeroes s). */
void ident_sealer_close(struct ident_sealer *s);

/* Seals r for the record (dataset, record_ref, field — field may be NULL)
 * into out (reset first). May be called from several threads at once. */
void ident_seal(struct ident_sealer *s, const char *dataset, const char *record_ref,
                const char *field, const struct ident_record *r, struct qloop_buf *out);

/* Opens the blob sealed for (dataset, record_ref, field) into plain, with r
 * pointing into plain (its key and value NUL-terminated). Returns 0, or -1
 * with an internal error (exit 3) when the blob does not open: tampered,
 * moved from another record, or sealed under another key. */
int ident_unseal(const struct ident_sealer *s, const char *dataset, const char *record_ref,
                 const char *field, const void *blob, size_t len, struct qloop_buf *plain,
                 struct ident_record *r, struct qloop_error *err);

/* Zeroes and frees what ident_unseal opened into plain. */
void ident_plain_free(struct qloop_buf *plain);

#endif
