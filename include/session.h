/*
 * session.c, cmd_session.c — login sessions: tokens hashed at rest (BLAKE2b-256),
 * expiry, revocation, written through to tenant_session, read through on a miss.
 *
 * Calls other modules make (loop thread only):
 *   server.c  session_init() once the workers run, session_cron() every cron tick,
 *             session_shutdown() before the workers stop, session_info() for INFO.
 *   sync.c    session_user_changed() when tenant_session rows of a user changed in the
 *             database (another instance created, touched or revoked them).
 *   writes    session_forget_user() after a committed change that revoked a user's
 *             sessions in the database (USER DISABLE).
 */
#ifndef RBACD_SESSION_H
#define RBACD_SESSION_H

#include "buf.h"
#include "command.h"

#include <stdbool.h>
#include <stdint.h>

/* Starts loading live sessions from the database (on a worker). Returns false only on a
 * setup failure; a database that is down is retried. */
bool session_init(void) __attribute__((warn_unused_result));
void session_shutdown(void);
void session_cron(int64_t now_ms);
/* INFO "sessions" section body: `key:value\r\n` lines. */
void session_info(buf *out);
void session_user_changed(uint64_t tenant, uint64_t user);
void session_forget_user(uint64_t tenant, uint64_t user);

/* SESSION command rows (listed in command.c). */
extern command cmd_session_table[];

#endif
