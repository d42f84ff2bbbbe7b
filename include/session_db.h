/*
 * session_db.c — the database half of the sessions: every statement on tenant_session
 * (and the login log rows and last_login_at that go with a login) runs here, on the
 * one thread of the session lane, a batch at a time.
 *
 *   loop thread                                   session lane (1 worker thread)
 *   -----------                                   ------------------------------
 *   commands queue session_ops
 *   no batch in flight? take the queue  ---job--> session_db_run(batch):
 *     (group commit: whatever queued                one transaction for every write
 *      while the last batch ran)                    (revokealls, inserts, touches,
 *                                                   revokes, login rows), COMMIT, then
 *                                                   the reads (read-through, per-user
 *   apply results to the store, reply   <--done--   re-reads, the start-up load, purge)
 *   to every waiter, take the next batch
 *
 * Because one batch runs at a time and results are applied in batch order, memory
 * changes in the order the database did, and a re-read of a user's sessions cannot be
 * overtaken by an older write. A write that fails fails its batch; when the failure
 * was a refused statement or a held lock (not a lost connection) each write is retried
 * alone, so one bad row or locked user row cannot fail its neighbours.
 *
 * A session_op belongs to the loop until its batch is submitted, to the lane while the
 * batch runs, and to the loop again in the done callback, which frees it.
 */
#ifndef RBACD_SESSION_DB_H
#define RBACD_SESSION_DB_H

#include "passwd.h"
#include "session_store.h"

#include <mysql.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_BATCH_MAX        512   /* ops in one batch (bounds statement size) */
#define SESSION_DB_ERR_MAX       256   /* error text kept per batch */
#define SESSION_IP_MAX_CHARS     64    /* tenant_session.ip, tenant_login_log.ip */
#define SESSION_UA_MAX_CHARS     512   /* user_agent columns */
#define SESSION_NAME_MAX_CHARS   64    /* tenant_login_log.username, tenant_user.username */
#define SESSION_REVOKED_KEEP_MS  60000 /* a revoked row stays readable this long, then purged */
#define SESSION_LEGACY_TOKEN_MAX 256   /* longest token a legacy writer may have stored */

/* Where a profile keeps its sessions (tenant_session, mpbackend_user_session_token): the
 * table, its columns and conditions, from which session_db.c builds every statement. */
typedef struct session_table session_table;

/* The session table of a conf profile. */
const session_table *session_table_of(int conf_profile);
/* The resolution of its time columns in ms (1, or 1000 for TIMESTAMP columns): session
 * times are made at this resolution so that memory and rows agree. */
int64_t session_table_unit_ms(const session_table *t);
/* Whether s[0..len) may name a session of t: an rbacd token (43 base64url characters),
 * or, where a legacy writer stored tokens as they are, 1..SESSION_LEGACY_TOKEN_MAX
 * printable characters without spaces. Anything else names no session and never
 * reaches the database. */
bool session_table_token_ok(const session_table *t, const char *s, size_t len);

enum session_op_kind {
    SESSION_OP_CREATE = 0,       /* insert a session (CREATE, a successful LOGIN) */
    SESSION_OP_LOGIN_FAILED = 1, /* a failed login: its log row only */
    SESSION_OP_TOUCH = 2,        /* new expiry for a live session */
    SESSION_OP_REVOKE = 3,       /* revoke one session */
    SESSION_OP_REVOKEALL = 4,    /* revoke every live session of a user */
    SESSION_OP_LOOKUP = 5,       /* read-through: one session by hash */
    SESSION_OP_USER = 6,         /* re-read every live session of a user (LIST, sync) */
    SESSION_OP_LOAD = 7,         /* every live session (start-up) */
    SESSION_OP_PURGE = 8,        /* delete rows that expired */
};

typedef struct session_row {
    uint8_t hash[SESSION_HASH_LEN]; /* token_hash */
    uint64_t tenant;                /* tenant_id */
    uint64_t user;                  /* user_id */
    int64_t created_ms;             /* created_at */
    int64_t expires_ms;             /* expires_at */
    int64_t last_seen_ms;           /* last_seen_at */
    uint64_t rowid;                 /* the row's id where the table has one, else 0 */
} session_row;

typedef struct session_rows {
    session_row *v; /* owned array */
    size_t n;       /* rows held */
    size_t cap;     /* rows allocated */
} session_rows;

/* A login attempt to record in tenant_login_log (and, when ok, last_login_at). */
typedef struct session_login_log {
    uint64_t tenant;     /* 0 when no live tenant has the code */
    uint64_t user;       /* 0 when no such user */
    char *username;      /* as presented, made valid UTF-8 and cut to the column; owned */
    int64_t time_ms;     /* when the attempt was decided */
    bool ok;             /* result column */
    const char *message; /* static text: "ok", "wrong password", ... */
} session_login_log;

typedef struct session_op {
    int kind;                          /* enum session_op_kind */
    uint64_t client_id;                /* who waits (client_wait ticket), 0 = nobody */
    int reply;                         /* what to reply (session.c decides) */
    uint8_t hash[SESSION_HASH_LEN];    /* the session concerned */
    uint64_t tenant;                   /* create, revokeall, user: whose */
    uint64_t user;                     /* same */
    int64_t at_ms;                     /* when it was asked (row times derive from it) */
    int64_t expires_ms;                /* create: expiry; touch: new expiry (worker sets it
                                          when ttl_ms is 0) */
    int64_t ttl_ms;                    /* create/touch: lifetime; touch 0 = the row's own */
    int64_t default_ttl_ms;            /* touch: when the row's own cannot be told */
    char *ip;                          /* create: tenant_session.ip (owned, may be NULL) */
    char *ua;                          /* create: tenant_session.user_agent (same) */
    session_login_log *login;          /* a login to log (owned), or NULL */
    size_t max_live;                   /* create: session-max-per-user when it was asked */
    char token[SESSION_TOKEN_LEN + 1]; /* create: the reply; wiped when freed */
    char *arg;                         /* lookup: menu argument to answer with (owned) */
    char *raw;                         /* lookup, touch, revoke on a legacy table: the token as
                                          presented (owned, wiped when freed) */
    size_t rawlen;                     /* its length */
    size_t arglen;                     /* its length */
    size_t argsplit;                   /* lookup for CAN: the domain's length in arg */
    int form;                          /* lookup: MENUS form */
    /* results, set by session_db_run() */
    bool ok;                            /* the database did it (writes: committed) */
    bool found;                         /* touch, revoke, lookup: the session was live */
    bool refused;                       /* create: the user is not live and enabled in the database,
                                           so nothing was inserted */
    uint8_t (*evict)[SESSION_HASH_LEN]; /* create: older sessions its cap revoked (owned) */
    size_t nevict;                      /* entries in evict */
    session_row row;                    /* touch, lookup: the session as stored */
    uint64_t count;                     /* revokeall: revoked; purge: deleted */
    long long limit;                    /* purge: rows deleted at most (purge-batch) */
    session_rows rows;                  /* user, load: the live sessions; create: the user's live
                                           sessions after it committed, oldest first */
    struct session_op *next;            /* queue / batch link */
} session_op;

typedef struct session_batch {
    const session_table *table; /* where the sessions are */
    session_op *head;           /* ops, in queue order */
    size_t n;                   /* how many */
    int64_t now_ms;             /* the clock the batch compares expiries with */
    uint64_t start_seq;         /* loop side: the change sequence when it started */
    /* results */
    uint64_t writes;                   /* write ops committed */
    uint64_t *change_ids;              /* rbac_change ids the committed writes made (owned) */
    size_t nchange_ids, capchange_ids; /* used, allocated */
    uint64_t commits;                  /* transactions committed (1, or more after a split) */
    bool db_error;                     /* some statement failed */
    unsigned last_errno;               /* MariaDB error number of the latest failure */
    char err[SESSION_DB_ERR_MAX];      /* the first failure, for the log */
} session_batch;

/* A zeroed op of kind for client_id (0 = nobody waits). The caller owns it. */
session_op *session_op_new(int kind, uint64_t client_id);
/* Frees op and what it owns, wiping the token. NULL is fine. */
void session_op_free(session_op *op);
/* Whether op changes the database (it then runs in the batch's transaction). */
bool session_op_is_write(const session_op *op);

/* Text bound for a utf8mb4 VARCHAR column: a copy of s[0..len) in which every byte
 * that is not part of valid UTF-8 (and every NUL) became '?', cut after max_chars
 * characters. The caller owns the copy (mem_free). */
char *session_text_clean(const char *s, size_t len, size_t max_chars);
/* Whether s[0..len) is valid UTF-8 without NUL and at most max_chars characters (what
 * may be compared with a column as it is). */
bool session_text_ok(const char *s, size_t len, size_t max_chars);

/* Worker side (the session lane): runs the batch on the worker's connection and fills
 * every op's results. Never fails as a whole: an op that could not be done has
 * ok == false (and the batch says why in err). */
void session_db_run(session_batch *b);

/* ---- Statements other modules run on their own connection (worker threads) ---- */

/* Inside the caller's transaction on m: revokes every live session of user in tenant
 * (USER DISABLE); *revoked gets the count. False on a database error (mysql_errno(m)
 * says which; the caller classifies it). */
bool session_db_revoke_user(MYSQL *m, uint64_t tenant, uint64_t user, long long *revoked)
    __attribute__((warn_unused_result));

/* The tenant_user row a LOGIN names. */
typedef struct session_login_user {
    bool found;                     /* a live user row matched the exact name */
    uint64_t id;                    /* tenant_user.id */
    int status;                     /* tenant_user.status */
    char hash[PASSWD_HASH_MAX + 1]; /* tenant_user.password ("" if too long) */
} session_login_user;

/* Reads the live user username of tenant into *u (u->found false when none). False with
 * err set when the database failed (a lost connection is dropped for reconnecting). */
bool session_db_login_user(MYSQL *m, uint64_t tenant, const char *username, session_login_user *u,
                           char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
