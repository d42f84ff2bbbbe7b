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

/* The tenant_user row a LOGIN names. */
typedef struct session_login_user {
    bool found;                     /* a live user row matched the exact name */
    uint64_t id;                    /* tenant_user.id */
    int status;                     /* tenant_user.status */
    char hash[PASSWD_HASH_MAX + 1]; /* tenant_user.password ("" if too long) */
    int64_t last_login_ms;          /* tenant_user.last_login_at, 0 = never */
} session_login_user;

/* A login attempt to record in tenant_login_log (and, when ok, last_login_at). */
typedef struct session_login_log {
    uint64_t tenant;      /* 0 when no live tenant has the code */
    uint64_t user;        /* 0 when no such user */
    char *username;       /* as presented, made valid UTF-8 and cut to the column; owned */
    int64_t time_ms;      /* when the attempt was decided */
    bool ok;              /* result column */
    const char *message;  /* static text: "ok", SESSION_LOGIN_MSG_*, ... */
    int refused;          /* enum session_lockout: refused unchecked, by which lockout */
    int64_t lock_user_ms; /* > 0: this failure locks (tenant, username) out until then */
    int64_t lock_ip_ms;   /* > 0: this failure locks the op's ip out until then */
} session_login_log;

/* ---- SESSION LOGIN's abuse limits ----
 *
 * The state is tenant_login_log itself, so every instance on the database sees the same
 * and a restart forgets nothing; there is no table of its own. A key is a (tenant,
 * username as logged) or an IP. Its failures that count are the rows of the messages
 * below (a password was checked and failed, or there was nothing to check it against);
 * for a user name only those after its latest success (tenant_user.last_login_at). The
 * key is locked out while some max failures that count, all within window of each
 * other, have the newest of them less than lockout ago. Attempts refused meanwhile are
 * logged ("locked out (user)", "locked out (ip)") but count for no key, so hammering a
 * locked key does not prolong its lockout, and they are never read: the failures are
 * read through indexes (key, message, login_time) with message IN (those that count).
 * A key stops gathering counted failures once it is locked out, so how many a check
 * reads is bounded by the limits however long an attack goes on. */

/* The tenant_login_log messages of failures that count. */
#define SESSION_LOGIN_MSG_UNKNOWN_TENANT "unknown tenant"
#define SESSION_LOGIN_MSG_UNKNOWN_USER   "unknown user"
#define SESSION_LOGIN_MSG_WRONG_PASSWORD "wrong password"
#define SESSION_LOGIN_MSG_NO_HASH        "no usable password hash"
#define SESSION_LOGIN_MSG_USER_DISABLED  "user disabled"
#define SESSION_LOGIN_MSG_DISABLED       "user or tenant disabled"
/* ... and of failures that do not: refusals, and a client gone before its reply. */
#define SESSION_LOGIN_MSG_LOCKED_USER "locked out (user)"
#define SESSION_LOGIN_MSG_LOCKED_IP   "locked out (ip)"
#define SESSION_LOGIN_MSG_GONE        "client gone before the reply"

/* The limits as configured when the attempt was checked (login-* keys). */
typedef struct session_login_limits {
    uint32_t max_user;  /* failures of one (tenant, username) before a lockout, 0 = none */
    uint32_t max_ip;    /* failures from one IP before a lockout, 0 = none */
    int64_t window_ms;  /* the failures of a lockout fall within this long */
    int64_t lockout_ms; /* a lockout lasts this long after the newest of them */
} session_login_limits;

/* Which lockout refused an attempt. */
enum session_lockout {
    SESSION_LOCKOUT_NONE = 0,
    SESSION_LOCKOUT_USER = 1, /* the (tenant, username) */
    SESSION_LOCKOUT_IP = 2,   /* the client IP */
};

/* What the database says about an attempt's two keys (session_login_decide's input):
 * the failure times that count, newest first, since window + lockout ago. */
typedef struct session_login_facts {
    int64_t last_ok_ms;          /* latest successful login of (tenant, username), 0 = none */
    const int64_t *user_fail_ms; /* failures of (tenant, username), newest first */
    size_t nuser_fail;           /* how many */
    const int64_t *ip_fail_ms;   /* failures from the IP, newest first */
    size_t nip_fail;             /* how many */
} session_login_facts;

/* A LOGIN before its password is checked. The loop fills the question; a password
 * checker reads the user row and the facts and decides (session_db_login_check). The
 * strings belong to the caller and outlive the check. */
typedef struct session_login_check {
    /* asked */
    uint64_t tenant;          /* tenant id by code, 0 when no live tenant has it */
    const char *username;     /* the exact name to look up, NULL when not worth a lookup */
    const char *name;         /* the name as logged: the key of the user limit */
    const char *ip;           /* the IP as logged; NULL or "" = none, no IP limit */
    session_login_limits lim; /* what applies */
    /* read (checker thread) */
    session_login_user user; /* the tenant_user row the name matches exactly */
    /* decided (session_login_decide) */
    int refused;            /* enum session_lockout: refused before any password check */
    bool user_locked;       /* (tenant, username) is locked out */
    bool ip_locked;         /* the IP is locked out */
    int64_t user_until_ms;  /* ... until then (0 when not) */
    int64_t ip_until_ms;    /* ... until then (0 when not) */
    uint32_t user_failures; /* failures of (tenant, username) within the window, at most
                               max_user */
    uint32_t ip_failures;   /* failures from the IP within the window, at most max_ip */
} session_login_check;

/* Decides c from what the database says (f) at now_ms: whether each key is locked out
 * (c->refused names the first that is) and how many of its failures fall within the
 * window. Pure; never fails. */
void session_login_decide(session_login_check *c, const session_login_facts *f, int64_t now_ms);

/* The lockouts a checked attempt's failure starts: when it brings a key's failures
 * within the window to its limit, that key is locked out until at_ms + lockout
 * (*user_ms, *ip_ms; 0 = none). A refusal, a success and a key already locked out
 * start nothing. */
void session_login_lockouts(const session_login_check *c, bool failed, int64_t at_ms,
                            int64_t *user_ms, int64_t *ip_ms);

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
    void *ctx;                         /* the caller's state riding on the op (a LOGIN's) */
    void (*ctx_free)(void *ctx);       /* frees ctx if the op is freed still holding it */
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

/* A LOGIN's check (a password checker's thread): reads c's user row and the failures of
 * its keys as of now_ms, and decides c (session_login_decide). False with err set when
 * the database failed (a lost connection is dropped for reconnecting). */
bool session_db_login_check(MYSQL *m, session_login_check *c, int64_t now_ms, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

#endif
