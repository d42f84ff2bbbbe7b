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
 * Jobs run in submission order per worker but complete in any order; callers that need
 * ordering (one client's pipeline) block the client until its job is done.
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

/* For use inside a job: this worker's database connection, connected (UTC session)
 * on first use and after a failure. While the database is unreachable, returns NULL at
 * once (err says why) until the shared reconnect backoff allows another attempt, so jobs
 * fail fast instead of each waiting for a timeout. */
MYSQL *worker_db(char *err, size_t errlen);
/* For use inside a job after a query failed with a connection error: drops the
 * connection so the next worker_db() reconnects. */
void worker_db_failed(void);

/* Whether the last database attempt from any worker succeeded (INFO, /healthz). */
bool worker_db_is_up(void);

#endif
