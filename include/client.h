/*
 * client.c — one connected client: reading bytes, cutting them into requests, running
 * them through the command table, and writing replies back.
 *
 * Client states (each client is in exactly one):
 *   CLIENT_READY    parsing and running whatever requests are buffered
 *   CLIENT_BLOCKED  a command handed work to a worker (password check, database write);
 *                   no further request of this client runs until the job's reply is
 *                   written, so a pipeline keeps its order
 *   CLIENT_CLOSING  flushing the last replies (QUIT, protocol error), then closed
 *
 * Replies are appended to c->out with the resp_* encoders and written after each read
 * batch. A client whose unsent output exceeds client-output-limit stops being read
 * until it drains (backpressure, not unbounded memory).
 *
 * A client of tls-port has a TLS session over its socket (c->tls, tls.h); that is a
 * choice of how bytes move, made in two functions of client.c, and nothing else about
 * the client differs. Its handshake runs in its first reads, before any request.
 */
#ifndef RBACD_CLIENT_H
#define RBACD_CLIENT_H

#include "buf.h"
#include "resp.h"
#include "worker.h"

#include <stdbool.h>
#include <stdint.h>

struct event;
struct command;
struct ssl_st;

enum client_state {
    CLIENT_READY = 0,   /* serving requests */
    CLIENT_BLOCKED = 1, /* waiting for a worker job to finish */
    CLIENT_CLOSING = 2, /* writing final replies, then close */
};

enum client_kind {
    CLIENT_TCP = 0,
    CLIENT_UNIX = 1,
    CLIENT_TLS = 2, /* TCP on tls-port: TLS over the socket */
};

typedef struct client {
    uint64_t id;                    /* unique, increasing; CLIENT ID */
    int fd;                         /* socket */
    int kind;                       /* enum client_kind */
    int state;                      /* enum client_state */
    int proto;                      /* 2 or 3, set by HELLO */
    bool authenticated;             /* passed AUTH (or no auth is configured) */
    int role;                       /* enum conf_role once authenticated */
    bool loopback;                  /* peer is 127.0.0.0/8, ::1 or a unix socket */
    char user[64];                  /* ACL user name ("default" before AUTH) */
    char addr[64];                  /* peer "ip:port" or "path:0" */
    char laddr[64];                 /* local "ip:port" */
    char *name;                     /* CLIENT SETNAME, NULL if none */
    char *lib_name;                 /* CLIENT SETINFO LIB-NAME */
    char *lib_ver;                  /* CLIENT SETINFO LIB-VER */
    buf in;                         /* unparsed input */
    size_t in_pos;                  /* bytes of in already consumed by parsed requests */
    buf out;                        /* encoded replies not yet written */
    size_t out_pos;                 /* bytes of out already written */
    resp_request req;               /* the request being run (views into in) */
    struct event *ev_read;          /* persistent read event */
    struct event *ev_write;         /* armed only while out has unsent bytes */
    bool reading;                   /* ev_read is added */
    struct ssl_st *tls;             /* CLIENT_TLS: the session over fd; NULL = plain */
    bool tls_ready;                 /* the TLS handshake has finished (logged once) */
    bool read_wants_write;          /* TLS: the last read waits for the socket to take bytes */
    bool write_wants_read;          /* TLS: the last write waits for bytes from the peer */
    int64_t created_ms;             /* wall clock at accept */
    int64_t last_ms;                /* wall clock of the last request (idle timeout, CLIENT LIST) */
    const struct command *last_cmd; /* last command run, for CLIENT LIST cmd= */
    uint64_t commands;              /* requests run on this connection */
    struct tracking_client *tracking; /* CLIENT TRACKING / SUBSCRIBE state (tracking.c), or NULL */
    bool monitor;                     /* in MONITOR mode, listed in server.monitors */
    struct client *prev, *next;       /* server.clients list */
} client;

/* Whether c's unread output is past its limit: client-output-limit once authenticated
 * (0 = none), a small fixed one before AUTH. */
bool client_output_over_limit(const client *c);

/* Takes ownership of an accepted socket: sets it non-blocking, registers events; a
 * CLIENT_TLS one gets a TLS session of server.tls_ctx. Returns NULL (and closes fd) when
 * the socket or the session cannot be set up. */
client *client_create(int fd, int kind, const char *addr, const char *laddr, bool loopback);
/* Closes now: unregisters, frees buffers, removes from the server lists. */
void client_free(client *c);
/* At shutdown: one last attempt, without waiting, to send what c has pending (the reply
 * to SHUTDOWN, to QUIT), then client_free(c). */
void client_free_flush(client *c);
/* Frees the spare input buffer idle clients hand back (client.c), at exit, once every
 * client is gone. */
void client_free_spare_input(void);
/* Finds a live client by id (NULL if it has gone). */
client *client_by_id(uint64_t id);
/* Writes what is in c->out now, or arms the write event. */
void client_flush(client *c);
/* Writes what was appended to c->out outside its own requests (an invalidation push)
 * now, as far as the socket takes it; the rest goes out with the write event. Never
 * frees c, so it is safe while the caller walks its own lists, or while c's own
 * request runs: the bytes already in c->out keep their offsets. A write error is left
 * to the I/O path, which then frees c. */
void client_write_now_safe(client *c);
/* Has the I/O path look at c soon, whether or not its socket is writable (it frees a
 * client marked for closing). */
void client_flush_soon(client *c);
/* Marks c for closing once its pending output is written. */
void client_close_after_reply(client *c);
/* Closes c without writing another byte: pending replies are dropped, nothing more is
 * read or run. Safe while c's request runs; c is freed once control is back in the I/O
 * path. */
void client_abort(client *c);

/* Arms c's write event: its pending output goes out on the next turn of the loop.
 * For output added to a client other than the one whose request runs (MONITOR lines),
 * where c must not be freed on the spot. */
void client_flush_later(client *c);
/* Drops c's pending output and closes it on the next turn of the loop, even when its
 * socket takes no more bytes. Safe where c must not be freed on the spot. */
void client_close_soon(client *c);

/* Asynchronous commands. client_block() stops c from running further requests;
 * client_unblock() (on the loop thread, after the reply was appended) resumes it and
 * runs what was pipelined meanwhile. Commands reach them through client_run_job(),
 * client_wait() and client_resume() below, which find c again by id. */
void client_block(client *c);
void client_unblock(client *c);

/* Formats one CLIENT LIST / CLIENT INFO line for c into out (no trailing newline). */
void client_describe(const client *c, buf *out);

/* ---- Waiting for an answer ----
 *
 * A handler whose answer is not there yet blocks its client: no further request of
 * that client runs until the reply is written, so a pipeline keeps its order, while
 * other clients go on being served. The client may be killed or hang up meanwhile, so
 * it is never kept as a pointer: its ticket (the client id, never 0) finds it again. */

/* Called on the loop thread with the answer: c is the waiting client, or NULL when it
 * has gone (reply then only cleans up). From the call on, reply is responsible for arg
 * (it frees it, or leaves it to whoever owns it). */
typedef void client_reply_fn(client *c, void *arg);

/* Blocks c, runs job(arg) on a thread of pool, then on the loop thread calls
 * reply(c or NULL, arg) and unblocks c. Jobs of one pool complete in the order that
 * pool delivers them (a pool of one thread: submission order). Never fails. */
void client_run_job(client *c, struct worker_pool *pool, worker_job_fn *job, client_reply_fn *reply,
                    void *arg);
/* Blocks c for a wait that is not a worker job (a reload, a session batch, a
 * revision); returns the ticket that client_resume() takes. */
uint64_t client_wait(client *c);
/* Ends the wait of ticket: reply(c or NULL, arg), then c is unblocked and runs what it
 * pipelined meanwhile. Exactly one client_resume() per client_wait(). */
void client_resume(uint64_t ticket, client_reply_fn *reply, void *arg);
/* Whether the client holding ticket is still connected (for a wait that goes on in
 * several steps and need not continue for a client that has gone). */
bool client_waiting(uint64_t ticket);

#endif
