/*
 * server.c — the HTTP(S) daemon of `qloop serve` on libmicrohttpd: a pool
 * of worker threads, each request read whole within limits (body size,
 * header count and size, time), handed to the router, and answered with the
 * security headers every answer carries; one line of log per request, with
 * neither body nor query nor secret in it.
 *
 * Limits: a body of at most WEB_BODY_MAX bytes (413, answered before the
 * body is read when Content-Length says so), at most WEB_HEADERS_MAX headers
 * (431) in at most 32 KiB per connection (libmicrohttpd answers past that),
 * a connection idle for 30 s is closed and a request whose upload takes
 * longer than WEB_REQUEST_SECONDS is refused (408). A chunked body that
 * grows past the limit is read to its end without being kept, then refused
 * (libmicrohttpd cannot answer in the middle of an upload); one still
 * arriving past the time limit loses its connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "web_private.h"

/* The portal's content policy: its own script and stylesheet only, no
 * inline script, style or handler, no framing, forms only to itself. */
static const char portal_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

int64_t web_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- answering ------------------------------------------------------------ */

static void add(struct MHD_Response *resp, const char *name, const char *value)
{
    MHD_add_response_header(resp, name, value);
}

/* Sends r's answer with the security headers. */
static enum MHD_Result send_answer(struct web_req *r)
{
    struct MHD_Connection *conn = r->conn;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->out.len, r->out.ptr ? r->out.ptr : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    add(resp, "Content-Type", r->ctype ? r->ctype : "application/json; charset=utf-8");
    add(resp, "Content-Security-Policy", r->csp ? r->csp : portal_csp);
    add(resp, "X-Content-Type-Options", "nosniff");
    add(resp, "X-Frame-Options", "DENY");
    add(resp, "Referrer-Policy", "no-referrer");
    add(resp, "Cross-Origin-Opener-Policy", "same-origin");
    add(resp, "Cache-Control", r->cacheable ? "public, max-age=3600" : "no-store");
    if (r->srv->tls)
        add(resp, "Strict-Transport-Security", "max-age=31536000");
    for (size_t i = 0; i < r->nhdr; i++)
        add(resp, r->hdr[i][0], r->hdr[i][1]);
    enum MHD_Result ok = MHD_queue_response(conn, r->status ? r->status : 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Answers a limit's refusal at once (the body is not read). */
static enum MHD_Result refuse_now(struct web_req *r, unsigned status, const char *msg)
{
    r->page = false;
    r->answered = true;
    web_add_header(r, "Connection", "close");
    web_reply_error(r, status, "%s", msg);
    return send_answer(r);
}

/* ---- one request -------------------------------------------------------------- */

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                    const char *v)
{
    (void)kind, (void)k, (void)v;
    ++*(int *)cls;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct web_req *r = *con_cls;
    if (!r) {
        r = qloop_xcalloc(1, sizeof *r);
        r->srv = cls;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->started_ms = web_ms();
        *con_cls = r;
        int n = 0;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &n);
        if (n > WEB_HEADERS_MAX)
            return refuse_now(r, 431, "请求头过多");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > WEB_BODY_MAX)
            return refuse_now(r, 413, "请求内容过大（上限 1 MiB）");
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->answered)
            return MHD_YES;
        if (web_ms() - r->started_ms > WEB_REQUEST_SECONDS * 1000) {
            if (r->refused) /* still sending what was refused: drop the connection */
                return MHD_NO;
            r->refused = 408;
            qloop_buf_free(&r->body);
        }
        if (!r->refused && r->body.len + n > WEB_BODY_MAX) {
            r->refused = 413; /* the rest is read and dropped, then answered */
            qloop_buf_free(&r->body);
        }
        if (!r->refused)
            qloop_buf_append(&r->body, upload, n);
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (r->refused)
        return refuse_now(r, r->refused, r->refused == 413 ? "请求内容过大（上限 1 MiB）" : "请求上传时间过长");
    web_route(r);
    return send_answer(r);
}

/* The client's address as text, for the log. */
static void client_address(struct MHD_Connection *conn, char *out, size_t size)
{
    snprintf(out, size, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
}

/* One line per request: time, client, method, path (never the query or the
 * body: a path holds only numbers and names of this portal), status,
 * milliseconds, who. Then frees the request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct web_req *r = *con_cls;
    if (!r)
        return;
    char when[32], from[64];
    qloop_format_datetime(qloop_now(), when);
    client_address(conn, from, sizeof from);
    char path[160];
    size_t n = 0;
    for (const char *p = r->path ? r->path : ""; *p && n + 1 < sizeof path; p++)
        path[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    path[n] = '\0';
    fprintf(stderr, "%s %s %s %s %u %lldms %s%s\n", when, from, r->method, path,
            r->status ? r->status : 200, (long long)(web_ms() - r->started_ms),
            r->via != WEB_VIA_NONE ? r->user.login : "-",
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    qloop_buf_free(&r->body);
    qloop_buf_free(&r->out);
    qloop_arena_free(&r->arena);
    free(r);
    *con_cls = NULL;
}

/* MHD's own messages (a malformed request, a TLS failure) to the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fprintf(stderr, "qloop serve: %s\n", line);
}

/* ---- starting ------------------------------------------------------------------ */

/* Reads a whole file (certificate, key) into a NUL-terminated buffer. */
static char *read_file(const char *path, const char *what, struct qloop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        qloop_error_set(err, path, 0, 0, "无法读取%s：%s；请检查路径和读权限", what, strerror(errno));
        return NULL;
    }
    struct qloop_buf b = {0};
    qloop_buf_read(&b, f, 1u << 20); /* a PEM file is small: a longer one is read in part */
    fclose(f);
    if (b.len == 0 || strstr(qloop_buf_str(&b), "-----BEGIN ") == NULL) {
        qloop_buf_free(&b);
        qloop_error_set(err, path, 0, 0, "%s不是 PEM 格式（应以 -----BEGIN 开头）", what);
        return NULL;
    }
    return b.ptr;
}

/* Parses "ADDR:PORT" ("[v6]:PORT") and makes a listening socket. Returns it,
 * or -1 with err. */
static int listen_on(const char *spec, struct qloop_error *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *port = colon ? colon + 1 : "";
    size_t hlen = colon ? (size_t)(colon - spec) : 0;
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        spec++;
        hlen -= 2;
    }
    char *end;
    long pn = strtol(port, &end, 10);
    if (!colon || hlen == 0 || hlen >= sizeof host || !*port || *end || pn < 0 || pn > 65535) {
        qloop_error_set(err, NULL, 0, 0,
                        "--listen 应为 地址:端口，例如 127.0.0.1:8080、[::1]:8080 或 "
                        "127.0.0.1:0（任选空闲端口），收到的是“%s”",
                        spec);
        return -1;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        qloop_error_set(err, NULL, 0, 0, "--listen 的地址“%s”不是 IP 地址；请写成 127.0.0.1 或 [::1]",
                        host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        qloop_error_set(err, NULL, 0, 0, "无法在 %s 监听：%s%s", spec, strerror(e),
                        e == EADDRINUSE ? "；该端口已被占用，请换一个端口（或用端口 0 任选）"
                        : e == EACCES   ? "；1024 以下的端口需要特权，请用更大的端口并由反向代理转发"
                                        : "");
        return -1;
    }
    freeaddrinfo(ai);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* The address fd is bound to, as a URL root ("http://127.0.0.1:8080/"). */
static void bound_url(int fd, bool tls, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const void *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
            port = ntohs(s6->sin6_port);
            snprintf(out, size, "%s://[%s]:%d/", tls ? "https" : "http", host, port);
            return;
        }
        const struct sockaddr_in *s4 = (const void *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
    }
    snprintf(out, size, "%s://%s:%d/", tls ? "https" : "http", host, port);
}

int web_serve(const struct web_config *c, struct qloop_error *err)
{
    struct web_server srv = {.cfg = *c};
    if (!srv.cfg.listen)
        srv.cfg.listen = "127.0.0.1:8080";
    unsigned threads = c->threads ? c->threads : 8;
    if (threads > 12)
        threads = 12;
    srv.session_ttl = c->session_ttl > 0 ? c->session_ttl : 8 * 3600;
    srv.tls = c->tls_cert && c->tls_key;
    srv.secure_cookies = srv.tls || c->proxy_tls;
    if ((c->tls_cert != NULL) != (c->tls_key != NULL))
        return qloop_error_set(err, NULL, 0, 0, "--tls-cert 和 --tls-key 须同时给出");
    if (srv.tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return qloop_error_set(err, NULL, 0, 0,
                               "本机的 libmicrohttpd 不支持 TLS；请安装带 GnuTLS 的版本，"
                               "或在反向代理上终止 HTTPS（docs/portal.md）");
    if (policy_load_spec(c->policy, c->data_dir, &srv.policy, err) != 0)
        return -1;
    char *cert = NULL, *key = NULL;
    if (srv.tls && (!(cert = read_file(c->tls_cert, "证书", err)) ||
                    !(key = read_file(c->tls_key, "私钥", err)))) {
        free(cert);
        return -1;
    }
    int rc = -1;
    int fd = -1;
    struct MHD_Daemon *d = NULL;
    srv.db = web_db_open(c->db_path, threads, err);
    if (!srv.db || (fd = listen_on(srv.cfg.listen, err)) < 0)
        goto done;

    /* SIGINT and SIGTERM are waited for here; the workers never see them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (srv.tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 1000, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, 200, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {srv.tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {srv.tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, key},
        {srv.tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0,
         (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d) {
        qloop_error_set(err, NULL, 0, 0,
                        "无法启动 HTTP 服务%s",
                        srv.tls ? "；请检查证书与私钥是否配对、是否为 PEM 格式（私钥不可加密）" : "");
        goto done;
    }
    int listen_fd = fd;
    fd = -1; /* the daemon's now: it closes it when it stops */
    char url[160];
    bound_url(listen_fd, srv.tls, url, sizeof url);
    printf("%s\n", url);
    fflush(stdout);
    fprintf(stderr, "qloop serve: 门户 %s，API %sapi/v1（%u 个工作线程；Ctrl-C 或 SIGTERM 停止）\n", url,
            url, threads);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "qloop serve: 收到 %s，停止服务\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
done:
    if (d)
        MHD_stop_daemon(d);
    if (fd >= 0)
        close(fd);
    web_db_close(srv.db);
    free(cert);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    return rc;
}
