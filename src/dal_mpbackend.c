/*
 * The mpbackend profile: the seed's tables as descriptors (dependency order as in
 * dal_mpbackend.h), the model calls their records become (rbac_domain.c), and BIND /
 * UNBIND.
 *
 * Records by descriptor (u = ids, v = small integers, s = strings, in column order):
 *   user          u0 id
 *   role          u0 id, s0 name, s1 permissions, v0 scope (1 Admin, 2 Developer,
 *                 3 Application, 0 other: decoded by the SELECT itself)
 *   bindings      u0 user, u1 role; developer: u2 developer_id; application: s0 app id
 *   login method  u0 id, u1 user, s0 provider, s1 provider_key
 *   flag          u0 id, s0 name, s1 arguments
 *   flag binding  u0 id, s0 application_id, u1 permission_flag_id
 */
#include "dal_mpbackend.h"
#include "buf.h"
#include "db.h"
#include "mem.h"
#include "util.h"

#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#define LIVE "NOT (disabled <=> 1)"
#define SCOPE_INT                                                                                  \
    "CASE scope WHEN 'Admin' THEN 1 WHEN 'Developer' THEN 2 WHEN 'Application' THEN 3 ELSE 0 END"
#define GRANTS_ON_STACK 16 /* binding lists up to this long need no allocation */

/* ------------------------------------------------------------ model calls ---- */

static void prepare(rbac_model *m)
{
    rbac_domain_prepare(m);
}

static bool put_user(rbac_model *m, const dal_rec *r)
{
    rbac_add_user(m, r->u[0], 0, 1, false);
    return true;
}

static bool put_role(rbac_model *m, const dal_rec *r)
{
    rbac_add_scoped_role(m, r->u[0], r->s[0] ? r->s[0] : "", r->v[0], r->s[1], r->len[1]);
    return true;
}

/* The domain a binding row names, into b. */
static void binding_domain(int kind, const dal_rec *r, buf *b)
{
    buf_clear(b);
    if (kind == RBAC_SCOPE_ADMIN)
        buf_append_str(b, "admin");
    else if (kind == RBAC_SCOPE_DEVELOPER)
        buf_printf(b, "developer:%" PRIu64, r->u[2]);
    else if (r->s[0] && r->len[0])
        buf_printf(b, "application:%.*s", (int)r->len[0], r->s[0]);
}

static bool put_binding(rbac_model *m, const dal_rec *r, int kind)
{
    buf d;
    buf_init(&d);
    binding_domain(kind, r, &d);
    bool ok = d.len && rbac_add_grant(m, r->u[0], kind, d.data, d.len, r->u[1]);
    buf_free(&d);
    return ok;
}

static void set_bindings(rbac_model *m, uint64_t user, const dal_rec *rows, size_t n, int kind)
{
    rbac_grant_row stack[GRANTS_ON_STACK];
    rbac_grant_row *v = n <= GRANTS_ON_STACK ? stack : mem_alloc(n * sizeof *v);
    buf *doms = mem_calloc(n ? n : 1, sizeof *doms);
    for (size_t i = 0; i < n; i++) {
        binding_domain(kind, &rows[i], &doms[i]);
        v[i] = (rbac_grant_row){doms[i].data ? doms[i].data : "", doms[i].len, rows[i].u[1]};
    }
    rbac_set_grants(m, user, kind, v, n);
    for (size_t i = 0; i < n; i++)
        buf_free(&doms[i]);
    mem_free(doms);
    if (v != stack)
        mem_free(v);
}

/* One put and one set per binding table. */
#define BINDING_CALLS(name, kind)                                                                  \
    static bool put_##name(rbac_model *m, const dal_rec *r)                                        \
    {                                                                                              \
        return put_binding(m, r, kind);                                                            \
    }                                                                                              \
    static void set_##name(rbac_model *m, uint64_t user, const dal_rec *rows, size_t n)            \
    {                                                                                              \
        set_bindings(m, user, rows, n, kind);                                                      \
    }

BINDING_CALLS(admin, RBAC_SCOPE_ADMIN)
BINDING_CALLS(developer, RBAC_SCOPE_DEVELOPER)
BINDING_CALLS(application, RBAC_SCOPE_APPLICATION)

static bool put_login(rbac_model *m, const dal_rec *r)
{
    if (!r->s[0] || !r->s[1])
        return false; /* no provider key: nothing can log in with it */
    rbac_add_login(m, r->u[0], r->u[1], r->s[0], r->len[0], r->s[1], r->len[1]);
    return true;
}

static bool put_flag(rbac_model *m, const dal_rec *r)
{
    rbac_add_flag(m, r->u[0], r->s[0], r->s[1]);
    return true;
}

static bool put_flag_binding(rbac_model *m, const dal_rec *r)
{
    if (!r->s[0])
        return false;
    rbac_add_flag_binding(m, r->u[0], r->s[0], r->len[0], r->u[1]);
    return true;
}

/* ------------------------------------------------------------ descriptors ---- */

#define COL(n, t)                                                                                  \
    {                                                                                              \
        n, t                                                                                       \
    }
#define C(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static const dal_desc descs[MP_NDESCS] = {
    [MP_USER] = {.table = "mpbackend_user",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_USER,
                 .ncols = 1,
                 .cols = C(COL("id", DC_U64)),
                 .live = LIVE,
                 .order = "id",
                 .owner = -1,
                 .target = -1,
                 .put = put_user,
                 .remove = rbac_remove_user},
    [MP_ROLE] = {.table = "mpbackend_role",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_TENANT,
                 .ncols = 4,
                 .cols = C(COL("id", DC_U64), COL("name", DC_STR), COL("permissions", DC_STR),
                           COL(SCOPE_INT, DC_INT)),
                 .live = LIVE,
                 .order = "id",
                 .owner = -1,
                 .target = -1,
                 .put = put_role,
                 .remove = rbac_remove_role,
                 .known = rbac_role_known},
    [MP_ADMIN_BINDING] = {.table = "mpbackend_admin_user_role_binding",
                          .shape = DAL_OWNED,
                          .scope = DAL_SCOPE_USER,
                          .ncols = 2,
                          .cols = C(COL("user_id", DC_U64), COL("role_id", DC_U64)),
                          .live = LIVE,
                          .order = "user_id, id",
                          .owner = MP_USER,
                          .target_col = "role_id",
                          .target = MP_ROLE,
                          .put = put_admin,
                          .set = set_admin},
    [MP_DEVELOPER_BINDING] = {.table = "mpbackend_developer_user_role_binding",
                              .shape = DAL_OWNED,
                              .scope = DAL_SCOPE_USER,
                              .ncols = 3,
                              .cols = C(COL("user_id", DC_U64), COL("role_id", DC_U64),
                                        COL("developer_id", DC_U64)),
                              .live = LIVE,
                              .order = "user_id, id",
                              .owner = MP_USER,
                              .target_col = "role_id",
                              .target = MP_ROLE,
                              .put = put_developer,
                              .set = set_developer},
    [MP_APPLICATION_BINDING] = {.table = "mpbackend_application_user_role_binding",
                                .shape = DAL_OWNED,
                                .scope = DAL_SCOPE_USER,
                                .ncols = 3,
                                .cols = C(COL("user_id", DC_U64), COL("role_id", DC_U64),
                                          COL("application_id", DC_STR)),
                                .live = LIVE,
                                .order = "user_id, id",
                                .owner = MP_USER,
                                .target_col = "role_id",
                                .target = MP_ROLE,
                                .put = put_application,
                                .set = set_application},
    [MP_LOGIN] = {.table = "mpbackend_account_login_method",
                  .shape = DAL_ENTITY,
                  .scope = DAL_SCOPE_NONE,
                  .ncols = 4,
                  .cols = C(COL("id", DC_U64), COL("user_id", DC_U64),
                            COL("login_provider", DC_STR), COL("provider_key", DC_STR)),
                  .live = LIVE,
                  .order = "id",
                  .owner = -1,
                  .target = -1,
                  .put = put_login,
                  .remove = rbac_remove_login},
    [MP_FLAG] = {.table = "mpbackend_application_permission_flag",
                 .shape = DAL_ENTITY,
                 .scope = DAL_SCOPE_NONE,
                 .ncols = 3,
                 .cols = C(COL("id", DC_U64), COL("name", DC_STR), COL("arguments", DC_STR)),
                 .order = "id",
                 .owner = -1,
                 .target = -1,
                 .put = put_flag,
                 .remove = rbac_remove_flag},
    [MP_FLAG_BINDING] = {.table = "mpbackend_application_permission_flag_binding",
                         .shape = DAL_ENTITY,
                         .scope = DAL_SCOPE_NONE,
                         .ncols = 3,
                         .cols = C(COL("id", DC_U64), COL("application_id", DC_STR),
                                   COL("permission_flag_id", DC_U64)),
                         .order = "id",
                         .owner = -1,
                         .target = -1,
                         .put = put_flag_binding,
                         .remove = rbac_remove_flag_binding},
};

const dal_profile dal_mpbackend = {
    .name = "mpbackend",
    .prepare = prepare,
    .ops = dal_mpbackend_ops,
    .nops = MP_OP_COUNT,
    .descs = descs,
    .ndescs = MP_NDESCS,
    .tenant_desc = -1,
    .session_table = "mpbackend_user_session_token",
};

/* ---------------------------------------------------------- BIND, UNBIND ---- */

/* The binding descriptor a domain's kind names. */
static const dal_desc *binding_table(int kind)
{
    return &descs[kind == RBAC_SCOPE_ADMIN       ? MP_ADMIN_BINDING
                  : kind == RBAC_SCOPE_DEVELOPER ? MP_DEVELOPER_BINDING
                                                 : MP_APPLICATION_BINDING];
}

/* Checks the user and the role of a BIND / UNBIND: both live, the role of the domain's
 * scope. The user's row is locked, so that changes to one user's bindings queue. */
static bool check_bind(dal_tx *t, int kind)
{
    dal_write_job *j = t->j;
    dal_rec r;
    bool found;
    if (!dal_tx_row(t, &descs[MP_USER], j->target, 0, "FOR UPDATE", &r, &found))
        return false;
    if (!found) {
        dal_tx_refuse(t, "unknown user %" PRIu64, j->target);
        return false;
    }
    if (!dal_tx_row(t, &descs[MP_ROLE], j->other, 0, "LOCK IN SHARE MODE", &r, &found))
        return false;
    if (!found) {
        dal_tx_refuse(t, "unknown role %" PRIu64, j->other);
        return false;
    }
    static const char *const scopes[] = {"none", "Admin", "Developer", "Application"};
    if (r.v[0] != kind) {
        dal_tx_refuse(t, "role %" PRIu64 " has scope %s; domain %.100s takes roles of scope %s",
                      j->other, scopes[r.v[0] >= 0 && r.v[0] <= 3 ? r.v[0] : 0], j->args[0],
                      scopes[kind]);
        return false;
    }
    return true;
}

/* "user_id = U AND role_id = R AND <domain column> = <value>" for the job. The application
 * id is compared byte for byte, as the model compares it, not by the column's collation,
 * which takes 'App' and 'app ' for 'app'. */
static void binding_where(dal_tx *t, int kind, buf *w)
{
    dal_write_job *j = t->j;
    buf_printf(w, "user_id = %" PRIu64 " AND role_id = %" PRIu64, j->target, j->other);
    const char *d = j->args[0];
    if (kind == RBAC_SCOPE_DEVELOPER) {
        buf_printf(w, " AND developer_id = %s", d + strlen("developer:"));
    } else if (kind == RBAC_SCOPE_APPLICATION) {
        buf_append_str(w, " AND application_id = BINARY ");
        const char *app = d + strlen("application:");
        db_quote(t->db, w, app, strlen(app));
    }
}

typedef struct bind_rows {
    uint64_t first; /* lowest id of a matching row, 0 if none */
    bool live;      /* one of them is live */
} bind_rows;

static bool bind_row(void *ctx, MYSQL_ROW row, const unsigned long *len)
{
    bind_rows *b = ctx;
    uint64_t id;
    if (!dal_col_u64(row[0], len[0], &id))
        return true;
    if (!b->first)
        b->first = id;
    b->live |= row[1] && strcmp(row[1], "1") == 0;
    return true;
}

static bool change_bind(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    int kind = rbac_domain_kind(j->args[0], strlen(j->args[0]));
    const dal_desc *d = binding_table(kind);
    if (!check_bind(t, kind))
        return false;
    buf where, sql;
    buf_init(&where);
    buf_init(&sql);
    binding_where(t, kind, &where);
    buf_printf(&sql, "SELECT id, (%s) FROM %s WHERE %s ORDER BY id FOR UPDATE", LIVE, d->table,
               where.data);
    bind_rows rows = {0};
    bool ok = dal_query_rows(t->db, sql.data, sql.len, 2, bind_row, &rows, d->table, j->msg,
                             sizeof j->msg);
    if (!ok)
        j->status = dal_write_failure(t->db);
    j->reply = 0;
    if (ok && !rows.live && rows.first) {
        /* a soft-deleted binding comes back rather than a second row beside it */
        ok = dal_tx_execf(t, &j->reply,
                          "UPDATE %s SET disabled = 0, disabled_at = NULL WHERE id = %" PRIu64,
                          d->table, rows.first);
    } else if (ok && !rows.live) {
        const char *dom = j->args[0];
        buf_clear(&sql);
        buf_printf(&sql, "INSERT INTO %s (user_id, role_id", d->table);
        if (kind == RBAC_SCOPE_ADMIN)
            buf_printf(&sql, ") VALUES (%" PRIu64 ", %" PRIu64 ")", j->target, j->other);
        else if (kind == RBAC_SCOPE_DEVELOPER)
            buf_printf(&sql, ", developer_id) VALUES (%" PRIu64 ", %" PRIu64 ", %s)", j->target,
                       j->other, dom + strlen("developer:"));
        else {
            const char *app = dom + strlen("application:");
            buf_printf(&sql, ", application_id) VALUES (%" PRIu64 ", %" PRIu64 ", ", j->target,
                       j->other);
            db_quote(t->db, &sql, app, strlen(app));
            buf_append_str(&sql, ")");
        }
        ok = dal_tx_exec(t, &j->reply, sql.data, sql.len);
        if (!ok && kind == RBAC_SCOPE_APPLICATION && mysql_errno(t->db) == ER_DUP_ENTRY)
            dal_tx_refuse(t,
                          "application id '%.255s' is one the table's unique key takes for "
                          "another spelling already bound to user %" PRIu64 " and role %" PRIu64
                          " (letter case, accents or trailing spaces)",
                          dom + strlen("application:"), j->target, j->other);
    }
    buf_free(&where);
    buf_free(&sql);
    ch->key = (dal_key){j->target, 0, (uint8_t)(d - descs), DAL_KEY_ROW};
    return ok;
}

static bool change_unbind(dal_tx *t, dal_change *ch)
{
    dal_write_job *j = t->j;
    int kind = rbac_domain_kind(j->args[0], strlen(j->args[0]));
    const dal_desc *d = binding_table(kind);
    if (!check_bind(t, kind))
        return false;
    buf where;
    buf_init(&where);
    binding_where(t, kind, &where);
    bool ok = dal_tx_execf(t, &j->reply,
                           "UPDATE %s SET disabled = 1, disabled_at = UTC_TIMESTAMP() WHERE %s "
                           "AND %s",
                           d->table, where.data, LIVE);
    buf_free(&where);
    if (j->reply > 1)
        j->reply = 1; /* duplicate rows of one binding went together */
    ch->key = (dal_key){j->target, 0, (uint8_t)(d - descs), DAL_KEY_ROW};
    return ok;
}

const dal_write_op dal_mpbackend_ops[MP_OP_COUNT] = {
    [MP_OP_BIND] = {"bind", NULL, change_bind, NULL},
    [MP_OP_UNBIND] = {"unbind", NULL, change_unbind, NULL},
};
