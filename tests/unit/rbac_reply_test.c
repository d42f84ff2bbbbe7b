/*
 * rbac_reply tests: the exact bytes of the MENUS reply in its three forms (what MENUS
 * and SESSION MENUS send), ids beyond 2^63-1 as bulk strings, and the menu and form
 * argument parsers, on a small hand-built model.
 *
 * The fixture: tenant 1; menus 100 System (dir, root) > 101 Users (page, a:list) >
 * 102 Add (action, a:add); package 10 holds all three; tenant 1 subscribes to it now;
 * user 7 is tenant 1's admin.
 */
#include "buf.h"
#include "mem.h"
#include "rbac.h"
#include "rbac_reply.h"
#include "testing.h"

#include <stdint.h>
#include <string.h>

#define NOW 1700000000000LL
#define DAY 86400000LL

static rbac_model *fixture(void)
{
    rbac_model *m = rbac_model_new();
    rbac_add_tenant(m, 1, "acme", 1);
    rbac_add_menu(m, 100, 0, 1, "System", NULL, "/system", 1, 1);
    rbac_add_menu(m, 101, 100, 2, "Users", "a:list", "/system/users", 2, 1);
    rbac_add_menu(m, 102, 101, 3, "Add", "a:add", NULL, 3, 1);
    rbac_add_package(m, 10, "all", 1);
    CHECK(rbac_add_package_menu(m, 10, 100));
    CHECK(rbac_add_package_menu(m, 10, 101));
    CHECK(rbac_add_package_menu(m, 10, 102));
    CHECK(rbac_add_subscription(m, 1, 1, 10, NOW - DAY, NOW + DAY, 1));
    rbac_add_user(m, 7, 1, 1, true);
    rbac_model_finish(m);
    return m;
}

/* out holds exactly the bytes want. */
static bool holds(const buf *out, const char *want)
{
    size_t n = strlen(want);
    if (out->len != n || memcmp(out->data, want, n) != 0) {
        fprintf(stderr, "got  %.*s\nwant %s\n", (int)out->len, out->data ? out->data : "", want);
        return false;
    }
    return true;
}

static void test_menus_ids(void)
{
    rbac_model *m = fixture();
    buf out;
    buf_init(&out);
    rbac_reply_menus(&out, m, 1, 7, RBAC_REPLY_IDS, NOW);
    CHECK(holds(&out, "*3\r\n:100\r\n:101\r\n:102\r\n"));
    rbac_model_free(m);
    buf_free(&out);
}

static void test_menus_codes(void)
{
    rbac_model *m = fixture();
    buf out;
    buf_init(&out);
    rbac_reply_menus(&out, m, 1, 7, RBAC_REPLY_CODES, NOW); /* 100 has no perms code */
    CHECK(holds(&out, "*2\r\n$6\r\na:list\r\n$5\r\na:add\r\n"));
    rbac_model_free(m);
    buf_free(&out);
}

static void test_menus_tree(void)
{
    rbac_model *m = fixture();
    buf out;
    buf_init(&out);
    rbac_reply_menus(&out, m, 1, 7, RBAC_REPLY_TREE, NOW);
    CHECK(holds(&out, "*3\r\n"
                      "*7\r\n:100\r\n:0\r\n:1\r\n$6\r\nSystem\r\n$0\r\n\r\n$7\r\n/system\r\n:1\r\n"
                      "*7\r\n:101\r\n:100\r\n:2\r\n$5\r\nUsers\r\n$6\r\na:list\r\n"
                      "$13\r\n/system/users\r\n:2\r\n"
                      "*7\r\n:102\r\n:101\r\n:3\r\n$3\r\nAdd\r\n$5\r\na:add\r\n$0\r\n\r\n:3\r\n"));
    rbac_model_free(m);
    buf_free(&out);
}

/* Unknown tenant, unknown user, another tenant's user, no model, after the subscription
 * ended: an empty array in every form, never an error. */
static void test_menus_denials(void)
{
    rbac_model *m = fixture();
    static const int forms[] = {RBAC_REPLY_IDS, RBAC_REPLY_CODES, RBAC_REPLY_TREE};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        buf out;
        buf_init(&out);
        rbac_reply_menus(&out, m, 2, 7, forms[i], NOW);
        rbac_reply_menus(&out, m, 1, 8, forms[i], NOW);
        rbac_reply_menus(&out, NULL, 1, 7, forms[i], NOW);
        rbac_reply_menus(&out, m, 1, 7, forms[i], NOW + 2 * DAY);
        CHECK(holds(&out, "*0\r\n*0\r\n*0\r\n*0\r\n"));
        buf_free(&out);
    }
    rbac_model_free(m);
}

static void test_reply_id(void)
{
    buf out;
    buf_init(&out);
    rbac_reply_id(&out, 0);
    rbac_reply_id(&out, INT64_MAX);
    rbac_reply_id(&out, (uint64_t)INT64_MAX + 1);
    rbac_reply_id(&out, UINT64_MAX);
    CHECK(holds(&out, ":0\r\n:9223372036854775807\r\n$19\r\n9223372036854775808\r\n"
                      "$20\r\n18446744073709551615\r\n"));
    buf_free(&out);
}

static bool parse_menu(const rbac_model *m, const char *s, uint32_t *idx)
{
    resp_arg a = {s, strlen(s)};
    return rbac_reply_parse_menu(m, &a, idx);
}

static void test_parse_menu(void)
{
    rbac_model *m = fixture();
    uint32_t idx = 0;
    CHECK(parse_menu(m, "101", &idx));
    CHECK_EQ_INT(idx, rbac_menu_by_id(m, 101));
    CHECK(idx != RBAC_NONE);
    CHECK(parse_menu(m, "000000000102", &idx)); /* leading zeros, as redis-benchmark sends */
    CHECK_EQ_INT(idx, rbac_menu_by_id(m, 102));
    CHECK(parse_menu(m, "a:add", &idx));
    CHECK_EQ_INT(idx, rbac_menu_by_id(m, 102));
    CHECK(parse_menu(m, "999", &idx)); /* no such menu: a denial, not an error */
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(m, "no:such", &idx));
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(m, "", &idx));
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(m, "-1", &idx)); /* not all digits: a code nobody has */
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(m, "18446744073709551615", &idx));
    CHECK_EQ_INT(idx, RBAC_NONE);
    idx = 0;
    CHECK(!parse_menu(m, "18446744073709551616", &idx)); /* beyond 2^64-1: the one error */
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(NULL, "101", &idx));
    CHECK_EQ_INT(idx, RBAC_NONE);
    CHECK(parse_menu(NULL, "a:add", &idx));
    CHECK_EQ_INT(idx, RBAC_NONE);
    rbac_model_free(m);
}

static void test_parse_form(void)
{
    static const struct {
        const char *word;
        bool ok;
        int form;
    } cases[] = {
        {"codes", true, RBAC_REPLY_CODES},
        {"CODES", true, RBAC_REPLY_CODES},
        {"Tree", true, RBAC_REPLY_TREE},
        {"ids", false, -1},
        {"code", false, -1},
        {"treex", false, -1},
        {"", false, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp_arg a = {cases[i].word, strlen(cases[i].word)};
        int form = -1;
        CHECK_EQ_INT(rbac_reply_parse_form(&a, &form), cases[i].ok);
        CHECK_EQ_INT(form, cases[i].form); /* untouched when refused */
    }
}

int main(void)
{
    TEST_RUN(test_menus_ids);
    TEST_RUN(test_menus_codes);
    TEST_RUN(test_menus_tree);
    TEST_RUN(test_menus_denials);
    TEST_RUN(test_reply_id);
    TEST_RUN(test_parse_menu);
    TEST_RUN(test_parse_form);
    return TEST_DONE();
}
