/*
 * hugepages.c — a batch command's heap in transparent huge pages: the plan
 * (pure), the one exec, and putting the environment back (hugepages.h).
 */
#define _GNU_SOURCE
#include "base/hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TUNABLE[] = "glibc.malloc.hugetlb";
static const char TUNABLE_ON[] = "glibc.malloc.hugetlb=1";
static const char THP_ENABLED[] = "/sys/kernel/mm/transparent_hugepage/enabled";

static bool started_on;

/* The bracketed word of a THP mode text ("always [madvise] never"), into
 * word; false when there is none or it is too long. */
static bool thp_in_use(const char *mode, char *word, size_t size)
{
    const char *open = mode ? strchr(mode, '[') : NULL;
    const char *close = open ? strchr(open + 1, ']') : NULL;
    if (!close || (size_t)(close - open - 1) >= size)
        return false;
    memcpy(word, open + 1, (size_t)(close - open - 1));
    word[close - open - 1] = '\0';
    return true;
}

/* The value of glibc.malloc.hugetlb in a GLIBC_TUNABLES text (entries
 * name=value separated by ':'), or NULL when it is not named. */
static const char *tunable_value(const char *tunables)
{
    size_t n = strlen(TUNABLE);
    for (const char *p = tunables; p && *p;) {
        if (strncmp(p, TUNABLE, n) == 0 && p[n] == '=')
            return p + n + 1;
        p = strchr(p, ':');
        if (p)
            p++;
    }
    return NULL;
}

bool qloop_hugepages_plan(const char *thp_mode, const char *tunables, const char *optout,
                          char *out, size_t outlen)
{
    char word[16];
    if (optout && strcmp(optout, "0") == 0)
        return false;
    if (!thp_in_use(thp_mode, word, sizeof word) ||
        (strcmp(word, "madvise") != 0 && strcmp(word, "always") != 0))
        return false;
    if (tunable_value(tunables))
        return false; /* the user's choice, either way */
    int n = tunables && *tunables ? snprintf(out, outlen, "%s:%s", tunables, TUNABLE_ON)
                                  : snprintf(out, outlen, "%s", TUNABLE_ON);
    return n > 0 && (size_t)n < outlen;
}

/* The THP mode text, or "" when unreadable. */
static void read_thp_mode(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(THP_ENABLED, "re");
    if (!f)
        return;
    if (!fgets(buf, (int)size, f))
        buf[0] = '\0';
    fclose(f);
}

/* Whether an allocator other than glibc's serves this process. */
static bool foreign_allocator(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#else
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "vgpreload") != NULL; /* valgrind */
#endif
}

/* Puts GLIBC_TUNABLES back as a mark says it was ("=TEXT": TEXT, "-":
 * unset) and drops the mark. A mark of another form (not ours) leaves
 * GLIBC_TUNABLES alone. */
static void restore(const char *mark)
{
    if (mark[0] == '=')
        setenv("GLIBC_TUNABLES", mark + 1, 1);
    else if (strcmp(mark, "-") == 0)
        unsetenv("GLIBC_TUNABLES");
    unsetenv(QLOOP_HUGEPAGES_MARK);
}

/* Whether a glibc.malloc.hugetlb value (tunable_value) asks for huge pages:
 * named, and not 0. */
static bool value_on(const char *v)
{
    return v && v[0] != '\0' && v[0] != ':' && !(v[0] == '0' && (v[1] == '\0' || v[1] == ':'));
}

void qloop_hugepages_start(char **argv, bool batch)
{
    const char *mark = getenv(QLOOP_HUGEPAGES_MARK);
    const char *tunables = getenv("GLIBC_TUNABLES");
    /* what the loader read: in a process this function started, the mark's
     * tunables plus ours */
    started_on = value_on(tunable_value(tunables));
    if (mark) {
        char *copy = strdup(mark);
        if (copy) {
            restore(copy);
            free(copy);
        }
        return;
    }
#ifdef __GLIBC__
    if (!batch || foreign_allocator() || strlen(tunables ? tunables : "") > 4096)
        return;
    char mode[128], planned[4200];
    read_thp_mode(mode, sizeof mode);
    if (!qloop_hugepages_plan(mode, tunables, getenv("QLOOP_HUGEPAGES"), planned, sizeof planned))
        return;
    char was[4200];
    snprintf(was, sizeof was, "%s%s", tunables ? "=" : "-", tunables ? tunables : "");
    if (access("/proc/self/exe", X_OK) != 0 || setenv(QLOOP_HUGEPAGES_MARK, was, 1) != 0 ||
        setenv("GLIBC_TUNABLES", planned, 1) != 0) {
        restore(was);
        return;
    }
    execv("/proc/self/exe", argv);
    restore(was); /* the exec failed: carry on as we are */
#else
    (void)argv;
    (void)batch;
#endif
}

bool qloop_hugepages_on(void) { return started_on; }
