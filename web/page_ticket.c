/*
 * page_ticket.c — one ticket in the portal: its facts and deadline, the
 * forms its user may use (hand over, answer, ask for more time, decide on
 * the request), its problem records (200 a page, with CSV and XLSX
 * downloads) and its full history; and the changes those forms post, which
 * come back to the page (303) with a notice, or show the refusal with the
 * engine's reason and its HTTP status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "html.h"
#include "report.h"
#include "web_pages.h"

enum { RECORDS_PER_PAGE = 200 };

/* A row of the facts table; value escaped. */
static void fact(struct qloop_buf *b, const char *label, const char *value)
{
    html_f(b, "<tr><th>%s</th><td>%s</td></tr>", label, value && *value ? value : "—");
}

static void fact_time(struct qloop_buf *b, const char *label, const char *iso, const char *by)
{
    html_f(b, "<tr><th>%s</th><td>", label);
    html_time(b, iso);
    if (by && *by)
        html_f(b, "（%s）", by);
    html_f(b, "</td></tr>");
}

/* Whether r's user may do action on ticket id (the one authorisation
 * function, through the engine). */
static bool may(struct web_req *r, int64_t id, enum ident_action action)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    return ticket_allowed(r->db, id, r->user.login, action, NULL, &err) == 1;
}

/* The forms r's user may use on t in its state. */
static void forms(struct web_req *r, int64_t id, const json_t *t)
{
    struct qloop_buf *b = &r->out;
    const char *state = report_str(t, "state", "");
    const json_t *ext = json_object_get(t, "extension_request");
    bool pending = json_is_object(ext);
    bool any = false;
    if ((strcmp(state, "discovered") == 0 || strcmp(state, "negotiated") == 0) && may(r, id, IDENT_FEEDBACK)) {
        any = true;
        html_f(b, "<section class=\"form\"><h2>交数源部门（发现 → 反馈）</h2>"
                  "<form method=\"post\" action=\"/tickets/%lld/feedback\">", (long long)id);
        html_csrf(r);
        html_f(b, "<label><input type=\"checkbox\" name=\"urgent\" value=\"1\"> 紧急工单，自定答复期限</label> "
                  "<label>期限 <input type=\"datetime-local\" name=\"deadline\"></label> "
                  "<button type=\"submit\">交数源部门</button></form></section>");
    }
    if (strcmp(state, "feedback") == 0 && may(r, id, IDENT_RESOLVE)) {
        any = true;
        html_f(b, "<section class=\"form\"><h2>答复</h2><form method=\"post\" action=\"/tickets/%lld/resolve\">",
               (long long)id);
        html_csrf(r);
        html_f(b, "<fieldset><legend>处理结果</legend>"
                  "<label><input type=\"radio\" name=\"as\" value=\"rectified\" required> 完成整改（下次运行复核）</label>"
                  "<label><input type=\"radio\" name=\"as\" value=\"confirmed\"> 确认无误（数据本来正确）</label>"
                  "<label><input type=\"radio\" name=\"as\" value=\"negotiated\"> 沟通解决（暂不能整改，已与反馈方协商）</label>"
                  "</fieldset><label>说明 <textarea name=\"note\" rows=\"3\" maxlength=\"2000\"></textarea></label>"
                  "<button type=\"submit\">提交答复</button></form></section>");
    }
    if (strcmp(state, "feedback") == 0 && !pending && may(r, id, IDENT_EXTEND)) {
        any = true;
        html_f(b, "<section class=\"form\"><h2>申请延期</h2><form method=\"post\" action=\"/tickets/%lld/extend\">",
               (long long)id);
        html_csrf(r);
        html_f(b, "<label>延至 <input type=\"date\" name=\"until\" required></label> "
                  "<label>理由 <input name=\"reason\" required maxlength=\"1000\"></label> "
                  "<button type=\"submit\">提交申请</button></form></section>");
    }
    if (pending && may(r, id, IDENT_APPROVE)) {
        any = true;
        html_f(b, "<section class=\"form\"><h2>审批延期申请</h2><p>%s 申请延至 ", report_str(ext, "actor", ""));
        html_time(b, report_str(ext, "until", ""));
        html_f(b, "，理由：%s</p><form method=\"post\" action=\"/tickets/%lld/approve\">",
               report_str(ext, "reason", ""), (long long)id);
        html_csrf(r);
        html_f(b, "<button type=\"submit\">批准延期</button></form>"
                  "<form method=\"post\" action=\"/tickets/%lld/reject\">", (long long)id);
        html_csrf(r);
        html_f(b, "<label>驳回理由 <input name=\"reason\" required maxlength=\"1000\"></label> "
                  "<button type=\"submit\" class=\"secondary\">驳回</button></form></section>");
    }
    if (!any)
        html_f(b, "<p class=\"muted noprint\">此工单当前没有您可以进行的操作。</p>");
}

const char *web_item_state_zh(const char *s)
{
    return strcmp(s, "open") == 0      ? "未整改"
           : strcmp(s, "missing") == 0 ? "数据中缺失"
           : strcmp(s, "fixed") == 0   ? "已整改"
           : strcmp(s, "closed") == 0  ? "已关闭"
                                       : s;
}

/* The records of t, page `page` (1-based). */
static void records(struct web_req *r, int64_t id, const json_t *t, long page)
{
    struct qloop_buf *b = &r->out;
    const json_t *recs = json_object_get(t, "records");
    size_t n = json_array_size(recs);
    long pages = (long)((n + RECORDS_PER_PAGE - 1) / RECORDS_PER_PAGE);
    if (page < 1 || page > pages)
        page = 1;
    html_f(b, "<h2 id=\"records\">问题记录（未关闭 %lld 条 / 共 %zu 条）</h2>", report_int(t, "items", 0), n);
    bool revealed = report_int(t, "revealed", 0) > 0;
    html_f(b, "<p>%r</p><p class=\"noprint\">下载：<a href=\"/tickets/%lld/records.csv\">CSV</a> · "
              "<a href=\"/tickets/%lld/records.xlsx\">XLSX</a></p>",
           revealed ? "本部门的数据，显示原文；每次查看和下载都记入审计链，请注意保密。"
                    : "敏感字段按数据集的声明脱敏显示。",
           (long long)id, (long long)id);
    if (n == 0)
        return;
    html_f(b, "<table class=\"records\"><thead><tr><th class=\"n\">行</th><th>主键</th><th>字段</th><th>值</th>"
              "<th>问题</th><th>状态</th><th>登记</th></tr></thead><tbody>");
    size_t from = (size_t)(page - 1) * RECORDS_PER_PAGE;
    for (size_t i = from; i < n && i < from + RECORDS_PER_PAGE; i++) {
        const json_t *rec = json_array_get(recs, i);
        const json_t *row = json_object_get(rec, "row_no");
        html_f(b, "<tr><td class=\"n\">");
        if (json_is_integer(row))
            html_f(b, "%lld", (long long)json_integer_value(row));
        html_f(b, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>",
               report_str(rec, "record_key", ""), report_str(rec, "field", ""), report_str(rec, "value", ""),
               report_str(rec, "message", ""), web_item_state_zh(report_str(rec, "state", "")));
        html_time(b, report_str(rec, "added_at", ""));
        html_f(b, "</td></tr>");
    }
    html_f(b, "</tbody></table>");
    if (pages > 1) {
        html_f(b, "<nav class=\"pages noprint\" aria-label=\"记录分页\">第 %ld / %ld 页", page, pages);
        if (page > 1)
            html_f(b, " <a href=\"/tickets/%lld?page=%ld#records\">上一页</a>", (long long)id, page - 1);
        if (page < pages)
            html_f(b, " <a href=\"/tickets/%lld?page=%ld#records\">下一页</a>", (long long)id, page + 1);
        html_f(b, "</nav>");
    }
}

/* The event of a history row in Chinese. */
static const char *event_zh(const char *ev, const char *from, const char *to)
{
    static const struct {
        const char *ev, *zh;
    } names[] = {
        {"extend_request", "申请延期"}, {"extend_approve", "批准延期"}, {"extend_reject", "驳回延期"},
        {"feedback", "交数源部门"},     {"rectified", "答复：完成整改"}, {"confirmed", "答复：确认无误"},
        {"negotiated", "答复：沟通解决"}, {"recheck_pass", "复核通过"},   {"recheck_fail", "复核未通过"},
        {"open", "开立"}, {"reopen", "重新开立"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(ev, names[i].ev) == 0)
            return names[i].zh;
    (void)from, (void)to;
    return ev;
}

static void history(struct web_req *r, const json_t *t)
{
    struct qloop_buf *b = &r->out;
    const json_t *hist = json_object_get(t, "history");
    html_f(b, "<h2>历史</h2><table class=\"history\"><thead><tr><th>时间</th><th>操作人</th><th>事件</th>"
              "<th>状态</th><th>说明</th><th>答复期限</th></tr></thead><tbody>");
    size_t i;
    json_t *h;
    json_array_foreach(hist, i, h) {
        const char *from = report_str(h, "from", ""), *to = report_str(h, "to", "");
        html_f(b, "<tr><td>");
        html_time(b, report_str(h, "at", ""));
        html_f(b, "</td><td>%s</td><td>%s</td><td>%s%r%s</td><td>%s</td><td>", report_str(h, "actor", ""),
               event_zh(report_str(h, "event", ""), from, to), *from ? ticket_state_zh(from) : "",
               *from && strcmp(from, to) != 0 ? " → " : "", strcmp(from, to) != 0 ? ticket_state_zh(to) : "",
               report_str(h, "reason", ""));
        const char *before = report_str(h, "deadline_before", ""), *after = report_str(h, "deadline_after", "");
        if (strcmp(before, after) != 0) {
            html_time(b, before);
            html_f(b, " → ");
        }
        html_time(b, after);
        html_f(b, "</td></tr>");
    }
    html_f(b, "</tbody></table>");
}

void page_ticket_render(struct web_req *r, int64_t id, const char *kind, const char *msg,
                        unsigned status)
{
    json_t *t = web_ticket_or_reply(r, id);
    if (!t)
        return;
    char title[48];
    snprintf(title, sizeof title, "工单 #%lld", (long long)id);
    html_begin(r, title);
    struct qloop_buf *b = &r->out;
    bool overdue = json_is_true(json_object_get(t, "overdue"));
    html_f(b, "<h1>工单 #%lld <span class=\"state\">%s</span>%r%r</h1>", (long long)id,
           report_str(t, "state_zh", ""), overdue ? " <span class=\"tag late\">已超期</span>" : "",
           json_is_true(json_object_get(t, "urgent")) ? " <span class=\"tag\">紧急</span>" : "");
    if (msg)
        html_notice(r, kind, msg);
    html_f(b, "<table class=\"facts\"><tbody>");
    fact(b, "数据集", report_str(t, "dataset", ""));
    fact(b, "规则", report_str(t, "rule", ""));
    fact(b, "数源部门", report_str(t, "dept", ""));
    fact(b, "问题", report_str(t, "message", ""));
    fact_time(b, "发现", report_str(t, "opened_at", ""), report_str(t, "opened_by", ""));
    fact_time(b, "接收", report_str(t, "received_at", ""), NULL);
    html_f(b, "<tr><th>答复期限</th><td>");
    page_deadline(b, t);
    html_f(b, "</td></tr>");
    fact(b, "政策", report_str(t, "policy", ""));
    const json_t *ext = json_object_get(t, "extension_request");
    if (json_is_object(ext)) {
        html_f(b, "<tr><th>延期申请</th><td>延至 ");
        html_time(b, report_str(ext, "until", ""));
        html_f(b, "（%s 提出，理由：%s），待审批</td></tr>", report_str(ext, "actor", ""),
               report_str(ext, "reason", ""));
    }
    html_f(b, "</tbody></table>");
    forms(r, id, t);
    const char *page = web_query(r, "page");
    records(r, id, t, page ? strtol(page, NULL, 10) : 1);
    history(r, t);
    html_end(r);
    r->status = status;
    json_decref(t);
}

void page_ticket(struct web_req *r, int64_t id, const char *tail)
{
    static const struct {
        const char *done, *msg;
    } notes[] = {
        {"feedback", "已交数源部门，答复期限开始计算。"}, {"resolve", "已记录答复。"},
        {"extend", "已提交延期申请，等待审批。"},         {"approve", "延期已批准，答复期限已更新。"},
        {"reject", "延期申请已驳回。"},                   {"filed", "问题报告已登记。"},
        {"duplicate", "该记录已在此工单中跟踪，未重复登记。"},
    };
    const char *done = web_query(r, "done");
    const char *msg = NULL;
    for (size_t i = 0; done && i < sizeof notes / sizeof notes[0]; i++)
        if (strcmp(done, notes[i].done) == 0)
            msg = notes[i].msg;
    page_ticket_render(r, id, "ok", msg, 200);
}

void page_ticket_act(struct web_req *r, int64_t id, const char *what)
{
    if (!web_act_name(what)) {
        web_reply_error(r, 404, "没有这个操作");
        return;
    }
    struct web_act a = {
        .as = web_form(r, "as"),
        .note = web_form(r, "note"),
        .until = web_form(r, "until"),
        .reason = web_form(r, "reason"),
        .deadline = web_form(r, "deadline"),
        .urgent = web_form(r, "urgent") != NULL,
    };
    char deadline[40];
    if (a.deadline && strlen(a.deadline) == 16 && a.deadline[10] == 'T') { /* datetime-local */
        snprintf(deadline, sizeof deadline, "%s:00+08:00", a.deadline);
        a.deadline = deadline;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = web_ticket_act(r, id, what, &a, &err);
    char to[96];
    if (rc == 0) {
        const char *back = web_form(r, "back");
        if (back && strcmp(back, "queue") == 0)
            snprintf(to, sizeof to, "/queue?done=%s", what);
        else
            snprintf(to, sizeof to, "/tickets/%lld?done=%s", (long long)id, what);
        web_redirect(r, to);
        return;
    }
    unsigned status = web_status_of(rc, &err);
    if (status == 404 || status >= 500)
        web_reply_failure(r, rc, &err);
    else
        page_ticket_render(r, id, "err", err.message, status);
}
