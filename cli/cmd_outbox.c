/*
 * cmd_outbox.c — `qloop outbox export --jsonl`: hands the notifications
 * waiting in the outbox to a mail or messaging gateway. It first adds the
 * reminders and overdue notices due now, then prints every event not yet
 * exported as one JSON object a line and marks them exported in the same
 * transaction, committed only after stdout took them: nothing is sent twice,
 * and an export that could not be written is exported again next time.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "cli.h"
#include "base/clock.h"
#include "loop/outbox.h"
#include "rules/policy.h"
#include "store/store.h"


static const char usage_text[] =
    "用法：qloop outbox export [--jsonl] [--db PATH] [--policy NAME|FILE]\n"
    "\n"
    "先按政策补上到期提醒（期限前 1 个工作日）和超期通知，再把尚未导出的通知逐行输出为 JSON\n"
    "（id、key、kind、created_at、ticket、dataset、rule、dept、state、deadline、recipient、message），\n"
    "并标记为已导出：同一通知不会导出两次。\n"
    "通知类型：ticket.opened（新工单待交办）、ticket.feedback（已交数源部门）、ticket.items_added、\n"
    "ticket.recheck_failed、ticket.reminder、ticket.overdue、extension.requested、\n"
    "extension.approved、extension.rejected、ticket.closed。\n";

int cmd_outbox(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? QLOOP_EXIT_INPUT : QLOOP_EXIT_OK;
    }
    if (strcmp(argv[1], "export") != 0)
        return cli_usage_error("未知的子命令 outbox %s；用法：qloop outbox export --jsonl", argv[1]);
    const char *db_path = NULL, *policy = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return QLOOP_EXIT_OK;
        } else if (strcmp(a, "--jsonl") == 0) {
            continue;
        } else if (strcmp(a, "--db") == 0 || strcmp(a, "--policy") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("选项 %s 需要一个值", a);
            *(strcmp(a, "--db") == 0 ? &db_path : &policy) = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            db_path = a + 5;
        } else if (strncmp(a, "--policy=", 9) == 0) {
            policy = a + 9;
        } else {
            return cli_usage_error("outbox export 不接受参数 \"%s\"；用 qloop outbox --help 查看用法",
                                   a);
        }
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_policy pol;
    if (policy_load_spec(policy, QLOOP_DATADIR, &pol, &err) != 0) {
        cli_print_error(&err);
        return QLOOP_EXIT_INPUT;
    }
    sqlite3 *db = cli_open_store(db_path);
    if (!db)
        return QLOOP_EXIT_INPUT;
    if (store_begin(db, &err) != 0) {
        cli_print_error(&err);
        store_close(db);
        return QLOOP_EXIT_INPUT;
    }
    struct qloop_buf out = {0};
    long count = 0;
    int64_t now = qloop_now();
    int rc = QLOOP_EXIT_OK;
    if (outbox_scan(db, &pol, now, &err) != 0 || outbox_export(db, &out, &count, now, &err) != 0) {
        cli_print_error(&err);
        rc = QLOOP_EXIT_INTERNAL;
    } else if (out.len > 0 &&
               (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
        fputs("qloop: 写出通知失败；这些通知未标记为已导出，下次会重新导出\n", stderr);
        rc = QLOOP_EXIT_INTERNAL;
    } else if (store_commit(db, &err) != 0) {
        cli_print_error(&err);
        fputs("qloop: 通知已输出但未能标记为已导出，下次可能重复导出\n", stderr);
        rc = QLOOP_EXIT_INTERNAL;
    }
    if (rc != QLOOP_EXIT_OK)
        store_rollback(db);
    qloop_buf_free(&out);
    store_close(db);
    return rc;
}
