/*
 * render_json.c — the report as JSON: the document itself, indented, keys in
 * the order they were built (report.h), reals with up to 12 significant
 * digits (all figures are rounded before they get here). This is the format
 * every other one is drawn from, so it carries every figure they show.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

int report_render_json(const json_t *report, struct qloop_buf *out, struct qloop_error *err)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    if (!text)
        return qloop_error_internal(err, NULL, "生成报告 JSON 失败（内存不足）");
    qloop_buf_append(out, text, strlen(text));
    qloop_buf_putc(out, '\n');
    free(text);
    return 0;
}
