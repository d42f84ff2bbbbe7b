/*
 * The housekeeping module: a pass over the log tables' monthly partitions every
 * housekeeping-interval seconds, on a worker, and the INFO section that gathers every
 * purge (housekeeping.h draws who does what). Loop-thread state only; the job gets a
 * copy of the settings and hands back counts.
 *
 *   cron tick: due and no job out --> pass job on server.workers:
 *                                       lock, then for each log table dal_part_maintain
 *   pass_done() <-----------------------+
 *       counts into INFO; failed: logged (once per distinct message) and counted,
 *       the next pass within a minute; partitions left past retention: the next pass
 *       at the next tick
 */
#include "housekeeping.h"
#include "conf.h"
#include "module.h"
#include "dal.h"
#include "dal_partition.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "server.h"
#include "session.h"
#include "sync.h"
#include "util.h"
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HK_ERR_MAX  256   /* error text kept */
#define HK_RETRY_MS 60000 /* after a failed pass, the next one at most this far off */

/* The tables whose partitions are kept (schema/002_logs.sql); a profile without them
 * has nothing to do. Constants: they are written into statements as they are. */
static const char *const hk_log_tables[] = {"tenant_login_log", "tenant_operation_log"};
#define HK_NTABLES (sizeof hk_log_tables / sizeof hk_log_tables[0])

typedef struct hk_job {
    int ahead;            /* log-partitions-ahead when submitted */
    int retention;        /* log-retention-months when submitted */
    unsigned created;     /* out: partitions created */
    unsigned dropped;     /* out: partitions dropped */
    unsigned partitioned; /* out: log tables found partitioned */
    bool more;            /* out: partitions past retention remain */
    bool skipped;         /* out: another instance held the lock */
    bool failed;          /* out: err says why */
    int64_t duration_us;  /* out: time on the worker */
    char err[HK_ERR_MAX]; /* out */
} hk_job;

static struct {
    bool started;                /* init ran, shutdown has not */
    bool job_out;                /* a pass is on a worker */
    int64_t next_ms;             /* wall clock of the next pass, 0 = at the next tick */
    uint64_t passes;             /* passes completed (skipped ones included) */
    uint64_t skipped;            /* passes another instance's lock made skip */
    uint64_t created;            /* partitions created */
    uint64_t dropped;            /* partitions dropped */
    uint64_t errors;             /* passes that failed */
    unsigned partitioned;        /* log tables partitioned, as the last pass found */
    int64_t last_pass_ms;        /* wall clock the last pass ended, 0 = none yet */
    int64_t last_pass_us;        /* its duration on the worker */
    char last_error[HK_ERR_MAX]; /* last failure, "" = none */
} hk;

/* ---------------------------------------------------------------- worker ---- */

static void pass_run(void *arg)
{
    hk_job *j = arg;
    int64_t t0 = util_mono_us();
    MYSQL *db = worker_db(j->err, sizeof j->err);
    bool held = false;
    if (!db) {
        j->failed = true;
    } else if (!dal_part_lock(db, &held, j->err, sizeof j->err)) {
        j->failed = true;
    } else if (!held) {
        j->skipped = true;
    } else {
        /* A table that fails does not hold the other back; the last error is kept. */
        for (size_t i = 0; i < HK_NTABLES; i++) {
            dal_partition_result r;
            char err[HK_ERR_MAX];
            if (!dal_part_maintain(db, hk_log_tables[i], j->ahead, j->retention, &r, err,
                                   sizeof err)) {
                j->failed = true;
                snprintf(j->err, sizeof j->err, "%s", err);
            }
            j->created += r.created;
            j->dropped += r.dropped;
            j->partitioned += r.partitioned;
            j->more |= r.more_to_drop;
        }
        dal_part_unlock(db);
    }
    if (db)
        dal_done();
    j->duration_us = util_mono_us() - t0;
}

/* ------------------------------------------------------------------ loop ---- */

static void pass_done(void *arg)
{
    hk_job *j = arg;
    hk.job_out = false;
    if (hk.started) {
        int64_t now = util_now_ms();
        hk.passes++;
        hk.skipped += j->skipped;
        hk.created += j->created;
        hk.dropped += j->dropped;
        hk.last_pass_ms = now;
        hk.last_pass_us = j->duration_us;
        if (!j->failed && !j->skipped)
            hk.partitioned = j->partitioned;
        if (j->created || j->dropped)
            log_notice("housekeeping: %u log partitions created, %u dropped", j->created,
                       j->dropped);
        if (j->failed) {
            hk.errors++;
            util_one_line(j->err);
            if (strcmp(hk.last_error, j->err) != 0)
                log_warn("housekeeping: log partitions: %s", j->err);
            snprintf(hk.last_error, sizeof hk.last_error, "%s", j->err);
        } else if (!j->skipped) {
            hk.last_error[0] = '\0';
        }
        /* Work left: the next tick, one more partition each; else the interval. */
        int64_t wait_ms = server.conf.housekeeping_interval * 1000;
        if (j->failed && wait_ms > HK_RETRY_MS)
            wait_ms = HK_RETRY_MS; /* a database back up soon gets its pass soon */
        hk.next_ms = j->more ? 0 : now + wait_ms;
    }
    mem_free(j);
}

static void hk_cron(int64_t now_ms)
{
    if (!hk.started || hk.job_out || !server.workers || now_ms < hk.next_ms)
        return;
    hk_job *j = mem_calloc(1, sizeof *j);
    j->ahead = (int)server.conf.log_partitions_ahead;
    j->retention = (int)server.conf.log_retention_months;
    hk.job_out = true;
    worker_submit(server.workers, pass_run, pass_done, j);
}

void housekeeping_conf_changed(const rbacd_conf *c)
{
    hk.next_ms = 0;
}

static bool hk_init(void)
{
    hk.started = true;
    hk.next_ms = 0; /* the first pass at the first tick: a fresh table gets its months */
    return true;
}

static void hk_shutdown(void)
{
    /* A pass still out finishes when server.workers stops; pass_done sees !started. */
    hk.started = false;
}

static void hk_info(buf *out)
{
    uint64_t s_runs, s_purged, s_failed, c_runs, c_purged, c_failed;
    session_purge_stats(&s_runs, &s_purged, &s_failed);
    sync_purge_stats(&c_runs, &c_purged, &c_failed);
    buf_printf(out,
               "log_retention_months:%lld\r\nlog_partitions_ahead:%lld\r\n"
               "housekeeping_interval:%lld\r\npurge_batch:%lld\r\n"
               "log_tables_partitioned:%u\r\npartition_passes:%" PRIu64
               "\r\npartition_passes_skipped:%" PRIu64 "\r\npartitions_created:%" PRIu64
               "\r\npartitions_dropped:%" PRIu64 "\r\npartition_errors:%" PRIu64
               "\r\nlast_partition_pass:%lld\r\nlast_partition_pass_us:%lld\r\n"
               "last_partition_error:%s\r\nsession_purge_runs:%" PRIu64
               "\r\nsessions_purged:%" PRIu64 "\r\nsession_purge_errors:%" PRIu64
               "\r\nchange_purge_runs:%" PRIu64 "\r\nchanges_purged:%" PRIu64
               "\r\nchange_purge_errors:%" PRIu64 "\r\nhousekeeping_errors:%" PRIu64 "\r\n",
               server.conf.log_retention_months, server.conf.log_partitions_ahead,
               server.conf.housekeeping_interval, server.conf.purge_batch, hk.partitioned,
               hk.passes, hk.skipped, hk.created, hk.dropped, hk.errors,
               (long long)(hk.last_pass_ms / 1000), (long long)hk.last_pass_us, hk.last_error,
               s_runs, s_purged, s_failed, c_runs, c_purged, c_failed,
               hk.errors + s_failed + c_failed);
}

/* One labelled sample per purged table: the session store's and the change log's. */
static void purge_family(buf *out, const char *name, const char *help, uint64_t sessions,
                         uint64_t changes)
{
    buf labels;
    buf_init(&labels);
    metrics_family(out, name, "counter", help);
    metrics_label(&labels, "table", "tenant_session");
    metrics_sample_u64(out, name, &labels, sessions);
    buf_clear(&labels);
    metrics_label(&labels, "table", "rbac_change");
    metrics_sample_u64(out, name, &labels, changes);
    buf_free(&labels);
}

/* The INFO section's counters as Prometheus families (module.h's metrics rules). */
static void hk_metrics(buf *out)
{
    uint64_t s_runs, s_purged, s_failed, c_runs, c_purged, c_failed;
    session_purge_stats(&s_runs, &s_purged, &s_failed);
    sync_purge_stats(&c_runs, &c_purged, &c_failed);
    metrics_counter(out, "rbacd_housekeeping_partition_passes_total",
                    "Passes over the log partitions.", hk.passes);
    metrics_counter(out, "rbacd_housekeeping_partitions_created_total",
                    "Monthly log partitions created ahead.", hk.created);
    metrics_counter(out, "rbacd_housekeeping_partitions_dropped_total",
                    "Monthly log partitions dropped past log-retention-months.", hk.dropped);
    metrics_counter(out, "rbacd_housekeeping_partition_errors_total",
                    "Passes over the log partitions that failed.", hk.errors);
    metrics_gauge(out, "rbacd_housekeeping_last_partition_pass_timestamp_seconds",
                  "When the last pass over the log partitions ended (unix time, 0 = none).",
                  (double)(hk.last_pass_ms / 1000));
    purge_family(out, "rbacd_housekeeping_purged_rows_total", "Rows purged, by table.", s_purged,
                 c_purged);
    purge_family(out, "rbacd_housekeeping_purge_runs_total",
                 "Purge statements run (purge-batch rows at most each), by table.", s_runs, c_runs);
    purge_family(out, "rbacd_housekeeping_purge_errors_total", "Purges that failed, by table.",
                 s_failed, c_failed);
}

const module housekeeping_module = {
    .name = "housekeeping",
    .init = hk_init,
    .shutdown = hk_shutdown,
    .cron = hk_cron,
    .info_section = "housekeeping",
    .info = hk_info,
    .metrics = hk_metrics,
};
