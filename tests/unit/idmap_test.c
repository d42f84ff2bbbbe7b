/*
 * idmap tests: the basic operations, key 0 (kept outside the slots), iteration, reserve,
 * and a long seeded run of random puts and deletes checked against a plain reference
 * array after every step, which is what pins backward-shift deletion: a wrong shift
 * loses or duplicates a key somewhere later in the cluster.
 */
#include "idmap.h"
#include "mem.h"
#include "testing.h"

#include <stdint.h>
#include <stdlib.h>

static void test_put_get_del_overwrite(void)
{
    idmap m;
    idmap_init(&m);
    uint64_t v = 0;
    CHECK(!idmap_get(&m, 42, &v));
    CHECK(!idmap_del(&m, 42));
    idmap_put(&m, 42, 7);
    CHECK(idmap_get(&m, 42, &v));
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(m.count, 1);
    idmap_put(&m, 42, 8); /* overwrite keeps the count */
    CHECK(idmap_get(&m, 42, &v));
    CHECK_EQ_INT(v, 8);
    CHECK_EQ_INT(m.count, 1);
    idmap_put(&m, UINT64_MAX, 1);
    CHECK(idmap_get(&m, UINT64_MAX, &v));
    CHECK_EQ_INT(v, 1);
    CHECK(idmap_del(&m, 42));
    CHECK(!idmap_get(&m, 42, &v));
    CHECK(!idmap_del(&m, 42));
    CHECK_EQ_INT(m.count, 1);
    CHECK(idmap_bytes(&m) > 0);
    idmap_free(&m);
    CHECK_EQ_INT(m.count, 0);
    CHECK_EQ_INT(idmap_bytes(&m), 0);
}

static void test_key_zero(void)
{
    idmap m;
    idmap_init(&m);
    uint64_t v = 99;
    CHECK(!idmap_get(&m, 0, &v));
    CHECK_EQ_INT(v, 99); /* untouched on a miss */
    idmap_put(&m, 0, 0);
    CHECK(idmap_get(&m, 0, &v));
    CHECK_EQ_INT(v, 0);
    idmap_put(&m, 0, 5);
    CHECK(idmap_get(&m, 0, &v));
    CHECK_EQ_INT(v, 5);
    CHECK_EQ_INT(m.count, 1);
    idmap_put(&m, 1, 6);
    CHECK_EQ_INT(m.count, 2);
    CHECK(idmap_del(&m, 0));
    CHECK(!idmap_get(&m, 0, &v));
    CHECK(!idmap_del(&m, 0));
    CHECK(idmap_get(&m, 1, &v));
    CHECK_EQ_INT(v, 6);
    CHECK_EQ_INT(m.count, 1);
    idmap_free(&m);
}

static void test_iteration(void)
{
    enum { N = 1000 };
    idmap m;
    idmap_init(&m);
    for (uint64_t k = 0; k < N; k++)
        idmap_put(&m, k * 7919, k);
    char *seen = mem_calloc(N, 1);
    size_t n = 0;
    uint64_t key, val;
    for (size_t it = 0; idmap_next(&m, &it, &key, &val);) {
        CHECK(val < N);
        if (val >= N)
            continue;
        CHECK_EQ_INT(key, val * 7919);
        CHECK(!seen[val]);
        seen[val] = 1;
        n++;
    }
    CHECK_EQ_INT(n, N); /* key 0 included, every key once */
    mem_free(seen);
    idmap_free(&m);

    idmap e;
    idmap_init(&e);
    size_t it = 0;
    CHECK(!idmap_next(&e, &it, &key, &val));
    idmap_free(&e);
}

static void test_reserve(void)
{
    idmap m;
    idmap_init(&m);
    idmap_reserve(&m, 10000);
    idmap_put(&m, 1, 2); /* the window starts at the first key ... */
    size_t bytes = idmap_bytes(&m);
    CHECK(bytes >= 10000 * 2 * sizeof(idmap_slot));
    /* ... scattered keys go to the hash part, which was sized for them. */
    for (uint64_t k = 1; k < 10000; k++)
        idmap_put(&m, k * 1000003ULL, k + 1);
    CHECK_EQ_INT(m.hcount, 9999);
    CHECK_EQ_INT(idmap_bytes(&m), bytes); /* no rehash during the bulk load */
    idmap_reserve(&m, 10);                /* never shrinks */
    CHECK_EQ_INT(idmap_bytes(&m), bytes);
    for (uint64_t k = 1; k < 10000; k++) {
        uint64_t v = 0;
        CHECK(idmap_get(&m, k * 1000003ULL, &v) && v == k + 1);
    }
    idmap_free(&m);
}

/* Dense keys (AUTO_INCREMENT ids) live in the window: 8 bytes and a bit a key, no
 * hash slots. Keys around it go to the hash part, and a key keeps its place. */
static void test_window(void)
{
    idmap m;
    idmap_init(&m);
    for (uint64_t k = 1000; k < 101000; k += 1 + (k % 3 == 0)) /* two of three held */
        idmap_put(&m, k, k * 2);
    size_t held = m.count;
    CHECK_EQ_INT(m.hcount, 0);
    CHECK(idmap_bytes(&m) <= 2 * 8 * 100000 + 100000 / 8 + 64 * 9);
    uint64_t v = 0;
    CHECK(idmap_get(&m, 1000, &v) && v == 2000);
    CHECK(!idmap_get(&m, 1003 + 1, &v) || v == 2008);
    CHECK(!idmap_get(&m, 999, &v));
    /* Below the base, and far above it: the hash part. */
    idmap_put(&m, 5, 50);
    idmap_put(&m, 1ULL << 40, 7);
    CHECK_EQ_INT(m.hcount, 2);
    CHECK(idmap_get(&m, 5, &v) && v == 50);
    CHECK(idmap_get(&m, 1ULL << 40, &v) && v == 7);
    /* Updates stay where the key is. */
    idmap_put(&m, 1000, 1);
    idmap_put(&m, 5, 51);
    CHECK_EQ_INT(m.count, held + 2);
    CHECK(idmap_get(&m, 1000, &v) && v == 1);
    CHECK(idmap_get(&m, 5, &v) && v == 51);
    /* Deleting from both parts. */
    CHECK(idmap_del(&m, 1000));
    CHECK(!idmap_del(&m, 1000));
    CHECK(!idmap_get(&m, 1000, &v));
    CHECK(idmap_del(&m, 5));
    CHECK_EQ_INT(m.count, held);
    /* Iteration sees every key once, window and hash part alike. */
    size_t n = 0;
    uint64_t key;
    for (size_t it = 0; idmap_next(&m, &it, &key, &v);) {
        uint64_t want;
        CHECK(idmap_get(&m, key, &want) && want == v);
        n++;
    }
    CHECK_EQ_INT(n, m.count);
    idmap_free(&m);
}

/* A key that went to the hash part before the window grew over it is still found, and
 * updated, there. */
static void test_window_grows_over_a_hashed_key(void)
{
    idmap m;
    idmap_init(&m);
    idmap_put(&m, 1, 1);
    idmap_put(&m, 300, 300); /* too far above a window of one key: hash part */
    CHECK_EQ_INT(m.hcount, 1);
    for (uint64_t k = 2; k < 400; k++)
        if (k != 300)
            idmap_put(&m, k, k);
    CHECK(m.dcap >= 400 && m.hcount == 1);
    uint64_t v = 0;
    CHECK(idmap_get(&m, 300, &v) && v == 300);
    idmap_put(&m, 300, 3);
    CHECK(idmap_get(&m, 300, &v) && v == 3);
    CHECK_EQ_INT(m.count, 399);
    CHECK(idmap_del(&m, 300));
    CHECK(!idmap_get(&m, 300, &v));
    idmap_put(&m, 300, 4); /* back, now in the window */
    CHECK_EQ_INT(m.hcount, 0);
    CHECK(idmap_get(&m, 300, &v) && v == 4);
    idmap_free(&m);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Runs ops random puts, overwrites and deletes over nkeys keys against a reference,
 * checking a random key after every operation and all keys at the end. Returns the
 * number of mismatches. */
static int random_run(size_t nkeys, int ops, bool with_zero)
{
    uint64_t keys[512], ref[512];
    bool present[512] = {false};
    for (size_t i = 0; i < nkeys; i++)
        keys[i] = (with_zero && i == 0) ? 0 : (i < nkeys / 2 ? i + 1 : rng() | 1);
    idmap m;
    idmap_init(&m);
    size_t count = 0;
    int bad = 0;
    for (int op = 0; op < ops; op++) {
        size_t i = rng() % nkeys;
        uint64_t v;
        if (rng() % 3 != 0) {
            v = rng();
            idmap_put(&m, keys[i], v);
            count += !present[i];
            present[i] = true;
            ref[i] = v;
        } else {
            bad += idmap_del(&m, keys[i]) != present[i];
            count -= present[i];
            present[i] = false;
        }
        bad += m.count != count;
        size_t j = rng() % nkeys;
        bool got = idmap_get(&m, keys[j], &v);
        bad += got != present[j] || (got && v != ref[j]);
    }
    for (size_t k = 0; k < nkeys; k++) {
        uint64_t v;
        bool got = idmap_get(&m, keys[k], &v);
        bad += got != present[k] || (got && v != ref[k]);
    }
    /* Delete everything: the table ends empty and iteration finds nothing. */
    for (size_t k = 0; k < nkeys; k++)
        bad += idmap_del(&m, keys[k]) != present[k];
    uint64_t key, val;
    size_t it = 0;
    bad += m.count != 0 || idmap_next(&m, &it, &key, &val);
    idmap_free(&m);
    return bad;
}

/* One big table: key 0, small dense keys and wide random keys mixed. */
static void test_random_vs_reference(void)
{
    rng_state = 0x5eed1234abcdULL;
    CHECK_EQ_INT(random_run(512, 200000, true), 0);
}

/* Many tiny tables (16 slots, at most 8 keys): clusters often wrap past the last slot,
 * which is where a backward shift is easiest to get wrong. */
static void test_random_wraparound(void)
{
    rng_state = 0xc0ffee42ULL;
    int bad = 0;
    for (int round = 0; round < 5000; round++)
        bad += random_run(8, 64, false);
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    TEST_RUN(test_put_get_del_overwrite);
    TEST_RUN(test_key_zero);
    TEST_RUN(test_iteration);
    TEST_RUN(test_reserve);
    TEST_RUN(test_window);
    TEST_RUN(test_window_grows_over_a_hashed_key);
    TEST_RUN(test_random_vs_reference);
    TEST_RUN(test_random_wraparound);
    return TEST_DONE();
}
