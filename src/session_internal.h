/*
 * What session.c and cmd_session.c share, and nothing else sees: the module's state
 * (one struct, loop thread only), the queue towards the session lane, the validity
 * rule, and the reply encoders both the immediate and the deferred paths use.
 *
 *   cmd_session.c  parses arguments; answers from the store when it can; otherwise
 *                  queues a session_op (client blocked) or, for LOGIN, runs the
 *                  password check on the hashing pool first.
 *   session.c      owns the store and the lane: batches ops, applies results, replies.
 */
#ifndef RBACD_SESSION_INTERNAL_H
#define RBACD_SESSION_INTERNAL_H

#include "idmap.h"
#include "session_db.h"
#include "session_store.h"

#include <stdbool.h>
#include <stdint.h>

struct client;
struct event;
struct login_job;
struct worker_pool;

#define SESSION_TTL_MAX_S        31536000 /* longest TTL a command may ask for (a year) */
#define SESSION_LOGIN_KEY_SECRET 16       /* bytes of the SipHash key (crypto_shorthash) */

/* What a queued op answers its client once the database has spoken. */
enum session_reply {
    SESSION_REPLY_NONE = 0,      /* nobody waits (eviction, sync re-read, purge, load) */
    SESSION_REPLY_TOKEN = 1,     /* CREATE, LOGIN: the new token */
    SESSION_REPLY_WRONGPASS = 2, /* LOGIN refused: after its log row is written */
    SESSION_REPLY_GET = 3,       /* [tenant, user, created_ms, expires_ms] or nil */
    SESSION_REPLY_CANMENU = 4,   /* :1/:0 or -NOSESSION */
    SESSION_REPLY_MENUS = 5,     /* as MENUS, or -NOSESSION */
    SESSION_REPLY_TOUCH = 6,     /* new expires_ms or nil */
    SESSION_REPLY_REVOKE = 7,    /* :1/:0 */
    SESSION_REPLY_REVOKEALL = 8, /* count */
    SESSION_REPLY_LIST = 9,      /* [[id, created_ms, expires_ms], ...] */
    SESSION_REPLY_CAN = 10,      /* :1/:0 or -NOSESSION (profile mpbackend) */
};

typedef struct session_stats {
    uint64_t logins_ok;         /* LOGIN answered with a token */
    uint64_t logins_failed;     /* LOGIN answered WRONGPASS */
    uint64_t logins_locked_out; /* ... of which refused by a lockout, with no password check */
    uint64_t login_lockouts;    /* lockouts started here (a user name or an IP reached its
                                   limit of failures) */
    uint64_t password_checks;   /* LOGIN password checks run (the dummy one included) */
    uint64_t created;           /* sessions committed (CREATE and LOGIN) */
    uint64_t touched;           /* TOUCH committed on a live session */
    uint64_t revoked;           /* sessions revoked by REVOKE, REVOKEALL and the cap */
    uint64_t expired;           /* dropped from memory on expiry (sweep or access) */
    uint64_t read_throughs;     /* lookups sent to the database on a miss */
    uint64_t read_through_hits; /* ... that found a live session */
    uint64_t writes;            /* write ops committed */
    uint64_t commits;           /* write transactions committed */
    uint64_t batches;           /* lane jobs run */
    uint64_t overlapped;        /* batches started while another was in flight */
    uint64_t db_errors;         /* batches in which a statement failed */
    uint64_t purged;            /* expired rows deleted from the database */
    uint64_t purge_failures;    /* purge statements that failed */
    uint64_t purge_runs;        /* purge statements run */
} session_stats;

/* The user variable the session lane's connections set: the session tables' insert
 * triggers write no rbac_change row while it is set (schema/003_triggers.sql). */
#define SESSION_LANE_VAR "@rbacd_session_lane"

/* Batches that run at once, each on its own lane connection: while one commits, the
 * next executes. Two batches never hold ops of the same user or token (start_batch
 * leaves those queued), so they do not wait on each other's locks. */
#define SESSION_LANES 2

typedef struct session_state {
    bool enabled;                /* session_init() ran */
    const session_table *table;  /* where the profile keeps its sessions */
    bool stopping;               /* session_shutdown() began: nothing new is submitted */
    session_store store;         /* live sessions held in memory */
    struct worker_pool *lane;    /* 1 thread: every tenant_session statement, in order */
    struct worker_pool *hashers; /* password checks (LOGIN) */
    session_op *queue_head;      /* ops waiting for the next batch */
    session_op *queue_tail;      /* its last op, for appending */
    size_t queued;               /* ops in the queue */
    size_t batches_in_flight;    /* batches on the lanes (at most SESSION_LANES) */
    session_batch *in_flight[SESSION_LANES]; /* those batches */
    idmap busy_users;                        /* user -> batches in flight holding an op of it */
    idmap busy_hashes;                       /* token hash prefix -> same, for ops naming a token */
    struct event *ev_kick;    /* deferred batch start: after this loop pass's reads */
    bool kick_pending;        /* ev_kick is active */
    idmap reread_queued;      /* user -> 1: a sync re-read of the user is queued */
    uint64_t change_seq;      /* counts changes other programs made (and model loads) */
    idmap changed_at;         /* user -> change_seq of its latest change while batches
                                 were in flight: what a batch that started before it
                                 read of the user may be older, and is not kept */
    uint64_t all_changed_seq; /* ... of every user (the model was reloaded whole) */
    bool loaded;              /* the load of live sessions has finished */
    bool load_queued;         /* a load op is queued or running */
    int64_t load_retry_ms;    /* wall clock of the next load attempt */
    int64_t load_backoff_ms;  /* current retry step */
    int64_t next_purge_ms;    /* wall clock of the next purge */
    size_t logins_running;    /* logins from the command until their row is committed */
    idmap login_keys;         /* SipHash of a lockout key -> its struct login_key: the
                                 logins of the key between their check and their row's
                                 commit, and the ones waiting for them (cmd_session.c) */
    uint8_t login_key_secret[SESSION_LOGIN_KEY_SECRET]; /* the SipHash key (random) */
    size_t logins_waiting;                              /* logins waiting for others of their key */
    uint64_t checks_started;           /* check_seq of the latest LOGIN check submitted */
    struct login_job *checks_head;     /* LOGIN checks on the checkers, oldest first */
    struct login_job *checks_tail;     /* ... the newest */
    struct login_job *logins_settling; /* logins whose row committed while older checks
                                          were running, which may have read before the
                                          commit: they count for their keys until those
                                          are done (cmd_session.c) */
    size_t hasher_threads;             /* size of the hashing pool */
    session_stats stats;
} session_state;

extern session_state sess;

/* Queues op for the lane (ownership moves to the queue) and arranges for a batch to
 * start. Ops with a client_id reply to that client when done (client_resume); the
 * caller has blocked it (client_wait). After session_shutdown() began, op is freed
 * unanswered. */
void session_enqueue(session_op *op);

/* Whether s may be used at now_ms: not expired, and its user and tenant live and
 * enabled in the model. An expired session is removed from the store (s is then
 * gone); a session whose user is not active is kept (it comes back if the user is
 * enabled again before it expires) but does not count. */
bool session_usable(session *s, int64_t now_ms);
/* The wall clock at the session table's resolution (session times are made with it). */
int64_t session_clock_ms(void);
/* session-ttl in milliseconds (it may change at run time). */
int64_t session_default_ttl_ms(void);
/* Whether the user of tenant is active in the model (false without a model). */
bool session_user_active(uint64_t tenant, uint64_t user);

/* Prepares a create op (tenant, user, hash, at_ms, expires_ms set): counts it as
 * pending for its user, records session-max-per-user for the transaction that revokes
 * the oldest beyond it, and moves at_ms (and expires_ms with it) past the user's
 * previous create here, so that one user's sessions have distinct, increasing times. */
void session_plan_create(session_op *op);

/* Called once by session_init() when the pools run: prepares the password checkers
 * (the dummy hash is made on one of them, not on the loop). cmd_session.c. */
void session_login_init(void);

/* At shutdown, before the checkers stop: password checks still queued end at once
 * without hashing (their clients are gone). */
void session_login_cancel(void);
/* At shutdown, once the pools have stopped: logins still waiting for others of their
 * key are answered -DBERR and freed, and so is the key table. */
void session_login_drain(void);

/* A login's row (its create or failed-login op, holding the login in op->ctx) was
 * committed or failed (batch_done's apply phase, before any reply): the attempt no
 * longer counts as in flight for its keys, and logins waiting for it are checked again.
 * Frees the login, or keeps it counted until the checks running since before the
 * commit are done (sess.logins_settling). cmd_session.c. */
void session_login_committed(session_op *op);

/* Reply encoders (loop thread, c's protocol). */
void session_reply_dberr(struct client *c);
void session_reply_nosession(struct client *c);
/* GET/CANMENU/MENUS for a usable session (row), or for none (row == NULL). menu is the
 * resolved menu for CANMENU, form the MENUS form (enum rbac_reply_form). */
/* What a read asks of a session (GET, CANMENU, MENUS, CAN). */
typedef struct session_ask {
    int reply;       /* SESSION_REPLY_GET, _CANMENU, _MENUS or _CAN */
    uint32_t menu;   /* CANMENU: the menu index (RBAC_NONE: none) */
    int form;        /* MENUS: enum rbac_reply_form */
    const char *arg; /* CANMENU: the menu argument; CAN: the domain, then the permission */
    size_t arglen;   /* its length */
    size_t split;    /* CAN: the domain's length in arg */
} session_ask;

void session_reply_read(struct client *c, const session_ask *q, const session_row *row);

#endif
