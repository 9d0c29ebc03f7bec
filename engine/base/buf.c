/*
 * buf.c — growable byte buffer and checked allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

void *qloop_xcheck(void *p)
{
    if (!p) {
        fputs("qloop: 内存不足，无法继续（本次运行未提交任何内容）\n", stderr);
        exit(3);
    }
    return p;
}

void *qloop_xmalloc(size_t n) { return qloop_xcheck(malloc(n ? n : 1)); }
void *qloop_xcalloc(size_t n, size_t size) { return qloop_xcheck(calloc(n ? n : 1, size ? size : 1)); }
void *qloop_xrealloc(void *p, size_t n) { return qloop_xcheck(realloc(p, n ? n : 1)); }
char *qloop_xstrdup(const char *s) { return qloop_xcheck(strdup(s)); }
char *qloop_xstrndup(const char *s, size_t n) { return qloop_xcheck(strndup(s, n)); }

void qloop_buf_reserve(struct qloop_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->ptr = qloop_xrealloc(b->ptr, cap);
    b->cap = cap;
    b->ptr[b->len] = '\0';
}

void qloop_buf_append(struct qloop_buf *b, const char *s, size_t len)
{
    qloop_buf_reserve(b, len);
    if (len)
        memcpy(b->ptr + b->len, s, len);
    b->len += len;
    b->ptr[b->len] = '\0';
}

void qloop_buf_putc(struct qloop_buf *b, char c)
{
    qloop_buf_reserve(b, 1);
    b->ptr[b->len++] = c;
    b->ptr[b->len] = '\0';
}

void qloop_buf_printf(struct qloop_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    qloop_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void qloop_buf_reset(struct qloop_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

void qloop_buf_free(struct qloop_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

const char *qloop_buf_str(const struct qloop_buf *b) { return b->ptr ? b->ptr : ""; }

struct qloop_arena_chunk {
    struct qloop_arena_chunk *next;
    size_t used, size;
    char data[];
};

char *qloop_arena_copy(struct qloop_arena *a, const char *s, size_t len)
{
    struct qloop_arena_chunk *c = a->head;
    if (!c || c->size - c->used < len + 1) {
        size_t size = len + 1 > 65536 ? len + 1 : 65536;
        c = qloop_xmalloc(sizeof *c + size);
        c->used = 0;
        c->size = size;
        c->next = a->head;
        a->head = c;
    }
    char *p = c->data + c->used;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

void qloop_arena_reset(struct qloop_arena *a)
{
    struct qloop_arena_chunk *keep = a->head;
    if (!keep)
        return;
    for (struct qloop_arena_chunk *c = keep->next, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    keep->next = NULL;
    keep->used = 0;
}

void qloop_arena_free(struct qloop_arena *a)
{
    for (struct qloop_arena_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    a->head = NULL;
}

int qloop_buf_read(struct qloop_buf *b, FILE *f, size_t max)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        qloop_buf_append(b, chunk, n);
        if (max && b->len > max)
            return 1;
    }
    return ferror(f) ? -1 : 0;
}
