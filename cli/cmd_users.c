/*
 * cmd_users.c — `qloop users add|list|disable|key`: the users of a store, at
 * the operator's console on the bureau's server (no --actor: the audit chain
 * records "console:" and the system user).
 *
 * A password is read from standard input — one line, or typed twice without
 * echo at a terminal — never from the command line, where other users of
 * the machine could see it; it is hashed (Argon2id) and zeroed at once. An
 * API key is printed alone on stdout, once. Neither is ever printed to
 * stderr or written to the audit chain. The work is done by
 * engine/identity/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "identity/identity.h"
#include "store/store.h"

/* Reads one line of stdin (without its line end) into out. Returns its
 * length, or -1 when it is longer than the buffer. */
static long read_line(char *out, size_t size)
{
    if (!fgets(out, (int)size, stdin)) {
        out[0] = '\0';
        return 0;
    }
    size_t n = strlen(out);
    if (n == size - 1 && out[n - 1] != '\n')
        return -1;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return (long)n;
}

/* Reads the password: at a terminal, twice without echo (skipped for a
 * system user, who may have none); otherwise the first line of stdin.
 * Returns 0, or prints the problem and returns the exit code. */
static int read_password(const struct cli_args *a, bool optional, char *pw, size_t size)
{
    pw[0] = '\0';
    if (!isatty(STDIN_FILENO)) {
        if (read_line(pw, size) < 0)
            return cli_fail(a, "密码过长（最多 %d 字节）", IDENT_PASSWORD_MAX);
        return 0;
    }
    if (optional)
        return 0;
    struct termios old, quiet;
    bool echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char again[IDENT_PASSWORD_MAX + 2];
    fputs("密码：", stderr);
    long n = read_line(pw, size);
    fputs("\n再输入一次：", stderr);
    long m = n < 0 ? -1 : read_line(again, sizeof again);
    fputc('\n', stderr);
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    bool same = n >= 0 && m >= 0 && strcmp(pw, again) == 0;
    sodium_memzero(again, sizeof again);
    if (n < 0 || m < 0)
        return cli_fail(a, "密码过长（最多 %d 字节）", IDENT_PASSWORD_MAX);
    if (!same)
        return cli_fail(a, "两次输入的密码不一致；请重新运行 qloop users add");
    return 0;
}

static int do_add(const struct cli_args *a)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    enum ident_role role;
    const char *login = a->pos[0];
    if (ident_login_check(login, &err) != 0 || ident_role_parse(cli_opt(a, "role"), &role, &err) != 0)
        return cli_error(&err);
    char pw[IDENT_PASSWORD_MAX + 2];
    int rc = read_password(a, role == IDENT_SYSTEM, pw, sizeof pw);
    if (rc != 0)
        return rc;
    sqlite3 *db = cli_create_store(cli_opt(a, "db"), &rc);
    if (!db) {
        sodium_memzero(pw, sizeof pw);
        return rc;
    }
    char by[160];
    cli_console_actor(by, sizeof by);
    const char *dept = cli_opt(a, "dept");
    rc = ident_user_add(db, login, role, dept, cli_opt(a, "name"), *pw ? pw : NULL, by, &err);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0)
        rc = cli_error(&err);
    else
        printf("已添加用户 %s（%s，%s）%s\n", login, ident_role_name(role), ident_role_zh(role),
               dept ? dept : "");
    store_close(db);
    return rc;
}

static int query_list(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    (void)a;
    return ident_user_list_json(db, out, err);
}

static void print_list(json_t *list, const struct cli_args *a)
{
    (void)a;
    if (json_array_size(list) == 0) {
        puts("尚无用户：数据库由一位操作人使用，--actor 为自由文本（qloop users add 添加用户）");
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u) {
        const char *dept = json_string_value(json_object_get(u, "dept"));
        const char *name = json_string_value(json_object_get(u, "name"));
        printf("%s  %s%s%s%s%s  %s\n", json_string_value(json_object_get(u, "login")),
               json_string_value(json_object_get(u, "role")), dept ? "  " : "", dept ? dept : "",
               name ? "  " : "", name ? name : "",
               json_is_true(json_object_get(u, "active")) ? "有效" : "已停用");
    }
}

static int do_list(const struct cli_args *a)
{
    return cli_show(a, query_list, print_list);
}

/* users disable LOGIN and users key LOGIN. */
static int one_user(const struct cli_args *a, bool key)
{
    int rc;
    sqlite3 *db = cli_open_store(cli_opt(a, "db"), &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    char by[160];
    cli_console_actor(by, sizeof by);
    const char *login = a->pos[0];
    if (key) {
        char k[IDENT_KEY_CHARS + 1];
        rc = ident_key_new(db, login, by, k, sizeof k, &err);
        if (rc == 0) {
            puts(k);
            fflush(stdout);
            fprintf(stderr, "qloop: 这是 %s 的新 API 密钥，只显示这一次，请妥善交给该系统；旧密钥已作废\n",
                    login);
        }
        sodium_memzero(k, sizeof k);
    } else {
        bool changed;
        rc = ident_user_disable(db, login, by, &changed, &err);
        if (rc == 0)
            printf(changed ? "已停用用户 %s：会话已结束，API 密钥已作废\n" : "用户 %s 早已停用\n", login);
    }
    store_close(db);
    return rc == 0 ? QLOOP_EXIT_OK : cli_error(&err);
}

static int do_disable(const struct cli_args *a)
{
    return one_user(a, false);
}

static int do_key(const struct cli_args *a)
{
    return one_user(a, true);
}

static const struct cli_option add_options[] = {
    {"role", 0, "ROLE", CLI_REQUIRED, "角色：admin、steward、approver、provider、reporter、leader、system"},
    {"dept", 0, "NAME", CLI_TEXT, "所属部门（已登记；approver、provider、reporter 必须有）"},
    {"name", 0, "TEXT", CLI_TEXT, "姓名或系统名称"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option list_options[] = {
    CLI_OPT_JSON("以 JSON 数组输出（login、role、dept、name、active、created_at、disabled_at、api_keys；"
                 "不含密码散列）"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option db_only[] = {
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command users_subs[] = {
    {"add", "LOGIN --role ROLE [--dept NAME] [--name TEXT] [--db PATH]",
     "添加用户（数据库不存在时新建）。密码从标准输入读取：终端中输入两次（不回显），或由管道给出一行；"
     "至少 8 个字符。system 用户可以没有密码（用 API 密钥）。",
     NULL, add_options, 1, 1, do_add},
    {"list", "[--json] [--db PATH]", "列出用户。", NULL, list_options, 0, 0, do_list},
    {"disable", "LOGIN [--db PATH]", "停用用户：不能再登录或操作，会话结束，API 密钥作废。", NULL,
     db_only, 1, 1, do_disable},
    {"key", "LOGIN [--db PATH]",
     "为 system 用户生成新的 API 密钥，单独一行输出到标准输出，只显示这一次；旧密钥随即作废，"
     "数据库只保存它的散列。",
     NULL, db_only, 1, 1, do_key},
};

static const struct cli_group users_group = {
    "users",
    "用户与角色（一个用户一个角色），操作人控制台：不带 --actor，审计链记为 console:系统用户名。",
    "角色：\n"
    "  admin     管理员：一切操作，包括用户和部门\n"
    "  steward   数据治理人员（大数据主管部门）：查看全部工单、交办、填报、复核、导入\n"
    "  approver  审批人：按工单政策审批延期——宁波（bureau）由大数据主管部门的审批人，\n"
    "            温州（provider_head）由数源部门自己的审批人（负责人）\n"
    "  provider  数源部门人员：查看并答复本部门的工单、申请延期、查看本部门记录的原文\n"
    "  reporter  使用部门人员：填报问题，查看本部门填报的工单（脱敏）\n"
    "  leader    领导：查看年度评估和计分卡\n"
    "  system    业务系统：用 API 密钥接口对接填报\n"
    "一旦有了用户，工单命令的 --actor 必须是某个有效用户的登录名；每次添加、停用、发密钥都记入\n"
    "审计链（不含密码和密钥）。详见 docs/identity.md。\n",
    users_subs, sizeof users_subs / sizeof users_subs[0],
};

int cmd_users(int argc, char **argv)
{
    return cli_run_group(&users_group, argc, argv);
}
