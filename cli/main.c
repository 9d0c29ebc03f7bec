/*
 * main.c — `qloop COMMAND ...`: dispatch to the command files.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/hugepages.h"
#include "cli.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "一次校验运行：加载规则、读取数据、清洗、检查、比对、写入问题并流转工单"},
    {"check", cmd_check, "只检查规则文件（不读数据、不写数据库）"},
    {"eval", cmd_eval, "在规则所用的沙箱中执行 Lua 代码"},
    {"tickets", cmd_tickets, "问题工单：列表、详情、反馈、整改、延期、审批、填报、导入"},
    {"calendar", cmd_calendar, "工作日历：是否工作日、期限计算、加载新年度安排"},
    {"audit", cmd_audit, "审计链：校验与查看"},
    {"catalog", cmd_catalog, "资源目录：导入、检查、查看"},
    {"report", cmd_report, "年度评估报告与部门计分卡"},
    {"outbox", cmd_outbox, "待发送的通知：导出给邮件或消息网关"},
    {"prune", cmd_prune, "清理旧运行的问题记录，防止数据库无限增长"},
    {"depts", cmd_depts, "部门：登记（数源部门、使用部门、大数据主管部门）与列表"},
    {"users", cmd_users, "用户与角色：添加、列表、停用、发放 API 密钥"},
    {"judge", cmd_judge, "分布式运行：判定数据集的一部分，写出分片"},
    {"merge", cmd_merge, "分布式运行：合并各部分的分片，作为一次运行写入数据库"},
    {"serve", cmd_serve, "门户与 API：在浏览器中或通过接口处理工单"},
};

static void usage(FILE *out)
{
    fputs("用法：qloop 命令 [选项]   （每个命令都接受 --db PATH 和 --help）\n"
          "      qloop --version\n\n命令：\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
    fputs("\n环境变量：QLOOP_DB（数据库路径，默认 ./qloop.db）、QLOOP_NOW（替代当前时间，ISO 8601）、\n"
          "QLOOP_DIVISIONS（GB/T 2260 区划代码 CSV）、QLOOP_HUGEPAGES=0（run、judge、merge 不使用透明大页）\n"
          "退出码：0 完成；1 完成但超过 --fail-on 阈值；2 用法、配置、规则或输入有误；3 内部错误\n",
          out);
}

/* The commands that read and write a night's data: their heap is worth
 * huge pages (base/hugepages.h); the portal and staff commands are not. */
static bool batch_command(const char *name)
{
    return strcmp(name, "run") == 0 || strcmp(name, "judge") == 0 || strcmp(name, "merge") == 0;
}

int main(int argc, char **argv)
{
    qloop_hugepages_start(argv, argc >= 2 && batch_command(argv[1]));
    setlocale(LC_CTYPE, "C.UTF-8");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        puts("qloop " QLOOP_VERSION);
        return 0;
    }
    char msg[512];
    if (qloop_clock_check(msg, sizeof msg) != 0) {
        fprintf(stderr, "qloop: %s\n", msg);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "qloop: 未知命令 \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
