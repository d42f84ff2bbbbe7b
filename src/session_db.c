/*
 * The session lane's statements. One batch = at most one write transaction, then the
 * reads. Inside the transaction the phases run in a fixed order, and session.c applies
 * results in the same order:
 *
 *   0 users      SELECT ... FOR UPDATE NOWAIT of the users that get a session: each
 *                must be live and enabled in the database, and holding its row keeps
 *                USER DISABLE (which locks it too) from revoking between the check and
 *                the insert, and orders the creates of one user across instances;
 *                then the change-log mark, the transaction's first consistent read,
 *                so that its read view opens with those users held
 *   1 REVOKEALL  UPDATE per user (the count is the reply)
 *   2 CREATE     for all creates at once: read their users' live rows oldest first,
 *                plan the cap in memory, one multi-row INSERT, one UPDATE revoking
 *                what the cap pushed out (see "phase 2" below)
 *   3 TOUCH      SELECT ... FOR UPDATE of every touched or revoked hash (which are
 *      REVOKE    live), one UPDATE with CASE for the touches, one UPDATE for the
 *                revokes found live
 *   4 logins     one multi-row INSERT into tenant_login_log
 *   COMMIT
 *   last_login_at of the successful logins: its own short transaction, best effort
 *                (rows another transaction holds are skipped, a failure only logged),
 *                so that a tenant_user row locked elsewhere cannot fail the batch
 *   5 reads      read-through (one SELECT ... IN), per-user re-reads, the start-up
 *                load (streamed), the purge
 *
 * A batch that fails on a refused statement (a lock held elsewhere, a deadlock, a bad
 * row) is run again one write at a time, so one op cannot fail its neighbours. Phase 0
 * never waits for a lock: a user row held elsewhere fails the attempt at once rather
 * than holding the lane (and every session command queued behind it) for the lock
 * wait; a write run alone tries that lock SESSION_USER_LOCK_TRIES times.
 *
 * Hashes travel as hex literals (X'..'), times as UTC DATETIME(3) literals made from
 * the loop's clock, text through mysql_real_escape_string. A revoked row keeps
 * revoked = 1 and gets its expiry capped at SESSION_REVOKED_KEEP_MS from now, so that
 * the purge (an index range on expires_at) removes it a minute later.
 */
#include "session_db.h"
#include "buf.h"
#include "conf.h"
#include "dal.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "util.h"
#include "worker.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SQL_ROWS_PER_INSERT      256   /* rows in one multi-row INSERT */
#define SESSION_USER_LOCK_TRIES  5     /* a write run alone: tries of its user lock */
#define SESSION_USER_LOCK_GAP_US 20000 /* pause between those tries */

enum txn_result {
    TXN_OK = 0,      /* committed */
    TXN_REFUSED = 1, /* a statement was refused; rolled back */
    TXN_LOST = 2,    /* the connection failed */
};

/* ---- ops ---- */

session_op *session_op_new(int kind, uint64_t client_id)
{
    session_op *op = mem_calloc(1, sizeof *op);
    op->kind = kind;
    op->client_id = client_id;
    return op;
}

void session_op_free(session_op *op)
{
    if (!op)
        return;
    mem_free(op->ip);
    mem_free(op->ua);
    if (op->login) {
        mem_free(op->login->username);
        mem_free(op->login);
    }
    mem_free(op->evict);
    mem_free(op->arg);
    if (op->raw) {
        sodium_memzero(op->raw, op->rawlen);
        mem_free(op->raw);
    }
    mem_free(op->rows.v);
    if (op->ctx && op->ctx_free)
        op->ctx_free(op->ctx);
    sodium_memzero(op, sizeof *op);
    mem_free(op);
}

bool session_op_is_write(const session_op *op)
{
    return op->kind <= SESSION_OP_REVOKEALL;
}

/* ---- text for VARCHAR columns ---- */

/* Length of the UTF-8 sequence starting s[0..n), 0 when it is not valid (overlong
 * forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return len;
}

char *session_text_clean(const char *s, size_t len, size_t max_chars)
{
    buf out;
    buf_init(&out);
    buf_append(&out, "", 0);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, chars = 0; i < len && chars < max_chars; chars++) {
        size_t k = p[i] ? utf8_seq(p + i, len - i) : 0;
        if (k == 0) {
            buf_append(&out, "?", 1);
            i++;
        } else {
            buf_append(&out, p + i, k);
            i += k;
        }
    }
    if (!out.data)
        return mem_strdup("");
    return out.data; /* the buffer's storage is the caller's now */
}

bool session_text_ok(const char *s, size_t len, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        size_t k = p[i] ? utf8_seq(p + i, len - i) : 0;
        if (k == 0 || chars >= max_chars)
            return false;
        i += k;
    }
    return true;
}

/* ---- the session tables ---- */

/* Where a profile keeps its sessions, as data: every statement below is built from it. */
struct session_table {
    const char *table;       /* the table */
    const char *cols;        /* SELECT list: key, tenant, user, created, expires, last seen,
                                row id (parse_row's order) */
    const char *key;         /* the token column */
    const char *rowkey;      /* what UPDATEs name a row by: the token hash, or the id */
    const char *created;     /* creation time column */
    const char *expires;     /* expiry column */
    const char *last_seen;   /* last use column */
    const char *live;        /* condition of a row not revoked */
    const char *revoke;      /* SET clause of a revoke */
    const char *tenant;      /* condition naming a tenant ("%llu" its value) */
    const char *oldest;      /* ORDER BY of a user's rows, oldest first */
    const char *purgeable;   /* extra condition of rows the purge deletes ("" = none) */
    const char *users;       /* the user table */
    const char *user_tenant; /* its tenant expression */
    const char *user_live;   /* condition of a user who may hold a session */
    bool hashed;             /* key column: the 32-byte hash; else "h1:" + hex of it, or a
                                raw token its legacy owner wrote */
    bool meta;               /* tenant_id, ip and user_agent columns on insert */
    int64_t unit_ms;         /* time resolution of its columns */
    int64_t max_ms;          /* the latest time its expiry column holds */
};

static const session_table tables[] = {
    [CONF_PROFILE_BITENANT] =
        {.table = "tenant_session",
         .cols = "token_hash, tenant_id, user_id, created_at, expires_at, last_seen_at, 0",
         .key = "token_hash",
         .rowkey = "token_hash",
         .created = "created_at",
         .expires = "expires_at",
         .last_seen = "last_seen_at",
         .live = "revoked = 0",
         .revoke = "revoked = 1",
         .tenant = "tenant_id = %llu",
         .oldest = "created_at, token_hash",
         .purgeable = "",
         .users = "tenant_user",
         .user_tenant = "tenant_id",
         .user_live = "status = 1 AND deleted_at = 0",
         .hashed = true,
         .meta = true,
         .unit_ms = 1,
         .max_ms = 253402300799999LL}, /* DATETIME(3): 9999-12-31 23:59:59.999 */
    [CONF_PROFILE_MPBACKEND] =
        {.table = "mpbackend_user_session_token",
         .cols = "session_token, 0, user_id, create_time, expired_at, update_time, id",
         .key = "session_token",
         .rowkey = "id",
         .created = "create_time",
         .expires = "expired_at",
         .last_seen = "update_time",
         .live = "NOT (disabled <=> 1)",
         .revoke = "disabled = 1, disabled_at = UTC_TIMESTAMP()",
         .tenant = "%llu = 0",
         .oldest = "create_time, id",
         .purgeable = " AND session_token LIKE 'h1:%'",
         .users = "mpbackend_user",
         .user_tenant = "0",
         .user_live = "NOT (disabled <=> 1)",
         .hashed = false,
         .meta = false,
         .unit_ms = 1000,
         .max_ms = 2147483647000LL}, /* TIMESTAMP: 2038-01-19 03:14:07 */
};

const session_table *session_table_of(int conf_profile)
{
    return conf_profile == CONF_PROFILE_MPBACKEND ? &tables[CONF_PROFILE_MPBACKEND]
                                                  : &tables[CONF_PROFILE_BITENANT];
}

int64_t session_table_unit_ms(const session_table *t)
{
    return t->unit_ms;
}

bool session_table_token_ok(const session_table *t, const char *s, size_t len)
{
    if (t->hashed)
        return session_token_wellformed(s, len);
    if (len == 0 || len > SESSION_LEGACY_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* ---- SQL text ---- */

#define H1_PREFIX "h1:" /* what rbacd writes to a string token column: "h1:" + hex hash */

/* A token hash as the table's key column holds it. */
static void sql_hash(const session_table *t, buf *b, const uint8_t *h)
{
    char hex[SESSION_HASH_LEN * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, h, SESSION_HASH_LEN);
    buf_printf(b, t->hashed ? "X'%s'" : "'" H1_PREFIX "%s'", hex);
}

/* A row as UPDATEs name it. */
static void sql_rowkey(const session_table *t, buf *b, const session_row *row)
{
    if (t->hashed)
        sql_hash(t, b, row->hash);
    else
        buf_printf(b, "%llu", (unsigned long long)row->rowid);
}

static void sql_time(buf *b, int64_t ms)
{
    char t[32];
    db_format_datetime_ms(ms, t, sizeof t);
    buf_printf(b, "'%s'", t);
}

static void sql_str(MYSQL *m, buf *b, const char *s)
{
    db_quote(m, b, s ? s : "", s ? strlen(s) : 0);
}

/* Records the first failure of the batch. Returns false for convenience. */
static bool note_error(session_batch *b, MYSQL *m, const char *what)
{
    b->db_error = true;
    b->last_errno = m ? mysql_errno(m) : 0;
    if (!b->err[0])
        snprintf(b->err, sizeof b->err, "%s: %s", what, m ? mysql_error(m) : "no connection");
    return false;
}

/* Runs a statement that returns no rows; *affected (may be NULL) gets the changed-row
 * count. */
static bool run_stmt(MYSQL *m, session_batch *b, const buf *sql, const char *what,
                     uint64_t *affected)
{
    if (mysql_real_query(m, sql->data, sql->len) != 0)
        return note_error(b, m, what);
    if (affected)
        *affected = (uint64_t)mysql_affected_rows(m);
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
    return true;
}

static bool run_text(MYSQL *m, session_batch *b, const char *sql, const char *what)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, sql);
    bool ok = run_stmt(m, b, &q, what, NULL);
    buf_free(&q);
    return ok;
}

/* ---- reading rows ---- */

/* The hash of a key column: the column itself, "h1:" + its hex, or (a token its legacy
 * owner wrote as it is) the hash of the token. */
static bool key_hash(const session_table *t, const char *k, size_t len, uint8_t *out)
{
    size_t p = strlen(H1_PREFIX);
    if (t->hashed) {
        if (len != SESSION_HASH_LEN)
            return false;
        memcpy(out, k, SESSION_HASH_LEN);
        return true;
    }
    if (len == p + 2 * SESSION_HASH_LEN && memcmp(k, H1_PREFIX, p) == 0) {
        size_t bin = 0;
        return sodium_hex2bin(out, SESSION_HASH_LEN, k + p, len - p, NULL, &bin, NULL) == 0 &&
               bin == SESSION_HASH_LEN;
    }
    session_token_hash(k, len, out);
    return true;
}

static bool parse_row(const session_table *t, MYSQL_ROW r, const unsigned long *len,
                      session_row *out)
{
    memset(out, 0, sizeof *out);
    return r[0] && key_hash(t, r[0], len[0], out->hash) &&
           dal_col_u64(r[1], len[1], &out->tenant) && dal_col_u64(r[2], len[2], &out->user) &&
           db_parse_datetime_ms(r[3], &out->created_ms) &&
           db_parse_datetime_ms(r[4], &out->expires_ms) &&
           db_parse_datetime_ms(r[5], &out->last_seen_ms) && dal_col_u64(r[6], len[6], &out->rowid);
}

static void rows_push(session_rows *rows, const session_row *r)
{
    mem_grow((void **)&rows->v, &rows->cap, rows->n + 1, sizeof *rows->v);
    rows->v[rows->n++] = *r;
}

/* Runs a SELECT of ROW_COLS and appends its rows. stream: mysql_use_result (the
 * start-up load), else the result is stored first. Malformed rows are skipped. */
static bool select_rows(MYSQL *m, session_batch *b, const buf *sql, session_rows *rows, bool stream,
                        const char *what)
{
    if (mysql_real_query(m, sql->data, sql->len) != 0)
        return note_error(b, m, what);
    MYSQL_RES *res = stream ? mysql_use_result(m) : mysql_store_result(m);
    if (!res)
        return mysql_field_count(m) == 0 || note_error(b, m, what);
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        session_row row;
        if (parse_row(b->table, r, mysql_fetch_lengths(res), &row))
            rows_push(rows, &row);
    }
    bool ok = mysql_errno(m) == 0;
    mysql_free_result(res);
    return ok || note_error(b, m, what);
}

static const session_row *rows_find(const session_rows *rows, const uint8_t *hash)
{
    for (size_t i = 0; i < rows->n; i++)
        if (memcmp(rows->v[i].hash, hash, SESSION_HASH_LEN) == 0)
            return &rows->v[i];
    return NULL;
}

/* ---- write phases (inside the transaction) ---- */

/* "UPDATE t SET <revoke>, expires = LEAST(expires, kept) WHERE " */
static void sql_revoke(const session_batch *b, buf *q)
{
    const session_table *t = b->table;
    buf_printf(q, "UPDATE %s SET %s, %s = LEAST(%s, ", t->table, t->revoke, t->expires, t->expires);
    sql_time(q, b->now_ms + SESSION_REVOKED_KEEP_MS);
    buf_append_str(q, ") WHERE ");
}

/* "tenant = T AND user_id = U AND <live> AND expires > now" */
static void sql_user_live(const session_batch *b, buf *q, uint64_t tenant, uint64_t user)
{
    const session_table *t = b->table;
    buf_printf(q, t->tenant, (unsigned long long)tenant);
    buf_printf(q, " AND user_id = %llu AND %s AND %s > ", (unsigned long long)user, t->live,
               t->expires);
    sql_time(q, b->now_ms);
}

static bool phase_revokeall(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    bool ok = true;
    buf q;
    buf_init(&q);
    for (size_t i = 0; i < n && ok; i++) {
        if (w[i]->kind != SESSION_OP_REVOKEALL)
            continue;
        buf_clear(&q);
        sql_revoke(b, &q);
        sql_user_live(b, &q, w[i]->tenant, w[i]->user);
        ok = run_stmt(m, b, &q, "revoke all", &w[i]->count);
    }
    buf_free(&q);
    return ok;
}

/* The users of the batch's creates, as a comma-separated id list; false if none. */
static bool create_users(buf *q, session_op **w, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i]->kind == SESSION_OP_CREATE)
            buf_printf(q, "%s%llu", k++ ? ", " : "", (unsigned long long)w[i]->user);
    return k > 0;
}

/* Phase 0: locks the rows of the users that get a session, without waiting, and
 * marks the creates whose user is not live and enabled (in its tenant) as refused. */
static bool phase_users(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT id, %s, (%s) FROM %s WHERE id IN (", t->user_tenant, t->user_live,
               t->users);
    if (!create_users(&q, w, n)) {
        buf_free(&q);
        return true;
    }
    buf_append_str(&q, ") ORDER BY id FOR UPDATE NOWAIT");
    bool ok = mysql_real_query(m, q.data, q.len) == 0;
    buf_free(&q);
    MYSQL_RES *res = ok ? mysql_store_result(m) : NULL;
    if (!res)
        return note_error(b, m, "lock users");
    for (size_t i = 0; i < n; i++)
        w[i]->refused = w[i]->kind == SESSION_OP_CREATE;
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id, tenant;
        const unsigned long *len = mysql_fetch_lengths(res);
        if (!dal_col_u64(r[0], len[0], &id) || !dal_col_u64(r[1], len[1], &tenant) || !r[2] ||
            strcmp(r[2], "1") != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (w[i]->kind == SESSION_OP_CREATE && w[i]->user == id && w[i]->tenant == tenant)
                w[i]->refused = false;
    }
    mysql_free_result(res);
    return true;
}

/* ---- phase 2: creates, all of a batch in three or four statements ----
 *
 *   read     the live rows of every create's user, oldest first, in the read view that
 *            opened after phase 0 locked the users: nobody else adds to them meanwhile
 *            (a revocation elsewhere reaches memory through the change log)
 *   plan     in memory, creates in batch order: each revokes its user's oldest beyond
 *            session-max-per-user - 1 (rows read, or made earlier in this batch), then
 *            joins the list; op->rows is the list it leaves, op->evict what it revoked
 *   insert   every create, SQL_ROWS_PER_INSERT rows a statement
 *   revoke   every eviction in one UPDATE: read rows by their row key, rows of this
 *            batch by their token key (they have no id yet on a table keyed by id)
 */

/* One user's live sessions while the creates are planned. */
typedef struct plan_user {
    uint64_t tenant, user; /* whose */
    session_rows rows;     /* live, oldest first */
} plan_user;

typedef struct plan_users {
    plan_user *v;  /* one per (tenant, user) of the batch's creates */
    size_t n, cap; /* used, allocated */
} plan_users;

static plan_user *plan_user_of(plan_users *p, uint64_t tenant, uint64_t user)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].user == user && p->v[i].tenant == tenant)
            return &p->v[i];
    mem_grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v);
    plan_user *u = &p->v[p->n++];
    memset(u, 0, sizeof *u);
    u->tenant = tenant;
    u->user = user;
    return u;
}

/* Reads the live rows of the creates' users (their user rows are locked: phase_users)
 * and hands each to its user, oldest first. A plain read: no gap locks on the session
 * index, so concurrent batches for other users never wait on each other here. */
static bool read_create_users(MYSQL *m, session_batch *b, session_op **c, size_t nc, plan_users *p)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    /* (tenant_id, user_id) where the table has both, so that its index serves. */
    buf_printf(&q, "SELECT %s FROM %s WHERE %s IN (", t->cols, t->table,
               t->meta ? "(tenant_id, user_id)" : "user_id");
    for (size_t i = 0; i < nc; i++) {
        if (t->meta)
            buf_printf(&q, "%s(%llu, %llu)", i ? ", " : "", (unsigned long long)c[i]->tenant,
                       (unsigned long long)c[i]->user);
        else
            buf_printf(&q, "%s%llu", i ? ", " : "", (unsigned long long)c[i]->user);
        (void)plan_user_of(p, c[i]->tenant, c[i]->user);
    }
    buf_printf(&q, ") AND %s AND %s > ", t->live, t->expires);
    sql_time(&q, b->now_ms);
    buf_printf(&q, " ORDER BY user_id, %s", t->oldest);
    session_rows rows = {0};
    bool ok = select_rows(m, b, &q, &rows, false, "read user sessions");
    for (size_t i = 0; ok && i < rows.n; i++)
        for (size_t k = 0; k < p->n; k++)
            if (p->v[k].user == rows.v[i].user && p->v[k].tenant == rows.v[i].tenant)
                rows_push(&p->v[k].rows, &rows.v[i]);
    mem_free(rows.v);
    buf_free(&q);
    return ok;
}

/* Plans create op against its user's list u: the oldest beyond the cap go to op->evict
 * and to the revoke statement (by row key when read, by token key when made here). */
static void plan_create(const session_table *t, session_op *op, plan_user *u, buf *old,
                        size_t *nold, buf *fresh, size_t *nfresh)
{
    size_t keep = op->max_live > 0 ? op->max_live - 1 : 0;
    size_t excess = u->rows.n > keep ? u->rows.n - keep : 0;
    if (excess) {
        op->evict = mem_realloc(op->evict, excess * sizeof *op->evict);
        op->nevict = excess;
    }
    for (size_t e = 0; e < excess; e++) {
        const session_row *r = &u->rows.v[e];
        memcpy(op->evict[e], r->hash, SESSION_HASH_LEN);
        bool by_key = t->hashed || r->rowid == 0; /* made here: no id yet */
        buf *list = by_key ? fresh : old;
        size_t *count = by_key ? nfresh : nold;
        if ((*count)++)
            buf_append_str(list, ", ");
        if (by_key)
            sql_hash(t, list, r->hash);
        else
            sql_rowkey(t, list, r);
    }
    if (excess)
        memmove(u->rows.v, u->rows.v + excess, (u->rows.n - excess) * sizeof *u->rows.v);
    u->rows.n -= excess;
    session_row row = {.tenant = op->tenant,
                       .user = op->user,
                       .created_ms = op->at_ms,
                       .expires_ms = op->expires_ms,
                       .last_seen_ms = op->at_ms};
    memcpy(row.hash, op->hash, SESSION_HASH_LEN);
    rows_push(&u->rows, &row);
    op->rows.n = 0;
    for (size_t i = 0; i < u->rows.n; i++)
        rows_push(&op->rows, &u->rows.v[i]);
}

/* Inserts the creates c[0..nc), SQL_ROWS_PER_INSERT a statement. */
static bool insert_sessions(MYSQL *m, session_batch *b, session_op **c, size_t nc)
{
    const session_table *t = b->table;
    bool ok = true;
    buf q;
    buf_init(&q);
    for (size_t off = 0; ok && off < nc; off += SQL_ROWS_PER_INSERT) {
        buf_clear(&q);
        buf_printf(&q, "INSERT INTO %s (%s, user_id, %s, %s, %s%s) VALUES ", t->table, t->key,
                   t->created, t->expires, t->last_seen,
                   t->meta ? ", tenant_id, ip, user_agent" : "");
        for (size_t i = off; i < nc && i < off + SQL_ROWS_PER_INSERT; i++) {
            const session_op *op = c[i];
            buf_append_str(&q, i > off ? ", (" : "(");
            sql_hash(t, &q, op->hash);
            buf_printf(&q, ", %llu, ", (unsigned long long)op->user);
            sql_time(&q, op->at_ms);
            buf_append_str(&q, ", ");
            sql_time(&q, op->expires_ms);
            buf_append_str(&q, ", ");
            sql_time(&q, op->at_ms);
            if (t->meta) {
                buf_printf(&q, ", %llu, ", (unsigned long long)op->tenant);
                sql_str(m, &q, op->ip);
                buf_append_str(&q, ", ");
                sql_str(m, &q, op->ua);
            }
            buf_append_str(&q, ")");
        }
        ok = run_stmt(m, b, &q, "insert sessions", NULL);
    }
    buf_free(&q);
    return ok;
}

/* Revokes what the plan evicted: rows read by their row key, rows of this batch by
 * their token key. */
static bool revoke_evicted(MYSQL *m, session_batch *b, const buf *old, size_t nold,
                           const buf *fresh, size_t nfresh)
{
    if (nold + nfresh == 0)
        return true;
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    sql_revoke(b, &q);
    if (nold)
        buf_printf(&q, "%s IN (%s)%s", t->rowkey, old->data, nfresh ? " OR " : "");
    if (nfresh)
        buf_printf(&q, "%s IN (%s)", t->key, fresh->data);
    bool ok = run_stmt(m, b, &q, "revoke beyond the cap", NULL);
    buf_free(&q);
    return ok;
}

/* Phase 2: each create holds its user's row (phase 0), so the count it caps against
 * is not changing under it, on this instance or another. */
static bool phase_create(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    const session_table *t = b->table;
    session_op **c = mem_alloc((n ? n : 1) * sizeof *c);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i]->kind != SESSION_OP_CREATE || w[i]->refused)
            continue;
        if (w[i]->expires_ms > t->max_ms)
            w[i]->expires_ms = t->max_ms;
        c[nc++] = w[i];
    }
    plan_users users = {0};
    size_t nold = 0, nfresh = 0;
    buf old, fresh;
    buf_init(&old);
    buf_init(&fresh);
    bool ok = nc == 0 || read_create_users(m, b, c, nc, &users);
    for (size_t i = 0; ok && i < nc; i++)
        plan_create(t, c[i], plan_user_of(&users, c[i]->tenant, c[i]->user), &old, &nold, &fresh,
                    &nfresh);
    ok = ok && (nc == 0 || insert_sessions(m, b, c, nc)) &&
         revoke_evicted(m, b, &old, nold, &fresh, nfresh);
    for (size_t i = 0; i < users.n; i++)
        mem_free(users.v[i].rows.v);
    mem_free(users.v);
    mem_free(c);
    buf_free(&old);
    buf_free(&fresh);
    return ok;
}

/* Appends to a comma-separated list that already holds *count entries the keys of the
 * ops of kind: as the client named them (the hash, and a raw token a legacy writer may
 * have stored) or, for those found live, their rows. */
static void key_list(const session_table *t, MYSQL *m, buf *q, session_op **w, size_t n, int kind,
                     bool found_only, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i]->kind != kind || (found_only && !w[i]->found))
            continue;
        if ((*count)++)
            buf_append_str(q, ", ");
        if (found_only) {
            sql_rowkey(t, q, &w[i]->row);
            continue;
        }
        sql_hash(t, q, w[i]->hash);
        if (w[i]->raw && !t->hashed) {
            buf_append_str(q, ", ");
            db_quote(m, q, w[i]->raw, w[i]->rawlen);
        }
    }
}

/* Which touched or revoked sessions are live, locked for the rest of the transaction. */
static bool lock_live(MYSQL *m, session_batch *b, session_op **w, size_t n, session_rows *live)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT %s FROM %s WHERE %s IN (", t->cols, t->table, t->key);
    size_t k = 0;
    key_list(t, m, &q, w, n, SESSION_OP_TOUCH, false, &k);
    key_list(t, m, &q, w, n, SESSION_OP_REVOKE, false, &k);
    buf_printf(&q, ") AND %s AND %s > ", t->live, t->expires);
    sql_time(&q, b->now_ms);
    buf_append_str(&q, " FOR UPDATE");
    bool ok = k == 0 || select_rows(m, b, &q, live, false, "lock sessions");
    buf_free(&q);
    return ok;
}

static int64_t touch_ttl(const session_op *op, const session_row *row)
{
    if (op->ttl_ms > 0)
        return op->ttl_ms;
    int64_t own = row->expires_ms - row->last_seen_ms;
    return own > 0 ? own : op->default_ttl_ms;
}

static bool update_touches(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "UPDATE %s SET %s = CASE %s", t->table, t->expires, t->rowkey);
    /* Latest first: when one token is touched twice, the later touch wins. */
    for (size_t i = n; i-- > 0;) {
        if (w[i]->kind != SESSION_OP_TOUCH || !w[i]->found)
            continue;
        buf_append_str(&q, " WHEN ");
        sql_rowkey(t, &q, &w[i]->row);
        buf_append_str(&q, " THEN ");
        sql_time(&q, w[i]->expires_ms);
    }
    buf_printf(&q, " ELSE %s END, %s = ", t->expires, t->last_seen);
    sql_time(&q, b->now_ms);
    buf_printf(&q, " WHERE %s IN (", t->rowkey);
    size_t k = 0;
    key_list(t, m, &q, w, n, SESSION_OP_TOUCH, true, &k);
    buf_append_str(&q, ")");
    bool ok = k == 0 || run_stmt(m, b, &q, "touch sessions", NULL);
    buf_free(&q);
    return ok;
}

static bool update_revokes(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    sql_revoke(b, &q);
    buf_printf(&q, "%s AND %s IN (", t->live, t->rowkey);
    size_t k = 0;
    key_list(t, m, &q, w, n, SESSION_OP_REVOKE, true, &k);
    buf_append_str(&q, ")");
    bool ok = k == 0 || run_stmt(m, b, &q, "revoke sessions", NULL);
    buf_free(&q);
    return ok;
}

static bool phase_touch_revoke(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    session_rows live = {0};
    bool ok = lock_live(m, b, w, n, &live);
    for (size_t i = 0; ok && i < n; i++) {
        session_op *op = w[i];
        if (op->kind != SESSION_OP_TOUCH && op->kind != SESSION_OP_REVOKE)
            continue;
        const session_row *row = rows_find(&live, op->hash);
        if (!row)
            continue;
        op->found = true;
        op->row = *row;
        if (op->kind == SESSION_OP_TOUCH) {
            op->ttl_ms = touch_ttl(op, row);
            op->expires_ms = b->now_ms + op->ttl_ms; /* the last use is now_ms */
            if (op->expires_ms > b->table->max_ms)
                op->expires_ms = b->table->max_ms; /* the column's end of time */
        } else {
            /* A second revoke of the same token in this batch revokes nothing. */
            for (size_t j = 0; j < i; j++)
                if (w[j]->kind == SESSION_OP_REVOKE && w[j]->found &&
                    memcmp(w[j]->hash, op->hash, SESSION_HASH_LEN) == 0)
                    op->found = false;
        }
    }
    ok = ok && update_touches(m, b, w, n) && update_revokes(m, b, w, n);
    mem_free(live.v);
    return ok;
}

static bool phase_logins(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    bool ok = true;
    size_t rows = 0;
    buf q;
    buf_init(&q);
    buf_append_str(&q, "INSERT INTO tenant_login_log (tenant_id, user_id, username, login_time, "
                       "ip, user_agent, result, message) VALUES ");
    for (size_t i = 0; i < n; i++) {
        const session_login_log *l = w[i]->login;
        if (!l)
            continue;
        buf_printf(&q, "%s(%llu, %llu, ", rows++ ? ", " : "", (unsigned long long)l->tenant,
                   (unsigned long long)l->user);
        sql_str(m, &q, l->username);
        buf_append_str(&q, ", ");
        sql_time(&q, l->time_ms);
        buf_append_str(&q, ", ");
        sql_str(m, &q, w[i]->ip);
        buf_append_str(&q, ", ");
        sql_str(m, &q, w[i]->ua);
        /* A create refused in phase 0: the user was disabled after the password check. */
        bool ok_row = l->ok && !w[i]->refused;
        buf_printf(&q, ", %d, ", ok_row ? 1 : 0);
        sql_str(m, &q, l->ok && !ok_row ? "user disabled" : l->message);
        buf_append_str(&q, ")");
    }
    if (rows)
        ok = run_stmt(m, b, &q, "insert login log", NULL);
    buf_free(&q);
    return ok;
}

/* After the commit: last_login_at of the logins that got a session. Rows another
 * transaction holds are skipped rather than waited for (the next login sets it); a
 * failure is logged and changes no reply. */
static void set_last_login(MYSQL *m, session_op **w, size_t n)
{
    buf ids;
    buf_init(&ids);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i]->kind == SESSION_OP_CREATE && w[i]->ok && !w[i]->refused && w[i]->login)
            buf_printf(&ids, "%s%llu", k++ ? ", " : "", (unsigned long long)w[i]->user);
    if (k == 0) {
        buf_free(&ids);
        return;
    }
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT id FROM tenant_user WHERE id IN (%s) ORDER BY id FOR UPDATE SKIP LOCKED",
               ids.data);
    session_batch scratch = {0};
    bool ok = run_text(m, &scratch, "START TRANSACTION", "start transaction");
    MYSQL_RES *res = NULL;
    if (ok && (mysql_real_query(m, q.data, q.len) != 0 || !(res = mysql_store_result(m))))
        ok = note_error(&scratch, m, "lock users for last_login_at");
    buf_clear(&q);
    buf_append_str(&q, "UPDATE tenant_user SET last_login_at = CASE id");
    size_t locked = 0;
    MYSQL_ROW r;
    while (res && (r = mysql_fetch_row(res))) {
        uint64_t id;
        if (!dal_col_u64(r[0], mysql_fetch_lengths(res)[0], &id))
            continue;
        for (size_t i = n; i-- > 0;) { /* the latest login of the user */
            const session_op *op = w[i];
            if (op->kind == SESSION_OP_CREATE && op->ok && !op->refused && op->login &&
                op->user == id) {
                buf_printf(&q, " WHEN %llu THEN ", (unsigned long long)id);
                sql_time(&q, op->login->time_ms);
                locked++;
                break;
            }
        }
    }
    if (res)
        mysql_free_result(res);
    buf_printf(&q, " ELSE last_login_at END WHERE id IN (%s)", ids.data);
    if (ok && locked)
        ok = run_stmt(m, &scratch, &q, "set last_login_at", NULL);
    ok = ok && run_text(m, &scratch, "COMMIT", "commit last_login_at");
    if (!ok) {
        if (!db_error_is_connection(m))
            (void)mysql_query(m, "ROLLBACK");
        log_verbose("sessions: last_login_at not set: %s", scratch.err);
    }
    buf_free(&q);
    buf_free(&ids);
}

static void reset_results(session_op **w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w[i]->ok = false;
        w[i]->found = false;
        w[i]->refused = false;
        w[i]->count = 0;
        w[i]->nevict = 0;
        if (w[i]->kind == SESSION_OP_CREATE)
            w[i]->rows.n = 0;
    }
}

/* The change-log position the transaction's read view opens at: its first consistent
 * read, so that a later one sees above it only the transaction's own change rows. */
static bool change_mark(MYSQL *m, session_batch *b, uint64_t *m0)
{
    char err[SESSION_DB_ERR_MAX];
    if (dal_query_u64(m, "SELECT COALESCE(MAX(id), 0) FROM rbac_change", m0, "rbac_change", err,
                      sizeof err))
        return true;
    return note_error(b, m, "rbac_change");
}

static bool keep_change_id(void *ctx, MYSQL_ROW row, const unsigned long *len)
{
    session_batch *b = ctx;
    uint64_t id;
    if (dal_col_u64(row[0], len[0], &id)) {
        mem_grow((void **)&b->change_ids, &b->capchange_ids, b->nchange_ids + 1,
                 sizeof *b->change_ids);
        b->change_ids[b->nchange_ids++] = id;
    }
    return true;
}

/* The change ids the transaction's triggers wrote (above m0), kept for REVISION. */
static bool change_ids(MYSQL *m, session_batch *b, uint64_t m0, size_t *kept)
{
    char sql[128], err[SESSION_DB_ERR_MAX];
    int len = snprintf(sql, sizeof sql, "SELECT id FROM rbac_change WHERE id > %llu ORDER BY id",
                       (unsigned long long)m0);
    *kept = b->nchange_ids;
    return dal_query_rows(m, sql, (size_t)len, 1, keep_change_id, b, "rbac_change", err,
                          sizeof err) ||
           note_error(b, m, "rbac_change");
}

static int write_txn(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    reset_results(w, n);
    uint64_t m0 = 0;
    size_t kept = b->nchange_ids;
    /* The users are locked before the first consistent read opens the read view: what
     * the view shows of their sessions is then everything committed for them (whoever
     * adds a session holds its user's row), read without locking the session index. */
    bool ok = run_text(m, b, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "isolation") &&
              run_text(m, b, "START TRANSACTION", "start transaction") && phase_users(m, b, w, n) &&
              change_mark(m, b, &m0) && phase_revokeall(m, b, w, n) && phase_create(m, b, w, n) &&
              phase_touch_revoke(m, b, w, n) && phase_logins(m, b, w, n) &&
              change_ids(m, b, m0, &kept) && run_text(m, b, "COMMIT", "commit");
    if (!ok)
        b->nchange_ids = kept; /* what a failed attempt read is not this batch's */
    if (ok) {
        for (size_t i = 0; i < n; i++)
            w[i]->ok = true;
        b->writes += n;
        b->commits++;
        set_last_login(m, w, n);
        return TXN_OK;
    }
    bool lost = db_error_is_connection(m);
    if (!lost)
        (void)mysql_query(m, "ROLLBACK");
    reset_results(w, n);
    return lost ? TXN_LOST : TXN_REFUSED;
}

/* One write alone: a row lock held elsewhere (the user's row of a create, mostly held
 * for the milliseconds of a write transaction) is tried again a few times, briefly. */
static int write_alone(MYSQL *m, session_batch *b, session_op *op)
{
    int r = TXN_REFUSED;
    for (int t = 0; t < SESSION_USER_LOCK_TRIES; t++) {
        if (t)
            usleep(SESSION_USER_LOCK_GAP_US);
        b->last_errno = 0;
        r = write_txn(m, b, &op, 1);
        unsigned e = b->last_errno;
        if (r != TXN_REFUSED || (e != ER_LOCK_WAIT_TIMEOUT && e != ER_LOCK_DEADLOCK))
            break;
    }
    return r;
}

/* Returns the connection to go on with, NULL once it was lost. */
static MYSQL *run_writes(MYSQL *m, session_batch *b)
{
    session_op *w[SESSION_BATCH_MAX];
    size_t n = 0;
    for (session_op *op = b->head; op && n < SESSION_BATCH_MAX; op = op->next)
        if (session_op_is_write(op))
            w[n++] = op;
    if (n == 0)
        return m;
    int r = n > 1 ? write_txn(m, b, w, n) : write_alone(m, b, w[0]);
    /* One refused row or held lock must not fail its neighbours: retry each alone. */
    for (size_t i = 0; r == TXN_REFUSED && n > 1 && i < n; i++) {
        int one = write_alone(m, b, w[i]);
        if (one == TXN_LOST)
            r = TXN_LOST;
    }
    if (r == TXN_LOST) {
        worker_db_failed();
        return NULL;
    }
    return m;
}

/* ---- reads (after the commit, autocommit) ---- */

static bool read_lookups(MYSQL *m, session_batch *b)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT %s FROM %s WHERE %s IN (", t->cols, t->table, t->key);
    size_t k = 0;
    for (session_op *op = b->head; op; op = op->next) {
        if (op->kind != SESSION_OP_LOOKUP)
            continue;
        if (k++)
            buf_append_str(&q, ", ");
        sql_hash(t, &q, op->hash);
        if (op->raw && !t->hashed) {
            buf_append_str(&q, ", ");
            db_quote(m, &q, op->raw, op->rawlen);
        }
    }
    buf_printf(&q, ") AND %s AND %s > ", t->live, t->expires);
    sql_time(&q, b->now_ms);
    session_rows found = {0};
    bool ok = k == 0 || select_rows(m, b, &q, &found, false, "read through");
    for (session_op *op = b->head; ok && op; op = op->next) {
        if (op->kind != SESSION_OP_LOOKUP)
            continue;
        const session_row *row = rows_find(&found, op->hash);
        op->ok = true;
        op->found = row != NULL;
        if (row)
            op->row = *row;
    }
    mem_free(found.v);
    buf_free(&q);
    return ok;
}

static bool read_user(MYSQL *m, session_batch *b, session_op *op)
{
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT %s FROM %s WHERE ", b->table->cols, b->table->table);
    sql_user_live(b, &q, op->tenant, op->user);
    op->ok = select_rows(m, b, &q, &op->rows, false, "read user sessions");
    buf_free(&q);
    return op->ok;
}

static bool read_all(MYSQL *m, session_batch *b, session_op *op)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "SELECT %s FROM %s WHERE %s AND %s > ", t->cols, t->table, t->live, t->expires);
    sql_time(&q, b->now_ms);
    op->ok = select_rows(m, b, &q, &op->rows, true, "load sessions");
    buf_free(&q);
    return op->ok;
}

static bool purge(MYSQL *m, session_batch *b, session_op *op)
{
    const session_table *t = b->table;
    buf q;
    buf_init(&q);
    buf_printf(&q, "DELETE FROM %s WHERE %s <= ", t->table, t->expires);
    sql_time(&q, b->now_ms);
    buf_printf(&q, "%s LIMIT %lld", t->purgeable, op->limit);
    op->ok = run_stmt(m, b, &q, "purge sessions", &op->count);
    buf_free(&q);
    return op->ok;
}

/* ---- LOGIN checks (reads, on a password checker's connection) ----
 *
 * A LOGIN's check in two statements: the user row (with last_login_at, the latest
 * success), then the failures that count of its user name and IP since window +
 * lockout ago, one SELECT whose WHERE is an OR of index ranges (written for several
 * logins at once, as a batch would ask):
 *
 *   user failures    tenant_login_log (tenant_id, username, message, login_time)
 *   IP failures      tenant_login_log (ip, message, login_time)
 *
 * each with message IN (the messages that count): the refusals of a lockout, however
 * many, are never read. The rows are handed to the logins whose keys they match. How
 * many there are is bounded by the limits: a key stops gathering counted failures once
 * it is locked out.
 */

/* The messages of the failures that count (session_db.h). */
static const char *const counted_messages[] = {
    SESSION_LOGIN_MSG_UNKNOWN_TENANT, SESSION_LOGIN_MSG_UNKNOWN_USER,
    SESSION_LOGIN_MSG_WRONG_PASSWORD, SESSION_LOGIN_MSG_NO_HASH,
    SESSION_LOGIN_MSG_USER_DISABLED,  SESSION_LOGIN_MSG_DISABLED,
};

static bool check_has_ip(const session_login_check *c)
{
    return c->ip && c->ip[0];
}

/* A key's state from its failure times t[0..n) (newest first) after since: how many
 * fall within the window (at most max), and until when it is locked out (0 = not):
 * the newest lockout in force is that of the newest failure that has max - 1 more
 * within the window before it. */
static void key_state(const session_login_limits *lim, uint32_t max, const int64_t *t, size_t n,
                      int64_t since, int64_t now_ms, uint32_t *failures, int64_t *until_ms)
{
    *failures = 0;
    *until_ms = 0;
    size_t k = 0; /* the failures after since */
    while (k < n && t[k] > since)
        k++;
    for (size_t i = 0; i < k && *failures < max; i++)
        *failures += t[i] > now_ms - lim->window_ms;
    for (size_t i = 0; i + max - 1 < k && t[i] + lim->lockout_ms > now_ms; i++) {
        if (t[i] - t[i + max - 1] < lim->window_ms) {
            *until_ms = t[i] + lim->lockout_ms;
            return;
        }
    }
}

void session_login_decide(session_login_check *c, const session_login_facts *f, int64_t now_ms)
{
    const session_login_limits *lim = &c->lim;
    c->refused = SESSION_LOCKOUT_NONE;
    c->user_locked = c->ip_locked = false;
    c->user_until_ms = c->ip_until_ms = 0;
    c->user_failures = c->ip_failures = 0;
    if (lim->max_user) {
        key_state(lim, lim->max_user, f->user_fail_ms, f->nuser_fail, f->last_ok_ms, now_ms,
                  &c->user_failures, &c->user_until_ms);
        c->user_locked = c->user_until_ms != 0;
        if (c->user_locked)
            c->refused = SESSION_LOCKOUT_USER;
    }
    if (lim->max_ip && check_has_ip(c)) {
        key_state(lim, lim->max_ip, f->ip_fail_ms, f->nip_fail, 0, now_ms, &c->ip_failures,
                  &c->ip_until_ms);
        c->ip_locked = c->ip_until_ms != 0;
        if (!c->refused && c->ip_locked)
            c->refused = SESSION_LOCKOUT_IP;
    }
}

void session_login_lockouts(const session_login_check *c, bool failed, int64_t at_ms,
                            int64_t *user_ms, int64_t *ip_ms)
{
    const session_login_limits *lim = &c->lim;
    *user_ms = *ip_ms = 0;
    if (!failed || c->refused)
        return;
    if (lim->max_user && !c->user_locked && c->user_failures + 1 >= lim->max_user)
        *user_ms = at_ms + lim->lockout_ms;
    if (lim->max_ip && check_has_ip(c) && !c->ip_locked && c->ip_failures + 1 >= lim->max_ip)
        *ip_ms = at_ms + lim->lockout_ms;
}

/* The user rows every check of the batch names (exact name, live, in its tenant). */
static bool read_login_users(MYSQL *m, session_batch *b, session_login_check **cs, size_t n)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT tenant_id, id, status, password, username, last_login_at "
                       "FROM tenant_user WHERE deleted_at = 0 AND (");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const session_login_check *c = cs[i];
        if (!c->username || !c->tenant)
            continue;
        buf_printf(&q, "%s(tenant_id = %llu AND username = ", k++ ? " OR " : "",
                   (unsigned long long)c->tenant);
        sql_str(m, &q, c->username);
        buf_append_str(&q, ")");
    }
    buf_append_str(&q, ")");
    MYSQL_RES *res = NULL;
    bool ok = k == 0 ||
              (mysql_real_query(m, q.data, q.len) == 0 && (res = mysql_store_result(m)) != NULL);
    buf_free(&q);
    if (!ok)
        return note_error(b, m, "read login users");
    MYSQL_ROW r;
    while (res && (r = mysql_fetch_row(res))) {
        const unsigned long *len = mysql_fetch_lengths(res);
        uint64_t tenant, id;
        if (!r[4] || !dal_col_u64(r[0], len[0], &tenant) || !dal_col_u64(r[1], len[1], &id))
            continue;
        for (size_t i = 0; i < n; i++) {
            session_login_check *c = cs[i];
            /* The column's collation pads spaces: "admin " equals "admin". Only the
             * exact name counts. */
            if (!c->username || c->tenant != tenant || strcmp(r[4], c->username) != 0 ||
                c->user.found)
                continue;
            c->user.found = true;
            c->user.id = id;
            c->user.status = dal_col_int(r[2], len[2]);
            if (r[3] && len[3] <= PASSWD_HASH_MAX)
                memcpy(c->user.hash, r[3], len[3] + 1);
            if (!r[5] || !db_parse_datetime_ms(r[5], &c->user.last_login_ms))
                c->user.last_login_ms = 0;
        }
    }
    if (res)
        mysql_free_result(res);
    return true;
}

/* "(key = ... AND message IN (...) AND login_time > from)" */
static void fact_term(MYSQL *m, buf *q, size_t *terms, const char *key_sql, const char *value,
                      int64_t from)
{
    buf_printf(q, "%s(%s", (*terms)++ ? " OR " : "", key_sql);
    sql_str(m, q, value);
    buf_append_str(q, " AND message IN (");
    for (size_t k = 0; k < ARRAY_LEN(counted_messages); k++) {
        if (k)
            buf_append_str(q, ", ");
        sql_str(m, q, counted_messages[k]);
    }
    buf_append_str(q, ") AND login_time > ");
    sql_time(q, from);
    buf_append_str(q, ")");
}

/* The terms of check c. */
static void fact_terms(MYSQL *m, buf *q, size_t *terms, const session_login_check *c, int64_t from)
{
    if (c->lim.max_user) {
        char key[64];
        snprintf(key, sizeof key,
                 "tenant_id = %llu AND username = ", (unsigned long long)c->tenant);
        fact_term(m, q, terms, key, c->name, from);
    }
    if (c->lim.max_ip && check_has_ip(c))
        fact_term(m, q, terms, "ip = ", c->ip, from);
}

/* The facts of one check while the rows come in. */
typedef struct fact_acc {
    session_login_facts f;  /* what session_login_decide reads */
    int64_t *user_fail;     /* failure times of the user name (owned) */
    size_t nuser, capuser;  /* used, allocated */
    int64_t *ip_fail;       /* failure times from the IP (owned) */
    size_t nip, capip;      /* used, allocated */
    session_login_check *c; /* whose */
} fact_acc;

static void fact_push(int64_t **v, size_t *n, size_t *cap, int64_t t)
{
    mem_grow((void **)v, cap, *n + 1, sizeof **v);
    (*v)[(*n)++] = t;
}

/* Hands one failure row (tenant, username, ip at t) to the checks whose keys it
 * matches: the user name byte for byte (the column is utf8mb4_bin), the IP as the
 * column compares (utf8mb4_unicode_ci: letter case aside). */
static void fact_add(fact_acc *acc, size_t n, uint64_t tenant, const char *username, const char *ip,
                     int64_t t, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        const session_login_check *c = acc[i].c;
        if (t <= now_ms - c->lim.window_ms - c->lim.lockout_ms)
            continue;
        if (c->lim.max_user && c->tenant == tenant && strcmp(username, c->name) == 0)
            fact_push(&acc[i].user_fail, &acc[i].nuser, &acc[i].capuser, t);
        if (c->lim.max_ip && check_has_ip(c) && strcasecmp(ip, c->ip) == 0)
            fact_push(&acc[i].ip_fail, &acc[i].nip, &acc[i].capip, t);
    }
}

static int newest_first(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Reads the facts of every check of the batch (n of them, in acc; their user rows are
 * read) and decides each. */
static bool read_login_facts(MYSQL *m, session_batch *b, fact_acc *acc, size_t n)
{
    int64_t now = b->now_ms;
    buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT tenant_id, username, ip, login_time FROM tenant_login_log WHERE ");
    size_t terms = 0;
    for (size_t i = 0; i < n; i++)
        fact_terms(m, &q, &terms, acc[i].c,
                   now - acc[i].c->lim.window_ms - acc[i].c->lim.lockout_ms);
    MYSQL_RES *res = NULL;
    bool ok = terms == 0 ||
              (mysql_real_query(m, q.data, q.len) == 0 && (res = mysql_store_result(m)) != NULL);
    buf_free(&q);
    if (!ok)
        return note_error(b, m, "read login failures");
    MYSQL_ROW r;
    while (res && (r = mysql_fetch_row(res))) {
        const unsigned long *len = mysql_fetch_lengths(res);
        uint64_t tenant;
        int64_t t;
        if (r[1] && r[2] && r[3] && dal_col_u64(r[0], len[0], &tenant) &&
            db_parse_datetime_ms(r[3], &t))
            fact_add(acc, n, tenant, r[1], r[2], t, now);
    }
    if (res)
        mysql_free_result(res);
    for (size_t i = 0; i < n; i++) {
        if (acc[i].nuser > 1)
            qsort(acc[i].user_fail, acc[i].nuser, sizeof *acc[i].user_fail, newest_first);
        if (acc[i].nip > 1)
            qsort(acc[i].ip_fail, acc[i].nip, sizeof *acc[i].ip_fail, newest_first);
        const session_login_user *u = &acc[i].c->user;
        acc[i].f.last_ok_ms = u->found ? u->last_login_ms : 0;
        acc[i].f.user_fail_ms = acc[i].user_fail;
        acc[i].f.nuser_fail = acc[i].nuser;
        acc[i].f.ip_fail_ms = acc[i].ip_fail;
        acc[i].f.nip_fail = acc[i].nip;
        session_login_decide(acc[i].c, &acc[i].f, now);
    }
    return true;
}

bool session_db_login_check(MYSQL *m, session_login_check *c, int64_t now_ms, char *err,
                            size_t errlen)
{
    session_batch scratch = {.now_ms = now_ms};
    fact_acc acc = {.c = c};
    bool ok = read_login_users(m, &scratch, &c, 1) && read_login_facts(m, &scratch, &acc, 1);
    mem_free(acc.user_fail);
    mem_free(acc.ip_fail);
    if (!ok) {
        snprintf(err, errlen, "%s", scratch.err);
        if (db_error_is_connection(m))
            worker_db_failed();
    }
    return ok;
}

static bool run_read(MYSQL *m, session_batch *b, session_op *op)
{
    switch (op->kind) {
    case SESSION_OP_USER:
        return read_user(m, b, op);
    case SESSION_OP_LOAD:
        return read_all(m, b, op);
    case SESSION_OP_PURGE:
        return purge(m, b, op);
    default:
        return true; /* lookups are read together; writes are done */
    }
}

void session_db_run(session_batch *b)
{
    char err[SESSION_DB_ERR_MAX];
    MYSQL *m = worker_db(err, sizeof err);
    if (!m) {
        b->db_error = true;
        snprintf(b->err, sizeof b->err, "%s", err);
        return; /* every op keeps ok == false */
    }
    m = run_writes(m, b);
    if (m && !read_lookups(m, b) && db_error_is_connection(m)) {
        worker_db_failed();
        m = NULL;
    }
    for (session_op *op = b->head; m && op; op = op->next) {
        if (!run_read(m, b, op) && db_error_is_connection(m)) {
            worker_db_failed();
            m = NULL;
        }
    }
}

/* ---- statements other modules run inside their own work ---- */

bool session_db_revoke_user(MYSQL *m, uint64_t tenant, uint64_t user, long long *revoked)
{
    char sql[320];
    int n = snprintf(sql, sizeof sql,
                     "UPDATE tenant_session SET revoked = 1, expires_at = LEAST(expires_at, "
                     "UTC_TIMESTAMP(3) + INTERVAL %d SECOND) WHERE tenant_id = %llu AND "
                     "user_id = %llu AND revoked = 0",
                     SESSION_REVOKED_KEEP_MS / 1000, (unsigned long long)tenant,
                     (unsigned long long)user);
    if (mysql_real_query(m, sql, (unsigned long)n) != 0)
        return false;
    *revoked = (long long)mysql_affected_rows(m);
    return true;
}
