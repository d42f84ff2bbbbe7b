/*
 * Configuration as data. Every key is one row of conf_rows[]: its type, where it lives
 * in struct rbacd_conf (type-checked at compile time), its bounds, its default, whether
 * CONFIG SET may change it and whether CONFIG GET masks it. Four ways in, one parser:
 *
 *   conf_init        row default ----------\
 *   conf_load_file   "key value..." line --+--> row_apply(row, values) --> field
 *   conf_load_args   --key value... -------+
 *   conf_set_runtime CONFIG SET key value -/
 *
 * CONFIG SET checks every pair on a scratch configuration first, then sets them on the
 * live one; only then conf_apply_runtime() runs the row's apply hook (loglevel,
 * requirepass, slowlog-max-len), so the running server follows the live value and a
 * refused CONFIG SET changes nothing.
 *
 * row_apply checks every value before it writes anything, so a refused value leaves
 * the field as it was. Its messages say only what is wrong with the value; callers add
 * the place ("FILE:LINE: key: ", "command line: --key: "). Secret values and password
 * hashes are never echoed, neither in a message nor by CONFIG GET.
 *
 * A secret may also come from a file or from the environment (db-password: SPEC's
 * db-password, plus db-password-file and RBACD_DB_PASSWORD):
 *
 *   db-password VALUE         \  one setting written two ways: the one given last wins
 *   db-password-file PATH     /   (a CT_FILE row names the row its file sets: .target)
 *   RBACD_DB_PASSWORD         only if neither was given (the row's .env), see
 *                             conf_load_env(); then the built-in default
 *
 * Which keys the file and the command line gave is kept in c->given (a bit per row), so
 * that the environment knows when to stay out, and conf_source() can say where a value
 * came from without showing it.
 */
#include "conf.h"
#include "auth.h"
#include "db.h"
#include "housekeeping.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "tls.h"
#include "tracking.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum conf_type {
    CT_INT,    /* long long within [min, max] */
    CT_BYTES,  /* long long byte count, units k kb m mb g gb, within [min, max] */
    CT_BOOL,   /* bool, yes|no */
    CT_STRING, /* char *, at most max bytes */
    CT_ENUM,   /* int, index into names */
    CT_OCTAL,  /* long long file mode written in octal, within [min, max] */
    CT_USER,   /* users[]: NAME ROLE HASH; every line adds one */
    CT_BIND,   /* char *, min..max addresses stored space-joined */
    CT_FILE,   /* char * path, at most max bytes; the file's contents set the row .target */
};

#define CONF_RUNTIME 0x1u /* CONFIG SET may change it */
#define CONF_SECRET  0x2u /* CONFIG GET shows "********" */

typedef struct conf_row {
    const char *name;         /* as written in the file, lower case */
    enum conf_type type;      /* how values are parsed and shown */
    size_t off;               /* offsetof the field in rbacd_conf */
    long long min, max;       /* numbers: bounds; strings: max length; bind: address count */
    const char *const *names; /* CT_ENUM: names by stored value, NULL-terminated */
    const char *def;          /* default, parsed like a CONFIG SET value; NULL = none */
    unsigned flags;           /* CONF_RUNTIME | CONF_SECRET */
    const char *help;         /* one line for the reader of this table */
    const char *target;       /* CT_FILE: name of the (secret) row its file's contents set */
    const char *env;          /* environment variable used when the key is not given */
    /* After CONFIG SET on the live configuration: makes the running server follow the
     * new value (loop thread). NULL: the value is read where it is used. */
    void (*apply)(const rbacd_conf *c);
    /* CT_STRING: what the value must look like beyond its length, checked before it is
     * stored (a refused value leaves the field as it was); NULL = any text. Says what
     * is wrong in msg. */
    bool (*check)(const char *value, char *msg, size_t len);
} conf_row;

/* Bounds, named once. */
#define KB              1024LL
#define MB              (1024LL * KB)
#define GB              (1024LL * MB)
#define PORT_MAX        65535
#define YEAR_S          31536000LL /* 365 days in seconds */
#define DAY_S           86400LL    /* longest login-failure-window */
#define FAILURES_MAX    10000      /* highest login-max-failures(-per-ip) */
#define LOG_MONTHS_MAX  1200       /* a century of monthly log partitions */
#define PATH_MAXLEN     4095       /* longest logfile/pidfile path */
#define SUN_PATH_MAXLEN 107        /* sockaddr_un.sun_path minus the NUL */
#define HOST_MAXLEN     255        /* a DNS name or an address */
#define DB_HOSTS_MAXLEN 4095       /* a db-host list */
#define TLS_LIST_MAXLEN 1024       /* tls-protocols, tls-ciphers, tls-ciphersuites */
#define BIND_MAX        16         /* addresses on one bind line */
#define USER_NAME_MAX   63         /* ACL user name length */
#define PASS_MAXLEN     1024       /* requirepass */
#define HASH_MAXLEN     512        /* an encoded argon2id hash is ~100 bytes */
#define HASH_PREFIX     "$argon2id$"
#define CONF_MSG_MAX    256 /* one message about one value */
#define ECHO_MAX        64  /* longest part of a bad value quoted back */
#define SECRET_MASK     "********"
#define SECRET_FILE_NL  2         /* one trailing "\r\n" or "\n" dropped from a secret file */
#define RESERVED_USER   "default" /* the requirepass user */

/* offsetof(rbacd_conf, f), refusing to compile unless the field has type T. */
#define FIELD(f, T) _Generic(((rbacd_conf *)0)->f, T : offsetof(rbacd_conf, f))

/* The last argument of a row is its help line, optionally followed by
 * `.apply = hook` and (strings) `.check = validator`. */
/* clang-format off */
#define ROW_(n, t, o, lo, hi, nm, d, fl, ...) \
    {.name = n, .type = t, .off = o, .min = lo, .max = hi, .names = nm, .def = d, .flags = fl, \
     .help = __VA_ARGS__}
#define ROW_INT(n, f, lo, hi, d, fl, ...)   ROW_(n, CT_INT, FIELD(f, long long), lo, hi, NULL, d, fl, __VA_ARGS__)
#define ROW_BYTES(n, f, lo, hi, d, fl, ...) ROW_(n, CT_BYTES, FIELD(f, long long), lo, hi, NULL, d, fl, __VA_ARGS__)
#define ROW_OCTAL(n, f, hi, d, fl, ...)     ROW_(n, CT_OCTAL, FIELD(f, long long), 0, hi, NULL, d, fl, __VA_ARGS__)
#define ROW_BOOL(n, f, d, fl, ...)          ROW_(n, CT_BOOL, FIELD(f, bool), 0, 1, NULL, d, fl, __VA_ARGS__)
#define ROW_STR(n, f, len, d, fl, ...)      ROW_(n, CT_STRING, FIELD(f, char *), 0, len, NULL, d, fl, __VA_ARGS__)
#define ROW_ENUM(n, f, names, d, fl, ...)   ROW_(n, CT_ENUM, FIELD(f, int), 0, 0, names, d, fl, __VA_ARGS__)
#define ROW_FILE(n, f, t, len, fl, ...)     ROW_(n, CT_FILE, FIELD(f, char *), 0, len, NULL, "", fl, __VA_ARGS__, .target = t)
/* clang-format on */

/* ---- apply hooks: the running server follows a CONFIG SET ---------------------------- */

static void apply_loglevel(const rbacd_conf *c)
{
    log_set_level(c->loglevel);
}

/* More clients may need a higher open file limit; what the process cannot open lowers
 * maxclients again (logged). */
static void apply_maxclients(const rbacd_conf *c)
{
    server_fit_maxclients();
}

/* The slowlog ring is sized by slowlog-max-len: a new length starts an empty one. */
static void apply_slowlog_max_len(const rbacd_conf *c)
{
    server_slowlog_reset();
}

/* db-host: "host[:port],..." (db.h). The port default does not matter for the check. */
static bool check_db_hosts(const char *v, char *msg, size_t len)
{
    db_node nodes[DB_NODES_MAX];
    size_t n;
    return db_hosts_parse(v, 3306, nodes, &n, msg, len);
}
/* Value checks of string rows (defined with the value parsers below). */
static bool check_tls_protocols(const char *v, char *msg, size_t len);

static const char *const loglevel_names[] = {
    [LOG_LVL_DEBUG] = "debug",     [LOG_LVL_VERBOSE] = "verbose", [LOG_LVL_NOTICE] = "notice",
    [LOG_LVL_WARNING] = "warning", [LOG_LVL_WARNING + 1] = NULL,
};
static const char *const profile_names[] = {
    [CONF_PROFILE_BITENANT] = "bitenant",
    [CONF_PROFILE_MPBACKEND] = "mpbackend",
    [CONF_PROFILE_MPBACKEND + 1] = NULL,
};
static const char *const tls_auth_names[] = {
    [CONF_TLS_AUTH_NO] = "no",
    [CONF_TLS_AUTH_YES] = "yes",
    [CONF_TLS_AUTH_OPTIONAL] = "optional",
    [CONF_TLS_AUTH_OPTIONAL + 1] = NULL,
};
static const char *const role_names[] = {
    [CONF_ROLE_CHECK] = "check",
    [CONF_ROLE_ADMIN] = "admin",
    [CONF_ROLE_ADMIN + 1] = NULL,
};

#define RT CONF_RUNTIME
static const conf_row conf_rows[] = {
    /* network */
    ROW_("bind", CT_BIND, FIELD(bind, char *), 1, BIND_MAX, NULL, "127.0.0.1", 0,
         "addresses to listen on"),
    ROW_INT("port", port, 0, PORT_MAX, "6380", 0, "TCP port, 0 = no TCP listener"),
    ROW_STR("unixsocket", unixsocket, SUN_PATH_MAXLEN, "", 0, "unix socket path, empty = none"),
    ROW_OCTAL("unixsocketperm", unixsocketperm, 0777, "0700", 0, "mode of the unix socket file"),
    ROW_INT("maxclients", maxclients, 1, 100000, "10000", RT, "most clients connected at once",
            .apply = apply_maxclients),
    ROW_INT("timeout", timeout, 0, YEAR_S, "0", RT, "close clients idle this long (s), 0 = never"),
    ROW_INT("tcp-keepalive", tcp_keepalive, 0, 86400, "300", 0, "TCP keepalive (s), 0 = off"),
    ROW_BOOL("protected-mode", protected_mode, "yes", RT, "no user configured: loopback only"),
    /* TLS for clients (checked together, files loaded: tls_check_conf) */
    ROW_INT("tls-port", tls_port, 0, PORT_MAX, "0", 0, "TLS port beside port, 0 = none"),
    ROW_STR("tls-cert-file", tls_cert_file, PATH_MAXLEN, "", 0, "server certificate chain (PEM)"),
    ROW_STR("tls-key-file", tls_key_file, PATH_MAXLEN, "", 0, "its private key (PEM)"),
    ROW_STR("tls-ca-cert-file", tls_ca_cert_file, PATH_MAXLEN, "", 0,
            "CAs of client certificates (PEM)"),
    ROW_ENUM("tls-auth-clients", tls_auth_clients, tls_auth_names, "yes", 0,
             "client certificate required, optional, or not asked for"),
    ROW_STR("tls-protocols", tls_protocols, TLS_LIST_MAXLEN, "TLSv1.2 TLSv1.3", 0,
            "TLS versions allowed", .check = check_tls_protocols),
    ROW_STR("tls-ciphers", tls_ciphers, TLS_LIST_MAXLEN, "", 0,
            "TLSv1.2 cipher list, empty = OpenSSL's"),
    ROW_STR("tls-ciphersuites", tls_ciphersuites, TLS_LIST_MAXLEN, "", 0,
            "TLSv1.3 cipher suites, empty = OpenSSL's"),
    /* access control */
    ROW_("user", CT_USER, FIELD(users, conf_user *), 3, 3, NULL, NULL, 0,
         "NAME ROLE HASH, repeatable"),
    ROW_STR("requirepass", requirepass, PASS_MAXLEN, "", RT | CONF_SECRET,
            "password of the default user (admin), empty = none", .apply = auth_conf_changed),
    /* database; lengths match db_params */
    ROW_STR("db-host", db_host, DB_HOSTS_MAXLEN, "127.0.0.1", 0,
            "MariaDB host, or host[:port],... tried in order (a cluster)", .check = check_db_hosts),
    ROW_INT("db-port", db_port, 1, PORT_MAX, "3306", 0, "MariaDB TCP port"),
    ROW_STR("db-socket", db_socket, HOST_MAXLEN, "", 0, "MariaDB unix socket, empty = TCP"),
    ROW_STR("db-user", db_user, 127, "rbacd", 0, "MariaDB user"),
    ROW_STR("db-password", db_password, 255, "rbacd", CONF_SECRET, "MariaDB password",
            .env = "RBACD_DB_PASSWORD"),
    ROW_FILE("db-password-file", db_password_file, "db-password", PATH_MAXLEN, 0,
             "file holding the MariaDB password, empty = none"),
    ROW_STR("db-name", db_name, 127, "rbacd", 0, "MariaDB database"),
    ROW_INT("db-connect-timeout", db_connect_timeout, 1, 3600, "3", 0, "connect timeout (s)"),
    ROW_INT("db-timeout", db_timeout, 1, 3600, "10", 0, "read/write timeout (s)"),
    ROW_INT("db-retries", db_retries, 0, 100, "3", RT,
            "a write refused by a deadlock or cluster conflict (1213) runs again this often"),
    ROW_BOOL("db-tls", db_tls, "no", 0, "TLS to MariaDB, required"),
    ROW_STR("db-tls-ca", db_tls_ca, PATH_MAXLEN, "", 0,
            "CAs of the MariaDB certificate (PEM), empty = the system's"),
    ROW_BOOL("db-tls-verify", db_tls_verify, "yes", 0,
             "check the MariaDB certificate: chain and host name"),
    /* engine, sync, sessions */
    ROW_ENUM("profile", profile, profile_names, "bitenant", 0, "schema profile"),
    ROW_INT("sync-interval-ms", sync_interval_ms, 10, 60000, "100", RT, "rbac_change poll (ms)"),
    ROW_INT("sync-cluster-grace-ms", sync_cluster_grace_ms, 0, 600000, "2000", RT,
            "Galera: a change id missing this long after a cluster-synced read is a hole"),
    ROW_INT("change-retention", change_retention, 60, YEAR_S, "86400", RT,
            "keep rbac_change rows this long (s)"),
    ROW_INT("session-ttl", session_ttl, 1, YEAR_S, "7200", RT, "default session lifetime (s)"),
    ROW_INT("session-max-per-user", session_max_per_user, 1, 10000, "20", RT,
            "live sessions per user; the oldest goes past it"),
    ROW_INT("login-max-failures", login_max_failures, 0, FAILURES_MAX, "5", RT,
            "failed logins of one tenant user name before a lockout, 0 = no limit"),
    ROW_INT("login-max-failures-per-ip", login_max_failures_per_ip, 0, FAILURES_MAX, "20", RT,
            "failed logins from one IP before a lockout, 0 = no limit"),
    ROW_INT("login-failure-window", login_failure_window, 1, DAY_S, "300", RT,
            "seconds within which max failures start a lockout"),
    ROW_INT("login-lockout", login_lockout, 1, YEAR_S, "900", RT,
            "seconds a locked-out user name or IP is refused"),
    ROW_INT("worker-threads", worker_threads, 1, 64, "4", 0, "threads for blocking work"),
    /* housekeeping */
    ROW_INT("log-retention-months", log_retention_months, 0, LOG_MONTHS_MAX, "0", RT,
            "drop log partitions older than this many months, 0 = keep for ever",
            .apply = housekeeping_conf_changed),
    ROW_INT("log-partitions-ahead", log_partitions_ahead, 1, LOG_MONTHS_MAX, "3", RT,
            "monthly log partitions kept ready ahead of the current one",
            .apply = housekeeping_conf_changed),
    ROW_INT("housekeeping-interval", housekeeping_interval, 1, 86400, "3600", RT,
            "seconds between two passes over the log partitions",
            .apply = housekeeping_conf_changed),
    ROW_INT("purge-batch", purge_batch, 1, 100000, "1000", RT,
            "rows one purge statement deletes at most (sessions, rbac_change)"),
    /* observability */
    ROW_INT("http-port", http_port, 0, PORT_MAX, "0", 0,
            "/metrics, /healthz and /readyz port, 0 = off"),
    ROW_STR("http-bind", http_bind, HOST_MAXLEN, "127.0.0.1", 0, "address of the HTTP listener"),
    ROW_INT("readyz-db-grace-ms", readyz_db_grace_ms, 0, 3600000, "5000", RT,
            "/readyz: 503 once the database is unreachable this long (ms)"),
    ROW_ENUM("loglevel", loglevel, loglevel_names, "notice", RT, "least important line logged",
             .apply = apply_loglevel),
    ROW_STR("logfile", logfile, PATH_MAXLEN, "", 0, "log file, empty = stderr"),
    ROW_STR("pidfile", pidfile, PATH_MAXLEN, "", 0, "pid file, empty = none"),
    ROW_INT("slowlog-log-slower-than", slowlog_log_slower_than, -1, 3600000000LL, "10000", RT,
            "slowlog threshold (us), -1 = off"),
    ROW_INT("slowlog-max-len", slowlog_max_len, 1, 100000, "128", RT, "slowlog entries kept",
            .apply = apply_slowlog_max_len),
    /* limits */
    ROW_BYTES("client-output-limit", client_output_limit, 64 * KB, 16 * GB, "64mb", RT,
              "pending reply bytes before a client is no longer read"),
    ROW_BYTES("proto-max-bulk-len", proto_max_bulk_len, 1 * KB, 512 * MB, "1mb", 0,
              "longest argument accepted"),
    ROW_INT("tracking-table-max-keys", tracking_table_max_keys, 0, 1000000000LL, "1000000", RT,
            "client tracking keys kept; past it the oldest are invalidated, 0 = no bound",
            .apply = tracking_conf_changed),
};
#undef RT

/* c->given and c->from_env hold a bit per row. */
_Static_assert(ARRAY_LEN(conf_rows) <= 64, "a row bit no longer fits in unsigned long long");
#define ROW_BIT(r) (1ULL << (size_t)((r)-conf_rows))

/* Keys Redis clients and tools ask CONFIG GET for; rbacd has no such settings. */
static const struct {
    const char *name;
    const char *value;
} conf_pseudo[] = {
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
};

#define FIELD_AT(c, r, T) ((T *)(void *)((char *)(c) + (r)->off))
#define FIELD_IN(c, r, T) ((T const *)(const void *)((const char *)(c) + (r)->off))

/* ---- messages ---------------------------------------------------------------------- */

/* Copies v into buf (ECHO_MAX + 4 bytes) for quoting in a message: control bytes become
 * '?' so the message stays one line, and a long value is cut with "...". */
static const char *echo(const char *v, char *buf)
{
    size_t i = 0;
    for (; v[i] && i < ECHO_MAX; i++)
        buf[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    if (v[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* "one of a, b, c" into buf. */
static const char *names_list(const char *const *names, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && n < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", names[i]);
        n += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* A byte count the way a person writes it: 65536 -> "64kb", 1000 -> "1000". */
static const char *fmt_bytes(long long v, char *buf, size_t len)
{
    static const struct {
        long long mult;
        const char *unit;
    } units[] = {{GB, "gb"}, {MB, "mb"}, {KB, "kb"}};
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (v != 0 && v % units[i].mult == 0) {
            snprintf(buf, len, "%lld%s", v / units[i].mult, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, len, "%lld", v);
    return buf;
}

/* ---- value parsers ------------------------------------------------------------------ */

/* Redis memory notation: digits, then nothing (bytes) or k kb m mb g gb, any case. */
static bool parse_bytes(const char *s, long long *out)
{
    static const struct {
        const char *unit;
        long long mult;
    } units[] = {{"", 1},    {"k", 1000},       {"kb", KB}, {"m", 1000000},
                 {"mb", MB}, {"g", 1000000000}, {"gb", GB}};
    size_t n = strspn(s, "0123456789");
    uint64_t v;
    if (!util_parse_u64(s, n, &v))
        return false;
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (strcasecmp(s + n, units[i].unit) != 0)
            continue;
        if (v > (uint64_t)(LLONG_MAX / units[i].mult))
            return false;
        *out = (long long)v * units[i].mult;
        return true;
    }
    return false;
}

/* 1 to 4 octal digits, as in chmod. */
static bool parse_octal(const char *s, long long *out)
{
    size_t n = strspn(s, "01234567");
    if (n == 0 || n > 4 || s[n])
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 8 + (s[i] - '0');
    *out = v;
    return true;
}

/* 1..USER_NAME_MAX characters of [A-Za-z0-9_.-]. */
static bool valid_user_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

static bool valid_hash(const char *s)
{
    size_t n = strlen(s);
    if (n > HASH_MAXLEN || strncmp(s, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static bool valid_address(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HOST_MAXLEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static int find_name(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

/* tls-protocols: version names only (tls.c knows them). */
static bool check_tls_protocols(const char *v, char *msg, size_t len)
{
    char e[ECHO_MAX + 4];
    if (tls_protocols_valid(v))
        return true;
    snprintf(msg, len, "'%s' is not a list of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", echo(v, e));
    return false;
}

/* ---- row setters: check, then write; msg says what is wrong with the value ---------- */

/* Frees a string that held a secret, wiping it first. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        mem_free(s);
    }
}

static bool set_int(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    long long x;
    char e[ECHO_MAX + 4];
    if (!util_parse_ll(v, strlen(v), &x) || x < r->min || x > r->max) {
        snprintf(msg, len, "'%s' is not an integer between %lld and %lld", echo(v, e), r->min,
                 r->max);
        return false;
    }
    *FIELD_AT(c, r, long long) = x;
    return true;
}

static bool set_bytes(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    long long x;
    char e[ECHO_MAX + 4], lo[32], hi[32];
    if (!parse_bytes(v, &x) || x < r->min || x > r->max) {
        snprintf(msg, len, "'%s' is not a byte size between %s and %s", echo(v, e),
                 fmt_bytes(r->min, lo, sizeof lo), fmt_bytes(r->max, hi, sizeof hi));
        return false;
    }
    *FIELD_AT(c, r, long long) = x;
    return true;
}

static bool set_octal(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    long long x;
    char e[ECHO_MAX + 4];
    if (!parse_octal(v, &x) || x < r->min || x > r->max) {
        snprintf(msg, len, "'%s' is not an octal mode between %llo and %llo", echo(v, e),
                 (unsigned long long)r->min, (unsigned long long)r->max);
        return false;
    }
    *FIELD_AT(c, r, long long) = x;
    return true;
}

static bool set_bool(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    char e[ECHO_MAX + 4];
    if (strcasecmp(v, "yes") != 0 && strcasecmp(v, "no") != 0) {
        snprintf(msg, len, "'%s' is not yes or no", echo(v, e));
        return false;
    }
    *FIELD_AT(c, r, bool) = strcasecmp(v, "yes") == 0;
    return true;
}

static bool set_enum(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    char e[ECHO_MAX + 4], list[CONF_MSG_MAX / 2];
    int i = find_name(r->names, v);
    if (i < 0) {
        snprintf(msg, len, "'%s' is not one of %s", echo(v, e),
                 names_list(r->names, list, sizeof list));
        return false;
    }
    *FIELD_AT(c, r, int) = i;
    return true;
}

static bool set_string(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    if ((long long)strlen(v) > r->max) {
        /* The value is not quoted back: it may be a password. */
        snprintf(msg, len, "value is longer than %lld bytes", r->max);
        return false;
    }
    if (r->check && !r->check(v, msg, len))
        return false;
    char **field = FIELD_AT(c, r, char *);
    if (r->flags & CONF_SECRET)
        free_secret(*field);
    else
        mem_free(*field);
    *field = mem_strdup(v);
    return true;
}

static bool set_bind(rbacd_conf *c, const conf_row *r, size_t argc, const char *const *argv,
                     char *msg, size_t len)
{
    char e[ECHO_MAX + 4];
    size_t total = 0;
    for (size_t i = 0; i < argc; i++) {
        if (!valid_address(argv[i])) {
            snprintf(msg, len, "'%s' is not an address", echo(argv[i], e));
            return false;
        }
        total += strlen(argv[i]) + 1;
    }
    char *joined = mem_alloc(total), *p = joined;
    for (size_t i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        memcpy(p, argv[i], n);
        p += n;
        *p++ = i + 1 < argc ? ' ' : '\0';
    }
    char **field = FIELD_AT(c, r, char *);
    mem_free(*field);
    *field = joined;
    return true;
}

static const conf_row *row_find(const char *name);

/* Adds a line to c->warnings: worth saying at start (the log is not open yet while the
 * configuration is read), but no reason to refuse it. */
static void conf_warn(rbacd_conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conf_warn(rbacd_conf *c, const char *fmt, ...)
{
    char line[CONF_MSG_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->warnings = mem_realloc(c->warnings, (c->nwarnings + 1) * sizeof *c->warnings);
    c->warnings[c->nwarnings++] = mem_strdup(line);
}

/* Reads the secret in the file at path: its contents minus one trailing newline ("\n" or
 * "\r\n"), at most max bytes, no NUL byte. Returns it (the caller wipes and frees it with
 * free_secret) and the file's mode in *mode; NULL with msg set on failure. Messages
 * name the file, never what it holds. */
static char *read_secret_file(const char *path, long long max, mode_t *mode, char *msg, size_t len)
{
    char e[ECHO_MAX + 4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, len, "cannot open '%s': %s", echo(path, e), strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t cap = (size_t)max + SECRET_FILE_NL + 1; /* one byte more shows it is too long */
    char *buf = mem_calloc(1, cap + 1);
    size_t n = 0;
    while (n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(msg, len, "cannot read '%s': %s", echo(path, e), strerror(errno));
            close(fd);
            free_secret(buf);
            return NULL;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n' && --n > 0 && buf[n - 1] == '\r')
        n--;
    bool too_long = (long long)n > max, nul = !too_long && memchr(buf, '\0', n);
    if (too_long || nul) {
        char what[64] = "contains a NUL byte";
        if (too_long)
            snprintf(what, sizeof what, "is longer than %lld bytes", max);
        snprintf(msg, len, "the secret in '%s' %s", echo(path, e), what);
        free_secret(buf);
        return NULL;
    }
    explicit_bzero(buf + n, cap + 1 - n);
    *mode = st.st_mode;
    return buf;
}

/* A CT_FILE row: reads the file and sets the row r->target from it, then records the
 * path. "" means no file: if one had set the target, the target goes back to its
 * default (an empty --db-password-file cancels the configuration file's). */
static bool set_file(rbacd_conf *c, const conf_row *r, const char *v, char *msg, size_t len)
{
    const conf_row *t = row_find(r->target);
    char **field = FIELD_AT(c, r, char *);
    if ((long long)strlen(v) > r->max) {
        snprintf(msg, len, "path is longer than %lld bytes", r->max);
        return false;
    }
    if (!*v) {
        if (*field && **field) {
            char **secret = FIELD_AT(c, t, char *);
            free_secret(*secret);
            *secret = mem_strdup(t->def ? t->def : "");
        }
        mem_free(*field);
        *field = mem_strdup("");
        return true;
    }
    mode_t mode = 0;
    char *secret = read_secret_file(v, t->max, &mode, msg, len);
    if (!secret)
        return false;
    char **target = FIELD_AT(c, t, char *);
    free_secret(*target);
    *target = secret;
    mem_free(*field);
    *field = mem_strdup(v);
    if (S_ISREG(mode) && (mode & (S_IRGRP | S_IROTH))) {
        char e[ECHO_MAX + 4];
        conf_warn(c, "%s '%s' is readable by group or others (mode %03o): chmod 600 it", r->name,
                  echo(v, e), (unsigned)(mode & 0777));
    }
    return true;
}

/* user NAME ROLE HASH. The hash is never quoted back. */
static bool set_user(rbacd_conf *c, const char *const *argv, char *msg, size_t len)
{
    char e[ECHO_MAX + 4], list[CONF_MSG_MAX / 2];
    const char *name = argv[0], *hash = argv[2];
    int role = find_name(role_names, argv[1]);
    if (!valid_user_name(name)) {
        snprintf(msg, len, "'%s' is not a user name (1 to %d of A-Z a-z 0-9 _ . -)", echo(name, e),
                 USER_NAME_MAX);
        return false;
    }
    if (strcmp(name, RESERVED_USER) == 0) {
        snprintf(msg, len, "'%s' is reserved: set its password with requirepass", RESERVED_USER);
        return false;
    }
    for (size_t i = 0; i < c->nusers; i++) {
        if (strcmp(c->users[i].name, name) == 0) {
            snprintf(msg, len, "user '%s' is already defined", name);
            return false;
        }
    }
    if (role < 0) {
        snprintf(msg, len, "'%s' is not one of %s", echo(argv[1], e),
                 names_list(role_names, list, sizeof list));
        return false;
    }
    if (!valid_hash(hash)) {
        snprintf(msg, len,
                 "the password hash must be a " HASH_PREFIX "... hash from rbacd --hash-password");
        return false;
    }
    c->users = mem_realloc(c->users, (c->nusers + 1) * sizeof *c->users);
    c->users[c->nusers++] = (conf_user){mem_strdup(name), role, mem_strdup(hash)};
    return true;
}

static bool arity_ok(const conf_row *r, size_t argc, char *msg, size_t len)
{
    long long lo = 1, hi = 1;
    if (r->type == CT_USER || r->type == CT_BIND) {
        lo = r->min;
        hi = r->max;
    }
    if ((long long)argc >= lo && (long long)argc <= hi)
        return true;
    if (lo == hi)
        snprintf(msg, len, "wrong number of arguments (expected %lld, got %zu)", lo, argc);
    else
        snprintf(msg, len, "wrong number of arguments (expected %lld to %lld, got %zu)", lo, hi,
                 argc);
    return false;
}

/* Sets row r from its values (the words after the key). On false, msg says why and c is
 * unchanged. */
static bool row_apply(rbacd_conf *c, const conf_row *r, size_t argc, const char *const *argv,
                      char *msg, size_t len)
{
    if (!arity_ok(r, argc, msg, len))
        return false;
    switch (r->type) {
    case CT_INT:
        return set_int(c, r, argv[0], msg, len);
    case CT_BYTES:
        return set_bytes(c, r, argv[0], msg, len);
    case CT_BOOL:
        return set_bool(c, r, argv[0], msg, len);
    case CT_STRING:
        return set_string(c, r, argv[0], msg, len);
    case CT_ENUM:
        return set_enum(c, r, argv[0], msg, len);
    case CT_OCTAL:
        return set_octal(c, r, argv[0], msg, len);
    case CT_USER:
        return set_user(c, argv, msg, len);
    case CT_BIND:
        return set_bind(c, r, argc, argv, msg, len);
    case CT_FILE:
        return set_file(c, r, argv[0], msg, len);
    }
    snprintf(msg, len, "unsupported key type");
    return false;
}

static const conf_row *row_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++)
        if (strcasecmp(conf_rows[i].name, name) == 0)
            return &conf_rows[i];
    return NULL;
}

/* ---- splitting a line into words ----------------------------------------------------- */

typedef struct conf_words {
    char **v; /* owned strings */
    size_t n, cap;
} conf_words;

static void words_push(conf_words *w, const char *s, size_t len)
{
    mem_grow((void **)&w->v, &w->cap, w->n + 1, sizeof *w->v);
    w->v[w->n++] = mem_strndup(s, len);
}

static void words_free(conf_words *w)
{
    for (size_t i = 0; i < w->n; i++)
        mem_free(w->v[i]);
    mem_free(w->v);
    memset(w, 0, sizeof *w);
}

static int hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* One escape after a backslash inside "double quotes": *pp is on the character after the
 * backslash and is moved past the escape. Returns the byte, or -1 with msg set. */
static int read_escape(const char **pp, char *msg, size_t len)
{
    const char *p = *pp;
    static const char from[] = "\"\\ntr", to[] = "\"\\\n\t\r";
    const char *hit = *p ? strchr(from, *p) : NULL;
    if (hit) {
        *pp = p + 1;
        return to[hit - from];
    }
    if (*p == 'x') {
        int hi = p[1] ? hex_digit((unsigned char)p[1]) : -1;
        int lo = hi >= 0 && p[2] ? hex_digit((unsigned char)p[2]) : -1;
        if (lo < 0) {
            snprintf(msg, len, "\\x must be followed by two hex digits");
            return -1;
        }
        if (hi == 0 && lo == 0) {
            snprintf(msg, len, "\\x00 is not allowed in a value");
            return -1;
        }
        *pp = p + 3;
        return hi * 16 + lo;
    }
    if (!*p)
        snprintf(msg, len, "unterminated quoted string");
    else if (isprint((unsigned char)*p))
        snprintf(msg, len, "unknown escape \\%c in quoted string", *p);
    else
        snprintf(msg, len, "unknown escape in quoted string");
    return -1;
}

/* Reads the quoted word at *pp (on the opening quote) into out, moves *pp past it.
 * "..." takes escapes; '...' takes only \' and is otherwise literal. */
static bool read_quoted(const char **pp, char *out, size_t *outlen, char *msg, size_t len)
{
    const char *p = *pp;
    char q = *p++;
    size_t n = 0;
    for (;;) {
        if (!*p) {
            snprintf(msg, len, "unterminated quoted string");
            return false;
        }
        if (*p == q)
            break;
        if (*p != '\\') {
            out[n++] = *p++;
        } else if (q == '\'' && p[1] == '\'') {
            out[n++] = '\'';
            p += 2;
        } else if (q == '\'') {
            out[n++] = *p++;
        } else {
            p++;
            int ch = read_escape(&p, msg, len);
            if (ch < 0)
                return false;
            out[n++] = (char)ch;
        }
    }
    p++;
    if (*p && !isspace((unsigned char)*p)) {
        snprintf(msg, len, "closing quote must be followed by a space");
        return false;
    }
    *pp = p;
    *outlen = n;
    return true;
}

/* Splits line into words: blanks separate them, "double" and 'single' quotes group them.
 * A line whose first non-blank is '#' is a comment (no words). Words may begin with '#'
 * elsewhere, so a password such as "#x1" needs no quoting. On false, msg says why and w
 * holds the words before the bad one. */
static bool split_line(const char *line, conf_words *w, char *msg, size_t len)
{
    const char *p = line + strspn(line, " \t\r\n\v\f");
    if (*p == '#')
        return true;
    char *scratch = mem_alloc(strlen(p) + 1); /* a word is never longer than the line */
    bool ok = true;
    while (ok) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t n = 0;
        if (*p == '"' || *p == '\'') {
            ok = read_quoted(&p, scratch, &n, msg, len);
        } else {
            while (*p && !isspace((unsigned char)*p))
                scratch[n++] = *p++;
        }
        if (ok)
            words_push(w, scratch, n);
    }
    mem_free(scratch);
    return ok;
}

/* ---- places: where a line came from, for the message ---------------------------------- */

typedef struct conf_place {
    const char *file; /* NULL = command line */
    long line;
} conf_place;

/* "FILE:LINE: key: msg" or "command line: --key: msg"; the key as written, made safe. */
static void place_err(char *err, size_t errlen, const conf_place *pl, const char *key,
                      const char *msg)
{
    char k[ECHO_MAX + 4];
    if (pl->file)
        snprintf(err, errlen, "%s:%ld: %s: %s", pl->file, pl->line, echo(key, k), msg);
    else
        snprintf(err, errlen, "command line: --%s: %s", echo(key, k), msg);
}

/* Records that the file or the command line gave row r. An empty CT_FILE path gives
 * nothing. A secret given directly replaces one read from a file earlier: the file row
 * is forgotten, so the later of the two wins. */
static void note_given(rbacd_conf *c, const conf_row *r)
{
    if (r->type == CT_FILE && !**FIELD_AT(c, r, char *)) {
        c->given &= ~ROW_BIT(r);
        return;
    }
    c->given |= ROW_BIT(r);
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *f = &conf_rows[i];
        if (f->type == CT_FILE && strcmp(f->target, r->name) == 0) {
            char **path = FIELD_AT(c, f, char *);
            mem_free(*path);
            *path = mem_strdup("");
            c->given &= ~ROW_BIT(f);
        }
    }
}

/* Applies key and its values; false + err naming the place and the key. */
static bool apply_key(rbacd_conf *c, const conf_place *pl, const char *key, size_t argc,
                      const char *const *argv, char *err, size_t errlen)
{
    char msg[CONF_MSG_MAX];
    const conf_row *r = row_find(key);
    if (!r) {
        place_err(err, errlen, pl, key, "unknown configuration key");
        return false;
    }
    if (!row_apply(c, r, argc, argv, msg, sizeof msg)) {
        place_err(err, errlen, pl, key, msg);
        return false;
    }
    note_given(c, r);
    return true;
}

static bool apply_line(rbacd_conf *c, const conf_place *pl, const char *line, char *err,
                       size_t errlen)
{
    conf_words w = {0};
    char msg[CONF_MSG_MAX];
    bool ok;
    if (!split_line(line, &w, msg, sizeof msg)) {
        /* The key is the first word, or what the bad first word starts with. */
        char raw[ECHO_MAX + 1];
        const char *p = line + strspn(line, " \t\r\n\v\f");
        size_t n = strcspn(p, " \t\r\n\v\f");
        snprintf(raw, sizeof raw, "%.*s", (int)(n < ECHO_MAX ? n : ECHO_MAX), p);
        place_err(err, errlen, pl, w.n ? w.v[0] : raw, msg);
        ok = false;
    } else {
        ok = w.n == 0 ||
             apply_key(c, pl, w.v[0], w.n - 1, (const char *const *)w.v + 1, err, errlen);
    }
    words_free(&w);
    return ok;
}

/* Sets r from one text value, as CONFIG SET and the defaults give it. A bind value is a
 * list of words; every other type takes the text as one value. */
static bool row_apply_text(rbacd_conf *c, const conf_row *r, const char *text, char *msg,
                           size_t len)
{
    if (r->type != CT_BIND)
        return row_apply(c, r, 1, &text, msg, len);
    conf_words w = {0};
    bool ok =
        split_line(text, &w, msg, len) && row_apply(c, r, w.n, (const char *const *)w.v, msg, len);
    words_free(&w);
    return ok;
}

/* ---- the API -------------------------------------------------------------------------- */

void conf_init(rbacd_conf *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *r = &conf_rows[i];
        char msg[CONF_MSG_MAX];
        if (r->def && !row_apply_text(c, r, r->def, msg, sizeof msg)) {
            /* A bad built-in default is a bug in the table above. */
            fprintf(stderr, "rbacd: default of %s: %s\n", r->name, msg);
            abort();
        }
    }
}

void conf_free(rbacd_conf *c)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *r = &conf_rows[i];
        if (r->type != CT_STRING && r->type != CT_BIND && r->type != CT_FILE)
            continue;
        char *s = *FIELD_AT(c, r, char *);
        if (r->flags & CONF_SECRET)
            free_secret(s);
        else
            mem_free(s);
    }
    for (size_t i = 0; i < c->nwarnings; i++)
        mem_free(c->warnings[i]);
    mem_free(c->warnings);
    for (size_t i = 0; i < c->nusers; i++) {
        mem_free(c->users[i].name);
        mem_free(c->users[i].hash);
    }
    mem_free(c->users);
    mem_free(c->config_file);
    memset(c, 0, sizeof *c);
}

bool conf_load_file(rbacd_conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    char abs[PATH_MAX];
    mem_free(c->config_file);
    c->config_file = mem_strdup(realpath(path, abs) ? abs : path);

    conf_place pl = {path, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        pl.line++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (memchr(line, '\0', (size_t)n)) {
            snprintf(err, errlen, "%s:%ld: line contains a NUL byte", path, pl.line);
            ok = false;
        } else {
            ok = apply_line(c, &pl, line, err, errlen);
        }
    }
    if (ok && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        ok = false;
    }
    free(line); /* from getline(), not from mem_* */
    fclose(f);
    return ok;
}

bool conf_load_args(rbacd_conf *c, int argc, char **argv, char *err, size_t errlen)
{
    conf_place pl = {NULL, 0};
    int i = 0;
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0) {
            char e[ECHO_MAX + 4];
            snprintf(err, errlen, "command line: '%s' is not an option (expected --key value...)",
                     echo(argv[i], e));
            return false;
        }
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0)
            j++;
        if (!apply_key(c, &pl, argv[i] + 2, (size_t)(j - i - 1), (const char *const *)argv + i + 1,
                       err, errlen))
            return false;
        i = j;
    }
    return true;
}

bool conf_set_runtime(rbacd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    const conf_row *r = row_find(name);
    if (!r) {
        for (size_t i = 0; i < ARRAY_LEN(conf_pseudo); i++) {
            if (strcasecmp(conf_pseudo[i].name, name) == 0) {
                snprintf(err, errlen, "'%s' can not be changed at run time", conf_pseudo[i].name);
                return false;
            }
        }
        char e[ECHO_MAX + 4];
        snprintf(err, errlen, "Unknown option or number of args for CONFIG SET - '%s'",
                 echo(name, e));
        return false;
    }
    if (!(r->flags & CONF_RUNTIME)) {
        snprintf(err, errlen, "'%s' can not be changed at run time", r->name);
        return false;
    }
    return row_apply_text(c, r, value, err, errlen);
}

/* Whether the file or the command line gave a CT_FILE row that sets r. */
static bool given_by_file_row(const rbacd_conf *c, const conf_row *r)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *f = &conf_rows[i];
        if (f->type == CT_FILE && strcmp(f->target, r->name) == 0 && (c->given & ROW_BIT(f)))
            return true;
    }
    return false;
}

bool conf_load_env(rbacd_conf *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *r = &conf_rows[i];
        if (!r->env || (c->given & ROW_BIT(r)) || given_by_file_row(c, r))
            continue;
        const char *v = getenv(r->env);
        if (!v || !*v)
            continue;
        char msg[CONF_MSG_MAX];
        if (!row_apply_text(c, r, v, msg, sizeof msg)) {
            snprintf(err, errlen, "environment: %s: %s", r->env, msg);
            return false;
        }
        c->from_env |= ROW_BIT(r);
    }
    return true;
}

const char *conf_source(const rbacd_conf *c, const char *name, char *buf, size_t len)
{
    const conf_row *r = row_find(name);
    snprintf(buf, len, "built-in default");
    if (!r)
        return buf;
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *f = &conf_rows[i];
        const char *path = f->type == CT_FILE ? *FIELD_IN(c, f, char *) : NULL;
        if (path && *path && strcmp(f->target, r->name) == 0) {
            snprintf(buf, len, "%s %s", f->name, path);
            return buf;
        }
    }
    if (c->from_env & ROW_BIT(r))
        snprintf(buf, len, "environment variable %s", r->env);
    else if (c->given & ROW_BIT(r))
        snprintf(buf, len, "%s", r->name);
    return buf;
}

void conf_apply_runtime(const rbacd_conf *c, const char *name)
{
    const conf_row *r = row_find(name);
    if (r && (r->flags & CONF_RUNTIME) && r->apply)
        r->apply(c);
}

/* "NAME ROLE NAME ROLE ..." of every user; hashes stay private. Caller frees. */
static char *users_text(const rbacd_conf *c)
{
    size_t total = 1;
    for (size_t i = 0; i < c->nusers; i++)
        total += strlen(c->users[i].name) + strlen(conf_role_name(c->users[i].role)) + 2;
    char *s = mem_alloc(total);
    size_t n = 0;
    s[0] = '\0';
    for (size_t i = 0; i < c->nusers; i++)
        n += (size_t)snprintf(s + n, total - n, "%s%s %s", i ? " " : "", c->users[i].name,
                              conf_role_name(c->users[i].role));
    return s;
}

/* The current value of r as CONFIG GET shows it: in buf, a field, a constant, or in
 * *owned (the caller frees it). */
static const char *row_format(const rbacd_conf *c, const conf_row *r, char *buf, size_t len,
                              char **owned)
{
    switch (r->type) {
    case CT_INT:
    case CT_BYTES:
        snprintf(buf, len, "%lld", *FIELD_IN(c, r, long long));
        return buf;
    case CT_OCTAL:
        snprintf(buf, len, "%llo", (unsigned long long)*FIELD_IN(c, r, long long));
        return buf;
    case CT_BOOL:
        return *FIELD_IN(c, r, bool) ? "yes" : "no";
    case CT_ENUM: {
        int v = *FIELD_IN(c, r, int);
        for (int i = 0; r->names[i]; i++)
            if (i == v)
                return r->names[i];
        return "";
    }
    case CT_STRING:
    case CT_BIND:
    case CT_FILE: {
        const char *s = *FIELD_IN(c, r, char *);
        if (!s || !*s)
            return "";
        return r->flags & CONF_SECRET ? SECRET_MASK : s;
    }
    case CT_USER:
        return *owned = users_text(c);
    }
    return "";
}

void conf_get(const rbacd_conf *c, const char *pattern, size_t plen,
              void (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_rows); i++) {
        const conf_row *r = &conf_rows[i];
        if (!util_glob_match(pattern, plen, r->name, strlen(r->name), true))
            continue;
        char buf[32], *owned = NULL;
        emit(ctx, r->name, row_format(c, r, buf, sizeof buf, &owned));
        mem_free(owned);
    }
    for (size_t i = 0; i < ARRAY_LEN(conf_pseudo); i++) {
        const char *name = conf_pseudo[i].name;
        if (util_glob_match(pattern, plen, name, strlen(name), true))
            emit(ctx, name, conf_pseudo[i].value);
    }
}

static const char *name_of(const char *const *names, size_t count, int v)
{
    return v >= 0 && (size_t)v < count && names[v] ? names[v] : "unknown";
}

const char *conf_role_name(int role)
{
    return name_of(role_names, ARRAY_LEN(role_names), role);
}

const char *conf_loglevel_name(int level)
{
    return name_of(loglevel_names, ARRAY_LEN(loglevel_names), level);
}

const char *conf_profile_name(int profile)
{
    return name_of(profile_names, ARRAY_LEN(profile_names), profile);
}
