/*
 * Write-through transactions (the design is in dal_write.h): the transaction frame,
 * retries, the statements every change function uses, and this write's own change ids.
 * What a write changes lives with its profile (dal_bitenant.c, ...); what it replies
 * lives with its command (cmd_write.c).
 */
#include "dal_write.h"
#include "buf.h"
#include "db.h"
#include "mem.h"
#include "worker.h"

#include <inttypes.h>
#include <sodium.h>
#include <unistd.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

dal_write_job *dal_write_job_new(const dal_profile *p, const dal_write_op *op)
{
    dal_write_job *j = mem_calloc(1, sizeof *j);
    j->profile = p;
    j->op = op;
    return j;
}

void dal_write_job_free(dal_write_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nargs; i++)
        mem_free(j->args[i]);
    mem_free(j->args);
    mem_free(j->ids);
    dal_batch_free(&j->batch);
    mem_free(j);
}

/* ------------------------------------------------------------- statements ---- */

int dal_write_failure(MYSQL *db)
{
    switch (mysql_errno(db)) {
    case ER_LOCK_DEADLOCK: /* a deadlock, or a certification conflict on a cluster */
    case ER_CHECKREAD:     /* a row changed since the snapshot read it */
        return DAL_WRITE_RETRY;
    case ER_DUP_ENTRY:                       /* a unique key already holds the value */
    case ER_DATA_TOO_LONG:                   /* longer than the column */
    case ER_WARN_DATA_OUT_OF_RANGE:          /* a number the column cannot hold */
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: /* characters the column's charset lacks */
    case ER_CANT_AGGREGATE_2COLLATIONS:      /* ... compared against the column */
    case ER_CANT_AGGREGATE_3COLLATIONS:
        return DAL_WRITE_REFUSED; /* the value is wrong, not the database: no retry helps */
    default:
        return DAL_WRITE_DBERR;
    }
}

void dal_tx_fail(dal_tx *t, const char *what)
{
    t->j->status = dal_write_failure(t->db);
    dal_error(t->db, what, t->j->msg, sizeof t->j->msg);
}

void dal_tx_refuse(dal_tx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->j->msg, sizeof t->j->msg, fmt, ap);
    va_end(ap);
    t->j->status = DAL_WRITE_REFUSED;
}

bool dal_tx_exec(dal_tx *t, long long *affected, const char *sql, size_t len)
{
    if (mysql_real_query(t->db, sql, len) != 0) {
        dal_tx_fail(t, "write");
        return false;
    }
    MYSQL_RES *r = mysql_store_result(t->db);
    if (r)
        mysql_free_result(r);
    if (affected)
        *affected = (long long)mysql_affected_rows(t->db);
    return true;
}

bool dal_tx_execf(dal_tx *t, long long *affected, const char *fmt, ...)
{
    buf sql;
    buf_init(&sql);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&sql, fmt, ap);
    va_end(ap);
    bool ok = dal_tx_exec(t, affected, sql.data, sql.len);
    buf_free(&sql);
    return ok;
}

bool dal_tx_row(dal_tx *t, const dal_desc *d, uint64_t id, uint64_t tenant, const char *lock,
                dal_rec *r, bool *found)
{
    if (dal_check(t->db, d, id, tenant, lock, r, found, t->j->msg, sizeof t->j->msg))
        return true;
    t->j->status = dal_write_failure(t->db);
    return false;
}

/* -------------------------------------------------------- the transaction ---- */

static bool keep_id(void *ctx, MYSQL_ROW row, const unsigned long *len)
{
    dal_write_job *j = ctx;
    uint64_t id;
    if (dal_col_u64(row[0], len[0], &id)) {
        mem_grow((void **)&j->ids, &j->capids, j->nids + 1, sizeof *j->ids);
        j->ids[j->nids++] = id;
    }
    return true;
}

/* The ids above m0 visible to this transaction's read view: its own change rows. */
static bool own_change_ids(dal_tx *t, uint64_t m0)
{
    char sql[128];
    int n = snprintf(sql, sizeof sql,
                     "SELECT id FROM rbac_change WHERE id > %" PRIu64 " ORDER BY id", m0);
    if (dal_query_rows(t->db, sql, (size_t)n, 1, keep_id, t->j, "rbac_change", t->j->msg,
                       sizeof t->j->msg))
        return true;
    t->j->status = dal_write_failure(t->db);
    return false;
}

static bool tx_begin(dal_tx *t, uint64_t *m0)
{
    /* The standard form of the isolation setting: tx_isolation is deprecated, and
     * transaction_isolation is not known to every supported server version. */
    if (!dal_tx_execf(t, NULL, "SET SESSION innodb_lock_wait_timeout = %d",
                      DAL_WRITE_LOCK_WAIT_S) ||
        !dal_tx_execf(t, NULL, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
        !dal_tx_execf(t, NULL, "START TRANSACTION"))
        return false;
    /* The first consistent read: it opens the read view own_change_ids() relies on. */
    if (dal_query_u64(t->db, "SELECT COALESCE(MAX(id), 0) FROM rbac_change", m0, "rbac_change",
                      t->j->msg, sizeof t->j->msg))
        return true;
    t->j->status = dal_write_failure(t->db);
    return false;
}

static void write_attempt(MYSQL *db, dal_write_job *j)
{
    dal_tx t = {db, j};
    dal_change ch;
    memset(&ch, 0, sizeof ch);
    uint64_t m0 = 0;
    j->status = DAL_WRITE_OK;
    bool ok = tx_begin(&t, &m0) && j->op->fn(&t, &ch) && (!j->op->log || j->op->log(&t, &ch)) &&
              own_change_ids(&t, m0);
    if (ok && !dal_refresh(db, j->profile, &ch.key, 1, true, &j->batch, j->msg, sizeof j->msg)) {
        j->status = dal_write_failure(db);
        ok = false;
    }
    if (ok) {
        j->commit_sent = true;
        ok = dal_tx_execf(&t, NULL, "COMMIT");
    }
    if (!ok) {
        char err[DAL_ERR_MAX];
        if (mysql_query(db, "ROLLBACK") != 0)
            dal_error(db, "rollback", err, sizeof err);
    }
}

/* Resets what a failed attempt left behind. */
static void write_reset(dal_write_job *j)
{
    dal_batch_free(&j->batch);
    j->nids = 0;
    j->reply = 0;
    j->msg[0] = '\0';
    j->forget_sessions = false;
    j->commit_sent = false;
    j->conflict = false;
}

/* Whether the failed attempt may run again: a conflict, or a connection lost before
 * COMMIT (the server rolled back; the next attempt walks db-host to a node that answers). */
static bool write_retryable(dal_write_job *j, bool lost)
{
    if (j->status == DAL_WRITE_RETRY) {
        j->conflict = true;
        return true;
    }
    return j->status == DAL_WRITE_DBERR && lost && !j->commit_sent;
}

/* The pause before retry number k (1, 2, ...): DAL_WRITE_BACKOFF_US doubling, plus a
 * random part as long, so that two writers that conflicted do not meet again. */
static void write_backoff(int k)
{
    unsigned step = DAL_WRITE_BACKOFF_US << (k < 6 ? k - 1 : 5);
    usleep(step + randombytes_uniform(step));
}

void dal_write_run(void *arg)
{
    dal_write_job *j = arg;
    for (j->attempts = 0; j->attempts <= j->retries;) {
        if (j->attempts > 0)
            write_backoff(j->attempts);
        write_reset(j);
        j->attempts++;
        MYSQL *db = worker_db(j->msg, sizeof j->msg);
        if (!db) {
            j->status = DAL_WRITE_DBERR;
            return;
        }
        write_attempt(db, j);
        bool lost = mysql_errno(db) != 0 && db_error_is_connection(db);
        dal_done();
        if (j->status == DAL_WRITE_OK || !write_retryable(j, lost))
            return;
    }
    if (j->status == DAL_WRITE_RETRY)
        j->status = DAL_WRITE_DBERR; /* still conflicting: the message says why */
}
