/*
 * clean.h — cleansing (清洗) of text values, the C side of the `clean` table.
 *
 * Each function follows qloop_clean_fn (native.h): appends the cleaned value
 * to out and returns 1, or returns 0 when there is no value (Lua nil).
 */
#ifndef QLOOP_CLEAN_H
#define QLOOP_CLEAN_H

#include <stddef.h>

#include "base/buf.h"

int clean_trim(const char *s, size_t len, struct qloop_buf *out);      /* ASCII, full-width, zero-width, NBSP spaces */
int clean_halfwidth(const char *s, size_t len, struct qloop_buf *out); /* U+FF01–FF5E → ASCII, U+3000 → space */
int clean_date(const char *s, size_t len, struct qloop_buf *out);      /* common forms → YYYY-MM-DD; 0 when impossible */
int clean_phone(const char *s, size_t len, struct qloop_buf *out);     /* +86, spaces, dashes removed */
int clean_upper(const char *s, size_t len, struct qloop_buf *out);     /* ASCII letters to upper case */
int clean_collapse(const char *s, size_t len, struct qloop_buf *out);  /* runs of white space → one space, trimmed */

#endif
