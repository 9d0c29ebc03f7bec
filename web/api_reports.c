/*
 * api_reports.c — filing problem reports (POST /api/v1/reports: 系统填报 from
 * a signed-in user, 接口对接 from a business system's key, idempotent with
 * an Idempotency-Key), the annual assessment and the scorecards (the
 * reports/ renderers), for the API and the portal's pages.
 *
 * The reports' HTML documents carry their own inline stylesheet and a few
 * style attributes; they are served under a content policy that admits
 * exactly those (their SHA-256 hashes), no script and nothing else.
 */
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "report.h"
#include "web_private.h"

/* ---- filing ---- */

/* Whether key is a usable Idempotency-Key: 1 to 200 visible ASCII
 * characters. */
static bool idem_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if (key[i] <= 0x20 || key[i] >= 0x7f)
            return false;
    return true;
}

void api_reports_post(struct web_req *r, int64_t id, const char *tail)
{
    const char *key = web_header(r, "Idempotency-Key");
    if (key && !idem_key_ok(key)) {
        web_reply_error(r, 400, "Idempotency-Key 应为 1 至 200 个可见 ASCII 字符（例如一个 UUID）");
        return;
    }
    json_t *b = web_json_body(r);
    if (!b)
        return;
    struct ticket_report rep = {0};
    rep.actor = r->user.login;
    if (web_json_text(r, b, "dataset", true, &rep.dataset) == 0 &&
        web_json_text(r, b, "key", true, &rep.key) == 0 &&
        web_json_text(r, b, "field", false, &rep.field) == 0 &&
        web_json_text(r, b, "value", false, &rep.value) == 0 &&
        web_json_text(r, b, "message", true, &rep.message) == 0) {
        struct qloop_error err;
        qloop_error_clear(&err);
        int64_t ticket;
        bool duplicate, repeat;
        int rc = web_file_report(r, &rep, key, &ticket, &duplicate, &repeat, &err);
        if (rc != 0) {
            web_reply_failure(r, rc, &err);
        } else {
            if (repeat)
                web_add_header(r, "Idempotent-Replayed", "true");
            json_t *t = NULL;
            if (web_ticket_json(r, ticket, &t, &err) != 0)
                t = json_pack("{s:I}", "id", (json_int_t)ticket);
            json_object_set_new(t, "duplicate", json_boolean(duplicate));
            web_reply_json(r, duplicate ? 200 : 201, t);
        }
    }
    json_decref(b);
}

/* ---- who may read reports ---- */

bool web_may_report(struct web_req *r, enum ident_action action, const char *dept)
{
    struct ident_facts f = {.dept = dept};
    char why[1024];
    if (ident_allowed(&r->actor, action, action == IDENT_SCORECARD ? &f : NULL, why, sizeof why))
        return true;
    web_reply_error(r, 403, "%s", why);
    return false;
}

/* ---- documents ---- */

/* Adds 'sha256-...' of s[0..n) to the policy csp, once. */
static void add_hash(struct qloop_buf *csp, const char *s, size_t n)
{
    uint8_t h[32];
    qloop_sha256(s, n, h);
    char b64[64], item[80];
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    snprintf(item, sizeof item, " 'sha256-%s'", b64);
    if (!strstr(qloop_buf_str(csp), item))
        qloop_buf_printf(csp, "%s", item);
}

/* Answers html (a reports/ document) with a policy that admits its inline
 * <style> elements and style attributes by hash, and nothing else. */
static void send_document(struct web_req *r, struct qloop_buf *html)
{
    struct qloop_buf csp = {0};
    qloop_buf_printf(&csp, "default-src 'none'; style-src 'unsafe-hashes'");
    const char *s = qloop_buf_str(html);
    for (const char *p = s; (p = strstr(p, "<style>")) != NULL;) {
        const char *end = strstr(p += 7, "</style>");
        if (!end)
            break;
        add_hash(&csp, p, (size_t)(end - p));
        p = end;
    }
    for (const char *p = s; (p = strstr(p, " style=\"")) != NULL;) {
        const char *end = strchr(p += 8, '"');
        if (!end)
            break;
        add_hash(&csp, p, (size_t)(end - p));
        p = end;
    }
    qloop_buf_printf(&csp, "; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    r->csp = web_keep(r, qloop_buf_str(&csp));
    qloop_buf_free(&csp);
    r->status = 200;
    r->ctype = "text/html; charset=utf-8";
    qloop_buf_free(&r->out);
    r->out = *html;
    *html = (struct qloop_buf){0};
}

/* Answers a report or scorecard as the JSON its renderer writes. */
static void send_json_document(struct web_req *r, const json_t *doc)
{
    struct qloop_error err;
    qloop_buf_reset(&r->out);
    report_render_json(doc, &r->out, &err);
    r->status = 200;
    r->ctype = "application/json; charset=utf-8";
}

/* Answers a file's bytes as a download named name. Returns 0 or -1. */
int web_send_file(struct web_req *r, const char *path, const char *ctype, const char *name)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    qloop_buf_reset(&r->out);
    int bad = qloop_buf_read(&r->out, f, 0) != 0;
    fclose(f);
    if (bad)
        return -1;
    r->status = 200;
    r->ctype = ctype;
    char cd[256];
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", name);
    web_add_header(r, "Content-Disposition", cd);
    return 0;
}

/* A temporary file for a workbook; "" when none could be made. */
int web_temp_path(char *out, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, size, "%s/qloop-serve-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(out);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

void web_send_annual(struct web_req *r, int year, const char *format)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *rep = NULL;
    int rc = report_annual(r->db, year, NULL, qloop_now(), &rep, &err);
    if (rc != 0) {
        web_reply_error(r, rc == -1 ? 422 : 500, "%s", rc == -1 ? err.message : "生成评估报告失败");
        return;
    }
    struct qloop_buf out = {0};
    if (strcmp(format, "xlsx") == 0) {
        char path[512], name[64];
        snprintf(name, sizeof name, "qloop-annual-%d.xlsx", year);
        if (web_temp_path(path, sizeof path) != 0)
            web_reply_error(r, 500, "无法创建临时文件：%s", strerror(errno));
        else if (report_render_xlsx(rep, path, &err) != 0)
            web_reply_error(r, report_xlsx_available() ? 500 : 422, "%s", err.message);
        else if (web_send_file(r, path,
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               name) != 0)
            web_reply_error(r, 500, "读取生成的工作簿失败");
        if (*path)
            unlink(path);
    } else if (strcmp(format, "html") == 0) {
        report_render_html(rep, &out, &err);
        send_document(r, &out);
    } else {
        send_json_document(r, rep);
    }
    qloop_buf_free(&out);
    json_decref(rep);
}

void web_send_scorecard(struct web_req *r, const char *dept, int year, int month, const char *format)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    json_t *card = NULL;
    int rc = report_scorecard(r->db, dept, year, month, NULL, qloop_now(), &card, &err);
    if (rc != 0) {
        web_reply_error(r, rc == -1 ? 422 : 500, "%s", rc == -1 ? err.message : "生成计分卡失败");
        return;
    }
    struct qloop_buf out = {0};
    if (strcmp(format, "html") == 0) {
        report_render_scorecard_html(card, &out, &err);
        send_document(r, &out);
    } else {
        send_json_document(r, card);
    }
    qloop_buf_free(&out);
    json_decref(card);
}

/* ---- the API's report endpoints ---- */

/* "YYYY" into *year; false when malformed. */
bool web_parse_year(const char *s, int *year)
{
    if (!s || strlen(s) != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    *year = atoi(s);
    return *year >= 1900;
}

/* "YYYY-MM" into *year, *month; false when malformed. */
bool web_parse_period(const char *s, int *year, int *month)
{
    char y[5];
    if (!s || strlen(s) != 7 || s[4] != '-' || !isdigit((unsigned char)s[5]) ||
        !isdigit((unsigned char)s[6]))
        return false;
    memcpy(y, s, 4);
    y[4] = '\0';
    *month = atoi(s + 5);
    return web_parse_year(y, year) && *month >= 1 && *month <= 12;
}

/* This year and month at qloop_now(). */
void web_this_month(int *year, int *month)
{
    char today[11];
    qloop_format_date(qloop_now(), today);
    today[7] = '\0';
    *month = atoi(today + 5);
    today[4] = '\0';
    *year = atoi(today);
}

void api_annual(struct web_req *r, int64_t id, const char *tail)
{
    const char *y = web_query(r, "year"), *format = web_query(r, "format");
    int year, month;
    web_this_month(&year, &month);
    if (y && *y && !web_parse_year(y, &year)) {
        web_reply_error(r, 400, "year 应为四位数年份，例如 2026");
        return;
    }
    if (!format || !*format)
        format = "json";
    if (strcmp(format, "json") != 0 && strcmp(format, "html") != 0 && strcmp(format, "xlsx") != 0) {
        web_reply_error(r, 400, "format 应为 html、json 或 xlsx");
        return;
    }
    if (web_may_report(r, IDENT_ANNUAL, NULL))
        web_send_annual(r, year, format);
}

void api_scorecard(struct web_req *r, int64_t id, const char *tail)
{
    const char *dept = web_query(r, "dept"), *period = web_query(r, "period"),
               *format = web_query(r, "format");
    int year, month;
    web_this_month(&year, &month);
    if (!dept || !*dept)
        dept = r->user.dept[0] ? r->user.dept : NULL;
    if (!dept) {
        web_reply_error(r, 400, "需要参数 dept（部门名称）");
        return;
    }
    if (period && *period && !web_parse_period(period, &year, &month)) {
        web_reply_error(r, 400, "period 应为 YYYY-MM，例如 2026-11");
        return;
    }
    if (!format || !*format)
        format = "json";
    if (strcmp(format, "json") != 0 && strcmp(format, "html") != 0) {
        web_reply_error(r, 400, "format 应为 html 或 json");
        return;
    }
    if (web_may_report(r, IDENT_SCORECARD, dept))
        web_send_scorecard(r, dept, year, month, format);
}
