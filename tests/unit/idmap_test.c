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
    size_t bytes = idmap_bytes(&m);
    CHECK(bytes >= 10000 * 2 * sizeof(idmap_slot));
    for (uint64_t k = 1; k <= 10000; k++)
        idmap_put(&m, k, k + 1);
    CHECK_EQ_INT(idmap_bytes(&m), bytes); /* no rehash during the bulk load */
    idmap_reserve(&m, 10);                /* never shrinks */
    CHECK_EQ_INT(idmap_bytes(&m), bytes);
    for (uint64_t k = 1; k <= 10000; k++) {
        uint64_t v = 0;
        CHECK(idmap_get(&m, k, &v) && v == k + 1);
    }
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
    TEST_RUN(test_random_vs_reference);
    TEST_RUN(test_random_wraparound);
    return TEST_DONE();
}
