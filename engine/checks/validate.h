/*
 * validate.h — format checks for everyday public-data fields, the C side of
 * the `valid` table: phone numbers, e-mail addresses, postal codes, dates,
 * times, and the code tables of sex (GB/T 2261.1-2003) and ethnic group
 * (GB/T 3304-1991).
 *
 * Each check follows qloop_check_fn (native.h): the value is s[0..len) (NUL
 * termination not needed), the result true when it passes, else false with
 * *reason (when reason is not NULL) a static Chinese message. They are strict:
 * ASCII digits only, no surrounding spaces (cleanse first with clean.trim,
 * clean.halfwidth, clean.phone).
 */
#ifndef QLOOP_VALIDATE_H
#define QLOOP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* Mainland mobile number: 1[3-9] and 9 more digits. */
bool valid_mobile(const char *s, size_t len, const char **reason);

/* Landline with its area code: 0 and a 2–3 digit area code (010, 02X, or
 * 0[3-9]XX), an optional '-', a 7–8 digit number not starting with 0, and an
 * optional '-' with a 1–6 digit extension. */
bool valid_landline(const char *s, size_t len, const char **reason);

/* valid_mobile or valid_landline. */
bool valid_phone(const char *s, size_t len, const char **reason);

/* E-mail address, a pragmatic subset of RFC 5322: local@domain, the local
 * part dot-separated atoms of letters, digits and !#$%&'*+/=?^_`{|}~- (at
 * most 64 bytes), the domain at least two dot-separated labels of letters,
 * digits and inner '-' (each at most 63 bytes), the last one starting with a
 * letter; at most 254 bytes in all; ASCII only. */
bool valid_email(const char *s, size_t len, const char **reason);

/* Postal code: 6 digits. */
bool valid_postal(const char *s, size_t len, const char **reason);

/* Date: exactly YYYY-MM-DD and a real calendar date (qloop_parse_date). */
bool valid_date(const char *s, size_t len, const char **reason);

/* Time of day, 24-hour: HH:MM or HH:MM:SS. */
bool valid_time(const char *s, size_t len, const char **reason);

/* A GB/T 2261.1 sex code (0 1 2 9) or its name (男, 女, 男性, 女性,
 * 未知的性别, 未说明的性别). */
bool valid_sex(const char *s, size_t len, const char **reason);

/* A GB/T 3304 ethnic-group code (01–56, 97, 98) or its name (汉族 …). */
bool valid_ethnic(const char *s, size_t len, const char **reason);

/* The code tables, from engine/data/codes_sex.txt and codes_ethnic.txt. */
enum valid_code_table { VALID_CODES_SEX, VALID_CODES_ETHNIC };

/* Finds s (a code or a name) in table t. On success sets *code (when not
 * NULL) to the code and *name (when not NULL) to the standard's name for it,
 * and returns true. */
bool valid_code_lookup(enum valid_code_table t, const char *s, size_t len, const char **code,
                       const char **name);

/* Number of distinct codes in table t. */
size_t valid_code_count(enum valid_code_table t);

#endif
