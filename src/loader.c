/*
 * The model loader. A load is one job: on a worker, inside one read-only consistent
 * snapshot (so every table is read as of the same instant), each table the profile's
 * descriptors name is streamed row by row into the rbac builder (dal_load); nothing is
 * buffered whole, so a million users cost the model's memory and not a result set's as
 * well. Entities are read before the associations that name them; rows naming unknown
 * entities are ignored by the builder (and counted).
 *
 * Loader state (below) lives on the loop thread only:
 *
 *   pending waiters --start_load()--> job (owns its waiters) --done--> waiters told
 *        ^                                                         |
 *        +--- first load failed: waiters go back, retry timer -----+
 *
 * At most one load job runs at a time; requests meanwhile gather in `pending` and
 * start the next one when it ends.
 */
#include "loader.h"
#include "conf.h"
#include "dal.h"
#include "dal_changelog.h"
#include "log.h"
#include "mem.h"
#include "module.h"
#include "rbac.h"
#include "server.h"
#include "sync.h"
#include "util.h"
#include "worker.h"

#include <event2/event.h>
#include <inttypes.h>
#include <malloc.h>
#include <mysql.h>
#include <stdio.h>
#include <string.h>

#define LOADER_RETRY_MIN_MS 500  /* first retry of a failed first load */
#define LOADER_RETRY_MAX_MS 5000 /* retries never further apart than this */
#define LOADER_ERR_MAX      256  /* error text kept per job (fits server.last_load_error) */

typedef struct loader_waiter {
    loader_done_fn *done; /* may be NULL */
    void *ctx;            /* handed back to done */
} loader_waiter;

typedef struct waiter_list {
    loader_waiter *items; /* owned */
    size_t n;             /* used */
    size_t cap;           /* allocated */
} waiter_list;

typedef struct load_job {
    uint64_t tenant;          /* requested scope (0 = all); loads are full for now */
    waiter_list waiters;      /* told when this job ends */
    rbac_model *model;        /* worker: the built model, NULL on failure */
    char err[LOADER_ERR_MAX]; /* worker: why it failed */
    int64_t duration_ms;      /* worker: time the load took */
    uint64_t rows;            /* worker: rows read */
    uint64_t ignored;         /* worker: rows naming unknown entities or malformed */
    int profile;              /* enum conf_profile to load */
    dal_ids holes;            /* worker: change ids below the revision the snapshot lacks */
} load_job;

static struct {
    waiter_list pending;    /* requests for the next load */
    bool running;           /* a load job is in flight */
    struct event *retry_ev; /* armed while a failed first load waits to retry */
    int64_t retry_ms;       /* next retry delay */
    uint64_t loads_ok;      /* successful loads since start */
    uint64_t loads_failed;  /* failed loads since start */
    bool stopped;           /* loader_shutdown() ran */
} loader;

/* ------------------------------------------------------- worker side ---- */

/* The whole model of the configured profile in one snapshot, and where that snapshot
 * stands in the change log. */
static bool load_all(MYSQL *db, const dal_profile *p, rbac_model *m, load_job *j)
{
    if (!dal_snapshot_begin(db, j->err, sizeof j->err))
        return false;
    dal_load_stats st = {0};
    uint64_t rev = 0;
    bool ok = dal_load(db, p, m, &st, j->err, sizeof j->err) &&
              dal_log_revision(db, SYNC_LOAD_HOLE_WINDOW, &rev, &j->holes, j->err, sizeof j->err);
    j->rows = st.rows;
    j->ignored = st.ignored;
    rbac_model_set_revision(m, rev);
    return dal_snapshot_end(db, ok, j->err, sizeof j->err) && ok;
}

static void load_job_run(void *arg)
{
    load_job *j = arg;
    int64_t t0 = util_mono_us();
    const dal_profile *p = dal_profile_of(j->profile);
    if (!p) {
        snprintf(j->err, sizeof j->err, "profile %s has no loader", conf_profile_name(j->profile));
        return;
    }
    MYSQL *db = worker_db(j->err, sizeof j->err);
    if (!db)
        return;
    rbac_model *m = rbac_model_new();
    bool ok = load_all(db, p, m, j);
    dal_done();
    if (!ok) {
        rbac_model_free(m);
        return;
    }
    rbac_model_finish(m);
    j->model = m;
    j->duration_ms = (util_mono_us() - t0) / 1000;
}

static void free_model_job(void *arg)
{
    rbac_model_free(arg);
    malloc_trim(0); /* the old model's pages go back to the system, not to RSS */
}

/* --------------------------------------------------------- loop side ---- */

static void waiters_push(waiter_list *l, loader_done_fn *done, void *ctx)
{
    mem_grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n].done = done;
    l->items[l->n].ctx = ctx;
    l->n++;
}

/* Tells every waiter of l the outcome and empties l. */
static void waiters_notify(waiter_list *l, bool ok, const char *err)
{
    waiter_list w = *l;
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < w.n; i++)
        if (w.items[i].done)
            w.items[i].done(w.items[i].ctx, ok, err);
    mem_free(w.items);
}

static void start_load(void);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    if (!loader.running && !loader.stopped)
        start_load();
}

static void schedule_retry(void)
{
    if (!loader.retry_ev)
        loader.retry_ev = evtimer_new(server.base, on_retry, NULL);
    if (loader.retry_ms < LOADER_RETRY_MIN_MS)
        loader.retry_ms = LOADER_RETRY_MIN_MS;
    struct timeval tv = {loader.retry_ms / 1000, (loader.retry_ms % 1000) * 1000};
    evtimer_add(loader.retry_ev, &tv);
    log_notice("retrying the model load in %lld ms", (long long)loader.retry_ms);
    loader.retry_ms =
        loader.retry_ms * 2 > LOADER_RETRY_MAX_MS ? LOADER_RETRY_MAX_MS : loader.retry_ms * 2;
}

static void install(load_job *j)
{
    rbac_model *old = server.model;
    server.model = j->model;
    j->model = NULL;
    server.loading = false;
    server.last_load_ms = j->duration_ms;
    server.last_load_at_ms = util_now_ms();
    server.last_load_error[0] = '\0';
    loader.retry_ms = 0;
    loader.loads_ok++;
    sync_model_loaded(j->holes.v, j->holes.n);
    module_model_loaded_all(module_list, server.modules_started);
    rbac_stats st;
    rbac_model_stats(server.model, &st);
    log_notice("model loaded in %lld ms: %zu tenants, %zu users, %zu roles, %zu menus, "
               "%zu packages, %zu subscriptions, %zu bytes, %" PRIu64 " rows (%" PRIu64
               " ignored), revision %" PRIu64,
               (long long)j->duration_ms, st.tenants, st.users, st.roles, st.menus, st.packages,
               st.subscriptions, st.bytes, j->rows, j->ignored, rbac_model_revision(server.model));
    /* The old model is unreachable now; freeing a big one takes a while, so a worker
     * does it -- unless the pool is going away and would never run the job. */
    if (old && server.workers && !server.shutting_down)
        worker_submit(server.workers, free_model_job, NULL, old);
    else if (old)
        rbac_model_free(old);
    else
        malloc_trim(0); /* the first load's buffers go back to the system */
}

static void load_job_done(void *arg)
{
    load_job *j = arg;
    loader.running = false;
    if (loader.stopped) {
        rbac_model_free(j->model);
        waiters_notify(&j->waiters, false, "shutting down");
    } else if (j->model) {
        install(j);
        waiters_notify(&j->waiters, true, NULL);
    } else {
        loader.loads_failed++;
        snprintf(server.last_load_error, sizeof server.last_load_error, "%s", j->err);
        log_warn("model load failed: %s", j->err);
        if (!server.model && !server.shutting_down && server.base) {
            /* The first load: keep the waiters for the retry. */
            for (size_t i = 0; i < j->waiters.n; i++)
                waiters_push(&loader.pending, j->waiters.items[i].done, j->waiters.items[i].ctx);
            mem_free(j->waiters.items);
            memset(&j->waiters, 0, sizeof j->waiters);
            schedule_retry();
        } else {
            waiters_notify(&j->waiters, false, j->err);
        }
    }
    mem_free(j->waiters.items);
    dal_ids_free(&j->holes);
    mem_free(j);
    bool retry_armed = loader.retry_ev && evtimer_pending(loader.retry_ev, NULL);
    if (loader.pending.n && !loader.running && !loader.stopped && !retry_armed && server.workers &&
        !server.shutting_down)
        start_load();
}

static void start_load(void)
{
    load_job *j = mem_calloc(1, sizeof *j);
    j->waiters = loader.pending;
    j->profile = server.conf.profile;
    memset(&loader.pending, 0, sizeof loader.pending);
    loader.running = true;
    log_verbose("model load started");
    /* On the sync lane once it runs: a load then sits in commit order between writes
     * and change-log polls, so nothing they applied is lost when the model is swapped. */
    struct worker_pool *lane = sync_lane();
    worker_submit(lane ? lane : server.workers, load_job_run, load_job_done, j);
}

void loader_start(uint64_t tenant, loader_done_fn *done, void *ctx)
{
    /* tenant: one-tenant reloads are full reloads for now */
    if (loader.stopped) {
        log_warn("model load requested after shutdown; ignored");
        return;
    }
    waiters_push(&loader.pending, done, ctx);
    if (!server.workers)
        return; /* no pool (stopping): loader_shutdown() answers the waiter */
    bool retry_armed = loader.retry_ev && evtimer_pending(loader.retry_ev, NULL);
    if (!loader.running && !retry_armed)
        start_load();
}

void loader_counters(uint64_t *loads_ok, uint64_t *loads_failed)
{
    *loads_ok = loader.loads_ok;
    *loads_failed = loader.loads_failed;
}

static void loader_shutdown(void)
{
    loader.stopped = true;
    if (loader.retry_ev) {
        event_free(loader.retry_ev);
        loader.retry_ev = NULL;
    }
    waiters_notify(&loader.pending, false, "shutting down");
    rbac_model_free(server.model);
    server.model = NULL;
}

/* Queues the first load: no waiter, the server serves -LOADING until it is in. */
static bool loader_init(void)
{
    loader_start(0, NULL, NULL);
    return true;
}

const module loader_module = {
    .name = "loader",
    .init = loader_init,
    .shutdown = loader_shutdown,
};
