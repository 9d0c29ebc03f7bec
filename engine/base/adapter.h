/*
 * adapter.h — the interface every data source implements.
 *
 * An adapter streams one dataset as batches of rows. Like sqlite3_io_methods,
 * it is a const struct of function pointers; each adapter is one file in
 * adapters/ defining one `const struct qloop_adapter`. The engine never knows
 * which adapter it reads: the command line picks one by the source's scheme
 * ("odbc:NAME"), the dataset's `format` or the file extension, and hands the
 * engine a function that finds it. What an adapter needs from the dataset's
 * declaration (records path, sheet, query, ...) comes in
 * struct qloop_source_options; what differs in behaviour is told by the
 * adapter's flags, never by its name.
 *
 * Memory: a batch and the field bytes it points to belong to the adapter and
 * stay valid until the next call to next_batch() or close(). Memory must not
 * grow with the size of the file, only with the batch size and the longest row.
 *
 * Every field is UTF-8 (an adapter converts or rejects other encodings) and is
 * NUL-terminated at ptr[len]. A field that is absent (JSON null, a missing
 * JSON key) has null = 1 and len = 0; an empty CSV field is "" with null = 0.
 * The engine treats both as empty.
 *
 * Malformed rows: by default (QLOOP_BAD_ROWS_STOP) a malformed row makes
 * next_batch() fail. With QLOOP_BAD_ROWS_REPORT an adapter that can tell
 * where the bad row ends skips it and lists it in the batch (bad, nbad) with
 * the row number it would have had; the following rows keep their numbers.
 * Damage that leaves the rest unreadable (a quote never closed, a broken JSON
 * document, a lost database connection) still fails.
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

/* A malformed row skipped under QLOOP_BAD_ROWS_REPORT. */
struct qloop_bad_row {
    uint64_t row_no;     /* the data row number it took (1-based) */
    uint64_t line_no;    /* where it starts: line of a text file, row of a sheet; 0 unknown */
    const char *message; /* Chinese: what is wrong with it (no field values) */
};

struct qloop_batch {
    size_t nrows;
    size_t ncols;              /* columns in this batch: fields of row i are cells[i*ncols ...] */
    struct qloop_field *cells; /* nrows * ncols, row-major */
    uint64_t *row_no;          /* 1-based data row number (header not counted) */
    uint64_t *line_no;         /* 1-based line of the file where the row starts */
    size_t nbad;               /* malformed rows skipped since the last batch */
    const struct qloop_bad_row *bad;
};

enum qloop_bad_rows {
    QLOOP_BAD_ROWS_STOP = 0, /* a malformed row is an error (next_batch returns -1) */
    QLOOP_BAD_ROWS_REPORT,   /* ... is skipped and listed in the batch */
};

struct qloop_source_options {
    const char *encoding; /* NULL or "utf-8": strict UTF-8; "gbk" / "gb18030": converted with iconv */
    char delimiter;       /* CSV only; 0 means ',' */
    size_t batch_rows;    /* rows per batch; 0 means 4096 */
    const char *dataset;  /* the dataset's name, for messages; may be NULL */
    enum qloop_bad_rows bad_rows;
    const char *records;  /* JSON document: dot path of the records array; NULL or "": the
                           * document itself */
    const char *sheet;    /* workbook: the sheet's name; NULL: the first sheet */
    unsigned long header_row; /* workbook: the row holding the column names; 0 means 1 */
    const char *query;    /* database: the SELECT to read, or NULL */
    const char *table;    /* database: the table to read whole, or NULL (with no query
                           * either: the table named like the dataset) */
    /* CSV only: the column names of an input that has no header line (a part
     * of a file split by lines); NULL: the first line is the header. */
    const char *const *names;
    size_t nnames;
};

/* Flags of an adapter. */
enum {
    /* Columns are learnt while reading (JSON: keys first seen in later
     * records are appended), so a field missing after open() may still come. */
    QLOOP_ADAPTER_OPEN_COLUMNS = 1,
    /* A batch's non-null cells all point into one buffer of the adapter's,
     * every byte from the first cell's to the last one's readable (CSV: the
     * window the rows were parsed in); a reader may copy that span whole. */
    QLOOP_ADAPTER_ONE_BUFFER = 2,
};

struct qloop_adapter {
    const char *name;              /* "csv", "jsonl", "json", "xlsx", "odbc" */
    const char *const *extensions; /* NULL-terminated, lower case, without dot: {"csv", NULL} */
    const char *scheme;            /* sources written "SCHEME:NAME" (e.g. "odbc") are this
                                    * adapter's and are not files; NULL for file adapters */
    unsigned flags;                /* QLOOP_ADAPTER_* */

    /* Opens path ("-" means standard input; "SCHEME:NAME" for an adapter with
     * a scheme) and reads what it needs to know the columns (the CSV header;
     * the first JSON object; the sheet's header row; the query's result
     * columns). On success returns 0 and sets *state. On failure returns -1
     * with err naming the source, line, column and cause (missing file, empty
     * file, bad header, unknown data source, ...) and what to do. */
    int (*open)(const char *path, const struct qloop_source_options *opts, void **state,
                struct qloop_error *err);

    /* Column names in file order, valid until close(). Columns may only ever be
     * appended (a JSON Lines file may bring new keys later): indices returned
     * once stay valid; callers re-read after each batch if they care. */
    void (*columns)(void *state, size_t *ncols, const char *const **names);

    /* Fills *batch with the next rows. Returns 1 when rows were read (nrows
     * may be 0 when only malformed rows were skipped: nbad > 0), 0 at end of
     * input, -1 on malformed input (unterminated quote — reported at the line
     * where the quoted field opens —, ragged row, invalid UTF-8, bad JSON
     * line, read error, lost connection) with err filled; after -1 the source
     * is unusable. */
    int (*next_batch)(void *state, struct qloop_batch *batch, struct qloop_error *err);

    /* Releases everything. state may be NULL. */
    void (*close)(void *state);
};

#endif
