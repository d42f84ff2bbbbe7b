/*
 * module tests: the walks over a module list with fake modules that record their
 * calls — init in order, a failing init unwinds (its own shutdown too) in reverse
 * order, shutdown in reverse order and only once, cron only for started modules, NULL
 * hooks skipped, the INFO section header, the metrics walk — and the server's own list (every
 * module named once, the INFO sections in the order INFO has always shown them).
 */
#include "buf.h"
#include "module.h"
#include "testing.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static char calls[256]; /* "iA iB sB ..." */
static bool fail_b;     /* B's init fails */
static int64_t last_now;

static void note(const char *what)
{
    strncat(calls, what, sizeof calls - strlen(calls) - 1);
}

static bool init_a(void)
{
    note("iA ");
    return true;
}
static bool init_b(void)
{
    note("iB ");
    return !fail_b;
}
static void shutdown_a(void)
{
    note("sA ");
}
static void shutdown_b(void)
{
    note("sB ");
}
static void shutdown_c(void)
{
    note("sC ");
}
static void cron_a(int64_t now)
{
    note("cA ");
    last_now = now;
}
static void cron_c(int64_t now)
{
    note("cC ");
    last_now = now;
}
static void info_b(buf *out)
{
    buf_append_str(out, "b_key:1\r\n");
}
static void metrics_a(buf *out)
{
    buf_append_str(out, "a_metric 1\n");
}
static void metrics_c(buf *out)
{
    buf_append_str(out, "c_metric 3\n");
}

/* A: init, shutdown, cron, metrics. B: init, shutdown, INFO. C: no init, shutdown, cron,
 * metrics. */
static const module mod_a = {
    .name = "a", .init = init_a, .shutdown = shutdown_a, .cron = cron_a, .metrics = metrics_a};
static const module mod_b = {
    .name = "b", .init = init_b, .shutdown = shutdown_b, .info_section = "bees", .info = info_b};
static const module mod_c = {
    .name = "c", .shutdown = shutdown_c, .cron = cron_c, .metrics = metrics_c};
static const module *const fakes[] = {&mod_a, &mod_b, &mod_c, NULL};

static void reset(void)
{
    calls[0] = '\0';
    fail_b = false;
    last_now = 0;
}

static void test_init_cron_shutdown(void)
{
    reset();
    size_t started = 99;
    CHECK(module_init_all(fakes, &started));
    CHECK_EQ_INT(started, 3);
    CHECK_EQ_STR(calls, "iA iB ");
    calls[0] = '\0';
    module_cron_all(fakes, started, 1234);
    CHECK_EQ_STR(calls, "cA cC ");
    CHECK_EQ_INT(last_now, 1234);
    calls[0] = '\0';
    module_shutdown_all(fakes, &started);
    CHECK_EQ_STR(calls, "sC sB sA ");
    CHECK_EQ_INT(started, 0);
    calls[0] = '\0';
    module_shutdown_all(fakes, &started); /* a second call does nothing */
    module_cron_all(fakes, started, 1);   /* nor does cron once stopped */
    CHECK_EQ_STR(calls, "");
}

static void test_init_failure_unwinds(void)
{
    reset();
    fail_b = true;
    size_t started = 0;
    CHECK(!module_init_all(fakes, &started));
    /* C never starts; B's shutdown runs (it may hold a partial start), then A's. */
    CHECK_EQ_STR(calls, "iA iB sB sA ");
    CHECK_EQ_INT(started, 0);
    calls[0] = '\0';
    module_shutdown_all(fakes, &started);
    CHECK_EQ_STR(calls, "");
}

static void test_empty_list(void)
{
    static const module *const none[] = {NULL};
    size_t started = 5;
    CHECK(module_init_all(none, &started));
    CHECK_EQ_INT(started, 0);
    module_cron_all(none, started, 1);
    module_shutdown_all(none, &started);
}

static void test_info_section(void)
{
    buf out;
    buf_init(&out);
    module_info(&mod_a, &out); /* no section: nothing */
    CHECK_EQ_INT(out.len, 0);
    module_info(&mod_b, &out);
    CHECK_EQ_INT(out.len, strlen("# Bees\r\nb_key:1\r\n\r\n"));
    CHECK(out.data && memcmp(out.data, "# Bees\r\nb_key:1\r\n\r\n", out.len) == 0);
    buf_free(&out);
}

/* Every module's metrics in list order, B (no hook) skipped, started or not. */
static void test_metrics_walk(void)
{
    buf out;
    buf_init(&out);
    module_metrics_all(fakes, &out);
    CHECK_EQ_STR(out.data ? out.data : "", "a_metric 1\nc_metric 3\n");
    buf_free(&out);
}

/* The server's list: each module once, named, and the INFO sections rbac, sessions,
 * sync, housekeeping, tracking in that order (INFO keeps its order; new sections come last). */
static void test_server_list(void)
{
    const char *sections[8];
    size_t nsections = 0, n = 0;
    for (const module *const *m = module_list; *m; m++, n++) {
        CHECK((*m)->name && (*m)->name[0]);
        for (const module *const *o = module_list; o < m; o++)
            CHECK(*o != *m);
        if ((*m)->info_section && nsections < 8) {
            CHECK((*m)->info != NULL);
            sections[nsections++] = (*m)->info_section;
        }
    }
    CHECK(n >= 4);
    CHECK_EQ_INT(nsections, 5);
    if (nsections == 5) {
        CHECK_EQ_STR(sections[0], "rbac");
        CHECK_EQ_STR(sections[1], "sessions");
        CHECK_EQ_STR(sections[2], "sync");
        CHECK_EQ_STR(sections[3], "housekeeping");
        CHECK_EQ_STR(sections[4], "tracking");
    }
}

int main(void)
{
    TEST_RUN(test_init_cron_shutdown);
    TEST_RUN(test_init_failure_unwinds);
    TEST_RUN(test_empty_list);
    TEST_RUN(test_info_section);
    TEST_RUN(test_metrics_walk);
    TEST_RUN(test_server_list);
    return TEST_DONE();
}
