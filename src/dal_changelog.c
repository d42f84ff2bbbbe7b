/*
 * The rbac_change statements (dal_changelog.h). Ids come from AUTO_INCREMENT, handed
 * out before commit, so a reader can see id N+1 committed while N is still open: the
 * callers keep such holes and probe them here until they commit or are known never to.
 */
#include "dal_changelog.h"
#include "buf.h"
#include "dal.h"
#include "mem.h"
#include "util.h"

#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

void dal_ids_push(dal_ids *ids, uint64_t id)
{
    mem_grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v);
    ids->v[ids->n++] = id;
}

void dal_ids_free(dal_ids *ids)
{
    mem_free(ids->v);
    memset(ids, 0, sizeof *ids);
}

/* ------------------------------------------------------------- revision ---- */

/* Walks the ids present near the top of the log; what is missing between them is a
 * hole. */
typedef struct hole_walk {
    uint64_t next;  /* the id expected next */
    dal_ids *holes; /* where missing ids go */
} hole_walk;

static bool walk_id(void *ctx, MYSQL_ROW row, const unsigned long *len)
{
    hole_walk *w = ctx;
    uint64_t id;
    if (!dal_col_u64(row[0], len[0], &id))
        return true;
    for (; w->next < id; w->next++)
        dal_ids_push(w->holes, w->next);
    w->next = id + 1;
    return true;
}

bool dal_log_revision(MYSQL *db, uint64_t window, uint64_t *rev, dal_ids *holes, char *err,
                      size_t errlen)
{
    uint64_t min = 0;
    *rev = 0;
    if (!dal_query_u64(db, "SELECT COALESCE(MAX(id), 0) FROM rbac_change", rev, "rbac_change", err,
                       errlen)) {
        if (mysql_errno(db) != ER_NO_SUCH_TABLE)
            return false;
        err[0] = '\0'; /* no change log: revision 0 */
        return true;
    }
    if (!dal_query_u64(db, "SELECT COALESCE(MIN(id), 0) FROM rbac_change", &min, "rbac_change", err,
                       errlen))
        return false;
    if (*rev == 0)
        return true;
    uint64_t from = *rev > window ? *rev - window + 1 : 1;
    if (from < min)
        from = min; /* below MIN(id) is purged, not missing */
    char sql[128];
    int n = snprintf(sql, sizeof sql,
                     "SELECT id FROM rbac_change WHERE id >= %" PRIu64 " ORDER BY id", from);
    hole_walk w = {from, holes};
    return dal_query_rows(db, sql, (size_t)n, 1, walk_id, &w, "rbac_change", err, errlen);
}

bool dal_log_min_id(MYSQL *db, uint64_t *out, char *err, size_t errlen)
{
    return dal_query_u64(db, "SELECT MIN(id) FROM rbac_change", out, "rbac_change", err, errlen);
}

/* ---------------------------------------------------------------- fetch ---- */

typedef struct fetch_ctx {
    dal_change_fn *fn; /* the caller's */
    void *ctx;         /* its context */
    size_t n;          /* rows */
} fetch_ctx;

static bool fetch_row(void *arg, MYSQL_ROW r, const unsigned long *len)
{
    fetch_ctx *x = arg;
    uint64_t id, tenant = 0, eid = 0;
    if (!dal_col_u64(r[0], len[0], &id))
        return true;
    x->n++;
    bool ok = dal_col_u64(r[1], len[1], &tenant) && dal_col_u64(r[3], len[3], &eid);
    x->fn(x->ctx, id, tenant, r[2], eid, ok);
    return true;
}

bool dal_log_fetch(MYSQL *db, uint64_t above, const uint64_t (*ranges)[2], size_t nranges,
                   size_t limit, dal_change_fn *fn, void *ctx, size_t *n, char *err, size_t errlen)
{
    buf sql;
    buf_init(&sql);
    buf_printf(&sql, "SELECT id, tenant_id, entity, entity_id FROM rbac_change WHERE id > %" PRIu64,
               above);
    for (size_t i = 0; i < nranges; i++)
        buf_printf(&sql, " OR id BETWEEN %" PRIu64 " AND %" PRIu64, ranges[i][0], ranges[i][1]);
    buf_printf(&sql, " ORDER BY id LIMIT %zu", limit);
    fetch_ctx x = {fn, ctx, 0};
    bool ok = dal_query_rows(db, sql.data, sql.len, 4, fetch_row, &x, "rbac_change", err, errlen);
    buf_free(&sql);
    *n = x.n;
    return ok;
}

/* ---------------------------------------------------------------- probe ---- */

/* What a failed probe means: "lock wait" is an open transaction holding an id. The
 * error can come with the query or, once rows are being read, with the result. */
static int probe_failure(MYSQL *db)
{
    if (mysql_errno(db) == ER_LOCK_WAIT_TIMEOUT)
        return DAL_PROBE_INFLIGHT;
    char err[DAL_ERR_MAX];
    dal_error(db, "probe", err, sizeof err);
    return DAL_PROBE_ERROR;
}

int dal_log_probe(MYSQL *db, uint64_t lo, uint64_t hi, dal_ids *present)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT id FROM rbac_change WHERE id BETWEEN %" PRIu64 " AND %" PRIu64
             " ORDER BY id LOCK IN SHARE MODE NOWAIT",
             lo, hi);
    if (mysql_real_query(db, sql, strlen(sql)) != 0)
        return probe_failure(db);
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return probe_failure(db);
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id;
        if (dal_col_u64(r[0], mysql_fetch_lengths(res)[0], &id))
            dal_ids_push(present, id);
    }
    mysql_free_result(res);
    return DAL_PROBE_SETTLED;
}

/* ---------------------------------------------------------------- purge ---- */

/* The purge deletes by id below a cutoff: the highest id old enough, at most the low
 * water of the instance purging. Bounding the scan by id keeps the DELETE off recent
 * rows, whose locks a concurrent probe would mistake for an open transaction. The ids
 * are picked by a plain (non-locking) read and deleted by primary key: a range DELETE
 * would also lock the first row past its end, and when an open transaction holds that
 * one (the very id the low water waits for) the purge would wait for it, then fail. */
static bool collect_id(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    buf *q = arg;
    uint64_t id;
    if (!dal_col_u64(row[0], len[0], &id))
        return false;
    buf_printf(q, "%s%" PRIu64, q->data[q->len - 1] == '(' ? "" : ",", id);
    return true;
}

bool dal_log_purge(MYSQL *db, long long retention_s, uint64_t max_id, int rows, int rounds,
                   uint64_t *purged, char *err, size_t errlen)
{
    char sql[256];
    uint64_t cutoff = 0;
    snprintf(sql, sizeof sql,
             "SELECT MAX(id) FROM rbac_change WHERE changed_at < NOW(3) - INTERVAL %lld SECOND",
             retention_s);
    if (!dal_query_u64(db, sql, &cutoff, "rbac_change", err, errlen))
        return false;
    if (cutoff > max_id)
        cutoff = max_id;
    int n = snprintf(sql, sizeof sql,
                     "SELECT id FROM rbac_change WHERE id <= %" PRIu64
                     " AND changed_at < NOW(3) - INTERVAL %lld SECOND ORDER BY id LIMIT %d",
                     cutoff, retention_s, rows);
    bool ok = true;
    buf q;
    buf_init(&q);
    for (int round = 0; ok && cutoff > 0 && round < rounds; round++) {
        buf_clear(&q);
        buf_append_str(&q, "DELETE FROM rbac_change WHERE id IN (");
        size_t empty = q.len;
        if (!dal_query_rows(db, sql, (size_t)n, 1, collect_id, &q, "purge rbac_change", err,
                            errlen)) {
            ok = false;
            break;
        }
        if (q.len == empty)
            break;
        buf_append_str(&q, ")");
        if (mysql_real_query(db, q.data, q.len) != 0) {
            dal_error(db, "purge rbac_change", err, errlen);
            ok = false;
            break;
        }
        my_ulonglong got = mysql_affected_rows(db);
        if (got == (my_ulonglong)-1)
            break;
        *purged += got;
        if (got < (my_ulonglong)rows)
            break;
    }
    buf_free(&q);
    return ok;
}
