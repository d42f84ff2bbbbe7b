/*
 * MariaDB connections. Every connection rbacd opens goes through db_connect(), so
 * every one has the same session: UTC time zone (DATETIME columns are UTC by
 * contract), utf8mb4, autocommit on, bounded connect/read/write timeouts (a dead
 * database must make a job fail, not hang a worker forever), and with db-tls the same
 * TLS: required (a server without TLS is refused, never used in clear), and with
 * db-tls-verify the server's certificate checked against db-tls-ca (or the system's
 * CAs) and the host name rbacd connects to. A refused certificate fails the connect
 * like an unreachable server: the worker backs off and the job reports it.
 *
 * db-host may list several servers (a Galera cluster, SPEC section 6). A connect walks
 * the list from the node asked for (the workers ask for the first, the preferred node)
 * and keeps the first that answers. On a Galera node (wsrep_on = 1) the session also
 * gets wsrep_sync_wait, so that every read waits until this node has applied what the
 * whole cluster committed before it: a change log poll, a load or a session read then
 * sees every write that got its reply on any node.
 */
#include "db.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mem.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DB_LOCK_WAIT_S "2" /* seconds a statement waits for a row lock */

static void copy_str(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

/* One element of a db-host list, s[0..len), spaces trimmed already. */
static bool parse_node(const char *s, size_t len, unsigned default_port, db_node *out, char *err,
                       size_t errlen)
{
    const char *host = s, *port = NULL;
    size_t hlen = len;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            snprintf(err, errlen, "'%.*s': no ']' after an IPv6 address", (int)len, s);
            return false;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest > 0 && close[1] != ':') {
            snprintf(err, errlen, "'%.*s': only ':port' may follow ']'", (int)len, s);
            return false;
        }
        port = rest > 0 ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        /* One colon is host:port; more is a bare IPv6 address. */
        if (colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0 || hlen > DB_HOST_MAXLEN) {
        snprintf(err, errlen, "'%.*s': the host must be 1 to %d bytes", (int)len, s,
                 DB_HOST_MAXLEN);
        return false;
    }
    for (size_t i = 0; i < hlen; i++) {
        if ((unsigned char)host[i] <= ' ' || host[i] == 0x7f || host[i] == ',') {
            snprintf(err, errlen, "'%.*s': spaces or control characters in the host", (int)len, s);
            return false;
        }
    }
    out->port = default_port;
    if (port) {
        size_t plen = len - (size_t)(port - s);
        unsigned v = 0;
        bool ok = plen > 0 && plen <= 5;
        for (size_t i = 0; ok && i < plen; i++) {
            ok = port[i] >= '0' && port[i] <= '9';
            v = v * 10 + (unsigned)(port[i] - '0');
        }
        if (!ok || v < 1 || v > 65535) {
            snprintf(err, errlen, "'%.*s': the port must be a number from 1 to 65535", (int)len, s);
            return false;
        }
        out->port = v;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    return true;
}

bool db_hosts_parse(const char *list, unsigned default_port, db_node *out, size_t *n, char *err,
                    size_t errlen)
{
    *n = 0;
    const char *p = list;
    for (size_t k = 1;; k++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            snprintf(err, errlen, "host %zu of the list is empty", k);
            return false;
        }
        if (*n == DB_NODES_MAX) {
            snprintf(err, errlen, "more than %d hosts", DB_NODES_MAX);
            return false;
        }
        if (!parse_node(p, len, default_port, &out[*n], err, errlen))
            return false;
        (*n)++;
        if (!end)
            return true;
        p = end + 1;
    }
}

void db_params_from_conf(db_params *p, const rbacd_conf *c)
{
    memset(p, 0, sizeof *p);
    char err[128];
    if (!db_hosts_parse(c->db_host, (unsigned)c->db_port, p->nodes, &p->nnodes, err, sizeof err) ||
        p->nnodes == 0) {
        /* conf.c refused such a value already; keep the text as one host name. */
        copy_str(p->nodes[0].host, sizeof p->nodes[0].host, c->db_host);
        p->nodes[0].port = (unsigned)c->db_port;
        p->nnodes = 1;
    }
    copy_str(p->socket, sizeof p->socket, c->db_socket);
    copy_str(p->user, sizeof p->user, c->db_user);
    copy_str(p->password, sizeof p->password, c->db_password);
    copy_str(p->name, sizeof p->name, c->db_name);
    p->connect_timeout = (unsigned)c->db_connect_timeout;
    p->rw_timeout = (unsigned)c->db_timeout;
    p->tls = c->db_tls;
    p->tls_verify = c->db_tls_verify;
    copy_str(p->tls_ca, sizeof p->tls_ca, c->db_tls_ca);
}

/* Connector/C's TLS options for p. Without db-tls-verify the CA is not handed over
 * either: Connector/C would check the chain against it (though not the name). */
static void db_set_tls(MYSQL *m, const db_params *p)
{
    my_bool on = 1, verify = p->tls_verify;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (p->tls_verify && p->tls_ca[0])
        mysql_optionsv(m, MYSQL_OPT_SSL_CA, p->tls_ca);
}

void db_node_name(const db_params *p, size_t i, char *out, size_t outlen)
{
    if (p->socket[0])
        snprintf(out, outlen, "%s", p->socket);
    else if (i < p->nnodes && strchr(p->nodes[i].host, ':'))
        snprintf(out, outlen, "[%s]:%u", p->nodes[i].host, p->nodes[i].port);
    else if (i < p->nnodes)
        snprintf(out, outlen, "%s:%u", p->nodes[i].host, p->nodes[i].port);
    else
        snprintf(out, outlen, "?");
}

/* Whether m's server is a Galera node; if so, its reads are told to wait for the
 * cluster. A server without the wsrep variables is a single server. A Galera node that
 * is not ready (joining, or cut off from the primary component) refuses the query
 * (1047): err is set, and the caller moves on to the next node. */
static bool galera_session(MYSQL *m, char *err, size_t errlen)
{
    if (mysql_query(m, "SELECT @@wsrep_on") != 0) {
        if (mysql_errno(m) != ER_UNKNOWN_SYSTEM_VARIABLE)
            snprintf(err, errlen, "%s", mysql_error(m));
        return false;
    }
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    bool on = row && row[0] && strcmp(row[0], "1") == 0;
    if (r)
        mysql_free_result(r);
    if (on && mysql_query(m, "SET SESSION wsrep_sync_wait = " DB_SYNC_WAIT_ON) != 0)
        snprintf(err, errlen, "%s", mysql_error(m));
    return on;
}

MYSQL *db_connect_node(const db_params *p, size_t i, db_conn_info *info, char *err, size_t errlen)
{
    /* Messages name the host as db-host has it; a list names the node with its port. */
    char where[DB_HOST_MAXLEN + 16];
    if (p->nnodes > 1 || p->socket[0])
        db_node_name(p, i, where, sizeof where);
    else
        snprintf(where, sizeof where, "%s", p->nnodes ? p->nodes[0].host : "?");
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(err, errlen, "mysql_init failed");
        return NULL;
    }
    unsigned ct = p->connect_timeout ? p->connect_timeout : 3;
    unsigned rw = p->rw_timeout ? p->rw_timeout : 10;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* UTC by contract; a row lock held elsewhere fails a statement after a bounded wait
     * instead of stalling the serial lanes (writes, sync, sessions) behind it. */
    char init[256];
    snprintf(init, sizeof init,
             "SET time_zone = '+00:00', SESSION innodb_lock_wait_timeout = " DB_LOCK_WAIT_S "%s%s",
             p->init_vars ? ", " : "", p->init_vars ? p->init_vars : "");
    mysql_options(m, MYSQL_INIT_COMMAND, init);
    if (p->tls)
        db_set_tls(m, p);
    const char *sock = p->socket[0] ? p->socket : NULL;
    const char *host = sock ? "localhost" : (i < p->nnodes ? p->nodes[i].host : "");
    unsigned port = sock || i >= p->nnodes ? 0 : p->nodes[i].port;
    if (!mysql_real_connect(m, host, p->user, p->password, p->name, port, sock,
                            CLIENT_MULTI_RESULTS)) {
        snprintf(err, errlen, "cannot connect to MariaDB at %s: %s", where, mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    char gerr[128] = "";
    info->node = sock ? 0 : i;
    info->galera = galera_session(m, gerr, sizeof gerr);
    if (gerr[0]) {
        snprintf(err, errlen, "MariaDB at %s: %s", where, gerr);
        mysql_close(m);
        return NULL;
    }
    if (p->tls)
        log_verbose("connected to MariaDB at %s with %s", where,
                    mysql_get_ssl_cipher(m) ? mysql_get_ssl_cipher(m) : "TLS");
    return m;
}

MYSQL *db_connect(const db_params *p, size_t first, db_conn_info *info, char *err, size_t errlen)
{
    size_t n = p->socket[0] || p->nnodes == 0 ? 1 : p->nnodes;
    for (size_t k = 0; k < n; k++) {
        MYSQL *m = db_connect_node(p, (first + k) % n, info, err, errlen);
        if (m)
            return m;
    }
    return NULL;
}

bool db_exec(MYSQL *m, const char *sql, char *err, size_t errlen)
{
    if (mysql_real_query(m, sql, strlen(sql)) != 0) {
        snprintf(err, errlen, "%s", mysql_error(m));
        return false;
    }
    /* Drain any result so the connection is ready for the next statement. */
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
    return true;
}

bool db_execf(MYSQL *m, char *err, size_t errlen, const char *fmt, ...)
{
    buf sql;
    buf_init(&sql);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&sql, fmt, ap);
    va_end(ap);
    bool ok = db_exec(m, sql.data ? sql.data : "", err, errlen);
    buf_free(&sql);
    return ok;
}

bool db_error_is_connection(MYSQL *m)
{
    /* 1047 (ER_UNKNOWN_COM_ERROR) is what a Galera node answers once it has lost the
     * primary component or is not synced yet: as good as gone, another node may answer. */
    unsigned e = mysql_errno(m);
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_SERVER_LOST_EXTENDED ||
           e == CR_COMMANDS_OUT_OF_SYNC || e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
           e == CR_SSL_CONNECTION_ERROR || e == ER_UNKNOWN_COM_ERROR;
}

void db_quote(MYSQL *m, buf *out, const char *value, size_t len)
{
    buf_reserve(out, len * 2 + 3);
    out->data[out->len++] = '\'';
    unsigned long n = mysql_real_escape_string(m, out->data + out->len, value, (unsigned long)len);
    out->len += n;
    out->data[out->len++] = '\'';
    out->data[out->len] = '\0';
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool db_parse_datetime_ms(const char *s, int64_t *out_ms)
{
    if (!s)
        return false;
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int ms = 0;
    const char *p = s + n;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out_ms = ((days * 86400) + h * 3600 + mi * 60 + sec) * 1000 + ms;
    return true;
}

void db_format_datetime_ms(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
