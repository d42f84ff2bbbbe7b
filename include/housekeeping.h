/*
 * housekeeping.c — keeping the database tidy on a timer, and the INFO section that
 * shows all of it:
 *
 *   what                            where it runs                 batch
 *   ------------------------------  ----------------------------  ------------------------
 *   log partitions: create ahead,   this module, a job on          one pass per
 *   drop past log-retention-months  server.workers                 housekeeping-interval;
 *                                   (dal_partition.c)              one drop per table per
 *                                                                  pass, again at the next
 *                                                                  tick while some remain
 *   expired tenant_session rows     session.c, on the session      purge-batch rows, again
 *                                   lane (its order with the       at the next tick while
 *                                   session writes matters)        batches come back full
 *   old rbac_change rows            sync.c, a job on               purge-batch rows, same;
 *                                   server.workers                 change-retention and this
 *                                                                  instance's low water
 *
 * The two purges stay with the state they guard (the session store, the change-log
 * cursor); this module reads their counters for its INFO section. Nothing here runs
 * SQL on the loop thread: one partition job is out at a time, and its result comes back
 * through its done callback (worker.h). A CONFIG SET of a key below runs a pass at the
 * next tick.
 */
#ifndef RBACD_HOUSEKEEPING_H
#define RBACD_HOUSEKEEPING_H

struct module;
struct rbacd_conf;

extern const struct module housekeeping_module;

/* Apply hook of log-retention-months, log-partitions-ahead and housekeeping-interval
 * (conf.c, loop thread): the next pass runs at the next cron tick. */
void housekeeping_conf_changed(const struct rbacd_conf *c);

#endif
