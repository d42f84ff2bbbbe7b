/*
 * What client tracking asks the engine about a change (rbac_track.c), on a hand-built
 * model: the tenant of a user or role slot, live or removed; who inherits a user's
 * stores; the tenants holding a package; the next subscription start or end, and the
 * tenants whose current package changes in a window (the boundary timer's walk).
 *
 *   tenants 1 (subs: pkg 10 from NOW-DAY to NOW+DAY; pkg 11 from NOW+HOUR, open end;
 *              an inactive one on pkg 12 at NOW+MIN), 2 (pkg 10, NOW-DAY to NOW+2*DAY)
 *   roles   501 (t1), 601 (t2); users 1001, 1002 (t1, 1002 inherits 1001's stores), 2001 (t2)
 */
#include "rbac.h"
#include "testing.h"

#include <stdint.h>

#define NOW  1700000000000LL
#define MIN  60000LL
#define HOUR 3600000LL
#define DAY  86400000LL

static rbac_model *fixture(void)
{
    rbac_model *m = rbac_model_new();
    rbac_add_tenant(m, 1, "acme", 1);
    rbac_add_tenant(m, 2, "beta", 1);
    rbac_add_package(m, 10, "basic", 1);
    rbac_add_package(m, 11, "pro", 1);
    rbac_add_package(m, 12, "old", 1);
    CHECK(rbac_add_subscription(m, 1, 1, 10, NOW - DAY, NOW + DAY, 1));
    CHECK(rbac_add_subscription(m, 2, 1, 11, NOW + HOUR, INT64_MAX, 1));
    CHECK(rbac_add_subscription(m, 3, 1, 12, NOW + MIN, NOW + 2 * MIN, 0));
    CHECK(rbac_add_subscription(m, 4, 2, 10, NOW - DAY, NOW + 2 * DAY, 1));
    rbac_add_role(m, 501, 1, "ops", 1);
    rbac_add_role(m, 601, 2, "viewer", 1);
    rbac_add_user(m, 1001, 1, 1, false);
    rbac_add_user(m, 1002, 1, 1, false);
    rbac_add_user(m, 2001, 2, 1, false);
    CHECK(rbac_add_delegate(m, 1002, 1001));
    rbac_model_finish(m);
    return m;
}

static void collect(void *ctx, uint64_t id)
{
    uint64_t *v = ctx;
    v[++v[0]] = id; /* v[0] counts */
}

static void test_tenant_of_user_and_role(void)
{
    rbac_model *m = fixture();
    uint64_t t = 0;
    CHECK(rbac_user_tenant(m, 2001, &t));
    CHECK_EQ_INT(t, 2);
    CHECK(rbac_role_tenant(m, 501, &t));
    CHECK_EQ_INT(t, 1);
    CHECK(!rbac_user_tenant(m, 9999, &t));
    CHECK(!rbac_role_tenant(m, 9999, &t));
    /* A removed user keeps its slot: its tenant is still known (the push needs it). */
    CHECK(rbac_remove_user(m, 1002));
    CHECK(rbac_user_tenant(m, 1002, &t));
    CHECK_EQ_INT(t, 1);
    CHECK(!rbac_user_tenant(NULL, 1001, &t));
    rbac_model_free(m);
}

static void test_delegation(void)
{
    rbac_model *m = fixture();
    CHECK(rbac_user_delegates_to(m, 1002, 1001));
    CHECK(!rbac_user_delegates_to(m, 1001, 1002));
    CHECK(!rbac_user_delegates_to(m, 9999, 1001));
    rbac_model_free(m);
}

static void test_tenants_of_package(void)
{
    rbac_model *m = fixture();
    uint64_t v[8] = {0};
    rbac_each_tenant(m, 10, collect, v);
    CHECK_EQ_INT(v[0], 2);
    CHECK_EQ_INT(v[1], 1);
    CHECK_EQ_INT(v[2], 2);
    v[0] = 0;
    rbac_each_tenant(m, 11, collect, v);
    CHECK_EQ_INT(v[0], 1);
    CHECK_EQ_INT(v[1], 1);
    v[0] = 0;
    rbac_each_tenant(m, 99, collect, v);
    CHECK_EQ_INT(v[0], 0);
    v[0] = 0;
    rbac_each_tenant(m, 0, collect, v); /* every tenant */
    CHECK_EQ_INT(v[0], 2);
    rbac_model_free(m);
}

static void test_boundaries(void)
{
    rbac_model *m = fixture();
    /* The inactive subscription at NOW+MIN does not count: the next is NOW+HOUR. */
    CHECK_EQ_INT(rbac_next_boundary(m, NOW), NOW + HOUR);
    CHECK_EQ_INT(rbac_next_boundary(m, NOW + HOUR), NOW + DAY);
    CHECK_EQ_INT(rbac_next_boundary(m, NOW + DAY), NOW + 2 * DAY);
    CHECK_EQ_INT(rbac_next_boundary(m, NOW + 2 * DAY), INT64_MAX); /* the open end */
    CHECK_EQ_INT(rbac_next_boundary(NULL, NOW), INT64_MAX);
    uint64_t v[8] = {0};
    rbac_each_boundary_tenant(m, NOW, NOW + HOUR, collect, v); /* (from, to] */
    CHECK_EQ_INT(v[0], 1);
    CHECK_EQ_INT(v[1], 1);
    v[0] = 0;
    rbac_each_boundary_tenant(m, NOW + HOUR, NOW + HOUR + 1, collect, v);
    CHECK_EQ_INT(v[0], 0);
    v[0] = 0;
    rbac_each_boundary_tenant(m, NOW, NOW + 3 * DAY, collect, v); /* each tenant once */
    CHECK_EQ_INT(v[0], 2);
    rbac_model_free(m);
}

int main(void)
{
    TEST_RUN(test_tenant_of_user_and_role);
    TEST_RUN(test_delegation);
    TEST_RUN(test_tenants_of_package);
    TEST_RUN(test_boundaries);
    return TEST_DONE();
}
