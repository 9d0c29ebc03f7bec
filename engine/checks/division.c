/*
 * division.c — the process-wide table of GB/T 2260 administrative division
 * codes (行政区划代码).
 *
 * The table is a sorted array of (code, name) with the names in one block,
 * looked up through a hash of the codes (open addressing, linear probing, at
 * most half full: a lookup reads one slot, rarely two or three; a binary
 * search of a full table's some 3,200 codes took 12 dependent steps, each a
 * cache miss once the rules' data had pushed the codes out).
 * It comes from one of two sources:
 *   - a CSV file `code,name` with a header line (division_load_file, or
 *     $QLOOP_DIVISIONS through division_init): a UTF-8 BOM, CRLF line ends,
 *     blank lines, spaces around fields and double-quoted fields ("" for a
 *     quote inside) are accepted; anything else wrong — a code that is not six
 *     digits, a missing or empty name, a third column, text that is not UTF-8
 *     (a file saved as GBK), a code given twice — is an error naming the file
 *     and line;
 *   - the bundled subset engine/data/divisions_bundled.txt (`code<TAB>name`,
 *     '#' comments), embedded in the binary.
 *
 * Loading happens once, normally early from the command line; the lookups
 * load lazily when nothing was loaded (a failure there is said once on stderr
 * and leaves the table empty). Lookups may run from many threads at once;
 * division_load_file and division_init must not run while other threads look
 * codes up.
 *
 * The CSV file is split here, line by line, not by the CSV adapter that
 * datasets and catalogs use: the table is loaded lazily from any layer and
 * thread (the Lua `division` table, the validators) where no command line
 * can hand an adapter in, and its format is deliberately more lenient (blank
 * lines anywhere, blanks around fields) than the adapter's RFC 4180.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/text.h"
#include "base/sha256.h"
#include "checks/division.h"

extern const char qloop_data_divisions_bundled[];
extern const size_t qloop_data_divisions_bundled_len;

static const char BUNDLED_NAME[] = "engine/data/divisions_bundled.txt";

/* A slot of the hash of the codes: an entry's code and index, or EMPTY_CODE. */
struct slot {
    uint32_t code, at;
};

static const uint32_t EMPTY_CODE = UINT32_MAX; /* never a code: codes have six digits */

/* The first slot of code c in a table of mask + 1 slots (Fibonacci hashing:
 * the top bits of c times 2^32 / phi). */
static inline uint32_t hash_slot(uint32_t c, uint32_t mask)
{
    return (uint32_t)(((uint64_t)(c * 2654435769u) * (mask + 1u)) >> 32);
}

struct entry {
    uint32_t code;
    uint32_t line;     /* line of the source it came from, for duplicate errors */
    size_t name_off;   /* offset of the NUL-terminated name in names */
};

struct division_table {
    struct entry *entries; /* sorted by code, no duplicates */
    size_t count;
    struct slot *slots;    /* the codes hashed (hash_slot), mask + 1 slots, at most half used */
    uint32_t mask;
    struct qloop_buf names;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct division_table *table;  /* NULL until something was loaded */
static atomic_int ready;              /* 1 once lookups may read `table` without the lock */

/* Frees t and everything it holds; t may be NULL. */
static void table_free(struct division_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->slots);
    qloop_buf_free(&t->names);
    free(t);
}

/* Reads a code: exactly six ASCII digits, stored in *code. */
static bool parse_code(const char *s, size_t len, uint32_t *code)
{
    if (len != 6)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < 6; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *code = v;
    return true;
}

/* true when s[0..len) is well-formed UTF-8 without control characters. */
static bool valid_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return qloop_utf8_invalid_at(s, len) == len;
}

/* Adds one entry after checking the code and the name; -1 with err. */
static int add_entry(struct division_table *t, size_t *cap, const char *code, size_t code_len,
                     const char *name, size_t name_len, const char *file, long line,
                     struct qloop_error *err)
{
    uint32_t c;
    if (!parse_code(code, code_len, &c) || code[0] == '0') {
        if (!valid_text(code, code_len))
            return qloop_error_set(err, file, line, 0,
                                   "行政区划代码不是 6 位数字，且含有非 UTF-8 文本（文件可能是 GBK "
                                   "编码）；请将文件另存为 UTF-8，每行填写“6 位代码,名称”");
        size_t shown = code_len;
        if (shown > 40) { /* cut at a character boundary */
            shown = 40;
            while (shown > 0 && ((unsigned char)code[shown] & 0xC0) == 0x80)
                shown--;
        }
        return qloop_error_set(err, file, line, 0,
                               "行政区划代码“%.*s”无效：应为 6 位数字、首位不为 0（如 330102）；"
                               "请改正该行",
                               (int)shown, code);
    }
    if (name_len == 0)
        return qloop_error_set(err, file, line, 0, "代码 %06u 的名称为空；请在代码后填写名称",
                               (unsigned)c);
    if (!valid_text(name, name_len))
        return qloop_error_set(err, file, line, 0,
                               "代码 %06u 的名称不是有效的 UTF-8 文本（文件可能是 GBK 编码）；"
                               "请将文件另存为 UTF-8",
                               (unsigned)c);
    if (t->count == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        t->entries = qloop_xrealloc(t->entries, *cap * sizeof *t->entries);
    }
    t->entries[t->count++] = (struct entry){c, (uint32_t)line, t->names.len};
    qloop_buf_append(&t->names, name, name_len);
    qloop_buf_putc(&t->names, '\0');
    return 0;
}

/* qsort order: by code, then by source line. */
static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts the entries and rejects a code given twice; -1 with err. */
static int finish_table(struct division_table *t, const char *file, struct qloop_error *err)
{
    if (t->count == 0)
        return qloop_error_set(err, file, 0, 0,
                               "文件中没有任何行政区划代码；请在表头 code,name 之后每行填写一个"
                               "“代码,名称”");
    qsort(t->entries, t->count, sizeof *t->entries, entry_cmp);
    for (size_t i = 1; i < t->count; i++)
        if (t->entries[i].code == t->entries[i - 1].code)
            return qloop_error_set(err, file, t->entries[i].line, 0,
                                   "代码 %06u 重复（文件第 %u 行已有）；请删除重复的一行",
                                   (unsigned)t->entries[i].code, (unsigned)t->entries[i - 1].line);
    size_t n = 16;
    while (n < 2 * t->count)
        n *= 2;
    t->mask = (uint32_t)(n - 1);
    t->slots = qloop_xmalloc(n * sizeof *t->slots);
    for (size_t i = 0; i < n; i++)
        t->slots[i] = (struct slot){EMPTY_CODE, 0};
    for (size_t i = 0; i < t->count; i++) {
        uint32_t h = hash_slot(t->entries[i].code, t->mask);
        while (t->slots[h].code != EMPTY_CODE)
            h = (h + 1) & t->mask;
        t->slots[h] = (struct slot){t->entries[i].code, (uint32_t)i};
    }
    return 0;
}

/* true for a space or a tab. */
static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits one CSV line p[0..n) (without its line end) into fields, unquoting
 * them into f[0] and f[1] (further fields are only counted). Returns the
 * number of fields, -1 for a quote that is not closed, -2 for text after a
 * closing quote. */
static int csv_split(const char *p, size_t n, struct qloop_buf f[2])
{
    qloop_buf_reset(&f[0]);
    qloop_buf_reset(&f[1]);
    size_t i = 0;
    int count = 0;
    for (;;) {
        struct qloop_buf scratch = {0};
        struct qloop_buf *dst = count < 2 ? &f[count] : &scratch;
        while (i < n && is_blank(p[i]))
            i++;
        if (i < n && p[i] == '"') {
            i++;
            for (;;) {
                if (i == n) {
                    qloop_buf_free(&scratch);
                    return -1;
                }
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"') {
                        qloop_buf_putc(dst, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                qloop_buf_putc(dst, p[i++]);
            }
            while (i < n && is_blank(p[i]))
                i++;
            if (i < n && p[i] != ',') {
                qloop_buf_free(&scratch);
                return -2;
            }
        } else {
            size_t start = i;
            while (i < n && p[i] != ',')
                i++;
            size_t end = i;
            while (end > start && is_blank(p[end - 1]))
                end--;
            qloop_buf_append(dst, p + start, end - start);
        }
        qloop_buf_free(&scratch);
        count++;
        if (i == n)
            return count;
        i++; /* the comma */
    }
}

/* Calls fn for each line of text[0..len): the line without its end (LF or
 * CRLF) and its 1-based number; stops at the first nonzero result. */
typedef int (*line_fn)(void *ctx, const char *line, size_t n, long lineno);

static int for_each_line(const char *text, size_t len, line_fn fn, void *ctx)
{
    size_t i = 0;
    long lineno = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - i;
        if (n > 0 && text[i + n - 1] == '\r')
            n--;
        int rc = fn(ctx, text + i, n, ++lineno);
        if (rc)
            return rc;
        i = end + 1;
    }
    return 0;
}

struct parse_ctx {
    struct division_table *t;
    size_t cap;
    const char *file;
    struct qloop_error *err;
    bool header_seen;
    struct qloop_buf f[2];
};

/* The contents of f without the spaces and tabs around them (*n bytes). */
static const char *trim_blanks(const struct qloop_buf *f, size_t *n)
{
    const char *s = qloop_buf_str(f);
    size_t len = f->len;
    while (len && is_blank(*s))
        s++, len--;
    while (len && is_blank(s[len - 1]))
        len--;
    *n = len;
    return s;
}

/* true when p[0..n) holds nothing but spaces and tabs. */
static bool blank_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_blank(p[i]))
            return false;
    return true;
}

/* One line of a CSV file; the first non-blank line is the header. */
static int csv_line(void *vctx, const char *p, size_t n, long lineno)
{
    struct parse_ctx *c = vctx;
    if (blank_line(p, n))
        return 0;
    int fields = csv_split(p, n, c->f);
    if (fields == -1)
        return qloop_error_set(c->err, c->file, lineno, 0,
                               "双引号没有闭合；请检查该行的引号是否成对（名称中的引号写作 \"\"）");
    if (fields == -2)
        return qloop_error_set(c->err, c->file, lineno, 0,
                               "右引号之后还有多余的文字；请把整个字段放在一对双引号之内");
    uint32_t code;
    if (!c->header_seen) {
        c->header_seen = true;
        if (parse_code(qloop_buf_str(&c->f[0]), c->f[0].len, &code))
            return qloop_error_set(c->err, c->file, lineno, 0,
                                   "第一行应为表头 code,name，却是数据；请在文件开头加一行 "
                                   "code,name");
        return 0;
    }
    if (fields != 2)
        return qloop_error_set(c->err, c->file, lineno, 0,
                               "应有 2 列（代码,名称），实际有 %d 列；名称中含逗号时请用双引号括起",
                               fields);
    /* Spaces inside quotes around the code are tolerated too. */
    size_t cn, nn;
    const char *cs = trim_blanks(&c->f[0], &cn), *ns = trim_blanks(&c->f[1], &nn);
    return add_entry(c->t, &c->cap, cs, cn, ns, nn, c->file, lineno, c->err);
}

/* One line of the bundled table: `code<TAB>name`, '#' comments. */
static int bundled_line(void *vctx, const char *p, size_t n, long lineno)
{
    struct parse_ctx *c = vctx;
    if (blank_line(p, n) || p[0] == '#')
        return 0;
    const char *tab = memchr(p, '\t', n);
    if (!tab)
        return qloop_error_set(c->err, c->file, lineno, 0,
                               "应为“代码<TAB>名称”，缺少制表符；请改正内置表");
    size_t cn = (size_t)(tab - p);
    return add_entry(c->t, &c->cap, p, cn, tab + 1, n - cn - 1, c->file, lineno, c->err);
}

/* Parses text with fn into a new table; NULL with err on error. */
static struct division_table *parse_table(const char *text, size_t len, line_fn fn,
                                          const char *file, struct qloop_error *err)
{
    struct parse_ctx c = {.t = qloop_xcalloc(1, sizeof *c.t), .file = file, .err = err};
    int rc = for_each_line(text, len, fn, &c);
    if (rc == 0 && fn == csv_line && !c.header_seen)
        rc = qloop_error_set(err, file, 0, 0,
                             "文件为空；应为 CSV：第一行表头 code,name，其后每行“代码,名称”");
    if (rc == 0)
        rc = finish_table(c.t, file, err);
    qloop_buf_free(&c.f[0]);
    qloop_buf_free(&c.f[1]);
    if (rc) {
        table_free(c.t);
        return NULL;
    }
    return c.t;
}

/* Reads the whole file at path into buf; -1 with err. */
static int read_file(const char *path, struct qloop_buf *buf, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qloop_error_set(err, path, 0, 0,
                               "无法打开行政区划文件（%s）；请检查 --divisions 或 QLOOP_DIVISIONS "
                               "给出的路径",
                               strerror(errno));
    int failed = qloop_buf_read(buf, f, 0) != 0;
    int saved = errno;
    fclose(f);
    if (failed)
        return qloop_error_set(err, path, 0, 0,
                               "读取行政区划文件失败（%s）；请确认它是一个可读的普通文件",
                               strerror(saved));
    return 0;
}

/* Reads and parses the CSV at path; NULL with err. */
static struct division_table *load_csv(const char *path, struct qloop_error *err)
{
    struct qloop_buf text = {0};
    struct division_table *t = NULL;
    if (read_file(path, &text, err) == 0)
        t = parse_table(qloop_buf_str(&text), text.len, csv_line, path, err);
    qloop_buf_free(&text);
    return t;
}

/* Installs t as the table, freeing the one before. Call with the lock held. */
static void install(struct division_table *t)
{
    struct division_table *old = table;
    table = t;
    atomic_store_explicit(&ready, 1, memory_order_release);
    table_free(old);
}

/* Replaces the table with the CSV file at path; on error the table in use is
 * kept. Returns 0, or -1 with err naming the file and line. */
int division_load_file(const char *path, struct qloop_error *err)
{
    struct division_table *t = load_csv(path, err);
    if (!t)
        return -1;
    pthread_mutex_lock(&table_lock);
    install(t);
    pthread_mutex_unlock(&table_lock);
    return 0;
}

/* division_init's work; call with the lock held. */
static int init_locked(struct qloop_error *err)
{
    if (table)
        return 0;
    const char *env = getenv("QLOOP_DIVISIONS");
    struct division_table *t;
    if (env && *env)
        t = load_csv(env, err);
    else
        t = parse_table(qloop_data_divisions_bundled, qloop_data_divisions_bundled_len,
                        bundled_line, BUNDLED_NAME, err);
    if (!t)
        return -1;
    install(t);
    return 0;
}

/* Loads $QLOOP_DIVISIONS (when set and not empty) or the bundled table,
 * unless a table is loaded already. Returns 0, or -1 with err. */
int division_init(struct qloop_error *err)
{
    pthread_mutex_lock(&table_lock);
    int rc = init_locked(err);
    pthread_mutex_unlock(&table_lock);
    return rc;
}

/* The table for lookups, loading it on first use; NULL when loading failed. */
static const struct division_table *current(void)
{
    if (!atomic_load_explicit(&ready, memory_order_acquire)) {
        pthread_mutex_lock(&table_lock);
        if (!atomic_load_explicit(&ready, memory_order_relaxed)) {
            struct qloop_error err;
            qloop_error_clear(&err);
            if (init_locked(&err) != 0) {
                char msg[2200];
                qloop_error_format(&err, msg, sizeof msg);
                fprintf(stderr, "qloop: %s（行政区划代码将一律查不到）\n", msg);
                atomic_store_explicit(&ready, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&table_lock);
    }
    return table;
}

/* The slot of the six-digit code[0..len) in the table, or NULL (also for
 * anything that is not six ASCII digits, and when no table loaded). */
static const struct slot *find_slot(const char *code, size_t len,
                                    const struct division_table **tp)
{
    uint32_t c;
    if (!code || !parse_code(code, len, &c))
        return NULL;
    const struct division_table *t = current();
    if (!t || !t->slots)
        return NULL;
    *tp = t;
    /* the probe ends at c or at an empty slot: at most half are used */
    for (uint32_t h = hash_slot(c, t->mask);; h = (h + 1) & t->mask) {
        const struct slot *s = &t->slots[h];
        if (s->code == c)
            return s;
        if (s->code == EMPTY_CODE)
            return NULL;
    }
}

/* The name of the six-digit code[0..len), or NULL (also for anything that
 * is not six ASCII digits). The string lives as long as the table. */
const char *division_name(const char *code, size_t len)
{
    const struct division_table *t = NULL;
    const struct slot *s = find_slot(code, len, &t);
    return s ? t->names.ptr + t->entries[s->at].name_off : NULL;
}

/* true when code[0..len) is a code of the table: the slot alone, not the
 * entry and name behind it (two more cache misses per lookup once the
 * rules' data has pushed the table out). */
bool division_exists(const char *code, size_t len)
{
    const struct division_table *t = NULL;
    return find_slot(code, len, &t) != NULL;
}

/* Number of codes in the table (0 when loading it failed). */
size_t division_count(void)
{
    const struct division_table *t = current();
    return t ? t->count : 0;
}

void division_digest(char out[65])
{
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    const struct division_table *t = current();
    for (size_t i = 0; t && i < t->count; i++) {
        const char *name = t->names.ptr + t->entries[i].name_off;
        uint32_t code = t->entries[i].code;
        qloop_sha256_update(&c, &code, sizeof code);
        qloop_sha256_update(&c, name, strlen(name) + 1);
    }
    uint8_t d[32];
    qloop_sha256_final(&c, d);
    qloop_hex(d, 32, out);
}
