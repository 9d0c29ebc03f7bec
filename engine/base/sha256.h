/*
 * sha256.h — SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104).
 */
#ifndef QLOOP_SHA256_H
#define QLOOP_SHA256_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct qloop_sha256 {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t block[64];
    size_t used;
};

void qloop_sha256_init(struct qloop_sha256 *c);
void qloop_sha256_update(struct qloop_sha256 *c, const void *data, size_t len);
void qloop_sha256_final(struct qloop_sha256 *c, uint8_t out[32]);
/* One-shot digest. */
void qloop_sha256(const void *data, size_t len, uint8_t out[32]);
void qloop_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void qloop_hex(const uint8_t *bytes, size_t n, char *out);
/* The 16 bytes whose lower-case hex (qloop_hex) is the 32 characters at hex
 * (a record_ref), as two big-endian numbers: out[0] the first 8 bytes, so
 * that the pairs order as the texts do (memcmp). false when hex is not
 * exactly 32 lower-case hex digits (a NUL stops the reading). */
bool qloop_unhex128(const char *hex, uint64_t out[2]);
/* As qloop_unhex128, for the first 32 characters of a longer text: whatever
 * follows them is not looked at. */
bool qloop_unhex128_prefix(const char *hex, uint64_t out[2]);
/* The inverse of qloop_unhex128: the 32 lower-case hex digits of the two
 * big-endian numbers in[0], in[1] into out (no NUL written). */
void qloop_hex128(const uint64_t in[2], char out[32]);

#endif
