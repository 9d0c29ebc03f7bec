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

static void check_usage(FILE *out)
{
    fputs("用法：qloop check --rules PATH... [--divisions FILE]\n"
          "  只加载并检查规则文件（不读数据、不写数据库），列出其中的数据集、规则和比对\n",
          out);
}

int cmd_check(int argc, char **argv)
{
    struct pack *p = NULL;
    int rc = QLOOP_EXIT_INPUT, nrules_paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            check_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--divisions") == 0 && i + 1 < argc) {
            if (cli_load_divisions(argv[++i]) != 0)
                return QLOOP_EXIT_INPUT;
            continue;
        }
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            i++; /* accepted for uniformity: check does not touch the store */
            continue;
        }
        if (strcmp(argv[i], "--rules") != 0)
            return cli_usage_error("check：未知参数 \"%s\"；用 qloop check --help 查看用法", argv[i]);
        if (!p && !(p = pack_new())) {
            fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
            return QLOOP_EXIT_INTERNAL;
        }
        while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            struct qloop_error err;
            qloop_error_clear(&err);
            nrules_paths++;
            if (pack_load_path(p, argv[++i], &err) != 0) {
                cli_print_error(&err);
                goto out;
            }
        }
    }
    if (nrules_paths == 0) {
        rc = cli_usage_error("check 需要 --rules PATH；用 qloop check --help 查看用法");
        goto out;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    if (pack_finish(p, &err) != 0) {
        cli_print_error(&err);
        goto out;
    }
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
    rc = QLOOP_EXIT_OK;
out:
    pack_free(p);
    return rc;
}
