/*
 * mask.h — masking (脱敏) of personal data, the C side of the `mask` table.
 *
 * Each appends the masked text to out. They never fail: text that does not
 * look like what the function expects is masked generically, so nothing
 * sensitive ever leaks because it was malformed.
 */
#ifndef QLOOP_MASK_H
#define QLOOP_MASK_H

#include <stddef.h>

#include "base/buf.h"

void mask_idcard(const char *s, size_t len, struct qloop_buf *out);  /* 330102***********X: region + last char */
void mask_phone(const char *s, size_t len, struct qloop_buf *out);   /* 138****5678 */
void mask_name(const char *s, size_t len, struct qloop_buf *out);    /* 张** (surname kept) */
void mask_address(const char *s, size_t len, struct qloop_buf *out); /* up to the district/street kept */
void mask_generic(const char *s, size_t len, struct qloop_buf *out); /* first and last character kept */

/* Masks a value of a `sensitive` field: picks the mask by the value's shape
 * (identity number, phone, USCC, Chinese name, address, else generic). */
void mask_sensitive(const char *s, size_t len, struct qloop_buf *out);

#endif
