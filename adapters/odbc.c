/*
 * odbc.c — the database adapter: `source = "odbc:NAME"` reads a query's
 * result (`query`, or `table` whole, or with neither the table named like
 * the dataset) through unixODBC from the data source NAME of the machine's
 * ODBC configuration (odbc.ini). MySQL/MariaDB, PostgreSQL, Oracle, 达梦
 * and Hive are reached through their own drivers.
 *
 * Credentials stay in odbc.ini: the adapter connects with "DSN=NAME" and
 * nothing else from the rule file, refuses a NAME that could carry more
 * connection attributes (';', '=', braces), and words its messages without
 * the connection string (driver messages are cleaned of PWD=/PASSWORD=).
 *
 * Rows are fetched in blocks with bound column arrays (column-wise binding,
 * SQL_ATTR_ROW_ARRAY_SIZE): one fetch fills one batch. Every column is bound
 * as SQL_C_WCHAR and converted from UTF-16 to UTF-8 here, so the text does
 * not depend on the driver's or the locale's character set; numbers, dates
 * and times arrive as the database's own text for them. A value longer than
 * its bound width (8,192 UTF-16 units) is read whole with SQLGetData after
 * positioning on its row where that works (psqlODBC), else it stops the
 * source with a message saying which column to shorten. NULL is a null
 * field. A row the driver cannot convert (SQL_ROW_ERROR) or whose text is
 * not valid UTF-16 is a malformed row.
 *
 * Streaming: drivers that would otherwise pull the whole result into client
 * memory are told not to: psqlODBC gets UseDeclareFetch=1 with a Fetch size
 * of one block, MariaDB/MySQL Connector/ODBC the NO_CACHE option (with the
 * DSN's own OPTION bits kept; Debian 12's 3.1.15 buffers all the same).
 * Read only: SQL_ATTR_ACCESS_MODE, psqlODBC's ReadOnly=1 (it refuses all but
 * SELECT) and MySQL's read-only session, so a `query` that tries to change
 * data fails; a statement that returns no result set is refused. The real
 * guard is a read-only account in odbc.ini.
 *
 * Every call that talks to the server (connecting, executing, fetching,
 * reading a long value, closing) runs with the driver guard armed
 * (driver_guard.h): a driver that crashes there — psqlODBC 13.02 does when
 * the server goes away during a FETCH — ends the run with this source's
 * message and exit 2 instead of a core dump.
 */
#include <odbcinst.h>
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters.h"
#include "base/buf.h"
#include "driver_guard.h"

#define BLOCK_BYTES ((size_t)8 << 20) /* bound buffers of one block, at most */
#define CELL_CHARS_MAX 8192           /* UTF-16 units bound per cell, at most */

struct ocol {
    SQLWCHAR *data; /* rowset cells of width units each */
    SQLLEN *ind;
    SQLLEN width;   /* bytes per cell, terminator included */
};

struct odbc {
    SQLHENV env;
    SQLHDBC dbc;
    SQLHSTMT stmt;
    int connected;
    char *label;   /* "odbc:NAME": the source in messages */
    char *dsn, *dataset;
    size_t ncols;
    char **names;
    struct ocol *cols;
    SQLULEN rowset, fetched;
    SQLUSMALLINT *status;
    int gd_block;
    int report_bad;
    uint64_t rows;
    int done;
    struct qloop_sticky fail;
    struct qloop_field *cells;
    size_t *offs;
    uint64_t *row_no, *line_no;
    struct qloop_buf arena, scratch;
    struct qloop_badlist bad;
    struct qloop_driver_guard guard; /* the message if the driver crashes */
};

/* ---- the driver guard ------------------------------------------------------------ */

/* Arms the guard for a call into the driver that does what `doing` says
 * (a phrase such as "读取第 12 行之后"); disarm with qloop_driver_guard_disarm. */
static void guard_arm(struct odbc *st, const char *doing)
{
    qloop_driver_guard_set(&st->guard, st->label,
                           "数据集“%s”：%s，数据源“%s”的 ODBC 驱动异常退出（多由连接中断引起）；本次运行不保存任何结果。"
                           "请检查数据库服务与网络后重新运行；若连接正常仍反复出现，请升级该驱动。",
                           st->dataset, doing, st->dsn);
    qloop_driver_guard_arm(&st->guard);
}

/* ---- text -------------------------------------------------------------------- */

/* Appends n UTF-16 units as UTF-8; returns -1 on a lone surrogate or a NUL. */
static int utf16_to_utf8(struct qloop_buf *out, const SQLWCHAR *s, size_t n)
{
    qloop_buf_reserve(out, n * 3);
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return -1;
            qloop_buf_putc(out, (char)c);
            continue;
        }
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (i + 1 >= n || s[i + 1] < 0xDC00 || s[i + 1] > 0xDFFF)
                return -1;
            c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00u);
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            return -1;
        }
        char u[4];
        size_t k;
        if (c < 0x800)
            u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F)), k = 2;
        else if (c < 0x10000)
            u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3F)),
            u[2] = (char)(0x80 | (c & 0x3F)), k = 3;
        else
            u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3F)),
            u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), k = 4;
        qloop_buf_append(out, u, k);
    }
    return 0;
}

/* A NUL-terminated UTF-16 copy of UTF-8 s (caller frees); invalid bytes
 * become U+FFFD. */
static SQLWCHAR *utf8_to_utf16(const char *s)
{
    size_t n = strlen(s);
    SQLWCHAR *w = qloop_xcalloc(n * 2 + 1, sizeof *w), *o = w;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        int k = c < 0x80 ? 1 : qloop_utf8_seq(p, e);
        if (k <= 0) {
            *o++ = 0xFFFD;
            p++;
            continue;
        }
        if (k == 2)
            c = (c & 0x1F) << 6 | (p[1] & 0x3F);
        else if (k == 3)
            c = (c & 0x0F) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3F);
        else if (k == 4)
            c = (c & 0x07) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3F);
        p += k;
        if (c >= 0x10000) {
            c -= 0x10000;
            *o++ = (SQLWCHAR)(0xD800 + (c >> 10));
            *o++ = (SQLWCHAR)(0xDC00 + (c & 0x3FF));
        } else {
            *o++ = (SQLWCHAR)c;
        }
    }
    return w;
}

/* Units before the terminator of a NUL-terminated UTF-16 string. */
static size_t wlen(const SQLWCHAR *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- diagnostics ---------------------------------------------------------------- */

struct diag {
    char state[6];
    char text[768];
};

/* strcasestr (a GNU extension): the first place needle occurs in s, any case. */
static char *find_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (!strncasecmp(s, needle, n))
            return (char *)s;
    return NULL;
}

/* Removes "PWD=...", "PASSWORD=..." (any case) up to ';' or the end. */
static void scrub(char *s)
{
    static const char *const keys[] = {"pwd=", "password="};
    for (size_t k = 0; k < 2; k++)
        for (char *p = s; (p = find_ci(p, keys[k])) != NULL;) {
            char *v = p + strlen(keys[k]), *e = v;
            while (*e && *e != ';')
                e++;
            memmove(v, "***", 3);
            memmove(v + 3, e, strlen(e) + 1);
            p = v + 3;
        }
}

/* The first diagnostic record of handle h (state "" when none). */
static void get_diag(SQLSMALLINT type, SQLHANDLE h, struct diag *d)
{
    SQLWCHAR state[6] = {0}, text[600] = {0};
    SQLINTEGER native = 0;
    SQLSMALLINT len = 0;
    d->state[0] = d->text[0] = '\0';
    if (!h || !SQL_SUCCEEDED(SQLGetDiagRecW(type, h, 1, state, &native, text,
                                            (SQLSMALLINT)(sizeof text / sizeof *text), &len)))
        return;
    for (int i = 0; i < 5; i++)
        d->state[i] = (char)(state[i] < 0x80 ? state[i] : '?');
    d->state[5] = '\0';
    struct qloop_buf b = {0};
    size_t n = wlen(text);
    if (utf16_to_utf8(&b, text, n) < 0)
        qloop_buf_reset(&b);
    snprintf(d->text, sizeof d->text, "%s", b.ptr ? b.ptr : "");
    qloop_buf_free(&b);
    /* drivers prefix their name: "[unixODBC][Driver Manager]..." — keep it, it helps */
    scrub(d->text);
    for (char *p = d->text; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* 1 when the diagnostic says the server or the network went away. */
static int lost_connection(const struct diag *d)
{
    return !strncmp(d->state, "08", 2) || find_ci(d->text, "server closed the connection") ||
           find_ci(d->text, "lost connection") || find_ci(d->text, "gone away") ||
           find_ci(d->text, "could not receive data") || find_ci(d->text, "terminating connection") ||
           find_ci(d->text, "no connection to the server") || find_ci(d->text, "connection reset");
}

static int login_refused(const struct diag *d)
{
    return !strcmp(d->state, "28000") || !strcmp(d->state, "28P01") ||
           find_ci(d->text, "password authentication failed") || find_ci(d->text, "access denied") ||
           find_ci(d->text, "authentication failed") || find_ci(d->text, "invalid username/password");
}

/* ---- connecting ------------------------------------------------------------------- */

/* Connects with the connection string cs; returns the ODBC result. */
static SQLRETURN connect_with(struct odbc *st, const char *cs)
{
    if (st->connected) {
        SQLDisconnect(st->dbc);
        st->connected = 0;
    }
    SQLWCHAR *w = utf8_to_utf16(cs);
    SQLSMALLINT outlen = 0;
    guard_arm(st, "连接数据库时");
    SQLRETURN r = SQLDriverConnectW(st->dbc, NULL, w, SQL_NTS, NULL, 0, &outlen, SQL_DRIVER_NOPROMPT);
    qloop_driver_guard_disarm();
    free(w);
    st->connected = SQL_SUCCEEDED(r);
    return r;
}

/* Words a failed connection. */
static int connect_error(struct odbc *st, struct qloop_error *err)
{
    struct diag d;
    get_diag(SQL_HANDLE_DBC, st->dbc, &d);
    if (!strcmp(d.state, "IM002"))
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”：ODBC 配置中没有名为“%s”的数据源（SQLSTATE IM002）。请检查 source = \"odbc:%s\" "
                               "的写法，或在 odbc.ini 中添加该数据源（unixODBC 读取 ODBCSYSINI、ODBCINI 指向的文件，"
                               "默认为 /etc/odbc.ini 和 ~/.odbc.ini）。",
                               st->dataset, st->dsn, st->dsn);
    if (!strncmp(d.state, "IM", 2))
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”：数据源“%s”的 ODBC 驱动无法加载（SQLSTATE %s：%s）。请安装该数据库的 ODBC 驱动"
                               "（如 odbc-postgresql、odbc-mariadb），并检查 odbcinst.ini 中的 Driver 路径。",
                               st->dataset, st->dsn, d.state, d.text);
    if (login_refused(&d))
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”：数据库拒绝了数据源“%s”的登录（SQLSTATE %s：%s）。请在 odbc.ini 中检查该数据源的"
                               "用户名和密码（账号密码只写在 odbc.ini 里，不要写进规则文件）。",
                               st->dataset, st->dsn, d.state, d.text);
    return qloop_error_set(err, st->label, 0, 0,
                           "数据集“%s”：无法连接数据源“%s”的数据库（SQLSTATE %s：%s）。请检查数据库服务是否在运行，"
                           "以及 odbc.ini 中该数据源的地址、端口或套接字是否正确。",
                           st->dataset, st->dsn, d.state[0] ? d.state : "?", d.text);
}

/* Connects to the DSN, then once more with the options that make the
 * driver stream (see the top of the file) when it is one that needs them. */
static int do_connect(struct odbc *st, struct qloop_error *err)
{
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &st->env)) ||
        !SQL_SUCCEEDED(SQLSetEnvAttr(st->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
        !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, st->env, &st->dbc)))
        return qloop_error_internal(err, st->label, "无法初始化 unixODBC 驱动管理器");
    SQLSetConnectAttr(st->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)(SQLULEN)20, 0);
    char cs[600];
    snprintf(cs, sizeof cs, "DSN=%s;", st->dsn);
    if (!SQL_SUCCEEDED(connect_with(st, cs)))
        return connect_error(st, err);
    SQLWCHAR wname[128] = {0};
    SQLSMALLINT len = 0;
    SQLGetInfoW(st->dbc, SQL_DRIVER_NAME, wname, sizeof wname, &len);
    char name[128];
    size_t i = 0;
    for (; wname[i] && i + 1 < sizeof name; i++)
        name[i] = (char)(wname[i] < 0x80 ? wname[i] : '?');
    name[i] = '\0';
    int mysql = find_ci(name, "maodbc") || find_ci(name, "myodbc");
    if (find_ci(name, "psqlodbc")) {
        snprintf(cs, sizeof cs, "DSN=%s;UseDeclareFetch=1;Fetch=%lu;ReadOnly=1;", st->dsn,
                 (unsigned long)st->rowset);
    } else if (mysql) {
        char opt[32] = "0";
        SQLGetPrivateProfileString(st->dsn, "OPTION", "0", opt, sizeof opt, "odbc.ini");
        snprintf(cs, sizeof cs, "DSN=%s;OPTION=%lu;", st->dsn, strtoul(opt, NULL, 10) | 1048576ul);
    } else {
        cs[0] = '\0';
    }
    if (cs[0] && !SQL_SUCCEEDED(connect_with(st, cs)))
        return connect_error(st, err);
    /* Read only, as far as the driver can be told: the standard attribute,
     * psqlODBC's ReadOnly (above), MySQL's read-only session. The real
     * guard is a read-only account in odbc.ini. */
    SQLSetConnectAttr(st->dbc, SQL_ATTR_ACCESS_MODE, (SQLPOINTER)SQL_MODE_READ_ONLY, 0);
    if (mysql) {
        SQLHSTMT h = SQL_NULL_HSTMT;
        if (SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, st->dbc, &h)))
            SQLExecDirect(h, (SQLCHAR *)"SET SESSION TRANSACTION READ ONLY", SQL_NTS);
        if (h)
            SQLFreeHandle(SQL_HANDLE_STMT, h);
    }
    /* Reading a long value whole inside a block (SQLSetPos, then SQLGetData)
     * is trusted only where it was seen to work: MariaDB Connector/ODBC
     * 3.1.15 claims SQL_GD_BLOCK but reads the block's last row and loses the
     * others (tests/db/test_same.sh). */
    SQLUINTEGER gd = 0;
    if (SQL_SUCCEEDED(SQLGetInfoW(st->dbc, SQL_GETDATA_EXTENSIONS, &gd, sizeof gd, NULL)))
        st->gd_block = (gd & SQL_GD_BLOCK) != 0 && find_ci(name, "psqlodbc") != NULL;
    return 0;
}

/* ---- the statement ------------------------------------------------------------------- */

/* 1 when t is a plain (schema-qualified) table name: letters, digits, _, $,
 * dots and non-ASCII letters. */
static int plain_table(const char *t)
{
    if (!*t || *t == '.')
        return 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (!(*p >= 0x80 || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '$' || (*p == '.' && p[1] && p[1] != '.')))
            return 0;
    return 1;
}

/* Fills err for a connection dropped while the query was run or its result
 * described (when: "执行 query 时", ...); returns -1. */
static int query_lost(struct odbc *st, const char *when, const struct diag *d,
                      struct qloop_error *err)
{
    return qloop_error_set(err, st->label, 0, 0,
                           "数据集“%s”：%s与数据源“%s”的连接中断（SQLSTATE %s：%s）。请检查数据库服务与网络后"
                           "重新运行。",
                           st->dataset, when, st->dsn, d->state, d->text);
}

/* The result's columns could not be described after the query ran: a
 * connection dropped there (the server stopped between the query and its
 * first rows) is told as one, not as a header without the rule's fields.
 * Returns -1 with err. */
static int describe_failed(struct odbc *st, const char *what, struct qloop_error *err)
{
    struct diag d;
    get_diag(SQL_HANDLE_STMT, st->stmt, &d);
    if (lost_connection(&d)) {
        char when[64];
        snprintf(when, sizeof when, "读取 %s 结果的列时", what);
        return query_lost(st, when, &d, err);
    }
    return qloop_error_set(err, st->label, 0, 0,
                           "数据集“%s”：数据源“%s”不能说明 %s 结果的列（SQLSTATE %s：%s）。请检查数据库服务"
                           "与驱动后重新运行。",
                           st->dataset, st->dsn, what, d.state, d.text);
}

/* Runs the query and binds its columns. */
static int do_query(struct odbc *st, const struct qloop_source_options *o, struct qloop_error *err)
{
    struct qloop_buf sql = {0};
    const char *what = "query";
    if (o && o->query && *o->query) {
        qloop_buf_append(&sql, o->query, strlen(o->query));
    } else {
        const char *t = o && o->table && *o->table ? o->table : st->dataset;
        what = "table";
        if (!plain_table(t)) {
            qloop_buf_free(&sql);
            return qloop_error_set(err, st->label, 0, 0,
                                   "数据集“%s”：table = \"%s\" 不是表名：table 只能写表名（可带模式名，如 ods.person）；"
                                   "其他读取方式请写 query = \"SELECT ...\"。",
                                   st->dataset, t);
        }
        qloop_buf_printf(&sql, "SELECT * FROM %s", t);
    }
    SQLAllocHandle(SQL_HANDLE_STMT, st->dbc, &st->stmt);
    SQLSetStmtAttr(st->stmt, SQL_ATTR_CURSOR_TYPE, (SQLPOINTER)SQL_CURSOR_FORWARD_ONLY, 0);
    SQLWCHAR *w = utf8_to_utf16(sql.ptr);
    guard_arm(st, "执行查询时");
    SQLRETURN r = SQLPrepareW(st->stmt, w, SQL_NTS);
    if (SQL_SUCCEEDED(r))
        r = SQLExecute(st->stmt);
    qloop_driver_guard_disarm();
    free(w);
    qloop_buf_free(&sql);
    if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
        struct diag d;
        get_diag(SQL_HANDLE_STMT, st->stmt, &d);
        if (lost_connection(&d)) {
            char when[64];
            snprintf(when, sizeof when, "执行 %s 时", what);
            return query_lost(st, when, &d, err);
        }
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”的 %s 在数据源“%s”中执行出错（SQLSTATE %s：%s）。请检查 %s 的语法、表名和字段名；"
                               "query 只能是读取数据的 SELECT 语句（连接是只读的）。",
                               st->dataset, what, st->dsn, d.state, d.text, what);
    }
    SQLSMALLINT nc = 0;
    if (!SQL_SUCCEEDED(SQLNumResultCols(st->stmt, &nc)))
        return describe_failed(st, what, err);
    if (nc <= 0)
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”的 %s 没有返回结果集：query 必须是一条 SELECT 语句。", st->dataset, what);
    st->ncols = (size_t)nc;
    st->names = qloop_xcalloc(st->ncols, sizeof *st->names);
    st->cols = qloop_xcalloc(st->ncols, sizeof *st->cols);
    size_t row_bytes = 0;
    for (size_t j = 0; j < st->ncols; j++) {
        SQLWCHAR cname[256] = {0};
        SQLSMALLINT nlen = 0, type = 0, dec = 0, nullable = 0;
        SQLULEN size = 0;
        if (!SQL_SUCCEEDED(SQLDescribeColW(st->stmt, (SQLUSMALLINT)(j + 1), cname, 256, &nlen, &type,
                                           &size, &dec, &nullable)))
            return describe_failed(st, what, err);
        struct qloop_buf b = {0};
        if (utf16_to_utf8(&b, cname, wlen(cname)) < 0 || !b.ptr)
            qloop_buf_printf(&b, "%s%zu", b.ptr ? "" : "", j + 1);
        st->names[j] = b.ptr;
        for (size_t i = 0; i < j; i++)
            if (!strcmp(st->names[i], st->names[j]))
                return qloop_error_set(err, st->label, 0, 0,
                                       "数据集“%s”的 %s 结果中有两列都叫“%s”：请在 query 中用 AS 给它们不同的名字。",
                                       st->dataset, what, st->names[j]);
        /* UTF-16 units: the declared size twice (characters outside the BMP
         * take two), some room for signs and points, at least a timestamp */
        SQLULEN units = size == 0 || size > CELL_CHARS_MAX / 2 ? CELL_CHARS_MAX : size * 2 + 8;
        if (units < 40)
            units = 40;
        st->cols[j].width = (SQLLEN)((units + 1) * sizeof(SQLWCHAR));
        row_bytes += (size_t)st->cols[j].width + sizeof(SQLLEN);
    }
    SQLULEN fit = BLOCK_BYTES / (row_bytes ? row_bytes : 1);
    if (fit < st->rowset)
        st->rowset = fit ? fit : 1;
    for (size_t j = 0; j < st->ncols; j++) {
        struct ocol *c = &st->cols[j];
        c->data = qloop_xmalloc(st->rowset * (size_t)c->width);
        c->ind = qloop_xcalloc(st->rowset, sizeof *c->ind);
        SQLBindCol(st->stmt, (SQLUSMALLINT)(j + 1), SQL_C_WCHAR, c->data, c->width, c->ind);
    }
    st->status = qloop_xcalloc(st->rowset, sizeof *st->status);
    SQLSetStmtAttr(st->stmt, SQL_ATTR_ROW_BIND_TYPE, (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
    SQLSetStmtAttr(st->stmt, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)st->rowset, 0);
    SQLSetStmtAttr(st->stmt, SQL_ATTR_ROW_STATUS_PTR, st->status, 0);
    SQLSetStmtAttr(st->stmt, SQL_ATTR_ROWS_FETCHED_PTR, &st->fetched, 0);
    st->done = r == SQL_NO_DATA;
    st->cells = qloop_xcalloc(st->rowset * st->ncols, sizeof *st->cells);
    st->offs = qloop_xcalloc(st->rowset * st->ncols, sizeof *st->offs);
    st->row_no = qloop_xcalloc(st->rowset, sizeof *st->row_no);
    st->line_no = qloop_xcalloc(st->rowset, sizeof *st->line_no);
    return 0;
}

/* Reads the whole of a truncated value (row i, column j) into scratch with
 * SQLGetData. Returns 0, -1 with err (the driver cannot, or failed), or -2
 * when the value is not valid UTF-16. */
static int read_long(struct odbc *st, size_t i, size_t j, struct qloop_error *err)
{
    qloop_buf_reset(&st->scratch);
    if (!st->gd_block ||
        !SQL_SUCCEEDED(SQLSetPos(st->stmt, (SQLSETPOSIROW)(i + 1), SQL_POSITION, SQL_LOCK_NO_CHANGE)))
        return qloop_error_set(err, st->label, 0, 0,
                               "数据集“%s”第 %llu 行“%s”的值超过了 %ld 个字符，而数据源“%s”的驱动不能在成批读取时"
                               "分段读取长值。请在 query 中截断或转换这一列（如 LEFT(列, 8000)、substr(列, 1, 8000)）。",
                               st->dataset, (unsigned long long)(st->rows + i + 1), st->names[j],
                               (long)(st->cols[j].width / (SQLLEN)sizeof(SQLWCHAR) - 1), st->dsn);
    struct qloop_buf units = {0};
    SQLWCHAR piece[4096];
    char doing[96];
    snprintf(doing, sizeof doing, "读取第 %llu 行的长值时", (unsigned long long)(st->rows + i + 1));
    for (;;) {
        SQLLEN ind = 0;
        guard_arm(st, doing);
        SQLRETURN r = SQLGetData(st->stmt, (SQLUSMALLINT)(j + 1), SQL_C_WCHAR, piece, sizeof piece, &ind);
        qloop_driver_guard_disarm();
        if (r == SQL_NO_DATA)
            break;
        if (!SQL_SUCCEEDED(r)) {
            struct diag d;
            get_diag(SQL_HANDLE_STMT, st->stmt, &d);
            qloop_buf_free(&units);
            return qloop_error_set(err, st->label, 0, 0, "数据集“%s”：读取“%s”的长值出错（SQLSTATE %s：%s）。",
                                   st->dataset, st->names[j], d.state, d.text);
        }
        size_t got = ind == SQL_NO_TOTAL || ind >= (SQLLEN)sizeof piece ? sizeof piece - sizeof *piece
                                                                         : (size_t)ind;
        qloop_buf_append(&units, (const char *)piece, got);
        if (r == SQL_SUCCESS)
            break;
    }
    int bad = utf16_to_utf8(&st->scratch, (const SQLWCHAR *)(void *)units.ptr, units.len / sizeof(SQLWCHAR));
    qloop_buf_free(&units);
    return bad < 0 ? -2 : 0;
}

/* ---- the adapter ------------------------------------------------------------------------ */

/* adapter.h next_batch: one block fetch. */
static int od_next_batch(void *state, struct qloop_batch *bt, struct qloop_error *err)
{
    struct odbc *st = state;
    struct qloop_error local_err;
    if (!err)
        err = &local_err;
    memset(bt, 0, sizeof *bt);
    if (qloop_sticky_failed(&st->fail, err))
        return -1;
    qloop_badlist_reset(&st->bad);
    if (st->done)
        return 0;
    st->fetched = 0;
    char doing[96];
    snprintf(doing, sizeof doing, "读取第 %llu 行之后", (unsigned long long)st->rows);
    guard_arm(st, doing);
    SQLRETURN r = SQLFetchScroll(st->stmt, SQL_FETCH_NEXT, 0);
    qloop_driver_guard_disarm();
    if (r == SQL_NO_DATA) {
        st->done = 1;
        return 0;
    }
    if (!SQL_SUCCEEDED(r)) {
        struct diag d;
        get_diag(SQL_HANDLE_STMT, st->stmt, &d);
        if (lost_connection(&d))
            qloop_error_set(err, st->label, 0, 0,
                            "数据集“%s”：读取中与数据源“%s”的连接中断（SQLSTATE %s：%s），已读 %llu 行；本次运行不保存任何"
                            "结果。请检查数据库服务与网络后重新运行。",
                            st->dataset, st->dsn, d.state, d.text, (unsigned long long)st->rows);
        else
            qloop_error_set(err, st->label, 0, 0,
                            "数据集“%s”：从数据源“%s”读取第 %llu 行之后出错（SQLSTATE %s：%s）。请检查数据库与 query 后"
                            "重新运行。",
                            st->dataset, st->dsn, (unsigned long long)st->rows, d.state, d.text);
        return qloop_sticky_fail(&st->fail, err);
    }
    qloop_buf_reset(&st->arena);
    size_t n = 0, m = st->ncols;
    for (size_t i = 0; i < st->fetched; i++) {
        if (st->status[i] == SQL_ROW_NOROW)
            continue;
        uint64_t row_no = st->rows + i + 1;
        const char *bad = st->status[i] == SQL_ROW_ERROR ? "数据库无法把这一行的值转换为文本" : NULL;
        size_t mark = st->arena.len;
        for (size_t j = 0; j < m && !bad; j++) {
            struct ocol *c = &st->cols[j];
            SQLLEN ind = c->ind[i];
            struct qloop_field *f = &st->cells[n * m + j];
            if (ind == SQL_NULL_DATA) {
                *f = (struct qloop_field){"", 0, 1};
                continue;
            }
            st->offs[n * m + j] = st->arena.len;
            const SQLWCHAR *w = (const SQLWCHAR *)(const void *)((const char *)c->data + i * (size_t)c->width);
            if (ind == SQL_NO_TOTAL || ind > c->width - (SQLLEN)sizeof(SQLWCHAR)) {
                int rr = read_long(st, i, j, err);
                if (rr == -1)
                    return qloop_sticky_fail(&st->fail, err);
                if (rr == -2)
                    bad = "值中含有无效的 UTF-16 字符或空字符";
                else
                    qloop_buf_append(&st->arena, st->scratch.ptr ? st->scratch.ptr : "", st->scratch.len);
            } else if (utf16_to_utf8(&st->arena, w, (size_t)ind / sizeof(SQLWCHAR)) < 0) {
                bad = "值中含有无效的 UTF-16 字符或空字符";
            }
            f->null = 0;
            f->len = st->arena.len - st->offs[n * m + j];
            qloop_buf_putc(&st->arena, '\0');
        }
        if (bad) {
            st->arena.len = mark;
            if (!st->report_bad) {
                qloop_error_set(err, st->label, (long)row_no, 0, "数据集“%s”第 %llu 行：%s。请检查数据库中的这一行。",
                                st->dataset, (unsigned long long)row_no, bad);
                return qloop_sticky_fail(&st->fail, err);
            }
            qloop_badlist_add(&st->bad, row_no, row_no, "%s。", bad);
            continue;
        }
        st->row_no[n] = st->line_no[n] = row_no;
        n++;
    }
    st->rows += st->fetched;
    qloop_fields_point(st->cells, st->offs, n * m, st->arena.ptr);
    qloop_batch_fill(bt, n, m, st->cells, st->row_no, st->line_no, &st->bad);
    return 1;
}

static void od_columns(void *state, size_t *ncols, const char *const **names)
{
    struct odbc *st = state;
    *ncols = st->ncols;
    *names = (const char *const *)st->names;
}

static void od_close(void *state)
{
    struct odbc *st = state;
    if (!st)
        return;
    guard_arm(st, "关闭连接时");
    if (st->stmt)
        SQLFreeHandle(SQL_HANDLE_STMT, st->stmt);
    if (st->connected)
        SQLDisconnect(st->dbc);
    if (st->dbc)
        SQLFreeHandle(SQL_HANDLE_DBC, st->dbc);
    if (st->env)
        SQLFreeHandle(SQL_HANDLE_ENV, st->env);
    qloop_driver_guard_disarm();
    for (size_t j = 0; j < st->ncols; j++) {
        free(st->names ? st->names[j] : NULL);
        if (st->cols)
            free(st->cols[j].data), free(st->cols[j].ind);
    }
    free(st->names), free(st->cols), free(st->status);
    free(st->cells), free(st->offs), free(st->row_no), free(st->line_no);
    qloop_buf_free(&st->arena);
    qloop_buf_free(&st->scratch);
    qloop_badlist_free(&st->bad);
    free(st->label), free(st->dsn), free(st->dataset);
    free(st);
}

/* adapter.h open: connects to the DSN of "odbc:NAME" and runs the query. */
static int od_open(const char *path, const struct qloop_source_options *opts, void **state,
                   struct qloop_error *err)
{
    struct qloop_error local_err;
    if (!err)
        err = &local_err;
    *state = NULL;
    struct odbc *st = qloop_xcalloc(1, sizeof *st);
    st->label = qloop_xstrdup(path);
    const char *colon = strchr(path, ':');
    st->dsn = qloop_xstrdup(colon ? colon + 1 : path);
    st->dataset = qloop_xstrdup(QLOOP_DATASET_NAME(opts));
    st->report_bad = opts && opts->bad_rows == QLOOP_BAD_ROWS_REPORT;
    st->rowset = opts && opts->batch_rows ? opts->batch_rows : 4096;
    int rc;
    if (!st->dsn[0] || strpbrk(st->dsn, ";={}[]") || strlen(st->dsn) > 200)
        rc = qloop_error_set(err, st->label, 0, 0,
                             "数据集“%s”：source = \"%s\" 中的数据源名称无效：odbc: 后面只能写 odbc.ini 中数据源的名字"
                             "（如 odbc:population），账号、密码等连接参数只写在 odbc.ini 里。",
                             st->dataset, path);
    else
        rc = do_connect(st, err);
    if (rc == 0)
        rc = do_query(st, opts, err);
    if (rc < 0) {
        od_close(st);
        return -1;
    }
    *state = st;
    return 0;
}

static const char *const od_extensions[] = {NULL};

const struct qloop_adapter qloop_adapter_odbc = {
    .name = "odbc",
    .extensions = od_extensions,
    .scheme = "odbc",
    .open = od_open,
    .columns = od_columns,
    .next_batch = od_next_batch,
    .close = od_close,
};
