/*
 * html.c — the portal's page frame and the escaping every page uses
 * (html.h). Pages are plain server-rendered HTML: they work without
 * JavaScript, print cleanly (the stylesheet's print rules drop the
 * navigation and forms), and load only /assets/style.css and
 * /assets/app.js, both compiled into the binary.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "report.h"

void html_esc(struct qloop_buf *b, const char *s)
{
    if (s)
        report_put_html(b, s);
}

void html_f(struct qloop_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            const char *next = strchr(p, '%');
            size_t n = next ? (size_t)(next - p) : strlen(p);
            qloop_buf_append(b, p, n);
            p += n - 1;
            continue;
        }
        switch (*++p) {
        case 's':
            html_esc(b, va_arg(ap, const char *));
            break;
        case 'r': {
            const char *raw = va_arg(ap, const char *);
            if (raw)
                qloop_buf_append(b, raw, strlen(raw));
            break;
        }
        case 'd':
            qloop_buf_printf(b, "%d", va_arg(ap, int));
            break;
        case 'u':
            qloop_buf_printf(b, "%u", va_arg(ap, unsigned));
            break;
        case 'z':
            p++; /* %zu */
            qloop_buf_printf(b, "%zu", va_arg(ap, size_t));
            break;
        case 'l':
            if (p[1] == 'l') {
                p += 2; /* %lld */
                qloop_buf_printf(b, "%lld", va_arg(ap, long long));
            } else {
                p++; /* %ld */
                qloop_buf_printf(b, "%ld", va_arg(ap, long));
            }
            break;
        case '%':
            qloop_buf_putc(b, '%');
            break;
        default: /* not a conversion: kept as written */
            qloop_buf_putc(b, '%');
            if (!*p)
                p--;
            else
                qloop_buf_putc(b, *p);
        }
    }
    va_end(ap);
}

void html_time(struct qloop_buf *b, const char *iso)
{
    if (!iso || !*iso) {
        qloop_buf_printf(b, "—");
        return;
    }
    char t[17];
    snprintf(t, sizeof t, "%.16s", iso);
    if (strlen(t) > 10 && t[10] == 'T')
        t[10] = ' ';
    html_esc(b, t);
}

/* The navigation: the pages r's user's role works in. */
static void nav(struct web_req *r)
{
    struct qloop_buf *b = &r->out;
    enum ident_role role = r->user.role;
    bool staff = role == IDENT_ADMIN || role == IDENT_STEWARD;
    html_f(b, "<nav aria-label=\"主导航\"><ul>");
    if (role != IDENT_LEADER)
        html_f(b, "<li><a href=\"/tickets\">我的工单</a></li>");
    if (role == IDENT_APPROVER || role == IDENT_ADMIN)
        html_f(b, "<li><a href=\"/queue\">延期审批</a></li>");
    if (staff || role == IDENT_REPORTER || role == IDENT_SYSTEM)
        html_f(b, "<li><a href=\"/report\">问题反馈</a></li>");
    if (staff)
        html_f(b, "<li><a href=\"/overview\">全局概览</a></li>");
    if (staff || role == IDENT_LEADER || role == IDENT_PROVIDER)
        html_f(b, "<li><a href=\"/assessment\">评估与计分卡</a></li>");
    html_f(b, "</ul></nav>");
    html_f(b, "<form class=\"who\" method=\"post\" action=\"/signout\"><span>%s（%s%r%s）</span>",
           r->user.name[0] ? r->user.name : r->user.login, ident_role_zh(role),
           r->user.dept[0] ? "，" : "", r->user.dept);
    html_csrf(r);
    html_f(b, "<button type=\"submit\">退出</button></form>");
}

void html_begin(struct web_req *r, const char *title)
{
    r->status = 200;
    r->ctype = "text/html; charset=utf-8";
    qloop_buf_reset(&r->out);
    struct qloop_buf *b = &r->out;
    html_f(b,
           "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
           "<title>%s · qloop 公共数据质量闭环</title>"
           "<link rel=\"stylesheet\" href=\"/assets/style.css\">"
           "<script src=\"/assets/app.js\" defer></script></head>\n<body>"
           "<header class=\"top\"><a class=\"brand\" href=\"/\">qloop 公共数据质量闭环</a>",
           title);
    if (r->via == WEB_VIA_SESSION)
        nav(r);
    html_f(b, "</header>\n<main>");
}

void html_end(struct web_req *r)
{
    html_f(&r->out, "</main>\n<footer>发现 → 反馈 → 修正 → 共享：数源部门应在收到问题数据之日起 5 个工作日内"
                    "核实处理（宁波市公共数据管理办法 第二十七条、第二十八条）。</footer>\n</body></html>\n");
}

void html_csrf(struct web_req *r)
{
    if (r->via == WEB_VIA_SESSION)
        html_f(&r->out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->csrf);
}

void html_notice(struct web_req *r, const char *kind, const char *msg)
{
    html_f(&r->out, "<p class=\"notice %s\" role=\"%r\">%s</p>", kind,
           strcmp(kind, "err") == 0 ? "alert" : "status", msg);
}

void html_error_page(struct web_req *r, unsigned status, const char *msg)
{
    const char *title = status == 404   ? "未找到"
                        : status == 403 ? "无权操作"
                        : status == 401 ? "请先登录"
                        : status == 429 ? "请稍后再试"
                        : status >= 500 ? "服务暂不可用"
                                        : "无法完成";
    html_begin(r, title);
    html_f(&r->out, "<h1>%s</h1>", title);
    html_notice(r, "err", msg);
    html_f(&r->out, "<p><a href=\"/\">返回首页</a></p>");
    html_end(r);
    r->status = status;
}
