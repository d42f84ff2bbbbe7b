/*
 * sync_internal.h — what the parts of the sync module share: the change-log cursor
 * (sync_cursor.c), the keys that name what to re-read and the batch of rows re-read for
 * them (sync_read.c, on the lane), applying a batch to the model (sync_apply.c, on the
 * loop), the poll and purge jobs (sync_poll.c), and the loop-side entry points the
 * write commands use (sync.c, cmd_write.c). Nothing outside the sync module includes it.
 *
 * The flow of one change:
 *
 *   rbac_change row --sync_poll.c--> sync_key (kind, id) --sync_read.c--> sync_batch
 *   (current rows of the entity) --sync_apply.c--> rbac_add_* / rbac_set_* / remove
 *
 * Applying is idempotent: a batch holds the entity's current rows, never a delta, so
 * applying a change twice, or late, leaves the model as the database is.
 */
#ifndef RBACD_SYNC_INTERNAL_H
#define RBACD_SYNC_INTERNAL_H

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
/* Every id at or below this is applied or known never to appear. */
uint64_t sync_cursor_low_water(const sync_cursor *c);
/* Ids in runs. */
uint64_t sync_cursor_missing(const sync_cursor *c);
/* Whether a WAITREV for rev that arrived at since_us is answered: rev <= max_seen and
 * every hole at or below rev is a transaction a probe found open after since_us (it
 * commits after the caller asked, so the caller cannot have seen it). */
bool sync_cursor_reached(const sync_cursor *c, uint64_t rev, int64_t since_us);
void sync_cursor_free(sync_cursor *c);

/* -------------------------------------------------------------------- keys ---- */

/* What a change names, and so what to re-read. For entity kinds the id is the entity's;
 * for association kinds the owner's (as the triggers write entity_id). */
enum sync_kind {
    SYNC_K_TENANT = 0,         /* tenant row and its subscriptions */
    SYNC_K_SUBS = 1,           /* id = tenant: its subscriptions */
    SYNC_K_PACKAGE = 2,        /* package row and its menus */
    SYNC_K_PACKAGE_MENU = 3,   /* id = package: its menus */
    SYNC_K_MENU = 4,           /* menu row */
    SYNC_K_MENU_REFS = 5,      /* id = menu: roles and packages naming it (new to the model) */
    SYNC_K_ROLE = 6,           /* role row and its menus */
    SYNC_K_ROLE_MENU = 7,      /* id = role: its menus */
    SYNC_K_ROLE_REFS = 8,      /* id = role: users holding it (new to the model) */
    SYNC_K_USER = 9,           /* user row, roles, stores, delegates */
    SYNC_K_USER_ROLE = 10,     /* id = user: roles */
    SYNC_K_USER_STORE = 11,    /* id = user: own stores */
    SYNC_K_USER_DELEGATE = 12, /* id = user: users whose stores it inherits */
    SYNC_K_SESSION = 13,       /* id = user: tell the session module */
    SYNC_K_TENANT_ALL = 14,    /* id = tenant: every role and user of it (one-tenant reload) */
    SYNC_K_COUNT = 15,
};

typedef struct sync_key {
    uint64_t id;     /* entity or owner id (see enum sync_kind) */
    uint64_t tenant; /* rbac_change.tenant_id: 0 platform-wide */
    uint8_t kind;    /* enum sync_kind */
} sync_key;

/* Sorts keys by (kind, id, tenant) and drops duplicates; returns the new count. */
size_t sync_keys_unique(sync_key *keys, size_t n);

/* ------------------------------------------------------------------- batch ---- */

typedef struct sync_tenant_rec {
    uint64_t id; /* tenant.id */
    char *code;  /* tenant_code, owned */
    int status;  /* 1 enabled */
    bool live;   /* row exists and deleted_at = 0; false: remove */
} sync_tenant_rec;

typedef struct sync_package_rec {
    uint64_t id; /* tenant_package.id */
    char *code;  /* package_code, owned */
    int status;  /* 1 enabled */
    bool live;   /* false: remove */
} sync_package_rec;

typedef struct sync_menu_rec {
    uint64_t id;        /* tenant_menu.id */
    uint64_t parent_id; /* 0 = root */
    char *name;         /* menu_name, owned */
    char *perms;        /* owned, NULL if none */
    char *path;         /* owned, NULL if none */
    int type;           /* menu_type */
    int status;         /* 1 enabled */
    int32_t sort;       /* sibling order */
    bool live;          /* false: remove */
} sync_menu_rec;

typedef struct sync_role_rec {
    uint64_t id;        /* tenant_role.id */
    uint64_t tenant_id; /* its tenant */
    char *code;         /* role_code, owned */
    int status;         /* 1 enabled */
    bool live;          /* false: remove */
} sync_role_rec;

typedef struct sync_user_rec {
    uint64_t id;        /* tenant_user.id */
    uint64_t tenant_id; /* its tenant */
    int status;         /* 1 enabled */
    bool admin;         /* is_admin = 1 */
    bool live;          /* false: remove */
} sync_user_rec;

/* Whole lists re-read for one owner; ids live in the lists' shared pool. */
enum sync_list_kind {
    SYNC_L_PACKAGE_MENUS = 0,  /* package -> menus (replace) */
    SYNC_L_ROLE_MENUS = 1,     /* role -> menus (replace) */
    SYNC_L_USER_ROLES = 2,     /* user -> roles (replace) */
    SYNC_L_USER_STORES = 3,    /* user -> stores (replace) */
    SYNC_L_USER_DELEGATES = 4, /* user -> delegates (replace) */
    SYNC_L_MENU_ROLES = 5,     /* menu -> roles holding it (add) */
    SYNC_L_MENU_PACKAGES = 6,  /* menu -> packages holding it (add) */
    SYNC_L_ROLE_USERS = 7,     /* role -> users holding it (add) */
    SYNC_L_COUNT = 8,
};

typedef struct sync_list {
    uint64_t owner; /* package, role, user or menu id */
    size_t off;     /* first id in the pool */
    size_t n;       /* ids */
} sync_list;

typedef struct sync_lists {
    sync_list *items;      /* one per owner read, ascending owner */
    size_t n, cap;         /* used, allocated */
    uint64_t *pool;        /* the ids of every list, back to back */
    size_t npool, cappool; /* used, allocated */
} sync_lists;

typedef struct sync_subs {
    uint64_t tenant_id; /* whose subscriptions */
    size_t off;         /* first row in sub_rows */
    size_t n;           /* rows: the tenant's complete list */
} sync_subs;

typedef struct sync_session {
    uint64_t tenant_id; /* rbac_change.tenant_id */
    uint64_t user_id;   /* whose tenant_session rows changed */
} sync_session;

/* The current rows of everything a set of keys names. Built on the lane, applied and
 * freed on the loop; owns every array and string in it. */
typedef struct sync_batch {
    sync_tenant_rec *tenants;       /* tenant rows (or their absence) */
    size_t ntenants, captenants;    /* used, allocated */
    sync_subs *subs;                /* per tenant: its whole subscription list */
    size_t nsubs, capsubs;          /* used, allocated */
    rbac_sub_row *sub_rows;         /* the rows those lists point into */
    size_t nsub_rows, capsub_rows;  /* used, allocated */
    sync_package_rec *packages;     /* package rows */
    size_t npackages, cappackages;  /* used, allocated */
    sync_menu_rec *menus;           /* menu rows */
    size_t nmenus, capmenus;        /* used, allocated */
    sync_role_rec *roles;           /* role rows */
    size_t nroles, caproles;        /* used, allocated */
    sync_user_rec *users;           /* user rows */
    size_t nusers, capusers;        /* used, allocated */
    sync_lists lists[SYNC_L_COUNT]; /* owner lists, by enum sync_list_kind */
    sync_session *sessions;         /* users whose sessions changed */
    size_t nsessions, capsessions;  /* used, allocated */
} sync_batch;

void sync_batch_free(sync_batch *b);
/* Records of every kind in b (INFO: changes applied). */
size_t sync_batch_records(const sync_batch *b);

/* On the lane: re-reads what keys[0..n) name into b (appending). keys is sorted and
 * deduplicated in place. lock: locking reads (LOCK IN SHARE MODE), for a write
 * transaction that must see the latest committed rows, not its snapshot. Returns false
 * with err set on a database error (b then holds a partial batch the caller frees). */
bool sync_read_state(MYSQL *db, sync_key *keys, size_t n, bool lock, sync_batch *b, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------- apply ---- */

typedef struct sync_apply_out {
    bool need_full_reload;           /* a menu could not be added in place (id below the highest) */
    size_t applied;                  /* records applied */
    sync_key *followups;             /* keys to read on the next poll (owned, mem_free) */
    size_t nfollowups, capfollowups; /* used, allocated */
} sync_apply_out;

/* On the loop: applies b to m in dependency order (tenants, subscriptions, packages,
 * menus, their lists, roles, role lists, users, user lists, sessions). Entities new to
 * the model add follow-up keys for the associations loaded before them. */
void sync_apply_batch(rbac_model *m, const sync_batch *b, sync_apply_out *out);

/* ------------------------------------------------------------- poll, purge ---- */

enum sync_probe_result {
    SYNC_PROBE_ERROR = 0,    /* the probe failed: decide nothing */
    SYNC_PROBE_SETTLED = 1,  /* no open transaction in the range; present[] is committed */
    SYNC_PROBE_INFLIGHT = 2, /* an open transaction holds an id in the range */
};

/* One locking read with NOWAIT over the ids lo..hi, which span one run or several. */
typedef struct sync_probe {
    uint64_t lo, hi;             /* the range probed */
    bool single;                 /* it covers exactly one run */
    int result;                  /* enum sync_probe_result */
    int64_t at_us;               /* monotonic time the probe was sent */
    uint64_t *present;           /* SETTLED: committed ids in the range, ascending (owned) */
    size_t npresent, cappresent; /* used, allocated */
} sync_probe;

typedef struct sync_poll_job {
    /* in: filled on the loop, owned by the job */
    uint64_t epoch;      /* cursor epoch at submit; a reset makes the result stale */
    uint64_t max_seen;   /* fetch ids above this ... */
    sync_run *runs;      /* ... and in these holes (lowest first) */
    size_t nruns;        /* runs */
    uint64_t low_water;  /* gap check: rows above it must still be there */
    bool stale_contact;  /* no successful poll for a retention period: reload */
    sync_probe *probes;  /* holes to probe (lo, hi set) */
    size_t nprobes;      /* probes */
    sync_key *followups; /* extra keys to read (from the previous apply) */
    size_t nfollowups;   /* followups */
    /* out: filled on the lane */
    uint64_t *ids;          /* change ids fetched, ascending */
    size_t nids, capids;    /* used, allocated */
    size_t nignored;        /* rows naming tables rbacd does not cache */
    size_t tenant_reloads;  /* tenants read whole instead of entity by entity */
    bool full;              /* the fetch hit its row limit: poll again at once */
    bool gap;               /* rows this instance never read were purged: reload */
    sync_batch batch;       /* current rows of what the changes name */
    bool failed;            /* err holds why */
    char err[SYNC_ERR_MAX]; /* database error */
    int64_t duration_us;    /* time on the lane */
} sync_poll_job;

/* On the lane. */
void sync_poll_run(void *arg);
void sync_poll_job_free(sync_poll_job *j);

typedef struct sync_purge_job {
    long long retention_s;  /* rows older than this go ... */
    uint64_t max_id;        /* ... if at or below this (this instance's low water) */
    uint64_t purged;        /* out: rows deleted */
    bool failed;            /* out: err holds why */
    char err[SYNC_ERR_MAX]; /* out */
} sync_purge_job;

/* On any worker. */
void sync_purge_run(void *arg);

/* ------------------------------------------------- database helpers (lane) ---- */

/* After a failed statement: writes "what: error (errno)" to err, and notes whether the
 * connection is gone. The handle stays valid for the rest of the job (its statements
 * then fail at once); sync_db_done(), called when a job stops using the handle, drops a
 * lost connection (worker_db_failed) so that the next job reconnects. */
void sync_db_error(MYSQL *db, const char *what, char *err, size_t errlen);
void sync_db_done(void);
bool sync_col_u64(const char *s, uint64_t *out);
int sync_col_int(const char *s);

/* ----------------------------------------------- loop side (sync.c) for writes ---- */

/* A write committed: applies its re-read rows, records its own change ids as applied
 * (ids[0..n), ascending), wakes WAITREV callers. */
void sync_write_applied(const sync_batch *b, const uint64_t *ids, size_t n);
/* Counts a write for INFO: ok, or failed (dberr: the database refused or is down, and
 * err says why; it becomes INFO's db_last_error). */
void sync_note_write(bool ok, bool dberr, const char *err);
/* WAITREV: replies :1 now, or blocks c until rev is applied (:1) or timeout_ms pass
 * (:0); timeout_ms 0 waits for ever. */
void sync_waitrev(struct client *c, uint64_t rev, int64_t timeout_ms);

#endif
