/*
 * One change-log poll, on the sync lane, and the purge of old change rows.
 *
 * A poll is one read-only snapshot transaction:
 *   1. gap check: the oldest row left in rbac_change must not be above the low water
 *      (rows this instance never read were purged) -> the loop does a full reload;
 *   2. fetch: "id > max_seen OR id in a hole", ascending, at most SYNC_FETCH_MAX rows;
 *   3. each row becomes a key (rbac_change.entity -> enum sync_kind), deduplicated; a
 *      tenant named by many keys relative to its size is read whole instead;
 *   4. the current rows of every key are read (sync_read.c) into the job's batch.
 * Then, outside the transaction, holes are probed with locking reads with NOWAIT over a
 * range of ids: a row held by an open transaction answers "lock wait" at once (it will
 * commit or roll back later); otherwise the rows returned are every committed id of the
 * range, and the other ids of its holes were rolled back and never appear. That settles
 * holes in one poll instead of a grace period, and never gives up on a long transaction.
 *
 * Steps 2-4 read the same snapshot, so the rows applied are at least as new as every
 * change fetched; changes committed after it are fetched by the next poll.
 */
#include "buf.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "sync_internal.h"
#include "util.h"
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_FETCH_MAX            2000 /* change rows per poll; a full fetch polls again at once */
#define SYNC_TENANT_RELOAD_KEYS   64   /* keys of one tenant before its size is looked at */
#define SYNC_TENANT_RELOAD_RATIO  4    /* read whole when keys * ratio >= its users + roles */
#define SYNC_TENANT_RELOADS_MAX   4    /* tenants read whole per poll at most */
#define SYNC_PURGE_ROWS           5000 /* rows per DELETE statement */
#define SYNC_PURGE_ROUNDS         20   /* statements per purge run */
#define ER_LOCK_WAIT_TIMEOUT_CODE 1205 /* MariaDB: lock wait timeout (NOWAIT: held) */

/* rbac_change.entity -> what to re-read (SPEC §1, schema/003_triggers.sql). */
static const struct {
    const char *entity; /* table name as the triggers write it */
    int kind;           /* enum sync_kind */
} entity_kinds[] = {
    {"tenant", SYNC_K_TENANT},
    {"tenant_package", SYNC_K_PACKAGE},
    {"tenant_menu", SYNC_K_MENU},
    {"tenant_package_menu", SYNC_K_PACKAGE_MENU},
    {"tenant_subscription", SYNC_K_SUBS},
    {"tenant_role", SYNC_K_ROLE},
    {"tenant_role_menu", SYNC_K_ROLE_MENU},
    {"tenant_user", SYNC_K_USER},
    {"tenant_user_role", SYNC_K_USER_ROLE},
    {"tenant_user_store", SYNC_K_USER_STORE},
    {"tenant_user_delegate", SYNC_K_USER_DELEGATE},
    {"tenant_session", SYNC_K_SESSION},
};

static int entity_kind(const char *entity)
{
    for (size_t i = 0; entity && i < ARRAY_LEN(entity_kinds); i++)
        if (strcmp(entity, entity_kinds[i].entity) == 0)
            return entity_kinds[i].kind;
    return -1;
}

typedef struct keyvec {
    sync_key *v;   /* keys */
    size_t n, cap; /* used, allocated */
} keyvec;

static void keyvec_push(keyvec *kv, int kind, uint64_t id, uint64_t tenant)
{
    mem_grow((void **)&kv->v, &kv->cap, kv->n + 1, sizeof *kv->v);
    kv->v[kv->n++] = (sync_key){id, tenant, (uint8_t)kind};
}

/* Runs a query returning one unsigned number (0 for NULL). */
static bool query_u64(MYSQL *db, const char *sql, uint64_t *out, char *err, size_t errlen)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        sync_db_error(db, "rbac_change", err, errlen);
        return false;
    }
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) {
        sync_db_error(db, "rbac_change", err, errlen);
        return false;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    *out = 0;
    if (row && row[0] && !sync_col_u64(row[0], out))
        *out = 0;
    mysql_free_result(res);
    return true;
}

/* ---------------------------------------------------------------- the fetch ---- */

static void fetch_sql(const sync_poll_job *j, buf *sql)
{
    buf_printf(sql, "SELECT id, tenant_id, entity, entity_id FROM rbac_change WHERE id > %" PRIu64,
               j->max_seen);
    for (size_t i = 0; i < j->nruns; i++)
        buf_printf(sql, " OR id BETWEEN %" PRIu64 " AND %" PRIu64, j->runs[i].lo, j->runs[i].hi);
    buf_printf(sql, " ORDER BY id LIMIT %d", SYNC_FETCH_MAX);
}

/* Reads the change rows into j->ids and their keys into kv. */
static bool fetch_changes(MYSQL *db, sync_poll_job *j, keyvec *kv)
{
    buf sql;
    buf_init(&sql);
    fetch_sql(j, &sql);
    bool ok = mysql_real_query(db, sql.data, sql.len) == 0;
    buf_free(&sql);
    MYSQL_RES *res = ok ? mysql_use_result(db) : NULL;
    if (!res) {
        sync_db_error(db, "rbac_change", j->err, sizeof j->err);
        return false;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id, tenant, eid;
        if (!sync_col_u64(r[0], &id))
            continue;
        mem_grow((void **)&j->ids, &j->capids, j->nids + 1, sizeof *j->ids);
        j->ids[j->nids++] = id;
        int kind = entity_kind(r[2]);
        if (kind < 0 || !sync_col_u64(r[1], &tenant) || !sync_col_u64(r[3], &eid)) {
            j->nignored++;
            continue;
        }
        /* Subscriptions are refreshed per tenant: the key is the tenant. */
        keyvec_push(kv, kind, kind == SYNC_K_SUBS ? tenant : eid, tenant);
    }
    ok = mysql_errno(db) == 0;
    if (!ok)
        sync_db_error(db, "rbac_change", j->err, sizeof j->err);
    mysql_free_result(res);
    j->full = j->nids >= SYNC_FETCH_MAX;
    return ok;
}

/* ------------------------------------------------------ one-tenant reloads ---- */

static bool tenant_scoped(int kind)
{
    return kind == SYNC_K_ROLE || kind == SYNC_K_ROLE_MENU || kind == SYNC_K_USER ||
           kind == SYNC_K_USER_ROLE || kind == SYNC_K_USER_STORE || kind == SYNC_K_USER_DELEGATE;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Whether reading tenant t whole is cheaper than its `keys` single keys (*worth). */
static bool tenant_worth_reloading(MYSQL *db, uint64_t t, size_t keys, bool *worth, char *err,
                                   size_t errlen)
{
    char sql[192];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM tenant_user WHERE tenant_id = %" PRIu64
             ") + (SELECT COUNT(*) FROM tenant_role WHERE tenant_id = %" PRIu64 ")",
             t, t);
    uint64_t size;
    if (!query_u64(db, sql, &size, err, errlen))
        return false;
    *worth = (uint64_t)keys * SYNC_TENANT_RELOAD_RATIO >= size;
    return true;
}

/* Adds SYNC_K_TENANT_ALL keys for tenants that changed wholesale (kv is unique). */
static bool plan_tenant_reloads(MYSQL *db, sync_poll_job *j, keyvec *kv)
{
    uint64_t *t = mem_alloc((kv->n ? kv->n : 1) * sizeof *t);
    size_t n = 0;
    for (size_t i = 0; i < kv->n; i++)
        if (tenant_scoped(kv->v[i].kind) && kv->v[i].tenant != 0)
            t[n++] = kv->v[i].tenant;
    qsort(t, n, sizeof *t, cmp_u64);
    bool ok = true;
    for (size_t i = 0, k; ok && i < n && j->tenant_reloads < SYNC_TENANT_RELOADS_MAX; i = k) {
        for (k = i; k < n && t[k] == t[i];)
            k++;
        bool worth = false;
        if (k - i < SYNC_TENANT_RELOAD_KEYS)
            continue;
        ok = tenant_worth_reloading(db, t[i], k - i, &worth, j->err, sizeof j->err);
        if (ok && worth) {
            keyvec_push(kv, SYNC_K_TENANT_ALL, t[i], t[i]);
            j->tenant_reloads++;
        }
    }
    mem_free(t);
    return ok;
}

/* ------------------------------------------------------------------- probes ---- */

/* What a failed probe means: "lock wait" is an open transaction holding an id. The
 * error can come with the query or, once rows are being read, with the result. */
static int probe_failure(MYSQL *db)
{
    if (mysql_errno(db) == ER_LOCK_WAIT_TIMEOUT_CODE)
        return SYNC_PROBE_INFLIGHT;
    char err[SYNC_ERR_MAX];
    sync_db_error(db, "probe", err, sizeof err);
    return SYNC_PROBE_ERROR;
}

static void probe_one(MYSQL *db, sync_probe *p)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT id FROM rbac_change WHERE id BETWEEN %" PRIu64 " AND %" PRIu64
             " ORDER BY id LOCK IN SHARE MODE NOWAIT",
             p->lo, p->hi);
    p->at_us = util_mono_us();
    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        p->result = probe_failure(db);
        return;
    }
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) {
        p->result = probe_failure(db);
        return;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res))) {
        uint64_t id;
        if (!sync_col_u64(r[0], &id))
            continue;
        mem_grow((void **)&p->present, &p->cappresent, p->npresent + 1, sizeof *p->present);
        p->present[p->npresent++] = id;
    }
    p->result = SYNC_PROBE_SETTLED;
    mysql_free_result(res);
}

/* ------------------------------------------------------------------- the job ---- */

static bool poll_snapshot(MYSQL *db, sync_poll_job *j)
{
    uint64_t min_id;
    if (!query_u64(db, "SELECT MIN(id) FROM rbac_change", &min_id, j->err, sizeof j->err))
        return false;
    if (j->stale_contact || (min_id != 0 && min_id > j->low_water + 1)) {
        j->gap = true;
        return true;
    }
    keyvec kv = {0};
    bool ok = fetch_changes(db, j, &kv);
    for (size_t i = 0; ok && i < j->nfollowups; i++)
        keyvec_push(&kv, j->followups[i].kind, j->followups[i].id, j->followups[i].tenant);
    kv.n = sync_keys_unique(kv.v, kv.n);
    ok = ok && plan_tenant_reloads(db, j, &kv);
    ok = ok && sync_read_state(db, kv.v, kv.n, false, &j->batch, j->err, sizeof j->err);
    mem_free(kv.v);
    return ok;
}

void sync_poll_run(void *arg)
{
    sync_poll_job *j = arg;
    int64_t t0 = util_mono_us();
    MYSQL *db = worker_db(j->err, sizeof j->err);
    if (!db) {
        j->failed = true;
        goto done;
    }
    char err[SYNC_ERR_MAX];
    if (!db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err, sizeof err)) {
        sync_db_error(db, "start snapshot", j->err, sizeof j->err);
        j->failed = true;
        goto done;
    }
    bool ok = poll_snapshot(db, j);
    if (!db_exec(db, ok ? "COMMIT" : "ROLLBACK", err, sizeof err) && ok) {
        sync_db_error(db, "end snapshot", j->err, sizeof j->err);
        ok = false;
    }
    j->failed = !ok;
    for (size_t i = 0; ok && !j->gap && i < j->nprobes; i++) {
        probe_one(db, &j->probes[i]);
        if (j->probes[i].result == SYNC_PROBE_ERROR)
            break; /* the rest stay ERROR: nothing decided */
    }
done:
    sync_db_done();
    j->duration_us = util_mono_us() - t0;
}

void sync_poll_job_free(sync_poll_job *j)
{
    if (!j)
        return;
    mem_free(j->runs);
    for (size_t i = 0; i < j->nprobes; i++)
        mem_free(j->probes[i].present);
    mem_free(j->probes);
    mem_free(j->followups);
    mem_free(j->ids);
    sync_batch_free(&j->batch);
    mem_free(j);
}

/* -------------------------------------------------------------------- purge ---- */

/* The purge deletes by id below a cutoff: the highest id old enough, at most the low
 * water of the instance purging. Bounding the scan by id keeps the DELETE off recent
 * rows, whose locks a concurrent probe would mistake for an open transaction. */
void sync_purge_run(void *arg)
{
    sync_purge_job *j = arg;
    MYSQL *db = worker_db(j->err, sizeof j->err);
    if (!db) {
        j->failed = true;
        return;
    }
    char sql[256];
    uint64_t cutoff = 0;
    snprintf(sql, sizeof sql,
             "SELECT MAX(id) FROM rbac_change WHERE changed_at < NOW(3) - INTERVAL %lld SECOND",
             j->retention_s);
    if (!query_u64(db, sql, &cutoff, j->err, sizeof j->err)) {
        j->failed = true;
        sync_db_done();
        return;
    }
    if (cutoff > j->max_id)
        cutoff = j->max_id;
    snprintf(sql, sizeof sql,
             "DELETE FROM rbac_change WHERE id <= %" PRIu64
             " AND changed_at < NOW(3) - INTERVAL %lld SECOND ORDER BY id LIMIT %d",
             cutoff, j->retention_s, SYNC_PURGE_ROWS);
    for (int round = 0; cutoff > 0 && round < SYNC_PURGE_ROUNDS; round++) {
        if (mysql_real_query(db, sql, strlen(sql)) != 0) {
            sync_db_error(db, "purge rbac_change", j->err, sizeof j->err);
            j->failed = true;
            break;
        }
        my_ulonglong n = mysql_affected_rows(db);
        if (n == (my_ulonglong)-1)
            break;
        j->purged += n;
        if (n < SYNC_PURGE_ROWS)
            break;
    }
    sync_db_done();
}
