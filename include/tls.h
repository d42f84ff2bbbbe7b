/*
 * tls.c — TLS for client connections, with OpenSSL: the server context the tls-* keys
 * describe, and the calls client.c makes on a tls-port connection where a plain one
 * calls read(2) and write(2).
 *
 * A tls-port connection is a plain socket with an SSL session on top, driven by the
 * same events as a plain one (client.c). The session is in accept state from the
 * start, so the first reads run the handshake; no request is read before it has
 * finished, and nothing blocks: every call returns at once with bytes, or with what it
 * waits for. Two things make a TLS socket differ from a plain one, and client.c
 * handles both:
 *
 *   - a read may have to write first (a handshake message, a session ticket), and a
 *     write may have to read first: TLS_IO_WANT_WRITE from tls_read(), TLS_IO_WANT_READ
 *     from tls_write();
 *   - records read ahead from the socket may sit decrypted inside the session after a
 *     read: the socket is then no longer readable although there is input
 *     (tls_pending()), so no event would ever come for it.
 *
 * MariaDB connections use TLS too (db-tls), but through Connector/C on the worker
 * threads (db.c); this file only checks, at start, the CA file they will load.
 *
 * Threading: the server context is made and freed on the loop thread and only read
 * afterwards; each session belongs to the loop thread.
 */
#ifndef RBACD_TLS_H
#define RBACD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct rbacd_conf;
struct ssl_st;
struct ssl_ctx_st;

/* What a connection read or write did when it moved no bytes (it returns n > 0 when it
 * did). client.c answers in the same terms for a plain socket. */
enum tls_io {
    TLS_IO_CLOSED = 0,      /* the peer closed the connection (reads only) */
    TLS_IO_WANT_READ = -1,  /* try again once the socket is readable */
    TLS_IO_WANT_WRITE = -2, /* try again once the socket is writable */
    TLS_IO_ERROR = -3,      /* the connection is broken; err says why */
};

/* Whether s is a list of TLS versions tls-protocols accepts ("TLSv1.2 TLSv1.3": the
 * names TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, separated by blanks, at least one). */
bool tls_protocols_valid(const char *s);

/* Checks what the rows of conf.c cannot check one by one: with tls-port set, that
 * tls-cert-file, tls-key-file (and tls-ca-cert-file unless tls-auth-clients is no) are
 * given, can be read and load (the key matching the certificate), and that the
 * protocols and ciphers are usable; with db-tls and db-tls-verify, that db-tls-ca (if
 * given) loads, before Connector/C meets it in every worker. Returns false with a
 * message naming the key (and the file) in err. Used by --check-config and at start,
 * before anything is opened. */
bool tls_check_conf(const struct rbacd_conf *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The server context for tls-port connections, from c (which tls_check_conf accepts).
 * NULL with a message in err on failure. The caller owns it: tls_ctx_free(). */
struct ssl_ctx_st *tls_ctx_new(const struct rbacd_conf *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* A session on the accepted, non-blocking socket fd, in accept state (the handshake
 * runs in the first reads). NULL when OpenSSL cannot make one (out of memory). The
 * caller owns it (tls_conn_free) and still owns fd. */
struct ssl_st *tls_conn_new(struct ssl_ctx_st *ctx, int fd);
/* Sends close_notify if the handshake finished and nothing failed (without waiting),
 * then frees the session. fd stays open. */
void tls_conn_free(struct ssl_st *ssl);

/* Reads up to len decrypted bytes (every whole record that is there, not only the
 * first). Returns the count, or an enum tls_io with err set for TLS_IO_ERROR. */
ssize_t tls_read(struct ssl_st *ssl, void *dst, size_t len, char *err, size_t errlen);
/* Writes up to len bytes; may write fewer. Returns the count, or an enum tls_io. After
 * a WANT, the next call must start with the same bytes (it may offer more after them):
 * what did not go out stays where it was, at the head of the output. */
ssize_t tls_write(struct ssl_st *ssl, const void *src, size_t len, char *err, size_t errlen);
/* Whether decrypted or read-ahead input is waiting inside the session. */
bool tls_pending(const struct ssl_st *ssl);
/* Whether the handshake has finished. */
bool tls_handshake_done(const struct ssl_st *ssl);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384, client certificate CN=..." for a log line. */
void tls_describe(const struct ssl_st *ssl, char *out, size_t outlen);

#endif
