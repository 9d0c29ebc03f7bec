/*
 * purity.c — the per-thread count of impure reads (see purity.h).
 */
#include "base/purity.h"

_Thread_local uint64_t qloop_impure_reads;
