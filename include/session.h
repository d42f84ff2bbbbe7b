/*
 * session.c, cmd_session.c — login sessions: tokens hashed at rest (BLAKE2b-256),
 * expiry, revocation, written through to tenant_session, read through on a miss.
 * The parts: session_store.h (memory: hash table, per-user lists, expiry heap),
 * session_db.h (the session lane: batched statements, group commit), passwd.h
 * (bcrypt and argon2id checks), src/session_internal.h (what the two .c files share).
 *
 *   client --SESSION ...--> cmd_session.c --hit--> reply from the store
 *                               |  miss / write
 *                               v
 *                           session_op queue --batch--> lane thread: one transaction
 *                               ^                        for every write, then reads
 *          LOGIN: hashing pool (user row, password check) first
 *   reply <-- session.c applies the batch to the store, answers each waiter
 *
 * Invariants: the store holds only sessions the database confirmed; the raw token
 * exists only in the reply to CREATE/LOGIN (never stored, logged, or kept); every
 * create, touch and revoke commits before its reply; a database failure answers
 * -DBERR and leaves memory as it was.
 *
 * Calls other modules make (loop thread only):
 *   server.c  the hooks of session_module (module.h): start, cron tick, stop, INFO.
 *   sync.c    session_user_changed() when tenant_session rows of a user changed in the
 *             database (another instance created, touched or revoked them).
 *   writes    session_forget_user() after a committed change that revoked a user's
 *             sessions in the database (USER DISABLE).
 */
#ifndef RBACD_SESSION_H
#define RBACD_SESSION_H

#include "buf.h"
#include "command.h"
#include "module.h"

#include <stdbool.h>
#include <stdint.h>

/* The module's hooks (module.h), on the loop thread:
 *   init      starts the session lane (1 thread) and the password checkers (one per
 *             CPU) and queues the load of every live session. Fails (logged) only
 *             when a thread pool cannot start; a database that is down is retried
 *             with backoff meanwhile. Under profile mpbackend it starts nothing and
 *             the commands answer an error.
 *   shutdown  stops the pools (running jobs finish; their clients are gone by then),
 *             drops queued work and frees the store. Idempotent.
 *   cron      drops expired sessions from memory, retries a failed start-up load, and
 *             queues the purge of expired rows every few seconds.
 *   info      INFO "sessions": `key:value\r\n` lines. */
extern const module session_module;

/* The user's session rows changed in the database: forgets the user's sessions in
 * memory at once (reads go to the database meanwhile, so nothing older than the change
 * is answered once it counts as applied) and queues a re-read of the user's live
 * sessions, after which memory holds exactly what the database has for that user.
 * Several calls before the re-read runs cost one. Never fails. */
void session_user_changed(uint64_t tenant, uint64_t user);
/* Drops the user's sessions from memory at once (no database access). */
void session_forget_user(uint64_t tenant, uint64_t user);

/* Whether the session with this 32-byte token hash is held in memory; its tenant and
 * user then (client tracking: SESSION CANMENU/MENUS track the session's user). */
bool session_held(const uint8_t *hash, uint64_t *tenant, uint64_t *user);

/* Calls fn with the token hash of every session held in memory of tenant and, when
 * user is not 0, of that user (client tracking: a user or tenant whose status changed
 * changes what SESSION GET answers about them). O(the user's sessions), or O(all
 * sessions) for a whole tenant. */
void session_each_held(uint64_t tenant, uint64_t user, void (*fn)(void *ctx, const uint8_t *hash),
                       void *ctx);

/* The purge of expired tenant_session rows so far: purge statements run (each deletes
 * purge-batch rows at most), rows deleted, statements that failed (INFO housekeeping).
 * Loop thread. */
void session_purge_stats(uint64_t *runs, uint64_t *purged, uint64_t *failures);

/* SESSION command rows (listed in command.c). */
extern command cmd_session_table[];

#endif
