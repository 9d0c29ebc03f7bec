/*
 * source_table.h — the adapter tests' reader: a whole source copied into a
 * table (rows, their numbers and lines, the malformed rows reported),
 * checking the batch invariants of base/adapter.h on the way: a batch no
 * wider than the columns known after it and no longer than batch_rows,
 * values NUL-terminated at their length, null fields empty, a failed source
 * failing again with the same error. Included by one test file each.
 */
#ifndef QLOOP_TEST_SOURCE_TABLE_H
#define QLOOP_TEST_SOURCE_TABLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"

struct table {
    size_t ncols;
    char **names;
    size_t nrows;
    char ***rows; /* rows[i][j], NULL for null or absent */
    uint64_t *row_no, *line_no;
    size_t nbad;
    uint64_t bad_row[16];
    char bad_msg[16][512];
};

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t j = 0; j < t->ncols; j++)
            free(t->rows[i][j]);
        free(t->rows[i]);
    }
    for (size_t j = 0; j < t->ncols; j++)
        free(t->names[j]);
    free(t->names), free(t->rows), free(t->row_no), free(t->line_no);
    memset(t, 0, sizeof *t);
}

/* Reads a source whole; 0, -1 (open failed), -2 (a batch failed). */
static int read_all(const struct qloop_adapter *a, const char *path,
                    const struct qloop_source_options *o, struct table *t, struct qloop_error *err)
{
    memset(t, 0, sizeof *t);
    qloop_error_clear(err);
    void *st;
    if (a->open(path, o, &st, err) < 0) {
        assert_null(st);
        assert_true(err->message[0] != '\0');
        return -1;
    }
    size_t limit = o && o->batch_rows ? o->batch_rows : 4096, cap = 0, nc;
    const char *const *names;
    struct qloop_batch b;
    int r;
    while ((r = a->next_batch(st, &b, err)) == 1) {
        a->columns(st, &nc, &names);
        assert_int_equal(b.ncols, nc);
        assert_true(b.nrows <= limit);
        for (size_t i = 0; i < b.nrows; i++) {
            if (t->nrows == cap) {
                cap = cap ? cap * 2 : 64;
                t->rows = realloc(t->rows, cap * sizeof *t->rows);
                t->row_no = realloc(t->row_no, cap * sizeof *t->row_no);
                t->line_no = realloc(t->line_no, cap * sizeof *t->line_no);
            }
            char **row = calloc(256, sizeof *row);
            for (size_t j = 0; j < b.ncols && j < 256; j++) {
                const struct qloop_field *f = &b.cells[i * b.ncols + j];
                assert_int_equal(f->ptr[f->len], '\0');
                if (f->null)
                    assert_int_equal(f->len, 0);
                else
                    row[j] = strndup(f->ptr, f->len), assert_int_equal(strlen(f->ptr), f->len);
            }
            t->rows[t->nrows] = row;
            t->row_no[t->nrows] = b.row_no[i];
            t->line_no[t->nrows++] = b.line_no[i];
        }
        for (size_t k = 0; k < b.nbad && t->nbad < 16; k++) {
            t->bad_row[t->nbad] = b.bad[k].row_no;
            snprintf(t->bad_msg[t->nbad++], 512, "%s", b.bad[k].message);
        }
    }
    a->columns(st, &nc, &names);
    t->ncols = nc < 256 ? nc : 256;
    t->names = calloc(t->ncols + 1, sizeof *t->names);
    for (size_t j = 0; j < t->ncols; j++)
        t->names[j] = strdup(names[j]);
    if (r < 0) {
        struct qloop_error again;
        assert_int_equal(a->next_batch(st, &b, &again), -1);
        assert_string_equal(again.message, err->message);
    }
    a->close(st);
    return r < 0 ? -2 : 0;
}

static const char *val(const struct table *t, size_t i, const char *col)
{
    assert_true(i < t->nrows);
    for (size_t j = 0; j < t->ncols; j++)
        if (!strcmp(t->names[j], col))
            return t->rows[i][j];
    fail_msg("no column %s", col);
    return NULL;
}

#endif
