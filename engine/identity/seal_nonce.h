/*
 * seal_nonce.h — the derived nonce of a seal (seal.h), with the key block
 * of its keyed BLAKE2b compressed once per sealer instead of once per seal.
 *
 * A seal's nonce is BLAKE2b (24 bytes out, libsodium's crypto_generichash)
 * keyed with the nonce key, over the domain part ("qloop seal nonce 1") and
 * the record's five parts, each framed as seal.h says. Keyed BLAKE2b hashes
 * the key, zero-padded, as its first 128-byte block. libsodium buffers that
 * block until more than 256 bytes have arrived, so a state started with the
 * key and copied for each seal still compresses the key block in every seal
 * (W1's nonces hash 109–156 bytes after it: two or three compressions
 * where one or two do). Here the key block is compressed once, when the key
 * is set, and each seal compresses only its own blocks with BLAKE2b's
 * compression function (RFC 7693) written out in seal_nonce.c. The nonces
 * are the same bytes as crypto_generichash's — checked against it when the
 * key is set (on any difference libsodium's path is taken from then on) and
 * by tests/unit/test_seal_nonce.c over every framed length from 72 bytes to
 * past the own path's 512. libsodium's state layout is not relied on.
 */
#ifndef QLOOP_IDENTITY_SEAL_NONCE_H
#define QLOOP_IDENTITY_SEAL_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SEAL_NONCE_BYTES = 24, SEAL_NONCE_PARTS = 5 };

/* The nonce key, ready to hash with; read-only once set, so several
 * threads may derive nonces with it at once. */
struct seal_nonce_key {
    uint64_t chain[8];        /* BLAKE2b's chain value after the key block */
    unsigned char key[32];    /* the nonce key itself: libsodium's path */
    bool own;                 /* the self-check passed: chain is used */
};

/* One nonce's input: dataset, record_ref, field, raw key, raw value, in
 * that order, with their lengths; a NULL part is absent (framed as such,
 * its length ignored). */
struct seal_nonce_input {
    const void *part[SEAL_NONCE_PARTS];
    size_t len[SEAL_NONCE_PARTS];
};

/* Readies k for the 32-byte nonce key: compresses its key block and checks
 * that nonces made that way equal libsodium's for a few inputs of one to
 * three blocks (k->own: whether they did; if not, every nonce is made by
 * libsodium's path). */
void seal_nonce_key_set(struct seal_nonce_key *k, const unsigned char nonce_key[32]);

/* The nonce of in under k into nonce (seal.h's keyed BLAKE2b). */
void seal_nonce(const struct seal_nonce_key *k, const struct seal_nonce_input *in,
                unsigned char nonce[SEAL_NONCE_BYTES]);

/* The same nonce made by libsodium's crypto_generichash alone, part by part
 * (the reference: the fallback, the self-check, the tests). */
void seal_nonce_reference(const struct seal_nonce_key *k, const struct seal_nonce_input *in,
                          unsigned char nonce[SEAL_NONCE_BYTES]);

/* Tests only: when nonzero, seal_nonce_key_set's self-check sees the own
 * path's nonce with one bit flipped, as if it differed from libsodium's. */
extern int seal_nonce_test_fault;

#endif
