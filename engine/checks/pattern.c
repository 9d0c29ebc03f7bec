/*
 * pattern.c — PCRE2 compile-once patterns with bounded matching (see
 * pattern.h): each pattern carries a match context with the limits.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "checks/pattern.h"

struct qloop_pattern {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc; /* the limits */
    int jit; /* JIT compilation succeeded */
};

struct qloop_pattern *pattern_compile(const char *pat, size_t len, char *msg, size_t msgsize,
                                      size_t *offset)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                     &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(errcode, buf, sizeof buf);
        snprintf(msg, msgsize, "%s", (const char *)buf);
        if (offset)
            *offset = (size_t)erroff + 1;
        return NULL;
    }
    struct qloop_pattern *p = calloc(1, sizeof *p);
    if (!p) {
        pcre2_code_free(code);
        snprintf(msg, msgsize, "out of memory");
        return NULL;
    }
    p->code = code;
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    p->md = pcre2_match_data_create_from_pattern(code, NULL);
    p->mc = pcre2_match_context_create(NULL);
    if (!p->md || !p->mc) {
        pattern_free(p);
        snprintf(msg, msgsize, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit(p->mc, PATTERN_MATCH_LIMIT);
    pcre2_set_depth_limit(p->mc, PATTERN_DEPTH_LIMIT);
    pcre2_set_heap_limit(p->mc, PATTERN_HEAP_LIMIT);
    return p;
}

static int run(struct qloop_pattern *p, const char *s, size_t len)
{
    if (p->jit)
        return pcre2_jit_match(p->code, (PCRE2_SPTR)s, len, 0, 0, p->md, p->mc);
    return pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, 0, p->md, p->mc);
}

int pattern_match(struct qloop_pattern *p, const char *s, size_t len)
{
    int rc = run(p, s, len);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

int pattern_find(struct qloop_pattern *p, const char *s, size_t len, const size_t **ovec)
{
    int rc = run(p, s, len);
    if (rc < 0)
        return rc == PCRE2_ERROR_NOMATCH ? -1 : -2;
    *ovec = (const size_t *)pcre2_get_ovector_pointer(p->md);
    uint32_t n = pcre2_get_ovector_count(p->md);
    uint32_t caps;
    pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &caps);
    return (int)(caps < n ? caps : n - 1);
}

void pattern_free(struct qloop_pattern *p)
{
    if (!p)
        return;
    pcre2_match_data_free(p->md);
    pcre2_match_context_free(p->mc);
    pcre2_code_free(p->code);
    free(p);
}
