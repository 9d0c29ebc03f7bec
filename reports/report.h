/*
 * report.h — the annual assessment and the monthly department scorecard.
 *
 * The pipeline has three stages, each testable alone:
 *   1. facts (facts.c): per-department raw counts for a period, read from the
 *      store — quality per GB/T 36344 dimension, updates within their cycle,
 *      the catalog, sharing and opening, the tickets (answered on time,
 *      working days to answer, overdue, extensions, re-check failures,
 *      records reopened after 共享) and, for a year, the same per month;
 *   2. assessment (assessment.c): the indicator model, a Lua file
 *      (reports/assessment.lua, or --model FILE) evaluated in the rule
 *      sandbox, turns each department's facts into indicator values, a score
 *      (0–100), a grade and advice with its legal basis; C validates what the
 *      model returns, ranks the departments and sets each beside the previous
 *      year's published report (table report_published, schema step 5 in
 *      engine/store/schema.c);
 *   3. rendering (render_*.c): the report is one JSON document that carries
 *      every figure; HTML, Markdown, CSV and XLSX are drawn from it alone.
 *
 * Reports work from aggregates only: no record key or value ever enters
 * them. Everything is ordered and rounded deterministically, so the same
 * store gives the same report byte for byte apart from "generated_at".
 */
#ifndef QLOOP_REPORT_H
#define QLOOP_REPORT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/error.h"

/* The six GB/T 36344 dimensions, in the standard's order, and their Chinese
 * names (规范性, 完整性, 准确性, 一致性, 时效性, 可访问性). */
enum { REPORT_NDIMS = 6 };
extern const char *const report_dimensions[REPORT_NDIMS];
extern const char *const report_dimensions_zh[REPORT_NDIMS];

/* The period a report covers: [from, to) in epoch seconds, judged as the
 * store stood at cutoff = min(to, now) (events at or after cutoff are not
 * seen, so a closed year's report never changes). label: "2024" or
 * "2024-07". months: per-month figures (the annual report's trend).
 * cutoff is exclusive: now + 1 second while the period runs, so what
 * happened at now (a run under the same QLOOP_NOW) is seen. */
struct report_period {
    int64_t from, to, cutoff;
    int year, month; /* month 0: the whole year */
    char label[16];
    bool months;
};

/* Fills p for a year (month 0) or one month of it, judged at now. Returns 0,
 * or -1 with err when the period has not begun at now or is out of range. */
int report_period_init(struct report_period *p, int year, int month, int64_t now,
                       struct qloop_error *err);

/* Stage 1. The facts of period p (see facts.c for every key):
 *   {"period", "year", "month", "from", "to", "as_of", "complete",
 *    "catalog_imported",
 *    "departments": [{"name", "datasets", "catalog", "aggregation", "quality",
 *                     "tickets", "months", "rules", "ticket_list"}]}
 * departments sorted by name. Returns 0 with *out (a new reference), or -2
 * with err on a store error. */
int report_facts(sqlite3 *db, const struct report_period *p, json_t **out,
                 struct qloop_error *err);

/* Stage 2. A loaded indicator model. */
struct report_model;

/* The default model's editable copy: QLOOP_DATADIR/assessment.lua, where
 * `cmake --install` puts it; when absent, the copy compiled in serves. */
const char *report_default_model_path(void);

/* Loads the model. path NULL: the default model. Given a path, the default
 * model (when its file exists) is loaded first and passed to the file's chunk
 * as its argument (`local M = ...`), so an override may adjust the default
 * instead of restating it. Checks the returned table (name, grades,
 * indicators, evaluate). Returns NULL with err (file, line, what to do). */
struct report_model *report_model_load(const char *path, struct qloop_error *err);
void report_model_free(struct report_model *m);

/* Lower-case hex SHA-256 of the model's text (default and override). */
const char *report_model_hash(const struct report_model *m);

/* The grade of a department the model does not rate: no indicator applies
 * to it in the period (nothing catalogued, checked or due), so it is not
 * scored and not ranked, rather than scored 0 and failed. */
#define REPORT_NOT_RATED "不参评"

/* Evaluates the model on facts (from report_facts): for each department adds
 * "score" (0–100, one decimal), "grade", "rank" (1 = best; equal scores share
 * a rank), "rated" (true), "indicators" (object keyed by indicator id, in
 * model order) and "advice" ([{"indicator", "text", "basis"}]), and sorts the
 * departments by rank then name. A department the model leaves without a
 * score (evaluate returns no score: no indicator applies) is not rated:
 * "score" and "rank" null, "grade" REPORT_NOT_RATED, "rated" false, listed
 * after the ranked ones by name. Adds "model", "grades", "indicators" (the
 * model's list) and "dimensions" to facts itself. Returns 0 or -1 with err. */
int report_model_apply(struct report_model *m, json_t *facts, struct qloop_error *err);

/* The departments' objects depts[0..n) (references taken) as an array in
 * rank order with "rank" set (ranking.c): rated ones by score, not rated
 * ones after them by name, rank null. */
json_t *report_rank(json_t **depts, size_t n);

/* The figures of the whole city from the ranked departments: "departments"
 * (rated), "not_rated", "average_score" (of the rated), "grades" (counts in
 * the model's order), "quality", "tickets" and, for a year, "months". */
json_t *report_city_summary(const json_t *report, const json_t *depts);

/* The whole annual report of year at time now: facts, model, ranking, the
 * city summary, and the comparison with the newest published report of
 * year - 1 ("previous", and per department "previous", "change",
 * "rank_change"). model_path NULL: the default model. Returns 0 with *out;
 * -1 with err for bad input (a year not begun, a faulty model: exit 2); -2
 * on a store error (exit 3). */
int report_annual(sqlite3 *db, int year, const char *model_path, int64_t now, json_t **out,
                  struct qloop_error *err);

/* One department's scorecard for year-month: that month's figures for every
 * department (ranked), the department's own object ("department"), and its
 * score of the month before (department.previous, .change). Returns as
 * report_annual; -1 also when no department of that name has anything in
 * the month (err lists those that do). */
int report_scorecard(sqlite3 *db, const char *dept, int year, int month, const char *model_path,
                     int64_t now, json_t **out, struct qloop_error *err);

/* Stores the annual report in report_published and appends "report.publish" to the audit chain, in one
 * transaction. Returns 0 or -2 with err. */
int report_publish(sqlite3 *db, const json_t *report, const char *actor,
                   struct qloop_error *err);

/* Stage 3. Renderers: each appends the report (from report_annual) to out. */
int report_render_json(const json_t *report, struct qloop_buf *out, struct qloop_error *err);
int report_render_md(const json_t *report, struct qloop_buf *out, struct qloop_error *err);
int report_render_csv(const json_t *report, struct qloop_buf *out, struct qloop_error *err);
int report_render_html(const json_t *report, struct qloop_buf *out, struct qloop_error *err);
/* The scorecard (from report_scorecard) as one HTML page or Markdown. */
int report_render_scorecard_html(const json_t *card, struct qloop_buf *out,
                                 struct qloop_error *err);
int report_render_scorecard_md(const json_t *card, struct qloop_buf *out,
                               struct qloop_error *err);

/* Whether this build can write XLSX (libxlsxwriter found at build time). */
bool report_xlsx_available(void);

/* Writes the report as an XLSX workbook at path: 汇总 (one row per
 * department), one sheet per department, 工单 (every ticket). Returns 0 or -1
 * with err (no libxlsxwriter in this build, or the file cannot be written). */
int report_render_xlsx(const json_t *report, const char *path, struct qloop_error *err);

/* ---- helpers shared by the renderers (report_util.c) ---- */

/* x rounded half away from zero to `decimals` places. */
double report_round(double x, int decimals);

/* Appends a ratio 0..1 as a percentage with one decimal ("87.5%"); "—" for
 * JSON null or a missing value. */
void report_put_percent(struct qloop_buf *b, const json_t *ratio);

/* Appends a number as text: integers as such, reals with up to `decimals`
 * places (trailing zeros dropped); "—" for null/missing. */
void report_put_number(struct qloop_buf *b, const json_t *v, int decimals);

/* Whether department d was rated (has a score and a rank). */
bool report_rated(const json_t *d);

/* Appends d's rank, "—" for a department not rated. */
void report_put_rank(struct qloop_buf *b, const json_t *d);

/* Appends s with & < > " ' escaped for HTML. */
void report_put_html(struct qloop_buf *b, const char *s);

/* The integer / real / string at key of o, or def when absent or of another
 * type. */
long long report_int(const json_t *o, const char *key, long long def);
double report_real(const json_t *o, const char *key, double def);
const char *report_str(const json_t *o, const char *key, const char *def);

/* s as a JSON string, every byte that is not part of valid UTF-8 replaced
 * by U+FFFD (never NULL; "" for NULL). Text read from the store goes
 * through this, since jansson refuses invalid UTF-8. */
json_t *report_jstr(const char *s);

/* The Chinese name of a dimension id (the id itself when unknown). */
const char *report_dimension_zh(const char *dim);

#endif
