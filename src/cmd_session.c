/*
 * The SESSION commands (SPEC §2 "Sessions"): argument checks, the answers the store
 * can give at once, and the login flow. Everything that needs the database becomes a
 * session_op for the lane (session.c); the client is blocked until its reply.
 *
 *   GET, CANMENU, MENUS  store hit: answered now (microseconds). Miss, or a session
 *                        that expired here (another instance may have touched it):
 *                        read through, then answered.
 *   TOUCH, REVOKE        always through the database (another instance may have
 *                        revoked or touched it); REVOKEALL, LIST too. A TOUCH of a
 *                        session not held here reads it first: the row is extended
 *                        only when the session is usable (its user and tenant active).
 *   CREATE               a new token; the insert (with the cap's evictions) commits
 *                        before the token is replied. The insert happens only while
 *                        the user is live and enabled in the database (its row is
 *                        locked in the same transaction), else -ERR (LOGIN: WRONGPASS).
 *   LOGIN                loop: tenant by code, copies  --> hashing pool: the user row,
 *                        the password check (or the dummy one)  --> loop: model check,
 *                        then a create (or a failed-login row) through the lane; the
 *                        reply waits for that commit.
 *
 * Secrets: every row but HELP is CMD_SECRET (SLOWLOG keeps "session <sub>" only); no
 * handler echoes a token or password in an error, and nothing here logs either. The
 * password copy is wiped as soon as it is checked. Password checks run on their own pool at a
 * lower scheduling priority, so that a burst of logins leaves the CPU to the loop.
 */
#include "client.h"
#include "command.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "passwd.h"
#include "rbac.h"
#include "rbac_reply.h"
#include "server.h"
#include "session.h"
#include "session_db.h"
#include "session_internal.h"
#include "util.h"
#include "worker.h"

#include <mysql.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SESSION_LOGINS_MAX   4096 /* logins in progress at once (checking, waiting, hashing) */
#define SESSION_HASH_NICE    10   /* scheduling niceness of the password checkers */
#define SESSION_MENU_ARG_MAX 4096 /* longest menu argument kept for a deferred CANMENU */

/* ---- arguments ---- */

static bool parse_ttl(client *c, const resp_arg *a, int64_t *ttl_ms)
{
    long long v;
    if (!util_parse_ll(a->ptr, a->len, &v) || v < 1 || v > SESSION_TTL_MAX_S) {
        resp_error(&c->out, "ERR invalid TTL: expected whole seconds between 1 and %d",
                   SESSION_TTL_MAX_S);
        return false;
    }
    *ttl_ms = (int64_t)v * 1000;
    return true;
}

/* An optional trailing "TTL s" at argv[at]: argc must be at or at + 2. */
static bool parse_opt_ttl(client *c, size_t argc, const resp_arg *argv, size_t at, int64_t *ttl_ms)
{
    if (argc == at)
        return true;
    if (argc != at + 2 || !util_eq_nocase(argv[at].ptr, argv[at].len, "ttl")) {
        command_reply_syntax(c);
        return false;
    }
    return parse_ttl(c, &argv[at + 1], ttl_ms);
}

static bool parse_tenant_user(client *c, const resp_arg *argv, uint64_t *tenant, uint64_t *user)
{
    return command_parse_id(c, &argv[2], tenant) && command_parse_id(c, &argv[3], user);
}

/* Queues op for c and blocks c until session.c replies to it (client_resume). */
static void submit(client *c, session_op *op)
{
    op->client_id = client_wait(c);
    session_enqueue(op);
}

/* ---- CREATE (and the create half of LOGIN) ---- */

static session_op *create_op(uint64_t client_id, uint64_t tenant, uint64_t user, int64_t ttl_ms)
{
    session_op *op = session_op_new(SESSION_OP_CREATE, client_id);
    op->reply = SESSION_REPLY_TOKEN;
    op->tenant = tenant;
    op->user = user;
    op->at_ms = session_clock_ms();
    op->ttl_ms = ttl_ms;
    op->expires_ms = op->at_ms + ttl_ms;
    session_token_new(op->token);
    session_token_hash(op->token, SESSION_TOKEN_LEN, op->hash);
    return op;
}

static void sessionCreateCommand(client *c, size_t argc, const resp_arg *argv)
{
    uint64_t tenant, user;
    int64_t ttl_ms = session_default_ttl_ms();
    if (!parse_tenant_user(c, argv, &tenant, &user) || !parse_opt_ttl(c, argc, argv, 4, &ttl_ms))
        return;
    if (!session_user_active(tenant, user)) {
        resp_error(&c->out, "ERR no live, enabled user %llu in live, enabled tenant %llu",
                   (unsigned long long)user, (unsigned long long)tenant);
        return;
    }
    session_op *op = create_op(c->id, tenant, user, ttl_ms);
    session_plan_create(op);
    submit(c, op);
}

/* ---- GET, CANMENU, MENUS ---- */

/* Whether a token argument may name a session here (else it names none and never
 * reaches the database). */
static bool token_ok(const resp_arg *token)
{
    return session_table_token_ok(sess.table, token->ptr, token->len);
}

/* Keeps the token as presented on an op for a table where a legacy writer stored
 * tokens as they are: the read-through must look for it too. */
static void keep_raw(session_op *op, const resp_arg *token)
{
    if (session_table_unit_ms(sess.table) == 1)
        return; /* tenant_session holds hashes only */
    op->raw = mem_strndup(token->ptr, token->len);
    op->rawlen = token->len;
}

/* Answers q from the store, or reads through. */
static void session_read(client *c, const resp_arg *token, const session_ask *q)
{
    if (!token_ok(token)) {
        session_reply_read(c, q, NULL);
        return;
    }
    uint8_t hash[SESSION_HASH_LEN];
    session_token_hash(token->ptr, token->len, hash);
    session *s = session_store_find(&sess.store, hash);
    int64_t now = session_clock_ms();
    if (s && session_usable(s, now)) {
        session_row row = {.tenant = s->tenant,
                           .user = s->user,
                           .created_ms = s->created_ms,
                           .expires_ms = s->expires_ms};
        session_reply_read(c, q, &row);
        return;
    }
    if (s && session_store_find(&sess.store, hash)) {
        session_reply_read(c, q, NULL); /* held, but its user is not active */
        return;
    }
    session_op *op = session_op_new(SESSION_OP_LOOKUP, c->id);
    op->reply = q->reply;
    op->form = q->form;
    memcpy(op->hash, hash, SESSION_HASH_LEN);
    op->at_ms = now;
    keep_raw(op, token);
    if (q->arg && q->arglen <= SESSION_MENU_ARG_MAX) {
        op->arg = mem_alloc(q->arglen + 1);
        memcpy(op->arg, q->arg, q->arglen);
        op->arg[q->arglen] = '\0';
        op->arglen = q->arglen;
        op->argsplit = q->split;
    }
    sess.stats.read_throughs++;
    submit(c, op);
}

static void sessionGetCommand(client *c, size_t argc, const resp_arg *argv)
{
    session_ask q = {.reply = SESSION_REPLY_GET, .menu = RBAC_NONE};
    session_read(c, &argv[2], &q);
}

static void sessionCanmenuCommand(client *c, size_t argc, const resp_arg *argv)
{
    session_ask q = {.reply = SESSION_REPLY_CANMENU, .arg = argv[3].ptr, .arglen = argv[3].len};
    if (!rbac_reply_parse_menu(server.model, &argv[3], &q.menu)) {
        command_reply_bad_id(c, &argv[3]);
        return;
    }
    session_read(c, &argv[2], &q);
}

static void sessionMenusCommand(client *c, size_t argc, const resp_arg *argv)
{
    session_ask q = {.reply = SESSION_REPLY_MENUS, .menu = RBAC_NONE, .form = RBAC_REPLY_IDS};
    if (argc == 4 && !rbac_reply_parse_form(&argv[3], &q.form)) {
        command_reply_syntax(c);
        return;
    }
    session_read(c, &argv[2], &q);
}

/* SESSION CAN token domain permission (profile mpbackend). */
static void sessionCanCommand(client *c, size_t argc, const resp_arg *argv)
{
    char domain[RBAC_DOMAIN_MAX + 1];
    if (!command_parse_domain(c, &argv[3], domain))
        return;
    buf a;
    buf_init(&a);
    buf_append_str(&a, domain);
    buf_append(&a, argv[4].ptr, argv[4].len);
    session_ask q = {.reply = SESSION_REPLY_CAN,
                     .menu = RBAC_NONE,
                     .arg = a.data,
                     .arglen = a.len,
                     .split = strlen(domain)};
    session_read(c, &argv[2], &q);
    buf_free(&a);
}

/* SESSION LOGIN under profile mpbackend: its schema keeps no passwords. */
static void sessionLoginMpCommand(client *c, size_t argc, const resp_arg *argv)
{
    resp_error(&c->out, "ERR SESSION LOGIN needs profile bitenant: the mpbackend schema keeps no "
                        "passwords; authenticate the user elsewhere, then SESSION CREATE 0 user");
}

/* ---- TOUCH, REVOKE, REVOKEALL, LIST ---- */

static void sessionTouchCommand(client *c, size_t argc, const resp_arg *argv)
{
    int64_t ttl_ms = 0;
    if (!parse_opt_ttl(c, argc, argv, 3, &ttl_ms))
        return;
    if (!token_ok(&argv[2])) {
        resp_null(&c->out, c->proto);
        return;
    }
    session_op *op = session_op_new(SESSION_OP_TOUCH, c->id);
    op->reply = SESSION_REPLY_TOUCH;
    op->at_ms = session_clock_ms();
    keep_raw(op, &argv[2]);
    op->default_ttl_ms = session_default_ttl_ms();
    session_token_hash(argv[2].ptr, argv[2].len, op->hash);
    session *s = session_store_find(&sess.store, op->hash);
    if (s && op->at_ms >= s->expires_ms) {
        session_store_remove(&sess.store, s); /* the database may know a later expiry */
        sess.stats.expired++;
        s = NULL;
    }
    if (s && !session_user_active(s->tenant, s->user)) {
        session_op_free(op);
        resp_null(&c->out, c->proto);
        return;
    }
    op->ttl_ms = ttl_ms ? ttl_ms : s ? s->ttl_ms : 0;
    if (!s) {
        /* Not held here: read it first, and extend it only if its user and tenant are
         * active (session.c queues the touch when the read finds it usable). */
        op->kind = SESSION_OP_LOOKUP;
        sess.stats.read_throughs++;
    }
    submit(c, op);
}

static void sessionRevokeCommand(client *c, size_t argc, const resp_arg *argv)
{
    if (!token_ok(&argv[2])) {
        resp_int(&c->out, 0);
        return;
    }
    session_op *op = session_op_new(SESSION_OP_REVOKE, c->id);
    op->reply = SESSION_REPLY_REVOKE;
    op->at_ms = session_clock_ms();
    keep_raw(op, &argv[2]);
    session_token_hash(argv[2].ptr, argv[2].len, op->hash);
    session *s = session_store_find(&sess.store, op->hash);
    if (s)
        s->revoking = true;
    submit(c, op);
}

/* REVOKEALL and LIST: an op naming a user. */
static void user_command(client *c, const resp_arg *argv, int kind, int reply)
{
    uint64_t tenant, user;
    if (!parse_tenant_user(c, argv, &tenant, &user))
        return;
    session_op *op = session_op_new(kind, c->id);
    op->reply = reply;
    op->tenant = tenant;
    op->user = user;
    op->at_ms = session_clock_ms();
    submit(c, op);
}

static void sessionRevokeallCommand(client *c, size_t argc, const resp_arg *argv)
{
    user_command(c, argv, SESSION_OP_REVOKEALL, SESSION_REPLY_REVOKEALL);
}

static void sessionListCommand(client *c, size_t argc, const resp_arg *argv)
{
    user_command(c, argv, SESSION_OP_USER, SESSION_REPLY_LIST);
}

/* ---- LOGIN ----
 *
 *   command    tenant by code, copies of the arguments
 *   check      on a checker thread: the user row and the failures of the login's user
 *              name and IP (session_db_login_check), decided there
 *   refused    a lockout is in force: no password check; the failed-login row through
 *              the lane, then WRONGPASS (the row counts for no key)
 *   waiting    the key's failures plus its logins in flight reach its limit: the login
 *              waits for those, then is checked again
 *   hashing    the password check (or the dummy one) on a checker thread
 *   done       model check, then a create or a failed-login row through the lane; the
 *              reply waits for that commit
 *
 * In flight: from its check until its row is committed, a login counts for its keys
 * (the user name and the IP, where their limits are on) in sess.login_keys. A check
 * that sees failures + in flight reach a key's limit waits (the ones in flight may
 * all fail); a check submitted after that commit reads the row instead (a login whose
 * row commits while older checks run stays counted until they are done:
 * session_login_committed). So on one instance a burst of parallel attempts never gets
 * more password checks than the limit allows, while parallel logins of one account
 * (which succeed) go through up to the limit at once. Several instances do not see
 * each other's logins in flight: a burst spread over them may overshoot by what the
 * others have in flight.
 */

/* A lockout key with logins in flight, or waiting (sess.login_keys). */
typedef struct login_key {
    uint64_t id;                 /* its SipHash */
    uint32_t inflight;           /* logins between their check and their row's commit */
    int64_t locked_until_ms;     /* a lockout of the key this instance started ends then */
    uint32_t failed;             /* failures of its logins answered since it was made */
    uint32_t unsettled;          /* ... of which still held (rows a check may not see) */
    struct login_job *wait_head; /* logins waiting for those, in arrival order */
    struct login_job *wait_tail; /* its last */
} login_key;

typedef struct login_job {
    uint64_t ticket;              /* who asked (client_wait) */
    uint64_t tenant;              /* tenant id by code, 0 if no live tenant has it */
    char *username;               /* exact copy, only when the name is worth a lookup */
    char *log_name;               /* the name as logged (cleaned, cut to the column) */
    char *password;               /* copy, wiped once checked */
    size_t pwlen;                 /* its length */
    int64_t ttl_ms;               /* lifetime of the session */
    char *ip;                     /* cleaned IP option, or NULL */
    char *ua;                     /* cleaned UA option, or NULL */
    const atomic_bool *cancel;    /* set at shutdown: skip the check, nobody waits */
    session_login_check check;    /* the lane's read and decision */
    uint64_t held[2];             /* the keys it counts in flight for (login_key ids) */
    uint32_t held_limit[2];       /* their limits */
    uint32_t fail_mark[2];        /* their failed - unsettled when it began to count */
    bool failed;                  /* answered with a failure that counts */
    size_t nheld;                 /* how many */
    struct login_job *next;       /* waiting on a key, or settling (sess.logins_settling) */
    uint64_t settle_seq;          /* settling: counted until no check up to this is running */
    uint64_t check_seq;           /* its check's number (sess.checks_started) */
    struct login_job *cprev;      /* sess.checks_head list, while its check runs */
    struct login_job *cnext;      /* ... */
    bool db_ok;                   /* the check could read the database */
    char err[SESSION_DB_ERR_MAX]; /* why not */
    /* results (checker thread) */
    bool cancelled;      /* the check was skipped: the server is stopping */
    bool matched;        /* right password of an enabled user */
    const char *message; /* login log message */
} login_job;

static void login_job_free(login_job *j)
{
    if (j->password) {
        sodium_memzero(j->password, j->pwlen);
        mem_free(j->password);
    }
    mem_free(j->username);
    mem_free(j->log_name);
    mem_free(j->ip);
    mem_free(j->ua);
    sodium_memzero(j, sizeof *j);
    mem_free(j);
}

static _Thread_local bool hasher_niced; /* this checker thread lowered its priority */

/* The one flag the loop shares with the checkers: at shutdown, queued logins end
 * without hashing instead of holding the exit up for seconds. */
static atomic_bool logins_cancelled;

static void hasher_prepare(void)
{
    if (hasher_niced)
        return;
    hasher_niced = true;
    /* On Linux a thread id names one thread for setpriority(). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SESSION_HASH_NICE) != 0)
        log_verbose("sessions: cannot lower the priority of a password checker");
}

static void prewarm_job(void *arg)
{
    hasher_prepare();
    passwd_init();
}

void session_login_init(void)
{
    atomic_store(&logins_cancelled, false);
    _Static_assert(SESSION_LOGIN_KEY_SECRET == crypto_shorthash_KEYBYTES, "SipHash key size");
    crypto_shorthash_keygen(sess.login_key_secret);
    idmap_init(&sess.login_keys);
    worker_submit(sess.hashers, prewarm_job, NULL, NULL);
}

void session_login_cancel(void)
{
    atomic_store(&logins_cancelled, true);
}

/* ---- keys in flight ---- */

/* The key of a user name ('u', tenant, name) or of an IP ('i', ip): SipHash with a
 * random key, since clients choose the names. */
static uint64_t key_id(char kind, uint64_t tenant, const char *s)
{
    buf b;
    buf_init(&b);
    buf_append(&b, &kind, 1);
    buf_append(&b, &tenant, sizeof tenant);
    buf_append_str(&b, s);
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)b.data, b.len, sess.login_key_secret);
    buf_free(&b);
    uint64_t id;
    memcpy(&id, h, sizeof id);
    return id;
}

static login_key *key_find(uint64_t id)
{
    uint64_t v;
    return idmap_get(&sess.login_keys, id, &v) ? (login_key *)(uintptr_t)v : NULL;
}

static login_key *key_get(uint64_t id)
{
    login_key *k = key_find(id);
    if (!k) {
        k = mem_calloc(1, sizeof *k);
        k->id = id;
        idmap_put(&sess.login_keys, id, (uint64_t)(uintptr_t)k);
    }
    return k;
}

static void key_drop_if_idle(login_key *k)
{
    if (k->inflight || k->wait_head)
        return;
    idmap_del(&sess.login_keys, k->id);
    mem_free(k);
}

/* The keys of j's check whose limits are on: user name first, then IP. */
static size_t check_keys(const login_job *j, uint64_t ids[2], uint32_t limits[2],
                         uint32_t counts[2])
{
    const session_login_check *c = &j->check;
    size_t n = 0;
    if (c->lim.max_user) {
        ids[n] = key_id('u', c->tenant, c->name);
        limits[n] = c->lim.max_user;
        counts[n++] = c->user_failures;
    }
    if (c->lim.max_ip && c->ip && c->ip[0]) {
        ids[n] = key_id('i', 0, c->ip);
        limits[n] = c->lim.max_ip;
        counts[n++] = c->ip_failures;
    }
    return n;
}

static void login_check_submit(login_job *j);

/* Lets up to (limit - in flight) of k's waiting logins be checked again; the rest stay
 * in line (a wave per release, not every waiter each time). */
static void key_wake(login_key *k, uint32_t limit)
{
    uint32_t room = limit > k->inflight ? limit - k->inflight : 0;
    while (!sess.stopping && k->wait_head && room--) {
        login_job *w = k->wait_head;
        k->wait_head = w->next;
        if (!k->wait_head)
            k->wait_tail = NULL;
        w->next = NULL;
        sess.logins_waiting--;
        login_check_submit(w);
    }
}

/* j's row is committed (or j ended): it no longer counts in flight for its keys. */
static void keys_release(login_job *j)
{
    for (size_t i = 0; i < j->nheld; i++) {
        login_key *k = key_find(j->held[i]);
        if (!k)
            continue; /* shutdown emptied the table */
        k->inflight--;
        k->unsettled -= j->failed;
        key_wake(k, j->held_limit[i]);
        key_drop_if_idle(k);
    }
    j->nheld = 0;
}

/* j ends without having been counted in flight (its check failed, or a lockout refused
 * it): logins it was woken ahead of must not wait for a release that will not come. */
static void keys_kick(login_job *j)
{
    uint64_t ids[2];
    uint32_t limits[2], counts[2];
    size_t n = j->check.name ? check_keys(j, ids, limits, counts) : 0;
    for (size_t i = 0; i < n; i++) {
        login_key *k = key_find(ids[i]);
        if (k && !k->inflight) {
            key_wake(k, limits[i]);
            key_drop_if_idle(k);
        }
    }
}

/* After j's check (not refused): counts j in flight for its keys, or, when a key has
 * logins in flight and its failures plus those reach its limit, puts j in that key's
 * line and returns false. (With none in flight j goes on whatever the count: a key
 * whose lockout ended while its failures are still within the window gets one check
 * at a time.) */
static bool keys_hold(login_job *j)
{
    uint64_t ids[2];
    uint32_t limits[2], counts[2];
    size_t n = check_keys(j, ids, limits, counts);
    for (size_t i = 0; i < n; i++) {
        login_key *k = key_find(ids[i]);
        if (!k || !k->inflight || counts[i] + k->inflight < limits[i])
            continue;
        if (k->wait_tail) /* a release will come */
            k->wait_tail->next = j;
        else
            k->wait_head = j;
        k->wait_tail = j;
        sess.logins_waiting++;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        login_key *k = key_get(ids[i]);
        k->inflight++;
        j->held[i] = ids[i];
        j->held_limit[i] = limits[i];
        j->fail_mark[i] = k->failed - k->unsettled;
    }
    j->nheld = n;
    return true;
}

/* The lockout j's failure starts for its key held[i] (until_ms, 0 = none), unless one
 * this instance started for the key is still on: the attempts of a burst that reached
 * the limit together start one lockout, not one each. */
static int64_t key_lock_once(const login_job *j, size_t i, int64_t until_ms, int64_t now_ms)
{
    login_key *k = until_ms && i < j->nheld ? key_find(j->held[i]) : NULL;
    if (!k)
        return until_ms;
    if (k->locked_until_ms > now_ms)
        return 0;
    k->locked_until_ms = until_ms;
    return until_ms;
}

/* ---- the steps ---- */

/* j is done: releases its keys and its count. */
static void login_end(login_job *j)
{
    sess.logins_running--;
    keys_release(j);
}

/* The ctx_free of an op dropped unanswered with j (shutdown). */
static void login_job_abandon(void *arg)
{
    login_job *j = arg;
    login_end(j);
    login_job_free(j);
}

static void login_check_job(void *arg);
static void login_check_done(void *arg);

/* Queues j's check on a password checker (with the limits as configured now). */
static void login_check_submit(login_job *j)
{
    const rbacd_conf *conf = &server.conf;
    session_login_check *c = &j->check;
    memset(c, 0, sizeof *c);
    c->tenant = j->tenant;
    c->username = j->username;
    c->name = j->log_name;
    c->ip = j->ip;
    c->lim.max_user = (uint32_t)conf->login_max_failures;
    c->lim.max_ip = (uint32_t)conf->login_max_failures_per_ip;
    c->lim.window_ms = (int64_t)conf->login_failure_window * 1000;
    c->lim.lockout_ms = (int64_t)conf->login_lockout * 1000;
    j->db_ok = false;
    j->check_seq = ++sess.checks_started;
    j->cnext = NULL;
    j->cprev = sess.checks_tail;
    if (sess.checks_tail)
        sess.checks_tail->cnext = j;
    else
        sess.checks_head = j;
    sess.checks_tail = j;
    worker_submit(sess.hashers, login_check_job, login_check_done, j);
}

static void login_job_run(void *arg)
{
    login_job *j = arg;
    if (atomic_load(j->cancel)) {
        j->cancelled = true; /* the server is stopping */
        return;
    }
    hasher_prepare();
    session_login_user *u = &j->check.user;
    if (!u->found) {
        passwd_verify_dummy(j->password, j->pwlen);
        j->message = j->tenant ? SESSION_LOGIN_MSG_UNKNOWN_USER : SESSION_LOGIN_MSG_UNKNOWN_TENANT;
    } else {
        int r = passwd_verify(u->hash, j->password, j->pwlen);
        j->matched = r == PASSWD_MATCH && u->status == 1;
        j->message = r == PASSWD_UNSUPPORTED ? SESSION_LOGIN_MSG_NO_HASH
                     : r == PASSWD_MISMATCH  ? SESSION_LOGIN_MSG_WRONG_PASSWORD
                     : u->status != 1        ? SESSION_LOGIN_MSG_USER_DISABLED
                                             : "ok";
    }
    sodium_memzero(u->hash, sizeof u->hash);
    sodium_memzero(j->password, j->pwlen);
}

/* The check could not be read (or the server is stopping): -DBERR, no log row. */
static void login_dberr_reply(client *c, void *arg)
{
    login_job *j = arg;
    if (c && !sess.stopping) {
        log_client(LOG_LVL_VERBOSE, c, "session login: database: %s", j->err);
        session_reply_dberr(c);
    }
    login_job_free(j);
}

static void login_dberr(login_job *j)
{
    if (!j->nheld)
        keys_kick(j);
    login_end(j);
    client_resume(j->ticket, login_dberr_reply, j);
}

/* The lockouts j's answer starts (l->lock_*_ms), when it is a failure that counts:
 * one that brings a key's failures to its limit, counting those its check read and
 * those of the key's logins answered here that it could not read (still held when it
 * was checked, or answered since: a burst checked together reaches the limit with its
 * last failure), and only one per lockout this instance started. INFO counts them. */
static void login_lockouts(login_job *j, bool counts, session_login_log *l)
{
    session_login_check *c = &j->check;
    bool user_key = c->lim.max_user != 0; /* held[0] is the user name's key */
    for (size_t i = 0; counts && i < j->nheld; i++) {
        login_key *k = key_find(j->held[i]);
        if (!k)
            continue;
        uint32_t *n = user_key && i == 0 ? &c->user_failures : &c->ip_failures;
        *n += k->failed - j->fail_mark[i];
        k->failed++;
        k->unsettled++;
        j->failed = true;
    }
    session_login_lockouts(c, counts, l->time_ms, &l->lock_user_ms, &l->lock_ip_ms);
    l->lock_user_ms = key_lock_once(j, 0, l->lock_user_ms, l->time_ms);
    l->lock_ip_ms = key_lock_once(j, user_key ? 1 : 0, l->lock_ip_ms, l->time_ms);
}

/* Queues the op that answers j (loop thread): a create when ok, else the failed-login
 * row, with the lockouts a failure starts. The wait goes on: the client's reply comes
 * from session.c once that op is committed, and j rides on the op until then
 * (session_login_committed). */
static void login_finish(login_job *j, bool ok, const char *message)
{
    bool waiting = client_waiting(j->ticket);
    bool gone = ok && !waiting; /* the password was right: a failure that does not count */
    if (gone) {
        ok = false;
        message = SESSION_LOGIN_MSG_GONE;
    }
    session_op *op;
    if (ok) {
        op = create_op(j->ticket, j->tenant, j->check.user.id, j->ttl_ms);
        session_plan_create(op);
    } else {
        op = session_op_new(SESSION_OP_LOGIN_FAILED, waiting ? j->ticket : 0);
        op->reply = SESSION_REPLY_WRONGPASS;
    }
    op->ip = j->ip;
    op->ua = j->ua;
    j->ip = j->ua = NULL;
    session_login_log *l = op->login = mem_calloc(1, sizeof *op->login);
    l->tenant = j->tenant;
    l->user = j->check.user.found ? j->check.user.id : 0;
    l->username = j->log_name;
    j->log_name = NULL;
    l->time_ms = util_now_ms();
    l->ok = ok;
    l->message = message;
    l->refused = j->check.refused;
    login_lockouts(j, !ok && !gone, l);
    j->check.name = j->check.ip = NULL; /* moved to the op */
    log_debug("session login: tenant %llu user %llu: %s", (unsigned long long)l->tenant,
              (unsigned long long)l->user, message);
    if (l->lock_user_ms || l->lock_ip_ms)
        log_verbose("session login: tenant %llu: a lockout starts (%s%s)",
                    (unsigned long long)l->tenant, l->lock_user_ms ? "user name" : "",
                    l->lock_ip_ms ? (l->lock_user_ms ? ", ip" : "ip") : "");
    op->ctx = j;
    op->ctx_free = login_job_abandon;
    session_enqueue(op); /* c stays blocked until the row is committed */
}

void session_login_committed(session_op *op)
{
    login_job *j = op->ctx;
    op->ctx = NULL;
    if (!sess.checks_head || !j->nheld) {
        login_end(j); /* every later check reads its row */
        login_job_free(j);
        return;
    }
    /* A check running since before this commit may have read j's keys without its row:
     * j counts for them until those checks are done (login_settle), lest one miss it
     * both in the database and in flight. */
    sess.logins_running--;
    j->settle_seq = sess.checks_started;
    j->next = sess.logins_settling;
    sess.logins_settling = j;
}

/* After a check is done: the logins settling for checks no longer running stop
 * counting for their keys. */
static void login_settle(void)
{
    uint64_t oldest = sess.checks_head ? sess.checks_head->check_seq : UINT64_MAX;
    for (login_job **link = &sess.logins_settling; *link;) {
        login_job *j = *link;
        if (j->settle_seq >= oldest) {
            link = &j->next;
            continue;
        }
        *link = j->next;
        j->next = NULL;
        keys_release(j);
        login_job_free(j);
    }
}

/* The password was checked (loop thread). */
static void login_job_done(void *arg)
{
    login_job *j = arg;
    sess.stats.password_checks += !j->cancelled;
    if (sess.stopping || j->cancelled) {
        login_dberr(j);
        return;
    }
    bool ok = j->matched;
    const char *message = j->message;
    if (ok && !session_user_active(j->tenant, j->check.user.id)) {
        ok = false;
        message = SESSION_LOGIN_MSG_DISABLED;
    }
    login_finish(j, ok, message);
}

static void login_check_decide(login_job *j)
{
    if (!j->db_ok || j->cancelled || sess.stopping) {
        sodium_memzero(j->check.user.hash, sizeof j->check.user.hash);
        login_dberr(j);
        return;
    }
    if (j->check.refused) {
        /* Counted for no key: logins it was woken ahead of go on. */
        sodium_memzero(j->check.user.hash, sizeof j->check.user.hash);
        keys_kick(j);
        login_finish(j, false,
                     j->check.refused == SESSION_LOCKOUT_USER ? SESSION_LOGIN_MSG_LOCKED_USER
                                                              : SESSION_LOGIN_MSG_LOCKED_IP);
        return;
    }
    if (!keys_hold(j)) {
        sodium_memzero(j->check.user.hash, sizeof j->check.user.hash);
        return; /* waits for the key's logins in flight, then is checked again */
    }
    worker_submit(sess.hashers, login_job_run, login_job_done, j);
}

/* The check: the user row and the failures of j's keys (checker thread). */
static void login_check_job(void *arg)
{
    login_job *j = arg;
    if (atomic_load(j->cancel)) {
        j->cancelled = true; /* the server is stopping */
        return;
    }
    hasher_prepare();
    MYSQL *m = worker_db(j->err, sizeof j->err);
    j->db_ok = m && session_db_login_check(m, &j->check, util_now_ms(), j->err, sizeof j->err);
}

/* j's check is done (loop thread): a refusal goes straight to its failed-login row, a
 * login whose key is busy waits, the others go on to their password check. */
static void login_check_done(void *arg)
{
    login_job *j = arg;
    if (j->cprev)
        j->cprev->cnext = j->cnext;
    else
        sess.checks_head = j->cnext;
    if (j->cnext)
        j->cnext->cprev = j->cprev;
    else
        sess.checks_tail = j->cprev;
    j->cprev = j->cnext = NULL;
    login_check_decide(j);
    login_settle();
}

void session_login_drain(void)
{
    uint64_t id, v;
    for (size_t it = 0; idmap_next(&sess.login_keys, &it, &id, &v);) {
        login_key *k = (login_key *)(uintptr_t)v;
        while (k->wait_head) {
            login_job *j = k->wait_head;
            k->wait_head = j->next;
            sess.logins_waiting--;
            sess.logins_running--;
            client_resume(j->ticket, login_dberr_reply, j);
        }
        mem_free(k);
    }
    idmap_free(&sess.login_keys);
    idmap_init(&sess.login_keys);
    while (sess.logins_settling) {
        login_job *j = sess.logins_settling;
        sess.logins_settling = j->next;
        login_job_free(j);
    }
}

/* Reads the LOGIN options from argv[5] on into j; replies the error itself. */
static bool parse_login_options(client *c, size_t argc, const resp_arg *argv, login_job *j)
{
    for (size_t i = 5; i < argc; i += 2) {
        if (i + 1 >= argc) {
            command_reply_syntax(c);
            return false;
        }
        const resp_arg *opt = &argv[i], *val = &argv[i + 1];
        if (util_eq_nocase(opt->ptr, opt->len, "ttl")) {
            if (!parse_ttl(c, val, &j->ttl_ms))
                return false;
        } else if (util_eq_nocase(opt->ptr, opt->len, "ip")) {
            mem_free(j->ip);
            j->ip = session_text_clean(val->ptr, val->len, SESSION_IP_MAX_CHARS);
        } else if (util_eq_nocase(opt->ptr, opt->len, "ua")) {
            mem_free(j->ua);
            j->ua = session_text_clean(val->ptr, val->len, SESSION_UA_MAX_CHARS);
        } else {
            command_reply_syntax(c);
            return false;
        }
    }
    return true;
}

static void sessionLoginCommand(client *c, size_t argc, const resp_arg *argv)
{
    const resp_arg *code = &argv[2], *name = &argv[3], *pass = &argv[4];
    login_job *j = mem_calloc(1, sizeof *j);
    j->ttl_ms = session_default_ttl_ms();
    if (!parse_login_options(c, argc, argv, j)) {
        login_job_free(j);
        return;
    }
    if (sess.logins_running >= SESSION_LOGINS_MAX) {
        resp_error(&c->out, "ERR too many logins in progress, try again later");
        login_job_free(j);
        return;
    }
    j->cancel = &logins_cancelled;
    if (server.model && !rbac_tenant_by_code(server.model, code->ptr, code->len, &j->tenant))
        j->tenant = 0;
    if (session_text_ok(name->ptr, name->len, SESSION_NAME_MAX_CHARS))
        j->username = mem_strndup(name->ptr, name->len);
    j->log_name = session_text_clean(name->ptr, name->len, SESSION_NAME_MAX_CHARS);
    /* Past PASSWD_MAX_LEN a password never matches: a bounded copy keeps it over the
     * limit without holding megabytes per queued login. */
    j->pwlen = pass->len <= PASSWD_MAX_LEN ? pass->len : PASSWD_MAX_LEN + 1;
    j->password = mem_alloc(j->pwlen + 1);
    memcpy(j->password, pass->ptr, j->pwlen);
    j->password[j->pwlen] = '\0';
    sess.logins_running++;
    j->ticket = client_wait(c);
    login_check_submit(j);
}

/* ---- the rows ---- */

static command session_subcommands[] = {
    COMMAND_ROW("login", 5, -1, CMD_WRITE | CMD_SECRET, ACL_CAT_SESSION, PROF_BITENANT,
                sessionLoginCommand,
                "Checks a tenant user's password and starts a session: the token, or WRONGPASS.",
                "tenant_code username password [TTL s] [IP addr] [UA agent]", NULL),
    COMMAND_ROW("create", 4, 6, CMD_WRITE | CMD_SECRET, ACL_CAT_ADMIN, PROF_ALL,
                sessionCreateCommand,
                "Starts a session for a user authenticated elsewhere: the token.",
                "tenant user [TTL s]", NULL),
    COMMAND_ROW("get", 3, 3, CMD_FAST | CMD_SECRET | CMD_TRACK_SESSION, ACL_CAT_SESSION, PROF_ALL,
                sessionGetCommand, "The session's [tenant, user, created_ms, expires_ms], or nil.",
                "token", NULL),
    COMMAND_ROW("touch", 3, 5, CMD_WRITE | CMD_SECRET | CMD_TRACK_SESSION, ACL_CAT_SESSION,
                PROF_ALL, sessionTouchCommand, "Extends a session: the new expires_ms, or nil.",
                "token [TTL s]", NULL),
    COMMAND_ROW("canmenu", 4, 4, CMD_FAST | CMD_SECRET | CMD_TRACK_SESSION | CMD_TRACK_SESSION_USER,
                ACL_CAT_SESSION, PROF_BITENANT, sessionCanmenuCommand,
                "Whether the session's user may open a menu: 1 or 0, or NOSESSION.", "token menu",
                NULL),
    COMMAND_ROW("menus", 3, 4, CMD_SECRET | CMD_TRACK_SESSION | CMD_TRACK_SESSION_USER,
                ACL_CAT_SESSION, PROF_BITENANT, sessionMenusCommand,
                "The menus of the session's user, as MENUS, or NOSESSION.", "token [CODES|TREE]",
                NULL),
    COMMAND_ROW("revoke", 3, 3, CMD_WRITE | CMD_SECRET, ACL_CAT_SESSION, PROF_ALL,
                sessionRevokeCommand, "Ends a session: 1 if a live session was revoked, else 0.",
                "token", NULL),
    COMMAND_ROW("revokeall", 4, 4, CMD_WRITE | CMD_SECRET, ACL_CAT_SESSION, PROF_ALL,
                sessionRevokeallCommand, "Ends every session of a user: how many.", "tenant user",
                NULL),
    COMMAND_ROW("list", 4, 4, CMD_SECRET, ACL_CAT_SESSION, PROF_ALL, sessionListCommand,
                "The user's live sessions: [id, created_ms, expires_ms] each.", "tenant user",
                NULL),
    COMMAND_ROW("can", 5, 5, CMD_FAST | CMD_SECRET | CMD_TRACK_SESSION | CMD_TRACK_SESSION_USER,
                ACL_CAT_SESSION, PROF_MPBACKEND, sessionCanCommand,
                "Whether the session's user holds a permission in a domain: 1 or 0, or NOSESSION.",
                "token domain permission", NULL),
    COMMAND_ROW("login", 2, -1, CMD_SECRET | CMD_LOADING, ACL_CAT_SESSION, PROF_MPBACKEND,
                sessionLoginMpCommand,
                "Not in profile mpbackend (its schema keeps no passwords): use SESSION CREATE.", "",
                NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

command cmd_session_table[] = {
    COMMAND_ROW("session", 2, -1, CMD_SECRET, ACL_CAT_SESSION, PROF_ALL, NULL,
                "A container for login session commands.", "", session_subcommands),
    COMMAND_END,
};
