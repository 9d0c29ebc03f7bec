/*
 * hugepages.h — a batch command's heap in transparent huge pages.
 *
 * A night's run touches a few hundred MiB of fresh heap (batches, spools,
 * the uniqueness table, SQLite's sorter). In 4 KiB pages that is one page
 * fault per 4 KiB, ~28,000 at W1 1M night 1, each dear on a virtual machine
 * (bench/README.md, "Huge pages for the heap"). glibc (2.35 and later) can
 * madvise its heap for transparent huge pages, but only when told before
 * the process starts: the tunable glibc.malloc.hugetlb=1 in GLIBC_TUNABLES,
 * read by the dynamic loader. So a batch command that finds the kernel's
 * THP mode "madvise" or "always" and no choice of the user's in the
 * environment sets the tunable and executes itself again, once, with the
 * same arguments (same pid, same descriptors). The second start puts the
 * environment back as it found it, so that nothing the command starts
 * inherits the setting.
 *
 * QLOOP_HUGEPAGES=0 turns it off. A user's own glibc.malloc.hugetlb in
 * GLIBC_TUNABLES is left alone (and reported as it says). Nothing is done
 * under a sanitizer or valgrind (their allocators ignore the tunable), off
 * glibc, or when the executable cannot be found again; a failed exec
 * carries on as if none had been tried.
 */
#ifndef QLOOP_HUGEPAGES_H
#define QLOOP_HUGEPAGES_H

#include <stdbool.h>
#include <stddef.h>

/* The environment variable a re-executed process finds: its value is "-"
 * when GLIBC_TUNABLES was unset, else "=" and GLIBC_TUNABLES as it was. */
#define QLOOP_HUGEPAGES_MARK "QLOOP_HUGEPAGES_EXEC"

/* Whether a batch command should execute itself again, from what it sees:
 * thp_mode the text of /sys/kernel/mm/transparent_hugepage/enabled (NULL
 * when unreadable; the mode in use is the bracketed word), tunables the
 * environment's GLIBC_TUNABLES and optout its QLOOP_HUGEPAGES (each NULL
 * when unset). Returns true with the GLIBC_TUNABLES to execute with in out
 * (outlen bytes), or false (out untouched): the mode is neither madvise nor
 * always, optout is "0", tunables already names glibc.malloc.hugetlb, or
 * the result would not fit out. Pure: reads nothing else. */
bool qloop_hugepages_plan(const char *thp_mode, const char *tunables, const char *optout,
                          char *out, size_t outlen);

/* Called first in main, before anything is opened or any thread started.
 * In a process started by it (QLOOP_HUGEPAGES_MARK set): puts GLIBC_TUNABLES
 * back and unsets the mark. Else, for a batch command (batch true) whose
 * plan says so: executes /proc/self/exe with argv and the planned
 * environment, and returns only when that failed, the environment as it
 * was. Never prints, never exits. */
void qloop_hugepages_start(char **argv, bool batch);

/* Whether this process's heap was set up for huge pages when it started:
 * by qloop_hugepages_start's exec, or by the user's GLIBC_TUNABLES naming
 * glibc.malloc.hugetlb with a value other than 0. Valid after
 * qloop_hugepages_start. */
bool qloop_hugepages_on(void);

#endif
