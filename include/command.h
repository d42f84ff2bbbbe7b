/*
 * command.c — the command table and the one place where a request is checked before
 * it runs: lookup (and subcommand lookup), arity, authentication, ACL category, the
 * profile, the LOADING gate. Handlers can therefore assume argc is within their row's
 * bounds, the caller allowed, and the command part of the running profile.
 *
 * A command is a row (COMMAND_ROW): name, the least and most words it takes (name and
 * subcommand included; -1 = no upper bound), flags, ACL category, the profiles it
 * exists in, handler, one-line summary, argument synopsis, and for a container
 * (CLIENT, CONFIG, SESSION, ...) a table of subcommand rows, each with its own bounds,
 * category and profiles. A container's own handler, if any, runs when no subcommand
 * word is given (bare COMMAND). Every container ends its table with COMMAND_HELP_ROW:
 * CLIENT HELP and the others are generated from the rows. Modules export their tables
 * (cmd_server.c, cmd_rbac.c, ...) and command.c lists them; adding a command is adding
 * a row.
 *
 * Commands that wait (a worker job, a reload, a session batch, a revision) block their
 * client through client_run_job() or client_wait()/client_resume() (client.h), which
 * find the client again by id when the answer is there: it may have gone meanwhile.
 */
#ifndef RBACD_COMMAND_H
#define RBACD_COMMAND_H

#include "conf.h"
#include "resp.h"
#include "worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct worker_pool;

/* Every handler: argv[0] is the command name (argv[1] the subcommand for container
 * commands); replies go to c->out with the resp_* encoders. */
typedef void command_proc(struct client *c, size_t argc, const resp_arg *argv);

enum command_flags {
    CMD_NOAUTH = 1 << 0,  /* may run before AUTH (AUTH, HELLO, QUIT, RESET) */
    CMD_LOADING = 1 << 1, /* may run before the first load has finished */
    CMD_NOSCRIPT = 1 << 2,
    CMD_FAST = 1 << 3,  /* O(1)/O(log n): shown in COMMAND INFO flags */
    CMD_WRITE = 1 << 4, /* writes through to the database */
    CMD_SECRET =
        1 << 5, /* arguments never shown (SLOWLOG, MONITOR, the debug log): passwords, tokens */
    /* Client tracking (tracking.h): the keys a read registers for a tracking client. */
    CMD_TRACK_USER = 1 << 6,         /* argv[1] tenant or domain, argv[2] user: rbac:<t>:<u> */
    CMD_TRACK_DOMAINS = 1 << 7,      /* argv[1] user: rbac:*:<u> */
    CMD_TRACK_SESSION = 1 << 8,      /* argv[2] token: sess:<id> */
    CMD_TRACK_SESSION_USER = 1 << 9, /* ... and the session's user (mpbackend: domain argv[3]) */
};
#define CMD_TRACK_ANY (CMD_TRACK_USER | CMD_TRACK_DOMAINS | CMD_TRACK_SESSION)

enum acl_category {
    ACL_CAT_CONNECTION = 0, /* any authenticated client (PING, HELLO, CLIENT, INFO...) */
    ACL_CAT_CHECK = 1,      /* permission reads: role check or admin */
    ACL_CAT_SESSION = 2,    /* session commands: role check or admin */
    ACL_CAT_ADMIN = 3,      /* changes and server control: role admin only */
};

/* The profiles a row exists in: one bit per enum conf_profile. A command of the other
 * profile answers "-ERR <NAME> needs profile <profile>". */
#define PROF_BITENANT  (1u << CONF_PROFILE_BITENANT)
#define PROF_MPBACKEND (1u << CONF_PROFILE_MPBACKEND)
#define PROF_ALL       (PROF_BITENANT | PROF_MPBACKEND)

#define COMMAND_HIST_BUCKETS   40 /* latency buckets: bucket b holds calls of < 2^b microseconds */
#define COMMAND_SECONDS_BOUNDS 22 /* Prometheus latency buckets: command_seconds_bounds_us */

typedef struct command_stats {
    uint64_t calls;                                    /* runs that reached the handler */
    uint64_t hist[COMMAND_HIST_BUCKETS];               /* latency histogram (INFO latencystats) */
    uint64_t seconds_hist[COMMAND_SECONDS_BOUNDS + 1]; /* calls by command_seconds_bounds_us
                                                          bucket, the last above them all
                                                          (GET /metrics) */
    uint64_t usec;                                     /* total handler time */
    uint64_t rejected_calls; /* refused before the handler (arity, auth, ACL, loading) */
    uint64_t failed_calls;   /* handler replied with an error */
} command_stats;

typedef struct command {
    const char *name;             /* lower-case, as COMMAND reports it */
    int min_words;                /* least words, name (and subcommand) included */
    int max_words;                /* most words, the same way; -1 = no upper bound */
    unsigned flags;               /* enum command_flags */
    int category;                 /* enum acl_category */
    unsigned profiles;            /* PROF_* bits: the profiles the command exists in */
    command_proc *proc;           /* container: runs when no subcommand word is given */
    const char *summary;          /* COMMAND DOCS, HELP */
    const char *args;             /* argument synopsis for COMMAND DOCS and HELP */
    struct command *subcommands;  /* COMMAND_END-terminated table, or NULL */
    command_stats stats;          /* INFO commandstats */
    const struct command *parent; /* set by command_init for subcommands */
    char fullname[48];            /* "session|login", set by command_init */
} command;

/* One row of a command table; every table and subcommand table is written with it. */
#define COMMAND_ROW(name_, min_, max_, flags_, cat_, prof_, proc_, summary_, args_, subs_)         \
    {                                                                                              \
        .name = (name_), .min_words = (min_), .max_words = (max_), .flags = (flags_),              \
        .category = (cat_), .profiles = (prof_), .proc = (proc_), .summary = (summary_),           \
        .args = (args_), .subcommands = (subs_),                                                   \
    }
/* The HELP row that ends every subcommand table: its text is generated from the rows
 * (command_help). It exists wherever its container does. */
#define COMMAND_HELP_ROW                                                                           \
    COMMAND_ROW("help", 2, 2, CMD_LOADING, ACL_CAT_CONNECTION, PROF_ALL, command_help,             \
                "Returns helpful text about the different subcommands.", "", NULL)
/* The row that ends every table. */
#define COMMAND_END                                                                                \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* Builds the lookup tables. Called once at start. */
void command_init(void);
void command_free(void);
/* Finds a top-level command by name, case-insensitively (NULL if unknown). */
command *command_lookup(const char *name, size_t len);
/* Finds a subcommand of a container by name, case-insensitively (NULL if unknown or if
 * parent has no subcommands). */
command *command_lookup_sub(const command *parent, const char *name, size_t len);
/* Starts a batch of requests read together: reads the clocks once (server.now_ms, which
 * the data commands use as "now", and the start of the first command's latency). */
void command_batch_begin(void);
/* Runs the request in c->req: checks, dispatch, stats, slowlog. A command's latency is
 * measured from the end of the one before it in the batch (one clock read each). */
void command_process(struct client *c);
/* How many leading words of a request for run may be shown wherever requests are
 * reported (SLOWLOG, MONITOR, the debug log's command trace): every word, or for a
 * CMD_SECRET row only its name (and subcommand). The others are shown as "(redacted)",
 * the word Redis shows for a redacted argument. */
size_t command_shown_words(const command *run, size_t argc);
/* Whether a row exists in the running profile (COMMAND and INFO list only those). */
bool command_in_profile(const command *cmd);
/* Iterates every top-level command of the running profile (COMMAND, COMMAND
 * COUNT/LIST/INFO/DOCS, INFO commandstats). */
size_t command_count(void);
command *command_at(size_t i);
/* The Redis-style arity COMMAND INFO reports: N when the command takes exactly N words,
 * -N when it takes at least N. */
int command_arity(const command *cmd);

/* The HELP handler of every container (COMMAND_HELP_ROW): an array of simple strings,
 * a header line, then a "NAME <arg> ..." line and an indented summary per subcommand
 * (and "(no subcommand)" for a container with a handler of its own), HELP last. */
void command_help(struct client *c, size_t argc, const resp_arg *argv);

/* The upper bounds, in microseconds, of the latency buckets GET /metrics shows for each
 * command (rbacd_command_duration_seconds): the 1-2.5-5 steps Prometheus' client
 * libraries use, from 1 us (a CANMENU) to 10 s. A call of d us is counted in the first
 * bucket whose bound is >= d, as Prometheus' le ("less or equal") means. */
extern const double command_seconds_bounds_us[COMMAND_SECONDS_BOUNDS];
/* The bucket of command_stats.seconds_hist a call of usec microseconds falls in. */
size_t command_seconds_bucket(int64_t usec);

/* Estimated latency percentile (0 < p < 100) of a command in microseconds, from its
 * histogram (the upper bound of the bucket holding it); 0 with no calls. */
double command_percentile(const command_stats *st, double p);

/* Reply helpers shared by handlers. */
void command_reply_syntax(struct client *c);                    /* -ERR syntax error */
void command_reply_bad_id(struct client *c, const resp_arg *a); /* -ERR invalid id '...' */
/* A domain (admin, developer:<id>, application:<app_id>) into its canonical form in out
 * (RBAC_DOMAIN_MAX + 1 bytes); replies -ERR invalid domain '...' itself on failure. */
bool command_parse_domain(struct client *c, const resp_arg *a, char *out)
    __attribute__((warn_unused_result));
bool command_parse_id(struct client *c, const resp_arg *a, uint64_t *out)
    __attribute__((warn_unused_result)); /* replies the error itself on failure */

/* The command tables exported by the command modules, terminated by COMMAND_END. */
extern command cmd_server_table[];
extern command cmd_tracking_table[]; /* SUBSCRIBE, UNSUBSCRIBE (tracking.c) */

#endif
