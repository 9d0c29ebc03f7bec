/*
 * read.h — reading a catalog file into memory (read.c), for import.c.
 */
#ifndef QLOOP_CATALOG_READ_H
#define QLOOP_CATALOG_READ_H

#include "base/error.h"
#include "catalog/catalog.h"
#include "catalog/entry.h"

/* Reads and checks the catalog file f (JSON by the extension .json, CSV by
 * .csv, else by its first character) into c, sorted by dataset; every
 * entry is checked whole (codes, data items, sensitive items and keys among
 * them) and a dataset given twice is refused. Returns 0, or -1 with err
 * naming the file, the line (CSV: of the file) or the entry (JSON:
 * datasets[i]) and what to do; c is empty then. */
int cat_read_file(const struct catalog_file *f, struct catalog *c, struct qloop_error *err);

#endif
