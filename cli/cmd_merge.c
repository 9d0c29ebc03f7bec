/*
 * cmd_merge.c — `qloop merge`: the shards of every part into one run
 * (CONTRACT.md "Partitioned runs"; docs/scale-out.md). Wired like `qloop
 * run`: the rules, the catalog merged into them, the run lock, the store;
 * the engine's merge_execute does the rest, and the summary printed is the
 * one `run --json` prints.
 *
 * The shards may follow --rules directly (`--rules r.lua part1 part2`): a
 * value of --rules that is a shard (its first line a shard header) or "-"
 * is taken as a shard.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "cli.h"
#include "rules/pack.h"
#include "run/partition.h"
#include "store/store.h"

static const struct cli_option merge_options[] = {
    {"rules", 0, "PATH", CLI_MULTI | CLI_REQUIRED, "规则文件或目录（与判定时用的相同）；可给多个"},
    CLI_OPT_JSON("在标准输出打印本次运行的 JSON 摘要（与 qloop run --json 相同）"),
    CLI_OPT_DB,
    CLI_OPT_POLICY,
    {"memory", 0, "SIZE", 0, "唯一性与比对所用内存预算，如 512M、2G（默认 1G）；超出时借助临时文件"},
    {"wait", 0, NULL, 0, "另一运行正在使用同一数据库时等待，而不是退出"},
    {"quiet", 'q', NULL, 0, "不显示进度"},
    {"timings", 0, NULL, 0, "结束时在标准错误输出各阶段用时"},
    CLI_OPT_END,
};

/* Whether path names a shard rather than rules: "-", or a regular file whose
 * first bytes are a shard header. A divert function of cli_load_rules: a
 * shard is collected into ctx (struct shard_list). */
struct shard_list {
    const char **v;
    size_t n;
};

static bool is_shard(void *ctx, const char *path)
{
    bool shard = strcmp(path, "-") == 0;
    FILE *f = shard ? NULL : fopen(path, "rb");
    if (f) {
        static const char head[] = "{\"qloop_shard\"";
        char buf[sizeof head - 1];
        shard = fread(buf, 1, sizeof buf, f) == sizeof buf && memcmp(buf, head, sizeof buf) == 0;
        fclose(f);
    }
    if (shard) {
        struct shard_list *l = ctx;
        l->v[l->n++] = path;
    }
    return shard;
}

static int do_merge(const struct cli_args *a)
{
    struct shard_list shards = {
        .v = qloop_xcalloc((size_t)a->ngiven + (size_t)a->npos + 1, sizeof *shards.v)};
    char policy_path[1024];
    struct merge_options o = {.version = QLOOP_VERSION,
                              .run = {.progress = !cli_flag(a, "quiet") && isatty(2),
                                      .find_adapter = qloop_adapter_find}};
    struct pack *p = NULL;
    sqlite3 *db = NULL;
    int lock = -1, rc = 0;
    size_t jobs = 0;
    if ((rc = cli_read_limits(a, &jobs, &o.run.memory_budget)) != 0 ||
        (rc = cli_policy_file(cli_opt(a, "policy"), policy_path, sizeof policy_path)) != 0 ||
        (rc = cli_load_rules(a, &p, is_shard, &shards)) != 0)
        goto out;
    o.run.policy_path = policy_path[0] ? policy_path : NULL;
    for (int i = 0; i < a->npos; i++)
        shards.v[shards.n++] = a->pos[i];
    if (shards.n == 0) {
        rc = cli_fail(a, "没有给出分片：请在规则之后列出每一部分的分片文件");
        goto out;
    }
    o.shards = shards.v;
    o.nshards = shards.n;
    if ((rc = cli_open_run_store(cli_opt(a, "db"), false, cli_flag(a, "wait"), p, &db, &lock)) != 0)
        goto out;
    struct qloop_error err;
    qloop_error_clear(&err);
    struct run_outcome res;
    if (merge_execute(db, p, &o, &res, &err) != 0) {
        rc = cli_error(&err);
        fputs("qloop: 本次合并未写入任何结果；修正后重新合并即可\n", stderr);
        goto out;
    }
    cli_print_run_outcome(a, &res, "合并运行");
    json_decref(res.summary);
    rc = QLOOP_EXIT_OK;
out:
    store_close(db);
    if (lock >= 0)
        close(lock);
    pack_free(p);
    free(shards.v);
    return rc;
}

static const struct cli_command merge_command = {
    "merge", "--rules PATH... [--db PATH] [--json] SHARD...",
    "分布式运行的最后一步：读入每一部分的分片（qloop judge 写出），作为一次完整运行写入数据库："
    "问题记录、比对、目录检查、工单，与对全部数据运行 qloop run 的结果相同。",
    "缺少某一部分、同一部分给了两次、分片不完整或被改动、用另一套规则判定的分片，都会被拒绝（退出码 2），"
    "数据库不作任何改动。\n",
    merge_options, 0, INT_MAX, do_merge,
};

int cmd_merge(int argc, char **argv)
{
    return cli_run_command(&merge_command, argc, argv);
}
