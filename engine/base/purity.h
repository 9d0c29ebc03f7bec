/*
 * purity.h — a per-thread count of reads of anything that is not the data:
 * the clock, a random number, the output.
 *
 * A rule call that reads none of these answers the same for the same record
 * under the same rules and reference data, so its answer may be reused
 * (run/memo.h). Every place that lets rule code see the clock or chance, or
 * write where someone may look, bumps the calling thread's count:
 * qloop_now (and so qloop_today), idcard.valid when its answer is a birth
 * date after today (its other answers hold on every later day: the verdict
 * memo reuses them on that day or later, run/memo.h), math.random and
 * math.randomseed, print (lua/env.c). The judge reads
 * the count before and after a call; a call that moved it is impure and is
 * never reused.
 */
#ifndef QLOOP_PURITY_H
#define QLOOP_PURITY_H

#include <stdint.h>

/* The calling thread's count (only ever grows). */
extern _Thread_local uint64_t qloop_impure_reads;

/* Notes one impure read on the calling thread. */
static inline void qloop_purity_bump(void) { qloop_impure_reads++; }

/* The calling thread's count, to compare before and after a call. */
static inline uint64_t qloop_purity_mark(void) { return qloop_impure_reads; }

#endif
