/*
 * tracking_internal.h — what the two halves of client tracking share: tracking.c (the
 * table, the pushes, what engine changes invalidate) and cmd_tracking.c (CLIENT
 * TRACKING, CACHING, TRACKINGINFO, GETREDIR, SUBSCRIBE, UNSUBSCRIBE). The commands parse
 * and reply; every change of a connection's tracking state, and the counters INFO
 * shows, go through the functions here. Nothing outside the two files includes it.
 */
#ifndef RBACD_TRACKING_INTERNAL_H
#define RBACD_TRACKING_INTERNAL_H

#include "client.h"
#include "rbac.h"
#include "resp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACKING_CHANNEL      "__redis__:invalidate" /* the one channel rbacd publishes */
#define TRACKING_MAX_PREFIXES 64                     /* prefixes a client holds, in all */
#define TRACKING_PREFIX_MAX   (RBAC_DOMAIN_MAX + 48) /* longest prefix: a whole key */

/* One client's tracking state (client.tracking); exists while tracking is on or the
 * client is subscribed to the invalidation channel. */
typedef struct tracking_client {
    client *c;                           /* its client (freed together) */
    bool on;                             /* CLIENT TRACKING ON */
    bool bcast, optin, optout, noloop;   /* modes */
    bool subscribed;                     /* SUBSCRIBE __redis__:invalidate */
    bool broken;                         /* the redirect client went away */
    uint64_t redirect;                   /* client id receiving the pushes, 0 = itself */
    char **prefixes;                     /* BCAST prefixes, owned; none = every key */
    size_t nprefixes;                    /* entries */
    bool caching_yes, caching_no;        /* CLIENT CACHING given ... */
    uint64_t caching_at;                 /* ... as this command of the client (c->commands) */
    struct tracking_client *prev, *next; /* every tracking_client */
} tracking_client;

/* What CLIENT TRACKING ON asks for, checked by the command. */
typedef struct tracking_mode {
    bool bcast, optin, optout, noloop; /* the options given */
    uint64_t redirect;                 /* REDIRECT id (an existing client), 0 = none */
    const resp_arg *const *prefixes;   /* PREFIX values, added to those held */
    size_t nprefixes;                  /* how many */
} tracking_mode;

/* c's tracking state, created (off, unsubscribed) when it has none. */
tracking_client *tracking_state(client *c);
/* Turns tracking on with mode m (or changes the options of tracking already on). */
void tracking_enable(client *c, const tracking_mode *m);
/* Turns tracking off; its entries are swept later. */
void tracking_disable(client *c);
/* SUBSCRIBE / UNSUBSCRIBE of the invalidation channel; unsubscribe answers whether c
 * was subscribed. */
void tracking_subscribe(client *c);
bool tracking_unsubscribe(client *c);

#endif
