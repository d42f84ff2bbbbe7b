/*
 * worker tests: the hand-off of worker.h without a database. Jobs run on a worker
 * thread, never the loop's; done callbacks run on the loop thread (the one running the
 * event_base), each exactly once; a one-thread pool runs jobs and done callbacks in
 * submission order (the lanes rely on it); a done callback may submit more work;
 * worker_pool_pending() counts queued and running jobs; worker_pool_stop() lets queued
 * jobs finish and runs their done callbacks itself, loop or no loop; an unreachable
 * database is one warning per pool, however many jobs fail on it; the list of running
 * pools (worker_pool_each) follows starts and stops.
 */
#include "db.h"
#include "log.h"
#include "testing.h"
#include "worker.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MANY_JOBS   200   /* jobs in the ordering and many-thread cases */
#define DEADLINE_MS 20000 /* a case that waits longer than this has failed */

static struct event_base *base;
static pthread_t loop_thread;
static db_params no_db; /* zeroed: workers would connect lazily, and these jobs never do */

typedef struct rec {
    size_t seq;                /* submission number */
    pthread_t job_thread;      /* where the job ran */
    bool job_ran;              /* set by the job */
    int done_calls;            /* done callbacks seen */
    bool done_on_loop;         /* the done callback ran on the loop thread */
    bool job_done_before_done; /* the job had finished when done ran */
    unsigned sleep_us;         /* the job sleeps this long */
} rec;

static size_t job_order[MANY_JOBS], njob_order;   /* seq of jobs, in the order they ran */
static size_t done_order[MANY_JOBS], ndone_order; /* seq of done callbacks, in order */
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rec_job(void *arg)
{
    rec *r = arg;
    r->job_thread = pthread_self();
    if (r->sleep_us)
        sleep_us(r->sleep_us);
    pthread_mutex_lock(&order_lock);
    if (njob_order < MANY_JOBS)
        job_order[njob_order++] = r->seq;
    pthread_mutex_unlock(&order_lock);
    r->job_ran = true;
}

static void rec_done(void *arg)
{
    rec *r = arg;
    r->done_calls++;
    r->done_on_loop = pthread_equal(pthread_self(), loop_thread);
    r->job_done_before_done = r->job_ran;
    if (ndone_order < MANY_JOBS)
        done_order[ndone_order++] = r->seq;
}

static void reset_orders(void)
{
    njob_order = ndone_order = 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {}

/* Runs the loop until *count reaches want or the deadline passes. A ticking timer
 * wakes each pass, so the deadline is checked even when nothing completes. */
static void loop_until(const size_t *count, size_t want)
{
    int64_t deadline = now_ms() + DEADLINE_MS;
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(tick, &tv);
    while (*count < want && now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
}

static void test_jobs_off_loop_done_on_loop(void)
{
    worker_pool *p = worker_pool_start(base, 2, &no_db);
    CHECK(p != NULL);
    if (!p)
        return;
    reset_orders();
    static rec r[8];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 8; i++) {
        r[i].seq = i;
        worker_submit(p, rec_job, rec_done, &r[i]);
    }
    loop_until(&ndone_order, 8);
    CHECK_EQ_INT(ndone_order, 8);
    for (size_t i = 0; i < 8; i++) {
        CHECK(r[i].job_ran);
        CHECK(!pthread_equal(r[i].job_thread, loop_thread));
        CHECK_EQ_INT(r[i].done_calls, 1);
        CHECK(r[i].done_on_loop);
        CHECK(r[i].job_done_before_done);
    }
    worker_pool_stop(p);
    for (size_t i = 0; i < 8; i++)
        CHECK_EQ_INT(r[i].done_calls, 1); /* stop does not run them again */
}

/* One thread: jobs and their done callbacks in submission order, whatever each job
 * costs (the sync and session lanes rely on this). */
static void test_one_thread_keeps_order(void)
{
    worker_pool *p = worker_pool_start(base, 1, &no_db);
    CHECK(p != NULL);
    if (!p)
        return;
    reset_orders();
    static rec r[MANY_JOBS];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < MANY_JOBS; i++) {
        r[i].seq = i;
        r[i].sleep_us = (unsigned)((i * 37) % 5) * 100; /* 0..400 us, uneven */
        worker_submit(p, rec_job, rec_done, &r[i]);
    }
    loop_until(&ndone_order, MANY_JOBS);
    CHECK_EQ_INT(njob_order, MANY_JOBS);
    CHECK_EQ_INT(ndone_order, MANY_JOBS);
    size_t job_out_of_order = 0, done_out_of_order = 0;
    for (size_t i = 0; i < MANY_JOBS; i++) {
        job_out_of_order += job_order[i] != i;
        done_out_of_order += done_order[i] != i;
    }
    CHECK_EQ_INT(job_out_of_order, 0);
    CHECK_EQ_INT(done_out_of_order, 0);
    worker_pool_stop(p);
}

/* Several threads: every job runs once and every done runs once, on the loop. */
static void test_many_threads_each_once(void)
{
    worker_pool *p = worker_pool_start(base, 4, &no_db);
    CHECK(p != NULL);
    if (!p)
        return;
    reset_orders();
    static rec r[MANY_JOBS];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < MANY_JOBS; i++) {
        r[i].seq = i;
        r[i].sleep_us = (unsigned)(i % 3) * 50;
        worker_submit(p, rec_job, rec_done, &r[i]);
    }
    loop_until(&ndone_order, MANY_JOBS);
    size_t bad = 0;
    for (size_t i = 0; i < MANY_JOBS; i++)
        bad += !r[i].job_ran || r[i].done_calls != 1 || !r[i].done_on_loop ||
               pthread_equal(r[i].job_thread, loop_thread);
    CHECK_EQ_INT(bad, 0);
    worker_pool_stop(p);
}

/* A job that waits until the test opens its gate. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    atomic_int entered; /* jobs that reached the gate */
} gate;

static gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void gate_job(void *arg)
{
    atomic_fetch_add(&g.entered, 1);
    pthread_mutex_lock(&g.lock);
    while (!g.open)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
}

static void gate_set(bool open)
{
    pthread_mutex_lock(&g.lock);
    g.open = open;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

static size_t ndones;

static void count_done(void *arg)
{
    ndones++;
}

static void test_pending_counts(void)
{
    gate_set(false);
    atomic_store(&g.entered, 0);
    ndones = 0;
    worker_pool *p = worker_pool_start(base, 1, &no_db);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ_INT(worker_pool_pending(p), 0);
    worker_submit(p, gate_job, count_done, NULL); /* runs, held at the gate */
    worker_submit(p, gate_job, count_done, NULL); /* queued behind it */
    worker_submit(p, gate_job, NULL, NULL);       /* queued, no done callback */
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (atomic_load(&g.entered) < 1 && now_ms() < deadline)
        sleep_us(1000);
    CHECK_EQ_INT(atomic_load(&g.entered), 1);
    CHECK_EQ_INT(worker_pool_pending(p), 3); /* 1 running + 2 queued */
    gate_set(true);
    loop_until(&ndones, 2);
    CHECK_EQ_INT(ndones, 2);
    deadline = now_ms() + DEADLINE_MS;
    while (worker_pool_pending(p) > 0 && now_ms() < deadline)
        sleep_us(1000);
    CHECK_EQ_INT(worker_pool_pending(p), 0); /* finished jobs are not pending */
    CHECK_EQ_INT(atomic_load(&g.entered), 3);
    worker_pool_stop(p);
    CHECK_EQ_INT(ndones, 2);
}

/* Stop with work still queued and the loop not running: every queued job still runs,
 * and stop itself runs their done callbacks, on the calling (loop) thread. */
static void test_stop_runs_pending_dones(void)
{
    worker_pool *p = worker_pool_start(base, 1, &no_db);
    CHECK(p != NULL);
    if (!p)
        return;
    reset_orders();
    static rec r[20];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 20; i++) {
        r[i].seq = i;
        r[i].sleep_us = 200;
        worker_submit(p, rec_job, rec_done, &r[i]);
    }
    worker_pool_stop(p); /* no event_base_loop call in between */
    CHECK_EQ_INT(ndone_order, 20);
    size_t bad = 0;
    for (size_t i = 0; i < 20; i++)
        bad += !r[i].job_ran || r[i].done_calls != 1 || !r[i].done_on_loop || done_order[i] != i;
    CHECK_EQ_INT(bad, 0);
}

/* A done callback that submits the next job, as the lanes chain their work. */
static worker_pool *chain_pool;
static size_t chain_left, chain_dones;

static void chain_job(void *arg) {}

static void chain_done(void *arg)
{
    chain_dones++;
    if (chain_left > 0) {
        chain_left--;
        worker_submit(chain_pool, chain_job, chain_done, arg);
    }
}

static void test_done_submits_more(void)
{
    chain_pool = worker_pool_start(base, 1, &no_db);
    CHECK(chain_pool != NULL);
    if (!chain_pool)
        return;
    chain_left = 9;
    chain_dones = 0;
    worker_submit(chain_pool, chain_job, chain_done, NULL);
    loop_until(&chain_dones, 10);
    CHECK_EQ_INT(chain_dones, 10);
    CHECK_EQ_INT(chain_left, 0);
    worker_pool_stop(chain_pool);
    chain_pool = NULL;
}

/* Only a job has a database connection: the loop thread is told so, at once. */
static void test_no_db_outside_worker(void)
{
    char err[128] = "";
    CHECK(worker_db(err, sizeof err) == NULL);
    CHECK_EQ_STR(err, "no database connection outside a worker");
}

/* Jobs that ask for a connection to a database that is not there. */
static size_t db_dones;
static atomic_int db_refused;

static void db_job(void *arg)
{
    char err[256] = "";
    if (!worker_db(err, sizeof err) && err[0])
        atomic_fetch_add(&db_refused, 1);
}

static void db_done(void *arg)
{
    db_dones++;
}

static size_t count_lines(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Two pools, many jobs each, no database: every job is refused, and each pool logs one
 * warning (naming it) for the whole outage, and no notice. */
static void test_outage_warned_once_per_pool(void)
{
    char path[] = "/tmp/rbacd-worker-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    CHECK(log_open(path));
    db_params gone;
    memset(&gone, 0, sizeof gone);
    snprintf(gone.socket, sizeof gone.socket, "%s.no-such.sock", path);
    snprintf(gone.user, sizeof gone.user, "nobody");
    gone.connect_timeout = 1;
    worker_pool *a = worker_pool_start(base, 3, &gone);
    worker_pool *b = worker_pool_start(base, 1, &gone);
    CHECK(a && b);
    worker_pool_set_name(a, "alpha pool");
    worker_pool_set_name(b, "beta pool");
    db_dones = 0;
    atomic_store(&db_refused, 0);
    for (size_t i = 0; a && b && i < 30; i++) {
        worker_submit(i % 3 ? a : b, db_job, db_done, NULL);
        if (i % 5 == 0)
            sleep_us(20000); /* some after the shared backoff has run out */
    }
    loop_until(&db_dones, 30);
    worker_pool_stop(a);
    worker_pool_stop(b);
    log_close();
    CHECK_EQ_INT(db_dones, 30);
    CHECK_EQ_INT(atomic_load(&db_refused), 30);
    CHECK(!worker_db_is_up());
    char text[8192] = "";
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    unlink(path);
    CHECK_EQ_INT(count_lines(text, "# alpha pool: database is down: "), 1);
    CHECK_EQ_INT(count_lines(text, "# beta pool: database is down: "), 1);
    CHECK_EQ_INT(count_lines(text, " # "), 2);
    CHECK_EQ_INT(count_lines(text, "connection back"), 0);
}

typedef struct pool_seen {
    char names[128]; /* "name:db_up:pending " per pool */
} pool_seen;

static void note_pool(void *ctx, const char *name, bool db_up, size_t pending)
{
    pool_seen *s = ctx;
    size_t n = strlen(s->names);
    snprintf(s->names + n, sizeof s->names - n, "%s:%d:%zu ", name, db_up ? 1 : 0, pending);
}

/* worker_pool_each (GET /metrics): running pools oldest first, named or "workers",
 * database up before any attempt; a stopped pool leaves the list. */
static void test_pool_list(void)
{
    worker_pool *a = worker_pool_start(base, 1, &no_db);
    worker_pool *b = worker_pool_start(base, 1, &no_db);
    worker_pool *c = worker_pool_start(base, 1, &no_db);
    CHECK(a && b && c);
    worker_pool_set_name(a, "alpha");
    worker_pool_set_name(c, "gamma");
    worker_pool_set_name(NULL, "nothing"); /* a pool that failed to start: no effect */
    pool_seen s = {""};
    worker_pool_each(note_pool, &s);
    CHECK_EQ_STR(s.names, "alpha:1:0 workers:1:0 gamma:1:0 ");
    worker_pool_stop(b);
    s.names[0] = '\0';
    worker_pool_each(note_pool, &s);
    CHECK_EQ_STR(s.names, "alpha:1:0 gamma:1:0 ");
    worker_pool_stop(a);
    worker_pool_stop(c);
    s.names[0] = '\0';
    worker_pool_each(note_pool, &s);
    CHECK_EQ_STR(s.names, "");
}

int main(void)
{
    evthread_use_pthreads();
    base = event_base_new();
    loop_thread = pthread_self();
    TEST_RUN(test_jobs_off_loop_done_on_loop);
    TEST_RUN(test_one_thread_keeps_order);
    TEST_RUN(test_many_threads_each_once);
    TEST_RUN(test_pending_counts);
    TEST_RUN(test_stop_runs_pending_dones);
    TEST_RUN(test_done_submits_more);
    TEST_RUN(test_no_db_outside_worker);
    TEST_RUN(test_outage_warned_once_per_pool);
    TEST_RUN(test_pool_list);
    event_base_free(base);
    libevent_global_shutdown();
    return TEST_DONE();
}
