/*
 * The worker pool. See worker.h for the threading rule; this file is where it is
 * enforced: the only state shared between threads here is the two queues (each under
 * its own mutex) and the database backoff (atomics). Everything a job reads or writes
 * was handed to it through its argument.
 *
 * Database connections: one per worker thread, opened lazily, dropped on a connection
 * error. After a failed connect every worker waits for the shared backoff deadline
 * (100 ms doubling to 5 s) before trying again, so an outage costs jobs a fast
 * "database unavailable" rather than a connect timeout each.
 *
 * Each pool keeps its own view of the database (db_health) for the log: the first
 * lost connection or failed connect of an outage logs one warning naming the pool, and
 * the first connection made after it one notice, however many statements failed in
 * between. A pool whose database flaps warns at most once per WORKER_DB_WARN_EVERY_US;
 * an outage not warned about is not announced as over either.
 *
 *      up --(connection lost, connect failed)--> down --(connected)--> up
 *           warning, unless one was logged          notice, if the loss was warned
 *           less than WORKER_DB_WARN_EVERY_US ago   about
 */
#include "worker.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WORKER_BACKOFF_MIN_US   100000   /* first retry after a failed connect */
#define WORKER_BACKOFF_MAX_US   5000000  /* retries never further apart than this */
#define WORKER_DB_IDLE_PING_US  1000000  /* a connection idle this long is pinged before use */
#define WORKER_DB_WARN_EVERY_US 10000000 /* a pool warns of a lost database at most this often */
/* A connection to a later db-host node tries the first one again after
 * WORKER_PREFER_EVERY_US, doubling while it fails up to WORKER_PREFER_MAX_US, with a
 * connect timeout of WORKER_PREFER_CONNECT_S: the try runs between jobs, on the pool's
 * time. */
#define WORKER_PREFER_EVERY_US  5000000
#define WORKER_PREFER_MAX_US    20000000
#define WORKER_PREFER_CONNECT_S 1

typedef struct job {
    worker_job_fn *job;   /* runs on a worker */
    worker_done_fn *done; /* runs on the loop, may be NULL */
    void *arg;            /* owned by the job until done returns */
    struct job *next;     /* queue link */
} job;

typedef struct job_queue {
    job *head, *tail; /* FIFO */
    size_t len;       /* jobs queued */
} job_queue;

/* A pool's view of the database, for the log (see the top of this file). */
typedef struct db_health {
    pthread_mutex_t lock;  /* guards the rest: taken on a loss or a new connection only */
    bool down;             /* lost or refused, and no connection made since */
    bool warned;           /* this outage was logged, so its end will be */
    int64_t down_since_us; /* monotonic time it went down */
    int64_t last_warn_us;  /* monotonic time of the last warning, 0 = never */
    uint64_t unlogged;     /* outages not logged since the last warning (rate limit) */
} db_health;

struct worker_pool {
    struct event_base *base; /* loop that runs done callbacks */
    struct event *ev_done;   /* fires when done_fd is written */
    int done_fd;             /* eventfd: workers signal completions */
    pthread_t *threads;      /* n threads */
    size_t nthreads;
    pthread_mutex_t lock;      /* guards todo, stopping, running */
    pthread_cond_t cond;       /* signalled when todo grows or stopping is set */
    job_queue todo;            /* submitted, not started */
    size_t running;            /* jobs being run */
    bool stopping;             /* no new jobs; threads exit when todo is empty */
    pthread_mutex_t done_lock; /* guards done */
    job_queue done;            /* finished, done callback not yet run */
    db_params db;              /* copy of the database settings */
    db_health health;          /* whether its connections reach the database */
    atomic_size_t node;        /* db-host index of its last connection made */
    atomic_bool galera;        /* that connection is to a Galera node */
    const char *name;          /* for reports (worker_pool_set_name), a string literal */
    atomic_bool db_up;         /* the last database attempt of one of its threads worked */
    struct worker_pool *next;  /* the list of running pools (loop thread) */
};

static worker_pool *pools; /* running pools, newest first (loop thread only) */

/* Per-thread: the pool this worker belongs to and its connection. */
static _Thread_local worker_pool *tl_pool;
static _Thread_local MYSQL *tl_db;
static _Thread_local int64_t tl_db_used_us;     /* monotonic time tl_db was last handed out */
static _Thread_local db_conn_info tl_info;      /* which node tl_db reached, Galera or not */
static _Thread_local int64_t tl_prefer_us;      /* monotonic time to try the first node again */
static _Thread_local int64_t tl_prefer_step_us; /* current wait between such tries */

static atomic_llong db_next_attempt_us; /* monotonic time before which no connect is tried */
static atomic_llong db_backoff_us;      /* current backoff step */
static atomic_bool db_up = true;        /* last attempt worked */
static pthread_mutex_t db_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char db_last_error[256]; /* guarded by db_err_lock */

/* Cluster figures for INFO (worker_db_stats): atomics, written by any worker. */
static atomic_ullong db_failovers;      /* connections made to another node than their
                                           pool's last */
static atomic_ullong db_failbacks;      /* ... of which back to the first (preferred) node */
static atomic_ullong db_conns_lost;     /* pool outages begun (health_down) */
static atomic_ullong db_conns_regained; /* pool outages ended (health_up) */

static void queue_push(job_queue *q, job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
}

static job *queue_pop(job_queue *q)
{
    job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
    }
    return j;
}

static void *worker_main(void *arg)
{
    worker_pool *p = arg;
    tl_pool = p;
    mysql_thread_init();
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->todo.head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        job *j = queue_pop(&p->todo);
        if (!j) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        p->running++;
        pthread_mutex_unlock(&p->lock);

        j->job(j->arg);

        pthread_mutex_lock(&p->done_lock);
        queue_push(&p->done, j);
        pthread_mutex_unlock(&p->done_lock);
        pthread_mutex_lock(&p->lock);
        p->running--;
        pthread_mutex_unlock(&p->lock);
        uint64_t one = 1;
        ssize_t w = write(p->done_fd, &one, sizeof one);
        (void)w;
    }
    if (tl_db) {
        mysql_close(tl_db);
        tl_db = NULL;
    }
    mysql_thread_end();
    return NULL;
}

/* Runs every finished job's done callback. Loop thread only. */
static void pool_drain_done(worker_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->done_lock);
        job *list = p->done.head;
        p->done.head = p->done.tail = NULL;
        p->done.len = 0;
        pthread_mutex_unlock(&p->done_lock);
        if (!list)
            return;
        while (list) {
            job *j = list;
            list = j->next;
            if (j->done)
                j->done(j->arg);
            mem_free(j);
        }
    }
}

static void on_done_event(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n); /* clears the eventfd; its count is not needed */
    (void)r;
    pool_drain_done(arg);
}

worker_pool *worker_pool_start(struct event_base *base, size_t n, const db_params *db)
{
    worker_pool *p = mem_calloc(1, sizeof *p);
    p->base = base;
    p->db = *db;
    p->done_fd = -1;
    p->name = "workers";
    atomic_init(&p->db_up, true);
    p->next = pools;
    pools = p;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->done_lock, NULL);
    pthread_mutex_init(&p->health.lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->done_fd < 0) {
        log_warn("worker pool: eventfd: %s", strerror(errno));
        goto fail;
    }
    p->ev_done = event_new(base, p->done_fd, EV_READ | EV_PERSIST, on_done_event, p);
    if (!p->ev_done || event_add(p->ev_done, NULL) != 0) {
        log_warn("worker pool: cannot register completion event");
        goto fail;
    }
    p->threads = mem_calloc(n, sizeof *p->threads);
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            log_warn("worker pool: pthread_create: %s", strerror(rc));
            goto fail;
        }
        p->nthreads++;
    }
    return p;
fail:
    worker_pool_stop(p);
    return NULL;
}

void worker_submit(worker_pool *p, worker_job_fn *fn, worker_done_fn *done, void *arg)
{
    job *j = mem_alloc(sizeof *j);
    j->job = fn;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    queue_push(&p->todo, j);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void worker_pool_stop(worker_pool *p)
{
    if (!p)
        return;
    for (worker_pool **link = &pools; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            break;
        }
    }
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pool_drain_done(p);
    if (p->ev_done)
        event_free(p->ev_done);
    if (p->done_fd >= 0)
        close(p->done_fd);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->done_lock);
    pthread_mutex_destroy(&p->health.lock);
    pthread_cond_destroy(&p->cond);
    mem_free(p->threads);
    sodium_memzero(&p->db, sizeof p->db); /* the database password */
    mem_free(p);
}

size_t worker_pool_pending(const worker_pool *p)
{
    worker_pool *mp = (worker_pool *)p;
    pthread_mutex_lock(&mp->lock);
    size_t n = mp->todo.len + mp->running;
    pthread_mutex_unlock(&mp->lock);
    return n;
}

/* The pool of the calling worker lost its connection or could not make one. */
static void health_down(worker_pool *p, const char *what, const char *err)
{
    db_health *h = &p->health;
    int64_t now = util_mono_us();
    pthread_mutex_lock(&h->lock);
    if (!h->down) {
        atomic_fetch_add(&db_conns_lost, 1);
        h->down = true;
        h->down_since_us = now;
        h->warned = h->last_warn_us == 0 || now - h->last_warn_us >= WORKER_DB_WARN_EVERY_US;
        if (h->warned) {
            h->last_warn_us = now;
            if (h->unlogged)
                log_warn("%s: %s: %s (and %" PRIu64 " outages since the last warning)", p->name,
                         what, err, h->unlogged);
            else
                log_warn("%s: %s: %s", p->name, what, err);
            h->unlogged = 0;
        } else {
            h->unlogged++;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* The pool of the calling worker has a connection again. */
static void health_up(worker_pool *p)
{
    db_health *h = &p->health;
    pthread_mutex_lock(&h->lock);
    if (h->down) {
        atomic_fetch_add(&db_conns_regained, 1);
        h->down = false;
        if (h->warned)
            log_notice("%s: database connection back after %lld ms", p->name,
                       (long long)((util_mono_us() - h->down_since_us) / 1000));
        h->warned = false;
    }
    pthread_mutex_unlock(&h->lock);
}

void worker_pool_set_name(worker_pool *p, const char *name)
{
    if (p)
        p->name = name;
}

/* Oldest first: the list is newest first, so recurse to its end. */
static void pool_each_from(worker_pool *p, void (*fn)(void *, const char *, bool, size_t),
                           void *ctx)
{
    if (!p)
        return;
    pool_each_from(p->next, fn, ctx);
    fn(ctx, p->name, atomic_load(&p->db_up), worker_pool_pending(p));
}

void worker_pool_each(void (*fn)(void *ctx, const char *name, bool db_up, size_t pending),
                      void *ctx)
{
    pool_each_from(pools, fn, ctx);
}

static void db_record_failure(const char *err)
{
    long long step = atomic_load(&db_backoff_us);
    step = step ? step * 2 : WORKER_BACKOFF_MIN_US;
    if (step > WORKER_BACKOFF_MAX_US)
        step = WORKER_BACKOFF_MAX_US;
    atomic_store(&db_backoff_us, step);
    atomic_store(&db_next_attempt_us, util_mono_us() + step);
    pthread_mutex_lock(&db_err_lock);
    snprintf(db_last_error, sizeof db_last_error, "%s", err);
    pthread_mutex_unlock(&db_err_lock);
    atomic_store(&db_up, false);
}

/* A connection was made to node info->node: counts a move of the pool to another node. */
static void note_connected(const db_conn_info *info)
{
    size_t before = atomic_exchange(&tl_pool->node, info->node);
    atomic_store(&tl_pool->galera, info->galera);
    if (before != info->node) {
        atomic_fetch_add(&db_failovers, 1);
        if (info->node == 0)
            atomic_fetch_add(&db_failbacks, 1);
        char name[300];
        db_node_name(&tl_pool->db, info->node, name, sizeof name);
        log_notice("%s: now using the database at %s%s", tl_pool->name, name,
                   info->node == 0 ? " (the first of db-host)" : "");
    }
}

/* A connection to a later node of db-host tries the first one again now and then, between
 * jobs (no transaction is open), and moves there once it answers. */
static void maybe_return_to_first(int64_t now)
{
    if (!tl_db || tl_info.node == 0 || tl_pool->db.nnodes < 2 || now < tl_prefer_us)
        return;
    tl_prefer_step_us = tl_prefer_step_us ? tl_prefer_step_us * 2 : WORKER_PREFER_EVERY_US;
    if (tl_prefer_step_us > WORKER_PREFER_MAX_US)
        tl_prefer_step_us = WORKER_PREFER_MAX_US;
    tl_prefer_us = now + tl_prefer_step_us;
    char err[256];
    db_conn_info info;
    db_params quick = tl_pool->db;
    if (quick.connect_timeout == 0 || quick.connect_timeout > WORKER_PREFER_CONNECT_S)
        quick.connect_timeout = WORKER_PREFER_CONNECT_S;
    MYSQL *m = db_connect_node(&quick, 0, &info, err, sizeof err);
    sodium_memzero(&quick, sizeof quick); /* the database password */
    if (!m) {
        log_verbose("%s: the first database of db-host still does not answer: %s", tl_pool->name,
                    err);
        return;
    }
    mysql_close(tl_db);
    tl_db = m;
    tl_info = info;
    note_connected(&info);
}

MYSQL *worker_db(char *err, size_t errlen)
{
    int64_t now = util_mono_us();
    if (tl_db && now - tl_db_used_us > WORKER_DB_IDLE_PING_US && mysql_ping(tl_db) != 0) {
        /* Restarted server, wait_timeout, killed connection: reconnect now rather than
         * fail the job that happens to come first. Routine for an idle connection, so
         * only a reconnect that fails is worth a warning. */
        log_verbose("%s: database connection lost while idle (%s), reconnecting",
                    tl_pool ? tl_pool->name : "?", mysql_error(tl_db));
        mysql_close(tl_db);
        tl_db = NULL;
    }
    if (tl_db) {
        maybe_return_to_first(now);
        tl_db_used_us = now;
        atomic_store(&tl_pool->db_up, true);
        return tl_db;
    }
    if (!tl_pool) {
        snprintf(err, errlen, "no database connection outside a worker");
        return NULL;
    }
    if (util_mono_us() < atomic_load(&db_next_attempt_us)) {
        char last[sizeof db_last_error];
        pthread_mutex_lock(&db_err_lock);
        snprintf(last, sizeof last, "%s", db_last_error);
        pthread_mutex_unlock(&db_err_lock);
        snprintf(err, errlen, "database unavailable: %s", last);
        health_down(tl_pool, "database is down", last);
        atomic_store(&tl_pool->db_up, false);
        return NULL;
    }
    char cerr[256];
    /* Every connect walks db-host from the first (preferred) node. */
    tl_db = db_connect(&tl_pool->db, 0, &tl_info, cerr, sizeof cerr);
    if (!tl_db) {
        db_record_failure(cerr);
        health_down(tl_pool, "database is down", cerr);
        snprintf(err, errlen, "%s", cerr);
        atomic_store(&tl_pool->db_up, false);
        return NULL;
    }
    atomic_store(&tl_pool->db_up, true);
    tl_db_used_us = util_mono_us();
    tl_prefer_step_us = WORKER_PREFER_EVERY_US;
    tl_prefer_us = tl_db_used_us + tl_prefer_step_us;
    atomic_store(&db_backoff_us, 0);
    atomic_store(&db_next_attempt_us, 0);
    atomic_store(&db_up, true);
    note_connected(&tl_info);
    health_up(tl_pool);
    return tl_db;
}

bool worker_db_galera(void)
{
    return tl_db && tl_info.galera;
}

void worker_db_failed(void)
{
    /* Only a failed connect starts the shared backoff: the next worker_db() reconnects at
     * once, and if the server is really gone that connect fails and backs off. */
    if (tl_db) {
        char err[256];
        snprintf(err, sizeof err, "%s (%u)", mysql_error(tl_db), mysql_errno(tl_db));
        log_verbose("%s: database connection dropped after: %s", tl_pool ? tl_pool->name : "?",
                    err);
        if (tl_pool)
            health_down(tl_pool, "database connection lost", err);
        mysql_close(tl_db);
        tl_db = NULL;
    }
}

bool worker_db_is_up(void)
{
    return atomic_load(&db_up);
}

void worker_db_stats(const worker_pool *p, worker_db_figures *f)
{
    worker_pool *mp = (worker_pool *)p;
    f->node = mp ? atomic_load(&mp->node) : 0;
    f->galera = mp ? atomic_load(&mp->galera) : false;
    f->failovers = atomic_load(&db_failovers);
    f->failbacks = atomic_load(&db_failbacks);
    f->lost = atomic_load(&db_conns_lost);
    f->regained = atomic_load(&db_conns_regained);
}
