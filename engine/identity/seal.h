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
 * 16-byte tag.
 *
 * The nonce is not random but derived, as in SIV: a keyed BLAKE2b
 * (crypto_generichash, 24 bytes) under a nonce key of its own, derived
 * from the records subkey (crypto_kdf, context "qlsealnc") and never used
 * to encrypt, over a length-prefixed encoding of everything sealed and
 * everything it is bound to: dataset, record_ref, field (or its absence),
 * the raw key, whether there is a value, the raw value. So one record with
 * the same raw key and value seals to the same bytes every night, and the
 * nightly refresh of the tickets (loop/ticket_refresh.c) can leave its item
 * alone; a record whose key or value changed seals under another nonce.
 * Nonces are a PRF's 192-bit output, so two different inputs share one
 * only by a collision no one will see, and a nonce is reused only with the
 * same plaintext and associated data, where it reveals nothing new.
 *
 * What this reveals, to someone who reads the store but has no key: that
 * one record's sealed copy is the same as another night's (its raw key and
 * value did not change) — which its masked value and row mostly tell
 * anyway. Nothing across records: the record's identity is part of the
 * nonce's input, so two records with the same raw value have different
 * nonces and unrelated ciphertexts. Sealing needs no random bytes and no
 * counter: a sealer holds only its keys, read-only after ident_sealer_open,
 * and seals from several threads at once.
 *
 * Blobs sealed before (version 1 too, a random prefix and a counter as
 * their nonce) open as ever: ident_unseal takes the nonce from the blob,
 * however it was chosen.
 */
#ifndef QLOOP_IDENTITY_SEAL_H
#define QLOOP_IDENTITY_SEAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "identity/seal_nonce.h"

struct ident_sealer {
    unsigned char key[32];       /* the STORE_KEY_RECORDS subkey: encrypts */
    /* the nonce's keyed BLAKE2b under a key derived from key, its key block
     * compressed (seal_nonce.h) */
    struct seal_nonce_key nonce;
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
 * into out (reset first): the same arguments give the same bytes, any one
 * of them different a different nonce. May be called from several threads
 * at once (s is only read). */
void ident_seal(const struct ident_sealer *s, const char *dataset, const char *record_ref,
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
