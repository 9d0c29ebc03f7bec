/*
 * ticket_file.c — problem reports that come from people rather than runs:
 * 系统填报 (`qloop tickets file`, source "file") and 接口对接 (`qloop tickets
 * import`, source "import"). A report names a dataset and a record key; it
 * becomes an item of the open ticket of its dataset, rule ("manual" unless
 * given) and source, or opens one.
 *
 * CONTRACT.md: the dataset must be one the store knows — from a rule pack's
 * run or the resource catalog — and the ticket goes to that dataset's owner
 * (数源部门), never to a department a reporter typed: a legal clock never
 * starts for a department nobody registered. A report naming another
 * department, an unknown dataset, or a dataset without an owner is refused
 * (exit 2; the portal answers 422). A new reported ticket waits in
 * discovered for the bureau's steward to check and hand over (`tickets
 * feedback`, urgent with its own deadline if need be), unless the policy
 * says hand_filed = "feedback". What a reporter sends is masked before it
 * is stored (ticket_privacy.c): the key when a key field is declared
 * sensitive, the value when its field is, either of them when it looks like
 * personal data or when the store knows no declaration for the dataset; the
 * message by shape and by the sensitive key and value it may quote. The raw
 * key and value are sealed for the owner (identity/seal.h). Who may file is
 * asked of the one authorisation function (tk_authorize_report).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "checks/mask.h"
#include "identity/seal.h"
#include "loop/ticket.h"
#include "loop/ticket_private.h"
#include "store/store.h"

/* Checks that r has what a report needs and source is one of ours. -1 when not. */
static int check_report(const struct ticket_report *r, const char *source,
                        struct qloop_error *err)
{
    static const char *const names[] = {"dataset（数据集）", "key（记录主键）", "message（问题说明）",
                                        "actor（填报人）"};
    const char *req[] = {r->dataset, r->key, r->message, r->actor};
    for (int i = 0; i < 4; i++)
        if (!req[i] || !*req[i])
            return qloop_error_set(err, NULL, 0, 0, "问题报告缺少 %s；请补上后再提交", names[i]);
    if (!source || (strcmp(source, "file") != 0 && strcmp(source, "import") != 0))
        return qloop_error_set(err, NULL, 0, 0, "问题报告的来源应为 file 或 import");
    return 0;
}

/* The ticket in which record ref of (dataset, rule) is open: *ticket, 0 when
 * none. 0 or -2. */
static int open_item_ticket(sqlite3 *db, const char *dataset, const char *rule, const char *ref,
                            int64_t *ticket, struct qloop_error *err)
{
    const char *const key[] = {dataset, rule, ref};
    return sql_int64_texts(db,
                           "SELECT i.ticket_id FROM ticket_item_refs r CROSS JOIN ticket_item_rows i"
                           " ON i.id = r.id WHERE r.record_ref = ?3 AND r.kind = "
                           TK_KIND_OF("?1", "?2") " AND r.open_key = 0",
                           3, key, 0, ticket, err) == 0
               ? 0
               : -2;
}

/* The datasets the store knows (runs and catalog), "、"-separated, at most
 * a dozen, into out ("（无）" when none). 0 or -2. */
static int known_datasets(sqlite3 *db, char *out, size_t size, struct qloop_error *err)
{
    sqlite3_stmt *st = sql_prepare(db,
                                   "SELECT dataset FROM (SELECT dataset FROM run_datasets"
                                   " UNION SELECT dataset FROM catalog_datasets)"
                                   " ORDER BY dataset LIMIT 13",
                                   err);
    if (!st)
        return -2;
    struct qloop_buf b = {0};
    int rc, n = 0;
    while ((rc = sql_row(db, st, "读取已知的数据集", err)) == 1) {
        qloop_buf_printf(&b, "%s%s", n ? "、" : "", n < 12 ? sql_text(st, 0) : "……");
        n++;
    }
    sqlite3_finalize(st);
    snprintf(out, size, "%s", n ? qloop_buf_str(&b) : "（无）");
    qloop_buf_free(&b);
    return rc < 0 ? -2 : 0;
}

/* The department of a report on r->dataset into dept: the dataset's owner
 * (its latest run's, else the catalog's). *from_run: whether a run had the
 * dataset (else only the catalog knows it, and qloop cannot tell which of
 * its fields are sensitive). -1 (err says what to do) when the store does
 * not know the dataset, the dataset has no owner, or r names another
 * department; -2. */
static int report_dept(sqlite3 *db, const struct ticket_report *r, char *dept, size_t size,
                       bool *from_run, struct qloop_error *err)
{
    bool known;
    int64_t runs = 0;
    if (tk_dataset_owner(db, r->dataset, NULL, dept, size, &known, err) != 0 ||
        sql_int64_texts(db, "SELECT count(*) FROM run_datasets WHERE dataset = ?1", 1, &r->dataset,
                        0, &runs, err) != 0)
        return -2;
    *from_run = runs > 0;
    if (!known) {
        char list[1024];
        if (known_datasets(db, list, sizeof list, err) != 0)
            return -2;
        return qloop_error_set(err, NULL, 0, 0,
                               "数据集「%s」不在本库中：没有规则包运行过它，资源目录里也没有；"
                               "请检查名称（已知的数据集：%s），或先导入资源目录（qloop catalog import）",
                               r->dataset, list);
    }
    if (strcmp(dept, TK_NO_DEPT) == 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "数据集「%s」没有登记数源部门，问题报告无处交办；请在规则包的 dataset 中写明 "
                               "owner，或在资源目录中登记提供部门",
                               r->dataset);
    if (r->dept && *r->dept && strcmp(r->dept, dept) != 0)
        return qloop_error_set(err, NULL, 0, 0,
                               "数据集「%s」的数源部门是「%s」，问题报告只能交给它，不能交给「%s」；"
                               "去掉 --dept（或 dept 字段）即可",
                               r->dataset, dept, r->dept);
    return 0;
}

/* Whether key looks like a resident identity number or a mobile number. */
static bool looks_personal(const char *key)
{
    size_t n = strlen(key), digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += key[i] >= '0' && key[i] <= '9';
    if (n == 18 && (digits == 18 || (digits == 17 && (key[17] == 'X' || key[17] == 'x'))))
        return true;
    if (n == 15 && digits == 15)
        return true;
    return n == 11 && digits == 11 && key[0] == '1';
}

/* Appends s to out: masked as a sensitive value when sensitive or when it
 * looks personal, else with what looks like personal data in it masked. */
static void put_reported(struct qloop_buf *out, const char *s, bool sensitive)
{
    if (sensitive || looks_personal(s))
        mask_sensitive(s, strlen(s), out);
    else
        mask_text(s, strlen(s), NULL, 0, out);
}

/* When masking hid the report's key or value, seals the raw ones into
 * sealed for the owner (identity/seal.h) and points it at them. 0, or -1
 * when the store's key file is missing or foreign. */
static int seal_report(sqlite3 *db, const struct ticket_report *r, const char *ref,
                       struct tk_item *it, struct qloop_buf *sealed, struct qloop_error *err)
{
    if (strcmp(it->record_key, r->key) == 0 && (!r->value || strcmp(it->value, r->value) == 0))
        return 0;
    struct ident_sealer s;
    if (ident_sealer_open(db, &s, err) != 0)
        return -1;
    struct ident_record raw = {r->key, strlen(r->key), r->value, r->value ? strlen(r->value) : 0};
    ident_seal(&s, r->dataset, ref, r->field, &raw, sealed);
    ident_sealer_close(&s);
    it->sealed = sealed->ptr;
    it->sealed_len = sealed->len;
    return 0;
}

/* Adds the report (its record ref, masked key and value) to the open ticket
 * of (dataset, rule, source) or a new one, then announces it. */
static int add_report(sqlite3 *db, const struct ticket_report *r, const char *rule,
                      const char *source, const char *dept, const struct tk_item *it,
                      const struct qloop_policy *p, int64_t *tid, struct qloop_error *err)
{
    const char *ref = it->record_ref;
    int64_t now = qloop_now();
    if (tk_find_open(db, r->dataset, rule, source, tid, err) != 0)
        return -2;
    bool is_new = *tid == 0;
    if (is_new && tk_open(db, r->dataset, rule, source, dept, r->message, r->actor, NULL, now, p,
                          tid, err) != 0)
        return -2;
    struct tk_prior pr;
    if (tk_find_prior(db, r->dataset, rule, ref, &pr, NULL, err) != 0)
        return -2;
    free(pr.value);
    int64_t item_id = 0;
    if (tk_add_item(db, *tid, r->dataset, rule, it, now, NULL,
                    pr.found && tk_is_closed(pr.ticket_state) ? pr.ticket : 0, r->actor, &item_id,
                    NULL, NULL, err) != 0)
        return -2;
    char tag[48];
    snprintf(tag, sizeof tag, "item%lld", (long long)item_id);
    return tk_after_adding(db, *tid, is_new ? TK_TO_NEW : TK_TO_OPEN, p->hand_filed_feedback, 1,
                           NULL, now, p, tag, err);
}

int ticket_file(sqlite3 *db, const struct ticket_report *r, const char *source,
                const struct qloop_policy *policy, int64_t *ticket_id, bool *duplicate,
                struct qloop_error *err)
{
    struct qloop_policy def;
    const struct qloop_policy *p = tk_policy(policy, &def);
    if (duplicate)
        *duplicate = false;
    if (ticket_id)
        *ticket_id = 0;
    if (check_report(r, source, err) != 0)
        return -1;
    const char *rule = r->rule && *r->rule ? r->rule : "manual";
    char dept[512];
    bool known;
    int rc = report_dept(db, r, dept, sizeof dept, &known, err);
    if (rc == 0)
        rc = tk_authorize_report(db, r->actor, source, dept, err);
    if (rc != 0)
        return rc;

    char ref[33];
    store_record_ref(db, r->dataset, r->key, strlen(r->key), ref);
    int64_t existing;
    if (open_item_ticket(db, r->dataset, rule, ref, &existing, err) != 0)
        return -2;
    if (existing) {
        if (duplicate)
            *duplicate = true;
        if (ticket_id)
            *ticket_id = existing;
        return 0;
    }

    /* Masked by the dataset's declarations (ticket_privacy.c) and by shape. */
    struct tk_privacy pv;
    if (tk_dataset_privacy(db, r->dataset, &pv, err) != 0)
        return -2;
    bool key_sensitive = tk_key_sensitive(&pv);
    bool value_sensitive = r->value && tk_field_sensitive(&pv, r->field);
    tk_privacy_free(&pv);
    struct qloop_buf key = {0}, value = {0}, sealed = {0}, message = {0};
    put_reported(&key, r->key, key_sensitive);
    if (r->value)
        put_reported(&value, r->value, value_sensitive);
    /* The message may quote the record: its sensitive key and value too. */
    struct mask_value quoted[2];
    size_t nq = 0;
    if (key_sensitive)
        quoted[nq++] = (struct mask_value){r->key, strlen(r->key)};
    if (value_sensitive)
        quoted[nq++] = (struct mask_value){r->value, strlen(r->value)};
    struct ticket_report masked = *r;
    masked.message = tk_mask_text(r->message, quoted, nq, &message);
    struct tk_item it = {ref, qloop_buf_str(&key), r->field, r->value ? qloop_buf_str(&value) : NULL,
                         masked.message, r->actor, -1, NULL, 0};
    rc = seal_report(db, r, ref, &it, &sealed, err);
    int64_t tid = 0;
    if (rc == 0)
        rc = add_report(db, &masked, rule, source, dept, &it, p, &tid, err);
    qloop_buf_free(&key);
    qloop_buf_free(&value);
    qloop_buf_free(&sealed);
    qloop_buf_free(&message);
    if (rc != 0)
        return rc;
    if (ticket_id)
        *ticket_id = tid;
    return 0;
}
