/*
 * driver_guard.c — the fault handler that turns a crashing database driver
 * into qloop's message and exit status 2 (driver_guard.h says why).
 *
 * The handlers are installed once, process-wide, the first time a thread
 * arms; each thread's armed message is a thread-local pointer, so a fault
 * on a thread that is not inside a driver call is passed on untouched: the
 * handler puts back the action that was there before and raises the signal
 * again, which for a real fault means the faulting instruction runs again
 * under that action once the handler returns. The handler uses only
 * async-signal-safe calls (write, _exit, sigaction, raise).
 */
#include "driver_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NSIG_GUARDED (sizeof guarded_signals / sizeof guarded_signals[0])

static struct sigaction previous[NSIG_GUARDED];
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static _Thread_local const struct qloop_driver_guard *volatile armed;

static void on_fault(int sig)
{
    const struct qloop_driver_guard *g = armed;
    if (g) {
        size_t off = 0;
        while (off < g->len) {
            ssize_t n = write(STDERR_FILENO, g->message + off, g->len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        _exit(2);
    }
    for (size_t i = 0; i < NSIG_GUARDED; i++)
        if (guarded_signals[i] == sig)
            sigaction(sig, &previous[i], NULL);
    raise(sig);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK;
    for (size_t i = 0; i < NSIG_GUARDED; i++)
        sigaction(guarded_signals[i], &sa, &previous[i]);
}

void qloop_driver_guard_set(struct qloop_driver_guard *g, const char *source, const char *fmt, ...)
{
    int n = snprintf(g->message, sizeof g->message, "qloop: %s: ", source ? source : "");
    size_t len = n < 0 ? 0 : (size_t)n < sizeof g->message ? (size_t)n : sizeof g->message - 1;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(g->message + len, sizeof g->message - len, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t)n < sizeof g->message - len ? (size_t)n : sizeof g->message - len - 1;
    if (len > sizeof g->message - 2) {
        len = sizeof g->message - 2;
        while (len > 0 && ((unsigned char)g->message[len] & 0xC0) == 0x80)
            len--; /* cut before a continuation byte: a whole character stays */
    }
    g->message[len++] = '\n';
    g->message[len] = '\0';
    g->len = len;
}

void qloop_driver_guard_arm(const struct qloop_driver_guard *g)
{
    pthread_once(&installed, install);
    armed = g;
}

void qloop_driver_guard_disarm(void)
{
    armed = NULL;
}
