/*
 * prng.h — the deterministic generator the bench generators share:
 * xoshiro256** seeded through splitmix64. Each generator is one translation
 * unit, so the state lives here; never rand(): the same seed must give the
 * same files on every machine.
 */
#ifndef QLOOP_BENCH_PRNG_H
#define QLOOP_BENCH_PRNG_H

#include <stdint.h>

static uint64_t rng_s[4];

/* One splitmix64 step on *x; used only to expand the seed. */
static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Seeds the generator state from one 64-bit seed. */
static inline void rng_seed(uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng_s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits (xoshiro256**). */
static inline uint64_t rng_next(void)
{
    uint64_t result = rotl(rng_s[1] * 5, 7) * 9;
    uint64_t t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return result;
}

/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
static inline uint64_t rng_below(uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = rng_next();
    while (r >= lim);
    return r % n;
}

/* Uniform in [0, 1). */
static inline double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

#endif
