/*
 * The bi-tenant profile: its tables as descriptors (the order is the dependency order
 * of dal_bitenant.h), the model calls each record becomes, and the write-through
 * changes of the ROLE, USER and TENANT commands.
 *
 * Records by descriptor (u = ids, v = small integers, s = strings, t = times, in
 * column order):
 *   tenant        u0 id, s0 code, v0 status
 *   subscription  u0 tenant, u1 id, u2 package, t0 start, t1 end, v0 status
 *   package       u0 id, s0 code, v0 status
 *   menu          u0 id, u1 parent, v0 type, s0 name, s1 perms, s2 path, v1 sort, v2 status
 *   role          u0 id, u1 tenant, s0 code, v0 status
 *   user          u0 id, u1 tenant, v0 is_admin, v1 status
 *   associations  u0 owner, u1 target
 */
#include "dal_bitenant.h"
#include "buf.h"
#include "db.h"
#include "mem.h"
#include "session_db.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE         "deleted_at = 0"
#define MS_PER_DAY   86400000LL
#define IDS_ON_STACK 64 /* list replacements up to this long need no allocation */

/* ------------------------------------------------------------ model calls ---- */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Entities with a code and a status: tenants, packages. */
#define CODED_ENTITY(name)                                                                         \
    static bool put_##name(rbac_model *m, const dal_rec *r)                                        \
    {                                                                                              \
        rbac_add_##name(m, r->u[0], str_or_empty(r->s[0]), r->v[0]);                               \
        return true;                                                                               \
    }

CODED_ENTITY(tenant)
CODED_ENTITY(package)

static bool put_subscription(rbac_model *m, const dal_rec *r)
{
    return rbac_add_subscription(m, r->u[1], r->u[0], r->u[2], r->t[0], r->t[1], r->v[0]);
}

static void set_subscriptions(rbac_model *m, uint64_t tenant, const dal_rec *rows, size_t n)
{
    rbac_sub_row *v = mem_alloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (rbac_sub_row){rows[i].u[1], rows[i].u[2], rows[i].t[0], rows[i].t[1], rows[i].v[0]};
    rbac_set_subscriptions(m, tenant, v, n);
    mem_free(v);
}

static bool put_menu(rbac_model *m, const dal_rec *r)
{
    return rbac_add_menu(m, r->u[0], r->u[1], r->v[0], str_or_empty(r->s[0]), r->s[1], r->s[2],
                         r->v[1], r->v[2]);
}

static bool put_role(rbac_model *m, const dal_rec *r)
{
    rbac_add_role(m, r->u[0], r->u[1], str_or_empty(r->s[0]), r->v[0]);
    return true;
}

static bool put_user(rbac_model *m, const dal_rec *r)
{
    rbac_add_user(m, r->u[0], r->u[1], r->v[1], r->v[0] == 1);
    return true;
}

/* Association lists: the targets of rows[0..n) replace the owner's list. */
typedef bool set_ids_fn(rbac_model *m, uint64_t owner, const uint64_t *ids, size_t n);

static void set_targets(rbac_model *m, uint64_t owner, const dal_rec *rows, size_t n,
                        set_ids_fn *fn)
{
    uint64_t stack[IDS_ON_STACK];
    uint64_t *ids = n <= IDS_ON_STACK ? stack : mem_alloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = rows[i].u[1];
    fn(m, owner, n ? ids : NULL, n);
    if (ids != stack)
        mem_free(ids);
}

/* One put and one set per association table. */
#define ASSOC_CALLS(name, add, setter)                                                             \
    static bool put_##name(rbac_model *m, const dal_rec *r)                                        \
    {                                                                                              \
        return add(m, r->u[0], r->u[1]);                                                           \
    }                                                                                              \
    static void set_##name(rbac_model *m, uint64_t owner, const dal_rec *rows, size_t n)           \
    {                                                                                              \
        set_targets(m, owner, rows, n, setter);                                                    \
    }

ASSOC_CALLS(package_menu, rbac_add_package_menu, rbac_set_package_menus)
ASSOC_CALLS(role_menu, rbac_add_role_menu, rbac_set_role_menus)
ASSOC_CALLS(user_role, rbac_add_user_role, rbac_set_user_roles)
ASSOC_CALLS(user_store, rbac_add_user_store, rbac_set_user_stores)
ASSOC_CALLS(user_delegate, rbac_add_delegate, rbac_set_user_delegates)

/* ------------------------------------------------------------ descriptors ---- */

#define COL(n, t)                                                                                  \
    {                                                                                              \
        n, t                                                                                       \
    }
#define C(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
/* clang-format off */
#define OWNED(tbl, scp, own, ocol, tcol, tgt, name)                                                \
    {.table = tbl, .shape = DAL_OWNED, .scope = scp, .ncols = 2,                                   \
     .cols = {COL(ocol, DC_U64), COL(tcol, DC_U64)}, .order = ocol ", " tcol, .owner = own,        \
     .target_col = tcol, .target = tgt, .put = put_##name, .set = set_##name}
/* clang-format on */

static const dal_desc descs[BT_NDESCS] = {
    [BT_TENANT] = {.table = "tenant",
                   .shape = DAL_ENTITY,
                   .scope = DAL_SCOPE_TENANT,
                   .ncols = 3,
                   .cols = C(COL("id", DC_U64), COL("tenant_code", DC_STR), COL("status", DC_INT)),
                   .live = LIVE,
                   .order = "id",
                   .owner = -1,
                   .target = -1,
                   .put = put_tenant,
                   .remove = rbac_remove_tenant},
    [BT_SUBSCRIPTION] = {.table = "tenant_subscription",
                         .shape = DAL_OWNED,
                         .scope = DAL_SCOPE_TENANT,
                         .ncols = 6,
                         .cols = C(COL("tenant_id", DC_U64), COL("id", DC_U64),
                                   COL("package_id", DC_U64), COL("start_time", DC_TIME_LO),
                                   COL("end_time", DC_TIME_HI), COL("status", DC_INT)),
                         .order = "tenant_id, id",
                         .owner = BT_TENANT,
                         .target_col = "package_id",
                         .target = -1, /* an unknown package is kept: see rbac.h */
                         .key_is_tenant = true,
                         .put = put_subscription,
                         .set = set_subscriptions},
    [BT_PACKAGE] = {.table = "tenant_package",
                    .shape = DAL_ENTITY,
                    .scope = DAL_SCOPE_PLATFORM,
                    .ncols = 3,
                    .cols =
                        C(COL("id", DC_U64), COL("package_code", DC_STR), COL("status", DC_INT)),
                    .live = LIVE,
                    .order = "id",
                    .owner = -1,
                    .target = -1,
                    .put = put_package,
                    .remove = rbac_remove_package},
    [BT_MENU] = {.table = "tenant_menu",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_PLATFORM,
                 .ncols = 8,
                 .cols = C(COL("id", DC_U64), COL("parent_id", DC_U64), COL("menu_type", DC_INT),
                           COL("menu_name", DC_STR), COL("perms", DC_STR), COL("path", DC_STR),
                           COL("sort", DC_INT), COL("status", DC_INT)),
                 .live = LIVE,
                 .order = "id", /* menus must load in id order: bitmap order is id order */
                 .owner = -1,
                 .target = -1,
                 .put = put_menu,
                 .remove = rbac_remove_menu,
                 .known = rbac_menu_known},
    [BT_PACKAGE_MENU] = OWNED("tenant_package_menu", DAL_SCOPE_PLATFORM, BT_PACKAGE, "package_id",
                              "menu_id", BT_MENU, package_menu),
    [BT_ROLE] = {.table = "tenant_role",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_TENANT,
                 .ncols = 4,
                 .cols = C(COL("id", DC_U64), COL("tenant_id", DC_U64), COL("role_code", DC_STR),
                           COL("status", DC_INT)),
                 .live = LIVE,
                 .order = "id",
                 .tenant_col = "tenant_id",
                 .owner = -1,
                 .target = -1,
                 .put = put_role,
                 .remove = rbac_remove_role,
                 .known = rbac_role_known},
    [BT_ROLE_MENU] = OWNED("tenant_role_menu", DAL_SCOPE_TENANT, BT_ROLE, "role_id", "menu_id",
                           BT_MENU, role_menu),
    [BT_USER] = {.table = "tenant_user",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_USER,
                 .ncols = 4,
                 .cols = C(COL("id", DC_U64), COL("tenant_id", DC_U64), COL("is_admin", DC_INT),
                           COL("status", DC_INT)),
                 .live = LIVE,
                 .order = "id",
                 .tenant_col = "tenant_id",
                 .owner = -1,
                 .target = -1,
                 .put = put_user,
                 .remove = rbac_remove_user},
    [BT_USER_ROLE] = OWNED("tenant_user_role", DAL_SCOPE_USER, BT_USER, "user_id", "role_id",
                           BT_ROLE, user_role),
    [BT_USER_STORE] =
        OWNED("tenant_user_store", DAL_SCOPE_USER, BT_USER, "user_id", "store_id", -1, user_store),
    /* The delegate need not be loaded: it is looked up at read time. */
    [BT_USER_DELEGATE] = OWNED("tenant_user_delegate", DAL_SCOPE_USER, BT_USER, "user_id",
                               "delegate_user_id", -1, user_delegate),
};

const dal_profile dal_bitenant = {
    .name = "bitenant",
    .ops = dal_bitenant_ops,
    .nops = BT_OP_COUNT,
    .descs = descs,
    .ndescs = BT_NDESCS,
    .tenant_desc = BT_TENANT,
    .session_table = "tenant_session",
};

/* -------------------------------------------------------------- checks ---- */

static bool check_tenant(dal_tx *t, const char *lock)
{
    dal_rec r;
    bool found;
    if (!dal_tx_row(t, &descs[BT_TENANT], t->j->tenant, 0, lock, &r, &found))
        return false;
    if (!found)
        dal_tx_refuse(t, "unknown tenant %" PRIu64, t->j->tenant);
    return found;
}

/* A live user of the job's tenant, locked for update; r: v0 is_admin, v1 status. */
static bool check_user(dal_tx *t, uint64_t user, dal_rec *r)
{
    bool found;
    if (!dal_tx_row(t, &descs[BT_USER], user, t->j->tenant, "FOR UPDATE", r, &found))
        return false;
    if (!found)
        dal_tx_refuse(t, "unknown user %" PRIu64 " in tenant %" PRIu64, user, t->j->tenant);
    return found;
}

static bool check_role(dal_tx *t, uint64_t role)
{
    dal_rec r;
    bool found;
    if (!dal_tx_row(t, &descs[BT_ROLE], role, t->j->tenant, "LOCK IN SHARE MODE", &r, &found))
        return false;
    if (!found)
        dal_tx_refuse(t, "unknown role %" PRIu64 " in tenant %" PRIu64, role, t->j->tenant);
    return found;
}

static bool check_package(dal_tx *t, uint64_t package)
{
    dal_rec r;
    bool found;
    if (!dal_tx_row(t, &descs[BT_PACKAGE], package, 0, "LOCK IN SHARE MODE", &r, &found))
        return false;
    if (!found)
        dal_tx_refuse(t, "unknown package %" PRIu64, package);
    return found;
}

/* ---------------------------------------------------------------- menus ---- */

typedef struct menu_match {
    uint64_t *ids; /* live menus found */
    char **perms;  /* their perms, owned, NULL if none */
    size_t n, cap; /* used, allocated */
} menu_match;

static void menu_match_free(menu_match *mm)
{
    for (size_t i = 0; i < mm->n; i++)
        mem_free(mm->perms[i]);
    mem_free(mm->ids);
    mem_free(mm->perms);
}

static bool menu_row(void *ctx, MYSQL_ROW r, const unsigned long *len)
{
    menu_match *mm = ctx;
    uint64_t id;
    if (!dal_col_u64(r[0], len[0], &id))
        return true;
    mem_grow((void **)&mm->ids, &mm->cap, mm->n + 1, sizeof *mm->ids);
    mm->perms = mem_realloc(mm->perms, mm->cap * sizeof *mm->perms);
    mm->ids[mm->n] = id;
    mm->perms[mm->n++] = r[1] ? mem_strdup(r[1]) : NULL;
    return true;
}

/* The live menus the job's arguments name, by id or perms code, locked shared. */
static bool menus_query(dal_tx *t, menu_match *mm)
{
    buf sql, codes;
    buf_init(&sql);
    buf_init(&codes);
    buf_printf(&sql, "SELECT id, perms FROM %s WHERE %s AND (id IN (0", descs[BT_MENU].table, LIVE);
    for (size_t i = 0; i < t->j->nargs; i++) {
        const char *a = t->j->args[i];
        if (util_all_digits(a, strlen(a))) {
            buf_printf(&sql, ",%s", a);
        } else {
            buf_append_str(&codes, ",");
            db_quote(t->db, &codes, a, strlen(a));
        }
    }
    buf_append_str(&sql, ")");
    if (codes.len)
        buf_printf(&sql, " OR perms IN (%s)", codes.data + 1);
    buf_append_str(&sql, ") LOCK IN SHARE MODE");
    bool ok = dal_query_rows(t->db, sql.data, sql.len, 2, menu_row, mm, descs[BT_MENU].table,
                             t->j->msg, sizeof t->j->msg);
    buf_free(&sql);
    buf_free(&codes);
    if (!ok)
        t->j->status = dal_write_failure(t->db);
    return ok;
}

/* Resolves the job's menu arguments to live menu ids, deduplicated and ascending, into
 * *out (count *nout, owned by the caller). Refuses on the first unknown one. */
static bool resolve_menus(dal_tx *t, uint64_t **out, size_t *nout)
{
    menu_match mm = {0};
    if (!menus_query(t, &mm)) {
        menu_match_free(&mm);
        return false;
    }
    uint64_t *ids = mem_alloc((t->j->nargs ? t->j->nargs : 1) * sizeof *ids);
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < t->j->nargs; i++) {
        const char *a = t->j->args[i];
        bool digits = util_all_digits(a, strlen(a));
        uint64_t want = 0;
        if (digits && !util_parse_u64(a, strlen(a), &want))
            want = 0;
        size_t k = 0;
        while (k < mm.n && !(digits ? mm.ids[k] == want : mm.perms[k] && !strcmp(mm.perms[k], a)))
            k++;
        if (k == mm.n) {
            dal_tx_refuse(t, "unknown menu '%.128s'", a);
            ok = false;
        } else {
            ids[n++] = mm.ids[k];
        }
    }
    menu_match_free(&mm);
    if (!ok) {
        mem_free(ids);
        return false;
    }
    *out = ids;
    *nout = util_sort_unique_u64(ids, n);
    return true;
}

/* ------------------------------------------------------------- the changes ---- */

static bool change_role_menus(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    uint64_t *ids = NULL;
    size_t n = 0;
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_role(t, j->target) ||
        !resolve_menus(t, &ids, &n))
        return false;
    buf sql;
    buf_init(&sql);
    if (j->op == &dal_bitenant_ops[BT_OP_ROLE_GRANT]) {
        buf_append_str(&sql, "INSERT IGNORE INTO tenant_role_menu (tenant_id, role_id, menu_id) "
                             "VALUES ");
        for (size_t i = 0; i < n; i++)
            buf_printf(&sql, "%s(%" PRIu64 ",%" PRIu64 ",%" PRIu64 ")", i ? "," : "", j->tenant,
                       j->target, ids[i]);
    } else {
        buf_printf(&sql,
                   "DELETE FROM tenant_role_menu WHERE role_id = %" PRIu64 " AND menu_id IN (",
                   j->target);
        for (size_t i = 0; i < n; i++)
            buf_printf(&sql, "%s%" PRIu64, i ? "," : "", ids[i]);
        buf_append_str(&sql, ")");
    }
    bool ok = dal_tx_exec(t, &j->reply, sql.data, sql.len);
    buf_free(&sql);
    ch->key = (dal_key){j->target, j->tenant, BT_ROLE_MENU, DAL_KEY_ROW};
    snprintf(ch->target, sizeof ch->target, "role:%" PRIu64, j->target);
    size_t off = (size_t)snprintf(ch->detail, sizeof ch->detail, "changed=%lld menus=", j->reply);
    for (size_t i = 0; i < n && off < sizeof ch->detail; i++)
        off += (size_t)snprintf(ch->detail + off, sizeof ch->detail - off, "%s%" PRIu64,
                                i ? "," : "", ids[i]);
    mem_free(ids);
    return ok;
}

/* USER ADDROLE/DELROLE/ADDSTORE/DELSTORE/DELEGATE/UNDELEGATE: one association row of
 * the user, named by its descriptor. */
typedef struct user_list_desc {
    int desc;         /* the association's descriptor */
    const char *name; /* the target in the operation log */
    bool add;         /* insert, else delete */
} user_list_desc;

static const user_list_desc user_lists[BT_OP_COUNT] = {
    [BT_OP_USER_ADDROLE] = {BT_USER_ROLE, "role", true},
    [BT_OP_USER_DELROLE] = {BT_USER_ROLE, "role", false},
    [BT_OP_USER_ADDSTORE] = {BT_USER_STORE, "store", true},
    [BT_OP_USER_DELSTORE] = {BT_USER_STORE, "store", false},
    [BT_OP_USER_DELEGATE] = {BT_USER_DELEGATE, "delegate", true},
    [BT_OP_USER_UNDELEGATE] = {BT_USER_DELEGATE, "delegate", false},
};

static size_t op_index(const dal_write_op *op)
{
    return (size_t)(op - dal_bitenant_ops);
}

/* The checks of one association write: the user, and the role or delegate it names. */
static bool check_user_list(dal_tx *t, int desc)
{
    dal_write_job *j = t->j;
    dal_rec u;
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_user(t, j->target, &u))
        return false;
    if (desc == BT_USER_ROLE)
        return check_role(t, j->other);
    if (desc == BT_USER_DELEGATE && j->other == j->target) {
        dal_tx_refuse(t, "user %" PRIu64 " cannot delegate to itself", j->target);
        return false;
    }
    return desc != BT_USER_DELEGATE || check_user(t, j->other, &u);
}

static bool change_user_list(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    const user_list_desc *l = &user_lists[op_index(j->op)];
    const dal_desc *d = &descs[l->desc];
    if (!check_user_list(t, l->desc))
        return false;
    bool ok =
        l->add
            ? dal_tx_execf(t, &j->reply,
                           "INSERT IGNORE INTO %s (tenant_id, %s, %s) VALUES (%" PRIu64 ", %" PRIu64
                           ", %" PRIu64 ")",
                           d->table, d->cols[0].name, d->target_col, j->tenant, j->target, j->other)
            : dal_tx_execf(t, &j->reply, "DELETE FROM %s WHERE %s = %" PRIu64 " AND %s = %" PRIu64,
                           d->table, d->cols[0].name, j->target, d->target_col, j->other);
    ch->key = (dal_key){j->target, j->tenant, (uint8_t)l->desc, DAL_KEY_ROW};
    ch->log_user = j->target;
    snprintf(ch->target, sizeof ch->target, "user:%" PRIu64, j->target);
    snprintf(ch->detail, sizeof ch->detail, "%s=%" PRIu64 " changed=%lld", l->name, j->other,
             j->reply);
    return ok;
}

static bool change_user_status(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    bool enable = j->op == &dal_bitenant_ops[BT_OP_USER_ENABLE];
    dal_rec u;
    if (!check_tenant(t, "LOCK IN SHARE MODE") || !check_user(t, j->target, &u))
        return false;
    if (!enable && u.v[0] == 1) {
        dal_tx_refuse(t, "user %" PRIu64 " is a tenant admin and cannot be disabled", j->target);
        return false;
    }
    int status = enable ? 1 : 0;
    if (!dal_tx_execf(t, &j->reply,
                      "UPDATE tenant_user SET status = %d WHERE id = %" PRIu64 " AND status <> %d",
                      status, j->target, status))
        return false;
    long long revoked = 0;
    if (!enable) {
        if (!session_db_revoke_user(t->db, j->tenant, j->target, &revoked)) {
            dal_tx_fail(t, "revoke sessions");
            return false;
        }
        j->forget_sessions = true;
    }
    ch->key = (dal_key){j->target, j->tenant, BT_USER, DAL_KEY_ROW};
    ch->log_user = j->target;
    snprintf(ch->target, sizeof ch->target, "user:%" PRIu64, j->target);
    snprintf(ch->detail, sizeof ch->detail, "status=%d changed=%lld sessions_revoked=%lld", status,
             j->reply, revoked);
    return true;
}

static bool change_subscribe(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    if (!check_tenant(t, "FOR UPDATE") || !check_package(t, j->target))
        return false;
    char start[32], end[32];
    db_format_datetime_ms(j->start_ms, start, sizeof start);
    db_format_datetime_ms(j->end_ms, end, sizeof end);
    long long days = (j->end_ms - j->start_ms + MS_PER_DAY - 1) / MS_PER_DAY;
    long long superseded = 0;
    if (!dal_tx_execf(t, &superseded,
                      "UPDATE tenant_subscription SET status = 0 WHERE tenant_id = %" PRIu64
                      " AND status = 1",
                      j->tenant) ||
        !dal_tx_execf(t, NULL,
                      "INSERT INTO tenant_subscription (tenant_id, package_id, start_time, "
                      "end_time, status, price, duration_days) VALUES (%" PRIu64 ", %" PRIu64
                      ", '%s', '%s', 1, 0, %lld)",
                      j->tenant, j->target, start, end,
                      days > INT32_MAX ? (long long)INT32_MAX : days))
        return false;
    j->reply = (long long)mysql_insert_id(t->db);
    ch->key = (dal_key){j->tenant, j->tenant, BT_SUBSCRIPTION, DAL_KEY_ROW};
    snprintf(ch->target, sizeof ch->target, "tenant:%" PRIu64, j->tenant);
    snprintf(ch->detail, sizeof ch->detail,
             "subscription=%lld package=%" PRIu64 " start=%s end=%s superseded=%lld", j->reply,
             j->target, start, end, superseded);
    return true;
}

static bool change_tenant_status(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    int status = j->op == &dal_bitenant_ops[BT_OP_TENANT_ENABLE] ? 1 : 0;
    if (!check_tenant(t, "FOR UPDATE") ||
        !dal_tx_execf(t, &j->reply,
                      "UPDATE tenant SET status = %d WHERE id = %" PRIu64 " AND status <> %d",
                      status, j->tenant, status))
        return false;
    ch->key = (dal_key){j->tenant, j->tenant, BT_TENANT, DAL_KEY_ROW};
    snprintf(ch->target, sizeof ch->target, "tenant:%" PRIu64, j->tenant);
    snprintf(ch->detail, sizeof ch->detail, "status=%d changed=%lld", status, j->reply);
    return true;
}

/* The tenant_operation_log row of a change; operator = the client's ACL user. */
static bool log_operation(dal_tx *t, const dal_change *ch)
{
    dal_write_job *j = t->j;
    buf sql;
    buf_init(&sql);
    buf_printf(&sql,
               "INSERT INTO tenant_operation_log (tenant_id, user_id, operator, operation_time, "
               "module, action, target, detail) VALUES (%" PRIu64 ", %" PRIu64 ", ",
               j->tenant, ch->log_user);
    db_quote(t->db, &sql, j->operator_name, strlen(j->operator_name));
    buf_printf(&sql, ", NOW(3), '%s', '%s', ", j->op->module, j->op->action);
    db_quote(t->db, &sql, ch->target, strlen(ch->target));
    buf_append_str(&sql, ", ");
    db_quote(t->db, &sql, ch->detail, strlen(ch->detail));
    buf_append_str(&sql, ")");
    bool ok = dal_tx_exec(t, NULL, sql.data, sql.len);
    buf_free(&sql);
    return ok;
}

const dal_write_op dal_bitenant_ops[BT_OP_COUNT] = {
    [BT_OP_ROLE_GRANT] = {"role", "grant", change_role_menus, log_operation},
    [BT_OP_ROLE_REVOKE] = {"role", "revoke", change_role_menus, log_operation},
    [BT_OP_USER_ADDROLE] = {"user", "addrole", change_user_list, log_operation},
    [BT_OP_USER_DELROLE] = {"user", "delrole", change_user_list, log_operation},
    [BT_OP_USER_ENABLE] = {"user", "enable", change_user_status, log_operation},
    [BT_OP_USER_DISABLE] = {"user", "disable", change_user_status, log_operation},
    [BT_OP_USER_ADDSTORE] = {"user", "addstore", change_user_list, log_operation},
    [BT_OP_USER_DELSTORE] = {"user", "delstore", change_user_list, log_operation},
    [BT_OP_USER_DELEGATE] = {"user", "delegate", change_user_list, log_operation},
    [BT_OP_USER_UNDELEGATE] = {"user", "undelegate", change_user_list, log_operation},
    [BT_OP_TENANT_SUBSCRIBE] = {"tenant", "subscribe", change_subscribe, log_operation},
    [BT_OP_TENANT_ENABLE] = {"tenant", "enable", change_tenant_status, log_operation},
    [BT_OP_TENANT_DISABLE] = {"tenant", "disable", change_tenant_status, log_operation},
};
