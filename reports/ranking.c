/*
 * ranking.c — the departments in rank order, and the figures of the whole
 * city (report.h): those the model rated by score, best first, sharing a
 * rank on equal scores; those it did not (不参评: no indicator applies)
 * after them, by name, without a rank, and left out of the city's average
 * and grade counts.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Rated departments by score, best first, then those not rated; by name
 * within equal scores and among those not rated. */
static int cmp_dept(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    bool rx = report_rated(x), ry = report_rated(y);
    if (rx != ry)
        return rx ? -1 : 1;
    double sx = report_real(x, "score", 0), sy = report_real(y, "score", 0);
    if (rx && sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(report_str(x, "name", ""), report_str(y, "name", ""));
}

/* Sets "rank" on each rated department of the sorted array (equal scores
 * share the better rank: 1, 2, 2, 4); null for those not rated. */
static void set_ranks(json_t *list)
{
    size_t n = json_array_size(list);
    double prev = -1;
    json_int_t rank = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(list, i);
        if (!report_rated(d)) {
            json_object_set_new(d, "rank", json_null());
            continue;
        }
        double s = report_real(d, "score", 0);
        if (i == 0 || s != prev)
            rank = (json_int_t)i + 1;
        prev = s;
        json_object_set_new(d, "rank", json_integer(rank));
    }
}

json_t *report_rank(json_t **depts, size_t n)
{
    qsort(depts, n, sizeof *depts, cmp_dept);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, depts[i]);
    set_ranks(list);
    return list;
}

static void set_rate(json_t *o, const char *key, long long num, long long den)
{
    json_object_set_new(o, key, den > 0 ? json_real(report_round((double)num / (double)den, 4))
                                        : json_null());
}

/* Sums key over the departments' objects at path (one level). */
static long long sum_of(const json_t *depts, const char *obj, const char *key)
{
    long long s = 0;
    size_t i;
    json_t *d;
    json_array_foreach(depts, i, d) s += report_int(json_object_get(d, obj), key, 0);
    return s;
}

/* The figures of the whole city: departments (those rated, and those not:
 * "not_rated"), the average score of those rated, grade counts (in the
 * model's order), quality, tickets and, for a year, the months. */
json_t *report_city_summary(const json_t *report, const json_t *depts)
{
    json_t *city = json_object();
    size_t n = 0, unrated = 0;
    double total = 0;
    size_t i;
    json_t *d;
    json_array_foreach(depts, i, d) {
        if (report_rated(d)) {
            n++;
            total += report_real(d, "score", 0);
        } else {
            unrated++;
        }
    }
    json_object_set_new(city, "departments", json_integer((json_int_t)n));
    json_object_set_new(city, "not_rated", json_integer((json_int_t)unrated));
    json_object_set_new(city, "average_score",
                        n ? json_real(report_round(total / (double)n, 1)) : json_null());
    json_t *grades = json_object();
    json_t *g;
    json_array_foreach(json_object_get(report, "grades"), i, g) {
        const char *name = report_str(g, "name", "");
        long long c = 0;
        size_t j;
        json_array_foreach(depts, j, d) c += strcmp(report_str(d, "grade", ""), name) == 0;
        json_object_set_new(grades, name, json_integer(c));
    }
    json_object_set_new(city, "grades", grades);

    json_t *q = json_object();
    long long checked = 0, passed = 0;
    json_array_foreach(depts, i, d) {
        checked += report_int(json_object_get(d, "quality"), "checked", 0);
        passed += report_int(json_object_get(d, "quality"), "passed", 0);
    }
    json_object_set_new(q, "checked", json_integer(checked));
    json_object_set_new(q, "passed", json_integer(passed));
    set_rate(q, "rate", passed, checked);
    json_t *dims = json_object();
    for (int k = 0; k < REPORT_NDIMS; k++) {
        long long c = 0, p = 0;
        json_array_foreach(depts, i, d) {
            const json_t *dq = json_object_get(
                json_object_get(json_object_get(d, "quality"), "dimensions"), report_dimensions[k]);
            c += report_int(dq, "checked", 0);
            p += report_int(dq, "passed", 0);
        }
        json_t *o = json_object();
        json_object_set_new(o, "checked", json_integer(c));
        json_object_set_new(o, "passed", json_integer(p));
        set_rate(o, "rate", p, c);
        json_object_set_new(dims, report_dimensions[k], o);
    }
    json_object_set_new(q, "dimensions", dims);
    json_object_set_new(city, "quality", q);

    json_t *t = json_object();
    static const char *const tkeys[] = {"opened", "due", "on_time", "late", "overdue_open",
                                        "answered", "answer_days", "extensions",
                                        "fixed_items", "reopened_items", NULL};
    for (const char *const *k = tkeys; *k; k++)
        json_object_set_new(t, *k, json_integer(sum_of(depts, "tickets", *k)));
    set_rate(t, "on_time_rate", report_int(t, "on_time", 0), report_int(t, "due", 0));
    long long answered = report_int(t, "answered", 0);
    json_object_set_new(t, "avg_answer_days",
                        answered ? json_real(report_round(
                                       (double)report_int(t, "answer_days", 0) / answered, 2))
                                 : json_null());
    json_object_set_new(city, "tickets", t);

    json_t *first = json_array_get(depts, 0);
    json_t *months = json_object_get(first, "months");
    if (months) {
        json_t *list = json_array();
        for (size_t m = 0; m < json_array_size(months); m++) {
            json_t *o = json_object();
            json_object_set(o, "month", json_object_get(json_array_get(months, m), "month"));
            long long c = 0, p = 0, due = 0, ot = 0;
            json_array_foreach(depts, i, d) {
                const json_t *mo = json_array_get(json_object_get(d, "months"), m);
                c += report_int(mo, "checked", 0);
                p += report_int(mo, "passed", 0);
                due += report_int(mo, "tickets_due", 0);
                ot += report_int(mo, "tickets_on_time", 0);
            }
            json_object_set_new(o, "checked", json_integer(c));
            json_object_set_new(o, "passed", json_integer(p));
            set_rate(o, "rate", p, c);
            json_object_set_new(o, "tickets_due", json_integer(due));
            json_object_set_new(o, "tickets_on_time", json_integer(ot));
            set_rate(o, "tickets_rate", ot, due);
            json_array_append_new(list, o);
        }
        json_object_set_new(city, "months", list);
    }
    return city;
}
