/*
 * command.c — the command table and the one place where a request is checked before
 * it runs: lookup (and subcommand lookup), arity, authentication, ACL category, the
 * LOADING gate. Handlers can therefore assume argc is valid and the caller allowed.
 *
 * A command is a row: name, arity (Redis convention: N = exactly N words including the
 * name, -N = at least N), flags, ACL category, handler, one-line summary. Commands with
 * subcommands (CLIENT, CONFIG, SESSION, ...) carry a table of their own rows, each with
 * its own arity and category. Modules export their rows (cmd_server.c, cmd_rbac.c, ...)
 * and command.c lists the tables; adding a command is adding a row.
 */
#ifndef RBACD_COMMAND_H
#define RBACD_COMMAND_H

#include "resp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

/* Every handler: argv[0] is the command name (argv[1] the subcommand for container
 * commands); replies go to c->out with the resp_* encoders. */
typedef void command_proc(struct client *c, size_t argc, const resp_arg *argv);

enum command_flags {
    CMD_NOAUTH = 1 << 0,  /* may run before AUTH (AUTH, HELLO, PING? no: QUIT, RESET) */
    CMD_LOADING = 1 << 1, /* may run before the first load has finished */
    CMD_NOSCRIPT = 1 << 2,
    CMD_FAST = 1 << 3,   /* O(1)/O(log n): shown in COMMAND INFO flags */
    CMD_WRITE = 1 << 4,  /* writes through to the database */
    CMD_SECRET = 1 << 5, /* arguments never shown (SLOWLOG, MONITOR-like output) */
};

enum acl_category {
    ACL_CAT_CONNECTION = 0, /* any authenticated client (PING, HELLO, CLIENT, INFO...) */
    ACL_CAT_CHECK = 1,      /* permission reads: role check or admin */
    ACL_CAT_SESSION = 2,    /* session commands: role check or admin */
    ACL_CAT_ADMIN = 3,      /* changes and server control: role admin only */
};

#define COMMAND_HIST_BUCKETS 40 /* latency buckets: bucket b holds calls of < 2^b microseconds */

typedef struct command_stats {
    uint64_t calls;                      /* runs that reached the handler */
    uint64_t hist[COMMAND_HIST_BUCKETS]; /* latency histogram (INFO latencystats) */
    uint64_t usec;                       /* total handler time */
    uint64_t rejected_calls; /* refused before the handler (arity, auth, ACL, loading) */
    uint64_t failed_calls;   /* handler replied with an error */
} command_stats;

typedef struct command {
    const char *name;             /* lower-case, as COMMAND reports it */
    int arity;                    /* Redis convention, name (and subcommand) included */
    unsigned flags;               /* enum command_flags */
    int category;                 /* enum acl_category */
    command_proc *proc;           /* NULL for a container whose subcommands run */
    const char *summary;          /* COMMAND DOCS */
    const char *args;             /* argument synopsis for COMMAND DOCS / help */
    struct command *subcommands;  /* NULL-name-terminated table, or NULL */
    command_stats stats;          /* INFO commandstats */
    const struct command *parent; /* set by command_init for subcommands */
    char fullname[48];            /* "session|login", set by command_init */
} command;

/* Builds the lookup tables. Called once at start. */
void command_init(void);
void command_free(void);
/* Finds a command by name, case-insensitively (NULL if unknown). */
command *command_lookup(const char *name, size_t len);
/* Runs the request in c->req: checks, dispatch, stats, slowlog. */
void command_process(struct client *c);
/* Iterates every top-level command (COMMAND, COMMAND COUNT/LIST/INFO/DOCS). */
size_t command_count(void);
command *command_at(size_t i);

/* Estimated latency percentile (0 < p < 100) of a command in microseconds, from its
 * histogram (the upper bound of the bucket holding it); 0 with no calls. */
double command_percentile(const command_stats *st, double p);

/* Reply helpers shared by handlers. */
void command_reply_syntax(struct client *c);                    /* -ERR syntax error */
void command_reply_bad_id(struct client *c, const resp_arg *a); /* -ERR invalid id '...' */
bool command_parse_id(struct client *c, const resp_arg *a, uint64_t *out)
    __attribute__((warn_unused_result)); /* replies the error itself on failure */

/* The command tables exported by the command modules, terminated by a row with a NULL
 * name. */
extern command cmd_server_table[];

#endif
