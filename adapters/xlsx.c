/*
 * xlsx.c — the Excel workbook adapter (.xlsx, Office Open XML).
 *
 * The workbook is a zip (read with minizip) of XML parts (read with expat).
 * open() reads the small parts whole: xl/workbook.xml (the sheets in order and
 * the 1904 date system), its relationships (which part is which sheet, where
 * the shared strings and the styles are), the shared strings (every text
 * cell's text, rich-text runs joined, phonetic runs left out, _xHHHH_ escapes
 * decoded) and the styles (each cell style's number format). Then it streams
 * the chosen sheet (`sheet` by name, default the first) up to the header row
 * (`header_row`, default 1), whose cells name the columns.
 *
 * The sheet is not loaded: each next_batch() feeds expat more of the inflated
 * sheet and expat is suspended after the row that fills the batch, so memory
 * holds one batch of rows (plus the shared strings, which any cell may
 * name). A cell's text is what a person sees in it (numfmt.c): shared and
 * inline strings as they are, numbers and dates rendered by the cell
 * style's number format (General shows integers without ".0"), TRUE/FALSE,
 * error values as written (#N/A). Rows with no value are skipped; a data
 * row's number is its sheet row minus the header row, and its "line" is the
 * sheet row. A value in a column the header does not name is a malformed
 * row. A file that is not a zip (or is cut short), a missing part, broken XML
 * and a missing sheet are errors naming the dataset and the file.
 */
#include <expat.h>
#include <stdarg.h>
#include <minizip/unzip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "adapters.h"
#include "base/buf.h"

struct rcell {
    size_t col, off, len;
};

struct sheet_ref {
    char *name, *rid;
};

struct xlsx {
    unzFile zf;
    int entry_open;
    char *path, *dataset;
    const char *part;         /* the XML part being parsed, for messages */
    unsigned long header_row;
    size_t batch_rows;
    int report_bad;
    int date1904;
    /* workbook.xml and its relationships */
    struct sheet_ref *sheets;
    size_t nsheets;
    size_t chosen;            /* index into sheets */
    char *sheet_part, *sst_part, *styles_part;
    /* shared strings */
    struct qloop_buf sst;
    size_t *sst_off;
    size_t nsst, sst_cap;
    /* styles: each cellXfs entry's format code (NULL = General) */
    unsigned long *numfmt_id;
    char **numfmt_code;
    size_t nnumfmt;
    const char **xf_code;
    size_t nxf;
    int in_cellxfs;
    /* the XML being parsed */
    XML_Parser xp;
    struct qloop_buf text;    /* character data collected */
    int collect;
    int in_si, in_rph, in_is;
    /* the sheet */
    int suspended, gave_final, sheet_done, header_done;
    unsigned long row_r, last_r, cell_col;
    char cell_t[16];
    unsigned long cell_s;
    struct rcell *rc;
    size_t nrc, rccap;
    struct qloop_buf rowtext;
    char **names;
    size_t ncols;
    /* the batch */
    size_t n;
    struct qloop_field *cells;
    size_t *offs;
    uint64_t *row_no, *line_no;
    struct qloop_buf arena;
    struct qloop_badlist bad;
    /* errors */
    int cb_failed;
    struct qloop_error cb_err;
    struct qloop_sticky fail;    /* next_batch failed: for good */
    char buf[65536];
};

/* The local part of an XML name ("x:row" → "row"). */
static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

/* The value of attribute name (by local name) or NULL. */
static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (!strcmp(local(atts[i]), name))
            return atts[i + 1];
    return NULL;
}

/* A handler's fatal error: stops the parse. Returns nothing useful. */
static void cb_fail(struct xlsx *st, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cb_fail(struct xlsx *st, long line, const char *fmt, ...)
{
    if (st->cb_failed)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qloop_error_set(&st->cb_err, st->path, line, 0, "数据集“%s”：%s", st->dataset, msg);
    st->cb_failed = 1;
    XML_StopParser(st->xp, XML_FALSE);
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    struct xlsx *st = ud;
    if (st->collect)
        qloop_buf_append(&st->text, s, (size_t)len);
}

/* Decodes Excel's _xHHHH_ escapes (control characters in text) in place;
 * a NUL becomes nothing. Returns the new length. */
static size_t unescape_x(char *s, size_t n)
{
    if (!memchr(s, '_', n))
        return n;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned v = 0;
        if (s[i] == '_' && i + 6 < n && s[i + 1] == 'x' && s[i + 6] == '_' &&
            sscanf(s + i + 2, "%4x", &v) == 1 && strspn(s + i + 2, "0123456789abcdefABCDEF") >= 4) {
            if (v > 0 && v < 0x80)
                s[w++] = (char)v;
            else if (v >= 0x80 && v < 0x800)
                s[w++] = (char)(0xC0 | v >> 6), s[w++] = (char)(0x80 | (v & 0x3F));
            else if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF))
                s[w++] = (char)(0xE0 | v >> 12), s[w++] = (char)(0x80 | ((v >> 6) & 0x3F)),
                s[w++] = (char)(0x80 | (v & 0x3F));
            i += 7;
        } else {
            s[w++] = s[i++];
        }
    }
    s[w] = '\0';
    return w;
}

/* ---- the zip ------------------------------------------------------------------ */

/* Parses the whole part name with the given handlers. Returns 0, 1 when the
 * part is missing, -1 with err. */
static int parse_part(struct xlsx *st, const char *name, XML_StartElementHandler start,
                      XML_EndElementHandler end, struct qloop_error *err)
{
    if (unzLocateFile(st->zf, name, 2) != UNZ_OK)
        return 1;
    st->part = name;
    if (unzOpenCurrentFile(st->zf) != UNZ_OK)
        return qloop_error_set(err, st->path, 0, 0,
                               "数据集“%s”：无法读取工作簿中的 %s：文件可能已损坏或加了密码，请在 Excel 中打开后"
                               "另存为不加密的 .xlsx。",
                               st->dataset, name);
    st->xp = XML_ParserCreate(NULL);
    XML_SetUserData(st->xp, st);
    XML_SetElementHandler(st->xp, start, end);
    XML_SetCharacterDataHandler(st->xp, on_text);
    int rc = 0;
    for (;;) {
        int len = unzReadCurrentFile(st->zf, st->buf, sizeof st->buf);
        if (len < 0) {
            rc = qloop_error_set(err, st->path, 0, 0,
                                 "数据集“%s”：解压工作簿中的 %s 出错（%d）：文件已损坏，请重新导出。",
                                 st->dataset, name, len);
            break;
        }
        if (XML_Parse(st->xp, st->buf, len, len == 0) != XML_STATUS_OK) {
            if (st->cb_failed)
                rc = (*err = st->cb_err, -1);
            else
                rc = qloop_error_set(err, st->path, 0, 0,
                                     "数据集“%s”：工作簿中的 %s 不是有效的 XML（第 %lu 行：%s）：文件可能已损坏，"
                                     "请在 Excel 中打开后重新保存为 .xlsx。",
                                     st->dataset, name, (unsigned long)XML_GetCurrentLineNumber(st->xp),
                                     XML_ErrorString(XML_GetErrorCode(st->xp)));
            break;
        }
        if (len == 0)
            break;
    }
    XML_ParserFree(st->xp);
    st->xp = NULL;
    if (unzCloseCurrentFile(st->zf) == UNZ_CRCERROR && rc == 0)
        rc = qloop_error_set(err, st->path, 0, 0,
                             "数据集“%s”：工作簿中的 %s 校验失败（CRC）：文件已损坏，请重新导出。", st->dataset,
                             name);
    return rc;
}

/* ---- workbook.xml and its relationships ------------------------------------------ */

static void wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    if (!strcmp(n, "workbookPr")) {
        const char *d = attr(atts, "date1904");
        st->date1904 = d && (!strcmp(d, "1") || !strcasecmp(d, "true"));
    } else if (!strcmp(n, "sheet")) {
        const char *sn = attr(atts, "name"), *rid = attr(atts, "id");
        if (!sn || !rid)
            return;
        st->sheets = qloop_xrealloc(st->sheets, (st->nsheets + 1) * sizeof *st->sheets);
        st->sheets[st->nsheets++] = (struct sheet_ref){qloop_xstrdup(sn), qloop_xstrdup(rid)};
    }
}

static void no_end(void *ud, const XML_Char *name)
{
    (void)ud, (void)name;
}

/* "worksheets/sheet1.xml" (relative to xl/) or "/xl/worksheets/sheet1.xml". */
static char *part_name(const char *target)
{
    struct qloop_buf b = {0};
    if (target[0] == '/')
        qloop_buf_append(&b, target + 1, strlen(target + 1));
    else
        qloop_buf_printf(&b, "xl/%s", target);
    return b.ptr;
}

static void rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx *st = ud;
    if (strcmp(local(name), "Relationship"))
        return;
    const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
    if (!id || !type || !target)
        return;
    size_t tl = strlen(type);
    if (!strcmp(id, st->sheets[st->chosen].rid) && !st->sheet_part)
        st->sheet_part = part_name(target);
    else if (tl >= 14 && !strcmp(type + tl - 14, "/sharedStrings") && !st->sst_part)
        st->sst_part = part_name(target);
    else if (tl >= 7 && !strcmp(type + tl - 7, "/styles") && !st->styles_part)
        st->styles_part = part_name(target);
}

/* ---- shared strings and styles ------------------------------------------------------ */

static void sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    (void)atts;
    if (!strcmp(n, "si")) {
        st->in_si = 1;
        qloop_buf_reset(&st->text);
    } else if (!strcmp(n, "rPh")) {
        st->in_rph = 1;
    } else if (!strcmp(n, "t") && st->in_si && !st->in_rph) {
        st->collect = 1;
    }
}

static void sst_end(void *ud, const XML_Char *name)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    if (!strcmp(n, "t")) {
        st->collect = 0;
    } else if (!strcmp(n, "rPh")) {
        st->in_rph = 0;
    } else if (!strcmp(n, "si")) {
        st->in_si = 0;
        if (st->nsst == st->sst_cap) {
            st->sst_cap = st->sst_cap ? st->sst_cap * 2 : 1024;
            st->sst_off = qloop_xrealloc(st->sst_off, st->sst_cap * sizeof *st->sst_off);
        }
        st->sst_off[st->nsst++] = st->sst.len;
        size_t len = st->text.len ? unescape_x(st->text.ptr, st->text.len) : 0;
        qloop_buf_append(&st->sst, st->text.ptr ? st->text.ptr : "", len);
        qloop_buf_putc(&st->sst, '\0');
    }
}

static void styles_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    if (!strcmp(n, "numFmt")) {
        const char *id = attr(atts, "numFmtId"), *code = attr(atts, "formatCode");
        if (!id || !code)
            return;
        st->numfmt_id = qloop_xrealloc(st->numfmt_id, (st->nnumfmt + 1) * sizeof *st->numfmt_id);
        st->numfmt_code = qloop_xrealloc(st->numfmt_code, (st->nnumfmt + 1) * sizeof *st->numfmt_code);
        st->numfmt_id[st->nnumfmt] = strtoul(id, NULL, 10);
        st->numfmt_code[st->nnumfmt++] = qloop_xstrdup(code);
    } else if (!strcmp(n, "cellXfs")) {
        st->in_cellxfs = 1;
    } else if (!strcmp(n, "xf") && st->in_cellxfs) {
        const char *id = attr(atts, "numFmtId");
        unsigned long fid = id ? strtoul(id, NULL, 10) : 0;
        const char *code = qloop_numfmt_builtin(fid);
        for (size_t i = 0; i < st->nnumfmt; i++)
            if (st->numfmt_id[i] == fid)
                code = st->numfmt_code[i];
        st->xf_code = qloop_xrealloc(st->xf_code, (st->nxf + 1) * sizeof *st->xf_code);
        st->xf_code[st->nxf++] = code;
    }
}

static void styles_end(void *ud, const XML_Char *name)
{
    struct xlsx *st = ud;
    if (!strcmp(local(name), "cellXfs"))
        st->in_cellxfs = 0;
}

/* ---- the sheet ------------------------------------------------------------------------ */

/* Column index of a cell reference ("AB12" → 27), or -1. */
static long ref_col(const char *r)
{
    long c = 0;
    int any = 0;
    for (; *r >= 'A' && *r <= 'Z'; r++, any = 1)
        c = c * 26 + (*r - 'A' + 1);
    return any && c <= 16384 ? c - 1 : -1;
}

/* "AB" for column index 27 (into buf of at least 8). */
static const char *col_name(size_t col, char *buf)
{
    char tmp[8];
    size_t n = 0;
    for (size_t c = col + 1; c > 0 && n < 7; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

static void sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    if (!strcmp(n, "row")) {
        const char *r = attr(atts, "r");
        st->row_r = r ? strtoul(r, NULL, 10) : st->last_r + 1;
        st->nrc = 0;
        st->cell_col = 0;
        qloop_buf_reset(&st->rowtext);
    } else if (!strcmp(n, "c")) {
        const char *r = attr(atts, "r"), *t = attr(atts, "t"), *s = attr(atts, "s");
        long c = r ? ref_col(r) : -1;
        st->cell_col = c >= 0 ? (unsigned long)c : st->cell_col;
        snprintf(st->cell_t, sizeof st->cell_t, "%s", t ? t : "n");
        st->cell_s = s ? strtoul(s, NULL, 10) : 0;
        qloop_buf_reset(&st->text);
        st->in_is = st->in_rph = 0;
    } else if (!strcmp(n, "v")) {
        st->collect = 1;
    } else if (!strcmp(n, "is")) {
        st->in_is = 1;
    } else if (!strcmp(n, "rPh")) {
        st->in_rph = 1;
    } else if (!strcmp(n, "t") && st->in_is && !st->in_rph) {
        st->collect = 1;
    }
}

/* Appends the text of the cell just closed to the row, unless empty. */
static void end_cell(struct xlsx *st)
{
    const char *t = st->cell_t;
    const char *v = st->text.ptr ? st->text.ptr : "";
    size_t vlen = st->text.len;
    size_t off = st->rowtext.len;
    if (!strcmp(t, "s")) {
        char *end;
        unsigned long idx = strtoul(v, &end, 10);
        if (end == v || idx >= st->nsst) {
            cb_fail(st, (long)st->row_r,
                    "工作表第 %lu 行的单元格引用了不存在的共享字符串（%s）：文件已损坏，请在 Excel 中打开后重新保存。",
                    st->row_r, v);
            return;
        }
        const char *s = st->sst.ptr + st->sst_off[idx];
        qloop_buf_append(&st->rowtext, s, strlen(s));
    } else if (!strcmp(t, "b")) {
        if (vlen)
            qloop_buf_append(&st->rowtext, v[0] == '1' ? "TRUE" : "FALSE", v[0] == '1' ? 4 : 5);
    } else if (!strcmp(t, "inlineStr") || !strcmp(t, "str")) {
        vlen = vlen ? unescape_x(st->text.ptr, vlen) : 0;
        qloop_buf_append(&st->rowtext, v, vlen);
    } else if (!strcmp(t, "n") && vlen) {
        char *end;
        double d = strtod(v, &end);
        if (*end)
            qloop_buf_append(&st->rowtext, v, vlen);
        else
            qloop_numfmt_render(&st->rowtext, d, st->cell_s < st->nxf ? st->xf_code[st->cell_s] : NULL,
                                st->date1904);
    } else { /* e (#N/A), d (ISO date): as written */
        qloop_buf_append(&st->rowtext, v, vlen);
    }
    size_t len = st->rowtext.len - off;
    if (len) {
        if (st->nrc == st->rccap) {
            st->rccap = st->rccap ? st->rccap * 2 : 32;
            st->rc = qloop_xrealloc(st->rc, st->rccap * sizeof *st->rc);
        }
        st->rc[st->nrc++] = (struct rcell){st->cell_col, off, len};
        qloop_buf_putc(&st->rowtext, '\0');
    }
    st->cell_col++;
}

/* The header row: its cells name the columns (no gap, no repeat). */
static void take_header(struct xlsx *st)
{
    size_t width = 0;
    for (size_t i = 0; i < st->nrc; i++)
        if (st->rc[i].col + 1 > width)
            width = st->rc[i].col + 1;
    if (width == 0) {
        cb_fail(st, (long)st->row_r, "工作表第 %lu 行（表头）是空的：请用 header_row 指明列名所在的行。", st->row_r);
        return;
    }
    st->names = qloop_xcalloc(width, sizeof *st->names);
    st->ncols = width;
    for (size_t i = 0; i < st->nrc; i++) {
        free(st->names[st->rc[i].col]);
        st->names[st->rc[i].col] = qloop_xstrdup(st->rowtext.ptr + st->rc[i].off);
    }
    char cn[8];
    for (size_t j = 0; j < width; j++) {
        if (!st->names[j]) {
            cb_fail(st, (long)st->row_r,
                    "表头（第 %lu 行）%s 列的列名为空：每一列都必须有列名。请补上列名，或用 header_row 指明列名所在的行。",
                    st->row_r, col_name(j, cn));
            return;
        }
        for (size_t i = 0; i < j; i++)
            if (!strcmp(st->names[i], st->names[j])) {
                cb_fail(st, (long)st->row_r, "表头（第 %lu 行）中列名“%s”出现了两次：每个列名只能出现一次，请改名。",
                        st->row_r, st->names[j]);
                return;
            }
    }
    st->header_done = 1;
    XML_StopParser(st->xp, XML_TRUE); /* open() ends here */
}

/* A data row: into the batch, or listed as malformed. */
static void take_row(struct xlsx *st)
{
    uint64_t row_no = st->row_r - st->header_row;
    for (size_t i = 0; i < st->nrc; i++)
        if (st->rc[i].col >= st->ncols) {
            char cn[8];
            char msg[512];
            snprintf(msg, sizeof msg, "%s 列有值，但表头（第 %lu 行）这一列没有列名：请补上列名，或删除多余的内容。",
                     col_name(st->rc[i].col, cn), st->header_row);
            if (st->report_bad)
                qloop_badlist_add(&st->bad, row_no, st->row_r, "%s", msg);
            else
                cb_fail(st, (long)st->row_r, "工作表第 %lu 行：%s", st->row_r, msg);
            return;
        }
    size_t n = st->n, m = st->ncols;
    for (size_t j = 0; j < m; j++)
        st->cells[n * m + j] = (struct qloop_field){"", 0, 1};
    for (size_t i = 0; i < st->nrc; i++) {
        size_t j = st->rc[i].col;
        st->offs[n * m + j] = st->arena.len;
        st->cells[n * m + j] = (struct qloop_field){NULL, st->rc[i].len, 0};
        qloop_buf_append(&st->arena, st->rowtext.ptr + st->rc[i].off, st->rc[i].len + 1);
    }
    st->row_no[n] = row_no;
    st->line_no[n] = st->row_r;
    if (++st->n == st->batch_rows)
        XML_StopParser(st->xp, XML_TRUE);
}

static void sheet_end(void *ud, const XML_Char *name)
{
    struct xlsx *st = ud;
    const char *n = local(name);
    if (!strcmp(n, "v") || !strcmp(n, "t")) {
        st->collect = 0;
    } else if (!strcmp(n, "rPh")) {
        st->in_rph = 0;
    } else if (!strcmp(n, "is")) {
        st->in_is = 0;
    } else if (!strcmp(n, "c")) {
        end_cell(st);
    } else if (!strcmp(n, "row")) {
        st->last_r = st->row_r;
        if (st->row_r < st->header_row || st->cb_failed)
            return;
        if (!st->header_done) {
            if (st->row_r > st->header_row)
                cb_fail(st, (long)st->row_r, "工作表第 %lu 行（表头）是空的：请用 header_row 指明列名所在的行。",
                        st->header_row);
            else
                take_header(st);
        } else if (st->nrc) {
            take_row(st);
        }
    }
}

/* Feeds the sheet until the parser suspends (a full batch, or the header in
 * open) or the sheet ends. Returns 0 or -1 with err. */
static int pump(struct xlsx *st, struct qloop_error *err)
{
    enum XML_Status s = XML_STATUS_OK;
    if (st->suspended) {
        st->suspended = 0;
        s = XML_ResumeParser(st->xp);
    }
    for (;;) {
        if (s == XML_STATUS_SUSPENDED) {
            st->suspended = 1;
            return 0;
        }
        if (s == XML_STATUS_ERROR) {
            if (st->cb_failed)
                return *err = st->cb_err, -1;
            return qloop_error_set(err, st->path, (long)XML_GetCurrentLineNumber(st->xp), 0,
                                   "数据集“%s”：工作表“%s”的 XML 有错误（%s）：文件可能已损坏或被截断，"
                                   "请在 Excel 中打开后重新保存为 .xlsx。",
                                   st->dataset, st->sheets[st->chosen].name,
                                   XML_ErrorString(XML_GetErrorCode(st->xp)));
        }
        if (st->gave_final) {
            st->sheet_done = 1;
            st->entry_open = 0;
            if (unzCloseCurrentFile(st->zf) == UNZ_CRCERROR)
                return qloop_error_set(err, st->path, 0, 0,
                                       "数据集“%s”：工作表“%s”校验失败（CRC）：文件已损坏，请重新导出。",
                                       st->dataset, st->sheets[st->chosen].name);
            return 0;
        }
        int len = unzReadCurrentFile(st->zf, st->buf, sizeof st->buf);
        if (len < 0)
            return qloop_error_set(err, st->path, 0, 0,
                                   "数据集“%s”：解压工作表“%s”出错（%d）：文件已损坏，请重新导出。", st->dataset,
                                   st->sheets[st->chosen].name, len);
        st->gave_final = len == 0;
        s = XML_Parse(st->xp, st->buf, len, len == 0);
    }
}

/* ---- the adapter ------------------------------------------------------------------------ */

/* adapter.h next_batch: the next batch_rows non-empty rows of the sheet. */
static int xl_next_batch(void *state, struct qloop_batch *bt, struct qloop_error *err)
{
    struct xlsx *st = state;
    struct qloop_error local_err;
    if (!err)
        err = &local_err;
    memset(bt, 0, sizeof *bt);
    if (qloop_sticky_failed(&st->fail, err))
        return -1;
    qloop_badlist_reset(&st->bad);
    st->n = 0;
    qloop_buf_reset(&st->arena);
    while (st->n < st->batch_rows && !st->sheet_done) {
        size_t before = st->n, nbad = st->bad.n;
        if (pump(st, err) < 0)
            return qloop_sticky_fail(&st->fail, err);
        if (st->n == before && st->bad.n == nbad && !st->suspended)
            break;
    }
    qloop_fields_point(st->cells, st->offs, st->n * st->ncols, st->arena.ptr);
    return qloop_batch_fill(bt, st->n, st->ncols, st->cells, st->row_no, st->line_no, &st->bad);
}

static void xl_columns(void *state, size_t *ncols, const char *const **names)
{
    struct xlsx *st = state;
    *ncols = st->ncols;
    *names = (const char *const *)st->names;
}

static void xl_close(void *state)
{
    struct xlsx *st = state;
    if (!st)
        return;
    if (st->xp)
        XML_ParserFree(st->xp);
    if (st->zf) {
        if (st->entry_open)
            unzCloseCurrentFile(st->zf);
        unzClose(st->zf);
    }
    for (size_t i = 0; i < st->nsheets; i++)
        free(st->sheets[i].name), free(st->sheets[i].rid);
    free(st->sheets);
    free(st->sheet_part), free(st->sst_part), free(st->styles_part);
    qloop_buf_free(&st->sst);
    free(st->sst_off);
    for (size_t i = 0; i < st->nnumfmt; i++)
        free(st->numfmt_code[i]);
    free(st->numfmt_id), free(st->numfmt_code), free(st->xf_code);
    qloop_buf_free(&st->text);
    free(st->rc);
    qloop_buf_free(&st->rowtext);
    for (size_t i = 0; i < st->ncols; i++)
        free(st->names[i]);
    free(st->names);
    free(st->cells), free(st->offs), free(st->row_no), free(st->line_no);
    qloop_buf_free(&st->arena);
    qloop_badlist_free(&st->bad);
    free(st->path), free(st->dataset);
    free(st);
}

/* Picks the sheet: by name (exactly, else ignoring case), else the first. */
static int choose_sheet(struct xlsx *st, const char *want, struct qloop_error *err)
{
    if (st->nsheets == 0)
        return qloop_error_set(err, st->path, 0, 0, "数据集“%s”：工作簿里没有工作表：请检查文件是否导出完整。",
                               st->dataset);
    if (!want || !*want)
        return st->chosen = 0, 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < st->nsheets; i++)
            if (pass ? !strcasecmp(st->sheets[i].name, want) : !strcmp(st->sheets[i].name, want))
                return st->chosen = i, 0;
    struct qloop_buf b = {0};
    for (size_t i = 0; i < st->nsheets; i++)
        qloop_buf_printf(&b, "%s“%s”", i ? "、" : "", st->sheets[i].name);
    qloop_error_set(err, st->path, 0, 0,
                    "数据集“%s”：工作簿中没有名为“%s”的工作表；现有的工作表：%s。请改正 sheet 的写法。",
                    st->dataset, want, b.ptr);
    qloop_buf_free(&b);
    return -1;
}

/* Opens the workbook and reads what comes before the sheet's rows. */
static int xl_setup(struct xlsx *st, const struct qloop_source_options *opts, struct qloop_error *err)
{
    if (access(st->path, R_OK) != 0)
        return qloop_error_set(err, st->path, 0, 0, "数据集“%s”：找不到或无法读取工作簿文件：请检查路径和权限。",
                               st->dataset);
    st->zf = unzOpen64(st->path);
    if (!st->zf)
        return qloop_error_set(err, st->path, 0, 0,
                               "数据集“%s”：这不是有效的 .xlsx 工作簿（无法按 zip 读取）：文件可能被截断或已损坏，"
                               "或并非 .xlsx（旧版 .xls 请在 Excel 中另存为 .xlsx）。请重新导出。",
                               st->dataset);
    int r = parse_part(st, "xl/workbook.xml", wb_start, no_end, err);
    if (r == 1)
        return qloop_error_set(err, st->path, 0, 0,
                               "数据集“%s”：zip 中没有 xl/workbook.xml，这不是 Excel 工作簿：请在 Excel 中另存为 .xlsx。",
                               st->dataset);
    if (r < 0 || choose_sheet(st, opts ? opts->sheet : NULL, err) < 0)
        return -1;
    if ((r = parse_part(st, "xl/_rels/workbook.xml.rels", rels_start, no_end, err)) < 0)
        return -1;
    if (!st->sheet_part)
        st->sheet_part = part_name("worksheets/sheet1.xml");
    if ((r = parse_part(st, st->sst_part ? st->sst_part : "xl/sharedStrings.xml", sst_start, sst_end, err)) < 0)
        return -1;
    if ((r = parse_part(st, st->styles_part ? st->styles_part : "xl/styles.xml", styles_start, styles_end,
                        err)) < 0)
        return -1;
    if (unzLocateFile(st->zf, st->sheet_part, 2) != UNZ_OK || unzOpenCurrentFile(st->zf) != UNZ_OK)
        return qloop_error_set(err, st->path, 0, 0,
                               "数据集“%s”：工作簿中找不到工作表“%s”的内容（%s）：文件可能已损坏，请在 Excel 中打开后"
                               "重新保存。",
                               st->dataset, st->sheets[st->chosen].name, st->sheet_part);
    st->entry_open = 1;
    st->xp = XML_ParserCreate(NULL);
    XML_SetUserData(st->xp, st);
    XML_SetElementHandler(st->xp, sheet_start, sheet_end);
    XML_SetCharacterDataHandler(st->xp, on_text);
    while (!st->header_done && !st->sheet_done)
        if (pump(st, err) < 0)
            return -1;
    if (!st->header_done)
        return qloop_error_set(err, st->path, 0, 0,
                               "数据集“%s”：工作表“%s”没有第 %lu 行（表头）：工作表是空的，或 header_row 写大了。",
                               st->dataset, st->sheets[st->chosen].name, st->header_row);
    st->cells = qloop_xcalloc(st->batch_rows * st->ncols + 1, sizeof *st->cells);
    st->offs = qloop_xcalloc(st->batch_rows * st->ncols + 1, sizeof *st->offs);
    st->row_no = qloop_xcalloc(st->batch_rows, sizeof *st->row_no);
    st->line_no = qloop_xcalloc(st->batch_rows, sizeof *st->line_no);
    return 0;
}

/* adapter.h open: the workbook's parts, then the sheet up to its header row. */
static int xl_open(const char *path, const struct qloop_source_options *opts, void **state,
                   struct qloop_error *err)
{
    struct qloop_error local_err;
    if (!err)
        err = &local_err;
    *state = NULL;
    struct xlsx *st = qloop_xcalloc(1, sizeof *st);
    st->path = qloop_xstrdup(path);
    st->dataset = qloop_xstrdup(QLOOP_DATASET_NAME(opts));
    st->header_row = opts && opts->header_row ? opts->header_row : 1;
    st->batch_rows = opts && opts->batch_rows ? opts->batch_rows : 4096;
    st->report_bad = opts && opts->bad_rows == QLOOP_BAD_ROWS_REPORT;
    if (!strcmp(path, "-")) {
        xl_close(st);
        return qloop_error_set(err, "<stdin>", 0, 0,
                               "数据集“%s”：Excel 工作簿不能从标准输入读取：请给出 .xlsx 文件的路径。",
                               QLOOP_DATASET_NAME(opts));
    }
    if (xl_setup(st, opts, err) < 0) {
        xl_close(st);
        return -1;
    }
    *state = st;
    return 0;
}

static const char *const xl_extensions[] = {"xlsx", "xlsm", NULL};

const struct qloop_adapter qloop_adapter_xlsx = {
    .name = "xlsx",
    .extensions = xl_extensions,
    .open = xl_open,
    .columns = xl_columns,
    .next_batch = xl_next_batch,
    .close = xl_close,
};
