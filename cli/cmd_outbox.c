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


static int do_export(const struct cli_args *a)
{
    struct qloop_policy pol;
    int rc = cli_load_policy(cli_opt(a, "policy"), &pol);
    if (rc != 0)
        return rc;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (store_begin(db, &err) != 0) {
        store_close(db);
        return cli_error(&err);
    }
    struct qloop_buf out = {0};
    long count = 0;
    int64_t now = qloop_now();
    rc = QLOOP_EXIT_OK;
    if (outbox_scan(db, &pol, now, &err) != 0 || outbox_export(db, &out, &count, now, &err) != 0) {
        rc = cli_error(&err);
    } else if (out.len > 0 &&
               (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
        fputs("qloop: 写出通知失败；这些通知未标记为已导出，下次会重新导出\n", stderr);
        rc = QLOOP_EXIT_INTERNAL;
    } else if (store_commit(db, &err) != 0) {
        rc = cli_error(&err);
        fputs("qloop: 通知已输出但未能标记为已导出，下次可能重复导出\n", stderr);
    }
    if (rc != QLOOP_EXIT_OK)
        store_rollback(db);
    qloop_buf_free(&out);
    store_close(db);
    return rc;
}

static const struct cli_option export_options[] = {
    {"jsonl", 0, NULL, 0, "每行一个 JSON 对象（目前唯一的格式，可省略）"},
    CLI_OPT_DB,
    CLI_OPT_POLICY,
    CLI_OPT_END,
};

static const struct cli_command outbox_subs[] = {
    {"export", "[--jsonl] [--db PATH] [--policy NAME|FILE]",
     "先按各工单的政策补上到期提醒和超期通知，再把尚未导出的通知逐行输出为 JSON"
     "（id、key、kind、created_at、ticket、dataset、rule、dept、state、deadline、recipient、"
     "message），并标记为已导出：同一通知不会导出两次；导出时已不属实的通知（工单已答复、"
     "期限已变、提醒的期限已过、已交办）不再发送。",
     "通知类型：ticket.opened（新工单待交办）、ticket.feedback（已交数源部门，含重新打开）、\n"
     "ticket.items_added、ticket.recheck_failed、ticket.verify_needed（待人工复核）、\n"
     "ticket.reminder、ticket.overdue、extension.requested、extension.approved、\n"
     "extension.rejected、ticket.closed。\n",
     export_options, 0, 0, do_export},
};

static const struct cli_group outbox_group = {
    "outbox", "待发送的通知：导出给邮件或消息网关。", NULL, outbox_subs,
    sizeof outbox_subs / sizeof outbox_subs[0],
};

int cmd_outbox(int argc, char **argv)
{
    return cli_run_group(&outbox_group, argc, argv);
}
