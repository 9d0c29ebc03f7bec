/*
 * cmd_prune.c — `qloop prune --keep-runs N`: keep the store from growing
 * without end by deleting the findings of all but the newest N runs.
 * Tickets, their records, per-run totals and the audit chain stay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"

static void prune_usage(FILE *out)
{
    fputs("用法：qloop prune --keep-runs N [--db PATH]\n"
          "  删除最近 N 次运行之前的问题记录（findings）；工单及其问题记录、各次运行的统计和审计链都保留\n",
          out);
}

int cmd_prune(int argc, char **argv)
{
    const char *db_path = NULL, *keep = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            prune_usage(stdout);
            return 0;
        }
        if ((r = cli_take_value("prune", "--db", argc, argv, &i, &db_path)) != 0 ||
            (r = cli_take_value("prune", "--keep-runs", argc, argv, &i, &keep)) != 0) {
            if (r < 0)
                return QLOOP_EXIT_INPUT;
            continue;
        }
        return cli_usage_error("prune：未知参数 \"%s\"；用 qloop prune --help 查看用法", argv[i]);
    }
    char *end = NULL;
    long n = keep ? strtol(keep, &end, 10) : 0;
    if (!keep || *end || n < 1)
        return cli_usage_error("prune 需要 --keep-runs N（N 为正整数，例如 30）");
    sqlite3 *db = cli_open_store(db_path);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    long long deleted;
    int rc = store_prune_findings(db, n, &deleted, &err);
    if (rc != 0)
        cli_print_error(&err);
    else
        printf("已删除 %lld 条旧的问题记录，保留最近 %ld 次运行\n", deleted, n);
    store_close(db);
    return rc == 0 ? QLOOP_EXIT_OK : QLOOP_EXIT_INPUT;
}
