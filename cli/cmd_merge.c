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
#include "catalog/catalog.h"
#include "cli.h"
#include "rules/pack.h"
#include "rules/policy.h"
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
 * first bytes are a shard header. */
static bool is_shard(const char *path)
{
    if (strcmp(path, "-") == 0)
        return true;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static const char head[] = "{\"qloop_shard\"";
    char buf[sizeof head - 1];
    bool shard = fread(buf, 1, sizeof buf, f) == sizeof buf && memcmp(buf, head, sizeof buf) == 0;
    fclose(f);
    return shard;
}

/* Loads the rule files among --rules into p and collects the shards (the
 * other --rules values, then the positional arguments) into shards. Returns
 * 0, or the exit code after printing the error. */
static int load(const struct cli_args *a, struct pack *p, const char **shards, size_t *nshards)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    const char *path;
    int it = 0;
    size_t nrules = 0;
    while ((path = cli_next(a, "rules", &it))) {
        if (nrules > 0 && is_shard(path)) {
            shards[(*nshards)++] = path;
            continue;
        }
        nrules++;
        if (pack_load_path(p, path, &err) != 0)
            return cli_error(&err);
    }
    for (int i = 0; i < a->npos; i++)
        shards[(*nshards)++] = a->pos[i];
    if (*nshards == 0)
        return cli_fail(a, "没有给出分片：请在规则之后列出每一部分的分片文件");
    return pack_finish(p, &err) == 0 ? 0 : cli_error(&err);
}

static void print_outcome(const struct cli_args *a, const struct run_outcome *res)
{
    if (cli_flag(a, "json")) {
        cli_print_json(res->summary);
    } else if (!cli_flag(a, "quiet")) {
        json_t *t = json_object_get(res->summary, "tickets");
        fprintf(stderr, "qloop: 合并运行 %s 完成：%lld 条记录有问题；工单 新开 %lld、更新 %lld、复核 %lld\n",
                res->run_id, (long long)res->failed_records,
                (long long)json_integer_value(json_object_get(t, "opened")),
                (long long)json_integer_value(json_object_get(t, "updated")),
                (long long)json_integer_value(json_object_get(t, "reverified")));
    }
    if (cli_flag(a, "timings"))
        fprintf(stderr,
                "qloop: 阶段用时：读取分片与合并 %.2f 秒（CPU %.2f 秒），写入结果 %.2f 秒，比对 %.2f 秒，"
                "目录检查 %.2f 秒，工单流转 %.2f 秒，提交 %.2f 秒\n",
                res->seconds_read, res->cpu_seconds_read, res->seconds_store, res->seconds_compare, res->seconds_catalog,
                res->seconds_tickets, res->seconds_commit);
}

static int do_merge(const struct cli_args *a)
{
    const char **shards = qloop_xcalloc((size_t)a->ngiven + (size_t)a->npos + 1, sizeof *shards);
    size_t nshards = 0;
    const char *db_path = cli_opt(a, "db"), *policy = cli_opt(a, "policy"), *v;
    struct merge_options o = {.shards = shards, .version = QLOOP_VERSION,
                              .run = {.progress = !cli_flag(a, "quiet") && isatty(2),
                                      .find_adapter = qloop_adapter_find}};
    struct pack *p = NULL;
    sqlite3 *db = NULL;
    int lock = -1, rc = 0;
    struct qloop_error err;
    qloop_error_clear(&err);
    char policy_path[1024] = "";
    if ((v = cli_opt(a, "memory")) && cli_parse_size(v, &o.run.memory_budget) != 0) {
        rc = cli_fail(a, "--memory 需要如 512M 或 2G 的大小，而不是“%s”", v);
        goto out;
    }
    if (policy) {
        struct qloop_policy pol;
        if (policy_resolve(policy, QLOOP_DATADIR, policy_path, sizeof policy_path, &err) != 0 ||
            policy_load(policy_path, &pol, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        o.run.policy_path = policy_path;
    }
    if (!(p = pack_new())) {
        fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
        rc = QLOOP_EXIT_INTERNAL;
        goto out;
    }
    if ((rc = load(a, p, shards, &nshards)) != 0)
        goto out;
    o.nshards = nshards;
    if (!db_path)
        db_path = store_default_path();
    rc = QLOOP_EXIT_INPUT;
    lock = cli_run_lock(db_path, cli_flag(a, "wait"));
    if (lock < 0 || !(db = cli_open_store(db_path, &rc)))
        goto out;
    if (catalog_merge_pack(db, p, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct run_outcome res;
    if (merge_execute(db, p, &o, &res, &err) != 0) {
        rc = cli_error(&err);
        fputs("qloop: 本次合并未写入任何结果；修正后重新合并即可\n", stderr);
        goto out;
    }
    print_outcome(a, &res);
    json_decref(res.summary);
    rc = QLOOP_EXIT_OK;
out:
    store_close(db);
    if (lock >= 0)
        close(lock);
    pack_free(p);
    free(shards);
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
