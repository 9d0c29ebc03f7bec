/*
 * seeded_rng.h — a seeded random stream for the generated-input tests, so
 * that a failure replays exactly (splitmix64).
 */
#ifndef QLOOP_TEST_SEEDED_RNG_H
#define QLOOP_TEST_SEEDED_RNG_H

#include <stdint.h>

/* The next 64 bits of the stream whose state is *state. */
static inline uint64_t seeded_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
