/*
 * cmd_judge.c — `qloop judge`: one part of a partitioned run (CONTRACT.md
 * "Partitioned runs"; docs/scale-out.md). Loads the rules, finds the part's
 * column names when its CSV has no header line (--header-from, or the
 * dataset's `fields`), and hands the engine's part_judge the part and where
 * the shard goes. Needs no store.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "cli.h"
#include "rules/pack.h"
#include "run/partition.h"

static const struct cli_option judge_options[] = {
    {"rules", 0, "PATH", CLI_MULTI | CLI_REQUIRED, "规则文件或目录（与合并时用的相同）；可给多个"},
    {"dataset", 0, "NAME", CLI_REQUIRED, "判定哪个数据集"},
    {"part", 0, "I/N", CLI_REQUIRED,
     "这是第 I 部分，共 N 部分（1 ≤ I ≤ N）；- 表示取自标准输入的第一行“#qloop-part I/N”"},
    {"input", 0, "FILE|-", 0,
     "这一部分的数据（- 为标准输入）；不给时读数据集自己的 source，并自行取其中第 I/N 部分的行"},
    {"out", 0, "FILE|-", 0, "分片写到哪里（默认 -：标准输出）"},
    {"header-from", 0, "FILE", 0, "这一部分的 CSV 没有表头：列名取自 FILE 的第一行（如原文件）"},
    CLI_OPT_DIVISIONS,
    {"memory", 0, "SIZE", 0, "唯一性检查所用内存预算，如 512M、2G（默认 1G）"},
    {"jobs", 0, "N", 0, "工作线程数，1 到 64（默认每个 CPU 核一个）"},
    {"quiet", 'q', NULL, 0, "不显示进度"},
    CLI_OPT_END,
};

/* The column names of the first line of file (read by the CSV adapter, so
 * quoting and a BOM are handled as for data): a new array of copies into
 * *names. Returns 0, or the exit code after printing the error. */
static int header_names(const char *file, const struct pack_dataset *d, char ***names, size_t *n)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    const struct qloop_adapter *ad = qloop_adapter_find(file, d->format);
    if (!ad || (strcmp(ad->name, "csv") != 0 && strcmp(ad->name, "tsv") != 0)) {
        fprintf(stderr, "qloop: --header-from %s：只用于 CSV/TSV 数据（列名取自它的第一行）\n", file);
        return QLOOP_EXIT_INPUT;
    }
    struct qloop_source_options so = {.encoding = d->encoding};
    void *src;
    if (ad->open(file, &so, &src, &err) != 0)
        return cli_error(&err);
    const char *const *cols;
    ad->columns(src, n, &cols);
    *names = qloop_xcalloc(*n + 1, sizeof **names);
    for (size_t i = 0; i < *n; i++)
        (*names)[i] = qloop_xstrdup(cols[i]);
    ad->close(src);
    return 0;
}

/* --part -: the part's id is the first line of standard input,
 * "#qloop-part I/N" (what a scheduler prints before the part's lines, as
 * Spark's RDD.pipe does with printPipeContext). Reads exactly that line, a
 * byte at a time, so the rest of the input is left for the adapter. Returns
 * 0, or the exit code after printing the error. */
static int part_from_input(const struct cli_args *a, struct part_options *o)
{
    static const char tag[] = "#qloop-part ";
    char line[128];
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t got = read(0, &c, 1);
        if (got <= 0 || c == '\n' || n + 1 >= sizeof line)
            break;
        line[n++] = c;
    }
    line[n] = '\0';
    if (n > 0 && line[n - 1] == '\r')
        line[--n] = '\0';
    if (strncmp(line, tag, sizeof tag - 1) != 0 ||
        part_parse(line + sizeof tag - 1, &o->part, &o->nparts) != 0)
        return cli_fail(a, "--part -：标准输入的第一行应为“#qloop-part I/N”（如 #qloop-part 3/64），而不是“%.60s”",
                        line);
    return 0;
}

/* Reads the options into o. Returns 0, or the exit code after a usage error. */
static int read_options(const struct cli_args *a, struct part_options *o)
{
    const char *v = cli_opt(a, "part");
    if (strcmp(v, "-") == 0) {
        if (!o->input || strcmp(o->input, "-") != 0)
            return cli_fail(a, "--part - 从标准输入的第一行读取部分编号，需同时给出 --input -");
    } else if (part_parse(v, &o->part, &o->nparts) != 0) {
        return cli_fail(a, "--part 应写成 I/N（1 ≤ I ≤ N），例如 --part 2/4，或 -（取自标准输入的第一行），而不是“%s”", v);
    }
    int rc = cli_read_limits(a, &o->jobs, &o->memory_budget);
    if (rc != 0)
        return rc;
    if (cli_opt(a, "header-from") && !o->input)
        return cli_fail(a, "--header-from 用于 --input 给出的、没有表头的部分");
    return strcmp(cli_opt(a, "part"), "-") == 0 ? part_from_input(a, o) : 0;
}

static int do_judge(const struct cli_args *a)
{
    struct part_options o = {
        .dataset = cli_opt(a, "dataset"),
        .input = cli_opt(a, "input"),
        .out = cli_opt(a, "out") ? cli_opt(a, "out") : "-",
        .version = QLOOP_VERSION,
        .progress = !cli_flag(a, "quiet") && isatty(2),
        .find_adapter = qloop_adapter_find,
    };
    char **names = NULL;
    size_t nnames = 0;
    struct pack *p = NULL;
    const char *divisions = cli_opt(a, "divisions");
    int rc = read_options(a, &o);
    if (rc != 0 || (divisions && (rc = cli_load_divisions(divisions)) != 0))
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    if ((rc = cli_load_rules(a, &p, NULL, NULL)) != 0)
        goto out;
    const struct pack_dataset *d = pack_find_dataset(p, o.dataset);
    if (!d) {
        rc = cli_fail(a, "--dataset %s：规则中没有声明这个数据集", o.dataset);
        goto out;
    }
    const char *header_from = cli_opt(a, "header-from");
    /* the shard never replaces what this judge reads: its part, the header, the source */
    const char *inputs[4] = {0};
    size_t ni = 0;
    if (o.input && strcmp(o.input, "-") != 0)
        inputs[ni++] = o.input;
    if (header_from)
        inputs[ni++] = header_from;
    if (d->source)
        inputs[ni++] = d->source;
    if ((rc = cli_check_out(o.out, NULL, inputs)) != 0)
        goto out;
    if (header_from && (rc = header_names(header_from, d, &names, &nnames)) != 0)
        goto out;
    o.names = (const char *const *)names;
    o.nnames = nnames;
    if (!names && o.input && d->nfields > 0) { /* a part without its header: the declared fields */
        o.names = (const char *const *)d->fields;
        o.nnames = d->nfields;
    }
    signal(SIGPIPE, SIG_IGN); /* a reader gone away is a write error, reported */
    if (part_judge(p, &o, &err) != 0) {
        rc = cli_error(&err);
        fprintf(stderr, "qloop: 第 %lu/%lu 部分的分片不完整，合并时会被拒绝；修正后重新判定这一部分即可\n",
                o.part, o.nparts);
    }
out:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    pack_free(p);
    return rc;
}

static const struct cli_command judge_command = {
    "judge",
    "--rules PATH... --dataset NAME --part I/N [--input FILE|-] [--out FILE|-] [--header-from FILE]",
    "分布式运行的一步：判定数据集的一部分（清洗、检查），写出分片（JSON Lines），供 qloop merge 合并。不需要数据库。",
    "分片含有记录的键和问题值（个人数据），请按敏感中间数据保管，合并后删除；详见 docs/scale-out.md。\n",
    judge_options, 0, 0, do_judge,
};

int cmd_judge(int argc, char **argv)
{
    return cli_run_command(&judge_command, argc, argv);
}
