/*
 * Sessions: the module's state, the session lane, and what happens when the database
 * has answered. Commands (cmd_session.c) answer from the store when it is enough and
 * queue a session_op when the database must be asked or changed; this file turns the
 * queue into batches (group commit), applies each batch's results to the store, and
 * replies to every waiting client.
 *
 *   queue --(no batch in flight; deferred to the end of this loop pass so that every
 *            request read in it joins)--> batch --lane--> session_db_run()
 *   done: apply results in the lane's phase order, then reply in queue order, then
 *         start the next batch with whatever queued meanwhile
 *
 * Applying before replying means that a client unblocked by a reply, whose pipelined
 * requests run at once, already sees every effect of the batch.
 *
 * The store holds only what the database confirmed: a create is added after its
 * commit, a revoke removes after its commit, a failed batch changes nothing (its
 * clients get -DBERR). Live sessions are loaded after every whole model load (at start,
 * RELOAD, a reload the change log asks for); until then, and for sessions other
 * instances make, a miss reads through. A change another program makes to a user's
 * sessions (session_user_changed) drops them at once and queues a re-read; what the
 * batch in flight read of that user is not kept, as it may predate the change.
 * Expiry: lazily on access, and a sweep
 * every cron tick pops what has expired off the heap; expired rows are deleted from
 * the database every SESSION_PURGE_INTERVAL_MS.
 */
#include "session.h"
#include "tracking.h"
#include "client.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "rbac.h"
#include "rbac_reply.h"
#include "server.h"
#include "session_internal.h"
#include "sync.h"
#include "util.h"
#include "worker.h"

#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SESSION_SWEEP_MAX         10000 /* expired sessions dropped per cron tick at most */
#define SESSION_PURGE_INTERVAL_MS 5000  /* how often expired rows are deleted */
#define SESSION_LOAD_RETRY_MIN_MS 500   /* first retry of a failed start-up load */
#define SESSION_LOAD_RETRY_MAX_MS 5000  /* retries never further apart than this */
#define SESSION_WARN_INTERVAL_MS  1000  /* at most one database warning per this long */
#define SESSION_HASHERS_MAX       16    /* password-checking threads at most */
#define SESSION_CHANGED_PRUNE     4096  /* changed_at entries before old ones are dropped */
#define SESSION_SECOND_LANE_MIN   8     /* ops queued before a batch starts beside another */

session_state sess;

static int64_t last_warn_ms; /* when a lane failure was last logged */

int64_t session_clock_ms(void)
{
    int64_t unit = sess.table ? session_table_unit_ms(sess.table) : 1;
    int64_t now = util_now_ms();
    return now - now % unit;
}

int64_t session_default_ttl_ms(void)
{
    return (int64_t)server.conf.session_ttl * 1000;
}

/* ---- validity ---- */

bool session_user_active(uint64_t tenant, uint64_t user)
{
    return server.model && rbac_user_active(server.model, tenant, user);
}

bool session_usable(session *s, int64_t now_ms)
{
    if (now_ms >= s->expires_ms) {
        session_store_remove(&sess.store, s);
        sess.stats.expired++;
        return false;
    }
    return session_user_active(s->tenant, s->user);
}

/* Adds a session read from the database unless it is held already. */
static session *store_row(const session_row *row)
{
    session *s = session_store_find(&sess.store, row->hash);
    if (s)
        return s;
    return session_store_add(&sess.store, row->hash, row->tenant, row->user, row->created_ms,
                             row->expires_ms, row->expires_ms - row->last_seen_ms);
}

/* Drops from memory every session of user that belongs to tenant. */
static size_t drop_user_sessions(uint64_t tenant, uint64_t user)
{
    session_user *u = session_store_user(&sess.store, user);
    if (!u)
        return 0;
    size_t n = 0;
    u->pending_creates++; /* pins u while its list empties */
    for (session *s = u->head, *next; s; s = next) {
        next = s->next;
        if (s->tenant == tenant) {
            session_store_remove(&sess.store, s);
            n++;
        }
    }
    u->pending_creates--;
    session_store_user_release(&sess.store, u);
    return n;
}

/* The change sequence when the batch being applied started (batch_done sets it). */
static uint64_t applying_seq;

/* Whether what the batch being applied read of user may be older than a change another
 * program made after it started (session_user_changed): such reads are not kept, and
 * the re-read the change queued brings the user in instead. */
static bool changed_meanwhile(uint64_t user)
{
    uint64_t seq;
    return sess.all_changed_seq > applying_seq ||
           (idmap_get(&sess.changed_at, user, &seq) && seq > applying_seq);
}

/* Notes a change of user (every user when all) for the batches in flight. */
static void note_change(uint64_t user, bool all)
{
    sess.change_seq++;
    if (!sess.batches_in_flight)
        return; /* every later batch reads after it */
    if (all)
        sess.all_changed_seq = sess.change_seq;
    else
        idmap_put(&sess.changed_at, user, sess.change_seq);
}

/* ---- the per-user cap ---- */

/* The cap itself is kept by the database: a create locks its user's live rows and
 * revokes the oldest beyond session-max-per-user in the same transaction
 * (session_db.c), on whichever instance it runs. Memory follows what the create read
 * back; a re-read of a user (apply_user) that finds more than the cap, left by an
 * instance with a higher one or by another program, revokes the oldest. */
void session_plan_create(session_op *op)
{
    session_user *u = session_store_user_get(&sess.store, op->user);
    op->max_live = (size_t)server.conf.session_max_per_user;
    u->pending_creates++;
    /* "The oldest" is by created_at: sessions a client makes in one millisecond get
     * distinct, increasing times, so that the cap revokes them in the order they were
     * made rather than by hash. */
    if (op->at_ms <= u->last_created_ms && session_table_unit_ms(sess.table) == 1) {
        int64_t shift = u->last_created_ms + 1 - op->at_ms;
        op->at_ms += shift;
        op->expires_ms += shift;
    }
    u->last_created_ms = op->at_ms;
}

static int created_cmp(const void *a, const void *b)
{
    const session_row *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return memcmp(x->hash, y->hash, SESSION_HASH_LEN);
}

/* Revokes the oldest of a user's live sessions (rows, any order; reordered) beyond
 * the cap. */
static void cap_user(session_rows *rows, int64_t now_ms)
{
    size_t max = (size_t)server.conf.session_max_per_user;
    if (rows->n <= max)
        return;
    qsort(rows->v, rows->n, sizeof *rows->v, created_cmp);
    for (size_t i = 0; i < rows->n - max; i++) {
        session *s = session_store_find(&sess.store, rows->v[i].hash);
        if (s && s->revoking)
            continue;
        if (s)
            s->revoking = true;
        session_op *op = session_op_new(SESSION_OP_REVOKE, 0);
        memcpy(op->hash, rows->v[i].hash, SESSION_HASH_LEN);
        op->at_ms = now_ms;
        session_enqueue(op);
    }
}

/* ---- the queue and the lane ---- */

static void batch_job(void *arg)
{
    session_db_run(arg);
}

static void batch_done(void *arg);

/* The map and key that make two batches in flight exclusive for op: its user, or the
 * token it names; NULL for ops that conflict with nothing (failed logins, the load,
 * the purge). */
static idmap *busy_map(const session_op *op, uint64_t *key)
{
    switch (op->kind) {
    case SESSION_OP_CREATE:
    case SESSION_OP_REVOKEALL:
    case SESSION_OP_USER:
        *key = op->user;
        return &sess.busy_users;
    case SESSION_OP_TOUCH:
    case SESSION_OP_REVOKE:
    case SESSION_OP_LOOKUP:
        memcpy(key, op->hash, sizeof *key);
        return &sess.busy_hashes;
    default:
        return NULL;
    }
}

static void busy_add(idmap *m, uint64_t key, int delta)
{
    uint64_t n = 0;
    (void)idmap_get(m, key, &n);
    if (n + (uint64_t)delta == 0)
        idmap_del(m, key);
    else
        idmap_put(m, key, n + (uint64_t)delta);
}

/* Whether op may join the batch being formed: no batch in flight holds its user or
 * token (the batch being formed may: its ops run in order in one transaction). */
static bool op_free(const session_op *op, const idmap *mine)
{
    uint64_t key, n, own = 0;
    idmap *m = busy_map(op, &key);
    if (!m || !idmap_get(m, key, &n))
        return true;
    (void)idmap_get(mine, key, &own);
    return n == own;
}

/* Starts batches while a lane is free and the queue holds ops that may run. */
static void start_batch(void)
{
    while (sess.batches_in_flight < SESSION_LANES && !sess.stopping && sess.queue_head) {
        if (sess.batches_in_flight && sess.queued < SESSION_SECOND_LANE_MIN)
            return; /* few: they join the batch after the one in flight */
        session_batch *b = mem_calloc(1, sizeof *b);
        b->now_ms = session_clock_ms();
        b->table = sess.table;
        b->start_seq = sess.change_seq;
        idmap mine_users, mine_hashes; /* this batch's own counts in the busy maps */
        idmap_init(&mine_users);
        idmap_init(&mine_hashes);
        session_op **tail = &b->head, **link = &sess.queue_head, *last = NULL;
        while (*link && b->n < SESSION_BATCH_MAX) {
            session_op *op = *link;
            uint64_t key;
            idmap *m = busy_map(op, &key);
            idmap *mine = m == &sess.busy_users ? &mine_users : &mine_hashes;
            if (m && !op_free(op, mine)) {
                last = op; /* left queued for a later batch */
                link = &op->next;
                continue;
            }
            *link = op->next;
            sess.queued--;
            if (m) {
                busy_add(m, key, 1);
                busy_add(mine, key, 1);
            }
            if (op->kind == SESSION_OP_USER && !op->client_id)
                idmap_del(&sess.reread_queued, op->user); /* later changes queue a new one */
            op->next = NULL;
            *tail = op;
            tail = &op->next;
            b->n++;
        }
        while (*link) { /* the queue's tail may have moved */
            last = *link;
            link = &last->next;
        }
        sess.queue_tail = last;
        idmap_free(&mine_users);
        idmap_free(&mine_hashes);
        if (b->n == 0) {
            mem_free(b); /* everything queued waits for a batch in flight */
            return;
        }
        if (sess.batches_in_flight)
            sess.stats.overlapped++;
        sess.in_flight[sess.batches_in_flight++] = b;
        worker_submit(sess.lane, batch_job, batch_done, b);
    }
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    sess.kick_pending = false;
    start_batch();
}

void session_enqueue(session_op *op)
{
    if (!sess.enabled || sess.stopping) {
        session_op_free(op);
        return;
    }
    op->next = NULL;
    if (sess.queue_tail)
        sess.queue_tail->next = op;
    else
        sess.queue_head = op;
    sess.queue_tail = op;
    sess.queued++;
    if (sess.batches_in_flight < SESSION_LANES && !sess.kick_pending) {
        sess.kick_pending = true;
        event_active(sess.ev_kick, EV_TIMEOUT, 0);
    }
}

static void queue_load(void);

/* ---- applying results (phase order, see session_db.c) ---- */

static void apply_revokeall(session_op *op)
{
    if (!op->ok)
        return;
    drop_user_sessions(op->tenant, op->user);
    sess.stats.revoked += op->count;
}

static void replace_user_sessions(uint64_t tenant, uint64_t user, session_rows *rows);

static void apply_create(session_op *op)
{
    session_user *u = session_store_user_get(&sess.store, op->user);
    u->pending_creates++; /* pinned while its list is replaced */
    if (op->ok && !op->refused) {
        /* rows: the user's live sessions as the create left them, its own included;
         * the ones its cap revoked are gone from them. */
        if (!changed_meanwhile(op->user))
            replace_user_sessions(op->tenant, op->user, &op->rows);
        sess.stats.revoked += op->nevict;
        sess.stats.created++;
    }
    /* the pin above, and the pending count session_plan_create() took */
    u->pending_creates = u->pending_creates >= 2 ? u->pending_creates - 2 : 0;
    session_store_user_release(&sess.store, u);
}

static void apply_touch(session_op *op)
{
    session *s = session_store_find(&sess.store, op->hash);
    if (!op->ok)
        return;
    if (!op->found) {
        if (s) /* revoked or expired elsewhere */
            session_store_remove(&sess.store, s);
        return;
    }
    sess.stats.touched++;
    if (s) {
        session_store_set_expiry(&sess.store, s, op->expires_ms);
        s->ttl_ms = op->ttl_ms;
    } else {
        (void)session_store_add(&sess.store, op->hash, op->row.tenant, op->row.user,
                                op->row.created_ms, op->expires_ms, op->ttl_ms);
    }
    op->row.expires_ms = op->expires_ms;
    if (!session_user_active(op->row.tenant, op->row.user))
        op->found = false; /* the row lives on, but the session is not usable */
}

static void apply_revoke(session_op *op)
{
    session *s = session_store_find(&sess.store, op->hash);
    if (op->ok && op->found)
        sess.stats.revoked++;
    if (!s)
        return;
    if (op->ok)
        session_store_remove(&sess.store, s);
    else
        s->revoking = false;
}

static void apply_lookup(session_op *op, int64_t now_ms)
{
    if (!op->ok || !op->found)
        return;
    sess.stats.read_through_hits++;
    if (op->row.expires_ms <= now_ms || !session_user_active(op->row.tenant, op->row.user)) {
        op->found = false;
        return;
    }
    if (!changed_meanwhile(op->row.user))
        (void)store_row(&op->row);
}

static int row_cmp(const void *a, const void *b)
{
    return memcmp(((const session_row *)a)->hash, ((const session_row *)b)->hash, SESSION_HASH_LEN);
}

/* The database's live sessions of one user (rows, reordered) replace what memory holds
 * for it. */
static void replace_user_sessions(uint64_t tenant, uint64_t user, session_rows *rows)
{
    if (rows->n)
        qsort(rows->v, rows->n, sizeof *rows->v, row_cmp);
    session_user *u = session_store_user(&sess.store, user);
    if (u) {
        u->pending_creates++;
        for (session *s = u->head, *next; s; s = next) {
            next = s->next;
            session_row key;
            memcpy(key.hash, s->hash, SESSION_HASH_LEN);
            if (s->tenant == tenant &&
                (!rows->n || !bsearch(&key, rows->v, rows->n, sizeof *rows->v, row_cmp)))
                session_store_remove(&sess.store, s);
        }
        u->pending_creates--;
        session_store_user_release(&sess.store, u);
    }
    for (size_t i = 0; i < rows->n; i++) {
        const session_row *row = &rows->v[i];
        session *s = session_store_find(&sess.store, row->hash);
        if (!s) {
            (void)store_row(row);
        } else if (s->expires_ms != row->expires_ms) {
            session_store_set_expiry(&sess.store, s, row->expires_ms);
            if (row->expires_ms > row->last_seen_ms)
                s->ttl_ms = row->expires_ms - row->last_seen_ms;
        }
    }
}

static void apply_user(session_op *op, int64_t now_ms)
{
    if (!op->ok || changed_meanwhile(op->user))
        return;
    replace_user_sessions(op->tenant, op->user, &op->rows);
    cap_user(&op->rows, now_ms);
}

static void apply_load(session_op *op, int64_t now_ms)
{
    sess.load_queued = false;
    if (!op->ok) {
        sess.load_backoff_ms =
            sess.load_backoff_ms ? sess.load_backoff_ms * 2 : SESSION_LOAD_RETRY_MIN_MS;
        if (sess.load_backoff_ms > SESSION_LOAD_RETRY_MAX_MS)
            sess.load_backoff_ms = SESSION_LOAD_RETRY_MAX_MS;
        sess.load_retry_ms = now_ms + sess.load_backoff_ms;
        return;
    }
    if (sess.all_changed_seq > applying_seq) {
        queue_load(); /* read before the model was reloaded: again */
        return;
    }
    for (size_t i = 0; i < op->rows.n; i++)
        if (!changed_meanwhile(op->rows.v[i].user))
            (void)store_row(&op->rows.v[i]);
    sess.load_backoff_ms = 0;
    sess.loaded = true;
    log_notice("sessions: %zu live sessions loaded", op->rows.n);
}

static void apply_op(session_op *op, int64_t now_ms)
{
    if (op->login && op->ctx)
        session_login_committed(op); /* the login's row is in (or failed): not in flight */
    switch (op->kind) {
    case SESSION_OP_REVOKEALL:
        apply_revokeall(op);
        break;
    case SESSION_OP_CREATE:
        apply_create(op);
        break;
    case SESSION_OP_TOUCH:
        apply_touch(op);
        break;
    case SESSION_OP_REVOKE:
        apply_revoke(op);
        break;
    case SESSION_OP_LOOKUP:
        apply_lookup(op, now_ms);
        break;
    case SESSION_OP_USER:
        apply_user(op, now_ms);
        break;
    case SESSION_OP_LOAD:
        apply_load(op, now_ms);
        break;
    case SESSION_OP_PURGE:
        sess.stats.purged += op->ok ? op->count : 0;
        sess.stats.purge_failures += !op->ok;
        sess.stats.purge_runs++;
        if (op->ok && op->count >= (uint64_t)op->limit)
            sess.next_purge_ms = now_ms; /* more to delete: again at the next tick */
        break;
    case SESSION_OP_LOGIN_FAILED:
        if (op->ok && op->login) /* its row, and the lockouts it started */
            sess.stats.login_lockouts +=
                (op->login->lock_user_ms > 0) + (op->login->lock_ip_ms > 0);
        break;
    default:
        break;
    }
}

/* The order session_db_run() acts in; applying in it keeps memory in step. */
static const int apply_order[] = {
    SESSION_OP_REVOKEALL, SESSION_OP_CREATE,       SESSION_OP_TOUCH,
    SESSION_OP_REVOKE,    SESSION_OP_LOGIN_FAILED, SESSION_OP_LOOKUP,
    SESSION_OP_USER,      SESSION_OP_LOAD,         SESSION_OP_PURGE,
};

/* ---- replies ---- */

void session_reply_dberr(client *c)
{
    resp_error(&c->out, "DBERR the session store in the database is unavailable or refused "
                        "the change; nothing changed");
}

void session_reply_nosession(client *c)
{
    resp_error(&c->out, "NOSESSION session unknown, expired or revoked");
}

void session_reply_read(client *c, const session_ask *q, const session_row *row)
{
    if (!row) {
        if (q->reply == SESSION_REPLY_GET)
            resp_null(&c->out, c->proto);
        else
            session_reply_nosession(c);
        return;
    }
    switch (q->reply) {
    case SESSION_REPLY_GET:
        resp_array(&c->out, 4);
        rbac_reply_id(&c->out, row->tenant);
        rbac_reply_id(&c->out, row->user);
        resp_int(&c->out, row->created_ms);
        resp_int(&c->out, row->expires_ms);
        break;
    case SESSION_REPLY_CANMENU:
        resp_int(&c->out,
                 rbac_canmenu(server.model, row->tenant, row->user, q->menu, util_now_ms()));
        break;
    case SESSION_REPLY_CAN:
        resp_int(&c->out, rbac_can(server.model, q->arg, q->split, row->user, q->arg + q->split,
                                   q->arglen - q->split));
        break;
    default:
        rbac_reply_menus(&c->out, server.model, row->tenant, row->user, q->form, util_now_ms());
        break;
    }
}

static void reply_list(client *c, uint64_t tenant, uint64_t user)
{
    int64_t now = util_now_ms();
    session_user *u = session_store_user(&sess.store, user);
    if (!u || !session_user_active(tenant, user)) {
        resp_array(&c->out, 0);
        return;
    }
    size_t n = 0;
    /* Sessions being revoked (REVOKE in flight, or beyond the cap) are not listed. */
    for (const session *s = u->head; s; s = s->next)
        n += s->tenant == tenant && s->expires_ms > now && !s->revoking;
    resp_array(&c->out, n);
    for (const session *s = u->head; s; s = s->next) {
        if (s->tenant != tenant || s->expires_ms <= now || s->revoking)
            continue;
        char id[SESSION_ID_HEX + 1];
        session_hash_hex(s->hash, SESSION_ID_BYTES, id);
        resp_array(&c->out, 3);
        resp_bulk(&c->out, id, SESSION_ID_HEX);
        resp_int(&c->out, s->created_ms);
        resp_int(&c->out, s->expires_ms);
    }
}

static void reply_lookup(client *c, const session_op *op)
{
    session_ask q = {op->reply, RBAC_NONE, op->form, op->arg, op->arglen, op->argsplit};
    if (op->found && op->reply == SESSION_REPLY_CANMENU && op->arg) {
        resp_arg a = {op->arg, op->arglen};
        if (!rbac_reply_parse_menu(server.model, &a, &q.menu))
            q.menu = RBAC_NONE; /* cannot happen: the argument was checked before the lookup */
    }
    if (op->reply == SESSION_REPLY_CAN && !op->arg)
        q.arg = "", q.arglen = q.split = 0; /* an argument too long to keep: a denial */
    session_reply_read(c, &q, op->found ? &op->row : NULL);
}

/* client_reply_fn of every op a client waits for; the batch frees the ops after. */
static void reply_op(client *c, void *arg)
{
    const session_op *op = arg;
    if (!c)
        return;
    if (!op->ok) {
        session_reply_dberr(c);
        return;
    }
    switch (op->reply) {
    case SESSION_REPLY_TOKEN:
        if (op->refused && op->login) {
            /* disabled or deleted after the password check: as for any disabled user */
            resp_error(&c->out, "WRONGPASS invalid credentials");
            sess.stats.logins_failed++;
            break;
        }
        if (op->refused) {
            resp_error(&c->out, "ERR no live, enabled user %llu in live, enabled tenant %llu",
                       (unsigned long long)op->user, (unsigned long long)op->tenant);
            break;
        }
        resp_bulk(&c->out, op->token, SESSION_TOKEN_LEN);
        sess.stats.logins_ok += op->login != NULL;
        break;
    case SESSION_REPLY_WRONGPASS:
        /* The same reply whatever the reason, a lockout included. */
        resp_error(&c->out, "WRONGPASS invalid credentials");
        sess.stats.logins_failed++;
        sess.stats.logins_locked_out += op->login && op->login->refused;
        break;
    case SESSION_REPLY_TOUCH:
        if (op->found)
            resp_int(&c->out, op->expires_ms);
        else
            resp_null(&c->out, c->proto);
        break;
    case SESSION_REPLY_REVOKE:
        resp_int(&c->out, op->found);
        break;
    case SESSION_REPLY_REVOKEALL:
        resp_int(&c->out, (long long)op->count);
        break;
    case SESSION_REPLY_LIST:
        reply_list(c, op->tenant, op->user);
        break;
    default:
        reply_lookup(c, op);
        break;
    }
}

/* A TOUCH of a session this instance did not hold reads it first (cmd_session.c):
 * only a session that is usable here, its user and tenant active, is extended in the
 * database. Queues the touch and returns true when op was such a read and found one. */
static bool touch_after_lookup(const session_op *op)
{
    if (op->kind != SESSION_OP_LOOKUP || op->reply != SESSION_REPLY_TOUCH || !op->ok ||
        !op->found || !client_waiting(op->client_id))
        return false;
    session_op *t = session_op_new(SESSION_OP_TOUCH, op->client_id);
    t->reply = SESSION_REPLY_TOUCH;
    memcpy(t->hash, op->hash, SESSION_HASH_LEN);
    t->at_ms = session_clock_ms();
    t->ttl_ms = op->ttl_ms;
    t->default_ttl_ms = op->default_ttl_ms;
    session_enqueue(t);
    return true;
}

static void note_batch_error(const session_batch *b)
{
    sess.stats.db_errors++;
    int64_t now = util_now_ms();
    if (now - last_warn_ms >= SESSION_WARN_INTERVAL_MS) {
        last_warn_ms = now;
        log_warn("sessions: database: %s", b->err);
    }
}

/* Takes b off the lanes: its ops no longer hold their users and tokens, and changes
 * older than every batch still in flight are forgotten. */
static void batch_finished(session_batch *b)
{
    for (session_op *op = b->head; op; op = op->next) {
        uint64_t key;
        idmap *m = busy_map(op, &key);
        if (m)
            busy_add(m, key, -1);
    }
    size_t k = 0;
    uint64_t oldest = sess.change_seq;
    for (size_t i = 0; i < sess.batches_in_flight; i++) {
        if (sess.in_flight[i] == b)
            continue;
        sess.in_flight[k++] = sess.in_flight[i];
        if (sess.in_flight[k - 1]->start_seq < oldest)
            oldest = sess.in_flight[k - 1]->start_seq;
    }
    sess.batches_in_flight = k;
    if (k == 0 || sess.changed_at.count > SESSION_CHANGED_PRUNE) {
        idmap keep;
        idmap_init(&keep);
        uint64_t user, seq;
        for (size_t it = 0; k && idmap_next(&sess.changed_at, &it, &user, &seq);)
            if (seq > oldest)
                idmap_put(&keep, user, seq);
        idmap_free(&sess.changed_at);
        sess.changed_at = keep;
    }
}

static void batch_done(void *arg)
{
    session_batch *b = arg;
    int64_t now = util_now_ms();
    sess.stats.batches++;
    sess.stats.writes += b->writes;
    sess.stats.commits += b->commits;
    if (b->db_error)
        note_batch_error(b);
    applying_seq = b->start_seq;
    for (size_t p = 0; p < ARRAY_LEN(apply_order); p++)
        for (session_op *op = b->head; op; op = op->next)
            if (op->kind == apply_order[p])
                apply_op(op, now);
    batch_finished(b);
    /* Memory holds the batch's writes: REVISION covers them before anyone is answered. */
    sync_changes_applied(b->change_ids, b->nchange_ids);
    for (session_op *op = b->head; op; op = op->next) {
        if (!op->client_id)
            continue; /* nobody waits */
        if (touch_after_lookup(op))
            continue; /* the wait goes on until the touch commits */
        client_resume(op->client_id, reply_op, op);
    }
    while (b->head) {
        session_op *op = b->head;
        b->head = op->next;
        session_op_free(op);
    }
    mem_free(b->change_ids);
    mem_free(b);
    start_batch();
}

/* ---- life cycle ---- */

static void queue_load(void)
{
    sess.load_queued = true;
    session_enqueue(session_op_new(SESSION_OP_LOAD, 0));
}

static size_t hasher_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > SESSION_HASHERS_MAX ? SESSION_HASHERS_MAX : (size_t)n;
}

static void session_shutdown(void);

/* A session leaves memory: clients that cached a read of it are told (tracking.h). */
static void session_removed(const session *s)
{
    tracking_session_gone(s->hash);
}

bool session_held(const uint8_t *hash, uint64_t *tenant, uint64_t *user)
{
    const session *s = sess.enabled ? session_store_find(&sess.store, hash) : NULL;
    if (!s)
        return false;
    *tenant = s->tenant;
    *user = s->user;
    return true;
}

void session_each_held(uint64_t tenant, uint64_t user, void (*fn)(void *ctx, const uint8_t *hash),
                       void *ctx)
{
    if (!sess.enabled)
        return;
    if (user) {
        session_user *u = session_store_user(&sess.store, user);
        for (session *s = u ? u->head : NULL; s; s = s->next)
            if (s->tenant == tenant)
                fn(ctx, s->hash);
        return;
    }
    for (size_t i = 0; i < sess.store.heap_len; i++)
        if (sess.store.heap[i]->tenant == tenant)
            fn(ctx, sess.store.heap[i]->hash);
}

static bool session_init(void)
{
    sess.table = session_table_of(server.conf.profile);
    session_store_init(&sess.store);
    sess.store.on_remove = session_removed;
    idmap_init(&sess.reread_queued);
    idmap_init(&sess.changed_at);
    idmap_init(&sess.busy_users);
    idmap_init(&sess.busy_hashes);
    sess.ev_kick = event_new(server.base, -1, 0, on_kick, NULL);
    db_params dbp;
    db_params_from_conf(&dbp, &server.conf);
    sess.hasher_threads = hasher_count();
    /* The lane's own session inserts leave no change row (see the insert trigger). */
    dbp.init_vars = SESSION_LANE_VAR " = 1";
    sess.lane = worker_pool_start(server.base, SESSION_LANES, &dbp);
    dbp.init_vars = NULL;
    sess.hashers = sess.lane ? worker_pool_start(server.base, sess.hasher_threads, &dbp) : NULL;
    worker_pool_set_name(sess.lane, "session");
    worker_pool_set_name(sess.hashers, "session_hashers");
    sodium_memzero(&dbp, sizeof dbp);
    if (!sess.ev_kick || !sess.lane || !sess.hashers) {
        log_warn("sessions: cannot start the session lane and the password checkers");
        goto fail;
    }
    sess.enabled = true;
    session_login_init();
    sess.next_purge_ms = util_now_ms() + SESSION_PURGE_INTERVAL_MS;
    return true;
fail:
    session_shutdown();
    return false;
}

static void session_shutdown(void)
{
    sess.stopping = true;
    /* Password checks end first: their completions may still queue ops (dropped now). */
    if (sess.hashers) {
        session_login_cancel();
        worker_pool_stop(sess.hashers);
    }
    if (sess.lane)
        worker_pool_stop(sess.lane);
    sess.hashers = sess.lane = NULL;
    session_login_drain();
    while (sess.queue_head) {
        session_op *op = sess.queue_head;
        sess.queue_head = op->next;
        session_op_free(op);
    }
    sess.queue_tail = NULL;
    sess.queued = 0;
    if (sess.ev_kick)
        event_free(sess.ev_kick);
    sess.ev_kick = NULL;
    session_store_free(&sess.store);
    idmap_free(&sess.reread_queued);
    idmap_free(&sess.changed_at);
    idmap_free(&sess.busy_users);
    idmap_free(&sess.busy_hashes);
    sess.enabled = false;
}

static void session_cron(int64_t now_ms)
{
    if (!sess.enabled || sess.stopping)
        return;
    session *s;
    for (size_t n = 0; n < SESSION_SWEEP_MAX && (s = session_store_first_expiry(&sess.store)) &&
                       s->expires_ms <= now_ms;
         n++) {
        session_store_remove(&sess.store, s);
        sess.stats.expired++;
    }
    if (server.model && !sess.loaded && !sess.load_queued && now_ms >= sess.load_retry_ms)
        queue_load();
    if (now_ms >= sess.next_purge_ms) {
        sess.next_purge_ms = now_ms + SESSION_PURGE_INTERVAL_MS;
        session_op *op = session_op_new(SESSION_OP_PURGE, 0);
        op->limit = server.conf.purge_batch;
        session_enqueue(op);
    }
}

void session_purge_stats(uint64_t *runs, uint64_t *purged, uint64_t *failures)
{
    *runs = sess.stats.purge_runs;
    *purged = sess.stats.purged;
    *failures = sess.stats.purge_failures;
}

static void session_info(buf *out)
{
    const session_stats *st = &sess.stats;
    buf_printf(out,
               "sessions_live:%zu\r\nsession_users:%zu\r\nsessions_loaded:%d\r\n"
               "logins_ok:%llu\r\nlogins_failed:%llu\r\nlogins_locked_out:%llu\r\n"
               "login_lockouts:%llu\r\nlogin_password_checks:%llu\r\n"
               "logins_in_progress:%zu\r\nlogins_waiting:%zu\r\n"
               "sessions_created:%llu\r\nsessions_touched:%llu\r\nsessions_revoked:%llu\r\n"
               "sessions_expired:%llu\r\nsessions_purged:%llu\r\n"
               "session_read_throughs:%llu\r\nsession_read_through_hits:%llu\r\n"
               "session_writes:%llu\r\ngroup_commits:%llu\r\navg_batch_size:%.2f\r\n"
               "session_batches:%llu\r\nsession_batches_overlapped:%llu\r\n"
               "session_db_errors:%llu\r\nsession_queue:%zu\r\n"
               "session_hash_threads:%zu\r\nsession_memory_bytes:%zu\r\n",
               session_store_count(&sess.store), session_store_users(&sess.store),
               sess.loaded ? 1 : 0, (unsigned long long)st->logins_ok,
               (unsigned long long)st->logins_failed, (unsigned long long)st->logins_locked_out,
               (unsigned long long)st->login_lockouts, (unsigned long long)st->password_checks,
               sess.logins_running, sess.logins_waiting, (unsigned long long)st->created,
               (unsigned long long)st->touched, (unsigned long long)st->revoked,
               (unsigned long long)st->expired, (unsigned long long)st->purged,
               (unsigned long long)st->read_throughs, (unsigned long long)st->read_through_hits,
               (unsigned long long)st->writes, (unsigned long long)st->commits,
               st->commits ? (double)st->writes / (double)st->commits : 0.0,
               (unsigned long long)st->batches, (unsigned long long)st->overlapped,
               (unsigned long long)st->db_errors, sess.queued, sess.hasher_threads,
               session_store_bytes(&sess.store));
}

/* The sessions' families: what INFO sessions shows. */
static void session_metrics(buf *out)
{
    const session_stats *st = &sess.stats;
    metrics_gauge(out, "rbacd_sessions", "Live sessions held in memory.",
                  (double)session_store_count(&sess.store));
    metrics_gauge(out, "rbacd_session_users", "Users with a live session in memory.",
                  (double)session_store_users(&sess.store));
    metrics_gauge(out, "rbacd_sessions_loaded",
                  "1 once the sessions were read from the database after the model.",
                  sess.loaded ? 1 : 0);
    metrics_family(out, "rbacd_session_logins_total", "counter",
                   "SESSION LOGIN answers: result ok a token, result failed WRONGPASS.");
    buf labels;
    buf_init(&labels);
    metrics_label(&labels, "result", "ok");
    metrics_sample_u64(out, "rbacd_session_logins_total", &labels, st->logins_ok);
    buf_clear(&labels);
    metrics_label(&labels, "result", "failed");
    metrics_sample_u64(out, "rbacd_session_logins_total", &labels, st->logins_failed);
    buf_free(&labels);
    metrics_gauge(out, "rbacd_session_logins_in_progress", "SESSION LOGIN checks running.",
                  (double)sess.logins_running);
    metrics_counter(out, "rbacd_session_logins_locked_out_total",
                    "SESSION LOGIN refused by a lockout, without a password check.",
                    st->logins_locked_out);
    metrics_counter(out, "rbacd_session_login_lockouts_total",
                    "Lockouts of a user name or an IP that failures here started.",
                    st->login_lockouts);
    metrics_counter(out, "rbacd_session_login_password_checks_total",
                    "SESSION LOGIN password hashes computed.", st->password_checks);
    metrics_gauge(out, "rbacd_session_logins_waiting",
                  "SESSION LOGIN waiting for others of their user name or IP.",
                  (double)sess.logins_waiting);
    metrics_counter(out, "rbacd_sessions_created_total", "Sessions committed (CREATE, LOGIN).",
                    st->created);
    metrics_counter(out, "rbacd_sessions_revoked_total",
                    "Sessions revoked (REVOKE, REVOKEALL, the per-user cap).", st->revoked);
    metrics_counter(out, "rbacd_sessions_expired_total", "Sessions dropped from memory on expiry.",
                    st->expired);
    metrics_counter(out, "rbacd_session_read_throughs_total",
                    "Session lookups sent to the database on a miss.", st->read_throughs);
    metrics_counter(out, "rbacd_session_db_errors_total",
                    "Session batches in which a statement failed.", st->db_errors);
    metrics_gauge(out, "rbacd_session_queue", "Session operations waiting for the lane.",
                  (double)sess.queued);
    metrics_gauge(out, "rbacd_session_memory_bytes", "Memory held by the session store.",
                  (double)session_store_bytes(&sess.store));
}

/* The change log is followed from the new model's revision on: session changes below it
 * may never be fetched (a reload skips what it covers; at start the model and the
 * sessions are read at different instants). So the sessions are read again after the
 * model: until then every read goes to the database, and what the batch in flight read
 * is not kept. */
static void session_model_loaded(void)
{
    if (!sess.enabled || sess.stopping)
        return;
    session *s;
    while ((s = session_store_first_expiry(&sess.store)))
        session_store_remove(&sess.store, s);
    note_change(0, true);
    sess.loaded = false;
    if (!sess.load_queued)
        queue_load();
}

const module session_module = {
    .name = "sessions",
    .init = session_init,
    .shutdown = session_shutdown,
    .cron = session_cron,
    .model_loaded = session_model_loaded,
    .info_section = "sessions",
    .info = session_info,
    .metrics = session_metrics,
};

void session_user_changed(uint64_t tenant, uint64_t user)
{
    if (!sess.enabled || sess.stopping)
        return;
    /* Forgotten at once, so that nothing older than the change is answered from memory
     * once it counts as applied (WAITREV): until the re-read, reads go to the database. */
    drop_user_sessions(tenant, user);
    note_change(user, false);
    uint64_t queued_tenant;
    if (idmap_get(&sess.reread_queued, user, &queued_tenant) && queued_tenant == tenant)
        return; /* a re-read of this user is queued and will see this change too */
    idmap_put(&sess.reread_queued, user, tenant);
    session_op *op = session_op_new(SESSION_OP_USER, 0);
    op->tenant = tenant;
    op->user = user;
    session_enqueue(op);
}

void session_forget_user(uint64_t tenant, uint64_t user)
{
    if (!sess.enabled)
        return;
    sess.stats.revoked += drop_user_sessions(tenant, user);
}
