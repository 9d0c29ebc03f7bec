/*
 * page_forms.c — the portal's other pages: signing in and out, the 问题反馈
 * form (系统填报: a using department reports problem data), the annual
 * assessment and the scorecards for leaders, and the compiled-in assets.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "store/sql.h"
#include "web_pages.h"

extern const char qloop_data_style[], qloop_data_app[];
extern const size_t qloop_data_style_len, qloop_data_app_len;

void page_asset(struct web_req *r, int64_t id, const char *name)
{
    const char *data = NULL, *ctype = NULL;
    size_t len = 0;
    if (strcmp(name, "style.css") == 0) {
        data = qloop_data_style;
        len = qloop_data_style_len;
        ctype = "text/css; charset=utf-8";
    } else if (strcmp(name, "app.js") == 0) {
        data = qloop_data_app;
        len = qloop_data_app_len;
        ctype = "text/javascript; charset=utf-8";
    }
    if (!data) {
        web_reply_error(r, 404, "没有这个文件");
        return;
    }
    r->status = 200;
    r->ctype = ctype;
    r->cacheable = true;
    qloop_buf_append(&r->out, data, len);
}

/* ---- signing in and out ---- */

static void signin_form(struct web_req *r, const char *login, const char *error, unsigned status)
{
    html_begin(r, "登录");
    struct qloop_buf *b = &r->out;
    html_f(b, "<section class=\"signin\"><h1>登录</h1><p>数源部门、使用部门、数据治理人员和审批人使用本单位分配的账号登录。</p>");
    if (error)
        html_notice(r, "err", error);
    html_f(b, "<form method=\"post\" action=\"/signin\"><label>登录名 <input name=\"login\" autocomplete=\"username\""
              " required maxlength=\"64\" value=\"%s\"></label><label>密码 <input type=\"password\" name=\"password\""
              " autocomplete=\"current-password\" required maxlength=\"1024\"></label>"
              "<button type=\"submit\">登录</button></form>"
              "<p class=\"muted\">连续 5 次密码错误后，该账号 15 分钟内不能登录。</p></section>",
           login ? login : "");
    html_end(r);
    r->status = status;
}

void page_signin(struct web_req *r, int64_t id, const char *tail)
{
    if (r->via == WEB_VIA_SESSION)
        web_redirect(r, "/");
    else
        signin_form(r, NULL, NULL, 200);
}

void page_signin_post(struct web_req *r, int64_t id, const char *tail)
{
    web_parse_form(r);
    const char *login = web_form(r, "login");
    char msg[512];
    unsigned status = web_signin(r, login, web_form(r, "password"), msg, sizeof msg);
    if (status == 0)
        web_redirect(r, "/");
    else
        signin_form(r, login, msg, status);
}

void page_signout(struct web_req *r, int64_t id, const char *tail)
{
    web_signout(r);
    web_redirect(r, "/signin");
}

/* ---- 问题反馈 ---- */

/* The datasets the store knows (from runs and the catalog), as a datalist. */
static void dataset_list(struct web_req *r)
{
    struct qloop_error err;
    sqlite3_stmt *st = sql_prepare(r->db,
                                   "SELECT dataset FROM run_datasets UNION SELECT dataset FROM"
                                   " catalog_datasets ORDER BY 1 LIMIT 2000",
                                   &err);
    html_f(&r->out, "<datalist id=\"datasets\">");
    while (st && sql_row(r->db, st, "读取数据集", &err) == 1)
        html_f(&r->out, "<option value=\"%s\">", sql_text(st, 0));
    sqlite3_finalize(st);
    html_f(&r->out, "</datalist>");
}

static void report_form(struct web_req *r, const char *error, unsigned status)
{
    html_begin(r, "问题反馈");
    struct qloop_buf *b = &r->out;
    html_f(b, "<h1>问题反馈</h1><p>使用中发现的问题数据，通过本表报告给数据的数源部门"
              "（宁波市公共数据管理办法 第二十八条：系统填报）。数据治理人员核实后交数源部门处理。</p>");
    if (error)
        html_notice(r, "err", error);
    unsigned char raw[16];
    char idem[33];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(idem, sizeof idem, raw, sizeof raw);
    html_f(b, "<form method=\"post\" action=\"/report\" class=\"report\">");
    html_csrf(r);
    html_f(b, "<input type=\"hidden\" name=\"idem\" value=\"%s\">"
              "<label>数据集 <input name=\"dataset\" list=\"datasets\" required maxlength=\"200\"></label>",
           idem);
    dataset_list(r);
    html_f(b, "<label>记录主键 <input name=\"key\" required maxlength=\"500\"></label>"
              "<label>字段（可选） <input name=\"field\" maxlength=\"200\"></label>"
              "<label>问题说明 <textarea name=\"message\" rows=\"4\" required maxlength=\"2000\"></textarea></label>"
              "<button type=\"submit\">提交</button></form>");
    html_end(r);
    r->status = status;
}

void page_report_form(struct web_req *r, int64_t id, const char *tail)
{
    report_form(r, NULL, 200);
}

void page_report_post(struct web_req *r, int64_t id, const char *tail)
{
    const char *field = web_form(r, "field");
    struct ticket_report rep = {
        .dataset = web_form(r, "dataset"),
        .key = web_form(r, "key"),
        .field = field && *field ? field : NULL,
        .message = web_form(r, "message"),
        .actor = r->user.login,
    };
    if (!rep.dataset || !*rep.dataset || !rep.key || !*rep.key || !rep.message || !*rep.message) {
        report_form(r, "请填写数据集、记录主键和问题说明", 400);
        return;
    }
    const char *idem = web_form(r, "idem");
    struct qloop_error err;
    qloop_error_clear(&err);
    int64_t ticket;
    bool duplicate, repeat;
    int rc = web_file_report(r, &rep, idem && *idem ? idem : NULL, &ticket, &duplicate, &repeat, &err);
    if (rc != 0) {
        unsigned status = web_status_of(rc, &err);
        if (status >= 500)
            web_reply_failure(r, rc, &err);
        else
            report_form(r, err.message, status);
        return;
    }
    char to[64];
    snprintf(to, sizeof to, "/tickets/%lld?done=%s", (long long)ticket, duplicate ? "duplicate" : "filed");
    web_redirect(r, to);
}

/* ---- the assessment and scorecards ---- */

void page_assessment(struct web_req *r, int64_t id, const char *tail)
{
    const char *view = web_query(r, "view"), *format = web_query(r, "format");
    int year, month;
    web_this_month(&year, &month);
    if (view && strcmp(view, "annual") == 0) {
        const char *y = web_query(r, "year");
        if (y && *y && !web_parse_year(y, &year))
            web_reply_error(r, 400, "年度应为四位数年份");
        else if (web_may_report(r, IDENT_ANNUAL, NULL))
            web_send_annual(r, year, format && strcmp(format, "xlsx") == 0 ? "xlsx" : "html");
        return;
    }
    if (view && strcmp(view, "scorecard") == 0) {
        const char *dept = web_query(r, "dept"), *period = web_query(r, "period");
        if (!dept || !*dept || (period && *period && !web_parse_period(period, &year, &month)))
            web_reply_error(r, 400, "请选择部门和月份（YYYY-MM）");
        else if (web_may_report(r, IDENT_SCORECARD, dept))
            web_send_scorecard(r, dept, year, month, "html");
        return;
    }
    html_begin(r, "评估与计分卡");
    struct qloop_buf *b = &r->out;
    html_f(b, "<h1>评估与计分卡</h1>");
    char why[512];
    if (ident_allowed(&r->actor, IDENT_ANNUAL, NULL, why, sizeof why)) {
        html_f(b, "<section class=\"form\"><h2>年度评估报告</h2><form method=\"get\" action=\"/assessment\">"
                  "<input type=\"hidden\" name=\"view\" value=\"annual\"><label>年度 <input name=\"year\" "
                  "inputmode=\"numeric\" pattern=\"[0-9]{4}\" value=\"%d\" required></label> "
                  "<button type=\"submit\" name=\"format\" value=\"html\">查看（可打印）</button> "
                  "<button type=\"submit\" name=\"format\" value=\"xlsx\" class=\"secondary\">下载 XLSX</button>"
                  "</form></section>",
               year);
    }
    json_t *depts = NULL;
    struct qloop_error err;
    qloop_error_clear(&err);
    size_t shown = 0, i;
    json_t *d;
    if (ident_dept_list_json(r->db, &depts, &err) == 0) {
        json_array_foreach(depts, i, d) {
            const char *name = json_string_value(json_object_get(d, "name"));
            struct ident_facts f = {.dept = name};
            if (!name || !ident_allowed(&r->actor, IDENT_SCORECARD, &f, NULL, 0))
                continue;
            if (shown++ == 0)
                html_f(b, "<section class=\"form\"><h2>部门月度计分卡</h2><form method=\"get\" action=\"/assessment\">"
                          "<input type=\"hidden\" name=\"view\" value=\"scorecard\"><label>部门 <select name=\"dept\">");
            html_f(b, "<option value=\"%s\"%r>%s</option>", name,
                   strcmp(name, r->user.dept) == 0 ? " selected" : "", name);
        }
    }
    if (shown)
        html_f(b, "</select></label> <label>月份 <input type=\"month\" name=\"period\" value=\"%d-%r%d\" required>"
                  "</label> <button type=\"submit\">查看计分卡</button></form></section>",
               year, month < 10 ? "0" : "", month);
    json_decref(depts);
    if (shown == 0 && !ident_allowed(&r->actor, IDENT_ANNUAL, NULL, NULL, 0))
        html_notice(r, "err", why);
    html_end(r);
}
