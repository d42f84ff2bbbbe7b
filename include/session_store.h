/*
 * session_store.c — the in-memory half of the sessions: tokens (making, checking the
 * form of, hashing), and the store of live sessions with its three ways in.
 *
 *   by_hash   idmap: first 8 bytes of the token hash -> session*; every hit is
 *             confirmed on all 32 bytes (sodium_memcmp). Two hashes sharing 8 bytes
 *             cannot both be held: the second is refused and stays database-only.
 *   users     idmap: user id -> session_user*, each with its sessions in a doubly
 *             linked list ordered by (created_ms, hash), oldest first (LIST,
 *             REVOKEALL, the per-user cap).
 *   heap      a binary min-heap on expires_ms; every session knows its slot, so a
 *             TOUCH re-sifts one entry and a removal is O(log n) (the periodic sweep
 *             pops what has expired).
 *
 * The store only holds what it is given: it never decides validity (user enabled,
 * revoked) and never talks to the database. The token itself is never stored; the
 * 32-byte BLAKE2b hash is the key. Loop thread only (see worker.h); nothing locks.
 */
#ifndef RBACD_SESSION_STORE_H
#define RBACD_SESSION_STORE_H

#include "idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_TOKEN_BYTES 32 /* random bytes in a token (256 bits) */
#define SESSION_TOKEN_LEN   43 /* their base64url form, no padding */
#define SESSION_HASH_LEN    32 /* BLAKE2b-256 of the token text */
#define SESSION_ID_BYTES    8  /* LIST id: hex of this many leading hash bytes */
#define SESSION_ID_HEX      (SESSION_ID_BYTES * 2)

struct session_user;

typedef struct session {
    uint8_t hash[SESSION_HASH_LEN]; /* BLAKE2b-256 of the token: the key */
    uint64_t tenant;                /* tenant_session.tenant_id */
    uint64_t user;                  /* tenant_session.user_id */
    int64_t created_ms;             /* unix ms */
    int64_t expires_ms;             /* unix ms, exclusive */
    int64_t ttl_ms;                 /* lifetime a TOUCH without TTL renews to */
    size_t heap_idx;                /* slot in the expiry heap */
    bool revoking;                  /* a revoke of it is queued: not picked again */
    struct session_user *owner;     /* the per-user list it is on */
    struct session *prev, *next;    /* that list, oldest first */
} session;

typedef struct session_user {
    uint64_t user;           /* tenant_user.id */
    session *head, *tail;    /* sessions, oldest first */
    size_t count;            /* sessions on the list */
    size_t pending_creates;  /* creates queued for the database, not yet held */
    int64_t last_created_ms; /* created_ms given to this user's latest create here */
} session_user;

typedef struct session_store {
    idmap by_hash;   /* hash prefix -> session* */
    idmap users;     /* user id -> session_user* */
    session **heap;  /* min-heap on expires_ms */
    size_t heap_len; /* sessions held (all of them are on the heap) */
    size_t heap_cap; /* heap slots allocated */
    /* Told of every session session_store_remove() is about to free (revoked, expired,
     * dropped with its user), NULL = nobody: client tracking pushes sess:<id>. */
    void (*on_remove)(const session *s);
} session_store;

/* ---- Tokens ---- */

/* Fills out with a new token: 32 bytes from libsodium's random source, base64url
 * without padding, '\0'-terminated (out holds SESSION_TOKEN_LEN + 1 bytes). Never
 * fails. */
void session_token_new(char *out);
/* Whether s[0..len) has the form of a token (43 characters of [A-Za-z0-9_-]). A string
 * that fails this names no session and never reaches the database. */
bool session_token_wellformed(const char *s, size_t len);
/* BLAKE2b-256 of the token text s[0..len) into out. */
void session_token_hash(const char *s, size_t len, uint8_t out[SESSION_HASH_LEN]);
/* Lower-case hex of the first n bytes of h into out (2n + 1 bytes, '\0'-terminated). */
void session_hash_hex(const uint8_t *h, size_t n, char *out);

/* ---- The store ---- */

/* An empty store; allocation failure aborts (mem.h), so it cannot fail. The caller owns
 * st and releases it with session_store_free(). */
void session_store_init(session_store *st);
/* Frees every session and user record; st is empty (and reusable after init). */
void session_store_free(session_store *st);

/* The session with this hash, or NULL. The pointer stays valid until the session is
 * removed. */
session *session_store_find(const session_store *st, const uint8_t hash[SESSION_HASH_LEN]);
/* Adds a session. Returns NULL (nothing added) when the hash is held already or
 * another held hash shares its first 8 bytes; otherwise the new session, owned by the
 * store. ttl_ms <= 0 means expires_ms - created_ms. */
session *session_store_add(session_store *st, const uint8_t hash[SESSION_HASH_LEN], uint64_t tenant,
                           uint64_t user, int64_t created_ms, int64_t expires_ms, int64_t ttl_ms);
/* Moves s to a new expiry (TOUCH). */
void session_store_set_expiry(session_store *st, session *s, int64_t expires_ms);
/* Removes and frees s (and its user record when that is left empty). */
void session_store_remove(session_store *st, session *s);
/* Removes every session of user; returns how many. */
size_t session_store_remove_user(session_store *st, uint64_t user);

/* The user record, or NULL when the user holds nothing and has nothing pending. */
session_user *session_store_user(const session_store *st, uint64_t user);
/* The user record, created when missing (to count pending creates). Release it with
 * session_store_user_release() once the pending count went back down. */
session_user *session_store_user_get(session_store *st, uint64_t user);
/* Frees u if it holds no session and nothing is pending; u may be gone afterwards. */
void session_store_user_release(session_store *st, session_user *u);

/* The session expiring first, or NULL when the store is empty. */
session *session_store_first_expiry(const session_store *st);
/* Sessions held, user records held, bytes used (INFO). */
size_t session_store_count(const session_store *st);
size_t session_store_users(const session_store *st);
size_t session_store_bytes(const session_store *st);

#endif
