/*
 * cmd_tickets.c — `qloop tickets ...`: the closed loop 发现-反馈-修正-共享 on
 * the command line. list and show read tickets (JSON exactly as CONTRACT.md,
 * or Chinese text); feedback, resolve, extend, approve, reject and verify
 * move a ticket, each in one transaction; file (系统填报) and import
 * (接口对接, all or nothing) report problem data. A refused move or bad input
 * exits 2 with what is allowed; a store failure exits 3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "cli.h"
#include "base/clock.h"
#include "rules/policy.h"
#include "store/store.h"
#include "loop/ticket.h"


/* ---- arguments ------------------------------------------------------------ */

/* Reads the ticket id of positional 0 ("12" or "#12"). */
static int ticket_id(const struct cli_args *a, int64_t *id)
{
    if (a->npos < 1)
        return cli_fail(a, "需要工单编号，例如 qloop tickets %s 12", a->cmd->name);
    const char *s = a->pos[0];
    if (*s == '#')
        s++;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0)
        return cli_fail(a, "工单编号应为正整数，收到的是“%s”", a->pos[0]);
    *id = v;
    return 0;
}

/* Loads --policy (the default when absent) and opens the store: the first
 * steps of every subcommand. Returns the store, or NULL with *rc the exit
 * code. */
static sqlite3 *open_with_policy(const struct cli_args *a, struct qloop_policy *pol, int *rc)
{
    if ((*rc = cli_load_policy(cli_opt(a, "policy"), pol)) != 0)
        return NULL;
    return cli_open_store(cli_opt(a, "db"), rc);
}

/* Ends the transaction a change ran in: commits when r is 0, else rolls
 * back. Returns the exit code (the error printed). */
static int finish(sqlite3 *db, int r, struct qloop_error *err)
{
    if (r == 0 && store_commit(db, err) != 0)
        r = -1;
    if (r == 0)
        return QLOOP_EXIT_OK;
    store_rollback(db);
    return cli_error(err);
}

/* ---- human output -------------------------------------------------------- */

/* The string member k of o, "" when absent or not a string. */
static const char *jget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "YYYY-MM-DD" of an ISO time, "—" when unset. */
static void jdate(json_t *o, const char *k, char out[16])
{
    const char *s = jget(o, k);
    snprintf(out, 16, "%.10s", *s ? s : "—");
}

/* The list in Chinese, one ticket a line. */
static void print_list(json_t *arr, const struct cli_args *a)
{
    cli_json_printable(arr);
    size_t n = json_array_size(arr);
    if (n == 0) {
        puts("没有符合条件的工单");
        return;
    }
    size_t overdue = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        char received[16], deadline[16];
        jdate(t, "received_at", received);
        jdate(t, "deadline", deadline);
        bool od = json_is_true(json_object_get(t, "overdue"));
        overdue += od;
        printf("#%-5lld %-8s %s / %s  %s  问题记录 %lld 条  接收 %s  期限 %s%s%s\n",
               (long long)json_integer_value(json_object_get(t, "id")), jget(t, "state_zh"),
               jget(t, "dataset"), jget(t, "rule"), jget(t, "dept"),
               (long long)json_integer_value(json_object_get(t, "items")), received, deadline,
               json_is_true(json_object_get(t, "urgent")) ? "（紧急）" : "", od ? "  已超期" : "");
    }
    printf("共 %zu 张工单", n);
    if (overdue)
        printf("，其中 %zu 张已超期", overdue);
    putchar('\n');
}

/* The Chinese name of an item state. */
static const char *item_state_zh(const char *s)
{
    if (strcmp(s, "open") == 0)
        return "未整改";
    if (strcmp(s, "missing") == 0)
        return "数据中缺失";
    if (strcmp(s, "fixed") == 0)
        return "已整改";
    if (strcmp(s, "closed") == 0)
        return "已关闭";
    return s;
}

/* One ticket in Chinese: details, records, history. */
static void print_show(json_t *t, const struct cli_args *a)
{
    cli_json_printable(t);
    printf("工单 #%lld  数据集 %s  规则 %s  来源 %s\n",
           (long long)json_integer_value(json_object_get(t, "id")), jget(t, "dataset"),
           jget(t, "rule"), jget(t, "source"));
    printf("数源部门：%s\n", jget(t, "dept"));
    printf("状态：%s（%s）%s%s\n", jget(t, "state_zh"), jget(t, "state"),
           json_is_true(json_object_get(t, "urgent")) ? "  紧急" : "",
           json_is_true(json_object_get(t, "overdue")) ? "  已超期" : "");
    if (*jget(t, "message"))
        printf("问题：%s\n", jget(t, "message"));
    printf("发现：%s（%s）\n", jget(t, "opened_at"), jget(t, "opened_by"));
    printf("接收：%s\n", *jget(t, "received_at") ? jget(t, "received_at") : "—（尚未交数源部门）");
    printf("答复期限：%s\n", *jget(t, "deadline") ? jget(t, "deadline") : "—");
    if (*jget(t, "answered_at"))
        printf("答复：%s\n", jget(t, "answered_at"));
    if (*jget(t, "closed_at"))
        printf("关闭：%s\n", jget(t, "closed_at"));
    json_t *e = json_object_get(t, "extension_request");
    if (json_is_object(e))
        printf("待审批的延期申请：至 %.10s（%s 提出，理由：%s）\n", jget(e, "until"), jget(e, "actor"),
               jget(e, "reason"));
    json_t *recs = json_object_get(t, "records");
    printf("问题记录（未关闭 %lld 条 / 共 %zu 条；“数据第 N 行”是第 N 条记录，不计表头，"
           "不是文件的行号）：\n",
           (long long)json_integer_value(json_object_get(t, "items")), json_array_size(recs));
    if (json_integer_value(json_object_get(t, "revealed")) > 0)
        printf("  （其中 %lld 条显示原文：仅供本部门核对，请勿外传；本次查看已记入审计链）\n",
               (long long)json_integer_value(json_object_get(t, "revealed")));
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *r = json_array_get(recs, i);
        printf("  [%s] ", item_state_zh(jget(r, "state")));
        if (json_is_integer(json_object_get(r, "row_no")))
            printf("数据第 %lld 行  ", (long long)json_integer_value(json_object_get(r, "row_no")));
        printf("主键 %s", jget(r, "record_key"));
        if (*jget(r, "field"))
            printf("  字段 %s", jget(r, "field"));
        if (*jget(r, "value"))
            printf("  值 %s", jget(r, "value"));
        if (*jget(r, "message"))
            printf("  %s", jget(r, "message"));
        if (json_is_integer(json_object_get(r, "reopened_from")))
            printf("  （曾在工单 #%lld 中整改过）",
                   (long long)json_integer_value(json_object_get(r, "reopened_from")));
        putchar('\n');
    }
    json_t *hist = json_object_get(t, "history");
    printf("历史：\n");
    for (size_t i = 0; i < json_array_size(hist); i++) {
        json_t *h = json_array_get(hist, i);
        const char *from = jget(h, "from"), *to = jget(h, "to"), *ev = jget(h, "event");
        if (strcmp(from, to) == 0)
            printf("  %s  %s  %s（%s）", jget(h, "at"), jget(h, "actor"),
                   strcmp(ev, "extend_request") == 0    ? "申请延期"
                   : strcmp(ev, "extend_approve") == 0  ? "批准延期"
                   : strcmp(ev, "extend_reject") == 0   ? "驳回延期"
                   : strcmp(ev, "recheck_missing") == 0 ? "待人工复核"
                                                        : ev,
                   ticket_state_zh(to));
        else
            printf("  %s  %s  %s → %s", jget(h, "at"), jget(h, "actor"),
                   *from ? ticket_state_zh(from) : "（新建）", ticket_state_zh(to));
        if (*jget(h, "reason"))
            printf("  %s", jget(h, "reason"));
        if (strcmp(jget(h, "deadline_before"), jget(h, "deadline_after")) != 0)
            printf("  期限 %.10s → %.10s", *jget(h, "deadline_before") ? jget(h, "deadline_before") : "—",
                   *jget(h, "deadline_after") ? jget(h, "deadline_after") : "—");
        putchar('\n');
    }
}

/* Prints the ticket's state and deadline after a change. */
static void print_after(sqlite3 *db, int64_t id, const char *what)
{
    struct qloop_error err;
    json_t *t = NULL;
    if (ticket_show_json(db, id, &t, &err) != 0)
        return;
    cli_json_printable(t);
    char deadline[16];
    jdate(t, "deadline", deadline);
    printf("工单 #%lld %s：状态 %s（%s），答复期限 %s\n", (long long)id, what, jget(t, "state_zh"),
           jget(t, "state"), deadline);
    json_decref(t);
}

/* ---- subcommands ----------------------------------------------------------- */

/* tickets list. */
static int query_list(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    struct ticket_filter f = {cli_state(cli_opt(a, "state")), cli_opt(a, "dept"),
                              cli_flag(a, "overdue"), cli_opt(a, "actor")};
    return ticket_list_json(db, &f, out, err);
}

static int do_list(const struct cli_args *a)
{
    const char *state = cli_opt(a, "state");
    if (state && !cli_state(state))
        return cli_fail(a, "--state 应为 discovered（发现）、feedback（反馈）、corrected（修正）、"
                           "shared（共享）、confirmed（确认无误）或 negotiated（沟通解决），收到的是“%s”",
                        state);
    struct qloop_policy pol;
    int rc = cli_load_policy(cli_opt(a, "policy"), &pol);
    return rc ? rc : cli_show(a, query_list, print_list);
}

/* tickets show ID. */
static int query_show(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    int64_t id;
    ticket_id(a, &id); /* checked by do_show */
    return ticket_show_json_as(db, id, cli_opt(a, "actor"),
                               cli_flag(a, "reveal") ? TICKET_REVEAL : TICKET_MASKED, out, err);
}

static int do_show(const struct cli_args *a)
{
    int64_t id;
    struct qloop_policy pol;
    int rc = ticket_id(a, &id);
    if (rc == 0)
        rc = cli_load_policy(cli_opt(a, "policy"), &pol);
    return rc ? rc : cli_show(a, query_show, print_show);
}

/* Checks what the move a's subcommand names needs beyond its table. Returns
 * 0, or the exit code after a usage error. */
static int check_move(const struct cli_args *a)
{
    const char *sub = a->cmd->name;
    if (strcmp(sub, "feedback") == 0) {
        if (cli_flag(a, "urgent") && !cli_opt(a, "deadline"))
            return cli_fail(a, "紧急工单（--urgent）需要 --deadline 日期时间，例如 "
                               "--deadline 2024-09-30T18:00:00+08:00");
        if (cli_opt(a, "deadline") && !cli_flag(a, "urgent"))
            return cli_fail(a, "--deadline 只用于紧急工单；请同时给出 --urgent");
    } else if (strcmp(sub, "verify") == 0) {
        if (cli_flag(a, "pass") == cli_flag(a, "fail"))
            return cli_fail(a, "需要 --pass 或 --fail 之一");
        if (cli_flag(a, "fail") && !cli_opt(a, "reason"))
            return cli_fail(a, "--fail 需要 --reason T（复核未通过的原因）");
    }
    return 0;
}

/* Makes the move a's subcommand names on ticket id. Returns what the
 * engine returned (0, or -1 with err). */
static int move(sqlite3 *db, const struct cli_args *a, int64_t id, const struct qloop_policy *pol,
                struct qloop_error *err)
{
    const char *sub = a->cmd->name, *actor = cli_opt(a, "actor"), *reason = cli_opt(a, "reason");
    if (strcmp(sub, "feedback") == 0)
        return ticket_feedback(db, id, actor, cli_flag(a, "urgent"), cli_opt(a, "deadline"), pol, err);
    if (strcmp(sub, "resolve") == 0)
        return ticket_resolve(db, id, cli_opt(a, "as"), actor, cli_opt(a, "note"), err);
    if (strcmp(sub, "extend") == 0)
        return ticket_extend(db, id, cli_opt(a, "until"), reason, actor, pol, err);
    if (strcmp(sub, "approve") == 0)
        return ticket_approve(db, id, actor, pol, err);
    if (strcmp(sub, "reject") == 0)
        return ticket_reject(db, id, actor, reason, pol, err);
    return ticket_verify(db, id, actor, cli_flag(a, "pass"), reason, err);
}

/* feedback, resolve, extend, approve, reject, verify: checks the options the
 * move needs, makes it in one transaction, prints the new state. Returns
 * the exit code. */
static int do_move(const struct cli_args *a)
{
    static const struct {
        const char *sub, *done;
    } done[] = {
        {"feedback", "已交数源部门"},      {"resolve", "已记录答复"},
        {"extend", "已提交延期申请，待审批"}, {"approve", "延期已批准"},
        {"reject", "延期申请已驳回"},       {"verify", "已记录复核结果"},
    };
    int64_t id;
    int rc = ticket_id(a, &id);
    if (rc != 0 || (rc = check_move(a)) != 0)
        return rc;
    struct qloop_policy pol;
    sqlite3 *db = open_with_policy(a, &pol, &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (store_begin(db, &err) != 0)
        rc = cli_error(&err);
    else
        rc = finish(db, move(db, a, id, &pol, &err), &err);
    for (size_t i = 0; rc == 0 && i < sizeof done / sizeof done[0]; i++)
        if (strcmp(a->cmd->name, done[i].sub) == 0)
            print_after(db, id, done[i].done);
    store_close(db);
    return rc;
}

/* tickets file (系统填报): returns the exit code. */
static int do_file(const struct cli_args *a)
{
    struct qloop_policy pol;
    int rc;
    sqlite3 *db = open_with_policy(a, &pol, &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_report r = {cli_opt(a, "dataset"), cli_opt(a, "key"),     cli_opt(a, "field"),
                              cli_opt(a, "value"),   cli_opt(a, "message"), cli_opt(a, "actor"),
                              cli_opt(a, "dept"),    cli_opt(a, "rule")};
    int64_t tid = 0;
    bool dup = false;
    if (store_begin(db, &err) != 0)
        rc = cli_error(&err);
    else
        rc = finish(db, ticket_file(db, &r, "file", &pol, &tid, &dup, &err), &err);
    if (rc == 0 && dup)
        printf("该记录已在未关闭的工单 #%lld 中跟踪，未重复登记\n", (long long)tid);
    else if (rc == 0)
        print_after(db, tid, "已登记问题报告");
    store_close(db);
    return rc;
}

/* One parsed line of an import file. */
struct line_report {
    long line;
    json_t *obj;
    struct ticket_report r;
};

/* Parses one JSON line into lr; -1 with err naming path:line. */
static int parse_line(const char *path, long lineno, const char *text, struct line_report *lr,
                      struct qloop_error *err)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return qloop_error_set(err, path, lineno, je.column > 0 ? je.column : 0,
                               "不是合法的 JSON：%s；每行应为一个对象，例如 "
                               "{\"dataset\":\"people\",\"key\":\"P001\",\"field\":\"phone\","
                               "\"message\":\"号码错误\",\"actor\":\"张三\"}",
                               je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return qloop_error_set(err, path, lineno, 0, "每行应为一个 JSON 对象（{...}）");
    }
    static const char *const keys[] = {"dataset", "key",  "field", "message",
                                       "actor",   "dept", "rule",  "value"};
    const char *vals[8] = {0};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int idx = -1;
        for (int i = 0; i < 8; i++)
            if (strcmp(k, keys[i]) == 0)
                idx = i;
        if (idx < 0) {
            qloop_error_set(err, path, lineno, 0,
                            "未知的字段 \"%.64s\"；可用字段：dataset、key、field、message、actor、"
                            "dept、rule、value",
                            k);
            json_decref(o);
            return -1;
        }
        if (json_is_null(v) && idx != 0 && idx != 1 && idx != 3 && idx != 4)
            continue;
        if (!json_is_string(v)) {
            qloop_error_set(err, path, lineno, 0, "字段 \"%s\" 应为字符串", k);
            json_decref(o);
            return -1;
        }
        vals[idx] = json_string_value(v);
    }
    static const char *const required[] = {"dataset", "key", "message", "actor"};
    static const int ridx[] = {0, 1, 3, 4};
    for (int i = 0; i < 4; i++)
        if (!vals[ridx[i]] || !*vals[ridx[i]]) {
            qloop_error_set(err, path, lineno, 0, "缺少字段 \"%s\"（必填：dataset、key、message、actor）",
                            required[i]);
            json_decref(o);
            return -1;
        }
    lr->line = lineno;
    lr->obj = o;
    lr->r = (struct ticket_report){vals[0], vals[1], vals[2], vals[7],
                                   vals[3], vals[4], vals[5], vals[6]};
    return 0;
}

/* Reads every report of the JSON Lines file path ("-": standard input) into
 * *lines (*n of them), checking each; nothing is written. Returns 0, or -1
 * with err naming the file and line. */
static int read_reports(const char *path, struct line_report **lines, size_t *n,
                        struct qloop_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return qloop_error_set(err, path, 0, 0, "无法打开文件：%s；请检查路径和读权限", strerror(errno));
    size_t cap = 0;
    char *buf = NULL;
    size_t bufsize = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&buf, &bufsize, f)) >= 0) {
        lineno++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        if ((size_t)len != strlen(buf)) {
            rc = qloop_error_set(err, path, lineno, 0, "行中含有 NUL 字节；请检查文件编码");
            break;
        }
        const char *p = buf;
        if (lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            *lines = qloop_xrealloc(*lines, cap * sizeof **lines);
        }
        if ((rc = parse_line(path, lineno, p, &(*lines)[*n], err)) == 0)
            ++*n;
    }
    if (rc == 0 && ferror(f))
        rc = qloop_error_set(err, path, 0, 0, "读取文件失败：%s", strerror(errno));
    if (rc == 0 && *n == 0)
        rc = qloop_error_set(err, path, 0, 0, "文件中没有问题报告（每行一个 JSON 对象）");
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Files every report of lines (read from path) in the open transaction.
 * Returns 0 with *added and *dups counted, or the engine's -1 (a refused
 * report, err naming its line) or -2 with err. */
static int file_reports(sqlite3 *db, const char *path, struct line_report *lines, size_t n,
                        const struct qloop_policy *pol, long *added, long *dups,
                        struct qloop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        int64_t tid;
        int rc = ticket_file(db, &lines[i].r, "import", pol, &tid, &dup, err);
        if (rc == -1)
            qloop_error_set(err, path, lines[i].line, 0, "%s；未导入任何报告", err->message);
        if (rc != 0)
            return rc;
        ++*(dup ? dups : added);
    }
    return 0;
}

/* tickets import FILE (接口对接): every line is checked before anything is
 * written, then all are filed in one transaction. Returns the exit code. */
static int do_import(const struct cli_args *a)
{
    const char *path = a->pos[0];
    struct qloop_error err;
    qloop_error_clear(&err);
    struct line_report *lines = NULL;
    size_t n = 0;
    long added = 0, dups = 0;
    struct qloop_policy pol;
    sqlite3 *db = NULL;
    int rc = cli_load_policy(cli_opt(a, "policy"), &pol);
    if (rc == 0 && read_reports(path, &lines, &n, &err) != 0)
        rc = cli_error(&err);
    if (rc == 0 && (db = cli_open_store(cli_opt(a, "db"), &rc))) {
        if (store_begin(db, &err) != 0)
            rc = cli_error(&err);
        else
            rc = finish(db, file_reports(db, path, lines, n, &pol, &added, &dups, &err), &err);
    }
    if (rc == 0)
        printf("已导入 %zu 条问题报告：新登记 %ld 条，%ld 条已在未关闭的工单中（未重复登记）\n", n,
               added, dups);
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i].obj);
    free(lines);
    store_close(db);
    return rc;
}

/* ---- the table ------------------------------------------------------------- */

#define STATES_TEXT                                                                                \
    "状态：discovered 发现、feedback 反馈、corrected 修正、shared 共享、confirmed 确认无误、\n"    \
    "negotiated 沟通解决；--state 接受英文或中文。\n"

#define OPT_ACTOR {"actor", 0, "A", CLI_REQUIRED | CLI_TEXT, "操作人（数据库有用户后为其登录名）"}
#define OPT_VIEWER(what) {"actor", 0, "A", CLI_TEXT, what}
#define OPT_COMMON CLI_OPT_DB, CLI_OPT_POLICY, CLI_OPT_END

static const struct cli_option list_options[] = {
    {"state", 0, "S", 0, "只列出该状态的工单（英文或中文：feedback 或 反馈，见下文）"},
    {"dept", 0, "D", CLI_TEXT, "只列出该数源部门的工单"},
    {"overdue", 0, NULL, 0, "只列出已超期的工单"},
    CLI_OPT_JSON("以 JSON 数组输出（字段见 CONTRACT.md）"),
    OPT_VIEWER("只列出该用户可见的工单（不给出时：控制台，全部工单）"),
    OPT_COMMON,
};
static const struct cli_option show_options[] = {
    CLI_OPT_JSON("以 JSON 输出：工单、问题记录（records）和全部历史（history）"),
    OPT_VIEWER("以该用户的身份查看（不可见时退出码 2）"),
    {"reveal", 0, NULL, 0,
     "显示问题记录的原文（主键和值不脱敏）：只限工单所属部门的数源部门人员和管理员（需 --actor），"
     "每次都记入审计链；需要数据库的密钥文件"},
    OPT_COMMON,
};
static const struct cli_option feedback_options[] = {
    OPT_ACTOR,
    {"urgent", 0, NULL, 0, "紧急工单：按 --deadline 给出的期限答复"},
    {"deadline", 0, "时间", 0, "紧急工单的答复期限（ISO 8601，如 2024-09-30T18:00:00+08:00）"},
    OPT_COMMON,
};
static const struct cli_option resolve_options[] = {
    {"as", 0, "rectified|confirmed|negotiated", CLI_REQUIRED, "完成整改 / 确认无误 / 沟通解决"},
    OPT_ACTOR,
    {"note", 0, "T", CLI_TEXT, "说明"},
    OPT_COMMON,
};
static const struct cli_option extend_options[] = {
    {"until", 0, "YYYY-MM-DD", CLI_REQUIRED, "延至该日（不得超过政策上限）"},
    {"reason", 0, "T", CLI_REQUIRED | CLI_TEXT, "申请理由"},
    OPT_ACTOR,
    OPT_COMMON,
};
static const struct cli_option approve_options[] = {OPT_ACTOR, OPT_COMMON};
static const struct cli_option reject_options[] = {
    OPT_ACTOR,
    {"reason", 0, "T", CLI_REQUIRED | CLI_TEXT, "驳回理由"},
    OPT_COMMON,
};
static const struct cli_option verify_options[] = {
    OPT_ACTOR,
    {"pass", 0, NULL, 0, "复核通过：工单关闭为“共享”"},
    {"fail", 0, NULL, 0, "复核未通过：工单退回“反馈”（需 --reason）"},
    {"reason", 0, "T", CLI_TEXT, "复核未通过的原因"},
    OPT_COMMON,
};
static const struct cli_option file_options[] = {
    {"dataset", 0, "D", CLI_REQUIRED | CLI_TEXT, "数据集"},
    {"key", 0, "K", CLI_REQUIRED | CLI_TEXT, "问题记录的主键"},
    {"field", 0, "F", CLI_TEXT, "有问题的字段"},
    {"value", 0, "V", CLI_TEXT, "有问题的值"},
    {"message", 0, "M", CLI_REQUIRED | CLI_TEXT, "问题说明"},
    OPT_ACTOR,
    {"dept", 0, "D", CLI_TEXT, "数源部门（默认为数据集的数源部门）"},
    {"rule", 0, "R", CLI_TEXT, "规则标识（默认 DATASET.reported）"},
    OPT_COMMON,
};
static const struct cli_option import_options[] = {OPT_COMMON};

static const struct cli_command tickets_subs[] = {
    {"list", "[--state S] [--dept D] [--overdue] [--json] [--actor A]", "工单列表", STATES_TEXT,
     list_options, 0, 0, do_list},
    {"show", "ID [--json] [--actor A [--reveal]]", "一张工单：问题记录与全部历史", NULL, show_options,
     0, 1, do_show},
    {"feedback", "ID --actor A [--urgent --deadline 时间]", "发现 → 反馈：交数源部门，开始计时",
     NULL, feedback_options, 0, 1, do_move},
    {"resolve", "ID --as rectified|confirmed|negotiated --actor A [--note T]",
     "数源部门答复：完成整改 / 确认无误 / 沟通解决", NULL, resolve_options, 0, 1, do_move},
    {"extend", "ID --until YYYY-MM-DD --reason T --actor A", "申请延期（不得超过政策上限）", NULL,
     extend_options, 0, 1, do_move},
    {"approve", "ID --actor A", "批准延期申请", NULL, approve_options, 0, 1, do_move},
    {"reject", "ID --actor A --reason T", "驳回延期申请", NULL, reject_options, 0, 1, do_move},
    {"verify", "ID --actor A (--pass | --fail --reason T)", "人工复核“修正”状态的工单", NULL,
     verify_options, 0, 1, do_move},
    {"file", "--dataset D --key K [--field F] [--value V] --message M --actor A [--dept D] [--rule R]",
     "系统填报：人工报告一条问题数据", NULL, file_options, 0, 0, do_file},
    {"import", "FILE.jsonl", "接口对接：每行一条问题报告（- 为标准输入），全部检查无误后一次导入",
     "每行一个 JSON 对象：{\"dataset\",\"key\",\"field\",\"message\",\"actor\",\"dept\"?,"
     "\"rule\"?,\"value\"?}\n",
     import_options, 1, 1, do_import},
};

static const struct cli_group tickets_group = {
    "tickets", "问题工单：闭环 发现 → 反馈 → 修正 → 共享。",
    "每个子命令还接受 --policy NAME|FILE（ningbo 默认、wenzhou，或政策文件）。\n"
    "数据库有用户后（qloop users add），--actor 必须是有效用户的登录名，按其角色和部门决定能否操作\n"
    "（docs/identity.md）；没有用户时由一位操作人使用，--actor 为自由文本。\n" STATES_TEXT,
    tickets_subs, sizeof tickets_subs / sizeof tickets_subs[0],
};

int cmd_tickets(int argc, char **argv)
{
    return cli_run_group(&tickets_group, argc, argv);
}
