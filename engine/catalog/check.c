/*
 * check.c — the catalog's checks (check.h) and `catalog check`.
 *
 * Kinds: missing_element (宁波 第十条 plus the provider), missing_basis
 * (温州 第十五条, 第二十八条; 宁波 第十六条), schema_drift (the columns a run
 * read against the data items), stale (the newest update against the
 * update cycle), late_update (a drift not followed by a catalog update
 * within 5 working days, 温州 第十一条) and uncatalogued (a dataset a run
 * read that the catalog lacks). Each judge appends the problems it finds to
 * a list and notes what it judged; `catalog check` reports the list, a run
 * turns it into findings and rule results (check_run.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "catalog/catalog.h"
#include "catalog/check.h"
#include "catalog/stored.h"
#include "checks/calendar.h"
#include "store/sql.h"
#include "store/store.h"

const struct cat_kind cat_kinds[NKINDS] = {
    [K_MISSING_ELEMENT] = {"missing_element", "accessibility", "medium",
                           "资源目录缺少必备要素（宁波市公共数据管理办法第十条）"},
    [K_MISSING_BASIS] = {"missing_basis", "accessibility", "high",
                         "受限共享、不予共享或禁止开放未写明依据（温州市公共数据共享开放管理暂行办法第十五条、第二十八条，宁波市公共数据管理办法第十六条）"},
    [K_SCHEMA_DRIFT] = {"schema_drift", "consistency", "medium", "数据的字段与资源目录的数据项不一致"},
    [K_STALE] = {"stale", "timeliness", "medium", "数据未按资源目录登记的更新周期更新"},
    [K_LATE_UPDATE] = {"late_update", "timeliness", "medium",
                       "数据字段变化后未在 5 个工作日内更新资源目录（温州市公共数据共享开放管理暂行办法第十一条）"},
    [K_UNCATALOGUED] = {"uncatalogued", "accessibility", "medium", "数据集已汇聚但未编入资源目录"},
};

/* Appends a problem (copies of the strings, the text of msg) and empties msg. */
static void padd(struct plist *l, enum kind k, const char *dataset, const char *element,
                 const char *column, const char *value, struct qloop_buf *msg)
{
    l->v = qloop_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = (struct problem){k,
                                    qloop_xstrdup(dataset),
                                    qloop_xstrdup(element),
                                    column ? qloop_xstrdup(column) : NULL,
                                    value ? qloop_xstrdup(value) : NULL,
                                    qloop_xstrdup(qloop_buf_str(msg))};
    qloop_buf_reset(msg);
}

void cat_plist_free(struct plist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].dataset), free(l->v[i].element), free(l->v[i].column);
        free(l->v[i].value), free(l->v[i].message);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- days ---- */

/* Day number (qloop_days_from_civil) as YYYY-MM-DD. */
static void day_text(int64_t day, char out[11])
{
    /* 00:00 UTC of the day is 08:00 of the same day in Shanghai. */
    qloop_format_date(day * 86400, out);
}

int64_t cat_day_of(const char *text)
{
    int64_t t;
    if (!text || !qloop_parse_datetime(text, &t))
        return -1;
    char date[11];
    qloop_format_date(t, date);
    int y, m, d;
    return qloop_parse_date(date, &y, &m, &d) ? qloop_days_from_civil(y, m, d) : -1;
}

/* The last day on which data last updated on day may be updated next under
 * cycle (a code), or -1 for an unknown cycle. */
static int64_t cycle_limit(const char *cycle, int64_t day)
{
    int months = 0;
    if (strcmp(cycle, "realtime") == 0 || strcmp(cycle, "daily") == 0)
        return day + 1;
    if (strcmp(cycle, "weekly") == 0)
        return day + 7;
    if (strcmp(cycle, "monthly") == 0)
        months = 1;
    else if (strcmp(cycle, "quarterly") == 0)
        months = 3;
    else if (strcmp(cycle, "yearly") == 0)
        months = 12;
    else
        return -1;
    int y, m, d;
    qloop_civil_from_days(day, &y, &m, &d);
    m += months;
    while (m > 12)
        m -= 12, y++;
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return qloop_days_from_civil(y, m, d > last ? last : d);
}

/* ---- the judges ---- */

void cat_judge_elements(const struct cat_entry *e, struct plist *l, struct judged *j)
{
    const char *name = e->v[E_DATASET];
    struct qloop_buf m = {0};
    j->on[K_MISSING_ELEMENT] = j->on[K_MISSING_BASIS] = true;
    for (int el = 0; el < NELEM; el++) {
        if (!cat_elements[el].required)
            continue;
        j->checked[K_MISSING_ELEMENT]++;
        bool empty = el == E_FIELDS ? e->nfields == 0 : e->v[el] == NULL;
        if (!empty)
            continue;
        if (el == E_OWNER)
            qloop_buf_printf(&m, "资源目录未写明数源部门（数据提供单位）；请补全后重新导入目录");
        else
            qloop_buf_printf(&m, "资源目录缺少必备要素“%s”（宁波市公共数据管理办法第十条）；请数源部门补全",
                             cat_elements[el].zh);
        padd(l, K_MISSING_ELEMENT, name, cat_elements[el].key, NULL, NULL, &m);
    }
    j->checked[K_MISSING_BASIS] += 2;
    const char *share = e->v[E_SHARE];
    if (share && (strcmp(share, "conditional") == 0 || strcmp(share, "none") == 0) &&
        !e->v[E_SHARE_BASIS]) {
        const char *zh = catalog_code_zh("share", share);
        qloop_buf_printf(&m,
                         "共享属性为“%s”，但未写明共享依据（温州市公共数据共享开放管理暂行办法第十五条、"
                         "宁波市公共数据管理办法第十六条）；请在“共享依据”中写明所依据的法律、法规、规章或规定",
                         zh);
        padd(l, K_MISSING_BASIS, name, "share_basis", NULL, zh, &m);
    }
    const char *open = e->v[E_OPEN];
    if (open && strcmp(open, "forbidden") == 0 && !e->v[E_OPEN_BASIS]) {
        qloop_buf_printf(&m, "开放属性为“禁止开放”，但未写明理由（温州市公共数据共享开放管理暂行办法第二十八条）；"
                             "请在“开放依据”中写明禁止开放的理由和依据");
        padd(l, K_MISSING_BASIS, name, "open_basis", NULL, "禁止开放", &m);
    }
    qloop_buf_free(&m);
}

struct drift {
    const char *column;
    bool missing; /* listed in the catalog, absent from the data */
};

/* The columns in which data (a JSON array of column names) and entry
 * disagree: the data's extra columns in data order, then the catalog's
 * missing items in catalog order. Returns the count; *out is new; *judged
 * gets the number of columns and items compared. */
static size_t compute_drift(const struct cat_entry *e, json_t *columns, struct drift **out,
                            int64_t *judged)
{
    struct drift *d = NULL;
    size_t n = 0, i;
    json_t *c;
    int64_t all = (int64_t)e->nfields;
    json_array_foreach(columns, i, c) {
        const char *name = json_string_value(c);
        if (!name || cat_entry_field(e, name))
            continue;
        all++;
        d = qloop_xrealloc(d, (n + 1) * sizeof *d);
        d[n++] = (struct drift){name, false};
    }
    for (size_t f = 0; f < e->nfields; f++) {
        bool present = false;
        json_array_foreach(columns, i, c)
            present |= json_is_string(c) && strcmp(json_string_value(c), e->fields[f].name) == 0;
        if (!present) {
            d = qloop_xrealloc(d, (n + 1) * sizeof *d);
            d[n++] = (struct drift){e->fields[f].name, true};
        }
    }
    *out = d;
    *judged = all;
    return n;
}

/* schema_drift: one problem per drift of compute_drift. */
static void judge_drift(const struct cat_entry *e, const struct drift *d, size_t n,
                        int64_t checked, struct plist *l, struct judged *j)
{
    struct qloop_buf m = {0};
    j->on[K_SCHEMA_DRIFT] = true;
    j->checked[K_SCHEMA_DRIFT] = checked;
    for (size_t i = 0; i < n; i++) {
        if (d[i].missing)
            qloop_buf_printf(&m, "资源目录列出的数据项“%s”在汇聚的数据中不存在；请核对数据，或更新资源目录",
                             d[i].column);
        else
            qloop_buf_printf(&m, "数据中有字段“%s”，资源目录的数据项中没有；请更新资源目录，或核对数据",
                             d[i].column);
        padd(l, K_SCHEMA_DRIFT, e->v[E_DATASET], d[i].column, d[i].column,
             d[i].missing ? "missing" : "extra", &m);
    }
    qloop_buf_free(&m);
}

/* Records the run's drift of dataset in catalog_drift: new disagreements
 * get the run as first sighting, resolved ones are forgotten. */
static int note_drift(sqlite3 *db, const struct cat_sighting *seen, const char *dataset,
                      const struct drift *d, size_t n, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "INSERT INTO catalog_drift(dataset, element, direction,"
                                       " first_seen, first_run, last_seen, last_run)"
                                       " VALUES(?1, ?2, ?3, ?4, ?5, ?4, ?5)"
                                       " ON CONFLICT(dataset, element, direction) DO UPDATE SET"
                                       " last_seen = excluded.last_seen, last_run = excluded.last_run",
                                   err);
    int r = st ? 0 : -1;
    for (size_t i = 0; i < n && r == 0; i++) {
        sql_bind_text(st, 1, dataset);
        sql_bind_text(st, 2, d[i].column);
        sql_bind_text(st, 3, d[i].missing ? "missing" : "extra");
        sql_bind_text(st, 4, seen->as_of);
        sql_bind_text(st, 5, seen->run_id);
        r = sql_done(db, st, "记录资源目录的字段差异", err);
    }
    sqlite3_finalize(st);
    if (r != 0 ||
        !(st = sql_prepare(db, "DELETE FROM catalog_drift WHERE dataset = ?1 AND last_run IS NOT ?2",
                           err)))
        return -1;
    sql_bind_text(st, 1, dataset);
    sql_bind_text(st, 2, seen->run_id);
    r = sql_done(db, st, "记录资源目录的字段差异", err);
    sqlite3_finalize(st);
    return r;
}

/* late_update: each drift whose first sighting (catalog_drift) lies more
 * than 5 working days before judge_day (温州 第十一条). */
static int judge_late(sqlite3 *db, const struct cat_entry *e, const struct drift *d, size_t n,
                      int64_t judge_day, struct plist *l, struct judged *j,
                      struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db, "SELECT first_seen FROM catalog_drift WHERE dataset = ?1"
                                       " AND element = ?2 AND direction = ?3", err);
    if (!st)
        return -1;
    j->on[K_LATE_UPDATE] = true;
    j->checked[K_LATE_UPDATE] = (int64_t)n;
    struct qloop_buf m = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        sql_bind_text(st, 1, e->v[E_DATASET]);
        sql_bind_text(st, 2, d[i].column);
        sql_bind_text(st, 3, d[i].missing ? "missing" : "extra");
        int r = sql_row(db, st, "读取资源目录的字段差异", err);
        int64_t first = r == 1 ? cat_day_of(sql_text(st, 0)) : -1;
        if (r < 0)
            rc = -1;
        if (first < 0)
            continue;
        int64_t deadline = calendar_add_working_days(first, 5);
        if (judge_day <= deadline)
            continue;
        char fd[11], dd[11];
        day_text(first, fd);
        day_text(deadline, dd);
        qloop_buf_printf(&m, "数据%s字段“%s”（%s 首次发现），资源目录未在 5 个工作日内（期限 %s）相应更新"
                             "（温州市公共数据共享开放管理暂行办法第十一条）；请数源部门更新资源目录",
                         d[i].missing ? "缺少目录所列的" : "新增了", d[i].column, fd, dd);
        padd(l, K_LATE_UPDATE, e->v[E_DATASET], d[i].column, d[i].column, fd, &m);
    }
    sqlite3_finalize(st);
    qloop_buf_free(&m);
    return rc;
}

int cat_judge_columns(sqlite3 *db, const struct cat_entry *e, const char *columns,
                      int64_t judge_day, const struct cat_sighting *seen, struct plist *l,
                      struct judged *j, struct qloop_error *err)
{
    json_t *cols = columns ? json_loads(columns, 0, NULL) : NULL;
    int rc = 0;
    if (json_is_array(cols) && json_array_size(cols) > 0) {
        struct drift *d;
        int64_t checked;
        size_t n = compute_drift(e, cols, &d, &checked);
        judge_drift(e, d, n, checked, l, j);
        if (seen)
            rc = note_drift(db, seen, e->v[E_DATASET], d, n, err);
        if (rc == 0)
            rc = judge_late(db, e, d, n, judge_day, l, j, err);
        free(d);
    }
    json_decref(cols);
    return rc;
}

void cat_judge_stale(const struct cat_entry *e, const char *newest_update, int64_t judge_day,
                     struct plist *l, struct judged *j)
{
    const char *cycle = e->v[E_UPDATE_CYCLE];
    int64_t newest = cat_day_of(newest_update);
    if (!cycle || newest < 0)
        return;
    int64_t limit = cycle_limit(cycle, newest);
    if (limit < 0)
        return;
    j->on[K_STALE] = true;
    j->checked[K_STALE] = 1;
    if (judge_day <= limit)
        return;
    char nd[11], ld[11];
    day_text(newest, nd);
    day_text(limit, ld);
    struct qloop_buf m = {0};
    qloop_buf_printf(&m, "数据未按资源目录登记的更新周期（%s）更新：最近一次更新在 %s，应不晚于 %s 再次更新；请数源部门及时更新数据",
                     catalog_code_zh("update_cycle", cycle), nd, ld);
    padd(l, K_STALE, e->v[E_DATASET], "update_cycle", NULL, newest_update, &m);
    qloop_buf_free(&m);
}

void cat_judge_uncatalogued(const char *dataset, struct plist *l, struct judged *j)
{
    struct qloop_buf m = {0};
    j->on[K_UNCATALOGUED] = true;
    j->checked[K_UNCATALOGUED] = 1;
    qloop_buf_printf(&m, "数据集“%s”已汇聚到平台，但资源目录中没有它；请数源部门编制目录后导入", dataset);
    padd(l, K_UNCATALOGUED, dataset, "dataset", NULL, NULL, &m);
    qloop_buf_free(&m);
}

/* ---- `catalog check`: the catalog alone ---- */

/* Judges each entry of c: its own elements, then schema_drift and stale
 * against the latest run that read its dataset (stale as of that run),
 * late_update as of today. */
static int judge_entries(sqlite3 *db, const struct catalog *c, struct plist *l,
                         struct qloop_error *err)
{
    sqlite3_stmt *last = sql_prepare(db, "SELECT d.columns, d.newest_update, r.as_of"
                                         " FROM run_datasets d JOIN runs r ON r.id = d.run_id"
                                         " WHERE d.dataset = ?1"
                                         " ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1", err);
    if (!last)
        return -1;
    char now[32];
    qloop_format_datetime(qloop_now(), now);
    int64_t today = cat_day_of(now);
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        const struct cat_entry *e = &c->v[i];
        struct judged j = {0};
        cat_judge_elements(e, l, &j);
        sqlite3_reset(last);
        sql_bind_text(last, 1, e->v[E_DATASET]);
        int r = sql_row(db, last, "读取运行结果", err);
        if (r == 1)
            rc = cat_judge_columns(db, e, sql_text(last, 0), today, NULL, l, &j, err);
        if (r == 1 && rc == 0)
            cat_judge_stale(e, sql_text(last, 1), cat_day_of(sql_text(last, 2)), l, &j);
        if (r < 0)
            rc = -1;
    }
    sqlite3_finalize(last);
    return rc;
}

/* uncatalogued: every dataset a run has read that c lacks. */
static int judge_unlisted(sqlite3 *db, const struct catalog *c, struct plist *l,
                          struct qloop_error *err)
{
    sqlite3_stmt *seen = sql_prepare(db, "SELECT DISTINCT dataset FROM run_datasets ORDER BY dataset",
                                     err);
    int r = seen ? 1 : -1;
    while (r == 1 && (r = sql_row(db, seen, "读取运行结果", err)) == 1) {
        const char *name = sql_text(seen, 0);
        struct judged j = {0};
        if (name && !cat_find(c, name))
            cat_judge_uncatalogued(name, l, &j);
    }
    sqlite3_finalize(seen);
    return r;
}

json_t *catalog_check(sqlite3 *db, struct qloop_error *err)
{
    struct catalog c = {0};
    int64_t version = cat_load_current(db, &c, err);
    if (version < 0)
        return NULL;
    struct plist l = {0};
    int rc = 0;
    if (version > 0) {
        rc = judge_entries(db, &c, &l, err);
        if (rc == 0)
            rc = judge_unlisted(db, &c, &l, err);
    }
    json_t *out = NULL;
    if (rc == 0) {
        json_t *problems = json_array();
        for (size_t i = 0; i < l.n; i++) {
            const struct problem *p = &l.v[i];
            json_array_append_new(problems,
                                  json_pack("{s:s, s:s, s:s, s:s}", "dataset", p->dataset, "kind",
                                            cat_kinds[p->kind].name, "element", p->element,
                                            "message", p->message));
        }
        out = json_pack("{s:o, s:I, s:o}", "version",
                        version ? json_integer(version) : json_null(), "datasets",
                        (json_int_t)c.n, "problems", problems);
    }
    cat_plist_free(&l);
    cat_clear(&c);
    return out;
}
