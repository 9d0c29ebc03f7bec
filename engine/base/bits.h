/*
 * bits.h — the two word operations the hashes and the shard format share:
 * a 64-bit rotation and a little-endian load of up to eight bytes. Inline,
 * so a hash's inner loop costs no call.
 */
#ifndef QLOOP_BASE_BITS_H
#define QLOOP_BASE_BITS_H

#include <stddef.h>
#include <stdint.h>

/* x rotated left by r bits (0 < r < 64). */
static inline uint64_t qloop_rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* The little-endian 64-bit word of the k bytes at s (k <= 8), whatever the
 * machine's byte order and s's alignment. */
static inline uint64_t qloop_load_le64(const unsigned char *s, size_t k)
{
    uint64_t w = 0;
    for (size_t i = 0; i < k; i++)
        w |= (uint64_t)s[i] << (8 * i);
    return w;
}

#endif
