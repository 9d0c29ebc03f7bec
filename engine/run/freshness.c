/*
 * freshness.c — the dataset-level timeliness rule DATASET.freshness.
 *
 * A dataset that declares `updated_at` (the field holding each record's
 * update time) and an `update_cycle` is stale when its newest update lies
 * more than one cycle before the run date, or when no record says when it
 * was updated. The finding is of the dataset (row 0, empty key), so a fresh
 * dataset in a later run closes its ticket (recheck.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/text.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/stage.h"

/* Notes the newest update time of the batch's rows. */
void freshness_batch(struct ds_ctx *ds)
{
    if (ds->updated_col < 0)
        return;
    for (size_t row = 0; row < ds->batch->nrows; row++) {
        const struct qloop_field *f = ds_cell(ds, row, ds->updated_col);
        int64_t t;
        if (!qloop_value_empty(f) && qloop_parse_datetime(f->ptr, &t) &&
            (!ds->has_update || t > ds->newest_update)) {
            ds->newest_update = t;
            ds->has_update = true;
        }
    }
}

static int64_t cycle_days(const char *cycle)
{
    static const struct { const char *name; int64_t days; } t[] = {
        {"realtime", 1}, {"daily", 1}, {"weekly", 7}, {"monthly", 31}, {"quarterly", 92}, {"yearly", 366},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (cycle && strcmp(cycle, t[i].name) == 0)
            return t[i].days;
    return 0;
}

/* After the last batch: the finding when stale, and the rule's result. */
int freshness_judge(struct ds_ctx *ds)
{
    struct pack_dataset *d = ds->d;
    int64_t days = cycle_days(d->update_cycle);
    if (!d->updated_at || !days)
        return 0;
    struct run_ctx *run = ds->run;
    struct qloop_buf id = {0}, msg = {0};
    qloop_buf_printf(&id, "%s.freshness", d->name);
    qloop_buf_printf(&msg, "数据未按更新周期（%s）更新", d->update_cycle);
    int rc = 0;
    bool stale = !ds->has_update || run->now - ds->newest_update > days * 86400;
    if (stale) {
        char newest[32] = "无";
        if (ds->has_update)
            qloop_format_datetime(ds->newest_update, newest);
        char why[96];
        snprintf(why, sizeof why, "最新更新时间 %s", newest);
        struct qloop_finding f = {.dataset = d->name, .rule = id.ptr, .key = ""};
        struct finding_extra x = {.rule_message = msg.ptr, .reason = why};
        rc = findings_write(run->findings, &f, &x, run->err);
    }
    struct stage_result res = {.rule = id.ptr, .dataset = d->name, .field = d->updated_at,
                               .dimension = "timeliness", .severity = "medium", .message = msg.ptr,
                               .checked = 1, .failed = stale ? 1 : 0};
    if (rc == 0)
        rc = stage_rule_result(run->db, run->run_id, &res, run->summary_rules, run->err);
    qloop_buf_free(&id);
    qloop_buf_free(&msg);
    return rc;
}
