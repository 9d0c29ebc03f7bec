/*
 * cmd_prune.c — `qloop prune --keep-runs N`: keep the store from growing
 * without end by deleting the findings of all but the newest N runs.
 * Tickets, their records, per-run totals and the audit chain stay.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "store/store.h"

/* Deletes the old findings (--keep-runs checked by do_prune); the result is
 * {"deleted": N}. */
static int query_prune(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    long long deleted;
    if (store_prune_findings(db, strtol(cli_opt(a, "keep-runs"), NULL, 10), &deleted, err) != 0)
        return -1;
    *out = json_pack("{s:I}", "deleted", (json_int_t)deleted);
    return 0;
}

static int do_prune(const struct cli_args *a)
{
    const char *keep = cli_opt(a, "keep-runs");
    char *end;
    long n = strtol(keep, &end, 10);
    if (end == keep || *end || n < 1)
        return cli_fail(a, "--keep-runs 需要一个正整数（例如 30），而不是“%s”", keep);
    json_t *res;
    int rc = cli_query(a, query_prune, &res);
    if (rc == 0)
        printf("已删除 %lld 条旧的问题记录，保留最近 %ld 次运行\n",
               (long long)json_integer_value(json_object_get(res, "deleted")), n);
    json_decref(res);
    return rc;
}

static const struct cli_option prune_options[] = {
    {"keep-runs", 0, "N", CLI_REQUIRED, "保留最近 N 次运行的问题记录（N 为正整数）"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command prune_command = {
    "prune", "--keep-runs N [--db PATH]",
    "删除最近 N 次运行之前的问题记录（findings），防止数据库无限增长；"
    "工单及其问题记录、各次运行的统计和审计链都保留。",
    NULL, prune_options, 0, 0, do_prune,
};

int cmd_prune(int argc, char **argv)
{
    return cli_run_command(&prune_command, argc, argv);
}
