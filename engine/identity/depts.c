/*
 * depts.c — the departments of a store (identity.h): registering them from
 * the console and when an owner is first seen, listing them; and the helpers
 * the identity files share (identity_private.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/text.h"
#include "identity/identity_private.h"
#include "store/audit.h"
#include "store/sql.h"
#include "store/store.h"

int ident_text_check(const char *what, const char *s, size_t max, struct qloop_error *err)
{
    if (!s || !*s)
        return qloop_error_set(err, NULL, 0, 0, "%s不能为空", what);
    size_t len = strlen(s);
    if (len > max)
        return qloop_error_set(err, NULL, 0, 0, "%s过长（%zu 字节，最多 %zu 字节）：%.60s…", what,
                               len, max, s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = qloop_utf8_decode((const unsigned char *)s, len, i, &cp);
        if (cp == QLOOP_U8_INVALID)
            return qloop_error_set(err, NULL, 0, 0, "%s不是合法的 UTF-8 文本（第 %zu 字节）；请用 UTF-8 输入",
                                   what, i + 1);
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            return qloop_error_set(err, NULL, 0, 0, "%s含有控制字符（第 %zu 字节）；请去掉换行、制表符等",
                                   what, i + 1);
        i += n;
    }
    if (s[0] == ' ' || s[len - 1] == ' ' || strncmp(s, "\u3000", 3) == 0 ||
        (len >= 3 && strcmp(s + len - 3, "\u3000") == 0))
        return qloop_error_set(err, NULL, 0, 0, "%s“%s”首尾有空格；请去掉", what, s);
    return 0;
}

int ident_audit(sqlite3 *db, const char *kind, const char *what, const char *name,
                const char *actor, json_t *obj, struct qloop_error *err)
{
    char *detail = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (!detail)
        return qloop_error_internal(err, NULL, "内存不足：无法写审计记录");
    char subject[320];
    snprintf(subject, sizeof subject, "%s:%s", what, name);
    int rc = audit_append(db, kind, subject, actor && *actor ? actor : "system", detail, err);
    free(detail);
    return rc;
}

int ident_json_rows(sqlite3 *db, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st),
                    const char *what, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    json_t *arr = json_array();
    int rc;
    while ((rc = sql_row(db, st, what, err)) == 1)
        json_array_append_new(arr, row(st));
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

void ident_now(char out[32])
{
    qloop_format_datetime(qloop_now(), out);
}

int ident_tx_begin(sqlite3 *db, int *own, struct qloop_error *err)
{
    *own = sqlite3_get_autocommit(db);
    return *own ? store_begin(db, err) : 0;
}

int ident_tx_end(sqlite3 *db, int own, int rc, struct qloop_error *err)
{
    if (!own)
        return rc;
    if (rc == 0)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

/* Whether code is a usable department code: 1 to 32 ASCII letters, digits
 * and '-' (统一社会信用代码, 组织机构代码, a bureau's own numbering). */
static int code_check(const char *code, struct qloop_error *err)
{
    size_t n = strlen(code);
    bool ok = n >= 1 && n <= 32;
    for (size_t i = 0; ok && i < n; i++) {
        char c = code[i];
        ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
    }
    if (!ok)
        return qloop_error_set(err, NULL, 0, 0,
                               "部门代码“%.64s”无效：应为 1 到 32 位字母、数字或 -（如统一社会信用代码）",
                               code);
    return 0;
}

static const char DEPT_COLS[] = "id, name, code, bureau, registered_at, registered_by, seen_in";

static void dept_from_row(sqlite3_stmt *st, struct ident_dept *d)
{
    d->id = sqlite3_column_int64(st, 0);
    sql_copy(st, 1, d->name, sizeof d->name);
    sql_copy(st, 2, d->code, sizeof d->code);
    d->bureau = sqlite3_column_int(st, 3) != 0;
    sql_copy(st, 4, d->registered_at, sizeof d->registered_at);
    sql_copy(st, 5, d->registered_by, sizeof d->registered_by);
    sql_copy(st, 6, d->seen_in, sizeof d->seen_in);
}

/* Looks up the department whose column col ("name", "code" or "bureau")
 * equals value. Returns 1 / 0 / -1 as ident_dept_find. */
static int dept_by(sqlite3 *db, const char *col, const char *value, struct ident_dept *out,
                   struct qloop_error *err)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM depts WHERE %s = ?1", DEPT_COLS, col);
    sqlite3_stmt *st = sql_prepare(db, sql, err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, value);
    int rc = sql_row(db, st, "查找部门", err);
    if (rc == 1 && out)
        dept_from_row(st, out);
    sqlite3_finalize(st);
    return rc;
}

int ident_dept_find(sqlite3 *db, const char *name, struct ident_dept *out,
                    struct qloop_error *err)
{
    return dept_by(db, "name", name, out, err);
}

/* Inserts a new department. */
static int dept_insert(sqlite3 *db, const char *name, const char *code, bool bureau,
                       const char *by, const char *seen_in, struct qloop_error *err)
{
    char now[32];
    ident_now(now);
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO depts(name, code, bureau, registered_at, registered_by,"
                                   " seen_in) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, name);
    sql_bind_text(st, 2, code && *code ? code : NULL);
    sqlite3_bind_int(st, 3, bureau);
    sql_bind_text(st, 4, now);
    sql_bind_text(st, 5, by);
    sql_bind_text(st, 6, seen_in);
    int rc = sql_done(db, st, "登记部门", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    json_t *o = json_pack("{s:s, s:s?, s:b, s:s}", "name", name, "code", code && *code ? code : NULL,
                          "bureau", bureau, "seen_in", seen_in);
    return ident_audit(db, strcmp(seen_in, "console") == 0 ? "dept.add" : "dept.register", "dept",
                       name, by, o, err);
}

/* The checks of ident_dept_add before anything is written: the code is not
 * another department's, and there is no other bureau. */
static int add_conflicts(sqlite3 *db, const char *name, const char *code, bool bureau,
                         struct qloop_error *err)
{
    struct ident_dept other;
    int rc;
    if (code && *code) {
        if ((rc = dept_by(db, "code", code, &other, err)) < 0)
            return -1;
        if (rc == 1 && strcmp(other.name, name) != 0)
            return qloop_error_set(err, NULL, 0, 0, "部门代码 %s 已属于“%s”；请核对代码", code,
                                   other.name);
    }
    if (bureau) {
        if ((rc = dept_by(db, "bureau", "1", &other, err)) < 0)
            return -1;
        if (rc == 1 && strcmp(other.name, name) != 0)
            return qloop_error_set(err, NULL, 0, 0,
                                   "大数据主管部门已登记为“%s”，只能有一个；请核对部门名称（qloop depts list）",
                                   other.name);
    }
    return 0;
}

int ident_dept_add(sqlite3 *db, const char *name, const char *code, bool bureau, const char *by,
                   bool *changed, struct qloop_error *err)
{
    if (changed)
        *changed = false;
    if (ident_text_check("部门名称", name, 200, err) != 0 ||
        (code && *code && code_check(code, err) != 0))
        return -1;
    int own, rc;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    struct ident_dept d;
    rc = add_conflicts(db, name, code, bureau, err);
    int found = rc == 0 ? ident_dept_find(db, name, &d, err) : -1;
    if (found < 0) {
        rc = -1;
    } else if (found == 0) {
        rc = dept_insert(db, name, code, bureau, by, "console", err);
        if (rc == 0 && changed)
            *changed = true;
    } else {
        bool new_code = code && *code && strcmp(code, d.code) != 0;
        bool new_bureau = bureau && !d.bureau;
        if (new_code || new_bureau) {
            sqlite3_stmt *st = sql_prepare(db,
                                           "UPDATE depts SET code = coalesce(?2, code),"
                                           " bureau = max(bureau, ?3) WHERE id = ?1",
                                           err);
            rc = st ? 0 : -1;
            if (st) {
                sqlite3_bind_int64(st, 1, d.id);
                sql_bind_text(st, 2, new_code ? code : NULL);
                sqlite3_bind_int(st, 3, bureau);
                rc = sql_done(db, st, "更新部门", err);
                sqlite3_finalize(st);
            }
            if (rc == 0) {
                json_t *o = json_pack("{s:s}", "name", name);
                if (new_code)
                    json_object_set_new(o, "code", json_pack("[s?,s]", *d.code ? d.code : NULL, code));
                if (new_bureau)
                    json_object_set_new(o, "bureau", json_pack("[b,b]", 0, 1));
                rc = ident_audit(db, "dept.change", "dept", name, by, o, err);
            }
            if (rc == 0 && changed)
                *changed = true;
        }
    }
    return ident_tx_end(db, own, rc, err);
}

int ident_dept_ensure(sqlite3 *db, const char *name, const char *seen_in, const char *by,
                      bool *added, struct qloop_error *err)
{
    if (added)
        *added = false;
    if (ident_text_check("部门名称", name, 200, err) != 0)
        return -1;
    int found = ident_dept_find(db, name, NULL, err);
    if (found != 0)
        return found < 0 ? -1 : 0;
    int own;
    if (ident_tx_begin(db, &own, err) != 0)
        return -1;
    int rc = dept_insert(db, name, NULL, false, by, seen_in, err);
    if (rc == 0 && added)
        *added = true;
    return ident_tx_end(db, own, rc, err);
}

/* One department of the list (ident_dept_list_json's query). */
static json_t *dept_json(sqlite3_stmt *st)
{
    struct ident_dept d;
    dept_from_row(st, &d);
    return json_pack("{s:s, s:s?, s:b, s:s, s:s, s:s, s:I}", "name", d.name, "code",
                     *d.code ? d.code : NULL, "bureau", d.bureau, "registered_at", d.registered_at,
                     "registered_by", d.registered_by, "seen_in", d.seen_in, "users",
                     (json_int_t)sqlite3_column_int64(st, 7));
}

int ident_dept_list_json(sqlite3 *db, json_t **out, struct qloop_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT d.id, d.name, d.code, d.bureau, d.registered_at,"
                                   " d.registered_by, d.seen_in,"
                                   " (SELECT count(*) FROM users u WHERE u.dept = d.name AND u.active)"
                                   " FROM depts d ORDER BY d.name",
                                   err);
    return st ? ident_json_rows(db, st, dept_json, "读取部门", out, err) : -1;
}
