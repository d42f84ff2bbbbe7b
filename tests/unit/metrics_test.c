/*
 * metrics tests: the Prometheus text writers — HELP and TYPE lines, label escaping,
 * numbers in their shortest exact form (and NaN, +Inf), histograms cumulative with
 * +Inf equal to the count — and the latency buckets commands are counted in (a call
 * on a bound belongs to that bound's bucket, as le means).
 */
#include "buf.h"
#include "command.h"
#include "metrics.h"
#include "testing.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const char *text(buf *b)
{
    return b->data ? b->data : "";
}

static void test_family_and_samples(void)
{
    buf out;
    buf_init(&out);
    metrics_family(&out, "rbacd_x_total", "counter", "Line one\nback\\slash");
    metrics_sample_u64(&out, "rbacd_x_total", NULL, 18446744073709551615ULL);
    CHECK_EQ_STR(text(&out), "# HELP rbacd_x_total Line one\\nback\\\\slash\n"
                             "# TYPE rbacd_x_total counter\n"
                             "rbacd_x_total 18446744073709551615\n");
    buf_free(&out);
}

static void test_label_escaping(void)
{
    buf labels, out;
    buf_init(&labels);
    buf_init(&out);
    metrics_label(&labels, "cmd", "session|login");
    metrics_label(&labels, "odd", "a\"b\\c\nd");
    metrics_sample(&out, "m", &labels, 1.5);
    CHECK_EQ_STR(text(&out), "m{cmd=\"session|login\",odd=\"a\\\"b\\\\c\\nd\"} 1.5\n");
    buf_free(&labels);
    buf_free(&out);
}

static void test_numbers(void)
{
    buf out;
    buf_init(&out);
    metrics_sample(&out, "a", NULL, 0.1);
    metrics_sample(&out, "b", NULL, 2.5e-06);
    metrics_sample(&out, "c", NULL, NAN);
    metrics_sample(&out, "d", NULL, INFINITY);
    metrics_sample(&out, "e", NULL, -INFINITY);
    metrics_sample(&out, "f", NULL, 1796303597.635);
    metrics_sample(&out, "g", NULL, 1.0 / 3.0);
    CHECK_EQ_STR(text(&out), "a 0.1\nb 2.5e-06\nc NaN\nd +Inf\ne -Inf\nf 1796303597.635\n"
                             "g 0.3333333333333333\n");
    buf_free(&out);
}

static void test_histogram(void)
{
    static const double bounds[] = {0.001, 0.01};
    static const uint64_t counts[] = {2, 0, 3}; /* 2 <= 1 ms, none in (1, 10] ms, 3 above */
    buf labels, out;
    buf_init(&labels);
    buf_init(&out);
    metrics_label(&labels, "cmd", "menus");
    metrics_histogram(&out, "h_seconds", &labels, bounds, counts, 2, 5, 0.25);
    CHECK_EQ_STR(text(&out), "h_seconds_bucket{cmd=\"menus\",le=\"0.001\"} 2\n"
                             "h_seconds_bucket{cmd=\"menus\",le=\"0.01\"} 2\n"
                             "h_seconds_bucket{cmd=\"menus\",le=\"+Inf\"} 5\n"
                             "h_seconds_sum{cmd=\"menus\"} 0.25\n"
                             "h_seconds_count{cmd=\"menus\"} 5\n");
    buf_clear(&out);
    metrics_histogram(&out, "u", NULL, bounds, counts, 2, 5, 0);
    CHECK(strstr(text(&out), "u_bucket{le=\"0.001\"} 2\n") != NULL);
    CHECK(strstr(text(&out), "u_sum 0\nu_count 5\n") != NULL);
    buf_free(&labels);
    buf_free(&out);
}

static void test_command_buckets(void)
{
    CHECK_EQ_INT(command_seconds_bucket(0), 0);
    CHECK_EQ_INT(command_seconds_bucket(1), 0);  /* le 1 us */
    CHECK_EQ_INT(command_seconds_bucket(2), 1);  /* le 2.5 us */
    CHECK_EQ_INT(command_seconds_bucket(3), 2);  /* le 5 us */
    CHECK_EQ_INT(command_seconds_bucket(10), 3); /* on the bound: its bucket */
    CHECK_EQ_INT(command_seconds_bucket(11), 4);
    CHECK_EQ_INT(command_seconds_bucket(10000000), COMMAND_SECONDS_BOUNDS - 1);
    CHECK_EQ_INT(command_seconds_bucket(10000001), COMMAND_SECONDS_BOUNDS); /* above all */
    for (size_t i = 1; i < COMMAND_SECONDS_BOUNDS; i++)
        CHECK(command_seconds_bounds_us[i] > command_seconds_bounds_us[i - 1]);
}

int main(void)
{
    TEST_RUN(test_family_and_samples);
    TEST_RUN(test_label_escaping);
    TEST_RUN(test_numbers);
    TEST_RUN(test_histogram);
    TEST_RUN(test_command_buckets);
    return TEST_DONE();
}
