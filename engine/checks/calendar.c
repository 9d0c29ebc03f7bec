/*
 * calendar.c — working days in mainland China and deadline arithmetic.
 *
 * The calendar in use is one set of notices (struct calendar_notices): the
 * days the State Council holiday notices list (date, notice year, off or
 * work, holiday name), sorted by date, and the years whose notice is known.
 * It is built from the embedded engine/data/holidays_cn.txt on first use
 * (pthread_once) and can be extended at run time from a file in qloop's text
 * format or in holiday-cn's JSON format; a year loaded replaces that year.
 * Lua rules on several worker threads may ask at once, so the set is guarded
 * by a read-write lock and the once-per-year fallback warning by a mutex.
 *
 * A day is a working day when it is listed `work`, or when it is Monday to
 * Friday and not listed `off`. Where two notices list one date (a notice may
 * arrange the last days of the year before it), the later notice wins.
 *
 * A day in a year no notice covers (and not listed) falls back to the law
 * the notices apply: it is a working day when it is Monday to Friday and not
 * a statutory holiday (全体公民放假的节日) of 全国年节及纪念日放假办法 in
 * the text in force on that holiday. Lunar dates and 清明 come from
 * lunar.c. The fallback knows no make-up working days and does not move a
 * holiday that falls on a weekend (the law's 补假 is placed by each year's
 * notice), so each such year is warned about once per process on stderr.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "base/text.h"
#include "checks/calendar.h"
#include "checks/lunar.h"

extern const char qloop_data_holidays_cn[];
extern const size_t qloop_data_holidays_cn_len;

enum {
    YEAR_MIN = 1,
    YEAR_MAX = 9999,
    FILE_MAX = 16 * 1024 * 1024, /* a calendar file is a few kB; refuse anything absurd */
};

#define BUILTIN_NAME "engine/data/holidays_cn.txt"
#define FORMAT_HINT "格式见 engine/data/holidays_cn.txt 开头的说明"

struct cal_day {
    int64_t day; /* qloop_days_from_civil number */
    int notice;  /* year of the notice that lists the day */
    bool off;    /* true: day off (放假); false: adjusted working day (调休上班) */
    long line;   /* where it was read: text line, or 1-based index in JSON "days" */
    char *name;  /* holiday name, "" when none; owned */
};

struct calendar_notices {
    struct cal_day *days; /* sorted by (day, notice) once parsed or merged */
    size_t ndays, capdays;
    int *years; /* ascending, no duplicates */
    size_t nyears, capyears;
};

/* ---- sets of notices -------------------------------------------------- */

/* Appends one day (unsorted); name is copied (namelen bytes). */
static void set_add_day(struct calendar_notices *n, int64_t day, int notice, bool off, long line,
                        const char *name, size_t namelen)
{
    if (n->ndays == n->capdays) {
        n->capdays = n->capdays ? 2 * n->capdays : 64;
        n->days = qloop_xrealloc(n->days, n->capdays * sizeof *n->days);
    }
    struct cal_day *d = &n->days[n->ndays++];
    d->day = day;
    d->notice = notice;
    d->off = off;
    d->line = line;
    d->name = qloop_xstrndup(name, namelen);
}

/* Whether year is in n->years (binary search). */
static bool set_has_year(const struct calendar_notices *n, int year)
{
    size_t lo = 0, hi = n->nyears;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->years[mid] == year)
            return true;
        if (n->years[mid] < year)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Inserts year into n->years, keeping it ascending; no-op when present. */
static void set_add_year(struct calendar_notices *n, int year)
{
    if (set_has_year(n, year))
        return;
    if (n->nyears == n->capyears) {
        n->capyears = n->capyears ? 2 * n->capyears : 16;
        n->years = qloop_xrealloc(n->years, n->capyears * sizeof *n->years);
    }
    size_t i = n->nyears;
    while (i > 0 && n->years[i - 1] > year) {
        n->years[i] = n->years[i - 1];
        i--;
    }
    n->years[i] = year;
    n->nyears++;
}

/* Frees everything n holds; n is an empty set afterwards. */
static void set_clear(struct calendar_notices *n)
{
    for (size_t i = 0; i < n->ndays; i++)
        free(n->days[i].name);
    free(n->days);
    free(n->years);
    memset(n, 0, sizeof *n);
}

/* Orders days by date, then notice year, then where they were read. */
static int cmp_day(const void *a, const void *b)
{
    const struct cal_day *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->notice != y->notice)
        return x->notice < y->notice ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Index of the first day >= day (n->ndays when none). */
static size_t set_lower_bound(const struct calendar_notices *n, int64_t day)
{
    size_t lo = 0, hi = n->ndays;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The entry for day from the latest notice listing it, or NULL. */
static const struct cal_day *set_find(const struct calendar_notices *n, int64_t day)
{
    size_t i = set_lower_bound(n, day);
    if (i == n->ndays || n->days[i].day != day)
        return NULL;
    while (i + 1 < n->ndays && n->days[i + 1].day == day)
        i++;
    return &n->days[i];
}

/* The civil year of a day number. */
static int year_of(int64_t day)
{
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    return y;
}

/* Writes day as "YYYY-MM-DD" into out. */
static void format_day(int64_t day, char out[16])
{
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

/* Sorts the days of a freshly parsed set and rejects a date listed twice by
 * one notice. json: lines are JSON indexes, not text lines. */
static int set_finish(struct calendar_notices *n, const char *name, bool json,
                      struct qloop_error *err)
{
    if (n->ndays > 1)
        qsort(n->days, n->ndays, sizeof *n->days, cmp_day);
    for (size_t i = 1; i < n->ndays; i++) {
        const struct cal_day *a = &n->days[i - 1], *b = &n->days[i];
        if (a->day != b->day || a->notice != b->notice)
            continue;
        char date[16];
        format_day(b->day, date);
        if (json)
            return qloop_error_set(err, name, 0, 0,
                                   "\"days\" 第 %ld 项的日期 %s 与第 %ld 项重复：同一天只能写一次，请删去一项",
                                   b->line, date, a->line);
        return qloop_error_set(err, name, b->line, 1,
                               "%s 在 year %d 下重复出现（文件第 %ld 行已有）：同一天只能写一次，请删去一行",
                               date, b->notice, a->line);
    }
    return 0;
}

/* ---- qloop's text format --------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* 1-based column (in characters) of line + off. */
static long column_of(const char *line, size_t off)
{
    return (long)qloop_utf8_chars(line, off) + 1;
}

/* Whether s[0..len) equals the C string word. */
static bool token_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Parses qloop's text format (see engine/data/holidays_cn.txt) into n,
 * unsorted. Returns 0, or -1 with err naming the line. */
static int parse_text(struct calendar_notices *n, const char *text, size_t len, const char *name,
                      struct qloop_error *err)
{
    int notice = 0; /* year of the current `year` line, 0 before the first */
    size_t pos = 0;
    long lineno = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* UTF-8 byte order mark */
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (memchr(line, '\0', ll))
            return qloop_error_set(err, name, lineno, 0,
                                   "这一行含有 NUL 字节，不是文本：请提供 UTF-8 文本文件（%s）",
                                   FORMAT_HINT);
        size_t b = 0, e = ll;
        while (b < e && is_blank(line[b]))
            b++;
        while (e > b && is_blank(line[e - 1]))
            e--;
        if (b == e || line[b] == '#')
            continue;
        /* first field [b, t1), second [s2, t2), the rest [s3, e) is the name */
        size_t t1 = b;
        while (t1 < e && !is_blank(line[t1]))
            t1++;
        size_t s2 = t1;
        while (s2 < e && is_blank(line[s2]))
            s2++;
        size_t t2 = s2;
        while (t2 < e && !is_blank(line[t2]))
            t2++;
        size_t s3 = t2;
        while (s3 < e && is_blank(line[s3]))
            s3++;

        if (token_is(line + b, t1 - b, "year")) {
            int y = 0;
            bool ok = t2 - s2 == 4 && s3 == e;
            for (size_t i = s2; ok && i < t2; i++) {
                if (line[i] < '0' || line[i] > '9')
                    ok = false;
                else
                    y = y * 10 + (line[i] - '0');
            }
            if (!ok || y < YEAR_MIN)
                return qloop_error_set(err, name, lineno, column_of(line, s2),
                                       "year 后应只有一个四位年份，如 “year 2027”");
            if (set_has_year(n, y))
                return qloop_error_set(err, name, lineno, 1,
                                       "year %d 重复出现：每个年份只能写一次，请把它的日期合并到前面那一处",
                                       y);
            set_add_year(n, y);
            notice = y;
            continue;
        }

        char date[16];
        int y, m, d;
        bool datelike = t1 - b == 10 && line[b + 4] == '-' && line[b + 7] == '-';
        if (!datelike)
            return qloop_error_set(err, name, lineno, column_of(line, b),
                                   "无法识别这一行：应为 “year YYYY” 或 “YYYY-MM-DD off|work 名称”（%s）",
                                   FORMAT_HINT);
        memcpy(date, line + b, 10);
        date[10] = '\0';
        if (!qloop_parse_date(date, &y, &m, &d))
            return qloop_error_set(err, name, lineno, column_of(line, b),
                                   "“%s” 不是有效日期：应为 YYYY-MM-DD，如 2027-02-06", date);
        if (notice == 0)
            return qloop_error_set(err, name, lineno, 1,
                                   "日期行之前缺少 year 行：请在前面写明通知的年份，如 “year %d”", y);
        bool off;
        if (token_is(line + s2, t2 - s2, "off"))
            off = true;
        else if (token_is(line + s2, t2 - s2, "work"))
            off = false;
        else if (s2 == e)
            return qloop_error_set(err, name, lineno, column_of(line, e),
                                   "日期后缺少 off（放假）或 work（调休上班）：如 “%s off 春节”", date);
        else
            return qloop_error_set(err, name, lineno, column_of(line, s2),
                                   "日期后应为 off（放假）或 work（调休上班），而不是 “%.*s”",
                                   (int)(t2 - s2 > 40 ? 40 : t2 - s2), line + s2);
        if (y < notice - 1 || y > notice + 1)
            return qloop_error_set(err, name, lineno, 1,
                                   "%s 不属于 year %d：一年的通知只安排该年及前后一年内的日期；是否漏写了 year %d 行？",
                                   date, notice, y);
        set_add_day(n, qloop_days_from_civil(y, m, d), notice, off, lineno, line + s3, e - s3);
    }
    if (n->nyears == 0)
        return qloop_error_set(err, name, 0, 0,
                               "没有任何 year 行，文件里没有节假日安排：每年以 “year YYYY” 开头，"
                               "其下逐行写 “YYYY-MM-DD off|work 名称”（%s）",
                               FORMAT_HINT);
    return 0;
}

/* ---- holiday-cn JSON ------------------------------------------------- */

/* Finds the first occurrence of "s" (quoted) in text and sets its line and
 * column; 0 and 0 when not found. */
static void locate_string(const char *text, size_t len, const char *s, long *line, long *col)
{
    *line = 0;
    *col = 0;
    size_t sl = strlen(s);
    long ln = 1;
    const char *bol = text;
    for (size_t i = 0; i + sl + 2 <= len; i++) {
        if (text[i] == '\n') {
            ln++;
            bol = text + i + 1;
            continue;
        }
        if (text[i] == '"' && memcmp(text + i + 1, s, sl) == 0 && text[i + 1 + sl] == '"') {
            *line = ln;
            *col = column_of(bol, (size_t)(text + i - bol));
            return;
        }
    }
}

/* Parses one holiday-cn notice {"year": Y, "days": [{"name", "date",
 * "isOffDay"}]} into n, unsorted. Returns 0, or -1 with err. */
static int parse_json(struct calendar_notices *n, const char *text, size_t len, const char *name,
                      struct qloop_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return qloop_error_set(err, name, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0,
                               "JSON 格式错误（%s）：请检查这一处附近的引号、逗号和括号", je.text);
    int rc = -1;
    json_t *jyear = json_object_get(root, "year");
    json_t *jdays = json_object_get(root, "days");
    if (!json_is_object(root)) {
        qloop_error_set(err, name, 1, 1,
                        "JSON 顶层应为一个对象 {\"year\": 2027, \"days\": [...]}（holiday-cn 的格式）");
        goto out;
    }
    if (!json_is_integer(jyear) || json_integer_value(jyear) < YEAR_MIN ||
        json_integer_value(jyear) > YEAR_MAX) {
        qloop_error_set(err, name, 0, 0,
                        "缺少 \"year\"，或它不是 1 到 9999 的整数：请写明通知的年份，如 \"year\": 2027");
        goto out;
    }
    if (!json_is_array(jdays)) {
        qloop_error_set(err, name, 0, 0,
                        "缺少 \"days\" 数组：应为 \"days\": [{\"name\": \"元旦\", \"date\": \"2027-01-01\", "
                        "\"isOffDay\": true}, ...]");
        goto out;
    }
    int notice = (int)json_integer_value(jyear);
    set_add_year(n, notice);
    size_t i;
    json_t *e;
    json_array_foreach(jdays, i, e) {
        long idx = (long)i + 1;
        json_t *jdate = json_object_get(e, "date");
        json_t *joff = json_object_get(e, "isOffDay");
        json_t *jname = json_object_get(e, "name");
        if (!json_is_object(e)) {
            qloop_error_set(err, name, 0, 0,
                            "\"days\" 第 %ld 项不是对象：应为 {\"name\": \"元旦\", \"date\": \"%d-01-01\", "
                            "\"isOffDay\": true}",
                            idx, notice);
            goto out;
        }
        const char *ds = json_string_value(jdate);
        int y, m, d;
        if (!ds) {
            qloop_error_set(err, name, 0, 0, "\"days\" 第 %ld 项缺少字符串 \"date\"：请写成 \"date\": \"YYYY-MM-DD\"",
                            idx);
            goto out;
        }
        if (!qloop_parse_date(ds, &y, &m, &d)) {
            long ln, col;
            locate_string(text, len, ds, &ln, &col);
            qloop_error_set(err, name, ln, col,
                            "\"days\" 第 %ld 项的日期 “%.40s” 无效：应为 YYYY-MM-DD，如 2027-02-06", idx, ds);
            goto out;
        }
        if (!json_is_boolean(joff)) {
            long ln, col;
            locate_string(text, len, ds, &ln, &col);
            qloop_error_set(err, name, ln, col,
                            "\"days\" 第 %ld 项（%s）缺少 \"isOffDay\" 或它不是 true/false：放假写 true，调休上班写 false",
                            idx, ds);
            goto out;
        }
        if (jname && !json_is_string(jname)) {
            long ln, col;
            locate_string(text, len, ds, &ln, &col);
            qloop_error_set(err, name, ln, col, "\"days\" 第 %ld 项（%s）的 \"name\" 应为字符串，如 \"春节\"",
                            idx, ds);
            goto out;
        }
        if (y < notice - 1 || y > notice + 1) {
            long ln, col;
            locate_string(text, len, ds, &ln, &col);
            qloop_error_set(err, name, ln, col,
                            "\"days\" 第 %ld 项的日期 %s 不属于 %d 年的通知：一年的通知只安排该年及前后一年内的日期",
                            idx, ds, notice);
            goto out;
        }
        /* The name goes back out as one text line: no control characters. */
        const char *nm = jname ? json_string_value(jname) : "";
        char *clean = qloop_xstrdup(nm);
        for (char *p = clean; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = ' ';
        size_t cb = 0, ce = strlen(clean);
        while (cb < ce && clean[cb] == ' ')
            cb++;
        while (ce > cb && clean[ce - 1] == ' ')
            ce--;
        set_add_day(n, qloop_days_from_civil(y, m, d), notice, json_is_true(joff), idx, clean + cb,
                    ce - cb);
        free(clean);
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- public: sets ------------------------------------------------------ */

struct calendar_notices *calendar_notices_new(void)
{
    return qloop_xcalloc(1, sizeof(struct calendar_notices));
}

struct calendar_notices *calendar_notices_parse(const char *text, size_t len, const char *name,
                                                struct qloop_error *err)
{
    qloop_error_clear(err);
    size_t start = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* UTF-8 BOM */
    size_t i = start;
    while (i < len && (is_blank(text[i]) || text[i] == '\n'))
        i++;
    bool json = i < len && (text[i] == '{' || text[i] == '[');
    struct calendar_notices *n = calendar_notices_new();
    int rc = json ? parse_json(n, text + start, len - start, name, err)
                  : parse_text(n, text, len, name, err);
    if (rc == 0)
        rc = set_finish(n, name, json, err);
    if (rc != 0) {
        calendar_notices_free(n);
        return NULL;
    }
    return n;
}

struct calendar_notices *calendar_notices_read(const char *path, struct qloop_error *err)
{
    qloop_error_clear(err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        qloop_error_set(err, path, 0, 0, "无法打开日历文件：%s；请检查路径和读权限", strerror(errno));
        return NULL;
    }
    struct qloop_buf b = {0};
    int rc = qloop_buf_read(&b, f, FILE_MAX);
    int rerr = rc < 0 ? errno : 0;
    fclose(f);
    if (rc > 0) {
        qloop_buf_free(&b);
        qloop_error_set(err, path, 0, 0,
                        "文件超过 16 MiB，不像是节假日安排：请确认给的是日历文件（%s）", FORMAT_HINT);
        return NULL;
    }
    if (rc < 0) {
        qloop_buf_free(&b);
        qloop_error_set(err, path, 0, 0, "无法读取日历文件：%s；请确认它是可读的普通文件", strerror(rerr));
        return NULL;
    }
    struct calendar_notices *n = calendar_notices_parse(qloop_buf_str(&b), b.len, path, err);
    qloop_buf_free(&b);
    return n;
}

void calendar_notices_merge(struct calendar_notices *into, const struct calendar_notices *from)
{
    size_t keep = 0;
    for (size_t i = 0; i < into->ndays; i++) {
        if (set_has_year(from, into->days[i].notice))
            free(into->days[i].name);
        else
            into->days[keep++] = into->days[i];
    }
    into->ndays = keep;
    for (size_t i = 0; i < from->ndays; i++) {
        const struct cal_day *d = &from->days[i];
        set_add_day(into, d->day, d->notice, d->off, d->line, d->name, strlen(d->name));
    }
    for (size_t i = 0; i < from->nyears; i++)
        set_add_year(into, from->years[i]);
    if (into->ndays > 1)
        qsort(into->days, into->ndays, sizeof *into->days, cmp_day);
}

/* Appends one day line: "YYYY-MM-DD off  NAME" / "YYYY-MM-DD work NAME". */
static void format_line(const struct cal_day *d, struct qloop_buf *out)
{
    char date[16];
    format_day(d->day, date);
    if (d->name[0])
        qloop_buf_printf(out, "%s %-4s %s\n", date, d->off ? "off" : "work", d->name);
    else
        qloop_buf_printf(out, "%s %s\n", date, d->off ? "off" : "work");
}

void calendar_notices_format(const struct calendar_notices *n, struct qloop_buf *out)
{
    for (size_t y = 0; y < n->nyears; y++) {
        qloop_buf_printf(out, "%syear %d\n", y ? "\n" : "", n->years[y]);
        for (size_t i = 0; i < n->ndays; i++)
            if (n->days[i].notice == n->years[y])
                format_line(&n->days[i], out);
    }
}

size_t calendar_notices_years(const struct calendar_notices *n, int *years, size_t max)
{
    for (size_t i = 0; i < n->nyears && i < max; i++)
        years[i] = n->years[i];
    return n->nyears;
}

void calendar_notices_count(const struct calendar_notices *n, int year, int *off, int *work)
{
    *off = *work = 0;
    for (size_t i = 0; i < n->ndays; i++) {
        if (n->days[i].notice != year)
            continue;
        if (n->days[i].off)
            (*off)++;
        else
            (*work)++;
    }
}

void calendar_notices_free(struct calendar_notices *n)
{
    if (!n)
        return;
    set_clear(n);
    free(n);
}

/* ---- the calendar in use ---------------------------------------------- */

static struct calendar_notices g_cal;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t g_warn_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char g_warned[(YEAR_MAX + 2 + 7) / 8]; /* bit y: year y warned about */

/* Merges the embedded notices into into. The data ships with qloop and is
 * checked by the unit tests; should it ever fail to parse, nothing about
 * deadlines could be trusted, so the process stops (internal error). */
static void load_builtin(struct calendar_notices *into)
{
    struct qloop_error err;
    struct calendar_notices *b = calendar_notices_parse(qloop_data_holidays_cn,
                                                        qloop_data_holidays_cn_len, BUILTIN_NAME, &err);
    if (!b) {
        char msg[2200];
        qloop_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "qloop: 内置节假日数据有误（内部错误）：%s\n", msg);
        exit(QLOOP_EXIT_INTERNAL);
    }
    calendar_notices_merge(into, b);
    calendar_notices_free(b);
}

static void init_once(void)
{
    load_builtin(&g_cal);
}

/* Builds the calendar from the embedded data on first use. */
static void ensure_loaded(void)
{
    pthread_once(&g_once, init_once);
}

/* ---- years without a notice: the statutory holidays -------------------- */

/* Where a holiday's date comes from. */
enum anchor { SOLAR, LUNAR, TERM };

enum { NEW_YEAR, SPRING, QINGMING, LABOUR, DRAGON_BOAT, MID_AUTUMN, NATIONAL, NHOLIDAYS };

/* The holidays 全国年节及纪念日放假办法 has named, each by the day it is
 * reckoned from: a Gregorian date, a lunar date, or the solar term 清明. */
static const struct {
    const char *name;
    enum anchor anchor;
    int month, day;
} HOLIDAYS[NHOLIDAYS] = {
    [NEW_YEAR] = {"元旦", SOLAR, 1, 1},     [SPRING] = {"春节", LUNAR, 1, 1},
    [QINGMING] = {"清明节", TERM, 4, 0},    [LABOUR] = {"劳动节", SOLAR, 5, 1},
    [DRAGON_BOAT] = {"端午节", LUNAR, 5, 5}, [MID_AUTUMN] = {"中秋节", LUNAR, 8, 15},
    [NATIONAL] = {"国庆节", SOLAR, 10, 1},
};

/* One text of the 办法, in force from y-m-d until the next: per holiday, the
 * first day off relative to its anchor (-1: 除夕, the day before 正月初一)
 * and the number of days off (0: not a holiday under that text). */
static const struct statute {
    int y, m, d;
    struct {
        signed char first, days;
    } h[NHOLIDAYS];
} STATUTES[] = {
    /* 政务院, 1949-12-23: 新年 1, 春节 初一至初三, 劳动节 1, 国庆 2 */
    {1949, 12, 23, {[NEW_YEAR] = {0, 1}, [SPRING] = {0, 3}, [LABOUR] = {0, 1}, [NATIONAL] = {0, 2}}},
    /* amended 1999-09-18, in force at once: 劳动节 and 国庆节 3 days each */
    {1999, 9, 18, {[NEW_YEAR] = {0, 1}, [SPRING] = {0, 3}, [LABOUR] = {0, 3}, [NATIONAL] = {0, 3}}},
    /* amended 2007-12-14, from 2008-01-01: 春节 除夕至初二, 劳动节 1 day,
     * 清明, 端午 and 中秋 added */
    {2008, 1, 1, {{0, 1}, {-1, 3}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 3}}},
    /* amended 2013-12-11, from 2014-01-01: 春节 初一至初三 */
    {2014, 1, 1, {{0, 1}, {0, 3}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 3}}},
    /* amended 2024-11-10, from 2025-01-01: 春节 除夕至初三, 劳动节 2 days */
    {2025, 1, 1, {{0, 1}, {-1, 4}, {0, 1}, {0, 2}, {0, 1}, {0, 1}, {0, 3}}},
};
enum { NSTATUTES = sizeof STATUTES / sizeof STATUTES[0] };

/* The text in force on day, or NULL before the first. */
static const struct statute *statute_on(int64_t day)
{
    const struct statute *in_force = NULL;
    for (size_t i = 0; i < NSTATUTES; i++)
        if (day >= qloop_days_from_civil(STATUTES[i].y, STATUTES[i].m, STATUTES[i].d))
            in_force = &STATUTES[i];
    return in_force;
}

/* The day holiday h of Gregorian year is reckoned from; false when the
 * lunar table does not reach the year. */
static bool holiday_anchor(int h, int year, int64_t *day)
{
    switch (HOLIDAYS[h].anchor) {
    case SOLAR:
        *day = qloop_days_from_civil(year, HOLIDAYS[h].month, HOLIDAYS[h].day);
        return true;
    case LUNAR:
        return lunar_to_solar(year, HOLIDAYS[h].month, false, HOLIDAYS[h].day, day);
    case TERM:
        return lunar_qingming(year, day);
    }
    return false;
}

/* The statutory holidays of one Gregorian year. */
struct statutory_year {
    int year;
    int n;
    int64_t day[16]; /* no text gives more than 13 days */
    const char *name[16];
};

/* Fills sy with the statutory holidays of year. Where two holidays share a
 * day (中秋 on 10-01 in 2020), the day is listed once, under the first. */
static void statutory_year_fill(struct statutory_year *sy, int year)
{
    sy->year = year;
    sy->n = 0;
    for (int h = 0; h < NHOLIDAYS; h++) {
        int64_t anchor;
        if (!holiday_anchor(h, year, &anchor))
            continue;
        const struct statute *st = statute_on(anchor);
        for (int i = 0; st && i < st->h[h].days && sy->n < 16; i++) {
            int64_t day = anchor + st->h[h].first + i;
            bool listed = false;
            for (int k = 0; k < sy->n; k++)
                listed |= sy->day[k] == day;
            if (listed)
                continue;
            sy->day[sy->n] = day;
            sy->name[sy->n] = HOLIDAYS[h].name;
            sy->n++;
        }
    }
}

bool calendar_statutory_holiday(int64_t day, const char **name)
{
    /* The fallback asks about consecutive days of one year: keep the last
     * year computed, per thread (rules run on several). */
    static _Thread_local struct statutory_year cache = {.year = -1};
    int year = year_of(day);
    if (cache.year != year)
        statutory_year_fill(&cache, year);
    for (int i = 0; i < cache.n; i++) {
        if (cache.day[i] == day) {
            if (name)
                *name = cache.name[i];
            return true;
        }
    }
    if (name)
        *name = NULL;
    return false;
}

/* Prints the fallback warning for year, once per year per process: what the
 * fallback counted, what it cannot know, and how to add the notice. */
static void warn_year(int year)
{
    int bit = year < 0 ? 0 : year > YEAR_MAX + 1 ? YEAR_MAX + 1 : year;
    pthread_mutex_lock(&g_warn_lock);
    bool first = !(g_warned[bit / 8] & (1u << (bit % 8)));
    g_warned[bit / 8] |= (unsigned char)(1u << (bit % 8));
    pthread_mutex_unlock(&g_warn_lock);
    if (!first)
        return;
    if (year < STATUTES[0].y + 1)
        fprintf(stderr,
                "qloop: 警告: 没有 %d 年的节假日安排，该年早于《全国年节及纪念日放假办法》（1949 年 12 月 23 日），"
                "按周一至周五计算工作日；可用 qloop calendar load FILE 加载该年的安排\n",
                year);
    else if (year > LUNAR_YEAR_MAX)
        fprintf(stderr,
                "qloop: 警告: 还没有 %d 年的国务院节假日安排，且该年超出内置农历表（%d–%d 年）："
                "只按元旦、劳动节、国庆节和周末计算工作日，春节、清明节、端午节、中秋节和调休都未计入；"
                "可用 qloop calendar load FILE 加载该年的安排\n",
                year, LUNAR_YEAR_MIN, LUNAR_YEAR_MAX);
    else
        fprintf(stderr,
                "qloop: 警告: 还没有 %d 年的国务院节假日安排：按《全国年节及纪念日放假办法》的法定节假日和周末"
                "计算工作日，该年的调休（周末补假和调休上班日）尚不知道；通知发布后用 qloop calendar load FILE 加载\n",
                year);
}

/* Monday to Friday (1970-01-01, day 0, was a Thursday). */
static bool is_weekday(int64_t day)
{
    int dow = (int)(((day % 7) + 7 + 4) % 7); /* 0 = Sunday */
    return dow >= 1 && dow <= 5;
}

void calendar_digest(uint8_t out[32])
{
    ensure_loaded();
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    pthread_rwlock_rdlock(&g_lock);
    uint64_t n = g_cal.nyears;
    qloop_sha256_update(&c, &n, sizeof n);
    for (size_t i = 0; i < g_cal.nyears; i++) {
        int32_t y = g_cal.years[i];
        qloop_sha256_update(&c, &y, sizeof y);
    }
    n = g_cal.ndays;
    qloop_sha256_update(&c, &n, sizeof n);
    for (size_t i = 0; i < g_cal.ndays; i++) {
        const struct cal_day *d = &g_cal.days[i];
        int64_t fields[3] = {d->day, d->notice, d->off};
        qloop_sha256_update(&c, fields, sizeof fields);
        qloop_sha256_update(&c, d->name, strlen(d->name) + 1);
    }
    pthread_rwlock_unlock(&g_lock);
    qloop_sha256_final(&c, out);
}

bool calendar_workday(int64_t day)
{
    ensure_loaded();
    pthread_rwlock_rdlock(&g_lock);
    const struct cal_day *d = set_find(&g_cal, day);
    bool listed = d != NULL, off = d && d->off, known = true;
    int year = 0;
    if (!listed) {
        year = year_of(day);
        known = set_has_year(&g_cal, year);
    }
    pthread_rwlock_unlock(&g_lock);
    if (listed)
        return !off;
    if (known)
        return is_weekday(day);
    warn_year(year);
    return is_weekday(day) && !calendar_statutory_holiday(day, NULL);
}

int64_t calendar_add_working_days(int64_t from, int n)
{
    int64_t d = from;
    for (int count = 0; count < n;) {
        d++;
        if (calendar_workday(d))
            count++;
    }
    return d;
}

int64_t calendar_add_natural_days(int64_t from, int n)
{
    int64_t d = from + n;
    while (!calendar_workday(d))
        d++;
    return d;
}

int calendar_working_days_between(int64_t from, int64_t to)
{
    int count = 0;
    for (int64_t d = from + 1; d <= to; d++)
        if (calendar_workday(d))
            count++;
    return count;
}

int calendar_load_text(const char *text, size_t len, const char *name, struct qloop_error *err)
{
    ensure_loaded();
    struct calendar_notices *n = calendar_notices_parse(text, len, name, err);
    if (!n)
        return -1;
    pthread_rwlock_wrlock(&g_lock);
    calendar_notices_merge(&g_cal, n);
    pthread_rwlock_unlock(&g_lock);
    calendar_notices_free(n);
    return 0;
}

int calendar_load_file(const char *path, struct qloop_error *err)
{
    ensure_loaded();
    struct calendar_notices *n = calendar_notices_read(path, err);
    if (!n)
        return -1;
    pthread_rwlock_wrlock(&g_lock);
    calendar_notices_merge(&g_cal, n);
    pthread_rwlock_unlock(&g_lock);
    calendar_notices_free(n);
    return 0;
}

bool calendar_year_known(int year)
{
    ensure_loaded();
    pthread_rwlock_rdlock(&g_lock);
    bool known = set_has_year(&g_cal, year);
    pthread_rwlock_unlock(&g_lock);
    return known;
}

size_t calendar_format_year(int year, struct qloop_buf *out)
{
    ensure_loaded();
    if (year < YEAR_MIN || year > YEAR_MAX)
        return 0;
    int64_t from = qloop_days_from_civil(year, 1, 1), to = qloop_days_from_civil(year + 1, 1, 1);
    size_t lines = 0;
    pthread_rwlock_rdlock(&g_lock);
    for (size_t i = set_lower_bound(&g_cal, from); i < g_cal.ndays && g_cal.days[i].day < to; i++) {
        if (i + 1 < g_cal.ndays && g_cal.days[i + 1].day == g_cal.days[i].day)
            continue; /* a later notice lists this date too: it wins */
        format_line(&g_cal.days[i], out);
        lines++;
    }
    pthread_rwlock_unlock(&g_lock);
    return lines;
}

void calendar_reset(void)
{
    ensure_loaded();
    pthread_rwlock_wrlock(&g_lock);
    set_clear(&g_cal);
    load_builtin(&g_cal);
    pthread_rwlock_unlock(&g_lock);
    pthread_mutex_lock(&g_warn_lock);
    memset(g_warned, 0, sizeof g_warned);
    pthread_mutex_unlock(&g_warn_lock);
}
