/*
 * adapter.h — the interface every data source implements.
 *
 * An adapter streams one dataset as batches of rows. Like sqlite3_io_methods,
 * it is a const struct of function pointers; each adapter is one file in
 * adapters/ defining one `const struct qloop_adapter`. The engine never knows
 * which adapter it reads: the command line picks one by file extension (or by
 * the dataset's `format`) and hands the engine a function that finds it.
 *
 * Memory: a batch and the field bytes it points to belong to the adapter and
 * stay valid until the next call to next_batch() or close(). Memory must not
 * grow with the size of the file, only with the batch size and the longest row.
 *
 * Every field is UTF-8 (an adapter converts or rejects other encodings) and is
 * NUL-terminated at ptr[len]. A field that is absent (JSON null, a missing
 * JSON key) has null = 1 and len = 0; an empty CSV field is "" with null = 0.
 * The engine treats both as empty.
 */
#ifndef QLOOP_ADAPTER_H
#define QLOOP_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct qloop_field {
    const char *ptr; /* UTF-8 bytes, NUL-terminated at ptr[len]; "" when null */
    size_t len;
    int null;        /* 1 when the value is absent (JSON null / missing key) */
};

struct qloop_batch {
    size_t nrows;
    size_t ncols;              /* columns in this batch: fields of row i are cells[i*ncols ...] */
    struct qloop_field *cells; /* nrows * ncols, row-major */
    uint64_t *row_no;          /* 1-based data row number (header not counted) */
    uint64_t *line_no;         /* 1-based line of the file where the row starts */
};

struct qloop_source_options {
    const char *encoding; /* NULL or "utf-8": strict UTF-8; "gbk" / "gb18030": converted with iconv */
    char delimiter;       /* CSV only; 0 means ',' */
    size_t batch_rows;    /* rows per batch; 0 means 4096 */
};

struct qloop_adapter {
    const char *name;              /* "csv", "jsonl" */
    const char *const *extensions; /* NULL-terminated, lower case, without dot: {"csv", NULL} */

    /* Opens path ("-" means standard input) and reads what it needs to know
     * the columns (the CSV header; the first JSON object). On success returns 0
     * and sets *state. On failure returns -1 with err naming file, line, column
     * and cause (missing file, empty file, bad header, ...). */
    int (*open)(const char *path, const struct qloop_source_options *opts, void **state,
                struct qloop_error *err);

    /* Column names in file order, valid until close(). Columns may only ever be
     * appended (a JSON Lines file may bring new keys later): indices returned
     * once stay valid; callers re-read after each batch if they care. */
    void (*columns)(void *state, size_t *ncols, const char *const **names);

    /* Fills *batch with the next rows. Returns 1 when rows were read, 0 at end
     * of input, -1 on malformed input (unterminated quote — reported at the
     * line where the quoted field opens —, ragged row, invalid UTF-8, bad JSON
     * line, read error) with err filled; after -1 the source is unusable. */
    int (*next_batch)(void *state, struct qloop_batch *batch, struct qloop_error *err);

    /* Releases everything. state may be NULL. */
    void (*close)(void *state);
};

#endif
