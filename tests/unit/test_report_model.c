/*
 * test_report_model.c — the assessment on the store of report_fixture.h:
 * the default model's scores, grades and advice, model overrides and faulty
 * models, ranking ties, publishing and the year-on-year change, the
 * scorecard, each renderer, byte-for-byte reproducibility, and that no
 * record key or value reaches any format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "report_fixture.h"

/* ---- the default model ------------------------------------------------------ */

static json_t *annual(const char *model, int64_t now)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    if (report_annual(db, 2025, model, now, &r, &err) != 0)
        fail_msg("report_annual: %s:%ld: %s", err.file, err.line, err.message);
    return r;
}

static void test_default_model(void **state)
{
    (void)state;
    json_t *r = annual(NULL, after_year);
    json_t *list = json_object_get(r, "departments");
    json_t *p = dept_of(list, "市公安局"), *s = dept_of(list, "市人力社保局");
    /* 市公安局, applicable indicators (weight × ratio):
     *   catalog.complete 10 × 1/1, catalog.on_time 5 × 1/1,
     *   aggregation 15 × 1/1, quality.normative 5 × 198/200,
     *   handling.on_time 10 × 3/3, no_extension 5 × 2/3,
     *   recheck_passed 5 × 2/2, not_reopened 5 × 1/2,
     *   sharing.basis 10 × 1/1, sharing.open 5 × 0/1
     * = 10+5+15+4.95+10+3.3333+5+2.5+10+0 = 65.7833 of 75 -> 87.7 (良好). */
    assert_float_equal(get_real(p, "score"), 87.7, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "良好");
    assert_int_equal(get_int(p, "rank"), 1);
    json_t *ind = json_object_get(p, "indicators");
    assert_int_equal(json_object_size(ind), 15);
    json_t *noext = json_object_get(ind, "handling.no_extension");
    assert_float_equal(get_real(noext, "value"), 0.6667, 1e-9);
    assert_int_equal(get_int(noext, "numerator"), 2);
    assert_int_equal(get_int(noext, "denominator"), 3);
    assert_float_equal(get_real(noext, "points"), 3.33, 1e-9);
    assert_int_equal(get_int(noext, "weight"), 5);
    assert_true(json_is_null(json_object_get(json_object_get(ind, "quality.accuracy"), "value")));
    assert_true(json_is_true(json_object_get(json_object_get(ind, "sharing.open"), "weak")));
    assert_true(json_is_false(json_object_get(json_object_get(ind, "catalog.complete"), "weak")));
    /* advice: no_extension (0.667 < 0.8), not_reopened, sharing.open */
    json_t *adv = json_object_get(p, "advice");
    assert_int_equal(json_array_size(adv), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(adv, 0), "indicator")),
                        "handling.no_extension");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(adv, 2), "basis")),
                           "第二十八条"));
    /* 市人力社保局:
     *   catalog.complete 10 × 0/1, aggregation 15 × 0/2,
     *   quality.completeness 5 × 85/100, handling.on_time 10 × 1/4,
     *   no_extension 5 × 4/4, recheck_passed 5 × 1/2,
     *   sharing.basis 10 × 0/1, sharing.open 5 × 1/1
     * = 0+0+4.25+2.5+5+2.5+0+5 = 19.25 of 65 -> 29.6 (不合格). */
    assert_float_equal(get_real(s, "score"), 29.6, 1e-9);
    assert_string_equal(json_string_value(json_object_get(s, "grade")), "不合格");
    assert_int_equal(get_int(s, "rank"), 2);
    json_t *sadv = json_object_get(s, "advice");
    bool overdue = false, avg_days = false, overall = false, on_time = false;
    size_t i;
    json_t *a;
    json_array_foreach(sadv, i, a) {
        const char *id = json_string_value(json_object_get(a, "indicator"));
        const char *basis = json_string_value(json_object_get(a, "basis"));
        assert_true(basis && *basis);
        overdue = overdue || strcmp(id, "handling.overdue") == 0;
        avg_days = avg_days || strcmp(id, "handling.avg_days") == 0;
        on_time = on_time || (strcmp(id, "handling.on_time") == 0 && strstr(basis, "第二十七条"));
        overall = overall || (strcmp(id, "overall") == 0 && strstr(basis, "第四十条"));
    }
    assert_true(overdue);
    assert_false(avg_days); /* 5.0 is not more than 5 */
    assert_true(on_time);
    assert_true(overall);
    /* city */
    json_t *city = json_object_get(r, "city");
    assert_float_equal(get_real(city, "average_score"), 58.7, 1e-9); /* (87.7+29.6)/2 = 58.65 */
    assert_int_equal(get_int(city, "grades.良好"), 1);
    assert_int_equal(get_int(city, "grades.不合格"), 1);
    assert_int_equal(get_int(city, "tickets.due"), 7);
    assert_true(json_is_null(json_object_get(r, "previous")));
    assert_int_equal(json_array_size(json_object_get(r, "indicators")), 15);
    json_decref(r);
}

static void test_model_override(void **state)
{
    (void)state;
    char *path = write_file("strict.lua", "local M = ...\n"
                                          "M.name = 'strict'\n"
                                          "M.grades[2].min = 88  -- 良好 from 88\n"
                                          "return M\n");
    json_t *r = annual(path, after_year);
    json_t *p = dept_of(json_object_get(r, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 87.7, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "合格");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "model"), "name")),
                        "strict");
    json_t *d = annual(NULL, after_year);
    assert_string_not_equal(json_string_value(json_object_get(json_object_get(r, "model"), "hash")),
                            json_string_value(json_object_get(json_object_get(d, "model"), "hash")));
    json_decref(d);
    json_decref(r);

    /* A whole model of its own: one indicator, two grades. */
    path = write_file("own.lua",
                      "local M = { name = 'own', grades = { {name='达标', min=50}, {name='未达标', min=0} },\n"
                      "  indicators = { {id='q', group='质量', name='质量', weight=1} } }\n"
                      "function M.evaluate(d)\n"
                      "  local q = d.quality\n"
                      "  local v = q.checked > 0 and q.passed / q.checked or nil\n"
                      "  local s = v and v * 100 or 0\n"
                      "  return { score = s, grade = s >= 50 and '达标' or '未达标',\n"
                      "    indicators = { {id='q', numerator=q.passed, denominator=q.checked, value=v,\n"
                      "                    points=v, weight=1} },\n"
                      "    advice = { {text='保持', basis='测试'} } }\n"
                      "end\n"
                      "return M\n");
    r = annual(path, after_year);
    p = dept_of(json_object_get(r, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 99.0, 1e-9);
    assert_string_equal(json_string_value(json_object_get(p, "grade")), "达标");
    assert_int_equal(json_object_size(json_object_get(p, "indicators")), 1);
    json_decref(r);
}

/* Expects the model in text to be refused with a message containing want. */
static void expect_bad_model(const char *text, const char *want)
{
    char *path = write_file("bad.lua", text);
    char copy[400];
    snprintf(copy, sizeof copy, "%s", path);
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    int rc = report_annual(db, 2025, copy, after_year, &r, &err);
    if (rc != -1 || !strstr(err.message, want))
        fail_msg("model %s: rc %d, message \"%s\", wanted \"%s\"", text, rc, err.message, want);
    assert_null(r);
    assert_non_null(strstr(err.file, "bad.lua"));
}

static void test_bad_models(void **state)
{
    (void)state;
    expect_bad_model("return 42\n", "应返回一个表");
    expect_bad_model("local M = ...\nM.evaluate = nil\nreturn M\n", "evaluate");
    expect_bad_model("local M = ...\nM.grades = {}\nreturn M\n", "grades");
    expect_bad_model("local M = ...\nM.grades[2].min = 95\nreturn M\n", "逐个减小");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 120, grade = '优秀',"
                     " indicators = {} } end\nreturn M\n", "score");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '甲',"
                     " indicators = {} } end\nreturn M\n", "不在模型的 grades 中");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = { {id = 'nope'} } } end\nreturn M\n", "未在模型的 indicators 中声明");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = {}, advice = { {text = '无依据'} } } end\nreturn M\n", "basis");
    expect_bad_model("local M = ...\nfunction M.evaluate() return { score = 50, grade = '合格',"
                     " indicators = { {id = 'catalog.complete', value = 2} } } end\nreturn M\n",
                     "value");
    expect_bad_model("local M = ...\nfunction M.evaluate() while true do end end\nreturn M\n", "指令预算");
    expect_bad_model("local M = ...\nfunction M.evaluate(d) return d.nothing.here end\nreturn M\n",
                     "nothing");
    expect_bad_model("local M = ...\nM.indicators[2].id = M.indicators[1].id\nreturn M\n", "重复");
    expect_bad_model("return {\n", "expected");
    expect_bad_model("local M = ...\nM.name = os.getenv('HOME')\nreturn M\n", "os");
    /* the error names the line of a runtime error in the model */
    char *path = write_file("bad.lua", "local M = ...\n\nfunction M.evaluate(d)\n  error('第四行出错')\nend\nreturn M\n");
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *r = NULL;
    assert_int_equal(report_annual(db, 2025, path, after_year, &r, &err), -1);
    assert_int_equal(err.line, 4);
    /* a missing model file */
    qloop_error_clear(&err);
    assert_int_equal(report_annual(db, 2025, "/nonexistent/model.lua", after_year, &r, &err), -1);
    assert_non_null(strstr(err.message, "无法读取评估模型文件"));
}

static void test_ties(void **state)
{
    (void)state;
    /* Every department scores 50: both share rank 1, listed by name. */
    char *path = write_file("flat.lua", "local M = ...\n"
                                        "function M.evaluate() return { score = 50, grade = '不合格',"
                                        " indicators = {}, advice = {} } end\nreturn M\n");
    json_t *r = annual(path, after_year);
    json_t *list = json_object_get(r, "departments");
    assert_int_equal(get_int(json_array_get(list, 0), "rank"), 1);
    assert_int_equal(get_int(json_array_get(list, 1), "rank"), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "市人力社保局");
    json_decref(r);
}

/* A department with no applicable indicator (here: one ticket opened late
 * in the year, not yet due) is 不参评: not scored, not ranked, not counted
 * in the average or the grades, listed after the ranked ones in every
 * format — never 0 and 不合格. */
static void test_not_rated(void **state)
{
    (void)state;
    execf("INSERT INTO tickets(id, dataset, rule, source, dept, state, policy, opened_at, opened_by)"
          " VALUES(900, 'civil', 'civil.x', 'run', '市民政局', 'feedback', 'ningbo',"
          " '2025-12-30T02:00:00+08:00', 'system')");
    execf("INSERT INTO ticket_history(ticket_id, at, actor, event, from_state, to_state, deadline_after)"
          " VALUES(900, '2025-12-30T02:00:00+08:00', 'system', 'open', NULL, 'discovered', NULL),"
          " (900, '2025-12-30T02:00:00+08:00', 'system', 'feedback', 'discovered', 'feedback',"
          " '2026-01-07T23:59:59+08:00')");
    json_t *r = annual(NULL, after_year);
    json_t *list = json_object_get(r, "departments");
    assert_int_equal(json_array_size(list), 3);
    json_t *c = json_array_get(list, 2);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "市民政局");
    assert_true(json_is_null(json_object_get(c, "score")));
    assert_true(json_is_null(json_object_get(c, "rank")));
    assert_true(json_is_false(json_object_get(c, "rated")));
    assert_string_equal(json_string_value(json_object_get(c, "grade")), "不参评");
    assert_true(json_is_true(json_object_get(json_array_get(list, 0), "rated")));
    json_t *adv = json_object_get(c, "advice");
    assert_int_equal(json_array_size(adv), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(adv, 0), "text")),
                           "不计分、不排名"));
    /* The others keep their ranks and the city its average of 2. */
    assert_int_equal(get_int(json_array_get(list, 1), "rank"), 2);
    json_t *city = json_object_get(r, "city");
    assert_int_equal(get_int(city, "departments"), 2);
    assert_int_equal(get_int(city, "not_rated"), 1);
    assert_float_equal(get_real(city, "average_score"), 58.7, 1e-9);
    assert_int_equal(get_int(city, "grades.不合格"), 1);

    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf html = {0}, md = {0}, csv = {0};
    assert_int_equal(report_render_html(r, &html, &err), 0);
    assert_int_equal(report_render_md(r, &md, &err), 0);
    assert_int_equal(report_render_csv(r, &csv, &err), 0);
    assert_non_null(strstr(md.ptr, "| — | 市民政局 | — | 不参评 | — |"));
    assert_non_null(strstr(md.ptr, "## 不参评 · 市民政局"));
    assert_non_null(strstr(md.ptr, "一条记录经一条规则校验一次为一条次"));
    assert_non_null(strstr(csv.ptr, "\r\n2025,,市民政局,,不参评,"));
    assert_non_null(strstr(html.ptr, "不参评：本期没有适用的评估指标，不计分、不排名"));
    assert_non_null(strstr(html.ptr, "数据质量按“条次”计"));
    assert_null(strstr(html.ptr, ">0. "));
    qloop_buf_free(&html);
    qloop_buf_free(&md);
    qloop_buf_free(&csv);
    json_decref(r);
    /* A model may leave any department unrated, but not half-rated. */
    char *path = write_file("half.lua", "local M = ...\n"
                                        "function M.evaluate() return { grade = '合格',"
                                        " indicators = {} } end\nreturn M\n");
    r = NULL;
    assert_int_equal(report_annual(db, 2025, path, after_year, &r, &err), -1);
    assert_non_null(strstr(err.message, "不参评"));
    execf("DELETE FROM ticket_history WHERE ticket_id = 900");
    execf("DELETE FROM tickets WHERE id = 900");
}

/* ---- publishing and the change from the previous year --------------------- */

static void test_publish_and_compare(void **state)
{
    (void)state;
    /* Publish a 2025 report, then make 2026's: it compares with 2025. */
    json_t *r = annual(NULL, after_year);
    struct qloop_error err;
    qloop_error_clear(&err);
    setenv("QLOOP_NOW", "2026-01-05T09:00:00+08:00", 1);
    assert_int_equal(report_publish(db, r, "局长", &err), 0);
    unsetenv("QLOOP_NOW");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT year, count(*) FROM report_published", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2025);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT actor FROM audit WHERE kind = 'report.publish'"
                                            " AND subject = 'report:2025'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "局长");
    sqlite3_finalize(st);

    json_t *next = NULL;
    assert_int_equal(report_annual(db, 2026, NULL, after_year, &next, &err), 0);
    json_t *prev = json_object_get(next, "previous");
    assert_int_equal(get_int(prev, "year"), 2025);
    assert_true(json_is_true(json_object_get(prev, "same_model")));
    /* 2026 (to 2026-06-01): 市公安局 has only r4 (5 of 5 failed,
     * normative) and the catalog (complete, with basis, not open); #8 is
     * discovered, not due: catalog.complete 10 × 1, quality.normative
     * 5 × 0, sharing.basis 10 × 1, sharing.open 5 × 0 = 20 of 30 -> 66.7;
     * change from 87.7 = -21.0; rank 1 both years. */
    json_t *p = dept_of(json_object_get(next, "departments"), "市公安局");
    assert_float_equal(get_real(p, "score"), 66.7, 1e-9);
    assert_float_equal(get_real(p, "previous.score"), 87.7, 1e-9);
    assert_float_equal(get_real(p, "change"), -21.0, 1e-9);
    assert_int_equal(get_int(p, "rank_change"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "previous"), "grade")),
                        "良好");
    json_decref(next);

    /* A later publication of 2025 is the one compared with. */
    json_t *copy = json_deep_copy(r);
    json_t *cp = dept_of(json_object_get(copy, "departments"), "市公安局");
    json_object_set_new(cp, "score", json_real(60.0));
    setenv("QLOOP_NOW", "2026-01-06T09:00:00+08:00", 1);
    assert_int_equal(report_publish(db, copy, NULL, &err), 0);
    unsetenv("QLOOP_NOW");
    assert_int_equal(report_annual(db, 2026, NULL, after_year, &next, &err), 0);
    p = dept_of(json_object_get(next, "departments"), "市公安局");
    assert_float_equal(get_real(p, "change"), 6.7, 1e-9);
    json_decref(next);
    json_decref(copy);
    json_decref(r);
}

/* ---- the scorecard ---------------------------------------------------------- */

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}


static void test_scorecard(void **state)
{
    (void)state;
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *card = NULL;
    assert_int_equal(report_scorecard(db, "市人力社保局", 2025, 4, NULL, after_year, &card, &err), 0);
    json_t *d = json_object_get(card, "department");
    assert_string_equal(json_string_value(json_object_get(card, "period")), "2025-04");
    /* April: #7's second episode (late) and #4, still overdue since
     * March (an unanswered ticket counts against every month it stays
     * overdue); r2 only. */
    assert_int_equal(get_int(d, "tickets.due"), 2);
    assert_int_equal(get_int(d, "tickets.late"), 1);
    assert_int_equal(get_int(d, "tickets.overdue_open"), 1);
    assert_int_equal(get_int(d, "quality.checked"), 50);
    assert_null(json_object_get(d, "months"));
    json_t *prev = json_object_get(d, "previous");
    assert_true(json_is_object(prev));
    assert_string_equal(json_string_value(json_object_get(prev, "period")), "2025-03");
    assert_true(json_is_number(json_object_get(d, "change")));
    struct qloop_buf html = {0}, md = {0};
    assert_int_equal(report_render_scorecard_html(card, &html, &err), 0);
    assert_int_equal(report_render_scorecard_md(card, &md, &err), 0);
    assert_non_null(strstr(html.ptr, "市人力社保局"));
    assert_non_null(strstr(html.ptr, "2025-04"));
    assert_non_null(strstr(html.ptr, "<svg"));
    assert_int_equal(count(html.ptr, "class=\"page"), 1);
    assert_non_null(strstr(md.ptr, "上月（2025-03）"));
    qloop_buf_free(&html);
    qloop_buf_free(&md);
    json_decref(card);

    card = NULL;
    assert_int_equal(report_scorecard(db, "市教育局", 2025, 4, NULL, after_year, &card, &err), -1);
    assert_non_null(strstr(err.message, "市公安局"));
    assert_null(card);
}

/* ---- renderers ------------------------------------------------------------- */

static void test_renderers(void **state)
{
    (void)state;
    json_t *r = annual(NULL, after_year);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf html = {0}, md = {0}, csv = {0}, js = {0};
    assert_int_equal(report_render_html(r, &html, &err), 0);
    assert_int_equal(report_render_md(r, &md, &err), 0);
    assert_int_equal(report_render_csv(r, &csv, &err), 0);
    assert_int_equal(report_render_json(r, &js, &err), 0);

    /* HTML: a summary page plus one page per department; 1 ranking + 1
     * city trend + per department 6 dimension charts and a trend. */
    assert_int_equal(count(html.ptr, "<section class=\"page"), 3);
    assert_int_equal(count(html.ptr, "<svg"), 2 + 2 * 7);
    assert_non_null(strstr(html.ptr, "@page{size:A4"));
    assert_non_null(strstr(html.ptr, "<details>"));
    assert_null(strstr(html.ptr, "http://"));
    assert_null(strstr(html.ptr, "https://"));
    assert_non_null(strstr(html.ptr, "87.7"));
    assert_non_null(strstr(html.ptr, "宁波市公共数据管理办法 第二十七条"));

    /* Markdown: the ranking table row */
    assert_non_null(strstr(md.ptr, "| 1 | 市公安局 | 87.7 | 良好 | — |"));
    assert_non_null(strstr(md.ptr, "| 2 | 市人力社保局 | 29.6 | 不合格 | — |"));

    /* CSV: BOM, header and one row per department */
    assert_memory_equal(csv.ptr, "\xEF\xBB\xBF", 3);
    assert_int_equal(count(csv.ptr, "\r\n"), 3);
    assert_non_null(strstr(csv.ptr, "\r\n2025,1,市公安局,87.7,良好,,,1,1,1,0.99,"));

    /* JSON parses back to the same document */
    json_error_t je;
    json_t *back = json_loads(js.ptr, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(back, r));
    json_decref(back);

    /* No record key or value anywhere (the store has them in findings and
     * ticket_items). */
    const struct qloop_buf *all[] = {&html, &md, &csv, &js};
    for (int i = 0; i < 4; i++) {
        assert_null(strstr(all[i]->ptr, SECRET_KEY));
        assert_null(strstr(all[i]->ptr, SECRET_VALUE));
    }
    qloop_buf_free(&html);
    qloop_buf_free(&md);
    qloop_buf_free(&csv);
    qloop_buf_free(&js);

    if (report_xlsx_available()) {
        char path[400];
        snprintf(path, sizeof path, "%s/r.xlsx", dir);
        assert_int_equal(report_render_xlsx(r, path, &err), 0);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char magic[2];
        assert_int_equal(fread(magic, 1, 2, f), 2);
        fclose(f);
        assert_memory_equal(magic, "PK", 2);
        assert_int_equal(report_render_xlsx(r, "/nonexistent/dir/r.xlsx", &err), -1);
        assert_non_null(strstr(err.message, "XLSX"));
    } else {
        assert_int_equal(report_render_xlsx(r, "/tmp/x.xlsx", &err), -1);
    }
    json_decref(r);
}

/* Everything but generated_at is the same byte for byte. */
static void test_reproducible(void **state)
{
    (void)state;
    json_t *a = annual(NULL, after_year), *b = annual(NULL, after_year + 3600);
    struct qloop_error err;
    qloop_error_clear(&err);
    struct qloop_buf ha = {0}, hb = {0}, ja = {0}, jb = {0};
    assert_int_equal(report_render_html(a, &ha, &err), 0);
    assert_int_equal(report_render_html(b, &hb, &err), 0);
    assert_string_not_equal(ha.ptr, hb.ptr);
    json_object_set(b, "generated_at", json_object_get(a, "generated_at"));
    qloop_buf_reset(&hb);
    assert_int_equal(report_render_html(b, &hb, &err), 0);
    assert_string_equal(ha.ptr, hb.ptr);
    assert_int_equal(report_render_json(a, &ja, &err), 0);
    assert_int_equal(report_render_json(b, &jb, &err), 0);
    assert_string_equal(ja.ptr, jb.ptr);
    qloop_buf_free(&ha);
    qloop_buf_free(&hb);
    qloop_buf_free(&ja);
    qloop_buf_free(&jb);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_model_override),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_not_rated),
        cmocka_unit_test(test_scorecard),
        cmocka_unit_test(test_renderers),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_publish_and_compare),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
