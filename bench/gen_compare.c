/*
 * gen_compare.c — makes a department's copy of population records, the right
 * side of a 比对 (compare) workload.
 *
 * Reads a CSV with at least the columns person_id, name, birth_date and sex
 * (the output of gen_w1, or rules/examples/people.csv) and writes
 * `pid,name,birth,sex,insured_since`: the records a social-security bureau
 * would hold, with the differences such a copy really has, each drawn per
 * record from one seeded xoshiro256** stream (same input, same options: the
 * same bytes on every machine):
 *   --drop P    the record is missing from the copy            (default 0.04)
 *   --name P    the name differs in its last character           (0.01)
 *   --spaces P  the name carries stray (full-width) spaces       (0.01)
 *                — equal once the copy's cleanse trims them
 *   --birth P   the birth date differs by a day                  (0.01)
 *   --format P  the birth date is written 2020/1/5, 2020年1月5日 or
 *               20200105 — equal when compared as dates          (0.03)
 *   --dup P     the record appears twice in the copy             (0.001)
 *   --extra P   a record follows that the base data lacks (an
 *               identity number with another sequence code)      (0.015)
 *   --empty P   the copy's record has lost its pid               (0.0005)
 * A person_id seen before in the input (the base data's own duplicates) is
 * copied only once. The order of the input is kept. Only libc is used.
 *
 * Usage: gen_compare IN.csv OUT.csv [--seed S] [--drop P] ... [--stats]
 * --stats prints how many records got each difference on stderr.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prng.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Prints "gen_compare: MESSAGE" and exits 2. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen_compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* the generator: bench/prng.h */

/* ---- a set of 64-bit hashes of identity numbers seen ---- */

static uint64_t *seen;
static size_t seen_cap, seen_n;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h | 1; /* 0 marks an empty slot */
}

/* Adds s; returns true when it was already there. */
static bool seen_add(const char *s)
{
    if (2 * (seen_n + 1) > seen_cap) {
        size_t cap = seen_cap ? seen_cap * 2 : 1 << 16;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            die("内存不足");
        for (size_t i = 0; i < seen_cap; i++)
            if (seen[i])
                for (size_t j = seen[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!t[j]) {
                        t[j] = seen[i];
                        break;
                    }
        free(seen);
        seen = t;
        seen_cap = cap;
    }
    uint64_t h = hash_str(s);
    for (size_t j = h & (seen_cap - 1);; j = (j + 1) & (seen_cap - 1)) {
        if (seen[j] == h)
            return true;
        if (!seen[j]) {
            seen[j] = h;
            seen_n++;
            return false;
        }
    }
}

/* ---- CSV ---- */

struct row {
    char *buf;
    size_t cap;
    size_t nf;
    size_t off[64];
};

/* Reads one record (RFC 4180 quoting) into r; returns false at end of input. */
static bool read_row(FILE *f, struct row *r, long line)
{
    size_t len = 0;
    r->nf = 0;
    int c = getc(f);
    if (c == EOF)
        return false;
    bool quoted = false, start = true;
    r->off[r->nf++] = 0;
    for (;; c = getc(f)) {
        if (len + 2 > r->cap) {
            r->cap = r->cap ? r->cap * 2 : 1024;
            r->buf = realloc(r->buf, r->cap);
            if (!r->buf)
                die("内存不足");
        }
        if (c == EOF) {
            if (quoted)
                die("第 %ld 行：引号没有闭合", line);
            break;
        }
        if (quoted) {
            if (c == '"') {
                int d = getc(f);
                if (d == '"') {
                    r->buf[len++] = '"';
                    continue;
                }
                quoted = false;
                c = d;
                if (c == EOF)
                    break;
            } else {
                r->buf[len++] = (char)c;
                continue;
            }
        }
        if (c == '"' && start) {
            quoted = true;
            start = false;
            continue;
        }
        start = false;
        if (c == '\r')
            continue;
        if (c == '\n')
            break;
        if (c == ',') {
            r->buf[len++] = '\0';
            if (r->nf == NELEM(r->off))
                die("第 %ld 行字段过多", line);
            r->off[r->nf++] = len;
            start = true;
            continue;
        }
        r->buf[len++] = (char)c;
    }
    r->buf[len] = '\0';
    return true;
}

static const char *field(const struct row *r, size_t i)
{
    return i < r->nf ? r->buf + r->off[i] : "";
}

static void put_field(FILE *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\n\r")) {
        putc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                putc('"', out);
            putc(*s, out);
        }
        putc('"', out);
    } else {
        fputs(s, out);
    }
    putc(last ? '\n' : ',', out);
}

/* ---- the differences ---- */

static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                    "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞", "平"};
static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};

/* name with its last UTF-8 character replaced by another given-name character. */
static void other_name(const char *name, char *out, size_t size)
{
    size_t n = strlen(name), cut = n;
    while (cut > 0 && ((unsigned char)name[cut - 1] & 0xC0) == 0x80)
        cut--;
    if (cut > 0)
        cut--;
    if (n == 0 || cut == 0) {
        snprintf(out, size, "%s%s", surnames[rng_below(NELEM(surnames))], given[rng_below(NELEM(given))]);
        return;
    }
    const char *g;
    do
        g = given[rng_below(NELEM(given))];
    while (strcmp(g, name + cut) == 0);
    snprintf(out, size, "%.*s%s", (int)cut, name, g);
}

static bool parse_date(const char *s, int *y, int *m, int *d)
{
    char sep1, sep2;
    if (sscanf(s, "%d%c%d%c%d", y, &sep1, m, &sep2, d) == 5 && sep1 == sep2 &&
        (sep1 == '-' || sep1 == '/'))
        return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
    return false;
}

/* The identity number id with another sequence code and a correct check
 * character (GB 11643 MOD 11-2); id copied when it is not 18 characters. */
static void other_id(const char *id, char *out, size_t size)
{
    snprintf(out, size, "%s", id);
    if (strlen(id) != 18)
        return;
    for (int i = 0; i < 17; i++)
        if (id[i] < '0' || id[i] > '9')
            return;
    int seq = (id[14] - '0') * 100 + (id[15] - '0') * 10 + (id[16] - '0');
    int nseq = (seq + 1 + (int)rng_below(998)) % 1000;
    out[14] = (char)('0' + nseq / 100);
    out[15] = (char)('0' + nseq / 10 % 10);
    out[16] = (char)('0' + nseq % 10);
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = "10X98765432"[sum % 11];
}

struct rates {
    double drop, name, spaces, birth, format, dup, extra, empty;
};

struct counts {
    long in, skipped_dup_in, dropped, name, spaces, birth, format, dup, extra, empty, out;
};

static double parse_rate(const char *opt, const char *v)
{
    char *end;
    double r = strtod(v, &end);
    if (*end || r < 0 || r > 1)
        die("%s 应为 0 到 1 之间的比例，而不是 \"%s\"", opt, v);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("用法：gen_compare IN.csv OUT.csv [--seed S] [--drop P] [--name P] [--spaces P] "
            "[--birth P] [--format P] [--dup P] [--extra P] [--empty P] [--stats]");
    struct rates rt = {0.04, 0.01, 0.01, 0.01, 0.03, 0.001, 0.015, 0.0005};
    uint64_t seed = 20261122;
    bool stats = false;
    for (int i = 3; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--stats") == 0) {
            stats = true;
            continue;
        }
        if (i + 1 >= argc)
            die("%s 后面缺少取值", o);
        const char *v = argv[++i];
        if (strcmp(o, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(o, "--drop") == 0)
            rt.drop = parse_rate(o, v);
        else if (strcmp(o, "--name") == 0)
            rt.name = parse_rate(o, v);
        else if (strcmp(o, "--spaces") == 0)
            rt.spaces = parse_rate(o, v);
        else if (strcmp(o, "--birth") == 0)
            rt.birth = parse_rate(o, v);
        else if (strcmp(o, "--format") == 0)
            rt.format = parse_rate(o, v);
        else if (strcmp(o, "--dup") == 0)
            rt.dup = parse_rate(o, v);
        else if (strcmp(o, "--extra") == 0)
            rt.extra = parse_rate(o, v);
        else if (strcmp(o, "--empty") == 0)
            rt.empty = parse_rate(o, v);
        else
            die("未知选项 %s", o);
    }
    rng_seed(seed);
    FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rb");
    if (!in)
        die("无法读取 %s", argv[1]);
    FILE *out = strcmp(argv[2], "-") == 0 ? stdout : fopen(argv[2], "wb");
    if (!out)
        die("无法写入 %s", argv[2]);
    static char obuf[1 << 16];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    struct row r = {0};
    long line = 1;
    if (!read_row(in, &r, line))
        die("%s 是空文件", argv[1]);
    size_t c_id = SIZE_MAX, c_name = SIZE_MAX, c_birth = SIZE_MAX, c_sex = SIZE_MAX;
    for (size_t i = 0; i < r.nf; i++) {
        const char *h = field(&r, i);
        if (i == 0 && strncmp(h, "\xEF\xBB\xBF", 3) == 0)
            h += 3;
        if (strcmp(h, "person_id") == 0)
            c_id = i;
        else if (strcmp(h, "name") == 0)
            c_name = i;
        else if (strcmp(h, "birth_date") == 0)
            c_birth = i;
        else if (strcmp(h, "sex") == 0)
            c_sex = i;
    }
    if (c_id == SIZE_MAX || c_name == SIZE_MAX || c_birth == SIZE_MAX || c_sex == SIZE_MAX)
        die("%s 的表头应含 person_id, name, birth_date, sex", argv[1]);
    fputs("pid,name,birth,sex,insured_since\n", out);
    struct counts n = {0};
    char name[256], birth[64], id[64], since[16];
    while (read_row(in, &r, ++line)) {
        n.in++;
        const char *pid = field(&r, c_id);
        /* every draw happens for every record, so one rate does not shift the others */
        double u_drop = rng_unit(), u_name = rng_unit(), u_spaces = rng_unit(),
               u_birth = rng_unit(), u_format = rng_unit(), u_dup = rng_unit(),
               u_extra = rng_unit(), u_empty = rng_unit();
        int form = (int)rng_below(3), shift = rng_below(2) ? 1 : -1;
        snprintf(since, sizeof since, "%04d-%02d-%02d", 2000 + (int)rng_below(25),
                 1 + (int)rng_below(12), 1 + (int)rng_below(28));
        if (*pid && seen_add(pid)) {
            n.skipped_dup_in++;
            continue;
        }
        if (u_drop < rt.drop) {
            n.dropped++;
            continue;
        }
        snprintf(name, sizeof name, "%s", field(&r, c_name));
        if (u_name < rt.name && name[0]) {
            char t[256];
            other_name(name, t, sizeof t);
            snprintf(name, sizeof name, "%s", t);
            n.name++;
        } else if (u_spaces < rt.spaces && name[0]) {
            char t[256];
            snprintf(t, sizeof t, form == 0 ? " %s" : form == 1 ? "%s\xE3\x80\x80" : " %s ", name);
            snprintf(name, sizeof name, "%s", t);
            n.spaces++;
        }
        snprintf(birth, sizeof birth, "%s", field(&r, c_birth));
        int y, m, d;
        if (parse_date(birth, &y, &m, &d)) {
            if (u_birth < rt.birth) {
                d = d >= 28 ? d - 1 : d == 1 ? 2 : d + shift;
                snprintf(birth, sizeof birth, "%04d-%02d-%02d", y, m, d);
                n.birth++;
            } else if (u_format < rt.format) {
                if (form == 0)
                    snprintf(birth, sizeof birth, "%d/%d/%d", y, m, d);
                else if (form == 1)
                    snprintf(birth, sizeof birth, "%d年%d月%d日", y, m, d);
                else
                    snprintf(birth, sizeof birth, "%04d%02d%02d", y, m, d);
                n.format++;
            }
        }
        snprintf(id, sizeof id, "%s", pid);
        if (u_empty < rt.empty) {
            id[0] = '\0';
            n.empty++;
        }
        int copies = u_dup < rt.dup ? 2 : 1;
        n.dup += copies - 1;
        for (int k = 0; k < copies; k++) {
            put_field(out, id, false);
            put_field(out, name, false);
            put_field(out, birth, false);
            put_field(out, field(&r, c_sex), false);
            put_field(out, since, true);
            n.out++;
        }
        if (u_extra < rt.extra) {
            char eid[64], ename[64];
            other_id(pid, eid, sizeof eid);
            snprintf(ename, sizeof ename, "%s%s%s", surnames[rng_below(NELEM(surnames))],
                     given[rng_below(NELEM(given))], given[rng_below(NELEM(given))]);
            const char *eb = strlen(eid) == 18 ? eid + 6 : "19800101";
            snprintf(birth, sizeof birth, "%.4s-%.2s-%.2s", eb, eb + 4, eb + 6);
            put_field(out, eid, false);
            put_field(out, ename, false);
            put_field(out, birth, false);
            put_field(out, strlen(eid) == 18 && (eid[16] - '0') % 2 ? "男" : "女", false);
            put_field(out, since, true);
            n.extra++;
            n.out++;
        }
    }
    if (ferror(in))
        die("读取 %s 出错", argv[1]);
    if (fflush(out) != 0 || ferror(out))
        die("写入 %s 出错", argv[2]);
    if (out != stdout)
        fclose(out);
    if (in != stdin)
        fclose(in);
    if (stats)
        fprintf(stderr,
                "in %ld, base duplicates skipped %ld, dropped %ld, name %ld, spaces %ld, birth %ld, "
                "format %ld, duplicated %ld, extra %ld, empty pid %ld, out %ld\n",
                n.in, n.skipped_dup_in, n.dropped, n.name, n.spaces, n.birth, n.format, n.dup,
                n.extra, n.empty, n.out);
    free(r.buf);
    free(seen);
    return 0;
}
