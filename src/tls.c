/*
 * TLS with OpenSSL: the server context of tls-port and the non-blocking session calls
 * client.c uses (the design is in tls.h).
 *
 * The context follows what Redis does with the same keys: the certificate chain and
 * key of tls-cert-file and tls-key-file; client certificates checked against
 * tls-ca-cert-file as tls-auth-clients says (yes: required, optional: checked when
 * sent, no: not asked for); TLSv1.2 and TLSv1.3 unless tls-protocols says otherwise.
 * On top of that: no renegotiation (a client could make the loop thread pay for one
 * handshake after another), no compression, and a peer that closes without a TLS
 * close_notify is an ordinary end of connection, as most clients do it.
 *
 * Sessions read ahead: one read(2) takes every record the socket has instead of a
 * header and then a body, which is what makes small pipelined requests cheap; the
 * price is input waiting inside the session (tls_pending), which client.c handles.
 * Partial writes are on, and a retried write may come from a buffer that moved (the
 * output buffer grows while a write waits), as tls_write's contract says.
 *
 * Every call clears the thread's OpenSSL error queue first, so that SSL_get_error()
 * and the message of a failure are about this call and not an older one.
 */
#include "tls.h"
#include "conf.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TLS_SESSION_ID_CTX "rbacd" /* resumed sessions must come from this server */
#define TLS_MSG_MAX        256     /* one OpenSSL reason, quoted in a message */

/* The names tls-protocols takes, with the option that turns each off. */
static const struct {
    const char *name;
    unsigned long off; /* SSL_OP_NO_... */
} tls_versions[] = {
    {"TLSv1", SSL_OP_NO_TLSv1},
    {"TLSv1.1", SSL_OP_NO_TLSv1_1},
    {"TLSv1.2", SSL_OP_NO_TLSv1_2},
    {"TLSv1.3", SSL_OP_NO_TLSv1_3},
};
#define TLS_NVERSIONS (sizeof tls_versions / sizeof tls_versions[0])

/* Parses tls-protocols into a bit per tls_versions[] entry; false if a word is not a
 * version name or there is none. */
static bool parse_protocols(const char *s, unsigned *mask)
{
    *mask = 0;
    while (*s) {
        size_t skip = strspn(s, " \t");
        s += skip;
        size_t n = strcspn(s, " \t");
        if (n == 0)
            break;
        size_t i = 0;
        while (i < TLS_NVERSIONS &&
               !(strlen(tls_versions[i].name) == n && strncasecmp(s, tls_versions[i].name, n) == 0))
            i++;
        if (i == TLS_NVERSIONS)
            return false;
        *mask |= 1u << i;
        s += n;
    }
    return *mask != 0;
}

bool tls_protocols_valid(const char *s)
{
    unsigned mask;
    return parse_protocols(s ? s : "", &mask);
}

/* The first error OpenSSL queued (the most specific one), as words; the queue is left
 * empty. */
static const char *ssl_reason(char *out, size_t len)
{
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {
    }
    if (first == 0) {
        snprintf(out, len, "unknown OpenSSL error");
        return out;
    }
    const char *r = ERR_reason_error_string(first);
    if (r)
        snprintf(out, len, "%s", r);
    else
        ERR_error_string_n(first, out, len);
    return out;
}

/* A key naming a file that must be there: empty, or not readable, is an error. */
static bool need_file(const char *key, const char *path, const char *why, char *err, size_t errlen)
{
    if (!path || !path[0]) {
        snprintf(err, errlen, "%s is empty, but %s", key, why);
        return false;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s '%s': cannot open: %s", key, path, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

/* The certificate chain, its key, and whether they belong together. */
static bool load_identity(SSL_CTX *ctx, const rbacd_conf *c, char *err, size_t errlen)
{
    char why[TLS_MSG_MAX];
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
        snprintf(err, errlen, "tls-cert-file '%s': cannot load the certificate: %s",
                 c->tls_cert_file, ssl_reason(why, sizeof why));
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(err, errlen, "tls-key-file '%s' is not the key of the certificate in '%s'",
                     c->tls_key_file, c->tls_cert_file);
        } else {
            snprintf(err, errlen, "tls-key-file '%s': cannot load the private key: %s",
                     c->tls_key_file, ssl_reason(why, sizeof why));
        }
        return false;
    }
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (cert && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        log_warn("tls-cert-file '%s': the certificate has expired", c->tls_cert_file);
    return true;
}

/* Client certificates: the CAs they must chain to (also named to clients, so that one
 * holding several certificates picks the right one) and whether one is required. */
static bool load_client_auth(SSL_CTX *ctx, const rbacd_conf *c, char *err, size_t errlen)
{
    char why[TLS_MSG_MAX];
    const char *ca = c->tls_ca_cert_file;
    if (ca && ca[0]) {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            snprintf(err, errlen, "tls-ca-cert-file '%s': cannot load the CA certificates: %s", ca,
                     ssl_reason(why, sizeof why));
            return false;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names); /* ctx owns names now */
        ERR_clear_error();
    }
    int mode = SSL_VERIFY_NONE;
    if (c->tls_auth_clients == CONF_TLS_AUTH_YES)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (c->tls_auth_clients == CONF_TLS_AUTH_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return true;
}

static bool set_protocols_and_ciphers(SSL_CTX *ctx, const rbacd_conf *c, char *err, size_t errlen)
{
    char why[TLS_MSG_MAX];
    unsigned mask;
    if (!parse_protocols(c->tls_protocols ? c->tls_protocols : "", &mask)) {
        snprintf(err, errlen, "tls-protocols: '%s' is not a list of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3",
                 c->tls_protocols ? c->tls_protocols : "");
        return false;
    }
    unsigned long off = 0;
    for (size_t i = 0; i < TLS_NVERSIONS; i++)
        if (!(mask & (1u << i)))
            off |= tls_versions[i].off;
    SSL_CTX_set_options(ctx, off);
    if (c->tls_ciphers && c->tls_ciphers[0] && SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1) {
        snprintf(err, errlen, "tls-ciphers: '%s' names no usable cipher: %s", c->tls_ciphers,
                 ssl_reason(why, sizeof why));
        return false;
    }
    if (c->tls_ciphersuites && c->tls_ciphersuites[0] &&
        SSL_CTX_set_ciphersuites(ctx, c->tls_ciphersuites) != 1) {
        snprintf(err, errlen, "tls-ciphersuites: '%s' names no usable cipher suite: %s",
                 c->tls_ciphersuites, ssl_reason(why, sizeof why));
        return false;
    }
    return true;
}

SSL_CTX *tls_ctx_new(const rbacd_conf *c, char *err, size_t errlen)
{
    char why[TLS_MSG_MAX];
    ERR_clear_error();
    if (!need_file("tls-cert-file", c->tls_cert_file, "tls-port is set", err, errlen) ||
        !need_file("tls-key-file", c->tls_key_file, "tls-port is set", err, errlen))
        return NULL;
    if (c->tls_auth_clients != CONF_TLS_AUTH_NO &&
        !need_file("tls-ca-cert-file", c->tls_ca_cert_file,
                   "tls-auth-clients asks for client certificates (set it to no to accept "
                   "clients without one)",
                   err, errlen))
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context: %s", ssl_reason(why, sizeof why));
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SESSION_ID_CTX,
                                   sizeof TLS_SESSION_ID_CTX - 1);
    if (!set_protocols_and_ciphers(ctx, c, err, errlen) || !load_identity(ctx, c, err, errlen) ||
        !load_client_auth(ctx, c, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

/* db-tls-ca, when it will be used: a readable file of PEM certificates. */
static bool check_db_tls_ca(const rbacd_conf *c, char *err, size_t errlen)
{
    if (!c->db_tls || !c->db_tls_verify || !c->db_tls_ca || !c->db_tls_ca[0])
        return true;
    if (!need_file("db-tls-ca", c->db_tls_ca, "", err, errlen))
        return false;
    char why[TLS_MSG_MAX];
    ERR_clear_error();
    X509_STORE *store = X509_STORE_new();
    bool ok = store && X509_STORE_load_file(store, c->db_tls_ca) == 1;
    if (!ok)
        snprintf(err, errlen, "db-tls-ca '%s': cannot load the CA certificates: %s", c->db_tls_ca,
                 ssl_reason(why, sizeof why));
    X509_STORE_free(store);
    return ok;
}

bool tls_check_conf(const rbacd_conf *c, char *err, size_t errlen)
{
    if (!check_db_tls_ca(c, err, errlen))
        return false;
    if (c->tls_port == 0)
        return true;
    if (c->tls_port == c->port) {
        snprintf(err, errlen, "tls-port %lld is also port: TLS needs a port of its own",
                 c->tls_port);
        return false;
    }
    SSL_CTX *ctx = tls_ctx_new(c, err, errlen);
    if (!ctx)
        return false;
    tls_ctx_free(ctx);
    return true;
}

SSL *tls_conn_new(SSL_CTX *ctx, int fd)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_conn_free(SSL *ssl)
{
    if (!ssl)
        return;
    ERR_clear_error();
    /* One close_notify if it can go out now; nobody waits for the answer. */
    if (SSL_is_init_finished(ssl) && !SSL_get_quiet_shutdown(ssl))
        SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

/* Maps the result of a failed SSL_read/SSL_write (ret <= 0) to an enum tls_io, with a
 * message for TLS_IO_ERROR. A broken session sends nothing more (no close_notify). */
static ssize_t io_failure(SSL *ssl, int ret, char *err, size_t errlen)
{
    int e = SSL_get_error(ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_IO_CLOSED;
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        SSL_set_quiet_shutdown(ssl, 1);
        if (ERR_peek_error() != 0) {
            char why[TLS_MSG_MAX];
            snprintf(err, errlen, "%s", ssl_reason(why, sizeof why));
        } else {
            snprintf(err, errlen, "%s", saved ? strerror(saved) : "connection closed");
        }
        return saved ? TLS_IO_ERROR : TLS_IO_CLOSED;
    }
    default: {
        char why[TLS_MSG_MAX];
        SSL_set_quiet_shutdown(ssl, 1);
        ssl_reason(why, sizeof why);
        long vr = SSL_get_verify_result(ssl);
        if (vr != X509_V_OK)
            snprintf(err, errlen, "%s (%s)", why, X509_verify_cert_error_string(vr));
        else
            snprintf(err, errlen, "%s", why);
        return TLS_IO_ERROR;
    }
    }
}

ssize_t tls_read(SSL *ssl, void *dst, size_t len, char *err, size_t errlen)
{
    size_t got = 0;
    while (got < len) {
        ERR_clear_error();
        size_t room = len - got;
        int n = SSL_read(ssl, (char *)dst + got, room > INT_MAX ? INT_MAX : (int)room);
        if (n > 0) {
            got += (size_t)n;
            if (!SSL_has_pending(ssl))
                break; /* the socket's turn: the next read(2) would find nothing */
            continue;
        }
        ssize_t r = io_failure(ssl, n, err, errlen);
        /* Bytes already read go up first; a closed or broken session says so again
         * on the next call. */
        return got > 0 ? (ssize_t)got : r;
    }
    return (ssize_t)got;
}

ssize_t tls_write(SSL *ssl, const void *src, size_t len, char *err, size_t errlen)
{
    ERR_clear_error();
    int n = SSL_write(ssl, src, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    ssize_t r = io_failure(ssl, n, err, errlen);
    if (r == TLS_IO_CLOSED) {
        snprintf(err, errlen, "connection closed");
        return TLS_IO_ERROR; /* a write has no end of file to report */
    }
    return r;
}

bool tls_pending(const SSL *ssl)
{
    return SSL_has_pending(ssl) == 1;
}

bool tls_handshake_done(const SSL *ssl)
{
    return SSL_is_init_finished(ssl) == 1;
}

void tls_describe(const SSL *ssl, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer && n > 0 && (size_t)n < outlen) {
        char subject[TLS_MSG_MAX];
        X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
        snprintf(out + n, outlen - (size_t)n, ", client certificate %s", subject);
    }
}
