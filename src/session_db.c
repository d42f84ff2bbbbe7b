/*
 * The session lane's statements. One batch = at most one write transaction, then the
 * reads. Inside the transaction the phases run in a fixed order, and session.c applies
 * results in the same order:
 *
 *   0 users      SELECT ... FOR UPDATE NOWAIT of the users that get a session: each
 *                must be live and enabled in the database, and holding its row keeps
 *                USER DISABLE (which locks it too) from revoking between the check and
 *                the insert, and orders the creates of one user across instances
 *   1 REVOKEALL  UPDATE per user (the count is the reply)
 *   2 CREATE     per session: lock the user's live rows oldest first, revoke those
 *                beyond session-max-per-user - 1, insert, read the user's rows back
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
#include <string.h>
#include <unistd.h>

#define SQL_ROWS_PER_INSERT      256 /* rows in one multi-row INSERT */
#define ROW_COLS                 "token_hash, tenant_id, user_id, created_at, expires_at, last_seen_at"
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
    mem_free(op->rows.v);
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

/* ---- SQL text ---- */

static void sql_hash(buf *b, const uint8_t *h)
{
    char hex[SESSION_HASH_LEN * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, h, SESSION_HASH_LEN);
    buf_printf(b, "X'%s'", hex);
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

static bool parse_row(MYSQL_ROW r, const unsigned long *len, session_row *out)
{
    if (!r[0] || len[0] != SESSION_HASH_LEN)
        return false;
    memcpy(out->hash, r[0], SESSION_HASH_LEN);
    return dal_col_u64(r[1], len[1], &out->tenant) && dal_col_u64(r[2], len[2], &out->user) &&
           db_parse_datetime_ms(r[3], &out->created_ms) &&
           db_parse_datetime_ms(r[4], &out->expires_ms) &&
           db_parse_datetime_ms(r[5], &out->last_seen_ms);
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
        if (parse_row(r, mysql_fetch_lengths(res), &row))
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

static bool phase_revokeall(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    bool ok = true;
    buf q;
    buf_init(&q);
    for (size_t i = 0; i < n && ok; i++) {
        if (w[i]->kind != SESSION_OP_REVOKEALL)
            continue;
        buf_clear(&q);
        buf_append_str(&q,
                       "UPDATE tenant_session SET revoked = 1, expires_at = LEAST(expires_at, ");
        sql_time(&q, b->now_ms + SESSION_REVOKED_KEEP_MS);
        buf_printf(&q,
                   ") WHERE tenant_id = %llu AND user_id = %llu AND revoked = 0 AND expires_at > ",
                   (unsigned long long)w[i]->tenant, (unsigned long long)w[i]->user);
        sql_time(&q, b->now_ms);
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
    buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT id, tenant_id, status, deleted_at FROM tenant_user WHERE id IN (");
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
            strcmp(r[2], "1") != 0 || !r[3] || strcmp(r[3], "0") != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (w[i]->kind == SESSION_OP_CREATE && w[i]->user == id && w[i]->tenant == tenant)
                w[i]->refused = false;
    }
    mysql_free_result(res);
    return true;
}

/* The user's live sessions, oldest first, locked (the latest committed rows, and this
 * transaction's own). */
static bool lock_user_rows(MYSQL *m, session_batch *b, const session_op *op, session_rows *rows)
{
    buf q;
    buf_init(&q);
    buf_printf(&q,
               "SELECT " ROW_COLS " FROM tenant_session WHERE tenant_id = %llu AND user_id = %llu "
               "AND revoked = 0 AND expires_at > ",
               (unsigned long long)op->tenant, (unsigned long long)op->user);
    sql_time(&q, b->now_ms);
    buf_append_str(&q, " ORDER BY created_at, token_hash FOR UPDATE");
    rows->n = 0;
    bool ok = select_rows(m, b, &q, rows, false, "lock user sessions");
    buf_free(&q);
    return ok;
}

/* Revokes the oldest live sessions of op's user beyond max_live - 1 (rows: its live
 * sessions, oldest first), so that the insert leaves it at the cap. They go to
 * op->evict, and out of rows. */
static bool revoke_excess(MYSQL *m, session_batch *b, session_op *op, session_rows *rows)
{
    size_t keep = op->max_live > 0 ? op->max_live - 1 : 0;
    if (rows->n <= keep)
        return true;
    size_t excess = rows->n - keep;
    buf q;
    buf_init(&q);
    buf_append_str(&q, "UPDATE tenant_session SET revoked = 1, expires_at = LEAST(expires_at, ");
    sql_time(&q, b->now_ms + SESSION_REVOKED_KEEP_MS);
    buf_append_str(&q, ") WHERE token_hash IN (");
    op->evict = mem_realloc(op->evict, excess * sizeof *op->evict);
    for (size_t e = 0; e < excess; e++) {
        if (e)
            buf_append_str(&q, ", ");
        sql_hash(&q, rows->v[e].hash);
        memcpy(op->evict[e], rows->v[e].hash, SESSION_HASH_LEN);
    }
    op->nevict = excess;
    buf_append_str(&q, ")");
    bool ok = run_stmt(m, b, &q, "revoke beyond the cap", NULL);
    buf_free(&q);
    memmove(rows->v, rows->v + excess, (rows->n - excess) * sizeof *rows->v);
    rows->n -= excess;
    return ok;
}

static bool insert_session(MYSQL *m, session_batch *b, const session_op *op)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "INSERT INTO tenant_session (token_hash, tenant_id, user_id, created_at, "
                       "expires_at, last_seen_at, ip, user_agent) VALUES (");
    sql_hash(&q, op->hash);
    buf_printf(&q, ", %llu, %llu, ", (unsigned long long)op->tenant, (unsigned long long)op->user);
    sql_time(&q, op->at_ms);
    buf_append_str(&q, ", ");
    sql_time(&q, op->expires_ms);
    buf_append_str(&q, ", ");
    sql_time(&q, op->at_ms);
    buf_append_str(&q, ", ");
    sql_str(m, &q, op->ip);
    buf_append_str(&q, ", ");
    sql_str(m, &q, op->ua);
    buf_append_str(&q, ")");
    bool ok = run_stmt(m, b, &q, "insert session", NULL);
    buf_free(&q);
    return ok;
}

/* Phase 2: each create holds its user's row (phase 0), so the count it caps against
 * is not changing under it, on this instance or another. */
static bool phase_create(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        session_op *op = w[i];
        if (op->kind != SESSION_OP_CREATE || op->refused)
            continue;
        if (!lock_user_rows(m, b, op, &op->rows) || !revoke_excess(m, b, op, &op->rows) ||
            !insert_session(m, b, op))
            return false;
        session_row row = {.tenant = op->tenant,
                           .user = op->user,
                           .created_ms = op->at_ms,
                           .expires_ms = op->expires_ms,
                           .last_seen_ms = op->at_ms};
        memcpy(row.hash, op->hash, SESSION_HASH_LEN);
        rows_push(&op->rows, &row);
    }
    return true;
}

/* Appends the hashes of the ops of kind (only those found live when found_only) to a
 * comma-separated list that already holds *count entries. */
static void hash_list(buf *q, session_op **w, size_t n, int kind, bool found_only, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i]->kind != kind || (found_only && !w[i]->found))
            continue;
        if ((*count)++)
            buf_append_str(q, ", ");
        sql_hash(q, w[i]->hash);
    }
}

/* Which touched or revoked sessions are live, locked for the rest of the transaction. */
static bool lock_live(MYSQL *m, session_batch *b, session_op **w, size_t n, session_rows *live)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT " ROW_COLS " FROM tenant_session WHERE token_hash IN (");
    size_t k = 0;
    hash_list(&q, w, n, SESSION_OP_TOUCH, false, &k);
    hash_list(&q, w, n, SESSION_OP_REVOKE, false, &k);
    buf_append_str(&q, ") AND revoked = 0 AND expires_at > ");
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
    buf q;
    buf_init(&q);
    buf_append_str(&q, "UPDATE tenant_session SET expires_at = CASE token_hash");
    /* Latest first: when one token is touched twice, the later touch wins. */
    for (size_t i = n; i-- > 0;) {
        if (w[i]->kind != SESSION_OP_TOUCH || !w[i]->found)
            continue;
        buf_append_str(&q, " WHEN ");
        sql_hash(&q, w[i]->hash);
        buf_append_str(&q, " THEN ");
        sql_time(&q, w[i]->expires_ms);
    }
    buf_append_str(&q, " ELSE expires_at END, last_seen_at = ");
    sql_time(&q, b->now_ms);
    buf_append_str(&q, " WHERE token_hash IN (");
    size_t k = 0;
    hash_list(&q, w, n, SESSION_OP_TOUCH, true, &k);
    buf_append_str(&q, ")");
    bool ok = k == 0 || run_stmt(m, b, &q, "touch sessions", NULL);
    buf_free(&q);
    return ok;
}

static bool update_revokes(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "UPDATE tenant_session SET revoked = 1, expires_at = LEAST(expires_at, ");
    sql_time(&q, b->now_ms + SESSION_REVOKED_KEEP_MS);
    buf_append_str(&q, ") WHERE revoked = 0 AND token_hash IN (");
    size_t k = 0;
    hash_list(&q, w, n, SESSION_OP_REVOKE, true, &k);
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
            op->expires_ms = b->now_ms + op->ttl_ms; /* last_seen_at is now_ms */
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

static int write_txn(MYSQL *m, session_batch *b, session_op **w, size_t n)
{
    reset_results(w, n);
    bool ok = run_text(m, b, "START TRANSACTION", "start transaction") && phase_users(m, b, w, n) &&
              phase_revokeall(m, b, w, n) && phase_create(m, b, w, n) &&
              phase_touch_revoke(m, b, w, n) && phase_logins(m, b, w, n) &&
              run_text(m, b, "COMMIT", "commit");
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
    buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT " ROW_COLS " FROM tenant_session WHERE token_hash IN (");
    size_t k = 0;
    for (session_op *op = b->head; op; op = op->next) {
        if (op->kind != SESSION_OP_LOOKUP)
            continue;
        if (k++)
            buf_append_str(&q, ", ");
        sql_hash(&q, op->hash);
    }
    buf_append_str(&q, ") AND revoked = 0 AND expires_at > ");
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
    buf_printf(&q,
               "SELECT " ROW_COLS " FROM tenant_session WHERE tenant_id = %llu AND user_id = %llu "
               "AND revoked = 0 AND expires_at > ",
               (unsigned long long)op->tenant, (unsigned long long)op->user);
    sql_time(&q, b->now_ms);
    op->ok = select_rows(m, b, &q, &op->rows, false, "read user sessions");
    buf_free(&q);
    return op->ok;
}

static bool read_all(MYSQL *m, session_batch *b, session_op *op)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q,
                   "SELECT " ROW_COLS " FROM tenant_session WHERE revoked = 0 AND expires_at > ");
    sql_time(&q, b->now_ms);
    op->ok = select_rows(m, b, &q, &op->rows, true, "load sessions");
    buf_free(&q);
    return op->ok;
}

static bool purge(MYSQL *m, session_batch *b, session_op *op)
{
    buf q;
    buf_init(&q);
    buf_append_str(&q, "DELETE FROM tenant_session WHERE expires_at <= ");
    sql_time(&q, b->now_ms);
    buf_printf(&q, " LIMIT %d", SESSION_PURGE_LIMIT);
    op->ok = run_stmt(m, b, &q, "purge sessions", &op->count);
    buf_free(&q);
    return op->ok;
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

bool session_db_login_user(MYSQL *m, uint64_t tenant, const char *username, session_login_user *u,
                           char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    buf q;
    buf_init(&q);
    buf_printf(&q,
               "SELECT id, status, password, username FROM tenant_user WHERE tenant_id = %llu "
               "AND username = ",
               (unsigned long long)tenant);
    db_quote(m, &q, username, strlen(username));
    buf_append_str(&q, " AND deleted_at = 0");
    bool ok = mysql_real_query(m, q.data, q.len) == 0;
    buf_free(&q);
    MYSQL_RES *res = ok ? mysql_store_result(m) : NULL;
    if (!res) {
        snprintf(err, errlen, "%s", mysql_error(m));
        if (db_error_is_connection(m))
            worker_db_failed();
        return false;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        const unsigned long *len = mysql_fetch_lengths(res);
        /* The column's collation pads spaces: "admin " equals "admin". Only the exact
         * name counts. */
        if (!r[3] || strcmp(r[3], username) != 0 || !dal_col_u64(r[0], len[0], &u->id))
            continue;
        u->found = true;
        u->status = dal_col_int(r[1], len[1]);
        if (r[2] && len[2] <= PASSWD_HASH_MAX)
            memcpy(u->hash, r[2], len[2] + 1);
        break;
    }
    mysql_free_result(res);
    return true;
}
