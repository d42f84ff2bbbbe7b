/*
 * metrics.c — writers for the Prometheus text exposition format (version 0.0.4), which
 * every module's metrics hook (module.h) uses to build GET /metrics:
 *
 *   # HELP rbacd_commands_total Commands run, by name.      <- metrics_family
 *   # TYPE rbacd_commands_total counter
 *   rbacd_commands_total{cmd="canmenu"} 42                  <- metrics_sample_u64
 *
 * Label sets are built with metrics_label() into a buf, which escapes the value; the
 * writers never fail (buf grows) and keep no state, so they run on any thread.
 */
#ifndef RBACD_METRICS_H
#define RBACD_METRICS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* The content type of the page. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the HELP and TYPE lines of a family. type is "counter", "gauge" or
 * "histogram"; help is one line of plain text (backslashes and newlines are escaped). */
void metrics_family(buf *out, const char *name, const char *type, const char *help);
/* Appends `key="value"` to a label set, after a comma when labels is not empty; the value
 * is escaped as the format asks (\\, \", \n). */
void metrics_label(buf *labels, const char *key, const char *value);
/* Appends one sample `name{labels} value`; labels NULL or empty = none. A double is
 * written in its shortest exact form, NaN and infinities as NaN, +Inf, -Inf. */
void metrics_sample(buf *out, const char *name, const buf *labels, double v);
void metrics_sample_u64(buf *out, const char *name, const buf *labels, uint64_t v);
/* A family of one unlabelled sample. */
void metrics_gauge(buf *out, const char *name, const char *help, double v);
void metrics_counter(buf *out, const char *name, const char *help, uint64_t v);
/* Appends the samples of one histogram (its family written before): name_bucket with
 * labels plus le="bound" for each of the n bounds (ascending, in the family's unit), a
 * cumulative count each, then le="+Inf" (count), name_sum and name_count. counts holds
 * n + 1 non-cumulative counts: counts[i] the observations in (bounds[i-1], bounds[i]],
 * counts[n] those above the last bound. */
void metrics_histogram(buf *out, const char *name, const buf *labels, const double *bounds,
                       const uint64_t *counts, size_t n, uint64_t count, double sum);

#endif
