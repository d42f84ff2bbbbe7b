/*
 * conf_test — the configuration table end to end: defaults, every key type read from a
 * file, quoting, the exact text of every error (place, key, message), command-line
 * overrides, CONFIG SET refusals, the apply hooks CONFIG SET runs on the live
 * configuration, CONFIG GET patterns and masking, and the shipped conf/rbacd.conf. Files are
 * written to temporary paths and removed at once.
 */
#include "auth.h"
#include "client.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "server.h"
#include "testing.h"

#include <stdatomic.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_A  "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE"
#define HASH_B  "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI"
#define ERR_MAX 512

/* ---- helpers --------------------------------------------------------------------------- */

/* Writes text to a new temporary file; its path goes to path (at least 64 bytes). */
static bool write_temp(const char *text, char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/rbacd_conf_test_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* Loads text as a config file into c (already initialised); path receives the file name
 * used, err the error. The file is gone afterwards. */
static bool load_text_into(rbacd_conf *c, const char *text, char *path, char *err)
{
    err[0] = '\0';
    if (!write_temp(text, path, 64)) {
        snprintf(err, ERR_MAX, "cannot write a temporary file: %s", strerror(errno));
        return false;
    }
    bool ok = conf_load_file(c, path, err, ERR_MAX);
    unlink(path);
    return ok;
}

/* Asserts that text fails on line `line` with "KEY: message" = tail. */
#define CHECK_FILE_ERR(text, line, tail)                                                           \
    do {                                                                                           \
        rbacd_conf c_;                                                                             \
        char path_[64], got_[ERR_MAX], want_[ERR_MAX];                                             \
        conf_init(&c_);                                                                            \
        CHECK(!load_text_into(&c_, (text), path_, got_));                                          \
        snprintf(want_, sizeof want_, "%s:%d: %s", path_, (line), (tail));                         \
        CHECK_EQ_STR(got_, want_);                                                                 \
        conf_free(&c_);                                                                            \
    } while (0)

/* Asserts that the command line argv... fails with exactly want. */
#define CHECK_ARGS_ERR(want, ...)                                                                  \
    do {                                                                                           \
        rbacd_conf c_;                                                                             \
        char *argv_[] = {__VA_ARGS__};                                                             \
        char got_[ERR_MAX] = "";                                                                   \
        conf_init(&c_);                                                                            \
        CHECK(!conf_load_args(&c_, (int)(sizeof argv_ / sizeof argv_[0]), argv_, got_,             \
                              sizeof got_));                                                       \
        CHECK_EQ_STR(got_, (want));                                                                \
        conf_free(&c_);                                                                            \
    } while (0)

/* Asserts that CONFIG SET name value fails with exactly want. */
#define CHECK_SET_ERR(c, name, value, want)                                                        \
    do {                                                                                           \
        char got_[ERR_MAX] = "";                                                                   \
        CHECK(!conf_set_runtime((c), (name), (value), got_, sizeof got_));                         \
        CHECK_EQ_STR(got_, (want));                                                                \
    } while (0)

#define GET_MAX 64

/* What conf_get emitted, in order. */
typedef struct got_keys {
    int n;
    char name[GET_MAX][64];
    char value[GET_MAX][256];
} got_keys;

static void collect(void *ctx, const char *name, const char *value)
{
    got_keys *g = ctx;
    if (g->n >= GET_MAX)
        return;
    snprintf(g->name[g->n], sizeof g->name[0], "%s", name);
    snprintf(g->value[g->n], sizeof g->value[0], "%s", value);
    g->n++;
}

static void get(const rbacd_conf *c, const char *pattern, got_keys *g)
{
    memset(g, 0, sizeof *g);
    conf_get(c, pattern, strlen(pattern), collect, g);
}

/* The value CONFIG GET shows for one exact key, "(none)" if it emits nothing. */
static const char *get1(const rbacd_conf *c, const char *name)
{
    static got_keys g;
    get(c, name, &g);
    return g.n == 1 ? g.value[0] : "(none)";
}

/* Path of a file of the source tree, found from where this file lives. */
static void source_path(const char *rel, char *out, size_t len)
{
    const char *self = __FILE__, *tail = strstr(self, "tests/unit/conf_test.c");
    int n = tail ? (int)(tail - self) : 0;
    snprintf(out, len, "%.*s%s", n, self, rel);
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* ---- defaults ---------------------------------------------------------------------------- */

static void test_defaults(void)
{
    rbacd_conf c;
    memset(&c, 0xab, sizeof c); /* conf_init must not read what was there */
    conf_init(&c);
    CHECK_EQ_STR(c.bind, "127.0.0.1");
    CHECK_EQ_INT(c.port, 6380);
    CHECK_EQ_STR(c.unixsocket, "");
    CHECK_EQ_INT(c.unixsocketperm, 0700);
    CHECK_EQ_INT(c.maxclients, 10000);
    CHECK_EQ_INT(c.timeout, 0);
    CHECK_EQ_INT(c.tcp_keepalive, 300);
    CHECK(c.protected_mode);
    CHECK_EQ_INT(c.tls_port, 0);
    CHECK_EQ_STR(c.tls_cert_file, "");
    CHECK_EQ_STR(c.tls_key_file, "");
    CHECK_EQ_STR(c.tls_ca_cert_file, "");
    CHECK_EQ_INT(c.tls_auth_clients, CONF_TLS_AUTH_YES); /* as in Redis */
    CHECK_EQ_STR(c.tls_protocols, "TLSv1.2 TLSv1.3");
    CHECK_EQ_STR(c.tls_ciphers, "");
    CHECK_EQ_STR(c.tls_ciphersuites, "");
    CHECK(c.users == NULL);
    CHECK_EQ_INT(c.nusers, 0);
    CHECK_EQ_STR(c.requirepass, "");
    CHECK_EQ_STR(c.db_host, "127.0.0.1");
    CHECK_EQ_INT(c.db_port, 3306);
    CHECK_EQ_STR(c.db_socket, "");
    CHECK_EQ_STR(c.db_user, "rbacd");
    CHECK_EQ_STR(c.db_password, "rbacd");
    CHECK_EQ_STR(c.db_name, "rbacd");
    CHECK_EQ_INT(c.db_connect_timeout, 3);
    CHECK_EQ_INT(c.db_timeout, 10);
    CHECK(!c.db_tls);
    CHECK_EQ_STR(c.db_tls_ca, "");
    CHECK(c.db_tls_verify); /* checked once TLS is on, unless said otherwise */
    CHECK_EQ_INT(c.profile, CONF_PROFILE_BITENANT);
    CHECK_EQ_INT(c.sync_interval_ms, 100);
    CHECK_EQ_INT(c.change_retention, 86400);
    CHECK_EQ_INT(c.session_ttl, 7200);
    CHECK_EQ_INT(c.session_max_per_user, 20);
    CHECK_EQ_INT(c.login_max_failures, 5);
    CHECK_EQ_INT(c.login_max_failures_per_ip, 20);
    CHECK_EQ_INT(c.login_failure_window, 300);
    CHECK_EQ_INT(c.login_lockout, 900);
    CHECK_EQ_INT(c.worker_threads, 4);
    CHECK_EQ_INT(c.http_port, 0);
    CHECK_EQ_STR(c.http_bind, "127.0.0.1");
    CHECK_EQ_INT(c.loglevel, LOG_LVL_NOTICE);
    CHECK_EQ_STR(c.logfile, "");
    CHECK_EQ_STR(c.pidfile, "");
    CHECK_EQ_INT(c.slowlog_log_slower_than, 10000);
    CHECK_EQ_INT(c.slowlog_max_len, 128);
    CHECK_EQ_INT(c.client_output_limit, 64LL * 1024 * 1024);
    CHECK_EQ_INT(c.proto_max_bulk_len, 1024 * 1024);
    CHECK(c.config_file == NULL);
    conf_free(&c);
    CHECK(c.bind == NULL);
    conf_free(&c); /* a freed conf is zeroed, so freeing again is harmless */
}

static void test_names(void)
{
    CHECK_EQ_STR(conf_role_name(CONF_ROLE_CHECK), "check");
    CHECK_EQ_STR(conf_role_name(CONF_ROLE_ADMIN), "admin");
    CHECK_EQ_STR(conf_role_name(7), "unknown");
    CHECK_EQ_STR(conf_loglevel_name(LOG_LVL_DEBUG), "debug");
    CHECK_EQ_STR(conf_loglevel_name(LOG_LVL_VERBOSE), "verbose");
    CHECK_EQ_STR(conf_loglevel_name(LOG_LVL_NOTICE), "notice");
    CHECK_EQ_STR(conf_loglevel_name(LOG_LVL_WARNING), "warning");
    CHECK_EQ_STR(conf_loglevel_name(-1), "unknown");
    CHECK_EQ_STR(conf_profile_name(CONF_PROFILE_BITENANT), "bitenant");
    CHECK_EQ_STR(conf_profile_name(CONF_PROFILE_MPBACKEND), "mpbackend");
    CHECK_EQ_STR(conf_profile_name(2), "unknown");
}

/* ---- reading files ------------------------------------------------------------------------- */

static void test_file_every_type(void)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "bind 10.0.0.1 ::1 localhost\n"
                               "port 7000\n"
                               "unixsocket /run/rbacd/rbacd.sock\n"
                               "unixsocketperm 755\n"
                               "maxclients 5\n"
                               "timeout 30\n"
                               "tcp-keepalive 0\n"
                               "protected-mode no\n"
                               "user alice admin " HASH_A "\n"
                               "user bob.b-1_x check " HASH_B "\n"
                               "requirepass s3cret\n"
                               "db-host db.example\n"
                               "db-port 3307\n"
                               "db-socket /run/mysqld/mysqld.sock\n"
                               "db-user u\n"
                               "db-password p\n"
                               "db-name n\n"
                               "db-connect-timeout 5\n"
                               "db-timeout 20\n"
                               "profile mpbackend\n"
                               "sync-interval-ms 250\n"
                               "change-retention 3600\n"
                               "session-ttl 60\n"
                               "session-max-per-user 3\n"
                               "worker-threads 8\n"
                               "http-port 9121\n"
                               "http-bind 0.0.0.0\n"
                               "loglevel warning\n"
                               "logfile /var/log/rbacd.log\n"
                               "pidfile /run/rbacd.pid\n"
                               "slowlog-log-slower-than -1\n"
                               "slowlog-max-len 10\n"
                               "client-output-limit 2mb\n"
                               "proto-max-bulk-len 512kb\n";
    rbacd_conf c;
    char path[64], err[ERR_MAX];
    conf_init(&c);
    bool ok = load_text_into(&c, text, path, err);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    CHECK_EQ_STR(c.bind, "10.0.0.1 ::1 localhost");
    CHECK_EQ_INT(c.port, 7000);
    CHECK_EQ_STR(c.unixsocket, "/run/rbacd/rbacd.sock");
    CHECK_EQ_INT(c.unixsocketperm, 0755);
    CHECK_EQ_INT(c.maxclients, 5);
    CHECK_EQ_INT(c.timeout, 30);
    CHECK_EQ_INT(c.tcp_keepalive, 0);
    CHECK(!c.protected_mode);
    CHECK_EQ_INT(c.nusers, 2);
    if (c.nusers == 2) {
        CHECK_EQ_STR(c.users[0].name, "alice");
        CHECK_EQ_INT(c.users[0].role, CONF_ROLE_ADMIN);
        CHECK_EQ_STR(c.users[0].hash, HASH_A);
        CHECK_EQ_STR(c.users[1].name, "bob.b-1_x");
        CHECK_EQ_INT(c.users[1].role, CONF_ROLE_CHECK);
        CHECK_EQ_STR(c.users[1].hash, HASH_B);
    }
    CHECK_EQ_STR(c.requirepass, "s3cret");
    CHECK_EQ_STR(c.db_host, "db.example");
    CHECK_EQ_INT(c.db_port, 3307);
    CHECK_EQ_STR(c.db_socket, "/run/mysqld/mysqld.sock");
    CHECK_EQ_STR(c.db_user, "u");
    CHECK_EQ_STR(c.db_password, "p");
    CHECK_EQ_STR(c.db_name, "n");
    CHECK_EQ_INT(c.db_connect_timeout, 5);
    CHECK_EQ_INT(c.db_timeout, 20);
    CHECK_EQ_INT(c.profile, CONF_PROFILE_MPBACKEND);
    CHECK_EQ_INT(c.sync_interval_ms, 250);
    CHECK_EQ_INT(c.change_retention, 3600);
    CHECK_EQ_INT(c.session_ttl, 60);
    CHECK_EQ_INT(c.session_max_per_user, 3);
    CHECK_EQ_INT(c.worker_threads, 8);
    CHECK_EQ_INT(c.http_port, 9121);
    CHECK_EQ_STR(c.http_bind, "0.0.0.0");
    CHECK_EQ_INT(c.loglevel, LOG_LVL_WARNING);
    CHECK_EQ_STR(c.logfile, "/var/log/rbacd.log");
    CHECK_EQ_STR(c.pidfile, "/run/rbacd.pid");
    CHECK_EQ_INT(c.slowlog_log_slower_than, -1);
    CHECK_EQ_INT(c.slowlog_max_len, 10);
    CHECK_EQ_INT(c.client_output_limit, 2 * 1024 * 1024);
    CHECK_EQ_INT(c.proto_max_bulk_len, 512 * 1024);
    /* config_file is the absolute path of what was loaded. */
    CHECK(c.config_file != NULL && c.config_file[0] == '/');
    CHECK(c.config_file != NULL && strstr(c.config_file, "rbacd_conf_test_") != NULL);
    conf_free(&c);
}

static void test_file_config_file_is_realpath(void)
{
    rbacd_conf c;
    char path[64], err[ERR_MAX], dotted[128], want[PATH_MAX];
    conf_init(&c);
    CHECK(write_temp("port 1\n", path, sizeof path));
    CHECK(realpath(path, want) != NULL);
    /* Name the same file through "dir/./name": what is stored is the canonical path. */
    const char *slash = strrchr(path, '/');
    snprintf(dotted, sizeof dotted, "%.*s/./%s", (int)(slash - path), path, slash + 1);
    CHECK(conf_load_file(&c, dotted, err, sizeof err));
    CHECK_EQ_STR(c.config_file, want);
    /* Loading a second time replaces the path without leaking the first. */
    CHECK(conf_load_file(&c, dotted, err, sizeof err));
    CHECK_EQ_STR(c.config_file, want);
    unlink(path);
    conf_free(&c);
}

static void test_file_keys_case_and_overrides(void)
{
    static const char text[] = "PORT 7001\n"
                               "Port 7002\n"
                               "LogLevel DEBUG\n"
                               "protected-mode YES\n"
                               "profile MPBackend\n"
                               "user alice ADMIN " HASH_A "\n"
                               "   # an indented comment\n"
                               "\t\n"
                               "user bob check " HASH_B "\r\n" /* CRLF line ending */
                               "bind 10.0.0.1\n"
                               "bind 10.0.0.2 10.0.0.3\n";
    rbacd_conf c;
    char path[64], err[ERR_MAX];
    conf_init(&c);
    CHECK(load_text_into(&c, text, path, err));
    CHECK_EQ_INT(c.port, 7002); /* the later line wins */
    CHECK_EQ_INT(c.loglevel, LOG_LVL_DEBUG);
    CHECK(c.protected_mode);
    CHECK_EQ_INT(c.profile, CONF_PROFILE_MPBACKEND);
    CHECK_EQ_INT(c.nusers, 2); /* user lines accumulate */
    if (c.nusers == 2) {
        CHECK_EQ_INT(c.users[0].role, CONF_ROLE_ADMIN);
        CHECK_EQ_STR(c.users[1].hash, HASH_B);
    }
    CHECK_EQ_STR(c.bind, "10.0.0.2 10.0.0.3");
    conf_free(&c);
}

static void test_file_quoting(void)
{
    rbacd_conf c;
    char path[64], err[ERR_MAX];
    conf_init(&c);
    CHECK(load_text_into(&c,
                         "requirepass \"a b\\\"c\\\\d\\te\\nf\\x41\\x7A\\r\"\n"
                         "db-user 'single \\' quote \\n raw'\n"
                         "db-name \"\"\n"
                         "logfile ''\n"
                         "pidfile /tmp/x#y\n"
                         "db-host \"#not-a-comment\"\n"
                         "db-password #starts-with-hash\n"
                         "unixsocket  \t\"/tmp/with space.sock\"   \n",
                         path, err));
    CHECK_EQ_STR(c.requirepass, "a b\"c\\d\te\nfAz\r");
    CHECK_EQ_STR(c.db_user, "single ' quote \\n raw");
    CHECK_EQ_STR(c.db_name, "");
    CHECK_EQ_STR(c.logfile, "");
    CHECK_EQ_STR(c.pidfile, "/tmp/x#y");
    CHECK_EQ_STR(c.db_host, "#not-a-comment");
    CHECK_EQ_STR(c.db_password, "#starts-with-hash");
    CHECK_EQ_STR(c.unixsocket, "/tmp/with space.sock");
    conf_free(&c);
}

static void test_file_byte_units(void)
{
    static const struct {
        const char *text;
        long long want;
    } cases[] = {
        {"proto-max-bulk-len 2000\n", 2000},
        {"proto-max-bulk-len 100k\n", 100000},
        {"proto-max-bulk-len 100kb\n", 100 * 1024},
        {"proto-max-bulk-len 3m\n", 3000000},
        {"proto-max-bulk-len 3MB\n", 3 * 1024 * 1024},
        {"client-output-limit 2g\n", 2000000000LL},
        {"client-output-limit 2Gb\n", 2LL * 1024 * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rbacd_conf c;
        char path[64], err[ERR_MAX];
        conf_init(&c);
        CHECK(load_text_into(&c, cases[i].text, path, err));
        long long got =
            strstr(cases[i].text, "proto") ? c.proto_max_bulk_len : c.client_output_limit;
        CHECK_EQ_INT(got, cases[i].want);
        conf_free(&c);
    }
}

/* ---- file errors: exact text ----------------------------------------------------------------- */

static void test_file_errors_values(void)
{
    CHECK_FILE_ERR("port abc\n", 1, "port: 'abc' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("port 65536\n", 1, "port: '65536' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("port -1\n", 1, "port: '-1' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("port 1.5\n", 1, "port: '1.5' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("maxclients 0\n", 1, "maxclients: '0' is not an integer between 1 and 100000");
    CHECK_FILE_ERR("worker-threads 65\n", 1,
                   "worker-threads: '65' is not an integer between 1 and 64");
    CHECK_FILE_ERR("session-ttl 0\n", 1,
                   "session-ttl: '0' is not an integer between 1 and 31536000");
    CHECK_FILE_ERR("login-max-failures -1\n", 1,
                   "login-max-failures: '-1' is not an integer between 0 and 10000");
    CHECK_FILE_ERR("login-failure-window 0\n", 1,
                   "login-failure-window: '0' is not an integer between 1 and 86400");
    CHECK_FILE_ERR("login-lockout 0\n", 1,
                   "login-lockout: '0' is not an integer between 1 and 31536000");
    /* The login limits: negative, not a number, past the bound; the line is named. */
    CHECK_FILE_ERR("login-max-failures five\n", 1,
                   "login-max-failures: 'five' is not an integer between 0 and 10000");
    CHECK_FILE_ERR("login-max-failures 10001\n", 1,
                   "login-max-failures: '10001' is not an integer between 0 and 10000");
    CHECK_FILE_ERR("port 6390\nlogin-max-failures-per-ip -3\n", 2,
                   "login-max-failures-per-ip: '-3' is not an integer between 0 and 10000");
    CHECK_FILE_ERR("login-max-failures-per-ip 2.5\n", 1,
                   "login-max-failures-per-ip: '2.5' is not an integer between 0 and 10000");
    CHECK_FILE_ERR("login-failure-window -300\n", 1,
                   "login-failure-window: '-300' is not an integer between 1 and 86400");
    CHECK_FILE_ERR("login-failure-window 5m\n", 1,
                   "login-failure-window: '5m' is not an integer between 1 and 86400");
    CHECK_FILE_ERR("login-failure-window 86401\n", 1,
                   "login-failure-window: '86401' is not an integer between 1 and 86400");
    CHECK_FILE_ERR("\n# lockout\nlogin-lockout -900\n", 3,
                   "login-lockout: '-900' is not an integer between 1 and 31536000");
    CHECK_FILE_ERR("login-lockout \"\"\n", 1,
                   "login-lockout: '' is not an integer between 1 and 31536000");
    CHECK_FILE_ERR("sync-interval-ms 9\n", 1,
                   "sync-interval-ms: '9' is not an integer between 10 and 60000");
    CHECK_FILE_ERR("slowlog-log-slower-than -2\n", 1,
                   "slowlog-log-slower-than: '-2' is not an integer between -1 and 3600000000");
    CHECK_FILE_ERR("db-retries 101\n", 1, "db-retries: '101' is not an integer between 0 and 100");
    CHECK_FILE_ERR("db-host a,,b\n", 1, "db-host: host 2 of the list is empty");
    CHECK_FILE_ERR("db-host a,\n", 1, "db-host: host 2 of the list is empty");
    CHECK_FILE_ERR("db-host a:0\n", 1, "db-host: 'a:0': the port must be a number from 1 to 65535");
    CHECK_FILE_ERR("db-host a:65536,b\n", 1,
                   "db-host: 'a:65536': the port must be a number from 1 to 65535");
    CHECK_FILE_ERR("db-host a:x1\n", 1,
                   "db-host: 'a:x1': the port must be a number from 1 to 65535");
    CHECK_FILE_ERR("db-host b,:3306\n", 1, "db-host: ':3306': the host must be 1 to 255 bytes");
    CHECK_FILE_ERR("db-host [::1\n", 1, "db-host: '[::1': no ']' after an IPv6 address");
    CHECK_FILE_ERR("db-host [::1]x\n", 1, "db-host: '[::1]x': only ':port' may follow ']'");
    CHECK_FILE_ERR("db-host 'a b'\n", 1,
                   "db-host: 'a b': spaces or control characters in the host");
    CHECK_FILE_ERR("db-host a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n", 1, "db-host: more than 16 hosts");
    CHECK_FILE_ERR("protected-mode maybe\n", 1, "protected-mode: 'maybe' is not yes or no");
    CHECK_FILE_ERR("protected-mode 1\n", 1, "protected-mode: '1' is not yes or no");
    CHECK_FILE_ERR("loglevel x\n", 1,
                   "loglevel: 'x' is not one of debug, verbose, notice, warning");
    CHECK_FILE_ERR("profile erp\n", 1, "profile: 'erp' is not one of bitenant, mpbackend");
    CHECK_FILE_ERR("tls-auth-clients maybe\n", 1,
                   "tls-auth-clients: 'maybe' is not one of no, yes, optional");
    CHECK_FILE_ERR("tls-protocols \"TLSv1.2 SSLv3\"\n", 1,
                   "tls-protocols: 'TLSv1.2 SSLv3' is not a list of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3");
    CHECK_FILE_ERR("tls-protocols \"\"\n", 1,
                   "tls-protocols: '' is not a list of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3");
    CHECK_FILE_ERR("tls-port 70000\n", 1,
                   "tls-port: '70000' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("unixsocketperm 999\n", 1,
                   "unixsocketperm: '999' is not an octal mode between 0 and 777");
    CHECK_FILE_ERR("unixsocketperm 1777\n", 1,
                   "unixsocketperm: '1777' is not an octal mode between 0 and 777");
    CHECK_FILE_ERR("client-output-limit 12q\n", 1,
                   "client-output-limit: '12q' is not a byte size between 64kb and 16gb");
    CHECK_FILE_ERR("client-output-limit 1kb\n", 1,
                   "client-output-limit: '1kb' is not a byte size between 64kb and 16gb");
    CHECK_FILE_ERR("client-output-limit -1mb\n", 1,
                   "client-output-limit: '-1mb' is not a byte size between 64kb and 16gb");
    CHECK_FILE_ERR("proto-max-bulk-len 99999999999999999999gb\n", 1,
                   "proto-max-bulk-len: '99999999999999999999gb' is not a byte size between "
                   "1kb and 512mb");
    CHECK_FILE_ERR("proto-max-bulk-len 1tb\n", 1,
                   "proto-max-bulk-len: '1tb' is not a byte size between 1kb and 512mb");
    CHECK_FILE_ERR("unixsocket "
                   "/0123456789012345678901234567890123456789012345678901234567890123456789"
                   "0123456789012345678901234567890123456789\n",
                   1, "unixsocket: value is longer than 107 bytes");
    /* A bad value is quoted back on one line, cut short when long. */
    CHECK_FILE_ERR("port \"1\\n2\"\n", 1, "port: '1?2' is not an integer between 0 and 65535");
    CHECK_FILE_ERR("port 0123456789012345678901234567890123456789012345678901234567890123456789\n",
                   1,
                   "port: '0123456789012345678901234567890123456789012345678901234567890123...' "
                   "is not an integer between 0 and 65535");
}

static void test_file_errors_arity_and_keys(void)
{
    CHECK_FILE_ERR("frobnicate 1\n", 1, "frobnicate: unknown configuration key");
    CHECK_FILE_ERR("include other.conf\n", 1, "include: unknown configuration key");
    CHECK_FILE_ERR("\"a\\tb\" 1\n", 1, "a?b: unknown configuration key");
    CHECK_FILE_ERR("port 1 2\n", 1, "port: wrong number of arguments (expected 1, got 2)");
    CHECK_FILE_ERR("port\n", 1, "port: wrong number of arguments (expected 1, got 0)");
    /* Comments are whole lines: a '#' after a value is more values. */
    CHECK_FILE_ERR("port 6380 # the port\n", 1,
                   "port: wrong number of arguments (expected 1, got 4)");
    CHECK_FILE_ERR("user alice admin\n", 1, "user: wrong number of arguments (expected 3, got 2)");
    CHECK_FILE_ERR("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", 1,
                   "bind: wrong number of arguments (expected 1 to 16, got 17)");
    CHECK_FILE_ERR("bind\n", 1, "bind: wrong number of arguments (expected 1 to 16, got 0)");
    CHECK_FILE_ERR("bind 127.0.0.1 \"a b\"\n", 1, "bind: 'a b' is not an address");
    CHECK_FILE_ERR("bind \"\"\n", 1, "bind: '' is not an address");
    /* The line number counts comments and blank lines; the key is shown as written. */
    CHECK_FILE_ERR("# c\n\nport 1\n  PORT x\n", 4,
                   "PORT: 'x' is not an integer between 0 and 65535");
}

static void test_file_errors_users(void)
{
    CHECK_FILE_ERR("user \"bad name\" admin " HASH_A "\n", 1,
                   "user: 'bad name' is not a user name (1 to 63 of A-Z a-z 0-9 _ . -)");
    CHECK_FILE_ERR("user \"\" admin " HASH_A "\n", 1,
                   "user: '' is not a user name (1 to 63 of A-Z a-z 0-9 _ . -)");
    CHECK_FILE_ERR("user "
                   "a123456789012345678901234567890123456789012345678901234567890123"
                   " admin " HASH_A "\n",
                   1,
                   "user: 'a123456789012345678901234567890123456789012345678901234567890123'"
                   " is not a user name (1 to 63 of A-Z a-z 0-9 _ . -)");
    CHECK_FILE_ERR("user default admin " HASH_A "\n", 1,
                   "user: 'default' is reserved: set its password with requirepass");
    CHECK_FILE_ERR("user alice admin " HASH_A "\nuser alice check " HASH_B "\n", 2,
                   "user: user 'alice' is already defined");
    CHECK_FILE_ERR("user alice root " HASH_A "\n", 1, "user: 'root' is not one of check, admin");
    CHECK_FILE_ERR("user alice admin plaintext\n", 1,
                   "user: the password hash must be a $argon2id$... hash from rbacd "
                   "--hash-password");
    CHECK_FILE_ERR("user alice admin $2b$10$abcdefghijklmnopqrstuv\n", 1,
                   "user: the password hash must be a $argon2id$... hash from rbacd "
                   "--hash-password");
}

static void test_file_errors_quoting(void)
{
    CHECK_FILE_ERR("requirepass \"abc\n", 1, "requirepass: unterminated quoted string");
    CHECK_FILE_ERR("requirepass 'abc\n", 1, "requirepass: unterminated quoted string");
    CHECK_FILE_ERR("requirepass \"abc\\\n", 1, "requirepass: unterminated quoted string");
    CHECK_FILE_ERR("requirepass \"abc\"def\n", 1,
                   "requirepass: closing quote must be followed by a space");
    CHECK_FILE_ERR("requirepass 'it''s'\n", 1,
                   "requirepass: closing quote must be followed by a space");
    CHECK_FILE_ERR("requirepass \"a\\qb\"\n", 1,
                   "requirepass: unknown escape \\q in quoted string");
    CHECK_FILE_ERR("requirepass \"a\\x4\"\n", 1,
                   "requirepass: \\x must be followed by two hex digits");
    CHECK_FILE_ERR("requirepass \"a\\x00b\"\n", 1, "requirepass: \\x00 is not allowed in a value");
    /* When the key itself is the bad word, the message shows what the line starts with. */
    CHECK_FILE_ERR("\"port 1\n", 1, "\"port: unterminated quoted string");
}

static void test_file_errors_io(void)
{
    rbacd_conf c;
    char err[ERR_MAX], want[ERR_MAX];
    conf_init(&c);
    CHECK(!conf_load_file(&c, "/nonexistent/rbacd.conf", err, sizeof err));
    CHECK_EQ_STR(err, "/nonexistent/rbacd.conf: cannot open: No such file or directory");
    CHECK(c.config_file == NULL);
    CHECK(!conf_load_file(&c, "/", err, sizeof err));
    CHECK_EQ_STR(err, "/: cannot read: Is a directory");
    /* A NUL byte inside a line is refused rather than cutting the line short. */
    char path[64];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/rbacd_conf_test_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "port 1\nport 2\0junk\n", 19) == 19);
        close(fd);
        CHECK(!conf_load_file(&c, path, err, sizeof err));
        snprintf(want, sizeof want, "%s:2: line contains a NUL byte", path);
        CHECK_EQ_STR(err, want);
        CHECK_EQ_INT(c.port, 1); /* the lines before the bad one were applied */
        unlink(path);
    }
    conf_free(&c);
}

static void test_file_error_keeps_earlier_lines(void)
{
    rbacd_conf c;
    char path[64], err[ERR_MAX];
    conf_init(&c);
    CHECK(!load_text_into(&c, "port 7000\nuser alice admin " HASH_A "\ntimeout x\nport 7001\n",
                          path, err));
    CHECK_EQ_INT(c.port, 7000);
    CHECK_EQ_INT(c.nusers, 1);
    CHECK_EQ_INT(c.timeout, 0); /* a refused value leaves the field alone */
    conf_free(&c);
}

/* ---- the database password: db-password, db-password-file, RBACD_DB_PASSWORD ----------------- */

/* Writes bytes (n of them, NULs allowed) to a new temporary file with the given mode;
 * its path goes to path (64 bytes). */
static bool write_secret(const char *bytes, size_t n, int mode, char *path)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/rbacd_conf_test_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    bool ok = write(fd, bytes, n) == (ssize_t)n && fchmod(fd, (mode_t)mode) == 0;
    close(fd);
    return ok;
}

/* Loads --db-password-file with a file holding bytes; returns whether it was accepted,
 * the password in got (when accepted) and the error in err. */
static bool load_secret_file(const char *bytes, size_t n, char *got, size_t gotlen, char *err)
{
    char path[64];
    rbacd_conf c;
    conf_init(&c);
    err[0] = got[0] = '\0';
    bool ok = write_secret(bytes, n, 0600, path);
    CHECK(ok);
    char *argv[] = {"--db-password-file", path};
    ok = ok && conf_load_args(&c, 2, argv, err, ERR_MAX);
    if (ok)
        snprintf(got, gotlen, "%s", c.db_password);
    unlink(path);
    conf_free(&c);
    return ok;
}

static void test_password_file_contents(void)
{
    char got[300], err[ERR_MAX], max[256];
    /* The whole file minus one trailing newline. */
    CHECK(load_secret_file("s3cret\n", 7, got, sizeof got, err));
    CHECK_EQ_STR(got, "s3cret");
    CHECK(load_secret_file("s3cret", 6, got, sizeof got, err));
    CHECK_EQ_STR(got, "s3cret");
    CHECK(load_secret_file("s3cret\r\n", 8, got, sizeof got, err));
    CHECK_EQ_STR(got, "s3cret");
    CHECK(load_secret_file("s3cret\n\n", 8, got, sizeof got, err));
    CHECK_EQ_STR(got, "s3cret\n");
    CHECK(load_secret_file(" a b #c\n", 8, got, sizeof got, err)); /* nothing else trimmed */
    CHECK_EQ_STR(got, " a b #c");
    CHECK(load_secret_file("", 0, got, sizeof got, err));
    CHECK_EQ_STR(got, "");
    /* 255 bytes fit, with or without a newline; 256 do not. */
    memset(max, 'p', 255);
    max[255] = '\n';
    CHECK(load_secret_file(max, 256, got, sizeof got, err));
    CHECK_EQ_INT(strlen(got), 255);
    CHECK(load_secret_file(max, 255, got, sizeof got, err));
    max[255] = 'p';
    CHECK(!load_secret_file(max, 256, got, sizeof got, err));
    CHECK(strstr(err, "' is longer than 255 bytes") != NULL);
    CHECK(strstr(err, "pppp") == NULL); /* never the contents */
    const char *head = "command line: --db-password-file: the secret in '";
    CHECK(strncmp(err, head, strlen(head)) == 0);
    CHECK(!load_secret_file("a\0b\n", 4, got, sizeof got, err));
    CHECK(strstr(err, "' contains a NUL byte") != NULL);
}

static void test_password_file_errors(void)
{
    char path[64], err[ERR_MAX], want[ERR_MAX];
    rbacd_conf c;
    conf_init(&c);
    CHECK_ARGS_ERR("command line: --db-password-file: cannot open '/nonexistent/pw': No such file "
                   "or directory",
                   "--db-password-file", "/nonexistent/pw");
    CHECK_ARGS_ERR("command line: --db-password-file: cannot read '/': Is a directory",
                   "--db-password-file", "/");
    /* In a file: the place is the line. */
    CHECK_FILE_ERR("port 1\ndb-password-file /nonexistent/pw\n", 2,
                   "db-password-file: cannot open '/nonexistent/pw': No such file or directory");
    /* An unreadable file (not as root, which reads everything). */
    if (geteuid() != 0 && write_secret("pw\n", 3, 0, path)) {
        char *argv[] = {"--db-password-file", path};
        CHECK(!conf_load_args(&c, 2, argv, err, sizeof err));
        snprintf(want, sizeof want,
                 "command line: --db-password-file: cannot open '%s': Permission denied", path);
        CHECK_EQ_STR(err, want);
        unlink(path);
    }
    /* A refused file leaves the password as it was. */
    CHECK_EQ_STR(c.db_password, "rbacd");
    CHECK_EQ_STR(c.db_password_file, "");
    /* Not a CONFIG SET key. */
    CHECK_SET_ERR(&c, "db-password-file", "/x",
                  "'db-password-file' can not be changed at run time");
    conf_free(&c);
}

static void test_password_file_mode_warning(void)
{
    char path[64], err[ERR_MAX];
    rbacd_conf c;
    conf_init(&c);
    CHECK(write_secret("pw\n", 3, 0600, path));
    char *argv[] = {"--db-password-file", path};
    CHECK(conf_load_args(&c, 2, argv, err, sizeof err));
    CHECK_EQ_INT(c.nwarnings, 0);
    CHECK(chmod(path, 0640) == 0);
    CHECK(conf_load_args(&c, 2, argv, err, sizeof err));
    CHECK_EQ_INT(c.nwarnings, 1);
    if (c.nwarnings == 1) {
        char want[ERR_MAX];
        snprintf(want, sizeof want,
                 "db-password-file '%s' is readable by group or others (mode 640): chmod 600 it",
                 path);
        CHECK_EQ_STR(c.warnings[0], want);
    }
    unlink(path);
    conf_free(&c);
    CHECK(c.warnings == NULL);
}

/* db-password and db-password-file: the later wins; CONFIG GET shows the path in use. */
static void test_password_file_or_key_last_wins(void)
{
    char file[64], text[256], path[64], err[ERR_MAX], src[128], want[128];
    rbacd_conf c;
    CHECK(write_secret("from-file\n", 10, 0600, file));
    /* In one file. */
    conf_init(&c);
    snprintf(text, sizeof text, "db-password from-key\ndb-password-file %s\n", file);
    CHECK(load_text_into(&c, text, path, err));
    CHECK_EQ_STR(c.db_password, "from-file");
    CHECK_EQ_STR(get1(&c, "db-password-file"), file);
    CHECK_EQ_STR(get1(&c, "db-password"), "********");
    snprintf(want, sizeof want, "db-password-file %s", file);
    CHECK_EQ_STR(conf_source(&c, "db-password", src, sizeof src), want);
    conf_free(&c);
    conf_init(&c);
    snprintf(text, sizeof text, "db-password-file %s\ndb-password from-key\n", file);
    CHECK(load_text_into(&c, text, path, err));
    CHECK_EQ_STR(c.db_password, "from-key");
    CHECK_EQ_STR(get1(&c, "db-password-file"), "");
    CHECK_EQ_STR(conf_source(&c, "db-password", src, sizeof src), "db-password");
    /* The command line comes after the file, either way round. */
    char *to_file[] = {"--db-password-file", file};
    CHECK(conf_load_args(&c, 2, to_file, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-file");
    char *to_key[] = {"--db-password", "from-cli"};
    CHECK(conf_load_args(&c, 2, to_key, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-cli");
    CHECK_EQ_STR(get1(&c, "db-password-file"), "");
    conf_free(&c);
    /* An empty db-password-file cancels an earlier one: the default is back. */
    conf_init(&c);
    char *cancel[] = {"--db-password-file", file, "--db-password-file", ""};
    CHECK(conf_load_args(&c, 4, cancel, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "rbacd");
    CHECK_EQ_STR(conf_source(&c, "db-password", src, sizeof src), "built-in default");
    conf_free(&c);
    unlink(file);
}

/* RBACD_DB_PASSWORD: only when neither key is given. */
static void test_password_from_environment(void)
{
    char file[64], err[ERR_MAX], src[128];
    rbacd_conf c;
    CHECK(write_secret("from-file", 9, 0600, file));
    setenv("RBACD_DB_PASSWORD", "from-env", 1);
    conf_init(&c);
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-env");
    CHECK_EQ_STR(get1(&c, "db-password"), "********");
    CHECK_EQ_STR(conf_source(&c, "db-password", src, sizeof src),
                 "environment variable RBACD_DB_PASSWORD");
    conf_free(&c);
    conf_init(&c);
    char *key[] = {"--db-password", "from-key"};
    CHECK(conf_load_args(&c, 2, key, err, sizeof err));
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-key");
    conf_free(&c);
    conf_init(&c);
    char *path[] = {"--db-password-file", file};
    CHECK(conf_load_args(&c, 2, path, err, sizeof err));
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-file");
    conf_free(&c);
    /* An empty db-password-file gives nothing: the environment applies. */
    conf_init(&c);
    char *none[] = {"--db-password-file", ""};
    CHECK(conf_load_args(&c, 2, none, err, sizeof err));
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "from-env");
    conf_free(&c);
    /* Set but empty: as if unset. */
    setenv("RBACD_DB_PASSWORD", "", 1);
    conf_init(&c);
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "rbacd");
    conf_free(&c);
    /* Too long: refused, not quoted. */
    char longpw[300];
    memset(longpw, 'e', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    setenv("RBACD_DB_PASSWORD", longpw, 1);
    conf_init(&c);
    CHECK(!conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(err, "environment: RBACD_DB_PASSWORD: value is longer than 255 bytes");
    CHECK_EQ_STR(c.db_password, "rbacd");
    conf_free(&c);
    unsetenv("RBACD_DB_PASSWORD");
    conf_init(&c);
    CHECK(conf_load_env(&c, err, sizeof err));
    CHECK_EQ_STR(c.db_password, "rbacd");
    CHECK_EQ_STR(conf_source(&c, "db-password", src, sizeof src), "built-in default");
    conf_free(&c);
    unlink(file);
}

/* ---- command line ---------------------------------------------------------------------------- */

static void test_args(void)
{
    rbacd_conf c;
    char path[64], err[ERR_MAX] = "";
    conf_init(&c);
    CHECK(load_text_into(&c, "port 6390\nuser bob check " HASH_B "\n", path, err));
    char *argv[] = {"--port", "7000",       "--bind",  "127.0.0.1",     "::1",
                    "--user", "x",          "admin",   HASH_A,          "--slowlog-log-slower-than",
                    "-1",     "--LogLevel", "verbose", "--requirepass", ""};
    bool ok = conf_load_args(&c, (int)(sizeof argv / sizeof argv[0]), argv, err, sizeof err);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    CHECK_EQ_INT(c.port, 7000); /* overrides the file */
    CHECK_EQ_STR(c.bind, "127.0.0.1 ::1");
    CHECK_EQ_INT(c.nusers, 2); /* adds to the file's users */
    if (c.nusers == 2) {
        CHECK_EQ_STR(c.users[1].name, "x");
        CHECK_EQ_INT(c.users[1].role, CONF_ROLE_ADMIN);
        CHECK_EQ_STR(c.users[1].hash, HASH_A);
    }
    CHECK_EQ_INT(c.slowlog_log_slower_than, -1);
    CHECK_EQ_INT(c.loglevel, LOG_LVL_VERBOSE);
    CHECK_EQ_STR(c.requirepass, "");
    CHECK(conf_load_args(&c, 0, NULL, err, sizeof err)); /* nothing to override */
    conf_free(&c);
}

static void test_args_errors(void)
{
    CHECK_ARGS_ERR("command line: --port: 'abc' is not an integer between 0 and 65535", "--port",
                   "abc");
    CHECK_ARGS_ERR("command line: --nope: unknown configuration key", "--nope", "1");
    CHECK_ARGS_ERR("command line: --login-lockout: '-1' is not an integer between 1 and 31536000",
                   "--login-lockout", "-1");
    CHECK_ARGS_ERR("command line: --login-max-failures-per-ip: 'many' is not an integer between 0 "
                   "and 10000",
                   "--login-max-failures-per-ip", "many");
    CHECK_ARGS_ERR("command line: --port: wrong number of arguments (expected 1, got 0)", "--port",
                   "--timeout", "5");
    CHECK_ARGS_ERR("command line: --port: wrong number of arguments (expected 1, got 2)", "--port",
                   "1", "2");
    CHECK_ARGS_ERR("command line: --user: wrong number of arguments (expected 3, got 1)", "--user",
                   "x");
    CHECK_ARGS_ERR("command line: --user: 'default' is reserved: set its password with "
                   "requirepass",
                   "--user", "default", "admin", HASH_A);
    CHECK_ARGS_ERR("command line: --protected-mode: 'on' is not yes or no", "--timeout", "1",
                   "--protected-mode", "on");
    CHECK_ARGS_ERR("command line: 'port' is not an option (expected --key value...)", "port", "1");
    CHECK_ARGS_ERR("command line: --: unknown configuration key", "--");
}

/* ---- CONFIG SET ---------------------------------------------------------------------------- */

static void test_set_runtime(void)
{
    static const struct {
        const char *name, *value, *shown;
    } cases[] = {
        {"timeout", "60", "60"},
        {"protected-mode", "no", "no"},
        {"requirepass", "pw", "********"},
        {"sync-interval-ms", "500", "500"},
        {"change-retention", "600", "600"},
        {"session-ttl", "30", "30"},
        {"session-max-per-user", "2", "2"},
        {"login-max-failures", "0", "0"},
        {"login-max-failures-per-ip", "3", "3"},
        {"login-failure-window", "2", "2"},
        {"login-lockout", "2", "2"},
        {"loglevel", "debug", "debug"},
        {"slowlog-log-slower-than", "0", "0"},
        {"slowlog-max-len", "5", "5"},
        {"client-output-limit", "1mb", "1048576"},
        {"TIMEOUT", "61", "61"},
    };
    rbacd_conf c;
    conf_init(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[ERR_MAX] = "";
        bool ok = conf_set_runtime(&c, cases[i].name, cases[i].value, err, sizeof err);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s: %s\n", cases[i].name, err);
        got_keys g;
        get(&c, cases[i].name, &g);
        CHECK_EQ_INT(g.n, 1);
        CHECK_EQ_STR(g.value[0], cases[i].shown);
    }
    CHECK_EQ_INT(c.timeout, 61);
    CHECK(!c.protected_mode);
    CHECK_EQ_STR(c.requirepass, "pw");
    CHECK_EQ_INT(c.loglevel, LOG_LVL_DEBUG);
    CHECK_EQ_INT(c.client_output_limit, 1024 * 1024);
    /* An empty requirepass clears it. */
    char err[ERR_MAX];
    CHECK(conf_set_runtime(&c, "requirepass", "", err, sizeof err));
    CHECK_EQ_STR(c.requirepass, "");
    CHECK_EQ_STR(get1(&c, "requirepass"), "");
    conf_free(&c);
}

/* The apply hooks run on the configuration they are given, after the value is set:
 * the log level, the requirepass digest, a fresh slowlog ring. A key without a hook,
 * a key CONFIG SET may not change and an unknown key do nothing. */
static void test_apply_runtime(void)
{
    rbacd_conf c;
    conf_init(&c);
    char err[ERR_MAX];
    CHECK(conf_set_runtime(&c, "loglevel", "warning", err, sizeof err));
    CHECK_EQ_INT(atomic_load(&log_min_level), LOG_LVL_NOTICE); /* set is not apply */
    conf_apply_runtime(&c, "LogLevel");
    CHECK_EQ_INT(atomic_load(&log_min_level), LOG_LVL_WARNING);

    auth_conf_changed(&c); /* no requirepass */
    CHECK(!auth_required());
    CHECK(conf_set_runtime(&c, "requirepass", "pw", err, sizeof err));
    CHECK(!auth_required());
    conf_apply_runtime(&c, "requirepass");
    CHECK(auth_required());
    CHECK(conf_set_runtime(&c, "requirepass", "", err, sizeof err));
    conf_apply_runtime(&c, "requirepass");
    CHECK(!auth_required());

    server.conf.slowlog_max_len = 4;
    client cl = {.id = 1};
    resp_arg argv[] = {{"ping", 4}};
    server_slowlog_record(&cl, 1, argv, 5, 1);
    CHECK_EQ_INT(server.slowlog_len, 1);
    conf_apply_runtime(&c, "timeout"); /* no hook */
    conf_apply_runtime(&c, "port");    /* not a run-time key */
    conf_apply_runtime(&c, "nosuchkey");
    CHECK_EQ_INT(server.slowlog_len, 1);
    CHECK(conf_set_runtime(&c, "slowlog-max-len", "2", err, sizeof err));
    conf_apply_runtime(&c, "slowlog-max-len");
    CHECK_EQ_INT(server.slowlog_len, 0);
    CHECK(server.slowlog == NULL);

    log_set_level(LOG_LVL_NOTICE);
    conf_free(&c);
}

static void test_set_runtime_refusals(void)
{
    rbacd_conf c;
    conf_init(&c);
    CHECK_SET_ERR(&c, "nosuchkey", "1",
                  "Unknown option or number of args for CONFIG SET - "
                  "'nosuchkey'");
    CHECK_SET_ERR(&c, "port", "7000", "'port' can not be changed at run time");
    CHECK_SET_ERR(&c, "PORT", "7000", "'port' can not be changed at run time");
    CHECK_SET_ERR(&c, "bind", "0.0.0.0", "'bind' can not be changed at run time");
    CHECK_SET_ERR(&c, "user", "x", "'user' can not be changed at run time");
    CHECK_SET_ERR(&c, "db-password", "x", "'db-password' can not be changed at run time");
    CHECK_SET_ERR(&c, "save", "", "'save' can not be changed at run time");
    CHECK_SET_ERR(&c, "appendonly", "yes", "'appendonly' can not be changed at run time");
    CHECK_SET_ERR(&c, "timeout", "abc", "'abc' is not an integer between 0 and 31536000");
    CHECK_SET_ERR(&c, "timeout", "", "'' is not an integer between 0 and 31536000");
    CHECK_SET_ERR(&c, "protected-mode", "maybe", "'maybe' is not yes or no");
    CHECK_SET_ERR(&c, "loglevel", "x", "'x' is not one of debug, verbose, notice, warning");
    CHECK_SET_ERR(&c, "slowlog-max-len", "0", "'0' is not an integer between 1 and 100000");
    CHECK_SET_ERR(&c, "client-output-limit", "1", "'1' is not a byte size between 64kb and 16gb");
    CHECK_SET_ERR(
        &c, "requirepass",
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567890123456789",
        "value is longer than 1024 bytes");
    /* Every refusal left the values alone. */
    CHECK_EQ_INT(c.timeout, 0);
    CHECK(c.protected_mode);
    CHECK_EQ_INT(c.loglevel, LOG_LVL_NOTICE);
    CHECK_EQ_INT(c.slowlog_max_len, 128);
    CHECK_EQ_INT(c.client_output_limit, 64LL * 1024 * 1024);
    CHECK_EQ_STR(c.requirepass, "");
    CHECK_EQ_INT(c.port, 6380);
    conf_free(&c);
}

/* ---- CONFIG GET ------------------------------------------------------------------------------ */

static const char *const all_keys[] = {
    "bind",
    "port",
    "unixsocket",
    "unixsocketperm",
    "maxclients",
    "timeout",
    "tcp-keepalive",
    "protected-mode",
    "tls-port",
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
    "user",
    "requirepass",
    "db-host",
    "db-port",
    "db-socket",
    "db-user",
    "db-password",
    "db-password-file",
    "db-name",
    "db-connect-timeout",
    "db-timeout",
    "db-retries",
    "db-tls",
    "db-tls-ca",
    "db-tls-verify",
    "profile",
    "sync-interval-ms",
    "sync-cluster-grace-ms",
    "change-retention",
    "session-ttl",
    "session-max-per-user",
    "login-max-failures",
    "login-max-failures-per-ip",
    "login-failure-window",
    "login-lockout",
    "worker-threads",
    "log-retention-months",
    "log-partitions-ahead",
    "housekeeping-interval",
    "purge-batch",
    "http-port",
    "http-bind",
    "readyz-db-grace-ms",
    "loglevel",
    "logfile",
    "pidfile",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "client-output-limit",
    "proto-max-bulk-len",
    "tracking-table-max-keys",
    "save",
    "appendonly",
    "databases",
};
#define NKEYS ((int)(sizeof all_keys / sizeof all_keys[0]))

static void test_get_all(void)
{
    rbacd_conf c;
    got_keys g;
    conf_init(&c);
    get(&c, "*", &g);
    CHECK_EQ_INT(g.n, NKEYS);
    for (int i = 0; i < g.n && i < NKEYS; i++)
        CHECK_EQ_STR(g.name[i], all_keys[i]); /* table order, each once */
    /* The shapes of the default values. */
    CHECK_EQ_STR(get1(&c, "bind"), "127.0.0.1");
    CHECK_EQ_STR(get1(&c, "port"), "6380");
    CHECK_EQ_STR(get1(&c, "unixsocket"), "");
    CHECK_EQ_STR(get1(&c, "unixsocketperm"), "700");
    CHECK_EQ_STR(get1(&c, "protected-mode"), "yes");
    CHECK_EQ_STR(get1(&c, "user"), "");
    CHECK_EQ_STR(get1(&c, "requirepass"), "");
    CHECK_EQ_STR(get1(&c, "db-password"), "********");
    CHECK_EQ_STR(get1(&c, "db-password-file"), "");
    CHECK_EQ_STR(get1(&c, "profile"), "bitenant");
    CHECK_EQ_STR(get1(&c, "loglevel"), "notice");
    CHECK_EQ_STR(get1(&c, "slowlog-log-slower-than"), "10000");
    CHECK_EQ_STR(get1(&c, "client-output-limit"), "67108864");
    CHECK_EQ_STR(get1(&c, "proto-max-bulk-len"), "1048576");
    CHECK_EQ_STR(get1(&c, "save"), "");
    CHECK_EQ_STR(get1(&c, "appendonly"), "no");
    CHECK_EQ_STR(get1(&c, "databases"), "1");
    conf_free(&c);
}

static void test_get_patterns(void)
{
    static const char *const db_keys[] = {
        "db-host",          "db-port",   "db-socket",          "db-user",    "db-password",
        "db-password-file", "db-name",   "db-connect-timeout", "db-timeout", "db-retries",
        "db-tls",           "db-tls-ca", "db-tls-verify",
    };
    rbacd_conf c;
    got_keys g;
    conf_init(&c);
    get(&c, "db-*", &g);
    CHECK_EQ_INT(g.n, 13);
    for (int i = 0; i < g.n && i < 13; i++)
        CHECK_EQ_STR(g.name[i], db_keys[i]);
    get(&c, "port", &g);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_STR(g.name[0], "port");
    CHECK_EQ_STR(g.value[0], "6380");
    get(&c, "PORT", &g); /* case-insensitive, reported in lower case */
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_STR(g.name[0], "port");
    get(&c, "save", &g);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_STR(g.name[0], "save");
    CHECK_EQ_STR(g.value[0], "");
    get(&c, "appendonly", &g);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_STR(g.value[0], "no");
    get(&c, "*port", &g);
    CHECK_EQ_INT(g.n, 4);
    CHECK_EQ_STR(g.name[0], "port");
    CHECK_EQ_STR(g.name[1], "tls-port");
    CHECK_EQ_STR(g.name[2], "db-port");
    CHECK_EQ_STR(g.name[3], "http-port");
    get(&c, "session-?t?", &g);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_STR(g.name[0], "session-ttl");
    get(&c, "[bp]*", &g);
    CHECK_EQ_INT(g.n, 7); /* bind port protected-mode profile purge-batch pidfile
                             proto-max-bulk-len */
    get(&c, "nothing-matches", &g);
    CHECK_EQ_INT(g.n, 0);
    get(&c, "", &g);
    CHECK_EQ_INT(g.n, 0);
    /* The pattern is a counted string: bytes after plen are not part of it. */
    memset(&g, 0, sizeof g);
    conf_get(&c, "portXYZ", 4, collect, &g);
    CHECK_EQ_INT(g.n, 1);
    conf_free(&c);
}

static void test_get_secrets_and_users(void)
{
    rbacd_conf c;
    char path[64], err[ERR_MAX];
    got_keys g;
    conf_init(&c);
    CHECK(load_text_into(&c,
                         "user alice admin " HASH_A "\n"
                         "user bob check " HASH_B "\n"
                         "requirepass topsecret\n"
                         "db-password \"\"\n"
                         "unixsocketperm 0755\n"
                         "bind 127.0.0.1 ::1\n"
                         "protected-mode no\n",
                         path, err));
    CHECK_EQ_STR(get1(&c, "user"), "alice admin bob check");
    CHECK_EQ_STR(get1(&c, "requirepass"), "********");
    CHECK_EQ_STR(get1(&c, "db-password"), "");
    CHECK_EQ_STR(get1(&c, "unixsocketperm"), "755");
    CHECK_EQ_STR(get1(&c, "bind"), "127.0.0.1 ::1");
    CHECK_EQ_STR(get1(&c, "protected-mode"), "no");
    /* No value anywhere gives a hash or a password away. */
    get(&c, "*", &g);
    for (int i = 0; i < g.n; i++) {
        CHECK(strstr(g.value[i], "$argon2id$") == NULL);
        CHECK(strstr(g.value[i], "topsecret") == NULL);
    }
    conf_free(&c);
}

/* What CONFIG GET shows can be written back to a file and read to the same values. */
static void test_get_round_trip(void)
{
    rbacd_conf a, b;
    char text[8192], path[64], err[ERR_MAX];
    got_keys ga, gb;
    size_t n = 0;
    conf_init(&a);
    CHECK(conf_set_runtime(&a, "client-output-limit", "3mb", err, sizeof err));
    CHECK(conf_set_runtime(&a, "loglevel", "warning", err, sizeof err));
    get(&a, "*", &ga);
    for (int i = 0; i < ga.n; i++) {
        const char *k = ga.name[i];
        if (!strcmp(k, "user") || !strcmp(k, "requirepass") || !strcmp(k, "db-password") ||
            !strcmp(k, "save") || !strcmp(k, "appendonly") || !strcmp(k, "databases"))
            continue;
        n += (size_t)snprintf(text + n, sizeof text - n, "%s \"%s\"\n", k, ga.value[i]);
    }
    /* bind holds a list: written unquoted, it is several words again. */
    n += (size_t)snprintf(text + n, sizeof text - n, "bind %s\n", get1(&a, "bind"));
    conf_init(&b);
    bool ok = load_text_into(&b, text, path, err);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    get(&b, "*", &gb);
    CHECK_EQ_INT(ga.n, gb.n);
    for (int i = 0; i < ga.n && i < gb.n; i++)
        CHECK_EQ_STR(gb.value[i], ga.value[i]);
    conf_free(&a);
    conf_free(&b);
}

/* ---- the shipped file --------------------------------------------------------------------------
 */

/* db-host lists become db_params nodes: order kept, db-port where no port is given,
 * IPv6 in brackets, spaces around commas dropped. */
static void test_db_host_list(void)
{
    db_node v[DB_NODES_MAX];
    size_t n = 0;
    char err[ERR_MAX] = "";
    CHECK(db_hosts_parse("10.0.0.1, db2:3307 ,[fd00::3]:3308,::1,[::2]", 4700, v, &n, err,
                         sizeof err));
    CHECK_EQ_INT((int)n, 5);
    CHECK_EQ_STR(v[0].host, "10.0.0.1");
    CHECK_EQ_INT((int)v[0].port, 4700);
    CHECK_EQ_STR(v[1].host, "db2");
    CHECK_EQ_INT((int)v[1].port, 3307);
    CHECK_EQ_STR(v[2].host, "fd00::3");
    CHECK_EQ_INT((int)v[2].port, 3308);
    CHECK_EQ_STR(v[3].host, "::1"); /* bare IPv6: no port */
    CHECK_EQ_INT((int)v[3].port, 4700);
    CHECK_EQ_STR(v[4].host, "::2");
    CHECK_EQ_INT((int)v[4].port, 4700);
    /* Through the configuration, with db-port after db-host. */
    rbacd_conf c;
    conf_init(&c);
    char path[64];
    CHECK(load_text_into(&c, "db-host 127.0.0.1:4701,127.0.0.1\ndb-port 4702\n", path, err));
    db_params p;
    db_params_from_conf(&p, &c);
    CHECK_EQ_INT((int)p.nnodes, 2);
    CHECK_EQ_INT((int)p.nodes[0].port, 4701);
    CHECK_EQ_INT((int)p.nodes[1].port, 4702);
    char name[64];
    db_node_name(&p, 1, name, sizeof name);
    CHECK_EQ_STR(name, "127.0.0.1:4702");
    conf_free(&c);
    /* The default is one node. */
    conf_init(&c);
    db_params_from_conf(&p, &c);
    CHECK_EQ_INT((int)p.nnodes, 1);
    CHECK_EQ_STR(p.nodes[0].host, "127.0.0.1");
    CHECK_EQ_INT((int)p.nodes[0].port, 3306);
    conf_free(&c);
}

static void test_shipped_conf(void)
{
    char path[PATH_MAX], err[ERR_MAX] = "";
    rbacd_conf shipped, defaults;
    got_keys gs, gd;
    source_path("conf/rbacd.conf", path, sizeof path);
    conf_init(&shipped);
    conf_init(&defaults);
    bool ok = conf_load_file(&shipped, path, err, sizeof err);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    /* The file shows the defaults: loading it changes nothing. */
    get(&shipped, "*", &gs);
    get(&defaults, "*", &gd);
    CHECK_EQ_INT(gs.n, gd.n);
    for (int i = 0; i < gs.n && i < gd.n; i++) {
        if (strcmp(gs.value[i], gd.value[i]) != 0)
            fprintf(stderr, "  %s: file %s, default %s\n", gs.name[i], gs.value[i], gd.value[i]);
        CHECK_EQ_STR(gs.value[i], gd.value[i]);
    }
    CHECK_EQ_STR(shipped.db_password, defaults.db_password); /* masked above */
    CHECK_EQ_INT(shipped.nusers, 0);
    /* Every key is documented in the file, active or commented out. */
    for (int i = 0; i < gd.n; i++) {
        char active[96], commented[96];
        const char *k = gd.name[i];
        if (!strcmp(k, "save") || !strcmp(k, "appendonly") || !strcmp(k, "databases"))
            continue;
        snprintf(active, sizeof active, "\n%s ", k);
        snprintf(commented, sizeof commented, "\n# %s ", k);
        bool found = file_contains(path, active) || file_contains(path, commented);
        if (!found)
            fprintf(stderr, "  %s is not in %s\n", k, path);
        CHECK(found);
    }
    CHECK(file_contains(path, "rbacd --hash-password"));
    conf_free(&shipped);
    conf_free(&defaults);
}

int main(void)
{
    TEST_RUN(test_defaults);
    TEST_RUN(test_names);
    TEST_RUN(test_file_every_type);
    TEST_RUN(test_file_config_file_is_realpath);
    TEST_RUN(test_file_keys_case_and_overrides);
    TEST_RUN(test_file_quoting);
    TEST_RUN(test_file_byte_units);
    TEST_RUN(test_file_errors_values);
    TEST_RUN(test_file_errors_arity_and_keys);
    TEST_RUN(test_file_errors_users);
    TEST_RUN(test_file_errors_quoting);
    TEST_RUN(test_file_errors_io);
    TEST_RUN(test_file_error_keeps_earlier_lines);
    TEST_RUN(test_password_file_contents);
    TEST_RUN(test_password_file_errors);
    TEST_RUN(test_password_file_mode_warning);
    TEST_RUN(test_password_file_or_key_last_wins);
    TEST_RUN(test_password_from_environment);
    TEST_RUN(test_args);
    TEST_RUN(test_args_errors);
    TEST_RUN(test_set_runtime);
    TEST_RUN(test_set_runtime_refusals);
    TEST_RUN(test_apply_runtime);
    TEST_RUN(test_get_all);
    TEST_RUN(test_get_patterns);
    TEST_RUN(test_get_secrets_and_users);
    TEST_RUN(test_get_round_trip);
    TEST_RUN(test_db_host_list);
    TEST_RUN(test_shipped_conf);
    return TEST_DONE();
}
