/*
 * cmd_depts.c — `qloop depts add|list`: the departments of a store, at the
 * operator's console on the bureau's server (no --actor: the audit chain
 * records "console:" and the system user). Owners named by rule packs and
 * the catalog are registered by themselves when first seen; `depts add`
 * registers the others (using departments, the bureau), gives a department
 * its code and marks the one bureau (大数据主管部门). The work is done by
 * engine/identity/depts.c.
 */
#include <stdio.h>

#include "cli.h"
#include "identity/identity.h"
#include "store/store.h"

static int do_add(const struct cli_args *a)
{
    int rc;
    sqlite3 *db = cli_create_store(cli_opt(a, "db"), &rc);
    if (!db)
        return rc;
    struct qloop_error err;
    qloop_error_clear(&err);
    char by[160];
    cli_console_actor(by, sizeof by);
    bool changed;
    struct ident_dept d;
    const char *name = a->pos[0];
    if (ident_dept_add(db, name, cli_opt(a, "code"), cli_flag(a, "bureau"), by, &changed, &err) != 0 ||
        ident_dept_find(db, name, &d, &err) != 1) {
        rc = cli_error(&err);
    } else {
        printf("%s部门：%s%s%s%s%s\n", changed ? "已登记" : "已有（无变化）", d.name,
               *d.code ? "（代码 " : "", d.code, *d.code ? "）" : "", d.bureau ? "，大数据主管部门" : "");
        rc = QLOOP_EXIT_OK;
    }
    store_close(db);
    return rc;
}

static int query_list(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    (void)a;
    return ident_dept_list_json(db, out, err);
}

static void print_list(json_t *list, const struct cli_args *a)
{
    (void)a;
    if (json_array_size(list) == 0) {
        puts("尚未登记任何部门（qloop depts add 名称；运行规则包或导入目录时自动登记数源部门）");
        return;
    }
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        const char *code = json_string_value(json_object_get(d, "code"));
        printf("%s%s%s%s  用户 %lld  %.10s 登记（%s）\n", json_string_value(json_object_get(d, "name")),
               code ? "  代码 " : "", code ? code : "",
               json_is_true(json_object_get(d, "bureau")) ? "  大数据主管部门" : "",
               (long long)json_integer_value(json_object_get(d, "users")),
               json_string_value(json_object_get(d, "registered_at")),
               json_string_value(json_object_get(d, "seen_in")));
    }
}

static int do_list(const struct cli_args *a)
{
    return cli_show(a, query_list, print_list);
}

static const struct cli_option add_options[] = {
    {"code", 0, "CODE", CLI_TEXT, "统一社会信用代码或本单位编号（字母、数字、-，最多 32 位）"},
    {"bureau", 0, NULL, 0, "大数据主管部门（只能有一个）：按宁波政策，延期由它的审批人审批"},
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option list_options[] = {
    CLI_OPT_JSON("以 JSON 数组输出（name、code、bureau、registered_at、registered_by、seen_in、users）"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command depts_subs[] = {
    {"add", "NAME [--code CODE] [--bureau] [--db PATH]",
     "登记部门（数据库不存在时新建）；已登记的部门可补上代码或标为大数据主管部门。", NULL,
     add_options, 1, 1, do_add},
    {"list", "[--json] [--db PATH]", "列出部门及其有效用户数。", NULL, list_options, 0, 0, do_list},
};

static const struct cli_group depts_group = {
    "depts",
    "部门：数源部门（规则包和资源目录中的 owner，首次出现时自动登记）、使用部门和大数据主管部门。",
    "每次登记和变更都记入审计链（操作人记为 console:系统用户名）。角色与权限见 docs/identity.md。\n",
    depts_subs, sizeof depts_subs / sizeof depts_subs[0],
};

int cmd_depts(int argc, char **argv)
{
    return cli_run_group(&depts_group, argc, argv);
}
