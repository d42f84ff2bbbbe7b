/*
 * The write-through commands (ROLE, USER, TENANT; category admin) and REVISION /
 * WAITREV (category check), as rows of the command table.
 *
 * A write is one job on the sync lane (sync.h), one transaction:
 *
 *   loop: parse ids, copy arguments, block the client ---------------------------+
 *   lane: SET lock wait, START TRANSACTION                                       |
 *         SELECT MAX(rbac_change.id) -> M0   (opens the read view: see below)    |
 *         check the rows named (locking reads: latest committed, locked)         |
 *         the change (its triggers add rbac_change rows)                         |
 *         INSERT tenant_operation_log (operator = the client's ACL user)         |
 *         SELECT id FROM rbac_change WHERE id > M0  -> exactly this write's ids  |
 *         re-read what changed, LOCK IN SHARE MODE (sync_read.c)                 |
 *         COMMIT                                                                 |
 *   loop: apply the re-read rows, mark the ids applied, reply, unblock <---------+
 *
 * Why "id > M0" yields this transaction's change ids and nobody else's: under
 * REPEATABLE READ the first consistent read fixes the read view; M0 is the highest id
 * in it, so a later consistent read sees above M0 only rows the transaction wrote
 * itself. The checks and the re-read use locking reads instead, which see the latest
 * committed rows, so the state applied to memory is the committed state, not the view.
 *
 * A deadlock (1213), or a row changed since the snapshot read it (1020, raised under
 * innodb_snapshot_isolation), retries the transaction (SYNC_WRITE_ATTEMPTS): InnoDB
 * rolled it back and trying again is likely to succeed. A lock wait timeout (1205) is
 * -DBERR at once: the row is held by a transaction elsewhere that may stay open for
 * long, and retrying would keep the single sync lane (polls, writes, reloads) waiting
 * for it. The lock wait is bounded (SYNC_WRITE_LOCK_WAIT_S), so such a write fails in
 * seconds and everything queued behind it runs. Any other database error is -DBERR,
 * and nothing was applied. While the database is down,
 * worker_db() refuses at once (shared reconnect backoff), so writes fail fast. One case
 * cannot be told apart: a connection lost during COMMIT may or may not have committed;
 * the client gets -DBERR, and if it did commit the change log brings it in like any
 * change made elsewhere.
 */
#include "buf.h"
#include "client.h"
#include "command.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "resp.h"
#include "server.h"
#include "session.h"
#include "sync.h"
#include "sync_internal.h"
#include "util.h"
#include "worker.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_WRITE_ATTEMPTS    3                 /* tries on deadlock / changed record */
#define SYNC_WRITE_LOCK_WAIT_S 2                 /* innodb_lock_wait_timeout of a write */
#define SYNC_WRITE_MAX_MENUS   1000              /* menus in one ROLE GRANT / REVOKE */
#define SYNC_DATETIME_MAX_MS   253402300799999LL /* 9999-12-31 23:59:59.999 UTC */
#define ER_CHECKREAD_NUM       1020 /* record changed since last read (snapshot isolation) */
#define ER_LOCK_DEADLOCK_NUM   1213
#define MS_PER_DAY             86400000LL
#define SYNC_REVOKED_KEEP_S    60 /* a revoked session row stays this long, then is purged */

enum write_op {
    OP_ROLE_GRANT = 0,
    OP_ROLE_REVOKE,
    OP_USER_ADDROLE,
    OP_USER_DELROLE,
    OP_USER_ENABLE,
    OP_USER_DISABLE,
    OP_USER_ADDSTORE,
    OP_USER_DELSTORE,
    OP_USER_DELEGATE,
    OP_USER_UNDELEGATE,
    OP_TENANT_SUBSCRIBE,
    OP_TENANT_ENABLE,
    OP_TENANT_DISABLE,
};

enum write_status {
    WS_OK = 0,      /* committed: reply the number */
    WS_REFUSED = 1, /* -ERR msg: something named does not exist, or not allowed */
    WS_DBERR = 2,   /* -DBERR msg: the database failed; nothing changed */
    WS_RETRY = 3,   /* deadlock or changed record: try the transaction again */
};

typedef struct write_job {
    /* in (copied on the loop) */
    uint64_t client_id;       /* who to answer */
    int op;                   /* enum write_op */
    uint64_t tenant;          /* every write names a tenant */
    uint64_t target;          /* role (ROLE), user (USER), package (SUBSCRIBE) */
    uint64_t other;           /* USER: role, store or delegate user */
    int64_t start_ms, end_ms; /* SUBSCRIBE */
    char **menus;             /* ROLE GRANT/REVOKE: arguments as sent, owned */
    size_t nmenus;            /* entries in menus */
    char operator_name[64];   /* the client's ACL user */
    /* out (filled on the lane) */
    int status;             /* enum write_status */
    char msg[SYNC_ERR_MAX]; /* why, for -ERR / -DBERR */
    long long reply;        /* the integer reply */
    sync_batch batch;       /* rows re-read after the change */
    uint64_t *ids;          /* this write's rbac_change ids, ascending */
    size_t nids, capids;    /* used, allocated */
    bool forget_sessions;   /* USER DISABLE revoked the user's sessions */
} write_job;

/* ------------------------------------------------------ transaction helpers ---- */

/* One attempt's state: the connection and the job. */
typedef struct tx {
    MYSQL *db;    /* the lane's connection */
    write_job *j; /* status and msg are set on failure */
} tx;

/* Whether the database rolled the transaction back for a reason that trying again
 * cures. Not a lock wait timeout: see the top of the file. */
static bool tx_retryable(MYSQL *db)
{
    unsigned e = mysql_errno(db);
    return e == ER_LOCK_DEADLOCK_NUM || e == ER_CHECKREAD_NUM;
}

/* Classifies a failed statement: retry, or -DBERR (and drops a lost connection). */
static void tx_fail(tx *t, const char *what)
{
    t->j->status = tx_retryable(t->db) ? WS_RETRY : WS_DBERR;
    sync_db_error(t->db, what, t->j->msg, sizeof t->j->msg);
}

static void tx_refuse(tx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx_refuse(tx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->j->msg, sizeof t->j->msg, fmt, ap);
    va_end(ap);
    t->j->status = WS_REFUSED;
}

/* Runs a statement returning no rows; *affected (may be NULL) gets its row count. */
static bool tx_exec(tx *t, long long *affected, const char *sql, size_t len)
{
    if (mysql_real_query(t->db, sql, len) != 0) {
        tx_fail(t, "write");
        return false;
    }
    MYSQL_RES *r = mysql_store_result(t->db);
    if (r)
        mysql_free_result(r);
    if (affected)
        *affected = (long long)mysql_affected_rows(t->db);
    return true;
}

static bool tx_execf(tx *t, long long *affected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool tx_execf(tx *t, long long *affected, const char *fmt, ...)
{
    buf sql;
    buf_init(&sql);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&sql, fmt, ap);
    va_end(ap);
    bool ok = tx_exec(t, affected, sql.data, sql.len);
    buf_free(&sql);
    return ok;
}

/* Runs a query and reads the integer columns of its first row into v[0..n); *found says
 * whether there was a row. */
static bool tx_row(tx *t, long long *v, unsigned n, bool *found, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool tx_row(tx *t, long long *v, unsigned n, bool *found, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (mysql_real_query(t->db, sql, strlen(sql)) != 0) {
        tx_fail(t, "check");
        return false;
    }
    MYSQL_RES *res = mysql_store_result(t->db);
    if (!res) {
        tx_fail(t, "check");
        return false;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    *found = row != NULL && mysql_num_fields(res) >= n;
    for (unsigned i = 0; *found && i < n; i++)
        v[i] = sync_col_int(row[i]);
    mysql_free_result(res);
    return true;
}

/* ------------------------------------------------------------------ checks ---- */

static bool check_tenant(tx *t, const char *lock)
{
    long long v[1];
    bool found;
    if (!tx_row(t, v, 1, &found,
                "SELECT status FROM tenant WHERE id = %" PRIu64 " AND deleted_at = 0 %s",
                t->j->tenant, lock))
        return false;
    if (!found)
        tx_refuse(t, "unknown tenant %" PRIu64, t->j->tenant);
    return found;
}

/* A live user of the job's tenant, locked for update; v = {is_admin, status}. */
static bool check_user(tx *t, uint64_t user, long long v[2])
{
    bool found;
    if (!tx_row(t, v, 2, &found,
                "SELECT is_admin, status FROM tenant_user WHERE id = %" PRIu64
                " AND tenant_id = %" PRIu64 " AND deleted_at = 0 FOR UPDATE",
                user, t->j->tenant))
        return false;
    if (!found)
        tx_refuse(t, "unknown user %" PRIu64 " in tenant %" PRIu64, user, t->j->tenant);
    return found;
}

static bool check_role(tx *t, uint64_t role)
{
    long long v[1];
    bool found;
    if (!tx_row(t, v, 1, &found,
                "SELECT status FROM tenant_role WHERE id = %" PRIu64 " AND tenant_id = %" PRIu64
                " AND deleted_at = 0 LOCK IN SHARE MODE",
                role, t->j->tenant))
        return false;
    if (!found)
        tx_refuse(t, "unknown role %" PRIu64 " in tenant %" PRIu64, role, t->j->tenant);
    return found;
}

static bool check_package(tx *t, uint64_t package)
{
    long long v[1];
    bool found;
    if (!tx_row(t, v, 1, &found,
                "SELECT status FROM tenant_package WHERE id = %" PRIu64
                " AND deleted_at = 0 LOCK IN SHARE MODE",
                package))
        return false;
    if (!found)
        tx_refuse(t, "unknown package %" PRIu64, package);
    return found;
}

/* ------------------------------------------------------------------- menus ---- */

typedef struct menu_match {
    uint64_t *ids; /* live menus found (id, perms) pairs */
    char **perms;  /* their perms, owned, NULL if none */
    size_t n, cap; /* used, allocated */
} menu_match;

static void menu_match_free(menu_match *mm)
{
    for (size_t i = 0; i < mm->n; i++)
        mem_free(mm->perms[i]);
    mem_free(mm->ids);
    mem_free(mm->perms);
}

static bool menus_query(tx *t, menu_match *mm)
{
    buf sql, codes;
    buf_init(&sql);
    buf_init(&codes);
    buf_append_str(&sql, "SELECT id, perms FROM tenant_menu WHERE deleted_at = 0 AND (id IN (0");
    for (size_t i = 0; i < t->j->nmenus; i++) {
        const char *a = t->j->menus[i];
        if (util_all_digits(a, strlen(a))) {
            buf_printf(&sql, ",%s", a);
        } else {
            buf_append_str(&codes, ",");
            db_quote(t->db, &codes, a, strlen(a));
        }
    }
    buf_append_str(&sql, ")");
    if (codes.len)
        buf_printf(&sql, " OR perms IN (%s)", codes.data + 1);
    buf_append_str(&sql, ") LOCK IN SHARE MODE");
    bool ok = mysql_real_query(t->db, sql.data, sql.len) == 0;
    buf_free(&sql);
    buf_free(&codes);
    MYSQL_RES *res = ok ? mysql_store_result(t->db) : NULL;
    if (!res) {
        tx_fail(t, "tenant_menu");
        return false;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id;
        if (!sync_col_u64(r[0], &id))
            continue;
        mem_grow((void **)&mm->ids, &mm->cap, mm->n + 1, sizeof *mm->ids);
        mm->perms = mem_realloc(mm->perms, mm->cap * sizeof *mm->perms);
        mm->ids[mm->n] = id;
        mm->perms[mm->n++] = r[1] ? mem_strdup(r[1]) : NULL;
    }
    mysql_free_result(res);
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static size_t u64_sort_unique(uint64_t *v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[w - 1])
            v[w++] = v[i];
    return w;
}

/* Resolves the job's menu arguments (ids or perms codes) to live menu ids, deduplicated,
 * into *out (count *nout, owned by the caller). Refuses on the first unknown one. */
static bool resolve_menus(tx *t, uint64_t **out, size_t *nout)
{
    menu_match mm = {0};
    if (!menus_query(t, &mm))
        return false;
    uint64_t *ids = mem_alloc(t->j->nmenus * sizeof *ids);
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < t->j->nmenus; i++) {
        const char *a = t->j->menus[i];
        bool digits = util_all_digits(a, strlen(a));
        uint64_t want = 0;
        if (digits && !util_parse_u64(a, strlen(a), &want))
            want = 0;
        size_t k = 0;
        while (k < mm.n && !(digits ? mm.ids[k] == want : mm.perms[k] && !strcmp(mm.perms[k], a)))
            k++;
        if (k == mm.n) {
            tx_refuse(t, "unknown menu '%.128s'", a);
            ok = false;
        } else {
            ids[n++] = mm.ids[k];
        }
    }
    menu_match_free(&mm);
    if (!ok) {
        mem_free(ids);
        return false;
    }
    n = u64_sort_unique(ids, n);
    *out = ids;
    *nout = n;
    return true;
}

/* --------------------------------------------------------------- the changes ---- */

/* What a change wants re-read afterwards, and how it is logged. */
typedef struct change {
    sync_key key;      /* re-read after the change */
    uint64_t log_user; /* tenant_operation_log.user_id: the user acted upon, or 0 */
    char target[64];   /* tenant_operation_log.target */
    char detail[256];  /* tenant_operation_log.detail */
} change;

typedef bool change_fn(tx *t, change *ch);

static bool change_role_menus(tx *t, change *ch)
{
    write_job *j = t->j;
    uint64_t *ids = NULL;
    size_t n = 0;
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_role(t, j->target) ||
        !resolve_menus(t, &ids, &n))
        return false;
    buf sql;
    buf_init(&sql);
    if (j->op == OP_ROLE_GRANT) {
        buf_append_str(&sql, "INSERT IGNORE INTO tenant_role_menu (tenant_id, role_id, menu_id) "
                             "VALUES ");
        for (size_t i = 0; i < n; i++)
            buf_printf(&sql, "%s(%" PRIu64 ",%" PRIu64 ",%" PRIu64 ")", i ? "," : "", j->tenant,
                       j->target, ids[i]);
    } else {
        buf_printf(&sql,
                   "DELETE FROM tenant_role_menu WHERE role_id = %" PRIu64 " AND menu_id IN (",
                   j->target);
        for (size_t i = 0; i < n; i++)
            buf_printf(&sql, "%s%" PRIu64, i ? "," : "", ids[i]);
        buf_append_str(&sql, ")");
    }
    bool ok = tx_exec(t, &j->reply, sql.data, sql.len);
    buf_free(&sql);
    ch->key = (sync_key){j->target, j->tenant, SYNC_K_ROLE_MENU};
    snprintf(ch->target, sizeof ch->target, "role:%" PRIu64, j->target);
    size_t off = (size_t)snprintf(ch->detail, sizeof ch->detail, "changed=%lld menus=", j->reply);
    for (size_t i = 0; i < n && off < sizeof ch->detail; i++)
        off += (size_t)snprintf(ch->detail + off, sizeof ch->detail - off, "%s%" PRIu64,
                                i ? "," : "", ids[i]);
    mem_free(ids);
    return ok;
}

/* USER ADDROLE/DELROLE/ADDSTORE/DELSTORE/DELEGATE/UNDELEGATE: one association row. */
typedef struct user_list_desc {
    const char *table;  /* association table */
    const char *column; /* its target column */
    const char *name;   /* the target in the operation log */
    int kind;           /* the user's list re-read afterwards (enum sync_kind) */
    bool add;           /* insert, else delete */
} user_list_desc;

static const user_list_desc user_lists[] = {
    [OP_USER_ADDROLE] = {"tenant_user_role", "role_id", "role", SYNC_K_USER_ROLE, true},
    [OP_USER_DELROLE] = {"tenant_user_role", "role_id", "role", SYNC_K_USER_ROLE, false},
    [OP_USER_ADDSTORE] = {"tenant_user_store", "store_id", "store", SYNC_K_USER_STORE, true},
    [OP_USER_DELSTORE] = {"tenant_user_store", "store_id", "store", SYNC_K_USER_STORE, false},
    [OP_USER_DELEGATE] = {"tenant_user_delegate", "delegate_user_id", "delegate",
                          SYNC_K_USER_DELEGATE, true},
    [OP_USER_UNDELEGATE] = {"tenant_user_delegate", "delegate_user_id", "delegate",
                            SYNC_K_USER_DELEGATE, false},
};

/* The checks of one association write: the user, and the role or delegate it names. */
static bool check_user_list(tx *t)
{
    write_job *j = t->j;
    int kind = user_lists[j->op].kind;
    long long v[2];
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_user(t, j->target, v))
        return false;
    if (kind == SYNC_K_USER_ROLE)
        return check_role(t, j->other);
    if (kind == SYNC_K_USER_DELEGATE && j->other == j->target) {
        tx_refuse(t, "user %" PRIu64 " cannot delegate to itself", j->target);
        return false;
    }
    return kind != SYNC_K_USER_DELEGATE || check_user(t, j->other, v);
}

static bool change_user_list(tx *t, change *ch)
{
    write_job *j = t->j;
    const user_list_desc *l = &user_lists[j->op];
    if (!check_user_list(t))
        return false;
    bool ok = l->add ? tx_execf(t, &j->reply,
                                "INSERT IGNORE INTO %s (tenant_id, user_id, %s) VALUES (%" PRIu64
                                ", %" PRIu64 ", %" PRIu64 ")",
                                l->table, l->column, j->tenant, j->target, j->other)
                     : tx_execf(t, &j->reply,
                                "DELETE FROM %s WHERE user_id = %" PRIu64 " AND %s = %" PRIu64,
                                l->table, j->target, l->column, j->other);
    ch->key = (sync_key){j->target, j->tenant, (uint8_t)l->kind};
    ch->log_user = j->target;
    snprintf(ch->target, sizeof ch->target, "user:%" PRIu64, j->target);
    snprintf(ch->detail, sizeof ch->detail, "%s=%" PRIu64 " changed=%lld", l->name, j->other,
             j->reply);
    return ok;
}

static bool change_user_status(tx *t, change *ch)
{
    write_job *j = t->j;
    bool enable = j->op == OP_USER_ENABLE;
    long long u[2];
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_user(t, j->target, u))
        return false;
    if (!enable && u[0] == 1) {
        tx_refuse(t, "user %" PRIu64 " is a tenant admin and cannot be disabled", j->target);
        return false;
    }
    int status = enable ? 1 : 0;
    if (!tx_execf(t, &j->reply,
                  "UPDATE tenant_user SET status = %d WHERE id = %" PRIu64 " AND status <> %d",
                  status, j->target, status))
        return false;
    long long revoked = 0;
    if (!enable) {
        if (!tx_execf(t, &revoked,
                      "UPDATE tenant_session SET revoked = 1, expires_at = LEAST(expires_at, "
                      "UTC_TIMESTAMP(3) + INTERVAL %d SECOND) WHERE tenant_id = %" PRIu64
                      " AND user_id = %" PRIu64 " AND revoked = 0",
                      SYNC_REVOKED_KEEP_S, j->tenant, j->target))
            return false;
        j->forget_sessions = true;
    }
    ch->key = (sync_key){j->target, j->tenant, SYNC_K_USER};
    ch->log_user = j->target;
    snprintf(ch->target, sizeof ch->target, "user:%" PRIu64, j->target);
    snprintf(ch->detail, sizeof ch->detail, "status=%d changed=%lld sessions_revoked=%lld", status,
             j->reply, revoked);
    return true;
}

static bool change_subscribe(tx *t, change *ch)
{
    write_job *j = t->j;
    if (!check_tenant(t, "FOR UPDATE") || !check_package(t, j->target))
        return false;
    char start[32], end[32];
    db_format_datetime_ms(j->start_ms, start, sizeof start);
    db_format_datetime_ms(j->end_ms, end, sizeof end);
    long long days = (j->end_ms - j->start_ms + MS_PER_DAY - 1) / MS_PER_DAY;
    long long superseded = 0;
    if (!tx_execf(t, &superseded,
                  "UPDATE tenant_subscription SET status = 0 WHERE tenant_id = %" PRIu64
                  " AND status = 1",
                  j->tenant) ||
        !tx_execf(t, NULL,
                  "INSERT INTO tenant_subscription (tenant_id, package_id, start_time, end_time, "
                  "status, price, duration_days) VALUES (%" PRIu64 ", %" PRIu64
                  ", '%s', '%s', 1, 0, %lld)",
                  j->tenant, j->target, start, end, days > INT32_MAX ? (long long)INT32_MAX : days))
        return false;
    j->reply = (long long)mysql_insert_id(t->db);
    ch->key = (sync_key){j->tenant, j->tenant, SYNC_K_SUBS};
    snprintf(ch->target, sizeof ch->target, "tenant:%" PRIu64, j->tenant);
    snprintf(ch->detail, sizeof ch->detail,
             "subscription=%lld package=%" PRIu64 " start=%s end=%s superseded=%lld", j->reply,
             j->target, start, end, superseded);
    return true;
}

static bool change_tenant_status(tx *t, change *ch)
{
    write_job *j = t->j;
    int status = j->op == OP_TENANT_ENABLE ? 1 : 0;
    if (!check_tenant(t, "FOR UPDATE") ||
        !tx_execf(t, &j->reply,
                  "UPDATE tenant SET status = %d WHERE id = %" PRIu64 " AND status <> %d", status,
                  j->tenant, status))
        return false;
    ch->key = (sync_key){j->tenant, j->tenant, SYNC_K_TENANT};
    snprintf(ch->target, sizeof ch->target, "tenant:%" PRIu64, j->tenant);
    snprintf(ch->detail, sizeof ch->detail, "status=%d changed=%lld", status, j->reply);
    return true;
}

/* The commands as data: what runs inside the transaction and how it is logged. */
static const struct {
    const char *module; /* tenant_operation_log.module */
    const char *action; /* tenant_operation_log.action */
    change_fn *fn;      /* the change */
} ops[] = {
    [OP_ROLE_GRANT] = {"role", "grant", change_role_menus},
    [OP_ROLE_REVOKE] = {"role", "revoke", change_role_menus},
    [OP_USER_ADDROLE] = {"user", "addrole", change_user_list},
    [OP_USER_DELROLE] = {"user", "delrole", change_user_list},
    [OP_USER_ENABLE] = {"user", "enable", change_user_status},
    [OP_USER_DISABLE] = {"user", "disable", change_user_status},
    [OP_USER_ADDSTORE] = {"user", "addstore", change_user_list},
    [OP_USER_DELSTORE] = {"user", "delstore", change_user_list},
    [OP_USER_DELEGATE] = {"user", "delegate", change_user_list},
    [OP_USER_UNDELEGATE] = {"user", "undelegate", change_user_list},
    [OP_TENANT_SUBSCRIBE] = {"tenant", "subscribe", change_subscribe},
    [OP_TENANT_ENABLE] = {"tenant", "enable", change_tenant_status},
    [OP_TENANT_DISABLE] = {"tenant", "disable", change_tenant_status},
};

/* ----------------------------------------------------------- the transaction ---- */

static bool log_operation(tx *t, const change *ch)
{
    write_job *j = t->j;
    buf sql;
    buf_init(&sql);
    buf_printf(&sql,
               "INSERT INTO tenant_operation_log (tenant_id, user_id, operator, operation_time, "
               "module, action, target, detail) VALUES (%" PRIu64 ", %" PRIu64 ", ",
               j->tenant, ch->log_user);
    db_quote(t->db, &sql, j->operator_name, strlen(j->operator_name));
    buf_printf(&sql, ", NOW(3), '%s', '%s', ", ops[j->op].module, ops[j->op].action);
    db_quote(t->db, &sql, ch->target, strlen(ch->target));
    buf_append_str(&sql, ", ");
    db_quote(t->db, &sql, ch->detail, strlen(ch->detail));
    buf_append_str(&sql, ")");
    bool ok = tx_exec(t, NULL, sql.data, sql.len);
    buf_free(&sql);
    return ok;
}

/* The ids above m0 visible to this transaction's read view: its own change rows. */
static bool own_change_ids(tx *t, uint64_t m0)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM rbac_change WHERE id > %" PRIu64 " ORDER BY id", m0);
    MYSQL_RES *res = NULL;
    if (mysql_real_query(t->db, sql, strlen(sql)) != 0 || !(res = mysql_store_result(t->db))) {
        tx_fail(t, "rbac_change");
        return false;
    }
    MYSQL_ROW r;
    write_job *j = t->j;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id;
        if (!sync_col_u64(r[0], &id))
            continue;
        mem_grow((void **)&j->ids, &j->capids, j->nids + 1, sizeof *j->ids);
        j->ids[j->nids++] = id;
    }
    mysql_free_result(res);
    return true;
}

static bool tx_begin(tx *t, uint64_t *m0)
{
    /* The standard form of the isolation setting: tx_isolation is deprecated, and
     * transaction_isolation is not known to every supported server version. */
    if (!tx_execf(t, NULL, "SET SESSION innodb_lock_wait_timeout = %d", SYNC_WRITE_LOCK_WAIT_S) ||
        !tx_execf(t, NULL, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
        !tx_execf(t, NULL, "START TRANSACTION"))
        return false;
    /* The first consistent read: it opens the read view own_change_ids() relies on. */
    char sql[] = "SELECT COALESCE(MAX(id), 0) FROM rbac_change";
    if (mysql_real_query(t->db, sql, sizeof sql - 1) != 0) {
        tx_fail(t, "rbac_change");
        return false;
    }
    MYSQL_RES *res = mysql_store_result(t->db);
    if (!res) {
        tx_fail(t, "rbac_change");
        return false;
    }
    MYSQL_ROW r = mysql_fetch_row(res);
    if (!r || !sync_col_u64(r[0], m0))
        *m0 = 0;
    mysql_free_result(res);
    return true;
}

static void write_attempt(MYSQL *db, write_job *j)
{
    tx t = {db, j};
    change ch;
    memset(&ch, 0, sizeof ch);
    uint64_t m0 = 0;
    j->status = WS_OK;
    bool ok = tx_begin(&t, &m0) && ops[j->op].fn(&t, &ch) && log_operation(&t, &ch) &&
              own_change_ids(&t, m0);
    if (ok && !sync_read_state(db, &ch.key, 1, true, &j->batch, j->msg, sizeof j->msg)) {
        j->status = tx_retryable(db) ? WS_RETRY : WS_DBERR;
        ok = false;
    }
    if (ok && !tx_execf(&t, NULL, "COMMIT"))
        ok = false;
    if (!ok) {
        char err[SYNC_ERR_MAX];
        if (!db_exec(db, "ROLLBACK", err, sizeof err))
            sync_db_error(db, "rollback", err, sizeof err);
    }
}

/* Resets what a failed attempt left behind. */
static void write_reset(write_job *j)
{
    sync_batch_free(&j->batch);
    j->nids = 0;
    j->reply = 0;
    j->msg[0] = '\0';
    j->forget_sessions = false;
}

static void write_run(void *arg)
{
    write_job *j = arg;
    for (int attempt = 0; attempt < SYNC_WRITE_ATTEMPTS; attempt++) {
        write_reset(j);
        MYSQL *db = worker_db(j->msg, sizeof j->msg);
        if (!db) {
            j->status = WS_DBERR;
            return;
        }
        write_attempt(db, j);
        sync_db_done();
        if (j->status != WS_RETRY)
            return;
    }
    j->status = WS_DBERR; /* still deadlocking: the message says why */
}

static void write_job_free(write_job *j)
{
    for (size_t i = 0; i < j->nmenus; i++)
        mem_free(j->menus[i]);
    mem_free(j->menus);
    mem_free(j->ids);
    sync_batch_free(&j->batch);
    mem_free(j);
}

/* On the loop, in lane order: memory first, then the reply to c (NULL if it has gone). */
static void write_done(client *c, void *arg)
{
    write_job *j = arg;
    if (j->status == WS_OK) {
        sync_write_applied(&j->batch, j->ids, j->nids);
        if (j->forget_sessions)
            session_forget_user(j->tenant, j->target);
    }
    sync_note_write(j->status == WS_OK, j->status == WS_DBERR, j->msg);
    if (c) {
        if (j->status == WS_OK)
            resp_int(&c->out, j->reply);
        else if (j->status == WS_REFUSED)
            resp_error(&c->out, "ERR %s", j->msg);
        else
            resp_error(&c->out, "DBERR %s", j->msg[0] ? j->msg : "database error");
    }
    write_job_free(j);
}

/* ------------------------------------------------------------------ handlers ---- */

static write_job *job_new(int op)
{
    write_job *j = mem_calloc(1, sizeof *j);
    j->op = op;
    return j;
}

/* Hands the job to the lane and blocks the client until write_done() answers. */
static void submit(client *c, write_job *j)
{
    struct worker_pool *lane = sync_lane();
    if (!lane) {
        resp_error(&c->out, "DBERR the database lane is not running");
        write_job_free(j);
        return;
    }
    j->client_id = c->id;
    snprintf(j->operator_name, sizeof j->operator_name, "%s", c->user);
    command_run_job(c, lane, write_run, write_done, j);
}

static int sub_op(const resp_arg *sub, const char *const *names, const int *opsv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (util_eq_nocase(sub->ptr, sub->len, names[i]))
            return opsv[i];
    return -1;
}

static void roleMenusCommand(client *c, size_t argc, const resp_arg *argv)
{
    static const char *const names[] = {"grant", "revoke"};
    static const int opsv[] = {OP_ROLE_GRANT, OP_ROLE_REVOKE};
    uint64_t tenant, role;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &role))
        return;
    size_t n = argc - 4;
    if (n > SYNC_WRITE_MAX_MENUS) {
        resp_error(&c->out, "ERR at most %d menus per command", SYNC_WRITE_MAX_MENUS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        const resp_arg *a = &argv[4 + i];
        if (util_all_digits(a->ptr, a->len) && !command_parse_id(c, a, &id))
            return;
        if (a->len == 0 || memchr(a->ptr, '\0', a->len)) {
            resp_error(&c->out, "ERR empty or malformed menu argument");
            return;
        }
    }
    write_job *j = job_new(sub_op(&argv[1], names, opsv, 2));
    j->tenant = tenant;
    j->target = role;
    j->menus = mem_calloc(n, sizeof *j->menus);
    j->nmenus = n;
    for (size_t i = 0; i < n; i++)
        j->menus[i] = mem_strndup(argv[4 + i].ptr, argv[4 + i].len);
    submit(c, j);
}

static void userListCommand(client *c, size_t argc, const resp_arg *argv)
{
    static const char *const names[] = {"addrole",  "delrole",  "addstore",
                                        "delstore", "delegate", "undelegate"};
    static const int opsv[] = {OP_USER_ADDROLE,  OP_USER_DELROLE,  OP_USER_ADDSTORE,
                               OP_USER_DELSTORE, OP_USER_DELEGATE, OP_USER_UNDELEGATE};
    UNUSED(argc);
    uint64_t tenant, user, other;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &user) ||
        !command_parse_id(c, &argv[4], &other))
        return;
    write_job *j = job_new(sub_op(&argv[1], names, opsv, ARRAY_LEN(opsv)));
    j->tenant = tenant;
    j->target = user;
    j->other = other;
    submit(c, j);
}

static void userStatusCommand(client *c, size_t argc, const resp_arg *argv)
{
    static const char *const names[] = {"enable", "disable"};
    static const int opsv[] = {OP_USER_ENABLE, OP_USER_DISABLE};
    UNUSED(argc);
    uint64_t tenant, user;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &user))
        return;
    write_job *j = job_new(sub_op(&argv[1], names, opsv, 2));
    j->tenant = tenant;
    j->target = user;
    submit(c, j);
}

static bool parse_ms(client *c, const resp_arg *a, int64_t *out)
{
    long long v;
    if (!util_parse_ll(a->ptr, a->len, &v) || v < 0 || v > SYNC_DATETIME_MAX_MS) {
        resp_error(&c->out,
                   "ERR invalid time '%.*s': expected unix milliseconds between 0 and "
                   "%lld",
                   (int)(a->len > 32 ? 32 : a->len), a->ptr, SYNC_DATETIME_MAX_MS);
        return false;
    }
    *out = v;
    return true;
}

static void tenantSubscribeCommand(client *c, size_t argc, const resp_arg *argv)
{
    UNUSED(argc);
    uint64_t tenant, package;
    int64_t start, end;
    if (!command_parse_id(c, &argv[2], &tenant) || !command_parse_id(c, &argv[3], &package) ||
        !parse_ms(c, &argv[4], &start) || !parse_ms(c, &argv[5], &end))
        return;
    if (start >= end) {
        resp_error(&c->out, "ERR start_ms must be before end_ms");
        return;
    }
    write_job *j = job_new(OP_TENANT_SUBSCRIBE);
    j->tenant = tenant;
    j->target = package;
    j->start_ms = start;
    j->end_ms = end;
    submit(c, j);
}

static void tenantStatusCommand(client *c, size_t argc, const resp_arg *argv)
{
    static const char *const names[] = {"enable", "disable"};
    static const int opsv[] = {OP_TENANT_ENABLE, OP_TENANT_DISABLE};
    UNUSED(argc);
    uint64_t tenant;
    if (!command_parse_id(c, &argv[2], &tenant))
        return;
    write_job *j = job_new(sub_op(&argv[1], names, opsv, 2));
    j->tenant = tenant;
    submit(c, j);
}

static void revisionCommand(client *c, size_t argc, const resp_arg *argv)
{
    UNUSED(argc);
    UNUSED(argv);
    uint64_t rev = sync_revision();
    if (rev <= (uint64_t)INT64_MAX)
        resp_int(&c->out, (long long)rev);
    else
        resp_bulk_u64(&c->out, rev);
}

static void waitrevCommand(client *c, size_t argc, const resp_arg *argv)
{
    UNUSED(argc);
    uint64_t rev;
    long long timeout;
    if (!command_parse_id(c, &argv[1], &rev))
        return;
    if (!util_parse_ll(argv[2].ptr, argv[2].len, &timeout) || timeout < 0) {
        resp_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    sync_waitrev(c, rev, timeout);
}

/* ---------------------------------------------------------------- the rows ---- */

static command role_subcommands[] = {
    COMMAND_ROW("grant", 5, -1, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, roleMenusCommand,
                "Adds menus (ids or perms codes) to a role; replies the number added.",
                "tenant role menu [menu ...]", NULL),
    COMMAND_ROW("revoke", 5, -1, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, roleMenusCommand,
                "Removes menus from a role; replies the number removed.",
                "tenant role menu [menu ...]", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

static command user_subcommands[] = {
    COMMAND_ROW("addrole", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "Gives a user a role: 1 changed, 0 already so.", "tenant user role", NULL),
    COMMAND_ROW("delrole", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "Takes a role from a user: 1 changed, 0 already so.", "tenant user role", NULL),
    COMMAND_ROW("enable", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userStatusCommand,
                "Enables a user: 1 changed, 0 already so.", "tenant user", NULL),
    COMMAND_ROW("disable", 4, 4, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userStatusCommand,
                "Disables a user (not a tenant admin) and revokes its sessions: 1 or 0.",
                "tenant user", NULL),
    COMMAND_ROW("addstore", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "Gives a user a store: 1 changed, 0 already so.", "tenant user store", NULL),
    COMMAND_ROW("delstore", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "Takes a store from a user: 1 or 0.", "tenant user store", NULL),
    COMMAND_ROW("delegate", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "The user inherits the own stores of delegate_user: 1 or 0.",
                "tenant user delegate_user", NULL),
    COMMAND_ROW("undelegate", 5, 5, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, userListCommand,
                "Ends a delegation: 1 or 0.", "tenant user delegate_user", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

static command tenant_subcommands[] = {
    COMMAND_ROW("subscribe", 6, 6, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, tenantSubscribeCommand,
                "Subscribes a tenant to a package; earlier active subscriptions end. Replies the "
                "new subscription id.",
                "tenant package start_ms end_ms", NULL),
    COMMAND_ROW("enable", 3, 3, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, tenantStatusCommand,
                "Enables a tenant: 1 changed, 0 already so.", "tenant", NULL),
    COMMAND_ROW("disable", 3, 3, CMD_WRITE, ACL_CAT_ADMIN, PROF_BITENANT, tenantStatusCommand,
                "Disables a tenant: 1 changed, 0 already so.", "tenant", NULL),
    COMMAND_HELP_ROW,
    COMMAND_END,
};

command cmd_write_table[] = {
    COMMAND_ROW("role", 2, -1, 0, ACL_CAT_ADMIN, PROF_BITENANT, NULL,
                "A container for role changes (written through).", "", role_subcommands),
    COMMAND_ROW("user", 2, -1, 0, ACL_CAT_ADMIN, PROF_BITENANT, NULL,
                "A container for user changes (written through).", "", user_subcommands),
    COMMAND_ROW("tenant", 2, -1, 0, ACL_CAT_ADMIN, PROF_BITENANT, NULL,
                "A container for tenant changes (written through).", "", tenant_subcommands),
    COMMAND_ROW("revision", 1, 1, CMD_FAST, ACL_CAT_CHECK, PROF_ALL, revisionCommand,
                "The highest rbac_change id this instance has applied.", "", NULL),
    COMMAND_ROW("waitrev", 3, 3, 0, ACL_CAT_CHECK, PROF_ALL, waitrevCommand,
                "Waits until this instance has applied a revision: 1, or 0 on timeout.",
                "revision timeout_ms", NULL),
    COMMAND_END,
};
