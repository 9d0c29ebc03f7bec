/*
 * cmd_audit.c — `qloop audit verify` and `qloop audit list`.
 *
 * verify walks the tamper-evident chain (audit.c) and prints `ok N` (exit 0)
 * or `broken at SEQ: WHY` (exit 1). list prints the entries, filtered by
 * time, kind and subject, as tab-separated lines or as a JSON array.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/escape.h"
#include "store/audit.h"
#include "cli.h"
#include "base/clock.h"
#include "store/store.h"

/* `qloop audit verify`. */
static int do_verify(const struct cli_args *a)
{
    int rc;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &rc);
    if (!db)
        return rc;
    int64_t count = 0, bad = 0;
    char why[512];
    struct qloop_error err;
    qloop_error_clear(&err);
    rc = audit_verify(db, &count, &bad, why, sizeof why, &err);
    store_close(db);
    if (rc < 0)
        return cli_error(&err);
    if (rc > 0) {
        printf("broken at %lld: %s\n", (long long)bad, why);
        return QLOOP_EXIT_THRESHOLD;
    }
    printf("ok %lld\n", (long long)count);
    return QLOOP_EXIT_OK;
}

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

static const struct cli_option verify_options[] = {CLI_OPT_DB, CLI_OPT_END};

static const struct cli_option list_options[] = {
    {"since", 0, "DATE", 0, "只列出该时间及之后的记录（YYYY-MM-DD 或 ISO 8601 时间）"},
    {"kind", 0, "K", 0, "只列出该类型，如 ticket.transition、catalog.change"},
    {"subject", 0, "S", 0, "只列出该对象，如 ticket:12、catalog:population"},
    CLI_OPT_JSON("输出 JSON 数组：seq, at, kind, subject, actor, detail, prev_hash, hash"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command audit_subs[] = {
    {"verify", "[--db PATH]",
     "逐条核对审计链（内容哈希、前后链接、链头登记）：完整时输出“ok 条数”，退出码 0；"
     "发现篡改时输出“broken at 序号: 原因”（第一处问题），退出码 1。",
     NULL, verify_options, 0, 0, do_verify},
    {"list", "[--since DATE] [--kind K] [--subject S] [--json] [--db PATH]",
     "按序号列出审计记录，默认每条一行，以制表符分隔：序号、时间、类型、对象、操作人、详情(JSON)。",
     NULL, list_options, 0, 0, do_list},
};

static const struct cli_group audit_group = {
    "audit",
    "审计链：只追加、不可改；每条记录带有前一条的哈希，任何修改、删除或调换都会被发现。",
    NULL, audit_subs, sizeof audit_subs / sizeof audit_subs[0],
};

int cmd_audit(int argc, char **argv)
{
    return cli_run_group(&audit_group, argc, argv);
}
