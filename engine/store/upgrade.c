/*
 * upgrade.c — the code some schema steps need besides SQL (schema.h:
 * store_step_code), run inside the upgrade's transaction with the store's
 * key loaded.
 *
 * Step 9 (the keyed audit chain):
 *   1. the keyed start: the entries written so far stay as they are
 *      (SHA-256) and the next one, "audit.keyed", binds the last of them
 *      under the key (audit_start_keyed);
 *   2. one "ticket.baseline" entry per ticket — its state, deadline and
 *      department as they stand — because the entries written before did
 *      not record everything `audit verify` replays (a ticket's department,
 *      for one): the replay (loop/replay.c) starts from these;
 *   3. the calendar file earlier versions kept beside the store
 *      (PATH.calendar) is imported as the first load (calendar_loads.h).
 * Without the key file the upgrade stops with the key file's message (exit
 * 2) and the store stays as it was.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "store/audit.h"
#include "store/calendar_loads.h"
#include "store/key.h"
#include "store/schema.h"
#include "store/sql.h"

/* One baseline entry per ticket, in id order. Returns 0 or -1 with err. */
static int ticket_baselines(sqlite3 *db, struct qloop_error *err)
{
    sqlite3_stmt *st =
        sql_prepare(db, "SELECT id, state, deadline, dept FROM tickets ORDER BY id", err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sql_row(db, st, "读取工单", err)) == 1) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *o = json_object();
        json_object_set_new(o, "ticket", json_integer(id));
        const char *cols[] = {"state", "deadline", "dept"};
        for (int c = 0; c < 3; c++) {
            const char *v = sql_text(st, c + 1);
            json_t *j = v ? json_string(v) : json_null();
            json_object_set_new(o, cols[c], j ? j : json_string("\xEF\xBF\xBD"));
        }
        char *detail = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        char subject[48];
        snprintf(subject, sizeof subject, "ticket:%lld", (long long)id);
        int r = detail ? audit_append(db, "ticket.baseline", subject, "system", detail, err)
                       : qloop_error_internal(err, NULL, "生成审计记录失败（内存不足）");
        free(detail);
        if (r != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/* Step 9: see the file comment. */
static int keyed_audit(sqlite3 *db, struct qloop_error *err)
{
    if (store_key_check(db, err) != 0) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        return qloop_error_set(err, err->file, 0, 0,
                               "升级数据库需要它的密钥文件（审计链从此以密钥校验）：%s", why);
    }
    if (audit_start_keyed(db, err) != 0 || ticket_baselines(db, err) != 0 ||
        store_calendar_import_file(db, err) != 0)
        return -1;
    return 0;
}

const struct store_step_code store_step_code[] = {
    {9, keyed_audit},
};
const int store_nstep_code = (int)(sizeof store_step_code / sizeof store_step_code[0]);
