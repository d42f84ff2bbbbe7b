/*
 * Re-reading what changed, on the sync lane: keys (an entity, or an owner whose list
 * changed) in, the current rows out (a sync_batch). Reads are batched: one query per
 * table per SYNC_IN_CHUNK ids, "WHERE id IN (...)", never one query per key, so a poll
 * that names a thousand users costs a handful of round trips.
 *
 * Every owner asked for gets a list in the batch, an empty one included: an empty list
 * is what says "the last role was revoked". Every entity asked for gets a record; a row
 * that is gone or soft-deleted is a record with live = false, which removes it.
 *
 * A one-tenant key (SYNC_K_TENANT_ALL) reads every role and user of the tenant with its
 * lists by tenant_id; single keys of that tenant the tenant-wide read found are then
 * not read again, and those it did not find (a hard delete, a user moved to another
 * tenant) are read one by one as usual.
 *
 * Association rows are read in the order of their unique (owner, target) key, which the
 * schema indexes, so each owner's list is one index range.
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

#define SYNC_IN_CHUNK 500 /* ids per IN (...) list */

/* ---------------------------------------------------------------- helpers ---- */

bool sync_col_u64(const char *s, uint64_t *out)
{
    return s && util_parse_u64(s, strlen(s), out);
}

int sync_col_int(const char *s)
{
    long long v = 0;
    if (!s || !util_parse_ll(s, strlen(s), &v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    return (int)v;
}

/* Set when a statement of the running lane job lost the connection; the handle stays
 * open (later statements of the job fail cleanly on it) until sync_db_done(). */
static _Thread_local bool tl_connection_lost;

void sync_db_error(MYSQL *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(db), mysql_errno(db));
    if (db_error_is_connection(db))
        tl_connection_lost = true;
}

void sync_db_done(void)
{
    if (tl_connection_lost) {
        tl_connection_lost = false;
        worker_db_failed();
    }
}

static char *dup_or_null(const char *s)
{
    return s && *s ? mem_strdup(s) : NULL;
}

/* Grows an array by one zeroed element and returns it. */
#define PUSH(arr, n, cap)                                                                          \
    (mem_grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr)),                                    \
     memset(&(arr)[(n)], 0, sizeof *(arr)), &(arr)[(n)++])

static int cmp_key(const void *a, const void *b)
{
    const sync_key *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->tenant > y->tenant) - (x->tenant < y->tenant);
}

size_t sync_keys_unique(sync_key *keys, size_t n)
{
    if (n < 2)
        return n;
    qsort(keys, n, sizeof *keys, cmp_key);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (cmp_key(&keys[i], &keys[w - 1]) != 0)
            keys[w++] = keys[i];
    return w;
}

/* ------------------------------------------------------------------ id sets ---- */

typedef struct idset {
    uint64_t *v; /* ascending, unique once sealed */
    size_t n;    /* used */
    size_t cap;  /* allocated */
} idset;

static void idset_add(idset *s, uint64_t id)
{
    mem_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n++] = id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void idset_seal(idset *s)
{
    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < s->n; i++)
        if (s->v[i] != s->v[w - 1])
            s->v[w++] = s->v[i];
    s->n = w;
}

static bool idset_has(const idset *s, uint64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo] == id;
}

/* Drops from s (sealed) every id in found (sealed). */
static void idset_subtract(idset *s, const idset *found)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!idset_has(found, s->v[i]))
            s->v[w++] = s->v[i];
    s->n = w;
}

static void idset_free(idset *s)
{
    mem_free(s->v);
    memset(s, 0, sizeof *s);
}

/* Appends "a,b,c" for v[0..n) to sql. */
static void append_ids(buf *sql, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(sql, "%s%" PRIu64, i ? "," : "", v[i]);
}

/* Runs sql and streams its rows through fn. */
typedef bool row_fn(void *ctx, MYSQL_ROW row);

static bool query_rows(MYSQL *db, const buf *sql, unsigned ncols, row_fn *fn, void *ctx,
                       const char *what, char *err, size_t errlen)
{
    if (mysql_real_query(db, sql->data, sql->len) != 0) {
        sync_db_error(db, what, err, errlen);
        return false;
    }
    MYSQL_RES *res = mysql_use_result(db);
    if (!res) {
        sync_db_error(db, what, err, errlen);
        return false;
    }
    bool ok = mysql_num_fields(res) == ncols;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        if (ok && !fn(ctx, row))
            ok = false; /* keep reading: the connection must be left clean */
    if (mysql_errno(db) != 0) {
        sync_db_error(db, what, err, errlen);
        ok = false;
    } else if (!ok) {
        snprintf(err, errlen, "%s: unexpected result", what);
    }
    mysql_free_result(res);
    return ok;
}

/* ----------------------------------------------------------------- entities ---- */

/* One entity table: how to select it and what a row (or a missing row) becomes. */
typedef struct entity_reader {
    const char *what;   /* table, for messages */
    const char *select; /* "SELECT ... FROM t WHERE " */
    unsigned ncols;     /* columns; the first is the id */
    /* Adds the record for a row; deleted is deleted_at <> 0. */
    void (*row)(sync_batch *b, MYSQL_ROW r, uint64_t id);
    /* Adds a live = false record for an id with no row. */
    void (*absent)(sync_batch *b, uint64_t id);
} entity_reader;

static bool row_live(const char *deleted_at)
{
    return deleted_at && strcmp(deleted_at, "0") == 0;
}

static void tenant_row(sync_batch *b, MYSQL_ROW r, uint64_t id)
{
    sync_tenant_rec *t = PUSH(b->tenants, b->ntenants, b->captenants);
    t->id = id;
    t->code = mem_strdup(r[1] ? r[1] : "");
    t->status = sync_col_int(r[2]);
    t->live = row_live(r[3]);
}

static void tenant_absent(sync_batch *b, uint64_t id)
{
    PUSH(b->tenants, b->ntenants, b->captenants)->id = id;
}

static void package_row(sync_batch *b, MYSQL_ROW r, uint64_t id)
{
    sync_package_rec *p = PUSH(b->packages, b->npackages, b->cappackages);
    p->id = id;
    p->code = mem_strdup(r[1] ? r[1] : "");
    p->status = sync_col_int(r[2]);
    p->live = row_live(r[3]);
}

static void package_absent(sync_batch *b, uint64_t id)
{
    PUSH(b->packages, b->npackages, b->cappackages)->id = id;
}

static void menu_row(sync_batch *b, MYSQL_ROW r, uint64_t id)
{
    sync_menu_rec *m = PUSH(b->menus, b->nmenus, b->capmenus);
    m->id = id;
    if (!sync_col_u64(r[1], &m->parent_id))
        m->parent_id = 0;
    m->type = sync_col_int(r[2]);
    m->name = mem_strdup(r[3] ? r[3] : "");
    m->perms = dup_or_null(r[4]);
    m->path = dup_or_null(r[5]);
    m->sort = sync_col_int(r[6]);
    m->status = sync_col_int(r[7]);
    m->live = row_live(r[8]);
}

static void menu_absent(sync_batch *b, uint64_t id)
{
    PUSH(b->menus, b->nmenus, b->capmenus)->id = id;
}

static void role_row(sync_batch *b, MYSQL_ROW r, uint64_t id)
{
    sync_role_rec *x = PUSH(b->roles, b->nroles, b->caproles);
    x->id = id;
    x->live = sync_col_u64(r[1], &x->tenant_id) && row_live(r[4]);
    x->code = mem_strdup(r[2] ? r[2] : "");
    x->status = sync_col_int(r[3]);
}

static void role_absent(sync_batch *b, uint64_t id)
{
    PUSH(b->roles, b->nroles, b->caproles)->id = id;
}

static void user_row(sync_batch *b, MYSQL_ROW r, uint64_t id)
{
    sync_user_rec *u = PUSH(b->users, b->nusers, b->capusers);
    u->id = id;
    u->live = sync_col_u64(r[1], &u->tenant_id) && row_live(r[4]);
    u->admin = sync_col_int(r[2]) == 1;
    u->status = sync_col_int(r[3]);
}

static void user_absent(sync_batch *b, uint64_t id)
{
    PUSH(b->users, b->nusers, b->capusers)->id = id;
}

static const entity_reader reader_tenant = {
    "tenant", "SELECT id, tenant_code, status, deleted_at FROM tenant WHERE ", 4, tenant_row,
    tenant_absent};
static const entity_reader reader_package = {
    "tenant_package", "SELECT id, package_code, status, deleted_at FROM tenant_package WHERE ", 4,
    package_row, package_absent};
static const entity_reader reader_menu = {
    "tenant_menu",
    "SELECT id, parent_id, menu_type, menu_name, perms, path, sort, status, deleted_at "
    "FROM tenant_menu WHERE ",
    9, menu_row, menu_absent};
static const entity_reader reader_role = {
    "tenant_role", "SELECT id, tenant_id, role_code, status, deleted_at FROM tenant_role WHERE ", 5,
    role_row, role_absent};
static const entity_reader reader_user = {
    "tenant_user", "SELECT id, tenant_id, is_admin, status, deleted_at FROM tenant_user WHERE ", 5,
    user_row, user_absent};

typedef struct entity_ctx {
    const entity_reader *rd; /* the table */
    sync_batch *b;           /* records go here */
    idset *found;            /* ids that had a row */
} entity_ctx;

static bool entity_row_cb(void *arg, MYSQL_ROW r)
{
    entity_ctx *x = arg;
    uint64_t id;
    if (!sync_col_u64(r[0], &id))
        return true; /* a malformed id names nothing */
    x->rd->row(x->b, r, id);
    idset_add(x->found, id);
    return true;
}

/* Reads the rows matching where (" id IN (...)" or " tenant_id = N") into b; their ids
 * are added to found. */
static bool entities_where(MYSQL *db, const entity_reader *rd, const char *where, size_t wlen,
                           bool lock, sync_batch *b, idset *found, char *err, size_t errlen)
{
    buf sql;
    buf_init(&sql);
    buf_append_str(&sql, rd->select);
    buf_append(&sql, where, wlen);
    buf_append_str(&sql, " ORDER BY id");
    if (lock)
        buf_append_str(&sql, " LOCK IN SHARE MODE");
    entity_ctx x = {rd, b, found};
    bool ok = query_rows(db, &sql, rd->ncols, entity_row_cb, &x, rd->what, err, errlen);
    buf_free(&sql);
    return ok;
}

/* Reads the entities ids[0..n) (sealed) into b, absent records for ids without a row. */
static bool entities_by_id(MYSQL *db, const entity_reader *rd, const idset *ids, bool lock,
                           sync_batch *b, char *err, size_t errlen)
{
    idset found = {0};
    bool ok = true;
    for (size_t off = 0; ok && off < ids->n; off += SYNC_IN_CHUNK) {
        size_t k = ids->n - off < SYNC_IN_CHUNK ? ids->n - off : SYNC_IN_CHUNK;
        buf where;
        buf_init(&where);
        buf_append_str(&where, "id IN (");
        append_ids(&where, ids->v + off, k);
        buf_append_str(&where, ")");
        ok = entities_where(db, rd, where.data, where.len, lock, b, &found, err, errlen);
        buf_free(&where);
    }
    idset_seal(&found);
    for (size_t i = 0; ok && i < ids->n; i++)
        if (!idset_has(&found, ids->v[i]))
            rd->absent(b, ids->v[i]);
    idset_free(&found);
    return ok;
}

/* -------------------------------------------------------------------- lists ---- */

/* One association table read by owner: sql has "%s" for the owner condition (an id list
 * or a subquery) and "%s" for the lock clause. */
typedef struct list_reader {
    const char *what; /* table, for messages */
    const char *sql;  /* SELECT owner, target ... WHERE owner IN (%s) ORDER BY owner, target%s */
    int kind;         /* enum sync_list_kind */
} list_reader;

static const list_reader list_readers[SYNC_L_COUNT] = {
    [SYNC_L_PACKAGE_MENUS] = {"tenant_package_menu",
                              "SELECT package_id, menu_id FROM tenant_package_menu WHERE "
                              "package_id IN (%s) ORDER BY package_id, menu_id%s",
                              SYNC_L_PACKAGE_MENUS},
    [SYNC_L_ROLE_MENUS] = {"tenant_role_menu",
                           "SELECT role_id, menu_id FROM tenant_role_menu WHERE role_id IN (%s) "
                           "ORDER BY role_id, menu_id%s",
                           SYNC_L_ROLE_MENUS},
    [SYNC_L_USER_ROLES] = {"tenant_user_role",
                           "SELECT user_id, role_id FROM tenant_user_role WHERE user_id IN (%s) "
                           "ORDER BY user_id, role_id%s",
                           SYNC_L_USER_ROLES},
    [SYNC_L_USER_STORES] = {"tenant_user_store",
                            "SELECT user_id, store_id FROM tenant_user_store WHERE user_id IN "
                            "(%s) ORDER BY user_id, store_id%s",
                            SYNC_L_USER_STORES},
    [SYNC_L_USER_DELEGATES] = {"tenant_user_delegate",
                               "SELECT user_id, delegate_user_id FROM tenant_user_delegate WHERE "
                               "user_id IN (%s) ORDER BY user_id, delegate_user_id%s",
                               SYNC_L_USER_DELEGATES},
    [SYNC_L_MENU_ROLES] = {"tenant_role_menu",
                           "SELECT menu_id, role_id FROM tenant_role_menu WHERE menu_id IN (%s) "
                           "ORDER BY menu_id, role_id%s",
                           SYNC_L_MENU_ROLES},
    [SYNC_L_MENU_PACKAGES] = {"tenant_package_menu",
                              "SELECT menu_id, package_id FROM tenant_package_menu WHERE menu_id "
                              "IN (%s) ORDER BY menu_id, package_id%s",
                              SYNC_L_MENU_PACKAGES},
    [SYNC_L_ROLE_USERS] = {"tenant_user_role",
                           "SELECT role_id, user_id FROM tenant_user_role WHERE role_id IN (%s) "
                           "ORDER BY role_id, user_id%s",
                           SYNC_L_ROLE_USERS},
};

typedef struct list_ctx {
    sync_lists *l;          /* lists go here */
    const uint64_t *owners; /* owners asked for, ascending */
    size_t nowners;         /* owners */
    size_t next;            /* owners[next] is the next list to open */
} list_ctx;

/* Opens the lists of owners up to and including owner (empty until rows arrive). */
static void lists_open_through(list_ctx *x, uint64_t owner)
{
    while (x->next < x->nowners && x->owners[x->next] <= owner) {
        sync_list *li = PUSH(x->l->items, x->l->n, x->l->cap);
        li->owner = x->owners[x->next++];
        li->off = x->l->npool;
    }
}

static bool list_row_cb(void *arg, MYSQL_ROW r)
{
    list_ctx *x = arg;
    uint64_t owner, target;
    if (!sync_col_u64(r[0], &owner) || !sync_col_u64(r[1], &target))
        return true;
    lists_open_through(x, owner);
    sync_list *li = x->l->n ? &x->l->items[x->l->n - 1] : NULL;
    if (!li || li->owner != owner)
        return true; /* not asked for (cannot happen with an IN list) */
    mem_grow((void **)&x->l->pool, &x->l->cappool, x->l->npool + 1, sizeof *x->l->pool);
    x->l->pool[x->l->npool++] = target;
    li->n++;
    return true;
}

/* Reads the lists of owners[0..n) (ascending); cond is the SQL that selects them ("1,2,3"
 * or a subquery yielding exactly those owners). */
static bool lists_read(MYSQL *db, int kind, const char *cond, const uint64_t *owners, size_t n,
                       bool lock, sync_batch *b, char *err, size_t errlen)
{
    const list_reader *rd = &list_readers[kind];
    buf sql;
    buf_init(&sql);
    buf_printf(&sql, rd->sql, cond, lock ? " LOCK IN SHARE MODE" : "");
    list_ctx x = {&b->lists[kind], owners, n, 0};
    bool ok = query_rows(db, &sql, 2, list_row_cb, &x, rd->what, err, errlen);
    if (ok)
        lists_open_through(&x, UINT64_MAX); /* owners with no rows: empty lists */
    buf_free(&sql);
    return ok;
}

static bool lists_by_owner(MYSQL *db, int kind, const idset *owners, bool lock, sync_batch *b,
                           char *err, size_t errlen)
{
    bool ok = true;
    for (size_t off = 0; ok && off < owners->n; off += SYNC_IN_CHUNK) {
        size_t k = owners->n - off < SYNC_IN_CHUNK ? owners->n - off : SYNC_IN_CHUNK;
        buf cond;
        buf_init(&cond);
        append_ids(&cond, owners->v + off, k);
        ok = lists_read(db, kind, cond.data, owners->v + off, k, lock, b, err, errlen);
        buf_free(&cond);
    }
    return ok;
}

/* ------------------------------------------------------------ subscriptions ---- */

typedef struct subs_ctx {
    sync_batch *b;          /* lists go here */
    const uint64_t *owners; /* tenants asked for, ascending */
    size_t nowners;         /* tenants */
    size_t next;            /* owners[next] is the next list to open */
} subs_ctx;

static void subs_open_through(subs_ctx *x, uint64_t tenant)
{
    while (x->next < x->nowners && x->owners[x->next] <= tenant) {
        sync_subs *s = PUSH(x->b->subs, x->b->nsubs, x->b->capsubs);
        s->tenant_id = x->owners[x->next++];
        s->off = x->b->nsub_rows;
    }
}

static bool subs_row_cb(void *arg, MYSQL_ROW r)
{
    subs_ctx *x = arg;
    uint64_t tenant;
    rbac_sub_row row = {0, 0, INT64_MIN, INT64_MAX, 0};
    if (!sync_col_u64(r[0], &tenant) || !sync_col_u64(r[1], &row.id) ||
        !sync_col_u64(r[2], &row.package_id))
        return true;
    if ((r[3] && !db_parse_datetime_ms(r[3], &row.start_ms)) ||
        (r[4] && !db_parse_datetime_ms(r[4], &row.end_ms)))
        return true; /* malformed: ignored, as the loader does */
    row.status = sync_col_int(r[5]);
    subs_open_through(x, tenant);
    sync_subs *s = x->b->nsubs ? &x->b->subs[x->b->nsubs - 1] : NULL;
    if (!s || s->tenant_id != tenant)
        return true;
    *PUSH(x->b->sub_rows, x->b->nsub_rows, x->b->capsub_rows) = row;
    s->n++;
    return true;
}

static bool subs_by_tenant(MYSQL *db, const idset *tenants, bool lock, sync_batch *b, char *err,
                           size_t errlen)
{
    bool ok = true;
    for (size_t off = 0; ok && off < tenants->n; off += SYNC_IN_CHUNK) {
        size_t k = tenants->n - off < SYNC_IN_CHUNK ? tenants->n - off : SYNC_IN_CHUNK;
        buf sql;
        buf_init(&sql);
        buf_append_str(&sql, "SELECT tenant_id, id, package_id, start_time, end_time, status "
                             "FROM tenant_subscription WHERE tenant_id IN (");
        append_ids(&sql, tenants->v + off, k);
        buf_printf(&sql, ") ORDER BY tenant_id, id%s", lock ? " LOCK IN SHARE MODE" : "");
        subs_ctx x = {b, tenants->v + off, k, 0};
        ok = query_rows(db, &sql, 6, subs_row_cb, &x, "tenant_subscription", err, errlen);
        if (ok)
            subs_open_through(&x, UINT64_MAX);
        buf_free(&sql);
    }
    return ok;
}

/* ------------------------------------------------------------------ planning ---- */

/* The id sets one set of keys asks for. */
enum want {
    W_TENANT,     /* tenant rows */
    W_SUBS,       /* tenants whose subscriptions */
    W_PACKAGE,    /* package rows */
    W_MENU,       /* menu rows */
    W_ROLE,       /* role rows */
    W_USER,       /* user rows */
    W_TENANT_ALL, /* tenants read whole */
    W_LIST0,      /* + enum sync_list_kind: owners of each list kind */
    W_COUNT = W_LIST0 + SYNC_L_COUNT,
};

typedef struct plan {
    idset want[W_COUNT]; /* sealed once built */
} plan;

static void plan_add(plan *p, const sync_key *k, sync_batch *b)
{
    switch (k->kind) {
    case SYNC_K_TENANT:
        idset_add(&p->want[W_TENANT], k->id);
        idset_add(&p->want[W_SUBS], k->id);
        break;
    case SYNC_K_SUBS:
        idset_add(&p->want[W_SUBS], k->id);
        break;
    case SYNC_K_PACKAGE: /* a package upsert refills its menus */
        idset_add(&p->want[W_PACKAGE], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_PACKAGE_MENUS], k->id);
        break;
    case SYNC_K_PACKAGE_MENU:
        idset_add(&p->want[W_LIST0 + SYNC_L_PACKAGE_MENUS], k->id);
        break;
    case SYNC_K_MENU:
        idset_add(&p->want[W_MENU], k->id);
        break;
    case SYNC_K_MENU_REFS:
        idset_add(&p->want[W_LIST0 + SYNC_L_MENU_ROLES], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_MENU_PACKAGES], k->id);
        break;
    case SYNC_K_ROLE: /* a role upsert refills its menus */
        idset_add(&p->want[W_ROLE], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_ROLE_MENUS], k->id);
        break;
    case SYNC_K_ROLE_MENU:
        idset_add(&p->want[W_LIST0 + SYNC_L_ROLE_MENUS], k->id);
        break;
    case SYNC_K_ROLE_REFS:
        idset_add(&p->want[W_LIST0 + SYNC_L_ROLE_USERS], k->id);
        break;
    case SYNC_K_USER:
        idset_add(&p->want[W_USER], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_ROLES], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_STORES], k->id);
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_DELEGATES], k->id);
        break;
    case SYNC_K_USER_ROLE:
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_ROLES], k->id);
        break;
    case SYNC_K_USER_STORE:
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_STORES], k->id);
        break;
    case SYNC_K_USER_DELEGATE:
        idset_add(&p->want[W_LIST0 + SYNC_L_USER_DELEGATES], k->id);
        break;
    case SYNC_K_SESSION: {
        sync_session *s = PUSH(b->sessions, b->nsessions, b->capsessions);
        s->tenant_id = k->tenant;
        s->user_id = k->id;
        break;
    }
    case SYNC_K_TENANT_ALL:
        idset_add(&p->want[W_TENANT_ALL], k->id);
        idset_add(&p->want[W_TENANT], k->id);
        idset_add(&p->want[W_SUBS], k->id);
        break;
    default:
        break;
    }
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < W_COUNT; i++)
        idset_free(&p->want[i]);
}

/* The lists of one entity kind read by tenant for a tenant-wide read. */
static bool tenant_lists(MYSQL *db, const int *kinds, size_t nk, const char *sub,
                         const idset *owners, sync_batch *b, char *err, size_t errlen)
{
    bool ok = true;
    for (size_t i = 0; ok && i < nk; i++)
        ok = lists_read(db, kinds[i], sub, owners->v, owners->n, false, b, err, errlen);
    return ok;
}

/* Reads every role and user of tenant t with their lists, then drops what it found from
 * the single-key sets. */
static bool read_tenant_all(MYSQL *db, plan *p, uint64_t t, sync_batch *b, char *err, size_t errlen)
{
    static const int role_lists[] = {SYNC_L_ROLE_MENUS};
    static const int user_lists[] = {SYNC_L_USER_ROLES, SYNC_L_USER_STORES, SYNC_L_USER_DELEGATES};
    char where[64], sub[96];
    int wl = snprintf(where, sizeof where, "tenant_id = %" PRIu64, t);
    idset roles = {0}, users = {0};
    bool ok = entities_where(db, &reader_role, where, (size_t)wl, false, b, &roles, err, errlen);
    idset_seal(&roles);
    snprintf(sub, sizeof sub, "SELECT id FROM tenant_role WHERE tenant_id = %" PRIu64, t);
    ok = ok && tenant_lists(db, role_lists, ARRAY_LEN(role_lists), sub, &roles, b, err, errlen);
    ok = ok && entities_where(db, &reader_user, where, (size_t)wl, false, b, &users, err, errlen);
    idset_seal(&users);
    snprintf(sub, sizeof sub, "SELECT id FROM tenant_user WHERE tenant_id = %" PRIu64, t);
    ok = ok && tenant_lists(db, user_lists, ARRAY_LEN(user_lists), sub, &users, b, err, errlen);
    if (ok) {
        idset_subtract(&p->want[W_ROLE], &roles);
        idset_subtract(&p->want[W_LIST0 + SYNC_L_ROLE_MENUS], &roles);
        idset_subtract(&p->want[W_USER], &users);
        for (size_t i = 0; i < ARRAY_LEN(user_lists); i++)
            idset_subtract(&p->want[W_LIST0 + user_lists[i]], &users);
    }
    idset_free(&roles);
    idset_free(&users);
    return ok;
}

bool sync_read_state(MYSQL *db, sync_key *keys, size_t n, bool lock, sync_batch *b, char *err,
                     size_t errlen)
{
    n = sync_keys_unique(keys, n);
    plan p;
    memset(&p, 0, sizeof p);
    for (size_t i = 0; i < n; i++)
        plan_add(&p, &keys[i], b);
    for (size_t i = 0; i < W_COUNT; i++)
        idset_seal(&p.want[i]);
    bool ok = true;
    for (size_t i = 0; ok && i < p.want[W_TENANT_ALL].n; i++)
        ok = read_tenant_all(db, &p, p.want[W_TENANT_ALL].v[i], b, err, errlen);
    ok = ok && entities_by_id(db, &reader_tenant, &p.want[W_TENANT], lock, b, err, errlen);
    ok = ok && subs_by_tenant(db, &p.want[W_SUBS], lock, b, err, errlen);
    ok = ok && entities_by_id(db, &reader_package, &p.want[W_PACKAGE], lock, b, err, errlen);
    ok = ok && entities_by_id(db, &reader_menu, &p.want[W_MENU], lock, b, err, errlen);
    ok = ok && entities_by_id(db, &reader_role, &p.want[W_ROLE], lock, b, err, errlen);
    ok = ok && entities_by_id(db, &reader_user, &p.want[W_USER], lock, b, err, errlen);
    for (int k = 0; ok && k < SYNC_L_COUNT; k++)
        ok = lists_by_owner(db, k, &p.want[W_LIST0 + k], lock, b, err, errlen);
    plan_free(&p);
    return ok;
}

/* -------------------------------------------------------------------- batch ---- */

void sync_batch_free(sync_batch *b)
{
    for (size_t i = 0; i < b->ntenants; i++)
        mem_free(b->tenants[i].code);
    for (size_t i = 0; i < b->npackages; i++)
        mem_free(b->packages[i].code);
    for (size_t i = 0; i < b->nmenus; i++) {
        mem_free(b->menus[i].name);
        mem_free(b->menus[i].perms);
        mem_free(b->menus[i].path);
    }
    for (size_t i = 0; i < b->nroles; i++)
        mem_free(b->roles[i].code);
    for (size_t i = 0; i < SYNC_L_COUNT; i++) {
        mem_free(b->lists[i].items);
        mem_free(b->lists[i].pool);
    }
    mem_free(b->tenants);
    mem_free(b->subs);
    mem_free(b->sub_rows);
    mem_free(b->packages);
    mem_free(b->menus);
    mem_free(b->roles);
    mem_free(b->users);
    mem_free(b->sessions);
    memset(b, 0, sizeof *b);
}

size_t sync_batch_records(const sync_batch *b)
{
    size_t n =
        b->ntenants + b->nsubs + b->npackages + b->nmenus + b->nroles + b->nusers + b->nsessions;
    for (size_t i = 0; i < SYNC_L_COUNT; i++)
        n += b->lists[i].n;
    return n;
}
