/*
 * sync.c, sync_cursor.c, sync_poll.c, cmd_write.c — changes written through to the
 * database, and changes other programs make followed through the rbac_change log. The
 * statements are the data-access layer's (dal.h: descriptors, re-reads and apply;
 * dal_write.h: write transactions; dal_changelog.h: the change log).
 *
 * Every job that must apply to the model in commit order runs on one serial lane (a
 * worker pool of one thread, its own database connection): write-through transactions,
 * change-log polls and full model loads. Completions come back to the loop thread in
 * the order the jobs ran, so a poll that read the database before a write committed is
 * always applied before that write, never after it, and read-your-writes holds.
 *
 *   loop thread                                  sync lane (1 thread)
 *   -----------                                  --------------------
 *   USER ADDROLE ... ----- write job ----------> txn: change + log + re-read, COMMIT
 *   poll timer ----------- poll job -----------> read rbac_change > cursor, re-read the
 *   gap / RELOAD --------- load job (loader) --> entities named, probe holes
 *   apply to model, advance cursor <------------ completions, in lane order
 *   reply, wake WAITREV waiters
 *
 * Calls other modules make (loop thread only):
 *   server.c  the hooks of sync_module (module.h): start, cron tick, stop, INFO.
 *   loader.c  sync_lane() to run loads in lane order; sync_model_loaded() after a new
 *             model was swapped in.
 */
#ifndef RBACD_SYNC_H
#define RBACD_SYNC_H

#include "buf.h"
#include "command.h"
#include "module.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker_pool;

/* A full load reports the rbac_change ids missing from its snapshot among the last
 * SYNC_LOAD_HOLE_WINDOW ids below its revision: transactions still open when the
 * snapshot was taken, which the change-log cursor must wait for. */
#define SYNC_LOAD_HOLE_WINDOW 10000

/* The module's hooks (module.h), on the loop thread:
 *   init      starts the serial lane and the change-log follower; fails (logged) when
 *             the lane cannot be started, and the server then refuses to start.
 *   shutdown  drops WAITREV waiters (their clients are gone by then), stops the lane
 *             (running jobs finish and are applied), frees everything. Idempotent.
 *   cron      re-arms the poll timer after CONFIG SET sync-interval-ms, purges old
 *             change rows now and then.
 *   info      INFO "sync": `key:value\r\n` lines. */
extern const module sync_module;

/* The highest rbac_change id this instance has applied (REVISION). */
uint64_t sync_revision(void);
/* Wall clock (ms) since which change-log polls cannot reach the database, 0 while they
 * can (GET /readyz). */
int64_t sync_db_down_since_ms(void);
/* Changes another module applied to memory itself (session writes): their rbac_change
 * ids[0..n) count as applied, for REVISION and WAITREV. Loop thread. */
void sync_changes_applied(const uint64_t *ids, size_t n);
/* The serial lane, or NULL before sync_module's init / after its shutdown. Jobs submitted
 * to it run one at a time in submission order, and their done callbacks run on the loop
 * thread in that order. Owned by sync.c. */
struct worker_pool *sync_lane(void);
/* A new model (server.model) was swapped in; its revision is the snapshot's highest
 * rbac_change id, and holes[0..n) the ids below it the snapshot did not hold (any order;
 * the array stays the caller's). Resets the change-log cursor to the snapshot. */
void sync_model_loaded(const uint64_t *holes, size_t nholes);

/* The purge of old rbac_change rows so far: purge jobs done (each one DELETE of
 * purge-batch rows at most), rows deleted, jobs that failed (INFO housekeeping). Loop
 * thread. */
void sync_purge_stats(uint64_t *runs, uint64_t *purged, uint64_t *failures);

/* Write and revision command rows (listed in command.c). */
extern command cmd_write_table[];

#endif
