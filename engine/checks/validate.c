/*
 * validate.c — the `valid` checks: phone numbers, e-mail, postal codes,
 * dates, times, and the sex and ethnic-group code tables.
 *
 * The checks are hand-written scanners rather than regular expressions: they
 * run once per record over millions of rows and allocate nothing. The code
 * tables are the embedded text files engine/data/codes_sex.txt and
 * codes_ethnic.txt, parsed once per process (pthread_once) into read-only
 * arrays.
 */
#include <pthread.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "checks/validate.h"

extern const char qloop_data_codes_sex[];
extern const size_t qloop_data_codes_sex_len;
extern const char qloop_data_codes_ethnic[];
extern const size_t qloop_data_codes_ethnic_len;

static const char R_MOBILE[] = "不是有效的手机号码（应为1[3-9]开头的11位数字）";
static const char R_LANDLINE[] = "不是有效的固定电话号码（应为 区号-号码[-分机]，如 0574-87654321）";
static const char R_PHONE[] = "不是有效的电话号码（手机11位，或 区号-号码）";
static const char R_EMAIL[] = "不是有效的电子邮箱地址";
static const char R_POSTAL[] = "邮政编码应为6位数字";
static const char R_DATE[] = "不是有效日期（应为 YYYY-MM-DD）";
static const char R_TIME[] = "不是有效时间（应为 HH:MM 或 HH:MM:SS）";
static const char R_SEX[] = "不是 GB/T 2261.1 性别代码或名称";
static const char R_ETHNIC[] = "不是 GB/T 3304 民族代码或名称";

static bool fail(const char **reason, const char *r)
{
    if (reason)
        *reason = r;
    return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool is_mobile(const char *s, size_t len)
{
    return len == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && all_digits(s + 2, 9);
}

/* Length of the area code at the start of s (3 or 4), or 0 when s does not
 * start with one: 010, 020–029, 0[3-9]XX. */
static size_t area_code_len(const char *s, size_t len)
{
    if (len < 3 || s[0] != '0' || !is_digit(s[1]) || !is_digit(s[2]))
        return 0;
    if (s[1] == '1')
        return s[2] == '0' ? 3 : 0;
    if (s[1] == '2')
        return 3;
    if (s[1] == '0' || len < 4 || !is_digit(s[3]))
        return 0;
    return 4;
}

static bool is_landline(const char *s, size_t len)
{
    size_t i = area_code_len(s, len);
    if (!i)
        return false;
    if (i < len && s[i] == '-')
        i++;
    size_t start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t n = i - start;
    if (n < 7 || n > 8 || s[start] == '0')
        return false;
    if (i == len)
        return true;
    if (s[i] != '-')
        return false;
    size_t ext = len - i - 1;
    return ext >= 1 && ext <= 6 && all_digits(s + i + 1, ext);
}

bool valid_mobile(const char *s, size_t len, const char **reason)
{
    return is_mobile(s, len) || fail(reason, R_MOBILE);
}

bool valid_landline(const char *s, size_t len, const char **reason)
{
    return is_landline(s, len) || fail(reason, R_LANDLINE);
}

bool valid_phone(const char *s, size_t len, const char **reason)
{
    return is_mobile(s, len) || is_landline(s, len) || fail(reason, R_PHONE);
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_atext(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Local part: dot-atom of atext, 1–64 bytes. */
static bool email_local(const char *s, size_t n)
{
    if (n < 1 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext(s[i])) {
            return false;
        }
    }
    return true;
}

/* Domain: 2+ labels of [A-Za-z0-9-]{1,63}, no '-' at a label's ends, the last
 * label starting with a letter. */
static bool email_domain(const char *s, size_t n)
{
    if (n < 3 || n > 253)
        return false;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_alnum(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t l = i - start;
        if (l < 1 || l > 63 || s[start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        if (i == n) {
            char c = s[start];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || l < 2)
                return false;
        }
        start = i + 1;
    }
    return labels >= 2;
}

bool valid_email(const char *s, size_t len, const char **reason)
{
    if (len > 254)
        return fail(reason, R_EMAIL);
    const char *at = memchr(s, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return fail(reason, R_EMAIL);
    size_t local = (size_t)(at - s);
    if (!email_local(s, local) || !email_domain(at + 1, len - local - 1))
        return fail(reason, R_EMAIL);
    return true;
}

bool valid_postal(const char *s, size_t len, const char **reason)
{
    return (len == 6 && all_digits(s, 6)) || fail(reason, R_POSTAL);
}

bool valid_date(const char *s, size_t len, const char **reason)
{
    char buf[11];
    int y, m, d;
    if (len != 10)
        return fail(reason, R_DATE);
    memcpy(buf, s, 10);
    buf[10] = '\0';
    return qloop_parse_date(buf, &y, &m, &d) || fail(reason, R_DATE);
}

static int two(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

bool valid_time(const char *s, size_t len, const char **reason)
{
    if (len != 5 && len != 8)
        return fail(reason, R_TIME);
    if (!all_digits(s, 2) || s[2] != ':' || !all_digits(s + 3, 2))
        return fail(reason, R_TIME);
    if (two(s) > 23 || two(s + 3) > 59)
        return fail(reason, R_TIME);
    if (len == 8 && (s[5] != ':' || !all_digits(s + 6, 2) || two(s + 6) > 59))
        return fail(reason, R_TIME);
    return true;
}

/* ---- code tables ---- */

struct code_entry {
    const char *code, *name; /* NUL-terminated, in the table's text copy */
    size_t code_len, name_len;
    const char *std_name;    /* the first name listed for the code */
};

struct code_table {
    const char *text;
    size_t text_len;
    char *copy;              /* the text with the TABs and line ends cut to NULs */
    struct code_entry *entries;
    size_t count, distinct;
};

static struct code_table tables[2] = {
    [VALID_CODES_SEX] = {qloop_data_codes_sex, 0, NULL, NULL, 0, 0},
    [VALID_CODES_ETHNIC] = {qloop_data_codes_ethnic, 0, NULL, NULL, 0, 0},
};
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Parses one table: `code<TAB>name` lines; '#' comments and blank lines
 * skipped; a line without a TAB, a code that is not digits or an empty name
 * is skipped too (the unit test checks that every line of the shipped files
 * is read). */
static void parse_table(struct code_table *t)
{
    t->copy = qloop_xstrndup(t->text, t->text_len);
    size_t lines = 1;
    for (size_t i = 0; i < t->text_len; i++)
        lines += t->copy[i] == '\n';
    t->entries = qloop_xcalloc(lines, sizeof *t->entries);
    char *p = t->copy, *end = t->copy + t->text_len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        char *line = p;
        p = nl ? nl + 1 : end;
        if (eol > line && eol[-1] == '\r')
            eol--;
        *eol = '\0';
        if (line == eol || line[0] == '#')
            continue;
        char *tab = memchr(line, '\t', (size_t)(eol - line));
        if (!tab || tab == line || tab + 1 == eol || !all_digits(line, (size_t)(tab - line)))
            continue;
        *tab = '\0';
        struct code_entry *e = &t->entries[t->count++];
        e->code = line;
        e->code_len = (size_t)(tab - line);
        e->name = tab + 1;
        e->name_len = (size_t)(eol - tab - 1);
        e->std_name = e->name;
        for (size_t j = 0; j + 1 < t->count; j++) {
            if (strcmp(t->entries[j].code, e->code) == 0) {
                e->std_name = t->entries[j].std_name;
                break;
            }
        }
        if (e->std_name == e->name)
            t->distinct++;
    }
}

static void parse_tables(void)
{
    tables[VALID_CODES_SEX].text_len = qloop_data_codes_sex_len;
    tables[VALID_CODES_ETHNIC].text_len = qloop_data_codes_ethnic_len;
    parse_table(&tables[VALID_CODES_SEX]);
    parse_table(&tables[VALID_CODES_ETHNIC]);
}

bool valid_code_lookup(enum valid_code_table t, const char *s, size_t len, const char **code,
                       const char **name)
{
    if (t != VALID_CODES_SEX && t != VALID_CODES_ETHNIC)
        return false;
    pthread_once(&tables_once, parse_tables);
    const struct code_table *tab = &tables[t];
    bool by_code = len > 0 && all_digits(s, len);
    for (size_t i = 0; i < tab->count; i++) {
        const struct code_entry *e = &tab->entries[i];
        bool hit = by_code ? (e->code_len == len && memcmp(e->code, s, len) == 0)
                           : (e->name_len == len && memcmp(e->name, s, len) == 0);
        if (hit) {
            if (code)
                *code = e->code;
            if (name)
                *name = e->std_name;
            return true;
        }
    }
    return false;
}

size_t valid_code_count(enum valid_code_table t)
{
    if (t != VALID_CODES_SEX && t != VALID_CODES_ETHNIC)
        return 0;
    pthread_once(&tables_once, parse_tables);
    return tables[t].distinct;
}

bool valid_sex(const char *s, size_t len, const char **reason)
{
    return valid_code_lookup(VALID_CODES_SEX, s, len, NULL, NULL) || fail(reason, R_SEX);
}

bool valid_ethnic(const char *s, size_t len, const char **reason)
{
    return valid_code_lookup(VALID_CODES_ETHNIC, s, len, NULL, NULL) || fail(reason, R_ETHNIC);
}
