/*
 * watchdog.c — the CPU-time budget of a call into rule code.
 *
 * One thread per process, started with the first sandboxed state, wakes
 * every PERIOD_MS and looks at each state in a call (an odd seq). A call's CPU
 * time is read from the clock of the thread running it
 * (pthread_getcpuclockid), counted from the first time the watchdog saw that
 * call, so it errs by at most one period on the short side. Past the state's
 * budget the watchdog stores the call's seq in timeout_seq: the next count
 * hook or pattern step of that call raises (sandbox.c), and a run stops with
 * exit 2 naming the rule, the row, the file and the line. A call still running
 * two periods later (a state that stops the process on a time-out: a run), or
 * at twice its budget (eval, policies), is stuck in C and can be stopped no
 * other way: the watchdog writes the same message and ends the process with
 * _exit(2) — except for a state made under a ceiling with never_exit (a
 * fuzzer, a test harness: sandbox.h), whose stuck call is left to finish in C
 * and then fails on its time like any other. Nothing is lost by that: a run stores
 * nothing before its final transaction, which SQLite undoes when the process
 * dies, and `eval` and `check` store nothing at all.
 *
 * The calling thread pays two atomic stores per call (enter, leave) and, when
 * a state moves to another thread, one pthread_getcpuclockid (and once per
 * thread a gettid).
 *
 * FAST calls (host.h) run without the count hook, so a loop that never
 * returns would never see its budget. The watchdog sends such a call, once it
 * has seen it running on two wake-ups in a row (one to two periods), the
 * real-time signal INTERRUPT_SIGNAL — again each period while it still runs.
 * The handler (installed once, SA_RESTART) runs on the call's own thread; it
 * reads that thread's fast_state, set by qloop_watchdog_fast_begin and
 * cleared by qloop_watchdog_fast_end, and when it is set calls
 * lua_sethook(L, qloop_host_interrupt_hook, LUA_MASKCOUNT, 1), as lua.c's
 * SIGINT handler does: Lua documents lua_sethook as safe to call from a
 * signal handler. The watchdog never calls lua_sethook on another thread's
 * state itself: that walks the state's CallInfo list while its owner runs.
 * The signal goes by tgkill to the kernel thread id, not by pthread_kill:
 * the thread may have finished its call and ended in between, and tgkill to
 * an ended id fails harmlessly (ESRCH) where pthread_kill would use a freed
 * thread handle. Should the id have been reused by another thread of this
 * process, the handler there finds its own fast_state: clear (nothing
 * happens) or a FAST call, which is then re-run EXACT — the same verdict.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lua/host.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { PERIOD_MS = 50 };

/* A real-time signal of its own (glibc keeps SIGRTMIN and SIGRTMIN+1 for
 * itself and already moves SIGRTMIN past them). */
#define INTERRUPT_SIGNAL (SIGRTMIN + 5)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct qloop_host *hosts;
static int started;

/* ---- the interrupt of a FAST call ---- */

/* The state the thread runs a FAST call in, else NULL. Initial-exec TLS: a
 * signal handler may read it with no allocation. */
static _Thread_local lua_State *volatile fast_state __attribute__((tls_model("initial-exec")));

static int fast_ready;     /* handler installed and clock fine: FAST allowed */
static int64_t clock_res = 1; /* CLOCK_MONOTONIC's resolution, ns */
static pid_t self_pid;

/* ---- the time-stamp counter ----
 *
 * clock_gettime(CLOCK_MONOTONIC) through the vDSO costs ~37 ns of CPU on
 * this machine (a KVM guest), rdtsc ~14 ns: with two reads per call the clock
 * was 2.4 % of all the CPU of a W1 run, half of what the hook's removal gave
 * back. So FAST calls read the TSC where it is safe to: the CPU says its TSC
 * is invariant (CPUID 0x80000007, EDX bit 8: constant rate, runs in every
 * sleep state), the kernel's clocksource is "tsc" (the kernel has checked the
 * TSCs of all CPUs are in step, and would leave the TSC if they were not),
 * and the rate, measured by this thread against CLOCK_MONOTONIC over each
 * period, stays within 1 % of the first measurement. The rate published is
 * 1 % below that first measurement, so a count of ticks converted to ns is
 * never less than the time that passed. Until the first period has been
 * measured, and for good once a check fails, tsc_rate is 0 and FAST calls
 * use CLOCK_MONOTONIC. */
static _Atomic double tsc_rate; /* ticks per ns, safe side; 0: use CLOCK_MONOTONIC */
#if defined(__x86_64__)
static int tsc_usable;          /* invariant TSC and clocksource "tsc" (under mu, then this thread) */
static uint64_t tsc_last;       /* the last sample: TSC and CLOCK_MONOTONIC */
static int64_t mono_last;
static double tsc_first;        /* the first rate measured */
static unsigned tsc_samples;

static int clocksource_is_tsc(void)
{
    char buf[32] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "tsc\n") == 0;
    fclose(f);
    return ok;
}

/* A sample of the TSC with the monotonic time it was taken at, or 0 when the
 * thread was interrupted between the reads (then the pair is not close). */
static int tsc_sample(uint64_t *tsc, int64_t *mono)
{
    int64_t m0 = qloop_mono_ns();
    uint64_t t = qloop_tsc();
    int64_t m1 = qloop_mono_ns();
    if (m1 - m0 > 2000)
        return 0;
    *tsc = t;
    *mono = m0 + (m1 - m0) / 2;
    return 1;
}

static void tsc_setup(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    if (!(d & (1u << 8)) || !clocksource_is_tsc())
        return;
    while (!tsc_sample(&tsc_last, &mono_last)) {
    }
    tsc_usable = 1;
}

static void tsc_off(void)
{
    tsc_usable = 0;
    atomic_store_explicit(&tsc_rate, 0.0, memory_order_relaxed);
}

/* Once a period (the watchdog's thread): measures the TSC's rate over it. */
static void tsc_check(void)
{
    uint64_t t;
    int64_t m;
    if (!tsc_usable || !tsc_sample(&t, &m) || m - mono_last < 10000000)
        return;
    double r = (double)(t - tsc_last) / (double)(m - mono_last);
    tsc_last = t;
    mono_last = m;
    if (!(r > 0.1 && r < 100)) {
        tsc_off();
        return;
    }
    if (tsc_first == 0) {
        tsc_first = r;
        atomic_store_explicit(&tsc_rate, r * 0.99, memory_order_relaxed);
    } else if (r < tsc_first * 0.99 || r > tsc_first * 1.01 ||
               (++tsc_samples % 20 == 0 && !clocksource_is_tsc())) {
        tsc_off();
    }
}
#else
static void tsc_setup(void) {}
static void tsc_check(void) {}
#endif

double qloop_watchdog_tsc_rate(void) { return atomic_load_explicit(&tsc_rate, memory_order_relaxed); }

static void interrupt_signal(int sig)
{
    (void)sig;
    int saved = errno;
    lua_State *L = fast_state;
    if (L)
        lua_sethook(L, qloop_host_interrupt_hook, LUA_MASKCOUNT, 1);
    errno = saved;
}

/* Installs the handler and reads the clock's resolution (once, under mu). */
static void fast_setup(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0 || res.tv_sec != 0 || res.tv_nsec > 1000)
        return; /* a clock this coarse cannot time a call of a microsecond */
    clock_res = res.tv_nsec > 0 ? res.tv_nsec : 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupt_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(INTERRUPT_SIGNAL, &sa, NULL) != 0)
        return;
    self_pid = getpid();
    tsc_setup();
    fast_ready = 1;
}

int qloop_watchdog_fast_ready(void)
{
    pthread_mutex_lock(&mu);
    int r = fast_ready;
    pthread_mutex_unlock(&mu);
    return r;
}

void qloop_watchdog_fast_begin(lua_State *L)
{
    fast_state = L;
    atomic_signal_fence(memory_order_seq_cst);
}

void qloop_watchdog_fast_end(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    fast_state = NULL;
    atomic_signal_fence(memory_order_seq_cst);
}

int64_t qloop_watchdog_clock_res_ns(void) { return clock_res; }



void qloop_host_stop_too_slow(const struct qloop_host *h, const char *where)
{
    char what[768];
    const struct qloop_lua_site *s = &h->site;
    if (h->have_site && s->rule && s->dataset && s->row)
        snprintf(what, sizeof what, "规则 %s 在数据集 %s 第 %llu 行", s->rule, s->dataset,
                 (unsigned long long)s->row);
    else if (h->have_site && s->rule)
        snprintf(what, sizeof what, "规则 %s", s->rule);
    else if (h->have_site && s->field && s->dataset && s->row)
        snprintf(what, sizeof what, "数据集 %s 字段 %s 的清洗函数在第 %llu 行", s->dataset, s->field,
                 (unsigned long long)s->row);
    else
        snprintf(what, sizeof what, "规则代码");
    char msg[2048];
    int n = snprintf(msg, sizeof msg,
                     "qloop: %s%s%s上运行超过 %g 秒 CPU：这条规则对这条记录太慢，已停止本次运行"
                     "（退出码 2，没有写入任何结果）；请简化规则（例如避免“.-”反复回溯的模式、"
                     "逐字符拼接长文本），或在规则包中用 limits { cpu_seconds = N } 放宽（最多 %d 秒）\n",
                     where ? where : "", where ? ": " : "", what, (double)h->cpu_budget_ns / 1e9,
                     QLOOP_LUA_MAX_CPU_SECONDS);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = (int)sizeof msg - 1;
    ssize_t w = write(STDERR_FILENO, msg, (size_t)n);
    (void)w;
    _exit(QLOOP_EXIT_INPUT);
}

static int64_t clock_ns(clockid_t c, int *ok)
{
    struct timespec ts;
    *ok = clock_gettime(c, &ts) == 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *watch(void *arg)
{
    (void)arg;
    struct timespec period = {0, PERIOD_MS * 1000000L};
    for (;;) {
        while (nanosleep(&period, NULL) != 0 && errno == EINTR) {
        }
        pthread_mutex_lock(&mu);
        tsc_check();
        for (struct qloop_host *h = hosts; h; h = h->next) {
            unsigned long seq = atomic_load_explicit(&h->seq, memory_order_acquire);
            if (!(seq & 1)) {
                h->wd_seq = 0;
                continue;
            }
            int ok;
            clockid_t c = (clockid_t)atomic_load_explicit(&h->clock, memory_order_relaxed);
            int64_t now = clock_ns(c, &ok);
            if (!ok)
                continue;
            if (h->wd_seq != seq) {
                h->wd_seq = seq;
                h->wd_cpu0 = now;
                continue;
            }
            /* a FAST call seen on two wake-ups: interrupt it (see above) */
            int tid = atomic_load_explicit(&h->tid, memory_order_relaxed);
            if (atomic_load_explicit(&h->fast_call, memory_order_relaxed) && tid > 0 &&
                atomic_load_explicit(&h->seq, memory_order_acquire) == seq)
                syscall(SYS_tgkill, (long)self_pid, (long)tid, (long)INTERRUPT_SIGNAL);
            int64_t used = now - h->wd_cpu0;
            /* the call gets two periods to stop itself (with its file and
             * line) where it would end the process anyway, else as long again */
            int64_t hard = h->exit_on_timeout ? h->cpu_budget_ns + 2 * PERIOD_MS * 1000000LL
                                              : 2 * h->cpu_budget_ns;
            if (!h->never_stop && used >= hard &&
                atomic_load_explicit(&h->seq, memory_order_acquire) == seq)
                qloop_host_stop_too_slow(h, NULL);
            if (used >= h->cpu_budget_ns)
                atomic_store_explicit(&h->timeout_seq, seq, memory_order_relaxed);
        }
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

void qloop_watchdog_add(struct qloop_host *h)
{
    pthread_mutex_lock(&mu);
    h->prev = NULL;
    h->next = hosts;
    if (hosts)
        hosts->prev = h;
    hosts = h;
    if (!started) {
        fast_setup();
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        started = pthread_create(&t, &attr, watch, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&mu);
}

void qloop_watchdog_remove(struct qloop_host *h)
{
    pthread_mutex_lock(&mu);
    if (h->prev)
        h->prev->next = h->next;
    else if (hosts == h)
        hosts = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    pthread_mutex_unlock(&mu);
}

void qloop_watchdog_enter(struct qloop_host *h, int fast)
{
    pthread_t self = pthread_self();
    if (!h->have_thread || !pthread_equal(h->thread, self)) {
        clockid_t c;
        if (pthread_getcpuclockid(self, &c) != 0)
            c = CLOCK_THREAD_CPUTIME_ID; /* never: then the watchdog reads its own */
        atomic_store_explicit(&h->clock, (int)c, memory_order_relaxed);
        static _Thread_local int tid; /* this thread's kernel id, read once */
        if (!tid)
            tid = (int)syscall(SYS_gettid);
        atomic_store_explicit(&h->tid, tid, memory_order_relaxed);
        h->thread = self;
        h->have_thread = 1;
    }
    atomic_store_explicit(&h->fast_call, fast, memory_order_relaxed);
    h->call_seq = atomic_load_explicit(&h->seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->seq, h->call_seq, memory_order_release);
}

void qloop_watchdog_leave(struct qloop_host *h)
{
    atomic_store_explicit(&h->seq, h->call_seq + 1, memory_order_release);
}
