/*
 * The HTTP endpoint (http.h). One evhttp server on the loop's event_base: its
 * callbacks run on the loop thread, so they read the server's state directly, as INFO
 * does (the threading rule is worker.h's). Building the metrics page only reads memory;
 * nothing here waits for a worker or the database.
 *
 *   evhttp (reads, parses, bounds) --> on_request --> route by path --> reply
 *                                                      /metrics: module_metrics_all()
 *
 * Readiness: ready once server.loading is over, and not ready while the change log
 * has been unable to reach the database (sync_db_down_since_ms()) for the grace period
 * or longer: a short blip does not take the instance out of a load balancer, an outage
 * does. Reads keep being served from memory meanwhile; /healthz stays 200.
 */
#include "http.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sync.h"
#include "util.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>

#define HTTP_MAX_HEADERS_BYTES 8192 /* request line and headers of one request */
#define HTTP_MAX_BODY_BYTES    4096 /* no endpoint reads a body */
#define HTTP_TIMEOUT_S         10   /* a connection idle this long is closed */
#define HTTP_MSG_MAX           128  /* a plain-text reply body */
#define HTTP_ACCEPT_PAUSE_MS   100  /* accepting stops this long when out of descriptors */

/* What a request got, counted for rbacd_http_requests_total. */
enum http_outcome {
    OUT_OK,         /* 200 */
    OUT_NOT_FOUND,  /* 404 */
    OUT_BAD_METHOD, /* 405 */
    OUT_NOT_READY,  /* 503 */
    OUT_COUNT,
};

static const struct {
    int code;
    const char *reason;
} http_outcomes[OUT_COUNT] = {
    [OUT_OK] = {200, "OK"},
    [OUT_NOT_FOUND] = {404, "Not Found"},
    [OUT_BAD_METHOD] = {405, "Method Not Allowed"},
    [OUT_NOT_READY] = {503, "Service Unavailable"},
};

static struct {
    struct evhttp *http;             /* NULL while off */
    struct evconnlistener *listener; /* its listening socket (owned by http) */
    struct event *resume;            /* re-enables listener after an accept failure */
    uint64_t served[OUT_COUNT];      /* requests answered, by outcome */
} http;

/* Sends a reply with body (may be NULL) and counts it. */
static void reply(struct evhttp_request *req, enum http_outcome o, const char *ctype,
                  const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (o == OUT_BAD_METHOD)
        evhttp_add_header(h, "Allow", "GET, HEAD");
    /* HEAD: the length GET would send, and no body. evhttp sends a body it is given even
     * for HEAD, and no Content-Length then. */
    bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    if (head) {
        char n[32];
        snprintf(n, sizeof n, "%zu", len);
        evhttp_add_header(h, "Content-Length", n);
    }
    struct evbuffer *b = evbuffer_new();
    if (b && body && !head)
        evbuffer_add(b, body, len);
    evhttp_send_reply(req, http_outcomes[o].code, http_outcomes[o].reason, b);
    if (b)
        evbuffer_free(b);
    http.served[o]++;
}

static void reply_text(struct evhttp_request *req, enum http_outcome o, const char *text)
{
    reply(req, o, "text/plain; charset=utf-8", text, strlen(text));
}

/* Whether the server is ready; why not in why (HTTP_MSG_MAX bytes) when it is not. */
static bool is_ready(char *why)
{
    if (server.loading || !server.model) {
        snprintf(why, HTTP_MSG_MAX, "loading\n");
        return false;
    }
    int64_t since = sync_db_down_since_ms();
    int64_t down_ms = since ? util_now_ms() - since : 0;
    if (since && down_ms >= server.conf.readyz_db_grace_ms) {
        snprintf(why, HTTP_MSG_MAX, "database unreachable for %lld ms\n", (long long)down_ms);
        return false;
    }
    return true;
}

static void serve_metrics(struct evhttp_request *req)
{
    buf out;
    buf_init(&out);
    module_metrics_all(module_list, &out);
    reply(req, OUT_OK, METRICS_CONTENT_TYPE, out.data, out.len);
    buf_free(&out);
}

static void serve_readyz(struct evhttp_request *req)
{
    char why[HTTP_MSG_MAX];
    if (is_ready(why))
        reply_text(req, OUT_OK, "ready\n");
    else
        reply_text(req, OUT_NOT_READY, why);
}

static void serve_healthz(struct evhttp_request *req)
{
    reply_text(req, OUT_OK, "ok\n");
}

static const struct {
    const char *path;
    void (*serve)(struct evhttp_request *req);
} http_routes[] = {
    {"/metrics", serve_metrics},
    {"/healthz", serve_healthz},
    {"/readyz", serve_readyz},
};

/* Every request: the path (query string ignored) picks the route, then the method. */
static void on_request(struct evhttp_request *req, void *arg)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    for (size_t i = 0; path && i < ARRAY_LEN(http_routes); i++) {
        if (strcmp(path, http_routes[i].path) != 0)
            continue;
        enum evhttp_cmd_type m = evhttp_request_get_command(req);
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD)
            reply_text(req, OUT_BAD_METHOD, "method not allowed: use GET or HEAD\n");
        else
            http_routes[i].serve(req);
        return;
    }
    reply_text(req, OUT_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

static void resume_accepting(evutil_socket_t fd, short what, void *arg)
{
    if (http.listener)
        evconnlistener_enable(http.listener);
}

/* Out of descriptors: evhttp's listener would retry accept() at once, forever (the
 * socket stays readable). Pause it, as server.c pauses the Redis port's. */
static void on_listener_error(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    log_warn("http: accept failed: %s; not accepting for %d ms", strerror(err),
             HTTP_ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    struct timeval tv = {0, HTTP_ACCEPT_PAUSE_MS * 1000};
    evtimer_add(http.resume, &tv);
}

static bool http_init(void)
{
    if (server.conf.http_port == 0)
        return true;
    http.http = evhttp_new(server.base);
    if (!http.http) {
        log_warn("http: cannot create the HTTP server");
        return false;
    }
    evhttp_set_max_headers_size(http.http, HTTP_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(http.http, HTTP_MAX_BODY_BYTES);
    evhttp_set_timeout(http.http, HTTP_TIMEOUT_S);
    /* Every method evhttp knows reaches on_request, which answers 405 itself: evhttp's
     * own refusal would be 501. */
    evhttp_set_allowed_methods(http.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                              EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http.http, on_request, NULL);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(
        http.http, server.conf.http_bind, (ev_uint16_t)server.conf.http_port);
    if (!bound) {
        int err = EVUTIL_SOCKET_ERROR();
        log_warn("http: cannot listen on %s:%lld: %s (http-bind, http-port)", server.conf.http_bind,
                 server.conf.http_port, evutil_socket_error_to_string(err));
        return false;
    }
    http.listener = evhttp_bound_socket_get_listener(bound);
    http.resume = evtimer_new(server.base, resume_accepting, NULL);
    if (!http.resume) {
        log_warn("http: cannot create a timer");
        return false;
    }
    evconnlistener_set_error_cb(http.listener, on_listener_error);
    log_notice("http: serving /metrics, /healthz and /readyz on %s:%lld", server.conf.http_bind,
               server.conf.http_port);
    return true;
}

static void http_shutdown(void)
{
    if (http.resume)
        event_free(http.resume);
    if (http.http)
        evhttp_free(http.http);
    http.http = NULL;
    http.listener = NULL;
    http.resume = NULL;
}

/* The endpoint's own families: requests answered, and readiness as /readyz says it. */
static void http_metrics(buf *out)
{
    metrics_family(out, "rbacd_http_requests_total", "counter",
                   "Requests the HTTP endpoint answered, by status code.");
    for (size_t o = 0; o < OUT_COUNT; o++) {
        char code[16];
        snprintf(code, sizeof code, "%d", http_outcomes[o].code);
        buf labels;
        buf_init(&labels);
        metrics_label(&labels, "code", code);
        metrics_sample_u64(out, "rbacd_http_requests_total", &labels, http.served[o]);
        buf_free(&labels);
    }
    char why[HTTP_MSG_MAX];
    metrics_gauge(out, "rbacd_ready", "1 when GET /readyz answers 200, else 0.",
                  is_ready(why) ? 1 : 0);
}

const module http_module = {
    .name = "http",
    .init = http_init,
    .shutdown = http_shutdown,
    .metrics = http_metrics,
};
