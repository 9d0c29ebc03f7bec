/*
 * bits.h — the word operations the hashes and the binary formats share: a
 * 64-bit rotation, a little-endian load of up to eight bytes, and the
 * unsigned varint of the shard format, the uniqueness merge's spill and the
 * verdict memo. Inline, so a hash's or a decoder's inner loop costs no call.
 */
#ifndef QLOOP_BASE_BITS_H
#define QLOOP_BASE_BITS_H

#include <stdbool.h>
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

enum { QLOOP_VARINT_MAX = 10 }; /* bytes of the longest varint (a 64-bit value) */

/* Writes v as an unsigned varint at o (LEB128: 7 bits a byte, low bits
 * first, the high bit set on every byte but the last; at most
 * QLOOP_VARINT_MAX bytes) and returns the end of what it wrote. */
static inline char *qloop_varint_put(char *o, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        *o++ = (char)(byte | (v ? 0x80 : 0));
    } while (v);
    return o;
}

/* Reads the varint at p[*at] of p[0..len) into *v, moving *at past the bytes
 * it read; false (*v 0) when the varint is cut by len or runs longer than
 * QLOOP_VARINT_MAX bytes. */
static inline bool qloop_varint_get(const unsigned char *p, size_t len, size_t *at, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *at < len; shift += 7) {
        unsigned char b = p[(*at)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    *v = 0;
    return false;
}

/* The varint at *p, moving *p past it: for bytes this process wrote or
 * already checked with qloop_varint_get (no bound is checked here). */
static inline uint64_t qloop_varint_next(const unsigned char **p)
{
    size_t at = 0;
    uint64_t v;
    (void)qloop_varint_get(*p, QLOOP_VARINT_MAX, &at, &v);
    *p += at;
    return v;
}

#endif
