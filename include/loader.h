/*
 * loader.c — building a model from the database on a worker thread and swapping it in
 * on the loop thread. Reads keep being served from the old model until the swap.
 *
 *   loop: loader_start() --worker_submit--> worker: one consistent snapshot, every
 *         table streamed into rbac_add_*(), rbac_model_finish()
 *   loop: done: server.model = new; old model --worker_submit--> worker: rbac_model_free
 *
 * Requests that arrive while a load runs are served by one more load started after it,
 * so every caller gets a snapshot taken after its request. Until the first load
 * succeeds (the database may not be up yet) failures are retried on a timer with
 * backoff (0.5 s doubling to 5 s) and callers keep waiting; after that a failed reload
 * keeps the old model and tells its callers why.
 */
#ifndef RBACD_LOADER_H
#define RBACD_LOADER_H

#include "module.h"

#include <stdbool.h>
#include <stdint.h>

/* Called on the loop thread when a load finished: ok, or err says why (the old model,
 * if any, stays in use). err is valid during the call only. */
typedef void loader_done_fn(void *ctx, bool ok, const char *err);

/* Starts a full load (tenant == 0) or a one-tenant reload on a worker. A one-tenant
 * reload is currently a full reload. On success the new model replaces server.model,
 * server.loading becomes false, server.last_load_ms / last_load_at_ms are set and
 * server.last_load_error is cleared; then done(ctx, ...) runs (done may be NULL).
 * done never runs before loader_start() returns, and runs exactly once: at the latest
 * at shutdown (ok false, "shutting down"), from loader_module's shutdown or, for a load
 * still running then, when the pool running it stops. A call after that shutdown is
 * ignored and done never runs. */
void loader_start(uint64_t tenant, loader_done_fn *done, void *ctx);

/* Load counters since start (INFO rbac). */
void loader_counters(uint64_t *loads_ok, uint64_t *loads_failed);

/* The module's hooks (module.h), on the loop thread:
 *   init      queues the first load (server.loading stays true until it is in).
 *   shutdown  cancels a pending retry and frees server.model; waiters that never got
 *             an answer are told "shutting down". Runs after the sync lane (where loads
 *             run once it exists) has stopped; a load still running on the general
 *             pool is freed when it ends, its waiters told "shutting down". */
extern const module loader_module;

#endif
