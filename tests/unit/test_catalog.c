/*
 * test_catalog.c — the resource catalog (目录), its files: CSV and JSON of
 * one catalog import the same; re-imports are diffs recorded with their
 * dates in the audit chain and the catalog can be shown as of any day; bad
 * files are refused with file, line and cause and import nothing; CSV is
 * read by the CSV adapter, so a GBK catalog imports when declared and
 * errors give lines of the file; and the merge into a rule pack, where the
 * rule file wins. The checks are in test_catalog_checks.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <iconv.h>

#include <cmocka.h>

#include "store_helpers.h"
#include "catalog_helpers.h"

#include "store/audit.h"
#include "base/clock.h"
#include "rules/pack.h"
#include "store/store.h"

/* ---- one catalog, two formats -------------------------------------------- */

/* BOM, CRLF, a quoted cell with a comma and a doubled quote, full-width
 * separators, Chinese values, an item without label or type, a
 * spreadsheet's empty row. */
static const char CSV_A[] =
    "\xEF\xBB\xBF"
    "数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限,敏感数据项,键\r\n"
    "people,人口基础信息,人口综合库,市公安局,\"person_id:公民身份号码:string；name：姓名：string;phone:手机号码:string;note\",数据库表,受限共享,"
    "\"《个人信息保护法》第十三条，\"\"依法\"\"共享\",禁止开放,涉及个人信息,接口共享,每日,长期,\"person_id;phone\",person_id\r\n"
    ",,,,,, ,,,,,,,,\r\n"
    "social,社会保险参保信息,社保系统,市人力社保局,pid:公民身份号码:string;name:姓名,文件,无条件共享,,有条件开放,依申请,交换共享,每季度,2025-12-31,,\r\n";

static const char JSON_A[] =
    "{\"datasets\": [\n"
    " {\"dataset\": \"social\", \"title\": \"社会保险参保信息\", \"system\": \"社保系统\",\n"
    "  \"owner\": \"市人力社保局\", \"fields\": [{\"name\": \"pid\", \"label\": \"公民身份号码\", \"type\": \"string\"},\n"
    "  {\"name\": \"name\", \"label\": \"姓名\"}], \"format\": \"文件\", \"share\": \"unconditional\",\n"
    "  \"open\": \"conditional\", \"open_basis\": \"依申请\", \"provision\": \"exchange\",\n"
    "  \"update_cycle\": \"quarterly\", \"share_period\": \"2025-12-31\", \"share_basis\": null},\n"
    " {\"dataset\": \"people\", \"title\": \"人口基础信息\", \"system\": \"人口综合库\", \"owner\": \"市公安局\",\n"
    "  \"fields\": [{\"name\": \"person_id\", \"label\": \"公民身份号码\", \"type\": \"string\", \"sensitive\": true},\n"
    "             {\"name\": \"name\", \"label\": \"姓名\", \"type\": \"string\"},\n"
    "             \"phone:手机号码:string\", {\"name\": \"note\"}],\n"
    "  \"sensitive\": [\"phone\"],\n"
    "  \"format\": \"数据库表\", \"share\": \"受限共享\", \"share_basis\": \"《个人信息保护法》第十三条，\\\"依法\\\"共享\",\n"
    "  \"open\": \"forbidden\", \"open_basis\": \"涉及个人信息\", \"provision\": \"api\",\n"
    "  \"update_cycle\": \"daily\", \"share_period\": \"长期\", \"key\": \"person_id\"}\n"
    "]}\n";

static void test_csv_and_json_import_the_same(void **state)
{
    (void)state;
    set_now("2024-09-02T10:00:00+08:00");
    sqlite3 *a = db_open(), *b = db_open();
    json_decref(import_ok(a, "a.csv", CSV_A));
    json_decref(import_ok(b, "a.json", JSON_A));
    json_t *sa = show(a, NULL, NULL), *sb = show(b, NULL, NULL);
    json_t *da = json_object_get(sa, "datasets"), *dbs = json_object_get(sb, "datasets");
    assert_int_equal(json_array_size(da), 2);
    if (!json_equal(da, dbs)) {
        char *x = json_dumps(da, JSON_COMPACT), *y = json_dumps(dbs, JSON_COMPACT);
        fail_msg("CSV and JSON differ:\n%s\n%s", x, y);
    }
    /* What was read, element by element. */
    json_t *people = json_array_get(da, 0);
    assert_string_equal(jget(people, "dataset"), "people");
    assert_string_equal(jget(people, "share"), "conditional");
    assert_string_equal(jget(people, "open"), "forbidden");
    assert_string_equal(jget(people, "provision"), "api");
    assert_string_equal(jget(people, "update_cycle"), "daily");
    assert_string_equal(jget(people, "share_basis"), "《个人信息保护法》第十三条，\"依法\"共享");
    assert_string_equal(jget(people, "key"), "person_id");
    json_t *fields = json_object_get(people, "fields");
    assert_int_equal(json_array_size(fields), 4);
    assert_string_equal(jget(json_array_get(fields, 1), "label"), "姓名");
    assert_true(json_is_true(json_object_get(json_array_get(fields, 0), "sensitive")));
    assert_true(json_is_false(json_object_get(json_array_get(fields, 1), "sensitive")));
    assert_true(json_is_true(json_object_get(json_array_get(fields, 2), "sensitive")));
    assert_true(json_is_null(json_object_get(json_array_get(fields, 3), "label")));
    json_t *social = json_array_get(da, 1);
    assert_true(json_is_null(json_object_get(social, "share_basis")));
    assert_true(json_is_null(json_object_get(social, "key")));
    assert_string_equal(jget(social, "update_cycle"), "quarterly");
    assert_int_equal(json_integer_value(json_object_get(sa, "version")), 1);
    json_decref(sa);
    json_decref(sb);
    /* The other format over the same catalog is no change at all. */
    json_t *s = import_ok(a, "again.json", JSON_A);
    assert_int_equal(json_array_size(json_object_get(s, "changes")), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "version")), 2);
    json_decref(s);
    assert_int_equal(q_int(a, "SELECT count(*) FROM audit WHERE kind IN "
                              "('catalog.add','catalog.change','catalog.remove')"), 2);
    store_close(a);
    store_close(b);
}

/* ---- re-import: the diff, its dates, the catalog on any day --------------- */

static const char V1[] =
    "数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限\n"
    "people,人口基础信息,人口库,市公安局,id:身份号码:string;name:姓名:string;sex:性别:string,表,无条件共享,,无条件开放,,接口共享,每日,长期\n"
    "social,社保,社保库,市人社局,pid:身份号码,表,无条件共享,,无条件开放,,接口共享,每月,长期\n";
static const char V2[] =
    "数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限\n"
    "legal,法人,法人库,市市场监管局,uscc:统一社会信用代码,表,无条件共享,,无条件开放,,平台分析,每日,长期\n"
    "people,人口基础信息,人口库,市公安局,id:身份号码:string;name:名字:string;email:电子邮箱:string,表,无条件共享,,无条件开放,,接口共享,每周,长期\n";

static void test_reimport_is_a_dated_diff(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    set_now("2024-09-02T10:00:00+08:00");
    json_t *s1 = import_ok(db, "v1.csv", V1);
    assert_int_equal(json_array_size(json_object_get(s1, "added")), 2);
    assert_string_equal(jget(s1, "date"), "2024-09-02");
    json_decref(s1);

    set_now("2024-09-10T15:00:00+08:00");
    json_t *s2 = import_ok(db, "v2.csv", V2);
    assert_int_equal(json_integer_value(json_object_get(s2, "version")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s2, "added"), 0)), "legal");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s2, "changed"), 0)), "people");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s2, "removed"), 0)), "social");
    /* people: the cycle, one item added, one relabelled, one removed. */
    assert_int_equal(json_array_size(json_object_get(s2, "changes")), 2 + 4);
    json_decref(s2);

    /* The audit chain holds each change with its date, before and after. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE at LIKE '2024-09-10%%' AND kind LIKE 'catalog.%%'"), 7);
    const char *d = q_text(db, "SELECT detail FROM audit WHERE kind = 'catalog.change' AND subject = 'catalog:people'"
                               " AND detail NOT LIKE '%%\"field\"%%'");
    json_t *detail = json_loads(d, 0, NULL);
    assert_non_null(detail);
    assert_string_equal(jget(detail, "date"), "2024-09-10");
    assert_string_equal(jget(json_object_get(detail, "before"), "update_cycle"), "daily");
    assert_string_equal(jget(json_object_get(detail, "after"), "update_cycle"), "weekly");
    assert_int_equal(json_integer_value(json_object_get(detail, "version")), 2);
    json_decref(detail);
    detail = json_loads(q_text(db, "SELECT detail FROM audit WHERE kind = 'catalog.add' AND subject = 'catalog:people'"
                                   " AND detail LIKE '%%\"field\"%%'"), 0, NULL);
    assert_string_equal(jget(detail, "field"), "email");
    assert_true(json_is_null(json_object_get(detail, "before")));
    assert_string_equal(jget(json_object_get(detail, "after"), "label"), "电子邮箱");
    json_decref(detail);
    detail = json_loads(q_text(db, "SELECT detail FROM audit WHERE kind = 'catalog.change' AND subject = 'catalog:people'"
                                   " AND detail LIKE '%%\"field\"%%'"), 0, NULL);
    assert_string_equal(jget(detail, "field"), "name");
    assert_string_equal(jget(json_object_get(detail, "before"), "label"), "姓名");
    assert_string_equal(jget(json_object_get(detail, "after"), "label"), "名字");
    json_decref(detail);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'catalog.remove' AND subject = 'catalog:people'"
                               " AND detail LIKE '%%\"field\":\"sex\"%%' AND detail LIKE '%%\"date\":\"2024-09-10\"%%'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'catalog.remove' AND subject = 'catalog:social'"
                               " AND detail LIKE '%%\"after\":null%%'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'catalog.add' AND subject = 'catalog:legal'"), 1);
    assert_string_equal(q_text(db, "SELECT actor FROM audit WHERE subject = 'catalog:legal'"), "测试员");
    struct qloop_error err;
    int64_t n = 0, bad = 0;
    char why[256];
    assert_int_equal(audit_verify(db, &n, &bad, why, sizeof why, &err), 0);

    /* The catalog on any day. */
    json_t *o = show(db, NULL, "2024-09-01");
    assert_true(json_is_null(json_object_get(o, "version")));
    assert_int_equal(json_array_size(json_object_get(o, "datasets")), 0);
    json_decref(o);
    o = show(db, NULL, "2024-09-02");
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
    assert_int_equal(json_array_size(json_object_get(o, "datasets")), 2);
    assert_string_equal(jget(json_array_get(json_object_get(o, "datasets"), 1), "dataset"), "social");
    json_decref(o);
    json_t *e = show_entry(db, "people", "2024-09-10T14:59:59+08:00");
    assert_string_equal(jget(e, "update_cycle"), "daily");
    assert_int_equal(json_array_size(json_object_get(e, "fields")), 3);
    json_decref(e);
    e = show_entry(db, "people", "2024-09-10");
    assert_string_equal(jget(e, "update_cycle"), "weekly");
    assert_string_equal(jget(json_array_get(json_object_get(e, "fields"), 2), "name"), "email");
    json_decref(e);
    assert_null(show_entry(db, "social", "2024-09-10"));
    e = show_entry(db, "social", "2024-09-09");
    assert_string_equal(jget(e, "owner"), "市人社局");
    json_decref(e);
    /* Now = the last version, and the current tables agree with history. */
    o = show(db, NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "datasets")), 2);
    json_decref(o);
    assert_string_equal(q_text(db, "SELECT update_cycle FROM catalog_datasets WHERE dataset = 'people'"), "weekly");
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_fields WHERE dataset = 'people'"), 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_datasets WHERE dataset = 'social'"), 0);
    assert_string_equal(q_text(db, "SELECT added_at FROM catalog_datasets WHERE dataset = 'people'"),
                        "2024-09-02T10:00:00+08:00");

    /* History: every import; per dataset, only its own. */
    json_t *h;
    assert_int_equal(catalog_history(db, NULL, &h, &err), 0);
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(jget(json_array_get(h, 1), "date"), "2024-09-10");
    json_decref(h);
    assert_int_equal(catalog_history(db, "legal", &h, &err), 0);
    assert_int_equal(json_array_size(h), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "version")), 2);
    json_decref(h);
    assert_int_equal(catalog_history(db, "social", &h, &err), 0);
    assert_int_equal(json_array_size(h), 2);
    json_t *last = json_array_get(json_object_get(json_array_get(h, 1), "changes"), 0);
    assert_string_equal(jget(last, "op"), "remove");
    json_decref(h);

    /* A bad --as-of is bad input. */
    json_t *bad_out;
    assert_int_equal(catalog_show(db, NULL, "yesterday", &bad_out, &err), -1);
    assert_non_null(strstr(err.message, "yesterday"));
    store_close(db);
}

/* ---- bad files ------------------------------------------------------------ */


/* Imports text that must be refused on line `line` of the file, with
 * needle in the message. */
static void refused_at(sqlite3 *db, const char *name, const char *text, long line,
                       const char *needle)
{
    struct qloop_error e = import_bad(db, name, text);
    assert_int_equal(e.line, line);
    if (!strstr(e.message, needle))
        fail_msg("%s: \"%s\" lacks \"%s\"", name, e.message, needle);
}

static void test_bad_files_are_refused_whole(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    struct qloop_error e;

    e = import_bad(db, "h.csv", "数据集名称,业务名称\nx,y\n");
    assert_int_equal(e.line, 1);
    assert_non_null(strstr(e.message, "数据集名称"));

    e = import_bad(db, "nods.csv", "业务名称,数源部门\nx,y\n");
    assert_non_null(strstr(e.message, "数据集标识"));

    e = import_bad(db, "code.csv", HDR "a,A,S,O,x,表,无条件共享,,无条件开放,,接口共享,每日,长期,,\n"
                                   "b,B,S,O,x,表,部分共享,,无条件开放,,接口共享,每日,长期,,\n");
    assert_int_equal(e.line, 3);
    assert_non_null(strstr(e.message, "部分共享"));
    assert_non_null(strstr(e.message, "受限共享"));
    assert_non_null(strstr(e.message, "b"));

    e = import_bad(db, "cycle.csv", HDR "a,A,S,O,x,表,无条件共享,,无条件开放,,接口共享,每两天,长期,,\n");
    assert_non_null(strstr(e.message, "每两天"));

    e = import_bad(db, "quote.csv", HDR "a,A,S,O,\"x;y\n"
                                    "b,B,S,O,x,表,无条件共享,,无条件开放,,接口共享,每日,长期,,\n");
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.message, "引号"));

    refused_at(db, "dup.csv", HDR "a,A,S,O,x,表,,,,,,,,,\n" "a,A,S,O,x,表,,,,,,,,,\n", 3, "重复");

    refused_at(db, "sens.csv", HDR "a,A,S,O,x;y,表,,,,,,,,phone,\n", 2, "phone");

    e = import_bad(db, "key.csv", HDR "a,A,S,O,x;y,表,,,,,,,,,id\n");
    assert_non_null(strstr(e.message, "键“id”"));

    e = import_bad(db, "item.csv", HDR "a,A,S,O,x:X:string:extra,表,,,,,,,,,\n");
    assert_non_null(strstr(e.message, "x:X:string:extra"));

    e = import_bad(db, "twice.csv", HDR "a,A,S,O,x;x,表,,,,,,,,,\n");
    assert_non_null(strstr(e.message, "重复"));

    refused_at(db, "ragged.csv", HDR "a,A,S,O,x,表,,,,,,,,,,surplus\n", 2, "表头有 15 个");
    refused_at(db, "gbk.csv", HDR "a,\xC8\xCB\xBF\xDA,S,O,x,表,,,,,,,,,\n", 2, "UTF-8");

    e = import_bad(db, "empty.csv", "");
    assert_non_null(strstr(e.message, "空"));

    e = import_bad(db, "noid.csv", HDR ",A,S,O,x,表,,,,,,,,,\n");
    assert_non_null(strstr(e.message, "数据集标识"));

    e = import_bad(db, "syntax.json", "{\"datasets\": [\n {\"dataset\": \"a\",}\n]}\n");
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.message, "JSON"));

    e = import_bad(db, "key.json", "{\"datasets\": [{\"dataset\": \"a\", \"owners\": \"x\"}]}");
    assert_non_null(strstr(e.message, "owners"));
    assert_non_null(strstr(e.message, "datasets[0]"));

    e = import_bad(db, "type.json", "{\"datasets\": [{\"dataset\": \"a\"}, {\"dataset\": \"b\", \"share\": 1}]}");
    assert_non_null(strstr(e.message, "datasets[1]"));
    assert_non_null(strstr(e.message, "share"));

    e = import_bad(db, "share.json", "{\"datasets\": [{\"dataset\": \"a\", \"share\": \"sometimes\"}]}");
    assert_non_null(strstr(e.message, "sometimes"));

    e = import_bad(db, "top.json", "{\"data\": []}");
    assert_non_null(strstr(e.message, "datasets"));

    e = import_bad(db, "dup.json", "{\"datasets\": [{\"dataset\": \"a\"}, {\"dataset\": \"a\"}]}");
    assert_non_null(strstr(e.message, "重复"));

    struct qloop_error err;
    qloop_error_clear(&err);
    struct catalog_file missing = {"/nonexistent/catalog.csv", NULL, qloop_adapter_find};
    assert_int_equal(catalog_import(db, &missing, "x", NULL, &err), -1);
    assert_non_null(strstr(err.file, "/nonexistent/catalog.csv"));

    /* Nothing of any of them was imported. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_versions"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_datasets"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 0);

    /* Inside the caller's transaction the import is a savepoint: it goes
     * with the caller's rollback, and a refused one leaves it usable. */
    exec(db, "BEGIN");
    json_decref(import_ok(db, "inner.csv", HDR "a,A,S,O,x,表,,,,,,,,,\n"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_datasets"), 1);
    import_bad(db, "inner_bad.csv", HDR "b,B,S,O,x,表,坏,,,,,,,,\n");
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_datasets"), 1);
    exec(db, "ROLLBACK");
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_versions"), 0);

    /* A good import after a bad one, then a bad re-import: the good one stays. */
    json_decref(import_ok(db, "good.csv", HDR "a,A,S,O,x,表,,,,,,,,,\n"));
    import_bad(db, "bad2.csv", HDR "a,A,S,O,x,表,坏,,,,,,,,\n");
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_versions"), 1);
    assert_string_equal(q_text(db, "SELECT title FROM catalog_datasets WHERE dataset = 'a'"), "A");
    store_close(db);
}

/* ---- CSV through the adapter: encodings, file lines ------------------------ */

/* text converted from UTF-8 to encoding (malloc'd). */
static char *convert(const char *text, const char *encoding)
{
    iconv_t cd = iconv_open(encoding, "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t inleft = strlen(text), outleft = inleft * 2 + 1;
    char *out = calloc(1, outleft), *in = (char *)text, *o = out;
    assert_true(iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1);
    iconv_close(cd);
    return out;
}

/* `catalog import` took only UTF-8 while datasets took GBK (issue 18): a
 * catalog saved by Excel as GBK imports when declared, the same as UTF-8. */
static void test_gbk_catalog_imports_when_declared(void **state)
{
    (void)state;
    set_now("2024-09-02T10:00:00+08:00");
    sqlite3 *a = db_open(), *b = db_open(), *c = db_open();
    char *gbk = convert(V1, "GBK");
    assert_true(strcmp(gbk, V1) != 0);
    json_decref(import_ok(a, "utf8.csv", V1));
    json_decref(import_enc(b, "gbk.csv", gbk, "gbk"));
    json_decref(import_enc(c, "gb18030.csv", gbk, "GB18030"));
    json_t *sa = show(a, NULL, NULL), *sb = show(b, NULL, NULL), *sc = show(c, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(sa, "datasets")), 2);
    assert_true(json_equal(json_object_get(sa, "datasets"), json_object_get(sb, "datasets")));
    assert_true(json_equal(json_object_get(sa, "datasets"), json_object_get(sc, "datasets")));
    assert_string_equal(q_text(b, "SELECT owner FROM catalog_datasets WHERE dataset = 'people'"),
                        "市公安局");
    json_decref(sa);
    json_decref(sb);
    json_decref(sc);

    /* Undeclared, it is refused at its first Chinese character, saying
     * what to do; a code error in a GBK file names the file line. */
    struct qloop_error e = import_bad(a, "undeclared.csv", gbk);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 1);
    assert_non_null(strstr(e.message, "--encoding gbk"));
    char *bad = convert(HDR "a,A,S,O,x,表,无条件共享,,无条件开放,,接口共享,每日,长期,,\n"
                            "b,B,S,O,x,表,部分共享,,无条件开放,,接口共享,每日,长期,,\n", "GBK");
    e = import_bad_enc(a, "badcode.csv", bad, "gbk");
    assert_int_equal(e.line, 3);
    assert_non_null(strstr(e.message, "部分共享"));
    /* JSON is UTF-8 by definition; an unknown encoding is refused. */
    e = import_bad_enc(a, "x.json", JSON_A, "gbk");
    assert_non_null(strstr(e.message, "--encoding"));
    e = import_bad_enc(a, "latin.csv", V1, "latin1");
    assert_non_null(strstr(e.message, "latin1"));
    assert_int_equal(q_int(a, "SELECT count(*) FROM catalog_versions"), 1);
    free(gbk);
    free(bad);
    store_close(a);
    store_close(b);
    store_close(c);
}

/* CSV errors count lines of the file (a quoted cell may span lines), and
 * the CSV rules are the datasets' own: a ragged row or a blank line between
 * rows is refused with its line. */
static void test_csv_errors_name_file_lines(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    refused_at(db, "multiline.csv", HDR
               "a,A,S,O,\"x:X\ny:Y\nz:Z\",表,无条件共享,,无条件开放,,接口共享,每日,长期,,\n"
               "b,B,S,O,x,表,无条件共享,,无条件开放,,接口共享,每两天,长期,,\n", 5, "每两天");
    refused_at(db, "short.csv", HDR "a,A,S,O,x,表\n", 2, "字段数");
    refused_at(db, "blankline.csv", HDR "a,A,S,O,x,表,,,,,,,,,\n\nb,B,S,O,x,表,,,,,,,,,\n", 3,
               "空行");
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_versions"), 0);
    /* A catalog with a multi-line cell imports it as the JSON list would. */
    json_decref(import_ok(db, "ok.csv", HDR
                          "a,A,S,O,\"x:X\ny:Y\",表,无条件共享,,无条件开放,,接口共享,每日,长期,,\n"));
    assert_int_equal(q_int(db, "SELECT count(*) FROM catalog_fields WHERE dataset = 'a'"), 2);
    store_close(db);
}

/* ---- the merge into a rule pack ------------------------------------------ */

static void test_merge_rule_file_wins(void **state)
{
    (void)state;
    sqlite3 *db = db_open();
    const char *rules = write_file("m.lua",
        "dataset \"people\" { source = \"p.csv\", owner = \"规则中的部门\", sensitive = { \"name\" } }\n"
        "dataset \"other\" { source = \"o.csv\", update_cycle = \"monthly\", key = \"code\" }\n"
        "dataset \"nocat\" { source = \"n.csv\" }\n");
    struct qloop_error err;
    qloop_error_clear(&err);
    struct pack *p = pack_new();
    assert_non_null(p);
    if (pack_load_path(p, rules, &err) != 0 || pack_finish(p, &err) != 0)
        fail_msg("pack: %s", err.message);

    /* No catalog yet: nothing changes. */
    assert_int_equal(catalog_merge_pack(db, p, &err), 0);
    struct pack_dataset *people = pack_find_dataset(p, "people");
    assert_null(people->update_cycle);
    assert_int_equal(people->nkeys, 0);

    json_decref(import_ok(db, "merge.csv", HDR
        "people,人口,人口库,市公安局,id:号码;name:姓名;phone:电话,表,无条件共享,,无条件开放,,接口共享,每周,长期,phone;name,id\n"
        "other,其他,库,市民政局,code:代码;v:值,表,无条件共享,,无条件开放,,接口共享,每日,长期,v,v\n"));
    assert_int_equal(catalog_merge_pack(db, p, &err), 0);
    assert_string_equal(people->owner, "规则中的部门");      /* the rule file wins */
    assert_string_equal(people->update_cycle, "weekly");     /* filled from the catalog */
    assert_int_equal(people->nkeys, 1);
    assert_string_equal(people->keys[0], "id");
    assert_int_equal(people->nsensitive, 2);                 /* masking only widens */
    assert_true(pack_is_sensitive(people, "name"));
    assert_true(pack_is_sensitive(people, "phone"));
    assert_false(pack_is_sensitive(people, "id"));
    struct pack_dataset *other = pack_find_dataset(p, "other");
    assert_string_equal(other->owner, "市民政局");
    assert_string_equal(other->update_cycle, "monthly");
    assert_int_equal(other->nkeys, 1);
    assert_string_equal(other->keys[0], "code");
    assert_true(pack_is_sensitive(other, "v"));
    struct pack_dataset *nocat = pack_find_dataset(p, "nocat");
    assert_null(nocat->owner);
    assert_null(nocat->update_cycle);
    /* Merging twice changes nothing more. */
    assert_int_equal(catalog_merge_pack(db, p, &err), 0);
    assert_int_equal(people->nsensitive, 2);
    pack_free(p);
    store_close(db);
}

static void test_names_for_people(void **state)
{
    (void)state;
    assert_string_equal(catalog_element_zh("share_period"), "共享期限");
    assert_string_equal(catalog_element_zh("owner"), "数源部门");
    assert_string_equal(catalog_element_zh("nonsense"), "nonsense");
    assert_string_equal(catalog_code_zh("share", "none"), "不予共享");
    assert_string_equal(catalog_code_zh("open", "forbidden"), "禁止开放");
    assert_string_equal(catalog_code_zh("provision", "platform"), "平台分析");
    assert_string_equal(catalog_code_zh("update_cycle", "quarterly"), "每季度");
    assert_string_equal(catalog_code_zh("title", "abc"), "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_and_json_import_the_same),
        cmocka_unit_test(test_reimport_is_a_dated_diff),
        cmocka_unit_test(test_bad_files_are_refused_whole),
        cmocka_unit_test(test_gbk_catalog_imports_when_declared),
        cmocka_unit_test(test_csv_errors_name_file_lines),
        cmocka_unit_test(test_merge_rule_file_wins),
        cmocka_unit_test(test_names_for_people),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
