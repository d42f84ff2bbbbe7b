/*
 * sync_internal.h — what the parts of the sync module share: the change-log cursor
 * (sync_cursor.c), the poll and purge jobs (sync_poll.c, on the lane), and the
 * loop-side entry points the write commands use (sync.c, cmd_write.c). Nothing outside
 * the sync module includes it. The statements themselves are the data-access layer's
 * (dal.h, dal_changelog.h).
 *
 * The flow of one change:
 *
 *   rbac_change row --dal_key_of_change--> dal_key (descriptor, id) --dal_refresh-->
 *   dal_batch (current rows of the entity) --dal_apply--> rbac_add_* / rbac_set_* / remove
 *
 * Applying is idempotent: a batch holds the entity's current rows, never a delta, so
 * applying a change twice, or late, leaves the model as the database is.
 */
#ifndef RBACD_SYNC_INTERNAL_H
#define RBACD_SYNC_INTERNAL_H

#include "dal.h"
#include "dal_changelog.h"
#include "rbac.h"

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

#define SYNC_ERR_MAX 256 /* error text kept per job */

/* ------------------------------------------------------------------ cursor ---- */

/* A run of rbac_change ids that a poll has not seen although a higher id was seen:
 * transactions still open (AUTO_INCREMENT ids are handed out before commit) or rolled
 * back. They are fetched again by every poll until they appear or a probe shows they
 * never will. */
typedef struct sync_run {
    uint64_t lo, hi;     /* ids lo..hi inclusive */
    int64_t seen_us;     /* monotonic time the hole was first noticed */
    int64_t inflight_us; /* single-id run: start of the last probe that found it held by an
                            open transaction (it commits after that), else 0 */
    bool alone;          /* a probe of several runs found an open transaction among them:
                            probe this run by itself from now on */
    int64_t absent_us;   /* Galera: start of the last cluster-synced probe that found every
                            id of the run missing and unlocked, else 0 (see
                            sync_cursor_absent_at) */
} sync_run;

/* Where this instance is in the change log. Invariant: every id <= max_seen is applied
 * or lies in a run; runs are sorted, disjoint, and within (0, max_seen]. */
typedef struct sync_cursor {
    uint64_t max_seen; /* highest id applied (REVISION) */
    sync_run *runs;    /* holes below max_seen, ascending */
    size_t nruns;      /* runs in use */
    size_t cap;        /* runs allocated */
} sync_cursor;

/* Starts over at a loaded snapshot: max_seen = revision, one-id runs for holes (any
 * order, duplicates and ids above revision ignored). */
void sync_cursor_reset(sync_cursor *c, uint64_t revision, const uint64_t *holes, size_t n,
                       int64_t now_us);
/* Records that id was applied: removes it from a run, or moves max_seen up to it (the ids
 * skipped on the way become a new run seen at now_us). */
void sync_cursor_seen(sync_cursor *c, uint64_t id, int64_t now_us);
/* Drops lo..hi from the runs: those ids will never appear. */
void sync_cursor_absent(sync_cursor *c, uint64_t lo, uint64_t hi);
/* A probe of lo..hi found no open transaction there, and the committed ids present[0..n)
 * (ascending): every other id of a run in lo..hi will never appear and is dropped, but
 * only from runs first noticed at or before seen_before_us (younger ones may be ids
 * handed out and not yet written). Present ids stay in their runs: the next fetch
 * applies them. */
void sync_cursor_settled(sync_cursor *c, uint64_t lo, uint64_t hi, const uint64_t *present,
                         size_t n, int64_t seen_before_us);
/* A probe found an open transaction somewhere in lo..hi at at_us. single: the probe
 * covered one run; a run of one id is then marked, a longer one split in two so that
 * later probes can tell which id it is. Otherwise every run in lo..hi is marked to be
 * probed alone. */
void sync_cursor_inflight(sync_cursor *c, uint64_t lo, uint64_t hi, bool single, int64_t at_us);
/* Galera: a probe of lo..hi started at at_us, after a read that waited for the cluster
 * (wsrep_sync_wait), found no open transaction on this node and the committed ids
 * present[0..n) (ascending). A run inside lo..hi holding none of them is marked absent at
 * at_us: whatever fills it later commits after at_us (WAITREV, sync_cursor_reached). The
 * run is kept: the id may still be taken by a transaction open on another node. */
void sync_cursor_absent_at(sync_cursor *c, uint64_t lo, uint64_t hi, const uint64_t *present,
                           size_t n, int64_t at_us);
/* Every id at or below this is applied or known never to appear. */
uint64_t sync_cursor_low_water(const sync_cursor *c);
/* Ids in runs. */
uint64_t sync_cursor_missing(const sync_cursor *c);
/* Whether a WAITREV for rev that arrived at since_us is answered: rev <= max_seen and
 * every hole at or below rev is a transaction a probe found open after since_us, or
 * (Galera) a run a cluster-synced probe found absent after since_us: either commits after
 * the caller asked, so the caller cannot have seen it. */
bool sync_cursor_reached(const sync_cursor *c, uint64_t rev, int64_t since_us);
void sync_cursor_free(sync_cursor *c);

/* ------------------------------------------------------------- poll, purge ---- */

/* One locking read with NOWAIT over the ids lo..hi, which span one run or several. */
typedef struct sync_probe {
    uint64_t lo, hi; /* the range probed */
    bool single;     /* it covers exactly one run */
    int result;      /* enum dal_probe_result */
    int64_t at_us;   /* monotonic time the probe was sent */
    dal_ids present; /* SETTLED: committed ids in the range, ascending (owned) */
} sync_probe;

typedef struct sync_poll_job {
    /* in: filled on the loop, owned by the job */
    const dal_profile *profile; /* what the change rows name */
    uint64_t epoch;             /* cursor epoch at submit; a reset makes the result stale */
    uint64_t max_seen;          /* fetch ids above this ... */
    sync_run *runs;             /* ... and in these holes (lowest first) */
    size_t nruns;               /* runs */
    uint64_t low_water;         /* gap check: rows above it must still be there */
    bool stale_contact;         /* no successful poll for a retention period: reload */
    sync_probe *probes;         /* holes to probe (lo, hi set) */
    size_t nprobes;             /* probes */
    dal_key *followups;         /* extra keys to read (from the previous apply) */
    size_t nfollowups;          /* followups */
    /* out: filled on the lane */
    uint64_t *ids;          /* change ids fetched, ascending */
    size_t nids, capids;    /* used, allocated */
    size_t nignored;        /* rows naming tables rbacd does not cache */
    size_t tenant_reloads;  /* tenants read whole instead of entity by entity */
    bool full;              /* the fetch hit its row limit: poll again at once */
    bool gap;               /* rows this instance never read were purged: reload */
    dal_batch batch;        /* current rows of what the changes name */
    bool failed;            /* err holds why */
    bool galera;            /* the lane's connection is to a Galera node (reads sync-wait) */
    char err[SYNC_ERR_MAX]; /* database error */
    int64_t duration_us;    /* time on the lane */
} sync_poll_job;

/* On the lane. */
void sync_poll_run(void *arg);
void sync_poll_job_free(sync_poll_job *j);

typedef struct sync_purge_job {
    long long retention_s;  /* rows older than this go ... */
    uint64_t max_id;        /* ... if at or below this (this instance's low water) */
    int batch;              /* rows one DELETE removes at most (purge-batch) */
    uint64_t purged;        /* out: rows deleted */
    bool failed;            /* out: err holds why */
    char err[SYNC_ERR_MAX]; /* out */
} sync_purge_job;

/* On any worker. */
void sync_purge_run(void *arg);

/* ----------------------------------------------- loop side (sync.c) for writes ---- */

/* The profile the follower reads with (NULL when the profile has no loader). */
const dal_profile *sync_profile(void);
/* A write committed: applies its re-read rows, records its own change ids as applied
 * (ids[0..n), ascending), wakes WAITREV callers. origin: the writing client's id (0 when
 * it has gone), which client tracking's NOLOOP spares. */
void sync_write_applied(const dal_batch *b, const uint64_t *ids, size_t n, uint64_t origin);
/* Counts a write for INFO: ok, or failed (dberr: the database refused or is down, and
 * err says why; it becomes INFO's db_last_error). */
void sync_note_write(bool ok, bool dberr, const char *err);
/* Counts a write's retries (INFO txn_retries) and whether it failed still conflicting
 * after all of them (txn_conflicts_failed). */
void sync_note_retries(int retries, bool conflict_failed);
/* WAITREV: replies :1 now, or blocks c until rev is applied (:1) or timeout_ms pass
 * (:0); timeout_ms 0 waits for ever. */
void sync_waitrev(struct client *c, uint64_t rev, int64_t timeout_ms);

#endif
