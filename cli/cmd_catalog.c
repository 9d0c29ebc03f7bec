/*
 * cmd_catalog.c — `qloop catalog import|check|show|history`: the resource
 * catalog (目录) from the command line.
 *
 * import reads a catalog file (CSV with the Chinese headers, or JSON) and
 * prints what changed; check prints the catalog's problems (exit 0 whether
 * or not there are any: they go to the providers through runs); show prints
 * the catalog as it stood on a day; history lists every import and what it
 * changed. The work is done by engine/catalog/ (catalog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters.h"
#include "catalog/catalog.h"
#include "cli.h"
#include "store/store.h"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A value of element key for people: the Chinese name of a code, "（空）"
 * for an empty one. */
static const char *shown(const char *key, json_t *v)
{
    const char *s = json_string_value(v);
    return s ? catalog_code_zh(key, s) : "（空）";
}

/* One change record as a line of text. */
static void print_change(json_t *c)
{
    const char *ds = str(c, "dataset"), *op = str(c, "op");
    const char *element = str(c, "element"), *field = str(c, "field");
    const char *verb = strcmp(op, "add") == 0 ? "新增" : strcmp(op, "remove") == 0 ? "删除" : "变更";
    if (element) {
        printf("  %s %s：%s %s → %s\n", verb, ds, catalog_element_zh(element),
               shown(element, json_object_get(c, "before")),
               shown(element, json_object_get(c, "after")));
    } else if (field) {
        printf("  %s：%s数据项 %s\n", ds, verb, field);
    } else {
        json_t *e = json_object_get(c, strcmp(op, "remove") == 0 ? "before" : "after");
        const char *title = str(e, "title");
        printf("  %s数据集 %s%s%s%s\n", verb, ds, title ? "（" : "", title ? title : "",
               title ? "）" : "");
    }
}

/* The changes of one version, or none_text when there are none. */
static void print_changes(json_t *changes, const char *none_text)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
        print_change(c);
    if (json_array_size(changes) == 0)
        puts(none_text);
}

/* `qloop catalog import FILE`. */
static int query_import(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    const char *actor = cli_opt(a, "actor");
    if (!actor || !*actor)
        actor = getenv("USER");
    if (!actor || !*actor)
        actor = "未署名";
    struct catalog_file file = {a->pos[0], cli_opt(a, "encoding"), qloop_adapter_find};
    return catalog_import(db, &file, actor, out, err);
}

static void print_import(json_t *summary, const struct cli_args *a)
{
    printf("资源目录已导入：第 %lld 版（%s），共 %lld 个数据集；新增 %zu，变更 %zu，删除 %zu\n",
           (long long)json_integer_value(json_object_get(summary, "version")), str(summary, "date"),
           (long long)json_integer_value(json_object_get(summary, "datasets")),
           json_array_size(json_object_get(summary, "added")),
           json_array_size(json_object_get(summary, "changed")),
           json_array_size(json_object_get(summary, "removed")));
    print_changes(json_object_get(summary, "changes"), "  与上一版相同，没有变更");
}

static int do_import(const struct cli_args *a)
{
    int rc = cli_show_creating(a, query_import, print_import);
    if (rc != 0)
        fputs("qloop: 目录未导入任何内容；修正后重新导入即可\n", stderr);
    return rc;
}

/* `qloop catalog check`. */
static int query_check(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    return (*out = catalog_check(db, err)) ? 0 : -1;
}

static void print_check(json_t *res, const struct cli_args *a)
{
    json_t *problems = json_object_get(res, "problems");
    if (json_is_null(json_object_get(res, "version"))) {
        puts("尚未导入资源目录；请先运行 qloop catalog import FILE");
        return;
    }
    printf("资源目录共 %lld 个数据集，发现 %zu 个问题\n",
           (long long)json_integer_value(json_object_get(res, "datasets")), json_array_size(problems));
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
        printf("%s\t%s\t%s\t%s\n", str(p, "dataset"), str(p, "kind"), str(p, "element"),
               str(p, "message"));
}

static int do_check(const struct cli_args *a)
{
    return cli_show(a, query_check, print_check);
}

/* One dataset of the catalog as text. */
static void print_entry(json_t *e)
{
    static const char *const keys[] = {"system", "owner", "format", "share", "share_basis",
                                       "open", "open_basis", "provision", "update_cycle",
                                       "share_period", "key", NULL};
    const char *title = str(e, "title");
    printf("%s  %s\n", str(e, "dataset"), title ? title : "（业务名称为空）");
    for (size_t i = 0; keys[i]; i++)
        printf("  %s：%s\n", catalog_element_zh(keys[i]), shown(keys[i], json_object_get(e, keys[i])));
    json_t *fields = json_object_get(e, "fields");
    printf("  数据项（%zu）：\n", json_array_size(fields));
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *label = str(f, "label"), *type = str(f, "type");
        printf("    %s\t%s\t%s%s\n", str(f, "name"), label ? label : "", type ? type : "",
               json_is_true(json_object_get(f, "sensitive")) ? "\t敏感" : "");
    }
}

/* `qloop catalog show`. */
static int query_show(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    return catalog_show(db, cli_opt(a, "dataset"), cli_opt(a, "as-of"), out, err);
}

static void print_show(json_t *res, const struct cli_args *a)
{
    const char *dataset = cli_opt(a, "dataset"), *as_of = cli_opt(a, "as-of");
    if (json_is_null(json_object_get(res, "version"))) {
        printf("%s还没有导入过资源目录\n", as_of ? "在该日期" : "");
        return;
    }
    json_t *list = json_object_get(res, "datasets");
    printf("资源目录第 %lld 版（导入于 %s，%s），%zu 个数据集%s%s\n",
           (long long)json_integer_value(json_object_get(res, "version")), str(res, "imported_at"),
           str(res, "actor") ? str(res, "actor") : "", json_array_size(list),
           as_of ? "，截至 " : "", as_of ? as_of : "");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
        print_entry(e);
    if (dataset && json_array_size(list) == 0)
        printf("（目录中没有数据集 %s）\n", dataset);
}

static int do_show(const struct cli_args *a)
{
    return cli_show(a, query_show, print_show);
}

/* `qloop catalog history`. */
static int query_history(sqlite3 *db, const struct cli_args *a, json_t **out, struct qloop_error *err)
{
    return catalog_history(db, cli_opt(a, "dataset"), out, err);
}

static void print_history(json_t *res, const struct cli_args *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(res, i, v) {
        printf("第 %lld 版  %s  %s  %s\n", (long long)json_integer_value(json_object_get(v, "version")),
               str(v, "at"), str(v, "actor"), str(v, "file") ? str(v, "file") : "");
        print_changes(json_object_get(v, "changes"), "  没有变更");
    }
    if (json_array_size(res) == 0)
        puts("还没有导入过资源目录");
}

static int do_history(const struct cli_args *a)
{
    return cli_show(a, query_history, print_history);
}

static const struct cli_option import_options[] = {
    {"encoding", 0, "E", 0, "CSV 文件的编码：utf-8（默认）、gbk 或 gb18030（Excel 默认保存的 CSV 多为 GBK）"},
    {"actor", 0, "A", CLI_TEXT, "操作人（默认 $USER）"},
    CLI_OPT_JSON("以 JSON 输出变更摘要"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option check_options[] = {
    CLI_OPT_JSON("输出 {\"datasets\": N, \"problems\": [{\"dataset\",\"kind\",\"element\",\"message\"}]}"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option show_options[] = {
    {"dataset", 0, "D", 0, "只显示数据集 D"},
    {"as-of", 0, "DATE", 0, "显示该日（YYYY-MM-DD，当日结束时）或该时刻的目录"},
    CLI_OPT_JSON("以 JSON 输出（键名与 JSON 导入格式相同）"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_option history_options[] = {
    {"dataset", 0, "D", 0, "只列出涉及数据集 D 的变更"},
    CLI_OPT_JSON("以 JSON 数组输出"),
    CLI_OPT_DB,
    CLI_OPT_END,
};

static const struct cli_command catalog_subs[] = {
    {"import", "FILE [--encoding E] [--actor A] [--json] [--db PATH]",
     "导入资源目录文件：与已有目录比较，每处新增、变更、删除连同日期记入审计链。",
     "FILE 为 CSV（第一行为中文表头：数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,\n"
     "共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限，可选 敏感数据项、键）\n"
     "或 JSON（{\"datasets\": [...]}，键名见 docs/catalog.md）。文件即完整的目录：文件中没有的\n"
     "数据集视为删除。文件有误时不导入任何内容，并指出文件、行和问题。\n",
     import_options, 1, 1, do_import},
    {"check", "[--json] [--db PATH]",
     "检查资源目录并列出问题（退出码 0；每次 qloop run 也做同样的检查，问题作为发现交给数源部门）。",
     "  missing_element  必备要素为空（宁波市公共数据管理办法第十条，及数源部门）\n"
     "  missing_basis    受限共享、不予共享未写共享依据；禁止开放未写理由\n"
     "  schema_drift     最近一次运行读到的数据字段与目录数据项不一致\n"
     "  stale            数据未按目录的更新周期更新（按最近一次运行读到的更新时间）\n"
     "  late_update      数据字段变化后 5 个工作日内未更新目录（温州办法第十一条）\n"
     "  uncatalogued     运行读过、目录中没有的数据集\n",
     check_options, 0, 0, do_check},
    {"show", "[--dataset D] [--as-of DATE] [--json] [--db PATH]",
     "显示资源目录（可查看任一天的目录）。", NULL, show_options, 0, 0, do_show},
    {"history", "[--dataset D] [--json] [--db PATH]",
     "按版本列出每次导入及其带来的变更（新增、变更、删除的数据集和数据项）。", NULL,
     history_options, 0, 0, do_history},
};

static const struct cli_group catalog_group = {
    "catalog", "资源目录：每个汇聚到平台的数据集由数源部门编目。", "文件格式见 docs/catalog.md。\n",
    catalog_subs, sizeof catalog_subs / sizeof catalog_subs[0],
};

int cmd_catalog(int argc, char **argv)
{
    return cli_run_group(&catalog_group, argc, argv);
}
