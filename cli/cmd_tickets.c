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


static const char usage_text[] =
    "用法：qloop tickets 子命令 [选项]\n"
    "\n"
    "  list [--state S] [--dept D] [--overdue] [--json]     工单列表\n"
    "  show ID [--json]                                      一张工单：问题记录与全部历史\n"
    "  feedback ID --actor A [--urgent --deadline 时间]      发现 → 反馈：交数源部门，开始计时\n"
    "  resolve ID --as rectified|confirmed|negotiated --actor A [--note T]\n"
    "                                                        数源部门答复：完成整改 / 确认无误 / 沟通解决\n"
    "  extend ID --until YYYY-MM-DD --reason T --actor A     申请延期（不得超过政策上限）\n"
    "  approve ID --actor A                                  批准延期申请\n"
    "  reject ID --actor A --reason T                        驳回延期申请\n"
    "  verify ID --actor A (--pass | --fail --reason T)      人工复核“修正”状态的工单\n"
    "  file --dataset D --key K [--field F] [--value V] --message M --actor A [--dept D] [--rule R]\n"
    "                                                        系统填报：人工报告一条问题数据\n"
    "  import FILE.jsonl                                     接口对接：每行一条问题报告\n"
    "      {\"dataset\",\"key\",\"field\",\"message\",\"actor\",\"dept\"?,\"rule\"?,\"value\"?}\n"
    "\n"
    "每个子命令都接受 --db PATH（默认 $QLOOP_DB 或 ./qloop.db）、--policy NAME|FILE\n"
    "（ningbo 默认、wenzhou，或政策文件）和 --help。\n"
    "状态：discovered 发现、feedback 反馈、corrected 修正、shared 共享、confirmed 确认无误、\n"
    "negotiated 沟通解决。\n";

/* ---- options ------------------------------------------------------------- */

enum {
    O_DB, O_POLICY, O_JSON, O_STATE, O_DEPT, O_OVERDUE, O_ACTOR, O_URGENT, O_DEADLINE, O_AS,
    O_NOTE, O_UNTIL, O_REASON, O_DATASET, O_KEY, O_FIELD, O_VALUE, O_MESSAGE, O_RULE, O_PASS,
    O_FAIL, O_HELP, NOPTS
};

static const struct {
    const char *name;
    bool value;
} optdefs[NOPTS] = {
    [O_DB] = {"db", true},         [O_POLICY] = {"policy", true},   [O_JSON] = {"json", false},
    [O_STATE] = {"state", true},   [O_DEPT] = {"dept", true},       [O_OVERDUE] = {"overdue", false},
    [O_ACTOR] = {"actor", true},   [O_URGENT] = {"urgent", false},  [O_DEADLINE] = {"deadline", true},
    [O_AS] = {"as", true},         [O_NOTE] = {"note", true},       [O_UNTIL] = {"until", true},
    [O_REASON] = {"reason", true}, [O_DATASET] = {"dataset", true}, [O_KEY] = {"key", true},
    [O_FIELD] = {"field", true},   [O_VALUE] = {"value", true},     [O_MESSAGE] = {"message", true},
    [O_RULE] = {"rule", true},     [O_PASS] = {"pass", false},      [O_FAIL] = {"fail", false},
    [O_HELP] = {"help", false},
};

struct args {
    const char *v[NOPTS]; /* value, or "" for a flag given; NULL when absent */
    const char *pos[4];
    int npos;
};

/* Whether s is valid UTF-8. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0)
            return false;
        for (int k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

/* Parses argv[2..] of subcommand sub, accepting only the options in allowed
 * (plus db, policy, help) and at most maxpos positionals. Returns 0, or the
 * exit code after printing the problem. */
static int parse(int argc, char **argv, const char *sub, const int *allowed, int nallowed,
                 int maxpos, struct args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (a->npos >= maxpos)
                return cli_usage_error("tickets %s：多余的参数 \"%s\"；用 qloop tickets --help 查看用法",
                                       sub, arg);
            a->pos[a->npos++] = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (int j = 0; j < NOPTS; j++)
            if (strlen(optdefs[j].name) == len && strncmp(optdefs[j].name, name, len) == 0)
                k = j;
        bool ok = k == O_DB || k == O_POLICY || k == O_HELP;
        for (int j = 0; !ok && j < nallowed; j++)
            ok = allowed[j] == k;
        if (k < 0 || !ok)
            return cli_usage_error("tickets %s 不接受选项 %.*s；用 qloop tickets --help 查看用法", sub,
                                   (int)(len + 2), arg);
        if (!optdefs[k].value) {
            if (eq)
                return cli_usage_error("选项 --%s 不带值", optdefs[k].name);
            a->v[k] = "";
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val)
            return cli_usage_error("选项 --%s 需要一个值", optdefs[k].name);
        if (!utf8_valid(val))
            return cli_usage_error("选项 --%s 的值不是有效的 UTF-8 文本", optdefs[k].name);
        a->v[k] = val;
    }
    return 0;
}

/* Fails (exit 2) when option opt is absent or empty. */
static int require(const struct args *a, const char *sub, int opt)
{
    if (!a->v[opt] || !*a->v[opt])
        return cli_usage_error("tickets %s 需要 --%s", sub, optdefs[opt].name);
    return 0;
}

/* Reads the ticket id of positional 0 ("12" or "#12"). */
static int ticket_id(const struct args *a, const char *sub, int64_t *id)
{
    if (a->npos < 1)
        return cli_usage_error("tickets %s 需要工单编号，例如 qloop tickets %s 12", sub, sub);
    const char *s = a->pos[0];
    if (*s == '#')
        s++;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0)
        return cli_usage_error("工单编号应为正整数，收到的是 \"%s\"", a->pos[0]);
    *id = v;
    return 0;
}

/* Loads the policy named by --policy (default when absent); prints errors. */
static int load_policy(const struct args *a, struct qloop_policy *p)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load_spec(a->v[O_POLICY], QLOOP_DATADIR, p, &err) != 0) {
        cli_print_error(&err);
        return QLOOP_EXIT_INPUT;
    }
    return 0;
}

/* Without --policy, a ticket is held to the policy it was opened under
 * (tickets.policy) when that policy can be found by name; otherwise *p (the
 * default) stays, with a note on stderr. */
static void ticket_policy(sqlite3 *db, int64_t id, struct qloop_policy *p)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT policy FROM tickets WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, id);
    char name[64] = "";
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!name[0] || strcmp(name, p->name) == 0)
        return;
    struct qloop_policy own;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load_spec(name, QLOOP_DATADIR, &own, &err) == 0)
        *p = own;
    else
        fprintf(stderr,
                "qloop: 工单 #%lld 按政策「%s」开立，但找不到该政策（%s）；按政策「%s」处理，"
                "可用 --policy 指定\n",
                (long long)id, name, err.message, p->name);
}

/* The exit code of an engine result (0, -1 refused/bad input, -2 store). */
static int exit_of(int rc, const struct qloop_error *err)
{
    if (rc == 0)
        return QLOOP_EXIT_OK;
    cli_print_error(err);
    return rc == -1 ? QLOOP_EXIT_INPUT : QLOOP_EXIT_INTERNAL;
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
static void print_list(json_t *arr)
{
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
static void print_show(json_t *t)
{
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
    printf("问题记录（未关闭 %lld 条 / 共 %zu 条）：\n",
           (long long)json_integer_value(json_object_get(t, "items")), json_array_size(recs));
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *r = json_array_get(recs, i);
        printf("  [%s] ", item_state_zh(jget(r, "state")));
        if (json_is_integer(json_object_get(r, "row_no")))
            printf("第 %lld 行  ", (long long)json_integer_value(json_object_get(r, "row_no")));
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
                   strcmp(ev, "extend_request") == 0   ? "申请延期"
                   : strcmp(ev, "extend_approve") == 0 ? "批准延期"
                   : strcmp(ev, "extend_reject") == 0  ? "驳回延期"
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
    char deadline[16];
    jdate(t, "deadline", deadline);
    printf("工单 #%lld %s：状态 %s（%s），答复期限 %s\n", (long long)id, what, jget(t, "state_zh"),
           jget(t, "state"), deadline);
    json_decref(t);
}

/* v as indented JSON on stdout. */
static void print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        puts(text);
        free(text);
    }
}

/* ---- subcommands ----------------------------------------------------------- */

/* tickets list: returns the exit code. */
static int do_list(int argc, char **argv)
{
    static const int allowed[] = {O_STATE, O_DEPT, O_OVERDUE, O_JSON};
    struct args a;
    int rc = parse(argc, argv, "list", allowed, 4, 0, &a);
    if (rc || a.v[O_HELP])
        return rc ? rc : (fputs(usage_text, stdout), 0);
    if (a.v[O_STATE] && !ticket_state_valid(a.v[O_STATE]))
        return cli_usage_error("--state 应为 discovered、feedback、corrected、shared、confirmed 或 "
                               "negotiated，收到的是 \"%s\"",
                               a.v[O_STATE]);
    struct qloop_policy pol;
    if ((rc = load_policy(&a, &pol)) != 0)
        return rc;
    sqlite3 *db = cli_open_store(a.v[O_DB]);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct ticket_filter f = {a.v[O_STATE], a.v[O_DEPT], a.v[O_OVERDUE] != NULL};
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *arr = NULL;
    rc = exit_of(ticket_list_json(db, &f, &arr, &err), &err);
    if (rc == 0) {
        if (a.v[O_JSON])
            print_json(arr);
        else
            print_list(arr);
        json_decref(arr);
    }
    store_close(db);
    return rc;
}

/* tickets show ID: returns the exit code. */
static int do_show(int argc, char **argv)
{
    static const int allowed[] = {O_JSON};
    struct args a;
    int rc = parse(argc, argv, "show", allowed, 1, 1, &a);
    if (rc || a.v[O_HELP])
        return rc ? rc : (fputs(usage_text, stdout), 0);
    int64_t id;
    struct qloop_policy pol;
    if ((rc = ticket_id(&a, "show", &id)) != 0 || (rc = load_policy(&a, &pol)) != 0)
        return rc;
    sqlite3 *db = cli_open_store(a.v[O_DB]);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *t = NULL;
    rc = exit_of(ticket_show_json(db, id, &t, &err), &err);
    if (rc == 0) {
        if (a.v[O_JSON])
            print_json(t);
        else
            print_show(t);
        json_decref(t);
    }
    store_close(db);
    return rc;
}

/* The moves on one ticket, each in its own transaction. */
enum move { M_FEEDBACK, M_RESOLVE, M_EXTEND, M_APPROVE, M_REJECT, M_VERIFY };

/* feedback, resolve, extend, approve, reject, verify: parses, checks the
 * options the move needs, makes it in one transaction, prints the new state.
 * Returns the exit code. */
static int do_move(int argc, char **argv, enum move m)
{
    static const int allowed_feedback[] = {O_ACTOR, O_URGENT, O_DEADLINE};
    static const int allowed_resolve[] = {O_ACTOR, O_AS, O_NOTE};
    static const int allowed_extend[] = {O_ACTOR, O_UNTIL, O_REASON};
    static const int allowed_approve[] = {O_ACTOR};
    static const int allowed_reject[] = {O_ACTOR, O_REASON};
    static const int allowed_verify[] = {O_ACTOR, O_PASS, O_FAIL, O_REASON};
    static const struct {
        const char *sub;
        const int *allowed;
        int n;
        const char *done;
    } subs[] = {
        [M_FEEDBACK] = {"feedback", allowed_feedback, 3, "已交数源部门"},
        [M_RESOLVE] = {"resolve", allowed_resolve, 3, "已记录答复"},
        [M_EXTEND] = {"extend", allowed_extend, 3, "已提交延期申请，待审批"},
        [M_APPROVE] = {"approve", allowed_approve, 1, "延期已批准"},
        [M_REJECT] = {"reject", allowed_reject, 2, "延期申请已驳回"},
        [M_VERIFY] = {"verify", allowed_verify, 4, "已记录复核结果"},
    };
    const char *sub = subs[m].sub;
    struct args a;
    int rc = parse(argc, argv, sub, subs[m].allowed, subs[m].n, 1, &a);
    if (rc || a.v[O_HELP])
        return rc ? rc : (fputs(usage_text, stdout), 0);
    int64_t id;
    if ((rc = ticket_id(&a, sub, &id)) != 0 || (rc = require(&a, sub, O_ACTOR)) != 0)
        return rc;
    switch (m) {
    case M_FEEDBACK:
        if (a.v[O_URGENT] && !a.v[O_DEADLINE])
            return cli_usage_error("紧急工单（--urgent）需要 --deadline 日期时间，例如 "
                                   "--deadline 2024-09-30T18:00:00+08:00");
        if (a.v[O_DEADLINE] && !a.v[O_URGENT])
            return cli_usage_error("--deadline 只用于紧急工单；请同时给出 --urgent");
        break;
    case M_RESOLVE:
        rc = require(&a, sub, O_AS);
        break;
    case M_EXTEND:
        if ((rc = require(&a, sub, O_UNTIL)) == 0)
            rc = require(&a, sub, O_REASON);
        break;
    case M_REJECT:
        rc = require(&a, sub, O_REASON);
        break;
    case M_VERIFY:
        if (!a.v[O_PASS] == !a.v[O_FAIL])
            return cli_usage_error("tickets verify 需要 --pass 或 --fail 之一");
        if (a.v[O_FAIL])
            rc = require(&a, sub, O_REASON);
        break;
    case M_APPROVE:
        break;
    }
    if (rc)
        return rc;
    struct qloop_policy pol;
    if ((rc = load_policy(&a, &pol)) != 0)
        return rc;
    sqlite3 *db = cli_open_store(a.v[O_DB]);
    if (!db)
        return QLOOP_EXIT_INPUT;
    if (!a.v[O_POLICY])
        ticket_policy(db, id, &pol);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (store_begin(db, &err) != 0) {
        cli_print_error(&err);
        store_close(db);
        return QLOOP_EXIT_INPUT;
    }
    const char *actor = a.v[O_ACTOR];
    int r = 0;
    switch (m) {
    case M_FEEDBACK:
        r = ticket_feedback(db, id, actor, a.v[O_URGENT] != NULL, a.v[O_DEADLINE], &pol, &err);
        break;
    case M_RESOLVE:
        r = ticket_resolve(db, id, a.v[O_AS], actor, a.v[O_NOTE], &err);
        break;
    case M_EXTEND:
        r = ticket_extend(db, id, a.v[O_UNTIL], a.v[O_REASON], actor, &pol, &err);
        break;
    case M_APPROVE:
        r = ticket_approve(db, id, actor, &pol, &err);
        break;
    case M_REJECT:
        r = ticket_reject(db, id, actor, a.v[O_REASON], &pol, &err);
        break;
    case M_VERIFY:
        r = ticket_verify(db, id, actor, a.v[O_PASS] != NULL, a.v[O_REASON], &err);
        break;
    }
    if (r == 0 && store_commit(db, &err) != 0)
        r = -2;
    if (r != 0)
        store_rollback(db);
    rc = exit_of(r, &err);
    if (rc == 0)
        print_after(db, id, subs[m].done);
    store_close(db);
    return rc;
}

/* tickets file (系统填报): returns the exit code. */
static int do_file(int argc, char **argv)
{
    static const int allowed[] = {O_DATASET, O_KEY, O_FIELD, O_VALUE, O_MESSAGE,
                                  O_ACTOR,   O_DEPT, O_RULE};
    struct args a;
    int rc = parse(argc, argv, "file", allowed, 8, 0, &a);
    if (rc || a.v[O_HELP])
        return rc ? rc : (fputs(usage_text, stdout), 0);
    static const int required[] = {O_DATASET, O_KEY, O_MESSAGE, O_ACTOR};
    for (int i = 0; i < 4; i++)
        if ((rc = require(&a, "file", required[i])) != 0)
            return rc;
    struct qloop_policy pol;
    if ((rc = load_policy(&a, &pol)) != 0)
        return rc;
    sqlite3 *db = cli_open_store(a.v[O_DB]);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (store_begin(db, &err) != 0) {
        cli_print_error(&err);
        store_close(db);
        return QLOOP_EXIT_INPUT;
    }
    struct ticket_report r = {a.v[O_DATASET], a.v[O_KEY],   a.v[O_FIELD], a.v[O_VALUE],
                              a.v[O_MESSAGE], a.v[O_ACTOR], a.v[O_DEPT],  a.v[O_RULE]};
    int64_t tid = 0;
    bool dup = false;
    int res = ticket_file(db, &r, "file", &pol, &tid, &dup, &err);
    if (res == 0 && store_commit(db, &err) != 0)
        res = -2;
    if (res != 0)
        store_rollback(db);
    rc = exit_of(res, &err);
    if (rc == 0) {
        if (dup)
            printf("该记录已在未关闭的工单 #%lld 中跟踪，未重复登记\n", (long long)tid);
        else
            print_after(db, tid, "已登记问题报告");
    }
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

/* tickets import FILE (接口对接): every line is checked before anything is
 * written, then all are filed in one transaction. Returns the exit code. */
static int do_import(int argc, char **argv)
{
    struct args a;
    int rc = parse(argc, argv, "import", NULL, 0, 1, &a);
    if (rc || a.v[O_HELP])
        return rc ? rc : (fputs(usage_text, stdout), 0);
    if (a.npos != 1)
        return cli_usage_error("tickets import 需要一个 JSON Lines 文件，例如 qloop tickets import "
                               "reports.jsonl");
    const char *path = a.pos[0];
    struct qloop_policy pol;
    if ((rc = load_policy(&a, &pol)) != 0)
        return rc;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return cli_usage_error("%s: 无法打开文件：%s", path, strerror(errno));

    struct qloop_error err;
    qloop_error_clear(&err);
    struct line_report *lines = NULL;
    size_t n = 0, cap = 0;
    char *buf = NULL;
    size_t bufsize = 0;
    ssize_t len;
    long lineno = 0;
    rc = 0;
    while ((len = getline(&buf, &bufsize, f)) >= 0) {
        lineno++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        if ((size_t)len != strlen(buf)) {
            qloop_error_set(&err, path, lineno, 0, "行中含有 NUL 字节；请检查文件编码");
            rc = -1;
            break;
        }
        const char *p = buf;
        if (lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            lines = qloop_xrealloc(lines, cap * sizeof *lines);
        }
        if (parse_line(path, lineno, p, &lines[n], &err) != 0) {
            rc = -1;
            break;
        }
        n++;
    }
    if (rc == 0 && ferror(f)) {
        qloop_error_set(&err, path, 0, 0, "读取文件失败：%s", strerror(errno));
        rc = -1;
    }
    free(buf);
    if (f != stdin)
        fclose(f);

    sqlite3 *db = NULL;
    long added = 0, dups = 0;
    if (rc == 0 && n == 0) {
        qloop_error_set(&err, path, 0, 0, "文件中没有问题报告（每行一个 JSON 对象）");
        rc = -1;
    }
    if (rc == 0) {
        db = cli_open_store(a.v[O_DB]);
        if (!db)
            rc = -3;
    }
    if (rc == 0 && store_begin(db, &err) != 0)
        rc = -1;
    if (rc == 0) {
        for (size_t i = 0; rc == 0 && i < n; i++) {
            bool dup = false;
            int64_t tid;
            rc = ticket_file(db, &lines[i].r, "import", &pol, &tid, &dup, &err);
            if (rc == -1) {
                char msg[sizeof err.message];
                snprintf(msg, sizeof msg, "%s", err.message);
                qloop_error_set(&err, path, lines[i].line, 0, "%s；未导入任何报告", msg);
            }
            if (rc == 0 && dup)
                dups++;
            else if (rc == 0)
                added++;
        }
        if (rc == 0 && store_commit(db, &err) != 0)
            rc = -2;
        if (rc != 0)
            store_rollback(db);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i].obj);
    free(lines);
    if (rc == -3)
        return QLOOP_EXIT_INPUT;
    int code = exit_of(rc, &err);
    if (code == 0)
        printf("已导入 %zu 条问题报告：新登记 %ld 条，%ld 条已在未关闭的工单中（未重复登记）\n", n,
               added, dups);
    store_close(db);
    return code;
}

int cmd_tickets(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? QLOOP_EXIT_INPUT : QLOOP_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0)
        return do_list(argc, argv);
    if (strcmp(sub, "show") == 0)
        return do_show(argc, argv);
    if (strcmp(sub, "feedback") == 0)
        return do_move(argc, argv, M_FEEDBACK);
    if (strcmp(sub, "resolve") == 0)
        return do_move(argc, argv, M_RESOLVE);
    if (strcmp(sub, "extend") == 0)
        return do_move(argc, argv, M_EXTEND);
    if (strcmp(sub, "approve") == 0)
        return do_move(argc, argv, M_APPROVE);
    if (strcmp(sub, "reject") == 0)
        return do_move(argc, argv, M_REJECT);
    if (strcmp(sub, "verify") == 0)
        return do_move(argc, argv, M_VERIFY);
    if (strcmp(sub, "file") == 0)
        return do_file(argc, argv);
    if (strcmp(sub, "import") == 0)
        return do_import(argc, argv);
    fprintf(stderr, "qloop: 未知的子命令 tickets %s\n\n", sub);
    fputs(usage_text, stderr);
    return QLOOP_EXIT_INPUT;
}
