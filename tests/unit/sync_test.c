/*
 * Change-log follower tests without a database: the cursor's bookkeeping of ids seen
 * out of order (holes, probes, WAITREV's condition). Keys and batches are the
 * data-access layer's: tests/unit/dal_test.c.
 */
#include "../../src/sync_internal.h"
#include "mem.h"
#include "testing.h"

#include <stdint.h>
#include <string.h>

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

/* Galera: interleaved ids leave holes no node will fill. A cluster-synced probe that
 * finds a run missing marks it absent (WAITREV may pass it) but does not drop it; a run
 * holding a committed id is not marked; splitting keeps the mark. */
static void test_cursor_galera_absent(void)
{
    sync_cursor c = {0};
    sync_cursor_reset(&c, 1, NULL, 0, 0);
    sync_cursor_seen(&c, 4, 10);  /* node 1's id: hole 2..3 */
    sync_cursor_seen(&c, 10, 10); /* hole 5..9 */
    CHECK_EQ_INT(c.nruns, 2);
    CHECK(!sync_cursor_reached(&c, 4, 20));
    const uint64_t present[] = {8}; /* committed meanwhile, on another node */
    sync_cursor_absent_at(&c, 2, 9, present, 1, 30);
    CHECK_EQ_INT(c.runs[0].absent_us, 30);
    CHECK_EQ_INT(c.runs[1].absent_us, 0);
    CHECK_EQ_INT(sync_cursor_missing(&c), 7); /* nothing dropped */
    CHECK(sync_cursor_reached(&c, 4, 20));    /* asked before the probe */
    CHECK(!sync_cursor_reached(&c, 4, 31));   /* asked after it: not proven */
    CHECK(!sync_cursor_reached(&c, 10, 20));  /* 8 is committed and not yet applied */
    sync_cursor_seen(&c, 8, 40);              /* [5-7] [9] */
    sync_cursor_absent_at(&c, 5, 9, NULL, 0, 50);
    CHECK(sync_cursor_reached(&c, 10, 25));
    CHECK(!sync_cursor_reached(&c, 10, 45)); /* [2-3] was proven at 30 only */
    sync_cursor_seen(&c, 6, 60); /* a late commit splits [5-7]: both halves keep the mark */
    CHECK_EQ_INT(c.nruns, 4);
    CHECK_EQ_INT(c.runs[1].absent_us, 50);
    CHECK_EQ_INT(c.runs[2].absent_us, 50);
    /* A probe covering part of a run says nothing about the rest of it. */
    sync_cursor_seen(&c, 20, 70); /* hole 11..19 */
    sync_cursor_absent_at(&c, 11, 15, NULL, 0, 80);
    CHECK_EQ_INT(c.runs[4].absent_us, 0);
    /* The grace is the caller's: settling with an old cutoff keeps young runs. */
    sync_cursor_settled(&c, 11, 19, NULL, 0, 69);
    CHECK_EQ_INT(c.runs[c.nruns - 1].lo, 11);
    sync_cursor_settled(&c, 11, 19, NULL, 0, 70);
    CHECK_EQ_INT(c.runs[c.nruns - 1].hi, 9);
    sync_cursor_free(&c);
}

int main(void)
{
    TEST_RUN(test_cursor_reset_and_seen);
    TEST_RUN(test_cursor_probes);
    TEST_RUN(test_cursor_reached);
    TEST_RUN(test_cursor_group_probes);
    TEST_RUN(test_cursor_galera_absent);
    return TEST_DONE();
}
