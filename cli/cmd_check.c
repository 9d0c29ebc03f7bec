/*
 * cmd_check.c — `qloop check --rules PATH...`: load rule packs and report
 * what they declare, without reading data or touching a store. For staff
 * writing rules and for the CI of a rule repository: a broken pack exits 2
 * with the file, the line and what to do, exactly as `qloop run` would.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rules/pack.h"

/* Prints what the finished pack p declares. */
static void print_pack(const struct pack *p)
{
    for (size_t i = 0; i < p->ndatasets; i++) {
        const struct pack_dataset *d = &p->datasets[i];
        printf("数据集 %s（%s:%ld）：数源部门 %s，更新周期 %s，来源 %s\n", d->name, d->file, d->line,
               d->owner ? d->owner : "未指定", d->update_cycle ? d->update_cycle : "未指定",
               d->source ? d->source : "运行时用 --data 指定");
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct pack_rule *r = &p->rules[i];
        printf("规则 %s（%s:%ld）：%s，%s，%s\n", r->id, r->file, r->line,
               r->field ? r->field : "整条记录", r->dimension, r->severity);
    }
    for (size_t i = 0; i < p->ncompares; i++) {
        const struct pack_compare *c = &p->compares[i];
        printf("比对 %s（%s:%ld）：%s ↔ %s，%zu 个字段\n", c->name, c->file, c->line, c->left, c->right,
               c->nfields);
    }
    printf("规则文件 %zu 个：数据集 %zu 个，规则 %zu 条，比对 %zu 个，检查通过\n", p->nfiles,
           p->ndatasets, p->nrules, p->ncompares);
}

static int do_check(const struct cli_args *a)
{
    const char *divisions = cli_opt(a, "divisions");
    int rc = divisions ? cli_load_divisions(divisions) : 0;
    if (rc != 0)
        return rc;
    struct pack *p = pack_new();
    if (!p) {
        fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
        return QLOOP_EXIT_INTERNAL;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    const char *path;
    int it = 0;
    while (rc == 0 && (path = cli_next(a, "rules", &it)))
        if (pack_load_path(p, path, &err) != 0)
            rc = cli_error(&err);
    if (rc == 0 && pack_finish(p, &err) != 0)
        rc = cli_error(&err);
    if (rc == 0)
        print_pack(p);
    pack_free(p);
    return rc;
}

static const struct cli_option check_options[] = {
    {"rules", 0, "PATH", CLI_MULTI | CLI_REQUIRED, "规则文件，或目录（其中所有 *.lua）；可给多个"},
    CLI_OPT_DIVISIONS,
    {"db", 0, "PATH", 0, "为与其他命令一致而接受；check 不读写数据库"},
    CLI_OPT_END,
};

static const struct cli_command check_command = {
    "check", "--rules PATH... [--divisions FILE]",
    "只加载并检查规则文件（不读数据、不写数据库），列出其中的数据集、规则和比对；"
    "有误时像 qloop run 一样指出文件、行和改法（退出码 2）。",
    NULL, check_options, 0, 0, do_check,
};

int cmd_check(int argc, char **argv)
{
    return cli_run_command(&check_command, argc, argv);
}
