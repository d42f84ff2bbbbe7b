/*
 * Session store tests: tokens (form, randomness, base64url, the BLAKE2b-256 hash
 * against known vectors), the store's three indexes kept in step (hash table with
 * 8-byte-prefix collisions, per-user lists in creation order, the expiry heap under a
 * long seeded run of adds, touches and removals checked against a reference), the
 * text cleaning every VARCHAR value goes through before it reaches the database, and
 * LOGIN's lockout decision from what the database says.
 */
#include "mem.h"
#include "session_db.h"
#include "session_store.h"
#include "testing.h"
#include "util.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_RUN_SESSIONS 2000 /* sessions in the seeded heap run */
#define HEAP_RUN_STEPS    20000

static void make_hash(uint8_t h[SESSION_HASH_LEN], uint32_t n)
{
    memset(h, 0, SESSION_HASH_LEN);
    session_token_hash((const char *)&n, sizeof n, h);
}

/* ---- tokens ---- */

static void test_token_form(void)
{
    char t[SESSION_TOKEN_LEN + 1];
    session_token_new(t);
    CHECK_EQ_INT(strlen(t), SESSION_TOKEN_LEN);
    CHECK(session_token_wellformed(t, strlen(t)));
    unsigned char raw[64];
    size_t rawlen = 0;
    CHECK(sodium_base642bin(raw, sizeof raw, t, strlen(t), NULL, &rawlen, NULL,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
    CHECK_EQ_INT(rawlen, SESSION_TOKEN_BYTES);
}

static void test_token_unique(void)
{
    enum { N = 2000 };
    static char toks[N][SESSION_TOKEN_LEN + 1];
    for (int i = 0; i < N; i++)
        session_token_new(toks[i]);
    int dup = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            dup += memcmp(toks[i], toks[j], SESSION_TOKEN_LEN) == 0;
    CHECK_EQ_INT(dup, 0);
}

static void test_token_wellformed(void)
{
    const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    CHECK(session_token_wellformed(good, strlen(good)));
    CHECK(session_token_wellformed("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-", 43));
    CHECK(!session_token_wellformed(good, 42));
    CHECK(!session_token_wellformed("", 0));
    char bad[SESSION_TOKEN_LEN + 2];
    memcpy(bad, good, SESSION_TOKEN_LEN);
    bad[SESSION_TOKEN_LEN] = 'A';
    CHECK(!session_token_wellformed(bad, SESSION_TOKEN_LEN + 1));
    const char *wrong_chars = "+/= \n\x01\x80";
    for (const char *p = wrong_chars; *p; p++) {
        memcpy(bad, good, SESSION_TOKEN_LEN);
        bad[10] = *p;
        CHECK(!session_token_wellformed(bad, SESSION_TOKEN_LEN));
    }
    memcpy(bad, good, SESSION_TOKEN_LEN);
    bad[5] = '\0';
    CHECK(!session_token_wellformed(bad, SESSION_TOKEN_LEN));
}

static void test_token_hash_vectors(void)
{
    uint8_t h[SESSION_HASH_LEN];
    char hex[SESSION_HASH_LEN * 2 + 1];
    session_token_hash("abc", 3, h);
    session_hash_hex(h, SESSION_HASH_LEN, hex);
    CHECK_EQ_STR(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    session_token_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 43, h);
    session_hash_hex(h, SESSION_HASH_LEN, hex);
    CHECK_EQ_STR(hex, "6342b384e5d6294c5df1110132b93b97b395a2ff4cca498af637b3e06b3095dd");
    char id[SESSION_ID_HEX + 1];
    session_hash_hex(h, SESSION_ID_BYTES, id);
    CHECK_EQ_STR(id, "6342b384e5d6294c");
}

/* ---- the store ---- */

static void test_store_add_find_remove(void)
{
    session_store st;
    session_store_init(&st);
    uint8_t h1[SESSION_HASH_LEN], h2[SESSION_HASH_LEN];
    make_hash(h1, 1);
    make_hash(h2, 2);
    CHECK(session_store_find(&st, h1) == NULL);
    session *s1 = session_store_add(&st, h1, 7, 70, 1000, 5000, 0);
    CHECK(s1 != NULL);
    CHECK_EQ_INT(s1->ttl_ms, 4000);
    CHECK(session_store_add(&st, h1, 7, 70, 1000, 5000, 0) == NULL); /* held already */
    CHECK(session_store_find(&st, h1) == s1);
    CHECK(session_store_find(&st, h2) == NULL);
    session *s2 = session_store_add(&st, h2, 7, 70, 2000, 3000, 9000);
    CHECK(s2 && s2->ttl_ms == 9000);
    CHECK_EQ_INT(session_store_count(&st), 2);
    CHECK_EQ_INT(session_store_users(&st), 1);
    CHECK(session_store_first_expiry(&st) == s2);
    session_store_set_expiry(&st, s2, 9000);
    CHECK(session_store_first_expiry(&st) == s1);
    CHECK(session_store_bytes(&st) > 0);
    session_store_remove(&st, s1);
    CHECK(session_store_find(&st, h1) == NULL);
    CHECK(session_store_first_expiry(&st) == s2);
    session_store_remove(&st, s2);
    CHECK_EQ_INT(session_store_count(&st), 0);
    CHECK_EQ_INT(session_store_users(&st), 0); /* the empty user record went with it */
    CHECK(session_store_first_expiry(&st) == NULL);
    session_store_free(&st);
}

static void test_store_prefix_collision(void)
{
    session_store st;
    session_store_init(&st);
    uint8_t a[SESSION_HASH_LEN], b[SESSION_HASH_LEN];
    make_hash(a, 10);
    memcpy(b, a, SESSION_HASH_LEN);
    b[31] ^= 1; /* same first 8 bytes, another hash */
    CHECK(session_store_add(&st, a, 1, 1, 0, 100, 0) != NULL);
    CHECK(session_store_add(&st, b, 1, 1, 0, 100, 0) == NULL);
    CHECK(session_store_find(&st, b) == NULL); /* never mistaken for a */
    CHECK(session_store_find(&st, a) != NULL);
    CHECK_EQ_INT(session_store_count(&st), 1);
    session_store_free(&st);
}

static void test_store_user_lists(void)
{
    session_store st;
    session_store_init(&st);
    int64_t created[] = {500, 100, 300, 300, 900, 50};
    for (uint32_t i = 0; i < ARRAY_LEN(created); i++) {
        uint8_t h[SESSION_HASH_LEN];
        make_hash(h, 100 + i);
        CHECK(session_store_add(&st, h, 1, 42, created[i], created[i] + 1000, 0) != NULL);
    }
    uint8_t other[SESSION_HASH_LEN];
    make_hash(other, 999);
    CHECK(session_store_add(&st, other, 1, 43, 0, 1000, 0) != NULL);
    session_user *u = session_store_user(&st, 42);
    CHECK(u != NULL);
    CHECK_EQ_INT(u->count, ARRAY_LEN(created));
    int64_t prev = -1;
    size_t n = 0;
    for (session *s = u->head; s; s = s->next, n++) {
        CHECK(s->created_ms >= prev);
        CHECK(s->owner == u);
        if (s->next)
            CHECK(s->next->prev == s);
        prev = s->created_ms;
    }
    CHECK_EQ_INT(n, ARRAY_LEN(created));
    CHECK_EQ_INT(u->head->created_ms, 50);
    CHECK_EQ_INT(u->tail->created_ms, 900);
    /* A pending create keeps an empty record alive; releasing it frees it. */
    session_user *p = session_store_user_get(&st, 77);
    p->pending_creates = 1;
    session_store_user_release(&st, p);
    CHECK(session_store_user(&st, 77) == p);
    p->pending_creates = 0;
    session_store_user_release(&st, p);
    CHECK(session_store_user(&st, 77) == NULL);
    CHECK_EQ_INT(session_store_remove_user(&st, 42), ARRAY_LEN(created));
    CHECK(session_store_user(&st, 42) == NULL);
    CHECK_EQ_INT(session_store_count(&st), 1);
    CHECK_EQ_INT(session_store_remove_user(&st, 42), 0);
    session_store_free(&st);
}

/* The heap against a reference: random adds, touches and removals, then everything
 * drains in expiry order and the reference agrees at every pop. */
static void test_expiry_heap_seeded(void)
{
    session_store st;
    session_store_init(&st);
    static session *held[HEAP_RUN_SESSIONS];
    static int64_t expiry[HEAP_RUN_SESSIONS];
    srand(12345);
    for (uint32_t step = 0; step < HEAP_RUN_STEPS; step++) {
        uint32_t i = (uint32_t)rand() % HEAP_RUN_SESSIONS;
        int what = rand() % 3;
        if (!held[i]) {
            uint8_t h[SESSION_HASH_LEN];
            make_hash(h, i);
            expiry[i] = rand() % 100000;
            held[i] = session_store_add(&st, h, 1, i % 50, 0, expiry[i], 0);
            CHECK(held[i] != NULL);
        } else if (what == 0) {
            session_store_remove(&st, held[i]);
            held[i] = NULL;
        } else {
            expiry[i] = rand() % 100000;
            session_store_set_expiry(&st, held[i], expiry[i]);
        }
        session *first = session_store_first_expiry(&st);
        if (first) {
            int64_t min = INT64_MAX;
            for (size_t k = 0; k < HEAP_RUN_SESSIONS; k++)
                if (held[k] && expiry[k] < min)
                    min = expiry[k];
            if (step % 97 == 0)
                CHECK_EQ_INT(first->expires_ms, min);
        }
    }
    size_t count = 0;
    for (size_t k = 0; k < HEAP_RUN_SESSIONS; k++)
        count += held[k] != NULL;
    CHECK_EQ_INT(session_store_count(&st), count);
    int64_t prev = -1;
    session *s;
    while ((s = session_store_first_expiry(&st))) {
        CHECK(s->expires_ms >= prev);
        prev = s->expires_ms;
        session_store_remove(&st, s);
        count--;
    }
    CHECK_EQ_INT(count, 0);
    CHECK_EQ_INT(session_store_users(&st), 0);
    session_store_free(&st);
}

/* ---- text for the database ---- */

static void check_clean(const char *in, size_t len, size_t max, const char *want)
{
    char *got = session_text_clean(in, len, max);
    CHECK_EQ_STR(got, want);
    mem_free(got);
}

static void test_text_clean(void)
{
    check_clean("curl/8.1", 8, 512, "curl/8.1");
    check_clean("", 0, 10, "");
    check_clean("h\xc3\xa9llo", 6, 512, "h\xc3\xa9llo");
    check_clean("abcdef", 6, 3, "abc");
    check_clean("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, "\xc3\xa9\xc3\xa9"); /* characters, not bytes */
    check_clean("a\xff"
                "b",
                3, 10, "a?b");
    check_clean("a\0b", 3, 10, "a?b");
    check_clean("\xc0\x80", 2, 10, "??");                         /* overlong NUL */
    check_clean("\xed\xa0\x80", 3, 10, "???");                    /* surrogate */
    check_clean("\xf4\x90\x80\x80", 4, 10, "????");               /* above U+10FFFF */
    check_clean("\xf0\x9f\x98\x80!", 5, 10, "\xf0\x9f\x98\x80!"); /* 4-byte emoji */
    check_clean("\xe2\x82", 2, 10, "??");                         /* cut sequence */
}

static void test_text_ok(void)
{
    CHECK(session_text_ok("admin", 5, 64));
    CHECK(session_text_ok("", 0, 64));
    CHECK(session_text_ok("\xc3\xa9t\xc3\xa9", 5, 3));
    CHECK(!session_text_ok("\xc3\xa9t\xc3\xa9", 5, 2));
    CHECK(!session_text_ok("a\0b", 3, 64));
    CHECK(!session_text_ok("a\xff", 2, 64));
    char long_name[66];
    memset(long_name, 'x', sizeof long_name);
    CHECK(session_text_ok(long_name, 64, 64));
    CHECK(!session_text_ok(long_name, 65, 64));
}

/* ---- login limits: the decision before a password check ---- */

#define T0 1800000000000LL /* a wall clock in ms */

static session_login_check lcheck(uint32_t max_user, uint32_t max_ip, const char *ip)
{
    session_login_check c;
    memset(&c, 0, sizeof c);
    c.tenant = 1;
    c.name = "bob";
    c.ip = ip;
    c.lim.max_user = max_user;
    c.lim.max_ip = max_ip;
    c.lim.window_ms = 300000;
    c.lim.lockout_ms = 900000;
    return c;
}

static void test_login_decide_counts(void)
{
    /* Four failures in the window (and one before it): not locked; the fifth failure
     * starts a lockout of the name. */
    int64_t fails[] = {T0 - 1000, T0 - 2000, T0 - 3000, T0 - 4000, T0 - 400000};
    session_login_facts f = {.user_fail_ms = fails, .nuser_fail = 5};
    session_login_check c = lcheck(5, 0, NULL);
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK(!c.user_locked);
    CHECK_EQ_INT(c.user_failures, 4);
    int64_t u, i;
    session_login_lockouts(&c, true, T0 + 5, &u, &i);
    CHECK_EQ_INT(u, T0 + 5 + 900000);
    CHECK_EQ_INT(i, 0);
    session_login_lockouts(&c, false, T0 + 5, &u, &i); /* a success starts nothing */
    CHECK_EQ_INT(u, 0);
    /* A success after the second failure: only the two after it count. */
    f.last_ok_ms = T0 - 2500;
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.user_failures, 2);
    /* Five failures within the window, the newest less than the lockout ago: locked
     * until the newest + lockout, refused; a refusal starts nothing. */
    int64_t five[] = {T0 - 1, T0 - 2, T0 - 3, T0 - 4, T0 - 5};
    session_login_facts g = {.user_fail_ms = five, .nuser_fail = 5};
    session_login_decide(&c, &g, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_USER);
    CHECK(c.user_locked);
    CHECK_EQ_INT(c.user_until_ms, T0 - 1 + 900000);
    session_login_lockouts(&c, true, T0, &u, &i);
    CHECK_EQ_INT(u + i, 0);
    /* ... and a success after them ends it. */
    g.last_ok_ms = T0 - 1;
    session_login_decide(&c, &g, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK_EQ_INT(c.user_failures, 0);
    /* Limit off: nothing counted, nothing refused, nothing started. */
    g.last_ok_ms = 0;
    c = lcheck(0, 0, "10.0.0.1");
    session_login_decide(&c, &g, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    session_login_lockouts(&c, true, T0, &u, &i);
    CHECK_EQ_INT(u + i, 0);
}

static void test_login_decide_lockouts(void)
{
    session_login_check c = lcheck(5, 20, "10.0.0.1");
    int64_t u, i;
    /* Ended: five failures whose newest is more than the lockout ago. */
    int64_t old[] = {T0 - 900001, T0 - 900002, T0 - 900003, T0 - 900004, T0 - 900005};
    session_login_facts f = {.user_fail_ms = old, .nuser_fail = 5};
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK_EQ_INT(c.user_failures, 0); /* out of the window too */
    /* A lockout shorter than the window: ended, but its failures still count, so the
     * next failure locks again. */
    c.lim.lockout_ms = 2000;
    int64_t recent[] = {T0 - 10000, T0 - 10001, T0 - 10002, T0 - 10003, T0 - 10004};
    f.user_fail_ms = recent;
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK_EQ_INT(c.user_failures, 5);
    session_login_lockouts(&c, true, T0, &u, &i);
    CHECK_EQ_INT(u, T0 + 2000);
    /* An older run of five within the window still in force, behind a newer failure
     * whose run is not: locked by the older one. */
    c.lim.lockout_ms = 900000;
    int64_t runs[] = {T0 - 100, T0 - 400000, T0 - 400001, T0 - 400002, T0 - 400003, T0 - 400004};
    f.user_fail_ms = runs;
    f.nuser_fail = 6;
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_USER);
    CHECK_EQ_INT(c.user_until_ms, T0 - 400000 + 900000);
    /* Failures exactly a window apart are not within it. */
    int64_t apart[] = {T0 - 1, T0 - 100000, T0 - 200000, T0 - 250000, T0 - 300001};
    f.user_fail_ms = apart;
    f.nuser_fail = 5;
    session_login_decide(&c, &f, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK_EQ_INT(c.user_failures, 4);
    /* The IP: its own count, which no success resets. */
    int64_t ipf[] = {T0 - 10, T0 - 20, T0 - 30};
    session_login_facts h = {.ip_fail_ms = ipf, .nip_fail = 3, .last_ok_ms = T0 - 5};
    c = lcheck(5, 4, "10.0.0.1");
    session_login_decide(&c, &h, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
    CHECK_EQ_INT(c.ip_failures, 3);
    session_login_lockouts(&c, true, T0, &u, &i);
    CHECK_EQ_INT(u, 0);
    CHECK_EQ_INT(i, T0 + 900000);
    int64_t ipf4[] = {T0 - 10, T0 - 20, T0 - 30, T0 - 40};
    h.ip_fail_ms = ipf4;
    h.nip_fail = 4;
    session_login_decide(&c, &h, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_IP);
    CHECK(c.ip_locked);
    CHECK_EQ_INT(c.ip_until_ms, T0 - 10 + 900000);
    /* Both locked: the user name's lockout is named. */
    int64_t five[] = {T0 - 1, T0 - 2, T0 - 3, T0 - 4, T0 - 5};
    h.user_fail_ms = five;
    h.nuser_fail = 5;
    h.last_ok_ms = 0;
    session_login_decide(&c, &h, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_USER);
    CHECK(c.ip_locked);
    /* No IP given: no IP limit. */
    c = lcheck(5, 1, "");
    h.user_fail_ms = NULL;
    h.nuser_fail = 0;
    session_login_decide(&c, &h, T0);
    CHECK_EQ_INT(c.refused, SESSION_LOCKOUT_NONE);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    TEST_RUN(test_token_form);
    TEST_RUN(test_token_unique);
    TEST_RUN(test_token_wellformed);
    TEST_RUN(test_token_hash_vectors);
    TEST_RUN(test_store_add_find_remove);
    TEST_RUN(test_store_prefix_collision);
    TEST_RUN(test_store_user_lists);
    TEST_RUN(test_expiry_heap_seeded);
    TEST_RUN(test_text_clean);
    TEST_RUN(test_text_ok);
    TEST_RUN(test_login_decide_counts);
    TEST_RUN(test_login_decide_lockouts);
    return TEST_DONE();
}
