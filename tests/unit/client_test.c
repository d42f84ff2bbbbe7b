/*
 * client tests: request framing and the blocked/backpressure states of client.h, on a
 * real client over a socketpair registered on an event_base, with the real command
 * table behind it. The `server` struct is set up as little as a client needs: a
 * configuration, the loop, the client id map, the command table, no authentication,
 * the first load marked done (WAITREV, a command that blocks on a timer, then passes
 * the LOADING gate). No database, no worker pool.
 *
 *   test side: fds[1] --requests--> fds[0]: client_create() -> command_process()
 *              fds[1] <--replies---
 *
 * Cases: a stream of mixed requests fed one byte at a time, each reply appearing exactly
 * when its request is complete; a pipeline of thousands of requests; a client blocked
 * in WAITREV answering its pipeline in order; a client that does not read its replies
 * stops being read once its pending output passes client-output-limit, and resumes;
 * an idle client holds no input buffer, one with half a request does, and the next
 * client to read borrows the buffer the last one gave back.
 */
#include "auth.h"
#include "buf.h"
#include "client.h"
#include "command.h"
#include "conf.h"
#include "idmap.h"
#include "log.h"
#include "server.h"
#include "testing.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS   20000 /* a case that waits longer than this has failed */
#define PIPELINE_N    20000 /* requests in the pipeline case */
#define BP_LIMIT      16384 /* client-output-limit in the backpressure case */
#define BP_ARG_LEN    2000  /* bytes ECHOed per request there */
#define BP_N          300   /* requests there */
#define SMALL_SOCKBUF 4096  /* socket buffers there, so that the socket fills soon */

typedef struct peer {
    int fd;      /* the test's end */
    client *c;   /* the server's end */
    buf got;     /* replies read so far */
    buf to_send; /* requests not written yet */
    size_t sent; /* bytes of to_send written */
} peer;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

static bool peer_open(peer *p, int sockbuf)
{
    int fds[2];
    memset(p, 0, sizeof *p);
    buf_init(&p->got);
    buf_init(&p->to_send);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return false;
    if (sockbuf) {
        setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
        setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
        setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
        setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
    }
    set_nonblocking(fds[1]);
    p->fd = fds[1];
    p->c = client_create(fds[0], CLIENT_UNIX, "test:0", "test:0", true);
    if (!p->c) {
        close(fds[1]);
        return false;
    }
    auth_reset_client(p->c); /* no authentication configured: the default user, admin */
    return true;
}

static void peer_close(peer *p)
{
    if (p->c && client_by_id(p->c->id))
        client_free(p->c);
    close(p->fd);
    buf_free(&p->got);
    buf_free(&p->to_send);
}

/* Reads whatever replies are there. */
static void peer_read(peer *p)
{
    char tmp[65536];
    ssize_t n;
    while ((n = read(p->fd, tmp, sizeof tmp)) > 0)
        buf_append(&p->got, tmp, (size_t)n);
}

/* Writes as much of the queued requests as the socket takes. */
static void peer_write(peer *p)
{
    while (p->sent < p->to_send.len) {
        ssize_t n = write(p->fd, p->to_send.data + p->sent, p->to_send.len - p->sent);
        if (n <= 0)
            return;
        p->sent += (size_t)n;
    }
}

/* One pass of the loop without waiting: the client reads, runs and writes what it can. */
static void loop_pass(void)
{
    event_base_loop(server.base, EVLOOP_NONBLOCK);
}

/* Writes, runs the loop and reads until got holds want bytes or the deadline passes. */
static void pump_until(peer *p, size_t want)
{
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (p->got.len < want && now_ms() < deadline) {
        peer_write(p);
        loop_pass();
        peer_read(p);
        if (p->got.len < want && p->sent == p->to_send.len) {
            struct timespec ts = {0, 200000}; /* let timers (WAITREV) come due */
            nanosleep(&ts, NULL);
        }
    }
}

static bool got_is(const peer *p, const char *want, size_t wlen)
{
    if (p->got.len == wlen && memcmp(p->got.data, want, wlen) == 0)
        return true;
    fprintf(stderr, "replies differ: got %zu bytes, want %zu\n", p->got.len, wlen);
    size_t i = 0;
    while (i < p->got.len && i < wlen && p->got.data[i] == want[i])
        i++;
    fprintf(stderr, "  first difference at byte %zu\n", i);
    return false;
}

/* Appends a multibulk request of the given words. */
static void add_request(buf *b, size_t argc, const char *const *argv)
{
    buf_printf(b, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* ---- framing ---- */

typedef struct exchange {
    const char *request; /* bytes on the wire */
    const char *reply;   /* its reply, "" for none */
} exchange;

/* Every request cut at every byte: after each byte the client has answered exactly the
 * requests that are complete, in order, and nothing of the next one. */
static void test_split_at_every_byte(void)
{
    static char big_req[4096 + 64], big_reply[4096 + 64];
    char arg[4097];
    memset(arg, 'x', 4096);
    arg[4096] = '\0';
    snprintf(big_req, sizeof big_req, "*2\r\n$4\r\necho\r\n$4096\r\n%s\r\n", arg);
    snprintf(big_reply, sizeof big_reply, "$4096\r\n%s\r\n", arg);
    const exchange ex[] = {
        {"*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
        {"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n", "$5\r\nhello\r\n"},
        {"PING\r\n", "+PONG\r\n"},                        /* inline */
        {"\r\n", ""},                                     /* an empty inline line: nothing */
        {"ECHO \"a b\"\r\n", "$3\r\na b\r\n"},            /* inline, quoted */
        {"*2\r\n$4\r\nping\r\n$0\r\n\r\n", "$0\r\n\r\n"}, /* an empty argument */
        {"*3\r\n$4\r\nECHO\r\n$1\r\na\r\n$1\r\nb\r\n",
         "-ERR wrong number of arguments for 'echo' command\r\n"},
        {"*1\r\n$7\r\nNOSUCHC\r\n", NULL}, /* an error; its text is command.c's */
        {big_req, big_reply},              /* longer than one read of the start */
        {"*2\r\n$4\r\nECHO\r\n$3\r\nend\r\n", "$3\r\nend\r\n"},
    };
    size_t n = sizeof ex / sizeof ex[0];
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    size_t total = 0, answered = 0, want_len = 0;
    bool in_step = true;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ex[i].request);
        for (size_t k = 0; k < len; k++) {
            CHECK(write(p.fd, ex[i].request + k, 1) == 1);
            loop_pass();
            peer_read(&p);
            if (k + 1 < len && p.got.len != want_len) {
                in_step = false; /* a reply before its request was whole */
                break;
            }
        }
        total += len;
        if (ex[i].reply) {
            want_len += strlen(ex[i].reply);
        } else {
            /* Unknown command: one error line. */
            pump_until(&p, want_len + 1);
            const char *nl = memchr(p.got.data + want_len, '\n', p.got.len - want_len);
            CHECK(p.got.data[want_len] == '-' && nl != NULL);
            if (nl)
                want_len = (size_t)(nl - p.got.data) + 1;
        }
        pump_until(&p, want_len);
        answered += p.got.len == want_len;
    }
    CHECK(in_step);
    CHECK_EQ_INT(answered, n);
    /* The replies, in order, byte for byte (the unknown command's error skipped). */
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ex[i].reply) {
            const char *nl = memchr(p.got.data + at, '\n', p.got.len - at);
            at = nl ? (size_t)(nl - p.got.data) + 1 : p.got.len;
            continue;
        }
        size_t rl = strlen(ex[i].reply);
        CHECK(at + rl <= p.got.len && memcmp(p.got.data + at, ex[i].reply, rl) == 0);
        at += rl;
    }
    CHECK_EQ_INT(at, p.got.len);
    CHECK_EQ_INT(p.c->state, CLIENT_READY);
    CHECK_EQ_INT(p.c->in.len, 0); /* everything consumed, nothing half-parsed left */
    CHECK(total > 4096);
    peer_close(&p);
}

/* An idle connection costs its struct, not a read buffer: the input is released once
 * every byte of it was used, and kept while half a request waits for the rest. */
static void test_idle_client_holds_no_input_buffer(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    buf_append_str(&p.to_send, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nab");
    pump_until(&p, 7);
    CHECK(got_is(&p, "+PONG\r\n", 7));
    CHECK(p.c->in.data != NULL && p.c->in.len > 0); /* the half request is kept */
    const char *first = p.c->in.data;
    buf_append_str(&p.to_send, "c\r\n");
    pump_until(&p, 7 + 9);
    CHECK(got_is(&p, "+PONG\r\n$3\r\nabc\r\n", 7 + 9));
    CHECK(p.c->in.data == NULL);
    CHECK_EQ_INT(p.c->in.cap, 0);
    /* The next client to read borrows that same buffer (no malloc per read), and gives
     * it back once its input is used up. */
    peer q;
    CHECK(peer_open(&q, 0));
    if (q.c) {
        buf_append_str(&q.to_send, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
        pump_until(&q, 7);
        CHECK(got_is(&q, "+PONG\r\n", 7));
        CHECK(q.c->in.data == first);
        buf_append_str(&q.to_send, "NG\r\n");
        pump_until(&q, 14);
        CHECK(got_is(&q, "+PONG\r\n+PONG\r\n", 14));
        CHECK(q.c->in.data == NULL);
        peer_close(&q);
    }
    peer_close(&p);
}

/* ---- pipelines ---- */

static void test_pipeline_many(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    buf want;
    buf_init(&want);
    for (size_t i = 0; i < PIPELINE_N; i++) {
        char num[32];
        snprintf(num, sizeof num, "%zu", i);
        const char *argv[] = {"ECHO", num};
        add_request(&p.to_send, 2, argv);
        buf_printf(&want, "$%zu\r\n%s\r\n", strlen(num), num);
    }
    pump_until(&p, want.len);
    CHECK(got_is(&p, want.data, want.len));
    CHECK_EQ_INT(p.c->commands, PIPELINE_N);
    buf_free(&want);
    peer_close(&p);
}

/* A client blocked in WAITREV (a 50 ms timeout, nothing to wait for) runs nothing else
 * until WAITREV has replied; what it pipelined meanwhile, before and after the block,
 * is answered after it, in order. */
static void test_blocked_keeps_pipeline_order(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    const char *echo_a[] = {"ECHO", "a"}, *wait[] = {"WAITREV", "5", "50"},
               *echo_b[] = {"ECHO", "b"}, *ping[] = {"PING"}, *echo_c[] = {"ECHO", "c"};
    add_request(&p.to_send, 2, echo_a);
    add_request(&p.to_send, 3, wait);
    add_request(&p.to_send, 2, echo_b);
    add_request(&p.to_send, 1, ping);
    peer_write(&p);
    for (int i = 0; i < 5; i++) {
        loop_pass();
        peer_read(&p);
    }
    /* Blocked: only the reply before WAITREV is out. */
    CHECK_EQ_INT(p.c->state, CLIENT_BLOCKED);
    CHECK(got_is(&p, "$1\r\na\r\n", 7));
    /* More requests while blocked wait their turn too. */
    add_request(&p.to_send, 2, echo_c);
    peer_write(&p);
    for (int i = 0; i < 5; i++) {
        loop_pass();
        peer_read(&p);
    }
    CHECK(got_is(&p, "$1\r\na\r\n", 7));
    static const char want[] = "$1\r\na\r\n:0\r\n$1\r\nb\r\n+PONG\r\n$1\r\nc\r\n";
    pump_until(&p, sizeof want - 1);
    CHECK(got_is(&p, want, sizeof want - 1));
    CHECK_EQ_INT(p.c->state, CLIENT_READY);
    CHECK_EQ_INT(p.c->commands, 5);
    peer_close(&p);
}

/* ---- backpressure ---- */

/* A client that does not read its replies: once they fill the socket, pending output
 * grows only to the limit (plus the reply that crossed it), then the client is no
 * longer read and its requests wait in the socket. Reading the replies lets it go on,
 * and every reply arrives, in order. */
static void test_output_limit_backpressure(void)
{
    long long saved_limit = server.conf.client_output_limit;
    server.conf.client_output_limit = BP_LIMIT;
    peer p;
    CHECK(peer_open(&p, SMALL_SOCKBUF));
    if (!p.c) {
        server.conf.client_output_limit = saved_limit;
        return;
    }
    char arg[BP_ARG_LEN + 1];
    memset(arg, 'y', BP_ARG_LEN);
    arg[BP_ARG_LEN] = '\0';
    buf want;
    buf_init(&want);
    const char *argv[] = {"ECHO", arg};
    for (size_t i = 0; i < BP_N; i++) {
        add_request(&p.to_send, 2, argv);
        buf_printf(&want, "$%d\r\n%s\r\n", BP_ARG_LEN, arg);
    }
    size_t reply_len = want.len / BP_N;
    /* Phase 1: write, never read, until nothing moves. */
    size_t max_pending = 0, idle = 0;
    uint64_t last_commands = UINT64_MAX;
    size_t last_sent = SIZE_MAX;
    while (idle < 50) {
        peer_write(&p);
        loop_pass();
        size_t pending = p.c->out.len - p.c->out_pos;
        if (pending > max_pending)
            max_pending = pending;
        idle = p.c->commands == last_commands && p.sent == last_sent ? idle + 1 : 0;
        last_commands = p.c->commands;
        last_sent = p.sent;
    }
    CHECK(!p.c->reading);
    CHECK(p.c->commands < BP_N);
    CHECK(p.c->out.len - p.c->out_pos > BP_LIMIT);
    CHECK(max_pending <= BP_LIMIT + reply_len);
    /* Phase 2: read; the client resumes and every reply comes, in order. */
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (p.got.len < want.len && now_ms() < deadline) {
        peer_write(&p);
        loop_pass();
        if (client_by_id(p.c->id)) {
            size_t pending = p.c->out.len - p.c->out_pos;
            if (pending > max_pending)
                max_pending = pending;
        }
        peer_read(&p);
    }
    CHECK(got_is(&p, want.data, want.len));
    CHECK(max_pending <= BP_LIMIT + reply_len);
    CHECK_EQ_INT(p.c->commands, BP_N);
    CHECK(p.c->reading);
    buf_free(&want);
    peer_close(&p);
    server.conf.client_output_limit = saved_limit;
}

/* A hang-up while blocked frees the client at once; the blocking command's later
 * completion finds no client by id. */
static void test_hangup_while_blocked(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    uint64_t id = p.c->id;
    size_t before = server.nclients;
    const char *wait[] = {"WAITREV", "5", "30"};
    add_request(&p.to_send, 3, wait);
    peer_write(&p);
    loop_pass();
    CHECK_EQ_INT(p.c->state, CLIENT_BLOCKED);
    shutdown(p.fd, SHUT_WR);
    loop_pass();
    CHECK(client_by_id(id) == NULL);
    CHECK_EQ_INT(server.nclients, before - 1);
    p.c = NULL;
    int64_t deadline = now_ms() + 100; /* the WAITREV timer fires into nothing */
    while (now_ms() < deadline)
        loop_pass();
    peer_close(&p);
}

int main(void)
{
    char err[256];
    log_set_level(LOG_LVL_WARNING);
    conf_init(&server.conf);
    server.conf.slowlog_log_slower_than = -1;
    evthread_use_pthreads();
    server.base = event_base_new();
    idmap_init(&server.clients_by_id);
    command_init();
    if (!auth_init(&server.conf, err, sizeof err)) {
        fprintf(stderr, "auth_init: %s\n", err);
        return 1;
    }
    server.loading = false;
    TEST_RUN(test_split_at_every_byte);
    TEST_RUN(test_idle_client_holds_no_input_buffer);
    TEST_RUN(test_pipeline_many);
    TEST_RUN(test_blocked_keeps_pipeline_order);
    TEST_RUN(test_output_limit_backpressure);
    TEST_RUN(test_hangup_while_blocked);
    CHECK_EQ_INT(server.nclients, 0);
    server_slowlog_reset();
    command_free();
    auth_free();
    idmap_free(&server.clients_by_id);
    event_base_free(server.base);
    libevent_global_shutdown();
    conf_free(&server.conf);
    return TEST_DONE();
}
