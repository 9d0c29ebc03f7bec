/*
 * siphash.h — SipHash-c-d (Aumasson and Bernstein), a keyed 64-bit hash,
 * inline: c compression rounds per 8-byte word, d finalization rounds.
 * SipHash-2-4 is libsodium's crypto_shorthash; SipHash-1-3 (half the rounds)
 * is what the verdict memo's row fingerprint (run/memo.h) uses: keyed, so
 * that nobody without the key can make two inputs collide on purpose.
 */
#ifndef QLOOP_BASE_SIPHASH_H
#define QLOOP_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/bits.h"

/* One SipRound over the state v[0..4). */
static inline void qloop_sipround(uint64_t v[4])
{
    v[0] += v[1], v[1] = qloop_rotl64(v[1], 13), v[1] ^= v[0], v[0] = qloop_rotl64(v[0], 32);
    v[2] += v[3], v[3] = qloop_rotl64(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = qloop_rotl64(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = qloop_rotl64(v[1], 17), v[1] ^= v[2], v[2] = qloop_rotl64(v[2], 32);
}

/* The little-endian 64-bit word of the 8 bytes at p (any alignment): one
 * load where qloop_load_le64 assembles bytes. */
static inline uint64_t qloop_sip_load(const unsigned char *p)
{
    uint64_t m;
    memcpy(&m, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    m = __builtin_bswap64(m);
#endif
    return m;
}

/* The state v[0..4) of a SipHash under the 16-byte key, before any word. */
static inline void qloop_sip_init(uint64_t v[4], const unsigned char key[16])
{
    uint64_t k0 = qloop_sip_load(key), k1 = qloop_sip_load(key + 8);
    v[0] = k0 ^ 0x736f6d6570736575ull;
    v[1] = k1 ^ 0x646f72616e646f6dull;
    v[2] = k0 ^ 0x6c7967656e657261ull;
    v[3] = k1 ^ 0x7465646279746573ull;
}

/* Word m into state v by crounds compression rounds. */
static inline void qloop_sip_word(uint64_t v[4], uint64_t m, int crounds)
{
    v[3] ^= m;
    for (int r = 0; r < crounds; r++)
        qloop_sipround(v);
    v[0] ^= m;
}

/* The hash of state v after its last word, by drounds finalization rounds. */
static inline uint64_t qloop_sip_final(uint64_t v[4], int drounds)
{
    v[2] ^= 0xff;
    for (int r = 0; r < drounds; r++)
        qloop_sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* SipHash-c-d of data[0..len) under the 16-byte key. */
static inline uint64_t qloop_siphash(const unsigned char key[16], const void *data, size_t len,
                                     int crounds, int drounds)
{
    const unsigned char *p = data;
    uint64_t v[4];
    qloop_sip_init(v, key);
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8)
        qloop_sip_word(v, qloop_sip_load(p + i), crounds);
    qloop_sip_word(v, (uint64_t)len << 56 | qloop_load_le64(p + whole, len % 8), crounds);
    return qloop_sip_final(v, drounds);
}

#endif
