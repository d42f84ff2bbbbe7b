/*
 * Change-log follower tests without a database: the cursor's bookkeeping of ids seen
 * out of order (holes, probes, WAITREV's condition), key deduplication, and applying
 * re-read batches to a hand-built model (replace, remove, revive, follow-ups, the
 * menu-order fallback to a full reload).
 *
 * The model: tenant 1 on package 10 {100 dir, 101 page}; role 5 {101}; user 7 (role 5).
 */
#include "../../src/sync_internal.h"
#include "mem.h"
#include "rbac.h"
#include "testing.h"

#include <stdint.h>
#include <string.h>

#define NOW 1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define DAY 86400000LL

/* ------------------------------------------------------------------ cursor ---- */

static void test_cursor_reset_and_seen(void)
{
    sync_cursor c = {0};
    const uint64_t holes[] = {98, 95, 97, 97, 120, 0};
    sync_cursor_reset(&c, 100, holes, 6, 1);
    CHECK_EQ_INT(c.max_seen, 100);
    CHECK_EQ_INT(c.nruns, 2); /* [95] [97-98]; 120 is above, 0 is no id */
    CHECK_EQ_INT(sync_cursor_low_water(&c), 94);
    CHECK_EQ_INT(sync_cursor_missing(&c), 3);
    sync_cursor_seen(&c, 97, 2);
    CHECK_EQ_INT(c.nruns, 2);
    CHECK_EQ_INT(c.runs[1].lo, 98);
    sync_cursor_seen(&c, 105, 3); /* 101..104 become a hole */
    CHECK_EQ_INT(c.max_seen, 105);
    CHECK_EQ_INT(c.nruns, 3);
    CHECK_EQ_INT(c.runs[2].lo, 101);
    CHECK_EQ_INT(c.runs[2].hi, 104);
    CHECK_EQ_INT(c.runs[2].seen_us, 3);
    sync_cursor_seen(&c, 50, 4); /* applied long ago: nothing changes */
    CHECK_EQ_INT(sync_cursor_missing(&c), 6);
    sync_cursor_seen(&c, 95, 5);
    CHECK_EQ_INT(sync_cursor_low_water(&c), 97);
    sync_cursor_free(&c);
}

static void test_cursor_probes(void)
{
    sync_cursor c = {0};
    sync_cursor_reset(&c, 10, NULL, 0, 0);
    sync_cursor_seen(&c, 20, 1); /* hole 11..19 */
    sync_cursor_inflight(&c, 11, 19, true, 50);
    CHECK_EQ_INT(c.nruns, 2); /* split so the next probes can tell which id */
    CHECK_EQ_INT(c.runs[0].hi, 15);
    CHECK_EQ_INT(c.runs[1].lo, 16);
    CHECK_EQ_INT(c.runs[0].inflight_us, 0);
    sync_cursor_seen(&c, 13, 2); /* [11-12] [14-15] [16-19] */
    CHECK_EQ_INT(c.nruns, 3);
    sync_cursor_absent(&c, 14, 19);
    CHECK_EQ_INT(c.nruns, 1);
    CHECK_EQ_INT(sync_cursor_low_water(&c), 10);
    sync_cursor_absent(&c, 12, 12); /* part of a run */
    CHECK_EQ_INT(c.nruns, 1);
    CHECK_EQ_INT(c.runs[0].lo, 11);
    CHECK_EQ_INT(c.runs[0].hi, 11);
    sync_cursor_absent(&c, 11, 11);
    CHECK_EQ_INT(c.nruns, 0);
    CHECK_EQ_INT(sync_cursor_low_water(&c), 20);
    sync_cursor_free(&c);
}

static void test_cursor_reached(void)
{
    sync_cursor c = {0};
    const uint64_t holes[] = {8};
    sync_cursor_reset(&c, 10, holes, 1, 0);
    CHECK(sync_cursor_reached(&c, 7, 100));   /* below every hole */
    CHECK(!sync_cursor_reached(&c, 9, 100));  /* 8 may be committed and unread */
    CHECK(!sync_cursor_reached(&c, 11, 100)); /* not fetched yet */
    /* A probe sent after the caller asked found 8 held by an open transaction: it
     * commits after the call, so the caller cannot have seen it. */
    sync_cursor_inflight(&c, 8, 8, true, 150);
    CHECK(sync_cursor_reached(&c, 10, 100));
    CHECK(!sync_cursor_reached(&c, 10, 200)); /* that probe predates this caller */
    /* A probe of a longer range does not single out an id. */
    sync_cursor_seen(&c, 13, 300); /* hole 11-12 */
    sync_cursor_inflight(&c, 8, 12, true, 400);
    CHECK_EQ_INT(c.runs[0].inflight_us, 150);
    CHECK(!sync_cursor_reached(&c, 13, 100));
    sync_cursor_free(&c);
}

static void test_cursor_group_probes(void)
{
    sync_cursor c = {0};
    sync_cursor_reset(&c, 10, NULL, 0, 0);
    sync_cursor_seen(&c, 12, 100); /* hole 11 */
    sync_cursor_seen(&c, 15, 100); /* hole 13-14 */
    sync_cursor_seen(&c, 20, 500); /* hole 16-19, noticed later */
    /* One probe over 11..19: no open transaction, 14 committed since the fetch. Old
     * holes go except 14 (the next fetch applies it); the young one stays. */
    const uint64_t present[] = {12, 14, 15};
    sync_cursor_settled(&c, 11, 19, present, 3, 200);
    CHECK_EQ_INT(c.nruns, 2);
    CHECK_EQ_INT(c.runs[0].lo, 14);
    CHECK_EQ_INT(c.runs[0].hi, 14);
    CHECK_EQ_INT(c.runs[1].lo, 16);
    CHECK_EQ_INT(c.runs[1].hi, 19);
    /* A group probe that meets an open transaction marks its runs, splits nothing. */
    sync_cursor_inflight(&c, 14, 19, false, 600);
    CHECK(c.runs[0].alone && c.runs[1].alone);
    CHECK_EQ_INT(c.runs[1].hi, 19);
    CHECK_EQ_INT(c.runs[0].inflight_us, 0);
    sync_cursor_seen(&c, 17, 700); /* [14] [16] [18-19], still alone */
    CHECK_EQ_INT(c.nruns, 3);
    CHECK(c.runs[1].alone && c.runs[2].alone);
    sync_cursor_settled(&c, 16, 19, NULL, 0, 600);
    CHECK_EQ_INT(c.nruns, 1);
    CHECK_EQ_INT(sync_cursor_low_water(&c), 13);
    sync_cursor_free(&c);
}

static void test_keys_unique(void)
{
    sync_key k[] = {
        {7, 1, SYNC_K_USER},    {5, 1, SYNC_K_ROLE},    {7, 1, SYNC_K_USER},
        {7, 2, SYNC_K_SESSION}, {7, 1, SYNC_K_SESSION}, {7, 1, SYNC_K_SESSION},
    };
    size_t n = sync_keys_unique(k, 6);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(k[0].kind, SYNC_K_ROLE);
    CHECK_EQ_INT(k[1].kind, SYNC_K_USER);
    CHECK_EQ_INT(k[2].tenant, 1); /* sessions differ by tenant */
    CHECK_EQ_INT(k[3].tenant, 2);
}

/* ------------------------------------------------------------------- apply ---- */

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

static void add_list(sync_batch *b, int kind, uint64_t owner, const uint64_t *ids, size_t n)
{
    sync_lists *l = &b->lists[kind];
    mem_grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n++] = (sync_list){owner, l->npool, n};
    mem_grow((void **)&l->pool, &l->cappool, l->npool + n + 1, sizeof *l->pool);
    if (n)
        memcpy(l->pool + l->npool, ids, n * sizeof *ids);
    l->npool += n;
}

static void apply(rbac_model *m, sync_batch *b, sync_apply_out *out)
{
    memset(out, 0, sizeof *out);
    sync_apply_batch(m, b, out);
    sync_batch_free(b);
}

static void test_apply_lists_replace(void)
{
    rbac_model *m = fixture();
    sync_batch b = {0};
    sync_apply_out out;
    CHECK(!can(m, 102));
    const uint64_t menus[] = {102, 101, 102};
    add_list(&b, SYNC_L_ROLE_MENUS, 5, menus, 3);
    apply(m, &b, &out);
    CHECK(can(m, 102));
    CHECK_EQ_INT(out.applied, 1);
    /* Applying the same state again changes nothing: idempotent. */
    add_list(&b, SYNC_L_ROLE_MENUS, 5, menus, 3);
    apply(m, &b, &out);
    CHECK(can(m, 101) && can(m, 102));
    /* An empty list is "the last role was taken away". */
    add_list(&b, SYNC_L_USER_ROLES, 7, NULL, 0);
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    rbac_model_free(m);
}

static void test_apply_entities(void)
{
    rbac_model *m = fixture();
    sync_batch b = {0};
    sync_apply_out out;
    /* A disabled directory takes its subtree with it. */
    b.nmenus = 1;
    b.capmenus = 1;
    b.menus = mem_calloc(1, sizeof *b.menus);
    b.menus[0] = (sync_menu_rec){100, 0, mem_strdup("Dir"), NULL, NULL, 1, 0, 0, true};
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    CHECK(!out.need_full_reload);
    CHECK_EQ_INT(out.nfollowups, 0); /* known menu */
    mem_free(out.followups);
    /* The user removed (soft delete) and revived with its lists. */
    b.users = mem_calloc(1, sizeof *b.users);
    b.nusers = b.capusers = 1;
    b.users[0] = (sync_user_rec){7, 1, 1, false, false};
    apply(m, &b, &out);
    CHECK(!rbac_user_active(m, 1, 7));
    b.users = mem_calloc(1, sizeof *b.users);
    b.nusers = b.capusers = 1;
    b.users[0] = (sync_user_rec){7, 1, 1, false, true};
    const uint64_t roles[] = {5};
    add_list(&b, SYNC_L_USER_ROLES, 7, roles, 1);
    b.menus = mem_calloc(1, sizeof *b.menus);
    b.nmenus = b.capmenus = 1;
    b.menus[0] = (sync_menu_rec){100, 0, mem_strdup("Dir"), NULL, NULL, 1, 1, 0, true};
    apply(m, &b, &out);
    CHECK(rbac_user_active(m, 1, 7));
    CHECK(can(m, 101));
    mem_free(out.followups);
    rbac_model_free(m);
}

static void test_apply_subscriptions(void)
{
    rbac_model *m = fixture();
    sync_batch b = {0};
    sync_apply_out out;
    /* The subscription ended by SQL: the tenant's whole list, now expired. */
    b.sub_rows = mem_calloc(1, sizeof *b.sub_rows);
    b.nsub_rows = b.capsub_rows = 1;
    b.sub_rows[0] = (rbac_sub_row){1, 10, NOW - 2 * DAY, NOW - DAY, 1};
    b.subs = mem_calloc(1, sizeof *b.subs);
    b.nsubs = b.capsubs = 1;
    b.subs[0] = (sync_subs){1, 0, 1};
    apply(m, &b, &out);
    CHECK(!can(m, 101));
    rbac_stats st;
    rbac_model_stats(m, &st);
    CHECK_EQ_INT(st.subscriptions, 1);
    /* A new one (TENANT SUBSCRIBE) next to the ended one. */
    b.sub_rows = mem_calloc(2, sizeof *b.sub_rows);
    b.nsub_rows = b.capsub_rows = 2;
    b.sub_rows[0] = (rbac_sub_row){1, 10, NOW - 2 * DAY, NOW - DAY, 0};
    b.sub_rows[1] = (rbac_sub_row){2, 10, NOW - DAY, NOW + DAY, 1};
    b.subs = mem_calloc(1, sizeof *b.subs);
    b.nsubs = b.capsubs = 1;
    b.subs[0] = (sync_subs){1, 0, 2};
    apply(m, &b, &out);
    CHECK(can(m, 101));
    rbac_model_stats(m, &st);
    CHECK_EQ_INT(st.subscriptions, 2);
    /* Subscriptions of a tenant the model has never seen are kept for it. */
    CHECK(rbac_set_subscriptions(m, 99, b.sub_rows, 0));
    rbac_model_free(m);
}

static void test_apply_new_entities(void)
{
    rbac_model *m = fixture();
    sync_batch b = {0};
    sync_apply_out out;
    /* A menu above the highest id is added in place and asks for its references; one
     * below it cannot keep bitmap order and asks for a full reload. */
    b.menus = mem_calloc(2, sizeof *b.menus);
    b.nmenus = b.capmenus = 2;
    b.menus[0] =
        (sync_menu_rec){150, 100, mem_strdup("New"), mem_strdup("p:new"), NULL, 3, 1, 0, true};
    b.menus[1] = (sync_menu_rec){50, 0, mem_strdup("Old"), NULL, NULL, 1, 1, 0, true};
    b.roles = mem_calloc(1, sizeof *b.roles);
    b.nroles = b.caproles = 1;
    b.roles[0] = (sync_role_rec){6, 1, mem_strdup("new"), 1, true};
    apply(m, &b, &out);
    CHECK(out.need_full_reload);
    CHECK_EQ_INT(out.nfollowups, 2);
    CHECK_EQ_INT(out.followups[0].kind, SYNC_K_MENU_REFS);
    CHECK_EQ_INT(out.followups[0].id, 150);
    CHECK_EQ_INT(out.followups[1].kind, SYNC_K_ROLE_REFS);
    mem_free(out.followups);
    /* The follow-ups' answers: role 5 holds 150, user 7 holds role 6 (which holds 102). */
    const uint64_t roles[] = {5}, users[] = {7}, pkgs[] = {10}, m6[] = {102};
    add_list(&b, SYNC_L_MENU_ROLES, 150, roles, 1);
    add_list(&b, SYNC_L_MENU_PACKAGES, 150, pkgs, 1);
    add_list(&b, SYNC_L_ROLE_USERS, 6, users, 1);
    add_list(&b, SYNC_L_ROLE_MENUS, 6, m6, 1);
    apply(m, &b, &out);
    CHECK(can(m, 150));
    CHECK(can(m, 102));
    mem_free(out.followups);
    rbac_model_free(m);
}

int main(void)
{
    TEST_RUN(test_cursor_reset_and_seen);
    TEST_RUN(test_cursor_probes);
    TEST_RUN(test_cursor_reached);
    TEST_RUN(test_cursor_group_probes);
    TEST_RUN(test_keys_unique);
    TEST_RUN(test_apply_lists_replace);
    TEST_RUN(test_apply_entities);
    TEST_RUN(test_apply_subscriptions);
    TEST_RUN(test_apply_new_entities);
    return TEST_DONE();
}
