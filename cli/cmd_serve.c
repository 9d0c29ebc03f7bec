/*
 * cmd_serve.c — `qloop serve`: the web portal and its JSON API (web/web.h)
 * on an existing store. Opens the store once here (as every command does:
 * the calendar and divisions that go with it), then hands it to the
 * server, which runs until SIGINT or SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"
#include "web.h"

static int do_serve(const struct cli_args *a)
{
    const char *threads = cli_opt(a, "threads"), *hours = cli_opt(a, "session-hours");
    struct web_config c = {
        .listen = cli_opt(a, "listen"),
        .db_path = cli_opt(a, "db") ? cli_opt(a, "db") : store_default_path(),
        .tls_cert = cli_opt(a, "tls-cert"),
        .tls_key = cli_opt(a, "tls-key"),
        .data_dir = QLOOP_DATADIR,
        .policy = cli_opt(a, "policy"),
        .proxy_tls = cli_flag(a, "proxy-tls"),
    };
    if (!c.tls_cert != !c.tls_key)
        return cli_fail(a, "--tls-cert 和 --tls-key 须同时给出");
    if (threads) {
        char *end;
        long n = strtol(threads, &end, 10);
        if (*end || n < 1 || n > 12)
            return cli_fail(a, "--threads 应为 1 到 12 之间的整数，收到的是“%s”", threads);
        c.threads = (unsigned)n;
    }
    if (hours) {
        char *end;
        long n = strtol(hours, &end, 10);
        if (*end || n < 1 || n > 24 * 30)
            return cli_fail(a, "--session-hours 应为 1 到 720 之间的整数，收到的是“%s”", hours);
        c.session_ttl = (int64_t)n * 3600;
    }
    int rc;
    sqlite3 *db = cli_open_store(c.db_path, &rc);
    if (!db)
        return rc;
    store_close(db);
    struct qloop_error err;
    qloop_error_clear(&err);
    return web_serve(&c, &err) == 0 ? QLOOP_EXIT_OK : cli_error(&err);
}

static const struct cli_option serve_options[] = {
    {"listen", 0, "ADDR:PORT", 0, "监听地址（默认 127.0.0.1:8080；端口 0 任选空闲端口，实际地址打印在标准输出）"},
    {"tls-cert", 0, "FILE", 0, "HTTPS 证书链（PEM），与 --tls-key 一起给出"},
    {"tls-key", 0, "FILE", 0, "HTTPS 私钥（PEM，不加密）"},
    {"threads", 0, "N", 0, "工作线程数（默认 8，最多 12）"},
    {"session-hours", 0, "N", 0, "登录会话有效时长，小时（默认 8）"},
    {"proxy-tls", 0, NULL, 0, "前面的反向代理提供 HTTPS：会话 Cookie 标记为 Secure"},
    CLI_OPT_POLICY,
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command serve_command = {
    "serve", "[--listen ADDR:PORT] [--db PATH] [--tls-cert FILE --tls-key FILE]",
    "门户与 API：数源部门、使用部门和业务系统在浏览器中或通过接口处理工单（/ 为中文门户，/api/v1 为 API）。",
    "启动后在标准输出打印一行服务地址（如 http://127.0.0.1:8080/），每个请求在标准错误记一行日志\n"
    "（不含请求内容、查询参数和任何密钥）；收到 SIGINT 或 SIGTERM 时停止。\n"
    "与夜间运行共用同一个数据库：门户的每次修改都是一个很短的写事务。\n"
    "--policy 只决定新登记的问题报告按哪个政策开立；已有工单始终按其开立时的政策处理。\n"
    "部署（反向代理、systemd）见 docs/portal.md。\n",
    serve_options, 0, 0, do_serve,
};

int cmd_serve(int argc, char **argv)
{
    return cli_run_command(&serve_command, argc, argv);
}
