/*
 * request.c — reading a request (headers, query, form fields, cookies) and
 * writing its answer (JSON, an error, a redirect, extra headers), and the
 * HTTP status an engine failure stands for.
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "web_private.h"

const char *web_keep(struct web_req *r, const char *s)
{
    return s ? qloop_arena_copy(&r->arena, s, strlen(s)) : NULL;
}

const char *web_header(struct web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_query(struct web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes s[0..n) (application/x-www-form-urlencoded) into r's arena. */
static const char *url_decode(struct web_req *r, const char *s, size_t n)
{
    char *out = qloop_arena_copy(&r->arena, s, n);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+')
            out[j++] = ' ';
        else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                 (lo = hexval(s[i + 2])) >= 0) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else
            out[j++] = s[i];
    }
    out[j] = '\0';
    return out;
}

void web_parse_form(struct web_req *r)
{
    const char *ct = web_header(r, "Content-Type");
    if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return;
    const char *p = qloop_buf_str(&r->body), *end = p + r->body.len;
    while (p < end && r->nform < WEB_PARAMS_MAX) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp)
            amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        if (eq) {
            r->form[r->nform].name = url_decode(r, p, (size_t)(eq - p));
            r->form[r->nform].value = url_decode(r, eq + 1, (size_t)(amp - eq - 1));
            r->nform++;
        }
        p = amp + 1;
    }
}

const char *web_form(struct web_req *r, const char *name)
{
    for (size_t i = 0; i < r->nform; i++)
        if (strcmp(r->form[i].name, name) == 0)
            return r->form[i].value;
    return NULL;
}

const char *web_cookie(struct web_req *r, const char *name, char *out, size_t size)
{
    const char *all = web_header(r, "Cookie");
    size_t n = strlen(name);
    for (const char *p = all; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t vlen = len - n - 1;
            if (vlen >= size)
                return NULL;
            memcpy(out, p + n + 1, vlen);
            out[vlen] = '\0';
            return out;
        }
        p = semi ? semi + 1 : p + len;
    }
    return NULL;
}

void web_add_header(struct web_req *r, const char *name, const char *value)
{
    if (r->nhdr == WEB_HEADERS_OUT)
        return;
    r->hdr[r->nhdr][0] = web_keep(r, name);
    r->hdr[r->nhdr][1] = web_keep(r, value);
    r->nhdr++;
}

void web_reply_json(struct web_req *r, unsigned status, json_t *v)
{
    r->status = status;
    r->ctype = "application/json; charset=utf-8";
    qloop_buf_reset(&r->out);
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (s) {
        qloop_buf_append(&r->out, s, strlen(s));
        qloop_buf_putc(&r->out, '\n');
        free(s);
    }
}

void web_reply_error(struct web_req *r, unsigned status, const char *fmt, ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->page) {
        html_error_page(r, status, msg);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg) ? json_string(msg) : json_string("请求有误"));
    web_reply_json(r, status, o);
}

void web_redirect(struct web_req *r, const char *location)
{
    r->status = 303;
    r->ctype = "text/plain; charset=utf-8";
    qloop_buf_reset(&r->out);
    web_add_header(r, "Location", location);
}

unsigned web_status_of(int rc, const struct qloop_error *err)
{
    if (rc == -1 && err->kind == QLOOP_ERR_INPUT) {
        switch (err->refusal) {
        case QLOOP_REFUSED_ABSENT:
            return 404;
        case QLOOP_REFUSED_DENIED:
            return 403;
        case QLOOP_REFUSED_STATE:
            return 409;
        default:
            return 422;
        }
    }
    return err->kind == QLOOP_ERR_INPUT ? 503 : 500;
}

void web_reply_failure(struct web_req *r, int rc, const struct qloop_error *err)
{
    unsigned status = web_status_of(rc, err);
    if (status == 500) {
        fprintf(stderr, "qloop serve: %s %s: 内部错误：%s\n", r->method, r->path, err->message);
        web_reply_error(r, 500, "服务器内部错误；请稍后再试，或联系系统管理员查看日志");
    } else if (status == 503) {
        web_add_header(r, "Retry-After", "5");
        web_reply_error(r, 503, "数据库暂时不可用：%s", err->message);
    } else if (status == 404) {
        web_reply_error(r, 404, "工单不存在，或您无权查看");
    } else {
        web_reply_error(r, status, "%s", err->message);
    }
}
