/*
 * sql_profile.c — the per-statement SQL profile behind QLOOP_SQL_PROFILE=1
 * (sql_profile.h): what each distinct statement text cost the process, to
 * tell which statements of a phase matter before changing any.
 *
 * Each traced connection reports through sqlite3_trace_v2: SQLITE_TRACE_STMT
 * when an execution starts (the connection's total change count is noted),
 * SQLITE_TRACE_ROW for each row returned, SQLITE_TRACE_PROFILE when it ends
 * (its time in ns; the change count's growth; the statement's VM steps and
 * sorts, read and reset). Statements are told apart by their text (as
 * prepared, parameters unexpanded); a small table keyed by statement handle
 * finds a statement's entry without hashing its text on every row. One
 * mutex guards it all: connections may run on different threads.
 *
 * The time is taken on CLOCK_MONOTONIC from the execution's first step
 * (SQLITE_TRACE_STMT) to SQLITE_DONE, or to the reset or finalize of a
 * statement not stepped to its end (SQLite's own figure counts whole
 * milliseconds). A statement held open while the caller works between its
 * rows is charged that work too, and the changes made meanwhile: read its
 * line with its VM steps (tk_fresh_findings' query of kinds is one). Off, nothing is traced and
 * nothing costs anything but one getenv per process.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "store/sql_profile.h"

/* One distinct statement text. */
struct prof_entry {
    char *text;
    int64_t calls, ns, rows, changes, steps, sorts;
};

/* A statement handle seen lately: its entry, and the connection's total
 * changes when its current execution began. */
struct prof_slot {
    sqlite3_stmt *st;
    struct prof_entry *e;
    int64_t changes_at_start, started_ns;
};

enum { PROF_SLOTS = 4096 };

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static struct strmap *prof_by_text;
static struct prof_entry **prof_entries;
static size_t prof_n, prof_cap;
static struct prof_slot prof_slots[PROF_SLOTS];

bool sql_profile_enabled(void)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("QLOOP_SQL_PROFILE");
        enabled = v && *v && strcmp(v, "0") != 0;
    }
    return enabled == 1;
}

/* The entry of text (created when new). Under prof_lock. */
static struct prof_entry *entry_of(const char *text)
{
    if (!prof_by_text)
        prof_by_text = strmap_new();
    int created = 0;
    uint64_t *v = strmap_put(prof_by_text, text, strlen(text), &created);
    if (created) {
        if (prof_n == prof_cap) {
            prof_cap = prof_cap ? prof_cap * 2 : 64;
            prof_entries = qloop_xrealloc(prof_entries, prof_cap * sizeof *prof_entries);
        }
        struct prof_entry *e = qloop_xcalloc(1, sizeof *e);
        e->text = qloop_xstrdup(text);
        prof_entries[prof_n] = e;
        *v = prof_n++;
    }
    return prof_entries[*v];
}

/* The slot of statement st with its entry (the slot taken over when it held
 * another statement, or the same handle reused for another text). Under
 * prof_lock. */
static struct prof_slot *slot_of(sqlite3_stmt *st)
{
    uintptr_t h = (uintptr_t)st;
    h ^= h >> 17;
    struct prof_slot *s = &prof_slots[(h * 0x9E3779B97F4A7C15ull >> 40) % PROF_SLOTS];
    const char *text = sqlite3_sql(st);
    if (s->st != st || !s->e || strcmp(s->e->text, text) != 0) {
        s->st = st;
        s->e = entry_of(text);
        s->changes_at_start = sqlite3_total_changes64(sqlite3_db_handle(st));
        s->started_ns = 0;
    }
    return s;
}

/* Nanoseconds on a monotonic clock. */
static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int trace(unsigned type, void *ctx, void *p, void *x)
{
    (void)ctx;
    sqlite3_stmt *st = p;
    if (type == SQLITE_TRACE_STMT && x && strncmp(x, "--", 2) == 0)
        return 0; /* a trigger's program: counted in its statement */
    if (!sqlite3_sql(st) || !*sqlite3_sql(st))
        return 0; /* SQLite's own program without text (the schema's load) */
    pthread_mutex_lock(&prof_lock);
    struct prof_slot *s = slot_of(st);
    if (type == SQLITE_TRACE_STMT) {
        s->changes_at_start = sqlite3_total_changes64(sqlite3_db_handle(st));
        s->started_ns = now_ns();
    } else if (type == SQLITE_TRACE_ROW) {
        s->e->rows++;
    } else if (type == SQLITE_TRACE_PROFILE) {
        int64_t now = sqlite3_total_changes64(sqlite3_db_handle(st));
        s->e->calls++;
        /* SQLite's own figure (*x) counts whole milliseconds in 3.40 */
        (void)x;
        s->e->ns += s->started_ns ? now_ns() - s->started_ns : 0;
        s->started_ns = 0;
        s->e->changes += now - s->changes_at_start;
        s->changes_at_start = now;
        s->e->steps += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
        s->e->sorts += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_SORT, 1);
    }
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

static int by_ns_desc(const void *a, const void *b)
{
    int64_t x = (*(struct prof_entry *const *)a)->ns, y = (*(struct prof_entry *const *)b)->ns;
    return (x < y) - (x > y);
}

void sql_profile_report(FILE *out)
{
    pthread_mutex_lock(&prof_lock);
    if (prof_n > 1)
        qsort(prof_entries, prof_n, sizeof *prof_entries, by_ns_desc);
    int64_t total = 0;
    for (size_t i = 0; i < prof_n; i++)
        total += prof_entries[i]->ns;
    fprintf(out, "SQL profile (QLOOP_SQL_PROFILE): %zu statements, %.1f ms in all\n", prof_n,
            (double)total / 1e6);
    fprintf(out, "%10s %8s %10s %10s %12s %6s  statement\n", "ms", "calls", "rows", "changed",
            "vm steps", "sorts");
    for (size_t i = 0; i < prof_n; i++) {
        const struct prof_entry *e = prof_entries[i];
        char text[201];
        size_t n = 0;
        bool space = false;
        for (const char *c = e->text; *c && n < sizeof text - 1; c++) {
            bool ws = *c == ' ' || *c == '\n' || *c == '\t' || *c == '\r';
            if (ws && (space || n == 0))
                continue;
            text[n++] = ws ? ' ' : *c;
            space = ws;
        }
        text[n] = '\0';
        fprintf(out, "%10.1f %8lld %10lld %10lld %12lld %6lld  %s\n", (double)e->ns / 1e6,
                (long long)e->calls, (long long)e->rows, (long long)e->changes,
                (long long)e->steps, (long long)e->sorts, text);
    }
    pthread_mutex_unlock(&prof_lock);
}

static void report_at_exit(void) { sql_profile_report(stderr); }

static void register_report(void) { atexit(report_at_exit); }

void sql_profile_attach(sqlite3 *db)
{
    if (!db || !sql_profile_enabled())
        return;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_report);
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT | SQLITE_TRACE_ROW | SQLITE_TRACE_PROFILE, trace,
                     NULL);
}
