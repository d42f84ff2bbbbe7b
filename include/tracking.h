/*
 * tracking.c — client-side caching as Redis defines it (CLIENT TRACKING, SPEC §5):
 * which client read which of rbacd's keys, and the invalidation pushes sent when the
 * engine changes what those reads answered.
 *
 * Keys (what a gateway caches under):
 *   rbac:<t>:<u>    a read about user u of tenant t (mpbackend: domain t, and
 *                   rbac:*:<u> for DOMAINS)
 *   rbac:<t>        named by an invalidation only: everything of tenant (domain) t
 *   sess:<id>       a session read (id = the SESSION LIST id)
 *   null            everything (a full reload)
 *
 *   read command --command.c (CMD_TRACK_* row flag)--> tracking_note_read()
 *        --> table: key -> client ids (also grouped by tenant and by user)
 *   engine change --sync.c apply_batch / sessions / reload / boundary timer-->
 *        tracking_* invalidation --> ">2 invalidate [keys]" appended to each tracking
 *        client's output (or "message __redis__:invalidate" on its RESP2 redirect)
 *
 * Order: a push is appended on the loop thread when the change is applied, before the
 * writer's reply and before any later reply on any connection, so no client sees an
 * answer that reflects a change before the push about it.
 *
 * The table holds client ids, never pointers: a client that has gone is skipped, and
 * its entries are swept a few thousand keys per cron tick after client_free(). Past
 * tracking-table-max-keys the oldest keys are invalidated early. Loop thread only
 * (worker.h).
 */
#ifndef RBACD_TRACKING_H
#define RBACD_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Forward declarations only: conf.c includes this header for the apply hook. */
struct client;
struct command;
struct module;
struct resp_arg;
struct rbacd_conf;
struct rbac_model;
struct dal_profile;
struct dal_batch;

/* The module's hooks: init arms the subscription-boundary timer; cron sweeps the
 * entries of connections that stopped tracking; model_loaded sends
 * the null invalidation after a reload (not after the first load) and re-arms the
 * timer; shutdown frees the table; INFO section "tracking". */
extern const struct module tracking_module;

/* command.c, after a row flagged CMD_TRACK_* ran without an error reply for c (whose
 * c->tracking is set): registers the keys the read answered about. */
void tracking_note_read(struct client *c, const struct command *run, size_t argc,
                        const struct resp_arg *argv);

/* CLIENT LIST / CLIENT INFO: the flags tracking adds to c's ("P" subscribed, "t"
 * tracking, "B" BCAST, "R" redirect broken) into flags (8 bytes, '\0'-terminated), and
 * what redir= shows (-1 tracking off, 0 no redirect, else the client id). Returns
 * whether c is subscribed to the invalidation channel (sub=1). */
bool tracking_client_describe(const struct client *c, char flags[8], long long *redir);

/* RESET: tracking off and the invalidation channel unsubscribed, as in Redis. */
void tracking_client_reset(struct client *c);

/* client_free(): drops c's state (its entries are swept later); RESP3 clients redirecting to c get
 * a tracking-redir-broken push. Cheap when c never tracked. */
void tracking_client_gone(struct client *c);

/* sync.c, around dal_apply() of a batch (writes and change-log polls alike): begin
 * works out what the batch touches while the model still holds the old state; end
 * sends the invalidations once the batch is applied. origin: the client whose write
 * this is (NOLOOP), 0 for a change made elsewhere. */
void tracking_batch_begin(const struct dal_profile *p, const struct rbac_model *m,
                          const struct dal_batch *b, uint64_t origin);
void tracking_batch_end(const struct rbac_model *m);

/* The session with this hash left the store (revoked, expired, its user changed). */
void tracking_session_gone(const uint8_t *hash);

/* command_batch_begin(): sends the pushes of subscription boundaries already passed,
 * so that no reply computed at now_ms goes out before them. */
void tracking_time_check(int64_t now_ms);

/* CONFIG SET tracking-table-max-keys: invalidates the oldest keys down to the bound. */
void tracking_conf_changed(const struct rbacd_conf *c);

#endif
