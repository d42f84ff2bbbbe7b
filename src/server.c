/*
 * The server: one event loop thread running listeners, clients, timers and signals,
 * plus the general worker pool (worker.h holds the threading rule and lists every
 * pool). This file owns the start-up and the orderly shutdown described in server.h;
 * the modules (module.h) come and go through their hooks, in module_list order.
 */
#include "server.h"
#include "auth.h"
#include "client.h"
#include "command.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "module.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SERVER_CRON_MS         100 /* housekeeping period */
#define SERVER_ACCEPT_PAUSE_MS 100 /* accepting stops this long when out of descriptors */
#define SERVER_RESERVED_FDS    64  /* descriptors kept for listeners, logs, MariaDB, workers */
#define SERVER_LISTEN_BACKLOG  511
#define SLOWLOG_MAX_ARGS       32  /* arguments kept per slowlog entry */
#define SLOWLOG_MAX_ARG_LEN    128 /* bytes kept per argument */

server_t server;

static const char protected_msg[] =
    "-DENIED rbacd is running in protected mode because protected mode is enabled and no "
    "password is set for the default user and no users are configured. In this mode "
    "connections are only accepted from the loopback interface. Set requirepass or a user "
    "line, or disable protected-mode, then restart.\r\n";

static void format_addr(const struct sockaddr *sa, char *out, size_t outlen, bool *loopback)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    *loopback = false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        snprintf(out, outlen, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        snprintf(out, outlen, "%s:%d", host, port);
    } else {
        *loopback = true;
        snprintf(out, outlen, "%s:0", server.conf.unixsocket ? server.conf.unixsocket : "");
    }
}

/* Refuses a connection with msg. A tls-port connection is closed without a word: the
 * message would have to wait for a handshake, holding the descriptor being refused. */
static void reject(int fd, int kind, const char *msg)
{
    if (kind != CLIENT_TLS) {
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
    }
    close(fd);
    server.stats.rejected_conns++;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    int kind = (int)(intptr_t)arg;
    char addr[64], laddr[64];
    bool loopback;
    format_addr(sa, addr, sizeof addr, &loopback);
    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    bool dummy;
    if (kind != CLIENT_UNIX && getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        format_addr((struct sockaddr *)&local, laddr, sizeof laddr, &dummy);
    else
        snprintf(laddr, sizeof laddr, "%s:0", server.conf.unixsocket);
    if (server.shutting_down) {
        close(fd);
        return;
    }
    if (server.nclients >= (size_t)server.conf.maxclients) {
        reject(fd, kind, "-ERR max number of clients reached\r\n");
        return;
    }
    if (server.conf.protected_mode && !loopback && !auth_required()) {
        reject(fd, kind, protected_msg);
        return;
    }
    server.stats.connections++;
    client *c = client_create(fd, kind, addr, laddr, loopback);
    if (!c)
        return;
    auth_reset_client(c);
    log_client(LOG_LVL_VERBOSE, c, "accepted");
}

static void resume_accepting(evutil_socket_t fd, short what, void *arg)
{
    if (server.shutting_down)
        return;
    for (int i = 0; i < server.nlisteners; i++)
        evconnlistener_enable(server.listeners[i]);
}

static void on_listener_error(struct evconnlistener *l, void *arg)
{
    int err = errno;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept failed: %s", strerror(err));
        return;
    }
    /* Out of descriptors: the pending connection would make accept fail again at once,
     * so stop accepting for a moment instead of spinning. */
    log_warn("accept failed: %s; not accepting for %d ms", strerror(err), SERVER_ACCEPT_PAUSE_MS);
    for (int i = 0; i < server.nlisteners; i++)
        evconnlistener_disable(server.listeners[i]);
    struct timeval tv = {0, SERVER_ACCEPT_PAUSE_MS * 1000};
    event_base_once(server.base, -1, EV_TIMEOUT, resume_accepting, NULL, &tv);
}

void server_fit_maxclients(void)
{
    rlim_t want = (rlim_t)server.conf.maxclients + SERVER_RESERVED_FDS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = cur;
    if (rl.rlim_cur < want) {
        long long fit = rl.rlim_cur > SERVER_RESERVED_FDS + 1
                            ? (long long)(rl.rlim_cur - SERVER_RESERVED_FDS)
                            : 1;
        log_warn("open file limit is %llu: maxclients lowered from %lld to %lld",
                 (unsigned long long)rl.rlim_cur, server.conf.maxclients, fit);
        server.conf.maxclients = fit;
    }
}

static bool listen_fd(int fd, int kind)
{
    if (server.nlisteners >= SERVER_MAX_LISTENERS) {
        close(fd);
        log_warn("too many listeners");
        return false;
    }
    struct evconnlistener *l = evconnlistener_new(server.base, on_accept, (void *)(intptr_t)kind,
                                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                                  SERVER_LISTEN_BACKLOG, fd);
    if (!l) {
        close(fd);
        return false;
    }
    evconnlistener_set_error_cb(l, on_listener_error);
    server.listeners[server.nlisteners++] = l;
    return true;
}

/* Binds one TCP address ("-" prefix: optional, failure only logged) on port_num, for
 * clients of kind (CLIENT_TCP, or CLIENT_TLS on tls-port). */
static bool listen_tcp(const char *spec, long long port_num, int kind)
{
    bool optional = spec[0] == '-';
    const char *host = optional ? spec + 1 : spec;
    char port[24];
    snprintf(port, sizeof port, "%lld", port_num);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        log_warn("cannot listen on %s:%s: %s", host, port, gai_strerror(rc));
        return optional;
    }
    bool ok = false;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SERVER_LISTEN_BACKLOG) != 0) {
            log_warn("cannot listen on %s:%s: %s", host, port, strerror(errno));
            close(fd);
            continue;
        }
        evutil_make_socket_nonblocking(fd);
        ok = listen_fd(fd, kind);
        if (ok)
            log_notice("listening on %s:%s%s", host, port, kind == CLIENT_TLS ? " (TLS)" : "");
    }
    freeaddrinfo(res);
    return ok || optional;
}

static bool listen_unix(const char *path)
{
    struct sockaddr_un sun = {0};
    if (strlen(path) >= sizeof sun.sun_path) {
        log_warn("unixsocket path too long: %s", path);
        return false;
    }
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(fd, SERVER_LISTEN_BACKLOG) != 0) {
        log_warn("cannot listen on unix socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    chmod(path, (mode_t)server.conf.unixsocketperm);
    evutil_make_socket_nonblocking(fd);
    if (!listen_fd(fd, CLIENT_UNIX))
        return false;
    log_notice("listening on unix socket %s", path);
    return true;
}

/* Listens on every bind address at port_num (nothing when it is 0). */
static bool listen_bind_addresses(long long port_num, int kind)
{
    if (port_num <= 0)
        return true;
    char *copy = mem_strdup(server.conf.bind ? server.conf.bind : "");
    char *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(copy, " ", &save); tok && ok; tok = strtok_r(NULL, " ", &save))
        ok = listen_tcp(tok, port_num, kind);
    mem_free(copy);
    return ok;
}

static bool open_listeners(void)
{
    if (!listen_bind_addresses(server.conf.port, CLIENT_TCP) ||
        !listen_bind_addresses(server.conf.tls_port, CLIENT_TLS))
        return false;
    if (server.conf.unixsocket && server.conf.unixsocket[0] && !listen_unix(server.conf.unixsocket))
        return false;
    if (server.nlisteners == 0) {
        log_warn("no listener is open (port 0, tls-port 0 and no unixsocket?)");
        return false;
    }
    return true;
}

static void close_listeners(void)
{
    for (int i = 0; i < server.nlisteners; i++)
        evconnlistener_free(server.listeners[i]);
    server.nlisteners = 0;
    if (server.conf.unixsocket && server.conf.unixsocket[0])
        unlink(server.conf.unixsocket);
}

void server_shutdown(void)
{
    if (server.shutting_down)
        return;
    server.shutting_down = true;
    log_notice("shutting down");
    close_listeners();
    event_base_loopexit(server.base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    if (sig == SIGHUP) {
        log_reopen();
        log_notice("received SIGHUP, log file reopened");
        return;
    }
    log_notice("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_shutdown();
}

static void sample_ops(void)
{
    int64_t now = util_mono_us();
    if (server.ops_last_us) {
        int64_t dt = now - server.ops_last_us;
        uint64_t dn = server.stats.commands >= server.ops_last_commands
                          ? server.stats.commands - server.ops_last_commands
                          : 0;
        server.ops_samples[server.ops_sample_idx] = dt > 0 ? dn * 1000000 / (uint64_t)dt : 0;
        server.ops_sample_idx = (server.ops_sample_idx + 1) % SERVER_OPS_SAMPLES;
    }
    server.ops_last_us = now;
    server.ops_last_commands = server.stats.commands;
}

uint64_t server_ops_per_sec(void)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < SERVER_OPS_SAMPLES; i++)
        sum += server.ops_samples[i];
    return sum / SERVER_OPS_SAMPLES;
}

static void on_cron(evutil_socket_t fd, short what, void *arg)
{
    sample_ops();
    module_cron_all(module_list, server.modules_started, util_now_ms());
    if (server.conf.timeout > 0) {
        int64_t now = util_now_ms();
        for (client *c = server.clients, *next; c; c = next) {
            next = c->next;
            if (c->state == CLIENT_READY && now - c->last_ms > server.conf.timeout * 1000) {
                log_client(LOG_LVL_VERBOSE, c, "idle timeout");
                client_free(c);
            }
        }
    }
}

static void slowlog_entry_free(slowlog_entry *e)
{
    for (size_t i = 0; i < e->argc; i++)
        mem_free(e->argv[i]);
    mem_free(e->argv);
    memset(e, 0, sizeof *e);
}

static void slowlog_clear(void)
{
    for (size_t i = 0; i < server.slowlog_len; i++)
        slowlog_entry_free(&server.slowlog[i]);
    mem_free(server.slowlog);
    server.slowlog = NULL;
    server.slowlog_len = server.slowlog_head = 0;
}

void server_slowlog_record(const client *c, size_t argc, const void *argvp, int64_t usec,
                           size_t shown)
{
    size_t cap = (size_t)server.conf.slowlog_max_len;
    if (!c || cap == 0) {
        slowlog_clear();
        return;
    }
    const resp_arg *argv = argvp;
    if (!server.slowlog)
        server.slowlog = mem_calloc(cap, sizeof *server.slowlog);
    slowlog_entry *e = &server.slowlog[server.slowlog_head];
    slowlog_entry_free(e);
    e->id = server.slowlog_next_id++;
    e->time_s = util_now_ms() / 1000;
    e->usec = usec;
    e->argc = argc < SLOWLOG_MAX_ARGS ? argc : SLOWLOG_MAX_ARGS;
    e->argv = mem_calloc(e->argc, sizeof *e->argv);
    /* Secret commands keep the name (and subcommand) only: no password, no token. */
    for (size_t i = 0; i < e->argc; i++) {
        if (i >= shown) {
            e->argv[i] = mem_strdup("(redacted)");
        } else if (argv[i].len > SLOWLOG_MAX_ARG_LEN) {
            buf b;
            buf_init(&b);
            buf_append(&b, argv[i].ptr, SLOWLOG_MAX_ARG_LEN);
            buf_printf(&b, "... (%zu more bytes)", argv[i].len - SLOWLOG_MAX_ARG_LEN);
            e->argv[i] = b.data;
        } else {
            e->argv[i] = mem_strndup(argv[i].ptr, argv[i].len);
        }
    }
    snprintf(e->addr, sizeof e->addr, "%s", c->addr);
    snprintf(e->name, sizeof e->name, "%s", c->name ? c->name : "");
    server.slowlog_head = (server.slowlog_head + 1) % cap;
    if (server.slowlog_len < cap)
        server.slowlog_len++;
}

void server_slowlog_reset(void)
{
    slowlog_clear();
}

static bool write_pidfile(void)
{
    if (!server.conf.pidfile || !server.conf.pidfile[0])
        return true;
    FILE *f = fopen(server.conf.pidfile, "w");
    if (!f) {
        log_warn("cannot write pidfile %s: %s", server.conf.pidfile, strerror(errno));
        return false;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    server.pid_written = 1;
    return true;
}

static bool add_signal(struct event **ev, int sig)
{
    *ev = evsignal_new(server.base, sig, on_signal, NULL);
    return *ev && event_add(*ev, NULL) == 0;
}

static void free_all_clients(void)
{
    while (server.clients)
        client_free_flush(server.clients); /* last chance for replies (SHUTDOWN, QUIT) */
}

int server_main(void)
{
    int status = 1;
    char err[256];
    server.start_ms = util_now_ms();
    server.start_mono_us = util_mono_us();
    server.loading = true;
    idmap_init(&server.clients_by_id);
    log_set_level(server.conf.loglevel);
    if (!log_open(server.conf.logfile)) {
        fprintf(stderr, "rbacd: cannot open logfile %s: %s\n", server.conf.logfile,
                strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < server.conf.nwarnings; i++)
        log_warn("%s", server.conf.warnings[i]);
    log_notice("database password from %s",
               conf_source(&server.conf, "db-password", err, sizeof err));
    if (!auth_init(&server.conf, err, sizeof err)) {
        log_warn("%s", err);
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    server.base = event_base_new();
    if (!server.base) {
        log_warn("cannot create the event loop");
        goto done;
    }
    command_init();
    server_fit_maxclients();
    if (server.conf.tls_port > 0 &&
        !(server.tls_ctx = tls_ctx_new(&server.conf, err, sizeof err))) {
        log_warn("%s", err);
        goto done;
    }
    if (!open_listeners())
        goto done;
    if (!add_signal(&server.ev_sigterm, SIGTERM) || !add_signal(&server.ev_sigint, SIGINT) ||
        !add_signal(&server.ev_sighup, SIGHUP)) {
        log_warn("cannot install signal handlers");
        goto done;
    }
    server.ev_cron = event_new(server.base, -1, EV_PERSIST, on_cron, NULL);
    struct timeval tv = {0, SERVER_CRON_MS * 1000};
    event_add(server.ev_cron, &tv);
    db_params dbp;
    db_params_from_conf(&dbp, &server.conf);
    server.workers = worker_pool_start(server.base, (size_t)server.conf.worker_threads, &dbp);
    worker_pool_set_name(server.workers, "general");
    sodium_memzero(&dbp, sizeof dbp); /* the pool has its copy; wipe ours on every path */
    if (!server.workers)
        goto done;
    if (!write_pidfile())
        goto done;
    log_notice("rbacd %s started, pid %d, profile %s", RBACD_VERSION, (int)getpid(),
               conf_profile_name(server.conf.profile));
    if (!module_init_all(module_list, &server.modules_started))
        goto done;
    event_base_dispatch(server.base);
    status = 0;
done:
    close_listeners();
    free_all_clients();
    module_shutdown_all(module_list, &server.modules_started);
    if (server.workers)
        worker_pool_stop(server.workers);
    server.workers = NULL;
    slowlog_clear();
    if (server.ev_cron)
        event_free(server.ev_cron);
    if (server.ev_sigterm)
        event_free(server.ev_sigterm);
    if (server.ev_sigint)
        event_free(server.ev_sigint);
    if (server.ev_sighup)
        event_free(server.ev_sighup);
    command_free();
    auth_free();
    tls_ctx_free(server.tls_ctx);
    server.tls_ctx = NULL;
    idmap_free(&server.clients_by_id);
    if (server.base)
        event_base_free(server.base);
    libevent_global_shutdown();
    if (server.pid_written)
        unlink(server.conf.pidfile);
    log_notice("rbacd stopped");
    return status;
}
