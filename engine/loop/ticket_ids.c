/*
 * ticket_ids.c — the findings a run adds to a ticket, handed to the items'
 * INSERT … SELECT as rows of a table-valued function over a C array
 * (TK_IDS_SQL, an eponymous virtual table) instead of a JSON text read by
 * json_each: the statement binds the array with sqlite3_bind_pointer and
 * reads each finding's id and reopened_from as integers, with no text to
 * format in C nor to parse in SQLite. SQLite's own carray extension does
 * this but is not in the library qloop links (Debian's 3.40.1). Read only,
 * one row per array element, in array order.
 *
 * Beside each id goes the evidence digest the item keeps, when the run
 * made it already: the findings writer digests every finding it stores
 * (ticket_evidence_digest as a finding's) and hands the digests to the
 * ticket phase with the findings' keys (struct ticket_seen); on a first
 * night nothing else needs them, and tk_kept_take (ticket_fresh.c) keeps
 * them with the keys for the items' INSERT, which then neither reads the
 * finding's evidence columns nor digests them again. With them go each
 * finding's record_ref and its kind's field, as texts: given all of an
 * item's columns, the INSERT reads no finding at all (ticket_items.c).
 */
#include <stdlib.h>
#include <string.h>

#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* The pointer type sqlite3_bind_pointer and sqlite3_value_pointer agree on:
 * a pointer bound under any other type reads as none (no rows). */
static const char ids_type[] = "qloop_tk_ids";

/* Columns: the finding, the reopened ticket, the digest, the record_ref,
 * the field, and the hidden argument (the array). */
enum { COL_FINDING, COL_REOPENED, COL_DIGEST, COL_REF, COL_FIELD, COL_LIST };

/* A cursor: the array of its filter, the place in it, and there the
 * element's record_ref and field in the list's texts (NULL: none given). */
struct ids_cursor {
    sqlite3_vtab_cursor base;
    const struct tk_ids *list;
    size_t at;
    const char *ref, *field;
};

static int ids_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **errmsg)
{
    (void)aux, (void)argc, (void)argv, (void)errmsg;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(finding INTEGER, reopened INTEGER,"
                                      " digest INTEGER, record_ref TEXT, field TEXT,"
                                      " list HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_vtab *t = sqlite3_malloc(sizeof *t);
    if (!t)
        return SQLITE_NOMEM;
    memset(t, 0, sizeof *t);
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    *out = t;
    return SQLITE_OK;
}

static int ids_disconnect(sqlite3_vtab *t)
{
    sqlite3_free(t);
    return SQLITE_OK;
}

/* Only a plan with the array given (list = ?) is a plan: without it the
 * table has no rows to offer, and SQLite reports the query as having no
 * plan instead of running it. */
static int ids_best_index(sqlite3_vtab *t, sqlite3_index_info *info)
{
    (void)t;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn == COL_LIST && c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->usable) {
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->idxNum = 1;
            info->estimatedCost = 1.0;
            info->estimatedRows = 8192;
            return SQLITE_OK;
        }
    }
    return SQLITE_CONSTRAINT;
}

static int ids_open(sqlite3_vtab *t, sqlite3_vtab_cursor **out)
{
    (void)t;
    struct ids_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int ids_close(sqlite3_vtab_cursor *cur)
{
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int ids_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                      sqlite3_value **argv)
{
    (void)idx_str;
    struct ids_cursor *c = (struct ids_cursor *)cur;
    c->list = idx_num == 1 && argc == 1 ? sqlite3_value_pointer(argv[0], ids_type) : NULL;
    c->at = 0;
    c->ref = c->list ? c->list->refs : NULL;
    c->field = c->list ? c->list->fields : NULL;
    return SQLITE_OK;
}

static int ids_next(sqlite3_vtab_cursor *cur)
{
    struct ids_cursor *c = (struct ids_cursor *)cur;
    c->at++;
    if (c->ref)
        c->ref += strlen(c->ref) + 1;
    if (c->field)
        c->field += strlen(c->field) + 1;
    return SQLITE_OK;
}

static int ids_eof(sqlite3_vtab_cursor *cur)
{
    const struct ids_cursor *c = (const struct ids_cursor *)cur;
    return !c->list || c->at >= c->list->n;
}

static int ids_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    const struct ids_cursor *c = (const struct ids_cursor *)cur;
    if (col == COL_FINDING) {
        sqlite3_result_int64(ctx, c->list->finding[c->at]);
    } else if (col == COL_REOPENED) {
        int64_t from = c->list->reopened[c->at];
        if (from > 0)
            sqlite3_result_int64(ctx, from);
        else
            sqlite3_result_null(ctx);
    } else if (col == COL_DIGEST && c->list->digest && c->list->digest[c->at]) {
        uint64_t d = c->list->digest[c->at];
        int64_t v;
        memcpy(&v, &d, sizeof v);
        sqlite3_result_int64(ctx, v);
    } else if (col == COL_REF && c->ref) {
        /* the list outlives the statement's step: no copy made here */
        sqlite3_result_text(ctx, c->ref, -1, SQLITE_STATIC);
    } else if (col == COL_FIELD && c->field && *c->field) {
        sqlite3_result_text(ctx, c->field, -1, SQLITE_STATIC);
    } else {
        sqlite3_result_null(ctx);
    }
    return SQLITE_OK;
}

static int ids_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid)
{
    *rowid = (sqlite_int64)((const struct ids_cursor *)cur)->at + 1;
    return SQLITE_OK;
}

static const sqlite3_module ids_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE of it */
    .xConnect = ids_connect,
    .xBestIndex = ids_best_index,
    .xDisconnect = ids_disconnect,
    .xDestroy = ids_disconnect,
    .xOpen = ids_open,
    .xClose = ids_close,
    .xFilter = ids_filter,
    .xNext = ids_next,
    .xEof = ids_eof,
    .xColumn = ids_column,
    .xRowid = ids_rowid,
};

int tk_ids_sql(sqlite3 *db, struct qloop_error *err)
{
    /* registered once per connection: registering it again would free the
     * eponymous table under a statement still using it */
    sqlite3_stmt *probe = NULL;
    if (sqlite3_prepare_v2(db, "SELECT finding FROM " TK_IDS_SQL "(NULL)", -1, &probe, NULL) ==
        SQLITE_OK) {
        sqlite3_finalize(probe);
        return 0;
    }
    if (sqlite3_create_module(db, TK_IDS_SQL, &ids_module, NULL) != SQLITE_OK) {
        qloop_error_internal(err, sqlite3_db_filename(db, "main"), "无法登记工单记录的编号表：%s",
                             sqlite3_errmsg(db));
        return -2;
    }
    return 0;
}

int tk_ids_bind(sqlite3_stmt *st, int param, const struct tk_ids *list)
{
    return sqlite3_bind_pointer(st, param, (void *)list, ids_type, NULL);
}
