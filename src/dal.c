/*
 * The data-access engine: SQL generated from entity descriptors, rows decoded by their
 * column types, and the load / refresh / apply / check paths of dal.h. Nothing here
 * knows a table: the descriptors (dal_bitenant.c, ...) do.
 *
 * Reads are batched: a refresh asks one query per descriptor per DAL_IN_CHUNK ids
 * ("WHERE col IN (...)"), never one per key, so a poll that names a thousand users
 * costs a handful of round trips. Owned rows are read in the order of their (owner,
 * target) key, which the schema indexes, so each owner's list is one index range.
 *
 *   keys --plan--> id sets per descriptor --queries--> dal_batch --dal_apply--> model
 *                  (an entity's key also asks        (entity records,         (loop)
 *                   for the lists it owns)            owner lists, rows
 *                                                     naming newcomers)
 */
#include "dal.h"
#include "conf.h"
#include "dal_bitenant.h"
#include "dal_mpbackend.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "util.h"
#include "worker.h"

#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAL_IN_CHUNK    500 /* ids per IN (...) list */
#define U64_SAFE_DIGITS 19  /* any 19-digit decimal fits in a uint64_t */

/* ---------------------------------------------------------------- columns ---- */

bool dal_col_u64(const char *s, size_t len, uint64_t *out)
{
    if (!s || len == 0)
        return false;
    if (len > U64_SAFE_DIGITS)
        return util_parse_u64(s, len, out);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int32_t dal_col_int(const char *s, size_t len)
{
    long long v = 0;
    if (!s || !util_parse_ll(s, len, &v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    return (int32_t)v;
}

bool dal_decode(const dal_desc *d, MYSQL_ROW row, const unsigned long *len, dal_rec *r, bool *id_ok)
{
    memset(r, 0, sizeof *r);
    r->live = true;
    *id_ok = false;
    size_t ku = 0, kv = 0, ks = 0, kt = 0;
    for (size_t i = 0; i < d->ncols; i++) {
        const char *s = row[i];
        switch (d->cols[i].type) {
        case DC_U64:
            if (!dal_col_u64(s, len[i], &r->u[ku++]))
                return false;
            if (i == 0)
                *id_ok = true;
            break;
        case DC_INT:
            r->v[kv++] = dal_col_int(s, len[i]);
            break;
        case DC_STR:
            r->s[ks] = s;
            r->len[ks++] = s ? (uint32_t)len[i] : 0;
            break;
        default: { /* DC_TIME_LO, DC_TIME_HI */
            int64_t *t = &r->t[kt++];
            if (!s)
                *t = d->cols[i].type == DC_TIME_LO ? INT64_MIN : INT64_MAX;
            else if (!db_parse_datetime_ms(s, t))
                return false;
            break;
        }
        }
    }
    return true;
}

/* ------------------------------------------------------------------ profiles ---- */

const dal_profile *dal_profile_of(int conf_profile)
{
    switch (conf_profile) {
    case CONF_PROFILE_BITENANT:
        return &dal_bitenant;
    case CONF_PROFILE_MPBACKEND:
        return &dal_mpbackend;
    default:
        return NULL;
    }
}

int dal_desc_index(const dal_profile *p, const char *table)
{
    for (size_t i = 0; table && i < p->ndescs; i++)
        if (strcmp(p->descs[i].table, table) == 0)
            return (int)i;
    return -1;
}

/* ----------------------------------------------------------- errors, queries ---- */

/* Set when a statement of the running job lost the connection; the handle stays open
 * (later statements of the job fail cleanly on it) until dal_done(). */
static _Thread_local bool tl_connection_lost;

void dal_error(MYSQL *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(db), mysql_errno(db));
    if (db_error_is_connection(db))
        tl_connection_lost = true;
}

void dal_done(void)
{
    if (tl_connection_lost) {
        tl_connection_lost = false;
        worker_db_failed();
    }
}

bool dal_query_u64(MYSQL *db, const char *sql, uint64_t *out, const char *what, char *err,
                   size_t errlen)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        dal_error(db, what, err, errlen);
        return false;
    }
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) {
        dal_error(db, what, err, errlen);
        return false;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    *out = 0;
    if (row && row[0] && !dal_col_u64(row[0], mysql_fetch_lengths(res)[0], out))
        *out = 0;
    mysql_free_result(res);
    return true;
}

bool dal_query_rows(MYSQL *db, const char *sql, size_t sqllen, unsigned ncols, dal_row_fn *fn,
                    void *ctx, const char *what, char *err, size_t errlen)
{
    if (mysql_real_query(db, sql, sqllen) != 0) {
        dal_error(db, what, err, errlen);
        return false;
    }
    MYSQL_RES *res = mysql_use_result(db);
    if (!res) {
        dal_error(db, what, err, errlen);
        return false;
    }
    bool ok = mysql_num_fields(res) == ncols;
    if (!ok)
        snprintf(err, errlen, "%s: expected %u columns, got %u", what, ncols,
                 mysql_num_fields(res));
    MYSQL_ROW row;
    /* Rows are read out even after a failure: the connection must be left clean. */
    while ((row = mysql_fetch_row(res)))
        if (ok && !fn(ctx, row, mysql_fetch_lengths(res))) {
            ok = false;
            snprintf(err, errlen, "%s: unexpected result", what);
        }
    if (mysql_errno(db) != 0) {
        dal_error(db, what, err, errlen);
        ok = false;
    }
    mysql_free_result(res);
    return ok;
}

bool dal_snapshot_begin(MYSQL *db, char *err, size_t errlen)
{
    char e[DAL_ERR_MAX];
    /* The isolation level applies to the next transaction only: the session keeps its
     * own settings. */
    if (!db_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", e, sizeof e) ||
        !db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e, sizeof e)) {
        dal_error(db, "start snapshot", err, errlen);
        return false;
    }
    return true;
}

bool dal_snapshot_end(MYSQL *db, bool ok, char *err, size_t errlen)
{
    char e[DAL_ERR_MAX];
    if (!db_exec(db, ok ? "COMMIT" : "ROLLBACK", e, sizeof e) && ok) {
        dal_error(db, "end snapshot", err, errlen);
        return false;
    }
    return true;
}

/* ----------------------------------------------------------------- SQL text ---- */

static void sql_columns(const dal_desc *d, buf *sql)
{
    buf_append_str(sql, "SELECT ");
    for (size_t i = 0; i < d->ncols; i++) {
        if (i)
            buf_append_str(sql, ", ");
        buf_append_str(sql, d->cols[i].name);
    }
}

/* "SELECT cols[, live flag] FROM t WHERE <where>[ AND live] ORDER BY order[ LOCK]".
 * Entities are refreshed with their live flag (a row that is not live removes the
 * entity); owned rows and checks select the live rows only. */
static void sql_select(const dal_desc *d, const char *where, bool flag, bool lock, buf *sql)
{
    sql_columns(d, sql);
    if (flag)
        buf_printf(sql, ", (%s)", d->live ? d->live : "1");
    buf_printf(sql, " FROM %s WHERE (%s)", d->table, where);
    if (!flag && d->live)
        buf_printf(sql, " AND (%s)", d->live);
    if (d->order)
        buf_printf(sql, " ORDER BY %s", d->order);
    if (lock)
        buf_append_str(sql, " LOCK IN SHARE MODE");
}

void dal_sql_load(const dal_desc *d, buf *sql)
{
    sql_columns(d, sql);
    buf_printf(sql, " FROM %s", d->table);
    if (d->live)
        buf_printf(sql, " WHERE %s", d->live);
    if (d->order)
        buf_printf(sql, " ORDER BY %s", d->order);
}

static void append_ids(buf *sql, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(sql, "%s%" PRIu64, i ? "," : "", v[i]);
}

void dal_sql_in(const dal_desc *d, const char *col, const uint64_t *ids, size_t n, bool lock,
                buf *sql)
{
    buf where;
    buf_init(&where);
    buf_printf(&where, "%s IN (", col);
    append_ids(&where, ids, n);
    buf_append_str(&where, ")");
    sql_select(d, where.data, d->shape == DAL_ENTITY, lock, sql);
    buf_free(&where);
}

/* -------------------------------------------------------------------- load ---- */

typedef struct load_ctx {
    const dal_desc *d;  /* the table */
    rbac_model *m;      /* rows go here */
    dal_load_stats *st; /* counts */
} load_ctx;

static bool load_row(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    load_ctx *x = arg;
    dal_rec r;
    bool id_ok;
    x->st->rows++;
    if (!dal_decode(x->d, row, len, &r, &id_ok) || !x->d->put(x->m, &r))
        x->st->ignored++;
    return true;
}

bool dal_load(MYSQL *db, const dal_profile *p, rbac_model *m, dal_load_stats *st, char *err,
              size_t errlen)
{
    bool ok = true;
    if (p->prepare)
        p->prepare(m);
    for (size_t i = 0; ok && i < p->ndescs; i++) {
        const dal_desc *d = &p->descs[i];
        buf sql;
        buf_init(&sql);
        dal_sql_load(d, &sql);
        load_ctx x = {d, m, st};
        ok = dal_query_rows(db, sql.data, sql.len, d->ncols, load_row, &x, d->table, err, errlen);
        buf_free(&sql);
    }
    return ok;
}

/* ------------------------------------------------------------------- keys ---- */

bool dal_key_of_change(const dal_profile *p, const char *entity, uint64_t entity_id,
                       uint64_t tenant_id, dal_key *out)
{
    if (entity && p->session_table && strcmp(entity, p->session_table) == 0) {
        *out = (dal_key){entity_id, tenant_id, DAL_SESSIONS, DAL_KEY_ROW};
        return true;
    }
    int i = dal_desc_index(p, entity);
    if (i < 0)
        return false;
    uint64_t id = p->descs[i].key_is_tenant ? tenant_id : entity_id;
    *out = (dal_key){id, tenant_id, (uint8_t)i, DAL_KEY_ROW};
    return true;
}

static int cmp_key(const void *a, const void *b)
{
    const dal_key *x = a, *y = b;
    if (x->desc != y->desc)
        return x->desc < y->desc ? -1 : 1;
    if (x->mode != y->mode)
        return x->mode < y->mode ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->tenant > y->tenant) - (x->tenant < y->tenant);
}

size_t dal_keys_unique(dal_key *keys, size_t n)
{
    return util_sort_unique(keys, n, sizeof *keys, cmp_key);
}

bool dal_key_tenant_scoped(const dal_profile *p, const dal_key *k)
{
    if (k->desc >= p->ndescs || k->mode != DAL_KEY_ROW)
        return false;
    const dal_desc *d = &p->descs[k->desc];
    if (d->shape == DAL_OWNED)
        d = &p->descs[d->owner];
    return d->tenant_col != NULL;
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

static void idset_seal(idset *s)
{
    s->n = util_sort_unique_u64(s->v, s->n);
}

static bool idset_has(const idset *s, uint64_t id)
{
    return util_u64_contains(s->v, s->n, id);
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

/* ------------------------------------------------------------------ batches ---- */

/* Grows an array by one zeroed element and returns it. */
#define PUSH(arr, n, cap)                                                                          \
    (mem_grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr)),                                    \
     memset(&(arr)[(n)], 0, sizeof *(arr)), &(arr)[(n)++])

/* A copy of r whose strings the batch owns. */
static void rec_keep(dal_rec *dst, const dal_rec *r)
{
    *dst = *r;
    for (size_t i = 0; i < DAL_STRS; i++)
        dst->s[i] = r->s[i] ? mem_strndup(r->s[i], r->len[i]) : NULL;
}

static void recs_free(dal_rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < DAL_STRS; k++)
            mem_free((void *)v[i].s[k]);
    mem_free(v);
}

void dal_batch_free(dal_batch *b)
{
    for (size_t i = 0; i < DAL_MAX_DESCS; i++) {
        dal_part *pt = &b->parts[i];
        recs_free(pt->rows, pt->nrows);
        recs_free(pt->added, pt->nadded);
        mem_free(pt->lists);
    }
    mem_free(b->sessions);
    memset(b, 0, sizeof *b);
}

size_t dal_batch_records(const dal_batch *b)
{
    size_t n = b->nsessions;
    for (size_t i = 0; i < DAL_MAX_DESCS; i++) {
        const dal_part *pt = &b->parts[i];
        n += (pt->lists ? pt->nlists : pt->nrows) + pt->nadded;
    }
    return n;
}

/* ----------------------------------------------------------------- entities ---- */

typedef struct entity_ctx {
    const dal_desc *d; /* the table */
    dal_part *pt;      /* records go here */
    idset *found;      /* ids that had a row */
} entity_ctx;

static bool entity_row(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    entity_ctx *x = arg;
    dal_rec r;
    bool id_ok;
    bool ok = dal_decode(x->d, row, len, &r, &id_ok);
    if (!id_ok)
        return true; /* a malformed id names nothing */
    const char *flag = row[x->d->ncols];
    r.live = ok && flag && strcmp(flag, "1") == 0;
    rec_keep(PUSH(x->pt->rows, x->pt->nrows, x->pt->caprows), &r);
    idset_add(x->found, r.u[0]);
    return true;
}

/* Reads the rows of d matching where into pt; their ids go to found. */
static bool entities_where(MYSQL *db, const dal_desc *d, const char *where, bool lock, dal_part *pt,
                           idset *found, char *err, size_t errlen)
{
    buf sql;
    buf_init(&sql);
    sql_select(d, where, true, lock, &sql);
    entity_ctx x = {d, pt, found};
    bool ok =
        dal_query_rows(db, sql.data, sql.len, d->ncols + 1, entity_row, &x, d->table, err, errlen);
    buf_free(&sql);
    return ok;
}

/* -------------------------------------------------------------------- lists ---- */

typedef struct list_ctx {
    const dal_desc *d;      /* the table */
    dal_part *pt;           /* lists go here */
    const uint64_t *owners; /* owners asked for, ascending */
    size_t nowners;         /* owners */
    size_t next;            /* owners[next] is the next list to open */
} list_ctx;

/* Opens the lists of owners up to and including owner (empty until rows arrive). */
static void lists_open_through(list_ctx *x, uint64_t owner)
{
    while (x->next < x->nowners && x->owners[x->next] <= owner) {
        dal_list *li = PUSH(x->pt->lists, x->pt->nlists, x->pt->caplists);
        li->owner = x->owners[x->next++];
        li->off = x->pt->nrows;
    }
}

static bool list_row(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    list_ctx *x = arg;
    dal_rec r;
    bool id_ok;
    if (!dal_decode(x->d, row, len, &r, &id_ok))
        return true; /* malformed: ignored, as a load ignores it */
    lists_open_through(x, r.u[0]);
    dal_list *li = x->pt->nlists ? &x->pt->lists[x->pt->nlists - 1] : NULL;
    if (!li || li->owner != r.u[0])
        return true; /* not asked for (cannot happen with an IN list) */
    rec_keep(PUSH(x->pt->rows, x->pt->nrows, x->pt->caprows), &r);
    li->n++;
    return true;
}

/* Reads the lists of owners[0..n) (ascending); cond selects exactly those owners (an id
 * list or a subquery). */
static bool lists_read(MYSQL *db, const dal_desc *d, const char *cond, const uint64_t *owners,
                       size_t n, bool lock, dal_part *pt, char *err, size_t errlen)
{
    buf where, sql;
    buf_init(&where);
    buf_init(&sql);
    buf_printf(&where, "%s IN (%s)", d->cols[0].name, cond);
    sql_select(d, where.data, false, lock, &sql);
    list_ctx x = {d, pt, owners, n, 0};
    bool ok = dal_query_rows(db, sql.data, sql.len, d->ncols, list_row, &x, d->table, err, errlen);
    if (ok)
        lists_open_through(&x, UINT64_MAX); /* owners with no rows: empty lists */
    buf_free(&where);
    buf_free(&sql);
    return ok;
}

typedef struct added_ctx {
    const dal_desc *d; /* the table */
    dal_part *pt;      /* rows go here */
} added_ctx;

static bool added_row(void *arg, MYSQL_ROW row, const unsigned long *len)
{
    added_ctx *x = arg;
    dal_rec r;
    bool id_ok;
    if (dal_decode(x->d, row, len, &r, &id_ok))
        rec_keep(PUSH(x->pt->added, x->pt->nadded, x->pt->capadded), &r);
    return true;
}

/* Reads the rows of d whose target column is in the id list, to be added one by one. */
static bool targets_read(MYSQL *db, const dal_desc *d, const char *list, bool lock, dal_part *pt,
                         char *err, size_t errlen)
{
    buf where, sql;
    buf_init(&where);
    buf_init(&sql);
    buf_printf(&where, "%s IN (%s)", d->target_col, list);
    sql_select(d, where.data, false, lock, &sql);
    added_ctx x = {d, pt};
    bool ok = dal_query_rows(db, sql.data, sql.len, d->ncols, added_row, &x, d->table, err, errlen);
    buf_free(&where);
    buf_free(&sql);
    return ok;
}

/* ------------------------------------------------------------- by id chunks ---- */

enum read_kind {
    READ_ENTITIES = 0, /* entity rows by id; an id without a row is a removal */
    READ_LISTS = 1,    /* owned rows by owner: whole lists */
    READ_TARGETS = 2,  /* owned rows by target: rows naming newcomers */
};

/* Reads what ids (sealed) name, DAL_IN_CHUNK ids per query. */
static bool read_ids(MYSQL *db, const dal_desc *d, int kind, const idset *ids, bool lock,
                     dal_part *pt, char *err, size_t errlen)
{
    idset found = {0};
    bool ok = true;
    for (size_t off = 0; ok && off < ids->n; off += DAL_IN_CHUNK) {
        size_t k = ids->n - off < DAL_IN_CHUNK ? ids->n - off : DAL_IN_CHUNK;
        buf list;
        buf_init(&list);
        append_ids(&list, ids->v + off, k);
        if (kind == READ_LISTS) {
            ok = lists_read(db, d, list.data, ids->v + off, k, lock, pt, err, errlen);
        } else if (kind == READ_TARGETS) {
            ok = targets_read(db, d, list.data, lock, pt, err, errlen);
        } else {
            buf where;
            buf_init(&where);
            buf_printf(&where, "%s IN (%s)", d->cols[0].name, list.data);
            ok = entities_where(db, d, where.data, lock, pt, &found, err, errlen);
            buf_free(&where);
        }
        buf_free(&list);
    }
    idset_seal(&found);
    for (size_t i = 0; ok && kind == READ_ENTITIES && i < ids->n; i++)
        if (!idset_has(&found, ids->v[i]))
            PUSH(pt->rows, pt->nrows, pt->caprows)->u[0] = ids->v[i];
    idset_free(&found);
    return ok;
}

/* ------------------------------------------------------------------ planning ---- */

typedef struct plan {
    idset rows[DAL_MAX_DESCS];    /* entity ids / owners whose lists to read */
    idset targets[DAL_MAX_DESCS]; /* owned: newcomers whose naming rows to read */
    idset tenants;                /* tenants read whole */
} plan;

/* An entity's row, and the lists it owns. */
static void plan_entity(const dal_profile *p, plan *pl, size_t d, uint64_t id)
{
    idset_add(&pl->rows[d], id);
    for (size_t o = 0; o < p->ndescs; o++)
        if (p->descs[o].shape == DAL_OWNED && p->descs[o].owner == (int)d)
            idset_add(&pl->rows[o], id);
}

static void plan_add(const dal_profile *p, plan *pl, const dal_key *k, dal_batch *b)
{
    if (k->desc == DAL_SESSIONS) {
        dal_user_ref *s = PUSH(b->sessions, b->nsessions, b->capsessions);
        s->tenant = k->tenant;
        s->user = k->id;
        return;
    }
    if (k->desc >= p->ndescs)
        return;
    if (k->mode == DAL_KEY_TARGET) {
        idset_add(&pl->targets[k->desc], k->id);
    } else if (k->mode == DAL_KEY_TENANT) {
        idset_add(&pl->tenants, k->id);
        plan_entity(p, pl, k->desc, k->id);
    } else if (p->descs[k->desc].shape == DAL_ENTITY) {
        plan_entity(p, pl, k->desc, k->id);
    } else {
        idset_add(&pl->rows[k->desc], k->id);
    }
}

static void plan_free(plan *pl)
{
    for (size_t i = 0; i < DAL_MAX_DESCS; i++) {
        idset_free(&pl->rows[i]);
        idset_free(&pl->targets[i]);
    }
    idset_free(&pl->tenants);
}

/* Reads every tenant-scoped entity of tenant t with the lists they own, then drops what
 * it found from the single-key sets. */
static bool read_tenant(MYSQL *db, const dal_profile *p, plan *pl, uint64_t t, dal_batch *b,
                        char *err, size_t errlen)
{
    bool ok = true;
    for (size_t e = 0; ok && e < p->ndescs; e++) {
        const dal_desc *d = &p->descs[e];
        if (d->shape != DAL_ENTITY || !d->tenant_col)
            continue;
        char where[128], sub[192];
        snprintf(where, sizeof where, "%s = %" PRIu64, d->tenant_col, t);
        idset found = {0};
        ok = entities_where(db, d, where, false, &b->parts[e], &found, err, errlen);
        idset_seal(&found);
        snprintf(sub, sizeof sub, "SELECT %s FROM %s WHERE %s", d->cols[0].name, d->table, where);
        for (size_t o = 0; ok && o < p->ndescs; o++) {
            if (p->descs[o].shape != DAL_OWNED || p->descs[o].owner != (int)e)
                continue;
            ok = lists_read(db, &p->descs[o], sub, found.v, found.n, false, &b->parts[o], err,
                            errlen);
            if (ok)
                idset_subtract(&pl->rows[o], &found);
        }
        if (ok)
            idset_subtract(&pl->rows[e], &found);
        idset_free(&found);
    }
    return ok;
}

bool dal_refresh(MYSQL *db, const dal_profile *p, dal_key *keys, size_t n, bool lock, dal_batch *b,
                 char *err, size_t errlen)
{
    n = dal_keys_unique(keys, n);
    plan pl;
    memset(&pl, 0, sizeof pl);
    for (size_t i = 0; i < n; i++)
        plan_add(p, &pl, &keys[i], b);
    for (size_t i = 0; i < DAL_MAX_DESCS; i++) {
        idset_seal(&pl.rows[i]);
        idset_seal(&pl.targets[i]);
    }
    idset_seal(&pl.tenants);
    bool ok = true;
    for (size_t i = 0; ok && i < pl.tenants.n; i++)
        ok = read_tenant(db, p, &pl, pl.tenants.v[i], b, err, errlen);
    for (size_t i = 0; ok && i < p->ndescs; i++) {
        const dal_desc *d = &p->descs[i];
        if (d->shape == DAL_ENTITY)
            ok = read_ids(db, d, READ_ENTITIES, &pl.rows[i], lock, &b->parts[i], err, errlen);
        else
            ok = read_ids(db, d, READ_LISTS, &pl.rows[i], lock, &b->parts[i], err, errlen) &&
                 read_ids(db, d, READ_TARGETS, &pl.targets[i], lock, &b->parts[i], err, errlen);
    }
    plan_free(&pl);
    return ok;
}

bool dal_tenant_size(MYSQL *db, const dal_profile *p, uint64_t t, uint64_t *size, char *err,
                     size_t errlen)
{
    buf sql;
    buf_init(&sql);
    buf_append_str(&sql, "SELECT 0");
    for (size_t e = 0; e < p->ndescs; e++) {
        const dal_desc *d = &p->descs[e];
        if (d->shape == DAL_ENTITY && d->tenant_col)
            buf_printf(&sql, " + (SELECT COUNT(*) FROM %s WHERE %s = %" PRIu64 ")", d->table,
                       d->tenant_col, t);
    }
    bool ok = dal_query_u64(db, sql.data, size, "tenant size", err, errlen);
    buf_free(&sql);
    return ok;
}

/* -------------------------------------------------------------------- apply ---- */

static void followup(dal_apply_out *out, size_t desc, uint64_t id)
{
    mem_grow((void **)&out->followups, &out->capfollowups, out->nfollowups + 1,
             sizeof *out->followups);
    out->followups[out->nfollowups++] = (dal_key){id, 0, (uint8_t)desc, DAL_KEY_TARGET};
}

static void apply_entities(const dal_profile *p, size_t i, rbac_model *m, const dal_part *pt,
                           dal_apply_out *out)
{
    const dal_desc *d = &p->descs[i];
    for (size_t k = 0; k < pt->nrows; k++) {
        const dal_rec *r = &pt->rows[k];
        if (!r->live) {
            (void)d->remove(m, r->u[0]);
            continue;
        }
        bool known = !d->known || d->known(m, r->u[0]);
        if (!d->put(m, r)) {
            out->need_full_reload = true;
            continue;
        }
        for (size_t o = 0; !known && o < p->ndescs; o++)
            if (p->descs[o].shape == DAL_OWNED && p->descs[o].target == (int)i)
                followup(out, o, r->u[0]);
    }
}

static void apply_lists(const dal_desc *d, rbac_model *m, const dal_part *pt)
{
    for (size_t k = 0; k < pt->nlists; k++) {
        const dal_list *li = &pt->lists[k];
        d->set(m, li->owner, li->n ? pt->rows + li->off : NULL, li->n);
    }
    for (size_t k = 0; k < pt->nadded; k++)
        (void)d->put(m, &pt->added[k]);
}

void dal_apply(const dal_profile *p, rbac_model *m, const dal_batch *b, dal_apply_out *out)
{
    for (size_t i = 0; i < p->ndescs; i++) {
        if (p->descs[i].shape == DAL_ENTITY)
            apply_entities(p, i, m, &b->parts[i], out);
        else
            apply_lists(&p->descs[i], m, &b->parts[i]);
    }
    out->applied += dal_batch_records(b);
}

/* ------------------------------------------------------------------- checks ---- */

bool dal_check(MYSQL *db, const dal_desc *d, uint64_t id, uint64_t tenant, const char *lock,
               dal_rec *r, bool *found, char *err, size_t errlen)
{
    buf sql;
    buf_init(&sql);
    sql_columns(d, &sql);
    buf_printf(&sql, " FROM %s WHERE %s = %" PRIu64, d->table, d->cols[0].name, id);
    if (tenant && d->tenant_col)
        buf_printf(&sql, " AND %s = %" PRIu64, d->tenant_col, tenant);
    if (d->live)
        buf_printf(&sql, " AND (%s)", d->live);
    if (lock && *lock)
        buf_printf(&sql, " %s", lock);
    bool ok = mysql_real_query(db, sql.data, sql.len) == 0;
    buf_free(&sql);
    MYSQL_RES *res = ok ? mysql_store_result(db) : NULL;
    if (!res) {
        dal_error(db, d->table, err, errlen);
        return false;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    bool id_ok;
    *found = row && mysql_num_fields(res) == d->ncols &&
             dal_decode(d, row, mysql_fetch_lengths(res), r, &id_ok);
    for (size_t i = 0; i < DAL_STRS; i++)
        r->s[i] = NULL; /* the row goes with the result */
    mysql_free_result(res);
    return true;
}
