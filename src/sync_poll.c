/*
 * One change-log poll, on the sync lane, and the purge of old change rows. The
 * statements are the data-access layer's (dal.h, dal_changelog.h); this file decides.
 *
 * A poll is one read-only snapshot transaction:
 *   1. gap check: the oldest row left in rbac_change must not be above the low water
 *      (rows this instance never read were purged) -> the loop does a full reload;
 *   2. fetch: "id > max_seen OR id in a hole", ascending, at most SYNC_FETCH_MAX rows;
 *   3. each row becomes a key (rbac_change.entity -> a descriptor of the profile),
 *      deduplicated; a tenant named by many keys relative to its size is read whole;
 *   4. the current rows of every key are read (dal_refresh) into the job's batch.
 * Then, outside the transaction, holes are probed with locking reads with NOWAIT over a
 * range of ids: a row held by an open transaction answers "lock wait" at once (it will
 * commit or roll back later); otherwise the rows returned are every committed id of the
 * range, and the other ids of its holes were rolled back and never appear. That settles
 * holes in one poll instead of a grace period, and never gives up on a long transaction.
 *
 * Steps 2-4 read the same snapshot, so the rows applied are at least as new as every
 * change fetched; changes committed after it are fetched by the next poll.
 */
#include "dal.h"
#include "dal_changelog.h"
#include "log.h"
#include "mem.h"
#include "sync_internal.h"
#include "util.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_FETCH_MAX           2000 /* change rows per poll; a full fetch polls again at once */
#define SYNC_TENANT_RELOAD_KEYS  64   /* keys of one tenant before its size is looked at */
#define SYNC_TENANT_RELOAD_RATIO 4    /* read whole when keys * ratio >= its users + roles */
#define SYNC_TENANT_RELOADS_MAX  4    /* tenants read whole per poll at most */
#define SYNC_PURGE_ROUNDS                                                                          \
    1 /* statements per purge job: one batch, the next one                                         \
         at the next tick (sync.c), so no lock is held long */

typedef struct keyvec {
    dal_key *v;    /* keys */
    size_t n, cap; /* used, allocated */
} keyvec;

static void keyvec_push(keyvec *kv, dal_key k)
{
    mem_grow((void **)&kv->v, &kv->cap, kv->n + 1, sizeof *kv->v);
    kv->v[kv->n++] = k;
}

/* ---------------------------------------------------------------- the fetch ---- */

typedef struct fetch_ctx {
    sync_poll_job *j; /* ids go here */
    keyvec *kv;       /* keys go here */
} fetch_ctx;

static void fetched(void *arg, uint64_t id, uint64_t tenant, const char *entity, uint64_t eid,
                    bool well_formed)
{
    fetch_ctx *x = arg;
    sync_poll_job *j = x->j;
    mem_grow((void **)&j->ids, &j->capids, j->nids + 1, sizeof *j->ids);
    j->ids[j->nids++] = id;
    dal_key k;
    if (!well_formed || !dal_key_of_change(j->profile, entity, eid, tenant, &k)) {
        j->nignored++;
        return;
    }
    keyvec_push(x->kv, k);
}

/* Reads the change rows into j->ids and their keys into kv. */
static bool fetch_changes(MYSQL *db, sync_poll_job *j, keyvec *kv)
{
    uint64_t(*ranges)[2] = mem_alloc((j->nruns ? j->nruns : 1) * sizeof *ranges);
    for (size_t i = 0; i < j->nruns; i++) {
        ranges[i][0] = j->runs[i].lo;
        ranges[i][1] = j->runs[i].hi;
    }
    fetch_ctx x = {j, kv};
    size_t n = 0;
    bool ok = dal_log_fetch(db, j->max_seen, (const uint64_t(*)[2])ranges, j->nruns, SYNC_FETCH_MAX,
                            fetched, &x, &n, j->err, sizeof j->err);
    mem_free(ranges);
    j->full = n >= SYNC_FETCH_MAX;
    return ok;
}

/* ------------------------------------------------------ one-tenant reloads ---- */

/* Adds DAL_KEY_TENANT keys for tenants that changed wholesale (kv is unique): reading a
 * tenant whole is cheaper than many keys of it once they approach its size. */
static bool plan_tenant_reloads(MYSQL *db, sync_poll_job *j, keyvec *kv)
{
    const dal_profile *p = j->profile;
    if (p->tenant_desc < 0)
        return true;
    uint64_t *t = mem_alloc((kv->n ? kv->n : 1) * sizeof *t);
    size_t n = 0;
    for (size_t i = 0; i < kv->n; i++)
        if (dal_key_tenant_scoped(p, &kv->v[i]) && kv->v[i].tenant != 0)
            t[n++] = kv->v[i].tenant;
    util_sort_u64(t, n);
    bool ok = true;
    for (size_t i = 0, k; ok && i < n && j->tenant_reloads < SYNC_TENANT_RELOADS_MAX; i = k) {
        for (k = i; k < n && t[k] == t[i];)
            k++;
        if (k - i < SYNC_TENANT_RELOAD_KEYS)
            continue;
        uint64_t size = 0;
        ok = dal_tenant_size(db, p, t[i], &size, j->err, sizeof j->err);
        if (ok && (uint64_t)(k - i) * SYNC_TENANT_RELOAD_RATIO >= size) {
            keyvec_push(kv, (dal_key){t[i], t[i], (uint8_t)p->tenant_desc, DAL_KEY_TENANT});
            j->tenant_reloads++;
        }
    }
    mem_free(t);
    return ok;
}

/* ------------------------------------------------------------------- the job ---- */

static bool poll_snapshot(MYSQL *db, sync_poll_job *j)
{
    uint64_t min_id;
    if (!dal_log_min_id(db, &min_id, j->err, sizeof j->err))
        return false;
    if (j->stale_contact || (min_id != 0 && min_id > j->low_water + 1)) {
        j->gap = true;
        return true;
    }
    keyvec kv = {0};
    bool ok = fetch_changes(db, j, &kv);
    for (size_t i = 0; ok && i < j->nfollowups; i++)
        keyvec_push(&kv, j->followups[i]);
    kv.n = dal_keys_unique(kv.v, kv.n);
    ok = ok && plan_tenant_reloads(db, j, &kv);
    ok = ok && dal_refresh(db, j->profile, kv.v, kv.n, false, &j->batch, j->err, sizeof j->err);
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
    j->galera = worker_db_galera();
    if (!dal_snapshot_begin(db, j->err, sizeof j->err)) {
        j->failed = true;
        goto done;
    }
    bool ok = poll_snapshot(db, j);
    ok = dal_snapshot_end(db, ok, j->err, sizeof j->err) && ok;
    j->failed = !ok;
    for (size_t i = 0; ok && !j->gap && i < j->nprobes; i++) {
        sync_probe *p = &j->probes[i];
        p->at_us = util_mono_us();
        p->result = dal_log_probe(db, p->lo, p->hi, &p->present);
        if (p->result == DAL_PROBE_ERROR)
            break; /* the rest stay ERROR: nothing decided */
    }
done:
    dal_done();
    j->duration_us = util_mono_us() - t0;
}

void sync_poll_job_free(sync_poll_job *j)
{
    if (!j)
        return;
    mem_free(j->runs);
    for (size_t i = 0; i < j->nprobes; i++)
        dal_ids_free(&j->probes[i].present);
    mem_free(j->probes);
    mem_free(j->followups);
    mem_free(j->ids);
    dal_batch_free(&j->batch);
    mem_free(j);
}

/* -------------------------------------------------------------------- purge ---- */

void sync_purge_run(void *arg)
{
    sync_purge_job *j = arg;
    MYSQL *db = worker_db(j->err, sizeof j->err);
    if (!db) {
        j->failed = true;
        return;
    }
    j->failed = !dal_log_purge(db, j->retention_s, j->max_id, j->batch, SYNC_PURGE_ROUNDS,
                               &j->purged, j->err, sizeof j->err);
    dal_done();
}
