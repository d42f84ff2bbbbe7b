/*
 * db.c — MariaDB connections: how to open one (UTC session, utf8mb4, timeouts), run a
 * statement, quote a value, and tell a lost connection from a refused statement.
 * Used only on worker threads (see worker.h); a MYSQL handle belongs to one thread.
 */
#ifndef RBACD_DB_H
#define RBACD_DB_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rbacd_conf;

#define DB_NODES_MAX   16  /* hosts in one db-host list */
#define DB_HOST_MAXLEN 255 /* one host name or address */
#define DB_SYNC_WAIT_ON                                                                            \
    "1" /* wsrep_sync_wait on a Galera node: reads see the cluster's commits                       \
         */

/* One database server of the db-host list. */
typedef struct db_node {
    char host[DB_HOST_MAXLEN + 1]; /* name or address, without brackets */
    unsigned port;                 /* TCP port (db-port unless the list said) */
} db_node;

typedef struct db_params {
    db_node nodes[DB_NODES_MAX]; /* db-host: the first that answers is used, in this order */
    size_t nnodes;               /* at least 1 */
    char socket[256];            /* "" = TCP */
    char user[128];
    char password[256];
    char name[128];
    unsigned connect_timeout; /* seconds */
    unsigned rw_timeout;      /* seconds */
    bool tls;                 /* TLS required (db-tls) */
    bool tls_verify;          /* the server certificate is checked: chain and host name */
    char tls_ca[4096];        /* CA file for that check, "" = the system's CAs */
    const char *init_vars;    /* more "@name = value" set on every connect, or NULL */
} db_params;

void db_params_from_conf(db_params *p, const struct rbacd_conf *c);

/* Parses a db-host value: "host[:port],..." (an IPv6 address with a port in brackets,
 * "[::1]:3306"; spaces around the commas are allowed). A host without a port gets
 * default_port. Fills out[0..*n) (at most DB_NODES_MAX). Returns false with a message in
 * err (which element, what is wrong) on an empty element, a port outside 1..65535, a host
 * longer than DB_HOST_MAXLEN or with control characters, or too many hosts; out is then
 * unspecified. */
bool db_hosts_parse(const char *list, unsigned default_port, db_node *out, size_t *n, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* What db_connect() found about the server it reached. */
typedef struct db_conn_info {
    size_t node; /* index in p->nodes (0 with a unix socket) */
    bool galera; /* wsrep is on: reads were told to wait for the cluster (wsrep_sync_wait) */
} db_conn_info;

/* Opens a connection with the session time zone set to UTC and utf8mb4, trying the nodes
 * of p in list order from node `first` and wrapping around; on a Galera node the session
 * also gets wsrep_sync_wait so that reads see what the cluster committed. Fills *info.
 * Returns NULL with a message in err (the last node's error) when no node answers. The
 * caller owns the handle (mysql_close). */
MYSQL *db_connect(const db_params *p, size_t first, db_conn_info *info, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Opens a connection to node i of p only (no walk); as db_connect otherwise. */
MYSQL *db_connect_node(const db_params *p, size_t i, db_conn_info *info, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* "host:port" of node i (or the socket path) into out. */
void db_node_name(const db_params *p, size_t i, char *out, size_t outlen);

/* Runs one statement that returns no rows. false + err on failure. */
bool db_exec(MYSQL *m, const char *sql, char *err, size_t errlen)
    __attribute__((warn_unused_result));
bool db_execf(MYSQL *m, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 4, 5)));

/* Whether the last error on m means the connection is gone (reconnect) rather than the
 * statement being refused. A Galera node that is not ready (1047) counts as gone. */
bool db_error_is_connection(MYSQL *m);

/* Appends 'value' quoted and escaped for m's character set to out (a buf). */
struct buf;
void db_quote(MYSQL *m, struct buf *out, const char *value, size_t len);

/* Parses a DATETIME(3) text ("2026-11-22 06:41:10.123", UTC) into unix ms; false if
 * malformed. NULL (s == NULL) is false. */
bool db_parse_datetime_ms(const char *s, int64_t *out_ms) __attribute__((warn_unused_result));
/* Formats unix ms as 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) into out (at least 24 bytes). */
void db_format_datetime_ms(int64_t ms, char *out, size_t outlen);

#endif
