/*
 * text.h — small text primitives shared by the engine: UTF-8 decoding,
 * what counts as an empty value, reading a number.
 */
#ifndef QLOOP_TEXT_H
#define QLOOP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/adapter.h"

#define QLOOP_U8_INVALID UINT32_C(0xFFFFFFFF)

/* Decodes the character at s[i] (i < len). Returns its length in bytes and
 * stores its code point in *cp; a byte that does not begin a well-formed
 * sequence (overlong forms, surrogates and values past U+10FFFF included) is
 * one character of length 1 with *cp = QLOOP_U8_INVALID. */
size_t qloop_utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp);

/* The offset of the first byte of s[0..len) that does not begin a
 * well-formed UTF-8 character (as qloop_utf8_decode judges: a sequence cut
 * by the end counts as ill-formed), or len when all of it is well-formed. */
size_t qloop_utf8_invalid_at(const char *s, size_t len);

/* true when a value counts as empty: absent, "", or only white space
 * (ASCII, U+3000, U+00A0). Empty values are judged only by not_null. */
bool qloop_value_empty(const struct qloop_field *f);

/* Reads s[0..len) as a number (surrounding blanks allowed) into *out;
 * false when it is not one (or NaN, or out of range). */
bool qloop_parse_number(const char *s, size_t len, double *out);

#endif
