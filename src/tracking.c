/*
 * Client tracking (tracking.h): the tracking table, the per-client tracking state, the
 * invalidation pushes and the CLIENT TRACKING family of commands.
 *
 * The table:
 *
 *   keys    "rbac:7:42" -> tk_key {client ids}      chained hash (SipHash, random key)
 *              |  age list, oldest first: what tracking-table-max-keys invalidates early
 *              |  group "rbac:7" (tenant or domain), group "u:42" (user)
 *   groups  "rbac:7" -> tk_group {its keys}          same hash, own table
 *
 * A tenant-wide change invalidates every key of group rbac:<t> and sends "rbac:<t>"
 * once to each client that held one; a change to one user invalidates every key of
 * group u:<u> (each by its own name, so a key read under another tenant is named as
 * read) and the keys of the users who inherit its stores. BCAST clients track nothing:
 * every invalidation name is matched against their prefixes.
 *
 * Every push is appended to the receiving client's output and written to its socket at
 * once (client_write_now_safe), before the change's writer gets its reply; that write
 * never frees a client (a write error is left to the I/O path), so no client goes away
 * while the table is being walked.
 */
#include "tracking.h"
#include "tracking_internal.h"
#include "client.h"
#include "command.h"
#include "dal.h"
#include "module.h"
#include "rbac.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "resp.h"
#include "server.h"
#include "session.h"
#include "session_store.h"
#include "util.h"

#include <event2/event.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TK_KEY_MAX       (RBAC_DOMAIN_MAX + 48) /* "rbac:" domain ":" user id */
#define TK_MIN_BUCKETS   64                     /* smallest hash table */
#define TK_USER_GROUP    "u:"                   /* group names of users (never a key) */
#define TK_DOMAINS_SCOPE "*"                    /* DOMAINS reads: rbac:*:<user> */

/* ------------------------------------------------------------- hash table ---- */

typedef struct tk_node {
    struct tk_node *hnext; /* chain */
    uint64_t hash;         /* of name */
    char *name;            /* owned, '\0'-terminated */
    uint32_t len;          /* strlen(name) */
} tk_node;

typedef struct tk_table {
    tk_node **b; /* buckets, mask + 1 of them */
    size_t mask; /* buckets - 1; 0 before the first insert */
    size_t n;    /* nodes held */
} tk_table;

struct tk_key;

typedef struct tk_group {
    tk_node h;           /* first: the table's view */
    struct tk_key *head; /* its keys */
    size_t n;            /* how many */
} tk_group;

enum { TK_G_SCOPE = 0, TK_G_USER = 1, TK_NGROUPS = 2 };

typedef struct tk_key {
    tk_node h;                                            /* first: the table's view */
    struct tk_key *older, *newer;                         /* age list */
    tk_group *g[TK_NGROUPS];                              /* groups it belongs to, NULL none */
    struct tk_key *gprev[TK_NGROUPS], *gnext[TK_NGROUPS]; /* those groups' lists */
    uint64_t *ids;                                        /* client ids that read it */
    size_t nids, capids;                                  /* used, allocated */
} tk_key;

static struct {
    tk_table keys;                                 /* key name -> tk_key */
    tk_table groups;                               /* group name -> tk_group */
    tk_key *oldest, *newest;                       /* age list */
    size_t items;                                  /* (key, client) pairs */
    size_t bytes;                                  /* memory held by keys, groups and buckets */
    tracking_client *all;                          /* every tracking_client */
    size_t on_clients;                             /* with tracking on */
    size_t bcast_clients;                          /* with BCAST */
    size_t subscribers;                            /* subscribed to the channel */
    size_t prefixes;                               /* BCAST prefixes held */
    unsigned char seed[crypto_shorthash_KEYBYTES]; /* SipHash key */
    uint64_t origin;           /* the client whose write is being applied (NOLOOP) */
    bool had_model;            /* a model was loaded before: the next load invalidates all */
    bool stopped;              /* shutdown ran: every hook does nothing (sync stops after it) */
    struct event *boundary_ev; /* next subscription start or end */
    int64_t boundary_next_ms;  /* its time, INT64_MAX = none */
    int64_t boundary_done_ms;  /* boundaries up to this were pushed */
    uint64_t messages;         /* invalidate pushes sent */
    uint64_t invalidated;      /* keys invalidated */
    uint64_t evicted;          /* keys invalidated early (the table bound) */
    uint64_t boundaries;       /* tenant pushes sent for subscription boundaries */
    uint64_t closed_slow;      /* clients closed for not reading their pushes */
    /* Connections that stopped tracking, whose ids are still in keys: removed a few
     * thousand keys per cron tick (a gateway with a million keys must not stall the
     * loop when it reconnects). An id left in a key meanwhile is harmless: it names no
     * tracking connection, so no push goes to it. */
    uint64_t *gone; /* ids the running pass removes, ascending */
    size_t ngone, capgone;
    uint64_t *gone_next; /* ids that stopped during the pass: the next pass's */
    size_t nnext, capnext;
    tk_key *sweep; /* the next key of the running pass, NULL = no pass */
} tk;

static uint64_t tk_hash(const char *s, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)s, len, tk.seed);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static tk_node *table_find(const tk_table *t, const char *s, size_t len, uint64_t h)
{
    if (!t->b)
        return NULL;
    for (tk_node *n = t->b[h & t->mask]; n; n = n->hnext)
        if (n->hash == h && n->len == len && memcmp(n->name, s, len) == 0)
            return n;
    return NULL;
}

static void table_grow(tk_table *t)
{
    size_t nb = t->b ? (t->mask + 1) * 2 : TK_MIN_BUCKETS;
    tk_node **b = mem_calloc(nb, sizeof *b);
    for (size_t i = 0; t->b && i <= t->mask; i++) {
        for (tk_node *n = t->b[i], *next; n; n = next) {
            next = n->hnext;
            n->hnext = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    if (t->b)
        tk.bytes -= (t->mask + 1) * sizeof *t->b;
    tk.bytes += nb * sizeof *b;
    mem_free(t->b);
    t->b = b;
    t->mask = nb - 1;
}

/* Inserts node (its name and hash set); the name must not be held. */
static void table_add(tk_table *t, tk_node *node)
{
    if (!t->b || t->n + 1 > t->mask + 1)
        table_grow(t);
    node->hnext = t->b[node->hash & t->mask];
    t->b[node->hash & t->mask] = node;
    t->n++;
}

static void table_del(tk_table *t, tk_node *node)
{
    for (tk_node **p = &t->b[node->hash & t->mask]; *p; p = &(*p)->hnext) {
        if (*p == node) {
            *p = node->hnext;
            t->n--;
            return;
        }
    }
}

static void table_free(tk_table *t)
{
    if (t->b)
        tk.bytes -= (t->mask + 1) * sizeof *t->b;
    mem_free(t->b);
    *t = (tk_table){0};
}

/* ------------------------------------------------------------------ groups ---- */

static tk_group *group_get(const char *name, size_t len)
{
    uint64_t h = tk_hash(name, len);
    tk_group *g = (tk_group *)table_find(&tk.groups, name, len, h);
    if (g)
        return g;
    g = mem_calloc(1, sizeof *g);
    g->h.name = mem_strndup(name, len);
    g->h.len = (uint32_t)len;
    g->h.hash = h;
    table_add(&tk.groups, &g->h);
    tk.bytes += sizeof *g + len + 1;
    return g;
}

static tk_group *group_find(const char *name, size_t len)
{
    return (tk_group *)table_find(&tk.groups, name, len, tk_hash(name, len));
}

static void group_link(tk_key *k, int which, tk_group *g)
{
    k->g[which] = g;
    k->gprev[which] = NULL;
    k->gnext[which] = g->head;
    if (g->head)
        g->head->gprev[which] = k;
    g->head = k;
    g->n++;
}

static void group_unlink(tk_key *k, int which)
{
    tk_group *g = k->g[which];
    if (!g)
        return;
    if (k->gprev[which])
        k->gprev[which]->gnext[which] = k->gnext[which];
    else
        g->head = k->gnext[which];
    if (k->gnext[which])
        k->gnext[which]->gprev[which] = k->gprev[which];
    k->g[which] = NULL;
    if (--g->n == 0) {
        table_del(&tk.groups, &g->h);
        tk.bytes -= sizeof *g + g->h.len + 1;
        mem_free(g->h.name);
        mem_free(g);
        if (tk.groups.n == 0)
            table_free(&tk.groups); /* nothing tracked: give the buckets back */
    }
}

/* -------------------------------------------------------------------- keys ---- */

static size_t key_bytes(const tk_key *k)
{
    return sizeof *k + k->h.len + 1 + k->capids * sizeof *k->ids;
}

static void key_free(tk_key *k)
{
    if (k == tk.sweep)
        tk.sweep = k->newer;
    table_del(&tk.keys, &k->h);
    for (int w = 0; w < TK_NGROUPS; w++)
        group_unlink(k, w);
    if (k->older)
        k->older->newer = k->newer;
    else
        tk.oldest = k->newer;
    if (k->newer)
        k->newer->older = k->older;
    else
        tk.newest = k->older;
    tk.items -= k->nids;
    tk.bytes -= key_bytes(k);
    mem_free(k->ids);
    mem_free(k->h.name);
    mem_free(k);
    if (tk.keys.n == 0) {
        table_free(&tk.keys);
        tk.ngone = tk.nnext = 0; /* no key holds any id */
    }
}

/* ----------------------------------------------------------------- pushes ---- */

/* Appends one invalidation to the client that receives c's pushes: ">2 invalidate
 * [names]" in RESP3, "message __redis__:invalidate [names]" to a RESP2 subscriber;
 * names NULL = null (everything). */
static void push_to(tracking_client *tc, const char *const *names, const size_t *lens, size_t n)
{
    client *to = tc->c;
    if (tc->redirect) {
        to = client_by_id(tc->redirect);
        if (!to)
            return; /* tracking_client_gone() told c */
    }
    tracking_client *tt = to->tracking;
    if (to->state == CLIENT_CLOSING)
        return;
    if (to->proto >= 3) {
        buf_append_str(&to->out, ">2\r\n$10\r\ninvalidate\r\n");
    } else if (tc->redirect && tt && tt->subscribed) {
        buf_append_str(&to->out, "*3\r\n$7\r\nmessage\r\n$20\r\n" TRACKING_CHANNEL "\r\n");
    } else {
        return; /* RESP2 without a redirect: nowhere to send it (as in Redis) */
    }
    if (!names) {
        resp_null_array(&to->out, to->proto);
    } else {
        resp_array(&to->out, n);
        for (size_t i = 0; i < n; i++)
            resp_bulk(&to->out, names[i], lens[i]);
    }
    tk.messages++;
    if (client_output_over_limit(to)) {
        /* It does not read its pushes: closed, as Redis closes a pub/sub client past its
         * output limit. Its gateway drops its cache with the connection, which is right:
         * the pushes it would miss are exactly what it is behind on. */
        log_client(LOG_LVL_WARNING, to,
                   "closed: %zu bytes of invalidation pushes unread (client-output-limit)",
                   to->out.len - to->out_pos);
        tk.closed_slow++;
        client_abort(to);
        client_flush_soon(to);
        return;
    }
    /* Written at once: before the writer's own reply (appended after this returns) and
     * before any later reply of this instance, on any connection. */
    client_write_now_safe(to);
}

static void push_one(tracking_client *tc, const char *name, size_t len)
{
    push_to(tc, &name, &len, 1);
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
    size_t pl = strlen(p);
    return pl <= len && memcmp(s, p, pl) == 0;
}

/* Whether a BCAST prefix p wants the invalidation name: name starts with p, or name is
 * a tenant (domain) scope rbac:<t> and p lies inside it (rbac:<t>:...), since the scope
 * covers every key below it: PREFIX rbac:7: gets rbac:7 (SPEC §5). */
static bool prefix_wants(const char *name, size_t len, bool scope, const char *p)
{
    if (has_prefix(name, len, p))
        return true;
    size_t pl = strlen(p);
    return scope && pl > len && memcmp(p, name, len) == 0 && p[len] == ':';
}

/* BCAST clients whose prefixes match name get it; scope: name is rbac:<t>. */
static void bcast_as(const char *name, size_t len, bool scope)
{
    if (tk.bcast_clients == 0)
        return;
    for (tracking_client *tc = tk.all; tc; tc = tc->next) {
        if (!tc->on || !tc->bcast || (tc->noloop && tc->c->id == tk.origin))
            continue;
        bool hit = tc->nprefixes == 0;
        for (size_t i = 0; !hit && i < tc->nprefixes; i++)
            hit = prefix_wants(name, len, scope, tc->prefixes[i]);
        if (hit)
            push_one(tc, name, len);
    }
}

static void bcast(const char *name, size_t len)
{
    bcast_as(name, len, false);
}

/* The tracking state of the live client id, if it tracks (not BCAST) and did not
 * write the change itself with NOLOOP. */
static tracking_client *receiver(uint64_t id)
{
    client *c = client_by_id(id);
    tracking_client *tc = c ? c->tracking : NULL;
    if (!tc || !tc->on || tc->bcast || (tc->noloop && id == tk.origin))
        return NULL;
    return tc;
}

/* Sends k's own name to every client that read it, then drops it. */
static void key_invalidate(tk_key *k)
{
    for (size_t i = 0; i < k->nids; i++) {
        tracking_client *tc = receiver(k->ids[i]);
        if (tc)
            push_one(tc, k->h.name, k->h.len);
    }
    tk.invalidated++;
    key_free(k);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Everything of tenant (domain) group name: every client holding a key of it gets the
 * name once; BCAST clients get it by prefix. */
static void invalidate_scope(const char *name, size_t len)
{
    tk_group *g = group_find(name, len);
    if (g) {
        uint64_t *ids = NULL;
        size_t n = 0, cap = 0;
        while (g && g->head) {
            tk_key *k = g->head;
            mem_grow((void **)&ids, &cap, n + k->nids, sizeof *ids);
            memcpy(ids + n, k->ids, k->nids * sizeof *ids);
            n += k->nids;
            tk.invalidated++;
            bool last = g->n == 1;
            key_free(k); /* frees g with its last key */
            if (last)
                g = NULL;
        }
        n = util_sort_unique(ids, n, sizeof *ids, cmp_u64);
        for (size_t i = 0; i < n; i++) {
            tracking_client *tc = receiver(ids[i]);
            if (tc)
                push_one(tc, name, len);
        }
        mem_free(ids);
    }
    bcast_as(name, len, true);
}

/* One exact key: its readers, and BCAST by prefix. */
static void invalidate_key(const char *name, size_t len)
{
    tk_key *k = (tk_key *)table_find(&tk.keys, name, len, tk_hash(name, len));
    if (k)
        key_invalidate(k);
    bcast(name, len);
}

/* Every key of a group by its own name (a user's keys). */
static void invalidate_group_keys(const char *name, size_t len)
{
    tk_group *g = group_find(name, len);
    while (g) {
        bool last = g->n == 1;
        key_invalidate(g->head);
        if (last)
            break;
    }
}

/* Everything, as after a reload: a null push to every tracking client. */
static void invalidate_all(void)
{
    while (tk.oldest) {
        tk.invalidated++;
        key_free(tk.oldest);
    }
    for (tracking_client *tc = tk.all; tc; tc = tc->next)
        if (tc->on && !(tc->noloop && tc->c->id == tk.origin))
            push_to(tc, NULL, NULL, 0);
}

static void tenant_invalidate(uint64_t tenant)
{
    char name[32];
    int n = snprintf(name, sizeof name, "rbac:%" PRIu64, tenant);
    invalidate_scope(name, (size_t)n);
}

static void tenant_cb(void *ctx, uint64_t tenant)
{
    tenant_invalidate(tenant);
}

/* ------------------------------------------------------------------ reads ---- */

static void key_add_client(tk_key *k, uint64_t id)
{
    for (size_t i = 0; i < k->nids; i++)
        if (k->ids[i] == id)
            return;
    size_t before = key_bytes(k);
    mem_grow((void **)&k->ids, &k->capids, k->nids + 1, sizeof *k->ids);
    k->ids[k->nids++] = id;
    tk.bytes += key_bytes(k) - before;
    tk.items++;
}

/* Invalidates the oldest keys until the table is within its bound. */
static void enforce_bound(void)
{
    long long max = server.conf.tracking_table_max_keys;
    while (max > 0 && tk.keys.n > (size_t)max && tk.oldest) {
        tk.evicted++;
        key_invalidate(tk.oldest);
    }
}

/* Records that client id read name; groups: the tenant (domain) scope and the user. */
static void track(uint64_t id, const char *name, size_t len, const char *scope, size_t slen,
                  const char *user, size_t ulen)
{
    uint64_t h = tk_hash(name, len);
    tk_key *k = (tk_key *)table_find(&tk.keys, name, len, h);
    if (!k) {
        k = mem_calloc(1, sizeof *k);
        k->h.name = mem_strndup(name, len);
        k->h.len = (uint32_t)len;
        k->h.hash = h;
        table_add(&tk.keys, &k->h);
        tk.bytes += key_bytes(k);
        k->older = tk.newest;
        if (tk.newest)
            tk.newest->newer = k;
        else
            tk.oldest = k;
        tk.newest = k;
        if (scope)
            group_link(k, TK_G_SCOPE, group_get(scope, slen));
        if (user)
            group_link(k, TK_G_USER, group_get(user, ulen));
    }
    key_add_client(k, id);
    enforce_bound();
}

/* rbac:<scope>:<user> with its groups rbac:<scope> and u:<user>. */
static void track_user(uint64_t id, const char *scope, uint64_t user)
{
    char name[TK_KEY_MAX], group[TK_KEY_MAX], ugroup[32];
    int n = snprintf(name, sizeof name, "rbac:%s:%" PRIu64, scope, user);
    int g = snprintf(group, sizeof group, "rbac:%s", scope);
    int u = snprintf(ugroup, sizeof ugroup, TK_USER_GROUP "%" PRIu64, user);
    if (n > 0 && (size_t)n < sizeof name)
        track(id, name, (size_t)n, group, (size_t)g, ugroup, (size_t)u);
}

/* Whether this command of c is one OPTIN/OPTOUT lets track. */
static bool caching_allows(const client *c, const tracking_client *tc)
{
    bool just_before = tc->caching_at + 1 == c->commands;
    if (tc->optin)
        return tc->caching_yes && just_before;
    if (tc->optout)
        return !(tc->caching_no && just_before);
    return true;
}

/* The scope string of a read's tenant or domain argument into out; false when it is
 * malformed (the read answered an error or a denial nobody caches). */
static bool read_scope(const resp_arg *a, char out[RBAC_DOMAIN_MAX + 1])
{
    if (server.conf.profile == CONF_PROFILE_MPBACKEND)
        return rbac_domain_canon(a->ptr, a->len, out) != RBAC_SCOPE_NONE;
    uint64_t t;
    if (!util_parse_u64(a->ptr, a->len, &t))
        return false;
    snprintf(out, RBAC_DOMAIN_MAX + 1, "%" PRIu64, t);
    return true;
}

static void note_session(client *c, const command *run, size_t argc, const resp_arg *argv)
{
    const resp_arg *tok = &argv[2];
    if (!session_token_wellformed(tok->ptr, tok->len))
        return;
    uint8_t hash[SESSION_HASH_LEN];
    session_token_hash(tok->ptr, tok->len, hash);
    char hex[SESSION_ID_HEX + 1], name[8 + SESSION_ID_HEX];
    session_hash_hex(hash, SESSION_ID_BYTES, hex);
    int n = snprintf(name, sizeof name, "sess:%s", hex);
    track(c->id, name, (size_t)n, NULL, 0, NULL, 0);
    uint64_t tenant, user;
    if (!(run->flags & CMD_TRACK_SESSION_USER) || !session_held(hash, &tenant, &user))
        return;
    char scope[RBAC_DOMAIN_MAX + 1];
    if (server.conf.profile == CONF_PROFILE_MPBACKEND) {
        if (argc < 4 || !read_scope(&argv[3], scope))
            return;
    } else {
        snprintf(scope, sizeof scope, "%" PRIu64, tenant);
    }
    track_user(c->id, scope, user);
}

void tracking_note_read(client *c, const command *run, size_t argc, const resp_arg *argv)
{
    tracking_client *tc = c->tracking;
    if (!tc || !tc->on || tc->bcast || !caching_allows(c, tc))
        return;
    uint64_t user;
    char scope[RBAC_DOMAIN_MAX + 1];
    if ((run->flags & CMD_TRACK_USER) && argc >= 3 && read_scope(&argv[1], scope) &&
        util_parse_u64(argv[2].ptr, argv[2].len, &user))
        track_user(c->id, scope, user);
    if ((run->flags & CMD_TRACK_DOMAINS) && argc >= 2 &&
        util_parse_u64(argv[1].ptr, argv[1].len, &user))
        track_user(c->id, TK_DOMAINS_SCOPE, user);
    if ((run->flags & CMD_TRACK_SESSION) && argc >= 3)
        note_session(c, run, argc, argv);
}

/* ---------------------------------------------------------------- clients ---- */

static tracking_client *state_of(client *c)
{
    if (!c->tracking) {
        tracking_client *tc = mem_calloc(1, sizeof *tc);
        tc->c = c;
        tc->next = tk.all;
        if (tk.all)
            tk.all->prev = tc;
        tk.all = tc;
        c->tracking = tc;
    }
    return c->tracking;
}

static void prefixes_free(tracking_client *tc)
{
    for (size_t i = 0; i < tc->nprefixes; i++)
        mem_free(tc->prefixes[i]);
    tk.prefixes -= tc->nprefixes;
    mem_free(tc->prefixes);
    tc->prefixes = NULL;
    tc->nprefixes = 0;
}

#define TK_SWEEP_PER_TICK 20000 /* keys a cron tick sweeps of ids that stopped tracking */

static bool ids_has(const uint64_t *v, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == id)
            return true;
        if (v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Inserts id into the ascending list v (no duplicates). */
static void ids_add(uint64_t **v, size_t *n, size_t *cap, uint64_t id)
{
    if (ids_has(*v, *n, id))
        return;
    mem_grow((void **)v, cap, *n + 1, sizeof **v);
    size_t i = *n;
    while (i > 0 && (*v)[i - 1] > id) {
        (*v)[i] = (*v)[i - 1];
        i--;
    }
    (*v)[i] = id;
    (*n)++;
}

static bool ids_del(uint64_t *v, size_t *n, uint64_t id)
{
    for (size_t i = 0; i < *n; i++) {
        if (v[i] != id)
            continue;
        memmove(v + i, v + i + 1, (*n - i - 1) * sizeof *v);
        (*n)--;
        return true;
    }
    return false;
}

/* Removes from k the ids of set (v, n); frees k when nobody is left. */
static void key_drop_ids(tk_key *k, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < k->nids;) {
        if (ids_has(v, n, k->ids[i])) {
            k->ids[i] = k->ids[--k->nids];
            tk.items--;
        } else {
            i++;
        }
    }
    if (k->nids == 0)
        key_free(k);
}

/* Up to budget keys of the running pass; a finished pass starts the next one. */
static void sweep_step(size_t budget)
{
    if (!tk.sweep && tk.ngone) /* the pass ended (every key it had to see is gone) */
        tk.ngone = 0;
    if (!tk.sweep && tk.ngone == 0 && tk.nnext) {
        uint64_t *v = tk.gone;
        size_t cap = tk.capgone;
        tk.gone = tk.gone_next;
        tk.capgone = tk.capnext;
        tk.ngone = tk.nnext;
        tk.gone_next = v;
        tk.capnext = cap;
        tk.nnext = 0;
        tk.sweep = tk.oldest;
    }
    while (tk.sweep && budget--) {
        tk_key *k = tk.sweep;
        tk.sweep = k->newer;
        key_drop_ids(k, tk.gone, tk.ngone);
    }
    if (!tk.sweep)
        tk.ngone = 0;
}

/* id stopped tracking: its entries go in the next sweep pass. */
static void forget_client_later(uint64_t id)
{
    if (tk.keys.n == 0)
        return;
    ids_add(&tk.gone_next, &tk.nnext, &tk.capnext, id);
    if (!tk.sweep)
        sweep_step(0); /* starts the pass, sweeps nothing yet */
}

/* Removes id from every key now (a connection turning tracking on again before the
 * sweep reached its old entries: they must not take its new reads with them). */
static void forget_client_now(uint64_t id)
{
    bool in_gone = ids_del(tk.gone, &tk.ngone, id);
    bool in_next = ids_del(tk.gone_next, &tk.nnext, id); /* from both lists, always */
    if (!in_gone && !in_next)
        return;
    uint64_t one[1] = {id};
    for (tk_key *k = tk.oldest, *next; k; k = next) {
        next = k->newer;
        key_drop_ids(k, one, 1);
    }
}

static void tracking_off(tracking_client *tc)
{
    if (!tc->on)
        return;
    if (!tc->bcast)
        forget_client_later(tc->c->id);
    tk.on_clients--;
    if (tc->bcast)
        tk.bcast_clients--;
    prefixes_free(tc);
    tc->on = tc->bcast = tc->optin = tc->optout = tc->noloop = tc->broken = false;
    tc->caching_yes = tc->caching_no = false;
    tc->redirect = 0;
}

/* Frees c's state when it neither tracks nor subscribes. */
static void state_release(client *c)
{
    tracking_client *tc = c->tracking;
    if (!tc || tc->on || tc->subscribed)
        return;
    if (tc->prev)
        tc->prev->next = tc->next;
    else
        tk.all = tc->next;
    if (tc->next)
        tc->next->prev = tc->prev;
    mem_free(tc);
    c->tracking = NULL;
}

bool tracking_client_describe(const client *c, char flags[8], long long *redir)
{
    const tracking_client *tc = c->tracking;
    size_t n = 0;
    *redir = tc && tc->on ? (long long)tc->redirect : -1;
    if (tc && tc->subscribed)
        flags[n++] = 'P';
    if (tc && tc->on)
        flags[n++] = 't';
    if (tc && tc->on && tc->bcast)
        flags[n++] = 'B';
    if (tc && tc->on && tc->broken)
        flags[n++] = 'R';
    flags[n] = '\0';
    return tc && tc->subscribed;
}

void tracking_client_reset(client *c)
{
    tracking_client *tc = c->tracking;
    if (!tc)
        return;
    tracking_off(tc);
    if (tc->subscribed)
        tk.subscribers--;
    tc->subscribed = false;
    state_release(c);
}

void tracking_client_gone(client *c)
{
    for (tracking_client *tc = tk.all; tc; tc = tc->next) {
        if (tc->c == c || !tc->on || tc->redirect != c->id || tc->broken)
            continue;
        tc->broken = true;
        if (tc->c->proto >= 3) { /* as Redis: the client learns its pushes are lost */
            buf_append_str(&tc->c->out, ">2\r\n");
            resp_bulk_str(&tc->c->out, "tracking-redir-broken");
            resp_int(&tc->c->out, (long long)c->id);
            client_write_now_safe(tc->c);
        }
    }
    tracking_client_reset(c);
}

/* ---------------------------------------------------- modes (cmd_tracking.c) ---- */

tracking_client *tracking_state(client *c)
{
    return state_of(c);
}

void tracking_enable(client *c, const tracking_mode *m)
{
    tracking_client *tc = state_of(c);
    if (!tc->on) {
        forget_client_now(c->id);
        tk.on_clients++;
        tk.bcast_clients += m->bcast;
    }
    tc->on = true;
    tc->bcast = m->bcast;
    tc->optin = m->optin;
    tc->optout = m->optout;
    tc->noloop = m->noloop;
    tc->redirect = m->redirect == c->id ? 0 : m->redirect;
    tc->broken = false;
    for (size_t i = 0; i < m->nprefixes; i++) { /* prefixes add up, as in Redis */
        tc->prefixes = mem_realloc(tc->prefixes, (tc->nprefixes + 1) * sizeof *tc->prefixes);
        tc->prefixes[tc->nprefixes++] = mem_strndup(m->prefixes[i]->ptr, m->prefixes[i]->len);
        tk.prefixes++;
    }
}

void tracking_disable(client *c)
{
    if (!c->tracking)
        return;
    tracking_off(c->tracking);
    state_release(c);
}

void tracking_subscribe(client *c)
{
    tracking_client *tc = state_of(c);
    if (!tc->subscribed)
        tk.subscribers++;
    tc->subscribed = true;
}

bool tracking_unsubscribe(client *c)
{
    tracking_client *tc = c->tracking;
    if (!tc || !tc->subscribed)
        return false;
    tc->subscribed = false;
    tk.subscribers--;
    state_release(c);
    return true;
}

/* ---------------------------------------------------------- engine events ---- */

typedef struct tk_user_ev {
    uint64_t tenant; /* bitenant: its tenant */
    uint64_t user;   /* the user */
    bool stores;     /* its own stores or its status changed: those who inherit them too */
    bool status;     /* its row changed: its sessions' answers too */
} tk_user_ev;

/* What a batch touches, worked out before it is applied (tracking_batch_begin). */
static struct {
    bool open;             /* between begin and end */
    uint64_t *tenants;     /* tenant ids (bitenant) */
    size_t nt, capt;       /* used, allocated */
    tk_user_ev *users;     /* users */
    size_t nu, capu;       /* used, allocated */
    char **scopes;         /* mpbackend: group names "rbac:<domain>" (roles) */
    size_t ns, caps;       /* used, allocated */
    char **names;          /* exact keys for BCAST (mpbackend users, domains before) */
    size_t nn, capn;       /* used, allocated */
    bool all_tenants;      /* a menu changed: every tenant */
    bool subs;             /* subscriptions changed: the boundary timer is recomputed */
    uint64_t *tenant_rows; /* tenants whose own row changed (their sessions) */
    size_t ntr, captr;     /* used, allocated */
} ev;

static void ev_tenant(void *ctx, uint64_t t)
{
    mem_grow((void **)&ev.tenants, &ev.capt, ev.nt + 1, sizeof *ev.tenants);
    ev.tenants[ev.nt++] = t;
}

/* The tenant row itself changed (status, deletion): its sessions' answers too. */
static void ev_tenant_row(uint64_t t)
{
    ev_tenant(NULL, t);
    mem_grow((void **)&ev.tenant_rows, &ev.captr, ev.ntr + 1, sizeof *ev.tenant_rows);
    ev.tenant_rows[ev.ntr++] = t;
}

static void ev_user(uint64_t t, uint64_t u, bool stores, bool status)
{
    mem_grow((void **)&ev.users, &ev.capu, ev.nu + 1, sizeof *ev.users);
    ev.users[ev.nu++] = (tk_user_ev){t, u, stores, status};
}

static void ev_str(char ***v, size_t *n, size_t *cap, const char *s)
{
    mem_grow((void **)v, cap, *n + 1, sizeof **v);
    (*v)[(*n)++] = mem_strdup(s);
}

/* The domains where user holds a usable role, as BCAST names rbac:<d>:<user>. */
static void ev_user_domains(const rbac_model *m, uint64_t user)
{
    rbac_str *d;
    size_t n = rbac_domains(m, user, &d);
    char name[TK_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "rbac:%.*s:%" PRIu64, (int)d[i].len, d[i].s, user);
        ev_str(&ev.names, &ev.nn, &ev.capn, name);
    }
    mem_free(d);
}

/* The U64 slot of d's tenant column in a record, or -1. */
static int tenant_slot(const dal_desc *d)
{
    int slot = 0;
    for (size_t i = 0; d->tenant_col && i < d->ncols; i++) {
        if (d->cols[i].type != DC_U64)
            continue;
        if (!strcmp(d->cols[i].name, d->tenant_col))
            return slot;
        slot++;
    }
    return -1;
}

/* A record of a user-scoped descriptor: the user id, its tenant from the model (or
 * the record, for a user new to it). */
static void ev_user_rec(const dal_profile *p, const rbac_model *m, const dal_desc *d, uint64_t user,
                        const dal_rec *r, bool stores, bool status)
{
    uint64_t t = 0;
    if (!rbac_user_tenant(m, user, &t) && r) {
        int s = tenant_slot(d);
        if (s >= 0)
            t = r->u[s];
    }
    ev_user(t, user, stores, status);
    if (server.conf.profile == CONF_PROFILE_MPBACKEND)
        ev_user_domains(m, user);
}

static void ev_role(const rbac_model *m, const dal_desc *d, uint64_t role, const dal_rec *r)
{
    if (server.conf.profile != CONF_PROFILE_MPBACKEND) {
        uint64_t t = 0;
        int s = tenant_slot(d);
        if (rbac_role_tenant(m, role, &t) || (r && s >= 0 && (t = r->u[s])))
            ev_tenant(NULL, t);
        return;
    }
    rbac_str *v;
    size_t n = rbac_role_domains(m, role, &v);
    char name[TK_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "rbac:%.*s", (int)v[i].len, v[i].s);
        ev_str(&ev.scopes, &ev.ns, &ev.caps, name);
    }
    mem_free(v);
    ev_str(&ev.scopes, &ev.ns, &ev.caps, "rbac:" TK_DOMAINS_SCOPE);
}

/* A batch part: what each of its records touches. */
static void ev_part(const dal_profile *p, const rbac_model *m, size_t i, const dal_part *pt)
{
    const dal_desc *d = &p->descs[i];
    bool role = p->descs[i].known == rbac_role_known && d->shape == DAL_ENTITY;
    bool role_list =
        d->shape == DAL_OWNED && d->owner >= 0 && p->descs[d->owner].known == rbac_role_known;
    if (d->scope == DAL_SCOPE_NONE)
        return;
    if (d->scope == DAL_SCOPE_PLATFORM) {
        /* a menu: every tenant; a package or its menus: the tenants subscribed to it */
        if (d->known == rbac_menu_known) {
            ev.all_tenants |= pt->nrows > 0;
            return;
        }
        for (size_t k = 0; k < pt->nrows; k++)
            rbac_each_tenant(m, pt->rows[k].u[0], ev_tenant, NULL);
        for (size_t k = 0; k < pt->nlists; k++)
            rbac_each_tenant(m, pt->lists[k].owner, ev_tenant, NULL);
        for (size_t k = 0; k < pt->nadded; k++)
            rbac_each_tenant(m, pt->added[k].u[0], ev_tenant, NULL);
        return;
    }
    if (d->shape == DAL_ENTITY) {
        for (size_t k = 0; k < pt->nrows; k++) {
            const dal_rec *r = &pt->rows[k];
            if (d->scope == DAL_SCOPE_USER)
                ev_user_rec(p, m, d, r->u[0], r, true, true); /* status: delegation too */
            else if (role)
                ev_role(m, d, r->u[0], r);
            else
                ev_tenant_row(r->u[0]); /* the tenant row itself: its sessions too */
        }
        return;
    }
    if (d->key_is_tenant && (pt->nlists || pt->nadded))
        ev.subs = true;
    for (size_t k = 0; k < pt->nlists + pt->nadded; k++) {
        uint64_t owner = k < pt->nlists ? pt->lists[k].owner : pt->added[k - pt->nlists].u[0];
        if (d->scope == DAL_SCOPE_USER)
            ev_user_rec(p, m, &p->descs[d->owner], owner, NULL,
                        d->target_col && !strcmp(d->target_col, "store_id"), false);
        else if (role_list)
            ev_role(m, &p->descs[d->owner], owner, NULL);
        else
            ev_tenant(NULL, owner); /* subscriptions: the owner is the tenant */
    }
}

void tracking_batch_begin(const dal_profile *p, const rbac_model *m, const dal_batch *b,
                          uint64_t origin)
{
    if (tk.stopped)
        return;
    ev.open = true;
    tk.origin = origin;
    if (!m || !p)
        return;
    for (size_t i = 0; i < p->ndescs; i++)
        ev_part(p, m, i, &b->parts[i]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strs_free(char **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        mem_free(v[i]);
    *n = 0;
}

static void rearm_boundary(const rbac_model *m);

static int cmp_user_ev(const void *a, const void *b)
{
    const tk_user_ev *x = a, *y = b;
    if (x->user != y->user)
        return (x->user > y->user) - (x->user < y->user);
    return (x->tenant > y->tenant) - (x->tenant < y->tenant);
}

/* One event per (user, tenant); stores if any of its records said so. */
static void users_unique(void)
{
    if (ev.nu > 1)
        qsort(ev.users, ev.nu, sizeof *ev.users, cmp_user_ev);
    size_t w = 0;
    for (size_t i = 0; i < ev.nu; i++) {
        if (w && cmp_user_ev(&ev.users[w - 1], &ev.users[i]) == 0) {
            ev.users[w - 1].stores |= ev.users[i].stores;
            ev.users[w - 1].status |= ev.users[i].status;
        } else
            ev.users[w++] = ev.users[i];
    }
    ev.nu = w;
}

/* The users who inherit the stores of user u (bitenant): their tracked keys in u's
 * tenant. */
static void invalidate_delegators(const rbac_model *m, uint64_t tenant, uint64_t u)
{
    char name[32];
    int n = snprintf(name, sizeof name, "rbac:%" PRIu64, tenant);
    tk_group *g = group_find(name, (size_t)n);
    tk_key *k = g ? g->head : NULL;
    while (k) {
        tk_key *next = k->gnext[TK_G_SCOPE];
        const char *colon = strrchr(k->h.name, ':');
        uint64_t who;
        if (colon && util_parse_u64(colon + 1, strlen(colon + 1), &who) && who != u &&
            rbac_user_delegates_to(m, who, u)) {
            bool last = g->n == 1;
            key_invalidate(k);
            if (last)
                break;
        }
        k = next;
    }
}

static void session_cb(void *ctx, const uint8_t *hash);

void tracking_batch_end(const rbac_model *m)
{
    if (!ev.open)
        return;
    ev.open = false;
    char name[TK_KEY_MAX];
    if (ev.all_tenants)
        rbac_each_tenant(m, 0, ev_tenant, NULL);
    ev.nt = util_sort_unique(ev.tenants, ev.nt, sizeof *ev.tenants, cmp_u64);
    users_unique();
    for (size_t i = 0; i < ev.nt; i++)
        tenant_invalidate(ev.tenants[i]);
    for (size_t i = 0; i < ev.ns; i++)
        invalidate_scope(ev.scopes[i], strlen(ev.scopes[i]));
    bool mp = server.conf.profile == CONF_PROFILE_MPBACKEND;
    for (size_t i = 0; i < ev.nu; i++) {
        uint64_t u = ev.users[i].user;
        int n = snprintf(name, sizeof name, TK_USER_GROUP "%" PRIu64, u);
        invalidate_group_keys(name, (size_t)n);
        if (mp) {
            ev_user_domains(m, u); /* after the change, too */
            n = snprintf(name, sizeof name, "rbac:" TK_DOMAINS_SCOPE ":%" PRIu64, u);
            bcast(name, (size_t)n);
        } else {
            n = snprintf(name, sizeof name, "rbac:%" PRIu64 ":%" PRIu64, ev.users[i].tenant, u);
            bcast(name, (size_t)n);
            if (ev.users[i].stores)
                invalidate_delegators(m, ev.users[i].tenant, u);
        }
    }
    /* A user's or a tenant's status decides whether its sessions are valid at all. */
    for (size_t i = 0; i < ev.nu; i++)
        if (ev.users[i].status)
            session_each_held(ev.users[i].tenant, ev.users[i].user, session_cb, NULL);
    for (size_t i = 0; i < ev.ntr; i++)
        session_each_held(ev.tenant_rows[i], 0, session_cb, NULL);
    ev.ntr = 0;
    /* BCAST names of mpbackend users' domains, before and after, once each. */
    if (ev.nn > 1)
        qsort(ev.names, ev.nn, sizeof *ev.names, cmp_str);
    for (size_t i = 0; i < ev.nn; i++)
        if (i == 0 || strcmp(ev.names[i], ev.names[i - 1]))
            bcast(ev.names[i], strlen(ev.names[i]));
    strs_free(ev.scopes, &ev.ns);
    strs_free(ev.names, &ev.nn);
    ev.nt = ev.nu = 0;
    ev.all_tenants = false;
    tk.origin = 0;
    if (ev.subs)
        rearm_boundary(m);
    ev.subs = false;
}

void tracking_session_gone(const uint8_t *hash)
{
    if (tk.stopped)
        return;
    char hex[SESSION_ID_HEX + 1], name[8 + SESSION_ID_HEX];
    session_hash_hex(hash, SESSION_ID_BYTES, hex);
    int n = snprintf(name, sizeof name, "sess:%s", hex);
    invalidate_key(name, (size_t)n);
}

static void session_cb(void *ctx, const uint8_t *hash)
{
    tracking_session_gone(hash);
}

/* ------------------------------------------------------- time as a change ---- */

static void boundary_fire(int64_t now_ms)
{
    const rbac_model *m = server.model;
    int64_t from = tk.boundary_done_ms;
    tk.boundary_done_ms = now_ms;
    size_t before = tk.messages;
    rbac_each_boundary_tenant(m, from, now_ms, tenant_cb, NULL);
    tk.boundaries += tk.messages - before;
    rearm_boundary(m);
}

static void on_boundary(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = util_now_ms();
    if (now < tk.boundary_next_ms) { /* the wall clock lags the timer: wait for it */
        rearm_boundary(server.model);
        return;
    }
    boundary_fire(now);
}

/* Arms the timer for the next subscription start or end after those already pushed. */
static void rearm_boundary(const rbac_model *m)
{
    tk.boundary_next_ms = m ? rbac_next_boundary(m, tk.boundary_done_ms) : INT64_MAX;
    if (!tk.boundary_ev)
        return;
    if (tk.boundary_next_ms == INT64_MAX) {
        evtimer_del(tk.boundary_ev);
        return;
    }
    int64_t delay = tk.boundary_next_ms - util_now_ms();
    if (delay < 0)
        delay = 0;
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(tk.boundary_ev, &tv);
}

void tracking_time_check(int64_t now_ms)
{
    if (now_ms >= tk.boundary_next_ms)
        boundary_fire(now_ms);
}

/* ----------------------------------------------------------------- module ---- */

static bool tracking_init(void)
{
    crypto_shorthash_keygen(tk.seed);
    tk.boundary_next_ms = INT64_MAX;
    tk.boundary_done_ms = util_now_ms();
    tk.boundary_ev = evtimer_new(server.base, on_boundary, NULL);
    if (!tk.boundary_ev) {
        log_warn("tracking: cannot create the subscription timer");
        return false;
    }
    rearm_boundary(server.model);
    return true;
}

static void tracking_shutdown(void)
{
    tk.stopped = true;
    tk.boundary_next_ms = INT64_MAX;
    while (tk.oldest)
        key_free(tk.oldest);
    while (tk.all) {
        tracking_client *tc = tk.all;
        prefixes_free(tc);
        tk.all = tc->next;
        tc->c->tracking = NULL;
        mem_free(tc);
    }
    table_free(&tk.keys);
    table_free(&tk.groups);
    mem_free(tk.gone);
    mem_free(tk.gone_next);
    tk.gone = tk.gone_next = NULL;
    tk.ngone = tk.nnext = tk.capgone = tk.capnext = 0;
    tk.sweep = NULL;
    mem_free(ev.tenants);
    mem_free(ev.users);
    mem_free(ev.scopes);
    mem_free(ev.names);
    mem_free(ev.tenant_rows);
    ev.tenant_rows = NULL;
    ev.ntr = ev.captr = 0;
    ev.tenants = NULL;
    ev.users = NULL;
    ev.scopes = ev.names = NULL;
    ev.capt = ev.capu = ev.caps = ev.capn = 0;
    if (tk.boundary_ev)
        event_free(tk.boundary_ev);
    tk.boundary_ev = NULL;
}

static void tracking_cron(int64_t now_ms)
{
    sweep_step(TK_SWEEP_PER_TICK);
}

static void tracking_model_loaded(void)
{
    if (tk.stopped)
        return;
    if (tk.had_model)
        invalidate_all(); /* a reload may have changed any answer */
    tk.had_model = true;
    tk.boundary_done_ms = util_now_ms();
    rearm_boundary(server.model);
}

void tracking_conf_changed(const rbacd_conf *c)
{
    if (tk.stopped)
        return;
    enforce_bound();
}

static void tracking_info(buf *out)
{
    size_t keys = tk.keys.n;
    buf_printf(out,
               "tracking_clients:%zu\r\ntracking_bcast_clients:%zu\r\n"
               "tracking_invalidate_subscribers:%zu\r\ntracking_total_keys:%zu\r\n"
               "tracking_total_items:%zu\r\ntracking_total_prefixes:%zu\r\n"
               "tracking_table_max_keys:%lld\r\ntracking_memory_bytes:%zu\r\n"
               "tracking_memory_per_key:%zu\r\ntracking_invalidation_messages:%" PRIu64
               "\r\ntracking_invalidated_keys:%" PRIu64 "\r\ntracking_evicted_keys:%" PRIu64
               "\r\ntracking_boundary_pushes:%" PRIu64 "\r\ntracking_next_boundary_ms:%lld\r\n"
               "tracking_clients_closed_unread:%" PRIu64 "\r\n"
               "tracking_sweep_pending_clients:%zu\r\n",
               tk.on_clients, tk.bcast_clients, tk.subscribers, keys, tk.items, tk.prefixes,
               server.conf.tracking_table_max_keys, tk.bytes, keys ? tk.bytes / keys : 0,
               tk.messages, tk.invalidated, tk.evicted, tk.boundaries,
               tk.boundary_next_ms == INT64_MAX ? -1LL : (long long)tk.boundary_next_ms,
               tk.closed_slow, tk.ngone + tk.nnext);
}

/* The same numbers as INFO tracking, as Prometheus families. */
static void tracking_metrics(buf *out)
{
    size_t keys = tk.keys.n;
    metrics_gauge(out, "rbacd_tracking_clients", "Connections with CLIENT TRACKING on.",
                  (double)tk.on_clients);
    metrics_gauge(out, "rbacd_tracking_keys", "Keys in the tracking table.", (double)keys);
    metrics_gauge(out, "rbacd_tracking_items", "Key and connection pairs in the tracking table.",
                  (double)tk.items);
    metrics_gauge(out, "rbacd_tracking_memory_bytes",
                  "Memory of the tracking table: keys, client ids, groups, hash buckets.",
                  (double)tk.bytes);
    metrics_gauge(out, "rbacd_tracking_memory_per_key_bytes",
                  "Memory of the tracking table divided by its keys (0 with none).",
                  keys ? (double)(tk.bytes / keys) : 0);
    metrics_counter(out, "rbacd_tracking_invalidation_messages_total",
                    "Invalidation pushes sent to tracking connections.", tk.messages);
    metrics_counter(out, "rbacd_tracking_invalidated_keys_total", "Tracked keys invalidated.",
                    tk.invalidated);
    metrics_counter(out, "rbacd_tracking_evicted_keys_total",
                    "Keys invalidated early for tracking-table-max-keys.", tk.evicted);
    metrics_counter(out, "rbacd_tracking_boundary_pushes_total",
                    "Pushes sent when a subscription started or ended.", tk.boundaries);
}

const module tracking_module = {
    .name = "tracking",
    .metrics = tracking_metrics,
    .init = tracking_init,
    .shutdown = tracking_shutdown,
    .cron = tracking_cron,
    .model_loaded = tracking_model_loaded,
    .info_section = "tracking",
    .info = tracking_info,
};
