/*
 * server.c — the one server struct, the event loop, listeners, signals, timers,
 * start-up and shutdown. Everything in `server` is owned by the event-loop thread (the
 * threading rule is written once, in worker.h).
 *
 * Start-up:  config (checked, TLS files loaded: main.c) -> log -> TLS context ->
 *            listeners -> general workers -> pidfile -> modules' init
 *            in module_list order (loader: first load on a worker; sessions; sync) ->
 *            serve. While the first load runs, data commands answer -LOADING and INFO
 *            shows loading:1; connection commands work.
 * Running:   every SERVER_CRON_MS: ops sample, modules' cron, idle client timeouts.
 * Shutdown:  SIGTERM/SIGINT/SHUTDOWN -> stop accepting -> flush replies, free clients
 *            -> modules' shutdown in reverse order -> stop the general workers -> free
 *            everything -> remove pidfile.
 */
#ifndef RBACD_SERVER_H
#define RBACD_SERVER_H

#include "conf.h"
#include "idmap.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct event;
struct evconnlistener;
struct client;
struct worker_pool;
struct rbac_model;
struct ssl_ctx_st;

#define SERVER_MAX_LISTENERS 33 /* port and tls-port on 16 bind addresses, a unix socket */
#define SERVER_OPS_SAMPLES   16 /* instantaneous_ops_per_sec averages this many cron samples */
#define SERVER_REPLID_LEN    40 /* hex digits of INFO replication's master_replid */

typedef struct slowlog_entry {
    uint64_t id;    /* increasing */
    int64_t time_s; /* unix time of the call */
    int64_t usec;   /* duration */
    char **argv;    /* owned copies, at most SLOWLOG_MAX_ARGS, secrets blanked */
    size_t argc;
    char addr[64]; /* client address */
    char name[64]; /* client name */
} slowlog_entry;

#define SERVER_ERRORSTATS_MAX   128 /* error prefixes INFO errorstats tracks (Redis's bound) */
#define SERVER_ERROR_PREFIX_MAX 32  /* bytes of one prefix, its '\0' included */

/* Error replies of one prefix (the reply's first word: ERR, NOPERM, ...). */
typedef struct server_errorstat {
    char prefix[SERVER_ERROR_PREFIX_MAX]; /* "ERR" */
    uint64_t count;                       /* replies with it */
} server_errorstat;

typedef struct server_stats {
    uint64_t connections;    /* accepted since start */
    uint64_t rejected_conns; /* refused (maxclients, protected mode) */
    uint64_t commands;       /* processed */
    uint64_t errors;         /* error replies */
    uint64_t net_in;         /* bytes read */
    uint64_t net_out;        /* bytes written */
    uint64_t auth_failures;  /* WRONGPASS replies */
    uint64_t http_refused;   /* connections closed for speaking HTTP (command.c) */
    server_errorstat errorstats[SERVER_ERRORSTATS_MAX]; /* errors by prefix (INFO errorstats);
                                                           past the bound, new prefixes are
                                                           counted in errors only */
    size_t nerrorstats;                                 /* entries in errorstats */
} server_stats;

typedef struct server {
    rbacd_conf conf;         /* current configuration (CONFIG SET edits it) */
    struct event_base *base; /* the loop */
    struct evconnlistener *listeners[SERVER_MAX_LISTENERS]; /* TCP, TLS and unix */
    int nlisteners;
    struct ssl_ctx_st *tls_ctx; /* what tls-port sessions are made of; NULL when it is 0 */
    struct event *ev_sigterm, *ev_sigint, *ev_sighup, *ev_cron;
    struct worker_pool *workers; /* general blocking jobs (worker.h lists every pool) */
    size_t modules_started;      /* module_list entries whose init ran (module.h) */
    struct client *clients;      /* doubly linked list of connected clients */
    idmap clients_by_id;         /* client id -> struct client* */
    size_t nclients;
    uint64_t next_client_id;
    bool loading; /* first load not finished: data commands refused */
    bool shutting_down;
    int64_t start_ms; /* wall clock at start */
    int64_t now_ms;   /* wall clock when the requests being run were read (command_batch_begin) */
    int64_t start_mono_us;
    int64_t last_load_ms;      /* duration of the last model load */
    int64_t last_load_at_ms;   /* wall clock when it finished */
    char last_load_error[256]; /* "" when the last load worked */
    struct rbac_model *model;  /* the live model, NULL until the first load */
    server_stats stats;
    slowlog_entry *slowlog; /* ring buffer of slowlog-max-len entries */
    size_t slowlog_len, slowlog_head;
    uint64_t slowlog_next_id;
    uint8_t requirepass_hash[32]; /* keyed BLAKE2b of requirepass, for constant-time AUTH */
    int pid_written;              /* we created the pidfile */
    uint64_t ops_samples[SERVER_OPS_SAMPLES]; /* commands per second, one per cron tick */
    size_t ops_sample_idx;                    /* next sample slot */
    uint64_t ops_last_commands;               /* stats.commands at the previous tick */
    int64_t ops_last_us;                      /* monotonic time of the previous tick */
    char replid[SERVER_REPLID_LEN + 1];       /* INFO master_replid, random, made on first use */
    struct client **monitors;                 /* clients in MONITOR mode (monitor.c) */
    size_t nmonitors;                         /* entries in monitors: 0 = nobody is watching */
} server_t;

extern server_t server;

/* Runs the whole server with the loaded configuration; returns the exit status. */
int server_main(void);
/* Starts an orderly shutdown from the loop thread (SHUTDOWN, signals). */
void server_shutdown(void);
/* Commands per second over the last SERVER_OPS_SAMPLES cron ticks. */
uint64_t server_ops_per_sec(void);
/* Makes room for maxclients connections plus the server's own descriptors (raises the
 * open file limit), or lowers maxclients to what the process may open, with a warning
 * in the log. At start and after CONFIG SET maxclients. */
void server_fit_maxclients(void);
/* Empties the slowlog (CONFIG SET slowlog-max-len: the ring is sized anew). */
void server_slowlog_reset(void);
/* Records a call in the slowlog; words from shown on are kept as "(redacted)"
 * (command_shown_words()). A NULL client empties the slowlog. */
void server_slowlog_record(const struct client *c, size_t argc, const void *argv, int64_t usec,
                           size_t shown);

#endif
