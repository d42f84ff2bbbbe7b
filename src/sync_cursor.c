/*
 * The change-log cursor: which rbac_change ids this instance has applied. Pure
 * bookkeeping on the loop thread, no I/O, so it is unit-tested on its own.
 *
 * AUTO_INCREMENT hands ids out before commit, so ids become visible out of order (a
 * transaction holding 104 commits after 105 is read) or never (a rollback). A plain
 * "highest id seen" would skip 104 for ever; so the cursor keeps, below max_seen, the
 * runs of ids not seen yet:
 *
 *   applied ............ 100 | 101 102 (run: open or rolled back) | 103 ... 110 = max_seen
 *                        low water = 100
 *
 * Polls fetch "id > max_seen OR id in a run"; probes (sync_poll.c) settle runs: a
 * rolled-back id is dropped, an open transaction is waited for. A probe may span many
 * runs at once (settling them all when no transaction is open among them); a run whose
 * group found one is probed alone from then on, and split until the open id is known.
 * Runs are few in practice (one per concurrent writer), so a sorted array is enough.
 *
 * On a Galera cluster ids interleave across nodes (auto_increment_increment = cluster
 * size), so most runs are ids no node will ever use; and a transaction open on another
 * node holds no lock a probe here could see. There a probe runs after a read that waited
 * for the cluster (wsrep_sync_wait): what it misses was not committed anywhere when it
 * started. Such a run is marked absent at that time (enough for WAITREV: it cannot hold
 * a write the caller saw), and dropped only once it is older than sync-cluster-grace-ms
 * (sync.c): a transaction open on another node may still commit into it until then.
 */
#include "mem.h"
#include "sync_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Inserts a run at position pos (runs after it move up). */
static void run_insert(sync_cursor *c, size_t pos, uint64_t lo, uint64_t hi, int64_t seen_us,
                       int64_t inflight_us)
{
    mem_grow((void **)&c->runs, &c->cap, c->nruns + 1, sizeof *c->runs);
    memmove(&c->runs[pos + 1], &c->runs[pos], (c->nruns - pos) * sizeof *c->runs);
    c->runs[pos] = (sync_run){lo, hi, seen_us, inflight_us, false, 0};
    c->nruns++;
}

static void run_delete(sync_cursor *c, size_t pos)
{
    memmove(&c->runs[pos], &c->runs[pos + 1], (c->nruns - pos - 1) * sizeof *c->runs);
    c->nruns--;
}

/* Index of the first run whose hi >= id (nruns if none). */
static size_t run_lower_bound(const sync_cursor *c, uint64_t id)
{
    size_t lo = 0, hi = c->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->runs[mid].hi < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void sync_cursor_reset(sync_cursor *c, uint64_t revision, const uint64_t *holes, size_t n,
                       int64_t now_us)
{
    c->nruns = 0;
    c->max_seen = revision;
    if (n == 0)
        return;
    uint64_t *v = mem_alloc(n * sizeof *v);
    memcpy(v, holes, n * sizeof *v);
    util_sort_u64(v, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == 0 || v[i] > revision || (i > 0 && v[i] == v[i - 1]))
            continue;
        sync_run *last = c->nruns ? &c->runs[c->nruns - 1] : NULL;
        if (last && last->hi + 1 == v[i])
            last->hi = v[i];
        else
            run_insert(c, c->nruns, v[i], v[i], now_us, 0);
    }
    mem_free(v);
}

void sync_cursor_seen(sync_cursor *c, uint64_t id, int64_t now_us)
{
    if (id > c->max_seen) {
        if (id > c->max_seen + 1)
            run_insert(c, c->nruns, c->max_seen + 1, id - 1, now_us, 0);
        c->max_seen = id;
        return;
    }
    size_t pos = run_lower_bound(c, id);
    if (pos == c->nruns || c->runs[pos].lo > id)
        return; /* applied already */
    sync_run *r = &c->runs[pos];
    if (r->lo == r->hi) {
        run_delete(c, pos);
    } else if (id == r->lo) {
        r->lo++;
        r->inflight_us = 0;
    } else if (id == r->hi) {
        r->hi--;
        r->inflight_us = 0;
    } else {
        sync_run right = {id + 1, r->hi, r->seen_us, 0, r->alone, r->absent_us};
        r->hi = id - 1;
        r->inflight_us = 0;
        run_insert(c, pos + 1, right.lo, right.hi, right.seen_us, 0);
        c->runs[pos + 1].alone = right.alone;
        c->runs[pos + 1].absent_us = right.absent_us;
    }
}

void sync_cursor_absent(sync_cursor *c, uint64_t lo, uint64_t hi)
{
    size_t pos = run_lower_bound(c, lo);
    while (pos < c->nruns && c->runs[pos].lo <= hi) {
        sync_run r = c->runs[pos];
        run_delete(c, pos);
        if (r.lo < lo) {
            run_insert(c, pos, r.lo, lo - 1, r.seen_us, 0);
            c->runs[pos].absent_us = r.absent_us;
            c->runs[pos++].alone = r.alone;
        }
        if (r.hi > hi) {
            run_insert(c, pos, hi + 1, r.hi, r.seen_us, 0);
            c->runs[pos].absent_us = r.absent_us;
            c->runs[pos++].alone = r.alone;
        }
    }
}

/* Ranges to drop, collected before the runs change under the walk. */
typedef struct range_list {
    uint64_t (*v)[2]; /* [lo, hi] pairs */
    size_t n, cap;    /* used, allocated */
} range_list;

static void range_add(range_list *l, uint64_t lo, uint64_t hi)
{
    if (lo > hi)
        return;
    mem_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n][0] = lo;
    l->v[l->n][1] = hi;
    l->n++;
}

void sync_cursor_settled(sync_cursor *c, uint64_t lo, uint64_t hi, const uint64_t *present,
                         size_t n, int64_t seen_before_us)
{
    range_list drop = {0};
    size_t k = 0;
    for (size_t pos = run_lower_bound(c, lo); pos < c->nruns && c->runs[pos].lo <= hi; pos++) {
        const sync_run *r = &c->runs[pos];
        if (r->seen_us > seen_before_us)
            continue;
        uint64_t from = r->lo > lo ? r->lo : lo, to = r->hi < hi ? r->hi : hi;
        while (k < n && present[k] < from)
            k++;
        for (; k < n && present[k] <= to; k++) {
            if (present[k] > from)
                range_add(&drop, from, present[k] - 1);
            from = present[k] + 1;
        }
        if (from <= to)
            range_add(&drop, from, to);
    }
    for (size_t i = 0; i < drop.n; i++)
        sync_cursor_absent(c, drop.v[i][0], drop.v[i][1]);
    mem_free(drop.v);
}

void sync_cursor_inflight(sync_cursor *c, uint64_t lo, uint64_t hi, bool single, int64_t at_us)
{
    size_t pos = run_lower_bound(c, lo);
    while (pos < c->nruns && c->runs[pos].lo <= hi) {
        sync_run *r = &c->runs[pos];
        if (!single) {
            r->alone = true;
            pos++;
            continue;
        }
        if (r->lo == r->hi) {
            /* Only a probe of exactly this id says that this id is the open one. */
            if (lo == hi)
                r->inflight_us = at_us;
            pos++;
            continue;
        }
        uint64_t mid = r->lo + (r->hi - r->lo) / 2;
        sync_run right = {mid + 1, r->hi, r->seen_us, 0, r->alone, r->absent_us};
        r->hi = mid;
        r->inflight_us = 0;
        run_insert(c, pos + 1, right.lo, right.hi, right.seen_us, 0);
        c->runs[pos + 1].alone = right.alone;
        c->runs[pos + 1].absent_us = right.absent_us;
        pos += 2;
    }
}

void sync_cursor_absent_at(sync_cursor *c, uint64_t lo, uint64_t hi, const uint64_t *present,
                           size_t n, int64_t at_us)
{
    size_t k = 0;
    for (size_t pos = run_lower_bound(c, lo); pos < c->nruns && c->runs[pos].lo <= hi; pos++) {
        sync_run *r = &c->runs[pos];
        if (r->lo < lo || r->hi > hi)
            continue; /* only partly probed */
        while (k < n && present[k] < r->lo)
            k++;
        if (k < n && present[k] <= r->hi)
            continue; /* committed: the next fetch applies it */
        r->absent_us = at_us;
    }
}

uint64_t sync_cursor_low_water(const sync_cursor *c)
{
    return c->nruns ? c->runs[0].lo - 1 : c->max_seen;
}

uint64_t sync_cursor_missing(const sync_cursor *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->nruns; i++)
        n += c->runs[i].hi - c->runs[i].lo + 1;
    return n;
}

bool sync_cursor_reached(const sync_cursor *c, uint64_t rev, int64_t since_us)
{
    if (rev > c->max_seen)
        return false;
    for (size_t i = 0; i < c->nruns && c->runs[i].lo <= rev; i++) {
        const sync_run *r = &c->runs[i];
        if (r->absent_us != 0 && r->absent_us >= since_us)
            continue;
        if (r->lo != r->hi || r->inflight_us == 0 || r->inflight_us < since_us)
            return false;
    }
    return true;
}

void sync_cursor_free(sync_cursor *c)
{
    mem_free(c->runs);
    memset(c, 0, sizeof *c);
}
