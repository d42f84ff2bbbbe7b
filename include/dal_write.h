/*
 * dal_write.c — write-through transactions: the machinery every write command of every
 * profile shares. A write is one job on the sync lane (sync.h), one transaction:
 *
 *   loop: handler parses, fills a dal_write_job, blocks the client -----------------+
 *   lane: START TRANSACTION                                                          |
 *         SELECT MAX(rbac_change.id) -> M0   (opens the read view: see below)        |
 *         op->fn: check the rows named (locking reads), the change itself (its      |
 *                 triggers add rbac_change rows)                                    |
 *         op->log: the operation log row, where the profile has one                 |
 *         SELECT id FROM rbac_change WHERE id > M0  -> exactly this write's ids      |
 *         re-read what changed, LOCK IN SHARE MODE (dal_refresh)                     |
 *         COMMIT                                                                     |
 *   loop: apply the re-read rows, mark the ids applied, reply, unblock <-------------+
 *
 * Why "id > M0" yields this transaction's change ids and nobody else's: under
 * REPEATABLE READ the first consistent read fixes the read view; M0 is the highest id
 * in it, so a later consistent read sees above M0 only rows the transaction wrote
 * itself. The checks and the re-read use locking reads instead, which see the latest
 * committed rows, so the state applied to memory is the committed state, not the view.
 *
 * A deadlock or certification conflict (ER_LOCK_DEADLOCK), or a row changed since the
 * snapshot read it (ER_CHECKREAD, under innodb_snapshot_isolation), retries the
 * transaction, up to `db-retries` times after a short randomised backoff
 * (DAL_WRITE_BACKOFF_US, doubling): the server rolled it back and trying again is likely
 * to succeed. On a Galera cluster this is how concurrent writes through different nodes
 * to the same rows end: one commits, the others get 1213 at COMMIT and run again,
 * re-reading what the winner wrote. A connection lost before COMMIT was sent is retried
 * the same way, on whichever node of db-host answers (the server rolled the
 * transaction back when the connection went). A lock wait timeout (ER_LOCK_WAIT_TIMEOUT) is -DBERR
 * at once: the row is held by a transaction elsewhere that may stay open for long, and retrying
 * would keep the single sync lane (polls, writes, reloads) waiting for it. The lock wait is bounded
 * (DAL_WRITE_LOCK_WAIT_S), so such a write fails in seconds and everything queued
 * behind it runs. Any other database error is -DBERR, and nothing was applied. While
 * the database is down, worker_db() refuses at once (shared reconnect backoff), so
 * writes fail fast. One case cannot be told apart: a connection lost during COMMIT may
 * or may not have committed; the client gets -DBERR, and if it did commit the change
 * log brings it in like any change made elsewhere.
 *
 * A job belongs to the loop until it is submitted, to the lane while it runs, and to
 * the loop again in its done callback, which frees it (dal_write_job_free).
 */
#ifndef RBACD_DAL_WRITE_H
#define RBACD_DAL_WRITE_H

#include "dal.h"

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAL_WRITE_LOCK_WAIT_S 2 /* innodb_lock_wait_timeout of a write */
#define DAL_WRITE_BACKOFF_US                                                                       \
    5000 /* first pause before a retry; doubles, plus up to as much                                \
            again at random so that conflicting writers part */

enum dal_write_status {
    DAL_WRITE_OK = 0,      /* committed: reply the number */
    DAL_WRITE_REFUSED = 1, /* -ERR msg: something named does not exist, or not allowed */
    DAL_WRITE_DBERR = 2,   /* -DBERR msg: the database failed; nothing changed */
    DAL_WRITE_RETRY = 3,   /* deadlock or changed record: try the transaction again */
};

struct dal_write_job;

/* One attempt's state: the lane's connection and the job. */
typedef struct dal_tx {
    MYSQL *db;               /* the lane's connection */
    struct dal_write_job *j; /* status and msg are set on failure */
} dal_tx;

/* What a change wants re-read afterwards, and how it is logged. */
typedef struct dal_change {
    dal_key key;       /* re-read after the change */
    uint64_t log_user; /* operation log user_id: the user acted upon, or 0 */
    char target[64];   /* operation log target */
    char detail[256];  /* operation log detail */
} dal_change;

/* The change itself, inside the transaction: checks, statements, j->reply, ch filled.
 * False with t->j->status / msg set (dal_tx_fail, dal_tx_refuse). */
typedef bool dal_write_fn(dal_tx *t, dal_change *ch);
/* The operation log row of a change (NULL: the profile keeps none). */
typedef bool dal_write_log_fn(dal_tx *t, const dal_change *ch);

/* A write command as data. */
typedef struct dal_write_op {
    const char *module;    /* the command, lower case (also the operation log module) */
    const char *action;    /* the subcommand (operation log action); NULL for a command
                              without subcommands */
    dal_write_fn *fn;      /* the change */
    dal_write_log_fn *log; /* its log row, or NULL */
} dal_write_op;

typedef struct dal_write_job {
    /* in: filled on the loop, owned by the job */
    const dal_profile *profile; /* descriptors for the re-read */
    const dal_write_op *op;     /* what to do */
    uint64_t tenant;            /* the tenant (or domain owner) every write names */
    uint64_t target;            /* role, user, package... the op says */
    uint64_t other;             /* a second id: role, store, delegate user */
    int64_t start_ms, end_ms;   /* a time range (TENANT SUBSCRIBE) */
    char **args;                /* further arguments as sent (menus), owned */
    size_t nargs;               /* entries in args */
    char operator_name[64];     /* the client's ACL user */
    int retries;                /* db-retries: runs again after a conflict at most this often */
    /* out: filled on the lane */
    int attempts;          /* transactions run (1 + retries used) */
    bool conflict;         /* the last attempt ended in a deadlock or certification conflict */
    bool commit_sent;      /* the last attempt sent COMMIT (a lost connection then is -DBERR) */
    int status;            /* enum dal_write_status */
    char msg[DAL_ERR_MAX]; /* why, for -ERR / -DBERR */
    long long reply;       /* the integer reply */
    dal_batch batch;       /* rows re-read after the change */
    uint64_t *ids;         /* this write's rbac_change ids, ascending */
    size_t nids, capids;   /* used, allocated */
    bool forget_sessions;  /* the change revoked the target user's sessions */
} dal_write_job;

/* A zeroed job for op of profile p. The caller owns it until it is submitted. */
dal_write_job *dal_write_job_new(const dal_profile *p, const dal_write_op *op);
/* Frees j and everything it owns (NULL is fine). */
void dal_write_job_free(dal_write_job *j);
/* The lane job (worker_job_fn): runs the transaction, with retries; fills the out part. */
void dal_write_run(void *job);

/* ---- for change functions (lane) ---- */

/* The status a failed statement on db gives the write: DAL_WRITE_RETRY for a deadlock,
 * certification conflict or changed row; DAL_WRITE_REFUSED (-ERR) when the value is one
 * the table cannot hold (too long, out of range, a charset or unique key refuses it);
 * DAL_WRITE_DBERR otherwise. */
int dal_write_failure(MYSQL *db);
/* Classifies a failed statement: retry, -ERR or -DBERR (and notes a lost connection). */
void dal_tx_fail(dal_tx *t, const char *what);
/* Refuses the write: -ERR with the formatted message. */
void dal_tx_refuse(dal_tx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs a statement returning no rows; *affected (may be NULL) gets its row count. */
bool dal_tx_exec(dal_tx *t, long long *affected, const char *sql, size_t len)
    __attribute__((warn_unused_result));
bool dal_tx_execf(dal_tx *t, long long *affected, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 3, 4)));
/* dal_check() inside the transaction: false (status set) on a database error. */
bool dal_tx_row(dal_tx *t, const dal_desc *d, uint64_t id, uint64_t tenant, const char *lock,
                dal_rec *r, bool *found) __attribute__((warn_unused_result));

#endif
