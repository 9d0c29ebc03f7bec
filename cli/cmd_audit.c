/*
 * cmd_audit.c — `qloop audit verify`, `qloop audit anchor` and `qloop audit
 * list`.
 *
 * verify walks the keyed chain (store/audit_verify.c), checks the calendar
 * loads against it (store/calendar_loads.c) and replays the tickets from it
 * (loop/replay.c), and with --anchor FILE checks that the chain still
 * extends every anchor in FILE; it prints `ok N` (exit 0) or `broken at
 * WHERE: WHY` for the first problem (exit 1). anchor does the same checks and
 * prints the head as one line to keep outside the store. list prints the
 * entries, filtered by time, kind and subject, as tab-separated lines or as a
 * JSON array.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/escape.h"
#include "cli.h"
#include "loop/replay.h"
#include "store/audit.h"
#include "store/calendar_loads.h"
#include "store/store.h"

/* Reads the anchors of file into a (at most max); the number, or -1 after
 * printing the error. */
static int read_anchors(const char *file, struct audit_anchor *a, size_t max)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    FILE *f = fopen(file, "rb");
    if (!f) {
        qloop_error_set(&err, file, 0, 0, "无法读取锚点文件；请检查路径");
        cli_print_error(&err);
        return -1;
    }
    struct qloop_buf text = {0};
    qloop_buf_read(&text, f, 64u << 20); /* an anchor file is small: a longer one is read in part */
    fclose(f);
    int got = audit_anchor_parse(qloop_buf_str(&text), text.len, file, a, max, &err);
    qloop_buf_free(&text);
    if (got < 0)
        cli_print_error(&err);
    return got;
}

/* Everything verify checks: the chain, the calendar loads, the tickets, the
 * anchors of anchor_file (may be NULL). Prints `broken at ...` for the first
 * problem; returns the exit code (0 when whole, *count set). */
static int check_all(sqlite3 *db, const char *anchor_file, int64_t *count)
{
    enum { MAX_ANCHORS = 64 };
    struct audit_anchor anchors[MAX_ANCHORS];
    int nanchors = 0;
    if (anchor_file && (nanchors = read_anchors(anchor_file, anchors, MAX_ANCHORS)) < 0)
        return QLOOP_EXIT_INPUT;
    int64_t bad = 0;
    char why[1024];
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, count, &bad, why, sizeof why, &err);
    if (rc == 0 && (rc = store_calendar_verify(db, why, sizeof why, &err)) > 0) {
        printf("broken at calendar: %s\n", why);
        return QLOOP_EXIT_THRESHOLD;
    }
    if (rc == 0 && (rc = ticket_replay(db, &bad, NULL, why, sizeof why, &err)) > 0) {
        printf("broken at ticket:%lld: %s\n", (long long)bad, why);
        return QLOOP_EXIT_THRESHOLD;
    }
    for (int i = 0; rc == 0 && i < nanchors; i++) {
        if ((rc = audit_anchor_check(db, &anchors[i], why, sizeof why, &err)) > 0) {
            printf("broken at %lld: %s\n", (long long)anchors[i].seq, why);
            return QLOOP_EXIT_THRESHOLD;
        }
    }
    if (rc < 0)
        return cli_error(&err);
    if (rc > 0) {
        printf("broken at %lld: %s\n", (long long)bad, why);
        return QLOOP_EXIT_THRESHOLD;
    }
    int64_t from = 0;
    if (audit_keyed_from(db, &from, &err) == 0 && from > 1)
        fprintf(stderr,
                "qloop: 注意：第 1–%lld 条是数据库升级前写入的旧记录，只受普通哈希保护（没有密钥）；"
                "第 %lld 条起以密钥校验（docs/audit.md）\n",
                (long long)(from - 1), (long long)from);
    return QLOOP_EXIT_OK;
}

/* `qloop audit verify` and `qloop audit anchor`. */
static int verify_or_anchor(const struct cli_args *a, bool anchor)
{
    int status;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &status);
    if (!db)
        return status;
    int64_t count = 0;
    status = check_all(db, anchor ? NULL : cli_opt(a, "anchor"), &count);
    if (status == QLOOP_EXIT_OK && anchor) {
        struct audit_anchor an;
        struct qloop_error err;
        if (audit_anchor_take(db, &an, &err) != 0) {
            status = cli_error(&err);
        } else {
            char line[256];
            audit_anchor_format(&an, line, sizeof line);
            puts(line);
        }
    } else if (status == QLOOP_EXIT_OK) {
        printf("ok %lld\n", (long long)count);
    }
    store_close(db);
    return status;
}

static int do_verify(const struct cli_args *a) { return verify_or_anchor(a, false); }
static int do_anchor(const struct cli_args *a) { return verify_or_anchor(a, true); }

/* A JSON string of n bytes of s, or null when s is not UTF-8. */
static json_t *jstr(const unsigned char *s, int n)
{
    json_t *v = s ? json_stringn((const char *)s, (size_t)(n > 0 ? n : 0)) : NULL;
    return v ? v : json_null();
}

/* Prints one row (seq, at, kind, subject, actor, detail, prev_hash, hash)
 * as a compact JSON object. */
static void print_json_row(sqlite3_stmt *st)
{
    static const char *const keys[] = {"seq", "at", "kind", "subject", "actor",
                                       "detail", "prev_hash", "hash"};
    json_t *obj = json_object();
    json_object_set_new(obj, keys[0], json_integer(sqlite3_column_int64(st, 0)));
    for (int c = 1; c < 8; c++) {
        const unsigned char *text = sqlite3_column_text(st, c);
        int n = sqlite3_column_bytes(st, c);
        json_t *v = NULL;
        if (c == 5 && text) /* detail as the object it is (as text if tampered) */
            v = json_loadb((const char *)text, (size_t)n, 0, NULL);
        json_object_set_new(obj, keys[c], v ? v : jstr(text, n));
    }
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputs(s ? s : "null", stdout);
    free(s);
    json_decref(obj);
}

/* Prints one row as tab-separated text; tabs inside values become spaces
 * and other control characters visible escapes (base/escape.h), so each
 * entry stays one line and nothing in it drives the terminal. */
static void print_text_row(sqlite3_stmt *st)
{
    printf("%lld", (long long)sqlite3_column_int64(st, 0));
    struct qloop_buf safe = {0};
    for (int c = 1; c < 6; c++) {
        const char *text = (const char *)sqlite3_column_text(st, c);
        qloop_buf_reset(&safe);
        qloop_escape_controls(text ? text : "", (size_t)sqlite3_column_bytes(st, c), 0, &safe);
        putchar('\t');
        for (const char *p = qloop_buf_str(&safe); *p; p++)
            putchar(*p == '\t' ? ' ' : *p);
    }
    qloop_buf_free(&safe);
    putchar('\n');
}

/* `qloop audit list`. */
static int do_list(const struct cli_args *a)
{
    const char *since_arg = cli_opt(a, "since"), *kind = cli_opt(a, "kind");
    const char *subject = cli_opt(a, "subject");
    bool json = cli_flag(a, "json");
    char since[32] = "";
    if (since_arg) {
        int64_t t;
        if (!qloop_parse_datetime(since_arg, &t))
            return cli_fail(a, "--since 的时间无法识别：“%s”；请写成 YYYY-MM-DD 或 "
                               "2024-09-27T10:00:00+08:00",
                            since_arg);
        /* Every entry's time is written by qloop_format_datetime, so the
         * same format compares correctly as text. */
        qloop_format_datetime(t, since);
    }
    int status;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &status);
    if (!db)
        return status;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, at, kind, subject, actor, detail, prev_hash, hash FROM audit"
                           " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR kind = ?2)"
                           " AND (?3 IS NULL OR subject = ?3) ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        struct qloop_error err;
        store_error(db, "读取审计记录", &err);
        store_close(db);
        return cli_error(&err);
    }
    if (since_arg)
        sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    if (kind)
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (subject)
        sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);

    int rc, n = 0;
    status = QLOOP_EXIT_OK;
    if (json)
        fputs("[", stdout);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (json) {
            fputs(n ? ",\n" : "\n", stdout);
            print_json_row(st);
        } else {
            print_text_row(st);
        }
        n++;
    }
    if (json)
        fputs(n ? "\n]\n" : "]\n", stdout);
    if (rc != SQLITE_DONE) {
        struct qloop_error err;
        store_error(db, "读取审计记录", &err);
        status = cli_error(&err);
    }
    sqlite3_finalize(st);
    store_close(db);
    return status;
}

static const struct cli_option verify_options[] = {
    {"anchor", 0, "FILE", 0,
     "再核对审计链仍然延续 FILE 中的每个锚点（qloop audit anchor 的输出，可夹在别的文字中）"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option anchor_options[] = {CLI_OPT_DB, CLI_OPT_END};

static const struct cli_option list_options[] = {
    {"since", 0, "DATE", 0, "只列出该时间及之后的记录（YYYY-MM-DD 或 ISO 8601 时间）"},
    {"kind", 0, "K", 0, "只列出该类型，如 ticket.transition、catalog.change"},
    {"subject", 0, "S", 0, "只列出该对象，如 ticket:12、catalog:population"},
    CLI_OPT_JSON("输出 JSON 数组：seq, at, kind, subject, actor, detail, prev_hash, hash"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command audit_subs[] = {
    {"verify", "[--anchor FILE] [--db PATH]",
     "逐条核对审计链（每条的密钥校验值、前后链接、链头登记），再按审计链重放每张工单的状态、"
     "答复期限和数源部门，并核对加载过的节假日安排：完整时输出“ok 条数”，退出码 0；"
     "发现问题时输出“broken at 位置: 原因”（第一处问题），退出码 1；没有密钥文件时退出码 2。",
     "需要数据库的密钥文件。--anchor 核对锚点之前的记录没有被改写（docs/audit.md）。\n",
     verify_options, 0, 0, do_verify},
    {"anchor", "[--db PATH]",
     "先做与 verify 相同的核对，完整时打印一行链头（锚点）：qloop-audit-anchor seq=序号 "
     "hash=校验值 at=时间。",
     "请把锚点保存在数据库之外（年度报告、发给领导的邮件、时间戳服务），以后用\n"
     "qloop audit verify --anchor FILE 核对：同时拥有数据库和密钥文件的人能改写锚点之后的记录，\n"
     "但改写不了锚点之前的记录而不被发现。\n",
     anchor_options, 0, 0, do_anchor},
    {"list", "[--since DATE] [--kind K] [--subject S] [--json] [--db PATH]",
     "按序号列出审计记录，默认每条一行，以制表符分隔：序号、时间、类型、对象、操作人、详情(JSON)。",
     NULL, list_options, 0, 0, do_list},
};

static const struct cli_group audit_group = {
    "audit",
    "审计链：只追加、不可改；每条记录带有以数据库密钥文件计算的校验值和前一条的校验值，"
    "没有密钥的人做的任何修改、删除、调换或截断都会被发现（docs/audit.md）。",
    NULL, audit_subs, sizeof audit_subs / sizeof audit_subs[0],
};

int cmd_audit(int argc, char **argv)
{
    return cli_run_group(&audit_group, argc, argv);
}
