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

#include "store/audit.h"
#include "cli.h"
#include "base/clock.h"
#include "store/store.h"

static const char usage_all[] =
    "用法：qloop audit verify [--db PATH]\n"
    "      qloop audit list [--since DATE] [--kind K] [--subject S] [--json] [--db PATH]\n"
    "\n"
    "审计日志只追加、不可改：每条记录带有前一条的哈希，任何修改、删除或调换都会被发现。\n"
    "  verify   逐条核对审计链\n"
    "  list     列出审计记录\n"
    "用 qloop audit verify --help 或 qloop audit list --help 查看各自的选项。\n";

static const char usage_verify[] =
    "用法：qloop audit verify [--db PATH]\n"
    "\n"
    "逐条核对审计链（内容哈希、前后链接、链头登记）。\n"
    "完整时输出 \"ok 条数\"，退出码 0；\n"
    "发现篡改时输出 \"broken at 序号: 原因\"（第一处问题），退出码 1。\n"
    "\n"
    "  --db PATH   数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help      显示本说明\n";

static const char usage_list[] =
    "用法：qloop audit list [--since DATE] [--kind K] [--subject S] [--json] [--db PATH]\n"
    "\n"
    "按序号列出审计记录。默认每条一行，以制表符分隔：\n"
    "  序号  时间  类型  对象  操作人  详情(JSON)\n"
    "\n"
    "  --since DATE   只列出该时间及之后的记录（YYYY-MM-DD 或 ISO 8601 时间）\n"
    "  --kind K       只列出该类型，如 ticket.transition、catalog.change\n"
    "  --subject S    只列出该对象，如 ticket:12、catalog:population\n"
    "  --json         输出 JSON 数组：seq, at, kind, subject, actor, detail, prev_hash, hash\n"
    "  --db PATH      数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help         显示本说明\n";

struct audit_opts {
    const char *sub;     /* "verify" or "list" */
    const char *db;      /* --db, NULL for the default */
    const char *since;   /* --since */
    const char *kind;    /* --kind */
    const char *subject; /* --subject */
    int json;            /* --json */
    int help;            /* --help / -h */
};

/* Parses argv (argv[0] = "audit"). Returns 0, or an exit code after
 * printing a usage error. */
static int parse(int argc, char **argv, struct audit_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int r;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if ((r = cli_take_value("audit", "--db", argc, argv, &i, &o->db)) != 0 ||
            (r = cli_take_value("audit", "--since", argc, argv, &i, &o->since)) != 0 ||
            (r = cli_take_value("audit", "--kind", argc, argv, &i, &o->kind)) != 0 ||
            (r = cli_take_value("audit", "--subject", argc, argv, &i, &o->subject)) != 0) {
            if (r < 0)
                return QLOOP_EXIT_INPUT;
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0')
            return cli_usage_error("未知选项 %s；运行 qloop audit --help 查看用法", arg);
        if (o->sub)
            return cli_usage_error("多余的参数 %s；运行 qloop audit --help 查看用法", arg);
        o->sub = arg;
    }
    return 0;
}

/* `qloop audit verify`. */
static int do_verify(const struct audit_opts *o)
{
    if (o->since || o->kind || o->subject || o->json)
        return cli_usage_error("audit verify 只接受 --db；"
                               "--since、--kind、--subject、--json 属于 audit list");
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    int64_t count = 0, bad = 0;
    char why[512];
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, &count, &bad, why, sizeof why, &err);
    store_close(db);
    if (rc < 0) {
        cli_print_error(&err);
        return QLOOP_EXIT_INTERNAL;
    }
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

/* Prints one row as tab-separated text; tabs and newlines inside values
 * become spaces so each entry stays one line. */
static void print_text_row(sqlite3_stmt *st)
{
    printf("%lld", (long long)sqlite3_column_int64(st, 0));
    for (int c = 1; c < 6; c++) {
        const unsigned char *text = sqlite3_column_text(st, c);
        putchar('\t');
        for (const unsigned char *p = text; p && *p; p++)
            putchar(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p);
    }
    putchar('\n');
}

/* `qloop audit list`. */
static int do_list(const struct audit_opts *o)
{
    char since[32] = "";
    if (o->since) {
        int64_t t;
        if (!qloop_parse_datetime(o->since, &t))
            return cli_usage_error("--since 的时间无法识别：\"%s\"；请写成 YYYY-MM-DD 或 "
                                   "2024-09-27T10:00:00+08:00",
                                   o->since);
        /* Every entry's time is written by qloop_format_datetime, so the
         * same format compares correctly as text. */
        qloop_format_datetime(t, since);
    }
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, at, kind, subject, actor, detail, prev_hash, hash FROM audit"
                           " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR kind = ?2)"
                           " AND (?3 IS NULL OR subject = ?3) ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        struct qloop_error err;
        store_error(db, "读取审计记录", &err);
        cli_print_error(&err);
        store_close(db);
        return QLOOP_EXIT_INTERNAL;
    }
    if (o->since)
        sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    if (o->kind)
        sqlite3_bind_text(st, 2, o->kind, -1, SQLITE_STATIC);
    if (o->subject)
        sqlite3_bind_text(st, 3, o->subject, -1, SQLITE_STATIC);

    int rc, n = 0;
    if (o->json)
        fputs("[", stdout);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (o->json) {
            fputs(n ? ",\n" : "\n", stdout);
            print_json_row(st);
        } else {
            print_text_row(st);
        }
        n++;
    }
    if (o->json)
        fputs(n ? "\n]\n" : "]\n", stdout);
    int status = QLOOP_EXIT_OK;
    if (rc != SQLITE_DONE) {
        struct qloop_error err;
        store_error(db, "读取审计记录", &err);
        cli_print_error(&err);
        status = QLOOP_EXIT_INTERNAL;
    }
    sqlite3_finalize(st);
    store_close(db);
    return status;
}

int cmd_audit(int argc, char **argv)
{
    struct audit_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (!o.sub) {
        if (o.help) {
            fputs(usage_all, stdout);
            return QLOOP_EXIT_OK;
        }
        fputs(usage_all, stderr);
        return cli_usage_error("audit 需要子命令 verify 或 list");
    }
    if (strcmp(o.sub, "verify") == 0) {
        if (o.help) {
            fputs(usage_verify, stdout);
            return QLOOP_EXIT_OK;
        }
        return do_verify(&o);
    }
    if (strcmp(o.sub, "list") == 0) {
        if (o.help) {
            fputs(usage_list, stdout);
            return QLOOP_EXIT_OK;
        }
        return do_list(&o);
    }
    return cli_usage_error("未知的 audit 子命令 \"%s\"；可用 verify 或 list（qloop audit --help）",
                           o.sub);
}
