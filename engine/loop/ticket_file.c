/*
 * ticket_file.c — problem reports that come from people rather than runs:
 * 系统填报 (`qloop tickets file`, source "file") and 接口对接 (`qloop tickets
 * import`, source "import"). A report names a dataset and a record key; it
 * becomes an item of the open ticket of its dataset, rule ("manual" unless
 * given) and source, or opens one. What a reporter sends is stored masked
 * when qloop cannot tell whether the dataset's fields are sensitive, or when
 * it looks like personal data.
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
                           "SELECT ticket_id FROM ticket_items WHERE dataset = ?1"
                           " AND rule = ?2 AND record_ref = ?3 AND state IN ('open','missing')",
                           3, key, 0, ticket, err) == 0
               ? 0
               : -2;
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

/* Appends s to out, masked unless the dataset is known and s does not look
 * personal. */
static void put_reported(struct qloop_buf *out, const char *s, bool known)
{
    if (!known || looks_personal(s))
        mask_sensitive(s, strlen(s), out);
    else
        qloop_buf_printf(out, "%s", s);
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
    return tk_after_adding(db, *tid, is_new, 1, NULL, now, p, tag, err);
}

/* The department a report on r->dataset goes to: r->dept when given (it
 * must be registered), else the dataset's owner in its latest run, else in
 * the catalog. A dataset neither a run nor the catalog knows is refused, so
 * no ticket goes to a department nobody registered. *known: whether a run
 * had the dataset. 0, -1 or -2. */
static int report_dept(sqlite3 *db, const struct ticket_report *r, char *dept, size_t size,
                       bool *known, struct qloop_error *err)
{
    if (tk_dataset_owner(db, r->dataset, NULL, dept, size, known, err) != 0)
        return -2;
    if (!*known) {
        int64_t in_catalog;
        if (sql_int64_texts(db, "SELECT count(*) FROM catalog_datasets WHERE dataset = ?1", 1,
                            &r->dataset, 0, &in_catalog, err) != 0)
            return -2;
        if (!in_catalog)
            return qloop_error_set(err, NULL, 0, 0,
                                   "数据集“%s”未知：没有规则包运行过它，资源目录中也没有；"
                                   "请核对数据集名称（qloop catalog show 查看目录）",
                                   r->dataset);
        sqlite3_stmt *st = sql_prepare_texts(
            db, "SELECT coalesce(nullif(owner, ''), ?2) FROM catalog_datasets WHERE dataset = ?1", 2,
            (const char *const[]){r->dataset, TK_NO_DEPT}, err);
        if (!st)
            return -2;
        int rc = sql_row(db, st, "读取资源目录", err);
        if (rc == 1)
            sql_copy(st, 0, dept, size);
        sqlite3_finalize(st);
        if (rc < 0)
            return -2;
    }
    if (r->dept && *r->dept) {
        int found = ident_dept_find(db, r->dept, NULL, err);
        if (found < 0)
            return -2;
        if (found == 0)
            return qloop_error_set(err, NULL, 0, 0,
                                   "部门“%s”尚未登记；工单只交给登记的部门（qloop depts list 查看，"
                                   "qloop depts add 登记），或去掉 --dept 交数据集的数源部门",
                                   r->dept);
        snprintf(dept, size, "%s", r->dept);
    }
    return 0;
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

    struct qloop_buf key = {0}, value = {0}, sealed = {0};
    put_reported(&key, r->key, known);
    if (r->value)
        put_reported(&value, r->value, known);
    struct tk_item it = {ref, qloop_buf_str(&key), r->field, r->value ? qloop_buf_str(&value) : NULL,
                         r->message, r->actor, -1, NULL, 0};
    rc = seal_report(db, r, ref, &it, &sealed, err);
    int64_t tid = 0;
    if (rc == 0)
        rc = add_report(db, r, rule, source, dept, &it, p, &tid, err);
    qloop_buf_free(&key);
    qloop_buf_free(&value);
    qloop_buf_free(&sealed);
    if (rc != 0)
        return rc;
    if (ticket_id)
        *ticket_id = tid;
    return 0;
}
