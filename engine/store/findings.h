/*
 * findings.h — where findings go: the interface between whoever finds a
 * problem record and the one writer that stores it.
 *
 * A finding names a dataset, a rule and a record (by its raw key), and may
 * carry the field and the raw value judged and a message. The run's findings
 * writer (run/findings.c) implements this interface: it alone computes the
 * record_ref, masks the key, the value and the message by the dataset's
 * declared sensitive fields and by shape, and inserts the row. Modules below
 * the run that find problems (the catalog's checks) write through a sink the
 * run hands them, so "no raw personal data in the store" is enforced in one
 * place.
 */
#ifndef QLOOP_STORE_FINDINGS_H
#define QLOOP_STORE_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct qloop_finding {
    const char *dataset;  /* the dataset's name */
    const char *rule;     /* the rule id ("people.phone_format", "people.catalog_stale") */
    uint64_t row_no;      /* 1-based data row, 0 for a dataset-level finding */
    const char *key;      /* the raw record key (key fields joined by '|'); "" for none */
    size_t keylen;
    const char *field;    /* the field judged, NULL for none */
    const char *value;    /* the raw value judged, NULL for none */
    size_t vlen;
    const char *message;  /* what is wrong, in Chinese; NULL: the rule's own message */
};

struct qloop_findings_sink {
    /* Stores f (masked as above). Returns 0, or -1 with err filled. */
    int (*write)(void *ctx, const struct qloop_finding *f, struct qloop_error *err);
    void *ctx;
};

#endif
