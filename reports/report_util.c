/*
 * report_util.c — small helpers every report stage shares: the GB/T 36344
 * dimension names, rounding, number and percentage text, HTML escaping, and
 * typed reads of the report JSON that fall back to a default.
 */
#include <math.h>
#include <string.h>

#include "base/text.h"
#include "report.h"

const char *const report_dimensions[REPORT_NDIMS] = {
    "normative", "completeness", "accuracy", "consistency", "timeliness", "accessibility",
};
const char *const report_dimensions_zh[REPORT_NDIMS] = {
    "规范性", "完整性", "准确性", "一致性", "时效性", "可访问性",
};

const char *report_dimension_zh(const char *dim)
{
    for (int i = 0; i < REPORT_NDIMS; i++)
        if (dim && strcmp(dim, report_dimensions[i]) == 0)
            return report_dimensions_zh[i];
    return dim ? dim : "";
}

double report_round(double x, int decimals)
{
    double f = 1;
    for (int i = 0; i < decimals; i++)
        f *= 10;
    double r = x >= 0 ? floor(x * f + 0.5) : -floor(-x * f + 0.5);
    /* Avoid "-0" in the output. */
    return r == 0 ? 0.0 : r / f;
}

/* Appends x with up to `decimals` places, trailing zeros (and a bare point)
 * dropped. */
static void put_real(struct qloop_buf *b, double x, int decimals)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, report_round(x, decimals));
    char *dot = strchr(tmp, '.');
    if (dot) {
        char *end = tmp + strlen(tmp);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1)
            *dot = '\0';
    }
    if (strcmp(tmp, "-0") == 0)
        strcpy(tmp, "0");
    qloop_buf_printf(b, "%s", tmp);
}

void report_put_number(struct qloop_buf *b, const json_t *v, int decimals)
{
    if (json_is_integer(v))
        qloop_buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        put_real(b, json_real_value(v), decimals);
    else
        qloop_buf_printf(b, "—");
}

bool report_rated(const json_t *d) { return json_is_number(json_object_get(d, "score")); }

void report_put_rank(struct qloop_buf *b, const json_t *d)
{
    if (report_rated(d))
        qloop_buf_printf(b, "%lld", report_int(d, "rank", 0));
    else
        qloop_buf_printf(b, "—");
}

void report_put_percent(struct qloop_buf *b, const json_t *ratio)
{
    if (!json_is_number(ratio)) {
        qloop_buf_printf(b, "—");
        return;
    }
    qloop_buf_printf(b, "%.1f%%", report_round(json_number_value(ratio) * 100.0, 1));
}

void report_put_html(struct qloop_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': qloop_buf_append(b, "&amp;", 5); break;
        case '<': qloop_buf_append(b, "&lt;", 4); break;
        case '>': qloop_buf_append(b, "&gt;", 4); break;
        case '"': qloop_buf_append(b, "&quot;", 6); break;
        case '\'': qloop_buf_append(b, "&#39;", 5); break;
        default: qloop_buf_putc(b, *p);
        }
    }
}

json_t *report_jstr(const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (v)
        return v;
    struct qloop_buf b = {0};
    qloop_utf8_repair(&b, s, strlen(s));
    v = json_string(qloop_buf_str(&b));
    qloop_buf_free(&b);
    return v ? v : json_string("");
}

long long report_int(const json_t *o, const char *key, long long def)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return def;
}

double report_real(const json_t *o, const char *key, double def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

const char *report_str(const json_t *o, const char *key, const char *def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}
