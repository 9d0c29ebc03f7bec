/*
 * ticket_helpers.h — what the closed-loop tests share: the two bundled
 * policies (and ningbo without automatic hand-over), a simulated run of one
 * rule on one dataset, and short reads of a ticket's state, an item's state
 * and the audit chain. Runs are simulated by inserting runs, run_datasets,
 * rule_results, findings and run_seen rows directly, then calling
 * ticket_sync_run_policy; QLOOP_NOW moves the clock. Included after cmocka's
 * headers and store_helpers.h; everything here is static inline.
 */
#ifndef QLOOP_TEST_TICKET_HELPERS_H
#define QLOOP_TEST_TICKET_HELPERS_H

#include <stdbool.h>
#include <string.h>

#include "loop/ticket.h"
#include "rules/policy.h"
#include "store/audit.h"
#include "store/store.h"

/* Every column of every item through the `ticket_items` view, quoted
 * (types kept, blobs as X'..'), in id order (malloc'd): what an upgrade
 * or a change of how items are stored must leave as it was. */
static inline char *all_items(sqlite3 *db)
{
    return q_rows(db, "SELECT quote(id), quote(ticket_id), quote(dataset), quote(rule),"
                      " quote(record_ref), quote(record_key), quote(field), quote(value),"
                      " quote(message), quote(row_no), quote(state), quote(reporter),"
                      " quote(added_at), quote(added_run), quote(last_run), quote(closed_at),"
                      " quote(closed_run), quote(reopened_from), quote(sealed)"
                      " FROM ticket_items ORDER BY id");
}

static inline struct qloop_policy ningbo(void)
{
    struct qloop_policy p;
    policy_default(&p);
    return p;
}

static inline struct qloop_policy wenzhou(void)
{
    struct qloop_policy p;
    struct qloop_error err;
    qloop_error_clear(&err);
    if (policy_load(QLOOP_SOURCE_DIR "/rules/policies/wenzhou.lua", &p, &err) != 0)
        fail_msg("wenzhou.lua: %s", err.message);
    return p;
}

static inline struct qloop_policy manual_feedback(void)
{
    struct qloop_policy p = ningbo();
    p.auto_feedback = false;
    return p;
}

/* One simulated run of one rule on one dataset at as_of. failing: keys that
 * fail ("KEY" or "KEY=VALUE"); present: keys in the data (run_seen). */
struct sim {
    const char *run, *as_of, *dataset, *owner, *rule;
    int resolve_missing;
    const char *failing[8];
    const char *present[8];
};

static inline struct ticket_sync_counts run_sim(sqlite3 *db, const struct sim *s,
                                         const struct qloop_policy *p)
{
    set_now(s->as_of);
    exec(db, "INSERT INTO runs(id, started_at, as_of, status, rules) VALUES(%Q, %Q, %Q, 'running', '[]')",
         s->run, s->as_of, s->as_of);
    /* The pack declares the phone and the address sensitive, the key (id) not. */
    exec(db,
         "INSERT INTO run_datasets(run_id, dataset, rows, owner, sensitive, key_fields)"
         " VALUES(%Q, %Q, 10, %Q, '[\"phone\",\"address\"]', '[\"id\"]')",
         s->run, s->dataset, s->owner);
    int nfail = 0;
    while (nfail < 8 && s->failing[nfail])
        nfail++;
    exec(db,
         "INSERT INTO rule_results(run_id, rule, dataset, field, dimension, severity, message,"
         " checked, failed, errors, resolve_missing) VALUES(%Q, %Q, %Q, 'phone', 'normative',"
         " 'medium', '手机号格式错误', 10, %d, 0, %d)",
         s->run, s->rule, s->dataset, nfail, s->resolve_missing);
    for (int i = 0; i < nfail; i++) {
        char key[64], value[64];
        const char *eq = strchr(s->failing[i], '=');
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - s->failing[i]) : 63, s->failing[i]);
        snprintf(value, sizeof value, "%s", eq ? eq + 1 : "bad");
        char ref[33];
        store_record_ref(db, s->dataset, key, strlen(key), ref);
        exec(db,
             "INSERT INTO findings(run_id, dataset, rule, row_no, record_ref, record_key, field,"
             " value, message) VALUES(%Q, %Q, %Q, %d, %Q, %Q, 'phone', %Q, '手机号格式错误')",
             s->run, s->dataset, s->rule, i + 2, ref, key, value);
    }
    for (int i = 0; i < 8 && s->present[i]; i++) {
        char ref[33];
        store_record_ref(db, s->dataset, s->present[i], strlen(s->present[i]), ref);
        exec(db, "INSERT OR IGNORE INTO run_seen(run_id, dataset, record_ref) VALUES(%Q, %Q, %Q)",
             s->run, s->dataset, ref);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    assert_int_equal(store_begin(db, &err), 0);
    if (ticket_sync_run_policy(db, s->run, p, &c, &err) != 0)
        fail_msg("ticket_sync_run: %s", err.message);
    assert_int_equal(store_commit(db, &err), 0);
    exec(db, "UPDATE runs SET status = 'done' WHERE id = %Q", s->run);
    return c;
}

/* Splits a space-separated list of keys into out (at most 8). */
static inline void split_keys(char *buf, const char *out[8])
{
    int n = 0;
    for (char *t = strtok(buf, " "); t && n < 8; t = strtok(NULL, " "))
        out[n++] = t;
}

/* run_sim of rule people.phone on dataset people (owner 市公安局):
 * failing and present are space-separated keys ("P2 P3", "P2=139", ""). */
static inline struct ticket_sync_counts phone_run(sqlite3 *db, const char *run, const char *as_of,
                                                  const char *failing, const char *present,
                                                  const struct qloop_policy *p)
{
    char f[256], s[256];
    snprintf(f, sizeof f, "%s", failing);
    snprintf(s, sizeof s, "%s", present);
    struct sim sim = {run, as_of, "people", "市公安局", "people.phone", 0, {0}, {0}};
    split_keys(f, sim.failing);
    split_keys(s, sim.present);
    return run_sim(db, &sim, p);
}

static inline const char *state_of(sqlite3 *db, int64_t id)
{
    return q_text(db, "SELECT state FROM tickets WHERE id = %lld", (long long)id);
}

static inline const char *item_state(sqlite3 *db, const char *dataset, const char *key)
{
    char ref[33];
    store_record_ref(db, dataset, key, strlen(key), ref);
    return q_text(db, "SELECT state FROM ticket_items WHERE record_ref = %Q ORDER BY id DESC LIMIT 1",
                  ref);
}

static inline int64_t audit_count(sqlite3 *db, int64_t ticket, const char *kind)
{
    return q_int(db, "SELECT count(*) FROM audit WHERE subject = 'ticket:%lld' AND kind = %Q",
                 (long long)ticket, kind);
}

static inline void audit_whole(sqlite3 *db)
{
    int64_t count = 0, bad = 0;
    char why[256] = "";
    struct qloop_error err;
    qloop_error_clear(&err);
    int rc = audit_verify(db, &count, &bad, why, sizeof why, &err);
    if (rc != 0)
        fail_msg("audit chain broken at %lld: %s %s", (long long)bad, why, err.message);
    assert_true(count > 0);
}

/* Makes dataset known to the store with owner, as the resource catalog
 * would (hand-filed reports name known datasets only), the owner a
 * registered department. */
static inline void know_dataset(sqlite3 *db, const char *dataset, const char *owner)
{
    exec(db,
         "INSERT OR IGNORE INTO catalog_datasets(dataset, owner, added_at, changed_at, version)"
         " VALUES(%Q, %Q, '2024-01-01T00:00:00+08:00', '2024-01-01T00:00:00+08:00', 1);"
         "INSERT OR IGNORE INTO depts(name, registered_at, registered_by, seen_in)"
         " VALUES(%Q, '2024-01-01T00:00:00+08:00', 'test', 'console')",
         dataset, owner, owner);
}

/* Files a report on its own dataset (known, owned by 市民政局) under p;
 * returns the ticket, which waits in discovered unless p says
 * hand_filed = "feedback". */
static inline int64_t file_only(sqlite3 *db, const char *dataset, const char *key,
                                const struct qloop_policy *p)
{
    know_dataset(db, dataset, "市民政局");
    struct ticket_report r = {.dataset = dataset, .key = key, .field = "phone",
                              .message = "号码错误", .actor = "张三"};
    struct qloop_error err;
    qloop_error_clear(&err);
    int64_t tid = 0;
    bool dup = true;
    if (ticket_file(db, &r, "file", p, &tid, &dup, &err) != 0)
        fail_msg("ticket_file: %s", err.message);
    assert_false(dup);
    return tid;
}

/* file_only, then handed to the provider by the steward (in feedback from
 * now, under the ticket's policy); returns the ticket. */
static inline int64_t file_report(sqlite3 *db, const char *dataset, const char *key,
                                  const struct qloop_policy *p)
{
    int64_t tid = file_only(db, dataset, key, p);
    struct qloop_error err;
    qloop_error_clear(&err);
    if (strcmp(state_of(db, tid), "discovered") == 0 &&
        ticket_feedback(db, tid, "数据治理科", false, NULL, p, &err) != 0)
        fail_msg("ticket_feedback: %s", err.message);
    return tid;
}

/* Syncs run `run` under p in a transaction, committed; fails the test on
 * error. The run's counts. */
static inline struct ticket_sync_counts sync_committed(sqlite3 *db, const char *run,
                                                       const struct qloop_policy *p)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    struct ticket_sync_counts c;
    assert_int_equal(store_begin(db, &err), 0);
    if (ticket_sync_run_policy(db, run, p, &c, &err) != 0)
        fail_msg("ticket_sync_run %s: %s", run, err.message);
    assert_int_equal(store_commit(db, &err), 0);
    return c;
}

/* A sqlite3_trace_v2 callback (SQLITE_TRACE_STMT) that counts, in the int
 * at ctx, the statements counting a ticket's open items (tk_open_items):
 * for tests that a path does without that count. */
static inline int count_open_counts(unsigned type, void *ctx, void *p, void *x)
{
    (void)p;
    if (type == SQLITE_TRACE_STMT && strstr(x, "SELECT count(*) FROM ticket_item_rows WHERE ticket_id"))
        (*(int *)ctx)++;
    return 0;
}

#endif
