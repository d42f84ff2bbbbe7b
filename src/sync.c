/*
 * The change-log follower and the serial lane, loop side. Owns the lane, the cursor
 * (sync_cursor.c), the poll timer, WAITREV waiters, the purge of old change rows and
 * the INFO sync section. The threading rule is worker.h's: everything here is touched
 * by the loop thread only; jobs get copies and hand results back through their done
 * callbacks, which the lane delivers in the order the jobs ran.
 *
 * The poll cycle:
 *
 *   timer (sync-interval-ms) --> poll job on the lane --> poll_done():
 *       failed   -> note the outage, keep serving from memory, try again next interval
 *       gap      -> full reload (loader on the lane); polling waits for it
 *       ok       -> apply the batch, advance the cursor (same epoch only), settle holes,
 *                   wake WAITREV callers; a full fetch, a WAITREV or a follow-up polls
 *                   again at once
 *
 * Epochs: a model load resets the cursor to the snapshot (sync_model_loaded) and bumps
 * the epoch. A poll that was submitted before the reset still has its rows applied (they
 * are newer than the snapshot, being read after it on the lane) but does not move the
 * new cursor, whose next poll fetches everything above the snapshot again.
 *
 * Outage: every database call fails fast while the workers' shared reconnect backoff
 * runs (worker.c); polls keep their cursor, so when the database answers again the next
 * poll fetches everything committed meanwhile. If rows were purged before this instance
 * read them (cursor below MIN(id)), or nothing was read for a whole retention period,
 * the model is reloaded whole.
 */
#include "sync.h"
#include "client.h"
#include "db.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "rbac.h"
#include "resp.h"
#include "server.h"
#include "session.h"
#include "sync_internal.h"
#include "tracking.h"
#include "util.h"
#include "worker.h"

#include <event2/event.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SYNC_FETCH_RUNS       64     /* holes fetched again per poll, lowest first */
#define SYNC_PROBES_PER_POLL  16     /* probes per poll, lowest holes first */
#define SYNC_PROBE_SPAN       4096   /* ids one probe covers at most */
#define SYNC_PROBE_GROUP      256    /* holes one probe covers at most */
#define SYNC_PROBE_MIN_AGE_US 300000 /* "no row, no lock" drops a hole only this old */
#define SYNC_PURGE_MIN_MS     1000   /* purge at most this often ... */
#define SYNC_PURGE_MAX_MS     60000  /* ... and at least this often */

typedef struct sync_waiter {
    uint64_t ticket;                 /* the blocked WAITREV caller (client_wait) */
    uint64_t rev;                    /* revision it waits for */
    int64_t since_us;                /* monotonic time of the call */
    struct event *timer;             /* timeout, NULL when waiting for ever */
    struct sync_waiter *prev, *next; /* sync.waiters list */
} sync_waiter;

typedef struct sync_stats {
    uint64_t polls;          /* polls completed */
    uint64_t poll_failures;  /* polls the database refused or missed */
    uint64_t changes;        /* change rows fetched */
    uint64_t ignored;        /* change rows naming tables not cached */
    uint64_t applied;        /* records applied (entities and lists) */
    uint64_t tenant_reloads; /* tenants read whole */
    uint64_t full_reloads;   /* full reloads asked for by the follower */
    uint64_t gaps;           /* polls that found purged rows not yet read */
    uint64_t holes_dropped;  /* ids given up as rolled back */
    uint64_t purged;         /* change rows deleted */
    uint64_t purge_failures; /* purge jobs that failed */
    uint64_t purge_runs;     /* purge jobs done (one DELETE of purge-batch rows at most) */
    uint64_t writes;         /* write commands committed */
    uint64_t write_errors;   /* write commands refused (-ERR) */
    uint64_t write_dberrs;   /* write commands failed on the database (-DBERR) */
    uint64_t txn_retries;    /* write transactions run again (conflict, lost connection) */
    uint64_t txn_conflicts;  /* writes that still conflicted after db-retries (-DBERR) */
} sync_stats;

static struct {
    struct worker_pool *lane;      /* the serial lane */
    bool stopped;                  /* sync_shutdown() ran */
    bool have_model;               /* a model was loaded: polling may run */
    uint64_t epoch;                /* bumped by every model load */
    sync_cursor cur;               /* where this instance is in the change log */
    struct event *poll_ev;         /* next poll */
    bool poll_running;             /* a poll job is on the lane */
    bool poll_again;               /* poll at once when the running one ends */
    long long armed_interval;      /* sync-interval-ms the timer was armed with */
    bool reload_pending;           /* a full reload was asked for; polls wait */
    const dal_profile *profile;    /* what the change log names (NULL: no loader) */
    dal_key *followups;            /* keys for the next poll */
    size_t nfollowups;             /* used */
    size_t capfollowups;           /* allocated */
    sync_waiter *waiters;          /* blocked WAITREV callers */
    size_t nwaiters;               /* entries in waiters */
    bool purge_running;            /* a purge job is out */
    int64_t next_purge_ms;         /* wall clock of the next purge */
    int64_t last_poll_ok_ms;       /* wall clock of the last successful poll or load */
    int64_t last_poll_at_ms;       /* wall clock of the last poll end */
    int64_t last_poll_us;          /* its duration on the lane */
    bool db_down;                  /* the last poll could not reach the database */
    int64_t down_since_ms;         /* wall clock it went down */
    char last_error[SYNC_ERR_MAX]; /* last database error a poll or write saw */
    sync_stats st;                 /* INFO counters */
} sync;

/* ------------------------------------------------------------- scheduling ---- */

static void poll_start(void);

static void on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
    poll_start();
}

/* Polls after delay_ms (0: as soon as the lane is free). */
static void schedule_poll(long long delay_ms)
{
    if (sync.stopped || !sync.poll_ev)
        return;
    if (sync.poll_running) {
        if (delay_ms == 0)
            sync.poll_again = true;
        return;
    }
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    sync.armed_interval = server.conf.sync_interval_ms;
    evtimer_add(sync.poll_ev, &tv);
}

static void reload_done(void *ctx, bool ok, const char *err)
{
    if (sync.stopped)
        return;
    sync.reload_pending = false;
    if (!ok)
        log_warn("change log: full reload failed: %s; retrying", err ? err : "?");
    schedule_poll(ok ? 0 : server.conf.sync_interval_ms);
}

static void start_full_reload(const char *why)
{
    if (sync.reload_pending || sync.stopped)
        return;
    sync.reload_pending = true;
    sync.st.full_reloads++;
    log_notice("change log: %s; reloading the whole model", why);
    loader_start(0, reload_done, NULL);
}

/* ---------------------------------------------------------------- waiters ---- */

static void waiter_unlink(sync_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        sync.waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    sync.nwaiters--;
}

static void waitrev_reply(client *c, void *arg)
{
    if (c)
        resp_int(&c->out, arg ? 1 : 0);
}

/* Replies to the waiter's client (if still connected) and frees it. */
static void waiter_finish(sync_waiter *w, bool reached)
{
    uint64_t ticket = w->ticket;
    if (w->timer)
        event_free(w->timer);
    mem_free(w);
    client_resume(ticket, waitrev_reply, reached ? (void *)1 : NULL);
}

static void on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
    sync_waiter *w = arg;
    waiter_unlink(w);
    waiter_finish(w, sync_cursor_reached(&sync.cur, w->rev, w->since_us));
}

/* Answers every waiter whose revision is reached. Replying may run a client's pipelined
 * commands (a new WAITREV among them), so the answered ones are unlinked first. */
static void check_waiters(void)
{
    sync_waiter *done = NULL;
    for (sync_waiter *w = sync.waiters, *next; w; w = next) {
        next = w->next;
        bool gone = !client_waiting(w->ticket);
        if (!gone && !sync_cursor_reached(&sync.cur, w->rev, w->since_us))
            continue;
        waiter_unlink(w);
        w->next = done;
        done = w;
    }
    while (done) {
        sync_waiter *w = done;
        done = w->next;
        waiter_finish(w, true);
    }
}

void sync_waitrev(client *c, uint64_t rev, int64_t timeout_ms)
{
    int64_t now_us = util_mono_us();
    if (sync_cursor_reached(&sync.cur, rev, now_us)) {
        resp_int(&c->out, 1);
        return;
    }
    sync_waiter *w = mem_calloc(1, sizeof *w);
    w->ticket = client_wait(c);
    w->rev = rev;
    w->since_us = now_us;
    if (timeout_ms > 0) {
        w->timer = evtimer_new(server.base, on_waiter_timeout, w);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(w->timer, &tv);
    }
    w->next = sync.waiters;
    if (sync.waiters)
        sync.waiters->prev = w;
    sync.waiters = w;
    sync.nwaiters++;
    /* The revision may be committed but not fetched yet: do not wait for the timer. */
    schedule_poll(0);
}

/* ------------------------------------------------------------------ polls ---- */

static void note_db_failure(const char *err)
{
    snprintf(sync.last_error, sizeof sync.last_error, "%s", err);
    util_one_line(sync.last_error);
    if (!sync.db_down) {
        sync.db_down = true;
        sync.down_since_ms = util_now_ms();
        log_warn("change log: database unreachable, reads are served from memory and writes "
                 "fail until it returns: %s",
                 err);
    }
}

static void note_db_ok(void)
{
    if (sync.db_down) {
        sync.db_down = false;
        log_notice("change log: database reachable again after %lld ms; catching up from "
                   "revision %" PRIu64,
                   (long long)(util_now_ms() - sync.down_since_ms),
                   sync_cursor_low_water(&sync.cur));
    }
}

static void followups_add(const dal_key *k, size_t n)
{
    if (n == 0)
        return;
    mem_grow((void **)&sync.followups, &sync.capfollowups, sync.nfollowups + n,
             sizeof *sync.followups);
    memcpy(sync.followups + sync.nfollowups, k, n * sizeof *k);
    sync.nfollowups += n;
}

/* Applies a batch to the live model; follow-ups are kept for the next poll. This is
 * where writes, change-log polls of other instances' and SQL changes all change the
 * model, so it is also where client tracking learns what changed: the invalidation
 * pushes go out here, before the writer's reply and before any later reply. origin:
 * the writing client's id, 0 for a poll. */
static void apply_batch(const dal_batch *b, uint64_t origin)
{
    for (size_t i = 0; i < b->nsessions; i++)
        session_user_changed(b->sessions[i].tenant, b->sessions[i].user);
    if (!server.model || !sync.profile)
        return;
    dal_apply_out out = {0};
    tracking_batch_begin(sync.profile, server.model, b, origin);
    dal_apply(sync.profile, server.model, b, &out);
    tracking_batch_end(server.model);
    followups_add(out.followups, out.nfollowups);
    mem_free(out.followups);
    sync.st.applied += out.applied;
    if (out.need_full_reload)
        start_full_reload("a menu appeared below the highest menu id");
}

/* How old a hole must be before a probe that found it missing and unlocked drops it: on
 * a single server, old enough to have been written (SYNC_PROBE_MIN_AGE_US); on Galera,
 * also past sync-cluster-grace-ms, for transactions open on other nodes. */
static int64_t probe_min_age_us(bool galera)
{
    int64_t grace = galera ? server.conf.sync_cluster_grace_ms * 1000 : 0;
    return grace > SYNC_PROBE_MIN_AGE_US ? grace : SYNC_PROBE_MIN_AGE_US;
}

static void apply_probes(const sync_poll_job *j)
{
    int64_t min_age = probe_min_age_us(j->galera);
    for (size_t i = 0; i < j->nprobes; i++) {
        const sync_probe *p = &j->probes[i];
        log_debug("change log: probe %" PRIu64 "..%" PRIu64 ": %d", p->lo, p->hi, p->result);
        if (p->result == DAL_PROBE_INFLIGHT) {
            sync_cursor_inflight(&sync.cur, p->lo, p->hi, p->single, p->at_us);
        } else if (p->result == DAL_PROBE_SETTLED) {
            uint64_t before = sync_cursor_missing(&sync.cur);
            if (j->galera)
                sync_cursor_absent_at(&sync.cur, p->lo, p->hi, p->present.v, p->present.n,
                                      p->at_us);
            sync_cursor_settled(&sync.cur, p->lo, p->hi, p->present.v, p->present.n,
                                p->at_us - min_age);
            sync.st.holes_dropped += before - sync_cursor_missing(&sync.cur);
        }
    }
}

/* Groups the lowest holes into at most SYNC_PROBES_PER_POLL probes: neighbouring runs
 * share one range unless a group probe already found an open transaction among them. */
static size_t plan_probes(sync_probe **out)
{
    const sync_run *runs = sync.cur.runs;
    size_t nruns = sync.cur.nruns, n = 0;
    *out = NULL;
    if (nruns == 0)
        return 0;
    sync_probe *p = mem_calloc(SYNC_PROBES_PER_POLL, sizeof *p);
    for (size_t i = 0, k; i < nruns && n < SYNC_PROBES_PER_POLL; i = k) {
        k = i + 1;
        while (!runs[i].alone && k < nruns && !runs[k].alone && k - i < SYNC_PROBE_GROUP &&
               runs[k].hi - runs[i].lo < SYNC_PROBE_SPAN)
            k++;
        p[n].lo = runs[i].lo;
        p[n].hi = runs[k - 1].hi;
        p[n].single = k - i == 1;
        n++;
    }
    *out = p;
    return n;
}

static void poll_done(void *arg)
{
    sync_poll_job *j = arg;
    sync.poll_running = false;
    if (sync.stopped) {
        sync_poll_job_free(j);
        return;
    }
    sync.st.polls++;
    sync.last_poll_at_ms = util_now_ms();
    sync.last_poll_us = j->duration_us;
    if (j->failed) {
        sync.st.poll_failures++;
        followups_add(j->followups, j->nfollowups); /* not read: ask again */
        note_db_failure(j->err);
        sync_poll_job_free(j);
        schedule_poll(server.conf.sync_interval_ms);
        return;
    }
    note_db_ok();
    sync.last_poll_ok_ms = sync.last_poll_at_ms;
    if (j->gap) {
        sync.st.gaps++;
        sync_poll_job_free(j);
        start_full_reload("change rows this instance never read were purged");
        return;
    }
    apply_batch(&j->batch, 0);
    sync.st.changes += j->nids;
    sync.st.ignored += j->nignored;
    sync.st.tenant_reloads += j->tenant_reloads;
    if (j->epoch == sync.epoch) {
        int64_t now_us = util_mono_us();
        for (size_t i = 0; i < j->nids; i++)
            sync_cursor_seen(&sync.cur, j->ids[i], now_us);
        apply_probes(j);
    }
    if (server.model)
        rbac_model_set_revision(server.model, sync.cur.max_seen);
    bool again = j->full || sync.poll_again || sync.nfollowups > 0;
    sync_poll_job_free(j);
    check_waiters();
    schedule_poll(again ? 0 : server.conf.sync_interval_ms);
}

static bool stale_contact(void)
{
    int64_t retention_ms = server.conf.change_retention * 1000;
    return sync.last_poll_ok_ms && util_now_ms() - sync.last_poll_ok_ms > retention_ms;
}

static void poll_start(void)
{
    if (sync.stopped || !sync.lane || !sync.have_model || !server.model || !sync.profile ||
        sync.poll_running || sync.reload_pending)
        return;
    sync_poll_job *j = mem_calloc(1, sizeof *j);
    j->profile = sync.profile;
    j->epoch = sync.epoch;
    j->max_seen = sync.cur.max_seen;
    j->low_water = sync_cursor_low_water(&sync.cur);
    j->stale_contact = stale_contact();
    j->nruns = sync.cur.nruns < SYNC_FETCH_RUNS ? sync.cur.nruns : SYNC_FETCH_RUNS;
    if (j->nruns) {
        j->runs = mem_alloc(j->nruns * sizeof *j->runs);
        memcpy(j->runs, sync.cur.runs, j->nruns * sizeof *j->runs);
    }
    j->nprobes = plan_probes(&j->probes);
    j->followups = sync.followups;
    j->nfollowups = sync.nfollowups;
    sync.followups = NULL;
    sync.nfollowups = sync.capfollowups = 0;
    sync.poll_running = true;
    sync.poll_again = false;
    worker_submit(sync.lane, sync_poll_run, poll_done, j);
}

/* ----------------------------------------------------------------- writes ---- */

void sync_write_applied(const dal_batch *b, const uint64_t *ids, size_t n, uint64_t origin)
{
    apply_batch(b, origin);
    sync_changes_applied(ids, n);
}

void sync_changes_applied(const uint64_t *ids, size_t n)
{
    if (sync.stopped)
        return;
    int64_t now_us = util_mono_us();
    for (size_t i = 0; i < n; i++)
        sync_cursor_seen(&sync.cur, ids[i], now_us);
    if (server.model)
        rbac_model_set_revision(server.model, sync.cur.max_seen);
    check_waiters();
}

void sync_note_write(bool ok, bool dberr, const char *err)
{
    if (ok) {
        sync.st.writes++;
    } else if (dberr) {
        sync.st.write_dberrs++;
        snprintf(sync.last_error, sizeof sync.last_error, "%s", err ? err : "");
        util_one_line(sync.last_error);
    } else {
        sync.st.write_errors++;
    }
}

void sync_note_retries(int retries, bool conflict_failed)
{
    sync.st.txn_retries += (uint64_t)retries;
    sync.st.txn_conflicts += conflict_failed;
}

/* ------------------------------------------------------------------ purge ---- */

static void purge_done(void *arg)
{
    sync_purge_job *j = arg;
    sync.purge_running = false;
    if (!sync.stopped) {
        sync.st.purged += j->purged;
        sync.st.purge_failures += j->failed;
        sync.st.purge_runs++;
        if (j->failed)
            log_verbose("change log: purge failed: %s", j->err);
        else if (j->purged)
            log_verbose("change log: purged %" PRIu64 " rows older than %lld s", j->purged,
                        j->retention_s);
        if (!j->failed && j->purged >= (uint64_t)j->batch)
            sync.next_purge_ms = 0; /* a full batch: more may be due, again at the next tick */
    }
    mem_free(j);
}

static int64_t purge_period_ms(void)
{
    int64_t p = server.conf.change_retention * 1000 / 10;
    return p < SYNC_PURGE_MIN_MS   ? SYNC_PURGE_MIN_MS
           : p > SYNC_PURGE_MAX_MS ? SYNC_PURGE_MAX_MS
                                   : p;
}

static void maybe_purge(int64_t now_ms)
{
    if (sync.purge_running || !sync.have_model || !server.workers || now_ms < sync.next_purge_ms)
        return;
    sync.next_purge_ms = now_ms + purge_period_ms();
    sync_purge_job *j = mem_calloc(1, sizeof *j);
    j->retention_s = server.conf.change_retention;
    j->batch = (int)server.conf.purge_batch;
    j->max_id = sync_cursor_low_water(&sync.cur); /* never what this instance has not read */
    sync.purge_running = true;
    worker_submit(server.workers, sync_purge_run, purge_done, j);
}

/* -------------------------------------------------------------- interface ---- */

void sync_purge_stats(uint64_t *runs, uint64_t *purged, uint64_t *failures)
{
    *runs = sync.st.purge_runs;
    *purged = sync.st.purged;
    *failures = sync.st.purge_failures;
}

static bool sync_init(void)
{
    db_params dbp;
    db_params_from_conf(&dbp, &server.conf);
    sync.profile = dal_profile_of(server.conf.profile);
    sync.lane = worker_pool_start(server.base, 1, &dbp);
    worker_pool_set_name(sync.lane, "sync");
    sodium_memzero(&dbp, sizeof dbp); /* not memset: a dead store may be optimised away */
    if (!sync.lane) {
        log_warn("cannot start the sync lane");
        return false;
    }
    sync.poll_ev = evtimer_new(server.base, on_poll_timer, NULL);
    if (!sync.poll_ev) {
        log_warn("cannot create the change-log timer");
        return false;
    }
    sync.next_purge_ms = util_now_ms() + purge_period_ms();
    if (sync.have_model)
        schedule_poll(0);
    return true;
}

static void sync_shutdown(void)
{
    if (sync.stopped)
        return;
    sync.stopped = true;
    while (sync.waiters) {
        sync_waiter *w = sync.waiters;
        waiter_unlink(w);
        if (w->timer)
            event_free(w->timer);
        mem_free(w);
    }
    if (sync.poll_ev) {
        event_free(sync.poll_ev);
        sync.poll_ev = NULL;
    }
    /* Jobs on the lane finish; their done callbacks see `stopped`. */
    struct worker_pool *lane = sync.lane;
    sync.lane = NULL;
    worker_pool_stop(lane);
    sync_cursor_free(&sync.cur);
    mem_free(sync.followups);
    sync.followups = NULL;
    sync.nfollowups = sync.capfollowups = 0;
}

static void sync_cron(int64_t now_ms)
{
    if (sync.stopped || !sync.have_model)
        return;
    /* CONFIG SET sync-interval-ms: re-arm a pending timer with the new interval. */
    if (sync.poll_ev && server.conf.sync_interval_ms != sync.armed_interval &&
        evtimer_pending(sync.poll_ev, NULL))
        schedule_poll(server.conf.sync_interval_ms);
    maybe_purge(now_ms);
}

struct worker_pool *sync_lane(void)
{
    return sync.stopped ? NULL : sync.lane;
}

void sync_model_loaded(const uint64_t *holes, size_t nholes)
{
    if (sync.stopped || !server.model)
        return;
    sync.have_model = true;
    sync.epoch++;
    sync.reload_pending = false;
    sync_cursor_reset(&sync.cur, rbac_model_revision(server.model), holes, nholes, util_mono_us());
    sync.last_poll_ok_ms = util_now_ms();
    sync.nfollowups = 0; /* the new model loaded every association */
    check_waiters();
    schedule_poll(0);
}

const dal_profile *sync_profile(void)
{
    return sync.profile;
}

uint64_t sync_revision(void)
{
    return sync.cur.max_seen;
}

static void sync_info(buf *out)
{
    int64_t now = util_now_ms();
    long long lag = sync.last_poll_ok_ms ? (long long)(now - sync.last_poll_ok_ms) : -1;
    buf_printf(out,
               "db_up:%d\r\ndb_last_error:%s\r\nsync_interval_ms:%lld\r\nrevision:%" PRIu64
               "\r\nlow_water:%" PRIu64 "\r\nholes:%" PRIu64 "\r\nlag_ms:%lld\r\n"
               "last_poll_at:%lld\r\nlast_poll_us:%lld\r\npolls:%" PRIu64
               "\r\npoll_failures:%" PRIu64 "\r\nchanges_fetched:%" PRIu64
               "\r\nchanges_ignored:%" PRIu64 "\r\nrecords_applied:%" PRIu64
               "\r\ntenant_reloads:%" PRIu64 "\r\nfull_reloads:%" PRIu64 "\r\ngaps:%" PRIu64
               "\r\nholes_dropped:%" PRIu64 "\r\npurged:%" PRIu64 "\r\nchange_retention:%lld\r\n"
               "writes:%" PRIu64 "\r\nwrite_errors:%" PRIu64 "\r\nwrite_dberrs:%" PRIu64
               "\r\nwaitrev_blocked:%zu\r\nlane_pending:%zu\r\nreload_pending:%d\r\n",
               (!sync.db_down && worker_db_is_up()) ? 1 : 0, sync.last_error,
               server.conf.sync_interval_ms, sync.cur.max_seen, sync_cursor_low_water(&sync.cur),
               sync_cursor_missing(&sync.cur), lag, (long long)sync.last_poll_at_ms,
               (long long)sync.last_poll_us, sync.st.polls, sync.st.poll_failures, sync.st.changes,
               sync.st.ignored, sync.st.applied, sync.st.tenant_reloads, sync.st.full_reloads,
               sync.st.gaps, sync.st.holes_dropped, sync.st.purged, server.conf.change_retention,
               sync.st.writes, sync.st.write_errors, sync.st.write_dberrs, sync.nwaiters,
               sync.lane ? worker_pool_pending(sync.lane) : 0, sync.reload_pending ? 1 : 0);
    worker_db_figures f;
    worker_db_stats(sync.lane, &f); /* the lane: writes, polls and loads */
    db_params dbp;
    db_params_from_conf(&dbp, &server.conf);
    char node[DB_HOST_MAXLEN + 16];
    db_node_name(&dbp, f.node, node, sizeof node);
    size_t nnodes = dbp.nnodes;
    sodium_memzero(&dbp, sizeof dbp); /* the database password */
    buf_printf(out,
               "db_nodes:%zu\r\ndb_node_current:%s\r\ndb_galera:%d\r\ndb_failovers:%llu\r\n"
               "db_failbacks:%llu\r\ndb_connections_lost:%llu\r\ndb_connections_regained:%llu\r\n"
               "db_retries:%lld\r\ntxn_retries:%" PRIu64 "\r\ntxn_conflicts_failed:%" PRIu64
               "\r\ncluster_hole_grace_ms:%lld\r\n",
               nnodes, node, f.galera ? 1 : 0, f.failovers, f.failbacks, f.lost, f.regained,
               server.conf.db_retries, sync.st.txn_retries, sync.st.txn_conflicts,
               server.conf.sync_cluster_grace_ms);
}

int64_t sync_db_down_since_ms(void)
{
    return sync.db_down ? sync.down_since_ms : 0;
}

/* The change log's families: what INFO sync shows. */
static void sync_metrics(buf *out)
{
    int64_t now = util_now_ms();
    metrics_gauge(out, "rbacd_sync_revision",
                  "Highest change-log revision this instance has applied (REVISION).",
                  (double)sync.cur.max_seen);
    metrics_family(out, "rbacd_sync_lag_seconds", "gauge",
                   "Seconds since the last change-log poll or load that worked; no sample "
                   "before the first.");
    if (sync.last_poll_ok_ms)
        metrics_sample(out, "rbacd_sync_lag_seconds", NULL,
                       (double)(now - sync.last_poll_ok_ms) / 1e3);
    metrics_gauge(out, "rbacd_sync_database_up",
                  "1 unless the last change-log poll could not reach the database.",
                  (!sync.db_down && worker_db_is_up()) ? 1 : 0);
    metrics_counter(out, "rbacd_sync_polls_total", "Change-log polls.", sync.st.polls);
    metrics_counter(out, "rbacd_sync_poll_failures_total", "Change-log polls that failed.",
                    sync.st.poll_failures);
    metrics_counter(out, "rbacd_sync_changes_fetched_total", "Change-log rows fetched.",
                    sync.st.changes);
    metrics_counter(out, "rbacd_sync_records_applied_total", "Records applied to the model.",
                    sync.st.applied);
    metrics_counter(out, "rbacd_sync_tenant_reloads_total", "Tenants read whole again.",
                    sync.st.tenant_reloads);
    metrics_counter(out, "rbacd_sync_full_reloads_total", "Full reloads the change log asked for.",
                    sync.st.full_reloads);
    metrics_counter(out, "rbacd_sync_writes_total", "Write commands committed.", sync.st.writes);
    metrics_counter(out, "rbacd_sync_write_errors_total", "Write commands refused (-ERR).",
                    sync.st.write_errors);
    metrics_counter(out, "rbacd_sync_write_db_errors_total",
                    "Write commands that failed on the database (-DBERR).", sync.st.write_dberrs);
    metrics_gauge(out, "rbacd_sync_waitrev_blocked", "Clients blocked in WAITREV.",
                  (double)sync.nwaiters);
    /* db-host lists and clusters (README "Running on a cluster"): INFO sync's db_* and
     * txn_* fields. */
    worker_db_figures f;
    worker_db_stats(sync.lane, &f);
    metrics_gauge(out, "rbacd_db_node_current",
                  "Index in db-host (0 = the first) of the node the sync lane uses.",
                  (double)f.node);
    metrics_gauge(out, "rbacd_db_galera", "1 if the sync lane's node is a Galera node.",
                  f.galera ? 1 : 0);
    metrics_counter(out, "rbacd_db_failovers_total",
                    "Worker pools that moved to another db-host node.", f.failovers);
    metrics_counter(out, "rbacd_db_failbacks_total",
                    "Worker pools that moved back to the first db-host node.", f.failbacks);
    metrics_counter(out, "rbacd_db_connections_lost_total",
                    "Worker pool outages begun: connections lost or refused.", f.lost);
    metrics_counter(out, "rbacd_db_connections_regained_total",
                    "Worker pool outages ended: a connection made again.", f.regained);
    metrics_counter(out, "rbacd_sync_txn_retries_total",
                    "Write transactions run again after a conflict (1213) or a lost connection.",
                    sync.st.txn_retries);
    metrics_counter(out, "rbacd_sync_txn_conflicts_failed_total",
                    "Writes still conflicting after db-retries (-DBERR).", sync.st.txn_conflicts);
}

const module sync_module = {
    .name = "sync",
    .init = sync_init,
    .shutdown = sync_shutdown,
    .cron = sync_cron,
    .info_section = "sync",
    .info = sync_info,
    .metrics = sync_metrics,
};
