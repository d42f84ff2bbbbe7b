/*
 * MariaDB connections. Every connection rbacd opens goes through db_connect(), so
 * every one has the same session: UTC time zone (DATETIME columns are UTC by
 * contract), utf8mb4, autocommit on, bounded connect/read/write timeouts (a dead
 * database must make a job fail, not hang a worker forever), and with db-tls the same
 * TLS: required (a server without TLS is refused, never used in clear), and with
 * db-tls-verify the server's certificate checked against db-tls-ca (or the system's
 * CAs) and the host name rbacd connects to. A refused certificate fails the connect
 * like an unreachable server: the worker backs off and the job reports it.
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

void db_params_from_conf(db_params *p, const rbacd_conf *c)
{
    memset(p, 0, sizeof *p);
    copy_str(p->host, sizeof p->host, c->db_host);
    p->port = (unsigned)c->db_port;
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

MYSQL *db_connect(const db_params *p, char *err, size_t errlen)
{
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
    const char *host = sock ? "localhost" : p->host;
    if (!mysql_real_connect(m, host, p->user, p->password, p->name, sock ? 0 : p->port, sock,
                            CLIENT_MULTI_RESULTS)) {
        snprintf(err, errlen, "cannot connect to MariaDB at %s: %s", sock ? sock : p->host,
                 mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    if (p->tls)
        log_verbose("connected to MariaDB at %s with %s", sock ? sock : p->host,
                    mysql_get_ssl_cipher(m) ? mysql_get_ssl_cipher(m) : "TLS");
    return m;
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
    unsigned e = mysql_errno(m);
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_SERVER_LOST_EXTENDED ||
           e == CR_COMMANDS_OUT_OF_SYNC || e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
           e == CR_SSL_CONNECTION_ERROR;
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
