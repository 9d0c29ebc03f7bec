/*
 * cli_common.c — what every command shares: printing errors and JSON,
 * opening the store with the calendar and divisions that go with it,
 * loading a policy, reading a state name.
 */
#include <pwd.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/escape.h"
#include "base/hugepages.h"
#include "catalog/catalog.h"
#include "checks/calendar.h"
#include "checks/division.h"
#include "cli.h"
#include "loop/ticket.h"
#include "rules/pack.h"
#include "rules/policy.h"
#include "run/run.h"
#include "store/calendar_loads.h"
#include "store/key.h"
#include "store/store.h"

void cli_print_error(const struct qloop_error *err)
{
    char buf[2200];
    qloop_error_format(err, buf, sizeof buf);
    struct qloop_buf safe = {0};
    qloop_escape_controls(buf, strlen(buf), QLOOP_ESC_KEEP_NEWLINE, &safe);
    fprintf(stderr, "qloop: %s\n", qloop_buf_str(&safe));
    qloop_buf_free(&safe);
}

/* The printable form of string m (a new reference), or NULL when m is not
 * a string or needs no escaping. */
static json_t *printable(const json_t *m)
{
    if (!json_is_string(m))
        return NULL;
    struct qloop_buf safe = {0};
    json_t *v = qloop_escape_controls(json_string_value(m), json_string_length(m), 0, &safe) > 0
                    ? json_stringn(safe.ptr, safe.len)
                    : NULL;
    qloop_buf_free(&safe);
    return v;
}

void cli_json_printable(json_t *v)
{
    const char *k;
    json_t *m, *p;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m) {
            if ((p = printable(m)))
                json_object_set_new(v, k, p);
            else
                cli_json_printable(m);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if ((p = printable(m = json_array_get(v, i))))
                json_array_set_new(v, i, p);
            else
                cli_json_printable(m);
        }
    }
}

int cli_error(const struct qloop_error *err)
{
    cli_print_error(err);
    return qloop_error_exit(err);
}

void cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s ? s : "null");
    free(s);
}

/* Whether the file at path exists and is the file st describes. */
static bool same_file(const char *path, const struct stat *st)
{
    struct stat o;
    return path && stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* Prints that --out at path would overwrite `what` and returns the exit code. */
static int refuse_out(const char *path, const char *reason, const char *what)
{
    struct qloop_buf safe = {0};
    qloop_escape_controls(path, strlen(path), 0, &safe);
    fprintf(stderr, "qloop: %s: --out 指向的%s（%s），不会覆盖它；请给出另一个普通文件的路径\n",
            qloop_buf_str(&safe), reason, what);
    qloop_buf_free(&safe);
    return QLOOP_EXIT_INPUT;
}

int cli_check_out(const char *path, const char *db, const char *const *inputs)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) /* nothing there yet (or unreachable: writing says why) */
        return 0;
    if (!S_ISREG(st.st_mode))
        return refuse_out(path, "不是普通文件",
                          S_ISDIR(st.st_mode)                          ? "是目录"
                          : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "是设备"
                          : S_ISFIFO(st.st_mode)                       ? "是管道"
                          : S_ISSOCK(st.st_mode)                       ? "是套接字"
                                                                       : "不是普通文件");
    if (db) {
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".lock"};
        char file[PATH_MAX + 16];
        for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
            snprintf(file, sizeof file, "%s%s", db, suffixes[i]);
            if (same_file(file, &st))
                return refuse_out(path, "是数据库自己的文件", "写入会毁掉数据库");
        }
        store_key_path(db, file, sizeof file);
        if (same_file(file, &st))
            return refuse_out(path, "是数据库的密钥文件", "写入会使数据库无法读取");
    }
    for (size_t i = 0; inputs && inputs[i]; i++)
        if (same_file(inputs[i], &st))
            return refuse_out(path, "是本命令要读取的输入", "写入会毁掉输入数据");
    return 0;
}

int cli_load_divisions(const char *path)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    return division_load_file(path, &err) == 0 ? 0 : cli_error(&err);
}

int cli_load_policy(const char *spec, struct qloop_policy *p)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    return policy_load_spec(spec, QLOOP_DATADIR, p, &err) == 0 ? 0 : cli_error(&err);
}

/* Loads one calendar load of the store into the calendar in use. */
static int load_notices(void *ctx, const char *text, size_t len, const char *source,
                        struct qloop_error *err)
{
    (void)ctx;
    return calendar_load_text(text, len, source, err) == 0 ? 0 : -1;
}

int cli_load_calendar(sqlite3 *db)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (store_calendar_each(db, load_notices, NULL, &err) == 0)
        return 0;
    cli_print_error(&err);
    fputs("qloop: 数据库中加载的节假日安排有误：请用 qloop calendar load 重新加载正确的安排\n", stderr);
    return qloop_error_exit(&err);
}

/* Checks a calendar file imported when a store is upgraded. */
static int check_notices(const char *text, size_t len, const char *name, struct qloop_error *err)
{
    struct calendar_notices *n = calendar_notices_parse(text, len, name, err);
    calendar_notices_free(n);
    return n ? 0 : -1;
}

/* cli_open_store and cli_create_store. */
static sqlite3 *open_store(const char *path, enum store_open_mode mode, int *rc)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (!path)
        path = store_default_path();
    store_calendar_set_check(check_notices);
    sqlite3 *db = NULL;
    if (division_init(&err) == 0)
        db = store_open_mode(path, mode, &err);
    if (!db) {
        *rc = cli_error(&err);
        return NULL;
    }
    if ((*rc = cli_load_calendar(db)) != 0) {
        store_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *cli_open_store(const char *path, int *rc)
{
    return open_store(path, STORE_EXISTING, rc);
}

sqlite3 *cli_create_store(const char *path, int *rc)
{
    return open_store(path, STORE_CREATE, rc);
}

/* cli_query on a store opened in mode. */
static int query_in(const struct cli_args *a, enum store_open_mode mode, cli_query_fn query,
                    json_t **out)
{
    *out = NULL;
    int rc;
    sqlite3 *db = open_store(cli_opt(a, "db"), mode, &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    rc = query(db, a, out, &err) == 0 ? QLOOP_EXIT_OK : cli_error(&err);
    store_close(db);
    return rc;
}

int cli_query(const struct cli_args *a, cli_query_fn query, json_t **out)
{
    return query_in(a, STORE_EXISTING, query, out);
}

/* cli_show on a store opened in mode. */
static int show_in(const struct cli_args *a, enum store_open_mode mode, cli_query_fn query,
                   void (*text)(json_t *, const struct cli_args *))
{
    json_t *res;
    int rc = query_in(a, mode, query, &res);
    if (rc != 0)
        return rc;
    if (cli_flag(a, "json"))
        cli_print_json(res);
    else
        text(res, a);
    json_decref(res);
    return QLOOP_EXIT_OK;
}

int cli_show(const struct cli_args *a, cli_query_fn query, void (*text)(json_t *, const struct cli_args *))
{
    return show_in(a, STORE_EXISTING, query, text);
}

int cli_show_creating(const struct cli_args *a, cli_query_fn query,
                      void (*text)(json_t *, const struct cli_args *))
{
    return show_in(a, STORE_CREATE, query, text);
}

const char *cli_state(const char *s)
{
    return ticket_state_parse(s);
}

void cli_console_actor(char *out, size_t size)
{
    const struct passwd *pw = getpwuid(geteuid());
    snprintf(out, size, "console:%s", pw && pw->pw_name ? pw->pw_name : "?");
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024.0 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b')
        end++;
    if (*end == 'B')
        end++;
    if (*end)
        return -1;
    /* a budget the run could never have (99999999999G would also overflow) */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double physical = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    if (v >= (double)SIZE_MAX || (physical > 0 && v > physical))
        return -2;
    *out = (size_t)v;
    return 0;
}

/* The store's path with symbolic links and . and .. resolved, into out: the
 * file itself when it exists, else its resolved folder and its name; the
 * path as given when even the folder cannot be resolved. */
static void resolved_store(const char *db, char *out, size_t size)
{
    char real[PATH_MAX];
    if (realpath(db, real)) {
        snprintf(out, size, "%s", real);
        return;
    }
    const char *slash = strrchr(db, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - db) + (slash == db) : 1,
             slash ? db : ".");
    if (realpath(dir, real))
        snprintf(out, size, "%s/%s", strcmp(real, "/") == 0 ? "" : real, slash ? slash + 1 : db);
    else
        snprintf(out, size, "%s", db);
}

int cli_run_lock(const char *db, bool wait)
{
    /* the path resolved, so that a store named through a symbolic link, or as
     * ./x/../q.db, is the same store and its runs never overlap */
    char store[PATH_MAX + 8], path[PATH_MAX + 16];
    resolved_store(db, store, sizeof store);
    snprintf(path, sizeof path, "%s.lock", store);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "qloop: %s: 无法创建运行锁（%s）；请检查数据库所在目录的写权限\n", path,
                strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        fprintf(stderr,
                "qloop: %s: 另一次运行正在使用这个数据库；请等它结束后再运行，或加 --wait 排队等待\n",
                db);
        close(fd);
        return -1;
    }
    return fd;
}

int cli_load_rules(const struct cli_args *a, struct pack **out,
                   bool (*divert)(void *ctx, const char *value), void *ctx)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct pack *p = *out = pack_new();
    if (!p) {
        fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
        return QLOOP_EXIT_INTERNAL;
    }
    const char *path;
    int it = 0, rc = 0;
    for (size_t n = 0; rc == 0 && (path = cli_next(a, "rules", &it)); n++)
        if (!(n > 0 && divert && divert(ctx, path)) && pack_load_path(p, path, &err) != 0)
            rc = -1;
    if (rc == 0 && pack_finish(p, &err) == 0)
        return 0;
    pack_free(p);
    *out = NULL;
    return cli_error(&err);
}

int cli_policy_file(const char *spec, char *out, size_t size)
{
    out[0] = '\0';
    if (!spec)
        return 0;
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_policy pol;
    if (policy_resolve(spec, QLOOP_DATADIR, out, size, &err) != 0 ||
        policy_load(out, &pol, &err) != 0)
        return cli_error(&err);
    return 0;
}

int cli_open_run_store(const char *db_path, bool create, bool wait, struct pack *p, sqlite3 **db,
                       int *lock)
{
    *db = NULL;
    if (!db_path)
        db_path = store_default_path();
    int rc = QLOOP_EXIT_INPUT;
    struct qloop_error perr;
    qloop_error_clear(&perr);
    if (store_check_path(db_path, &perr) != 0) { /* a device or a folder: no lock beside it */
        *lock = -1;
        return cli_error(&perr);
    }
    /* a store that must exist is opened first: a missing one leaves no lock file behind */
    if (!create && !(*db = cli_open_store(db_path, &rc))) {
        *lock = -1;
        return rc;
    }
    *lock = cli_run_lock(db_path, wait);
    if (*lock < 0 || (create && !(*db = cli_create_store(db_path, &rc)))) {
        store_close(*db);
        *db = NULL;
        if (*lock >= 0)
            close(*lock);
        *lock = -1;
        return rc;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    if (catalog_merge_pack(*db, p, &err) == 0)
        return 0;
    store_close(*db);
    *db = NULL;
    close(*lock);
    *lock = -1;
    return cli_error(&err);
}

void cli_print_run_outcome(const struct cli_args *a, const struct run_outcome *res,
                           const char *what)
{
    if (cli_flag(a, "json")) {
        char *text = json_dumps(res->summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else if (!cli_flag(a, "quiet")) {
        json_t *t = json_object_get(res->summary, "tickets");
        fprintf(stderr, "qloop: %s %s 完成：%lld 条记录有问题；工单 新开 %lld、更新 %lld、复核 %lld\n",
                what, res->run_id, (long long)res->failed_records,
                (long long)json_integer_value(json_object_get(t, "opened")),
                (long long)json_integer_value(json_object_get(t, "updated")),
                (long long)json_integer_value(json_object_get(t, "reverified")));
    }
    if (!cli_flag(a, "timings"))
        return;
    /* a merge reads shards, not data; both say how much CPU reading took */
    bool merge = strcmp(what, "合并运行") == 0;
    char cpu[48] = "";
    if (res->cpu_seconds_read > 0)
        snprintf(cpu, sizeof cpu, "（CPU %.2f 秒）", res->cpu_seconds_read);
    fprintf(stderr,
            "qloop: 阶段用时：%s %.2f 秒%s，写入结果 %.2f 秒，比对 %.2f 秒，"
            "目录检查 %.2f 秒，工单流转 %.2f 秒，提交 %.2f 秒\n",
            merge ? "读取与合并分片" : "读取、清洗与校验", res->seconds_read, cpu,
            res->seconds_store, res->seconds_compare, res->seconds_catalog,
            res->seconds_tickets, res->seconds_commit);
    fprintf(stderr, "qloop: 堆内存：%s\n",
            qloop_hugepages_on() ? "透明大页（glibc.malloc.hugetlb；QLOOP_HUGEPAGES=0 关闭）" : "普通页");
    if (!merge)
        fprintf(stderr, "qloop: Lua 记录规则：沿用上次结果 %lld 次，调用 %lld 次（QLOOP_MEMO=0 关闭沿用）\n",
                (long long)res->memo_reused, (long long)res->memo_called);
}

int cli_read_limits(const struct cli_args *a, size_t *jobs, size_t *memory)
{
    const char *v;
    char *end;
    if ((v = cli_opt(a, "jobs"))) {
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 1 || n > 64)
            return cli_fail(a, "--jobs 需要 1 到 64 之间的整数，而不是“%s”", v);
        *jobs = (size_t)n;
    }
    int sz;
    if ((v = cli_opt(a, "memory")) && (sz = cli_parse_size(v, memory)) != 0) {
        if (sz == -2) {
            long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
            return cli_fail(a, "--memory %s 超过本机内存（共约 %.1f GiB）；请给出不超过本机内存的预算，如 512M、2G",
                            v, pages > 0 && page > 0 ? (double)pages * (double)page / (1 << 30) : 0.0);
        }
        return cli_fail(a, "--memory 需要如 512M 或 2G 的大小，而不是“%s”", v);
    }
    return 0;
}
