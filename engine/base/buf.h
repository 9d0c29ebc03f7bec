/*
 * buf.h — a growable byte buffer, always NUL-terminated.
 *
 * Used wherever C code builds text of unknown length (cleansed values,
 * masked values, JSON). A zeroed struct is an empty buffer. Allocation
 * failure aborts the process with a message: the engine cannot go on
 * without memory and must not half-write anything (the store's open
 * transaction is rolled back by SQLite when the process dies).
 */
#ifndef QLOOP_BUF_H
#define QLOOP_BUF_H

#include <stddef.h>
#include <stdio.h>

struct qloop_buf {
    char *ptr;  /* NUL-terminated contents, NULL until first write */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
};

/* Makes room for at least `extra` more bytes (plus the NUL). */
void qloop_buf_reserve(struct qloop_buf *b, size_t extra);
/* Appends len bytes of s. */
void qloop_buf_append(struct qloop_buf *b, const char *s, size_t len);
/* Appends one byte. */
void qloop_buf_putc(struct qloop_buf *b, char c);
/* Appends printf-style text. */
void qloop_buf_printf(struct qloop_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
void qloop_buf_reset(struct qloop_buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void qloop_buf_free(struct qloop_buf *b);
/* Returns the contents as a C string ("" when never written). */
const char *qloop_buf_str(const struct qloop_buf *b);
/* Appends what is left of stream f, stopping once b holds more than max
 * bytes (0: no limit). Returns 0 at the end of the stream, 1 when it stopped
 * at max with the stream not yet at its end, -1 on a read error (errno as
 * the read left it). The caller opens and closes f. */
int qloop_buf_read(struct qloop_buf *b, FILE *f, size_t max);

/* A bump allocator for many small strings freed together: chunks of 64 KiB
 * (or one the size of a larger string). A zeroed struct is empty. */
struct qloop_arena {
    struct qloop_arena_chunk *head;
};

/* Copies len bytes of s (plus a NUL) into the arena; returns the copy. */
char *qloop_arena_copy(struct qloop_arena *a, const char *s, size_t len);
/* Forgets every copy, keeping the newest chunk for reuse. */
void qloop_arena_reset(struct qloop_arena *a);
/* Frees everything. */
void qloop_arena_free(struct qloop_arena *a);

/* Aborts with "qloop: 内存不足" (exit 3) when p is NULL, otherwise returns p. */
void *qloop_xcheck(void *p);
void *qloop_xmalloc(size_t n);
void *qloop_xcalloc(size_t n, size_t size);
void *qloop_xrealloc(void *p, size_t n);
char *qloop_xstrdup(const char *s);
char *qloop_xstrndup(const char *s, size_t n);

#endif
