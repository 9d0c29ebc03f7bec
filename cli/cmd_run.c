/*
 * cmd_run.c — `qloop run`: one validation run, the nightly job.
 *
 * Wires the pieces together: loads the rule files into a pack, merges the
 * catalog, takes the run lock, hands the adapters' finder to the engine's run
 * loop, prints the summary, and maps the outcome to an exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "adapters.h"
#include "catalog/catalog.h"
#include "cli.h"
#include "rules/pack.h"
#include "rules/policy.h"
#include "run/run.h"
#include "store/store.h"

static void run_usage(FILE *out)
{
    fputs("用法：qloop run --rules PATH... [--data NAME=FILE]... [选项]\n"
          "  --rules PATH...       规则文件，或目录（按文件名顺序加载其中所有 *.lua）；可给多个\n"
          "  --data NAME=FILE      数据集 NAME 的数据文件（覆盖规则中的 source；- 表示标准输入）\n"
          "  --json                在标准输出打印本次运行的 JSON 摘要\n"
          "  --db PATH             数据库（默认 $QLOOP_DB 或 ./qloop.db）\n"
          "  --policy NAME|FILE    工单期限政策（ningbo 默认、wenzhou，或政策文件）\n"
          "  --divisions FILE      GB/T 2260 区划代码 CSV（code,name），默认 $QLOOP_DIVISIONS 或内置小表\n"
          "  --fail-on N           问题记录超过 N 条时退出码为 1\n"
          "  --memory SIZE         唯一性与比对所用内存预算，如 512M、2G（默认 1G）\n"
          "  --jobs N              工作线程数（默认每个 CPU 核一个）\n"
          "  --wait                另一运行正在进行时等待，而不是退出\n"
          "  --quiet               不显示进度\n"
          "  --timings             结束时在标准错误输出各阶段用时\n",
          out);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024.0 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b')
        end++;
    if (*end == 'B')
        end++;
    if (*end)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Takes the run lock (PATH.lock beside the store): two runs on one store
 * never overlap. Returns the lock's fd, or -1 after printing why. */
static int take_lock(const char *db, bool wait)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.lock", db);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "qloop: %s: 无法创建运行锁（%s）；请检查数据库所在目录的写权限\n", path,
                strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        fprintf(stderr,
                "qloop: %s: 另一次运行正在使用这个数据库；请等它结束后再运行，或加 --wait 排队等待\n",
                db);
        close(fd);
        return -1;
    }
    return fd;
}

int cmd_run(int argc, char **argv)
{
    const char **rules = calloc((size_t)argc + 1, sizeof *rules);
    struct run_data_override *data = calloc((size_t)argc + 1, sizeof *data);
    size_t nrules = 0, ndata = 0;
    const char *db_path = NULL, *policy = NULL, *divisions = NULL;
    bool json = false, quiet = false, wait = false, timings = false;
    long long fail_on = -1;
    size_t memory = 0;
    long jobs = 0;
    int rc = QLOOP_EXIT_INPUT;
    struct pack *p = NULL;
    sqlite3 *db = NULL;
    int lock = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            run_usage(stdout);
            rc = 0;
            goto out;
        } else if (strcmp(a, "--rules") == 0) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                rc = cli_usage_error("--rules 后面需要规则文件或目录");
                goto out;
            }
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                rules[nrules++] = argv[++i];
        } else if (strcmp(a, "--data") == 0) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            const char *eq = v ? strchr(v, '=') : NULL;
            if (!eq || eq == v || !eq[1]) {
                rc = cli_usage_error("--data 应写成 NAME=FILE，例如 --data people=people.csv");
                goto out;
            }
            data[ndata].name = strndup(v, (size_t)(eq - v));
            data[ndata++].path = eq + 1;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = true;
        } else if (strcmp(a, "--wait") == 0) {
            wait = true;
        } else if (strcmp(a, "--timings") == 0) {
            timings = true;
        } else if (strcmp(a, "--db") == 0 || strcmp(a, "--policy") == 0 ||
                   strcmp(a, "--divisions") == 0 || strcmp(a, "--fail-on") == 0 ||
                   strcmp(a, "--memory") == 0 || strcmp(a, "--jobs") == 0) {
            if (i + 1 >= argc) {
                rc = cli_usage_error("%s 后面需要一个值", a);
                goto out;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--db") == 0) {
                db_path = v;
            } else if (strcmp(a, "--policy") == 0) {
                policy = v;
            } else if (strcmp(a, "--divisions") == 0) {
                divisions = v;
            } else if (strcmp(a, "--fail-on") == 0) {
                char *end;
                errno = 0;
                fail_on = strtoll(v, &end, 10);
                if (errno || *end || fail_on < 0) {
                    rc = cli_usage_error("--fail-on 需要一个非负整数，而不是 \"%s\"", v);
                    goto out;
                }
            } else if (strcmp(a, "--jobs") == 0) {
                char *end;
                jobs = strtol(v, &end, 10);
                if (*end || jobs < 1 || jobs > 64) {
                    rc = cli_usage_error("--jobs 需要 1 到 64 之间的整数，而不是 \"%s\"", v);
                    goto out;
                }
            } else if (parse_size(v, &memory) != 0) {
                rc = cli_usage_error("--memory 需要如 512M 或 2G 的大小，而不是 \"%s\"", v);
                goto out;
            }
        } else {
            rc = cli_usage_error("run：未知参数 \"%s\"；用 qloop run --help 查看用法", a);
            goto out;
        }
    }
    if (nrules == 0) {
        rc = cli_usage_error("run 需要 --rules PATH；用 qloop run --help 查看用法");
        goto out;
    }
    if (divisions && cli_load_divisions(divisions) != 0)
        goto out;

    struct qloop_error err;
    qloop_error_clear(&err);
    char policy_path[1024] = "";
    if (policy) {
        if (policy_resolve(policy, QLOOP_DATADIR, policy_path, sizeof policy_path, &err) != 0) {
            cli_print_error(&err);
            goto out;
        }
        struct qloop_policy pol;
        if (policy_load(policy_path, &pol, &err) != 0) {
            cli_print_error(&err);
            goto out;
        }
    }
    p = pack_new();
    if (!p) {
        fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
        rc = QLOOP_EXIT_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < nrules; i++)
        if (pack_load_path(p, rules[i], &err) != 0) {
            cli_print_error(&err);
            goto out;
        }
    if (pack_finish(p, &err) != 0) {
        cli_print_error(&err);
        goto out;
    }
    if (!db_path)
        db_path = store_default_path();
    lock = take_lock(db_path, wait);
    if (lock < 0)
        goto out;
    db = cli_open_store(db_path);
    if (!db)
        goto out;
    if (catalog_merge_pack(db, p, &err) != 0) {
        cli_print_error(&err);
        goto out;
    }
    struct run_options o = {
        .data = data,
        .ndata = ndata,
        .policy_path = policy ? policy_path : NULL,
        .progress = !quiet && isatty(2),
        .memory_budget = memory,
        .jobs = (size_t)jobs,
        .find_adapter = qloop_adapter_find,
    };
    struct run_outcome res;
    int status = run_execute(db, p, &o, &res, &err);
    if (status != RUN_OK) {
        cli_print_error(&err);
        fputs("qloop: 本次运行未写入任何结果；修正后重新运行即可\n", stderr);
        rc = status == RUN_INTERNAL_ERROR ? QLOOP_EXIT_INTERNAL : QLOOP_EXIT_INPUT;
        goto out;
    }
    if (json) {
        char *text = json_dumps(res.summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else if (!quiet) {
        json_t *t = json_object_get(res.summary, "tickets");
        fprintf(stderr, "qloop: 运行 %s 完成：%lld 条记录有问题；工单 新开 %lld、更新 %lld、复核 %lld\n",
                res.run_id, (long long)res.failed_records,
                (long long)json_integer_value(json_object_get(t, "opened")),
                (long long)json_integer_value(json_object_get(t, "updated")),
                (long long)json_integer_value(json_object_get(t, "reverified")));
    }
    if (timings)
        fprintf(stderr,
                "qloop: 阶段用时：读取、清洗与校验 %.2f 秒，写入结果 %.2f 秒，比对 %.2f 秒，"
                "目录检查 %.2f 秒，工单流转 %.2f 秒，提交 %.2f 秒\n",
                res.seconds_read, res.seconds_store, res.seconds_compare, res.seconds_catalog,
                res.seconds_tickets, res.seconds_commit);
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
    free(rules);
    return rc;
}
