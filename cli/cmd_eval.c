/*
 * cmd_eval.c — `qloop eval (-e CODE | FILE)`: run Lua in the sandbox rules
 * see, printing each returned value on its own line as tostring would.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lua/sandbox.h"

static void eval_usage(FILE *out)
{
    fputs("用法：qloop eval (-e CODE | FILE) [--divisions FILE] [--db PATH]\n"
          "  在规则所用的同一沙箱中执行 Lua，逐行打印返回值（如 tostring）\n"
          "  例：qloop eval -e 'return idcard.valid(\"11010519491231002X\")'\n",
          out);
}

int cmd_eval(int argc, char **argv)
{
    const char *code = NULL, *file = NULL, *divisions = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            eval_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            code = argv[++i];
        } else if (strcmp(argv[i], "--divisions") == 0 && i + 1 < argc) {
            divisions = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            i++; /* accepted for uniformity: eval does not touch the store */
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            return cli_usage_error("eval：未知参数 \"%s\"；用 qloop eval --help 查看用法", argv[i]);
        }
    }
    if (!code == !file)
        return cli_usage_error("eval 需要 -e CODE 或一个 Lua 文件（二者选一）");
    if (divisions && cli_load_divisions(divisions) != 0)
        return QLOOP_EXIT_INPUT;
    lua_State *L = qloop_lua_new(NULL);
    if (!L)
        return QLOOP_EXIT_INTERNAL;
    struct qloop_error err;
    qloop_error_clear(&err);
    int base = lua_gettop(L);
    int rc = code ? qloop_lua_load(L, code, strlen(code), "=(eval)", &err)
                  : qloop_lua_load_file(L, file, &err);
    if (rc == 0 && qloop_lua_pcall(L, 0, LUA_MULTRET, &err) == LUA_OK) {
        int n = lua_gettop(L) - base;
        for (int i = 1; i <= n; i++) {
            size_t len;
            const char *s = luaL_tolstring(L, base + i, &len);
            fwrite(s, 1, len, stdout);
            fputc('\n', stdout);
            lua_pop(L, 1);
        }
        qloop_lua_close(L);
        return 0;
    }
    if (!err.file[0] && code)
        snprintf(err.file, sizeof err.file, "(eval)");
    cli_print_error(&err);
    qloop_lua_close(L);
    return QLOOP_EXIT_INPUT;
}
