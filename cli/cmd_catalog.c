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

static const char usage_all[] =
    "用法：qloop catalog import FILE [--encoding E] [--actor A] [--json] [--db PATH]\n"
    "      qloop catalog check [--json] [--db PATH]\n"
    "      qloop catalog show [--dataset D] [--as-of DATE] [--json] [--db PATH]\n"
    "      qloop catalog history [--dataset D] [--json] [--db PATH]\n"
    "\n"
    "资源目录：每个汇聚到平台的数据集由数源部门编目。\n"
    "  import    导入目录（CSV 中文表头或 JSON）；与已有目录比较，每处新增、变更、删除记入审计链\n"
    "  check     检查目录：必备要素、共享/开放依据、与数据的一致性、更新是否及时\n"
    "  show      查看目录（可查看任一天的目录）\n"
    "  history   查看目录的变更历史\n"
    "用 qloop catalog 子命令 --help 查看各自的选项；文件格式见 docs/catalog.md。\n";

static const char usage_import[] =
    "用法：qloop catalog import FILE [--encoding E] [--actor A] [--json] [--db PATH]\n"
    "\n"
    "导入资源目录文件。FILE 为 CSV（第一行为中文表头：数据集标识,业务名称,信息系统名称,\n"
    "数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限，\n"
    "可选 敏感数据项、键）或 JSON（{\"datasets\": [...]}，键名见 docs/catalog.md）。\n"
    "文件即完整的目录：文件中没有的数据集视为删除。每处新增、变更、删除连同日期记入审计链。\n"
    "文件有误时不导入任何内容，并指出文件、行和问题。\n"
    "\n"
    "  --encoding E  CSV 文件的编码：utf-8（默认）、gbk 或 gb18030（Excel 默认保存的 CSV 多为 GBK）\n"
    "  --actor A   操作人（默认 $USER）\n"
    "  --json      以 JSON 输出变更摘要\n"
    "  --db PATH   数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help      显示本说明\n";

static const char usage_check[] =
    "用法：qloop catalog check [--json] [--db PATH]\n"
    "\n"
    "检查资源目录并列出问题（退出码 0）：\n"
    "  missing_element  必备要素为空（宁波市公共数据管理办法第十条，及数源部门）\n"
    "  missing_basis    受限共享、不予共享未写共享依据；禁止开放未写理由\n"
    "  schema_drift     最近一次运行读到的数据字段与目录数据项不一致\n"
    "  stale            数据未按目录的更新周期更新（按最近一次运行读到的更新时间）\n"
    "  late_update      数据字段变化后 5 个工作日内未更新目录（温州办法第十一条）\n"
    "  uncatalogued     运行读过、目录中没有的数据集\n"
    "每次 qloop run 也做同样的检查，问题作为发现交给数源部门。\n"
    "\n"
    "  --json      输出 {\"datasets\": N, \"problems\": [{\"dataset\",\"kind\",\"element\",\"message\"}]}\n"
    "  --db PATH   数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help      显示本说明\n";

static const char usage_show[] =
    "用法：qloop catalog show [--dataset D] [--as-of DATE] [--json] [--db PATH]\n"
    "\n"
    "显示资源目录。\n"
    "  --dataset D   只显示数据集 D\n"
    "  --as-of DATE  显示该日（YYYY-MM-DD，当日结束时）或该时刻的目录\n"
    "  --json        以 JSON 输出（键名与 JSON 导入格式相同）\n"
    "  --db PATH     数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help        显示本说明\n";

static const char usage_history[] =
    "用法：qloop catalog history [--dataset D] [--json] [--db PATH]\n"
    "\n"
    "按版本列出每次导入及其带来的变更（新增、变更、删除的数据集和数据项）。\n"
    "  --dataset D   只列出涉及数据集 D 的变更\n"
    "  --json        以 JSON 数组输出\n"
    "  --db PATH     数据库文件（默认 $QLOOP_DB 或 ./qloop.db）\n"
    "  --help        显示本说明\n";

struct catalog_opts {
    const char *sub;     /* import, check, show, history */
    const char *file;    /* import FILE */
    const char *db;      /* --db */
    const char *actor;   /* --actor */
    const char *dataset; /* --dataset */
    const char *as_of;   /* --as-of */
    const char *encoding; /* --encoding */
    int json;            /* --json */
    int help;            /* --help / -h */
};

/* Parses argv (argv[0] = "catalog"). Returns 0 or an exit code after a
 * usage error. */
static int parse(int argc, char **argv, struct catalog_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int r;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if ((r = cli_take_value("catalog", "--db", argc, argv, &i, &o->db)) != 0 ||
            (r = cli_take_value("catalog", "--actor", argc, argv, &i, &o->actor)) != 0 ||
            (r = cli_take_value("catalog", "--dataset", argc, argv, &i, &o->dataset)) != 0 ||
            (r = cli_take_value("catalog", "--as-of", argc, argv, &i, &o->as_of)) != 0 ||
            (r = cli_take_value("catalog", "--encoding", argc, argv, &i, &o->encoding)) != 0) {
            if (r < 0)
                return QLOOP_EXIT_INPUT;
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0')
            return cli_usage_error("未知选项 %s；运行 qloop catalog --help 查看用法", arg);
        if (!o->sub)
            o->sub = arg;
        else if (strcmp(o->sub, "import") == 0 && !o->file)
            o->file = arg;
        else
            return cli_usage_error("多余的参数 %s；运行 qloop catalog --help 查看用法", arg);
    }
    return 0;
}

/* Prints v as indented JSON and a newline. */
static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s ? s : "null");
    free(s);
}

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

/* `qloop catalog import FILE`. */
static int do_import(const struct catalog_opts *o)
{
    if (!o->file)
        return cli_usage_error("catalog import 需要目录文件：qloop catalog import FILE");
    if (o->dataset || o->as_of)
        return cli_usage_error("catalog import 不接受 --dataset 或 --as-of");
    const char *actor = o->actor;
    if (!actor || !*actor)
        actor = getenv("USER");
    if (!actor || !*actor)
        actor = "未署名";
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *summary = NULL;
    struct catalog_file file = {o->file, o->encoding, qloop_adapter_find};
    int rc = catalog_import(db, &file, actor, &summary, &err);
    store_close(db);
    if (rc != 0) {
        cli_print_error(&err);
        fputs("qloop: 目录未导入任何内容；修正后重新导入即可\n", stderr);
        return qloop_error_exit(&err);
    }
    if (o->json) {
        print_json(summary);
    } else {
        json_t *changes = json_object_get(summary, "changes");
        printf("资源目录已导入：第 %lld 版（%s），共 %lld 个数据集；新增 %zu，变更 %zu，删除 %zu\n",
               (long long)json_integer_value(json_object_get(summary, "version")),
               str(summary, "date"),
               (long long)json_integer_value(json_object_get(summary, "datasets")),
               json_array_size(json_object_get(summary, "added")),
               json_array_size(json_object_get(summary, "changed")),
               json_array_size(json_object_get(summary, "removed")));
        size_t i;
        json_t *c;
        json_array_foreach(changes, i, c)
            print_change(c);
        if (json_array_size(changes) == 0)
            puts("  与上一版相同，没有变更");
    }
    json_decref(summary);
    return QLOOP_EXIT_OK;
}

/* `qloop catalog check`. */
static int do_check(const struct catalog_opts *o)
{
    if (o->dataset || o->as_of || o->actor || o->encoding)
        return cli_usage_error("catalog check 只接受 --json 和 --db");
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *res = catalog_check(db, &err);
    store_close(db);
    if (!res) {
        cli_print_error(&err);
        return QLOOP_EXIT_INTERNAL;
    }
    json_t *problems = json_object_get(res, "problems");
    if (o->json) {
        print_json(res);
    } else if (json_is_null(json_object_get(res, "version"))) {
        puts("尚未导入资源目录；请先运行 qloop catalog import FILE");
    } else {
        printf("资源目录共 %lld 个数据集，发现 %zu 个问题\n",
               (long long)json_integer_value(json_object_get(res, "datasets")),
               json_array_size(problems));
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p)
            printf("%s\t%s\t%s\t%s\n", str(p, "dataset"), str(p, "kind"), str(p, "element"),
                   str(p, "message"));
    }
    json_decref(res);
    return QLOOP_EXIT_OK;
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
static int do_show(const struct catalog_opts *o)
{
    if (o->actor || o->encoding)
        return cli_usage_error("catalog show 不接受 --actor 或 --encoding");
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *res;
    int rc = catalog_show(db, o->dataset, o->as_of, &res, &err);
    store_close(db);
    if (rc != 0) {
        cli_print_error(&err);
        return rc == -1 ? QLOOP_EXIT_INPUT : QLOOP_EXIT_INTERNAL;
    }
    if (o->json) {
        print_json(res);
    } else if (json_is_null(json_object_get(res, "version"))) {
        printf("%s还没有导入过资源目录\n", o->as_of ? "在该日期" : "");
    } else {
        json_t *list = json_object_get(res, "datasets");
        printf("资源目录第 %lld 版（导入于 %s，%s），%zu 个数据集%s%s\n",
               (long long)json_integer_value(json_object_get(res, "version")),
               str(res, "imported_at"), str(res, "actor") ? str(res, "actor") : "",
               json_array_size(list), o->as_of ? "，截至 " : "", o->as_of ? o->as_of : "");
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
            print_entry(e);
        if (o->dataset && json_array_size(list) == 0)
            printf("（目录中没有数据集 %s）\n", o->dataset);
    }
    json_decref(res);
    return QLOOP_EXIT_OK;
}

/* `qloop catalog history`. */
static int do_history(const struct catalog_opts *o)
{
    if (o->actor || o->as_of || o->encoding)
        return cli_usage_error("catalog history 只接受 --dataset、--json 和 --db");
    sqlite3 *db = cli_open_store(o->db);
    if (!db)
        return QLOOP_EXIT_INPUT;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *res;
    int rc = catalog_history(db, o->dataset, &res, &err);
    store_close(db);
    if (rc != 0) {
        cli_print_error(&err);
        return QLOOP_EXIT_INTERNAL;
    }
    if (o->json) {
        print_json(res);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(res, i, v) {
            printf("第 %lld 版  %s  %s  %s\n", (long long)json_integer_value(json_object_get(v, "version")),
                   str(v, "at"), str(v, "actor"), str(v, "file") ? str(v, "file") : "");
            json_t *changes = json_object_get(v, "changes");
            size_t k;
            json_t *c;
            json_array_foreach(changes, k, c)
                print_change(c);
            if (json_array_size(changes) == 0)
                puts("  没有变更");
        }
        if (json_array_size(res) == 0)
            puts("还没有导入过资源目录");
    }
    json_decref(res);
    return QLOOP_EXIT_OK;
}

int cmd_catalog(int argc, char **argv)
{
    struct catalog_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    static const struct {
        const char *name;
        const char *usage;
        int (*fn)(const struct catalog_opts *);
    } subs[] = {
        {"import", usage_import, do_import},
        {"check", usage_check, do_check},
        {"show", usage_show, do_show},
        {"history", usage_history, do_history},
    };
    if (!o.sub) {
        if (o.help) {
            fputs(usage_all, stdout);
            return QLOOP_EXIT_OK;
        }
        fputs(usage_all, stderr);
        return cli_usage_error("catalog 需要子命令 import、check、show 或 history");
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(o.sub, subs[i].name) == 0) {
            if (o.help) {
                fputs(subs[i].usage, stdout);
                return QLOOP_EXIT_OK;
            }
            return subs[i].fn(&o);
        }
    return cli_usage_error("未知的 catalog 子命令 \"%s\"；可用 import、check、show、history"
                           "（qloop catalog --help）",
                           o.sub);
}
