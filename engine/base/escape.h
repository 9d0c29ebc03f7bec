/*
 * escape.h — text made safe for where it is shown: a terminal, an XML
 * document (XLSX), a spreadsheet cell (CSV, XLSX).
 *
 * Text that reaches these places comes from rule files, catalogs, data and
 * people (department names, messages, reasons): anyone who can put text into
 * the store could otherwise send escape sequences to a steward's terminal,
 * make a workbook unreadable, or plant a formula in a spreadsheet. These
 * functions never fail and never drop a character silently: what cannot be
 * shown as it is is written as a visible escape.
 */
#ifndef QLOOP_BASE_ESCAPE_H
#define QLOOP_BASE_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum {
    QLOOP_ESC_KEEP_NEWLINE = 1 << 0, /* keep \n as it is (multi-line text) */
    QLOOP_ESC_XML = 1 << 1,          /* also what XML 1.0 cannot hold (U+FFFE, U+FFFF) */
};

/* Appends s[0..len) to out with every control character written as a
 * visible escape: C0 controls (ESC, CR, BEL, NUL ...; tab is kept, \n too with
 * QLOOP_ESC_KEEP_NEWLINE) and DEL as \xHH, C1 controls (U+0080-U+009F) and
 * the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069),
 * which reorder what a reader sees, as \uHHHH, and bytes that are not UTF-8
 * as \xHH. A backslash itself stays a backslash. Returns the number of
 * characters escaped (0: out received s unchanged). */
size_t qloop_escape_controls(const char *s, size_t len, unsigned flags, struct qloop_buf *out);

/* Whether a spreadsheet would take the cell s[0..len) for a formula (CSV
 * injection): it starts with = + - or @, also after leading spaces, tabs or
 * line breaks, or it starts with a tab or a carriage return. */
bool qloop_escape_formula_like(const char *s, size_t len);

/* Appends the text of a spreadsheet cell: a formula-like value (see above)
 * behind a single quote ('), which every spreadsheet shows as text; control
 * characters escaped as qloop_escape_controls does (line breaks kept), so the
 * cell can also go into XML. Quoting for CSV is the caller's. */
void qloop_escape_cell(const char *s, size_t len, struct qloop_buf *out);

#endif
