/*
 * The model loader. A load is one job: on a worker, inside one
 * `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` (so every table is read as
 * of the same instant), each table that decides permissions is streamed row by row
 * with mysql_use_result() into the rbac builder; nothing is buffered whole, so a
 * million users cost the model's memory and not a result set's as well. Entities are
 * read before the associations that name them; rows naming unknown entities are
 * ignored by the builder (and counted).
 *
 * Loader state (below) lives on the loop thread only:
 *
 *   pending waiters --start_load()--> job (owns its waiters) --done--> waiters told
 *        ^                                                         |
 *        +--- first load failed: waiters go back, retry timer -----+
 *
 * At most one load job runs at a time; requests meanwhile gather in `pending` and
 * start the next one when it ends.
 */
#include "loader.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "rbac.h"
#include "server.h"
#include "sync.h"
#include "util.h"
#include "worker.h"

#include <event2/event.h>
#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <string.h>

#define LOADER_RETRY_MIN_MS 500  /* first retry of a failed first load */
#define LOADER_RETRY_MAX_MS 5000 /* retries never further apart than this */
#define LOADER_ERR_MAX      256  /* error text kept per job (fits server.last_load_error) */
#define ER_NO_SUCH_TABLE    1146 /* MariaDB: table does not exist */

typedef struct loader_waiter {
    loader_done_fn *done; /* may be NULL */
    void *ctx;            /* handed back to done */
} loader_waiter;

typedef struct waiter_list {
    loader_waiter *items; /* owned */
    size_t n;             /* used */
    size_t cap;           /* allocated */
} waiter_list;

typedef struct load_job {
    uint64_t tenant;          /* requested scope (0 = all); loads are full for now */
    waiter_list waiters;      /* told when this job ends */
    rbac_model *model;        /* worker: the built model, NULL on failure */
    char err[LOADER_ERR_MAX]; /* worker: why it failed */
    int64_t duration_ms;      /* worker: time the load took */
    uint64_t rows;            /* worker: rows read */
    uint64_t ignored;         /* worker: rows naming unknown entities or malformed */
    uint64_t *holes;          /* worker: change ids below the revision the snapshot lacks */
    size_t nholes, capholes;  /* used, allocated */
} load_job;

static struct {
    waiter_list pending;    /* requests for the next load */
    bool running;           /* a load job is in flight */
    struct event *retry_ev; /* armed while a failed first load waits to retry */
    int64_t retry_ms;       /* next retry delay */
    uint64_t loads_ok;      /* successful loads since start */
    uint64_t loads_failed;  /* failed loads since start */
    bool stopped;           /* loader_shutdown() ran */
} loader;

/* ------------------------------------------------------- worker side ---- */

/* One row of one table into the builder; false if the row was ignored. len[i] is the
 * length of row[i] (mysql_fetch_lengths), so no column is measured with strlen. */
typedef bool row_fn(rbac_model *m, MYSQL_ROW row, const unsigned long *len);

#define U64_SAFE_DIGITS 19 /* any 19-digit decimal fits in a uint64_t */

/* A column as an unsigned id. Ids up to 19 digits (all of them in practice) take a loop
 * without the overflow test; longer ones go through util_parse_u64, which has it. */
static bool col_u64(const char *s, unsigned long len, uint64_t *out)
{
    if (!s || len == 0)
        return false;
    if (len > U64_SAFE_DIGITS)
        return util_parse_u64(s, len, out);
    uint64_t v = 0;
    for (unsigned long i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int col_int(const char *s, unsigned long len)
{
    long long v = 0;
    if (!s || !util_parse_ll(s, len, &v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    return (int)v;
}

static bool row_tenant(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id;
    if (!col_u64(r[0], len[0], &id))
        return false;
    rbac_add_tenant(m, id, r[1] ? r[1] : "", col_int(r[2], len[2]));
    return true;
}

static bool row_package(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id;
    if (!col_u64(r[0], len[0], &id))
        return false;
    rbac_add_package(m, id, r[1] ? r[1] : "", col_int(r[2], len[2]));
    return true;
}

static bool row_menu(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id, parent;
    if (!col_u64(r[0], len[0], &id) || !col_u64(r[1], len[1], &parent))
        return false;
    return rbac_add_menu(m, id, parent, col_int(r[2], len[2]), r[3], r[4], r[5],
                         col_int(r[6], len[6]), col_int(r[7], len[7]));
}

static bool row_package_menu(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t p, mn;
    return col_u64(r[0], len[0], &p) && col_u64(r[1], len[1], &mn) &&
           rbac_add_package_menu(m, p, mn);
}

static bool row_subscription(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id, t, p;
    if (!col_u64(r[0], len[0], &id) || !col_u64(r[1], len[1], &t) || !col_u64(r[2], len[2], &p))
        return false;
    int64_t start = INT64_MIN, end = INT64_MAX; /* a NULL bound is open */
    if (r[3] && !db_parse_datetime_ms(r[3], &start))
        return false;
    if (r[4] && !db_parse_datetime_ms(r[4], &end))
        return false;
    return rbac_add_subscription(m, id, t, p, start, end, col_int(r[5], len[5]));
}

static bool row_role(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id, t;
    if (!col_u64(r[0], len[0], &id) || !col_u64(r[1], len[1], &t))
        return false;
    rbac_add_role(m, id, t, r[2] ? r[2] : "", col_int(r[3], len[3]));
    return true;
}

static bool row_role_menu(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t role, mn;
    return col_u64(r[0], len[0], &role) && col_u64(r[1], len[1], &mn) &&
           rbac_add_role_menu(m, role, mn);
}

static bool row_user(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t id, t;
    if (!col_u64(r[0], len[0], &id) || !col_u64(r[1], len[1], &t))
        return false;
    rbac_add_user(m, id, t, col_int(r[3], len[3]), col_int(r[2], len[2]) == 1);
    return true;
}

static bool row_user_role(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t u, role;
    return col_u64(r[0], len[0], &u) && col_u64(r[1], len[1], &role) &&
           rbac_add_user_role(m, u, role);
}

static bool row_user_store(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t u, s;
    return col_u64(r[0], len[0], &u) && col_u64(r[1], len[1], &s) && rbac_add_user_store(m, u, s);
}

static bool row_delegate(rbac_model *m, MYSQL_ROW r, const unsigned long *len)
{
    uint64_t u, d;
    return col_u64(r[0], len[0], &u) && col_u64(r[1], len[1], &d) && rbac_add_delegate(m, u, d);
}

typedef struct load_step {
    const char *table; /* for messages */
    unsigned ncols;    /* columns the SELECT returns */
    row_fn *fn;        /* what one row becomes */
    const char *sql;   /* the SELECT */
} load_step;

/* In dependency order: every association after the entities it names. Entity tables
 * are read in id order (menus must be, so that bitmap order is id order); association
 * tables in the order of their unique (owner, target) key, one index range per owner. */
static const load_step load_steps[] = {
    {"tenant", 3, row_tenant,
     "SELECT id, tenant_code, status FROM tenant WHERE deleted_at = 0 ORDER BY id"},
    {"tenant_package", 3, row_package,
     "SELECT id, package_code, status FROM tenant_package WHERE deleted_at = 0 ORDER BY id"},
    {"tenant_menu", 8, row_menu,
     "SELECT id, parent_id, menu_type, menu_name, perms, path, sort, status FROM tenant_menu "
     "WHERE deleted_at = 0 ORDER BY id"},
    {"tenant_package_menu", 2, row_package_menu,
     "SELECT package_id, menu_id FROM tenant_package_menu ORDER BY package_id, menu_id"},
    {"tenant_subscription", 6, row_subscription,
     "SELECT id, tenant_id, package_id, start_time, end_time, status FROM tenant_subscription"},
    {"tenant_role", 4, row_role,
     "SELECT id, tenant_id, role_code, status FROM tenant_role WHERE deleted_at = 0 ORDER BY id"},
    {"tenant_role_menu", 2, row_role_menu,
     "SELECT role_id, menu_id FROM tenant_role_menu ORDER BY role_id, menu_id"},
    {"tenant_user", 4, row_user,
     "SELECT id, tenant_id, is_admin, status FROM tenant_user WHERE deleted_at = 0 ORDER BY id"},
    {"tenant_user_role", 2, row_user_role,
     "SELECT user_id, role_id FROM tenant_user_role ORDER BY user_id, role_id"},
    {"tenant_user_store", 2, row_user_store,
     "SELECT user_id, store_id FROM tenant_user_store ORDER BY user_id, store_id"},
    {"tenant_user_delegate", 2, row_delegate,
     "SELECT user_id, delegate_user_id FROM tenant_user_delegate ORDER BY user_id, "
     "delegate_user_id"},
};

static void job_db_error(load_job *j, MYSQL *db, const char *what)
{
    snprintf(j->err, sizeof j->err, "%s: %s (%u)", what, mysql_error(db), mysql_errno(db));
}

/* Streams one SELECT through fn. False with j->err set on any database error. */
static bool stream(MYSQL *db, const load_step *st, rbac_model *m, load_job *j)
{
    if (mysql_real_query(db, st->sql, strlen(st->sql)) != 0) {
        job_db_error(j, db, st->table);
        return false;
    }
    MYSQL_RES *res = mysql_use_result(db);
    if (!res) {
        job_db_error(j, db, st->table);
        return false;
    }
    bool ok = mysql_num_fields(res) == st->ncols;
    if (!ok)
        snprintf(j->err, sizeof j->err, "%s: expected %u columns, got %u", st->table, st->ncols,
                 mysql_num_fields(res));
    MYSQL_ROW row;
    /* On a column mismatch the rows are still read out: the connection must be left
     * ready for the next statement. */
    while ((row = mysql_fetch_row(res))) {
        if (!ok)
            continue;
        j->rows++;
        if (!st->fn(m, row, mysql_fetch_lengths(res)))
            j->ignored++;
    }
    if (ok && mysql_errno(db) != 0) {
        job_db_error(j, db, st->table);
        ok = false;
    }
    mysql_free_result(res);
    return ok;
}

/* Runs a query in the snapshot and hands each row's first column to fn. */
static bool snapshot_ids(MYSQL *db, const char *sql, load_job *j,
                         void (*fn)(load_job *j, uint64_t id, void *ctx), void *ctx)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        job_db_error(j, db, "rbac_change");
        return false;
    }
    MYSQL_RES *res = mysql_use_result(db);
    if (!res) {
        job_db_error(j, db, "rbac_change");
        return false;
    }
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        uint64_t id = 0;
        if (col_u64(row[0], mysql_fetch_lengths(res)[0], &id))
            fn(j, id, ctx);
    }
    bool ok = mysql_errno(db) == 0;
    if (!ok)
        job_db_error(j, db, "rbac_change");
    mysql_free_result(res);
    return ok;
}

static void keep_u64(load_job *j, uint64_t id, void *ctx)
{
    UNUSED(j);
    *(uint64_t *)ctx = id;
}

/* Walks the ids present near the top of the log; what is missing between them is a hole:
 * a transaction open when the snapshot was taken (or rolled back). */
typedef struct hole_walk {
    uint64_t next; /* the id expected next */
} hole_walk;

static void hole_add(load_job *j, uint64_t id)
{
    mem_grow((void **)&j->holes, &j->capholes, j->nholes + 1, sizeof *j->holes);
    j->holes[j->nholes++] = id;
}

static void walk_id(load_job *j, uint64_t id, void *ctx)
{
    hole_walk *w = ctx;
    for (; w->next < id; w->next++)
        hole_add(j, w->next);
    w->next = id + 1;
}

/* The change-log position of the snapshot: changes with a higher id happened after it
 * (a missing change log reads as 0). The ids missing below it within the last
 * SYNC_LOAD_HOLE_WINDOW go to j->holes, for the change-log cursor to wait for. */
static bool read_revision(MYSQL *db, rbac_model *m, load_job *j)
{
    uint64_t rev = 0, min = 0;
    if (!snapshot_ids(db, "SELECT COALESCE(MAX(id), 0) FROM rbac_change", j, keep_u64, &rev)) {
        if (mysql_errno(db) != ER_NO_SUCH_TABLE)
            return false;
        j->err[0] = '\0';
        rbac_model_set_revision(m, 0);
        return true;
    }
    if (!snapshot_ids(db, "SELECT COALESCE(MIN(id), 0) FROM rbac_change", j, keep_u64, &min))
        return false;
    rbac_model_set_revision(m, rev);
    if (rev == 0)
        return true;
    uint64_t from = rev > SYNC_LOAD_HOLE_WINDOW ? rev - SYNC_LOAD_HOLE_WINDOW + 1 : 1;
    if (from < min)
        from = min; /* below MIN(id) is purged, not missing */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM rbac_change WHERE id >= %" PRIu64 " ORDER BY id",
             from);
    hole_walk w = {from};
    return snapshot_ids(db, sql, j, walk_id, &w);
}

static bool load_all(MYSQL *db, rbac_model *m, load_job *j)
{
    char err[LOADER_ERR_MAX];
    /* Only the next transaction: the worker's session keeps its own settings. */
    if (!db_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", err, sizeof err) ||
        !db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err, sizeof err)) {
        snprintf(j->err, sizeof j->err, "start snapshot: %.200s", err);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < ARRAY_LEN(load_steps); i++)
        ok = stream(db, &load_steps[i], m, j);
    ok = ok && read_revision(db, m, j);
    if (!db_exec(db, ok ? "COMMIT" : "ROLLBACK", err, sizeof err) && ok) {
        snprintf(j->err, sizeof j->err, "end snapshot: %.200s", err);
        ok = false;
    }
    return ok;
}

static void load_job_run(void *arg)
{
    load_job *j = arg;
    int64_t t0 = util_mono_us();
    MYSQL *db = worker_db(j->err, sizeof j->err);
    if (!db)
        return;
    rbac_model *m = rbac_model_new();
    if (!load_all(db, m, j)) {
        if (db_error_is_connection(db))
            worker_db_failed();
        rbac_model_free(m);
        return;
    }
    rbac_model_finish(m);
    j->model = m;
    j->duration_ms = (util_mono_us() - t0) / 1000;
}

static void free_model_job(void *arg)
{
    rbac_model_free(arg);
}

/* --------------------------------------------------------- loop side ---- */

static void waiters_push(waiter_list *l, loader_done_fn *done, void *ctx)
{
    mem_grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n].done = done;
    l->items[l->n].ctx = ctx;
    l->n++;
}

/* Tells every waiter of l the outcome and empties l. */
static void waiters_notify(waiter_list *l, bool ok, const char *err)
{
    waiter_list w = *l;
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < w.n; i++)
        if (w.items[i].done)
            w.items[i].done(w.items[i].ctx, ok, err);
    mem_free(w.items);
}

static void start_load(void);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    UNUSED(fd);
    UNUSED(what);
    UNUSED(arg);
    if (!loader.running && !loader.stopped)
        start_load();
}

static void schedule_retry(void)
{
    if (!loader.retry_ev)
        loader.retry_ev = evtimer_new(server.base, on_retry, NULL);
    if (loader.retry_ms < LOADER_RETRY_MIN_MS)
        loader.retry_ms = LOADER_RETRY_MIN_MS;
    struct timeval tv = {loader.retry_ms / 1000, (loader.retry_ms % 1000) * 1000};
    evtimer_add(loader.retry_ev, &tv);
    log_notice("retrying the model load in %lld ms", (long long)loader.retry_ms);
    loader.retry_ms =
        loader.retry_ms * 2 > LOADER_RETRY_MAX_MS ? LOADER_RETRY_MAX_MS : loader.retry_ms * 2;
}

static void install(load_job *j)
{
    rbac_model *old = server.model;
    server.model = j->model;
    j->model = NULL;
    server.loading = false;
    server.last_load_ms = j->duration_ms;
    server.last_load_at_ms = util_now_ms();
    server.last_load_error[0] = '\0';
    loader.retry_ms = 0;
    loader.loads_ok++;
    sync_model_loaded(j->holes, j->nholes);
    rbac_stats st;
    rbac_model_stats(server.model, &st);
    log_notice("model loaded in %lld ms: %zu tenants, %zu users, %zu roles, %zu menus, "
               "%zu packages, %zu subscriptions, %zu bytes, %" PRIu64 " rows (%" PRIu64
               " ignored), revision %" PRIu64,
               (long long)j->duration_ms, st.tenants, st.users, st.roles, st.menus, st.packages,
               st.subscriptions, st.bytes, j->rows, j->ignored, rbac_model_revision(server.model));
    /* The old model is unreachable now; freeing a big one takes a while, so a worker
     * does it -- unless the pool is going away and would never run the job. */
    if (old && server.workers && !server.shutting_down)
        worker_submit(server.workers, free_model_job, NULL, old);
    else
        rbac_model_free(old);
}

static void load_job_done(void *arg)
{
    load_job *j = arg;
    loader.running = false;
    if (loader.stopped) {
        rbac_model_free(j->model);
        waiters_notify(&j->waiters, false, "shutting down");
    } else if (j->model) {
        install(j);
        waiters_notify(&j->waiters, true, NULL);
    } else {
        loader.loads_failed++;
        snprintf(server.last_load_error, sizeof server.last_load_error, "%s", j->err);
        log_warn("model load failed: %s", j->err);
        if (!server.model && !server.shutting_down && server.base) {
            /* The first load: keep the waiters for the retry. */
            for (size_t i = 0; i < j->waiters.n; i++)
                waiters_push(&loader.pending, j->waiters.items[i].done, j->waiters.items[i].ctx);
            mem_free(j->waiters.items);
            memset(&j->waiters, 0, sizeof j->waiters);
            schedule_retry();
        } else {
            waiters_notify(&j->waiters, false, j->err);
        }
    }
    mem_free(j->waiters.items);
    mem_free(j->holes);
    mem_free(j);
    bool retry_armed = loader.retry_ev && evtimer_pending(loader.retry_ev, NULL);
    if (loader.pending.n && !loader.running && !loader.stopped && !retry_armed && server.workers &&
        !server.shutting_down)
        start_load();
}

static void start_load(void)
{
    load_job *j = mem_calloc(1, sizeof *j);
    j->waiters = loader.pending;
    memset(&loader.pending, 0, sizeof loader.pending);
    loader.running = true;
    log_verbose("model load started");
    /* On the sync lane once it runs: a load then sits in commit order between writes
     * and change-log polls, so nothing they applied is lost when the model is swapped. */
    struct worker_pool *lane = sync_lane();
    worker_submit(lane ? lane : server.workers, load_job_run, load_job_done, j);
}

void loader_start(uint64_t tenant, loader_done_fn *done, void *ctx)
{
    UNUSED(tenant); /* one-tenant reloads are full reloads for now */
    if (loader.stopped) {
        log_warn("model load requested after shutdown; ignored");
        return;
    }
    waiters_push(&loader.pending, done, ctx);
    if (!server.workers)
        return; /* no pool (stopping): loader_shutdown() answers the waiter */
    bool retry_armed = loader.retry_ev && evtimer_pending(loader.retry_ev, NULL);
    if (!loader.running && !retry_armed)
        start_load();
}

void loader_counters(uint64_t *loads_ok, uint64_t *loads_failed)
{
    *loads_ok = loader.loads_ok;
    *loads_failed = loader.loads_failed;
}

static void loader_shutdown(void)
{
    loader.stopped = true;
    if (loader.retry_ev) {
        event_free(loader.retry_ev);
        loader.retry_ev = NULL;
    }
    waiters_notify(&loader.pending, false, "shutting down");
    rbac_model_free(server.model);
    server.model = NULL;
}

/* Queues the first load: no waiter, the server serves -LOADING until it is in. */
static bool loader_init(void)
{
    loader_start(0, NULL, NULL);
    return true;
}

const module loader_module = {
    .name = "loader",
    .init = loader_init,
    .shutdown = loader_shutdown,
};
