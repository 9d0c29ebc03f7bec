/*
 * auth.c — who a request comes from, and signing in and out.
 *
 * A business system sends `Authorization: Bearer KEY` (identity.h:
 * ident_key_check); a browser carries the session cookie set at sign-in
 * (HttpOnly, SameSite=Strict, Secure under TLS, expiring with the session)
 * and sends the session's CSRF value with every change, in X-CSRF-Token or
 * the csrf form field. Passwords, keys, tokens and CSRF values are compared
 * in constant time by identity/ and never logged. Five failed sign-ins for
 * a login within 15 minutes refuse it (429) until the window passes.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "web_private.h"

int web_authenticate(struct web_req *r)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    const char *auth = web_header(r, "Authorization");
    if (auth) {
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
            web_add_header(r, "WWW-Authenticate", "Bearer");
            web_reply_error(r, 401, "Authorization 请求头应为“Bearer API密钥”");
            return -1;
        }
        int rc = ident_key_check(r->db, auth + 7, &r->user, &err);
        if (rc < 0) {
            web_reply_failure(r, -2, &err);
            return -1;
        }
        if (rc == 0) {
            web_add_header(r, "WWW-Authenticate", "Bearer");
            web_reply_error(r, 401, "API 密钥无效、已作废或其用户已停用；请向管理员申请新密钥（qloop users key）");
            return -1;
        }
        r->via = WEB_VIA_KEY;
    } else {
        char token[IDENT_TOKEN_CHARS + 2];
        if (web_cookie(r, WEB_COOKIE, token, sizeof token)) {
            int rc = ident_session_user(r->db, token, &r->user, r->csrf, &err);
            if (rc < 0) {
                web_reply_failure(r, -2, &err);
                return -1;
            }
            if (rc == 1) {
                r->via = WEB_VIA_SESSION;
                snprintf(r->token, sizeof r->token, "%s", token);
            }
        }
    }
    if (r->via != WEB_VIA_NONE)
        ident_actor_of_user(&r->user, &r->actor);
    return 0;
}

bool web_csrf_check(struct web_req *r)
{
    if (r->via != WEB_VIA_SESSION)
        return true;
    const char *given = web_header(r, "X-CSRF-Token");
    if (!given)
        given = web_form(r, "csrf");
    if (ident_csrf_ok(r->csrf, given))
        return true;
    web_reply_error(r, 403,
                    "缺少或错误的 CSRF 令牌，请求未执行；网页请刷新后重试，API 请在 X-CSRF-Token "
                    "请求头中附上登录时返回的 csrf");
    return false;
}

/* Sets the session cookie to value for max_age seconds (0: delete it). */
static void set_cookie(struct web_req *r, const char *value, long long max_age)
{
    char c[256];
    snprintf(c, sizeof c, WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", value,
             max_age, r->srv->secure_cookies ? "; Secure" : "");
    web_add_header(r, "Set-Cookie", c);
}

unsigned web_signin(struct web_req *r, const char *login, const char *password, char *msg,
                    size_t size)
{
    if (!login || !*login || !password || !*password) {
        snprintf(msg, size, "请填写登录名和密码");
        return 400;
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ident_user u;
    int rc = ident_signin(r->db, login, password, &u, &err);
    if (rc == IDENT_SIGNIN_THROTTLED) {
        web_add_header(r, "Retry-After", "900");
        snprintf(msg, size, "该登录名最近失败次数过多，已暂停登录；请 15 分钟后再试，或联系管理员");
        return 429;
    }
    if (rc == IDENT_SIGNIN_BAD) {
        snprintf(msg, size, "登录名或密码错误");
        return 401;
    }
    char token[IDENT_TOKEN_CHARS + 1], csrf[IDENT_TOKEN_CHARS + 1];
    if (rc == IDENT_SIGNIN_OK) {
        if (r->via == WEB_VIA_SESSION)
            ident_session_end(r->db, r->token, &err); /* a new session replaces the old */
        rc = ident_session_new(r->db, u.id, r->srv->session_ttl, token, csrf, &err);
    }
    if (rc != 0) {
        unsigned status = web_status_of(-2, &err);
        fprintf(stderr, "qloop serve: 登录时数据库出错：%s\n", err.message);
        snprintf(msg, size, "%s", status == 503 ? "数据库暂时不可用，请稍后再试" : "服务器内部错误，请稍后再试");
        return status;
    }
    set_cookie(r, token, (long long)r->srv->session_ttl);
    r->user = u;
    r->via = WEB_VIA_SESSION;
    ident_actor_of_user(&u, &r->actor);
    snprintf(r->csrf, sizeof r->csrf, "%s", csrf);
    snprintf(r->token, sizeof r->token, "%s", token);
    sodium_memzero(token, sizeof token);
    return 0;
}

void web_signout(struct web_req *r)
{
    struct qloop_error err;
    if (r->via == WEB_VIA_SESSION)
        ident_session_end(r->db, r->token, &err);
    set_cookie(r, "", 0);
    r->via = WEB_VIA_NONE;
}
