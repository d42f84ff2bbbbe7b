/*
 * Password checks for tenant users. Two families, told apart by prefix:
 *
 *   $2a$ / $2b$ / $2y$   bcrypt: crypt_checksalt() must accept the setting (it refuses
 *                        DES and MD5 legacy forms, which crypt_rn() would still run),
 *                        then crypt_rn() recomputes and sodium_memcmp() compares.
 *   $argon2id$           crypto_pwhash_str_verify() on a copy in a zeroed 128-byte
 *                        buffer (the size the prototype declares).
 *
 * struct crypt_data is 32 KiB: it is allocated, not put on a worker's stack. bcrypt
 * reads a C string, so a password holding a NUL byte could match a shorter one: such a
 * password never matches (and spends the dummy check instead).
 */
#include "passwd.h"
#include "mem.h"

#include <crypt.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define ARGON2_STR_BUF crypto_pwhash_STRBYTES /* 128: what crypto_pwhash_str_verify takes */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[CRYPT_OUTPUT_SIZE]; /* bcrypt of a random password, set once */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

const char *passwd_hash_kind(const char *hash)
{
    if (!hash)
        return NULL;
    if (has_prefix(hash, "$2a$") || has_prefix(hash, "$2b$") || has_prefix(hash, "$2y$"))
        return "bcrypt";
    if (has_prefix(hash, "$argon2id$"))
        return "argon2id";
    return NULL;
}

/* crypt_rn of pw (a C string) with setting; true when the output equals expect. */
static bool bcrypt_check(const char *setting, const char *pw, const char *expect)
{
    struct crypt_data *cd = mem_calloc(1, sizeof *cd);
    const char *out = crypt_rn(pw, setting, cd, (int)sizeof *cd);
    bool ok = out && out[0] != '*' && strlen(out) == strlen(expect) &&
              sodium_memcmp(out, expect, strlen(expect)) == 0;
    sodium_memzero(cd, sizeof *cd);
    mem_free(cd);
    return ok;
}

static void make_dummy(void)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    char pw[33];
    unsigned char raw[24];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(pw, sizeof pw, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    struct crypt_data *cd = mem_calloc(1, sizeof *cd);
    if (crypt_gensalt_rn("$2b$", PASSWD_DUMMY_COST, NULL, 0, setting, sizeof setting)) {
        const char *out = crypt_rn(pw, setting, cd, (int)sizeof *cd);
        if (out && out[0] != '*')
            strncpy(dummy_hash, out, sizeof dummy_hash - 1);
    }
    sodium_memzero(cd, sizeof *cd);
    mem_free(cd);
    sodium_memzero(pw, sizeof pw);
}

void passwd_init(void)
{
    pthread_once(&dummy_once, make_dummy);
}

void passwd_verify_dummy(const char *pw, size_t pwlen)
{
    passwd_init();
    size_t n = pwlen < PASSWD_MAX_LEN ? pwlen : PASSWD_MAX_LEN;
    char *copy = mem_strndup(pw, n); /* stops at a NUL byte: fine, it never matches */
    (void)bcrypt_check(dummy_hash, copy, dummy_hash);
    sodium_memzero(copy, strlen(copy));
    mem_free(copy);
}

static int verify_bcrypt(const char *hash, const char *pw, size_t pwlen)
{
    if (crypt_checksalt(hash) != CRYPT_SALT_OK || memchr(pw, '\0', pwlen)) {
        passwd_verify_dummy(pw, pwlen);
        return PASSWD_UNSUPPORTED;
    }
    char *copy = mem_strndup(pw, pwlen);
    bool ok = bcrypt_check(hash, copy, hash);
    sodium_memzero(copy, pwlen);
    mem_free(copy);
    return ok ? PASSWD_MATCH : PASSWD_MISMATCH;
}

static int verify_argon2id(const char *hash, const char *pw, size_t pwlen)
{
    char buf[ARGON2_STR_BUF] = {0};
    size_t n = strlen(hash);
    if (n >= sizeof buf) {
        passwd_verify_dummy(pw, pwlen);
        return PASSWD_UNSUPPORTED;
    }
    memcpy(buf, hash, n);
    int rc = crypto_pwhash_str_verify(buf, pw, (unsigned long long)pwlen);
    return rc == 0 ? PASSWD_MATCH : PASSWD_MISMATCH;
}

int passwd_verify(const char *hash, const char *pw, size_t pwlen)
{
    const char *kind = passwd_hash_kind(hash);
    if (!kind || pwlen > PASSWD_MAX_LEN || strlen(hash) > PASSWD_HASH_MAX) {
        passwd_verify_dummy(pw, pwlen);
        return PASSWD_UNSUPPORTED;
    }
    if (kind[0] == 'b')
        return verify_bcrypt(hash, pw, pwlen);
    return verify_argon2id(hash, pw, pwlen);
}
