/*
 * worker.c — the worker pool, and the threading rule of rbacd:
 *
 *   THE EVENT-LOOP THREAD OWNS ALL IN-MEMORY STATE (clients, the RBAC model, sessions,
 *   configuration, statistics). No other thread reads or writes it.
 *   Work that blocks — MariaDB queries, password hashing, building a new model — runs
 *   as a job on a worker thread. A job touches only what its submitter handed it (an
 *   argument struct the job owns until it finishes) and its worker's own database
 *   connection. When the job returns, its done callback runs on the loop thread, which
 *   is where results are applied to shared state and replies are written.
 *
 *      loop thread                         worker threads (N)
 *      -----------                         ------------------
 *      worker_submit(job, done, arg) --->  queue (mutex+cond) ---> job(arg)
 *                                                                    |
 *      done(arg) <--- eventfd wakes loop <--- completion queue <-----+
 *
 * Jobs start in submission order but complete in any order when a pool has several
 * threads; callers that need ordering (one client's pipeline) block the client until
 * its job is done. A pool of one thread runs its jobs, and their done callbacks, in
 * submission order: that is what the two lanes below are for.
 *
 * FOUR POOLS, each for a reason (all started and stopped on the loop thread):
 *
 *   server.workers   `worker-threads` threads (server.c). General blocking jobs with no
 *                    order to keep: AUTH password checks, purges of old rows, log
 *                    partition passes (housekeeping.c), freeing replaced models, the
 *                    first model load.
 *   sync lane        1 thread (sync.c). Write-through transactions, change-log polls
 *                    and model loads: they must reach the model in commit order, and
 *                    one thread is one order.
 *   session lane     1 thread (session.c). tenant_session batches (group commit, reads
 *                    through): the session store follows the database batch by batch.
 *   session hashers  one per CPU, at most 16 (session.c). SESSION LOGIN's user row and
 *                    bcrypt/argon2id check: tens of ms of CPU each, run at a lower
 *                    priority and apart from the database jobs, which they never delay.
 *
 * Each thread of each pool has its own database connection (lazily opened); the
 * reconnect backoff below is shared by all of them. A connect walks the db-host list from
 * its first node; a connection to a later node tries the first again after 5 s (then
 * 10 s, then every 20 s), between jobs, and moves back when it answers. Each pool logs one
 * warning when its connections are lost (or cannot be made) and one notice when it has one
 * again, named after the pool (worker_pool_set_name: "general", "sync", "session",
 * "session_hashers").
 */
#ifndef RBACD_WORKER_H
#define RBACD_WORKER_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct db_params;

typedef void worker_job_fn(void *arg);  /* on a worker thread; may block */
typedef void worker_done_fn(void *arg); /* on the loop thread, once job has returned */

typedef struct worker_pool worker_pool;

/* Starts n threads whose completions are delivered on base. db is copied; each worker
 * opens its own connection lazily. Returns NULL (and logs why) on failure. */
worker_pool *worker_pool_start(struct event_base *base, size_t n, const struct db_params *db)
    __attribute__((warn_unused_result));
/* Queues a job. done may be NULL. Never fails (the queue is unbounded; callers bound
 * what they submit). */
void worker_submit(worker_pool *p, worker_job_fn *job, worker_done_fn *done, void *arg);
/* Stops accepting jobs, lets queued jobs finish, runs their done callbacks, joins the
 * threads and frees the pool. */
void worker_pool_stop(worker_pool *p);
/* Jobs queued or running (INFO). */
size_t worker_pool_pending(const worker_pool *p);
/* Names a pool for reports (GET /metrics: pool="sync"); name is a string literal the
 * pool keeps pointing to. Unnamed pools are "workers"; a NULL p does nothing. Loop
 * thread. */
void worker_pool_set_name(worker_pool *p, const char *name);
/* Calls fn for every running pool, oldest first, with its name, whether the last
 * database attempt of one of its threads worked (true before any attempt), and its
 * pending jobs. Loop thread (it walks the list worker_pool_start/stop keep). */
void worker_pool_each(void (*fn)(void *ctx, const char *name, bool db_up, size_t pending),
                      void *ctx);

/* For use inside a job: this worker's database connection, connected (UTC session)
 * on first use and after a failure. While the database is unreachable, returns NULL at
 * once (err says why) until the shared reconnect backoff allows another attempt, so jobs
 * fail fast instead of each waiting for a timeout. */
MYSQL *worker_db(char *err, size_t errlen);
/* For use inside a job after a query failed with a connection error: drops the
 * connection so the next worker_db() reconnects, and marks the pool's database down
 * (worker.c: one warning per outage, one notice when a connection is made again). */
void worker_db_failed(void);

/* For use inside a job, after worker_db(): whether this worker's connection is to a
 * Galera node (its reads wait for the cluster: wsrep_sync_wait, db.h). */
bool worker_db_galera(void);

/* Whether the last connection attempt from any worker succeeded (INFO, /healthz). */
bool worker_db_is_up(void);

/* Database figures for INFO sync: the node of pool p (NULL: 0, no Galera), and the
 * counters of all pools together. */
typedef struct worker_db_figures {
    size_t node;                  /* db-host index of p's last connection made */
    bool galera;                  /* that connection is to a Galera node */
    unsigned long long failovers; /* connections made to another node than their pool's last */
    unsigned long long failbacks; /* ... of which back to the first node of db-host */
    unsigned long long lost;      /* pool outages begun: connections lost or refused */
    unsigned long long regained;  /* pool outages ended: a connection made again */
} worker_db_figures;
/* Any thread. */
void worker_db_stats(const worker_pool *p, worker_db_figures *f);

#endif
