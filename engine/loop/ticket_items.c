/*
 * ticket_items.c — a ticket's records: finding the open ticket of a dataset
 * and rule, opening one, adding a problem record to it, and what follows
 * (a new ticket handed to its provider, or announced to staff; a ticket
 * already with its provider told of new records). Reports filed by hand
 * (ticket_file.c) and runs (ticket_sync.c) both go through here.
 *
 * Grouping. A ticket is one dataset + one rule + one source ("run", "file"
 * for 系统填报, "import" for 接口对接), listing its problem records as items:
 * that is the unit a provider department works through. While a ticket is
 * open, new records of the same dataset and rule join it (one list, one
 * deadline the department is held to), and a record already open there is
 * never added twice. A partial UNIQUE index and a primary key make both
 * rules hold whatever the code does (tickets_one_open; ticket_item_refs,
 * store step 19, whose entries a first night's many items get only at the
 * end of its ticket phase, ticket_item_refs.c, which checks them all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "loop/ticket_private.h"

int tk_find_open(sqlite3 *db, const char *dataset, const char *rule, const char *source,
                 int64_t *id, struct qloop_error *err)
{
    const char *const key[] = {dataset, rule, source};
    return sql_int64_texts(db,
                           "SELECT id FROM tickets WHERE dataset = ?1 AND rule = ?2"
                           " AND source = ?3 AND state NOT IN ('shared','confirmed')",
                           3, key, 0, id, err) == 0
               ? 0
               : -2;
}

int tk_open(sqlite3 *db, const char *dataset, const char *rule, const char *source,
            const char *dept, const char *message, const char *actor, const char *run_id,
            int64_t at, const struct qloop_policy *p, int64_t *id, struct qloop_error *err)
{
    /* A ticket's department is always a registered one: a run's owners are
     * registered before its tickets open, a report's department must be
     * already; what is left (TK_NO_DEPT) is registered here. */
    if (ident_dept_ensure(db, dept && *dept ? dept : TK_NO_DEPT, "rules", actor, NULL, err) != 0)
        return -2;
    char at_s[32];
    qloop_format_datetime(at, at_s);
    int64_t policy_id;
    if (tk_policy_id(db, p, &policy_id, err) != 0)
        return -2;
    sqlite3_stmt *st = sql_prepare(db,
                                   "INSERT INTO tickets(dataset, rule, source, dept, state,"
                                   " message, policy, opened_at, opened_by, opened_run, policy_id)"
                                   " VALUES(?1, ?2, ?3, ?4, 'discovered', ?5, ?6, ?7, ?8, ?9, ?10)",
                                   err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 10, policy_id);
    sql_bind_text(st, 1, dataset);
    sql_bind_text(st, 2, rule);
    sql_bind_text(st, 3, source);
    sql_bind_text(st, 4, dept && *dept ? dept : TK_NO_DEPT);
    sql_bind_text(st, 5, sql_or_null(message));
    sql_bind_text(st, 6, p->name);
    sql_bind_text(st, 7, at_s);
    sql_bind_text(st, 8, sql_or_null(actor));
    sql_bind_text(st, 9, run_id);
    int rc = sql_done(db, st, "新建工单", err);
    sqlite3_finalize(st);
    if (rc != 0)
        return -2;
    *id = sqlite3_last_insert_rowid(db);
    struct tk t;
    if (tk_load_known(db, *id, &t, err) != 0)
        return -2;
    char reason[1024];
    if (run_id)
        snprintf(reason, sizeof reason, "运行 %s 发现问题数据", run_id);
    else
        snprintf(reason, sizeof reason, "%s（%s）",
                 strcmp(source, "import") == 0 ? "接口对接上报" : "系统填报", actor);
    return tk_history(db, &t, "open", NULL, "discovered", actor, reason, at, NULL, NULL, run_id,
                      NULL, err);
}

int tk_find_prior(sqlite3 *db, const char *dataset, const char *rule, const char *ref,
                  struct tk_prior *pr, struct sql_cached *cache, struct qloop_error *err)
{
    static const char sql[] = "SELECT i.ticket_id, t.state, i.state, " TK_EV_VALUE("i", "f")
                              " FROM ticket_item_refs r CROSS JOIN ticket_item_rows i ON i.id = r.id"
                              " JOIN tickets t ON t.id = i.ticket_id"
                              " LEFT JOIN finding_rows f ON f.id = i.finding"
                              " WHERE r.record_ref = ?3 AND r.kind = " TK_KIND_OF("?1", "?2")
                              " ORDER BY r.id DESC LIMIT 1";
    memset(pr, 0, sizeof *pr);
    struct sql_cached once = {0};
    sqlite3_stmt *st = sql_cached(db, cache ? cache : &once, sql, err);
    if (!st)
        return -2;
    sql_bind_text(st, 1, dataset);
    sql_bind_text(st, 2, rule);
    sql_bind_text(st, 3, ref);
    int rc = sql_row(db, st, "查找记录的工单", err);
    if (rc == 1) {
        pr->found = true;
        pr->ticket = sqlite3_column_int64(st, 0);
        sql_copy(st, 1, pr->ticket_state, sizeof pr->ticket_state);
        sql_copy(st, 2, pr->item_state, sizeof pr->item_state);
        pr->value = sql_dup(st, 3);
    }
    sqlite3_reset(st);
    sql_cache_free(&once);
    return rc < 0 ? -2 : 0;
}

int tk_add_item(sqlite3 *db, int64_t tid, const char *dataset, const char *rule,
                const struct tk_item *it, int64_t at, const char *run_id, int64_t reopened_from,
                const char *actor, int64_t *item_id, struct sql_cached *cache,
                struct tk_batch *batch, struct qloop_error *err)
{
    static const char sql[] = "INSERT INTO ticket_item_rows(ticket_id, kind, record_ref,"
                              " record_key, field, value, message, row_no, state, reporter,"
                              " added_at, added_run, last_run, reopened_from, sealed)"
                              " VALUES(?1, " TK_KIND_OF("?2", "?3") ", ?4, ?5, ?6, ?7, ?8, ?9,"
                              " 'open', ?10, " TK_ADDED_AT("?11", "?12") ", " TK_RUN_OF("?12")
                              ", " TK_RUN_OF("?12") ", ?13, ?14)";
    char at_s[32];
    qloop_format_datetime(at, at_s);
    struct sql_cached once = {0};
    sqlite3_stmt *st = sql_cached(db, cache ? cache : &once, sql, err);
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, tid);
    sql_bind_text(st, 2, dataset);
    sql_bind_text(st, 3, rule);
    sql_bind_text(st, 4, it->record_ref);
    sql_bind_text(st, 5, sql_or_null(it->record_key));
    sql_bind_text(st, 6, sql_or_null(it->field));
    sql_bind_text(st, 7, it->value);
    sql_bind_text(st, 8, sql_or_null(it->message));
    if (it->row_no >= 0)
        sqlite3_bind_int64(st, 9, it->row_no);
    sql_bind_text(st, 10, sql_or_null(it->reporter));
    sql_bind_text(st, 11, at_s);
    sql_bind_text(st, 12, run_id);
    if (reopened_from > 0)
        sqlite3_bind_int64(st, 13, reopened_from);
    if (it->sealed)
        sqlite3_bind_blob(st, 14, it->sealed, (int)it->sealed_len, SQLITE_STATIC);
    int rc = sql_done(db, st, "写入工单记录", err);
    sql_cache_free(&once);
    if (rc != 0)
        return -2;
    int64_t iid = sqlite3_last_insert_rowid(db);
    if (item_id)
        *item_id = iid;
    return tk_audit_item(db, batch, tid, iid, it->record_ref,
                         reopened_from > 0 ? "reopened" : "added", actor, run_id, reopened_from,
                         err);
}

void tk_adds_push(struct tk_adds *a, int64_t finding_id, const char *record_ref,
                  const char *field, int64_t reopened_from, uint64_t digest)
{
    qloop_buf_append(&a->ids, (const char *)&finding_id, sizeof finding_id);
    qloop_buf_append(&a->digests, (const char *)&digest, sizeof digest);
    qloop_buf_append(&a->refs, record_ref, strlen(record_ref) + 1);
    if (!field || !digest)
        a->unknown = true;
    if (!a->unknown)
        qloop_buf_append(&a->fields, field, strlen(field) + 1);
    int64_t from = reopened_from > 0 ? reopened_from : 0;
    qloop_buf_append(&a->reopened, (const char *)&from, sizeof from);
    a->n++;
}

void tk_adds_free(struct tk_adds *a)
{
    qloop_buf_free(&a->ids);
    qloop_buf_free(&a->digests);
    qloop_buf_free(&a->refs);
    qloop_buf_free(&a->fields);
    qloop_buf_free(&a->reopened);
    a->n = 0;
    a->unknown = false;
}

/* Empties a for the next chunk. */
static void adds_reset(struct tk_adds *a)
{
    qloop_buf_reset(&a->ids);
    qloop_buf_reset(&a->digests);
    qloop_buf_reset(&a->refs);
    qloop_buf_reset(&a->fields);
    qloop_buf_reset(&a->reopened);
    a->n = 0;
    a->unknown = false;
}

int tk_adds_flush(sqlite3 *db, struct tk_adds *a, int64_t tid, const char *dataset,
                  const char *rule, int64_t at, const char *run_id, struct sql_cached ins[2],
                  struct tk_batch *batch, struct qloop_error *err)
{
    /* The item of each finding, which names it (store step 17: its
     * evidence is the finding's, read through `ticket_items`, and its own
     * evidence columns stay NULL) instead of copying its key, value,
     * message, row and sealed copy (~190 of an item's ~312 bytes): the
     * rest of tk_add_item's columns, from the findings' rows and kinds.
     * The findings' ids and reopened_from come as integers from the C
     * arrays pushed, through TK_IDS_SQL (ticket_ids.c), the outer loop
     * (CROSS JOIN): each of its rows, read in array order, joins one finding
     * and one kind, so the items get their ids in the order pushed without
     * a sort. (Until 2026-12-05 they came as a JSON text through json_each:
     * formatted here, parsed there, a plain id and an [id, reopened_from]
     * pair told apart by two statements.) reopened is NULL for a finding
     * pushed without one, as tk_add_item stores it. "CASE WHEN x <> ''
     * THEN x END" is nullif(x, '') for every x (NULL stays NULL, '' becomes
     * NULL, anything else is kept: the column is TEXT, compared BINARY
     * either way) without a function call, which copied each text it
     * returned (sqlite3_result_value).
     *
     * Nothing is read back. ticket_item_rows.id is a rowid without AUTOINCREMENT
     * and this connection holds the write lock, so one statement's rows get
     * max(id) + 1, + 2, ... in the order inserted: the i-th element pushed
     * is item before + 1 + i, its record_ref and reopened_from the ones
     * pushed. Both facts are checked (every element inserted exactly once:
     * the change count; ids consecutive from before + 1: the last rowid)
     * instead of reading the chunk's rows back after each insert (id,
     * record_ref, reopened_from: a first night's every item read again).
     *
     * Each item keeps its finding's evidence digest, so the nightly refresh
     * reads no finding for it (ticket_refresh.c): the one pushed with it,
     * which the run made when it wrote the finding (tk_kept_take), else
     * TK_DIGEST_SQL of the finding's row (coalesce evaluates it, and reads
     * the five evidence columns, only for an item pushed without one).
     *
     * From memory. When every finding came with its field and digest (a
     * first night's, from tk_fresh_findings and the run's digests), nothing
     * of an item is in the findings' rows that is not pushed already: the
     * kinds' dataset and rule are the group's (bound), record_ref and field
     * are TK_IDS_SQL's texts, the digest its integer. Then no finding_rows
     * page is sought by id nor finding_kinds row read for each item (W1 1M
     * night 1: the statement ~8,640 -> ~7,500 instructions an item; the
     * rest is the row, the ticket index and the foreign key: bench/README.md,
     * "A first night's items from memory"), the CASE is done in C (a field
     * "" is NULL), and the stored row is the same: the same types (TEXT,
     * INTEGER or NULL) and the same bytes. */
    static const char mem_sql[] =
        "INSERT INTO ticket_item_rows(ticket_id, kind, record_ref, field, state,"
        " reporter, added_at, added_run, last_run, reopened_from, finding, digest)"
        " SELECT ?1, ?5, j.record_ref, j.field, 'open', NULL, ?2, ?3, ?3, j.reopened,"
        " j.finding, j.digest FROM " TK_IDS_SQL "(?4) j";
    static const char ins_sql[] =
        "INSERT INTO ticket_item_rows(ticket_id, kind, record_ref, field, state,"
        " reporter, added_at, added_run, last_run, reopened_from, finding, digest)"
        " SELECT ?1, ?5, f.record_ref,"
        " CASE WHEN k.field <> '' THEN k.field END, 'open', NULL, ?2, ?3, ?3, j.reopened,"
        " f.id, coalesce(j.digest, " TK_DIGEST_SQL "(f.row_no, f.record_key, f.value,"
        " f.message, f.sealed))"
        " FROM " TK_IDS_SQL "(?4) j CROSS JOIN finding_rows f ON f.id = j.finding"
        " CROSS JOIN finding_kinds k ON k.id = f.kind";
    if (!a->n)
        return 0;
    if (tk_digest_sql(db, err) != 0 || tk_ids_sql(db, err) != 0)
        return -2;
    int64_t before = 0;
    if (sql_int64_texts(db, "SELECT max(id) FROM ticket_item_rows", 0, NULL, 0, &before, err) != 0)
        return -2;
    char at_s[32];
    qloop_format_datetime(at, at_s);
    struct tk_item_keys keys;
    if (tk_item_keys(db, dataset, rule, run_id, at_s, &keys, err) != 0)
        return -2;
    bool mem = !a->unknown;
    sqlite3_stmt *st = mem ? sql_cached(db, &ins[1], mem_sql, err)
                           : sql_cached(db, &ins[0], ins_sql, err);
    if (!st)
        return -2;
    const struct tk_ids list = {(const int64_t *)(const void *)a->ids.ptr,
                                (const int64_t *)(const void *)a->reopened.ptr,
                                (const uint64_t *)(const void *)a->digests.ptr,
                                mem ? a->refs.ptr : NULL, mem ? a->fields.ptr : NULL, a->n};
    sqlite3_bind_int64(st, 1, tid);
    sql_bind_text(st, 2, keys.at_is_run ? NULL : at_s);
    if (keys.run)
        sqlite3_bind_int64(st, 3, keys.run);
    tk_ids_bind(st, 4, &list);
    if (keys.kind)
        sqlite3_bind_int64(st, 5, keys.kind);
    int rc = sql_done(db, st, "写入工单记录", err);
    sqlite3_clear_bindings(st);
    if (rc != 0)
        return -2;
    int64_t inserted = sqlite3_changes(db), last = sqlite3_last_insert_rowid(db);
    if (inserted != (int64_t)a->n || last != before + inserted) {
        qloop_error_internal(err, sqlite3_db_filename(db, "main"),
                             "工单 #%lld 写入了 %lld 条记录（应为 %zu 条，编号自 %lld 起连续）",
                             (long long)tid, (long long)inserted, a->n, (long long)before + 1);
        return -2;
    }
    const char *ref = a->refs.ptr;
    const char *from = a->reopened.ptr;
    const int64_t *finding = (const int64_t *)(const void *)a->ids.ptr;
    int result = 0;
    for (size_t i = 0; result == 0 && i < a->n; i++) {
        int64_t reopened;
        memcpy(&reopened, from + i * sizeof reopened, sizeof reopened);
        if (a->held)
            tk_items_note(a->held, finding[i], before + 1 + (int64_t)i);
        result = tk_audit_item(db, batch, tid, before + 1 + (int64_t)i, ref,
                               reopened > 0 ? "reopened" : "added", "system", run_id, reopened,
                               err);
        ref += strlen(ref) + 1;
    }
    adds_reset(a);
    return result == 0 ? 0 : -2;
}

int64_t tk_items_group_in_place = TK_ITEMS_GROUP_IN_PLACE;

int tk_items_in_bulk(sqlite3 *db, const char *run_id, bool *bulk, struct qloop_error *err)
{
    *bulk = false;
    if (sqlite3_get_autocommit(db))
        return 0;
    int64_t stored = 0;
    if (sql_int64_texts(db, "SELECT max(id) FROM ticket_item_rows", 0, NULL, 0, &stored, err) != 0)
        return -2;
    int64_t bound = stored / 2 + 1;
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT count(*) FROM (SELECT 1 FROM finding_refs"
                                   " WHERE run = (SELECT id FROM finding_runs WHERE run_id = ?1)"
                                   " LIMIT ?2)",
                                   err);
    if (!st)
        return -2;
    sql_bind_text(st, 1, run_id);
    sqlite3_bind_int64(st, 2, bound);
    int rc = sql_row(db, st, "统计本次运行的问题记录", err);
    bool many = rc == 1 && sqlite3_column_int64(st, 0) >= bound;
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    if (!many)
        return 0;
    /* the most failing records a rule of the run reports, for the most
     * findings of one dataset + rule (a rule judges one dataset): read in
     * a few rows where counting the findings steps through each (~550
     * instructions a finding, 0.1 G for a 1M night's 200,000). An
     * estimate only: either way the items, their ids and the checks of
     * the index are the same. */
    int64_t largest = 0;
    if (sql_int64_texts(db, "SELECT max(failed) FROM rule_results WHERE run_id = ?1", 1, &run_id,
                        0, &largest, err) != 0)
        return -2;
    *bulk = largest > tk_items_group_in_place;
    return 0;
}

/* Hands the new ticket t, whose open items are the `added` it was just
 * given (a new ticket has no others), to its provider under p
 * (auto_feedback, or hand_filed = "feedback" for a report). */
static int hand_over_new(sqlite3 *db, struct tk *t, long added, const char *run_id, int64_t at,
                         const struct qloop_policy *p, struct qloop_error *err)
{
    char received[32], deadline[32], reason[1024];
    qloop_format_datetime(at, received);
    qloop_format_datetime(policy_deadline(p, at), deadline);
    snprintf(reason, sizeof reason, "按政策「%s」自动交数源部门「%s」，%d 个%s内答复（%s）",
             p->name, t->dept, p->response_days, p->response_natural ? "自然日" : "工作日",
             p->basis[0] ? p->basis : p->name);
    struct tk_change c = {.to = "feedback", .event = "feedback", .actor = "system",
                          .reason = reason, .run_id = run_id, .at = at, .received_at = received,
                          .deadline = deadline, .open_known = true, .open_items = added};
    return tk_apply(db, t, &c, false, p, err) == 0 ? 0 : -2;
}

/* Tells whoever must act that reopened ticket t is back: its provider, with
 * the new deadline, or staff when it waits in discovered. */
static int tell_reopened(sqlite3 *db, const struct tk *t, long added, const char *tag,
                         int64_t at, struct qloop_error *err)
{
    char key[160], msg[2048];
    snprintf(key, sizeof key, "reopened:%lld:%s", (long long)t->id, tag);
    if (strcmp(t->state, "feedback") == 0) {
        snprintf(msg, sizeof msg,
                 "工单 #%lld 重新打开：数据集「%s」规则「%s」有 %ld 条已整改的问题记录再次出现，"
                 "请于 %.10s 前答复（重新计算的答复期限）",
                 (long long)t->id, t->dataset, t->rule, added, t->deadline);
        return tk_notify(db, t, "ticket.feedback", key, t->dept, msg, at, err);
    }
    snprintf(msg, sizeof msg,
             "工单 #%lld 重新打开：数据集「%s」规则「%s」有 %ld 条问题记录再次出现，待交数源部门「%s」"
             "（qloop tickets feedback %lld --actor 姓名）",
             (long long)t->id, t->dataset, t->rule, added, t->dept, (long long)t->id);
    return tk_notify(db, t, "ticket.opened", key, TK_STAFF, msg, at, err);
}

int tk_after_adding(sqlite3 *db, int64_t tid, enum tk_added_to to, bool hand_over, long added,
                    const char *run_id, int64_t at, const struct qloop_policy *p, const char *tag,
                    struct qloop_error *err)
{
    struct tk t;
    if (tk_load_known(db, tid, &t, err) != 0)
        return -2;
    if (to == TK_TO_NEW && hand_over)
        return hand_over_new(db, &t, added, run_id, at, p, err);
    if (to == TK_TO_REOPENED)
        return tell_reopened(db, &t, added, tag, at, err);
    char key[160], msg[2048];
    if (to == TK_TO_NEW) {
        snprintf(key, sizeof key, "opened:%lld", (long long)tid);
        snprintf(msg, sizeof msg,
                 "新工单 #%lld：数据集「%s」规则「%s」有 %ld 条问题记录，待交数源部门「%s」"
                 "（qloop tickets feedback %lld --actor 姓名）",
                 (long long)tid, t.dataset, t.rule, added, t.dept, (long long)tid);
        return tk_notify(db, &t, "ticket.opened", key, TK_STAFF, msg, at, err);
    }
    if (strcmp(t.state, "feedback") != 0 || added == 0)
        return 0;
    snprintf(key, sizeof key, "items:%lld:%s", (long long)tid, tag);
    snprintf(msg, sizeof msg,
             "工单 #%lld（数据集「%s」规则「%s」）新增 %ld 条问题记录，答复期限仍为 %.10s",
             (long long)tid, t.dataset, t.rule, added, t.deadline);
    return tk_notify(db, &t, "ticket.items_added", key, t.dept, msg, at, err);
}

int tk_dataset_owner(sqlite3 *db, const char *dataset, const char *run_id, char *out,
                     size_t size, bool *known, struct qloop_error *err)
{
    const char *const key[] = {dataset, run_id};
    sqlite3_stmt *st = sql_prepare_texts(
        db,
        run_id ? "SELECT owner FROM run_datasets WHERE dataset = ?1 AND run_id = ?2"
               : "SELECT owner FROM (SELECT d.owner, 0 AS src FROM run_datasets d"
                 "  JOIN runs r ON r.id = d.run_id WHERE d.dataset = ?1"
                 "  ORDER BY r.as_of DESC, r.started_at DESC LIMIT 1)"
                 " UNION ALL SELECT owner FROM catalog_datasets WHERE dataset = ?1",
        run_id ? 2 : 1, key, err);
    if (!st)
        return -2;
    int rc = 0;
    *known = false;
    out[0] = '\0';
    while (!out[0] && (rc = sql_row(db, st, "读取数据集的数源部门", err)) == 1) {
        *known = true;
        sql_copy(st, 0, out, size);
    }
    sqlite3_finalize(st);
    if (rc < 0)
        return -2;
    if (!out[0])
        snprintf(out, size, "%s", TK_NO_DEPT);
    return 0;
}
