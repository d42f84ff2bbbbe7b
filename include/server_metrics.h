/*
 * server_metrics.c — the server's own metric families for GET /metrics (the module.h
 * metrics hook of the "server" module): process, clients, memory, the server counters
 * INFO stats shows, the per-command counters and latency histograms INFO commandstats
 * and latencystats show, and the database as each worker pool last saw it.
 */
#ifndef RBACD_SERVER_METRICS_H
#define RBACD_SERVER_METRICS_H

#include "module.h"

/* A module with only a metrics hook; first in module_list, so its families lead. */
extern const module server_metrics_module;

#endif
