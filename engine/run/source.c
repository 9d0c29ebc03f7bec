/*
 * source.c — what a dataset declares about its source, applied by the run:
 * the adapter's options (its records path, sheet, header row, query or
 * table, and how malformed rows are handled), null_values (a cell whose text
 * is one of them reads as empty, before cleansing and every rule), and
 * bad_rows = "finding": each malformed row the adapter skipped becomes a
 * finding of the rule DATASET.malformed_row for the dataset's owner, written
 * through the findings writer with the row's number as its record key (its
 * fields cannot be trusted), and the rule's result counts every row read.
 */
#include <stdio.h>
#include <string.h>

#include "base/strmap.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/stage.h"

void ds_source_options(const struct ds_ctx *ds, struct qloop_source_options *o)
{
    const struct pack_dataset *d = ds->d;
    *o = (struct qloop_source_options){
        .encoding = d->encoding, .dataset = d->name, .records = d->records, .sheet = d->sheet,
        .header_row = d->header_row, .query = d->query, .table = d->table,
        .bad_rows = d->bad_rows_finding ? QLOOP_BAD_ROWS_REPORT : QLOOP_BAD_ROWS_STOP};
}

void ds_null_values(struct ds_ctx *ds, size_t ncells)
{
    const struct pack_dataset *d = ds->d;
    if (!d->nnull_values)
        return;
    if (!ds->nulls) {
        ds->nulls = strmap_new();
        for (size_t i = 0; i < d->nnull_values; i++)
            strmap_put(ds->nulls, d->null_values[i], strlen(d->null_values[i]), NULL);
    }
    for (size_t k = 0; k < ncells; k++) {
        struct qloop_field *f = &ds->view[k];
        if (!f->null && strmap_get(ds->nulls, f->ptr, f->len))
            *f = (struct qloop_field){"", 0, 1};
    }
}

/* The rule malformed rows are findings of; its id goes into idbuf. */
static struct pack_rule malformed_rule(const struct ds_ctx *ds, char *idbuf, size_t idsize)
{
    snprintf(idbuf, idsize, "%s.malformed_row", ds->d->name);
    return (struct pack_rule){.id = idbuf, .dataset = ds->d->name, .dimension = "normative",
                              .severity = "medium", .message = "数据行格式错误，无法读取"};
}

int ds_malformed_row(struct ds_ctx *ds, uint64_t row_no, const char *message)
{
    char id[600];
    struct pack_rule rule = malformed_rule(ds, id, sizeof id);
    struct rule_state rs = {.rule = &rule, .ds = ds, .col = -1};
    struct qloop_buf *key = &ds->run->keybuf;
    qloop_buf_reset(key);
    findings_row_key(key, row_no);
    return ds_emit(ds, &rs, row_no, key->ptr, key->len, NULL, 0, message, FINDING_KEY_ROW);
}

int ds_malformed_rows(struct ds_ctx *ds, const struct qloop_batch *b)
{
    for (size_t i = 0; i < b->nbad; i++)
        if (ds_malformed_row(ds, b->bad[i].row_no, b->bad[i].message) != 0)
            return -1;
    ds->bad_rows += (int64_t)b->nbad;
    return 0;
}

int ds_malformed_result(struct ds_ctx *ds)
{
    char id[600];
    struct pack_rule rule = malformed_rule(ds, id, sizeof id);
    struct run_ctx *run = ds->run;
    struct stage_result res = {.rule = rule.id, .dataset = rule.dataset, .dimension = rule.dimension,
                               .severity = rule.severity, .message = rule.message,
                               .checked = ds->rows + ds->bad_rows, .failed = ds->bad_rows};
    if (stage_rule_result(run->db, run->run_id, &res, run->summary_rules, run->err) != 0)
        return -1;
    if (ds->bad_rows && run->o->progress)
        fprintf(stderr, "qloop: 数据集 %s 有 %lld 行格式错误，已记为 %s 问题\n", ds->d->name,
                (long long)ds->bad_rows, rule.id);
    return 0;
}
