/*
 * heaptrim.h — giving malloc's free memory back to the kernel between the
 * phases of a batch command.
 *
 * glibc keeps what is freed in its heaps (the main one and each thread's
 * arena) for later allocations: it gives a heap's top back only past a
 * threshold that grows with the largest block it has mapped (up to 64 MiB),
 * and never the free pages inside a heap. A run's read phase frees most of
 * what its threads allocated (the batches, the spools' buffers, the Lua
 * states' tables) when it ends, but its tail allocates its large arrays
 * by mmap, not from those heaps: so what the read left free stayed
 * resident beside them (W1 10M night 2: 28-58 MiB free in the heaps
 * through the ticket phase, the run's peak; bench/README.md, "The steady
 * night's peak at 10M"). malloc_trim gives it back: the top of every heap
 * and, by MADV_DONTNEED, the whole pages of its free blocks.
 *
 * QLOOP_HEAPTRIM=0 turns it off (to measure against). Nothing is done off
 * glibc.
 */
#ifndef QLOOP_HEAPTRIM_H
#define QLOOP_HEAPTRIM_H

#include <stdbool.h>

/* Gives the free memory of malloc's heaps back to the kernel, unless
 * QLOOP_HEAPTRIM is "0". Returns whether any was given back. Safe from any
 * thread at any time; costs a walk of the heaps' free blocks (about a
 * millisecond for tens of MiB). */
bool qloop_heap_trim(void);

#endif
