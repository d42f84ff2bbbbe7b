/*
 * Connected clients: socket I/O, request framing and the blocked/closing states
 * described in client.h.
 *
 * Reading: bytes are appended to c->in and parsed in place; c->in_pos marks what the
 * parsed requests used. Argument views (c->req.argv) point into c->in and are valid
 * only while the handler runs; a handler that hands work to a worker copies what it
 * needs. The input is compacted after each read batch, never while a request is live.
 * Once every byte of it was used, the buffer goes back to the loop's one spare input
 * buffer (spare_in), which the next client to read borrows: an idle connection holds no
 * input buffer, only its struct and events (about 1 KiB; test_faults.py measures it),
 * and a busy one reads into the same warm buffer each time, with no malloc or free. A
 * client left with half a request keeps the buffer it read into until it is used up.
 *
 * Writing: replies collect in c->out during a batch and go out with one write(2);
 * what the socket does not take waits for EV_WRITE.
 *
 * Bytes move through client_sock_read() and client_sock_write(), the one place that
 * tells a plain socket from a TLS session (tls.h): read(2)/write(2), or tls_read()/
 * tls_write(), answering in the same terms. The rest is shared, with two additions a
 * plain socket never needs: a read that must first write waits for EV_WRITE
 * (read_wants_write), a write that must first read waits for EV_READ
 * (write_wants_read); and input already inside the session after a read makes the
 * read event active again, since the socket will not signal it. A plain connection
 * whose first byte opens a TLS handshake record is a TLS client on the wrong port: it
 * is closed at once, without a reply it could not read.
 *
 * A client is never freed from inside its own request processing: commands that end a
 * connection (QUIT, CLIENT KILL of itself, protocol errors) move it to CLIENT_CLOSING
 * and the I/O path frees it once the last reply is written.
 */
#include "client.h"
#include "command.h"
#include "log.h"
#include "mem.h"
#include "monitor.h"
#include "server.h"
#include "tls.h"
#include "tracking.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_READ_CHUNK         16384         /* bytes asked of read(2) at least */
#define CLIENT_IDLE_BUF_KEEP      65536         /* idle buffers above this are released */
#define CLIENT_PREAUTH_MAX_ARGS   16            /* before AUTH: HELLO 3 AUTH u p SETNAME n fits */
#define CLIENT_PREAUTH_MAX_BULK   4096          /* before AUTH: enough for a name and password */
#define CLIENT_PREAUTH_MAX_QUERY  16384         /* before AUTH: buffered input at most */
#define CLIENT_PREAUTH_MAX_OUTPUT 65536         /* before AUTH: pending replies at most */
#define CLIENT_MAX_ARGS           (1024 * 1024) /* after AUTH: arguments in one request */
#define CLIENT_MAX_INLINE         (64 * 1024)   /* inline request line */
#define CLIENT_IO_ERR_MAX         256           /* why a read or write failed, for the log */
#define TLS_RECORD_HANDSHAKE      0x16 /* first byte of a TLS ClientHello; no RESP request's */

static void client_on_read(evutil_socket_t fd, short what, void *arg);

/* The spare input buffer (loop thread only): empty, lent to a client that reads with no
 * input of its own, given back when that client's input is used up (see the top). */
static buf spare_in;

/* Before a read: a client holding no input borrows the spare buffer. */
static void input_borrow(client *c)
{
    if (c->in.data == NULL && spare_in.data != NULL) {
        c->in = spare_in;
        buf_init(&spare_in);
    }
}

/* After a batch: input used up goes back as the spare buffer (or is freed, when there
 * is one already or it grew large). */
static void input_give_back(client *c)
{
    if (c->in.len != 0 || c->in.data == NULL)
        return;
    if (spare_in.data == NULL && c->in.cap <= CLIENT_IDLE_BUF_KEEP) {
        spare_in = c->in;
        buf_init(&c->in);
    } else {
        buf_free(&c->in);
    }
}

void client_free_spare_input(void)
{
    buf_free(&spare_in);
}
static void client_on_write(evutil_socket_t fd, short what, void *arg);

static void client_set_reading(client *c, bool on)
{
    if (on == c->reading)
        return;
    if (on) {
        event_add(c->ev_read, NULL);
        /* Input the session already holds: the socket will not say so. */
        if (c->tls && tls_pending(c->tls))
            event_active(c->ev_read, EV_READ, 0);
    } else {
        event_del(c->ev_read);
    }
    c->reading = on;
}

/* ---- moving bytes: a plain socket or a TLS session ---- */

/* Reads up to len bytes: n > 0, or an enum tls_io (err set for TLS_IO_ERROR). */
static ssize_t client_sock_read(client *c, char *dst, size_t len, char *err, size_t errlen)
{
    if (c->tls)
        return tls_read(c->tls, dst, len, err, errlen);
    for (;;) {
        ssize_t n = read(c->fd, dst, len);
        if (n >= 0)
            return n; /* 0 = TLS_IO_CLOSED */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TLS_IO_WANT_READ;
        snprintf(err, errlen, "%s", strerror(errno));
        return TLS_IO_ERROR;
    }
}

/* Writes up to len bytes: n > 0, or an enum tls_io (err set for TLS_IO_ERROR). */
static ssize_t client_sock_write(client *c, const char *src, size_t len, char *err, size_t errlen)
{
    if (c->tls)
        return tls_write(c->tls, src, len, err, errlen);
    for (;;) {
        ssize_t n = write(c->fd, src, len);
        if (n >= 0)
            return n > 0 ? n : TLS_IO_WANT_WRITE;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TLS_IO_WANT_WRITE;
        snprintf(err, errlen, "%s", strerror(errno));
        return TLS_IO_ERROR;
    }
}

/* Whether output waits for an event (the socket full, or a TLS write that has to read
 * first) rather than being writable now. */
static bool client_output_waits(const client *c)
{
    return c->write_wants_read || event_pending(c->ev_write, EV_WRITE, NULL);
}

client *client_create(int fd, int kind, const char *addr, const char *laddr, bool loopback)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        close(fd);
        return NULL;
    }
    struct ssl_st *tls = NULL;
    if (kind == CLIENT_TLS && !(tls = tls_conn_new(server.tls_ctx, fd))) {
        log_warn("cannot start a TLS session for %s", addr);
        close(fd);
        return NULL;
    }
    if (kind != CLIENT_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (server.conf.tcp_keepalive > 0) {
            int idle = (int)server.conf.tcp_keepalive;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        }
    }
    client *c = mem_calloc(1, sizeof *c);
    c->id = ++server.next_client_id;
    c->fd = fd;
    c->kind = kind;
    c->tls = tls;
    c->proto = 2;
    c->loopback = loopback;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    snprintf(c->laddr, sizeof c->laddr, "%s", laddr);
    snprintf(c->user, sizeof c->user, "default");
    c->created_ms = c->last_ms = util_now_ms();
    buf_init(&c->in);
    buf_init(&c->out);
    resp_request_init(&c->req);
    c->ev_read = event_new(server.base, fd, EV_READ | EV_PERSIST, client_on_read, c);
    c->ev_write = event_new(server.base, fd, EV_WRITE, client_on_write, c);
    c->next = server.clients;
    if (server.clients)
        server.clients->prev = c;
    server.clients = c;
    server.nclients++;
    idmap_put(&server.clients_by_id, c->id, (uint64_t)(uintptr_t)c);
    client_set_reading(c, true);
    return c;
}

void client_free(client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        server.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    server.nclients--;
    idmap_del(&server.clients_by_id, c->id);
    tracking_client_gone(c);
    monitor_stop(c);
    log_client(LOG_LVL_VERBOSE, c, "closed");
    event_free(c->ev_read);
    event_free(c->ev_write);
    tls_conn_free(c->tls);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    resp_request_free(&c->req);
    mem_free(c->name);
    mem_free(c->lib_name);
    mem_free(c->lib_ver);
    mem_free(c);
}

void client_free_flush(client *c)
{
    if (c->out_pos < c->out.len) {
        char err[CLIENT_IO_ERR_MAX];
        ssize_t n = client_sock_write(c, c->out.data + c->out_pos, c->out.len - c->out_pos, err,
                                      sizeof err);
        (void)n; /* the connection closes either way */
    }
    client_free(c);
}

client *client_by_id(uint64_t id)
{
    uint64_t v;
    if (!idmap_get(&server.clients_by_id, id, &v))
        return NULL;
    return (client *)(uintptr_t)v;
}

void client_close_after_reply(client *c)
{
    c->state = CLIENT_CLOSING;
    client_set_reading(c, c->write_wants_read); /* a TLS write may need the peer's bytes */
}

void client_abort(client *c)
{
    c->out_pos = c->out.len; /* nothing more is sent to it */
    client_close_after_reply(c);
}

/* Pending output beyond the limit pauses reading (backpressure). Before AUTH the limit
 * is small and exceeding it closes the connection: nobody needs 64 KiB of NOAUTH. */
static size_t client_output_limit(const client *c)
{
    if (!c->authenticated)
        return CLIENT_PREAUTH_MAX_OUTPUT;
    return server.conf.client_output_limit > 0 ? (size_t)server.conf.client_output_limit : SIZE_MAX;
}

bool client_output_over_limit(const client *c)
{
    return c->out.len - c->out_pos > client_output_limit(c);
}

/* Writes as much as the socket takes. Returns false when c was freed. */
static bool client_write_now(client *c)
{
    while (c->out_pos < c->out.len) {
        char err[CLIENT_IO_ERR_MAX];
        ssize_t n = client_sock_write(c, c->out.data + c->out_pos, c->out.len - c->out_pos, err,
                                      sizeof err);
        if (n > 0) {
            c->out_pos += (size_t)n;
            server.stats.net_out += (uint64_t)n;
            continue;
        }
        if (n == TLS_IO_WANT_WRITE) {
            event_add(c->ev_write, NULL);
            return true;
        }
        if (n == TLS_IO_WANT_READ) {
            c->write_wants_read = true;
            client_set_reading(c, true);
            return true;
        }
        log_client(LOG_LVL_VERBOSE, c, "write error: %s", err);
        client_free(c);
        return false;
    }
    buf_clear(&c->out);
    c->out_pos = 0;
    buf_shrink_idle(&c->out, CLIENT_IDLE_BUF_KEEP);
    if (c->state == CLIENT_CLOSING) {
        client_free(c);
        return false;
    }
    return true;
}

void client_write_now_safe(client *c)
{
    if (client_output_waits(c))
        return; /* the socket is full, or a TLS write waits to read: the event goes on */
    while (c->out_pos < c->out.len) {
        char err[CLIENT_IO_ERR_MAX];
        ssize_t n = client_sock_write(c, c->out.data + c->out_pos, c->out.len - c->out_pos, err,
                                      sizeof err);
        if (n > 0) {
            c->out_pos += (size_t)n; /* not compacted: offsets into c->out stay valid */
            server.stats.net_out += (uint64_t)n;
            continue;
        }
        if (n == TLS_IO_WANT_WRITE) {
            event_add(c->ev_write, NULL);
        } else if (n == TLS_IO_WANT_READ) {
            c->write_wants_read = true;
            client_set_reading(c, true);
        } else {
            log_client(LOG_LVL_VERBOSE, c, "write error: %s", err);
            event_active(c->ev_write, EV_WRITE, 1); /* client_on_write meets it and frees c */
        }
        return;
    }
}

void client_flush_soon(client *c)
{
    /* Active now even while waiting for a writable socket: a client marked for closing
     * that never reads is freed without waiting for that. */
    event_active(c->ev_write, EV_WRITE, 1);
}

void client_flush(client *c)
{
    if (client_output_waits(c))
        return; /* the write (or read) event will take it from here */
    client_write_now(c);
}

void client_flush_later(client *c)
{
    if (!client_output_waits(c))
        event_add(c->ev_write, NULL);
}

void client_close_soon(client *c)
{
    client_abort(c);
    event_active(c->ev_write, EV_WRITE, 1); /* even if the socket never becomes writable */
}

static void client_limits(const client *c, resp_limits *lim, size_t *max_query)
{
    if (c->authenticated) {
        lim->max_args = CLIENT_MAX_ARGS;
        lim->max_bulk = (size_t)server.conf.proto_max_bulk_len;
        lim->max_inline = CLIENT_MAX_INLINE;
        *max_query = (size_t)server.conf.proto_max_bulk_len * 2 + CLIENT_MAX_INLINE;
    } else {
        lim->max_args = CLIENT_PREAUTH_MAX_ARGS;
        lim->max_bulk = CLIENT_PREAUTH_MAX_BULK;
        lim->max_inline = CLIENT_PREAUTH_MAX_BULK;
        *max_query = CLIENT_PREAUTH_MAX_QUERY;
    }
}

/* Why client_process_input() stopped. */
enum input_stop {
    INPUT_DRAINED = 0,     /* no whole request is buffered: wait for bytes */
    INPUT_OUTPUT_FULL = 1, /* replies pending over the limit: write first */
    INPUT_STOPPED = 2,     /* blocked on a job, or closing */
};

/* Parses and runs buffered requests until the input runs out, the output is over its
 * limit, the client blocks, or it starts closing. Compacts the input afterwards. */
static enum input_stop client_process_input(client *c)
{
    resp_limits lim;
    size_t max_query;
    enum input_stop why = INPUT_DRAINED;
    command_batch_begin(); /* one clock read per batch, not per request */
    int64_t now_ms = server.now_ms;
    while (c->in_pos < c->in.len) {
        if (c->state != CLIENT_READY) {
            why = INPUT_STOPPED;
            break;
        }
        if (client_output_over_limit(c)) {
            why = INPUT_OUTPUT_FULL;
            break;
        }
        client_limits(c, &lim, &max_query);
        size_t used = 0;
        enum resp_status st =
            resp_parse(&c->req, c->in.data + c->in_pos, c->in.len - c->in_pos, &lim, &used);
        if (st == RESP_INCOMPLETE) {
            if (c->in.len - c->in_pos > max_query) {
                resp_error(&c->out, "ERR Protocol error: query buffer limit reached");
                client_close_after_reply(c);
            }
            break;
        }
        if (st == RESP_ERROR) {
            resp_error(&c->out, "ERR %s", c->req.error);
            log_client(LOG_LVL_VERBOSE, c, "%s", c->req.error);
            client_close_after_reply(c);
            break;
        }
        if (c->req.argc > 0) {
            c->last_ms = now_ms;
            c->commands++;
            command_process(c);
        }
        c->in_pos += used;
    }
    if (c->state != CLIENT_READY)
        why = INPUT_STOPPED;
    if (c->in_pos > 0) {
        buf_consume(&c->in, c->in_pos);
        c->in_pos = 0;
    }
    input_give_back(c); /* an idle client holds no input buffer (see the top) */
    return why;
}

/* Reading stays on while the client can take more input: also while it is blocked (so
 * a hang-up is noticed and frees it at once), up to the query limit. It pauses while
 * replies are over the output limit, which is what pushes back on a client that does
 * not read. */
static bool client_wants_input(const client *c)
{
    resp_limits lim;
    size_t max_query;
    client_limits(c, &lim, &max_query);
    return c->state != CLIENT_CLOSING && !client_output_over_limit(c) &&
           !(c->state == CLIENT_BLOCKED && c->in.len > max_query);
}

/* A TLS write that waits for the peer keeps the read event on, whatever the input
 * wants. */
static void client_update_reading(client *c)
{
    client_set_reading(c, client_wants_input(c) || c->write_wants_read);
}

/* Runs buffered requests and writes their replies until the client has to wait for
 * input, for a job, or for the socket. Returns false when c was freed. */
static bool client_pump(client *c)
{
    for (;;) {
        enum input_stop why = client_process_input(c);
        if (!c->authenticated && client_output_over_limit(c)) {
            log_client(LOG_LVL_VERBOSE, c, "closed: too much output before AUTH");
            client_abort(c);
        }
        if (client_output_waits(c))
            break; /* the socket is full; client_on_write pumps again */
        if (!client_write_now(c))
            return false;
        if (client_output_waits(c) || why != INPUT_OUTPUT_FULL)
            break;
        /* everything was written: go on with the requests still buffered */
    }
    client_update_reading(c);
    return true;
}

/* The handshake has just finished: say so once, with what was agreed. */
static void client_tls_ready(client *c)
{
    c->tls_ready = true;
    if (atomic_load_explicit(&log_min_level, memory_order_relaxed) <= LOG_LVL_VERBOSE) {
        char what[CLIENT_IO_ERR_MAX];
        tls_describe(c->tls, what, sizeof what);
        log_client(LOG_LVL_VERBOSE, c, "TLS handshake done: %s", what);
    }
}

/* Reads what the connection has into c->in and runs it. Returns false when c was
 * freed. */
static bool client_read_now(client *c)
{
    size_t want = CLIENT_READ_CHUNK;
    if (c->req.need > c->in.len && c->req.need - c->in.len > want)
        want = c->req.need - c->in.len;
    input_borrow(c);
    buf_reserve(&c->in, want);
    char err[CLIENT_IO_ERR_MAX];
    ssize_t n =
        client_sock_read(c, c->in.data + c->in.len, c->in.cap - c->in.len - 1, err, sizeof err);
    if (c->tls && !c->tls_ready && n != TLS_IO_ERROR && tls_handshake_done(c->tls))
        client_tls_ready(c);
    if (n == TLS_IO_WANT_READ) {
        input_give_back(c); /* nothing came: the borrowed buffer is not kept */
        return true;
    }
    if (n == TLS_IO_WANT_WRITE) {
        input_give_back(c);
        c->read_wants_write = true;
        event_add(c->ev_write, NULL);
        return true;
    }
    if (n <= 0) {
        if (n == TLS_IO_ERROR && c->tls && !c->tls_ready)
            log_client(LOG_LVL_VERBOSE, c, "TLS handshake failed: %s", err);
        else if (n == TLS_IO_ERROR)
            log_client(LOG_LVL_VERBOSE, c, "read error: %s", err);
        client_free(c); /* a job still running for it finds no client by id */
        return false;
    }
    c->in.len += (size_t)n;
    c->in.data[c->in.len] = '\0';
    server.stats.net_in += (uint64_t)n;
    if (!c->tls && c->commands == 0 && c->in.len == (size_t)n &&
        (unsigned char)c->in.data[0] == TLS_RECORD_HANDSHAKE) {
        /* A TLS client on the plain port: no reply it could read, no request run. */
        if (server.conf.tls_port > 0)
            log_client(LOG_LVL_VERBOSE, c,
                       "closed: a TLS handshake on the plain port (tls-port is %lld)",
                       server.conf.tls_port);
        else
            log_client(LOG_LVL_VERBOSE, c,
                       "closed: a TLS handshake on the plain port (no tls-port)");
        client_free(c);
        return false;
    }
    if (c->state == CLIENT_READY) {
        if (!client_pump(c))
            return false;
    } else {
        client_update_reading(c);
    }
    /* Records the session read ahead are input the socket will not signal again. */
    if (c->tls && c->reading && tls_pending(c->tls))
        event_active(c->ev_read, EV_READ, 0);
    return true;
}

static void client_on_write(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    if (c->read_wants_write) {
        c->read_wants_write = false;
        if (!client_read_now(c))
            return;
    }
    if (!client_write_now(c))
        return;
    if (!client_output_waits(c) && c->state == CLIENT_READY)
        client_pump(c);
    else
        client_update_reading(c);
}

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    if (c->write_wants_read) {
        c->write_wants_read = false;
        if (!client_write_now(c))
            return;
        if (!client_wants_input(c)) {
            client_update_reading(c);
            return;
        }
    }
    client_read_now(c);
}

void client_block(client *c)
{
    c->state = CLIENT_BLOCKED;
}

void client_unblock(client *c)
{
    if (c->state != CLIENT_BLOCKED)
        return;
    c->state = CLIENT_READY;
    client_pump(c);
}

void client_describe(const client *c, buf *out)
{
    int64_t now = util_now_ms();
    const char *cmd = c->last_cmd ? c->last_cmd->fullname : "NULL";
    char events[3] = {0};
    int ne = 0;
    if (c->reading)
        events[ne++] = 'r';
    if (c->out_pos < c->out.len)
        events[ne++] = 'w';
    char tflags[8], flags[16];
    long long redir;
    int sub = tracking_client_describe(c, tflags, &redir) ? 1 : 0;
    const char *state = c->state == CLIENT_BLOCKED   ? "b"
                        : c->state == CLIENT_CLOSING ? "A"
                        : c->monitor                 ? "O"
                                                     : "";
    snprintf(flags, sizeof flags, "%s%s", state, tflags);
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=%d "
               "psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 obl=0 "
               "oll=0 omem=%zu tot-mem=%zu events=%s cmd=%s user=%s redir=%lld resp=%d "
               "lib-name=%s lib-ver=%s",
               (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
               (long long)((now - c->created_ms) / 1000), (long long)((now - c->last_ms) / 1000),
               flags[0] ? flags : "N", sub, c->in.len,
               c->in.cap > c->in.len ? c->in.cap - c->in.len : 0, c->out.len - c->out_pos,
               sizeof *c + c->in.cap + c->out.cap, events, cmd, c->user, redir, c->proto,
               c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

/* ---- waiting for an answer ---- */

/* A job run for a blocked client: what client_run_job() hands the pool. */
typedef struct client_job {
    uint64_t ticket;        /* the waiting client */
    worker_job_fn *job;     /* the work, on a worker thread */
    client_reply_fn *reply; /* the answer, on the loop thread */
    void *arg;              /* for both; reply's once it runs */
} client_job;

static void client_job_run(void *arg)
{
    client_job *j = arg;
    j->job(j->arg);
}

static void client_job_done(void *arg)
{
    client_job *j = arg;
    uint64_t ticket = j->ticket;
    client_reply_fn *reply = j->reply;
    void *reply_arg = j->arg;
    mem_free(j);
    client_resume(ticket, reply, reply_arg);
}

void client_run_job(client *c, struct worker_pool *pool, worker_job_fn *job, client_reply_fn *reply,
                    void *arg)
{
    client_job *j = mem_alloc(sizeof *j);
    j->ticket = client_wait(c);
    j->job = job;
    j->reply = reply;
    j->arg = arg;
    worker_submit(pool, client_job_run, client_job_done, j);
}

uint64_t client_wait(client *c)
{
    client_block(c);
    return c->id;
}

void client_resume(uint64_t ticket, client_reply_fn *reply, void *arg)
{
    client *c = client_by_id(ticket);
    reply(c, arg);
    if (c)
        client_unblock(c); /* may run c's pipelined requests, or free c */
}

bool client_waiting(uint64_t ticket)
{
    return client_by_id(ticket) != NULL;
}
