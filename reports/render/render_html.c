/*
 * render_html.c — the report as one self-contained HTML file: inline CSS and
 * inline SVG charts, no script or font from the network, Chinese text.
 *
 * Layout: a city page (summary figures, the ranking chart, the monthly
 * trend), then one page per department in rank order (score, grade, rank and
 * change; the indicator table; a chart per GB/T 36344 dimension; the monthly
 * trend; ticket handling; the advice with its basis), each closed by
 * drill-down tables in <details> for staff (datasets and catalog, rules,
 * tickets). The print stylesheet gives A4 pages, one per department, and
 * leaves the drill-down tables out. Every chart is drawn here, in C, so the
 * file shows the same in any browser and prints the same.
 *
 * One small inline script runs only when the page is opened with the
 * fragment #selfcheck: it checks that every <svg> drew something and writes
 * the verdict into <html data-selfcheck="ok N">, for the browser test.
 */
#include <string.h>

#include "catalog/catalog.h"
#include "report.h"
#include "loop/ticket.h"

#define h(b, s) report_put_html((b), (s))

static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\","
    "\"Microsoft YaHei\",\"WenQuanYi Micro Hei\",sans-serif;color:#1f2933;background:#eef1f5;"
    "font-size:14px;line-height:1.5}"
    ".page{background:#fff;max-width:210mm;margin:16px auto;padding:12mm;"
    "box-shadow:0 1px 4px rgba(0,0,0,.15)}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:19px;margin:0}"
    "h3{font-size:14px;margin:10px 0 4px;border-left:3px solid #1565c0;padding-left:6px}"
    ".meta{color:#52606d;font-size:12px;margin:0}"
    ".kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:8px;margin:10px 0}"
    ".kpi{border:1px solid #d9e2ec;border-radius:6px;padding:6px 10px}"
    ".kpi b{display:block;font-size:20px}.kpi span{font-size:12px;color:#52606d}"
    ".head{display:flex;justify-content:space-between;align-items:flex-end;"
    "border-bottom:2px solid #1f2933;padding-bottom:6px;margin-bottom:4px}"
    ".score{font-size:30px;font-weight:700;white-space:nowrap}"
    ".grade{display:inline-block;padding:0 8px;border-radius:4px;color:#fff;font-size:14px;"
    "vertical-align:middle;font-weight:400}"
    ".cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}"
    "table{border-collapse:collapse;width:100%;font-size:12px}"
    "th,td{border-bottom:1px solid #e4e7eb;padding:2px 4px;text-align:left;vertical-align:top}"
    "th{background:#f5f7fa}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "tr.weak td{background:#fff4e5}tr.na td{color:#9aa5b1}"
    ".dims{display:grid;grid-template-columns:repeat(3,1fr);gap:4px}"
    "figure{margin:0}figcaption{font-size:11px;text-align:center;line-height:1.3}"
    "svg{display:block;width:100%;height:auto}"
    ".tk{font-size:12px;margin:0}"
    "ol.advice{margin:4px 0;padding-left:20px}ol.advice li{margin-bottom:3px}"
    ".basis{color:#52606d;font-size:11px}"
    "details{margin-top:8px}summary{cursor:pointer;color:#1565c0}"
    ".legend{font-size:11px;color:#52606d}"
    "@page{size:A4;margin:10mm}"
    "@media print{body{background:#fff;font-size:10.5px}"
    ".page{margin:0;padding:0;box-shadow:none;max-width:none;break-after:page;"
    "page-break-after:always}"
    ".page:last-of-type{break-after:auto;page-break-after:auto}"
    "details{display:none}table{font-size:9.5px}h3{margin:6px 0 3px}"
    "ol.advice.dense{columns:2;column-gap:8mm;font-size:9px}}";

/* The check run with #selfcheck (see the file comment). */
static const char selfcheck[] =
    "<script>(function(){if(location.hash!=='#selfcheck')return;"
    "var s=document.querySelectorAll('svg'),bad=[];"
    "for(var i=0;i<s.length;i++){var e=s[i].querySelectorAll('rect,line,polyline,path,circle'),n=0;"
    "for(var j=0;j<e.length;j++){var r=e[j].getBBox();if(r.width>0||r.height>0)n++;}"
    "if(!n)bad.push(s[i].getAttribute('aria-label')||('#'+i));}"
    "document.documentElement.setAttribute('data-selfcheck',"
    "bad.length?'fail: '+bad.join(', '):'ok '+s.length);})();</script>";

/* ---- small pieces ---------------------------------------------------------- */

/* The colour of grade name: its place among the model's grades (best green,
 * worst red). */
static const char *grade_color(const json_t *report, const char *name)
{
    const json_t *grades = json_object_get(report, "grades");
    size_t n = json_array_size(grades), i;
    json_t *g;
    json_array_foreach(grades, i, g) {
        if (strcmp(report_str(g, "name", ""), name ? name : "") != 0)
            continue;
        if (i == 0)
            return "#2e7d32";
        if (i + 1 == n)
            return "#c62828";
        return i == 1 ? "#1565c0" : i == 2 ? "#ef8f00" : "#6b7785";
    }
    return "#6b7785";
}

/* Appends at most max code points of s (escaped), with "…" when cut. */
static void h_cut(struct qloop_buf *b, const char *s, int max)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    int n = 0;
    const unsigned char *q = p;
    while (*q && n < max) {
        q++;
        while ((*q & 0xC0) == 0x80)
            q++;
        n++;
    }
    struct qloop_buf part = {0};
    qloop_buf_append(&part, (const char *)p, (size_t)(q - p));
    h(b, qloop_buf_str(&part));
    qloop_buf_free(&part);
    if (*q)
        qloop_buf_printf(b, "…");
}

static void put_change(struct qloop_buf *b, const json_t *v)
{
    if (!json_is_number(v))
        return;
    double x = report_round(json_number_value(v), 1);
    qloop_buf_printf(b, "%s%.1f", x > 0 ? "↑" : x < 0 ? "↓" : "±", x < 0 ? -x : x);
}

static void put_time(struct qloop_buf *b, const json_t *v, int len)
{
    if (json_is_string(v))
        qloop_buf_printf(b, "%.*s", len, json_string_value(v));
    else
        qloop_buf_printf(b, "—");
}

/* A numeric cell. */
static void td_num(struct qloop_buf *b, const json_t *v, int decimals)
{
    qloop_buf_printf(b, "<td class=\"n\">");
    report_put_number(b, v, decimals);
    qloop_buf_printf(b, "</td>");
}

static void td_pct(struct qloop_buf *b, const json_t *v)
{
    qloop_buf_printf(b, "<td class=\"n\">");
    report_put_percent(b, v);
    qloop_buf_printf(b, "</td>");
}

/* ---- charts ---------------------------------------------------------------- */

/* The ranking: one bar per department, coloured by grade, with the grade
 * thresholds as dashed lines. */
static void ranking_chart(struct qloop_buf *b, const json_t *report)
{
    const json_t *depts = json_object_get(report, "departments");
    size_t n = json_array_size(depts);
    double x0 = 170, scale = 4.0, row = 24;
    double height = 30 + row * (double)(n ? n : 1);
    qloop_buf_printf(b, "<svg viewBox=\"0 0 700 %.0f\" role=\"img\" aria-label=\"部门得分排名\">",
                     height);
    qloop_buf_printf(b, "<line x1=\"%.0f\" y1=\"4\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#9aa5b1\"/>", x0,
                     x0, height - 20);
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(report, "grades"), i, g) {
        double min = report_real(g, "min", 0);
        if (min <= 0)
            continue;
        double x = x0 + min * scale;
        qloop_buf_printf(b, "<line x1=\"%.1f\" y1=\"4\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"%s\""
                            " stroke-dasharray=\"4 3\" stroke-width=\"1\"/>", x, x, height - 20,
                         grade_color(report, report_str(g, "name", "")));
        qloop_buf_printf(b, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\""
                            " fill=\"#52606d\">", x, height - 6);
        h(b, report_str(g, "name", ""));
        qloop_buf_printf(b, " %g</text>", min);
    }
    if (n == 0)
        qloop_buf_printf(b, "<text x=\"%.0f\" y=\"20\" font-size=\"13\" fill=\"#52606d\">"
                            "本期没有参评部门</text>", x0 + 10);
    json_t *d;
    json_array_foreach(depts, i, d) {
        double y = 8 + row * (double)i;
        double score = report_real(d, "score", 0);
        const char *grade = report_str(d, "grade", "");
        qloop_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"end\">",
                         x0 - 8, y + 13);
        report_put_rank(b, d);
        qloop_buf_printf(b, ". ");
        h_cut(b, report_str(d, "name", ""), 10);
        if (!report_rated(d)) {
            qloop_buf_printf(b, "</text><text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" fill=\"#6b7785\">"
                                REPORT_NOT_RATED "（本期没有适用的评估指标）</text>",
                             x0 + 6, y + 13);
            continue;
        }
        qloop_buf_printf(b, "</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"16\""
                            " fill=\"%s\"/>", x0, y, score > 0 ? score * scale : 0.5,
                         grade_color(report, grade));
        qloop_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", x0 + score * scale + 6,
                         y + 13);
        report_put_number(b, json_object_get(d, "score"), 1);
        qloop_buf_printf(b, " ");
        h(b, grade);
        qloop_buf_printf(b, " ");
        put_change(b, json_object_get(d, "change"));
        qloop_buf_printf(b, "</text>");
    }
    qloop_buf_printf(b, "</svg>");
}

/* The monthly trend of months (12 objects): quality pass rate (rate) and
 * tickets answered on time (tickets_rate), 0–100%. */
static void trend_chart(struct qloop_buf *b, const json_t *months, const char *label)
{
    const double x0 = 44, x1 = 548, y0 = 26, y1 = 136;
    size_t n = json_array_size(months);
    qloop_buf_printf(b, "<svg viewBox=\"0 0 560 166\" role=\"img\" aria-label=\"");
    h(b, label);
    qloop_buf_printf(b, "\">");
    for (int k = 0; k <= 4; k++) {
        double y = y1 - (y1 - y0) * k / 4.0;
        qloop_buf_printf(b, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>",
                         x0, y, x1, y, k == 0 ? "#9aa5b1" : "#e4e7eb");
        qloop_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\""
                            " fill=\"#52606d\">%d%%</text>", x0 - 4, y + 3, k * 25);
    }
    double step = (x1 - x0) / (double)(n ? n : 12);
    for (size_t m = 0; m < n; m++)
        qloop_buf_printf(b, "<text x=\"%.1f\" y=\"152\" font-size=\"10\" text-anchor=\"middle\""
                            " fill=\"#52606d\">%zu月</text>", x0 + step * ((double)m + 0.5), m + 1);
    static const struct {
        const char *key, *color, *name;
    } series[] = {{"rate", "#1565c0", "数据质量通过率"}, {"tickets_rate", "#ef6c00", "工单按期答复率"}};
    for (int s = 0; s < 2; s++) {
        bool any = false;
        struct qloop_buf pts = {0};
        for (size_t m = 0; m <= n; m++) {
            const json_t *v = m < n ? json_object_get(json_array_get(months, m), series[s].key) : NULL;
            if (json_is_number(v)) {
                double x = x0 + step * ((double)m + 0.5);
                double y = y1 - (y1 - y0) * json_number_value(v);
                qloop_buf_printf(&pts, "%s%.1f,%.1f", pts.len ? " " : "", x, y);
                qloop_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", x, y,
                                 series[s].color);
                any = true;
                continue;
            }
            /* A month without data ends the line; it resumes after. */
            if (pts.len && strchr(pts.ptr, ' '))
                qloop_buf_printf(b, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\""
                                    " stroke-width=\"2\"/>", pts.ptr, series[s].color);
            qloop_buf_reset(&pts);
        }
        qloop_buf_free(&pts);
        double lx = x0 + 4 + 170.0 * s;
        qloop_buf_printf(b, "<rect x=\"%.0f\" y=\"6\" width=\"12\" height=\"8\" fill=\"%s\"/>"
                            "<text x=\"%.0f\" y=\"14\" font-size=\"11\">%s%s</text>", lx,
                         series[s].color, lx + 16, series[s].name, any ? "" : "（无数据）");
    }
    qloop_buf_printf(b, "</svg>");
}

/* One GB/T 36344 dimension over the year: a column per month of its pass
 * rate, on an axis from lo (80%, or lower when the data are) to 100%. */
static void dimension_chart(struct qloop_buf *b, const json_t *d, int k)
{
    const char *dim = report_dimensions[k];
    const json_t *months = json_object_get(d, "months");
    const json_t *year = json_object_get(json_object_get(json_object_get(d, "quality"), "dimensions"),
                                         dim);
    double lo = 0.8;
    size_t n = json_array_size(months), m;
    for (m = 0; m < n; m++) {
        const json_t *v =
            json_object_get(json_object_get(json_object_get(json_array_get(months, m), "dimensions"),
                                            dim),
                            "rate");
        if (json_is_number(v) && json_number_value(v) < lo)
            lo = (double)(int)(json_number_value(v) * 10) / 10.0;
    }
    const double x0 = 30, x1 = 176, y0 = 8, y1 = 76;
    qloop_buf_printf(b, "<figure><svg viewBox=\"0 0 180 92\" role=\"img\" aria-label=\"%s月度通过率\">",
                     report_dimensions_zh[k]);
    qloop_buf_printf(b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#9aa5b1\"/>"
                        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#e4e7eb\"/>",
                     x0, y1, x1, y1, x0, y0, x1, y0);
    qloop_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" text-anchor=\"end\""
                        " fill=\"#52606d\">100%%</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"9\""
                        " text-anchor=\"end\" fill=\"#52606d\">%.0f%%</text>",
                     x0 - 2, y0 + 3, x0 - 2, y1 + 3, lo * 100);
    double step = (x1 - x0) / (double)(n ? n : 12);
    bool any = false;
    for (m = 0; m < n; m++) {
        const json_t *v =
            json_object_get(json_object_get(json_object_get(json_array_get(months, m), "dimensions"),
                                            dim),
                            "rate");
        if (!json_is_number(v))
            continue;
        any = true;
        double r = json_number_value(v);
        double top = y1 - (y1 - y0) * (r - lo) / (1.0 - lo);
        if (top > y1 - 1)
            top = y1 - 1; /* a month at the axis' floor still shows */
        qloop_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                         x0 + step * (double)m + 1.5, top, step - 3, y1 - top,
                         r >= 0.95 ? "#1565c0" : r >= 0.8 ? "#ef8f00" : "#c62828");
    }
    for (m = 0; m < n; m += 5)
        qloop_buf_printf(b, "<text x=\"%.1f\" y=\"88\" font-size=\"9\" text-anchor=\"middle\""
                            " fill=\"#52606d\">%zu月</text>", x0 + step * ((double)m + 0.5), m + 1);
    if (!any)
        qloop_buf_printf(b, "<text x=\"%.0f\" y=\"46\" font-size=\"11\" text-anchor=\"middle\""
                            " fill=\"#9aa5b1\">本期无此维度的校验</text>", (x0 + x1) / 2);
    qloop_buf_printf(b, "</svg><figcaption>%s ", report_dimensions_zh[k]);
    report_put_percent(b, json_object_get(year, "rate"));
    qloop_buf_printf(b, "<br><span class=\"basis\">%lld 条次</span></figcaption></figure>",
                     report_int(year, "checked", 0));
}

/* The six dimensions of one period as horizontal bars (the scorecard). */
static void dimension_bars(struct qloop_buf *b, const json_t *d)
{
    const json_t *dims = json_object_get(json_object_get(d, "quality"), "dimensions");
    qloop_buf_printf(b, "<svg viewBox=\"0 0 360 150\" role=\"img\" aria-label=\"各维度通过率\">");
    const double x0 = 70, w = 230;
    qloop_buf_printf(b, "<line x1=\"%.0f\" y1=\"4\" x2=\"%.0f\" y2=\"144\" stroke=\"#9aa5b1\"/>", x0,
                     x0);
    for (int k = 0; k < REPORT_NDIMS; k++) {
        const json_t *q = json_object_get(dims, report_dimensions[k]);
        const json_t *rate = json_object_get(q, "rate");
        double y = 6 + 23.0 * k;
        qloop_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>",
                         x0 - 6, y + 12, report_dimensions_zh[k]);
        if (json_is_number(rate)) {
            double r = json_number_value(rate);
            qloop_buf_printf(b, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>",
                             x0, y, r > 0 ? r * w : 0.5,
                             r >= 0.95 ? "#1565c0" : r >= 0.8 ? "#ef8f00" : "#c62828");
            qloop_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x0 + r * w + 4, y + 11);
            report_put_percent(b, rate);
            qloop_buf_printf(b, "</text>");
        } else {
            qloop_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" fill=\"#9aa5b1\">"
                                "无校验</text>", x0 + 4, y + 11);
        }
    }
    qloop_buf_printf(b, "</svg>");
}

/* ---- a department page ----------------------------------------------------- */

static void indicator_table(struct qloop_buf *b, const json_t *report, const json_t *d)
{
    qloop_buf_printf(b, "<table class=\"ind\"><thead><tr><th>类别</th><th>指标</th>"
                        "<th class=\"n\">分子/分母</th><th class=\"n\">比率</th>"
                        "<th class=\"n\">得分/权重</th></tr></thead><tbody>");
    const json_t *inds = json_object_get(d, "indicators");
    size_t i;
    json_t *decl;
    json_array_foreach(json_object_get(report, "indicators"), i, decl) {
        const json_t *r = json_object_get(inds, report_str(decl, "id", ""));
        if (!r)
            continue;
        bool weak = json_is_true(json_object_get(r, "weak"));
        bool na = !json_is_number(json_object_get(r, "value"));
        qloop_buf_printf(b, "<tr%s><td>", weak ? " class=\"weak\"" : na ? " class=\"na\"" : "");
        h(b, report_str(r, "group", ""));
        qloop_buf_printf(b, "</td><td>");
        h(b, report_str(r, "name", ""));
        if (weak)
            qloop_buf_printf(b, " ⚠");
        qloop_buf_printf(b, "</td><td class=\"n\">");
        report_put_number(b, json_object_get(r, "numerator"), 2);
        qloop_buf_printf(b, "/");
        report_put_number(b, json_object_get(r, "denominator"), 2);
        qloop_buf_printf(b, "</td>");
        td_pct(b, json_object_get(r, "value"));
        qloop_buf_printf(b, "<td class=\"n\">");
        report_put_number(b, json_object_get(r, "points"), 2);
        qloop_buf_printf(b, "/");
        report_put_number(b, json_object_get(r, "weight"), 2);
        qloop_buf_printf(b, "</td></tr>");
    }
    qloop_buf_printf(b, "</tbody></table><p class=\"meta\">⚠ 薄弱指标；“—” 本期不适用，不计入得分。</p>");
}

static void ticket_summary(struct qloop_buf *b, const json_t *t)
{
    qloop_buf_printf(b, "<p class=\"tk\">新开工单 <b>%lld</b> 张 · 应答复 <b>%lld</b> 次，按期 <b>%lld</b> 次（",
                     report_int(t, "opened", 0), report_int(t, "due", 0), report_int(t, "on_time", 0));
    report_put_percent(b, json_object_get(t, "on_time_rate"));
    qloop_buf_printf(b, "）· 逾期答复 <b>%lld</b> 次 · 逾期未答复 <b>%lld</b> 张 · 平均答复用时 <b>",
                     report_int(t, "late", 0), report_int(t, "overdue_open", 0));
    report_put_number(b, json_object_get(t, "avg_answer_days"), 1);
    qloop_buf_printf(b, "</b> 个工作日 · 延期申请 %lld 次、批准 %lld 次 · 完成整改答复 %lld 次，"
                        "复核未通过 %lld 次 · 整改共享 %lld 条记录，再次出错 %lld 条</p>",
                     report_int(t, "extension_requests", 0), report_int(t, "extensions", 0),
                     report_int(t, "rectified", 0), report_int(t, "recheck_failed", 0),
                     report_int(t, "fixed_items", 0), report_int(t, "reopened_items", 0));
}

static void advice_list(struct qloop_buf *b, const json_t *d)
{
    const json_t *advice = json_object_get(d, "advice");
    size_t n = json_array_size(advice), i;
    if (n == 0) {
        qloop_buf_printf(b, "<p class=\"tk\">各项指标均达到要求，请保持。</p>");
        return;
    }
    qloop_buf_printf(b, "<ol class=\"advice%s\">", n > 6 ? " dense" : "");
    json_t *a;
    json_array_foreach(advice, i, a) {
        qloop_buf_printf(b, "<li>");
        h(b, report_str(a, "text", ""));
        qloop_buf_printf(b, " <span class=\"basis\">（依据：");
        h(b, report_str(a, "basis", ""));
        qloop_buf_printf(b, "）</span></li>");
    }
    qloop_buf_printf(b, "</ol>");
}

/* The catalog state of one entry's basis: "已写明" / "未写明" / "—". */
static const char *basis_state(const json_t *e, const char *attr, const char *basis,
                               const char *needs1, const char *needs2)
{
    const char *v = report_str(e, attr, NULL);
    if (!v || (strcmp(v, needs1) != 0 && (!needs2 || strcmp(v, needs2) != 0)))
        return "—";
    return json_is_true(json_object_get(e, basis)) ? "已写明" : "未写明";
}

static void drill_down(struct qloop_buf *b, const json_t *d)
{
    const json_t *ds = json_object_get(d, "datasets");
    const json_t *cat = json_object_get(d, "catalog");
    const json_t *entries = json_object_get(cat, "entries");
    const json_t *unc = json_object_get(cat, "uncatalogued");
    size_t i;
    json_t *e;
    qloop_buf_printf(b, "<details><summary>数据集与资源目录（已校验 %zu 个，目录登记 %zu 个）</summary>",
                     json_array_size(ds), json_array_size(entries));
    qloop_buf_printf(b, "<table><thead><tr><th>数据集</th><th class=\"n\">最近行数</th>"
                        "<th class=\"n\">运行次数</th><th>更新周期</th></tr></thead><tbody>");
    json_array_foreach(ds, i, e) {
        qloop_buf_printf(b, "<tr><td>");
        h(b, report_str(e, "name", ""));
        qloop_buf_printf(b, "</td>");
        td_num(b, json_object_get(e, "rows"), 0);
        td_num(b, json_object_get(e, "runs"), 0);
        qloop_buf_printf(b, "<td>");
        h(b, catalog_code_zh("update_cycle", report_str(e, "update_cycle", "—")));
        qloop_buf_printf(b, "</td></tr>");
    }
    qloop_buf_printf(b, "</tbody></table>");
    if (json_is_true(json_object_get(cat, "imported"))) {
        qloop_buf_printf(b, "<table><thead><tr><th>目录数据集</th><th>业务名称</th><th>共享属性</th>"
                            "<th>共享依据</th><th>开放属性</th><th>开放理由</th><th>缺少的要素</th>"
                            "</tr></thead><tbody>");
        json_array_foreach(entries, i, e) {
            qloop_buf_printf(b, "<tr><td>");
            h(b, report_str(e, "dataset", ""));
            qloop_buf_printf(b, "</td><td>");
            h(b, report_str(e, "title", "—"));
            qloop_buf_printf(b, "</td><td>");
            h(b, catalog_code_zh("share", report_str(e, "share", "—")));
            qloop_buf_printf(b, "</td><td>%s</td><td>",
                             basis_state(e, "share", "share_basis", "conditional", "none"));
            h(b, catalog_code_zh("open", report_str(e, "open", "—")));
            qloop_buf_printf(b, "</td><td>%s</td><td>",
                             basis_state(e, "open", "open_basis", "forbidden", NULL));
            size_t j, shown = 0;
            json_t *m;
            json_array_foreach(json_object_get(e, "missing"), j, m) {
                const char *key = json_string_value(m);
                if (!key || strcmp(key, "share_basis") == 0 || strcmp(key, "open_basis") == 0 ||
                    strcmp(key, "key") == 0)
                    continue;
                qloop_buf_printf(b, "%s", shown++ ? "、" : "");
                h(b, catalog_element_zh(key));
            }
            qloop_buf_printf(b, "%s</td></tr>", shown ? "" : "无");
        }
        json_array_foreach(unc, i, e) {
            qloop_buf_printf(b, "<tr class=\"weak\"><td>");
            h(b, json_string_value(e));
            qloop_buf_printf(b, "</td><td colspan=\"6\">已汇聚但未编入资源目录</td></tr>");
        }
        qloop_buf_printf(b, "</tbody></table>");
    } else {
        qloop_buf_printf(b, "<p class=\"tk\">评估期内尚未导入资源目录（qloop catalog import）。</p>");
    }
    qloop_buf_printf(b, "</details>");

    const json_t *rules = json_object_get(d, "rules");
    qloop_buf_printf(b, "<details><summary>规则校验明细（%zu 条规则）</summary>", json_array_size(rules));
    qloop_buf_printf(b, "<table><thead><tr><th>数据集</th><th>规则</th><th>维度</th>"
                        "<th class=\"n\">校验条次</th><th class=\"n\">未通过</th><th class=\"n\">出错</th>"
                        "<th class=\"n\">通过率</th></tr></thead><tbody>");
    json_array_foreach(rules, i, e) {
        qloop_buf_printf(b, "<tr><td>");
        h(b, report_str(e, "dataset", ""));
        qloop_buf_printf(b, "</td><td>");
        h(b, report_str(e, "rule", ""));
        qloop_buf_printf(b, "</td><td>");
        h(b, report_dimension_zh(report_str(e, "dimension", "")));
        qloop_buf_printf(b, "</td>");
        td_num(b, json_object_get(e, "checked"), 0);
        td_num(b, json_object_get(e, "failed"), 0);
        td_num(b, json_object_get(e, "errors"), 0);
        long long c = report_int(e, "checked", 0), f = report_int(e, "failed", 0);
        json_t *rate = c > 0 ? json_real(report_round((double)(c - f) / (double)c, 4)) : json_null();
        td_pct(b, rate);
        json_decref(rate);
        qloop_buf_printf(b, "</tr>");
    }
    qloop_buf_printf(b, "</tbody></table></details>");

    const json_t *tl = json_object_get(d, "ticket_list");
    qloop_buf_printf(b, "<details><summary>工单明细（%zu 张）</summary>", json_array_size(tl));
    qloop_buf_printf(b, "<table><thead><tr><th class=\"n\">工单</th><th>数据集 / 规则</th><th>状态</th>"
                        "<th>接收</th><th>期限</th><th>答复</th><th class=\"n\">用时</th>"
                        "<th>按期</th><th class=\"n\">延期</th><th class=\"n\">复核未过</th>"
                        "<th class=\"n\">记录</th></tr></thead><tbody>");
    json_array_foreach(tl, i, e) {
        const json_t *ot = json_object_get(e, "on_time");
        qloop_buf_printf(b, "<tr%s><td class=\"n\">#%lld</td><td>",
                         json_is_false(ot) ? " class=\"weak\"" : "", report_int(e, "id", 0));
        h(b, report_str(e, "dataset", ""));
        qloop_buf_printf(b, "<br>");
        h(b, report_str(e, "rule", ""));
        qloop_buf_printf(b, "</td><td>");
        h(b, ticket_state_zh(report_str(e, "state", "")));
        qloop_buf_printf(b, "</td><td>");
        put_time(b, json_object_get(e, "received_at"), 10);
        qloop_buf_printf(b, "</td><td>");
        put_time(b, json_object_get(e, "deadline"), 10);
        qloop_buf_printf(b, "</td><td>");
        put_time(b, json_object_get(e, "answered_at"), 10);
        qloop_buf_printf(b, "</td>");
        td_num(b, json_object_get(e, "working_days"), 0);
        qloop_buf_printf(b, "<td>%s</td>", json_is_true(ot) ? "是" : json_is_false(ot) ? "否" : "—");
        td_num(b, json_object_get(e, "extensions"), 0);
        td_num(b, json_object_get(e, "recheck_failed"), 0);
        td_num(b, json_object_get(e, "items"), 0);
        qloop_buf_printf(b, "</tr>");
    }
    qloop_buf_printf(b, "</tbody></table></details>");
}

/* One department's page. prev_label: "上年" or "上月（YYYY-MM）". */
static void department_page(struct qloop_buf *b, const json_t *report, const json_t *d,
                            size_t index, size_t ndepts, const char *prev_label)
{
    const char *grade = report_str(d, "grade", "");
    qloop_buf_printf(b, "<section class=\"page dept\" id=\"d%zu\"><div class=\"head\"><div><h2>", index);
    h(b, report_str(d, "name", ""));
    if (report_rated(d))
        qloop_buf_printf(b, "</h2><p class=\"meta\">第 %lld 名 / 共 %zu 个部门 · ",
                         report_int(d, "rank", 0), ndepts);
    else
        qloop_buf_printf(b, "</h2><p class=\"meta\">" REPORT_NOT_RATED
                            "：本期没有适用的评估指标，不计分、不排名 · ");
    const json_t *prev = json_object_get(d, "previous");
    if (json_is_object(prev)) {
        h(b, prev_label);
        qloop_buf_printf(b, " ");
        report_put_number(b, json_object_get(prev, "score"), 1);
        qloop_buf_printf(b, " 分（");
        h(b, report_str(prev, "grade", ""));
        if (report_rated(prev))
            qloop_buf_printf(b, "，第 %lld 名", report_int(prev, "rank", 0));
        qloop_buf_printf(b, "），变化 ");
        put_change(b, json_object_get(d, "change"));
        qloop_buf_printf(b, " 分");
    } else {
        h(b, prev_label);
        qloop_buf_printf(b, "无可比数据");
    }
    qloop_buf_printf(b, "</p></div><div class=\"score\">");
    report_put_number(b, json_object_get(d, "score"), 1);
    qloop_buf_printf(b, " <span class=\"grade\" style=\"background:%s\">", grade_color(report, grade));
    h(b, grade);
    qloop_buf_printf(b, "</span></div></div><div class=\"cols\"><div><h3>指标得分</h3>");
    indicator_table(b, report, d);
    qloop_buf_printf(b, "<h3>问题处理</h3>");
    ticket_summary(b, json_object_get(d, "tickets"));
    qloop_buf_printf(b, "</div><div><h3>数据质量（GB/T 36344）</h3>");
    if (json_object_get(d, "months")) {
        qloop_buf_printf(b, "<div class=\"dims\">");
        for (int k = 0; k < REPORT_NDIMS; k++)
            dimension_chart(b, d, k);
        qloop_buf_printf(b, "</div><h3>月度趋势</h3>");
        struct qloop_buf label = {0};
        qloop_buf_printf(&label, "%s月度趋势", report_str(d, "name", ""));
        trend_chart(b, json_object_get(d, "months"), qloop_buf_str(&label));
        qloop_buf_free(&label);
    } else {
        dimension_bars(b, d);
    }
    qloop_buf_printf(b, "</div></div><h3>改进建议</h3>");
    advice_list(b, d);
    drill_down(b, d);
    qloop_buf_printf(b, "</section>");
}

/* ---- whole documents ---------------------------------------------------- */

static void document_head(struct qloop_buf *b, const json_t *report)
{
    qloop_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                        "<title>");
    h(b, report_str(report, "title", ""));
    qloop_buf_printf(b, "</title><style>%s</style></head><body>\n", css);
}

/* The line of period, model and generation time. */
static void meta_line(struct qloop_buf *b, const json_t *report, const json_t *period)
{
    qloop_buf_printf(b, "<p class=\"meta\">评估期 %s 至 %s", report_str(period, "from", ""),
                     report_str(period, "to", ""));
    if (!json_is_true(json_object_get(period, "complete")))
        qloop_buf_printf(b, "（未结束，数据截至 %.10s）", report_str(period, "as_of", ""));
    const json_t *model = json_object_get(report, "model");
    qloop_buf_printf(b, " · 评估模型：");
    h(b, report_str(model, "name", ""));
    qloop_buf_printf(b, "（%.12s）· 生成于 ", report_str(model, "hash", ""));
    h(b, report_str(report, "generated_at", ""));
    qloop_buf_printf(b, "</p>");
}

static void kpi(struct qloop_buf *b, const char *label, const char *value)
{
    qloop_buf_printf(b, "<div class=\"kpi\"><b>%s</b><span>%s</span></div>", value, label);
}

int report_render_html(const json_t *report, struct qloop_buf *out, struct qloop_error *err)
{
    (void)err;
    struct qloop_buf *b = out;
    document_head(b, report);
    qloop_buf_printf(b, "<section class=\"page summary\"><h1>");
    h(b, report_str(report, "title", ""));
    qloop_buf_printf(b, "</h1>");
    meta_line(b, report, json_object_get(report, "period"));
    const json_t *city = json_object_get(report, "city");
    const json_t *q = json_object_get(city, "quality"), *t = json_object_get(city, "tickets");
    struct qloop_buf v = {0};
    qloop_buf_printf(b, "<div class=\"kpis\">");
    qloop_buf_printf(&v, "%lld", report_int(city, "departments", 0));
    if (report_int(city, "not_rated", 0) > 0)
        qloop_buf_printf(&v, "（另 %lld 个" REPORT_NOT_RATED "）", report_int(city, "not_rated", 0));
    kpi(b, "参评部门", v.ptr);
    qloop_buf_reset(&v);
    report_put_number(&v, json_object_get(city, "average_score"), 1);
    kpi(b, "平均得分", v.ptr);
    qloop_buf_reset(&v);
    const char *key;
    json_t *gv;
    size_t i = 0;
    json_object_foreach(json_object_get(city, "grades"), key, gv) {
        qloop_buf_printf(&v, "%s%lld", i++ ? "/" : "", (long long)json_integer_value(gv));
    }
    struct qloop_buf gl = {0};
    i = 0;
    json_object_foreach(json_object_get(city, "grades"), key, gv) {
        qloop_buf_printf(&gl, "%s", i++ ? "/" : "");
        h(&gl, key);
    }
    kpi(b, qloop_buf_str(&gl), qloop_buf_str(&v));
    qloop_buf_free(&gl);
    qloop_buf_reset(&v);
    report_put_percent(&v, json_object_get(q, "rate"));
    kpi(b, "数据质量通过率", v.ptr);
    qloop_buf_reset(&v);
    report_put_percent(&v, json_object_get(t, "on_time_rate"));
    kpi(b, "工单按期答复率", v.ptr);
    qloop_buf_reset(&v);
    qloop_buf_printf(&v, "%lld", report_int(t, "overdue_open", 0));
    kpi(b, "逾期未答复工单", v.ptr);
    qloop_buf_free(&v);
    qloop_buf_printf(b, "</div><h3>部门得分排名</h3>");
    ranking_chart(b, report);
    const json_t *prev = json_object_get(report, "previous");
    qloop_buf_printf(b, "<p class=\"meta\">");
    if (json_is_object(prev)) {
        qloop_buf_printf(b, "↑↓ 为较 %lld 年度已发布报告（%.10s 发布）的得分变化。", report_int(prev, "year", 0),
                         report_str(prev, "published_at", ""));
        if (!json_is_true(json_object_get(prev, "same_model")))
            qloop_buf_printf(b, "两年所用评估模型不同，变化仅供参考。");
    } else {
        qloop_buf_printf(b, "上一年度没有已发布的报告，本报告不作年度比较。");
    }
    qloop_buf_printf(b, "</p>");
    if (json_object_get(city, "months")) {
        qloop_buf_printf(b, "<h3>全市月度趋势</h3>");
        trend_chart(b, json_object_get(city, "months"), "全市月度趋势");
    }
    qloop_buf_printf(b, "<p class=\"legend\">依据：温州市公共数据共享开放管理暂行办法 第四十条（年度评估并公布，提出改进建议）；"
                        "宁波市公共数据管理办法 第三十四条、第三十五条（纳入年度绩效考核）。"
                        "本报告只使用汇总数据，不含任何记录的键值或内容。"
                        "数据质量按“条次”计：一条记录经一条规则校验一次为一条次（同一条记录经 5 条规则校验计 5 条次）。"
                        "本期没有适用评估指标的部门" REPORT_NOT_RATED "：不计分、不排名。</p>");
    const json_t *depts = json_object_get(report, "departments");
    qloop_buf_printf(b, "<details><summary>排名表</summary><table><thead><tr><th class=\"n\">排名</th>"
                        "<th>部门</th><th class=\"n\">得分</th><th>等级</th><th class=\"n\">上年得分</th>"
                        "<th class=\"n\">变化</th></tr></thead><tbody>");
    json_t *d;
    json_array_foreach(depts, i, d) {
        qloop_buf_printf(b, "<tr><td class=\"n\">");
        report_put_rank(b, d);
        qloop_buf_printf(b, "</td><td><a href=\"#d%zu\">", i + 1);
        h(b, report_str(d, "name", ""));
        qloop_buf_printf(b, "</a></td>");
        td_num(b, json_object_get(d, "score"), 1);
        qloop_buf_printf(b, "<td>");
        h(b, report_str(d, "grade", ""));
        qloop_buf_printf(b, "</td>");
        td_num(b, json_object_get(json_object_get(d, "previous"), "score"), 1);
        qloop_buf_printf(b, "<td class=\"n\">");
        put_change(b, json_object_get(d, "change"));
        qloop_buf_printf(b, "</td></tr>");
    }
    qloop_buf_printf(b, "</tbody></table></details></section>\n");
    json_array_foreach(depts, i, d) {
        department_page(b, report, d, i + 1, json_array_size(depts), "上年");
        qloop_buf_putc(b, '\n');
    }
    qloop_buf_printf(b, "%s\n</body></html>\n", selfcheck);
    return 0;
}

int report_render_scorecard_html(const json_t *card, struct qloop_buf *out,
                                 struct qloop_error *err)
{
    (void)err;
    struct qloop_buf *b = out;
    document_head(b, card);
    /* The scorecard is one page: the title block sits atop the department. */
    struct qloop_buf page = {0};
    const json_t *city = json_object_get(card, "city");
    struct qloop_buf prev = {0};
    qloop_buf_printf(&prev, "上月（%s）", report_str(card, "previous_period", ""));
    department_page(&page, card, json_object_get(card, "department"), 1,
                    (size_t)report_int(city, "departments", 0), qloop_buf_str(&prev));
    qloop_buf_free(&prev);
    const char *s = qloop_buf_str(&page);
    const char *open_end = strchr(s, '>') + 1;
    qloop_buf_append(b, s, (size_t)(open_end - s));
    qloop_buf_printf(b, "<h1>");
    h(b, report_str(card, "title", ""));
    qloop_buf_printf(b, "</h1>");
    meta_line(b, card, json_object_get(card, "range"));
    qloop_buf_printf(b, "<p class=\"meta\">本月参评部门 %lld 个，平均得分 ", report_int(city, "departments", 0));
    report_put_number(b, json_object_get(city, "average_score"), 1);
    qloop_buf_printf(b, "</p>");
    qloop_buf_printf(b, "%s\n%s\n</body></html>\n", open_end, selfcheck);
    qloop_buf_free(&page);
    return 0;
}
