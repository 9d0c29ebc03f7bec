/*
 * idcard.h — citizen identity numbers (公民身份号码), GB 11643-1999.
 *
 * An 18-character number is a 6-digit address code (GB/T 2260 division), an
 * 8-digit birth date YYYYMMDD, a 3-digit sequence code (odd for men, even for
 * women) and a check character computed by ISO 7064 MOD 11-2 over the first
 * 17 digits: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, Σ mod 11 indexes
 * "10X98765432". Validation is strict to the standard: only an uppercase X is
 * a check character. The 15-digit numbers issued before 1999 (6-digit
 * division, YYMMDD birth date in the 1900s, 3-digit sequence, no check
 * character) are read by idcard_parse and converted by idcard_upgrade, but are
 * not valid 18-digit numbers. The standard sets no earliest birth date (its
 * own worked example, 440524188001010014, was born in 1880), so neither does
 * qloop; only a date after today is refused.
 *
 * Every function takes the value as s[0..len) (NUL termination not needed);
 * reasons are static Chinese strings.
 */
#ifndef QLOOP_IDCARD_H
#define QLOOP_IDCARD_H

#include <stdbool.h>
#include <stddef.h>

/* What idcard_parse reads from a number. */
struct idcard_info {
    char division[7]; /* the 6-digit address code */
    char birth[11];   /* YYYY-MM-DD */
    const char *sex;  /* "男" or "女" */
    bool legacy;      /* a 15-digit number */
};

/* GB 11643 check (qloop_check_fn): true when s is 18 characters, 17 ASCII
 * digits and a check character 0-9 or X, the birth date a real date (year
 * 0001 or later) not after today (qloop_today, Asia/Shanghai, QLOOP_NOW honoured), and the
 * MOD 11-2 check character right. Otherwise false with *reason (when reason
 * is not NULL) one of 长度不是18位, 15位旧号码…, 含非法字符…, 出生日期无效,
 * 出生日期晚于今天, 校验码错误. */
bool idcard_valid(const char *s, size_t len, const char **reason);

/* idcard_valid, and also the first 6 digits a known division
 * (division_exists); else reason 行政区划代码不存在. */
bool idcard_valid_region(const char *s, size_t len, const char **reason);

/* The MOD 11-2 check character ('0'-'9' or 'X') of the 17 digits body[0..17),
 * or '\0' when one of them is not an ASCII digit. */
char idcard_check_char(const char *body);

/* Reads the parts of an 18- or 15-digit number into *out. Checks the shape
 * (length, characters) and that the birth date is a real calendar date, but
 * not the check character nor the date's range: use idcard_valid to judge a
 * number. Returns false with *reason when s cannot be read. */
bool idcard_parse(const char *s, size_t len, struct idcard_info *out, const char **reason);

/* Converts a 15-digit number to 18 digits (birth year 19YY, check character
 * appended) into out (NUL-terminated). An 18-digit number that idcard_valid
 * accepts is copied unchanged. Returns false with *reason otherwise. */
bool idcard_upgrade(const char *s, size_t len, char out[19], const char **reason);

#endif
