/*
 * passwd.c — checking a password against a stored tenant_user.password hash: bcrypt
 * (`$2a$`, `$2b$`, `$2y$`, through libxcrypt) and argon2id (`$argon2id$`, through
 * libsodium). Server users (rbacd's own AUTH) are another thing: see auth.h.
 *
 * Every call here takes tens to hundreds of milliseconds of CPU on purpose: worker
 * threads only, never the loop thread. The functions are thread-safe and keep no
 * state but the dummy hash, made once.
 *
 * Timing: a check that cannot succeed (unknown user, unusable hash, a password with a
 * NUL byte or longer than PASSWD_MAX_LEN) still spends one bcrypt cost-10 check on a
 * dummy hash, so that the failure takes about as long as a real check.
 */
#ifndef RBACD_PASSWD_H
#define RBACD_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWD_MAX_LEN    1024 /* longer passwords never match (bounded hashing work) */
#define PASSWD_DUMMY_COST 10   /* bcrypt cost of the dummy hash */
#define PASSWD_HASH_MAX   255  /* tenant_user.password is VARCHAR(255) */

enum passwd_result {
    PASSWD_MATCH = 0,       /* the password is right */
    PASSWD_MISMATCH = 1,    /* a usable hash, another password */
    PASSWD_UNSUPPORTED = 2, /* empty, malformed or legacy hash (DES, MD5...): never matches */
};

/* Makes the dummy hash now rather than on the first failed check (it costs one bcrypt
 * hash). Optional, idempotent, thread-safe; for a worker. */
void passwd_init(void);

/* Checks pw[0..pwlen) against hash ('\0'-terminated). Returns an enum passwd_result;
 * never fails otherwise (out of memory aborts, see mem.h). Nothing is kept: the
 * copies it makes of pw are wiped. */
int passwd_verify(const char *hash, const char *pw, size_t pwlen);

/* Spends the time of a failed check without any stored hash (unknown user). */
void passwd_verify_dummy(const char *pw, size_t pwlen);

/* Which family a stored hash belongs to, by its prefix: "bcrypt", "argon2id" or NULL. */
const char *passwd_hash_kind(const char *hash);

#endif
