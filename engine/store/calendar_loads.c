/*
 * calendar_loads.c — holiday notices loaded into the store, on the audit
 * chain (calendar_loads.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "store/audit.h"
#include "store/calendar_loads.h"
#include "store/sql.h"
#include "store/store.h"

enum { MAX_FILE = 16 << 20 }; /* as checks/calendar.c reads at most */

static store_calendar_check_fn checker;

void store_calendar_set_check(store_calendar_check_fn check) { checker = check; }

/* The body of store_calendar_add, inside a transaction or savepoint. */
static int add_load(sqlite3 *db, const char *text, size_t len, const char *source,
                    const char *actor, const int *years, size_t nyears, int64_t *id,
                    struct qloop_error *err)
{
    uint8_t d[32];
    char hex[65], at[32];
    qloop_sha256(text, len, d);
    qloop_hex(d, 32, hex);
    qloop_format_datetime(qloop_now(), at);
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO calendar_loads(at, actor, source, sha256, notices)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5)",
                                   err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, at);
    sql_bind_text(st, 2, actor);
    sql_bind_text(st, 3, source);
    sql_bind_text(st, 4, hex);
    sql_bind_textn(st, 5, text, len);
    int rc = sql_done(db, st, "保存节假日安排", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -1;
    int64_t row = sqlite3_last_insert_rowid(db);
    if (id)
        *id = row;
    json_t *o = json_object(), *ys = json_array();
    for (size_t i = 0; years && i < nyears; i++)
        json_array_append_new(ys, json_integer(years[i]));
    json_object_set_new(o, "load", json_integer(row));
    json_t *src = json_string(source);
    json_object_set_new(o, "source", src ? src : json_string("?"));
    json_object_set_new(o, "sha256", json_string(hex));
    json_object_set_new(o, "bytes", json_integer((json_int_t)len));
    json_object_set_new(o, "years", ys);
    char *detail = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!detail)
        return qloop_error_internal(err, NULL, "生成审计记录失败（内存不足）");
    char subject[48];
    snprintf(subject, sizeof subject, "calendar:%lld", (long long)row);
    rc = audit_append(db, "calendar.load", subject, actor, detail, err);
    free(detail);
    return rc;
}

int store_calendar_add(sqlite3 *db, const char *text, size_t len, const char *source,
                       const char *actor, const int *years, size_t nyears, int64_t *id,
                       struct qloop_error *err)
{
    if (!actor || !*actor)
        actor = "system";
    int own = sqlite3_get_autocommit(db) != 0;
    if (own && store_begin(db, err) != 0)
        return -1;
    int rc = add_load(db, text, len, source, actor, years, nyears, id, err);
    if (!own)
        return rc;
    if (rc != 0) {
        store_rollback(db);
        return -1;
    }
    return store_commit(db, err);
}

int store_calendar_each(sqlite3 *db, store_calendar_fn fn, void *ctx, struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT notices, source FROM calendar_loads ORDER BY id", err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sql_row(db, st, "读取节假日安排", err)) == 1) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        int r = fn(ctx, text ? text : "", len, sql_text(st, 1) ? sql_text(st, 1) : "", err);
        if (r != 0) {
            sqlite3_finalize(st);
            return r;
        }
    }
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

int store_calendar_verify(sqlite3 *db, char *why, size_t whysize, struct qloop_error *err)
{
    /* Each row: its entry, with the hash of the text as it is now. */
    sqlite3_stmt *st = sql_prepare(
        db,
        "SELECT l.id, l.notices, (SELECT group_concat(json_extract(a.detail, '$.sha256'), ' ')"
        "   FROM audit a WHERE a.kind = 'calendar.load' AND a.subject = 'calendar:' || l.id)"
        " FROM calendar_loads l ORDER BY l.id",
        err);
    if (!st)
        return -1;
    int rc, verdict = 0;
    while (!verdict && (rc = sql_row(db, st, "核对节假日安排", err)) == 1) {
        int64_t id = sqlite3_column_int64(st, 0);
        const void *text = sqlite3_column_blob(st, 1);
        uint8_t d[32];
        char hex[65];
        qloop_sha256(text ? text : "", (size_t)sqlite3_column_bytes(st, 1), d);
        qloop_hex(d, 32, hex);
        const char *audited = sql_text(st, 2);
        if (!audited) {
            snprintf(why, whysize, "节假日安排第 %lld 次加载没有审计记录：它是绕过 qloop 写入数据库的",
                     (long long)id);
            verdict = 1;
        } else if (!strstr(audited, hex)) {
            snprintf(why, whysize,
                     "节假日安排第 %lld 次加载的内容与审计记录不符：加载后被改动（所有期限都可能因此算错）",
                     (long long)id);
            verdict = 1;
        }
    }
    sqlite3_finalize(st);
    if (verdict)
        return 1;
    if (rc < 0)
        return -1;
    /* Each entry: its row still there. */
    int64_t missing = 0;
    if (sql_int64(db,
                  "SELECT coalesce(min(CAST(substr(a.subject, 10) AS INTEGER)), 0) FROM audit a"
                  " WHERE a.kind = 'calendar.load' AND NOT EXISTS (SELECT 1 FROM calendar_loads l"
                  "   WHERE 'calendar:' || l.id = a.subject)",
                  NULL, 0, &missing, err) != 0)
        return -1;
    if (missing > 0) {
        snprintf(why, whysize,
                 "节假日安排第 %lld 次加载已从数据库中删除，但审计链记有这次加载", (long long)missing);
        return 1;
    }
    return 0;
}

int store_calendar_import_file(sqlite3 *db, struct qloop_error *err)
{
    const char *store = sqlite3_db_filename(db, "main");
    if (!store || !*store)
        return 0;
    struct qloop_buf path = {0};
    qloop_buf_printf(&path, "%s.calendar", store);
    int fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        qloop_buf_free(&path);
        return e == ENOENT ? 0
                           : qloop_error_set(err, store, 0, 0,
                                             "无法读取数据库旁的日历文件（%s）；请检查其权限后重试",
                                             strerror(e));
    }
    struct qloop_buf text = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 && text.len <= MAX_FILE)
        qloop_buf_append(&text, chunk, (size_t)n);
    close(fd);
    int rc = 0;
    if (n < 0 || text.len > MAX_FILE)
        rc = qloop_error_set(err, path.ptr, 0, 0,
                             "数据库旁的日历文件无法读取或过大；请检查它，或移走后重新 qloop calendar load");
    else if (checker && checker(qloop_buf_str(&text), text.len, path.ptr, err) != 0) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        rc = qloop_error_set(err, err->file, err->line, err->column,
                             "%s（数据库升级时要导入数据库旁的这个日历文件，它有误，升级没有进行："
                             "请修正它，或移走后重试）",
                             why);
    } else {
        rc = store_calendar_add(db, qloop_buf_str(&text), text.len, path.ptr, "system", NULL, 0,
                                NULL, err);
    }
    qloop_buf_free(&text);
    qloop_buf_free(&path);
    return rc;
}
