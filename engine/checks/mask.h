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

/* One raw value of a record's sensitive field, handed to mask_text. */
struct mask_value {
    const char *s;
    size_t len;
};

/* Appends free text s[0..len) (a message, a reason, an error) to out with the
 * personal data in it masked wherever it stands:
 *   - every occurrence of one of the n values given (the raw values of the
 *     record's declared sensitive fields; NULL/0 for none), masked as
 *     mask_sensitive masks that value; values shorter than two characters
 *     are not looked for (they would mask ordinary words);
 *   - by shape, in ASCII or full-width digits, alone or split by single
 *     spaces or dashes: identity numbers (18 characters, 17 digits + digit or
 *     X, or 15 digits; check character right or wrong), mobile numbers
 *     (1[3-9] + 9 digits, optionally after 86/0086), landlines with their
 *     area code (0 + 9 to 11 digits), bank card numbers (16 to 19 digits
 *     passing the Luhn check), and unified social credit codes (18
 *     characters of their alphabet).
 * Digits are masked one '*' each with the head and tail a reader needs kept
 * (identity number: region and last character; phones: first 3 and last 4;
 * bank cards: first 6 and last 4); separators stay. Everything else is copied
 * as it is. One pass over the text plus one search per value, no allocation
 * for texts with fewer than 16 such spans. Returns the number of spans
 * masked. */
size_t mask_text(const char *s, size_t len, const struct mask_value *values, size_t n,
                 struct qloop_buf *out);

#endif
