/*
 * cmd_run.c — `qloop run`: one validation run, the nightly job.
 *
 * Wires the pieces together: loads the rule files into a pack, merges the
 * catalog, takes the run lock, hands the adapters' finder to the engine's run
 * loop, prints the summary, and maps the outcome to an exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"
#include "cli.h"
#include "rules/pack.h"
#include "run/run.h"
#include "store/store.h"

static const struct cli_option run_options[] = {
    {"rules", 0, "PATH", CLI_MULTI | CLI_REQUIRED,
     "规则文件，或目录（按文件名顺序加载其中所有 *.lua）；可给多个"},
    {"data", 0, "NAME=FILE", CLI_REPEAT, "数据集 NAME 的数据文件（覆盖规则中的 source；- 表示标准输入）；可给多个"},
    CLI_OPT_JSON("在标准输出打印本次运行的 JSON 摘要"),
    CLI_OPT_DB,
    CLI_OPT_POLICY,
    CLI_OPT_DIVISIONS,
    {"fail-on", 0, "N", 0, "问题记录超过 N 条时退出码为 1"},
    {"memory", 0, "SIZE", 0, "唯一性与比对所用内存预算，如 512M、2G（默认 1G）"},
    {"jobs", 0, "N", 0, "工作线程数，1 到 64（默认每个 CPU 核一个）"},
    {"wait", 0, NULL, 0, "另一运行正在使用同一数据库时等待，而不是退出"},
    {"quiet", 'q', NULL, 0, "不显示进度"},
    {"timings", 0, NULL, 0, "结束时在标准错误输出各阶段用时"},
    CLI_OPT_END,
};

/* Reads the options of a run into o and *fail_on. Returns 0, or the exit
 * code after a usage error. data[] has room for every --data. */
static int read_options(const struct cli_args *a, struct run_data_override *data, size_t *ndata,
                        struct run_options *o, long long *fail_on)
{
    const char *v;
    int it = 0;
    while ((v = cli_next(a, "data", &it))) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v || !eq[1])
            return cli_fail(a, "--data 应写成 NAME=FILE，例如 --data people=people.csv，而不是“%s”", v);
        data[*ndata].name = qloop_xstrndup(v, (size_t)(eq - v));
        data[(*ndata)++].path = eq + 1;
    }
    char *end;
    if ((v = cli_opt(a, "fail-on"))) {
        errno = 0;
        *fail_on = strtoll(v, &end, 10);
        if (errno || end == v || *end || *fail_on < 0)
            return cli_fail(a, "--fail-on 需要一个非负整数，而不是“%s”", v);
    }
    return cli_read_limits(a, &o->jobs, &o->memory_budget);
}

/* `qloop run`: returns the exit code. */
static int do_run(const struct cli_args *a)
{
    struct run_data_override *data = qloop_xcalloc((size_t)a->ngiven + 1, sizeof *data);
    size_t ndata = 0;
    const char *db_path = cli_opt(a, "db"), *policy = cli_opt(a, "policy");
    const char *divisions = cli_opt(a, "divisions");
    bool quiet = cli_flag(a, "quiet");
    long long fail_on = -1;
    struct run_options o = {
        .data = data,
        .progress = !quiet && isatty(2),
        .find_adapter = qloop_adapter_find,
    };
    struct pack *p = NULL;
    sqlite3 *db = NULL;
    int lock = -1;
    int rc = read_options(a, data, &ndata, &o, &fail_on);
    o.ndata = ndata;
    if (rc != 0 || (divisions && (rc = cli_load_divisions(divisions)) != 0))
        goto out;

    struct qloop_error err;
    qloop_error_clear(&err);
    char policy_path[1024];
    if ((rc = cli_policy_file(policy, policy_path, sizeof policy_path)) != 0 ||
        (rc = cli_load_rules(a, &p, NULL, NULL)) != 0 ||
        (rc = cli_open_run_store(db_path, true, cli_flag(a, "wait"), p, &db, &lock)) != 0)
        goto out;
    o.policy_path = policy ? policy_path : NULL;
    struct run_outcome res;
    if (run_execute(db, p, &o, &res, &err) != 0) {
        rc = cli_error(&err);
        fputs("qloop: 本次运行未写入任何结果；修正后重新运行即可\n", stderr);
        goto out;
    }
    cli_print_run_outcome(a, &res, "运行");
    json_decref(res.summary);
    rc = fail_on >= 0 && res.failed_records > fail_on ? QLOOP_EXIT_THRESHOLD : QLOOP_EXIT_OK;
    if (rc == QLOOP_EXIT_THRESHOLD)
        fprintf(stderr, "qloop: 问题记录 %lld 条，超过 --fail-on %lld\n", (long long)res.failed_records,
                fail_on);
out:
    store_close(db);
    if (lock >= 0)
        close(lock);
    pack_free(p);
    for (size_t i = 0; i < ndata; i++)
        free((char *)data[i].name);
    free(data);
    return rc;
}

static const struct cli_command run_command = {
    "run", "--rules PATH... [--data NAME=FILE]... [--json] [--wait] [选项]",
    "一次校验运行：加载规则、读取数据、清洗、检查、比对，写入问题记录，开立和更新工单，复核“修正”状态的工单。",
    NULL, run_options, 0, 0, do_run,
};

int cmd_run(int argc, char **argv)
{
    return cli_run_command(&run_command, argc, argv);
}
