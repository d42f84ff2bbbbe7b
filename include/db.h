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

typedef struct db_params {
    char host[256];
    unsigned port;
    char socket[256]; /* "" = TCP */
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

/* Opens a connection with the session time zone set to UTC and utf8mb4. Returns NULL
 * with a message in err on failure. The caller owns the handle (mysql_close). */
MYSQL *db_connect(const db_params *p, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Runs one statement that returns no rows. false + err on failure. */
bool db_exec(MYSQL *m, const char *sql, char *err, size_t errlen)
    __attribute__((warn_unused_result));
bool db_execf(MYSQL *m, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 4, 5)));

/* Whether the last error on m means the connection is gone (reconnect) rather than the
 * statement being refused. */
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
