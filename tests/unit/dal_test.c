/*
 * Data-access layer tests without a database: the column parser, row decoding by
 * column type, the SQL generated from the bi-tenant descriptors, change-log rows to
 * keys, key deduplication, and applying re-read batches to a hand-built model (replace,
 * remove, revive, follow-ups for newcomers, the menu-order fallback to a full reload).
 *
 * The model: tenant 1 on package 10 {100 dir, 101 page, 102 action}; role 5 {101};
 * user 7 (role 5).
 */
#include "buf.h"
#include "dal.h"
#include "dal_bitenant.h"
#include "mem.h"
#include "rbac.h"
#include "testing.h"

#include <stdint.h>
#include <string.h>

#define NOW 1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define DAY 86400000LL

/* ---------------------------------------------------------------- columns ---- */

static bool u64(const char *s, uint64_t *v)
{
    return dal_col_u64(s, s ? strlen(s) : 0, v);
}

static void test_col_u64(void)
{
    uint64_t v = 0;
    CHECK(u64("0", &v) && v == 0);
    CHECK(u64("000042", &v) && v == 42);
    CHECK(u64("9999999999999999999", &v) && v == 9999999999999999999ULL); /* 19 digits */
    CHECK(u64("18446744073709551615", &v) && v == UINT64_MAX);
    CHECK(!u64("18446744073709551616", &v)); /* overflow */
    CHECK(!u64("", &v));
    CHECK(!u64(NULL, &v));
    CHECK(!u64("-1", &v));
    CHECK(!u64("12a", &v));
    CHECK_EQ_INT(dal_col_int("-7", 2), -7);
    CHECK_EQ_INT(dal_col_int("x", 1), 0);
    CHECK_EQ_INT(dal_col_int(NULL, 0), 0);
    CHECK_EQ_INT(dal_col_int("4294967296", 10), 0); /* out of int32 */
}

/* A row as MariaDB hands it over: column strings and their lengths. */
static void row_lengths(char **row, size_t n, unsigned long *len)
{
    for (size_t i = 0; i < n; i++)
        len[i] = row[i] ? strlen(row[i]) : 0;
}

static void test_decode(void)
{
    const dal_desc *menu = &dal_bitenant.descs[BT_MENU];
    char *row[] = {"101", "100", "2", "Page", "p:list", NULL, "-3", "1"};
    unsigned long len[8];
    row_lengths(row, 8, len);
    dal_rec r;
    bool id_ok;
    CHECK(dal_decode(menu, row, len, &r, &id_ok) && id_ok);
    CHECK_EQ_INT(r.u[0], 101);
    CHECK_EQ_INT(r.u[1], 100);
    CHECK_EQ_INT(r.v[0], 2);
    CHECK_EQ_STR(r.s[0], "Page");
    CHECK_EQ_STR(r.s[1], "p:list");
    CHECK(r.s[2] == NULL);
    CHECK_EQ_INT(r.v[1], -3);
    CHECK_EQ_INT(r.v[2], 1);
    /* A malformed reference ignores the row; the id is still known. */
    row[1] = "x";
    row_lengths(row, 8, len);
    CHECK(!dal_decode(menu, row, len, &r, &id_ok) && id_ok);
    row[0] = "";
    row_lengths(row, 8, len);
    CHECK(!dal_decode(menu, row, len, &r, &id_ok) && !id_ok);

    /* Times: NULL bounds are open, a malformed one ignores the row. */
    const dal_desc *sub = &dal_bitenant.descs[BT_SUBSCRIPTION];
    char *srow[] = {"1", "9", "10", NULL, "2023-11-15 22:13:20.000", "1"};
    unsigned long slen[6];
    row_lengths(srow, 6, slen);
    CHECK(dal_decode(sub, srow, slen, &r, &id_ok));
    CHECK(r.t[0] == INT64_MIN);
    CHECK(r.t[1] == NOW + DAY);
    srow[3] = "yesterday";
    row_lengths(srow, 6, slen);
    CHECK(!dal_decode(sub, srow, slen, &r, &id_ok));
}

/* ------------------------------------------------------------------- SQL ---- */

static void test_sql(void)
{
    buf sql;
    buf_init(&sql);
    dal_sql_load(&dal_bitenant.descs[BT_USER], &sql);
    CHECK_EQ_STR(sql.data, "SELECT id, tenant_id, is_admin, status FROM tenant_user "
                           "WHERE deleted_at = 0 ORDER BY id");
    buf_clear(&sql);
    dal_sql_load(&dal_bitenant.descs[BT_ROLE_MENU], &sql);
    CHECK_EQ_STR(sql.data,
                 "SELECT role_id, menu_id FROM tenant_role_menu ORDER BY role_id, menu_id");
    buf_clear(&sql);
    /* An entity is refreshed with its live flag, whatever its state. */
    const uint64_t ids[] = {3, 5};
    dal_sql_in(&dal_bitenant.descs[BT_TENANT], "id", ids, 2, true, &sql);
    CHECK_EQ_STR(sql.data, "SELECT id, tenant_code, status, (deleted_at = 0) FROM tenant WHERE "
                           "(id IN (3,5)) ORDER BY id LOCK IN SHARE MODE");
    buf_clear(&sql);
    /* Owned rows by the entity they name. */
    dal_sql_in(&dal_bitenant.descs[BT_USER_ROLE], "role_id", ids, 1, false, &sql);
    CHECK_EQ_STR(sql.data, "SELECT user_id, role_id FROM tenant_user_role WHERE (role_id IN (3)) "
                           "ORDER BY user_id, role_id");
    buf_free(&sql);
}

/* ------------------------------------------------------------------ keys ---- */

static void test_key_of_change(void)
{
    dal_key k;
    CHECK(dal_key_of_change(&dal_bitenant, "tenant_user", 7, 1, &k));
    CHECK(k.desc == BT_USER && k.id == 7 && k.tenant == 1 && k.mode == DAL_KEY_ROW);
    /* A subscription row names its tenant's whole list. */
    CHECK(dal_key_of_change(&dal_bitenant, "tenant_subscription", 99, 4, &k));
    CHECK(k.desc == BT_SUBSCRIPTION && k.id == 4);
    CHECK(dal_key_of_change(&dal_bitenant, "tenant_session", 7, 1, &k));
    CHECK(k.desc == DAL_SESSIONS && k.id == 7 && k.tenant == 1);
    CHECK(!dal_key_of_change(&dal_bitenant, "tenant_org", 1, 1, &k));
    CHECK(!dal_key_of_change(&dal_bitenant, NULL, 1, 1, &k));
    /* Tenant-scoped: roles, users and what they own; not menus or packages. */
    dal_key role = {5, 1, BT_ROLE_MENU, DAL_KEY_ROW}, menu = {100, 0, BT_MENU, DAL_KEY_ROW};
    CHECK(dal_key_tenant_scoped(&dal_bitenant, &role));
    CHECK(!dal_key_tenant_scoped(&dal_bitenant, &menu));
}

static void test_keys_unique(void)
{
    dal_key k[] = {
        {7, 1, BT_USER, DAL_KEY_ROW},      {5, 1, BT_ROLE, DAL_KEY_ROW},
        {7, 1, BT_USER, DAL_KEY_ROW},      {7, 2, DAL_SESSIONS, DAL_KEY_ROW},
        {7, 1, DAL_SESSIONS, DAL_KEY_ROW}, {7, 1, DAL_SESSIONS, DAL_KEY_ROW},
    };
    size_t n = dal_keys_unique(k, 6);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(k[0].desc, BT_ROLE);
    CHECK_EQ_INT(k[1].desc, BT_USER);
    CHECK_EQ_INT(k[2].tenant, 1); /* sessions differ by tenant */
    CHECK_EQ_INT(k[3].tenant, 2);
}

/* ----------------------------------------------------------------- apply ---- */

static rbac_model *fixture(void)
{
    rbac_model *m = rbac_model_new();
    rbac_add_tenant(m, 1, "acme", 1);
    rbac_add_menu(m, 100, 0, 1, "Dir", NULL, NULL, 0, 1);
    rbac_add_menu(m, 101, 100, 2, "Page", "p:list", NULL, 0, 1);
    rbac_add_menu(m, 102, 100, 3, "Act", "p:act", NULL, 1, 1);
    rbac_add_package(m, 10, "pro", 1);
    CHECK(rbac_add_package_menu(m, 10, 100));
    CHECK(rbac_add_package_menu(m, 10, 101));
    CHECK(rbac_add_package_menu(m, 10, 102));
    CHECK(rbac_add_subscription(m, 1, 1, 10, NOW - DAY, NOW + DAY, 1));
    rbac_add_role(m, 5, 1, "ops", 1);
    CHECK(rbac_add_role_menu(m, 5, 101));
    rbac_add_user(m, 7, 1, 1, false);
    CHECK(rbac_add_user_role(m, 7, 5));
    rbac_model_finish(m);
    return m;
}

static bool can(const rbac_model *m, uint64_t menu)
{
    return rbac_canmenu(m, 1, 7, rbac_menu_by_id(m, menu), NOW);
}

/* Appends a record to the entity part of descriptor d (strings copied). */
static dal_rec *entity(dal_batch *b, int d, uint64_t id, bool live)
{
    dal_part *pt = &b->parts[d];
    mem_grow((void **)&pt->rows, &pt->caprows, pt->nrows + 1, sizeof *pt->rows);
    dal_rec *r = &pt->rows[pt->nrows++];
    memset(r, 0, sizeof *r);
    r->u[0] = id;
    r->live = live;
    return r;
}

static void set_str(dal_rec *r, int i, const char *s)
{
    r->s[i] = s ? mem_strdup(s) : NULL;
    r->len[i] = s ? (uint32_t)strlen(s) : 0;
}

static dal_rec *menu_rec(dal_batch *b, uint64_t id, uint64_t parent, const char *name,
                         const char *perms, int type, int status)
{
    dal_rec *r = entity(b, BT_MENU, id, true);
    r->u[1] = parent;
    r->v[0] = type;
    set_str(r, 0, name);
    set_str(r, 1, perms);
    r->v[2] = status;
    return r;
}

/* Appends owner's whole list of targets to descriptor d. */
static void add_list(dal_batch *b, int d, uint64_t owner, const uint64_t *ids, size_t n)
{
    dal_part *pt = &b->parts[d];
    mem_grow((void **)&pt->lists, &pt->caplists, pt->nlists + 1, sizeof *pt->lists);
    pt->lists[pt->nlists++] = (dal_list){owner, pt->nrows, n};
    for (size_t i = 0; i < n; i++) {
        mem_grow((void **)&pt->rows, &pt->caprows, pt->nrows + 1, sizeof *pt->rows);
        pt->rows[pt->nrows++] = (dal_rec){.u = {owner, ids[i]}};
    }
}

/* Appends a row naming a newcomer (owner -> target) to descriptor d. */
static void add_row(dal_batch *b, int d, uint64_t owner, uint64_t target)
{
    dal_part *pt = &b->parts[d];
    mem_grow((void **)&pt->added, &pt->capadded, pt->nadded + 1, sizeof *pt->added);
    pt->added[pt->nadded++] = (dal_rec){.u = {owner, target}};
}

static void apply(rbac_model *m, dal_batch *b, dal_apply_out *out)
{
    memset(out, 0, sizeof *out);
    dal_apply(&dal_bitenant, m, b, out);
    dal_batch_free(b);
}

static void test_apply_lists_replace(void)
{
    rbac_model *m = fixture();
    dal_batch b = {0};
    dal_apply_out out;
    CHECK(!can(m, 102));
    const uint64_t menus[] = {102, 101, 102};
    add_list(&b, BT_ROLE_MENU, 5, menus, 3);
    apply(m, &b, &out);
    CHECK(can(m, 102));
    CHECK_EQ_INT(out.applied, 1);
    /* Applying the same state again changes nothing: idempotent. */
    add_list(&b, BT_ROLE_MENU, 5, menus, 3);
    apply(m, &b, &out);
    CHECK(can(m, 101) && can(m, 102));
    /* An empty list is "the last role was taken away". */
    add_list(&b, BT_USER_ROLE, 7, NULL, 0);
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    rbac_model_free(m);
}

static void test_apply_entities(void)
{
    rbac_model *m = fixture();
    dal_batch b = {0};
    dal_apply_out out;
    /* A disabled directory takes its subtree with it. */
    menu_rec(&b, 100, 0, "Dir", NULL, 1, 0);
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    CHECK(!out.need_full_reload);
    CHECK_EQ_INT(out.nfollowups, 0); /* known menu */
    mem_free(out.followups);
    /* The user removed (soft delete) and revived with its lists. */
    entity(&b, BT_USER, 7, false);
    apply(m, &b, &out);
    CHECK(!rbac_user_active(m, 1, 7));
    dal_rec *u = entity(&b, BT_USER, 7, true);
    u->u[1] = 1;
    u->v[1] = 1;
    const uint64_t roles[] = {5};
    add_list(&b, BT_USER_ROLE, 7, roles, 1);
    menu_rec(&b, 100, 0, "Dir", NULL, 1, 1);
    apply(m, &b, &out);
    CHECK(rbac_user_active(m, 1, 7));
    CHECK(can(m, 101));
    mem_free(out.followups);
    rbac_model_free(m);
}

/* Appends the tenant's whole subscription list. */
static void add_subs(dal_batch *b, uint64_t tenant, const rbac_sub_row *rows, size_t n)
{
    dal_part *pt = &b->parts[BT_SUBSCRIPTION];
    mem_grow((void **)&pt->lists, &pt->caplists, pt->nlists + 1, sizeof *pt->lists);
    pt->lists[pt->nlists++] = (dal_list){tenant, pt->nrows, n};
    for (size_t i = 0; i < n; i++) {
        mem_grow((void **)&pt->rows, &pt->caprows, pt->nrows + 1, sizeof *pt->rows);
        pt->rows[pt->nrows++] = (dal_rec){.u = {tenant, rows[i].id, rows[i].package_id},
                                          .v = {rows[i].status},
                                          .t = {rows[i].start_ms, rows[i].end_ms}};
    }
}

static void test_apply_subscriptions(void)
{
    rbac_model *m = fixture();
    dal_batch b = {0};
    dal_apply_out out;
    /* The subscription ended by SQL: the tenant's whole list, now expired. */
    const rbac_sub_row ended[] = {{1, 10, NOW - 2 * DAY, NOW - DAY, 1}};
    add_subs(&b, 1, ended, 1);
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    rbac_stats st;
    rbac_model_stats(m, &st);
    CHECK_EQ_INT(st.subscriptions, 1);
    /* A new one (TENANT SUBSCRIBE) next to the ended one. */
    const rbac_sub_row two[] = {{1, 10, NOW - 2 * DAY, NOW - DAY, 0},
                                {2, 10, NOW - DAY, NOW + DAY, 1}};
    add_subs(&b, 1, two, 2);
    apply(m, &b, &out);
    CHECK(can(m, 101));
    rbac_model_stats(m, &st);
    CHECK_EQ_INT(st.subscriptions, 2);
    /* Subscriptions of a tenant the model has never seen are kept for it. */
    CHECK(rbac_set_subscriptions(m, 99, two, 0));
    rbac_model_free(m);
}

static void test_apply_new_entities(void)
{
    rbac_model *m = fixture();
    dal_batch b = {0};
    dal_apply_out out;
    /* A menu above the highest id is added in place and asks for the rows naming it; one
     * below it cannot keep bitmap order and asks for a full reload. */
    menu_rec(&b, 150, 100, "New", "p:new", 3, 1);
    menu_rec(&b, 50, 0, "Old", NULL, 1, 1);
    dal_rec *role = entity(&b, BT_ROLE, 6, true);
    role->u[1] = 1;
    set_str(role, 0, "new");
    role->v[0] = 1;
    apply(m, &b, &out);
    CHECK(out.need_full_reload);
    CHECK_EQ_INT(out.nfollowups, 3);
    dal_key want[] = {{150, 0, BT_PACKAGE_MENU, DAL_KEY_TARGET},
                      {150, 0, BT_ROLE_MENU, DAL_KEY_TARGET},
                      {6, 0, BT_USER_ROLE, DAL_KEY_TARGET}};
    for (size_t i = 0; i < 3 && i < out.nfollowups; i++) {
        CHECK_EQ_INT(out.followups[i].desc, want[i].desc);
        CHECK_EQ_INT(out.followups[i].id, want[i].id);
        CHECK_EQ_INT(out.followups[i].mode, DAL_KEY_TARGET);
    }
    mem_free(out.followups);
    /* The follow-ups' answers: role 5 holds 150, user 7 holds role 6 (which holds 102). */
    const uint64_t m6[] = {102};
    add_row(&b, BT_ROLE_MENU, 5, 150);
    add_row(&b, BT_PACKAGE_MENU, 10, 150);
    add_row(&b, BT_USER_ROLE, 7, 6);
    add_list(&b, BT_ROLE_MENU, 6, m6, 1);
    apply(m, &b, &out);
    CHECK(can(m, 150));
    CHECK(can(m, 102));
    mem_free(out.followups);
    rbac_model_free(m);
}

int main(void)
{
    TEST_RUN(test_col_u64);
    TEST_RUN(test_decode);
    TEST_RUN(test_sql);
    TEST_RUN(test_key_of_change);
    TEST_RUN(test_keys_unique);
    TEST_RUN(test_apply_lists_replace);
    TEST_RUN(test_apply_entities);
    TEST_RUN(test_apply_subscriptions);
    TEST_RUN(test_apply_new_entities);
    return TEST_DONE();
}
