/*
 * Password check tests: bcrypt in its three prefixes ($2a$, $2b$, $2y$ — the same
 * algorithm for ASCII passwords), argon2id, and everything that must never match:
 * legacy crypt forms (DES, MD5, SHA-512: crypt_rn would run them), malformed and empty
 * hashes, a password with a NUL byte (bcrypt reads C strings: "s3cret\0x" must not
 * pass as "s3cret"), an over-long password. Plus the dummy check: it never matches and
 * takes the time of a real cost-10 check.
 */
#include "passwd.h"
#include "testing.h"
#include "util.h"

#include <sodium.h>
#include <string.h>

/* "s3cret", bcrypt cost 4 (cheap for a test). */
#define BCRYPT_B "$2b$04$ysFDXIymHAgu1RR1JvLXB./n/UBcxuROjACgLmStonvKiikmGd8e2"
#define PW       "s3cret"

static void test_bcrypt_prefixes(void)
{
    CHECK_EQ_INT(passwd_verify(BCRYPT_B, PW, strlen(PW)), PASSWD_MATCH);
    CHECK_EQ_INT(passwd_verify(BCRYPT_B, "s3creT", 6), PASSWD_MISMATCH);
    CHECK_EQ_INT(passwd_verify(BCRYPT_B, "", 0), PASSWD_MISMATCH);
    char h[sizeof BCRYPT_B];
    memcpy(h, BCRYPT_B, sizeof h);
    h[2] = 'a';
    CHECK_EQ_INT(passwd_verify(h, PW, strlen(PW)), PASSWD_MATCH);
    h[2] = 'y';
    CHECK_EQ_INT(passwd_verify(h, PW, strlen(PW)), PASSWD_MATCH);
    CHECK_EQ_STR(passwd_hash_kind(h), "bcrypt");
}

static void test_bcrypt_nul_and_length(void)
{
    CHECK_EQ_INT(passwd_verify(BCRYPT_B, "s3cret\0xyz", 10), PASSWD_UNSUPPORTED);
    static char big[PASSWD_MAX_LEN + 2];
    memset(big, 'a', sizeof big - 1);
    CHECK(passwd_verify(BCRYPT_B, big, PASSWD_MAX_LEN + 1) != PASSWD_MATCH);
}

static void test_argon2id(void)
{
    char hash[crypto_pwhash_STRBYTES];
    CHECK(crypto_pwhash_str(hash, PW, strlen(PW), crypto_pwhash_OPSLIMIT_MIN,
                            crypto_pwhash_MEMLIMIT_MIN) == 0);
    CHECK_EQ_STR(passwd_hash_kind(hash), "argon2id");
    CHECK_EQ_INT(passwd_verify(hash, PW, strlen(PW)), PASSWD_MATCH);
    CHECK_EQ_INT(passwd_verify(hash, "other", 5), PASSWD_MISMATCH);
    /* Length-counted: a NUL byte is part of the password, not its end. */
    CHECK_EQ_INT(passwd_verify(hash, "s3cret\0x", 8), PASSWD_MISMATCH);
}

static void test_unusable_hashes(void)
{
    const char *never[] = {
        "",
        "abhWCwoTZY2c6",                      /* DES */
        "$1$abcdefgh$7.vq19w/w3Vm.hk1FOA7Q/", /* MD5 */
        "$6$M323xfoNpk4ArfhH$XfE574ZLAIpOjvGf3yougke6aTsaY1u4lw7wmrDaKoYQ8h2o.Xkly1HAq.1zA//"
        "Gr8tBqN9i7u.QpBBHScCsi/",                                      /* SHA-512 */
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$abc",                /* argon2i: not accepted */
        "$2b$04$short",                                                 /* cut bcrypt */
        "$2b$99$ysFDXIymHAgu1RR1JvLXB./n/UBcxuROjACgLmStonvKiikmGd8e2", /* cost out of range */
        "plaintext",
    };
    for (size_t i = 0; i < ARRAY_LEN(never); i++)
        CHECK(passwd_verify(never[i], PW, strlen(PW)) != PASSWD_MATCH);
    CHECK(passwd_hash_kind("$1$x") == NULL);
    CHECK_EQ_INT(passwd_verify("$1$abcdefgh$7.vq19w/w3Vm.hk1FOA7Q/", PW, strlen(PW)),
                 PASSWD_UNSUPPORTED);
    CHECK_EQ_INT(passwd_verify("abhWCwoTZY2c6", PW, strlen(PW)), PASSWD_UNSUPPORTED);
}

static void test_dummy_takes_time(void)
{
    passwd_init();
    int64_t t0 = util_mono_us();
    passwd_verify_dummy(PW, strlen(PW));
    int64_t dt = util_mono_us() - t0;
    CHECK(dt > 10000); /* a cost-10 bcrypt: tens of milliseconds, never a shortcut */
    /* An unusable hash spends the same dummy check. */
    t0 = util_mono_us();
    CHECK_EQ_INT(passwd_verify("$1$abcdefgh$7.vq19w/w3Vm.hk1FOA7Q/", PW, strlen(PW)),
                 PASSWD_UNSUPPORTED);
    CHECK(util_mono_us() - t0 > 10000);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    TEST_RUN(test_bcrypt_prefixes);
    TEST_RUN(test_bcrypt_nul_and_length);
    TEST_RUN(test_argon2id);
    TEST_RUN(test_unusable_hashes);
    TEST_RUN(test_dummy_takes_time);
    return TEST_DONE();
}
