/*
 * dal_partition tests: the pure half of the log partition upkeep — reading a
 * partition's bound as information_schema writes it, the names of new partitions, and
 * the plan of one pass (what is created ahead, what is dropped past retention, which
 * layouts are left alone). No database.
 */
#include "dal_partition.h"
#include "testing.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Partitions p<first>..p<last> (months, inclusive) like schema/002_logs.sql, plus pmax
 * if with_max. Returns how many. */
static size_t monthly(dal_partition *parts, int first, int last, bool with_max)
{
    size_t n = 0;
    for (int m = first; m <= last; m++, n++) {
        dal_part_name(m, parts[n].name);
        parts[n].bound = m + 1;
    }
    if (with_max) {
        snprintf(parts[n].name, sizeof parts[n].name, "pmax");
        parts[n++].bound = DAL_PART_MAXVALUE;
    }
    return n;
}

static void test_parse_bound(void)
{
    int b = 0;
    CHECK(dal_part_parse_bound("'2026-04-01'", &b));
    CHECK_EQ_INT(b, DAL_MONTH(2026, 4));
    CHECK(dal_part_parse_bound("'2029-01-01 00:00:00'", &b));
    CHECK_EQ_INT(b, DAL_MONTH(2029, 1));
    CHECK(dal_part_parse_bound("'2029-12-01 00:00:00.000'", &b));
    CHECK_EQ_INT(b, DAL_MONTH(2029, 12));
    CHECK(dal_part_parse_bound("MAXVALUE", &b));
    CHECK_EQ_INT(b, DAL_PART_MAXVALUE);
    /* Not the first of a month at midnight, not a date, not RANGE COLUMNS: refused. */
    CHECK(!dal_part_parse_bound("'2026-04-02'", &b));
    CHECK(!dal_part_parse_bound("'2026-04-01 12:00:00'", &b));
    CHECK(!dal_part_parse_bound("'2026-04-01 00:00:00.5'", &b));
    CHECK(!dal_part_parse_bound("'2026-13-01'", &b));
    CHECK(!dal_part_parse_bound("739000", &b));
    CHECK(!dal_part_parse_bound("'2026-04-01", &b));
    CHECK(!dal_part_parse_bound("'2026-04-01'x", &b));
    CHECK(!dal_part_parse_bound("", &b));
    CHECK(!dal_part_parse_bound(NULL, &b));
}

static void test_names(void)
{
    char name[DAL_PART_NAME_MAX + 1];
    dal_part_name(DAL_MONTH(2026, 3), name);
    CHECK_EQ_STR(name, "p202603");
    dal_part_name(DAL_MONTH(2029, 12), name);
    CHECK_EQ_STR(name, "p202912");
    dal_part_name(DAL_MONTH(2030, 1), name);
    CHECK_EQ_STR(name, "p203001");
}

/* The shipped layout (2025-01 .. 2028-12 + pmax) in December 2026, 3 months ahead:
 * nothing to create, nothing to drop with retention 0. */
static void test_plan_shipped_layout_is_enough(void)
{
    dal_partition parts[64];
    size_t n = monthly(parts, DAL_MONTH(2025, 1), DAL_MONTH(2028, 12), true);
    dal_partition_plan plan;
    char err[128];
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2026, 12), 3, 0, &plan, err, sizeof err));
    CHECK(plan.create_from > plan.create_to);
    CHECK_EQ_STR(plan.drop, "");
    CHECK_EQ_INT(plan.past_retention, 0);
    CHECK_EQ_STR(plan.max_name, "pmax");
}

/* Near the end of the layout, the months ahead are created after the last one. */
static void test_plan_creates_ahead(void)
{
    dal_partition parts[64];
    size_t n = monthly(parts, DAL_MONTH(2025, 1), DAL_MONTH(2028, 12), true);
    dal_partition_plan plan;
    char err[128];
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2028, 11), 3, 0, &plan, err, sizeof err));
    /* Partitions through 2029-02: bounds 2029-01 (p202812 exists) .. 2029-03. */
    CHECK_EQ_INT(plan.create_from, DAL_MONTH(2029, 1) + 1);
    CHECK_EQ_INT(plan.create_to, DAL_MONTH(2029, 3));
    /* Without a MAXVALUE partition they are added, not split off it. */
    n = monthly(parts, DAL_MONTH(2026, 1), DAL_MONTH(2026, 6), false);
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2026, 6), 2, 0, &plan, err, sizeof err));
    CHECK_EQ_STR(plan.max_name, "");
    CHECK_EQ_INT(plan.create_from, DAL_MONTH(2026, 8));
    CHECK_EQ_INT(plan.create_to, DAL_MONTH(2026, 9));
    /* Only a MAXVALUE partition: from the month after this one. */
    n = monthly(parts, 1, 0, true);
    CHECK_EQ_INT(n, 1);
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2026, 6), 1, 0, &plan, err, sizeof err));
    CHECK_EQ_INT(plan.create_from, DAL_MONTH(2026, 7));
    CHECK_EQ_INT(plan.create_to, DAL_MONTH(2026, 8));
}

/* Retention R in month M drops every partition whose bound is at or before M - R, the
 * oldest first, and keeps the one that holds M - R. */
static void test_plan_retention(void)
{
    dal_partition parts[64];
    size_t n = monthly(parts, DAL_MONTH(2025, 1), DAL_MONTH(2028, 12), true);
    dal_partition_plan plan;
    char err[128];
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2026, 12), 3, 3, &plan, err, sizeof err));
    CHECK_EQ_STR(plan.drop, "p202501");
    /* p202501 .. p202608 (bound 2026-09 = December - 3) go; p202609 stays. */
    CHECK_EQ_INT(plan.past_retention, 20);
    /* One month of retention in January: December's partition is kept. */
    n = monthly(parts, DAL_MONTH(2026, 11), DAL_MONTH(2027, 4), true);
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2027, 1), 3, 1, &plan, err, sizeof err));
    CHECK_EQ_STR(plan.drop, "p202611");
    CHECK_EQ_INT(plan.past_retention, 1);
    /* Retention 0 never drops, however old. */
    CHECK(dal_part_plan_make(parts, n, DAL_MONTH(2040, 1), 3, 0, &plan, err, sizeof err));
    CHECK_EQ_STR(plan.drop, "");
}

/* Layouts that are not monthly ranges are refused, so the table is left alone. */
static void test_plan_refuses_odd_layouts(void)
{
    dal_partition parts[8];
    dal_partition_plan plan;
    char err[128] = "";
    size_t n = monthly(parts, DAL_MONTH(2026, 1), DAL_MONTH(2026, 3), false);
    parts[2].bound = parts[1].bound; /* not increasing */
    CHECK(!dal_part_plan_make(parts, n, DAL_MONTH(2026, 2), 1, 0, &plan, err, sizeof err));
    CHECK(strstr(err, "increase") != NULL);
    n = monthly(parts, DAL_MONTH(2026, 1), DAL_MONTH(2026, 3), true);
    parts[0].bound = DAL_PART_MAXVALUE; /* MAXVALUE first */
    CHECK(!dal_part_plan_make(parts, n, DAL_MONTH(2026, 2), 1, 0, &plan, err, sizeof err));
    CHECK(strstr(err, "MAXVALUE") != NULL);
}

int main(void)
{
    TEST_RUN(test_parse_bound);
    TEST_RUN(test_names);
    TEST_RUN(test_plan_shipped_layout_is_enough);
    TEST_RUN(test_plan_creates_ahead);
    TEST_RUN(test_plan_retention);
    TEST_RUN(test_plan_refuses_odd_layouts);
    return TEST_DONE();
}
