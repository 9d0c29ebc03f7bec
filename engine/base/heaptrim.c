/*
 * heaptrim.c — malloc's free memory given back between a batch command's
 * phases (heaptrim.h).
 */
#include "base/heaptrim.h"

#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

bool qloop_heap_trim(void)
{
    const char *off = getenv("QLOOP_HEAPTRIM");
    if (off && strcmp(off, "0") == 0)
        return false;
#if defined(__GLIBC__)
    return malloc_trim(0) != 0;
#else
    return false;
#endif
}
