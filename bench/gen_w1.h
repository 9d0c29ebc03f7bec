/*
 * gen_w1.h — what the two halves of the W1 generator share: gen_w1.c draws
 * the records from the one random stream (bench/prng.h, whose state lives
 * in that file alone, so the output stays byte-identical), gen_w1_base.c
 * holds the parts that draw nothing: errors, dates, the buffered output with
 * CSV and JSON quoting, the division table, check characters and number
 * formatting.
 */
#ifndef QLOOP_BENCH_GEN_W1_H
#define QLOOP_BENCH_GEN_W1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_COUNTIES 300

/* ---- errors and memory ---- */

/* Prints "gen_w1: MESSAGE" to stderr and exits with status 2 (bad usage or
 * input). Never returns. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* malloc / calloc that exit with a clear message instead of returning NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---- */

int64_t days_from_civil(int y, int m, int d);
void civil_from_days(int64_t z, int *y, int *m, int *d);
/* True when y-m-d is a real calendar date. */
bool valid_date(int y, int m, int d);
/* "YYYY-MM-DD" (11 bytes with the NUL) and "YYYY-MM-DDTHH:MM:SS" (20). */
void fmt_date(int y, int m, int d, char out[11]);
void fmt_datetime(int64_t t, char out[20]);
/* Parses a non-negative decimal integer option value; exits when malformed. */
uint64_t parse_u64(const char *opt, const char *s);

/* ---- output ---- */

struct out {
    FILE *f;
    const char *path;
    char *buf;
    size_t len, cap;
};

/* Opens path for writing behind a 1 MiB buffer; exits on failure. */
void out_open(struct out *o, const char *path);
/* Writes out whatever is buffered; exits on a write error. */
void out_flush(struct out *o);
/* Flushes and closes; exits on error. */
void out_close(struct out *o);
/* One CSV field, quoted only when it must be (RFC 4180). */
void out_csv_field(struct out *o, const char *s);
/* One JSON value: null for "", else an escaped string. */
void out_json_string(struct out *o, const char *s);

/* Appends n bytes. */
static inline void out_put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        out_flush(o);
        if (n > o->cap) {
            if (fwrite(s, 1, n, o->f) != n)
                die("写入文件 %s 失败：%s；请检查磁盘空间", o->path, strerror(errno));
            return;
        }
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void out_str(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static inline void out_chr(struct out *o, char c)
{
    out_put(o, &c, 1);
}

/* ---- the division table ---- */

struct division {
    int code;
    char *name;
};

extern struct division *divs;      /* every code of the table in use, sorted */
extern size_t ndivs;
extern int counties[MAX_COUNTIES]; /* the county-level codes rows draw from */
extern size_t ncounties;

/* Reads a division table (csv: `code,name` with a header; else
 * `code<TAB>name` with '#' comments) into divs and counties. */
void load_divisions(const char *path, bool csv, const char *within);
/* The name of code in the table in use, or NULL. */
const char *div_name(int code);
/* True for a placeholder level name (市辖区, ...) never used in an address. */
bool placeholder_name(const char *name);
/* The prefecture-level name to use for code, or NULL. */
const char *city_of(int code);

/* ---- codes and text ---- */

extern const char USCC_ALPHA[];
char id_check_char(const char body[17]);
void id_body_digits(uint64_t body, char out[17]);
char uscc_check_char(const char s[17]);
char orgcode_check_char(const char s[8]);
/* Number of UTF-8 characters in s. */
size_t utf8_chars(const char *s);
/* Appends the whole of piece to dst (size bytes), or nothing when it would
 * not fit. */
void append_whole(char *dst, size_t size, const char *piece);

#endif
