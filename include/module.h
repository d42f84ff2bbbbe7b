/*
 * module.c — the server's modules as data. A module that has something to start, to
 * do every cron tick, to stop, or to report in INFO exports one descriptor of hooks;
 * module_list names the descriptors in start order, and the server walks that list
 * instead of naming each module:
 *
 *   server_main  module_init_all()      init in list order; on a failure, shutdown of
 *                                       what was started, in reverse order, and stop
 *   cron tick    module_cron_all()      cron of every started module, in list order
 *   model loaded module_model_loaded_all()  a whole model replaced server.model (the
 *                                       first load, RELOAD, a reload the change log
 *                                       asked for): model_loaded of every started module
 *   exit         module_shutdown_all()  shutdown in reverse list order
 *   INFO         walks module_list      each info_section, in list order, after stats
 *   /metrics     module_metrics_all()   metrics of every module, in list order (http.c)
 *
 * Threading: every hook runs on the loop thread (the rule is worker.h's). A module
 * that needs threads starts its own pool in init and stops it in shutdown.
 */
#ifndef RBACD_MODULE_H
#define RBACD_MODULE_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One module's hooks. Every hook may be NULL (nothing to do). */
typedef struct module {
    const char *name;             /* for log lines: "sessions", "sync", ... */
    bool (*init)(void);           /* start (pools, timers, first jobs); false (logged) when
                                     the server cannot run without it */
    void (*shutdown)(void);       /* answer waiters, stop pools, free everything; runs once
                                     for every module whose init was called, also for one
                                     whose init failed, so it copes with a partial start */
    void (*cron)(int64_t now_ms); /* every cron tick (server.c), wall clock in ms */
    void (*model_loaded)(void);   /* a whole model was installed; the change log is followed
                                     from its revision on, so state kept beside the model
                                     that follows the log is read again from there */
    const char *info_section;     /* INFO section name, lower case ("sessions"), NULL = none;
                                     the section is part of INFO's default set */
    void (*info)(buf *out);       /* the section body: `key:value\r\n` lines */
    void (*metrics)(buf *out);    /* the module's families for GET /metrics, below */
} module;

/*
 * The metrics hook. Each module writes its own metric families in the Prometheus text
 * exposition format (version 0.0.4) with the metrics_* writers (metrics.h), reading the
 * same state its INFO section shows: one count, two reports, never a second counting
 * path. Rules every hook keeps, so that the page stays valid whatever the modules:
 *   - names start with "rbacd_", are unique across modules, and a family's samples are
 *     written together, after its HELP and TYPE lines (metrics_family);
 *   - counters end in "_total", durations are in seconds, sizes in bytes;
 *   - a family is written on every scrape, loaded or not (a count the module does not
 *     have yet is 0, or the family has no sample), so dashboards see no gaps;
 *   - the hook runs on the loop thread, on every scrape: it reads in-memory state only
 *     and never blocks (no database, no locks held by workers for long).
 */

/* The server's modules in start order, NULL-terminated (module.c says why this order). */
extern const module *const module_list[];

/* Calls init of each module of list (NULL-terminated) in order, counting in *started
 * the modules whose init was called. On the first failure, shuts down those modules
 * again (module_shutdown_all) and returns false; *started is then 0. */
bool module_init_all(const module *const *list, size_t *started)
    __attribute__((warn_unused_result));
/* Calls shutdown of the first *started modules of list in reverse order and sets
 * *started to 0, so a second call does nothing. */
void module_shutdown_all(const module *const *list, size_t *started);
/* Calls cron of the first started modules of list, in order. */
void module_cron_all(const module *const *list, size_t started, int64_t now_ms);
/* Calls model_loaded of the first started modules of list, in order. */
void module_model_loaded_all(const module *const *list, size_t started);
/* Appends the metric families of every module of list (NULL-terminated), in order,
 * whether started or not: a hook copes with a module that is not running. */
void module_metrics_all(const module *const *list, buf *out);
/* Appends m's INFO section: "# Title\r\n" (the section name with a capital), the body,
 * and a blank line. Nothing when m has no section. */
void module_info(const module *m, buf *out);

#endif
