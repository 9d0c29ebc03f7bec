/*
 * cmd_eval.c — `qloop eval (-e CODE | FILE)`: run Lua in the sandbox rules
 * see, printing each returned value on its own line as tostring would. The
 * values are turned into text inside the sandbox (qloop_lua_print_values), so
 * a __tostring that raises or loops is an error with exit 2, never an abort.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lua/call.h"

static int do_eval(const struct cli_args *a)
{
    const char *code = cli_opt(a, "code"), *file = a->npos ? a->pos[0] : NULL;
    const char *divisions = cli_opt(a, "divisions");
    if (!code == !file)
        return cli_fail(a, "需要 -e CODE 或一个 Lua 文件（二者选一）");
    int rc = divisions ? cli_load_divisions(divisions) : 0;
    if (rc != 0)
        return rc;
    lua_State *L = qloop_lua_new(NULL);
    if (!L) {
        fputs("qloop: 无法建立 Lua 沙箱（内存不足）\n", stderr);
        return QLOOP_EXIT_INTERNAL;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    int base = lua_gettop(L);
    rc = code ? qloop_lua_load(L, code, strlen(code), "=(eval)", &err)
              : qloop_lua_load_file(L, file, &err);
    if (rc == 0 && qloop_lua_pcall(L, 0, LUA_MULTRET, &err) == LUA_OK &&
        qloop_lua_print_values(L, base, stdout, &err) == 0) {
        qloop_lua_close(L);
        return QLOOP_EXIT_OK;
    }
    if (!err.file[0] && code)
        snprintf(err.file, sizeof err.file, "(eval)");
    qloop_lua_close(L);
    return cli_error(&err);
}

static const struct cli_option eval_options[] = {
    {"code", 'e', "CODE", 0, "要执行的 Lua 代码"},
    CLI_OPT_DIVISIONS,
    {"db", 0, "PATH", 0, "为与其他命令一致而接受；eval 不读写数据库"},
    CLI_OPT_END,
};

static const struct cli_command eval_command = {
    "eval", "(-e CODE | FILE) [--divisions FILE]",
    "在规则所用的同一沙箱中执行 Lua，逐行打印返回值（如 tostring）。",
    "例：qloop eval -e 'return idcard.valid(\"11010519491231002X\")'\n",
    eval_options, 0, 1, do_eval,
};

int cmd_eval(int argc, char **argv)
{
    return cli_run_command(&eval_command, argc, argv);
}
