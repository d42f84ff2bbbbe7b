/*
 * conf.c — configuration as data. Every key is one row of a table (name, type, where
 * it lives in struct rbacd_conf, default, bounds, whether CONFIG SET may change it at
 * run time, whether CONFIG GET masks it). The file, the command-line overrides and
 * CONFIG SET all go through the same row parser, so a key behaves the same everywhere.
 *
 * Errors are written to err as one line naming where and which key:
 *   "conf/rbacd.conf:12: port: 'abc' is not an integer between 0 and 65535"
 *   "command line: --port: 'abc' is not an integer between 0 and 65535"
 *   "conf/rbacd.conf:3: frobnicate: unknown configuration key"
 *
 * The database password has three sources. db-password VALUE and db-password-file PATH
 * are one setting written two ways: whichever is given last (file lines in order, then
 * command-line overrides) wins. The environment variable RBACD_DB_PASSWORD is used only
 * when neither key is given anywhere; the built-in default comes last.
 */
#ifndef RBACD_CONF_H
#define RBACD_CONF_H

#include <stdbool.h>
#include <stddef.h>

enum conf_role {
    CONF_ROLE_CHECK = 0, /* reads and sessions, except SESSION CREATE */
    CONF_ROLE_ADMIN = 1, /* everything */
};

/* tls-auth-clients, as Redis names the values. */
enum conf_tls_auth {
    CONF_TLS_AUTH_NO = 0,       /* no client certificate asked for */
    CONF_TLS_AUTH_YES = 1,      /* a client certificate signed by tls-ca-cert-file is required */
    CONF_TLS_AUTH_OPTIONAL = 2, /* asked for; checked when sent, not required */
};

enum conf_profile {
    CONF_PROFILE_BITENANT = 0,
    CONF_PROFILE_MPBACKEND = 1,
};

typedef struct conf_user {
    char *name; /* ACL user name */
    int role;   /* enum conf_role */
    char *hash; /* "$argon2id$..." from rbacd --hash-password */
} conf_user;

typedef struct rbacd_conf {
    /* network */
    char *bind;               /* space-separated addresses to listen on, default "127.0.0.1" */
    long long port;           /* TCP port, 0 = no TCP listener; default 6380 */
    char *unixsocket;         /* unix socket path, "" = none */
    long long unixsocketperm; /* octal permissions of the socket file, default 0700 */
    long long maxclients;     /* default 10000 (runtime) */
    long long timeout;        /* idle client timeout in seconds, 0 = never (runtime) */
    long long tcp_keepalive;  /* seconds, default 300 */
    bool protected_mode;      /* default yes (runtime) */
    /* TLS for clients (tls.h) */
    long long tls_port;     /* TLS port beside port, 0 = none; default 0 */
    char *tls_cert_file;    /* server certificate chain, PEM */
    char *tls_key_file;     /* its private key, PEM */
    char *tls_ca_cert_file; /* CAs client certificates must chain to, PEM */
    int tls_auth_clients;   /* enum conf_tls_auth, default yes */
    char *tls_protocols;    /* "TLSv1.2 TLSv1.3" (default): the versions allowed */
    char *tls_ciphers;      /* TLSv1.2 cipher list, "" = OpenSSL's default */
    char *tls_ciphersuites; /* TLSv1.3 cipher suites, "" = OpenSSL's default */
    /* access control */
    conf_user *users; /* `user NAME ROLE HASH` lines, in file order */
    size_t nusers;
    char
        *requirepass; /* password of the "default" user (role admin); "" = none (runtime, secret) */
    /* database */
    char *db_host;                /* default "127.0.0.1" */
    long long db_port;            /* default 3306 */
    char *db_socket;              /* "" = TCP */
    char *db_user;                /* default "rbacd" */
    char *db_password;            /* secret: db-password, db-password-file or RBACD_DB_PASSWORD */
    char *db_password_file;       /* file db_password was read from, "" = none */
    char *db_name;                /* default "rbacd" */
    long long db_connect_timeout; /* seconds, default 3 */
    long long db_timeout;         /* read/write timeout in seconds, default 10 */
    long long db_retries;         /* write retries after 1213, default 3 (runtime) */
    bool db_tls;                  /* TLS to MariaDB, required (never plain); default no */
    char *db_tls_ca;              /* CAs the server certificate must chain to, "" = the system's */
    bool db_tls_verify;           /* check the server certificate: chain and name; default yes */
    /* engine, sync, sessions */
    int profile;                     /* enum conf_profile, default bitenant */
    long long sync_interval_ms;      /* default 100 (runtime) */
    long long sync_cluster_grace_ms; /* Galera hole grace, default 2000 (runtime) */
    long long change_retention;      /* seconds to keep rbac_change rows, default 86400 (runtime) */
    long long session_ttl;           /* seconds, default 7200 (runtime) */
    long long session_max_per_user;  /* default 20 (runtime) */
    long long login_max_failures;    /* failed LOGINs of one (tenant, username) before a
                                        lockout, default 5, 0 = no limit (runtime) */
    long long login_max_failures_per_ip; /* failed LOGINs from one IP before a lockout,
                                            default 20, 0 = no limit (runtime) */
    long long login_failure_window;      /* seconds within which those failures lock out,
                                            default 300 (runtime) */
    long long login_lockout;             /* seconds a lockout lasts, default 900 (runtime) */
    long long worker_threads;            /* default 4 */
    /* housekeeping */
    long long log_retention_months;  /* log partitions kept, months; 0 = for ever (runtime) */
    long long log_partitions_ahead;  /* log partitions made ahead, months; default 3 (runtime) */
    long long housekeeping_interval; /* seconds between partition passes, default 3600 (runtime) */
    long long purge_batch;           /* rows one purge DELETE removes at most, default 1000
                                        (runtime) */
    /* observability */
    long long http_port;               /* /metrics /healthz /readyz, 0 = off (default) */
    char *http_bind;                   /* address of the HTTP listener, default "127.0.0.1" */
    long long readyz_db_grace_ms;      /* /readyz 503 after the database is down this long,
                                          default 5000 (runtime) */
    int loglevel;                      /* enum log_level, default notice (runtime) */
    char *logfile;                     /* "" = stderr */
    char *pidfile;                     /* "" = none */
    long long slowlog_log_slower_than; /* microseconds, default 10000, -1 = off (runtime) */
    long long slowlog_max_len;         /* default 128 (runtime) */
    /* limits */
    long long client_output_limit;     /* bytes of pending replies before we stop reading a client
                                          (runtime) */
    long long proto_max_bulk_len;      /* longest argument, default 1mb */
    long long tracking_table_max_keys; /* client tracking keys, 0 = no bound, default 1000000
                                          (runtime) */
    /* bookkeeping */
    char *config_file;           /* absolute path of the loaded file, NULL if none */
    unsigned long long given;    /* bit i: key i of the table set by the file or command line */
    unsigned long long from_env; /* bit i: key i set from its environment variable */
    char **warnings;             /* what is worth a warning at start but is no error */
    size_t nwarnings;
} rbacd_conf;

/* Fills every key with its default. The caller owns c and frees it with conf_free(). */
void conf_init(rbacd_conf *c);
void conf_free(rbacd_conf *c);

/* Reads a Redis-style file: `key value...` per line, '#' comments, values may be
 * "double quoted" with \" \\ \n escapes or 'single quoted'. Returns false with a message
 * in err on the first bad line (unknown key, bad value, unterminated quote); c then holds
 * the lines before it. A missing file is an error. */
bool conf_load_file(rbacd_conf *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies `--key value...` overrides (every value until the next "--" argument belongs
 * to the key). Same errors as the file, with "command line" as the place. */
bool conf_load_args(rbacd_conf *c, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* After the file and the command line: a key with an environment variable (db-password:
 * RBACD_DB_PASSWORD) that neither of them gave, nor a file key feeding it
 * (db-password-file), takes the variable's value when it is set and not empty. Same
 * errors as the file, with "environment: VARIABLE: " as the place; the value is never
 * quoted back. */
bool conf_load_env(rbacd_conf *c, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Where the value of key name came from, for the start-up log, into buf: "db-password-file
 * /run/secrets/db", "environment variable RBACD_DB_PASSWORD", "db-password" (the file or
 * command line) or "built-in default". Never the value itself. Returns buf. */
const char *conf_source(const rbacd_conf *c, const char *name, char *buf, size_t len);

/* CONFIG SET one key: only keys marked runtime; err says "Unknown option", "not
 * changeable at run time" or why the value is bad. */
bool conf_set_runtime(rbacd_conf *c, const char *name, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* After conf_set_runtime(c, name, ...) succeeded on the live configuration (never on a
 * scratch copy): runs the key's apply hook, if it has one, so the running server
 * follows the new value (log level, requirepass digest, slowlog ring). Loop thread
 * only. An unknown or non-runtime name does nothing. */
void conf_apply_runtime(const rbacd_conf *c, const char *name);

/* CONFIG GET: calls emit(name, value) for every key whose name matches the glob pattern
 * (case-insensitive), in table order. Secrets come out as "" when unset, else "********".
 * Also answers the read-only Redis keys clients ask for ("save" -> "",
 * "appendonly" -> "no", "databases" -> "1"). Each key is emitted once. */
void conf_get(const rbacd_conf *c, const char *pattern, size_t plen,
              void (*emit)(void *ctx, const char *name, const char *value), void *ctx);

/* Name of a role ("check"/"admin"), a log level ("notice"...), a profile. */
const char *conf_role_name(int role);
const char *conf_loglevel_name(int level);
const char *conf_profile_name(int profile);

#endif
