/*
 * page_tickets.c — the portal's ticket pages: my tickets (overdue first,
 * each with its deadline and the working days left), one ticket (its facts,
 * the forms its user may use, its records and its history), the changes
 * those forms post, and the approver's queue of extension requests.
 *
 * What a page lists is what the engine lists for its user (ticket_list_json
 * with the user as actor: the one authorisation function decides); a form
 * is offered when ticket_allowed says the user may use it, and the engine
 * decides again when it is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "checks/calendar.h"
#include "html.h"
#include "report.h"
#include "web_pages.h"

/* ---- deadlines ---- */

void page_deadline(struct qloop_buf *b, const json_t *t)
{
    const char *dl = report_str(t, "deadline", "");
    int64_t d;
    if (!*dl || !qloop_parse_datetime(dl, &d)) {
        html_f(b, "<span class=\"muted\">—</span>");
        return;
    }
    html_f(b, "<time datetime=\"%s\">", dl);
    html_time(b, dl);
    html_f(b, "</time>");
    const char *state = report_str(t, "state", "");
    if (strcmp(state, "feedback") != 0)
        return;
    int64_t now = qloop_now();
    int64_t today = policy_day_of(now), day = policy_day_of(d);
    if (json_is_true(json_object_get(t, "overdue"))) {
        int late = calendar_working_days_between(day, today);
        if (late > 0)
            html_f(b, " <span class=\"late\">已超期 %d 个工作日</span>", late);
        else
            html_f(b, " <span class=\"late\">已超期</span>");
    } else {
        int left = calendar_working_days_between(today, day);
        if (left == 0)
            html_f(b, " <span class=\"due\">今日到期</span>");
        else
            html_f(b, " <span class=\"%r\">剩余 %d 个工作日</span>", left <= 1 ? "due" : "left", left);
    }
}

/* ---- my tickets ---- */

/* Overdue first, then by deadline (none last), then by number. */
static int by_urgency(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int ox = json_is_true(json_object_get(x, "overdue")), oy = json_is_true(json_object_get(y, "overdue"));
    if (ox != oy)
        return oy - ox;
    const char *dx = report_str(x, "deadline", ""), *dy = report_str(y, "deadline", "");
    if (!*dx != !*dy)
        return *dx ? -1 : 1;
    int c = strcmp(dx, dy);
    if (c)
        return c;
    long long ix = report_int(x, "id", 0), iy = report_int(y, "id", 0);
    return ix < iy ? -1 : ix > iy;
}

static bool is_closed(const char *state)
{
    return strcmp(state, "shared") == 0 || strcmp(state, "confirmed") == 0;
}

/* The table of tickets list (sorted), with a caption. */
void page_ticket_table(struct web_req *r, json_t **list, size_t n, const char *caption)
{
    struct qloop_buf *b = &r->out;
    if (n == 0) {
        html_f(b, "<p class=\"muted\">没有工单。</p>");
        return;
    }
    html_f(b, "<table class=\"tickets\"><caption>%s</caption><thead><tr><th>工单</th><th>数据集 / 规则</th>"
              "<th>数源部门</th><th>状态</th><th class=\"n\">问题记录</th><th>答复期限</th></tr></thead><tbody>",
           caption);
    for (size_t i = 0; i < n; i++) {
        json_t *t = list[i];
        long long id = report_int(t, "id", 0);
        bool overdue = json_is_true(json_object_get(t, "overdue"));
        html_f(b, "<tr%r><td><a href=\"/tickets/%lld\">#%lld</a>%r%r</td><td>%s<br><small>%s</small></td>"
                  "<td>%s</td><td>%s</td><td class=\"n\">%lld</td><td>",
               overdue ? " class=\"overdue\"" : "", id, id,
               json_is_true(json_object_get(t, "urgent")) ? " <span class=\"tag\">紧急</span>" : "",
               json_is_object(json_object_get(t, "extension_request"))
                   ? " <span class=\"tag\">延期待批</span>"
                   : "",
               report_str(t, "dataset", ""), report_str(t, "rule", ""), report_str(t, "dept", ""),
               report_str(t, "state_zh", ""), report_int(t, "items", 0));
        page_deadline(b, t);
        html_f(b, "</td></tr>");
    }
    html_f(b, "</tbody></table>");
}

int page_list(struct web_req *r, const struct ticket_filter *f, json_t **out)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = ticket_list_json(r->db, f, out, &err);
    if (rc != 0)
        web_reply_failure(r, rc, &err);
    return rc;
}

void page_tickets(struct web_req *r, int64_t id, const char *tail)
{
    const char *state = ticket_state_parse(web_query(r, "state"));
    bool overdue = false, closed = false;
    web_bool_param(web_query(r, "overdue"), &overdue);
    web_bool_param(web_query(r, "closed"), &closed);
    struct ticket_filter f = {state, NULL, overdue, r->user.login};
    json_t *all;
    if (page_list(r, &f, &all) != 0)
        return;
    size_t n = 0, total = json_array_size(all), late = 0;
    json_t **rows = qloop_xcalloc(total + 1, sizeof *rows);
    for (size_t i = 0; i < total; i++) {
        json_t *t = json_array_get(all, i);
        if (!closed && !state && is_closed(report_str(t, "state", "")))
            continue;
        late += json_is_true(json_object_get(t, "overdue"));
        rows[n++] = t;
    }
    qsort(rows, n, sizeof *rows, by_urgency);
    html_begin(r, "我的工单");
    struct qloop_buf *b = &r->out;
    html_f(b, "<h1>我的工单</h1><p class=\"summary\">共 %zu 张%r", n, closed || state ? "" : "未关闭的工单");
    if (late)
        html_f(b, "，其中 <strong class=\"late\">%zu 张已超期</strong>", late);
    html_f(b, "。已超期的排在最前；期限按国务院办公厅节假日安排计算工作日。</p>");
    html_f(b, "<form class=\"filter\" method=\"get\" action=\"/tickets\"><label>状态 <select name=\"state\">"
              "<option value=\"\">全部</option>");
    static const char *const states[] = {"discovered", "feedback",  "corrected",
                                         "shared",     "confirmed", "negotiated"};
    for (size_t i = 0; i < 6; i++)
        html_f(b, "<option value=\"%s\"%r>%s</option>", states[i],
               state && strcmp(state, states[i]) == 0 ? " selected" : "", ticket_state_zh(states[i]));
    html_f(b, "</select></label> <label><input type=\"checkbox\" name=\"overdue\" value=\"1\"%r> 只看已超期</label>"
              " <label><input type=\"checkbox\" name=\"closed\" value=\"1\"%r> 含已关闭</label>"
              " <button type=\"submit\">筛选</button></form>",
           overdue ? " checked" : "", closed ? " checked" : "");
    page_ticket_table(r, rows, n, "工单（已超期在前）");
    html_end(r);
    free(rows);
    json_decref(all);
}

void page_root(struct web_req *r, int64_t id, const char *tail)
{
    if (r->via == WEB_VIA_NONE)
        web_redirect(r, "/signin");
    else if (r->user.role == IDENT_LEADER)
        web_redirect(r, "/assessment");
    else if (r->user.role == IDENT_APPROVER)
        web_redirect(r, "/queue");
    else
        web_redirect(r, "/tickets");
}

/* ---- the approver's queue ---- */

void page_queue(struct web_req *r, int64_t id, const char *tail)
{
    struct ticket_filter f = {"feedback", NULL, false, r->user.login};
    json_t *all;
    if (page_list(r, &f, &all) != 0)
        return;
    html_begin(r, "延期审批");
    struct qloop_buf *b = &r->out;
    html_f(b, "<h1>延期审批</h1>");
    const char *done = web_query(r, "done");
    if (done && strcmp(done, "approve") == 0)
        html_notice(r, "ok", "已批准延期。");
    else if (done && strcmp(done, "reject") == 0)
        html_notice(r, "ok", "已驳回延期申请。");
    size_t shown = 0, i;
    json_t *t;
    json_array_foreach(all, i, t) {
        json_t *e = json_object_get(t, "extension_request");
        long long tid = report_int(t, "id", 0);
        struct qloop_error err;
        qloop_error_clear(&err);
        if (!json_is_object(e) || ticket_allowed(r->db, tid, r->user.login, IDENT_APPROVE, NULL, &err) != 1)
            continue;
        if (shown++ == 0)
            html_f(b, "<table class=\"queue\"><thead><tr><th>工单</th><th>数源部门</th><th>当前期限</th>"
                      "<th>申请延至</th><th>理由</th><th>申请人</th><th class=\"noprint\">审批</th></tr></thead><tbody>");
        html_f(b, "<tr><td><a href=\"/tickets/%lld\">#%lld</a><br><small>%s</small></td><td>%s</td><td>", tid,
               tid, report_str(t, "dataset", ""), report_str(t, "dept", ""));
        page_deadline(b, t);
        html_f(b, "</td><td>");
        html_time(b, report_str(e, "until", ""));
        html_f(b, "</td><td>%s</td><td>%s</td><td class=\"noprint\">", report_str(e, "reason", ""),
               report_str(e, "actor", ""));
        html_f(b, "<form method=\"post\" action=\"/tickets/%lld/approve\">", tid);
        html_csrf(r);
        html_f(b, "<input type=\"hidden\" name=\"back\" value=\"queue\"><button type=\"submit\">批准</button></form>"
                  "<form method=\"post\" action=\"/tickets/%lld/reject\">", tid);
        html_csrf(r);
        html_f(b, "<input type=\"hidden\" name=\"back\" value=\"queue\"><input name=\"reason\" required "
                  "placeholder=\"驳回理由\" aria-label=\"驳回理由\"><button type=\"submit\" class=\"secondary\">驳回</button>"
                  "</form></td></tr>");
    }
    if (shown)
        html_f(b, "</tbody></table>");
    else
        html_f(b, "<p class=\"muted\">没有待您审批的延期申请。</p>");
    html_end(r);
    json_decref(all);
}

/* ---- the steward's overview ---- */

struct dept_row {
    const char *name;
    long open, discovered, feedback, overdue, corrected, negotiated, pending;
};

void page_overview(struct web_req *r, int64_t id, const char *tail)
{
    struct ticket_filter f = {NULL, NULL, false, r->user.login};
    json_t *all;
    if (page_list(r, &f, &all) != 0)
        return;
    size_t n = json_array_size(all), nd = 0, i;
    struct dept_row *rows = qloop_xcalloc(n + 1, sizeof *rows);
    json_t **late = qloop_xcalloc(n + 1, sizeof *late), **waiting = qloop_xcalloc(n + 1, sizeof *waiting);
    size_t nlate = 0, nwait = 0;
    json_t *t;
    json_array_foreach(all, i, t) {
        const char *state = report_str(t, "state", ""), *dept = report_str(t, "dept", "");
        if (is_closed(state))
            continue;
        size_t k = 0;
        while (k < nd && strcmp(rows[k].name, dept) != 0)
            k++;
        if (k == nd)
            rows[nd++].name = dept;
        struct dept_row *d = &rows[k];
        d->open++;
        d->discovered += strcmp(state, "discovered") == 0;
        d->feedback += strcmp(state, "feedback") == 0;
        d->corrected += strcmp(state, "corrected") == 0;
        d->negotiated += strcmp(state, "negotiated") == 0;
        d->pending += json_is_object(json_object_get(t, "extension_request"));
        if (json_is_true(json_object_get(t, "overdue"))) {
            d->overdue++;
            late[nlate++] = t;
        }
        if (strcmp(state, "discovered") == 0)
            waiting[nwait++] = t;
    }
    html_begin(r, "全局概览");
    struct qloop_buf *b = &r->out;
    html_f(b, "<h1>全局概览</h1><p class=\"summary\">各数源部门未关闭的工单：已超期 %zu 张，待交办（发现）%zu 张。</p>",
           nlate, nwait);
    html_f(b, "<table class=\"overview\"><caption>按部门</caption><thead><tr><th>数源部门</th><th class=\"n\">未关闭</th>"
              "<th class=\"n\">待交办</th><th class=\"n\">反馈中</th><th class=\"n\">已超期</th>"
              "<th class=\"n\">修正待复核</th><th class=\"n\">沟通解决</th><th class=\"n\">延期待批</th></tr></thead><tbody>");
    for (size_t k = 0; k < nd; k++)
        html_f(b, "<tr%r><td>%s</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
                  "<td class=\"n\">%ld</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td></tr>",
               rows[k].overdue ? " class=\"overdue\"" : "", rows[k].name, rows[k].open, rows[k].discovered,
               rows[k].feedback, rows[k].overdue, rows[k].corrected, rows[k].negotiated, rows[k].pending);
    if (nd == 0)
        html_f(b, "<tr><td colspan=\"8\" class=\"muted\">没有未关闭的工单。</td></tr>");
    html_f(b, "</tbody></table>");
    qsort(late, nlate, sizeof *late, by_urgency);
    qsort(waiting, nwait, sizeof *waiting, by_urgency);
    html_f(b, "<h2>已超期</h2>");
    page_ticket_table(r, late, nlate, "已超期的工单");
    html_f(b, "<h2>待交办（发现，尚未交数源部门）</h2>");
    page_ticket_table(r, waiting, nwait, "待交办的工单");
    html_end(r);
    free(rows);
    free(late);
    free(waiting);
    json_decref(all);
}
