/*
 * The mpbackend part of the engine (rbac_domain.c) without a database: domain syntax,
 * permission lists as the role column holds them, the scope rule, the sorted reads, login
 * methods, application flags, bindings replaced per table, WHY, and 64-bit ids.
 *
 * The model: roles 1 (Admin: a, b), 2 (Developer: c), 3 (Application: d), 4 (Developer,
 * disabled later); users 7 and 1 << 40.
 */
#include "mem.h"
#include "rbac.h"
#include "testing.h"

#include <stdint.h>
#include <string.h>

#define BIG_USER (1ULL << 40)

static bool can(const rbac_model *m, const char *d, uint64_t user, const char *p)
{
    return rbac_can(m, d, strlen(d), user, p, strlen(p));
}

static void role(rbac_model *m, uint64_t id, const char *name, int scope, const char *perms)
{
    rbac_add_scoped_role(m, id, name, scope, perms, perms ? strlen(perms) : 0);
}

static bool grant(rbac_model *m, uint64_t user, int kind, const char *d, uint64_t role_id)
{
    return rbac_add_grant(m, user, kind, d, strlen(d), role_id);
}

static rbac_model *fixture(void)
{
    rbac_model *m = rbac_model_new();
    rbac_domain_prepare(m);
    role(m, 1, "admin", RBAC_SCOPE_ADMIN, " a ,, b,a ,");
    role(m, 2, "dev", RBAC_SCOPE_DEVELOPER, "c");
    role(m, 3, "app", RBAC_SCOPE_APPLICATION, "d,e");
    role(m, 4, "dev2", RBAC_SCOPE_DEVELOPER, "z");
    rbac_add_user(m, 7, 0, 1, false);
    rbac_add_user(m, BIG_USER, 0, 1, false);
    CHECK(grant(m, 7, RBAC_SCOPE_ADMIN, "admin", 1));
    CHECK(grant(m, 7, RBAC_SCOPE_DEVELOPER, "developer:10", 2));
    CHECK(grant(m, 7, RBAC_SCOPE_ADMIN, "admin", 2)); /* Developer role in the admin table */
    CHECK(grant(m, 7, RBAC_SCOPE_APPLICATION, "application:com.x", 3));
    CHECK(grant(m, BIG_USER, RBAC_SCOPE_DEVELOPER, "developer:10", 4));
    CHECK(!grant(m, 99, RBAC_SCOPE_ADMIN, "admin", 1)); /* unknown user */
    CHECK(!grant(m, 7, RBAC_SCOPE_ADMIN, "admin", 99)); /* role never held */
    rbac_model_finish(m);
    return m;
}

static void test_syntax(void)
{
    CHECK_EQ_INT(rbac_scope_parse("Admin", 5), RBAC_SCOPE_ADMIN);
    CHECK_EQ_INT(rbac_scope_parse("admin", 5), RBAC_SCOPE_NONE);
    CHECK_EQ_INT(rbac_scope_parse(NULL, 0), RBAC_SCOPE_NONE);
    char out[RBAC_DOMAIN_MAX + 1];
    CHECK_EQ_INT(rbac_domain_canon("admin", 5, out), RBAC_SCOPE_ADMIN);
    CHECK_EQ_INT(rbac_domain_canon("developer:007", 13, out), RBAC_SCOPE_DEVELOPER);
    CHECK_EQ_STR(out, "developer:7");
    CHECK_EQ_INT(rbac_domain_canon("application:com.x", 17, out), RBAC_SCOPE_APPLICATION);
    CHECK_EQ_STR(out, "application:com.x");
    static const char *const bad[] = {"",
                                      "Admin",
                                      "admin:",
                                      "developer:",
                                      "developer:x",
                                      "developer:-1",
                                      "application:",
                                      "application:a b",
                                      "tenant:1",
                                      "developer:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(rbac_domain_canon(bad[i], strlen(bad[i]), out), RBAC_SCOPE_NONE);
}

static void free_strs(rbac_str *v)
{
    mem_free(v);
}

static void test_reads(void)
{
    rbac_model *m = fixture();
    CHECK(can(m, "admin", 7, "a") && can(m, "admin", 7, "b"));
    CHECK(!can(m, "admin", 7, "c")); /* the Developer role's binding in admin does not count */
    CHECK(can(m, "developer:10", 7, "c"));
    CHECK(!can(m, "developer:11", 7, "c"));
    CHECK(can(m, "application:com.x", 7, "e"));
    CHECK(!can(m, "admin", 7, "a,b")); /* no name holds a comma */
    CHECK(!can(m, "admin", 8, "a"));
    CHECK(can(m, "developer:10", BIG_USER, "z"));
    rbac_str *v;
    size_t n = rbac_perms(m, "admin", 5, 7, &v);
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && !strcmp(v[0].s, "a") && !strcmp(v[1].s, "b"));
    free_strs(v);
    n = rbac_domains(m, 7, &v);
    CHECK_EQ_INT(n, 3);
    CHECK(n == 3 && !strcmp(v[0].s, "admin") && !strcmp(v[1].s, "application:com.x") &&
          !strcmp(v[2].s, "developer:10"));
    free_strs(v);
    /* A role disabled: its bindings stop counting, and come back with it. */
    rbac_remove_role(m, 4);
    CHECK(!can(m, "developer:10", BIG_USER, "z"));
    CHECK_EQ_INT(rbac_domains(m, BIG_USER, &v), 0);
    free_strs(v);
    role(m, 4, "dev2", RBAC_SCOPE_DEVELOPER, "z");
    CHECK(can(m, "developer:10", BIG_USER, "z"));
    /* A role whose scope changes: its bindings count where the scope now matches. */
    role(m, 2, "dev", RBAC_SCOPE_ADMIN, "c");
    CHECK(can(m, "admin", 7, "c"));
    CHECK(!can(m, "developer:10", 7, "c"));
    /* A user removed answers nothing. */
    rbac_remove_user(m, 7);
    CHECK(!can(m, "admin", 7, "a"));
    rbac_model_free(m);
}

static void test_set_grants_replaces_one_table(void)
{
    rbac_model *m = fixture();
    rbac_grant_row rows[] = {{"developer:12", 12, 2}, {"developer:12", 12, 2}};
    CHECK(rbac_set_grants(m, 7, RBAC_SCOPE_DEVELOPER, rows, 2));
    CHECK(!can(m, "developer:10", 7, "c"));
    CHECK(can(m, "developer:12", 7, "c"));
    CHECK(can(m, "admin", 7, "a")); /* the admin table's bindings stay */
    CHECK(rbac_set_grants(m, 7, RBAC_SCOPE_ADMIN, NULL, 0));
    CHECK(!can(m, "admin", 7, "a"));
    CHECK(!rbac_set_grants(m, 99, RBAC_SCOPE_ADMIN, NULL, 0));
    rbac_model_free(m);
}

static void test_logins(void)
{
    rbac_model *m = fixture();
    rbac_add_login(m, 5, BIG_USER, "okta", 4, "k", 1);
    rbac_add_login(m, 3, 7, "okta", 4, "k", 1);
    rbac_add_login(m, 4, 7, "email", 5, "k", 1);
    uint64_t u = 0;
    CHECK(rbac_user_by_login(m, "okta", 4, "k", 1, &u) && u == 7); /* lowest id */
    CHECK(rbac_remove_login(m, 3));
    CHECK(rbac_user_by_login(m, "okta", 4, "k", 1, &u) && u == BIG_USER);
    rbac_remove_user(m, BIG_USER); /* its user gone: no answer */
    CHECK(!rbac_user_by_login(m, "okta", 4, "k", 1, &u));
    CHECK(!rbac_user_by_login(m, "okta", 4, "x", 1, &u));
    /* A login moved to another key leaves the old one. */
    rbac_add_login(m, 4, 7, "email", 5, "new", 3);
    CHECK(!rbac_user_by_login(m, "email", 5, "k", 1, &u));
    CHECK(rbac_user_by_login(m, "email", 5, "new", 3, &u) && u == 7);
    rbac_model_free(m);
}

static void test_flags(void)
{
    rbac_model *m = fixture();
    rbac_add_flag(m, 1, "camera", "[\"front\"]");
    rbac_add_flag(m, 2, "bluetooth", NULL);
    rbac_add_flag(m, 3, "camera", "[\"back\"]");
    rbac_add_flag_binding(m, 10, "com.x", 5, 1);
    rbac_add_flag_binding(m, 11, "com.x", 5, 2);
    rbac_add_flag_binding(m, 12, "com.x", 5, 3);
    rbac_add_flag_binding(m, 13, "com.x", 5, 1);  /* the same flag twice */
    rbac_add_flag_binding(m, 14, "com.x", 5, 99); /* no such flag */
    rbac_str *v;
    size_t n = rbac_app_flags(m, "com.x", 5, &v);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(v[0].s, "bluetooth");
        CHECK_EQ_STR(v[1].s, "");
        CHECK_EQ_STR(v[2].s, "camera");
        CHECK_EQ_STR(v[3].s, "[\"front\"]"); /* by name, then flag id */
        CHECK_EQ_STR(v[5].s, "[\"back\"]");
    }
    mem_free(v);
    CHECK(rbac_remove_flag(m, 2));
    CHECK(rbac_remove_flag_binding(m, 10));
    CHECK(rbac_remove_flag_binding(m, 13));
    n = rbac_app_flags(m, "com.x", 5, &v);
    CHECK_EQ_INT(n, 1);
    mem_free(v);
    CHECK_EQ_INT(rbac_app_flags(m, "com.y", 5, &v), 0);
    CHECK(v == NULL);
    rbac_model_free(m);
}

typedef struct lines {
    char text[2048];
} lines;

static void collect(void *ctx, const char *line, size_t len)
{
    lines *l = ctx;
    strncat(l->text, line, len);
    strcat(l->text, "\n");
}

static void test_why(void)
{
    rbac_model *m = fixture();
    lines w = {""};
    rbac_why_domain(m, "admin", 5, 7, "a", 1, collect, &w);
    CHECK(strncmp(w.text, "allow\n", 6) == 0);
    CHECK(strstr(w.text, "role 1 'admin' grants it") != NULL);
    CHECK(strstr(w.text, "has scope Developer but is bound through the Admin binding table") !=
          NULL);
    memset(&w, 0, sizeof w);
    rbac_why_domain(m, "nope", 4, 7, "a", 1, collect, &w);
    CHECK(strstr(w.text, "deny\ninvalid domain 'nope'") != NULL);
    memset(&w, 0, sizeof w);
    rbac_why_domain(m, "developer:99", 12, 7, "q\x01", 2, collect, &w);
    CHECK(strstr(w.text, "no role anywhere has the permission 'q\\x01'") != NULL);
    CHECK(strstr(w.text, "the user holds no role in domain 'developer:99'") != NULL);
    rbac_model_free(m);
}

int main(void)
{
    TEST_RUN(test_syntax);
    TEST_RUN(test_reads);
    TEST_RUN(test_set_grants_replaces_one_table);
    TEST_RUN(test_logins);
    TEST_RUN(test_flags);
    TEST_RUN(test_why);
    return TEST_DONE();
}
