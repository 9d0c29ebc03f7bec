/*
 * gen_w1_base.c — the half of the W1 generator that draws no random
 * numbers (gen_w1.h): errors, dates, the buffered output with CSV and JSON
 * quoting, the division table, the check characters of GB 11643, GB 32100
 * and GB 11714, and number formatting. The records themselves are drawn in
 * gen_w1.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_w1.h"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Prints "gen_w1: MESSAGE" to stderr and exits with status 2 (bad usage or
 * input). Never returns. */
void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen_w1: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* malloc that exits with a clear message instead of returning NULL. */
void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("内存不足（申请 %zu 字节失败）；请减小行数 N", n);
    return p;
}

/* calloc that exits with a clear message instead of returning NULL. */
void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("内存不足（申请 %zu×%zu 字节失败）；请减小行数 N", n, size);
    return p;
}

/* ------------------------------------------------------------------ */
/* Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)    */
/* ------------------------------------------------------------------ */

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The civil date of day z since 1970-01-01 (civil_from_days). */
void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* True when y-m-d is a real calendar date. */
bool valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    int dim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        dim = 29;
    return d <= dim;
}

/* ------------------------------------------------------------------ */
/* Output buffer                                                       */
/* ------------------------------------------------------------------ */


/* Opens path for writing behind a 1 MiB buffer; exits on failure. */
void out_open(struct out *o, const char *path)
{
    o->f = fopen(path, "wb");
    if (!o->f)
        die("无法写入文件 %s：%s；请检查目录是否存在及写权限", path, strerror(errno));
    o->path = path;
    o->cap = 1u << 20;
    o->buf = xmalloc(o->cap);
    o->len = 0;
}

/* Writes out whatever is buffered; exits on a write error. */
void out_flush(struct out *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
        die("写入文件 %s 失败：%s；请检查磁盘空间", o->path, strerror(errno));
    o->len = 0;
}

/* Flushes and closes; exits on error. */
void out_close(struct out *o)
{
    out_flush(o);
    if (fclose(o->f) != 0)
        die("关闭文件 %s 失败：%s；请检查磁盘空间", o->path, strerror(errno));
    free(o->buf);
    o->f = NULL;
    o->buf = NULL;
}

/* Appends one CSV field with RFC 4180 minimal quoting: quoted (and inner
 * quotes doubled) only when it holds a comma, a quote, CR or LF. */
void out_csv_field(struct out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        out_str(o, s);
        return;
    }
    out_chr(o, '"');
    for (; *s; s++) {
        if (*s == '"')
            out_chr(o, '"');
        out_chr(o, *s);
    }
    out_chr(o, '"');
}

/* Appends one JSON value: null for an empty string, else a JSON string with
 * '"', '\\' and control characters escaped (UTF-8 passes through). */
void out_json_string(struct out *o, const char *s)
{
    if (!*s) {
        out_str(o, "null");
        return;
    }
    out_chr(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out_chr(o, '\\');
            out_chr(o, (char)c);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            out_str(o, esc);
        } else {
            out_chr(o, (char)c);
        }
    }
    out_chr(o, '"');
}

/* ------------------------------------------------------------------ */
/* Division table                                                      */
/* ------------------------------------------------------------------ */


struct division *divs;      /* every code of the table in use, sorted */
size_t ndivs;
int counties[MAX_COUNTIES]; /* the county-level codes rows draw from */
size_t ncounties;

/* Orders divisions by code for bsearch/qsort. */
static int div_cmp(const void *a, const void *b)
{
    const struct division *x = a, *y = b;
    return (x->code > y->code) - (x->code < y->code);
}

/* The name of code in the table in use, or NULL. */
const char *div_name(int code)
{
    struct division key = {code, NULL};
    const struct division *d = bsearch(&key, divs, ndivs, sizeof *divs, div_cmp);
    return d ? d->name : NULL;
}

/* Parses a 6-digit code at s[0..len); returns it, or -1 when s is not six
 * ASCII digits. */
static int parse_code(const char *s, size_t len)
{
    if (len != 6)
        return -1;
    int v = 0;
    for (size_t i = 0; i < 6; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Reads a division table: csv=true for `code,name` with one header line,
 * csv=false for `code<TAB>name` with '#' comments and blank lines. Fills divs
 * (sorted, every code) and counties (at most MAX_COUNTIES county-level codes,
 * i.e. codes not ending in "00" and, when within is not NULL, starting with
 * within; taken at even steps in file order). Exits with the file and line of
 * the first malformed entry. */
void load_divisions(const char *path, bool csv, const char *within)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (csv)
            die("无法读取行政区划表 %s：%s；请用 --divisions 指定 code,name 格式的 CSV 文件",
                path, strerror(errno));
        die("无法读取内置行政区划表 %s：%s；请在项目根目录运行，或用 --divisions-txt 指定"
            "（格式：代码<TAB>名称）或用 --divisions 指定 code,name 格式的 CSV", path, strerror(errno));
    }
    size_t cap = 4096, nfile_counties = 0, ccap = 4096;
    divs = xmalloc(cap * sizeof *divs);
    int *file_counties = xmalloc(ccap * sizeof *file_counties);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &lcap, f)) != -1) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *p = line;
        if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3; /* UTF-8 BOM */
        if (!csv && (p[0] == '#' || p[strspn(p, " \t")] == '\0'))
            continue;
        if (csv && p[0] == '\0')
            continue;
        char *sep = strchr(p, csv ? ',' : '\t');
        if (csv && lineno == 1 && (!sep || parse_code(p, (size_t)(sep - p)) < 0))
            continue; /* header line */
        int code = sep ? parse_code(p, (size_t)(sep - p)) : -1;
        if (code < 0)
            die("%s:%ld: 无法识别的行政区划行“%s”；每行应为六位数字代码%s名称", path, lineno, p,
                csv ? "、逗号、" : "、制表符、");
        char *name = sep + 1;
        size_t nl = strlen(name);
        if (csv && nl >= 2 && name[0] == '"' && name[nl - 1] == '"') {
            name[nl - 1] = '\0';
            name++;
        }
        if (ndivs == cap) {
            cap *= 2;
            struct division *nd = realloc(divs, cap * sizeof *divs);
            if (!nd)
                die("内存不足（读取 %s）", path);
            divs = nd;
        }
        divs[ndivs].code = code;
        divs[ndivs].name = xmalloc(strlen(name) + 1);
        strcpy(divs[ndivs].name, name);
        ndivs++;
        if (code % 100 != 0 && (!within || strncmp(p, within, strlen(within)) == 0)) {
            if (nfile_counties == ccap) {
                ccap *= 2;
                int *nc = realloc(file_counties, ccap * sizeof *file_counties);
                if (!nc)
                    die("内存不足（读取 %s）", path);
                file_counties = nc;
            }
            file_counties[nfile_counties++] = code;
        }
    }
    free(line);
    if (ferror(f))
        die("读取 %s 失败：%s", path, strerror(errno));
    fclose(f);
    if (nfile_counties == 0)
        die("%s 中没有%s%s%s县级行政区划代码（末两位不为 00 的代码）；请换一个行政区划表%s", path,
            within ? "以 " : "", within ? within : "", within ? " 开头的" : "",
            within ? "或修改 --within" : "");
    qsort(divs, ndivs, sizeof *divs, div_cmp);
    for (size_t i = 1; i < ndivs; i++)
        if (divs[i].code == divs[i - 1].code)
            die("%s: 行政区划代码 %06d 重复出现；请修正该文件", path, divs[i].code);
    ncounties = nfile_counties < MAX_COUNTIES ? nfile_counties : MAX_COUNTIES;
    for (size_t i = 0; i < ncounties; i++)
        counties[i] = file_counties[i * nfile_counties / ncounties];
    free(file_counties);
}

/* True when name is a placeholder level name (市辖区, 省直辖县级行政区划, ...)
 * that never appears in a postal address. */
bool placeholder_name(const char *name)
{
    return !name || strstr(name, "直辖") || strcmp(name, "市辖区") == 0 ||
           strcmp(name, "县") == 0;
}

/* The prefecture-level name to use for code: the city (xxxx00) name, else the
 * province (xx0000) name for municipalities and directly administered
 * counties, else NULL. */
const char *city_of(int code)
{
    const char *city = div_name(code / 100 * 100);
    if (!placeholder_name(city))
        return city;
    const char *prov = div_name(code / 10000 * 10000);
    return placeholder_name(prov) ? NULL : prov;
}

/* ------------------------------------------------------------------ */
/* Codes: GB 11643 identity numbers, GB 32100 / GB 11714 credit codes  */
/* ------------------------------------------------------------------ */

/* The MOD 11-2 check char of the 17 digits in body. */
char id_check_char(const char body[17])
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (body[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

/* Writes the 17 digits of a packed body (division*1e11 + yyyymmdd*1e3 + seq)
 * into out (no NUL). */
void id_body_digits(uint64_t body, char out[17])
{
    for (int i = 16; i >= 0; i--) {
        out[i] = (char)('0' + body % 10);
        body /= 10;
    }
}

const char USCC_ALPHA[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* Index of c in the GB 32100 alphabet, or -1. */
static int uscc_value(char c)
{
    const char *p = strchr(USCC_ALPHA, c);
    return c && p ? (int)(p - USCC_ALPHA) : -1;
}

/* The GB 32100 check char (position 18) of the 17 chars in s. */
char uscc_check_char(const char s[17])
{
    static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += uscc_value(s[i]) * w[i];
    return USCC_ALPHA[(31 - sum % 31) % 31];
}

/* The GB 11714 check char of the 8 body chars in s (digits or A–Z). */
char orgcode_check_char(const char s[8])
{
    static const int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        int v = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] - 'A' + 10;
        sum += v * w[i];
    }
    int c = 11 - sum % 11;
    return c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
}

/* Number of UTF-8 characters in s. */
size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Appends the whole of piece to the NUL-terminated text in dst (size bytes),
 * or nothing when it would not fit (so UTF-8 is never cut). */
void append_whole(char *dst, size_t size, const char *piece)
{
    size_t have = strlen(dst), add = strlen(piece);
    if (have + add < size)
        memcpy(dst + have, piece, add + 1);
}

/* Parses a non-negative decimal integer option value; exits when malformed. */
uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        die("%s 的值“%s”不是非负整数", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        die("%s 的值“%s”不是非负整数", opt, s);
    return (uint64_t)v;
}

/* Writes v (0 <= v < 10^width) as exactly width decimal digits at p;
 * returns the position after them. */
static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Formats y-m-d as "YYYY-MM-DD" into out (NUL-terminated, 11 bytes). */
void fmt_date(int y, int m, int d, char out[11])
{
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)m, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)d, 2);
    *p = '\0';
}

/* Formats t (seconds since 1970-01-01T00:00:00) as "YYYY-MM-DDTHH:MM:SS"
 * into out (NUL-terminated, 20 bytes). */
void fmt_datetime(int64_t t, char out[20])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    unsigned sec = (unsigned)(t - days * 86400);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    fmt_date(y, m, d, out);
    char *p = out + 10;
    *p++ = 'T';
    p = put_digits(p, sec / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sec / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sec % 60, 2);
    *p = '\0';
}
