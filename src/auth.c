/*
 * Authentication. See auth.h for the design; the flow of a check against a configured
 * user:
 *
 *   loop: auth_check -> digest cache hit? -> k(c, ok) now
 *                    -> miss: client_run_job(job{hash copy, password copy}) -> worker
 *   worker: crypto_pwhash_str_verify
 *   loop: auth_job_reply -> on success remember the digest -> k(c or NULL, ok); the
 *         client is unblocked after it
 */
#include "auth.h"
#include "client.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "util.h"
#include "worker.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define AUTH_DIGEST_LEN  32 /* keyed BLAKE2b-256 */
#define AUTH_CACHE_SLOTS 4  /* remembered verified passwords per user */
#define AUTH_MAX_PENDING 32 /* password checks queued at once; more are refused */

typedef struct auth_user {
    char *name;                                       /* ACL user name */
    int role;                                         /* enum conf_role */
    char hash[crypto_pwhash_STRBYTES];                /* argon2id string, '\0'-padded */
    uint8_t cache[AUTH_CACHE_SLOTS][AUTH_DIGEST_LEN]; /* digests of verified passwords */
    size_t ncache;                                    /* slots in use */
    size_t next_slot;                                 /* round-robin replacement */
} auth_user;

static struct {
    auth_user *users; /* configured users */
    size_t nusers;
    bool has_requirepass; /* default user has a password */
    uint8_t requirepass_digest[AUTH_DIGEST_LEN];
    uint8_t key[crypto_generichash_KEYBYTES]; /* random digest key */
    size_t pending;                           /* password checks queued or running */
    char dummy_hash[crypto_pwhash_STRBYTES];  /* verified against for unknown user names */
} auth;

static void auth_digest(const char *pass, size_t plen, uint8_t out[AUTH_DIGEST_LEN])
{
    crypto_generichash(out, AUTH_DIGEST_LEN, (const unsigned char *)pass, plen, auth.key,
                       sizeof auth.key);
}

bool auth_init(const rbacd_conf *conf, char *err, size_t errlen)
{
    randombytes_buf(auth.key, sizeof auth.key);
    auth.users = mem_calloc(conf->nusers, sizeof *auth.users);
    auth.nusers = conf->nusers;
    for (size_t i = 0; i < conf->nusers; i++) {
        const conf_user *u = &conf->users[i];
        if (strlen(u->hash) >= sizeof auth.users[i].hash) {
            snprintf(err, errlen, "user %s: password hash too long", u->name);
            return false;
        }
        auth.users[i].name = mem_strdup(u->name);
        auth.users[i].role = u->role;
        snprintf(auth.users[i].hash, sizeof auth.users[i].hash, "%s", u->hash);
    }
    auth_conf_changed(conf);
    if (conf->nusers > 0) {
        /* An unknown user name costs the same hash as a known one: no timing oracle
         * for which names exist. */
        char pw[32];
        randombytes_buf(pw, sizeof pw);
        bool ok = auth_hash_password(pw, sizeof pw, auth.dummy_hash, sizeof auth.dummy_hash);
        sodium_memzero(pw, sizeof pw);
        if (!ok) {
            snprintf(err, errlen, "cannot compute a password hash (out of memory?)");
            return false;
        }
    }
    return true;
}

void auth_free(void)
{
    for (size_t i = 0; i < auth.nusers; i++)
        mem_free(auth.users[i].name);
    mem_free(auth.users);
    sodium_memzero(&auth, sizeof auth);
}

void auth_conf_changed(const rbacd_conf *conf)
{
    const char *pw = conf->requirepass ? conf->requirepass : "";
    auth.has_requirepass = pw[0] != '\0';
    auth_digest(pw, strlen(pw), auth.requirepass_digest);
}

bool auth_required(void)
{
    return auth.has_requirepass || auth.nusers > 0;
}

void auth_reset_client(client *c)
{
    snprintf(c->user, sizeof c->user, "default");
    c->authenticated = !auth_required();
    c->role = CONF_ROLE_ADMIN;
}

static auth_user *auth_find(const char *name, size_t len)
{
    for (size_t i = 0; i < auth.nusers; i++)
        if (strlen(auth.users[i].name) == len && memcmp(auth.users[i].name, name, len) == 0)
            return &auth.users[i];
    return NULL;
}

static void auth_accept(client *c, const char *name, int role)
{
    c->authenticated = true;
    c->role = role;
    snprintf(c->user, sizeof c->user, "%s", name);
}

typedef struct auth_job {
    char name[64];                     /* user name, looked up again when done */
    char hash[crypto_pwhash_STRBYTES]; /* copy of the stored hash */
    char *pass;                        /* copy of the password, wiped after use */
    size_t plen;                       /* its length */
    uint8_t digest[AUTH_DIGEST_LEN];   /* digest of pass, to remember on success */
    bool unknown;                      /* no such user: the dummy hash is checked */
    bool ok;                           /* result */
    auth_cont_fn *k;                   /* continuation, on the loop thread */
    void *arg;                         /* its argument */
} auth_job;

static void auth_job_run(void *arg)
{
    auth_job *j = arg;
    j->ok = crypto_pwhash_str_verify(j->hash, j->pass, j->plen) == 0 && !j->unknown;
    sodium_memzero(j->pass, j->plen);
}

/* The check is done (loop thread); c is the client that asked, NULL if it has gone. */
static void auth_job_reply(client *c, void *arg)
{
    auth_job *j = arg;
    auth.pending--;
    if (j->ok) {
        auth_user *u = auth_find(j->name, strlen(j->name));
        if (u) {
            memcpy(u->cache[u->next_slot], j->digest, AUTH_DIGEST_LEN);
            u->next_slot = (u->next_slot + 1) % AUTH_CACHE_SLOTS;
            if (u->ncache < AUTH_CACHE_SLOTS)
                u->ncache++;
        }
    }
    if (c && j->ok) {
        auth_user *u = auth_find(j->name, strlen(j->name));
        auth_accept(c, j->name, u ? u->role : CONF_ROLE_CHECK);
    }
    if (c && !j->ok)
        server.stats.auth_failures++;
    j->k(c, j->ok, j->arg);
    mem_free(j->pass);
    sodium_memzero(j, sizeof *j);
    mem_free(j);
}

void auth_check(client *c, const char *user, size_t ulen, const char *pass, size_t plen,
                auth_cont_fn *k, void *arg)
{
    uint8_t digest[AUTH_DIGEST_LEN];
    auth_digest(pass, plen, digest);
    if (!user || (ulen == 7 && memcmp(user, "default", 7) == 0)) {
        /* With no authentication configured the default user takes any password, as
         * Redis's "nopass" default user does; once users exist, it needs requirepass. */
        bool ok = !auth_required() ||
                  (auth.has_requirepass &&
                   sodium_memcmp(digest, auth.requirepass_digest, AUTH_DIGEST_LEN) == 0);
        if (ok)
            auth_accept(c, "default", CONF_ROLE_ADMIN);
        else
            server.stats.auth_failures++;
        k(c, ok, arg);
        return;
    }
    auth_user *u = auth_find(user, ulen);
    if (!u && !auth.dummy_hash[0]) {
        server.stats.auth_failures++;
        k(c, false, arg);
        return;
    }
    for (size_t i = 0; u && i < u->ncache; i++) {
        if (sodium_memcmp(digest, u->cache[i], AUTH_DIGEST_LEN) == 0) {
            auth_accept(c, u->name, u->role);
            k(c, true, arg);
            return;
        }
    }
    if (auth.pending >= AUTH_MAX_PENDING) {
        /* Each check costs 64 MiB and tens of ms: a flood of AUTH attempts is refused
         * rather than queued without bound ahead of honest clients. */
        log_warn("refusing AUTH from %s: %zu password checks already pending", c->addr,
                 auth.pending);
        server.stats.auth_failures++;
        k(c, false, arg);
        return;
    }
    auth.pending++;
    auth_job *j = mem_calloc(1, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", u ? u->name : "");
    memcpy(j->hash, u ? u->hash : auth.dummy_hash, sizeof j->hash);
    j->unknown = !u;
    j->pass = mem_strndup(pass, plen);
    j->plen = plen;
    memcpy(j->digest, digest, sizeof digest);
    j->k = k;
    j->arg = arg;
    client_run_job(c, server.workers, auth_job_run, auth_job_reply, j);
}

bool auth_hash_password(const char *pass, size_t plen, char *out, size_t outlen)
{
    if (outlen < crypto_pwhash_STRBYTES)
        return false;
    return crypto_pwhash_str(out, pass, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}
