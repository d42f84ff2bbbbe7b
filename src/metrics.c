/*
 * The Prometheus text format writers (metrics.h). The format, as far as rbacd uses it:
 * a family is `# HELP name text` and `# TYPE name type` followed by its samples, one a
 * line, `name{label="value",...} value\n`; a label value escapes backslash, double
 * quote and newline; HELP text escapes backslash and newline; values are Go-style
 * floats (NaN, +Inf, -Inf). A histogram family `x` has the samples x_bucket (with le,
 * cumulative, ending with le="+Inf"), x_sum and x_count.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_NUM_MAX 40 /* longest number written: "%.17g" of any double fits */

/* Appends s with backslash and newline escaped, and double quote too when quoted. */
static void append_escaped(buf *out, const char *s, bool quoted)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            buf_append_str(out, "\\\\");
        else if (*p == '\n')
            buf_append_str(out, "\\n");
        else if (*p == '"' && quoted)
            buf_append_str(out, "\\\"");
        else
            buf_append(out, p, 1);
    }
}

/* v in its shortest form that reads back exactly, into out (METRICS_NUM_MAX bytes). */
static const char *format_double(double v, char *out)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, METRICS_NUM_MAX, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return out;
}

void metrics_family(buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s ", name);
    append_escaped(out, help, false);
    buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void metrics_label(buf *labels, const char *key, const char *value)
{
    if (labels->len)
        buf_append_str(labels, ",");
    buf_printf(labels, "%s=\"", key);
    append_escaped(labels, value, true);
    buf_append_str(labels, "\"");
}

static void sample_name(buf *out, const char *name, const buf *labels)
{
    buf_append_str(out, name);
    if (labels && labels->len) {
        buf_append_str(out, "{");
        buf_append(out, labels->data, labels->len);
        buf_append_str(out, "}");
    }
}

void metrics_sample(buf *out, const char *name, const buf *labels, double v)
{
    char num[METRICS_NUM_MAX];
    sample_name(out, name, labels);
    buf_printf(out, " %s\n", format_double(v, num));
}

void metrics_sample_u64(buf *out, const char *name, const buf *labels, uint64_t v)
{
    sample_name(out, name, labels);
    buf_printf(out, " %" PRIu64 "\n", v);
}

void metrics_gauge(buf *out, const char *name, const char *help, double v)
{
    metrics_family(out, name, "gauge", help);
    metrics_sample(out, name, NULL, v);
}

void metrics_counter(buf *out, const char *name, const char *help, uint64_t v)
{
    metrics_family(out, name, "counter", help);
    metrics_sample_u64(out, name, NULL, v);
}

/* name + suffix, the labels plus le="bound" (bound NULL: no le), then the value. */
static void histogram_line(buf *out, const char *name, const char *suffix, const buf *labels,
                           const char *le, const char *value)
{
    buf_printf(out, "%s%s", name, suffix);
    bool any = labels && labels->len;
    if (any || le) {
        buf_append_str(out, "{");
        if (any)
            buf_append(out, labels->data, labels->len);
        if (le)
            buf_printf(out, "%sle=\"%s\"", any ? "," : "", le);
        buf_append_str(out, "}");
    }
    buf_printf(out, " %s\n", value);
}

void metrics_histogram(buf *out, const char *name, const buf *labels, const double *bounds,
                       const uint64_t *counts, size_t n, uint64_t count, double sum)
{
    char le[METRICS_NUM_MAX], num[METRICS_NUM_MAX];
    uint64_t cumulative = 0;
    for (size_t i = 0; i < n; i++) {
        cumulative += counts[i];
        snprintf(num, sizeof num, "%" PRIu64, cumulative);
        histogram_line(out, name, "_bucket", labels, format_double(bounds[i], le), num);
    }
    snprintf(num, sizeof num, "%" PRIu64, count);
    histogram_line(out, name, "_bucket", labels, "+Inf", num);
    histogram_line(out, name, "_sum", labels, NULL, format_double(sum, le));
    histogram_line(out, name, "_count", labels, NULL, num);
}
