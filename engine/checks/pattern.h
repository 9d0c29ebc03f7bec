/*
 * pattern.h — PCRE2 patterns compiled once, JIT-compiled, match data reused.
 *
 * Patterns are UTF-8 with PCRE2_UTF but without PCRE2_UCP, so `\d` means the
 * ASCII digits 0-9 only (a full-width digit must be cleansed first), and with
 * PCRE2_MATCH_INVALID_UTF so that any byte string can be matched safely.
 * A compiled pattern is not shared between threads.
 *
 * Matching is bounded: at most PATTERN_MATCH_LIMIT backtracking steps
 * (PCRE2's match limit, honoured by the JIT too), PATTERN_DEPTH_LIMIT nested
 * backtracking points and PATTERN_HEAP_LIMIT KiB of backtracking memory for
 * the interpreter. A legitimate validation pattern needs a few hundred steps
 * per value; a pattern that needs more than the limit explodes on that value
 * (catastrophic backtracking, as ^(a+)+$ on "aaaa…b") and reports an error
 * in about 0.2 ms instead of PCRE2's default 10 million steps (~20 ms).
 */
#ifndef QLOOP_PATTERN_H
#define QLOOP_PATTERN_H

#include <stddef.h>

struct qloop_pattern;

enum {
    PATTERN_MATCH_LIMIT = 100000,
    PATTERN_DEPTH_LIMIT = 100000,
    PATTERN_HEAP_LIMIT = 16384, /* KiB */
};

/* Compiles pat. On failure returns NULL, writes PCRE2's message (English) to
 * msg and the 1-based character offset of the problem to *offset. */
struct qloop_pattern *pattern_compile(const char *pat, size_t len, char *msg, size_t msgsize,
                                      size_t *offset);

/* 1 when s matches, 0 when not, -1 on a matching error (a limit above). */
int pattern_match(struct qloop_pattern *p, const char *s, size_t len);

/* Matches and returns the number of captures (0 for none beyond the whole
 * match), -1 when there is no match, or -2 on a matching error (as
 * pattern_match); capture i (1-based) is s[ovec[2i] .. ovec[2i+1]) with
 * ovec[2i] == (size_t)-1 when it did not participate. */
int pattern_find(struct qloop_pattern *p, const char *s, size_t len, const size_t **ovec);

void pattern_free(struct qloop_pattern *p);

#endif
