/*
 * tls tests: a real client of kind CLIENT_TLS over a socketpair registered on an
 * event_base, with the real command table behind it, and an OpenSSL client session on
 * the test's end. The server context comes from tls_ctx_new() with a certificate this
 * test makes (P-256, self-signed) in a temporary directory. No database.
 *
 *   test side: SSL client on fds[1] --records--> fds[0]: tls_read() -> command_process()
 *              fds[1] <--records--- tls_write()
 *
 * Cases, each the path a plain socket never takes:
 *   - a handshake whose server flight (a long certificate chain) does not fit the socket
 *     buffer: the read that runs it has to wait for the socket to take bytes;
 *   - input that arrives whole but does not fit one read: the rest waits inside the
 *     session and the socket, empty, never signals it again; also a pipeline much
 *     larger than a read;
 *   - a client that does not read: writes stop half-way, pending output is bounded by
 *     client-output-limit, and every reply arrives, in order, once it reads;
 *   - plain text on the TLS socket: the handshake fails and the client is freed;
 *   - tls_check_conf's refusals (missing files, a key of another certificate, a
 *     missing CA when client certificates are asked for, tls-port equal to port, a
 *     db-tls-ca that does not load).
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
#include "tls.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS   20000 /* a case that waits longer than this has failed */
#define PIPELINE_N    20000 /* requests in the pipeline case */
#define CHAIN_COPIES  100   /* extra certificates in the chain: a ~50 KB server flight */
#define SMALL_SOCKBUF 4096  /* socket buffers where the socket must fill up */
#define BP_LIMIT      16384 /* client-output-limit in the backpressure case */
#define BP_ARG_LEN    2000  /* bytes ECHOed per request there */
#define BP_N          300   /* requests there */

static char dir[64];      /* the temporary directory with the certificates */
static char cert[128];    /* leaf + CHAIN_COPIES copies */
static char key[128];     /* its key */
static char other[128];   /* a key of another certificate */
static SSL_CTX *peer_ctx; /* the test's client context */

typedef struct peer {
    int fd;      /* the test's end */
    SSL *ssl;    /* the test's session */
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

/* ---- certificates ---- */

static EVP_PKEY *write_key(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = fopen(path, "w");
    if (!k || !f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
        if (f)
            fclose(f);
        EVP_PKEY_free(k);
        return NULL;
    }
    fclose(f);
    return k;
}

/* A self-signed certificate for k, written copies + 1 times into path. */
static bool write_cert(const char *path, EVP_PKEY *k, int copies)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    bool ok = X509_sign(x, k, EVP_sha256()) > 0;
    FILE *f = fopen(path, "w");
    for (int i = 0; ok && f && i <= copies; i++)
        ok = PEM_write_X509(f, x) == 1;
    if (f)
        fclose(f);
    X509_free(x);
    return ok && f;
}

static bool make_certs(void)
{
    snprintf(dir, sizeof dir, "/tmp/rbacd-tls-test-XXXXXX");
    if (!mkdtemp(dir))
        return false;
    snprintf(cert, sizeof cert, "%s/server.crt", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);
    EVP_PKEY *k = write_key(key), *o = write_key(other);
    bool ok = k && o && write_cert(cert, k, CHAIN_COPIES);
    EVP_PKEY_free(k);
    EVP_PKEY_free(o);
    return ok;
}

static void remove_certs(void)
{
    unlink(cert);
    unlink(key);
    unlink(other);
    rmdir(dir);
}

/* Sets configuration keys the way the command line does. */
static bool set_conf(rbacd_conf *c, int argc, const char **argv)
{
    char err[256];
    if (conf_load_args(c, argc, (char **)argv, err, sizeof err))
        return true;
    fprintf(stderr, "conf: %s\n", err);
    return false;
}

/* ---- the test's end of a connection ---- */

static bool peer_open(peer *p, int sockbuf)
{
    int fds[2];
    memset(p, 0, sizeof *p);
    buf_init(&p->got);
    buf_init(&p->to_send);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return false;
    if (sockbuf) {
        for (int i = 0; i < 2; i++) {
            setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
            setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
        }
    }
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL, 0) | O_NONBLOCK);
    p->fd = fds[1];
    p->ssl = SSL_new(peer_ctx);
    SSL_set_fd(p->ssl, p->fd);
    SSL_set_connect_state(p->ssl);
    p->c = client_create(fds[0], CLIENT_TLS, "test:0", "test:0", true);
    if (!p->c) {
        SSL_free(p->ssl);
        close(fds[1]);
        return false;
    }
    auth_reset_client(p->c);
    return true;
}

static void peer_close(peer *p)
{
    if (p->c && client_by_id(p->c->id))
        client_free(p->c);
    SSL_free(p->ssl);
    close(p->fd);
    buf_free(&p->got);
    buf_free(&p->to_send);
}

/* Runs the test's side of the handshake as far as it goes now; true once done. */
static bool peer_handshake(peer *p)
{
    ERR_clear_error();
    return SSL_do_handshake(p->ssl) == 1;
}

static void peer_read(peer *p)
{
    char tmp[65536];
    int n;
    ERR_clear_error();
    while ((n = SSL_read(p->ssl, tmp, sizeof tmp)) > 0)
        buf_append(&p->got, tmp, (size_t)n);
}

static void peer_write(peer *p)
{
    while (p->sent < p->to_send.len) {
        ERR_clear_error();
        int n = SSL_write(p->ssl, p->to_send.data + p->sent, (int)(p->to_send.len - p->sent));
        if (n <= 0)
            return;
        p->sent += (size_t)n;
    }
}

static void loop_pass(void)
{
    event_base_loop(server.base, EVLOOP_NONBLOCK);
}

/* Handshake (both sides stepping in turn), then write, run the loop and read until got
 * holds want bytes or the deadline passes. */
static void pump_until(peer *p, size_t want)
{
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (!peer_handshake(p) && now_ms() < deadline)
        loop_pass();
    while (p->got.len < want && now_ms() < deadline) {
        peer_write(p);
        loop_pass();
        peer_read(p);
    }
}

static bool got_is(const peer *p, const char *want, size_t wlen)
{
    if (p->got.len == wlen && memcmp(p->got.data, want, wlen) == 0)
        return true;
    fprintf(stderr, "replies differ: got %zu bytes, want %zu\n", p->got.len, wlen);
    return false;
}

static void add_request(buf *b, size_t argc, const char *const *argv)
{
    buf_printf(b, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* ---- cases ---- */

/* The server's flight is about 50 KB, its socket takes a few: the read that runs the
 * handshake waits for EV_WRITE, and the handshake still completes. */
static void test_handshake_that_has_to_write(void)
{
    peer p;
    CHECK(peer_open(&p, SMALL_SOCKBUF));
    if (!p.c)
        return;
    bool waited_for_write = false;
    int64_t deadline = now_ms() + DEADLINE_MS;
    bool done = false;
    while (!done && now_ms() < deadline) {
        done = peer_handshake(&p);
        loop_pass();
        if (client_by_id(p.c->id) && p.c->read_wants_write)
            waited_for_write = true;
    }
    CHECK(done);
    CHECK(waited_for_write);
    const char *ping[] = {"PING"};
    add_request(&p.to_send, 1, ping);
    pump_until(&p, 7);
    CHECK(got_is(&p, "+PONG\r\n", 7));
    CHECK(p.c->tls_ready);
    peer_close(&p);
}

/* Two full records (32 KiB) holding one request, sent at once after the handshake: the
 * first read of the client has room for one byte less, so that byte stays decrypted
 * inside the session while the socket is empty. Only the read event made active again
 * finishes the request. */
static void test_input_left_in_session(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (!(peer_handshake(&p) && p.c->tls_ready) && now_ms() < deadline)
        loop_pass();
    CHECK(p.c->tls_ready);
    /* "*2\r\n$4\r\nECHO\r\n$32744\r\n" (22 bytes) + 32744 + "\r\n" = 32768 bytes. */
    enum { ARG = 32744 };
    static char arg[ARG + 1];
    memset(arg, 'q', ARG);
    const char *argv[] = {"ECHO", arg};
    add_request(&p.to_send, 2, argv);
    CHECK_EQ_INT(p.to_send.len, 32768);
    peer_write(&p);
    CHECK_EQ_INT(p.sent, p.to_send.len);
    buf want;
    buf_init(&want);
    buf_printf(&want, "$%d\r\n%s\r\n", ARG, arg);
    while (p.got.len < want.len && now_ms() < deadline) {
        loop_pass();
        peer_read(&p);
    }
    CHECK(got_is(&p, want.data, want.len));
    buf_free(&want);
    peer_close(&p);
}

/* A pipeline of many records: the session reads ahead more than one read of the
 * client takes, and what it keeps is still served (the socket says nothing more). */
static void test_pipeline_read_ahead(void)
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
    /* One big argument too: longer than a record, longer than a read. */
    static char big[200001];
    memset(big, 'z', sizeof big - 1);
    const char *argv[] = {"ECHO", big};
    add_request(&p.to_send, 2, argv);
    buf_printf(&want, "$%zu\r\n%s\r\n", sizeof big - 1, big);
    pump_until(&p, want.len);
    CHECK(got_is(&p, want.data, want.len));
    CHECK_EQ_INT(p.c->commands, PIPELINE_N + 1);
    buf_free(&want);
    peer_close(&p);
}

/* A client that does not read: TLS writes stop half-way, pending output stays within
 * the limit plus one reply, reading stops; once it reads, every reply comes in order. */
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
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (!peer_handshake(&p) && now_ms() < deadline)
        loop_pass();
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
    CHECK(max_pending <= BP_LIMIT + reply_len);
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
    buf_free(&want);
    peer_close(&p);
    server.conf.client_output_limit = saved_limit;
}

/* Plain text on the TLS socket fails the handshake: the client is freed, nothing is
 * run. */
static void test_plain_text_is_dropped(void)
{
    peer p;
    CHECK(peer_open(&p, 0));
    if (!p.c)
        return;
    uint64_t id = p.c->id;
    size_t before = server.nclients;
    CHECK(write(p.fd, "PING\r\n", 6) == 6);
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (client_by_id(id) && now_ms() < deadline)
        loop_pass();
    CHECK(client_by_id(id) == NULL);
    CHECK_EQ_INT(server.nclients, before - 1);
    p.c = NULL;
    peer_close(&p);
}

/* What the server refuses to start with, and the message naming the key. */
static void test_check_conf(void)
{
    char err[512];
    rbacd_conf c;
    conf_init(&c);
    CHECK(tls_check_conf(&c, err, sizeof err)); /* tls-port 0: nothing to check */
    const char *on[] = {"--tls-port", "6390"};
    CHECK(set_conf(&c, 2, on));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "tls-cert-file is empty") != NULL);
    const char *missing[] = {"--tls-cert-file", "/nonexistent/rbacd.crt", "--tls-key-file", key};
    CHECK(set_conf(&c, 4, missing));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "tls-cert-file '/nonexistent/rbacd.crt': cannot open") != NULL);
    const char *files[] = {"--tls-cert-file", cert};
    CHECK(set_conf(&c, 2, files));
    CHECK(!tls_check_conf(&c, err, sizeof err)); /* tls-auth-clients yes, no CA */
    CHECK(strstr(err, "tls-ca-cert-file is empty") != NULL);
    const char *ca[] = {"--tls-ca-cert-file", cert};
    CHECK(set_conf(&c, 2, ca));
    CHECK(tls_check_conf(&c, err, sizeof err));
    const char *wrong_key[] = {"--tls-key-file", other};
    CHECK(set_conf(&c, 2, wrong_key));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "is not the key of the certificate") != NULL);
    const char *key_as_cert[] = {"--tls-key-file", key, "--tls-cert-file", key};
    CHECK(set_conf(&c, 4, key_as_cert));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "tls-cert-file") != NULL && strstr(err, "cannot load") != NULL);
    const char *same_port[] = {"--tls-cert-file", cert, "--tls-port", "6380"};
    CHECK(set_conf(&c, 4, same_port));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "also port") != NULL);
    const char *no_auth[] = {"--tls-port",         "6390", "--tls-ca-cert-file", "",
                             "--tls-auth-clients", "no"};
    CHECK(set_conf(&c, 6, no_auth));
    CHECK(tls_check_conf(&c, err, sizeof err));
    const char *ciphers[] = {"--tls-ciphers", "NO-SUCH-CIPHER"};
    CHECK(set_conf(&c, 2, ciphers));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "tls-ciphers") != NULL);
    /* db-tls-ca is checked only when it will be used, and must hold certificates. */
    const char *db_ca_unused[] = {"--tls-ciphers", "", "--db-tls-ca", "/nonexistent/ca.crt"};
    CHECK(set_conf(&c, 4, db_ca_unused));
    CHECK(tls_check_conf(&c, err, sizeof err));
    const char *db_tls[] = {"--db-tls", "yes"};
    CHECK(set_conf(&c, 2, db_tls));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "db-tls-ca '/nonexistent/ca.crt': cannot open") != NULL);
    const char *db_no_verify[] = {"--db-tls-verify", "no"};
    CHECK(set_conf(&c, 2, db_no_verify));
    CHECK(tls_check_conf(&c, err, sizeof err));
    const char *db_key_as_ca[] = {"--db-tls-verify", "yes", "--db-tls-ca", key};
    CHECK(set_conf(&c, 4, db_key_as_ca));
    CHECK(!tls_check_conf(&c, err, sizeof err));
    CHECK(strstr(err, "cannot load the CA certificates") != NULL);
    const char *db_ca[] = {"--db-tls-ca", cert};
    CHECK(set_conf(&c, 2, db_ca));
    CHECK(tls_check_conf(&c, err, sizeof err));
    CHECK(tls_protocols_valid("TLSv1.2 TLSv1.3"));
    CHECK(tls_protocols_valid("tlsv1.3"));
    CHECK(!tls_protocols_valid(""));
    CHECK(!tls_protocols_valid("TLSv1.2 SSLv3"));
    conf_free(&c);
}

int main(void)
{
    char err[256];
    log_set_level(LOG_LVL_WARNING);
    if (!make_certs()) {
        fprintf(stderr, "cannot make the test certificates in %s\n", dir);
        return 1;
    }
    conf_init(&server.conf);
    server.conf.slowlog_log_slower_than = -1;
    const char *tls[] = {"--tls-cert-file",    cert, "--tls-key-file", key,
                         "--tls-auth-clients", "no"};
    if (!set_conf(&server.conf, 6, tls))
        return 1;
    server.tls_ctx = tls_ctx_new(&server.conf, err, sizeof err);
    if (!server.tls_ctx) {
        fprintf(stderr, "tls_ctx_new: %s\n", err);
        return 1;
    }
    peer_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_mode(peer_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    evthread_use_pthreads();
    server.base = event_base_new();
    idmap_init(&server.clients_by_id);
    command_init();
    if (!auth_init(&server.conf, err, sizeof err)) {
        fprintf(stderr, "auth_init: %s\n", err);
        return 1;
    }
    server.loading = false;
    TEST_RUN(test_handshake_that_has_to_write);
    TEST_RUN(test_input_left_in_session);
    TEST_RUN(test_pipeline_read_ahead);
    TEST_RUN(test_output_limit_backpressure);
    TEST_RUN(test_plain_text_is_dropped);
    TEST_RUN(test_check_conf);
    CHECK_EQ_INT(server.nclients, 0);
    server_slowlog_reset();
    command_free();
    auth_free();
    idmap_free(&server.clients_by_id);
    event_base_free(server.base);
    tls_ctx_free(server.tls_ctx);
    SSL_CTX_free(peer_ctx);
    conf_free(&server.conf);
    remove_certs();
    return TEST_DONE();
}
