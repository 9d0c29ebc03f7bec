/*
 * facts.c — what the store says about each department for a period: the raw
 * counts the indicator model turns into scores (report.h, stage 1).
 *
 * The period is [from, to) judged at cutoff = min(to, now): only runs whose
 * as_of, and ticket events whose time, lie before cutoff are read, so the
 * report of a closed year is the same whenever it is made. Departments are
 * the providers (数源部门) named by the runs' datasets (run_datasets.owner),
 * by the tickets (tickets.dept) and by the catalog as it stood at cutoff
 * (catalog_show); a dataset without an owner belongs to "未指定部门".
 *
 * Per department (every key always present, counts 0 when nothing):
 *   datasets     [{name, rows (newest run), runs, update_cycle}]
 *   quality      {checked, passed, failed, errors, dimensions: {DIM: {...}}}
 *                over the rules that judged the department's data, summed
 *                over the period's runs (records passing = checked - failed;
 *                records on which a rule raised an error are not judged).
 *                The dataset-level timeliness rules (DATASET.freshness) and
 *                the catalog's rules (DATASET.catalog_KIND) are left out:
 *                they are counted under aggregation and the catalog.
 *   rules        the same per dataset and rule, for drill-down tables
 *   aggregation  {checks, on_time}: per run and dataset that a freshness
 *                rule or the catalog's stale check judged, whether the data
 *                had been updated within its update cycle
 *   catalog      {imported, entries: [{dataset, title, share, share_basis,
 *                open, open_basis, update_cycle, missing: [empty elements]}],
 *                uncatalogued: [datasets the runs read that the catalog
 *                lacks], tickets_due, tickets_on_time}
 *   tickets      see struct tally below
 *   months       (annual only) 12 × {month, checked, passed, dimensions,
 *                tickets_opened, tickets_due, tickets_on_time}
 *   ticket_list  [{id, dataset, rule, source, state, opened_at, received_at,
 *                deadline, answered_at, working_days, on_time, extensions,
 *                recheck_failed, items}] — tickets active in the period
 *
 * Ticket timeliness is computed from ticket_history (the schema keeps only
 * a ticket's last answer): each hand-over to the provider (event feedback,
 * or reopen when a run reopens a closed ticket) opens an episode with its receipt time and deadline; an approved extension
 * moves the deadline; the provider's answer (rectified, confirmed,
 * negotiated), or a run's re-check that finds the data fixed while the
 * ticket waits in 反馈, ends it; a failed re-check (corrected → feedback,
 * deadline unchanged) reopens it, so a rectification that did not hold is
 * judged by the answer that finally did. An episode counts in the period in
 * which its final answer falls (on time when at or before the deadline then
 * in force), or, unanswered at cutoff with its deadline passed, as overdue.
 */
#include <stdlib.h>
#include <string.h>

#include "checks/calendar.h"
#include "catalog/catalog.h"
#include "base/clock.h"
#include "base/text.h"
#include "rules/policy.h"
#include "report.h"
#include "loop/ticket.h"
#include "store/store.h"

#define NO_DEPT "未指定部门"
#define SHANGHAI_OFFSET (8 * 3600)

/* The owner expression used by every query on run_datasets d. */
#define DEPT_SQL "coalesce(nullif(d.owner, ''), '" NO_DEPT "')"
/* Runs of the period: u is runs. ?1 = from, ?2 = cutoff (ISO text). */
#define RUNS_SQL "u.status = 'done' AND u.as_of >= ?1 AND u.as_of < ?2"
/* A catalog rule of rule_results r (catalog.c: "DATASET.catalog_KIND"). */
#define CATALOG_RULE_SQL "substr(r.rule, 1, length(r.dataset) + 9) = r.dataset || '.catalog_'"

/* Midnight (Shanghai) of a civil date, in epoch seconds. */
static int64_t midnight(int y, int m, int d)
{
    return qloop_days_from_civil(y, m, d) * 86400 - SHANGHAI_OFFSET;
}

int report_period_init(struct report_period *p, int year, int month, int64_t now,
                       struct qloop_error *err)
{
    memset(p, 0, sizeof *p);
    if (year < 1990 || year > 9998)
        return qloop_error_set(err, NULL, 0, 0, "年份 %d 超出范围；请写四位数年份，如 2024", year);
    if (month < 0 || month > 12)
        return qloop_error_set(err, NULL, 0, 0, "月份 %d 无效；请写 01 到 12", month);
    p->year = year;
    p->month = month;
    if (month == 0) {
        p->from = midnight(year, 1, 1);
        p->to = midnight(year + 1, 1, 1);
        snprintf(p->label, sizeof p->label, "%04d", year);
        p->months = true;
    } else {
        p->from = midnight(year, month, 1);
        p->to = month == 12 ? midnight(year + 1, 1, 1) : midnight(year, month + 1, 1);
        snprintf(p->label, sizeof p->label, "%04d-%02d", year, month);
    }
    if (now < p->from) {
        char n[32];
        qloop_format_datetime(now, n);
        return qloop_error_set(err, NULL, 0, 0, "评估期 %s 尚未开始（现在是 %s）；请选择已开始的年度或月份",
                               p->label, n);
    }
    /* Events up to and including now are seen. */
    p->cutoff = now < p->to ? now + 1 : p->to;
    return 0;
}

/* ---- the department table ------------------------------------------------ */

struct ctx {
    sqlite3 *db;
    const struct report_period *p;
    char from_s[32], cut_s[32];
    json_t *depts; /* name -> department object */
    struct qloop_error *err;
};

static json_t *counters(const char *const *keys)
{
    json_t *o = json_object();
    for (const char *const *k = keys; *k; k++)
        json_object_set_new(o, *k, json_integer(0));
    return o;
}

static const char *const quality_keys[] = {"checked", "passed", "failed", "errors", NULL};
static const char *const month_dim_keys[] = {"checked", "passed", NULL};

/* The tickets object: every count of struct tally. */
static const char *const ticket_keys[] = {
    "opened",             /* tickets opened in the period */
    "due",                /* episodes judged: on_time + late + overdue_open */
    "on_time",            /* answered at or before the deadline in force */
    "late",               /* answered after it */
    "overdue_open",       /* unanswered at cutoff, deadline passed */
    "answered",           /* on_time + late */
    "answer_days",        /* working days from receipt to answer, summed */
    "extension_requests", /* extension requests made in the period */
    "extensions",         /* extensions approved in the period */
    "with_extension",     /* judged episodes whose deadline was extended */
    "rectified",          /* 完成整改 answers given in the period */
    "recheck_passed",     /* of those, re-checked (before cutoff) and passed */
    "recheck_failed",     /* of those, re-checked and failed */
    "fixed_items",        /* problem records fixed in the period */
    "reopened_items",     /* of those, failed again after 共享 (before cutoff) */
    NULL,
};

/* The department object of name, created (all counts 0) when new. */
static json_t *dept(struct ctx *c, const char *raw)
{
    /* The name is a JSON key: invalid UTF-8 (a rule file's owner may hold
     * any bytes) is replaced first. */
    struct qloop_buf clean = {0};
    const char *given = raw && *raw ? raw : NO_DEPT;
    qloop_utf8_repair(&clean, given, strlen(given));
    const char *name = qloop_buf_str(&clean);
    json_t *d = json_object_get(c->depts, name);
    if (d) {
        qloop_buf_free(&clean);
        return d;
    }
    d = json_object();
    json_object_set_new(d, "name", report_jstr(name));
    json_object_set_new(d, "datasets", json_array());
    json_t *cat = json_object();
    json_object_set_new(cat, "imported", json_false());
    json_object_set_new(cat, "entries", json_array());
    json_object_set_new(cat, "uncatalogued", json_array());
    json_object_set_new(cat, "tickets_due", json_integer(0));
    json_object_set_new(cat, "tickets_on_time", json_integer(0));
    json_object_set_new(d, "catalog", cat);
    json_t *agg = json_object();
    json_object_set_new(agg, "checks", json_integer(0));
    json_object_set_new(agg, "on_time", json_integer(0));
    json_object_set_new(d, "aggregation", agg);
    json_t *q = counters(quality_keys);
    json_t *dims = json_object();
    for (int i = 0; i < REPORT_NDIMS; i++)
        json_object_set_new(dims, report_dimensions[i], counters(quality_keys));
    json_object_set_new(q, "dimensions", dims);
    json_object_set_new(d, "quality", q);
    json_t *t = counters(ticket_keys);
    json_object_set_new(t, "avg_answer_days", json_null());
    json_object_set_new(d, "tickets", t);
    if (c->p->months) {
        json_t *months = json_array();
        for (int m = 1; m <= 12; m++) {
            json_t *mo = json_object();
            char label[16];
            snprintf(label, sizeof label, "%04d-%02d", c->p->year, m);
            json_object_set_new(mo, "month", json_string(label));
            json_object_set_new(mo, "checked", json_integer(0));
            json_object_set_new(mo, "passed", json_integer(0));
            json_t *md = json_object();
            for (int i = 0; i < REPORT_NDIMS; i++)
                json_object_set_new(md, report_dimensions[i], counters(month_dim_keys));
            json_object_set_new(mo, "dimensions", md);
            json_object_set_new(mo, "tickets_opened", json_integer(0));
            json_object_set_new(mo, "tickets_due", json_integer(0));
            json_object_set_new(mo, "tickets_on_time", json_integer(0));
            json_array_append_new(months, mo);
        }
        json_object_set_new(d, "months", months);
    }
    json_object_set_new(d, "rules", json_array());
    json_object_set_new(d, "ticket_list", json_array());
    json_object_set_new(c->depts, name, d);
    qloop_buf_free(&clean);
    return d;
}

/* Adds delta to the integer at key of o (created at 0 when absent). */
static void add(json_t *o, const char *key, json_int_t delta)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        json_object_set_new(o, key, json_integer(delta));
        return;
    }
    json_integer_set(v, json_integer_value(v) + delta);
}

/* The department's month object for an ISO time ("YYYY-MM..."), or NULL
 * when the period has no months or the time lies outside the year. */
static json_t *month_of(struct ctx *c, json_t *d, const char *iso)
{
    if (!c->p->months || !iso || strlen(iso) < 7)
        return NULL;
    int y = atoi(iso), m = atoi(iso + 5);
    if (y != c->p->year || m < 1 || m > 12)
        return NULL;
    return json_array_get(json_object_get(d, "months"), (size_t)(m - 1));
}

static json_t *month_of_time(struct ctx *c, json_t *d, int64_t t)
{
    char iso[32];
    qloop_format_datetime(t, iso);
    return month_of(c, d, iso);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

/* Prepares sql and binds ?1 = from, ?2 = cutoff when it has them. */
static sqlite3_stmt *prep(struct ctx *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_error(c->db, "读取评估数据", c->err);
        sqlite3_finalize(st);
        return NULL;
    }
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 1)
        sqlite3_bind_text(st, 1, c->from_s, -1, SQLITE_STATIC);
    if (n >= 2)
        sqlite3_bind_text(st, 2, c->cut_s, -1, SQLITE_STATIC);
    return st;
}

/* Finalizes st; returns 0 when the last step ended the rows, else -1 with err. */
static int done(struct ctx *c, sqlite3_stmt *st, int rc)
{
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    return store_error(c->db, "读取评估数据", c->err);
}

/* ---- runs: datasets, quality, aggregation -------------------------------- */

static int gather_datasets(struct ctx *c)
{
    sqlite3_stmt *st = prep(c, "SELECT " DEPT_SQL ", d.dataset, d.rows, d.update_cycle"
                               " FROM run_datasets d JOIN runs u ON u.id = d.run_id WHERE " RUNS_SQL
                               " ORDER BY 1, 2, u.as_of, u.id");
    if (!st)
        return -1;
    int rc;
    json_t *cur = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *name = report_jstr(col_text(st, 1));
        json_t *list = json_object_get(dept(c, col_text(st, 0)), "datasets");
        /* Rows arrive grouped by department and dataset: a new group when
         * this dataset is not the list's last. */
        json_t *last = json_array_get(list, json_array_size(list) - 1);
        if (!last || !json_equal(json_object_get(last, "name"), name)) {
            cur = json_object();
            json_object_set_new(cur, "name", name);
            json_object_set_new(cur, "rows", json_integer(0));
            json_object_set_new(cur, "runs", json_integer(0));
            json_object_set_new(cur, "update_cycle", json_null());
            json_array_append_new(list, cur);
        } else {
            json_decref(name);
            cur = last;
        }
        json_object_set_new(cur, "rows", json_integer(sqlite3_column_int64(st, 2)));
        add(cur, "runs", 1);
        const char *cycle = col_text(st, 3);
        json_object_set_new(cur, "update_cycle", cycle ? report_jstr(cycle) : json_null());
    }
    return done(c, st, rc);
}

static int gather_quality(struct ctx *c)
{
    sqlite3_stmt *st = prep(
        c, "SELECT " DEPT_SQL ", r.dimension, substr(u.as_of, 1, 7), sum(r.checked), sum(r.failed),"
           " sum(r.errors) FROM rule_results r JOIN runs u ON u.id = r.run_id"
           " LEFT JOIN run_datasets d ON d.run_id = r.run_id AND d.dataset = r.dataset"
           " WHERE " RUNS_SQL " AND r.rule <> r.dataset || '.freshness' AND NOT (" CATALOG_RULE_SQL ")"
           " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *d = dept(c, col_text(st, 0));
        const char *dim = col_text(st, 1);
        json_int_t checked = sqlite3_column_int64(st, 3), failed = sqlite3_column_int64(st, 4);
        json_int_t errors = sqlite3_column_int64(st, 5);
        json_int_t passed = checked - failed > 0 ? checked - failed : 0;
        json_t *q = json_object_get(d, "quality");
        json_t *dq = json_object_get(json_object_get(q, "dimensions"), dim ? dim : "");
        json_t *targets[2] = {q, dq};
        for (int i = 0; i < 2; i++) {
            if (!targets[i])
                continue;
            add(targets[i], "checked", checked);
            add(targets[i], "passed", passed);
            add(targets[i], "failed", failed);
            add(targets[i], "errors", errors);
        }
        json_t *mo = month_of(c, d, col_text(st, 2));
        if (mo) {
            add(mo, "checked", checked);
            add(mo, "passed", passed);
            json_t *md = json_object_get(json_object_get(mo, "dimensions"), dim ? dim : "");
            if (md) {
                add(md, "checked", checked);
                add(md, "passed", passed);
            }
        }
    }
    if (done(c, st, rc) != 0)
        return -1;

    st = prep(c, "SELECT " DEPT_SQL ", r.dataset, r.rule, r.dimension, sum(r.checked),"
                 " sum(r.failed), sum(r.errors) FROM rule_results r JOIN runs u ON u.id = r.run_id"
                 " LEFT JOIN run_datasets d ON d.run_id = r.run_id AND d.dataset = r.dataset"
                 " WHERE " RUNS_SQL " AND r.rule <> r.dataset || '.freshness'"
                 " AND NOT (" CATALOG_RULE_SQL ")"
                 " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4");
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *r = json_object();
        json_object_set_new(r, "dataset", report_jstr(col_text(st, 1)));
        json_object_set_new(r, "rule", report_jstr(col_text(st, 2)));
        json_object_set_new(r, "dimension", report_jstr(col_text(st, 3)));
        json_object_set_new(r, "checked", json_integer(sqlite3_column_int64(st, 4)));
        json_object_set_new(r, "failed", json_integer(sqlite3_column_int64(st, 5)));
        json_object_set_new(r, "errors", json_integer(sqlite3_column_int64(st, 6)));
        json_array_append_new(json_object_get(dept(c, col_text(st, 0)), "rules"), r);
    }
    return done(c, st, rc);
}

static int gather_aggregation(struct ctx *c)
{
    sqlite3_stmt *st = prep(
        c, "SELECT dept, count(*), sum(bad = 0) FROM (SELECT " DEPT_SQL " AS dept,"
           " max(r.failed > 0) AS bad FROM rule_results r JOIN runs u ON u.id = r.run_id"
           " LEFT JOIN run_datasets d ON d.run_id = r.run_id AND d.dataset = r.dataset"
           " WHERE " RUNS_SQL " AND (r.rule = r.dataset || '.freshness'"
           " OR r.rule = r.dataset || '.catalog_stale') GROUP BY r.run_id, r.dataset)"
           " GROUP BY dept ORDER BY dept");
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *a = json_object_get(dept(c, col_text(st, 0)), "aggregation");
        add(a, "checks", sqlite3_column_int64(st, 1));
        add(a, "on_time", sqlite3_column_int64(st, 2));
    }
    return done(c, st, rc);
}

/* ---- the catalog as it stood at cutoff ------------------------------------ */

/* Whether an element value is empty (null, "", or an empty list). */
static bool empty_value(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static int gather_catalog(struct ctx *c, bool *imported)
{
    *imported = false;
    char as_of[32];
    qloop_format_datetime(c->p->cutoff - 1, as_of);
    json_t *cat = NULL;
    int r = catalog_show(c->db, NULL, as_of, &cat, c->err);
    if (r != 0)
        return -1;
    *imported = !json_is_null(json_object_get(cat, "version"));
    json_t *byname = json_object(); /* dataset -> owner, for uncatalogued */
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(cat, "datasets"), i, e) {
        const char *name = report_str(e, "dataset", "");
        const char *owner = report_str(e, "owner", NULL);
        json_t *d = dept(c, owner && *owner ? owner : NULL);
        json_t *entry = json_object();
        json_object_set_new(entry, "dataset", json_string(name));
        static const char *const texts[] = {"title", "share", "open", "update_cycle", NULL};
        for (const char *const *k = texts; *k; k++) {
            const char *v = report_str(e, *k, NULL);
            json_object_set_new(entry, *k, v && *v ? json_string(v) : json_null());
        }
        json_object_set_new(entry, "share_basis",
                            json_boolean(!empty_value(json_object_get(e, "share_basis"))));
        json_object_set_new(entry, "open_basis",
                            json_boolean(!empty_value(json_object_get(e, "open_basis"))));
        json_t *missing = json_array();
        const char *key;
        json_t *v;
        json_object_foreach(e, key, v) {
            if (strcmp(key, "dataset") != 0 && empty_value(v))
                json_array_append_new(missing, json_string(key));
        }
        json_object_set_new(entry, "missing", missing);
        json_array_append_new(json_object_get(json_object_get(d, "catalog"), "entries"), entry);
        json_object_set_new(byname, name, json_true());
    }
    json_decref(cat);

    if (*imported) {
        const char *name;
        json_t *d;
        json_object_foreach(c->depts, name, d) {
            json_t *ds;
            json_array_foreach(json_object_get(d, "datasets"), i, ds) {
                const char *dsname = report_str(ds, "name", "");
                if (!json_object_get(byname, dsname))
                    json_array_append_new(
                        json_object_get(json_object_get(d, "catalog"), "uncatalogued"),
                        json_string(dsname));
            }
        }
    }
    json_decref(byname);
    return 0;
}

/* ---- tickets --------------------------------------------------------------- */

/* One hand-over to the provider (see the file comment). */
struct episode {
    bool active;     /* begun */
    bool answered;   /* ended by an answer (for now) */
    int64_t received, deadline, answer;
    int extensions;  /* approved while it ran */
};

/* The ticket being walked. */
struct walk {
    int64_t id;
    char *dept, *dataset, *rule, *source;
    bool catalog;            /* a catalog problem (DATASET.catalog_KIND) */
    char state[16];          /* as of cutoff */
    char opened_at[32];
    bool in_period;          /* some event in [from, cutoff) */
    struct episode ep;
    bool has_episode;
    int extensions, recheck_failed;
    bool rect_pending;       /* a rectification of the period awaits its re-check */
    /* the last judged episode, for ticket_list */
    int verdict;             /* -1 none, 0 late/overdue, 1 on time */
    long working_days;       /* -1 when unanswered */
};

static void walk_free(struct walk *w)
{
    free(w->dept), free(w->dataset), free(w->rule), free(w->source);
    memset(w, 0, sizeof *w);
}

static bool in_period(const struct ctx *c, int64_t t)
{
    return t >= c->p->from && t < c->p->cutoff;
}

/* Judges the walk's current episode once the ticket's events are read (or
 * a new episode begins): counts it in the period where it falls. */
static void judge_episode(struct ctx *c, struct walk *w)
{
    if (!w->has_episode || !w->ep.active)
        return;
    struct episode *ep = &w->ep;
    json_t *d = dept(c, w->dept);
    json_t *t = json_object_get(d, "tickets");
    json_t *cat = json_object_get(d, "catalog");
    bool has_deadline = ep->deadline != INT64_MIN;
    if (ep->answered) {
        long days = calendar_working_days_between(policy_day_of(ep->received),
                                                  policy_day_of(ep->answer));
        w->working_days = days;
        bool on_time = !has_deadline || ep->answer <= ep->deadline;
        w->verdict = on_time;
        if (!in_period(c, ep->answer))
            return;
        add(t, "due", 1);
        add(t, "answered", 1);
        add(t, "answer_days", days);
        add(t, on_time ? "on_time" : "late", 1);
        if (ep->extensions > 0)
            add(t, "with_extension", 1);
        if (w->catalog) {
            add(cat, "tickets_due", 1);
            add(cat, "tickets_on_time", on_time);
        }
        json_t *mo = month_of_time(c, d, ep->answer);
        if (mo) {
            add(mo, "tickets_due", 1);
            add(mo, "tickets_on_time", on_time);
        }
        return;
    }
    w->working_days = -1;
    if (!has_deadline || ep->deadline >= c->p->cutoff) {
        w->verdict = -1;
        return;
    }
    w->verdict = 0;
    add(t, "due", 1);
    add(t, "overdue_open", 1);
    if (ep->extensions > 0)
        add(t, "with_extension", 1);
    if (w->catalog)
        add(cat, "tickets_due", 1);
    json_t *mo = month_of_time(c, d, ep->deadline >= c->p->from ? ep->deadline : c->p->from);
    if (mo)
        add(mo, "tickets_due", 1);
}

static int64_t parse_time(const char *s, int64_t def)
{
    int64_t t;
    return s && qloop_parse_datetime(s, &t) ? t : def;
}

static json_t *time_or_null(int64_t t, bool set)
{
    if (!set)
        return json_null();
    char iso[32];
    qloop_format_datetime(t, iso);
    return json_string(iso);
}

/* Ends the walk of one ticket: judges its last episode and lists it when it
 * was active in the period or is open at cutoff. */
static int finish_ticket(struct ctx *c, struct walk *w, sqlite3_stmt *items)
{
    if (!w->dept)
        return 0;
    w->verdict = -1;
    w->working_days = -1;
    judge_episode(c, w);
    bool closed = strcmp(w->state, "shared") == 0 || strcmp(w->state, "confirmed") == 0;
    if (!w->in_period && closed) {
        walk_free(w);
        return 0;
    }
    sqlite3_reset(items);
    sqlite3_bind_int64(items, 1, w->id);
    sqlite3_bind_text(items, 2, c->cut_s, -1, SQLITE_STATIC);
    long long nitems = sqlite3_step(items) == SQLITE_ROW ? sqlite3_column_int64(items, 0) : 0;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(w->id));
    json_object_set_new(o, "dataset", report_jstr(w->dataset));
    json_object_set_new(o, "rule", report_jstr(w->rule));
    json_object_set_new(o, "source", report_jstr(w->source));
    json_object_set_new(o, "state", report_jstr(w->state));
    json_object_set_new(o, "opened_at", w->opened_at[0] ? json_string(w->opened_at) : json_null());
    bool ep = w->has_episode && w->ep.active;
    json_object_set_new(o, "received_at", time_or_null(w->ep.received, ep));
    json_object_set_new(o, "deadline", time_or_null(w->ep.deadline, ep && w->ep.deadline != INT64_MIN));
    json_object_set_new(o, "answered_at", time_or_null(w->ep.answer, ep && w->ep.answered));
    json_object_set_new(o, "working_days",
                        w->working_days >= 0 ? json_integer(w->working_days) : json_null());
    json_object_set_new(o, "on_time", w->verdict < 0 ? json_null() : json_boolean(w->verdict));
    json_object_set_new(o, "extensions", json_integer(w->extensions));
    json_object_set_new(o, "recheck_failed", json_integer(w->recheck_failed));
    json_object_set_new(o, "items", json_integer(nitems));
    json_array_append_new(json_object_get(dept(c, w->dept), "ticket_list"), o);
    walk_free(w);
    return 0;
}

/* Applies one history event to the walk. */
static void step_event(struct ctx *c, struct walk *w, const char *event, const char *from_state,
                       const char *to_state, int64_t at, const char *deadline_after)
{
    json_t *d = dept(c, w->dept);
    json_t *t = json_object_get(d, "tickets");
    bool here = in_period(c, at);
    if (here)
        w->in_period = true;
    snprintf(w->state, sizeof w->state, "%s", to_state ? to_state : "");
    if (strcmp(event, "open") == 0) {
        qloop_format_datetime(at, w->opened_at);
        if (here) {
            add(t, "opened", 1);
            json_t *mo = month_of_time(c, d, at);
            if (mo)
                add(mo, "tickets_opened", 1);
        }
    } else if (strcmp(event, "reopen") == 0 && to_state && strcmp(to_state, "discovered") == 0) {
        /* Reopened by a run but not yet handed over: the closed episode is
         * final; the next hand-over (feedback) starts a new one. */
        judge_episode(c, w);
        w->ep.active = false;
    } else if (strcmp(event, "feedback") == 0 || strcmp(event, "reopen") == 0) {
        /* A hand-over: after 沟通解决, or a closed ticket reopened by a run
         * because its records failed again, a new episode with its own
         * receipt and statutory deadline. */
        judge_episode(c, w); /* a previous episode ended by 沟通解决 */
        memset(&w->ep, 0, sizeof w->ep);
        w->ep.active = true;
        w->ep.received = at;
        w->ep.deadline = parse_time(deadline_after, INT64_MIN);
        w->has_episode = true;
    } else if (strcmp(event, "extend_request") == 0) {
        if (here)
            add(t, "extension_requests", 1);
    } else if (strcmp(event, "extend_approve") == 0) {
        w->ep.deadline = parse_time(deadline_after, w->ep.deadline);
        w->ep.extensions++;
        w->extensions++;
        if (here)
            add(t, "extensions", 1);
    } else if (strcmp(event, "rectified") == 0 || strcmp(event, "confirmed") == 0 ||
               strcmp(event, "negotiated") == 0) {
        if (w->ep.active && !w->ep.answered && from_state && strcmp(from_state, "feedback") == 0) {
            w->ep.answered = true;
            w->ep.answer = at;
        }
        if (strcmp(event, "rectified") == 0) {
            w->rect_pending = here;
            if (here)
                add(t, "rectified", 1);
        }
    } else if (strcmp(event, "recheck_fail") == 0) {
        w->recheck_failed++;
        if (w->rect_pending)
            add(t, "recheck_failed", 1);
        w->rect_pending = false;
        /* Back with the provider: received_at and deadline unchanged. */
        if (w->has_episode) {
            w->ep.active = true;
            w->ep.answered = false;
            w->ep.deadline = parse_time(deadline_after, w->ep.deadline);
        }
    } else if (strcmp(event, "recheck_pass") == 0) {
        if (w->rect_pending)
            add(t, "recheck_passed", 1);
        w->rect_pending = false;
        /* Fixed while waiting in 反馈: the provider acted; the run saw it. */
        if (w->ep.active && !w->ep.answered && from_state && strcmp(from_state, "feedback") == 0) {
            w->ep.answered = true;
            w->ep.answer = at;
        }
    }
}

static int gather_tickets(struct ctx *c)
{
    sqlite3_stmt *items = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT count(*) FROM ticket_items WHERE ticket_id = ?1 AND added_at < ?2",
                           -1, &items, NULL) != SQLITE_OK)
        return done(c, items, SQLITE_ERROR);
    sqlite3_stmt *st = prep(
        c, "SELECT h.ticket_id, t.dept, t.dataset, t.rule, t.source, h.at, h.event, h.from_state,"
           " h.to_state, h.deadline_after FROM ticket_history h JOIN tickets t ON t.id = h.ticket_id"
           " WHERE h.at < ?2 ORDER BY h.ticket_id, h.id");
    if (!st) {
        sqlite3_finalize(items);
        return -1;
    }
    struct walk w = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (w.dept && w.id != id)
            finish_ticket(c, &w, items);
        if (!w.dept) {
            w.id = id;
            const char *dname = col_text(st, 1);
            w.dept = qloop_xstrdup(dname && *dname ? dname : NO_DEPT);
            w.dataset = qloop_xstrdup(col_text(st, 2) ? col_text(st, 2) : "");
            w.rule = qloop_xstrdup(col_text(st, 3) ? col_text(st, 3) : "");
            w.source = qloop_xstrdup(col_text(st, 4) ? col_text(st, 4) : "");
            size_t dl = strlen(w.dataset);
            w.catalog = strncmp(w.rule, w.dataset, dl) == 0 &&
                        strncmp(w.rule + dl, ".catalog_", 9) == 0;
        }
        int64_t at = parse_time(col_text(st, 5), 0);
        const char *event = col_text(st, 6);
        step_event(c, &w, event ? event : "", col_text(st, 7), col_text(st, 8), at,
                   col_text(st, 9));
    }
    if (w.dept)
        finish_ticket(c, &w, items);
    sqlite3_finalize(items);
    if (done(c, st, rc) != 0)
        return -1;

    /* Records fixed in the period, and those of them that failed again after
     * their ticket was closed as 共享 (an item naming it in reopened_from,
     * found by the items' keys by record, ticket_item_refs). */
    st = prep(c, "SELECT t.dept, count(*), sum(t.state = 'shared' AND EXISTS(SELECT 1 FROM"
                 " ticket_item_refs r CROSS JOIN ticket_items j ON j.id = r.id"
                 " WHERE r.record_ref = i.record_ref AND r.kind = (SELECT id FROM item_kinds"
                 " WHERE dataset = i.dataset AND rule = i.rule) AND j.reopened_from = i.ticket_id"
                 " AND j.added_at < ?2)) FROM ticket_items i JOIN tickets t ON t.id = i.ticket_id"
                 " WHERE i.state = 'fixed' AND i.closed_at >= ?1 AND i.closed_at < ?2"
                 " GROUP BY t.dept ORDER BY t.dept");
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *t = json_object_get(dept(c, col_text(st, 0)), "tickets");
        add(t, "fixed_items", sqlite3_column_int64(st, 1));
        add(t, "reopened_items", sqlite3_column_int64(st, 2));
    }
    return done(c, st, rc);
}

/* ---- the whole ---------------------------------------------------------- */

/* Sets o[key] to num/den (4 decimals), or null when den is 0. */
static void set_rate(json_t *o, const char *key, long long num, long long den)
{
    json_object_set_new(o, key, den > 0 ? json_real(report_round((double)num / (double)den, 4))
                                        : json_null());
}

/* The ratios the renderers show beside the counts: quality and each
 * dimension (passed / checked), aggregation, tickets on time, and per month. */
static void add_rates(json_t *d)
{
    json_t *q = json_object_get(d, "quality");
    set_rate(q, "rate", report_int(q, "passed", 0), report_int(q, "checked", 0));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(q, "dimensions"), key, v)
        set_rate(v, "rate", report_int(v, "passed", 0), report_int(v, "checked", 0));
    json_t *a = json_object_get(d, "aggregation");
    set_rate(a, "rate", report_int(a, "on_time", 0), report_int(a, "checks", 0));
    json_t *t = json_object_get(d, "tickets");
    set_rate(t, "on_time_rate", report_int(t, "on_time", 0), report_int(t, "due", 0));
    size_t i;
    json_t *mo;
    json_array_foreach(json_object_get(d, "months"), i, mo) {
        set_rate(mo, "rate", report_int(mo, "passed", 0), report_int(mo, "checked", 0));
        set_rate(mo, "tickets_rate", report_int(mo, "tickets_on_time", 0),
                 report_int(mo, "tickets_due", 0));
        json_object_foreach(json_object_get(mo, "dimensions"), key, v)
            set_rate(v, "rate", report_int(v, "passed", 0), report_int(v, "checked", 0));
    }
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int report_facts(sqlite3 *db, const struct report_period *p, json_t **out,
                 struct qloop_error *err)
{
    *out = NULL;
    struct ctx c = {.db = db, .p = p, .depts = json_object(), .err = err};
    qloop_format_datetime(p->from, c.from_s);
    qloop_format_datetime(p->cutoff, c.cut_s);
    bool imported = false;
    if (gather_datasets(&c) != 0 || gather_quality(&c) != 0 || gather_aggregation(&c) != 0 ||
        gather_catalog(&c, &imported) != 0 || gather_tickets(&c) != 0) {
        json_decref(c.depts);
        return -2;
    }
    /* Departments in name order; derived figures. */
    size_t n = json_object_size(c.depts), k = 0;
    const char **names = qloop_xcalloc(n ? n : 1, sizeof *names);
    const char *key;
    json_t *d;
    json_object_foreach(c.depts, key, d) names[k++] = key;
    qsort(names, n, sizeof *names, cmp_name);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        d = json_object_get(c.depts, names[i]);
        json_object_set_new(json_object_get(d, "catalog"), "imported", json_boolean(imported));
        add_rates(d);
        json_t *t = json_object_get(d, "tickets");
        long long answered = report_int(t, "answered", 0);
        json_object_set_new(t, "avg_answer_days",
                            answered > 0 ? json_real(report_round(
                                               (double)report_int(t, "answer_days", 0) / answered, 2))
                                         : json_null());
        json_array_append(list, d);
    }
    free(names);
    json_decref(c.depts);

    json_t *facts = json_object();
    char from_d[11], last_d[11];
    qloop_format_date(p->from, from_d);
    qloop_format_date(p->to - 1, last_d);
    json_object_set_new(facts, "period", json_string(p->label));
    json_object_set_new(facts, "year", json_integer(p->year));
    json_object_set_new(facts, "month", p->month ? json_integer(p->month) : json_null());
    json_object_set_new(facts, "from", json_string(from_d));
    json_object_set_new(facts, "to", json_string(last_d));
    json_object_set_new(facts, "as_of", json_string(c.cut_s));
    json_object_set_new(facts, "complete", json_boolean(p->cutoff >= p->to));
    json_object_set_new(facts, "catalog_imported", json_boolean(imported));
    json_object_set_new(facts, "departments", list);
    *out = facts;
    return 0;
}
