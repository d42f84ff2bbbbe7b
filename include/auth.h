/*
 * auth.c — who a client is: the `default` user (requirepass) and the `user NAME ROLE
 * HASH` lines, and checking a password against them.
 *
 * argon2id takes tens of milliseconds and 64 MiB, so a check against a configured user
 * runs on a worker while the client is blocked. A password that verified once is
 * remembered as a keyed BLAKE2b digest (key random per process) so reconnecting pools
 * do not pay the hash again; nothing reversible is kept. The default user's password is
 * compared in constant time through the same kind of digest.
 */
#ifndef RBACD_AUTH_H
#define RBACD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct rbacd_conf;

/* Called on the loop thread with the outcome. c is NULL when the client went away
 * meanwhile. On success the client is already marked authenticated with its role. */
typedef void auth_cont_fn(struct client *c, bool ok, void *arg);

/* Builds the user table from the configuration. Returns false (message in err) on a
 * configuration it cannot use. */
bool auth_init(const struct rbacd_conf *conf, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void auth_free(void);
/* Re-reads requirepass after CONFIG SET. */
void auth_conf_changed(const struct rbacd_conf *conf);

/* Whether a new connection must authenticate (a password or users are configured). */
bool auth_required(void);

/* Checks user/password (user NULL = "default"). Calls k(c, ok, arg) — at once when the
 * answer is known without hashing, otherwise from a worker completion with c blocked in
 * between (the caller must not touch c->req after this returns). */
void auth_check(struct client *c, const char *user, size_t ulen, const char *pass, size_t plen,
                auth_cont_fn *k, void *arg);

/* Marks c as not authenticated (RESET), or as the default user when no auth is set. */
void auth_reset_client(struct client *c);

/* rbacd --hash-password: an argon2id hash of pass into out (crypto_pwhash_STRBYTES). */
bool auth_hash_password(const char *pass, size_t plen, char *out, size_t outlen)
    __attribute__((warn_unused_result));

#endif
