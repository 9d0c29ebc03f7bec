/*
 * driver_guard.h — containment of a database driver that crashes.
 *
 * ODBC drivers are other people's C code loaded into qloop. Some of them
 * crash on paths their authors rarely see: Debian 12's psqlODBC 13.02
 * dereferences a NULL connection in CC_from_PGresult when the server goes
 * away while a FETCH of a declared cursor is being read (about one run in
 * thirty in tests/db/test_dropped.sh's scenario). A fault inside a driver
 * cannot be recovered from: the driver's and the driver manager's locks and
 * lists are in an unknown state, and another thread may be waiting on them.
 * What qloop can do is end the way it ends for any other dropped connection:
 * a message naming the dataset, the source and what to do, exit status 2,
 * nothing stored (the run's store transaction is not committed, so SQLite
 * rolls it back).
 *
 * A thread arms the guard with the whole message before it calls into a
 * driver and disarms it after. A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT) raised on an armed thread writes the message to stderr and ends
 * the process with _exit(2); on any other thread, or outside the armed
 * stretch, the signal goes to the action that was in place before the
 * guard was first armed (the default: a core dump; a sanitizer's report).
 */
#ifndef QLOOP_DRIVER_GUARD_H
#define QLOOP_DRIVER_GUARD_H

#include <stddef.h>

/* Room for one message, terminator included; longer ones are cut at a
 * UTF-8 boundary and end with a newline. */
#define QLOOP_DRIVER_GUARD_MSG 1024

/* What an armed thread writes if a driver faults: the line as the command
 * line prints errors ("qloop: SOURCE: TEXT\n"). */
struct qloop_driver_guard {
    char message[QLOOP_DRIVER_GUARD_MSG];
    size_t len;
};

/* Sets g's message from a printf format (the "qloop: " prefix and the
 * newline are added). Does not arm anything. */
void qloop_driver_guard_set(struct qloop_driver_guard *g, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Arms the calling thread with g (which must stay valid until disarmed);
 * installs the signal handlers the first time any thread arms. */
void qloop_driver_guard_arm(const struct qloop_driver_guard *g);

/* Disarms the calling thread. */
void qloop_driver_guard_disarm(void);

#endif
